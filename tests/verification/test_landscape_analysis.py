"""alpha_c(V) helpers, the collapse helper and the critical exponent (verification/landscape_alpha_c.py,
verification/landscape_fss.py) on synthetic data with known answers, and the one-loop landscape
against the one-loop basin free energies."""
import math

import numpy as np
import pytest
from scipy.special import gamma

from copyhead.theory.model import Model, ParameterError
from copyhead.verification.landscape_alpha_c import alpha_c_at_V, fit_alpha_c_V, line_root
from copyhead.verification.landscape_fss import (beta_from_solver, collapse_quality, landau_constants,
                                                 one_loop_landau, phi)


def test_line_root_and_its_error():
    rng = np.random.default_rng(0)
    a = np.array([26.8, 27.2, 27.6])
    true_root, slope, err = 27.1, 13.0, 0.3
    roots, errs = [], []
    for _ in range(2000):
        y = slope * (a - true_root) + rng.normal(0, err, a.size)
        fit = line_root(a, y, np.full(a.size, err))
        roots.append(fit["root"])
        errs.append(fit["root_err"])
    assert abs(np.mean(roots) - true_root) < 4 * np.std(roots) / math.sqrt(len(roots))
    assert np.std(roots) == pytest.approx(np.mean(errs), rel=0.1)  # delta-method error = actual spread
    with pytest.raises(ParameterError):
        line_root([1.0, 1.0], [0.0, 1.0])


def _synthetic_results(V, alphas, roots, slope, noise, rng):
    out = []
    for a in alphas:
        ds = [{"data_seed": s, "log_odds": slope * (a - r) + rng.normal(0, noise), "log_odds_err": noise}
              for s, r in enumerate(roots)]
        out.append({"V": V, "alpha": a, "alpha_effective": a, "datasets": ds})
    return out


def test_alpha_c_at_V_separates_data_spread_from_chain_noise():
    rng = np.random.default_rng(1)
    roots = 25.0 + rng.normal(0, 0.05, 12)  # data-set-to-data-set spread 0.05
    res = alpha_c_at_V(_synthetic_results(16, [24.9, 25.0, 25.1], roots, 54.0, 0.3, rng))
    assert res["n_data"] == 12
    assert res["alpha_c"] == pytest.approx(roots.mean(), abs=4 * res["alpha_c_err"])
    assert res["chain_err"] == pytest.approx(0.3 / 54 / math.sqrt(2 / 3) * math.sqrt(1 / 2), rel=0.6)
    assert res["data_sd"] == pytest.approx(math.sqrt(0.05 ** 2 + res["chain_err"] ** 2), rel=0.45)
    with pytest.raises(ParameterError):
        alpha_c_at_V(_synthetic_results(16, [25.0], roots, 54.0, 0.3, rng))


def test_fit_alpha_c_V_recovers_the_law():
    rng = np.random.default_rng(2)
    V = np.array([8, 12, 16, 24, 32])
    err = np.full(V.size, 0.01)
    truth = 23.804 + 21.0 / V + 60.0 / V ** 2
    fits = [fit_alpha_c_V(V, truth + rng.normal(0, 0.01, V.size), err) for _ in range(300)]
    ai = np.array([f["alpha_inf"] for f in fits])
    assert abs(ai.mean() - 23.804) < 4 * ai.std() / math.sqrt(ai.size)
    assert ai.std() == pytest.approx(np.mean([f["alpha_inf_err"] for f in fits]), rel=0.2)
    fx = fit_alpha_c_V(V, truth, err, alpha_inf=23.804)
    assert fx["a"] == pytest.approx(21.0, abs=1e-8) and fx["b"] == pytest.approx(60.0, abs=1e-6) and fx["fixed"]


def test_phi_limits():
    assert phi(0.0) == pytest.approx(math.sqrt(2 * math.pi) / gamma(0.25), rel=1e-8)  # closed form at x = 0
    assert phi(400.0) == pytest.approx(math.sqrt(2 / (math.pi * 400.0)), rel=1e-2)  # Gaussian disordered side
    assert phi(-400.0) == pytest.approx(math.sqrt(400.0), rel=1e-3)  # ordered side: y* = sqrt(-x)


def test_collapse_quality_sees_a_collapse():
    rng = np.random.default_rng(3)
    curves_raw, curves_scaled = [], []
    for V in (16, 24, 32):
        alpha = np.linspace(6.6, 7.1, 41)
        x = 0.9 * V * (alpha - 6.85)
        y = phi(-x)  # ordered for alpha > alpha_c
        err = np.full(x.size, 0.02)
        y_obs = y + rng.normal(0, 0.02, x.size)
        curves_scaled.append((x, y_obs, err))
        curves_raw.append((alpha, y_obs / (1.18 * math.sqrt(V)), err / (1.18 * math.sqrt(V))))
    s = collapse_quality(curves_scaled)
    r = collapse_quality(curves_raw)
    assert 0.3 < s["S"] < 2.0  # collapse within errors (linear interpolation adds a little)
    assert r["S"] > 20 * s["S"]


def test_beta_one_half_from_the_solver():
    b = beta_from_solver(Model(attention="linear"))
    last = b["rows"][-1]
    assert abs(last["beta_local"] - 0.5) < 1e-4
    assert last["amplitude"] == pytest.approx(b["amplitude_landau"], rel=1e-4)
    assert abs(b["rows"][1]["beta_local"] - 0.5) > 1e-2  # far from alpha_c it is not yet 1/2


def test_one_loop_landau_coefficients_tend_to_landau():
    """At large V the fitted quartic form of V^2 F_eff tends to the closed-form Landau expansion
    (theory/landau.py): B/V^2 -> 4 b(alpha_c), dA/dalpha / V^2 -> 2 a2'(alpha_c)."""
    model = Model(attention="linear")
    lc = landau_constants(model)
    V = 2000
    lo = one_loop_landau(model, lc["alpha_c"] - 0.05, V, realise_alpha=False)
    hi = one_loop_landau(model, lc["alpha_c"] + 0.05, V, realise_alpha=False)
    assert 0.5 * (lo["B"] + hi["B"]) / V ** 2 == pytest.approx(4 * lc["b"], rel=0.05)
    assert (hi["A"] - lo["A"]) / 0.1 / V ** 2 == pytest.approx(2 * lc["a2_prime"], rel=0.02)


def test_one_loop_landscape_integrates_to_the_basin_free_energies():
    """exp(-F_1loop(m)) integrated over each basin = the one-loop (Laplace) basin log Z, up to the
    non-Gaussian shape in m, which vanishes as V grows (V = 32: 0.09 of a 13.8 log-odds)."""
    from copyhead.numerics.finite_size import realised_model
    from copyhead.theory.one_loop_softmax import log_z_difference
    from copyhead.verification.landscape_theory import one_loop_profile

    V, alpha = 32, 24.3
    m = Model(attention="softmax", V=V)
    mg = np.linspace(0.12, 0.58, 81)
    F, pts = one_loop_profile(m, alpha, V, mg, details=True)
    assert all(p["stable"] for p in pts) and max(p["lagrange_residual"] for p in pts) < 1e-9
    top = mg[np.argmax(np.where((mg > 0.2) & (mg < 0.45), F, -np.inf))]
    w = np.exp(-(F - F.min()))
    lo = np.log(np.trapezoid(w[mg > top], mg[mg > top]) / np.trapezoid(w[mg <= top], mg[mg <= top]))
    rm = realised_model(m, alpha)
    assert lo == pytest.approx(log_z_difference(rm, rm.alpha, V), abs=0.2)
