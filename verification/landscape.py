"""Free energy along the copy weight ``m`` of the real finite network: umbrella sampling in ``m``.

The target is the exact finite posterior of THEORY.md §2 over ``x = [vec Q, vec K]`` (``W``
integrated out; :class:`verification.evidence_torch.PosteriorTarget`). Window ``k`` adds the
harmonic bias

.. math::

    \\log p_k(x) = \\log p(x \\mid \\text{data}) - \\tfrac{\\kappa_k}{2}\\,\\big(m(A(S(x))) - c_k\\big)^2 ,
    \\qquad m(A) = \\tfrac1T \\sum_t A_{t,t-1},

(``kappa_k`` in kT per unit ``m^2``) and is sampled by the batched HMC of
:func:`verification.hmc.hmc_sample`: all windows x independent replicas x data sets are chains
of ONE batch. The traces of ``m`` are combined by MBAR (:mod:`verification.free_energy`) into
the profile ``F_V(m) = -ln p(m)`` (kT) and the basin log-odds ``ln Z_copy - ln Z_uniform``.

Independent runs. Replica ``r`` of every window is one independent umbrella run (its own random
numbers; even replicas start on the symmetric ansatz ``S = s(c_k)(J - 11^T/T)`` with
prior-scale noise, odd replicas from a prior draw pulled to ``c_k`` by the bias during warm-up --
a hysteresis check); MBAR is solved per replica and data set, and the error bars are the spread
over replicas.

Data. Data set ``d`` is ``P(alpha) = round(alpha kappa V^2/T)`` sequences drawn by
``numpy.random.default_rng(SeedSequence(data_seed, spawn_key=(V,)))``; the first ``P`` rows of
one stream, so the data sets of one seed are *nested* in ``alpha`` (``log_odds(alpha)`` of one
data set is a smooth function of ``alpha``, which :mod:`verification.landscape_alpha_c` uses).

Window layout (:func:`plan_windows`): from the theory's saddle-point landscape
``V^2 F_V(s(m))`` on the symmetric ansatz (``F_V = F - e1/V``): centres uniform on
``[m_dis - 3 sigma_dis, m_copy + 3 sigma_copy]`` and springs chosen so that every biased
window has about the same width (net curvature ``C = 2 max|F''|`` at the barrier), spacing
``spacing / sqrt(C)``. The layout only affects efficiency, not the answer (MBAR is unbiased for
any layout with overlap; the overlap is reported).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from copyhead.theory.evidence import data_counts, sample_tokens
from copyhead.theory.model import Model, ParameterError

from .evidence_torch import DTYPE, Counts, PosteriorTarget, attention, copy_weight
from .hmc import hmc_sample

__all__ = ["UmbrellaTarget", "WindowPlan", "plan_windows", "nested_counts", "ansatz_scale", "run_umbrella"]

DATA_SEED_DERIVATION = ("tokens = numpy.random.default_rng(SeedSequence(data_seed, spawn_key=(V,)))"
                        ".integers(0, V, size=(P, T)) (copyhead.theory.evidence.sample_tokens): nested in alpha")


class UmbrellaTarget:
    """``log p(x) - kappa_b/2 (xi(x) - c_b)^2`` for a batch of chains (one centre per chain).

    Parameters
    ----------
    base : callable ``x (B, dim) -> (B,)``, with ``value_and_grad`` (e.g. :class:`PosteriorTarget`)
    cv : callable ``x (B, dim) -> (B,)``, differentiable (torch autograd) collective variable
    centres, springs : ``(B,)`` (or scalars) window centre and spring constant (kT per unit ``xi^2``)
    """

    def __init__(self, base, cv: Callable, centres, springs):
        self.base, self.cv = base, cv
        self.B = int(getattr(base, "B"))
        dev = getattr(base, "device", "cpu")
        self.centres = torch.as_tensor(centres, dtype=DTYPE, device=dev).expand(self.B).contiguous()
        self.springs = torch.as_tensor(springs, dtype=DTYPE, device=dev).expand(self.B).contiguous()
        if bool((self.springs < 0).any()) or not bool(torch.isfinite(self.springs).all()):
            raise ParameterError("springs", self.springs.tolist(), "must be finite and >= 0")

    def bias(self, xi: torch.Tensor) -> torch.Tensor:
        """``-kappa/2 (xi - c)^2`` ``(B,)``."""
        return -0.5 * self.springs * (xi - self.centres) ** 2

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.base(x) + self.bias(self.cv(x))

    def value_and_grad(self, x: torch.Tensor):
        """Base value and gradient plus the bias and its gradient (autograd through ``cv`` only)."""
        lp, g = self.base.value_and_grad(x)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            b = self.bias(self.cv(xg))
            (gb,) = torch.autograd.grad(b.sum(), xg)
        return lp + b.detach(), g + gb


def posterior_m(target: PosteriorTarget) -> Callable:
    """The collective variable ``m(A(S(x)))`` of a :class:`PosteriorTarget` state."""
    return lambda x: copy_weight(attention(target.scores(x), target.attention))


def ansatz_scale(m, T: int):
    """``s`` with ``m = e^s/(e^s + T - 1)`` on the symmetric softmax ansatz: ``s = ln(m (T-1)/(1-m))``."""
    m = np.asarray(m, float)
    if np.any((m <= 0) | (m >= 1)):
        raise ParameterError("m", m.tolist(), "must lie in (0, 1) for the softmax ansatz")
    return np.log(m * (T - 1) / (1 - m))


@dataclass(frozen=True)
class WindowPlan:
    """Umbrella windows: centres and springs (kT per unit ``m^2``), one per window."""

    centres: tuple
    springs: tuple

    def __post_init__(self):
        c, k = np.asarray(self.centres, float), np.asarray(self.springs, float)
        if c.ndim != 1 or c.size < 2 or c.shape != k.shape:
            raise ParameterError("windows", (c.size, k.size), "need >= 2 centres and one spring per centre")
        if not (np.all(np.isfinite(c)) and np.all(np.diff(c) > 0)):
            raise ParameterError("centres", c.tolist(), "must be finite and increasing")
        if not (np.all(np.isfinite(k)) and np.all(k > 0)):
            raise ParameterError("springs", k.tolist(), "must be finite and > 0")

    def to_dict(self) -> dict:
        return {"centres": list(self.centres), "springs": list(self.springs)}


def saddle_landscape(model: Model, alpha: float, V: int, m_grid) -> np.ndarray:
    """``V^2 F_V(s(m))`` (kT, not normalised) along the symmetric ansatz at the sizes a run at ``V``
    and nominal ``alpha`` realises: the saddle-point landscape in the copy weight ``m``."""
    from copyhead.numerics.finite_size import realised_model
    from copyhead.theory.one_loop_softmax import _symmetric_F

    rm = realised_model(model.replace(V=V), alpha)
    return V * V * _symmetric_F(ansatz_scale(np.asarray(m_grid, float), model.T), rm, rm.alpha, V)


def _theory_curvature(model: Model, alpha: float, V: int, m_grid: np.ndarray):
    """``V^2 F_V`` along the ansatz as a function of ``m`` and its second derivative (kT)."""
    F = saddle_landscape(model, alpha, V, m_grid)
    d2 = np.gradient(np.gradient(F, m_grid), m_grid)
    return F, d2


def plan_windows(model: Model, alpha: float, V: int, *, n_windows: Optional[int] = None,
                 m_range: Optional[Sequence[float]] = None, spring: Optional[float] = None,
                 spacing: float = 1.25, sigmas: float = 3.0) -> WindowPlan:
    """Window layout from the saddle-point landscape ``V^2 F_V(s(m))`` (softmax, module docstring).

    Parameters
    ----------
    n_windows : number of windows (default: ``ceil(width sqrt(C) / spacing) + 1``)
    m_range : ``(lo, hi)`` of the centres (default: ``sigmas`` basin widths beyond both minima; if the
        landscape has one minimum, ``[m_min - 0.25, m_min + 0.25]`` clipped to (0.02, 0.98))
    spring : one spring constant for every window (default: per window,
        ``max(C/2, C - F''(c_k))``, ``C = 2 max(|min F''|, 500)``)
    spacing : centre spacing in units of ``1/sqrt(C)`` (about the width of a biased window)
    """
    if model.attention != "softmax":
        raise ParameterError("attention", model.attention, "umbrella sampling in m is implemented for softmax")
    m_grid = np.linspace(0.03, 0.95, 1841)
    F, d2 = _theory_curvature(model, alpha, V, m_grid)
    d = np.diff(F)
    mins = [i for i in range(1, m_grid.size - 1) if d[i - 1] < 0 <= d[i]]
    if len(mins) >= 2:
        i0, i1 = mins[0], mins[-1]
        neg = float(min(d2[i0:i1 + 1].min(), 0.0))
        sd = lambda i: 1.0 / math.sqrt(max(d2[i], 1.0))  # noqa: E731
        lo, hi = m_grid[i0] - sigmas * sd(i0), m_grid[i1] + sigmas * sd(i1)
    else:
        i0 = int(np.argmin(F))
        neg = 0.0
        lo, hi = m_grid[i0] - 0.25, m_grid[i0] + 0.25
    C = 2.0 * max(abs(neg), 500.0)
    if m_range is not None:
        lo, hi = (float(v) for v in m_range)
    lo, hi = max(lo, 0.02), min(hi, 0.98)
    if not hi > lo:
        raise ParameterError("m_range", (lo, hi), "needs lo < hi inside (0, 1)")
    if n_windows is None:
        n_windows = int(math.ceil((hi - lo) * math.sqrt(C) / spacing)) + 1
    if int(n_windows) < 2:
        raise ParameterError("n_windows", n_windows, "must be >= 2")
    centres = np.linspace(lo, hi, int(n_windows))
    if spring is not None:
        springs = np.full(centres.size, float(spring))
    else:
        springs = np.maximum(0.5 * C, C - np.interp(centres, m_grid, d2))
    return WindowPlan(tuple(float(c) for c in centres), tuple(float(k) for k in springs))


def nested_counts(model: Model, alpha: float, data_seed: int) -> tuple:
    """Data counts of data set ``data_seed`` at ``alpha`` (nested in ``alpha``; module docstring).

    Returns ``(G (T, T, V, V), P, sha256 of G)``.
    """
    V = model.require_V()
    P = model.replace(alpha=alpha).P
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed), spawn_key=(V,)))
    G = data_counts(sample_tokens(P, model.T, V, rng), V)
    return G, P, hashlib.sha256(np.ascontiguousarray(G).tobytes()).hexdigest()


def _starts(target: PosteriorTarget, centres_b: np.ndarray, ansatz_b: np.ndarray, gen: torch.Generator):
    """Initial states: prior draws, replaced on ``ansatz_b`` chains by the ansatz at ``s(c_b)``."""
    x = target.prior_draw(gen)
    for c in np.unique(centres_b[ansatz_b]):
        rows = torch.as_tensor(np.nonzero(ansatz_b & (centres_b == c))[0], device=x.device)
        s0 = float(ansatz_scale(min(max(c, 1e-3), 1 - 1e-3), target.T))
        x[rows] = target.copy_draw(gen, s0=s0)[rows]
    return x.to(DTYPE)


def run_umbrella(model: Model, alpha: float, plan: WindowPlan, *, data_seeds: Sequence[int] = (0,),
                 replicas: int = 2, iters: int = 2000, warmup: int = 1000, seed: int = 0, n_leapfrog: int = 5,
                 step_size: float = 0.05, target_accept: float = 0.8, device="cpu",
                 progress: Optional[Callable] = None) -> dict:
    """Umbrella sampling in ``m`` at one ``alpha``: every window x replica x data set is a chain of
    one batched HMC.

    Returns
    -------
    dict with ``m`` ``(n_data, K, R, iters)`` post-warm-up traces of ``m``, ``r`` (same shape),
    ``row_spread`` (std over rows ``t`` of ``A_{t,t-1}``, same shape: a symmetric configuration
    has 0, a row-by-row one a large value), ``start`` (``R`` labels), per-chain diagnostics
    ``acceptance, step_size, divergences`` ``(n_data, K, R)``, ``data`` (``P``, seeds and hashes),
    ``torch_seed``, ``wall_s``, ``n_grad_evals``.
    """
    V = model.require_V()
    if model.attention != "softmax":
        raise ParameterError("attention", model.attention, "umbrella sampling in m is implemented for softmax")
    for name, v, lo in (("replicas", replicas, 1), ("iters", iters, 20), ("warmup", warmup, 0),
                        ("n_leapfrog", n_leapfrog, 1)):
        if int(v) < lo:
            raise ParameterError(name, v, f"must be >= {lo}")
    data_seeds = [int(s) for s in data_seeds]
    if not data_seeds or len(set(data_seeds)) != len(data_seeds):
        raise ParameterError("data_seeds", data_seeds, "must be a non-empty list of distinct integers")
    m_alpha = model.replace(alpha=alpha)
    K, R, nd = len(plan.centres), int(replicas), len(data_seeds)
    B = nd * K * R
    data = [nested_counts(m_alpha, alpha, s) for s in data_seeds]
    counts = Counts(np.stack([d[0] for d in data]), device=device)
    target = PosteriorTarget(m_alpha, counts, B=B)
    idx = np.arange(B)
    k_b, r_b = (idx % (K * R)) // R, idx % R
    centres_b = np.asarray(plan.centres)[k_b]
    springs_b = np.asarray(plan.springs)[k_b]
    ansatz_b = (r_b % 2) == 0
    torch_seed = int(np.random.SeedSequence(int(seed)).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    gen = torch.Generator(device=device)
    gen.manual_seed(torch_seed)
    x0 = _starts(target, centres_b, ansatz_b, gen)
    ut = UmbrellaTarget(target, posterior_m(target), centres_b, springs_b)

    def observe(x):
        with torch.no_grad():
            A = attention(target.scores(x), target.attention)
            T = A.shape[-1]
            t = torch.arange(T, device=A.device)
            diag = A[:, t, (t - 1) % T]
            return torch.stack((diag.mean(1), (A * A).sum((-2, -1)) / T, diag.std(1)), dim=1)

    t0 = time.perf_counter()
    res = hmc_sample(ut, x0, int(iters), int(warmup), n_leapfrog=int(n_leapfrog), step_size=step_size,
                     target_accept=target_accept, inv_mass=target.inv_mass, observe=observe, observable_names=("m", "r", "row_spread"),
                     generator=gen, progress=progress, progress_every=max(1, (int(iters) + int(warmup)) // 200))
    wall = time.perf_counter() - t0
    shape = (nd, K, R)

    def tr(name):
        return np.ascontiguousarray(res.samples(name).T.reshape(*shape, -1))

    return {
        "m": tr("m"), "r": tr("r"), "row_spread": tr("row_spread"),
        "start": ["ansatz" if r % 2 == 0 else "prior" for r in range(R)],
        "acceptance": np.asarray(res.acceptance).reshape(shape),
        "step_size": np.asarray(res.step_size).reshape(shape),
        "divergences": np.asarray(res.divergences).reshape(shape),
        "data": [{"data_seed": s, "P": d[1], "sha256": d[2]} for s, d in zip(data_seeds, data)],
        "alpha_effective": m_alpha.alpha_effective, "N": m_alpha.N, "P": m_alpha.P,
        "torch_seed": torch_seed, "wall_s": wall, "n_grad_evals": int(res.n_grad_evals), "batch": B,
    }


def run_direct(model: Model, alpha: float, *, data_seed: int = 0, chains: int = 8, iters: int = 20000,
               warmup: int = 1000, seed: int = 0, n_leapfrog: int = 5, m_copy_start: float = 0.52,
               device="cpu", progress: Optional[Callable] = None) -> dict:
    """Unbiased HMC on the same posterior (no bias): half the chains start from prior draws, half on
    the ansatz at ``m = m_copy_start`` (near the copy minimum). Returns ``m`` ``(chains, iters)``
    and the run record; the basin log-odds is the logit of the time fraction above the split
    (:func:`direct_log_odds`). Only meaningful where chains switch basins (small ``V``)."""
    V = model.require_V()
    m_alpha = model.replace(alpha=alpha)
    if int(chains) < 2:
        raise ParameterError("chains", chains, "must be >= 2")
    G, P, sha = nested_counts(m_alpha, alpha, data_seed)
    target = PosteriorTarget(m_alpha, Counts(G, device=device), B=int(chains))
    torch_seed = int(np.random.SeedSequence([int(seed), 1]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    gen = torch.Generator(device=device)
    gen.manual_seed(torch_seed)
    centres_b = np.full(int(chains), float(m_copy_start))
    x0 = _starts(target, centres_b, np.arange(int(chains)) % 2 == 1, gen)
    t0 = time.perf_counter()
    res = hmc_sample(target, x0, int(iters), int(warmup), n_leapfrog=int(n_leapfrog), step_size=0.05,
                     inv_mass=target.inv_mass,
                     observe=lambda x: posterior_m(target)(x).detach()[:, None], observable_names=("m",),
                     generator=gen, progress=progress, progress_every=max(1, (int(iters) + int(warmup)) // 200))
    return {"m": np.ascontiguousarray(res.samples("m").T), "data_seed": int(data_seed), "P": P, "sha256": sha,
            "torch_seed": torch_seed, "wall_s": time.perf_counter() - t0,
            "acceptance": float(np.mean(res.acceptance)), "divergences": int(np.sum(res.divergences))}


def direct_summary(d: dict) -> str:
    """``"+x.xxx +- e.eee (n switches)"`` for a :func:`direct_log_odds` result (or its JSON form); when
    the chains never visit one of the basins the log-odds is undefined (NaN, JSON null) and the text
    gives the copy-basin time fraction instead."""
    lo, err = d.get("log_odds"), d.get("log_odds_err")
    sw = f"{d['switches']} switches"
    if lo is None or not np.isfinite(lo):
        return f"undefined (copy-basin time fraction {d['fraction']:.3f}, {sw})"
    e = "nan" if err is None or not np.isfinite(err) else f"{err:.3f}"
    return f"{lo:+.3f} +- {e} ({sw})"


def direct_log_odds(m: np.ndarray, split: float) -> dict:
    """Logit of the pooled time fraction above ``split`` with a jackknife error over chains, and the
    number of basin switches (``m`` of shape ``(chains, iters)``)."""
    m = np.asarray(m, float)
    above = m > split
    f = above.mean(axis=1)
    n = f.size

    def logit(p):
        return float(np.log(p / (1 - p))) if 0 < p < 1 else float("nan")

    est = logit(f.mean())
    jk = np.array([logit(np.delete(f, i).mean()) for i in range(n)])
    err = float(np.sqrt((n - 1) / n * np.sum((jk - jk.mean()) ** 2))) if np.all(np.isfinite(jk)) else float("nan")
    return {"log_odds": est, "log_odds_err": err, "fraction": float(f.mean()), "fraction_by_chain": f.tolist(),
            "switches": int(np.sum(above[:, 1:] != above[:, :-1]))}
