"""Figures of simulation against theory, fit for a paper: Monte Carlo / training points on the
continuous theory curves of one :class:`~copyhead.numerics.finite_size.FiniteSizeTheory`.

Curves (:func:`theory_curves`), each a list of ``(alpha, m)`` polylines:

* ``V = inf`` -- the branches of :func:`copyhead.numerics.solve` (continuation, continuous through
  the folds): stable (the global minimum) thick, metastable thin, unstable dashed, folds marked;
* ``F - e1/V`` -- the stationary points of the finite-V landscape. Softmax: the zero set of
  ``dF_V/dx`` on a dense ``(alpha, x)`` grid (:meth:`FiniteSizeTheory.landscape`), traced as a
  contour (``contourpy``), so the S-shaped curve is continuous through its folds; minima solid,
  saddles dotted (the sign of ``d^2 F_V/dx^2``). Linear attention: the minima of ``F_V``
  (:meth:`FiniteSizeTheory.minima`, with the two-direction refinement) on an alpha grid;
* one loop -- linear attention, posterior: ``<|m|>`` of :func:`copyhead.theory.one_loop.one_loop_linear`
  on an alpha grid (plus the alphas of the runs, already computed for the table).

Every figure carries the model's parameters in its title (:func:`describe`); legends list only
artists that are drawn. Files are written through :func:`save` (format from the suffix: png, pdf,
svg; fonts embedded as text in PDF/SVG).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from copyhead.numerics.finite_size import FiniteSizeTheory

COLORS = {"inf": "tab:blue", "meta": "#8fbfe0", "unstable": "tab:red", "finite": "tab:purple",
          "one_loop": "tab:orange", "fold": "tab:red"}
START_STYLE = {  # marker, colour of the points of a start / init
    "uniform": ("o", "black"), "prior": ("o", "black"), "copy": ("s", "tab:green"),
}
RC = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 10, "legend.fontsize": 7.5, "xtick.labelsize": 8,
      "ytick.labelsize": 8, "figure.titlesize": 10, "pdf.fonttype": 42, "ps.fonttype": 42,
      "savefig.dpi": 200, "axes.spines.top": False, "axes.spines.right": False}


@contextmanager
def style():
    """The rc settings of every figure of this module (sizes, embedded fonts, 200 dpi PNG)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    with matplotlib.rc_context(RC):
        yield


def save(fig, path):
    """Save ``fig`` to ``path`` (format from the suffix), atomically, and close it: the one figure
    writer :func:`copyhead.numerics.plotting.save_figure`, under this module's style."""
    from copyhead.numerics.plotting import save_figure

    with style():
        return save_figure(fig, path, dpi=RC["savefig.dpi"])


def _num(v) -> str:
    return f"{v:g}"


def describe(model, seed=None, **extra) -> str:
    """The parameter lines of a figure: attention, prior, objective, ``T, nu, sigma^2, kappa``; then
    ``V`` (and ``N``), seed and any ``extra`` entries (``name=value`` prints as ``name value``)."""
    first = (f"{model.attention} attention, {model.prior} prior, {model.objective}: "
             rf"$T={model.T}$, $\nu={_num(model.nu)}$, $\sigma^2={_num(model.sigma2)}$, $\kappa={_num(model.kappa)}$")
    parts = []
    if model.V is not None:
        parts.append(f"$V={model.V}$ ($N={model.N}$)")
    if seed is not None:
        parts.append(f"seed {seed}")
    parts += [f"{k.replace('_', ' ')} {v}" for k, v in extra.items() if v is not None]
    return first + ("\n" + ", ".join(parts) if parts else "")


def title(fig, heading: str, model, seed=None, **extra) -> None:
    """``heading`` and the parameter line (:func:`describe`) as the figure's title."""
    fig.suptitle(f"{heading}\n{describe(model, seed, **extra)}")


# ----------------------------------------------------------------------------------- curves
@dataclass
class Curves:
    """Theory polylines in the ``(alpha, m)`` plane (each a pair of arrays)."""

    inf_stable: list = field(default_factory=list)  # global minimum
    inf_meta: list = field(default_factory=list)  # metastable (stable, not global)
    inf_unstable: list = field(default_factory=list)
    inf_folds: list = field(default_factory=list)  # (alpha, m) points
    inf_transition: Optional[tuple] = None  # (kind, alpha_c)
    finite_min: list = field(default_factory=list)
    finite_saddle: list = field(default_factory=list)
    window: Optional[tuple] = None  # finite-V spinodal window
    one_loop: Optional[tuple] = None  # (alphas, <|m|>)


def _runs(mask: np.ndarray):
    """Index slices of the runs of True in ``mask``."""
    idx = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(int), [0]))))
    return [slice(a, b) for a, b in zip(idx[::2], idx[1::2])]


def _dense(b, k, n: int = 400):
    """``(alpha, m, F)`` of a branch, resampled on ``n`` points evenly spaced in its own variable
    ``x`` (``s`` softmax, ``u = m^2`` linear) by monotone cubic interpolation of ``alpha(x)`` and
    ``F(x)`` (smooth along a branch, also at its folds), with ``m = m(x)`` exact: the continuation's
    steps are not visible as corners (``m ~ sqrt(alpha - alpha_c)`` at a linear onset). A branch at
    fixed ``x`` (``m = 0``, the MAP kink ``s = 0``) is resampled evenly in alpha with ``F`` exact."""
    from scipy.interpolate import PchipInterpolator

    a, x, F = (np.asarray(v, float) for v in (b.alpha, b.x, b.F))
    if b.kind != "smooth" and np.ptp(x) == 0.0:  # m = 0 (linear) or s = 0 (MAP kink): x fixed, F exact
        fine = np.linspace(a.min(), a.max(), n)
        return fine, np.full(n, float(b.m[0])), np.array([k.F(float(x[0]), float(al)) for al in fine])
    if b.kind != "smooth" or len(x) < 4 or not (np.all(np.diff(x) > 0) or np.all(np.diff(x) < 0)):
        return a, np.asarray(b.m, float), F
    order = np.argsort(x)
    xs = np.linspace(x.min(), x.max(), n)
    return (PchipInterpolator(x[order], a[order])(xs), np.asarray(k.m_of_x(xs), float),
            PchipInterpolator(x[order], F[order])(xs))


def _global_runs(a: np.ndarray, m: np.ndarray, gap: np.ndarray) -> list:
    """Polylines of the points with ``gap <= 0``, each extended to the crossing ``gap = 0`` with its
    neighbours (linear interpolation), so that the global branch has no gap at coexistence."""
    out = []
    for sl in _runs(gap <= 0):
        aa, mm = list(a[sl]), list(m[sl])
        for i, j, end in ((sl.start - 1, sl.start, False), (sl.stop, sl.stop - 1, True)):
            if 0 <= i < len(a) and np.isfinite(gap[i]) and np.isfinite(gap[j]):
                t = gap[j] / (gap[j] - gap[i])  # gap[j] <= 0 < gap[i]
                pa, pm = a[j] + t * (a[i] - a[j]), m[j] + t * (m[i] - m[j])
                aa, mm = (aa + [pa], mm + [pm]) if end else ([pa] + aa, [pm] + mm)
        out.append((np.array(aa), np.array(mm)))
    return out


def limit_curves(limit, lo: float, hi: float, out: Optional[Curves] = None, auto_range=None) -> Curves:
    """``V = inf`` branches of the model ``limit`` (``V = None``) on ``[lo, hi]`` united with its
    automatic window ``auto_range`` (solved when not given): global / metastable / unstable
    polylines, folds and the transition, added to ``out``."""
    from copyhead.numerics.kernels import Kernel
    from copyhead.numerics.solve import solve

    out = Curves() if out is None else out
    auto = solve(limit).alpha_range if auto_range is None else auto_range
    res = solve(limit, alpha_range=(min(lo, auto[0]), max(hi, auto[1])))
    k = Kernel(res.model)
    dense = {id(b): _dense(b, k) for b in res.branches}
    stable = [b for b in res.branches if b.stable]
    for b in res.branches:
        a, m, F = dense[id(b)]
        if not b.stable:
            out.inf_unstable.append((a, m))
            continue
        gap = np.full(len(a), -np.inf)  # F_b - (lowest other stable branch); <= 0: b is the global minimum
        for c in stable:
            if c is not b:
                ca, _, cF = dense[id(c)]
                order = np.argsort(ca)
                inside = (a >= ca.min()) & (a <= ca.max())
                gap = np.where(inside, np.maximum(gap, F - np.interp(a, ca[order], cF[order])), gap)
        out.inf_stable += _global_runs(a, m, gap)
        if np.any(gap > 1e-12 * np.maximum(1.0, np.abs(F))):
            out.inf_meta.append((a, m))
    out.inf_folds = [(f.alpha, float(k.m_of_x(f.x))) for f in res.folds]
    if res.transition.alpha_c is not None:  # kind "none": no transition in the window
        out.inf_transition = (res.transition.kind, res.transition.alpha_c)
    return out


def _softmax_finite_curves(theory: FiniteSizeTheory, lo: float, hi: float, out: Curves, n_alpha: int) -> None:
    """Stationary set of ``F - e1/V`` (softmax): the contour ``dF_V/dx = 0`` on an ``(alpha, x)`` grid."""
    import contourpy
    from scipy.interpolate import RegularGridInterpolator

    xs = theory.grid()
    alphas = np.linspace(lo, hi, n_alpha)
    G = theory.landscape(alphas, xs)  # (alpha, x)
    dG = np.gradient(G, xs, axis=1)
    d2G = np.gradient(dG, xs, axis=1)
    curv = RegularGridInterpolator((alphas, xs), d2G)
    gen = contourpy.contour_generator(x=xs, y=alphas, z=dG)
    for line in gen.lines(0.0):  # (n, 2) arrays of (x, alpha)
        x, a = line[:, 0], line[:, 1]
        if len(x) < 2:
            continue
        m = np.asarray(theory.kernel.m_of_x(x), float)
        is_min = curv(np.column_stack((a, x))) > 0
        for sl in _runs(is_min):
            out.finite_min.append((a[max(sl.start - 1, 0):sl.stop + 1], m[max(sl.start - 1, 0):sl.stop + 1]))
        for sl in _runs(~is_min):
            out.finite_saddle.append((a[sl], m[sl]))
    out.window = theory.window


def _linear_finite_curves(theory: FiniteSizeTheory, lo: float, hi: float, out: Curves, n_alpha: int) -> None:
    """Minima of ``F - e1/V`` (linear) on an alpha grid, joined into branches by continuity: a
    minimum continues the branch whose last point (at the previous alpha) is nearest in ``m``,
    if that is closer than ``jump``; otherwise it starts a new branch (two minima of the same
    label, e.g. a small-``m`` and a large-``m`` ordered one, stay apart)."""
    jump = 0.1
    alphas = np.linspace(lo, hi, n_alpha)
    done, open_ = [], []  # branches: lists of (alpha, m)
    for a in alphas:
        ms = sorted(q.m for q in theory.minima(a))
        nxt = []
        for m in ms:
            best = min(open_, key=lambda br: abs(br[-1][1] - m), default=None)
            if best is not None and abs(best[-1][1] - m) < jump:
                open_.remove(best)
                best.append((a, m))
                nxt.append(best)
            else:
                nxt.append([(a, m)])
        done += open_
        open_ = nxt
    for br in done + open_:
        a, m = np.array(br).T
        out.finite_min.append((a, m))


def theory_curves(theory: FiniteSizeTheory, lo: float, hi: float, *, n_alpha: int = 240, n_linear: int = 60,
                  one_loop: Optional[Sequence[tuple]] = None, n_one_loop: int = 15) -> Curves:
    """All theory curves of ``theory`` on ``[lo, hi]`` (module docstring).

    ``one_loop`` (linear attention, posterior): ``(alpha, <|m|>)`` pairs already computed (e.g.
    for the runs); ``n_one_loop`` more are computed (:func:`_one_loop_curve`; each is a 1-D
    integral over m with the family minimum at every grid point: about a second each).
    """
    out = limit_curves(theory.limit, lo, hi, auto_range=theory.solution.alpha_range)
    if theory.model.attention == "softmax":
        _softmax_finite_curves(theory, lo, hi, out, n_alpha)
    else:
        _linear_finite_curves(theory, lo, hi, out, n_linear)
        if theory.model.objective == "posterior":
            out.one_loop = _one_loop_curve(theory, lo, hi, one_loop, n_one_loop)
    return out


def _one_loop_curve(theory: FiniteSizeTheory, lo: float, hi: float, known, n: int):
    """One-loop ``<|m|>(alpha)``: computed at ``n`` nodes on ``[lo, hi]`` (a third of them within
    15 % of ``alpha_c``, where it bends) and at the ``known`` ``(alpha, value)`` pairs, drawn as the
    monotone cubic (PCHIP) interpolant through them."""
    from scipy.interpolate import PchipInterpolator

    pts = {float(a): float(v) for a, v in (known or []) if lo <= a <= hi}
    ac = theory.transition.alpha_c
    near = np.linspace(max(lo, 0.85 * ac), min(hi, 1.15 * ac), max(n // 3, 2)) if lo < 1.15 * ac and hi > 0.85 * ac \
        else np.array([])
    for a in np.concatenate((np.linspace(lo, hi, n - len(near)), near)):
        if not any(abs(a - b) < 1e-3 * (hi - lo) for b in pts):
            pts[float(a)] = float(theory.one_loop_linear(float(a))["m_abs_mean"])
    a = np.array(sorted(pts))
    fine = np.linspace(a[0], a[-1], 300)
    return fine, PchipInterpolator(a, [pts[x] for x in a])(fine)


# ----------------------------------------------------------------------------------- drawing
def draw_curves(ax, curves: Curves, V: Optional[int], lo: float = -np.inf, hi: float = np.inf) -> None:
    """Draw :class:`Curves` on ``ax`` within ``lo <= alpha <= hi`` (the figure's range); each kind of
    artist gets one legend entry, and only if some of it is drawn inside the range."""
    def inside(a):
        return (np.asarray(a) >= lo) & (np.asarray(a) <= hi)

    def overlaps(a):
        return len(a) > 0 and np.min(a) <= hi and np.max(a) >= lo

    def lines(polys, label, **kw):
        polys = [(a, m) for a, m in polys if overlaps(a)]
        for i, (a, m) in enumerate(polys):
            ax.plot(a, m, label=label if i == 0 else None, **kw)

    win = curves.window
    if win and win[0] is not None and win[1] is not None and win[1] >= lo and win[0] <= hi:
        ax.axvspan(*win, color=COLORS["finite"], alpha=0.07, lw=0,
                   label=f"spinodal window of $F - e_1/V$ ($V={V}$)")
    lines(curves.inf_meta, r"$V=\infty$ metastable", color=COLORS["meta"], lw=1.3, zorder=2)
    lines(curves.inf_stable, r"$V=\infty$ stable", color=COLORS["inf"], lw=2.8, zorder=3)
    lines(curves.inf_unstable, r"$V=\infty$ unstable", color=COLORS["unstable"], lw=1.1, ls="--", zorder=2)
    folds = [(a, m) for a, m in curves.inf_folds if inside(a)]
    if folds:
        a, m = zip(*folds)
        ax.plot(a, m, "o", ms=4, color=COLORS["fold"], mfc="white", label=r"$V=\infty$ spinodal (fold)", zorder=4)
    if curves.inf_transition and inside(curves.inf_transition[1]):
        kind, ac = curves.inf_transition
        name = {"first-order": "coexistence", "second-order": "critical point"}.get(kind, kind)
        ax.axvline(ac, color="0.35", ls="-.", lw=0.9, label=rf"$V=\infty$ {name} $\alpha_c={ac:.4g}$", zorder=1)
    # thinner than the V = inf lines, on top of them: where both coincide the blue shows as a border
    lines(curves.finite_min, f"$F - e_1/V$ minima ($V={V}$)", color=COLORS["finite"], lw=1.2, zorder=3)
    lines(curves.finite_saddle, f"$F - e_1/V$ saddles ($V={V}$)", color=COLORS["finite"], lw=1.0, ls=":", zorder=3)
    if curves.one_loop is not None and overlaps(curves.one_loop[0]):
        a, m = curves.one_loop
        ax.plot(a, m, color=COLORS["one_loop"], lw=1.6, ls="-", label=rf"one loop $\langle|m|\rangle$ ($V={V}$)",
                zorder=3)


def draw_points(ax, points: Sequence[dict], label: str, dodge_frac: float = 0.012, kind: str = "start") -> None:
    """Monte Carlo / training points: ``alpha`` (realised), ``m``, ``err`` (optional) and ``start``
    (the marker); one legend entry per start (``kind``: the word after it, e.g. ``init``). The
    starts at one alpha are drawn side by side
    (shifted by ``dodge_frac`` of the alpha span each)."""
    starts = list(dict.fromkeys(p["start"] for p in points))
    span = np.ptp([p["alpha"] for p in points]) or 1.0
    for i, start in enumerate(starts):
        sel = [p for p in points if p["start"] == start]
        mk, col = START_STYLE.get(start, ("D", "tab:gray"))
        err = [p.get("err") if p.get("err") is not None and np.isfinite(p.get("err")) else 0.0 for p in sel]
        dodge = dodge_frac * span * (i - (len(starts) - 1) / 2)  # side by side, not on top of each other
        ax.errorbar([p["alpha"] + dodge for p in sel], [p["m"] for p in sel], yerr=err if any(err) else None, fmt=mk,
                    color=col, mfc="none" if start != "copy" else col, ms=5, capsize=2.5, lw=1.0, zorder=5,
                    label=f"{label}, {start} {kind}")


def alpha_window(alphas) -> tuple:
    """The alpha range of a figure: the runs' range widened by 15 % of its width or of its lower end
    (at least 1) on each side."""
    lo, hi = min(alphas), max(alphas)
    pad = max(0.15 * (hi - lo), 0.15 * lo, 1.0)
    return max(lo - pad, 1e-3), hi + pad


def plot_points_on_theory(theory: FiniteSizeTheory, points: Sequence[dict], path, *, heading: str, label: str,
                          seed=None, one_loop=None, ylabel: str = r"copy weight $m$", kind: str = "start", **extra):
    """The figure of ``verify`` / ``train`` / ``langevin``: ``points`` on the theory curves
    (:func:`theory_curves` on :func:`alpha_window`; ``one_loop``: ``(alpha, <|m|>)`` pairs already
    known). ``points``: dicts with ``alpha`` (the realised alpha), ``m``, ``err``, ``start``.
    ``extra`` entries join the parameter line of the title.
    """
    with style():
        import matplotlib.pyplot as plt

        lo, hi = alpha_window([p["alpha"] for p in points])
        curves = theory_curves(theory, lo, hi, one_loop=one_loop)
        fig, ax = plt.subplots(figsize=(8.4, 4.4))
        draw_curves(ax, curves, theory.V, lo, hi)
        draw_points(ax, points, label, kind=kind)
        ax.set_xlim(lo, hi)
        ms = [p["m"] for p in points] + [m for polys in (curves.inf_stable, curves.finite_min)
                                         for aa, mm in polys for m in np.asarray(mm)[(aa >= lo) & (aa <= hi)]]
        top = max(ms) if ms else 1.0
        ax.set_ylim(min(0.0, min(ms, default=0.0)) - 0.02, min(1.05, top + 0.08) if top <= 1 else top * 1.08)
        ax.set(xlabel=r"$\alpha = PT/(\kappa V^2)$", ylabel=ylabel)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)  # off the data
        title(fig, heading, theory.model, seed, **extra)
        return save(fig, path)
