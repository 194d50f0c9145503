"""Large-``T`` asymptotics of the ``V = inf`` transition in alpha (closed forms, NumPy/SciPy).

Derived in ``derivations/09_scaling_T.py`` (SymPy; prints every step, writes
``derivations/out/09_scaling_T.tex``); checked against the solver and the brute-force scan in
``tests/theory/test_scaling.py``. Notation: ``L = ln T``, ``c = 1/(nu sigma2)``, ``a = alpha/(nu T)``.

Softmax attention (symmetric ansatz, THEORY.md §4). Write ``delta = r - m^2 = (1-m)^2/(T-1)`` and
``z = g m^2/(1 + g delta)``: exactly, the energy is ``(alpha/2)/(1 + z)`` and the Occam term
``1/2 log(1 + g delta) + 1/2 log(1 + z)``. Two regimes of the copy weight matter as ``T -> inf``:

* **copy regime** (``alpha = a nu T``, ``m^2 ~ z/T``): ``e^{2s} = z T (1 + c/a)`` up to relative
  ``O(m)``, and ``F/(nu T) = j(s) + (a/2)/(1 + z) + O(log(1+z)/(nu T))``. Stationarity
  ``a z = j'(s)(1+z)^2``; coexistence with the uniform state ``j(s) = j'(s)(1 + z)/2``; the lower
  spinodal is the fold of the stationary curve. The copy minimum at the transition has
  ``z ~ L``: ``s ~ (L + log L)/2`` and ``m ~ sqrt(L/T) -> 0`` -- the copy weight at the jump
  vanishes, it does not stay O(1).
* **uniform regime** (``alpha = A nu T^2``, ``s = O(1)``, ``m ~ e^s/T``):
  ``F_s/(nu T) = j'(s) - A e^{2s} + (2 A e^{4s} - A e^{2s} - j'(s) + c e^{2s})/T + O(T^-2)``; the
  uniform minimum disappears (upper spinodal) at ``A = A0 + A1/T``.

Linear attention: ``F_lin(m) = nu T j(m) + [1/2 log(1 + g m^2)] + (alpha/2)/(1 + g m^2)`` depends on
``T`` only through ``nu T``: the critical points are exact closed forms at every ``T``.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from .model import ParameterError
from .prior import rate_qk, rate_qk_prime


def uniform_spinodal_map(T: float, nu: float, sigma2: float) -> float:
    """Alpha where the uniform softmax point ``Q = K = 0`` stops being a MAP minimum (qk prior).

    ``F_s(0+) = (T-1)(nu T^2 (T + g) - sigma2 alpha^2) / (T^2 (T + g))`` with ``g = sigma2 alpha``
    (the kink ``nu (T-1)|s|`` against the energy slope) vanishes at
    ``alpha = (nu T^2/2)(1 + sqrt(1 + 4/(nu sigma2 T)))`` -- exact at every ``T``
    (``nu T^2 (1 + c/T + ...)`` for large ``T``; 69.066 at the default model).
    """
    return 0.5 * nu * T * T * (1.0 + math.sqrt(1.0 + 4.0 / (nu * sigma2 * T)))


# ----------------------------------------------------------------------------- rates


def _rate_functions(prior: str, objective: str):
    """``(j, j', j'')`` of the score rate for ``s > 0`` (NumPy closed forms)."""
    if prior == "gaussian":
        return (lambda s: 0.5 * s * s), (lambda s: s), (lambda s: 1.0)
    if prior != "qk":
        raise ParameterError("prior", prior, "must be one of qk, gaussian")
    if objective == "map":
        return (lambda s: s), (lambda s: 1.0), (lambda s: 0.0)
    j2 = lambda s: 2.0 / ((1.0 + math.sqrt(1.0 + 4 * s * s)) * math.sqrt(1.0 + 4 * s * s))
    return (lambda s: float(rate_qk(s))), (lambda s: float(rate_qk_prime(s))), j2


def _check(T, nu, sigma2, prior, objective):
    if not T > 1:
        raise ParameterError("T", T, "must be > 1")
    for name, v in (("nu", nu), ("sigma2", sigma2)):
        if not (v > 0 and math.isfinite(v)):
            raise ParameterError(name, v, "must be a finite number > 0")
    if objective not in ("posterior", "map"):
        raise ParameterError("objective", objective, "must be one of posterior, map")
    return _rate_functions(prior, objective)


# ----------------------------------------------------------------------------- softmax: copy regime


def softmax_coexistence_asymptotic(T: float, nu: float, sigma2: float, prior: str = "qk",
                                   objective: str = "posterior") -> dict:
    """Coexistence of the asymptotic reduced problem (copy regime; all orders in ``1/log T``).

    Eliminating ``a`` and ``z``: ``z(s) = 2 j(s)/j'(s) - 1``, ``a(s) = j'(s)(1 + z)^2/z`` and
    ``2 s = log T + log z + log(1 + c/a)`` (one equation in ``s``; the root with ``z >> 1``).
    Returns ``alpha_c = a nu T``, ``s``, ``z``, the copy weight of the jump
    ``m_above = sqrt(z (1/(sigma2 alpha_c) + 1/T))`` and ``m_below = 1/T``. Relative error against the
    full theory ``O(sqrt(log T / T))``.
    """
    j, j1, _ = _check(T, nu, sigma2, prior, objective)
    L, c = math.log(T), 1.0 / (nu * sigma2)
    z_of = lambda s: 2.0 * j(s) / j1(s) - 1.0
    a_of = lambda s: j1(s) * (1.0 + z_of(s)) ** 2 / z_of(s)
    h = lambda s: 2.0 * s - L - math.log(z_of(s)) - math.log1p(c / a_of(s))
    hi = max(L, 4.0)
    grid = np.linspace(hi, 1e-3, 400)
    ok = [s for s in grid if z_of(s) > 1e-12]
    vals = [h(s) for s in ok]
    for k in range(len(ok) - 1):  # from the top: the last root before z becomes small
        if vals[k] > 0 >= vals[k + 1]:
            s = brentq(h, ok[k + 1], ok[k], xtol=1e-15, rtol=1e-15)
            break
    else:
        raise ParameterError("T", T, "too small for the asymptotic copy regime (no coexistence root)")
    z, a = z_of(s), a_of(s)
    alpha = a * nu * T
    return {"alpha_c": alpha, "a": a, "s": s, "z": z, "m_above": math.sqrt(z * (1.0 / (sigma2 * alpha) + 1.0 / T)),
            "m_below": 1.0 / T}


def softmax_lower_spinodal_asymptotic(T: float, nu: float, sigma2: float, prior: str = "qk",
                                      objective: str = "posterior") -> float:
    """Lower spinodal (the copy minimum appears) of the asymptotic reduced problem; NaN if it has none.

    On the stationary curve ``a z = j'(s)(1+z)^2``, ``2 s = log T + log z + log(1 + c/a)``, ``a(z)``
    has a local minimum at ``z = O(1)`` (``z = 1``, ``a = 4`` for MAP qk, where ``j' = 1``): the fold
    where the copy minimum appears. Returns ``alpha = a nu T`` there.

    Towards small ``z`` the curve turns back (a local maximum of ``a``, then ``a -> 0`` as ``z -> 0``):
    that piece leaves the copy regime (``z`` is no longer large against ``1/T`` corrections) and
    holds no fold of the copy minimum. The fold is therefore the interior local minimum of ``a(log z)``
    on a grid of ``log z`` in ``[-6, 6]`` with the largest ``z`` (refined by bounded Brent between its
    grid neighbours) -- not the smallest ``a`` on the interval, which for ``T <~ 5`` (qk posterior)
    is the edge ``log z = -6`` of the small-``z`` piece and jumped from ``~0.25 nu T`` to ``~3 nu T``
    between ``T = 5`` and ``6``. A rate without such a minimum (gaussian prior at ``T <~ 4``,
    default ``nu, sigma2``: ``a(z)`` monotone on the copy side) gives NaN: the law has no solution there.
    """
    _, j1, _ = _check(T, nu, sigma2, prior, objective)
    L, c = math.log(T), 1.0 / (nu * sigma2)

    def a_on_curve(lz):
        z = math.exp(lz)
        f = lambda a: a - j1(0.5 * (L + lz + math.log1p(c / a))) * (1.0 + z) ** 2 / z
        return brentq(f, 1e-12, 1e12, xtol=1e-300, rtol=1e-15)

    lz = np.linspace(-6.0, 6.0, 241)
    av = np.array([a_on_curve(v) for v in lz])
    mins = np.nonzero((av[1:-1] < av[:-2]) & (av[1:-1] <= av[2:]))[0] + 1
    if len(mins) == 0:
        return math.nan
    i = int(mins[-1])
    res = minimize_scalar(a_on_curve, bounds=(lz[i - 1], lz[i + 1]), method="bounded", options={"xatol": 1e-12})
    return float(min(res.fun, av[i])) * nu * T


# ----------------------------------------------------------------------------- softmax: uniform regime


def _uniform_fold(prior: str, objective: str):
    """``(s0, A0)`` of the leading uniform-regime fold ``j'(s) = A e^{2s}``, ``j''(s) = 2 A e^{2s}``."""
    if prior == "qk" and objective == "map":
        return 0.0, 1.0  # the kink: F_s(0+) = 1 - A
    if prior == "gaussian":
        return 0.5, 0.5 / math.e
    s0 = math.sqrt((math.sqrt(80.0) - 4.0) / 32.0)  # j'' = 2 j': 16 s^4 + 4 s^2 - 1 = 0
    return s0, float(rate_qk_prime(s0)) * math.exp(-2.0 * s0)


def softmax_upper_spinodal_asymptotic(T: float, nu: float, sigma2: float, prior: str = "qk",
                                      objective: str = "posterior", order: int = 1) -> float:
    """Upper spinodal (the uniform minimum disappears): ``alpha = nu T^2 (A0 + A1/T)``.

    ``A0`` from the fold of ``j'(s) = A e^{2s}`` (gaussian ``1/(2e)``; qk posterior ``0.157642``;
    MAP qk ``1``, the kink), ``A1 = (2 A0 e^{4s0} - A0 e^{2s0} - j'(s0) + c e^{2s0})/e^{2s0}
    = 2 A0 (e^{2 s0} - 1) + c`` (first order in ``1/T``; ``order=0`` drops it). For MAP qk the exact closed form is
    :func:`uniform_spinodal_map`.
    """
    _, j1, _ = _check(T, nu, sigma2, prior, objective)
    s0, A0 = _uniform_fold(prior, objective)
    if order == 0:
        return A0 * nu * T * T
    c = 1.0 / (nu * sigma2)
    e2 = math.exp(2 * s0)
    A1 = (2 * A0 * e2 * e2 - A0 * e2 - j1(s0) + c * e2) / e2
    return (A0 + A1 / T) * nu * T * T


# ----------------------------------------------------------------------------- explicit laws in log T


def softmax_alpha_c_series(T: float, nu: float, sigma2: float, prior: str = "qk", objective: str = "posterior",
                           terms: int = 2) -> float:
    """Explicit large-``T`` expansion of ``alpha_c`` (``L = log T``, ``l = log L``, ``c = 1/(nu sigma2)``).

    * qk, posterior: ``a = L + log 2 + (c - l + log 2 - 3/2)/L + ...``
    * qk, MAP:       ``a = L + l + 1 + (c + l)/L + ...``
    * gaussian (posterior and MAP alike): ``a = L^2/4 + (L/2)(log(L/2) + 1) + log(L/2)^2/4 + log(L/2) + ...``

    ``terms`` = 1 (leading), 2 (down to ``O(1)`` in ``a``; ``O(L)`` for gaussian), 3 (next order).
    Returns ``alpha_c = a nu T``.
    """
    _check(T, nu, sigma2, prior, objective)
    L = math.log(T)
    l, c = math.log(L), 1.0 / (nu * sigma2)
    if prior == "gaussian":
        lh = math.log(L / 2)
        parts = [L * L / 4, L / 2 * (lh + 1), lh * lh / 4 + lh]
    elif objective == "map":
        parts = [L, l + 1, (c + l) / L]
    else:
        parts = [L, math.log(2.0), (c - l + math.log(2.0) - 1.5) / L]
    if terms not in (1, 2, 3):
        raise ParameterError("terms", terms, "must be 1, 2 or 3")
    return sum(parts[:terms]) * nu * T


def softmax_lower_spinodal_series(T: float, nu: float, sigma2: float, prior: str = "qk",
                                  objective: str = "posterior", terms: int = 2) -> float:
    """Explicit expansion of the lower spinodal: qk posterior ``4 nu T (1 - 1/L)``; MAP qk ``4 nu T``
    (no ``1/L`` term); gaussian ``nu T (2 L + (c - 2)/L)`` (no ``O(1)`` term; ``terms=3`` adds the ``1/L``)."""
    _check(T, nu, sigma2, prior, objective)
    L, c = math.log(T), 1.0 / (nu * sigma2)
    if prior == "gaussian":
        parts = [2 * L, 0.0, (c - 2.0) / L]
    elif objective == "map":
        parts = [4.0, 0.0, 0.0]
    else:
        parts = [4.0, -4.0 / L, 0.0]
    if terms not in (1, 2, 3):
        raise ParameterError("terms", terms, "must be 1, 2 or 3")
    return sum(parts[:terms]) * nu * T


# ----------------------------------------------------------------------------- linear attention (exact)


def linear_transition(T: float, nu: float, sigma2: float, prior: str = "qk", objective: str = "posterior") -> dict:
    """Exact linear-attention transition (``F_lin`` depends on ``T`` only through ``nu T``).

    * posterior (both priors): ``m = 0`` loses stability at ``alpha = (1 + sqrt(1 + 4 nu T/sigma2))/2``
      ``~ sqrt(nu T/sigma2) + 1/2``; second order when the Landau ``b > 0`` (always for gaussian; for
      qk once ``T`` exceeds the tricritical value, in particular for all large ``T``);
    * MAP gaussian: second order at ``alpha = sqrt(nu T/sigma2)``;
    * MAP qk (``F = nu T |m| + (alpha/2)/(1 + g m^2)``): first order at
      ``alpha_c = (4 nu T/sigma)^(2/3)`` with ``g m^2 = 1`` on the copy side, lower spinodal
      ``(16 sqrt(3) nu T/(9 sigma))^(2/3)`` (``g m^2 = 1/3``), ``m = 0`` metastable for every alpha.
    """
    _check(T, nu, sigma2, prior, objective)
    sig = math.sqrt(sigma2)
    if objective == "posterior":
        from .landau import critical_alpha, landau_b

        ac = critical_alpha(T, nu, sigma2)
        kind = "second-order" if landau_b(T, nu, sigma2, ac, prior) > 0 else "first-order"
        out = {"transition": kind, "alpha_critical": ac}
        if kind == "second-order":
            out.update(alpha_c=ac, alpha_spinodal_low=None, alpha_spinodal_high=None, m_below=0.0, m_above=0.0)
        return out
    if prior == "gaussian":
        ac = math.sqrt(nu * T / sigma2)
        return {"transition": "second-order", "alpha_critical": ac, "alpha_c": ac, "alpha_spinodal_low": None,
                "alpha_spinodal_high": None, "m_below": 0.0, "m_above": 0.0}
    ac = (4.0 * nu * T / sig) ** (2.0 / 3.0)
    return {"transition": "first-order", "alpha_critical": None, "alpha_c": ac,
            "alpha_spinodal_low": (16.0 * math.sqrt(3.0) * nu * T / (9.0 * sig)) ** (2.0 / 3.0),
            "alpha_spinodal_high": None, "m_below": 0.0, "m_above": 1.0 / math.sqrt(sigma2 * ac)}


# ----------------------------------------------------------------------------- the laws (text, LaTeX, values)

_LAW_TEXT = {
    ("softmax", "qk", "posterior"): {
        "leading": ("alpha_c ~ nu T ln T", r"\alpha_c \simeq \nu T \ln T"),
        "first_correction": ("alpha_c ~ nu T (ln T + ln 2)", r"\alpha_c \simeq \nu T\,(\ln T + \ln 2)"),
        "next": ("alpha_c ~ nu T [ln T + ln 2 + (c - ln ln T + ln 2 - 3/2)/ln T], c = 1/(nu sigma2)",
                 r"\alpha_c \simeq \nu T\left[\ln T + \ln 2 + \frac{c - \ln\ln T + \ln 2 - 3/2}{\ln T}\right]"),
        "spinodal_low": ("alpha_sp_low ~ 4 nu T (1 - 1/ln T)", r"\alpha_{\rm sp}^- \simeq 4\nu T(1 - 1/\ln T)"),
        "spinodal_high": ("alpha_sp_high ~ nu T^2 (A0 + A1/T): j''(s0) = 2 j'(s0) (s0 = 0.393076), A0 = j'(s0) e^{-2 s0} "
                          "= 0.157642, A1 = 2 A0 (e^{2 s0} - 1) + c",
                          r"\alpha_{\rm sp}^+ \simeq \nu T^2 (A_0 + A_1/T),\ j''(s_0) = 2j'(s_0),\ A_0 = j'(s_0)e^{-2s_0},\ "
                          r"A_1 = 2A_0(e^{2s_0} - 1) + c"),
    },
    ("softmax", "qk", "map"): {
        "leading": ("alpha_c ~ nu T ln T", r"\alpha_c \simeq \nu T \ln T"),
        "first_correction": ("alpha_c ~ nu T (ln T + ln ln T + 1)", r"\alpha_c \simeq \nu T\,(\ln T + \ln\ln T + 1)"),
        "next": ("alpha_c ~ nu T [ln T + ln ln T + 1 + (c + ln ln T)/ln T], c = 1/(nu sigma2)",
                 r"\alpha_c \simeq \nu T\left[\ln T + \ln\ln T + 1 + \frac{c + \ln\ln T}{\ln T}\right]"),
        "spinodal_low": ("alpha_sp_low ~ 4 nu T", r"\alpha_{\rm sp}^- \simeq 4\nu T"),
        "spinodal_high": ("alpha_sp_high = (nu T^2/2)(1 + sqrt(1 + 4/(nu sigma2 T))) exactly (~ nu T^2 (1 + c/T))",
                          r"\alpha_{\rm sp}^+ = \frac{\nu T^2}{2}\left(1 + \sqrt{1 + 4/(\nu\sigma^2 T)}\right)"),
    },
    ("softmax", "gaussian", None): {
        "leading": ("alpha_c ~ (nu/4) T ln^2 T", r"\alpha_c \simeq \frac{\nu}{4} T \ln^2 T"),
        "first_correction": ("alpha_c ~ nu T [ln^2 T/4 + (ln T/2)(ln(ln T/2) + 1)]",
                             r"\alpha_c \simeq \nu T\left[\frac{1}{4}\ln^2 T + \frac{1}{2}\ln T\,(\ln\frac{\ln T}{2} + 1)\right]"),
        "next": ("... + nu T [ln^2(ln T/2)/4 + ln(ln T/2)]",
                 r"\ldots + \nu T\left[\frac{1}{4}\ln^2\frac{\ln T}{2} + \ln\frac{\ln T}{2}\right]"),
        "spinodal_low": ("alpha_sp_low ~ 2 nu T ln T", r"\alpha_{\rm sp}^- \simeq 2\nu T\ln T"),
        "spinodal_high": ("alpha_sp_high ~ nu T^2 (1/(2e) + (1 + c - 1/e)/T)",
                          r"\alpha_{\rm sp}^+ \simeq \nu T^2\left(\frac{1}{2e} + \frac{1 + c - 1/e}{T}\right)"),
    },
    ("linear", None, "posterior"): {
        "leading": ("alpha_c ~ sqrt(nu T/sigma2)", r"\alpha_c \simeq \sqrt{\nu T/\sigma^2}"),
        "first_correction": ("alpha_c ~ sqrt(nu T/sigma2) + 1/2", r"\alpha_c \simeq \sqrt{\nu T/\sigma^2} + \frac{1}{2}"),
        "exact": ("alpha_c = (1 + sqrt(1 + 4 nu T/sigma2))/2 (second order)",
                  r"\alpha_c = \frac{1}{2}\left(1 + \sqrt{1 + 4\nu T/\sigma^2}\right)"),
    },
    ("linear", "gaussian", "map"): {
        "leading": ("alpha_c = sqrt(nu T/sigma2) exactly (second order)", r"\alpha_c = \sqrt{\nu T/\sigma^2}"),
        "exact": ("alpha_c = sqrt(nu T/sigma2) (second order)", r"\alpha_c = \sqrt{\nu T/\sigma^2}"),
    },
    ("linear", "qk", "map"): {
        "leading": ("alpha_c = (4 nu T/sigma)^(2/3) exactly (first order)", r"\alpha_c = (4\nu T/\sigma)^{2/3}"),
        "exact": ("alpha_c = (4 nu T/sigma)^(2/3); alpha_sp_low = (16 sqrt(3) nu T/(9 sigma))^(2/3); m = 0 always metastable",
                  r"\alpha_c = (4\nu T/\sigma)^{2/3},\ \alpha_{\rm sp}^- = \left(\frac{16\sqrt3\,\nu T}{9\sigma}\right)^{2/3}"),
    },
}

_ASYMPTOTIC_TEXT = (
    "asymptotic reduced problem (all orders in 1/ln T, error O(sqrt(ln T/T))): alpha_c = a nu T with "
    "z = 2 j(s)/j'(s) - 1, a = j'(s)(1+z)^2/z, 2 s = ln T + ln z + ln(1 + 1/(nu sigma2 a))",
    r"\alpha_c = a\nu T:\ z = \frac{2j(s)}{j'(s)} - 1,\ a = \frac{j'(s)(1+z)^2}{z},\ "
    r"2s = \ln T + \ln z + \ln\!\left(1 + \frac{1}{\nu\sigma^2 a}\right)",
)

DATA_AMOUNT = {
    ("softmax", "qk"): "T ln T",
    ("softmax", "gaussian"): "T ln^2 T",
    ("linear", "qk"): None,
    ("linear", "gaussian"): None,
}


def _law_key(attention, prior, objective):
    if attention == "softmax":
        return ("softmax", "gaussian", None) if prior == "gaussian" else ("softmax", "qk", objective)
    if objective == "posterior":
        return ("linear", None, "posterior")
    return ("linear", prior, "map")


def law_description(attention: str, prior: str, objective: str) -> dict:
    """Text and LaTeX of the large-``T`` law of ``alpha_c`` (and spinodals) for one model family,
    and what the critical amount of data grows like (at fixed ``V, nu, sigma2, kappa``)."""
    txt = _LAW_TEXT[_law_key(attention, prior, objective)]
    out = {k: {"text": v[0], "latex": v[1]} for k, v in txt.items()}
    if attention == "softmax":
        out["asymptotic"] = {"text": _ASYMPTOTIC_TEXT[0], "latex": _ASYMPTOTIC_TEXT[1]}
        grows = "T ln T" if prior == "qk" else "T ln^2 T"
        seq = "ln T" if prior == "qk" else "ln^2 T"
        m_law = ("sqrt(ln T/T)", r"\sqrt{\ln T/T}") if prior == "qk" else ("sqrt(ln T/(2T))", r"\sqrt{\ln T/(2T)}")
        out["m_at_transition"] = {
            "text": "the copy minimum at alpha_c has s ~ (ln T + ln ln T)/2 and m ~ sqrt(z (1/(sigma2 alpha_c) + 1/T)) "
                    f"~ {m_law[0]} -> 0 (m_below = 1/T): the jump does not reach an O(1) copy weight",
            "latex": r"m_{\rm above} \simeq \sqrt{z_c\left(\frac{1}{\sigma^2\alpha_c} + \frac{1}{T}\right)} \sim " + m_law[1]}
    else:
        grows = "sqrt(T)" if not (prior == "qk" and objective == "map") else "T^(2/3)"
        seq = "T^(-1/2)" if grows == "sqrt(T)" else "T^(-1/3)"
    out["data_amount"] = {
        "text": f"alpha = P T/(kappa V^2): the critical number of training tokens P_c T = kappa V^2 alpha_c grows like "
                f"{grows}, the critical number of sequences P_c = kappa V^2 alpha_c/T like {seq} "
                f"(at fixed V, nu = N/V^2, sigma2, kappa)",
        "tokens": grows, "sequences": seq}
    return out


def law_values(T: float, nu: float, sigma2: float, attention: str, prior: str, objective: str) -> dict:
    """Values of every law of :func:`law_description` at ``T`` (None where a law has no such entry)."""
    if attention == "linear":
        lt = linear_transition(T, nu, sigma2, prior, objective)
        s = math.sqrt(nu * T / sigma2)
        if objective == "posterior":
            return {"leading": s, "first_correction": s + 0.5, "exact": lt.get("alpha_c"),
                    "alpha_critical": lt["alpha_critical"], "transition": lt["transition"],
                    "spinodal_low": None, "spinodal_high": None}
        return {"leading": lt["alpha_c"], "exact": lt["alpha_c"], "transition": lt["transition"],
                "spinodal_low": lt["alpha_spinodal_low"], "spinodal_high": None, "m_above": lt["m_above"]}
    try:
        co = softmax_coexistence_asymptotic(T, nu, sigma2, prior, objective)
    except ParameterError:  # T too small for the copy regime: no asymptotic coexistence
        co = {"alpha_c": None, "m_above": None, "s": None, "z": None}
    try:
        low = softmax_lower_spinodal_asymptotic(T, nu, sigma2, prior, objective)
    except (ValueError, ParameterError):
        low = None
    if low is not None and math.isnan(low):  # no fold of the copy minimum in the asymptotic problem
        low = None
    high = (uniform_spinodal_map(T, nu, sigma2) if (prior == "qk" and objective == "map")
            else softmax_upper_spinodal_asymptotic(T, nu, sigma2, prior, objective))
    return {
        "leading": softmax_alpha_c_series(T, nu, sigma2, prior, objective, 1),
        "first_correction": softmax_alpha_c_series(T, nu, sigma2, prior, objective, 2),
        "next": softmax_alpha_c_series(T, nu, sigma2, prior, objective, 3),
        "asymptotic": co["alpha_c"],
        "transition": "first-order",
        "spinodal_low": softmax_lower_spinodal_series(T, nu, sigma2, prior, objective),
        "spinodal_low_asymptotic": low,
        "spinodal_high": high,
        "m_above": co["m_above"],
        "s_copy": co["s"],
        "z_copy": co["z"],
    }
