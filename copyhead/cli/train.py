"""``copyhead train``: Adam (MAP) training of the finite network from prior and copy inits vs MAP theory.

Adam on the full network with weight decay equal to the priors, from a prior-scale init and a
copy-head init at each alpha; the final ``m`` is compared with the MAP branch it is on
(``objective="map"``, V = inf and with the MAP ``e1/V``). A run whose final root-mean-square
gradient per parameter exceeds ``--grad-tol`` has not converged: a warning on stderr, and
``converged: false`` in its row. Files: JSON summary, CSV table, the trajectories as NetCDF,
the final ``m`` on the MAP theory curves, and ``m(t)``, ``r(t)``, ``U(t)``, ``|grad U|(t)`` per alpha.
"""
from __future__ import annotations

import json
import math
import time

from copyhead.theory.model import check_positive

from .common import (Outputs, ProgressBar, add_model_args, add_run_args, at_least, floats, model_from_args, say,
                     set_threads, silent, warn, write_result)

NAME = "train"
HELP = "Adam (MAP) training of the finite network from prior and copy inits vs the MAP theory"
INITS = ("prior", "copy")
GRAD_TOL = 1e-6  # converged runs reach RMS 1e-16 .. 1e-14 (V = 16, 4000 steps); runs stopped early 1e-4 .. 1


def add_arguments(p):
    add_run_args(p, seed='seed of data and init', json='print the rows as JSON', command=NAME)
    add_model_args(p, attention_default="softmax", objective=False)
    p.add_argument("--V", type=int, default=16, help="vocabulary size")
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the MAP transition)")
    p.add_argument("--inits", default="prior,copy", help="comma-separated subset of prior, copy")
    p.add_argument("--steps", type=int, default=4000, help="Adam steps")
    p.add_argument("--lr", type=float, default=0.03, help="Adam learning rate (cosine decay to lr/100)")
    p.add_argument("--init-scale", type=float, default=1.0, help="scale of the prior-scale init of Q, K")
    p.add_argument("--grad-tol", type=float, default=GRAD_TOL,
                   help="a run has converged when its final root-mean-square gradient per parameter, "
                        "|grad U|/sqrt(n_parameters), is at most this")


def _print_table(rows, args, wall):
    from copyhead.verification.outputs import alpha_cell, alpha_note, format_table

    cols = [("alpha", "alpha", ".3f")]
    if any(r["alpha_effective_flag"] for r in rows):
        cols.append(("alpha_eff", alpha_cell, ""))
    cols += [("init", "init", ""), ("m_final", "m_final", ".4f"), ("grad_rms", "grad_rms", ".1e"),
             ("conv", lambda r: "yes" if r["converged"] else "NO", ""), ("branch", "theory_branch", ""),
             ("MAP m_inf", "theory_m", ".4f"), ("MAP m_1/V", "theory_m_corrected", ".4f"), ("dev", "deviation", "+.4f"),
             ("jump step", "jump_step", ".0f"), ("sharp", "sharpness", ".2f")]
    print(format_table(rows, cols))
    note = alpha_note(rows)
    if note:
        print(note)
    print(f"lr {args.lr} (cosine decay), {args.steps} steps, init scale {args.init_scale}; convergence: grad_rms "
          f"<= {args.grad_tol:g}; wall time {wall:.1f} s")


def _check(args):
    """Validate every option before any computation; returns ``(model, alphas, inits)``."""
    from copyhead.theory.model import ParameterError

    set_threads(args.threads)
    model = model_from_args(args, objective="map", V=args.V)
    alphas = floats("alphas", args.alphas, distinct=True) if args.alphas else None
    inits = [s.strip() for s in args.inits.split(",")]
    if not inits or any(i not in INITS for i in inits):
        raise ParameterError("inits", args.inits, "must be a comma-separated subset of prior, copy")
    at_least("steps", args.steps, 10)
    if not args.lr > 0:
        raise ParameterError("lr", args.lr, "must be > 0")
    if not args.init_scale > 0:
        raise ParameterError("init_scale", args.init_scale, "must be > 0")
    check_positive("grad_tol", args.grad_tol)
    return model, alphas, inits


def _train_one(model, theory, a, init, args, progress):
    """One Adam run at nominal ``alpha = a`` and its MAP theory point."""
    from copyhead.verification.training import train_adam

    res = train_adam(model.replace(alpha=a), steps=args.steps, lr=args.lr, seed=args.seed, init=init,
                     init_scale=args.init_scale, record_every=max(1, args.steps // 400),
                     progress=(lambda st, m, r, l: progress(st, args.steps)) if progress else None)
    m_cmp = abs(res.m) if model.attention == "linear" else res.m
    tp = theory.run_point(a, m_cmp)
    s = res.summary()
    n_par = sum(int(v.size) for v in res.params.values())
    grad_rms = res.grad_norm / math.sqrt(n_par)
    s.update({"alpha_effective": tp.alpha, "m_final": m_cmp, "theory_branch": tp.branch, "theory_m": tp.m,
              "theory_m_corrected": tp.m_corrected, "deviation": m_cmp - tp.m_corrected,
              "n_parameters": n_par, "grad_rms": grad_rms, "grad_tol": args.grad_tol,
              "converged": bool(grad_rms <= args.grad_tol)})
    return res, s


def _theory_lines(theory, alpha) -> dict:
    """The MAP minima at ``alpha`` (realised), V = inf and with ``e1_MAP/V``, for the m(t) panel."""
    from copyhead.verification.figures import COLORS

    a = theory.alpha_of_run(alpha)
    style = {"disordered": ":", "copy": "-.", "symmetric": ":", "ordered": "-."}
    lines = {f"MAP $V=\\infty$ {q.branch} minimum": (q.m, {"color": COLORS["inf"], "ls": style[q.branch]})
             for q in theory.limit_minima(a)}
    lines.update({f"MAP $F - e_1/V$ {q.branch} minimum ($V={theory.V}$)":
                  (q.m, {"color": COLORS["finite"], "ls": style[q.branch]}) for q in theory.minima(a)})
    return lines


def _figures(results_by_alpha, rows, theory, model, args, out) -> None:
    """The final ``m`` on the MAP theory curves, and the trajectories at every alpha."""
    from copyhead.verification.figures import describe, plot_points_on_theory
    from copyhead.verification.plots_training import plot_training

    pts = [{"alpha": r["alpha_effective"], "m": r["m_final"], "err": None, "start": r["init"]} for r in rows]
    ylabel = r"final $|m|$" if model.attention == "linear" else r"final copy weight $m$"
    out.add(plot_points_on_theory(theory, pts, out.figure(), heading="Adam (MAP) on the full network vs the MAP theory",
                                  label="Adam", seed=args.seed, ylabel=ylabel, kind="init", steps=args.steps,
                                  lr=args.lr))
    for a, results in results_by_alpha.items():
        n_par = max(r["n_parameters"] for r in rows if r["alpha"] == a)
        a_eff = theory.alpha_of_run(a)
        out.add(plot_training(results, out.figure(f"alpha{a:g}"),
                              title=f"Adam (MAP) trajectories at $\\alpha={a:g}$"
                                    + (f" (realised {a_eff:.4g})" if a_eff != a else ""),
                              subtitle=describe(model, args.seed, steps=args.steps, lr=args.lr),
                              theory_m=_theory_lines(theory, a), grad_tol=args.grad_tol * math.sqrt(n_par)))


def _write(results_by_alpha, rows, theory, model, args, wall, out):
    from copyhead.io import provenance, write_csv
    from copyhead.verification.outputs import columns_of, flag_effective_alpha, training_dataset, write_draws

    flagged = flag_effective_alpha(rows)
    unconverged = [{"alpha": r["alpha"], "init": r["init"], "grad_rms": r["grad_rms"]}
                   for r in rows if not r["converged"]]
    seeds = {"seed": args.seed}
    out.add(write_result(out.path(".json"),
                         {"model": model.to_dict(), "steps": args.steps, "lr": args.lr, "seed": args.seed,
                          "init_scale": args.init_scale, "grad_tol": args.grad_tol, "converged": not unconverged,
                          "unconverged": unconverged, "alpha_effective_flagged": flagged, "rows": rows}, seeds, wall))
    out.add(write_csv(rows, out.path(".csv"), columns_of("train", rows)))
    results = [res for rs in results_by_alpha.values() for res in rs]
    out.add(write_draws(training_dataset(results, attrs={"command": "train", "model": model.to_dict()}),
                        out.path("_traces.nc"), provenance=provenance(seeds=seeds, wall_s=wall)))
    _figures(results_by_alpha, rows, theory, model, args, out)
    return unconverged


def run(args) -> int:
    model, alphas, inits = _check(args)
    out = Outputs(args, stem=f"train_{model.attention}_V{model.V}_seed{args.seed}")
    from copyhead.numerics.finite_size import FiniteSizeTheory

    theory = FiniteSizeTheory(model)
    alphas = alphas or theory.default_alphas()
    bar = ProgressBar(f"Adam {model.attention} V={model.V} ({len(alphas)} alphas x {len(inits)} inits)",
                      quiet=silent(args))
    rows, by_alpha = [], {}
    t0 = time.perf_counter()
    for i, (a, init) in enumerate((a, init) for a in alphas for init in inits):
        res, s = _train_one(model, theory, a, init, args, bar.part(i, len(alphas) * len(inits), f"alpha={a:g} {init}"))
        by_alpha.setdefault(a, []).append(res)
        rows.append(s)
    wall = time.perf_counter() - t0
    bar.close()
    unconverged = _write(by_alpha, rows, theory, model, args, wall, out)
    for u in unconverged:
        warn(f"training did not converge at alpha={u['alpha']:g}, init={u['init']}: final RMS gradient "
             f"{u['grad_rms']:.2e} > --grad-tol {args.grad_tol:g} (more --steps or another --lr)")
    if args.json:
        print(json.dumps(rows, default=float))
        return 0
    if not silent(args):
        _print_table(rows, args, wall)
    say(args, out.line())
    return 0
