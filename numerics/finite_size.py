"""The theory of one model at finite size: :class:`FiniteSizeTheory`.

At finite ``V`` the log posterior of the scores is ``-V^2 F_V(S)`` with ``F_V = F - e1/V``
(THEORY.md §3; ``theory/finite_size.py``). A :class:`FiniteSizeTheory` holds, for one
:class:`~copyhead.theory.model.Model` with ``V`` set,

* the sizes: the model *is* the finite-size object (``N = round(nu V^2)``,
  ``P = round(alpha kappa V^2 / T)``, ``alpha_effective``, ``nu_effective``: ``Model``); the theory
  is evaluated at the realised ``nu = N/V^2`` and, for a run at nominal ``alpha``, at its realised
  ``alpha = P T/(kappa V^2)`` (:meth:`FiniteSizeTheory.alpha_of_run`), so that theory, Monte Carlo
  and training use the same units;
* the ``V = inf`` solution at the realised ``nu`` (:func:`copyhead.numerics.solve`, computed once);
* the corrected landscape ``F_V`` on the reduced variable (``x = s`` softmax, ``x = u = m^2``
  linear), its minima and their branch labels (:meth:`~FiniteSizeTheory.minima`), the spinodal
  window and the coexistence of ``F_V`` (softmax), the linear two-direction family
  ``S = m J + (a/T) 11^T``, the one-loop ``alpha_c(V)`` (softmax) and the one-loop ``<|m|>``
  (linear);
* the theory point of a chain or a training run (:meth:`~FiniteSizeTheory.point`): the minimum of
  ``F_V`` nearest the measured ``m``, its branch, and the ``V = inf`` minimum of the same branch.

Branch labels. Minima are sorted by ``m``. Softmax: with two or more minima the lowest is
``"disordered"`` and the others ``"copy"``; a single minimum is ``"copy"`` if ``m > 1/2`` else
``"disordered"``. Linear: the minimum at ``m = 0`` is ``"symmetric"``, any other ``"ordered"``.
The same rule labels the ``V = inf`` minima, so that a chain on the finite-V metastable branch
is compared with that branch (and with no ``V = inf`` value where ``V = inf`` has no such branch).

Minima of ``F_V`` are found on a dense grid of ``x`` (4001 points; softmax ``s`` in ``[-3, 10]``,
widened to cover the ``V = inf`` stable branches) and refined by bounded Brent minimisation between
the neighbouring grid points (``xatol = 1e-11``); a linear ``"ordered"`` minimum is then refined on
the two-direction family (Nelder-Mead from the ``V = inf`` ordered point, or from the 1-D minimum
where ``V = inf`` has none), because ``e1``'s row-sum terms favour ``a != 0``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Optional

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from copyhead.theory.finite_size import e1, e1_from_statistics, e1_linear, e1_softmax_symmetric, e1_statistics
from copyhead.theory.order_parameters import shift_matrix, softmax_rows
from copyhead.theory.model import Model, ParameterError

from .kernels import Kernel
from .solve import Result, Transition, solve

N_GRID = 4001  # grid of x for the minima and the spinodal window
N_GRID_FINE = 20001  # grid of x for the coexistence


@dataclass(frozen=True)
class Minimum:
    """A local minimum of ``F`` (``V = inf``) or ``F_V`` at one alpha."""

    x: float  # reduced variable: s (softmax) or u = m^2 (linear)
    m: float  # copy weight m(A) (linear: m_A of the two-direction family, >= 0)
    r: float  # self-overlap r(A)
    F: float  # value of the landscape there
    branch: str = ""  # "disordered" | "copy" | "symmetric" | "ordered"


@dataclass(frozen=True)
class TheoryPoint:
    """The theory for one chain / run at the theory's ``alpha`` (the run's realised alpha)."""

    alpha: float
    branch: str  # branch of the minimum of F - e1/V nearest the measured m
    m: Optional[float]  # V = inf minimum of the same branch (None: V = inf has no such branch here)
    r: Optional[float]
    m_corrected: float  # the minimum of F - e1/V nearest the measured m
    r_corrected: float
    n_stable: int  # minima of F - e1/V at alpha (2: inside the finite-V spinodal window)
    n_stable_inf: int  # minima of F at alpha (V = inf)

    @property
    def reference(self) -> float:
        """The value a measurement is compared with: ``m_corrected``."""
        return self.m_corrected


def _label(minima: list, attention: str) -> list:
    """Branch names of minima sorted by ``m`` (module docstring)."""
    if attention == "linear":
        return [Minimum(q.x, q.m, q.r, q.F, "symmetric" if q.m == 0.0 else "ordered") for q in minima]
    if len(minima) == 1:
        q = minima[0]
        return [Minimum(q.x, q.m, q.r, q.F, "copy" if q.m > 0.5 else "disordered")]
    return [Minimum(q.x, q.m, q.r, q.F, "disordered" if i == 0 else "copy") for i, q in enumerate(minima)]


def grid_minima(F: np.ndarray, xs: np.ndarray) -> list:
    """Interior local minima ``(x, F)`` of a landscape sampled on the grid ``xs``."""
    d = np.diff(F)
    idx = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0] + 1
    return [(xs[i], F[i]) for i in idx]


def realised_model(model: Model, alpha: float) -> Model:
    """The ``V = inf`` model at the ``alpha`` and ``nu`` realised by the rounded ``P`` and ``N`` at
    ``model.V`` (``alpha_effective = P T/(kappa V^2)``, ``nu_effective = N/V^2``); the landscape
    study's helper (:attr:`FiniteSizeTheory.limit` is the same model without the alpha)."""
    fin = model.replace(alpha=alpha)
    return model.replace(V=None, alpha=fin.alpha_effective, nu=fin.nu_effective)


@lru_cache(maxsize=64)
def _solved(limit: Model, alpha_range: Optional[tuple] = None) -> Result:
    return solve(limit, alpha_range=alpha_range)


class FiniteSizeTheory:
    """The finite-V theory of ``model`` (``model.V`` set; ``model.alpha`` is ignored).

    Every method takes the theory's ``alpha`` (continuous); for a run at nominal ``alpha`` use
    :meth:`run_point` (or :meth:`alpha_of_run`), which realises it as the run does.
    """

    def __init__(self, model: Model):
        if not isinstance(model, Model):
            raise ParameterError("model", type(model).__name__, "must be a theory.model.Model")
        self.model = model
        self.V = model.require_V()
        self.limit = model.replace(V=None, alpha=None, nu=model.nu_effective)
        """The ``V = inf`` model at the realised ``nu = N/V^2``."""
        self.kernel = Kernel(self.limit)
        self._minima, self._stats = {}, {}

    def __repr__(self) -> str:
        return f"FiniteSizeTheory({self.model!r})"

    # ------------------------------------------------------------------ sizes and the V = inf solution
    def alpha_of_run(self, alpha: float) -> float:
        """The alpha realised by a run at nominal ``alpha``: ``P T/(kappa V^2)``, ``P = round(alpha kappa V^2/T)``."""
        return self.model.replace(alpha=alpha).alpha_effective

    @cached_property
    def solution(self) -> Result:
        """The ``V = inf`` solution at the realised ``nu`` (automatic alpha window)."""
        return _solved(self.limit)

    @property
    def transition(self) -> Transition:
        return self.solution.transition

    def _solution_covering(self, alpha: float) -> Result:
        res = self.solution
        if not (res.alpha_range[0] <= alpha <= res.alpha_range[1]):
            lo, hi = min(res.alpha_range[0], 0.5 * alpha), max(res.alpha_range[1], 2.0 * alpha)
            res = _solved(self.limit, (lo, hi))
        return res

    def limit_minima(self, alpha: float) -> list:
        """Minima of ``F`` (``V = inf``) at ``alpha``: the stable branches there, sorted by ``m``, labelled."""
        k = self.kernel
        xs = [b.x_at(k, alpha) for b in self._solution_covering(alpha).branches if b.stable and b.covers(alpha)]
        mins = sorted((Minimum(float(x), float(k.m_of_x(x)), float(k.r_of_x(x)), float(k.F(x, alpha))) for x in xs),
                      key=lambda q: (q.m, q.x))
        return _label(mins, self.model.attention)

    # ------------------------------------------------------------------ the corrected landscape
    def e1(self, x, alpha: float):
        """``e1`` on the reduced family at ``x`` (posterior or MAP objective, as the model says)."""
        lm = self.limit
        if lm.attention == "softmax":
            return e1_softmax_symmetric(x, lm.T, alpha, lm.sigma2, lm.kappa, lm.objective)
        m = np.sqrt(np.maximum(np.asarray(x, float), 0.0))
        return e1_linear(m, lm.T, alpha, lm.sigma2, lm.kappa, lm.objective)

    def F_V(self, x: float, alpha: float) -> float:
        """``F(x) - e1(x)/V`` at one point."""
        return self.kernel.F(x, alpha) - float(self.e1(float(x), alpha)) / self.V

    def _statistics(self, xs: np.ndarray) -> tuple:
        """The alpha-independent statistics of ``A(x)`` that enter ``e1`` (cached per grid)."""
        key = (len(xs), float(xs[0]), float(xs[-1]), float(xs.sum()))
        if key not in self._stats:
            T = self.model.T
            if self.model.attention == "softmax":
                A = softmax_rows(xs[:, None, None] * (shift_matrix(T) - np.ones((T, T)) / T))
            else:
                A = np.sqrt(np.maximum(xs, 0.0))[:, None, None] * shift_matrix(T)
            self._stats[key] = e1_statistics(A)
        return self._stats[key]

    def landscape(self, alphas, xs) -> np.ndarray:
        """``F_V(x) = F(x) - e1(x)/V`` on the grid ``alphas x xs`` (the same numbers as :meth:`F_V`
        point by point: ``e1`` from its statistics of ``A(x)``, computed once per grid)."""
        alphas = np.atleast_1d(np.asarray(alphas, float))
        xs = np.asarray(xs, float)
        F = self.kernel.grid(xs, alphas)[:, :, 0]
        lm = self.limit
        e = e1_from_statistics(*self._statistics(xs), alphas[:, None], lm.sigma2, lm.kappa, lm.objective)
        return F - e / self.V

    @cached_property
    def _s_range(self) -> tuple:
        """Softmax grid ``[-3, 10]``, widened to cover the ``V = inf`` stable branches (+-3)."""
        xs = [x for b in self.solution.branches if b.stable for x in (float(b.x.min()), float(b.x.max()))]
        return min(-3.0, min(xs, default=0.0) - 3.0), max(10.0, max(xs, default=0.0) + 3.0)

    def grid(self, alpha: Optional[float] = None, n: int = N_GRID) -> np.ndarray:
        """The grid of ``x`` on which minima are looked for (linear: ``u`` in ``[0, max(4, 3 u_inf)]`` at ``alpha``)."""
        if self.model.attention == "softmax":
            return np.linspace(*self._s_range, n)
        u = max([q.x for q in self.limit_minima(alpha)], default=0.0)
        return np.linspace(0.0, max(4.0, 3.0 * u), n)

    def _refine(self, xs: np.ndarray, i: int, alpha: float) -> float:
        if i == 0:
            return float(xs[0])  # boundary minimum (linear: m = 0)
        opt = minimize_scalar(lambda x: self.F_V(x, alpha), bounds=(xs[i - 1], xs[min(i + 1, len(xs) - 1)]),
                              method="bounded", options={"xatol": 1e-11})
        return float(opt.x)

    def minima(self, alpha: float) -> list:
        """Minima of ``F_V`` at ``alpha``, sorted by ``m`` and labelled (module docstring)."""
        alpha = float(alpha)
        if alpha not in self._minima:
            self._minima[alpha] = self._find_minima(alpha)
        return self._minima[alpha]

    def _find_minima(self, alpha: float) -> list:
        xs = self.grid(alpha)
        G = self.landscape([alpha], xs)[0]
        idx = [i for i in range(1, len(xs) - 1) if G[i - 1] > G[i] <= G[i + 1]]
        if self.model.attention == "linear" and G[0] <= G[1]:
            idx = [0] + idx
        k, out = self.kernel, []
        for i in idx:
            x = self._refine(xs, i, alpha)
            q = Minimum(x, float(k.m_of_x(x)), float(k.r_of_x(x)), self.F_V(x, alpha))
            if self.model.attention == "linear" and x > 0.0:
                q = self._linear_2d(q, alpha)
            out.append(q)
        return _label(sorted(out, key=lambda q: (q.m, q.x)), self.model.attention)

    def point(self, alpha: float, m: Optional[float] = None) -> TheoryPoint:
        """The theory for a chain / run with mean copy weight ``m`` (linear: ``<|m|>``) at the theory's
        ``alpha``: the minimum of ``F_V`` nearest ``m`` (the global one if ``m`` is None)."""
        mins = self.minima(alpha)
        if not mins:
            raise ParameterError("alpha", alpha, "F - e1/V has no minimum on the grid here")
        q = min(mins, key=lambda t: t.F) if m is None else min(mins, key=lambda t: abs(t.m - m))
        lim = self.limit_minima(alpha)
        same = [p for p in lim if p.branch == q.branch]
        p = min(same, key=lambda t: abs(t.m - q.m)) if same else None
        return TheoryPoint(float(alpha), q.branch, None if p is None else p.m, None if p is None else p.r,
                           q.m, q.r, len(mins), len(lim))

    def run_point(self, alpha: float, m: Optional[float] = None) -> TheoryPoint:
        """:meth:`point` for a run at nominal ``alpha`` (evaluated at its realised alpha)."""
        return self.point(self.alpha_of_run(alpha), m)

    # ------------------------------------------------------------------ linear: two-direction family
    def linear_family(self, m: float, a: float, alpha: float, corrected: bool = True) -> float:
        """``F_V`` (``F`` if not ``corrected``) of linear attention on ``S = m J + (a/T) 11^T``.

        ``S`` is circulant: singular values ``|m|`` (``T-1`` times) and ``|m + a|``, so
        ``J(S) = (T-1) j(m) + j(m+a)``; ``A = S`` has ``m_A = m + a/T``, ``r_A = m^2 + 2 m a/T + a^2/T``.
        At ``V = inf`` the minimum has ``a = 0`` (``S = m J``, THEORY.md §4); at finite ``V`` the
        row-sum terms of ``e1`` favour ``a != 0``, a direction the 1-D reduction does not contain.
        """
        from copyhead.theory.energy import energy_numeric
        from copyhead.theory.order_parameters import shift_matrix
        from copyhead.theory.prior import rate

        lm = self.limit
        T = lm.T
        mA, rA = m + a / T, m * m + 2 * m * a / T + a * a / T
        F = lm.nu * ((T - 1) * rate(m, lm.prior, lm.objective) + rate(m + a, lm.prior, lm.objective))
        F = float(F) - float(energy_numeric(mA, rA, alpha, lm.sigma2, lm.objective))
        if corrected:
            A = m * shift_matrix(T) + a / T * np.ones((T, T))
            F -= float(e1(A, alpha, lm.sigma2, lm.kappa, lm.objective)) / self.V
        return F

    def _linear_2d(self, q: Minimum, alpha: float) -> Minimum:
        """Refine an ordered minimum on the two-direction family (Nelder-Mead from ``(m0, 0)``)."""
        ordered = [p for p in self.limit_minima(alpha) if p.m > 0.0]
        m0 = min(ordered, key=lambda p: abs(p.m - q.m)).m if ordered else q.m
        out = minimize(lambda p: self.linear_family(p[0], p[1], alpha), np.array([m0, 0.0]), method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000})
        if not out.success:
            return q  # the 1-D (a = 0) minimum
        m, a = out.x
        T = self.model.T
        return Minimum(q.x, float(m + a / T), float(m * m + 2 * m * a / T + a * a / T), float(out.fun))

    def one_loop_linear(self, alpha: float) -> dict:
        """One-loop ``<|m|>`` and ``<r>`` of linear attention at ``alpha`` (``theory.one_loop.one_loop_linear``)."""
        from copyhead.theory.one_loop import one_loop_linear

        return one_loop_linear(self.limit.replace(alpha=alpha), alpha, self.V)

    # ------------------------------------------------------------------ softmax: window and coexistence
    def _require_softmax(self, what: str) -> None:
        if self.model.attention != "softmax":
            raise ParameterError("attention", self.model.attention, f"the {what} is computed for softmax only")

    def spinodals(self, alpha_lo: float, alpha_hi: float, n: int = 60, tol: float = 1e-4):
        """Spinodal window of ``F_V`` (softmax): alphas where the number of minima changes.

        Dense scan in alpha (``n`` points), each change refined by bisection to ``tol``.
        Returns ``(alpha_low, alpha_high)`` (``alpha_high`` None if only one edge is bracketed) or
        None if there is no bistable window at this V.
        """
        self._require_softmax("spinodal window")
        xs = self.grid()
        nm = lambda a: len(grid_minima(self.landscape([a], xs)[0], xs))  # noqa: E731
        grid = np.linspace(alpha_lo, alpha_hi, n)
        counts = [len(grid_minima(G, xs)) for G in self.landscape(grid, xs)]
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

    def window_bracket(self):
        """Where to look for the finite-V window: the ``V = inf`` window widened by twice its width
        on each side, or ``alpha_c x [0.5, 1.5]`` for a crossover; None without a transition."""
        t = self.transition
        if t.alpha_spinodal_low is not None and t.alpha_spinodal_high is not None:
            w = t.alpha_spinodal_high - t.alpha_spinodal_low
            return max(1e-3, t.alpha_spinodal_low - 2 * w), t.alpha_spinodal_high + 2 * w
        if getattr(t, "alpha_c", None) is None:
            return None
        return 0.5 * t.alpha_c, 1.5 * t.alpha_c

    @cached_property
    def window(self):
        """The spinodal window of ``F_V`` (softmax; None for linear attention or where there is none)."""
        if self.model.attention != "softmax":
            return None
        br = self.window_bracket()
        win = None if br is None else self.spinodals(*br)
        return None if win is None else tuple(None if a is None else float(a) for a in win)

    def coexistence(self, alpha_lo: float, alpha_hi: float, tol: float = 1e-6):
        """Alpha where the two minima of ``F_V`` have equal value (softmax), by bisection inside the
        window found on ``[alpha_lo, alpha_hi]``. Returns ``(alpha_c, m_saddle)`` or None."""
        win = self.spinodals(alpha_lo, alpha_hi)
        if win is None or win[1] is None:
            return None
        xs = self.grid(n=N_GRID_FINE)

        def dF(a):
            mins = grid_minima(self.landscape([a], xs)[0], xs)
            return None if len(mins) < 2 else mins[-1][1] - mins[0][1]

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
        F = self.landscape([a], xs)[0]
        mins = grid_minima(F, xs)
        between = (xs > mins[0][0]) & (xs < mins[-1][0])
        return float(a), float(self.kernel.m_of_x(xs[between][np.argmax(F[between])]))

    def one_loop_alpha_c(self, alpha_lo: float, alpha_hi: float):
        """One-loop coexistence (equal basin ``log Z`` incl. the qk prefactor, ``theory.one_loop_softmax``)
        inside the finite-V window found on ``[alpha_lo, alpha_hi]``; None where there is none."""
        from copyhead.theory.one_loop_softmax import one_loop_coexistence

        win = self.spinodals(alpha_lo, alpha_hi)
        if win is None or win[1] is None:
            return None
        pad = 1e-3 * (win[1] - win[0])
        try:
            return float(one_loop_coexistence(self.limit, self.V, win[0] + pad, win[1] - pad))
        except (ParameterError, ValueError, RuntimeError):
            return None  # no sign change of log Z_copy - log Z_dis inside the window

    # ------------------------------------------------------------------ choices for the samplers
    def default_alphas(self) -> list:
        """Alphas around the transition (``V = inf``, realised ``nu``): softmax
        ``alpha_c x (0.84, 0.92, 1, 1.05, 1.09, 1.18, 1.26)`` (20..30 for the default model), linear
        ``alpha_c x (0.5, 0.8, 0.95, 1.05, 1.15, 1.3, 1.5, 2)``, rounded to 0.1."""
        t = self.transition
        if getattr(t, "alpha_c", None) is None:
            raise ParameterError("alphas", None, "the V = inf theory has no transition to centre them on: give them")
        f = (0.84, 0.92, 1.0, 1.05, 1.09, 1.18, 1.26) if self.model.attention == "softmax" else \
            (0.5, 0.8, 0.95, 1.05, 1.15, 1.3, 1.5, 2.0)
        return sorted({round(t.alpha_c * x, 1) for x in f})

    def copy_start_scales(self, alphas) -> list:
        """Per nominal alpha, the scale of the copy start: the ``V = inf`` copy branch's ``s`` (softmax)
        or ``m`` (linear) at the run's realised alpha.

        Where the copy branch does not exist at that alpha (below its spinodal) the copy-branch end
        point (its fold) is used for softmax, and ``m = 1`` for linear attention. Starting at the
        branch rather than far above it keeps the first HMC trajectories from converting the
        potential drop into enough momentum to cross the barrier.
        """
        out = []
        for a in alphas:
            a = self.alpha_of_run(a)
            res = self._solution_covering(a)
            stable = [b for b in res.branches if b.stable and b.kind == "smooth"]
            top = max(stable, key=lambda b: float(b.m.max()))  # the copy / ordered branch
            if top.covers(a):
                x = top.x_at(self.kernel, a)
            elif self.model.attention == "softmax":
                x = float(top.x[0]) if a < top.alpha_min else float(top.x[-1])
            else:
                x = 1.0
            out.append(float(x) if self.model.attention == "softmax" else float(math.sqrt(max(x, 0.0))) or 1.0)
        return out
