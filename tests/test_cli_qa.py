"""Command-line checks from the newcomer walk-through (branch qa): help text that matches the
behaviour, bad input rejected before any computation with the parameter named (exit 2)."""
import pytest

import copyhead


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _rc(argv):
    try:
        return copyhead.main(argv)
    except SystemExit as e:  # argparse errors and --help
        return e.code


def test_solve_help_states_that_both_attentions_run_by_default(capsys):
    assert _rc(["solve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "default: None" not in out
    assert "attention nonlinearity (default: softmax and linear)" in out
