"""Monte Carlo rows against the finite-size theory: annotation, the verify table and figure, the
linear onset lag. The theory is one :class:`copyhead.numerics.finite_size.FiniteSizeTheory`."""
from __future__ import annotations

import numpy as np

from copyhead.numerics.finite_size import FiniteSizeTheory
from copyhead.theory.model import ParameterError

from . import diagnostics


def _abs_m_statistics(r: dict) -> None:
    """Linear attention: the posterior is symmetric under ``S -> -S``, so ``<m>`` is replaced by
    ``<|m|>`` (its MCSE from the ESS); the signed mean is kept as ``m_signed_mean``."""
    signed = np.asarray(r["traces"]["m"][-r["n_samples"]:])
    tr = np.abs(signed)
    r["m_signed_mean"] = float(signed.mean())  # from the traces: re-annotating a loaded sweep keeps it
    try:
        r["m_mean"], r["m_err"] = float(tr.mean()), diagnostics.mcse_mean(tr)
    except ParameterError:
        r["m_mean"], r["m_err"] = float(tr.mean()), float("nan")


def _rhat_between_abs(rows, alpha) -> float:
    """Split R-hat between the starts at ``alpha`` on ``|m|`` (the sign of m is a symmetry, not a branch)."""
    same = [q for q in rows if q["alpha"] == alpha]
    if len(same) < 2:
        return float("nan")
    try:
        return float(diagnostics.split_rhat(np.stack([np.abs(q["traces"]["m"][-q["n_samples"]:]) for q in same])))
    except ParameterError:
        return float("nan")


def annotate_with_theory(rows, theory: FiniteSizeTheory):
    """Add ``theory_branch``, ``theory_m`` (V = inf, same branch; None where V = inf has no such
    branch), ``theory_m_corrected`` (the minimum of F - e1/V nearest the chain), ``theory_r``,
    ``theory_n_stable`` and ``deviation = <m> - theory_m_corrected`` to every row; linear attention
    also gets the one-loop ``theory_m_1loop``, ``theory_r_1loop``, ``deviation_1loop`` and the
    R-hat between the starts on ``|m|``."""
    linear = theory.model.attention == "linear"
    one_loop = {}
    for r in rows:
        if linear:
            _abs_m_statistics(r)
            r["rhat_between"] = _rhat_between_abs(rows, r["alpha"])
        tp = theory.run_point(r["alpha"], r["m_mean"])
        r.update(theory_branch=tp.branch, theory_m=tp.m, theory_m_corrected=tp.m_corrected, theory_r=tp.r,
                 theory_n_stable=tp.n_stable, deviation=r["m_mean"] - tp.m_corrected)
        if linear:
            # one loop: transverse Gaussian fluctuations of the T^2 scores (+ qk prior prefactor),
            # <|m|> from the exact 1-D integral over m (theory/one_loop.py, derivations/08_one_loop.py)
            if r["alpha"] not in one_loop:
                ol = theory.one_loop_linear(tp.alpha)
                one_loop[r["alpha"]] = (ol["m_abs_mean"], ol["r_mean"])
            r["theory_m_1loop"], r["theory_r_1loop"] = one_loop[r["alpha"]]
            r["deviation_1loop"] = r["m_mean"] - r["theory_m_1loop"]
    return rows


def _num(v, fmt: str, width: int, missing: str = "-") -> str:
    return f"{v:{fmt}}" if v is not None else f"{missing:>{width}s}"


def format_verify_table(rows) -> str:
    """The table of ``copyhead verify``; rows whose realised alpha moved by more than 1 % (flagged
    by :func:`verification.outputs.flag_effective_alpha`) get an ``alpha_eff`` column marked ``*``."""
    from .outputs import alpha_cell, alpha_note

    loop = any("theory_m_1loop" in r for r in rows)
    flag = any(r.get("alpha_effective_flag") for r in rows)
    head = f"{'alpha':>7s} " + (f"{'alpha_eff':>9s} " if flag else "") + (
        f"{'start':>8s} {'<m>':>8s} {'+-':>7s} {'<r>':>7s} {'acc':>5s} {'R-hat':>6s} "
        f"{'branch':>10s} {'m_inf':>7s} {'m_1/V':>7s} {'dev':>8s}")
    if loop:
        head += f" {'m_1loop':>7s} {'dev_1l':>8s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        line = (
            f"{r['alpha']:7.3f} " + (f"{alpha_cell(r):>9s} " if flag else "") +
            f"{r['start']:>8s} {r['m_mean']:8.4f} {_num(r['m_err'], '7.4f', 7)} {r['r_mean']:7.4f} "
            f"{r['acceptance']:5.2f} {_num(r['rhat'], '6.3f', 6)} {r['theory_branch']:>10s} "
            f"{_num(r['theory_m'], '7.4f', 7)} {r['theory_m_corrected']:7.4f} {r['deviation']:+8.4f}"
        )
        if loop:
            line += f" {r['theory_m_1loop']:7.4f} {r['deviation_1loop']:+8.4f}"
        lines.append(line)
    lines.append("(branch: of the minimum of F - e1/V nearest <m>; m_inf: V = inf on that branch, - where V = inf "
                 "has none)")
    if loop:
        lines.append("(linear: <m> is <|m|>; m_1/V is the saddle point of F - e1/V, m_1loop the one-loop <|m|>)")
    note = alpha_note(rows)
    if note:
        lines.append(note)
    return "\n".join(lines)


def plot_verify(rows, theory: FiniteSizeTheory, path, seed=None):
    """The verify figure: ``<m>`` +- MCSE of every chain (at its realised alpha; linear: ``<|m|>``)
    on the continuous theory curves (``V = inf`` branches, the stationary points of ``F - e1/V``,
    the finite-V spinodal window and, for linear attention, the one-loop ``<|m|>``;
    :mod:`verification.figures`)."""
    from .figures import plot_points_on_theory

    p = rows[0].get("params", {})
    pts = [{"alpha": r["alpha_effective"], "m": r["m_mean"], "err": r["m_err"], "start": r["start"]} for r in rows]
    known = {(r["alpha_effective"], r["theory_m_1loop"]) for r in rows if r.get("theory_m_1loop") is not None}
    linear = theory.model.attention == "linear"
    ylabel = r"copy weight $\langle|m|\rangle$" if linear else r"copy weight $\langle m\rangle$"
    return plot_points_on_theory(theory, pts, path, one_loop=sorted(known), ylabel=ylabel,
                                 label=f"HMC ($V={theory.V}$)",
                                 heading=r"HMC over $(Q, K)$ with $W$ integrated out, two starts per $\alpha$",
                                 seed=seed if seed is not None else p.get("seed"),
                                 warmup=p.get("warmup"), iterations=p.get("iters"))


def _bisect(f, lo: float, hi: float, level: float, n: int = 50) -> float:
    for _ in range(n):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < level else (lo, mid)
    return 0.5 * (lo + hi)


def linear_lag(rows, theory: FiniteSizeTheory, m_star: float = 0.5):
    """Lag of the MC onset: ``alpha_MC(m*) - alpha_theory(m*)`` at the level ``<|m|> = m*``.

    ``alpha_MC(m*)`` interpolates the MC ``<|m|>`` (linear in alpha between the bracketing rows,
    starts pooled); the theory value is found by bisection on the V = inf ordered branch and on
    the ordered minimum of F - e1/V. A horizontal shift at fixed m is insensitive to the
    finite-size rounding near m = 0.
    """
    pts = {}
    for r in rows:
        pts.setdefault(r["alpha_effective"], []).append(r["m_mean"])
    a = np.array(sorted(pts))
    mm = np.array([np.mean(pts[x]) for x in a])
    idx = np.nonzero((mm[:-1] < m_star) & (mm[1:] >= m_star))[0]
    if not len(idx):
        return None
    i = idx[0]
    a_mc = a[i] + (m_star - mm[i]) * (a[i + 1] - a[i]) / (mm[i + 1] - mm[i])
    ac = theory.transition.alpha_c
    a_inf = _bisect(lambda x: max(q.m for q in theory.limit_minima(x)), ac * (1 + 1e-9), 3 * ac, m_star)
    a_cor = _bisect(lambda x: theory.point(x, 1.0).m_corrected, 0.5 * ac, 3 * ac, m_star)
    return {"m_star": m_star, "alpha_mc": float(a_mc), "alpha_theory_inf": float(a_inf), "alpha_theory_V": float(a_cor),
            "lag_inf": float(a_mc - a_inf), "lag_V": float(a_mc - a_cor)}
