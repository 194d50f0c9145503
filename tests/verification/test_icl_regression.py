"""The torch H-head layer for in-context regression (verification/icl_regression.py): forward pass
against an explicit loop, gradients, the shared data generator, the linearisation to debiased GD,
the Monte Carlo risk against a closed form, batched seeds, and a short training run."""
import math

import numpy as np
import pytest
import torch

from copyhead.theory.icl_regression import (
    ICLRegression,
    debiased_step,
    prompts_from_normals,
    risk_debiased_gd,
    risk_gd,
)
from copyhead.theory.icl_regression_patterns import pattern_summary
from copyhead.verification.icl_regression import (
    _generators,
    debiased_gd_predict,
    init_weights,
    model_risk,
    paired_model_risk,
    predict,
    sample_batch,
    train,
)
from test_icl_support import one_torch_thread  # noqa: F401 (autouse fixture)

D64 = torch.float64



def _loop_predict(M, w, x, y, xq, attention):
    """Reference: one prompt, one head, one token at a time."""
    H, D = M.shape[0], M.shape[1]
    out = 0.0
    zq = np.append(xq, 0.0)
    for h in range(H):
        logits = np.array([np.append(x[i], y[i]) @ M[h] @ zq / math.sqrt(D) for i in range(len(y))])
        a = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum() if attention == "softmax" else logits
        out += sum(a[i] * (w[h] @ np.append(x[i], y[i])) for i in range(len(y)))
    return out


@pytest.mark.parametrize("attention", ["softmax", "linear"])
def test_forward_matches_explicit_loop(attention):
    rng = np.random.default_rng(0)
    d, L, H, B = 3, 5, 2, 4
    M, w = rng.standard_normal((H, d + 1, d + 1)), rng.standard_normal((H, d + 1))
    x, y, xq = rng.standard_normal((B, L, d)), rng.standard_normal((B, L)), rng.standard_normal((B, d))
    got = predict(*(torch.tensor(a) for a in (M, w, x, y, xq)), attention).numpy()
    ref = [_loop_predict(M, w, x[b], y[b], xq[b], attention) for b in range(B)]
    assert np.allclose(got, ref, rtol=1e-12, atol=1e-12)
    # the y column of M multiplies the query's y = 0: it has no effect
    M2 = M.copy()
    M2[:, :, d] = 5.0
    got2 = predict(*(torch.tensor(a) for a in (M2, w, x, y, xq)), attention).numpy()
    assert np.allclose(got, got2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("attention", ["softmax", "linear"])
def test_gradient_check_of_the_factorised_model(attention):
    p = ICLRegression(d=2, L=4, heads=2, attention=attention)
    W = init_weights(p, _generators([0]), dtype=D64)
    x, y, xq, yq, _ = sample_batch(p, _generators([1]), 3, dtype=D64)

    def loss(Q, K, V, O):
        M = K.transpose(-1, -2) @ Q
        ov = torch.einsum("nhi,nhij->nhj", O, V)
        return ((predict(M, ov, x, y, xq, attention) - yq) ** 2).mean()

    assert torch.autograd.gradcheck(loss, tuple(W.parameters()), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_default_init_is_pytorch_linear():
    p = ICLRegression(d=4, heads=3)
    W = init_weights(p, _generators([0, 1]), dtype=D64)
    assert W.Q.shape == (2, 3, 5, 5) and W.O.shape == (2, 3, 5)
    bound = 1 / math.sqrt(5)
    q = W.Q.detach().abs().max()
    assert float(q) <= bound and float(q) > 0.8 * bound
    assert float(W.O.detach().abs().max()) <= 1 / math.sqrt(15)
    torch.manual_seed(0)  # same bound as nn.Linear's default
    lin = torch.nn.Linear(5, 5, bias=False)
    assert float(lin.weight.detach().abs().max()) <= bound
    # one generator per seed: a seed's weights do not depend on the other seeds in the batch
    W1 = init_weights(p, _generators([1]), dtype=D64)
    assert torch.equal(W.Q[1], W1.Q[0])


def test_torch_generator_uses_the_shared_data_definition():
    p = ICLRegression(d=3, L=7, sigma2=0.2, cov_eigs=(2.0, 1.0, 0.5))
    g = torch.Generator().manual_seed(3)
    normals = [torch.randn(s, generator=g, dtype=D64) for s in ((5, 7, 3), (5, 3), (5, 7), (5, 3), (5,))]
    t = prompts_from_normals(p, *normals)
    n = prompts_from_normals(p, *(a.numpy() for a in normals))
    for a, b in zip(t, n):
        assert np.allclose(a.numpy(), b, rtol=1e-14, atol=1e-14)
    x, y, xq, yq, beta = sample_batch(p, _generators([0]), 20000, dtype=D64)
    assert np.allclose((x ** 2).mean((0, 1, 2)).numpy(), [2.0, 1.0, 0.5], rtol=0.02)
    resid = y - (x * beta[..., None, :]).sum(-1)
    assert float((resid ** 2).mean()) == pytest.approx(0.2, rel=0.02)


def test_small_omega_softmax_pattern_is_debiased_gd():
    p = ICLRegression(d=3, L=10)
    eta = float(debiased_step(p)[0, 0])
    x, y, xq, _, _ = (t[0] for t in sample_batch(p, _generators([2]), 2000, dtype=D64))
    ref = debiased_gd_predict(p, x, y, xq)
    errs = []
    for om in (1e-2, 1e-3):
        mu = eta * math.sqrt(p.D) / (2 * om)
        M = torch.zeros(2, 4, 4, dtype=D64)
        M[0, :3, :3], M[1, :3, :3] = om * torch.eye(3), -om * torch.eye(3)
        w = torch.zeros(2, 4, dtype=D64)
        w[0, 3], w[1, 3] = mu, -mu
        errs.append(float((predict(M, w, x, y, xq, "softmax") - ref).abs().max() / ref.abs().max()))
    # the error is O(omega): second-order softmax terms (cubic in omega vanish for the antisymmetric pair)
    assert errs[0] < 0.05 and errs[1] < errs[0] / 5


def test_model_risk_of_linear_attention_gd_matches_the_closed_form():
    # one linear head with A = c I and OV = mu e_y is one-step GD with step eta = L mu c / sqrt(d+1)
    p = ICLRegression(d=3, L=8, heads=1, attention="linear", sigma2=0.2)
    c, mu = 0.5, 0.3
    M = np.zeros((1, 4, 4))
    M[0, :3, :3] = c * np.eye(3)
    w = np.zeros((1, 4))
    w[0, 3] = mu
    eta = p.L * mu * c / 2.0
    pr = paired_model_risk(p, M, w, p.L, n_prompts=50000, seed=4)
    assert abs(pr["risk"] - risk_gd(p, step=eta)) < 4.5 * pr["se"]
    assert model_risk(p, M, w, p.L, n_prompts=50000, seed=4) == (pr["risk"], pr["se"])
    # and the paired difference to debiased GD is consistent with the two closed forms
    assert abs(pr["minus_debiased"] - (risk_gd(p, step=eta) - risk_debiased_gd(p))) < 4.5 * pr["minus_debiased_se"]
    assert abs(pr["debiased_mc"] - risk_debiased_gd(p)) < 0.02


def test_batched_seeds_train_independently():
    p = ICLRegression(d=2, L=6, heads=2)
    a = train(p, 40, batch=16, seeds=[5, 6])
    b = train(p, 40, batch=16, seeds=[6])
    assert np.allclose(a.M[1], b.M[0], atol=1e-5) and np.allclose(a.w[1], b.w[0], atol=1e-5)


def test_short_training_shows_the_diagonal_pattern():
    """d = 3, L = 24, H = 2, three seeds, 2500 Adam steps (lr 1e-3, batch 256).

    Thresholds: at initialisation the weighted ``iso_dev`` is ~0.97 (random matrices); the longer runs
    of this configuration reach 0.02-0.05, so < 0.15 after 2500 steps separates "pattern" from
    "no pattern" by a wide margin. Same-sign collapse happens for some seeds (design note: ~1 in 8 at
    d = 3), so the test asks for at least one non-collapsed seed and checks the patterns on every
    non-collapsed one; its risk must be much closer to debiased GD than to the best single head
    (0.41 here: ``risk_single_head``), i.e. below 0.30.
    """
    p = ICLRegression(d=3, L=24, heads=2)
    h = train(p, 2500, batch=256, seeds=[0, 1, 2])
    assert h.iso_dev[0].mean() > 0.6  # no pattern at initialisation (random 3x3 blocks: ~0.94 on average)
    ok = [k for k in range(3) if not h.collapsed[k]]
    assert ok, "every seed collapsed"
    r, _ = model_risk(p, h.M[ok], h.w[ok], p.L, n_prompts=8000)
    for i, k in enumerate(ok):
        s = pattern_summary(h.M[k], h.w[k], debiased_step(p))
        assert s["iso_dev"] < 0.15 and s["zero_sum"] < 0.1 and s["y_row"] < 0.1 and s["ov_x"] < 0.1, s
        assert np.sign(s["heads"][0]["omega"]) != np.sign(s["heads"][1]["omega"])
        assert r[i] < 0.30
