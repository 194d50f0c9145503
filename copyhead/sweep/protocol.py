"""The task protocol: what a sweepable command provides, and its options.

A sweepable command is a module-level function ``compute(options: dict) -> dict`` (importable by
name in a worker process) plus the description of its options. ``options`` holds plain values
under the names of the command's command-line options (``--copy-start`` is ``copy_start``); a
command that takes a ``seed`` receives the task seed derived by the engine
(:func:`copyhead.sweep.keys.task_seed`), never one chosen by the caller.

The returned dict (JSON-able; NumPy scalars and arrays are converted, NaN/inf become ``null``)
is turned into variables of the merged dataset (:mod:`copyhead.sweep.dataset`):

``rows``
    a list of records (dicts of scalars), e.g. one per chain start;
``row_dims``
    the keys of a record that index it (e.g. ``["start"]``); they become extra dimensions after
    the grid's. Without ``row_dims`` the records are indexed by a dimension ``row`` (0, 1, ...);
every other top-level entry
    a scalar, or a dict of scalars (flattened to ``name_key``), is a variable over the grid's
    dimensions; lists and deeper structures stay in the task file only and are listed in the
    dataset attribute ``omitted_from_dataset``;
``attrs``
    optional netCDF attributes per variable (``{"m_mean": {"long_name": ..., "units": ...}}``);
``info``
    anything JSON (e.g. the seeds and data hashes of the run): kept in the task file only.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from copyhead.theory.model import ParameterError

KINDS = ("int", "float", "str", "bool", "floats")


@dataclass(frozen=True)
class Option:
    """One option of a sweepable command: its name, kind (``int``, ``float``, ``str``, ``bool``
    or ``floats``, a list of numbers), default, allowed values and help text."""

    name: str
    kind: str
    default: Any = None
    choices: Optional[tuple] = None
    required: bool = False
    help: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name}: kind {self.kind!r} not in {KINDS}")

    def coerce(self, value, where: str):
        """``value`` (from TOML) as this option's type; :class:`ParameterError` naming ``where``
        (e.g. ``grid.alpha``) otherwise. Integers are accepted for floats, not the reverse."""
        k = self.kind
        if k == "bool":
            if not isinstance(value, bool):
                raise ParameterError(where, value, "must be true or false")
            return value
        if k == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(where, value, "must be an integer")
            return int(value)
        if k == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ParameterError(where, value, "must be a finite number")
            return float(value)
        if k == "floats":
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list) or not items:
                raise ParameterError(where, value, "must be a non-empty list of numbers")
            try:
                out = [float(v) for v in items if not isinstance(v, bool)]
            except (TypeError, ValueError):
                out = []
            if len(out) != len(items) or not all(math.isfinite(v) for v in out):
                raise ParameterError(where, value, "must be a non-empty list of finite numbers")
            return out
        if not isinstance(value, str):
            raise ParameterError(where, value, "must be a string")
        if self.choices is not None and value not in self.choices:
            raise ParameterError(where, value, f"must be one of {', '.join(map(str, self.choices))}")
        return value


@dataclass(frozen=True)
class TaskType:
    """A sweepable command.

    Parameters
    ----------
    name : the command's name (the spec's ``command``).
    function : ``compute(options) -> dict``, a module-level function (workers import it by name).
    options : the sweepable options by name (without ``seed``).
    takes_seed : whether ``function`` takes ``options["seed"]`` (the derived task seed).
    validate : optional ``validate(options)`` raising :class:`ParameterError`; cheap (no
        computation), called for every task before anything runs.
    attrs : netCDF attributes of the result variables (``long_name``, ``units``).
    version : enters every task key: bump it when the same options give a different result.
    """

    name: str
    function: Callable[[dict], dict]
    options: Mapping[str, Option]
    takes_seed: bool = False
    validate: Optional[Callable[[dict], None]] = None
    attrs: Mapping[str, Mapping] = field(default_factory=dict)
    version: int = 1

    @property
    def ref(self) -> str:
        """``module:qualname`` of :attr:`function` (how a worker finds it)."""
        return f"{self.function.__module__}:{self.function.__qualname__}"


def _kind(action: argparse.Action) -> str:
    if isinstance(action, argparse.BooleanOptionalAction) or (action.nargs == 0 and isinstance(action.const, bool)):
        return "bool"
    if action.nargs not in (None, "?"):
        raise TypeError(f"option --{action.dest} takes several values: not sweepable")
    if action.type is int:
        return "int"
    if action.type is float:
        return "float"
    return "str"


def options_from_parser(add_arguments: Callable, exclude=()) -> dict:
    """The :class:`Option` of every ``--option`` that ``add_arguments(parser)`` defines (the
    command line is the one source of names, types, defaults and choices), less ``exclude``."""
    p = argparse.ArgumentParser(add_help=False)
    add_arguments(p)
    out = {}
    for a in p._actions:  # the parser's option table (argparse has no public accessor)
        if not a.option_strings or a.dest in exclude or a.default is argparse.SUPPRESS:
            continue
        out[a.dest] = Option(a.dest, _kind(a), a.default, tuple(a.choices) if a.choices else None,
                             bool(a.required), (a.help or "").replace("%(default)s", str(a.default)))
    return out


def task_from_command(name: str, add_arguments: Callable, function: Callable, *, exclude=(), extra=(),
                      required=(), validate=None, attrs=None, version: int = 1, defaults=None) -> TaskType:
    """A :class:`TaskType` whose options are those of the command line ``add_arguments`` defines.

    ``exclude`` drops options that do not change the result (output folder, ``--json``,
    threads); ``extra`` adds :class:`Option` objects (e.g. one ``alpha`` where the command takes
    a list ``--alphas``); ``required`` marks options that must be given; ``defaults`` gives the
    real default of options whose command-line default is ``None`` = "not given" (e.g. ``verify``,
    which must tell a given option from a default for ``--load``). ``seed``, when the command has
    it, is replaced by the derived task seed.
    """
    opts = options_from_parser(add_arguments, exclude)
    for k, v in (defaults or {}).items():
        if k in opts and opts[k].default is None:
            o = opts[k]
            opts[k] = Option(o.name, o.kind, v, o.choices, o.required, o.help)
    takes_seed = opts.pop("seed", None) is not None
    for o in extra:
        opts[o.name] = o
    for r in required:
        o = opts[r]
        opts[r] = Option(o.name, o.kind, o.default, o.choices, True, o.help)
    return TaskType(name, function, opts, takes_seed, validate, dict(attrs or {}), version)
