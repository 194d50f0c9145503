"""Batched HMC: correctness on Gaussians, statistics against quadrature / importance sampling on
tiny copy-head posteriors, reproducibility, divergences, and the batched alpha sweep."""
import itertools
import json
import math
import os

import numpy as np
import pytest
import torch
from agreement import check_agreement

from copyhead.theory.evidence import data_counts, log_evidence, sample_tokens
from copyhead.theory.model import Model, ParameterError
from copyhead.verification import diagnostics as dg
from copyhead.verification.evidence_torch import PosteriorTarget
from copyhead.verification.hmc import hmc_sample
from copyhead.verification.sweep import compare_starts, load_sweep, run_sweep, save_sweep

torch.set_num_threads(1)


# --------------------------------------------------------------------------- Gaussian targets
def test_gaussian_targets_per_chain_step_sizes():
    """Chains with scales 0.1, 1, 3 (anisotropic within each chain): the adapted step sizes must
    differ per chain (~ smallest scale), and mean/variance must be right."""
    scales = torch.tensor([[0.1, 0.2, 0.3], [1.0, 1.0, 0.5], [3.0, 2.0, 3.0]], dtype=torch.float64)

    def logp(x):
        return -0.5 * ((x / scales) ** 2).sum(1)

    x0 = torch.zeros(3, 3, dtype=torch.float64)
    res = hmc_sample(logp, x0, 1000, 200, n_leapfrog=8, seed=11,
                     observe=lambda x: x.clone(), observable_names=("x0", "x1", "x2"))
    eps = res.step_size
    assert eps[0] < eps[1] < eps[2]
    assert np.all((res.mean_accept_prob > 0.6) & (res.mean_accept_prob < 0.97))
    for b in range(3):
        for i in range(3):
            s = res.samples(f"x{i}")[:, b]
            sd = scales[b, i].item()
            assert abs(s.mean()) < 4 * dg.mcse_mean(s)
            # variance: sd of the sample variance ~ var * sqrt(2/ess_sq); 5 sigma
            ess2 = dg.ess(s * s)
            assert abs(s.var() / sd**2 - 1) < 5 * math.sqrt(2 / ess2)
    assert res.divergences.sum() == 0
    assert res.n_grad_evals >= 1200 * 8


def test_reproducible_and_progress():
    def logp(x):
        return -0.5 * (x * x).sum(1)

    calls = []
    x0 = torch.ones(2, 4, dtype=torch.float64)
    r1 = hmc_sample(logp, x0, 30, 20, seed=5, progress=lambda d, t, info: calls.append((d, t, info["phase"])))
    r2 = hmc_sample(logp, x0, 30, 20, seed=5)
    r3 = hmc_sample(logp, x0, 30, 20, seed=6)
    assert np.array_equal(r1.traces["logp"], r2.traces["logp"]) and r1.seed == 5
    assert not np.array_equal(r1.traces["logp"], r3.traces["logp"])
    assert len(calls) == 50 and calls[-1] == (50, 50, "sample") and calls[0][2] == "warmup"
    assert r1.traces["logp"].shape == (50, 2)
    with pytest.raises(ParameterError):
        hmc_sample(logp, x0, 10, 10, n_leapfrog=0)


def test_divergences_rejected_per_chain():
    """A hard wall (log density -inf for x_0 > 1) in chain 0 only: chain 0 never crosses it,
    chain 1 is unaffected."""
    def logp(x):
        lp = -0.5 * (x * x).sum(1)
        wall = (x[:, 0] > 1.0) & (torch.arange(2) == 0)
        return torch.where(wall, torch.full_like(lp, -math.inf), lp)

    res = hmc_sample(logp, torch.zeros(2, 2, dtype=torch.float64), 400, 100, seed=3,
                     observe=lambda x: x[:, :1].clone(), observable_names=("x0",))
    x0 = res.traces["x0"]
    assert x0[:, 0].max() <= 1.0
    assert x0[:, 1].max() > 1.0
    assert res.divergences[0] + res.warmup_divergences[0] > 0
    assert res.divergences[1] == 0  # (warm-up may try huge steps: energy-error divergences there are fine)


def test_initial_state_must_be_finite():
    def logp(x):
        return torch.where(x[:, 0] > 0, -math.inf, -0.5 * (x * x).sum(1).double())

    with pytest.raises(ParameterError):
        hmc_sample(logp, torch.ones(2, 2, dtype=torch.float64), 5, 5)


# --------------------------------------------------------------------------- exact tiny posteriors
def _np_log_evidence(A, G, sigma2, kappa):
    """Vectorised NumPy evidence over a stack ``A (n, T, T)`` with slogdet/solve (independent of the
    torch code; checked against ``theory.evidence.log_evidence`` below)."""
    n, T, _ = A.shape
    V = G.shape[-1]
    P = G[0, 0].sum()
    C = np.einsum("nts,ntu,suab->nab", A, A, G, optimize=True)
    D = np.einsum("nts,stab->nab", A, np.roll(G, 1, axis=1), optimize=True)
    M = np.eye(V) + sigma2 * C / (V * kappa)
    _, ld = np.linalg.slogdet(M)
    quad = (sigma2 / V) * np.einsum("nab,nab->n", D, np.linalg.solve(M, D))
    return -0.5 * V * ld + quad / (2 * kappa**2) - P * T / (2 * kappa) - 0.5 * P * T * V * math.log(2 * math.pi * kappa)


def _attn(S, att):
    if att == "linear":
        return S
    Z = S - S.max(-1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(-1, keepdims=True)


def _m_r(A):
    T = A.shape[-1]
    idx = np.arange(T)
    return A[:, idx, (idx - 1) % T].mean(-1), (A * A).sum((1, 2)) / T


def _hmc_chains(model, G, B, iters, warmup, seed, n_leapfrog=5):
    tg = PosteriorTarget(model, G, B=B)
    x0 = tg.prior_draw(torch.Generator().manual_seed(seed))
    res = hmc_sample(tg, x0, iters, warmup, n_leapfrog=n_leapfrog, seed=seed, inv_mass=tg.inv_mass,
                     observe=tg.observe, observable_names=tg.observable_names)
    return res.samples("m").T, res.samples("r").T, res  # (chains, draws)


def _agree(chains, exact, exact_se=0.0):
    """Chains converged (split R-hat < 1.05) and within 4 combined standard errors of ``exact``."""
    assert dg.split_rhat(chains) < 1.05
    check_agreement(exact, chains.mean(), stderr=math.hypot(dg.mcse_mean(chains), exact_se), what="HMC mean")


def test_hmc_linear_gaussian_prior_vs_quadrature():
    """V=3, T=2, linear attention, gaussian prior (N=2): S is 4-dimensional, so the posterior
    moments follow from a 22^4-node Gauss-Hermite product rule over the prior of S. <m> = 0 by
    the symmetry A -> -A (the two copy modes m ~ +-0.6 must both be visited), and <m^2>, <r>
    are compared within 4 MCSE (quadrature error ~ 1e-3, from 16 vs 24 nodes)."""
    model = Model(T=2, V=3, nu=2 / 9, sigma2=1.0, kappa=1.0, attention="linear", prior="gaussian")
    assert model.N == 2
    tok = sample_tokens(10, 2, 3, np.random.default_rng(12))
    G = data_counts(tok, 3)
    x, w = np.polynomial.hermite_e.hermegauss(22)
    grid = np.array(list(itertools.product(range(22), repeat=4)))
    S = x[grid].reshape(-1, 2, 2) / math.sqrt(model.N)
    lw = np.log(np.prod(w[grid], axis=1)) + _np_log_evidence(S, G, model.sigma2, model.kappa)
    assert _np_log_evidence(S[:3], G, 1.0, 1.0)[1] == pytest.approx(log_evidence(S[1], G, 1.0, 1.0), rel=1e-12)
    p = np.exp(lw - lw.max())
    p /= p.sum()
    m, r = _m_r(S)
    m2_exact, r_exact = (p * m * m).sum(), (p * r).sum()

    mc, rc, res = _hmc_chains(model, G, B=32, iters=400, warmup=150, seed=1)
    _agree(mc, 0.0)
    _agree(mc * mc, m2_exact, 1e-3)
    _agree(rc, r_exact, 1e-3)


def test_hmc_softmax_qk_prior_vs_importance_sampling():
    """V=3, T=2, softmax, qk prior with N=2 (8 parameters): posterior means of m and r by
    self-normalised importance sampling with 200k prior draws of (Q, K) (weight ESS ~1e5, so its
    error is ~0.1 of the HMC error, but is included)."""
    model = Model(T=2, V=3, nu=2 / 9, sigma2=1.0, kappa=1.0, attention="softmax", prior="qk")
    tok = sample_tokens(10, 2, 3, np.random.default_rng(12))
    G = data_counts(tok, 3)
    rng = np.random.default_rng(5)
    n = 200_000
    Q = rng.normal(size=(n, 2, 2))
    K = rng.normal(size=(n, 2, 2))
    A = _attn(np.einsum("nit,nis->nts", Q, K) / 2, "softmax")
    lw = _np_log_evidence(A, G, 1.0, 1.0)
    w = np.exp(lw - lw.max())
    w /= w.sum()
    ess_w = 1.0 / (w * w).sum()
    assert ess_w > 5e4
    m, r = _m_r(A)
    for chains_obs, obs in zip(_hmc_chains(model, G, B=32, iters=400, warmup=150, seed=2)[:2], (m, r)):
        mu = (w * obs).sum()
        se_is = math.sqrt((w * w * (obs - mu) ** 2).sum())
        _agree(chains_obs, mu, se_is)


# --------------------------------------------------------------------------- sweep
def test_sweep_batched_two_starts_and_save(tmp_path):
    model = Model(T=4, V=4, nu=0.5, sigma2=0.5, kappa=1.0, attention="softmax", prior="qk")
    calls = []
    rows = run_sweep(model, [2.0, 8.0], iters=40, warmup=30, seed=3, progress=lambda d, t, i: calls.append(d))
    assert [(r["alpha"], r["start"]) for r in rows] == [(2.0, "uniform"), (2.0, "copy"), (8.0, "uniform"), (8.0, "copy")]
    assert calls[-1] == 70 and len(calls) == 70  # ONE batched run for all alphas x starts
    p = rows[0]["params"]
    assert p["batch_size"] == 4 and p["N"] == 8 and p["P"] == [8, 32] and len(p["data_seeds"]) == 2
    assert p["model"]["attention"] == "softmax" and p["n_leapfrog"] == 10
    for r in rows:
        assert r["traces"]["m"].shape == (70,)
        assert 0 < r["m_mean"] < 1 and r["r_mean"] >= r["m_mean"] ** 2 - 1e-12
        assert r["alpha_effective"] == pytest.approx(r["P"] * 4 / 16)
    # the copy start begins with m close to 1, the uniform start near 1/T
    assert rows[1]["traces"]["m"][0] > 0.9 and rows[0]["traces"]["m"][0] < 0.6
    # same seed -> same result; data of the copy and uniform chains are the same per alpha
    rows2 = run_sweep(model, [2.0, 8.0], iters=40, warmup=30, seed=3)
    assert np.array_equal(rows[3]["traces"]["logp"], rows2[3]["traces"]["logp"])
    comp = compare_starts(rows)
    assert len(comp) == 2 and set(comp[0]["m"]) == {"uniform", "copy"}

    jpath, npath = save_sweep(rows, str(tmp_path / "sweep"))
    assert sorted(os.listdir(tmp_path)) == ["sweep.json", "sweep.npz"]  # no temp files left
    doc = json.load(open(jpath))
    assert doc["params"]["seed"] == 3 and len(doc["rows"]) == 4 and "traces" not in doc["rows"][0]
    back = load_sweep(str(tmp_path / "sweep"))
    assert np.array_equal(back[2]["traces"]["m"], rows[2]["traces"]["m"])
    assert back[2]["m_mean"] == rows[2]["m_mean"]


def test_sweep_gaussian_linear_runs():
    model = Model(T=3, V=4, nu=0.5, attention="linear", prior="gaussian")
    rows = run_sweep(model, [1.0], iters=20, warmup=10, seed=0, starts=("copy",), n_leapfrog=3)
    assert len(rows) == 1 and rows[0]["start"] == "copy" and math.isnan(rows[0]["rhat_between"])
    with pytest.raises(ParameterError):
        run_sweep(model, [1.0], iters=20, warmup=10, seed=0, starts=("bogus",))
    with pytest.raises(ParameterError):
        run_sweep(model.replace(objective="map"), [1.0], iters=20, warmup=10, seed=0)
