"""Saddle-point solver: branches, spinodals, coexistence, critical points, classification.

``solve(model)`` finds the alpha range automatically (a log scan wide enough for the spinodals of
large ``T``, which lie decades apart), traces every stationary branch of the reduced free energy
(``numerics.branches``; continuation in ``log alpha``), and classifies the transition in alpha:

* ``"first-order"``: two stable branches coexist; ``alpha_c`` is where their free energies
  cross (root of ``Delta F``), the spinodals are the ends of the coexistence window (folds, or
  the point where ``m = 0`` loses stability for a subcritical linear pitchfork);
* ``"second-order"``: ``m = 0`` loses stability at ``alpha_c`` (``F_u(0, alpha_c) = 0``; closed
  form ``(1 + sqrt(1 + 4 nu T/sigma2))/2`` for the posterior) while it is the global minimum, and
  the ordered branch grows continuously from it;
* ``"crossover"``: no coexistence and no critical point, but ``m(alpha)`` of the global minimum
  has an interior inflection (``d2m/dalpha2`` from + to -, from analytic derivatives along the
  branch): ``alpha_c`` is where ``dm/dalpha`` is largest;
* ``"none"``: nothing of the above inside the window (only possible for a user window).

With a user window only what lies strictly inside it is reported (a spinodal beyond it is None).
Every point carries its relative residual (a backward error, see ``numerics.continuation``);
``Result.converged`` says whether all of them meet their tolerances; a step that cannot be
completed raises :class:`numerics.continuation.ContinuationError`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from copyhead.theory.landau import critical_alpha, landau_b
from copyhead.theory.model import Model, ParameterError

from .branches import _EPS_SIDE, Branch, all_branches, x_grid
from .continuation import RTOL_ACCEPT, ContinuationError, check_finite
from .kernels import Kernel


TRANSITION_KINDS = ("first-order", "second-order", "crossover", "none")
RTOL_TRANSITION = 1e-8
"""Largest relative error of ``alpha_c`` (its residual) for which a result counts as converged."""


@dataclass
class Transition:
    """The transition found inside the analysed alpha window.

    ``kind`` is ``"first-order"``, ``"second-order"``, ``"crossover"`` or ``"none"`` (no
    transition inside the window: ``alpha_c``, ``m_below`` and ``m_above`` are None). A quantity
    that lies outside the window (e.g. a spinodal beyond a user's ``--alpha-max``) is None.
    ``residual`` is the relative error of ``alpha_c`` estimated from its defining equation
    (one Newton correction ``|g/(alpha g')|`` of ``g = Delta F`` at coexistence, ``g = F_u(0+)``
    at a critical point, ``g = d2m/dalpha2`` at a crossover); None for ``"none"``.
    """

    kind: str
    alpha_c: float | None
    alpha_spinodal_low: float | None
    alpha_spinodal_high: float | None
    m_below: float | None
    m_above: float | None
    residual: float | None

    def to_dict(self) -> dict:
        return {
            "transition": self.kind,
            "alpha_c": self.alpha_c,
            "alpha_spinodal_low": self.alpha_spinodal_low,
            "alpha_spinodal_high": self.alpha_spinodal_high,
            "m_below": self.m_below,
            "m_above": self.m_above,
            "residual": self.residual,
        }


@dataclass
class Result:
    model: Model
    alpha_range: tuple
    branches: list
    folds: list
    transition: Transition
    coexistence: list = field(default_factory=list)  # all (alpha, residual) crossings of stable branches
    landau_b: float | None = None
    converged: bool = True
    alpha_range_automatic: bool = True
    max_residual: float = 0.0  # largest relative residual of any branch point, fold or alpha_c

    def stable_branches(self):
        return [b for b in self.branches if b.stable]

    def to_dict(self) -> dict:
        d = {
            "model": self.model.to_dict(),
            **self.transition.to_dict(),
            "landau_b": self.landau_b,
            "alpha_range": list(self.alpha_range),
            "alpha_range_automatic": self.alpha_range_automatic,
            "folds": [{"alpha": f.alpha, "x": f.x, "m": float(Kernel(self.model).m_of_x(f.x)), "residual": f.residual}
                      for f in self.folds],
            "coexistence": [{"alpha": a, "residual": r} for a, r in self.coexistence],
            "branches": [b.summary() for b in self.branches],
            "converged": self.converged,
            "max_residual": self.max_residual,
            "residuals_are": "relative (backward errors: relative change of x or alpha that makes the point exact)",
        }
        check_finite(d)
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)


# ----------------------------------------------------------------------------- alpha range


def _minima_on_grid(k: Kernel, xs: np.ndarray, alphas: np.ndarray):
    """Per alpha: number of local minima of F on the grid, and m of the global minimum."""
    G = k.grid(xs, alphas)
    F, Fx = G[:, :, 0], G[:, :, 1]
    d = k.domain
    nmin = np.zeros(len(alphas), int)
    mglob = np.zeros(len(alphas))
    for i in range(len(alphas)):
        cand = list(np.nonzero((Fx[i, :-1] < 0) & (Fx[i, 1:] >= 0))[0])
        if d.kink is not None:  # a sign change across the kink is the kink itself, handled below
            cand = [j for j in cand if not (xs[j] < d.kink < xs[j + 1])]
        # the root of F_x between the two grid points (linear interpolation): m varies continuously
        # with alpha instead of in grid quanta, so the steepest rise of m is found where it is
        cand_x = [xs[j] - Fx[i, j] * (xs[j + 1] - xs[j]) / (Fx[i, j + 1] - Fx[i, j])
                  if np.isfinite(Fx[i, j]) and np.isfinite(Fx[i, j + 1]) else xs[j] for j in cand]
        cand_F = [min(F[i, j], F[i, j + 1]) for j in cand]
        if d.boundary_point is not None and (d.boundary_always_stable or Fx[i, 0] > 0):  # m = 0 is a minimum
            cand_x.append(xs[0])
            cand_F.append(F[i, 0])
        if d.kink is not None:
            fp = k(d.kink + _EPS_SIDE, alphas[i])[1]
            fm = k(d.kink - _EPS_SIDE, alphas[i])[1]
            if fm < 0 < fp:
                cand_x.append(d.kink)
                cand_F.append(k.F(d.kink, alphas[i]))
        nmin[i] = len(cand_x)
        mglob[i] = k.m_of_x(cand_x[int(np.argmin(cand_F))]) if cand_x else np.nan
    return nmin, mglob


def scan_top(model: Model) -> float:
    """Upper end of the first alpha scan: 10x the largest natural scale of the model.

    The scale is the alpha where the uniform softmax state stops being a minimum
    (:func:`copyhead.theory.scaling.uniform_spinodal_map`, ``~ nu T^2`` at large ``T``), which
    bounds every transition and spinodal of both attentions (linear ones sit at
    ``~ sqrt(nu T / sigma2)``); at least ``1e5``.
    """
    from copyhead.theory.scaling import uniform_spinodal_map

    return 10.0 * max(1e4, uniform_spinodal_map(model.T, model.nu, model.sigma2))


def find_alpha_range(k: Kernel, lo: float = 1e-3, hi: float | None = None, per_decade: int = 20) -> tuple:
    """An alpha window that contains the transition and every spinodal, from a log scan of the minima.

    The scan runs from ``lo`` to ``hi`` (default :func:`scan_top`, extended by factors of 100 while
    its top still has several minima, at most twice) with ``per_decade`` points per decade. Points
    of interest: the largest jump of the global-minimum ``m`` and its steepest rise in alpha (the
    transition or crossover), every
    alpha where the number of local minima changes (spinodals, however far apart), and for linear
    attention the point where ``m = 0`` loses stability. The window brackets them with a factor 2
    on each side.
    """
    hi = scan_top(k.model) if hi is None else hi
    xs = x_grid(k, 500)
    for _ in range(3):
        alphas = np.geomspace(lo, hi, int(per_decade * math.log10(hi / lo)) + 1)
        nmin, mglob = _minima_on_grid(k, xs, alphas)
        if nmin[-1] <= 1 or k.domain.boundary_always_stable:
            break
        hi *= 100.0
    if np.any(np.isnan(mglob)):
        raise ContinuationError("no minimum of F found on the scan grid for some alpha")
    dm = np.abs(np.diff(mglob))
    i = int(np.argmax(dm))
    if dm[i] == 0:
        raise ContinuationError("global-minimum m is constant over the scan: no transition to analyse")
    i2 = int(np.argmax(dm / np.diff(alphas)))  # steepest dm/dalpha (a broad crossover peaks below the largest dm/dlog alpha)
    pts = [alphas[i], alphas[i + 1], alphas[i2], alphas[i2 + 1]]
    for j in np.nonzero(np.diff(nmin))[0]:
        pts += [alphas[j], alphas[j + 1]]
    if k.model.attention == "linear" and not k.domain.boundary_always_stable:
        f = lambda a: k(_EPS_SIDE, a)[1]
        v = np.array([f(a) for a in alphas])
        ch = np.nonzero(np.sign(v[:-1]) != np.sign(v[1:]))[0]
        if len(ch):
            pts.append(brentq(f, alphas[ch[0]], alphas[ch[0] + 1], xtol=1e-300, rtol=1e-14))
    return (min(pts) / 2.0, max(pts) * 2.0)


# ----------------------------------------------------------------------------- transitions


def _newton_error(g, alpha: float, lo: float, hi: float, rel_h: float = 1e-6, adapt: bool = False) -> float:
    """Relative error of a root ``alpha`` of ``g`` from one Newton correction ``|g/(alpha g')|``
    (``g'`` by a central difference inside ``[lo, hi]``).

    With ``adapt`` the step starts at ``rel_h * alpha`` and shrinks by 10 until two successive
    slopes agree to 1 % (at most down to ``1e-10 alpha``): a feature narrower than ``rel_h`` (a
    crossover next to a critical end point, where ``d2m/dalpha2`` turns over on a scale of
    ``1e-6 alpha``) would otherwise get a slope averaged over it. If they never agree, the larger
    of the last two estimates is returned (the conservative one).
    """
    val = g(alpha)
    if val == 0.0:
        return 0.0

    def err(h):
        a0, a1 = max(lo, alpha - h), min(hi, alpha + h)
        if a1 <= a0:
            return math.inf, math.nan
        slope = (g(a1) - g(a0)) / (a1 - a0)
        return (abs(val / (alpha * slope)) if slope != 0 else math.inf), slope

    h = rel_h * alpha
    e, s = err(h)
    while adapt and h > 1e-10 * alpha:
        e2, s2 = err(h / 10.0)
        if abs(s2 - s) <= 0.01 * abs(s2):
            return e2
        h, e, e_prev, s = h / 10.0, e2, e, s2
        if h <= 1e-10 * alpha:
            return max(e, e_prev)
    return e


def _coexistence(k: Kernel, stable: list):
    """All alphas where two stable branches have equal F and are both global minima there."""
    out = []
    for i in range(len(stable)):
        for j in range(i + 1, len(stable)):
            bi, bj = stable[i], stable[j]
            lo, hi = max(bi.alpha_min, bj.alpha_min), min(bi.alpha_max, bj.alpha_max)
            if hi - lo <= 1e-8 * hi:  # branches that only touch (e.g. at a pitchfork) do not coexist
                continue
            grid = np.geomspace(lo, hi, 81)
            dF = lambda a: bi.F_at(k, a) - bj.F_at(k, a)
            v = np.array([dF(a) for a in grid])
            for n in np.nonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)[0]:
                ac = brentq(dF, grid[n], grid[n + 1], xtol=1e-300, rtol=1e-15, maxiter=200)
                if abs(bi.x_at(k, ac) - bj.x_at(k, ac)) < 1e-6:
                    continue  # the same point: branches meeting, not two phases
                Fc = bi.F_at(k, ac)
                others = [b.F_at(k, ac) for b in stable if b is not bi and b is not bj and b.covers(ac)]
                if all(Fo > Fc for Fo in others):
                    out.append((ac, _newton_error(dF, ac, lo, hi), bi, bj))
    out.sort(key=lambda t: t[0])
    return out


def _global_branch(k: Kernel, stable: list, alpha: float) -> Branch:
    cands = [b for b in stable if b.covers(alpha)]
    if not cands:
        raise ContinuationError(f"no stable branch at alpha={alpha:.6g}")
    return min(cands, key=lambda b: b.F_at(k, alpha))


def _inside(a, alpha_range, which):
    """``a`` if it lies strictly inside the window (not at the ``which`` edge), else None."""
    lo, hi = alpha_range
    if a is None or (which == "low" and a <= lo * (1 + 1e-9)) or (which == "high" and a >= hi * (1 - 1e-9)):
        return None
    return float(a)


def _spinodals(bi: Branch, bj: Branch, alpha_range) -> tuple:
    """Ends of the coexistence interval of two stable branches (None where it is a window edge)."""
    lo, hi = max(bi.alpha_min, bj.alpha_min), min(bi.alpha_max, bj.alpha_max)
    return _inside(lo, alpha_range, "low"), _inside(hi, alpha_range, "high")


def _first_order(k: Kernel, coex, alpha_range) -> Transition:
    ac, res, bi, bj = coex[0]
    eps = 1e-7 * ac
    below = _global_branch(k, [bi, bj], ac - eps) if min(bi.alpha_min, bj.alpha_min) < ac - eps else bi
    above = bj if below is bi else bi
    sp_lo, sp_hi = _spinodals(bi, bj, alpha_range)
    m_b, m_a = float(k.m_of_x(below.x_at(k, ac))), float(k.m_of_x(above.x_at(k, ac)))
    return Transition("first-order", ac, sp_lo, sp_hi, m_b, m_a, res)


def _critical_point(k: Kernel, branches: list, alpha_range) -> Transition | None:
    """Second order: the symmetric branch loses stability strictly inside the window while it is
    the global minimum (the ordered branch grows continuously from it)."""
    sym = [b for b in branches if b.kind == "symmetric"]
    stable = [b for b in branches if b.stable]
    for b1 in sym:
        for b2 in sym:
            if b1.stable and not b2.stable and abs(b1.alpha_max - b2.alpha_min) < 1e-9 * b1.alpha_max:
                ac = b1.alpha_max
                if _inside(ac, alpha_range, "high") is None or _inside(ac, alpha_range, "low") is None:
                    continue
                if _global_branch(k, stable, ac * (1 - 1e-7)) is not b1:
                    continue
                d = k(_EPS_SIDE, ac)
                res = abs(d[1] / (ac * d[4])) if d[4] != 0 else math.inf
                return Transition("second-order", ac, None, None, 0.0, 0.0, res)
    return None


def _crossover(k: Kernel, stable: list, alpha_range) -> Transition | None:
    """Crossover: an interior maximum of ``dm/dalpha`` (a root of ``d2m/dalpha2`` going from + to -)
    on a smooth stable branch that is the global minimum there. None if ``m(alpha)`` has no
    inflection inside the window (e.g. a window on one side of the transition)."""
    best = None
    for b in stable:
        if b.kind != "smooth" or b.alpha_max <= b.alpha_min * (1 + 1e-9):
            continue
        grid = np.geomspace(b.alpha_min, b.alpha_max, 201)[1:-1]
        g = lambda a: b.slope_at(k, a)[1]
        v = np.array([g(a) for a in grid])
        for n in np.nonzero((v[:-1] > 0) & (v[1:] < 0))[0]:
            ac = brentq(g, grid[n], grid[n + 1], xtol=1e-300, rtol=1e-13, maxiter=200)
            if _global_branch(k, stable, ac) is not b:
                continue
            slope = b.slope_at(k, ac)[0]
            if best is None or slope * ac > best[1] * best[0]:
                best = (ac, slope, b, _newton_error(g, ac, b.alpha_min, b.alpha_max, 1e-4, adapt=True))
    if best is None:
        return None
    ac, _, b, res = best
    m = float(k.m_of_x(b.x_at(k, ac)))
    return Transition("crossover", ac, None, None, m, m, res)


def _no_transition(k: Kernel, stable: list, alpha_range) -> Transition:
    """No transition in the window; spinodals inside it are still reported (widest bistable pair)."""
    pairs = [(min(bi.alpha_max, bj.alpha_max) - max(bi.alpha_min, bj.alpha_min), bi, bj)
             for i, bi in enumerate(stable) for bj in stable[i + 1:]]
    pairs = [p for p in pairs if p[0] > 1e-8 * max(p[1].alpha_max, p[2].alpha_max)]
    sp_lo = sp_hi = None
    if pairs:
        _, bi, bj = max(pairs, key=lambda p: p[0])
        sp_lo, sp_hi = _spinodals(bi, bj, alpha_range)
    return Transition("none", None, sp_lo, sp_hi, None, None, None)


def _classify(k: Kernel, branches: list, alpha_range) -> tuple:
    """``(Transition, coexistence list)``: first order, else second order, else crossover, else none."""
    stable = [b for b in branches if b.stable]
    coex = _coexistence(k, stable)
    if coex:
        return _first_order(k, coex, alpha_range), [(a, r) for a, r, _, _ in coex]
    t = _critical_point(k, branches, alpha_range) or _crossover(k, stable, alpha_range)
    return (t or _no_transition(k, stable, alpha_range)), []


def _landau_b(model: Model, alpha_range) -> float | None:
    """Quartic Landau coefficient at the pitchfork of ``m = 0`` (linear attention; None for the
    MAP qk kink, for softmax, and when the pitchfork lies outside the window)."""
    if model.attention != "linear" or (model.prior == "qk" and model.objective == "map"):
        return None
    T, nu, s2 = model.T, model.nu, model.sigma2
    if model.objective == "posterior":
        a = critical_alpha(T, nu, s2)
        b = landau_b(T, nu, s2, a, model.prior)
    else:  # MAP gaussian: F = nu T u/2 + (alpha/2)/(1 + g u): a2 = 0 at alpha = sqrt(nu T)/sigma, b = alpha g^2/2
        a = math.sqrt(nu * T / s2)
        b = a * (s2 * a) ** 2 / 2.0
    return b if alpha_range[0] < a < alpha_range[1] else None


def solve(model: Model, alpha_range: tuple | None = None) -> Result:
    """Trace all stationary branches of the reduced free energy in alpha and classify the transition.

    Parameters
    ----------
    model : Model
        ``V`` must be None (the solver works at ``V = inf``); ``alpha`` is ignored (swept).
    alpha_range : (float, float), optional
        Window in alpha; found automatically when omitted (:func:`find_alpha_range`). With a
        given window, only what lies inside it is reported: a window without a transition gives
        ``kind = "none"``, and a spinodal beyond the window is None.

    Returns
    -------
    Result
        Branches (stable / unstable, with residuals), folds (spinodals), coexistence points and
        the classified transition. ``converged`` is False (and ``max_residual`` says by how much)
        if any accepted point misses its tolerance; a step that cannot be completed at all raises
        ``ContinuationError``.
    """
    if not isinstance(model, Model):
        raise ParameterError("model", type(model).__name__, "must be a theory.model.Model")
    if model.V is not None:
        raise ParameterError("V", model.V, "solve() works in the limit V -> inf; use V=None")
    k = Kernel(model)
    automatic = alpha_range is None
    if automatic:
        alpha_range = find_alpha_range(k)
        branches, folds = all_branches(k, alpha_range)
        transition, coex = _classify(k, branches, alpha_range)
        if transition.kind == "none":  # the scan's window missed a broad crossover: widen it once
            alpha_range = (alpha_range[0] / 4.0, alpha_range[1] * 4.0)
    else:
        try:
            a0, a1 = (float(a) for a in alpha_range)
        except (TypeError, ValueError):
            raise ParameterError("alpha_range", alpha_range, "must be two numbers 0 < lo < hi") from None
        if not (0 < a0 < a1 and math.isfinite(a1)):
            raise ParameterError("alpha_range", alpha_range, "must be two finite numbers 0 < lo < hi")
        alpha_range = (a0, a1)
    if not automatic or transition.kind == "none":
        branches, folds = all_branches(k, alpha_range)
        transition, coex = _classify(k, branches, alpha_range)
    worst = max([float(np.max(b.residual)) for b in branches] + [f.residual for f in folds] + [0.0])
    converged = (worst < 10 * RTOL_ACCEPT and all(f.converged for f in folds)
                 and (transition.residual is None or transition.residual < RTOL_TRANSITION))
    worst = max(worst, transition.residual or 0.0)
    res = Result(model, tuple(alpha_range), branches, folds, transition, coex, _landau_b(model, alpha_range),
                 converged=converged, alpha_range_automatic=automatic, max_residual=worst)
    res.to_dict()  # raises on any non-finite entry
    return res


def format_table(res: Result) -> str:
    """Readable table of a result (what ``copyhead solve`` prints)."""
    m = res.model
    t = res.transition
    fmt = lambda v: "-" if v is None else f"{v:.6f}"
    res_txt = "" if t.residual is None else f"   (relative residual {t.residual:.1e})"
    lines = [
        f"copyhead solve: attention={m.attention} prior={m.prior} objective={m.objective} "
        f"T={m.T} nu={m.nu:g} sigma2={m.sigma2:g} kappa={m.kappa:g}",
        f"  alpha window          [{res.alpha_range[0]:.6g}, {res.alpha_range[1]:.6g}]"
        + (" (automatic)" if res.alpha_range_automatic else " (given; '-' = not inside it)"),
        f"  transition            {t.kind}" + ("   (no transition inside the window)" if t.kind == "none" else ""),
        f"  alpha_c               {fmt(t.alpha_c)}{res_txt}",
        f"  alpha_spinodal_low    {fmt(t.alpha_spinodal_low)}",
        f"  alpha_spinodal_high   {fmt(t.alpha_spinodal_high)}",
        f"  m_below / m_above     {fmt(t.m_below)} / {fmt(t.m_above)}",
    ]
    if res.landau_b is not None:
        lines.append(f"  landau_b(pitchfork)   {res.landau_b:.6f}")
    lines.append(f"  folds                 " + (", ".join(f"{f.alpha:.10g} (res {f.residual:.0e})" for f in res.folds) or "none"))
    lines.append(f"  converged             {'yes' if res.converged else 'NO'} (largest relative residual {res.max_residual:.1e})")
    lines.append("  branches:")
    for b in sorted(res.branches, key=lambda b: (b.alpha_min, b.m[0])):
        lines.append(
            f"    {b.kind:9s} {b.label:8s} alpha [{b.alpha_min:12.6g}, {b.alpha_max:12.6g}]  "
            f"m [{b.m.min():.4g}, {b.m.max():.4g}]  max rel. residual {np.max(b.residual):.1e}"
        )
    return "\n".join(lines)
