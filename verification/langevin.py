"""Sampling ALL weights ``(Q, K, W)`` at temperature 1 -- no marginalisation of ``W``.

The target is ``exp(-U)`` with ``U`` the negative log joint of :mod:`verification.network`
(the same function Adam minimises). Its ``(Q, K)`` marginal is the closed-form posterior of
THEORY.md §2, so comparing ``<m>`` from here with a sampler of ``(Q, K)`` that uses
``theory.evidence.log_evidence`` checks the marginalisation of ``W`` by a second,
independent route.

Sampling is done in whitened coordinates ``theta`` where the prior is standard normal:
``Q, K`` as they are (``S = s / sqrt(N)`` for the gaussian prior) and ``W = sqrt(sigma2/V) w``,
so that ``U(theta) = |theta|^2 / 2 + (1/2 kappa) sum |y - W z|^2`` and one step size fits all
blocks. Methods (all batched over ``chains`` independent chains):

* ``"ula"``: unadjusted Langevin ``theta <- theta - eta grad U + sqrt(2 eta) xi`` (biased at
  ``O(eta)``; for the bias check compare two ``eta`` or with ``"mala"``);
* ``"mala"``: the same proposal with a Metropolis-Hastings correction (exact);
* ``"hmc"``: Hamiltonian Monte Carlo, unit mass, ``n_leapfrog`` steps (exact).

For ``"mala"`` and ``"hmc"`` the per-chain step size is adapted during ``warmup`` towards a
target acceptance rate and then frozen, so the samples after warmup are exact.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from copyhead.theory.evidence import sample_tokens
from copyhead.theory.model import Model, ParameterError

from .network import DTYPE, Data, attention, copy_weight, data_loss_counts, make_data, self_overlap

METHODS = ("ula", "mala", "hmc")
TARGET_ACCEPT = {"mala": 0.6, "hmc": 0.8}


# ---------------------------------------------------------------------------- statistics
def autocorr_time(x: np.ndarray) -> float:
    """Integrated autocorrelation time of a 1-d series (Geyer initial monotone sequence).

    Returns ``tau >= 1`` so that ``ESS = n / tau``; ``inf`` for a constant series is avoided by
    returning ``1.0``.
    """
    x = np.asarray(x, float)
    n = len(x)
    if n < 4:
        return 1.0
    x = x - x.mean()
    v = x.var()
    if v <= 0:
        return 1.0
    f = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n] / (v * n)
    # Geyer: sums of adjacent pairs, truncated at the first non-positive pair, made monotone
    npair = n // 2
    pairs = acf[: 2 * npair].reshape(npair, 2).sum(axis=1)
    k = np.argmax(pairs <= 0) if np.any(pairs <= 0) else npair
    pairs = np.minimum.accumulate(pairs[:k]) if k > 0 else pairs[:1]
    tau = -1.0 + 2.0 * pairs.sum()
    return float(max(tau, 1.0))


def mean_stderr(samples: np.ndarray):
    """Mean, standard error and effective sample size of ``samples`` of shape ``(n, chains)``.

    The error is the larger of the ESS-based error (pooled variance / total ESS, the
    autocorrelation time averaged over chains) and the spread of the chain means
    (``sd(chain means) / sqrt(chains)``), so that chains stuck in different modes show up.
    """
    x = np.asarray(samples, float)
    if x.ndim == 1:
        x = x[:, None]
    n, R = x.shape
    taus = np.array([autocorr_time(x[:, c]) for c in range(R)])
    ess = n * R / taus.mean()
    err_ess = x.std(ddof=1) / math.sqrt(ess)
    err_between = x.mean(axis=0).std(ddof=1) / math.sqrt(R) if R > 1 else 0.0
    return float(x.mean()), float(max(err_ess, err_between)), float(ess)


# ---------------------------------------------------------------------------- target
class JointTarget:
    """``U(theta)`` for a batch of chains, in whitened coordinates (see module docstring)."""

    def __init__(self, model: Model, data: Data):
        self.model = model
        self.data = data
        self.V = model.require_V()
        self.N = model.N
        self.T = model.T
        self.w_scale = math.sqrt(model.sigma2 / self.V)

    def shapes(self, R: int) -> dict:
        if self.model.prior == "qk":
            sh = {"Q": (R, self.N, self.T), "K": (R, self.N, self.T)}
        else:
            sh = {"S": (R, self.T, self.T)}
        sh["W"] = (R, self.V, self.V)
        return sh

    def scores(self, th: dict) -> torch.Tensor:
        if "S" in th:
            return th["S"] / math.sqrt(self.N)
        return th["Q"].transpose(-1, -2) @ th["K"] / self.N

    def attention(self, th: dict) -> torch.Tensor:
        return attention(self.scores(th), self.model.attention)

    def energy(self, th: dict) -> torch.Tensor:
        """``U`` per chain, shape ``(R,)``."""
        A = self.attention(th)
        W = self.w_scale * th["W"]
        prior = sum(0.5 * (v * v).flatten(1).sum(1) for v in th.values())
        return prior + data_loss_counts(A, W, self.data, self.model.kappa)

    def energy_grad(self, th: dict):
        """``(U, grad U)``: hand-written gradient (fast); :meth:`energy_grad_autograd` is the check."""
        with torch.no_grad():
            return self._energy_grad_manual(th)

    def _energy_grad_manual(self, th: dict):
        data, kappa = self.data, self.model.kappa
        T, V, ws = self.T, self.V, self.w_scale
        S = self.scores(th)
        A = attention(S, self.model.attention)
        R = A.shape[0]
        W = ws * th["W"]
        B = A.transpose(-1, -2) @ A
        C = (B.reshape(R, T * T) @ data.Gm).reshape(R, V, V)
        D = (A.reshape(R, T * T) @ data.Hm).reshape(R, V, V)
        WC = W @ C
        Wt = W.transpose(-1, -2)
        trWD = (Wt * D).sum(dim=(-2, -1))
        trWCW = (WC * W).sum(dim=(-2, -1))
        prior = sum(0.5 * (v * v).flatten(1).sum(1) for v in th.values())
        U = prior + (data.P * data.T - 2.0 * trWD + trWCW) / (2.0 * kappa)
        grad = {"W": th["W"] + ws * (WC - D.transpose(-1, -2)) / kappa}
        # dL/dA_ts = (-2 tr(W H[s,t]) + d tr(W C W^T)/dA_ts) / (2 kappa),
        # tr(W H[s,t]) = <H[s,t], W^T>,  d tr(WCW^T)/dB_ss' = <G_ss', W^T W> =: M_ss' (symmetric)
        dD = (data.Hm @ Wt.reshape(R, V * V, 1)).reshape(R, T, T)  # [t, s]
        M = (data.Gm @ (Wt @ W).reshape(R, V * V, 1)).reshape(R, T, T)
        dA = (-2.0 * dD + 2.0 * A @ M) / (2.0 * kappa)
        if self.model.attention == "softmax":
            dS = A * (dA - (dA * A).sum(dim=-1, keepdim=True))
        else:
            dS = dA
        if "S" in th:
            grad["S"] = th["S"] + dS / math.sqrt(self.N)
        else:
            grad["Q"] = th["Q"] + th["K"] @ dS.transpose(-1, -2) / self.N
            grad["K"] = th["K"] + th["Q"] @ dS / self.N
        return U, grad

    def energy_grad_autograd(self, th: dict):
        th = {k: v.detach().requires_grad_(True) for k, v in th.items()}
        U = self.energy(th)
        grads = torch.autograd.grad(U.sum(), list(th.values()))
        return U.detach(), {k: g.detach() for k, g in zip(th.keys(), grads)}

    def to_weights(self, th: dict) -> dict:
        """Physical ``{"Q","K","W"}`` / ``{"S","W"}`` from whitened ``theta``."""
        out = {k: v.detach().clone() for k, v in th.items()}
        out["W"] = self.w_scale * out["W"]
        if "S" in out:
            out["S"] = out["S"] / math.sqrt(self.N)
        return out


def _bcast(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return x.reshape((-1,) + (1,) * (like.dim() - 1))


def _sqnorm(d: dict) -> torch.Tensor:
    return sum((v * v).flatten(1).sum(1) for v in d.values())


# ---------------------------------------------------------------------------- result
def _mh_update(log_a, th, grad, U, prop, gprop, Uprop, R, gen):
    """Metropolis-Hastings step per chain: accept ``prop`` with probability ``min(1, exp(log_a))``
    (a non-finite ``log_a`` rejects). Returns ``(prob, th, grad, U)`` after the update."""
    prob = torch.exp(torch.clamp(log_a, max=0.0))
    prob = torch.where(torch.isfinite(log_a), prob, torch.zeros_like(prob))
    ok = torch.rand(R, generator=gen, dtype=DTYPE) < prob
    th = {k: torch.where(_bcast(ok, v), prop[k], v) for k, v in th.items()}
    grad = {k: torch.where(_bcast(ok, v), gprop[k], v) for k, v in grad.items()}
    return prob, th, grad, torch.where(ok, Uprop, U)


@dataclass
class LangevinResult:
    """Samples of ``m, r, U`` after warmup, shape ``(n_samples, chains)``."""

    model: Model
    method: str
    m: np.ndarray
    r: np.ndarray
    U: np.ndarray
    accept_rate: np.ndarray  # per chain, after warmup (1 for "ula")
    step_size: np.ndarray  # per chain, frozen after warmup
    n_leapfrog: int
    n_iter: int
    warmup: int
    thin: int
    wall_time: float
    seed: int
    data_seed: int
    final: dict = field(repr=False, default_factory=dict)

    def stat(self, name: str = "m"):
        """``(mean, stderr, ess)`` of ``"m"``, ``"r"``, ``"m2"`` (``m^2``), ``"abs_m"`` or ``"U"``."""
        x = {"m": self.m, "r": self.r, "U": self.U, "m2": self.m**2, "abs_m": np.abs(self.m)}[name]
        return mean_stderr(x)


# ---------------------------------------------------------------------------- sampler
def init_theta(target: JointTarget, R: int, init: str, gen: torch.Generator, s0: Optional[float] = None) -> dict:
    """Whitened start: a prior draw (``"prior"``) or copy-head scores with a prior-draw ``W`` (``"copy"``)."""
    th = {k: torch.randn(*sh, generator=gen, dtype=DTYPE) for k, sh in target.shapes(R).items()}
    if init == "prior":
        return th
    if init != "copy":
        raise ParameterError("init", init, "must be prior or copy")
    from .training import _factor_scores, copy_scores

    S = copy_scores(target.model, s0)
    if "S" in th:
        th["S"] = torch.as_tensor(S * math.sqrt(target.N), dtype=DTYPE).expand(R, -1, -1).clone()
    else:
        for c in range(R):
            Q, K = _factor_scores(S, target.N, gen)
            th["Q"][c] = torch.as_tensor(Q, dtype=DTYPE)
            th["K"][c] = torch.as_tensor(K, dtype=DTYPE)
    return th


def sample_langevin(
    model: Model,
    n_iter: int,
    step_size: float = 0.05,
    seed: int = 0,
    method: str = "hmc",
    chains: int = 4,
    warmup: Optional[int] = None,
    thin: int = 1,
    n_leapfrog: int = 10,
    data=None,
    data_seed: Optional[int] = None,
    init: str = "prior",
    adapt: bool = True,
    target_accept: Optional[float] = None,
) -> LangevinResult:
    """Sample ``exp(-U)`` over all weights with ULA, MALA or HMC, ``chains`` chains in parallel.

    Parameters
    ----------
    model : Model
        Needs ``V`` and ``alpha``.
    n_iter : int
        Iterations after warmup (one iteration = one Langevin step or one HMC trajectory).
    step_size : float
        ``eta`` (ULA/MALA) or the leapfrog step ``epsilon`` (HMC), in whitened units; the
        starting value when ``adapt`` (MALA/HMC only; ULA never adapts).
    warmup : int
        Discarded iterations (default ``n_iter // 4``); step sizes adapt only here.
    data : None, (P, T) tokens or :class:`Data`
        Default: ``sample_tokens(P, T, V, data_seed)`` with ``data_seed = seed``.
    init : {"prior", "copy"}
    """
    torch.set_num_threads(1)
    if method not in METHODS:
        raise ParameterError("method", method, f"must be one of {', '.join(METHODS)}")
    V = model.require_V()
    model.require_alpha()
    n_iter = int(n_iter)
    warmup = n_iter // 4 if warmup is None else int(warmup)
    data_seed = seed if data_seed is None else data_seed
    if data is None:
        data = make_data(sample_tokens(model.P, model.T, V, data_seed), V)
    elif not isinstance(data, Data):
        data = make_data(np.asarray(data), V)
    target = JointTarget(model, data)
    gen = torch.Generator().manual_seed(int(seed) + 104729)
    R = int(chains)
    th = init_theta(target, R, init, gen)
    eps = torch.full((R,), float(step_size), dtype=DTYPE)
    acc_target = TARGET_ACCEPT.get(method, 1.0) if target_accept is None else target_accept
    U, grad = target.energy_grad(th)

    ms, rs, Us = [], [], []
    acc_sum = torch.zeros(R, dtype=DTYPE)
    t0 = time.perf_counter()
    for it in range(warmup + n_iter):
        if method == "ula":
            th = {
                k: v - _bcast(eps, v) * grad[k] + torch.sqrt(2 * _bcast(eps, v)) * torch.randn(v.shape, generator=gen, dtype=DTYPE)
                for k, v in th.items()
            }
            U, grad = target.energy_grad(th)
            prob = torch.ones(R, dtype=DTYPE)
        elif method == "mala":
            noise = {k: torch.randn(v.shape, generator=gen, dtype=DTYPE) for k, v in th.items()}
            prop = {k: v - _bcast(eps, v) * grad[k] + torch.sqrt(2 * _bcast(eps, v)) * noise[k] for k, v in th.items()}
            Up, gp = target.energy_grad(prop)
            fwd = _sqnorm(noise) / 2.0  # |theta' - theta + eta g|^2 / (4 eta)
            bwd = _sqnorm({k: th[k] - prop[k] + _bcast(eps, v) * gp[k] for k, v in th.items()}) / (4.0 * eps)
            log_a = -(Up - U) - bwd + fwd
            prob, th, grad, U = _mh_update(log_a, th, grad, U, prop, gp, Up, R, gen)
        else:  # hmc
            e = eps * (0.8 + 0.4 * torch.rand(R, generator=gen, dtype=DTYPE))  # jitter
            p0 = {k: torch.randn(v.shape, generator=gen, dtype=DTYPE) for k, v in th.items()}
            q = dict(th)
            p = {k: p0[k] - 0.5 * _bcast(e, v) * grad[k] for k, v in p0.items()}
            for l in range(n_leapfrog):
                q = {k: q[k] + _bcast(e, v) * p[k] for k, v in p.items()}
                Uq, gq = target.energy_grad(q)
                scale = 1.0 if l < n_leapfrog - 1 else 0.5
                p = {k: p[k] - scale * _bcast(e, v) * gq[k] for k, v in p.items()}
            H0 = U + 0.5 * _sqnorm(p0)
            H1 = Uq + 0.5 * _sqnorm(p)
            log_a = H0 - H1
            prob, th, grad, U = _mh_update(log_a, th, grad, U, q, gq, Uq, R, gen)
        if it < warmup:
            if adapt and method != "ula":
                gamma = 2.0 / math.sqrt(it + 10.0)
                eps = eps * torch.exp(gamma * (prob - acc_target))
            continue
        acc_sum += prob
        if (it - warmup) % thin == 0:
            with torch.no_grad():
                A = target.attention(th)
                ms.append(copy_weight(A).numpy().copy())
                rs.append(self_overlap(A).numpy().copy())
                Us.append(U.numpy().copy())
    wall = time.perf_counter() - t0
    return LangevinResult(
        model=model,
        method=method,
        m=np.asarray(ms),
        r=np.asarray(rs),
        U=np.asarray(Us),
        accept_rate=(acc_sum / max(n_iter, 1)).numpy(),
        step_size=eps.numpy(),
        n_leapfrog=int(n_leapfrog) if method == "hmc" else 1,
        n_iter=n_iter,
        warmup=warmup,
        thin=int(thin),
        wall_time=wall,
        seed=int(seed),
        data_seed=int(data_seed),
        final={k: v[:, ...].numpy() for k, v in target.to_weights(th).items()},
    )
