"""The copier's emergence versus the amount of data, softmax vs linear layer 1 (issue 12, item 6).

Where copyhead's single-layer theory meets the induction head: does the layer-1 copier switch on
*abruptly* in the number of training sequences with a softmax layer 1 and grow *continuously* with
a linear one? This driver loops :func:`copyhead.cli.induction.compute` over a grid of
(training sequences, layer 1, seed) -- exactly the grid ``copyhead sweep`` will run over the
options ``--sequences``, ``--layer1``, ``--seed`` -- and writes

* ``OUTDIR/induction_data_study.csv``: one row per run (columns below),
* ``OUTDIR/induction_data_study.json``: the settings, per-(layer1, N) summaries, provenance,
* ``OUTDIR/induction_data_study.png``: parent weight against N (every run, mean +- s.e.), the
  fraction of runs that became copiers, and the spread of the final weights.

System (fixed; chosen so that one sequence carries little information and the copier must be
*learned*): n = 2 (one parent), S = 5, L = 20, one head, window 4 (chance weight 1/4), degree 1,
neutral start, full-batch GD lr 1 for ``--steps`` steps, 500 validation sequences. The data seed
and the initial noise of run ``seed`` are shared by the softmax and the linear run (paired).

CSV columns: ``layer1``, ``n_train`` (training sequences N), ``seed``, ``parent_weight`` (the
head's weight on offset 1: softmax(w)_1, or |w_1| / sum_k |w_k| for a linear layer 1),
``peak_offset`` (offset with the largest weight), ``w_k1..w_k4`` (the offset distribution; signed
for linear), ``val_loss``, ``bayes_val``, ``uniform`` (ln S), ``grad_norm`` (|grad| at the end),
``wall_s``.

Run: ``nice -n 10 python examples/induction_data_study.py`` (writes ``examples/induction_data_study/``)
(default grid: 15 N x 2 x 10 seeds = 300 runs).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

FIXED = {"n": 2, "S": 5, "L": 20, "heads": 1, "window": 4, "degree": 1, "init": "neutral", "optimizer": "gd",
         "criterion_draws": 200}
COPIER = 0.75  # a run "became a copier" when its parent weight exceeds this (chance 0.25, ideal 1)


def run_grid(ns, layers, seeds, steps, val, progress=True) -> list:
    import torch

    from copyhead.cli.induction import compute

    torch.set_num_threads(1)
    rows, total, t0 = [], len(ns) * len(layers) * len(seeds), time.perf_counter()
    for i, (n_train, layer1, seed) in enumerate((n, l, s) for n in ns for l in layers for s in seeds):
        cfg = {**FIXED, "sequences": n_train + val, "val_sequences": val, "layer1": layer1, "seed": seed,
               "steps": steps}
        r = compute(cfg)
        w = np.asarray(r["copier"]["weights"])[0]
        rows.append({"layer1": layer1, "n_train": n_train, "seed": seed, "parent_weight": float(abs(w[0])),
                     "peak_offset": int(np.argmax(np.abs(w))) + 1,
                     **{f"w_k{k + 1}": float(v) for k, v in enumerate(w)},
                     "val_loss": r["loss"]["val"], "bayes_val": r["loss"]["bayes_val"], "uniform": r["loss"]["uniform"],
                     "grad_norm": r["grad_norm"], "wall_s": r["wall_s"]})
        if progress:
            el = time.perf_counter() - t0
            print(f"\r{i + 1}/{total} runs, {el:.0f} s, eta {el / (i + 1) * (total - i - 1):.0f} s", end="", flush=True)
    if progress:
        print()
    return rows


def summarise(rows) -> list:
    """Per (layer1, N): mean +- s.e. of the parent weight, copier fraction, middle fraction (runs
    between 0.4 and COPIER, i.e. neither near chance nor copiers) and the standard deviation."""
    out = []
    for layer1 in sorted({r["layer1"] for r in rows}):
        for n in sorted({r["n_train"] for r in rows}):
            w = np.array([r["parent_weight"] for r in rows if r["layer1"] == layer1 and r["n_train"] == n])
            if w.size == 0:
                continue
            out.append({"layer1": layer1, "n_train": n, "runs": int(w.size), "mean": float(w.mean()),
                        "se": float(w.std(ddof=1) / np.sqrt(w.size)) if w.size > 1 else None,
                        "sd": float(w.std(ddof=1)) if w.size > 1 else None,
                        "copier_fraction": float((w > COPIER).mean()),
                        "middle_fraction": float(((w > 0.4) & (w <= COPIER)).mean()),
                        "median": float(np.median(w))})
    return out


def figure(rows, summary, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from copyhead.io import atomic_write

    colors = {"softmax": "tab:red", "linear": "tab:blue"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), constrained_layout=True)
    rng = np.random.default_rng(0)
    for layer1, col in colors.items():
        rs = [r for r in rows if r["layer1"] == layer1]
        if not rs:
            continue
        n = np.array([r["n_train"] for r in rs], float)
        w = np.array([r["parent_weight"] for r in rs])
        jitter = np.exp(rng.uniform(-0.08, 0.08, n.size)) * (1.0 if layer1 == "softmax" else 1.04)
        axes[0].scatter(n * jitter, w, s=9, alpha=0.45, color=col)
        s = [x for x in summary if x["layer1"] == layer1]
        ns = np.array([x["n_train"] for x in s])
        axes[0].errorbar(ns, [x["mean"] for x in s], yerr=[x["se"] or 0 for x in s], color=col, marker="o",
                         ms=4, capsize=2, label=f"{layer1} layer 1: mean +- s.e.")
        axes[1].plot(ns, [x["copier_fraction"] for x in s], marker="o", color=col, label=f"{layer1}: weight > {COPIER}")
        axes[1].plot(ns, [x["middle_fraction"] for x in s], marker="x", ls="--", color=col,
                     label=f"{layer1}: 0.4 < weight <= {COPIER}")
        axes[2].plot(ns, [x["sd"] or 0 for x in s], marker="o", color=col, label=layer1)
    axes[0].axhline(0.25, color="k", ls=":", lw=1, label="chance 1/M")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training sequences N")
    axes[0].set_ylabel("final weight of the head on the parent offset")
    axes[0].set_title("copier vs data (dots: runs)")
    axes[0].legend(fontsize=8)
    axes[1].set_ylabel("fraction of runs")
    axes[1].set_title("copiers and in-between runs")
    axes[1].legend(fontsize=7)
    axes[2].set_ylabel("s.d. of the parent weight over runs")
    axes[2].set_title("spread across seeds")
    axes[2].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=130), mode="wb")
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ns", default="1,2,3,4,6,8,12,16,24,32,48,64,128,256,512", help="training sequences N")
    ap.add_argument("--layers", default="softmax,linear")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--val", type=int, default=500)
    ap.add_argument("--outdir", default="examples/induction_data_study")
    a = ap.parse_args(argv)
    from copyhead.io import prepare_outdir, provenance, write_csv, write_json

    folder = prepare_outdir(a.outdir)
    ns = [int(v) for v in a.ns.split(",")]
    layers = [v.strip() for v in a.layers.split(",")]
    seeds = list(range(a.seeds))
    t0 = time.perf_counter()
    rows = run_grid(ns, layers, seeds, a.steps, a.val)
    wall = time.perf_counter() - t0
    summary = summarise(rows)
    write_csv(rows, Path(folder) / "induction_data_study.csv")
    settings = {**FIXED, "steps": a.steps, "lr": 1.0, "val_sequences": a.val, "ns": ns, "layers": layers,
                "seeds": seeds, "copier_threshold": COPIER}
    write_json({"settings": settings, "summary": summary}, Path(folder) / "induction_data_study.json",
               provenance=provenance(seeds=seeds, wall_s=wall))
    title = (f"copier emergence vs data: n=2 S=5 L=20, 1 head, window 4, neutral start, GD lr 1, {a.steps} steps, "
             f"{len(seeds)} seeds per point")
    figure(rows, summary, Path(folder) / "induction_data_study.png", title)
    for s in summary:
        print(f"{s['layer1']:>8s} N={s['n_train']:5d}  weight {s['mean']:.3f} +- {s['se'] or 0:.3f} "
              f"(sd {s['sd'] or 0:.3f}, median {s['median']:.3f})  copiers {s['copier_fraction']:.2f}  "
              f"in-between {s['middle_fraction']:.2f}")
    print(f"{len(rows)} runs in {wall:.0f} s; wrote {folder}")


if __name__ == "__main__":
    main()
