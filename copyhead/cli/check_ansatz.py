"""``copyhead check-ansatz``: unconstrained minimisation over all T^2 scores vs the softmax ansatz.

Files: JSON summary (per alpha: the ansatz minimum and the best gap, with provenance), CSV table
(one row per alpha and start) and a figure (the minima found on the ansatz branches, and their
free-energy gaps against their distance to the ansatz family). Exit code 1 when some start finds
a lower free energy than the ansatz (by more than 1e-9).
"""
from __future__ import annotations

import json
import time

from .common import Outputs, add_model_args, add_output_args, floats, model_from_args, say

NAME = "check-ansatz"
HELP = "unconstrained minimisation over all T^2 scores vs the symmetric softmax ansatz"
TOLERANCE = 1e-9  # F_unconstrained - F_ansatz below -TOLERANCE refutes the ansatz


def add_arguments(p):
    add_model_args(p, attentions=("softmax",), attention_default="softmax")
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the transition)")
    p.add_argument("--starts", type=int, default=24, help="random starts per alpha (plus 9 structured)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts")
    add_output_args(p, NAME)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _default_alphas(model) -> list:
    from copyhead.numerics.solve import solve

    t = solve(model).transition
    alphas = [a for a in (t.alpha_spinodal_low, t.alpha_c, t.alpha_spinodal_high) if a is not None]
    return [0.8 * alphas[0]] + alphas + [1.2 * alphas[-1]]


def _figure(model, checks, args, path):
    """Left: ``m`` of every minimum found, on the ansatz branches ``m(alpha)``; right: its gap
    ``F - F_ansatz`` (symlog) against its distance to the ansatz family."""
    import numpy as np

    from copyhead.verification.figures import draw_curves, limit_curves, save, style, title

    with style():
        import matplotlib.pyplot as plt

        fig, (ax, bx) = plt.subplots(1, 2, figsize=(9.5, 5.0))
        lo, hi = min(c.alpha for c in checks), max(c.alpha for c in checks)
        pad = 0.1 * (hi - lo) or 1.0
        draw_curves(ax, limit_curves(model, lo - pad, hi + pad), None, lo - pad, hi + pad)
        runs = [(c.alpha, r) for c in checks for r in c.runs]
        best = [abs(r["gap"]) <= 1e-7 for _, r in runs]
        ax.plot([a for (a, _), b in zip(runs, best) if b], [r["m"] for (_, r), b in zip(runs, best) if b], "o",
                ms=7, mfc="none", mew=1.5, color="k", zorder=5, label="minima found at the ansatz's global minimum")
        ax.plot([a for (a, _), b in zip(runs, best) if not b], [r["m"] for (_, r), b in zip(runs, best) if not b],
                "x", ms=6, mew=1.5, color="tab:gray", zorder=5, label="other local minima found")
        ax.set(xlabel=r"$\alpha$", ylabel=r"copy weight $m$", xlim=(lo - pad, hi + pad), ylim=(0, 1))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)  # off the data
        gaps = np.array([r["gap"] for _, r in runs])
        dist = np.maximum([r["distance"] for _, r in runs], 1e-16)  # exact zeros shown at 1e-16
        sc = bx.scatter(dist, gaps, c=[a for a, _ in runs], cmap="viridis", s=16, zorder=3)
        fig.colorbar(sc, ax=bx, label=r"$\alpha$")
        bx.axhline(-TOLERANCE, color="tab:red", lw=0.8, ls=":", label=r"refutation threshold $-10^{-9}$")
        bx.set_yscale("symlog", linthresh=1e-12)
        bx.set_xscale("log")
        bx.margins(y=0.12)
        bx.set(xlabel="distance of the minimum to the ansatz family", ylabel=r"$F - F_{\rm ansatz}$ (per $V^2$)")
        bx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
        title(fig, "unconstrained minimisation over all $T^2$ scores vs the symmetric ansatz", model, args.seed,
              starts=f"{args.starts} random + 9 structured per $\\alpha$")
        return save(fig, path)


def run(args) -> int:
    model = model_from_args(args)
    alphas = floats("alphas", args.alphas, distinct=True) if args.alphas else None
    out = Outputs(args, stem=f"check_ansatz_{model.prior}_{model.objective}_T{model.T}")
    from copyhead.io import write_csv
    from copyhead.numerics.ansatz_check import check_softmax_ansatz
    from copyhead.verification.outputs import COLUMNS

    from .common import write_result

    t0 = time.perf_counter()
    alphas = alphas or _default_alphas(model)
    checks = []
    for a in alphas:
        checks.append(check_softmax_ansatz(model, a, n_random=args.starts, seed=args.seed))
        say(args, checks[-1].summary())
    wall = time.perf_counter() - t0
    worst = min([0.0] + [c.best_gap for c in checks])
    per_alpha = [{"alpha": c.alpha, "F_ansatz": c.F_ansatz, "s_ansatz": c.s_ansatz, "best_gap": c.best_gap,
                  "distance_of_best": c.worst_distance_at_best, "n_starts": len(c.runs),
                  "n_converged": sum(r["converged"] for r in c.runs)} for c in checks]
    doc = {"model": model.to_dict(), "starts": args.starts, "seed": args.seed, "tolerance": TOLERANCE,
           "worst_gap": worst, "confirmed": worst > -TOLERANCE, "alphas": per_alpha}
    out.add(write_result(out.path(".json"), doc, {"seed": args.seed}, wall))
    rows = [{"alpha": c.alpha, **r} for c in checks for r in c.runs]
    out.add(write_csv(rows, out.path(".csv"), list(COLUMNS[NAME])))
    out.add(_figure(model, checks, args, out.figure()))
    if args.json:
        print(json.dumps({k: v for k, v in doc.items()}, default=float))
    say(args, f"worst (most negative) F_unconstrained - F_ansatz over all alphas: {worst:.3e}", out.line())
    return 0 if worst > -TOLERANCE else 1
