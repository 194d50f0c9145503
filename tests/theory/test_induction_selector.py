"""The informative-parent criterion (modified chi-square mutual information) against brute force."""
import numpy as np
import pytest
from scipy import integrate

from copyhead.theory.induction import InductionModel, chi2_information, selector_criterion, selector_signal
from copyhead.theory.induction.data import sample_chains, sample_tables
from copyhead.theory.induction.selector import stationary_contexts, transition_matrix, window_joint


def _model(**kw):
    base = dict(n=3, S=3, L=100, heads=3, window=3, degree=2)
    base.update(kw)
    return InductionModel(**base)


def test_stationary_law_and_window_joint_against_a_long_chain():
    """rho P = rho to 1e-12; the stationary joint of (x_{t-3}..x_t) equals the frequencies of 400
    chains of 1100 steps (the first 100 dropped) to 4e-3 (about 5 standard errors of a frequency of
    0.05 with the chains' autocorrelation; the table has Dirichlet(2) rows and mixes fast)."""
    m = _model(dirichlet=2.0)
    rng = np.random.default_rng(20)
    pi = sample_tables(m, 1, rng)
    rho = stationary_contexts(m, pi)
    P = transition_matrix(m, pi)
    assert np.allclose(rho @ P[0], rho, atol=1e-12) and rho.sum() == pytest.approx(1.0)
    J = window_joint(m, pi)[0]
    x = sample_chains(m, np.repeat(pi, 400, axis=0), 1100, rng)[:, 100:]
    idx = ((x[:, :-3] * 3 + x[:, 1:-2]) * 3 + x[:, 2:-1]) * 3 + x[:, 3:]
    emp = np.bincount(idx.ravel(), minlength=81).reshape(3, 3, 3, 3) / idx.size
    assert np.abs(emp - J).max() < 4e-3


def test_criterion_forms_agree():
    """(*) = sum mu(z,y)^2/mu(y) - sum mu(z)^2 = sum_z mu(z)^2 chi2(mu(.|z) || mu) (to 1e-12)."""
    m = _model()
    pi = sample_tables(m, 50, np.random.default_rng(21))
    J = window_joint(m, pi)  # axes: offsets 3, 2, 1, 0
    val = chi2_information(m, pi, [(1, 2)])[:, 0]
    joint = J.sum(axis=1).reshape(50, 9, 3)  # keep offsets 2, 1 and y
    mz, my = joint.sum(-1), joint.sum(-2)
    form2 = (joint ** 2 / my[:, None, :]).sum((1, 2)) - (mz ** 2).sum(-1)
    cond = joint / mz[..., None]
    form3 = (mz ** 2 * ((cond - my[:, None, :]) ** 2 / my[:, None, :]).sum(-1)).sum(-1)
    assert np.allclose(val, form2, atol=1e-12) and np.allclose(val, form3, atol=1e-12)


def _g_two_state(p, s):
    """(*) for S = n = 2, U = {1} in closed form, in the escape probabilities p = pi(1|0) and
    s = pi(0|1): stationary mu(1) = p / (p + s); mu(z, y) = mu(z) pi(y|z)."""
    if p == 0.0:  # state 1 is never entered (an end point of the quadrature): mu = (1, 0), (*) = 0
        return 0.0
    mu1 = p / (p + s)
    mu = np.array([1 - mu1, mu1])
    rows = np.array([[1 - p, p], [s, 1 - s]])
    joint = mu[:, None] * rows
    my = joint.sum(0)
    num = (joint - mu[:, None] * my[None, :]) ** 2
    return float(sum(num[z, y] / my[y] for z in range(2) for y in range(2) if my[y] > 0))


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("a", [0.1, 1.0])
def test_prior_average_against_quadrature(a):
    """Monte Carlo prior average (20 000 tables) = 2-d quadrature over the two Beta(a, a) rows of
    the closed-form two-state integrand (p = pi(1|0), s = pi(0|1) i.i.d. Beta(a, a)), within 4 Monte Carlo standard errors. (At a = 0.1 QUADPACK
    warns about the corner p, s -> 0 where mu(1) = p / (p + s) is not continuous; its
    result still agrees with the Monte Carlo to 0.6 standard errors; epsrel 1e-3 moves the integral by
    2e-4 = 0.15 standard errors against epsrel 1e-8 and keeps the test at a few seconds.)"""
    m = InductionModel(n=2, S=2, L=10, dirichlet=a, heads=1, window=1, degree=1)
    pred = selector_criterion(m, draws=20000, seed=5)
    assert pred.subsets == [(1,)]
    norm = integrate.quad(lambda p: 1.0, 0, 1, weight="alg", wvar=(a - 1, a - 1))[0]
    inner = lambda p: integrate.quad(lambda q: _g_two_state(p, q), 0, 1, weight="alg", wvar=(a - 1, a - 1),  # noqa: E731
                                     epsrel=1e-3, limit=100)[0]
    exact = integrate.quad(inner, 0, 1, weight="alg", wvar=(a - 1, a - 1), epsrel=1e-3, limit=100)[0] / norm ** 2
    assert abs(pred.values[0] - exact) < 4 * pred.se[0]
    # and the per-table computation equals the closed form
    pi = sample_tables(m, 5, np.random.default_rng(6))
    per = chi2_information(m, pi, [(1,)])[:, 0]
    assert np.allclose(per, [_g_two_state(t[0, 1], t[1, 0]) for t in pi], rtol=1e-9, atol=1e-14)


def test_finite_L_gradient_signal_tends_to_the_criterion():
    """The derivation: the first-order selector gradient g_U averaged over long sequences of one
    table equals (*) of that table. L = 3000, 300 sequences; tolerance 4 standard errors + 0.01
    (the O(1/L) bias of the ratio estimator and the uniform start)."""
    m = _model(dirichlet=1.0, L=3000, eps=0.0)
    rng = np.random.default_rng(22)
    pi = sample_tables(m, 1, rng)
    x = sample_chains(m, np.repeat(pi, 300, axis=0), m.L + 1, rng)
    sig = selector_signal(m, x[:, :-1], x[:, -1])
    exact = chi2_information(m, pi, sig["subsets"])[0]
    assert np.all(np.abs(sig["mean"] - exact) < 4 * sig["se"] + 0.01), (sig["mean"], exact, sig["se"])
    assert np.argmax(sig["mean"]) == np.argmax(exact)


def test_prediction_at_the_paper_setting_is_the_parent_set():
    """n = 3, S = 3, a = 0.1, window 3, degree 2: the selector keeps exactly the two parents, by a
    clear margin; with degree 1 it keeps one offset; with n = 2 the single parent."""
    pred = selector_criterion(_model(), draws=4000, seed=0)
    assert pred.predicted == (1, 2) and pred.margin_z > 5
    one = selector_criterion(_model(degree=1), draws=4000, seed=0)
    assert len(one.predicted) == 1
    two = selector_criterion(_model(n=2), draws=4000, seed=0)
    assert two.predicted == (1,) and two.margin_z > 5
    big = selector_criterion(_model(window=4, heads=4, degree=3), draws=4000, seed=0)
    assert big.predicted == (1, 2)  # supersets of the parents are penalised by the mu(z)^2 weight
