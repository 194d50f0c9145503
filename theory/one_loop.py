"""One-loop (Gaussian fluctuation) correction to the finite-V posterior of linear attention.

Setting (THEORY.md §2-3, linear attention ``A = S``). The exact finite-size posterior over the
``T^2`` scores is, up to ``O(1/V)`` relative corrections of the energy,

.. math::

    p(S) \\propto f(S)\\, \\exp\\big(-V^2 F_V(S)\\big),\\qquad
    F_V(S) = \\nu J(S) - e(m(S), r(S)) - e_1(S)/V ,

with ``N = nu V^2``. ``f`` is the ``O(1)`` prefactor of the prior density of ``S``:
``f = const`` for the "gaussian" prior, and for "qk" (eq. P1 below)

.. math::

    \\log f(S) = -\\tfrac{2T+1}{2}\\sum_i \\log a_i
      - \\tfrac12\\sum_{i<j}\\log\\frac{a_i+a_j-1}{a_i a_j}
      - \\tfrac12\\sum_i \\log\\frac{2a_i-1}{a_i^2} + \\text{const},
    \\qquad a_i = \\tfrac12\\big(1+\\sqrt{1+4\\sigma_i(S)^2}\\big).

(P1 derivation: ``S | Q`` has independent columns ``N(0, X/N)``, ``X = Q^T Q/N`` Wishart, so
``p(S) = \\int dX \\det X^{(N-2T-1)/2} e^{-N(\\mathrm{tr}X + \\mathrm{tr} S^T X^{-1} S)/2}``; the
saddle ``X^2 - X = S S^T`` gives ``exp(-N J(S))`` and the Laplace determinant over the
``T(T+1)/2`` entries of ``X``, in the eigenbasis of ``X``, has eigenvalues
``(a_i + a_j - 1)/(a_i a_j)``; the leftover power ``det X^{-(2T+1)/2}`` gives the first term.)

Order parameter ``m = tr(J^T S)/T``; write ``S = m J + S_perp`` with ``S_perp ⟂ J`` (constant
Jacobian). Integrating ``S_perp`` at one loop (Laplace) gives the effective free energy

.. math::

    F_{\\rm eff}(m) = F_V(\\bar S(m)) - \\frac{\\log f(\\bar S(m))}{V^2}
        + \\frac{1}{2V^2}\\log\\det H_\\perp(m),                               \\qquad (L1)

``\\bar S(m)`` the constrained minimiser, here within the family
``\\bar S = (m - a/T) J + (a/T) 11^T`` (minimised over ``a``; at ``V = inf`` ``a = 0``), and
``H_perp`` the Hessian of ``F`` (``V = inf`` part, consistent to this order) on the
``T^2 - 1`` directions transverse to ``J``, evaluated at ``S = m J``. There it is diagonal in
closed form (eq. L2): with ``X = J^T dS`` split into symmetric / antisymmetric parts,

.. math::

    \\lambda_s = \\nu j''(|m|) - \\tfrac{2}{T} e_r \\quad [T(T+1)/2 - 1\\ \\text{directions}],\\qquad
    \\lambda_a = \\nu \\frac{j'(|m|)}{|m|} - \\tfrac{2}{T} e_r \\quad [T(T-1)/2],

``e_r = \\partial e/\\partial r = -g/(2q) - \\alpha g^2 m^2/(2q^2)`` (posterior), ``q = 1 + g m^2``.
For the gaussian prior ``j'' = j'/m = 1``: ``log det H_perp = (T^2-1) log(nu - 2 e_r/T)``.

Observables from the 1-D distribution ``p(m) \\propto exp(-V^2 F_eff(m))`` (``m`` is integrated
exactly, which handles the critical region):
``<|m|> = \\int |m| p``, ``<r> = \\int p(m) [r(\\bar S(m)) + tr H_perp^{-1}(m)/(T V^2)]`` (eq. L3).
Sanity check: at ``alpha -> 0``, gaussian prior, ``<r> = T^2/(T N) = T/N``.

Option ``transverse="radial"`` (gaussian prior only) replaces the Gaussian transverse
integral by the exact one for ``F(m, r)``: ``F`` depends on ``S_perp`` only through
``rho^2 = |S_perp|^2`` (``r = m^2 + rho^2/T``), so the ``T^2-1`` dimensional integral is the radial
integral ``\\int d\\rho\\, \\rho^{T^2-2} e^{-V^2 F(m, m^2+\\rho^2/T)}`` (``e_1`` still at the saddle).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from .energy import energy_gradient_numeric, energy_numeric
from .finite_size import e1
from .model import Model, ParameterError
from .order_parameters import shift_matrix
from .prior import matrix_rate, matrix_rate_grad, rate, rate_prime

__all__ = [
    "energy_second_derivatives",
    "linear_full_free_energy",
    "linear_full_hessian",
    "rate_second",
    "transverse_spectrum",
    "qk_log_prefactor",
    "family_minimum",
    "one_loop_linear",
]


def energy_second_derivatives(m, r, alpha, sigma2, objective="posterior"):
    """``(e_mm, e_mr, e_rr)`` of ``e(m, r) = -1/2 log q - alpha/2 + alpha g m^2/(2 q)``, ``q = 1 + g r``.

    ``e_mm = alpha g/q``, ``e_mr = -alpha g^2 m/q^2``,
    ``e_rr = alpha g^3 m^2/q^3 (+ g^2/(2 q^2)`` for the posterior Occam term).
    """
    g = sigma2 * alpha
    q = 1.0 + g * r
    emm = alpha * g / q
    emr = -alpha * g * g * m / q**2
    err = alpha * g**3 * m * m / q**3
    if objective == "posterior":
        err = err + 0.5 * g * g / q**2
    return emm, emr, err


def rate_second(x, prior: str):
    """``j''(s)``: 1 (gaussian) or ``2/(u (1+u))``, ``u = sqrt(1+4 s^2)`` (qk posterior)."""
    x = np.asarray(x, float)
    if prior == "gaussian":
        return np.ones_like(x)
    if prior != "qk":
        raise ParameterError("prior", prior, "must be one of qk, gaussian")
    u = np.sqrt(1.0 + 4.0 * x * x)
    return 2.0 / (u * (1.0 + u))


def linear_full_free_energy(S, model: Model, alpha: float):
    """``F(S) = nu J(S) - e(m(S), r(S))`` for linear attention (``V = inf`` part) and its gradient.

    ``dF/dS = nu dJ/dS - e_m J/T - 2 e_r S/T`` (``m = tr(J^T S)/T``, ``r = |S|_F^2/T``).
    Returns ``(F, grad)`` with ``grad`` flattened (row-major, length ``T^2``).
    """
    T = model.T
    S = np.asarray(S, float).reshape(T, T)
    Jm = shift_matrix(T)
    m = float(np.sum(Jm * S)) / T
    r = float(np.sum(S * S)) / T
    e = energy_numeric(m, r, alpha, model.sigma2, model.objective)
    em, er = energy_gradient_numeric(m, r, alpha, model.sigma2, model.objective)
    F = model.nu * matrix_rate(S, model.prior, model.objective) - e
    grad = model.nu * matrix_rate_grad(S, model.prior, model.objective) - em * Jm / T - 2.0 * er * S / T
    return float(F), grad.ravel()


def linear_full_hessian(S, model: Model, alpha: float, h: float = 1e-6):
    """``T^2 x T^2`` Hessian of :func:`linear_full_free_energy` (flattened row-major).

    Energy part analytic::

        Hess(-e) = -[e_mm j j^T + 2 e_mr (j s^T + s j^T) + 4 e_rr s s^T]/T^2 - (2 e_r/T) I,

    ``j = vec J``, ``s = vec S``. Prior part: ``nu I`` for the gaussian prior; for "qk" central
    finite differences (step ``h``) of the analytic ``dJ/dS`` (symmetrised).
    """
    T = model.T
    S = np.asarray(S, float).reshape(T, T)
    jv = shift_matrix(T).ravel()
    sv = S.ravel()
    m, r = float(jv @ sv) / T, float(sv @ sv) / T
    _, er = energy_gradient_numeric(m, r, alpha, model.sigma2, model.objective)
    emm, emr, err = energy_second_derivatives(m, r, alpha, model.sigma2, model.objective)
    H = -(emm * np.outer(jv, jv) + 2.0 * emr * (np.outer(jv, sv) + np.outer(sv, jv)) + 4.0 * err * np.outer(sv, sv)) / T**2
    H -= 2.0 * er / T * np.eye(T * T)
    if model.prior == "gaussian" and model.objective == "posterior":
        H += model.nu * np.eye(T * T)
    else:
        Hp = np.empty((T * T, T * T))
        for k in range(T * T):
            d = np.zeros(T * T)
            d[k] = h
            gp = matrix_rate_grad((sv + d).reshape(T, T), model.prior, model.objective).ravel()
            gm = matrix_rate_grad((sv - d).reshape(T, T), model.prior, model.objective).ravel()
            Hp[:, k] = (gp - gm) / (2 * h)
        H += model.nu * 0.5 * (Hp + Hp.T)
    return H


def transverse_spectrum(m, model: Model, alpha: float):
    """Closed-form spectrum of ``H_perp`` at ``S = m J`` (eq. L2; posterior objective).

    Returns ``((lam_s, n_s), (lam_a, n_a), lam_J)``: symmetric-type transverse eigenvalue
    ``nu j''(|m|) - 2 e_r/T`` with multiplicity ``T(T+1)/2 - 1``, antisymmetric-type
    ``nu j'(|m|)/|m| - 2 e_r/T`` with multiplicity ``T(T-1)/2`` (``j'/m -> j''(0)`` at ``m = 0``),
    and the longitudinal eigenvalue along ``J/sqrt(T)``: ``nu j''(|m|) - 2 e_r/T - e_mm/T
    - 4 m e_mr/T - 4 m^2 e_rr/T``. Works on arrays ``m``.
    """
    if model.objective != "posterior":
        raise ParameterError("objective", model.objective, "the one-loop theory is for the posterior")
    T = model.T
    m = np.asarray(m, float)
    am = np.abs(m)
    r = m * m
    _, er = energy_gradient_numeric(m, r, alpha, model.sigma2, model.objective)
    emm, emr, err = energy_second_derivatives(m, r, alpha, model.sigma2, model.objective)
    j2 = rate_second(am, model.prior)
    j1_over = np.where(am > 1e-8, rate_prime(np.maximum(am, 1e-300), model.prior) / np.maximum(am, 1e-300),
                       rate_second(0.0 * am, model.prior))
    base = -2.0 * er / T
    lam_s = model.nu * j2 + base
    lam_a = model.nu * j1_over + base
    lam_J = lam_s - (emm + 4.0 * m * emr + 4.0 * m * m * err) / T
    return (lam_s, T * (T + 1) // 2 - 1), (lam_a, T * (T - 1) // 2), lam_J


def qk_log_prefactor(S):
    """``log f(S)`` of the qk prior density ``p(S) = f(S) exp(-N J(S)) (1 + O(1/N))`` (eq. P1, up to a constant).

    ``log f = -(2T+1)/2 sum log a_i - 1/2 sum_{i<j} log((a_i+a_j-1)/(a_i a_j)) - 1/2 sum_i log((2a_i-1)/a_i^2)``,
    ``a_i = (1 + sqrt(1 + 4 sigma_i^2))/2``; normalised so that ``log f(0) = 0``.
    """
    sv = np.linalg.svd(np.asarray(S, float), compute_uv=False)
    a = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * sv * sv))
    T = a.size
    iu = np.triu_indices(T, 1)
    ai, aj = a[iu[0]], a[iu[1]]
    return float(-(2 * T + 1) / 2 * np.sum(np.log(a)) - 0.5 * np.sum(np.log((ai + aj - 1) / (ai * aj)))
                 - 0.5 * np.sum(np.log((2 * a - 1) / a**2)))


def _family_S(m, a, T):
    return (m - a / T) * shift_matrix(T) + (a / T) * np.ones((T, T))


def _family_F(m, a, model: Model, alpha: float, V):
    """``F_V`` on ``S = (m - a/T) J + (a/T) 11^T`` (so ``m(S) = m``); ``V=None``: no ``e1``."""
    T = model.T
    mJ = m - a / T
    r = mJ * mJ + 2 * mJ * a / T + a * a / T
    F = model.nu * ((T - 1) * rate(mJ, model.prior) + rate(mJ + a, model.prior))
    F = float(F) - float(energy_numeric(m, r, alpha, model.sigma2, model.objective))
    if V is not None:
        F -= float(e1(_family_S(m, a, T), alpha, model.sigma2, model.kappa, model.objective)) / V
    return F


def family_minimum(m, model: Model, alpha: float, V):
    """Constrained minimiser ``\\bar S(m)`` within ``S = (m - a/T)J + (a/T)11^T``: returns ``(a, F_V, S)``."""
    if V is None:
        return 0.0, _family_F(m, 0.0, model, alpha, None), _family_S(m, 0.0, model.T)
    out = minimize_scalar(lambda a: _family_F(m, a, model, alpha, V), bounds=(-1.0, 1.0), method="bounded",
                          options={"xatol": 1e-10})
    a = float(out.x)
    return a, float(out.fun), _family_S(m, a, model.T)


def _radial_log_integral(m, model: Model, alpha: float, V: int, n_rho: int = 400):
    """``-(1/V^2) log \\int_0^\\infty d\\rho \\rho^{T^2-2} e^{-V^2[F(m, m^2+\\rho^2/T) - F(m, m^2)]}`` and ``<rho^2>``.

    Gaussian prior only: ``F(m, r) = nu T r/2 - e(m, r)``.
    """
    T = model.T
    d = T * T - 1
    lam_s = transverse_spectrum(m, model, alpha)[0][0]
    width = np.sqrt(d / (V * V * lam_s))  # Gaussian estimate of the radius
    rho = np.linspace(0.0, 6.0 * width + 1e-12, n_rho + 1)[1:]
    r = m * m + rho * rho / T

    def F(rr):
        return model.nu * T * rr / 2 - energy_numeric(m, rr, alpha, model.sigma2, model.objective)

    expo = (d - 1) * np.log(rho) - V * V * (F(r) - F(m * m))
    mx = expo.max()
    w = np.exp(expo - mx)
    Z = np.trapezoid(w, rho)
    rho2 = np.trapezoid(w * rho * rho, rho) / Z
    return -(mx + np.log(Z)) / (V * V), float(rho2)


def one_loop_linear(model: Model, alpha: float, V: int, m0: float | None = None, *,
                    n_grid: int = 241, m_max: float | None = None, prefactor: bool = True,
                    transverse: str = "gauss", loop: bool = True, with_e1: bool = True) -> dict:
    """One-loop effective free energy ``F_eff(m)`` (eq. L1) for linear attention and its observables.

    Parameters
    ----------
    model : Model
        Linear-attention posterior model; its ``nu`` is used (pass the realised one,
        :func:`verification.theory_compare.realised_model`); ``model.V`` is ignored.
    alpha : float
        Data amount (the realised ``alpha_effective`` at this ``V``).
    V : int
        Vocabulary size; ``N = nu V^2``.
    m0 : float, optional
        Start for the local minimiser ``m_1loop`` (default: the global minimum on the grid).
    n_grid, m_max : grid in ``m in [0, m_max]`` for the 1-D integral (``F_eff`` is even in ``m``).
    prefactor : bool
        Include ``-log f(\\bar S)/V^2`` (qk prior only; ``f = const`` for gaussian).
    transverse : {"gauss", "radial"}
        One-loop Gaussian transverse determinant (L2), or the exact radial transverse integral of
        ``F(m, r)`` (gaussian prior only; beyond one loop).
    loop : bool
        ``False`` drops the transverse term (and ``f``): ``p(m) ∝ exp(-V^2 F_V(\\bar S(m)))``.
    with_e1 : bool
        ``False`` drops ``e1/V`` (leading-order ``F`` plus fluctuations).

    Returns
    -------
    dict with ``m`` (minimiser of ``F_eff`` near ``m0``), ``r`` (``r(\\bar S) + tr H_perp^{-1}/(T V^2)``
    at ``m``), ``m_abs_mean`` (``<|m|>``), ``r_mean`` (``<r>``, eq. L3), ``m_grid``, ``F_eff``
    (grid), ``p`` (normalised density of ``|m|`` on the grid).
    """
    if model.attention != "linear":
        raise ParameterError("attention", model.attention, "one_loop_linear is for linear attention")
    if transverse not in ("gauss", "radial"):
        raise ParameterError("transverse", transverse, "must be gauss or radial")
    if transverse == "radial" and model.prior != "gaussian":
        raise ParameterError("transverse", transverse, "radial transverse integral needs the gaussian prior")
    T = model.T
    Veff = V if with_e1 else None
    if m_max is None:
        m_max = 1.2
    ms = np.linspace(0.0, m_max, n_grid)
    Fe = np.empty(n_grid)
    rs = np.empty(n_grid)
    for i, mm in enumerate(ms):
        a, Fv, S = family_minimum(mm, model, alpha, Veff)
        rbar = float(np.sum(S * S)) / T
        loop_F = 0.0
        dr = 0.0
        if loop:
            if transverse == "gauss":
                (ls, ns), (la, na), _ = transverse_spectrum(mm, model, alpha)
                loop_F = (ns * np.log(ls) + na * np.log(la)) / (2.0 * V * V)
                dr = (ns / ls + na / la) / (T * V * V)
            else:
                lr, rho2 = _radial_log_integral(mm, model, alpha, V)
                loop_F = lr
                dr = rho2 / T
            if prefactor and model.prior == "qk":
                loop_F -= qk_log_prefactor(S) / (V * V)
        Fe[i] = Fv + loop_F
        rs[i] = rbar + dr
    w = np.exp(-V * V * (Fe - Fe.min()))
    Z = np.trapezoid(w, ms)
    p = w / Z
    m_abs = float(np.trapezoid(ms * p, ms))
    r_mean = float(np.trapezoid(rs * p, ms))
    # local minimiser of F_eff (interpolated on the grid, refined by parabola)
    if m0 is None:
        i0 = int(np.argmin(Fe))
    else:
        i0 = int(np.argmin(np.abs(ms - m0)))
        while 0 < i0 < n_grid - 1 and not (Fe[i0] <= Fe[i0 - 1] and Fe[i0] <= Fe[i0 + 1]):
            i0 = i0 - 1 if Fe[i0 - 1] < Fe[i0] else i0 + 1
    m_min = float(ms[i0])
    if 0 < i0 < n_grid - 1:
        f0, f1, f2 = Fe[i0 - 1], Fe[i0], Fe[i0 + 1]
        den = f0 - 2 * f1 + f2
        if den > 0:
            m_min = float(ms[i0] + 0.5 * (f0 - f2) / den * (ms[1] - ms[0]))
    r_min = float(np.interp(m_min, ms, rs))
    return dict(m=m_min, r=r_min, m_abs_mean=m_abs, r_mean=r_mean, m_grid=ms, F_eff=Fe, p=p, r_grid=rs,
                alpha=alpha, V=V, N=model.nu * V * V)
