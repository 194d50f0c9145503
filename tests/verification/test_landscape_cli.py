"""``copyhead landscape``: options validated before any computation (one line, exit 2), and a tiny
end-to-end run writing JSON (with provenance), CSV and PNG."""
import csv
import json

import pytest

from copyhead.cli import main
from copyhead.cli.landscape import DEFAULTS, compute, validate
from copyhead.theory.model import ParameterError


@pytest.mark.parametrize("argv, name", [
    (["--V", "1"], "V=1"),
    (["--replicas", "1"], "replicas=1"),
    (["--data-seeds", "2,2"], "data_seeds"),
    (["--data-seeds", "x"], "data-seeds"),
    (["--m-range", "0.6,0.2"], "m_range"),
    (["--spring", "-3"], "spring"),
    (["--direct-chains", "1"], "direct_chains"),
    (["--alpha", "-1"], "alpha"),
    (["--split", "2"], "split=2"),  # outside the windows: was an SVD failure after the sampling, exit 1
    (["--split", "0.01"], "split=0.01"),
])
def test_bad_options_exit_2_before_computing(argv, name, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["landscape", *argv, "--outdir", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("copyhead: error: invalid parameter") and name in err[0]
    assert not out.exists()  # validated before the output folder is even created


def test_unwritable_outdir_exits_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["landscape", "--outdir", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_compute_rejects_unknown_options_and_single_basin_without_split():
    with pytest.raises(ParameterError, match="unknown"):
        validate({"V": 8, "colour": "red"})
    with pytest.raises(ParameterError, match="one basin"):
        validate({"V": 8, "alpha": 40.0})  # deep in the copy phase: F - e1/V has one minimum
    assert set(DEFAULTS) >= {"V", "alpha", "replicas", "data_seeds"}


@pytest.mark.slow
def test_tiny_landscape_run_writes_everything(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["landscape", "--V", "6", "--alpha", "27", "--iters", "60", "--warmup", "30", "--replicas", "2",
               "--windows", "6", "--bins", "20", "--theory-points", "40", "--outdir", str(out), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    prefix = out / "landscape_V6_alpha27_seed0"
    full = json.loads(prefix.with_suffix(".json").read_text())
    assert full["provenance"]["seeds"]["data"][0]["data_seed"] == 0 and full["provenance"]["wall_s"] > 0
    assert doc["log_odds"] == full["log_odds"] and full["log_odds_err"] > 0
    assert full["units"].startswith("F in kT")
    rows = list(csv.DictReader(prefix.with_suffix(".csv").open()))
    assert list(rows[0]) == ["m", "F_kT", "F_err_kT", "F_per_V2", "F_saddle_kT", "F_one_loop_kT"]
    assert prefix.with_suffix(".png").stat().st_size > 10_000
    # compute() is a pure function of plain options: the same options give the same numbers
    again = compute(full["options"])
    assert again["log_odds"] == pytest.approx(full["log_odds"], rel=1e-12)


def test_direct_chains_in_one_basin_are_reported_not_a_crash(tmp_path):
    """Unbiased chains that never leave one basin have an undefined log-odds (NaN in memory, null in
    JSON): the summary and the figure say so with the time fraction (the figure raised TypeError on
    None after the JSON and CSV were written, exit 1)."""
    import math
    from pathlib import Path

    from copyhead.cli.landscape import summary_lines
    from copyhead.verification.landscape import direct_summary
    from copyhead.verification.landscape_plots import plot_landscape

    root = Path(__file__).resolve().parents[2] / "results" / "landscape" / "landscape"
    result = json.loads(next(iter(sorted(root.glob("landscape_V*_seed0.json")))).read_text())
    for lo in (None, math.nan):
        d = {"log_odds": lo, "log_odds_err": lo, "fraction": 0.0, "switches": 0, "data_seed": 0, "chains": 2,
             "iters": 200, "F": [None] * len(result["profile"]["m"]), "F_data0": result["profile"]["F"]}
        assert direct_summary(d) == "undefined (copy-basin time fraction 0.000, 0 switches)"
        result["direct"] = d
        assert any("undefined" in line for line in summary_lines(result))
    assert Path(plot_landscape(result, tmp_path / "f.png")).stat().st_size > 0
    assert direct_summary({"log_odds": 0.5, "log_odds_err": 0.25, "switches": 3}) == "+0.500 +- 0.250 (3 switches)"
