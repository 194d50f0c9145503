"""The torch induction-head model: compressed computation vs a direct one, gradients, and the
selector derivation (first-order gradient = the theory's finite-L signal)."""
import numpy as np
import pytest
import torch
from torch.func import functional_call

from copyhead.theory.induction import InductionModel, sample_ngram, selector_signal
from copyhead.verification.induction.model import Batch, InductionTransformer, parent_coverage


def _direct_loss(net: InductionTransformer, tokens, labels):
    """Per-position reference implementation (no class compression): loops over sequences and
    positions exactly as the model is defined in the module docstring."""
    m = net.model
    S, M, H = m.S, m.window, m.heads
    total = 0.0
    for x, y in zip(tokens, labels):
        L = len(x)
        X = torch.nn.functional.one_hot(torch.as_tensor(x), S).to(torch.float64)
        X = torch.cat([X, torch.zeros(1, S, dtype=torch.float64)])  # position L+1 is empty

        def head_outputs(t):  # t: 0-based position, t = L is the query
            own = X[t]
            Z = torch.stack([X[t - k] if t - k >= 0 else torch.zeros(S, dtype=torch.float64)
                             for k in range(1, M + 1)])
            outs = []
            for h in range(H):
                if m.variant == "simplified":
                    A = torch.softmax(net.w[h], 0) if m.layer1 == "softmax" else net.w[h]
                    v = (A[:, None] * Z).sum(0)
                    outs.append(v / torch.sqrt(v @ v + 1e-12))
                else:
                    logits = net.w[h] + torch.stack([own @ net.Q[h] @ Z[k] for k in range(M)])
                    A = torch.softmax(logits, 0) if m.layer1 == "softmax" else logits
                    v = sum(A[k] * (net.O[h] @ Z[k]) for k in range(M))
                    v = v - v.mean()
                    outs.append(v / torch.sqrt(v @ v + 1e-12))
            return [own] + outs

        q = head_outputs(L)
        wts = net.selector_weights()
        logits = []
        for t in range(L):
            u = head_outputs(t)
            g = [q[j] @ u[j] for j in range(H + 1)]
            k = sum(wts[i] * torch.prod(torch.stack([g[j] for j in U])) if U else wts[i]
                    for i, U in enumerate(net.subsets))
            logits.append(net.a * k)
        attn = torch.softmax(torch.stack(logits), 0)
        p = (attn * (torch.as_tensor(x) == int(y)).to(torch.float64)).sum()
        total = total - torch.log((1 - m.eps) * p + m.eps / S)
    return total / len(labels)


def _random_net(model, seed):
    g = torch.Generator().manual_seed(seed)
    net = InductionTransformer(model, init="neutral", noise=1.0, generator=g)
    with torch.no_grad():
        net.c.copy_(torch.randn(net.c.shape, generator=g, dtype=torch.float64))
        net.a.fill_(2.5)
        if model.variant == "full":
            net.Q.copy_(torch.randn(net.Q.shape, generator=g, dtype=torch.float64))
            net.O.add_(0.3 * torch.randn(net.O.shape, generator=g, dtype=torch.float64))
    return net


@pytest.mark.parametrize("variant,layer1", [("simplified", "softmax"), ("simplified", "linear"),
                                            ("full", "softmax"), ("full", "linear")])
def test_compressed_equals_direct_loss_and_gradient(variant, layer1):
    m = InductionModel(n=3, S=3, L=12, heads=2, window=3, degree=3, variant=variant, layer1=layer1)
    d = sample_ngram(m, 6, np.random.default_rng(1))
    net = _random_net(m, 2)
    l1 = net.loss(Batch(m, d.tokens, d.labels))
    g1 = torch.autograd.grad(l1, list(net.parameters()))
    l2 = _direct_loss(net, d.tokens, d.labels)
    g2 = torch.autograd.grad(l2, list(net.parameters()))
    assert float(l1.detach()) == pytest.approx(float(l2.detach()), rel=1e-12)
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("variant,layer1", [("simplified", "softmax"), ("full", "linear")])
def test_gradcheck(variant, layer1):
    """torch.autograd.gradcheck (float64 central differences) of the loss in every parameter."""
    m = InductionModel(n=2, S=3, L=8, heads=2, window=2, degree=2, variant=variant, layer1=layer1)
    d = sample_ngram(m, 5, np.random.default_rng(3))
    batch = Batch(m, d.tokens, d.labels)
    net = _random_net(m, 4)
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in net.named_parameters())
    f = lambda *ps: functional_call(net, dict(zip(names, ps)), (batch,))  # noqa: E731
    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_first_order_selector_gradient_is_the_theory_signal():
    """With a perfect copier (head h on offset h, logit gap 60) and a = 1e-7 the gradient of the
    loss in the selector weights w_U is -a g_U with g_U of theory.selector_signal (O(a) relative
    corrections: rtol 1e-5); subsets with x or the empty subset get no gradient."""
    m = InductionModel(n=3, S=3, L=40, heads=3, window=3, degree=2, eps=1e-3)
    d = sample_ngram(m, 300, np.random.default_rng(5))
    net = InductionTransformer(m, init="paper", w_plus=60.0, w_minus=0.0, a0=1e-7)
    wts = torch.full((len(net.subsets),), 1.0 / len(net.subsets), dtype=torch.float64, requires_grad=True)
    loss = net.loss(Batch(m, d.tokens, d.labels), selector_weights=wts)
    (grad,) = torch.autograd.grad(loss, wts)
    g_model = -grad.numpy() / 1e-7
    offs = [u for u in net.subsets if u and 0 not in u]  # head h copies offset h
    sig = selector_signal(m, d.tokens, d.labels, offs)
    for i, u in enumerate(net.subsets):
        if u in offs:
            j = offs.index(u)
            assert g_model[i] == pytest.approx(sig["mean"][j], rel=1e-5, abs=1e-9)
        else:
            assert abs(g_model[i]) < 1e-9


def test_parent_coverage():
    W = np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.2, 0.7, 0.1]])
    cov = parent_coverage(W, [1, 2])
    assert cov["heads"] == [1, 3] and cov["weights"] == [0.9, 0.7] and cov["parent_weight"] == pytest.approx(0.8)
