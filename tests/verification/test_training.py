"""Finite network, MAP loss from data counts, and Adam training (THEORY.md §1, §7)."""
import math

import numpy as np
import pytest
import torch

from copyhead.theory.evidence import data_counts, readout_posterior, sample_tokens
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.order_parameters import attention as np_attention
from copyhead.verification.evidence_torch import Counts
from copyhead.verification.network import (
    DTYPE,
    attention,
    data_loss_counts,
    data_loss_direct,
    f_map_reduced,
    map_loss,
    order_parameters,
)
from copyhead.verification.training import (
    copy_scores,
    grad_norms,
    init_params,
    jump_statistics,
    train_adam,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("att", ["softmax", "linear"])
def test_count_loss_equals_direct(att):
    V, T, P = 5, 4, 37
    data = Counts.from_tokens(sample_tokens(P, T, V, 0), V)
    g = torch.Generator().manual_seed(1)
    A = attention(2.0 * torch.randn(3, T, T, generator=g, dtype=DTYPE), att)
    W = torch.randn(3, V, V, generator=g, dtype=DTYPE)
    a = data_loss_counts(A, W, data, 1.7)
    b = data_loss_direct(A, W, data, 1.7)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-9)


def test_count_loss_literal_loop():
    """Against an explicit Python loop over sequences and positions (no tensor algebra)."""
    V, T, P = 4, 3, 6
    tok = sample_tokens(P, T, V, 5)
    data = Counts.from_tokens(tok, V)
    rng = np.random.default_rng(2)
    A = rng.random((T, T))
    W = rng.standard_normal((V, V))
    tot = 0.0
    for mu in range(P):
        for t in range(T):
            z = np.zeros(V)
            for s in range(T):
                z[tok[mu, s]] += A[t, s]
            y = np.zeros(V)
            y[tok[mu, (t - 1) % T]] = 1.0
            tot += ((y - W @ z) ** 2).sum()
    got = data_loss_counts(torch.as_tensor(A)[None], torch.as_tensor(W)[None], data, 2.0)
    assert abs(float(got[0]) - tot / 4.0) < 1e-10


@pytest.mark.parametrize("prior", ["qk", "gaussian"])
@pytest.mark.parametrize("att", ["softmax", "linear"])
def test_map_loss_terms(prior, att):
    model = Model(T=3, nu=0.4, sigma2=0.3, kappa=0.8, attention=att, prior=prior, V=5, alpha=3.0)
    data = Counts.from_tokens(sample_tokens(model.P, model.T, model.V, 1), model.V)
    p = init_params(model, data, "prior", torch.Generator().manual_seed(0))
    U = map_loss(p, data, model)
    Ud = map_loss(p, data, model, direct=True)
    torch.testing.assert_close(U, Ud, rtol=1e-12, atol=1e-9)
    W = p["W"][0].numpy()
    if prior == "qk":
        Q, K = p["Q"][0].numpy(), p["K"][0].numpy()
        S = Q.T @ K / model.N
        pri = 0.5 * (Q**2).sum() + 0.5 * (K**2).sum()
    else:
        S = p["S"][0].numpy()
        pri = 0.5 * model.N * (S**2).sum()
    A = np_attention(S, att)
    fit = float(data_loss_counts(torch.as_tensor(A)[None], p["W"], data, model.kappa)[0])
    expect = fit + pri + model.V * (W**2).sum() / (2 * model.sigma2)
    assert abs(float(U[0]) - expect) < 1e-9 * max(1.0, abs(expect))


@pytest.mark.parametrize("att", ["softmax", "linear"])
def test_copy_init_scores_and_readout(att):
    """Copy init realises the copy scores exactly and puts W at the argmin given A (grad_W U = 0)."""
    model = Model(T=4, nu=0.5, sigma2=0.1, attention=att, V=6, alpha=8.0)
    data = Counts.from_tokens(sample_tokens(model.P, model.T, model.V, 0), model.V)
    p = init_params(model, data, "copy", torch.Generator().manual_seed(0), copy_noise=0.0)
    S = (p["Q"][0].T @ p["K"][0] / model.N).numpy()
    np.testing.assert_allclose(S, copy_scores(model), atol=1e-12)
    # minimum-norm factorisation: |Q|^2 = |K|^2 = N ||S||_*
    nuc = np.linalg.svd(S, compute_uv=False).sum()
    assert abs(float((p["Q"] ** 2).sum()) - model.N * nuc) < 1e-8 * model.N * nuc
    _, _, gW = grad_norms(p, data, model)
    assert gW < 1e-9


@pytest.mark.parametrize("att,alpha", [("softmax", 20.0), ("linear", 5.0)])
@pytest.mark.parametrize("init", ["prior", "copy"])
def test_adam_reaches_stationary_point(att, alpha, init):
    model = Model(T=3, nu=0.5, sigma2=0.5, attention=att, V=6, alpha=alpha)
    res = train_adam(model, 600, 0.05, seed=0, init=init, record_every=50)
    assert res.loss < res.loss_trace[0]
    assert res.loss_trace[-1] <= res.loss_trace[len(res.loss_trace) // 2] + 1e-9
    assert res.grad_norm < 1e-6
    # stationarity in W: W is the readout posterior mean (= argmin over W) given the final A
    G = data_counts(sample_tokens(model.P, model.T, model.V, 0), model.V)
    Wbar, _ = readout_posterior(np_attention(res.S, att), G, model.sigma2, model.kappa)
    np.testing.assert_allclose(res.W, Wbar, atol=1e-8)
    # stationarity in (Q, K): the balance Q Q^T = K K^T
    Q, K = res.params["Q"], res.params["K"]
    assert np.abs(Q @ Q.T - K @ K.T).max() < 1e-6
    # both starts find the same copy minimum here (no hysteresis at this tiny size)
    assert abs(res.m) > 0.7


def test_adam_collapses_to_uniform_at_small_alpha():
    """Below the MAP transition Q = K = 0 (the nuclear-norm kink) is the minimum: S -> 0, m = 1/T."""
    model = Model(T=4, nu=0.5, sigma2=0.1, attention="softmax", V=8, alpha=4.0)
    res = train_adam(model, 600, 0.1, seed=1, init="copy")
    assert np.abs(res.S).max() < 1e-6
    assert abs(res.m - 0.25) < 1e-6 and abs(res.r - 0.25) < 1e-6
    assert res.grad_norm < 1e-6
    # reduced F_MAP at S = 0: (alpha/2)(1 + g(r - m^2))/(1 + g r), with m = r = 1/T
    a, T = model.alpha_effective, model.T
    g = model.sigma2 * a
    assert abs(res.f_map - 0.5 * a * (1 + g * (1 / T - 1 / T**2)) / (1 + g / T)) < 1e-9


def test_gaussian_prior_training():
    model = Model(T=3, nu=0.5, sigma2=0.5, attention="softmax", prior="gaussian", V=6, alpha=20.0)
    res = train_adam(model, 500, 0.05, seed=0, init="prior")
    assert set(res.params) == {"S", "W"}
    assert res.grad_norm < 1e-6
    assert res.loss < res.loss_trace[0]


def test_order_parameters_batched():
    model = Model(T=3, attention="softmax", V=4, alpha=2.0)
    S = torch.zeros(2, 3, 3, dtype=DTYPE)
    m, r = order_parameters({"S": S, "W": torch.zeros(2, 4, 4, dtype=DTYPE)}, model)
    np.testing.assert_allclose(m.numpy(), [1 / 3, 1 / 3])
    np.testing.assert_allclose(r.numpy(), [1 / 3, 1 / 3])


def test_f_map_linear_copy():
    model = Model(T=5, nu=0.5, sigma2=0.1, attention="linear", V=10, alpha=20.0)
    mval = 0.7
    S = mval * np.roll(np.eye(5), -1, axis=1)
    a, nu = model.alpha_effective, model.nu_effective
    g = model.sigma2 * a
    expect = nu * 5 * mval + 0.5 * a / (1 + g * mval**2)
    assert abs(f_map_reduced(S, model) - expect) < 1e-12


def test_jump_statistics():
    steps = np.arange(0, 1001, 10)
    m_jump = np.where(steps < 400, 0.1, 0.9)
    js = jump_statistics(steps, m_jump)
    assert js["fraction"] > 0.99 and 380 <= js["step"] <= 420
    m_lin = np.linspace(0.1, 0.9, len(steps))
    assert jump_statistics(steps, m_lin)["fraction"] < 0.05
    assert jump_statistics(steps, np.full(len(steps), 0.3))["fraction"] == 0.0
    assert js["sharpness"] < 0.05
    fine = np.arange(0, 2001)
    m_exp = 0.9 - 0.8 * np.exp(-fine / 100.0)
    assert abs(jump_statistics(fine, m_exp)["sharpness"] - 3.2) < 0.2


def test_bad_arguments():
    model = Model(T=3, V=4, alpha=2.0)
    with pytest.raises(ParameterError):
        train_adam(model, 10, 0.01, seed=0, init="zeros")
    with pytest.raises(ParameterError):
        train_adam(model, 10, 0.01, seed=0, schedule="step")
    with pytest.raises(ParameterError):
        train_adam(Model(T=3, V=4), 10, 0.01, seed=0)  # no alpha


def test_plot_training(tmp_path):
    from copyhead.verification.plots_training import plot_training

    model = Model(T=3, nu=0.5, sigma2=0.5, attention="softmax", V=5, alpha=10.0)
    runs = [train_adam(model, 40, 0.02, seed=0, init=i, record_every=5) for i in ("prior", "copy")]
    out = plot_training(runs, tmp_path / "fig" / "train.png", title="t", theory_m={"MAP": 0.8})
    assert out.exists() and out.stat().st_size > 5000
    assert math.isfinite(runs[0].summary()["m"])
