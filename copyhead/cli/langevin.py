"""``copyhead langevin``: temperature-1 dynamics on all weights (Q, K, W) vs the posterior theory.

Noisy gradient dynamics at temperature 1 on all weights (no marginalisation; Metropolis-adjusted
by default so that it samples ``exp(-U)`` exactly), whose ``<m>`` is compared with the
*posterior* branch. Files: JSON summary, CSV table, the draws as ArviZ NetCDF, and ``<m>`` on the
theory curves.
"""
from __future__ import annotations

import json
import time

import numpy as np

from .common import (Outputs, ProgressBar, add_model_args, add_run_args, at_least, floats, model_from_args, say,
                     set_threads, silent, write_result)

NAME = "langevin"
HELP = "temperature-1 dynamics on all weights (Q, K, W) vs the posterior theory"
INITS = ("prior", "copy")


def add_arguments(p):
    add_run_args(p, seed='seed of data and chains', json='print the rows as JSON', command=NAME)
    add_model_args(p, attention_default="softmax", objective=False)
    p.add_argument("--V", type=int, default=16, help="vocabulary size")
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the transition)")
    p.add_argument("--iters", type=int, default=2000, help="iterations after warm-up (warm-up: iters/4)")
    p.add_argument("--chains", type=int, default=4, help="independent chains per alpha and init")
    p.add_argument("--method", choices=("hmc", "mala", "ula"), default="hmc", help="sampler")


def _check(args):
    """Validate every option before any computation; returns ``(model, alphas)``."""
    set_threads(args.threads)
    model = model_from_args(args, objective="posterior", V=args.V)
    alphas = floats("alphas", args.alphas, distinct=True) if args.alphas else None
    at_least("chains", args.chains, 1)
    at_least("iters", args.iters, 10)
    return model, alphas


def _sample_one(model, theory, a, init, args, progress):
    """One all-weights run at nominal ``alpha = a`` from ``init`` and its posterior theory point."""
    from copyhead.verification import diagnostics
    from copyhead.verification.langevin import sample_langevin
    from copyhead.theory.model import ParameterError

    res = sample_langevin(model.replace(alpha=a), n_iter=args.iters, seed=args.seed, method=args.method,
                          chains=args.chains, init=init, progress=progress)
    name = "abs_m" if model.attention == "linear" else "m"
    mean, err, ess = res.stat(name)
    try:
        rhat = diagnostics.split_rhat((np.abs(res.m) if name == "abs_m" else res.m).T)
    except ParameterError:
        rhat = float("nan")
    tp = theory.run_point(a, mean)
    return res, {"alpha": a, "alpha_effective": tp.alpha, "init": init, "method": args.method, "m_mean": mean,
                 "m_err": err, "ess": ess, "rhat": rhat, "accept": float(np.mean(res.accept_rate)),
                 "theory_branch": tp.branch, "theory_m": tp.m, "theory_m_corrected": tp.m_corrected,
                 "deviation": mean - tp.m_corrected, "wall_time": res.wall_time}


def _print_table(rows, wall):
    from copyhead.verification.outputs import alpha_cell, alpha_note, format_table

    cols = [("alpha", "alpha", ".3f")]
    if any(r["alpha_effective_flag"] for r in rows):
        cols.append(("alpha_eff", alpha_cell, ""))
    cols += [("init", "init", ""), ("<m>", "m_mean", ".4f"), ("+-", "m_err", ".4f"), ("ESS", "ess", ".0f"),
             ("R-hat", "rhat", ".3f"), ("acc", "accept", ".2f"), ("branch", "theory_branch", ""),
             ("m_inf", "theory_m", ".4f"), ("m_1/V", "theory_m_corrected", ".4f"), ("dev", "deviation", "+.4f")]
    print(format_table(rows, cols))
    note = alpha_note(rows)
    if note:
        print(note)
    print(f"wall time {wall:.1f} s")


def _write(results, rows, theory, model, args, wall, out) -> None:
    from copyhead.io import provenance, write_csv
    from copyhead.verification.figures import plot_points_on_theory
    from copyhead.verification.outputs import (columns_of, flag_effective_alpha, langevin_inference_data,
                                               write_draws)

    flagged = flag_effective_alpha(rows)
    seeds = {"seed": args.seed, "data_seed": args.seed}
    out.add(write_result(out.path(".json"),
                         {"model": model.to_dict(), "iters": args.iters, "chains": args.chains, "method": args.method,
                          "seed": args.seed, "alpha_effective_flagged": flagged, "rows": rows}, seeds, wall))
    out.add(write_csv(rows, out.path(".csv"), columns_of("langevin", rows)))
    out.add(write_draws(langevin_inference_data(results, attrs={"command": "langevin"}), out.path(".nc"),
                        provenance=provenance(seeds=seeds, wall_s=wall)))
    pts = [{"alpha": r["alpha_effective"], "m": r["m_mean"], "err": r["m_err"], "start": r["init"]} for r in rows]
    ylabel = r"copy weight $\langle|m|\rangle$" if model.attention == "linear" else r"copy weight $\langle m\rangle$"
    out.add(plot_points_on_theory(theory, pts, out.figure(), label=f"all-weights {args.method.upper()} ($V={model.V}$)",
                                  heading=r"temperature-1 dynamics on all weights $(Q, K, W)$ vs the posterior theory",
                                  seed=args.seed, ylabel=ylabel, kind="init", chains=args.chains,
                                  warmup=args.iters // 4, iterations=args.iters))


def run(args) -> int:
    model, alphas = _check(args)
    out = Outputs(args, stem=f"langevin_{model.attention}_V{model.V}_seed{args.seed}")
    from copyhead.numerics.finite_size import FiniteSizeTheory

    theory = FiniteSizeTheory(model)
    alphas = alphas or theory.default_alphas()
    runs = [(a, init) for a in alphas for init in INITS]
    bar = ProgressBar(f"{args.method} {model.attention} V={model.V} ({len(alphas)} alphas x 2 inits x "
                      f"{args.chains} chains)", quiet=silent(args))
    rows, results = [], {}
    t0 = time.perf_counter()
    for i, (a, init) in enumerate(runs):
        results[(a, init)], r = _sample_one(model, theory, a, init, args, bar.part(i, len(runs), f"alpha={a:g} {init}"))
        rows.append(r)
    wall = time.perf_counter() - t0
    bar.close()
    _write(results, rows, theory, model, args, wall, out)
    if args.json:
        print(json.dumps(rows, default=float))
        return 0
    if not silent(args):
        _print_table(rows, wall)
    say(args, out.line())
    return 0
