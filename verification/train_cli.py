"""``copyhead train`` (Adam = MAP) and ``copyhead langevin`` (temperature-1 dynamics = posterior).

``train``: Adam on the full network with weight decay equal to the priors, from a prior-scale
init and a copy-head init at each alpha; the final ``m`` is compared with the MAP branch it is
on (``objective="map"``, V = inf and with the MAP ``e1/V``; for linear attention the finite-V
theory uses the two-direction family ``S = mJ + (a/T)11^T``). Figures: ``m(t)``, ``r(t)``,
``loss(t)`` for both inits.

``langevin``: noisy gradient dynamics at temperature 1 on all weights (Q, K, W; no
marginalisation; Metropolis-adjusted by default so that it samples ``exp(-U)`` exactly), whose
``<m>`` is compared with the *posterior* branch.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from theory.model import Model, ParameterError

from .cli import ProgressBar, _alphas_arg, _floats


def _model(args, objective):
    return Model(T=args.T, nu=args.nu, sigma2=args.sigma2, kappa=args.kappa, attention=args.attention or "softmax",
                 prior=args.prior, objective=objective, V=args.V)


def _theory(model: Model, alpha_eff: float, m: float):
    from .theory_compare import realised_model, theory_point

    rm = realised_model(model, model.replace(alpha=alpha_eff).alpha)
    tp = theory_point(rm, rm.alpha, m, V=model.V)
    return tp


def train_main(args) -> int:
    import torch

    from .plots_training import plot_training
    from .training import train_adam

    torch.set_num_threads(args.threads)
    model = _model(args, "map")
    alphas = _alphas_arg(args, model, "map")
    inits = [s.strip() for s in args.inits.split(",")]
    for i in inits:
        if i not in ("prior", "copy"):
            raise ParameterError("inits", args.inits, "must be a comma-separated subset of prior, copy")
    if args.steps < 10 or args.lr <= 0:
        raise ParameterError("steps/lr", (args.steps, args.lr), "need steps >= 10 and lr > 0")
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows, figs = [], []
    t0 = time.perf_counter()
    for a in alphas:
        ma = model.replace(alpha=a)
        results = []
        for init in inits:
            bar = ProgressBar(f"Adam {model.attention} alpha={a:g} init={init}", quiet=args.json)
            res = train_adam(ma, steps=args.steps, lr=args.lr, seed=args.seed, init=init, init_scale=args.init_scale,
                             record_every=max(1, args.steps // 400),
                             progress=(lambda st, m, r, l, _b=bar: _b(st, args.steps)) if not args.json else None)
            results.append(res)
            m_cmp = abs(res.m) if model.attention == "linear" else res.m
            tp = _theory(model, ma.alpha_effective, m_cmp)
            s = res.summary()
            s.update({"alpha_effective": ma.alpha_effective, "m_final": m_cmp, "theory_branch": tp.branch,
                      "theory_m": tp.m, "theory_m_corrected": tp.m_corrected,
                      "deviation": m_cmp - (tp.m_corrected if tp.m_corrected is not None else tp.m)})
            rows.append(s)
        figs.append(plot_training(results, outdir / f"train_{model.attention}_V{model.V}_alpha{a:g}.png",
                                  title=f"Adam (MAP), {model.attention}, V={model.V}, alpha={a:g}"))
    wall = time.perf_counter() - t0
    from numerics.phase_diagram import save_json

    jpath = save_json({"model": model.to_dict(), "steps": args.steps, "lr": args.lr, "seed": args.seed,
                       "init_scale": args.init_scale, "rows": rows, "wall_time_s": wall},
                      outdir / f"train_{model.attention}_V{model.V}_seed{args.seed}.json")
    if args.json:
        print(json.dumps(rows, default=float))
        return 0
    head = (f"{'alpha':>7s} {'init':>6s} {'m_final':>8s} {'|grad|':>8s} {'branch':>10s} {'MAP m_inf':>9s} "
            f"{'MAP m_1/V':>9s} {'dev':>8s} {'jump step':>9s} {'sharp':>6s}")
    print(head)
    print("-" * len(head))
    for s in rows:
        mc = s["theory_m_corrected"]
        js = s.get("jump_step")
        print(f"{s['alpha']:7.3f} {s['init']:>6s} {s['m_final']:8.4f} {s['grad_norm']:8.1e} {s['theory_branch']:>10s} "
              f"{s['theory_m']:9.4f} {(f'{mc:9.4f}' if mc is not None else '     lost')} {s['deviation']:+8.4f} "
              f"{(str(js) if js is not None else '-'):>9s} {(s['sharpness'] if s['sharpness'] is not None else float('nan')):6.2f}")
    print(f"lr {args.lr} (cosine decay), {args.steps} steps, init scale {args.init_scale}; wall time {wall:.1f} s")
    print(f"wrote {jpath} and " + ", ".join(str(f) for f in figs))
    return 0


def langevin_main(args) -> int:
    import torch

    from .langevin import sample_langevin

    torch.set_num_threads(args.threads)
    model = _model(args, "posterior")
    alphas = _alphas_arg(args, model)
    rows = []
    t0 = time.perf_counter()
    for a in alphas:
        ma = model.replace(alpha=a)
        for init in ("prior", "copy"):
            res = sample_langevin(ma, n_iter=args.iters, seed=args.seed, method=args.method, chains=args.chains,
                                  init=init)
            mean, err, ess = res.stat("abs_m" if model.attention == "linear" else "m")
            tp = _theory(model, ma.alpha_effective, mean)
            ref = tp.m_corrected if tp.m_corrected is not None else tp.m
            rows.append({"alpha": a, "alpha_effective": ma.alpha_effective, "init": init, "method": args.method,
                         "m_mean": mean, "m_err": err, "ess": ess, "accept": float(np.mean(res.accept_rate)),
                         "theory_branch": tp.branch, "theory_m": tp.m, "theory_m_corrected": tp.m_corrected,
                         "deviation": mean - ref, "wall_time": res.wall_time})
            if not args.json:
                r = rows[-1]
                print(f"alpha {a:7.3f} {init:>5s}: <m> {mean:.4f} +- {err:.4f} (ESS {ess:.0f}, acc {r['accept']:.2f}) "
                      f"{tp.branch} theory {tp.m:.4f} / e1/V {ref:.4f}: dev {r['deviation']:+.4f}", flush=True)
    from numerics.phase_diagram import save_json

    p = save_json({"model": model.to_dict(), "iters": args.iters, "chains": args.chains, "method": args.method,
                   "seed": args.seed, "rows": rows, "wall_time_s": time.perf_counter() - t0},
                  Path(args.outdir) / f"langevin_{model.attention}_V{model.V}_seed{args.seed}.json")
    if args.json:
        print(json.dumps(rows, default=float))
    else:
        print(f"wrote {p}")
    return 0


def add_train_parser(sub, model_args, cmd_train):
    p = sub.add_parser("train", help="Adam (MAP) training of the finite network from prior and copy inits vs MAP theory")
    model_args(p, attention_default="softmax")
    p.add_argument("--V", type=int, default=16)
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the MAP transition)")
    p.add_argument("--inits", default="prior,copy")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--lr", type=float, default=0.03, help="Adam learning rate (cosine decay to lr/100)")
    p.add_argument("--init-scale", type=float, default=1.0, help="scale of the prior-scale init of Q, K")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--outdir", default="copyhead-output")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("langevin", help="temperature-1 dynamics on all weights (Q, K, W) vs the posterior theory")
    model_args(p, attention_default="softmax")
    p.add_argument("--V", type=int, default=16)
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the transition)")
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--method", choices=("hmc", "mala", "ula"), default="hmc")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--outdir", default="copyhead-output")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=langevin_main)
