"""Render the induction-head tables of ``results/SYSTEMS.md`` (roles of each run, their time course,
and the copier-versus-data sweep) from the summaries in ``results/`` (pure formatting)."""
from __future__ import annotations

from typing import List

import numpy as np

from .report_format import command, commit, f, pm, table, wall

RUN_ORDER = ("", "paper_scale", "default", "neutral", "neutral_linear", "staged", "full", "degree1", "adam")
"""Labels (``induction_<label>.json``) in the order of the README's list; others follow by name."""


def label(name: str) -> str:
    stem = name[: -len(".json")]
    return stem[len("induction_"):] if stem.startswith("induction_") else ""


def _order(runs: List[dict]) -> List[dict]:
    pos = {k: i for i, k in enumerate(RUN_ORDER)}
    return sorted(runs, key=lambda r: (pos.get(label(r["name"]), len(pos)), r["name"]))


def setting(doc: dict) -> str:
    """The training setting in a few words (what differs between the runs)."""
    m, t = doc["model"], doc["train_config"]
    opt = f"{t['optimizer']} lr {t['lr']:g}"
    return (f"{doc['steps']} steps {opt}, {t['schedule']}, init {t['init']}, {m['variant']}/{m['layer1']}, "
            f"degree {m['degree']}")


def subset(names) -> str:
    return "{" + ",".join(names) + "}"


def copier(weights, digits: int = 3) -> str:
    """``h1→1 0.963, ...``: each head's largest offset weight (in absolute value) and its offset."""
    W = np.abs(np.asarray(weights, float))
    return ", ".join(f"h{h + 1}→{int(np.argmax(row)) + 1} {row.max():.{digits}f}" for h, row in enumerate(W))


def selector(subsets, weights, top: int = 2, digits: int = 3) -> str:
    order = np.argsort(-np.asarray(weights, float))[:top]
    return ", ".join(f"{subset(subsets[i])} {weights[i]:.{digits}f}" for i in order)


def _criterion(sel: dict) -> str:
    crit = sel.get("criterion")
    if not crit:
        return "–"
    vals = dict(zip(map(tuple, crit["offset_subsets"]), zip(crit["values"], crit["se"])))
    pred, run = tuple(crit["predicted_offsets"]), tuple(crit["runner_up_offsets"])
    return (f"{subset(map(str, pred))} (I = {vals[pred][0]:.3f}; runner-up {subset(map(str, run))} "
            f"{vals[run][0]:.3f}; z = {crit['margin_z']:.1f})")


def roles(runs: List[dict]) -> str:
    """One row per run: copier, selector (vs the criterion), classifier scale, losses vs the Bayes floor."""
    body = []
    for r in _order(runs):
        d = r["doc"]
        sel, loss = d["selector"], d["loss"]
        match = {True: "yes", False: "no"}.get(sel.get("matches_prediction"), "–")
        body.append([f"`{label(r['name']) or 'induction'}`", setting(d), copier(d["copier"]["weights"]),
                     selector(sel["subsets"], sel["weights"]), _criterion(sel), match,
                     f"{d['classifier']['a']:.2f}", f"{loss['val']:.4f} / {loss['bayes_val']:.4f}",
                     pm(loss["val_minus_bayes"], loss["val_minus_bayes_se"], "+.4f"),
                     pm(loss.get("train_minus_bayes"), loss.get("train_minus_bayes_se"), "+.4f"),
                     f(d.get("grad_norm"), ".1e"), wall(d)])
    head = ["run", "setting", "copier: head → offset, weight", "selector: largest weights", "criterion: predicted "
            "offsets", "largest selector weight on the prediction", "a", "loss val / Bayes (nats)", "val − Bayes",
            "train − Bayes", "\\|∇\\| at the end", "wall"]
    cmds = [f"- `{label(r['name']) or 'induction'}`: {command(r['doc'])} ({commit(r['doc'])})" for r in _order(runs)]
    return "\n".join([table(head, body), "", "Commands:", ""] + cmds + [""])


def time_course(r: dict) -> str:
    """The thinned trace of one run: selector leader, copier and losses at log-spaced steps."""
    d, tr = r["doc"], r["doc"].get("traces")
    if not tr:
        return ""
    subsets = d["selector"]["subsets"]
    body = [[str(s), st, f"{a:.3g}", f"{tl:.4f}", f"{vl:.4f}", selector(subsets, sel, top=1), copier(cop, 2)]
            for s, st, a, tl, vl, sel, cop in zip(tr["step"], tr["stage"], tr["a"], tr["train_loss"],
                                                  tr["val_loss"], tr["selector"], tr["copier"])]
    return "\n".join([f"`{label(r['name']) or 'induction'}`:", "",
                      table(["step", "stage", "a", "train loss", "val loss", "selector leader", "copier"], body), ""])


def data_size(doc: dict) -> str:
    """Mean +- s.e. parent weight and the fractions of copiers / in-between runs versus N, per layer 1."""
    summ = doc["summary"]
    layers = sorted({s["layer1"] for s in summ}, key=lambda x: (x != "softmax", x))
    ns = sorted({s["n_train"] for s in summ})
    at = {(s["layer1"], s["n_train"]): s for s in summ}
    lo, hi = doc["middle_range"]
    body = []
    for n in ns:
        row = [str(n)]
        for lay in layers:
            s = at.get((lay, n))
            row += ([pm(s["mean"], s["se"], ".3f"), f"{s['copier_fraction']:.2f}", f"{s['middle_fraction']:.2f}",
                     str(s["runs"])] if s else ["–"] * 4)
        body.append(row)
    head = ["N (training sequences)"]
    for lay in layers:
        head += [f"{lay}: parent weight ± s.e.", f"{lay}: copiers (> {doc['copier_threshold']:g})",
                 f"{lay}: in between ({lo:g}, {hi:g}]", f"{lay}: runs"]
    ok = [t for t in doc["tasks"] if t["status"] == "ok"]
    overall = "; ".join(
        f"{lay}: {np.mean([lo < t['parent_weight'] <= hi for t in ok if t['layer1'] == lay]):.0%} of "
        f"{sum(t['layer1'] == lay for t in ok)} runs in between" for lay in layers)
    src = doc.get("source_provenance") or {}
    opts = doc["options"]
    fixed = ", ".join(f"{k} = {v}" for k, v in sorted((doc["spec"].get("fixed") or {}).items()))
    text = [f"{command({'provenance': src})} ({commit({'provenance': src})}; {doc.get('tasks_total')} tasks, "
            f"{doc.get('failed')} failed, {f(doc.get('sweep_wall_s'), '.0f')} s wall on "
            f"{(doc.get('executor') or {}).get('kind', '–')} with {(doc.get('executor') or {}).get('workers', '–')} "
            f"workers). Fixed: {fixed}; everything else the command's default (e.g. criterion_draws = "
            f"{opts.get('criterion_draws')}, lr = {opts.get('lr')}). N = sequences − val_sequences; parent weight = "
            f"the head's |weight| on the parent offset (chance 1/window = {1 / opts.get('window', 4):.2f}). "
            f"Overall: {overall}.", ""]
    return "\n".join(text + [table(head, body), ""])


def render_induction(runs: List[dict], sweeps: List[dict]) -> str:
    out = ["## Induction head on n-gram chains (`copyhead induction`)", ""]
    if runs:
        out += ["### Roles of the three layers", "",
                "Copier: each layer-1 head's largest offset weight (softmax(w_h), or w_h/Σ|w_h| for a linear layer 1). "
                "Selector: the largest normalised weights c²/Σc² over the feature subsets. Criterion: the modified "
                "χ² information I(U) of the predicted offsets against the runner-up, margin z in standard errors; "
                "\"on the prediction\": the largest selector weight sits on a subset of the heads that copy exactly "
                "the predicted offsets. a: the classifier scale. Losses in nats against the Bayes-optimal "
                "in-context floor (paired differences ± s.e.).", "", roles(runs),
                "### Time course (records at the first step ≥ 0, 1, 3, 10, 30, 100, …, and the last)", ""]
        out += [time_course(r) for r in _order(runs)]
    for s in sorted(sweeps, key=lambda r: r["name"]):
        out += [f"### Copier emergence versus data (`{s['name']}`)", "", data_size(s["doc"])]
    return "\n".join(out)
