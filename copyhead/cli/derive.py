"""``copyhead derive``: run the derivation scripts of the repository's ``derivations/``."""
from __future__ import annotations

import os
import runpy
from pathlib import Path

NAME = "derive"
HELP = "print the derivations and write derivations/out/*.tex (needs the repository checkout)"


def add_arguments(p):
    p.add_argument("--only", default=None, help="substring of the script name to run")
    p.add_argument("--dir", default=None,
                   help="the derivations/ folder (default: $COPYHEAD_DERIVATIONS, else the checkout's)")


def derivations_dir(explicit=None) -> Path:
    """The repository's ``derivations/`` folder: ``explicit``, ``$COPYHEAD_DERIVATIONS``, or the one
    beside the installed package (an editable install from a checkout). ParameterError otherwise."""
    from copyhead.theory.model import ParameterError

    cands = [explicit] if explicit else [os.environ.get("COPYHEAD_DERIVATIONS"),
                                         Path(__file__).resolve().parents[2] / "derivations"]
    for c in cands:
        if c and Path(c).is_dir() and any(Path(c).glob("[0-9][0-9]_*.py")):
            return Path(c)
    raise ParameterError("dir", explicit or os.environ.get("COPYHEAD_DERIVATIONS"),
                         "no derivations/ folder with NN_*.py scripts found: run from an editable install of "
                         "the repository, or pass --dir / set COPYHEAD_DERIVATIONS")


def run(args) -> int:
    root = derivations_dir(args.dir)
    scripts = [s for s in sorted(root.glob("[0-9][0-9]*_*.py")) if not args.only or args.only in s.name]
    if not scripts:
        from copyhead.theory.model import ParameterError

        raise ParameterError("only", args.only, f"matches no script in {root}")
    for s in scripts:
        print(f"\n######## {s.name}")
        runpy.run_path(str(s), run_name="__main__")
    return 0
