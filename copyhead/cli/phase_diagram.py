"""``copyhead phase-diagram``: transition lines in a (parameter, alpha) plane."""
from __future__ import annotations

import json

from .common import ProgressBar, add_model_args, add_window_args, model_from_args, outdir

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
    p.add_argument("--alpha-min", type=float, default=None, help="alpha range of the map (default: from the lines)")
    p.add_argument("--alpha-max", type=float, default=None)
    p.add_argument("--outdir", default="copyhead-output", help="folder for the JSON and the figure")
    p.add_argument("--json", action="store_true", help="print rows and special points as JSON")


def _parse_vary(vary):
    from copyhead.theory.model import ParameterError

    name, lo, hi = vary
    try:
        return name, float(lo), float(hi)
    except ValueError:
        raise ParameterError("vary", vary, "needs PARAM LO HI with numbers LO < HI") from None


def run(args) -> int:
    import time

    import numpy as np

    name, lo, hi = _parse_vary(args.vary)
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
    if args.grid < 0:
        raise ParameterError("grid", args.grid, "must be >= 0")
    folder = outdir(args.outdir)
    from copyhead.io import provenance, write_json

    t0 = time.perf_counter()
    note = f"{name}: {len(values)} values, {spacing} spacing, from {values[0]:g} to {values[-1]:g}"
    if len(values) < args.n:
        note += f" ({args.n} requested; only {len(values)} distinct integers)"
    if not args.json:
        print(note)
    pd = phase_lines(model, name, lo, hi, n=args.n, spacing=spacing,
                     progress=None if args.json else ProgressBar("phase lines"))
    if args.grid > 0:
        vals = np.array([r["value"] for r in pd.rows])
        if name != "T":
            vals = np.array(parameter_values(name, lo, hi, args.grid, spacing))
        al = [r[k] for r in pd.rows for k in ("alpha_c", "alpha_spinodal_low", "alpha_spinodal_high") if r.get(k)]
        a_lo, a_hi = (args.alpha_min, args.alpha_max) if args.alpha_min else (0.6 * min(al), 1.5 * max(al))
        spaced = np.geomspace if a_hi / a_lo > 30 else np.linspace
        pd.grid = phase_map(model, name, vals, spaced(a_lo, a_hi, args.grid))
    stem = f"phase_{model.key}_{name}"
    j = write_json(pd.to_dict(), folder / f"{stem}.json", provenance=provenance(wall_s=time.perf_counter() - t0))
    png = plot_phase_diagram(pd, folder / f"{stem}.png")
    if args.json:
        print(json.dumps({"vary": name, "spacing": spacing, "n_requested": args.n, "n_values": len(pd.rows),
                          "rows": pd.rows, "special": pd.special}))
        return 0
    print(f"{name:>10s}  {'transition':13s} {'alpha_c':>11s} {'sp_low':>11s} {'sp_high':>11s}")
    f = lambda v: f"{v:11.5f}" if isinstance(v, float) else f"{'-':>11s}"  # noqa: E731
    for r in pd.rows:
        if r.get("error"):
            print(f"{r['value']:10.5g}  FAILED: {r['error']}")
            continue
        print(f"{r['value']:10.5g}  {r['transition']:13s} {f(r['alpha_c'])} {f(r['alpha_spinodal_low'])} "
              f"{f(r['alpha_spinodal_high'])}")
    for k, v in pd.special.items():
        print(f"{k}: " + ", ".join(f"{a}={b:.8g}" if isinstance(b, float) else f"{a}={b}" for a, b in v.items()))
    print(f"wrote {j}, {png}")
    return 0
