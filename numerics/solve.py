"""Saddle-point solver: branches, spinodals, coexistence, critical points, classification.

``solve(model)`` finds the alpha range automatically, traces every stationary branch of the
reduced free energy (``numerics.branches``), and classifies the transition in alpha:

* ``"first-order"``: two stable branches coexist; ``alpha_c`` is where their free energies
  cross (root of ``Delta F``), the spinodals are the ends of the coexistence window (folds, or
  the point where ``m = 0`` loses stability for a subcritical linear pitchfork);
* ``"second-order"``: ``m = 0`` loses stability at ``alpha_c`` (``F_u(0, alpha_c) = 0``; closed
  form ``(1 + sqrt(1 + 4 nu T/sigma2))/2`` for the posterior) and the ordered branch grows
  continuously from it;
* ``"crossover"``: one stable branch throughout; ``alpha_c`` is where ``dm/dalpha`` is largest.

Every reported point carries its residual; a solver failure raises
:class:`numerics.continuation.ContinuationError`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from copyhead.theory.landau import landau_b
from copyhead.theory.model import Model, ParameterError

from .branches import Branch, all_branches, x_grid
from .continuation import ContinuationError
from .kernels import Kernel


@dataclass
class Transition:
    kind: str  # first-order | second-order | crossover
    alpha_c: float
    alpha_spinodal_low: float | None
    alpha_spinodal_high: float | None
    m_below: float
    m_above: float
    residual: float  # |Delta F| at coexistence, |F_u(0)| at a critical point, |d2m/dalpha2| proxy for crossover

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

    def stable_branches(self):
        return [b for b in self.branches if b.stable]

    def to_dict(self) -> dict:
        d = {
            "model": self.model.to_dict(),
            **self.transition.to_dict(),
            "landau_b": self.landau_b,
            "alpha_range": list(self.alpha_range),
            "folds": [{"alpha": f.alpha, "x": f.x, "residual": f.residual} for f in self.folds],
            "coexistence": [{"alpha": a, "residual": r} for a, r in self.coexistence],
            "branches": [b.summary() for b in self.branches],
            "converged": self.converged,
        }
        _check_finite(d)
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)


def _check_finite(obj, path="result"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_finite(v, f"{path}[{i}]")
    elif isinstance(obj, float) and not math.isfinite(obj):
        raise ContinuationError(f"non-finite value in {path}: {obj}")


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
        cand_x = [xs[j] if F[i, j] < F[i, j + 1] else xs[j + 1] for j in cand]
        cand_F = [min(F[i, j], F[i, j + 1]) for j in cand]
        if d.boundary_point is not None and (d.boundary_always_stable or Fx[i, 0] > 0):  # m = 0 is a minimum
            cand_x.append(xs[0])
            cand_F.append(F[i, 0])
        if d.kink is not None:
            fp = k(d.kink + 1e-12, alphas[i])[1]
            fm = k(d.kink - 1e-12, alphas[i])[1]
            if fm < 0 < fp:
                cand_x.append(d.kink)
                cand_F.append(k.F(d.kink, alphas[i]))
        nmin[i] = len(cand_x)
        mglob[i] = k.m_of_x(cand_x[int(np.argmin(cand_F))]) if cand_x else np.nan
    return nmin, mglob


def find_alpha_range(k: Kernel, lo: float = 1e-3, hi: float = 1e6, n: int = 240) -> tuple:
    """An alpha window that contains the transition, found from a coarse scan of the minima.

    Points of interest on a log grid: the largest jump of the global-minimum ``m`` (the
    transition or crossover), the alphas where the number of local minima changes (spinodals)
    within a factor 10 of it, and for linear attention the point where ``m = 0`` loses
    stability. The window brackets them with a factor 2 on each side.
    """
    alphas = np.geomspace(lo, hi, n)
    xs = x_grid(k, 500)
    nmin, mglob = _minima_on_grid(k, xs, alphas)
    if np.any(np.isnan(mglob)):
        raise ContinuationError("no minimum of F found on the scan grid for some alpha")
    dm = np.abs(np.diff(mglob))
    i = int(np.argmax(dm))
    if dm[i] == 0:
        raise ContinuationError("global-minimum m is constant over the scan: no transition to analyse")
    a_jump = math.sqrt(alphas[i] * alphas[i + 1])
    pts = [alphas[i], alphas[i + 1]]
    for j in np.nonzero(np.diff(nmin))[0]:
        if a_jump / 10 <= alphas[j] <= a_jump * 10:
            pts += [alphas[j], alphas[j + 1]]
    if k.model.attention == "linear" and not k.domain.boundary_always_stable:
        f = lambda a: k(1e-12, a)[1]
        v = np.array([f(a) for a in alphas])
        ch = np.nonzero(np.sign(v[:-1]) != np.sign(v[1:]))[0]
        if len(ch):
            pts.append(brentq(f, alphas[ch[0]], alphas[ch[0] + 1]))
    return (min(pts) / 2.0, max(pts) * 2.0)


# ----------------------------------------------------------------------------- transitions


def _coexistence(k: Kernel, stable: list):
    """All alphas where two stable branches have equal F and are both global minima there."""
    out = []
    for i in range(len(stable)):
        for j in range(i + 1, len(stable)):
            bi, bj = stable[i], stable[j]
            lo, hi = max(bi.alpha_min, bj.alpha_min), min(bi.alpha_max, bj.alpha_max)
            if hi - lo <= 1e-8 * hi:  # branches that only touch (e.g. at a pitchfork) do not coexist
                continue
            grid = np.linspace(lo, hi, 41)
            dF = lambda a: bi.F_at(k, a) - bj.F_at(k, a)
            v = np.array([dF(a) for a in grid])
            for n in np.nonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)[0]:
                ac = brentq(dF, grid[n], grid[n + 1], xtol=1e-13, rtol=1e-15, maxiter=200)
                if abs(bi.x_at(k, ac) - bj.x_at(k, ac)) < 1e-6:
                    continue  # the same point: branches meeting, not two phases
                Fc = bi.F_at(k, ac)
                others = [b.F_at(k, ac) for b in stable if b is not bi and b is not bj and b.covers(ac)]
                if all(Fo > Fc for Fo in others):
                    out.append((ac, abs(dF(ac)), bi, bj))
    out.sort(key=lambda t: t[0])
    return out


def _global_branch(k: Kernel, stable: list, alpha: float) -> Branch:
    cands = [b for b in stable if b.covers(alpha)]
    if not cands:
        raise ContinuationError(f"no stable branch at alpha={alpha:.6g}")
    return min(cands, key=lambda b: b.F_at(k, alpha))


def _classify(k: Kernel, branches: list, alpha_range) -> tuple:
    stable = [b for b in branches if b.stable]
    coex = _coexistence(k, stable)
    if coex:
        ac, res, bi, bj = coex[0]
        eps = 1e-7 * ac
        below = _global_branch(k, [bi, bj], ac - eps) if min(bi.alpha_min, bj.alpha_min) < ac - eps else bi
        above = bj if below is bi else bi
        a_lo, a_hi = alpha_range
        sp_lo, sp_hi = max(bi.alpha_min, bj.alpha_min), min(bi.alpha_max, bj.alpha_max)
        # a window edge is not a spinodal: the branch goes on beyond the analysed range
        sp_lo = None if sp_lo <= a_lo * (1 + 1e-9) else sp_lo
        sp_hi = None if sp_hi >= a_hi * (1 - 1e-9) else sp_hi
        t = Transition(
            "first-order", ac, sp_lo, sp_hi,
            float(k.m_of_x(below.x_at(k, ac))), float(k.m_of_x(above.x_at(k, ac))), res,
        )
        return t, [(a, r) for a, r, _, _ in coex]
    sym = [b for b in branches if b.kind == "symmetric"]
    if sym:
        # critical point: the symmetric branch changes stability
        for b1 in sym:
            for b2 in sym:
                if b1.stable and not b2.stable and abs(b1.alpha_max - b2.alpha_min) < 1e-9 * b1.alpha_max:
                    ac = b1.alpha_max
                    res = abs(k(1e-12, ac)[1])
                    return Transition("second-order", ac, None, None, 0.0, 0.0, res), []
    # crossover: steepest rise of m along the global-minimum branch
    a_lo, a_hi = alpha_range
    grid = np.geomspace(a_lo, a_hi, 201)
    mg = np.array([k.m_of_x(_global_branch(k, stable, a).x_at(k, a)) for a in grid])
    slope = np.gradient(mg, grid)
    i = int(np.clip(np.argmax(slope), 1, len(grid) - 2))
    b = _global_branch(k, stable, grid[i])

    def neg_slope(a):
        h = 1e-4 * a
        return -(k.m_of_x(b.x_at(k, a + h)) - k.m_of_x(b.x_at(k, a - h))) / (2 * h)

    lo, hi = max(grid[i - 1], b.alpha_min * (1 + 1e-6)), min(grid[i + 1], b.alpha_max * (1 - 1e-6))
    opt = minimize_scalar(neg_slope, bounds=(lo, hi), method="bounded", options={"xatol": 1e-9 * grid[i]})
    ac = float(opt.x)
    m = float(k.m_of_x(b.x_at(k, ac)))
    return Transition("crossover", ac, None, None, m, m, float(abs(k(b.x_at(k, ac), ac)[1]))), []


def solve(model: Model, alpha_range: tuple | None = None) -> Result:
    """Trace all stationary branches of the reduced free energy in alpha and classify the transition.

    Parameters
    ----------
    model : Model
        ``V`` must be None (the solver works at ``V = inf``); ``alpha`` is ignored (swept).
    alpha_range : (float, float), optional
        Window in alpha; found automatically when omitted.

    Returns
    -------
    Result
        Branches (stable / unstable, with residuals), folds (spinodals), coexistence points and
        the classified transition. Raises ``ContinuationError`` if anything fails to converge.
    """
    if not isinstance(model, Model):
        raise ParameterError("model", type(model).__name__, "must be a theory.model.Model")
    if model.V is not None:
        raise ParameterError("V", model.V, "solve() works in the limit V -> inf; use V=None")
    k = Kernel(model)
    automatic = alpha_range is None
    if automatic:
        alpha_range = find_alpha_range(k)
    else:
        a0, a1 = (float(a) for a in alpha_range)
        if not (0 < a0 < a1 and math.isfinite(a1)):
            raise ParameterError("alpha_range", alpha_range, "must be two finite numbers 0 < lo < hi")
        alpha_range = (a0, a1)
    branches, folds = all_branches(k, alpha_range)
    transition, coex = _classify(k, branches, alpha_range)
    lb = None
    if model.attention == "linear" and not (model.prior == "qk" and model.objective == "map"):
        if model.objective == "posterior":
            lb = landau_b(model.T, model.nu, model.sigma2, transition.alpha_c, model.prior)
        else:  # MAP gaussian: F = nu T u/2 + (alpha/2)/(1 + g u): b = alpha g^2/2
            g = model.sigma2 * transition.alpha_c
            lb = transition.alpha_c * g * g / 2.0
    res = Result(model, tuple(alpha_range), branches, folds, transition, coex, lb, alpha_range_automatic=automatic)
    res.to_dict()  # raises on any non-finite entry
    return res


def format_table(res: Result) -> str:
    """Readable table of a result (what ``copyhead solve`` prints)."""
    m = res.model
    t = res.transition
    fmt = lambda v: "-" if v is None else f"{v:.6f}"
    lines = [
        f"copyhead solve: attention={m.attention} prior={m.prior} objective={m.objective} "
        f"T={m.T} nu={m.nu:g} sigma2={m.sigma2:g} kappa={m.kappa:g}",
        f"  alpha window          [{res.alpha_range[0]:.4g}, {res.alpha_range[1]:.4g}]"
        + (" (automatic)" if res.alpha_range_automatic else " (given)"),
        f"  transition            {t.kind}",
        f"  alpha_c               {fmt(t.alpha_c)}   (residual {t.residual:.1e})",
        f"  alpha_spinodal_low    {fmt(t.alpha_spinodal_low)}",
        f"  alpha_spinodal_high   {fmt(t.alpha_spinodal_high)}",
        f"  m_below / m_above     {t.m_below:.6f} / {t.m_above:.6f}",
    ]
    if res.landau_b is not None:
        lines.append(f"  landau_b(alpha_c)     {res.landau_b:.6f}")
    lines.append(f"  folds                 " + (", ".join(f"{f.alpha:.8f} (res {f.residual:.0e})" for f in res.folds) or "none"))
    lines.append("  branches:")
    for b in sorted(res.branches, key=lambda b: (b.alpha_min, b.m[0])):
        lines.append(
            f"    {b.kind:9s} {b.label:8s} alpha [{b.alpha_min:10.5f}, {b.alpha_max:10.5f}]  "
            f"m [{b.m.min():.4f}, {b.m.max():.4f}]  max|F_x| {np.max(b.residual):.1e}"
        )
    return "\n".join(lines)
