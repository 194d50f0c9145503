"""copyhead: Bayesian theory of copy-head emergence in attention.

The curated public API (imported lazily, so that ``import copyhead`` and the command line start
fast and no layer is imported before it is needed)::

    from copyhead import Model, solve, phase_lines
    res = solve(Model(attention="softmax"))

Subpackages: :mod:`copyhead.theory` (closed forms, NumPy; :mod:`copyhead.theory.symbolic` holds
the SymPy derivations and the code generator), :mod:`copyhead.numerics` (generated kernels,
continuation solver, phase diagrams, finite-size theory), :mod:`copyhead.verification` (torch
Monte Carlo and training), :mod:`copyhead.cli` (the ``copyhead`` command).
"""
from __future__ import annotations

import importlib

_API = {
    "Model": "copyhead.theory",
    "ParameterError": "copyhead.theory",
    "DEFAULT": "copyhead.theory",
    "solve": "copyhead.numerics",
    "phase_lines": "copyhead.numerics",
    "phase_map": "copyhead.numerics",
    "ContinuationError": "copyhead.numerics",
    "FiniteSizeTheory": "copyhead.numerics",
    "solve_window": "copyhead.numerics",
    "InductionModel": "copyhead.theory",
    "ICLRegression": "copyhead.theory",
}

__all__ = sorted(_API) + ["main"]


def __getattr__(name):
    if name == "main":
        from copyhead.cli import main

        return main
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'copyhead' has no attribute {name!r}")


def __dir__():
    return __all__
