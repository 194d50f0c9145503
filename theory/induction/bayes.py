"""The Bayes-optimal in-context predictor of the n-gram law and its cross-entropy (NumPy).

Under the data law of :mod:`.data` the rows of the sequence's own table are independent
``Dirichlet(a 1_S)`` a priori, and the likelihood of ``x_1..x_L`` factorises over contexts:
``prod_c prod_y pi(y|c)^{N(c -> y)}`` (the first ``n - 1`` uniform tokens do not depend on ``pi``).
By conjugacy the posterior of row ``c`` is ``Dirichlet(a + N(c -> .))`` and the posterior
predictive of the next token given the last ``n - 1`` tokens (context ``c*``) is

    p(y | x_1..x_L) = (N(c* -> y) + a) / (N(c*) + S a),      N(c) = sum_y N(c -> y),

with ``N(c -> y)`` the number of times ``y`` follows context ``c`` inside the sequence. No
predictor can have a smaller expected cross-entropy ``E[-ln p(x_{L+1} | x_1..x_L)]`` on this law:
it is the floor against which a trained model is measured. (Checked against brute-force numerical
integration over the Dirichlet rows in ``tests/theory/test_induction_bayes.py``.)
"""
from __future__ import annotations

import numpy as np

from .data import context_index
from .params import InductionModel


def transition_counts(model: InductionModel, tokens: np.ndarray) -> np.ndarray:
    """``N[b, c, y]``: how often ``y`` follows context ``c`` in sequence ``b`` (shape ``(B, C, S)``)."""
    tokens = np.asarray(tokens)
    B, L = tokens.shape
    n1, S, C = model.n - 1, model.S, model.contexts
    if L <= n1:
        return np.zeros((B, C, S))
    win = np.lib.stride_tricks.sliding_window_view(tokens, n1 + 1, axis=1)  # (B, L-n1, n)
    c = context_index(win[..., :n1], S)
    y = win[..., n1]
    flat = (np.arange(B)[:, None] * C + c) * S + y
    return np.bincount(flat.ravel(), minlength=B * C * S).reshape(B, C, S).astype(float)


def query_context(model: InductionModel, tokens: np.ndarray) -> np.ndarray:
    """Context index of the label ``x_{L+1}``: the last ``n - 1`` tokens of each sequence."""
    tokens = np.asarray(tokens)
    return context_index(tokens[:, tokens.shape[1] - (model.n - 1):], model.S)


def bayes_predictive(model: InductionModel, tokens: np.ndarray) -> np.ndarray:
    """Posterior predictive ``p(x_{L+1} = y | x_1..x_L)``, shape ``(B, S)`` (rows sum to 1)."""
    N = transition_counts(model, tokens)
    q = query_context(model, tokens)
    row = N[np.arange(N.shape[0]), q]
    a = model.dirichlet
    return (row + a) / (row.sum(axis=-1, keepdims=True) + model.S * a)


def bayes_cross_entropy(model: InductionModel, tokens: np.ndarray, labels: np.ndarray) -> dict:
    """Mean cross-entropy (nats) of the Bayes predictor on ``(tokens, labels)`` with its standard
    error: ``{"mean", "se", "n"}``."""
    p = bayes_predictive(model, tokens)
    nll = -np.log(p[np.arange(p.shape[0]), np.asarray(labels)])
    se = float(nll.std(ddof=1) / np.sqrt(nll.size)) if nll.size > 1 else float("nan")
    return {"mean": float(nll.mean()), "se": se, "n": int(nll.size)}
