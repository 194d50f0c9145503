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


def test_phase_diagram_grid_of_one_is_rejected_before_the_lines_are_computed(monkeypatch, capsys):
    """``--grid 1`` used to compute every phase line and then fail in the map as 'n=1'."""
    import copyhead.numerics.phase_diagram as pd

    def no_lines(*a, **k):
        raise AssertionError("phase lines computed before the options were validated")

    monkeypatch.setattr(pd, "phase_lines", no_lines)
    assert _rc(["phase-diagram", "--vary", "sigma2", "0.05", "1", "--n", "3", "--grid", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("copyhead: error: invalid parameter grid=1") and "\n" not in err


@pytest.mark.parametrize("values,attention", [("2,16,128", "softmax"), ("2,4", "linear")])
def test_scaling_from_T_2_draws_its_figure(tmp_path, values, attention, capsys):
    """A law without a value at small T (T = 2) gave a curve shorter than the leading law's and the
    figure crashed ('operands could not be broadcast') after the solves; README's own example starts at T = 2."""
    rc = _rc(["scaling", "--vary", "T", "--values", values, "--attention", attention, "--outdir", str(tmp_path),
              "--quiet"])
    assert rc == 0, capsys.readouterr().err
    assert any(p.suffix == ".png" for p in tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["verify", "--V", "6", "--iters", "20"], ["switching", "--V", "6", "--iters", "20"],
                                  ["train", "--V", "6"], ["langevin", "--V", "6"],
                                  ["window-study", "hmc", "--V", "6"], ["check-ansatz"]])
def test_repeated_alphas_are_rejected_before_computing(argv, tmp_path, capsys):
    """``verify --alphas 30,20,20`` sampled, wrote part of its files and then died with an internal
    error ('every alpha needs the same number of chains')."""
    assert _rc(argv + ["--alphas", "30,20,20", "--outdir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "copyhead: error: invalid parameter alphas='30,20,20': must not repeat a value"
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_induction_degree_zero_is_a_parameter_error(capsys):
    """``induction --degree 0`` trained, then crashed on a missing gradient (internal error, exit 1)."""
    from copyhead.theory.induction import InductionModel
    from copyhead.theory.model import ParameterError

    with pytest.raises(ParameterError, match="degree"):
        InductionModel(degree=0)
    assert _rc(["induction", "--degree", "0", "--steps", "5", "--sequences", "50"]) == 2
    assert capsys.readouterr().err.strip().startswith("copyhead: error: invalid parameter degree=0")


def test_sweep_of_solve_rejects_an_empty_alpha_window_before_running(tmp_path, capsys):
    """A grid point with alpha_min >= alpha_max was only found when its task ran (exit 1 after the
    other tasks); the sweep validates every grid point first, so it must be caught there."""
    spec = tmp_path / "s.toml"
    spec.write_text('command = "solve"\n[grid]\nalpha_min = [1, 10]\n[fixed]\nattention = "linear"\nalpha_max = 5\n')
    assert _rc(["sweep", str(spec), "--executor", "serial", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("copyhead: error: invalid parameter alpha_max=5.0: must be a finite number > alpha_min = 10"), err
    assert not (tmp_path / "o" / "tasks").exists() or not any((tmp_path / "o" / "tasks").iterdir())


def test_induction_quiet_writes_its_files_in_the_chosen_format(tmp_path, capsys):
    """``induction`` had no ``--quiet``/``--format`` (its summary and progress bar always printed, its
    figures were always PNG); now it takes the output options every computing command shares."""
    argv = ["induction", "--n", "2", "--S", "2", "--L", "8", "--heads", "1", "--steps", "3", "--sequences", "20",
            "--criterion-draws", "4", "--quiet", "--format", "svg", "--outdir", str(tmp_path / "o")]
    assert _rc(argv) == 0
    got = capsys.readouterr()
    assert got.out == "" and got.err == ""
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["induction.json", "induction_a.svg", "induction_copier.svg", "induction_loss.svg",
                     "induction_selector.svg", "induction_traces.csv"]


def test_induction_window_shorter_than_the_parents_warns(capsys):
    """``induction --n 5 --window 3`` was accepted silently although the copier cannot reach parent 4.
    It is a legitimate misspecified experiment (the selector criterion ranks the subsets inside the
    window), so the command and every sweep task warn on stderr, naming window and n."""
    from copyhead.cli import induction

    induction.validate({"n": 5, "window": 3, "S": 2})
    err = capsys.readouterr().err.strip()
    assert err.startswith("copyhead: warning: window=3 < n - 1 = 4") and "\n" not in err
    assert "parent at offset 4 " in err
    induction.validate({"n": 6, "window": 3, "S": 2})
    assert "parents at offsets 4..5 " in capsys.readouterr().err
    for ok in ({"n": 5, "window": 4, "S": 2}, {"n": 5, "S": 2}, {}):  # covering windows and the default
        induction.validate(ok)
        assert capsys.readouterr().err == ""


LIST_COMMANDS = [["verify", "--V", "6", "--iters", "20"], ["switching", "--V", "6", "--iters", "20"], ["train", "--V", "6"],
                 ["langevin", "--V", "6"], ["window-study", "hmc", "--V", "6"], ["window-study", "adam", "--V", "6"],
                 ["check-ansatz"]]


@pytest.mark.parametrize("argv", LIST_COMMANDS)
@pytest.mark.parametrize("form", ["space", "equals"])
def test_negative_alpha_lists_reach_the_validation(argv, form, tmp_path, capsys):
    """``--alphas -1,5`` (space form) was an argparse error 'expected one argument' while ``--alphas=-1,5``
    reached the validation; both must name alphas (alpha > 0), before any output."""
    opt = ["--alphas", "-1,5"] if form == "space" else ["--alphas=-1,5"]
    assert _rc(argv + opt + ["--outdir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "copyhead: error: invalid parameter alphas='-1,5': must be a non-empty list of finite numbers > 0"
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("argv,name", [
    (["phase-diagram", "--vary", "nu", "-1e-3", "1", "--n", "3"], "nu"),      # a negative range end, exponent form
    (["scaling", "--values", "-16,128"], "values"),
    (["icl-regression", "--cov-eigs", "-1,1,1,1,1"], "cov_eigs"),
    (["solve", "--alpha-min", "-1e-3", "--alpha-max", "5"], "alpha_min"),
    (["solve", "--alpha-min", "5"], "alpha_max"),
    (["solve", "--alpha-min", "5", "--alpha-max", "2"], "alpha_max"),
    (["phase-diagram", "--vary", "nu", "0.5", "1", "--alpha-min", "-2,", "--alpha-max", "5"], None),  # not a float
    (["phase-diagram", "--vary", "nu", "0.5", "1", "--n", "3", "--alpha-min", "5", "--alpha-max", "2"], "alpha_max"),
])
def test_negative_numbers_are_values_and_errors_name_the_option(argv, name, tmp_path, capsys):
    """Negative numbers in the space form are values (validated by the command, which names the
    option as typed, with ``_`` for ``-``: alpha_min, alpha_max; not the library's 'alpha range')."""
    assert _rc(argv + ["--outdir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "expected one argument" not in err and "\n" not in err, err
    if name is None:
        assert err.startswith("copyhead phase-diagram: error: argument --alpha-min: invalid float value: '-2,'"), err
    else:
        assert err.startswith(f"copyhead: error: invalid parameter {name}="), err


def test_negative_value_pattern():
    from copyhead.cli.common import NEGATIVE_VALUE

    for word in ("-1", "-0.5", "-.5", "-1e-3", "-1,5", "-1, 5", "-1,-2.5e3", "-3,"):
        assert NEGATIVE_VALUE.match(word), word
    for word in ("--alphas", "-h", "-1x", "-", "-,1", "-e3", "--1"):
        assert not NEGATIVE_VALUE.match(word), word
