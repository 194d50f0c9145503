import json

import pytest

import copyhead


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Commands write their files (default ``copyhead-output/<command>``) into a temporary folder."""
    monkeypatch.chdir(tmp_path)


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


def test_solve_window_without_transition_is_none_exit_0(capsys):
    """Issue 8 §1.2: this window used to invent a crossover (alpha_c 1.011, residual 2.0, converged true)."""
    rc = copyhead.main(["solve", "--attention", "linear", "--alpha-min", "1", "--alpha-max", "3", "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["transition"] == "none" and d["alpha_c"] is None and d["residual"] is None
    assert d["alpha_spinodal_low"] is None and d["alpha_spinodal_high"] is None
    assert d["converged"] is True and d["alpha_range"] == [1.0, 3.0]


@pytest.mark.parametrize("window", [("30", "31"), ("10", "12"), ("40", "60"), ("2", "5")])
def test_solve_softmax_windows_exit_0(window, capsys):
    """Issue 8 §1.1: these windows gave an internal error (a finite-difference step past a branch end)."""
    rc = copyhead.main(["solve", "--attention", "softmax", "--alpha-min", window[0], "--alpha-max", window[1],
                        "--json"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["transition"] == "none"


def test_solve_large_T_writes_everything(tmp_path, capsys):
    """Issue 8 §1.4: T = 10^4 ended with exit 1 (an absolute Newton tolerance in the plotting step) and
    no CSV/JSON."""
    rc = copyhead.main(["solve", "--T", "10000", "--outdir", str(tmp_path)])
    assert rc == 0
    for att in ("softmax", "linear"):
        for suffix in ("_branches.png", "_free_energy.png", "_landscape.png", "_branches.csv", ".json"):
            assert (tmp_path / f"{att}_qk_posterior{suffix}").is_file()
        d = json.loads((tmp_path / f"{att}_qk_posterior.json").read_text())
        assert d["converged"] is True and "provenance" in d and d["provenance"]["wall_s"] > 0
    soft = json.loads((tmp_path / "softmax_qk_posterior.json").read_text())
    assert soft["alpha_spinodal_low"] < soft["alpha_c"] < soft["alpha_spinodal_high"]


def test_phase_diagram_T_honours_n_with_log_spacing(tmp_path, capsys):
    """Issue 8 §1.11: --vary T ignored --n (every integer in the range)."""
    rc = copyhead.main(["phase-diagram", "--vary", "T", "4", "4000", "--n", "4", "--grid", "0",
                        "--outdir", str(tmp_path), "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["spacing"] == "log" and d["n_values"] == 4
    assert [r["value"] for r in d["rows"]] == [4, 40, 400, 4000]
    saved = json.loads((tmp_path / "phase_softmax_qk_posterior_T.json").read_text())
    assert saved["spacing"] == "log" and saved["n_requested"] == 4 and "provenance" in saved


def test_phase_diagram_spacing_is_explicit(tmp_path, capsys):
    """Issue 8 §1.11: --vary nu silently switched to log spacing; now lin unless --spacing log, and said."""
    base = ["phase-diagram", "--vary", "nu", "0.1", "1.6", "--n", "3", "--grid", "0", "--outdir", str(tmp_path)]
    assert copyhead.main(base) == 0
    out = capsys.readouterr().out
    assert "nu: 3 values, lin spacing" in out
    assert copyhead.main(base + ["--spacing", "log", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["spacing"] == "log"
    assert [r["value"] for r in d["rows"]] == pytest.approx([0.1, 0.4, 1.6])


def test_phase_diagram_T_rounding_says_how_many(tmp_path, capsys):
    rc = copyhead.main(["phase-diagram", "--vary", "T", "2", "4", "--n", "10", "--grid", "0",
                        "--outdir", str(tmp_path)])
    assert rc == 0
    assert "(10 requested; only 3 distinct integers)" in capsys.readouterr().out


def test_scaling_values_json(tmp_path, capsys):
    """Issue 11 item 1: rows with the documented keys, the law with text/LaTeX and its error per T."""
    rc = copyhead.main(["scaling", "--vary", "T", "--values", "16,128,1000", "--outdir", str(tmp_path), "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert [r["T"] for r in d["rows"]] == [16, 128, 1000]
    for r in d["rows"]:
        for k in ("T", "transition", "alpha_c", "alpha_spinodal_low", "alpha_spinodal_high", "m_below", "m_above",
                  "P_c_over_V2"):
            assert k in r
        assert r["P_c_over_V2"] == pytest.approx(r["alpha_c"] / r["T"])
    law = d["law"]
    for k in ("leading", "first_correction", "asymptotic"):
        assert law[k]["text"] and law[k]["latex"]
    assert [e["T"] for e in law["relative_error"]] == [16, 128, 1000]
    assert law["data_amount"]["tokens"] == "T ln T"
    stem = tmp_path / "scaling_softmax_qk_posterior_T"
    assert all((stem.parent / (stem.name + ext)).is_file() for ext in (".json", ".csv", ".png"))
    assert "provenance" in json.loads((stem.parent / (stem.name + ".json")).read_text())


def test_scaling_range_is_log_spaced_integers(tmp_path, capsys):
    rc = copyhead.main(["scaling", "--attention", "linear", "--objective", "map", "--range", "10", "1e6", "--n", "3",
                        "--outdir", str(tmp_path), "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert [r["T"] for r in d["rows"]] == [10, 3162, 1000000]
    assert d["law"]["error_shrinks"]["exact"] == "exact"


@pytest.mark.parametrize("argv", [["scaling", "--values", "1.5"], ["scaling", "--values", "16", "--range", "2", "10"],
                                  ["scaling", "--range", "10", "5"], ["scaling", "--range", "1", "100"],
                                  ["scaling", "--n", "1"]])
def test_scaling_bad_input_exit_2(argv, tmp_path, capsys):
    try:
        rc = copyhead.main(argv + ["--outdir", str(tmp_path)])
    except SystemExit as e:
        rc = e.code
    assert rc == 2
    assert "Traceback" not in capsys.readouterr().err
