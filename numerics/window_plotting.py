"""Figures and CSV of window-copier results (matplotlib, Agg).

``*_branches.<fmt>``: the specialisation order parameter (``sigma_K(M)``; ``max m_hk`` for
``H < K``), the parent coverage ``(1/K) sum_k max_h |m_hk|`` and the alignment
(:func:`numerics.window_branches.alignment`: 1 heads on single parents, ``1/sqrt(K)`` equal
mixtures; not drawn where no head copies) against alpha for every branch (global minimum thick, metastable thin, unstable dashed; colour = phase), with the phase changes
of the global minimum and their spinodals marked; ``*_free_energy.<fmt>``: ``F - F_sym`` of every
branch, ``F_sym`` the fully symmetric state (uniform, then unspecialised) continued through its
stability changes. Values between the stored points of a branch are linear interpolations along
it (the points are dense: the continuation step is at most a few per cent of alpha).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .plotting import _Labeller, _plt, alpha_texts, autoscale_y, figure_path, legend, parameter_line, save_figure, set_titles
from .window_solve import _F_interp, coverage

COLORS = {"uniform": "tab:gray", "unspecialised": "tab:purple", "copying": "tab:blue", "redundant": "tab:olive",
          "partial": "tab:orange", "mixed": "tab:red", "specialised": "tab:green"}
ROLE = {"global": dict(lw=2.6, ls="-"), "metastable": dict(lw=1.2, ls="-"), "unstable": dict(lw=0.9, ls="--")}
KIND_LS = {"first-order": "-.", "second-order": "--", "crossover": ":"}


def _global_at(res, b, alpha) -> np.ndarray:
    """Is stable branch ``b`` the global minimum at ``alpha`` (array)?

    Tolerance 1e-4 (1 + |F|): mirror-image branches have equal F up to the linear interpolation
    along their own arcs (measured <= 3e-4); the global minimum is drawn to plotting accuracy."""
    alpha = np.atleast_1d(np.asarray(alpha, float))
    Fs = np.array([_F_interp(c, alpha) for c in res.stable_branches()]).min(axis=0)
    return np.isclose(_F_interp(b, alpha), Fs, rtol=0, atol=1e-4 * (1 + np.abs(Fs)))


def window_pieces(res, b, values) -> list:
    """``[(alpha, value, role)]`` of branch ``b`` (``values``: one number per stored point), sorted
    in alpha and cut at the first-order phase changes inside it; the cut point (linear
    interpolation) ends one piece and starts the next, so the drawn curve has no gap."""
    order = np.argsort(b.alpha)
    a, v = b.alpha[order], np.asarray(values, float)[order]
    if not b.stable:
        return [(a, v, "unstable")]
    cuts = sorted(p.alpha for p in res.phases if p.kind == "first-order" and a[0] < p.alpha < a[-1])
    bounds = [a[0]] + cuts + [a[-1]]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        inner = (a > lo) & (a < hi)
        aa = np.concatenate([[lo], a[inner], [hi]])
        vv = np.concatenate([[np.interp(lo, a, v)], v[inner], [np.interp(hi, a, v)]])
        role = "global" if _global_at(res, b, 0.5 * (lo + hi))[0] else "metastable"
        out.append((aa, vv, role))
    return out


def _mark_phases(ax, res, lab) -> None:
    """Vertical lines at the phase changes of the global minimum (style by kind) and at their
    spinodals (dotted), labelled."""
    for p in res.phases:
        sp = [a for a in (p.alpha_spinodal_low, p.alpha_spinodal_high) if a is not None]
        a_txt, *sp_txt = alpha_texts([p.alpha] + sp)
        ax.axvline(p.alpha, color="k", ls=KIND_LS[p.kind], lw=1.1,
                   label=lab(rf"{p.kind}: {p.frm} $\to$ {p.to}, $\alpha$ = {a_txt}"))
        for a in sp:
            ax.axvline(a, color="0.45", ls=":", lw=1.0,
                       label=lab(r"spinodals $\alpha_{\rm sp}^\pm$ = " + ", ".join(sp_txt)))


def _draw_branches(ax, res, value) -> tuple:
    """Draw ``value(b)`` (one number per stored point, NaN: not drawn) of every branch; returns the
    (phases, roles) drawn."""
    phases, roles = set(), set()
    for b in res.branches:
        col = COLORS.get(b.label, "k")
        for a, v, role in window_pieces(res, b, value(b)):
            ok = np.isfinite(v)
            if np.any(ok):
                ax.plot(a[ok], v[ok], color=col, **ROLE[role])
                phases.add(b.label)
                roles.add(role)
    return phases, roles


def _role_legend(ax, drawn) -> None:
    """Legend proxies for the phases (colours) and roles (line styles) that were drawn."""
    phases, roles = drawn
    for name, col in COLORS.items():
        if name in phases:
            ax.plot([], [], color=col, lw=2, label=f"phase: {name}")
    for role, text in (("global", "stable: global minimum"), ("metastable", "stable: metastable"),
                       ("unstable", "unstable")):
        if role in roles:
            ax.plot([], [], color="k", label=text, **ROLE[role])


def plot_window_branches(res, path) -> Path:
    """Specialisation, parent coverage and alignment of every branch against alpha (three panels)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    m = res.model
    cov = lambda b: np.array([coverage(M) for M in b.M])  # noqa: E731
    spec = "specialisation " + ("$\\sigma_K(M)$" if m.heads >= m.parents else "$\\max\\, m_{hk}$")
    for ax, val, ylab in ((axes[0], lambda b: b.q, spec),
                          (axes[1], cov, "parent coverage $\\frac{1}{K}\\sum_k \\max_h |m_{hk}|$"),
                          (axes[2], lambda b: b.align, "alignment $a$ (1: heads on single parents)")):
        lab = _Labeller()
        drawn = _draw_branches(ax, res, val)
        _mark_phases(ax, res, lab)
        ax.set(xlabel=r"$\alpha = PT/(\kappa V^2)$", ylabel=ylab)
        if ax is axes[0]:
            _role_legend(ax, drawn)
    if m.parents > 1:
        axes[2].set_ylim(1.0 / np.sqrt(m.parents) - 0.05, 1.03)
        axes[2].axhline(1.0 / np.sqrt(m.parents), color="0.6", lw=0.6, ls=":", zorder=0)
        axes[2].text(0.99, 1.0 / np.sqrt(m.parents), "$1/\\sqrt{K}$: equal mixtures", transform=axes[2].get_yaxis_transform(),
                     ha="right", va="bottom", fontsize=7, color="0.4")
    axes[2].set_xlim(axes[0].get_xlim())
    legend(axes[0], loc="center right", fontsize=6.5)
    t = res.transition
    head = f"{t.kind} transition into the {t.to} phase" if t else "no transition in the window"
    fig.suptitle(f"window-copier branches: {head}\n" + parameter_line(m), fontsize=9.5)
    return save_figure(fig, path)


def symmetric_reference(res) -> list:
    """The branches of the fully symmetric state (heads alike, reflection symmetric), in order of
    preference: ``uniform`` (no head copies; every stability, lowest Morse index first), then,
    where no uniform branch exists (``K > 1``), ``unspecialised`` (every head copies all parents
    alike: where the uniform state itself has turned into it)."""
    names = {"uniform"} | ({"unspecialised"} if res.model.parents > 1 else set())
    return sorted((b for b in res.branches if b.label in names),
                  key=lambda b: (b.label != "uniform", b.index, b.alpha_min))


def _F_sym(chain, alpha) -> np.ndarray:
    """``F`` of the symmetric state at ``alpha`` (the first piece of ``chain`` that covers it; NaN
    where none does)."""
    out = np.full(len(alpha), np.nan)
    for b in chain:
        v = _F_interp(b, alpha)
        take = np.isnan(out) & np.isfinite(v)
        out[take] = v[take]
    return out


def plot_window_free_energy(res, path) -> Path:
    """``F - F_sym`` of every branch (:func:`symmetric_reference`), interpolated along each branch."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.6, 4.8))
    chain = symmetric_reference(res)
    lab = _Labeller()
    drawn = _draw_branches(ax, res, lambda b: b.F - _F_sym(chain, b.alpha))
    _mark_phases(ax, res, lab)
    ax.axhline(0, color="0.6", lw=0.6, zorder=0)
    first = [p for p in res.phases if p.kind == "first-order"]
    sp = [a for p in first for a in (p.alpha_spinodal_low, p.alpha_spinodal_high, p.alpha) if a is not None]
    if sp:
        w = max(max(sp) - min(sp), 0.05 * max(sp))
        ax.set_xlim(max(res.alpha_range[0], min(sp) - 0.4 * w), min(res.alpha_range[1], max(sp) + 0.4 * w))
    autoscale_y(ax)
    _role_legend(ax, drawn)
    ax.set(xlabel=r"$\alpha = PT/(\kappa V^2)$", ylabel=r"$F - F_{\rm sym}$ (per $V^2$)")
    set_titles(ax, r"free energy of the branches ($F_{\rm sym}$: the symmetric state)", res.model)
    legend(ax, loc="best", fontsize=6.5)
    return save_figure(fig, path)


CSV_COLUMNS = ("branch", "phase", "stability", "morse_index", "alpha", "F", "specialisation", "coverage", "alignment",
               "M", "R", "residual")


def save_window_csv(res, path) -> Path:
    """One row per point of every branch. Columns: ``branch`` (index), ``phase``, ``stability``,
    ``morse_index``, ``alpha``, ``F`` (per V^2), ``specialisation``, ``coverage``, ``alignment`` (empty
    where no head copies), ``M`` and ``R`` (row-major, ``;``-separated), ``residual`` (max |grad F|)."""
    from copyhead.io import write_csv

    rows = []
    for i, b in enumerate(res.branches):
        for j in np.argsort(b.alpha):
            rows.append({"branch": i, "phase": b.label, "stability": "stable" if b.stable else "unstable",
                         "morse_index": b.index, "alpha": float(b.alpha[j]), "F": float(b.F[j]),
                         "specialisation": float(b.q[j]), "coverage": coverage(b.M[j]),
                         "alignment": float(b.align[j]) if np.isfinite(b.align[j]) else None,
                         "M": ";".join(f"{v:.10g}" for v in b.M[j].ravel()),
                         "R": ";".join(f"{v:.10g}" for v in b.R[j].ravel()), "residual": float(b.residual[j])})
    return write_csv(rows, path, CSV_COLUMNS)


def save_window_figures(res, folder, stem=None, fmt: str = "png") -> list:
    """Write ``<stem>_branches.<fmt>`` and ``<stem>_free_energy.<fmt>``."""
    stem = stem or res.model.key
    return [plot_window_branches(res, figure_path(folder, stem, "branches", fmt)),
            plot_window_free_energy(res, figure_path(folder, stem, "free_energy", fmt))]
