"""Umbrella sampling of the real posterior (HMC over the scores, W integrated) against brute-force
quadrature, and the umbrella target's gradient.

Known case: softmax attention with T = 2 and the gaussian prior. ``A`` depends on the scores only
through the row differences ``d0 = S_01 - S_00``, ``d1 = S_10 - S_11`` (softmax is shift invariant),
whose prior is ``N(0, 2/N)`` each, so the exact marginal posterior of ``m = (sigma(d0) + sigma(d1))/2``
is a 2-D quadrature of ``exp(-N (d0^2 + d1^2)/4) p(Y | A(d))`` (exact evidence, THEORY.md §2).
"""
import numpy as np
import pytest
import torch

from copyhead.theory.model import Model
from copyhead.verification.evidence_torch import Counts, PosteriorTarget, log_evidence
from copyhead.verification.landscape import (UmbrellaTarget, WindowPlan, nested_counts, posterior_m,
                                             run_umbrella)
from copyhead.verification.landscape_analysis import analyse_umbrella

MODEL = Model(attention="softmax", T=2, nu=0.5, sigma2=0.5, kappa=1.0, prior="gaussian", V=4, alpha=6.0)
SPLIT = 0.5  # P(m <= 0.5) ~ 1e-3: the windows at small m are needed to estimate it


def exact_marginal(model, G, n=601, L=6.0):
    """Grid ``d`` and the unnormalised posterior density ``w[i, j]`` of ``(d0, d1) = (d[i], d[j])``."""
    d = np.linspace(-L, L, n)
    D0, D1 = np.meshgrid(d, d, indexing="ij")
    s0, s1 = 1 / (1 + np.exp(-D0)), 1 / (1 + np.exp(-D1))
    A = np.stack([np.stack([1 - s0, s0], -1), np.stack([s1, 1 - s1], -1)], -2).reshape(-1, 2, 2)
    with torch.no_grad():
        le = log_evidence(torch.as_tensor(A), Counts(G), model.sigma2, model.kappa).numpy()
    logw = le - model.N * (D0.ravel() ** 2 + D1.ravel() ** 2) / 4
    return d, np.exp(logw - logw.max()).reshape(n, n)


def exact_prob_above(d, w, split):
    """``P(m > split)``: for every ``d0`` the ``d1``-integral above ``d1* = logit(2 split - sigma(d0))``
    by the cumulative trapezoid interpolated at ``d1*`` (no staircase error at the boundary)."""
    cum = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(0.5 * (w[:, 1:] + w[:, :-1]) * np.diff(d), axis=1)], axis=1)
    rows = cum[:, -1]
    q = 2 * split - 1 / (1 + np.exp(-d))
    above = np.where(q >= 1, 0.0, np.where(q <= 0, rows, 0.0))
    mid = (q > 0) & (q < 1)
    t = np.log(q[mid] / (1 - q[mid]))
    above[mid] = rows[mid] - np.array([np.interp(ti, d, ci) for ti, ci in zip(t, cum[mid])])
    return float(np.trapezoid(above, d) / np.trapezoid(rows, d))


def test_umbrella_target_gradient_matches_autograd():
    G, _, _ = nested_counts(MODEL, MODEL.alpha, 3)
    tgt = PosteriorTarget(MODEL, Counts(G), B=3)
    ut = UmbrellaTarget(tgt, posterior_m(tgt), [0.3, 0.5, 0.7], [50.0, 80.0, 120.0])
    x = torch.randn(3, tgt.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) / 2
    lp, g = ut.value_and_grad(x)
    xg = x.clone().requires_grad_(True)
    m = posterior_m(tgt)(xg)
    ref = tgt(xg) - 0.5 * ut.springs * (m - ut.centres) ** 2
    (g_ref,) = torch.autograd.grad(ref.sum(), xg)
    assert torch.allclose(lp, ref.detach(), rtol=1e-12, atol=1e-10)
    assert torch.allclose(g, g_ref, rtol=1e-9, atol=1e-9)


def test_nested_data_sets():
    G1, P1, _ = nested_counts(MODEL, 3.0, 7)
    G2, P2, _ = nested_counts(MODEL, 6.0, 7)
    G3, _, _ = nested_counts(MODEL, 6.0, 8)
    assert P2 > P1 and G1.sum() == P1 * 4 and np.all(G2 >= G1)  # the smaller data set is a prefix
    assert not np.array_equal(G2, G3)


@pytest.mark.slow
def test_umbrella_mbar_matches_quadrature_at_T2():
    """Full pipeline (HMC with bias, MBAR, split) vs the exact marginal of m. Tolerance: 4 standard
    errors over the 8 independent runs (plus 0.005 for the quadrature grid)."""
    plan = WindowPlan(tuple(np.linspace(0.35, 0.85, 8)), (400.0,) * 8)
    run = run_umbrella(MODEL, MODEL.alpha, plan, data_seeds=[5], replicas=8, iters=800, warmup=300, seed=2)
    res = analyse_umbrella(run, plan, n_bins=30, split=SPLIT)
    G, _, _ = nested_counts(MODEL, MODEL.alpha, 5)
    d, w = exact_marginal(MODEL, G)
    p = exact_prob_above(d, w, SPLIT)
    exact = float(np.log(p / (1 - p)))
    ds = res["datasets"][0]
    assert abs(ds["log_odds"] - exact) < 4 * ds["log_odds_err"] + 0.005, (ds["log_odds"], ds["log_odds_err"], exact)
    # the profile: normalised -ln density in every well-sampled bin, within 4 standard errors + 0.05
    # (bin masses from differences of P(m > edge))
    edges = np.asarray(res["edges"])
    above = np.array([exact_prob_above(d, w, e) for e in edges])
    with np.errstate(divide="ignore"):
        Fex = -np.log(-np.diff(above) / (above[0] - above[-1]) / np.diff(edges))
    F, dF = np.asarray(res["F"]), np.asarray(res["F_err"])
    ok = np.isfinite(F) & np.isfinite(dF) & (Fex < Fex.min() + 4)
    assert ok.sum() > 10
    assert np.all(np.abs(F[ok] - Fex[ok]) < 4 * dF[ok] + 0.05), np.c_[F[ok], Fex[ok], dF[ok]]
