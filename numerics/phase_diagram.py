"""Phase diagrams: transition lines in a (parameter, alpha) plane and special points.

* ``phase_lines``: ``solve`` at each value of one parameter -> alpha_c, spinodals, kind;
  the **critical end point** where a first-order window closes (bisection in the parameter on
  the classification, the window width vanishing there) and, for linear attention with the qk
  prior, the **tricritical point** where the Landau quartic ``b(alpha_c)`` changes sign
  (``theory.landau``).
* ``phase_map``: the global-minimum ``m`` and the number of local minima on a
  (parameter x alpha) grid straight from the generated grid kernels (numba ``prange``).
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from copyhead.theory.landau import critical_alpha, landau_b
from copyhead.theory.model import Model, ParameterError

from .branches import x_grid
from .continuation import ContinuationError
from .kernels import Kernel
from .solve import _minima_on_grid, solve

VARIABLE = ("sigma2", "nu", "T")


SPACINGS = ("lin", "log")


@dataclass
class PhaseDiagram:
    model: Model
    vary: str
    rows: list  # dicts: value, transition, alpha_c, alpha_spinodal_low, alpha_spinodal_high, m_below, m_above, error
    special: dict = field(default_factory=dict)  # {"critical_end_point": {...}} / {"tricritical_point": {...}}
    grid: dict | None = None  # phase_map output
    spacing: str = "lin"
    n_requested: int | None = None

    def to_dict(self) -> dict:
        d = {"model": self.model.to_dict(), "vary": self.vary, "spacing": self.spacing,
             "n_requested": self.n_requested, "n_values": len(self.rows), "rows": self.rows, "special": self.special}
        if self.grid is not None:
            d["grid"] = {k: np.asarray(v).tolist() for k, v in self.grid.items()}
        return d


def default_spacing(vary: str) -> str:
    """``"log"`` for ``T`` (integers spread over decades), ``"lin"`` for ``sigma2`` and ``nu``."""
    return "log" if vary == "T" else "lin"


def parameter_values(vary: str, lo: float, hi: float, n: int, spacing: str | None = None) -> list:
    """The values of the varied parameter: ``n`` points from ``lo`` to ``hi``, linearly or
    logarithmically spaced (``spacing``; default :func:`default_spacing`).

    ``T`` takes integers: the spaced points are rounded and duplicates dropped, so fewer than ``n``
    values come back when the range holds fewer distinct integers (the caller reports it).
    """
    spacing = spacing or default_spacing(vary)
    if spacing not in SPACINGS:
        raise ParameterError("spacing", spacing, f"must be one of {', '.join(SPACINGS)}")
    if n < 2:
        raise ParameterError("n", n, "must be >= 2")
    if spacing == "log" and lo <= 0:
        raise ParameterError("range", (lo, hi), "log spacing needs lo > 0")
    pts = np.geomspace(lo, hi, n) if spacing == "log" else np.linspace(lo, hi, n)
    if vary == "T":
        return [int(v) for v in np.unique(np.round(pts).astype(np.int64))]
    return [float(v) for v in pts]


def _solve_at(model, vary, v):
    r = solve(model.replace(**{vary: v}))
    return r.transition


def phase_lines(model: Model, vary: str, lo: float, hi: float, n: int = 25, progress=None,
                spacing: str | None = None) -> PhaseDiagram:
    """Solve along one parameter and locate the critical end point / tricritical point.

    Parameters
    ----------
    vary : {"sigma2", "nu", "T"}
    lo, hi : float
        Range of the parameter (``T``: integers in [lo, hi]).
    n : int
        Number of values (for ``T``: at most ``n`` distinct integers, see :func:`parameter_values`).
    spacing : {"lin", "log"}, optional
        Spacing of the values (default :func:`default_spacing`: log for ``T``, lin otherwise).
    """
    if vary not in VARIABLE:
        raise ParameterError("vary", vary, f"must be one of {', '.join(VARIABLE)}")
    if not (lo < hi):
        raise ParameterError("range", (lo, hi), "needs lo < hi")
    model.replace(**{vary: int(lo) if vary == "T" else lo}), model.replace(**{vary: int(hi) if vary == "T" else hi})
    spacing = spacing or default_spacing(vary)
    values = parameter_values(vary, lo, hi, n, spacing)
    rows = []
    for i, v in enumerate(values):
        try:
            t = _solve_at(model, vary, v)
            rows.append({"value": float(v), **t.to_dict(), "error": None})
        except ContinuationError as exc:
            rows.append({"value": float(v), "transition": None, "error": str(exc)})
            print(f"warning: {vary}={v:g}: {exc}", file=sys.stderr)
        if progress:
            progress(i + 1, len(values))
    pd = PhaseDiagram(model, vary, rows, spacing=spacing, n_requested=n)
    # critical end point: first-order <-> crossover switch between neighbouring values
    kinds = [r.get("transition") for r in rows]
    for i in range(len(rows) - 1):
        pair = {kinds[i], kinds[i + 1]}
        if pair == {"first-order", "crossover"} and vary != "T":
            pd.special["critical_end_point"] = _critical_end_point(model, vary, rows[i]["value"], rows[i + 1]["value"],
                                                                  kinds[i] == "first-order")
            break
    if model.attention == "linear" and model.prior == "qk" and model.objective == "posterior" and vary != "T":
        f = lambda v: landau_b(*_tcp_args(model, vary, v))
        vals = np.array(values, float)
        bs = np.array([f(v) for v in vals])
        ch = np.nonzero(np.sign(bs[:-1]) != np.sign(bs[1:]))[0]
        if len(ch):
            vt = brentq(f, vals[ch[0]], vals[ch[0] + 1], xtol=1e-14, rtol=1e-14)
            T_, nu_, s2_, ac, _ = _tcp_args(model, vary, vt)
            pd.special["tricritical_point"] = {vary: vt, "alpha": ac, "landau_b": f(vt)}
    return pd


def _tcp_args(model, vary, v):
    p = {"T": model.T, "nu": model.nu, "sigma2": model.sigma2}
    p[vary] = v
    ac = critical_alpha(p["T"], p["nu"], p["sigma2"])
    return p["T"], p["nu"], p["sigma2"], ac, model.prior


def _critical_end_point(model, vary, a, b, a_is_first, rtol=1e-6):
    """Bisection in the parameter between a first-order value and a crossover value."""
    fo, co = (a, b) if a_is_first else (b, a)
    last = None
    for _ in range(80):
        if abs(fo - co) <= rtol * abs(fo):
            break
        mid = 0.5 * (fo + co)
        t = _solve_at(model, vary, mid)
        if t.kind == "first-order" and t.alpha_spinodal_low is not None and t.alpha_spinodal_high is not None:
            fo, last = mid, t
        else:
            co = mid
    if last is None:
        last = _solve_at(model, vary, fo)
    a_cep = 0.5 * (last.alpha_spinodal_low + last.alpha_spinodal_high)
    return {vary: 0.5 * (fo + co), "alpha": a_cep, "m": 0.5 * (last.m_below + last.m_above),
            "bracket": [min(fo, co), max(fo, co)],
            "window_width_at_bracket": last.alpha_spinodal_high - last.alpha_spinodal_low}


def phase_map(model: Model, vary: str, values, alphas, n_x: int = 400) -> dict:
    """Global-minimum ``m`` and number of local minima on the grid ``values x alphas``."""
    values = np.asarray(values, float)
    alphas = np.asarray(alphas, float)
    mg = np.empty((len(values), len(alphas)))
    nm = np.empty((len(values), len(alphas)), int)
    for i, v in enumerate(values):
        k = Kernel(model.replace(**{vary: int(v) if vary == "T" else float(v)}))
        nm[i], mg[i] = _minima_on_grid(k, x_grid(k, n_x), alphas)
    return {"values": values, "alphas": alphas, "m_global": mg, "n_minima": nm}


def plot_phase_diagram(pd: PhaseDiagram, path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    if pd.grid is not None:
        g = pd.grid
        pc = ax.pcolormesh(g["values"], g["alphas"], g["m_global"].T, shading="auto", cmap="viridis")
        fig.colorbar(pc, ax=ax, label="global-minimum $m$")
        if np.any(g["n_minima"] > 1):
            ax.contourf(g["values"], g["alphas"], (g["n_minima"] > 1).T.astype(float), levels=[0.5, 1.5],
                        hatches=["//"], colors="none")
            ax.plot([], [], color="w", label="metastable (hatched)")
    rows = [r for r in pd.rows if r.get("transition")]
    v = np.array([r["value"] for r in rows])
    for kind, style in (("first-order", dict(color="w", lw=2)), ("second-order", dict(color="orange", lw=2, ls="--")),
                        ("crossover", dict(color="w", lw=1, ls=":"))):
        sel = np.array([r["transition"] == kind for r in rows])
        if np.any(sel):
            ax.plot(v[sel], [r["alpha_c"] for r, s in zip(rows, sel) if s], marker="o", ms=2.5, label=kind, **style)
    for key in ("alpha_spinodal_low", "alpha_spinodal_high"):
        pts = [(r["value"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), color="lightgray", lw=1, ls="-.", label="spinodal" if key.endswith("low") else None)
    for name, sp in pd.special.items():
        ax.plot([sp[pd.vary]], [sp["alpha"]], "*", color="red", ms=14, label=name.replace("_", " "))
    m = pd.model
    ax.set(xlabel=f"{pd.vary} ({pd.spacing} spacing)", ylabel=r"$\alpha$",
           title=f"phase diagram: {m.attention} / {m.prior} / {m.objective}")
    if pd.spacing == "log":
        ax.set_xscale("log")
    al = [r[k] for r in rows for k in ("alpha_c", "alpha_spinodal_low", "alpha_spinodal_high") if r.get(k)]
    if al and max(al) / min(al) > 30:
        ax.set_yscale("log")
    ax.legend(fontsize=7, loc="upper right")
    from .plotting import save_figure

    return save_figure(fig, path)

