"""All stationary branches of the window copier's reduced free energy in alpha.

Seeds are the local minima found from structured starts (each head uniform, on one parent, or
spread over all parents) at a few alphas; every seed not on a traced curve (modulo the symmetry
group) is continued both ways (:mod:`numerics.window_continuation`). Every branch point found on
a curve is switched: the directions are the null vector ``+-psi`` (simple eigenvalue; ``-psi``
is skipped when a symmetry of the branch point maps ``psi`` to ``-psi``: a pitchfork) or, for a
multiple eigenvalue, the one-dimensional subspaces of the null space fixed by a symmetry of the
branch point (equivariant branching lemma). Curves are split at their events into branches of
constant Morse index (stable = index 0).

Phase labels (:func:`phase_label`). The symmetry group (heads x parent reflection; for linear
attention also the sign of each head and, for even ``T``, the modulation ``p_hk -> (-1)^k p_hk``:
:meth:`WindowFreeEnergy.symmetry_matrices`) decides the kind of phase; the copy threshold ``theta``
(``2/T`` for softmax, twice the uniform weight; ``1e-6`` for linear) only separates the two fully
symmetric phases, as the copy weight ``m`` separates the disordered and copy branches of one head.
"Alike" and "symmetric" are up to these symmetries (linear: up to the sign of a head and the
modulation), and a head's preferred parent is ``argmax_k |m_hk|`` (none when the largest two
``|m_hk|`` tie: such a tie is enforced by a symmetry of the state, not an accident):

* heads all alike and every head reflection symmetric: ``uniform`` (``max |m_hk| <= theta``) or
  ``unspecialised`` (copying every parent alike in modulus; ``copying`` when ``K = 1``);
* heads all alike, not reflection symmetric: ``copying`` (``H = 1``: the head picks a parent)
  or ``redundant`` (all heads prefer the same parent);
* heads differ (``H >= K``): ``specialised`` when the heads' preferred parents cover all parents
  and the preferring heads are alike in strength (all above or all below ``theta``): heads aligned
  with distinct parents; otherwise ``mixed`` when the copying heads' patterns (the rows with
  ``max_k |m_hk| > theta``) span the parents (their ``sigma_K`` above ``max(theta, 1e-6 sigma_1)``)
  but their preferred parents do not cover all parents
  (e.g. linear attention with the qk prior: ``M ~ c [[1, -1], [-1, -1]]``, each head copying both
  parents with opposite signs, a 45-degree rotation of the aligned state); otherwise ``partial``
  (e.g. one head copies, another does not). With ``H < K`` differing heads are ``copying``.

Order parameters of a state (all functions of ``M``): the specialisation ``sigma_K(M)``
(:func:`specialisation`; full rank, blind to rotations ``M -> M O``), the parent coverage
(:func:`numerics.window_solve.coverage`) and the alignment (:func:`alignment`):
``sum_h max_k |m_hk| / sum_h ||m_h||_2`` over the copying heads (``max_k |m_hk| > theta``), i.e. the
mean of ``max_k |m_hk| / ||m_h||_2`` weighted by the heads' strength, between ``1/sqrt(K)`` (heads
copying all parents with equal modulus) and 1 (every copying head copies one parent); undefined
(NaN; ``null`` in JSON) when no head copies. The rotated linear state has alignment
``1/sqrt(2)``, the softmax specialised state of the default model 0.999.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .continuation import ContinuationError
from .window_continuation import Event, WindowCurve, newton_state, switch_branch, trace

LABELS = ("uniform", "unspecialised", "copying", "redundant", "partial", "mixed", "specialised")


# ----------------------------------------------------------------------------- labels
def threshold(softmax: bool, T: int) -> float:
    """The copy threshold ``theta``: ``2/T`` (softmax: twice the uniform weight) or ``1e-6`` (linear)."""
    return 2.0 / T if softmax else 1e-6


def copy_threshold(fe) -> float:
    """``theta`` of a :class:`WindowFreeEnergy` (:func:`threshold`)."""
    return threshold(fe.softmax, fe.T)


def _sign_images(fe, v):
    """``v`` and, for linear attention, ``-v`` (the sign of a head is a symmetry there)."""
    return (v,) if fe.softmax else (v, -v)


def _modulations(fe) -> list:
    """Offset modulations that are symmetries: ``1`` and, for linear attention with even ``T``, ``(-1)^k``."""
    mods = [np.ones(fe.T)]
    if not fe.softmax and fe.T % 2 == 0:
        mods.append((-1.0) ** np.arange(fe.T))
    return mods


def heads_alike(fe, x, tol: float = 1e-6) -> bool:
    """Are all heads equal (linear attention: up to the sign of each head)?"""
    w = fe.weights(x)
    return bool(all(any(np.all(np.abs(v - w[0]) < tol) for v in _sign_images(fe, w[h])) for h in range(fe.H)))


def reflection_symmetric(fe, x, tol: float = 1e-6) -> bool:
    """Is the state fixed by the offset reflection ``k -> K + 1 - k`` of every head (linear attention:
    combined with a sign per head and possibly the modulation ``(-1)^k`` of all heads)? Then every
    head weights the parents alike in modulus."""
    w = fe.weights(x)
    T, K = fe.T, fe.K
    perm = [(K + 1 - k) % T for k in range(T)]
    for mod in _modulations(fe):
        if all(any(np.all(np.abs(v - w[h]) < tol) for v in _sign_images(fe, mod * w[h, perm])) for h in range(fe.H)):
            return True
    return False


def preferred_parents(fe, M, tol: float = 1e-6):
    """``(prefers, pref)``: whether head ``h`` prefers one parent (the largest two ``|m_hk|`` differ by
    more than ``tol``; for linear attention relative to ``max(max_k |m_hk|, theta)``, so that an idle
    head, ``m_h = 0`` up to rounding, prefers none) and ``argmax_k |m_hk|``."""
    A = np.abs(np.asarray(M, float))
    H, K = A.shape
    if K == 1:
        return np.ones(H, bool), np.zeros(H, int)
    srt = np.sort(A, axis=1)
    scale = 1.0 if fe.softmax else np.maximum(srt[:, -1], copy_threshold(fe))
    return srt[:, -1] - srt[:, -2] > tol * scale, np.argmax(A, axis=1)


def phase_label(fe, x, tol: float = 1e-6) -> str:
    """Phase name of a state (module docstring)."""
    M, _ = fe.order_parameters(x)
    theta = copy_threshold(fe)
    strong = np.max(np.abs(M), axis=1) > theta
    if heads_alike(fe, x, tol):
        if reflection_symmetric(fe, x, tol):
            if not strong.any():
                return "uniform"
            return "copying" if fe.K == 1 else "unspecialised"
        return "copying" if fe.H == 1 else "redundant"
    H, K = M.shape
    if H < K:
        return "copying"
    prefers, pref = preferred_parents(fe, M, tol)
    covered = {int(pref[h]) for h in range(H) if prefers[h]}
    if len(covered) == K:
        s = strong[prefers]
        if s.all() or not s.any():
            return "specialised"
    # the copying heads span the parents, but do not prefer distinct parents covering them all
    if strong.sum() >= K and len({int(pref[h]) for h in range(H) if prefers[h] and strong[h]}) < K:
        sv = np.linalg.svd(M[strong], compute_uv=False)
        if sv[-1] > max(theta, 1e-6 * sv[0]):
            return "mixed"
    return "partial"


def specialisation(fe, M) -> float:
    """Scalar order parameter: ``sigma_K(M)`` (smallest singular value of the ``H x K`` copy weights;
    0 unless the heads' copy patterns span all parents) for ``H >= K``; for ``H < K`` the largest
    copy weight ``max m_hk`` (one head picks one parent). Invariant under ``M -> M O``: it does not
    tell heads aligned with parents from rotated ones (:func:`alignment` does)."""
    M = np.asarray(M, float)
    if M.shape[0] >= M.shape[1]:
        return float(np.linalg.svd(M, compute_uv=False)[-1])
    return float(np.max(np.abs(M)))


def alignment(M, theta: float) -> float:
    """Alignment of the copying heads with single parents, weighted by the heads' copy strength:

    ``a = sum_{h in C} max_k |m_hk| / sum_{h in C} ||m_h||_2``,  ``C = {h : max_k |m_hk| > theta}``,

    in ``[1/sqrt(K), 1]``: 1 iff every copying head copies one parent; ``1/sqrt(K)`` iff every copying
    head copies all parents with equal modulus (the rotated state ``c [[1, -1], [-1, -1]]``:
    ``1/sqrt(2)``). With equally strong heads it is the plain mean of ``max_k |m_hk| / ||m_h||``; the
    weights keep a nearly idle head (noise-level ``m_h`` at finite V) from counting. NaN when no head
    copies. ``theta``: :func:`copy_threshold`. Works on ``(..., H, K)`` arrays.
    """
    A = np.abs(np.asarray(M, float))
    mx = A.max(axis=-1)
    cop = mx > theta
    num = np.sum(np.where(cop, mx, 0.0), axis=-1)
    den = np.sum(np.where(cop, np.linalg.norm(A, axis=-1), 0.0), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(np.any(cop, axis=-1), num / np.where(den > 0, den, 1.0), np.nan)
    return float(out) if np.ndim(out) == 0 else out


def _finite_range(v):
    """``[min, max]`` of the finite entries, or None when there are none."""
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return [float(v.min()), float(v.max())] if len(v) else None


# ----------------------------------------------------------------------------- branches
@dataclass(eq=False)
class WindowBranch:
    """A piece of a traced curve with constant Morse index, sorted along the arc."""

    curve: int
    index: int  # Morse index (0: stable)
    alpha: np.ndarray
    x: np.ndarray  # (npts, n)
    F: np.ndarray
    residual: np.ndarray
    M: np.ndarray  # (npts, H, K)
    R: np.ndarray  # (npts, H, H)
    q: np.ndarray  # specialisation order parameter sigma_K(M)
    labels: list
    start_event: Event | None = None
    end_event: Event | None = None
    align: np.ndarray | None = None  # alignment order parameter (NaN where no head copies)

    def __post_init__(self):
        if self.align is None:
            self.align = np.full(len(self.alpha), np.nan)

    @property
    def stable(self) -> bool:
        return self.index == 0

    @property
    def label(self) -> str:
        """The most frequent phase label on the branch."""
        return max(set(self.labels), key=self.labels.count)

    @property
    def alpha_min(self) -> float:
        return float(np.min(self.alpha))

    @property
    def alpha_max(self) -> float:
        return float(np.max(self.alpha))

    def covers(self, alpha: float) -> bool:
        tol = 1e-9 * max(1.0, abs(alpha))
        return self.alpha_min - tol <= alpha <= self.alpha_max + tol

    def x_at(self, fe, alpha: float) -> np.ndarray:
        """Stationary state on this branch at ``alpha`` (interpolation along the arc + Newton)."""
        if not self.covers(alpha):
            raise ValueError(f"alpha={alpha} outside branch [{self.alpha_min}, {self.alpha_max}]")
        alpha = min(max(alpha, self.alpha_min), self.alpha_max)
        a = self.alpha
        sgn = np.sign(a - alpha)
        idx = np.nonzero(sgn[:-1] * sgn[1:] <= 0)[0]
        if len(idx) == 0:
            raise ValueError(f"alpha={alpha} outside branch [{self.alpha_min}, {self.alpha_max}]")
        best = None
        for i in idx:
            wgt = 0.0 if a[i + 1] == a[i] else (alpha - a[i]) / (a[i + 1] - a[i])
            x0 = self.x[i] + wgt * (self.x[i + 1] - self.x[i])
            seg = float(np.linalg.norm(self.x[i + 1] - self.x[i]))
            # along the arc first (Newton orthogonal to the chord: stays on this branch near a branch
            # point, where Newton at fixed alpha may jump to the crossing branch), Newton as fallback
            x = _on_segment(fe, self.x[i], a[i], self.x[i + 1], a[i + 1], alpha)
            if x is None:
                try:
                    x, _ = newton_state(fe, x0, alpha)
                except ContinuationError:
                    continue
                if np.linalg.norm(x - x0) > seg + 1e-6:
                    continue  # converged to another branch
            dist = np.linalg.norm(x - x0)
            if best is None or dist < best[0]:
                best = (dist, x)
        if best is None:
            # at a fold or branch point Newton at fixed alpha is singular: a stored (converged) point
            # within 1e-7 alpha is the answer there
            i = int(np.argmin(np.abs(a - alpha)))
            if abs(a[i] - alpha) <= 1e-7 * max(1.0, abs(alpha)):
                return self.x[i].copy()
            raise ContinuationError(f"no stationary point of the branch found at alpha={alpha:.6g}")
        return best[1]

    def F_at(self, fe, alpha: float) -> float:
        return fe.value(self.x_at(fe, alpha), alpha)

    def summary(self, fe) -> dict:
        i_lo, i_hi = int(np.argmin(self.alpha)), int(np.argmax(self.alpha))
        return {
            "phase": self.label,
            "stability": "stable" if self.stable else "unstable",
            "morse_index": self.index,
            "alpha_min": self.alpha_min,
            "alpha_max": self.alpha_max,
            "M": {"at_alpha_min": self.M[i_lo].tolist(), "at_alpha_max": self.M[i_hi].tolist()},
            "R": {"at_alpha_min": self.R[i_lo].tolist(), "at_alpha_max": self.R[i_hi].tolist()},
            "specialisation_range": [float(self.q.min()), float(self.q.max())],
            "alignment_range": _finite_range(self.align),
            "max_residual": float(np.max(self.residual)),
            "ends": [self._end(self.start_event), self._end(self.end_event)],
        }

    @staticmethod
    def _end(ev):
        return None if ev is None else {"kind": ev.kind, "alpha": ev.alpha}


class BranchFinder:
    """Seeds, traces, switches and splits (see the module docstring)."""

    def __init__(self, fe, alpha_range, x_bound: float = 60.0):
        self.fe = fe
        self.alpha_range = tuple(float(a) for a in alpha_range)
        self.a_scale = self.alpha_range[1] - self.alpha_range[0]
        self.syms = fe.symmetry_matrices()
        self.x_bound = x_bound
        self.curves: list[WindowCurve] = []
        self.branch_points: list[Event] = []
        self.switched: list[tuple] = []  # (event, direction, curve index or None)

    # ---------------------------------------------------------------- identity modulo symmetry
    def same_point(self, x1, a1, x2, a2, tol: float = 1e-6) -> bool:
        if abs(a1 - a2) > tol * max(1.0, abs(a1)):
            return False
        return min(np.max(np.abs(S @ x1 - x2)) for S in self.syms) < tol * max(1.0, np.max(np.abs(x2)))

    def on_curve(self, x, alpha) -> bool:
        """Is the stationary point ``(x, alpha)`` (or a symmetric image) on a traced curve?

        First geometrically: distance to a chord of a curve's polyline in ``y = (x, alpha/a_scale)``
        below 1 % of the chord length (this also works at the vertex of a pitchfork, where the
        curve does not cross the point's alpha); then by Newton at fixed alpha from the curve
        interpolated at ``alpha``.
        """
        images = [S @ x for S in self.syms]
        for c in self.curves:
            Y = np.hstack([c.x, (c.alpha / self.a_scale)[:, None]])
            U = Y[1:] - Y[:-1]
            L2 = np.maximum(np.sum(U * U, axis=1), 1e-300)
            for xs in images:
                p = np.concatenate([xs, [alpha / self.a_scale]])
                lam_ = np.clip(np.sum((p - Y[:-1]) * U, axis=1) / L2, 0.0, 1.0)
                dist = np.linalg.norm(Y[:-1] + lam_[:, None] * U - p, axis=1)
                if np.any(dist < 0.01 * np.sqrt(L2) + 1e-9):
                    return True
            a = c.alpha
            sgn = np.sign(a - alpha)
            for i in np.nonzero(sgn[:-1] * sgn[1:] <= 0)[0]:
                wgt = 0.0 if a[i + 1] == a[i] else (alpha - a[i]) / (a[i + 1] - a[i])
                xi = c.x[i] + wgt * (c.x[i + 1] - c.x[i])
                seg = np.linalg.norm(c.x[i + 1] - c.x[i]) + 1e-6
                close = [xs for xs in images if np.linalg.norm(xs - xi) <= 3.0 * seg]
                if not close:
                    continue
                try:
                    xr, _ = newton_state(self.fe, xi, alpha)
                except ContinuationError:
                    continue
                if any(np.max(np.abs(xr - xs)) < 1e-6 * max(1.0, np.max(np.abs(xs))) for xs in close):
                    return True
        return False

    def _traced_direction(self, ev, psi) -> bool:
        """Does a traced curve already leave the branch point ``ev`` along ``psi`` (or a symmetric image
        of it under the isotropy of the branch point)? A curve through the point covers both signs,
        a curve that starts there the side it leaves on."""
        yb = np.concatenate([ev.x, [ev.alpha / self.a_scale]])
        dirs = [S @ psi for S in self.isotropy(ev.x)]
        for c in self.curves:
            Y = np.hstack([c.x, (c.alpha / self.a_scale)[:, None]])
            U = Y[1:] - Y[:-1]
            L = np.maximum(np.linalg.norm(U, axis=1), 1e-300)
            lam_ = np.clip(np.sum((yb - Y[:-1]) * U, axis=1) / L**2, 0.0, 1.0)
            dist = np.linalg.norm(Y[:-1] + lam_[:, None] * U - yb, axis=1)
            for i in np.nonzero(dist < 0.02 * L + 1e-9)[0]:
                ux = U[i, :-1] / max(np.linalg.norm(U[i, :-1]), 1e-300)
                for d in dirs:
                    cosang = float(ux @ d)
                    if abs(cosang) < 0.8:
                        continue
                    starts_here = i == 0 and np.linalg.norm(Y[0] - yb) < 1e-7
                    ends_here = i == len(U) - 1 and np.linalg.norm(Y[-1] - yb) < 1e-7
                    if starts_here and cosang < 0 or ends_here and cosang > 0:
                        continue  # the curve covers the other side only
                    return True
        return False

    def _known_bp(self, ev) -> bool:
        return any(self.same_point(ev.x, ev.alpha, b.x, b.alpha, 1e-5) for b in self.branch_points)

    # ---------------------------------------------------------------- tracing
    def _trace(self, x, alpha, t0):
        new = []

        def on_event(ev):
            if ev.kind != "branch":
                return False
            if self._known_bp(ev):
                return True  # the curve reached a branch point already handled: stop here (end_event)
            new.append(ev)
            return False

        c = trace(self.fe, x, alpha, t0, self.alpha_range, self.a_scale, x_bound=self.x_bound, on_event=on_event)
        return c, new

    def trace_seed(self, x, alpha):
        """Trace the curve through a seed in both alpha directions and queue its branch points."""
        n = len(x)
        t0 = np.zeros(n + 1)
        t0[n] = 1.0
        fwd, ev_f = self._trace(x, alpha, t0)
        bwd, ev_b = self._trace(x, alpha, -t0)
        curve = _join(bwd, fwd)
        self.curves.append(curve)
        self._handle(ev_b + ev_f)

    def _handle(self, events):
        """Register new branch points first (so that no trace runs through an unregistered one), then switch."""
        fresh = []
        for ev in events:
            fix = self.isotropy(ev.x)
            ev.x = np.mean([S @ ev.x for S in fix], axis=0)  # project on the fixed space of its isotropy
            if not self._known_bp(ev):
                self.branch_points.append(ev)
                fresh.append(ev)
        for ev in fresh:
            self._switch_all(ev)

    def isotropy(self, x, tol: float = 1e-5) -> list:
        """Symmetries that fix ``x`` (tolerance relative to ``max |x|``; loose because the symmetry-breaking
        component of a state is ill-determined at a branch point, where the Hessian is singular)."""
        scale = max(1.0, float(np.max(np.abs(x))))
        return [S for S in self.syms if np.max(np.abs(S @ x - x)) < tol * scale]

    def _directions(self, ev):
        """Switching directions at a branch point (module docstring)."""
        N = ev.null
        fix = self.isotropy(ev.x)
        cands = []
        if N.shape[1] == 1:
            psi = N[:, 0]
            cands = [psi]
            if not any(np.linalg.norm(S @ psi + psi) < 1e-6 for S in fix):
                cands.append(-psi)
            return cands
        # multiple eigenvalue: one-dimensional fixed subspaces of the subgroups generated by one or two
        # symmetries of the branch point (axial directions of the equivariant branching lemma)
        fixed = []
        for S in fix:
            Ms = N.T @ S @ N  # the action on the null space (orthogonal d x d)
            fixed.append(Ms - np.eye(N.shape[1]))
        for i, j in itertools.combinations_with_replacement(range(len(fixed)), 2):
            A = np.vstack([fixed[i], fixed[j]])
            _, sv, Vt = np.linalg.svd(A)
            null = Vt[np.sum(sv > 1e-6):]
            if null.shape[0] != 1:
                continue
            v = N @ null[0]
            v /= np.linalg.norm(v)
            for cand in (v, -v):
                if not any(min(np.linalg.norm(S2 @ cand - c2) for S2 in fix) < 1e-6 for c2 in cands):
                    cands.append(cand)
        return cands

    def _switch_all(self, ev):
        for psi in self._directions(ev):
            if self._traced_direction(ev, psi):
                self.switched.append((ev, psi, None))
                continue
            try:
                x1, a1, t1 = switch_branch(self.fe, ev, psi, self.a_scale)
            except (ContinuationError, np.linalg.LinAlgError):
                self.switched.append((ev, psi, None))
                continue
            lo, hi = self.alpha_range
            if not lo <= a1 <= hi:
                self.switched.append((ev, psi, None))
                continue
            c, new = self._trace(x1, a1, t1)
            # prepend the branch point so that the child starts on its parent
            d = self.fe.derivatives(ev.x, ev.alpha)
            c = WindowCurve(
                np.vstack([ev.x[None], c.x]), np.concatenate([[ev.alpha], c.alpha]), np.concatenate([[d[0]], c.F]),
                np.vstack([np.linalg.eigvalsh(d[2])[None], c.eigs]), np.concatenate([[ev.residual], c.residual]),
                c.events, ("branch_point", c.end_reasons[1]), [p + 1 for p in c.event_pos],
                start_event=ev, end_event=c.end_event,
            )
            self.curves.append(c)
            self.switched.append((ev, psi, len(self.curves) - 1))
            self._handle(new)

    # ---------------------------------------------------------------- seeds
    def structured_starts(self) -> list:
        """Each head uniform, on one parent, or spread over all parents (multisets over heads), at two
        amplitudes; linear attention also gets alternating signs."""
        fe = self.fe
        H, K, T = fe.H, fe.K, fe.T
        pats = ["u"] + list(range(1, K + 1)) + ["all"]
        amps = (2.5, 6.0) if fe.softmax else (0.3, 0.8)
        out = []
        for combo in itertools.combinations_with_replacement(pats, H):
            for amp in amps:
                for sign in ((1.0,) if fe.softmax else (1.0, -1.0)):
                    w = np.zeros((H, T))
                    for h, pt in enumerate(combo):
                        if pt == "u":
                            continue
                        if pt == "all":
                            w[h, 1:K + 1] = 0.7 * amp * (sign ** np.arange(K))
                        else:
                            w[h, pt] = amp
                    if not fe.softmax and not w.any():
                        w[:, 1:K + 1] = 1e-3
                    out.append(fe.state(w))
        return out

    def local_minima(self, alpha, starts) -> list:
        """Distinct (modulo symmetry) local minima at ``alpha`` from the starts (trust-region Newton)."""
        fe = self.fe
        mins = []
        for x0 in starts:
            out = minimize(lambda z: fe.derivatives(z, alpha)[0], x0, jac=lambda z: fe.derivatives(z, alpha)[1],
                           hess=lambda z: fe.derivatives(z, alpha)[2], method="trust-exact",
                           options={"gtol": 1e-11, "maxiter": 500})
            try:
                x, _ = newton_state(fe, out.x, alpha)
            except ContinuationError:
                continue
            if np.max(np.abs(fe.logits(x))) > self.x_bound:
                continue
            if np.linalg.eigvalsh(fe.derivatives(x, alpha)[2])[0] <= 0:
                continue
            if not any(self.same_point(x, alpha, y, alpha, 1e-5) for y in mins):
                mins.append(x)
        return mins

    def run(self, n_seed_alphas: int = 5, avoid=()):
        """Seeds at ``n_seed_alphas`` alphas spread geometrically inside the window. A seed within ``1e-6``
        (relative) of an alpha in ``avoid`` (the events of the fully symmetric branch) is moved up by 1 %:
        the automatic window ``[a/2, 2a]`` around a single branch point ``a`` (linear attention) has ``a``
        itself as its geometric midpoint, where a seed sits on the branch point (singular Newton; it failed
        at nu = 0.3)."""
        lo, hi = self.alpha_range
        starts = self.structured_starts()
        seeds = np.geomspace(lo, hi, n_seed_alphas + 2)[1:-1]
        seeds = [a * 1.01 if any(abs(a - e) <= 1e-6 * e for e in avoid) else a for a in seeds]
        for alpha in seeds:
            for x in self.local_minima(alpha, starts):
                if not self.on_curve(x, alpha):
                    self.trace_seed(x, alpha)
        return self

    # ---------------------------------------------------------------- branches
    def branches(self) -> list:
        out = []
        for ic, c in enumerate(self.curves):
            out.extend(split_curve(self.fe, self._attach_known_bps(c), ic))
        return out

    def _attach_known_bps(self, c: WindowCurve) -> WindowCurve:
        """Insert the known branch points that a curve passes through without an event of its own (the
        vertex of a pitchfork: the critical eigenvalue of the bifurcating branch touches zero without
        crossing) as events, so that the pieces on either side start there."""
        own = [e for e in c.events] + [e for e in (c.start_event, c.end_event) if e is not None]
        Y = np.hstack([c.x, (c.alpha / self.a_scale)[:, None]])
        U = Y[1:] - Y[:-1]
        L = np.maximum(np.linalg.norm(U, axis=1), 1e-300)
        inserts = []
        for bp in self.branch_points:
            if any(e is bp or self.same_point(e.x, e.alpha, bp.x, bp.alpha, 1e-5) for e in own):
                continue
            yb = np.concatenate([bp.x, [bp.alpha / self.a_scale]])
            lam_ = np.clip(np.sum((yb - Y[:-1]) * U, axis=1) / L**2, 0.0, 1.0)
            dist = np.linalg.norm(Y[:-1] + lam_[:, None] * U - yb, axis=1)
            i = int(np.argmin(dist))
            if dist[i] < 0.02 * L[i] + 1e-9 and 0.0 < lam_[i] < 1.0:
                inserts.append((i, bp))
        if not inserts:
            return c
        events, pos = list(c.events), list(c.event_pos)
        for i, bp in inserts:  # the event lies between points i and i + 1 (split_curve adds its state)
            events.append(bp)
            pos.append(i)
        return WindowCurve(c.x, c.alpha, c.F, c.eigs, c.residual, events,
                           c.end_reasons, pos, start_event=c.start_event, end_event=c.end_event)


def _on_segment(fe, x0, a0, x1, a1, alpha):
    """The curve point with the given alpha between two neighbouring curve points: corrected chord
    points ``y(sigma)`` (Newton orthogonal to the chord) and Brent's method on ``alpha(y(sigma))``;
    regular at a fold, where Newton at fixed alpha is singular. None if it fails."""
    from scipy.optimize import brentq

    from .window_continuation import _correct

    a_scale = max(abs(a1 - a0), 1e-12)
    y0 = np.concatenate([x0, [a0 / a_scale]])
    y1 = np.concatenate([x1, [a1 / a_scale]])
    t = (y1 - y0) / np.linalg.norm(y1 - y0)
    n = len(x0)

    def corrected(sig):
        out = _correct(fe, y0 + sig * (y1 - y0), t, a_scale, maxit=30)
        if out is None:
            raise ContinuationError("corrector failed on a segment")
        return out[0]

    try:
        f = lambda sig: corrected(sig)[n] * a_scale - alpha  # noqa: E731
        f0, f1 = f(0.0), f(1.0)
        if f0 * f1 > 0:
            return None
        sig = brentq(f, 0.0, 1.0, xtol=1e-15, rtol=1e-15, maxiter=200)
        return corrected(sig)[:n]
    except ContinuationError:
        return None


def _join(bwd: WindowCurve, fwd: WindowCurve) -> WindowCurve:
    nb = len(bwd.alpha)
    cat = lambda a, b: np.concatenate([a[::-1], b[1:]])  # noqa: E731
    pos_b = [nb - 2 - p for p in bwd.event_pos]
    pos_f = [nb - 1 + p for p in fwd.event_pos]
    return WindowCurve(
        np.vstack([bwd.x[::-1], fwd.x[1:]]), cat(bwd.alpha, fwd.alpha), cat(bwd.F, fwd.F),
        np.vstack([bwd.eigs[::-1], fwd.eigs[1:]]), cat(bwd.residual, fwd.residual),
        bwd.events[::-1] + fwd.events, (bwd.end_reasons[1], fwd.end_reasons[1]), pos_b[::-1] + pos_f,
        start_event=bwd.end_event, end_event=fwd.end_event,
    )


def split_curve(fe, c: WindowCurve, ic: int) -> list:
    """Pieces of constant Morse index, cut at the events (event points shared by both pieces)."""
    order = sorted(zip(c.event_pos, range(len(c.events))))
    cuts = []
    for p, ie in order:
        cuts.append((p, c.events[ie]))
    pieces = []
    start, ev_start = 0, None
    idx = c.index
    first_event, last_event = c.start_event, c.end_event
    for p, ev in cuts + [(len(c.alpha) - 1, None)]:
        sl = list(range(start, p + 1))
        xs = [c.x[i] for i in sl]
        al = [c.alpha[i] for i in sl]
        res = [c.residual[i] for i in sl]
        if ev_start is not None:
            xs.insert(0, ev_start.x)
            al.insert(0, ev_start.alpha)
            res.insert(0, ev_start.residual)
        if ev is not None:
            xs.append(ev.x)
            al.append(ev.alpha)
            res.append(ev.residual)
        if len(sl) >= 1 and len(xs) >= 2:
            morse = int(np.round(np.median(idx[start:p + 1])))
            e0 = ev_start if ev_start is not None or start > 0 else first_event
            e1 = ev if ev is not None else (last_event if p == len(c.alpha) - 1 else None)
            pieces.append(_make_branch(fe, ic, morse, np.array(al), np.array(xs), np.array(res), e0, e1))
        start, ev_start = p + 1, ev
    return pieces


def _make_branch(fe, ic, morse, al, xs, res, ev0, ev1) -> WindowBranch:
    F = np.array([fe.value(x, a) for x, a in zip(xs, al)])
    MR = [fe.order_parameters(x) for x in xs]
    M = np.array([m for m, _ in MR])
    R = np.array([r for _, r in MR])
    q = np.array([specialisation(fe, m) for m in M])
    labels = [phase_label(fe, x) for x in xs]
    a = np.array([alignment(m, copy_threshold(fe)) for m in M])
    return WindowBranch(ic, morse, al, xs, F, res, M, R, q, labels, ev0, ev1, a)
