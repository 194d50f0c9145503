"""The window copier: exact W-marginal evidence of ``H`` heads and ``K`` parents (NumPy).

Model (issue 14; ``Model(heads=H, parents=K)``): ``H`` heads of positional attention ``A_h``
(``T x T``), ``z_{h,t} = sum_s A_h,ts x_s``; target ``y_t = concat(x_{t-1}, ..., x_{t-K})`` in
``R^{KV}``; output ``f_t = sum_h W_h z_{h,t}`` with independent readouts ``W_h`` (``KV x V``,
entries ``N(0, sigma2/V)``), i.e. one readout ``W = [W_1 ... W_H]`` on the concatenated heads
``z_t = concat_h z_{h,t}`` in ``R^{HV}``. ``H = K = 1`` is the copy head of THEORY.md.

Each of the ``KV`` output channels is a Gaussian process given the ``A_h``; with the data counts
``G_{ss'} = sum_mu x_s^mu x_{s'}^{mu T}`` (``theory.evidence.data_counts``) Woodbury and the
determinant lemma give (``derivations/10_window_energy.py``, eq. (W1))

    C_hh' = sum_{s,s'} (A_h^T A_h')_{ss'} G_{ss'}          (V x V blocks of the HV x HV C = Z^T Z)
    D_hk  = sum_{t,s} A_h,ts G_{s,t-k}                      (V x V blocks of the HV x KV D = Z^T Y)
    Lam   = (V/sigma2) I_HV + C/kappa
    log p(Y|A) = -(KV/2) logdet(I + sigma2 C/(V kappa)) + tr(D^T Lam^{-1} D)/(2 kappa^2)
                 - P T K/(2 kappa) - (P T K V/2) log(2 pi kappa).

``window_brute_force_log_evidence`` computes the same number from the ``PT x PT`` kernel
``(sigma2/V) sum_h Z_h Z_h^T + kappa I`` without any of these identities.

Why a *concatenated* target: with the *sum* target ``y_t = sum_k x_{t-k}`` one head with the
two-offset pattern ``A = (J + J^2)/2`` and ``W = 2 I`` reproduces the target exactly, the data
term depends on the heads only through ``sum_k m_hk``, and identical heads pay the smaller Occam
term (``logdet(I + gR)`` is smaller for a rank-one ``R``): nothing forces the heads to divide
the parents (``tests/theory/test_window.py`` checks this on the energy). With the concatenated
target each parent is a separate block of output channels, and one head's mixture of two
offsets cannot be unmixed by a linear readout.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .evidence import EvidenceError, _cholesky_checked
from .model import ParameterError


def _check_attention(A, parents: int | None = None) -> np.ndarray:
    A = np.asarray(A, dtype=float)
    if A.ndim == 2:
        A = A[None]
    if A.ndim != 3 or A.shape[1] != A.shape[2]:
        raise ParameterError("A", A.shape, "must have shape (H, T, T)")
    if parents is not None and not 1 <= parents <= A.shape[1] - 1:
        raise ParameterError("parents", parents, f"must lie in [1, T - 1 = {A.shape[1] - 1}]")
    return A


def offset_counts(G: np.ndarray, k: int) -> np.ndarray:
    """``G[s, t - k]`` along axis 1 (cyclic), so that ``D_hk = sum_{t,s} A_h,ts out[s, t]``."""
    return np.roll(G, k, axis=1)


def window_evidence_matrices(A, G: np.ndarray, parents: int):
    """The ``HV x HV`` matrix ``C`` (blocks ``C_hh'``) and the ``HV x KV`` matrix ``D`` (blocks ``D_hk``).

    Parameters
    ----------
    A : (H, T, T) array
        Attention matrices of the heads.
    G : (T, T, V, V) array
        Data counts (:func:`copyhead.theory.evidence.data_counts`).
    parents : int
        Number of parent offsets ``K``.
    """
    A = _check_attention(A, parents)
    H, T, _ = A.shape
    V = G.shape[-1]
    B = np.einsum("hts,gtu->hgsu", A, A)  # (A_h^T A_g)_{su}
    C = np.einsum("hgsu,suab->hagb", B, G).reshape(H * V, H * V)
    D = np.stack([np.einsum("hts,stab->hab", A, offset_counts(G, k)) for k in range(1, parents + 1)], axis=1)
    D = D.transpose(0, 2, 1, 3).reshape(H * V, parents * V)  # row (h, a), column (k, b)
    return C, D


def window_log_evidence(A, G: np.ndarray, sigma2: float, kappa: float, parents: int) -> float:
    """Closed-form ``log p(Y | A_1..A_H)`` of the window copier (eq. (W1), all constants).

    ``H = K = 1`` is :func:`copyhead.theory.evidence.log_evidence`.
    """
    A = _check_attention(A, parents)
    H, T, _ = A.shape
    V = G.shape[-1]
    P = G[0, 0].sum()
    C, D = window_evidence_matrices(A, G, parents)
    M = np.eye(H * V) + sigma2 * C / (V * kappa)
    L = _cholesky_checked(M)
    logdet = 2.0 * np.log(np.diag(L)).sum()
    X = sla.cho_solve((np.sqrt(V / sigma2) * L, True), D)
    quad = np.sum(D * X)
    K = parents
    return float(
        -0.5 * K * V * logdet
        + quad / (2.0 * kappa**2)
        - P * T * K / (2.0 * kappa)
        - 0.5 * P * T * K * V * np.log(2.0 * np.pi * kappa)
    )


def window_map_objective(A, G: np.ndarray, sigma2: float, kappa: float, parents: int) -> float:
    """``max_W [log p(Y|W, A) + log p(W)]`` up to constants: ``tr(D^T Lam^{-1} D)/(2 kappa^2) - PTK/(2 kappa)``."""
    A = _check_attention(A, parents)
    H, T, _ = A.shape
    V = G.shape[-1]
    P = G[0, 0].sum()
    C, D = window_evidence_matrices(A, G, parents)
    L = _cholesky_checked((V / sigma2) * np.eye(H * V) + C / kappa)
    X = sla.cho_solve((L, True), D)
    return float(np.sum(D * X) / (2.0 * kappa**2) - P * T * parents / (2.0 * kappa))


def window_design_matrix(A, tokens: np.ndarray, V: int) -> np.ndarray:
    """``Z`` with rows ``z_t^mu = concat_h sum_s A_h,ts x_s^mu``, shape ``(P*T, H*V)``."""
    A = _check_attention(A)
    P, T = tokens.shape
    X = np.zeros((P, T, V))
    X[np.arange(P)[:, None], np.arange(T)[None, :], tokens] = 1.0
    Z = np.einsum("hts,psv->pthv", A, X)
    return Z.reshape(P * T, A.shape[0] * V)


def window_targets(tokens: np.ndarray, V: int, parents: int) -> np.ndarray:
    """One-hot targets ``y_t^mu = concat_k x_{t-k}^mu`` (cyclic), shape ``(P*T, K*V)``."""
    P, T = tokens.shape
    Y = np.zeros((P, T, parents, V))
    for k in range(1, parents + 1):
        Y[np.arange(P)[:, None], np.arange(T)[None, :], k - 1, np.roll(tokens, k, axis=1)] = 1.0
    return Y.reshape(P * T, parents * V)


def window_brute_force_log_evidence(A, tokens, V: int, sigma2: float, kappa: float, parents: int) -> float:
    """``sum_i log N(Y_{:,i} | 0, K)`` over the ``KV`` output channels, ``K = (sigma2/V) Z Z^T + kappa I``
    (``PT x PT``). Independent of eq. (W1): no data counts, no Woodbury, no determinant lemma."""
    Z = window_design_matrix(A, tokens, V)
    Y = window_targets(tokens, V, parents)
    n = Z.shape[0]
    Kmat = (sigma2 / V) * Z @ Z.T + kappa * np.eye(n)
    L = np.linalg.cholesky(Kmat)
    sol = sla.cho_solve((L, True), Y)
    logdet = 2.0 * np.log(np.diag(L)).sum()
    return float(-0.5 * np.sum(Y * sol) - 0.5 * Y.shape[1] * logdet - 0.5 * n * Y.shape[1] * np.log(2 * np.pi))


# ----------------------------------------------------------------------------- order parameters
def window_copy_weights(A, parents: int) -> np.ndarray:
    """``M[h, k-1] = m_hk = (1/T) sum_t A_h,t,t-k`` (head ``h``'s weight on offset ``k``), ``(H, K)``."""
    A = _check_attention(A, parents)
    T = A.shape[-1]
    t = np.arange(T)
    return np.stack([A[:, t, (t - k) % T].mean(axis=-1) for k in range(1, parents + 1)], axis=1)


def window_overlaps(A) -> np.ndarray:
    """``R[h, h'] = r_hh' = (1/T) sum_{t,s} A_h,ts A_h',ts`` (head overlaps), ``(H, H)``."""
    A = _check_attention(A)
    return np.einsum("hts,gts->hg", A, A) / A.shape[-1]


def window_order_parameters(A, parents: int):
    """``(M, R)``: copy weights ``(H, K)`` and head overlaps ``(H, H)``."""
    return window_copy_weights(A, parents), window_overlaps(A)


__all__ = [
    "EvidenceError", "offset_counts", "window_evidence_matrices", "window_log_evidence", "window_map_objective",
    "window_design_matrix", "window_targets", "window_brute_force_log_evidence", "window_copy_weights",
    "window_overlaps", "window_order_parameters",
]
