"""Reduced free energies per ``V^2`` in one order parameter (SymPy; ``derivations/04_reduced.py``).

``F(S) = nu J(S) - e(m(A), r(A))`` (posterior) or ``nu ||S||_* - e_MAP`` (MAP), reduced to:

* linear attention, ``S* = m J`` (von Neumann trace inequality: at fixed singular values ``m`` is
  largest when ``S`` is aligned with ``J``, and ``-e`` grows with ``r`` at fixed ``m``, so equal
  singular values win): ``F_lin(m) = nu T j(m) + 1/2 log(1 + g m^2) + (alpha/2)/(1 + g m^2)``.
  The solver uses the variable ``x = u = m^2 >= 0`` (``F`` is even in ``m``): the pitchfork at
  ``m = 0`` becomes a regular crossing of ``u = 0``.
* softmax attention, symmetric ansatz ``S = s (J - 11^T/T)``: ``T-1`` singular values ``|s|``,
  ``m = e^s/(e^s + T - 1)``, ``r = m^2 + (1-m)^2/(T-1)``;
  ``F_soft(s) = nu (T-1) j(s) - e(m, r)``. The solver variable is ``x = s``.

Every reduced free energy is a function of ``(x, alpha, T, nu, sigma2, kappa)`` (``kappa`` does
not enter at ``V = inf``; it is kept so all kernels share one signature).
"""
from __future__ import annotations

import sympy as sp

from .energy import energy_limit, energy_limit_map
from ..model import ATTENTIONS, OBJECTIVES, PRIORS, ParameterError
from .prior import rate_expr
from .report import Derivation
from .symbols import Sg, T, alpha, m, nu, s, sigma2, u

KEYS = tuple(f"{a}_{p}_{o}" for a in ATTENTIONS for p in PRIORS for o in OBJECTIVES)
"""All kernel keys ``attention_prior_objective``."""


def variable(attention: str):
    """The solver variable: ``u = m^2`` (linear) or ``s`` (softmax)."""
    if attention == "linear":
        return u
    if attention == "softmax":
        return s
    raise ParameterError("attention", attention, "must be one of softmax, linear")


def softmax_m(x=s, T_=T):
    """``m(s) = e^s/(e^s + T - 1) = 1/(1 + (T-1) e^{-s})`` on the symmetric ansatz."""
    return 1 / (1 + (T_ - 1) * sp.exp(-x))


def softmax_r(mm, T_=T):
    """``r = m^2 + (1-m)^2/(T-1)`` on the symmetric ansatz."""
    return mm**2 + (1 - mm) ** 2 / (T_ - 1)


def _energy(objective):
    if objective == "posterior":
        return energy_limit
    if objective == "map":
        return energy_limit_map
    raise ParameterError("objective", objective, "must be one of posterior, map")


def reduced_free_energy(attention: str, prior: str, objective: str = "posterior"):
    """``F(x; alpha, T, nu, sigma2)`` for one attention, prior and objective.

    For the MAP objective with the qk prior the nuclear norm ``|s|`` is written ``Sg * s`` with
    ``Sg = sign(s)`` held constant in derivatives (valid away from the kink at ``s = 0``);
    for linear attention ``|m| = sqrt(u)``.
    """
    energy = _energy(objective)
    g = sigma2 * alpha
    if attention == "linear":
        mm = sp.sqrt(u)
        j = rate_expr(mm, prior, objective)
        if prior == "qk" and objective == "map":
            j = sp.sqrt(u)
        j = sp.simplify(j)
        return nu * T * j - energy(mm, mm**2, g, alpha)
    if attention == "softmax":
        mm = softmax_m(s)
        rr = softmax_r(mm)
        j = rate_expr(s, prior, objective, sign=Sg)
        return nu * (T - 1) * j - energy(mm, rr, g, alpha)
    raise ParameterError("attention", attention, "must be one of softmax, linear")


def linear_free_energy_in_m(prior: str, objective: str = "posterior"):
    """``F_lin(m)`` exactly as written in THEORY.md §4 (variable ``m``), for Landau expansions."""
    g = sigma2 * alpha
    j = rate_expr(m, prior, objective)
    return nu * T * j - _energy(objective)(m, m**2, g, alpha)


def derive_reduced():
    """Print-ready derivation of the reduced free energies (all attention x prior x objective)."""
    der = Derivation("Reduced free energies per V^2")
    der.step(
        "Linear attention: S = m J. For fixed singular values sigma_i of S, m <= sum_i sigma_i / T "
        "(von Neumann; J has unit singular values) with equality when S is aligned with J, and "
        "d(-e)/dr|_m = g/(2(1+gr)) + alpha g^2 m^2/(2(1+gr)^2) > 0, so at fixed sum the equal "
        "spectrum (smallest r, smallest sum of convex j) wins: S = m J."
    )
    gg = sigma2 * alpha
    rr = sp.Symbol("r", positive=True)
    dedr = sp.simplify(sp.diff(-energy_limit(m, rr, gg, alpha), rr))
    der.step("d(-e)/dr at fixed m", dedr, "d(-e)/dr")
    for p in PRIORS:
        der.step(f"F_lin(m), prior {p}, posterior", linear_free_energy_in_m(p), "F_lin")
    der.step(
        "Softmax attention: S = s (J - 11^T/T); softmax is invariant to row shifts, so the 11^T/T "
        "removes the row mean at no cost; J - 11^T/T has T-1 unit singular values and one zero."
    )
    der.step("Copy weight on the ansatz", softmax_m(), "m(s)")
    der.step("Self-overlap on the ansatz", softmax_r(m), "r")
    for p in PRIORS:
        der.step(f"F_soft(s), prior {p}, posterior", reduced_free_energy("softmax", p), "F_soft")
    der.step(
        "MAP (THEORY.md sec. 7): maximising over W drops -1/2 log(1+gr); maximising over (Q,K) at "
        "fixed S turns J(S) into the nuclear norm (qk): j(s) -> |s| (written Sg*s, Sg = sign s)."
    )
    for a in ATTENTIONS:
        for p in PRIORS:
            der.step(f"F_MAP, {a}, prior {p}", reduced_free_energy(a, p, "map"), "F_MAP")
    der.step("Solver variable for linear attention: u = m^2 (F is even in m)")
    for p in PRIORS:
        der.step(f"F_lin(u), prior {p}, posterior", reduced_free_energy("linear", p), "F_lin(u)")
    return der
