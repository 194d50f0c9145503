"""Theory landscapes along the copy weight ``m`` (softmax attention, finite ``V``), in kT.

Both are written as ``-ln p(m)`` of a *normalised* density of ``m`` (``int p dm = 1`` on the
grid), the same convention as the Monte Carlo profile of :mod:`verification.free_energy`, so
that basin weights can be compared directly and no curve has a free constant.

1. Saddle point (``F - e1/V``): ``p_0(m) ∝ exp(-V^2 F_V(S_s))`` with ``S_s = s(m)(J - 11^T/T)``
   on the symmetric ansatz, ``m = e^s/(e^s + T - 1)`` (THEORY.md §3-4, ``F_V = F - e1/V``).

2. One loop (constrained Laplace): the exact marginal of ``m`` is
   ``p(m) = ∫ d^{T^2} S δ(m - m(S)) f(S) e^{-V^2 F_V(S)}`` (``f`` the qk Wishart prefactor,
   :func:`copyhead.theory.one_loop.qk_log_prefactor`). Around the constrained minimiser
   ``S_s`` (where ``∇F_V = λ ∇m``; the ansatz satisfies this exactly: both gradients are
   multiples of ``J - 11^T/T``, checked and reported as ``lagrange_residual``) Laplace's method
   on the surface ``m(S) = m`` gives (eq. U1)

   .. math::

       -\\ln p(m) = V^2 F_V(S_s) - \\ln f(S_s) + \\ln|\\nabla m(S_s)|
           + \\tfrac12 \\ln\\det{}_\\perp\\!\\big(V^2 [H(S_s) - λ \\nabla^2 m(S_s)]\\big) + \\text{const},

   ``H`` the full ``T^2 x T^2`` Hessian of ``F_V`` (:func:`copyhead.theory.one_loop_softmax.softmax_hessian_V`),
   ``det_perp`` over the ``T^2 - 1`` directions orthogonal to ``∇m`` (the ``-λ ∇^2 m`` term is the
   curvature of the constraint surface). At a minimum (``λ = 0``) integrating ``p`` over ``m``
   in the Gaussian approximation gives back the one-loop basin ``log Z`` of
   :func:`copyhead.theory.one_loop_softmax.basin_log_z` (checked in the tests). A negative
   transverse eigenvalue means the symmetric path is not the constrained minimum there (the
   point is flagged, ``stable = False``, and ``F`` is ``nan``).

Neither includes the ``O(V^0)`` data term ``e2`` or the quenched data fluctuations (as in
:mod:`copyhead.theory.one_loop_softmax`); ``e1`` is the data-averaged ``O(V)`` term.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import null_space

from copyhead.numerics.finite_size import realised_model
from copyhead.theory.model import Model
from copyhead.theory.one_loop import qk_log_prefactor
from copyhead.theory.one_loop_softmax import softmax_free_energy_V, softmax_hessian_V
from copyhead.theory.order_parameters import shift_matrix

from .landscape import ansatz_scale, saddle_landscape

__all__ = ["normalise", "saddle_profile", "one_loop_profile", "copy_weight_grad"]


def normalise(m, F):
    """``F + ln int exp(-F) dm`` (trapezoid on the grid ``m``; non-finite points carry no weight)."""
    m, F = np.asarray(m, float), np.asarray(F, float)
    ok = np.isfinite(F)
    f0 = np.min(F[ok])
    w = np.where(ok, np.exp(-(F - f0)), 0.0)
    return F - f0 + np.log(np.trapezoid(w, m))


def saddle_profile(model: Model, alpha: float, V: int, m_grid) -> np.ndarray:
    """Normalised ``-ln p_0(m) = V^2 F_V(s(m)) + const`` (kT) on ``m_grid`` (realised sizes at ``V``)."""
    return normalise(m_grid, saddle_landscape(model, alpha, V, m_grid))


def _softmax(S):
    A = np.exp(S - S.max(axis=1, keepdims=True))
    return A / A.sum(axis=1, keepdims=True)


def copy_weight_grad(S) -> np.ndarray:
    """``∇_S m(softmax_row(S))`` (``T x T``): ``dm/dA = J/T`` through the softmax,
    ``A o (G - rowsum(G o A))`` with ``G = J/T``."""
    S = np.asarray(S, float)
    T = S.shape[0]
    A = _softmax(S)
    G = shift_matrix(T) / T
    return A * (G - (G * A).sum(axis=1, keepdims=True))


def _copy_weight_hessian(S, h: float = 1e-5) -> np.ndarray:
    """Hessian of ``m(softmax(S))`` by central differences of :func:`copy_weight_grad` (``T^2 x T^2``)."""
    T = S.shape[0]
    H = np.empty((T * T, T * T))
    for k in range(T * T):
        E = np.zeros(T * T)
        E[k] = h
        E = E.reshape(T, T)
        H[:, k] = (copy_weight_grad(S + E) - copy_weight_grad(S - E)).ravel() / (2 * h)
    return 0.5 * (H + H.T)


def one_loop_point(model_r: Model, alpha: float, V: int, m: float) -> dict:
    """Terms of eq. U1 at one ``m`` (``model_r`` at realised sizes; ``alpha`` its realised alpha)."""
    T = model_r.T
    s = float(ansatz_scale(m, T))
    S = s * (shift_matrix(T) - np.ones((T, T)) / T)
    F, gF = softmax_free_energy_V(S, model_r, alpha, V)
    gm = copy_weight_grad(S).ravel()
    lam = float(gF @ gm / (gm @ gm))
    resid = float(np.linalg.norm(gF - lam * gm) / max(np.linalg.norm(gF), 1e-300))
    L = softmax_hessian_V(S, model_r, alpha, V) - lam * _copy_weight_hessian(S)
    U = null_space(gm[None, :])
    ev = np.linalg.eigvalsh(U.T @ L @ U)
    log_f = qk_log_prefactor(S) if model_r.prior == "qk" else 0.0
    stable = bool(ev[0] > 0)
    minus_log_p = (V * V * F - log_f + np.log(np.linalg.norm(gm))
                   + 0.5 * np.sum(np.log(V * V * ev)) if stable else np.nan)
    return dict(m=m, s=s, F=F, lam=lam, log_f=log_f, log_grad_m=float(np.log(np.linalg.norm(gm))),
                eig_min=float(ev[0]), stable=stable, minus_log_p=float(minus_log_p), lagrange_residual=resid)


def one_loop_profile(model: Model, alpha: float, V: int, m_grid, details: bool = False):
    """Normalised one-loop ``-ln p(m)`` (eq. U1, kT) on ``m_grid``; ``nan`` where the transverse
    Hessian is not positive. With ``details`` also the list of :func:`one_loop_point` dicts."""
    rm = realised_model(model.replace(V=V), alpha)
    pts = [one_loop_point(rm, rm.alpha, V, float(m)) for m in np.asarray(m_grid, float)]
    F = normalise(m_grid, np.array([p["minus_log_p"] for p in pts]))
    return (F, pts) if details else F
