"""``copyhead codegen``: regenerate numerics/_kernels.py from the SymPy derivation."""
from __future__ import annotations

NAME = "codegen"
HELP = "regenerate numerics/_kernels.py from the SymPy derivation (never edit it by hand)"


def add_arguments(p):
    p.add_argument("--check", action="store_true", help="only check whether the generated module is stale (exit 1)")


def run(args) -> int:
    from copyhead.theory.symbolic import codegen

    return codegen.main(["--check"] if args.check else [])
