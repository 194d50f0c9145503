"""The n-gram data law of the induction-head system (NumPy).

Law (``INDUCTION_HEAD.md``, seed 003): every sequence draws its own transition table; for each of
the ``C = S^(n-1)`` contexts ``c = (x_{t-n+1}, ..., x_{t-1})`` a row

    pi(. | c) ~ Dirichlet(a 1_S)        (independent rows, independent sequences);

the first ``n - 1`` tokens are i.i.d. uniform on ``{0, ..., S-1}``; then
``x_t ~ pi(. | x_{t-n+1..t-1})`` for ``t = n .. L``; the label ``y = x_{L+1}`` is drawn from the
same law given the last ``n - 1`` tokens.

Context index convention (used by every module of the system): the context of ``x_t`` is

    c = sum_{j=1}^{n-1} x_{t-j} S^(j-1)      (the newest parent is the least significant digit),

so a table ``pi`` of shape ``(C, S)`` reshaped to ``(S,)*(n-1) + (S,)`` has its axes ordered
oldest parent, ..., newest parent, next token.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import InductionModel


@dataclass(frozen=True)
class NGramData:
    """Sequences of the n-gram law.

    Attributes
    ----------
    tokens : int array (B, L)
        ``x_1 .. x_L`` (0-based token ids).
    labels : int array (B,)
        ``x_{L+1}``.
    pi : float array (B, C, S) or None
        The transition tables the sequences were drawn from (kept for checks).
    """

    tokens: np.ndarray
    labels: np.ndarray
    pi: np.ndarray = None

    def __len__(self):
        return int(self.tokens.shape[0])

    def split(self, n_first: int):
        """``(first n_first sequences, the rest)``."""
        pi = (None, None) if self.pi is None else (self.pi[:n_first], self.pi[n_first:])
        return (NGramData(self.tokens[:n_first], self.labels[:n_first], pi[0]),
                NGramData(self.tokens[n_first:], self.labels[n_first:], pi[1]))


def context_index(window: np.ndarray, S: int) -> np.ndarray:
    """Context index of the last axis of ``window`` (``..., n-1`` tokens, oldest first):
    ``sum_j x_{t-j} S^(j-1)``."""
    n1 = window.shape[-1]
    weights = S ** np.arange(n1 - 1, -1, -1)
    return (window * weights).sum(axis=-1)


def sample_tables(model: InductionModel, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` transition tables, shape ``(size, C, S)``, rows i.i.d. ``Dirichlet(a 1_S)``."""
    pi = rng.dirichlet(np.full(model.S, model.dirichlet), size=(size, model.contexts))
    bad = ~np.isfinite(pi).all(axis=-1)
    if bad.any():  # pragma: no cover -- numpy's sampler does not produce these at a >= 1e-3
        raise FloatingPointError(f"{int(bad.sum())} Dirichlet rows are not finite")
    return pi


def _draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of ``probs`` (shape ``(B, S)``), by inversion."""
    cum = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=-1), probs.shape[-1] - 1)


def sample_chains(model: InductionModel, pi: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Token sequences of ``length`` from the tables ``pi`` (one per row of ``pi``): the first
    ``n - 1`` tokens uniform, the rest from the chain. Shape ``(B, length)``."""
    B, n1, S = pi.shape[0], model.n - 1, model.S
    x = np.empty((B, length), dtype=np.int64)
    x[:, :n1] = rng.integers(0, S, size=(B, n1))
    rows = np.arange(B)
    for t in range(n1, length):
        c = context_index(x[:, t - n1:t], S)
        x[:, t] = _draw(pi[rows, c], rng)
    return x


def sample_ngram(model: InductionModel, size: int, rng: np.random.Generator, keep_tables: bool = True) -> NGramData:
    """``size`` sequences of the data law with their labels (``x_{L+1}``)."""
    if int(size) < 1:
        from ..model import ParameterError

        raise ParameterError("sequences", size, "must be >= 1")
    pi = sample_tables(model, int(size), rng)
    x = sample_chains(model, pi, model.L + 1, rng)
    return NGramData(tokens=x[:, :-1].copy(), labels=x[:, -1].copy(), pi=pi if keep_tables else None)
