"""Energy: the W-marginal evidence and its ``V -> inf`` limit ``e(m, r)`` (SymPy).

Derivation (printed by ``derivations/01_evidence.py`` and ``derivations/02_energy_limit.py``):

1. (E1) per output channel the data are a GP given ``A``; Woodbury + determinant lemma give
   ``log p(Y|A) = -(V/2) logdet(I + sigma2 C/(V kappa)) + tr(D^T Lam^{-1} D)/(2 kappa^2) - PT/(2 kappa)``
   (+ the constant ``-(PTV/2) log(2 pi kappa)``), ``C = sum B_ss' G_ss'``, ``D = sum A_ts G_{s,t-1}``.
2. (E2) replace the data counts by their means ``E[x_s x_s'^T] = delta_ss' I/V + (1-delta_ss') 11^T/V^2``;
   then ``C``, ``D``, ``Lam`` are all of the form ``a Pi + b 11^T`` (``Pi = I - 11^T/V``), diagonal in
   the same basis, with eigenvalues on ``Pi`` (multiplicity ``V-1``) and on ``1/sqrt(V)``.
3. (E3) with ``P = alpha kappa V^2/T`` the result is a polynomial in ``V``; its ``V^2`` coefficient is
   ``e(m, r) = -1/2 log(1 + g r) - (alpha/2)(1 + g(r - m^2))/(1 + g r)``, ``g = sigma2 alpha``.
   Its ``V^1`` coefficient is the mean-count ("annealed") part of the ``O(V)`` correction; the
   fluctuation part is derived in ``derivations/06_finite_size.py``.
"""
from __future__ import annotations

import sympy as sp

from .report import Derivation
from .symbols import P, T, V, alpha, g, kappa, m, r, sigma2

abar, a2bar = sp.symbols("abar abar2", positive=True)  # mean row sum, mean squared row sum


def energy_limit(m_=m, r_=r, g_=g, alpha_=alpha):
    """``e(m, r) = -1/2 log(1 + g r) - (alpha/2)(1 + g(r - m^2))/(1 + g r)`` (eq. E3)."""
    return -sp.log(1 + g_ * r_) / 2 - alpha_ / 2 * (1 + g_ * (r_ - m_**2)) / (1 + g_ * r_)


def energy_limit_map(m_=m, r_=r, g_=g, alpha_=alpha):
    """MAP energy: ``e`` without the Occam term ``-1/2 log(1 + g r)`` (THEORY.md §7)."""
    return -alpha_ / 2 * (1 + g_ * (r_ - m_**2)) / (1 + g_ * r_)


def derive_energy_limit():
    """Derive ``e(m, r)`` from the evidence with mean data counts.

    Returns
    -------
    e : sympy.Expr
        The ``V^2`` coefficient, in terms of ``m, r, g, alpha``.
    e1_mean : sympy.Expr
        The ``V^1`` coefficient of the mean-count evidence (part of ``e1``; uses ``abar, abar2``).
    der : Derivation
    """
    der = Derivation("Energy: V -> infinity limit of the W-marginal evidence")
    der.step(
        "Mean data counts: E[x_s x_s'^T] = delta_ss' I/V + (1-delta_ss') 11^T/V^2; write I = Pi + 11^T/V. "
        "Every matrix below is a Pi + b 11^T: eigenvalue a on Pi (multiplicity V-1) and a + V b on 1/sqrt(V)."
    )
    # eigenvalues of E[C] = sum_{ss'} B_ss' E[G_ss']: Pi-part uses tr B = T r, 1-part uses 1^T B 1 = T abar2
    C_pi = der.step("Pi-eigenvalue of E[C] (tr B = T r)", P * T * r / V, "c_Pi")
    C_one = der.step("1-eigenvalue of E[C] (1^T B 1 = sum_t a_t^2 = T abar2)", P * T * a2bar / V, "c_1")
    D_pi = der.step("Pi-eigenvalue of E[D] (sum_t A_{t,t-1} = T m)", P * T * m / V, "d_Pi")
    D_one = der.step("1-eigenvalue of E[D] (sum_ts A_ts = T abar)", P * T * abar / V, "d_1")
    lam_pi = V / sigma2 + C_pi / kappa
    lam_one = V / sigma2 + C_one / kappa
    logp = (
        -V / 2 * ((V - 1) * sp.log(1 + sigma2 * C_pi / (V * kappa)) + sp.log(1 + sigma2 * C_one / (V * kappa)))
        + ((V - 1) * D_pi**2 / lam_pi + D_one**2 / lam_one) / (2 * kappa**2)
        - P * T / (2 * kappa)
    )
    der.step("log p(Y|A) with mean counts (constant -(PTV/2) log 2 pi kappa dropped)", logp, "log p")
    logp = sp.simplify(logp.subs(P, alpha * kappa * V**2 / T))
    logp = sp.expand(sp.expand_log(logp, force=True).subs(sigma2, g / alpha))
    der.step("Substitute P = alpha kappa V^2 / T and sigma2 = g / alpha: a polynomial in V", logp, "log p")
    poly = sp.Poly(logp, V)
    assert poly.degree() == 2, "mean-count evidence must be quadratic in V"
    e = energy_limit()
    check = sp.simplify(sp.expand_log(poly.coeff_monomial(V**2) - e, force=True))
    der.step("Leading order V^2 (the V^2 coefficient minus this closed form simplifies to 0)", e, "e")
    if check != 0:
        raise AssertionError(f"energy limit derivation disagrees with the closed form: {check}")
    e1_mean = (
        sp.log(1 + g * r) / 2
        - sp.log(1 + g * a2bar) / 2
        - alpha / 2 * g * m**2 / (1 + g * r)
        + alpha / 2 * g * abar**2 / (1 + g * a2bar)
    )
    check1 = sp.simplify(sp.expand_log(poly.coeff_monomial(V) - e1_mean, force=True))
    if check1 != 0:
        raise AssertionError(f"order-V mean-count term disagrees: {check1}")
    der.step(
        "Order V, mean counts only (V^1 coefficient minus this simplifies to 0); "
        "data fluctuations add more, see 06_finite_size",
        e1_mean,
        "e1_mean",
    )
    return e, e1_mean, der


def derive_training_error():
    """Training error per token of the posterior-mean readout at leading order.

    ``W_bar^T = Lam^{-1} D / kappa -> c I`` on ``Pi`` with ``c = g m/(1+g r)``; then
    ``|y - c z|^2 -> 1 - 2 c m + c^2 r``.
    """
    der = Derivation("Training error of the posterior-mean readout")
    c = der.step("Posterior-mean readout on Pi: W_bar = c I", g * m / (1 + g * r), "c")
    eps = der.step("eps = <|y_t - c z_t|^2>: y.z -> m, |z|^2 -> r", sp.expand(1 - 2 * c * m + c**2 * r), "eps")
    return eps, der
