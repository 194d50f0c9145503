"""Solver results as labelled xarray Datasets, and their NetCDF writer (issue 9).

* :func:`solve_dataset`: the branches of ``copyhead solve`` on ``(branch, point)`` (padded with NaN;
  ``n_points`` says how many are real), per-branch ``kind`` and ``stability``, the folds and
  coexistence points, the transition as 0-d variables (NaN = none);
* :func:`window_solve_dataset`: the same for the window copier, with ``M`` on ``(head, parent)``,
  ``R`` on ``(head, head_b)`` and the phase changes of the global minimum;
* :func:`phase_dataset`: the lines of ``copyhead phase-diagram`` along the varied parameter
  (``value``) and the global-minimum map on ``(map_value, alpha)``;
* :func:`scaling_dataset`: the rows of ``copyhead scaling`` along ``T``.

Every variable carries ``long_name`` and ``units`` (``"1"``: dimensionless; free energies are per
``V^2``). :func:`write_dataset` is the one NetCDF writer: it stores the provenance record as the
JSON attribute ``provenance`` and writes atomically through :func:`copyhead.io.atomic_write`
(HDF5-based NetCDF-4 via h5netcdf). xarray is imported only when a Dataset is built.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# name -> (long_name, units); one table for every Dataset built here (and the documentation)
VARIABLES = {
    "alpha": ("amount of data alpha = P T/(kappa V^2)", "1"),
    "x": ("solver coordinate: s (softmax score scale) or u = m^2 (linear attention)", "1"),
    "m": ("copy weight m (mean attention on the previous token)", "1"),
    "r": ("attention overlap r (mean squared attention row)", "1"),
    "F": ("free energy per V^2 (V -> inf)", "1"),
    "residual": ("relative residual (backward error) of the stationary point", "1"),
    "kind": ("branch kind: smooth (root of F_x), symmetric (m = 0) or kink (MAP s = 0)", ""),
    "stability": ("stable (local minimum of F) or unstable", ""),
    "n_points": ("number of stored points of the branch (the rest of the point axis is NaN)", "1"),
    "fold_alpha": ("alpha of a fold (spinodal)", "1"),
    "fold_x": ("x at the fold", "1"),
    "fold_m": ("m at the fold", "1"),
    "fold_residual": ("relative residual of the fold", "1"),
    "coexistence_alpha": ("alpha where two stable branches have equal F", "1"),
    "coexistence_residual": ("relative residual of the coexistence point", "1"),
    "alpha_c": ("transition point alpha_c (coexistence, critical point or crossover; NaN: none)", "1"),
    "alpha_spinodal_low": ("lower spinodal (NaN: none inside the window)", "1"),
    "alpha_spinodal_high": ("upper spinodal (NaN: none inside the window)", "1"),
    "m_below": ("m of the global minimum just below alpha_c", "1"),
    "m_above": ("m of the global minimum just above alpha_c", "1"),
    "alpha_c_residual": ("relative error of alpha_c from its defining equation", "1"),
    "landau_b": ("Landau quartic coefficient b at the pitchfork (linear attention)", "1"),
    "max_residual": ("largest relative residual of any point", "1"),
    # window copier
    "specialisation": ("specialisation sigma_K(M) (H >= K) or max m_hk (H < K)", "1"),
    "coverage": ("parent coverage (1/K) sum_k max_h |m_hk|", "1"),
    "M": ("copy weights m_hk: attention of head h on offset k", "1"),
    "R": ("head overlaps r_hh'", "1"),
    "phase": ("phase of the branch: uniform, unspecialised, copying, redundant, partial, specialised", ""),
    "morse_index": ("Morse index (number of negative Hessian eigenvalues; 0: stable)", "1"),
    "phase_from": ("phase of the global minimum below the change", ""),
    "phase_to": ("phase of the global minimum above the change", ""),
    "phase_kind": ("first-order, second-order or crossover", ""),
    "phase_alpha": ("alpha of the change of the global minimum", "1"),
    "phase_residual": ("|Delta F| (first order), |eigenvalue| (second order) or |grad F| (crossover)", "1"),
    "phase_alpha_spinodal_low": ("first order: where the new phase appears (NaN otherwise)", "1"),
    "phase_alpha_spinodal_high": ("first order: where the old phase disappears (NaN otherwise)", "1"),
    "fold_phase": ("phase at the fold", ""),
    "branch_point_alpha": ("alpha of a branch point", "1"),
    "branch_point_residual": ("residual of the branch point", "1"),
    "branch_point_eigenvalue": ("Hessian eigenvalue at the branch point", "1"),
    "branch_point_null_dim": ("dimension of the null space at the branch point", "1"),
    "branch_point_phase": ("phase at the branch point", ""),
    # phase diagram
    "transition": ("first-order, second-order, crossover or none (empty: the solve failed)", ""),
    "to": ("window copier: the phase the transition goes into", ""),
    "error": ("solver error message (empty: none)", ""),
    "phases": ("window copier: every change of the global minimum at this value (JSON list)", ""),
    "m_global": ("copy weight m of the global minimum (coverage for the window copier)", "1"),
    "n_minima": ("number of local minima of F (2: metastable region)", "1"),
    # scaling
    "P_c_over_V2": ("critical number of sequences P_c/V^2 = kappa alpha_c/T", "1"),
    "PcT_over_V2": ("critical number of tokens P_c T/V^2 = kappa alpha_c", "1"),
    "converged": ("1 if every point met its tolerance", "1"),
}
LAW_PREFIXES = {"law_": "large-T law of {}", "rel_err_": "relative error (law - solver)/solver of the law of {}"}


def _xr():
    import xarray as xr

    return xr


def _attrs(name: str) -> dict:
    for pre, text in LAW_PREFIXES.items():
        if name.startswith(pre):
            return {"long_name": text.format(name[len(pre):]), "units": "1"}
    for pre in ("critical_end_point_", "tricritical_point_"):
        if name.startswith(pre):
            return {"long_name": f"{pre[:-1].replace('_', ' ')}: {name[len(pre):].replace('_', ' ')}", "units": "1"}
    long_name, units = VARIABLES[name]
    return {"long_name": long_name, "units": units} if units else {"long_name": long_name}


def _f(v) -> float:
    """A float, NaN for None."""
    return np.nan if v is None else float(v)


def _s(values) -> np.ndarray:
    """Strings (None -> empty)."""
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def _padded(arrays, width: int, tail=()) -> np.ndarray:
    """Stack ragged per-branch arrays along a new first axis, padded with NaN to ``width`` points."""
    out = np.full((len(arrays), width) + tuple(tail), np.nan)
    for i, a in enumerate(arrays):
        out[i, :len(a)] = a
    return out


def _finish(ds, model, varied=None, **attrs):
    """Attach long_name/units to every variable, the model (JSON and per parameter; a ``varied``
    parameter is stored as the string ``"varied"``) and ``attrs``."""
    for name in ds.data_vars:
        ds[name].attrs.update(_attrs(name))
    md = model.to_dict()
    if varied is not None:
        md[varied] = "varied"
    ds.attrs["model"] = json.dumps(md)
    ds.attrs.update({k: v for k, v in md.items() if v is not None})
    ds.attrs.update(attrs)
    return ds


def _transition_vars(t: dict) -> dict:
    """0-d variables of a transition record (``to_dict`` keys)."""
    return {"alpha_c": _f(t.get("alpha_c")), "alpha_spinodal_low": _f(t.get("alpha_spinodal_low")),
            "alpha_spinodal_high": _f(t.get("alpha_spinodal_high")), "m_below": _f(t.get("m_below")),
            "m_above": _f(t.get("m_above")), "alpha_c_residual": _f(t.get("residual"))}


def solve_dataset(res):
    """The result of :func:`copyhead.numerics.solve.solve` as a Dataset (module docstring)."""
    from .kernels import Kernel

    xr = _xr()
    br = res.branches
    width = max(len(b.alpha) for b in br)
    k = Kernel(res.model)
    dv = {name: (("branch", "point"), _padded([getattr(b, name) for b in br], width))
          for name in ("alpha", "x", "m", "r", "F", "residual")}
    dv.update({"kind": (("branch",), _s(b.kind for b in br)), "stability": (("branch",), _s(b.label for b in br)),
               "n_points": (("branch",), np.array([len(b.alpha) for b in br]))})
    dv.update({"fold_alpha": ("fold", np.array([f.alpha for f in res.folds], float)),
               "fold_x": ("fold", np.array([f.x for f in res.folds], float)),
               "fold_m": ("fold", np.array([float(k.m_of_x(f.x)) for f in res.folds], float)),
               "fold_residual": ("fold", np.array([f.residual for f in res.folds], float)),
               "coexistence_alpha": ("coexistence", np.array([a for a, _ in res.coexistence], float)),
               "coexistence_residual": ("coexistence", np.array([r for _, r in res.coexistence], float))})
    dv.update(_transition_vars(res.transition.to_dict()))
    dv.update({"landau_b": _f(res.landau_b), "max_residual": float(res.max_residual)})
    ds = xr.Dataset(dv, coords={"branch": np.arange(len(br)), "point": np.arange(width)})
    return _finish(ds, res.model, transition=res.transition.kind, converged=int(res.converged),
                   alpha_range=np.array(res.alpha_range, float), alpha_range_automatic=int(res.alpha_range_automatic),
                   x_is="s" if res.model.attention == "softmax" else "u = m^2",
                   title=f"copyhead solve: stationary branches of {res.model.key}")


def window_solve_dataset(res):
    """The result of :func:`copyhead.numerics.window_solve.solve_window` as a Dataset."""
    from .window_free import WindowFreeEnergy
    from .window_branches import phase_label
    from .window_solve import coverage

    xr = _xr()
    fe = WindowFreeEnergy(res.model)
    br = res.branches
    orders = [np.argsort(b.alpha) for b in br]
    width = max(len(b.alpha) for b in br)
    H, K = res.model.heads, res.model.parents
    P = lambda vals, tail=(): _padded([np.asarray(v)[o] for v, o in zip(vals, orders)], width, tail)  # noqa: E731
    dv = {"alpha": (("branch", "point"), P([b.alpha for b in br])),
          "F": (("branch", "point"), P([b.F for b in br])),
          "residual": (("branch", "point"), P([b.residual for b in br])),
          "specialisation": (("branch", "point"), P([b.q for b in br])),
          "coverage": (("branch", "point"), P([[coverage(M) for M in b.M] for b in br])),
          "M": (("branch", "point", "head", "parent"), P([b.M for b in br], (H, K))),
          "R": (("branch", "point", "head", "head_b"), P([b.R for b in br], (H, H))),
          "x": (("branch", "point", "state"), P([b.x for b in br], (br[0].x.shape[1],))),
          "phase": (("branch",), _s(b.label for b in br)),
          "stability": (("branch",), _s("stable" if b.stable else "unstable" for b in br)),
          "morse_index": (("branch",), np.array([b.index for b in br])),
          "n_points": (("branch",), np.array([len(b.alpha) for b in br]))}
    ph = res.phases
    dv.update({"phase_from": ("phase_change", _s(p.frm for p in ph)),
               "phase_to": ("phase_change", _s(p.to for p in ph)),
               "phase_kind": ("phase_change", _s(p.kind for p in ph)),
               "phase_alpha": ("phase_change", np.array([p.alpha for p in ph], float)),
               "phase_residual": ("phase_change", np.array([p.residual for p in ph], float)),
               "phase_alpha_spinodal_low": ("phase_change", np.array([_f(p.alpha_spinodal_low) for p in ph])),
               "phase_alpha_spinodal_high": ("phase_change", np.array([_f(p.alpha_spinodal_high) for p in ph]))})
    folds = [e for e in res.events if e.kind == "fold"]
    bps = [e for e in res.events if e.kind == "branch"]
    dv.update({"fold_alpha": ("fold", np.array([e.alpha for e in folds], float)),
               "fold_residual": ("fold", np.array([e.residual for e in folds], float)),
               "fold_phase": ("fold", _s(phase_label(fe, e.x) for e in folds)),
               "branch_point_alpha": ("branch_point", np.array([e.alpha for e in bps], float)),
               "branch_point_residual": ("branch_point", np.array([e.residual for e in bps], float)),
               "branch_point_eigenvalue": ("branch_point", np.array([e.eigenvalue for e in bps], float)),
               "branch_point_null_dim": ("branch_point", np.array([int(e.null.shape[1]) for e in bps], int)),
               "branch_point_phase": ("branch_point", _s(phase_label(fe, e.x) for e in bps))})
    d = res.to_dict()
    dv.update(_transition_vars(d))
    coords = {"branch": np.arange(len(br)), "point": np.arange(width), "head": np.arange(1, H + 1),
              "parent": np.arange(1, K + 1), "head_b": np.arange(1, H + 1)}
    ds = xr.Dataset(dv, coords=coords)
    return _finish(ds, res.model, transition=d["transition"], transition_to=d["transition_to"] or "",
                   converged=int(res.converged), alpha_range=np.array(res.alpha_range, float),
                   order_parameter=d["order_parameter"],
                   title=f"copyhead solve: stationary branches of the window copier {res.model.key}")


ROW_FLOATS = ("alpha_c", "alpha_spinodal_low", "alpha_spinodal_high", "m_below", "m_above", "residual")


def _special_vars(special: dict, vary: str) -> dict:
    """0-d variables ``<point>_<key>`` of the special points (the varied parameter's key becomes
    ``value``; a bracket becomes two variables ``..._lo``/``..._hi``)."""
    out = {}
    for name, rec in special.items():
        for key, v in rec.items():
            key_name = "value" if key == vary else key
            if isinstance(v, (list, tuple)) and len(v) == 2:
                out[f"{name}_{key_name}_lo"], out[f"{name}_{key_name}_hi"] = _f(v[0]), _f(v[1])
            elif isinstance(v, (int, float)) or v is None:
                out[f"{name}_{key_name}"] = _f(v)
    return out


def phase_dataset(pd):
    """A :class:`~copyhead.numerics.phase_diagram.PhaseDiagram` (or the window copier's) as a
    Dataset: the rows along ``value`` (the varied parameter, named in the attribute ``vary``), the
    special points as 0-d variables, and the map (if any) on ``(map_value, alpha)``."""
    xr = _xr()
    rows = pd.rows
    dv = {k: ("value", np.array([_f(r.get(k)) for r in rows])) for k in ROW_FLOATS if any(k in r for r in rows)}
    dv["transition"] = ("value", _s(r.get("transition") for r in rows))
    dv["error"] = ("value", _s(r.get("error") for r in rows))
    if any("to" in r for r in rows):  # window copier
        dv["to"] = ("value", _s(r.get("to") for r in rows))
        dv["phases"] = ("value", _s(json.dumps(r.get("phases") or []) for r in rows))
    dv.update(_special_vars(pd.special, pd.vary))
    coords = {"value": np.array([r["value"] for r in rows], float)}
    g = getattr(pd, "grid", None)
    if g is not None:
        dv["m_global"] = (("map_value", "alpha"), np.asarray(g["m_global"], float))
        dv["n_minima"] = (("map_value", "alpha"), np.asarray(g["n_minima"], np.int32))
        coords.update(map_value=np.asarray(g["values"], float), alpha=np.asarray(g["alphas"], float))
    ds = xr.Dataset(dv, coords=coords)
    ds["value"].attrs.update(long_name=f"the varied parameter {pd.vary}", units="1")
    if g is not None:
        ds["map_value"].attrs.update(long_name=f"{pd.vary} of the map columns", units="1")
        ds["alpha"].attrs.update(_attrs("alpha"))
    extra = {"vary": pd.vary, "spacing": getattr(pd, "spacing", "") or "", "special": json.dumps(pd.special),
             "title": f"copyhead phase-diagram: {pd.model.key} along {pd.vary}"}
    if g is not None:
        extra["map_refine"] = int(g.get("refine", 0))
    if getattr(pd, "n_requested", None) is not None:
        extra["n_requested"] = int(pd.n_requested)
    return _finish(ds, pd.model, varied=pd.vary, **extra)


def scaling_dataset(study):
    """A :class:`~copyhead.numerics.scaling.ScalingStudy` as a Dataset along ``T``; the laws (text,
    LaTeX, relative errors, whether they shrink) in the JSON attribute ``law``."""
    xr = _xr()
    rows = study.rows
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in ("T", "transition", "error", "converged")]
    dv = {k: ("T", np.array([_f(r.get(k)) for r in rows])) for k in keys}
    dv["transition"] = ("T", _s(r.get("transition") for r in rows))
    dv["error"] = ("T", _s(r.get("error") for r in rows))
    dv["converged"] = ("T", np.array([int(bool(r.get("converged"))) for r in rows], np.int8))
    ds = xr.Dataset(dv, coords={"T": np.array([r["T"] for r in rows], np.int64)})
    ds["T"].attrs.update(long_name="sequence length T", units="1")
    from copyhead.io import to_json_text

    return _finish(ds, study.model, varied="T", vary="T", law=to_json_text(study.law, indent=None),
                   title=f"copyhead scaling: alpha_c(T) of {study.model.key}")


# ----------------------------------------------------------------------------- writer
def _netcdf_attr(v):
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, np.generic):  # NumPy scalars (np.str_ included) as Python values
        return v.item()
    return v


def _netcdf_attrs(attrs: dict) -> dict:
    """Attributes NetCDF can hold: None dropped, booleans as 0/1, NumPy scalars as Python values."""
    return {k: _netcdf_attr(v) for k, v in attrs.items() if v is not None}


def write_dataset(ds, path, provenance=None) -> Path:
    """Write ``ds`` as NetCDF-4 atomically with the one writer (:func:`copyhead.io.write_netcdf`),
    with the provenance record (:func:`copyhead.io.provenance`) as the JSON attribute ``provenance``
    (attributes are first made NetCDF-safe)."""
    from copyhead.io import write_netcdf

    ds.attrs = _netcdf_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = _netcdf_attrs(ds[name].attrs)
    return write_netcdf(ds, path, provenance=provenance)


def read_provenance(path_or_ds) -> dict:
    """The provenance record of a NetCDF file (or Dataset) written by :func:`write_dataset`."""
    if isinstance(path_or_ds, (str, Path)):
        xr = _xr()
        with xr.open_dataset(path_or_ds, engine="h5netcdf") as ds:
            return json.loads(ds.attrs["provenance"])
    return json.loads(path_or_ds.attrs["provenance"])
