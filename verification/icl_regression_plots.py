"""Figures of ``copyhead icl-regression`` drawn from its JSON-able result (so they can be redrawn from
the saved JSON): KQ/OV heat maps per head, pattern emergence over training, risk versus context
length against the baselines, the preconditioner of anisotropic runs, and the posterior's pattern
metrics versus the number of prompts."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _title(res) -> str:
    p = res["params"]
    cov = "" if p.get("cov_eigs") is None else ", Sigma=diag(" + ",".join(f"{v:g}" for v in p["cov_eigs"]) + ")"
    return f"{p['attention']} attention, d={p['d']}, L={p['L']}, H={p['heads']}, sigma2={p['sigma2']}{cov}"


def plot_heads(res, path) -> Path:
    """``M_h = K_h^T Q_h`` (rows: key token entries, columns: query entries) and ``O_h V_h`` per head;
    the ``y`` column of ``M_h`` is hatched: it multiplies the query's ``y = 0`` and is not identified."""
    heads = res["heads"]
    H = len(heads)
    d = len(heads[0]["ov"]) - 1
    lab = [f"x{i + 1}" for i in range(d)] + ["y"]
    vmax = max(np.abs(np.asarray(h["kq"])[:, :d]).max() for h in heads)
    wmax = max(np.abs(h["ov"]).max() for h in heads)
    fig, axes = plt.subplots(2, H, figsize=(3.2 * H + 1, 5.6), gridspec_kw={"height_ratios": [d + 1, 1.4]},
                             squeeze=False)
    for h, hd in enumerate(heads):
        M = np.asarray(hd["kq"])
        ax = axes[0, h]
        im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.add_patch(plt.Rectangle((d - 0.5, -0.5), 1, d + 1, fill=False, hatch="//", color="0.4", lw=0))
        ax.set_xticks(range(d + 1), lab)
        ax.set_yticks(range(d + 1), lab)
        ax.set_xlabel("query entry")
        if h == 0:
            ax.set_ylabel("key (context token) entry")
        ax.set_title(f"head {h}: KQ, omega={hd['omega']:+.3f}\niso_dev={hd['iso_dev']:.3f}, y_row={hd['y_row']:.3f}",
                     fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
        ax = axes[1, h]
        im = ax.imshow(np.asarray(hd["ov"])[None, :], cmap="PuOr_r", vmin=-wmax, vmax=wmax)
        ax.set_xticks(range(d + 1), lab)
        ax.set_yticks([])
        ax.set_title(f"OV, mu={hd['mu']:+.3f}, ov_x={hd['ov_x']:.3f}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, orientation="horizontal", pad=0.35)
    pt = res["patterns"]
    fig.suptitle(f"{_title(res)}\nseed {res['best_seed']}; zero_sum={pt['zero_sum']:.3f}, "
                 f"collapsed={res['collapsed']}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_emergence(res, path) -> Path:
    """``omega_h(t)``, ``mu_h(t)``, the weighted ``iso_dev(t)`` and the training loss of every seed (the
    reported seed bold, collapsed seeds dashed)."""
    hist = res["history"]
    t = np.maximum(np.asarray(hist["step"]), 1)
    om, mu = np.asarray(hist["omega"]), np.asarray(hist["mu"])
    iso, loss = np.asarray(hist["iso_dev"]), np.asarray(hist["loss"])
    seeds = res["seeds"]
    best = seeds.index(res["best_seed"])
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    cols = plt.get_cmap("tab10")
    for k, s in enumerate(seeds):
        col = res["per_seed"][k]["collapsed"]
        kw = {"lw": 2.0 if k == best else 0.8, "alpha": 1.0 if k == best else 0.5, "ls": "--" if col else "-"}
        for h in range(om.shape[2]):
            axes[0, 0].plot(t, om[:, k, h], color=cols(h), **kw)
            axes[0, 1].plot(t, mu[:, k, h], color=cols(h), **kw)
        axes[1, 0].plot(t, iso[:, k], color=cols(k % 10), label=f"seed {s}" + (" (collapsed)" if col else ""), **kw)
        axes[1, 1].plot(t[1:], loss[1:, k], color=cols(k % 10), **kw)
    r = res["risk"]
    i = r["L"].index(res["train_L"])
    for key, ls in (("debiased_gd", "-"), ("single_head", ":")):
        axes[1, 1].axhline(r[key][i], color="k", ls=ls, lw=0.9, label=f"{key} {r[key][i]:.3f}")
    if res.get("pattern_step"):
        for ax in axes.ravel():
            ax.axvline(res["pattern_step"], color="0.5", lw=0.8, ls=":")
    axes[0, 0].set_ylabel("omega_h = tr A_h / d (colour = head)")
    axes[0, 1].set_ylabel("mu_h = OV y entry (colour = head)")
    axes[1, 0].set_ylabel("iso_dev = |A - omega I|/|A| (weighted)")
    axes[1, 0].set_yscale("log")
    axes[1, 1].set_ylabel("training loss (mean over steps since last record)")
    axes[1, 1].set_ylim(0.9 * min(r["debiased_gd"][i], np.nanmin(loss[1:])), 1.3 * r["single_head"][i])
    for ax in axes[1]:
        ax.set_xlabel("Adam step")
    for ax in axes.ravel():
        ax.set_xscale("log")
    axes[1, 0].legend(fontsize=7)
    axes[1, 1].legend(fontsize=7)
    fig.suptitle(f"Pattern emergence: {_title(res)} (bold: reported seed; dashed: collapsed; dotted line: "
                 f"pattern reached)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_risk(res, path) -> Path:
    """Risk versus context length for models trained at one ``L`` (length generalisation)."""
    r = res["risk"]
    Ls = np.asarray(r["L"])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    att = res["params"]["attention"]
    ax.errorbar(Ls, r["model"], yerr=r["model_se"], marker="o", color="C3", label=f"trained {att} (H={res['params']['heads']})")
    for key in [k for k in r if k.startswith("model_") and not k.endswith("_se") and "debiased" not in k]:  # compare
        ax.errorbar(Ls, r[key], yerr=r[key + "_se"], marker="s", color="C4", label=f"trained {key[6:]}")
    styles = {"single_head": ("C1", "--"), "gd": ("C2", ":"), "gd_opt": ("C2", "-."), "debiased_gd": ("k", "-"),
              "ridge": ("C0", "-")}
    top = 1.2 * max(max(r["single_head"]), max(r["debiased_gd"]))
    for key, (c, ls) in styles.items():
        ax.plot(Ls, r[key], color=c, ls=ls, label=key + (" (best, numerical)" if key == "single_head" else "")
                + (" (above the plot)" if min(r[key]) > top else ""))
    ax.axvline(res["train_L"], color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("context length L at test")
    ax.set_ylabel("risk E(y_hat - y_q)^2")
    ax.set_ylim(0, top)  # curves above are clipped
    ax.legend(fontsize=8)
    ax.set_title(f"Trained at L={res['train_L']}: {_title(res)}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_preconditioner(res, path) -> Path:
    """Anisotropic covariates: the effective preconditioner ``Gamma_eff = sum_h mu_h A_h^T/sqrt(d+1)``
    against the optimal debiased-GD preconditioner and the plain step."""
    G = np.asarray(res["patterns"]["gamma_eff"])
    T = np.asarray(res["debiased_step"])
    eig = np.asarray(res["params"]["cov_eigs"], dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.4))
    vm = max(np.abs(G).max(), np.abs(T).max())
    im = axes[0].imshow(G, cmap="RdBu_r", vmin=-vm, vmax=vm)
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    lab = [f"x{i + 1}" for i in range(len(eig))]
    axes[0].set_xticks(range(len(eig)), lab)
    axes[0].set_yticks(range(len(eig)), lab)
    axes[0].set_title("Gamma_eff = sum_h mu_h A_h^T / sqrt(d+1) (trained)", fontsize=9)
    ax = axes[1]
    ax.plot(eig, np.diag(G), "o", label="diag Gamma_eff (trained)")
    ax.plot(eig, np.diag(T), "k_", ms=14, mew=2, label="optimal debiased preconditioner L (L Sigma + c I)^-1")
    ax.set_xlabel("covariance eigenvalue")
    ax.set_xscale("log")
    ax.set_xticks(sorted(set(eig)), [f"{v:g}" for v in sorted(set(eig))])
    ax.minorticks_off()
    ax.set_ylabel("preconditioner entry")
    ax.legend(fontsize=8)
    pt = res["patterns"]
    ax.set_title(f"alignment with optimum {pt['align_target']:.4f}, with identity {pt['align_identity']:.4f}",
                 fontsize=9)
    fig.suptitle(_title(res), fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_posterior(res, path) -> Path:
    """Pattern metrics of the KQ posterior (OV integrated out) versus the number of prompts ``P``, per
    chain (circles: prior starts, squares: pattern starts; hollow: the chain sits in the same-sign
    collapsed mode at that ``P``)."""
    rows = res["posterior"]
    Ps = np.array([r["P"] for r in rows])
    keys = [("iso_dev", "per-head iso_dev"), ("gamma_iso_dev", "iso_dev of sum_h mu_h A_h"),
            ("zero_sum", "zero_sum"), ("y_row", "y_row"), ("ov_x", "ov_x"), ("risk", "population risk")]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    starts = rows[0]["starts"]
    for ax, (k, lab) in zip(axes.ravel(), keys):
        for c, s in enumerate(starts):
            vals = np.array([r["risk_per_chain"][c] if k == "risk" else r["metrics"][k]["per_chain"][c] for r in rows])
            col = np.array([r["metrics"]["collapsed"]["per_chain"][c] > 0.5 for r in rows])
            x = Ps * (1 + 0.03 * (c - len(starts) / 2))
            m = "o" if s == "prior" else "s"
            ax.plot(x, vals, ls="-" if s == "prior" else "--", color=f"C{c}", lw=0.8, label=f"chain {c} ({s} start)")
            ax.plot(x[~col], vals[~col], m, color=f"C{c}", ms=5)
            ax.plot(x[col], vals[col], m, mfc="none", color=f"C{c}", ms=7)
        ax.set_xscale("log")
        ax.set_xlabel("prompts P")
        ax.set_ylabel(lab)
        if k == "iso_dev":
            ax.axhline(res["prior_iso_dev"], color="0.5", ls=":", label="prior")
        if k == "risk":
            ax.axhline(res["debiased_gd"], color="k", lw=0.9, label="debiased GD")
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize=7, title="hollow: collapsed", title_fontsize=7)
    axes[1, 2].legend(fontsize=7)
    p = res["params"]
    fig.suptitle(f"KQ posterior (OV integrated out): d={p['d']}, L={p['L']}, H={p['heads']}, {p['attention']}, "
                 f"kappa={p['kappa'] or p['sigma2']}, prior std KQ {p['prior_kq']}, OV {p['prior_ov']}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
