"""Regenerate tests/golden/v_inf_default.json: the default model's headline numbers at V = inf,
each from a source independent of the solver (closed form, or the brute-force scan of
numerics/bruteforce.py: plain-NumPy F, minima by direct evaluation, no kernels, no continuation).

Usage:  python tests/golden/regenerate.py [--check]
(--check recomputes everything and exits 1 if the committed fixture differs beyond 1e-9 relative.)

Every entry: {"value", "source", "rtol" or "atol"}; the tolerance is what the solver must meet
against it (closed forms: 1e-10; brute-force coexistence / spinodals: 1e-6 -- the scan's own
resolution is ~1e-7; crossover: 1e-4 -- the inflection of a flat m(alpha) is located by fits).
Finite-V windows (V = 8..32, issue 8 §4) are reserved under "finite_V" for the finite-size work.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "v_inf_default.json"
BF = "brute-force scan (numerics/bruteforce.py: dense grids of the plain-NumPy F, minima by direct evaluation)"


def _cf(value, formula):
    return {"value": float(value), "source": f"closed form: {formula}", "rtol": 1e-10}


def _bf(value, what, rtol=1e-6):
    return {"value": float(value), "source": f"{BF}; {what}", "rtol": rtol}


def _bf_m(value, what):
    return {"value": float(value), "source": f"{BF}; {what}", "atol": 1e-6}


def compute() -> dict:
    from copyhead.numerics.bruteforce import brute_force_transition
    from copyhead.theory.landau import critical_alpha, landau_b
    from copyhead.theory.model import Model
    from copyhead.theory.scaling import linear_transition, uniform_spinodal_map

    base = Model()
    T, nu, s2 = base.T, base.nu, base.sigma2
    out = {"model": {"T": T, "nu": nu, "sigma2": s2, "kappa": base.kappa}, "V_inf": {}}
    for prior in ("qk", "gaussian"):
        entries = {}
        for obj in ("posterior", "map"):
            m = Model(prior=prior, objective=obj)
            bf = brute_force_transition(m)
            if bf.unresolved:
                raise RuntimeError(f"brute force unresolved for {m.key}: {bf.unresolved}")
            e = {"transition": {"value": bf.kind, "source": BF}}
            if bf.kind == "crossover":
                e["alpha_c"] = _bf(bf.alpha_c, "inflection of the global-minimum m(alpha), Richardson-extrapolated "
                                              "cubic fits", rtol=1e-4)
                e["m_at_alpha_c"] = {"value": float(bf.m_below), "atol": 1e-4,
                                     "source": f"{BF}; global-minimum m at alpha_c (tolerance: dm/dalpha ~ 0.03 "
                                               "times the 1e-4 uncertainty of alpha_c)"}
            else:
                e["alpha_c"] = _bf(bf.alpha_c, "root of Delta F between the two minimised basins (brentq)")
                e["alpha_spinodal_low"] = _bf(bf.alpha_spinodal_low, "where the copy minimum appears (zoomed grid)")
                if prior == "qk" and obj == "map":
                    e["alpha_spinodal_high"] = _cf(uniform_spinodal_map(T, nu, s2),
                                                   "(nu T^2/2)(1 + sqrt(1 + 4/(nu sigma2 T))) (theory/scaling.py)")
                    e["alpha_spinodal_high_brute_force"] = _bf(
                        bf.alpha_spinodal_high, "kink probe F(+-1e-6) > F(0), whose step biases it by ~5e-7", rtol=1e-5)
                else:
                    e["alpha_spinodal_high"] = _bf(bf.alpha_spinodal_high, "where the disordered minimum disappears")
                e["m_below"] = _bf_m(bf.m_below, "disordered minimum at alpha_c")
                e["m_above"] = _bf_m(bf.m_above, "copy minimum at alpha_c")
            entries[f"softmax_{obj}"] = e
        ac = critical_alpha(T, nu, s2)
        entries["linear_posterior"] = {
            "transition": {"value": "second-order", "source": "closed form: Landau b(alpha_c) > 0"},
            "alpha_c": _cf(ac, "(1 + sqrt(1 + 4 nu T/sigma2))/2 (theory/landau.py)"),
            "landau_b": _cf(landau_b(T, nu, s2, ac, prior), "b(alpha_c) = -[nu T]_qk/4 - g^2/4 + alpha g^2/2 "
                                                           "(theory/landau.py)"),
        }
        lt = linear_transition(T, nu, s2, prior, "map")
        if prior == "qk":
            entries["linear_map"] = {
                "transition": {"value": "first-order", "source": "closed form (theory/scaling.py)"},
                "alpha_c": _cf(lt["alpha_c"], "(4 nu T/sigma)^(2/3)"),
                "alpha_spinodal_low": _cf(lt["alpha_spinodal_low"], "(16 sqrt(3) nu T/(9 sigma))^(2/3)"),
                "alpha_spinodal_high": {"value": None, "source": "closed form: m = 0 is a local minimum for every "
                                                                "alpha (slope nu T of nu T |m|)"},
                "m_below": _cf(0.0, "m = 0"),
                "m_above": _cf(lt["m_above"], "g m^2 = 1 at coexistence: m = (sigma2 alpha_c)^(-1/2)"),
            }
        else:
            a = lt["alpha_c"]
            entries["linear_map"] = {
                "transition": {"value": "second-order", "source": "closed form: b = alpha g^2/2 > 0"},
                "alpha_c": _cf(a, "sqrt(nu T/sigma2)"),
                "landau_b": _cf(a * (s2 * a) ** 2 / 2, "alpha g^2/2"),
            }
        out["V_inf"][prior] = entries
    out["finite_V"] = {
        "status": "reserved: finite-size windows at V = 8..32 (issue 8 §4) are added here by the finite-size work, "
                  "each with its independent source",
        "entries": {},
    }
    return out


def _same(a, b, path="fixture"):
    if isinstance(a, dict):
        return all(_same(a[k], b.get(k), f"{path}.{k}") for k in a if k != "provenance")
    if isinstance(a, float) and isinstance(b, (int, float)):
        ok = abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300)
        if not ok:
            print(f"{path}: committed {b!r}, recomputed {a!r}")
        return ok
    ok = a == b
    if not ok:
        print(f"{path}: committed {b!r}, recomputed {a!r}")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="recompute and compare with the committed fixture")
    args = ap.parse_args(argv)
    data = compute()
    if args.check:
        committed = json.loads(FIXTURE.read_text())
        ok = _same(data, committed)
        print(f"{FIXTURE}: {'up to date' if ok else 'STALE (run python tests/golden/regenerate.py)'}")
        return 0 if ok else 1
    from copyhead.io import provenance, write_json

    write_json(data, FIXTURE, provenance=provenance(command=["python", "tests/golden/regenerate.py"]))
    print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
