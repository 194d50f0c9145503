"""Result files for ``copyhead report``: collect what the commands wrote, add what the tables need.

``verification/RESULTS.md`` and the tables of ``benchmarks/RESULTS.md`` are generated from the
committed files of ``results/`` (:mod:`copyhead.verification.report_tables` renders them). This
module fills ``results/``:

* :func:`collect` copies the JSON summaries that ``copyhead verify | train | langevin | switching``
  wrote (found under a folder, e.g. ``--outdir`` of those runs) into ``results/`` verbatim, and
  writes beside each one ``NAME.report.json``: the numbers the tables need that the command did not
  save -- the theory at the run's realised sizes (finite-V spinodal window, linear onset lag, the
  minima of the MAP and posterior objectives, the one-loop log-odds of the switching alphas) and,
  for ``switching``, statistics of every chain's trace (copy time fraction, branch crossings,
  escape or equilibrium). Traces are read with :func:`copyhead.verification.sweep.load_sweep` and are
  not copied (they stay in the run's folder).
* Benchmarks: ``python benchmarks/run.py --json results/benchmarks_NAME.json`` writes its rows there
  directly.
* The new systems (``copyhead scaling``, ``window-study``, ``induction``, ``icl-regression`` and the
  induction data-size sweep): :mod:`copyhead.verification.report_systems` names and slims their files
  (no traces; provenance kept) before they are written to ``results/``.

Branch crossings (switching). A draw is on the copy branch when ``m`` exceeds the threshold of the
run (the saddle of ``F - e1/V`` at its coexistence, ``m_threshold`` of the switching summary), as in
``verification.switching``. Raw switches count every change of side between consecutive draws,
including the flicker of a chain sitting on the barrier top. A *transition* is counted only from
core to core (:func:`branch_transitions`: from below the midpoint between the disordered minimum and
the saddle to above the midpoint between the saddle and the copy minimum, or back), which does not
count flicker. A chain with no transition stayed on its branch; one transition (it left and never
came back) is an *escape*; two or more (it came back) is *equilibrium* switching.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from copyhead.io import provenance, write_json
from copyhead.theory.model import Model, ParameterError

from .report_systems import SYSTEM_KINDS, summarise, system_kind

DERIVED_SUFFIX = ".report.json"
DERIVED_FORMAT = "copyhead.report_derived/1"


# --------------------------------------------------------------------------- what a file is
def kind_of(path: Path, doc) -> Optional[str]:
    """``"verify" | "train" | "langevin" | "switching" | "benchmarks"`` or one of
    :data:`~copyhead.verification.report_systems.SYSTEM_KINDS` for a result file, else None."""
    name = path.name
    if name.endswith(DERIVED_SUFFIX) or not isinstance(doc, dict):
        return None
    if doc.get("format") == "copyhead.hmc_sweep/1" and name.startswith("verify_"):
        return "verify"
    if doc.get("format") == "copyhead.benchmarks/1":
        return "benchmarks"
    if name.startswith("switching_") and name.endswith("_summary.json") and "alpha_c_mc" in doc:
        return "switching"
    if name.startswith("train_") and isinstance(doc.get("rows"), list) and "steps" in doc:
        return "train"
    if name.startswith("langevin_") and isinstance(doc.get("rows"), list) and "method" in doc:
        return "langevin"
    return system_kind(path, doc)


def _read(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ParameterError("results", str(path), f"is not readable JSON ({type(e).__name__}: {e})") from None


def load_results(results: Path) -> Dict[str, List[dict]]:
    """``{kind: [{"name", "doc", "derived"}, ...]}`` of the result files in ``results`` (sorted by name)."""
    results = Path(results)
    if not results.is_dir():
        raise ParameterError("results", str(results), "is not a folder of result files")
    out: Dict[str, List[dict]] = {}
    for p in sorted(results.glob("*.json")):
        doc = _read(p)
        kind = kind_of(p, doc)
        if kind is None:
            continue
        dpath = p.with_name(p.name[: -len(".json")] + DERIVED_SUFFIX)
        derived = _read(dpath) if dpath.exists() else None
        out.setdefault(kind, []).append({"name": p.name, "doc": doc, "derived": derived})
    return out


# --------------------------------------------------------------------------- theory at the run's sizes
def _model(d: dict, **kw) -> Model:
    return Model.from_dict({**d, **kw})


def minima_m(model: Model, alpha_effective: float) -> list:
    """``m`` of every minimum of ``F - e1/V`` (objective of ``model``) at the theory's alpha."""
    from copyhead.numerics.finite_size import FiniteSizeTheory

    return [q.m for q in FiniteSizeTheory(model).minima(alpha_effective)]


def derive_verify(doc: dict) -> dict:
    """Softmax: the spinodal windows (finite V and V = inf) and the coexistence; linear: the onset lag."""
    from copyhead.numerics.finite_size import FiniteSizeTheory

    from .compare import linear_lag

    p = doc["params"]
    theory = FiniteSizeTheory(_model(p["model"], V=p["V"], alpha=None))
    t = theory.transition
    out = {"alpha_c_inf": t.alpha_c, "window_inf": [t.alpha_spinodal_low, t.alpha_spinodal_high]}
    if theory.model.attention == "softmax":
        out["window_V"] = list(theory.window) if theory.window else None
        br = theory.window_bracket()
        cc = theory.coexistence(*br) if br else None
        out["coexistence_V"] = None if cc is None else cc[0]
    else:
        out["lag"] = linear_lag(doc["rows"], theory)
    return out


def derive_minima(doc: dict, objectives=("posterior", "map")) -> dict:
    """``{objective: {alpha: [m of each minimum of F - e1/V]}}`` at every alpha of a train / langevin run."""
    model = Model.from_dict(doc["model"]).replace(alpha=None)
    alphas: dict = {}
    for r in doc["rows"]:
        alphas.setdefault(str(r["alpha"]), r["alpha_effective"])
    return {obj: {a: minima_m(model.replace(objective=obj), ae) for a, ae in alphas.items()} for obj in objectives}


# --------------------------------------------------------------------------- switching: chains and crossings
def branch_transitions(m, lo: float, hi: float) -> List[int]:
    """Core-to-core transitions of one trace: the indices where ``m`` first enters the other core.

    The disordered core is ``m < lo``, the copy core ``m > hi`` (``lo < hi``); between them a draw
    keeps the branch of the last core visited, so flicker across a single threshold on the barrier
    top is not a transition. The first core visited sets the starting branch (no transition).
    """
    m = np.asarray(m, float)
    if not lo < hi:
        raise ParameterError("lo/hi", (lo, hi), "need lo < hi")
    state = 0  # 0: none yet, -1: disordered core, +1: copy core
    out = []
    for i in np.flatnonzero((m < lo) | (m > hi)):
        s = 1 if m[i] > hi else -1
        if state and s != state:
            out.append(int(i))
        state = s
    return out


def classify(n_transitions: int) -> str:
    """``"none"`` (stayed), ``"escape"`` (left once, never came back), ``"equilibrium"`` (came back)."""
    return "none" if n_transitions == 0 else ("escape" if n_transitions == 1 else "equilibrium")


def switching_cores(model: Model, alpha_effective: float, threshold: float):
    """``(lo, hi)``: midpoints between the threshold and the disordered / copy minimum of ``F - e1/V``
    at ``alpha`` (falls back to +-0.05 around the threshold where ``F - e1/V`` has one minimum)."""
    ms = minima_m(model, alpha_effective)
    lo = [m for m in ms if m < threshold]
    hi = [m for m in ms if m > threshold]
    return (0.5 * (threshold + max(lo)) if lo else threshold - 0.05,
            0.5 * (threshold + min(hi)) if hi else threshold + 0.05)


def derive_switching(summary: dict, rows: list) -> dict:
    """Per chain: data set (replica, its sweep seed), start, copy time fraction, raw switches, core
    transitions and their class; per alpha: the one-loop log-odds ``log Z_copy - log Z_dis``."""
    from copyhead.theory.one_loop_softmax import log_z_difference

    alphas = summary["alphas"]
    thr = summary["m_threshold"]
    seeds = ((summary.get("provenance") or {}).get("seeds") or {}).get("sweep_seeds") or []
    per_rep = 2 * len(alphas)
    model = Model.from_dict(rows[0]["params"]["model"]).replace(V=rows[0]["params"]["V"], alpha=None)
    limit = model.replace(V=None, nu=model.nu_effective)
    cores, chains, log_odds = {}, [], {}
    for i, r in enumerate(rows):
        a, ae = r["alpha"], r["alpha_effective"]
        if a not in cores:
            cores[a] = switching_cores(model, ae, thr)
            try:
                log_odds[str(a)] = float(log_z_difference(limit, ae, model.V))
            except (ParameterError, ValueError):
                log_odds[str(a)] = None  # one basin only at this alpha
        m = np.asarray(r["traces"]["m"][-r["n_samples"]:])
        on = m > thr
        tr = branch_transitions(m, *cores[a])
        rep = i // per_rep
        chains.append({"alpha": a, "alpha_effective": ae, "replica": rep,
                       "sweep_seed": seeds[rep] if rep < len(seeds) else None, "start": r["start"],
                       "copy_fraction": float(on.mean()), "switches": int(np.sum(on[1:] != on[:-1])),
                       "transitions": len(tr), "class": classify(len(tr)),
                       "first_transition": tr[0] if tr else None, "n_samples": int(len(m))})
    return {"cores": {str(a): list(c) for a, c in cores.items()}, "log_odds_one_loop": log_odds, "chains": chains,
            "n_replicas": len(rows) // per_rep}


# --------------------------------------------------------------------------- collect
def _sweep_prefix_for(summary_path: Path) -> Path:
    return summary_path.with_name(summary_path.name[: -len("_summary.json")])


def collect(source: Path, results: Path, log=print) -> List[Path]:
    """Copy every command result found under ``source`` into ``results`` and write its derived file.

    Returns the paths written. Unknown JSON files are skipped; a recognised file that cannot be
    analysed raises :class:`ParameterError` naming it.
    """
    from .sweep import load_sweep

    source, results = Path(source), Path(results)
    if not source.is_dir():
        raise ParameterError("collect", str(source), "is not a folder")
    results.mkdir(parents=True, exist_ok=True)
    written = []
    for p in sorted(source.rglob("*.json")):
        if p.name.endswith(DERIVED_SUFFIX) or results.resolve() in p.resolve().parents:
            continue
        doc = _read(p)
        kind = kind_of(p, doc)
        if kind is None or kind == "benchmarks":
            continue
        if kind in SYSTEM_KINDS:
            name, summary = summarise(kind, p, doc)
            written.append(write_json(summary, results / name))
            log(f"collected {kind}: {p} -> {results / name}")
            continue
        t0 = time.perf_counter()
        sources = [p]
        if kind == "verify":
            derived = derive_verify(doc)
        elif kind in ("train", "langevin"):
            derived = derive_minima(doc)
        else:  # switching: the summary, the sweep JSON (rows without traces) and the traces
            prefix = _sweep_prefix_for(p)
            rows = load_sweep(str(prefix))
            derived = derive_switching(doc, rows)
            sweep_json = Path(str(prefix) + ".json")
            shutil.copyfile(sweep_json, results / sweep_json.name)
            written.append(results / sweep_json.name)
            sources += [sweep_json, Path(str(prefix) + ".npz")]
        shutil.copyfile(p, results / p.name)
        written.append(results / p.name)
        dpath = results / (p.name[: -len(".json")] + DERIVED_SUFFIX)
        write_json({"format": DERIVED_FORMAT, "kind": kind, "of": p.name, "derived_from": [str(s) for s in sources],
                    **derived}, dpath, provenance=provenance(wall_s=time.perf_counter() - t0))
        written.append(dpath)
        log(f"collected {kind}: {p} -> {results / p.name} (+ {dpath.name})")
    return written
