"""Window-copier phase diagram: the transition into the specialised (copying) phase along one
parameter, and the tricritical point where it changes from first to second order.

``window_phase_lines`` solves (:func:`numerics.window_solve.solve_window`) at each value of
``sigma2``, ``nu`` or ``T``; between neighbouring values whose main transition is first order on
one side and second order on the other, the **tricritical point** is located by bisection in the
parameter on the classification (``bracket`` records the final interval). At the tricritical point
the symmetry-breaking pitchfork on the uniform branch changes from sub- to supercritical and the
coexistence window (spinodals) shrinks to zero; ``window_width_at_bracket`` records its width on
the first-order side of the final bracket.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from copyhead.theory.model import Model, ParameterError

from .continuation import ContinuationError
from .phase_diagram import VARIABLE, default_spacing, parameter_values
from .window_solve import solve_window


@dataclass
class WindowPhaseDiagram:
    model: Model
    vary: str
    rows: list
    special: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "vary": self.vary, "rows": self.rows, "special": self.special}


def _row(model, vary, v):
    res = solve_window(model.replace(**{vary: v}))
    t = res.transition
    return {
        "value": float(v),
        "transition": t.kind if t else "none",
        "to": t.to if t else None,
        "alpha_c": t.alpha if t else None,
        "alpha_spinodal_low": t.alpha_spinodal_low if t else None,
        "alpha_spinodal_high": t.alpha_spinodal_high if t else None,
        "residual": t.residual if t else None,
        "phases": [p.to_dict() for p in res.phases],
        "error": None,
    }


def window_phase_lines(model: Model, vary: str, lo: float, hi: float, n: int = 15, progress=None,
                       rtol: float = 1e-4, spacing: str | None = None) -> WindowPhaseDiagram:
    """Solve the window copier along ``vary`` in ``[lo, hi]`` and locate the tricritical point.

    Parameters
    ----------
    vary : {"sigma2", "nu", "T"}
    n : number of values (``T``: at most ``n`` distinct integers)
    spacing : ``"lin"`` or ``"log"`` (default: :func:`copyhead.numerics.phase_diagram.default_spacing`)
    rtol : relative width of the final bisection bracket of the tricritical point
    """
    if vary not in VARIABLE:
        raise ParameterError("vary", vary, f"must be one of {', '.join(VARIABLE)}")
    if not lo < hi:
        raise ParameterError("range", (lo, hi), "needs lo < hi")
    model.replace(**{vary: lo}), model.replace(**{vary: hi})
    if n < 2:
        raise ParameterError("n", n, "must be >= 2")
    values = parameter_values(vary, lo, hi, n, spacing or default_spacing(vary))
    rows = []
    for i, v in enumerate(values):
        try:
            rows.append(_row(model, vary, v))
        except ContinuationError as exc:
            rows.append({"value": float(v), "transition": None, "error": str(exc)})
            print(f"warning: {vary}={v:g}: {exc}", file=sys.stderr)
        if progress:
            progress(i + 1, len(values))
    pd = WindowPhaseDiagram(model, vary, rows)
    kinds = [r.get("transition") for r in rows]
    for i in range(len(rows) - 1):
        if {kinds[i], kinds[i + 1]} == {"first-order", "second-order"} and vary != "T":
            pd.special["tricritical_point"] = _tricritical(model, vary, rows[i], rows[i + 1], rtol)
            break
    return pd


def _tricritical(model, vary, ra, rb, rtol):
    fo, so = (ra, rb) if ra["transition"] == "first-order" else (rb, ra)
    for _ in range(60):
        if abs(fo["value"] - so["value"]) <= rtol * abs(fo["value"]):
            break
        mid = 0.5 * (fo["value"] + so["value"])
        r = _row(model, vary, mid)
        if r["transition"] == "first-order":
            fo = r
        elif r["transition"] == "second-order":
            so = r
        else:
            raise ContinuationError(f"tricritical search: {vary}={mid:g} gives transition {r['transition']!r}")
    width = None
    if fo["alpha_spinodal_low"] is not None and fo["alpha_spinodal_high"] is not None:
        width = fo["alpha_spinodal_high"] - fo["alpha_spinodal_low"]
    return {vary: 0.5 * (fo["value"] + so["value"]), "alpha": 0.5 * (fo["alpha_c"] + so["alpha_c"]),
            "bracket": sorted([fo["value"], so["value"]]), "alpha_bracket": [fo["alpha_c"], so["alpha_c"]],
            "window_width_at_bracket": width}


def plot_window_phase_diagram(pd: WindowPhaseDiagram, path) -> Path:
    from .plotting import _plt, save_figure

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    rows = [r for r in pd.rows if r.get("transition") not in (None, "none")]
    v = np.array([r["value"] for r in rows])
    tcp = pd.special.get("tricritical_point")
    for kind, style in (("first-order", dict(color="tab:blue", lw=2)),
                        ("second-order", dict(color="tab:orange", lw=2, ls="--"))):
        pts = [(r["value"], r["alpha_c"]) for r in rows if r["transition"] == kind]
        if tcp is not None and pts:  # the two lines meet at the tricritical point
            pts = sorted(pts + [(tcp[pd.vary], tcp["alpha"])])
        if pts:
            ax.plot(*zip(*pts), marker="o", ms=3, label=kind, **style)
    for key, lab in (("alpha_spinodal_low", "spinodals"), ("alpha_spinodal_high", None)):
        pts = [(r["value"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), color="gray", lw=1, ls="-.", label=lab)
    for name, sp in pd.special.items():
        ax.plot([sp[pd.vary]], [sp["alpha"]], "*", color="red", ms=14, label=name.replace("_", " "))
    to = {r["to"] for r in rows if r.get("to")}
    m = pd.model
    ax.set(xlabel=pd.vary, ylabel=r"$\alpha_c$ (into " + "/".join(sorted(to)) + ")",
           title=f"window copier H={m.heads} K={m.parents}: {m.attention}/{m.prior}")
    if pd.vary != "T" and len(v) > 1 and v.min() > 0 and v.max() / v.min() > 20:
        ax.set_xscale("log")
    ax.legend(fontsize=7)
    return save_figure(fig, path)
