"""Sweep specs are validated as a whole before anything runs (one error line naming the key);
task keys and seeds depend on the task's canonical parameters only; the result protocol."""
import json

import pytest

import sweep_probe_command as probe
from copyhead.cli import main
from copyhead.cli.sweep_tasks import RUN_ONLY, native_task, registry
from copyhead.sweep import parse_spec
from copyhead.sweep.dataset import ProtocolError, task_variables
from copyhead.sweep.protocol import options_from_parser
from copyhead.theory.model import ParameterError

VERIFY = {"command": "verify", "seed": 3, "grid": {"alpha": [18.0, 30.0], "seed": [0, 1]},
          "fixed": {"attention": "softmax", "V": 6, "iters": 40}}


def _toml(doc) -> str:
    """A TOML text for the simple specs used here (scalars, lists, tables of those)."""
    def val(v):
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()
    lines = [f"{k} = {val(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for table, entries in doc.items():
        if isinstance(entries, dict):
            lines.append(f"[{table}]")
            lines += [f"{k} = {val(v)}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"


def _with(**changes):
    doc = json.loads(json.dumps(VERIFY))
    for path, value in changes.items():
        *head, last = path.split("__")
        d = doc
        for h in head:
            d = d.setdefault(h, {})
        if value is KeyError:
            d.pop(last)
        else:
            d[last] = value
    return doc


BAD = [
    (_with(command="nope"), "command"),
    (_with(fixed__bogus=1), "fixed.bogus"),
    (_with(grid__bogus=[1, 2]), "grid.bogus"),
    (_with(grid={}), "grid"),
    (_with(grid__alpha=[]), "grid.alpha"),
    (_with(grid__alpha=["a", "b"]), "grid.alpha"),
    (_with(grid__alpha=[18, 18.0]), "grid.alpha"),
    (_with(fixed__V="six"), "fixed.V"),
    (_with(fixed__V=6.5), "fixed.V"),
    (_with(fixed__attention="relu"), "fixed.attention"),
    (_with(fixed__seed=4), "fixed.seed"),
    (_with(fixed__alpha=20.0), "fixed.alpha"),  # also a grid dimension
    (_with(grid__alpha=KeyError), "alpha"),  # alpha or alphas is required
    (_with(fixed__alphas=[20.0, 22.0]), "alpha"),  # not both
    (_with(seed=-1), "seed"),
    (_with(gird={"alpha": [1.0]}), "gird"),
    (_with(fixed__V=1), "V"),  # the command's own validation, before anything runs
    ({"command": "solve", "seed": 1, "grid": {"sigma2": [0.1]}, "fixed": {"attention": "softmax"}}, "seed"),
    ({"command": "solve", "grid": {"sigma2": [0.1]}}, "attention"),
    ({"command": "switching", "grid": {"alphas": [[25.0, 26.0]]}}, "grid.alphas"),
]


@pytest.mark.parametrize("doc,key", BAD, ids=[k for _, k in BAD])
def test_bad_spec_is_one_error_line_naming_the_key(tmp_path, capsys, doc, key):
    spec = tmp_path / "spec.toml"
    spec.write_text(_toml(doc))
    out = tmp_path / "out"
    rc = main(["sweep", str(spec), "--executor", "serial", "--out", str(out), "--json"])
    err = capsys.readouterr()
    assert rc == 2
    assert err.out == ""
    lines = err.err.strip().splitlines()
    assert len(lines) == 1, err.err
    assert lines[0].startswith(f"copyhead: error: invalid parameter {key}="), lines[0]
    assert not out.exists()  # nothing was created or run


@pytest.mark.parametrize("text,what", [("command = 'solve'\n[grid\n", "not valid TOML"), (None, "no such file")])
def test_unreadable_spec(tmp_path, capsys, text, what):
    spec = tmp_path / "spec.toml"
    if text is not None:
        spec.write_text(text)
    assert main(["sweep", str(spec), "--executor", "serial", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("copyhead: error: invalid parameter spec=") and what in err[0]


@pytest.mark.parametrize("args,key", [(["--executor", "serial", "--workers", "2"], "workers"),
                                      (["--executor", "processes", "--scheduler", "tcp://x:1"], "scheduler"),
                                      (["--executor", "processes", "--workers", "0"], "workers"),
                                      # no port: was a ValueError from distributed.Client, exit 1
                                      (["--executor", "dask", "--scheduler", "notanaddress"], "scheduler"),
                                      (["--executor", "dask", "--scheduler", "tcp://host:port"], "scheduler")])
def test_bad_executor_options(tmp_path, capsys, args, key):
    spec = tmp_path / "spec.toml"
    spec.write_text(_toml(VERIFY))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"copyhead: error: invalid parameter {key}=")
    assert not (tmp_path / "o").exists()


def _tasks(doc):
    return {tuple(sorted(t.point.items())): t for t in parse_spec(doc, registry()).tasks()}


def test_keys_and_seeds_depend_on_the_task_only():
    a = _tasks(VERIFY)
    grown = _with(grid__alpha=[30, 22.5, 18])  # other order, another point, integers for floats
    b = _tasks(grown)
    assert len(b) == 6
    for point, t in a.items():
        assert b[point].key == t.key and b[point].seed == t.seed and b[point].options == t.options
    assert len({t.seed for t in b.values()}) == len(b) and len({t.key for t in b.values()}) == len(b)
    assert all(0 <= t.seed < 2**63 for t in b.values())
    other = _tasks(_with(seed=4))
    assert all(other[p].seed != t.seed and other[p].key != t.key for p, t in a.items())
    # a fixed option that changes the computation changes key and seed
    longer = _tasks(_with(fixed__iters=41))
    assert all(longer[p].key != t.key for p, t in a.items())
    # the task options are the command's, complete, with the derived seed
    t = a[(("alpha", 18.0), ("seed", 0))]
    assert t.options["seed"] == t.seed and t.options["V"] == 6 and t.options["leapfrog"] == 5
    assert t.params["options"]["seed"] == 0  # the replicate label enters the canonical parameters


def test_registry_options_are_the_command_line_options():
    from copyhead.cli import langevin, solve, switching, train, verify

    reg = registry()
    assert set(reg) >= {"solve", "verify", "train", "langevin", "switching"}
    for mod in (solve, verify, train, langevin, switching):
        cli = options_from_parser(mod.add_arguments)
        tt = reg[mod.NAME]
        assert not set(tt.options) & set(RUN_ONLY)
        assert set(tt.options) - {"alpha", "alphas"} == set(cli) - set(RUN_ONLY) - {"seed", "alphas"}
        for name, opt in tt.options.items():
            if name in cli and name != "alphas":
                assert (opt.kind, opt.choices) == (cli[name].kind, cli[name].choices)
                # a command-line default None means "not given" (verify, for --load): the registry holds the real one
                assert opt.default == cli[name].default or cli[name].default is None, name
        assert tt.takes_seed == ("seed" in cli)
    assert reg["verify"].options["alphas"].kind == reg["switching"].options["alphas"].kind == "floats"
    assert reg["verify"].options["alphas"].default is None and reg["train"].options["alpha"].required
    assert (reg["verify"].options["leapfrog"].default, reg["verify"].options["iters"].default,
            reg["verify"].options["T"].default) == (verify.SAMPLING["leapfrog"], verify.SAMPLING["iters"], 8)


def test_a_native_command_module_registers_in_one_line():
    tt = native_task(probe)
    assert tt.name == "probe" and tt.takes_seed and tt.ref == "sweep_probe_command:compute"
    assert set(tt.options) == {"x", "fail_at", "interrupt_at"}
    with pytest.raises(ParameterError, match="x=-1.0"):
        from copyhead.sweep import validate_tasks

        validate_tasks(parse_spec({"command": "probe", "grid": {"x": [1, -1]}}, {"probe": tt}))


def test_result_protocol():
    r = {"rows": [{"start": "u", "m": 1.0, "alpha": 2.0}, {"start": "c", "m": None, "alpha": 2.0}],
         "row_dims": ["start"], "n": 3, "loss": {"train": 1.0, "val": 2.0}, "trace": [1, 2], "info": {"x": [1]}}
    tv = task_variables(r, {"alpha": 2.0})
    assert tv.row_dims == ("start",) and tv.rows == [(("u",), {"m": 1.0}), (("c",), {"m": None})]
    assert tv.scalars == {"n": 3, "loss_train": 1.0, "loss_val": 2.0} and tv.omitted == ["trace"]
    assert task_variables({"rows": [{"a": 1}, {"a": 2}]}, {}).rows == [((0,), {"a": 1}), ((1,), {"a": 2})]
    for bad, msg in [({"rows": [{"start": "u"}, {"start": "u"}], "row_dims": ["start"]}, "same"),
                     ({"rows": [{"alpha": 3.0}]}, "differs from the grid value"),
                     ({"rows": [{"a": 1}], "row_dims": ["start"]}, "lacks"),
                     ({"rows": [{"a": [1]}]}, "not a scalar"),
                     ({"rows": [{"n": 1}], "n": 2}, "both")]:
        with pytest.raises(ProtocolError, match=msg):
            task_variables(bad, {"alpha": 2.0})


def test_example_specs_are_valid():
    from pathlib import Path

    from copyhead.sweep import load_spec, validate_tasks

    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))
    assert examples
    for path in examples:
        spec = load_spec(path, registry())
        validate_tasks(spec)
        assert len(spec.tasks()) == len({t.key for t in spec.tasks()}) > 0
    hyst = load_spec(Path(examples[0]).parent / "hysteresis_V8_32.toml", registry())
    assert hyst.shape == (5, 2) and hyst.fixed["iters"] == 3000 and len(hyst.fixed["alphas"]) == 10
