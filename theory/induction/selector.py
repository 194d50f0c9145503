r"""The informative-parent criterion: which subset of the window the selector keeps (NumPy).

Derivation (first order in the classifier scale ``a``; the paper's first training stage)
----------------------------------------------------------------------------------------
The runnable SymPy derivation is ``derivations/14_induction_selector.py`` (steps and their symbolic
checks in :mod:`copyhead.theory.symbolic.induction`; LaTeX in
``derivations/out/14_induction_selector.tex``); this is its summary.
Take a perfect copier (head ``h`` copies offset ``k_h``, so the normalised head output at position
``t`` is the one-hot ``e_{x_{t-k_h}}``; zero when ``t - k_h < 1``). For a subset ``U`` of offsets
the selector kernel between a key position ``t'`` and the query position ``L + 1`` is
``K_U(t') = prod_{k in U} 1[x_{t'-k} = x_{L+1-k}]``; the classifier attends with logits
``a s(t')``, ``s = sum_U w_U K_U``, ``w_U = c_U^2 / sum_V c_V^2``, and predicts
``p(y) = sum_{t'} softmax(a s)_{t'} 1[x_{t'} = y]``. At ``a -> 0``, ``softmax(a s)_{t'} =
(1 + a (s(t') - mean s)) / L + O(a^2)``, so the gradient of the cross-entropy ``-ln p(y)`` is

    -(1/a) d(-ln p(y)) / d w_U  =  g_U  =  [F_U(y) - Kbar_U phat(y)] / phat(y) + O(a),

with ``F_U(y) = (1/L) sum_{t'} K_U(t') 1[x_{t'} = y]``, ``Kbar_U = (1/L) sum_{t'} K_U(t')`` and
``phat(y)`` the frequency of ``y`` in the sequence (:func:`selector_signal` computes it on data).
For a long ergodic sequence the time averages become stationary probabilities of the chain:
``F_U -> mu(z_U, y)``, ``Kbar_U -> mu(z_U)``, ``phat -> mu(y)``, where ``z_U`` are the query's
tokens at the offsets ``U`` and ``(z_U, y)`` is itself distributed as ``mu``. Averaging,

    E[g_U | pi] -> sum_{z,y} mu(z,y) [mu(z,y) - mu(z) mu(y)] / mu(y)
                 = sum_{z,y} (mu(z,y) - mu(z) mu(y))^2 / mu(y)                         (*)
                 = sum_z mu(z)^2  chi^2( mu(.|z) || mu(.) ),

(the cross term ``sum_{z,y} mu(z) [mu(z,y) - mu(z) mu(y)] = 0`` turns the first line into the
square). This is the **modified chi-square mutual information** between the tokens at offsets
``U`` and the next token: the ordinary chi-square mutual information weighs the divergence of
``mu(.|z)`` by ``mu(z)``; here the weight is ``mu(z)^2``, which penalises large subsets (refining
``z`` by a non-informative offset divides ``sum_z mu(z)^2`` by about ``S`` and leaves the
divergence unchanged). The selector's prior-averaged signal is

    I(U) = E_{pi ~ Dirichlet(a 1_S)^{C}} [ (*) ],

with ``mu = mu^pi`` the stationary law of the chain of ``pi``. Because the weights are
normalised, ``d c_U / dt  proportional to  (c_U / sum c^2) (g_U - sum_V w_V g_V)``: starting from
equal ``c_U``, the subset with the largest ``I(U)`` grows fastest and takes over (subsets
containing the token component ``x`` or the empty subset have ``g_U = 0``: the query's token is
empty and the constant kernel does not move the softmax). The predicted subset is therefore
``U* = argmax_{U subset of {1..M}, 1 <= |U| <= D} I(U)``.

Conditions: (1) a sharp copier (one-hot head outputs, so ``K_U`` is a product of indicators);
(2) first order in ``a`` (the paper starts at ``a = 0.01``); (3) ``L`` much longer than the mixing
time of the chain (time averages are stationary probabilities; the query's ``(z, y)`` is a
stationary draw) -- nearly absorbing Dirichlet(0.1) rows mix slowly, and at finite ``L`` the signal
differs by ``O(tau/L)``; (4) equal starting ``c_U``; (5) ``eps -> 0`` in the limit (the model's
``eps`` changes the denominator to ``(1 - eps) phat + eps / S``, as :func:`selector_signal` uses).

Caveat (imperfect copier). Referee's measurement: with the paper's initial copier (offset weight
0.948) the real first-order signal at ``S = 3``, ``L = 50`` is about 8 % below ``I(U)`` and the
margin between the top two subsets shrinks from 0.028 to 0.017 without changing their order. Our
check (``python tests/theory/test_induction_derivation.py``; ``n = 3``, ``S = 3``, ``L = 50``, 20 000
sequences, the torch model's exact ``a -> 0`` signal): window 3 with the paper's copier (own-offset
weight 0.901): 3-13 % below the sharp-copier signal on the same sequences, 2-12 % below ``I(U)``,
top-two margin ({1,2} over {2,3}) 0.0286 against 0.0357 (sharp) and 0.0306 (``I(U)``); window 2
(own-offset weight 0.948): 3-7 % below the sharp copier, 0.4-6 % below ``I(U)``, margin 0.0418
against 0.0367 and 0.0334. The order of the subsets never changed; the referee's margin 0.017 was
not reproduced (its exact setting is not known here). The prediction is the order, not the size.

No closed form exists for ``I(U)`` (the stationary law is a rational function of the Dirichlet
rows): :func:`selector_criterion` computes ``(*)`` exactly per table (stationary law by a linear
solve, joint law of the window by propagation) and the prior average by Monte Carlo over tables,
with standard errors and a paired z-score of the winner's margin. Checks
(``tests/theory/test_induction_selector.py``): ``(*)`` against a long simulated chain, the prior
average against 2-d quadrature over the two Beta rows at ``S = n = 2``, and the whole derivation
against the finite-``L`` gradient of the torch model at small ``a``; the symbolic steps and their
numerical counterparts in ``tests/theory/test_induction_derivation.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import sample_tables
from .params import InductionModel, offset_subsets


def transition_matrix(model: InductionModel, pi: np.ndarray) -> np.ndarray:
    """Transition matrix ``P[b, c, c']`` of the chain on contexts (the last ``n - 1`` tokens)."""
    S, C = model.S, model.contexts
    c = np.arange(C)[:, None]
    y = np.arange(S)[None, :]
    nxt = (c % (S ** (model.n - 2))) * S + y  # drop the oldest parent, append y as the newest
    P = np.zeros(pi.shape[:-2] + (C, C))
    P[..., np.broadcast_to(c, nxt.shape), nxt] = pi
    return P


def stationary_contexts(model: InductionModel, pi: np.ndarray) -> np.ndarray:
    """Stationary law ``rho[b, c]`` of the context chain of each table (``rho P = rho``).

    Solves ``rho (P - I) = 0``, ``sum rho = 1`` with the diagonal of ``P - I`` written as minus
    the off-diagonal row sum (as in the Grassmann-Taksar-Heyman algorithm): ``P_cc - 1`` would
    cancel catastrophically for the nearly absorbing contexts that Dirichlet(0.1) rows produce."""
    P = transition_matrix(model, pi)
    C = P.shape[-1]
    G = P.copy()
    diag = np.arange(C)
    G[..., diag, diag] = 0.0
    G[..., diag, diag] = -G.sum(axis=-1)
    A = np.swapaxes(G, -1, -2)
    A[..., -1, :] = 1.0
    rhs = np.zeros(P.shape[:-1])
    rhs[..., -1] = 1.0
    rho = np.linalg.solve(A, rhs[..., None])[..., 0]
    rho = np.clip(rho, 0.0, None)
    return rho / rho.sum(axis=-1, keepdims=True)


def window_joint(model: InductionModel, pi: np.ndarray, span: int = None) -> np.ndarray:
    """Stationary joint law of ``(x_{t-span}, ..., x_{t-1}, x_t)``, shape ``(B,) + (S,)*(span+1)``
    (axis ``j`` is offset ``span - j``; the last axis is ``x_t``). ``span`` defaults to
    ``max(window, n - 1)``."""
    S, C = model.S, model.contexts
    span = max(model.window, model.n - 1) if span is None else int(span)
    B = pi.shape[0]
    J = stationary_contexts(model, pi)  # offsets span .. span-n+2
    for _ in range(span - (model.n - 1) + 1):
        J = (J.reshape(B, -1, C)[..., None] * pi[:, None, :, :]).reshape(B, -1)
    return J.reshape((B,) + (S,) * (span + 1))


def chi2_information(model: InductionModel, pi: np.ndarray, subsets=None) -> np.ndarray:
    """The modified chi-square mutual information (*) of each offset subset for each table,
    shape ``(B, len(subsets))`` (``subsets`` default: :func:`offset_subsets` of the model)."""
    subsets = offset_subsets(model.window, model.degree) if subsets is None else subsets
    span = max([model.window, model.n - 1] + [max(u) for u in subsets if u])
    J = window_joint(model, pi, span)
    B, S = J.shape[0], model.S
    out = np.empty((B, len(subsets)))
    for i, u in enumerate(subsets):
        keep = sorted({span - k for k in u})
        drop = tuple(1 + j for j in range(span) if j not in keep)
        joint = J.sum(axis=drop).reshape(B, -1, S)  # mu(z, y)
        mz = joint.sum(axis=-1, keepdims=True)
        my = joint.sum(axis=-2, keepdims=True)
        dev = joint - mz * my
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(my > 1e-300, dev * dev / my, 0.0)
        out[:, i] = term.sum(axis=(-1, -2))
    return out


@dataclass(frozen=True)
class SelectorPrediction:
    """The criterion over the candidate offset subsets and its winner.

    ``values``/``se``: prior average of (*) and its Monte Carlo standard error per subset;
    ``predicted``: the winning offsets; ``runner_up``; ``margin_z``: (winner - runner-up) over the
    standard error of the paired difference (same tables for every subset); ``draws``, ``seed``.
    """

    subsets: list
    values: np.ndarray
    se: np.ndarray
    predicted: tuple
    runner_up: tuple
    margin_z: float
    draws: int
    seed: int

    def to_dict(self) -> dict:
        return {"offset_subsets": [list(u) for u in self.subsets], "values": self.values.tolist(),
                "se": self.se.tolist(), "predicted_offsets": list(self.predicted),
                "runner_up_offsets": list(self.runner_up) if self.runner_up else None,
                "margin_z": self.margin_z, "draws": self.draws, "seed": self.seed,
                "definition": "E_pi sum_{z,y} (mu(z,y) - mu(z) mu(y))^2 / mu(y), mu = stationary law"}


def selector_criterion(model: InductionModel, draws: int = 4000, seed: int = 0, batch: int = 2000,
                       subsets=None) -> SelectorPrediction:
    """Prior average of the modified chi-square information of every candidate offset subset
    (``1 <= |U| <= D``, ``U`` inside the window) by Monte Carlo over ``draws`` tables, and the
    subset the selector is predicted to keep."""
    from ..model import ParameterError

    if int(draws) < 2:
        raise ParameterError("draws", draws, "must be >= 2")
    subsets = offset_subsets(model.window, model.degree) if subsets is None else list(subsets)
    if not subsets:
        raise ParameterError("degree", model.degree, "must be >= 1 for a selector prediction")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 3]))
    vals = []
    left = int(draws)
    while left > 0:
        b = min(batch, left)
        vals.append(chi2_information(model, sample_tables(model, b, rng), subsets))
        left -= b
    v = np.concatenate(vals)
    mean, se = v.mean(axis=0), v.std(axis=0, ddof=1) / np.sqrt(v.shape[0])
    order = np.argsort(-mean)
    best = int(order[0])
    if len(subsets) > 1:
        second = int(order[1])
        d = v[:, best] - v[:, second]
        sd = d.std(ddof=1) / np.sqrt(d.size)
        z = float(d.mean() / sd) if sd > 0 else float("inf")
        runner = tuple(subsets[second])
    else:
        z, runner = float("inf"), None
    return SelectorPrediction(subsets=[tuple(u) for u in subsets], values=mean, se=se, predicted=tuple(subsets[best]),
                              runner_up=runner, margin_z=z, draws=int(draws), seed=int(seed))


def selector_signal(model: InductionModel, tokens: np.ndarray, labels: np.ndarray, subsets=None) -> dict:
    """The finite-``L`` first-order selector signal ``g_U`` of the derivation, averaged over the
    given sequences, for a perfect copier (one head per offset; zero padding before ``x_1``).

    Uses the eps-mixed prediction of the model: ``g_U = (1 - eps) [F_U - Kbar_U phat] /
    ((1 - eps) phat + eps / S)``. Returns ``{"subsets", "mean", "se"}``.
    """
    subsets = offset_subsets(model.window, model.degree) if subsets is None else list(subsets)
    x = np.asarray(tokens)
    y = np.asarray(labels)
    B, L = x.shape
    span = max([max(u) for u in subsets if u] + [1])
    pad = np.concatenate([np.full((B, span), -1), x], axis=1)  # -1 never equals a token
    onehot_y = (x == y[:, None])  # 1[x_t' = y]
    phat = onehot_y.mean(axis=1)
    eps, S = model.eps, model.S
    g = np.empty((B, len(subsets)))
    for i, u in enumerate(subsets):
        K = np.ones((B, L), dtype=bool)
        for k in u:
            src = pad[:, span - k: span - k + L]  # x_{t'-k}
            K &= src == x[:, L - k][:, None]     # query parent x_{L+1-k}
        F = (K & onehot_y).mean(axis=1)
        Kbar = K.mean(axis=1)
        g[:, i] = (1 - eps) * (F - Kbar * phat) / ((1 - eps) * phat + eps / S)
    return {"subsets": [tuple(u) for u in subsets], "mean": g.mean(axis=0), "se": g.std(axis=0, ddof=1) / np.sqrt(B)}
