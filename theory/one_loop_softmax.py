"""One-loop (Gaussian fluctuation) basin free energies and coexistence for SOFTMAX attention.

Setting (THEORY.md §2-3, ``A = softmax_row(S)``, posterior objective). The exact finite-size
posterior of the ``T^2`` scores is, up to ``O(1)`` terms of the evidence that are not derived
(see "Not included" below),

.. math::

    p(S) \\propto f(S)\\, e^{-V^2 F_V(S)},\\qquad
    F_V(S) = \\nu J(S) - e(m(A), r(A)) - e_1(A)/V,\\qquad N = \\nu V^2,

with ``f`` the ``O(1)`` Wishart prefactor of the qk prior (:func:`theory.one_loop.qk_log_prefactor`,
eq. P1; ``f = const`` for the gaussian prior). Laplace's method around a local minimum ``S*`` of
``F_V`` (eq. S1):

.. math::

    \\log Z_{\\rm basin} = -V^2 F_V(S^*) + \\log f(S^*) - \\tfrac12 \\log\\det\\big(V^2 H(S^*)\\big)
        + \\tfrac{T^2}{2}\\log 2\\pi ,

``H`` the full ``T^2 x T^2`` Hessian of ``F_V`` (``e1`` included in ``F_V`` *and* in ``H``).
The constant ``(T^2/2) log 2 pi`` (and the normalisation of ``f``) is identical for both basins
(same dimension ``T^2``), so it cancels in the coexistence condition
``log Z_copy(alpha) = log Z_dis(alpha)`` (eq. S2), which defines ``alpha_c^{1-loop}(V)``.

Row shifts ``S -> S + c 1^T`` leave ``A`` unchanged; these ``T`` directions are stiffened only
by the prior ``nu J`` (``J`` depends on the row means), so ``H`` is positive definite at both
minima (checked in the tests).

Hessian (eq. S3): energy part ``-e - e1/V`` as a function of ``S``: analytic gradient (chain rule
through the six statistics of ``A`` that ``e`` and ``e1`` depend on, and the softmax), Hessian by
central differences of it (NumPy; the tests check both against torch autodiff). No singular
values are involved. Prior part analytic: writing
``J(S) = min_X 1/2 [tr X - log det X + tr S^T X^{-1} S] - T/2`` (qk; the minimiser solves
``X^2 - X = S S^T``, eigenvalues ``a_i = (1 + sqrt(1 + 4 sigma_i^2))/2``), the gradient is
``X^{-1} S`` and its differential

.. math::

    d(X^{-1}S) = X^{-1} dS - X^{-1}\\, dX\\, X^{-1} S,\\qquad
    (Q^T dX Q)_{ij} = \\frac{(Q^T (dS S^T + S dS^T) Q)_{ij}}{a_i + a_j - 1}

in the eigenbasis ``Q`` of ``S S^T``; this is regular at degenerate singular values (the
symmetric ansatz has ``T - 1`` equal ones). Gaussian prior: ``nu I``.

Not included: the ``O(1)`` (``V^0``) term ``e2(A)`` of the data-averaged evidence and the
sample-to-sample (quenched) fluctuation of ``log p(Y|A)`` between the basins; these are of the
same order as ``log f`` and the determinant and are assumed equal for the two basins.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import brentq, minimize

from .energy import energy_numeric
from .finite_size import e1_softmax_symmetric
from .model import Model, ParameterError
from .one_loop import qk_log_prefactor
from .order_parameters import shift_matrix, softmax_symmetric_m, softmax_symmetric_r
from .prior import matrix_rate, matrix_rate_grad, rate

__all__ = [
    "energy_part",
    "prior_hessian",
    "softmax_free_energy_V",
    "softmax_hessian_V",
    "symmetric_minima",
    "basin_minimum",
    "basin_log_z",
    "log_z_difference",
    "one_loop_coexistence",
]


def _check(model: Model):
    if model.attention != "softmax":
        raise ParameterError("attention", model.attention, "one_loop_softmax is for softmax attention")
    if model.objective != "posterior":
        raise ParameterError("objective", model.objective, "the one-loop theory is for the posterior")


def _energy_of_stats(st, alpha, sigma2, kappa, V):
    """``-e(m, r) - e1/V`` from the statistics ``st = (m, r, abar, abar2, b2, w)`` of ``A``
    (THEORY.md §3 checkpoint; ``V=None``: no ``e1``). Works on complex input (complex-step
    derivatives in :func:`_energy_grad`)."""
    m, r, abar, abar2, b2, w = st
    g = sigma2 * alpha
    q = 1.0 + g * r
    out = 0.5 * np.log(q) + 0.5 * alpha * (1.0 + g * (r - m * m)) / q
    if V is None:
        return out
    q1 = 1.0 + g * abar2
    mean_part = 0.5 * np.log(q) - 0.5 * np.log(q1) - 0.5 * alpha * g * m * m / q + 0.5 * alpha * g * abar * abar / q1
    fluct = (g * g * b2 / (4.0 * alpha * q * q) + g * r / (2.0 * q) - g * g * m * w / (q * q)
             + g ** 3 * m * m * b2 / (2.0 * q ** 3)) / kappa
    return out - (mean_part + fluct) / V


def _stats(A, J):
    """``(m, r, abar, abar2, b2, w)`` of ``A``: ``m = tr(J^T A)/T``, ``r = |A|^2/T``, row sums
    ``a``: ``abar, mean a^2``; ``b2 = |A^T A|^2/T``, ``w = tr(J^T A A^T A)/T``."""
    T = A.shape[0]
    a = A.sum(axis=1)
    B = A.T @ A
    return ((J * A).sum() / T, (A * A).sum() / T, a.mean(), (a * a).mean(), (B * B).sum() / T,
            np.trace(J.T @ A @ A.T @ A) / T)


def _energy_grad(S, alpha, sigma2, kappa, V):
    """Value and analytic gradient (``T x T``) of ``E(S) = -e - e1/V`` with ``A = softmax_row(S)``.

    ``dE/dA = sum_k (dE/dstat_k) dstat_k/dA`` with ``dm/dA = J/T``, ``dr/dA = 2A/T``,
    ``dabar/dA = 11^T/T``, ``dabar2/dA = 2 a 1^T/T``, ``db2/dA = 4 A B/T``
    (``B = A^T A``), ``dw/dA = (A J^T A + J A^T A + A A^T J)/T``; the partial derivatives
    ``dE/dstat_k`` by complex steps (exact to rounding); then through the softmax,
    ``dE/dS = A o (G - rowsum(G o A))``.
    """
    T = S.shape[0]
    J = shift_matrix(T)
    A = np.exp(S - S.max(axis=1, keepdims=True))
    A /= A.sum(axis=1, keepdims=True)
    st = np.array(_stats(A, J), dtype=complex)
    val = float(np.real(_energy_of_stats(st, alpha, sigma2, kappa, V)))
    h = 1e-30
    dst = []
    for k in range(6):
        e = st.copy()
        e[k] += 1j * h
        dst.append(float(np.imag(_energy_of_stats(e, alpha, sigma2, kappa, V)) / h))
    a = A.sum(axis=1)
    B = A.T @ A
    one = np.ones((T, T))
    dA = (dst[0] * J + dst[1] * 2.0 * A + dst[2] * one + dst[3] * 2.0 * a[:, None] * one
          + dst[4] * 4.0 * A @ B + dst[5] * (A @ J.T @ A + J @ A.T @ A + A @ A.T @ J)) / T
    gS = A * (dA - (dA * A).sum(axis=1, keepdims=True))
    return val, gS


def energy_part(S, model: Model, alpha: float, V, order: int = 1, h: float = 1e-5):
    """Energy part ``E(S) = -e(m(A), r(A)) - e1(A)/V`` and its derivatives (NumPy).

    Parameters
    ----------
    S : (T, T) array
    model : Model
        Softmax posterior model (its ``nu`` is not used here).
    alpha : float
    V : int or None
        ``None`` drops ``e1`` (the ``V = inf`` energy).
    order : {0, 1, 2}
        0: value; 1: ``(value, gradient)``; 2: ``(value, gradient, Hessian)`` (flattened row-major).
    h : float
        Step of the central differences of the analytic gradient that give the Hessian
        (truncation ``O(h^2)`` ~ 1e-10 relative; the tests compare with torch autodiff).
    """
    T = model.T
    S = np.asarray(S, float).reshape(T, T)
    args = (alpha, model.sigma2, model.kappa, V)
    val, gr = _energy_grad(S, *args)
    if order == 0:
        return val
    if order == 1:
        return val, gr.ravel()
    H = np.empty((T * T, T * T))
    for k in range(T * T):
        E = np.zeros(T * T)
        E[k] = h
        H[:, k] = (_energy_grad(S + E.reshape(T, T), *args)[1] - _energy_grad(S - E.reshape(T, T), *args)[1]).ravel() / (2 * h)
    return val, gr.ravel(), 0.5 * (H + H.T)


def prior_hessian(S, prior: str):
    """Hessian of ``J(S) = sum_i j(sigma_i(S))`` (``T^2 x T^2``, row-major), eq. S3.

    qk: analytic via ``X^2 - X = S S^T`` (regular at degenerate singular values);
    gaussian: the identity.
    """
    S = np.asarray(S, float)
    T = S.shape[0]
    if prior == "gaussian":
        return np.eye(T * T)
    if prior != "qk":
        raise ParameterError("prior", prior, "must be one of qk, gaussian")
    lam, Qm = np.linalg.eigh(S @ S.T)
    lam = np.maximum(lam, 0.0)
    a = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * lam))
    Xinv = (Qm / a) @ Qm.T
    den = a[:, None] + a[None, :] - 1.0
    XinvS = Xinv @ S
    H = np.empty((T * T, T * T))
    for k in range(T * T):
        E = np.zeros(T * T)
        E[k] = 1.0
        E = E.reshape(T, T)
        M = E @ S.T + S @ E.T
        dX = Qm @ ((Qm.T @ M @ Qm) / den) @ Qm.T
        H[:, k] = (Xinv @ E - Xinv @ dX @ XinvS).ravel()
    return 0.5 * (H + H.T)


def softmax_free_energy_V(S, model: Model, alpha: float, V):
    """``F_V(S) = nu J(S) - e - e1/V`` over all ``T^2`` scores and its gradient (flattened)."""
    _check(model)
    T = model.T
    S = np.asarray(S, float).reshape(T, T)
    E, gE = energy_part(S, model, alpha, V, order=1)
    F = model.nu * matrix_rate(S, model.prior) + E
    grad = model.nu * matrix_rate_grad(S, model.prior).ravel() + gE
    return float(F), grad


def softmax_hessian_V(S, model: Model, alpha: float, V):
    """Full ``T^2 x T^2`` Hessian of :func:`softmax_free_energy_V` (eq. S3)."""
    _check(model)
    T = model.T
    S = np.asarray(S, float).reshape(T, T)
    _, _, HE = energy_part(S, model, alpha, V, order=2)
    H = model.nu * prior_hessian(S, model.prior) + HE
    return 0.5 * (H + H.T)


def _symmetric_F(s, model: Model, alpha: float, V):
    """``F_V`` on the symmetric ansatz ``S = s (J - 11^T/T)`` (vectorised in ``s``)."""
    T = model.T
    s = np.asarray(s, float)
    m = softmax_symmetric_m(s, T)
    r = softmax_symmetric_r(m, T)
    F = model.nu * (T - 1) * rate(s, model.prior) - energy_numeric(m, r, alpha, model.sigma2)
    if V is not None:
        F = F - e1_softmax_symmetric(s, T, alpha, model.sigma2, model.kappa) / V
    return F


def symmetric_minima(model: Model, alpha: float, V, s_grid=None):
    """Local minima ``s`` of ``F_V`` on the symmetric ansatz (ascending ``s``), refined by a parabola."""
    _check(model)
    xs = np.linspace(-3.0, 10.0, 13001) if s_grid is None else np.asarray(s_grid, float)
    F = _symmetric_F(xs, model, alpha, V)
    d = np.diff(F)
    idx = np.nonzero((d[:-1] < 0) & (d[1:] >= 0))[0] + 1
    out = []
    h = xs[1] - xs[0]
    for i in idx:
        f0, f1, f2 = F[i - 1], F[i], F[i + 1]
        den = f0 - 2 * f1 + f2
        out.append(float(xs[i] + (0.5 * (f0 - f2) / den * h if den > 0 else 0.0)))
    return out


def basin_minimum(model: Model, alpha: float, V, which: str):
    """Minimiser ``S*`` of ``F_V`` over all ``T^2`` scores in the basin ``which``.

    Starts from the symmetric-ansatz minimum (``"dis"``: smallest ``s``, ``"copy"``: largest
    ``s``, ``"global"``: lowest ``F_V``, also when there is one minimum only) and re-minimises
    with a trust-region Newton method (exact Hessian). The ansatz minima are in fact exact
    stationary points over all ``T^2`` scores: at ``S = s(J - 11^T/T)`` the gradient of ``F_V``
    lies in ``span{J, 11^T}`` (``A``, ``A^T A``, ``A A^T A``, ``A J^T A``, ``X^{-1}`` stay in the
    algebra of ``J, J^T, 11^T``, and ``J o J = J``), and its ``11^T`` component vanishes
    (``1^T X^{-1} S 1 = 0``, softmax is shift invariant); so the re-minimisation moves ``S`` by
    ``<~ 1e-5`` only, at optimiser tolerance (reported as ``distance``).

    Returns
    -------
    dict with ``S`` (``T x T``), ``F`` (``F_V(S*)``), ``s_ansatz``, ``F_ansatz`` (``F_V`` at the
    ansatz minimum), ``distance`` (Frobenius distance of ``S*`` from the ansatz minimum),
    ``grad_norm``.
    """
    _check(model)
    mins = symmetric_minima(model, alpha, V)
    if which not in ("dis", "copy", "global"):
        raise ParameterError("which", which, "must be dis, copy or global")
    if which == "global":
        if not mins:
            raise ParameterError("alpha", alpha, "F_V has no minimum on the ansatz grid")
        s0 = min(mins, key=lambda x: float(_symmetric_F(x, model, alpha, V)))
    else:
        if len(mins) < 2:
            raise ParameterError("alpha", alpha,
                                 f"F_V has {len(mins)} minimum on the ansatz at V={V}: not bistable")
        s0 = mins[0] if which == "dis" else mins[-1]
    T = model.T
    S0 = s0 * (shift_matrix(T) - np.ones((T, T)) / T)
    out = minimize(softmax_free_energy_V, S0.ravel(), args=(model, alpha, V), jac=True,
                   hess=lambda x, *a: softmax_hessian_V(x, *a), method="trust-exact",
                   options={"gtol": 1e-11, "maxiter": 200})
    S = out.x.reshape(T, T)
    return dict(S=S, F=float(out.fun), s_ansatz=s0, F_ansatz=float(_symmetric_F(s0, model, alpha, V)),
                distance=float(np.linalg.norm(S - S0)), grad_norm=float(np.linalg.norm(out.jac)))


def basin_log_z(model: Model, alpha: float, V: int, which: str, prefactor: bool = True, loop: bool = True,
                with_e1: bool = True) -> dict:
    """One-loop log partition function of one basin (eq. S1).

    Parameters
    ----------
    model : Model
        Softmax posterior model at realised sizes (``model.V`` ignored; pass the realised ``nu``,
        :func:`verification.theory_compare.realised_model`).
    alpha : float
    V : int
        Vocabulary size; ``N = nu V^2`` sets the scale ``V^2`` of the exponent.
    which : {"dis", "copy", "global"}
        Disordered (small ``m``) or copy (large ``m``) basin; ``"global"``: lowest minimum.
    prefactor : bool
        Include ``log f(S*)`` (qk prior; const for gaussian).
    loop : bool
        Include ``-1/2 log det(V^2 H)``; ``False`` with ``prefactor=False`` gives the saddle value
        ``-V^2 F_V(S*)`` (equal minima of ``F_V``).
    with_e1 : bool
        ``False`` drops ``e1/V`` from ``F_V`` (and from ``H``).

    Returns
    -------
    dict with ``log_z``, ``F`` (``F_V(S*)``), ``log_f``, ``log_det`` (``log det(V^2 H)``),
    ``eig_min``, ``eig_max`` (of ``H``), ``S``, ``m``, ``distance`` (from the ansatz minimum),
    ``F_ansatz``.
    """
    _check(model)
    Veff = V if with_e1 else None
    bm = basin_minimum(model, alpha, Veff, which)
    S = bm["S"]
    T = model.T
    H = softmax_hessian_V(S, model, alpha, Veff)
    ev = np.linalg.eigvalsh(H)
    if ev[0] <= 0:
        raise ParameterError("alpha", alpha, f"Hessian not positive at the {which} minimum (min eig {ev[0]:.3g})")
    log_det = float(np.sum(np.log(ev)) + T * T * np.log(float(V) ** 2))
    log_f = qk_log_prefactor(S) if model.prior == "qk" else 0.0
    log_z = -float(V) ** 2 * bm["F"]
    if prefactor:
        log_z += log_f
    if loop:
        log_z += -0.5 * log_det + 0.5 * T * T * np.log(2 * np.pi)
    A = np.exp(S - S.max(axis=1, keepdims=True))
    A /= A.sum(axis=1, keepdims=True)
    idx = np.arange(T)
    return dict(log_z=float(log_z), F=bm["F"], log_f=float(log_f), log_det=log_det, eig_min=float(ev[0]),
                eig_max=float(ev[-1]), S=S, m=float(A[idx, (idx - 1) % T].mean()), distance=bm["distance"],
                F_ansatz=bm["F_ansatz"], grad_norm=bm["grad_norm"])


def log_z_difference(model: Model, alpha: float, V: int, **kw) -> float:
    """``log Z_copy - log Z_dis`` at one loop (keyword arguments as in :func:`basin_log_z`)."""
    return basin_log_z(model, alpha, V, "copy", **kw)["log_z"] - basin_log_z(model, alpha, V, "dis", **kw)["log_z"]


def one_loop_coexistence(model: Model, V: int, alpha_lo: float, alpha_hi: float, xtol: float = 1e-4,
                         **kw) -> float:
    """``alpha_c^{1-loop}(V)``: the root of ``log Z_copy = log Z_dis`` (eq. S2) in ``[alpha_lo, alpha_hi]``.

    Both basins must exist (``F_V`` bistable on the ansatz) over the bracket, and the sign of
    :func:`log_z_difference` must change across it. Keyword arguments go to :func:`basin_log_z`
    (``prefactor``, ``loop``, ``with_e1``).
    """
    fl = log_z_difference(model, alpha_lo, V, **kw)
    fh = log_z_difference(model, alpha_hi, V, **kw)
    if fl * fh > 0:
        raise ParameterError("alpha_lo/alpha_hi", (alpha_lo, alpha_hi),
                             f"no sign change of log Z_copy - log Z_dis ({fl:.3g}, {fh:.3g})")
    return float(brentq(lambda a: log_z_difference(model, a, V, **kw), alpha_lo, alpha_hi, xtol=xtol))
