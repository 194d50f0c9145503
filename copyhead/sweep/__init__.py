"""The sweep engine: a grid of independent tasks of one command, on any
``concurrent.futures.Executor`` (serial, local processes, Dask), resumable, merged into one
xarray Dataset.

* :mod:`~copyhead.sweep.protocol` -- what a sweepable command provides (``compute(options) ->
  dict``, its options) and how its result becomes dataset variables;
* :mod:`~copyhead.sweep.spec` -- the TOML spec, validated as a whole before anything runs;
* :mod:`~copyhead.sweep.keys` -- task keys and seeds from the canonical parameters only;
* :mod:`~copyhead.sweep.executors` -- ``serial`` / ``processes`` / ``dask`` behind one interface;
* :mod:`~copyhead.sweep.threads` -- one thread per worker (environment, torch, Numba);
* :mod:`~copyhead.sweep.store` -- ``DIR/tasks/<key>.json``, atomic, skipped on rerun;
* :mod:`~copyhead.sweep.dataset` -- the merge into ``DIR/sweep.nc``;
* :mod:`~copyhead.sweep.runner` -- the loop that ties them together.

The engine knows no command: the command line (:mod:`copyhead.cli.sweep_tasks`) registers the
sweepable ones. Python use::

    from copyhead.cli.sweep_tasks import registry
    from copyhead.sweep import load_spec, open_executor, run
    spec = load_spec("examples/sweep_verify_small.toml", registry())
    with open_executor("processes", 2) as (ex, info):
        report = run(spec, "out/small", ex, info)

(imported lazily: ``import copyhead.sweep`` loads neither NumPy nor torch).
"""
from __future__ import annotations

import importlib

_API = {
    "Option": ".protocol", "TaskType": ".protocol", "task_from_command": ".protocol",
    "SweepSpec": ".spec", "Task": ".spec", "load_spec": ".spec", "parse_spec": ".spec", "validate_tasks": ".spec",
    "open_executor": ".executors", "EXECUTORS": ".executors", "SerialExecutor": ".executors",
    "run": ".runner", "SweepReport": ".runner", "SweepInterrupted": ".runner",
    "TaskStore": ".store", "merge": ".dataset", "THREAD_ENV": ".threads", "thread_report": ".threads",
}
__all__ = sorted(_API)


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(_API[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
