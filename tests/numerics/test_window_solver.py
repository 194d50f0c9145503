"""Window-copier solver: exact derivatives, H = K = 1 equal to the single-head solver, closed-form
onset of linear attention, the default first-order specialisation, the continuous case, a dense
brute-force scan and the unconstrained-score ansatz check."""
import numpy as np
import pytest

from copyhead.numerics.kernels import Kernel
from copyhead.numerics.solve import solve
from copyhead.numerics.window_check import check_window_ansatz, dense_scan
from copyhead.numerics.window_free import WindowFreeEnergy
from copyhead.numerics.window_solve import solve_window
from copyhead.theory.model import Model, ParameterError


@pytest.fixture(scope="module")
def default_window():
    return solve_window(Model(heads=2, parents=2))


@pytest.mark.parametrize("kw", [dict(heads=2, parents=2), dict(heads=3, parents=2, prior="gaussian"),
                                dict(heads=1, parents=2, attention="linear"), dict(heads=2, parents=3, T=5)])
def test_kernel_derivatives_exact(kw):
    """Numba kernel == NumPy (einsum) reference == central finite differences."""
    fe = WindowFreeEnergy(Model(sigma2=0.3, **kw))
    rng = np.random.default_rng(1)
    x = rng.standard_normal(fe.n) * (1.5 if fe.softmax else 0.3)
    a = 7.3
    F, g, H, ga = fe.derivatives(x, a)
    Fr, gr, Hr, gar = fe.derivatives_reference(x, a)
    assert F == pytest.approx(Fr, rel=1e-13) and F == pytest.approx(fe.value(x, a), rel=1e-13)
    assert np.max(np.abs(g - gr)) < 1e-11 and np.max(np.abs(H - Hr)) < 1e-10 and np.max(np.abs(ga - gar)) < 1e-10
    eps = 1e-6
    E = np.eye(fe.n)
    gfd = np.array([(fe.value(x + eps * e, a) - fe.value(x - eps * e, a)) / (2 * eps) for e in E])
    Hfd = np.array([(fe.derivatives(x + eps * e, a)[1] - fe.derivatives(x - eps * e, a)[1]) / (2 * eps) for e in E])
    gafd = (fe.derivatives(x, a + eps)[1] - fe.derivatives(x, a - eps)[1]) / (2 * eps)
    assert np.max(np.abs(g - gfd)) < 1e-7 and np.max(np.abs(H - Hfd)) < 1e-7 and np.max(np.abs(ga - gafd)) < 1e-7


def test_single_head_free_energy_on_the_ansatz_equals_generated_kernel():
    for att in ("softmax", "linear"):
        fe, k = WindowFreeEnergy(Model(attention=att)), Kernel(Model(attention=att))
        for s in (-1.0, 0.3, 2.0, 5.0):
            if att == "softmax":
                x = fe.state(s * (np.eye(8)[1] - 1 / 8))
                assert fe.value(x, 23.0) == pytest.approx(k.F(s, 23.0), abs=1e-12)
            else:
                x = fe.state(s * np.eye(8)[1])
                assert fe.value(x, 7.0) == pytest.approx(k.F(s * s, 7.0), abs=1e-12)


@pytest.mark.parametrize("attention", ["softmax", "linear"])
def test_H1_K1_reproduces_the_single_head_solver(attention):
    """The window solver in the T-1 (T) offset logits of one head finds today's transition to 1e-10."""
    ref = solve(Model(attention=attention)).transition
    t = solve_window(Model(attention=attention)).transition
    assert t.kind == ref.kind
    assert t.alpha == pytest.approx(ref.alpha_c, abs=1e-10)
    for a, b in ((t.alpha_spinodal_low, ref.alpha_spinodal_low), (t.alpha_spinodal_high, ref.alpha_spinodal_high)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a == pytest.approx(b, abs=1e-10)


@pytest.mark.parametrize("H,K", [(1, 2), (2, 2)])
def test_linear_onset_closed_form(H, K):
    """Linear attention: x = 0 loses stability at alpha_c = (K + sqrt(K^2 + 4 nu T/sigma2))/2 (the quadratic
    part of F is (nu T + K g - alpha g) |C_parents|^2 / 2 + ...), a continuous transition."""
    m = Model(attention="linear", heads=H, parents=K)
    t = solve_window(m).transition
    ac = (K + np.sqrt(K * K + 4 * m.nu * m.T / m.sigma2)) / 2
    assert t.kind == "second-order"
    assert t.alpha == pytest.approx(ac, rel=1e-11)


def test_default_window_copier_specialises_first_order(default_window):
    res = default_window
    t = res.transition
    assert (t.frm, t.to, t.kind) == ("uniform", "specialised", "first-order")
    assert t.alpha_spinodal_low < t.alpha < t.alpha_spinodal_high
    assert [(p.frm, p.to, p.kind) for p in res.phases] == [("uniform", "specialised", "first-order")]
    M = np.array(res.observables_at_transition["M_above"])
    assert M[0, 0] == pytest.approx(M[1, 1]) and M[0, 1] == pytest.approx(M[1, 0])  # heads swap with parents
    assert abs(M[0, 0] - M[0, 1]) > 0.3
    Mb = np.array(res.observables_at_transition["M_below"])
    assert np.allclose(Mb, Mb[0, 0], rtol=0, atol=1e-8)  # uniform: heads alike, parents alike
    for b in res.branches:
        assert np.max(b.residual) < 1e-8
    d = res.to_dict()
    assert d["transition"] == "first-order" and d["alpha_c"] == t.alpha and d["phases"][0]["to"] == "specialised"
    assert {"M", "R"} <= set(d["branches"][0])
    # the uniform branch loses stability at a symmetry-breaking branch point (the upper spinodal)
    assert any(e.kind == "branch" and abs(e.alpha - t.alpha_spinodal_high) < 1e-9 for e in res.events)
    # the specialised branch appears at a fold (the lower spinodal)
    assert any(e.kind == "fold" and abs(e.alpha - t.alpha_spinodal_low) < 1e-9 for e in res.events)


def test_continuous_specialisation_at_large_sigma2_and_nu():
    res = solve_window(Model(heads=2, parents=2, sigma2=3.0, nu=2.0))
    t = res.transition
    assert (t.frm, t.to, t.kind) == ("uniform", "specialised", "second-order")
    bp = [e for e in res.events if e.kind == "branch" and abs(e.alpha - t.alpha) < 1e-9]
    # a symmetry-breaking branch point: the null vector is orthogonal to dG/dalpha (1e-5 here: the accuracy
    # of the eigenvector; a fold has an O(1) projection)
    assert bp and bp[0].psi_dot_galpha < 1e-3
    assert t.below.stable and t.above.stable and t.above.q[np.argmin(t.above.alpha)] < 1e-3  # grows from 0


def test_dense_scan_agrees_with_the_solver():
    """T = 4, H = 1, K = 2 (state dimension 3): the grid minima, polished by Nelder-Mead (values only),
    are the solver's stable states, and their free energies cross at the solver's alpha_c."""
    m = Model(T=4, heads=1, parents=2)
    res = solve_window(m)
    fe = WindowFreeEnergy(m)
    ac = res.transition.alpha
    for a, lower in ((0.999 * ac, "uniform"), (1.001 * ac, "copying")):
        scan = dense_scan(m, a, half_width=6.0, n=101)
        found = sorted({round(F, 7) for F, _ in scan.polished_minima})
        theory = sorted(round(b.F_at(fe, a), 7) for b in res.stable_branches() if b.covers(a))
        assert np.allclose(found, theory, atol=2e-7)
        best = min((b for b in res.stable_branches() if b.covers(a)), key=lambda b: b.F_at(fe, a))
        assert best.label == lower
        assert scan.F_polished == pytest.approx(best.F_at(fe, a), abs=1e-8)


def test_ansatz_against_unconstrained_scores_short(default_window):
    """Every minimum over all H T^2 scores found from a few starts lies on the circulant family and
    none is below the ansatz (full study: the slow tier and ``copyhead`` docs)."""
    m = Model(heads=2, parents=2)
    for a in (28.0,):
        chk = check_window_ansatz(m, a, result=default_window, n_random=2, maxiter=2000)
        assert chk.best_gap > -1e-9
        assert chk.distance_at_best < 1e-5
        conv = [r for r in chk.runs if r["converged"]]
        assert max(r["distance"] for r in conv) < 1e-5


def test_invalid_window_models():
    with pytest.raises(ParameterError):
        WindowFreeEnergy(Model(heads=2, parents=2, objective="map"))
    with pytest.raises(ParameterError):
        WindowFreeEnergy(Model(heads=2, parents=2, attention="linear", prior="gaussian"))
    with pytest.raises(ParameterError):
        solve_window(Model(heads=2, parents=2, V=16))
