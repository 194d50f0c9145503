"""The one writer: atomic files, JSON with provenance, CSV tables, output folders.

Every file copyhead writes goes through :func:`atomic_write` (a temporary file in the target
folder, ``fsync``, then ``os.replace``): a crash or Ctrl-C while writing leaves the old file
intact and never a half-written one. Files get the ordinary permissions of the user's umask
(``0o666 & ~umask``), not the ``0600`` of :func:`tempfile.mkstemp`.

:func:`provenance` is the record every JSON and NetCDF file carries (issue 9): the exact command
line, the package version and git commit, the versions of the scientific stack, seeds, host,
UTC time and wall time.

This module sits below every layer (it imports only the standard library and NumPy), so that
``theory``, ``numerics``, ``verification`` and the command line share one writer.
"""
from __future__ import annotations

import csv
import io as _io
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np

PACKAGES = ("python", "numpy", "scipy", "numba", "torch", "sympy", "arviz", "xarray", "matplotlib", "h5netcdf")


class OutputError(OSError):
    """An output path cannot be written (names the path and the reason)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """A temporary file name in ``path``'s folder for writers that need a name rather than an open
    file (NetCDF/HDF5, ``savefig``): the block writes it, then it is fsync'ed, given the umask's
    permissions and moved over ``path``. On any exception (Ctrl-C included) it is removed and
    ``path`` is left as it was. Creates the folder."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, FileExistsError) as exc:
        raise OutputError(f"cannot create folder {folder}: {exc.strerror or exc}") from None
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write(path, write: Callable, mode: str = "w") -> Path:
    """Write ``path`` atomically: ``write(f)`` fills a temporary file in the same folder, which
    then replaces ``path`` (:func:`atomic_path`). Creates the folder. Returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, mode) as f:
            write(f)
            f.flush()
    return path


def _jsonable(obj):
    """Plain-JSON version of ``obj``: NumPy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_json_text(obj, indent: Optional[int] = 1) -> str:
    """Strict JSON text (NaN/inf become ``null``)."""
    return json.dumps(_jsonable(obj), indent=indent, allow_nan=False)


def write_json(obj, path, provenance: Optional[dict] = None) -> Path:
    """Write ``obj`` as JSON; with ``provenance`` it is stored under the key ``"provenance"``."""
    if provenance is not None:
        if not isinstance(obj, Mapping):
            raise TypeError("provenance can only be attached to a JSON object")
        obj = {**obj, "provenance": provenance}
    text = to_json_text(obj)
    return atomic_write(path, lambda f: f.write(text + "\n"), "w")


def write_csv(rows: Iterable[Mapping], path, columns: Optional[Sequence[str]] = None) -> Path:
    """Write dict rows as CSV (``columns`` fixes the order; missing entries are empty)."""
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else (f"{v:.12g}" if isinstance(v, float) else v))
                    for k, v in ((k, _jsonable(r.get(k))) for k in columns)})
    text = buf.getvalue()
    return atomic_write(path, lambda f: f.write(text), "w")


def write_netcdf(data, path, provenance: Optional[dict] = None) -> Path:
    """Write an xarray ``Dataset`` or an ArviZ ``InferenceData`` (anything with ``to_netcdf(name)``)
    atomically (:func:`atomic_path`). ``provenance`` is stored as the attribute ``provenance`` (a
    JSON string; on every group of an ``InferenceData``). Nothing is imported here: the caller
    built the object with xarray/ArviZ."""
    if provenance is not None:
        text = to_json_text(provenance, indent=None)
        groups = [getattr(data, g) for g in data.groups()] if hasattr(data, "groups") and callable(data.groups) \
            else [data]
        for g in groups:
            g.attrs["provenance"] = text
    with atomic_path(path) as tmp:
        data.to_netcdf(str(tmp))
    return Path(path)


def prepare_outdir(path) -> Path:
    """Create ``path`` (a folder) and check that files can be written there, *before* any long
    computation. Raises :class:`OutputError` naming the path and the reason."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"output folder {p} exists and is not a folder")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"output folder {p} lies inside {parent}, which is a file")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {p}: {exc.strerror or exc}") from None
    try:
        fd, tmp = tempfile.mkstemp(dir=p, prefix=".copyhead-write-test-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OutputError(f"output folder {p} is not writable: {exc.strerror or exc}") from None
    return p


# --------------------------------------------------------------------------- provenance
@lru_cache(maxsize=1)
def _git_commit() -> Optional[str]:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        if out.returncode != 0:
            return None
        commit = out.stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return commit + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("copyhead")
    except Exception:  # noqa: BLE001 -- not installed (running from a checkout)
        return "unknown"


@lru_cache(maxsize=1)
def package_versions() -> dict:
    """Versions of the scientific stack (``None`` for a package that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in PACKAGES[1:]:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


_INVOCATION: Optional[list] = None


def set_invocation(argv: Optional[Sequence[str]]) -> Optional[list]:
    """Record the argument list of the running command (``["copyhead", "verify", ...]``; the
    command line calls this), which :func:`provenance` stores by default; ``None`` falls back to
    ``sys.argv``. Returns the previous value (to restore it)."""
    global _INVOCATION
    old, _INVOCATION = _INVOCATION, None if argv is None else [str(a) for a in argv]
    return old


def invocation() -> list:
    """The argument list of the running command (:func:`set_invocation`, else ``sys.argv``)."""
    return list(sys.argv if _INVOCATION is None else _INVOCATION)


def provenance(command: Optional[Sequence[str]] = None, seeds=None, wall_s: Optional[float] = None,
               **extra) -> dict:
    """The provenance record of an output file.

    Parameters
    ----------
    command : the exact argument list (default: :func:`invocation`, i.e. the command line).
    seeds : the seeds that determine the result (any JSON value).
    wall_s : wall time of the computation in seconds.
    extra : further entries (e.g. ``executor``).
    """
    rec = {
        "command": invocation() if command is None else [str(c) for c in command],
        "version": {"copyhead": package_version(), "git_commit": _git_commit()},
        "packages": package_versions(),
        "seeds": seeds,
        "host": platform.node(),
        "platform": platform.platform(),
        "utc_time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": wall_s,
    }
    rec.update(extra)
    return rec
