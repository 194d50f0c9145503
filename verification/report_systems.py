"""Result files of the new systems for ``copyhead report``: what the commands wrote -> ``results/``.

``copyhead report --collect DIR`` (:func:`copyhead.verification.report.collect`) hands every JSON
file under ``DIR`` that this module recognises (:func:`system_kind`) to :func:`summarise`, which
returns the name and the content of the small file committed in ``results/``:

* ``scaling`` -- ``copyhead scaling``: ``scaling_<model>_T.json`` verbatim (about 10 kB).
* ``window_hmc`` / ``window_adam`` -- ``copyhead window-study hmc|adam``: the JSON less its traces
  (``traces`` / ``trace``: ``q`` at every iteration or recorded step, for the figure only).
* ``induction`` -- ``copyhead induction``: ``F/induction.json`` becomes ``induction_<F>.json`` (``F`` the
  output folder's name, less an ``induction_`` prefix); ``classifier.a_trace`` is dropped and ``traces``
  is thinned to the records at (or first after) steps 0, 1, 3, 10, 30, 100, ... and the last one.
* ``icl`` -- ``copyhead icl-regression``: ``icl_<mode>_<attention>_d<d>_L<L>_H<H>[_cov<eigs>].json``;
  training mode without ``history`` (per-step patterns; the steps at which each seed reached the
  pattern stay in ``per_seed``), posterior mode without each chain's last draw (``last_draw``) and
  with ``logp_per_chain`` (each chain's mean log posterior over the kept draws, or its per-draw values
  in older files) as ``logp_mean_per_chain``.
* ``induction_sweep`` -- ``copyhead sweep`` of ``induction`` over ``sequences`` x ``layer1`` x ``seed``
  (e.g. ``examples/induction_data_size.toml``): ``DIR/sweep.json`` and ``DIR/sweep.nc`` become
  ``sweep_<DIR name>.json``: the final parent weight of every task and, per (layer 1, N), its mean
  +- standard error over the seeds, the fraction of copiers (parent weight > :data:`COPIER`) and of
  runs in between (0.4 < weight <= :data:`COPIER`), as in ``examples/induction_data_study.py``.
  The same study made by that script (``induction_data_study.json`` with its per-run CSV beside it)
  becomes ``sweep_induction_data_study.json`` in the same format (:func:`summarise_data_study`).

Every file keeps the run's own ``provenance`` (the sweep summary: the sweep's, under
``source_provenance``) and records under ``collected`` where it came from and what was left out.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from copyhead.theory.model import ParameterError

SWEEP_FORMAT = "copyhead.report_induction_sweep/1"
SYSTEM_KINDS = ("scaling", "window_hmc", "window_adam", "induction", "icl", "induction_sweep")
COPIER = 0.75
"""A run "became a copier" when its parent weight exceeds this (chance 1/window = 0.25 at the study's
window 4; ideal 1); the threshold of ``examples/induction_data_study.py``."""
MIDDLE = 0.4
"""Runs with ``MIDDLE < parent weight <= COPIER`` are neither near chance nor copiers."""
TRACE_STEPS = (0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)


def system_kind(path: Path, doc) -> Optional[str]:
    """The kind of a new-system result file (a command's output or its committed summary), else None."""
    name = Path(path).name
    if not isinstance(doc, dict):
        return None
    if doc.get("format") == SWEEP_FORMAT:
        return "induction_sweep"
    if name == "induction_data_study.json" and isinstance(doc.get("settings"), dict) and "summary" in doc:
        return "induction_sweep"
    if name == "sweep.json" and isinstance(doc.get("spec"), dict) and doc["spec"].get("command") == "induction":
        grid = doc["spec"].get("grid") or {}
        return "induction_sweep" if {"sequences", "layer1"} <= set(grid) else None
    if name.startswith("scaling_") and isinstance(doc.get("rows"), list) and "law" in doc:
        return "scaling"
    for what in ("hmc", "adam"):
        if name.startswith(f"window_{what}_") and isinstance(doc.get("rows"), list) and "model" in doc:
            return f"window_{what}"
    if name.startswith("induction") and "copier" in doc and "selector" in doc:
        return "induction"
    if name.startswith("icl_") and doc.get("mode") in ("train", "posterior") and "params" in doc:
        return "icl"
    return None


def _collected(source: Path, removed, **extra) -> dict:
    return {"from": str(source), "removed": list(removed), **extra}


def _thin_traces(traces: dict) -> dict:
    """The records of ``traces`` (lists over recorded steps) at the first step >= each of
    :data:`TRACE_STEPS` and at the last step."""
    steps = list(traces["step"])
    keep = sorted({next((i for i, s in enumerate(steps) if s >= t), len(steps) - 1) for t in TRACE_STEPS}
                  | {len(steps) - 1})
    return {k: [v[i] for i in keep] for k, v in traces.items()}


def _induction_name(source: Path) -> str:
    label = source.parent.name
    label = label[len("induction_"):] if label.startswith("induction_") else label
    return "induction.json" if label in ("", "induction") else f"induction_{label}.json"


def _icl_name(doc: dict) -> str:
    p = doc["params"]
    name = f"icl_{doc['mode']}_{p['attention']}_d{p['d']}_L{p['L']}_H{p['heads']}"
    if p.get("cov_eigs"):
        name += "_cov" + "-".join(f"{float(e):g}" for e in p["cov_eigs"])
    return name + ".json"


def summarise(kind: str, source: Path, doc: dict) -> Tuple[str, dict]:
    """``(file name in results/, content)`` of the committed summary of the result file ``source``."""
    source = Path(source)
    if kind == "scaling":
        return source.name, {**doc, "collected": _collected(source, [])}
    if kind in ("window_hmc", "window_adam"):
        drop = [k for k in ("traces", "trace") if k in doc]
        return source.name, {**{k: v for k, v in doc.items() if k not in drop}, "collected": _collected(source, drop)}
    if kind == "induction":
        out = {k: v for k, v in doc.items() if k != "traces"}
        out["classifier"] = {k: v for k, v in doc["classifier"].items() if k != "a_trace"}
        out["traces"] = _thin_traces(doc["traces"])
        return _induction_name(source), {
            **out, "collected": _collected(source, ["classifier.a_trace"], traces_thinned_to_steps=list(TRACE_STEPS))}
    if kind == "icl":
        return _icl_name(doc), _summarise_icl(source, doc)
    if kind == "induction_sweep":
        if "settings" in doc:
            return f"sweep_{source.stem}.json", summarise_data_study(source, doc)
        return f"sweep_{source.parent.name}.json", summarise_induction_sweep(source, doc)
    raise ParameterError("kind", kind, f"must be one of {', '.join(SYSTEM_KINDS)}")


def _summarise_icl(source: Path, doc: dict) -> dict:
    if doc["mode"] == "train":
        return {**{k: v for k, v in doc.items() if k != "history"}, "collected": _collected(source, ["history"])}
    rows = []
    for r in doc["posterior"]:
        lp = [float(np.mean(c)) if np.ndim(c) else float(c) for c in r["logp_per_chain"]]
        rows.append({**{k: v for k, v in r.items() if k not in ("logp_per_chain", "last_draw")},
                     "logp_mean_per_chain": lp})
    return {**doc, "posterior": rows,
            "collected": _collected(source, ["posterior[].logp_per_chain (replaced by logp_mean_per_chain)",
                                             "posterior[].last_draw"])}


# --------------------------------------------------------------------------- the induction data-size sweep
def _summary_rows(tasks: list) -> list:
    """Per (layer1, N): runs, mean, s.e., s.d., median of the parent weight; copier and middle fractions."""
    out = []
    for layer1 in sorted({t["layer1"] for t in tasks}):
        for n in sorted({t["n_train"] for t in tasks}):
            w = np.array([t["parent_weight"] for t in tasks if t["layer1"] == layer1 and t["n_train"] == n
                          and t["status"] == "ok"])
            if w.size == 0:
                continue
            sd = float(w.std(ddof=1)) if w.size > 1 else None
            out.append({"layer1": layer1, "n_train": int(n), "runs": int(w.size), "mean": float(w.mean()),
                        "se": sd / math.sqrt(w.size) if sd is not None else None, "sd": sd,
                        "median": float(np.median(w)), "copier_fraction": float((w > COPIER).mean()),
                        "middle_fraction": float(((w > MIDDLE) & (w <= COPIER)).mean())})
    return out


def summarise_induction_sweep(source: Path, doc: dict) -> dict:
    """The data-size study from ``sweep.json`` and the ``sweep.nc`` beside it (module docstring)."""
    import xarray as xr

    from copyhead.io import provenance

    nc = Path(source).with_name("sweep.nc")
    if not nc.exists():
        raise ParameterError("collect", str(nc), "is missing: the sweep summary needs its dataset")
    ds = xr.load_dataset(nc)
    need = ("copier_parents_parent_weight", "status")
    missing = [v for v in need if v not in ds]
    if missing:
        raise ParameterError("collect", str(nc), f"lacks the variables {', '.join(missing)}")
    tasks = []
    for idx in np.ndindex(*(ds.sizes[d] for d in ds["status"].dims)):
        sel = dict(zip(ds["status"].dims, idx))
        point = ds.isel(sel)
        val = lambda v: point[v].item() if v in ds else None  # noqa: E731
        seq = int(point["sequences"].item())
        n_val = val("config_val_sequences")
        n_val = seq // 10 if n_val is None or not np.isfinite(n_val) else int(n_val)  # the command's default
        tasks.append({"sequences": seq, "n_train": seq - n_val,
                      "layer1": str(point["layer1"].item()), "seed": int(point["seed"].item()) if "seed" in ds.coords else None,
                      "status": str(val("status")), "parent_weight": float(val("copier_parents_parent_weight")),
                      "val_minus_bayes": val("loss_val_minus_bayes"), "grad_norm": val("grad_norm"),
                      "wall_s": val("wall_s")})
    fixed = {k: (v.item() if hasattr(v, "item") else v) for k, v in json.loads(ds.attrs["options"]).items()}
    return {"format": SWEEP_FORMAT, "spec": doc["spec"], "options": fixed, "tasks_total": doc.get("tasks"),
            "failed": doc.get("failed"), "sweep_wall_s": doc.get("wall_s"), "executor": doc.get("executor_info"),
            "copier_threshold": COPIER, "middle_range": [MIDDLE, COPIER],
            "definition": "parent weight: |weight| of the head on the parent offset (copier.parents.parent_weight); "
                          "copier: parent weight > copier_threshold; middle: in middle_range (lower end excluded)",
            "summary": _summary_rows(tasks), "tasks": tasks,
            "source_provenance": doc.get("provenance") or json.loads(ds.attrs.get("provenance", "null")),
            "collected": _collected(source, ["per-task results other than the listed fields (in DIR/tasks/)"],
                                    dataset=str(nc)),
            "provenance": provenance()}


_STUDY_FIXED = ("n", "S", "L", "heads", "window", "degree", "init", "optimizer", "steps", "lr", "criterion_draws")


def summarise_data_study(source: Path, doc: dict) -> dict:
    """The data-size study of ``examples/induction_data_study.py`` (``induction_data_study.json`` and the
    per-run ``induction_data_study.csv`` beside it) in the format of :func:`summarise_induction_sweep`:
    the script loops the command's ``compute`` over the grid that ``examples/induction_data_size.toml``
    sweeps, so its runs are the sweep's tasks. The per-(layer 1, N) summary is recomputed from the runs
    (:func:`_summary_rows`, the sweep's own); the script's ``summary`` must agree with it."""
    import csv

    from copyhead.io import provenance

    csv_path = Path(source).with_name(Path(source).stem + ".csv")
    if not csv_path.exists():
        raise ParameterError("collect", str(csv_path), "is missing: the data study's summary needs its runs")
    with open(csv_path, newline="") as fh:
        runs = list(csv.DictReader(fh))
    st = doc["settings"]
    num = lambda v: float(v) if v not in (None, "") else None  # noqa: E731
    tasks = [{"sequences": int(r["n_train"]) + int(st["val_sequences"]), "n_train": int(r["n_train"]),
              "layer1": r["layer1"], "seed": int(r["seed"]), "status": "ok", "parent_weight": float(r["parent_weight"]),
              "val_minus_bayes": num(r["val_loss"]) - num(r["bayes_val"]), "grad_norm": num(r["grad_norm"]),
              "wall_s": num(r["wall_s"])} for r in runs]
    summary = _summary_rows(tasks)
    theirs = {(s["layer1"], s["n_train"]): s for s in doc["summary"]}
    for row in summary:
        other = theirs.get((row["layer1"], row["n_train"]))
        if other is None or not math.isclose(other["mean"], row["mean"], rel_tol=1e-9, abs_tol=1e-12):
            raise ParameterError("collect", str(source), f"its summary disagrees with its runs at {row['layer1']}, "
                                 f"N = {row['n_train']}")
    prov = doc.get("provenance") or {}
    spec = {"command": "induction",
            "grid": {"sequences": [n + int(st["val_sequences"]) for n in st["ns"]], "layer1": st["layers"],
                     "seed": st["seeds"]},
            "fixed": {**{k: st[k] for k in _STUDY_FIXED if k in st}, "val_sequences": st["val_sequences"]}}
    return {"format": SWEEP_FORMAT, "spec": spec, "options": dict(st), "tasks_total": len(tasks), "failed": 0,
            "sweep_wall_s": prov.get("wall_s"), "executor": {"kind": "serial", "workers": 1},
            "copier_threshold": COPIER, "middle_range": [MIDDLE, COPIER],
            "definition": "parent weight: |weight| of the head on the parent offset (copier.parents.parent_weight); "
                          "copier: parent weight > copier_threshold; middle: in middle_range (lower end excluded)",
            "summary": summary, "tasks": tasks, "source_provenance": prov,
            "collected": _collected(source, ["the CSV's per-offset weights w_k*, val_loss, bayes_val, uniform, peak_offset"],
                                    runs=str(csv_path)),
            "provenance": provenance()}
