"""``copyhead icl-regression``: multi-head attention trained on in-context linear regression
(seed 004, design note ``ICL_REGRESSION.md``), its KQ / OV patterns, its risk against the
reference predictors, and (``--posterior``) the Bayesian posterior over KQ with the OV rows
integrated out.

The work is :func:`compute` (``config -> dict``: plain option values in, a JSON-able result out,
no files written), so that a sweep can call it over grids of options; :func:`run` validates,
checks the output folder, calls it with progress bars and writes JSON, CSV and figures.
"""
from __future__ import annotations

import argparse
import math
import time

from .common import ProgressBar, add_run_args, at_least, floats, outdir, set_threads, silent

NAME = "icl-regression"
HELP = "multi-head attention on in-context linear regression: KQ/OV patterns, risk vs baselines, KQ posterior"

DEFAULTS = {
    "d": 5, "L": 40, "heads": 2, "sigma2": 0.1, "attention": "softmax", "cov_eigs": None,
    "steps": 12000, "batch": 256, "lr": 1e-3, "seed": 0, "seeds": 4, "compare": True,
    "risk_prompts": 20000, "baseline_mc": 50000,
    "posterior": False, "prompts": [30, 100, 300, 1000], "chains": 4, "iters": 300, "warmup": 400,
    "leapfrog": 10, "kappa": None, "prior_kq": 1.0, "prior_ov": 3.0,
}
"""Options of :func:`compute` (the command-line defaults)."""

PATTERN_ISO, PATTERN_ZERO_SUM = 0.1, 0.1
"""A run shows the pattern from the first record after which the |omega mu|-weighted ``iso_dev``
(``offdiag`` with anisotropic covariates) stays <= 0.1 and ``zero_sum`` <= 0.1 (random matrices give
~1; trained patterns ~0.03)."""


def add_arguments(p):
    add_run_args(p, seed="first seed (seeds are seed, seed+1, ...)", json="print the result as JSON", command=NAME)
    p.add_argument("--d", type=int, default=DEFAULTS["d"], help="input dimension")
    p.add_argument("--L", type=int, default=DEFAULTS["L"], help="training context length")
    p.add_argument("--heads", type=int, default=DEFAULTS["heads"], help="attention heads H")
    p.add_argument("--sigma2", type=float, default=DEFAULTS["sigma2"], help="label-noise variance")
    p.add_argument("--attention", choices=("softmax", "linear"), default="softmax", help="attention nonlinearity")
    p.add_argument("--cov-eigs", default=None,
                   help="comma-separated d eigenvalues of a diagonal covariate covariance (default: identity)")
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"], help="Adam steps")
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"], help="fresh prompts per step")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="Adam learning rate")
    p.add_argument("--seeds", type=int, default=DEFAULTS["seeds"],
                   help="number of seeds trained (at once); the best non-collapsed one is reported")
    p.add_argument("--compare", action=argparse.BooleanOptionalAction, default=True,
                   help="also train the other attention (softmax vs linear length generalisation)")
    p.add_argument("--risk-prompts", type=int, default=DEFAULTS["risk_prompts"],
                   help="Monte Carlo prompts per L for the trained model's risk")
    p.add_argument("--baseline-mc", type=int, default=DEFAULTS["baseline_mc"],
                   help="Monte Carlo samples per L for the single-head baseline (ridge uses 4x)")
    p.add_argument("--posterior", action="store_true", help="sample the KQ posterior (OV integrated out) instead of training")
    p.add_argument("--prompts", default=",".join(map(str, DEFAULTS["prompts"])),
                   help="comma-separated numbers of training prompts P for --posterior")
    p.add_argument("--chains", type=int, default=DEFAULTS["chains"], help="HMC chains per P (half prior, half pattern starts)")
    p.add_argument("--iters", type=int, default=DEFAULTS["iters"], help="HMC iterations kept per chain")
    p.add_argument("--warmup", type=int, default=DEFAULTS["warmup"], help="HMC warm-up iterations")
    p.add_argument("--leapfrog", type=int, default=DEFAULTS["leapfrog"], help="leapfrog steps per HMC iteration")
    p.add_argument("--kappa", type=float, default=None, help="likelihood noise of the posterior (default: sigma2)")
    p.add_argument("--prior-kq", type=float, default=DEFAULTS["prior_kq"], help="prior std of the KQ entries")
    p.add_argument("--prior-ov", type=float, default=DEFAULTS["prior_ov"], help="prior std of the OV entries")


# --------------------------------------------------------------------------- configuration
def _ints(name, text):
    vals = floats(name, text)
    if any(v != int(v) for v in vals):
        from copyhead.theory.model import ParameterError

        raise ParameterError(name, text, "must be a comma-separated list of integers >= 1")
    return [int(v) for v in vals]


def normalise(config: dict):
    """Validated ``(ICLRegression, config)`` with every option filled in (ParameterError otherwise)."""
    from copyhead.theory.icl_regression import ICLRegression
    from copyhead.theory.model import ParameterError

    unknown = set(config) - set(DEFAULTS) - {"threads"}
    if unknown:
        raise ParameterError("config", sorted(unknown), f"unknown options (known: {', '.join(DEFAULTS)})")
    c = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None or k in ("cov_eigs", "kappa")}}
    if isinstance(c["cov_eigs"], str):
        c["cov_eigs"] = floats("cov_eigs", c["cov_eigs"])
    if isinstance(c["prompts"], str):
        c["prompts"] = _ints("prompts", c["prompts"])
    if any(isinstance(v, bool) or not float(v).is_integer() for v in c["prompts"]):
        raise ParameterError("prompts", c["prompts"], "must be integers >= 1")
    c["prompts"] = sorted({int(at_least("prompts", int(v), 1)) for v in c["prompts"]})
    p = ICLRegression(d=c["d"], L=c["L"], heads=c["heads"], sigma2=c["sigma2"], attention=c["attention"],
                      cov_eigs=c["cov_eigs"], kappa=c["kappa"], prior_kq=c["prior_kq"], prior_ov=c["prior_ov"])
    for name, minimum in (("steps", 1), ("batch", 1), ("seeds", 1), ("risk_prompts", 100), ("baseline_mc", 100),
                          ("chains", 1), ("iters", 4), ("warmup", 0), ("leapfrog", 1), ("seed", 0)):
        v = c[name]
        if isinstance(v, bool) or not isinstance(v, int):
            raise ParameterError(name, v, f"must be an integer >= {minimum}")
        at_least(name, v, minimum)
    if not (isinstance(c["lr"], (int, float)) and math.isfinite(c["lr"]) and c["lr"] > 0):
        raise ParameterError("lr", c["lr"], "must be a finite number > 0")
    c["cov_eigs"] = None if p.cov_eigs is None else list(p.cov_eigs)
    return p, c


def _silent(label):
    return None


# --------------------------------------------------------------------------- training mode
def _pattern_step(hist, k):
    """First recorded step from which on run ``k`` keeps ``iso_dev <= 0.1`` (``offdiag`` for anisotropic
    covariates, whose heads are diagonal but not homogeneous) and ``zero_sum <= 0.1`` (zero-sum only for
    softmax with H >= 2: linear attention has no bias term to cancel)."""
    import numpy as np

    mu = hist.mu[:, k, :]
    zs = np.abs(mu.sum(1)) / np.maximum(np.abs(mu).sum(1), 1e-300)
    no_bias = mu.shape[1] == 1 or hist.params.attention == "linear"
    dev = hist.iso_dev[:, k] if hist.params.isotropic else hist.offdiag[:, k]
    ok = (dev <= PATTERN_ISO) & ((zs <= PATTERN_ZERO_SUM) | no_bias)
    bad = np.nonzero(~ok)[0]
    last_bad = bad[-1] if bad.size else -1
    return int(hist.step[last_bad + 1]) if last_bad + 1 < len(hist.step) else None


def _train_one(p, c, Ls, progress):
    """Train ``c['seeds']`` seeds of ``p``; their patterns and risks on ``Ls``; the reported seed."""
    import numpy as np

    from copyhead.theory.icl_regression import debiased_step
    from copyhead.theory.icl_regression_patterns import pattern_summary
    from copyhead.verification.icl_regression import paired_model_risk, train

    seeds = [c["seed"] + i for i in range(c["seeds"])]
    bar = progress(f"Adam {p.attention} H={p.heads} ({len(seeds)} seeds)")
    hist = train(p, c["steps"], batch=c["batch"], lr=c["lr"], seeds=seeds, progress=bar)
    bar = progress(f"model risk {p.attention}")
    risks = []
    for i, L in enumerate(Ls):
        risks.append(paired_model_risk(p, hist.M, hist.w, L, n_prompts=c["risk_prompts"], seed=c["seed"]))
        if bar:
            bar(i + 1, len(Ls))
    iL = Ls.index(p.L)
    at_L = np.asarray(risks[iL]["risk"])
    collapsed = [bool(x) if x is not None else None for x in hist.collapsed]
    ok = [k for k in range(len(seeds)) if not collapsed[k]]
    best = min(ok or range(len(seeds)), key=lambda k: at_L[k])
    target = debiased_step(p)
    summ = pattern_summary(hist.M[best], hist.w[best], target, p.attention)
    heads = [{"kq": hist.M[best, h].tolist(), "ov": hist.w[best, h].tolist(), **summ["heads"][h]}
             for h in range(p.heads)]
    patterns = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in summ.items() if k != "heads"}
    per_seed = []
    for k in range(len(seeds)):
        s = pattern_summary(hist.M[k], hist.w[k], target, p.attention)
        per_seed.append({"seed": seeds[k], "collapsed": collapsed[k], "risk_train_L": float(at_L[k]),
                         "risk_minus_debiased": float(np.asarray(risks[iL]["minus_debiased"])[k]),
                         "iso_dev": s["iso_dev"], "gamma_iso_dev": s["gamma_iso_dev"], "zero_sum": s["zero_sum"],
                         "step_eff": s["step_eff"],
                         "omega": [h["omega"] for h in s["heads"]], "mu": [h["mu"] for h in s["heads"]],
                         "pattern_step": _pattern_step(hist, k)})
    col = lambda key: [float(np.asarray(r[key])[best]) for r in risks]  # noqa: E731
    return {
        "attention": p.attention, "heads": heads, "patterns": patterns, "best_seed": seeds[best],
        "collapsed": collapsed[best], "n_collapsed": sum(bool(x) for x in collapsed), "per_seed": per_seed,
        "risk": {"model": col("risk"), "model_se": col("se"), "model_minus_debiased": col("minus_debiased"),
                 "model_minus_debiased_se": col("minus_debiased_se")},
        "pattern_step": per_seed[best]["pattern_step"],
        "history": {"step": hist.step.tolist(), "omega": hist.omega.tolist(), "mu": hist.mu.tolist(),
                    "iso_dev": hist.iso_dev.tolist(), "offdiag": hist.offdiag.tolist(), "loss": hist.loss.tolist()},
        "train_wall_s": hist.wall_s,
    }


def compute_training(p, c, progress=_silent) -> dict:
    """Adam runs (``c['seeds']`` seeds), patterns, risk table; the other attention with ``compare``."""
    from copyhead.theory.icl_regression import baseline_risks, default_L_grid, debiased_step

    Ls = default_L_grid(p.L)
    main = _train_one(p, c, Ls, progress)
    other = None
    if c["compare"]:
        other = _train_one(p.replace(attention="linear" if p.attention == "softmax" else "softmax"), c, Ls, progress)
    base = baseline_risks(p, Ls, n_mc_ridge=4 * c["baseline_mc"], n_mc_single=c["baseline_mc"], seed=c["seed"],
                          progress=progress("baselines (ridge, single head)"))
    risk = {"L": Ls, **main.pop("risk"), **{k: v for k, v in base.items() if k != "L"}}
    if other is not None:
        for k, v in other["risk"].items():
            risk[k.replace("model", f"model_{other['attention']}", 1)] = v
    out = {"mode": "train", "params": p.to_dict(), "train_L": p.L, "steps": c["steps"], "batch": c["batch"],
           "lr": c["lr"], "seeds": [c["seed"] + i for i in range(c["seeds"])], **main, "risk": risk,
           "debiased_step": debiased_step(p).tolist()}
    if other is not None:
        other.pop("history")
        out["compare"] = other
    return out


# --------------------------------------------------------------------------- posterior mode
def compute_posterior(p, c, progress=_silent) -> dict:
    """HMC over KQ (OV integrated out) for every ``P`` in ``c['prompts']``; pattern metrics vs ``P``."""
    import numpy as np

    from copyhead.theory.icl_regression import debiased_step, risk_debiased_gd
    from copyhead.theory.icl_regression_patterns import head_metrics
    from copyhead.verification.diagnostics import summarize
    from copyhead.verification.icl_regression_posterior import METRICS, STARTS, prompts_for_posterior, sample_kq_posterior

    half = c["chains"] // 2
    starts = ["prior"] * (c["chains"] - half) + ["pattern"] * half
    rows = []
    for P in c["prompts"]:
        data = prompts_for_posterior(p, P, seed=c["seed"])
        run = sample_kq_posterior(p, data, starts=starts, n_iter=c["iters"], n_warmup=c["warmup"],
                                  n_leapfrog=c["leapfrog"], seed=c["seed"], risk_draws=5,
                                  progress=progress(f"HMC P={P}"))
        met = {}
        for k in METRICS:
            v = run.metrics[k]
            met[k] = {"per_chain": np.nanmean(v, 1).tolist()}
            for start in STARTS:  # chains of one start: within-mode summaries (R-hat across its chains)
                idx = [i for i, s in enumerate(starts) if s == start]
                if idx and np.all(np.isfinite(v[idx])) and v.shape[1] >= 4:
                    met[k][start] = summarize(v[idx])
        rows.append({"P": P, "starts": starts, "metrics": met, "risk_per_chain": run.risk.mean(1).tolist(),
                     "logp_per_chain": run.logp.tolist(), "acceptance": run.acceptance.tolist(),
                     "divergences": run.divergences.tolist(), "step_size": run.step_size.tolist(),
                     "wall_s": run.wall_s,
                     "last_draw": [{"kq": run.M[-1, i].tolist(), "ov": run.w_mean[-1, i].tolist()}
                                   for i in range(len(starts))]})
    rng = np.random.default_rng(c["seed"])
    prior_iso = [head_metrics(np.pad(rng.standard_normal((p.D, p.d)), ((0, 0), (0, 1))), np.ones(p.D))["iso_dev"]
                 for _ in range(2000)]
    return {"mode": "posterior", "params": p.to_dict(), "train_L": p.L, "prompts": c["prompts"],
            "seeds": [c["seed"]], "hmc": {"chains": c["chains"], "iters": c["iters"], "warmup": c["warmup"],
                                          "leapfrog": c["leapfrog"]},
            "posterior": rows, "prior_iso_dev": float(np.mean(prior_iso)),
            "debiased_gd": risk_debiased_gd(p), "debiased_step": debiased_step(p).tolist()}


def validate(config: dict) -> None:
    """Check a config without computing (``copyhead sweep`` calls it for every task first)."""
    normalise(config)


def compute(config: dict, progress=None) -> dict:
    """Run ``copyhead icl-regression`` with the options ``config`` (names and defaults:
    :data:`DEFAULTS`, plus ``threads``: torch CPU threads, left as they are when absent); returns the
    JSON-able result (no files written). ``progress(label)`` may return a ``callable(done, total)`` for
    each long stage (``None``: silent)."""
    p, c = normalise(config)
    if config.get("threads"):
        set_threads(config["threads"])
    progress = progress or _silent
    t0 = time.perf_counter()
    out = (compute_posterior if c["posterior"] else compute_training)(p, c, progress)
    out["config"] = {k: c[k] for k in DEFAULTS}
    out["wall_s"] = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- output
def _risk_rows(res):
    r = res["risk"]
    return [{k: r[k][i] for k in r} for i in range(len(r["L"]))]


def _print_summary(res):
    p = res["params"]
    head = f"icl-regression: d={p['d']} L={p['L']} H={p['heads']} sigma2={p['sigma2']} {p['attention']}"
    print(head)
    if res["mode"] == "posterior":
        cols = ("iso_dev", "gamma_iso_dev", "zero_sum", "y_row", "ov_x", "collapsed", "step_eff", "omega_abs")
        print(f"  {'P':>6s} {'start':>7s} " + " ".join(f"{k:>13s}" for k in cols) + f" {'risk':>7s} {'acc':>5s}")
        for row in res["posterior"]:
            for start in ("prior", "pattern"):
                idx = [i for i, s in enumerate(row["starts"]) if s == start]
                if not idx:
                    continue

                def avg(v):
                    return sum(v[i] for i in idx) / len(idx)

                print(f"  {row['P']:6d} {start:>7s} "
                      + " ".join(f"{avg(row['metrics'][k]['per_chain']):13.3f}" for k in cols)
                      + f" {avg(row['risk_per_chain']):7.4f} {avg(row['acceptance']):5.2f}")
        print(f"  (means over the chains of each start; prior iso_dev {res['prior_iso_dev']:.3f}; debiased GD risk "
              f"{res['debiased_gd']:.4f}, step {res['debiased_step'][0][0]:.4f}); wall {res['wall_s']:.0f} s")
        return
    print(f"  seeds {res['seeds']}: collapsed {res['n_collapsed']}/{len(res['seeds'])}; reported seed "
          f"{res['best_seed']} (collapsed={res['collapsed']}, pattern from step {res['pattern_step']})")
    for h, hd in enumerate(res["heads"]):
        print(f"  head {h}: omega {hd['omega']:+.4f}  mu {hd['mu']:+.4f}  iso_dev {hd['iso_dev']:.3f}  "
              f"offdiag {hd['offdiag']:.3f}  y_row {hd['y_row']:.3f}  ov_x {hd['ov_x']:.3f}")
    pt = res["patterns"]
    opt = sum(res["debiased_step"][i][i] for i in range(len(res["debiased_step"]))) / len(res["debiased_step"])
    print(f"  zero_sum {pt['zero_sum']:.4f}  step_eff {pt['step_eff']:.4f} (debiased optimum {opt:.4f})  "
          f"gamma_iso_dev {pt['gamma_iso_dev']:.3f}  alignment of Gamma_eff with the optimal preconditioner "
          f"{pt['align_target']:.4f}, with I {pt['align_identity']:.4f}")
    r = res["risk"]
    i = r["L"].index(res["train_L"])
    print(f"  risk at L={res['train_L']}: model {r['model'][i]:.4f}+-{r['model_se'][i]:.4f} "
          f"(model - debiased {r['model_minus_debiased'][i]:+.4f}+-{r['model_minus_debiased_se'][i]:.4f}), "
          f"debiased_gd {r['debiased_gd'][i]:.4f}, gd_opt {r['gd_opt'][i]:.4f}, gd {r['gd'][i]:.4f}, "
          f"single_head {r['single_head'][i]:.4f}, ridge {r['ridge'][i]:.4f}")
    if "compare" in res:
        o = res["compare"]
        key = f"model_{o['attention']}"
        print(f"  {o['attention']}: risk at L={res['train_L']} {r[key][i]:.4f} (minus debiased "
              f"{r[key + '_minus_debiased'][i]:+.4f}+-{r[key + '_minus_debiased_se'][i]:.4f}); iso_dev "
              f"{o['patterns']['iso_dev']:.3f}, gamma_iso_dev {o['patterns']['gamma_iso_dev']:.3f}, step_eff*L "
              f"{o['patterns']['step_eff'] * res['train_L']:.4f}; risk at L=100: {r[key][-1]:.4f} vs softmax "
              f"{r['model'][-1]:.4f}")
    print(f"  wall {res['wall_s']:.0f} s")


def run(args) -> int:
    config = {k: getattr(args, k) for k in DEFAULTS if hasattr(args, k)}
    config["prompts"] = args.prompts
    p, c = normalise(config)  # validate everything before any work
    set_threads(args.threads)
    folder = outdir(args.outdir)
    from copyhead.io import provenance, to_json_text, write_csv, write_json
    from copyhead.verification import icl_regression_plots as plots

    res = compute(c, progress=lambda label: ProgressBar(label, quiet=silent(args)))
    stem = f"icl_{'posterior_' if c['posterior'] else ''}{p.attention}_d{p.d}_L{p.L}_H{p.heads}"
    fig = lambda name: folder / f"{stem}_{name}.{args.format}"  # noqa: E731
    prov = provenance(seeds=res["seeds"], wall_s=res["wall_s"])
    paths = [write_json(res, folder / f"{stem}.json", provenance=prov)]
    if c["posterior"]:
        paths.append(plots.plot_posterior(res, fig("patterns_vs_P")))
    else:
        paths.append(write_csv(_risk_rows(res), folder / f"{stem}_risk.csv"))
        paths.append(plots.plot_heads(res, fig("heads")))
        paths.append(plots.plot_emergence(res, fig("emergence")))
        paths.append(plots.plot_risk(res, fig("risk")))
        if p.cov_eigs is not None:
            paths.append(plots.plot_preconditioner(res, fig("preconditioner")))
    if args.json:
        print(to_json_text({**res, "provenance": prov}))
        return 0
    if not silent(args):
        _print_summary(res)
        print("wrote " + ", ".join(str(x) for x in paths))
    return 0
