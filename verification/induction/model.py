r"""The two-layer induction-head transformer of seed 003 in torch: simplified and full variants.

Shapes: ``B`` sequences, ``L`` tokens, vocabulary ``S``, ``H`` layer-1 heads, window ``M``.
Positions ``t = 1 .. L`` carry the tokens; position ``L + 1`` is the empty query position.
Computation is organised by position classes (:func:`encode_positions`): everything at a position
depends only on its own token and its window, so head outputs are computed once per distinct
tuple and gathered back (exact; tested against a direct per-position implementation).

Layer 1 (copier). Head ``h`` has one logit ``w_{hk}`` per offset ``k = 1..M``, shared by all
positions (relative positional attention). Its offset weights are ``A_h = softmax(w_h)``
(``layer1="softmax"``) or ``A_h = w_h`` (``"linear"``), and its output at position ``t`` is

    v_h(t) = sum_k A_{hk} x_{t-k}        (x_s = 0 for s < 1: zero padding),
    u_h(t) = v_h(t) / ||v_h(t)||          (normalisation; a tiny regulariser keeps 0/0 finite).

The full variant adds token dependence and LayerNorm: logits ``w_{hk} + x_t^T Q_h x_{t-k}``
(``Q_h`` in R^{SxS}, initialised at 0; the query position has ``x_{L+1} = 0``, so its offset
weights are ``softmax(w_h)`` exactly), values ``O_h x_{t-k}`` (``O_h`` initialised at the
identity) and ``u_h = LN(v_h)``: centred over the ``S`` features and scaled to unit norm (no
affine parameters).

Selector (FFN with normalisation). The components at a position are ``u_0 = x_t`` (the token;
zero at the query) and ``u_1..u_H``. For every subset ``U`` with ``|U| <= D``
(:func:`copyhead.theory.induction.selector_subsets`) the polynomial kernel between the query and a
key position ``t'`` is

    k(t') = sum_U w_U prod_{j in U} <u_j(L+1), u_j(t')>,    w_U = c_U^2 / sum_V c_V^2.

Classifier (layer 2). ``p(y) = sum_{t'=1..L} softmax_{t'}(a k(t')) 1[x_{t'} = y]`` -- a vote for
the tokens that followed contexts like the query's -- mixed with the uniform distribution,
``p_eps = (1 - eps) p + eps / S``; the loss is the proper cross-entropy ``-ln p_eps(x_{L+1})``
(not a logits cross-entropy applied to ``p``).

Initialisations: ``"paper"`` -- ``w_{hk} = w_minus`` except ``w_{h,h} = w_plus`` (3 and 0.1; head
``h`` copies offset ``h`` from step 0), ``c_U = c0 = 0.01``, ``a = a0 = 0.01``; ``"neutral"`` --
equal offset logits (0 for softmax, ``1/M`` for linear) plus ``noise * N(0, 1)``, same ``c``, ``a``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from copyhead.theory.induction import InductionModel

INITS = ("paper", "neutral")
NORM_EPS = 1e-6  # regulariser of the normalisation: u = v / sqrt(|v|^2 + NORM_EPS^2)


def encode_positions(model: InductionModel, tokens, labels) -> dict:
    """Compress a data set into position classes (NumPy, done once per data set).

    A position is described by its own token and its window ``(x_{t-1}, ..., x_{t-M})``; the
    symbol ``S`` stands for "no token" (zero padding before ``x_1``, and the empty query position).
    Everything the model computes at a position depends on this tuple only, so the head outputs
    are computed once per distinct tuple ("class") and per distinct (query class, key class) pair,
    and gathered back to the ``B x L`` keys -- exact, and independent of ``H``, ``M`` and ``S`` per
    key.

    Returns ``codes`` (the distinct class tuples, ``(n_classes, 1 + M)``), ``pairs`` (``(P, 2)``:
    query class, key class), ``pair_ids`` (``(B, L)``), ``match`` (``(B, L)``: ``x_{t'} == y``).
    """
    x = np.asarray(tokens, dtype=np.int64)
    y = np.asarray(labels, dtype=np.int64)
    B, L = x.shape
    S, M = model.S, model.window
    pad = np.concatenate([np.full((B, M), S, dtype=np.int64), x], axis=1)  # pad[:, M + s - 1] = x_s
    key = np.stack([x] + [pad[:, M - k: M - k + L] for k in range(1, M + 1)], axis=-1)   # (B, L, 1+M)
    query = np.concatenate([np.full((B, 1), S, dtype=np.int64), pad[:, M + L - np.arange(1, M + 1)]], axis=1)
    base = (S + 1) ** np.arange(M, -1, -1)
    kc, qc = key @ base, query @ base
    codes, inv = np.unique(np.concatenate([qc, kc.ravel()]), return_inverse=True)
    qi, ki = inv[:B], inv[B:].reshape(B, L)
    pair_code = qi[:, None] * len(codes) + ki
    pcodes, pair_ids = np.unique(pair_code.ravel(), return_inverse=True)
    digits = (codes[:, None] // base[None, :]) % (S + 1)
    return {"codes": digits, "pairs": np.stack([pcodes // len(codes), pcodes % len(codes)], axis=1),
            "pair_ids": pair_ids.reshape(B, L), "match": x == y[:, None]}


class Batch:
    """One data set in the compressed form of :func:`encode_positions`, as tensors (built once)."""

    def __init__(self, model: InductionModel, tokens, labels, dtype=torch.float64):
        enc = encode_positions(model, tokens, labels)
        S = model.S
        eye = torch.cat([torch.eye(S, dtype=dtype), torch.zeros(1, S, dtype=dtype)])  # symbol S -> 0
        codes = torch.as_tensor(enc["codes"])
        self.own = eye[codes[:, 0]]                  # (n_classes, S): the position's token (0 if none)
        self.Z = eye[codes[:, 1:]]                   # (n_classes, M, S): x_{t-k}, zero padded
        self.pairs = torch.as_tensor(enc["pairs"])   # (P, 2)
        self.pair_ids = torch.as_tensor(enc["pair_ids"])  # (B, L)
        self.match = torch.as_tensor(enc["match"]).to(dtype)  # (B, L)
        self.size = int(self.match.shape[0])

    def __len__(self):
        return self.size


def _normalise(v: torch.Tensor) -> torch.Tensor:
    return v / torch.sqrt((v * v).sum(-1, keepdim=True) + NORM_EPS ** 2)


def _layernorm(v: torch.Tensor) -> torch.Tensor:
    return _normalise(v - v.mean(-1, keepdim=True))


class InductionTransformer(torch.nn.Module):
    """The simplified or full two-layer model of :class:`InductionModel` (see the module doc)."""

    def __init__(self, model: InductionModel, init: str = "paper", w_plus: float = 3.0, w_minus: float = 0.1,
                 c0: float = 0.01, a0: float = 0.01, noise: float = 0.01, generator: torch.Generator = None,
                 dtype=torch.float64):
        super().__init__()
        from copyhead.theory.model import ParameterError

        if init not in INITS:
            raise ParameterError("init", init, f"must be one of {', '.join(INITS)}")
        self.model = model
        H, M, S = model.heads, model.window, model.S
        self.subsets = model.subsets
        if init == "paper":
            w = torch.full((H, M), float(w_minus), dtype=dtype)
            for h in range(min(H, M)):
                w[h, h] = float(w_plus)
        else:
            base = 0.0 if model.layer1 == "softmax" else 1.0 / M
            w = base + float(noise) * torch.randn(H, M, generator=generator, dtype=dtype)
        self.w = torch.nn.Parameter(w)
        self.c = torch.nn.Parameter(torch.full((len(self.subsets),), float(c0), dtype=dtype))
        self.a = torch.nn.Parameter(torch.tensor(float(a0), dtype=dtype))
        if model.variant == "full":
            self.Q = torch.nn.Parameter(torch.zeros(H, S, S, dtype=dtype))
            self.O = torch.nn.Parameter(torch.eye(S, dtype=dtype).repeat(H, 1, 1))

    # ------------------------------------------------------------------ parts
    def offset_weights(self) -> torch.Tensor:
        """``A[h, k-1]``: head ``h``'s weight on offset ``k`` (at the query position)."""
        return torch.softmax(self.w, dim=-1) if self.model.layer1 == "softmax" else self.w

    def selector_weights(self) -> torch.Tensor:
        """``w_U = c_U^2 / sum_V c_V^2``."""
        c2 = self.c * self.c
        return c2 / c2.sum()

    def heads(self, own: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        """Normalised head outputs ``u[i, h, :]`` of positions with token ``own[i]`` (zero for the
        query) and window ``Z[i, k-1] = x_{t-k}``."""
        if self.model.variant == "simplified":
            return _normalise(torch.einsum("iks,hk->ihs", Z, self.offset_weights()))
        tok = torch.einsum("ia,hab,ikb->ihk", own, self.Q, Z)  # x_t^T Q_h x_{t-k}
        logits = self.w[None] + tok
        A = torch.softmax(logits, dim=-1) if self.model.layer1 == "softmax" else logits
        return _layernorm(torch.einsum("ihk,hab,ikb->iha", A, self.O, Z))

    def kernel_terms(self, batch: Batch) -> torch.Tensor:
        """``prod_{j in U} <u_j(L+1), u_j(t')>`` for every (query, key) pair of classes and every
        subset, shape ``(P, n_subsets)`` (component ``x`` gives 0: the query's token is empty)."""
        u = self.heads(batch.own, batch.Z)                       # (n_classes, H, S)
        gh = (u[batch.pairs[:, 0]] * u[batch.pairs[:, 1]]).sum(-1)  # (P, H)
        g = torch.cat([torch.zeros_like(gh[:, :1]), gh], dim=-1)
        ones = torch.ones_like(g[:, 0])
        cols = []
        for U in self.subsets:
            p = ones
            for j in U:
                p = p * g[:, j]
            cols.append(p)
        return torch.stack(cols, dim=-1)

    def attention(self, batch: Batch, selector_weights: torch.Tensor = None) -> torch.Tensor:
        """Layer-2 attention of the query on the keys ``t' = 1..L``, shape ``(B, L)``."""
        wts = self.selector_weights() if selector_weights is None else selector_weights
        k = self.kernel_terms(batch) @ wts                       # (P,)
        return torch.softmax(self.a * k[batch.pair_ids], dim=-1)

    def label_probability(self, batch: Batch, selector_weights: torch.Tensor = None) -> torch.Tensor:
        """``p_eps(y) = (1 - eps) sum_{t'} attn(t') 1[x_{t'} = y] + eps / S`` per sequence."""
        p = (self.attention(batch, selector_weights) * batch.match).sum(-1)
        eps = self.model.eps
        return (1.0 - eps) * p + eps / self.model.S

    def loss(self, batch: Batch, selector_weights: torch.Tensor = None) -> torch.Tensor:
        """Mean proper cross-entropy (nats) ``-ln p_eps(y)``."""
        return -torch.log(self.label_probability(batch, selector_weights)).mean()

    def forward(self, batch: Batch) -> torch.Tensor:
        """The training loss (:meth:`loss`)."""
        return self.loss(batch)

    # ------------------------------------------------------------------ readouts
    @torch.no_grad()
    def copier_weights(self) -> np.ndarray:
        """Offset distribution of each head: ``softmax(w_h)``, or for a linear layer 1
        ``w_h / sum_k |w_hk|`` (the normalisation makes the scale of ``w_h`` irrelevant)."""
        A = self.offset_weights()
        if self.model.layer1 == "linear":
            A = A / A.abs().sum(-1, keepdim=True).clamp_min(1e-300)
        return A.detach().cpu().numpy().copy()

    @torch.no_grad()
    def state(self) -> dict:
        return {"copier": self.copier_weights(), "selector": self.selector_weights().cpu().numpy().copy(),
                "a": float(self.a)}


def parent_coverage(weights: np.ndarray, parents) -> dict:
    """How the heads cover the parents: for each parent offset the head with the largest weight on
    it and that weight; ``parent_weight`` is their mean (1 = every parent copied perfectly)."""
    W = np.abs(np.asarray(weights))
    heads, vals = [], []
    for k in parents:
        if k > W.shape[1]:
            heads.append(None)
            vals.append(0.0)
            continue
        h = int(np.argmax(W[:, k - 1]))
        heads.append(h + 1)
        vals.append(float(W[h, k - 1]))
    return {"heads": heads, "weights": vals, "parent_weight": float(np.mean(vals)) if vals else math.nan}
