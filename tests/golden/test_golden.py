"""The solver against the golden numbers of the default model (tests/golden/v_inf_default.json),
each from an independent source (closed form or the brute-force scan); see tests/golden/README.md."""
import importlib.util
import json
from pathlib import Path

import pytest

from copyhead.numerics.solve import solve
from copyhead.theory.model import Model

HERE = Path(__file__).resolve().parent
GOLDEN = json.loads((HERE / "v_inf_default.json").read_text())
CASES = [(prior, case) for prior, entries in GOLDEN["V_inf"].items() for case in entries]


def _regenerate_module():
    spec = importlib.util.spec_from_file_location("golden_regenerate", HERE / "regenerate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _close(value, entry):
    if entry["value"] is None:
        return value is None
    if "atol" in entry:
        return abs(value - entry["value"]) <= entry["atol"]
    return abs(value - entry["value"]) <= entry["rtol"] * abs(entry["value"])


@pytest.mark.parametrize("prior, case", CASES)
def test_solver_matches_golden(prior, case):
    attention, objective = case.split("_")
    entries = GOLDEN["V_inf"][prior][case]
    res = solve(Model(attention=attention, prior=prior, objective=objective, **{
        k: v for k, v in GOLDEN["model"].items()}))
    t = res.transition
    assert res.converged
    assert t.kind == entries["transition"]["value"]
    got = {"alpha_c": t.alpha_c, "alpha_spinodal_low": t.alpha_spinodal_low,
           "alpha_spinodal_high": t.alpha_spinodal_high, "alpha_spinodal_high_brute_force": t.alpha_spinodal_high,
           "m_below": t.m_below, "m_above": t.m_above, "m_at_alpha_c": t.m_below, "landau_b": res.landau_b}
    for key, entry in entries.items():
        if key == "transition":
            continue
        assert _close(got[key], entry), (prior, case, key, got[key], entry)


def test_headline_numbers_quoted_in_the_notes():
    """The MAP numbers quoted in the closing notes and issue 8 (26.683 / 69.066; 13.680 / 11.490)."""
    qk = GOLDEN["V_inf"]["qk"]
    assert round(qk["softmax_map"]["alpha_spinodal_low"]["value"], 3) == 26.683
    assert round(qk["softmax_map"]["alpha_spinodal_high"]["value"], 3) == 69.066
    assert round(qk["linear_map"]["alpha_c"]["value"], 3) == 13.680
    assert round(qk["linear_map"]["alpha_spinodal_low"]["value"], 3) == 11.490


def test_closed_form_entries_are_current():
    """Every closed-form entry recomputes (cheap; guards against a stale fixture)."""
    from copyhead.theory.landau import critical_alpha, landau_b
    from copyhead.theory.scaling import linear_transition, uniform_spinodal_map

    m = GOLDEN["model"]
    T, nu, s2 = m["T"], m["nu"], m["sigma2"]
    for prior in ("qk", "gaussian"):
        e = GOLDEN["V_inf"][prior]
        ac = critical_alpha(T, nu, s2)
        assert e["linear_posterior"]["alpha_c"]["value"] == pytest.approx(ac, rel=1e-14)
        assert e["linear_posterior"]["landau_b"]["value"] == pytest.approx(landau_b(T, nu, s2, ac, prior), rel=1e-14)
        lt = linear_transition(T, nu, s2, prior, "map")
        assert e["linear_map"]["alpha_c"]["value"] == pytest.approx(lt["alpha_c"], rel=1e-14)
    assert GOLDEN["V_inf"]["qk"]["softmax_map"]["alpha_spinodal_high"]["value"] == pytest.approx(
        uniform_spinodal_map(T, nu, s2), rel=1e-14)


def test_finite_V_place_is_reserved():
    assert "finite_V" in GOLDEN and "status" in GOLDEN["finite_V"]


@pytest.mark.slow
def test_fixture_regenerates():
    """The brute-force entries recompute to 1e-9 (python tests/golden/regenerate.py --check). ~5 s."""
    assert _regenerate_module().main(["--check"]) == 0
