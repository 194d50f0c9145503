"""Sampling ALL weights ``(Q, K, W)`` at temperature 1 -- no marginalisation of ``W``.

The target is ``exp(-U)`` with ``U`` the negative log joint of :mod:`verification.network`
(the same function Adam minimises). Its ``(Q, K)`` marginal is the closed-form posterior of
THEORY.md §2, so comparing ``<m>`` from here with a sampler of ``(Q, K)`` that uses
``theory.evidence.log_evidence`` checks the marginalisation of ``W`` by a second,
independent route.

Sampling is done in whitened coordinates ``theta`` where the prior is standard normal:
``Q, K`` as they are (``S = s / sqrt(N)`` for the gaussian prior) and ``W = sqrt(sigma2/V) w``,
so that ``U(theta) = |theta|^2 / 2 + (1/2 kappa) sum |y - W z|^2`` and one step size fits all
blocks. All methods are the one Hamiltonian step of :mod:`verification.hmc` (unit mass, batched
over ``chains`` independent chains, the blocks ``Q, K, W`` kept as a dict):

* ``"hmc"``: ``n_leapfrog`` leapfrog steps, step size jittered by +-20 %, Metropolis (exact);
* ``"mala"``: one leapfrog step with Metropolis, i.e. the Metropolis-adjusted Langevin algorithm
  ``theta' = theta - eta grad U + sqrt(2 eta) xi`` with ``eta = eps^2/2`` (exact);
* ``"ula"``: the same proposal always accepted (unadjusted Langevin; biased at ``O(eta)``; for
  the bias check compare two ``eta`` or with ``"mala"``).

For ``"mala"`` and ``"hmc"`` the per-chain step size is adapted during ``warmup`` towards a
target acceptance rate (:class:`verification.hmc.RobbinsMonro`) and then frozen, so the samples
after warmup are exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from copyhead.theory.model import Model, ParameterError

from . import diagnostics
from .hmc import ChainState, Recorder, RobbinsMonro, Run, StepSettings, run_chains, tree_map
from .evidence_torch import DTYPE, Counts, attention, copy_weight, evidence_matrices, self_overlap
from .network import data_for, data_loss_counts

METHODS = ("ula", "mala", "hmc")
TARGET_ACCEPT = {"mala": 0.6, "hmc": 0.8}


# ---------------------------------------------------------------------------- target
class JointTarget:
    """``U(theta)`` for a batch of chains, in whitened coordinates (see module docstring)."""

    def __init__(self, model: Model, data: Counts):
        if data.n_groups != 1 or data.T != model.T or data.V != model.require_V():
            raise ParameterError("data", tuple(data.G.shape), f"must be one data set with T={model.T}, V={model.V}")
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
        C, D = evidence_matrices(A, data)
        WC = W @ C
        Wt = W.transpose(-1, -2)
        trWD = (Wt * D).sum(dim=(-2, -1))
        trWCW = (WC * W).sum(dim=(-2, -1))
        prior = sum(0.5 * (v * v).flatten(1).sum(1) for v in th.values())
        U = prior + (data.P * data.T - 2.0 * trWD + trWCW) / (2.0 * kappa)
        grad = {"W": th["W"] + ws * (WC - D.transpose(-1, -2)) / kappa}
        # dL/dA_ts = (-2 tr(W G[s,t-1]) + d tr(W C W^T)/dA_ts) / (2 kappa): with
        # X_ss' = <G_ss', W^T> and M_ss' = <G_ss', W^T W> (symmetric) = d tr(WCW^T)/d(A^T A)_ss',
        # d tr(W D)/dA_ts = X_{s,t-1} and d tr(WCW^T)/dA = 2 A M; both contractions in one matmul
        XM = data.flat[0] @ torch.stack((Wt.reshape(R, V * V), (Wt @ W).reshape(R, V * V)), dim=-1)
        dD = torch.roll(XM[..., 0].reshape(R, T, T).transpose(-1, -2), 1, dims=-2)  # [t, s] = X[s, t-1]
        M = XM[..., 1].reshape(R, T, T)
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

    def value_and_grad(self, th: dict):
        """``(log p, grad log p) = (-U, -grad U)`` for the sampler core (exact negation)."""
        U, g = self.energy_grad(th)
        return -U, tree_map(torch.neg, g)

    def observe(self, th: dict) -> torch.Tensor:
        """``(m, r)`` of the attention of every chain, ``(R, 2)``."""
        with torch.no_grad():
            A = self.attention(th)
            return torch.stack((copy_weight(A), self_overlap(A)), dim=1)

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
    traces: dict = field(repr=False, default_factory=dict)
    """Every iteration, warm-up first, shape ``(warmup + n_iter, chains)``: ``m, r, logp,
    accept_prob, accepted, step_size, divergent`` (the recorder's traces; not thinned)."""

    def stat(self, name: str = "m"):
        """``(mean, MCSE, ESS)`` of ``"m"``, ``"r"``, ``"m2"`` (``m^2``), ``"abs_m"`` or ``"U"`` over all
        chains (:func:`verification.diagnostics.mean_mcse_ess`)."""
        x = {"m": self.m, "r": self.r, "U": self.U, "m2": self.m**2, "abs_m": np.abs(self.m)}[name]
        return diagnostics.mean_mcse_ess(np.asarray(x).T)


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




def _langevin_run(target: JointTarget, method: str, n_leapfrog: int, warmup: int, n_iter: int, adapt: bool,
                  target_accept: Optional[float]) -> Run:
    """The driver's view of :func:`sample_langevin`: one step, its settings and the adaptation."""
    acc_target = TARGET_ACCEPT.get(method, 1.0) if target_accept is None else target_accept
    settings = StepSettings(n_leapfrog=int(n_leapfrog) if method == "hmc" else 1,
                            jitter=0.2 if method == "hmc" else 0.0, metropolis=method != "ula")
    return Run(target, settings, RobbinsMonro(acc_target, adapt and method != "ula"), warmup, n_iter, target.observe)


def _initial_state(target: JointTarget, th: dict, eps: float) -> ChainState:
    lp, g = target.value_and_grad(th)
    R = lp.shape[0]
    e = torch.full((R,), float(eps), dtype=DTYPE)
    return ChainState(x=th, logp=lp, grad=g, eps=e, eps_final=e, n_div=torch.zeros(R, dtype=torch.long))


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
    progress=None,
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
    data : None, (P, T) tokens or :class:`verification.evidence_torch.Counts`
        Default: ``sample_tokens(P, T, V, data_seed)`` with ``data_seed = seed``.
    init : {"prior", "copy"}
    progress : callable ``(done, total, info)``, optional (see :func:`verification.hmc.run_chains`).

    Torch's thread count is the caller's (``copyhead langevin --threads``).
    """
    if method not in METHODS:
        raise ParameterError("method", method, f"must be one of {', '.join(METHODS)}")
    model.require_alpha()
    if int(chains) < 1:
        raise ParameterError("chains", chains, "must be >= 1")
    n_iter = int(n_iter)
    warmup = n_iter // 4 if warmup is None else int(warmup)
    data_seed = seed if data_seed is None else data_seed
    target = JointTarget(model, data_for(model, data, data_seed))
    gen = torch.Generator().manual_seed(int(seed) + 104729)
    R = int(chains)
    th = init_theta(target, R, init, gen)
    eps0 = step_size if method == "hmc" else math.sqrt(2.0 * step_size)  # MALA/ULA: eta = eps^2/2
    run = _langevin_run(target, method, n_leapfrog, warmup, n_iter, adapt, target_accept)
    recorder = Recorder(run.total, R, 2, DTYPE, th["W"].device)
    state = run_chains(run, _initial_state(target, th, eps0), gen, recorder, progress=progress)
    return _langevin_result(model, method, run, state, recorder, target, thin, seed, data_seed)


def _langevin_result(model, method, run: Run, state: ChainState, recorder: Recorder, target: JointTarget,
                     thin: int, seed: int, data_seed: int) -> LangevinResult:
    tr = recorder.numpy(("m", "r"))
    keep = slice(run.n_warmup, run.total, int(thin))
    eps = state.eps_final if method == "hmc" else 0.5 * state.eps_final ** 2
    acc = torch.zeros_like(state.logp)
    for a in recorder.bufs["accept_prob"][run.n_warmup:]:  # sequential sum (reproducible)
        acc += a
    return LangevinResult(
        model=model, method=method, m=tr["m"][keep], r=tr["r"][keep], U=-tr["logp"][keep],
        accept_rate=(acc / max(run.n_iter, 1)).numpy(), step_size=eps.numpy(),
        n_leapfrog=run.settings.n_leapfrog, n_iter=run.n_iter, warmup=run.n_warmup, thin=int(thin),
        wall_time=state.wall_time, seed=int(seed), data_seed=int(data_seed),
        final={k: v.numpy() for k, v in target.to_weights(state.x).items()}, traces=tr,
    )
