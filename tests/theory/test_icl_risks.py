"""In-context regression theory (theory/icl_regression.py): parameter object, data generator, and every
closed-form risk against Monte Carlo of the predictor itself.

Monte Carlo tolerances are 4.5 standard errors of the sample mean (a false alarm rate ~1e-5 per
comparison); the samples are seeded, so the tests are deterministic.
"""
import math

import numpy as np
import pytest

from copyhead.theory.icl_regression import (
    ICLRegression,
    baseline_risks,
    debiased_step,
    default_L_grid,
    optimal_preconditioner,
    ridge_predict,
    risk_debiased_gd,
    risk_gd,
    risk_gd_opt,
    risk_preconditioned,
    risk_ridge,
    risk_single_head,
    sample_prompts,
    single_head_predict,
    wishart_bartlett,
)
from copyhead.theory.model import ParameterError

Z = 4.5


def _close(mc, se, value):
    assert abs(mc - value) < Z * se, f"MC {mc:.5f} +- {se:.5f} vs closed form {value:.5f}"


@pytest.mark.parametrize("kw", [dict(d=0), dict(L=1), dict(heads=0), dict(sigma2=0), dict(sigma2=float("nan")),
                                dict(attention="relu"), dict(d=2, cov_eigs=(1.0,)), dict(d=2, cov_eigs=(1.0, -1.0)),
                                dict(kappa=-1.0), dict(prior_kq=0.0), dict(d=2.5)])
def test_parameter_object_rejects_bad_values(kw):
    with pytest.raises(ParameterError):
        ICLRegression(**kw)


def test_parameter_object_is_frozen_and_replace_validates():
    p = ICLRegression()
    with pytest.raises(Exception):
        p.d = 3
    assert p.replace(d=3).d == 3 and p.D == 6 and p.noise == p.sigma2 and p.ridge_lambda == pytest.approx(0.5)
    with pytest.raises(ParameterError):
        p.replace(L=0)
    assert p.to_dict()["cov_eigs"] is None


def _prompts(p, n, L=None, seed=1):
    return sample_prompts(p, n, np.random.default_rng(seed), L)


@pytest.mark.parametrize("eigs", [None, (2.0, 0.5, 0.25)])
def test_data_generator_statistics(eigs):
    p = ICLRegression(d=3, L=6, sigma2=0.3, cov_eigs=eigs)
    n = 40000
    b = _prompts(p, n)
    x = b["x"].reshape(-1, 3)
    cov = x.T @ x / len(x)
    se = math.sqrt(2.0 / len(x)) * p.eigs.max()
    assert np.all(np.abs(cov - p.cov) < Z * se)
    beta_var = (b["beta"] ** 2).mean(0)
    assert np.all(np.abs(beta_var - 1 / p.d) < Z * math.sqrt(2.0 / n) / p.d)
    resid = b["y"] - np.einsum("nlj,nj->nl", b["x"], b["beta"])
    _close(float((resid ** 2).mean()), p.sigma2 * math.sqrt(2.0 / resid.size), p.sigma2)
    rq = b["yq"] - (b["xq"] * b["beta"]).sum(-1)
    _close(float((rq ** 2).mean()), p.sigma2 * math.sqrt(2.0 / n), p.sigma2)
    # the task is shared by context and query: E[y_i (x_i . x_q) y_q] = E[beta^T Sigma Sigma beta] = tr(Sigma^2)/d
    c = b["y"][:, 0] * (b["x"][:, 0] * b["xq"]).sum(-1) * b["yq"]
    _close(float(c.mean()), float(c.std() / math.sqrt(n)), float((p.eigs ** 2).sum() / p.d))


def test_bartlett_wishart_moments():
    rng = np.random.default_rng(3)
    W = wishart_bartlett(3, 7, 100000, rng)
    assert np.allclose(W.mean(0), 7 * np.eye(3), atol=0.1)
    # E[W^2] = m (m + d + 1) I for Sigma = I
    assert np.allclose((W @ W).mean(0), 7 * 11 * np.eye(3), rtol=0.03, atol=1.0)
    W = wishart_bartlett(4, 2, 100000, rng)  # singular: dof < d
    assert np.allclose(W.mean(0), 2 * np.eye(4), atol=0.05)
    assert np.allclose((W @ W).mean(0), 2 * 7 * np.eye(4), rtol=0.03, atol=0.5)
    assert np.linalg.matrix_rank(W[0]) == 2


def _gd_errors(p, b, Gamma, centred=False):
    x, y, xq, yq = b["x"], b["y"], b["xq"], b["yq"]
    L = x.shape[1]
    xs = x - x.mean(1, keepdims=True) if centred else x
    u = np.einsum("nl,nlj->nj", y, xs) / L
    yhat = np.einsum("nj,ij,ni->n", u, np.asarray(Gamma) * np.eye(p.d) if np.ndim(Gamma) == 0 else Gamma, xq)
    e = (yhat - yq) ** 2
    return float(e.mean()), float(e.std(ddof=1) / math.sqrt(e.size))


@pytest.mark.parametrize("eigs", [None, (2.0, 1.0, 0.2)])
def test_gd_family_closed_forms_match_monte_carlo(eigs):
    p = ICLRegression(d=3, L=10, sigma2=0.2, cov_eigs=eigs)
    b = _prompts(p, 200000, seed=5)
    _close(*_gd_errors(p, b, 1.0), risk_gd(p))
    _close(*_gd_errors(p, b, 0.6), risk_gd(p, step=0.6))
    _close(*_gd_errors(p, b, optimal_preconditioner(p, p.L, p.L)), risk_gd_opt(p))
    _close(*_gd_errors(p, b, debiased_step(p), centred=True), risk_debiased_gd(p))
    G = np.array([[0.7, 0.1, 0.0], [0.0, 0.9, -0.2], [0.3, 0.0, 0.5]])  # a non-symmetric preconditioner
    _close(*_gd_errors(p, b, G), risk_preconditioned(p, G, p.L, p.L))
    _close(*_gd_errors(p, b, G, centred=True), risk_debiased_gd(p, Gamma=G))


@pytest.mark.parametrize("eigs", [None, (3.0, 1.0, 0.5, 0.1)])
def test_optimal_preconditioner_is_the_numerical_minimum(eigs):
    from scipy.optimize import minimize

    p = ICLRegression(d=4, L=15, sigma2=0.1, cov_eigs=eigs)
    res = minimize(lambda g: risk_preconditioned(p, g.reshape(4, 4), 14, 15), np.eye(4).ravel(), method="BFGS",
                   options={"gtol": 1e-10})
    assert np.allclose(res.x.reshape(4, 4), debiased_step(p), atol=1e-5)
    assert res.fun == pytest.approx(risk_debiased_gd(p), abs=1e-12)
    eta = 15 / (15 + 4 + 1 + 0.1 * 4)
    if eigs is None:
        assert risk_gd_opt(p) == pytest.approx(risk_gd(p, step=eta), abs=1e-14)


@pytest.mark.parametrize("eigs", [None, (2.0, 0.5, 0.5)])
def test_debiased_gd_equals_gd_opt_with_one_sample_less_and_never_beats_it(eigs):
    p = ICLRegression(d=3, sigma2=0.1, cov_eigs=eigs)
    for L in range(2, 120):
        assert risk_debiased_gd(p, L) == pytest.approx(risk_gd_opt(p, L - 1), rel=1e-13, abs=1e-13) if L > 2 else True
        assert risk_debiased_gd(p, L) > risk_gd_opt(p, L)
    # Monte Carlo of the centred predictor at L against GD with L - 1 samples (the Helmert argument)
    b = _prompts(p, 200000, L=8, seed=9)
    mc, se = _gd_errors(p, b, debiased_step(p, 8), centred=True)
    _close(mc, se, risk_gd_opt(p, 7))


def test_isotropic_closed_forms():
    p = ICLRegression(d=5, L=40, sigma2=0.1)
    c = p.d + 1 + p.sigma2 * p.d
    assert risk_gd(p) == pytest.approx(p.sigma2 + c / p.L, rel=1e-14)
    assert risk_gd_opt(p) == pytest.approx(p.sigma2 + c / (p.L + c), rel=1e-14)
    assert risk_debiased_gd(p) == pytest.approx(p.sigma2 + c / (p.L - 1 + c), rel=1e-14)


@pytest.mark.parametrize("eigs,L", [(None, 6), ((2.0, 1.0, 0.3), 6), ((2.0, 1.0, 0.3), 2)])
def test_ridge_risk_matches_the_ridge_predictor(eigs, L):
    """L = 2 < d: the singular Wishart (Bartlett's chi2(L - j) has no draw for j >= L; it raised)."""
    p = ICLRegression(d=3, L=L, sigma2=0.2, cov_eigs=eigs)
    r, se = risk_ridge(p, n_mc=100000)
    b = _prompts(p, 200000, seed=11)
    e = (ridge_predict(p, b["x"], b["y"], b["xq"]) - b["yq"]) ** 2
    mc, mse = float(e.mean()), float(e.std(ddof=1) / math.sqrt(e.size))
    assert abs(mc - r) < Z * math.hypot(se, mse)
    # Bayes optimal: below every other predictor (gd_opt is a linear estimator of the same data)
    assert r < risk_gd_opt(p) < risk_gd(p)


def test_ridge_is_optimal_among_ridge_parameters():
    p = ICLRegression(d=3, L=6, sigma2=0.2)
    b = _prompts(p, 100000, seed=12)

    def err(lam):
        G = np.swapaxes(b["x"], 1, 2) @ b["x"] + lam * np.eye(3)
        beta = np.linalg.solve(G, np.swapaxes(b["x"], 1, 2) @ b["y"][..., None])[..., 0]
        return (((beta * b["xq"]).sum(-1) - b["yq"]) ** 2)

    e0 = err(p.ridge_lambda)
    for lam in (0.25 * p.ridge_lambda, 4 * p.ridge_lambda):
        diff = err(lam) - e0  # paired: common random numbers
        assert diff.mean() > -Z * diff.std() / math.sqrt(diff.size)


def test_single_head_optimum():
    p = ICLRegression(d=3, L=24, sigma2=0.1)
    risk, se, omega = risk_single_head(p, n_mc=10000, seed=2)
    assert 0 < omega < 50 and se < 0.02
    # a minimum in omega on common random numbers, and no better than debiased GD / worse than ridge
    b = _prompts(p, 10000, seed=3)

    def fit(om):
        f = single_head_predict(p, b["x"], b["y"], b["xq"], om)
        mu = (f * b["yq"]).mean() / (f * f).mean()
        return ((mu * f - b["yq"]) ** 2).mean()

    assert fit(omega) <= min(fit(0.6 * omega), fit(1.6 * omega))
    assert risk > risk_debiased_gd(p) + 5 * se
    # rotation invariance: a free diagonal Omega does not do better than omega I (within MC error)
    from scipy.optimize import minimize

    res = minimize(lambda t: fit(np.exp(t)), np.full(3, math.log(omega)), method="Nelder-Mead",
                   options={"xatol": 1e-3, "fatol": 1e-7, "maxiter": 600})
    assert res.fun > fit(omega) - 0.01


def test_baseline_table_on_the_grid():
    p = ICLRegression(d=2, L=13, sigma2=0.1)
    Ls = default_L_grid(p.L)
    assert Ls[0] == 10 and Ls[-1] == 100 and 13 in Ls
    tab = baseline_risks(p, Ls[:3], n_mc_ridge=2000, n_mc_single=1000)
    assert tab["L"] == Ls[:3]
    for k in ("ridge", "gd", "gd_opt", "debiased_gd", "single_head"):
        assert len(tab[k]) == 3 and all(np.isfinite(tab[k]))
    assert all(a < b for a, b in zip(tab["gd_opt"], tab["debiased_gd"]))
