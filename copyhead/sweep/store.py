"""The task store: one JSON file per task, ``DIR/tasks/<key>.json``, written atomically.

A task file holds ``format``, ``key``, ``command``, the canonical ``params`` (from which the key
and the seed derive), ``seed``, ``status`` (``ok``/``failed``), ``result`` or ``error`` (with
traceback), ``wall_s``, ``cpu_s`` (the worker's CPU time for the task), ``worker`` (host, pid,
thread report) and ``provenance``. The file is
written by the process that drives the sweep (never by a worker), through
:func:`copyhead.io.write_json`: a crash or Ctrl-C leaves either the whole file or none, and a
rerun skips every task whose file says ``ok`` (failed tasks run again).
"""
from __future__ import annotations

import json
from pathlib import Path

from copyhead.theory.model import ParameterError

FORMAT = "copyhead.sweep_task/1"


class TaskStore:
    """The folder ``root`` of task files."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def load(self, task):
        """The stored record of ``task`` or None. A file whose parameters differ from the task's
        (a hash collision or an edited file) or that cannot be read raises
        :class:`ParameterError` naming it."""
        p = self.path(task.key)
        if not p.exists():
            return None
        try:
            with open(p) as f:
                rec = json.load(f)
        except (OSError, ValueError) as exc:
            raise ParameterError("task file", str(p), f"cannot be read ({exc}); delete it to recompute") from None
        if rec.get("format") != FORMAT or rec.get("params") != task.params:
            raise ParameterError("task file", str(p), "belongs to other parameters; delete it to recompute")
        return rec

    def done(self, task) -> bool:
        rec = self.load(task)
        return rec is not None and rec.get("status") == "ok"

    def save(self, task, record: dict, provenance: dict) -> Path:
        from copyhead.io import write_json

        doc = {"format": FORMAT, "key": task.key, "command": task.params["command"], "params": task.params,
               "point": task.point, "seed": task.seed, **record}
        return write_json(doc, self.path(task.key), provenance=provenance)
