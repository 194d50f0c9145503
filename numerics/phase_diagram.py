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


def phase_map(model: Model, vary: str, values, alphas, n_x: int = 400, refine: int = 0,
              jump: float = 0.05) -> dict:
    """Global-minimum ``m`` and number of local minima on the grid ``values x alphas``, the alpha
    grid refined where the map changes abruptly.

    Parameters
    ----------
    values, alphas : the base grid (varied parameter, alpha).
    n_x : points of the ``x`` grid on which the minima are found (``solve._minima_on_grid``).
    refine : levels of refinement. At each level every alpha interval across which, in any column
        (value), the number of minima changes or the global-minimum ``m`` changes by more than
        ``jump`` times the range of ``m`` on the map (a first-order jump, or the steep onset of a
        continuous transition) is halved, and the new alphas are computed for every value. The
        grid stays rectilinear and only the intervals crossed by a transition line are refined, so
        ``refine`` levels resolve the lines ``2**refine`` times finer than the base grid.

    Returns ``{"values", "alphas", "m_global", "n_minima", "refine"}``; the alphas are sorted and
    include the base grid.
    """
    values = np.asarray(values, float)
    alphas = np.unique(np.asarray(alphas, float))
    if refine < 0:
        raise ParameterError("refine", refine, "must be >= 0")
    kernels = [Kernel(model.replace(**{vary: int(v) if vary == "T" else float(v)})) for v in values]
    xgrids = [x_grid(k, n_x) for k in kernels]

    def columns(al):
        nm = np.empty((len(values), len(al)), int)
        mg = np.empty((len(values), len(al)))
        for i, (k, xs) in enumerate(zip(kernels, xgrids)):
            nm[i], mg[i] = _minima_on_grid(k, xs, al)
        return nm, mg

    nm, mg = columns(alphas)
    for _ in range(refine):
        new = _refinement_points(alphas, nm, mg, jump)
        if not len(new):
            break
        nm_new, mg_new = columns(new)
        alphas = np.concatenate([alphas, new])
        order = np.argsort(alphas)
        alphas = alphas[order]
        nm = np.concatenate([nm, nm_new], axis=1)[:, order]
        mg = np.concatenate([mg, mg_new], axis=1)[:, order]
    return {"values": values, "alphas": alphas, "m_global": mg, "n_minima": nm, "refine": int(refine)}


def _refinement_points(alphas, nm, mg, jump):
    """Midpoints of the alpha intervals across which, in some column, the number of minima changes
    or ``m`` jumps by more than ``jump`` times the range of ``m`` on the map."""
    span = np.nanmax(mg) - np.nanmin(mg)
    dm = np.abs(np.diff(mg, axis=1))
    bad = (np.diff(nm, axis=1) != 0) | (np.nan_to_num(dm, nan=np.inf) > jump * span) | \
        (np.isnan(mg[:, 1:]) != np.isnan(mg[:, :-1]))
    idx = np.nonzero(np.any(bad, axis=0))[0]
    return 0.5 * (alphas[idx] + alphas[idx + 1])


LINE_STYLE = {  # one style per kind of line, the same in every phase diagram
    "first-order": dict(color="k", ls="-", lw=2.2),
    "second-order": dict(color="k", ls="--", lw=2.2),
    "crossover": dict(color="k", ls=":", lw=1.8),
    "spinodal": dict(color="0.25", ls="-.", lw=1.0),
}
SPECIAL_STYLE = dict(marker="*", ls="none", ms=15, color="tab:red", mec="k", mew=0.8, zorder=6)
MAP_CMAP = "YlGnBu"
"""A light sequential colormap (white-yellow at small m): black lines and hatching stay visible."""


def _draw_map(fig, ax, g) -> None:
    """The global-minimum ``m`` (colour; Gouraud shading: linear between the grid points, so a
    jump across the refined alpha grid stays sharp and the columns do not show as bands)."""
    pc = ax.pcolormesh(g["values"], g["alphas"], np.asarray(g["m_global"]).T, shading="gouraud", cmap=MAP_CMAP,
                       rasterized=True)
    fig.colorbar(pc, ax=ax, label="copy weight $m$ of the global minimum")


def _with_special(pd, pts, kind) -> list:
    """``pts`` of a line of ``kind`` (spinodal or alpha_c) with the special point where the lines
    meet (critical end point: first order, spinodals and crossover; tricritical point: first
    order, spinodals and second order), sorted along the parameter."""
    for name, sp in pd.special.items():
        meets = {"critical_end_point": ("first-order", "crossover", "spinodal"),
                 "tricritical_point": ("first-order", "second-order", "spinodal")}.get(name, ())
        if pts and kind in meets and sp.get("alpha") is not None:
            pts = pts + [(sp[pd.vary], sp["alpha"])]
    return sorted(pts)


def _draw_metastable(ax, pd) -> bool:
    """Hatch the metastable region: between the spinodals of the first-order rows (to the top of
    the axes where the upper spinodal lies beyond the window), closed at the special point."""
    import matplotlib as mpl

    rows = [r for r in pd.rows if r.get("transition") == "first-order" and r.get("alpha_spinodal_low") is not None]
    if not rows:
        return False
    top = ax.get_ylim()[1]
    pts = [(r["value"], r["alpha_spinodal_low"], r.get("alpha_spinodal_high") or top) for r in rows]
    for name, sp in pd.special.items():
        if sp.get("alpha") is not None:
            pts.append((sp[pd.vary], sp["alpha"], sp["alpha"]))
    v, lo, hi = (np.array(c) for c in zip(*sorted(pts)))
    with mpl.rc_context({"hatch.color": "k", "hatch.linewidth": 0.6}):
        ax.fill_between(v, lo, hi, facecolor="none", edgecolor="k", hatch="////", lw=0, zorder=2)
    ax.set_ylim(top=top)
    return True


def _draw_lines(ax, pd, lab) -> None:
    """alpha_c by kind of transition and the spinodals along the varied parameter."""
    rows = [r for r in pd.rows if r.get("transition")]
    widths = [r["alpha_spinodal_high"] - r["alpha_spinodal_low"] for r in rows
              if r.get("alpha_spinodal_low") is not None and r.get("alpha_spinodal_high") is not None]
    text = f"spinodals (widest window {max(widths):.2g})" if widths else "spinodal"
    for key in ("alpha_spinodal_low", "alpha_spinodal_high"):
        pts = [(r["value"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*_with_special(pd, pts, "spinodal")), label=lab(text), **LINE_STYLE["spinodal"])
    for kind in ("first-order", "second-order", "crossover"):
        pts = [(r["value"], r["alpha_c"]) for r in rows if r["transition"] == kind and r.get("alpha_c") is not None]
        if pts:
            ax.plot(*zip(*_with_special(pd, pts, kind)), label=lab(rf"$\alpha_c$: {kind}"), **LINE_STYLE[kind])
            ax.plot(*zip(*pts), ls="none", marker="o", ms=2.5, color="k")
    for name, sp in pd.special.items():
        ax.plot([sp[pd.vary]], [sp["alpha"]], label=lab(name.replace("_", " ")), **SPECIAL_STYLE)


def legend_with_hatch(ax, hatched: bool, loc: str = "best") -> None:
    """The legend of the drawn lines, plus the hatched metastable region when it was drawn."""
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    if hatched:
        handles.append(Patch(facecolor="none", edgecolor="k", hatch="////"))
        labels.append("metastable: between the spinodals")
    if handles:
        ax.legend(handles, labels, fontsize=7, framealpha=0.9, loc=loc)


def plot_phase_diagram(pd: PhaseDiagram, path) -> Path:
    """The (parameter, alpha) plane: the global-minimum ``m`` map, the metastable region hatched
    (between the spinodals), ``alpha_c`` of each kind (first order solid, second order
    dashed, crossover dotted), the spinodals (dash-dotted) and the critical end / tricritical
    point (star). The suffix of ``path`` decides the format."""
    from .plotting import SYMBOL, _Labeller, _plt, save_figure, set_titles

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 5.0))
    lab = _Labeller()
    if pd.grid is not None:
        _draw_map(fig, ax, pd.grid)
    _draw_lines(ax, pd, lab)
    m = pd.model
    ax.set(xlabel=f"{SYMBOL[pd.vary]}", ylabel=r"$\alpha = PT/(\kappa V^2)$")
    if pd.spacing == "log":
        ax.set_xscale("log")
    rows = [r for r in pd.rows if r.get("transition")]
    al = [r[k] for r in rows for k in ("alpha_c", "alpha_spinodal_low", "alpha_spinodal_high") if r.get(k)]
    if al and max(al) / min(al) > 30:
        ax.set_yscale("log")
    refined = f", map refined {2 ** pd.grid['refine']}x at the lines" if pd.grid is not None and pd.grid.get("refine") \
        else ""
    set_titles(ax, f"phase diagram: {len(pd.rows)} values of {SYMBOL[pd.vary]} ({pd.spacing} spacing{refined})", m,
               varied=pd.vary)
    legend_with_hatch(ax, _draw_metastable(ax, pd), loc="upper right")
    return save_figure(fig, path)
