"""The ``O(V)`` correction ``e1(A)`` to the energy (NumPy).

For a fixed attention matrix ``A`` (``T x T``) and ``V -> inf`` with ``alpha = P T/(kappa V^2)``
and ``g = sigma2 alpha`` fixed, the data-averaged (quenched) W-marginal evidence of
``theory.evidence.log_evidence`` expands as

    E_data[log p(Y|A)] + (P T V/2) log(2 pi kappa) = V^2 e(m, r) + V e1(A) + O(1),

    e(m, r) = -1/2 log(1 + g r) - (alpha/2) (1 + g (r - m^2)) / (1 + g r).

The only ``A``-independent term is the removed constant ``-(PTV/2) log(2 pi kappa)`` (order
``V^3``); at ``A = 0`` the evidence is exactly ``-alpha V^2/2 = V^2 e(0, 0)`` and ``e1 = 0``.

Derivation: ``derivations/06_finite_size.py`` (writes ``derivations/out/06_finite_size.tex``;
summary and numerical comparison in ``derivations/out/06_finite_size.md``). Check against the
exact evidence at ``V = 32, 64``: ``tests/theory/test_finite_size.py``.
"""
from __future__ import annotations

import numpy as np

from .model import ParameterError
from .order_parameters import shift_matrix, softmax_rows

__all__ = ["e1", "e1_softmax_symmetric", "e1_linear", "e1_statistics", "e1_from_statistics"]


def e1_statistics(A):
    """The six ``O(1)`` statistics of ``A`` that enter ``e1`` (last two axes ``(T, T)``).

    Returns ``(m, r, abar, abar2, b2, w)`` with ``m = (1/T) sum_t A_{t,t-1}``,
    ``r = (1/T) sum A_ts^2``, row sums ``a_t = sum_s A_ts``, ``abar = mean a_t``,
    ``abar2 = mean a_t^2``, ``b2 = ||A^T A||_F^2 / T`` and ``w = tr(J^T A A^T A) / T``.
    """
    A = np.asarray(A, dtype=float)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ParameterError("A", A.shape, "must have shape (..., T, T)")
    T = A.shape[-1]
    idx = np.arange(T)
    m = A[..., idx, (idx - 1) % T].mean(axis=-1)
    r = (A * A).sum(axis=(-2, -1)) / T
    a = A.sum(axis=-1)
    abar = a.mean(axis=-1)
    abar2 = (a * a).mean(axis=-1)
    At = np.swapaxes(A, -1, -2)
    B = At @ A
    b2 = (B * B).sum(axis=(-2, -1)) / T
    # tr(J^T A A^T A) = sum_{t,t'} (A A^T)_{tt'} A_{t,t'-1}
    AAt = A @ At
    AJt = A @ shift_matrix(T).T  # (A J^T)_{t,t'} = A_{t,t'-1}
    w = (AAt * AJt).sum(axis=(-2, -1)) / T
    return m, r, abar, abar2, b2, w


def e1_from_statistics(m, r, abar, abar2, b2, w, alpha, sigma2, kappa, objective="posterior"):
    """``e1`` from the statistics of :func:`e1_statistics` (broadcasts over arrays).

    Mean-count ("annealed") part plus data-fluctuation part, ``q = 1 + g r``, ``g = sigma2 alpha``::

        e1 = 1/2 log q - 1/2 log(1 + g abar2) - (alpha/2) g m^2/q + (alpha/2) g abar^2/(1 + g abar2)
             + (1/kappa) [ g^2 b2/(4 alpha q^2) + g r/(2 q) - g^2 m w/q^2 + g^3 m^2 b2/(2 q^3) ]
    """
    alpha = np.asarray(alpha, dtype=float)
    g = np.asarray(sigma2, dtype=float) * alpha
    q = 1.0 + g * r
    q1 = 1.0 + g * abar2
    mean_part = 0.5 * np.log(q) - 0.5 * np.log(q1) - 0.5 * alpha * g * m * m / q + 0.5 * alpha * g * abar * abar / q1
    fluct_part = (
        g * g * b2 / (4.0 * alpha * q * q)  # logdet: E tr(dM dM) (fluctuation of C)
        + g * r / (2.0 * q)  # quadratic form: E tr(dD^T dD) (noise fitting)
        - g * g * m * w / (q * q)  # quadratic form: cross term E tr(dC dD)
        + g**3 * m * m * b2 / (2.0 * q**3)  # quadratic form: E D0^T M0^-1 dM M0^-1 dM M0^-1 D0
    ) / np.asarray(kappa, dtype=float)
    out = mean_part + fluct_part
    if objective == "map":
        # MAP over W keeps only the quadratic form: drop the three log-det terms
        # (V-1 vs V directions, the 11^T direction, and E logdet - logdet E)
        out = out - 0.5 * np.log(q) + 0.5 * np.log(q1) - g * g * b2 / (4.0 * alpha * q * q) / np.asarray(kappa, float)
    elif objective != "posterior":
        raise ParameterError("objective", objective, "must be one of posterior, map")
    return out if np.ndim(out) else float(out)


def e1(A, alpha, sigma2, kappa, objective="posterior"):
    """``O(V)`` correction ``e1(A)`` to the data-averaged W-marginal evidence.

    .. math::

        E_{data}[\\log p(Y|A)] + \\tfrac{PTV}{2}\\log 2\\pi\\kappa = V^2 e(m,r) + V e_1(A) + O(1),

    .. math::

        e_1 = \\tfrac12\\log q - \\tfrac12\\log(1+g\\bar a_2) - \\tfrac{\\alpha}{2}\\tfrac{g m^2}{q}
              + \\tfrac{\\alpha}{2}\\tfrac{g \\bar a^2}{1+g\\bar a_2}
              + \\tfrac1\\kappa\\Big[\\tfrac{g^2\\|B\\|_F^2}{4\\alpha T q^2} + \\tfrac{g r}{2q}
              - \\tfrac{g^2 m\\,\\mathrm{tr}(J^T A A^T A)}{T q^2}
              + \\tfrac{g^3 m^2 \\|B\\|_F^2}{2 T q^3}\\Big],

    with ``q = 1 + g r``, ``g = sigma2 alpha``, ``B = A^T A``, row sums ``a_t``, ``abar = mean a_t``,
    ``abar2 = mean a_t^2``, ``J`` the cyclic shift (``J_{t,t-1} = 1``). The first line is the
    ``O(V)`` part of the evidence at mean data counts (the ``11^T`` direction and the ``V-1``
    multiplicity of ``Pi``); the bracket is the second-order average over data fluctuations of
    ``C`` and ``D`` (``E log det != log det E`` and the fluctuation of the quadratic form).
    Derived in ``derivations/06_finite_size.py``; agrees with the THEORY.md §3 checkpoint.

    Parameters
    ----------
    A : (..., T, T) array
        Attention matrix (stacks allowed).
    objective : {"posterior", "map"}
        ``"map"``: the ``O(V)`` term of the MAP objective ``max_W log p(Y, W | A)``
        (:func:`theory.evidence.log_map_objective`), which keeps only the quadratic form:
        ``e1_MAP = e1 - 1/2 log q + 1/2 log(1 + g abar2) - g^2 ||B||_F^2/(4 alpha kappa T q^2)``.
    alpha : float
        Amount of data ``P T / (kappa V^2)`` (use the realised value at finite ``V``).
    sigma2, kappa : float
        Readout prior variance and noise variance.

    Returns
    -------
    float or ndarray of shape ``A.shape[:-2]``
    """
    return e1_from_statistics(*e1_statistics(A), alpha, sigma2, kappa, objective)


def e1_softmax_symmetric(s, T: int, alpha, sigma2, kappa, objective="posterior"):
    """``e1`` on the symmetric softmax ansatz ``A = softmax_rows(s (J - 11^T/T))`` (vectorised in ``s``)."""
    s = np.asarray(s, dtype=float)
    J = shift_matrix(T)
    S = s[..., None, None] * (J - np.ones((T, T)) / T)
    return e1(softmax_rows(S), alpha, sigma2, kappa, objective)


def e1_linear(m, T: int, alpha, sigma2, kappa, objective="posterior"):
    """``e1`` for linear attention on ``A = m J`` (vectorised in ``m``).

    Here ``abar = m``, ``abar2 = r = m^2``, so the mean-count part cancels and
    ``e1 = (1/kappa) [g^2 m^4/(4 alpha q^2) + g m^2/(2q) - g^2 m^4/q^2 + g^3 m^6/(2 q^3)]``, ``q = 1 + g m^2``.
    """
    m = np.asarray(m, dtype=float)
    return e1(m[..., None, None] * shift_matrix(T), alpha, sigma2, kappa, objective)
