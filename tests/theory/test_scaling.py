"""Large-T laws of theory/scaling.py (derivations/09_scaling_T.py) against the solver, the brute-force
scan and the SymPy derivation."""
import importlib.util
import math
from pathlib import Path

import pytest

from copyhead.numerics.solve import solve
from copyhead.theory import scaling
from copyhead.theory.model import Model

NU, S2 = 0.5, 0.1
DERIVATION = Path(__file__).resolve().parents[2] / "derivations" / "09_scaling_T.py"


def _solved(T, prior="qk", objective="posterior", attention="softmax"):
    return solve(Model(T=T, nu=NU, sigma2=S2, prior=prior, objective=objective, attention=attention)).transition


@pytest.mark.parametrize("prior, objective", [("qk", "posterior"), ("gaussian", "posterior"), ("qk", "map")])
def test_softmax_laws_converge_to_the_solver(prior, objective):
    """The relative error of every alpha_c law shrinks monotonically over T = 1e3..1e6; the asymptotic
    reduced problem (all orders in 1/ln T) is within 5e-4 at T = 1e6, the upper-spinodal law (with its
    1/T term; error ~1/T^2) within 1e-7."""
    errs = {k: [] for k in ("leading", "first_correction", "asymptotic", "spinodal_low_asymptotic", "m_above",
                            "spinodal_high")}
    for T in (1_000, 10_000, 100_000, 1_000_000):
        t = _solved(T, prior, objective)
        assert t.kind == "first-order"
        law = scaling.law_values(T, NU, S2, "softmax", prior, objective)
        for k in ("leading", "first_correction", "asymptotic"):
            errs[k].append(abs(law[k] / t.alpha_c - 1))
        errs["spinodal_low_asymptotic"].append(abs(law["spinodal_low_asymptotic"] / t.alpha_spinodal_low - 1))
        errs["m_above"].append(abs(law["m_above"] / t.m_above - 1))
        errs["spinodal_high"].append(abs(law["spinodal_high"] / t.alpha_spinodal_high - 1))
    for k, e in errs.items():
        if k == "spinodal_high" and objective == "map":
            assert max(e) < 1e-12  # exact closed form
            continue
        assert all(b < a for a, b in zip(e, e[1:])), (k, e)
    assert errs["asymptotic"][-1] < 5e-4 and errs["spinodal_high"][-1] < 1e-7
    assert errs["first_correction"][-1] < 0.08 and errs["leading"][-1] < 0.4


def test_the_copy_weight_at_the_jump_vanishes():
    """Check, do not assume, that m stays O(1): at alpha_c the copy minimum has m ~ sqrt(ln T/T) -> 0 and
    s ~ (ln T + ln ln T)/2 (about half of ln T), while m_below = 1/T."""
    prev = None
    for T in (100, 10_000, 1_000_000):
        t = _solved(T)
        assert t.m_below == pytest.approx(1.0 / T, rel=3e-2)  # the disordered minimum sits at s slightly > 0
        s = math.log(t.m_above * (T - 1) / (1 - t.m_above))
        assert 0.5 < s / math.log(T) < 0.9
        assert 1.0 < t.m_above / math.sqrt(math.log(T) / T) < 2.5
        if prev is not None:
            assert t.m_above < prev / 2
        prev = t.m_above
    assert prev < 0.01


def test_critical_data_grows_like_T_lnT_for_qk_and_T_ln2T_for_gaussian():
    """alpha_c/(nu T) = P_c/(kappa N): over two decades of T (1e4 -> 1e6) it grows by ln(100) for the qk
    prior (alpha_c ~ nu T ln T), and for i.i.d. Gaussian scores by ~7.6 ln(100), i.e. by the increment of
    ln^2 T/4 (x 1.33: the rest is the (ln T/2) ln ln T correction) -- alpha_c ~ nu T ln^2 T/4."""
    a = {T: _solved(T).alpha_c / (NU * T) for T in (10_000, 1_000_000)}
    assert a[1_000_000] - a[10_000] == pytest.approx(math.log(100), rel=0.05)
    g = {T: _solved(T, "gaussian").alpha_c / (NU * T) for T in (10_000, 1_000_000)}
    L1, L2 = math.log(10_000), math.log(1_000_000)
    assert 1.0 < (g[1_000_000] - g[10_000]) / ((L2**2 - L1**2) / 4) < 1.5
    assert (g[1_000_000] - g[10_000]) / math.log(100) > 5


@pytest.mark.parametrize("prior, objective", [("qk", "posterior"), ("gaussian", "posterior"), ("qk", "map"),
                                              ("gaussian", "map")])
@pytest.mark.parametrize("T", [8, 1_000, 1_000_000])
def test_linear_closed_forms_are_exact(prior, objective, T):
    t = _solved(T, prior, objective, "linear")
    lt = scaling.linear_transition(T, NU, S2, prior, objective)
    assert t.kind == lt["transition"]
    assert t.alpha_c == pytest.approx(lt["alpha_c"], rel=1e-12)
    if lt["alpha_spinodal_low"] is not None:
        assert t.alpha_spinodal_low == pytest.approx(lt["alpha_spinodal_low"], rel=1e-10)
        assert t.m_above == pytest.approx(lt["m_above"], rel=1e-8)
    assert t.alpha_spinodal_high is None


@pytest.mark.parametrize("T", [2, 8, 100, 10_000])
def test_map_uniform_spinodal_is_exact(T):
    t = _solved(T, "qk", "map")
    if t.kind == "first-order":
        assert t.alpha_spinodal_high == pytest.approx(scaling.uniform_spinodal_map(T, NU, S2), rel=1e-10)


def test_law_description_states_the_data_amount():
    d = scaling.law_description("softmax", "qk", "posterior")
    assert d["data_amount"]["tokens"] == "T ln T" and d["data_amount"]["sequences"] == "ln T"
    assert scaling.law_description("softmax", "gaussian", "map")["data_amount"]["tokens"] == "T ln^2 T"
    for key in ("leading", "first_correction", "asymptotic"):
        assert d[key]["text"] and d[key]["latex"]


@pytest.mark.slow
def test_asymptotics_against_the_brute_force_scan():
    """Independent of the solver: the dense scan at T = 1e5 (qk posterior, gaussian posterior). ~10 s."""
    from copyhead.numerics.bruteforce import brute_force_transition

    for prior in ("qk", "gaussian"):
        bf = brute_force_transition(Model(T=100_000, nu=NU, sigma2=S2, prior=prior))
        law = scaling.law_values(100_000, NU, S2, "softmax", prior, "posterior")
        assert law["asymptotic"] == pytest.approx(bf.alpha_c, rel=2e-3)
        assert law["spinodal_low_asymptotic"] == pytest.approx(bf.alpha_spinodal_low, rel=1e-2)
        assert law["spinodal_high"] == pytest.approx(bf.alpha_spinodal_high, rel=1e-4)


@pytest.mark.slow
def test_numpy_series_equal_the_sympy_derivation():
    """theory/scaling.py's explicit series are the coefficients derived in derivations/09_scaling_T.py. ~1 min."""
    spec = importlib.util.spec_from_file_location("deriv09", DERIVATION)
    d = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(d)
    for key, obj in (("qk_posterior", "posterior"), ("qk_map", "map")):
        a_k, _, _ = d.coexistence_series(key)
        for T in (1e4, 1e8):
            L, c = math.log(T), 1 / (NU * S2)
            sub = {d.eps: 1 / L, d.ell: math.log(L), d.c: c}
            sym = L + float(a_k[0].subs(sub)) + float(a_k[1].subs(sub)) / L
            assert scaling.softmax_alpha_c_series(T, NU, S2, "qk", obj, 3) / (NU * T) == pytest.approx(sym, rel=1e-12)
        lo = d.lower_spinodal_series(key)
        assert [float(x) for x in lo] == ([4.0, -4.0] if obj == "posterior" else [4.0, 0.0])
    a_g, _, ell2 = d.gaussian_coexistence_series()
    L = math.log(1e6)
    sym = float(a_g.subs({d.eps: 1 / L, ell2: math.log(L / 2), d.c: 1 / (NU * S2)}))
    assert scaling.softmax_alpha_c_series(1e6, NU, S2, "gaussian", "posterior", 3) / (NU * 1e6) == pytest.approx(sym)
    for prior, obj in (("gaussian", "posterior"), ("qk", "posterior")):
        P0, P1 = d.uniform_regime(prior, obj)
        s0, A0 = scaling._uniform_fold(prior, obj)
        assert float(P0.subs({d.A: A0, d.s: s0})) == pytest.approx(0.0, abs=1e-12)
        assert float(sp_diff(P0, d.s).subs({d.A: A0, d.s: s0})) == pytest.approx(0.0, abs=1e-12)
        A1 = float(P1.subs({d.A: A0, d.s: s0, d.c: 1 / (NU * S2)})) / math.exp(2 * s0)
        T = 1e6
        assert scaling.softmax_upper_spinodal_asymptotic(T, NU, S2, prior, obj) == pytest.approx(
            (A0 + A1 / T) * NU * T * T, rel=1e-12)


def sp_diff(e, x):
    import sympy as sp

    return sp.diff(e, x)
