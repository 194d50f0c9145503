"""``copyhead phase-diagram``: transition lines in a (parameter, alpha) plane."""
from __future__ import annotations

from .common import ProgressBar, add_model_args, add_output_args, add_window_args, model_from_args, outdir, silent
from ._outputs import print_rows, write_phase_outputs

NAME = "phase-diagram"
HELP = "transition lines in a (parameter, alpha) plane; critical end / tricritical point"


def add_arguments(p):
    add_model_args(p, attention_default="softmax")
    add_window_args(p)
    p.add_argument("--vary", nargs=3, metavar=("PARAM", "LO", "HI"), required=True,
                   help="parameter (sigma2, nu or T) and its range")
    p.add_argument("--n", type=int, default=25,
                   help="number of parameter values (T: at most N distinct integers after rounding)")
    p.add_argument("--spacing", choices=("lin", "log"), default=None,
                   help="spacing of the parameter values (default: log for T, lin for sigma2 and nu); "
                        "stated in the output")
    p.add_argument("--grid", type=int, default=60, help="resolution of the m_global map (0: none)")
    p.add_argument("--refine", type=int, default=3,
                   help="levels of refinement of the map's alpha grid where m jumps or the number of minima changes "
                        "(each level halves the intervals crossed by a transition line)")
    p.add_argument("--alpha-min", type=float, default=None, help="alpha range of the map (default: from the lines)")
    p.add_argument("--alpha-max", type=float, default=None, help="alpha range of the map (default: from the lines)")
    add_output_args(p, NAME)
    p.add_argument("--json", action="store_true", help="print rows and special points as JSON")


def _parse_vary(vary):
    from copyhead.theory.model import ParameterError

    name, lo, hi = vary
    try:
        return name, float(lo), float(hi)
    except ValueError:
        raise ParameterError("vary", vary, "needs PARAM LO HI with numbers LO < HI") from None


def _map_alphas(args, pd):
    """The base alpha grid of the map: ``--alpha-min/--alpha-max`` or 0.6x the smallest to 1.5x the
    largest alpha of the lines; log-spaced over more than a factor 30."""
    import numpy as np

    if args.alpha_min is not None:
        a_lo, a_hi = args.alpha_min, args.alpha_max
    else:
        al = [r[k] for r in pd.rows for k in ("alpha_c", "alpha_spinodal_low", "alpha_spinodal_high") if r.get(k)]
        if not al:
            return None
        a_lo, a_hi = 0.6 * min(al), 1.5 * max(al)
    return (np.geomspace if a_hi / a_lo > 30 else np.linspace)(a_lo, a_hi, args.grid)


def _validate_map(args):
    from copyhead.theory.model import ParameterError

    if args.grid < 0 or args.grid == 1:  # the map takes --grid values and --grid alphas: one is no grid
        raise ParameterError("grid", args.grid, "must be 0 (no map) or >= 2")
    if args.refine < 0:
        raise ParameterError("refine", args.refine, "must be >= 0")
    from .solve import alpha_range

    alpha_range(args)


def run(args) -> int:
    import time

    import numpy as np

    name, lo, hi = _parse_vary(args.vary)
    _validate_map(args)
    if getattr(args, "heads", 1) != 1 or getattr(args, "parents", 1) != 1:  # window copier (issue 14)
        from ._window import run_phase_diagram

        return run_phase_diagram(args, name, lo, hi)
    model = model_from_args(args)
    from copyhead.numerics.phase_diagram import (VARIABLE, default_spacing, parameter_values, phase_lines, phase_map,
                                                 plot_phase_diagram)
    from copyhead.theory.model import ParameterError

    if name not in VARIABLE:
        raise ParameterError("vary", name, f"must be one of {', '.join(VARIABLE)}")
    spacing = args.spacing or default_spacing(name)
    values = parameter_values(name, lo, hi, args.n, spacing)  # validates n, spacing and the range
    folder = outdir(args.outdir)
    t0 = time.perf_counter()
    note = f"{name}: {len(values)} values, {spacing} spacing, from {values[0]:g} to {values[-1]:g}"
    if len(values) < args.n:
        note += f" ({args.n} requested; only {len(values)} distinct integers)"
    if not silent(args):
        print(note)
    pd = phase_lines(model, name, lo, hi, n=args.n, spacing=spacing,
                     progress=ProgressBar("phase lines", quiet=silent(args)))
    alphas = _map_alphas(args, pd) if args.grid > 0 else None
    if alphas is not None:
        vals = np.array(parameter_values(name, lo, hi, args.grid, spacing))  # T: distinct integers
        pd.grid = phase_map(model, name, vals, alphas, refine=args.refine)
    paths, prov = write_phase_outputs(pd, folder, f"phase_{model.key}_{name}", args, time.perf_counter() - t0,
                                      plot_phase_diagram)
    if args.json:
        from copyhead.io import to_json_text

        print(to_json_text({"vary": name, "spacing": spacing, "n_requested": args.n, "n_values": len(pd.rows),
                            "rows": pd.rows, "special": pd.special, "provenance": prov}, indent=None))
        return 0
    if not silent(args):
        print_rows(pd, name)
        if pd.grid is not None:
            g = pd.grid
            print(f"map: {len(g['values'])} x {len(g['alphas'])} (value x alpha; {args.grid} base alphas, "
                  f"{args.refine} refinement levels)")
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0
