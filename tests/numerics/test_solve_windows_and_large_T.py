"""Issue 8 §1 items 1, 2, 4: user alpha windows (only what lies inside is reported, never an invented
transition) and large T (relative tolerances; the upper spinodal decades above alpha_c)."""
import math

import numpy as np
import pytest

from copyhead.numerics.bruteforce import free_energy, point_is_minimum
from copyhead.numerics.continuation import stationarity_residual
from copyhead.numerics.kernels import Kernel
from copyhead.numerics.solve import solve
from copyhead.theory.landau import critical_alpha
from copyhead.theory.model import Model


@pytest.mark.parametrize("attention, window", [("softmax", (30, 31)), ("softmax", (10, 12)), ("softmax", (40, 60)),
                                               ("softmax", (2, 5)), ("linear", (10, 12)), ("linear", (1, 3))])
def test_window_without_transition_reports_none(attention, window):
    """Issue 8 §1.1 (internal error: finite-difference step past a branch end) and §1.2 (an invented
    'crossover' at alpha_c = 1.011 with residual 2.0 and converged: true): a window on one side of
    the transition has no transition in it."""
    res = solve(Model(attention=attention), alpha_range=window)
    t = res.transition
    assert t.kind == "none"
    assert t.alpha_c is None and t.m_below is None and t.m_above is None and t.residual is None
    assert t.alpha_spinodal_low is None and t.alpha_spinodal_high is None  # none lies inside these windows
    assert res.converged and res.max_residual < 1e-9
    d = res.to_dict()
    assert d["transition"] == "none" and d["alpha_c"] is None and d["converged"] is True


def test_window_reports_only_what_lies_inside():
    full = solve(Model()).transition
    # contains the lower spinodal but not the coexistence point: no transition, the spinodal is reported
    t = solve(Model(), alpha_range=(22.0, 23.0)).transition
    assert t.kind == "none" and t.alpha_c is None
    assert t.alpha_spinodal_low == pytest.approx(full.alpha_spinodal_low, rel=1e-10)
    assert t.alpha_spinodal_high is None
    # contains the coexistence point but neither spinodal: first order, spinodals null
    t = solve(Model(), alpha_range=(23.0, 25.0)).transition
    assert t.kind == "first-order" and t.alpha_c == pytest.approx(full.alpha_c, rel=1e-12)
    assert t.alpha_spinodal_low is None and t.alpha_spinodal_high is None
    assert t.m_below == pytest.approx(full.m_below, rel=1e-9) and t.m_above == pytest.approx(full.m_above, rel=1e-9)
    # linear: a window around the critical point gives the closed form; the Landau b is reported only then
    r = solve(Model(attention="linear"), alpha_range=(6.0, 8.0))
    assert r.transition.kind == "second-order"
    assert r.transition.alpha_c == pytest.approx(critical_alpha(8, 0.5, 0.1), rel=1e-12)
    assert r.landau_b is not None and solve(Model(attention="linear"), alpha_range=(1, 3)).landau_b is None


def test_crossover_is_an_interior_inflection_not_a_window_edge():
    """Beyond the critical end point the crossover is the inflection of m(alpha); a window that
    cuts it off on either side has none."""
    full = solve(Model(sigma2=1.0)).transition
    assert full.kind == "crossover" and full.residual < 1e-8
    inside = solve(Model(sigma2=1.0), alpha_range=(0.8 * full.alpha_c, 1.2 * full.alpha_c)).transition
    assert inside.kind == "crossover" and inside.alpha_c == pytest.approx(full.alpha_c, rel=1e-8)
    assert solve(Model(sigma2=1.0), alpha_range=(1.2 * full.alpha_c, 2 * full.alpha_c)).transition.kind == "none"
    assert solve(Model(sigma2=1.0), alpha_range=(0.3 * full.alpha_c, 0.7 * full.alpha_c)).transition.kind == "none"


def test_residuals_are_relative_at_large_T():
    """Issue 8 §1.4: at T = 10^4 the terms of F_x are ~1e4 and an absolute |F_x| < 1e-9 is out of
    reach in floating point; the relative residual (a backward error) is ~1e-16."""
    model = Model(T=10_000)
    res = solve(model)
    k = Kernel(model)
    assert res.converged and res.max_residual < 1e-12
    assert len(res.folds) == 2
    for f in res.folds:
        assert stationarity_residual(k(f.x, f.alpha), f.x, f.alpha) < 1e-12
        assert abs(k(f.x, f.alpha)[1]) > 1e-14  # the absolute residual is not tiny: relative is the right test


@pytest.mark.parametrize("T", [1000, 10_000])
def test_upper_spinodal_found_decades_above_alpha_c(T):
    """Issue 8 §1.4: at T = 1000 the upper spinodal (~ nu T^2) lay outside the automatic window and was
    silently missing. Checked against the brute-force one-sided scan of the disordered minimum."""
    model = Model(T=T)
    t = solve(model).transition
    assert t.kind == "first-order"
    assert t.alpha_spinodal_high > 10 * t.alpha_c > 10 * t.alpha_spinodal_low
    # brute force: the disordered minimum near s = 0 exists just below and not just above the spinodal
    s = np.linspace(-1.0, 4.0, 200001)

    def disordered_minimum(a):
        F = free_energy(model, s, a)
        i = np.nonzero((F[1:-1] < F[:-2]) & (F[1:-1] <= F[2:]))[0] + 1
        return bool(len(i)) and s[i[0]] < 3.0

    assert disordered_minimum(t.alpha_spinodal_high * (1 - 1e-4))
    assert not disordered_minimum(t.alpha_spinodal_high * (1 + 1e-4))


def test_T_one_million_converges():
    res = solve(Model(T=1_000_000))
    t = res.transition
    assert res.converged and t.kind == "first-order"
    assert t.alpha_spinodal_low < t.alpha_c < t.alpha_spinodal_high
    assert t.alpha_spinodal_high / t.alpha_spinodal_low > 1e4  # spinodals four decades apart
    assert 0 < t.m_below < 1e-5 < t.m_above < 0.05
