"""One sampler core: an explicit chain state, one Hamiltonian step, one driver (jax-md style).

Every Monte Carlo sampler of copyhead is this module:

* :class:`ChainState` -- everything the next iteration needs (positions, log density and its
  gradient, step sizes, adaptation state, counters) for a batch of ``B`` independent chains.
  Positions are a tensor ``(B, dim)`` or a dict of tensors with leading axis ``B`` (the
  all-weights sampler keeps ``Q, K, W`` as separate blocks).
* :func:`hmc_step` -- one Metropolis-adjusted (or unadjusted) Hamiltonian transition of all
  chains: jittered step size, fresh momentum, ``n_leapfrog`` leapfrog steps, accept/reject.
  With one leapfrog step it *is* the Metropolis-adjusted Langevin algorithm (MALA with
  ``eta = eps^2/2``), and without the accept/reject the unadjusted Langevin algorithm (ULA).
* step-size adaptation during warm-up (:class:`DualAveraging`, :class:`RobbinsMonro`);
* :func:`run_chains` -- the driver: loops, records the traces (:class:`Recorder`), hands the
  state to ``on_checkpoint`` (the state is what is saved) and reports progress.

:func:`hmc_sample` (the W-marginal posterior of ``verification.sweep``) and
:func:`verification.langevin.sample_langevin` (all weights) are thin set-ups of this core.

Step size. Every chain has its own step size, adapted during warm-up by dual averaging
(Hoffman & Gelman 2014, Alg. 5: ``gamma = 0.05, t0 = 10, kappa = 0.75``, target acceptance
``delta = 0.8``), restarted once at ``restart_frac`` of the warm-up so that the transient from the
initial state does not bias the final step size; after warm-up it is frozen at the dual-averaging
average. In every iteration (warm-up included) it is multiplied by a uniform factor in
``[1 - jitter, 1 + jitter]``.

Why the jitter matters here: with the "qk" prior almost all of the ``2 N T`` directions of
``(Q, K)`` are prior-dominated harmonic oscillators of period ``2 pi``, and the scores
``S = Q^T K / N`` are *bilinear*: after a trajectory of length ``theta = eps L`` the prior part
of ``S`` has autocorrelation ``cos^2(theta)``. Dual averaging at acceptance 0.8 gives
``eps ~ 0.3`` at V = 8, so ``L = 10`` lands on ``theta ~ pi`` (``Q, K -> -Q, -K``, ``S`` unchanged)
and the ESS of ``m`` collapsed to ~2 % of the draws with a 10 % jitter. A 50 % jitter averages
``cos^2`` over a wide range of ``theta`` (ESS ~25-50 % of the draws); ``eps L ~ pi/2`` (e.g.
``L = 5`` at ``eps ~ 0.3``) is better still.

Divergences. A proposal whose energy is not finite (failed Cholesky -> ``-inf``, or NaN) or whose
energy error exceeds ``max_energy_error`` is rejected (acceptance probability 0) and counted.
Chains never interact, so a diverging chain does not disturb the others.

Random numbers all come from one ``torch.Generator``; per iteration, in this order: the jitter
``(B,)``, the momentum (one draw per block), the accept/reject uniforms ``(B,)``.

Checkpoint / resume: with ``on_checkpoint`` and ``checkpoint_every > 0`` the complete sampler
state (:meth:`Snapshot`: the chain state, the traces so far, the generator state) is handed to
``on_checkpoint`` every ``checkpoint_every`` iterations and after the last one; passing it back as
``state=`` continues the run where it stopped, bit-identical to an uninterrupted run (same device,
dtype, torch build and threads). Persisting it (atomically) is the caller's job
(:func:`verification.sweep.run_sweep`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Callable, Dict, Optional, Sequence, Union

import numpy as np
import torch

from copyhead.theory.model import ParameterError

Tree = Union[torch.Tensor, Dict[str, torch.Tensor]]
ProgressFn = Callable[[int, int, dict], None]
CheckpointFn = Callable[[dict], None]

STATE_FORMAT = "copyhead.hmc_state/1"


# --------------------------------------------------------------------------- positions as trees
def tree_map(f, *trees):
    """Apply ``f`` leaf by leaf to tensors or dicts of tensors of the same structure."""
    if isinstance(trees[0], dict):
        return {k: f(*(t[k] for t in trees)) for k in trees[0]}
    return f(*trees)


def _leaves(t: Tree):
    return list(t.values()) if isinstance(t, dict) else [t]


def _per_chain(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A ``(B,)`` vector shaped to broadcast against a leaf ``(B, ...)``."""
    return v.reshape((-1,) + (1,) * (like.dim() - 1))


def kinetic_energy(p: Tree, inv_mass: Optional[Tree]) -> torch.Tensor:
    """``(1/2) sum_i M^{-1}_i p_i^2`` per chain, summed block by block."""
    if inv_mass is None:
        return 0.5 * sum((v * v).flatten(1).sum(1) for v in _leaves(p))
    return 0.5 * sum((m * v * v).flatten(1).sum(1) for v, m in zip(_leaves(p), _leaves(inv_mass)))


def draw_momentum(like: Tree, gen: torch.Generator, sqrt_mass: Optional[Tree]) -> Tree:
    """Fresh momentum ``p ~ N(0, M)``: one ``randn`` per block, in block order."""
    p = tree_map(lambda v: torch.randn(v.shape, generator=gen, dtype=v.dtype, device=v.device), like)
    return p if sqrt_mass is None else tree_map(lambda v, s: v * s, p, sqrt_mass)


def value_and_grad(log_prob, x: Tree):
    """``(log p (B,), grad log p)``: ``log_prob.value_and_grad`` if it exists, else autograd."""
    vg = getattr(log_prob, "value_and_grad", None)
    if vg is not None:
        return vg(x)
    with torch.enable_grad():
        xg = tree_map(lambda v: v.detach().requires_grad_(True), x)
        lp = log_prob(xg)
        grads = torch.autograd.grad(lp.sum(), _leaves(xg))
    g = dict(zip(x, grads)) if isinstance(x, dict) else grads[0]
    return lp.detach(), g


# --------------------------------------------------------------------------- the state
@dataclass
class ChainState:
    """The explicit state of ``B`` chains: everything the next iteration needs.

    ``eps`` is the step size being adapted during warm-up, ``eps_final`` the frozen step size of
    the sampling phase (set at the end of warm-up); ``adapt`` holds the adapter's own state.
    """

    x: Tree
    logp: torch.Tensor  # (B,)
    grad: Tree
    eps: torch.Tensor  # (B,)
    eps_final: torch.Tensor  # (B,)
    n_div: torch.Tensor  # (B,) divergent proposals so far
    adapt: dict = field(default_factory=dict)
    it: int = 0  # completed iterations
    n_grad: int = 0  # gradient evaluations
    wall_time: float = 0.0  # seconds spent in earlier sessions of a resumed run

    def to_dict(self) -> dict:
        """Plain tensors and numbers (``torch.save(..., weights_only=True)`` can store them)."""
        copy = lambda t: tree_map(lambda v: v.detach().clone(), t)  # noqa: E731
        return {"it": int(self.it), "x": copy(self.x), "logp": self.logp.clone(), "grad": copy(self.grad),
                "eps": self.eps.clone(), "eps_final": self.eps_final.clone(), "n_div": self.n_div.clone(),
                **{k: (v.clone() if torch.is_tensor(v) else v) for k, v in self.adapt.items()},
                "n_grad_evals": int(self.n_grad), "wall_time": float(self.wall_time)}

    @classmethod
    def from_dict(cls, d: dict, like: Tree, adapt_keys: Sequence[str]) -> "ChainState":
        """Inverse of :meth:`to_dict`, moved to the device and dtype of ``like``."""
        dt, dev = _leaves(like)[0].dtype, _leaves(like)[0].device
        ld = lambda t, d_=dt: tree_map(lambda v: v.to(device=dev, dtype=d_).clone(), t)  # noqa: E731
        adapt = {k: (ld(d[k]) if torch.is_tensor(d[k]) else d[k]) for k in adapt_keys}
        return cls(x=ld(d["x"]), logp=ld(d["logp"]), grad=ld(d["grad"]), eps=ld(d["eps"]),
                   eps_final=ld(d["eps_final"]), n_div=ld(d["n_div"], torch.long), adapt=adapt, it=int(d["it"]),
                   n_grad=int(d["n_grad_evals"]), wall_time=float(d["wall_time"]))


@dataclass
class StepInfo:
    """What one transition did, per chain."""

    accept_prob: torch.Tensor  # Metropolis acceptance probability of the proposal
    accepted: torch.Tensor  # bool
    divergent: torch.Tensor  # bool
    step_size: torch.Tensor  # the (jittered) step size used


@dataclass(frozen=True)
class StepSettings:
    """Fixed settings of :func:`hmc_step`."""

    n_leapfrog: int = 10
    jitter: float = 0.5  # step size times a uniform factor in [1 - jitter, 1 + jitter]
    metropolis: bool = True  # False: unadjusted (every proposal accepted)
    max_energy_error: float = 1000.0

    def __post_init__(self):
        if int(self.n_leapfrog) < 1:
            raise ParameterError("n_leapfrog", self.n_leapfrog, "must be >= 1")
        if not 0.0 <= self.jitter < 1.0:
            raise ParameterError("jitter", self.jitter, "must lie in [0, 1)")


# --------------------------------------------------------------------------- the step
def leapfrog(log_prob, x: Tree, p: Tree, g: Tree, eps: torch.Tensor, inv_mass: Optional[Tree], n_steps: int):
    """``n_steps`` leapfrog steps with per-chain step ``eps (B,)``; returns ``x, p, logp, grad``."""
    kick = lambda p_, g_, h: tree_map(lambda a, b: a + _per_chain(h, a) * b, p_, g_)  # noqa: E731
    half = 0.5 * eps
    p = kick(p, g, half)
    for i in range(n_steps):
        if inv_mass is None:
            x = tree_map(lambda a, b: a + _per_chain(eps, a) * b, x, p)
        else:
            x = tree_map(lambda a, b, m: a + _per_chain(eps, a) * (m * b), x, p, inv_mass)
        lp, g = value_and_grad(log_prob, x)
        if i < n_steps - 1:
            p = kick(p, g, eps)
    return x, kick(p, g, half), lp, g


def metropolis_log_accept(H0: torch.Tensor, H1: torch.Tensor, max_energy_error: float):
    """``log min(1, exp(H0 - H1))`` and divergence flags (non-finite or ``H1 - H0 > max_energy_error``)."""
    dH = H1 - H0
    div = ~torch.isfinite(dH) | (dH > max_energy_error)
    logacc = torch.clamp(-dH, max=0.0)
    return torch.where(div, torch.full_like(logacc, -math.inf), logacc), div


def hmc_step(state: ChainState, log_prob, eps: torch.Tensor, settings: StepSettings, gen: torch.Generator,
             inv_mass: Optional[Tree] = None, sqrt_mass: Optional[Tree] = None):
    """One transition of all chains at base step size ``eps (B,)``; returns ``(state, StepInfo)``.

    The returned state has the new ``x, logp, grad`` and counters; ``eps``/adaptation are the
    driver's business.
    """
    B = state.logp.shape[0]
    dt, dev = state.logp.dtype, state.logp.device
    if settings.jitter > 0:  # jittered in warm-up too, so that the adaptation sees the jittered sampler
        u = torch.rand(B, generator=gen, dtype=dt, device=dev)
        eps = eps * ((1.0 - settings.jitter) + (2.0 * settings.jitter) * u)
    p = draw_momentum(state.x, gen, sqrt_mass)
    H0 = -state.logp + kinetic_energy(p, inv_mass)
    x1, p1, lp1, g1 = leapfrog(log_prob, state.x, p, state.grad, eps, inv_mass, settings.n_leapfrog)
    n_grad = state.n_grad + settings.n_leapfrog
    if settings.metropolis:
        logacc, div = metropolis_log_accept(H0, -lp1 + kinetic_energy(p1, inv_mass), settings.max_energy_error)
        acc = torch.log(torch.rand(B, generator=gen, dtype=dt, device=dev)) < logacc
        a = torch.exp(logacc)
    else:
        div = ~torch.isfinite(lp1)
        acc, a = torch.ones(B, dtype=torch.bool, device=dev), torch.ones(B, dtype=dt, device=dev)
    keep = lambda new, old: tree_map(lambda n, o: torch.where(_per_chain(acc, n), n, o), new, old)  # noqa: E731
    new = ChainState(x=keep(x1, state.x), logp=torch.where(acc, lp1, state.logp), grad=keep(g1, state.grad),
                     eps=state.eps, eps_final=state.eps_final, n_div=state.n_div + div, adapt=state.adapt,
                     it=state.it + 1, n_grad=n_grad, wall_time=state.wall_time)
    return new, StepInfo(a, acc, div, eps)


# --------------------------------------------------------------------------- step-size adaptation
class DualAveraging:
    """Hoffman & Gelman (2014) Alg. 5 per chain, restarted once at ``restart_frac`` of the warm-up;
    the sampling step size is the dual-averaging average ``exp(log_eps_bar)``."""

    keys = ("mu", "Hbar", "log_eps_bar", "da_m")
    gamma, t0, kappa = 0.05, 10.0, 0.75

    def __init__(self, target_accept: float, n_warmup: int, restart_frac: float = 0.25, enabled: bool = True):
        self.delta, self.n_warmup, self.enabled = float(target_accept), int(n_warmup), bool(enabled)
        self.restart_at = int(restart_frac * n_warmup) if enabled and n_warmup >= 20 else -1

    @staticmethod
    def reset(eps: torch.Tensor) -> dict:
        return {"mu": torch.log(10.0 * eps), "Hbar": torch.zeros_like(eps), "log_eps_bar": torch.zeros_like(eps),
                "da_m": 0}

    def update(self, state: ChainState, it: int, accept_prob: torch.Tensor) -> ChainState:
        if not self.enabled:
            return state
        st = self.reset(state.eps) if it == self.restart_at else dict(state.adapt)
        st["da_m"] += 1
        w = 1.0 / (st["da_m"] + self.t0)
        st["Hbar"] = (1.0 - w) * st["Hbar"] + w * (self.delta - accept_prob)
        log_eps = st["mu"] - math.sqrt(st["da_m"]) / self.gamma * st["Hbar"]
        eta = st["da_m"] ** (-self.kappa)
        st["log_eps_bar"] = eta * log_eps + (1.0 - eta) * st["log_eps_bar"]
        state.adapt, state.eps = st, torch.exp(log_eps)
        return state

    def final(self, state: ChainState) -> torch.Tensor:
        return torch.exp(state.adapt["log_eps_bar"]) if (self.enabled and self.n_warmup > 0) else state.eps


class RobbinsMonro:
    """``eps <- eps exp(gamma_t (a - target))`` with ``gamma_t = 2 / sqrt(t + 10)``; the sampling
    step size is the last warm-up value."""

    keys = ()

    def __init__(self, target_accept: float, enabled: bool = True):
        self.target, self.enabled = float(target_accept), bool(enabled)

    @staticmethod
    def reset(eps: torch.Tensor) -> dict:
        return {}

    def update(self, state: ChainState, it: int, accept_prob: torch.Tensor) -> ChainState:
        if self.enabled:
            state.eps = state.eps * torch.exp(2.0 / math.sqrt(it + 10.0) * (accept_prob - self.target))
        return state

    def final(self, state: ChainState) -> torch.Tensor:
        return state.eps


def find_initial_step_size(log_prob, x, lp, g, eps, inv_mass, gen, max_rounds: int = 30,
                           max_energy_error: float = 1000.0):
    """Batched Hoffman & Gelman Alg. 4: double/halve each chain's step size until the
    one-leapfrog-step acceptance probability crosses 1/2. Returns ``(eps (B,), n_grad_evals)``."""
    sqrt_mass = None if inv_mass is None else tree_map(torch.rsqrt, inv_mass)
    eps = eps.clone()
    direction = None
    active = torch.ones(lp.shape[0], dtype=torch.bool, device=lp.device)
    n = 0
    for _ in range(max_rounds):
        p = draw_momentum(x, gen, sqrt_mass)
        H0 = -lp + kinetic_energy(p, inv_mass)
        _, p1, lp1, _ = leapfrog(log_prob, x, p, g, eps, inv_mass, 1)
        n += 1
        logacc, _ = metropolis_log_accept(H0, -lp1 + kinetic_energy(p1, inv_mass), max_energy_error)
        big = logacc > math.log(0.5)
        if direction is None:
            direction = torch.where(big, 1.0, -1.0).to(lp.dtype)
        # a chain stops once its acceptance crossed 1/2 in its search direction
        active = active & ~torch.where(direction > 0, ~big, big)
        if not bool(active.any()):
            break
        eps = torch.where(active, eps * torch.pow(2.0, direction), eps)
    return eps, n


# --------------------------------------------------------------------------- recording
class Recorder:
    """Traces of every iteration (warm-up first): observables, ``logp``, ``accept_prob``,
    ``accepted``, ``step_size``, ``divergent``; preallocated ``(total, B, ...)`` buffers."""

    def __init__(self, total: int, B: int, k_obs: int, dtype, device):
        buf = lambda dt, *shape: torch.empty(total, B, *shape, dtype=dt, device=device)  # noqa: E731
        self.bufs = {"obs": buf(dtype, k_obs), "logp": buf(dtype), "accept_prob": buf(dtype),
                     "accepted": buf(torch.bool), "step_size": buf(dtype), "divergent": buf(torch.bool)}

    def record(self, it: int, state: ChainState, info: StepInfo, obs: Optional[torch.Tensor]) -> None:
        if obs is not None:
            self.bufs["obs"][it] = obs
        for name, v in (("logp", state.logp), ("accept_prob", info.accept_prob), ("accepted", info.accepted),
                        ("step_size", info.step_size), ("divergent", info.divergent)):
            self.bufs[name][it] = v

    def snapshot(self, done: int) -> dict:
        return {name: b[:done].clone() for name, b in self.bufs.items()}

    def restore(self, traces: dict, done: int) -> None:
        for name, b in self.bufs.items():
            b[:done] = traces[name].to(device=b.device, dtype=b.dtype)

    def numpy(self, names: Sequence[str]) -> Dict[str, np.ndarray]:
        out = {name: self.bufs["obs"][:, :, i].cpu().numpy() for i, name in enumerate(names)}
        out.update({k: self.bufs[k].cpu().numpy() for k in ("logp", "accept_prob", "step_size")})
        out.update({k: self.bufs[k].cpu().numpy().astype(np.int8) for k in ("accepted", "divergent")})
        return out


# --------------------------------------------------------------------------- the driver
@dataclass
class Run:
    """A sampler run as the driver sees it: the log density, step settings, adaptation, what to
    record and the fixed mass matrix."""

    log_prob: Callable
    settings: StepSettings
    adapter: object  # DualAveraging | RobbinsMonro
    n_warmup: int
    n_iter: int
    observe: Optional[Callable] = None
    inv_mass: Optional[Tree] = None
    config: dict = field(default_factory=dict)  # the settings record a resume state must match

    @property
    def total(self) -> int:
        return self.n_warmup + self.n_iter


def snapshot(state: ChainState, run: Run, recorder: Recorder, gen: torch.Generator, wall: float) -> dict:
    """The checkpoint: chain state, traces so far and generator state (format ``STATE_FORMAT``)."""
    d = state.to_dict()
    d["wall_time"] = wall
    return {"format": STATE_FORMAT, "config": dict(run.config), **d, "traces": recorder.snapshot(state.it),
            "generator": gen.get_state().clone()}


def run_chains(run: Run, state: ChainState, gen: torch.Generator, recorder: Recorder, *,
               progress: Optional[ProgressFn] = None, progress_every: int = 1,
               on_checkpoint: Optional[CheckpointFn] = None, checkpoint_every: int = 0) -> ChainState:
    """Advance ``state`` to ``run.total`` iterations: step, adapt (warm-up), record, checkpoint, report."""
    t_start, wall_before = time.perf_counter(), state.wall_time
    sqrt_mass = None if run.inv_mass is None else tree_map(torch.rsqrt, run.inv_mass)
    for it in range(state.it, run.total):
        warm = it < run.n_warmup
        if it == run.n_warmup:
            state.eps_final = run.adapter.final(state)
        eps = state.eps if warm else state.eps_final
        state, info = hmc_step(state, run.log_prob, eps, run.settings, gen, run.inv_mass, sqrt_mass)
        if warm:
            state = run.adapter.update(state, it, info.accept_prob)
        recorder.record(it, state, info, run.observe(state.x) if run.observe is not None else None)
        done = it + 1
        if on_checkpoint is not None and checkpoint_every > 0 and (done % checkpoint_every == 0 or done == run.total):
            on_checkpoint(snapshot(state, run, recorder, gen, wall_before + time.perf_counter() - t_start))
        if progress is not None and (done % progress_every == 0 or done == run.total):
            progress(done, run.total, {"phase": "warmup" if warm else "sample", "accept": float(info.accept_prob.mean()),
                                       "step_size": float(info.step_size.mean()), "divergences": int(state.n_div.sum())})
    if run.total == run.n_warmup:  # no sampling iterations
        state.eps_final = run.adapter.final(state)
    state.wall_time = wall_before + (time.perf_counter() - t_start)
    return state


# --------------------------------------------------------------------------- hmc_sample
@dataclass
class HMCResult:
    """Output of :func:`hmc_sample`.

    ``traces[name]`` has shape ``(n_warmup + n_iter, B)`` (warm-up iterations first) for every
    observable plus ``"logp"`` (log density of the current state), ``"accept_prob"`` (Metropolis
    acceptance probability of the proposal), ``"accepted"`` (0/1) and ``"step_size"``.
    """

    x: torch.Tensor  # final state (B, dim)
    logp: torch.Tensor  # (B,)
    step_size: np.ndarray  # (B,) adapted step size (used after warm-up, before jitter)
    traces: Dict[str, np.ndarray]
    acceptance: np.ndarray  # (B,) fraction of accepted proposals after warm-up
    mean_accept_prob: np.ndarray  # (B,) mean acceptance probability after warm-up
    divergences: np.ndarray  # (B,) divergent proposals after warm-up
    warmup_divergences: np.ndarray  # (B,)
    n_iter: int
    n_warmup: int
    n_leapfrog: int
    seed: int
    target_accept: float
    n_grad_evals: int
    wall_time: float
    observable_names: Sequence[str] = field(default_factory=tuple)

    def samples(self, name: str) -> np.ndarray:
        """Post-warm-up trace ``(n_iter, B)`` of an observable."""
        return self.traces[name][self.n_warmup:]

    @property
    def grads_per_second(self) -> float:
        return self.n_grad_evals / self.wall_time if self.wall_time > 0 else float("nan")


@dataclass(frozen=True)
class HMCSettings:
    """Settings of :func:`hmc_sample` (validated)."""

    n_leapfrog: int = 10
    step_size: object = 0.1  # float or (B,): initial step size(s)
    target_accept: float = 0.8
    find_initial_step: bool = True
    adapt: bool = True
    restart_frac: float = 0.25
    jitter: float = 0.5
    max_energy_error: float = 1000.0

    def __post_init__(self):
        if not 0.0 < self.target_accept < 1.0:
            raise ParameterError("target_accept", self.target_accept, "must lie in (0, 1)")
        self.step()  # validates n_leapfrog and jitter

    def step(self) -> StepSettings:
        return StepSettings(int(self.n_leapfrog), float(self.jitter), True, float(self.max_energy_error))


def _check_state(state: dict, config: dict) -> None:
    """A resume ``state`` must come from a run with the same sampler settings."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise ParameterError("state", type(state).__name__ if not isinstance(state, dict) else state.get("format"),
                             f"must be a state dict of format {STATE_FORMAT!r} (from on_checkpoint)")
    saved = state.get("config", {})
    diff = {k: (saved.get(k), v) for k, v in config.items() if saved.get(k) != v}
    if diff:
        what = "; ".join(f"{k}: state {a!r}, this run {b!r}" for k, (a, b) in diff.items())
        raise ParameterError("state[" + ",".join(diff) + "]", {k: a for k, (a, _) in diff.items()},
                             f"the resume state was written with different sampler settings ({what})")
    it = int(state["it"])
    if not 0 <= it <= config["n_iter"] + config["n_warmup"]:
        raise ParameterError("state['it']", it, "outside the run")


def _observable_names(observe, x, names) -> list:
    k = 0 if observe is None else observe(x).shape[1]
    names = list(names)
    return names[:k] + [f"obs{i}" for i in range(len(names), k)]


def _hmc_run(log_prob, x: torch.Tensor, n_iter, n_warmup, s: HMCSettings, observe, names, inv_mass, seed) -> Run:
    """The driver's view of an :func:`hmc_sample` call, with the settings record of a resume state."""
    B, dim = x.shape
    config = {
        "B": B, "dim": dim, "dtype": str(x.dtype), "n_iter": int(n_iter), "n_warmup": int(n_warmup),
        "n_leapfrog": int(s.n_leapfrog), "target_accept": float(s.target_accept), "adapt": bool(s.adapt),
        "restart_frac": float(s.restart_frac), "jitter": float(s.jitter),
        "max_energy_error": float(s.max_energy_error), "find_initial_step": bool(s.find_initial_step),
        "inv_mass": inv_mass is not None, "observables": list(names), "seed": seed,
        "initial_step_size": torch.as_tensor(s.step_size, dtype=torch.float64).expand(B).tolist(),
    }
    adapter = DualAveraging(s.target_accept, n_warmup, s.restart_frac, s.adapt)
    return Run(log_prob, s.step(), adapter, int(n_warmup), int(n_iter), observe, inv_mass, config)


def _fresh_state(run: Run, x: torch.Tensor, s: HMCSettings, gen: torch.Generator) -> ChainState:
    """Initial state at ``x``: log density, gradient and (optionally) the initial step-size search."""
    B = x.shape[0]
    eps = torch.as_tensor(s.step_size, dtype=x.dtype, device=x.device).expand(B).clone()
    lp, g = value_and_grad(run.log_prob, x)
    n_grad = 1
    if not bool(torch.isfinite(lp).all()):
        bad = torch.nonzero(~torch.isfinite(lp)).flatten().tolist()
        raise ParameterError("x0", bad, "initial log density must be finite for every chain")
    if s.find_initial_step and (s.adapt or run.n_warmup > 0):
        eps, k = find_initial_step_size(run.log_prob, x, lp, g, eps, run.inv_mass, gen,
                                        max_energy_error=s.max_energy_error)
        n_grad += k
    return ChainState(x=x, logp=lp, grad=g, eps=eps, eps_final=eps, adapt=DualAveraging.reset(eps),
                      n_div=torch.zeros(B, dtype=torch.long, device=x.device), n_grad=n_grad)


def _hmc_result(state: ChainState, recorder: Recorder, run: Run, names, seed: int) -> HMCResult:
    traces = recorder.numpy(names)
    post = slice(run.n_warmup, run.total)
    nan_b = np.full(state.logp.shape[0], np.nan)
    return HMCResult(
        x=state.x, logp=state.logp, step_size=state.eps_final.cpu().numpy(), traces=traces,
        acceptance=traces["accepted"][post].mean(axis=0) if run.n_iter > 0 else nan_b,
        mean_accept_prob=traces["accept_prob"][post].mean(axis=0) if run.n_iter > 0 else nan_b,
        divergences=traces["divergent"][post].sum(axis=0),
        warmup_divergences=traces["divergent"][:run.n_warmup].sum(axis=0),
        n_iter=run.n_iter, n_warmup=run.n_warmup, n_leapfrog=run.settings.n_leapfrog, seed=seed,
        target_accept=run.adapter.delta, n_grad_evals=state.n_grad, wall_time=state.wall_time,
        observable_names=tuple(names))


def hmc_sample(log_prob: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, n_iter: int, n_warmup: int, *,
               observe: Optional[Callable[[torch.Tensor], torch.Tensor]] = None, observable_names: Sequence[str] = (),
               inv_mass: Optional[torch.Tensor] = None, seed: int = 0, generator: Optional[torch.Generator] = None,
               progress: Optional[ProgressFn] = None, progress_every: int = 1, state: Optional[dict] = None,
               on_checkpoint: Optional[CheckpointFn] = None, checkpoint_every: int = 0,
               **settings) -> HMCResult:
    """Run ``B`` independent HMC chains (rows of ``x0``) in lock step.

    Parameters
    ----------
    log_prob : callable ``x (B, dim) -> (B,)``
        Differentiable log density (up to a constant) of every chain; ``-inf``/NaN is allowed and
        marks a divergence. If it has a method ``value_and_grad(x) -> (lp, grad)`` (as
        :class:`verification.evidence_torch.PosteriorTarget` does) that is used instead of autograd.
    x0 : tensor ``(B, dim)``
        Initial states.
    n_iter, n_warmup : int
        Sampling and warm-up (adaptation) iterations; traces hold ``n_warmup + n_iter`` rows.
    observe : callable ``x (B, dim) -> (B, k)``, optional
        Observables recorded once per iteration at the current state (names in ``observable_names``).
    inv_mass : ``(B, dim)`` or ``(dim,)`` tensor, optional
        Fixed diagonal inverse mass matrix per chain (identity when ``None``).
    seed, generator :
        Seed of a fresh ``torch.Generator`` (on ``x0``'s device), or a generator to use (its
        ``initial_seed()`` is recorded).
    progress : callable ``(done, total, info)``, optional
        Called every ``progress_every`` iterations and at the end with ``info`` =
        ``{"phase", "accept", "step_size", "divergences"}`` (means over chains).
    on_checkpoint, checkpoint_every :
        If both are given (``checkpoint_every > 0``), ``on_checkpoint(state)`` is called after every
        ``checkpoint_every``-th iteration and after the last one (before ``progress`` of that
        iteration), with the :func:`snapshot` of the run (plain tensors and numbers; ``torch.save``
        / ``torch.load(weights_only=True)`` can store it).
    state : dict, optional
        A snapshot from ``on_checkpoint`` of a run with the same settings, log density, batch and
        observables: the run continues after iteration ``state["it"]`` instead of starting from
        ``x0`` (``x0`` then only fixes shape, dtype and device; the initial step-size search is not
        repeated; the generator is set to the saved state). The result is bit-identical to that of
        an uninterrupted run. A state whose ``"config"`` differs raises :class:`ParameterError`.
    **settings :
        Fields of :class:`HMCSettings`: ``n_leapfrog`` (10), ``step_size`` (0.1; float or ``(B,)``,
        the starting point of the search/adaptation), ``target_accept`` (0.8, the dual-averaging
        target), ``find_initial_step`` (True), ``adapt`` (True), ``restart_frac`` (0.25),
        ``jitter`` (0.5), ``max_energy_error`` (1000).
    """
    unknown = set(settings) - {f.name for f in fields(HMCSettings)}
    if unknown:
        raise TypeError(f"hmc_sample() got unexpected keyword argument(s) {sorted(unknown)}")
    s = HMCSettings(**settings)
    if n_iter < 0 or n_warmup < 0:
        raise ParameterError("n_iter/n_warmup", (n_iter, n_warmup), "must be >= 0")
    if int(checkpoint_every) < 0:
        raise ParameterError("checkpoint_every", checkpoint_every, "must be >= 0 (0: never)")
    x = x0.detach().clone()
    B, dim = x.shape
    if generator is None:
        generator = torch.Generator(device=x.device)
        generator.manual_seed(int(seed))
    seed = int(generator.initial_seed())
    if inv_mass is not None:
        inv_mass = torch.as_tensor(inv_mass, dtype=x.dtype, device=x.device).expand(B, dim).contiguous()
    names = _observable_names(observe, x, observable_names)
    run = _hmc_run(log_prob, x, n_iter, n_warmup, s, observe, names, inv_mass, seed)
    recorder = Recorder(run.total, B, len(names), x.dtype, x.device)
    if state is None:
        t0 = time.perf_counter()
        st = _fresh_state(run, x, s, generator)
        st.wall_time = time.perf_counter() - t0  # the initial evaluation and step-size search count
    else:
        _check_state(state, run.config)
        st = ChainState.from_dict(state, x, DualAveraging.keys)
        recorder.restore(state["traces"], st.it)
        generator.set_state(state["generator"].detach().cpu().clone())
    st = run_chains(run, st, generator, recorder, progress=progress, progress_every=progress_every,
                    on_checkpoint=on_checkpoint, checkpoint_every=int(checkpoint_every))
    return _hmc_result(st, recorder, run, names, seed)
