"""The sweep spec (TOML): which command, its grid and fixed options; validated as a whole.

::

    command = "verify"          # a sweepable command
    seed = 3                    # base seed (optional, default 0)
    description = "..."         # optional, copied into the dataset
    [grid]                      # lists; the tasks are their cartesian product, in this order
    alpha = [18.0, 30.0]
    seed = [0, 1]               # replicate labels (commands that take a seed)
    [fixed]                     # single values of further options
    attention = "softmax"
    V = 6

Every option not given takes the command line's default. :func:`parse_spec` checks everything
(unknown keys, commands and options, empty or repeated grid values, types, required options)
before a single task runs, and raises :class:`ParameterError` naming the key (``grid.alpha``,
``fixed.iters``, ...), which the command line prints as one line.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from copyhead.theory.model import ParameterError

from .keys import task_key, task_seed
from .protocol import TaskType

TOP_KEYS = ("command", "seed", "description", "grid", "fixed")


@dataclass(frozen=True)
class Task:
    """One grid point: ``index`` in the grid, ``point`` (grid values by dimension), ``options``
    passed to the command (with the derived ``seed``), canonical ``params``, ``key``, ``seed``."""

    index: tuple
    point: dict
    options: dict
    params: dict
    key: str
    seed: Optional[int]


@dataclass(frozen=True)
class SweepSpec:
    """A validated spec (see the module docstring); :meth:`tasks` lists its tasks in grid order."""

    command: str
    task_type: TaskType
    base_seed: int
    grid: dict
    fixed: dict
    description: str = ""
    path: Optional[str] = None

    @property
    def dims(self) -> tuple:
        return tuple(self.grid)

    @property
    def shape(self) -> tuple:
        return tuple(len(v) for v in self.grid.values())

    def resolved(self) -> dict:
        """Every option that is not a grid dimension: the fixed value or the default."""
        base = {n: o.default for n, o in self.task_type.options.items()}
        base.update(self.fixed)
        return {k: v for k, v in base.items() if k not in self.grid}

    def to_dict(self) -> dict:
        return {"command": self.command, "seed": self.base_seed, "description": self.description,
                "grid": self.grid, "fixed": self.fixed}

    def tasks(self) -> list:
        tt, common = self.task_type, self.resolved()
        out = []
        ranges = [range(len(v)) for v in self.grid.values()]
        for index in itertools.product(*ranges):
            point = {d: self.grid[d][i] for d, i in zip(self.dims, index)}
            opts = {**common, **point}
            params = {"command": self.command, "version": tt.version, "base_seed": self.base_seed,
                      "options": dict(sorted(opts.items()))}
            seed = task_seed(params) if tt.takes_seed else None
            if tt.takes_seed:
                opts = {**opts, "seed": seed}
            out.append(Task(index, point, opts, params, task_key(params), seed))
        return out


def _table(doc, name) -> dict:
    val = doc.get(name, {})
    if not isinstance(val, dict):
        raise ParameterError(name, val, "must be a table ([" + name + "])")
    return val


def parse_spec(doc: Mapping, registry: Mapping[str, TaskType], path=None) -> SweepSpec:
    """Validate a spec document (the parsed TOML) against the registered commands."""
    for k in doc:
        if k not in TOP_KEYS:
            raise ParameterError(k, doc[k], f"unknown key in the spec (allowed: {', '.join(TOP_KEYS)})")
    command = doc.get("command")
    if command not in registry:
        raise ParameterError("command", command, f"must be one of {', '.join(sorted(registry))}")
    tt = registry[command]
    grid_doc, fixed_doc = _table(doc, "grid"), _table(doc, "fixed")
    if "seed" in doc and not tt.takes_seed:
        raise ParameterError("seed", doc["seed"], f"{command} takes no seed")
    base_seed = doc.get("seed", 0)
    if isinstance(base_seed, bool) or not isinstance(base_seed, int) or base_seed < 0:
        raise ParameterError("seed", base_seed, "must be an integer >= 0")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise ParameterError("description", description, "must be a string")
    if not grid_doc:
        raise ParameterError("grid", grid_doc, "must be a non-empty table of lists (the swept options)")

    def option(name, where):
        if name not in tt.options:
            raise ParameterError(where, doc[where.split(".")[0]][name],
                                 f"{command} has no option {name} (options: {', '.join(sorted(tt.options))})")
        return tt.options[name]

    grid = {}
    for name, values in grid_doc.items():
        where = f"grid.{name}"
        if not isinstance(values, list) or not values:
            raise ParameterError(where, values, "must be a non-empty list")
        if name == "seed":
            if not tt.takes_seed:
                raise ParameterError(where, values, f"{command} takes no seed")
            if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
                raise ParameterError(where, values, "replicate seeds must be integers")
            coerced = [int(v) for v in values]
        else:
            opt = option(name, where)
            if opt.kind == "floats":
                raise ParameterError(where, values, f"{name} is a list option and cannot be a grid dimension; "
                                                    f"put it in [fixed]")
            coerced = [opt.coerce(v, where) for v in values]
        if len(set(coerced)) != len(coerced):
            raise ParameterError(where, values, "values must be distinct")
        grid[name] = coerced
    fixed = {}
    for name, value in fixed_doc.items():
        where = f"fixed.{name}"
        if name == "seed":
            raise ParameterError(where, value, "set the base seed at the top level (seed = N) and replicate "
                                               "seeds as a grid dimension")
        if name in grid:
            raise ParameterError(where, value, "is also a grid dimension")
        fixed[name] = option(name, where).coerce(value, where)
    for name, opt in tt.options.items():
        if opt.required and name not in grid and name not in fixed:
            raise ParameterError(name, None, f"{command} needs {name} (in [grid] or [fixed])")
    return SweepSpec(command, tt, base_seed, grid, fixed, description, None if path is None else str(path))


def load_spec(path, registry: Mapping[str, TaskType]) -> SweepSpec:
    """Read and validate the TOML spec at ``path`` (see :func:`parse_spec`)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    p = Path(path)
    try:
        with open(p, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ParameterError("spec", str(p), "no such file") from None
    except OSError as exc:
        raise ParameterError("spec", str(p), f"cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError("spec", str(p), f"is not valid TOML ({exc})") from None
    return parse_spec(doc, registry, p)


def validate_tasks(spec: SweepSpec, tasks=None) -> None:
    """Run the command's cheap ``validate(options)`` on every task (values, not just types:
    e.g. ``V >= 2``), so that a bad grid value fails before anything runs. A failure names the
    grid point."""
    v = spec.task_type.validate
    if v is None:
        return
    for t in tasks if tasks is not None else spec.tasks():
        try:
            v(dict(t.options))
        except ParameterError as exc:
            at = ", ".join(f"{k}={val!r}" for k, val in t.point.items())
            prefix = f"invalid parameter {exc.name}={exc.value!r}: "
            req = str(exc)[len(prefix):] if str(exc).startswith(prefix) else str(exc)
            raise ParameterError(exc.name, exc.value, f"{req} (at grid point {at})") from None
