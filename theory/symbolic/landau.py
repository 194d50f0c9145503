"""SymPy Landau expansion of the linear free energy (``derivations/05_stationarity_landau.py``).

NumPy closed forms: :mod:`copyhead.theory.landau` (tested equal to these expressions).
"""
from __future__ import annotations

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
