"""Hamiltonian Monte Carlo for a batch of independent chains in one tensor computation.

Every chain has its own step size, adapted during warm-up by dual averaging (Hoffman & Gelman
2014, Alg. 5: ``gamma = 0.05, t0 = 10, kappa = 0.75``, target acceptance ``delta = 0.8``), with
the adaptation restarted once (at ``restart_frac`` of the warm-up) so that the transient from
the initial state does not bias the final step size. The number of leapfrog steps is fixed;
the mass matrix is the identity or a fixed per-chain diagonal (``inv_mass``). After warm-up the
step size is frozen at the dual-averaging average. In every iteration (warm-up included) the
step size is multiplied by a uniform factor in ``[1 - jitter, 1 + jitter]`` (default 0.5).

Why the jitter matters here: with the "qk" prior almost all of the ``2 N T`` directions of
``(Q, K)`` are prior-dominated harmonic oscillators of period ``2 pi``, and the scores
``S = Q^T K / N`` are *bilinear*: after a trajectory of length ``theta = eps L`` the prior part
of ``S`` has autocorrelation ``cos^2(theta)``. Dual averaging at acceptance 0.8 gives
``eps ~ 0.3`` at V = 8, so ``L = 10`` lands on ``theta ~ pi`` (``Q, K -> -Q, -K``, ``S`` unchanged)
and the ESS of ``m`` collapsed to ~2 % of the draws with a 10 % jitter. A 50 % jitter averages
``cos^2`` over a wide range of ``theta`` (ESS ~25-50 % of the draws); ``eps L ~ pi/2`` (e.g.
``L = 5`` at ``eps ~ 0.3``) is better still.

A proposal whose energy is not finite (failed Cholesky -> ``-inf``, or NaN) or whose energy error
exceeds ``max_energy_error`` is a *divergence*: it is rejected (acceptance probability 0) and
counted. Chains never interact, so a diverging chain does not disturb the others.

All random numbers come from one ``torch.Generator`` seeded with ``seed`` (recorded in the result).

Checkpoint / resume: with ``on_checkpoint`` and ``checkpoint_every > 0`` the complete sampler state
(:func:`hmc_sample` docstring) is handed to ``on_checkpoint`` every ``checkpoint_every`` iterations
and after the last one; passing such a state back as ``state=`` continues the run where it stopped,
with bit-identical results to an uninterrupted run (same device, dtype, torch build and threads).
Persisting the state (atomically) is the caller's job (:func:`verification.sweep.run_sweep`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import torch

from copyhead.theory.model import ParameterError

ProgressFn = Callable[[int, int, dict], None]
CheckpointFn = Callable[[dict], None]

STATE_FORMAT = "copyhead.hmc_state/1"


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


def _value_and_grad(log_prob, x: torch.Tensor):
    vg = getattr(log_prob, "value_and_grad", None)
    if vg is not None:
        return vg(x)
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        lp = log_prob(xg)
        (g,) = torch.autograd.grad(lp.sum(), xg)
    return lp.detach(), g


def _accept_prob(H0: torch.Tensor, H1: torch.Tensor, max_energy_error: float):
    """Acceptance probability ``min(1, exp(H0 - H1))`` and divergence flags (non-finite / huge error)."""
    dH = H1 - H0
    div = ~torch.isfinite(dH) | (dH > max_energy_error)
    logacc = torch.clamp(-dH, max=0.0)
    logacc = torch.where(div, torch.full_like(logacc, -math.inf), logacc)
    return logacc, div


def _leapfrog(log_prob, x, p, lp, g, eps, inv_mass, n_steps: int):
    """``n_steps`` leapfrog steps; ``eps`` is ``(B, 1)``. Returns the new ``x, p, lp, g``."""
    p = p + (0.5 * eps) * g
    for i in range(n_steps):
        if inv_mass is None:
            x = x + eps * p
        else:
            x = x + eps * (inv_mass * p)
        lp, g = _value_and_grad(log_prob, x)
        if i < n_steps - 1:
            p = p + eps * g
    p = p + (0.5 * eps) * g
    return x, p, lp, g


def _kinetic(p, inv_mass):
    if inv_mass is None:
        return 0.5 * (p * p).sum(dim=1)
    return 0.5 * (inv_mass * p * p).sum(dim=1)


def _momentum(shape, gen, dtype, device, sqrt_mass):
    p = torch.randn(shape, generator=gen, dtype=dtype, device=device)
    return p if sqrt_mass is None else p * sqrt_mass


def find_initial_step_size(log_prob, x, lp, g, eps, inv_mass, gen, max_rounds: int = 30,
                           max_energy_error: float = 1000.0):
    """Batched version of Hoffman & Gelman Alg. 4: double/halve each chain's step size until the
    one-leapfrog-step acceptance probability crosses 1/2. Returns ``(eps (B,), n_grad_evals)``."""
    B = x.shape[0]
    sqrt_mass = None if inv_mass is None else torch.rsqrt(inv_mass)
    eps = eps.clone()
    direction = None
    active = torch.ones(B, dtype=torch.bool, device=x.device)
    n = 0
    for _ in range(max_rounds):
        p = _momentum(x.shape, gen, x.dtype, x.device, sqrt_mass)
        H0 = -lp + _kinetic(p, inv_mass)
        _, p1, lp1, _ = _leapfrog(log_prob, x, p, lp, g, eps[:, None], inv_mass, 1)
        n += 1
        H1 = -lp1 + _kinetic(p1, inv_mass)
        logacc, _ = _accept_prob(H0, H1, max_energy_error)
        big = logacc > math.log(0.5)
        if direction is None:
            direction = torch.where(big, 1.0, -1.0).to(x.dtype)
        # a chain stops once its acceptance crossed 1/2 in its search direction
        crossed = torch.where(direction > 0, ~big, big)
        active = active & ~crossed
        if not bool(active.any()):
            break
        eps = torch.where(active, eps * torch.pow(2.0, direction), eps)
    return eps, n


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


def hmc_sample(
    log_prob: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    n_iter: int,
    n_warmup: int,
    *,
    n_leapfrog: int = 10,
    step_size=0.1,
    target_accept: float = 0.8,
    inv_mass: Optional[torch.Tensor] = None,
    observe: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
    observable_names: Sequence[str] = (),
    seed: int = 0,
    generator: Optional[torch.Generator] = None,
    find_initial_step: bool = True,
    adapt: bool = True,
    restart_frac: float = 0.25,
    jitter: float = 0.5,
    max_energy_error: float = 1000.0,
    progress: Optional[ProgressFn] = None,
    progress_every: int = 1,
    state: Optional[dict] = None,
    on_checkpoint: Optional[CheckpointFn] = None,
    checkpoint_every: int = 0,
) -> HMCResult:
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
    n_leapfrog : int
        Leapfrog steps per iteration (gradient evaluations per iteration).
    step_size : float or ``(B,)``
        Initial step size(s) (starting point of the search/adaptation; used as is when
        ``adapt=False`` and ``find_initial_step=False``).
    target_accept : float
        Dual-averaging target ``delta``.
    inv_mass : ``(B, dim)`` or ``(dim,)`` tensor, optional
        Fixed diagonal inverse mass matrix per chain (identity when ``None``).
    observe : callable ``x (B, dim) -> (B, k)``, optional
        Observables recorded once per iteration at the current state (names in ``observable_names``).
    seed, generator :
        Seed of a fresh ``torch.Generator`` (on ``x0``'s device), or a generator to use (its
        ``initial_seed()`` is recorded).
    progress : callable ``(done, total, info)``, optional
        Called every ``progress_every`` iterations and at the end with ``info`` =
        ``{"phase", "accept", "step_size", "divergences"}`` (means over chains).
    on_checkpoint, checkpoint_every :
        If both are given (``checkpoint_every > 0``), ``on_checkpoint(state)`` is called after every
        ``checkpoint_every``-th iteration and after the last one (before ``progress`` of that
        iteration). ``state`` is a dict of tensors and plain Python values (``torch.save`` /
        ``torch.load(weights_only=True)`` can store it): the format tag, a ``"config"`` record of the
        sampler settings, the number ``"it"`` of completed iterations, the current ``x, logp, grad``,
        the step sizes and dual-averaging state, the divergence counts, the traces of the completed
        iterations, the generator state, the gradient-evaluation count and the elapsed wall time.
        The tensors are copies (the sampler never mutates them afterwards).
    state : dict, optional
        A state produced by ``on_checkpoint`` of a run with the same settings, log density, batch
        and observables: the run continues after iteration ``state["it"]`` instead of starting from
        ``x0`` (``x0`` then only fixes shape, dtype and device; the initial step-size search is not
        repeated; the generator is set to the saved state). The result is bit-identical to that of
        an uninterrupted run. A state whose ``"config"`` differs raises :class:`ParameterError`.
    """
    if n_iter < 0 or n_warmup < 0:
        raise ParameterError("n_iter/n_warmup", (n_iter, n_warmup), "must be >= 0")
    if n_leapfrog < 1:
        raise ParameterError("n_leapfrog", n_leapfrog, "must be >= 1")
    if not 0.0 < target_accept < 1.0:
        raise ParameterError("target_accept", target_accept, "must lie in (0, 1)")
    if not 0.0 <= jitter < 1.0:
        raise ParameterError("jitter", jitter, "must lie in [0, 1)")
    if int(checkpoint_every) < 0:
        raise ParameterError("checkpoint_every", checkpoint_every, "must be >= 0 (0: never)")
    checkpoint_every = int(checkpoint_every)
    t_start = time.perf_counter()
    x = x0.detach().clone()
    B, dim = x.shape
    device, dtype = x.device, x.dtype
    if generator is None:
        generator = torch.Generator(device=device)
        generator.manual_seed(int(seed))
    seed = int(generator.initial_seed())
    if inv_mass is not None:
        inv_mass = torch.as_tensor(inv_mass, dtype=dtype, device=device).expand(B, dim).contiguous()
        sqrt_mass = torch.rsqrt(inv_mass)
    else:
        sqrt_mass = None

    # dual-averaging constants
    gamma, t0, kap = 0.05, 10.0, 0.75
    delta = target_accept
    restart_at = int(restart_frac * n_warmup) if adapt and n_warmup >= 20 else -1

    def da_reset(e):
        return torch.log(10.0 * e), torch.zeros_like(e), torch.zeros_like(e), 0

    total = n_warmup + n_iter
    names = list(observable_names)
    obs = observe(x) if observe is not None else None
    k_obs = 0 if obs is None else obs.shape[1]
    if len(names) != k_obs:
        names = names[:k_obs] + [f"obs{i}" for i in range(len(names), k_obs)]
    tr_obs = torch.empty(total, B, k_obs, dtype=dtype, device=device)
    tr_lp = torch.empty(total, B, dtype=dtype, device=device)
    tr_acc = torch.empty(total, B, dtype=dtype, device=device)
    tr_accd = torch.empty(total, B, dtype=torch.bool, device=device)
    tr_eps = torch.empty(total, B, dtype=dtype, device=device)
    tr_div = torch.empty(total, B, dtype=torch.bool, device=device)
    trace_bufs = {"obs": tr_obs, "logp": tr_lp, "accept_prob": tr_acc, "accepted": tr_accd,
                  "step_size": tr_eps, "divergent": tr_div}

    config = {
        "B": B, "dim": dim, "dtype": str(dtype), "n_iter": int(n_iter), "n_warmup": int(n_warmup),
        "n_leapfrog": int(n_leapfrog), "target_accept": float(target_accept), "adapt": bool(adapt),
        "restart_frac": float(restart_frac), "jitter": float(jitter),
        "max_energy_error": float(max_energy_error), "find_initial_step": bool(find_initial_step),
        "inv_mass": inv_mass is not None, "observables": list(names), "seed": seed,
        "initial_step_size": torch.as_tensor(step_size, dtype=torch.float64).expand(B).tolist(),
    }

    if state is None:
        start_it = 0
        wall_before = 0.0
        eps = torch.as_tensor(step_size, dtype=dtype, device=device).expand(B).clone()
        n_grad = 0
        lp, g = _value_and_grad(log_prob, x)
        n_grad += 1
        if not bool(torch.isfinite(lp).all()):
            bad = torch.nonzero(~torch.isfinite(lp)).flatten().tolist()
            raise ParameterError("x0", bad, "initial log density must be finite for every chain")
        if find_initial_step and (adapt or n_warmup > 0):
            eps, k = find_initial_step_size(log_prob, x, lp, g, eps, inv_mass, generator,
                                            max_energy_error=max_energy_error)
            n_grad += k
        mu, Hbar, log_eps_bar, da_m = da_reset(eps)
        eps_final = eps
        n_div = torch.zeros(B, dtype=torch.long, device=device)
    else:
        _check_state(state, config)
        start_it = int(state["it"])
        wall_before = float(state["wall_time"])
        n_grad = int(state["n_grad_evals"])
        da_m = int(state["da_m"])

        def ld(name, dt=dtype):
            return state[name].to(device=device, dtype=dt).clone()

        x, lp, g = ld("x"), ld("logp"), ld("grad")
        eps, eps_final = ld("eps"), ld("eps_final")
        mu, Hbar, log_eps_bar = ld("mu"), ld("Hbar"), ld("log_eps_bar")
        n_div = ld("n_div", torch.long)
        for name, buf in trace_bufs.items():
            buf[:start_it] = state["traces"][name].to(device=device, dtype=buf.dtype)
        generator.set_state(state["generator"].detach().cpu().clone())

    def snapshot(done: int) -> dict:
        return {
            "format": STATE_FORMAT,
            "config": dict(config),
            "it": done,
            "x": x.detach().clone(), "logp": lp.detach().clone(), "grad": g.detach().clone(),
            "eps": eps.clone(), "eps_final": eps_final.clone(),
            "mu": mu.clone(), "Hbar": Hbar.clone(), "log_eps_bar": log_eps_bar.clone(), "da_m": int(da_m),
            "n_div": n_div.clone(),
            "traces": {name: buf[:done].clone() for name, buf in trace_bufs.items()},
            "generator": generator.get_state().clone(),
            "n_grad_evals": int(n_grad),
            "wall_time": wall_before + (time.perf_counter() - t_start),
        }

    for it in range(start_it, total):
        warm = it < n_warmup
        if it == n_warmup:
            eps_final = torch.exp(log_eps_bar) if (adapt and n_warmup > 0) else eps
        eps_it = eps if warm else eps_final
        if jitter > 0:  # jittered in warm-up too, so that the adaptation sees the jittered sampler
            u = torch.rand(B, generator=generator, dtype=dtype, device=device)
            eps_it = eps_it * (1.0 + jitter * (2.0 * u - 1.0))
        p = _momentum((B, dim), generator, dtype, device, sqrt_mass)
        H0 = -lp + _kinetic(p, inv_mass)
        x1, p1, lp1, g1 = _leapfrog(log_prob, x, p, lp, g, eps_it[:, None], inv_mass, n_leapfrog)
        n_grad += n_leapfrog
        H1 = -lp1 + _kinetic(p1, inv_mass)
        logacc, div = _accept_prob(H0, H1, max_energy_error)
        logu = torch.log(torch.rand(B, generator=generator, dtype=dtype, device=device))
        acc = logu < logacc
        a = torch.exp(logacc)
        x = torch.where(acc[:, None], x1, x)
        lp = torch.where(acc, lp1, lp)
        g = torch.where(acc[:, None], g1, g)
        if warm and adapt:
            if it == restart_at:
                mu, Hbar, log_eps_bar, da_m = da_reset(eps)
            da_m += 1
            w = 1.0 / (da_m + t0)
            Hbar = (1.0 - w) * Hbar + w * (delta - a)
            log_eps = mu - math.sqrt(da_m) / gamma * Hbar
            eta = da_m ** (-kap)
            log_eps_bar = eta * log_eps + (1.0 - eta) * log_eps_bar
            eps = torch.exp(log_eps)
        if observe is not None:
            tr_obs[it] = observe(x)
        tr_lp[it] = lp
        tr_acc[it] = a
        tr_accd[it] = acc
        tr_eps[it] = eps_it
        tr_div[it] = div
        n_div += div
        if on_checkpoint is not None and checkpoint_every > 0 and (
                (it + 1) % checkpoint_every == 0 or it + 1 == total):
            on_checkpoint(snapshot(it + 1))
        if progress is not None and ((it + 1) % progress_every == 0 or it + 1 == total):
            progress(it + 1, total, {
                "phase": "warmup" if warm else "sample",
                "accept": float(a.mean()),
                "step_size": float(eps_it.mean()),
                "divergences": int(n_div.sum()),
            })
    if total == n_warmup:  # no sampling iterations
        eps_final = torch.exp(log_eps_bar) if (adapt and n_warmup > 0) else eps

    traces = {name: tr_obs[:, :, i].cpu().numpy() for i, name in enumerate(names)}
    traces.update(
        logp=tr_lp.cpu().numpy(),
        accept_prob=tr_acc.cpu().numpy(),
        accepted=tr_accd.cpu().numpy().astype(np.int8),
        step_size=tr_eps.cpu().numpy(),
        divergent=tr_div.cpu().numpy().astype(np.int8),
    )
    post = slice(n_warmup, total)
    nan_b = np.full(B, np.nan)
    acceptance = traces["accepted"][post].mean(axis=0) if n_iter > 0 else nan_b
    mean_ap = traces["accept_prob"][post].mean(axis=0) if n_iter > 0 else nan_b
    return HMCResult(
        x=x,
        logp=lp,
        step_size=eps_final.cpu().numpy(),
        traces=traces,
        acceptance=acceptance,
        mean_accept_prob=mean_ap,
        divergences=traces["divergent"][post].sum(axis=0),
        warmup_divergences=traces["divergent"][:n_warmup].sum(axis=0),
        n_iter=n_iter,
        n_warmup=n_warmup,
        n_leapfrog=n_leapfrog,
        seed=seed,
        target_accept=target_accept,
        n_grad_evals=n_grad,
        wall_time=wall_before + (time.perf_counter() - t_start),
        observable_names=tuple(names),
    )
