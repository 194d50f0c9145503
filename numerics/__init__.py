"""Numerics: generated Numba kernels, continuation, transitions, solver, phase diagrams."""
