"""SymPy prior rates ``j(s)`` and their derivation (``derivations/03_prior_rate.py``).

NumPy versions: :mod:`copyhead.theory.prior`.
"""
from __future__ import annotations

import sympy as sp

from ..model import ParameterError
from .report import Derivation
from .symbols import lam, s



def rate_expr(x, prior: str, objective: str = "posterior", sign=None):
    """SymPy expression of ``j(x)`` for a prior / objective.

    ``sign`` is the symbol standing for ``sign(x)`` in the MAP ``|x|`` (kink at 0); if None,
    ``Abs(x)`` is used.
    """
    if prior == "gaussian":
        return x**2 / 2
    if prior != "qk":
        raise ParameterError("prior", prior, "must be one of qk, gaussian")
    if objective == "map":
        return sp.Abs(x) if sign is None else sign * x
    if objective != "posterior":
        raise ParameterError("objective", objective, "must be one of posterior, map")
    a = (1 + sp.sqrt(1 + 4 * x**2)) / 2
    return a - 1 - sp.log(a) / 2


def derive_qk_rate():
    """Derive ``j(s)`` for the qk prior two ways (Legendre transform; Wishart contraction)."""
    der = Derivation("Prior rate j(s) of the qk prior")
    q, k = sp.symbols("q k", real=True)
    l = sp.Symbol("lambda", positive=True)
    inner = sp.exp(l**2 * k**2 / 2)
    der.step("E_q exp(lambda q k) for q ~ N(0,1)", inner, "E_q")
    mgf = sp.integrate(inner * sp.exp(-k**2 / 2) / sp.sqrt(2 * sp.pi), (k, -sp.oo, sp.oo), conds="none")
    mgf = sp.simplify(mgf)
    der.step("E_k of that (|lambda| < 1): moment generating function of q k", mgf, "M(lambda)")
    Lam = sp.simplify(sp.log(mgf))
    der.step("Scalar cumulant generating function (per unit of N)", Lam, "Lambda(lambda)")
    Lam = -sp.log(1 - lam**2) / 2
    stat = sp.Eq(s, sp.diff(Lam, lam))
    der.step("Legendre stationarity s = Lambda'(lambda)", stat)
    sols = sp.solve(stat, lam)
    lam_star = [x for x in sols if sp.limit(x, s, 0) == 0][0]
    lam_star = sp.simplify(lam_star)
    der.step("Root with lambda(0) = 0 (|lambda| < 1)", lam_star, "lambda*(s)")
    j_legendre = sp.simplify(lam_star * s - Lam.subs(lam, lam_star))
    der.step("j(s) = lambda* s - Lambda(lambda*)", j_legendre, "j(s)")
    j_closed = rate_expr(s, "qk")
    der.step("Closed form with a = (1 + sqrt(1+4s^2))/2", j_closed, "j(s)")
    # equality: check symbolically on s > 0 and numerically at several points (incl. s < 0)
    spos = sp.Symbol("s", positive=True)
    diff_pos = sp.simplify(sp.expand_log((j_legendre - j_closed).subs(s, spos), force=True))
    num = max(abs(float((j_legendre - j_closed).evalf(30, subs={s: v}))) for v in (-3.1, -0.4, 0.01, 0.7, 2.5, 11.0))
    der.step(f"Legendre form minus closed form (simplified for s > 0; max numerical gap {num:.1e})", diff_pos, "Delta")
    if num > 1e-12:
        raise AssertionError("Legendre transform and closed-form rate disagree")
    # contraction of the 2x2 Wishart rate over the diagonal entries
    x, y = sp.symbols("x y", positive=True)
    I2 = (x + y - sp.log(x * y - s**2) - 2) / 2
    der.step("Wishart rate of M = [[x, s], [s, y]] (the 2x2 case of 1/2(tr M - logdet M - 2T))", I2, "I(x,y;s)")
    a = sp.Symbol("a", positive=True)
    cond = sp.simplify(sp.diff(I2, x).subs({x: a, y: a}) * (a**2 - s**2))
    der.step("Symmetric stationarity x = y = a: a^2 - a - s^2 = 0", sp.Eq(sp.expand(-2 * cond), 0))
    a_star = (1 + sp.sqrt(1 + 4 * s**2)) / 2
    j_contract = sp.simplify(I2.subs({x: a_star, y: a_star}))
    num2 = max(abs(float((j_contract - j_closed).evalf(30, subs={s: v}))) for v in (-2.0, 0.3, 1.7, 9.0))
    der.step(f"Contracted rate (equals the closed form; max numerical gap {num2:.1e})", j_contract, "j(s)")
    if num2 > 1e-12:
        raise AssertionError("contraction and closed-form rate disagree")
    series = sp.series(j_closed, s, 0, 7).removeO()
    der.step("Small-s expansion (Gaussian s^2/2 at leading order)", series, "j(s)")
    der.step("Gaussian prior S_ts ~ N(0, 1/N): j(s) = s^2/2; MAP over (Q,K) at fixed S: j(s) = |s| (nuclear norm)")
    return j_closed, der
