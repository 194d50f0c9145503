"""``copyhead sweep SPEC.toml``: a grid of tasks of one command on serial / processes / Dask,
resumable, merged into one xarray Dataset (``DIR/sweep.nc``).

Everything is checked before the first task runs: the spec (command, option names, types, grid),
every task's values (the command's own validation), the executor options and the output folder.
Exit codes: 0 all tasks ok, 1 some task failed (listed; rerun to retry them), 2 invalid input,
130 interrupted (rerun the same command to resume).
"""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

NAME = "sweep"
HELP = "run a grid of tasks of one command (TOML spec) on serial / processes / Dask workers; resumable; one xarray Dataset"


def add_arguments(p):
    p.add_argument("spec", metavar="SPEC.toml", help="the sweep spec (command, seed, [grid], [fixed]; see README)")
    p.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes",
                   help="where the tasks run (dask: a LocalCluster, or the cluster at --scheduler)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: the CPUs available; not with serial or --scheduler)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://host:8786 (with --executor dask)")
    p.add_argument("--outdir", "--out", dest="out", default=None, metavar="DIR",
                   help="output folder: DIR/tasks/<key>.json, DIR/sweep.nc, DIR/sweep.json "
                        "(default: copyhead-output/sweep/<spec name>; --out is the older spelling)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no summary line (the files are written; failed tasks, warnings and "
                        "errors still go to stderr)")
    p.add_argument("--json", action="store_true", help="print one JSON line (counts, dataset, executor, wall time)")


def sweep(spec_path, out=None, executor="processes", workers=None, scheduler=None, progress=None, warn=None):
    """Validate ``spec_path`` and run it (the Python form of the command); returns the
    :class:`~copyhead.sweep.runner.SweepReport` and the output folder. ``executor`` is a kind (``serial``,
    ``processes``, ``dask``) or a ``concurrent.futures.Executor`` to use as it is (e.g.
    ``client.get_executor()`` of a Dask cluster you manage)."""
    from copyhead.sweep import load_spec, open_executor, run, validate_tasks
    from copyhead.sweep.executors import ExecutorInfo, check_executor

    from .common import outdir
    from .sweep_tasks import registry

    spec = load_spec(spec_path, registry())
    validate_tasks(spec)
    if isinstance(executor, str):
        check_executor(executor, workers, scheduler)
    folder = outdir(out or Path("copyhead-output") / "sweep" / Path(spec_path).stem)
    if not isinstance(executor, str):
        return run(spec, folder, executor, ExecutorInfo(type(executor).__name__)), folder
    with open_executor(executor, workers, scheduler, warn=warn) as (ex, info):
        return run(spec, folder, ex, info, progress=progress), folder


def run(args) -> int:
    from copyhead.sweep import SweepInterrupted

    from .common import ProgressBar, say, silent

    bar = ProgressBar(f"sweep {Path(args.spec).name} [{args.executor}]", quiet=silent(args))
    again = ["copyhead", "sweep", args.spec, "--executor", args.executor]
    for flag, value in (("--workers", args.workers), ("--scheduler", args.scheduler), ("--outdir", args.out)):
        again += [flag, str(value)] if value is not None else []
    args.resume_hint = f"rerun `{shlex.join(again)}` to resume (finished tasks are kept)"
    try:
        report, folder = sweep(args.spec, args.out, args.executor, args.workers, args.scheduler, progress=bar)
    except SweepInterrupted as exc:
        bar.close()
        args.resume_hint = f"{exc}; " + args.resume_hint
        raise
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        say(args, f"sweep: {report.tasks} tasks ({report.computed} computed, {report.cached} cached, "
                  f"{report.failed} failed) on {report.executor} in {report.wall_s:.1f} s; wrote {report.dataset}")
    for f in report.failures:
        print(f"copyhead: task {f['key']} {f['point']} failed: {f['error']} (traceback in {folder}/tasks/{f['key']}.json)",
              file=sys.stderr)
    if report.failed:
        print(f"copyhead: {report.failed} of {report.tasks} tasks failed; rerun the same command to retry them",
              file=sys.stderr)
        return 1
    return 0
