"""A bistable window narrower than one continuation step (QA: softmax T = 4 next to its critical end
point) and the residual of a crossover next to it; checked against F_xx on the stationary curve from
SymPy (independent of the generated kernels and of the continuation)."""
import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq

from copyhead.numerics.solve import solve
from copyhead.theory.model import Model
from copyhead.theory.symbolic.reduced import reduced_free_energy, variable
from copyhead.theory.symbolic.symbols import Sg, T, alpha, nu, sigma2

NU, S2 = 0.053713609431102136, 0.024742501407127294
NARROW = Model(attention="softmax", T=4, nu=NU, sigma2=S2)  # F_xx < 0 only for s in ~[1.018, 1.037]


def _derivatives(model):
    """F, F_x and F_xx of the reduced free energy, lambdified from SymPy."""
    F = reduced_free_energy(model.attention, model.prior, model.objective)
    x = variable(model.attention)
    args = (x, alpha, T, nu, sigma2, Sg)
    p = (model.T, model.nu, model.sigma2)
    fs = [sp.lambdify(args, e, "numpy") for e in (F, sp.diff(F, x), sp.diff(F, x, 2))]
    return [lambda xs, a, f=f: f(xs, a, *p, np.sign(xs)) for f in fs]


def _curve_folds(model, x_lo, x_hi, a_lo, a_hi, n=7001):
    """Folds of the stationary curve on a dense x grid: alpha(x) from F_x = 0 (brentq in alpha), the
    sign changes of F_xx(x, alpha(x)) located by linear interpolation. Returns [(x, alpha)]."""
    _, fx, fxx = _derivatives(model)
    xs = np.linspace(x_lo, x_hi, n)
    al = np.array([brentq(lambda a: fx(x, a), a_lo, a_hi, xtol=1e-300, rtol=1e-15) for x in xs])
    h = np.array([fxx(x, a) for x, a in zip(xs, al)])
    out = []
    for i in np.nonzero(np.sign(h[:-1]) != np.sign(h[1:]))[0]:
        w = h[i] / (h[i] - h[i + 1])
        out.append((xs[i] + w * (xs[i + 1] - xs[i]), al[i] + w * (al[i + 1] - al[i])))
    return out


def test_window_narrower_than_a_step_is_first_order():
    """Before: one continuation step jumped over both folds, and the result was a "crossover" with a
    relative residual of 0.5 (exit 1). Now both folds are found and coexistence is computed."""
    r = solve(NARROW)
    t = r.transition
    assert r.converged and t.kind == "first-order" and t.residual < 1e-8
    ref = _curve_folds(NARROW, 0.99, 1.06, 6.36, 6.38)
    assert len(ref) == 2  # exactly one fold pair on the dense grid
    lo, hi = sorted(a for _, a in ref)
    # grid error of a fold's alpha: alpha(x) is quadratic there, ~ 3e-6 * (dx / 0.01)^2 with dx = 1e-5;
    # the window itself is 5e-7 relative wide, so 1e-10 tells the two folds apart by a factor 5000
    assert t.alpha_spinodal_low == pytest.approx(lo, rel=1e-10)
    assert t.alpha_spinodal_high == pytest.approx(hi, rel=1e-10)
    assert lo < t.alpha_c < hi
    xf = sorted(x for x, _ in ref)
    assert all(any(abs(f.x - x) < 1e-4 for f in r.folds) for x in xf)  # grid spacing 1e-5


def test_coexistence_in_the_narrow_window():
    """The global minimum switches between the two minima at alpha_c (independent F from SymPy):
    a tenth of the window below alpha_c the low-m minimum is lower, a tenth above the high-m one."""
    t = solve(NARROW).transition
    F, fx, _ = _derivatives(NARROW)
    ref = sorted(x for x, _ in _curve_folds(NARROW, 0.99, 1.06, 6.36, 6.38))
    d = 0.1 * (t.alpha_spinodal_high - t.alpha_spinodal_low)
    for a, low_wins in ((t.alpha_c - d, True), (t.alpha_c + d, False)):
        x1 = brentq(lambda x: fx(x, a), 0.99, ref[0], xtol=1e-15)  # low-m minimum
        x2 = brentq(lambda x: fx(x, a), ref[1], 1.06, xtol=1e-15)  # high-m minimum
        assert (F(x1, a) < F(x2, a)) == low_wins


def test_crossover_next_to_the_end_point_has_a_small_residual():
    """Just past the critical end point (sigma2 0.2 % larger) there is no fold (F_xx > 0 on the dense
    grid) and the transition is a crossover; its residual used a fixed relative step 1e-4, wider than
    the peak of dm/dalpha, and came out 1.2e-8 > 1e-8 (not converged)."""
    model = Model(attention="softmax", T=4, nu=NU, sigma2=S2 * 1.002)
    r = solve(model)
    assert _curve_folds(model, 0.9, 1.2, 6.3, 6.42, n=3001) == []
    assert r.transition.kind == "crossover" and r.converged and r.transition.residual < 1e-10
