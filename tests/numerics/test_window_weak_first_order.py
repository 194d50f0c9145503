"""Linear attention with K = 3 parents or T = 3: weak first-order cascades right below the point where
the uniform state loses stability, checked against minimisation at fixed alpha (no continuation).

The uniform state ``x = 0`` loses stability where the smallest Hessian eigenvalue at ``x = 0``
changes sign (computed here directly). Below that point the solver finds a subcritical copying
branch (fold = low spinodal) whose free energy crosses the uniform one: the independent check
minimises ``F`` at fixed alpha (trust-region Newton from random and from the solver's states; no
continuation, no events) just below and above the reported ``alpha_c``.

Tolerances: ``Delta F`` of these transitions is ``~1e-6`` over ``~1e-4`` in alpha (slope ``~5e-3``);
the checks sit ``3e-5`` from ``alpha_c`` (``|Delta F| ~ 1.5e-7``), far above the minimiser's
``gtol = 1e-12`` (``|Delta F|`` error ``~ gtol^2 / mu``, ``mu >= 1e-4``), and compare free
energies of matched states to ``1e-10`` (interpolation on the branch + Newton: ``1e-12``).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from copyhead.numerics.window_free import WindowFreeEnergy
from copyhead.numerics.window_solve import solve_window
from copyhead.theory.model import Model


def _minimise(fe, x0, alpha):
    r = minimize(lambda z: fe.derivatives(z, alpha)[0], x0, jac=lambda z: fe.derivatives(z, alpha)[1],
                 hess=lambda z: fe.derivatives(z, alpha)[2], method="trust-exact",
                 options={"gtol": 1e-12, "maxiter": 3000})
    return r.x, float(r.fun)


def _global_min(fe, alpha, extra=(), n_random=30, seed=0):
    """Lowest local minimum at fixed alpha from random starts (three amplitudes) and ``extra`` starts."""
    rng = np.random.default_rng(seed)
    starts = [rng.normal(size=fe.n) * s for s in (0.02, 0.1, 0.3) for _ in range(n_random // 3)] + list(extra)
    return min((_minimise(fe, x0, alpha) for x0 in starts), key=lambda r: r[1])


def _rank(fe, x, tol=1e-3):
    M, _ = fe.order_parameters(x)
    return int(np.sum(np.linalg.svd(M, compute_uv=False) > tol))


def _loss_of_stability(fe, lo, hi):
    """alpha where the smallest Hessian eigenvalue of the uniform state x = 0 crosses zero (bisection)."""
    mu = lambda a: np.linalg.eigvalsh(fe.derivatives(np.zeros(fe.n), a)[2])[0]  # noqa: E731
    assert mu(lo) > 0 > mu(hi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mu(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def _check_first_order(fe, res, p, rank_below, rank_above, d=3e-5):
    """Minimisation at alpha_c -+ d: the global minimum has the rank of the phase on each side, and
    the two states' free energies cross (the lower one swaps)."""
    states = [b.x_at(fe, a) for b in (p.below, p.above) for a in (p.alpha,)]
    for da, rank in ((-d, rank_below), (d, rank_above)):
        a = p.alpha + da
        x, F = _global_min(fe, a, extra=states)
        assert _rank(fe, x) == rank, (a, _rank(fe, x))
        Fb, Fa = p.below.F_at(fe, a), p.above.F_at(fe, a)
        assert F == pytest.approx(min(Fb, Fa), abs=1e-10)
        assert (Fb < Fa) == (da < 0)
    assert p.alpha_spinodal_low < p.alpha < p.alpha_spinodal_high


def test_single_head_three_parents_weak_first_order():
    """H = 1, K = 3: before the fix suspected to be an artefact (a 5e-4 window ending at alpha = 8); it is
    a genuine subcritical onset: the copying state is a local minimum with lower F than the uniform one
    above alpha_c, while the uniform state is still stable (up to 8)."""
    model = Model(heads=1, parents=3, attention="linear")
    fe = WindowFreeEnergy(model)
    res = solve_window(model)
    a8 = _loss_of_stability(fe, 7.9, 8.1)
    assert a8 == pytest.approx(8.0, abs=1e-9)
    t = res.transition
    assert t.kind == "first-order" and t.frm == "uniform"
    assert t.alpha_spinodal_high == pytest.approx(a8, abs=1e-7)
    assert 7.999 < t.alpha_spinodal_low < t.alpha < a8
    _check_first_order(fe, res, t, 0, 1)
    # below the low spinodal only the uniform state is a minimum (no copying state anywhere)
    x, _ = _global_min(fe, t.alpha_spinodal_low - 5e-5, extra=[t.above.x_at(fe, t.alpha)])
    assert _rank(fe, x) == 0


def test_two_heads_T3_cascade_no_tangency_error():
    """H = K = 2, T = 3 used to fail ('eigenvalue 1 does not change sign (2.5e-07, 0.000109)': a numerically
    zero eigenvalue next to the fourfold branch point at alpha = 5). Now: uniform -> one head copies ->
    both copy, two weak first-order transitions below alpha = 5 (each narrower than the global-minimum
    grid step: the cascade is resolved by checking for lower branches at each crossing)."""
    model = Model(heads=2, parents=2, T=3, attention="linear")
    fe = WindowFreeEnergy(model)
    res = solve_window(model)
    a5 = _loss_of_stability(fe, 4.9, 5.1)
    kinds = [(p.frm, p.to, p.kind) for p in res.phases]
    assert kinds == [("uniform", "partial", "first-order"), ("partial", "mixed", "first-order")]
    p1, p2 = res.phases
    assert p1.alpha < p2.alpha < a5
    _check_first_order(fe, res, p1, 0, 1)
    _check_first_order(fe, res, p2, 1, 2)


@pytest.mark.slow
@pytest.mark.parametrize("alpha_range", [None, (3.0, 12.0)])
def test_three_heads_three_parents_cascade(alpha_range):
    """H = K = 3 used to fail ('global minimum jumps from a uniform branch [4, 8] to a mixed branch [8, 16]
    near alpha=7.99 without a crossing'; with an explicit range as in ``window-study``: 'eigenvalue 7 does
    not change sign'). The heads start copying one after the other within 4e-4 below alpha = 8 (ninefold
    branch point of the uniform state; the copying branches are not axial, so they are reached by the
    seeds just below the branch point): two weak first-order transitions, then the third head at the
    branch point itself (second order) into the full-rank mixed phase. ~20 s per solve."""
    model = Model(heads=3, parents=3, attention="linear")
    fe = WindowFreeEnergy(model)
    res = solve_window(model, alpha_range=alpha_range)
    a8 = _loss_of_stability(fe, 7.9, 8.1)
    kinds = [(p.frm, p.to, p.kind) for p in res.phases]
    assert kinds == [("uniform", "partial", "first-order"), ("partial", "partial", "first-order"),
                     ("partial", "mixed", "second-order")]
    p1, p2, p3 = res.phases
    assert p1.alpha < p2.alpha < p3.alpha == pytest.approx(a8, abs=1e-7)
    assert res.transition is p3
    _check_first_order(fe, res, p1, 0, 1)
    _check_first_order(fe, res, p2, 1, 2, d=0.4 * (p3.alpha - p2.alpha))  # |Delta F| ~ 2e-8 there
    x, _ = _global_min(fe, a8 + 1e-3, extra=[p3.above.x_at(fe, a8 + 1e-3)])
    assert _rank(fe, x) == 3
