"""Render the in-context regression tables of ``results/SYSTEMS.md`` (pure formatting).

Training runs (``copyhead icl-regression``): one column per run, the rows of the README's former
hand-typed table (collapsed seeds, the heads of the reported seed, pattern deviations, when each seed
reached the pattern, the implicit step against the debiased-GD optimum, risks against debiased GD and
length generalisation). Posterior runs (``--posterior``): one row per (P, chain).
"""
from __future__ import annotations

from typing import List

import numpy as np

from .report_format import command, commit, f, pm, table, wall


def _setting(doc: dict) -> str:
    p = doc["params"]
    cov = f", Σ eigenvalues {','.join(f'{e:g}' for e in p['cov_eigs'])}" if p.get("cov_eigs") else ", Σ = I"
    return f"{p['attention']}, d = {p['d']}, L = {p['L']}, H = {p['heads']}, σ² = {p['sigma2']:g}{cov}"


def _at(risk: dict, key: str, L: int):
    vals = risk.get(key)
    return None if vals is None or L not in risk["L"] else vals[risk["L"].index(L)]


def _pattern_steps(doc: dict) -> str:
    out = []
    for s in doc["per_seed"]:
        step = "collapsed" if s["collapsed"] else ("not yet" if s.get("pattern_step") is None else str(s["pattern_step"]))
        out.append(f"{s['seed']}: {step}")
    return ", ".join(out)


def _train_column(doc: dict) -> List[str]:
    pat, risk, L = doc["patterns"], doc["risk"], doc["train_L"]
    lo, hi = min(risk["L"]), max(risk["L"])
    step_opt = float(np.trace(np.asarray(doc["debiased_step"]))) / doc["params"]["d"]
    heads = ", ".join(f"({h['omega']:+.3f}, {h['mu']:+.3f})" for h in doc["heads"])
    linear = "–" if "model_linear" not in risk else \
        f"{f(_at(risk, 'model_linear', L))} / {f(_at(risk, 'model_linear', hi))}"
    return [
        _setting(doc), f"{len(doc['seeds'])} × {doc['steps']} steps, batch {doc['batch']}, lr {doc['lr']:g}",
        f"{doc['n_collapsed']} of {len(doc['per_seed'])}", str(doc["best_seed"]), heads,
        f"{pat['iso_dev']:.3f}, {pat['y_row']:.3f}, {pat['ov_x']:.3f}; {pat['zero_sum']:.4f}",
        _pattern_steps(doc), f"{pat['step_eff']:.4f} (optimum {step_opt:.4f})",
        f"{pat['align_target']:.4f} / {pat['align_identity']:.4f}",
        f"{f(_at(risk, 'model', L))} ({pm(_at(risk, 'model_minus_debiased', L), _at(risk, 'model_minus_debiased_se', L), '+.4f')})",
        f"{f(_at(risk, 'debiased_gd', L))}; ridge {pm(_at(risk, 'ridge', L), _at(risk, 'ridge_se', L), '.6f')}; "
        f"single head {pm(_at(risk, 'single_head', L), _at(risk, 'single_head_se', L), '.3f')}",
        f"{f(_at(risk, 'model', lo))} / {f(_at(risk, 'model', hi))} (debiased GD {f(_at(risk, 'debiased_gd', lo))} / "
        f"{f(_at(risk, 'debiased_gd', hi))})",
        linear, f"{wall(doc)} ({commit(doc)})"]


TRAIN_ROWS = [
    "setting", "training (seeds × steps)", "collapsed seeds", "reported seed", "heads (ω_h, μ_h) of the reported seed",
    "iso_dev, y_row, ov_x (weighted); zero_sum", "pattern reached at step (per seed)",
    "step tr Γ_eff/d (debiased-GD optimum)", "alignment of Γ_eff with the optimal preconditioner / with I",
    "risk at the training L (model − debiased GD, paired)", "debiased GD at the training L; ridge; best single head",
    "risk at the shortest / longest test L", "linear attention at the training / longest L", "wall time (commit)"]


def render_train(runs: List[dict]) -> str:
    docs = [r["doc"] for r in runs]
    cols = [_train_column(d) for d in docs]
    body = [[name] + [c[i] for c in cols] for i, name in enumerate(TRAIN_ROWS)]
    head = [""] + [f"`{r['name']}`" for r in runs]
    cmds = [f"- `{r['name']}`: {command(r['doc'])}" for r in runs]
    return "\n".join(["### Trained attention (Adam)", "",
                      "Reported seed (`best_seed`): the non-collapsed seed with the lowest risk at the training L. "
                      "Pattern reached: the first recorded step from which iso_dev (offdiag for anisotropic Σ) and "
                      "zero_sum stay ≤ 0.1. Risks E(ŷ − y_q)² by Monte Carlo on fresh prompts (± one standard "
                      "error; model − debiased GD paired on common prompts).", "", table(head, body), "", "Commands:", ""]
                     + cmds + [""])


def _rhat(metric: dict) -> str:
    parts = [f"{s} {f(metric[s].get('rhat'), '.2f')}" for s in ("prior", "pattern") if isinstance(metric.get(s), dict)]
    return ", ".join(parts) or "–"


def render_posterior(run: dict) -> str:
    doc = run["doc"]
    met_names = ("iso_dev", "gamma_iso_dev", "zero_sum", "collapsed")
    body = []
    for r in doc["posterior"]:
        m = r["metrics"]
        for i, start in enumerate(r["starts"]):
            body.append([str(r["P"]), f"{i} ({start})"] + [f(m[k]["per_chain"][i], ".3f") for k in met_names]
                        + [f(r["risk_per_chain"][i], ".3f"), f(r["logp_mean_per_chain"][i], ".0f"),
                           f"{r['acceptance'][i]:.2f}", str(r["divergences"][i]),
                           _rhat(m["iso_dev"]) if i == 0 else ""])
    h = doc["hmc"]
    text = [f"### Posterior over KQ (`{run['name']}`)", "",
            f"{command(doc)} ({commit(doc)}; {wall(doc)}). {_setting(doc)}; {h['chains']} chains per P "
            f"({h['warmup']} warm-up + {h['iters']} iterations, {h['leapfrog']} leapfrog steps), prior std "
            f"{doc['params']['prior_kq']:g} on KQ and {doc['params']['prior_ov']:g} on OV (integrated out). Per chain: "
            "the mean over its kept draws; `collapsed`: the fraction of draws in the same-sign collapsed mode; "
            "risk: population risk of the posterior draws; log posterior: its mean over the draws. Prior mean of "
            f"the per-head iso_dev {doc['prior_iso_dev']:.3f}; debiased GD risk {doc['debiased_gd']:.4f}. R-hat of "
            "iso_dev across the chains of one start.", "",
            table(["P", "chain (start)", "iso_dev", "iso_dev of Γ_eff", "zero_sum", "collapsed", "risk",
                   "log posterior", "acceptance", "divergences", "R-hat iso_dev"], body), ""]
    return "\n".join(text)


def render_icl(runs: List[dict]) -> str:
    train = [r for r in runs if r["doc"]["mode"] == "train"]
    post = [r for r in runs if r["doc"]["mode"] == "posterior"]
    out = ["## In-context linear regression (`copyhead icl-regression`)", ""]
    if train:
        out.append(render_train(train))
    out += [render_posterior(r) for r in post]
    return "\n".join(out)
