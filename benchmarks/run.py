"""copyhead benchmarks: each figure is a ratio or a time measured in this one run.

Usage:  python benchmarks/run.py [--only kernels,solve,phase,evidence,hmc] [--markdown] [--json PATH]

Not part of the test run. ``--json results/benchmarks_NAME.json`` writes the rows (format
``copyhead.benchmarks/1``, with provenance); ``copyhead report`` renders the tables of
benchmarks/RESULTS.md from those files (the table between the markers naming the file).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

ROWS = []


def row(name, value, unit, target="", note=""):
    ROWS.append((name, value, unit, target, note))
    print(f"  {name:58s} {value:>12.4g} {unit:10s} {target:>10s}  {note}", flush=True)


def best_of(fn, repeat=5, number=1):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


# ----------------------------------------------------------------------------- kernels


def bench_kernels(n=100_000):
    """Generated Numba kernels (F, dF, d2F) vs sympy.lambdify(numpy) on the same expressions."""
    import sympy as sp

    from copyhead.numerics._kernels import KERNELS
    from copyhead.theory.symbolic.codegen import kernel_expressions
    from copyhead.theory.symbolic.symbols import Sg, T, alpha, kappa, nu, sigma2

    print(f"[kernels] {n} points, (F, F_x, F_xx), softmax_qk_posterior and linear_qk_posterior")
    rng = np.random.default_rng(0)
    for key, lo, hi in (("softmax_qk_posterior", -3.0, 10.0), ("linear_qk_posterior", 0.0, 4.0)):
        exprs, x = kernel_expressions(key)
        lam = sp.lambdify((x, alpha, T, nu, sigma2, kappa, Sg), list(exprs[:3]), "numpy", cse=True)
        xs = rng.uniform(lo, hi, n)
        al = np.full(1, 20.0)
        grid = KERNELS[key][1]
        p = (8.0, 0.5, 0.1, 1.0)
        grid(xs[:10], al, *p)  # compile
        t_nb = best_of(lambda: grid(xs, al, *p))
        t_np = best_of(lambda: lam(xs, 20.0, *p, 1.0))
        out_nb = grid(xs, al, *p)[0]
        out_np = np.stack(lam(xs, 20.0, *p, 1.0), axis=1)
        err = np.max(np.abs(out_nb - out_np) / (1 + np.abs(out_np)))
        row(f"{key}: lambdify(numpy) / numba grid kernel", t_np / t_nb, "x", ">= 10",
            f"numba {t_nb * 1e3:.2f} ms, numpy {t_np * 1e3:.2f} ms, max rel diff {err:.1e}")
        # scalar kernel from a python loop vs lambdified scalar calls (what continuation does)
        f = KERNELS[key][0]
        ls = sp.lambdify((x, alpha, T, nu, sigma2, kappa, Sg), list(exprs), "math", cse=True)
        m = 2000
        t_s_nb = best_of(lambda: [f(v, 20.0, *p) for v in xs[:m]]) / m
        t_s_py = best_of(lambda: [ls(v, 20.0, *p, 1.0) for v in xs[:m]]) / m
        row(f"{key}: scalar call, lambdify(math) / numba (6 derivs)", t_s_py / t_s_nb, "x", "",
            f"numba {t_s_nb * 1e6:.2f} us/call, python {t_s_py * 1e6:.2f} us/call")


# ----------------------------------------------------------------------------- solver


def bench_solve():
    from copyhead.numerics.phase_diagram import phase_map
    from copyhead.numerics.solve import solve
    from copyhead.theory.model import Model

    print("[solve] full phase analysis at the default parameters (warm: kernels compiled)")
    ms = Model(attention="softmax")
    ml = Model(attention="linear")
    solve(ms), solve(ml)
    t = best_of(lambda: (solve(ms), solve(ml)), repeat=5)
    row("softmax + linear analysis (branches, spinodals, coexistence)", t, "s", "< 0.2")
    vals = np.geomspace(0.02, 1.0, 100)
    alphas = np.linspace(5.0, 60.0, 100)
    phase_map(ms, "sigma2", vals[:2], alphas[:2])
    t = best_of(lambda: phase_map(ms, "sigma2", vals, alphas), repeat=2)
    row("100 x 100 (sigma2, alpha) map of global-minimum m + #minima", t, "s", "< 10")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="kernels,solve,evidence,hmc")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table at the end")
    ap.add_argument("--json", metavar="PATH", default=None,
                    help="write the rows as JSON (results/benchmarks_NAME.json, rendered by `copyhead report`)")
    args = ap.parse_args(argv)
    import numba
    import torch

    machine = (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python "
               f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__} "
               f"({numba.config.NUMBA_NUM_THREADS} threads), torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(machine)
    t_start, load_before = time.perf_counter(), os.getloadavg()
    only = set(args.only.split(","))
    if "kernels" in only:
        bench_kernels()
    if "solve" in only:
        bench_solve()
    extra = None
    try:
        from benchmarks import verification_bench as extra  # torch evidence / HMC throughput
    except ImportError:
        pass
    if extra is not None:
        if "evidence" in only:
            extra.bench_evidence(row, best_of)
        if "hmc" in only:
            extra.bench_hmc(row, best_of)
    if args.markdown:
        print("\n| benchmark | value | unit | target | note |\n|---|---|---|---|---|")
        for r in ROWS:
            print(f"| {r[0]} | {r[1]:.4g} | {r[2]} | {r[3]} | {r[4]} |")
    if args.json:
        from copyhead.io import provenance, write_json

        doc = {"format": "copyhead.benchmarks/1", "command": "python benchmarks/run.py " + " ".join(argv or sys.argv[1:]),
               "machine": machine, "load_average_before_after": f"{load_before} / {os.getloadavg()}",
               "rows": [{"name": r[0], "value": float(r[1]), "unit": r[2], "target": r[3], "note": r[4]} for r in ROWS]}
        write_json(doc, args.json, provenance=provenance(wall_s=time.perf_counter() - t_start))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
