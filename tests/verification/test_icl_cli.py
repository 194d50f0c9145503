"""``copyhead icl-regression``: validation before work, the pure ``compute(config)``, JSON / CSV / figures."""
import csv
import json

import pytest

from copyhead.cli import main
from copyhead.cli.icl_regression import DEFAULTS, compute, normalise
from copyhead.io import to_json_text
from copyhead.theory.model import ParameterError
from test_icl_support import one_torch_thread  # noqa: F401 (autouse fixture)

TINY = {"d": 2, "L": 12, "heads": 2, "steps": 60, "batch": 32, "seeds": 2, "risk_prompts": 300, "baseline_mc": 300}



@pytest.mark.parametrize("argv", [["--d", "0"], ["--L", "1"], ["--heads", "0"], ["--sigma2", "-1"], ["--steps", "0"],
                                  ["--lr", "0"], ["--seeds", "0"], ["--d", "2", "--cov-eigs", "1,2,3"],
                                  ["--cov-eigs", "a,b"], ["--posterior", "--prompts", "0"],
                                  ["--posterior", "--prompts", "2.5"], ["--prior-ov", "0"]])
def test_bad_input_is_one_line_and_exit_2(argv, tmp_path, capsys):
    assert main(["icl-regression", *argv, "--outdir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("copyhead: error: invalid parameter")
    assert not (tmp_path / "o").exists()  # nothing created before validation


def test_unwritable_outdir_is_exit_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["icl-regression", "--steps", "5", "--outdir", str(f / "sub")]) == 2
    assert "copyhead: error" in capsys.readouterr().err


def test_normalise_fills_defaults_and_rejects_unknown_options():
    p, c = normalise({})
    assert c == {**DEFAULTS, "prompts": DEFAULTS["prompts"]} and (p.d, p.L, p.heads) == (5, 40, 2)
    with pytest.raises(ParameterError):
        normalise({"depth": 3})
    with pytest.raises(ParameterError):
        normalise({"prompts": [10, 2.5]})
    _, c = normalise({"cov_eigs": "1,2,3,4,5", "prompts": "100,30,30"})
    assert c["cov_eigs"] == [1.0, 2.0, 3.0, 4.0, 5.0] and c["prompts"] == [30, 100]


def test_compute_returns_the_specified_json():
    res = compute(TINY)
    json.loads(to_json_text(res))  # JSON-able as is
    d = TINY["d"]
    assert len(res["heads"]) == 2
    for h in res["heads"]:
        assert len(h["kq"]) == d + 1 and all(len(r) == d + 1 for r in h["kq"]) and len(h["ov"]) == d + 1
    r = res["risk"]
    assert r["L"] == sorted(set(range(10, 101, 10)) | {12})
    for k in ("model", "ridge", "gd", "gd_opt", "debiased_gd", "single_head", "model_linear"):
        assert len(r[k]) == len(r["L"]), k
    assert isinstance(res["collapsed"], bool) and res["seeds"] == [0, 1] and res["train_L"] == 12
    assert res["steps"] == 60 and res["wall_s"] > 0 and res["n_collapsed"] in (0, 1, 2)
    assert res["compare"]["attention"] == "linear" and res["compare"]["collapsed"] is None
    # the reported kq reproduces the model: logits z^T M z_q / sqrt(d+1) -- check the risk at train L
    from copyhead.theory.icl_regression import ICLRegression
    from copyhead.verification.icl_regression import model_risk

    p = ICLRegression(d=d, L=12)
    M = [[h["kq"] for h in res["heads"]]]
    w = [[h["ov"] for h in res["heads"]]]
    i = r["L"].index(12)
    rr, _ = model_risk(p, M, w, 12, n_prompts=TINY["risk_prompts"], seed=0)
    assert rr[0] == pytest.approx(r["model"][i], rel=1e-10)


def test_command_writes_json_csv_and_figures(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["icl-regression", "--d", "2", "--L", "10", "--steps", "40", "--batch", "16", "--seeds", "1",
            "--no-compare", "--risk-prompts", "200", "--baseline-mc", "200", "--cov-eigs", "2,0.5",
            "--outdir", str(out)]
    assert main(argv) == 0
    stem = out / "icl_softmax_d2_L10_H2"
    doc = json.loads(stem.with_suffix(".json").read_text())
    assert doc["provenance"]["seeds"] == [0] and "compare" not in doc
    with open(str(stem) + "_risk.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and {"L", "model", "ridge", "gd", "gd_opt", "debiased_gd", "single_head"} <= set(rows[0])
    for suffix in ("_heads.png", "_emergence.png", "_risk.png", "_preconditioner.png"):
        assert (out / (stem.name + suffix)).stat().st_size > 5000
    assert "risk at L=10" in capsys.readouterr().out


def test_posterior_mode_json(tmp_path, capsys):
    argv = ["icl-regression", "--posterior", "--d", "2", "--L", "6", "--prompts", "10,20", "--chains", "2",
            "--iters", "8", "--warmup", "10", "--leapfrog", "3", "--json", "--outdir", str(tmp_path)]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mode"] == "posterior" and [r["P"] for r in doc["posterior"]] == [10, 20]
    assert doc["posterior"][0]["starts"] == ["prior", "pattern"]
    assert set(doc["posterior"][0]["metrics"]) >= {"iso_dev", "gamma_iso_dev", "zero_sum", "collapsed"}
    assert (tmp_path / "icl_posterior_softmax_d2_L6_H2_patterns_vs_P.png").exists()
