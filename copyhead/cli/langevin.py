"""``copyhead langevin``: temperature-1 dynamics on all weights (Q, K, W) vs the posterior theory.

Noisy gradient dynamics at temperature 1 on all weights (no marginalisation; Metropolis-adjusted
by default so that it samples ``exp(-U)`` exactly), whose ``<m>`` is compared with the
*posterior* branch.
"""
from __future__ import annotations

import json
import time

import numpy as np

from .common import add_model_args, add_run_args, at_least, floats, model_from_args, outdir, set_threads

NAME = "langevin"
HELP = "temperature-1 dynamics on all weights (Q, K, W) vs the posterior theory"


def add_arguments(p):
    add_run_args(p, seed='seed of data and chains', json='print the rows as JSON')
    add_model_args(p, attention_default="softmax", objective=False)
    p.add_argument("--V", type=int, default=16, help="vocabulary size")
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the transition)")
    p.add_argument("--iters", type=int, default=2000, help="iterations after warm-up")
    p.add_argument("--chains", type=int, default=4, help="independent chains per alpha and init")
    p.add_argument("--method", choices=("hmc", "mala", "ula"), default="hmc", help="sampler")


def run(args) -> int:
    set_threads(args.threads)
    model = model_from_args(args, objective="posterior", V=args.V)
    alphas = floats("alphas", args.alphas) if args.alphas else None
    at_least("chains", args.chains, 1)
    at_least("iters", args.iters, 10)
    folder = outdir(args.outdir)
    from copyhead.io import write_json
    from copyhead.numerics.finite_size import default_alphas, theory_for_run
    from copyhead.verification.langevin import sample_langevin

    alphas = alphas or default_alphas(model)
    rows = []
    t0 = time.perf_counter()
    for a in alphas:
        ma = model.replace(alpha=a)
        for init in ("prior", "copy"):
            res = sample_langevin(ma, n_iter=args.iters, seed=args.seed, method=args.method, chains=args.chains,
                                  init=init)
            mean, err, ess = res.stat("abs_m" if model.attention == "linear" else "m")
            tp = theory_for_run(model, ma.alpha_effective, mean)
            ref = tp.m_corrected if tp.m_corrected is not None else tp.m
            rows.append({"alpha": a, "alpha_effective": ma.alpha_effective, "init": init, "method": args.method,
                         "m_mean": mean, "m_err": err, "ess": ess, "accept": float(np.mean(res.accept_rate)),
                         "theory_branch": tp.branch, "theory_m": tp.m, "theory_m_corrected": tp.m_corrected,
                         "deviation": mean - ref, "wall_time": res.wall_time})
            if not args.json:
                r = rows[-1]
                print(f"alpha {a:7.3f} {init:>5s}: <m> {mean:.4f} +- {err:.4f} (ESS {ess:.0f}, acc {r['accept']:.2f}) "
                      f"{tp.branch} theory {tp.m:.4f} / e1/V {ref:.4f}: dev {r['deviation']:+.4f}", flush=True)
    p = write_json({"model": model.to_dict(), "iters": args.iters, "chains": args.chains, "method": args.method,
                    "seed": args.seed, "rows": rows, "wall_time_s": time.perf_counter() - t0},
                   folder / f"langevin_{model.attention}_V{model.V}_seed{args.seed}.json")
    if args.json:
        print(json.dumps(rows, default=float))
    else:
        print(f"wrote {p}")
    return 0
