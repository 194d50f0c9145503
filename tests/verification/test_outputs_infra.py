"""The shared output infrastructure (issue 9): atomic NetCDF writes with provenance, the command
line recorded in provenance, --outdir/--format/--quiet on every command, defaults in --help, the
progress bar over several parts, the Ctrl-C hint, the effective-alpha flag, check-ansatz files."""
import argparse
import json
import os

import numpy as np
import pytest

import copyhead
from copyhead import io as cio
from copyhead.cli import COMMANDS, build_parser
from copyhead.cli.common import ProgressBar, default_outdir, resume_hint
from copyhead.verification.outputs import alpha_note, flag_effective_alpha

NOT_COMPUTING = ("codegen", "derive", "report")
"""Commands that write no results of their own (``sweep`` has its own folder layout, tested in
tests/sweep); every other command has the output options."""
COMPUTING = ("solve", "phase-diagram", "scaling", "verify", "train", "langevin", "switching", "check-ansatz",
             "window-study hmc", "window-study adam", "induction", "icl-regression", "landscape")


def _subparsers():
    ap = build_parser()
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def _parser(name):
    """The parser of ``name`` (``"window-study hmc"``: a sub-command's)."""
    cmd, *what = name.split()
    p = _subparsers()[cmd]
    for w in what:
        p = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[w]
    return p


def test_every_computing_command_is_checked():
    assert {n.split()[0] for n in COMPUTING} | set(NOT_COMPUTING) | {"sweep"} == set(_subparsers())


@pytest.mark.parametrize("name", COMPUTING)
def test_output_options_and_default_outdir(name):
    p = _parser(name)
    name = name.split()[0]
    opts = {o: a for a in p._actions for o in a.option_strings}
    assert opts["--outdir"].default == default_outdir(name) == f"copyhead-output/{name}"
    assert opts["--format"].choices == ("png", "pdf", "svg") and opts["--format"].default == "png"
    assert "--quiet" in opts


def test_help_shows_every_default():
    """Every option with a value default states it in --help, for every command."""
    for name, p in _subparsers().items():
        for a in p._actions:
            if not a.option_strings or a.default in (None, False, argparse.SUPPRESS) or a.help == argparse.SUPPRESS:
                continue
            h = p._get_formatter()._expand_help(a)  # what --help prints for this option
            assert f"(default: {a.default})" in h, (name, a.option_strings, h)
    assert len(_subparsers()) == len(COMMANDS)


def test_write_netcdf_is_atomic_and_carries_provenance(tmp_path):
    import xarray as xr

    prov = cio.provenance(command=["copyhead", "x"], seeds={"seed": 1}, wall_s=0.5)
    ds = xr.Dataset({"m": (("alpha",), np.array([0.1, 0.2]))}, coords={"alpha": [1.0, 2.0]})
    path = cio.write_netcdf(ds, tmp_path / "a.nc", provenance=prov)
    back = xr.open_dataset(path)
    assert json.loads(back.attrs["provenance"])["seeds"] == {"seed": 1}
    back.close()

    class Broken:
        attrs = {}

        def to_netcdf(self, name):
            with open(name, "w") as f:
                f.write("half")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cio.write_netcdf(Broken(), tmp_path / "a.nc")
    assert xr.open_dataset(tmp_path / "a.nc")["m"].values.tolist() == [0.1, 0.2]  # the old file is intact
    assert sorted(os.listdir(tmp_path)) == ["a.nc"]  # no temporary file left


def test_provenance_records_the_command_line_of_main(tmp_path, capsys):
    rc = copyhead.main(["check-ansatz", "--T", "3", "--alphas", "5", "--starts", "1", "--quiet", "--outdir",
                        str(tmp_path)])
    out = capsys.readouterr()
    assert rc == 0 and out.out == "" and out.err == ""
    doc = json.loads((tmp_path / "check_ansatz_qk_posterior_T3.json").read_text())
    assert doc["provenance"]["command"] == ["copyhead", "check-ansatz", "--T", "3", "--alphas", "5", "--starts", "1",
                                            "--quiet", "--outdir", str(tmp_path)]
    assert doc["confirmed"] is True and doc["alphas"][0]["n_starts"] == 10
    assert (tmp_path / "check_ansatz_qk_posterior_T3.csv").read_text().startswith("alpha,start,F,gap,")
    assert (tmp_path / "check_ansatz_qk_posterior_T3.png").exists()
    assert cio.invocation() != doc["provenance"]["command"]  # reset after the command


def test_effective_alpha_flag():
    rows = [{"alpha": 5.0, "alpha_effective": 5.0625}, {"alpha": 8.0, "alpha_effective": 8.0625},
            {"alpha": 10.0, "alpha_effective": 9.89}]
    assert flag_effective_alpha(rows) == [5.0, 10.0]
    assert [r["alpha_effective_flag"] for r in rows] == [True, False, True]
    assert rows[0]["alpha_effective_shift"] == pytest.approx(0.0125)
    note = alpha_note(rows)
    assert "5 -> 5.062 (+1.25%)" in note and "10 -> 9.89 (-1.10%)" in note and "8 ->" not in note


def test_progress_bar_parts_cover_the_whole_run(capsys):
    bar = ProgressBar("job")
    for i in range(2):
        cb = bar.part(i, 2, f"part {i}")
        for done in (0, 5, 10):
            cb(done, 10)
    err = capsys.readouterr().err
    assert "20/20" in err and err.endswith("\n")  # one bar over both parts, closed with a newline
    quiet = ProgressBar("job", quiet=True)
    quiet(5, 10)
    assert capsys.readouterr().err == ""


def test_resume_hint(tmp_path):
    ck = tmp_path / "run.ckpt.pt"
    hint = resume_hint([str(ck)], 500)
    assert "no checkpoint was written yet (the first after 500 iterations)" in hint()
    ck.write_bytes(b"x")
    assert f"checkpoint saved ({ck})" in hint() and "rerun the same command" in hint()
    assert "--checkpoint PREFIX" in resume_hint([], 500)()


def test_ctrl_c_says_how_to_resume(tmp_path, capsys, monkeypatch):
    """An interrupted verify with --checkpoint names the checkpoint (or says none exists yet)."""
    import copyhead.verification.sweep as sw

    def interrupted(*a, checkpoint=None, **k):
        open(checkpoint + sw.CHECKPOINT_SUFFIX, "wb").close()  # as if one checkpoint had been written
        raise KeyboardInterrupt

    monkeypatch.setattr(sw, "run_sweep", interrupted)
    prefix = str(tmp_path / "ck")
    rc = copyhead.main(["verify", "--V", "4", "--T", "3", "--alphas", "5", "--iters", "10", "--checkpoint", prefix,
                        "--outdir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 130
    assert err.startswith("copyhead: interrupted; checkpoint saved") and prefix + ".ckpt.pt" in err


def test_sweep_draws_are_laid_out_by_chain_draw_alpha():
    """posterior.m[c, d, i] is draw warmup + d of the c-th chain of alpha i (rows alpha-major, as
    run_sweep returns them); warm-up draws go to warmup_posterior; sweeps saved before the
    ``accepted`` trace existed still convert (without it)."""
    from copyhead.verification.outputs import sweep_inference_data

    rng = np.random.default_rng(0)
    warmup, iters = 3, 5
    params = {"warmup": warmup, "iters": iters, "model": {"attention": "softmax"}, "V": 4, "N": 8, "n_leapfrog": 2,
              "seed": 0}
    names = ("m", "r", "train_err", "logp", "accept_prob", "step_size", "divergent")
    rows = [{"alpha": a, "alpha_effective": a + 0.1, "P": 7, "start": s, "params": params,
             "traces": {n: rng.random(warmup + iters) for n in names}}
            for a in (5.0, 8.0) for s in ("uniform", "copy")]
    idata = sweep_inference_data(rows)
    m = idata.posterior["m"]
    assert m.shape == (2, iters, 2) and "accepted" not in idata.sample_stats
    for i in range(2):
        for c in range(2):
            np.testing.assert_array_equal(m.values[c, :, i], rows[2 * i + c]["traces"]["m"][warmup:])
            np.testing.assert_array_equal(idata.warmup_posterior["m"].values[c, :, i],
                                          rows[2 * i + c]["traces"]["m"][:warmup])
    assert list(idata.posterior["start"].values) == ["uniform", "copy"]
    assert list(idata.posterior["alpha_effective"].values) == [5.1, 8.1]
