"""FiniteSizeTheory against the golden finite-V numbers of the default softmax model
(tests/golden/finite_size.json; regenerate with ``python tests/golden/regenerate_finite_size.py``).

The golden numbers come from an independent brute-force computation written in the regeneration
script (F - e1/V typed in from THEORY.md, e1 on the explicit attention matrix, complex-step
derivatives, fold conditions and equal minima by brentq; the one loop with a finite-difference
Hessian over all T^2 scores). Each entry carries the tolerance FiniteSizeTheory must meet and why
(``tolerances`` in the fixture)."""
import importlib.util
import json
from pathlib import Path

import pytest

from copyhead.numerics.finite_size import FiniteSizeTheory
from copyhead.numerics.solve import solve
from copyhead.theory.model import Model

HERE = Path(__file__).resolve().parent
GOLDEN = json.loads((HERE / "finite_size.json").read_text())
VS = sorted(int(v) for v in GOLDEN["finite_V"])
MODEL = {k: v for k, v in GOLDEN["model"].items()}


def _theory(V):
    return FiniteSizeTheory(Model(V=V, **MODEL))


def _check(value, entry, what):
    assert abs(value - entry["value"]) <= entry["atol"], (what, value, entry["value"], entry["atol"])


@pytest.mark.parametrize("V", VS)
def test_window_and_coexistence_match_golden(V):
    g = GOLDEN["finite_V"][str(V)]
    fs = _theory(V)
    assert fs.model.N == g["N"]
    lo, hi = fs.window
    _check(lo, g["alpha_spinodal_low"], f"V={V} lower spinodal")
    _check(hi, g["alpha_spinodal_high"], f"V={V} upper spinodal")
    ac, m_saddle = fs.coexistence(*fs.window_bracket())
    _check(ac, g["alpha_coexistence"], f"V={V} coexistence")
    _check(m_saddle, g["m_saddle_at_coexistence"], f"V={V} saddle m")
    mins = fs.minima(g["alpha_coexistence"]["value"])
    assert [q.branch for q in mins] == ["disordered", "copy"]
    _check(mins[0].m, g["m_disordered_at_coexistence"], f"V={V} disordered m")
    _check(mins[1].m, g["m_copy_at_coexistence"], f"V={V} copy m")


def test_windows_approach_the_limit_as_one_over_V():
    """The golden windows converge to the V = inf solve at rate 1/V (F_V = F - e1/V): V times the
    shift of each spinodal and of the coexistence is positive and changes by < 5% from V = 24 to 32
    (the O(1/V^2) remainder of the expansion of the window edges)."""
    t = solve(Model(**MODEL)).transition
    limit = {"alpha_spinodal_low": t.alpha_spinodal_low, "alpha_spinodal_high": t.alpha_spinodal_high,
             "alpha_coexistence": t.alpha_c}
    for key, a_inf in limit.items():
        scaled = {V: V * (GOLDEN["finite_V"][str(V)][key]["value"] - a_inf) for V in VS}
        assert all(v > 0 for v in scaled.values()), (key, scaled)
        assert abs(scaled[32] / scaled[24] - 1) < 0.05, (key, scaled)
        assert all(GOLDEN["finite_V"][str(a)][key]["value"] > GOLDEN["finite_V"][str(b)][key]["value"]
                   for a, b in zip(VS, VS[1:])), key


@pytest.mark.slow
@pytest.mark.parametrize("V", [V for V in VS if "alpha_c_one_loop" in GOLDEN["finite_V"][str(V)]])
def test_one_loop_alpha_c_matches_golden(V):
    fs = _theory(V)
    _check(fs.one_loop_alpha_c(*fs.window_bracket()), GOLDEN["finite_V"][str(V)]["alpha_c_one_loop"],
           f"V={V} one-loop alpha_c")


@pytest.mark.slow
def test_golden_fixture_is_reproducible():
    """Re-run the brute force: the committed numbers are what the script computes (relative 1e-9)."""
    spec = importlib.util.spec_from_file_location("regenerate_finite_size", HERE / "regenerate_finite_size.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--check"]) == 0
