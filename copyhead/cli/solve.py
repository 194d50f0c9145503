"""``copyhead solve``: branches, spinodals, coexistence and classification in alpha."""
from __future__ import annotations

import json
import math
import time

from .common import add_model_args, add_window_args, model_from_args, outdir

NAME = "solve"
HELP = "branches, spinodals, coexistence and classification in alpha"
DEFAULT_OUTDIR = "copyhead-output"


def add_arguments(p):
    add_model_args(p, attention_default=None)
    add_window_args(p)
    p.add_argument("--alpha-min", type=float, default=None, help="lower end of the alpha window (default: automatic)")
    p.add_argument("--alpha-max", type=float, default=None, help="upper end of the alpha window (default: automatic)")
    p.add_argument("--json", action="store_true", help="print one JSON object (per attention)")
    p.add_argument("--outdir", default=None,
                   help=f"write figures/CSV/JSON here (default with no --attention: {DEFAULT_OUTDIR})")
    p.add_argument("--no-plots", action="store_true", help="write no figures")


def alpha_range(args):
    """``(alpha_min, alpha_max)`` from the options, or None for the automatic window."""
    if args.alpha_min is None and args.alpha_max is None:
        return None
    from copyhead.theory.model import ParameterError

    if args.alpha_min is None or args.alpha_max is None:
        raise ParameterError("alpha range", (args.alpha_min, args.alpha_max), "give both --alpha-min and --alpha-max")
    return (args.alpha_min, args.alpha_max)


def run(args) -> int:
    if getattr(args, "heads", 1) != 1 or getattr(args, "parents", 1) != 1:  # window copier (issue 14)
        from ._window import run_solve

        return run_solve(args, DEFAULT_OUTDIR, alpha_range(args))
    import sys

    attentions = [args.attention] if args.attention else ["softmax", "linear"]
    models = [model_from_args(args, attention=a) for a in attentions]  # validate before computing
    window = alpha_range(args)
    if window is not None:
        from copyhead.theory.model import ParameterError

        if not (0 < window[0] < window[1] and math.isfinite(window[1])):
            raise ParameterError("alpha range", window, "needs 0 < --alpha-min < --alpha-max, finite")
    write_files = args.outdir is not None or args.attention is None
    folder = outdir(args.outdir or DEFAULT_OUTDIR) if write_files else None
    from copyhead.io import provenance, write_json
    from copyhead.numerics.plotting import save_branches_csv, save_solve_figures
    from copyhead.numerics.solve import format_table, solve

    out, walls = {}, {}
    for model in models:
        t0 = time.perf_counter()
        res = solve(model, alpha_range=window)
        walls[model.attention] = time.perf_counter() - t0
        out[model.attention] = res
        if not args.json:
            print(format_table(res))
            print(f"  solved in {walls[model.attention]:.3f} s\n")
    if folder is not None:
        for att, res in out.items():
            paths = [] if args.no_plots else save_solve_figures(res, folder)
            paths.append(save_branches_csv(res, folder / f"{res.model.key}_branches.csv"))
            paths.append(write_json(res.to_dict(), folder / f"{res.model.key}.json",
                                    provenance=provenance(wall_s=walls[att])))
            if not args.json:
                print(f"[{att}] wrote " + ", ".join(str(p) for p in paths))
    if args.json:
        if len(out) == 1:
            print(json.dumps(next(iter(out.values())).to_dict()))
        else:
            print(json.dumps({att: r.to_dict() for att, r in out.items()}))
    bad = [r for r in out.values() if not r.converged]
    for r in bad:
        print(f"copyhead: solver did not converge: {r.model.attention}: largest relative residual "
              f"{r.max_residual:.3g} (tolerance: branch points 1e-9, alpha_c 1e-8)", file=sys.stderr)
    return 1 if bad else 0
