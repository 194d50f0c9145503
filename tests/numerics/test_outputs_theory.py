"""Outputs of ``solve``, ``phase-diagram``, ``scaling`` and their window-copier variants (issue 9).

Every NetCDF file loads with xarray with the documented dimensions, variables, attributes and its
provenance, and holds the same numbers as the JSON/CSV; figures come in the requested format; the
names documented in ``docs/OUTPUTS_theory.md`` are exactly those the files hold (a stale document
fails); the figure helpers draw continuous branches, the ordered branch beyond alpha_c, legends of
drawn artists only; the refined map locates the jump where the solver does.
"""
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

xr = pytest.importorskip("xarray")

from copyhead import Model  # noqa: E402
from copyhead.cli import main  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "OUTPUTS_theory.md"
MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}
PROVENANCE = {"command", "version", "packages", "seeds", "host", "platform", "utc_time", "wall_s"}


def doc_names(heading: str) -> list:
    """The backticked names in the first column of the table under the heading ``heading`` (in order)."""
    lines = DOC.read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if re.fullmatch(rf"#+ {re.escape(heading)}", line))
    names, started = [], False
    for line in lines[i + 1:]:
        if line.startswith("|"):
            started = True
            first = line.split("|")[1]
            found = re.findall(r"`([^`]+)`", first)
            if found:
                names.append(found[0])
        elif started or line.startswith("#"):
            break
    assert names, f"no table under the heading '{heading}' in {DOC.name}"
    return names


# ----------------------------------------------------------------------------- one run per command
@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """Run each command once (small sizes) and return its output folders."""
    base = tmp_path_factory.mktemp("theory-outputs")
    runs = {
        "solve": ["solve", "--attention", "softmax", "--format", "svg"],
        "window": ["solve", "--heads", "1", "--parents", "2", "--attention", "softmax", "--format", "pdf"],
        "phase": ["phase-diagram", "--vary", "sigma2", "0.8", "1.0", "--n", "3", "--grid", "10", "--refine", "2"],
        "wphase": ["phase-diagram", "--heads", "1", "--parents", "2", "--vary", "sigma2", "0.1", "0.2", "--n", "2",
                   "--format", "pdf"],
        "scaling": ["scaling", "--values", "8,64", "--format", "svg"],
    }
    folders = {}
    for name, argv in runs.items():
        folders[name] = base / name
        assert main(argv + ["--outdir", str(folders[name]), "--quiet"]) == 0, name
    return folders


def _json(path):
    return json.loads(Path(path).read_text())


def _csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- NetCDF
def _check_nc(path, heading_vars, heading_attrs, expand=set):
    ds = xr.load_dataset(path)
    names = expand(set(ds.data_vars) | set(ds.coords))
    documented = set(doc_names(heading_vars))
    assert names <= documented, f"undocumented variables: {sorted(names - documented)}"
    assert set(ds.attrs) <= set(doc_names(heading_attrs)), sorted(set(ds.attrs) - set(doc_names(heading_attrs)))
    prov = json.loads(ds.attrs["provenance"])
    assert PROVENANCE <= set(prov) and prov["wall_s"] > 0 and prov["packages"]["xarray"] == xr.__version__
    for v in ds.data_vars:
        assert "long_name" in ds[v].attrs, v
    return ds


def test_solve_netcdf_matches_json_and_csv(out):
    ds = _check_nc(out["solve"] / "softmax_qk_posterior.nc", "solve: NetCDF variables", "solve: NetCDF attributes")
    assert set(doc_names("solve: NetCDF variables")) == set(ds.data_vars) | set(ds.coords)
    assert ds["m"].dims == ("branch", "point") and ds["kind"].dims == ("branch",)
    d = _json(out["solve"] / "softmax_qk_posterior.json")
    assert float(ds["alpha_c"]) == d["alpha_c"] and ds.attrs["transition"] == d["transition"] == "first-order"
    assert ds.sizes["branch"] == len(d["branches"]) and ds.sizes["fold"] == len(d["folds"]) == 2
    rows = _csv(out["solve"] / "softmax_qk_posterior_branches.csv")
    for i in range(ds.sizes["branch"]):
        n = int(ds["n_points"][i])
        mine = [r for r in rows if int(r["branch"]) == i]
        assert len(mine) == n and np.all(np.isnan(ds["m"][i, n:]))
        np.testing.assert_allclose(ds["m"][i, :n], [float(r["m"]) for r in mine], rtol=1e-11)
        assert str(ds["stability"][i].values) == mine[0]["stability"] == d["branches"][i]["stability"]


def test_window_netcdf(out):
    ds = _check_nc(out["window"] / "softmax_qk_posterior_H1K2.nc", "window solve: NetCDF variables",
                   "window solve: NetCDF attributes")
    assert ds["M"].dims == ("branch", "point", "head", "parent") and ds.sizes["parent"] == 2 and ds.sizes["head"] == 1
    d = _json(out["window"] / "softmax_qk_posterior_H1K2.json")
    assert float(ds["alpha_c"]) == d["alpha_c"] and ds.attrs["transition_to"] == d["transition_to"]
    assert list(ds["phase_to"].values) == [p["to"] for p in d["phases"]]
    rows = _csv(out["window"] / "softmax_qk_posterior_H1K2_branches.csv")
    first = [r for r in rows if r["branch"] == "0"]
    np.testing.assert_allclose(ds["coverage"][0, :len(first)], [float(r["coverage"]) for r in first], rtol=1e-11)


def test_phase_netcdf_has_lines_map_and_special_point(out):
    stem = out["phase"] / "phase_softmax_qk_posterior_sigma2"
    ds = _check_nc(f"{stem}.nc", "phase-diagram: NetCDF variables", "phase-diagram: NetCDF attributes")
    d = _json(f"{stem}.json")
    assert ds.attrs["vary"] == "sigma2" and ds.attrs["sigma2"] == "varied"
    np.testing.assert_array_equal(ds["value"], [r["value"] for r in d["rows"]])
    assert ds["m_global"].dims == ("map_value", "alpha") and ds.sizes["map_value"] == 10
    assert ds.sizes["alpha"] > 10 and ds.attrs["map_refine"] == 2  # the base grid plus refinement points
    np.testing.assert_array_equal(ds["alpha"], d["grid"]["alphas"])
    cep = d["special"]["critical_end_point"]
    assert float(ds["critical_end_point_value"]) == cep["sigma2"]
    assert float(ds["critical_end_point_alpha"]) == cep["alpha"]


def test_window_phase_netcdf(out):
    stem = out["wphase"] / "phase_softmax_qk_posterior_H1K2_sigma2"
    ds = _check_nc(f"{stem}.nc", "phase-diagram: NetCDF variables", "phase-diagram: NetCDF attributes")
    d = _json(f"{stem}.json")
    assert list(ds["to"].values) == [r["to"] for r in d["rows"]] and ds.attrs["heads"] == 1
    assert [json.loads(p) for p in ds["phases"].values] == [r["phases"] for r in d["rows"]]


def test_scaling_netcdf(out):
    ds = _check_nc(out["scaling"] / "scaling_softmax_qk_posterior_T.nc", "scaling: NetCDF variables",
                   "scaling: NetCDF attributes", expand=_expand)
    assert list(ds["T"].values) == [8, 64] and ds["converged"].values.tolist() == [1, 1]
    d = _json(out["scaling"] / "scaling_softmax_qk_posterior_T.json")
    np.testing.assert_array_equal(ds["alpha_c"], [r["alpha_c"] for r in d["rows"]])
    assert json.loads(ds.attrs["law"])["leading"] == d["law"]["leading"]


# ----------------------------------------------------------------------------- documented names
def _expand(names):
    """``law_leading`` -> ``law_<law>`` for the documented laws (anything else unchanged)."""
    laws = set(doc_names("scaling: laws"))
    out = set()
    for n in names:
        m = re.fullmatch(r"(law|rel_err)_(.+)", n)
        out.add(f"{m.group(1)}_<law>" if m and m.group(2) in laws else n)
    return out


def test_solve_json_and_csv_are_documented(out):
    d = _json(out["solve"] / "softmax_qk_posterior.json")
    assert list(d) == doc_names("solve: JSON keys")
    assert list(d["model"]) == doc_names("solve: JSON model")
    for key, heading in (("folds", "solve: JSON folds"), ("coexistence", "solve: JSON coexistence"),
                         ("branches", "solve: JSON branches")):
        assert {k for item in d[key] for k in item} == set(doc_names(heading)), key
    assert set(d["provenance"]) == set(doc_names("Provenance"))
    with open(out["solve"] / "softmax_qk_posterior_branches.csv") as f:
        assert next(csv.reader(f)) == doc_names("solve: CSV columns")


def test_window_json_and_csv_are_documented(out):
    d = _json(out["window"] / "softmax_qk_posterior_H1K2.json")
    assert list(d) == doc_names("window solve: JSON keys")
    assert list(d["model"]) == doc_names("solve: JSON model") + ["heads", "parents"]
    for key in ("phases", "folds", "branch_points", "branches"):
        assert {k for item in d[key] for k in item} == set(doc_names(f"window solve: JSON {key}")), key
    with open(out["window"] / "softmax_qk_posterior_H1K2_branches.csv") as f:
        assert next(csv.reader(f)) == doc_names("window solve: CSV columns")


def test_phase_and_scaling_json_and_csv_are_documented(out):
    d = _json(out["phase"] / "phase_softmax_qk_posterior_sigma2.json")
    assert list(d) == doc_names("phase-diagram: JSON keys")
    assert {k for r in d["rows"] for k in r} == set(doc_names("phase-diagram: JSON rows"))
    assert set(d["special"]) <= set(doc_names("phase-diagram: JSON special"))
    assert list(d["grid"]) == doc_names("phase-diagram: JSON grid")
    w = _json(out["wphase"] / "phase_softmax_qk_posterior_H1K2_sigma2.json")
    assert {k for r in w["rows"] for k in r} == set(doc_names("phase-diagram: window copier JSON"))
    for folder, stem in (("phase", "phase_softmax_qk_posterior_sigma2"),
                         ("wphase", "phase_softmax_qk_posterior_H1K2_sigma2")):
        with open(out[folder] / f"{stem}.csv") as f:
            header = next(csv.reader(f))
        documented = doc_names("phase-diagram: CSV columns")
        assert header == [c for c in documented if c in header] and set(header) <= set(documented)
    s = _json(out["scaling"] / "scaling_softmax_qk_posterior_T.json")
    assert list(s) == doc_names("scaling: JSON keys")
    with open(out["scaling"] / "scaling_softmax_qk_posterior_T.csv") as f:
        header = next(csv.reader(f))
    assert _expand(header) == set(doc_names("scaling: CSV columns"))
    assert _expand(set(s["rows"][0])) == set(doc_names("scaling: CSV columns"))
    for doc in (d, w, s):
        assert set(doc["provenance"]) == PROVENANCE


# ----------------------------------------------------------------------------- figures
@pytest.mark.parametrize("folder,names,fmt", [
    ("solve", ["softmax_qk_posterior_branches", "softmax_qk_posterior_free_energy", "softmax_qk_posterior_landscape"],
     "svg"),
    ("window", ["softmax_qk_posterior_H1K2_branches", "softmax_qk_posterior_H1K2_free_energy"], "pdf"),
    ("phase", ["phase_softmax_qk_posterior_sigma2"], "png"),
    ("wphase", ["phase_softmax_qk_posterior_H1K2_sigma2"], "pdf"),
    ("scaling", ["scaling_softmax_qk_posterior_T"], "svg")])
def test_figures_in_the_requested_format(out, folder, names, fmt):
    for name in names:
        head = (out[folder] / f"{name}.{fmt}").read_bytes()[:5]
        assert head.startswith(MAGIC[fmt]), (name, head)
    others = [p.name for p in out[folder].iterdir() if p.suffix[1:] in MAGIC and p.suffix[1:] != fmt]
    assert not others


def test_bad_output_options_exit_2(tmp_path, capsys):
    assert main(["phase-diagram", "--vary", "sigma2", "0.5", "1", "--refine", "-1", "--outdir", str(tmp_path)]) == 2
    assert "invalid parameter refine" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["solve", "--format", "jpg"])
    assert e.value.code == 2


# ----------------------------------------------------------------------------- figure helpers
@pytest.fixture(scope="module")
def results():
    from copyhead import solve

    return {a: solve(Model(attention=a)) for a in ("softmax", "linear")}


def test_branches_are_cut_at_coexistence_without_gap(results):
    """The stable branches end one piece exactly at alpha_c and start the next there (issue 9: the
    softmax branch figure had a gap at the coexistence point)."""
    from copyhead.numerics.kernels import Kernel
    from copyhead.numerics.plotting import branch_pieces

    res = results["softmax"]
    k = Kernel(res.model)
    ac = res.transition.alpha_c
    for b in res.stable_branches():
        pieces = branch_pieces(res, k, b)
        assert len(pieces) == 2 and pieces[0][0][-1] == pieces[1][0][0] == ac
        assert pieces[0][1][-1] == pieces[1][1][0]
        assert {p[2] for p in pieces} == {"global", "metastable"}
        roles = [p[2] for p in pieces]
        assert roles == (["global", "metastable"] if b.m.mean() < 0.3 else ["metastable", "global"])


def test_linear_free_energy_shows_the_ordered_branch_beyond_alpha_c(results):
    """Issue 9: the linear free-energy figure was empty (its range ended at alpha_c)."""
    from copyhead.numerics.plotting import _plt, plot_free_energy, plot_branches

    res = results["linear"]
    ac = res.transition.alpha_c
    plt = _plt()
    fig, ax = plt.subplots()
    plot_free_energy(res, ax=ax)
    beyond = [np.asarray(line.get_ydata())[np.asarray(line.get_xdata()) > 1.2 * ac] for line in ax.get_lines()]
    assert min(float(np.min(y)) for y in beyond if len(y)) < -0.1  # F_ordered - F(m = 0) < 0 there
    assert ax.get_xlim()[1] > 1.5 * ac
    fig2, ax2 = plt.subplots()
    plot_branches(res, ax=ax2)
    labels = [t.get_text() for t in ax2.get_legend().get_texts()]
    assert not any("metastable" in t or "fold" in t for t in labels)  # nothing of the kind is drawn
    assert any("critical point" in t for t in labels) and "T = 8" in ax2.get_title().replace("$", "")
    plt.close(fig)
    plt.close(fig2)


def test_save_figure_format_from_suffix(tmp_path):
    from copyhead.numerics.plotting import _plt, save_figure

    plt = _plt()
    with pytest.raises(ValueError):
        save_figure(plt.figure(), tmp_path / "f.jpg")
    p = save_figure(plt.figure(), tmp_path / "sub" / "f.pdf")
    assert p.read_bytes().startswith(b"%PDF") and not list((tmp_path / "sub").glob(".*tmp"))


def test_refined_map_locates_the_jump_where_the_solver_does(results):
    """phase_map's refinement halves only the intervals crossed by the transition, and the refined
    jump of the global-minimum m lies within the refined spacing of the solver's alpha_c."""
    from copyhead.numerics.phase_diagram import phase_map

    res = results["softmax"]
    t = res.transition
    base = np.linspace(15.0, 40.0, 11)
    h = base[1] - base[0]
    g = phase_map(res.model, "sigma2", [res.model.sigma2], base, refine=4)
    a, m = g["alphas"], g["m_global"][0]
    assert set(base) <= set(a) and len(a) > len(base)
    new = np.setdiff1d(a, base)
    lines = np.array([t.alpha_c, t.alpha_spinodal_low, t.alpha_spinodal_high])
    assert np.all(np.min(np.abs(new[:, None] - lines[None, :]), axis=1) < h)  # refined only near the lines
    j = int(np.argmax(np.abs(np.diff(m))))
    assert a[j] - h / 16 <= t.alpha_c <= a[j + 1] + h / 16 and a[j + 1] - a[j] <= h / 16 + 1e-12
    assert m[j] == pytest.approx(t.m_below, abs=0.02) and m[j + 1] == pytest.approx(t.m_above, abs=0.02)
