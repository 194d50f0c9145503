"""``copyhead`` command line: one module per command, each registering its own subparser.

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``
and is listed in :data:`COMMANDS`. Heavy imports (numba kernels, torch) happen inside ``run``,
so ``copyhead --help`` stays fast. Exit codes: 0 success, 1 a solver/numerical failure (the
message gives the reason and residual) or an internal error, 2 invalid input (one line naming
the parameter), 130 interrupted.
"""
from __future__ import annotations

import importlib
import os
import sys

from .common import CliParser

COMMANDS = (
    "solve", "phase_diagram", "scaling", "check_ansatz", "codegen", "derive",
    "verify", "switching", "train", "langevin",
    "window_study",
    "induction",
    "icl_regression",
    "sweep",
    "report",
    "landscape",
)
"""Command modules of :mod:`copyhead.cli`, in the order ``--help`` lists them."""


def build_parser() -> CliParser:
    ap = CliParser(prog="copyhead", description="Bayesian theory of copy-head emergence: derive, solve, verify.")
    sub = ap.add_subparsers(dest="command", parser_class=CliParser, metavar="COMMAND")
    for name in COMMANDS:
        mod = importlib.import_module(f".{name}", __name__)
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return ap


def _error(kind: str, exc: BaseException) -> None:
    print(f"copyhead: {kind}: {exc}", file=sys.stderr)


def main(argv=None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "command", None):
        ap.print_help()
        return 2
    from copyhead.io import set_invocation

    previous = set_invocation(["copyhead", *(sys.argv[1:] if argv is None else argv)])  # for provenance
    try:
        return _run(args)
    finally:
        set_invocation(previous)


def _run(args) -> int:
    """``args.func(args)`` with the exit codes of the module docstring."""
    from copyhead.io import OutputError
    from copyhead.numerics.continuation import ContinuationError
    from copyhead.theory.model import ParameterError

    try:
        return int(args.func(args) or 0)
    except ParameterError as exc:
        _error("error", exc)
        return 2
    except OutputError as exc:
        _error("error", exc)
        return 2
    except ContinuationError as exc:
        _error("solver did not converge", exc)
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        from .common import close_progress_bars

        close_progress_bars()  # the message starts on a line of its own
        hint = getattr(args, "resume_hint", None)
        hint = hint() if callable(hint) else hint
        print("copyhead: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line, the traceback on request
        if os.environ.get("COPYHEAD_DEBUG"):
            raise
        _error("internal error", f"{type(exc).__name__}: {exc} (set COPYHEAD_DEBUG=1 for the traceback)")
        return 1
