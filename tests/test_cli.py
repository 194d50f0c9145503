import json

import pytest

import copyhead


def test_solve_json_keys(capsys):
    rc = copyhead.main(["solve", "--attention", "softmax", "--prior", "qk", "--T", "8", "--nu", "0.5",
                        "--sigma2", "0.1", "--kappa", "1", "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["transition"] == "first-order"
    for k in ("alpha_c", "alpha_spinodal_low", "alpha_spinodal_high", "m_below", "m_above", "landau_b"):
        assert k in d
    assert d["alpha_spinodal_low"] < d["alpha_c"] < d["alpha_spinodal_high"]


def test_solve_writes_figures(tmp_path, capsys):
    rc = copyhead.main(["solve", "--attention", "linear", "--outdir", str(tmp_path)])
    assert rc == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"linear_qk_posterior_branches.png", "linear_qk_posterior_branches.csv", "linear_qk_posterior.json"} <= names
    assert "second-order" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["solve", "--T", "1"], ["solve", "--nu", "-1"], ["solve", "--attention", "relu"],
                                  ["solve", "--alpha-min", "5"], ["phase-diagram", "--vary", "kappa", "1", "2"]])
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    try:
        rc = copyhead.main(argv)
    except SystemExit as e:  # argparse errors
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error" in err and "Traceback" not in err


def test_codegen_check(capsys):
    assert copyhead.main(["codegen", "--check"]) == 0


def test_phase_diagram_bad_numbers_are_one_line(capsys):
    rc = copyhead.main(["phase-diagram", "--vary", "sigma2", "abc", "1"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("copyhead: error: invalid parameter vary") and "\n" not in err
