"""Access to the generated kernels for a :class:`theory.model.Model`.

The reduced free energy ``F(x; alpha)`` per ``V^2`` lives in the generated module
``numerics/_kernels.py`` (``copyhead codegen``). Its variable is ``x = u = m^2`` for linear and
``x = s`` for softmax attention (``theory/reduced.py``, ``derivations/04_reduced.py``).
This module adds the model-dependent domain of ``x`` and the maps ``x -> (m, r)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from copyhead.theory.model import Model

from ._kernels import KERNELS

DERIV_NAMES = ("F", "F_x", "F_xx", "F_xxx", "F_xa", "F_xxa")


@dataclass(frozen=True)
class Domain:
    """Where the smooth stationarity equation ``F_x = 0`` is traced.

    ``lo``/``hi`` bound ``x``; ``kink`` is a point where ``F`` is not differentiable (the MAP
    nuclear norm at ``s = 0``) which continuation must not cross; ``boundary_point`` is a
    stationary point that exists for all alpha by symmetry (``u = 0``, i.e. ``m = 0``, for
    linear attention).
    """

    lo: float
    hi: float
    kink: float | None = None
    boundary_point: float | None = None
    boundary_always_stable: bool = False  # MAP qk linear: F ~ nu T |m| makes m = 0 a strict minimum


class Kernel:
    """Generated derivatives of ``F`` for one model (parameters bound as floats)."""

    def __init__(self, model: Model):
        self.model = model
        self._f, self._grid = KERNELS[model.key]
        self.params = (float(model.T), float(model.nu), float(model.sigma2), float(model.kappa))
        if model.attention == "linear":
            # u = m^2 >= 0; F_u is finite at 0 except for the MAP qk |m| = sqrt(u)
            always = model.objective == "map" and model.prior == "qk"
            self.domain = Domain(lo=0.0, hi=1.0e4, boundary_point=0.0, boundary_always_stable=always)
        elif model.objective == "map" and model.prior == "qk":
            self.domain = Domain(lo=-30.0, hi=60.0, kink=0.0)
        else:
            self.domain = Domain(lo=-30.0, hi=60.0)

    def __call__(self, x: float, alpha: float):
        """``(F, F_x, F_xx, F_xxx, F_xa, F_xxa)`` at ``(x, alpha)``."""
        return self._f(float(x), float(alpha), *self.params)

    def F(self, x: float, alpha: float) -> float:
        return self._f(float(x), float(alpha), *self.params)[0]

    def grid(self, xs, alphas) -> np.ndarray:
        """``(len(alphas), len(xs), 3)`` array of ``(F, F_x, F_xx)``."""
        return self._grid(
            np.ascontiguousarray(xs, dtype=float), np.ascontiguousarray(alphas, dtype=float), *self.params
        )

    # ------------------------------------------------------------ order parameters
    def m_of_x(self, x):
        """Copy weight ``m``: ``sqrt(u)`` (linear) or ``1/(1 + (T-1) e^{-s})`` (softmax)."""
        x = np.asarray(x, dtype=float)
        if self.model.attention == "linear":
            out = np.sqrt(np.maximum(x, 0.0))
        else:
            T = self.model.T
            e = np.exp(-np.abs(x))
            out = np.where(x >= 0, 1.0 / (1.0 + (T - 1) * e), e / (e + (T - 1)))
        return out if out.ndim else float(out)

    def r_of_x(self, x):
        """Self-overlap ``r``: ``u`` (linear) or ``m^2 + (1-m)^2/(T-1)`` (softmax)."""
        x = np.asarray(x, dtype=float)
        if self.model.attention == "linear":
            out = np.maximum(x, 0.0)
        else:
            m = np.asarray(self.m_of_x(x))
            out = m * m + (1.0 - m) ** 2 / (self.model.T - 1)
        return out if out.ndim else float(out)

    def x_of_m(self, m: float) -> float:
        """Inverse of :meth:`m_of_x`."""
        if self.model.attention == "linear":
            return float(m) ** 2
        T = self.model.T
        if not 0.0 < m < 1.0:
            raise ValueError("softmax copy weight must lie in (0, 1)")
        return math.log(m * (T - 1) / (1.0 - m))
