"""Pattern metrics of a multi-head attention layer for in-context regression (NumPy).

Each head ``h`` is given by ``M_h = K_h^T Q_h`` (its logit for context token ``z_i`` is
``z_i^T M_h z_q / sqrt(d+1)``, ``z = (x, y)``, ``z_q = (x_q, 0)``) and its OV row
``w_h = (O_h V_h)^T`` (``d + 1`` entries). The seed-004 patterns (design note
``ICL_REGRESSION.md``) and how they are measured here:

* KQ *diagonal and homogeneous*: the ``x``-block ``A_h = M_h[:d, :d]`` is close to ``omega_h I``.
  ``omega_h = tr A_h / d``; ``offdiag_h = |A_h - diag A_h|_F / |A_h|_F``;
  ``diag_spread_h = std(diag A_h) / rms(diag A_h)``; their combination
  ``iso_dev_h = |A_h - omega_h I|_F / |A_h|_F`` (0 for ``omega I``, about 1 for a random matrix).
* the ``y`` *row* of KQ (key's ``y`` times query's ``x``): ``y_row_h = |M_h[d, :d]|_2 / |A_h|_F``.
  The ``y`` *column* ``M_h[:, d]`` multiplies the query's ``y`` slot, which is 0: it is not
  identified and is never measured.
* OV *last-entry-only*: ``mu_h = w_h[d]``, ``ov_x_h = |w_h[:d]|_2 / |w_h|_2``.
* OV *zero-sum*: ``zero_sum = |sum_h mu_h| / sum_h |mu_h|``.
* *same-sign collapse*: every head with ``|mu_h| >= 0.1 max |mu|`` has ``mu`` of one sign, so the
  ``mu ybar`` terms cannot cancel (single-head-like). A bias-cancelling head with ``omega ~ 0`` and
  ``mu`` of the opposite sign is *not* a collapse (it debiases too).

Linearising the softmax in the logits gives the debiased-GD form
``y_hat ~ x_q^T Gamma_eff sum_i y_i (x_i - xbar) / L + (sum_h mu_h) ybar`` with
``Gamma_eff = sum_h mu_h A_h^T / sqrt(d+1)`` (derivation 13, step "linearised softmax"); for
linear attention (no normalisation) ``y_hat = x_q^T (L Gamma_eff) sum_i y_i x_i / L + ...``.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

ACTIVE_MU = 0.1
"""Heads with ``|mu_h| >= ACTIVE_MU * max |mu|`` take part in the collapse test."""


def _fro(a) -> float:
    return float(np.sqrt(np.sum(np.square(a))))


def head_metrics(M: np.ndarray, w: np.ndarray) -> dict:
    """Metrics of one head (``M`` of shape ``(d+1, d+1)``, ``w`` of ``d + 1`` entries)."""
    M = np.asarray(M, dtype=float)
    w = np.asarray(w, dtype=float)
    d = M.shape[0] - 1
    A = M[:d, :d]
    diag = np.diag(A)
    omega = float(diag.mean())
    nA = _fro(A)
    safe = nA if nA > 0 else float("nan")
    rms = math.sqrt(float(np.mean(diag ** 2)))
    return {
        "omega": omega,
        "offdiag": _fro(A - np.diag(diag)) / safe,
        "diag_spread": float(diag.std()) / rms if rms > 0 else float("nan"),
        "iso_dev": _fro(A - omega * np.eye(d)) / safe,
        "y_row": _fro(M[d, :d]) / safe,
        "mu": float(w[d]),
        "ov_x": _fro(w[:d]) / max(_fro(w), 1e-300),
    }


def is_collapsed(mus) -> Optional[bool]:
    """Same-sign collapse (module docstring); ``None`` for a single head."""
    mus = np.asarray(mus, dtype=float)
    if mus.size < 2:
        return None
    big = np.abs(mus) >= ACTIVE_MU * np.abs(mus).max()
    s = np.sign(mus[big])
    return bool(np.all(s > 0) or np.all(s < 0))


def effective_preconditioner(Ms, ws) -> np.ndarray:
    """``Gamma_eff = sum_h mu_h A_h^T / sqrt(d+1)`` (linearised softmax, module docstring)."""
    Ms = np.asarray(Ms, dtype=float)
    ws = np.asarray(ws, dtype=float)
    d = Ms.shape[-1] - 1
    return np.einsum("h,hji->ij", ws[:, d], Ms[:, :d, :d]) / math.sqrt(d + 1)


def alignment(a, b) -> float:
    """Cosine similarity ``<a, b>_F / (|a|_F |b|_F)`` of two matrices."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.sum(a * b) / (_fro(a) * _fro(b)))


def pattern_summary(Ms, ws, target: Optional[np.ndarray] = None, attention: str = "softmax") -> dict:
    """All metrics of an ``H``-head layer: ``{"heads": [per-head metrics], "zero_sum", "collapsed",
    "iso_dev", "offdiag", "diag_spread", "y_row", "ov_x", "omega_abs" (|omega mu|-weighted means over
    heads),
    "gamma_eff" (matrix), "step_eff" (tr Gamma_eff / d), "gamma_iso_dev" (|Gamma_eff - step_eff I|_F /
    |Gamma_eff|_F: the pattern of the *sum* over heads), "align_target", "align_identity"}``.

    ``target`` is the optimal (debiased-GD) preconditioner, to which ``Gamma_eff`` is compared by
    cosine similarity (``align_identity`` compares with ``I``; both are 1 for ``Gamma_eff ~ I``).
    ``collapsed`` is ``None`` for linear attention: without the softmax normalisation there is no
    ``mu ybar`` term to cancel (the output is ``sum_h mu_h sum_i y_i z_i^T M_h z_q / sqrt(d+1)`` plus
    the x entries), so zero-sum is not needed and there is nothing to collapse onto.
    """
    Ms = np.asarray(Ms, dtype=float)
    ws = np.asarray(ws, dtype=float)
    heads = [head_metrics(M, w) for M, w in zip(Ms, ws)]
    for h in heads:
        h["omega_abs"] = abs(h["omega"])
    mus = np.array([h["mu"] for h in heads])
    weight = np.abs(mus) * np.abs([h["omega"] for h in heads])
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(len(heads), 1.0 / len(heads))
    G = effective_preconditioner(Ms, ws)
    d = G.shape[0]
    out = {
        "heads": heads,
        "zero_sum": float(abs(mus.sum()) / np.abs(mus).sum()) if np.abs(mus).sum() > 0 else float("nan"),
        "collapsed": is_collapsed(mus) if attention == "softmax" else None,
        "gamma_eff": G,
        "step_eff": float(np.trace(G) / d),
        "gamma_iso_dev": _fro(G - np.trace(G) / d * np.eye(d)) / max(_fro(G), 1e-300),
        "align_identity": alignment(G, np.eye(d)),
        "align_target": alignment(G, target) if target is not None else None,
    }
    for k in ("iso_dev", "offdiag", "diag_spread", "y_row", "ov_x", "omega_abs"):
        vals = np.array([h[k] for h in heads])
        out[k] = float(np.nansum(weight * vals))  # weighted by |omega_h mu_h|: inactive heads do not count
    return out
