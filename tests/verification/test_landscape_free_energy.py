"""Umbrella sampling + MBAR (verification/free_energy.py) on a 1-D double well with a known answer.

Every window is sampled *exactly* (i.i.d. draws by inverse CDF of the biased density on a fine
grid), so the only error is MBAR's statistical one: MBAR's analytic standard error is then
valid, and the tolerances below are multiples of it (or of the spread over independent runs).
"""
import numpy as np
import pytest

from copyhead.verification.free_energy import (bin_edges, combine_runs, decorrelate, split_at_barrier,
                                               umbrella_mbar)

H, TILT = 4.0, 0.6  # U(x) = H (x^2 - 1)^2 - TILT x (kT); barrier ~ 4 kT, right well lower
XG = np.linspace(-2.5, 2.5, 200001)


def U(x):
    return H * (x * x - 1.0) ** 2 - TILT * x


def draw(centre, spring, n, rng):
    """i.i.d. draws of p_k(x) ~ exp(-U(x) - spring/2 (x - centre)^2) by inverse CDF on XG."""
    logp = -U(XG) - 0.5 * spring * (XG - centre) ** 2
    w = np.exp(logp - logp.max())
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return np.interp(rng.random(n), cdf, XG)


def exact_log_odds(split):
    w = np.exp(-U(XG) + U(XG).min())
    return float(np.log(np.trapezoid(w[XG > split], XG[XG > split]) / np.trapezoid(w[XG <= split], XG[XG <= split])))


def exact_profile(edges):
    w = np.exp(-U(XG) + U(XG).min())
    Z = np.trapezoid(w, XG)
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        s = (XG >= a) & (XG <= b)
        out.append(-np.log(np.trapezoid(w[s], XG[s]) / Z / (b - a)))
    return np.array(out)


CENTRES = np.linspace(-1.6, 1.6, 13)
SPRING = 30.0


def _run(seed, n=1500):
    rng = np.random.default_rng(seed)
    return umbrella_mbar([draw(c, SPRING, n, rng) for c in CENTRES], CENTRES, SPRING, thin=False)


def test_log_odds_matches_quadrature_within_mbar_error():
    res = _run(1)
    centres, F = res.profile(bin_edges(-1.6, 1.6, 64))
    top = split_at_barrier(centres, F)
    assert top is not None
    split, dF_low, dF_high = top
    # the barrier top of U (maximum between the wells) lies at x = -TILT/(4H) + O(TILT^3) ~ -0.0375
    assert abs(split - (-0.0375)) < 0.1, split
    assert 2.5 < dF_low < 5.5 and 3.0 < dF_high < 6.0  # U barrier 4 -+ 0.6, plus the entropy of the wells
    est = res.log_odds(split)
    err = res.log_odds_analytic_err(split)
    exact = exact_log_odds(split)
    assert 0.0 < err < 0.2
    assert abs(est - exact) < 4.0 * err, (est, exact, err)
    assert res.overlap_min > 0.03


def test_profile_matches_quadrature_over_independent_runs():
    edges = bin_edges(-1.5, 1.5, 30)
    runs = [_run(seed, n=500) for seed in range(10, 22)]
    prof = np.array([r.profile(edges)[1] for r in runs])
    assert np.all(np.isfinite(prof))
    exact = exact_profile(edges)
    mean = prof.mean(axis=0)
    se = prof.std(axis=0, ddof=1) / np.sqrt(len(runs))
    # normalised -ln density, no free constant. With 12 runs z is t-distributed with 11 degrees of
    # freedom: P(|t| > 5) = 4e-4 per bin (30 bins); the mean square must be near its expectation 1.22.
    z = (mean - exact) / se
    assert np.max(np.abs(z)) < 5.0, z
    assert np.mean(z * z) < 2.5, z
    # and the independent-run error of the log-odds covers the truth as well
    lo = [r.log_odds(0.0) for r in runs]
    m, e = combine_runs(lo)
    assert abs(m - exact_log_odds(0.0)) < 4.0 * e


def test_decorrelate_thins_a_correlated_trace():
    rng = np.random.default_rng(0)
    x = np.zeros(20000)
    for i in range(1, x.size):  # AR(1) with rho = 0.9: statistical inefficiency (1+rho)/(1-rho) = 19
        x[i] = 0.9 * x[i - 1] + rng.normal()
    idx = decorrelate(x)
    g = x.size / idx.size
    assert 12 < g < 28, g
    assert np.all(np.diff(idx) > 0)


def test_split_needs_two_basins_and_input_checks():
    c = np.linspace(0, 1, 50)
    assert split_at_barrier(c, (c - 0.5) ** 2) is None
    with pytest.raises(Exception):
        umbrella_mbar([np.zeros(10)], [0.0, 1.0], 1.0)
    with pytest.raises(Exception):
        umbrella_mbar([np.zeros(10), np.zeros(10)], [0.0, 1.0], -1.0)
