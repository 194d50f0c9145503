"""Exact W-marginal evidence and the (Q, K) log posterior in torch, batched over chains.

Torch port of :mod:`theory.evidence` (THEORY.md §2), float64, with a leading batch dimension
``B`` (one entry per Markov chain) so that many chains are advanced in one tensor computation:

    C = sum_{s,s'} (A^T A)_{ss'} G_{ss'},   D = sum_{t,s} A_ts G_{s,t-1},
    M = I + sigma2 C / (V kappa),           Lam = (V/sigma2) M,
    log p(Y|A) = -(V/2) logdet M + tr(D^T Lam^{-1} D)/(2 kappa^2)
                 - P T/(2 kappa) - (P T V/2) log(2 pi kappa).

Both ``V x V`` matrices come out of ONE batched matmul: ``D`` is rewritten as
``sum_{s,u} A_{u+1,s} G_{s,u}``, so the coefficient matrices ``A^T A`` and ``roll(A,-1)^T`` of all
chains that share a data set are stacked and contracted with the flattened counts ``G``
``(n_groups, T^2, V^2)`` (:class:`Counts`; one data set shared by all chains, one per chain, or
one per block of chains). ``logdet`` and the quadratic form use the Cholesky factor ``L`` of
``M``: ``tr(D^T Lam^{-1} D) = (sigma2/V) |L^{-1} D|_F^2``; the backward of this block is analytic
(:class:`_CholeskyEvidence`), everything upstream (softmax, ``Q^T K``) is plain autograd.

If ``M`` is not numerically positive definite (only possible for non-finite or astronomically
large scores) :func:`log_evidence` raises :class:`theory.evidence.EvidenceError` (the one
exception for a failed factorisation, NumPy and torch alike)
(``on_failure="raise"``, the default). The sampler uses ``on_failure="neginf"``, which returns
``-inf`` for the failed chains so that the proposal is rejected (and counted as a divergence).

Log posterior of the parameters (THEORY.md §2):

* prior ``"qk"``: ``log p(Q,K|data) = -|Q|^2/2 - |K|^2/2 + log p(Y | A(Q^T K / N)) + const``;
* prior ``"gaussian"``: the parameter is ``S`` itself, ``log p(S|data) = -N |S|_F^2/2 +
  log p(Y | A(S)) + const``.

:class:`PosteriorTarget` packs a batch of chains into one flat state ``x`` of shape ``(B, dim)``
(``[vec Q, vec K]`` with ``Q, K`` of shape ``(N, T)``, or ``vec S``) for :mod:`verification.hmc`.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import torch

from copyhead.theory.evidence import EvidenceError, data_counts
from copyhead.theory.model import Model, ParameterError

DTYPE = torch.float64

ArrayLike = Union[np.ndarray, torch.Tensor, float]


# --------------------------------------------------------------------------- helpers
def as_tensor(x, device=None) -> torch.Tensor:
    """float64 tensor on ``device`` (no copy when already suitable)."""
    if isinstance(x, torch.Tensor):
        return x.to(device=device if device is not None else x.device, dtype=DTYPE)
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=DTYPE, device=device)


def _per_chain(v, B: int, device) -> torch.Tensor:
    """Scalar or length-``B`` parameter as a ``(B,)`` float64 tensor."""
    t = as_tensor(v, device)
    if t.ndim == 0:
        return t.expand(B)
    if t.shape != (B,):
        raise ParameterError("sigma2/kappa", tuple(t.shape), f"must be a scalar or have shape ({B},)")
    return t


def attention(S: torch.Tensor, kind: str) -> torch.Tensor:
    """``A(S)``: row softmax (max-subtracted, i.e. log-sum-exp stable) or ``S`` for linear."""
    if kind == "softmax":
        return torch.softmax(S, dim=-1)
    if kind == "linear":
        return S
    raise ParameterError("attention", kind, "must be one of softmax, linear")


def copy_weight(A: torch.Tensor) -> torch.Tensor:
    """``m(A) = (1/T) sum_t A_{t,t-1}`` over the last two axes."""
    T = A.shape[-1]
    idx = torch.arange(T, device=A.device)
    return A[..., idx, (idx - 1) % T].mean(dim=-1)


def self_overlap(A: torch.Tensor) -> torch.Tensor:
    """``r(A) = (1/T) sum_{t,s} A_ts^2`` over the last two axes."""
    return (A * A).sum(dim=(-2, -1)) / A.shape[-1]


class Counts:
    """The data of a copy-head run, as the evidence and the network losses use it: the data
    counts of one or several data sets (the one data container of :mod:`copyhead.verification`).

    Parameters
    ----------
    G : array ``(T, T, V, V)`` (one data set) or ``(n_groups, T, T, V, V)``
        Data counts ``G[s, s', a, b] = #{mu : tok[mu, s] = a, tok[mu, s'] = b}``
        (:func:`theory.evidence.data_counts`). With ``n_groups`` data sets a batch of ``B`` chains is
        split into ``n_groups`` contiguous blocks of ``B // n_groups`` chains; chain ``b`` sees data
        set ``b // (B // n_groups)`` (one count tensor per chain is the case ``n_groups = B``).
        Chains that share a data set share one pass over ``G``.
    device : torch device
    tokens : ``(P, T)`` integer tokens of a single data set, optional (kept for the direct checks
        :meth:`one_hot`; :meth:`from_tokens` sets it).

    Attributes
    ----------
    flat : tensor ``(n_groups, T^2, V^2)`` -- row ``s T + s'`` holds ``G[s, s']`` flattened
    P : tensor ``(n_groups,)`` -- number of sequences (``sum_ab G[0,0,a,b]``)
    T, V, n_groups : int
    """

    def __init__(self, G, device=None, tokens=None):
        if isinstance(G, Counts):
            tokens = G.tokens if tokens is None else tokens
            G = G.G
        Gt = as_tensor(G, device)
        if Gt.ndim not in (4, 5) or Gt.shape[-1] != Gt.shape[-2] or Gt.shape[-3] != Gt.shape[-4]:
            raise ParameterError("G", tuple(Gt.shape), "must have shape (T, T, V, V) or (n_groups, T, T, V, V)")
        if Gt.ndim == 4:
            Gt = Gt.unsqueeze(0)
        if not bool(torch.isfinite(Gt).all()) or bool((Gt < 0).any()):
            raise ParameterError("G", "non-finite or negative entries", "counts must be finite and >= 0")
        self.G = Gt
        self.n_groups, self.T, _, self.V, _ = Gt.shape
        self.flat = Gt.reshape(self.n_groups, self.T * self.T, self.V * self.V).contiguous()
        self.P = Gt[:, 0, 0].sum(dim=(-2, -1))
        self.device = Gt.device
        self.tokens = None if tokens is None else np.asarray(tokens)

    @classmethod
    def from_tokens(cls, tokens, V: int, device=None) -> "Counts":
        """The counts of one data set of integer tokens ``(P, T)`` (the tokens are kept)."""
        tokens = np.asarray(tokens)
        return cls(data_counts(tokens, V), device=device, tokens=tokens)

    def group_size(self, B: int) -> int:
        """Chains per data set for a batch of ``B`` chains (``B`` must be a multiple of ``n_groups``)."""
        if B % self.n_groups:
            raise ParameterError("B", B, f"must be a multiple of the number of data sets ({self.n_groups})")
        return B // self.n_groups

    def chain_P(self, B: int) -> torch.Tensor:
        """``P`` of every chain, ``(B,)``."""
        return self.P.repeat_interleave(self.group_size(B))

    def single(self) -> np.ndarray:
        """The counts ``(T, T, V, V)`` of a single data set as a NumPy array (for the NumPy theory)."""
        if self.n_groups != 1:
            raise ParameterError("counts", self.n_groups, "must hold a single data set here")
        return self.G[0].detach().cpu().numpy()

    def one_hot(self) -> torch.Tensor:
        """One-hot tokens ``X[mu, t, a]``, shape ``(P, T, V)`` (only for direct checks; needs the tokens)."""
        if self.tokens is None:
            raise ParameterError("tokens", None, "these counts were built without their tokens (Counts.from_tokens)")
        t = torch.as_tensor(self.tokens, dtype=torch.long)
        return torch.nn.functional.one_hot(t, self.V).to(DTYPE)


# --------------------------------------------------------------------------- evidence
def evidence_matrices(A: torch.Tensor, counts: Counts):
    """``C = sum_{ss'} (A^T A)_{ss'} G_{ss'}`` and ``D = sum_{t,s} A_ts G_{s,t-1}`` (each ``(B, V, V)``)
    for a batch of attention matrices ``A`` ``(B, T, T)`` -- the torch version of
    :func:`theory.evidence.evidence_matrices` (the NumPy reference it is tested against), used by
    the evidence, the network losses and the all-weights sampler alike.

    One matmul per data set: ``D = sum_{s,u} R_su G_su`` with ``R_su = A_{u+1,s}``, so the
    coefficients ``(A^T A, R)`` of all chains sharing a data set are stacked into the rows of a
    ``(2k, T^2)`` matrix and multiplied with ``G`` flattened to ``(T^2, V^2)``.
    """
    B, T, _ = A.shape
    V, ng = counts.V, counts.n_groups
    k = counts.group_size(B)
    AtA = torch.bmm(A.transpose(1, 2), A)  # (B,T,T), [s, s']
    R = torch.roll(A, shifts=-1, dims=1).transpose(1, 2)  # R[s,u] = A[(u+1) % T, s]
    coef = torch.stack((AtA, R), dim=1).reshape(ng, 2 * k, T * T)
    CD = torch.bmm(coef, counts.flat).view(B, 2, V, V)
    return CD[:, 0], CD[:, 1]


def _cholesky_checked(M: torch.Tensor, raise_on_failure: bool):
    L, info = torch.linalg.cholesky_ex(M)
    failed = info != 0
    if raise_on_failure and bool(failed.any()):
        bad = torch.nonzero(failed).flatten().tolist()
        finite = bool(torch.isfinite(M).all())
        raise EvidenceError(
            f"log_evidence: I + sigma2 C/(V kappa) is not positive definite for batch element(s) {bad} "
            f"(Cholesky failed at minor(s) {info[failed].tolist()}; matrix finite: {finite}, "
            f"max |M| = {float(M.detach().abs().max()):.3g}). Non-finite or huge attention scores?"
        )
    return L, failed


class _CholeskyEvidence(torch.autograd.Function):
    """``-(V/2) logdet(I + c C) + q |L^{-1} D|_F^2`` with an analytic backward.

    With ``M = I + c C = L L^T`` and ``Y = M^{-1} D``:
    ``d/dC = -(V/2) c M^{-1} - q c Y Y^T``, ``d/dD = 2 q Y`` (``C`` and ``M`` symmetric).
    Replaces torch's generic Cholesky / triangular-solve backward (about 3x fewer kernel launches;
    at these sizes launch overhead dominates). Verified against the pure-autograd path
    (:func:`log_evidence` with ``analytic_backward=False``) and finite differences in the tests.
    """

    @staticmethod
    def forward(ctx, C, D, c, q, V: int, raise_on_failure: bool):
        eye = torch.eye(V, dtype=C.dtype, device=C.device)
        M = torch.addcmul(eye, c, C)
        L, failed = _cholesky_checked(M, raise_on_failure)
        logdet = 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        X = torch.linalg.solve_triangular(L, D, upper=False)
        val = -0.5 * V * logdet + q * (X * X).sum(dim=(-2, -1))
        val = torch.where(failed, torch.full_like(val, -math.inf), val)
        ctx.save_for_backward(L, D, c, q)
        ctx.V = V
        return val

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, go):
        L, D, c, q = ctx.saved_tensors
        Minv = torch.cholesky_inverse(L)
        Y = torch.bmm(Minv, D)
        w = go.view(-1, 1, 1)
        qw = q.view(-1, 1, 1) * w
        gC = (-0.5 * ctx.V) * (c * w) * Minv - (qw * c) * torch.bmm(Y, Y.transpose(1, 2))
        gD = 2.0 * qw * Y
        return gC, gD, None, None, None, None


class BatchedEvidence:
    """``log p(Y | A)`` for a batch of ``B`` chains with fixed counts and per-chain ``sigma2, kappa``.

    Precomputes the per-chain constants so that a call costs only the tensor work.
    """

    def __init__(self, counts, B: int, sigma2: ArrayLike, kappa: ArrayLike, device=None):
        self.counts = counts if isinstance(counts, Counts) else Counts(counts, device=device)
        device = self.counts.device
        self.B = int(B)
        self.counts.group_size(self.B)
        self.T, self.V = self.counts.T, self.counts.V
        s2 = _per_chain(sigma2, self.B, device)
        ka = _per_chain(kappa, self.B, device)
        if bool((s2 <= 0).any()) or bool((ka <= 0).any()):
            raise ParameterError("sigma2/kappa", (s2.tolist(), ka.tolist()), "must be > 0")
        V, T = self.V, self.T
        P = self.counts.chain_P(self.B)
        self.sigma2, self.kappa, self.P = s2, ka, P
        self.c = (s2 / (V * ka)).view(self.B, 1, 1).contiguous()
        self.q = (s2 / (2.0 * V * ka * ka)).contiguous()  # tr(D^T Lam^-1 D)/(2 kappa^2) = q |L^-1 D|^2
        self.const = (-P * T / (2.0 * ka) - 0.5 * P * T * V * torch.log(2.0 * math.pi * ka)).contiguous()

    def _check(self, A: torch.Tensor):
        if A.ndim != 3 or A.shape != (self.B, self.T, self.T):
            raise ParameterError("A", tuple(A.shape), f"must have shape ({self.B}, {self.T}, {self.T})")

    def __call__(self, A: torch.Tensor, on_failure: str = "raise", analytic_backward: bool = True) -> torch.Tensor:
        """``(B,)`` log evidence. ``on_failure``: ``"raise"`` or ``"neginf"`` (see :func:`log_evidence`)."""
        if on_failure not in ("raise", "neginf"):
            raise ParameterError("on_failure", on_failure, "must be 'raise' or 'neginf'")
        self._check(A)
        C, D = evidence_matrices(A, self.counts)
        raise_ = on_failure == "raise"
        if analytic_backward:
            core = _CholeskyEvidence.apply(C, D, self.c, self.q, self.V, raise_)
        else:  # pure autograd (reference for the tests)
            eye = torch.eye(self.V, dtype=A.dtype, device=A.device)
            L, failed = _cholesky_checked(eye + self.c * C, raise_)
            logdet = 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
            X = torch.linalg.solve_triangular(L, D, upper=False)
            core = -0.5 * self.V * logdet + self.q * (X * X).sum(dim=(-2, -1))
            core = torch.where(failed, torch.full_like(core, -math.inf), core)
        out = core + self.const
        if raise_ and not bool(torch.isfinite(out).all()):
            bad = torch.nonzero(~torch.isfinite(out)).flatten().tolist()
            raise EvidenceError(f"log_evidence is not finite for batch element(s) {bad} (non-finite A?)")
        return out

    def training_error(self, A: torch.Tensor) -> torch.Tensor:
        """``(B,)`` squared training error per token of the posterior-mean readout given ``A``:
        ``(1/PT) sum_{mu,t} |y_t - Wbar z_t|^2`` (finite-size analogue of ``eps``, THEORY.md §4).
        NaN for chains whose Cholesky fails.

        With ``Wbar^T = Lam^{-1} D/kappa``, ``X = L^{-1} D``, ``Y = L^{-T} X = M^{-1} D`` and
        ``C = (V kappa/sigma2)(L L^T - I)``: ``tr(Wbar D) = (sigma2/(V kappa)) |X|^2``,
        ``tr(Wbar C Wbar^T) = (sigma2/(V kappa)) (|X|^2 - |Y|^2)``, and
        ``sum |y - Wbar z|^2 = PT - 2 tr(Wbar D) + tr(Wbar C Wbar^T)``.
        """
        self._check(A)
        with torch.no_grad():
            C, D = evidence_matrices(A, self.counts)
            eye = torch.eye(self.V, dtype=A.dtype, device=A.device)
            L, failed = _cholesky_checked(torch.addcmul(eye, self.c, C), False)
            X = torch.linalg.solve_triangular(L, D, upper=False)
            Y = torch.linalg.solve_triangular(L.transpose(-2, -1), X, upper=True)
            x2 = (X * X).sum(dim=(-2, -1))
            y2 = (Y * Y).sum(dim=(-2, -1))
            f = self.sigma2 / (self.V * self.kappa)
            PT = self.P * self.T
            err = (PT - 2.0 * f * x2 + f * (x2 - y2)) / PT
            return torch.where(failed, torch.full_like(err, math.nan), err)


def _functional(A, G, sigma2, kappa):
    A = as_tensor(A) if not isinstance(A, torch.Tensor) else A
    unbatched = A.ndim == 2
    if unbatched:
        A = A.unsqueeze(0)
    counts = G if isinstance(G, Counts) else Counts(G, device=A.device)
    return A, BatchedEvidence(counts, A.shape[0], sigma2, kappa), unbatched


def log_evidence(A: torch.Tensor, G, sigma2: ArrayLike, kappa: ArrayLike, *, on_failure: str = "raise",
                 analytic_backward: bool = True) -> torch.Tensor:
    """Closed-form ``log p(Y | A)`` (THEORY.md §2, all constants), batched; equals
    :func:`theory.evidence.log_evidence` chain by chain.

    Parameters
    ----------
    A : tensor ``(T, T)`` or ``(B, T, T)``, float64
        Attention matrices (one per chain). Differentiable.
    G : :class:`Counts` or array ``(T, T, V, V)`` (shared) or ``(n_groups, T, T, V, V)``
        (``n_groups`` dividing ``B``; ``n_groups = B`` is one data set per chain)
    sigma2, kappa : float or ``(B,)``
    on_failure : ``"raise"`` (default) raises :class:`theory.evidence.EvidenceError` when a Cholesky
        factorisation fails or the result is not finite; ``"neginf"`` returns ``-inf`` for chains
        whose Cholesky fails (used by the sampler, which rejects such proposals; NaN inputs give NaN).
    analytic_backward : use the analytic backward of the Cholesky block (default) or torch's
        generic autograd through ``cholesky``/``solve_triangular`` (reference).

    Returns
    -------
    tensor ``()`` or ``(B,)``
    """
    A, ev, unbatched = _functional(A, G, sigma2, kappa)
    out = ev(A, on_failure=on_failure, analytic_backward=analytic_backward)
    return out[0] if unbatched else out


def training_error(A: torch.Tensor, G, sigma2: ArrayLike, kappa: ArrayLike) -> torch.Tensor:
    """Squared training error per token of the posterior-mean readout (see
    :meth:`BatchedEvidence.training_error`), batched like :func:`log_evidence`."""
    A, ev, unbatched = _functional(A, G, sigma2, kappa)
    out = ev.training_error(A)
    return out[0] if unbatched else out


def scores_qk(Q: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """``S = Q^T K / N`` for ``Q, K`` of shape ``(..., N, T)``."""
    N = Q.shape[-2]
    return torch.matmul(Q.transpose(-2, -1), K) / N


def log_posterior_qk(Q, K, G, sigma2, kappa, attention_kind: str, *, on_failure: str = "raise"):
    """``-|Q|^2/2 - |K|^2/2 + log p(Y | A(Q^T K/N))`` for ``Q, K`` of shape ``(B, N, T)`` (or ``(N, T)``)."""
    S = scores_qk(Q, K)
    A = attention(S, attention_kind)
    lp = log_evidence(A, G, sigma2, kappa, on_failure=on_failure)
    return lp - 0.5 * (Q * Q).sum(dim=(-2, -1)) - 0.5 * (K * K).sum(dim=(-2, -1))


def log_posterior_scores(S, G, sigma2, kappa, attention_kind: str, N: int, *, on_failure: str = "raise"):
    """Prior ``"gaussian"``: ``-N |S|_F^2/2 + log p(Y | A(S))`` for ``S`` of shape ``(B, T, T)`` (or ``(T, T)``)."""
    A = attention(S, attention_kind)
    lp = log_evidence(A, G, sigma2, kappa, on_failure=on_failure)
    return lp - 0.5 * N * (S * S).sum(dim=(-2, -1))


# --------------------------------------------------------------------------- flat target for HMC
def bind_counts(model: Model, G, B: Optional[int] = None, device=None):
    """``(counts, B)`` of a posterior sampler: ``G`` as :class:`Counts` checked against the model's
    ``T`` and ``V``, and the number of chains (default: one per data group).

    Raises :class:`ParameterError` naming ``objective`` (not the posterior) or ``G`` (wrong shape).
    """
    if model.objective != "posterior":
        raise ParameterError("objective", model.objective, "the sampler needs objective='posterior'")
    counts = G if isinstance(G, Counts) else Counts(G, device=device)
    V = model.require_V()
    if counts.V != V or counts.T != model.T:
        raise ParameterError("G", tuple(counts.G.shape), f"counts must have T={model.T}, V={V}")
    return counts, int(counts.n_groups if B is None else B)


class PosteriorTarget:
    """Log posterior of a batch of chains as a function of one flat state ``x`` ``(B, dim)``.

    Parameters
    ----------
    model : :class:`theory.model.Model`
        Supplies ``T, sigma2, kappa, attention, prior`` and ``N = round(nu V^2)`` (``V`` must be set
        and equal the ``V`` of the counts; ``objective`` must be ``"posterior"``).
    G : counts ``(T, T, V, V)`` shared, or ``(n_groups, T, T, V, V)`` (chain ``b`` uses data set
        ``b // (B // n_groups)``), or :class:`Counts`
    B : number of chains (default: ``n_groups``)
    sigma2, kappa : optional per-chain overrides (default: the model's values)
    device : torch device

    The state is ``[vec Q, vec K]`` (``Q, K`` of shape ``(N, T)``, row-major) for prior ``"qk"``
    (``dim = 2 N T``), ``vec S`` for prior ``"gaussian"`` (``dim = T^2``). For the gaussian prior
    :attr:`inv_mass` is ``1/N`` (HMC then moves on the prior scale ``1/sqrt(N)`` of ``S``).
    """

    observable_names = ("m", "r", "train_err")

    def __init__(self, model: Model, G, B: Optional[int] = None, *, sigma2=None, kappa=None, device=None):
        self.model = model
        self.counts, self.B = bind_counts(model, G, B, device)
        self.device = self.counts.device
        self.T = model.T
        self.V = self.counts.V
        self.N = model.N
        self.attention = model.attention
        self.prior = model.prior
        self.evidence = BatchedEvidence(
            self.counts, self.B,
            model.sigma2 if sigma2 is None else sigma2,
            model.kappa if kappa is None else kappa,
        )
        T, N = self.T, self.N
        self.dim = 2 * N * T if self.prior == "qk" else T * T
        if self.prior == "qk":
            self.inv_mass = None
        else:
            self.inv_mass = torch.full((self.B, self.dim), 1.0 / N, dtype=DTYPE, device=self.device)
        self.n_evals = 0

    # ---- packing
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """``S`` ``(B, T, T)`` from the flat state."""
        B, T, N = x.shape[0], self.T, self.N
        if self.prior == "qk":
            Q, K = x.view(B, 2, N, T).unbind(1)
            return torch.bmm(Q.transpose(1, 2), K) / N
        return x.view(B, T, T)

    def pack_qk(self, Q: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
        B = Q.shape[0]
        return torch.cat((Q.reshape(B, -1), K.reshape(B, -1)), dim=1).to(DTYPE)

    def unpack_qk(self, x: torch.Tensor):
        B, T, N = x.shape[0], self.T, self.N
        Q, K = x.view(B, 2, N, T).unbind(1)
        return Q, K

    # ---- log density
    def __call__(self, x: torch.Tensor, on_failure: str = "neginf") -> torch.Tensor:
        """Log posterior ``(B,)`` (up to a constant); ``-inf`` marks a failed Cholesky (divergence)."""
        self.n_evals += 1
        A = attention(self.scores(x), self.attention)
        lp = self.evidence(A, on_failure=on_failure)
        w = 0.5 if self.prior == "qk" else 0.5 * self.N
        return lp - w * (x * x).sum(dim=1)

    def value_and_grad(self, x: torch.Tensor):
        """``(log posterior (B,), gradient (B, dim))``, both detached.

        The evidence gradient comes from autograd; the Gaussian prior's gradient (``-x``, or
        ``-N x`` for the gaussian prior) is added analytically (saves three full-size kernels per
        evaluation). The tests compare with plain autograd of :meth:`__call__`.
        """
        self.n_evals += 1
        w = 1.0 if self.prior == "qk" else float(self.N)
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            lp = self.evidence(attention(self.scores(xg), self.attention), on_failure="neginf")
            (g,) = torch.autograd.grad(lp.sum(), xg)
        lp = lp.detach() - (0.5 * w) * (x * x).sum(dim=1)
        return lp, g.sub_(x, alpha=w)

    def observe(self, x: torch.Tensor) -> torch.Tensor:
        """Observables ``(B, 3)``: ``m(A)``, ``r(A)`` and the training error of the posterior-mean
        readout (:meth:`BatchedEvidence.training_error`)."""
        with torch.no_grad():
            A = attention(self.scores(x), self.attention)
            return torch.stack((copy_weight(A), self_overlap(A), self.evidence.training_error(A)), dim=1)

    # ---- initial states
    def prior_draw(self, generator: torch.Generator) -> torch.Tensor:
        """A draw from the prior, ``(B, dim)``."""
        z = torch.randn(self.B, self.dim, generator=generator, dtype=DTYPE, device=self.device)
        if self.prior == "gaussian":
            z = z / math.sqrt(self.N)
        return z

    def target_scores(self, s0: Optional[float] = None) -> torch.Tensor:
        """Copy-head score matrix: ``s0 (J - 11^T/T)`` (softmax; default ``s0 = log V + 3``) or ``J`` (linear)."""
        T = self.T
        J = torch.roll(torch.eye(T, dtype=DTYPE), shifts=-1, dims=1)  # J[t, t-1] = 1
        if self.attention == "softmax":
            s0 = math.log(self.V) + 3.0 if s0 is None else float(s0)
            return s0 * (J - torch.ones(T, T, dtype=DTYPE) / T)
        s0 = 1.0 if s0 is None else float(s0)
        return s0 * J

    def copy_draw(self, generator: torch.Generator, s0: Optional[float] = None) -> torch.Tensor:
        """Copy-head start, ``(B, dim)``: ``S = Q^T K/N`` equals :meth:`target_scores` up to
        prior-scale noise.

        For ``"qk"``: with ``S0 = U Sigma W^T`` (SVD) and ``E`` a random ``N x T`` matrix with
        orthonormal columns, ``Q = sqrt(N) E Sigma^{1/2} U^T + (I - E E^T) Z_Q`` and likewise ``K``
        (``Z`` i.i.d. ``N(0,1)``), so ``Q^T K / N = S0 + Z_Q^T (I - E E^T) Z_K / N``.
        For ``"gaussian"``: ``S = S0 + N(0, 1/N)`` noise.
        """
        S0 = self.target_scores(s0)
        B, T, N = self.B, self.T, self.N
        if self.prior == "gaussian":
            z = torch.randn(B, T * T, generator=generator, dtype=DTYPE, device=self.device) / math.sqrt(N)
            return S0.reshape(1, -1).to(self.device) + z
        if N < T:
            raise ParameterError("N", N, f"copy start needs N >= T = {T}")
        U, sig, Wh = torch.linalg.svd(S0)
        root = torch.sqrt(sig)
        ZE = torch.randn(B, N, T, generator=generator, dtype=DTYPE, device=self.device)
        E, _ = torch.linalg.qr(ZE)  # (B, N, T) orthonormal columns
        U = U.to(self.device)
        Wh = Wh.to(self.device)
        root = root.to(self.device)
        Qs = math.sqrt(N) * E @ (root[:, None] * U.T)
        Ks = math.sqrt(N) * E @ (root[:, None] * Wh)
        ZQ = torch.randn(B, N, T, generator=generator, dtype=DTYPE, device=self.device)
        ZK = torch.randn(B, N, T, generator=generator, dtype=DTYPE, device=self.device)
        proj = lambda Z: Z - E @ (E.transpose(1, 2) @ Z)  # noqa: E731
        return self.pack_qk(Qs + proj(ZQ), Ks + proj(ZK))
