"""Finite-size theory used by `copyhead verify`, and a fast end-to-end agreement check with HMC."""
import json

import numpy as np
import pytest

import copyhead
from copyhead.numerics.solve import solve
from copyhead.theory.model import Model
from copyhead.numerics.finite_size import corrected_coexistence
from copyhead.verification.switching import fit_alpha_c
from copyhead.numerics.finite_size import corrected_spinodals, realised_model, theory_point


def test_realised_model_uses_rounded_sizes():
    m = Model(V=10, nu=0.37)
    rm = realised_model(m, 25.0)
    assert rm.V is None
    assert rm.nu == round(0.37 * 100) / 100
    assert rm.alpha == round(25.0 * 100 / 8) * 8 / 100


def test_correction_vanishes_at_large_V():
    rm = realised_model(Model(V=16), 25.0)
    t = solve(rm.replace(alpha=None)).transition
    for m_guess in (0.15, 0.6):
        tp = theory_point(rm, 25.0, m_guess, V=10**7)
        assert tp.m_corrected == pytest.approx(tp.m, abs=1e-5)
    win = corrected_spinodals(rm, 10**7, 20.0, 30.0, tol=1e-6)
    assert win[0] == pytest.approx(t.alpha_spinodal_low, abs=1e-3)
    assert win[1] == pytest.approx(t.alpha_spinodal_high, abs=1e-3)
    ac, _ = corrected_coexistence(rm, 10**7, 20.0, 30.0)
    assert ac == pytest.approx(t.alpha_c, abs=1e-3)


def test_finite_V_window_shifts_monotonically_toward_the_limit():
    rm = realised_model(Model(V=16), 25.0)
    t = solve(rm.replace(alpha=None)).transition
    lows = [corrected_spinodals(rm, V, 18.0, 32.0, n=30)[0] for V in (8, 16, 64)]
    assert lows[0] > lows[1] > lows[2] > t.alpha_spinodal_low


def test_fit_alpha_c_of_a_logistic():
    a = np.linspace(20, 30, 6)
    f = 1 / (1 + np.exp(-(a - 24.3) * 0.8))
    assert fit_alpha_c(a, f) == pytest.approx(24.3, abs=1e-9)


def test_verify_command_agrees_with_corrected_theory(tmp_path, capsys):
    """HMC at V = 10 away from the spinodal window vs the theory with e1/V.

    Tolerance: 4 MCSE (statistical, from the ESS) + 1/V^2 = 0.01 for the next finite-size order,
    which the theory F - e1/V does not contain.
    """
    rc = copyhead.main(["verify", "--V", "10", "--alphas", "18,32", "--iters", "400", "--warmup", "200",
                        "--seed", "3", "--outdir", str(tmp_path), "--json"])
    assert rc == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["start"] for r in rows} == {"uniform", "copy"} and len(rows) == 4
    for r in rows:
        assert r["theory_m_corrected"] is not None
        assert abs(r["m_mean"] - r["theory_m_corrected"]) <= 4 * r["m_err"] + 1.0 / 10**2, r
    by = {(r["alpha"], r["start"]): r for r in rows}
    assert by[(18.0, "uniform")]["theory_branch"] == "disordered"
    assert by[(32.0, "copy")]["theory_branch"] == "copy"
    assert (tmp_path / "verify_softmax_V10_seed3.json").exists()
    assert (tmp_path / "verify_softmax_V10_seed3.png").exists()


def test_copy_start_scales_follow_the_copy_branch():
    from copyhead.numerics.kernels import Kernel
    from copyhead.numerics.finite_size import copy_start_scales

    model = Model(V=16)
    s = copy_start_scales(model, [20.0, 25.0, 30.0])
    rm = realised_model(model, 25.0)
    tp = theory_point(rm, 25.0, 0.9)
    assert Kernel(rm).m_of_x(s[1]) == pytest.approx(tp.m, abs=1e-9)  # on the copy branch inside the window
    assert s[0] < s[1] < s[2]


def test_run_sweep_per_alpha_copy_start(tmp_path):
    from copyhead.theory.model import ParameterError
    from copyhead.verification.sweep import run_sweep

    model = Model(V=5, T=3)
    rows = run_sweep(model, [10.0, 30.0], iters=20, warmup=10, seed=0, s0=[1.0, 3.0])
    assert rows[0]["params"]["s0"] == [1.0, 3.0]
    with pytest.raises(ParameterError, match="s0"):
        run_sweep(model, [10.0, 30.0], iters=20, warmup=10, seed=0, s0=[1.0])
