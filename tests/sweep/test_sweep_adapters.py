"""Every registered command runs as a sweep task and its records land in the dataset with the
expected dimensions (tiny sizes: these check the plumbing, not the physics, which the commands'
own tests check)."""
import pytest
import xarray as xr

from copyhead.cli.sweep_tasks import registry
from copyhead.sweep import open_executor, parse_spec, run

CASES = {
    "train": ({"command": "train", "grid": {"alpha": [30.0]}, "fixed": {"V": 6, "steps": 20}},
              ("alpha", "init"), ("m_final", "grad_norm", "theory_m", "deviation")),
    "langevin": ({"command": "langevin", "grid": {"alpha": [30.0]}, "fixed": {"V": 6, "iters": 10, "chains": 1}},
                 ("alpha", "init"), ("m_mean", "m_err", "accept", "theory_m_corrected")),
    "verify-linear-batched": ({"command": "verify", "grid": {"V": [6]},
                               "fixed": {"attention": "linear", "alphas": [8.0, 10.0], "iters": 40, "warmup": 20}},
                              ("V", "alpha", "start"), ("m_mean", "m_signed_mean", "theory_m_1loop", "deviation_1loop")),
    "switching": ({"command": "switching", "grid": {"V": [6]},
                   "fixed": {"alphas": [26.0, 28.0], "iters": 20, "warmup": 10, "chains": 2}},
                  ("V", "alpha"), ("copy_fraction", "switches")),
    # the new systems register their own compute(): nested results are flattened to name_key variables
    "induction": ({"command": "induction", "grid": {"layer1": ["softmax", "linear"]},
                   "fixed": {"n": 2, "S": 3, "L": 12, "heads": 1, "window": 2, "steps": 5, "init": "neutral",
                             "sequences": 8, "val_sequences": 2, "criterion_draws": 10}},
                  ("layer1",), ("copier_parents_parent_weight", "classifier_a", "loss_val", "loss_bayes_val")),
    "landscape": ({"command": "landscape", "grid": {"alpha": [27.0]},
                   "fixed": {"V": 6, "replicas": 2, "iters": 50, "warmup": 20, "windows": 6, "data_seeds": "0,1",
                             "no_theory": True}},
                  ("alpha", "data_seed"), ("log_odds", "log_odds_err", "split")),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "switching" else n for n in CASES])
def test_adapter_records_become_variables(name, tmp_path):
    doc, dims, columns = CASES[name]
    with open_executor("serial") as (ex, info):
        report = run(parse_spec(doc, registry()), tmp_path, ex, info)
    ds = xr.load_dataset(tmp_path / "sweep.nc")
    assert report.failed == 0, ds.error.values
    for c in columns:
        assert ds[c].dims == dims and ds[c].notnull().all(), c
    if name != "induction":  # the commands' own columns carry long_name (induction: flattened nested results)
        unlabelled = [v for v in ds.data_vars if "long_name" not in ds[v].attrs]
        assert not unlabelled, unlabelled
    if "m_mean" in ds:
        assert ((ds.m_mean >= 0) & (ds.m_mean <= 1.5)).all()
    if name.startswith("verify"):
        assert ds.alpha.values.tolist() == [8.0, 10.0] and sorted(ds.start.values) == ["copy", "uniform"]
    if name == "landscape":  # one record per data set; the task's mean over them is a grid variable
        assert ds.data_seed.values.tolist() == [0, 1] and ds.log_odds_mean.dims == ("alpha",)
        assert float(ds.log_odds_mean[0]) == pytest.approx(float(ds.log_odds.mean()), abs=1e-12)
    if name == "switching":
        assert {"alpha_c_theory_inf", "m_threshold"} <= set(ds.data_vars) and ds.alpha_c_theory_inf.dims == ("V",)


def test_solve_sweep_over_parents_uses_the_window_solver_and_labels_every_variable(tmp_path):
    """``heads``/``parents`` are options of ``copyhead solve`` and so of its sweep; a window copier
    task must be solved by the window solver (it failed with a KeyError in the copy-head solver),
    and every variable of a solve sweep carries a ``long_name``."""
    from copyhead import Model
    from copyhead.numerics.solve import solve
    from copyhead.numerics.window_solve import solve_window

    doc = {"command": "solve", "grid": {"parents": [1, 2]}, "fixed": {"attention": "softmax", "heads": 1}}
    with open_executor("serial") as (ex, info):
        report = run(parse_spec(doc, registry()), tmp_path, ex, info)
    ds = xr.load_dataset(tmp_path / "sweep.nc")
    assert report.failed == 0, ds.error.values
    direct = {1: solve(Model()).transition.alpha_c, 2: solve_window(Model(heads=1, parents=2)).transition.alpha}
    for k, a in direct.items():
        assert float(ds.alpha_c.sel(parents=k)) == pytest.approx(a, rel=1e-12)
    assert str(ds.transition_to.sel(parents=2).item()) == "copying"
    unlabelled = [v for v in ds.data_vars if "long_name" not in ds[v].attrs]
    assert not unlabelled, unlabelled
