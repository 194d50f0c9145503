"""Closed forms of the linear critical point and the Landau expansion (NumPy).

Derived in :mod:`copyhead.theory.symbolic.landau` (``derivations/05_stationarity_landau.py``
prints the steps; the tests check these closed forms against the SymPy expressions). For linear attention,
``F_lin(m) = F_0 + a2(alpha) m^2 + b(alpha) m^4 + O(m^6)`` (THEORY.md §4) with

* qk prior:        ``a2 = (nu T + g - alpha g)/2``, ``b = -nu T/4 - g^2/4 + alpha g^2/2``;
* gaussian prior:  ``a2 = (nu T + g - alpha g)/2``, ``b = -g^2/4 + alpha g^2/2``;

``g = sigma2 alpha``. The symmetric point ``m = 0`` loses stability where ``a2 = 0``:
``sigma2 alpha^2 - sigma2 alpha - nu T = 0``, i.e.
``alpha_c = (1 + sqrt(1 + 4 nu T / sigma2)) / 2``.
The transition is second order when ``b(alpha_c) > 0`` and first order when ``b(alpha_c) < 0``;
``b(alpha_c) = 0`` is the tricritical point (qk prior only: for the gaussian prior
``b(alpha_c) = g^2 (2 alpha_c - 1)/4 > 0`` always).
"""
from __future__ import annotations

import math


def critical_alpha(T_: int, nu_: float, sigma2_: float) -> float:
    """``alpha_c = (1 + sqrt(1 + 4 nu T/sigma2))/2`` (linear attention, posterior, both priors)."""
    return 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * nu_ * T_ / sigma2_))


def landau_b(T_: int, nu_: float, sigma2_: float, alpha_: float, prior: str = "qk") -> float:
    """Quartic coefficient ``b`` of ``F_lin(m)`` at ``alpha`` (THEORY.md §4)."""
    g = sigma2_ * alpha_
    b = -g * g / 4.0 + alpha_ * g * g / 2.0
    if prior == "qk":
        b -= nu_ * T_ / 4.0
    return b


def tricritical_sigma2(T_: int, nu_: float) -> float:
    """``sigma2`` at which ``b(alpha_c) = 0`` for the qk prior (root found from the closed forms)."""
    from scipy.optimize import brentq

    f = lambda s2: landau_b(T_, nu_, s2, critical_alpha(T_, nu_, s2), "qk")
    lo, hi = 1e-8, 1e8
    return math.exp(brentq(lambda ls: f(math.exp(ls)), math.log(lo), math.log(hi), xtol=1e-14))
