"""Solver of the window copier (``Model(heads=H, parents=K)``): branches, phases, transitions.

``solve_window(model)`` finds an alpha window, traces every stationary branch of the reduced
free energy (eq. (W4), :mod:`numerics.window_branches`) and follows the global minimum in alpha:

* ``phases``: every change of the global-minimum phase, in order of alpha, with its kind:
  ``"first-order"`` (two stable branches cross: ``alpha`` is the root of ``Delta F``, with the
  spinodals of the pair), ``"second-order"`` (the global-minimum branch ends at a branch point
  where a stable broken branch starts: a supercritical symmetry-breaking bifurcation) or
  ``"crossover"`` (the label changes along one smooth stable branch; only between the two fully
  symmetric phases, where it marks ``max m_hk = theta``);
* the top-level ``transition`` is the first one into the ``specialised`` phase (``H >= K > 1``); where
  the global minimum is never specialised, the first one into the ``mixed`` phase (full rank, heads
  not aligned with single parents: linear attention with the qk prior), ``transition_to`` saying
  which; for ``H < K`` (and ``K = 1``) the first one out of the ``uniform`` phase ("into the copying
  phase").

Every point carries its residual ``|grad F|``; a failure raises :class:`ContinuationError`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from copyhead.theory.model import Model, ParameterError

from .continuation import ContinuationError, check_finite
from .window_branches import BranchFinder, WindowBranch, alignment, copy_threshold, phase_label, specialisation
from .window_continuation import newton_state, trace
from .window_free import WindowFreeEnergy


ALIGNMENT_DEFINITION = ("sum_h max_k |m_hk| / sum_h ||m_h||_2 over the copying heads (max_k |m_hk| > copy_threshold), "
                        "i.e. the mean of max_k |m_hk| / ||m_h||_2 weighted by head strength, in [1/sqrt(K), 1]: "
                        "1 when every copying head copies one parent, 1/sqrt(K) when every copying head copies all "
                        "parents with equal modulus; null when no head copies (alignment_below/above are taken at "
                        "alpha (1 -+ 1e-7): null just above a continuous onset, where M -> 0)")


@dataclass
class PhaseChange:
    """One change of the global-minimum phase along alpha."""

    frm: str
    to: str
    kind: str  # first-order | second-order | crossover
    alpha: float
    residual: float  # |Delta F| (first order), |mu| the critical eigenvalue (second order), |grad F| (crossover)
    alpha_spinodal_low: float | None = None  # first order: where the new phase appears
    alpha_spinodal_high: float | None = None  # first order: where the old phase disappears
    below: WindowBranch | None = field(default=None, repr=False)
    above: WindowBranch | None = field(default=None, repr=False)
    alignment_below: float | None = None  # alignment of the global minimum just below / above (None: no head copies)
    alignment_above: float | None = None

    def to_dict(self) -> dict:
        return {"from": self.frm, "to": self.to, "kind": self.kind, "alpha": self.alpha, "residual": self.residual,
                "alpha_spinodal_low": self.alpha_spinodal_low, "alpha_spinodal_high": self.alpha_spinodal_high,
                "alignment_below": self.alignment_below, "alignment_above": self.alignment_above}


@dataclass
class WindowResult:
    model: Model
    alpha_range: tuple
    branches: list
    events: list  # folds and branch points (Event)
    phases: list  # PhaseChange, in order of alpha
    transition: PhaseChange | None
    observables_at_transition: dict
    alpha_range_automatic: bool = True
    converged: bool = True

    def stable_branches(self):
        return [b for b in self.branches if b.stable]

    def to_dict(self) -> dict:
        fe = WindowFreeEnergy(self.model)
        t = self.transition
        obs = self.observables_at_transition
        top = {
            "transition": t.kind if t else "none",
            "alpha_c": t.alpha if t else None,
            "alpha_spinodal_low": t.alpha_spinodal_low if t else None,
            "alpha_spinodal_high": t.alpha_spinodal_high if t else None,
            "m_below": obs.get("m_below"),
            "m_above": obs.get("m_above"),
            "residual": t.residual if t else None,
        }
        d = {
            "model": self.model.to_dict(),
            **top,
            "transition_to": t.to if t else None,
            "M_below": obs.get("M_below"), "M_above": obs.get("M_above"),
            "R_below": obs.get("R_below"), "R_above": obs.get("R_above"),
            "specialisation_below": obs.get("q_below"), "specialisation_above": obs.get("q_above"),
            "alignment_below": obs.get("a_below"), "alignment_above": obs.get("a_above"),
            "phases": [p.to_dict() for p in self.phases],
            "alpha_range": list(self.alpha_range),
            "folds": [{"alpha": e.alpha, "residual": e.residual, "phase": phase_label(fe, e.x)}
                      for e in self.events if e.kind == "fold"],
            "branch_points": [{"alpha": e.alpha, "residual": e.residual, "eigenvalue": e.eigenvalue,
                               "null_dim": int(e.null.shape[1]), "phase": phase_label(fe, e.x)}
                              for e in self.events if e.kind == "branch"],
            "branches": [b.summary(fe) for b in self.branches],
            "order_parameter": "m_below/m_above: parent coverage (1/K) sum_k max_h |m_hk|; specialisation: "
                               + ("sigma_K(M)" if self.model.heads >= self.model.parents else "max m_hk")
                               + "; alignment: " + ALIGNMENT_DEFINITION,
            "order_parameters": {
                "coverage": "(1/K) sum_k max_h |m_hk| (m_below, m_above)",
                "specialisation": ("sigma_K(M), the smallest singular value of M (blind to rotations M -> M O)"
                                   if self.model.heads >= self.model.parents else "max_hk |m_hk|"),
                "alignment": ALIGNMENT_DEFINITION,
                "copy_threshold": copy_threshold(fe),
            },
            "converged": self.converged,
        }
        check_finite(d)
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)


def coverage(M) -> float:
    """Parent coverage ``(1/K) sum_k max_h |m_hk|`` (the window analogue of the copy weight ``m``; the
    modulus matters only for linear attention, whose heads may copy with a negative sign)."""
    M = np.abs(np.asarray(M, float))
    return float(np.mean(np.max(M, axis=0)))


# ----------------------------------------------------------------------------- alpha window
def symmetric_events(fe, lo: float = 1e-2, hi: float = 1e4) -> list:
    """Folds and branch points on the fully symmetric branch (continued from the uniform state at ``lo``)."""
    x, _ = newton_state(fe, np.zeros(fe.n), lo)
    t0 = np.zeros(fe.n + 1)
    t0[-1] = 1.0
    c = trace(fe, x, lo, t0, (lo, hi), hi - lo, h_max=0.004, max_steps=20000)
    return c.events


def find_window_alpha_range(fe, evs=None) -> tuple:
    """Window ``[a_1/2, 2 a_2]`` around the first two events on the fully symmetric branch (where it
    first loses stability or folds; ``evs``: :func:`symmetric_events`, computed when omitted); widened
    later by :func:`solve_window` if a copying phase is already stable at the lower edge."""
    evs = symmetric_events(fe) if evs is None else evs
    if not evs:
        raise ContinuationError("the symmetric branch has no fold or branch point in alpha in [1e-2, 1e4]")
    a = sorted(e.alpha for e in evs)[:2]
    return (a[0] / 2.0, 2.0 * a[-1])


# ----------------------------------------------------------------------------- global minimum
def _F_interp(b: WindowBranch, alpha):
    """F along a stable branch (alpha is monotone on it), +inf outside its alpha interval (relative
    tolerance 1e-9 at the ends)."""
    order = np.argsort(b.alpha)
    a = np.asarray(alpha, float)
    tol = 1e-9 * np.maximum(1.0, np.abs(a))
    inside = (a >= b.alpha_min - tol) & (a <= b.alpha_max + tol)
    val = np.interp(np.clip(a, b.alpha_min, b.alpha_max), b.alpha[order], b.F[order])
    return np.where(inside, val, np.inf)


def _global_sequence(fe, stable, alpha_range, n: int = 801):
    lo, hi = alpha_range
    grid = np.linspace(lo, hi, n)
    Fs = np.array([_F_interp(b, grid) for b in stable])
    ib = np.argmin(Fs, axis=0)
    if np.any(~np.isfinite(Fs.min(axis=0))):
        bad = grid[~np.isfinite(Fs.min(axis=0))][0]
        raise ContinuationError(f"no stable branch at alpha={bad:.6g}")
    return grid, ib


def _label_at(fe, b: WindowBranch, alpha):
    return phase_label(fe, b.x_at(fe, alpha))


def _connected_at_bp(b1: WindowBranch, b2: WindowBranch):
    """The branch point where stable ``b1`` ends and stable ``b2`` starts (a supercritical bifurcation).

    Either the same event object ends ``b1`` and starts ``b2`` (``b2`` was switched onto there), or
    ``b2`` was traced from a seed through the branch point: its low-alpha end then lies within
    ``1e-3 alpha_b`` in alpha and ``0.05`` in the state of the branch point (a pitchfork vertex
    between two traced points; e.g. the degenerate onset of linear attention, whose broken
    branch is not an axial direction).
    """
    for e1 in (b1.start_event, b1.end_event):
        if e1 is None or e1.kind != "branch":
            continue
        i = int(np.argmin(b2.alpha))
        if 0 <= b2.alpha[i] - e1.alpha < 1e-3 * e1.alpha and np.max(np.abs(b2.x[i] - e1.x)) < 0.05:
            return e1
    for e1 in (b1.start_event, b1.end_event):
        for e2 in (b2.start_event, b2.end_event):
            if e1 is not None and e1 is e2 and e1.kind == "branch":
                return e1
            if (e1 is not None and e2 is not None and e1.kind == e2.kind == "branch"
                    and abs(e1.alpha - e2.alpha) < 1e-7 * e1.alpha and np.max(np.abs(e1.x - e2.x)) < 1e-5):
                return e1
    return None


def _distinct(fe, stable, syms) -> list:
    """Stable branches up to symmetry: a branch whose state is a symmetric image of an earlier one's
    (at a common alpha) is dropped (mirror images have the same free energy)."""
    out = []
    for b in stable:
        dup = False
        for c in out:
            lo, hi = max(b.alpha_min, c.alpha_min), min(b.alpha_max, c.alpha_max)
            if hi - lo <= 1e-8 * hi:  # touching at one point (a branch point) is not a duplicate
                continue
            a = 0.5 * (lo + hi)
            xb, xc = b.x_at(fe, a), c.x_at(fe, a)
            if min(np.max(np.abs(S @ xb - xc)) for S in syms) < 1e-6 * max(1.0, np.max(np.abs(xc))):
                dup = True
                break
        if not dup:
            out.append(b)
    return out


def _phase_changes(fe, branches, alpha_range) -> list:
    stable = _distinct(fe, [b for b in branches if b.stable], fe.symmetry_matrices())
    if not stable:
        raise ContinuationError("no stable branch in the alpha window")
    grid, ib = _global_sequence(fe, stable, alpha_range)
    out = []
    lo, hi = alpha_range
    for i in range(len(grid) - 1):
        b1, b2 = stable[ib[i]], stable[ib[i + 1]]
        a0, a1 = grid[i], grid[i + 1]
        if b1 is b2:
            ends = [e.alpha for e in (b1.start_event, b1.end_event) if e is not None]
            if any(a0 - 2.0 * (a1 - a0) <= ae <= a1 + 2.0 * (a1 - a0) for ae in ends):
                continue  # the label changes at the branch point itself: the second-order transition
            l0, l1 = _label_at(fe, b1, a0), _label_at(fe, b1, a1)
            if l0 != l1:
                f = lambda a: float(_label_at(fe, b1, a) == l0) - 0.5  # noqa: E731
                ac = brentq(f, a0, a1, xtol=1e-10 * a1)
                res = float(np.max(np.abs(fe.derivatives(b1.x_at(fe, ac), ac)[1])))
                out.append(PhaseChange(l0, l1, "crossover", ac, res, below=b1, above=b1))
            continue
        ev = _connected_at_bp(b1, b2)
        if ev is not None and a0 - 1e-9 <= ev.alpha <= a1 + 1e-9:
            l0 = _label_at(fe, b1, min(max(a0, b1.alpha_min), b1.alpha_max))
            l1 = _label_at(fe, b2, min(max(a1, b2.alpha_min), b2.alpha_max))
            out.append(PhaseChange(l0, l1, "second-order", ev.alpha, abs(ev.eigenvalue), below=b1, above=b2))
            continue
        # first order: Delta F = 0 between the two stable branches
        lo_c, hi_c = max(b1.alpha_min, b2.alpha_min), min(b1.alpha_max, b2.alpha_max)
        dF = lambda a: b1.F_at(fe, a) - b2.F_at(fe, a)  # noqa: E731
        da = a1 - a0
        for widen in range(12):  # the interpolated F may place the crossing one grid step off
            u, v = max(a0 - widen * da, lo_c), min(a1 + widen * da, hi_c)
            if u < v and dF(u) * dF(v) <= 0:
                break
        if not (u < v and dF(u) * dF(v) <= 0):
            raise ContinuationError(
                f"global minimum jumps from a {b1.label} branch [{b1.alpha_min:.6g}, {b1.alpha_max:.6g}] to a "
                f"{b2.label} branch [{b2.alpha_min:.6g}, {b2.alpha_max:.6g}] near alpha={a0:.6g} without a crossing "
                f"of their free energies")
        ac = brentq(dF, u, v, xtol=1e-13 * v, rtol=1e-14, maxiter=200)
        sp_lo = None if b2.alpha_min <= lo * (1 + 1e-9) else b2.alpha_min
        sp_hi = None if b1.alpha_max >= hi * (1 - 1e-9) else b1.alpha_max
        out.append(PhaseChange(_label_at(fe, b1, ac), _label_at(fe, b2, ac), "first-order", ac, abs(dF(ac)),
                               sp_lo, sp_hi, below=b1, above=b2))
    return out


def _main_transition(model, phases):
    if model.heads >= model.parents and model.parents > 1:
        cands = [p for p in phases if p.to == "specialised" and p.frm != "specialised"]
        if not cands:  # never aligned (linear, qk prior): the transition into the full-rank mixed phase
            cands = [p for p in phases if p.to == "mixed" and p.frm != "mixed"]
    else:
        cands = [p for p in phases if p.frm == "uniform"]
    return cands[0] if cands else None


def _observables(fe, t: PhaseChange | None) -> dict:
    if t is None:
        return {}
    eps = 1e-7 * t.alpha
    out = {}
    for side, b, a in (("below", t.below, t.alpha - eps), ("above", t.above, t.alpha + eps)):
        a = min(max(a, b.alpha_min), b.alpha_max)
        M, R = fe.order_parameters(b.x_at(fe, a))
        a_hk = alignment(M, copy_threshold(fe))
        out.update({f"M_{side}": M.tolist(), f"R_{side}": R.tolist(), f"m_{side}": coverage(M),
                    f"q_{side}": specialisation(fe, M), f"a_{side}": a_hk if math.isfinite(a_hk) else None})
    return out


def solve_window(model: Model, alpha_range: tuple | None = None, max_widen: int = 4) -> WindowResult:
    """All stationary branches of the window copier in alpha, the phase sequence and the transition.

    Parameters
    ----------
    model : Model
        ``heads``, ``parents`` and the usual parameters; ``V`` must be None (``V = inf``),
        objective ``"posterior"``.
    alpha_range : (float, float), optional
        Window in alpha; automatic when omitted (:func:`find_window_alpha_range`, widened downwards
        while a non-uniform phase is the global minimum at the lower edge).
    """
    if not isinstance(model, Model):
        raise ParameterError("model", type(model).__name__, "must be a theory.model.Model")
    if model.V is not None:
        raise ParameterError("V", model.V, "solve works in the limit V -> inf; use V=None")
    fe = WindowFreeEnergy(model)
    automatic = alpha_range is None
    avoid = []
    if automatic:
        evs = symmetric_events(fe)
        avoid = [e.alpha for e in evs]
        alpha_range = find_window_alpha_range(fe, evs)
    else:
        a0, a1 = (float(a) for a in alpha_range)
        if not (0 < a0 < a1 and math.isfinite(a1)):
            raise ParameterError("alpha_range", alpha_range, "must be two finite numbers 0 < lo < hi")
        alpha_range = (a0, a1)
    for attempt in range(max_widen + 1):
        finder = BranchFinder(fe, alpha_range).run(avoid=avoid)
        branches = finder.branches()
        phases = _phase_changes(fe, branches, alpha_range)
        stable = [b for b in branches if b.stable]
        grid, ib = _global_sequence(fe, stable, alpha_range, n=3)
        first = _label_at(fe, stable[ib[0]], alpha_range[0])
        if not automatic or first == "uniform" or attempt == max_widen:
            break
        alpha_range = (alpha_range[0] / 2.0, alpha_range[1])
    events = []
    for c in finder.curves:
        for e in c.events:
            if not any(e2.kind == e.kind and finder.same_point(e.x, e.alpha, e2.x, e2.alpha, 1e-5) for e2 in events):
                events.append(e)
    events.sort(key=lambda e: e.alpha)
    for p in phases:
        obs = _observables(fe, p)
        p.alignment_below, p.alignment_above = obs["a_below"], obs["a_above"]
    t = _main_transition(model, phases)
    res = WindowResult(model, tuple(alpha_range), sorted(branches, key=lambda b: (b.alpha_min, b.index)), events,
                       phases, t, _observables(fe, t), automatic)
    res.to_dict()  # raises on non-finite entries
    return res


def format_window_table(res: WindowResult) -> str:
    """Readable table (what ``copyhead solve --heads H --parents K`` prints)."""
    m = res.model
    t = res.transition
    fmt = lambda v: "-" if v is None else f"{v:.6f}"  # noqa: E731
    obs = res.observables_at_transition
    lines = [
        f"copyhead solve: window copier heads={m.heads} parents={m.parents} attention={m.attention} prior={m.prior} "
        f"objective={m.objective} T={m.T} nu={m.nu:g} sigma2={m.sigma2:g} kappa={m.kappa:g}",
        f"  alpha window          [{res.alpha_range[0]:.4g}, {res.alpha_range[1]:.4g}]"
        + (" (automatic)" if res.alpha_range_automatic else " (given)"),
        f"  transition            {t.kind if t else 'none'}" + (f" ({t.frm} -> {t.to})" if t else ""),
        f"  alpha_c               {fmt(t.alpha if t else None)}" + (f"   (residual {t.residual:.1e})" if t else ""),
        f"  alpha_spinodal_low    {fmt(t.alpha_spinodal_low if t else None)}",
        f"  alpha_spinodal_high   {fmt(t.alpha_spinodal_high if t else None)}",
    ]
    if t:
        lines.append(f"  M below / above       {np.round(obs['M_below'], 4).tolist()} / {np.round(obs['M_above'], 4).tolist()}")
        lines.append(f"  specialisation        {obs['q_below']:.6f} / {obs['q_above']:.6f}   (sigma_K(M))")
        fa = lambda v: "-" if v is None else f"{v:.6f}"  # noqa: E731
        lines.append(f"  alignment             {fa(obs['a_below'])} / {fa(obs['a_above'])}   "
                     f"(sum_h max_k|m_hk| / sum_h |m_h|, copying heads; 1 aligned, 1/sqrt(K) equal mix)")
    lines.append("  phases (global minimum):")
    for p in res.phases:
        extra = ""
        if p.kind == "first-order":
            extra = f"  spinodals {fmt(p.alpha_spinodal_low)}, {fmt(p.alpha_spinodal_high)}"
        lines.append(f"    {p.frm:>13s} -> {p.to:<13s} {p.kind:12s} alpha {p.alpha:.6f}  (res {p.residual:.1e}){extra}")
    lines.append("  folds                 " + (", ".join(f"{e.alpha:.6f}" for e in res.events if e.kind == "fold") or "none"))
    lines.append("  branch points         " + (", ".join(f"{e.alpha:.6f}" for e in res.events if e.kind == "branch") or "none"))
    lines.append("  branches:")
    for b in res.branches:
        i_hi = int(np.argmax(b.alpha))
        lines.append(
            f"    {b.label:13s} {'stable' if b.stable else 'unstable':8s} index {b.index}  alpha [{b.alpha_min:10.5f}, "
            f"{b.alpha_max:10.5f}]  M(alpha_max) {np.round(b.M[i_hi], 3).tolist()}  alignment "
            f"{'-' if not np.isfinite(b.align[i_hi]) else format(b.align[i_hi], '.3f')}  max|grad F| {np.max(b.residual):.1e}"
        )
    return "\n".join(lines)
