"""Large-``T`` asymptotics of the ``V = inf`` transition in alpha (closed forms, NumPy/SciPy).

Derived in ``derivations/09_scaling_T.py`` (SymPy; it prints every step and writes
``derivations/out/09_scaling_T.tex``); checked against the solver and a brute-force scan in
``tests/theory/test_scaling.py``.
"""
from __future__ import annotations

import math


def uniform_spinodal_map(T: float, nu: float, sigma2: float) -> float:
    """Alpha where the uniform softmax point ``Q = K = 0`` stops being a MAP minimum (qk prior).

    ``F_s(0+) = (T-1)(nu T^2 (T + g) - sigma2 alpha^2) / (T^2 (T + g))`` with ``g = sigma2 alpha``
    (the kink ``nu (T-1)|s|`` against the energy slope) vanishes at
    ``alpha = (nu T^2/2)(1 + sqrt(1 + 4/(nu sigma2 T)))`` -- exact at every ``T``
    (``~ nu T^2`` for large ``T``; 69.066 at the default model).
    """
    return 0.5 * nu * T * T * (1.0 + math.sqrt(1.0 + 4.0 / (nu * sigma2 * T)))
