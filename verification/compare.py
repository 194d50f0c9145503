"""Monte Carlo rows against the theory: annotation, the verify table and figure, the linear onset lag."""
from __future__ import annotations

import numpy as np

from copyhead.theory.model import Model, ParameterError

def annotate_with_theory(rows, model: Model):
    """Add ``theory_m`` (V = inf), ``theory_m_corrected`` (F - e1/V), ``branch``, ``deviation`` to rows."""
    from copyhead.numerics.finite_size import realised_model, theory_point

    from .sweep import _stats

    V = model.require_V()
    one_loop = {}
    for r in rows:
        if model.attention == "linear":
            # the posterior is symmetric under S -> -S: compare |m| (signed <m> is 0 in equilibrium)
            n = r["n_samples"]
            tr = np.abs(r["traces"]["m"][-n:])
            r["m_signed_mean"] = r["m_mean"]
            r["m_mean"], r["m_err"], _, _ = _stats(tr)
        rm = realised_model(model, r["alpha"])
        tp = theory_point(rm, rm.alpha, r["m_mean"], V=V)
        if model.attention == "linear":
            # R-hat between the starts on |m| (the sign of m is a symmetry, not a branch)
            from . import diagnostics

            same = [q for q in rows if q["alpha"] == r["alpha"]]
            block = np.stack([np.abs(q["traces"]["m"][-q["n_samples"]:]) for q in same])
            try:
                r["rhat_between"] = float(diagnostics.split_rhat(block)) if len(same) > 1 else float("nan")
            except ParameterError:
                r["rhat_between"] = float("nan")
        r["theory_branch"] = tp.branch
        r["theory_m"] = tp.m
        r["theory_m_corrected"] = tp.m_corrected
        r["theory_r"] = tp.r
        r["theory_n_stable"] = tp.n_stable
        ref = tp.m_corrected if tp.m_corrected is not None else tp.m
        r["deviation"] = r["m_mean"] - ref
        if model.attention == "linear":
            # one loop: transverse Gaussian fluctuations of the T^2 scores (+ qk prior prefactor),
            # <|m|> from the exact 1-D integral over m (theory/one_loop.py, derivations/08_one_loop.py)
            if r["alpha"] not in one_loop:
                from copyhead.theory.one_loop import one_loop_linear

                ol = one_loop_linear(rm, rm.alpha, V)
                one_loop[r["alpha"]] = (ol["m_abs_mean"], ol["r_mean"])
            r["theory_m_1loop"], r["theory_r_1loop"] = one_loop[r["alpha"]]
            r["deviation_1loop"] = r["m_mean"] - r["theory_m_1loop"]
    return rows


def format_verify_table(rows) -> str:
    loop = any("theory_m_1loop" in r for r in rows)
    head = (f"{'alpha':>7s} {'start':>8s} {'<m>':>8s} {'+-':>7s} {'<r>':>7s} {'acc':>5s} {'R-hat':>6s} "
            f"{'branch':>10s} {'m_inf':>7s} {'m_1/V':>7s} {'dev':>8s}")
    if loop:
        head += f" {'m_1loop':>7s} {'dev_1l':>8s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        mc = r["theory_m_corrected"]
        line = (
            f"{r['alpha']:7.3f} {r['start']:>8s} {r['m_mean']:8.4f} {r['m_err']:7.4f} {r['r_mean']:7.4f} "
            f"{r['acceptance']:5.2f} {r['rhat']:6.3f} {r['theory_branch']:>10s} {r['theory_m']:7.4f} "
            f"{(f'{mc:7.4f}' if mc is not None else '   lost')} {r['deviation']:+8.4f}"
        )
        if loop:
            line += f" {r['theory_m_1loop']:7.4f} {r['deviation_1loop']:+8.4f}"
        lines.append(line)
    if loop:
        lines.append("(linear: <m> is <|m|>; m_1/V is the saddle point of F - e1/V, m_1loop the one-loop <|m|>)")
    return "\n".join(lines)


def plot_verify(rows, model: Model, path, window=None):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from copyhead.numerics.plotting import plot_branches
    from copyhead.numerics.solve import solve

    from copyhead.numerics.finite_size import _solved, realised_model

    alphas = [r["alpha"] for r in rows]
    rm = realised_model(model, float(np.median(alphas)))
    lo, hi = 0.85 * min(alphas), 1.15 * max(alphas)
    auto = _solved(rm.replace(alpha=None)).alpha_range
    res = solve(rm.replace(alpha=None), alpha_range=(min(lo, auto[0]), max(hi, auto[1])))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    plot_branches(res, ax=ax)
    win = window
    if win and win[1] is not None:
        ax.axvspan(win[0], win[1], color="tab:purple", alpha=0.08, label=f"spinodal window with e1/V (V={model.V})")
    for start, mk, col in (("uniform", "o", "k"), ("copy", "s", "tab:green")):
        sel = [r for r in rows if r["start"] == start]
        if sel:
            ax.errorbar([r["alpha_effective"] for r in sel], [r["m_mean"] for r in sel],
                        yerr=[max(r["m_err"], 1e-12) for r in sel], fmt=mk, color=col, ms=5, capsize=3,
                        mfc="none", label=f"HMC V={model.V}, {start} start")
            sc = [r for r in sel if r.get("theory_m_corrected") is not None]
            ax.plot([r["alpha_effective"] for r in sc], [r["theory_m_corrected"] for r in sc], "_", color="tab:purple",
                    ms=12, mew=2)
    ax.plot([], [], "_", color="tab:purple", ms=12, mew=2, label="theory with e1/V")
    ax.set_xlim(lo, hi)
    ax.legend(fontsize=7)
    from copyhead.numerics.plotting import save_figure

    return save_figure(fig, path)


def linear_lag(rows, model: Model, m_star: float = 0.5):
    """Lag of the MC onset: ``alpha_MC(m*) - alpha_theory(m*)`` at the level ``<|m|> = m*``.

    ``alpha_MC(m*)`` interpolates the MC ``<|m|>`` (linear in alpha between the bracketing rows,
    starts pooled); the theory value is found by bisection on the V = inf branch and on the
    e1/V-corrected one (``theory_compare``). A horizontal shift at fixed m is insensitive to
    the finite-size rounding near m = 0.
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

    def bisect(f, lo, hi):
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if f(mid) < m_star else (lo, mid)
        return 0.5 * (lo + hi)

    rm = realised_model(model, a_mc)
    from copyhead.theory.landau import critical_alpha

    ac = critical_alpha(rm.T, rm.nu, rm.sigma2)
    m_inf = lambda x: theory_point(rm, x, 1.0).m
    m_cor = lambda x: theory_point(rm, x, 1.0, V=model.V).m_corrected
    a_inf = bisect(m_inf, ac * (1 + 1e-9), 3 * ac)
    a_cor = bisect(m_cor, 0.5 * ac, 3 * ac)
    return {"m_star": m_star, "alpha_mc": float(a_mc), "alpha_theory_inf": float(a_inf), "alpha_theory_V": float(a_cor),
            "lag_inf": float(a_mc - a_inf), "lag_V": float(a_mc - a_cor)}
