"""``copyhead check-ansatz``: unconstrained minimisation over all T^2 scores vs the softmax ansatz."""
from __future__ import annotations

from .common import add_model_args, floats, model_from_args

NAME = "check-ansatz"
HELP = "unconstrained minimisation over all T^2 scores vs the symmetric softmax ansatz"


def add_arguments(p):
    add_model_args(p, attentions=("softmax",), attention_default="softmax")
    p.add_argument("--alphas", default=None, help="comma-separated alphas (default: around the transition)")
    p.add_argument("--starts", type=int, default=24, help="random starts per alpha (plus 9 structured)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random starts")


def run(args) -> int:
    model = model_from_args(args)
    alphas = floats("alphas", args.alphas) if args.alphas else None
    from copyhead.numerics.ansatz_check import check_softmax_ansatz
    from copyhead.numerics.solve import solve

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
