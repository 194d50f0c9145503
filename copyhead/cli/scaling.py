"""``copyhead scaling``: the critical amount of data versus the sequence length T, and its law."""
from __future__ import annotations

import time

from .common import ProgressBar, add_model_args, add_output_args, floats, model_from_args, outdir, silent

NAME = "scaling"
HELP = "critical amount of data vs sequence length: alpha_c(T), spinodals and the derived large-T law"


def add_arguments(p):
    add_model_args(p, attention_default="softmax")
    p.add_argument("--vary", choices=("T",), default="T", help="the varied size (T: sequence length)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--values", default=None, help="comma-separated sequence lengths, e.g. 16,128,1000")
    g.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"), default=None,
                   help="log-spaced integer sequence lengths from LO to HI (with --n; default 4 1e6)")
    p.add_argument("--n", type=int, default=16, help="number of log-spaced values for --range")
    add_output_args(p, NAME)
    p.add_argument("--json", action="store_true", help="print the rows and the law as one JSON document")


def _values(args):
    from copyhead.numerics.scaling import t_values

    if args.values is not None:
        return t_values(values=floats("values", args.values))
    lo, hi = args.range if args.range is not None else (4.0, 1e6)
    return t_values(lo=lo, hi=hi, n=args.n)


def run(args) -> int:
    from copyhead.theory.model import ParameterError

    model = model_from_args(args)
    Ts = _values(args)  # validates before computing
    if args.range is not None or args.values is None:
        if len(Ts) < args.n and not silent(args):
            print(f"note: {args.n} values requested, {len(Ts)} distinct integers in the range", flush=True)
    if model.V is not None:
        raise ParameterError("V", model.V, "the scaling study works at V = inf")
    folder = outdir(args.outdir)
    from copyhead.io import provenance, to_json_text, write_csv, write_json
    from copyhead.numerics.datasets import scaling_dataset, write_dataset
    from copyhead.numerics.scaling import csv_columns, plot_scaling, scaling_in_T

    t0 = time.perf_counter()
    study = scaling_in_T(model, Ts, progress=ProgressBar("scaling in T", quiet=silent(args)))
    wall = time.perf_counter() - t0
    stem = f"scaling_{model.key}_T"
    prov = provenance(wall_s=wall)
    j = write_json(study.to_dict(), folder / f"{stem}.json", provenance=prov)
    c = write_csv(study.rows, folder / f"{stem}.csv", csv_columns(study.rows))
    nc = write_dataset(scaling_dataset(study), folder / f"{stem}.nc", provenance=prov)
    fig = plot_scaling(study, folder / f"{stem}.{args.format}")
    bad = [r for r in study.rows if r.get("error") or not r.get("converged", False)]
    if args.json:
        print(to_json_text({"rows": study.rows, "law": study.law, "provenance": prov}, indent=None))
        return 1 if bad else 0
    if silent(args):
        return 1 if bad else 0
    law = study.law
    main = "first_correction" if "first_correction" in law else "exact"
    print(f"copyhead scaling: {model.attention}/{model.prior}/{model.objective} nu={model.nu:g} "
          f"sigma2={model.sigma2:g} kappa={model.kappa:g}, T = {Ts[0]} .. {Ts[-1]} ({len(Ts)} values)")
    print(f"  law: {law['leading']['text']};  with correction: {law[main]['text']}")
    if "asymptotic" in law:
        print(f"  {law['asymptotic']['text']}")
    print(f"  {law['data_amount']['text']}")
    hdr = (f"  {'T':>8s} {'transition':13s} {'alpha_c':>13s} {'sp_low':>12s} {'sp_high':>12s} {'m_below':>9s} "
           f"{'m_above':>9s} {'P_c/V^2':>10s} {'err lead':>9s} {'err corr':>9s} {'err asym':>9s}")
    print(hdr)
    f = lambda v, w=12, p=6: f"{v:{w}.{p}g}" if isinstance(v, (int, float)) and v is not None else f"{'-':>{w}s}"
    e = lambda r, k: f"{r[k]:+9.2e}" if r.get(k) is not None else f"{'-':>9s}"
    for r in study.rows:
        if r.get("error"):
            print(f"  {r['T']:8d} FAILED: {r['error']}")
            continue
        print(f"  {r['T']:8d} {r['transition']:13s} {f(r['alpha_c'], 13, 8)} {f(r['alpha_spinodal_low'])} "
              f"{f(r['alpha_spinodal_high'])} {f(r['m_below'], 9, 3)} {f(r['m_above'], 9, 3)} "
              f"{f(r['P_c_over_V2'], 10, 5)} {e(r, 'rel_err_leading')} {e(r, 'rel_err_' + main)} "
              f"{e(r, 'rel_err_asymptotic' if 'asymptotic' in law else 'rel_err_exact')}")
    print("  relative error shrinks with T (T >= %d): " % law["error_shrinks_for_T_at_least"]
          + ", ".join(f"{k} {v if isinstance(v, str) else ('yes' if v else ('no' if v is False else '-'))}"
                     for k, v in law["error_shrinks"].items()))
    print(f"wrote {j}, {c}, {nc}, {fig}  ({wall:.1f} s)")
    return 1 if bad else 0
