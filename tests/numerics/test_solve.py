"""Solver vs an independent dense-grid computation on the same reduced F; classification checks."""
import json

import numpy as np
import pytest
import sympy as sp

from copyhead.numerics.continuation import ContinuationError, newton_x
from copyhead.numerics.kernels import Kernel
from copyhead.numerics.solve import solve
from copyhead.theory.landau import critical_alpha, tricritical_sigma2
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.symbolic.reduced import reduced_free_energy, variable
from copyhead.theory.symbolic.symbols import Sg, T, alpha, nu, sigma2


def _lambdified(model):
    """F and F_x from SymPy via NumPy lambdify (independent of the generated kernels)."""
    F = reduced_free_energy(model.attention, model.prior, model.objective)
    x = variable(model.attention)
    args = (x, alpha, T, nu, sigma2, Sg)
    f = sp.lambdify(args, F, "numpy")
    fx = sp.lambdify(args, sp.diff(F, x), "numpy")
    p = (model.T, model.nu, model.sigma2)
    return (lambda xs, a: f(xs, a, *p, np.sign(xs))), (lambda xs, a: fx(xs, a, *p, np.sign(xs)))


def _n_minima(fx, xs, a):
    v = fx(xs, a)
    return int(np.sum((v[:-1] < 0) & (v[1:] >= 0)))


def _bisect(pred, lo, hi, tol=1e-9):
    """Bisection for the alpha where the boolean pred switches (pred(lo) != pred(hi))."""
    plo = pred(lo)
    assert pred(hi) != plo
    while abs(hi - lo) > tol * abs(hi):  # lo may lie above hi
        mid = 0.5 * (lo + hi)
        if pred(mid) == plo:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def test_softmax_spinodals_and_coexistence_against_dense_grid():
    model = Model(attention="softmax")
    res = solve(model)
    t = res.transition
    assert t.kind == "first-order"
    f, fx = _lambdified(model)
    xs = np.linspace(-3.0, 8.0, 400001)  # spacing 2.75e-5: fold located to ~(spacing)^2 in alpha
    lo = _bisect(lambda a: _n_minima(fx, xs, a) >= 2, 0.9 * t.alpha_spinodal_low, 0.5 * (t.alpha_spinodal_low + t.alpha_c))
    hi = _bisect(lambda a: _n_minima(fx, xs, a) >= 2, 1.1 * t.alpha_spinodal_high, 0.5 * (t.alpha_spinodal_high + t.alpha_c))
    assert t.alpha_spinodal_low == pytest.approx(lo, abs=1e-5)
    assert t.alpha_spinodal_high == pytest.approx(hi, abs=1e-5)
    m_mid = 0.5 * (t.m_below + t.m_above)
    x_mid = np.log(m_mid * (model.T - 1) / (1 - m_mid))

    def copy_wins(a):
        F = f(xs, a)
        return xs[np.argmin(F)] > x_mid

    ac = _bisect(copy_wins, t.alpha_spinodal_low * 1.0001, t.alpha_spinodal_high * 0.9999, tol=1e-10)
    assert t.alpha_c == pytest.approx(ac, abs=1e-5)
    assert t.m_below < 0.2 < 0.5 < t.m_above
    # the spinodals are folds refined to 1e-8 in alpha: residual of the extended system
    assert len(res.folds) == 2 and all(fd.residual < 1e-8 for fd in res.folds)
    k = Kernel(model)
    for fd in res.folds:
        d = k(fd.x, fd.alpha)
        assert abs(d[1]) < 1e-10 and abs(d[2]) < 1e-8


def test_softmax_map_first_order_against_dense_grid():
    model = Model(attention="softmax", objective="map")
    t = solve(model).transition
    assert t.kind == "first-order"
    f, fx = _lambdified(model)
    xs = np.union1d(np.linspace(-3.0, 8.0, 200001), [0.0])  # the kink s = 0 must be a grid point

    def copy_wins(a):
        F = f(xs, a)
        return xs[np.argmin(F)] > 0.5

    ac = _bisect(copy_wins, t.alpha_spinodal_low * 1.0001, t.alpha_spinodal_high * 0.9999, tol=1e-10)
    assert t.alpha_c == pytest.approx(ac, abs=1e-4)


def test_linear_critical_point_matches_closed_form():
    res = solve(Model(attention="linear"))
    assert res.transition.kind == "second-order"
    assert res.transition.alpha_c == pytest.approx(critical_alpha(8, 0.5, 0.1), rel=1e-10)
    assert res.landau_b > 0
    assert res.transition.m_below == res.transition.m_above == 0.0


def test_linear_classification_on_both_sides_of_tricritical_point():
    s2t = tricritical_sigma2(8, 0.5)
    below = solve(Model(attention="linear", sigma2=0.6 * s2t))
    above = solve(Model(attention="linear", sigma2=1.6 * s2t))
    assert below.transition.kind == "first-order" and below.landau_b < 0
    assert above.transition.kind == "second-order" and above.landau_b > 0
    # subcritical: m = 0 is metastable up to the pitchfork, the ordered branch appears at a fold below it
    t = below.transition
    ac = critical_alpha(8, 0.5, 0.6 * s2t)
    assert t.alpha_spinodal_high == pytest.approx(ac, rel=1e-9)
    assert t.alpha_spinodal_low < t.alpha_c < t.alpha_spinodal_high
    assert t.m_below == 0.0 and t.m_above > 0.3


def test_softmax_crossover_beyond_critical_end_point():
    t = solve(Model(attention="softmax", sigma2=1.0)).transition
    assert t.kind == "crossover"
    assert t.alpha_spinodal_low is None and t.alpha_spinodal_high is None


def test_every_branch_point_is_stationary():
    res = solve(Model(attention="softmax"))
    k = Kernel(res.model)
    for b in res.branches:
        assert np.max(b.residual) < 1e-9
        for a, x in zip(b.alpha[::10], b.x[::10]):
            assert abs(k(x, a)[1]) < 1e-9
        if b.kind == "smooth":
            mid = len(b.x) // 2
            assert (k(b.x[mid], b.alpha[mid])[2] > 0) == b.stable


def test_json_is_finite_and_has_the_keys():
    d = json.loads(solve(Model(attention="linear")).to_json())
    for key in ("transition", "alpha_c", "alpha_spinodal_low", "alpha_spinodal_high", "m_below", "m_above", "landau_b"):
        assert key in d


def test_failures_are_loud():
    k = Kernel(Model())
    with pytest.raises(ContinuationError, match="did not converge"):
        newton_x(k, 1.0, 1.0e-9, 0.9, 1.1)  # no stationary point in a tiny window
    with pytest.raises(ParameterError):
        solve(Model(V=16))
    with pytest.raises(ParameterError):
        solve(Model(), alpha_range=(5.0, 1.0))


def test_linear_map_is_first_order_with_m0_always_metastable():
    """MAP (THEORY.md §7): the kink of nu T |m| keeps m = 0 a strict local minimum for every alpha."""
    res = solve(Model(attention="linear", objective="map"))
    t = res.transition
    assert t.kind == "first-order"
    assert t.alpha_spinodal_high is None  # m = 0 never loses stability
    assert t.m_below == 0.0 and t.m_above > 0.5
    sym = [b for b in res.branches if b.kind == "symmetric"]
    assert len(sym) == 1 and sym[0].stable
    # independent: at alpha_c the ordered minimum of F_MAP(m) = nu T |m| + (alpha/2)/(1 + g m^2) equals F(0)
    T_, nu_, s2 = 8, 0.5, 0.1
    F = lambda m, a: nu_ * T_ * abs(m) + 0.5 * a / (1 + s2 * a * m * m)
    ms = np.linspace(0, 3, 300001)
    assert F(ms, t.alpha_c).min() == pytest.approx(F(0.0, t.alpha_c), abs=1e-8)
    assert ms[np.argmin(F(ms, t.alpha_c * 1.001))] == pytest.approx(t.m_above, abs=0.01)
