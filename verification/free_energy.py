"""Free energy along a collective variable from umbrella sampling, by MBAR (pymbar 4).

Umbrella sampling (Torrie & Valleau 1977): window ``k`` samples the biased density

.. math::

    p_k(x) \\propto p(x)\\, e^{-w_k(\\xi(x))},\\qquad w_k(\\xi) = \\tfrac{\\kappa}{2}(\\xi - c_k)^2 ,

(``kappa`` in units of kT per unit ``xi^2``). All windows share the unbiased part ``-log p``,
so the reduced potential of sample ``n`` in state ``k`` is ``u_kn = w_k(xi_n)`` up to a
``k``-independent term, which MBAR (Shirts & Chodera 2008) ignores. One extra state with
``u = 0`` and no samples is the unbiased target; its MBAR weights ``W_n``
(``sum_n W_n = 1``) give every unbiased average, without binning:

* basin probability ``P(xi > xi*) = sum_n W_n 1[xi_n > xi*]``, hence
  ``log_odds = ln Z_copy - ln Z_uniform = ln P(xi > xi*) - ln P(xi <= xi*)`` (basins split at
  ``xi*``, the barrier top of the profile; MBAR's analytic error by ``compute_expectations``);
* the profile ``F(xi) = -ln p(xi)`` (units of kT, ``p`` the normalised marginal density of
  ``xi``) on bins: ``F_b = -ln(sum_{n in b} W_n / Delta_b)`` (the histogram estimator of
  ``pymbar.FES``).

MBAR assumes uncorrelated samples: every window's trace is thinned by its statistical
inefficiency (``pymbar.timeseries``, on ``xi``) before the analysis (:func:`decorrelate`).
MBAR's analytic errors then assume that ``xi`` is the slowest variable; the error bars that
are reported as final come from independent runs (:func:`combine_runs`), which also see slow
hidden variables.
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
from dataclasses import dataclass

import numpy as np

from copyhead.theory.model import ParameterError

__all__ = ["decorrelate", "UmbrellaMBAR", "umbrella_mbar", "split_at_barrier", "combine_runs", "bin_edges"]


@contextlib.contextmanager
def _quiet():
    """pymbar prints a JAX banner on import and warns on every timeseries call; keep stderr clean."""
    loggers = [logging.getLogger(n) for n in ("pymbar", "pymbar.timeseries", "pymbar.mbar", "pymbar.fes",
                                              "pymbar.mbar_solvers")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _pymbar():
    with _quiet():
        import pymbar
        import pymbar.timeseries  # noqa: F401
    return pymbar


def decorrelate(x) -> np.ndarray:
    """Indices of an (approximately) uncorrelated subsample of the trace ``x``.

    Every ``g``-th draw, ``g`` the statistical inefficiency ``1 + 2 tau`` of ``x``
    (``pymbar.timeseries.statistical_inefficiency(fast=True)``, Chodera et al. 2007, and
    ``subsample_correlated_data``);
    a constant trace keeps every draw.
    """
    x = np.asarray(x, float)
    if x.ndim != 1 or x.size < 4:
        raise ParameterError("x", x.shape, "must be a 1-D trace with at least 4 draws")
    if np.ptp(x) == 0.0:
        return np.arange(x.size)
    pm = _pymbar()
    with _quiet():
        g = pm.timeseries.statistical_inefficiency(x, fast=True)
        return np.asarray(pm.timeseries.subsample_correlated_data(x, g=g), dtype=int)


def bin_edges(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` equal bins on ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo) or int(n) < 2:
        raise ParameterError("bins", (lo, hi, n), "need finite lo < hi and n >= 2")
    return np.linspace(lo, hi, int(n) + 1)


@dataclass
class UmbrellaMBAR:
    """MBAR solution of one umbrella run (all windows of one independent run).

    Attributes
    ----------
    xi : (n,) pooled decorrelated samples of the collective variable
    weights : (n,) MBAR weights of the unbiased state (sum 1)
    f_k : (K,) dimensionless window free energies (first window 0)
    n_k : (K,) decorrelated samples per window
    g_k : (K,) statistical inefficiency of each window's trace
    overlap_min : smallest overlap-matrix element between neighbouring windows (MBAR's
        ``compute_overlap``; below ~0.03 the windows are poorly connected)
    """

    xi: np.ndarray
    weights: np.ndarray
    f_k: np.ndarray
    n_k: np.ndarray
    g_k: np.ndarray
    overlap_min: float
    mbar: object = None

    def prob_above(self, split: float) -> float:
        """``P(xi > split)`` in the unbiased state."""
        return float(self.weights[self.xi > split].sum())

    def log_odds(self, split: float) -> float:
        """``ln P(xi > split) - ln P(xi <= split)`` (``ln Z_copy - ln Z_uniform``); +-inf if a side is empty."""
        above = self.weights[self.xi > split].sum()
        below = self.weights[self.xi <= split].sum()
        with np.errstate(divide="ignore"):
            return float(np.log(above) - np.log(below))

    def log_odds_analytic_err(self, split: float) -> float:
        """MBAR's analytic standard error of :meth:`log_odds` (``compute_expectations`` of the
        indicator, then the delta method ``d logit p = dp / (p (1 - p))``)."""
        with _quiet(), np.errstate(divide="ignore", invalid="ignore"):
            out = self.mbar.compute_expectations((self.xi > split).astype(float), compute_uncertainty=True)
        p, dp = float(out["mu"][-1]), float(out["sigma"][-1])
        if not 0.0 < p < 1.0:
            return float("inf")
        return dp / (p * (1.0 - p))

    def profile(self, edges) -> tuple:
        """Profile ``F(xi) = -ln p(xi)`` (kT; ``p`` the normalised density of ``xi``) on bins:
        ``F_b = -ln(sum_{n in b} W_n / Delta_b)`` (the histogram estimator of ``pymbar.FES``).
        Returns ``(centres, F)``; empty bins give ``inf``."""
        edges = np.asarray(edges, float)
        centres = 0.5 * (edges[1:] + edges[:-1])
        idx = np.digitize(self.xi, edges) - 1
        ok = (idx >= 0) & (idx < centres.size)
        mass = np.bincount(idx[ok], weights=self.weights[ok], minlength=centres.size)
        with np.errstate(divide="ignore"):
            return centres, -np.log(mass / np.diff(edges))


def umbrella_mbar(xi_by_window, centres, spring, thin: bool = True) -> UmbrellaMBAR:
    """Solve MBAR for one umbrella run.

    Parameters
    ----------
    xi_by_window : sequence of 1-D arrays
        Post-warm-up trace of the collective variable in each window (window ``k`` biased by
        ``spring/2 (xi - centres[k])^2``).
    centres : (K,) window centres
    spring : float or (K,) spring constant(s) in kT per unit ``xi^2``
    thin : subsample every trace by its statistical inefficiency (:func:`decorrelate`)

    Returns
    -------
    :class:`UmbrellaMBAR`
    """
    centres = np.asarray(centres, float)
    K = centres.size
    if len(xi_by_window) != K or K < 1:
        raise ParameterError("xi_by_window", len(xi_by_window), f"needs one trace per window ({K})")
    spring = np.broadcast_to(np.asarray(spring, float), (K,))
    if not np.all(np.isfinite(spring)) or np.any(spring < 0):
        raise ParameterError("spring", spring.tolist(), "must be finite and >= 0")
    samples, g = [], []
    for tr in xi_by_window:
        tr = np.asarray(tr, float)
        if not np.all(np.isfinite(tr)):
            raise ParameterError("xi", "non-finite", "traces must be finite")
        idx = decorrelate(tr) if thin else np.arange(tr.size)
        samples.append(tr[idx])
        g.append(tr.size / max(idx.size, 1))
    N_k = np.array([s.size for s in samples] + [0])
    xi = np.concatenate(samples)
    u_kn = np.vstack([0.5 * spring[k] * (xi - centres[k]) ** 2 for k in range(K)] + [np.zeros(xi.size)])
    pm = _pymbar()
    with _quiet():
        mbar = pm.MBAR(u_kn, N_k)
        W = np.asarray(mbar.weights())[:, -1]
        f_k = np.asarray(mbar.f_k)[:K] - mbar.f_k[0]
        O = np.asarray(mbar.compute_overlap()["matrix"])
    ov = min((O[k, k + 1] for k in range(K - 1)), default=1.0)
    return UmbrellaMBAR(xi=xi, weights=W / W.sum(), f_k=f_k, n_k=N_k[:K], g_k=np.asarray(g), overlap_min=float(ov),
                        mbar=mbar)


def split_at_barrier(centres, F, lo_basin=None, hi_basin=None):
    """Barrier top between the two deepest basins of a profile ``F`` (kT) sampled at ``centres``.

    The profile is first smoothed with a 3-point running mean (against bin noise); the two
    lowest local minima of the smoothed profile bound the barrier, whose top is the maximum
    between them. With ``lo_basin``/``hi_basin`` given (``xi`` values inside each basin, e.g.
    the theory's minima) the minima are instead the lowest points on either side of their
    midpoint.

    Returns
    -------
    ``(xi_split, F_top - F_min_low, F_top - F_min_high)`` or ``None`` if the profile has only one
    basin (no interior maximum between two minima).
    """
    x = np.asarray(centres, float)
    Fr = np.asarray(F, float)
    ok = np.isfinite(Fr)
    x, Fr = x[ok], Fr[ok]
    if x.size < 5:
        return None
    Fs = np.convolve(np.pad(Fr, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    if lo_basin is not None and hi_basin is not None:
        mid = 0.5 * (lo_basin + hi_basin)
        left, right = np.nonzero(x < mid)[0], np.nonzero(x >= mid)[0]
        if left.size == 0 or right.size == 0:
            return None
        i0 = left[np.argmin(Fs[left])]
        i1 = right[np.argmin(Fs[right])]
    else:
        d = np.diff(Fs)
        mins = [i for i in range(1, x.size - 1) if d[i - 1] < 0 <= d[i]]
        if len(mins) < 2:
            return None
        # the two lowest minima
        i0, i1 = sorted(sorted(mins, key=lambda i: Fs[i])[:2])
    if i1 - i0 < 2:
        return None
    ib = i0 + int(np.argmax(Fs[i0:i1 + 1]))
    if ib in (i0, i1):
        return None
    return float(x[ib]), float(Fs[ib] - Fs[i0]), float(Fs[ib] - Fs[i1])


def combine_runs(values) -> tuple:
    """Mean and standard error ``sd/sqrt(n)`` over independent runs (``nan`` error for one run)."""
    v = np.asarray([x for x in values], float)
    if v.size == 0:
        raise ParameterError("values", [], "need at least one run")
    if v.size == 1:
        return float(v[0]), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))
