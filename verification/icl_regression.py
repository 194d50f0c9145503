"""The H-head attention layer for in-context linear regression (torch): forward pass, Adam
training of several independent seeds in one tensor computation, and Monte Carlo risks.

Model (design note ``ICL_REGRESSION.md``): tokens ``z_i = (x_i, y_i)``, query ``z_q = (x_q, 0)``,
which attends to the ``L`` context tokens only;

    y_hat = sum_h O_h V_h Z softmax(Z^T K_h^T Q_h z_q / sqrt(d+1))

with ``Q_h, K_h, V_h`` of shape ``(d+1, d+1)`` and ``O_h`` of ``1 x (d+1)``, no bias, no positional
code; linear attention replaces the softmax by the identity (no ``1/L``). The prediction depends on
the weights only through ``M_h = K_h^T Q_h`` and ``w_h = (O_h V_h)^T``, so :func:`predict` takes those
(the posterior and the risk evaluation use them directly); training optimises the factors.

Initialisation is PyTorch's default for ``nn.Linear`` (``kaiming_uniform_(a=sqrt(5))``:
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``): ``Q_h, K_h, V_h`` are ``Linear(d+1, d+1)`` weights,
``O`` is one ``Linear(H (d+1), 1)`` over the concatenated heads (``O_h`` its slices).

Several seeds train at once: the weights carry a leading model axis and the loss is the *sum* of
the models' batch means, so every model's gradient is its own and Adam (element-wise) updates
each exactly as an independent run would (up to floating-point reduction order). Each model has
its own ``torch.Generator`` (seeded from ``numpy.random.SeedSequence(seed)``) for its initial
weights and for its fresh batch of prompts at every step.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from copyhead.theory.icl_regression import ICLRegression, debiased_step, prompts_from_normals
from copyhead.theory.icl_regression_patterns import head_metrics, is_collapsed
from copyhead.theory.model import ParameterError

ProgressFn = Callable[[int, int], None]


# --------------------------------------------------------------------------- model
def tokens(x: torch.Tensor, y: torch.Tensor, xq: torch.Tensor):
    """``Z (..., L, d+1)`` with rows ``(x_i, y_i)`` and ``z_q = (x_q, 0)``."""
    return torch.cat([x, y[..., None]], -1), torch.cat([xq, torch.zeros_like(xq[..., :1])], -1)


def attention_weights(M: torch.Tensor, Z: torch.Tensor, zq: torch.Tensor, attention: str) -> torch.Tensor:
    """``a[..., h, b, i]``: softmax (or identity) over ``i`` of ``z_i^T M_h z_q / sqrt(d+1)``.

    Shapes: ``M (..., H, D, D)``, ``Z (..., B, L, D)``, ``zq (..., B, D)`` (``...`` is the model axis
    or empty)."""
    u = torch.einsum("...hij,...bj->...hbi", M, zq)
    logits = torch.einsum("...bli,...hbi->...hbl", Z, u) / math.sqrt(Z.shape[-1])
    if attention == "softmax":
        return torch.softmax(logits, -1)
    if attention == "linear":
        return logits
    raise ParameterError("attention", attention, "must be softmax or linear")


def head_features(M, Z, zq, attention: str) -> torch.Tensor:
    """``c[..., b, h, :] = Z^T a_h``: the attention-weighted token of each head (the prediction is
    ``sum_h w_h . c_h``, linear in the OV rows)."""
    a = attention_weights(M, Z, zq, attention)
    return torch.einsum("...hbl,...bli->...bhi", a, Z)


def predict(M: torch.Tensor, w: torch.Tensor, x, y, xq, attention: str) -> torch.Tensor:
    """``y_hat[..., b] = sum_h w_h . (Z^T a_h)`` for ``M (..., H, D, D)``, ``w (..., H, D)``."""
    Z, zq = tokens(x, y, xq)
    return torch.einsum("...bhi,...hi->...b", head_features(M, Z, zq, attention), w)


@dataclass
class Weights:
    """Factors of ``n_models`` independent ``H``-head layers (leading model axis)."""

    Q: torch.Tensor  # (n, H, D, D)
    K: torch.Tensor  # (n, H, D, D)
    V: torch.Tensor  # (n, H, D, D)
    O: torch.Tensor  # (n, H, D)

    def parameters(self):
        return [self.Q, self.K, self.V, self.O]

    def kq(self) -> torch.Tensor:
        """``M_h = K_h^T Q_h``."""
        return self.K.transpose(-1, -2) @ self.Q

    def ov(self) -> torch.Tensor:
        """``w_h = (O_h V_h)^T``."""
        return torch.einsum("nhi,nhij->nhj", self.O, self.V)


def _generators(seeds, device="cpu"):
    """One ``torch.Generator`` per entry of ``seeds`` (an int or a list of ints each), seeded from
    ``numpy.random.SeedSequence(entry)``."""
    gens = []
    for s in seeds:
        g = torch.Generator(device=device)
        g.manual_seed(int(np.random.SeedSequence(s).generate_state(1, dtype=np.uint64)[0] >> 1))
        gens.append(g)
    return gens


def init_weights(p: ICLRegression, gens, dtype=torch.float32) -> Weights:
    """PyTorch's default ``nn.Linear`` initialisation for every model (one generator each)."""
    H, D = p.heads, p.D
    mats = {k: [] for k in "QKVO"}
    for g in gens:
        for k in "QKV":
            mats[k].append(torch.stack([torch.nn.init.kaiming_uniform_(torch.empty(D, D, dtype=dtype), a=math.sqrt(5),
                                                                        generator=g) for _ in range(H)]))
        mats["O"].append(torch.nn.init.kaiming_uniform_(torch.empty(1, H * D, dtype=dtype), a=math.sqrt(5),
                                                        generator=g).reshape(H, D))
    return Weights(*(torch.stack(mats[k]).requires_grad_(True) for k in "QKVO"))


def sample_batch(p: ICLRegression, gens, batch: int, L: Optional[int] = None, dtype=torch.float32):
    """One fresh batch per generator, stacked on a leading model axis (``x (n, B, L, d)``, ...)."""
    L = p.L if L is None else L
    d = p.d

    def draw(shape):
        return torch.stack([torch.randn(shape, generator=g, dtype=dtype) for g in gens])

    return prompts_from_normals(p, draw((batch, L, d)), draw((batch, d)), draw((batch, L)), draw((batch, d)),
                                draw((batch,)))


# --------------------------------------------------------------------------- training
@dataclass
class TrainHistory:
    """Adam runs of ``n`` seeds: final ``M`` ``(n, H, D, D)`` and ``w`` ``(n, H, D)``, and traces
    recorded at ``step`` (``omega, mu (T, n, H)``, ``iso_dev, offdiag, loss (T, n)``; ``loss`` is the
    mean training loss since the previous record)."""

    params: ICLRegression
    seeds: list
    steps: int
    batch: int
    lr: float
    M: np.ndarray
    w: np.ndarray
    step: np.ndarray
    omega: np.ndarray
    mu: np.ndarray
    iso_dev: np.ndarray
    offdiag: np.ndarray
    loss: np.ndarray
    wall_s: float
    collapsed: list = field(default_factory=list)


def _trace_metrics(M: np.ndarray, w: np.ndarray):
    """``omega, mu (n, H)`` and the |omega mu|-weighted ``iso_dev, offdiag (n,)`` of every model."""
    met = [[head_metrics(M[k, h], w[k, h]) for h in range(M.shape[1])] for k in range(M.shape[0])]
    omega = np.array([[m["omega"] for m in row] for row in met])
    mu = np.array([[m["mu"] for m in row] for row in met])
    wts = np.abs(omega * mu)
    wts = wts / np.maximum(wts.sum(1, keepdims=True), 1e-300)

    def weighted(key):
        return (wts * np.array([[m[key] for m in row] for row in met])).sum(1)

    return omega, mu, weighted("iso_dev"), weighted("offdiag")


def train(p: ICLRegression, steps: int, batch: int = 256, lr: float = 1e-3, seeds: Sequence[int] = (0,),
          record_every: Optional[int] = None, progress: Optional[ProgressFn] = None,
          dtype=torch.float32) -> TrainHistory:
    """Adam (``lr``, default betas) on the mean squared error of ``y_q``, a fresh batch of ``batch``
    prompts per step, for every seed in ``seeds`` at once (module docstring). Records the patterns at
    every ``record_every`` steps (default: ~100 log-spaced and ~100 evenly spaced steps)."""
    from copyhead.theory.model import _check_int

    steps = _check_int("steps", steps, 1)
    batch = _check_int("batch", batch, 1)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ParameterError("lr", lr, "must be a finite number > 0")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ParameterError("seeds", seeds, "at least one seed")
    if record_every is None:  # ~100 log-spaced and ~100 evenly spaced records (early emergence and late drift)
        marks = set(np.unique(np.geomspace(1, steps, 100).round().astype(int)).tolist())
        marks |= set(range(0, steps + 1, max(1, steps // 100)))
    else:
        marks = set(range(0, steps + 1, _check_int("record_every", record_every, 1)))
    marks.add(steps)
    gens = _generators(seeds)
    W = init_weights(p, gens, dtype)
    opt = torch.optim.Adam(W.parameters(), lr=lr)
    rec = {"step": [], "omega": [], "mu": [], "iso_dev": [], "offdiag": [], "loss": []}
    acc, n_acc = torch.zeros(len(seeds), dtype=torch.float64), 0

    def record(step):
        with torch.no_grad():
            M, w = W.kq().double().numpy(), W.ov().double().numpy()
        om, mu, iso, off = _trace_metrics(M, w)
        rec["step"].append(step)
        rec["omega"].append(om)
        rec["mu"].append(mu)
        rec["iso_dev"].append(iso)
        rec["offdiag"].append(off)
        rec["loss"].append((acc / max(n_acc, 1)).numpy().copy())

    t0 = time.perf_counter()
    record(0)
    for step in range(1, steps + 1):
        x, y, xq, yq, _ = sample_batch(p, gens, batch, dtype=dtype)
        err = predict(W.kq(), W.ov(), x, y, xq, p.attention) - yq
        per_model = (err * err).mean(-1)
        opt.zero_grad(set_to_none=True)
        per_model.sum().backward()
        opt.step()
        acc += per_model.detach().double()
        n_acc += 1
        if step in marks:
            record(step)
            acc.zero_()
            n_acc = 0
        if progress is not None and (step % 50 == 0 or step == steps):
            progress(step, steps)
    with torch.no_grad():
        M, w = W.kq().double().numpy(), W.ov().double().numpy()
    return TrainHistory(
        params=p, seeds=seeds, steps=steps, batch=batch, lr=lr, M=M, w=w,
        step=np.array(rec["step"]), omega=np.array(rec["omega"]), mu=np.array(rec["mu"]),
        iso_dev=np.array(rec["iso_dev"]), offdiag=np.array(rec["offdiag"]), loss=np.array(rec["loss"]),
        wall_s=time.perf_counter() - t0,
        collapsed=[is_collapsed(w[k, :, -1]) if p.attention == "softmax" else None for k in range(len(seeds))])


# --------------------------------------------------------------------------- risks
def debiased_gd_predict(p: ICLRegression, x, y, xq, Gamma=None) -> torch.Tensor:
    """Debiased GD ``x_q^T Gamma sum_i y_i (x_i - xbar) / L`` (optimal ``Gamma`` by default)."""
    L = x.shape[-2]
    G = torch.as_tensor(debiased_step(p, L) if Gamma is None else np.asarray(Gamma, float), dtype=x.dtype)
    xc = x - x.mean(-2, keepdim=True)
    u = (y[..., None] * xc).sum(-2) / L
    return ((u @ G.T) * xq).sum(-1)


def model_risk(p: ICLRegression, M, w, L: int, n_prompts: int = 20_000, seed: int = 0, chunk: int = 4096):
    """Monte Carlo risk ``E[(y_hat - y_q)^2]`` of one or several layers given by ``M (..., H, D, D)``,
    ``w (..., H, D)`` on ``n_prompts`` fresh prompts of length ``L`` (the same prompts for every
    layer: common random numbers), float64. Returns ``(risk, standard_error)``, arrays of the
    leading shape of ``M`` (scalars for one layer); :func:`paired_model_risk` adds the paired
    difference to debiased GD.
    """
    r = paired_model_risk(p, M, w, L, n_prompts, seed, chunk)
    return r["risk"], r["se"]


def paired_model_risk(p: ICLRegression, M, w, L: int, n_prompts: int = 20_000, seed: int = 0,
                      chunk: int = 4096) -> dict:
    """``{"risk", "se", "minus_debiased", "minus_debiased_se", "debiased_mc"}``: the layers' Monte
    Carlo risks, and ``risk - risk(debiased GD)`` on the same prompts with its standard error
    (debiased GD with its optimal step, :func:`debiased_gd_predict`)."""
    M = torch.as_tensor(np.asarray(M, dtype=float))
    w = torch.as_tensor(np.asarray(w, dtype=float))
    lead = M.shape[:-3]
    Mf, wf = M.reshape(-1, *M.shape[-3:]), w.reshape(-1, *w.shape[-2:])
    g = _generators([[int(seed), int(L), p.d, 7]])[0]
    sums = {k: torch.zeros(Mf.shape[0], dtype=torch.float64) for k in ("e", "e2", "f", "f2")}
    deb = torch.zeros(2, dtype=torch.float64)
    done = 0
    with torch.no_grad():
        while done < n_prompts:
            b = min(chunk, n_prompts - done)
            x, y, xq, yq, _ = (t[0] for t in sample_batch(p, [g], b, L=L, dtype=torch.float64))
            yhat = predict(Mf[:, None], wf[:, None], x[None], y[None], xq[None], p.attention)[:, 0]
            e = (yhat - yq) ** 2
            ed = (debiased_gd_predict(p, x, y, xq) - yq) ** 2
            f = e - ed
            for k, v in (("e", e), ("e2", e * e), ("f", f), ("f2", f * f)):
                sums[k] += v.sum(-1)
            deb += torch.stack([ed.sum(), (ed * ed).sum()])
            done += b
    n = n_prompts

    def mean_se(s1, s2):
        m = s1 / n
        return m, torch.sqrt(torch.clamp(s2 / n - m * m, min=0.0) / max(n - 1, 1))

    r, se = mean_se(sums["e"], sums["e2"])
    f, fse = mean_se(sums["f"], sums["f2"])
    dm, _ = mean_se(deb[0], deb[1])
    shape = tuple(lead)

    def out(t):
        return float(t.reshape(-1)[0]) if not shape else t.reshape(shape).numpy()

    return {"risk": out(r), "se": out(se), "minus_debiased": out(f), "minus_debiased_se": out(fse),
            "debiased_mc": float(dm)}
