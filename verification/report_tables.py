"""Render ``verification/RESULTS.md`` and the benchmark tables from the files of ``results/``.

Pure formatting of :func:`copyhead.verification.report.load_results` (no sampling, no theory
computed here: the theory numbers are in the ``*.report.json`` files written by ``copyhead report
--collect``), so that ``copyhead report --check`` is fast and deterministic.

``benchmarks/RESULTS.md`` keeps its prose; each table sits between the markers
``<!-- copyhead report: table FILE -->`` and ``<!-- /copyhead report -->`` and is rendered from
``results/FILE`` (the JSON of ``python benchmarks/run.py --json``).
"""
from __future__ import annotations

import math
import os
import re
from typing import Dict, List, Optional

import numpy as np

from copyhead.theory.model import ParameterError

from .report_format import GENERATED, f, pm, table
from .report_format import command as _cmd
from .report_format import wall as _wall


def _span(vals, fmt=".2f") -> str:
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    lo, hi = min(vals), max(vals)
    return f"{lo:{fmt}}" if format(lo, fmt) == format(hi, fmt) else f"{lo:{fmt}}–{hi:{fmt}}"


def _by(items: List[dict], key) -> List[dict]:
    return sorted(items, key=key)


# --------------------------------------------------------------------------- sections
def _methods() -> str:
    return "\n".join([
        "## Method choices that matter",
        "",
        "- **Where chains begin.** `verify`: per α one data set and two chains, a prior draw (\"uniform\") and a "
        "copy start. The copy start (`--copy-start theory`, the default) puts the scores on the V = ∞ copy branch "
        "at the run's realised α (S = s(J − 11ᵀ/T) with that branch's s, or its fold where the branch does not "
        "exist; linear: the ordered branch's m, or m = 1) plus prior-scale noise. `--copy-start fixed` starts at "
        "s = log V + 3 (m ≈ 0.98): from there 2–6 of 8 chains relax into the *disordered* basin at V = 16, "
        "α = 24.5–25.5 (tests/physics/test_hysteresis_V16.py, a known failure), so the branch a copy chain ends "
        "on depends on where it begins. `switching` starts its copy chains at s = log V + 3 (V = 8: the "
        "chains switch anyway; the first dwell after the warm-up is part of the statistics). `train` copy init: "
        "S = (log V + 3)(J − 11ᵀ/T) (softmax) or S = J (linear), minimum-norm factorisation plus a 0.01 "
        "perturbation, W at the readout posterior mean; `langevin` copy init: the same S factorised exactly, W a "
        "prior draw; prior init: a prior draw of Q, K (and W).",
        "- **Data seeds follow each α's position in `--alphas`**, not its value "
        "(`SeedSequence(seed).spawn(len(alphas) + 1)`): changing the list changes the data. The seeds are in "
        "the result files. `switching` runs `chains/2` sweeps with seeds `seed + 1000 r`: every replica r "
        "has its own data set at every α.",
        "- **Statistics**: post-warm-up draws only; ESS, MCSE and split R-hat are ArviZ's "
        "(`ess(method=\"mean\")`, `mcse(method=\"mean\")`, `rhat(method=\"split\")`). Linear attention: "
        "⟨\\|m\\|⟩ (S → −S is a symmetry of the posterior), R-hat between starts on \\|m\\|.",
        "- **Theory at the run's sizes**: N = round(νV²), P = round(ακV²/T); the theory is evaluated at the "
        "realised α = PT/(κV²) and ν = N/V². \"theory e1/V\" is the minimum of F − e1/V nearest the chain "
        "(its branch); \"V = ∞\" the V = ∞ minimum of the same branch (– where V = ∞ has none there).",
        "- **Switching**: a draw is on the copy branch when m exceeds the saddle of F − e1/V at its coexistence. "
        "*Switches* count every change of side between consecutive draws; *transitions* count core-to-core "
        "passages only (cores: beyond the midpoints between the saddle and each minimum), so that flicker on the "
        "barrier top is not counted. A chain with one transition *escaped* (left, never came back); two or more "
        "is *equilibrium* switching. α_c(V) from the time fractions: zero of a least-squares line through "
        "logit f (points with 0.01 < f < 0.99), error by jackknife over chains "
        "(`verification/switching.py`), and the spread over the independent data-set replicas.",
        "- **Machine**: the 2-core CPU machine of `benchmarks/RESULTS.md` (no GPU, torch on 1 thread), shared "
        "with other developers' long runs while these studies ran: the wall times quoted are inflated by "
        "contention.",
    ])


def _verify_softmax(runs: List[dict]) -> str:
    out = ["## Softmax posterior: HMC over (Q, K) with W integrated (two starts per α on one data set)", ""]
    summary = []
    for run in _by(runs, lambda r: r["doc"]["params"]["V"]):
        d, der = run["doc"], run["derived"] or {}
        p, rows = d["params"], d["rows"]
        win, winf = der.get("window_V"), der.get("window_inf") or [None, None]
        dis = [c["alpha"] for c in d["comparison"] if c["disagree"]]
        outside = [a for a in dis if not (win and win[0] <= _alpha_eff(rows, a) <= win[1])]
        worst = max(rows, key=lambda r: abs(r["deviation"]))
        zmax = max(abs(r["deviation"]) / r["m_err"] for r in rows if r["m_err"])
        summary.append([p["V"], f"{p['iters']} ({p['warmup']}), L = {p['n_leapfrog']}",
                        f"[{f(win[0], '.2f')}, {f(win[1], '.2f')}]" if win else "none",
                        ", ".join(f"{a:g}" for a in dis) or "none", ", ".join(f"{a:g}" for a in outside) or "none",
                        f"{abs(worst['deviation']):.4f} (α = {worst['alpha']:g}, {worst['start']})", f"{zmax:.1f}",
                        _span([r["acceptance"] for r in rows]), f"{max(r['rhat'] for r in rows):.3f}", _wall(d)])
    out.append(table(["V", "iterations (warm-up)", "finite-V spinodal window (F − e1/V)", "start-dependent α",
                      "outside the window", "max \\|⟨m⟩ − theory e1/V\\|", "max \\|dev\\|/MCSE", "acceptance",
                      "max R-hat", "wall"], summary))
    winf = (runs[0]["derived"] or {}).get("window_inf") or [None, None]
    out += ["", _copy_branch_scaling(runs)] if len(runs) > 1 else []
    out += ["", f"V = ∞ window [{f(winf[0], '.2f')}, {f(winf[1], '.2f')}], coexistence "
                f"{f((runs[0]['derived'] or {}).get('alpha_c_inf'), '.2f')}. Start-dependent: \\|Δm\\| > 4σ or "
                "R-hat between the starts > 1.1.", ""]
    for run in _by(runs, lambda r: r["doc"]["params"]["V"]):
        d = run["doc"]
        out += [f"V = {d['params']['V']}: {_cmd(d)}", ""]
        out.append(table(["α", "start", "⟨m⟩ ± MCSE", "ESS", "R-hat", "branch", "theory V = ∞", "theory e1/V",
                          "dev", "dev/MCSE"],
                         [[f"{r['alpha']:g}", r["start"], pm(r["m_mean"], r["m_err"]), f(r["ess"], ".0f"),
                           f(r["rhat"], ".3f"), r["theory_branch"], f(r["theory_m"]), f(r["theory_m_corrected"]),
                           f(r["deviation"], "+.4f"), f(r["deviation"] / r["m_err"] if r["m_err"] else None, "+.1f")]
                          for r in d["rows"]]))
        out.append("")
    return "\n".join(out)


def _copy_branch_scaling(runs: List[dict]) -> str:
    """How the copy-branch deviation from F - e1/V shrinks between the two largest V (mean over the
    chains on the copy branch at each alpha both runs share): the exponent p of |dev| ~ V^-p."""
    a, b = sorted(runs, key=lambda r: r["doc"]["params"]["V"])[-2:]
    Va, Vb = a["doc"]["params"]["V"], b["doc"]["params"]["V"]

    def dev(run, alpha):
        d = [r["deviation"] for r in run["doc"]["rows"] if r["alpha"] == alpha and r["theory_branch"] == "copy"]
        return float(np.mean(d)) if d else None

    parts = []
    for alpha in sorted({r["alpha"] for r in a["doc"]["rows"]} & {r["alpha"] for r in b["doc"]["rows"]}):
        da, db = dev(a, alpha), dev(b, alpha)
        if da is not None and db is not None and da * db > 0:
            parts.append(f"α = {alpha:g}: {da:+.4f} → {db:+.4f}, p = {math.log(da / db) / math.log(Vb / Va):.1f}")
    if not parts:
        return ""
    return (f"On the copy branch the deviation from F − e1/V is systematic (many MCSE) and shrinks from V = {Va} to "
            f"V = {Vb} like V^−p (mean over the copy-branch chains): " + "; ".join(parts) + "; consistent with the next "
            "order, O(1/V²) (Gaussian fluctuations inside the copy basin), which F − e1/V does not contain.")


def _alpha_eff(rows, alpha):
    """The realised alpha of the nominal ``alpha``."""
    return next(r["alpha_effective"] for r in rows if r["alpha"] == alpha)


def _pair_mean(rows, alpha, key="m_mean"):
    v = [r[key] for r in rows if r["alpha"] == alpha]
    return float(np.mean(v)) if v else None


def _verify_linear(runs: List[dict]) -> str:
    out = ["## Linear posterior", ""]
    summ, loop = [], []
    for run in _by(runs, lambda r: r["doc"]["params"]["V"]):
        d, der = run["doc"], run["derived"] or {}
        V, rows = d["params"]["V"], d["rows"]
        lag = der.get("lag") or {}
        alphas = sorted({r["alpha"] for r in rows})
        dev10 = _pair_mean(rows, 10.0, "deviation")
        big = [abs(r["deviation"]) for r in rows if r["alpha"] >= 9]
        r3 = _pair_mean(rows, min(alphas), "r_mean")
        N = d["params"]["N"]
        summ.append([V, f(dev10, "+.4f"), f(max(big) if big else None), f(lag.get("lag_inf"), "+.3f"),
                     f(lag.get("lag_inf") * V * V if lag.get("lag_inf") is not None else None, ".0f"),
                     f"{f(r3)} ({d['params']['T'] / N:.4f})",
                     f"{max(r['rhat_between'] for r in rows if r['rhat_between'] is not None):.3f}", _wall(d)])
        d1 = [(r["alpha"], abs(r["deviation_1loop"]), r["m_err"]) for r in rows]
        hi = [x for x in d1 if x[0] >= 7.5]
        w_all = max(d1, key=lambda x: x[1])
        w_hi = max(hi, key=lambda x: x[1]) if hi else None
        at10 = [r for r in rows if r["alpha"] == 10.0]
        loop.append([V, f"{w_hi[1]:.4f} (α = {w_hi[0]:g})" if w_hi else "–", f"{w_all[1]:.4f} (α = {w_all[0]:g})",
                     f"{max(x[1] / x[2] for x in hi if x[2]):.1f}" if hi else "–",
                     (f"{_pair_mean(rows, 10.0):.4f} / {at10[0]['theory_m_1loop']:.4f}" if at10 else "–")])
    out.append(table(["V", "⟨\\|m\\|⟩ − theory e1/V at α = 10", "max \\|dev\\| for α ≥ 9",
                      "lag of ⟨\\|m\\|⟩ = 0.5 vs V = ∞", "lag · V²", "⟨r⟩ at the smallest α (T/N)",
                      "max R-hat between starts", "wall"], summ))
    out += ["", "The lag scales as 1/V² ∝ T/N: transverse score fluctuations, not contained in F − e1/V. The "
                "one-loop theory (`theory/one_loop.py`, `derivations/08_one_loop.py`: Gaussian fluctuations of the "
                "T² − 1 transverse scores, the O(1) prefactor of the Wishart density of QᵀK/N, the exact 1-D "
                "integral over m) removes it (both starts per α; ⟨\\|m\\|⟩ averaged over the two starts at α = 10):", ""]
    out.append(table(["V", "max \\|⟨\\|m\\|⟩ − one loop\\| for α ≥ 7.5", "max over all α",
                      "max \\|dev\\|/MCSE for α ≥ 7.5", "α = 10: HMC / one loop"], loop))
    out.append("")
    for run in _by(runs, lambda r: r["doc"]["params"]["V"]):
        d = run["doc"]
        out += [f"V = {d['params']['V']}: {_cmd(d)}", ""]
        out.append(table(["α", "start", "⟨\\|m\\|⟩ ± MCSE", "R-hat between starts", "theory e1/V", "one loop",
                          "dev (one loop)", "dev/MCSE"],
                         [[f"{r['alpha']:g}", r["start"], pm(r["m_mean"], r["m_err"]), f(r["rhat_between"], ".3f"),
                           f(r["theory_m_corrected"]), f(r["theory_m_1loop"]), f(r["deviation_1loop"], "+.4f"),
                           f(r["deviation_1loop"] / r["m_err"] if r["m_err"] else None, "+.1f")] for r in d["rows"]]))
        out.append("")
    return "\n".join(out)


def _minima(der: Optional[dict], obj: str, alpha) -> str:
    ms = ((der or {}).get(obj) or {}).get(str(alpha))
    return " / ".join(f"{m:.4f}" for m in ms) if ms else "–"


def _train(runs: List[dict]) -> str:
    out = ["## Adam = MAP", ""]
    for run in _by(runs, lambda r: r["doc"]["model"]["attention"]):
        d, der = run["doc"], run["derived"]
        rows = d["rows"]
        att = d["model"]["attention"]
        out += [f"{att}, V = {d['model']['V']}, lr {d['lr']} (cosine decay), {d['steps']} steps: {_cmd(d)} "
                f"(wall {_wall(d)}); max \\|dev\\| from the MAP minimum (e1_MAP/V) of its branch "
                f"{max(abs(r['deviation']) for r in rows):.4f}, max \\|∇U\\| at the end "
                f"{max(r['grad_norm'] for r in rows):.1e}", ""]
        by = {}
        for r in rows:
            by.setdefault(r["alpha"], {})[r["init"]] = r
        body = []
        for a in sorted(by):
            pr, cp = by[a].get("prior"), by[a].get("copy")
            left = pr is not None and pr["theory_branch"] in ("copy", "ordered")
            body.append([f"{a:g}", f(pr and pr["m_final"]), f(cp and cp["m_final"]), _minima(der, "map", a),
                         f"{pr['jump_step']:g} ({f(pr['sharpness'], '.2f')})" if left and pr.get("jump_step") is not None
                         else "–", f(max(abs(r["deviation"]) for r in by[a].values()), ".4f")])
        out.append(table(["α", "prior init m", "copy init m", "MAP minima (e1_MAP/V)", "prior init: step of the jump (sharpness)",
                          "max \\|dev\\|"], body))
        out.append("")
    return "\n".join(out)


def _langevin(runs: List[dict]) -> str:
    out = ["## Temperature-1 dynamics on all weights (Q, K, W) lands on the posterior", ""]
    for run in _by(runs, lambda r: r["doc"]["model"]["attention"]):
        d, der = run["doc"], run["derived"]
        out += [f"{d['model']['attention']}, V = {d['model']['V']}, {d['method']}, {d['chains']} chains × "
                f"{d['iters']} iterations per init: {_cmd(d)} (wall {_wall(d)})", ""]
        out.append(table(["α", "init", "⟨m⟩ ± MCSE" + (" (⟨\\|m\\|⟩)" if d["model"]["attention"] == "linear" else ""),
                          "ESS", "acceptance", "posterior theory e1/V", "dev", "dev/MCSE", "MAP minima (e1_MAP/V)"],
                         [[f"{r['alpha']:g}", r["init"], pm(r["m_mean"], r["m_err"]), f(r["ess"], ".0f"),
                           f(r["accept"], ".2f"), f(r["theory_m_corrected"]), f(r["deviation"], "+.4f"),
                           f(r["deviation"] / r["m_err"] if r["m_err"] else None, "+.1f"),
                           _minima(der, "map", r["alpha"])] for r in d["rows"]]))
        out.append("")
    return "\n".join(out)


def _logit(p):
    return math.log(p / (1 - p)) if p is not None and 0 < p < 1 else None


def _switching(runs: List[dict]) -> str:
    """One subsection per vocabulary size ``V`` (runs at different V are never pooled)."""
    Vs = sorted({r["doc"]["V"] for r in runs})
    parts = ["## Branch switching at small V", ""]
    for V in Vs:
        if len(Vs) > 1:
            parts += [f"### V = {V}", ""]
        parts.append(_switching_at_V([r for r in runs if r["doc"]["V"] == V]))
    return "\n".join(parts)


def _switching_at_V(runs: List[dict]) -> str:
    from copyhead.verification.switching import fit_alpha_c

    out = []
    V = runs[0]["doc"]["V"]
    chains = [dict(c, run=run["name"]) for run in runs for c in (run["derived"] or {}).get("chains", [])]
    alphas = sorted({c["alpha"] for c in chains})
    for run in runs:
        d = run["doc"]
        out.append(f"- {_cmd(d)}: wall {_wall(d)}; α_c from the pooled time fractions "
                   f"{f(d['alpha_c_mc'], '.3f')} ± {f(d['alpha_c_mc_err'], '.3f')} (jackknife over chains)")
    out.append("")
    lo = (runs[0]["derived"] or {}).get("log_odds_one_loop", {})
    sets = {}  # data-set replicas: (run, replica) -> {alpha: fraction of its two chains}
    body = []
    for a in alphas:
        cs = [c for c in chains if c["alpha"] == a]
        per_set = {}
        for c in cs:
            per_set.setdefault((c["run"], c["replica"]), []).append(c["copy_fraction"])
        fs = np.array([np.mean(v) for v in per_set.values()])
        for k, v in per_set.items():
            sets.setdefault(k, {})[a] = float(np.mean(v))
        se = float(fs.std(ddof=1) / math.sqrt(len(fs))) if len(fs) > 1 else None
        cls = {k: sum(c["class"] == k for c in cs) for k in ("none", "escape", "equilibrium")}
        body.append([f"{a:g}", pm(float(fs.mean()), se, ".3f"), " ".join(f"{x:.3f}" for x in fs),
                     f"{sum(c['switches'] for c in cs)}", f"{sum(c['transitions'] for c in cs)}",
                     f"{cls['none']} / {cls['escape']} / {cls['equilibrium']}",
                     f(lo.get(str(a)), "+.2f"), f(_logit(float(fs.mean())), "+.2f")])
    out.append(table(["α", "copy fraction f ± SE over data sets", "f per data set", "switches",
                      "core transitions", "chains: stayed / escaped / equilibrium",
                      "one-loop log Z_copy − log Z_dis", "logit f"], body))
    acs = {k: fit_alpha_c(alphas, [v[a] for a in alphas]) for k, v in sets.items() if len(v) == len(alphas)}
    vals = np.array([v for v in acs.values() if v is not None])
    # the mean at each alpha over the replicas that sampled it (runs may have different alpha lists)
    pooled = fit_alpha_c(alphas, [float(np.mean([v[a] for v in sets.values() if a in v])) for a in alphas])
    d0 = runs[0]["doc"]
    text = f"α_c(V = {V}) from the mean time fraction over all {len(sets)} data-set replicas: **{f(pooled, '.3f')}**"
    if len(vals):
        text += "; per replica (each its own data sets): " + ", ".join(f"{v:.3f}" for v in vals)
    if len(vals) > 1:
        text += f" (mean {vals.mean():.3f}, standard error {vals.std(ddof=1) / math.sqrt(len(vals)):.3f})"
    text += "."
    if len(vals) < len(acs):
        text += f" {len(acs) - len(vals)} replica(s) did not bracket f = 1/2."
    out += ["", text, "",
            table(["theory for α_c(V = " + str(V) + ")", "value"],
                  [["V = ∞", f(d0["alpha_c_theory_inf"], ".3f")],
                   ["equal minima of F − e1/V", f(d0["alpha_c_theory_corrected"], ".3f")],
                   ["one loop, log Z_copy = log Z_dis (full T² Hessian + qk prefactor; `theory/one_loop_softmax.py`)",
                    f(d0["alpha_c_theory_one_loop"], ".3f")]]), ""]
    return "\n".join(out)


def render_verification(res: Dict[str, List[dict]]) -> str:
    """The text of ``verification/RESULTS.md``."""
    parts = [GENERATED, "", "# Verification results (default model: T = 8, ν = 0.5, σ² = 0.1, κ = 1, qk prior)", "",
             "Every number below is read from the committed result files in `results/` (the JSON summaries "
             "written by the commands quoted with each table, and the `*.report.json` files that "
             "`copyhead report --collect` derives from them and from the runs' traces); seed 0 unless stated.", "",
             _methods(), ""]
    verify = res.get("verify", [])
    soft = [r for r in verify if r["doc"]["params"]["model"]["attention"] == "softmax"]
    lin = [r for r in verify if r["doc"]["params"]["model"]["attention"] == "linear"]
    if soft:
        parts.append(_verify_softmax(soft))
    if lin:
        parts.append(_verify_linear(lin))
    if res.get("train"):
        parts.append(_train(res["train"]))
    if res.get("langevin"):
        parts.append(_langevin(res["langevin"]))
    if res.get("switching"):
        parts.append(_switching(res["switching"]))
    return "\n".join(parts).rstrip() + "\n"


# --------------------------------------------------------------------------- benchmarks
MARKER = re.compile(r"(<!-- copyhead report: table (?P<file>[\w.\-]+) -->\n)(?P<body>.*?)(<!-- /copyhead report -->)",
                    re.S)


def benchmark_table(doc: dict) -> str:
    rows = [[r["name"], format(r["value"], ".4g"), r["unit"], r["target"], r["note"]] for r in doc["rows"]]
    return table(["benchmark", "value", "unit", "target", "note"], rows)


def render_benchmarks(text: str, res: Dict[str, List[dict]]) -> str:
    """``text`` with every marked table replaced by the rendering of its result file."""
    docs = {r["name"]: r["doc"] for r in res.get("benchmarks", [])}

    def repl(mo):
        name = mo.group("file")
        if name not in docs:
            raise ParameterError("results", name, "is named in benchmarks/RESULTS.md but missing from results/")
        return mo.group(1) + "\n" + benchmark_table(docs[name]) + "\n\n" + mo.group(4)

    return MARKER.sub(repl, text)


# --------------------------------------------------------------------------- the generated files
VERIFICATION_MD = "verification/RESULTS.md"
BENCHMARKS_MD = "benchmarks/RESULTS.md"
LANDSCAPE_DIR = "landscape"
"""The finite-size study's folder under results/ (``examples/landscape_study.py``): its ``RESULTS.md`` is
rendered by :func:`copyhead.verification.landscape_report.render_report` from the JSON files there."""


def render_all(results, root) -> Dict[str, str]:
    """``{relative path: text}`` of every generated file under ``root`` (``verification/RESULTS.md``;
    ``results/SYSTEMS.md`` when results/ holds results of the new systems or the file exists;
    ``benchmarks/RESULTS.md`` when it exists and has marked tables; and ``results/landscape/RESULTS.md``
    when it exists: the text only, its figures and ``report.json`` are drawn by
    ``python examples/landscape_study.py report``)."""
    from pathlib import Path

    from .report import load_results
    from .report_systems import SYSTEM_KINDS
    from .report_systems_tables import SYSTEMS_MD, render_systems

    res = load_results(Path(results))
    out = {VERIFICATION_MD: render_verification(res)}
    if any(res.get(k) for k in SYSTEM_KINDS) or (Path(root) / SYSTEMS_MD).exists():
        out[SYSTEMS_MD] = render_systems(res)
    bench = Path(root) / BENCHMARKS_MD
    if bench.exists():
        text = bench.read_text()
        if MARKER.search(text):
            out[BENCHMARKS_MD] = render_benchmarks(text, res)
    landscape = Path(results) / LANDSCAPE_DIR
    if (landscape / "RESULTS.md").exists():
        from .landscape_report import render_report

        out[os.path.relpath(landscape / "RESULTS.md", root)] = render_report(landscape)[0]
    return out


def stale(results, root) -> List[str]:
    """The generated files under ``root`` whose text differs from a fresh rendering (or are missing)."""
    from pathlib import Path

    bad = []
    for rel, text in render_all(results, root).items():
        p = Path(root) / rel
        if not p.exists() or p.read_text() != text:
            bad.append(rel)
    return bad
