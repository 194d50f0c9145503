"""Figures and CSV of window-copier results (matplotlib, Agg).

``*_branches.png``: the specialisation order parameter (``sigma_K(M)``; ``max m_hk`` for
``H < K``) and the parent coverage ``(1/K) sum_k max_h |m_hk|`` against alpha for every branch
(global minimum thick, metastable thin, unstable dashed; colour = phase), with the phase
changes of the global minimum marked; ``*_free_energy.png``: ``F - F_uniform`` of every branch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .plotting import _plt, save_figure
from .window_solve import _F_interp, coverage

COLORS = {"uniform": "tab:gray", "unspecialised": "tab:purple", "copying": "tab:blue", "redundant": "tab:olive",
          "partial": "tab:orange", "specialised": "tab:green"}


def _global_mask(res, b):
    stable = res.stable_branches()
    if not b.stable:
        return np.zeros(len(b.alpha), bool)
    Fs = np.array([_F_interp(c, b.alpha) for c in stable])
    # tolerance 1e-4 (1 + |F|): mirror-image branches have equal F up to the linear interpolation
    # along their own arcs (measured <= 3e-4); the global minimum is drawn to plotting accuracy
    return np.isclose(_F_interp(b, b.alpha), Fs.min(axis=0), rtol=0, atol=1e-4 * (1 + np.abs(Fs.min(axis=0))))


def _mark_phases(ax, res):
    for p in res.phases:
        ls = {"first-order": "-.", "second-order": "--", "crossover": ":"}[p.kind]
        ax.axvline(p.alpha, color="k", ls=ls, lw=1)
        ax.text(p.alpha, 1.0, f" {p.to}\n {p.kind} {p.alpha:.4g}", transform=ax.get_xaxis_transform(), fontsize=6,
                va="top")
        for a in (p.alpha_spinodal_low, p.alpha_spinodal_high):
            if a is not None:
                ax.axvline(a, color="gray", ls=":", lw=0.8)


def plot_window_branches(res, path) -> Path:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    m = res.model
    cov = lambda b: np.array([coverage(M) for M in b.M])  # noqa: E731
    for ax, val, ylab in ((axes[0], lambda b: b.q, "specialisation " + ("$\\sigma_K(M)$" if m.heads >= m.parents
                                                                       else "$\\max\\, m_{hk}$")),
                          (axes[1], cov, "parent coverage $\\frac{1}{K}\\sum_k \\max_h |m_{hk}|$")):
        for b in res.branches:
            col = COLORS.get(b.label, "k")
            order = np.argsort(b.alpha)
            a, v = b.alpha[order], val(b)[order]
            if b.stable:
                g = _global_mask(res, b)[order]
                ax.plot(a, np.where(g, v, np.nan), color=col, lw=2.6)
                ax.plot(a, np.where(~g, v, np.nan), color=col, lw=1.2)
            else:
                ax.plot(a, v, color=col, lw=0.9, ls="--")
        _mark_phases(ax, res)
        ax.set(xlabel=r"$\alpha = PT/(\kappa V^2)$", ylabel=ylab)
    for lab, col in COLORS.items():
        if any(b.label == lab for b in res.branches):
            axes[0].plot([], [], color=col, lw=2, label=lab)
    axes[0].plot([], [], color="k", lw=2.6, label="global minimum")
    axes[0].plot([], [], color="k", lw=1.2, label="metastable")
    axes[0].plot([], [], color="k", lw=0.9, ls="--", label="unstable")
    axes[0].legend(fontsize=7, loc="center right")
    fig.suptitle(f"window copier H={m.heads} K={m.parents}: {m.attention} / {m.prior}, T={m.T}, "
                 f"$\\nu$={m.nu:g}, $\\sigma^2$={m.sigma2:g}", fontsize=10)
    return save_figure(fig, path)


def plot_window_free_energy(res, path) -> Path:
    """``F - F_ref`` of every branch, ``F_ref`` the lowest stable fully symmetric branch."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    stable = res.stable_branches()
    refs = [b for b in stable if b.label == "uniform"] or stable
    ref = min(refs, key=lambda b: b.alpha_min)
    for b in res.branches:
        sel = (b.alpha >= ref.alpha_min) & (b.alpha <= ref.alpha_max)
        if not np.any(sel):
            continue
        order = np.argsort(b.alpha[sel])
        a = b.alpha[sel][order]
        dF = b.F[sel][order] - _F_interp(ref, a)
        ax.plot(a, dF, color=COLORS.get(b.label, "k"), lw=2 if b.stable else 0.9, ls="-" if b.stable else "--")
    _mark_phases(ax, res)
    ax.axhline(0, color="k", lw=0.5)
    sp = [a for p in res.phases for a in (p.alpha_spinodal_low, p.alpha_spinodal_high, p.alpha) if a is not None]
    if sp:
        w = max(max(sp) - min(sp), 0.05 * max(sp))
        ax.set_xlim(min(sp) - 0.4 * w, max(sp) + 0.4 * w)
    ax.set(xlabel=r"$\alpha$", ylabel=r"$F - F_{\rm uniform}$ (per $V^2$)",
           title="free energy of the branches (interpolated along each branch)")
    return save_figure(fig, path)


CSV_COLUMNS = ("branch", "phase", "stability", "morse_index", "alpha", "F", "specialisation", "coverage", "M", "R",
               "residual")


def save_window_csv(res, path) -> Path:
    """One row per point of every branch. Columns: ``branch`` (index), ``phase``, ``stability``,
    ``morse_index``, ``alpha``, ``F`` (per V^2), ``specialisation``, ``coverage``, ``M`` and ``R``
    (row-major, ``;``-separated), ``residual`` (max |grad F|)."""
    from copyhead.io import write_csv

    rows = []
    for i, b in enumerate(res.branches):
        for j in np.argsort(b.alpha):
            rows.append({"branch": i, "phase": b.label, "stability": "stable" if b.stable else "unstable",
                         "morse_index": b.index, "alpha": float(b.alpha[j]), "F": float(b.F[j]),
                         "specialisation": float(b.q[j]), "coverage": coverage(b.M[j]),
                         "M": ";".join(f"{v:.10g}" for v in b.M[j].ravel()),
                         "R": ";".join(f"{v:.10g}" for v in b.R[j].ravel()), "residual": float(b.residual[j])})
    return write_csv(rows, path, CSV_COLUMNS)


def save_window_figures(res, folder, stem=None) -> list:
    stem = stem or res.model.key
    folder = Path(folder)
    return [plot_window_branches(res, folder / f"{stem}_branches.png"),
            plot_window_free_energy(res, folder / f"{stem}_free_energy.png")]
