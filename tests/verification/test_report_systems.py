"""``copyhead report`` for the new systems (results/SYSTEMS.md) and the landscape study's RESULTS.md:
tables read from the result files, ``--check`` failing when a generated file is edited by hand, and
the slimming of a command's output by ``--collect``."""
import json
import shutil
from pathlib import Path

import copyhead
from copyhead.verification.report_systems import summarise, system_kind

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = ("scaling_softmax_qk_posterior_T.json", "icl_train_softmax_d5_L40_H2.json",
           "icl_posterior_softmax_d5_L40_H2.json", "induction_neutral.json")


def _main(argv, capsys):
    rc = copyhead.main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _root_with(tmp_path, names):
    """A root whose results/ holds only the named committed result files."""
    (tmp_path / "results").mkdir()
    for n in names:
        shutil.copyfile(ROOT / "results" / n, tmp_path / "results" / n)
    return tmp_path, ["--results", str(tmp_path / "results"), "--root", str(tmp_path)]


def test_systems_tables_come_from_the_result_files_and_check_catches_hand_edits(tmp_path, capsys):
    root, args = _root_with(tmp_path, SYSTEMS)
    p = root / "results" / SYSTEMS[0]
    doc = json.loads(p.read_text())
    doc["rows"][1]["alpha_c"] = 12345.678  # a number that is in no committed file
    p.write_text(json.dumps(doc))
    assert _main(["report"] + args, capsys)[0] == 0
    text = (root / "results" / "SYSTEMS.md").read_text()
    assert "| 16 | first-order | 12345.678 |" in text
    assert "## In-context linear regression" in text and "### Posterior over KQ" in text
    assert "## Induction head on n-gram chains" in text
    assert _main(["report", "--check"] + args, capsys)[0] == 0
    s = root / "results" / "SYSTEMS.md"
    s.write_text(text.replace("12345.678", "12345.679"))
    rc, out, err = _main(["report", "--check"] + args, capsys)
    assert rc == 1 and "results/SYSTEMS.md is stale" in err


def test_landscape_results_are_checked(tmp_path, capsys):
    """results/landscape/RESULTS.md is rendered by the study's own report code (here from an empty
    study folder: only the solver's exponent table) and a hand edit makes --check fail."""
    root, args = _root_with(tmp_path, [])
    land = root / "results" / "landscape"
    land.mkdir()
    (land / "RESULTS.md").write_text("stale\n")
    rc, out, err = _main(["report", "--check"] + args, capsys)
    assert rc == 1 and "results/landscape/RESULTS.md is stale" in err
    assert _main(["report"] + args, capsys)[0] == 0
    assert "## Critical behaviour of the linear transition" in (land / "RESULTS.md").read_text()
    assert _main(["report", "--check"] + args, capsys)[0] == 0


def test_collect_slims_icl_posterior_and_training_files(tmp_path):
    params = {"d": 2, "L": 6, "heads": 2, "attention": "softmax", "cov_eigs": None}
    post = {"mode": "posterior", "params": params,
            "posterior": [{"P": 10, "logp_per_chain": [[-1.0, -3.0], [-2.0, -2.0]], "last_draw": [{"kq": [[1.0]]}]}]}
    src = tmp_path / "icl_posterior_softmax_d2_L6_H2.json"
    assert system_kind(src, post) == "icl"
    name, out = summarise("icl", src, post)
    assert name == "icl_posterior_softmax_d2_L6_H2.json"
    row = out["posterior"][0]
    assert row["logp_mean_per_chain"] == [-2.0, -2.0] and "last_draw" not in row and "logp_per_chain" not in row
    train = {"mode": "train", "params": {**params, "cov_eigs": [2.0, 0.5]}, "history": {"step": [0]}, "risk": {}}
    name, out = summarise("icl", tmp_path / "icl_softmax_d2_L6_H2.json", train)
    assert name == "icl_train_softmax_d2_L6_H2_cov2-0.5.json" and "history" not in out
    assert out["collected"]["removed"] == ["history"]


def _small_study(tmp_path, tamper=False):
    """A two-layer, two-N copy of examples/induction_data_study/ (JSON summary + per-run CSV)."""
    import csv

    src = ROOT / "examples" / "induction_data_study"
    doc = json.loads((src / "induction_data_study.json").read_text())
    with open(src / "induction_data_study.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["n_train"] in ("1", "512")]
    doc["summary"] = [s for s in doc["summary"] if s["n_train"] in (1, 512)]
    doc["settings"]["ns"] = [1, 512]
    if tamper:
        doc["summary"][0]["mean"] += 0.01
    d = tmp_path / "study"
    d.mkdir()
    (d / "induction_data_study.json").write_text(json.dumps(doc))
    with open(d / "induction_data_study.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return d, doc, rows


def test_the_data_study_script_is_collected_and_rendered_like_its_sweep(tmp_path, capsys):
    """README quoted the copier-versus-data numbers of examples/induction_data_study.py as typed text; the
    script's JSON + CSV are now collected into the sweep summary format and rendered in SYSTEMS.md."""
    import numpy as np

    d, doc, rows = _small_study(tmp_path)
    p = d / "induction_data_study.json"
    assert system_kind(p, doc) == "induction_sweep"
    name, out = summarise("induction_sweep", p, doc)
    assert name == "sweep_induction_data_study.json" and out["tasks_total"] == len(rows) == 40
    soft512 = [float(r["parent_weight"]) for r in rows if r["layer1"] == "softmax" and r["n_train"] == "512"]
    row = next(s for s in out["summary"] if s["layer1"] == "softmax" and s["n_train"] == 512)
    assert row["mean"] == np.mean(soft512) and row["copier_fraction"] == np.mean(np.array(soft512) > 0.75)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / name).write_text(json.dumps(out))
    assert _main(["report", "--results", str(tmp_path / "results"), "--root", str(tmp_path)], capsys)[0] == 0
    text = (tmp_path / "results" / "SYSTEMS.md").read_text()
    assert "### Copier emergence versus data (`sweep_induction_data_study.json`)" in text
    assert "`python examples/induction_data_study.py`" in text
    assert f"| 512 | {row['mean']:.3f} ± {row['se']:.3f} |" in text


def test_a_data_study_whose_summary_disagrees_with_its_runs_is_refused(tmp_path):
    import pytest

    from copyhead.theory.model import ParameterError

    d, doc, _ = _small_study(tmp_path, tamper=True)
    with pytest.raises(ParameterError, match="disagrees with its runs"):
        summarise("induction_sweep", d / "induction_data_study.json", doc)
