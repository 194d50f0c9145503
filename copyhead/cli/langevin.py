"""``copyhead langevin``: temperature-1 dynamics on all weights (Q, K, W) vs the posterior theory.

Noisy gradient dynamics at temperature 1 on all weights (no marginalisation; Metropolis-adjusted
by default so that it samples ``exp(-U)`` exactly), whose ``<m>`` is compared with the
*posterior* branch.
"""
from __future__ import annotations

import json
import time

import numpy as np

from .common import (ProgressBar, add_model_args, add_run_args, at_least, floats, model_from_args, outdir,
                     set_threads, write_result)

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


def _check(args):
    """Validate every option before any computation; returns ``(model, alphas)``."""
    set_threads(args.threads)
    model = model_from_args(args, objective="posterior", V=args.V)
    alphas = floats("alphas", args.alphas) if args.alphas else None
    at_least("chains", args.chains, 1)
    at_least("iters", args.iters, 10)
    return model, alphas


def _sample_one(model, theory, a, init, args) -> dict:
    """One all-weights run at nominal ``alpha = a`` from ``init`` and its posterior theory point."""
    from copyhead.verification.langevin import sample_langevin

    bar = ProgressBar(f"{args.method} {model.attention} alpha={a:g} init={init}", quiet=args.json)
    res = sample_langevin(model.replace(alpha=a), n_iter=args.iters, seed=args.seed, method=args.method,
                          chains=args.chains, init=init, progress=bar)
    mean, err, ess = res.stat("abs_m" if model.attention == "linear" else "m")
    tp = theory.run_point(a, mean)
    return {"alpha": a, "alpha_effective": tp.alpha, "init": init, "method": args.method, "m_mean": mean,
            "m_err": err, "ess": ess, "accept": float(np.mean(res.accept_rate)), "theory_branch": tp.branch,
            "theory_m": tp.m, "theory_m_corrected": tp.m_corrected, "deviation": mean - tp.m_corrected,
            "wall_time": res.wall_time}


def run(args) -> int:
    model, alphas = _check(args)
    folder = outdir(args.outdir)
    from copyhead.numerics.finite_size import FiniteSizeTheory

    theory = FiniteSizeTheory(model)
    alphas = alphas or theory.default_alphas()
    rows = []
    t0 = time.perf_counter()
    for a in alphas:
        for init in ("prior", "copy"):
            r = _sample_one(model, theory, a, init, args)
            rows.append(r)
            if not args.json:
                mi = "-" if r["theory_m"] is None else f"{r['theory_m']:.4f}"
                print(f"alpha {a:7.3f} {init:>5s}: <m> {r['m_mean']:.4f} +- {r['m_err']:.4f} (ESS {r['ess']:.0f}, "
                      f"acc {r['accept']:.2f}) {r['theory_branch']} theory {mi} / e1/V {r['theory_m_corrected']:.4f}: "
                      f"dev {r['deviation']:+.4f}", flush=True)
    wall = time.perf_counter() - t0
    p = write_result(folder / f"langevin_{model.attention}_V{model.V}_seed{args.seed}.json",
                     {"model": model.to_dict(), "iters": args.iters, "chains": args.chains, "method": args.method,
                      "seed": args.seed, "rows": rows}, {"seed": args.seed}, wall)
    if args.json:
        print(json.dumps(rows, default=float))
    else:
        print(f"wrote {p}")
    return 0
