"""Bayesian posterior over the KQ matrices of the H-head layer with the OV rows integrated out
(copyhead's method, THEORY.md §2, on the in-context regression system).

For fixed ``M_h = K_h^T Q_h`` the prediction of prompt ``p`` is linear in the OV rows,
``y_hat_p = sum_h w_h . c_{p,h} = phi_p^T w`` with ``phi_p = (c_{p,1}, ..., c_{p,H})`` the
attention-weighted tokens (:func:`verification.icl_regression.head_features`). With the prior
``w ~ N(0, s^2 I_{H(d+1)})`` and the likelihood ``y_q,p ~ N(phi_p^T w, kappa)`` over ``P`` prompts,
``w`` integrates out (Bayesian linear regression / GP evidence ``N(y | 0, kappa I_P + s^2 Phi Phi^T)``);
by the Woodbury identity and the determinant lemma, with ``A = I/s^2 + Phi^T Phi / kappa`` and
``b = Phi^T y / kappa`` (``H(d+1)`` square, so the cost is ``O(P (H(d+1))^2)``, linear in ``P``)::

    log p(y | M) = -P/2 log(2 pi kappa) - (H(d+1)/2) log s^2 - 1/2 logdet A
                   - |y|^2/(2 kappa) + b^T A^{-1} b / 2

(``derivations/13b_icl_regression_evidence.py``; tested against the naive ``P x P`` GP evidence and
brute-force Gaussian quadrature over ``w``). The posterior of ``w`` given ``M`` is
``N(A^{-1} b, A^{-1})``.

The sampled parameters are the *identified* KQ entries: the ``x``-block and the ``y`` row, i.e.
``M_h[:, :d]`` (the ``y`` column multiplies the query's ``y = 0`` and has no likelihood; its
posterior is its prior and it is not sampled), with the prior ``N(0, prior_kq^2)`` per entry.
HMC is :func:`verification.hmc.hmc_sample` (only its generic entry point is used).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from copyhead.theory.icl_regression import ICLRegression, debiased_step, sample_prompts
from copyhead.theory.icl_regression_patterns import pattern_summary
from copyhead.theory.model import ParameterError

from .icl_regression import head_features, model_risk, tokens

DTYPE = torch.float64
STARTS = ("prior", "pattern")


def state_dim(p: ICLRegression) -> int:
    """Number of sampled KQ entries ``H (d+1) d``."""
    return p.heads * p.D * p.d


def kq_from_state(p: ICLRegression, x: torch.Tensor) -> torch.Tensor:
    """``M (B, H, d+1, d+1)`` from the state ``x (B, H (d+1) d)``; the unidentified ``y`` column is 0."""
    B = x.shape[0]
    M = x.reshape(B, p.heads, p.D, p.d)
    return torch.cat([M, torch.zeros_like(M[..., :1])], -1)


def features(p: ICLRegression, M: torch.Tensor, data: dict) -> torch.Tensor:
    """``Phi (B, P, H (d+1))`` for the prompts in ``data`` (tensors ``x (P, L, d)``, ``y``, ``xq``)."""
    Z, zq = tokens(data["x"], data["y"], data["xq"])
    c = head_features(M[:, None], Z[None], zq[None], p.attention)[:, 0]  # (B, P, H, D)
    return c.reshape(c.shape[0], c.shape[1], -1)


def blr_evidence(Phi: torch.Tensor, y: torch.Tensor, prior_var: float, noise: float):
    """Log evidence of Bayesian linear regression (Woodbury form, module docstring) and the
    posterior mean of the weights. ``Phi (B, P, D)``, ``y (P,)``. Returns ``(logZ (B,), w_mean (B, D))``;
    ``logZ`` is ``-inf`` for a chain whose ``A`` fails its Cholesky factorisation."""
    B, P, D = Phi.shape
    A = Phi.transpose(1, 2) @ Phi / noise + torch.eye(D, dtype=Phi.dtype) / prior_var
    b = Phi.transpose(1, 2) @ y / noise
    C, info = torch.linalg.cholesky_ex(A)
    ok = info == 0
    C = torch.where(ok[:, None, None], C, torch.eye(D, dtype=Phi.dtype).expand(B, D, D))
    u = torch.linalg.solve_triangular(C, b[..., None], upper=False)[..., 0]
    logdet = 2.0 * torch.log(torch.diagonal(C, dim1=-2, dim2=-1)).sum(-1)
    logZ = (-0.5 * P * math.log(2 * math.pi * noise) - 0.5 * D * math.log(prior_var) - 0.5 * logdet
            - 0.5 * (y * y).sum() / noise + 0.5 * (u * u).sum(-1))
    w = torch.linalg.solve_triangular(C.transpose(-1, -2), u[..., None], upper=True)[..., 0]
    return torch.where(ok, logZ, torch.full_like(logZ, -math.inf)), w


class KQPosterior:
    """``log p(M | data) = -|M|^2/(2 prior_kq^2) + log p(y | M)`` (up to a constant) for a batch of
    chains, a callable ``x (B, dim) -> (B,)`` for :func:`verification.hmc.hmc_sample`."""

    def __init__(self, p: ICLRegression, data: dict):
        self.p = p
        self.data = {k: torch.as_tensor(np.asarray(data[k]), dtype=DTYPE) for k in ("x", "y", "xq", "yq")}
        self.P = int(self.data["yq"].shape[0])

    def evidence(self, x: torch.Tensor):
        M = kq_from_state(self.p, x)
        return blr_evidence(features(self.p, M, self.data), self.data["yq"], self.p.prior_ov ** 2, self.p.noise)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        logZ, _ = self.evidence(x)
        return logZ - 0.5 * (x * x).sum(-1) / self.p.prior_kq ** 2


def initial_states(p: ICLRegression, starts: Sequence[str], gen: torch.Generator, omega: float = 0.5) -> torch.Tensor:
    """``"prior"``: a draw from the KQ prior; ``"pattern"``: the seed-004 pattern ``omega_h = +-omega``
    alternating over heads (``x``-block ``omega_h I``, ``y`` row 0) plus a small prior-scale jitter."""
    xs = []
    for s in starts:
        if s not in STARTS:
            raise ParameterError("starts", s, f"must be one of {', '.join(STARTS)}")
        x = torch.randn(p.heads, p.D, p.d, generator=gen, dtype=DTYPE) * p.prior_kq
        if s == "pattern":
            x = 0.01 * x
            for h in range(p.heads):
                x[h, :p.d, :] += (omega if h % 2 == 0 else -omega) * torch.eye(p.d, dtype=DTYPE)
        xs.append(x.reshape(-1))
    return torch.stack(xs)


@dataclass
class PosteriorRun:
    """HMC over ``M`` for one data set of ``P`` prompts: draws ``x (n_draws, chains, dim)`` (thinned,
    after warm-up), their metrics and the sampler diagnostics."""

    P: int
    starts: list
    draws: np.ndarray
    M: np.ndarray  # (n_draws, chains, H, D, D)
    w_mean: np.ndarray  # (n_draws, chains, H, D)
    metrics: dict  # name -> (chains, n_draws)
    logp: np.ndarray  # (chains,) mean log posterior after warm-up
    acceptance: np.ndarray
    divergences: np.ndarray
    step_size: np.ndarray
    wall_s: float
    risk: Optional[np.ndarray] = None  # (chains, n_risk) population risk of (M, w_mean) draws


METRICS = ("iso_dev", "gamma_iso_dev", "offdiag", "diag_spread", "y_row", "ov_x", "zero_sum", "collapsed",
           "step_eff", "omega_abs")


def _metrics(p, M, w) -> dict:
    target = debiased_step(p)
    out = {k: np.empty(M.shape[:2]) for k in METRICS}
    for i in range(M.shape[0]):
        for c in range(M.shape[1]):
            s = pattern_summary(M[i, c], w[i, c], target, p.attention)
            for k in METRICS:
                v = s[k]
                out[k][i, c] = np.nan if v is None else float(v)
    return {k: v.T for k, v in out.items()}  # (chains, n_draws)


def sample_kq_posterior(p: ICLRegression, data: dict, *, starts=("prior", "prior", "pattern", "pattern"),
                        n_iter: int = 400, n_warmup: int = 400, n_leapfrog: int = 10, seed: int = 0,
                        thin: int = 4, risk_draws: int = 0, risk_prompts: int = 4000, progress=None) -> PosteriorRun:
    """HMC chains (one per entry of ``starts``) on :class:`KQPosterior`.

    Warm-up in two stages of ``n_warmup/2`` iterations (each a call of ``hmc_sample`` with
    dual-averaging step-size adaptation): the first with the identity mass, the second with a
    diagonal inverse mass per chain set to the variance of the second half of the first stage's
    draws (regularised towards ``1e-3`` as in Stan). Then ``n_iter`` iterations. The pattern
    metrics are computed for every ``thin``-th draw from ``M`` and the posterior mean of ``w`` given
    ``M``; with ``risk_draws > 0`` the population risk of that many draws per chain (Monte Carlo on
    ``risk_prompts`` fresh prompts at the training ``L``).
    """
    from .hmc import hmc_sample

    target = KQPosterior(p, data)
    gen = torch.Generator()
    gen.manual_seed(int(np.random.SeedSequence([int(seed), target.P]).generate_state(1)[0]))
    x0 = initial_states(p, starts, gen)
    hseed = np.random.SeedSequence([int(seed), target.P, 1]).generate_state(2)
    w1 = n_warmup // 2
    total = n_warmup + n_iter

    def prog(offset):
        return None if progress is None else (lambda done, _t, info=None: progress(offset + done, total))

    inv_mass, wall1 = None, 0.0
    if w1 >= 20:
        r1 = hmc_sample(target, x0, 0, w1, n_leapfrog=n_leapfrog, observe=lambda x: x, seed=int(hseed[0]),
                        progress=prog(0), progress_every=10)
        X1 = np.stack([r1.traces[n][w1 // 2:w1] for n in r1.observable_names], -1)  # (n, chains, dim)
        n = X1.shape[0]
        var = X1.var(0) * n / (n + 5.0) + 1e-3 * 5.0 / (n + 5.0)
        inv_mass = torch.as_tensor(var, dtype=DTYPE)
        x0, wall1 = r1.x, r1.wall_time
    else:
        w1 = 0
    res = hmc_sample(target, x0, n_iter, n_warmup - w1, n_leapfrog=n_leapfrog, inv_mass=inv_mass,
                     observe=lambda x: x, seed=int(hseed[1]), progress=prog(w1), progress_every=10)
    names = res.observable_names
    X = np.stack([res.samples(n) for n in names], -1)[::thin]  # (n_draws, chains, dim)
    xt = torch.as_tensor(X.reshape(-1, X.shape[-1]), dtype=DTYPE)
    with torch.no_grad():
        M = kq_from_state(p, xt)
        _, w = target.evidence(xt)
    M = M.numpy().reshape(X.shape[0], X.shape[1], p.heads, p.D, p.D)
    w = w.numpy().reshape(X.shape[0], X.shape[1], p.heads, p.D)
    run = PosteriorRun(P=target.P, starts=list(starts), draws=X, M=M, w_mean=w, metrics=_metrics(p, M, w),
                       logp=res.samples("logp").mean(0), acceptance=res.acceptance, divergences=res.divergences,
                       step_size=res.step_size, wall_s=res.wall_time + wall1)
    if risk_draws > 0:
        idx = np.linspace(0, X.shape[0] - 1, risk_draws).round().astype(int)
        r, _ = model_risk(p, M[idx].transpose(1, 0, 2, 3, 4), w[idx].transpose(1, 0, 2, 3), p.L,
                          n_prompts=risk_prompts, seed=seed + 1)
        run.risk = r
    return run


def prompts_for_posterior(p: ICLRegression, P: int, seed: int = 0) -> dict:
    """``P`` training prompts (NumPy) from ``SeedSequence([seed, 13])``; nested in ``P``: the first ``P``
    of a larger call are the same prompts (one data stream, prefixes of it)."""
    if int(P) < 1:
        raise ParameterError("prompts", P, "must be >= 1")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 13]))
    out = {k: [] for k in ("x", "y", "xq", "yq")}
    left = int(P)
    while left > 0:  # fixed blocks of 256: the prefix property holds for every P
        b = sample_prompts(p, 256, rng)
        for k in out:
            out[k].append(b[k])
        left -= 256
    return {k: np.concatenate(v)[: int(P)] for k, v in out.items()}
