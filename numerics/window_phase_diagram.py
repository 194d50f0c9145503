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
    spacing: str = "lin"

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "vary": self.vary, "spacing": self.spacing, "rows": self.rows,
                "special": self.special}


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
    spacing = spacing or default_spacing(vary)
    values = parameter_values(vary, lo, hi, n, spacing)
    rows = []
    for i, v in enumerate(values):
        try:
            rows.append(_row(model, vary, v))
        except ContinuationError as exc:
            rows.append({"value": float(v), "transition": None, "error": str(exc)})
            print(f"warning: {vary}={v:g}: {exc}", file=sys.stderr)
        if progress:
            progress(i + 1, len(values))
    pd = WindowPhaseDiagram(model, vary, rows, spacing=spacing)
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
    """``alpha_c`` of the transition into the copying phase along the varied parameter (first order
    solid, second order dashed), the spinodals (dash-dotted) with the metastable region between
    them hatched, and the tricritical point (star); the styles of
    :func:`copyhead.numerics.phase_diagram.plot_phase_diagram`. The suffix of ``path`` decides the
    format."""
    from .phase_diagram import _draw_lines, _draw_metastable, legend_with_hatch
    from .plotting import SYMBOL, _Labeller, _plt, save_figure, set_titles

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    rows = [r for r in pd.rows if r.get("transition") not in (None, "none")]
    sub = WindowPhaseDiagram(pd.model, pd.vary, rows, pd.special, pd.spacing)
    _draw_lines(ax, sub, _Labeller())
    v = np.array([r["value"] for r in rows])
    if pd.spacing == "log" or (pd.vary != "T" and len(v) > 1 and v.min() > 0 and v.max() / v.min() > 20):
        ax.set_xscale("log")
    hatched = _draw_metastable(ax, sub)
    to = sorted({r["to"] for r in rows if r.get("to")})
    ax.set(xlabel=SYMBOL[pd.vary], ylabel=r"$\alpha = PT/(\kappa V^2)$")
    set_titles(ax, f"window-copier phase diagram: transition into the {'/'.join(to) or '-'} phase "
                   f"({len(pd.rows)} values, {pd.spacing} spacing)", pd.model, varied=pd.vary)
    legend_with_hatch(ax, hatched)
    return save_figure(fig, path)
