"""Figures of the umbrella-sampling landscape (``copyhead landscape``) and of the alpha_c(V) study."""
from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_landscape(result: dict, path) -> str:
    """Left: ``F_V(m) = -ln p(m)`` (kT) of the Monte Carlo (mean over runs, band = 2 standard errors)
    with the theory's saddle-point (``F - e1/V``) and one-loop landscapes, all normalised densities.
    Right: the biased window histograms (overlap check)."""
    from .landscape import direct_summary

    plt = _plt()
    prof, th = result["profile"], result.get("theory") or {}
    m, F, dF = (np.asarray(prof[k], float) for k in ("m", "F", "F_err"))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 5.0), gridspec_kw={"width_ratios": [1.6, 1]})
    ok = np.isfinite(F)
    ax.plot(m[ok], F[ok], "k-", lw=1.6, label="HMC umbrella + MBAR")
    band = ok & np.isfinite(dF)
    ax.fill_between(m[band], (F - 2 * dF)[band], (F + 2 * dF)[band], color="0.6", alpha=0.5, lw=0)
    di = result.get("direct")
    if di:
        Fd = np.asarray([np.nan if v is None else v for v in di["F"]], float)
        okd = np.isfinite(Fd)
        ax.plot(m[okd], Fd[okd], "o", ms=3, mfc="none", color="tab:green",
                label=f"unbiased HMC histogram (data set {di['data_seed']}, {di['switches']} switches)")
        F0 = np.asarray([np.nan if v is None else v for v in di["F_data0"]], float)
        ok0 = np.isfinite(F0)
        ax.plot(m[ok0], F0[ok0], "-", lw=0.8, color="tab:green", alpha=0.7, label=f"umbrella, data set {di['data_seed']}")
    if th:
        tm = np.asarray(th["m"], float)
        ax.plot(tm, th["F_saddle"], "--", color="tab:purple", label=r"saddle point $V^2(F - e_1/V)$")
        ax.plot(tm, th["F_one_loop"], ":", color="tab:red", lw=2, label="one loop (constrained Laplace)")
    top = np.nanmax(F[ok]) if ok.any() else 10.0
    ax.set_ylim(np.nanmin(F[ok]) - 0.12 * (top - np.nanmin(F[ok])) - 2.0, top + 4.0)
    ax.set_xlim(m[ok].min() - 0.02, m[ok].max() + 0.02)
    ax.axvline(result["split"], color="0.4", lw=0.8, ls="-.")
    txt = (f"ln Z_copy - ln Z_uniform = {result['log_odds']:+.2f} ± {result['log_odds_err']:.2f}"
           + (f"\n(data-set sd {result['data_sd']:.2f})" if result.get("data_sd") is not None else "")
           + (f"\none loop: {th['log_odds_one_loop']:+.2f} (integral), {th['log_odds_laplace']:+.2f} (Laplace)"
              if th.get("log_odds_one_loop") is not None else "")
           + (f"\nunbiased HMC, data set {result['direct']['data_seed']}: {direct_summary(result['direct'])} "
              f"(umbrella {result['datasets'][0]['log_odds']:+.2f} "
              f"± {result['datasets'][0]['log_odds_err']:.2f})" if result.get("direct") else ""))
    # between the basins the profile is high, so the bottom centre is free for the numbers
    ax.text(0.5, 0.02, txt, transform=ax.transAxes, va="bottom", ha="center", fontsize=7.5,
            bbox=dict(facecolor="white", alpha=0.85, lw=0))
    ax.set(xlabel="copy weight m", ylabel=r"$F_V(m) = -\ln p(m)$  [kT]",
           title=f"softmax, V={result['V']}, alpha={result['alpha']:g} "
                 f"({len(result['datasets'])} data set(s) x {result['options']['replicas']} runs)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    hist = result.get("window_histograms")
    if hist:
        e = np.asarray(hist["edges"])
        c = 0.5 * (e[1:] + e[:-1])
        for h in hist["counts"]:
            ax2.plot(c, h, lw=0.8)
        ax2.set(xlabel="m", ylabel="samples (all runs)", title=f"{len(hist['counts'])} biased windows")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return str(path)


def plot_alpha_c(table: list, fits: dict, path) -> str:
    """Left: ``alpha_c(V)`` from equal basin weights vs ``1/V``: Monte Carlo (per data set and mean),
    one-loop and ``F - e1/V`` predictions, fits ``alpha_inf + a/V + b/V^2``. Right: Monte Carlo minus
    one loop (and the direct switching value at V = 8 minus one loop)."""
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    x = np.array([1.0 / r["V"] for r in table])
    for r in table:
        xs = np.full(len(r["alpha_c_by_data"]), 1.0 / r["V"])
        ax.plot(xs, r["alpha_c_by_data"], ".", color="0.6", ms=4)
        ax2.plot(xs, np.asarray(r["alpha_c_by_data"]) - r["alpha_c_one_loop"], ".", color="0.6", ms=4)
    y = np.array([r["alpha_c"] for r in table])
    e = np.array([r["alpha_c_err"] for r in table])
    y1 = np.array([r["alpha_c_one_loop"] for r in table], float)
    ax.errorbar(x, y, yerr=e, fmt="ko", ms=5, capsize=3, label="HMC umbrella + MBAR (mean over data sets)")
    ax.plot(x, y1, "s", mfc="none", color="tab:red", label="one loop (Laplace)")
    ax.plot(x, [r["alpha_c_saddle"] for r in table], "^", mfc="none", color="tab:purple", label="equal minima of F - e1/V")
    ax2.errorbar(x, y - y1, yerr=e, fmt="ko", ms=5, capsize=3, label="HMC umbrella (grey: single data sets)")
    lr = [r for r in table if r.get("alpha_c_long_run") is not None]
    if lr:  # the longer runs at one alpha (same data sets, 4 runs x 3000 iterations), slightly offset in 1/V
        ax2.errorbar([1.0 / r["V"] + 0.002 for r in lr], [r["alpha_c_long_run"] - r["alpha_c_one_loop"] for r in lr],
                     yerr=[r["alpha_c_long_run_err"] for r in lr], fmt="s", color="tab:blue", mfc="none", ms=5,
                     capsize=3, label="longer runs at one alpha (same data sets)")
    r8 = [r for r in table if r.get("alpha_c_switching") is not None]
    for a_ in (ax, ax2):
        if r8:
            off = 0.0 if a_ is ax else np.array([r["alpha_c_one_loop"] for r in r8])
            a_.errorbar([1.0 / r["V"] for r in r8], np.array([r["alpha_c_switching"] for r in r8]) - off,
                        yerr=[r["alpha_c_switching_err"] for r in r8], fmt="D", color="tab:green", mfc="none", capsize=3,
                        label="direct switching (V=8)")
    xx = np.linspace(0.0, 1.1 * x.max(), 200)
    for key, style in (("free", "k-"), ("fixed", "k--"), ("one_loop_free", "r:")):
        f = fits.get(key)
        if f:
            ax.plot(xx, f["alpha_inf"] + f["a"] * xx + f["b"] * xx * xx, style, lw=0.9,
                    label=rf"fit ({key} $\alpha_c(\infty)$ = {f['alpha_inf']:.2f})")
    ax2.axhline(0.0, color="tab:red", lw=0.8)
    ax.set(xlabel="1/V", ylabel=r"$\alpha_c(V)$", title="finite-size coexistence (equal basin weights)")
    ax2.set(xlabel="1/V", ylabel=r"$\alpha_c(V) - \alpha_c^{1\mathrm{-loop}}(V)$", title="difference from the one-loop theory")
    ax.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return str(path)
