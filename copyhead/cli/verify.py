"""``copyhead verify``: HMC over (Q, K) with W integrated out, two starts per alpha, vs the theory."""
from __future__ import annotations

import json
import time

import numpy as np

from .common import (ProgressBar, add_model_args, add_run_args, at_least, device, floats, model_from_args, outdir,
                     set_threads)

NAME = "verify"
HELP = "HMC over (Q, K) with W integrated out, two starts per alpha, vs the theory"


def add_arguments(p):
    add_run_args(p, seed='master seed (data and chains)', json='print the rows as a JSON list')
    add_model_args(p, attention_default="softmax", objective=False)
    p.add_argument("--V", type=int, default=16, help="vocabulary size (N = round(nu V^2), P = round(alpha kappa V^2/T))")
    p.add_argument("--alphas", default=None,
                   help="comma-separated alphas (default: around the theory's transition; 20..30 for the default softmax)")
    p.add_argument("--iters", type=int, default=3000, help="post-warm-up HMC iterations")
    p.add_argument("--warmup", type=int, default=None, help="warm-up iterations (default iters/2, >= 100)")
    p.add_argument("--leapfrog", type=int, default=5,
                   help="leapfrog steps per iteration (5: eps*L ~ pi/2 avoids the Q,K -> -Q,-K resonance)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--copy-start", choices=("theory", "fixed"), default="theory",
                   help="copy-start scores at the theory's copy branch, or at s0 = log V + 3 (fixed)")
    p.add_argument("--checkpoint", default=None, metavar="PREFIX",
                   help="save the sampler state to PREFIX.ckpt.pt every --checkpoint-every iterations and resume "
                        "from it if it exists (bit-identical to an uninterrupted run)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="iterations between checkpoints")
    p.add_argument("--load", default=None, metavar="PREFIX",
                   help="re-analyse a saved sweep (PREFIX.json + PREFIX.npz) instead of sampling")


def run(args) -> int:
    from copyhead.numerics.finite_size import (_inf_transition, copy_start_scales, default_alphas,
                                               predicted_window, realised_model)
    from copyhead.verification.compare import (annotate_with_theory, format_verify_table, linear_lag,
                                               plot_verify)
    from copyhead.verification.sweep import compare_starts, load_sweep, run_sweep, save_sweep

    set_threads(args.threads)
    model = model_from_args(args, objective="posterior", V=args.V)
    at_least("iters", args.iters, 10)
    alphas = floats("alphas", args.alphas) if args.alphas else None
    dev = device(args.device)
    folder = outdir(args.outdir)
    warmup = args.warmup if args.warmup is not None else max(100, args.iters // 2)
    t0 = time.perf_counter()
    if args.load:
        rows = load_sweep(args.load)
        model = model.from_dict(rows[0]["params"]["model"])
        alphas = sorted({r["alpha"] for r in rows})
    else:
        alphas = alphas or default_alphas(model)
        bar = ProgressBar(f"HMC {model.attention} V={model.V} ({len(alphas)} alphas x 2 starts)", quiet=args.json)
        if args.checkpoint:
            args.resume_hint = f"rerun the same command to resume from {args.checkpoint}.ckpt.pt"
        s0 = copy_start_scales(model, alphas) if args.copy_start == "theory" else None
        rows = run_sweep(model, alphas, iters=args.iters, warmup=warmup, seed=args.seed, device=dev,
                         n_leapfrog=args.leapfrog, progress=bar, checkpoint=args.checkpoint or None,
                         checkpoint_every=args.checkpoint_every, s0=s0)
    wall = time.perf_counter() - t0
    annotate_with_theory(rows, model)
    prefix = str(folder / f"verify_{model.attention}_V{model.V}_seed{args.seed}")
    jpath, npath = save_sweep(rows, prefix)
    win = predicted_window(model, alphas)  # a dense scan in alpha: computed once for figure and summary
    png = plot_verify(rows, model, prefix + ".png", window=win)
    if args.json:
        keys = ("alpha", "alpha_effective", "start", "m_mean", "m_err", "r_mean", "r_err", "acceptance", "rhat",
                "theory_branch", "theory_m", "theory_m_corrected", "deviation", "eps_mean", "eps_theory")
        print(json.dumps([{k: r.get(k) for k in keys} for r in rows]))
        return 0
    print(format_verify_table(rows))
    cmp = compare_starts(rows)
    pairs = [c["alpha"] for c in cmp if c["disagree"]]
    print(f"start-dependent alphas (|dm| > 4 sigma or R-hat between starts > 1.1): {pairs or 'none'}")
    if model.attention == "linear":
        lag = linear_lag(rows, model)
        if lag is not None:
            print(f"onset lag at <|m|> = {lag['m_star']}: MC reaches it at alpha = {lag['alpha_mc']:.3f}, theory at "
                  f"{lag['alpha_theory_inf']:.3f} (V = inf) / {lag['alpha_theory_V']:.3f} (e1/V): lag "
                  f"{lag['lag_inf']:+.3f} / {lag['lag_V']:+.3f}")
    if model.attention == "softmax":
        t = _inf_transition(realised_model(model, float(np.median(alphas))))
        print(f"predicted spinodal window: V=inf [{t.alpha_spinodal_low:.3f}, {t.alpha_spinodal_high:.3f}]"
              + (f"; with e1/V at V={model.V} [{win[0]:.3f}, {win[1]:.3f}]" if win and win[1] else ""))
        if win and win[1]:
            outside = [a for a in pairs if not (win[0] <= a <= win[1])]
            print(f"start-dependent alphas outside the finite-V window: {outside or 'none'}")
    print(f"wall time {wall:.1f} s; wrote {jpath}, {npath}, {png}")
    return 0
