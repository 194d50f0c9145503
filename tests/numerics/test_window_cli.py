"""``copyhead solve --heads H --parents K``: the JSON of today plus ``phases``, M and R on every branch;
bad input exits 2; the single-head output is unchanged (no new keys)."""
import json

import pytest

from copyhead.cli import main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Commands write their files (default ``copyhead-output/<command>``) into a temporary folder."""
    monkeypatch.chdir(tmp_path)


def test_window_solve_json(capsys, tmp_path):
    rc = main(["solve", "--heads", "2", "--parents", "2", "--attention", "softmax", "--json",
               "--outdir", str(tmp_path), "--no-plots"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("transition", "alpha_c", "alpha_spinodal_low", "alpha_spinodal_high", "m_below", "m_above",
                "residual", "phases", "branches", "folds", "branch_points", "model"):
        assert key in d
    assert d["transition"] == "first-order" and d["phases"][0]["to"] == "specialised"
    assert d["phases"][0]["alpha"] == d["alpha_c"]
    assert d["model"]["heads"] == 2 and d["model"]["parents"] == 2
    assert all("M" in b and "R" in b for b in d["branches"])
    written = json.loads((tmp_path / "softmax_qk_posterior_H2K2.json").read_text())
    assert "provenance" in written and written["alpha_c"] == d["alpha_c"]
    assert (tmp_path / "softmax_qk_posterior_H2K2_branches.csv").exists()


@pytest.mark.parametrize("argv,name", [(["--heads", "0", "--parents", "2"], "heads"),
                                       (["--heads", "2", "--parents", "8"], "parents"),
                                       (["--heads", "2", "--parents", "2", "--objective", "map"], "objective")])
def test_window_solve_bad_input_exits_2(argv, name, capsys):
    rc = main(["solve", "--attention", "softmax", *argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("copyhead: error: invalid parameter") and name in err


def test_single_head_json_has_no_window_keys(capsys):
    assert main(["solve", "--attention", "linear", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert "heads" not in d["model"] and "phases" not in d
