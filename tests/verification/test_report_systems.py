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
