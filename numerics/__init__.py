"""Numerics: generated Numba kernels, continuation, transitions, solver, phase diagrams, finite size.

Public API::

    from copyhead.numerics import solve, phase_lines, phase_map, Kernel, ContinuationError, FiniteSizeTheory
"""
from .continuation import ContinuationError
from .finite_size import FiniteSizeTheory
from .kernels import Kernel
from .phase_diagram import PhaseDiagram, phase_lines, phase_map
from .solve import Result, Transition, solve

__all__ = ["solve", "Result", "Transition", "phase_lines", "phase_map", "PhaseDiagram", "Kernel",
           "ContinuationError", "FiniteSizeTheory"]
