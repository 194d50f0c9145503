"""The files of the Monte Carlo / training commands (issue 9): every kind is loaded back with
json / csv / xarray / ArviZ, carries provenance and is documented in docs/OUTPUTS.md; --quiet,
--format, the effective-alpha flag and the unconverged-training warning.

Sizes are tiny (V = 4, T = 3, a few iterations): these check the files, not the physics. At
V = 4, T = 3 the realised P = round(alpha kappa V^2/T) moves alpha = 5 to 5.0625 (+1.25 %,
flagged) and alpha = 8 to 8.0625 (+0.78 %, not flagged).
"""
import csv
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import copyhead
from copyhead.verification.outputs import COLUMNS, DRAW_VARIABLES, read_provenance

DOC = Path(__file__).resolve().parents[2] / "docs" / "OUTPUTS.md"
PROVENANCE_KEYS = {"command", "version", "packages", "seeds", "host", "utc_time", "wall_s"}
SMALL = ["--V", "4", "--T", "3"]


def _run(argv, capsys):
    rc = copyhead.main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _documented() -> set:
    return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", DOC.read_text()))


def _check_provenance(prov, argv):
    assert PROVENANCE_KEYS <= set(prov), prov
    assert prov["command"] == ["copyhead"] + argv
    assert prov["version"]["copyhead"] and "git_commit" in prov["version"]
    for pkg in ("python", "numpy", "scipy", "torch", "arviz", "xarray"):
        assert prov["packages"][pkg], pkg
    assert prov["wall_s"] is not None and prov["wall_s"] >= 0


def _csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows
    return rows


def _check_draws(path, argv, n_chain, alphas, posterior_vars):
    """The NetCDF loads with ArviZ, has the documented groups/dims/variables, and arviz.summary and
    arviz.plot_trace work on it."""
    import arviz as az
    import matplotlib.pyplot as plt

    idata = az.from_netcdf(path)
    for group in ("posterior", "sample_stats", "warmup_posterior", "warmup_sample_stats"):
        assert group in idata.groups(), group
    post = idata.posterior
    assert dict(post.sizes)["chain"] == n_chain and list(post["alpha"].values) == alphas
    assert set(posterior_vars) <= set(post.data_vars)
    assert {"lp", "acceptance_rate", "accepted", "diverging", "step_size"} <= set(idata.sample_stats.data_vars)
    assert set(post.data_vars) | set(idata.sample_stats.data_vars) <= set(DRAW_VARIABLES)
    assert post["m"].dims == ("chain", "draw", "alpha") and post["m"].attrs["units"] == "1"
    assert list(post["start"].values[:2]) in (["uniform", "copy"], ["prior", "prior"])
    _check_provenance(read_provenance(idata), argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's own deprecation noise and few-draws warnings
        summ = az.summary(idata, var_names=["m", "r"])
        assert len(summ) == 2 * len(alphas) and np.isfinite(summ["mean"]).all()
        az.plot_trace(idata, var_names=["m"])
    plt.close("all")
    return idata


# ----------------------------------------------------------------------------------- verify
@pytest.fixture(scope="module")
def verify_run(tmp_path_factory):
    """verify with --quiet and --format pdf."""
    out = tmp_path_factory.mktemp("verify")
    argv = ["verify", *SMALL, "--alphas", "5,8", "--iters", "12", "--warmup", "10", "--leapfrog", "2", "--quiet",
            "--format", "pdf", "--outdir", str(out)]
    rc = copyhead.main(argv)
    return rc, out, argv


def test_verify_quiet_prints_nothing(verify_run, capsys):
    rc, out, argv = verify_run
    assert rc == 0
    # the fixture's output was captured before this test; rerun the cheap --load re-analysis quietly
    saved = out / "verify_softmax_V4_seed0"
    rc, stdout, stderr = _run(["verify", "--load", str(saved), "--quiet", "--outdir", str(out / "again")], capsys)
    assert rc == 0 and stdout == "" and stderr == ""
    assert (out / "again" / "verify_softmax_V4_seed0.png").exists()


def test_verify_files_load_with_provenance_and_flag(verify_run):
    rc, out, argv = verify_run
    stem = out / "verify_softmax_V4_seed0"
    for suffix in (".json", ".npz", ".csv", ".nc", ".pdf"):
        assert Path(f"{stem}{suffix}").exists(), suffix
    assert Path(f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    doc = json.loads(Path(f"{stem}.json").read_text())
    _check_provenance(doc["provenance"], argv)
    assert doc["alpha_effective_flagged"] == [5.0]
    flags = {(r["alpha"], r["start"]): r["alpha_effective_flag"] for r in doc["rows"]}
    assert flags == {(5.0, "uniform"): True, (5.0, "copy"): True, (8.0, "uniform"): False, (8.0, "copy"): False}
    assert doc["rows"][0]["alpha_effective"] == pytest.approx(5.0625)
    rows = _csv(f"{stem}.csv")
    assert set(rows[0]) <= set(COLUMNS["verify"])
    assert [r["alpha_effective_flag"] for r in rows] == ["True", "True", "False", "False"]
    assert float(rows[0]["m_mean"]) == pytest.approx(doc["rows"][0]["m_mean"], rel=1e-10)
    _check_draws(f"{stem}.nc", argv, 2, [5.0, 8.0], ["m", "r", "train_err"])


def test_verify_table_shows_the_effective_alpha(tmp_path, capsys):
    """The table marks the flagged alpha (from a re-analysis of a saved sweep: no sampling)."""
    from copyhead.verification.sweep import run_sweep, save_sweep
    from copyhead.theory.model import Model

    save_sweep(run_sweep(Model(V=4, T=3), [5.0], iters=8, warmup=4, seed=0, n_leapfrog=2), str(tmp_path / "s"))
    rc, stdout, _ = _run(["verify", "--load", str(tmp_path / "s"), "--outdir", str(tmp_path / "o")], capsys)
    assert rc == 0
    assert "alpha_eff" in stdout and "5.062*" in stdout and "moves alpha by more than 1%" in stdout


# ----------------------------------------------------------------------------------- train
def test_train_unconverged_warns_and_is_flagged(tmp_path, capsys):
    """Ten Adam steps do not converge: a warning on stderr, converged false in JSON and CSV; SVG
    figures; the trajectories load with xarray."""
    import xarray as xr

    argv = ["train", *SMALL, "--alphas", "5", "--inits", "copy", "--steps", "10", "--format", "svg",
            "--outdir", str(tmp_path)]
    rc, stdout, stderr = _run(argv, capsys)
    assert rc == 0
    assert "copyhead: warning: training did not converge at alpha=5, init=copy" in stderr
    stem = tmp_path / "train_softmax_V4_seed0"
    doc = json.loads(Path(f"{stem}.json").read_text())
    _check_provenance(doc["provenance"], argv)
    assert doc["converged"] is False and doc["unconverged"][0]["init"] == "copy"
    row = doc["rows"][0]
    assert row["converged"] is False and row["grad_rms"] > doc["grad_tol"] == 1e-6
    assert row["grad_rms"] == pytest.approx(row["grad_norm"] / np.sqrt(row["n_parameters"]))
    assert row["alpha_effective_flag"] is True and doc["alpha_effective_flagged"] == [5.0]
    assert _csv(f"{stem}.csv")[0]["converged"] == "False"
    for fig in (f"{stem}.svg", f"{stem}_alpha5.svg"):
        assert Path(fig).read_text().lstrip().startswith("<?xml"), fig
    ds = xr.open_dataset(f"{stem}_traces.nc")
    assert ds["m"].dims == ("alpha", "init", "step") and ds["m"].shape[:2] == (1, 1)
    assert np.isfinite(ds["m"].values).all() and json.loads(ds.attrs["provenance"])["command"] == ["copyhead"] + argv
    ds.close()


def test_train_converged_is_quiet(tmp_path, capsys):
    """The same run judged against a loose tolerance: converged, and --quiet prints nothing at all."""
    rc, stdout, stderr = _run(["train", *SMALL, "--alphas", "8", "--inits", "copy", "--steps", "10",
                               "--grad-tol", "1e6", "--quiet", "--outdir", str(tmp_path)], capsys)
    assert rc == 0 and stdout == "" and stderr == ""
    doc = json.loads((tmp_path / "train_softmax_V4_seed0.json").read_text())
    assert doc["converged"] is True and doc["unconverged"] == [] and doc["alpha_effective_flagged"] == []


# ----------------------------------------------------------------------------------- langevin, switching
def test_langevin_files(tmp_path, capsys):
    argv = ["langevin", *SMALL, "--alphas", "5", "--iters", "12", "--chains", "2", "--json", "--outdir", str(tmp_path)]
    rc, stdout, stderr = _run(argv, capsys)
    assert rc == 0 and stderr == ""
    printed = json.loads(stdout)
    stem = tmp_path / "langevin_softmax_V4_seed0"
    doc = json.loads(Path(f"{stem}.json").read_text())
    _check_provenance(doc["provenance"], argv)
    assert [r["m_mean"] for r in printed] == [r["m_mean"] for r in doc["rows"]]
    assert set(_csv(f"{stem}.csv")[0]) <= set(COLUMNS["langevin"])
    idata = _check_draws(f"{stem}.nc", argv, 4, [5.0], ["m", "r"])
    assert list(idata.posterior["start"].values) == ["prior", "prior", "copy", "copy"]
    assert Path(f"{stem}.png").exists()


def test_switching_files(tmp_path, capsys):
    argv = ["switching", *SMALL, "--alphas", "5,8", "--iters", "10", "--warmup", "5", "--chains", "2",
            "--leapfrog", "2", "--quiet", "--checkpoint", str(tmp_path / "ck"), "--outdir", str(tmp_path)]
    rc, stdout, stderr = _run(argv, capsys)
    assert rc == 0 and stdout == "" and stderr == ""
    assert (tmp_path / "ck_rep0.ckpt.pt").exists()  # one checkpoint per replica (chains // 2 = 1)
    stem = tmp_path / "switching_V4_seed0"
    summary = json.loads(Path(f"{stem}_summary.json").read_text())
    _check_provenance(summary["provenance"], argv)
    assert summary["alpha_effective_flagged"] == [5.0] and len(summary["copy_fraction"]) == 2
    _check_provenance(json.loads(Path(f"{stem}.json").read_text())["provenance"], argv)
    rows = _csv(f"{stem}.csv")
    assert list(rows[0]) == list(COLUMNS["switching"]) and len(rows) == 2
    _check_draws(f"{stem}.nc", argv, 2, [5.0, 8.0], ["m", "r", "train_err"])


# ----------------------------------------------------------------------------------- documentation
def test_every_column_and_key_written_is_documented(verify_run, tmp_path, capsys):
    """docs/OUTPUTS.md names every CSV column, top-level JSON key, row key and NetCDF variable of the
    verify run (the other commands' columns are COLUMNS, checked against the doc below), and its
    generated tables are current."""
    from copyhead.verification.outputs import update_doc

    assert update_doc(DOC, check=True), "run: python -m copyhead.verification.outputs docs/OUTPUTS.md"
    documented = _documented()
    for cmd, cols in COLUMNS.items():
        assert set(cols) <= documented, cmd
    assert set(DRAW_VARIABLES) <= documented
    _, out, _ = verify_run
    doc = json.loads((out / "verify_softmax_V4_seed0.json").read_text())
    keys = set(doc) | set(doc["params"]) | set(doc["comparison"][0]) | set(doc["provenance"]) | set(doc["rows"][0])
    assert keys <= documented, keys - documented
    for heading in ("copyhead solve", "copyhead phase-diagram", "copyhead scaling", "copyhead induction",
                    "copyhead icl-regression", "copyhead landscape", "copyhead sweep"):
        assert heading in DOC.read_text(), heading
