"""The sweepable commands of ``copyhead sweep``: the registry and the adapters.

A command is sweepable when it has a ``compute(options) -> dict`` (:mod:`copyhead.sweep.protocol`)
and its options are its command-line options (less those that do not change the result,
:data:`RUN_ONLY`). New command modules that define ``compute`` themselves (the induction head,
in-context regression) are registered by adding their module name to :data:`NATIVE`.

The adapters below give that protocol to commands that predate it: each builds the command's
options into its library calls exactly as the command does (so a task with ``seed = S`` gives
the numbers of the command run with ``--seed S`` at that one point) and returns records. They
call the public library functions only (``run_sweep``, ``train_adam``, ``sample_langevin``,
``switching_study``, the finite-size theory helpers); when those commands gain their own
``compute``, their entries here move to :data:`NATIVE`.
"""
from __future__ import annotations

import importlib
from argparse import Namespace

from copyhead.sweep.protocol import Option, TaskType, task_from_command

from . import landscape as _landscape
from . import langevin as _langevin
from . import solve as _solve
from . import switching as _switching
from . import train as _train
from . import verify as _verify
from .common import MODEL_DEFAULTS, at_least, model_from_args

RUN_ONLY = ("outdir", "json", "threads", "device", "checkpoint", "checkpoint_every", "load", "no_plots", "quiet",
            "format")
"""Options that decide where and how output appears, not what is computed: never swept."""

NATIVE: tuple = ("induction", "icl_regression")
"""Modules of :mod:`copyhead.cli` that define ``compute(options) -> dict`` themselves (and
optionally ``validate(options)`` and ``SWEEP_ATTRS``): one entry per new system."""

ALPHA = Option("alpha", "float", None, None, True, "data amount alpha = P T / (kappa V^2) of this task")

VERIFY_ALPHAS_HELP = ("alphas of one task, sampled in one batched HMC run (a dimension `alpha` of the rows; "
                      "their data seeds follow their positions in the list, as in copyhead verify)")

ATTRS = {
    "alpha_effective": {"long_name": "alpha realised by P = round(alpha kappa V^2 / T)", "units": "1"},
    "P": {"long_name": "number of training sequences", "units": "1"},
    "m_mean": {"long_name": "mean copy weight m = (1/T) sum_t A_t,t-1 over the draws (<|m|> for linear attention)",
               "units": "1"},
    "m_err": {"long_name": "Monte Carlo standard error of m_mean (from the ArviZ-style ESS)", "units": "1"},
    "r_mean": {"long_name": "mean self-overlap r = (1/T) sum_ts A_ts^2", "units": "1"},
    "r_err": {"long_name": "Monte Carlo standard error of r_mean", "units": "1"},
    "eps_mean": {"long_name": "training error per token of the posterior-mean readout", "units": "1"},
    "eps_err": {"long_name": "Monte Carlo standard error of eps_mean", "units": "1"},
    "eps_theory": {"long_name": "training error per token from (m_mean, r_mean) (THEORY.md section 4)", "units": "1"},
    "ess": {"long_name": "effective sample size of m", "units": "draws"},
    "ess_r": {"long_name": "effective sample size of r", "units": "draws"},
    "rhat": {"long_name": "split R-hat of m within the chain", "units": "1"},
    "rhat_r": {"long_name": "split R-hat of r within the chain", "units": "1"},
    "rhat_between": {"long_name": "split R-hat of m across the starts at this alpha (> 1.1: the starts disagree)",
                     "units": "1"},
    "step_size": {"long_name": "adapted leapfrog step size", "units": "1"},
    "acceptance": {"long_name": "fraction of accepted HMC proposals", "units": "1"},
    "mean_accept_prob": {"long_name": "mean Metropolis acceptance probability", "units": "1"},
    "divergences": {"long_name": "divergent trajectories after warm-up", "units": "1"},
    "warmup_divergences": {"long_name": "divergent trajectories during warm-up", "units": "1"},
    "n_samples": {"long_name": "post-warm-up draws", "units": "draws"},
    "theory_branch": {"long_name": "stable V = inf branch nearest the run (disordered, copy, symmetric, ordered)"},
    "theory_m": {"long_name": "m on that branch at V = inf", "units": "1"},
    "theory_m_corrected": {"long_name": "minimiser of F - e1/V in that branch's basin (NaN: basin lost)",
                           "units": "1"},
    "theory_r": {"long_name": "r on that branch at V = inf", "units": "1"},
    "theory_n_stable": {"long_name": "number of stable branches at this alpha (2: inside the spinodal window)"},
    "deviation": {"long_name": "m_mean - theory_m_corrected (theory_m where the basin is lost)", "units": "1"},
    "m_signed_mean": {"long_name": "signed <m> (linear attention; 0 in equilibrium by the S -> -S symmetry)",
                      "units": "1"},
    "theory_m_1loop": {"long_name": "one-loop <|m|> (linear attention, theory/one_loop.py)", "units": "1"},
    "theory_r_1loop": {"long_name": "one-loop <r> (linear attention)", "units": "1"},
    "deviation_1loop": {"long_name": "m_mean - theory_m_1loop", "units": "1"},
    "m_final": {"long_name": "final m of training (|m| for linear attention)", "units": "1"},
    "m": {"long_name": "final signed m", "units": "1"},
    "r": {"long_name": "final r", "units": "1"},
    "loss_per_V2": {"long_name": "final MAP loss U / V^2", "units": "nats"},
    "f_map": {"long_name": "MAP free energy at the final point", "units": "nats"},
    "grad_norm": {"long_name": "|grad U| at the last step", "units": "1"},
    "jump_step": {"long_name": "Adam step of the jump in m(t) (NaN: none)", "units": "steps"},
    "jump_fraction": {"long_name": "largest change of m(t) in one step over the total range of m (near 1: one "
                                   "abrupt jump)", "units": "1"},
    "t50": {"long_name": "first Adam step at which m covered half of its net change (NaN: |net change| < 0.05)",
            "units": "steps"},
    "sharpness": {"long_name": "abruptness of the jump in m(t): (t90 - t10)/t50", "units": "1"},
    "accept": {"long_name": "mean acceptance rate of the all-weights sampler", "units": "1"},
    "copy_fraction": {"long_name": "time fraction on the copy branch, pooled over chains", "units": "1"},
    "copy_fraction_err": {"long_name": "standard error of copy_fraction over chains", "units": "1"},
    "switches": {"long_name": "branch changes, summed over chains", "units": "1"},
    "alpha_c_mc": {"long_name": "alpha where the copy time fraction is 1/2 (NaN: not bracketed)", "units": "1"},
    "alpha_c_mc_err": {"long_name": "jackknife standard error of alpha_c_mc over chains", "units": "1"},
    "m_threshold": {"long_name": "copy weight at the saddle of F - e1/V at its coexistence: a draw with larger m is "
                                 "on the copy branch", "units": "1"},
    "alpha_c_theory_corrected": {"long_name": "coexistence of F - e1/V", "units": "1"},
    "alpha_c_theory_one_loop": {"long_name": "one-loop coexistence (equal basin log Z)", "units": "1"},
    "alpha_c_theory_inf": {"long_name": "coexistence at V = inf", "units": "1"},
    "alpha_c": {"long_name": "transition point (coexistence or critical point) at V = inf", "units": "1"},
    "alpha_spinodal_low": {"long_name": "lower spinodal (NaN: none)", "units": "1"},
    "alpha_spinodal_high": {"long_name": "upper spinodal (NaN: none)", "units": "1"},
    "m_below": {"long_name": "m on the stable branch just below alpha_c", "units": "1"},
    "m_above": {"long_name": "m on the stable branch just above alpha_c", "units": "1"},
    "residual": {"long_name": "residual of the transition point", "units": "1"},
    "converged": {"long_name": "every branch point, fold and alpha_c below the solver's tolerances"},
    "window_low": {"long_name": "lower end of the alpha window the solver searched", "units": "1"},
    "window_high": {"long_name": "upper end of the alpha window the solver searched", "units": "1"},
    "n_branches": {"long_name": "number of stationary branches traced", "units": "1"},
    "n_folds": {"long_name": "number of folds (spinodals) found", "units": "1"},
    "n_phases": {"long_name": "number of changes of the global minimum (window copier)", "units": "1"},
    "transition_to": {"long_name": "phase after the top-level transition (window copier)"},
    "specialisation_below": {"long_name": "sigma_K(M), smallest singular value of M, just below alpha_c",
                             "units": "1"},
    "specialisation_above": {"long_name": "sigma_K(M), smallest singular value of M, just above alpha_c",
                             "units": "1"},
    "alignment_below": {"long_name": "alignment of the copying heads just below alpha_c (NaN: no head copies)",
                        "units": "1"},
    "alignment_above": {"long_name": "alignment of the copying heads just above alpha_c (NaN: no head copies)",
                        "units": "1"},
    "landau_b": {"long_name": "quartic Landau coefficient b of F(m) at the pitchfork of m = 0 (linear attention; NaN: none)",
                 "units": "1"},
    "transition": {"long_name": "kind of transition (first-order, second-order, crossover)"},
    "log_odds": {"long_name": "ln Z_copy - ln Z_uniform of the finite posterior on one data set (umbrella + MBAR)",
                 "units": "nats"},
    "log_odds_err": {"long_name": "standard error of log_odds over independent runs", "units": "nats"},
    "log_odds_mean": {"long_name": "log_odds averaged over the data sets of the task", "units": "nats"},
    "log_odds_mean_err": {"long_name": "standard error of log_odds_mean (over the data sets when several)",
                          "units": "nats"},
    "data_sd": {"long_name": "standard deviation of log_odds over the data sets", "units": "nats"},
    "split": {"long_name": "copy weight m at the barrier top that splits the two basins", "units": "1"},
    "barrier_from_dis": {"long_name": "free-energy barrier seen from the disordered basin", "units": "kT"},
    "barrier_from_copy": {"long_name": "free-energy barrier seen from the copy basin", "units": "kT"},
}


def _model(o: dict, **overrides):
    """The validated :class:`Model` of a task's options (as the commands build it)."""
    return model_from_args(Namespace(**o), **overrides)


def _pick(record: dict, columns) -> dict:
    return {k: record[k] for k in columns if k in record}


def _theory_columns(model, m: float) -> dict:
    """The stable branch nearest to a finite run's ``m`` (V = inf and with e1/V), as the
    ``train`` and ``langevin`` commands report it."""
    from copyhead.numerics.finite_size import FiniteSizeTheory

    tp = FiniteSizeTheory(model.replace(alpha=None)).run_point(model.alpha, m)
    return {"theory_branch": tp.branch, "theory_m": tp.m, "theory_m_corrected": tp.m_corrected,
            "deviation": m - tp.reference}


# ------------------------------------------------------------------------------------------ solve
def solve_validate(o: dict) -> None:
    _model(o)
    _solve.alpha_range(Namespace(**o))


def solve_compute(o: dict) -> dict:
    """``copyhead solve`` at one model: the transition and its spinodals (V = inf); with
    ``heads``/``parents`` other than 1 the window copier's solver, as ``copyhead solve`` does."""
    from copyhead.numerics.solve import solve

    model, window = _model(o), _solve.alpha_range(Namespace(**o))
    if model.heads != 1 or model.parents != 1:
        return _solve_window_compute(model, window)
    res = solve(model, alpha_range=window)
    d = res.to_dict()
    return {**res.transition.to_dict(), "landau_b": d["landau_b"], "converged": d["converged"],
            "window_low": d["alpha_range"][0], "window_high": d["alpha_range"][1],
            "n_branches": len(d["branches"]), "n_folds": len(d["folds"]), "info": d}


def _solve_window_compute(model, window) -> dict:
    """The window copier (``heads``, ``parents``): its top-level transition, spinodals and order parameters."""
    from copyhead.numerics.window_solve import solve_window

    d = solve_window(model, alpha_range=window).to_dict()
    keys = ("transition", "transition_to", "alpha_c", "alpha_spinodal_low", "alpha_spinodal_high", "m_below",
            "m_above", "residual", "specialisation_below", "specialisation_above", "alignment_below",
            "alignment_above", "converged")
    return {**{k: d[k] for k in keys}, "window_low": d["alpha_range"][0], "window_high": d["alpha_range"][1],
            "n_branches": len(d["branches"]), "n_folds": len(d["folds"]), "n_phases": len(d["phases"]), "info": d}


# ----------------------------------------------------------------------------------------- verify
VERIFY_COLUMNS = ("alpha_effective", "P", "m_mean", "m_err", "r_mean", "r_err", "eps_mean", "eps_err", "eps_theory",
                  "ess", "ess_r", "rhat", "rhat_r", "rhat_between", "step_size", "acceptance", "mean_accept_prob",
                  "divergences", "warmup_divergences", "n_samples", "theory_branch", "theory_m", "theory_m_corrected",
                  "theory_r", "theory_n_stable", "deviation", "m_signed_mean", "theory_m_1loop", "theory_r_1loop",
                  "deviation_1loop")


def _verify_alphas(o: dict) -> list:
    """The task's alphas: ``[alpha]`` (one per task) or ``alphas`` (a list, batched)."""
    from copyhead.theory.model import ParameterError

    if (o["alpha"] is None) == (o["alphas"] is None):
        raise ParameterError("alpha", o["alpha"], "give either alpha (one per task, e.g. a grid dimension) or "
                                                  "alphas (a list in [fixed], all in one batched HMC run per task)")
    return [o["alpha"]] if o["alpha"] is not None else list(o["alphas"])


def verify_validate(o: dict) -> None:
    for a in _verify_alphas(o):
        _model(o, objective="posterior", V=o["V"], alpha=a)
    at_least("iters", o["iters"], 10)
    at_least("leapfrog", o["leapfrog"], 1)
    if o["warmup"] is not None:
        at_least("warmup", o["warmup"], 0)


def verify_compute(o: dict) -> dict:
    """``copyhead verify --alphas A[,B,...]``: HMC from both starts on one data set per alpha, all
    chains of the task in one batch, with the theory columns."""
    from copyhead.numerics.finite_size import FiniteSizeTheory
    from copyhead.verification import run_sweep
    from copyhead.verification.compare import annotate_with_theory

    alphas = _verify_alphas(o)
    model = _model(o, objective="posterior", V=o["V"], alpha=None)
    warmup = o["warmup"] if o["warmup"] is not None else max(100, o["iters"] // 2)
    theory = FiniteSizeTheory(model)
    s0 = theory.copy_start_scales(alphas) if o["copy_start"] == "theory" else None
    rows = run_sweep(model, alphas, iters=o["iters"], warmup=warmup, seed=o["seed"], n_leapfrog=o["leapfrog"], s0=s0)
    annotate_with_theory(rows, theory)
    run = {k: v for k, v in rows[0]["params"].items() if k != "wall_time_s"}
    dims = ["start"] if o["alpha"] is not None else ["alpha", "start"]
    return {"rows": [{d: r[d] for d in dims} | _pick(r, VERIFY_COLUMNS) for r in rows], "row_dims": dims,
            "info": {"run": run}}


# ------------------------------------------------------------------------------------------ train
TRAIN_COLUMNS = ("m", "r", "loss_per_V2", "f_map", "grad_norm", "jump_step", "jump_fraction", "t50", "sharpness")


def _inits(text: str) -> list:
    from copyhead.theory.model import ParameterError

    inits = [s.strip() for s in str(text).split(",")]
    if not inits or any(i not in _train.INITS for i in inits) or len(set(inits)) != len(inits):
        raise ParameterError("inits", text, f"must be a comma-separated subset of {', '.join(_train.INITS)}")
    return inits


def train_validate(o: dict) -> None:
    from copyhead.theory.model import ParameterError

    _model(o, objective="map", V=o["V"])
    _inits(o["inits"])
    at_least("steps", o["steps"], 10)
    if not o["lr"] > 0:
        raise ParameterError("lr", o["lr"], "must be > 0")


def train_compute(o: dict) -> dict:
    """``copyhead train --alphas ALPHA``: Adam (MAP) from each init vs the MAP theory."""
    from copyhead.verification import train_adam

    model = _model(o, objective="map", V=o["V"])
    rows, data_seeds = [], {}
    for init in _inits(o["inits"]):
        res = train_adam(model, steps=o["steps"], lr=o["lr"], seed=o["seed"], init=init, init_scale=o["init_scale"],
                         record_every=max(1, o["steps"] // 400))
        m_cmp = abs(res.m) if model.attention == "linear" else res.m
        summary = res.summary()
        data_seeds[init] = summary["data_seed"]
        rows.append({"init": init, "alpha_effective": model.alpha_effective, "m_final": m_cmp,
                     **_pick(summary, TRAIN_COLUMNS), **_theory_columns(model, m_cmp)})
    return {"rows": rows, "row_dims": ["init"], "info": {"data_seed": data_seeds}}


# --------------------------------------------------------------------------------------- langevin
def _sampler_validate(min_chains: int):
    """``validate(options)`` of the samplers with ``--chains`` (langevin, switching)."""

    def validate(o: dict) -> None:
        _model(o, objective="posterior", V=o["V"])
        at_least("chains", o["chains"], min_chains)
        at_least("iters", o["iters"], 10)

    return validate


def langevin_compute(o: dict) -> dict:
    """``copyhead langevin --alphas ALPHA``: all-weights sampling from both inits vs the posterior theory."""
    import numpy as np

    from copyhead.verification import sample_langevin

    model = _model(o, objective="posterior", V=o["V"])
    rows = []
    for init in ("prior", "copy"):
        res = sample_langevin(model, n_iter=o["iters"], seed=o["seed"], method=o["method"], chains=o["chains"],
                              init=init)
        mean, err, ess = res.stat("abs_m" if model.attention == "linear" else "m")
        rows.append({"init": init, "alpha_effective": model.alpha_effective, "m_mean": mean, "m_err": err,
                     "ess": ess, "accept": float(np.mean(res.accept_rate)), **_theory_columns(model, mean)})
    return {"rows": rows, "row_dims": ["init"]}


# -------------------------------------------------------------------------------------- switching


def switching_compute(o: dict) -> dict:
    """``copyhead switching``: long chains at all ``alphas`` of one task; alpha_c(V) from the time fractions."""
    from copyhead.verification import switching_study

    model = _model(o, objective="posterior", V=o["V"])
    res, _ = switching_study(model, o["alphas"], o["iters"], o["warmup"], o["seed"], chains=o["chains"],
                             n_leapfrog=o["leapfrog"])
    rows = [{"alpha": a, "copy_fraction": f, "copy_fraction_err": e, "switches": s}
            for a, f, e, s in zip(res.alphas, res.fractions, res.fraction_err, res.n_switches)]
    return {"rows": rows, "row_dims": ["alpha"], "m_threshold": res.m_threshold, "alpha_c_mc": res.alpha_c,
            "alpha_c_mc_err": res.alpha_c_err, "alpha_c_theory_corrected": res.alpha_c_theory_V,
            "alpha_c_theory_one_loop": res.alpha_c_one_loop, "alpha_c_theory_inf": res.alpha_c_theory_inf}


# --------------------------------------------------------------------------------------- registry
def _alphas_option(module, help=None) -> Option:
    """The command's ``--alphas`` as a list option (its default, if any, as numbers)."""
    from copyhead.sweep.protocol import options_from_parser

    o = options_from_parser(module.add_arguments)["alphas"]
    default = None if o.default is None else [float(a) for a in str(o.default).split(",")]
    return Option("alphas", "floats", default, None, False, help or o.help)


# -------------------------------------------------------------------------------------- landscape
LANDSCAPE_COLUMNS = ("log_odds", "log_odds_err", "barrier_from_dis", "barrier_from_copy", "split")


def _landscape_options(o: dict) -> dict:
    """The :func:`copyhead.cli.landscape.compute` options of a task (its command-line names)."""
    return _landscape.options_from_args(Namespace(**{"device": "cpu", **o}))


def landscape_validate(o: dict) -> None:
    _landscape.validate(_landscape_options(o))


def landscape_compute(o: dict) -> dict:
    """``copyhead landscape`` at one ``(V, alpha)``: umbrella sampling + MBAR; one record per data set."""
    r = _landscape.compute(_landscape_options(o))
    rows = [{"data_seed": d["data_seed"], **_pick(d, LANDSCAPE_COLUMNS)} for d in r["datasets"]]
    return {"alpha_effective": r["alpha_effective"], "P": r["P"], "log_odds_mean": r["log_odds"],
            "log_odds_mean_err": r["log_odds_err"], "data_sd": r["data_sd"], "rows": rows, "row_dims": ["data_seed"], "info": r}


def _adapters() -> dict:
    ex = RUN_ONLY + ("alphas",)
    return {
        "solve": task_from_command("solve", _solve.add_arguments, solve_compute, exclude=RUN_ONLY,
                                   required=("attention",), validate=solve_validate, attrs=ATTRS),
        "verify": task_from_command("verify", _verify.add_arguments, verify_compute, exclude=ex,
                                    extra=(Option("alpha", "float", None, None, False, ALPHA.help),
                                           _alphas_option(_verify, VERIFY_ALPHAS_HELP)),
                                    validate=verify_validate, attrs=ATTRS,
                                    defaults={**{k: MODEL_DEFAULTS[k] for k in _verify.MODEL_OPTIONS},
                                              **_verify.SAMPLING}),
        "train": task_from_command("train", _train.add_arguments, train_compute, exclude=ex, extra=(ALPHA,),
                                   validate=train_validate, attrs=ATTRS),
        "langevin": task_from_command("langevin", _langevin.add_arguments, langevin_compute, exclude=ex,
                                      extra=(ALPHA,), validate=_sampler_validate(1), attrs=ATTRS),
        "landscape": task_from_command("landscape", _landscape.add_arguments, landscape_compute, exclude=RUN_ONLY,
                                       validate=landscape_validate, attrs=ATTRS),
        "switching": task_from_command("switching", _switching.add_arguments, switching_compute, exclude=ex,
                                       extra=(_alphas_option(_switching),), validate=_sampler_validate(2), attrs=ATTRS),
    }


def native_task(module) -> TaskType:
    """The :class:`TaskType` of a command module that defines ``compute(options) -> dict``."""
    return task_from_command(module.NAME, module.add_arguments, module.compute, exclude=RUN_ONLY,
                             validate=getattr(module, "validate", None), attrs=getattr(module, "SWEEP_ATTRS", None))


def registry(native=NATIVE) -> dict:
    """``{command name: TaskType}`` of every sweepable command."""
    tasks = _adapters()
    for name in native:
        mod = importlib.import_module(f".{name}", __package__)
        tasks[mod.NAME] = native_task(mod)
    return tasks
