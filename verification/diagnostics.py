"""MCMC diagnostics: effective sample size, Monte Carlo standard error, split R-hat (ArviZ).

The estimators are ArviZ's (imported on first use; ArviZ takes about 2 s to import):

* :func:`ess` -- effective sample size of the mean (``arviz.ess(method="mean")``): every chain is
  split in halves, the FFT autocorrelation is combined over the (split) chains with the
  between-chain variance (Vehtari et al. 2021), truncated by Geyer's initial positive sequence
  and made monotone (Geyer 1992);
* :func:`mcse_mean` -- standard error of the mean, ``sd / sqrt(ess)`` (``arviz.mcse(method="mean")``);
* :func:`split_rhat` -- Gelman-Rubin potential scale reduction on split chains (BDA3 §11.4,
  ``arviz.rhat(method="split")``); one chain is cut into its two halves, so a single drifting
  chain is detected as well;
* :func:`mean_mcse_ess` -- the three numbers a table reports;
* :func:`ess_batch_means` -- the simple batch-means estimator (an independent cross-check, ours).

Input convention (ArviZ's): ``x`` of shape ``(n_draws,)`` (one chain) or ``(n_chains, n_draws)``,
finite, at least 4 draws per chain (else :class:`ParameterError`). A series with zero variance has
undefined ESS / MCSE / R-hat: NaN is returned (ArviZ would report ``ess = n``).
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


def _constant(a: np.ndarray) -> bool:
    return not (a.max() - a.min()) > 0


def _arviz():
    import arviz

    return arviz


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
    """Effective sample size of the mean of ``x`` (``(n,)`` or ``(chains, n)``), ArviZ's
    ``ess(method="mean")`` (split chains; between-chain disagreement lowers it)."""
    a = _as_chains(x)
    if _constant(a):
        return float("nan")
    return float(_arviz().ess(a, method="mean"))


def mcse_mean(x) -> float:
    """Monte Carlo standard error of the mean, ``sd / sqrt(ess)`` (ArviZ ``mcse(method="mean")``)."""
    a = _as_chains(x)
    if _constant(a):
        return float("nan")
    return float(np.asarray(_arviz().mcse(a, method="mean")).reshape(()))


def split_rhat(x) -> float:
    """Split R-hat (ArviZ ``rhat(method="split")``; one chain: R-hat of its two halves). ~1 for
    converged chains; > 1.1 flags non-convergence or chains stuck in different states."""
    a = _as_chains(x)
    if _constant(a):
        return float("nan")
    if a.shape[0] == 1:  # ArviZ needs two chains: use the halves (the middle draw dropped for odd n)
        h = a.shape[1] // 2
        return float(_arviz().rhat(np.concatenate((a[:, :h], a[:, -h:])), method="identity"))
    return float(_arviz().rhat(a, method="split"))


def mean_mcse_ess(x):
    """``(mean, MCSE, ESS)`` of ``x`` (``(n,)`` or ``(chains, n)``)."""
    a = _as_chains(x)
    return float(a.mean()), mcse_mean(a), ess(a)


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


def summarize(x) -> dict:
    """``mean, sd, mcse, ess, rhat`` of ``x`` (``(n,)`` or ``(chains, n)``)."""
    a = _as_chains(x)
    return {"mean": float(a.mean()), "sd": float(a.std(ddof=1)), "mcse": mcse_mean(a), "ess": ess(a),
            "rhat": split_rhat(a)}
