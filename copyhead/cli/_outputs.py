"""Output helpers of the theory commands (``solve``, ``phase-diagram``, ``scaling`` and their
window-copier paths in :mod:`copyhead.cli._window`): the output options, the files of a solved
model and of a phase diagram, the printed JSON and tables. Not a command.

The options ``--outdir`` (default ``copyhead-output/<command>``), ``--format`` and ``--quiet`` are
the shared ones of :func:`copyhead.cli.common.add_output_args`.
"""
from __future__ import annotations

import time


def print_json(docs: dict) -> None:
    """One JSON document: the one result, or ``{attention: result}`` for both attentions."""
    from copyhead.io import to_json_text

    print(to_json_text(next(iter(docs.values())) if len(docs) == 1 else docs, indent=None))


def write_outputs(res, folder, args, doc: dict, dataset, figures, csv) -> list:
    """The files of one solved model: figures (unless ``--no-plots``), the CSV of every branch
    point, the JSON summary ``doc`` (with its provenance) and the NetCDF dataset."""
    from copyhead.io import write_json
    from copyhead.numerics.datasets import write_dataset

    key = res.model.key
    paths = [] if args.no_plots else figures(res, folder, fmt=args.format)
    paths.append(csv(res, folder / f"{key}_branches.csv"))
    paths.append(write_json({k: v for k, v in doc.items() if k != "provenance"}, folder / f"{key}.json",
                            provenance=doc["provenance"]))
    paths.append(write_dataset(dataset(res), folder / f"{key}.nc", provenance=doc["provenance"]))
    return paths


def solve_models(models, window, args, folder, solver, table, dataset, figures, csv) -> dict:
    """Solve every model with ``solver(model, alpha_range=window)``, print its ``table`` (unless
    silent), write its files (:func:`write_outputs`) and print the JSON (``--json``); returns
    ``{attention: result}``. One path for ``solve`` and its window-copier variant."""
    from copyhead.io import provenance

    from .common import silent

    out, docs = {}, {}
    for model in models:
        t0 = time.perf_counter()
        res = solver(model, alpha_range=window)
        wall = time.perf_counter() - t0
        out[model.attention] = res
        docs[model.attention] = {**res.to_dict(), "provenance": provenance(wall_s=wall)}
        if not silent(args):
            print(table(res))
            print(f"  solved in {wall:.3f} s\n")
    for att, res in out.items():
        paths = write_outputs(res, folder, args, docs[att], dataset, figures, csv)
        if not silent(args):
            print(f"[{att}] wrote " + ", ".join(str(p) for p in paths))
    if args.json:
        print_json(docs)
    return out


PHASE_CSV_COLUMNS = ("value", "transition", "to", "alpha_c", "alpha_spinodal_low", "alpha_spinodal_high", "m_below",
                     "m_above", "residual", "error")
"""CSV columns of ``copyhead phase-diagram``: those of :data:`PHASE_CSV_COLUMNS` that its rows have
(``to`` only for the window copier; ``m_below``/``m_above`` only for the single head)."""


def phase_csv_columns(rows) -> list:
    return [c for c in PHASE_CSV_COLUMNS if any(c in r for r in rows)]


def write_phase_outputs(pd, folder, stem: str, args, wall: float, plot) -> tuple:
    """JSON (with provenance), CSV of the rows, NetCDF dataset and the figure of a phase diagram;
    returns ``(paths, provenance)``."""
    from copyhead.io import provenance, write_csv, write_json
    from copyhead.numerics.datasets import phase_dataset, write_dataset

    prov = provenance(wall_s=wall)
    paths = [write_json(pd.to_dict(), folder / f"{stem}.json", provenance=prov),
             write_csv(pd.rows, folder / f"{stem}.csv", phase_csv_columns(pd.rows)),
             write_dataset(phase_dataset(pd), folder / f"{stem}.nc", provenance=prov),
             plot(pd, folder / f"{stem}.{args.format}")]
    return paths, prov


def print_rows(pd, name: str, window: bool = False) -> None:
    """The table of the lines and the special points."""
    to = f" {'to':12s}" if window else ""
    print(f"{name:>10s}  {'transition':13s}{to} {'alpha_c':>11s} {'sp_low':>11s} {'sp_high':>11s}")
    f = lambda v: f"{v:11.5f}" if isinstance(v, float) else f"{'-':>11s}"  # noqa: E731
    for r in pd.rows:
        if r.get("error"):
            print(f"{r['value']:10.5g}  FAILED: {r['error']}")
            continue
        to = f" {str(r.get('to')):12s}" if window else ""
        print(f"{r['value']:10.5g}  {r['transition']:13s}{to} {f(r['alpha_c'])} {f(r['alpha_spinodal_low'])} "
              f"{f(r['alpha_spinodal_high'])}")
    for k, v in pd.special.items():
        print(f"{k}: " + ", ".join(f"{a}={b:.8g}" if isinstance(b, float) else f"{a}={b}" for a, b in v.items()))
