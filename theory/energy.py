"""NumPy energy ``e(m, r)``: the ``V -> inf`` limit of the W-marginal evidence (THEORY.md §3).

``e(m, r) = -1/2 log(1 + g r) - (alpha/2)(1 + g(r - m^2))/(1 + g r)``, ``g = sigma2 alpha``;
the MAP energy drops the Occam term ``-1/2 log(1 + g r)``. Derived symbolically in
:mod:`copyhead.theory.symbolic.energy` (``derivations/02_energy_limit.py``) and checked against
the exact evidence in the tests.
"""
from __future__ import annotations

import numpy as np

def energy_numeric(m, r, alpha, sigma2, objective="posterior"):
    """NumPy ``e(m, r)`` (eq. E3), or the MAP energy without ``-1/2 log(1+gr)``."""
    g = sigma2 * alpha
    q = 1.0 + g * r
    e = -0.5 * alpha * (1.0 + g * (r - m * m)) / q
    return e - 0.5 * np.log(q) if objective == "posterior" else e


def energy_gradient_numeric(m, r, alpha, sigma2, objective="posterior"):
    """``(de/dm, de/dr)`` of :func:`energy_numeric` (closed form; checked against SymPy in tests)."""
    g = sigma2 * alpha
    q = 1.0 + g * r
    de_dm = alpha * g * m / q
    de_dr = -0.5 * alpha * g * g * m * m / q**2
    if objective == "posterior":
        de_dr = de_dr - 0.5 * g / q
    return de_dm, de_dr
