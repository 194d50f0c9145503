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


def plot_scaling(study: ScalingStudy, path):
    """Three panels: log-log ``alpha_c(T)`` and the spinodals with the laws overlaid; ``alpha_c/(nu T)``
    against ``T`` on a log axis (a straight line is ``ln T``); ``|relative error|`` of each law."""
    from .plotting import _plt, save_figure

    plt = _plt()
    rows = [r for r in study.rows if r.get("alpha_c") is not None]
    fig, (ax, axr, ax2) = plt.subplots(3, 1, figsize=(6.6, 10.0), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2, 2]})
    m = study.model
    T = np.array([r["T"] for r in rows], float)
    ac = np.array([r["alpha_c"] for r in rows], float)
    ax.plot(T, ac, "o", color="k", ms=5, label=r"$\alpha_c$ (solver)", zorder=5)
    axr.plot(T, ac / (m.nu * T), "o", color="k", ms=5, label=r"$\alpha_c/(\nu T)$ (solver)", zorder=5)
    for key, style, lab in (("alpha_spinodal_low", dict(marker="v", color="tab:blue"), "lower spinodal"),
                            ("alpha_spinodal_high", dict(marker="^", color="tab:red"), "upper spinodal")):
        pts = [(r["T"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), ls="none", ms=5, label=f"{lab} (solver)", **style)
    Tf = np.geomspace(max(T.min(), 10.0), T.max(), 80) if len(T) and T.max() > 10 else np.array([])
    curves = {}
    for t in Tf:
        v = law_values(float(t), m.nu, m.sigma2, m.attention, m.prior, m.objective)
        for k in ("leading", "first_correction", "asymptotic", "exact", "spinodal_low_asymptotic", "spinodal_low",
                  "spinodal_high"):
            if v.get(k) is not None:
                curves.setdefault(k, []).append((t, v[k]))
    desc = study.law
    styles = {"leading": dict(color="gray", ls=":"), "first_correction": dict(color="tab:green", ls="--"),
              "asymptotic": dict(color="tab:purple", ls="-", lw=1), "exact": dict(color="tab:purple", ls="-", lw=1),
              "spinodal_low_asymptotic": dict(color="tab:blue", ls="-", lw=0.8),
              "spinodal_high": dict(color="tab:red", ls="-", lw=0.8)}
    names = {"spinodal_low_asymptotic": "lower spinodal, asymptotic", "spinodal_high": "upper spinodal law",
             "asymptotic": "asymptotic reduced problem"}
    for k, st in styles.items():
        if k not in curves:
            continue
        lab = desc.get(k, {}).get("latex")
        name = names.get(k, k.replace("_", " "))
        label = f"{name}: ${lab}$" if lab and len(lab) < 60 else name
        tt, vv = (np.array(x) for x in zip(*curves[k]))
        ax.plot(tt, vv, label=label, **st)
        if not k.startswith("spinodal"):
            axr.plot(tt, vv / (m.nu * tt), label=name, **st)
    ax.set(xscale="log", yscale="log", ylabel=r"$\alpha = PT/(\kappa V^2)$",
           title=f"{m.attention} / {m.prior} / {m.objective}: critical data vs T "
                 f"($\\nu$={m.nu:g}, $\\sigma^2$={m.sigma2:g})")
    ax.legend(fontsize=6.5, loc="upper left")
    axr.set(ylabel=r"$\alpha_c/(\nu T) = P_c/(\kappa N)$")
    axr.legend(fontsize=6.5, loc="upper left")
    for k in ("leading", "first_correction", "next", "asymptotic", "exact", "spinodal_low_asymptotic", "spinodal_high",
              "m_above"):
        pts = [(r["T"], abs(r[f"rel_err_{k}"])) for r in rows if r.get(f"rel_err_{k}") not in (None, 0.0)]
        if pts:
            ax2.plot(*zip(*pts), marker=".", label=k.replace("_", " "))
    ax2.set(xscale="log", yscale="log", xlabel="sequence length $T$", ylabel="|relative error| of the law")
    ax2.legend(fontsize=6.5, ncol=2)
    return save_figure(fig, path)
