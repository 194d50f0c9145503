"""``copyhead landscape``: free energy along m of the finite network by umbrella sampling + MBAR.

The Monte Carlo is :func:`compute`, a pure function of plain options (a dict of numbers, lists
and strings; :data:`DEFAULTS` lists them) that returns a JSON-able dict, so that a sweep engine
can run it anywhere; :func:`run` is the command line around it (validation first, progress bar,
JSON with provenance, CSV of the profile, figure).

Outputs (``--outdir``, prefix ``landscape_V{V}_alpha{alpha}_seed{seed}``):

* ``.json``: ``log_odds`` (``ln Z_copy - ln Z_uniform``, basins split at the barrier top
  ``split``), ``log_odds_err`` (standard error over independent runs; over data sets when there
  are several), ``data_sd``, per data set ``datasets[]``, the profile, theory values, options,
  diagnostics and ``provenance``;
* ``.csv`` columns: ``m`` (bin centre), ``F_kT`` (``-ln p(m)`` of the normalised density of
  ``m``, in kT = natural-log units), ``F_err_kT`` (standard error over runs), ``F_per_V2``
  (``F_kT / V^2``, the units of ``F - e1/V``), ``F_saddle_kT`` (theory ``V^2 (F - e1/V)`` on the
  symmetric ansatz, normalised the same way), ``F_one_loop_kT`` (one-loop constrained Laplace);
* ``.png``: the profile beside the two theory landscapes, and the window histograms.
"""
from __future__ import annotations

import json
import math
import time

import numpy as np

from .common import ProgressBar, add_model_args, add_run_args, device, outdir, set_threads, silent

NAME = "landscape"
HELP = "free energy along m of the finite network (HMC umbrella sampling + MBAR), basin log-odds"

DEFAULTS = {
    "V": 8, "alpha": 27.0, "T": 8, "nu": 0.5, "sigma2": 0.1, "kappa": 1.0, "prior": "qk",
    "windows": None, "m_range": None, "spring": None, "spacing": 1.25,
    "replicas": 4, "iters": 2000, "warmup": 500, "leapfrog": 5, "data_seeds": [0], "seed": 0,
    "bins": 80, "split": None, "theory": True, "theory_points": 240,
    "direct_chains": 0, "direct_iters": 20000, "direct_warmup": 2000, "device": "cpu",
}
"""Options of :func:`compute` (``None``: chosen from the theory, see :func:`validate`)."""


def validate(options: dict):
    """Check every option before any computation; returns ``(options, model, plan)``.

    Raises :class:`copyhead.theory.model.ParameterError` naming the first bad option.
    """
    from copyhead.theory.model import Model, ParameterError
    from copyhead.verification.landscape import plan_windows

    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ParameterError("options", unknown, f"unknown option(s); known: {sorted(DEFAULTS)}")
    o = {**DEFAULTS, **options}

    def integer(name, lo):
        v = o[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ParameterError(name, v, f"must be an integer >= {lo}")
        o[name] = int(v)

    for name, lo in (("V", 2), ("replicas", 2), ("iters", 50), ("warmup", 0), ("leapfrog", 1), ("bins", 10),
                     ("theory_points", 20), ("direct_chains", 0), ("direct_iters", 100), ("direct_warmup", 0),
                     ("seed", 0)):
        integer(name, lo)
    if o["direct_chains"] == 1:
        raise ParameterError("direct_chains", 1, "must be 0 (off) or >= 2")
    seeds = o["data_seeds"]
    if not isinstance(seeds, (list, tuple)) or not seeds or any(
            isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds) \
            or len(set(seeds)) != len(seeds):
        raise ParameterError("data_seeds", seeds, "must be a non-empty list of distinct integers >= 0")
    o["data_seeds"] = [int(s) for s in seeds]
    for name in ("spring", "split", "windows"):
        v = o[name]
        if v is not None and (not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0):
            raise ParameterError(name, v, "must be a number > 0 (or omitted)")
    if o["windows"] is not None:
        integer("windows", 2)
    if not (isinstance(o["spacing"], (int, float)) and 0 < o["spacing"] <= 5):
        raise ParameterError("spacing", o["spacing"], "must lie in (0, 5]")
    if o["m_range"] is not None:
        r = o["m_range"]
        if not (isinstance(r, (list, tuple)) and len(r) == 2 and 0 < r[0] < r[1] < 1):
            raise ParameterError("m_range", r, "must be [lo, hi] with 0 < lo < hi < 1")
        o["m_range"] = [float(r[0]), float(r[1])]
    if o["device"] not in ("cpu", "cuda"):
        raise ParameterError("device", o["device"], "must be cpu or cuda")
    model = Model(attention="softmax", T=o["T"], nu=o["nu"], sigma2=o["sigma2"], kappa=o["kappa"], prior=o["prior"],
                  objective="posterior", V=o["V"], alpha=o["alpha"])
    plan = plan_windows(model, model.alpha_effective, o["V"], n_windows=o["windows"], m_range=o["m_range"],
                        spring=o["spring"], spacing=o["spacing"])
    lo, hi = plan.centres[0], plan.centres[-1]
    if o["split"] is not None and not lo < o["split"] < hi:
        raise ParameterError("split", o["split"], f"must lie between the outermost window centres "
                                                  f"({lo:.4g}, {hi:.4g}) so that both basins are sampled")
    if o["split"] is None and theory_barrier(model) is None:
        raise ParameterError("split", None, f"the theory landscape F - e1/V has one basin at V={o['V']}, "
                                            f"alpha={o['alpha']:g}: give the basin split m*")
    return o, model, plan


def theory_barrier(model):
    """``(m_dis, m_top, m_copy)`` of the saddle-point landscape ``F - e1/V`` on the ansatz (None: one basin)."""
    from copyhead.numerics.finite_size import grid_minima, realised_model
    from copyhead.theory.one_loop_softmax import _symmetric_F
    from copyhead.theory.order_parameters import softmax_symmetric_m

    rm = realised_model(model, model.alpha_effective)
    s = np.linspace(-3.0, 10.0, 13001)
    F = _symmetric_F(s, rm, rm.alpha, model.V)
    mins = grid_minima(F, s)
    if len(mins) < 2:
        return None
    between = (s >= mins[0][0]) & (s <= mins[-1][0])
    s_top = s[between][np.argmax(F[between])]
    return tuple(float(softmax_symmetric_m(x, model.T)) for x in (mins[0][0], s_top, mins[-1][0]))


def theory_curves(model, V: int, n: int, split: float | None) -> dict:
    """Saddle-point and one-loop landscapes (normalised, kT) on a grid covering both basins, and the
    one-loop log-odds (integral of the landscape, split at ``split``; and Laplace, eq. S1)."""
    from copyhead.numerics.finite_size import realised_model
    from copyhead.theory.model import ParameterError
    from copyhead.theory.one_loop_softmax import log_z_difference
    from copyhead.verification.landscape_theory import one_loop_profile, saddle_profile

    a = model.alpha_effective
    mg = np.linspace(0.06, 0.75, n)
    Fs = saddle_profile(model, a, V, mg)
    F1, pts = one_loop_profile(model, a, V, mg, details=True)
    out = {"m": mg, "F_saddle": Fs, "F_one_loop": F1, "one_loop_unstable_m": [p["m"] for p in pts if not p["stable"]],
           "lagrange_residual_max": max(p["lagrange_residual"] for p in pts)}

    def lo(F):
        w = np.where(np.isfinite(F), np.exp(-(F - np.nanmin(F))), 0.0)
        up, dn = mg > split, mg <= split
        return float(np.log(np.trapezoid(w[up], mg[up]) / np.trapezoid(w[dn], mg[dn])))

    if split is not None:
        out["log_odds_one_loop"] = lo(F1)
        out["log_odds_saddle"] = lo(Fs)
    rm = realised_model(model, a)
    try:
        out["log_odds_laplace"] = float(log_z_difference(rm, rm.alpha, V))
    except ParameterError:
        out["log_odds_laplace"] = None  # one basin only at this (V, alpha)
    return out


def compute(options: dict, progress=None) -> dict:
    """Umbrella sampling + MBAR at one ``(V, alpha)``: a JSON-able dict (see the module docstring).

    ``options``: see :data:`DEFAULTS`; ``progress``: optional ``(done, total, info)`` callback.
    """
    from copyhead.io import to_json_text
    from copyhead.verification.landscape import DATA_SEED_DERIVATION, direct_log_odds, run_direct, run_umbrella
    from copyhead.verification.landscape_analysis import analyse_umbrella

    t0 = time.perf_counter()
    o, model, plan = validate(options)
    V, a_eff = o["V"], model.alpha_effective
    tb = theory_barrier(model)
    run = run_umbrella(model, o["alpha"], plan, data_seeds=o["data_seeds"], replicas=o["replicas"], iters=o["iters"],
                       warmup=o["warmup"], seed=o["seed"], n_leapfrog=o["leapfrog"], device=o["device"],
                       progress=progress)
    t_mc = time.perf_counter() - t0
    ana = analyse_umbrella(run, plan, n_bins=o["bins"], basins=None if tb is None else (tb[0], tb[2]),
                           split=o["split"], fallback_split=None if tb is None else tb[1])
    t_ana = time.perf_counter() - t0 - t_mc
    M = np.asarray(run["m"])
    edges = np.linspace(M.min(), M.max(), 121)
    hist = [np.histogram(M[:, k].ravel(), bins=edges)[0] for k in range(M.shape[1])]
    out = {
        "format": "copyhead.landscape/1",
        "V": V, "alpha": o["alpha"], "alpha_effective": a_eff, "N": model.N, "P": model.P,
        "model": model.to_dict(), "options": o, "windows": plan.to_dict(),
        "log_odds": ana["log_odds"], "log_odds_err": ana["log_odds_err"], "data_sd": ana["data_sd"],
        "split": ana["split"], "units": "F in kT (natural log of the posterior density of m); F_per_V2 = F/V^2",
        "datasets": ana["datasets"],
        "profile": {"m": ana["m"], "F": ana["F"], "F_err": ana["F_err"], "F_per_V2": np.asarray(ana["F"]) / V ** 2},
        "theory_minima_m": None if tb is None else [tb[0], tb[2]],
        "theory_barrier_m": None if tb is None else tb[1],
        "window_histograms": {"edges": edges, "counts": hist},
        "diagnostics": {"acceptance_min": float(run["acceptance"].min()), "acceptance_mean": float(run["acceptance"].mean()),
                        "divergences": int(run["divergences"].sum()), "step_size_mean": float(run["step_size"].mean()),
                        "row_spread_by_window": run["row_spread"].mean(axis=(0, 2, 3)),
                        "m_mean_by_window": M.mean(axis=(0, 2, 3)), "batch": run["batch"],
                        "n_grad_evals_per_chain": run["n_grad_evals"]},
        "seeds": {"seed": o["seed"], "torch_seed": run["torch_seed"], "data": run["data"],
                  "data_derivation": DATA_SEED_DERIVATION},
        "wall_s": {"hmc": run["wall_s"], "mc_total": t_mc, "analysis": t_ana},
    }
    if o["direct_chains"]:
        d = run_direct(model, o["alpha"], data_seed=o["data_seeds"][0], chains=o["direct_chains"], iters=o["direct_iters"],
                       warmup=o["direct_warmup"], seed=o["seed"], n_leapfrog=o["leapfrog"], device=o["device"], progress=progress)
        e = np.asarray(ana["edges"])
        mass = np.histogram(d["m"].ravel(), bins=e)[0] / d["m"].size
        with np.errstate(divide="ignore"):
            F_direct = -np.log(mass / np.diff(e))
        out["direct"] = {**direct_log_odds(d["m"], out["datasets"][0]["split"]), "data_seed": d["data_seed"],
                         "chains": o["direct_chains"], "iters": o["direct_iters"], "wall_s": d["wall_s"],
                         "acceptance": d["acceptance"], "torch_seed": d["torch_seed"],
                         "F": F_direct, "F_data0": out["datasets"][0]["F"]}
    if o["theory"]:
        t1 = time.perf_counter()
        out["theory"] = theory_curves(model, V, o["theory_points"], out["split"])
        out["wall_s"]["theory"] = time.perf_counter() - t1
    out["wall_s"]["total"] = time.perf_counter() - t0
    return json.loads(to_json_text(out, indent=None))


# --------------------------------------------------------------------------- command line
def add_arguments(p):
    add_run_args(p, seed="seed of the chains (the data sets have their own --data-seeds)",
                 json="print the summary as JSON", command=NAME)
    add_model_args(p, attentions=("softmax",), attention_default="softmax", objective=False)
    p.add_argument("--V", type=int, default=DEFAULTS["V"], help="vocabulary size")
    p.add_argument("--alpha", type=float, default=DEFAULTS["alpha"], help="amount of data alpha = PT/(kappa V^2)")
    p.add_argument("--windows", type=int, default=None, help="number of umbrella windows (default: from the theory's barrier curvature)")
    p.add_argument("--m-range", default=None, metavar="LO,HI", help="range of the window centres (default: both theory basins +- 3 widths)")
    p.add_argument("--spring", type=float, default=None,
                   help="one spring constant for all windows, kT per unit m^2 (default: per window, equal biased widths)")
    p.add_argument("--spacing", type=float, default=DEFAULTS["spacing"], help="centre spacing in biased-window widths")
    p.add_argument("--replicas", type=int, default=DEFAULTS["replicas"],
                   help="independent umbrella runs per data set (error bars); even ones start on the ansatz, odd ones from the prior")
    p.add_argument("--iters", type=int, default=DEFAULTS["iters"], help="post-warm-up HMC iterations per window")
    p.add_argument("--warmup", type=int, default=DEFAULTS["warmup"], help="warm-up iterations per window")
    p.add_argument("--leapfrog", type=int, default=DEFAULTS["leapfrog"], help="leapfrog steps per iteration")
    p.add_argument("--data-seeds", default="0", help="comma-separated data-set seeds (several: spread over data sets)")
    p.add_argument("--bins", type=int, default=DEFAULTS["bins"], help="bins of the profile")
    p.add_argument("--split", type=float, default=None, help="fixed basin split m* (default: the barrier top of the profile)")
    p.add_argument("--no-theory", action="store_true", help="skip the theory landscapes (saves ~5 s)")
    p.add_argument("--theory-points", type=int, default=DEFAULTS["theory_points"], help="grid points of the theory landscapes")
    p.add_argument("--direct-chains", type=int, default=0,
                   help="also run this many unbiased chains on the first data set (time-fraction log-odds; small V only)")
    p.add_argument("--direct-iters", type=int, default=DEFAULTS["direct_iters"], help="iterations of the unbiased chains")
    p.add_argument("--direct-warmup", type=int, default=DEFAULTS["direct_warmup"], help="warm-up of the unbiased chains")
    p.add_argument("--device", default="cpu", help="cpu or cuda")


def _int_list(name, text):
    from copyhead.theory.model import ParameterError

    try:
        return [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise ParameterError(name, text, "must be a comma-separated list of integers") from None


def options_from_args(args) -> dict:
    """The :func:`compute` options of a parsed command line."""
    from copyhead.theory.model import ParameterError

    rng = None
    if args.m_range:
        try:
            rng = [float(v) for v in args.m_range.split(",")]
        except ValueError:
            raise ParameterError("m_range", args.m_range, "must be LO,HI") from None
    return {"V": args.V, "alpha": args.alpha, "T": args.T, "nu": args.nu, "sigma2": args.sigma2, "kappa": args.kappa,
            "prior": args.prior, "windows": args.windows, "m_range": rng, "spring": args.spring,
            "spacing": args.spacing, "replicas": args.replicas, "iters": args.iters, "warmup": args.warmup,
            "leapfrog": args.leapfrog, "data_seeds": _int_list("data-seeds", args.data_seeds), "seed": args.seed,
            "bins": args.bins, "split": args.split, "theory": not args.no_theory, "theory_points": args.theory_points,
            "direct_chains": args.direct_chains, "direct_iters": args.direct_iters, "direct_warmup": args.direct_warmup,
            "device": args.device}


def write_outputs(result: dict, prefix: str, command=None, fmt: str = "png") -> list:
    """JSON (with provenance), CSV of the profile and the figure (``fmt``: png, pdf or svg); returns the paths."""
    from copyhead.io import provenance, write_csv, write_json
    from copyhead.verification.landscape_plots import plot_landscape

    prof, th, V = result["profile"], result.get("theory"), result["V"]
    rows = []
    for i, m in enumerate(prof["m"]):
        row = {"m": m, "F_kT": prof["F"][i], "F_err_kT": prof["F_err"][i],
               "F_per_V2": None if prof["F"][i] is None else prof["F"][i] / V ** 2}
        if th:
            for key, col in (("F_saddle", "F_saddle_kT"), ("F_one_loop", "F_one_loop_kT")):
                y = np.asarray([np.nan if v is None else v for v in th[key]], float)
                row[col] = float(np.interp(m, th["m"], y)) if m is not None else None
        rows.append(row)
    seeds = result["seeds"]
    prov = provenance(command=command, seeds=seeds, wall_s=result["wall_s"]["total"])
    paths = [str(write_json(result, prefix + ".json", provenance=prov)),
             str(write_csv(rows, prefix + ".csv", columns=["m", "F_kT", "F_err_kT", "F_per_V2", "F_saddle_kT",
                                                           "F_one_loop_kT"]))]
    paths.append(plot_landscape(result, f"{prefix}.{fmt}"))
    return paths


def summary_lines(r: dict) -> list:
    from copyhead.verification.landscape import direct_summary

    th = r.get("theory") or {}
    out = [f"copyhead landscape: softmax V={r['V']} alpha={r['alpha']:g} (alpha_eff {r['alpha_effective']:.4f}, "
           f"N={r['N']}, P={r['P']}); {len(r['windows']['centres'])} windows x {r['options']['replicas']} runs "
           f"x {len(r['datasets'])} data set(s)",
           f"  {'data':>5s} {'split':>7s} {'from':>7s} {'log_odds':>9s} {'+-':>6s} {'ansatz-start':>13s} {'prior-start':>12s} "
           f"{'MBAR err':>8s} {'barrier':>8s} {'overlap':>8s}"]
    for d in r["datasets"]:
        st = d["log_odds_starts"]
        out.append(f"  {d['data_seed']:5d} {d['split']:7.4f} {d['split_source']:>7s} {d['log_odds']:+9.3f} {d['log_odds_err']:6.3f} "
                   f"{st.get('ansatz', {}).get('mean', float('nan')):+13.3f} {st.get('prior', {}).get('mean', float('nan')):+12.3f} "
                   f"{d['log_odds_mbar_err']:8.3f} {d['barrier_from_dis'] or float('nan'):8.2f} {d['overlap_min']:8.3f}")
    out.append(f"  log_odds = ln Z_copy - ln Z_uniform = {r['log_odds']:+.3f} +- {r['log_odds_err']:.3f}"
               + (f" (data-set sd {r['data_sd']:.3f})" if r.get("data_sd") is not None else " (chain error, one data set)"))
    if th:
        out.append(f"  theory: one loop {th.get('log_odds_one_loop', float('nan')):+.3f} (1-D integral) / "
                   f"{th['log_odds_laplace'] if th.get('log_odds_laplace') is not None else float('nan'):+.3f} (Laplace); "
                   f"saddle point F - e1/V {th.get('log_odds_saddle', float('nan')):+.3f}")
    if r.get("direct"):
        d = r["direct"]
        out.append(f"  direct unbiased HMC ({d['chains']} chains x {d['iters']}): {direct_summary(d)}")
    dg = r["diagnostics"]
    out.append(f"  acceptance {dg['acceptance_min']:.2f}-{dg['acceptance_mean']:.2f}, divergences {dg['divergences']}; "
               f"wall time {r['wall_s']['total']:.1f} s (HMC {r['wall_s']['hmc']:.1f} s)")
    return out


def run(args) -> int:
    set_threads(args.threads)
    opts = options_from_args(args)
    device(args.device)
    validate(opts)  # every option checked before the output folder and the computation
    folder = outdir(args.outdir)
    bar = ProgressBar(f"umbrella V={args.V} alpha={args.alpha:g}", quiet=silent(args))
    result = compute(opts, progress=bar)
    prefix = str(folder / f"landscape_V{args.V}_alpha{args.alpha:g}_seed{args.seed}")
    paths = write_outputs(result, prefix, fmt=args.format)
    if args.json:
        keep = ("V", "alpha", "log_odds", "log_odds_err", "data_sd", "split", "theory_minima_m")
        doc = {k: result[k] for k in keep}
        doc["datasets"] = [{k: d[k] for k in ("data_seed", "log_odds", "log_odds_err", "split")} for d in result["datasets"]]
        doc["files"] = paths
        print(json.dumps(doc))
        return 0
    if not silent(args):
        print("\n".join(summary_lines(result)))
        print("wrote " + ", ".join(paths))
    return 0
