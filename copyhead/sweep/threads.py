"""One thread per worker: the environment that pins the numerical libraries, and a report of
what a process actually uses.

A sweep runs one task per worker process; a library that starts its own thread pool on top
(OpenBLAS, MKL, OpenMP in torch, Numba's parallel kernels) would oversubscribe the cores. The
thread-pool sizes of OpenBLAS/MKL/OpenMP and Numba are read from the environment *when the
library is loaded*, so the variables of :data:`THREAD_ENV` must be set before a worker imports
NumPy, Numba or torch:

* ``processes``: the parent sets them in its own environment just while it starts a worker
  process (:func:`pinned_environ`), so the ``spawn``-ed worker has them from its first
  instruction;
* ``dask`` (``LocalCluster``): the BLAS/OpenMP ones go into
  ``distributed.nanny.pre-spawn-environ`` (set before the worker process starts; the nanny
  lives in the calling process and leaves them in its environment, as Dask documents), and all
  of them into the nanny's ``env`` (set in the worker process before it runs anything of ours;
  Numba is first imported there by a task);
* a Dask cluster started elsewhere (``--scheduler``): the job script must export them (README);
  :func:`thread_report` of every worker is checked at the start and a worker that is not pinned
  is named in a warning.

Inside each task :func:`pinned` also sets ``torch.set_num_threads(1)`` and
``numba.set_num_threads(1)`` and restores the previous values afterwards. The ``serial``
executor runs tasks in the calling process, whose BLAS pool was sized when NumPy loaded: start
it with ``OMP_NUM_THREADS=1`` to pin that too (each task file records what was used). This
module imports only the standard library.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
"""Environment variables that pin the thread pools of the numerical libraries to one thread."""


@contextlib.contextmanager
def pinned_environ(names=tuple(THREAD_ENV)):
    """Set the :data:`THREAD_ENV` variables ``names`` in ``os.environ`` for the duration (child
    processes started inside inherit them); the previous values are restored afterwards.

    Keep it short: a Numba that has launched its threads in *this* process refuses to compile
    once ``NUMBA_NUM_THREADS`` differs from the count it started with."""
    old = {k: os.environ.get(k) for k in names}
    os.environ.update({k: THREAD_ENV[k] for k in names})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def pinned():
    """One thread for torch and Numba (those already imported) for the duration of one task;
    the previous counts are restored afterwards.

    The environment is left alone: the libraries read it when they load (a worker process has
    it from its start), and Numba refuses a ``NUMBA_NUM_THREADS`` that changes after its
    threads were launched. A torch first imported during the task reads ``OMP_NUM_THREADS``.
    """
    undo = []
    torch = sys.modules.get("torch")
    if torch is not None:
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        undo.append(lambda: torch.set_num_threads(n))
    numba = sys.modules.get("numba")
    if numba is not None and hasattr(numba, "set_num_threads"):
        try:
            n_nb = numba.get_num_threads()
            numba.set_num_threads(1)
            undo.append(lambda: numba.set_num_threads(n_nb))
        except (RuntimeError, ValueError):  # no threading layer available: nothing runs in parallel
            pass
    try:
        yield
    finally:
        for f in reversed(undo):
            f()


_OPENBLAS_GETTERS = ("openblas_get_num_threads", "openblas_get_num_threads64_",
                     "scipy_openblas_get_num_threads", "scipy_openblas_get_num_threads64_")


def _openblas_threads() -> dict:
    """Thread count of every OpenBLAS loaded in this process (Linux: from ``/proc/self/maps``;
    ``{}`` elsewhere). A report only, the way ``threadpoolctl`` finds them."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1].lower()})
    except OSError:
        return {}
    out = {}
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        for name in _OPENBLAS_GETTERS:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_int
                out[os.path.basename(p)] = int(fn())
                break
    return out


def thread_report() -> dict:
    """What this process uses: the :data:`THREAD_ENV` variables, torch's and Numba's thread
    counts (``None`` when not imported) and every loaded OpenBLAS's."""
    torch = sys.modules.get("torch")
    numba = sys.modules.get("numba")
    nb = None
    if numba is not None:
        try:
            nb = int(numba.get_num_threads())
        except (AttributeError, RuntimeError, ValueError):  # no threading layer
            nb = None
    return {
        "env": {k: os.environ.get(k) for k in THREAD_ENV},
        "torch": torch.get_num_threads() if torch is not None else None,
        "numba": nb,
        "openblas": _openblas_threads(),
    }


def is_pinned(report: dict) -> bool:
    """True when a :func:`thread_report` shows one thread everywhere it can tell."""
    env_ok = all(report["env"].get(k) == "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                        "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"))
    libs = [report.get("torch"), report.get("numba"), *report.get("openblas", {}).values()]
    return env_ok and all(n in (None, 1) for n in libs)
