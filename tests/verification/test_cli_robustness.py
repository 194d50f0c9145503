"""The verification commands off the defaults (issue 8 §1, items 3, 5, 6, 8, 9, 10): each bug
reproduced as a test. Sizes are tiny (V = 4..8): these check behaviour, not physics."""
import json
import os
import stat

import numpy as np
import pytest
from agreement import check_agreement

import copyhead
from copyhead.theory.model import Model


def _main(argv, capsys):
    try:
        rc = copyhead.main(argv)
    except SystemExit as e:  # argparse errors
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err.strip()


def _one_line_error(rc, err, *words):
    assert rc == 2, err
    assert err.count("\n") == 0 and err.startswith("copyhead: error:") and "Traceback" not in err, err
    for w in words:
        assert w in err, err


# --------------------------------------------------------------------------- §1.3 crossover models
def test_verify_crossover_model_reports_no_spinodal_window(tmp_path, capsys):
    """A softmax model whose V = inf transition is a crossover (T = 4) has no spinodals: the summary
    says so instead of crashing after sampling."""
    rc, out, err = _main(["verify", "--attention", "softmax", "--T", "4", "--V", "6", "--alphas", "10",
                          "--iters", "10", "--warmup", "10", "--outdir", str(tmp_path)], capsys)
    assert rc == 0, err
    assert "predicted spinodal window: V=inf none (crossover)" in out
    assert (tmp_path / "verify_softmax_V6_seed0.json").exists()


# --------------------------------------------------------------------------- §1.5 output folders
COMMANDS = {
    "verify": (["verify", "--V", "4", "--T", "3", "--alphas", "5", "--iters", "10"], "copyhead.verification.sweep",
               "run_sweep"),
    "train": (["train", "--V", "4", "--T", "3", "--alphas", "5", "--steps", "10"], "copyhead.verification.training",
              "train_adam"),
    "langevin": (["langevin", "--V", "4", "--T", "3", "--alphas", "5", "--iters", "10"],
                 "copyhead.verification.langevin", "sample_langevin"),
    "switching": (["switching", "--V", "4", "--T", "3", "--alphas", "5", "--iters", "10"],
                  "copyhead.verification.switching", "switching_study"),
}


def _forbid_computing(monkeypatch, module, name):
    import importlib

    def boom(*a, **k):
        raise AssertionError(f"{name} ran although the output folder is unusable")

    monkeypatch.setattr(importlib.import_module(module), name, boom)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", ["is_a_file", "inside_a_file", "unwritable"])
def test_unusable_outdir_fails_before_computing(command, case, tmp_path, capsys, monkeypatch):
    argv, module, fn = COMMANDS[command]
    _forbid_computing(monkeypatch, module, fn)
    afile = tmp_path / "afile"
    afile.write_text("x")
    if case == "is_a_file":
        target = afile
    elif case == "inside_a_file":
        target = afile / "sub"
    else:  # root ignores chmod: simulate a folder that refuses new files
        import copyhead.io as cio

        target = tmp_path / "ro"

        def refuse(*a, **k):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(cio.tempfile, "mkstemp", refuse)
    rc, _, err = _main(argv + ["--outdir", str(target)], capsys)
    _one_line_error(rc, err, "output folder")


# --------------------------------------------------------------------------- §1.6 verify --load
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Two tiny saved sweeps (different alphas): ``a`` and ``b``."""
    from copyhead.verification.sweep import run_sweep, save_sweep

    d = tmp_path_factory.mktemp("sweeps")
    model = Model(V=4, T=3)
    for name, alphas in (("a", [5.0]), ("b", [6.0])):
        save_sweep(run_sweep(model, alphas, iters=10, warmup=10, seed=1, n_leapfrog=3), str(d / name))
    return d


def _copy(saved, tmp_path, name, json_text=None, npz_bytes=None, npz_from="a"):
    (tmp_path / f"{name}.json").write_text(json_text if json_text is not None else (saved / "a.json").read_text())
    (tmp_path / f"{name}.npz").write_bytes(npz_bytes if npz_bytes is not None else (saved / f"{npz_from}.npz").read_bytes())
    return str(tmp_path / name)


def test_load_accepts_prefix_or_json_name(saved, tmp_path, capsys):
    rc, out, err = _main(["verify", "--load", str(saved / "a.json"), "--iters", "10", "--V", "4",
                          "--outdir", str(tmp_path), "--json"], capsys)
    assert rc == 0, err
    rows = json.loads(out)
    assert [r["alpha"] for r in rows] == [5.0, 5.0]
    assert (tmp_path / "verify_softmax_V4_seed1.json").exists()  # named after the saved sweep's seed


@pytest.mark.parametrize("case,words", [
    ("missing", ["no such file"]),
    ("truncated_json", ["not readable JSON"]),
    ("corrupt_npz", ["could not be read"]),
    ("empty_object", ["not a copyhead.hmc_sweep/1 file"]),
    ("mismatch", ["does not match"]),
])
def test_broken_saved_sweeps_give_one_clear_error(case, words, saved, tmp_path, capsys):
    text = (saved / "a.json").read_text()
    prefix = {
        "missing": lambda: str(tmp_path / "nothing"),
        "truncated_json": lambda: _copy(saved, tmp_path, "t", json_text=text[: len(text) // 2]),
        "corrupt_npz": lambda: _copy(saved, tmp_path, "c", npz_bytes=(saved / "a.npz").read_bytes()[:200]),
        "empty_object": lambda: _copy(saved, tmp_path, "e", json_text="{}"),
        "mismatch": lambda: _copy(saved, tmp_path, "m", npz_from="b"),
    }[case]()
    rc, _, err = _main(["verify", "--load", prefix, "--outdir", str(tmp_path / "out")], capsys)
    _one_line_error(rc, err, "load", *words)


@pytest.mark.parametrize("flags,name", [(["--iters", "500"], "iters"), (["--alphas", "3"], "alphas"),
                                        (["--T", "5"], "T"), (["--V", "8"], "V"), (["--seed", "2"], "seed"),
                                        (["--checkpoint", "x"], "checkpoint"), (["--copy-start", "fixed"], "copy-start")])
def test_flags_that_conflict_with_load_are_rejected(flags, name, saved, tmp_path, capsys):
    rc, _, err = _main(["verify", "--load", str(saved / "a")] + flags + ["--outdir", str(tmp_path)], capsys)
    _one_line_error(rc, err, f"invalid parameter {name}=")


# --------------------------------------------------------------------------- §1.8 bad numbers
@pytest.mark.parametrize("argv,name", [
    (["langevin", "--V", "4", "--chains", "0"], "chains"),
    (["check-ansatz", "--alphas", "x"], "alphas"),
    (["verify", "--threads", "0"], "threads"),
    (["verify", "--V", "4", "--iters", "5"], "iters"),
    (["switching", "--V", "4", "--leapfrog", "0"], "leapfrog"),
])
def test_bad_numbers_are_one_line_errors(argv, name, tmp_path, capsys):
    rc, _, err = _main(argv + (["--outdir", str(tmp_path)] if argv[0] != "check-ansatz" else []), capsys)
    _one_line_error(rc, err, f"invalid parameter {name}=")


# --------------------------------------------------------------------------- §1.9 permissions
def test_outputs_and_checkpoints_get_ordinary_permissions(tmp_path):
    from copyhead.verification.sweep import CHECKPOINT_SUFFIX, run_sweep, save_sweep

    old = os.umask(0o022)
    try:
        rows = run_sweep(Model(V=4, T=3), [5.0], iters=8, warmup=4, seed=0, n_leapfrog=2,
                         checkpoint=str(tmp_path / "run"), checkpoint_every=4)
        paths = list(save_sweep(rows, str(tmp_path / "sweep"))) + [str(tmp_path / ("run" + CHECKPOINT_SUFFIX))]
    finally:
        os.umask(old)
    for p in paths:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o644, p


# --------------------------------------------------------------------------- §1.10 finite-V branches
def test_verify_labels_chains_by_the_finite_V_branches(tmp_path, capsys):
    """V = 8, alpha = 27 and 28: beyond the V = inf window [22.46, 26.34] but inside V = 8's
    [24.50, 28.49]. Short uniform-start chains (seed 0) stay on the disordered minimum of F - e1/V:
    labelled "disordered", no V = inf value, and within 4 MCSE + 1/V^2 of that minimum (they used
    to be labelled "copy", compared with the V = inf copy branch: dev ~ -0.4)."""
    rc, out, err = _main(["verify", "--V", "8", "--alphas", "27,28", "--iters", "40", "--warmup", "40",
                          "--outdir", str(tmp_path), "--json"], capsys)
    assert rc == 0, err
    rows = json.loads(out)
    for uni, cop in zip(rows[::2], rows[1::2]):
        assert uni["start"] == "uniform" and uni["m_mean"] < 0.3, uni
        assert uni["theory_branch"] == "disordered" and uni["theory_m"] is None
        check_agreement(uni["theory_m_corrected"], uni["m_mean"], atol=1 / 64, stderr=uni["m_err"],
                        what=f"uniform <m> at alpha={uni['alpha']}")
        assert cop["theory_branch"] == "copy" and cop["theory_m"] is not None
        assert np.isfinite(cop["deviation"])
