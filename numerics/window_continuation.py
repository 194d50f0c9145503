"""Pseudo-arclength continuation of stationary points in a multi-dimensional state, with folds,
branch points (symmetry-breaking bifurcations) and branch switching.

The stationary set ``G(x, alpha) = grad_x F = 0`` (``n`` equations in ``n + 1`` unknowns) is a
curve. In scaled coordinates ``y = (x, alpha / a_scale)`` the Jacobian is ``[Hess, a_scale dG/dalpha]``
(``n x (n+1)``); its null vector (last right singular vector) is the tangent ``t``, oriented like the
previous one. Predictor ``y + h t``; corrector: Newton on ``{G = 0, t . (y - y_pred) = 0}``
(bordered Jacobian ``[[Hess, a_scale G_alpha], [t^T]]``, regular at folds and at simple branch
points away from the exact singular point). The step adapts (halving on failure, growth 1.3 on
success); a step is rejected if the tangent turns by more than ``max_turn``.

Events. The Morse index (number of negative Hessian eigenvalues) is tracked along the curve. When
it changes between two points, the crossing eigenvalue ``mu(sigma)`` (the ``k``-th smallest, ``k``
the smaller of the two indices) is followed on the corrected points ``y(sigma)`` of the *same*
step (predictor ``y + sigma h t``) and its root is located by Brent's method; at the root
``|mu| < 1e-8 max|eig|`` and ``|G| < 1e-9 max(1, alpha)`` are checked. The event is a **fold** if the alpha-component of
the tangent changes sign across it, otherwise a **branch point** (the curve goes on in the same
alpha direction while a Hessian eigenvalue crosses zero: a bifurcation; with a symmetric state the
null vector breaks the symmetry and ``psi . dG/dalpha = 0``).

Branch switching (:func:`switch_branch`): from a branch point ``(x_b, alpha_b)`` with null vector
``psi``, Newton on ``{G(x, alpha) = 0, psi . (x - x_b) = eps}`` gives a point on the bifurcating
branch (which is tangent to ``(psi, 0)`` for a pitchfork); it is traced away from the branch point.
Non-convergence raises :class:`ContinuationError` with the residual.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from .continuation import ContinuationError

GRAD_TOL = 1e-10
"""Corrector tolerance on ``|grad F|`` (max norm) for an accepted point, times ``max(1, alpha)``
(the energy terms of the gradient grow like alpha, and so does their rounding error)."""


def grad_tol(alpha: float) -> float:
    return GRAD_TOL * max(1.0, abs(alpha))


@dataclass
class Event:
    """A fold or a branch point on a traced curve."""

    kind: str  # "fold" | "branch"
    x: np.ndarray
    alpha: float
    residual: float  # max |grad F| at the refined point
    eigenvalue: float  # the crossing Hessian eigenvalue there (~0)
    null: np.ndarray  # (n, d) null vectors of the Hessian (d = multiplicity)
    index_low: int  # Morse index on the stable-er side
    psi_dot_galpha: float  # |psi . dG/dalpha| / |dG/dalpha| (0 at a symmetric branch point)


@dataclass
class WindowCurve:
    """A traced curve: points along the arc and the events found on it."""

    x: np.ndarray  # (npts, n)
    alpha: np.ndarray
    F: np.ndarray
    eigs: np.ndarray  # (npts, n) Hessian eigenvalues, ascending
    residual: np.ndarray
    events: list = field(default_factory=list)
    end_reasons: tuple = ("", "")
    event_pos: list = field(default_factory=list)  # index i: event lies between points i and i+1
    start_event: Event | None = None  # the branch point a switched curve starts from
    end_event: Event | None = None  # a known branch point the trace stopped at

    @property
    def index(self) -> np.ndarray:
        return np.sum(self.eigs < 0, axis=1)


def newton_state(fe, x0, alpha: float, tol: float | None = None, maxit: int = 60):
    """Solve ``grad F(x, alpha) = 0`` at fixed alpha (Newton with step halving on ``|grad|``).

    Returns ``(x, residual)``; raises :class:`ContinuationError` if it does not converge.
    """
    tol = grad_tol(alpha) if tol is None else tol
    x = np.array(x0, float)
    _, g, Hs, _ = fe.derivatives(x, alpha)
    res = float(np.max(np.abs(g)))
    for _ in range(maxit):
        if res < tol:
            return x, res
        try:
            dx = np.linalg.solve(Hs, -g)
        except np.linalg.LinAlgError:
            break
        lam = 1.0
        while lam > 1e-4:
            xn = x + lam * dx
            _, gn, Hn, _ = fe.derivatives(xn, alpha)
            rn = float(np.max(np.abs(gn)))
            if np.isfinite(rn) and rn < res * (1.0 - 1e-4 * lam) or rn < tol:
                break
            lam *= 0.5
        else:
            break
        x, g, Hs, res = xn, gn, Hn, rn
    if res < tol:
        return x, res
    raise ContinuationError(f"Newton at fixed alpha={alpha:.6g} did not converge (|grad F|={res:.3g})")


def _tangent(Hs, ga, a_scale, prev=None):
    Jm = np.hstack([Hs, (a_scale * ga)[:, None]])
    _, _, Vt = np.linalg.svd(Jm)
    t = Vt[-1]
    if prev is not None and t @ prev < 0:
        t = -t
    return t / np.linalg.norm(t)


def _correct(fe, y_pred, t, a_scale, maxit: int = 10, tight: bool = False):
    """Newton on ``{G = 0, t.(y - y_pred) = 0}`` from the predictor; returns ``(y, derivs)`` or None.

    ``tight``: converge to ``|grad F| < 1e-12 max(1, alpha)`` (event refinement) instead of :func:`grad_tol`.
    """
    y = y_pred.copy()
    n = len(y) - 1
    tol = (lambda a: 1e-12 * max(1.0, abs(a))) if tight else grad_tol
    for _ in range(maxit):
        d = fe.derivatives(y[:n], y[n] * a_scale)
        R = np.concatenate([d[1], [t @ (y - y_pred)]])
        if not np.all(np.isfinite(R)):
            return None
        if np.max(np.abs(d[1])) < tol(y[n] * a_scale) and abs(R[-1]) < 1e-12:
            return y, d
        Jm = np.zeros((n + 1, n + 1))
        Jm[:n, :n] = d[2]
        Jm[:n, n] = a_scale * d[3]
        Jm[n] = t
        try:
            step = np.linalg.solve(Jm, -R)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(step)):
            return None
        y = y + step
    d = fe.derivatives(y[:n], y[n] * a_scale)
    if np.max(np.abs(d[1])) < grad_tol(y[n] * a_scale):
        return y, d
    return None


def _refine_event(fe, y0, t0, h, a_scale, k):
    """Root of the k-th Hessian eigenvalue along the step ``y0 + sigma h t0`` (corrected), sigma in [0, 1]."""
    n = len(y0) - 1
    cache = {}

    def point(sig):
        if sig not in cache:
            out = _correct(fe, y0 + sig * h * t0, t0, a_scale, maxit=20, tight=True)
            if out is None:
                out = _correct(fe, y0 + sig * h * t0, t0, a_scale, maxit=20)
            if out is None:
                raise ContinuationError(f"corrector failed while locating an event near alpha={y0[n] * a_scale:.6g}")
            cache[sig] = out
        return cache[sig]

    def mu(sig):
        return float(np.linalg.eigvalsh(point(sig)[1][2])[k])

    m0, m1 = mu(0.0), mu(1.0)
    if m0 * m1 > 0:
        raise ContinuationError(f"event near alpha={y0[n] * a_scale:.6g}: eigenvalue {k} does not change sign "
                                f"({m0:.3g}, {m1:.3g})")
    sig = brentq(mu, 0.0, 1.0, xtol=1e-14, rtol=1e-14, maxiter=200)
    y, d = point(sig)
    return y, d


def _make_event(fe, y, d, a_scale, kind, index_low):
    n = len(y) - 1
    ev, evec = np.linalg.eigh(d[2])
    scale = max(1.0, float(np.max(np.abs(ev))))
    near = np.abs(ev) < 1e-6 * scale
    if not np.any(near):
        near = np.abs(ev) == np.min(np.abs(ev))
    null = evec[:, near]
    i0 = int(np.argmin(np.abs(ev)))
    ga = d[3]
    pg = float(np.linalg.norm(null.T @ ga) / max(np.linalg.norm(ga), 1e-300))
    res = float(np.max(np.abs(d[1])))
    if abs(ev[i0]) > 1e-8 * scale or res > 10.0 * grad_tol(y[n] * a_scale):
        raise ContinuationError(f"{kind} refinement at alpha={y[n] * a_scale:.8g}: eigenvalue {ev[i0]:.3g}, "
                                f"|grad F| {res:.3g}")
    return Event(kind, y[:n].copy(), float(y[n] * a_scale), res, float(ev[i0]), null, int(index_low), pg)


def trace(
    fe,
    x0,
    alpha0: float,
    t0,
    alpha_range: tuple,
    a_scale: float,
    x_bound: float = 60.0,
    h: float = 0.02,
    h_min: float = 1e-8,
    h_max: float = 0.03,
    max_steps: int = 4000,
    max_turn: float = 0.3,
    on_event=None,
) -> WindowCurve:
    """Trace the stationary curve through ``(x0, alpha0)`` starting along the tangent ``t0``.

    ``t0`` is a vector in ``y = (x, alpha/a_scale)`` (normalised here). The trace stops when alpha
    leaves ``alpha_range`` (end point placed on the boundary), when ``max |w|`` exceeds ``x_bound``,
    after ``max_steps``, when the curve closes on its start, or when ``on_event(event)`` returns
    True (e.g. the curve reached a branch point that is already known).
    """
    a_lo, a_hi = alpha_range
    n = len(x0)
    y = np.concatenate([np.asarray(x0, float), [alpha0 / a_scale]])
    d = fe.derivatives(y[:n], alpha0)
    if np.max(np.abs(d[1])) > 1e-8:
        raise ContinuationError(f"start point is not stationary: |grad F|={np.max(np.abs(d[1])):.3g}")
    t = _tangent(d[2], d[3], a_scale, np.asarray(t0, float))
    xs, als, Fs, eigs, res = [], [], [], [], []
    events, pos = [], []
    end_event = None

    def record(yv, dv):
        xs.append(yv[:n].copy())
        als.append(yv[n] * a_scale)
        Fs.append(dv[0])
        eigs.append(np.linalg.eigvalsh(dv[2]))
        res.append(float(np.max(np.abs(dv[1]))))

    record(y, d)
    y_start = y.copy()
    end = "max_steps"
    for step in range(max_steps):
        out = None
        while h >= h_min:
            yp = y + h * t
            out = _correct(fe, yp, t, a_scale)
            if out is not None:
                yn, dn = out
                tn = _tangent(dn[2], dn[3], a_scale, t)
                if np.linalg.norm(yn - y) < 2.0 * h and tn @ t > math.cos(max_turn):
                    break
            out = None
            h *= 0.5
        if out is None:
            raise ContinuationError(f"corrector failed near alpha={y[n] * a_scale:.6g} (step below {h_min:g}; "
                                    f"|grad F|={res[-1]:.2g} at the last point)")
        yn, dn = out
        an = yn[n] * a_scale
        # events between y and yn
        i0 = int(np.sum(eigs[-1] < 0))
        en = np.linalg.eigvalsh(dn[2])
        i1 = int(np.sum(en < 0))
        stop = False
        if i0 != i1:
            kind = "fold" if np.sign(tn[n]) != np.sign(t[n]) and t[n] != 0 else "branch"
            found = []
            for k in range(min(i0, i1), max(i0, i1)):  # every eigenvalue that crossed in this step
                ye, de = _refine_event(fe, y, t, h, a_scale, k)
                if any(np.linalg.norm(ye - yo) < 1e-7 for yo, _, _ in found):
                    continue  # a multiple eigenvalue: one event with a null space of dimension > 1
                found.append((ye, de, k))
            found.sort(key=lambda f: f[2])
            for ye, de, k in sorted(found, key=lambda f: float(t @ (f[0] - y))):
                ev = _make_event(fe, ye, de, a_scale, kind, k)
                if not a_lo <= ev.alpha <= a_hi:
                    continue
                if on_event is not None and on_event(ev):
                    record(ye, de)
                    end = "known_event"
                    end_event = ev
                    stop = True
                    break
                events.append(ev)
                pos.append(len(xs) - 1)
        if stop:
            break
        if an < a_lo or an > a_hi:
            yb = _boundary(fe, y, yn, a_scale, a_lo if an < a_lo else a_hi)
            if yb is not None:
                record(*yb)
            end = "alpha_range"
            break
        wmax = float(np.max(np.abs(fe.logits(yn[:n]))))
        record(yn, dn)
        if wmax > x_bound:
            end = "x_bound"
            break
        if step > 10 and np.linalg.norm(yn - y_start) < 0.5 * h:
            end = "closed"
            break
        y, t = yn, tn
        h = min(h * 1.3, h_max)
    return WindowCurve(np.array(xs), np.array(als), np.array(Fs), np.array(eigs), np.array(res), events,
                       ("start", end), pos, end_event=end_event)


def _boundary(fe, y, yn, a_scale, a_b):
    """The curve point at ``alpha = a_b`` between ``y`` (inside) and ``yn`` (outside)."""
    n = len(y) - 1
    a0, a1 = y[n] * a_scale, yn[n] * a_scale
    wgt = (a_b - a0) / (a1 - a0)
    xg = y[:n] + wgt * (yn[:n] - y[:n])
    try:
        xb, _ = newton_state(fe, xg, a_b)
    except ContinuationError:
        return None
    if np.linalg.norm(xb - xg) > 2.0 * np.linalg.norm(yn[:n] - y[:n]) + 1e-9:
        return None
    yb = np.concatenate([xb, [a_b / a_scale]])
    return yb, fe.derivatives(xb, a_b)


def switch_branch(fe, event: Event, psi, a_scale: float, eps: float = 1e-3):
    """A point on the branch bifurcating at ``event`` in the direction ``psi`` (unit vector in the
    null space): Newton on ``{G = 0, psi.(x - x_b) = eps}`` from ``(x_b + eps psi, alpha_b)``.

    Returns ``(x, alpha, tangent)`` with the tangent (in ``y``) pointing away from the branch point.
    """
    psi = np.asarray(psi, float) / np.linalg.norm(psi)
    n = len(event.x)
    y = np.concatenate([event.x + eps * psi, [event.alpha / a_scale]])
    for _ in range(40):
        d = fe.derivatives(y[:n], y[n] * a_scale)
        R = np.concatenate([d[1], [psi @ (y[:n] - event.x) - eps]])
        if np.max(np.abs(d[1])) < grad_tol(event.alpha) and abs(R[-1]) < 1e-13:
            break
        Jm = np.zeros((n + 1, n + 1))
        Jm[:n, :n] = d[2]
        Jm[:n, n] = a_scale * d[3]
        Jm[n, :n] = psi
        step = np.linalg.solve(Jm, -R)
        y = y + step
    d = fe.derivatives(y[:n], y[n] * a_scale)
    res = float(np.max(np.abs(d[1])))
    if res > 10.0 * grad_tol(event.alpha):
        raise ContinuationError(f"branch switching at alpha={event.alpha:.6g} did not converge (|grad F|={res:.3g})")
    yb = np.concatenate([event.x, [event.alpha / a_scale]])
    away = y - yb
    return y[:n], float(y[n] * a_scale), away / np.linalg.norm(away)
