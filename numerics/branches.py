"""Branches of stationary points: automatic seeding, tracing, splitting at folds, stability.

A *branch* is a piece of the stationary set on which the stability does not change: a piece of a
traced curve between folds (stable iff ``F_xx > 0``), the symmetric point ``m = 0`` of linear
attention on an alpha interval (stable iff ``F_u(0+) > 0``), or the MAP kink ``s = 0`` (a
stationary point of the subgradient where ``F_s(0-) < 0 < F_s(0+)``; always a minimum).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .continuation import ContinuationError, Curve, newton_x, resolve_hidden_folds, trace
from .kernels import Kernel

_EPS_SIDE = 1e-300  # offset from a kink / boundary for one-sided derivatives (no bias: F is flat on this scale)


@dataclass(eq=False)
class Branch:
    """A stationary branch ``x(alpha)`` of constant stability, sorted by alpha.

    ``kind`` is ``"smooth"`` (root of ``F_x``), ``"symmetric"`` (``m = 0``, linear attention) or
    ``"kink"`` (MAP ``s = 0``). ``stable`` means a local minimum of ``F``.
    """

    kind: str
    stable: bool
    alpha: np.ndarray
    x: np.ndarray
    F: np.ndarray
    m: np.ndarray
    r: np.ndarray
    residual: np.ndarray

    @property
    def alpha_min(self) -> float:
        return float(self.alpha[0])

    @property
    def alpha_max(self) -> float:
        return float(self.alpha[-1])

    @property
    def label(self) -> str:
        return "stable" if self.stable else "unstable"

    def covers(self, alpha: float) -> bool:
        """Is ``alpha`` inside the branch's alpha interval (relative tolerance 1e-9)?"""
        tol = 1e-9 * max(1.0, abs(alpha))
        return self.alpha_min - tol <= alpha <= self.alpha_max + tol

    def x_at(self, k: Kernel, alpha: float) -> float:
        """Stationary ``x`` on this branch at ``alpha``.

        Between two stored points of a branch (no fold inside, so ``alpha(x)`` is monotone) the
        root lies between their ``x``: brentq on that segment when ``F_x`` changes sign there,
        Newton from the log-alpha interpolation otherwise. Raises ``ValueError`` outside the branch.
        """
        if not self.covers(alpha):
            raise ValueError(f"alpha={alpha} outside branch [{self.alpha_min}, {self.alpha_max}]")
        if self.kind != "smooth":
            return float(self.x[0])
        a = min(max(alpha, self.alpha_min), self.alpha_max)
        i = int(np.clip(np.searchsorted(self.alpha, a), 1, len(self.alpha) - 1))
        a0, a1, x0, x1 = self.alpha[i - 1], self.alpha[i], float(self.x[i - 1]), float(self.x[i])
        for aa, xx in ((a0, x0), (a1, x1)):
            if aa == a:
                return xx  # a stored (accepted) point, e.g. a fold
        lo, hi = min(x0, x1), max(x0, x1)
        f0, f1 = k(lo, a)[1], k(hi, a)[1]
        if f0 == 0.0:
            return lo
        if f1 == 0.0:
            return hi
        if np.sign(f0) != np.sign(f1):
            return float(brentq(lambda z: k(z, a)[1], lo, hi, xtol=1e-15, rtol=1e-15, maxiter=300))
        w = 0.0 if a1 == a0 else (math.log(a) - math.log(a0)) / (math.log(a1) - math.log(a0))
        pad = 0.5 * (hi - lo) + 1e-9 * max(1.0, abs(x0))
        x, _ = newton_x(k, x0 + w * (x1 - x0), a, lo - pad, hi + pad)
        return x

    def slope_at(self, k: Kernel, alpha: float) -> tuple:
        """``(dm/dalpha, d2m/dalpha2)`` on this branch at ``alpha`` (implicit function theorem;
        zero on the symmetric and kink branches)."""
        if self.kind != "smooth":
            return 0.0, 0.0
        return m_slope(k, self.x_at(k, alpha), alpha)

    def F_at(self, k: Kernel, alpha: float) -> float:
        return k.F(self.x_at(k, alpha), alpha)

    def summary(self) -> dict:
        return {
            "kind": self.kind,
            "stability": self.label,
            "alpha_min": self.alpha_min,
            "alpha_max": self.alpha_max,
            "m_range": [float(self.m.min()), float(self.m.max())],
            "max_residual": float(np.max(self.residual)),
        }


def m_slope(k: Kernel, x: float, alpha: float) -> tuple:
    """``(dm/dalpha, d2m/dalpha2)`` along a smooth stationary branch through ``(x, alpha)``.

    ``x' = -F_xa/F_xx`` and ``x'' = -(F_xxx x'^2 + 2 F_xxa x' + F_xaa)/F_xx`` (differentiating
    ``F_x(x(alpha), alpha) = 0`` twice); ``F_xaa`` is a central difference of the generated
    ``F_xa`` in alpha at fixed ``x`` (relative step 1e-4: error ~1e-8, no branch end involved).
    ``m(x)``: ``sqrt(u)`` (linear) or ``1/(1 + (T-1)e^{-s})`` (softmax, ``m' = m(1-m)``).
    """
    d = k(x, alpha)
    h = 1e-4 * alpha
    F_xaa = (k(x, alpha + h)[4] - k(x, alpha - h)[4]) / (2.0 * h)
    xp = -d[4] / d[2]
    xpp = -(d[3] * xp * xp + 2.0 * d[5] * xp + F_xaa) / d[2]
    if k.model.attention == "linear":
        u = max(x, 1e-300)
        mx, mxx = 0.5 / math.sqrt(u), -0.25 / u**1.5
    else:
        m = float(k.m_of_x(x))
        mx, mxx = m * (1.0 - m), m * (1.0 - m) * (1.0 - 2.0 * m)
    return mx * xp, mxx * xp * xp + mx * xpp


def x_grid(k: Kernel, n: int = 600) -> np.ndarray:
    """Grid of ``x`` for root scanning on the model's domain.

    With a kink (MAP qk softmax, ``s = 0``) the grid holds both one-sided points ``0-`` and ``0+``,
    so a root of ``F_x`` between the kink and its neighbouring grid point is bracketed on its own
    side (the cell across the kink is the kink itself and is skipped by the scans).
    """
    d = k.domain
    if k.model.attention == "linear":
        return np.concatenate([[_EPS_SIDE], np.geomspace(1e-9, d.hi, n)])
    xs = np.linspace(-12.0, 45.0, n)
    if d.kink is not None:
        xs = np.union1d(xs, [d.kink - _EPS_SIDE, d.kink + _EPS_SIDE])
    return xs


def _sign_change_roots(k: Kernel, xs: np.ndarray, alpha: float, vals: np.ndarray):
    """All roots of ``F_x(., alpha)`` bracketed on the grid (``vals = F_x(xs)``; not across a kink)."""
    roots = []
    kink = k.domain.kink
    for i in np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)[0]:
        a, b = xs[i], xs[i + 1]
        if kink is not None and a < kink < b:
            continue
        if not (np.isfinite(vals[i]) and np.isfinite(vals[i + 1])):
            continue
        x = brentq(lambda z: k(z, alpha)[1], a, b, xtol=1e-14, rtol=1e-14, maxiter=200)
        x, _ = newton_x(k, x, alpha, a, b)
        roots.append(x)
    return roots


def _on_curve(k: Kernel, curve: Curve, x: float, alpha: float) -> bool:
    """Is the stationary point ``(x, alpha)`` on ``curve``? (Newton from the interpolated curve.)"""
    a = curve.alpha
    sgn = np.sign(a - alpha)
    for i in np.nonzero(sgn[:-1] * sgn[1:] <= 0)[0]:
        w = 0.0 if a[i + 1] == a[i] else (alpha - a[i]) / (a[i + 1] - a[i])
        xi = curve.x[i] + w * (curve.x[i + 1] - curve.x[i])
        half = abs(curve.x[i + 1] - curve.x[i]) + 1e-9
        if abs(xi - x) > 2 * half:
            continue
        try:
            xr, _ = newton_x(k, xi, alpha, min(curve.x[i], curve.x[i + 1]) - half, max(curve.x[i], curve.x[i + 1]) + half)
        except ContinuationError:
            continue
        if abs(xr - x) < 1e-7 * (1.0 + abs(x)):
            return True
    return False


def trace_all(k: Kernel, alpha_range, n_seed_alphas: int | None = None):
    """Find every stationary curve meeting the seed alphas and trace it over ``alpha_range``.

    Seeds: all roots of ``F_x`` on a dense ``x`` grid at ``n_seed_alphas`` alphas spread
    log-uniformly over the range (default: 9, or 8 per decade of a wider window). Each seed not
    already on a traced curve starts a new trace (both directions).
    """
    a_lo, a_hi = alpha_range
    d = k.domain
    xs = x_grid(k)
    x_scale = 1.0  # s (softmax) is O(1..10) on the branches of interest: a fixed scale
    x_floor = 1e-12 if k.model.attention == "linear" else None  # u = m^2 spans decades: a relative scale
    curves: list[Curve] = []
    if n_seed_alphas is None:
        n_seed_alphas = max(9, int(math.ceil(8 * math.log10(a_hi / a_lo))))
    seed_alphas = np.geomspace(a_lo, a_hi, n_seed_alphas + 2)[1:-1]  # interior: curves end on the edges
    seed_vals = k.grid(xs, seed_alphas)[:, :, 1]  # one (parallel) grid call for all seeds
    for alpha, vals in zip(seed_alphas, seed_vals):
        for x in _sign_change_roots(k, xs, alpha, vals):
            if any(_on_curve(k, c, x, alpha) for c in curves):
                continue
            if d.kink is not None:
                x_range = (d.kink + _EPS_SIDE, d.hi) if x > d.kink else (d.lo, d.kink - _EPS_SIDE)
            else:
                x_range = (d.lo, d.hi)
            back = trace(k, x, alpha, -1, (a_lo, a_hi), x_range, x_scale, x_floor=x_floor)
            fwd = trace(k, x, alpha, +1, (a_lo, a_hi), x_range, x_scale, x_floor=x_floor)
            curves.append(resolve_hidden_folds(k, _join(back, fwd)))
    return curves


def _join(back: Curve, fwd: Curve) -> Curve:
    """Concatenate a backward and a forward trace from the same start point into one curve."""
    cat = lambda a, b: np.concatenate([a[::-1], b[1:]])
    return Curve(
        x=cat(back.x, fwd.x), alpha=cat(back.alpha, fwd.alpha), F=cat(back.F, fwd.F),
        F_xx=cat(back.F_xx, fwd.F_xx), residual=cat(back.residual, fwd.residual),
        folds=back.folds[::-1] + fwd.folds, end_reasons=(back.end_reasons[1], fwd.end_reasons[1]),
    )


def _make_branch(k: Kernel, kind, stable, alpha, x, F, residual) -> Branch:
    order = np.argsort(alpha, kind="stable")
    alpha, x, F, residual = (np.asarray(v, float)[order] for v in (alpha, x, F, residual))
    return Branch(kind, bool(stable), alpha, x, F, np.asarray(k.m_of_x(x)), np.asarray(k.r_of_x(x)), residual)


def split_curve(k: Kernel, curve: Curve) -> list:
    """Split a curve at its folds into branches of constant stability (fold points shared)."""
    h = curve.F_xx
    changes = list(np.nonzero(np.sign(h[:-1]) * np.sign(h[1:]) < 0)[0])
    # pair every sign change of F_xx with the refined fold nearest to it, among the folds whose x lies
    # between the two points when there are any (x is monotone through a fold: two folds of a narrow
    # window are closer to each other than to the midpoints of their segments)
    cut_points = []
    for i in changes:
        am, xm = 0.5 * (curve.alpha[i] + curve.alpha[i + 1]), 0.5 * (curve.x[i] + curve.x[i + 1])
        if not curve.folds:
            raise ContinuationError(f"F_xx changes sign near alpha={am:.6g} but no fold was refined")
        lo, hi = sorted((curve.x[i], curve.x[i + 1]))
        cands = [f for f in curve.folds if lo <= f.x <= hi] or curve.folds
        f = min(cands, key=lambda f: abs(f.alpha - am) + abs(f.x - xm))
        cut_points.append((i, f))
    out = []
    start = 0
    prev_fold = None
    for i, f in cut_points + [(len(h) - 1, None)]:
        sl = slice(start, i + 1)
        al, xx, FF, rr, hh = (list(v[sl]) for v in (curve.alpha, curve.x, curve.F, curve.residual, h))
        if prev_fold is not None:
            al.insert(0, prev_fold.alpha); xx.insert(0, prev_fold.x)
            FF.insert(0, k.F(prev_fold.x, prev_fold.alpha)); rr.insert(0, prev_fold.residual); hh.insert(0, 0.0)
        if f is not None:
            al.append(f.alpha); xx.append(f.x); FF.append(k.F(f.x, f.alpha)); rr.append(f.residual); hh.append(0.0)
        if len(al) >= 2:
            hv = np.asarray(hh)
            out.append(_make_branch(k, "smooth", hv[np.argmax(np.abs(hv))] > 0, al, xx, FF, rr))
        start, prev_fold = i + 1, f
    return out


def _interval_roots(f, alphas):
    """Roots of a scalar function of alpha bracketed on a grid (refined by brentq)."""
    v = np.array([f(a) for a in alphas])
    out = []
    for i in np.nonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)[0]:
        out.append(brentq(f, alphas[i], alphas[i + 1], xtol=1e-300, rtol=1e-14, maxiter=200))
    return out, v


def special_branches(k: Kernel, alpha_range, n: int = 400) -> list:
    """The symmetric ``m = 0`` branch (linear) or the MAP kink ``s = 0`` (softmax, qk MAP)."""
    d = k.domain
    a_lo, a_hi = alpha_range
    grid = np.geomspace(a_lo, a_hi, n)
    branches = []
    if d.boundary_point is not None:
        x0 = d.boundary_point
        if d.boundary_always_stable:
            f = lambda a: 1.0
            roots = []
        else:
            f = lambda a: k(x0 + _EPS_SIDE, a)[1]
            roots, _ = _interval_roots(f, grid)
        edges = [a_lo] + roots + [a_hi]
        for a, b in zip(edges[:-1], edges[1:]):
            mid = math.sqrt(a * b)
            al = np.array([a, b])
            Fv = np.array([k.F(x0, a), k.F(x0, b)])
            branches.append(_make_branch(k, "symmetric", f(mid) > 0, al, [x0, x0], Fv, [0.0, 0.0]))
    if d.kink is not None:
        x0 = d.kink
        fp = lambda a: k(x0 + _EPS_SIDE, a)[1]  # F_s(0+)
        fm = lambda a: k(x0 - _EPS_SIDE, a)[1]  # F_s(0-)
        rp, _ = _interval_roots(fp, grid)
        rm, _ = _interval_roots(fm, grid)
        edges = sorted(set([a_lo, a_hi] + rp + rm))
        for a, b in zip(edges[:-1], edges[1:]):
            mid = math.sqrt(a * b)
            if fm(mid) < 0 < fp(mid):
                al = np.array([a, b])
                branches.append(
                    _make_branch(k, "kink", True, al, [x0, x0], [k.F(x0, a), k.F(x0, b)], [0.0, 0.0])
                )
    return branches


def all_branches(k: Kernel, alpha_range) -> tuple:
    """``(branches, folds)`` over ``alpha_range``: traced smooth branches plus the special ones."""
    curves = trace_all(k, alpha_range)
    branches, folds = [], []
    for c in curves:
        branches.extend(split_curve(k, c))
        folds.extend(c.folds)
    branches.extend(special_branches(k, alpha_range))
    for b in branches:
        if not np.all(np.isfinite(b.F)) or not np.all(np.isfinite(b.x)):
            raise ContinuationError(f"non-finite value on a {b.kind} branch near alpha={b.alpha_min:.6g}")
    return branches, folds
