"""Pseudo-arclength continuation of the stationary points ``F_x(x, alpha) = 0`` in alpha.

The curve ``R(x, alpha) = F_x = 0`` is followed in scaled coordinates
``y = (x / x_scale, alpha / alpha_scale)``. Tangent: the null vector of the Jacobian
``[F_xx, F_xa]``, i.e. ``t ~ (F_xa, -F_xx)``, oriented to continue the previous one. Predictor
``y + h t``; corrector: Newton on ``{R = 0, t . (y - y_pred) = 0}``.

A fold (spinodal) is where the alpha-component of the tangent changes sign (``F_xx = 0``); it is
bracketed by bisection along the arc and refined by Newton on the extended system
``{F_x = 0, F_xx = 0}`` in ``(x, alpha)`` (Jacobian ``[[F_xx, F_xa], [F_xxx, F_xxa]]``) to
``|d alpha| < 1e-10``. Non-convergence raises :class:`ContinuationError` with the residual.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


class ContinuationError(RuntimeError):
    """Continuation or a Newton refinement did not converge (message has reason and residual)."""


@dataclass
class Fold:
    x: float
    alpha: float
    residual: float  # max(|F_x|, |F_xx|) at the refined point
    converged: bool = True


@dataclass
class Curve:
    """One traced solution curve: arrays along the arc, and the folds found on it."""

    x: np.ndarray
    alpha: np.ndarray
    F: np.ndarray
    F_xx: np.ndarray
    residual: np.ndarray
    folds: list = field(default_factory=list)
    end_reasons: tuple = ("", "")


def newton_x(k, x0: float, alpha: float, lo: float, hi: float, tol: float = 1e-12, maxit: int = 60) -> tuple:
    """Solve ``F_x(x, alpha) = 0`` in ``x`` (safeguarded Newton); returns ``(x, residual)``.

    Raises :class:`ContinuationError` if it does not converge.
    """
    x = float(x0)
    res = math.inf
    for _ in range(maxit):
        d = k(x, alpha)
        res = abs(d[1])
        if res < 1e-13:
            return x, res
        if d[2] == 0.0 or not math.isfinite(d[2]):
            break
        step = d[1] / d[2]
        xn = x - step
        if xn < lo or xn > hi:
            xn = min(max(xn, lo), hi)
        if abs(xn - x) <= tol * (1.0 + abs(x)):
            x = xn
            res = abs(k(x, alpha)[1])
            if res < 1e-9:
                return x, res
            break
        x = xn
    # fallback: bracketing root finder on [lo, hi] if F_x changes sign there (closest root to x0)
    from scipy.optimize import brentq

    grid = np.linspace(lo, hi, 65)
    vals = np.array([k(z, alpha)[1] for z in grid])
    idx = np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)[0]
    if len(idx):
        i = idx[np.argmin(np.abs(grid[idx] - x0))]
        xr = brentq(lambda z: k(z, alpha)[1], grid[i], grid[i + 1], xtol=1e-15, rtol=1e-15, maxiter=300)
        res = abs(k(xr, alpha)[1])
        if res < 1e-9:
            return xr, res
    raise ContinuationError(f"Newton in x did not converge at alpha={alpha:.6g} (x={x:.6g}, |F_x|={res:.3g})")


def refine_fold(k, x0: float, a0: float, x_scale: float, a_scale: float, tol: float = 1e-10, maxit: int = 50) -> Fold:
    """Newton on ``{F_x = 0, F_xx = 0}`` in ``(x, alpha)`` from ``(x0, a0)``."""
    x, a = float(x0), float(a0)
    res = math.inf
    for _ in range(maxit):
        d = k(x, a)
        Rv = np.array([d[1], d[2]])
        Jm = np.array([[d[2], d[4]], [d[3], d[5]]])
        res = float(np.max(np.abs(Rv)))
        try:
            dx, da = np.linalg.solve(Jm, -Rv)
        except np.linalg.LinAlgError:
            break
        # damp steps that jump further than the local scales
        lim = max(abs(dx) / (0.2 * x_scale), abs(da) / (0.2 * a_scale), 1.0)
        x += dx / lim
        a += da / lim
        if abs(da) < tol * max(1.0, abs(a)) and abs(dx) < tol * max(1.0, abs(x)):
            d = k(x, a)
            res = max(abs(d[1]), abs(d[2]))
            if res < 1e-8:
                return Fold(x=x, alpha=a, residual=res, converged=True)
            break
    raise ContinuationError(f"fold refinement did not converge near alpha={a0:.6g}, x={x0:.6g} (residual {res:.3g})")


def _alpha_at_x(k, x: float, a0: float, tol: float = 1e-14, maxit: int = 60) -> float:
    """Solve ``F_x(x, alpha) = 0`` for alpha at fixed x (Newton; alpha(x) is regular at a fold)."""
    a = a0
    for _ in range(maxit):
        d = k(x, a)
        if d[4] == 0.0 or not math.isfinite(d[4]):
            break
        da = -d[1] / d[4]
        a += da
        if abs(da) <= tol * max(1.0, abs(a)):
            return a
    raise ContinuationError(f"alpha(x) did not converge at x={x:.6g} near alpha={a0:.6g}")


def refine_fold_bracketed(k, y0, y1, x_scale: float, a_scale: float) -> Fold:
    """Fold between two curve points ``(x0, a0)``, ``(x1, a1)`` on either side of it.

    On the curve near a fold, alpha is a regular function of x; ``g(x) = F_xx(x, alpha(x))``
    changes sign between ``x0`` and ``x1``: bisection (brentq) on g, then a check of the
    extended system ``{F_x, F_xx}``. Falls back to :func:`refine_fold` if g has no sign change.
    """
    from scipy.optimize import brentq

    (x0, a0), (x1, a1) = y0, y1
    aguess = {"a": 0.5 * (a0 + a1)}

    def gfun(x):
        a = _alpha_at_x(k, x, aguess["a"])
        aguess["a"] = a
        return k(x, a)[2]

    try:
        g0, g1 = gfun(x0), gfun(x1)
    except ContinuationError:
        g0 = g1 = 0.0
    if g0 * g1 < 0:
        xf = brentq(gfun, min(x0, x1), max(x0, x1), xtol=1e-15, rtol=1e-15, maxiter=300)
        af = _alpha_at_x(k, xf, aguess["a"])
        d = k(xf, af)
        res = max(abs(d[1]), abs(d[2]))
        if res < 1e-8:
            return Fold(x=xf, alpha=af, residual=res, converged=True)
    xm, am = 0.5 * (x0 + x1), 0.5 * (a0 + a1)
    return refine_fold(k, xm, am, x_scale, a_scale)


def _tangent(d, x_scale, a_scale, prev=None):
    # null vector of [F_xx * x_scale, F_xa * a_scale] in scaled coordinates
    t = np.array([d[4] * a_scale, -d[2] * x_scale])
    n = np.hypot(*t)
    if n == 0 or not np.isfinite(n):
        raise ContinuationError("degenerate tangent (singular point of F_x = 0)")
    t /= n
    if prev is not None and t @ prev < 0:
        t = -t
    return t


def trace(
    k,
    x0: float,
    alpha0: float,
    direction: int,
    alpha_range: tuple,
    x_range: tuple,
    x_scale: float,
    h: float = 0.01,
    h_min: float = 1e-7,
    h_max: float = 0.05,
    max_steps: int = 20000,
) -> Curve:
    """Trace the curve ``F_x = 0`` through ``(x0, alpha0)`` starting with alpha moving ``direction``.

    Stops when alpha leaves ``alpha_range`` or ``x`` leaves ``x_range`` (the last point is placed
    on the boundary). Folds are located and refined on the way.
    """
    a_lo, a_hi = alpha_range
    x_lo, x_hi = x_range
    a_scale = a_hi - a_lo
    xs, As, Fs, Fxxs, res = [], [], [], [], []
    folds: list[Fold] = []

    d = k(x0, alpha0)
    if abs(d[1]) > 1e-8:
        raise ContinuationError(f"start point is not stationary: |F_x|={abs(d[1]):.3g}")
    t = _tangent(d, x_scale, a_scale)
    if t[1] * direction < 0 or (t[1] == 0 and direction < 0):
        t = -t
    y = np.array([x0 / x_scale, alpha0 / a_scale])

    def record(yv, dv):
        xs.append(yv[0] * x_scale)
        As.append(yv[1] * a_scale)
        Fs.append(dv[0])
        Fxxs.append(dv[2])
        res.append(abs(dv[1]))

    record(y, d)
    end = "max_steps"
    for _ in range(max_steps):
        ok = False
        hit_boundary = None
        while h >= h_min:
            yp = y + h * t
            if not (x_lo <= yp[0] * x_scale <= x_hi):
                # the predictor leaves the x-domain: end exactly on the boundary if the curve does
                yb = _boundary_point(k, y, yp, x_scale, a_scale, -math.inf, math.inf, x_lo, x_hi)
                if yb is not None and np.linalg.norm(yb - y) < 2.5 * h:
                    hit_boundary = yb
                    break
                h *= 0.5
                continue
            yn = yp.copy()
            for it in range(12):
                dn = k(yn[0] * x_scale, yn[1] * a_scale)
                R = np.array([dn[1], t @ (yn - yp)])
                J = np.array([[dn[2] * x_scale, dn[4] * a_scale], [t[0], t[1]]])
                try:
                    step = np.linalg.solve(J, -R)
                except np.linalg.LinAlgError:
                    break
                if not np.all(np.isfinite(step)):
                    break
                yn = yn + step
                if np.max(np.abs(step)) < 1e-13:
                    break
            dn = k(yn[0] * x_scale, yn[1] * a_scale)
            if np.isfinite(dn[1]) and abs(dn[1]) < 1e-10 and np.linalg.norm(yn - y) < 2.5 * h:
                ok = True
                break
            h *= 0.5
        if hit_boundary is not None:
            if a_lo <= hit_boundary[1] * a_scale <= a_hi:
                record(hit_boundary, k(hit_boundary[0] * x_scale, hit_boundary[1] * a_scale))
                end = "x_range"
                break
            ok = False
        if not ok:
            raise ContinuationError(
                f"corrector failed near x={y[0] * x_scale:.6g}, alpha={y[1] * a_scale:.6g} (step below {h_min:g})"
            )
        tn = _tangent(dn, x_scale, a_scale, t)
        if np.sign(tn[1]) != np.sign(t[1]) and t[1] != 0:
            # fold between y and yn: bisect on the secant for t_alpha = 0, then extended Newton
            folds.append(refine_fold_bracketed(k, (y[0] * x_scale, y[1] * a_scale), (yn[0] * x_scale, yn[1] * a_scale),
                                               x_scale, a_scale))
        xcur, acur = yn[0] * x_scale, yn[1] * a_scale
        if acur < a_lo or acur > a_hi or xcur < x_lo or xcur > x_hi:
            end = "alpha_range" if (acur < a_lo or acur > a_hi) else "x_range"
            # place the end point on the boundary by linear interpolation then Newton
            yb = _boundary_point(k, y, yn, x_scale, a_scale, a_lo, a_hi, x_lo, x_hi)
            if yb is not None:
                record(yb, k(yb[0] * x_scale, yb[1] * a_scale))
            break
        record(yn, dn)
        y, t = yn, tn
        h = min(h * 1.3, h_max)
    return Curve(
        x=np.array(xs), alpha=np.array(As), F=np.array(Fs), F_xx=np.array(Fxxs), residual=np.array(res),
        folds=folds, end_reasons=("start", end),
    )


def _boundary_point(k, y, yn, x_scale, a_scale, a_lo, a_hi, x_lo, x_hi):
    """Point of the curve on the domain boundary between ``y`` (inside) and ``yn`` (outside)."""
    x0, a0 = y[0] * x_scale, y[1] * a_scale
    x1, a1 = yn[0] * x_scale, yn[1] * a_scale
    if a1 < a_lo or a1 > a_hi:
        ab = a_lo if a1 < a_lo else a_hi
        w = (ab - a0) / (a1 - a0)
        xg = x0 + w * (x1 - x0)
        try:
            xb, _ = newton_x(k, xg, ab, min(x0, x1) - abs(x1 - x0), max(x0, x1) + abs(x1 - x0))
        except ContinuationError:
            return None
        return np.array([xb / x_scale, ab / a_scale])
    xb = x_lo if x1 < x_lo else x_hi
    w = (xb - x0) / (x1 - x0)
    ag = a0 + w * (a1 - a0)
    a = ag
    for _ in range(50):  # Newton in alpha at fixed x on the boundary
        d = k(xb, a)
        if d[4] == 0:
            return None
        da = -d[1] / d[4]
        a += da
        if abs(da) < 1e-13 * max(1.0, abs(a)):
            break
    if not (min(a0, a1) - abs(a1 - a0) <= a <= max(a0, a1) + abs(a1 - a0)) or abs(k(xb, a)[1]) > 1e-9:
        return None
    return np.array([xb / x_scale, a / a_scale])
