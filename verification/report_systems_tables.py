"""Render ``results/SYSTEMS.md``: the measured tables of the new systems, from the files of ``results/``.

Pure formatting of the summaries that :mod:`copyhead.verification.report_systems` committed (no
computation here), like :mod:`copyhead.verification.report_tables` for ``verification/RESULTS.md``:
the scaling of alpha_c with the sequence length, the window copier's HMC and Adam runs, the induction
head's roles and data-size study, and the in-context regression's patterns, risks and posterior.
"""
from __future__ import annotations

from typing import Dict, List

from .report_format import GENERATED, command, commit, f, g, pm, rel, table, wall

SYSTEMS_MD = "results/SYSTEMS.md"


def _intro() -> str:
    return "\n".join([
        GENERATED, "", "# Measured results of the new systems", "",
        "Every number below is read from the committed result files in `results/` (small JSON summaries of the "
        "commands' outputs, made by `copyhead report --collect DIR`: traces left out, each file's provenance "
        "kept). With each table: the command that made it, the code's git commit and the wall time. The "
        "machine is the shared 2-core CPU VM of `benchmarks/RESULTS.md` (no GPU); other developers' runs "
        "shared it, so wall times are inflated by contention. The copy-head verification is in "
        "`verification/RESULTS.md`.", ""])


# --------------------------------------------------------------------------- scaling in T
ALPHA_LAWS = ("leading", "first_correction", "next", "asymptotic", "exact")
OTHER_LAWS = ("spinodal_low", "spinodal_low_asymptotic", "spinodal_high", "m_above")
FAMILY_ORDER = ("softmax_qk_posterior", "softmax_qk_map", "softmax_gaussian_posterior", "softmax_gaussian_map",
                "linear_qk_posterior", "linear_qk_map", "linear_gaussian_posterior", "linear_gaussian_map")


def _family(doc: dict) -> str:
    m = doc["model"]
    return f"{m['attention']}_{m['prior']}_{m['objective']}"


UNNAMED_LAWS = {"spinodal_low_asymptotic": "the lower spinodal of the asymptotic reduced problem (where its copy "
                                           "minimum appears; `theory/scaling.py`)"}


def _law_text(law: dict, key: str) -> str:
    v = law.get(key if key != "m_above" else "m_at_transition")
    return v.get("text", "") if isinstance(v, dict) else UNNAMED_LAWS.get(key, "")


def _scaling_one(doc: dict) -> str:
    m, law, rows = doc["model"], doc["law"], doc["rows"]
    keys = [k for k in ALPHA_LAWS if any(f"rel_err_{k}" in r for r in rows)]
    other = [k for k in OTHER_LAWS if any(r.get(f"rel_err_{k}") is not None for r in rows)]
    out = [f"### {m['attention']} / {m['prior']} / {m['objective']} (ν = {m['nu']:g}, σ² = {m['sigma2']:g}, "
           f"κ = {m['kappa']:g})", "",
           f"{command(doc)} ({commit(doc)}; {wall(doc)} of solving). Laws (relative error = law/solver − 1):", ""]
    out += [f"- `{k}`: {_law_text(law, k)}" for k in keys + other]
    out.append("")
    body = []
    for r in rows:
        if r.get("error"):
            body.append([str(r["T"]), f"failed: {r['error']}"] + [""] * (5 + len(keys)))
            continue
        body.append([str(r["T"]), r["transition"] + ("" if r.get("converged") else " (not converged)"),
                     g(r["alpha_c"], 8), g(r.get("alpha_spinodal_low")), g(r.get("alpha_spinodal_high")),
                     g(r.get("m_above"), 3), g(r.get("P_c_over_V2"))] + [rel(r.get(f"rel_err_{k}")) for k in keys])
    out.append(table(["T", "transition", "α_c", "α_sp⁻", "α_sp⁺", "m_above", "P_c/V² = κα_c/T"]
                     + [f"rel. err. `{k}`" for k in keys], body))
    if other:
        out += ["", table(["T"] + [f"rel. err. `{k}`" for k in other],
                          [[str(r["T"])] + [rel(r.get(f"rel_err_{k}")) for k in other] for r in rows])]
    shrink = law.get("error_shrinks") or {}
    if shrink:
        out += ["", f"Relative error shrinking with T (T ≥ {law.get('error_shrinks_for_T_at_least')}): "
                + ", ".join(f"`{k}` {v if isinstance(v, str) else {True: 'yes', False: 'no'}.get(v, '–')}"
                            for k, v in shrink.items()) + "."]
    return "\n".join(out + [""])


def render_scaling(runs: List[dict]) -> str:
    order = {k: i for i, k in enumerate(FAMILY_ORDER)}
    runs = sorted(runs, key=lambda r: (order.get(_family(r["doc"]), len(order)), r["name"]))
    out = ["## Scaling with the sequence length", "",
           "The V = ∞ theory solved at each T (`copyhead scaling`, README \"Scaling with the sequence length\"; the "
           "laws are derived in `derivations/09_scaling_T.py`). α_c is the transition (coexistence, critical point "
           "or crossover), α_sp∓ the spinodals, m_above the copy weight just above α_c; P_c/V² = κα_c/T is the "
           "critical number of sequences per V².", ""]
    return "\n".join(out + [_scaling_one(r["doc"]) for r in runs])


# --------------------------------------------------------------------------- window copier
def _matrix(M, digits: int = 3) -> str:
    return "[" + "; ".join(" ".join(f"{v:.{digits}f}" for v in row) for row in M) + "]"


def _phase(r: dict) -> str:
    """The V = inf stationary state nearest to the run's M (``saddle`` when not stable), with its distance."""
    if not r.get("phase"):
        return "–"
    return f"{r['phase']}{'' if r.get('phase_stable', True) else ' (saddle)'} ({f(r.get('phase_distance'), '.3f')})"


def _window_hmc(doc: dict) -> str:
    m = doc["model"]
    tr = doc.get("theory_transition") or {}
    out = [f"### HMC: {m['attention']}, H = {m['heads']}, K = {m['parents']}, T = {m['T']}, ν = {m['nu']:g}, "
           f"σ² = {m['sigma2']:g}, V = {m['V']} (N = {doc['N']})", "",
           f"{command(doc)} ({commit(doc)}; {wall(doc)}): {doc['iters']} iterations after {doc['warmup']} of "
           f"warm-up, {doc['n_leapfrog']} leapfrog steps, one data set per α shared by the starts (seed "
           f"{doc['seed']}). V = ∞ transition {tr.get('from', '–')} → {tr.get('to', '–')} ({tr.get('kind', '–')}) "
           f"at α = {g(tr.get('alpha'), 6)}, spinodals [{g(tr.get('alpha_spinodal_low'), 5)}, "
           f"{g(tr.get('alpha_spinodal_high'), 5)}]. q = σ_K(M) (specialisation), ⟨M⟩ = posterior mean of the "
           "copy weights m_hk (rows: heads, columns: parents); theory: the V = ∞ stable states at that α, "
           "lowest F first, with q and the alignment a. ⟨a⟩: the alignment averaged over the draws where a head copies.", ""]
    body = []
    for r in doc["rows"]:
        th = "; ".join(f"{t['phase']} q = {t['q']:.3f}, a = {f(t.get('a'), '.3f')}" for t in r["theory"]) or "–"
        body.append([f"{r['alpha']:g}", r["start"], f"{r['q_first']:.3f}", pm(r["q_mean"], r["q_mcse"]),
                     f"{f(r.get('a_mean'), '.3f')} ({f(r.get('a_defined'), '.2f')})", _matrix(r["M_mean"]),
                     f(r.get("m_mcse_max"), ".4f"), _phase(r), f"{r['acceptance']:.2f}", str(r["divergences"]), th])
    out.append(table(["α", "start", "q at the start", "⟨q⟩ ± MCSE", "⟨a⟩ (fraction of draws with a copying head)",
                      "⟨M⟩", "max MCSE of m_hk", "nearest V = ∞ state (distance)", "acceptance", "divergences",
                      "theory (V = ∞)"], body))
    return "\n".join(out + [""])


def _window_adam(doc: dict) -> str:
    m = doc["model"]
    out = [f"### Adam (MAP) from a symmetric start: {m['attention']}, H = {m['heads']}, K = {m['parents']}, "
           f"T = {m['T']}, ν = {m['nu']:g}, σ² = {m['sigma2']:g}, V = {m['V']}", "",
           f"{command(doc)} ({commit(doc)}; {wall(doc)}): {doc['steps']} steps, lr {doc['lr']:g} (cosine decay), "
           f"heads equal at the start up to a relative perturbation {doc['eps']:g}, seed {doc['seed']}. Symmetry "
           "broken: first recorded step with q > 0.05; copying: first recorded step with coverage "
           "(1/K) Σ_k max_h m_hk > 2/T.", ""]
    body = [[f"{r['alpha']:g}", f"{r['q_final']:.4f}", f(r.get("a_final"), ".3f"), _matrix(r["M_final"]), _phase(r),
             f(r.get("break_step"), "d"), f(r.get("copy_step"), "d"), f"{r['loss_per_V2']:.6g}",
             f"{r['grad_norm']:.1e}"] for r in doc["rows"]]
    out.append(table(["α", "q final", "a final", "M final", "nearest V = ∞ state (distance)", "symmetry broken at step",
                      "copying from step", "U/V²", "\\|∇U\\|"], body))
    return "\n".join(out + [""])


def render_window(hmc: List[dict], adam: List[dict]) -> str:
    out = ["## Window copier: HMC and Adam at finite V (`copyhead window-study`)", ""]
    out += [_window_hmc(r["doc"]) for r in sorted(hmc, key=lambda r: r["name"])]
    out += [_window_adam(r["doc"]) for r in sorted(adam, key=lambda r: r["name"])]
    return "\n".join(out)


# --------------------------------------------------------------------------- the file
def render_systems(res: Dict[str, List[dict]]) -> str:
    """The text of ``results/SYSTEMS.md`` from :func:`copyhead.verification.report.load_results`."""
    from .report_icl import render_icl
    from .report_induction import render_induction

    parts = [_intro()]
    if res.get("scaling"):
        parts.append(render_scaling(res["scaling"]))
    if res.get("window_hmc") or res.get("window_adam"):
        parts.append(render_window(res.get("window_hmc", []), res.get("window_adam", [])))
    if res.get("induction") or res.get("induction_sweep"):
        parts.append(render_induction(res.get("induction", []), res.get("induction_sweep", [])))
    if res.get("icl"):
        parts.append(render_icl(res["icl"]))
    return "\n".join(parts).rstrip() + "\n"
