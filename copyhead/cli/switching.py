"""``copyhead switching``: long chains at small V: bimodal m, copy time fraction, alpha_c(V).

Files: the sweep (``<stem>.json`` with provenance, ``<stem>.npz`` traces), the summary
(``<stem>_summary.json``), a CSV table per alpha, the draws as ArviZ NetCDF and the figure.
"""
from __future__ import annotations

import json
import time

from .common import (Outputs, ProgressBar, add_model_args, add_run_args, at_least, device, floats, model_from_args,
                     resume_hint, say, set_threads, silent)

NAME = "switching"
HELP = "long chains at small V: bimodal m, copy time fraction, alpha_c(V)"


def add_arguments(p):
    add_run_args(p, seed='master seed', json='print the summary as JSON', command=NAME)
    add_model_args(p, attentions=("softmax",), attention_default="softmax", objective=False)
    p.add_argument("--V", type=int, default=8, help="vocabulary size")
    p.add_argument("--alphas", default="25,26,27,28,29", help="comma-separated alphas")
    p.add_argument("--iters", type=int, default=20000, help="post-warm-up HMC iterations per chain")
    p.add_argument("--warmup", type=int, default=1000, help="warm-up iterations")
    p.add_argument("--chains", type=int, default=4, help="chains per alpha (half from each start)")
    p.add_argument("--leapfrog", type=int, default=5, help="leapfrog steps per iteration")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--checkpoint", default=None, metavar="PREFIX",
                   help="save the sampler state of replica k to PREFIX_rep<k>.ckpt.pt every --checkpoint-every "
                        "iterations and resume from it if it exists")
    p.add_argument("--checkpoint-every", type=int, default=500, help="iterations between checkpoints")


def _summary(res, rows, flagged) -> dict:
    per_alpha = {r["alpha"]: r for r in rows}
    eff = [per_alpha[a]["alpha_effective"] for a in res.alphas]
    return {"V": res.V, "alphas": res.alphas, "alpha_effective": eff, "alpha_effective_flagged": flagged,
            "copy_fraction": res.fractions, "copy_fraction_err": res.fraction_err,
            "switches": res.n_switches, "m_threshold": res.m_threshold, "alpha_c_mc": res.alpha_c,
            "alpha_c_mc_err": res.alpha_c_err, "alpha_c_theory_corrected": res.alpha_c_theory_V,
            "alpha_c_theory_one_loop": res.alpha_c_one_loop, "alpha_c_theory_inf": res.alpha_c_theory_inf}


def _table_rows(res, rows) -> list:
    per_alpha = {r["alpha"]: r for r in rows}
    return [{"alpha": a, "alpha_effective": per_alpha[a]["alpha_effective"],
             "alpha_effective_shift": per_alpha[a]["alpha_effective_shift"],
             "alpha_effective_flag": per_alpha[a]["alpha_effective_flag"],
             "copy_fraction": f, "copy_fraction_err": e, "switches": s}
            for a, f, e, s in zip(res.alphas, res.fractions, res.fraction_err, res.n_switches)]


def _print(res, table) -> None:
    from copyhead.verification.outputs import alpha_cell, alpha_note, format_table

    cols = [("alpha", "alpha", ".3f")]
    if any(r["alpha_effective_flag"] for r in table):
        cols.append(("alpha_eff", alpha_cell, ""))
    cols += [("f_copy", "copy_fraction", ".3f"), ("+-", "copy_fraction_err", ".3f"), ("switches", "switches", "d")]
    print(format_table(table, cols))
    note = alpha_note(table)
    if note:
        print(note)
    ac = (f"{res.alpha_c:.3f}" + (f" +- {res.alpha_c_err:.3f}" if res.alpha_c_err else "")) if res.alpha_c else "not bracketed"
    rnd = lambda v: v if v is None else round(v, 3)  # noqa: E731
    print(f"alpha_c(V={res.V}) from time fractions: {ac}; theory F - e1/V: {rnd(res.alpha_c_theory_V)}; "
          f"one loop: {rnd(res.alpha_c_one_loop)}; V = inf: {rnd(res.alpha_c_theory_inf)}")


def _write(res, rows, model, args, seeds, wall, out) -> tuple:
    from copyhead.io import provenance, write_csv, write_json
    from copyhead.verification.outputs import COLUMNS, flag_effective_alpha, sweep_inference_data, write_draws
    from copyhead.verification.sweep import save_sweep
    from copyhead.verification.switching import plot_switching

    flagged = flag_effective_alpha(rows)
    prov = provenance(seeds=seeds, wall_s=wall)
    summary = _summary(res, rows, flagged)
    out.add(*save_sweep(rows, str(out.path("")), provenance=prov, extra={"alpha_effective_flagged": flagged}))
    out.add(write_json({**summary, "wall_time_s": wall}, out.path("_summary.json"), provenance=prov))
    table = _table_rows(res, rows)
    out.add(write_csv(table, out.path(".csv"), list(COLUMNS["switching"])))
    out.add(write_draws(sweep_inference_data(rows, attrs={"command": "switching"}), out.path(".nc"), provenance=prov))
    out.add(plot_switching(res, out.figure(), model=model, seed=args.seed, chains=args.chains,
                           warmup=args.warmup, iterations=args.iters))
    return summary, table


def run(args) -> int:
    from copyhead.verification.switching import checkpoint_files, replica_seeds, switching_study

    set_threads(args.threads)
    model = model_from_args(args, objective="posterior", V=args.V)
    alphas = floats("alphas", args.alphas, distinct=True)
    at_least("chains", args.chains, 2)
    at_least("iters", args.iters, 10)
    at_least("warmup", args.warmup, 0)
    at_least("leapfrog", args.leapfrog, 1)
    at_least("checkpoint_every", args.checkpoint_every, 1)
    dev = device(args.device)
    out = Outputs(args, stem=f"switching_V{model.V}_seed{args.seed}")
    bar = ProgressBar(f"switching V={model.V} ({len(alphas)} alphas x {args.chains} chains)", quiet=silent(args))
    args.resume_hint = resume_hint(checkpoint_files(args.checkpoint, args.chains), args.checkpoint_every)
    t0 = time.perf_counter()
    res, rows = switching_study(model, alphas, args.iters, args.warmup, args.seed, chains=args.chains,
                                device=dev, n_leapfrog=args.leapfrog, progress=bar, checkpoint=args.checkpoint,
                                checkpoint_every=args.checkpoint_every)
    wall = time.perf_counter() - t0
    seeds = {"seed": args.seed, "sweep_seeds": replica_seeds(args.seed, args.chains)}
    summary, table = _write(res, rows, model, args, seeds, wall, out)
    if args.json:
        print(json.dumps(summary, default=float))
        return 0
    if not silent(args):
        _print(res, table)
    say(args, out.line())
    return 0
