"""What runs in a worker: one task, with its threads pinned, its errors caught and its result
checked against the protocol.

This module imports only the standard library at the top, so that unpickling
:func:`run_task` in a fresh worker loads neither NumPy nor torch before :func:`threads.pinned`
has set the thread environment.
"""
from __future__ import annotations

import importlib
import os
import platform
import time
import traceback


def resolve(ref: str):
    """The function named ``module:qualname``."""
    mod, _, qual = ref.partition(":")
    obj = importlib.import_module(mod)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def error_record(exc: BaseException) -> dict:
    """``{"type", "message", "traceback"}`` of an exception."""
    return {"type": type(exc).__name__, "message": str(exc),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}


def run_task(ref: str, options: dict, point: dict) -> dict:
    """Run ``ref(options)`` with one thread; return the task record.

    The record: ``status`` (``"ok"`` or ``"failed"``), ``result`` (the JSON-normalised result,
    checked by :func:`copyhead.sweep.dataset.task_variables` against the protocol and the grid
    point ``point``) or ``error`` (type, message, traceback), ``wall_s``, ``cpu_s`` and
    ``worker`` (host, pid, the :func:`threads.thread_report` taken after the task). An exception of the task is
    recorded, never raised (``KeyboardInterrupt`` and ``SystemExit`` are passed on). ``cpu_s`` is
    the CPU time of the worker process during the task (on a shared machine the better measure of
    the task's cost than ``wall_s``).
    """
    from .threads import pinned, thread_report

    t0, c0 = time.perf_counter(), time.process_time()
    with pinned():
        try:
            fn = resolve(ref)
            raw = fn(dict(options))
            import json

            from copyhead.io import to_json_text

            from .dataset import task_variables

            if not isinstance(raw, dict):
                raise TypeError(f"{ref} returned {type(raw).__name__}, not a dict (see copyhead.sweep.protocol)")
            result = json.loads(to_json_text(raw, indent=None))
            task_variables(result, point)  # protocol check: a violation fails this task, not the merge
            rec = {"status": "ok", "result": result, "error": None}
        except Exception as exc:  # noqa: BLE001 -- recorded with its traceback; the other tasks go on
            rec = {"status": "failed", "result": None, "error": error_record(exc)}
        rec["wall_s"] = time.perf_counter() - t0
        rec["cpu_s"] = time.process_time() - c0
        rec["worker"] = {"host": platform.node(), "pid": os.getpid(), "threads": thread_report()}
    return rec
