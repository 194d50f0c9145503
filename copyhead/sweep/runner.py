"""Run a sweep: skip finished tasks, submit the others to an executor, store each result as it
arrives, merge everything into ``DIR/sweep.nc``.

Results are written by this (driving) process as they complete, so a crash or Ctrl-C loses at
most the tasks that were running; rerunning the same spec resumes. Tasks that fail are recorded
with their error and traceback while the others go on; they run again on the next rerun.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .dataset import merge, write_dataset
from .store import TaskStore
from .worker import error_record, run_task


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: ``saved`` of ``total`` tasks are in ``folder``."""

    def __init__(self, saved: int, total: int, folder: Path):
        super().__init__(f"{saved} of {total} tasks are saved in {folder}")
        self.saved, self.total, self.folder = saved, total, folder


@dataclass
class SweepReport:
    """Counts of one run: ``tasks = computed + cached``; ``failed`` of the computed ones failed."""

    tasks: int
    computed: int
    cached: int
    failed: int
    dataset: str
    executor: str
    wall_s: float
    failures: list = field(default_factory=list)  # {"key", "point", "error"} per failed task

    def to_json(self) -> dict:
        """The one-line ``--json`` document."""
        d = asdict(self)
        d.pop("failures")
        return d


def _lost(exc: BaseException) -> dict:
    """The record of a task whose worker died or whose executor broke (it runs again on a rerun)."""
    return {"status": "failed", "result": None, "error": error_record(exc), "wall_s": None, "cpu_s": None,
            "worker": None}


def execute(tasks, task_type, store: TaskStore, executor, *, max_in_flight: Optional[int] = None,
            progress: Optional[Callable] = None, provenance: Callable[..., dict]) -> tuple:
    """Run the ``tasks`` not yet done in ``store`` on ``executor``; returns ``(computed, failed)``
    lists of tasks. ``provenance(seeds=, wall_s=, **extra)`` builds each task file's record.
    Raises :class:`SweepInterrupted` on Ctrl-C (after cancelling what has not started)."""
    total = len(tasks)
    todo = [t for t in tasks if not store.done(t)]
    done_count = total - len(todo)
    if progress:
        progress(done_count, total)
    computed, failed, pending = [], [], {}
    queue = iter(todo)

    def record(t, rec):
        nonlocal done_count
        store.save(t, rec, provenance(seeds=t.seed, wall_s=rec.get("wall_s")))
        computed.append(t)
        if rec["status"] != "ok":
            failed.append((t, rec["error"]))
        done_count += 1
        if progress:
            progress(done_count, total)

    try:
        while True:
            for t in queue:
                try:
                    pending[executor.submit(run_task, task_type.ref, t.options, t.point)] = t
                except BrokenExecutor as exc:  # a worker died earlier: this task cannot run now
                    record(t, _lost(exc))
                    continue
                if max_in_flight is not None and len(pending) >= max_in_flight:
                    break
            if not pending:
                break
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in finished:
                t = pending.pop(fut)
                try:
                    rec = fut.result()
                except Exception as exc:  # noqa: BLE001 -- the worker died (killed, out of memory, ...)
                    rec = _lost(exc)
                record(t, rec)
    except KeyboardInterrupt:
        for fut in pending:
            fut.cancel()
        raise SweepInterrupted(sum(store.done(t) for t in tasks), total, store.root) from None
    return computed, failed


def run(spec, out, executor, info, *, progress=None, command=None) -> SweepReport:
    """Run ``spec`` into the folder ``out`` on ``executor`` (see :func:`open_executor`; ``info``
    its :class:`ExecutorInfo`) and write ``out/sweep.nc``; returns the :class:`SweepReport`.
    ``command`` is the argument list recorded in the provenance (default ``sys.argv``)."""
    from copyhead.io import provenance, write_json

    out = Path(out)
    t0 = time.perf_counter()
    tasks = spec.tasks()
    store = TaskStore(out / "tasks")

    def prov(**kw):
        return provenance(command, executor=info.to_dict(), **kw)

    computed, failed = execute(tasks, spec.task_type, store, executor, max_in_flight=info.max_in_flight,
                               progress=progress, provenance=prov)
    records = {t.key: store.load(t) for t in tasks}
    ds = merge(spec, tasks, records)
    wall = time.perf_counter() - t0
    seeds = {"base": spec.base_seed, "tasks": {t.key: t.seed for t in tasks}} if spec.task_type.takes_seed else None
    import json

    ds.attrs["provenance"] = json.dumps(prov(seeds=seeds, wall_s=wall), sort_keys=True)
    nc = out / "sweep.nc"
    write_dataset(ds, nc)
    report = SweepReport(len(tasks), len(computed), len(tasks) - len(computed), len(failed), str(nc),
                         info.kind, round(wall, 3),
                         [{"key": t.key, "point": t.point, "error": f"{e['type']}: {e['message']}"} for t, e in failed])
    write_json({**asdict(report), "spec": spec.to_dict(), "executor_info": info.to_dict()}, out / "sweep.json",
               provenance=prov(seeds=seeds, wall_s=wall))
    return report
