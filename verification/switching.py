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
from typing import Optional

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


def plot_switching(res: SwitchingResult, path, model: Optional[Model] = None, seed=None, **extra):
    """One histogram of the post-warm-up ``m`` per alpha (all chains pooled; the branch threshold
    marked) and the copy time fraction ``f(alpha)`` with the MC and theory ``alpha_c(V)``. With
    ``model`` the title carries its parameters (:func:`verification.figures.describe`)."""
    from .figures import describe, save, style

    n = len(res.alphas)
    with style():
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, n + 1, figsize=(2.2 * n + 3.6, 3.3),
                                 gridspec_kw={"width_ratios": [1] * n + [1.6]})
        for i, (ax, a) in enumerate(zip(axes, res.alphas)):
            c, e = res.histograms[a]
            ax.bar(0.5 * (e[1:] + e[:-1]), c / c.sum(), width=e[1] - e[0], color="tab:blue",
                   label="HMC draws (all chains)")
            ax.axvline(res.m_threshold, color="k", ls=":", lw=1, label=r"branch threshold (saddle of $F - e_1/V$)")
            ax.set_title(rf"$\alpha={a:g}$, $f_{{\rm copy}}={res.fractions[i]:.2f}$")
            ax.set_ylim(0, 1.45 * float((c / c.sum()).max()))  # room for the legend
            ax.set_xlabel(r"copy weight $m$")
            ax.set_xlim(0, 1)
            if i == 0:
                ax.set_ylabel("fraction of draws")
                ax.legend(loc="upper right", fontsize=6.5)
        ax = axes[-1]
        ax.errorbar(res.alphas, res.fractions, yerr=res.fraction_err, fmt="o-", ms=4, color="tab:blue", capsize=2.5,
                    label=r"HMC ($\pm$ s.e. over chains)")
        ax.axhline(0.5, color="0.6", lw=0.6)
        for val, kw, lab in ((res.alpha_c, dict(color="tab:green", ls="-"), "MC fit"),
                             (res.alpha_c_theory_V, dict(color="tab:purple", ls="--"), "$F - e_1/V$ coexistence"),
                             (res.alpha_c_one_loop, dict(color="tab:orange", ls=":"), "one loop"),
                             (res.alpha_c_theory_inf, dict(color="k", ls="-."), r"$V=\infty$")):
            if val is not None:
                ax.axvline(val, lw=1.1, label=rf"{lab} $\alpha_c={val:.2f}$", **kw)
        ax.set(xlabel=r"$\alpha$", ylabel=r"copy time fraction $f_{\rm copy}$", ylim=(-0.03, 1.03),
               title=r"$f_{\rm copy}(\alpha)$ and $\alpha_c(V)$")
        ax.legend(loc="upper left", fontsize=6.5)
        head = f"branch switching at $V={res.V}$: long HMC chains hop between the disordered and the copy branch"
        fig.suptitle(head + ("\n" + describe(model, seed, **extra) if model is not None else ""))
        return save(fig, path)


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


def replica_seeds(seed: int, chains: int) -> list:
    """The master seed of every replica (one data set per alpha and two chains each): ``seed + 1000 rep``."""
    return [seed + 1000 * rep for rep in range(max(1, chains // 2))]


def checkpoint_files(prefix: Optional[str], chains: int) -> list:
    """The checkpoint files of a switching study with ``checkpoint=prefix`` (one per replica)."""
    from .sweep import CHECKPOINT_SUFFIX

    return [] if prefix is None else [f"{prefix}_rep{rep}{CHECKPOINT_SUFFIX}" for rep in range(max(1, chains // 2))]


def switching_study(model: Model, alphas, iters: int, warmup: int, seed: int, chains: int = 4, device="cpu",
                    n_leapfrog: int = 5, progress=None, checkpoint: Optional[str] = None,
                    checkpoint_every: int = 500):
    """Run ``chains`` chains per alpha (half from each start) and analyse the switching.

    The chains come in ``chains // 2`` replicas (:func:`replica_seeds`: own data sets, one chain
    per start); ``progress(done, total, info)`` sees the whole study. With ``checkpoint``, replica
    ``rep`` saves and resumes ``<checkpoint>_rep<rep>.ckpt.pt`` (:func:`verification.sweep.run_sweep`)."""
    from .sweep import run_sweep

    theory = FiniteSizeTheory(model)
    seeds = replica_seeds(seed, chains)
    rows = []
    for rep, s in enumerate(seeds):
        prog = None if progress is None else \
            (lambda done, total, info=None, _r=rep: progress(_r * total + done, len(seeds) * total, info))
        rows += run_sweep(model, alphas, iters=iters, warmup=warmup, seed=s, device=device,
                          n_leapfrog=n_leapfrog, progress=prog,
                          checkpoint=None if checkpoint is None else f"{checkpoint}_rep{rep}",
                          checkpoint_every=checkpoint_every)
    th = switching_theory(theory, alphas)
    res = analyse_switching(rows, th.pop("m_threshold"))
    for k, v in th.items():
        setattr(res, k, v)
    return res, rows
