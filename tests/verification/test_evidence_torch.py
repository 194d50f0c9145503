"""Torch evidence / log posterior against the NumPy reference, brute force and finite differences."""
import math

import numpy as np
import pytest
import torch

from copyhead.theory.evidence import (EvidenceError, brute_force_log_evidence, data_counts, design_matrix, log_evidence,
                             readout_posterior, sample_tokens, targets)
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.order_parameters import copy_weight, self_overlap, softmax_rows
from copyhead.verification import evidence_torch as et

torch.set_num_threads(1)
V, T, P = 5, 4, 6


def _data(seed, P=P, T=T, V=V):
    tok = sample_tokens(P, T, V, np.random.default_rng(seed))
    return tok, data_counts(tok, V)


@pytest.mark.parametrize("att", ["softmax", "linear"])
def test_matches_numpy_and_brute_force(att):
    rng = np.random.default_rng(0)
    B = 3
    toks, Gs = zip(*[_data(10 + b) for b in range(B)])
    S = rng.normal(size=(B, T, T))
    A = softmax_rows(S) if att == "softmax" else S
    sig2 = np.array([0.1, 0.7, 2.0])
    kap = np.array([1.0, 0.5, 1.7])
    got = et.log_evidence(torch.tensor(A), np.stack(Gs), torch.tensor(sig2), torch.tensor(kap))
    for b in range(B):
        ref = log_evidence(A[b], Gs[b], sig2[b], kap[b])
        bf = brute_force_log_evidence(A[b], toks[b], V, sig2[b], kap[b])
        assert got[b].item() == pytest.approx(ref, rel=1e-12, abs=1e-9)
        assert got[b].item() == pytest.approx(bf, rel=1e-10, abs=1e-8)
    # through the attention map in torch, shared counts, unbatched call
    At = et.attention(torch.tensor(S), att)
    np.testing.assert_allclose(At.numpy(), A, rtol=1e-13, atol=1e-13)
    one = et.log_evidence(At[0], Gs[0], 0.3, 1.2)
    assert one.ndim == 0 and one.item() == pytest.approx(log_evidence(A[0], Gs[0], 0.3, 1.2), rel=1e-12)
    shared = et.log_evidence(At, Gs[0], 0.3, 1.2)
    for b in range(B):
        assert shared[b].item() == pytest.approx(log_evidence(A[b], Gs[0], 0.3, 1.2), rel=1e-12)


def test_grouped_counts_and_observables():
    """Two data sets for four chains (chains 0,1 -> set 0; 2,3 -> set 1); m, r, training error."""
    rng = np.random.default_rng(1)
    (tok0, G0), (tok1, G1) = _data(1), _data(2)
    A = softmax_rows(rng.normal(size=(4, T, T)) * 2)
    got = et.log_evidence(torch.tensor(A), np.stack([G0, G1]), 0.5, 1.0)
    ref = [log_evidence(A[b], [G0, G1][b // 2], 0.5, 1.0) for b in range(4)]
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    err = et.training_error(torch.tensor(A), np.stack([G0, G1]), 0.5, 1.0)
    for b in range(4):
        tok = [tok0, tok1][b // 2]
        Wbar, _ = readout_posterior(A[b], [G0, G1][b // 2], 0.5, 1.0)
        Z, Y = design_matrix(A[b], tok, V), targets(tok, V)
        assert err[b].item() == pytest.approx(((Y - Z @ Wbar.T) ** 2).sum() / (P * T), rel=1e-10)
    At = torch.tensor(A)
    np.testing.assert_allclose(et.copy_weight(At).numpy(), copy_weight(A), rtol=1e-14)
    np.testing.assert_allclose(et.self_overlap(At).numpy(), self_overlap(A), rtol=1e-14)
    with pytest.raises(ParameterError):
        et.log_evidence(torch.tensor(A[:3]), np.stack([G0, G1]), 0.5, 1.0)  # 3 chains, 2 sets


def _fd_check(f, x, h=1e-6, n_dirs=6, seed=0):
    """Central finite differences of ``f(x).sum()`` along random directions vs autograd."""
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x).sum(), x)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(n_dirs):
        d = torch.randn(x.shape, generator=gen, dtype=x.dtype)
        with torch.no_grad():
            fd = (f(x + h * d).sum() - f(x - h * d).sum()) / (2 * h)
        an = (g * d).sum()
        assert an.item() == pytest.approx(fd.item(), rel=1e-6, abs=1e-6)
    return g


@pytest.mark.parametrize("att", ["softmax", "linear"])
def test_gradient_qk_finite_differences(att):
    _, G = _data(3)
    N, B = 7, 2
    gen = torch.Generator().manual_seed(1)
    Q = torch.randn(B, N, T, generator=gen, dtype=torch.float64)
    K = torch.randn(B, N, T, generator=gen, dtype=torch.float64)
    x = torch.stack((Q, K), 1)

    def f(x):
        return et.log_posterior_qk(x[:, 0], x[:, 1], G, 0.8, 1.3, att)

    g = _fd_check(f, x)
    # analytic Cholesky backward == torch's generic autograd
    def f_ref(x):
        A = et.attention(et.scores_qk(x[:, 0], x[:, 1]), att)
        ev = et.log_evidence(A, G, 0.8, 1.3, analytic_backward=False)
        return ev - 0.5 * (x * x).sum(dim=(1, 2, 3))

    xr = x.clone().requires_grad_(True)
    (g_ref,) = torch.autograd.grad(f_ref(xr).sum(), xr)
    torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("att", ["softmax", "linear"])
def test_gradient_gaussian_prior_and_target(att):
    _, G = _data(4)
    gen = torch.Generator().manual_seed(2)
    S = torch.randn(3, T, T, generator=gen, dtype=torch.float64)
    _fd_check(lambda s: et.log_posterior_scores(s, G, 0.6, 0.9, att, N=5), S)
    # the flat HMC target: value_and_grad (prior gradient added by hand) == autograd of __call__
    for prior in ("gaussian", "qk"):
        m = Model(T=T, V=V, nu=0.3, sigma2=0.6, kappa=0.9, attention=att, prior=prior)
        tg = et.PosteriorTarget(m, G, B=3)
        x = tg.prior_draw(gen) * 1.5
        lp, g = tg.value_and_grad(x)
        xr = x.clone().requires_grad_(True)
        lp_ref = tg(xr)
        (g_ref,) = torch.autograd.grad(lp_ref.sum(), xr)
        torch.testing.assert_close(lp, lp_ref.detach(), rtol=1e-13, atol=1e-10)
        torch.testing.assert_close(g, g_ref, rtol=1e-10, atol=1e-10)
        if prior == "qk":
            Q, K = tg.unpack_qk(x)
            ref = et.log_posterior_qk(Q, K, G, 0.6, 0.9, att)
        else:
            ref = et.log_posterior_scores(x.view(3, T, T), G, 0.6, 0.9, att, tg.N)
        torch.testing.assert_close(lp, ref, rtol=1e-13, atol=1e-10)


def test_gradcheck_cholesky_block():
    _, G = _data(5)
    gen = torch.Generator().manual_seed(3)
    S = torch.randn(2, T, T, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: et.log_evidence(s, G, 1.5, 0.7), (S,))


def test_non_positive_definite_raises():
    _, G = _data(6)
    A = torch.randn(3, T, T, dtype=torch.float64)
    A[1, 0, 0] = float("nan")
    with pytest.raises(EvidenceError, match="batch element"):
        et.log_evidence(A, G, 0.1, 1.0)
    out = et.log_evidence(A, G, 0.1, 1.0, on_failure="neginf")
    assert out[1].item() == -math.inf and torch.isfinite(out[[0, 2]]).all()
    with pytest.raises(EvidenceError):
        et.log_evidence(A * 1e200, G, 0.1, 1.0)  # overflow to inf
    with pytest.raises(ParameterError):
        et.log_evidence(A, G, -0.1, 1.0)
    with pytest.raises(ParameterError):
        et.log_evidence(A, G, 0.1, 1.0, on_failure="nan")


@pytest.mark.parametrize("att,prior", [("softmax", "qk"), ("linear", "qk"), ("softmax", "gaussian")])
def test_copy_start(att, prior):
    m = Model(T=8, V=16, nu=0.5, attention=att, prior=prior)
    _, G = _data(7, P=20, T=8, V=16)
    tg = et.PosteriorTarget(m, G, B=2)
    x = tg.copy_draw(torch.Generator().manual_seed(0))
    S = tg.scores(x)
    S0 = tg.target_scores()
    # Q^T K/N = S0 + noise of size ~ 1/sqrt(N) = 0.09
    assert (S - S0).abs().max().item() < 6 / math.sqrt(tg.N)
    A = et.attention(S, att)
    mm = et.copy_weight(A)
    assert (mm > (0.9 if att == "softmax" else 0.8)).all()
    if prior == "qk":  # prior-scale norms, finite log density
        assert torch.isfinite(tg(x)).all()


def test_one_evidence_matrix_function_matches_numpy_reference():
    """The torch C, D (one stacked matmul per data set) equal the NumPy einsum definition
    (theory.evidence.evidence_matrices) for shared and per-chain data sets."""
    from copyhead.theory.evidence import evidence_matrices as np_cd

    rng = np.random.default_rng(4)
    (_, G0), (_, G1) = _data(3), _data(4)
    A = rng.normal(size=(4, T, T))
    for counts, G_of in ((et.Counts(G0), lambda b: G0), (et.Counts(np.stack([G0, G1])), lambda b: [G0, G1][b // 2])):
        C, D = et.evidence_matrices(torch.tensor(A), counts)
        for b in range(4):
            Cr, Dr = np_cd(A[b], G_of(b))
            np.testing.assert_allclose(C[b].numpy(), Cr, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(D[b].numpy(), Dr, rtol=1e-12, atol=1e-12)


def test_counts_from_tokens_keeps_the_tokens():
    tok, G = _data(5)
    c = et.Counts.from_tokens(tok, V)
    assert c.n_groups == 1 and float(c.P[0]) == P and np.array_equal(c.single(), G)
    X = c.one_hot()
    assert X.shape == (P, T, V) and torch.equal(X.argmax(-1), torch.as_tensor(tok))
    with pytest.raises(ParameterError, match="tokens"):
        et.Counts(G).one_hot()
