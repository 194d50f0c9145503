"""MBAR analysis of an umbrella run (:func:`verification.landscape.run_umbrella`): profile,
barrier split, basin log-odds, errors from independent runs and the spread over data sets.

Per data set ``d``:

* every replica ``r`` (one independent umbrella run) is solved by MBAR on its own
  (:func:`verification.free_energy.umbrella_mbar`): profile ``F_dr(m)`` and ``log_odds_dr``;
* the barrier top ``m*_d`` is located on the mean profile over replicas, guided by the theory's
  two minima; all replicas of ``d`` use this split;
* ``log_odds_d`` = mean over replicas, error = their standard error (chain noise only); the
  ansatz-start and prior-start replicas are also averaged separately (a hysteresis check: they
  must agree within errors); ``log_odds_mbar_err`` is MBAR's analytic error of the mean (it
  trusts the thinning; compare with the replica error).

Over data sets: ``log_odds`` = mean of ``log_odds_d`` (quenched average), ``log_odds_err`` =
standard error over data sets (contains chain and data noise), ``data_sd`` = standard
deviation of ``log_odds_d`` over data sets (the sample-to-sample spread). With one data set,
``log_odds_err`` is the chain error of that data set.
"""
from __future__ import annotations

import math

import numpy as np

from copyhead.theory.model import ParameterError

from .free_energy import bin_edges, combine_runs, split_at_barrier, umbrella_mbar

__all__ = ["analyse_umbrella"]


def _profile_stats(profiles):
    """Mean and standard error over runs of ``F`` (bins finite in every run; else nan)."""
    P = np.asarray(profiles, float)
    ok = np.all(np.isfinite(P), axis=0)
    mean, se = np.full(P.shape[1], np.nan), np.full(P.shape[1], np.nan)
    mean[ok] = P[:, ok].mean(axis=0)
    if P.shape[0] > 1:
        se[ok] = P[:, ok].std(axis=0, ddof=1) / math.sqrt(P.shape[0])
    return mean, se


def analyse_umbrella(run: dict, plan, *, n_bins: int = 80, basins=None, split=None, fallback_split=None) -> dict:
    """Profile and log-odds from the traces of :func:`verification.landscape.run_umbrella`.

    Parameters
    ----------
    run : output of ``run_umbrella`` (``m`` of shape ``(n_data, K, R, n)``)
    plan : the :class:`verification.landscape.WindowPlan` of the run
    n_bins : bins of the profile on ``[min sample, max sample]`` over all runs
    basins : ``(m_dis, m_copy)`` positions inside the two basins (e.g. theory minima) that guide
        the barrier search (:func:`verification.free_energy.split_at_barrier`); optional
    split : fixed split ``m*`` instead of the barrier top
    fallback_split : split used where the measured profile shows no barrier (e.g. the theory's
        barrier top); without it such a data set raises :class:`ParameterError`

    Returns
    -------
    dict (JSON-able) with ``m`` (bin centres), ``F`` / ``F_err`` (profile averaged over all runs,
    kT), per-data-set entries ``datasets`` (``split, log_odds, log_odds_err, log_odds_runs,
    chain_var, log_odds_starts, log_odds_mbar_err, barrier_from_dis, barrier_from_copy,
    split_sensitivity`` (largest change of the log-odds for a split moved by 0.02),
    ``overlap_min, g_max, n_decorrelated_min, F, F_err``) and the combined
    ``log_odds, log_odds_err, data_sd, split``.
    """
    M = np.asarray(run["m"], float)
    nd, K, R, _ = M.shape
    centres, springs = np.asarray(plan.centres), np.asarray(plan.springs)
    edges = bin_edges(float(M.min()), float(M.max()) + 1e-12, n_bins)
    mids = 0.5 * (edges[1:] + edges[:-1])
    lo_b, hi_b = basins if basins is not None else (None, None)
    out_ds, all_profiles = [], []
    for d in range(nd):
        sols = [umbrella_mbar([M[d, k, r] for k in range(K)], centres, springs) for r in range(R)]
        prof_r = [sol.profile(edges)[1] for sol in sols]
        Fm, Fe = _profile_stats(prof_r)
        top = split_at_barrier(mids, Fm, lo_b, hi_b)
        if split is not None:
            s, source = float(split), "given"
        elif top is not None:
            s, source = top[0], "profile"
        elif fallback_split is not None:
            s, source = float(fallback_split), "theory"
        else:
            raise ParameterError("split", None, f"data set {d}: the measured profile has no barrier between two basins; "
                                                f"give the split")
        lo_r = [sol.log_odds(s) for sol in sols]
        all_profiles += prof_r
        mean, err = combine_runs(lo_r)
        starts = {lab: combine_runs([lo_r[r] for r in range(R) if run["start"][r] == lab])
                  for lab in sorted(set(run["start"]))}
        mbar_err = [sol.log_odds_analytic_err(s) for sol in sols]
        out_ds.append({
            "data_seed": run["data"][d]["data_seed"],
            "split": s, "split_source": source,
            "log_odds": mean, "log_odds_err": err,
            "log_odds_runs": lo_r,
            "chain_var": float(np.var(lo_r, ddof=1)) if R > 1 else None,
            "log_odds_starts": {k: {"mean": v[0], "err": v[1]} for k, v in starts.items()},
            "log_odds_mbar_err": float(np.sqrt(np.mean(np.square(mbar_err))) / math.sqrt(R)),
            "split_sensitivity": float(np.mean([max(abs(sol.log_odds(s + ds) - sol.log_odds(s)) for ds in (-0.02, 0.02))
                                                for sol in sols])),
            "barrier_from_dis": None if top is None else top[1],
            "barrier_from_copy": None if top is None else top[2],
            "overlap_min": float(min(sol.overlap_min for sol in sols)),
            "g_max": float(max(sol.g_k.max() for sol in sols)),
            "n_decorrelated_min": int(min(sol.n_k.min() for sol in sols)),
            "F": Fm, "F_err": Fe,
        })
    lo_d = [x["log_odds"] for x in out_ds]
    if nd > 1:
        mean, err = combine_runs(lo_d)
        data_sd = float(np.std(lo_d, ddof=1))
    else:
        mean, err, data_sd = out_ds[0]["log_odds"], out_ds[0]["log_odds_err"], None
    Fm, Fe = _profile_stats(all_profiles)
    return {"m": mids, "F": Fm, "F_err": Fe, "edges": edges, "datasets": out_ds,
            "log_odds": mean, "log_odds_err": err, "data_sd": data_sd,
            "split": float(np.mean([x["split"] for x in out_ds]))}
