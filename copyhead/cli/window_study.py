"""``copyhead window-study``: HMC and Adam on the finite window copier against the V = inf theory."""
from __future__ import annotations

import math

from copyhead.theory.model import check_positive

from .common import (ProgressBar, add_model_args, add_run_args, add_window_args, at_least, floats,
                     model_from_args, outdir, say, set_threads, silent)

NAME = "window-study"
HELP = "window copier: HMC over all heads (readouts integrated) or Adam from a symmetric start, vs the theory"


def add_arguments(p):
    sub = p.add_subparsers(dest="what", required=True, metavar="{hmc,adam}")
    for what, help_ in (("hmc", "HMC, two starts per alpha on one data set: uniform (a prior draw) and ordered (the "
                               "theory's lowest-F non-uniform state: specialised, mixed, ...)"),
                        ("adam", "Adam on the full network (MAP) from a symmetric start")):
        q = sub.add_parser(what, help=help_, description=help_)
        add_model_args(q, objective=False)
        add_window_args(q)
        q.set_defaults(heads=2, parents=2)
        q.add_argument("--V", type=int, default=16, help="vocabulary size")
        q.add_argument("--alphas", default="20,25,28,35", help="comma-separated data amounts alpha")
        add_run_args(q, seed="seed of the data and the chains / initialisation", json=None, command=NAME)
        if what == "hmc":
            q.add_argument("--iters", type=int, default=2000, help="sampling iterations")
            q.add_argument("--warmup", type=int, default=1000, help="warm-up (adaptation) iterations")
            q.add_argument("--leapfrog", type=int, default=5, help="leapfrog steps per iteration")
        else:
            q.add_argument("--steps", type=int, default=3000, help="Adam steps (cosine decay to lr/100)")
            q.add_argument("--lr", type=float, default=0.03, help="initial learning rate")
            q.add_argument("--eps", type=float, default=1e-3, help="relative perturbation of the symmetric start")
            q.add_argument("--init-scale", type=float, default=1.0, help="scale of the initial Q, K (prior: 1)")


def run(args) -> int:
    from copyhead.theory.model import ParameterError

    model = model_from_args(args, objective="posterior")
    alphas = floats("alphas", args.alphas, distinct=True)
    if model.prior != "qk":
        raise ParameterError("prior", model.prior, "the window sampler implements the qk prior")
    for a in alphas:
        model.replace(alpha=a)
    if args.what == "hmc":
        at_least("iters", args.iters, 10)
        at_least("warmup", args.warmup, 0)
        at_least("leapfrog", args.leapfrog, 1)
    else:
        at_least("steps", args.steps, 10)
        for name in ("lr", "init_scale"):
            check_positive(name, getattr(args, name))
        if not (math.isfinite(args.eps) and args.eps >= 0):
            raise ParameterError("eps", args.eps, "must be a finite number >= 0")
    folder = outdir(args.outdir)
    set_threads(args.threads)
    from copyhead.io import provenance, write_json
    from copyhead.verification.window_study import format_adam, format_hmc, plot_traces, run_adam, run_hmc

    stem = (f"window_{args.what}_{model.attention}_H{model.heads}K{model.parents}_T{model.T}_nu{model.nu:g}"
            f"_sigma2{model.sigma2:g}_V{model.V}")
    if args.what == "hmc":
        out = run_hmc(model, alphas, args.iters, args.warmup, args.leapfrog, args.seed,
                      progress=ProgressBar("window HMC", quiet=silent(args)))
        say(args, format_hmc(out))
    else:
        out = run_adam(model, alphas, args.steps, args.lr, args.eps, args.init_scale, args.seed)
        say(args, format_adam(out))
    j = write_json(out, folder / f"{stem}.json", provenance=provenance(seeds=[args.seed], wall_s=out["wall_s"]))
    fig = plot_traces(out, folder / f"{stem}.{args.format}", args.what)
    say(args, f"wrote {j}, {fig}")
    return 0
