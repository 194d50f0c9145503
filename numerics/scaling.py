"""The critical amount of data versus sequence length: ``alpha_c(T)`` from the solver, against the
derived large-``T`` laws of :mod:`copyhead.theory.scaling` (issue 11).

``alpha = P T/(kappa V^2)``, so at ``alpha_c`` the critical number of sequences is
``P_c = kappa V^2 alpha_c / T`` (``P_c_over_V2`` in the rows) and the critical number of training
tokens ``P_c T = kappa V^2 alpha_c`` (``PcT_over_V2``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from copyhead.theory.model import Model, ParameterError
from copyhead.theory.scaling import law_description, law_values

from .continuation import ContinuationError
from .solve import solve

ROW_KEYS = ("T", "transition", "alpha_c", "alpha_spinodal_low", "alpha_spinodal_high", "m_below", "m_above",
            "P_c_over_V2")
ALPHA_C_LAWS = ("leading", "first_correction", "next", "asymptotic", "exact")


def csv_columns(rows) -> list:
    """The CSV columns of ``copyhead scaling``: :data:`ROW_KEYS`, ``PcT_over_V2``, ``converged``,
    ``max_residual``, the ``law_*`` and ``rel_err_*`` columns of the laws that exist for the model
    (sorted), ``error``."""
    return list(ROW_KEYS) + ["PcT_over_V2", "converged", "max_residual"] + sorted(
        {k for r in rows for k in r if k.startswith(("law_", "rel_err_"))}) + ["error"]


def t_values(values=None, lo=None, hi=None, n=None) -> list:
    """The sequence lengths: an explicit list, or ``n`` log-spaced integers from ``lo`` to ``hi``
    (rounded, duplicates dropped -- fewer than ``n`` come back when the range holds fewer)."""
    if values is not None:
        out = []
        for v in values:
            if not (float(v).is_integer() and v >= 2):
                raise ParameterError("values", v, "sequence lengths must be integers >= 2")
            out.append(int(v))
        return sorted(set(out))
    if lo is None or hi is None or n is None:
        raise ParameterError("range", (lo, hi, n), "give --values or --range LO HI with --n")
    if not (2 <= lo < hi and math.isfinite(hi)):
        raise ParameterError("range", (lo, hi), "needs 2 <= LO < HI")
    if n < 2:
        raise ParameterError("n", n, "must be >= 2")
    return [int(v) for v in np.unique(np.round(np.geomspace(lo, hi, n)).astype(np.int64))]


@dataclass
class ScalingStudy:
    model: Model
    rows: list
    law: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"model": {**self.model.to_dict(), "T": "varied"}, "vary": "T", "rows": self.rows, "law": self.law}


def _rel(a, b):
    if a is None or b is None or b == 0:
        return None
    return (a - b) / b


def _row(model: Model, T: int) -> dict:
    m = model.replace(T=T)
    try:
        res = solve(m)
    except ContinuationError as exc:
        return {"T": T, "transition": None, "error": str(exc)}
    t = res.transition
    row = {"T": T, "transition": t.kind, "alpha_c": t.alpha_c, "alpha_spinodal_low": t.alpha_spinodal_low,
           "alpha_spinodal_high": t.alpha_spinodal_high, "m_below": t.m_below, "m_above": t.m_above,
           "P_c_over_V2": None if t.alpha_c is None else model.kappa * t.alpha_c / T,
           "PcT_over_V2": None if t.alpha_c is None else model.kappa * t.alpha_c,
           "converged": res.converged, "max_residual": res.max_residual, "error": None}
    law = law_values(T, model.nu, model.sigma2, model.attention, model.prior, model.objective)
    for k in ALPHA_C_LAWS:
        if law.get(k) is not None:
            row[f"law_{k}"] = law[k]
            row[f"rel_err_{k}"] = _rel(law[k], t.alpha_c)
    for k, q in (("spinodal_low", "alpha_spinodal_low"), ("spinodal_low_asymptotic", "alpha_spinodal_low"),
                 ("spinodal_high", "alpha_spinodal_high"), ("m_above", "m_above")):
        if law.get(k) is not None:
            row[f"law_{k}"] = law[k]
            row[f"rel_err_{k}"] = _rel(law[k], row[q])
    return row


def _shrinks(rows, key, T_min, exact_tol=1e-9):
    """``True`` if ``|rel_err_<key>|`` decreases monotonically over the rows with ``T >= T_min``,
    ``"exact"`` if the law is exact (every error below ``exact_tol``), None with fewer than 2 rows."""
    e = [abs(r[key]) for r in rows if r.get(key) is not None and r["T"] >= T_min]
    if len(e) < 2:
        return None
    if max(e) < exact_tol:
        return "exact"
    return bool(all(b < a for a, b in zip(e, e[1:])))


def scaling_in_T(model: Model, Ts, progress=None, T_asymptotic: int = 100) -> ScalingStudy:
    """Solve at every ``T`` of ``Ts`` and compare with the large-``T`` laws.

    ``law`` holds the formulas (text and LaTeX; :func:`copyhead.theory.scaling.law_description`),
    the relative error of each law at each ``T`` and whether it shrinks monotonically over
    ``T >= T_asymptotic``. A ``T`` where the solver fails is kept as a row with its ``error``.
    """
    if model.V is not None:
        raise ParameterError("V", model.V, "the scaling study works at V = inf")
    rows = []
    for i, T in enumerate(Ts):
        rows.append(_row(model, int(T)))
        if progress:
            progress(i + 1, len(Ts))
    law = law_description(model.attention, model.prior, model.objective)
    err_keys = sorted({k for r in rows for k in r if k.startswith("rel_err_")})
    law["relative_error"] = [{"T": r["T"], **{k[8:]: r.get(k) for k in err_keys}} for r in rows]
    law["error_shrinks_for_T_at_least"] = T_asymptotic
    law["error_shrinks"] = {k[8:]: _shrinks(rows, k, T_asymptotic) for k in err_keys}
    law["parameters"] = {"nu": model.nu, "sigma2": model.sigma2, "kappa": model.kappa, "c = 1/(nu sigma2)":
                         1.0 / (model.nu * model.sigma2)}
    return ScalingStudy(model, rows, law)


LAW_STYLE = {"leading": dict(color="0.35", ls=":", lw=1.6),
             "first_correction": dict(color="tab:green", ls="--", lw=1.4),
             "next": dict(color="tab:olive", ls="-.", lw=1.2), "asymptotic": dict(color="tab:purple", ls="-", lw=1.2),
             "exact": dict(color="tab:purple", ls="-", lw=1.2),
             "spinodal_low_asymptotic": dict(color="tab:blue", ls="-", lw=0.9),
             "spinodal_low": dict(color="tab:cyan", ls="--", lw=0.9),
             "spinodal_high": dict(color="tab:red", ls="-", lw=0.9),
             "m_above": dict(color="tab:brown", ls="-", lw=0.9)}
LAW_NAME = {"leading": "leading law", "first_correction": "first correction", "next": "next correction",
            "asymptotic": "asymptotic reduced problem", "exact": "exact law",
            "spinodal_low_asymptotic": "lower spinodal, asymptotic", "spinodal_low": "lower spinodal law",
            "spinodal_high": "upper spinodal law", "m_above": "m above the jump"}


def _law_curves(study, T_lo, T_hi, n=60) -> dict:
    """``{law: (T, value)}`` of the large-``T`` laws on one log grid of ``n`` points from ``T_lo`` to
    ``T_hi``; every law on the same grid, NaN where it has no value (e.g. ``ln ln T`` at small
    ``T``), so curves can be divided pointwise and are drawn where they have a value."""
    m = study.model
    ts = np.geomspace(T_lo, T_hi, n)
    curves = {}
    for i, t in enumerate(ts):
        v = law_values(float(t), m.nu, m.sigma2, m.attention, m.prior, m.objective)
        for k in LAW_STYLE:
            if k != "m_above" and v.get(k) is not None:
                curves.setdefault(k, np.full(n, np.nan))[i] = v[k]
    return {k: (ts, vals) for k, vals in curves.items()}


def _law_label(study, k) -> str:
    latex = study.law.get(k, {}).get("latex") if isinstance(study.law.get(k), dict) else None
    name = LAW_NAME.get(k, k.replace("_", " "))
    return f"{name}: ${latex}$" if latex and len(latex) < 70 else name


def plot_scaling(study: ScalingStudy, path):
    """Three panels against the sequence length ``T`` (log axes): ``alpha_c`` and the spinodals from
    the solver (points) with the large-``T`` laws overlaid and labelled (lines, from the first to the
    last ``T``); ``alpha_c`` divided by the leading law (the law holds where this tends to 1); the
    ``|relative error|`` of each law. The suffix of ``path`` decides the format."""
    from .plotting import _plt, legend, save_figure, set_titles

    plt = _plt()
    rows = [r for r in study.rows if r.get("alpha_c") is not None]
    fig, (ax, axr, ax2) = plt.subplots(3, 1, figsize=(7.0, 10.5), sharex=True, gridspec_kw={"height_ratios": [3, 2, 2]})
    T = np.array([r["T"] for r in rows], float)
    ac = np.array([r["alpha_c"] for r in rows], float)
    lead = np.array([r.get("law_leading") or np.nan for r in rows], float)
    ax.plot(T, ac, "o", color="k", ms=5, label=r"$\alpha_c$ (solver)", zorder=5)
    if np.any(np.isfinite(lead)):
        axr.plot(T, ac / lead, "o", color="k", ms=5, label=r"$\alpha_c$ (solver)", zorder=5)
    for key, mk, col, lab in (("alpha_spinodal_low", "v", "tab:blue", r"lower spinodal $\alpha_{\rm sp}^-$ (solver)"),
                              ("alpha_spinodal_high", "^", "tab:red", r"upper spinodal $\alpha_{\rm sp}^+$ (solver)")):
        pts = [(r["T"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), ls="none", marker=mk, color=col, ms=5, label=lab)
    curves = _law_curves(study, T.min(), T.max()) if len(T) and T.max() > T.min() else {}
    lead_curve = curves.get("leading")
    for k, (tt, vv) in curves.items():
        ax.plot(tt, vv, label=_law_label(study, k), **LAW_STYLE[k])
        if lead_curve is not None and not k.startswith("spinodal"):
            axr.plot(tt, vv / lead_curve[1], label=LAW_NAME.get(k, k), **LAW_STYLE[k])
    ax.set(xscale="log", yscale="log", ylabel=r"$\alpha = PT/(\kappa V^2)$")
    set_titles(ax, "critical amount of data versus the sequence length", study.model, varied="T")
    legend(ax, loc="upper left", fontsize=6.5)
    lead_tex = study.law.get("leading", {}).get("latex", "") if isinstance(study.law.get("leading"), dict) else ""
    rhs = lead_tex.split("simeq")[-1].split("=")[-1].strip() if lead_tex else "leading"
    axr.axhline(1.0, color="0.6", lw=0.6, zorder=0)
    axr.set(ylabel=f"$\\alpha_c \\,/\\, [{rhs}]$" if lead_tex else r"$\alpha_c$ / leading law")
    legend(axr, loc="best", fontsize=6.5)
    exact_zero = []
    for k in ("leading", "first_correction", "next", "asymptotic", "exact", "spinodal_low_asymptotic", "spinodal_low",
              "spinodal_high", "m_above"):
        vals = [(r["T"], r.get(f"rel_err_{k}")) for r in rows if r.get(f"rel_err_{k}") is not None]
        pts = [(t, abs(e)) for t, e in vals if e != 0.0]
        if len(pts) < len(vals):
            exact_zero.append(k)
        if pts:
            ax2.plot(*zip(*pts), marker=".", label=LAW_NAME.get(k, k.replace("_", " ")), **LAW_STYLE[k])
    note = f"\nexactly 0 (not drawn) at some T: {', '.join(LAW_NAME.get(k, k) for k in exact_zero)}" \
        if exact_zero else ""
    ax2.set(xscale="log", yscale="log", xlabel="sequence length $T$", ylabel="|relative error| of the law")
    ax2.set_title("relative error (law - solver)/solver" + note, fontsize=8)
    legend(ax2, ncol=2, fontsize=6.5)
    return save_figure(fig, path)
