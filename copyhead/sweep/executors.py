"""One ``concurrent.futures.Executor`` interface for the three ways of running a sweep.

``serial``
    in the calling process, one task at a time (debugging, tiny grids);
``processes``
    a :class:`~concurrent.futures.ProcessPoolExecutor` of ``spawn``-ed processes (no fork of a
    process that holds torch or OpenMP threads), one task per process;
``dask``
    ``distributed``: by default a ``LocalCluster(n_workers=N, threads_per_worker=1,
    processes=True)``; with ``scheduler="tcp://host:port"`` the cluster running there (e.g. one
    started with dask-jobqueue on an HPC system, see README). Tasks go through
    ``Client.get_executor()``.

Every worker runs with one thread (:mod:`copyhead.sweep.threads`). This module imports only the
standard library at the top (``processes`` workers import it to run their initializer).
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing.context as mpc
import os
import signal
import sys
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Optional

from .threads import THREAD_ENV, is_pinned, pinned_environ, thread_report

EXECUTORS = ("serial", "processes", "dask")


class SerialExecutor(Executor):
    """Runs each task at ``submit`` in the calling process; the returned future is done.
    ``KeyboardInterrupt`` and ``SystemExit`` propagate (Ctrl-C stops the sweep)."""

    def submit(self, fn, /, *args, **kwargs):
        f = Future()
        f.set_running_or_notify_cancel()
        try:
            f.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 -- handed to the caller through the future
            f.set_exception(exc)
        return f


@dataclass
class ExecutorInfo:
    """What runs the tasks: ``kind``, ``workers`` (at the start), ``address`` (dask scheduler),
    ``max_in_flight`` (tasks submitted ahead; None: all at once)."""

    kind: str
    workers: Optional[int] = None
    address: Optional[str] = None
    max_in_flight: Optional[int] = None

    def describe(self) -> str:
        s = self.kind + (f" ({self.workers} worker{'s' if self.workers != 1 else ''})" if self.workers else "")
        return s + (f" at {self.address}" if self.address else "")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "workers": self.workers, "address": self.address}


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _init_process_worker() -> None:
    """``processes`` worker start: Ctrl-C is the parent's to handle (it stops the pool). The
    thread environment came with the process (:func:`_pinned_spawn_context`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PinnedSpawnProcess(mpc.SpawnProcess):
    """A ``spawn`` process that starts with :data:`THREAD_ENV` in its environment (set in the
    parent only while :meth:`start` runs)."""

    def start(self):
        with pinned_environ():
            super().start()


class PinnedSpawnContext(mpc.SpawnContext):
    """The ``spawn`` context with :class:`PinnedSpawnProcess` (for ``ProcessPoolExecutor``)."""

    Process = PinnedSpawnProcess


@contextlib.contextmanager
def _processes(n: int):
    from concurrent.futures import ProcessPoolExecutor

    ex = ProcessPoolExecutor(max_workers=n, mp_context=PinnedSpawnContext(), initializer=_init_process_worker)
    try:
        yield ex, ExecutorInfo("processes", n, None, 2 * n)
    except BaseException:
        # stop now: running tasks are abandoned (their results were not saved), queued ones cancelled
        procs = list((getattr(ex, "_processes", None) or {}).values())  # no public terminate before 3.14
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.terminate()
        raise
    else:
        ex.shutdown(wait=True)


def _warn_unpinned(client, warn) -> int:
    """Check every worker of an existing cluster; warn about those not on one thread."""
    info = client.scheduler_info(n_workers=-1)["workers"] if _accepts_n_workers(client) else \
        client.scheduler_info()["workers"]
    reports = client.run(thread_report)
    for addr, rep in sorted(reports.items()):
        if not is_pinned(rep):
            warn(f"dask worker {addr} is not pinned to one thread ({rep['env']}, torch {rep['torch']}); "
                 f"export {' '.join(f'{k}=1' for k in THREAD_ENV)} in its job script")
    for addr, w in sorted(info.items()):
        if w.get("nthreads", 1) > 1:
            warn(f"dask worker {addr} runs {w['nthreads']} tasks at once in threads; start workers with --nthreads 1")
    return len(info)


def _accepts_n_workers(client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def _connect(scheduler: str, warn):
    """A client of the cluster at ``scheduler`` (its workers checked) and its :class:`ExecutorInfo`."""
    from distributed import Client

    from copyhead.theory.model import ParameterError

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ParameterError("scheduler", scheduler, f"no Dask scheduler reachable there ({exc})") from None
    try:
        return client, ExecutorInfo("dask", _warn_unpinned(client, warn), scheduler, None)
    except BaseException:
        client.close()
        raise


def _local_cluster(n: int):
    """A ``LocalCluster`` of ``n`` one-thread worker processes with the thread environment."""
    import dask
    from distributed import LocalCluster

    blas = tuple(k for k in THREAD_ENV if k != "NUMBA_NUM_THREADS")  # see copyhead.sweep.threads
    environ = {**dask.config.get("distributed.nanny.pre-spawn-environ"), **{k: THREAD_ENV[k] for k in blas}}
    # the statistical profiler samples the task thread every 10 ms: measurable on Python-heavy
    # tasks and only of use with a dashboard, which this cluster does not start
    config = {"distributed.nanny.pre-spawn-environ": environ, "distributed.worker.profile.enabled": False}
    with pinned_environ(blas), dask.config.set(config):
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                            silence_logs=logging.ERROR, env=dict(THREAD_ENV))


@contextlib.contextmanager
def _dask(n: int, scheduler: Optional[str], warn):
    from distributed import Client

    cluster = None
    if scheduler:
        client, info = _connect(scheduler, warn)
    else:
        cluster = _local_cluster(n)
        client = Client(cluster)
        info = ExecutorInfo("dask", n, cluster.scheduler_address, None)
    try:
        yield client.get_executor(pure=False), info
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def check_executor(kind: str, workers: Optional[int] = None, scheduler: Optional[str] = None) -> None:
    """Validate the executor options (:class:`ParameterError` naming the option), before anything
    is created."""
    from copyhead.theory.model import ParameterError

    if kind not in EXECUTORS:
        raise ParameterError("executor", kind, f"must be one of {', '.join(EXECUTORS)}")
    if scheduler and kind != "dask":
        raise ParameterError("scheduler", scheduler, "applies to --executor dask only")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParameterError("workers", workers, "must be an integer >= 1")
    if kind == "serial" and workers not in (None, 1):
        raise ParameterError("workers", workers, "the serial executor has one worker")
    if scheduler and workers is not None:
        raise ParameterError("workers", workers, "the cluster at --scheduler has its own workers")
    if kind == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ParameterError("executor", "dask", "needs dask.distributed: pip install copyhead[dask]") from None
        if scheduler:
            _check_address(scheduler)


def _check_address(scheduler: str) -> None:
    """A malformed ``--scheduler`` address (e.g. no port) is a ParameterError, not a ValueError from
    inside ``distributed.Client`` after the spec was read."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    from copyhead.theory.model import ParameterError

    try:
        scheme, loc = parse_address(scheduler)
        if scheme in ("tcp", "tls"):
            parse_host_port(loc)
    except ValueError as exc:
        raise ParameterError("scheduler", scheduler, f"must be an address like tcp://HOST:PORT ({exc})") from None


@contextlib.contextmanager
def open_executor(kind: str, workers: Optional[int] = None, scheduler: Optional[str] = None, warn=None):
    """``with open_executor("dask", 2) as (executor, info): ...``

    ``workers`` defaults to the number of CPUs this process may use; ``scheduler`` (dask only)
    connects to an existing cluster instead of starting one. ``warn(message)`` reports workers of
    an existing cluster that are not pinned to one thread (default: stderr).
    """
    check_executor(kind, workers, scheduler)
    warn = warn or (lambda msg: print(f"copyhead: warning: {msg}", file=sys.stderr))
    n = workers or available_cpus()
    if kind == "serial":
        yield SerialExecutor(), ExecutorInfo("serial", 1, None, 1)
    elif kind == "processes":
        with _processes(n) as pair:
            yield pair
    else:
        with _dask(n, scheduler, warn) as pair:
            yield pair
