"""Brute-force reference for the ``V = inf`` transition: minima of the reduced free energy by
direct evaluation on dense grids.

This is the independent check of :func:`copyhead.numerics.solve.solve` (issue 8 §2): it uses
neither the generated kernels, nor derivatives, nor continuation. The reduced free energy is
written here in plain NumPy from THEORY.md §4 (with the constant ``alpha/2`` removed, which
changes no difference of ``F``):

* softmax, ``x = s``: ``F = nu (T-1) j(s) + [1/2 log(1 + g r)] - (alpha/2) g m^2/(1 + g r)``,
  ``m = 1/(1 + (T-1) e^{-s})``, ``r = m^2 + (1-m)^2/(T-1)``;
* linear, ``x = m >= 0``: the same with ``T`` for ``T - 1``, ``j(m)`` and ``r = m^2``;

``g = sigma2 alpha``; the bracket is the Occam term, absent for the MAP objective; ``j`` is the
closed-form rate of :mod:`copyhead.theory.prior` (``|s|`` for MAP qk).

Algorithm (:func:`brute_force_transition`): at every alpha of a log grid, all local minima of
``F`` on a dense ``x`` grid (kink ``s = 0`` and boundary ``m = 0`` included as grid points) are
refined by bounded Brent minimisation of ``F`` itself. Then

* a **first-order** transition is a switch of the global minimum between two distinct minima;
  ``alpha_c`` is the root of ``Delta F`` between them (brentq on minimised values); the
  spinodals are where those two minima appear / disappear, bisected in alpha with the ``x``
  grid zoomed onto the vanishing minimum-saddle pair (or a one-sided probe for the point
  minima ``m = 0`` and ``s = 0``);
* **second order** (linear): ``m = 0`` stops being a local minimum (probe ``F(1e-4) > F(0)``)
  while it is the global minimum, and the new minimum grows from it;
* a **crossover** is an interior maximum of ``dm/dalpha`` of the global minimum (quadratic fit
  to finite differences on a fine grid);
* otherwise ``"none"``.

Anything the grids cannot decide is reported in ``unresolved`` (e.g. a bistable window narrower
than the alpha grid spacing, a minimum on the edge of the ``x`` grid, a crossover peak too flat
to locate to the requested accuracy) -- the harness never counts such a point as a pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from copyhead.theory.model import Model
from copyhead.theory.prior import rate

S_RANGE = (-10.0, 40.0)
M_RANGE = (1e-6, 1e3)


def free_energy(model: Model, x, alpha: float):
    """Reduced free energy per ``V^2`` minus ``alpha/2`` (NumPy; ``x = s`` or ``m``; see module doc)."""
    x = np.asarray(x, dtype=float)
    T, nu, s2 = model.T, model.nu, model.sigma2
    g = s2 * alpha
    if model.attention == "softmax":
        e = np.exp(-np.abs(x))
        m = np.where(x >= 0, 1.0 / (1.0 + (T - 1) * e), e / (e + (T - 1)))
        r = m * m + (1.0 - m) ** 2 / (T - 1)
        F = nu * (T - 1) * rate(x, model.prior, model.objective)
    else:
        m = np.abs(x)
        r = m * m
        F = nu * T * rate(m, model.prior, model.objective)
    gr = g * r
    F = F - 0.5 * alpha * g * m * m / (1.0 + gr)
    if model.objective == "posterior":
        F = F + 0.5 * np.log1p(gr)  # log1p: near m = 0 (linear) g r is tiny and log(1 + g r) would lose it
    return F


def m_of(model: Model, x):
    x = np.asarray(x, dtype=float)
    if model.attention == "linear":
        return np.abs(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + (model.T - 1) * e), e / (e + (model.T - 1)))


def x_grid(model: Model, n: int = 6000) -> np.ndarray:
    """Dense grid: ``s`` uniform on :data:`S_RANGE` with ``s = 0`` included; ``m`` = 0 plus a
    geometric grid on :data:`M_RANGE`."""
    if model.attention == "softmax":
        return np.union1d(np.linspace(*S_RANGE, n), [0.0])
    return np.concatenate([[0.0], np.geomspace(*M_RANGE, n)])


@dataclass
class Minimum:
    x: float
    F: float
    point: bool  # a non-smooth point minimum: the boundary m = 0 or the MAP kink s = 0


def _point_minimum(model: Model, x0: float) -> bool:
    return x0 == 0.0 and (model.attention == "linear" or (model.objective == "map" and model.prior == "qk"))


def point_is_minimum(model: Model, alpha: float) -> bool:
    """Is the non-smooth point ``x = 0`` (``m = 0`` of linear attention, the MAP kink ``s = 0``) a
    local minimum? One-sided probes ``F(+-h) > F(0)``: ``h = 1e-9/(1 + g)`` for linear attention
    (well below the scale ``1/sqrt(g)`` on which ``F`` varies in ``m``), ``h = 1e-6`` for the kink."""
    if model.attention == "linear":  # F(0) = 0 exactly, so F(h) carries no cancellation
        h, sides = 1e-9 / (1.0 + model.sigma2 * alpha), (1.0,)
    else:  # F(0) != 0: a fixed small step
        h, sides = 1e-6, (-1.0, 1.0)
    F0 = free_energy(model, 0.0, alpha)
    sides = tuple(h * z for z in sides)
    return all(free_energy(model, z, alpha) > F0 for z in sides)


def grid_minima(model: Model, alpha: float, xs: np.ndarray, refine: bool = True) -> tuple:
    """``(minima, edge)``: local minima of ``F(., alpha)`` on ``xs`` (refined by Brent on ``F``),
    and whether one sits on the outer edge of the grid (unresolved). The point ``x = 0`` of
    linear attention and of MAP qk softmax is tested by :func:`point_is_minimum`."""
    F = free_energy(model, xs, alpha)
    out = []
    interior = np.nonzero((F[1:-1] < F[:-2]) & (F[1:-1] <= F[2:]))[0] + 1
    edge = bool(F[-1] < F[-2]) or (model.attention == "softmax" and bool(F[0] < F[1]))
    if _point_minimum(model, 0.0) and point_is_minimum(model, alpha):
        out.append(Minimum(0.0, float(free_energy(model, 0.0, alpha)), True))
    for i in interior:
        x0 = xs[i]
        if _point_minimum(model, x0):
            continue
        f0 = float(F[i])
        if refine:
            x0, f0 = _brent(model, alpha, xs[i - 1], xs[i + 1], x0, f0)
        out.append(Minimum(float(x0), f0, False))
    if not out:  # degenerate (e.g. exactly at a critical point, quartic minimum): the grid's global minimum
        i = int(np.argmin(F))
        if _point_minimum(model, xs[i]):
            out.append(Minimum(0.0, float(F[i]), True))
        elif 0 < i < len(xs) - 1:
            out.append(Minimum(*_brent(model, alpha, xs[i - 1], xs[i + 1], xs[i], float(F[i])), False))
    return out, edge


def _brent(model, alpha, lo, hi, x0, f0):
    """Minimiser of ``F(., alpha)`` in ``[lo, hi]`` from values of ``F`` only: bounded Brent
    minimisation (``x`` to ~sqrt(machine eps)), then polished by brentq on the central difference
    ``(F(x+h) - F(x-h))/2h`` (``x`` to ~1e-10). Kept only if ``F`` does not increase."""
    f = lambda z: float(free_energy(model, z, alpha))
    res = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13 * max(1.0, abs(x0))})
    x, fx = (float(res.x), float(res.fun)) if res.fun <= f0 else (float(x0), float(f0))
    h = 1e-6 * max(1e-3, abs(x)) if model.attention == "linear" else 1e-6 * max(1.0, abs(x))
    D = lambda z: (f(z + h) - f(z - h)) / (2 * h)
    w = 50 * h
    a, b = (max(x - w, 2 * h) if model.attention == "linear" else x - w), x + w
    if a < b and D(a) < 0 < D(b):
        xp = brentq(D, a, b, xtol=1e-300, rtol=1e-15)
        fp = f(xp)
        if fp <= fx + 1e-15 * abs(fx):
            return xp, fp
    return x, fx


def _nearest(mins, x):
    return min(mins, key=lambda q: abs(q.x - x)) if mins else None


def _exists_near(model: Model, alpha: float, x_ref: float, width: float, point: bool, n: int = 4001):
    """The local minimum near ``x_ref`` at ``alpha`` (zoomed grid of half-width ``width``), or None."""
    if point:
        return Minimum(0.0, float(free_energy(model, 0.0, alpha)), True) if point_is_minimum(model, alpha) else None
    lo, hi = x_ref - width, x_ref + width
    if model.attention == "linear":
        lo = max(lo, 0.0)
    xs = np.linspace(lo, hi, n)
    if model.attention == "softmax" and lo < 0.0 < hi:
        xs = np.union1d(xs, [0.0])
    F = free_energy(model, xs, alpha)
    idx = np.nonzero((F[1:-1] < F[:-2]) & (F[1:-1] <= F[2:]))[0] + 1
    idx = [i for i in idx if not _point_minimum(model, xs[i])]
    if not idx:
        return None
    i = min(idx, key=lambda j: abs(xs[j] - x_ref))
    return Minimum(float(xs[i]), float(F[i]), False)


def _spinodal(model: Model, a_in: float, a_out: float, q: Minimum, width: float, rtol: float = 1e-9) -> float:
    """Bisection between ``a_in`` (minimum ``q`` exists) and ``a_out`` (it does not), following the
    minimum with a grid of 4001 points zoomed onto it (re-centred and shrunk by 3/4 whenever it is
    found: near a fold the minimum-saddle distance shrinks like sqrt(alpha - alpha_fold))."""
    x_ref = q.x
    while abs(a_out - a_in) > rtol * abs(a_in):
        mid = math.sqrt(a_in * a_out)
        got = _exists_near(model, mid, x_ref, width, q.point)
        if got is not None:
            a_in, x_ref = mid, got.x
            width = max(0.75 * width, 1e-7 * max(1.0, abs(x_ref)))
        else:
            a_out = mid
    return math.sqrt(a_in * a_out)


@dataclass
class BruteForce:
    """What the dense scan finds (``kind`` and the alphas; None where there is none)."""

    kind: str
    alpha_c: float | None = None
    alpha_spinodal_low: float | None = None
    alpha_spinodal_high: float | None = None
    m_below: float | None = None
    m_above: float | None = None
    unresolved: list = field(default_factory=list)  # reasons the grids could not decide something
    n_transitions: int = 0
    alpha_grid: tuple = ()
    alpha_step: float = 0.0  # relative spacing of the alpha grid

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("kind", "alpha_c", "alpha_spinodal_low", "alpha_spinodal_high",
                                             "m_below", "m_above", "unresolved", "n_transitions", "alpha_step")}


def alpha_scan_range(model: Model) -> tuple:
    """``(lo, hi)``: ``1e-3`` to ``100 max(100, nu T^2, 1/sigma2, T/sigma2)``, chosen from the
    model's scales (not from the solver): the uniform softmax state lasts to ``~ nu T^2``, and
    ``g = sigma2 alpha`` is ``O(1)`` at ``1/sigma2``."""
    T, nu, s2 = model.T, model.nu, model.sigma2
    return 1e-3, 100.0 * max(100.0, nu * T * T, 1.0 / s2, T / s2)


class _Unresolved(RuntimeError):
    pass


def _refined(model, a, q: Minimum) -> tuple:
    """``(F, x)`` at the minimum near ``q`` at alpha ``a`` (bounded Brent on ``F``; point minima exact)."""
    if q.point:
        return float(free_energy(model, 0.0, a)), 0.0
    h = 1e-2 * max(1e-3, abs(q.x)) if model.attention == "linear" else 0.05
    lo = max(q.x - h, 0.0) if model.attention == "linear" else q.x - h
    x, f = _brent(model, a, lo, q.x + h, q.x, float(free_energy(model, q.x, a)))
    return f, x


def _assign(mm, q: Minimum, other: Minimum):
    """The minimum of ``mm`` continuing ``q`` while ``other`` is continued by a different one
    (nearest-neighbour assignment of the two tracks); None if ``q`` has no distinct continuation."""
    o = _nearest([c for c in mm if c.point == other.point], other.x)
    cands = [c for c in mm if c is not o and c.point == q.point]
    c = _nearest(cands, q.x)
    if c is None or (o is not None and abs(c.x - other.x) < abs(c.x - q.x) and abs(o.x - q.x) < abs(o.x - other.x)):
        return None
    return c


def _follow(model, alphas, mins, i0, q0, other0, step):
    """Follow minimum ``q0`` (present at alphas[i0], beside ``other0``) along the grid in direction
    ``step`` until it vanishes, then bisect the vanishing point with a zoomed grid. None if it
    survives to the end of the alpha grid."""
    q, o, i = q0, other0, i0
    while 0 <= i + step < len(alphas):
        j = i + step
        c = _assign(mins[j], q, o)
        if c is None:
            width = 0.5 if model.attention == "softmax" else 0.5 * max(q.x, 1e-6)
            return _spinodal(model, alphas[i], alphas[j], q, width)
        o = _nearest([d for d in mins[j] if d is not c and d.point == o.point], o.x) or o
        q, i = c, j
    return None


def _first_order(model, alphas, mins, i, xs):
    """Coexistence and spinodals of the switch of the global minimum between alphas[i] and alphas[i+1]."""
    A = min(mins[i], key=lambda q: q.F)
    B = min(mins[i + 1], key=lambda q: q.F)

    def pair(a):
        mm, _ = grid_minima(model, a, xs, refine=False)
        qa, qb = _assign(mm, A, B), _assign(mm, B, A)
        if qa is None or qb is None:
            raise _Unresolved(f"a minimum of the switch near alpha={a:.6g} vanished inside its bracket")
        return qa, qb

    def dF(a):
        qa, qb = pair(a)
        return _refined(model, a, qb)[0] - _refined(model, a, qa)[0]

    lo, hi = alphas[i], alphas[i + 1]
    f_lo, f_hi = dF(lo), dF(hi)
    if f_lo * f_hi > 0:  # a near-tie at a grid end: the refined values put the crossing just outside
        lo, hi = alphas[max(i - 1, 0)], alphas[min(i + 2, len(alphas) - 1)]
        f_lo, f_hi = dF(lo), dF(hi)
        if f_lo * f_hi > 0:
            raise _Unresolved(f"no sign change of Delta F around the switch at alpha={alphas[i]:.6g}")
    ac = brentq(dF, lo, hi, xtol=1e-300, rtol=1e-13)
    qa, qb = pair(ac)
    m_below, m_above = (float(m_of(model, _refined(model, ac, q)[1])) for q in (qa, qb))
    sp_lo = _follow(model, alphas, mins, i + 1, B, _assign(mins[i + 1], A, B) or A, -1)
    sp_hi = _follow(model, alphas, mins, i, A, _assign(mins[i], B, A) or B, +1)
    return ac, sp_lo, sp_hi, m_below, m_above


def _switch(mi, mj) -> bool:
    """Does the global minimum jump between two distinct minima from ``mi`` to ``mj`` (both present
    at both alphas; nearest-neighbour continuation)?"""
    A, B = min(mi, key=lambda q: q.F), min(mj, key=lambda q: q.F)
    nA = _nearest([c for c in mj if c.point == A.point], A.x)  # A continued at the second alpha
    nB = _nearest([c for c in mi if c.point == B.point], B.x)  # B continued back at the first alpha
    return nA is not None and nB is not None and nA is not B and nB is not A


def _scan(model, alphas, xs, levels=2, n_insert=30):
    """Minima at every alpha; intervals where the number of minima changes, the global minimum
    switches or changes type are refined ``levels`` times with ``n_insert`` log-spaced alphas."""
    alphas = list(alphas)
    mins = [grid_minima(model, a, xs) for a in alphas]
    for _ in range(levels):
        new_a, new_m, changed = [alphas[0]], [mins[0]], False
        for i in range(len(alphas) - 1):
            (mi, _), (mj, _) = mins[i], mins[i + 1]
            gi = min(mi, key=lambda q: q.F) if mi else None
            gj = min(mj, key=lambda q: q.F) if mj else None
            if len(mi) != len(mj) or (gi and gj and (gi.point != gj.point or _switch(mi, mj))):
                ins = np.geomspace(alphas[i], alphas[i + 1], n_insert + 2)[1:-1]
                new_a += list(ins)
                new_m += [grid_minima(model, a, xs) for a in ins]
                changed = True
            new_a.append(alphas[i + 1])
            new_m.append(mins[i + 1])
        alphas, mins = new_a, new_m
        if not changed:
            break
    return np.array(alphas), [m for m, _ in mins], [e for _, e in mins]


def brute_force_transition(model: Model, per_decade: int = 40, n_x: int = 6000, extra_alphas=()) -> BruteForce:
    """Kind, ``alpha_c``, spinodals and jump of ``model`` by direct evaluation (see module doc).

    ``extra_alphas``: further grid points (e.g. a fine grid around where another method puts
    something); the result does not depend on them except through resolution. ``alpha_step`` of
    the result is the coarsest relative spacing of the (adaptively refined) alpha grid near the
    transition it reports.
    """
    lo, hi = alpha_scan_range(model)
    base = np.geomspace(lo, hi, int(per_decade * math.log10(hi / lo)) + 1)
    extra = np.asarray(extra_alphas, float)
    extra = extra[(extra > lo) & (extra < hi)]
    alphas = np.unique(np.concatenate([base, extra]))
    xs = x_grid(model, n_x)
    alphas, mins, edges = _scan(model, alphas, xs)
    bf = BruteForce("none", alpha_grid=(lo, hi), alpha_step=10 ** (1 / per_decade) - 1)
    if any(edges):
        bad = alphas[np.array(edges)]
        bf.unresolved.append(f"a minimum on the edge of the x grid at alpha in [{bad.min():.4g}, {bad.max():.4g}]")
    if any(len(m) == 0 for m in mins):
        bf.unresolved.append("no minimum found at some alpha")
        return bf
    glob = [min(m, key=lambda q: q.F) for m in mins]
    jumps = [i for i in range(len(alphas) - 1) if _switch(mins[i], mins[i + 1])]
    bf.n_transitions = len(jumps)
    if jumps:
        i = jumps[0]
        bf.alpha_step = alphas[i + 1] / alphas[i] - 1
        try:
            ac, sp_lo, sp_hi, mb, ma = _first_order(model, alphas, mins, i, xs)
        except _Unresolved as exc:
            bf.unresolved.append(str(exc))
            return bf
        bf.kind, bf.alpha_c, bf.alpha_spinodal_low, bf.alpha_spinodal_high = "first-order", ac, sp_lo, sp_hi
        bf.m_below, bf.m_above = mb, ma
        return bf
    if model.attention == "linear":
        crit = _second_order(model, alphas, glob, xs)
        if isinstance(crit, str):
            bf.unresolved.append(crit)
            return bf
        if crit is not None:
            bf.kind, bf.alpha_c, bf.m_below, bf.m_above = "second-order", crit, 0.0, 0.0
            return bf
    cross = _crossover(model, alphas, glob, xs)
    if isinstance(cross, str):
        bf.unresolved.append(cross)
    elif cross is not None:
        bf.kind, bf.alpha_c = "crossover", cross[0]
        bf.m_below = bf.m_above = cross[1]
    return bf


def _second_order(model, alphas, glob, xs):
    """Alpha where ``m = 0`` stops being a local minimum while it is the global one, with the new
    global minimum growing continuously from ``m = 0``; a string if the global minimum jumps
    there instead (a first-order window narrower than the alpha grid)."""
    for i in range(len(alphas) - 1):
        if glob[i].point and not glob[i + 1].point:
            hi = alphas[i + 1]
            # the last alpha where the probe still sees m = 0 as a minimum (exactly at the critical point
            # the quadratic term is rounding noise and the probe cannot decide)
            below = [alphas[k] for k in range(i, max(i - 4, -1), -1) if point_is_minimum(model, alphas[k])]
            if not below or point_is_minimum(model, hi):
                return None
            lo = below[0]
            while hi - lo > 1e-13 * hi:
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if point_is_minimum(model, mid) else (lo, mid)
            ac = 0.5 * (lo + hi)
            m_up = _global_m(model, ac * (1 + 1e-6), xs)
            m_scale = 1.0 / math.sqrt(1.0 + model.sigma2 * ac)  # m of the ordered state is O(this)
            if m_up > 0.05 * m_scale:
                return (f"m = 0 loses stability at alpha={ac:.6g} with a jump of the global minimum to m={m_up:.3g}: "
                        "a first-order window narrower than the alpha grid")
            return ac
    return None


def _global_m(model, a, xs_ref):
    mm, _ = grid_minima(model, a, xs_ref)
    q = min(mm, key=lambda q: q.F)
    return float(m_of(model, q.x))


def _inflection_fit(al, m, centre, half):
    """Inflection of a cubic least-squares fit of ``m(alpha)`` on ``|alpha/centre - 1| <= half``."""
    sel = np.abs(al / centre - 1.0) <= half
    if sel.sum() < 8:
        return None
    u = al[sel] / centre - 1.0
    c = np.polyfit(u, m[sel], 3)
    if c[0] == 0:
        return None
    return centre * (1.0 - c[1] / (3.0 * c[0]))


def _crossover(model, alphas, glob, xs, n_fine=481, rtol=3e-4):
    """Interior maximum of ``dm/dalpha`` of the global minimum: the inflection of ``m(alpha)``.

    ``m`` of the (polished) global minimum on a fine grid (+-10 % around the coarse maximum of
    ``dm/dalpha``); the inflection of cubic fits on windows of +-0.25, 0.5 and 1 % re-centred on it,
    extrapolated to zero width (Richardson, bias ~ width^2) from two pairs of windows. A string
    says why it cannot be located to ``rtol`` (the extrapolations disagree, or it leaves the grid)."""
    m = np.array([float(m_of(model, g.x)) for g in glob])
    if np.max(np.abs(np.diff(m))) < 1e-9:
        return None
    dm = np.gradient(m, alphas)
    i = int(np.argmax(dm))
    if i <= 1 or i >= len(alphas) - 2 or dm[i] <= 0:
        return None
    centre = alphas[i]
    for _ in range(3):
        fine = np.geomspace(centre / 1.1, centre * 1.1, n_fine)
        mf = np.array([_global_m(model, a, xs) for a in fine])
        d1 = np.gradient(mf, fine)
        j = int(np.argmax(d1))
        if 20 <= j <= n_fine - 21:
            break
        centre = fine[j]
    else:
        return "crossover: maximum of dm/dalpha not bracketed by the fine grid"
    fits = {}
    for half in (0.0025, 0.005, 0.01):  # cubic fits re-centred on their own inflection
        c = fine[j]
        for _ in range(4):
            c = _inflection_fit(fine, mf, c, half)
            if c is None or not fine[0] < c < fine[-1]:
                return "crossover: inflection fit leaves the fine grid"
        fits[half] = c
    # the fit's bias is O(half^2) (quartic terms of m): Richardson extrapolation from two pairs
    est = [(4 * fits[0.0025] - fits[0.005]) / 3, (4 * fits[0.005] - fits[0.01]) / 3]
    if abs(est[0] - est[1]) > rtol * est[0]:
        return f"crossover: inflection of m(alpha) not located to {rtol:g} (fits give {est[0]:.6g}, {est[1]:.6g})"
    return est[0], _global_m(model, est[0], xs)


# ----------------------------------------------------------------------------- solver check

QUANTITIES = ("alpha_c", "alpha_spinodal_low", "alpha_spinodal_high")


def random_model(rng: np.random.Generator) -> Model:
    """A random point of the parameter space of the harness: attention, prior, objective uniform;
    ``T`` log-uniform integer in [2, 1e4]; ``nu`` in [0.05, 5], ``sigma2`` in [0.01, 3], ``kappa`` in
    [0.1, 10], all log-uniform (``kappa`` does not enter at ``V = inf``)."""
    lu = lambda lo, hi: float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return Model(attention=str(rng.choice(["softmax", "linear"])), prior=str(rng.choice(["qk", "gaussian"])),
                 objective=str(rng.choice(["posterior", "map"])), T=int(round(lu(2, 1e4))),
                 nu=lu(0.05, 5.0), sigma2=lu(0.01, 3.0), kappa=lu(0.1, 10.0))


def _rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def check_solver(model: Model, rtol: float = 1e-3, refine_near_solver: bool = True) -> dict:
    """Compare :func:`~copyhead.numerics.solve.solve` (automatic window) with the brute force.

    Returns a dict with ``status`` (``"pass"``, ``"fail"`` or ``"unresolved"``), the relative
    deviations per quantity, both results and the reasons. The brute-force alpha grid is refined
    (relative spacing 1e-3) around the alphas the solver reports (``refine_near_solver``) -- this
    only sharpens the resolution; both results are computed independently. A bistable window narrower than
    ``rtol`` (relative) cannot be told from a crossover at this tolerance: if the two methods
    disagree on the kind only through such a window the point is ``"unresolved"``, as is any
    point where the brute force reports something it could not resolve.
    """
    from .continuation import ContinuationError
    from .solve import solve

    out = {"model": model.to_dict(), "status": "pass", "reasons": [], "deviation": {}}
    try:
        t = solve(model).transition
    except ContinuationError as exc:
        out.update(status="fail", reasons=[f"solver error: {exc}"])
        return out
    sv = t.to_dict()
    extra = [np.geomspace(a / 1.05, a * 1.05, 97) for a in (t.alpha_c, t.alpha_spinodal_low, t.alpha_spinodal_high)
             if a is not None and refine_near_solver]
    out["solver"] = sv
    try:
        bf = brute_force_transition(model, extra_alphas=np.concatenate(extra) if extra else ())
    except Exception as exc:  # noqa: BLE001 -- a brute-force failure is reported, never a pass
        out.update(status="unresolved", reasons=[f"brute force failed: {type(exc).__name__}: {exc}"])
        return out
    out["brute_force"] = bf.to_dict()
    if bf.unresolved:
        out["status"] = "unresolved"
        out["reasons"] += bf.unresolved
        return out
    if t.kind != bf.kind:
        narrow = lambda lo, hi: lo is not None and hi is not None and (hi - lo) < rtol * hi
        if {t.kind, bf.kind} == {"first-order", "crossover"} and (
                narrow(t.alpha_spinodal_low, t.alpha_spinodal_high)
                or narrow(bf.alpha_spinodal_low, bf.alpha_spinodal_high)):
            out["status"] = "unresolved"
            out["reasons"].append(f"kinds {t.kind} / {bf.kind} differ only by a bistable window narrower than {rtol:g}")
        else:
            out["status"] = "fail"
            out["reasons"].append(f"kind: solver {t.kind}, brute force {bf.kind}")
        return out
    for q in QUANTITIES:
        a, b = sv[q], getattr(bf, q)
        if (a is None) != (b is None):
            out["status"] = "fail"
            out["reasons"].append(f"{q}: solver {a}, brute force {b}")
            continue
        if a is None:
            continue
        d = _rel(a, b)
        out["deviation"][q] = d
        if d > rtol:
            out["status"] = "fail"
            out["reasons"].append(f"{q}: solver {a:.10g}, brute force {b:.10g} (relative {d:.2g} > {rtol:g})")
    for q in ("m_below", "m_above"):  # reported, not part of the pass criterion
        a, b = sv[q], getattr(bf, q)
        if a is not None and b is not None:
            out["deviation"][q + "_abs"] = abs(a - b)
    return out
