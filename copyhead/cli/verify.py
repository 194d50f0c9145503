"""``copyhead verify``: HMC over (Q, K) with W integrated out, two starts per alpha, vs the theory."""
from __future__ import annotations

import json
import time

from .common import (Outputs, ProgressBar, add_model_args, add_run_args, at_least, device, floats, given,
                     model_from_args, resume_hint, set_threads, silent)

NAME = "verify"
HELP = "HMC over (Q, K) with W integrated out, two starts per alpha, vs the theory"

# sampling options: None on the command line = not given (the default applies; --load rejects them)
SAMPLING = {"alphas": None, "iters": 3000, "warmup": None, "leapfrog": 5, "copy_start": "theory",
            "checkpoint": None, "checkpoint_every": 500, "device": "cpu", "seed": 0, "V": 16}
MODEL_OPTIONS = ("attention", "prior", "T", "nu", "sigma2", "kappa")


def add_arguments(p):
    add_run_args(p, seed=None, json='print the rows as a JSON list', command=NAME)
    p.add_argument("--seed", type=int, default=None, help="master seed of data and chains (default: 0)")
    add_model_args(p, attention_default="softmax", objective=False, explicit=True)
    p.add_argument("--V", type=int, default=None,
                   help="vocabulary size (N = round(nu V^2), P = round(alpha kappa V^2/T)) (default: 16)")
    p.add_argument("--alphas", default=None,
                   help="comma-separated alphas (default: around the theory's transition; 20..30 for the default softmax)")
    p.add_argument("--iters", type=int, default=None, help="post-warm-up HMC iterations (default: 3000)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up iterations (default: iters/2, >= 100)")
    p.add_argument("--leapfrog", type=int, default=None,
                   help="leapfrog steps per iteration (5: eps*L ~ pi/2 avoids the Q,K -> -Q,-K resonance) (default: 5)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    p.add_argument("--copy-start", choices=("theory", "fixed"), default=None,
                   help="copy-start scores at the theory's copy branch, or at s0 = log V + 3 (fixed) (default: theory)")
    p.add_argument("--checkpoint", default=None, metavar="PREFIX",
                   help="save the sampler state to PREFIX.ckpt.pt every --checkpoint-every iterations and resume "
                        "from it if it exists (bit-identical to an uninterrupted run)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="iterations between checkpoints (default: 500)")
    p.add_argument("--load", default=None, metavar="PREFIX",
                   help="re-analyse a saved sweep (PREFIX or PREFIX.json, with PREFIX.npz) instead of sampling; "
                        "sampling and model options that differ from the saved sweep are rejected")


def _sampling_options(args) -> dict:
    """The sampling options with their defaults filled in, validated."""
    o = {k: (getattr(args, k) if getattr(args, k) is not None else v) for k, v in SAMPLING.items()}
    at_least("V", o["V"], 2)
    at_least("iters", o["iters"], 10)
    at_least("leapfrog", o["leapfrog"], 1)
    at_least("checkpoint_every", o["checkpoint_every"], 1)
    o["alphas"] = floats("alphas", o["alphas"], distinct=True) if o["alphas"] is not None else None
    o["warmup"] = o["warmup"] if o["warmup"] is not None else max(100, o["iters"] // 2)
    at_least("warmup", o["warmup"], 0)
    o["device"] = device(o["device"])
    return o


def _check_load_conflicts(args, rows, o: dict) -> None:
    """``--load``: every sampling or model option given must equal the saved sweep's value."""
    from copyhead.theory.model import ParameterError

    p = rows[0]["params"]
    saved = {"alphas": sorted({r["alpha"] for r in rows}), "iters": p.get("iters"), "warmup": p.get("warmup"),
             "leapfrog": p.get("n_leapfrog"), "device": p.get("device"), "seed": p.get("seed"), "V": p.get("V"),
             **{k: p["model"].get(k) for k in MODEL_OPTIONS}}
    for name, value in given(args, list(SAMPLING) + list(MODEL_OPTIONS)).items():
        mine = o.get(name, value)
        if name == "alphas":
            mine = sorted(mine)
        if name not in saved:
            raise ParameterError(name.replace("_", "-"), value, "has no meaning with --load (nothing is sampled)")
        if mine != saved[name]:
            raise ParameterError(name.replace("_", "-"), value,
                                 f"conflicts with --load {args.load} (the saved sweep has {saved[name]!r})")


def _load(args, o: dict):
    from copyhead.theory.model import Model
    from copyhead.verification.sweep import load_sweep

    rows = load_sweep(args.load)
    _check_load_conflicts(args, rows, o)
    return Model.from_dict(rows[0]["params"]["model"]), rows


def _sample(model, o: dict, args, theory):
    from copyhead.verification.sweep import run_sweep

    alphas = o["alphas"] or theory.default_alphas()
    bar = ProgressBar(f"HMC {model.attention} V={model.V} ({len(alphas)} alphas x 2 starts)", quiet=silent(args))
    args.resume_hint = resume_hint([f"{o['checkpoint']}.ckpt.pt"] if o["checkpoint"] else [], o["checkpoint_every"])
    s0 = theory.copy_start_scales(alphas) if o["copy_start"] == "theory" else None
    return run_sweep(model, alphas, iters=o["iters"], warmup=o["warmup"], seed=o["seed"], device=o["device"],
                     n_leapfrog=o["leapfrog"], progress=bar, checkpoint=o["checkpoint"] or None,
                     checkpoint_every=o["checkpoint_every"], s0=s0)


def _window_text(theory) -> str:
    t, win = theory.transition, theory.window
    fmt = lambda a, b: f"[{a:.3f}, {b:.3f}]" if a is not None and b is not None else "none"  # noqa: E731
    text = f"predicted spinodal window: V=inf {fmt(t.alpha_spinodal_low, t.alpha_spinodal_high)}"
    if t.alpha_spinodal_low is None:
        text += f" ({t.kind})"
    return text + f"; with e1/V at V={theory.V} " + (fmt(*win) if win else "none")


def _print_summary(rows, theory, wall, out) -> None:
    from copyhead.verification.compare import format_verify_table, linear_lag
    from copyhead.verification.sweep import compare_starts

    print(format_verify_table(rows))
    pairs = [c["alpha"] for c in compare_starts(rows) if c["disagree"]]
    print(f"start-dependent alphas (|dm| > 4 sigma or R-hat between starts > 1.1): {pairs or 'none'}")
    if theory.model.attention == "linear":
        lag = linear_lag(rows, theory)
        if lag is not None:
            print(f"onset lag at <|m|> = {lag['m_star']}: MC reaches it at alpha = {lag['alpha_mc']:.3f}, theory at "
                  f"{lag['alpha_theory_inf']:.3f} (V = inf) / {lag['alpha_theory_V']:.3f} (e1/V): lag "
                  f"{lag['lag_inf']:+.3f} / {lag['lag_V']:+.3f}")
    else:
        print(_window_text(theory))
        win = theory.window
        if win and win[1] is not None:
            outside = [a for a in pairs if not (win[0] <= a <= win[1])]
            print(f"start-dependent alphas outside the finite-V window: {outside or 'none'}")
    print(f"wall time {wall:.1f} s; " + out.line())


JSON_KEYS = ("alpha", "alpha_effective", "start", "m_mean", "m_err", "r_mean", "r_err", "acceptance", "rhat",
             "theory_branch", "theory_m", "theory_m_corrected", "deviation", "eps_mean", "eps_theory",
             "alpha_effective_flag")


def _write(rows, theory, model, seed, wall, args, out) -> None:
    """JSON (the sweep: parameters, rows, start comparison, provenance), NPZ traces, CSV table,
    NetCDF draws and the figure."""
    from copyhead.io import provenance, write_csv
    from copyhead.verification.compare import plot_verify
    from copyhead.verification.outputs import columns_of, flag_effective_alpha, sweep_inference_data, write_draws
    from copyhead.verification.sweep import save_sweep

    flagged = flag_effective_alpha(rows)
    out.stem = f"verify_{model.attention}_V{model.V}_seed{seed}"
    prov = provenance(seeds={"seed": seed, "data_seeds": rows[0]["params"]["data_seeds"],
                             "torch_seed": rows[0]["params"]["torch_seed"]}, wall_s=wall, loaded_from=args.load)
    out.add(*save_sweep(rows, str(out.path("")), provenance=prov,
                        extra={"alpha_effective_flagged": flagged, "wall_time_s": wall}))
    out.add(write_csv(rows, out.path(".csv"), columns_of("verify", rows)))
    out.add(write_draws(sweep_inference_data(rows, attrs={"command": "verify"}), out.path(".nc"), provenance=prov))
    out.add(plot_verify(rows, theory, out.figure(), seed=seed))


def run(args) -> int:
    from copyhead.numerics.finite_size import FiniteSizeTheory
    from copyhead.verification.compare import annotate_with_theory

    set_threads(args.threads)
    o = _sampling_options(args)
    model = model_from_args(args, objective="posterior", V=o["V"])
    out = Outputs(args)
    t0 = time.perf_counter()
    if args.load:
        model, rows = _load(args, o)
        seed = rows[0]["params"]["seed"]
        theory = FiniteSizeTheory(model)
    else:
        theory, seed = FiniteSizeTheory(model), o["seed"]
        rows = _sample(model, o, args, theory)
    wall = time.perf_counter() - t0
    annotate_with_theory(rows, theory)
    _write(rows, theory, model, seed, wall, args, out)
    if args.json:
        print(json.dumps([{k: r.get(k) for k in JSON_KEYS} for r in rows]))
    elif not silent(args):
        _print_summary(rows, theory, wall, out)
    return 0
