"""Diagnostics on synthetic chains with known answers.

AR(1) ``x_t = phi x_{t-1} + e_t`` (stationary start): the ESS of the mean is
``n (1 - phi)/(1 + phi)`` (integrated autocorrelation time ``tau = (1+phi)/(1-phi)``).
Tolerances: the relative standard deviation of a windowed estimate of ``tau`` is about
``sqrt(2 (2M + 1) / n)`` (Sokal 1997; ``M`` the summation window, a few ``tau``). For
``n = 20000`` this is ~2.5 % (phi = 0), ~3.6 % (phi = 0.5), ~6.5 % (phi = 0.9); we measured the
same spreads over 50 replicas. The tests allow 4 standard deviations (10 %, 15 %, 26 %).
"""
import math

import numpy as np
import pytest
from scipy.signal import lfilter

from copyhead.theory.model import ParameterError
from copyhead.verification import diagnostics as dg


def ar1(phi, n, rng, chains=None, burn=2000):
    shape = (n + burn,) if chains is None else (chains, n + burn)
    z = rng.normal(size=shape)
    x = lfilter([1.0], [1.0, -phi], z, axis=-1)
    return x[..., burn:]


@pytest.mark.parametrize("phi,tol", [(0.0, 0.10), (0.5, 0.15), (0.9, 0.26)])
def test_ess_ar1_single_chain(phi, tol):
    rng = np.random.default_rng(1234)
    n = 20000
    x = ar1(phi, n, rng)
    true = n * (1 - phi) / (1 + phi)
    assert abs(dg.ess(x) / true - 1) < tol
    # batch means is noisier (rel. sd ~ sqrt(2/n_batches) ~ 12 %): 4 sd
    assert abs(dg.ess_batch_means(x) / true - 1) < 0.5


def test_ess_ar1_multi_chain():
    rng = np.random.default_rng(7)
    phi, n, m = 0.8, 5000, 4
    x = ar1(phi, n, rng, chains=m)
    true = m * n * (1 - phi) / (1 + phi)
    assert abs(dg.ess(x) / true - 1) < 0.15  # rel. sd ~ sqrt(2*(2*45+1)/20000) ~ 3 %


def test_mcse_matches_spread_of_means():
    """Independent check of the ESS: over 400 independent AR(1) chains the empirical variance of
    the chain means must equal the average ``mcse^2``. The ratio of a variance estimate from
    400 samples has rel. sd sqrt(2/400) ~ 7 %; tolerance 25 % (> 3 sd)."""
    rng = np.random.default_rng(99)
    phi, n, reps = 0.7, 2000, 400
    x = ar1(phi, n, rng, chains=reps)
    emp = x.mean(axis=1).var(ddof=1)
    est = np.mean([dg.mcse_mean(c) ** 2 for c in x])
    assert abs(est / emp - 1) < 0.25
    # and both agree with the exact asymptotic variance sigma_x^2 (1+phi)/(1-phi)/n
    exact = (1 / (1 - phi**2)) * (1 + phi) / (1 - phi) / n
    assert abs(emp / exact - 1) < 0.25


def test_autocorrelation_ar1():
    rng = np.random.default_rng(3)
    x = ar1(0.6, 50000, rng)
    rho = dg.autocorrelation(x)
    assert rho[0] == pytest.approx(1.0)
    for k in (1, 2, 3):  # sd of rho_k ~ 1/sqrt(n) * O(2)
        assert rho[k] == pytest.approx(0.6**k, abs=0.02)


def test_rhat_converged_and_disagreeing():
    rng = np.random.default_rng(5)
    x = ar1(0.5, 2000, rng, chains=4)
    assert dg.split_rhat(x) < 1.01
    y = x.copy()
    y[1] += 2.0  # one chain shifted by ~1.7 sd: R-hat ~ sqrt(1 + 0.86/1.33) ~ 1.28
    assert dg.split_rhat(y) > 1.1
    # two chains stuck in different states (the metastability signal of the sweep)
    z = np.stack([rng.normal(0.2, 0.05, 1000), rng.normal(0.8, 0.05, 1000)])
    assert dg.split_rhat(z) > 1.1
    assert dg.ess(z) < 20  # between-chain disagreement collapses the multi-chain ESS


def test_split_rhat_detects_drift_in_single_chain():
    rng = np.random.default_rng(6)
    x = rng.normal(size=2000)
    assert dg.split_rhat(x) < 1.05
    x[1000:] += 1.0  # jump halfway: only the split version can see it with one chain
    assert dg.split_rhat(x) > 1.1


def test_iid_and_edge_cases():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2, 4000))
    assert abs(dg.ess(x) / 8000 - 1) < 0.1
    s = dg.summarize(x)
    assert s["mcse"] == pytest.approx(1 / math.sqrt(8000), rel=0.1)
    assert math.isnan(dg.ess(np.ones(100)))
    assert math.isnan(dg.split_rhat(np.ones(100)))
    with pytest.raises(ParameterError):
        dg.ess(np.ones(3))
    with pytest.raises(ParameterError):
        dg.ess(np.array([1.0, np.nan, 2.0, 3.0, 4.0]))
    with pytest.raises(ParameterError):
        dg.ess(np.ones((2, 2, 10)))


def test_split_rhat_is_the_bda3_formula_for_one_and_several_chains():
    """ArviZ's split R-hat (several chains) and our halves convention (one chain) against the
    BDA3 §11.4 formula written out: halves of ``h`` draws, ``sqrt(((h-1)/h W + B/h) / W)``."""
    rng = np.random.default_rng(11)

    def bda3(a):
        h = a.shape[1] // 2
        halves = np.concatenate((a[:, :h], a[:, a.shape[1] - h:]))
        W = halves.var(axis=1, ddof=1).mean()
        return math.sqrt(((h - 1) / h * W + halves.mean(axis=1).var(ddof=1)) / W)

    for shape in ((1, 101), (3, 200)):
        x = ar1(0.7, shape[1], rng, chains=shape[0]) + np.arange(shape[0])[:, None] * 0.3
        assert dg.split_rhat(x) == pytest.approx(bda3(x), rel=1e-12)
