"""Linear critical point, Landau quartic and tricritical point: SymPy vs closed forms vs numerics."""
import numpy as np
import pytest
import sympy as sp

from copyhead.theory.landau import critical_alpha, landau_b, tricritical_sigma2
from copyhead.theory.symbolic.landau import critical_alpha_expr, derive_landau, landau_coefficients
from copyhead.theory.symbolic.reduced import linear_free_energy_in_m
from copyhead.theory.symbolic.symbols import T, alpha, m, nu, sigma2


@pytest.mark.parametrize("prior", ["qk", "gaussian"])
def test_critical_alpha_symbolic_equals_closed_form(prior):
    ac = critical_alpha_expr(prior)
    for vals in [(8, 0.5, 0.1), (4, 2.0, 1.3), (16, 0.1, 0.02)]:
        num = float(ac.subs({T: vals[0], nu: vals[1], sigma2: vals[2]}))
        assert num == pytest.approx(critical_alpha(*vals), rel=1e-13)


@pytest.mark.parametrize("prior", ["qk", "gaussian"])
def test_landau_coefficients_against_numerical_fit(prior):
    """a2, b from a polynomial fit of F_lin(m) - F_lin(0) in m^2 at small m (independent of series)."""
    a2, b = landau_coefficients(prior)
    F = sp.lambdify((m, alpha, T, nu, sigma2), linear_free_energy_in_m(prior), "mpmath")
    import mpmath as mp

    mp.mp.dps = 40
    pars = (7.3, 8, 0.5, 0.1)
    ms = [mp.mpf(k) / 400 for k in range(1, 9)]
    ys = [F(x, *pars) - F(0, *pars) for x in ms]
    # least squares in u = m^2: y = a2 u + b u^2 + c u^3 + d u^4
    Amat = mp.matrix([[x**2, x**4, x**6, x**8] for x in ms])
    coef = mp.lu_solve(Amat.T * Amat, Amat.T * mp.matrix(ys))
    sub = {alpha: pars[0], T: pars[1], nu: pars[2], sigma2: pars[3]}
    assert float(coef[0]) == pytest.approx(float(a2.subs(sub)), rel=1e-9)
    assert float(coef[1]) == pytest.approx(float(b.subs(sub)), rel=1e-6)
    assert float(b.subs(sub)) == pytest.approx(landau_b(8, 0.5, 0.1, 7.3, prior), rel=1e-12)


def test_hessian_at_zero_vanishes_at_alpha_c():
    F = linear_free_energy_in_m("qk")
    h = sp.lambdify((alpha, T, nu, sigma2), sp.diff(F, m, 2).subs(m, 0))
    ac = critical_alpha(8, 0.5, 0.1)
    assert abs(h(ac, 8, 0.5, 0.1)) < 1e-12
    assert h(0.9 * ac, 8, 0.5, 0.1) > 0 > h(1.1 * ac, 8, 0.5, 0.1)


def test_tricritical_point():
    s2t = tricritical_sigma2(8, 0.5)
    assert landau_b(8, 0.5, s2t, critical_alpha(8, 0.5, s2t)) == pytest.approx(0.0, abs=1e-12)
    assert landau_b(8, 0.5, 0.5 * s2t, critical_alpha(8, 0.5, 0.5 * s2t)) < 0  # first order below
    assert landau_b(8, 0.5, 2.0 * s2t, critical_alpha(8, 0.5, 2.0 * s2t)) > 0  # second order above
    assert landau_b(8, 0.5, 0.01, critical_alpha(8, 0.5, 0.01), "gaussian") > 0  # gaussian: never first order


def test_derivation_prints():
    assert "Landau" in derive_landau().to_text()
