"""Exact finite-size W-marginal evidence ``log p(Y | A)`` (NumPy).

The readout ``W`` (``W_ij ~ N(0, sigma2/V)``) enters linearly, so per output channel the data
are a Gaussian process given ``A``. Written with the data counts
``G_{ss'} = sum_mu x_s^mu x_{s'}^{mu T}`` (``derivations/01_evidence.py``, eq. (E1)):

    C = sum_{s,s'} (A^T A)_{ss'} G_{ss'},   D = sum_{t,s} A_ts G_{s,t-1},
    Lam = (V/sigma2) I + C/kappa,
    log p(Y|A) = -(V/2) logdet(I + sigma2 C/(V kappa)) + tr(D^T Lam^{-1} D)/(2 kappa^2)
                 - P T/(2 kappa) - (P T V/2) log(2 pi kappa).

``brute_force_log_evidence`` computes the same number from the ``PT x PT`` GP kernel without
any of these identities; the tests compare the two.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .model import ParameterError


def sample_tokens(P: int, T: int, V: int, rng) -> np.ndarray:
    """``P`` i.i.d. uniform token sequences as integer labels, shape ``(P, T)``."""
    rng = np.random.default_rng(rng)
    return rng.integers(0, V, size=(P, T))


def data_counts(tokens: np.ndarray, V: int) -> np.ndarray:
    """Sufficient statistics ``G[s, s', a, b] = #{mu : tok[mu,s] = a, tok[mu,s'] = b}``.

    This is ``G_{ss'} = sum_mu x_s^mu x_{s'}^{mu T}`` for one-hot ``x``; shape ``(T, T, V, V)``.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise ParameterError("tokens", tokens.shape, "must have shape (P, T)")
    P, T = tokens.shape
    if tokens.min() < 0 or tokens.max() >= V:
        raise ParameterError("tokens", (int(tokens.min()), int(tokens.max())), f"labels must lie in [0, {V})")
    s = np.arange(T)
    # flat index ((s*T + s')*V + a)*V + b for every mu, s, s'
    a = tokens[:, :, None]
    b = tokens[:, None, :]
    flat = ((s[:, None] * T + s[None, :])[None] * V + a) * V + b
    G = np.bincount(flat.ravel(), minlength=T * T * V * V).astype(float)
    return G.reshape(T, T, V, V)


def shifted_counts(G: np.ndarray) -> np.ndarray:
    """``H[s, t] = G[s, t-1]`` (cyclic), so that ``D = sum_{t,s} A_ts H[s, t]``."""
    return np.roll(G, 1, axis=1)


def evidence_matrices(A: np.ndarray, G: np.ndarray):
    """The ``V x V`` matrices ``C`` and ``D`` of eq. (E1)."""
    B = A.T @ A
    C = np.einsum("st,stab->ab", B, G)
    D = np.einsum("ts,stab->ab", A, shifted_counts(G))
    return C, D


class EvidenceError(ArithmeticError):
    """``I + sigma2 C/(V kappa)`` is not numerically positive definite (non-finite or huge scores),
    or the evidence is not finite: the one exception for a failed factorisation, raised by this
    module and by the batched torch evidence (``copyhead.verification.evidence_torch``)."""


def _cholesky_checked(M: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(M)):
        raise EvidenceError("non-finite entries in I + sigma2 C/(V kappa): check the attention matrix")
    try:
        return np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        raise EvidenceError("I + sigma2 C/(V kappa) is not positive definite (Cholesky failed)") from None


def log_evidence(A: np.ndarray, G: np.ndarray, sigma2: float, kappa: float) -> float:
    """Closed-form ``log p(Y | A)`` from the data counts (eq. (E1), with all constants).

    Parameters
    ----------
    A : (T, T) array
        Attention matrix.
    G : (T, T, V, V) array
        Data counts from :func:`data_counts`.
    sigma2, kappa : float
        Readout prior variance and noise variance.
    """
    A = np.asarray(A, dtype=float)
    T = A.shape[0]
    V = G.shape[-1]
    P = G[0, 0].sum()  # every sequence contributes one count to each G_{ss}
    C, D = evidence_matrices(A, G)
    M = np.eye(V) + sigma2 * C / (V * kappa)
    L = _cholesky_checked(M)
    logdet = 2.0 * np.log(np.diag(L)).sum()
    X = sla.cho_solve((np.sqrt(V / sigma2) * L, True), D)
    quad = np.sum(D * X)
    return float(
        -0.5 * V * logdet
        + quad / (2.0 * kappa**2)
        - P * T / (2.0 * kappa)
        - 0.5 * P * T * V * np.log(2.0 * np.pi * kappa)
    )


def log_map_objective(A: np.ndarray, G: np.ndarray, sigma2: float, kappa: float) -> float:
    """``max_W [log p(Y | W, A) + log p(W)]`` up to W- and A-independent constants (MAP over W).

    ``= tr(D^T Lam^{-1} D)/(2 kappa^2) - P T/(2 kappa)``: the evidence of :func:`log_evidence`
    without its log-determinant (Occam) term and without ``-(PTV/2) log(2 pi kappa)`` and the
    ``-(V^2/2) log(2 pi sigma2/V)`` normalisations (THEORY.md §7).
    """
    A = np.asarray(A, dtype=float)
    T = A.shape[0]
    V = G.shape[-1]
    P = G[0, 0].sum()
    C, D = evidence_matrices(A, G)
    Lam = (V / sigma2) * np.eye(V) + C / kappa
    L = _cholesky_checked(Lam)
    X = sla.cho_solve((L, True), D)
    return float(np.sum(D * X) / (2.0 * kappa**2) - P * T / (2.0 * kappa))


def readout_posterior(A: np.ndarray, G: np.ndarray, sigma2: float, kappa: float):
    """Gaussian posterior of ``W`` given ``A``: mean ``W_bar`` (V x V) and per-channel covariance.

    ``W_bar^T = Lam^{-1} D / kappa``, covariance ``Lam^{-1}`` for each output channel.
    """
    V = G.shape[-1]
    C, D = evidence_matrices(np.asarray(A, float), G)
    Lam = (V / sigma2) * np.eye(V) + C / kappa
    cov = np.linalg.inv(Lam)
    Wbar = (cov @ D / kappa).T
    return Wbar, cov


def design_matrix(A: np.ndarray, tokens: np.ndarray, V: int) -> np.ndarray:
    """``Z`` with rows ``z_t^mu = sum_s A_ts x_s^mu``, shape ``(P*T, V)`` (row index ``mu*T + t``)."""
    P, T = tokens.shape
    X = np.zeros((P, T, V))
    X[np.arange(P)[:, None], np.arange(T)[None, :], tokens] = 1.0
    Z = np.einsum("ts,psv->ptv", A, X)
    return Z.reshape(P * T, V)


def targets(tokens: np.ndarray, V: int) -> np.ndarray:
    """One-hot targets ``y_t^mu = x_{t-1}^mu`` (cyclic), shape ``(P*T, V)``."""
    P, T = tokens.shape
    Y = np.zeros((P, T, V))
    prev = np.roll(tokens, 1, axis=1)
    Y[np.arange(P)[:, None], np.arange(T)[None, :], prev] = 1.0
    return Y.reshape(P * T, V)


def brute_force_log_evidence(A, tokens, V: int, sigma2: float, kappa: float) -> float:
    """``sum_i log N(Y_{:,i} | 0, K)`` with the ``PT x PT`` kernel ``K = (sigma2/V) Z Z^T + kappa I``.

    Independent of eq. (E1): no data counts, no Woodbury, no determinant lemma.
    """
    Z = design_matrix(np.asarray(A, float), tokens, V)
    Y = targets(tokens, V)
    n = Z.shape[0]
    K = (sigma2 / V) * Z @ Z.T + kappa * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = sla.cho_solve((L, True), Y)
    logdet = 2.0 * np.log(np.diag(L)).sum()
    return float(-0.5 * np.sum(Y * alpha) - 0.5 * V * logdet - 0.5 * n * V * np.log(2 * np.pi))
