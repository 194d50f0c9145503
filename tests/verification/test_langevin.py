"""Sampling all weights (Q, K, W) vs sampling (Q, K) with W integrated out in closed form.

The reference sampler below is deliberately minimal and self-contained: random-walk Metropolis
over the whitened score parameters, with the log density built from
``theory.evidence.log_evidence`` (NumPy, the closed form of THEORY.md §2). The sampler under test
(:mod:`verification.langevin`) never uses that formula: it samples ``W`` explicitly. Agreement of
``<m>`` (or ``<m^2>``, ``<r>``) within 4 combined standard errors checks the marginalisation.
"""
import math

import numpy as np
import pytest
import torch
from agreement import check_agreement

from copyhead.theory.evidence import data_counts, log_evidence, sample_tokens
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.order_parameters import attention as np_attention
from copyhead.theory.order_parameters import copy_weight as np_m
from copyhead.theory.order_parameters import self_overlap as np_r
from copyhead.verification.diagnostics import mean_mcse_ess
from copyhead.verification.langevin import JointTarget, init_theta, sample_langevin
from copyhead.verification.evidence_torch import Counts
from copyhead.verification.network import map_loss

torch.set_num_threads(1)


def _reference_rwm(model, tokens, n, step, chains=4, seed=11):
    """Random-walk Metropolis on (Q, K) (or S) with the closed-form W-marginal evidence."""
    G = data_counts(tokens, model.V)
    N, T = model.N, model.T
    qk = model.prior == "qk"
    dim = 2 * N * T if qk else T * T
    rng = np.random.default_rng(seed)

    def logp(x):
        if qk:
            Q, K = x[: N * T].reshape(N, T), x[N * T:].reshape(N, T)
            S = Q.T @ K / N
        else:
            S = x.reshape(T, T) / math.sqrt(N)  # whitened: S_ts ~ N(0, 1/N)
        A = np_attention(S, model.attention)
        return -0.5 * x @ x + log_evidence(A, G, model.sigma2, model.kappa), A

    burn = n // 5
    out = np.zeros((n, chains, 2))
    acc = 0
    for c in range(chains):
        x = rng.standard_normal(dim)
        lp, A = logp(x)
        for i in range(n + burn):
            x2 = x + step * rng.standard_normal(dim)
            lp2, A2 = logp(x2)
            if math.log(rng.random()) < lp2 - lp:
                x, lp, A = x2, lp2, A2
                acc += 1
            if i >= burn:
                out[i - burn, c] = np_m(A), np_r(A)
    return out[..., 0], out[..., 1], acc / (chains * (n + burn))


@pytest.mark.parametrize("att", ["softmax", "linear"])
@pytest.mark.parametrize("prior", ["qk", "gaussian"])
def test_manual_gradient_equals_autograd(att, prior):
    model = Model(T=3, nu=0.2, sigma2=0.7, kappa=1.3, attention=att, prior=prior, V=5, alpha=4.0)
    data = Counts.from_tokens(sample_tokens(model.P, model.T, model.V, 0), model.V)
    tg = JointTarget(model, data)
    th = init_theta(tg, 3, "prior", torch.Generator().manual_seed(1))
    th = {k: 1.5 * v for k, v in th.items()}
    U1, g1 = tg.energy_grad(th)
    U2, g2 = tg.energy_grad_autograd(th)
    torch.testing.assert_close(U1, U2, rtol=1e-12, atol=1e-10)
    for k in g1:
        torch.testing.assert_close(g1[k], g2[k], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("prior", ["qk", "gaussian"])
def test_whitened_energy_is_the_map_loss(prior):
    """U in whitened coordinates equals the network's negative log joint of the physical weights."""
    model = Model(T=3, nu=0.3, sigma2=0.2, attention="softmax", prior=prior, V=5, alpha=3.0)
    data = Counts.from_tokens(sample_tokens(model.P, model.T, model.V, 2), model.V)
    tg = JointTarget(model, data)
    th = init_theta(tg, 4, "prior", torch.Generator().manual_seed(3))
    torch.testing.assert_close(tg.energy(th), map_loss(tg.to_weights(th), data, model), rtol=1e-12, atol=1e-9)


def test_copy_start_has_copy_scores():
    model = Model(T=4, nu=0.5, attention="softmax", V=6, alpha=5.0)
    data = Counts.from_tokens(sample_tokens(model.P, model.T, model.V, 0), model.V)
    tg = JointTarget(model, data)
    th = init_theta(tg, 2, "copy", torch.Generator().manual_seed(0))
    A = tg.attention(th)
    assert float(A[:, np.arange(4), (np.arange(4) - 1) % 4].min()) > 0.9


def test_bad_method_raises():
    model = Model(T=3, V=4, alpha=2.0)
    with pytest.raises(ParameterError):
        sample_langevin(model, 10, method="gibbs")


def test_joint_hmc_matches_marginal_softmax_qk():
    """Softmax, qk prior, V=6, T=3, N=4: <m>, <r> from HMC on all weights vs the W-marginal RWM."""
    model = Model(T=3, nu=0.1, sigma2=1.0, kappa=1.0, attention="softmax", prior="qk", V=6, alpha=10.0)
    tokens = sample_tokens(model.P, model.T, model.V, 3)
    m_ref, r_ref, acc = _reference_rwm(model, tokens, n=5000, step=0.35)
    assert 0.1 < acc < 0.5
    res = sample_langevin(model, 300, 0.1, seed=2, method="hmc", chains=32, n_leapfrog=8, data=tokens)
    assert 0.6 < res.accept_rate.mean() < 0.95
    for ref, name in ((m_ref, "m"), (r_ref, "r")):
        a, ea, _ = mean_mcse_ess(ref.T)
        b, eb, _ = res.stat(name)
        check_agreement(a, b, stderr=math.hypot(ea, eb), what=f"<{name}> all weights vs W-marginal")
    # the comparison has teeth: the posterior is far from the prior (<m> = 1/3 + small at S ~ 0)
    assert res.stat("m")[0] > 0.7


def test_joint_mala_matches_marginal_linear_gaussian():
    """Linear, gaussian prior: <m^2>, <r> (m itself is +-symmetric) from MALA on all weights."""
    model = Model(T=3, nu=0.1, sigma2=1.0, kappa=1.0, attention="linear", prior="gaussian", V=6, alpha=4.0)
    tokens = sample_tokens(model.P, model.T, model.V, 3)
    m_ref, r_ref, acc = _reference_rwm(model, tokens, n=4000, step=0.25)
    assert 0.1 < acc < 0.5
    res = sample_langevin(model, 1500, 0.05, seed=2, method="mala", chains=32, data=tokens)
    assert 0.4 < res.accept_rate.mean() < 0.8
    for ref, name in ((m_ref**2, "m2"), (r_ref, "r")):
        a, ea, _ = mean_mcse_ess(ref.T)
        b, eb, _ = res.stat(name)
        check_agreement(a, b, stderr=math.hypot(ea, eb), what=f"<{name}> all weights vs W-marginal")
    assert res.stat("m2")[0] > 0.3


def test_samplers_and_training_keep_the_callers_thread_count():
    """`copyhead langevin/train --threads N` sets torch's threads; the library must not reset them."""
    from copyhead.verification.training import train_adam

    model = Model(T=3, V=4, alpha=2.0)
    torch.set_num_threads(2)
    try:
        sample_langevin(model, 4, chains=1)
        train_adam(model, steps=2, lr=0.01, seed=0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
