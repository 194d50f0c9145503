"""Full-batch training of the induction-head transformer: gradient descent or Adam, joint or staged.

``train`` minimises the mean proper cross-entropy of the eps-mixed prediction
(:meth:`InductionTransformer.loss`) on one fixed training set (full batch, as in the paper) and
records, every ``record_every`` steps, at about 60 log-spaced steps and at the first and last step: the train and validation
losses (same mixing), the classifier scale ``a``, the normalised selector weights
``c_U^2 / sum c^2`` and the heads' offset distributions.

Schedules: ``"joint"`` trains every parameter at every step; ``"staged"`` mirrors the paper's three
stages -- the selector ``c`` alone for the first third of the steps, then the copier (``w``, and
``Q``, ``O`` in the full variant) for the second third, then the classifier scale ``a`` -- with a
fresh optimiser per stage.

Optimisers: ``"gd"`` is plain gradient descent ``theta <- theta - lr grad`` (the paper: lr 1 for
the simplified model); ``"adam"`` is ``torch.optim.Adam(lr)``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np
import torch

from copyhead.theory.induction import InductionModel
from copyhead.theory.model import ParameterError, _check_choice, _check_int

from .model import INITS, Batch, InductionTransformer

OPTIMIZERS = ("gd", "adam")
SCHEDULES = ("joint", "staged")
DEFAULT_LR = {"gd": 1.0, "adam": 0.03}


@dataclass(frozen=True)
class TrainConfig:
    """How the model is trained (the model itself is an :class:`InductionModel`).

    ``lr=None`` takes :data:`DEFAULT_LR` of the optimiser; ``record_every=None`` records about 200
    points. ``w_plus``, ``w_minus``, ``c0``, ``a0``, ``noise``: the initialisation (see
    :mod:`.model`).
    """

    steps: int = 3000
    optimizer: str = "gd"
    lr: Optional[float] = None
    schedule: str = "joint"
    init: str = "paper"
    w_plus: float = 3.0
    w_minus: float = 0.1
    c0: float = 0.01
    a0: float = 0.01
    noise: float = 0.01
    record_every: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "steps", _check_int("steps", self.steps, 1))
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("init", self.init, INITS)
        lr = DEFAULT_LR[self.optimizer] if self.lr is None else self.lr
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            raise ParameterError("lr", self.lr, "must be a number > 0") from None
        if not np.isfinite(lr) or lr <= 0:
            raise ParameterError("lr", self.lr, "must be a finite number > 0")
        object.__setattr__(self, "lr", lr)
        if self.schedule == "staged" and self.steps < 3:
            raise ParameterError("steps", self.steps, "must be >= 3 for the staged schedule")
        for name in ("c0", "a0"):
            if not float(getattr(self, name)) > 0:
                raise ParameterError(name, getattr(self, name), "must be > 0")
        if not float(self.noise) >= 0:
            raise ParameterError("noise", self.noise, "must be >= 0")
        rec = max(1, self.steps // 200) if self.record_every is None else self.record_every
        object.__setattr__(self, "record_every", _check_int("record_every", rec, 1))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """Traces of one run (row ``i`` of every trace is at ``step[i]``; step 0 is the initial state)."""

    step: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    a: np.ndarray
    selector: np.ndarray      # (records, n_subsets)
    copier: np.ndarray        # (records, H, M)
    stage: np.ndarray         # which parameters were trained before this record ("all", "c", "w", "a")
    grad_norm: float          # |grad| over every parameter at the end
    wall_s: float
    net: InductionTransformer

    @property
    def final(self) -> dict:
        return {"train": float(self.train_loss[-1]), "val": float(self.val_loss[-1])}


def record_steps(steps: int, every: int) -> set:
    """Steps at which the state is recorded: every ``every`` steps, about 60 log-spaced steps (the
    early dynamics is fast), and the last step."""
    log = np.unique(np.round(np.geomspace(1, steps, 60)).astype(int))
    return set(range(every, steps + 1, every)) | set(log.tolist()) | {steps}


def _stages(net: InductionTransformer, cfg: TrainConfig) -> list:
    """``[(label, parameters, steps), ...]``."""
    if cfg.schedule == "joint":
        return [("all", list(net.parameters()), cfg.steps)]
    copier = [net.w] + ([net.Q, net.O] if net.model.variant == "full" else [])
    third = cfg.steps // 3
    return [("c", [net.c], third), ("w", copier, third), ("a", [net.a], cfg.steps - 2 * third)]


def _step_fn(params: list, cfg: TrainConfig) -> Callable:
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr)
        return opt.step

    def gd():
        with torch.no_grad():
            for p in params:
                if p.grad is not None:
                    p.sub_(cfg.lr * p.grad)
    return gd


def train(model: InductionModel, cfg: TrainConfig, train_batch: Batch, val_batch: Batch,
          generator: torch.Generator = None, progress: Callable = None, dtype=torch.float64) -> TrainResult:
    """Train from the initialisation of ``cfg`` on ``train_batch``; ``progress(done, total)`` is called
    about 200 times."""
    net = InductionTransformer(model, init=cfg.init, w_plus=cfg.w_plus, w_minus=cfg.w_minus, c0=cfg.c0, a0=cfg.a0,
                               noise=cfg.noise, generator=generator, dtype=dtype)
    rec = {k: [] for k in ("step", "train_loss", "val_loss", "a", "selector", "copier", "stage")}

    def record(step, train_loss, stage):
        with torch.no_grad():
            val = float(net.loss(val_batch)) if len(val_batch) else float("nan")
        st = net.state()
        for k, v in (("step", step), ("train_loss", train_loss), ("val_loss", val), ("a", st["a"]),
                     ("selector", st["selector"]), ("copier", st["copier"]), ("stage", stage)):
            rec[k].append(v)

    t0 = time.perf_counter()
    with torch.no_grad():
        record(0, float(net.loss(train_batch)), "init")
    done, tick = 0, max(1, cfg.steps // 200)
    marks = record_steps(cfg.steps, cfg.record_every)
    for label, params, n in _stages(net, cfg):
        for p in net.parameters():
            p.requires_grad_(any(p is q for q in params))
        step = _step_fn(params, cfg)
        for _ in range(n):
            net.zero_grad(set_to_none=True)
            loss = net.loss(train_batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training diverged at step {done} (loss {float(loss)}); lower --lr")
            loss.backward()
            step()
            done += 1
            if done in marks:
                with torch.no_grad():
                    record(done, float(net.loss(train_batch)), label)
            if progress is not None and (done % tick == 0 or done == cfg.steps):
                progress(done, cfg.steps)
    for p in net.parameters():
        p.requires_grad_(True)
    net.zero_grad(set_to_none=True)
    net.loss(train_batch).backward()
    gnorm = float(torch.sqrt(sum((p.grad ** 2).sum() for p in net.parameters())))
    net.zero_grad(set_to_none=True)
    return TrainResult(step=np.asarray(rec["step"]), train_loss=np.asarray(rec["train_loss"]),
                       val_loss=np.asarray(rec["val_loss"]), a=np.asarray(rec["a"]),
                       selector=np.asarray(rec["selector"]), copier=np.asarray(rec["copier"]),
                       stage=np.asarray(rec["stage"]), grad_norm=gnorm, wall_s=time.perf_counter() - t0, net=net)
