"""Task keys and task seeds: functions of a task's canonical parameters only.

The canonical parameters of a task are ``{"command", "version", "base_seed", "options"}`` with
every option resolved (defaults filled in, values coerced to the option's type, so ``18`` and
``18.0`` are the same alpha) and, when ``seed`` is a grid dimension, its value (a replicate
label) among the options. Their canonical JSON (sorted keys, no whitespace, ``repr`` floats) is
hashed with SHA-256:

* the task key is the first 16 hex digits (the file ``tasks/<key>.json``);
* the task seed is ``SeedSequence(int(sha256, 16)).generate_state(1, uint64)[0] >> 1`` (a
  non-negative 63-bit integer that NumPy and torch accept).

So results depend neither on the executor nor on the order in which tasks finish, and a grid
that grows keeps the keys (and results) of the tasks it already had.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

KEY_DIGITS = 16
SEED_DERIVATION = ("task seed = SeedSequence(int(sha256(canonical JSON of {command, version, base_seed, "
                   "options}), 16)).generate_state(1, uint64)[0] >> 1")


def canonical_json(params: dict) -> str:
    """The canonical JSON text of ``params`` (sorted keys, compact, NaN/inf refused)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _digest(params: dict) -> str:
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()


def task_key(params: dict) -> str:
    """The task key: the first :data:`KEY_DIGITS` hex digits of the SHA-256 of the canonical JSON."""
    return _digest(params)[:KEY_DIGITS]


def task_seed(params: dict) -> int:
    """The task seed (see the module docstring)."""
    ss = np.random.SeedSequence(int(_digest(params), 16))
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
