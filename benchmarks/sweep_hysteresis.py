"""Wall time of the paper-scale hysteresis sweep (examples/hysteresis_V8_32.toml), measured on a
reduced version and extrapolated.

Usage:  python benchmarks/sweep_hysteresis.py [--spec examples/hysteresis_V8_32.toml]
        [--executor dask] [--workers 2] [--reduced-iters 100] [--calib-iters 1000]

0. Every worker is warmed with a tiny sweep (imports, Numba cache, torch), so no measured task
   pays for them.
1. The whole grid runs with ``iters = --reduced-iters`` (warm-up ``iters`` as well): every task is
   executed through the engine on the chosen executor (so the example is run end to end).
2. Per V one task (the first value of every other grid dimension) runs again with
   ``--calib-iters`` (warm-up half of it): the per-iteration cost ``b_V`` is the difference of the
   two tasks' CPU times over the difference of their iteration counts (HMC cost does not depend on
   alpha or the seed: the data enter through the V x V counts).
3. Each task of the full spec costs ``c_reduced + b_V (n_full - n_reduced)`` CPU seconds
   (``n = iters + warm-up``). Their sum over W workers is the wall time on a machine with W free
   cores; times the ratio (sweep wall / sum of task CPU) measured in step 1 it is the wall time at
   the load of this run.

Task costs are CPU times (``cpu_s`` of the task files: one thread per task), because wall times on
a shared machine follow the other users' load. ``uptime`` is printed before and after.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def task_cpu(folder: Path) -> dict:
    """``{grid point (sorted items): CPU seconds}`` of the task files in ``folder``."""
    out = {}
    for p in (folder / "tasks").glob("*.json"):
        t = json.loads(p.read_text())
        out[tuple(sorted(t["point"].items()))] = t["cpu_s"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=str(Path(__file__).resolve().parents[1] / "examples" / "hysteresis_V8_32.toml"))
    ap.add_argument("--executor", default="dask")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reduced-iters", type=int, default=100)
    ap.add_argument("--calib-iters", type=int, default=1000)
    ap.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    a = ap.parse_args(argv)
    from copyhead.cli.sweep_tasks import registry
    from copyhead.sweep import load_spec, open_executor, parse_spec, run

    reg = registry()
    full = load_spec(a.spec, reg)
    fi = full.fixed.get("iters", full.task_type.options["iters"].default)
    fw = full.fixed.get("warmup") or max(100, fi // 2)
    n_full = fi + fw
    doc = full.to_dict()
    reduced = {**doc, "fixed": {**doc["fixed"], "iters": a.reduced_iters, "warmup": a.reduced_iters}}
    calib = {**doc, "grid": {d: (v if d == "V" else v[:1]) for d, v in full.grid.items()},
             "fixed": {**doc["fixed"], "iters": a.calib_iters, "warmup": a.calib_iters // 2}}
    n_red, n_cal = 2 * a.reduced_iters, a.calib_iters + a.calib_iters // 2
    print(f"uptime before: {uptime()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="copyhead-bench-hyst-") as tmp:
        root = Path(a.out or tmp)
        t0 = time.perf_counter()
        with open_executor(a.executor, a.workers) as (ex, info):
            t_start = time.perf_counter() - t0
            # warm every worker (imports, Numba cache, torch) so that no measured task pays for them
            warm = {"command": "verify", "grid": {"alpha": [20.0 + i for i in range(2 * (info.workers or 1))]},
                    "fixed": {"V": 6, "iters": 10, "warmup": 10}}
            run(parse_spec(warm, reg), root / "warm", ex, info)
            rep = run(parse_spec(reduced, reg), root / "reduced", ex, info)
            print(f"reduced sweep: {rep.tasks} tasks, {rep.failed} failed, wall {rep.wall_s:.1f} s", flush=True)
            rep_c = run(parse_spec(calib, reg), root / "calib", ex, info)
            print(f"calibration: {rep_c.tasks} tasks, wall {rep_c.wall_s:.1f} s", flush=True)
        tr, tc = task_cpu(root / "reduced"), task_cpu(root / "calib")
    ratio = rep.wall_s / sum(tr.values())
    W = info.workers
    print(f"\nexecutor {info.describe()}, start {t_start:.1f} s; reduced: iters {a.reduced_iters} + warm-up "
          f"{a.reduced_iters} per chain; full: iters {fi} + warm-up {fw}")
    print("| V | task CPU, reduced: median (s) | per-iteration cost b_V (ms) | extrapolated task CPU (s) |")
    print("|---|---|---|---|")
    total = 0.0
    for V in full.grid["V"]:
        (key_c, c_c), = [(k, v) for k, v in tc.items() if dict(k)["V"] == V]
        b = (c_c - tr[key_c]) / (n_cal - n_red)
        reduced_V = [c for k, c in tr.items() if dict(k)["V"] == V]
        cs = [c + b * (n_full - n_red) for c in reduced_V]
        total += sum(cs)
        print(f"| {V} | {statistics.median(reduced_V):.2f} | {1e3 * b:.2f} | {statistics.median(cs):.1f} |")
    print(f"\n{len(tr)} tasks; reduced sweep: wall {rep.wall_s:.0f} s, task CPU {sum(tr.values()):.0f} s "
          f"(wall / CPU = {ratio:.3f} on {W} workers at this load)")
    print(f"full spec, extrapolated task CPU: {total:.0f} s = {total / 3600:.2f} h")
    print(f"  wall on {W} free cores: {total / W:.0f} s = {total / W / 3600:.2f} h; "
          f"at the load of this run: {total * ratio:.0f} s = {total * ratio / 3600:.2f} h")
    print(f"uptime after: {uptime()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
