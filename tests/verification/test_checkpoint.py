"""Checkpoint / resume of the batched HMC sweep: bit-identical resume, atomic writes, mismatches."""
import math
import os

import numpy as np
import pytest
import torch

from copyhead.theory.model import Model, ParameterError
from copyhead.verification import sweep as sw
from copyhead.verification.hmc import hmc_sample
from copyhead.verification.sweep import CheckpointMismatchError, load_checkpoint, run_sweep

torch.set_num_threads(1)

MODEL = Model(T=4, V=4, nu=0.5, sigma2=0.5, kappa=1.0, attention="softmax", prior="qk")
ALPHAS = [2.0, 8.0]
ITERS, WARMUP = 40, 20  # 60 iterations; the dual-averaging restart is at iteration 5
KW = dict(iters=ITERS, warmup=WARMUP, seed=7, n_leapfrog=4)


class Interrupt(Exception):
    pass


def _stop_at(n):
    def progress(done, total, info):
        if done == n:
            raise Interrupt(done)
    return progress


def _assert_identical(rows_a, rows_b):
    assert len(rows_a) == len(rows_b)
    for a, b in zip(rows_a, rows_b):
        for name in sw.TRACE_NAMES:
            np.testing.assert_array_equal(a["traces"][name], b["traces"][name], err_msg=name)
        for k in ("m_mean", "m_err", "r_mean", "eps_mean", "step_size", "acceptance", "divergences",
                  "warmup_divergences", "rhat", "ess"):
            assert a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])), k
        assert a["params"]["n_grad_evals"] == b["params"]["n_grad_evals"]
        assert a["params"]["data_seeds"] == b["params"]["data_seeds"]


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run (no checkpoint)."""
    return run_sweep(MODEL, ALPHAS, **KW)


def test_resume_is_bit_identical(tmp_path, reference):
    prefix = str(tmp_path / "run")
    path = prefix + sw.CHECKPOINT_SUFFIX
    # crash at 15 (in warm-up): resumes from the checkpoint at 10
    with pytest.raises(Interrupt):
        run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix, checkpoint_every=10, progress=_stop_at(15))
    assert load_checkpoint(path)["it"] == 10
    # crash at 35 (sampling phase): resumes from 30
    with pytest.raises(Interrupt):
        run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix, checkpoint_every=10, progress=_stop_at(35))
    assert load_checkpoint(path)["it"] == 30
    done = []
    rows = run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix, checkpoint_every=10,
                     progress=lambda d, t, i: done.append(d))
    assert done[0] == 31 and done[-1] == 60  # only the missing iterations were run
    assert rows[0]["params"]["resumed_from_iteration"] == 30
    assert rows[0]["params"]["checkpoint"] == path
    _assert_identical(rows, reference)
    # the final checkpoint is kept: running again returns the same result without sampling
    assert load_checkpoint(path)["it"] == 60
    again = run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix, checkpoint_every=10,
                      progress=lambda d, t, i: pytest.fail("no iteration should run"))
    assert again[0]["params"]["resumed_from_iteration"] == 60
    _assert_identical(again, reference)
    assert sorted(os.listdir(tmp_path)) == ["run.ckpt.pt"]  # no temp files


def test_checkpoint_period_not_dividing_and_plain_run_identical(tmp_path, reference):
    """checkpoint_every=25 (checkpoints at 25, 50, 60); an uninterrupted checkpointed run equals
    the reference too."""
    prefix = str(tmp_path / "p")
    with pytest.raises(Interrupt):
        run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix, checkpoint_every=25, progress=_stop_at(57))
    assert load_checkpoint(prefix + sw.CHECKPOINT_SUFFIX)["it"] == 50
    _assert_identical(run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix, checkpoint_every=25), reference)
    _assert_identical(run_sweep(MODEL, ALPHAS, **KW, checkpoint=str(tmp_path / "q"), checkpoint_every=7),
                      reference)


def test_crash_while_writing_keeps_previous_checkpoint(tmp_path, monkeypatch, reference):
    prefix = str(tmp_path / "crash")
    path = prefix + sw.CHECKPOINT_SUFFIX
    real = sw._serialize_checkpoint
    calls = []

    def flaky(doc, f):
        calls.append(doc["hmc"]["it"])
        if len(calls) == 2:  # the second write dies half way
            f.write(b"PK\x03\x04 half a zip file")
            raise OSError("simulated crash while writing")
        real(doc, f)

    monkeypatch.setattr(sw, "_serialize_checkpoint", flaky)
    with pytest.raises(OSError, match="simulated crash"):
        run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix, checkpoint_every=10)
    assert calls == [10, 20]
    assert sorted(os.listdir(tmp_path)) == ["crash.ckpt.pt"]  # temp file removed
    state = load_checkpoint(path)
    assert state["it"] == 10 and state["traces"]["logp"].shape == (10, 4)
    monkeypatch.setattr(sw, "_serialize_checkpoint", real)
    rows = run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix, checkpoint_every=10)
    assert rows[0]["params"]["resumed_from_iteration"] == 10
    _assert_identical(rows, reference)


def test_unreadable_checkpoint_is_reported(tmp_path):
    prefix = str(tmp_path / "bad")
    with open(prefix + sw.CHECKPOINT_SUFFIX, "wb") as f:
        f.write(b"not a checkpoint")
    with pytest.raises(ParameterError, match="could not be read"):
        run_sweep(MODEL, ALPHAS, **KW, checkpoint=prefix)


def test_parameter_mismatch_names_the_difference(tmp_path):
    prefix = str(tmp_path / "mm")
    kw = dict(KW, iters=8, warmup=4)
    run_sweep(MODEL, ALPHAS, **kw, checkpoint=prefix, checkpoint_every=4)
    with pytest.raises(CheckpointMismatchError, match=r"iters: checkpoint 8, this run 9") as e:
        run_sweep(MODEL, ALPHAS, **dict(kw, iters=9), checkpoint=prefix)
    assert set(e.value.differences) == {"iters"} and isinstance(e.value, ParameterError)
    with pytest.raises(CheckpointMismatchError, match="model.sigma2") as e:
        run_sweep(MODEL.replace(sigma2=0.4), ALPHAS, **kw, checkpoint=prefix)
    assert set(e.value.differences) == {"model.sigma2"}
    with pytest.raises(CheckpointMismatchError) as e:
        run_sweep(MODEL, [2.0, 9.0], **kw, checkpoint=prefix)
    assert {"alphas", "P", "data_sha256"} <= set(e.value.differences)
    with pytest.raises(CheckpointMismatchError) as e:
        run_sweep(MODEL, ALPHAS, **dict(kw, seed=8), checkpoint=prefix)
    assert {"seed", "data_seeds", "torch_seed"} <= set(e.value.differences)
    # the model's own alpha is ignored by run_sweep, so it does not count as a difference
    run_sweep(MODEL.replace(alpha=3.0), ALPHAS, **kw, checkpoint=prefix)
    # another torch build / thread count: allowed, with a warning (bit-identity not guaranteed)
    path = prefix + sw.CHECKPOINT_SUFFIX
    doc = torch.load(path, weights_only=True)
    doc["torch_threads"] = 99
    sw.save_checkpoint(path, doc)
    with pytest.warns(UserWarning, match="99 thread"):
        assert load_checkpoint(path)["it"] == 12
    with pytest.raises(ParameterError, match="checkpoint_every"):
        run_sweep(MODEL, ALPHAS, **kw, checkpoint=prefix, checkpoint_every=0)


# --------------------------------------------------------------------------- hmc_sample level
def _gauss(x):
    return -0.5 * (x * x * torch.tensor([1.0, 4.0, 9.0], dtype=x.dtype)).sum(1)


def test_hmc_state_resume_from_every_checkpoint():
    x0 = torch.ones(3, 3, dtype=torch.float64)
    kw = dict(seed=4, n_leapfrog=3, observe=lambda x: x[:, :2].clone(), observable_names=("a", "b"))
    states = []
    ref = hmc_sample(_gauss, x0, 25, 30, **kw, on_checkpoint=states.append, checkpoint_every=6)
    assert [s["it"] for s in states] == [6, 12, 18, 24, 30, 36, 42, 48, 54, 55]
    for st in states:
        res = hmc_sample(_gauss, x0 * 0 + 5.0, 25, 30, **kw, state=st)  # x0 is ignored on resume
        for k in ref.traces:
            np.testing.assert_array_equal(res.traces[k], ref.traces[k], err_msg=k)
        assert torch.equal(res.x, ref.x) and np.array_equal(res.step_size, ref.step_size)
        assert res.n_grad_evals == ref.n_grad_evals
    with pytest.raises(ParameterError, match="n_leapfrog"):
        hmc_sample(_gauss, x0, 25, 30, **dict(kw, n_leapfrog=4), state=states[0])
    with pytest.raises(ParameterError, match="checkpoint_every"):
        hmc_sample(_gauss, x0, 5, 5, checkpoint_every=-1)
