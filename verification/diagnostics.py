"""MCMC diagnostics in NumPy: effective sample size, Monte Carlo standard error, split R-hat.

* :func:`ess` -- effective sample size of the mean, from the FFT autocorrelation combined over
  chains as in Stan / Vehtari et al. (2021), truncated by Geyer's initial positive sequence and
  made monotone (Geyer's initial monotone sequence estimator, Geyer 1992).
* :func:`ess_batch_means` -- the simple batch-means estimator (cross-check).
* :func:`mcse_mean` -- standard error of the mean, ``sd / sqrt(ess)``.
* :func:`split_rhat` -- Gelman-Rubin potential scale reduction on split chains (BDA3 §11.4):
  every chain is cut into halves, so a single drifting chain is detected as well.

Input convention: ``x`` of shape ``(n_draws,)`` (one chain) or ``(n_chains, n_draws)``.
A series with zero variance has undefined ESS / R-hat: NaN is returned.
"""
from __future__ import annotations

import math

import numpy as np

from copyhead.theory.model import ParameterError


def _as_chains(x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ParameterError("x", a.shape, "must have shape (n_draws,) or (n_chains, n_draws)")
    if a.shape[1] < 4:
        raise ParameterError("x", a.shape, "needs at least 4 draws per chain")
    if not np.all(np.isfinite(a)):
        raise ParameterError("x", "non-finite values", "draws must be finite")
    return a


def autocovariance(x) -> np.ndarray:
    """Biased autocovariance ``c_k = (1/n) sum_t (x_t - xbar)(x_{t+k} - xbar)`` of each chain
    (last axis), by FFT with zero padding (no circular wrap-around)."""
    a = np.asarray(x, dtype=float)
    n = a.shape[-1]
    d = a - a.mean(axis=-1, keepdims=True)
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(d, n=nfft, axis=-1)
    return np.fft.irfft(f * np.conj(f), n=nfft, axis=-1)[..., :n] / n


def autocorrelation(x) -> np.ndarray:
    """``rho_k = c_k / c_0`` of each chain (last axis)."""
    c = autocovariance(x)
    return c / c[..., :1]


def ess(x) -> float:
    """Effective sample size of the mean of ``x`` (``(n,)`` or ``(chains, n)``).

    Multi-chain autocorrelation ``rho_k = 1 - (W - mean_chains c_k) / var_plus`` with
    ``var_plus = (n-1)/n W + B/n`` (so between-chain disagreement lowers the ESS), summed in pairs
    ``Gamma_j = rho_{2j} + rho_{2j+1}`` until the first negative pair (initial positive sequence),
    pairs forced non-increasing (initial monotone sequence); ``tau = -1 + 2 sum_j Gamma_j`` and
    ``ess = chains * n / tau``. ``tau`` is floored at ``1/log10(chains*n)`` as in Stan (so an
    antithetic chain cannot claim an unbounded ESS).
    """
    a = _as_chains(x)
    m, n = a.shape
    acov = autocovariance(a)
    W = acov[:, 0].mean() * n / (n - 1.0)  # mean within-chain variance (unbiased)
    var_plus = W * (n - 1.0) / n
    if m > 1:
        var_plus += a.mean(axis=1).var(ddof=1)
    if not var_plus > 0:
        return float("nan")
    rho = 1.0 - (W - acov.mean(axis=0)) / var_plus  # rho[0] = 1 exactly for m == 1
    rho[0] = 1.0
    # initial positive sequence over pairs (rho_0 + rho_1), (rho_2 + rho_3), ...
    n_pairs = n // 2
    pairs = rho[: 2 * n_pairs].reshape(n_pairs, 2).sum(axis=1)
    neg = np.nonzero(pairs < 0)[0]
    k = int(neg[0]) if neg.size else n_pairs
    gam = pairs[:k]
    # initial monotone sequence
    gam = np.minimum.accumulate(gam) if gam.size else gam
    tau = -1.0 + 2.0 * gam.sum()
    tau = max(tau, 1.0 / math.log10(m * n))
    return float(m * n / tau)


def ess_batch_means(x, n_batches: int | None = None) -> float:
    """Batch-means ESS of one chain: ``n Var(x) / (b Var(batch means))``, ``n_batches ~ sqrt(n)``."""
    a = _as_chains(x)
    if a.shape[0] != 1:
        raise ParameterError("x", a.shape, "batch means is for a single chain")
    a = a[0]
    n = a.size
    nb = int(n_batches or max(4, int(math.sqrt(n))))
    b = n // nb
    if b < 1:
        raise ParameterError("n_batches", nb, f"must be <= n = {n}")
    means = a[: nb * b].reshape(nb, b).mean(axis=1)
    v = a.var(ddof=1)
    vb = means.var(ddof=1)
    if not v > 0 or not vb > 0:
        return float("nan")
    return float(n * v / (b * vb))


def mcse_mean(x) -> float:
    """Monte Carlo standard error of the mean: ``sqrt(var_plus / ess)`` (one chain: ``sd/sqrt(ess)``)."""
    a = _as_chains(x)
    m, n = a.shape
    e = ess(a)
    if not np.isfinite(e):
        return float("nan")
    W = a.var(axis=1, ddof=1).mean()
    var_plus = W * (n - 1.0) / n + (a.mean(axis=1).var(ddof=1) if m > 1 else 0.0)
    return float(math.sqrt(var_plus / e))


def split_rhat(x) -> float:
    """Split R-hat: each chain is cut into two halves (the middle draw dropped for odd ``n``), then
    ``sqrt(var_plus / W)`` with ``W`` the mean within-half variance and
    ``var_plus = (h-1)/h W + var(half means)`` (``h`` draws per half). ~1 for converged chains;
    > 1.1 flags non-convergence or chains stuck in different states (metastability)."""
    a = _as_chains(x)
    m, n = a.shape
    h = n // 2
    halves = np.concatenate((a[:, :h], a[:, n - h:]), axis=0)
    W = halves.var(axis=1, ddof=1).mean()
    Bn = halves.mean(axis=1).var(ddof=1)
    if not W > 0:
        return float("nan")
    var_plus = (h - 1.0) / h * W + Bn
    return float(math.sqrt(var_plus / W))


def summarize(x) -> dict:
    """``mean, sd, mcse, ess, rhat`` of ``x`` (``(n,)`` or ``(chains, n)``)."""
    a = _as_chains(x)
    return {
        "mean": float(a.mean()),
        "sd": float(a.std(ddof=1)),
        "mcse": mcse_mean(a),
        "ess": ess(a),
        "rhat": split_rhat(a),
    }
