"""The finite copy-head network in torch (THEORY.md §1), batched over independent replicas.

Parameters of one replica (leading batch axis ``R`` on every tensor):

* ``"qk"`` prior: ``Q, K`` of shape ``(R, N, T)``, scores ``S = Q^T K / N``;
* ``"gaussian"`` prior: the scores ``S`` of shape ``(R, T, T)`` directly;
* readout ``W`` of shape ``(R, V, V)``, outputs ``f_t = W z_t`` with ``z_t = sum_s A_ts x_s``.

Loss from the data counts
-------------------------
For one-hot tokens, ``y_t = x_{t-1}`` and ``z_t = sum_s A_ts x_s``. Summing over sequences and
positions,

    sum_{mu,t} |y_t|^2              = P T,
    sum_{mu,t} y_t^T W z_t          = sum_{t,s} A_ts sum_mu x_{t-1}^T W x_s
                                    = sum_{t,s} A_ts tr(W G_{s,t-1}) = tr(W D),
    sum_{mu,t} z_t^T W^T W z_t      = sum_{s,s'} (A^T A)_{ss'} tr(W G_{ss'} W^T) = tr(W C W^T),

with ``G_{ss'} = sum_mu x_s x_{s'}^T`` (:func:`theory.evidence.data_counts`),
``C = sum_{ss'} (A^T A)_{ss'} G_{ss'}`` and ``D = sum_{t,s} A_ts G_{s,t-1}`` -- the same
``C, D`` as in the closed-form evidence. Hence

    sum_{mu,t} |y_t - W z_t|^2 = P T - 2 tr(W D) + tr(W C W^T)

and the cost of one evaluation is ``O(T^2 V^2 + V^3)``, independent of ``P``
(:func:`data_loss_counts`); :func:`data_loss_direct` materialises ``P x T x V`` and is the check.

Negative log joint ("MAP loss", THEORY.md §7), per replica:

    U = (1/2 kappa) sum |y - W z|^2 + 1/2 |Q|^2 + 1/2 |K|^2 + V |W|^2 / (2 sigma2)   ("qk")
    U = (1/2 kappa) sum |y - W z|^2 + N |S|^2 / 2       + V |W|^2 / (2 sigma2)   ("gaussian")

(constants of the Gaussian densities dropped). ``exp(-U)`` is the joint posterior of all
weights, whose ``(Q, K)`` marginal is ``exp(-|Q|^2/2 - |K|^2/2) p(Y | A)`` (THEORY.md §2).
"""
from __future__ import annotations

import numpy as np
import torch

from copyhead.theory.evidence import sample_tokens
from copyhead.theory.model import Model, ParameterError

from .evidence_torch import DTYPE, Counts, attention, copy_weight, evidence_matrices, self_overlap  # noqa: F401


# ---------------------------------------------------------------------------- network
def scores(Q: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """``S = Q^T K / N`` for ``Q, K`` of shape ``(..., N, T)``."""
    N = Q.shape[-2]
    return Q.transpose(-1, -2) @ K / N


def data_for(model: Model, data, data_seed: int) -> Counts:
    """The data set of a run: ``P = model.P`` sequences drawn with ``data_seed`` (``data=None``), the
    given ``(P, T)`` tokens, or the given :class:`Counts`."""
    V = model.require_V()
    if data is None:
        return Counts.from_tokens(sample_tokens(model.P, model.T, V, data_seed), V)
    return data if isinstance(data, Counts) else Counts.from_tokens(np.asarray(data), V)


def data_loss_counts(A: torch.Tensor, W: torch.Tensor, data: Counts, kappa: float) -> torch.Tensor:
    """``(1/2 kappa) sum_{mu,t} |y_t - W z_t|^2`` from the data counts, per replica (``A (R, T, T)``).

    ``= (P T - 2 tr(W D) + tr(W C W^T)) / (2 kappa)``, see the module docstring.
    """
    C, D = evidence_matrices(A, data)
    trWD = (W.transpose(-1, -2) * D).sum(dim=(-2, -1))
    trWCW = ((W @ C) * W).sum(dim=(-2, -1))
    PT = data.P * data.T  # (n_groups,) = (1,): broadcasts over the replicas
    return (PT - 2.0 * trWD + trWCW) / (2.0 * kappa)


def data_loss_direct(A: torch.Tensor, W: torch.Tensor, data: Counts, kappa: float) -> torch.Tensor:
    """The same sum computed literally from the ``P x T x V`` inputs and targets (the check)."""
    X = data.one_hot()  # (P, T, V)
    Y = torch.roll(X, 1, dims=1)  # y_t = x_{t-1}
    Z = torch.einsum("...ts,psv->...ptv", A, X)
    F = torch.einsum("...ij,...ptj->...pti", W, Z)
    R = Y - F
    return (R * R).sum(dim=(-3, -2, -1)) / (2.0 * kappa)


def param_names(model: Model):
    """Names of the score parameters: ``("Q", "K")`` for the qk prior, ``("S",)`` for gaussian."""
    return ("Q", "K") if model.prior == "qk" else ("S",)


def params_scores(params: dict) -> torch.Tensor:
    """Scores ``S`` from a parameter dict (``Q, K`` or ``S``)."""
    if "S" in params:
        return params["S"]
    return scores(params["Q"], params["K"])


def prior_energy(params: dict, model: Model) -> torch.Tensor:
    """Negative log prior (constants dropped), per replica."""
    V = params["W"].shape[-1]
    if "S" in params:
        N = model.N if model.V is not None else None
        if N is None:
            raise ParameterError("V", None, "the gaussian prior needs a finite V (N = nu V^2)")
        score_term = 0.5 * N * (params["S"] ** 2).sum(dim=(-2, -1))
    else:
        score_term = 0.5 * (params["Q"] ** 2).sum(dim=(-2, -1)) + 0.5 * (params["K"] ** 2).sum(dim=(-2, -1))
    w_term = V * (params["W"] ** 2).sum(dim=(-2, -1)) / (2.0 * model.sigma2)
    return score_term + w_term


def map_loss(params: dict, data: Counts, model: Model, direct: bool = False) -> torch.Tensor:
    """Negative log joint ``U`` (the MAP loss of THEORY.md §7), one value per replica.

    ``params``: ``{"Q", "K", "W"}`` (prior "qk") or ``{"S", "W"}`` (prior "gaussian").
    ``direct=True`` uses :func:`data_loss_direct` instead of the count identity.
    """
    S = params_scores(params)
    A = attention(S, model.attention)
    f = data_loss_direct if direct else data_loss_counts
    return f(A, params["W"], data, model.kappa) + prior_energy(params, model)


def order_parameters(params: dict, model: Model):
    """``(m, r)`` of ``A(S)`` per replica (detached)."""
    with torch.no_grad():
        A = attention(params_scores(params), model.attention)
        return copy_weight(A), self_overlap(A)


def f_map_reduced(S: np.ndarray, model: Model) -> float:
    """``nu ||S||_* + (alpha/2)(1 + g(r - m^2))/(1 + g r)`` at a given score matrix (THEORY.md §7).

    For the "gaussian" prior the rate is ``nu |S|_F^2 / 2`` instead of the nuclear norm.
    Uses the realised ``nu = N/V^2`` and ``alpha = P T/(kappa V^2)`` when ``V`` is set. Useful as
    a leading-order comparison for ``loss / V^2`` at a trained point (the ``W`` part of the loss
    is minimised there).
    """
    from copyhead.theory.order_parameters import attention as np_attention, copy_weight as np_m, self_overlap as np_r

    S = np.asarray(S, float)
    A = np_attention(S, model.attention)
    m, r = float(np_m(A)), float(np_r(A))
    nu = model.nu_effective if model.V is not None else model.nu
    alpha = model.alpha_effective if model.V is not None else model.require_alpha()
    g = model.sigma2 * alpha
    if model.prior == "qk":
        rate = np.linalg.svd(S, compute_uv=False).sum()
    else:
        rate = 0.5 * (S * S).sum()
    return float(nu * rate + 0.5 * alpha * (1.0 + g * (r - m * m)) / (1.0 + g * r))
