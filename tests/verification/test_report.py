"""``copyhead report``: verification/RESULTS.md and the benchmark tables generated from results/,
``--check`` failing on a stale file, the switching crossing analysis, and (slow) the whole
collect-and-render pipeline on tiny runs of every command."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import copyhead
from copyhead.theory.model import ParameterError
from copyhead.verification.report import branch_transitions, classify

ROOT = Path(__file__).resolve().parents[2]


def _main(argv, capsys):
    rc = copyhead.main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _copy_repo_reports(tmp_path):
    """A root with the committed results/ and the committed generated files."""
    # without the landscape study, whose report computes theory (tested on its own below and, whole, in
    # the slow test_committed_landscape_report_is_up_to_date)
    shutil.copytree(ROOT / "results", tmp_path / "results", ignore=shutil.ignore_patterns("landscape"))
    for rel in ("verification/RESULTS.md", "benchmarks/RESULTS.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, tmp_path / rel)
    return tmp_path


def test_committed_reports_are_up_to_date(tmp_path, capsys):
    """The committed verification/RESULTS.md, results/SYSTEMS.md and benchmark tables are what `copyhead
    report` renders from the committed results/ (fails when a result file or the renderer changed without
    regenerating)."""
    root = _copy_repo_reports(tmp_path)
    rc, out, err = _main(["report", "--check", "--results", str(root / "results"), "--root", str(root)], capsys)
    assert rc == 0, err


@pytest.mark.slow
def test_committed_landscape_report_is_up_to_date(capsys):
    """`copyhead report --check` on the repository itself, results/landscape/RESULTS.md included (its
    theory takes about 15 s)."""
    rc, out, err = _main(["report", "--check", "--results", str(ROOT / "results"), "--root", str(ROOT)], capsys)
    assert rc == 0, err


def test_check_fails_on_a_stale_table_and_report_regenerates_it(tmp_path, capsys):
    root = _copy_repo_reports(tmp_path)
    args = ["--results", str(root / "results"), "--root", str(root)]
    assert _main(["report", "--check"] + args, capsys)[0] == 0
    # a result file changed (a re-run study): both the softmax table and the check notice
    p = root / "results" / "verify_softmax_V16_seed0.json"
    doc = json.loads(p.read_text())
    doc["rows"][0]["m_mean"] += 0.01
    p.write_text(json.dumps(doc))
    rc, out, err = _main(["report", "--check"] + args, capsys)
    assert rc == 1 and "verification/RESULTS.md is stale" in err
    assert _main(["report"] + args, capsys)[0] == 0
    assert _main(["report", "--check"] + args, capsys)[0] == 0
    # a hand edit of a generated benchmark table
    b = root / "benchmarks" / "RESULTS.md"
    b.write_text(b.read_text().replace("| 1645 |", "| 1700 |"))
    rc, out, err = _main(["report", "--check"] + args, capsys)
    assert rc == 1 and "benchmarks/RESULTS.md is stale" in err
    # a table whose result file is missing is an error naming it (exit 2), not a silent skip
    (root / "results" / "benchmarks_kernels_solve.json").unlink()
    rc, out, err = _main(["report", "--check"] + args, capsys)
    assert rc == 2 and "benchmarks_kernels_solve.json" in err


def test_bad_folders_are_one_line_errors(tmp_path, capsys):
    rc, out, err = _main(["report", "--results", str(tmp_path / "nope"), "--root", str(tmp_path)], capsys)
    assert rc == 2 and "results" in err and len(err.strip().splitlines()) == 1
    rc, out, err = _main(["report", "--check", "--collect", str(tmp_path)], capsys)
    assert rc == 2


def test_branch_transitions_count_core_to_core_only():
    lo, hi = 0.25, 0.35
    flicker = np.array([0.1, 0.29, 0.31, 0.29, 0.31, 0.2, 0.1])  # crosses 0.3 four times, never reaches the copy core
    assert branch_transitions(flicker, lo, hi) == []
    trip = np.array([0.1, 0.2, 0.5, 0.6, 0.3, 0.5, 0.2, 0.1])  # copy core at 2, back to disordered at 6
    assert branch_transitions(trip, lo, hi) == [2, 6]
    escape = np.array([0.5, 0.6, 0.3, 0.2, 0.1])
    assert branch_transitions(escape, lo, hi) == [3]
    assert [classify(n) for n in (0, 1, 2, 5)] == ["none", "escape", "equilibrium", "equilibrium"]
    with pytest.raises(ParameterError):
        branch_transitions(trip, hi, lo)


@pytest.mark.slow
def test_collect_and_render_tiny_runs_of_every_command(tmp_path, capsys):
    """Tiny runs of verify (both attentions), train, langevin and switching at V = 4 are collected
    into results/ (derived theory and switching chain statistics included) and rendered."""
    out = tmp_path / "runs"
    for argv in (["switching", "--V", "4", "--alphas", "20,30", "--iters", "30", "--warmup", "10", "--chains", "2"],
                 ["verify", "--V", "4", "--alphas", "20,30", "--iters", "20", "--warmup", "10"],
                 ["verify", "--attention", "linear", "--V", "4", "--alphas", "5,10", "--iters", "20", "--warmup", "10"],
                 ["train", "--V", "4", "--alphas", "30", "--steps", "20"],
                 ["langevin", "--V", "4", "--alphas", "30", "--iters", "20", "--chains", "1"]):
        assert copyhead.main(argv + ["--outdir", str(out / argv[0]), "--json"]) == 0, argv
    capsys.readouterr()
    root = tmp_path / "root"
    root.mkdir()
    rc, _, err = _main(["report", "--collect", str(out), "--results", str(tmp_path / "results"),
                        "--root", str(root)], capsys)
    assert rc == 0, err
    names = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert "switching_V4_seed0_summary.report.json" in names and "switching_V4_seed0.json" in names
    assert not any(n.endswith(".npz") for n in names)  # traces are not copied
    sw = json.loads((tmp_path / "results" / "switching_V4_seed0_summary.report.json").read_text())
    assert len(sw["chains"]) == 4 and {c["class"] for c in sw["chains"]} <= {"none", "escape", "equilibrium"}
    assert "provenance" in sw
    text = (root / "verification" / "RESULTS.md").read_text()
    for head in ("## Softmax posterior", "## Linear posterior", "## Adam = MAP", "## Temperature-1 dynamics",
                 "## Branch switching"):
        assert head in text
    assert _main(["report", "--check", "--results", str(tmp_path / "results"), "--root", str(root)], capsys)[0] == 0


def test_switching_runs_at_different_V_and_alphas_are_not_pooled(tmp_path, capsys):
    """A collected switching run at another V (and another alpha list) beside the committed V = 8 runs
    gets its own subsection; it crashed the renderer with a KeyError on an alpha the other run lacks."""
    res = tmp_path / "results"
    res.mkdir()
    for name in ("switching_V8_seed0_summary.json", "switching_V8_seed0_summary.report.json"):
        shutil.copyfile(ROOT / "results" / name, res / name)
    doc = json.loads((res / "switching_V8_seed0_summary.json").read_text())
    rep = json.loads((res / "switching_V8_seed0_summary.report.json").read_text())
    keep = doc["alphas"][1:]
    doc = dict(doc, V=6, alphas=keep)
    rep = dict(rep, chains=[c for c in rep["chains"] if c["alpha"] in keep])
    (res / "switching_V6_seed0_summary.json").write_text(json.dumps(doc))
    (res / "switching_V6_seed0_summary.report.json").write_text(json.dumps(rep))
    rc, _, err = _main(["report", "--results", str(res), "--root", str(tmp_path)], capsys)
    assert rc == 0, err
    text = (tmp_path / "verification" / "RESULTS.md").read_text()
    assert text.count("## Branch switching at small V") == 1
    assert text.index("### V = 6") < text.index("### V = 8")
    assert "α_c(V = 6)" in text and "α_c(V = 8)" in text
