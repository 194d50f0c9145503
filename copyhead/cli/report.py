"""``copyhead report``: generate verification/RESULTS.md and the benchmark tables from results/."""
from __future__ import annotations

NAME = "report"
HELP = ("generate verification/RESULTS.md and the tables of benchmarks/RESULTS.md from the committed result "
        "files in results/ (--collect DIR first copies the commands' JSON there; --check fails when stale)")


def add_arguments(p):
    p.add_argument("--results", default="results", help="folder of committed result files")
    p.add_argument("--root", default=".", help="repository root holding verification/ and benchmarks/")
    p.add_argument("--collect", default=None, metavar="DIR",
                   help="first copy the JSON results of verify/train/langevin/switching found under DIR into "
                        "--results and derive what the tables need (theory at the run's sizes, switching "
                        "crossings from the traces beside the JSON)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a generated file differs from a fresh rendering")


def run(args) -> int:
    import sys
    from pathlib import Path

    from copyhead.io import atomic_write
    from copyhead.theory.model import ParameterError
    from copyhead.verification.report import collect
    from copyhead.verification.report_tables import render_all, stale

    root = Path(args.root)
    if not root.is_dir():
        raise ParameterError("root", args.root, "is not a folder")
    if args.check and args.collect:
        raise ParameterError("check", True, "cannot be combined with --collect (--check writes nothing)")
    if args.collect:
        collect(Path(args.collect), Path(args.results), log=lambda s: print(s, file=sys.stderr))
    if args.check:
        bad = stale(args.results, root)
        for rel in bad:
            print(f"copyhead report: {rel} is stale (regenerate with `copyhead report`)", file=sys.stderr)
        if not bad:
            print("copyhead report: generated files are up to date")
        return 1 if bad else 0
    for rel, text in render_all(args.results, root).items():
        atomic_write(root / rel, lambda fh, t=text: fh.write(t), "w")
        print(f"wrote {root / rel}")
    return 0
