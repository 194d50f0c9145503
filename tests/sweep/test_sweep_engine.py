"""The sweep engine end to end: serial, processes and a Dask LocalCluster give identical datasets;
workers run on one thread; reruns compute nothing; failures are recorded while the rest
complete; the command line's JSON line, exit codes and Ctrl-C hint."""
import json
import os

import pytest
import xarray as xr

import sweep_probe_command as probe
from copyhead.cli import main
from copyhead.cli.sweep_tasks import native_task, registry
from copyhead.sweep import open_executor, parse_spec, run
from copyhead.sweep.threads import is_pinned

SOLVE = {"command": "solve", "grid": {"attention": ["softmax", "linear"], "sigma2": [0.1, 0.2]}}
VERIFY = {"command": "verify", "seed": 3, "grid": {"alpha": [18.0, 30.0], "seed": [0, 1]},
          "fixed": {"attention": "softmax", "V": 6, "iters": 40, "warmup": 20}}
KINDS = ("serial", "processes", "dask")


@pytest.fixture(scope="module")
def pools():
    """One executor of each kind for the whole module (a LocalCluster start costs seconds). The
    parent asks for two BLAS threads: the workers must not inherit that."""
    pytest.importorskip("distributed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "2")
        mp.setenv("OPENBLAS_NUM_THREADS", "2")
        with open_executor("serial") as s, open_executor("processes", 2) as p, open_executor("dask", 2) as d:
            yield dict(zip(KINDS, (s, p, d)))


@pytest.fixture(scope="module")
def runs(pools, tmp_path_factory):
    """The two small sweeps on every executor: ``{(kind, name): (report, folder)}``."""
    root = tmp_path_factory.mktemp("sweeps")
    reg = registry()
    out = {}
    for kind, (ex, info) in pools.items():
        for name, doc in (("solve", SOLVE), ("verify", VERIFY)):
            folder = root / kind / name
            out[kind, name] = (run(parse_spec(doc, reg), folder, ex, info), folder)
    return out


def _load(folder):
    with xr.open_dataset(folder / "sweep.nc") as ds:
        return ds.load()


def _tasks(folder):
    return [json.loads(p.read_text()) for p in sorted((folder / "tasks").glob("*.json"))]


@pytest.mark.parametrize("name", ["solve", "verify"])
def test_executors_give_identical_datasets(runs, name):
    ds = {}
    for kind in KINDS:
        report, folder = runs[kind, name]
        assert (report.tasks, report.computed, report.cached, report.failed) == (4, 4, 0, 0)
        ds[kind] = _load(folder)
        assert json.loads(ds[kind].attrs.pop("provenance"))["executor"]["kind"] == kind
    xr.testing.assert_identical(ds["serial"], ds["processes"])
    xr.testing.assert_identical(ds["serial"], ds["dask"])
    results = {kind: {t["key"]: t["result"] for t in _tasks(runs[kind, name][1])} for kind in KINDS}
    assert results["serial"] == results["processes"] == results["dask"]


def test_dataset_layout(runs):
    v = _load(runs["serial", "verify"][1])
    assert v.m_mean.dims == ("alpha", "seed", "start")
    assert list(v.alpha.values) == [18.0, 30.0] and list(v.seed.values) == [0, 1]
    assert sorted(v.start.values) == ["copy", "uniform"]
    assert (v.status == "ok").all() and (v.error == "").all()
    assert ((v.m_mean > 0) & (v.m_mean < 1)).all() and (v.m_err > 0).all()
    assert v.theory_m.notnull().all() and set(v.theory_branch.values.ravel()) <= {"disordered", "copy"}
    assert v.m_mean.attrs["units"] == "1" and "copy weight" in v.m_mean.attrs["long_name"]
    assert len(set(v.task_seed.values.ravel())) == 4
    prov = json.loads(v.attrs["provenance"])
    assert prov["seeds"]["base"] == 3 and set(prov["seeds"]["tasks"]) == set(v.task_key.values.ravel())
    assert prov["packages"]["xarray"] and prov["wall_s"] > 0
    assert json.loads(v.attrs["spec"])["grid"] == VERIFY["grid"]
    s = _load(runs["serial", "solve"][1])
    assert s.alpha_c.dims == ("attention", "sigma2") and "task_seed" not in s
    from copyhead import Model, solve

    for att in ("softmax", "linear"):  # the value in the dataset is the solver's, unchanged
        assert s.alpha_c.sel(attention=att, sigma2=0.2).item() == \
            solve(Model(attention=att, sigma2=0.2)).transition.alpha_c
    assert s.transition.sel(attention="softmax").values.tolist() == ["first-order"] * 2


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_workers_run_with_one_thread(runs, kind):
    for t in _tasks(runs[kind, "verify"][1]):
        w = t["worker"]
        assert w["pid"] != os.getpid()
        th = w["threads"]
        assert th["torch"] == 1 and th["numba"] == 1, th
        assert th["env"]["OMP_NUM_THREADS"] == "1" and th["env"]["OPENBLAS_NUM_THREADS"] == "1", th
        assert th["openblas"] and set(th["openblas"].values()) == {1}, th
        assert is_pinned(th)
        assert t["provenance"]["executor"]["kind"] == kind


def test_rerun_computes_nothing(runs, pools):
    """A rerun (here on another executor) finds every task and rebuilds the same dataset."""
    report, folder = runs["processes", "verify"]
    before = _load(folder)
    ex, info = pools["dask"]
    again = run(parse_spec(VERIFY, registry()), folder, ex, info)
    assert (again.tasks, again.computed, again.cached, again.failed) == (4, 0, 4, 0)
    after = _load(folder)
    assert before.attrs.pop("provenance") != after.attrs.pop("provenance")
    xr.testing.assert_identical(before, after)


def test_existing_scheduler(pools, runs, tmp_path):
    """``--scheduler``: the engine connects to a running cluster (here the module's LocalCluster),
    checks that its workers are pinned, and gives the same dataset."""
    address = pools["dask"][1].address
    warnings = []
    with open_executor("dask", scheduler=address, warn=warnings.append) as (ex, info):
        assert (info.address, info.workers) == (address, 2)
        report = run(parse_spec(SOLVE, registry()), tmp_path, ex, info)
    assert warnings == [] and (report.computed, report.failed) == (4, 0)
    a, b = _load(tmp_path), _load(runs["serial", "solve"][1])
    a.attrs.pop("provenance"), b.attrs.pop("provenance")
    xr.testing.assert_identical(a, b)


PROBE = {"command": "probe", "seed": 1, "grid": {"x": [0.0, 1.0, 2.0, 3.0]}, "fixed": {"fail_at": 2.0}}


def test_failure_is_recorded_and_the_others_complete(pools, tmp_path):
    reg = {"probe": native_task(probe)}
    ex, info = pools["processes"]
    report = run(parse_spec(PROBE, reg), tmp_path, ex, info)
    assert (report.tasks, report.computed, report.cached, report.failed) == (4, 4, 0, 1)
    ds = _load(tmp_path)
    assert ds.status.values.tolist() == ["ok", "ok", "failed", "ok"]
    assert ds.error.sel(x=2.0).item() == "injected failure at x=2.0"
    assert ds.y.sel(x=2.0).isnull().all() and ds.y.drop_sel(x=2.0).notnull().all()
    assert ds.y.dims == ("x", "k") and ds.y.attrs["long_name"] == "x k + noise"
    assert ds.loss_train.notnull().sum() == 3 and "trace" in ds.attrs["omitted_from_dataset"]
    failed = json.loads((tmp_path / "tasks" / f"{ds.task_key.sel(x=2.0).item()}.json").read_text())
    assert failed["status"] == "failed" and failed["error"]["type"] == "ValueError"
    assert "raise ValueError" in failed["error"]["traceback"] and failed["provenance"]["seeds"] == failed["seed"]
    summary = json.loads((tmp_path / "sweep.json").read_text())
    assert summary["failed"] == 1 and summary["failures"][0]["point"] == {"x": 2.0}
    again = run(parse_spec(PROBE, reg), tmp_path, ex, info)  # failed tasks run again, finished ones do not
    assert (again.computed, again.cached, again.failed) == (1, 3, 1)


def _probe_cli(monkeypatch, tmp_path, doc):
    import copyhead.cli.sweep_tasks as st

    monkeypatch.setattr(st, "registry", lambda native=(): {"probe": native_task(probe)})
    spec = tmp_path / "probe.toml"
    lines = [f"command = \"{doc['command']}\"", f"seed = {doc['seed']}", "[grid]",
             f"x = {json.dumps(doc['grid']['x'])}", "[fixed]"]
    lines += [f"{k} = {v}" for k, v in doc.get("fixed", {}).items()]
    spec.write_text("\n".join(lines) + "\n")
    return spec


def test_cli_json_line_and_rerun(monkeypatch, tmp_path, capsys):
    spec = _probe_cli(monkeypatch, tmp_path, {**PROBE, "fixed": {}})
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--executor", "serial", "--out", str(out), "--json"]) == 0
    first = capsys.readouterr()
    lines = first.out.splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert list(doc) == ["tasks", "computed", "cached", "failed", "dataset", "executor", "wall_s"]
    assert doc["tasks"] == 4 and doc["computed"] == 4 and doc["cached"] == 0 and doc["failed"] == 0
    assert doc["dataset"] == str(out / "sweep.nc") and doc["executor"] == "serial"
    assert main(["sweep", str(spec), "--executor", "serial", "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["computed"], doc["cached"]) == (0, 4)


def test_cli_exit_code_says_a_task_failed(monkeypatch, tmp_path, capsys):
    spec = _probe_cli(monkeypatch, tmp_path, PROBE)
    assert main(["sweep", str(spec), "--executor", "serial", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "{'x': 2.0} failed: ValueError: injected failure at x=2.0" in err
    assert "1 of 4 tasks failed; rerun the same command to retry them" in err


def test_cli_quiet_prints_nothing_but_the_failures(monkeypatch, tmp_path, capsys):
    """``--quiet`` (as on every computing command): no progress bar and no summary line; the files
    are written and failed tasks are still reported on stderr. ``--outdir`` names the folder."""
    spec = _probe_cli(monkeypatch, tmp_path, PROBE)
    out = tmp_path / "o"
    assert main(["sweep", str(spec), "--executor", "serial", "--outdir", str(out), "--quiet"]) == 1
    got = capsys.readouterr()
    assert got.out == ""
    err = got.err.splitlines()
    assert len(err) == 2 and "injected failure at x=2.0" in err[0] and "1 of 4 tasks failed" in err[1]
    assert (out / "sweep.nc").exists()


def test_ctrl_c_says_how_to_resume(monkeypatch, tmp_path, capsys):
    spec = _probe_cli(monkeypatch, tmp_path, {**PROBE, "fixed": {"interrupt_at": 2.0}})
    out = tmp_path / "o"
    assert main(["sweep", str(spec), "--executor", "serial", "--out", str(out)]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"copyhead: interrupted; 2 of 4 tasks are saved in {out / 'tasks'}; rerun "
                    f"`copyhead sweep {spec} --executor serial --outdir {out}` to resume (finished tasks are kept)")
    assert len(list((out / "tasks").glob("*.json"))) == 2 and not (out / "sweep.nc").exists()


def test_dead_workers_are_recorded_not_fatal(tmp_path):
    """A worker that dies (its future raises) or an executor that broke (``submit`` raises) fail
    those tasks only; the sweep finishes, and a rerun on a healthy executor completes it."""
    from concurrent.futures import BrokenExecutor, Future

    from copyhead.sweep import SerialExecutor
    from copyhead.sweep.executors import ExecutorInfo

    class Dying(SerialExecutor):
        calls = 0

        def submit(self, fn, /, *args, **kwargs):
            Dying.calls += 1
            if Dying.calls == 2:
                f = Future()
                f.set_exception(RuntimeError("worker killed"))
                return f
            if Dying.calls >= 4:
                raise BrokenExecutor("pool broken")
            return super().submit(fn, *args, **kwargs)

    spec = parse_spec({**PROBE, "fixed": {}}, {"probe": native_task(probe)})
    report = run(spec, tmp_path, Dying(), ExecutorInfo("dying", 1, None, 1))
    assert (report.computed, report.failed) == (4, 2)
    assert [f["error"] for f in report.failures] == ["RuntimeError: worker killed", "BrokenExecutor: pool broken"]
    assert _load(tmp_path).status.values.tolist() == ["ok", "failed", "ok", "failed"]
    with open_executor("serial") as (ex, info):
        again = run(spec, tmp_path, ex, info)
    assert (again.computed, again.cached, again.failed) == (2, 2, 0)
