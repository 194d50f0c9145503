"""Attention maps and order parameters (NumPy, any size).

Definitions (THEORY.md §3, ``derivations/01_evidence.py``):

* ``m(A) = (1/T) sum_t A_{t,t-1}``  (copy weight; index mod T),
* ``r(A) = (1/T) sum_{t,s} A_ts^2`` (self-overlap),
* training error per token ``eps = 1 - 2 g m^2/(1+g r) + g^2 m^2 r/(1+g r)^2``.
"""
from __future__ import annotations

import numpy as np

from .model import ParameterError


def shift_matrix(T: int) -> np.ndarray:
    """Cyclic shift ``J`` with ``J_{t,t-1} = 1`` (so ``(J x)_t = x_{t-1}``)."""
    return np.roll(np.eye(T), -1, axis=1)


def softmax_rows(S: np.ndarray) -> np.ndarray:
    """Row softmax by log-sum-exp (stable for large scores); works on stacked ``(..., T, T)``."""
    S = np.asarray(S, dtype=float)
    Z = S - S.max(axis=-1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=-1, keepdims=True)


def attention(S: np.ndarray, kind: str) -> np.ndarray:
    """``A(S)``: ``softmax_row(S)`` for ``"softmax"``, ``S`` itself for ``"linear"``."""
    if kind == "softmax":
        return softmax_rows(S)
    if kind == "linear":
        return np.asarray(S, dtype=float)
    raise ParameterError("attention", kind, "must be one of softmax, linear")


def copy_weight(A: np.ndarray) -> np.ndarray:
    """``m(A) = (1/T) sum_t A_{t,t-1}`` (last two axes are ``(T, T)``)."""
    A = np.asarray(A, dtype=float)
    T = A.shape[-1]
    idx = np.arange(T)
    return A[..., idx, (idx - 1) % T].mean(axis=-1)


def self_overlap(A: np.ndarray) -> np.ndarray:
    """``r(A) = (1/T) sum_{t,s} A_ts^2``."""
    A = np.asarray(A, dtype=float)
    return (A * A).sum(axis=(-2, -1)) / A.shape[-1]


def softmax_symmetric_m(s, T: int):
    """``m(s) = e^s / (e^s + T - 1)`` for ``S = s (J - 11^T/T)``, evaluated stably."""
    s = np.asarray(s, dtype=float)
    # 1 / (1 + (T-1) e^{-s}) ; for s << 0 use e^s / (e^s + T - 1)
    out = np.where(
        s >= 0,
        1.0 / (1.0 + (T - 1) * np.exp(-np.abs(s))),
        np.exp(-np.abs(s)) / (np.exp(-np.abs(s)) + (T - 1)),
    )
    return out if out.ndim else float(out)


def softmax_symmetric_r(m, T: int):
    """``r = m^2 + (1-m)^2/(T-1)`` on the symmetric softmax ansatz."""
    m = np.asarray(m, dtype=float)
    out = m * m + (1.0 - m) ** 2 / (T - 1)
    return out if out.ndim else float(out)


def training_error(m, r, g):
    """Training error per token ``eps = 1 - 2 g m^2/(1+gr) + g^2 m^2 r/(1+gr)^2`` (THEORY.md §4)."""
    m = np.asarray(m, dtype=float)
    r = np.asarray(r, dtype=float)
    q = 1.0 + g * r
    out = 1.0 - 2.0 * g * m * m / q + g * g * m * m * r / q**2
    return out if out.ndim else float(out)
