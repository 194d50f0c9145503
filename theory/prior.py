"""Prior rate functions ``j(s)``: large deviations of the scores in ``N`` (SymPy + NumPy).

``p(S) ~ exp(-N J(S))`` with ``J(S) = sum_i j(sigma_i(S))`` over singular values
(``derivations/03_prior_rate.py``):

* prior ``"qk"`` (``S = Q^T K/N``, Gaussian ``Q, K``): ``j(s) = a - 1 - 1/2 log a``,
  ``a = (1 + sqrt(1 + 4 s^2))/2`` -- the Legendre transform of the scalar CGF
  ``Lambda(lambda) = -1/2 log(1 - lambda^2)``, equivalently the Wishart rate
  ``I(M) = 1/2 (tr M - logdet M - 2T)`` of ``M = [[Q^TQ, Q^TK], [K^TQ, K^TK]]/N`` contracted over
  the diagonal blocks;
* prior ``"gaussian"`` (``S_ts ~ N(0, 1/N)``): ``j(s) = s^2/2``;
* MAP objective (THEORY.md §7): maximising over ``(Q, K)`` at fixed ``S`` gives the nuclear norm,
  ``j(s) = |s|`` for ``"qk"``; for ``"gaussian"`` the parameter is ``S`` itself and ``j = s^2/2``.
"""
from __future__ import annotations

import numpy as np

from .model import ParameterError



def rate_qk(x):
    """``j(s) = a - 1 - 1/2 log a``, ``a = (1+sqrt(1+4s^2))/2``, evaluated without cancellation."""
    x = np.asarray(x, dtype=float)
    am1 = 2.0 * x * x / (1.0 + np.sqrt(1.0 + 4.0 * x * x))  # a - 1
    return am1 - 0.5 * np.log1p(am1)


def rate_qk_prime(x):
    """``j'(s) = lambda*(s) = 2 s / (1 + sqrt(1 + 4 s^2))`` (the Legendre conjugate)."""
    x = np.asarray(x, dtype=float)
    return 2.0 * x / (1.0 + np.sqrt(1.0 + 4.0 * x * x))


def rate(x, prior: str, objective: str = "posterior"):
    """Scalar rate ``j(x)`` (NumPy) for a prior and objective."""
    x = np.asarray(x, dtype=float)
    if prior == "gaussian":
        return 0.5 * x * x
    if prior != "qk":
        raise ParameterError("prior", prior, "must be one of qk, gaussian")
    return np.abs(x) if objective == "map" else rate_qk(x)


def rate_prime(x, prior: str, objective: str = "posterior"):
    """``j'(x)`` (for MAP qk, ``sign(x)``, the subgradient choice 0 at 0)."""
    x = np.asarray(x, dtype=float)
    if prior == "gaussian":
        return x
    return np.sign(x) if objective == "map" else rate_qk_prime(x)


def matrix_rate(S, prior: str, objective: str = "posterior") -> float:
    """``J(S) = sum_i j(sigma_i(S))`` over the singular values of ``S``."""
    sv = np.linalg.svd(np.asarray(S, float), compute_uv=False)
    return float(np.sum(rate(sv, prior, objective)))


def matrix_rate_grad(S, prior: str, objective: str = "posterior"):
    """``dJ/dS = U diag(j'(sigma)) V^T`` (spectral function of an odd ``j'``)."""
    U, sv, Vt = np.linalg.svd(np.asarray(S, float))
    return (U * rate_prime(sv, prior, objective)) @ Vt
