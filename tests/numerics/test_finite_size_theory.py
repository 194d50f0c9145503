"""The finite-size theory (numerics.finite_size.FiniteSizeTheory) against independent computations,
and a fast end-to-end agreement check with HMC."""
import json

import numpy as np
import pytest
from agreement import check_agreement

import copyhead
from copyhead.numerics.finite_size import FiniteSizeTheory
from copyhead.numerics.kernels import Kernel
from copyhead.numerics.solve import solve
from copyhead.theory.finite_size import e1_softmax_symmetric
from copyhead.theory.model import Model, ParameterError
from copyhead.verification.switching import fit_alpha_c


def test_realised_sizes_come_from_the_model():
    fs = FiniteSizeTheory(Model(V=10, nu=0.37))
    assert fs.limit.V is None and fs.limit.alpha is None
    assert fs.limit.nu == round(0.37 * 100) / 100
    assert fs.alpha_of_run(25.0) == round(25.0 * 100 / 8) * 8 / 100 == Model(V=10, alpha=25.0).alpha_effective
    with pytest.raises(ParameterError, match="V"):
        FiniteSizeTheory(Model())


def test_correction_vanishes_at_large_V():
    fs = FiniteSizeTheory(Model(V=10**7))
    t = solve(fs.limit).transition
    for m_guess in (0.15, 0.6):
        tp = fs.point(25.0, m_guess)
        assert tp.m_corrected == pytest.approx(tp.m, abs=1e-5)
    win = fs.spinodals(20.0, 30.0, tol=1e-6)
    assert win[0] == pytest.approx(t.alpha_spinodal_low, abs=1e-3)
    assert win[1] == pytest.approx(t.alpha_spinodal_high, abs=1e-3)
    ac, _ = fs.coexistence(20.0, 30.0)
    assert ac == pytest.approx(t.alpha_c, abs=1e-3)


def test_finite_V_window_shifts_monotonically_toward_the_limit():
    t = solve(Model()).transition
    lows = [FiniteSizeTheory(Model(V=V)).spinodals(18.0, 32.0, n=30)[0] for V in (8, 16, 64)]
    assert lows[0] > lows[1] > lows[2] > t.alpha_spinodal_low


def test_minima_against_a_dense_scan_of_F_minus_e1_over_V():
    """Independent of the grid-and-Brent search: a 4e4-point scan of F(s) - e1(s)/V at V = 8 built
    from the scalar kernel and theory.finite_size.e1_softmax_symmetric, inside and outside the
    finite-V window (alpha = 28 is beyond the V = inf window [22.46, 26.34] but inside V = 8's)."""
    fs = FiniteSizeTheory(Model(V=8))
    k = Kernel(fs.limit)
    s = np.linspace(-1.0, 4.0, 40_001)
    for alpha, n_expected in ((20.0, 1), (28.0, 2), (31.0, 1)):
        G = k.grid(s, [alpha])[0, :, 0] - e1_softmax_symmetric(s, 8, alpha, 0.1, 1.0) / 8
        i = np.nonzero((G[1:-1] < G[:-2]) & (G[1:-1] <= G[2:]))[0] + 1
        mins = fs.minima(alpha)
        assert len(mins) == len(i) == n_expected
        for q, j in zip(mins, i):
            assert q.x == pytest.approx(s[j], abs=2 * (s[1] - s[0]))
    assert [q.branch for q in fs.minima(28.0)] == ["disordered", "copy"]
    assert [q.branch for q in fs.limit_minima(28.0)] == ["copy"]


def test_chain_on_the_finite_V_metastable_branch_is_labelled_by_it():
    """Issue 8 §1.10: at V = 8, alpha = 28 a chain at m ~ 0.18 sits on the disordered minimum of
    F - e1/V, which V = inf does not have. It is labelled disordered and compared with that minimum
    (V = inf value: none), not with the V = inf copy branch (the old dev -0.37)."""
    fs = FiniteSizeTheory(Model(V=8))
    tp = fs.run_point(28.0, 0.18)
    assert tp.branch == "disordered" and tp.m is None and tp.n_stable == 2 and tp.n_stable_inf == 1
    assert abs(tp.m_corrected - 0.18) < 0.01
    cp = fs.run_point(28.0, 0.52)
    assert cp.branch == "copy" and cp.m == pytest.approx(fs.limit_minima(28.0)[0].m)
    assert cp.m_corrected > 0.5


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
        check_agreement(r["theory_m_corrected"], r["m_mean"], atol=1.0 / 10**2, stderr=r["m_err"],
                        what=f"<m> at alpha={r['alpha']} ({r['start']} start)")
    by = {(r["alpha"], r["start"]): r for r in rows}
    assert by[(18.0, "uniform")]["theory_branch"] == "disordered"
    assert by[(32.0, "copy")]["theory_branch"] == "copy"
    assert (tmp_path / "verify_softmax_V10_seed3.json").exists()
    assert (tmp_path / "verify_softmax_V10_seed3.png").exists()


def test_copy_start_scales_follow_the_copy_branch():
    fs = FiniteSizeTheory(Model(V=16))
    s = fs.copy_start_scales([20.0, 25.0, 30.0])
    copy = [q for q in fs.limit_minima(25.0) if q.branch == "copy"][0]
    assert fs.kernel.m_of_x(s[1]) == pytest.approx(copy.m, abs=1e-9)  # on the copy branch inside the window
    assert s[0] < s[1] < s[2]


def test_run_sweep_per_alpha_copy_start(tmp_path):
    from copyhead.verification.sweep import run_sweep

    model = Model(V=5, T=3)
    rows = run_sweep(model, [10.0, 30.0], iters=20, warmup=10, seed=0, s0=[1.0, 3.0])
    assert rows[0]["params"]["s0"] == [1.0, 3.0]
    with pytest.raises(ParameterError, match="s0"):
        run_sweep(model, [10.0, 30.0], iters=20, warmup=10, seed=0, s0=[1.0])
