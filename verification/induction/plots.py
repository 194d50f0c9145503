"""Figures of ``copyhead induction``: copier heat maps, selector, classifier scale, losses."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _title(r: dict) -> str:
    m, c = r["model"], r["train_config"]
    return (f"n={m['n']} S={m['S']} L={m['L']} H={m['heads']} M={m['window']} D={m['degree']} "
            f"{m['variant']}/{m['layer1']}; {r['sequences']['train']} train seqs\n"
            f"{c['optimizer']} lr={c['lr']:g} {c['schedule']} init={c['init']}, {r['steps']} steps")


def _save(fig, path) -> Path:
    from copyhead.io import atomic_write

    path = Path(path)
    atomic_write(path, lambda f: fig.savefig(f, format=path.suffix.lstrip(".") or "png", dpi=130), mode="wb")
    _plt().close(fig)
    return path


def plot_copier(r: dict, path) -> Path:
    """Heads x offsets heat maps of the offset distributions before and after training."""
    plt = _plt()
    W0, W1 = np.asarray(r["copier"]["weights_init"]), np.asarray(r["copier"]["weights"])
    H, M = W1.shape
    signed = r["model"]["layer1"] == "linear"
    vmin, vmax = (-1, 1) if signed else (0, 1)
    fig, axes = plt.subplots(1, 2, figsize=(2.2 + 1.3 * M * 2, 1.2 + 0.7 * H), constrained_layout=True)
    for ax, W, label in zip(axes, (W0, W1), ("before training", "after training")):
        im = ax.imshow(W, cmap="RdBu_r" if signed else "viridis", vmin=vmin, vmax=vmax, aspect="auto")
        for h in range(H):
            for k in range(M):
                ax.text(k, h, f"{W[h, k]:.2f}", ha="center", va="center", fontsize=8,
                        color="k" if (signed or W[h, k] > 0.5) else "w")
        ax.set_xticks(range(M), [str(k) + ("*" if k in r["parents"] else "") for k in range(1, M + 1)])
        ax.set_yticks(range(H), [f"h{h}" for h in range(1, H + 1)])
        ax.set_xlabel("offset k (* = parent)")
        ax.set_title(label)
    fig.colorbar(im, ax=axes, label=r["copier"]["measure"])
    fig.suptitle("copier: " + _title(r), fontsize=8)
    return _save(fig, path)


def _subset_label(names) -> str:
    return "{" + ",".join(names) + "}" if names else "{}"


def plot_selector(r: dict, path) -> Path:
    """Selector weights c_U^2 / sum c^2 over training (left) and at the end (right); the subsets
    that realise the theory's prediction (heads copying exactly the predicted offsets) are red."""
    plt = _plt()
    sel, tr = r["selector"], r["traces"]
    step, traj = np.asarray(tr["step"]), np.asarray(tr["selector"])
    labels = [_subset_label(u) for u in sel["subsets"]]
    pred = sel.get("predicted")
    agree = sel.get("agreeing_subsets", [pred])
    is_pred = [u in agree for u in sel["subsets"]]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    x = np.maximum(step, 0.5)
    cmap = plt.get_cmap("tab20")
    for i, lab in enumerate(labels):
        kw = dict(color="red", lw=2.4, zorder=5) if is_pred[i] else dict(color=cmap(i % 20), lw=1.1)
        a1.plot(x, traj[:, i], label=lab + (" (theory)" if is_pred[i] else ""), **kw)
    a1.set_xscale("log")
    a1.set_xlabel("step (log; step 0 drawn at 0.5)")
    a1.set_ylabel(r"$c_U^2/\sum_V c_V^2$")
    a1.set_ylim(-0.02, 1.02)
    a1.legend(fontsize=7, ncol=2)
    a1.set_title("selector trajectories")
    final = np.asarray(sel["weights"])
    bars = a2.bar(range(len(labels)), final, color=["red" if p else "tab:gray" for p in is_pred])
    for i, p in enumerate(is_pred):
        if p:
            a2.annotate("theory", (i, final[i]), xytext=(0, 4), textcoords="offset points", ha="center",
                        color="red", fontsize=8)
    a2.set_xticks(range(len(labels)), labels, rotation=60, fontsize=8)
    a2.set_ylim(0, 1.08)
    a2.set_title("final selector weights (red: heads copying the predicted offsets" +
                 (f" {sel['predicted_offsets']})" if pred else ")"), fontsize=9)
    del bars
    fig.suptitle("selector: " + _title(r), fontsize=8)
    return _save(fig, path)


def plot_classifier(r: dict, path) -> Path:
    """The classifier scale a(t)."""
    plt = _plt()
    tr = r["traces"]
    fig, ax = plt.subplots(figsize=(6.5, 4), constrained_layout=True)
    ax.plot(np.maximum(np.asarray(tr["step"]), 0.5), tr["a"], color="tab:purple", marker=".", ms=3)
    ax.set_xscale("log")
    ax.set_xlabel("step (log; step 0 drawn at 0.5)")
    ax.set_ylabel("a")
    ax.set_title("classifier scale a(t)\n" + _title(r), fontsize=8)
    return _save(fig, path)


def plot_loss(r: dict, path) -> Path:
    """Train and validation cross-entropy (eps-mixed) against the Bayes-optimal floor and ln S
    (left), and the excess over the floor of the same set on a log scale (right)."""
    plt = _plt()
    tr, L = r["traces"], r["loss"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    x = np.maximum(np.asarray(tr["step"]), 0.5)
    ax.plot(x, tr["train_loss"], label="train", color="tab:blue")
    ax.plot(x, tr["val_loss"], label="validation", color="tab:orange")
    ax.axhline(L["bayes_train"], color="tab:blue", ls="--", lw=1, label=f"Bayes, train ({L['bayes_train']:.4f})")
    ax.axhline(L["bayes_val"], color="tab:orange", ls="--", lw=1, label=f"Bayes, validation ({L['bayes_val']:.4f})")
    ax.axhline(L["uniform"], color="k", ls=":", lw=1, label=f"uniform, ln S ({L['uniform']:.4f})")
    ax.set_ylabel("cross-entropy (nats)")
    ax.legend(fontsize=8)
    ax.set_title("loss vs the Bayes-optimal in-context floor", fontsize=9)
    ex_tr = np.asarray(tr["train_loss"]) - L["bayes_train"]
    ex_va = np.asarray(tr["val_loss"]) - L["bayes_val"]
    bx.plot(x, np.where(ex_tr > 0, ex_tr, np.nan), color="tab:blue", label="train - Bayes(train)")
    bx.plot(x, np.where(ex_va > 0, ex_va, np.nan), color="tab:orange", label="validation - Bayes(validation)")
    gap, se2 = L["val_minus_bayes"], 2 * L["val_minus_bayes_se"]
    if gap > 0:  # the lower end of the bar is cut at gap/100 on the log axis
        bx.errorbar([x[-1]], [gap], yerr=[[min(se2, 0.99 * gap)], [se2]], fmt="o", color="tab:orange", capsize=3,
                    label=f"final validation gap {gap:.4f} +- {se2:.4f} (2 paired s.e.)")
    bx.set_yscale("log")
    bx.set_ylabel("excess cross-entropy (nats)")
    bx.legend(fontsize=8)
    bx.set_title("excess over the Bayes floor (same sequences)", fontsize=9)
    for a in (ax, bx):
        a.set_xscale("log")
        a.set_xlabel("step (log; step 0 drawn at 0.5)")
    fig.suptitle(_title(r), fontsize=8)
    return _save(fig, path)


def plot_all(r: dict, folder, prefix: str = "induction", fmt: str = "png") -> list:
    """The four figures ``<folder>/<prefix>_{copier,selector,a,loss}.<fmt>`` (``fmt``: png, pdf or svg)."""
    folder = Path(folder)
    return [plot_copier(r, folder / f"{prefix}_copier.{fmt}"), plot_selector(r, folder / f"{prefix}_selector.{fmt}"),
            plot_classifier(r, folder / f"{prefix}_a.{fmt}"), plot_loss(r, folder / f"{prefix}_loss.{fmt}")]
