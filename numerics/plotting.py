"""Figures of solver results (matplotlib, Agg): branches m(alpha), F(alpha), landscapes F(x)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .kernels import Kernel


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _global_mask(res, k, b, alphas):
    """True where branch ``b`` is the global minimum among stable branches."""
    stable = res.stable_branches()
    out = np.zeros(len(alphas), bool)
    for i, a in enumerate(alphas):
        cands = [c for c in stable if c.covers(a)]
        if b in cands:
            out[i] = min(cands, key=lambda c: c.F_at(k, a)) is b
    return out


def save_figure(fig, path) -> Path:
    """``tight_layout``, create the folder, save at 120 dpi, close; returns the path."""
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _branch_style(b):
    if not b.stable:
        return dict(color="tab:red", ls="--", lw=1.2)
    return dict(color="tab:blue", ls="-", lw=2.0)


def _mark_transition(ax, res):
    t = res.transition
    for a, lab in ((t.alpha_spinodal_low, "spinodal"), (t.alpha_spinodal_high, None)):
        if a is not None:
            ax.axvline(a, color="gray", ls=":", lw=1, label=lab)
    label = {"first-order": "coexistence", "second-order": "critical point", "crossover": "crossover"}[t.kind]
    ax.axvline(t.alpha_c, color="k", ls="-.", lw=1, label=f"{label} {t.alpha_c:.4g}")


def plot_branches(res, ax=None):
    """``m(alpha)`` of every branch: stable (global min) solid, metastable thin, unstable dashed."""
    plt = _plt()
    k = Kernel(res.model)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for b in res.branches:
        if b.stable and len(res.stable_branches()) > 1:
            g = _global_mask(res, k, b, b.alpha)
            ax.plot(b.alpha, np.where(g, b.m, np.nan), color="tab:blue", lw=2.2)
            ax.plot(b.alpha, np.where(~g, b.m, np.nan), color="tab:cyan", lw=1.5)
        else:
            ax.plot(b.alpha, b.m, **_branch_style(b))
    for f in res.folds:
        ax.plot([f.alpha], [k.m_of_x(f.x)], "o", color="tab:orange", ms=5)
    _mark_transition(ax, res)
    ax.plot([], [], color="tab:blue", lw=2.2, label="stable (global)")
    if len(res.stable_branches()) > 1:
        ax.plot([], [], color="tab:cyan", lw=1.5, label="metastable")
    ax.plot([], [], color="tab:red", ls="--", label="unstable")
    ax.plot([], [], "o", color="tab:orange", label="fold")
    m = res.model
    ax.set(xlabel=r"$\alpha = PT/(\kappa V^2)$", ylabel="copy weight $m$",
           title=f"{m.attention} / {m.prior} / {m.objective}: {res.transition.kind}")
    ax.legend(fontsize=7)
    return ax


def plot_free_energy(res, ax=None):
    """``F(alpha) - F_ref(alpha)`` of every branch (``F_ref`` = the lowest-m stable branch)."""
    plt = _plt()
    k = Kernel(res.model)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    stable = sorted(res.stable_branches(), key=lambda b: b.m.mean())
    ref = stable[0]
    lo, hi = res.alpha_range
    for b in res.branches:
        a = b.alpha
        sel = (a >= ref.alpha_min) & (a <= ref.alpha_max)
        if not np.any(sel):
            continue
        Fref = np.array([ref.F_at(k, x) for x in a[sel]])
        ax.plot(a[sel], b.F[sel] - Fref, **_branch_style(b))
    _mark_transition(ax, res)
    ax.axhline(0, color="k", lw=0.5)
    t = res.transition
    if t.alpha_spinodal_low is not None and t.alpha_spinodal_high is not None:
        w = t.alpha_spinodal_high - t.alpha_spinodal_low
        ax.set_xlim(t.alpha_spinodal_low - 0.3 * w, t.alpha_spinodal_high + 0.3 * w)
    ax.set(xlabel=r"$\alpha$", ylabel=r"$F - F_{\rm disordered}$ (per $V^2$)", title="free energy of the branches")
    ax.legend(fontsize=7)
    return ax


def plot_landscape(res, alphas=None, ax=None):
    """Landscapes ``F(x) - F(x_ref)`` at ``alpha_c`` and the spinodals, against ``m(x)``."""
    plt = _plt()
    k = Kernel(res.model)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    t = res.transition
    if alphas is None:
        alphas = [a for a in (t.alpha_spinodal_low, t.alpha_c, t.alpha_spinodal_high) if a is not None]
    if res.model.attention == "linear":
        mmax = max(1.2, 1.3 * max(float(b.m.max()) for b in res.branches))
        ms = np.linspace(0, mmax, 600)
        xs = ms**2
    else:
        stat = [b.x_at(k, a) for a in alphas for b in res.branches if b.covers(a)]
        lo, hi = min(stat), max(stat)
        pad = max(0.5, 0.5 * (hi - lo))
        xs = np.linspace(lo - pad, hi + pad, 800)
        ms = k.m_of_x(xs)
    for a in alphas:
        F = k.grid(xs, np.array([a]))[0, :, 0]
        line, = ax.plot(ms, F - F.min(), label=rf"$\alpha$={a:.4g}")
        for b in res.branches:
            if b.covers(a):
                x = b.x_at(k, a)
                ax.plot([k.m_of_x(x)], [k.F(x, a) - F.min()], "o" if b.stable else "x", color=line.get_color())
    ax.set(xlabel="$m$", ylabel=r"$F(m) - \min F$ (per $V^2$)",
           title="free-energy landscape (o minima, x saddles)")
    ax.legend(fontsize=7)
    return ax


def save_solve_figures(res, outdir, stem=None) -> list:
    """Write ``<stem>_branches.png``, ``<stem>_free_energy.png``, ``<stem>_landscape.png``."""
    plt = _plt()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stem = stem or res.model.key
    paths = []
    for name, fn in (("branches", plot_branches), ("free_energy", plot_free_energy), ("landscape", plot_landscape)):
        fig, ax = plt.subplots(figsize=(6, 4.2))
        fn(res, ax=ax)
        paths.append(save_figure(fig, outdir / f"{stem}_{name}.png"))
    return paths


def save_branches_csv(res, path) -> Path:
    """All branch points as CSV: branch, kind, stability, alpha, x, m, r, F, residual."""
    from copyhead.io import write_csv

    rows = [{"branch": i, "kind": b.kind, "stability": b.label, "alpha": a, "x": x, "m": m, "r": r, "F": F,
             "residual": e}
            for i, b in enumerate(res.branches) for a, x, m, r, F, e in zip(b.alpha, b.x, b.m, b.r, b.F, b.residual)]
    return write_csv(rows, path, ["branch", "kind", "stability", "alpha", "x", "m", "r", "F", "residual"])
