"""``copyhead train``: Adam (MAP) training of the finite network from prior and copy inits vs MAP theory.

Adam on the full network with weight decay equal to the priors, from a prior-scale init and a
copy-head init at each alpha; the final ``m`` is compared with the MAP branch it is on
(``objective="map"``, V = inf and with the MAP ``e1/V``). Figures: ``m(t)``, ``r(t)``, ``loss(t)``.
"""
from __future__ import annotations

import json
import time

from .common import (ProgressBar, add_model_args, add_run_args, at_least, floats, model_from_args, outdir,
                     set_threads, write_result)

NAME = "train"
HELP = "Adam (MAP) training of the finite network from prior and copy inits vs the MAP theory"
INITS = ("prior", "copy")


def add_arguments(p):
    add_run_args(p, seed='seed of data and init', json='print the rows as JSON')
    add_model_args(p, attention_default="softmax", objective=False)
    p.add_argument("--V", type=int, default=16, help="vocabulary size")
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the MAP transition)")
    p.add_argument("--inits", default="prior,copy", help="comma-separated subset of prior, copy")
    p.add_argument("--steps", type=int, default=4000, help="Adam steps")
    p.add_argument("--lr", type=float, default=0.03, help="Adam learning rate (cosine decay to lr/100)")
    p.add_argument("--init-scale", type=float, default=1.0, help="scale of the prior-scale init of Q, K")


def _print_table(rows, args, wall):
    head = (f"{'alpha':>7s} {'init':>6s} {'m_final':>8s} {'|grad|':>8s} {'branch':>10s} {'MAP m_inf':>9s} "
            f"{'MAP m_1/V':>9s} {'dev':>8s} {'jump step':>9s} {'sharp':>6s}")
    print(head)
    print("-" * len(head))
    for s in rows:
        mc = s["theory_m_corrected"]
        js = s.get("jump_step")
        mi = s["theory_m"]
        print(f"{s['alpha']:7.3f} {s['init']:>6s} {s['m_final']:8.4f} {s['grad_norm']:8.1e} {s['theory_branch']:>10s} "
              f"{(f'{mi:9.4f}' if mi is not None else '        -')} {mc:9.4f} {s['deviation']:+8.4f} "
              f"{(str(js) if js is not None else '-'):>9s} "
              f"{(s['sharpness'] if s['sharpness'] is not None else float('nan')):6.2f}")
    print(f"lr {args.lr} (cosine decay), {args.steps} steps, init scale {args.init_scale}; wall time {wall:.1f} s")


def _check(args):
    """Validate every option before any computation; returns ``(model, alphas, inits)``."""
    from copyhead.theory.model import ParameterError

    set_threads(args.threads)
    model = model_from_args(args, objective="map", V=args.V)
    alphas = floats("alphas", args.alphas) if args.alphas else None
    inits = [s.strip() for s in args.inits.split(",")]
    if not inits or any(i not in INITS for i in inits):
        raise ParameterError("inits", args.inits, "must be a comma-separated subset of prior, copy")
    at_least("steps", args.steps, 10)
    if not args.lr > 0:
        raise ParameterError("lr", args.lr, "must be > 0")
    if not args.init_scale > 0:
        raise ParameterError("init_scale", args.init_scale, "must be > 0")
    return model, alphas, inits


def _train_one(model, theory, a, init, args):
    """One Adam run at nominal ``alpha = a`` and its MAP theory point."""
    from copyhead.verification.training import train_adam

    bar = ProgressBar(f"Adam {model.attention} alpha={a:g} init={init}", quiet=args.json)
    res = train_adam(model.replace(alpha=a), steps=args.steps, lr=args.lr, seed=args.seed, init=init,
                     init_scale=args.init_scale, record_every=max(1, args.steps // 400),
                     progress=(lambda st, m, r, l, _b=bar: _b(st, args.steps)) if not args.json else None)
    m_cmp = abs(res.m) if model.attention == "linear" else res.m
    tp = theory.run_point(a, m_cmp)
    s = res.summary()
    s.update({"alpha_effective": tp.alpha, "m_final": m_cmp, "theory_branch": tp.branch, "theory_m": tp.m,
              "theory_m_corrected": tp.m_corrected, "deviation": m_cmp - tp.m_corrected})
    return res, s


def run(args) -> int:
    model, alphas, inits = _check(args)
    folder = outdir(args.outdir)
    from copyhead.numerics.finite_size import FiniteSizeTheory
    from copyhead.verification.plots_training import plot_training

    theory = FiniteSizeTheory(model)
    alphas = alphas or theory.default_alphas()
    rows, figs = [], []
    t0 = time.perf_counter()
    for a in alphas:
        results = []
        for init in inits:
            res, s = _train_one(model, theory, a, init, args)
            results.append(res)
            rows.append(s)
        figs.append(plot_training(results, folder / f"train_{model.attention}_V{model.V}_alpha{a:g}.png",
                                  title=f"Adam (MAP), {model.attention}, V={model.V}, alpha={a:g}"))
    wall = time.perf_counter() - t0
    jpath = write_result(folder / f"train_{model.attention}_V{model.V}_seed{args.seed}.json",
                         {"model": model.to_dict(), "steps": args.steps, "lr": args.lr, "seed": args.seed,
                          "init_scale": args.init_scale, "rows": rows}, {"seed": args.seed}, wall)
    if args.json:
        print(json.dumps(rows, default=float))
        return 0
    _print_table(rows, args, wall)
    print(f"wrote {jpath} and " + ", ".join(str(f) for f in figs))
    return 0
