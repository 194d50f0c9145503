"""Figures of solver results (matplotlib, Agg): branches m(alpha), F(alpha), landscapes F(x)."""
from __future__ import annotations

import math
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
    if t.alpha_c is None:
        return
    label = {"first-order": "coexistence", "second-order": "critical point", "crossover": "crossover"}[t.kind]
    ax.axvline(t.alpha_c, color="k", ls="-.", lw=1, label=f"{label} {t.alpha_c:.4g}")


def _wide(lo, hi, ratio=30.0) -> bool:
    """Does ``[lo, hi]`` span enough decades for a log axis?"""
    return lo > 0 and hi / lo > ratio


def plot_branches(res, ax=None):
    """``m(alpha)`` of every branch: stable (global min) solid, metastable thin, unstable dashed.

    Log axes where the window spans decades (large ``T``: spinodals orders of magnitude apart,
    ``m`` from ``1/T`` to ``O(1)``)."""
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
    if _wide(*res.alpha_range):
        ax.set_xscale("log")
    ms = np.concatenate([b.m for b in res.branches])
    if m.attention == "softmax" and _wide(ms.min(), ms.max(), 100.0):
        ax.set_yscale("log")
    ax.set(xlabel=r"$\alpha = PT/(\kappa V^2)$", ylabel="copy weight $m$",
           title=f"{m.attention} / {m.prior} / {m.objective}, T={m.T}: {res.transition.kind}")
    ax.legend(fontsize=7)
    return ax


def plot_free_energy(res, ax=None):
    """``F(alpha) - F_ref(alpha)`` of every branch (``F_ref`` = the lowest-m stable branch).

    Where the spinodals lie decades apart the alpha axis is logarithmic and the difference is
    shown per unit alpha, ``(F - F_ref)/alpha`` (it grows like alpha on the copy branch)."""
    plt = _plt()
    k = Kernel(res.model)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    stable = sorted(res.stable_branches(), key=lambda b: b.m.mean())
    ref = stable[0]
    t = res.transition
    sp = [a for a in (t.alpha_spinodal_low, t.alpha_spinodal_high) if a is not None]
    wide = len(sp) == 2 and _wide(sp[0], sp[1], 10.0)
    for b in res.branches:
        a = b.alpha
        sel = (a >= ref.alpha_min) & (a <= ref.alpha_max)
        if not np.any(sel):
            continue
        Fref = np.array([ref.F_at(k, x) for x in a[sel]])
        dF = b.F[sel] - Fref
        ax.plot(a[sel], dF / a[sel] if wide else dF, **_branch_style(b))
    _mark_transition(ax, res)
    ax.axhline(0, color="k", lw=0.5)
    if wide:
        ax.set_xscale("log")
        ax.set_xlim(sp[0] / 2, sp[1] * 1.5)
    elif len(sp) == 2:
        w = sp[1] - sp[0]
        ax.set_xlim(sp[0] - 0.3 * w, sp[1] + 0.3 * w)
    ylabel = r"$(F - F_{\rm disordered})/\alpha$" if wide else r"$F - F_{\rm disordered}$ (per $V^2$)"
    ax.set(xlabel=r"$\alpha$", ylabel=ylabel, title="free energy of the branches")
    ax.legend(fontsize=7)
    return ax


def plot_landscape(res, alphas=None, ax=None):
    """Landscapes ``F(x)`` at ``alpha_c`` and the spinodals, against ``m(x)``.

    Each curve is ``(F - min F)/Delta``, with ``Delta`` the largest free-energy difference between
    its stationary points (its barrier or the depth of its metastable minimum), so that landscapes
    at alphas decades apart share one axis; ``m`` is on a log axis where it spans decades."""
    plt = _plt()
    k = Kernel(res.model)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    t = res.transition
    if alphas is None:
        alphas = [a for a in (t.alpha_spinodal_low, t.alpha_c, t.alpha_spinodal_high) if a is not None]
    if not alphas:
        alphas = [math.sqrt(res.alpha_range[0] * res.alpha_range[1])]
    if res.model.attention == "linear":
        mmax = max(1.2, 1.3 * max(float(b.m.max()) for b in res.branches))
        ms = np.linspace(0, mmax, 600)
        xs = ms**2
    else:
        stat = [b.x_at(k, a) for a in alphas for b in res.branches if b.covers(a)]
        lo, hi = min(stat), max(stat)
        pad = max(0.5, 0.5 * (hi - lo))
        xs = np.linspace(lo - pad, hi + pad, 1200)
        ms = k.m_of_x(xs)
    for a in alphas:
        F = k.grid(xs, np.array([a]))[0, :, 0]
        pts = [(b.x_at(k, a), b.stable) for b in res.branches if b.covers(a)]
        Fs = [k.F(x, a) for x, _ in pts]
        scale = max(max(Fs) - min(Fs), 1e-300) if len(pts) > 1 else max(F.max() - F.min(), 1e-300)
        line, = ax.plot(ms, (F - F.min()) / scale, label=rf"$\alpha$={a:.4g}")
        for (x, st), Fx in zip(pts, Fs):
            ax.plot([k.m_of_x(x)], [(Fx - F.min()) / scale], "o" if st else "x", color=line.get_color())
    if res.model.attention == "softmax" and _wide(ms.min(), ms.max(), 100.0):
        ax.set_xscale("log")
    ax.set_ylim(-0.2, 3.0)
    ax.set(xlabel="$m$", ylabel=r"$(F(m) - \min F)/\Delta F_{\rm stationary}$",
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
