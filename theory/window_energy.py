"""Large-V energy ``e(M, R)`` of the window copier and the prior rate of circulant scores (NumPy).

Energy (``derivations/10_window_energy.py``): with the mean data counts every ``V x V`` block of
``C`` and ``D`` has the form ``a Pi + b 11^T`` (``Pi = I - 11^T/V``), so the ``HV``-dimensional
log-determinant and quadratic form reduce to ``H x H`` matrices on the ``Pi`` eigenspace
(multiplicity ``V - 1``) and on ``1/sqrt(V)``. With ``P = alpha kappa V^2/T``, ``g = sigma2 alpha``,
``m_hk = (1/T) sum_t A_h,t,t-k`` and ``r_hh' = (1/T) sum_ts A_h,ts A_h',ts`` the ``V^2`` coefficient is

    e(M, R) = -(K/2) logdet(I_H + g R) - (alpha/2) [K - g tr(M^T (I_H + g R)^{-1} M)]      (W2)

(``H = K = 1``: ``e(m, r)`` of THEORY.md §3). The MAP energy drops the Occam term ``-(K/2) logdet``.

Prior rate of circulant scores (``derivations/11_window_prior.py``): a positional score matrix
that depends only on the offset, ``S = sum_k w_k J^k`` (``J^k_{t,t-k} = 1``), is normal with
eigenvalues ``lambda_j = sum_k w_k exp(-2 pi i j k/T)`` (eigenvectors ``exp(2 pi i j t/T)``); its singular values are ``|lambda_j|``
and ``J(S) = sum_j j(|lambda_j|)``.
"""
from __future__ import annotations

import numpy as np

from .model import ParameterError
from .prior import rate


def _energy_parts(M, R, alpha, sigma2):
    M = np.atleast_2d(np.asarray(M, float))
    R = np.atleast_2d(np.asarray(R, float))
    H, K = M.shape
    if R.shape != (H, H):
        raise ParameterError("R", R.shape, f"must have shape ({H}, {H}) for M of shape {M.shape}")
    g = sigma2 * alpha
    X = np.eye(H) + g * R
    sign, logdet = np.linalg.slogdet(X)
    if sign <= 0:
        raise ParameterError("R", R.tolist(), "I + g R must be positive definite")
    Z = np.linalg.solve(X, M)
    return M, R, K, g, X, logdet, Z


def window_energy(M, R, alpha, sigma2, objective: str = "posterior") -> float:
    """``e(M, R)`` of eq. (W2) (posterior) or without the Occam term (MAP).

    Parameters
    ----------
    M : (H, K) array
        Copy weights ``m_hk``.
    R : (H, H) array
        Head overlaps ``r_hh'``.
    """
    M, R, K, g, X, logdet, Z = _energy_parts(M, R, alpha, sigma2)
    e = -0.5 * alpha * (K - g * np.sum(M * Z))
    return float(e - 0.5 * K * logdet if objective == "posterior" else e)


def window_energy_gradient(M, R, alpha, sigma2, objective: str = "posterior"):
    """``(de/dM, de/dR)`` of eq. (W2); ``de/dR`` is the symmetric matrix with ``de = tr(de/dR dR)``.

    ``de/dM = alpha g Z``, ``de/dR = -(alpha g^2/2) Z Z^T - (K g/2) X^{-1}`` (the last term only for
    the posterior), with ``X = I + g R`` and ``Z = X^{-1} M``.
    """
    M, R, K, g, X, logdet, Z = _energy_parts(M, R, alpha, sigma2)
    dM = alpha * g * Z
    dR = -0.5 * alpha * g * g * Z @ Z.T
    if objective == "posterior":
        dR = dR - 0.5 * K * g * np.linalg.inv(X)
    return dM, 0.5 * (dR + dR.T)


def sum_target_energy(M, R, alpha, sigma2) -> float:
    """Energy for the *sum* target ``y_t = sum_k x_{t-k}`` (V output channels; cross-parent
    coincidences are O(1/V)): ``-(1/2) logdet(I + g R) - (alpha/2)[K - g mu^T (I + g R)^{-1} mu]``
    with ``mu_h = sum_k m_hk``. Only the heads' total parent weights enter: a contrast to eq. (W2)
    (see the module docstring of :mod:`copyhead.theory.window`)."""
    M = np.atleast_2d(np.asarray(M, float))
    mu = M.sum(axis=1, keepdims=True)
    K = M.shape[1]
    e1 = window_energy(mu, R, alpha, sigma2)  # -(1/2) logdet - (alpha/2)(1 - g mu^T X^-1 mu)
    return float(e1 - 0.5 * alpha * (K - 1))


# ----------------------------------------------------------------------------- circulant prior
def circulant(w) -> np.ndarray:
    """Positional scores ``S_ts = w_{(t - s) mod T}`` (logit of offset ``k = t - s``); works on ``(..., T)``."""
    w = np.asarray(w, float)
    T = w.shape[-1]
    t = np.arange(T)
    return w[..., (t[:, None] - t[None, :]) % T]


def circulant_eigenvalues(w) -> np.ndarray:
    """``lambda_j = sum_k w_k exp(-2 pi i j k / T)`` (the FFT), ``j = 0..T-1`` (last axis): the
    eigenvalue of :func:`circulant` ``(w)`` on ``f_j(t) = exp(2 pi i j t/T)``."""
    return np.fft.fft(np.asarray(w, float), axis=-1)


def circulant_singular_values(w) -> np.ndarray:
    """Singular values ``|lambda_j|`` of :func:`circulant` ``(w)`` (unsorted, Fourier order)."""
    return np.abs(np.fft.fft(np.asarray(w, float), axis=-1))


def circulant_rate(w, prior: str, objective: str = "posterior"):
    """``J(S) = sum_j j(|lambda_j|)`` of the circulant scores of ``w`` (last axis), eq. (W3)."""
    return np.sum(rate(circulant_singular_values(w), prior, objective), axis=-1)
