"""Driver of the finite-size studies of issue 11 (items 3-5); every step is resumable.

Usage (from the repository root, one heavy step at a time, ``nice -n 10`` on a shared machine)::

    python examples/landscape_study.py alpha-c --V 8 --alphas 26.75,27.25,27.75 --data-seeds 0,1,2,3,4,5,6,7
    python examples/landscape_study.py linear --V 8,16,24,32
    python examples/landscape_study.py report          # tables, fits, collapse, figures -> RESULTS.md

``alpha-c`` runs :func:`copyhead.cli.landscape.compute` (umbrella sampling + MBAR) at each alpha
with all data seeds in one batch and writes ``results/landscape/alpha_c/V{V}_alpha{alpha}.{json,csv,png}``
(the JSON carries provenance and the wall time). A file whose stored options equal the requested
ones is not recomputed (resume after an interruption by running the same command again).

``linear`` runs ``copyhead verify --attention linear`` at each V (HMC <|m|> vs alpha, two starts)
into ``results/landscape/linear/``, skipping sizes already there.

``report`` reads only the saved files (plus theory computed on the spot) and writes
``results/landscape/RESULTS.md``, ``report.json``, ``alpha_c.png`` and ``collapse.png``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "landscape"

LINEAR_ALPHAS = "3,4,5,5.5,6,6.25,6.5,6.6,6.7,6.8,6.9,7,7.1,7.2,7.35,7.5,8,8.5,9,10,12,15"


def _floats(text):
    return [float(v) for v in text.split(",") if v.strip()]


def _ints(text):
    return [int(v) for v in text.split(",") if v.strip()]


def cmd_alpha_c(args) -> int:
    from copyhead.cli.common import ProgressBar, set_threads
    from copyhead.cli.landscape import compute, validate, write_outputs

    set_threads(args.threads)  # torch's default (all cores) thrashes on a shared machine

    folder = OUT / "alpha_c"
    folder.mkdir(parents=True, exist_ok=True)
    for V in _ints(args.V):
        for a in _floats(args.alphas):
            opts = {"V": V, "alpha": a, "data_seeds": _ints(args.data_seeds), "replicas": args.replicas,
                    "iters": args.iters, "warmup": args.warmup, "seed": args.seed, "theory": not args.no_theory}
            o, _, plan = validate(opts)
            prefix = folder / f"V{V}_alpha{a:g}"
            jpath = Path(f"{prefix}.json")  # (not with_suffix: the alpha has a decimal point)
            if jpath.exists():
                old = json.loads(jpath.read_text())
                if old.get("options") == json.loads(json.dumps(o)):
                    print(f"{prefix.name}: done before ({old['wall_s']['total']:.0f} s), skipped")
                    continue
                print(f"{prefix.name}: stored options differ, recomputing")
            print(f"{prefix.name}: {len(plan.centres)} windows x {o['replicas']} runs x {len(o['data_seeds'])} data sets",
                  flush=True)
            res = compute(o, progress=ProgressBar(f"V={V} alpha={a:g}"))
            write_outputs(res, str(prefix), command=[sys.argv[0], "alpha-c", f"--V={V}", f"--alpha={a:g}"]
                          + [f"--{k}={v}" for k, v in opts.items() if k not in ("V", "alpha")])
            lo = ", ".join(f"{d['log_odds']:+.2f}" for d in res["datasets"])
            print(f"{prefix.name}: log_odds {res['log_odds']:+.3f} +- {res['log_odds_err']:.3f} (per data set {lo}); "
                  f"wall {res['wall_s']['total']:.0f} s", flush=True)
    return 0


def cmd_linear(args) -> int:
    folder = OUT / "linear"
    folder.mkdir(parents=True, exist_ok=True)
    for V in _ints(args.V):
        prefix = folder / f"verify_linear_V{V}_seed{args.seed}"
        if Path(f"{prefix}.json").exists():
            print(f"{prefix.name}: done before, skipped")
            continue
        cmd = ["copyhead", "verify", "--attention", "linear", "--V", str(V), "--alphas", args.alphas,
               "--iters", str(args.iters), "--seed", str(args.seed), "--outdir", str(folder), "--threads", "1"]
        print(" ".join(cmd), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd).returncode
        wall = time.perf_counter() - t0
        jpath = Path(f"{prefix}.json")
        if rc != 0:
            raise SystemExit(f"copyhead verify failed (exit {rc}); command: {' '.join(cmd)}")
        (folder / f"{prefix.name}.wall.json").write_text(json.dumps({"command": cmd, "wall_s": wall}) + "\n")
        npz = Path(f"{prefix}.npz")
        if npz.exists() and not args.keep_traces:
            os.remove(npz)  # traces are large and not needed by the report (m_mean/m_err are in the JSON)
    return 0


def cmd_report(args) -> int:
    from copyhead.verification.landscape_report import write_report

    paths = write_report(OUT)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("alpha-c", help="umbrella runs at a few alphas per V")
    p.add_argument("--V", required=True, help="comma-separated sizes")
    p.add_argument("--alphas", required=True, help="comma-separated alphas")
    p.add_argument("--data-seeds", default="0,1,2,3")
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-theory", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.set_defaults(func=cmd_alpha_c)
    p = sub.add_parser("linear", help="HMC <|m|> vs alpha for linear attention (copyhead verify)")
    p.add_argument("--V", default="8,16,24,32")
    p.add_argument("--alphas", default=LINEAR_ALPHAS)
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-traces", action="store_true")
    p.set_defaults(func=cmd_linear)
    p = sub.add_parser("report", help="tables, fits, collapse and figures from the saved results")
    p.set_defaults(func=cmd_report)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
