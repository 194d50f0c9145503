"""HMC sweep over alpha with two starts per data set (THEORY.md §6), all chains in ONE batch.

For every ``alpha`` one data set is drawn (``P = model.replace(alpha=alpha).P`` uniform
sequences of length ``T`` over ``V`` tokens) and one chain per start runs on it:

* ``"uniform"`` -- a draw from the prior of ``(Q, K)`` (or of ``S`` for the gaussian prior);
* ``"copy"`` -- a copy-head configuration, ``S = Q^T K / N ~ s0 (J - 11^T/T)`` (softmax,
  default ``s0 = log V + 3``) or ``S ~ J`` (linear), plus prior-scale noise
  (:meth:`verification.evidence_torch.PosteriorTarget.copy_draw`).

All ``len(alphas) x len(starts)`` chains are advanced by one batched HMC
(:func:`verification.hmc.hmc_sample`); chain ``b`` belongs to alpha ``b // len(starts)`` and
start ``b % len(starts)``, and the chains of one alpha share their data counts. Statistics
are computed on the post-warm-up draws: means, MCSE from the ESS, split R-hat of each chain and
the split R-hat across the starts of one alpha (``rhat_between``; > 1.1 means the starts
disagree -- metastability or non-convergence).

Seeds: ``numpy.random.SeedSequence(seed).spawn(len(alphas) + 1)``; child ``i`` seeds the data of
alpha ``i``, the last child seeds the torch generator used for the initial states and the HMC.
The integer seeds actually used are recorded in the parameter record.

Checkpoint / resume (``checkpoint=prefix``): every ``checkpoint_every`` iterations and at the end
the complete sampler state (:func:`verification.hmc.hmc_sample`, ``on_checkpoint``) is written,
together with the run's input parameter record, to ``prefix.ckpt.pt`` -- atomically (temp file in
the same directory, fsync, ``os.replace``), so a crash while writing leaves the previous
checkpoint intact. A run started with an existing checkpoint file whose parameter record equals its
own resumes from it and gives results bit-identical to an uninterrupted run (same device, torch
build and thread count); a different record raises :class:`CheckpointMismatchError` naming the
differing entries. The final checkpoint is kept: re-running a finished sweep returns at once.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from copyhead.theory.evidence import data_counts, sample_tokens
from copyhead.io import atomic_write
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.order_parameters import training_error as theory_training_error

from . import diagnostics
from .evidence_torch import DTYPE, Counts, PosteriorTarget
from .hmc import hmc_sample

STARTS = ("uniform", "copy")
CHECKPOINT_FORMAT = "copyhead.hmc_sweep_checkpoint/1"
SWEEP_FORMAT = "copyhead.hmc_sweep/1"
CHECKPOINT_SUFFIX = ".ckpt.pt"


class CheckpointMismatchError(ParameterError):
    """The checkpoint file was written by a run with a different parameter record.

    ``differences`` maps each differing entry to ``(value in the checkpoint, value of this run)``.
    """

    def __init__(self, path: str, differences: dict):
        self.path = path
        self.differences = differences
        what = "; ".join(f"{k}: checkpoint {a!r}, this run {b!r}" for k, (a, b) in differences.items())
        super().__init__(
            "checkpoint", path,
            f"it was written with different parameters ({what}); use another checkpoint prefix "
            f"or delete the file to start afresh")
TRACE_NAMES = ("m", "r", "train_err", "logp", "accept_prob", "step_size", "divergent")
OPTIONAL_TRACES = ("accepted",)  # saved since the NetCDF output; sweeps saved before lack it


def _seed_int(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))  # < 2**63 (torch accepts)


def _clean(v):
    """JSON-safe scalars: numpy -> python, NaN/inf -> None."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _stats(x: np.ndarray):
    """mean, MCSE, ESS, split R-hat of one chain (NaN-safe for constant traces)."""
    mean = float(np.mean(x))
    try:
        e = diagnostics.ess(x)
        err = diagnostics.mcse_mean(x)
        rh = diagnostics.split_rhat(x)
    except ParameterError:
        e = err = rh = float("nan")
    return mean, err, e, rh


def run_sweep(
    model: Model,
    alphas: Sequence[float],
    iters: int,
    warmup: int,
    seed: int,
    device="cpu",
    starts: Sequence[str] = STARTS,
    n_leapfrog: int = 10,
    progress: Optional[Callable[[int, int, dict], None]] = None,
    *,
    s0: Optional[float] = None,
    target_accept: float = 0.8,
    step_size: float = 0.05,
    jitter: float = 0.5,
    progress_every: int = 1,
    checkpoint: Optional[str] = None,
    checkpoint_every: int = 500,
) -> List[dict]:
    """Sample the finite-size posterior at every alpha from every start, in one batched HMC.

    Parameters
    ----------
    model : :class:`theory.model.Model` with ``V`` set and ``objective="posterior"``
        (its ``alpha`` is ignored; each alpha of ``alphas`` is used in turn).
    alphas : data amounts; ``P = round(alpha kappa V^2 / T)``.
    iters, warmup : post-warm-up iterations and warm-up (step-size adaptation) iterations.
    seed : master seed (see module docstring).
    device : torch device (``"cpu"`` or ``"cuda"``).
    starts : subset of ``("uniform", "copy")``.
    n_leapfrog : leapfrog steps per iteration.
    progress : optional ``(done, total, info)`` callback, passed to :func:`hmc_sample`.
    s0 : copy-start score scale (default ``log V + 3`` for softmax, 1 for linear), or one value
        per alpha (``copyhead verify`` passes the theory's copy-branch scale: a start high above
        the copy minimum turns the potential drop into momentum and can fly over the barrier).
    checkpoint : path prefix, optional
        Save the sampler state to ``checkpoint + ".ckpt.pt"`` every ``checkpoint_every``
        iterations (and at the end), and resume from that file if it exists (module docstring).
        Raises :class:`CheckpointMismatchError` if its parameter record differs from this run's.
    checkpoint_every : iterations between checkpoints (>= 1).

    Returns
    -------
    list of dict, one per (alpha, start), alpha-major. Keys: ``alpha, alpha_effective, P, start,
    m_mean, m_err, r_mean, r_err, eps_mean, eps_err`` (training error per token of the
    posterior-mean readout), ``eps_theory`` (THEORY.md §4 formula at ``<m>, <r>``), ``ess, ess_r,
    rhat, rhat_r`` (split R-hat of this chain's ``m`` / ``r``), ``rhat_between`` (split R-hat of
    ``m`` over the starts at this alpha), ``step_size, acceptance, mean_accept_prob,
    divergences, warmup_divergences, n_samples``, ``traces`` (dict of numpy arrays of length
    ``warmup + iters``, warm-up first: ``m, r, train_err, logp, accept_prob, step_size,
    divergent``) and ``params`` (the shared parameter record, with ``data_sha256`` of the counts;
    with a checkpoint also ``checkpoint`` (the file) and ``resumed_from_iteration`` (``None`` for a
    fresh start); ``wall_time_s`` is the HMC time summed over all sessions of a resumed run).
    """
    alphas, starts, models = _check_sweep(model, alphas, starts, iters)
    iters, warmup = int(iters), int(warmup)
    data_seeds, torch_seed = _seeds(seed, len(alphas))
    Gs = _draw_data(models, data_seeds)
    B = len(alphas) * len(starts)
    target = PosteriorTarget(model, Counts(Gs, device=device), B=B)
    s0_used = _copy_scale(model, s0, alphas)
    record = _record(model, models, alphas, starts, iters, warmup, seed, data_seeds, torch_seed, Gs, device, B,
                     dict(n_leapfrog=n_leapfrog, target_accept=target_accept, initial_step_size=step_size,
                          step_size_jitter=jitter, s0=s0_used))
    ckpt_path, state, on_checkpoint = _checkpointing(checkpoint, checkpoint_every, record)
    gen = torch.Generator(device=device)
    gen.manual_seed(torch_seed)
    x0 = _initial_states(target, gen, starts, s0_used, len(alphas))
    res = hmc_sample(
        target, x0, iters, warmup,
        n_leapfrog=n_leapfrog, step_size=step_size, target_accept=target_accept,
        inv_mass=target.inv_mass, observe=target.observe, observable_names=target.observable_names,
        generator=gen, progress=progress, progress_every=progress_every, jitter=jitter,
        state=state, on_checkpoint=on_checkpoint, checkpoint_every=int(checkpoint_every) if checkpoint else 0,
    )
    params = dict(record, n_grad_evals=res.n_grad_evals, wall_time_s=res.wall_time, torch_version=torch.__version__)
    if checkpoint is not None:
        params["checkpoint"] = ckpt_path
        params["resumed_from_iteration"] = None if state is None else int(state["it"])
    return [_row(res, b, model, models, alphas, starts, iters, warmup, params) for b in range(B)]


def _check_sweep(model: Model, alphas, starts, iters):
    """Validated ``(alphas, starts, models)``; ``models[i]`` is ``model`` at ``alphas[i]`` (its
    ``P``, ``alpha_effective``: the one place where the finite sizes are realised)."""
    model.require_V()
    if model.objective != "posterior":
        raise ParameterError("objective", model.objective, "HMC samples the posterior")
    alphas = [float(a) for a in alphas]
    if not alphas:
        raise ParameterError("alphas", alphas, "must not be empty")
    starts = tuple(starts)
    if not starts or any(s not in STARTS for s in starts) or len(set(starts)) != len(starts):
        raise ParameterError("starts", starts, f"must be distinct values from {STARTS}")
    if int(iters) < 4:
        raise ParameterError("iters", iters, "must be >= 4")
    return alphas, starts, [model.replace(alpha=a) for a in alphas]  # validates alpha > 0


def _seeds(seed: int, n_alphas: int):
    """``SeedSequence(seed).spawn(n_alphas + 1)``: one data seed per alpha, then the torch seed."""
    children = np.random.SeedSequence(int(seed)).spawn(n_alphas + 1)
    return [_seed_int(c) for c in children[:-1]], _seed_int(children[-1])


def _draw_data(models, data_seeds) -> np.ndarray:
    """The counts ``(n_alphas, T, T, V, V)`` of one data set per alpha."""
    return np.stack([data_counts(sample_tokens(m.P, m.T, m.V, np.random.default_rng(ds)), m.V)
                     for m, ds in zip(models, data_seeds)])


def _copy_scale(model: Model, s0, alphas):
    """The copy-start scale: one value, or one per alpha."""
    if s0 is not None and not np.isscalar(s0):
        s0 = [float(v) for v in s0]
        if len(s0) != len(alphas):
            raise ParameterError("s0", s0, f"needs one value per alpha ({len(alphas)})")
        return s0
    if s0 is not None:
        return float(s0)
    return math.log(model.V) + 3.0 if model.attention == "softmax" else 1.0


def _record(model, models, alphas, starts, iters, warmup, seed, data_seeds, torch_seed, Gs, device, B,
            sampler: dict) -> dict:
    """The parameter record of a sweep (saved with the results and in the checkpoint)."""
    return {
        "model": model.to_dict(),
        "alphas": alphas,
        "alpha_effective": [m.alpha_effective for m in models],
        "P": [m.P for m in models],
        "N": model.N,
        "nu_effective": model.nu_effective,
        "V": model.V,
        "T": model.T,
        "starts": list(starts),
        "iters": iters,
        "warmup": warmup,
        "n_leapfrog": sampler["n_leapfrog"],
        "target_accept": sampler["target_accept"],
        "initial_step_size": sampler["initial_step_size"],
        "step_size_jitter": sampler["step_size_jitter"],
        "s0": sampler["s0"],
        "seed": int(seed),
        "data_seeds": data_seeds,
        "torch_seed": torch_seed,
        "seed_derivation": "SeedSequence(seed).spawn(len(alphas)+1): data_seeds[i] -> numpy default_rng "
                           "for sample_tokens at alpha i; torch_seed -> torch.Generator (initial states, HMC)",
        "data_sha256": hashlib.sha256(np.ascontiguousarray(Gs, dtype=np.float64).tobytes()).hexdigest(),
        "device": str(device),
        "dtype": "float64",
        "batch_size": B,
    }


def _checkpointing(checkpoint, checkpoint_every, record):
    """``(path, state to resume from or None, on_checkpoint callback or None)``."""
    if checkpoint is None:
        return None, None, None
    if int(checkpoint_every) < 1:
        raise ParameterError("checkpoint_every", checkpoint_every, "must be >= 1")
    path = str(checkpoint) + CHECKPOINT_SUFFIX
    state = load_checkpoint(path, record)
    record_json = json.dumps(_clean(record), sort_keys=True, allow_nan=False)

    def on_checkpoint(st: dict) -> None:
        save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "record": record_json, "hmc": st,
                               "torch_version": str(torch.__version__), "torch_threads": torch.get_num_threads()})

    return path, state, on_checkpoint


def _initial_states(target: PosteriorTarget, gen, starts, s0_used, n_alphas: int) -> torch.Tensor:
    """``(B, dim)`` initial states: prior draws for ``"uniform"``, copy heads for ``"copy"`` chains."""
    ns = len(starts)
    x_uniform = target.prior_draw(gen)
    if isinstance(s0_used, list):  # one copy-start scale per alpha (e.g. the theory's copy branch)
        x_copy = torch.empty_like(x_uniform)
        for ia, s0_a in enumerate(s0_used):
            rows_a = slice(ia * ns, (ia + 1) * ns)
            x_copy[rows_a] = target.copy_draw(gen, s0=s0_a)[rows_a]
    else:
        x_copy = target.copy_draw(gen, s0=s0_used)
    is_copy = torch.tensor([starts[b % ns] == "copy" for b in range(n_alphas * ns)], device=x_uniform.device)
    return torch.where(is_copy[:, None], x_copy, x_uniform).to(DTYPE)


def _row(res, b: int, model: Model, models, alphas, starts, iters: int, warmup: int, params: dict) -> dict:
    """Statistics of chain ``b`` (post-warm-up draws) and its traces."""
    ns = len(starts)
    ia, js = divmod(b, ns)
    post = slice(warmup, warmup + iters)
    m_mean, m_err, m_ess, m_rhat = _stats(res.traces["m"][post, b])
    r_mean, r_err, r_ess, r_rhat = _stats(res.traces["r"][post, b])
    e_mean, e_err, _, _ = _stats(res.traces["train_err"][post, b])
    try:
        block = res.traces["m"][post, ia * ns:(ia + 1) * ns].T
        rhat_between = diagnostics.split_rhat(block) if ns > 1 else float("nan")
    except ParameterError:
        rhat_between = float("nan")
    g_eff = model.sigma2 * models[ia].alpha_effective
    return {
        "alpha": alphas[ia], "alpha_effective": models[ia].alpha_effective, "P": models[ia].P,
        "start": starts[js], "chain": b,
        "m_mean": m_mean, "m_err": m_err, "r_mean": r_mean, "r_err": r_err, "eps_mean": e_mean, "eps_err": e_err,
        "eps_theory": float(theory_training_error(m_mean, r_mean, g_eff)),
        "ess": m_ess, "ess_r": r_ess, "rhat": m_rhat, "rhat_r": r_rhat, "rhat_between": rhat_between,
        "step_size": float(res.step_size[b]), "acceptance": float(res.acceptance[b]),
        "mean_accept_prob": float(res.mean_accept_prob[b]), "divergences": int(res.divergences[b]),
        "warmup_divergences": int(res.warmup_divergences[b]), "n_samples": iters,
        "traces": {name: np.array(res.traces[name][:, b]) for name in TRACE_NAMES + OPTIONAL_TRACES},
        "params": params,
    }


def compare_starts(rows: Sequence[dict], z_max: float = 4.0, rhat_max: float = 1.1) -> List[dict]:
    """Per alpha: ``<m>`` of every start, the largest pairwise ``|dm| / sqrt(err1^2 + err2^2)``,
    ``rhat_between`` and ``disagree`` (``z > z_max`` or ``rhat_between > rhat_max``)."""
    by_alpha: Dict[float, list] = {}
    for r in rows:
        by_alpha.setdefault(r["alpha"], []).append(r)
    out = []
    for a, rs in by_alpha.items():
        z = 0.0
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                se = math.hypot(rs[i]["m_err"], rs[j]["m_err"])
                dm = abs(rs[i]["m_mean"] - rs[j]["m_mean"])
                z = max(z, dm / se if se > 0 else (math.inf if dm > 0 else 0.0))
        rb = rs[0]["rhat_between"]
        out.append({
            "alpha": a,
            "m": {r["start"]: r["m_mean"] for r in rs},
            "m_err": {r["start"]: r["m_err"] for r in rs},
            "z": z,
            "rhat_between": rb,
            "disagree": bool(z > z_max or (rb is not None and np.isfinite(rb) and rb > rhat_max)),
        })
    return out


# --------------------------------------------------------------------------- checkpoints
_NOT_COMPARED = ("model.alpha",)  # run_sweep ignores the model's alpha (it uses ``alphas``)


def _flatten(d: dict, prefix: str = "") -> dict:
    """``{"model": {"T": 8}}`` -> ``{"model.T": 8}`` (so that a mismatch names the leaf)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def _serialize_checkpoint(doc: dict, f) -> None:
    """Write one checkpoint document to the open binary file ``f`` (the tests replace this to
    simulate a crash in the middle of a write)."""
    torch.save(doc, f)


def save_checkpoint(path: str, doc: dict) -> None:
    """Write ``doc`` to ``path`` atomically: a crash while writing leaves the old file intact."""
    atomic_write(path, lambda f: _serialize_checkpoint(doc, f), "wb")


def load_checkpoint(path: str, record: Optional[dict] = None) -> Optional[dict]:
    """The sampler state stored in ``path`` (``None`` if there is no such file).

    With ``record``, the stored parameter record must equal it (after the JSON round trip used for
    saving), else :class:`CheckpointMismatchError` names the entries that differ.
    """
    if not os.path.exists(path):
        return None
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unreadable file is reported the same way
        raise ParameterError("checkpoint", path, f"could not be read ({type(e).__name__}: {e}); "
                             f"delete it to start afresh") from e
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        raise ParameterError("checkpoint", path, f"is not a {CHECKPOINT_FORMAT} file")
    if record is not None:
        saved = _flatten(json.loads(doc["record"]))
        mine = _flatten(json.loads(json.dumps(_clean(record), sort_keys=True, allow_nan=False)))
        diff = {k: (saved.get(k), mine.get(k)) for k in sorted(set(saved) | set(mine))
                if saved.get(k) != mine.get(k) and k not in _NOT_COMPARED}
        if diff:
            raise CheckpointMismatchError(path, diff)
    env = (doc.get("torch_version"), doc.get("torch_threads"))
    if env != (str(torch.__version__), torch.get_num_threads()):
        warnings.warn(f"checkpoint {path} was written with torch {env[0]} on {env[1]} thread(s), this run uses "
                      f"torch {torch.__version__} on {torch.get_num_threads()}: the resumed run is statistically "
                      f"equivalent but not guaranteed bit-identical to an uninterrupted one", stacklevel=3)
    return doc["hmc"]


# --------------------------------------------------------------------------- saving


def save_sweep(rows: Sequence[dict], prefix: str, provenance: Optional[dict] = None,
               extra: Optional[dict] = None) -> tuple:
    """Write ``prefix.json`` (parameter record, rows without traces, start comparison, the
    top-level entries of ``extra``, and ``provenance`` (:func:`copyhead.io.provenance`) when given)
    and ``prefix.npz`` (traces stacked as ``(n_rows, warmup + iters)`` arrays named as in
    :data:`TRACE_NAMES` (and :data:`OPTIONAL_TRACES`), plus ``alpha``, ``start``), each atomically
    (temp file in the same directory, then ``os.replace``). Returns the two paths."""
    if not rows:
        raise ParameterError("rows", rows, "nothing to save")
    params = rows[0]["params"]
    table = [{k: v for k, v in r.items() if k not in ("traces", "params")} for r in rows]
    doc = {"format": SWEEP_FORMAT, "params": params, "rows": table,
           "comparison": compare_starts(rows), **(extra or {})}
    if provenance is not None:
        doc["provenance"] = provenance
    text = json.dumps(_clean(doc), indent=1, allow_nan=False)
    jpath, npath = prefix + ".json", prefix + ".npz"
    arrays = {name: np.stack([r["traces"][name] for r in rows]) for name in rows[0]["traces"]}
    arrays["alpha"] = np.array([r["alpha"] for r in rows])
    arrays["start"] = np.array([r["start"] for r in rows])
    atomic_write(npath, lambda f: np.savez_compressed(f, **arrays), "wb")
    atomic_write(jpath, lambda f: f.write(text), "w")
    return jpath, npath


def sweep_prefix(path: str) -> str:
    """``PREFIX`` from ``PREFIX``, ``PREFIX.json`` or ``PREFIX.npz``."""
    path = str(path)
    for ext in (".json", ".npz"):
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


def _load_error(path, why: str) -> ParameterError:
    return ParameterError("load", str(path), why)


def _read_sweep_json(path: str) -> dict:
    if not os.path.isfile(path):
        raise _load_error(path, "no such file (give PREFIX or PREFIX.json of a saved sweep)")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _load_error(path, f"is not readable JSON ({type(e).__name__}: {e})") from None
    if not isinstance(doc, dict) or doc.get("format") != SWEEP_FORMAT:
        raise _load_error(path, f"is not a {SWEEP_FORMAT} file (written by copyhead verify)")
    rows, params = doc.get("rows"), doc.get("params")
    if not isinstance(rows, list) or not rows or not isinstance(params, dict) or not isinstance(params.get("model"), dict):
        raise _load_error(path, "has no rows or no parameter record")
    return doc


def _read_sweep_npz(path: str) -> dict:
    if not os.path.isfile(path):
        raise _load_error(path, "no such file (the traces saved beside the JSON)")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 -- zipfile/OSError/ValueError: any unreadable file is reported the same way
        raise _load_error(path, f"could not be read ({type(e).__name__}: {e})") from None


def _check_sweep_pair(doc: dict, arrays: dict, jpath: str, npath: str) -> None:
    """The JSON rows and the NPZ traces must belong to the same sweep."""
    rows, p = doc["rows"], doc["params"]
    n = p.get("warmup", 0) + p.get("iters", 0)
    missing = [k for k in ("alpha", "start") + TRACE_NAMES if k not in arrays]
    if missing:
        raise _load_error(npath, f"lacks the arrays {missing}")
    shapes_ok = all(arrays[k].shape == (len(rows), n) for k in TRACE_NAMES)
    same = (arrays["alpha"].shape == (len(rows),) and shapes_ok
            and [float(a) for a in arrays["alpha"]] == [r.get("alpha") for r in rows]
            and [str(a) for a in arrays["start"]] == [r.get("start") for r in rows])
    if not same:
        raise _load_error(npath, f"does not match {jpath} (rows, alphas, starts or the trace length "
                                 f"warmup + iters = {n} differ)")


def load_sweep(prefix: str) -> List[dict]:
    """Inverse of :func:`save_sweep` (``prefix`` may end in ``.json`` / ``.npz``): rows with ``traces``
    and ``params`` restored (NaN statistics come back as ``None``). A missing, unreadable or
    foreign file, or a JSON/NPZ pair that does not belong together, raises one
    :class:`ParameterError` naming the file and the reason."""
    prefix = sweep_prefix(prefix)
    jpath, npath = prefix + ".json", prefix + ".npz"
    doc = _read_sweep_json(jpath)
    arrays = _read_sweep_npz(npath)
    _check_sweep_pair(doc, arrays, jpath, npath)
    try:
        Model.from_dict(doc["params"]["model"])
    except (ParameterError, TypeError) as e:
        raise _load_error(jpath, f"has an invalid model record ({e})") from None
    rows = []
    for i, r in enumerate(doc["rows"]):
        r = dict(r)
        r["traces"] = {k: arrays[k][i] for k in TRACE_NAMES + OPTIONAL_TRACES if k in arrays}
        r["params"] = doc["params"]
        rows.append(r)
    return rows
