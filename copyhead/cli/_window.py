"""The window-copier paths of ``copyhead solve`` and ``copyhead phase-diagram`` (``--heads``/``--parents``
other than 1; not a command of its own: :mod:`copyhead.cli.solve` and :mod:`copyhead.cli.phase_diagram`
dispatch here)."""
from __future__ import annotations

import json
import time

from .common import ProgressBar, model_from_args, outdir


def run_solve(args, default_outdir: str, window=None) -> int:
    """``copyhead solve --heads H --parents K``: table (or ``--json``), figures, CSV and JSON per attention."""
    from copyhead.theory.model import ParameterError

    attentions = [args.attention] if args.attention else ["softmax", "linear"]
    models = [model_from_args(args, attention=a) for a in attentions]  # validate before computing
    for m in models:
        if m.objective != "posterior":
            raise ParameterError("objective", m.objective, "the window copier is solved for the posterior only")
        if m.attention == "linear" and m.prior == "gaussian" and m.heads > 1:
            raise ParameterError("prior", m.prior, "linear attention with the gaussian prior has a continuous O(H) "
                                 "head-rotation symmetry (not supported); use --prior qk or --attention softmax")
    write_files = args.outdir is not None or args.attention is None
    folder = outdir(args.outdir or default_outdir) if write_files else None
    from copyhead.io import provenance, write_json
    from copyhead.numerics.window_plotting import save_window_csv, save_window_figures
    from copyhead.numerics.window_solve import format_window_table, solve_window

    out, walls = {}, {}
    for model in models:
        t0 = time.perf_counter()
        res = solve_window(model, alpha_range=window)
        walls[model.attention] = time.perf_counter() - t0
        out[model.attention] = res
        if not args.json:
            print(format_window_table(res))
            print(f"  solved in {walls[model.attention]:.3f} s\n")
    if folder is not None:
        for att, res in out.items():
            paths = [] if args.no_plots else save_window_figures(res, folder)
            paths.append(save_window_csv(res, folder / f"{res.model.key}_branches.csv"))
            paths.append(write_json(res.to_dict(), folder / f"{res.model.key}.json",
                                    provenance=provenance(wall_s=walls[att])))
            if not args.json:
                print(f"[{att}] wrote " + ", ".join(str(p) for p in paths))
    if args.json:
        if len(out) == 1:
            print(json.dumps(next(iter(out.values())).to_dict()))
        else:
            print(json.dumps({att: r.to_dict() for att, r in out.items()}))
    return 0


def run_phase_diagram(args, name: str, lo: float, hi: float) -> int:
    """``copyhead phase-diagram --heads H --parents K --vary PARAM LO HI``: the transition into the
    specialised (copying) phase along one parameter and the tricritical point."""
    from copyhead.io import provenance, write_json
    from copyhead.numerics.window_phase_diagram import plot_window_phase_diagram, window_phase_lines

    model = model_from_args(args)
    folder = outdir(args.outdir)
    t0 = time.perf_counter()
    pd = window_phase_lines(model, name, lo, hi, n=args.n, spacing=getattr(args, "spacing", None),
                            progress=None if args.json else ProgressBar("phase lines"))
    wall = time.perf_counter() - t0
    stem = f"phase_{model.key}_{name}"
    j = write_json(pd.to_dict(), folder / f"{stem}.json", provenance=provenance(wall_s=wall))
    png = plot_window_phase_diagram(pd, folder / f"{stem}.png")
    if args.json:
        print(json.dumps({"rows": pd.rows, "special": pd.special}))
        return 0
    print(f"{name:>10s}  {'transition':13s} {'to':12s} {'alpha_c':>11s} {'sp_low':>11s} {'sp_high':>11s}")
    f = lambda v: f"{v:11.5f}" if isinstance(v, float) else f"{'-':>11s}"  # noqa: E731
    for r in pd.rows:
        if r.get("error"):
            print(f"{r['value']:10.5g}  FAILED: {r['error']}")
            continue
        print(f"{r['value']:10.5g}  {r['transition']:13s} {str(r.get('to')):12s} {f(r['alpha_c'])} "
              f"{f(r['alpha_spinodal_low'])} {f(r['alpha_spinodal_high'])}")
    for k, v in pd.special.items():
        print(f"{k}: " + ", ".join(f"{a}={b:.8g}" if isinstance(b, float) else f"{a}={b}" for a, b in v.items()))
    print(f"wrote {j}, {png}  ({wall:.1f} s)")
    return 0
