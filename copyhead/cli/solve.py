"""``copyhead solve``: branches, spinodals, coexistence and classification in alpha."""
from __future__ import annotations

import json
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
    attentions = [args.attention] if args.attention else ["softmax", "linear"]
    models = [model_from_args(args, attention=a) for a in attentions]  # validate before computing
    window = alpha_range(args)
    write_files = args.outdir is not None or args.attention is None
    folder = outdir(args.outdir or DEFAULT_OUTDIR) if write_files else None
    from copyhead.io import write_json
    from copyhead.numerics.plotting import save_branches_csv, save_solve_figures
    from copyhead.numerics.solve import format_table, solve

    out = {}
    for model in models:
        t0 = time.perf_counter()
        res = solve(model, alpha_range=window)
        out[model.attention] = res
        if not args.json:
            print(format_table(res))
            print(f"  solved in {time.perf_counter() - t0:.3f} s\n")
    if folder is not None:
        for att, res in out.items():
            paths = [] if args.no_plots else save_solve_figures(res, folder)
            paths.append(save_branches_csv(res, folder / f"{res.model.key}_branches.csv"))
            paths.append(write_json(res.to_dict(), folder / f"{res.model.key}.json"))
            if not args.json:
                print(f"[{att}] wrote " + ", ".join(str(p) for p in paths))
    if args.json:
        if len(out) == 1:
            print(json.dumps(next(iter(out.values())).to_dict()))
        else:
            print(json.dumps({att: r.to_dict() for att, r in out.items()}))
    return 0
