"""The files the Monte Carlo and training commands write, besides their JSON: documented CSV
tables, ArviZ-compatible NetCDF draws, the effective-alpha flag and plain-text tables.

* :data:`COLUMNS` -- meaning and units of every CSV column (and of the NetCDF variables); the
  single source of ``docs/OUTPUTS.md``'s tables (a test checks that every column written is
  documented there).
* :func:`flag_effective_alpha` -- the realised ``P = round(alpha kappa V^2/T)`` moves alpha; rows
  where it moves by more than :data:`ALPHA_TOLERANCE` are flagged.
* :func:`sweep_inference_data`, :func:`langevin_inference_data` -- the draws of ``verify``,
  ``switching`` and ``langevin`` as an :class:`arviz.InferenceData`: group ``posterior`` (dims
  ``chain, draw, alpha``; variables ``m``, ``r`` and ``train_err`` where it exists, ``abs_m`` for
  linear attention), ``sample_stats`` (``lp``, ``acceptance_rate``, ``accepted``, ``diverging``,
  ``step_size``) and the same two groups for the warm-up draws (``warmup_posterior``,
  ``warmup_sample_stats``). ``arviz.summary`` and ``arviz.plot_trace`` work on them directly.
  The chains of one alpha are its starts (and replicas); they share the alpha's data set, so the
  R-hat that ``arviz.summary`` reports across them is the between-start R-hat (> 1.1: the starts
  sit on different branches or have not mixed).
* :func:`training_dataset` -- the Adam trajectories of ``train`` as an :class:`xarray.Dataset`.
* :func:`write_draws` -- the one NetCDF writer of this layer (atomic, with provenance:
  :func:`copyhead.io.write_netcdf`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from copyhead.io import to_json_text, write_netcdf

ALPHA_TOLERANCE = 0.01
"""Largest relative shift ``|alpha_effective / alpha - 1|`` of the realised alpha that is not flagged."""

# ----------------------------------------------------------------------------------- columns
_ALPHA = {
    "alpha": ("nominal data amount asked for, alpha = P T/(kappa V^2)", "1"),
    "alpha_effective": ("realised alpha = P T/(kappa V^2) with P = round(alpha kappa V^2/T); theory and "
                        "simulation use it", "1"),
    "alpha_effective_shift": ("relative shift alpha_effective/alpha - 1", "1"),
    "alpha_effective_flag": (f"true when |alpha_effective_shift| > {ALPHA_TOLERANCE:g}", "bool"),
}
_THEORY = {
    "theory_branch": ("branch of the minimum of F - e1/V nearest the measured m: disordered | copy (softmax), "
                      "symmetric | ordered (linear)", "-"),
    "theory_m": ("m of the V = inf minimum on that branch (empty where V = inf has no such branch)", "1"),
    "theory_m_corrected": ("m of the minimum of F - e1/V nearest the measured m", "1"),
    "deviation": ("measured m minus theory_m_corrected", "1"),
}
COLUMNS = {
    "verify": {
        **_ALPHA,
        "P": ("number of training sequences of this alpha", "1"),
        "start": ("initial state of the chain: uniform (prior draw) | copy (copy-head scores)", "-"),
        "chain": ("index of the chain in the batched sampler", "1"),
        "m_mean": ("posterior mean of the copy weight m (linear attention: of |m|)", "1"),
        "m_err": ("Monte Carlo standard error of m_mean (ArviZ, from the ESS)", "1"),
        "m_signed_mean": ("linear attention: posterior mean of the signed m", "1"),
        "r_mean": ("posterior mean of the self-overlap r", "1"),
        "r_err": ("Monte Carlo standard error of r_mean", "1"),
        "eps_mean": ("posterior mean of the training error per token of the posterior-mean readout", "1"),
        "eps_err": ("Monte Carlo standard error of eps_mean", "1"),
        "eps_theory": ("training error per token from (m_mean, r_mean) (THEORY.md section 4)", "1"),
        "ess": ("effective sample size of m (ArviZ, split chain)", "draws"),
        "ess_r": ("effective sample size of r", "draws"),
        "rhat": ("split R-hat of m of this chain", "1"),
        "rhat_r": ("split R-hat of r of this chain", "1"),
        "rhat_between": ("split R-hat of m over the starts of this alpha (linear: of |m|); > 1.1: the starts "
                         "disagree", "1"),
        "step_size": ("leapfrog step size after warm-up (before jitter)", "1"),
        "acceptance": ("fraction of accepted proposals after warm-up", "1"),
        "mean_accept_prob": ("mean Metropolis acceptance probability after warm-up", "1"),
        "divergences": ("divergent trajectories after warm-up", "count"),
        "warmup_divergences": ("divergent trajectories during warm-up", "count"),
        "n_samples": ("post-warm-up draws of the chain", "draws"),
        **_THEORY,
        "theory_r": ("r of the minimum of F - e1/V nearest the measured m", "1"),
        "theory_n_stable": ("number of minima of F - e1/V at alpha_effective (2: inside the finite-V window)",
                            "count"),
        "theory_m_1loop": ("linear attention: one-loop <|m|> (theory/one_loop.py)", "1"),
        "theory_r_1loop": ("linear attention: one-loop <r>", "1"),
        "deviation_1loop": ("linear attention: m_mean minus theory_m_1loop", "1"),
    },
    "train": {
        **_ALPHA,
        "attention": ("attention nonlinearity: softmax | linear", "-"),
        "prior": ("prior on the scores: qk | gaussian", "-"),
        "V": ("vocabulary size", "1"),
        "init": ("initialisation: prior (prior-scale Q, K) | copy (copy-head scores)", "-"),
        "m": ("copy weight m at the last Adam step (signed)", "1"),
        "m_final": ("copy weight m at the last Adam step (linear attention: |m|)", "1"),
        "r": ("self-overlap r at the last step", "1"),
        "loss_per_V2": ("MAP loss U/V^2 at the last step (comparable with F_MAP + O(1/V))", "per V^2"),
        "f_map": ("reduced F_MAP at the final scores (leading order)", "per V^2"),
        "grad_norm": ("|grad U| over all parameters at the last step", "loss units"),
        "n_parameters": ("number of trained parameters (Q, K or S, and W)", "count"),
        "grad_rms": ("root-mean-square gradient per parameter, grad_norm/sqrt(n_parameters)", "loss units"),
        "grad_tol": ("tolerance on grad_rms (--grad-tol)", "loss units"),
        "converged": ("true when grad_rms <= grad_tol", "bool"),
        **_THEORY,
        "jump_step": ("centre of the window of 2% of the steps with the largest change of m", "step"),
        "jump_fraction": ("that largest change over the total range of m (near 1: one abrupt jump; near 0.02: a "
                          "drift; 0 when the range is < 1e-3)", "1"),
        "t50": ("first step at which m covered half of its net change (empty when |net change| < 0.05)", "step"),
        "sharpness": ("(t90 - t10)/t50 (<< 1: plateau then jump; 3.2: exponential relaxation; empty when "
                      "|net change| < 0.05)", "1"),
        "steps": ("Adam steps", "1"),
        "lr": ("initial learning rate (cosine decay to lr_final)", "1"),
        "lr_final": ("learning rate at the last step", "1"),
        "seed": ("seed of the initialisation", "1"),
        "data_seed": ("seed of the training data", "1"),
        "wall_time": ("wall time of this run", "s"),
    },
    "langevin": {
        **_ALPHA,
        "init": ("initial state of the chains: prior | copy", "-"),
        "method": ("sampler: hmc | mala | ula", "-"),
        "m_mean": ("mean copy weight over all chains after warm-up (linear attention: of |m|)", "1"),
        "m_err": ("Monte Carlo standard error of m_mean (ArviZ, all chains)", "1"),
        "ess": ("effective sample size of m over all chains", "draws"),
        "rhat": ("split R-hat of m over the chains of this alpha and init", "1"),
        "accept": ("mean acceptance rate after warm-up (1 for ula)", "1"),
        **_THEORY,
        "wall_time": ("wall time of this alpha and init", "s"),
    },
    "switching": {
        **_ALPHA,
        "copy_fraction": ("fraction of post-warm-up draws with m above m_threshold, pooled over chains", "1"),
        "copy_fraction_err": ("standard error of copy_fraction over chains", "1"),
        "switches": ("number of branch changes, summed over chains", "count"),
    },
    "check-ansatz": {
        "alpha": ("data amount", "1"),
        "start": ("start of the unconstrained minimisation (ansatz s=..., shift-p pattern, random scale ...)", "-"),
        "F": ("free energy F(S) of the local minimum reached (per V^2)", "per V^2"),
        "gap": ("F minus F_ansatz, the global minimum of the symmetric ansatz (< 0 would refute the ansatz)",
                "per V^2"),
        "distance": ("distance of the minimum to the ansatz family s (J - 11^T/T) after removing row means", "1"),
        "s_fit": ("score amplitude s of the nearest ansatz matrix", "1"),
        "m": ("copy weight of the minimum", "1"),
        "converged": ("L-BFGS converged", "bool"),
        "grad_norm": ("|grad F| at the end of the minimisation", "per V^2"),
    },
}
"""``{command: {column: (meaning, units)}}`` of the CSV tables (the order is the column order)."""

DRAW_VARIABLES = {
    "m": ("copy weight m(A) = tr(A J^T)/T of the attention matrix", "1"),
    "abs_m": ("linear attention: |m| (the posterior is symmetric under S -> -S)", "1"),
    "r": ("self-overlap r(A) = tr(A A^T)/T", "1"),
    "train_err": ("training error per token of the posterior-mean readout", "1"),
    "lp": ("log density of the sampled state (up to a constant)", "nats"),
    "acceptance_rate": ("Metropolis acceptance probability of the proposal", "1"),
    "accepted": ("the proposal was accepted", "bool"),
    "diverging": ("the trajectory diverged (energy error above the limit; rejected)", "bool"),
    "step_size": ("leapfrog step size used in this iteration (after jitter)", "1"),
}
"""Meaning and units of the NetCDF variables (``posterior``/``sample_stats`` and their warm-up groups)."""

DRAW_COORDS = {
    "chain": "chain index within one alpha (its start and replica are the coordinates start, replica)",
    "draw": "iteration index (post-warm-up in posterior/sample_stats, warm-up in the warmup_* groups)",
    "alpha": "nominal alpha",
    "alpha_effective": "realised alpha (along alpha)",
    "P": "number of training sequences (along alpha)",
    "start": "initial state of the chain (along chain)",
    "replica": "independent data set / chain family (along chain)",
}


def columns_of(command: str, rows: Sequence[dict]) -> list:
    """The documented columns of ``command`` that occur in ``rows`` (in documentation order)."""
    have = {k for r in rows for k in r}
    return [c for c in COLUMNS[command] if c in have]


# ----------------------------------------------------------------------------------- alpha flag
def flag_effective_alpha(rows: Sequence[dict], tol: float = ALPHA_TOLERANCE) -> list:
    """Add ``alpha_effective_shift`` and ``alpha_effective_flag`` to every row (which has ``alpha``
    and ``alpha_effective``); returns the sorted nominal alphas that are flagged."""
    flagged = set()
    for r in rows:
        shift = float(r["alpha_effective"]) / float(r["alpha"]) - 1.0
        r["alpha_effective_shift"] = shift
        r["alpha_effective_flag"] = bool(abs(shift) > tol)
        if r["alpha_effective_flag"]:
            flagged.add(float(r["alpha"]))
    return sorted(flagged)


def alpha_note(rows: Sequence[dict], tol: float = ALPHA_TOLERANCE) -> Optional[str]:
    """One line naming the alphas whose realised value differs by more than ``tol`` (None if none)."""
    seen, parts = set(), []
    for r in rows:
        if r.get("alpha_effective_flag") and r["alpha"] not in seen:
            seen.add(r["alpha"])
            parts.append(f"{r['alpha']:g} -> {r['alpha_effective']:.4g} ({100 * r['alpha_effective_shift']:+.2f}%)")
    if not parts:
        return None
    return (f"* the realised P = round(alpha kappa V^2/T) moves alpha by more than {100 * tol:g}%: "
            + ", ".join(parts) + "; theory and simulation use the effective alpha")


def alpha_cell(r: dict) -> str:
    """``alpha_effective`` for a table, with ``*`` when flagged."""
    return f"{r['alpha_effective']:.4g}" + ("*" if r.get("alpha_effective_flag") else "")


# ----------------------------------------------------------------------------------- tables
def format_table(rows: Sequence[dict], columns: Sequence[tuple]) -> str:
    """A plain-text table: ``columns`` are ``(header, key or callable(row), format)``; ``None``
    values print as ``-``."""
    cells = []
    for r in rows:
        line = []
        for _, key, fmt in columns:
            v = key(r) if callable(key) else r.get(key)
            line.append("-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else
                        (format(v, fmt) if fmt and not isinstance(v, str) else str(v)))
        cells.append(line)
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _, _) in enumerate(columns)]
    head = " ".join(h.rjust(w) for (h, _, _), w in zip(columns, widths))
    return "\n".join([head, "-" * len(head)] + [" ".join(c.rjust(w) for c, w in zip(line, widths)) for line in cells])


# ----------------------------------------------------------------------------------- NetCDF
def _var_attrs(name: str) -> dict:
    meaning, units = DRAW_VARIABLES.get(name, (name, "1"))
    return {"long_name": meaning, "units": units}


def _dataset(arrays: dict, coords: dict, dims=("chain", "draw", "alpha")):
    import xarray as xr

    return xr.Dataset({k: (dims, v, _var_attrs(k)) for k, v in arrays.items()}, coords=coords)


def _inference_data(post: dict, stats: dict, coords: dict, n_warmup: int, attrs: dict):
    """``InferenceData`` from ``(chain, draw_total, ...)`` arrays (warm-up draws first)."""
    import arviz as az

    def split(arrays, lo, hi):
        return {k: v[:, lo:hi] for k, v in arrays.items()}

    n_total = next(iter(post.values())).shape[1]
    groups = {}
    for name, lo, hi in (("", n_warmup, n_total), ("warmup_", 0, n_warmup)):
        if hi - lo < 1:
            continue
        c = {**coords, "draw": np.arange(hi - lo)}
        groups[name + "posterior"] = _dataset(split(post, lo, hi), c)
        groups[name + "sample_stats"] = _dataset(split(stats, lo, hi), c)
    for ds in groups.values():
        ds.attrs.update({k: (v if isinstance(v, (str, int, float)) else to_json_text(v, indent=None))
                         for k, v in attrs.items()})
        ds.attrs.setdefault("inference_library", "copyhead")
    return az.InferenceData(**groups)


def _by_alpha(rows: Sequence[dict]):
    """``(alphas, chains)``: the rows of every alpha in order; every alpha must have as many chains."""
    alphas = list(dict.fromkeys(r["alpha"] for r in rows))
    chains = [[r for r in rows if r["alpha"] == a] for a in alphas]
    if len({len(c) for c in chains}) != 1:
        raise ValueError("every alpha needs the same number of chains")
    return alphas, chains


def sweep_inference_data(rows: Sequence[dict], attrs: Optional[dict] = None):
    """The draws of HMC sweep rows (``verify``, ``switching``; :func:`verification.sweep.run_sweep`,
    possibly several replicas) as an ``InferenceData`` (module docstring). Chain ``c`` of alpha
    ``a`` is the ``c``-th row of that alpha; its ``start`` and ``replica`` are coordinates along
    ``chain`` (the same for every alpha)."""
    alphas, chains = _by_alpha(rows)
    n_chain = len(chains[0])
    params = rows[0]["params"]
    n_warmup = int(params["warmup"])

    def stack(name, dtype=float):
        return np.stack([np.stack([np.asarray(c[i]["traces"][name], dtype) for c in chains], axis=-1)
                         for i in range(n_chain)])  # (chain, draw_total, alpha)

    post = {"m": stack("m"), "r": stack("r"), "train_err": stack("train_err")}
    if params["model"].get("attention") == "linear":
        post["abs_m"] = np.abs(post["m"])
    stats = {"lp": stack("logp"), "acceptance_rate": stack("accept_prob"), "diverging": stack("divergent", bool),
             "step_size": stack("step_size")}
    if "accepted" in rows[0]["traces"]:
        stats["accepted"] = stack("accepted", bool)
    starts = [r["start"] for r in chains[0]]
    replica = [sum(1 for s in starts[:i] if s == starts[i]) for i in range(n_chain)]
    coords = {"chain": np.arange(n_chain), "alpha": np.asarray(alphas, float),
              "alpha_effective": ("alpha", [c[0]["alpha_effective"] for c in chains]),
              "P": ("alpha", [int(c[0]["P"]) for c in chains]),
              "start": ("chain", starts), "replica": ("chain", replica)}
    rec = {"model": params["model"], "V": params["V"], "N": params["N"], "n_leapfrog": params["n_leapfrog"],
           "iters": params["iters"], "warmup": n_warmup, "seed": params["seed"]}
    return _inference_data(post, stats, coords, n_warmup, {**rec, **(attrs or {})})


def langevin_inference_data(results: dict, attrs: Optional[dict] = None):
    """The draws of ``copyhead langevin`` as an ``InferenceData``: ``results`` maps
    ``(alpha, init)`` to a :class:`verification.langevin.LangevinResult` (with its full ``traces``);
    chain = init x replica, dims ``chain, draw, alpha``."""
    alphas = list(dict.fromkeys(a for a, _ in results))
    inits = list(dict.fromkeys(i for _, i in results))
    first = next(iter(results.values()))
    R, n_warmup = first.traces["m"].shape[1], int(first.warmup)

    def stack(name, dtype=float):  # (init x replica, draw_total, alpha)
        per_alpha = [np.concatenate([np.asarray(results[(a, i)].traces[name], dtype).T for i in inits]) for a in alphas]
        return np.stack(per_alpha, axis=-1)

    post = {"m": stack("m"), "r": stack("r")}
    if first.model.attention == "linear":
        post["abs_m"] = np.abs(post["m"])
    stats = {"lp": stack("logp"), "acceptance_rate": stack("accept_prob"), "accepted": stack("accepted", bool),
             "diverging": stack("divergent", bool), "step_size": stack("step_size")}
    models = [results[(a, inits[0])].model for a in alphas]
    coords = {"chain": np.arange(R * len(inits)), "alpha": np.asarray(alphas, float),
              "alpha_effective": ("alpha", [m.alpha_effective for m in models]), "P": ("alpha", [m.P for m in models]),
              "start": ("chain", [i for i in inits for _ in range(R)]),
              "replica": ("chain", [c for _ in inits for c in range(R)])}
    rec = {"model": first.model.replace(alpha=None).to_dict(), "V": first.model.V, "N": first.model.N,
           "method": first.method, "n_leapfrog": first.n_leapfrog, "iters": first.n_iter, "warmup": n_warmup,
           "seed": first.seed}
    return _inference_data(post, stats, coords, n_warmup, {**rec, **(attrs or {})})


def training_dataset(results: Sequence, attrs: Optional[dict] = None):
    """The Adam trajectories of ``copyhead train`` (:class:`verification.training.TrainResult`,
    all with the same recorded steps) as an ``xarray.Dataset`` with dims ``alpha, init, step``:
    ``m``, ``r``, ``loss_per_V2`` (``U/V^2``), ``grad_norm`` (``|grad U|``) and ``lr``."""
    import xarray as xr

    alphas = list(dict.fromkeys(float(r.model.alpha) for r in results))
    inits = list(dict.fromkeys(r.init for r in results))
    steps = np.asarray(results[0].trace_step)
    by = {(float(r.model.alpha), r.init): r for r in results}
    V2 = results[0].model.V ** 2
    fields = {"m": ("m_trace", 1.0, DRAW_VARIABLES["m"]),
              "r": ("r_trace", 1.0, DRAW_VARIABLES["r"]),
              "loss_per_V2": ("loss_trace", 1.0 / V2, ("MAP loss U/V^2", "per V^2")),
              "grad_norm": ("grad_trace", 1.0, ("|grad U| over all parameters", "loss units")),
              "lr": ("lr_trace", 1.0, ("learning rate", "1"))}
    data = {}
    for name, (attr, scale, (meaning, units)) in fields.items():
        arr = np.full((len(alphas), len(inits), len(steps)), np.nan)
        for (a, i), res in by.items():
            tr = np.asarray(getattr(res, attr), float) * scale
            arr[alphas.index(a), inits.index(i), :len(tr)] = tr[:len(steps)]
        data[name] = (("alpha", "init", "step"), arr, {"long_name": meaning, "units": units})
    models = [by[(a, inits[0])].model for a in alphas]
    ds = xr.Dataset(data, coords={"alpha": alphas, "init": inits, "step": steps,
                                  "alpha_effective": ("alpha", [m.alpha_effective for m in models]),
                                  "P": ("alpha", [m.P for m in models])})
    ds.attrs.update({k: (v if isinstance(v, (str, int, float)) else to_json_text(v, indent=None))
                     for k, v in (attrs or {}).items()})
    return ds


def write_draws(data, path, provenance: Optional[dict] = None) -> Path:
    """Write an ``InferenceData`` / ``Dataset`` of this module to ``path`` (NetCDF-4), atomically,
    with ``provenance`` as the JSON-string attribute ``provenance``."""
    return write_netcdf(data, path, provenance=provenance)


def read_provenance(obj) -> dict:
    """The provenance record of a loaded ``Dataset``/``InferenceData`` (its ``provenance`` attribute)."""
    ds = obj.posterior if hasattr(obj, "posterior") else obj
    return json.loads(ds.attrs["provenance"])


# ----------------------------------------------------------------------------------- documentation
def _md(text: str) -> str:
    return text.replace("|", "\\|")  # a literal bar inside a table cell


def _md_table(entries: dict) -> str:
    lines = ["| name | meaning | units |", "|---|---|---|"]
    lines += [f"| `{k}` | {_md(m)} | {u} |" for k, (m, u) in entries.items()]
    return "\n".join(lines)


def generated_blocks() -> dict:
    """``{block name: markdown}``: the tables of ``docs/OUTPUTS.md`` generated from :data:`COLUMNS`,
    :data:`DRAW_VARIABLES` and :data:`DRAW_COORDS`."""
    blocks = {f"columns:{cmd}": _md_table(cols) for cmd, cols in COLUMNS.items()}
    blocks["netcdf:variables"] = _md_table(DRAW_VARIABLES)
    blocks["netcdf:coords"] = "\n".join(["| coordinate | meaning |", "|---|---|"]
                                        + [f"| `{k}` | {_md(v)} |" for k, v in DRAW_COORDS.items()])
    return blocks


def update_doc(path, check: bool = False) -> bool:
    """Rewrite the generated blocks (``<!-- BEGIN name -->`` ... ``<!-- END name -->``) of the
    document ``path``; with ``check`` only report whether they are current. Returns True when the
    file was (or is) up to date."""
    import re

    text = Path(path).read_text()
    new = text
    for name, body in generated_blocks().items():
        pat = re.compile(rf"(<!-- BEGIN {re.escape(name)} -->\n).*?(<!-- END {re.escape(name)} -->)", re.S)
        if not pat.search(new):
            raise ValueError(f"{path} has no block {name!r}")
        new = pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), new)
    if check or new == text:
        return new == text
    from copyhead.io import atomic_write

    atomic_write(path, lambda f: f.write(new))
    return True


if __name__ == "__main__":  # python -m copyhead.verification.outputs [--check] docs/OUTPUTS.md
    import sys

    args = sys.argv[1:]
    chk = "--check" in args
    target = [a for a in args if a != "--check"] or ["docs/OUTPUTS.md"]
    ok = update_doc(target[0], check=chk)
    print(f"{target[0]}: " + ("stale (run without --check)" if not ok else "up to date" if chk else "tables written"))
    sys.exit(0 if ok else 1)
