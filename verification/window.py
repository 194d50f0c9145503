"""The window copier in torch: exact block evidence with the readouts integrated out, the posterior
over all heads' ``(Q_h, K_h)`` for HMC, and the MAP loss of the full network for Adam.

Block evidence (torch port of :func:`copyhead.theory.window.window_log_evidence`, eq. (W1)),
batched over ``B`` chains: with ``A_h = softmax(Q_h^T K_h / N)`` (or linear),

    C_hh' = sum_{ss'} (A_h^T A_h')_{ss'} G_{ss'},   D_hk = sum_{s,u} A_h,(u+k),s G_{s,u},
    log p(Y|A) = -(KV/2) logdet(I + sigma2 C/(V kappa)) + (sigma2/(2 V kappa^2)) |L^{-1} D|_F^2
                 - P T K/(2 kappa) - (P T K V/2) log(2 pi kappa),

``L`` the Cholesky factor of ``I + sigma2 C/(V kappa)``. All ``H^2 + H K`` coefficient matrices
of a chain are contracted with the flattened counts in one batched matmul (as in
:mod:`verification.evidence_torch`, whose ``Counts`` and ``attention`` are reused); the backward
pass is plain autograd. The tests compare with the NumPy evidence and with finite differences.

State of one chain (:class:`WindowPosterior`): ``[vec Q_1, vec K_1, ..., vec Q_H, vec K_H]``
(``Q_h, K_h`` of shape ``(N, T)``), prior ``N(0, 1)`` entrywise (the ``"qk"`` prior).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from copyhead.numerics.window_branches import threshold
from copyhead.theory.model import Model, ParameterError

from .evidence_torch import Counts, attention, bind_counts

DTYPE = torch.float64


def offset_coefficients(A: torch.Tensor, K: int) -> torch.Tensor:
    """Coefficients ``(B, H^2 + H K, T^2)``: ``A_h^T A_g`` (row ``h H + g``) and ``R_hk[s, u] = A_h[(u+k) % T, s]``."""
    B, H, T, _ = A.shape
    AtA = torch.einsum("bhts,bgtu->bhgsu", A, A).reshape(B, H * H, T * T)
    R = torch.stack([torch.roll(A, shifts=-k, dims=2).transpose(2, 3) for k in range(1, K + 1)], dim=2)
    return torch.cat([AtA, R.reshape(B, H * K, T * T)], dim=1)


def window_matrices(A: torch.Tensor, counts: Counts, K: int):
    """``C`` ``(B, HV, HV)`` and ``D`` ``(B, HV, KV)`` for attention matrices ``A`` ``(B, H, T, T)``.

    Chains are split into ``counts.n_groups`` contiguous blocks that share one data set.
    """
    B, H, T, _ = A.shape
    V, ng = counts.V, counts.n_groups
    k = counts.group_size(B)
    coef = offset_coefficients(A, K).reshape(ng, k * (H * H + H * K), T * T)
    out = torch.bmm(coef, counts.flat).view(B, H * H + H * K, V, V)
    C = out[:, :H * H].reshape(B, H, H, V, V).permute(0, 1, 3, 2, 4).reshape(B, H * V, H * V)
    D = out[:, H * H:].reshape(B, H, K, V, V).permute(0, 1, 3, 2, 4).reshape(B, H * V, K * V)
    return C, D


def window_log_evidence(A: torch.Tensor, counts: Counts, sigma2: float, kappa: float, K: int,
                        on_failure: str = "raise") -> torch.Tensor:
    """``(B,)`` exact ``log p(Y | A_1..A_H)`` (module docstring); ``on_failure="neginf"`` returns ``-inf``
    for chains whose Cholesky fails (the sampler rejects them)."""
    B, H, T, _ = A.shape
    V = counts.V
    C, D = window_matrices(A, counts, K)
    M = torch.eye(H * V, dtype=A.dtype, device=A.device) + (sigma2 / (V * kappa)) * C
    L, info = torch.linalg.cholesky_ex(M)
    failed = info != 0
    if on_failure == "raise" and bool(failed.any()):
        raise ParameterError("A", torch.nonzero(failed).flatten().tolist(), "I + sigma2 C/(V kappa) is not positive definite")
    logdet = 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    X = torch.linalg.solve_triangular(L, D, upper=False)
    P = counts.chain_P(B)
    const = -P * T * K / (2.0 * kappa) - 0.5 * P * T * K * V * math.log(2.0 * math.pi * kappa)
    val = -0.5 * K * V * logdet + (sigma2 / (2.0 * V * kappa**2)) * (X * X).sum(dim=(-2, -1)) + const
    return torch.where(failed, torch.full_like(val, -math.inf), val)


def order_parameters(A: torch.Tensor, K: int):
    """``M`` ``(B, H, K)`` (``m_hk = (1/T) sum_t A_h,t,t-k``) and ``R`` ``(B, H, H)``."""
    T = A.shape[-1]
    t = torch.arange(T, device=A.device)
    M = torch.stack([A[..., t, (t - k) % T].mean(dim=-1) for k in range(1, K + 1)], dim=-1)
    R = torch.einsum("bhts,bgts->bhg", A, A) / T
    return M, R


def specialisation(M: torch.Tensor) -> torch.Tensor:
    """``sigma_K(M)`` for ``H >= K`` (else ``max m_hk``), per chain: :func:`numerics.window_branches.specialisation`."""
    H, K = M.shape[-2:]
    if H >= K:
        return torch.linalg.svdvals(M)[..., -1]
    return M.abs().amax(dim=(-2, -1))


def alignment(M: torch.Tensor, theta: float) -> torch.Tensor:
    """Alignment ``sum_{h in C} max_k |m_hk| / sum_{h in C} ||m_h||`` over the copying heads
    ``C = {h: max_k |m_hk| > theta}`` per chain (NaN when no head copies):
    :func:`numerics.window_branches.alignment`."""
    A = M.abs()
    mx = A.amax(dim=-1)
    cop = mx > theta
    zero = torch.zeros_like(mx)
    num = torch.where(cop, mx, zero).sum(-1)
    den = torch.where(cop, A.norm(dim=-1), zero).sum(-1)
    return torch.where(cop.any(-1), num / den.clamp_min(1e-300), torch.full_like(num, math.nan))


class WindowPosterior:
    """Log posterior of ``B`` chains over all heads' ``(Q_h, K_h)``, readouts integrated exactly.

    Parameters
    ----------
    model : Model with ``V`` set, ``heads``, ``parents``, prior ``"qk"``, objective ``"posterior"``
    G : data counts ``(T, T, V, V)`` or ``(n_groups, T, T, V, V)`` (chain ``b`` uses data set
        ``b // (B // n_groups)``) or :class:`Counts`
    B : number of chains (default: ``n_groups``)
    """

    def __init__(self, model: Model, G, B: Optional[int] = None, device=None):
        if model.prior != "qk":
            raise ParameterError("prior", model.prior, "the window sampler implements the qk prior")
        self.model = model
        self.counts, self.B = bind_counts(model, G, B, device)
        V = self.counts.V
        self.counts.group_size(self.B)
        self.H, self.K, self.T, self.V, self.N = model.heads, model.parents, model.T, V, model.N
        self.dim = 2 * self.H * self.N * self.T
        self.device = self.counts.device
        self.inv_mass = None
        H, K = self.H, self.K
        self.theta = threshold(model.attention == "softmax", model.T)
        self.observable_names = tuple(
            [f"m_{h + 1}{k + 1}" for h in range(H) for k in range(K)]
            + [f"r_{h + 1}{g + 1}" for h in range(H) for g in range(h, H)] + ["q", "a"])

    def unpack(self, x: torch.Tensor):
        """``Q, K`` of shape ``(B, H, N, T)``."""
        z = x.view(x.shape[0], self.H, 2, self.N, self.T)
        return z[:, :, 0], z[:, :, 1]

    def pack(self, Q: torch.Tensor, Kk: torch.Tensor) -> torch.Tensor:
        return torch.stack((Q, Kk), dim=2).reshape(Q.shape[0], -1).to(DTYPE)

    def attention_matrices(self, x: torch.Tensor) -> torch.Tensor:
        Q, Kk = self.unpack(x)
        S = torch.matmul(Q.transpose(-2, -1), Kk) / self.N
        return attention(S, self.model.attention)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        A = self.attention_matrices(x)
        lp = window_log_evidence(A, self.counts, self.model.sigma2, self.model.kappa, self.K, on_failure="neginf")
        return lp - 0.5 * (x * x).sum(dim=1)

    def observe(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            A = self.attention_matrices(x)
            M, R = order_parameters(A, self.K)
            iu = torch.triu_indices(self.H, self.H)
            return torch.cat([M.reshape(x.shape[0], -1), R[:, iu[0], iu[1]], specialisation(M)[:, None],
                              alignment(M, self.theta)[:, None]], dim=1)

    # ---- initial states
    def prior_draw(self, gen: torch.Generator) -> torch.Tensor:
        return torch.randn(self.B, self.dim, generator=gen, dtype=DTYPE, device=self.device)

    def scores_draw(self, S0, gen: torch.Generator) -> torch.Tensor:
        """``(Q_h, K_h)`` with ``Q_h^T K_h / N = S0_h`` plus prior-scale noise in the complement:
        ``Q = sqrt(N) E Sigma^{1/2} U^T + (I - E E^T) Z_Q`` (``S0_h = U Sigma W^T``, ``E`` random
        orthonormal ``N x T``), likewise ``K`` with ``W``; ``S0`` of shape ``(H, T, T)`` or ``(B, H, T, T)``."""
        S0 = torch.as_tensor(np.asarray(S0, float), dtype=DTYPE, device=self.device)
        if S0.ndim == 3:
            S0 = S0.expand(self.B, *S0.shape)
        B, H, T, N = self.B, self.H, self.T, self.N
        if N < T:
            raise ParameterError("N", N, f"a scores start needs N >= T = {T}")
        U, sig, Wh = torch.linalg.svd(S0)
        root = torch.sqrt(sig)
        E, _ = torch.linalg.qr(torch.randn(B, H, N, T, generator=gen, dtype=DTYPE, device=self.device))
        Qs = math.sqrt(N) * E @ (root[..., :, None] * U.transpose(-2, -1))
        Ks = math.sqrt(N) * E @ (root[..., :, None] * Wh)
        proj = lambda Z: Z - E @ (E.transpose(-2, -1) @ Z)  # noqa: E731
        ZQ = torch.randn(B, H, N, T, generator=gen, dtype=DTYPE, device=self.device)
        ZK = torch.randn(B, H, N, T, generator=gen, dtype=DTYPE, device=self.device)
        return self.pack(Qs + proj(ZQ), Ks + proj(ZK))


# ----------------------------------------------------------------------------- MAP loss (Adam)
def map_loss(Q: torch.Tensor, Kk: torch.Tensor, W: torch.Tensor, counts: Counts, model: Model) -> torch.Tensor:
    """Negative log joint of the full network per replica (``(R,)``), from the data counts:

    ``U = [P T K - 2 tr(W D) + tr(W C W^T)]/(2 kappa) + |Q|^2/2 + |K|^2/2 + V |W|^2/(2 sigma2)``

    with ``W`` of shape ``(R, KV, HV)`` (block ``(k, h)`` = the readout of head ``h`` into parent
    ``k``'s output channels) and ``Q, K`` of shape ``(R, H, N, T)``: ``sum |y - W z|^2`` over all
    sequences and positions equals ``P T K - 2 tr(W D) + tr(W C W^T)`` for one-hot tokens.
    """
    N, V, K = model.N, counts.V, model.parents
    A = attention(torch.matmul(Q.transpose(-2, -1), Kk) / N, model.attention)
    C, D = window_matrices(A, counts, K)
    P = counts.chain_P(Q.shape[0])
    data = (P * model.T * K - 2.0 * torch.einsum("rij,rji->r", W, D)
            + torch.einsum("rij,rjk,rik->r", W, C, W)) / (2.0 * model.kappa)
    prior = 0.5 * (Q * Q).sum(dim=(1, 2, 3)) + 0.5 * (Kk * Kk).sum(dim=(1, 2, 3))
    return data + prior + V * (W * W).sum(dim=(1, 2)) / (2.0 * model.sigma2)
