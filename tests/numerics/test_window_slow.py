"""Slow physics checks of the window solver: the ansatz in every phase and for H = 1, 3; a dense 4-D
brute-force scan across the first-order transition; the tricritical point against the curvature of
the bifurcating branch."""
import numpy as np
import pytest

from copyhead.numerics.window_check import check_window_ansatz, dense_scan
from copyhead.numerics.window_continuation import switch_branch
from copyhead.numerics.window_free import WindowFreeEnergy
from copyhead.numerics.window_phase_diagram import window_phase_lines
from copyhead.numerics.window_solve import solve_window, symmetric_events
from copyhead.theory.model import Model

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kw,alphas", [
    (dict(heads=2, parents=2), (20.0, 24.5, 28.0, 40.0)),  # uniform, coexistence (both sides of alpha_c), specialised
    (dict(heads=1, parents=2), (20.0, 35.0)),
    (dict(heads=3, parents=2), (20.0, 35.0)),
])
def test_ansatz_in_every_phase(kw, alphas):
    m = Model(**kw)
    res = solve_window(m)
    for a in alphas:
        chk = check_window_ansatz(m, a, result=res, n_random=4, maxiter=3000)
        assert chk.best_gap > -1e-9, chk.summary()
        conv = [r for r in chk.runs if r["converged"]]
        assert len(conv) >= len(chk.runs) - 2
        assert max(r["distance"] for r in conv) < 1e-5, chk.summary()


def test_dense_scan_H2_K2_across_the_first_order_transition():
    """T = 3 (state dimension 4, 51^4 grid, spacing 0.14): the polished grid minima are the solver's stable states and
    the lower one changes at the solver's alpha_c."""
    m = Model(T=3, heads=2, parents=2)
    res = solve_window(m)
    fe = WindowFreeEnergy(m)
    t = res.transition
    assert t.kind == "first-order"
    for a, lower in ((0.999 * t.alpha, "uniform"), (1.001 * t.alpha, "specialised")):
        scan = dense_scan(m, a, half_width=3.5, n=51)
        found = sorted({round(F, 7) for F, _ in scan.polished_minima})
        theory = sorted(round(b.F_at(fe, a), 7) for b in res.stable_branches() if b.covers(a))
        assert np.allclose(found, sorted(set(theory)), atol=2e-7)
        best = min((b for b in res.stable_branches() if b.covers(a)), key=lambda b: b.F_at(fe, a))
        assert best.label == lower


def _pitchfork_curvature(model, eps=0.02):
    """(alpha - alpha_b)/eps^2 on the branch bifurcating at the first branch point of the symmetric branch:
    > 0 supercritical (continuous), < 0 subcritical (first order)."""
    fe = WindowFreeEnergy(model)
    ev = [e for e in symmetric_events(fe) if e.kind == "branch"][0]
    _, a1, _ = switch_branch(fe, ev, ev.null[:, 0], 1.0, eps=eps)
    return (a1 - ev.alpha) / eps**2


def test_tricritical_point_where_the_pitchfork_changes_side():
    """Bisection on the classification (coexistence present or not) and the curvature of the bifurcating
    branch at the branch point (an independent quantity) change sign at the same nu."""
    base = Model(heads=2, parents=2, sigma2=3.0)
    pd = window_phase_lines(base, "nu", 0.7, 0.9, n=3, rtol=1e-3)
    tcp = pd.special["tricritical_point"]
    nu_t = tcp["nu"]
    assert 0.7 < nu_t < 0.9
    assert _pitchfork_curvature(base.replace(nu=nu_t * 0.97)) < 0 < _pitchfork_curvature(base.replace(nu=nu_t * 1.03))
