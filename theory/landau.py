"""Stationarity, Hessians, the linear critical point and the Landau expansion (SymPy).

``derivations/05_stationarity_landau.py`` prints these steps. For linear attention,
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

import sympy as sp

from .reduced import linear_free_energy_in_m
from .report import Derivation
from .symbols import T, alpha, m, nu, sigma2


def landau_coefficients(prior: str, objective: str = "posterior"):
    """``(a2, b)``: the ``m^2`` and ``m^4`` coefficients of ``F_lin(m)`` (functions of alpha, ...)."""
    if prior == "qk" and objective == "map":
        raise ValueError("F_MAP with the qk prior has |m| at m = 0: no Landau expansion")
    F = linear_free_energy_in_m(prior, objective)
    ser = sp.series(F, m, 0, 6).removeO()
    a2 = sp.simplify(ser.coeff(m, 2))
    b = sp.simplify(ser.coeff(m, 4))
    return a2, b


def critical_alpha_expr(prior: str, objective: str = "posterior"):
    """Positive root ``alpha_c`` of ``a2(alpha) = 0`` (SymPy)."""
    a2, _ = landau_coefficients(prior, objective)
    sols = sp.solve(sp.Eq(a2, 0), alpha)
    # the physical root is the positive one for all positive (T, nu, sigma2): test at a sample point
    sample = {T: 8, nu: sp.Rational(1, 2), sigma2: sp.Rational(1, 10)}
    pos = [sp.simplify(x) for x in sols if float(x.subs(sample)) > 0]
    if len(pos) != 1:
        raise AssertionError(f"expected one positive root for alpha_c, got {sols}")
    return pos[0]


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


def derive_landau():
    """Stationarity, Hessian at m = 0, critical point, quartic coefficient, tricritical condition."""
    der = Derivation("Linear attention: critical point and Landau expansion")
    for prior in ("qk", "gaussian"):
        F = linear_free_energy_in_m(prior)
        der.step(f"[{prior}] Stationarity dF/dm = 0 (m = 0 always solves it: F is even)", sp.simplify(sp.diff(F, m)), "dF/dm")
        der.step(f"[{prior}] Hessian at m = 0", sp.simplify(sp.diff(F, m, 2).subs(m, 0)), "d2F/dm2(0)")
        a2, b = landau_coefficients(prior)
        der.step(f"[{prior}] m^2 coefficient", a2, "a2")
        der.step(f"[{prior}] m^4 coefficient (Landau b)", b, "b")
        ac = critical_alpha_expr(prior)
        der.step(f"[{prior}] Critical point a2(alpha_c) = 0", ac, "alpha_c")
        bc = sp.simplify(b.subs(alpha, ac))
        der.step(f"[{prior}] b at alpha_c (second order if > 0, first order if < 0)", bc, "b(alpha_c)")
    a2, b = landau_coefficients("qk")
    tri = sp.simplify(sp.Eq(b.subs(alpha, critical_alpha_expr("qk")), 0))
    der.step("[qk] Tricritical condition b(alpha_c) = 0 (first order for sigma2 below its root)", tri)
    der.step(
        "Softmax: s = 0 is not stationary (dF/ds(0) = -alpha g m m'/(1+gr) < 0 with m = 1/T), so "
        "there is no symmetric critical point; a first-order window ends at a critical end point "
        "where the two folds merge (F_s = F_ss = F_sss = 0)."
    )
    return der
