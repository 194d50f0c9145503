"""Finite-size theory: the branch a chain / run is on, at V = inf and with 1/V; finite-V windows.

At finite ``V`` the log posterior of the scores is ``-V^2 F_V(S)`` with
``F_V = F - e1/V`` (THEORY.md §3; ``theory/finite_size.py``). For a chain at ``alpha`` with
mean copy weight ``m_mc`` we take the stable branch of the ``V = inf`` solution nearest in
``m``, then the minimiser of ``F_V`` in the basin of that branch (between the neighbouring
saddles). The model is evaluated at the *realised* sizes (``alpha = P T/(kappa V^2)``,
``nu = N/V^2``) so that theory and simulation use the same units.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize_scalar

from .kernels import Kernel
from .solve import solve
from copyhead.theory.finite_size import e1_linear, e1_softmax_symmetric
from copyhead.theory.model import Model
from copyhead.theory.order_parameters import training_error


@dataclass
class TheoryPoint:
    alpha: float
    branch: str  # "disordered" | "copy" | "symmetric" | "ordered" (stable branch label)
    m: float  # V = inf
    r: float
    m_corrected: float | None  # minimiser of F - e1/V in the basin of the branch (None: basin lost)
    r_corrected: float | None
    eps: float  # training error per token on the V = inf branch
    n_stable: int  # number of stable branches at this alpha (2 = inside the spinodal window)


def realised_model(model: Model, alpha: float) -> Model:
    """The V = inf model with the alpha and nu realised by the rounded P and N at ``model.V``."""
    fin = model.replace(alpha=alpha)
    return model.replace(V=None, alpha=fin.alpha_effective, nu=fin.nu_effective)


@lru_cache(maxsize=64)
def _solved(model: Model):
    return solve(model.replace(alpha=None))


def _solve_covering(model: Model, alpha: float):
    res = _solved(model)
    if not (res.alpha_range[0] <= alpha <= res.alpha_range[1]):
        lo, hi = min(res.alpha_range[0], 0.5 * alpha), max(res.alpha_range[1], 2.0 * alpha)
        res = solve(model.replace(alpha=None), alpha_range=(lo, hi))
    return res


def _stationary_points(k: Kernel, res, alpha):
    pts = []
    for b in res.branches:
        if b.covers(alpha):
            pts.append((b.x_at(k, alpha), b))
    return sorted(pts, key=lambda t: t[0])


def theory_point(model: Model, alpha: float, m_mc: float | None = None, V: int | None = None) -> TheoryPoint:
    """Theory on the stable branch nearest to ``m_mc`` (the global minimum if ``m_mc`` is None).

    ``model`` is the V = inf model at realised sizes (see :func:`realised_model`); ``V`` (for the
    1/V correction) defaults to None = no correction.
    """
    k = Kernel(model)
    res = _solve_covering(model, alpha)
    pts = _stationary_points(k, res, alpha)
    stable = [(x, b) for x, b in pts if b.stable]
    if m_mc is None:
        x0, b0 = min(stable, key=lambda t: k.F(t[0], alpha))
    else:
        x0, b0 = min(stable, key=lambda t: abs(k.m_of_x(t[0]) - m_mc))
    m0 = float(k.m_of_x(x0))
    if b0.kind == "symmetric":
        label = "symmetric"
    elif len(stable) > 1:
        label = "copy" if m0 == max(float(k.m_of_x(x)) for x, _ in stable) else "disordered"
    else:
        label = "ordered" if model.attention == "linear" else ("copy" if m0 > 0.5 else "disordered")
    g = model.sigma2 * alpha
    eps = float(training_error(m0, float(k.r_of_x(x0)), g))
    mc = rc = None
    if V is not None:
        if model.attention == "linear" and b0.kind != "symmetric":
            mc, rc = linear_corrected_2d(model, alpha, m0, V)
        else:
            xc = corrected_minimum(k, res, alpha, x0, V)
            if xc is not None:
                mc, rc = float(k.m_of_x(xc)), float(k.r_of_x(xc))
    return TheoryPoint(alpha, label, m0, float(k.r_of_x(x0)), mc, rc, eps, len(stable))


def _e1_of_x(model: Model, x, alpha):
    """``e1`` on the reduced family (posterior or MAP objective, as the model says)."""
    o = model.objective
    if model.attention == "softmax":
        return float(e1_softmax_symmetric(x, model.T, alpha, model.sigma2, model.kappa, o))
    return float(e1_linear(math.sqrt(max(x, 0.0)), model.T, alpha, model.sigma2, model.kappa, o))


def corrected_minimum(k: Kernel, res, alpha: float, x0: float, V: int):
    """Minimiser of ``F(x) - e1(x)/V`` in the basin of the stable point ``x0`` (None if lost)."""
    model = k.model
    pts = [x for x, b in _stationary_points(k, res, alpha) if not b.stable]
    left = max([x for x in pts if x < x0], default=k.domain.lo if model.attention == "linear" else x0 - 6.0)
    right = min([x for x in pts if x > x0], default=x0 + 6.0 + 4.0 * abs(x0))
    if model.attention == "linear" and x0 == 0.0:
        left = 0.0
    G = lambda x: k.F(x, alpha) - _e1_of_x(model, x, alpha) / V
    if right - left < 1e-12:
        return None
    opt = minimize_scalar(G, bounds=(left, right), method="bounded", options={"xatol": 1e-11})
    xc = float(opt.x)
    width = right - left
    at_edge = min(xc - left, right - xc) < 1e-6 * width
    if at_edge and not (model.attention == "linear" and left == 0.0 and xc - left < 1e-6 * width):
        return None  # the correction removed this minimum: the basin has no interior minimum
    return 0.0 if (model.attention == "linear" and xc - left < 1e-6 * width and left == 0.0) else xc


def corrected_landscape(model: Model, alphas, xs, V: int) -> np.ndarray:
    """``F_V(x) = F(x) - e1(x)/V`` on the grid ``alphas x xs`` (realised-size model, V = inf kernels)."""
    k = Kernel(model)
    F = k.grid(xs, np.asarray(alphas, float))[:, :, 0]
    out = np.empty_like(F)
    for i, a in enumerate(alphas):
        e1 = np.array([_e1_of_x(model, x, a) for x in xs]) if model.attention == "linear" else \
            e1_softmax_symmetric(xs, model.T, a, model.sigma2, model.kappa, model.objective)
        out[i] = F[i] - e1 / V
    return out


def grid_minima(F: np.ndarray, xs: np.ndarray) -> list:
    """Interior local minima ``(x, F)`` of a landscape sampled on the grid ``xs``."""
    d = np.diff(F)
    idx = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0] + 1
    return [(xs[i], F[i]) for i in idx]


def corrected_spinodals(model: Model, V: int, alpha_lo: float, alpha_hi: float, n: int = 60, tol: float = 1e-4):
    """Spinodal window of ``F - e1/V`` (softmax): alphas where the number of minima changes.

    Dense-grid scan in alpha (``n`` points), each change refined by bisection to ``tol``.
    Returns ``(alpha_low, alpha_high)`` or None if there is no bistable window at this V.
    """
    xs = np.linspace(-3.0, 10.0, 4001)
    nm = lambda a: len(grid_minima(corrected_landscape(model, [a], xs, V)[0], xs))
    grid = np.linspace(alpha_lo, alpha_hi, n)
    counts = [nm(a) for a in grid]
    idx = [i for i in range(n - 1) if (counts[i] >= 2) != (counts[i + 1] >= 2)]
    if not idx:
        return None
    edges = []
    for i in idx:
        lo, hi = grid[i], grid[i + 1]
        inside_lo = counts[i] >= 2
        while hi - lo > tol:
            mid = 0.5 * (lo + hi)
            if (nm(mid) >= 2) == inside_lo:
                lo = mid
            else:
                hi = mid
        edges.append(0.5 * (lo + hi))
    return (edges[0], edges[-1]) if len(edges) >= 2 else (edges[0], None)


def linear_family_free_energy(m, a, model: Model, alpha: float, V: int | None):
    """``F_V`` of linear attention on ``S = m J + (a/T) 11^T`` (``F - e1/V``; ``V=None``: ``F``).

    ``S`` is circulant: singular values ``|m|`` (``T-1`` times) and ``|m + a|``, so
    ``J(S) = (T-1) j(m) + j(m+a)``; ``A = S`` has ``m_A = m + a/T``, ``r_A = m^2 + 2 m a/T + a^2/T``.
    At ``V = inf`` the minimum has ``a = 0`` (``S = m J``, THEORY.md §4); at finite ``V`` the
    row-sum terms of ``e1`` favour ``a != 0``, a direction the 1-D reduction does not contain.
    """
    from copyhead.theory.energy import energy_numeric
    from copyhead.theory.finite_size import e1
    from copyhead.theory.order_parameters import shift_matrix
    from copyhead.theory.prior import rate

    T = model.T
    mA, rA = m + a / T, m * m + 2 * m * a / T + a * a / T
    F = model.nu * ((T - 1) * rate(m, model.prior, model.objective) + rate(m + a, model.prior, model.objective))
    F = float(F) - float(energy_numeric(mA, rA, alpha, model.sigma2, model.objective))
    if V is not None:
        A = m * shift_matrix(T) + a / T * np.ones((T, T))
        F -= float(e1(A, alpha, model.sigma2, model.kappa, model.objective)) / V
    return F


def linear_corrected_2d(model: Model, alpha: float, m0: float, V: int):
    """Local minimum of :func:`linear_family_free_energy` from ``(m0, 0)``: returns ``(m_A, r_A)``."""
    from scipy.optimize import minimize

    f = lambda p: linear_family_free_energy(p[0], p[1], model, alpha, V)
    out = minimize(f, np.array([m0, 0.0]), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000})
    if not out.success:
        return None, None
    m, a = out.x
    T = model.T
    return float(m + a / T), float(m * m + 2 * m * a / T + a * a / T)


def corrected_coexistence(model: Model, V: int, alpha_lo: float, alpha_hi: float, tol: float = 1e-6):
    """Alpha where the two minima of ``F - e1/V`` have equal value (softmax), by bisection.

    Returns ``(alpha_c, m_saddle)`` or None if the landscape is not bistable on the bracket.
    """
    xs = np.linspace(-3.0, 10.0, 20001)
    k = Kernel(model)

    def dF(a):
        mins = grid_minima(corrected_landscape(model, [a], xs, V)[0], xs)
        if len(mins) < 2:
            return None
        return mins[-1][1] - mins[0][1]

    win = corrected_spinodals(model, V, alpha_lo, alpha_hi)
    if win is None or win[1] is None:
        return None
    pad = 1e-3 * (win[1] - win[0])
    lo, hi = win[0] + pad, win[1] - pad
    flo, fhi = dF(lo), dF(hi)
    if flo is None or fhi is None or flo * fhi > 0:
        return None
    while hi - lo > tol * hi:
        mid = 0.5 * (lo + hi)
        fm = dF(mid)
        if fm is None:
            return None
        if fm * flo > 0:
            lo, flo = mid, fm
        else:
            hi = mid
    a = 0.5 * (lo + hi)
    F = corrected_landscape(model, [a], xs, V)[0]
    mins = grid_minima(F, xs)
    between = (xs > mins[0][0]) & (xs < mins[-1][0])
    x_saddle = xs[between][np.argmax(F[between])]
    return a, float(k.m_of_x(x_saddle))


def one_loop_alpha_c(model: Model, V: int, alpha_lo: float, alpha_hi: float):
    """One-loop coexistence (equal basin ``log Z`` incl. the qk prefactor) inside the finite-V window."""
    from copyhead.theory.model import ParameterError
    from copyhead.theory.one_loop_softmax import one_loop_coexistence

    win = corrected_spinodals(model, V, alpha_lo, alpha_hi)
    if win is None or win[1] is None:
        return None
    pad = 1e-3 * (win[1] - win[0])
    try:
        return float(one_loop_coexistence(model, V, win[0] + pad, win[1] - pad))
    except (ParameterError, ValueError, RuntimeError):
        return None  # no sign change of log Z_copy - log Z_dis inside the window


def default_alphas(model: Model, objective: str = "posterior"):
    """Alphas around the model's transition (V = inf theory): softmax/first order
    ``alpha_c x (0.84, 0.92, 1, 1.05, 1.09, 1.18, 1.26)`` (20..30 for the default model),
    linear ``alpha_c x (0.5, 0.8, 0.95, 1.05, 1.15, 1.3, 1.5, 2)``, rounded to 0.1."""
    t = solve(model.replace(V=None, alpha=None, objective=objective)).transition
    f = (0.84, 0.92, 1.0, 1.05, 1.09, 1.18, 1.26) if model.attention == "softmax" else \
        (0.5, 0.8, 0.95, 1.05, 1.15, 1.3, 1.5, 2.0)
    return sorted({round(t.alpha_c * x, 1) for x in f})


def predicted_window(model: Model, alphas):
    """Spinodal window of F - e1/V at the model's V (softmax; None for linear or no window)."""

    if model.attention != "softmax":
        return None
    rm = realised_model(model, float(np.median(alphas)))
    t = _inf_transition(rm)
    if t.alpha_spinodal_low is None or t.alpha_spinodal_high is None:
        return None
    w = t.alpha_spinodal_high - t.alpha_spinodal_low
    return corrected_spinodals(rm, model.V, max(1e-3, t.alpha_spinodal_low - 2 * w), t.alpha_spinodal_high + 2 * w)


def _inf_transition(rm: Model):

    return _solved(rm.replace(alpha=None)).transition




def copy_start_scales(model: Model, alphas):
    """Per-alpha scale of the copy start: the V = inf copy branch's ``s`` (softmax) or ``m`` (linear).

    Where the copy branch does not exist at that alpha (below its spinodal) the copy-branch end
    point (its fold) is used for softmax, and ``m = 1`` for linear attention. Starting at the
    branch rather than far above it keeps the first HMC trajectories from converting the
    potential drop into enough momentum to cross the barrier.
    """

    out = []
    for a in alphas:
        rm = realised_model(model, a)
        k = Kernel(rm)
        res = _solve_covering(rm, rm.alpha)
        stable = [b for b in res.branches if b.stable and b.kind == "smooth"]
        top = max(stable, key=lambda b: float(b.m.max()))  # the copy / ordered branch
        if top.covers(rm.alpha):
            x = top.x_at(k, rm.alpha)
        elif model.attention == "softmax":
            x = float(top.x[0]) if rm.alpha < top.alpha_min else float(top.x[-1])
        else:
            x = 1.0
        out.append(float(x) if model.attention == "softmax" else float(np.sqrt(max(x, 0.0))) or 1.0)
    return out


def theory_for_run(model: Model, alpha_effective: float, m: float) -> TheoryPoint:
    """Theory on the stable branch nearest to ``m`` for a finite run at the realised ``alpha``
    (``model.V`` set; the 1/V correction uses it)."""
    rm = realised_model(model, model.replace(alpha=alpha_effective).alpha)
    return theory_point(rm, rm.alpha, m, V=model.V)
