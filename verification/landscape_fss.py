"""Critical behaviour of the LINEAR-attention transition: the exponent beta and finite-size scaling.

Exponent (V = inf). Near ``alpha_c`` (THEORY.md §4; ``theory/landau.py``)
``F_lin(m) = F_0 + a2 m^2 + b m^4 + O(m^6)`` with ``a2 = (nu T + g - alpha g)/2``, ``g = sigma2 alpha``,
so ``a2 ~ -sigma2 (2 alpha_c - 1)/2 (alpha - alpha_c)`` and, for ``b(alpha_c) > 0`` (second order),

.. math::  m = \\sqrt{-a_2/(2b)} \\simeq \\mathcal{A}\\,(\\alpha-\\alpha_c)^{1/2},\\qquad
           \\mathcal{A} = \\sqrt{\\sigma^2 (2\\alpha_c - 1) / (4 b(\\alpha_c))},

i.e. ``beta = 1/2`` (mean field). :func:`beta_from_solver` measures the local exponent
``d ln m / d ln(alpha - alpha_c)`` on the solver's ordered branch (roots of the generated
``F_u``, ``u = m^2``) and the amplitude ``m / (alpha - alpha_c)^{1/2}``.

Finite size (one loop). The marginal of ``m`` is ``p(m) ∝ exp(-V^2 F_eff(m))`` with the one-loop
``F_eff`` of :func:`copyhead.theory.one_loop.one_loop_linear` (``e1/V``, transverse Gaussian
fluctuations, qk prefactor). Expanding ``V^2 [F_eff(m) - F_eff(0)] = A m^2/2 + B m^4/4 + ...``
(:func:`one_loop_landau`; ``A, B`` fitted on ``|m| <= m_fit``) and rescaling ``m = y B^{-1/4}``:

.. math::  p(y) \\propto e^{-x y^2/2 - y^4/4},\\qquad x = A/\\sqrt{B},\\qquad
           \\langle|m|\\rangle B^{1/4} = \\Phi(x) = \\frac{\\int_0^\\infty y\\,e^{-xy^2/2-y^4/4}dy}
                                                   {\\int_0^\\infty e^{-xy^2/2-y^4/4}dy}.

Since ``A = V^2 A_1`` and ``B = V^2 B_1`` with ``A_1 ∝ (alpha - alpha_c(V))``, the scaling variables
are ``x ∝ V (alpha - alpha_c(V))`` and ``y ∝ V^{1/2} <|m|>`` (the mean-field "volume" is
``V^2 ∝ N``: ``m ~ N^{-1/4}``, ``alpha - alpha_c ~ N^{-1/2}``), with the one-loop pseudo-critical
point ``alpha_c(V)`` (``A = 0``), which carries the ``1/V`` (``e1``) and ``1/V^2`` (fluctuation)
shifts. ``Phi`` is universal (no free parameter); corrections come from the ``m^6`` terms and the
variation of ``B`` across the critical window.

Collapse quality (:func:`collapse_quality`): for every point of one size, the squared distance
to the piecewise-linear interpolation of every other size at the same abscissa (inside its
range), in units of the combined standard errors, averaged (``S ~ 1``: collapse within errors).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq

from copyhead.theory.model import Model, ParameterError

__all__ = ["beta_from_solver", "one_loop_landau", "phi", "collapse_quality", "scaling_variables"]


def beta_from_solver(model: Model, deltas=(1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 1e-4, 1e-5, 1e-6)) -> dict:
    """Local exponent and amplitude of ``m(alpha)`` on the ordered branch just above ``alpha_c``.

    ``u = m^2`` is the root of the generated ``F_u(u, alpha)`` in ``(0, 4]`` (brentq, ``xtol`` 1e-300
    relative 1e-15); the local exponent between consecutive ``delta`` is
    ``ln(m_i/m_j)/ln(delta_i/delta_j)``.
    """
    from copyhead.numerics.kernels import Kernel
    from copyhead.theory.landau import critical_alpha, landau_b

    if model.attention != "linear" or model.objective != "posterior":
        raise ParameterError("model", model.key, "beta_from_solver is for linear attention, posterior")
    m0 = model.replace(V=None, alpha=None)
    k = Kernel(m0)
    ac = critical_alpha(m0.T, m0.nu, m0.sigma2)
    b = landau_b(m0.T, m0.nu, m0.sigma2, ac, m0.prior)
    if b <= 0:
        raise ParameterError("sigma2", m0.sigma2, f"the transition is not second order (b(alpha_c) = {b:.3g} <= 0)")
    amp = math.sqrt(m0.sigma2 * (2 * ac - 1) / (4 * b))
    rows = []
    for d in deltas:
        a = ac * (1.0 + 0.0) + d
        Fu = lambda u: k(u, a)[1]  # noqa: E731
        u = brentq(Fu, 1e-300, 4.0, xtol=1e-300, rtol=1e-15, maxiter=500)
        rows.append({"delta": d, "m": math.sqrt(u), "amplitude": math.sqrt(u / d), "residual": abs(Fu(u))})
    for i in range(len(rows) - 1):
        r0, r1 = rows[i], rows[i + 1]
        rows[i + 1]["beta_local"] = math.log(r0["m"] / r1["m"]) / math.log(r0["delta"] / r1["delta"])
    return {"alpha_c": ac, "landau_b": b, "amplitude_landau": amp, "rows": rows}


def one_loop_landau(model: Model, alpha: float, V: int, m_fit: float = 0.12, n: int = 25,
                    realise_alpha: bool = True) -> dict:
    """``A, B`` of ``V^2 [F_eff(m) - F_eff(0)] = A m^2/2 + B m^4/4 + C m^6/6`` (least squares on
    ``0 <= m <= m_fit``, ``n`` points; ``F_eff`` from :func:`copyhead.theory.one_loop.one_loop_linear`
    at the realised ``N`` of ``V``, and at the realised ``alpha = P T/(kappa V^2)`` unless
    ``realise_alpha=False``, which keeps ``alpha`` continuous)."""
    from copyhead.numerics.finite_size import realised_model
    from copyhead.theory.one_loop import one_loop_linear

    rm = realised_model(model.replace(V=V), alpha)
    if not realise_alpha:
        rm = rm.replace(alpha=float(alpha))
    ol = one_loop_linear(rm, rm.alpha, V, n_grid=n, m_max=m_fit)
    m = np.asarray(ol["m_grid"])
    y = V * V * (np.asarray(ol["F_eff"]) - ol["F_eff"][0])
    X = np.c_[m ** 2 / 2, m ** 4 / 4, m ** 6 / 6]
    c, *_ = np.linalg.lstsq(X[1:], y[1:], rcond=None)
    return {"alpha": float(alpha), "alpha_effective": float(rm.alpha), "V": int(V), "A": float(c[0]), "B": float(c[1]),
            "C": float(c[2]), "fit_rms": float(np.sqrt(np.mean((X[1:] @ c - y[1:]) ** 2)))}


def phi(x) -> np.ndarray:
    """Universal ``Phi(x) = <|y|>`` for ``p(y) ∝ exp(-x y^2/2 - y^4/4)`` (quadrature)."""
    xs = np.atleast_1d(np.asarray(x, float))
    out = []
    for v in xs:
        # the integrand peaks at y ~ sqrt(max(-x, 0)); integrate on [0, peak + 12 widths]
        top = math.sqrt(max(-v, 0.0)) + 12.0 / math.sqrt(max(abs(v), 1.0)) + 6.0
        sh = v * v / 4 if v < 0 else 0.0  # max of -x y^2/2 - y^4/4
        f0 = lambda y: math.exp(-v * y * y / 2 - y ** 4 / 4 - sh)  # noqa: E731
        num = quad(lambda y: y * f0(y), 0, top, limit=200, points=[math.sqrt(max(-v, 0.0))])[0]
        den = quad(f0, 0, top, limit=200, points=[math.sqrt(max(-v, 0.0))])[0]
        out.append(num / den)
    out = np.array(out)
    return out if np.ndim(x) else float(out[0])


def scaling_variables(alpha_eff, m, m_err, landau: list) -> dict:
    """``x = A/sqrt(B)``, ``y = <|m|> B^{1/4}`` (and ``y_err``) at every point, with ``A, B``
    interpolated in ``alpha`` from the :func:`one_loop_landau` entries of the same ``V``."""
    la = sorted(landau, key=lambda r: r["alpha_effective"])
    aa = np.array([r["alpha_effective"] for r in la])
    A = np.interp(alpha_eff, aa, [r["A"] for r in la])
    B = np.interp(alpha_eff, aa, [r["B"] for r in la])
    if np.any(B <= 0):
        raise ParameterError("B", B.tolist(), "the quartic coefficient must be > 0 (second-order region)")
    q = B ** 0.25
    return {"x": A / np.sqrt(B), "y": np.asarray(m) * q, "y_err": np.asarray(m_err) * q, "A": A, "B": B}


def collapse_quality(curves) -> dict:
    """Mean squared scaled distance between curves (module docstring).

    ``curves``: list of ``(x, y, y_err)`` arrays, one per size. Returns ``S`` (mean of
    ``(y_i - Y_j(x_i))^2 / (err_i^2 + err_j(x_i)^2)`` over all points ``i`` of every curve and
    every other curve ``j`` whose x-range contains ``x_i``), the number of pairs ``n``, and the
    root-mean-square raw difference ``rms``.
    """
    s, d2, n = 0.0, 0.0, 0
    for i, (xi, yi, ei) in enumerate(curves):
        for j, (xj, yj, ej) in enumerate(curves):
            if i == j:
                continue
            o = np.argsort(xj)
            xj_, yj_, ej_ = np.asarray(xj)[o], np.asarray(yj)[o], np.asarray(ej)[o]
            inside = (np.asarray(xi) >= xj_[0]) & (np.asarray(xi) <= xj_[-1])
            if not inside.any():
                continue
            Y = np.interp(np.asarray(xi)[inside], xj_, yj_)
            E = np.interp(np.asarray(xi)[inside], xj_, ej_)
            diff = np.asarray(yi)[inside] - Y
            s += float(np.sum(diff ** 2 / (np.asarray(ei)[inside] ** 2 + E ** 2)))
            d2 += float(np.sum(diff ** 2))
            n += int(inside.sum())
    if n == 0:
        raise ParameterError("curves", len(curves), "no overlapping ranges")
    return {"S": s / n, "n": n, "rms": math.sqrt(d2 / n)}


def one_loop_critical_alpha(model: Model, V: int, lo: float, hi: float, m_fit: float = 0.02) -> float:
    """One-loop pseudo-critical point ``alpha_c(V)``: root in (continuous) ``alpha`` of the curvature
    ``A`` of ``V^2 F_eff`` at ``m = 0`` (:func:`one_loop_landau` on ``|m| <= m_fit``; brentq on ``[lo, hi]``)."""
    f = lambda a: one_loop_landau(model, a, V, m_fit=m_fit, n=11, realise_alpha=False)["A"]  # noqa: E731
    return float(brentq(f, lo, hi, xtol=1e-6))


def landau_constants(model: Model) -> dict:
    """V = inf constants that put the mean-field scaling variables on ``Phi``:
    ``x = c_x V (alpha - alpha_c)``, ``y = c_y V^{1/2} <|m|>`` with ``c_x = -2 a2'(alpha_c)/sqrt(4 b)``,
    ``c_y = (4 b)^{1/4}`` (``A ~ V^2 2 a2' (alpha - alpha_c)``, ``B ~ V^2 4 b``)."""
    from copyhead.theory.landau import critical_alpha, landau_b

    ac = critical_alpha(model.T, model.nu, model.sigma2)
    b = landau_b(model.T, model.nu, model.sigma2, ac, model.prior)
    a2p = model.sigma2 * (1.0 - 2.0 * ac) / 2.0
    return {"alpha_c": ac, "b": b, "a2_prime": a2p, "c_x": -2.0 * a2p / math.sqrt(4.0 * b), "c_y": (4.0 * b) ** 0.25}
