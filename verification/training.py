"""Adam on the full finite network: the MAP point estimate (THEORY.md §7).

``train_adam`` minimises the negative log joint ``U`` of :mod:`verification.network`
(squared error over all sequences and positions / (2 kappa) + priors as weight decay) on one data
set of ``P = model.P`` sequences, full batch, and records ``m(t)``, ``r(t)``, ``U(t)`` and the
gradient norm along the way.

Initialisations
---------------
``"prior"``: ``Q, K ~ init_scale * N(0, 1)`` (``S ~ init_scale * N(0, 1/N)`` for the gaussian prior),
``W ~ N(0, sigma2 / V)``.

``"copy"``: scores at a copy head -- ``S = s0 (J - 11^T/T)`` with ``s0 = log V + 3`` for softmax,
``S = J`` for linear attention (``s0`` overrides the amplitude) -- realised with the
minimum-norm factorisation ``Q = sqrt(N) O Sigma^{1/2} U^T``, ``K = sqrt(N) O Sigma^{1/2} V^T``
(``S = U Sigma V^T``, ``O`` a random ``N x rank`` matrix with orthonormal columns) plus a small
perturbation ``copy_noise``; ``W`` at the readout posterior mean given that ``A``
(``copy_readout="posterior"``) or ``N(0, sigma2/V)`` (``"random"``).

Learning-rate schedule: starting at ``lr``, a cosine (default) or exponential
decay to ``lr_final`` (default ``lr / 100``) at the last step; ``schedule="constant"`` keeps ``lr``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

from copyhead.theory.evidence import readout_posterior
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.order_parameters import shift_matrix

from .evidence_torch import DTYPE, Counts, attention
from .network import data_for, f_map_reduced, map_loss, order_parameters, params_scores

INITS = ("prior", "copy")
SCHEDULES = ("cosine", "exp", "constant")


@dataclass
class TrainResult:
    """Outcome of one Adam run. Traces are recorded at ``trace_step``."""

    model: Model
    init: str
    m: float
    r: float
    loss: float  # final U
    loss_per_V2: float  # U / V^2, comparable with F_MAP (+ O(1/V))
    f_map: float  # reduced F_MAP evaluated at the final S (leading order)
    grad_norm: float  # |grad U| over all parameters at the final point
    grad_norm_scores: float  # |grad U| over Q, K (or S)
    grad_norm_W: float
    trace_step: np.ndarray
    m_trace: np.ndarray
    r_trace: np.ndarray
    loss_trace: np.ndarray
    grad_trace: np.ndarray
    lr_trace: np.ndarray
    wall_time: float
    lr: float
    lr_final: float
    schedule: str
    steps: int
    seed: int
    data_seed: int
    init_scale: float
    S: np.ndarray = field(repr=False)
    W: np.ndarray = field(repr=False)
    params: dict = field(repr=False, default_factory=dict)

    def jump(self, window_frac: float = 0.02) -> dict:
        """Abruptness of ``m(t)``: see :func:`jump_statistics`."""
        return jump_statistics(self.trace_step, self.m_trace, window_frac)

    def summary(self) -> dict:
        j = self.jump()
        return {
            "attention": self.model.attention,
            "prior": self.model.prior,
            "V": self.model.V,
            "alpha": self.model.alpha,
            "init": self.init,
            "m": self.m,
            "r": self.r,
            "loss_per_V2": self.loss_per_V2,
            "f_map": self.f_map,
            "grad_norm": self.grad_norm,
            "steps": self.steps,
            "lr": self.lr,
            "lr_final": self.lr_final,
            "wall_time": self.wall_time,
            "seed": self.seed,
            "data_seed": self.data_seed,
            "jump_step": j["step"],
            "jump_fraction": j["fraction"],
            "t50": j["t50"],
            "sharpness": j["sharpness"],
        }


def jump_statistics(steps, m, window_frac: float = 0.02) -> dict:
    """How abrupt the change of ``m(t)`` is.

    Returns a dict with

    * ``step, dm, total, fraction``: the largest change of ``m`` over a window of
      ``window_frac * steps`` training steps (``dm``, centred at ``step``), the total range
      ``max m - min m`` over the run, and ``fraction = dm / total`` (near 1: one abrupt jump;
      near ``window_frac``: a gradual drift; 0 when ``total < 1e-3``);
    * ``t10, t50, t90``: first steps at which ``m`` has covered 10%, 50%, 90% of its net change
      ``m_final - m_0``, and ``sharpness = (t90 - t10) / t50`` (NaN when ``|m_final - m_0| < 0.05``).
      A plateau followed by a jump gives ``sharpness << 1``; a relaxation that starts at once
      (``m ~ 1 - e^{-t/tau}``) gives ``(2.30 - 0.105)/0.69 = 3.2``.
    """
    steps = np.asarray(steps, float)
    m = np.asarray(m, float)
    nan = float("nan")
    out = {"step": nan, "dm": 0.0, "total": 0.0, "fraction": 0.0, "t10": nan, "t50": nan, "t90": nan, "sharpness": nan}
    if len(m) < 2:
        return out
    w = window_frac * (steps[-1] - steps[0])
    j = np.searchsorted(steps, steps + w, side="right") - 1
    dm = np.abs(m[j] - m)
    i = int(np.argmax(dm))
    total = float(m.max() - m.min())
    out.update(step=float(0.5 * (steps[i] + steps[j[i]])), dm=float(dm[i]), total=total,
               fraction=float(dm[i] / total) if total >= 1e-3 else 0.0)
    net = m[-1] - m[0]
    if abs(net) >= 0.05:
        prog = (m - m[0]) / net
        for q, key in ((0.1, "t10"), (0.5, "t50"), (0.9, "t90")):
            k = int(np.argmax(prog >= q))
            out[key] = float(steps[k])
        if out["t50"] > 0:
            out["sharpness"] = (out["t90"] - out["t10"]) / out["t50"]
    return out


# ---------------------------------------------------------------------------- init
def _factor_scores(S: np.ndarray, N: int, gen: torch.Generator):
    """Minimum-norm ``Q, K`` (``N x T``) with ``Q^T K / N = S`` (rank truncated to ``N``)."""
    U, sv, Vt = np.linalg.svd(S)
    rank = int(min(N, (sv > 1e-12 * max(sv.max(), 1e-300)).sum()))
    U, sv, Vt = U[:, :rank], sv[:rank], Vt[:rank]
    G = torch.randn(N, max(rank, 1), generator=gen, dtype=DTYPE).numpy()
    O, _ = np.linalg.qr(G)
    O = O[:, :rank]
    root = np.sqrt(sv)
    Q = math.sqrt(N) * O @ (root[:, None] * U.T)
    K = math.sqrt(N) * O @ (root[:, None] * Vt)
    return Q, K


def copy_scores(model: Model, s0: Optional[float] = None) -> np.ndarray:
    """The copy-head scores of the ``"copy"`` init: ``s0 (J - 11^T/T)`` (softmax) or ``s0 J`` (linear)."""
    T, V = model.T, model.require_V()
    J = shift_matrix(T)
    if model.attention == "softmax":
        s0 = math.log(V) + 3.0 if s0 is None else float(s0)
        return s0 * (J - np.ones((T, T)) / T)
    s0 = 1.0 if s0 is None else float(s0)
    return s0 * J


def init_params(
    model: Model,
    data: Counts,
    init: str,
    gen: torch.Generator,
    init_scale: float = 1.0,
    s0: Optional[float] = None,
    copy_noise: float = 0.01,
    copy_readout: str = "posterior",
) -> dict:
    """Initial parameters ``{"Q","K","W"}`` or ``{"S","W"}`` (batch axis of size 1)."""
    if init not in INITS:
        raise ParameterError("init", init, f"must be one of {', '.join(INITS)}")
    if copy_readout not in ("posterior", "random"):
        raise ParameterError("copy_readout", copy_readout, "must be posterior or random")
    T, V, N = model.T, model.require_V(), model.N
    W = torch.randn(1, V, V, generator=gen, dtype=DTYPE) * math.sqrt(model.sigma2 / V)
    if init == "prior":
        if model.prior == "qk":
            p = {
                "Q": init_scale * torch.randn(1, N, T, generator=gen, dtype=DTYPE),
                "K": init_scale * torch.randn(1, N, T, generator=gen, dtype=DTYPE),
            }
        else:
            p = {"S": init_scale * torch.randn(1, T, T, generator=gen, dtype=DTYPE) / math.sqrt(N)}
        p["W"] = W
        return p
    S = copy_scores(model, s0)
    if model.prior == "qk":
        Q, K = _factor_scores(S, N, gen)
        Q = torch.as_tensor(Q, dtype=DTYPE)[None] + copy_noise * torch.randn(1, N, T, generator=gen, dtype=DTYPE)
        K = torch.as_tensor(K, dtype=DTYPE)[None] + copy_noise * torch.randn(1, N, T, generator=gen, dtype=DTYPE)
        p = {"Q": Q, "K": K}
    else:
        p = {"S": torch.as_tensor(S, dtype=DTYPE)[None] + copy_noise * torch.randn(1, T, T, generator=gen, dtype=DTYPE) / math.sqrt(N)}
    if copy_readout == "posterior":
        A = attention(params_scores(p)[0], model.attention).numpy()
        Wbar, _ = readout_posterior(A, data.single(), model.sigma2, model.kappa)
        W = torch.as_tensor(Wbar, dtype=DTYPE)[None]
    p["W"] = W
    return p


def _lr_at(k: int, steps: int, lr: float, lr_final: float, schedule: str) -> float:
    if schedule == "constant" or steps <= 1:
        return lr
    x = k / (steps - 1)
    if schedule == "cosine":
        return lr_final + 0.5 * (lr - lr_final) * (1.0 + math.cos(math.pi * x))
    return lr * (lr_final / lr) ** x  # "exp"


def grad_norms(params: dict, data: Counts, model: Model):
    """``(|grad U|, |grad_scores U|, |grad_W U|)`` at ``params`` (first replica)."""
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    U = map_loss(p, data, model).sum()
    grads = torch.autograd.grad(U, list(p.values()))
    sq = {k: float((g * g).sum()) for k, g in zip(p.keys(), grads)}
    sc = sum(v for k, v in sq.items() if k != "W")
    return math.sqrt(sc + sq["W"]), math.sqrt(sc), math.sqrt(sq["W"])


# ---------------------------------------------------------------------------- training
def train_adam(
    model: Model,
    steps: int,
    lr: float,
    seed: int,
    init: str = "prior",
    init_scale: float = 1.0,
    record_every: int = 50,
    data=None,
    progress: Optional[Callable] = None,
    *,
    lr_final: Optional[float] = None,
    schedule: str = "cosine",
    betas=(0.9, 0.999),
    data_seed: Optional[int] = None,
    s0: Optional[float] = None,
    copy_noise: float = 0.01,
    copy_readout: str = "posterior",
) -> TrainResult:
    """Full-batch Adam on the MAP loss ``U`` (negative log joint) of one data set.

    Parameters
    ----------
    model : Model
        Needs ``V`` and ``alpha`` (``P = model.P`` sequences, ``N = model.N``).
    steps, lr : int, float
        Number of Adam steps and the initial learning rate (the same for all parameters).
    seed : int
        Seed of the initialisation; also of the data when ``data`` and ``data_seed`` are None.
    init : {"prior", "copy"}
    init_scale : float
        Multiplies ``Q, K`` (or ``S``) of the prior init.
    record_every : int
        Record ``m, r, U, |grad U|`` every so many steps (and at the first and last step).
    data : None, (P, T) int array, or :class:`verification.evidence_torch.Counts`
        The training set; by default ``sample_tokens(P, T, V, data_seed)``.
    progress : callable(step, m, r, loss) or None
        Called at every record.
    lr_final, schedule : learning rate at the last step (default ``lr / 100``) and the decay
        shape ``"cosine" | "exp" | "constant"``.

    Torch's thread count is the caller's (``copyhead train --threads``).
    """
    steps, lr_final, data_seed = _check_training(model, steps, lr, lr_final, schedule, seed, data_seed)
    data = data_for(model, data, data_seed)
    if data.n_groups != 1 or data.T != model.T or data.V != model.V:
        raise ParameterError("data", tuple(data.G.shape), f"must be one data set with T={model.T} and V={model.V}")
    gen = torch.Generator().manual_seed(int(seed) + 7919)
    params = init_params(model, data, init, gen, init_scale, s0, copy_noise, copy_readout)
    t0 = time.perf_counter()
    rec = _adam(params, data, model, steps, lambda k: _lr_at(min(k, steps - 1), steps, lr, lr_final, schedule),
                lr, betas, record_every, progress)
    wall = time.perf_counter() - t0
    return _train_result(model, init, {k: v.detach() for k, v in params.items()}, data, rec, wall,
                         dict(lr=float(lr), lr_final=lr_final, schedule=schedule, steps=steps, seed=int(seed),
                              data_seed=int(data_seed), init_scale=float(init_scale)))


def _check_training(model: Model, steps, lr, lr_final, schedule, seed, data_seed):
    """Validated ``(steps, lr_final, data_seed)``."""
    model.require_V()
    model.require_alpha()
    if schedule not in SCHEDULES:
        raise ParameterError("schedule", schedule, f"must be one of {', '.join(SCHEDULES)}")
    if int(steps) < 1:
        raise ParameterError("steps", steps, "must be >= 1")
    if not lr > 0:
        raise ParameterError("lr", lr, "must be > 0")
    return int(steps), (lr / 100.0 if lr_final is None else float(lr_final)), (seed if data_seed is None else data_seed)


def _adam(params: dict, data: Counts, model: Model, steps: int, lr_at, lr: float, betas, record_every: int,
          progress) -> dict:
    """Full-batch Adam on the MAP loss, in place on ``params``; records ``m, r, U, |grad U|, lr``
    every ``record_every`` steps and at the last one."""
    for v in params.values():
        v.requires_grad_(True)
    opt = torch.optim.Adam(list(params.values()), lr=lr, betas=betas)
    rec = {"step": [], "m": [], "r": [], "loss": [], "grad": [], "lr": []}
    for k in range(steps + 1):
        cur_lr = lr_at(k)
        opt.zero_grad(set_to_none=True)
        U = map_loss(params, data, model).sum()
        U.backward()
        if k % record_every == 0 or k == steps:
            with torch.no_grad():
                gn = math.sqrt(sum(float((v.grad * v.grad).sum()) for v in params.values()))
                m, r = order_parameters(params, model)
            for key, val in (("step", k), ("m", float(m[0])), ("r", float(r[0])), ("loss", U.item()), ("grad", gn),
                             ("lr", cur_lr)):
                rec[key].append(val)
            if progress is not None:
                progress(k, float(m[0]), float(r[0]), U.item())
        if k == steps:
            break
        for gr in opt.param_groups:
            gr["lr"] = cur_lr
        opt.step()
    return rec


def _train_result(model: Model, init: str, final: dict, data: Counts, rec: dict, wall: float, settings: dict):
    """The :class:`TrainResult` of the final parameters (gradient norms, loss, reduced F_MAP)."""
    gn, gs, gw = grad_norms(final, data, model)
    with torch.no_grad():
        S = params_scores(final)[0].numpy().copy()
        loss = float(map_loss(final, data, model)[0])
    m_fin, r_fin = order_parameters(final, model)
    return TrainResult(
        model=model, init=init, m=float(m_fin[0]), r=float(r_fin[0]), loss=loss, loss_per_V2=loss / model.V**2,
        f_map=f_map_reduced(S, model), grad_norm=gn, grad_norm_scores=gs, grad_norm_W=gw,
        trace_step=np.asarray(rec["step"]), m_trace=np.asarray(rec["m"]), r_trace=np.asarray(rec["r"]),
        loss_trace=np.asarray(rec["loss"]), grad_trace=np.asarray(rec["grad"]), lr_trace=np.asarray(rec["lr"]),
        wall_time=wall, **settings, S=S, W=final["W"][0].numpy().copy(),
        params={k: v[0].numpy().copy() for k, v in final.items()},
    )
