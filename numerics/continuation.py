"""Pseudo-arclength continuation of the stationary points ``F_x(x, alpha) = 0`` in ``log alpha``.

The curve ``R(x, alpha) = F_x = 0`` is followed in scaled coordinates
``y = (x / x_scale, log(alpha) / l_scale)``: the continuation parameter is ``lambda = log alpha``
(``dR/dlambda = alpha F_xa``), so that curves spanning many decades of alpha (the spinodals of
softmax attention at large ``T`` lie orders of magnitude apart) are followed with steps of a
fixed *relative* size in alpha. Tangent: the null vector of ``[F_xx x_scale, alpha F_xa l_scale]``,
oriented to continue the previous one. Predictor ``y + h t``; corrector: Newton on
``{R = 0, t . (y - y_pred) = 0}``.

A fold (spinodal) is where the alpha-component of the tangent changes sign (``F_xx = 0``); it is
bracketed on the arc and refined by bisection on ``F_xx(x, alpha(x))`` and a check of the
extended system ``{F_x = 0, F_xx = 0}`` (Newton on it as a fallback).

Tolerances are relative (backward errors), never absolute: the terms of ``F_x`` grow like
``nu T`` and ``alpha``, so an absolute ``|F_x| < 1e-10`` is unreachable in floating point at large
``T``. :func:`stationarity_residual` is the smallest relative change of ``(x, alpha)`` that makes
``(x, alpha)`` exactly stationary (first order), ``|F_x| / (max(|x|, 1) |F_xx| + |alpha F_xa|)``.
Non-convergence raises :class:`ContinuationError` with that residual.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize_scalar

RTOL_ACCEPT = 1e-10
"""A point is accepted as stationary when its relative residual is below this."""
RTOL_FOLD = 1e-8
"""Relative residual of ``F_xx`` accepted at a refined fold."""


class ContinuationError(RuntimeError):
    """Continuation or a Newton refinement did not converge (message has reason and residual)."""


def check_finite(obj, path: str = "result") -> None:
    """Raise :class:`ContinuationError` naming the first NaN/inf float in a nested dict/list result
    (a solver result must never report a non-finite number as if it were an answer)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            check_finite(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_finite(v, f"{path}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise ContinuationError(f"non-finite value in {path}: {obj}")


def stationarity_residual(d, x: float, alpha: float) -> float:
    """Relative residual of ``F_x = 0`` at ``(x, alpha)`` from the kernel tuple ``d``.

    ``|F_x| / (max(|x|, 1) |F_xx| + |alpha F_xa|)``: the relative perturbation of ``x`` (on the
    scale ``max(|x|, 1)``) or of ``alpha`` that makes the point exactly stationary, to first
    order (a backward error; independent of the overall scale of ``F``).
    """
    scale = max(abs(x), 1.0) * abs(d[2]) + abs(alpha * d[4])
    if not math.isfinite(d[1]):
        return math.inf
    if scale == 0.0 or not math.isfinite(scale):
        return 0.0 if d[1] == 0.0 else math.inf
    return abs(d[1]) / scale


def fold_residual(d, x: float, alpha: float) -> float:
    """Relative residual of the extended fold system: max of the ``F_x`` and ``F_xx`` backward errors
    (``|F_xx| / (max(|x|, 1) |F_xxx| + |alpha F_xxa|)`` for the second)."""
    s2 = max(abs(x), 1.0) * abs(d[3]) + abs(alpha * d[5])
    r2 = abs(d[2]) / s2 if s2 > 0 else (0.0 if d[2] == 0 else math.inf)
    return max(stationarity_residual(d, x, alpha), r2)


@dataclass
class Fold:
    x: float
    alpha: float
    residual: float  # fold_residual at the refined point (relative)
    converged: bool = True


@dataclass
class Curve:
    """One traced solution curve: arrays along the arc, and the folds found on it."""

    x: np.ndarray
    alpha: np.ndarray
    F: np.ndarray
    F_xx: np.ndarray
    residual: np.ndarray  # relative stationarity residual of each point
    folds: list = field(default_factory=list)
    end_reasons: tuple = ("", "")


def newton_x(k, x0: float, alpha: float, lo: float, hi: float, tol: float = 1e-13, maxit: int = 60) -> tuple:
    """Solve ``F_x(x, alpha) = 0`` in ``x`` on ``[lo, hi]`` (safeguarded Newton, brentq fallback).

    Returns ``(x, relative residual)``; raises :class:`ContinuationError` if no point with a
    relative residual below :data:`RTOL_ACCEPT` is found.
    """
    x = float(x0)
    res = math.inf
    for _ in range(maxit):
        d = k(x, alpha)
        res = stationarity_residual(d, x, alpha)
        if res < 1e-14:
            return x, res
        if d[2] == 0.0 or not math.isfinite(d[2]):
            break
        xn = min(max(x - d[1] / d[2], lo), hi)
        if abs(xn - x) <= tol * max(1.0, abs(x)):
            x = xn
            res = stationarity_residual(k(x, alpha), x, alpha)
            if res < RTOL_ACCEPT:
                return x, res
            break
        x = xn
    # fallback: bracketing root finder on [lo, hi] if F_x changes sign there (the root closest to x0)
    grid = np.linspace(lo, hi, 65)
    vals = np.array([k(z, alpha)[1] for z in grid])
    idx = np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)[0]
    if len(idx):
        i = idx[np.argmin(np.abs(grid[idx] - x0))]
        xr = brentq(lambda z: k(z, alpha)[1], grid[i], grid[i + 1], xtol=1e-15, rtol=1e-15, maxiter=300)
        rr = stationarity_residual(k(xr, alpha), xr, alpha)
        if rr < RTOL_ACCEPT:
            return xr, rr
        res = min(res, rr)
    raise ContinuationError(
        f"Newton in x did not converge at alpha={alpha:.6g} (x={x:.6g}, relative residual {res:.3g})"
    )


def refine_fold(k, x0: float, a0: float, x_scale: float, maxit: int = 60) -> Fold:
    """Newton on ``{F_x = 0, F_xx = 0}`` in ``(x, log alpha)`` from ``(x0, a0)``."""
    x, lam = float(x0), math.log(a0)
    res = math.inf
    for _ in range(maxit):
        a = math.exp(lam)
        d = k(x, a)
        res = fold_residual(d, x, a)
        if res < 1e-13:
            break
        Jm = np.array([[d[2], a * d[4]], [d[3], a * d[5]]])
        try:
            dx, dl = np.linalg.solve(Jm, -np.array([d[1], d[2]]))
        except np.linalg.LinAlgError:
            break
        lim = max(abs(dx) / (0.2 * x_scale), abs(dl) / 0.2, 1.0)  # damp long jumps
        x += dx / lim
        lam += dl / lim
        if abs(dl) < 1e-15 and abs(dx) < 1e-15 * max(1.0, abs(x)):
            break
    a = math.exp(lam)
    res = fold_residual(k(x, a), x, a)
    if res < RTOL_FOLD:
        return Fold(x=x, alpha=a, residual=res, converged=True)
    raise ContinuationError(f"fold refinement did not converge near alpha={a0:.6g}, x={x0:.6g} (relative residual {res:.3g})")


def alpha_at_x(k, x: float, a0: float, maxit: int = 80) -> float:
    """Solve ``F_x(x, alpha) = 0`` for alpha at fixed x (Newton in ``log alpha``; alpha(x) is
    regular at a fold). Raises :class:`ContinuationError` if it does not converge."""
    lam = math.log(a0)
    for _ in range(maxit):
        a = math.exp(lam)
        d = k(x, a)
        if d[4] == 0.0 or not math.isfinite(d[4]) or not math.isfinite(d[1]):
            break
        dl = -d[1] / (a * d[4])
        dl = max(min(dl, 1.0), -1.0)
        lam += dl
        if abs(dl) <= 1e-15:
            return math.exp(lam)
    a = math.exp(lam)
    if stationarity_residual(k(x, a), x, a) < 1e-13:
        return a
    raise ContinuationError(f"alpha(x) did not converge at x={x:.6g} near alpha={a0:.6g}")


def refine_fold_bracketed(k, y0, y1, x_scale: float) -> Fold:
    """Fold between two curve points ``(x0, a0)``, ``(x1, a1)`` on either side of it.

    On the curve near a fold, alpha is a regular function of x; ``g(x) = F_xx(x, alpha(x))``
    changes sign between ``x0`` and ``x1``: bisection (brentq) on g, then a check of the
    extended system. Falls back to :func:`refine_fold` if g has no sign change.
    """
    (x0, a0), (x1, a1) = y0, y1
    aguess = {"a": math.sqrt(a0 * a1)}

    def gfun(x):
        a = alpha_at_x(k, x, aguess["a"])
        aguess["a"] = a
        return k(x, a)[2]

    try:
        g0, g1 = gfun(x0), gfun(x1)
    except ContinuationError:
        g0 = g1 = 0.0
    if g0 * g1 < 0:
        xf = brentq(gfun, min(x0, x1), max(x0, x1), xtol=1e-15, rtol=1e-15, maxiter=300)
        af = alpha_at_x(k, xf, aguess["a"])
        res = fold_residual(k(xf, af), xf, af)
        if res < RTOL_FOLD:
            return Fold(x=xf, alpha=af, residual=res, converged=True)
    return refine_fold(k, 0.5 * (x0 + x1), math.sqrt(a0 * a1), x_scale)


def _g_on_curve(k, a0: float, sign: float):
    """``sign * F_xx(x, alpha(x))`` along the stationary curve (alpha(x) by :func:`alpha_at_x`,
    warm-started from the previous call), and the last ``alpha`` it used."""
    state = {"a": a0}

    def g(x):
        a = alpha_at_x(k, x, state["a"])
        state["a"] = a
        return sign * k(x, a)[2]

    return g, state


def _hidden_pair(k, x0: float, x1: float, a0: float, sign: float, n: int = 65):
    """Two folds hidden between the curve points at ``x0`` and ``x1`` (``F_xx`` of sign ``sign`` at
    both), or None.

    ``g(x) = sign * F_xx(x, alpha(x))`` on the curve is scanned on ``n`` points of ``[x0, x1]`` and
    its smallest value polished by bounded Brent minimisation; where ``g`` goes negative, each of
    its two sign changes is refined by brentq to a fold (``F_x = F_xx = 0``). Returns
    ``(fold_a, (x_m, alpha_m), fold_b)`` in the order of increasing distance from ``x0``.
    """
    g, state = _g_on_curve(k, a0, sign)
    xs = np.linspace(x0, x1, n)
    gv = np.array([g(x) for x in xs])
    j = int(np.argmin(gv))
    xm, gm = xs[j], gv[j]
    if gm >= 0.0 and 0 < j < n - 1:
        r = minimize_scalar(g, bounds=tuple(sorted((xs[j - 1], xs[j + 1]))), method="bounded",
                            options={"xatol": 1e-14 * max(1.0, abs(xm))})
        xm, gm = float(r.x), float(r.fun)
    if gm >= 0.0:
        return None
    am = alpha_at_x(k, xm, state["a"])
    folds = []
    for lo, hi in ((x0, xm), (xm, x1)):
        xf = brentq(g, min(lo, hi), max(lo, hi), xtol=1e-15, rtol=1e-15, maxiter=300)
        af = alpha_at_x(k, xf, am)
        res = fold_residual(k(xf, af), xf, af)
        if res >= RTOL_FOLD:
            raise ContinuationError(
                f"hidden bistable window detected near alpha={am:.10g} (F_xx < 0 between two traced points), "
                f"but its fold did not refine (relative residual {res:.3g})")
        folds.append(Fold(x=xf, alpha=af, residual=res, converged=True))
    return folds[0], (xm, am), folds[1]


def resolve_hidden_folds(k, curve: Curve) -> Curve:
    """Find fold pairs a continuation step jumped over, and insert them into ``curve``.

    A step can cross a narrow S-shaped piece of the curve (two folds close together, e.g. just
    past a critical end point) without any sign change of ``F_xx`` between its ends. Wherever
    ``|F_xx|`` of the traced points has an interior local minimum without a sign change, ``F_xx``
    along the curve is examined between the neighbouring points (:func:`_hidden_pair`); each
    fold pair found is added to ``curve.folds`` and the point of extreme ``F_xx`` between them is
    inserted into the arc, so that the sign changes of ``F_xx`` split the curve there. Raises
    :class:`ContinuationError` if a hidden window is detected but its folds cannot be refined.
    """
    h, x = curve.F_xx, curve.x
    found = []
    for i in range(1, len(h) - 1):
        s = np.sign(h[i])
        if s == 0 or np.sign(h[i - 1]) != s or np.sign(h[i + 1]) != s:
            continue
        if not (abs(h[i]) <= abs(h[i - 1]) and abs(h[i]) < abs(h[i + 1])):
            continue
        if (x[i] - x[i - 1]) * (x[i + 1] - x[i]) <= 0:  # x not monotone here: alpha(x) is no parameter
            continue
        pair = _hidden_pair(k, float(x[i - 1]), float(x[i + 1]), float(curve.alpha[i]), float(s))
        if pair is not None:
            found.append((i, pair))
    if not found:
        return curve
    cols = [list(v) for v in (curve.x, curve.alpha, curve.F, curve.F_xx, curve.residual)]
    folds = list(curve.folds)
    for i, (fa, (xm, am), fb) in reversed(found):  # from the end: earlier indices stay valid
        d = k(xm, am)
        pos = i if min(x[i - 1], x[i]) <= xm <= max(x[i - 1], x[i]) else i + 1
        for c, v in zip(cols, (xm, am, d[0], d[2], stationarity_residual(d, xm, am))):
            c.insert(pos, v)
        folds += [fa, fb]
    arr = [np.asarray(c, float) for c in cols]
    return Curve(x=arr[0], alpha=arr[1], F=arr[2], F_xx=arr[3], residual=arr[4], folds=folds,
                 end_reasons=curve.end_reasons)


class _Scaled:
    """The kernel in the scaled coordinates ``y = (x / x_scale, log(alpha) / l_scale)``."""

    def __init__(self, k, x_scale, l_scale):
        self.k, self.xs, self.ls = k, x_scale, l_scale

    def xa(self, y):
        return y[0] * self.xs, math.exp(y[1] * self.ls)

    def y(self, x, a):
        return np.array([x / self.xs, math.log(a) / self.ls])

    def __call__(self, y):
        x, a = self.xa(y)
        return self.k(x, a), x, a

    def tangent(self, d, a, prev=None):
        """Null vector of ``[F_xx x_scale, alpha F_xa l_scale]``, continuing ``prev``."""
        t = np.array([a * d[4] * self.ls, -d[2] * self.xs])
        n = np.hypot(*t)
        if n == 0 or not np.isfinite(n):
            raise ContinuationError("degenerate tangent (singular point of F_x = 0)")
        t /= n
        if prev is not None and t @ prev < 0:
            t = -t
        return t


def _correct(sk: _Scaled, yp, t, y, h):
    """Newton corrector from the predictor ``yp`` on ``{F_x = 0, t.(y - yp) = 0}``; None if it fails."""
    yn = yp.copy()
    for _ in range(12):
        d, x, a = sk(yn)
        J = np.array([[d[2] * sk.xs, a * d[4] * sk.ls], [t[0], t[1]]])
        try:
            step = np.linalg.solve(J, -np.array([d[1], t @ (yn - yp)]))
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(step)):
            return None
        yn = yn + step
        if np.max(np.abs(step)) < 1e-14:
            break
    d, x, a = sk(yn)
    if stationarity_residual(d, x, a) < RTOL_ACCEPT and np.linalg.norm(yn - y) < 2.5 * h:
        return yn, d
    return None


def trace(
    k,
    x0: float,
    alpha0: float,
    direction: int,
    alpha_range: tuple,
    x_range: tuple,
    x_scale: float = 1.0,
    h: float = 0.01,
    h_min: float = 1e-7,
    h_max: float = 0.05,
    max_steps: int = 40000,
    x_floor: float | None = None,
) -> Curve:
    """Trace the curve ``F_x = 0`` through ``(x0, alpha0)`` starting with alpha moving ``direction``.

    Stops when alpha leaves ``alpha_range`` or ``x`` leaves ``x_range`` (the last point is placed
    on the boundary). Folds are located and refined on the way. The log-alpha scale is
    ``l_scale = min(1, log(a_hi/a_lo))``: steps of at most ``h_max`` in the scaled coordinates,
    i.e. at most 5 % in alpha, and at least ~20 steps across a narrow window. With ``x_floor``
    the x scale follows the curve, ``x_scale = max(|x|, x_floor)`` (rescaled whenever it changes by
    a factor 2): a relative metric in ``x`` for variables such as ``u = m^2`` whose folds can sit at
    ``u ~ 1/g``, many decades below 1 (linear attention at large ``T``).
    """
    a_lo, a_hi = alpha_range
    x_lo, x_hi = x_range
    if x_floor is not None:
        x_scale = max(abs(x0), x_floor)
    sk = _Scaled(k, x_scale, min(1.0, math.log(a_hi / a_lo)))
    pts = []  # (x, alpha, F, F_xx, residual)
    folds: list[Fold] = []

    d = k(x0, alpha0)
    r0 = stationarity_residual(d, x0, alpha0)
    if r0 > 1e-8:
        raise ContinuationError(f"start point is not stationary: relative residual {r0:.3g}")
    t = sk.tangent(d, alpha0)
    if t[1] * direction < 0 or (t[1] == 0 and direction < 0):
        t = -t
    y = sk.y(x0, alpha0)

    def record(yv, dv):
        xv, av = sk.xa(yv)
        pts.append((xv, av, dv[0], dv[2], stationarity_residual(dv, xv, av)))

    record(y, d)
    end = "max_steps"
    for _ in range(max_steps):
        got, hit_boundary = None, None
        while h >= h_min:
            yp = y + h * t
            if not (x_lo <= yp[0] * x_scale <= x_hi):
                # the predictor leaves the x-domain: end exactly on the boundary if the curve does
                yb = _boundary_point(sk, y, yp, -math.inf, math.inf, x_lo, x_hi)
                if yb is not None and np.linalg.norm(yb - y) < 2.5 * h:
                    hit_boundary = yb
                    break
                h *= 0.5
                continue
            got = _correct(sk, yp, t, y, h)
            if got is not None:
                break
            h *= 0.5
        if hit_boundary is not None:
            xb, ab = sk.xa(hit_boundary)
            if a_lo <= ab <= a_hi:
                _fold_on_segment(sk, y, t, hit_boundary, folds)
                record(hit_boundary, k(xb, ab))
                end = "x_range"
                break
            yb = _boundary_point(sk, y, hit_boundary, a_lo, a_hi, x_lo, x_hi)  # leaves the alpha window first
            if yb is not None:
                _fold_on_segment(sk, y, t, yb, folds)
                record(yb, k(*sk.xa(yb)))
                end = "alpha_range"
                break
        if got is None:
            xc, ac = sk.xa(y)
            raise ContinuationError(f"corrector failed near x={xc:.6g}, alpha={ac:.6g} (step below {h_min:g})")
        yn, dn = got
        xcur, acur = sk.xa(yn)
        if acur < a_lo or acur > a_hi or xcur < x_lo or xcur > x_hi:
            end = "alpha_range" if (acur < a_lo or acur > a_hi) else "x_range"
            yb = _boundary_point(sk, y, yn, a_lo, a_hi, x_lo, x_hi)
            if yb is not None:  # only a fold inside the domain counts: between y and the boundary point
                _fold_on_segment(sk, y, t, yb, folds)
                record(yb, k(*sk.xa(yb)))
            break
        tn = _fold_on_segment(sk, y, t, yn, folds, dn)
        record(yn, dn)
        y, t = yn, tn
        h = min(h * 1.3, h_max)
        if x_floor is not None:
            xs_new = max(abs(xcur), x_floor)
            if not 0.5 < xs_new / sk.xs < 2.0:  # rescale x: same point and direction, new metric
                tp = np.array([t[0] * sk.xs / xs_new, t[1]])
                sk.xs = xs_new
                t = tp / np.hypot(*tp)
                y = sk.y(xcur, acur)
                x_scale = xs_new
    arr = np.array(pts, float)
    return Curve(x=arr[:, 0], alpha=arr[:, 1], F=arr[:, 2], F_xx=arr[:, 3], residual=arr[:, 4],
                 folds=folds, end_reasons=("start", end))


def _fold_on_segment(sk: _Scaled, y, t, yn, folds: list, dn=None):
    """Tangent at the curve point ``yn`` (continuing ``t``); if its alpha-component changes sign
    between ``y`` and ``yn`` there is a fold on the segment: it is refined (bisection on ``F_xx``
    along ``alpha(x)``, then a check of the extended system) and appended to ``folds``.

    Every accepted segment goes through here, including the last one ending on the x- or
    alpha-boundary, so each sign change of ``F_xx`` along a curve has its fold (a fold between the
    last step and a boundary point -- e.g. next to the MAP kink ``s = 0`` -- was missed before).
    """
    xn, an = sk.xa(yn)
    if dn is None:
        dn = sk.k(xn, an)
    tn = sk.tangent(dn, an, t)
    if np.sign(tn[1]) != np.sign(t[1]) and t[1] != 0:
        folds.append(refine_fold_bracketed(sk.k, sk.xa(y), (xn, an), sk.xs))
    return tn


def _boundary_point(sk: _Scaled, y, yn, a_lo, a_hi, x_lo, x_hi):
    """Point of the curve on the domain boundary between ``y`` (inside) and ``yn`` (outside)."""
    k = sk.k
    (x0, a0), (x1, a1) = sk.xa(y), sk.xa(yn)
    if a1 < a_lo or a1 > a_hi:
        ab = a_lo if a1 < a_lo else a_hi
        w = (math.log(ab) - math.log(a0)) / (math.log(a1) - math.log(a0))
        xg = x0 + w * (x1 - x0)
        try:
            xb, _ = newton_x(k, xg, ab, min(x0, x1) - abs(x1 - x0), max(x0, x1) + abs(x1 - x0))
        except ContinuationError:
            return None
        return sk.y(xb, ab)
    xb = x_lo if x1 < x_lo else x_hi
    w = (xb - x0) / (x1 - x0)
    ag = math.exp(math.log(a0) + w * (math.log(a1) - math.log(a0)))
    try:
        a = alpha_at_x(k, xb, ag)
    except ContinuationError:
        return None
    if not (min(a0, a1) / 2 <= a <= 2 * max(a0, a1)):
        return None
    return sk.y(xb, a)
