"""Equilibrium switching between the branches at small V: bimodal m, time fractions, alpha_c(V).

At small ``V`` the barrier ``~ V^2 Delta F`` is low enough that long HMC chains hop between the
disordered and the copy branch. Each post-warm-up sample is assigned to the copy branch when
``m`` exceeds the saddle's ``m`` (from ``F - e1/V``); the time fraction ``f(alpha)`` of the copy
branch rises through 1/2 at the finite-size transition. ``alpha_c(V)`` is estimated by a
least-squares fit of ``logit f`` linear in alpha (points with ``0.01 < f < 0.99``; linear
interpolation of ``f`` through 1/2 when fewer than two such points exist), with an error from the
spread over independent chains (jackknife). The theory values come from one
:class:`copyhead.numerics.finite_size.FiniteSizeTheory`: the coexistence of ``F - e1/V`` (equal
minima; its saddle's ``m`` is the branch threshold) and the one-loop ``alpha_c(V)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from copyhead.numerics.finite_size import FiniteSizeTheory
from copyhead.theory.model import Model


@dataclass
class SwitchingResult:
    V: int
    alphas: list
    fractions: list  # time fraction on the copy branch, pooled over chains
    fraction_err: list  # standard error over chains
    n_switches: list  # number of branch changes, summed over chains
    m_threshold: float
    alpha_c: float | None
    alpha_c_err: float | None
    histograms: dict  # alpha -> (counts, edges)
    alpha_c_theory_V: float | None = None  # coexistence of F - e1/V
    alpha_c_theory_inf: float | None = None  # V = inf
    alpha_c_one_loop: float | None = None  # log Z_copy = log Z_dis at one loop (theory/one_loop_softmax.py)


def fit_alpha_c(alphas, fractions):
    """Zero of a least-squares line through ``logit f`` (points with ``0.01 < f < 0.99``; with fewer
    than two, the linear interpolation of ``f`` through 1/2; None if ``f`` does not cross 1/2)."""
    a = np.asarray(alphas, float)
    f = np.asarray(fractions, float)
    sel = (f > 0.01) & (f < 0.99)
    if sel.sum() < 2:
        # fall back to linear interpolation of f through 1/2
        for i in range(len(a) - 1):
            if (f[i] - 0.5) * (f[i + 1] - 0.5) <= 0 and f[i] != f[i + 1]:
                return float(a[i] + (0.5 - f[i]) * (a[i + 1] - a[i]) / (f[i + 1] - f[i]))
        return None
    y = np.log(f[sel] / (1 - f[sel]))
    slope, icpt = np.polyfit(a[sel], y, 1)
    return float(-icpt / slope) if slope > 0 else None


def analyse_switching(rows, m_threshold: float) -> SwitchingResult:
    """Time fractions, switches and histograms from sweep rows (all chains at each alpha); the
    theory fields are left empty."""
    alphas = sorted({r["alpha"] for r in rows})
    fr, fe, nsw, hists = [], [], [], {}
    per_chain = {}
    edges = np.linspace(0.0, 1.0, 61)
    for a in alphas:
        rs = [r for r in rows if r["alpha"] == a]
        fs, sw, pooled = [], 0, []
        for r in rs:
            m = np.asarray(r["traces"]["m"][-r["n_samples"]:])
            on = m > m_threshold
            fs.append(on.mean())
            sw += int(np.sum(on[1:] != on[:-1]))
            pooled.append(m)
        per_chain[a] = fs
        fr.append(float(np.mean(fs)))
        fe.append(float(np.std(fs, ddof=1) / math.sqrt(len(fs))) if len(fs) > 1 else float("nan"))
        nsw.append(sw)
        hists[a] = np.histogram(np.concatenate(pooled), bins=edges)
    ac = fit_alpha_c(alphas, fr)
    # jackknife over chains
    n_ch = min(len(v) for v in per_chain.values())
    jk = []
    for j in range(n_ch):
        fj = [np.mean([f for i, f in enumerate(per_chain[a]) if i != j]) for a in alphas]
        v = fit_alpha_c(alphas, fj)
        if v is not None:
            jk.append(v)
    err = float(math.sqrt((len(jk) - 1) / len(jk) * np.sum((np.array(jk) - np.mean(jk)) ** 2))) if len(jk) > 1 else None
    return SwitchingResult(rows[0]["params"]["V"], alphas, fr, fe, nsw, m_threshold, ac, err, hists)


def plot_switching(res: SwitchingResult, path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(res.alphas)
    fig, axes = plt.subplots(1, n + 1, figsize=(2.3 * (n + 1), 2.8))
    for ax, a in zip(axes, res.alphas):
        c, e = res.histograms[a]
        ax.bar(0.5 * (e[1:] + e[:-1]), c / c.sum(), width=e[1] - e[0], color="tab:blue")
        ax.axvline(res.m_threshold, color="k", ls=":", lw=1)
        ax.set_title(rf"$\alpha$={a:g}", fontsize=9)
        ax.set_xlabel("m", fontsize=8)
        ax.tick_params(labelsize=7)
    ax = axes[-1]
    ax.errorbar(res.alphas, res.fractions, yerr=res.fraction_err, fmt="o-", ms=4)
    ax.axhline(0.5, color="gray", lw=0.5)
    if res.alpha_c is not None:
        ax.axvline(res.alpha_c, color="tab:green", label=f"MC {res.alpha_c:.2f}")
    if res.alpha_c_theory_V is not None:
        ax.axvline(res.alpha_c_theory_V, color="tab:purple", ls="--", label=f"F-e1/V {res.alpha_c_theory_V:.2f}")
    if res.alpha_c_one_loop is not None:
        ax.axvline(res.alpha_c_one_loop, color="tab:red", ls=":", label=f"one loop {res.alpha_c_one_loop:.2f}")
    if res.alpha_c_theory_inf is not None:
        ax.axvline(res.alpha_c_theory_inf, color="k", ls="-.", label=f"V=inf {res.alpha_c_theory_inf:.2f}")
    ax.set(xlabel=r"$\alpha$", ylabel="copy time fraction")
    ax.legend(fontsize=6)
    fig.suptitle(f"branch switching at V={res.V}", fontsize=10)
    from copyhead.numerics.plotting import save_figure

    return save_figure(fig, path)


def switching_theory(theory: FiniteSizeTheory, alphas) -> dict:
    """The theory side of a switching study on ``[min(alphas) - 3, max(alphas) + 3]``: the coexistence
    of ``F - e1/V`` and its saddle's ``m`` (the branch threshold; without a finite-V window the
    midpoint of the ``V = inf`` jump), the one-loop and the ``V = inf`` alpha_c."""
    t = theory.transition
    lo, hi = min(alphas) - 3.0, max(alphas) + 3.0
    cc = theory.coexistence(lo, hi)
    if cc is None:
        cc = (None, 0.5 * (t.m_below + t.m_above))
    return {"m_threshold": cc[1], "alpha_c_theory_V": cc[0], "alpha_c_theory_inf": t.alpha_c,
            "alpha_c_one_loop": theory.one_loop_alpha_c(lo, hi)}


def switching_study(model: Model, alphas, iters: int, warmup: int, seed: int, chains: int = 4, device="cpu",
                    n_leapfrog: int = 5, progress=None):
    """Run ``chains`` chains per alpha (half from each start) and analyse the switching."""
    from .sweep import run_sweep

    theory = FiniteSizeTheory(model)
    reps = max(1, chains // 2)
    rows = []
    for rep in range(reps):
        rows += run_sweep(model, alphas, iters=iters, warmup=warmup, seed=seed + 1000 * rep, device=device,
                          n_leapfrog=n_leapfrog, progress=progress)
    th = switching_theory(theory, alphas)
    res = analyse_switching(rows, th.pop("m_threshold"))
    for k, v in th.items():
        setattr(res, k, v)
    return res, rows
