"""Task results -> one labelled dataset: dimensions are the grid's, then the rows' (e.g. the
chain start), variables the results' (``m_mean``, ``m_err``, the theory columns, ...).

A result (see :mod:`copyhead.sweep.protocol`) gives per-row variables (``rows`` indexed by
``row_dims``) and per-task scalars. Missing values -- a failed task, a row a task does not
have, ``null`` in the JSON -- are NaN (numbers) or ``""`` (strings); so a variable that is an
integer in every task becomes float when some task failed. The dataset also holds, over the grid,
``status`` (``ok``/``failed``), ``error`` (the failed task's message), ``task_key`` and, for
commands that take a seed, ``task_seed``.

The netCDF file is written atomically through :func:`copyhead.io.atomic_write` (h5netcdf engine).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

RESERVED = ("rows", "row_dims", "attrs", "info", "provenance")
SCALAR = (type(None), bool, int, float, str)


class ProtocolError(ValueError):
    """A task result does not follow :mod:`copyhead.sweep.protocol`."""


@dataclass
class TaskVariables:
    row_dims: tuple = ()
    rows: list = field(default_factory=list)  # (coordinates tuple, {variable: value})
    scalars: dict = field(default_factory=dict)
    omitted: list = field(default_factory=list)


def _flatten(name: str, value, out: dict, omitted: list) -> None:
    """Scalars become variables; dicts are flattened recursively (``name_key``); anything else
    (lists, arrays) is left out of the dataset and its name recorded in ``omitted`` (the task's
    JSON file keeps it)."""
    if isinstance(value, SCALAR):
        out[name] = value
    elif isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{name}_{k}", v, out, omitted)
    else:
        omitted.append(name)


def task_variables(result: dict, point: dict) -> TaskVariables:
    """Split one (JSON-normalised) result into per-row variables and scalars.

    A scalar entry named like a grid dimension must equal the task's value there (it is then
    dropped: the coordinate holds it); a dict of scalars is flattened to ``name_key`` variables. Raises :class:`ProtocolError` on malformed results.
    """
    out = TaskVariables()
    rows = result.get("rows", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ProtocolError("'rows' must be a list of records (dicts)")
    dims = result.get("row_dims")
    if dims is None:
        dims = ["row"] if rows else []
        rows = [{"row": i, **r} for i, r in enumerate(rows)]
    if not isinstance(dims, list) or not all(isinstance(d, str) for d in dims):
        raise ProtocolError("'row_dims' must be a list of record keys")
    if set(dims) & set(point):
        raise ProtocolError(f"row dimension(s) {sorted(set(dims) & set(point))} are also grid dimensions")
    out.row_dims = tuple(dims)
    seen = set()
    for r in rows:
        missing = [d for d in dims if d not in r]
        if missing:
            raise ProtocolError(f"a record lacks its row dimension(s) {missing}")
        coords = tuple(r[d] for d in dims)
        if not all(isinstance(c, (bool, int, float, str)) for c in coords):
            raise ProtocolError(f"row coordinates must be scalars, got {coords}")
        if coords in seen:
            raise ProtocolError(f"two records have the same {dict(zip(dims, coords))}")
        seen.add(coords)
        values = {}
        for k, v in r.items():
            if k in dims:
                continue
            if k in point:
                if v != point[k]:
                    raise ProtocolError(f"record entry {k}={v!r} differs from the grid value {point[k]!r}")
                continue
            if not isinstance(v, SCALAR):
                raise ProtocolError(f"record entry {k} is not a scalar ({type(v).__name__})")
            values[k] = v
        out.rows.append((coords, values))
    for k, v in result.items():
        if k in RESERVED:
            continue
        if k in point and isinstance(v, SCALAR):
            if v != point[k]:
                raise ProtocolError(f"result entry {k}={v!r} differs from the grid value {point[k]!r}")
            continue
        _flatten(k, v, out.scalars, out.omitted)  # a dict named like a dimension becomes k_<key> variables
    clash = set(out.scalars) & {k for _, vals in out.rows for k in vals}
    if clash:
        raise ProtocolError(f"{sorted(clash)} are both record entries and scalar results")
    return out


def _array(values: dict, shape: tuple, name: str):
    """A NumPy array of ``shape`` from ``{index: value}`` (missing: NaN / "")."""
    import numpy as np

    present = [v for v in values.values() if v is not None]
    complete = len(present) == int(np.prod(shape))
    if present and all(isinstance(v, str) for v in present):
        arr = np.full(shape, "", dtype=object)
    elif present and all(isinstance(v, bool) for v in present) and complete:
        arr = np.zeros(shape, dtype=bool)
    elif present and all(isinstance(v, int) and not isinstance(v, bool) for v in present) and complete:
        arr = np.zeros(shape, dtype=np.int64)
    elif all(isinstance(v, (int, float)) for v in present):
        arr = np.full(shape, np.nan)
    else:
        raise ProtocolError(f"variable {name} mixes strings and numbers across tasks")
    for idx, v in values.items():
        if v is not None:
            arr[idx] = v
    if arr.dtype == object:
        arr = arr.astype(str)
    return arr


def merge(spec, tasks, records: dict):
    """The dataset of a sweep: ``records`` maps task key -> task record (``status``, ``result``,
    ``error``, ``seed``). Tasks are visited in grid order, so the result does not depend on the
    order in which they finished or on the executor."""
    import numpy as np
    import xarray as xr

    from .keys import SEED_DERIVATION

    gshape, gdims = spec.shape, spec.dims
    parts, row_dims, row_coords, omitted = {}, None, {}, set()
    attrs = {k: dict(v) for k, v in spec.task_type.attrs.items()}
    for t in tasks:
        rec = records.get(t.key)
        if rec is None or rec["status"] != "ok":
            continue
        tv = task_variables(rec["result"], t.point)
        if row_dims is None:
            row_dims = tv.row_dims
            row_coords = {d: [] for d in row_dims}
        elif tv.row_dims != row_dims and tv.rows:
            raise ProtocolError(f"task {t.key} has row dimensions {tv.row_dims}, others {row_dims}")
        parts[t.key] = tv
        omitted.update(tv.omitted)
        attrs.update(rec["result"].get("attrs") or {})
        for coords, _ in tv.rows:
            for d, c in zip(row_dims, coords):
                if c not in row_coords[d]:
                    row_coords[d].append(c)
    row_dims = row_dims or ()
    rshape = tuple(len(row_coords[d]) for d in row_dims)
    row_vals, scal_vals = {}, {}
    for t in tasks:
        tv = parts.get(t.key)
        if tv is None:
            continue
        for coords, vals in tv.rows:
            ridx = tuple(row_coords[d].index(c) for d, c in zip(row_dims, coords))
            for k, v in vals.items():
                row_vals.setdefault(k, {})[t.index + ridx] = v
        for k, v in tv.scalars.items():
            scal_vals.setdefault(k, {})[t.index] = v
    data = {}
    for k, vals in row_vals.items():
        data[k] = (gdims + row_dims, _array(vals, gshape + rshape, k))
    for k, vals in scal_vals.items():
        data[k] = (gdims, _array(vals, gshape, k))
    status = {t.index: (records[t.key]["status"] if t.key in records else "missing") for t in tasks}
    errors = {t.index: ((records.get(t.key) or {}).get("error") or {}).get("message", "") for t in tasks}
    data["status"] = (gdims, _array(status, gshape, "status"))
    data["error"] = (gdims, _array(errors, gshape, "error"))
    data["task_key"] = (gdims, _array({t.index: t.key for t in tasks}, gshape, "task_key"))
    if spec.task_type.takes_seed:
        data["task_seed"] = (gdims, _array({t.index: t.seed for t in tasks}, gshape, "task_seed"))
    coords = {d: np.asarray(v) for d, v in spec.grid.items()}
    coords.update({d: np.asarray(v) for d, v in row_coords.items()})
    ds = xr.Dataset(data, coords=coords)
    attrs.update(_BOOKKEEPING)
    for name in ds.variables:
        a = dict(attrs.get(name, {}))
        opt = spec.task_type.options.get(name)
        if opt is not None and opt.help and "long_name" not in a:
            a["long_name"] = opt.help
        ds.variables[name].attrs.update({k: str(v) for k, v in a.items()})
    ds.attrs.update({
        "title": f"copyhead sweep: {spec.command}" + (f" -- {spec.description}" if spec.description else ""),
        "command": spec.command,
        "spec": json.dumps(spec.to_dict(), sort_keys=True),
        "options": json.dumps(spec.resolved(), sort_keys=True),
        "base_seed": spec.base_seed,
        "seed_derivation": SEED_DERIVATION if spec.task_type.takes_seed else "deterministic (no seed)",
        "omitted_from_dataset": ", ".join(sorted(omitted)),
    })
    return ds


_BOOKKEEPING = {
    "status": {"long_name": "task status (ok, failed, missing)"},
    "error": {"long_name": "error message of a failed task (traceback in tasks/<task_key>.json)"},
    "task_key": {"long_name": "task key: file tasks/<task_key>.json (hash of the canonical parameters)"},
    "task_seed": {"long_name": "seed passed to the command, derived from the base seed and the task parameters"},
    "seed": {"long_name": "replicate label (enters the task seed)"},
}


def write_dataset(ds, path) -> None:
    """Write ``ds`` (in memory, no dask arrays) as netCDF-4 atomically (the one NetCDF writer,
    :func:`copyhead.io.write_netcdf`).

    With a Dask client active, xarray would guard the write with a distributed lock named after
    the target, which fails for a file object; the write is local, so it runs under Dask's
    synchronous scheduler."""
    import contextlib

    from copyhead.io import write_netcdf

    try:
        import dask

        local = dask.config.set(scheduler="synchronous")
    except ImportError:
        local = contextlib.nullcontext()
    with local:
        write_netcdf(ds, path)
