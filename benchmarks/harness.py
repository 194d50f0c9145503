"""Correctness harness: ``copyhead.numerics.solve`` against an independent brute-force scan
(issue 8 §2) over random points of the parameter space.

Usage:  python benchmarks/harness.py [--n 200] [--seed 0] [--rtol 1e-3] [--json FILE] [--summary FILE]

Each point is drawn by :func:`copyhead.numerics.bruteforce.random_model` (attention, prior and
objective uniform; T log-uniform integer in [2, 1e4]; nu, sigma2, kappa log-uniform) and checked
by :func:`copyhead.numerics.bruteforce.check_solver`: transition kind, alpha_c and both spinodals
to ``rtol`` (relative). Reports coverage (points the brute force could resolve), pass/fail
counts per kind, the worst relative deviation of each quantity (with its point) and every
failure or unresolved point with its reason. Exit code 1 if any point fails.
Not part of the test run (a few points run in the default tests, more in the slow tier).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

import numpy as np


def run(n: int, seed: int, rtol: float, progress=True):
    from copyhead.numerics.bruteforce import check_solver, random_model

    rng = np.random.default_rng(np.random.SeedSequence(seed))
    results = []
    t0 = time.perf_counter()
    for i in range(n):
        model = random_model(rng)
        t1 = time.perf_counter()
        r = check_solver(model, rtol=rtol)
        r["wall_s"] = time.perf_counter() - t1
        results.append(r)
        if progress:
            kind = (r.get("solver") or {}).get("transition")
            print(f"  [{i + 1:4d}/{n}] {r['status']:10s} {kind or '-':13s} {model.attention:7s} {model.prior:8s} "
                  f"{model.objective:9s} T={model.T:<6d} nu={model.nu:<8.3g} sigma2={model.sigma2:<8.3g} "
                  f"({r['wall_s']:.2f} s)", file=sys.stderr, flush=True)
    return results, time.perf_counter() - t0


def summarise(results, rtol):
    status = Counter(r["status"] for r in results)
    kinds = Counter(((r.get("solver") or {}).get("transition"), r["status"]) for r in results)
    worst = {}
    for r in results:
        if r["status"] == "unresolved":
            continue
        for q, d in r["deviation"].items():
            if q not in worst or d > worst[q][0]:
                worst[q] = (d, r["model"])
    n = len(results)
    resolved = n - status["unresolved"]
    return {
        "n_points": n,
        "rtol": rtol,
        "status": dict(status),
        "coverage": resolved / n if n else 0.0,
        "by_kind": {f"{k}/{s}": c for (k, s), c in sorted(kinds.items(), key=str)},
        "worst_deviation": {q: {"relative" if not q.endswith("_abs") else "absolute": d, "model": m}
                            for q, (d, m) in worst.items()},
        "failures": [{"model": r["model"], "reasons": r["reasons"]} for r in results if r["status"] == "fail"],
        "unresolved": [{"model": r["model"], "reasons": r["reasons"]} for r in results if r["status"] == "unresolved"],
    }


def _model_text(m):
    return (f"{m['attention']}/{m['prior']}/{m['objective']} T={m['T']} nu={m['nu']:.4g} sigma2={m['sigma2']:.4g} "
            f"kappa={m['kappa']:.4g}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="number of random points")
    ap.add_argument("--seed", type=int, default=0, help="seed of the point sampler (numpy SeedSequence)")
    ap.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance on alpha_c and the spinodals")
    ap.add_argument("--json", default=None, help="write the summary and all points to this JSON file")
    ap.add_argument("--summary", default=None, help="write only the summary (coverage, worst deviations, failures)")
    ap.add_argument("--quiet", action="store_true", help="no per-point progress on stderr")
    args = ap.parse_args(argv)
    results, wall = run(args.n, args.seed, args.rtol, progress=not args.quiet)
    s = summarise(results, args.rtol)
    print(f"harness: {s['n_points']} random points (seed {args.seed}), rtol {args.rtol:g}, wall {wall:.1f} s "
          f"({wall / max(1, s['n_points']):.2f} s/point)")
    print(f"  status: " + ", ".join(f"{k} {v}" for k, v in sorted(s["status"].items())))
    print(f"  coverage (resolved by the brute force): {s['coverage']:.1%}")
    print("  by solver kind / status: " + ", ".join(f"{k} {v}" for k, v in s["by_kind"].items()))
    for q, w in s["worst_deviation"].items():
        (key, d), = [(k, v) for k, v in w.items() if k != "model"]
        print(f"  worst {q:22s} {key} {d:.2e}  at {_model_text(w['model'])}")
    for f in s["failures"]:
        print(f"  FAIL {_model_text(f['model'])}: " + "; ".join(f["reasons"]))
    for f in s["unresolved"]:
        print(f"  unresolved {_model_text(f['model'])}: " + "; ".join(f["reasons"]))
    from copyhead.io import provenance, write_json

    prov = provenance(seeds={"sampler": args.seed}, wall_s=wall)
    if args.json:
        write_json({"summary": s, "points": results}, args.json, provenance=prov)
        print(f"  wrote {args.json}")
    if args.summary:
        write_json({"summary": s}, args.summary, provenance=prov)
        print(f"  wrote {args.summary}")
    return 1 if s["status"].get("fail") else 0


if __name__ == "__main__":
    sys.exit(main())
