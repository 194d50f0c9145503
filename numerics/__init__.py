"""Numerics: generated Numba kernels, continuation, transitions, solver, phase diagrams, finite size.

Public API::

    from copyhead.numerics import solve, phase_lines, phase_map, Kernel, ContinuationError, FiniteSizeTheory
    from copyhead.numerics import solve_window        # the window copier (heads, parents)
"""
from .continuation import ContinuationError
from .finite_size import FiniteSizeTheory
from .kernels import Kernel
from .phase_diagram import PhaseDiagram, phase_lines, phase_map
from .solve import Result, Transition, solve
from .window_solve import WindowResult, solve_window

__all__ = ["solve", "Result", "Transition", "phase_lines", "phase_map", "PhaseDiagram", "Kernel",
           "ContinuationError", "FiniteSizeTheory", "solve_window", "WindowResult"]
