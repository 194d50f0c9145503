"""alpha_c(V) from equal basin weights: ``log_odds(alpha) = 0`` per data set, and its 1/V fit.

Input: results of ``copyhead landscape`` (:func:`copyhead.cli.landscape.compute`) at a few alphas
for one ``V``, each with the same data seeds. The data sets of one seed are nested in alpha
(:func:`verification.landscape.nested_counts`), so ``log_odds_d(alpha)`` is a smooth function for
every data set ``d``: a straight line through its points gives ``alpha_c,d`` as its root (error by
the delta method, chain noise only). All points of one ``V`` get the same error, the root mean
square of the replica errors of all data sets and alphas (with two replicas per data set a single
replica error has one degree of freedom: too noisy to weight by). Over data sets:

* ``alpha_c`` = mean of ``alpha_c,d`` (the quenched average), ``alpha_c_err`` = their standard
  error (contains chain and data noise), ``data_sd`` = their standard deviation, ``chain_err`` =
  the root-mean-square chain error of one ``alpha_c,d`` (so ``data_sd^2 - chain_err^2`` estimates
  the sample-to-sample variance);
* ``alpha_c_pooled``: root of the line through the data-set-averaged log-odds (a different,
  "annealed"-like average; equal to ``alpha_c`` for exactly linear curves).

The alphas are the realised ``alpha_effective = P T/(kappa V^2)`` (``P`` an integer).

Fit (:func:`fit_alpha_c_V`): ``alpha_c(V) = alpha_inf + a/V + b/V^2`` by weighted least squares,
``alpha_inf`` free or fixed (to the ``V = inf`` coexistence of the solver).
"""
from __future__ import annotations

import math

import numpy as np

from copyhead.theory.model import ParameterError

__all__ = ["line_root", "alpha_c_at_V", "fit_alpha_c_V"]


def line_root(x, y, err=None) -> dict:
    """Root of the weighted least-squares line ``y = c0 + c1 x`` and its standard error.

    ``err`` (standard errors of ``y``) sets the weights and the parameter covariance; without it
    the covariance is scaled by the residual variance (needs >= 3 points; else ``root_err`` is nan).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.unique(x).size < 2:
        raise ParameterError("alphas", x.tolist(), "need at least two distinct alphas")
    w = None if err is None else 1.0 / np.maximum(np.asarray(err, float), 1e-12) ** 2
    X = np.c_[np.ones_like(x), x]
    W = np.ones_like(x) if w is None else w
    cov = np.linalg.inv(X.T @ (X * W[:, None]))
    c = cov @ X.T @ (W * y)
    res = y - X @ c
    if err is None:
        cov = cov * (res @ res / (x.size - 2)) if x.size > 2 else cov * np.nan
    root = -c[0] / c[1]
    g = np.array([-1.0 / c[1], c[0] / c[1] ** 2])  # d root / d (c0, c1)
    return {"root": float(root), "root_err": float(math.sqrt(max(g @ cov @ g, 0.0))), "slope": float(c[1]),
            "intercept": float(c[0]), "chi2": float(np.sum(W * res * res)) if err is not None else None,
            "dof": int(x.size - 2)}


def alpha_c_at_V(results: list) -> dict:
    """alpha_c at one V from ``copyhead landscape`` results at several alphas (module docstring)."""
    if not results:
        raise ParameterError("results", [], "need results at >= 2 alphas")
    Vs = {r["V"] for r in results}
    if len(Vs) != 1:
        raise ParameterError("results", sorted(Vs), "must all have the same V")
    by_seed: dict = {}
    for r in sorted(results, key=lambda r: r["alpha_effective"]):
        for d in r["datasets"]:
            by_seed.setdefault(d["data_seed"], []).append((r["alpha_effective"], d["log_odds"], d["log_odds_err"]))
    pooled_err = float(np.sqrt(np.mean([p[2] ** 2 for pts in by_seed.values() for p in pts])))
    rows = []
    for seed, pts in sorted(by_seed.items()):
        if len(pts) < 2:
            continue
        a, lo, e = (np.array(v, float) for v in zip(*pts))
        fit = line_root(a, lo, np.full(a.size, pooled_err))
        rows.append({"data_seed": seed, "alpha_c": fit["root"], "chain_err": fit["root_err"], "slope": fit["slope"],
                     "chi2": fit["chi2"], "dof": fit["dof"], "log_odds": lo.tolist(), "log_odds_err": e.tolist(),
                     "alphas": a.tolist()})
    if not rows:
        raise ParameterError("results", len(results), "no data seed has log-odds at two alphas")
    ac = np.array([r["alpha_c"] for r in rows])
    n = ac.size
    alphas = sorted({r["alpha_effective"] for r in results})
    mean_lo = [np.mean([d["log_odds"] for r in results if r["alpha_effective"] == a for d in r["datasets"]])
               for a in alphas]
    pooled = line_root(alphas, mean_lo) if len(alphas) >= 2 else None
    return {
        "V": Vs.pop(), "alphas": alphas, "n_data": n,
        "alpha_c": float(ac.mean()),
        "alpha_c_err": float(ac.std(ddof=1) / math.sqrt(n)) if n > 1 else rows[0]["chain_err"],
        "data_sd": float(ac.std(ddof=1)) if n > 1 else None,
        "chain_err": float(math.sqrt(np.mean([r["chain_err"] ** 2 for r in rows]))),
        "slope": float(np.mean([r["slope"] for r in rows])),
        "log_odds_err_pooled": pooled_err,
        "alpha_c_pooled": None if pooled is None else pooled["root"],
        "mean_log_odds": mean_lo,
        "by_data": rows,
    }


def fit_alpha_c_V(V, alpha_c, err, alpha_inf=None) -> dict:
    """Weighted least-squares fit ``alpha_c(V) = alpha_inf + a/V + b/V^2``.

    ``alpha_inf`` free (needs >= 3 sizes) or fixed. Returns the parameters, their standard errors
    (from the weights; scaled by ``sqrt(chi2/dof)`` when that exceeds 1), ``chi2``, ``dof``.
    """
    V, y, e = (np.asarray(v, float) for v in (V, alpha_c, err))
    x = 1.0 / V
    if alpha_inf is None:
        X = np.c_[np.ones_like(x), x, x * x]
        t = y
    else:
        X = np.c_[x, x * x]
        t = y - float(alpha_inf)
    if V.size < X.shape[1]:
        raise ParameterError("V", V.tolist(), f"need at least {X.shape[1]} sizes for this fit")
    W = 1.0 / e ** 2
    cov = np.linalg.inv(X.T @ (X * W[:, None]))
    c = cov @ X.T @ (W * t)
    res = t - X @ c
    chi2 = float(np.sum(W * res * res))
    dof = int(V.size - X.shape[1])
    scale = max(1.0, chi2 / dof) if dof > 0 else 1.0
    se = np.sqrt(np.diag(cov) * scale)
    if alpha_inf is None:
        out = {"alpha_inf": float(c[0]), "alpha_inf_err": float(se[0]), "a": float(c[1]), "a_err": float(se[1]),
               "b": float(c[2]), "b_err": float(se[2])}
    else:
        out = {"alpha_inf": float(alpha_inf), "alpha_inf_err": 0.0, "a": float(c[0]), "a_err": float(se[0]),
               "b": float(c[1]), "b_err": float(se[1])}
    out.update(chi2=chi2, dof=dof, fixed=alpha_inf is not None)
    return out
