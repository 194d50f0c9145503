"""``copyhead switching``: long chains at small V: bimodal m, copy time fraction, alpha_c(V)."""
from __future__ import annotations

import json
import time

from .common import ProgressBar, add_model_args, add_run_args, at_least, device, floats, model_from_args, outdir, set_threads

NAME = "switching"
HELP = "long chains at small V: bimodal m, copy time fraction, alpha_c(V)"


def add_arguments(p):
    add_run_args(p, seed='master seed', json='print the summary as JSON')
    add_model_args(p, attentions=("softmax",), attention_default="softmax", objective=False)
    p.add_argument("--V", type=int, default=8, help="vocabulary size")
    p.add_argument("--alphas", default="25,26,27,28,29", help="comma-separated alphas")
    p.add_argument("--iters", type=int, default=20000, help="post-warm-up HMC iterations per chain")
    p.add_argument("--warmup", type=int, default=1000, help="warm-up iterations")
    p.add_argument("--chains", type=int, default=4, help="chains per alpha (half from each start)")
    p.add_argument("--leapfrog", type=int, default=5, help="leapfrog steps per iteration")
    p.add_argument("--device", default="cpu", help="cpu or cuda")


def run(args) -> int:
    from copyhead.io import provenance, write_json
    from copyhead.verification.sweep import save_sweep
    from copyhead.verification.switching import plot_switching, switching_study

    set_threads(args.threads)
    model = model_from_args(args, objective="posterior", V=args.V)
    alphas = floats("alphas", args.alphas)
    at_least("chains", args.chains, 2)
    at_least("iters", args.iters, 10)
    at_least("warmup", args.warmup, 0)
    at_least("leapfrog", args.leapfrog, 1)
    dev = device(args.device)
    folder = outdir(args.outdir)
    bar = ProgressBar(f"switching V={model.V}", quiet=args.json)
    t0 = time.perf_counter()
    res, rows = switching_study(model, alphas, args.iters, args.warmup, args.seed, chains=args.chains,
                                device=dev, n_leapfrog=args.leapfrog, progress=bar)
    wall = time.perf_counter() - t0
    seeds = {"seed": args.seed, "sweep_seeds": [args.seed + 1000 * rep for rep in range(max(1, args.chains // 2))]}
    prefix = str(folder / f"switching_V{model.V}_seed{args.seed}")
    save_sweep(rows, prefix, provenance=provenance(seeds=seeds, wall_s=wall))
    png = plot_switching(res, prefix + ".png")
    summary = {"V": res.V, "alphas": res.alphas, "copy_fraction": res.fractions, "copy_fraction_err": res.fraction_err,
               "switches": res.n_switches, "m_threshold": res.m_threshold, "alpha_c_mc": res.alpha_c,
               "alpha_c_mc_err": res.alpha_c_err, "alpha_c_theory_corrected": res.alpha_c_theory_V,
               "alpha_c_theory_one_loop": res.alpha_c_one_loop, "alpha_c_theory_inf": res.alpha_c_theory_inf}
    write_json(summary, prefix + "_summary.json", provenance=provenance(seeds=seeds, wall_s=wall))
    if args.json:
        print(json.dumps(summary, default=float))
        return 0
    print(f"{'alpha':>7s} {'f_copy':>8s} {'+-':>6s} {'switches':>9s}")
    for a, f, e, s in zip(res.alphas, res.fractions, res.fraction_err, res.n_switches):
        print(f"{a:7.3f} {f:8.3f} {e:6.3f} {s:9d}")
    ac = (f"{res.alpha_c:.3f}" + (f" +- {res.alpha_c_err:.3f}" if res.alpha_c_err else "")) if res.alpha_c else "not bracketed"
    rnd = lambda v: v if v is None else round(v, 3)  # noqa: E731
    print(f"alpha_c(V={res.V}) from time fractions: {ac}; theory F - e1/V: {rnd(res.alpha_c_theory_V)}; "
          f"one loop: {rnd(res.alpha_c_one_loop)}; V = inf: {rnd(res.alpha_c_theory_inf)}")
    print(f"wrote {prefix}.json, {prefix}.npz, {prefix}_summary.json, {png}")
    return 0
