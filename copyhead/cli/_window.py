"""The window-copier paths of ``copyhead solve`` and ``copyhead phase-diagram`` (``--heads``/``--parents``
other than 1; not a command of its own: :mod:`copyhead.cli.solve` and :mod:`copyhead.cli.phase_diagram`
dispatch here). Same files as the single head: JSON with provenance, CSV, NetCDF dataset, figures."""
from __future__ import annotations

import time

from .common import ProgressBar, model_from_args, outdir


def run_solve(args, window=None) -> int:
    """``copyhead solve --heads H --parents K``: table (or ``--json``), figures, CSV, JSON and NetCDF
    per attention."""
    from copyhead.theory.model import ParameterError

    from ._outputs import solve_models

    attentions = [args.attention] if args.attention else ["softmax", "linear"]
    models = [model_from_args(args, attention=a) for a in attentions]  # validate before computing
    for m in models:
        if m.objective != "posterior":
            raise ParameterError("objective", m.objective, "the window copier is solved for the posterior only")
        if m.attention == "linear" and m.prior == "gaussian" and m.heads > 1:
            raise ParameterError("prior", m.prior, "linear attention with the gaussian prior has a continuous O(H) "
                                 "head-rotation symmetry (not supported); use --prior qk or --attention softmax")
    folder = outdir(args.outdir)
    from copyhead.numerics.datasets import window_solve_dataset
    from copyhead.numerics.window_plotting import save_window_csv, save_window_figures
    from copyhead.numerics.window_solve import format_window_table, solve_window

    solve_models(models, window, args, folder, solve_window, format_window_table, window_solve_dataset,
                 save_window_figures, save_window_csv)
    return 0


def run_phase_diagram(args, name: str, lo: float, hi: float) -> int:
    """``copyhead phase-diagram --heads H --parents K --vary PARAM LO HI``: the transition into the
    specialised (copying) phase along one parameter and the tricritical point."""
    from copyhead.numerics.window_phase_diagram import plot_window_phase_diagram, window_phase_lines

    from ._outputs import print_rows, write_phase_outputs
    from .common import silent

    model = model_from_args(args)
    folder = outdir(args.outdir)
    t0 = time.perf_counter()
    pd = window_phase_lines(model, name, lo, hi, n=args.n, spacing=getattr(args, "spacing", None),
                            progress=ProgressBar("phase lines", quiet=silent(args)))
    wall = time.perf_counter() - t0
    paths, prov = write_phase_outputs(pd, folder, f"phase_{model.key}_{name}", args, wall, plot_window_phase_diagram)
    if args.json:
        from copyhead.io import to_json_text

        print(to_json_text({"rows": pd.rows, "special": pd.special, "provenance": prov}, indent=None))
        return 0
    if not silent(args):
        print_rows(pd, name, window=True)
        print("wrote " + ", ".join(str(p) for p in paths) + f"  ({wall:.1f} s)")
    return 0
