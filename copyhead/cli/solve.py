"""``copyhead solve``: branches, spinodals, coexistence and classification in alpha."""
from __future__ import annotations

import math

from copyhead.theory.model import check_positive

from .common import add_model_args, add_output_args, add_window_args, model_from_args, outdir
from ._outputs import solve_models

NAME = "solve"
HELP = "branches, spinodals, coexistence and classification in alpha"
def add_arguments(p):
    add_model_args(p, attention_default=None)
    add_window_args(p)
    p.add_argument("--alpha-min", type=float, default=None, help="lower end of the alpha window (default: automatic)")
    p.add_argument("--alpha-max", type=float, default=None, help="upper end of the alpha window (default: automatic)")
    p.add_argument("--json", action="store_true",
                   help="print the JSON document (per attention) on stdout; the files are written too")
    add_output_args(p, NAME)
    p.add_argument("--no-plots", action="store_true", help="write no figures")


def alpha_range(args):
    """``(alpha_min, alpha_max)`` from the options, or None for the automatic window. A bad window
    raises ParameterError naming the option that is wrong (``alpha_min`` or ``alpha_max``, as in
    every other error: the option's name with ``_``), not the library's ``alpha_range``."""
    lo, hi = args.alpha_min, args.alpha_max
    if lo is None and hi is None:
        return None
    from copyhead.theory.model import ParameterError

    if lo is None or hi is None:
        missing = "alpha_min" if lo is None else "alpha_max"
        raise ParameterError(missing, None, "give both --alpha-min and --alpha-max")
    check_positive("alpha_min", lo)
    if not (math.isfinite(hi) and hi > lo):
        raise ParameterError("alpha_max", hi, f"must be a finite number > alpha_min = {lo:g}")
    return (lo, hi)


def run(args) -> int:
    if getattr(args, "heads", 1) != 1 or getattr(args, "parents", 1) != 1:  # window copier (issue 14)
        from ._window import run_solve

        return run_solve(args, alpha_range(args))
    import sys

    attentions = [args.attention] if args.attention else ["softmax", "linear"]
    models = [model_from_args(args, attention=a) for a in attentions]  # validate before computing
    window = alpha_range(args)
    folder = outdir(args.outdir)
    from copyhead.numerics.datasets import solve_dataset
    from copyhead.numerics.plotting import save_branches_csv, save_solve_figures
    from copyhead.numerics.solve import format_table, solve

    out = solve_models(models, window, args, folder, solve, format_table, solve_dataset, save_solve_figures,
                       save_branches_csv)
    bad = [r for r in out.values() if not r.converged]
    for r in bad:
        print(f"copyhead: solver did not converge: {r.model.attention}: largest relative residual "
              f"{r.max_residual:.3g} (tolerance: branch points 1e-9, alpha_c 1e-8)", file=sys.stderr)
    return 1 if bad else 0
