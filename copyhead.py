"""``copyhead``: command-line entry point.

Subcommands
-----------
solve          trace branches, spinodals, coexistence / critical points; print a table or JSON;
               with no arguments: the built-in default for both attentions, with figures
phase-diagram  transition lines in a (parameter, alpha) plane, critical end / tricritical point
check-ansatz   unconstrained minimisation over all T^2 scores vs the symmetric softmax ansatz
codegen        regenerate the Numba kernels from the SymPy derivation (``--check``: stale?)
derive         print the derivations (and write derivations/out/*.tex)
verify         finite-size Monte Carlo (HMC over Q, K with W integrated) against the theory
train          Adam training (MAP) of the finite network against the MAP theory

Invalid parameters print one line ``copyhead: error: ...`` and exit with code 2; a solver that
does not converge prints the reason and residual and exits with code 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

DEFAULTS = dict(T=8, nu=0.5, sigma2=0.1, kappa=1.0, prior="qk", objective="posterior")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2 (argparse's own convention)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _model_args(p, attention_choices=("softmax", "linear"), attention_default=None):
    p.add_argument("--attention", choices=attention_choices, default=attention_default,
                   help="attention nonlinearity (default: both for solve, softmax elsewhere)")
    p.add_argument("--prior", choices=("qk", "gaussian"), default=DEFAULTS["prior"])
    p.add_argument("--objective", choices=("posterior", "map"), default=DEFAULTS["objective"],
                   help="posterior (sampling) or map (training with weight decay)")
    p.add_argument("--T", type=int, default=DEFAULTS["T"], help="sequence length (default 8)")
    p.add_argument("--nu", type=float, default=DEFAULTS["nu"], help="N / V^2 (default 0.5)")
    p.add_argument("--sigma2", type=float, default=DEFAULTS["sigma2"], help="readout prior variance (default 0.1)")
    p.add_argument("--kappa", type=float, default=DEFAULTS["kappa"], help="noise variance (default 1)")


def _model(args, attention, **extra):
    from theory.model import Model

    return Model(T=args.T, nu=args.nu, sigma2=args.sigma2, kappa=args.kappa, attention=attention,
                 prior=args.prior, objective=args.objective, **extra)


def _alpha_range(args):
    if args.alpha_min is None and args.alpha_max is None:
        return None
    from theory.model import ParameterError

    if args.alpha_min is None or args.alpha_max is None:
        raise ParameterError("alpha range", (args.alpha_min, args.alpha_max), "give both --alpha-min and --alpha-max")
    return (args.alpha_min, args.alpha_max)


# ----------------------------------------------------------------------------- solve


def cmd_solve(args) -> int:
    from numerics.plotting import save_branches_csv, save_solve_figures
    from numerics.solve import format_table, solve

    attentions = [args.attention] if args.attention else ["softmax", "linear"]
    out = {}
    for att in attentions:
        t0 = time.perf_counter()
        res = solve(_model(args, att), alpha_range=_alpha_range(args))
        dt = time.perf_counter() - t0
        out[att] = res
        if not args.json:
            print(format_table(res))
            print(f"  solved in {dt:.3f} s\n")
    write_figs = args.outdir is not None or args.attention is None
    if write_figs and not args.no_plots:
        outdir = Path(args.outdir or "copyhead-output")
        for att, res in out.items():
            paths = save_solve_figures(res, outdir)
            paths.append(save_branches_csv(res, outdir / f"{res.model.key}_branches.csv"))
            from numerics.phase_diagram import save_json

            paths.append(save_json(res.to_dict(), outdir / f"{res.model.key}.json"))
            if not args.json:
                print(f"[{att}] wrote " + ", ".join(str(p) for p in paths))
    if args.json:
        if len(out) == 1:
            print(json.dumps(next(iter(out.values())).to_dict()))
        else:
            print(json.dumps({att: r.to_dict() for att, r in out.items()}))
    return 0


# ----------------------------------------------------------------------------- phase diagram


def _progress(label):
    def cb(i, n):
        bar = "#" * int(30 * i / n)
        print(f"\r{label} [{bar:<30}] {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)

    return cb


def cmd_phase_diagram(args) -> int:
    import numpy as np

    from theory.model import ParameterError

    from numerics.phase_diagram import phase_lines, phase_map, plot_phase_diagram, save_json

    name, lo, hi = args.vary
    try:
        lo, hi = float(lo), float(hi)
    except ValueError:
        raise ParameterError("vary", args.vary, "needs PARAM LO HI with numbers LO < HI") from None
    model = _model(args, args.attention or "softmax")
    pd = phase_lines(model, name, lo, hi, n=args.n, progress=None if args.json else _progress("phase lines"))
    if args.grid > 0:
        vals = np.array([r["value"] for r in pd.rows])
        if name != "T":
            vals = np.geomspace(lo, hi, args.grid) if hi / lo > 20 else np.linspace(lo, hi, args.grid)
        al = [r[k] for r in pd.rows for k in ("alpha_c", "alpha_spinodal_low", "alpha_spinodal_high") if r.get(k)]
        a_lo, a_hi = (args.alpha_min, args.alpha_max) if args.alpha_min else (0.6 * min(al), 1.5 * max(al))
        pd.grid = phase_map(model, name, vals, np.linspace(a_lo, a_hi, args.grid))
    outdir = Path(args.outdir)
    stem = f"phase_{model.key}_{name}"
    j = save_json(pd.to_dict(), outdir / f"{stem}.json")
    png = plot_phase_diagram(pd, outdir / f"{stem}.png")
    if args.json:
        print(json.dumps({"rows": pd.rows, "special": pd.special}))
        return 0
    print(f"{name:>10s}  {'transition':13s} {'alpha_c':>11s} {'sp_low':>11s} {'sp_high':>11s}")
    f = lambda v: f"{v:11.5f}" if isinstance(v, float) else f"{'-':>11s}"
    for r in pd.rows:
        if r.get("error"):
            print(f"{r['value']:10.5g}  FAILED: {r['error']}")
            continue
        print(f"{r['value']:10.5g}  {r['transition']:13s} {f(r['alpha_c'])} {f(r['alpha_spinodal_low'])} {f(r['alpha_spinodal_high'])}")
    for k, v in pd.special.items():
        print(f"{k}: " + ", ".join(f"{a}={b:.8g}" if isinstance(b, float) else f"{a}={b}" for a, b in v.items()))
    print(f"wrote {j}, {png}")
    return 0


# ----------------------------------------------------------------------------- others


def cmd_check_ansatz(args) -> int:
    from numerics.ansatz_check import check_softmax_ansatz
    from numerics.solve import solve

    model = _model(args, "softmax")
    alphas = [float(a) for a in args.alphas.split(",")] if args.alphas else None
    if alphas is None:
        t = solve(model).transition
        alphas = [a for a in (t.alpha_spinodal_low, t.alpha_c, t.alpha_spinodal_high) if a is not None]
        alphas = [0.8 * alphas[0]] + alphas + [1.2 * alphas[-1]]
    worst = 0.0
    for a in alphas:
        c = check_softmax_ansatz(model, a, n_random=args.starts, seed=args.seed)
        print(c.summary())
        worst = min(worst, c.best_gap)
    print(f"worst (most negative) F_unconstrained - F_ansatz over all alphas: {worst:.3e}")
    return 0 if worst > -1e-9 else 1


def cmd_codegen(args) -> int:
    from theory import codegen

    return codegen.main(["--check"] if args.check else [])


def cmd_derive(args) -> int:
    import runpy

    root = Path(__file__).resolve().parent / "derivations"
    scripts = sorted(root.glob("[0-9][0-9]_*.py"))
    if not scripts:
        print(f"no derivation scripts found in {root}", file=sys.stderr)
        return 1
    for s in scripts:
        if args.only and args.only not in s.name:
            continue
        print(f"\n######## {s.name}")
        runpy.run_path(str(s), run_name="__main__")
    return 0


def cmd_verify(args) -> int:
    from verification.cli import verify_main

    return verify_main(args)


def cmd_train(args) -> int:
    from verification.cli import train_main

    return train_main(args)


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="copyhead", description="Bayesian theory of copy-head emergence: derive, solve, verify.")
    sub = ap.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("solve", help="branches, spinodals, coexistence and classification in alpha")
    _model_args(p)
    p.add_argument("--alpha-min", type=float, default=None)
    p.add_argument("--alpha-max", type=float, default=None)
    p.add_argument("--json", action="store_true", help="print one JSON object (per attention)")
    p.add_argument("--outdir", default=None, help="write figures/CSV/JSON here (default with no --attention: copyhead-output)")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("phase-diagram", help="transition lines in a (parameter, alpha) plane")
    _model_args(p, attention_default="softmax")
    p.add_argument("--vary", nargs=3, metavar=("PARAM", "LO", "HI"), required=True,
                   help="parameter (sigma2, nu or T) and its range")
    p.add_argument("--n", type=int, default=25, help="number of parameter values (default 25)")
    p.add_argument("--grid", type=int, default=60, help="resolution of the m_global map (0: none)")
    p.add_argument("--alpha-min", type=float, default=None)
    p.add_argument("--alpha-max", type=float, default=None)
    p.add_argument("--outdir", default="copyhead-output")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_phase_diagram)

    p = sub.add_parser("check-ansatz", help="unconstrained minimisation over all T^2 scores vs the softmax ansatz")
    _model_args(p, attention_choices=("softmax",), attention_default="softmax")
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the transition)")
    p.add_argument("--starts", type=int, default=24, help="random starts per alpha (plus 9 structured)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_check_ansatz)

    p = sub.add_parser("codegen", help="regenerate numerics/_kernels.py from the SymPy derivation")
    p.add_argument("--check", action="store_true", help="only check whether the generated module is stale")
    p.set_defaults(func=cmd_codegen)

    p = sub.add_parser("derive", help="print the derivations and write derivations/out/*.tex")
    p.add_argument("--only", default=None, help="substring of the script name to run")
    p.set_defaults(func=cmd_derive)

    try:
        from verification.cli import add_verify_parsers
    except ImportError:  # verification layer not installed
        add_verify_parsers = None
    if add_verify_parsers is not None:
        add_verify_parsers(sub, _model_args, cmd_verify, cmd_train)
    return ap


def main(argv=None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "command", None):
        ap.print_help()
        return 2
    from numerics.continuation import ContinuationError
    from theory.model import ParameterError

    try:
        return int(args.func(args) or 0)
    except ParameterError as exc:
        print(f"copyhead: error: {exc}", file=sys.stderr)
        return 2
    except ContinuationError as exc:
        print(f"copyhead: solver did not converge: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        print("copyhead: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line, the traceback on request
        if os.environ.get("COPYHEAD_DEBUG"):
            raise
        print(f"copyhead: internal error: {type(exc).__name__}: {exc} (set COPYHEAD_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
