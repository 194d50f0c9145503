"""KQ posterior with the OV rows integrated out (verification/icl_regression_posterior.py): the Woodbury
evidence against the naive P x P GP evidence and against brute-force Gaussian quadrature over w,
its gradient, and the HMC pipeline end to end."""
import math

import numpy as np
import pytest
import torch

from copyhead.theory.icl_regression import ICLRegression
from copyhead.verification.icl_regression_posterior import (
    KQPosterior,
    blr_evidence,
    features,
    initial_states,
    kq_from_state,
    prompts_for_posterior,
    sample_kq_posterior,
    state_dim,
)
from test_icl_support import one_torch_thread  # noqa: F401 (autouse fixture)

D64 = torch.float64



@pytest.mark.parametrize("attention", ["softmax", "linear"])
def test_evidence_equals_naive_gp_evidence(attention):
    p = ICLRegression(d=3, L=6, heads=2, attention=attention, prior_ov=1.7, kappa=0.3)
    data = prompts_for_posterior(p, 40, seed=1)
    target = KQPosterior(p, data)
    x = torch.randn(3, state_dim(p), generator=torch.Generator().manual_seed(0), dtype=D64)
    logZ, w = target.evidence(x)
    Phi = features(p, kq_from_state(p, x), target.data)
    y = target.data["yq"]
    for b in range(3):
        K = p.prior_ov ** 2 * Phi[b] @ Phi[b].T + p.noise * torch.eye(40, dtype=D64)
        naive = torch.distributions.MultivariateNormal(torch.zeros(40, dtype=D64), covariance_matrix=K).log_prob(y)
        assert float(logZ[b]) == pytest.approx(float(naive), rel=1e-11, abs=1e-9)
        # posterior mean of w: s^2 Phi^T K^{-1} y
        wm = p.prior_ov ** 2 * Phi[b].T @ torch.linalg.solve(K, y)
        assert torch.allclose(w[b], wm, rtol=1e-9, atol=1e-10)


def test_evidence_equals_brute_force_quadrature_over_w():
    """d = 1, H = 1: two OV weights; p(y|M) = E_w N(y | Phi w, kappa I) by a 2-D Gauss-Hermite rule."""
    p = ICLRegression(d=1, L=5, heads=1, prior_ov=0.8, kappa=0.5)
    data = prompts_for_posterior(p, 4, seed=2)
    target = KQPosterior(p, data)
    x = torch.tensor([[0.7, -0.4]], dtype=D64)
    logZ, wmean = target.evidence(x)
    Phi = features(p, kq_from_state(p, x), target.data)[0].numpy()
    y = target.data["yq"].numpy()
    t, wt = np.polynomial.hermite_e.hermegauss(80)  # nodes for the weight exp(-t^2/2)
    wt = wt / math.sqrt(2 * math.pi)
    W = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2) * p.prior_ov
    ww = np.outer(wt, wt).ravel()
    r = y[None, :] - W @ Phi.T
    lik = np.exp(-0.5 * (r ** 2).sum(1) / p.noise) / (2 * math.pi * p.noise) ** (len(y) / 2)
    Z = (ww * lik).sum()
    assert float(logZ[0]) == pytest.approx(math.log(Z), abs=1e-10)
    assert np.allclose(wmean[0].numpy(), (ww * lik) @ W / Z, atol=1e-9)


def test_log_posterior_gradient():
    p = ICLRegression(d=2, L=4, heads=2)
    target = KQPosterior(p, prompts_for_posterior(p, 10, seed=3))
    x = torch.randn(2, state_dim(p), generator=torch.Generator().manual_seed(1), dtype=D64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: target(z), (x,), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_failed_factorisation_is_minus_infinity():
    Phi = torch.full((1, 3, 2), float("nan"), dtype=D64)
    logZ, _ = blr_evidence(Phi, torch.zeros(3, dtype=D64), 1.0, 1.0)
    assert logZ.item() == -math.inf


def test_prompts_are_nested_in_P_and_starts():
    p = ICLRegression(d=2, L=5)
    a, b = prompts_for_posterior(p, 300, seed=4), prompts_for_posterior(p, 700, seed=4)
    assert all(np.array_equal(a[k], b[k][:300]) for k in a)
    x = initial_states(p, ["prior", "pattern"], torch.Generator().manual_seed(0), omega=0.5)
    M = kq_from_state(p, x)
    assert torch.allclose(M[1, 0, :2, :2], 0.5 * torch.eye(2, dtype=D64), atol=0.05)
    assert torch.allclose(M[1, 1, :2, :2], -0.5 * torch.eye(2, dtype=D64), atol=0.05)
    assert torch.all(M[:, :, :, -1] == 0)  # the y column is not sampled


def test_hmc_pipeline_runs_and_reports_metrics():
    p = ICLRegression(d=2, L=6, heads=2)
    data = prompts_for_posterior(p, 30, seed=5)
    run = sample_kq_posterior(p, data, starts=("prior", "pattern"), n_iter=24, n_warmup=40, n_leapfrog=4,
                              thin=2, risk_draws=2, risk_prompts=500)
    assert run.M.shape == (12, 2, 2, 3, 3) and run.w_mean.shape == (12, 2, 2, 3)
    assert run.metrics["iso_dev"].shape == (2, 12) and np.all(np.isfinite(run.metrics["iso_dev"]))
    assert np.all((run.acceptance > 0) & (run.acceptance <= 1)) and run.risk.shape == (2, 2)
    assert np.all(np.isfinite(run.logp))


@pytest.mark.slow
def test_hmc_matches_quadrature_of_a_two_dimensional_posterior():
    """d = 1, H = 1, linear attention: the state is (a, b) = (M_xx, M_yx), two numbers. The density is
    exactly symmetric under M -> -M (w -> -w is absorbed by the symmetric prior on w), so the folded
    statistics |a| and b sign(a) are compared: their posterior means and variances by HMC (4 chains)
    agree with a dense 2-D quadrature of the same unnormalised density."""
    p = ICLRegression(d=1, L=6, heads=1, attention="linear", prior_kq=1.0, prior_ov=1.0, kappa=0.5)
    data = prompts_for_posterior(p, 25, seed=6)
    target = KQPosterior(p, data)
    g = torch.linspace(-5, 5, 401, dtype=D64)
    X = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        lp = torch.cat([target(X[i:i + 8000]) for i in range(0, len(X), 8000)])
    wgt = torch.exp(lp - lp.max())
    wgt = (wgt / wgt.sum()).numpy()

    def fold(z):
        return np.stack([np.abs(z[..., 0]), z[..., 1] * np.sign(z[..., 0])], -1)

    F = fold(X.numpy())
    mean = wgt @ F
    var = wgt @ (F - mean) ** 2
    run = sample_kq_posterior(p, data, starts=("prior",) * 4, n_iter=2500, n_warmup=300, n_leapfrog=8, thin=1)
    from copyhead.verification.diagnostics import summarize

    Fd = fold(run.draws)
    for j in range(2):
        s = summarize(Fd[:, :, j].T)
        assert s["rhat"] < 1.05
        assert abs(s["mean"] - mean[j]) < 5 * s["mcse"], (j, s, mean)
        # the variance estimate's relative standard error is ~ sqrt(2 / ESS) (the geometry is funnel-like
        # near M = 0, where M and w trade scale: the ESS is a few hundred of 10^4 draws)
        assert s["sd"] ** 2 == pytest.approx(var[j], rel=5 * math.sqrt(2 / s["ess"]))
