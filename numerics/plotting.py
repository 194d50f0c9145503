"""Figures of solver results (matplotlib, Agg): branches ``m(alpha)``, ``F(alpha)``, landscapes ``F(m)``.

Every figure states its parameters (:func:`parameter_line`: attention, prior, objective, ``T``,
``nu``, ``sigma2``, ``kappa``, ``V``; heads and parents for the window copier) and is written by
:func:`save_figure`, whose file suffix (``.png``, ``.pdf`` or ``.svg``) decides the format.

Branches are drawn continuously: a stable branch is cut exactly at the coexistence points (the
stationary point there is solved for, :meth:`numerics.branches.Branch.x_at`) into pieces that are
the global minimum (thick) or metastable (thin), and the pieces share their end points; unstable
branches are dashed and meet the stable ones at the folds.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .kernels import Kernel

FIGURE_FORMATS = ("png", "pdf", "svg")
SYMBOL = {"T": "$T$", "nu": r"$\nu$", "sigma2": r"$\sigma^2$", "kappa": r"$\kappa$", "V": "$V$"}
"""Axis/label symbols of the model parameters."""
LONG_NAME = {"T": "sequence length", "nu": "query/key width N/V²", "sigma2": "readout prior variance",
             "kappa": "label-noise variance"}
STYLE = {  # one style per role, shared by every figure of the solver
    "global": dict(color="tab:blue", ls="-", lw=2.4),
    "metastable": dict(color="tab:cyan", ls="-", lw=1.4),
    "unstable": dict(color="tab:red", ls="--", lw=1.2),
}
ROLE_LABEL = {"global": "stable: global minimum", "metastable": "stable: metastable", "unstable": "unstable"}
TRANSITION_NAME = {"first-order": "coexistence", "second-order": "critical point", "crossover": "crossover"}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, dpi: int = 150) -> Path:
    """Lay out, write atomically (:func:`copyhead.io.atomic_write`) and close ``fig``.

    The suffix of ``path`` decides the format (one of :data:`FIGURE_FORMATS`; PDF and SVG are
    vector files, ``dpi`` applies to PNG). Returns the path."""
    from copyhead.io import atomic_write

    plt = _plt()
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FIGURE_FORMATS:
        plt.close(fig)
        raise ValueError(f"figure format {fmt!r} of {path} is not one of {', '.join(FIGURE_FORMATS)}")
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    try:
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi), "wb")
    finally:
        plt.close(fig)
    return path


def figure_path(folder, stem: str, name: str, fmt: str = "png") -> Path:
    """``<folder>/<stem>_<name>.<fmt>`` (``fmt`` checked against :data:`FIGURE_FORMATS`)."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"figure format {fmt!r} is not one of {', '.join(FIGURE_FORMATS)}")
    return Path(folder) / f"{stem}_{name}.{fmt}"


def parameter_line(model, skip=(), varied: str | None = None) -> str:
    """One line naming every parameter of ``model``: ``"softmax attention, qk prior, posterior |
    T = 8, nu = 0.5, sigma2 = 0.1, kappa = 1, V -> inf"`` (mathtext symbols), heads/parents for the
    window copier. Parameters in ``skip`` are left out; ``varied`` is said to be varied."""
    words = [f"{model.attention} attention", f"{model.prior} prior", model.objective]
    heads, parents = getattr(model, "heads", 1), getattr(model, "parents", 1)
    if heads != 1 or parents != 1:
        words.insert(0, f"window copier $H$ = {heads}, $K$ = {parents}")
    nums = []
    for name in ("T", "nu", "sigma2", "kappa"):
        if name == varied:
            nums.append(f"{SYMBOL[name]} varied")
        elif name not in skip:
            nums.append(f"{SYMBOL[name]} = {getattr(model, name):g}")
    nums.append(r"$V \to \infty$" if model.V is None else f"$V$ = {model.V}")
    return ", ".join(words) + "  |  " + ", ".join(nums)


def set_titles(ax, title: str, model, width: int = 80, **kw) -> None:
    """Title ``title`` over the parameter line of ``model`` (:func:`parameter_line`; broken at
    its ``|`` when longer than about ``width`` characters)."""
    line = parameter_line(model, **kw)
    if len(line) > width:
        line = line.replace("  |  ", "\n")
    ax.set_title(f"{title}\n{line}", fontsize=9)


def autoscale_y(ax, margin: float = 0.06) -> None:
    """Fit the y range to the data of the lines inside the current x range (vertical lines and
    legend proxies ignored)."""
    lo, hi = sorted(ax.get_xlim())
    ys = []
    for line in ax.get_lines():
        x, y = (np.asarray(v, float) for v in line.get_data())
        if x.size < 2 or np.all(x == x[0]):
            continue
        sel = (x >= lo) & (x <= hi) & np.isfinite(y)
        ys.extend(y[sel])
    if ys:
        a, b = min(ys), max(ys)
        pad = margin * (b - a) if b > a else max(abs(a), 1.0) * margin
        ax.set_ylim(a - pad, b + pad)


LEGEND_ORDER = ("stable: global", "stable: meta", "unstable")


def legend(ax, **kw):
    """A legend of the labelled artists that are drawn (none: no legend); the branch roles first,
    in the order global minimum, metastable, unstable."""
    handles, labels = ax.get_legend_handles_labels()
    def rank(label):
        return next((i for i, p in enumerate(LEGEND_ORDER) if label.startswith(p)), len(LEGEND_ORDER))
    order = sorted(range(len(labels)), key=lambda i: (rank(labels[i]), i))
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    if handles:
        kw.setdefault("fontsize", 7)
        kw.setdefault("framealpha", 0.9)
        ax.legend(handles, labels, **kw)


class _Labeller:
    """Gives each label to the first artist of its kind only (legends list every kind once)."""

    def __init__(self):
        self.used = set()

    def __call__(self, label):
        if label is None or label in self.used:
            return None
        self.used.add(label)
        return label


# ----------------------------------------------------------------------------- branch pieces
def _is_global(res, k, b, alpha) -> bool:
    """Is stable branch ``b`` the global minimum among the stable branches at ``alpha``?"""
    cands = [c for c in res.stable_branches() if c.covers(alpha)]
    return b in cands and min(cands, key=lambda c: c.F_at(k, alpha)) is b


def branch_pieces(res, k, b) -> list:
    """``[(alpha, x, role)]``: branch ``b`` cut at the coexistence points inside it.

    ``role`` is ``"global"`` / ``"metastable"`` for a stable branch (decided at the middle of each
    piece) and ``"unstable"`` otherwise. The cut point (the exact stationary point at the
    coexistence alpha) ends one piece and starts the next, so the drawn curve has no gap."""
    if not b.stable:
        return [(b.alpha, b.x, "unstable")]
    if len(res.stable_branches()) == 1:
        return [(b.alpha, b.x, "global")]
    cuts = sorted(a for a, _ in res.coexistence if b.alpha_min < a < b.alpha_max)
    bounds = [b.alpha_min] + cuts + [b.alpha_max]
    pieces = []
    for lo, hi in zip(bounds, bounds[1:]):
        inner = (b.alpha > lo) & (b.alpha < hi)
        a = np.concatenate([[lo], b.alpha[inner], [hi]])
        x = np.array([b.x_at(k, lo)] + list(b.x[inner]) + [b.x_at(k, hi)])
        mid = math.sqrt(lo * hi) if lo > 0 else 0.5 * (lo + hi)
        pieces.append((a, x, "global" if _is_global(res, k, b, mid) else "metastable"))
    return pieces


def _draw_pieces(ax, res, k, value, lab) -> None:
    """Draw every branch of ``res`` as ``value(alpha, x, branch)`` against alpha, by role."""
    for b in res.branches:
        for a, x, role in branch_pieces(res, k, b):
            y = value(a, x, b)
            ok = np.isfinite(y)
            if np.any(ok):
                ax.plot(a[ok], y[ok], label=lab(ROLE_LABEL[role]), **STYLE[role])


def alpha_texts(values, sig: int = 5) -> list:
    """The numbers ``values`` as text with a common number of significant digits, at least ``sig``
    and as many as needed (up to 17) for distinct numbers to print distinct (a bistable window
    ``1e-6`` wide read "4.3275, 4.3275" at a fixed 5). None entries stay None."""
    vals = [v for v in values if v is not None]
    n = sig
    while n < 17 and len({f"{v:.{n}g}" for v in vals}) < len(set(vals)):
        n += 1
    return [None if v is None else f"{v:.{n}g}" for v in values]


def _mark_transition(ax, res, lab) -> None:
    """Vertical lines at the spinodals (dotted) and at alpha_c (dash-dotted), labelled."""
    t = res.transition
    sp = [(a, s) for a, s in ((t.alpha_spinodal_low, "-"), (t.alpha_spinodal_high, "+")) if a is not None]
    sign = r"\pm" if len(sp) == 2 else "".join(s for _, s in sp)
    *sp_txt, ac_txt = alpha_texts([a for a, _ in sp] + [t.alpha_c])
    text = ("spinodals " if len(sp) == 2 else "spinodal ") + rf"$\alpha_{{\rm sp}}^{sign}$ = " + ", ".join(sp_txt)
    for a, _ in sp:
        ax.axvline(a, color="0.45", ls=":", lw=1.1, label=lab(text))
    if t.alpha_c is not None:
        ax.axvline(t.alpha_c, color="k", ls="-.", lw=1.1,
                   label=lab(rf"{TRANSITION_NAME[t.kind]} $\alpha_c$ = {ac_txt}"))


def _kind_text(t) -> str:
    return "no transition inside the window" if t.kind == "none" else f"{t.kind} transition"


def _wide(lo, hi, ratio=30.0) -> bool:
    """Does ``[lo, hi]`` span enough decades for a log axis?"""
    return lo > 0 and hi / lo > ratio


def _axes(ax, figsize=(6.4, 4.6)):
    if ax is not None:
        return ax
    _, ax = _plt().subplots(figsize=figsize)
    return ax


# ----------------------------------------------------------------------------- figures
def plot_branches(res, ax=None):
    """``m(alpha)`` of every branch: global minimum thick, metastable thin, unstable dashed; folds
    (the spinodals) as dots; spinodals and ``alpha_c`` as labelled vertical lines.

    Log axes where the window spans decades (large ``T``: spinodals orders of magnitude apart,
    ``m`` from ``1/T`` to ``O(1)``)."""
    k = Kernel(res.model)
    ax = _axes(ax)
    lab = _Labeller()
    _draw_pieces(ax, res, k, lambda a, x, b: np.asarray(b.m if x is b.x else k.m_of_x(x), float), lab)
    for f in res.folds:
        ax.plot([f.alpha], [k.m_of_x(f.x)], "o", color="tab:orange", ms=5, zorder=5, label=lab("fold (spinodal)"))
    _mark_transition(ax, res, lab)
    if _wide(*res.alpha_range):
        ax.set_xscale("log")
    ms = np.concatenate([b.m for b in res.branches])
    if res.model.attention == "softmax" and _wide(ms.min(), ms.max(), 100.0):
        ax.set_yscale("log")
    ax.set(xlabel=r"$\alpha = PT/(\kappa V^2)$", ylabel="copy weight $m$")
    set_titles(ax, f"stationary branches $m(\\alpha)$: {_kind_text(res.transition)}", res.model)
    legend(ax, loc="best")
    return ax


def reference_chain(res) -> list:
    """The disordered branch continued through its stability changes: the lowest-``m`` branch at
    the lower end of the window, followed by the branch that starts where it ends (same alpha and
    ``x``, preferring the same ``kind``: the ``m = 0`` branch of linear attention goes on, unstable,
    past the pitchfork, where the ordered branch starts too). A fold
    ends the chain (alpha turns back there)."""
    start = min(res.stable_branches(), key=lambda b: (b.alpha_min, float(b.m[0])))
    chain = [start]
    while True:
        end_a, end_x = chain[-1].alpha_max, float(chain[-1].x[-1])
        nxt = [b for b in res.branches if b not in chain and abs(b.alpha_min - end_a) <= 1e-9 * max(1.0, end_a)
               and abs(float(b.x[0]) - end_x) <= 1e-9 * max(1.0, abs(end_x))]
        if not nxt:
            return chain
        chain.append(min(nxt, key=lambda b: b.kind != chain[-1].kind))  # same kind first (m = 0 stays m = 0)


def _reference_F(k, chain):
    """``F_ref(alpha)`` along the chain (NaN outside it)."""
    def F_ref(alphas):
        out = np.full(len(alphas), np.nan)
        for i, a in enumerate(alphas):
            for b in chain:
                if b.covers(a):
                    out[i] = b.F_at(k, a)
                    break
        return out
    return F_ref


def plot_free_energy(res, ax=None):
    """``F(alpha) - F_dis(alpha)`` of every branch, ``F_dis`` the disordered branch continued
    through its stability change (:func:`reference_chain`; for linear attention the ``m = 0``
    branch, so the ordered branch is shown beyond ``alpha_c``).

    Where the spinodals lie decades apart the alpha axis is logarithmic and the difference is
    shown per unit alpha, ``(F - F_dis)/alpha`` (it grows like alpha on the copy branch). With a
    single branch (a crossover) ``F`` itself is shown."""
    k = Kernel(res.model)
    ax = _axes(ax)
    lab = _Labeller()
    t = res.transition
    sp = [a for a in (t.alpha_spinodal_low, t.alpha_spinodal_high) if a is not None]
    wide = len(sp) == 2 and _wide(sp[0], sp[1], 10.0)
    chain = reference_chain(res)
    single = len(chain) == len(res.branches)
    F_ref = (lambda a: np.zeros(len(a))) if single else _reference_F(k, chain)

    def dF(a, x, b):
        F = np.array([k.F(float(xx), float(aa)) for xx, aa in zip(x, a)])
        d = F - F_ref(a)
        return d / a if wide else d
    _draw_pieces(ax, res, k, dF, lab)
    _mark_transition(ax, res, lab)
    if not single:
        ax.axhline(0, color="0.6", lw=0.6, zorder=0)
    lo, hi = res.alpha_range
    ref_hi = max(b.alpha_max for b in chain)
    if wide:
        ax.set_xscale("log")
        ax.set_xlim(sp[0] / 2, min(sp[1] * 1.5, ref_hi * 1.05))
    elif len(sp) == 2:
        w = sp[1] - sp[0]
        ax.set_xlim(max(lo, sp[0] - 0.3 * w), min(hi, sp[1] + 0.3 * w, ref_hi + 0.05 * w))
    elif _wide(lo, hi):
        ax.set_xscale("log")
    if single:
        ylabel = r"$F$ (per $V^2$)"
    else:
        ylabel = r"$(F - F_{\rm dis})/\alpha$" if wide else r"$F - F_{\rm dis}$ (per $V^2$)"
    ax.set(xlabel=r"$\alpha = PT/(\kappa V^2)$", ylabel=ylabel)
    ref = "the single branch" if single else ("$F_{\\rm dis}$: the $m = 0$ branch" if res.model.attention == "linear"
                                               else "$F_{\\rm dis}$: the disordered (low-$m$) branch")
    set_titles(ax, f"free energy of the branches ({ref})", res.model)
    legend(ax, loc="best")
    return ax


def _landscape_alphas(res) -> list:
    """``[(alpha, label)]``: spinodals and coexistence (first order); below, at and above
    ``alpha_c`` otherwise (inside the window)."""
    t = res.transition
    lo, hi = res.alpha_range
    if t.kind == "first-order":
        out = [(t.alpha_spinodal_low, r"lower spinodal $\alpha_{\rm sp}^-$"), (t.alpha_c, r"coexistence $\alpha_c$"),
               (t.alpha_spinodal_high, r"upper spinodal $\alpha_{\rm sp}^+$")]
        return [(a, s) for a, s in out if a is not None]
    if t.alpha_c is None:
        return [(math.sqrt(lo * hi), "middle of the window")]
    name = TRANSITION_NAME[t.kind]
    f = 1.2 if t.kind == "second-order" else 1.5
    out = [(t.alpha_c / f, rf"below: $\alpha_c/{f:g}$"), (t.alpha_c, rf"{name} $\alpha_c$"),
           (t.alpha_c * f, rf"above: ${f:g}\,\alpha_c$")]
    return [(a, s) for a, s in out if lo <= a <= hi]


def _landscape_grid(res, k, alphas):
    """``(xs, ms)``: the ``x`` grid of the landscape and ``m(x)`` (linear attention: ``x = m^2``,
    drawn for ``m`` of both signs, ``F`` being even in ``m``)."""
    stat = [b.x_at(k, a) for a in alphas for b in res.branches if b.covers(a)]
    if res.model.attention == "linear":  # 1.8x the largest stationary |m| at these alphas
        mmax = max(0.25, 1.8 * float(np.sqrt(max(stat))))
        ms = np.linspace(-mmax, mmax, 1201)
        return ms**2, ms
    lo, hi = min(stat), max(stat)
    pad = max(0.5, 0.5 * (hi - lo))
    xs = np.linspace(lo - pad, hi + pad, 1200)
    return xs, k.m_of_x(xs)


MARKER = {"minimum": "o", "saddle": "x", "degenerate": "D"}
POINT_LABEL = {"minimum": "minimum", "saddle": "saddle (unstable)",
               "degenerate": "degenerate: fold (spinodal) or critical point"}


def _stationary_kinds(pts, rtol: float = 1e-7) -> list:
    """``[(x, kind)]`` from ``[(x, stable)]``: a point shared by a stable and an unstable branch is
    ``"degenerate"`` (a fold at a spinodal, or the critical point), else minimum or saddle."""
    out = []
    for x, st in pts:
        same = [i for i, (y, _) in enumerate(out) if abs(y - x) <= rtol * max(1.0, abs(x))]
        kind = "minimum" if st else "saddle"
        if same:
            i = same[0]
            if out[i][1] != kind:
                out[i] = (out[i][0], "degenerate")
        else:
            out.append((x, kind))
    return out


def plot_landscape(res, alphas=None, ax=None):
    """Landscapes ``F(m)`` at the spinodals and at coexistence (first order), or below, at and
    above ``alpha_c``; stationary points marked (dots: minima, crosses: saddles, diamonds: folds
    and critical points, where a stable and an unstable branch meet).

    First order: each curve is ``(F - min F)/Delta``, ``Delta`` the largest free-energy difference
    between its stationary points (its barrier or the depth of its metastable minimum), so that
    landscapes at alphas decades apart share one axis. Otherwise ``F(m) - F(0)`` per ``V^2``
    (linear attention, ``m`` of both signs) or ``F - min F``. ``m`` is on a log axis where it
    spans decades."""
    k = Kernel(res.model)
    ax = _axes(ax)
    t = res.transition
    labelled = _landscape_alphas(res) if alphas is None else [(a, None) for a in alphas]
    xs, ms = _landscape_grid(res, k, [a for a, _ in labelled])
    scaled = t.kind == "first-order"
    linear = res.model.attention == "linear"
    kinds_drawn = set()
    for (a, name), a_txt in zip(labelled, alpha_texts([a for a, _ in labelled])):
        F = k.grid(xs, np.array([a]))[0, :, 0]
        pts = [(b.x_at(k, a), b.stable) for b in res.branches if b.covers(a)]
        Fs = [k.F(x, a) for x, _ in pts]
        if scaled:
            base = F.min()
            scale = max(max(Fs) - min(Fs), 1e-300) if len(pts) > 1 else max(F.max() - F.min(), 1e-300)
        else:
            base, scale = (k.F(0.0, a) if linear else F.min()), 1.0
        text = rf"$\alpha$ = {a_txt}" if name is None else f"{name} = {a_txt}"
        line, = ax.plot(ms, (F - base) / scale, label=text, lw=1.6)
        for x, kind in _stationary_kinds(pts):
            m = float(k.m_of_x(x))
            for mm in ((m, -m) if linear and m > 0 else (m,)):
                ax.plot([mm], [(k.F(x, a) - base) / scale], MARKER[kind], color=line.get_color(), ms=6,
                        mfc="none" if kind == "saddle" else line.get_color(), zorder=5)
                kinds_drawn.add(kind)
    for kind in ("minimum", "saddle", "degenerate"):
        if kind in kinds_drawn:
            ax.plot([], [], MARKER[kind], color="0.3", mfc="none" if kind == "saddle" else "0.3",
                    label=POINT_LABEL[kind])
    if res.model.attention == "softmax" and _wide(ms.min(), ms.max(), 100.0):
        ax.set_xscale("log")
    if scaled:
        ax.set_ylim(-0.2, 3.0)
        ylabel = r"$(F(m) - \min F)/\Delta F_{\rm stationary}$"
    else:
        ylabel = r"$F(m) - F(0)$ (per $V^2$)" if linear else r"$F(m) - \min F$ (per $V^2$)"
    ax.set(xlabel="copy weight $m$", ylabel=ylabel)
    set_titles(ax, f"free-energy landscapes ({_kind_text(t)})", res.model)
    legend(ax, loc="best")
    return ax


def save_solve_figures(res, outdir, stem=None, fmt: str = "png") -> list:
    """Write ``<stem>_branches.<fmt>``, ``<stem>_free_energy.<fmt>``, ``<stem>_landscape.<fmt>``."""
    plt = _plt()
    stem = stem or res.model.key
    paths = []
    for name, fn in (("branches", plot_branches), ("free_energy", plot_free_energy), ("landscape", plot_landscape)):
        path = figure_path(outdir, stem, name, fmt)
        fig, ax = plt.subplots(figsize=(6.4, 4.6))
        fn(res, ax=ax)
        paths.append(save_figure(fig, path))
    return paths


BRANCH_CSV_COLUMNS = ("branch", "kind", "stability", "alpha", "x", "m", "r", "F", "residual")


def save_branches_csv(res, path) -> Path:
    """All branch points as CSV: branch, kind, stability, alpha, x, m, r, F, residual."""
    from copyhead.io import write_csv

    rows = [{"branch": i, "kind": b.kind, "stability": b.label, "alpha": a, "x": x, "m": m, "r": r, "F": F,
             "residual": e}
            for i, b in enumerate(res.branches) for a, x, m, r, F, e in zip(b.alpha, b.x, b.m, b.r, b.F, b.residual)]
    return write_csv(rows, path, list(BRANCH_CSV_COLUMNS))
