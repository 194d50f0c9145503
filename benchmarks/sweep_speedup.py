"""Speed-up of the sweep engine's parallel executors over serial, for tasks of >= 1 s each.

Usage:  python benchmarks/sweep_speedup.py [--workers 2] [--V 12] [--iters 1000] [--tasks 8]
        [--executors dask,processes] [--repeat 1]

Each round runs serial, then each executor; the speed-up of a round is against that round's serial
run (``--repeat`` alternates rounds, since the load of a shared machine drifts). The tasks are ``copyhead verify`` at one alpha each (HMC from both starts on one data set, one
thread per task). Every executor is warmed first (a tiny sweep, so that imports, the Numba cache
and torch are loaded in every worker), then the same sweep runs into a fresh folder; the figure
is the engine's wall time (submission to merged dataset). Cluster start and warm-up are reported
separately, and "task CPU / sweep wall" (the cores the sweep actually got: at most the number of
workers) shows how much of the machine the other users left. The datasets of all executors are checked to be identical. Not part of the tests.
The machine is shared: ``uptime`` is printed before and after (report the load with the number).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def spec_doc(V, iters, n, alphas=None):
    alphas = alphas or [round(18.0 + 12.0 * i / max(1, n - 1), 3) for i in range(n)]
    return {"command": "verify", "seed": 11, "grid": {"alpha": alphas},
            "fixed": {"attention": "softmax", "V": V, "iters": iters, "warmup": max(10, iters // 2)}}


def timed_run(kind, workers, doc, warm_doc, root):
    from copyhead.cli.sweep_tasks import registry
    from copyhead.sweep import open_executor, parse_spec, run

    reg = registry()
    t0 = time.perf_counter()
    with open_executor(kind, None if kind == "serial" else workers) as (ex, info):
        t_start = time.perf_counter() - t0
        t1 = time.perf_counter()
        run(parse_spec(warm_doc, reg), root / f"{kind}-warm", ex, info)
        t_warm = time.perf_counter() - t1
        report = run(parse_spec(doc, reg), root / kind, ex, info)
    tasks = [json.loads(p.read_text()) for p in (root / kind / "tasks").glob("*.json")]
    return {"kind": kind, "workers": info.workers, "start_s": t_start, "warm_s": t_warm, "wall_s": report.wall_s,
            "task_s": [t["wall_s"] for t in tasks], "task_cpu": [t["cpu_s"] for t in tasks], "failed": report.failed}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--V", type=int, default=12)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--executors", default="dask,processes")
    ap.add_argument("--markdown", action="store_true", help="(the table is always markdown)")
    ap.add_argument("--json", metavar="PATH", default=None,
                    help="write the rows as JSON (results/benchmarks_sweep_speedup.json, rendered by `copyhead report`)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="alternate serial and the executors this many times (the load of a shared machine drifts)")
    a = ap.parse_args(argv)
    import xarray as xr

    doc = spec_doc(a.V, a.iters, a.tasks)
    warm = spec_doc(6, 10, 2 * a.workers, alphas=[20.0 + i for i in range(2 * a.workers)])
    t_start, before = time.perf_counter(), uptime()
    print(f"uptime before: {before}", flush=True)
    print(f"cpus available: {len(os.sched_getaffinity(0))}; {a.tasks} verify tasks, V={a.V}, iters={a.iters}, "
          f"warmup={doc['fixed']['warmup']}", flush=True)
    res, identical = [], True
    for rep in range(a.repeat):
        with tempfile.TemporaryDirectory(prefix="copyhead-bench-sweep-") as tmp:
            root = Path(tmp)
            round_ = [timed_run("serial", 1, doc, warm, root)]
            for kind in a.executors.split(","):
                round_.append(timed_run(kind, a.workers, doc, warm, root))
            print(f"  round {rep + 1}: " + ", ".join(f"{r['kind']} {r['wall_s']:.2f} s" for r in round_) +
                  f"; {uptime()}", flush=True)
            dss = {}
            for r in round_:
                with xr.open_dataset(root / r["kind"] / "sweep.nc") as ds:
                    ds = ds.load()
                ds.attrs.pop("provenance")
                dss[r["kind"]] = ds
            identical &= all(dss["serial"].identical(d) for d in dss.values())
        base = round_[0]["wall_s"]
        for r in round_:
            r["speedup"] = base / r["wall_s"]
        res += round_
    after = uptime()
    lines = ["| executor | workers | start (s) | warm-up (s) | sweep wall (s) | task wall median [min, max] (s) "
             "| task CPU median (s) | task CPU / sweep wall | speed-up vs serial |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        ts = r["task_s"]
        lines.append(f"| {r['kind']} | {r['workers']} | {r['start_s']:.2f} | {r['warm_s']:.2f} | {r['wall_s']:.2f} | "
                     f"{statistics.median(ts):.2f} [{min(ts):.2f}, {max(ts):.2f}] | "
                     f"{statistics.median(r['task_cpu']):.2f} | {sum(r['task_cpu']) / r['wall_s']:.2f} | "
                     f"{r['speedup']:.2f}x |")
    print("\n".join(lines))
    print(f"datasets identical across executors: {identical}; failed tasks: {sum(r['failed'] for r in res)}")
    print(f"uptime after: {after}")
    if a.json:
        write_rows(a, res, identical, before, after, time.perf_counter() - t_start)
    return 0 if identical else 1


def write_rows(a, res, identical, before, after, wall_s):
    """The rounds as ``copyhead.benchmarks/1`` rows (one per parallel run: its speed-up over the
    serial run of the same round), plus the median per executor."""
    from copyhead.io import provenance, write_json

    rows = []
    for i, r in enumerate(res):
        if r["kind"] == "serial":
            serial = r
            continue
        rows.append({"name": f"round {i // (len(a.executors.split(',')) + 1) + 1}: {r['kind']}, {r['workers']} workers "
                             f"/ serial, sweep wall", "value": round(r["speedup"], 3), "unit": "x", "target": ">= 1.6",
                     "note": f"serial {serial['wall_s']:.2f} s, {r['kind']} {r['wall_s']:.2f} s; cores the sweep got "
                             f"(task CPU / wall) {sum(serial['task_cpu']) / serial['wall_s']:.2f} / "
                             f"{sum(r['task_cpu']) / r['wall_s']:.2f}; task CPU median {statistics.median(r['task_cpu']):.2f} s"})
    for kind in a.executors.split(","):
        sp = [r["speedup"] for r in res if r["kind"] == kind]
        rows.append({"name": f"median over {len(sp)} rounds: {kind} / serial", "value": round(statistics.median(sp), 3),
                     "unit": "x", "target": ">= 1.6", "note": f"range {min(sp):.2f}-{max(sp):.2f}x"})
    doc = {"format": "copyhead.benchmarks/1", "command": "python benchmarks/sweep_speedup.py " + " ".join(
               f"--{k} {v}" for k, v in (("tasks", a.tasks), ("iters", a.iters), ("V", a.V), ("workers", a.workers),
                                         ("executors", a.executors), ("repeat", a.repeat))),
           "machine": f"{len(os.sched_getaffinity(0))} CPUs", "load_average_before_after": f"{before} / {after}",
           "datasets_identical": identical, "rows": rows}
    write_json(doc, a.json, provenance=provenance(wall_s=wall_s))
    print(f"wrote {a.json}")


if __name__ == "__main__":
    raise SystemExit(main())
