"""``copyhead verify`` and ``copyhead train``: the finite network against the theory."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from theory.model import Model, ParameterError


def _floats(name, text):
    try:
        vals = [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise ParameterError(name, text, "must be a comma-separated list of numbers") from None
    if not vals or any(not (math.isfinite(v) and v > 0) for v in vals):
        raise ParameterError(name, text, "must be a non-empty list of finite numbers > 0")
    return vals


def default_alphas(model: Model, objective: str = "posterior"):
    """Alphas around the model's transition (V = inf theory): softmax/first order
    ``alpha_c x (0.84, 0.92, 1, 1.05, 1.09, 1.18, 1.26)`` (20..30 for the default model),
    linear ``alpha_c x (0.5, 0.8, 0.95, 1.05, 1.15, 1.3, 1.5, 2)``, rounded to 0.1."""
    from numerics.solve import solve

    t = solve(model.replace(V=None, alpha=None, objective=objective)).transition
    f = (0.84, 0.92, 1.0, 1.05, 1.09, 1.18, 1.26) if model.attention == "softmax" else \
        (0.5, 0.8, 0.95, 1.05, 1.15, 1.3, 1.5, 2.0)
    return sorted({round(t.alpha_c * x, 1) for x in f})


def _alphas_arg(args, model, objective="posterior"):
    return _floats("alphas", args.alphas) if args.alphas else default_alphas(model, objective)


def _device(name):
    import torch

    if name not in ("cpu", "cuda"):
        raise ParameterError("device", name, "must be cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device", name, "CUDA is not available on this machine")
    return name


class ProgressBar:
    """A one-line progress bar on stderr with rate and ETA (silent when not a terminal and quiet)."""

    def __init__(self, label, quiet=False):
        self.label, self.quiet, self.t0, self.last = label, quiet, time.perf_counter(), 0.0

    def __call__(self, done, total, info=None):
        if self.quiet:
            return
        now = time.perf_counter()
        if done < total and now - self.last < 0.5:
            return
        self.last = now
        el = now - self.t0
        eta = el / done * (total - done) if done else float("nan")
        bar = "#" * int(30 * done / max(total, 1))
        extra = ""
        if isinstance(info, dict) and "accept" in info:
            extra = f" acc {float(np.mean(info['accept'])):.2f}"
        print(f"\r{self.label} [{bar:<30}] {done}/{total} {el:6.1f}s eta {eta:6.1f}s{extra}", end="",
              file=sys.stderr, flush=True)
        if done >= total:
            print(file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- verify


def annotate_with_theory(rows, model: Model):
    """Add ``theory_m`` (V = inf), ``theory_m_corrected`` (F - e1/V), ``branch``, ``deviation`` to rows."""
    from .theory_compare import realised_model, theory_point

    from .sweep import _stats

    V = model.require_V()
    one_loop = {}
    for r in rows:
        if model.attention == "linear":
            # the posterior is symmetric under S -> -S: compare |m| (signed <m> is 0 in equilibrium)
            n = r["n_samples"]
            tr = np.abs(r["traces"]["m"][-n:])
            r["m_signed_mean"] = r["m_mean"]
            r["m_mean"], r["m_err"], _, _ = _stats(tr)
        rm = realised_model(model, r["alpha"])
        tp = theory_point(rm, rm.alpha, r["m_mean"], V=V)
        if model.attention == "linear":
            # R-hat between the starts on |m| (the sign of m is a symmetry, not a branch)
            from . import diagnostics

            same = [q for q in rows if q["alpha"] == r["alpha"]]
            block = np.stack([np.abs(q["traces"]["m"][-q["n_samples"]:]) for q in same])
            try:
                r["rhat_between"] = float(diagnostics.split_rhat(block)) if len(same) > 1 else float("nan")
            except ParameterError:
                r["rhat_between"] = float("nan")
        r["theory_branch"] = tp.branch
        r["theory_m"] = tp.m
        r["theory_m_corrected"] = tp.m_corrected
        r["theory_r"] = tp.r
        r["theory_n_stable"] = tp.n_stable
        ref = tp.m_corrected if tp.m_corrected is not None else tp.m
        r["deviation"] = r["m_mean"] - ref
        if model.attention == "linear":
            # one loop: transverse Gaussian fluctuations of the T^2 scores (+ qk prior prefactor),
            # <|m|> from the exact 1-D integral over m (theory/one_loop.py, derivations/08_one_loop.py)
            if r["alpha"] not in one_loop:
                from theory.one_loop import one_loop_linear

                ol = one_loop_linear(rm, rm.alpha, V)
                one_loop[r["alpha"]] = (ol["m_abs_mean"], ol["r_mean"])
            r["theory_m_1loop"], r["theory_r_1loop"] = one_loop[r["alpha"]]
            r["deviation_1loop"] = r["m_mean"] - r["theory_m_1loop"]
    return rows


def format_verify_table(rows) -> str:
    loop = any("theory_m_1loop" in r for r in rows)
    head = (f"{'alpha':>7s} {'start':>8s} {'<m>':>8s} {'+-':>7s} {'<r>':>7s} {'acc':>5s} {'R-hat':>6s} "
            f"{'branch':>10s} {'m_inf':>7s} {'m_1/V':>7s} {'dev':>8s}")
    if loop:
        head += f" {'m_1loop':>7s} {'dev_1l':>8s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        mc = r["theory_m_corrected"]
        line = (
            f"{r['alpha']:7.3f} {r['start']:>8s} {r['m_mean']:8.4f} {r['m_err']:7.4f} {r['r_mean']:7.4f} "
            f"{r['acceptance']:5.2f} {r['rhat']:6.3f} {r['theory_branch']:>10s} {r['theory_m']:7.4f} "
            f"{(f'{mc:7.4f}' if mc is not None else '   lost')} {r['deviation']:+8.4f}"
        )
        if loop:
            line += f" {r['theory_m_1loop']:7.4f} {r['deviation_1loop']:+8.4f}"
        lines.append(line)
    if loop:
        lines.append("(linear: <m> is <|m|>; m_1/V is the saddle point of F - e1/V, m_1loop the one-loop <|m|>)")
    return "\n".join(lines)


def plot_verify(rows, model: Model, path, window=None):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from numerics.plotting import plot_branches
    from numerics.solve import solve

    from .theory_compare import _solved, realised_model

    alphas = [r["alpha"] for r in rows]
    rm = realised_model(model, float(np.median(alphas)))
    lo, hi = 0.85 * min(alphas), 1.15 * max(alphas)
    auto = _solved(rm.replace(alpha=None)).alpha_range
    res = solve(rm.replace(alpha=None), alpha_range=(min(lo, auto[0]), max(hi, auto[1])))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    plot_branches(res, ax=ax)
    win = window
    if win and win[1] is not None:
        ax.axvspan(win[0], win[1], color="tab:purple", alpha=0.08, label=f"spinodal window with e1/V (V={model.V})")
    for start, mk, col in (("uniform", "o", "k"), ("copy", "s", "tab:green")):
        sel = [r for r in rows if r["start"] == start]
        if sel:
            ax.errorbar([r["alpha_effective"] for r in sel], [r["m_mean"] for r in sel],
                        yerr=[max(r["m_err"], 1e-12) for r in sel], fmt=mk, color=col, ms=5, capsize=3,
                        mfc="none", label=f"HMC V={model.V}, {start} start")
            sc = [r for r in sel if r.get("theory_m_corrected") is not None]
            ax.plot([r["alpha_effective"] for r in sc], [r["theory_m_corrected"] for r in sc], "_", color="tab:purple",
                    ms=12, mew=2)
    ax.plot([], [], "_", color="tab:purple", ms=12, mew=2, label="theory with e1/V")
    ax.set_xlim(lo, hi)
    ax.legend(fontsize=7)
    from numerics.plotting import save_figure

    return save_figure(fig, path)


def predicted_window(model: Model, alphas):
    """Spinodal window of F - e1/V at the model's V (softmax; None for linear or no window)."""
    from .theory_compare import corrected_spinodals, realised_model

    if model.attention != "softmax":
        return None
    rm = realised_model(model, float(np.median(alphas)))
    t = _inf_transition(rm)
    if t.alpha_spinodal_low is None or t.alpha_spinodal_high is None:
        return None
    w = t.alpha_spinodal_high - t.alpha_spinodal_low
    return corrected_spinodals(rm, model.V, max(1e-3, t.alpha_spinodal_low - 2 * w), t.alpha_spinodal_high + 2 * w)


def _inf_transition(rm: Model):
    from .theory_compare import _solved

    return _solved(rm.replace(alpha=None)).transition


def linear_lag(rows, model: Model, m_star: float = 0.5):
    """Lag of the MC onset: ``alpha_MC(m*) - alpha_theory(m*)`` at the level ``<|m|> = m*``.

    ``alpha_MC(m*)`` interpolates the MC ``<|m|>`` (linear in alpha between the bracketing rows,
    starts pooled); the theory value is found by bisection on the V = inf branch and on the
    e1/V-corrected one (``theory_compare``). A horizontal shift at fixed m is insensitive to
    the finite-size rounding near m = 0.
    """
    from .theory_compare import realised_model, theory_point

    pts = {}
    for r in rows:
        pts.setdefault(r["alpha_effective"], []).append(r["m_mean"])
    a = np.array(sorted(pts))
    mm = np.array([np.mean(pts[x]) for x in a])
    idx = np.nonzero((mm[:-1] < m_star) & (mm[1:] >= m_star))[0]
    if not len(idx):
        return None
    i = idx[0]
    a_mc = a[i] + (m_star - mm[i]) * (a[i + 1] - a[i]) / (mm[i + 1] - mm[i])

    def bisect(f, lo, hi):
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if f(mid) < m_star else (lo, mid)
        return 0.5 * (lo + hi)

    rm = realised_model(model, a_mc)
    from theory.landau import critical_alpha

    ac = critical_alpha(rm.T, rm.nu, rm.sigma2)
    m_inf = lambda x: theory_point(rm, x, 1.0).m
    m_cor = lambda x: theory_point(rm, x, 1.0, V=model.V).m_corrected
    a_inf = bisect(m_inf, ac * (1 + 1e-9), 3 * ac)
    a_cor = bisect(m_cor, 0.5 * ac, 3 * ac)
    return {"m_star": m_star, "alpha_mc": float(a_mc), "alpha_theory_inf": float(a_inf), "alpha_theory_V": float(a_cor),
            "lag_inf": float(a_mc - a_inf), "lag_V": float(a_mc - a_cor)}


def copy_start_scales(model: Model, alphas):
    """Per-alpha scale of the copy start: the V = inf copy branch's ``s`` (softmax) or ``m`` (linear).

    Where the copy branch does not exist at that alpha (below its spinodal) the copy-branch end
    point (its fold) is used for softmax, and ``m = 1`` for linear attention. Starting at the
    branch rather than far above it keeps the first HMC trajectories from converting the
    potential drop into enough momentum to cross the barrier.
    """
    from numerics.kernels import Kernel

    from .theory_compare import _solve_covering, realised_model

    out = []
    for a in alphas:
        rm = realised_model(model, a)
        k = Kernel(rm)
        res = _solve_covering(rm, rm.alpha)
        stable = [b for b in res.branches if b.stable and b.kind == "smooth"]
        top = max(stable, key=lambda b: float(b.m.max()))  # the copy / ordered branch
        if top.covers(rm.alpha):
            x = top.x_at(k, rm.alpha)
        elif model.attention == "softmax":
            x = float(top.x[0]) if rm.alpha < top.alpha_min else float(top.x[-1])
        else:
            x = 1.0
        out.append(float(x) if model.attention == "softmax" else float(np.sqrt(max(x, 0.0))) or 1.0)
    return out


def verify_main(args) -> int:
    import torch

    from .sweep import compare_starts, run_sweep, save_sweep

    torch.set_num_threads(args.threads)
    model = Model(T=args.T, nu=args.nu, sigma2=args.sigma2, kappa=args.kappa, attention=args.attention or "softmax",
                  prior=args.prior, objective="posterior", V=args.V)
    alphas = _alphas_arg(args, model)
    if args.iters < 10:
        raise ParameterError("iters", args.iters, "must be >= 10")
    warmup = args.warmup if args.warmup is not None else max(100, args.iters // 2)
    device = _device(args.device)
    t0 = time.perf_counter()
    if args.load:
        from .sweep import load_sweep

        rows = load_sweep(args.load)
        rec = rows[0]["params"]["model"]
        model = Model.from_dict(rec)
        alphas = sorted({r["alpha"] for r in rows})
    else:
        bar = ProgressBar(f"HMC {model.attention} V={model.V} ({len(alphas)} alphas x 2 starts)", quiet=args.json)
        ckpt = args.checkpoint or None
        s0 = copy_start_scales(model, alphas) if args.copy_start == "theory" else None
        rows = run_sweep(model, alphas, iters=args.iters, warmup=warmup, seed=args.seed, device=device,
                         n_leapfrog=args.leapfrog, progress=bar, checkpoint=ckpt,
                         checkpoint_every=args.checkpoint_every, s0=s0)
    wall = time.perf_counter() - t0
    annotate_with_theory(rows, model)
    outdir = Path(args.outdir)
    prefix = str(outdir / f"verify_{model.attention}_V{model.V}_seed{args.seed}")
    jpath, npath = save_sweep(rows, prefix)
    win = predicted_window(model, alphas)  # a dense scan in alpha: computed once for figure and summary
    png = plot_verify(rows, model, prefix + ".png", window=win)
    if args.json:
        keys = ("alpha", "alpha_effective", "start", "m_mean", "m_err", "r_mean", "r_err", "acceptance", "rhat",
                "theory_branch", "theory_m", "theory_m_corrected", "deviation", "eps_mean", "eps_theory")
        print(json.dumps([{k: r.get(k) for k in keys} for r in rows]))
        return 0
    print(format_verify_table(rows))
    cmp = compare_starts(rows)
    pairs = [c["alpha"] for c in cmp if c["disagree"]]
    print(f"start-dependent alphas (|dm| > 4 sigma or R-hat between starts > 1.1): {pairs or 'none'}")
    if model.attention == "linear":
        lag = linear_lag(rows, model)
        if lag is not None:
            print(f"onset lag at <|m|> = {lag['m_star']}: MC reaches it at alpha = {lag['alpha_mc']:.3f}, theory at "
                  f"{lag['alpha_theory_inf']:.3f} (V = inf) / {lag['alpha_theory_V']:.3f} (e1/V): lag "
                  f"{lag['lag_inf']:+.3f} / {lag['lag_V']:+.3f}")
    if model.attention == "softmax":
        from .theory_compare import realised_model

        t = _inf_transition(realised_model(model, float(np.median(alphas))))
        print(f"predicted spinodal window: V=inf [{t.alpha_spinodal_low:.3f}, {t.alpha_spinodal_high:.3f}]"
              + (f"; with e1/V at V={model.V} [{win[0]:.3f}, {win[1]:.3f}]" if win and win[1] else ""))
        if win and win[1]:
            outside = [a for a in pairs if not (win[0] <= a <= win[1])]
            print(f"start-dependent alphas outside the finite-V window: {outside or 'none'}")
    print(f"wall time {wall:.1f} s; wrote {jpath}, {npath}, {png}")
    return 0


def add_verify_parsers(sub, model_args, cmd_verify, cmd_train):
    p = sub.add_parser("verify", help="HMC over (Q, K) with W integrated out, two starts per alpha, vs the theory")
    model_args(p, attention_default="softmax")
    p.set_defaults(objective="posterior")
    p.add_argument("--V", type=int, default=16, help="vocabulary size (N = round(nu V^2), P = round(alpha kappa V^2/T))")
    p.add_argument("--alphas", default=None,
                   help="comma-separated alphas (default: around the theory's transition; 20..30 for the default softmax)")
    p.add_argument("--iters", type=int, default=3000, help="post-warm-up HMC iterations")
    p.add_argument("--warmup", type=int, default=None, help="warm-up iterations (default iters/2, >= 100)")
    p.add_argument("--leapfrog", type=int, default=5, help="leapfrog steps per iteration (5: eps*L ~ pi/2 avoids the Q,K -> -Q,-K resonance)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--outdir", default="copyhead-output")
    p.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    p.add_argument("--copy-start", choices=("theory", "fixed"), default="theory",
                   help="copy-start scores at the theory's copy branch (default) or at s0 = log V + 3 (fixed)")
    p.add_argument("--checkpoint", default=None, metavar="PREFIX",
                   help="save the sampler state to PREFIX.ckpt.pt every --checkpoint-every iterations and resume "
                        "from it if it exists (bit-identical to an uninterrupted run)")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--load", default=None, metavar="PREFIX",
                   help="re-analyse a saved sweep (PREFIX.json + PREFIX.npz) instead of sampling")
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("switching", help="long chains at small V: bimodal m, copy time fraction, alpha_c(V)")
    model_args(p, attention_choices=("softmax",), attention_default="softmax")
    p.set_defaults(objective="posterior")
    p.add_argument("--V", type=int, default=8)
    p.add_argument("--alphas", default="25,26,27,28,29")
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4, help="chains per alpha (half from each start)")
    p.add_argument("--leapfrog", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--outdir", default="copyhead-output")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=switching_main)
    try:
        from .train_cli import add_train_parser
    except ImportError:
        return
    add_train_parser(sub, model_args, cmd_train)


def train_main(args) -> int:
    from .train_cli import train_main as _tm

    return _tm(args)


def switching_main(args) -> int:
    import torch

    from .sweep import save_sweep
    from .switching import plot_switching, switching_study

    torch.set_num_threads(args.threads)
    model = Model(T=args.T, nu=args.nu, sigma2=args.sigma2, kappa=args.kappa, attention="softmax",
                  prior=args.prior, objective="posterior", V=args.V)
    alphas = _floats("alphas", args.alphas)
    if args.chains < 2:
        raise ParameterError("chains", args.chains, "must be >= 2")
    bar = ProgressBar(f"switching V={model.V}", quiet=args.json)
    res, rows = switching_study(model, alphas, args.iters, args.warmup, args.seed, chains=args.chains,
                                device=_device(args.device), n_leapfrog=args.leapfrog, progress=bar)
    outdir = Path(args.outdir)
    prefix = str(outdir / f"switching_V{model.V}_seed{args.seed}")
    save_sweep(rows, prefix)
    png = plot_switching(res, prefix + ".png")
    summary = {"V": res.V, "alphas": res.alphas, "copy_fraction": res.fractions, "copy_fraction_err": res.fraction_err,
               "switches": res.n_switches, "m_threshold": res.m_threshold, "alpha_c_mc": res.alpha_c,
               "alpha_c_mc_err": res.alpha_c_err, "alpha_c_theory_corrected": res.alpha_c_theory_V,
               "alpha_c_theory_one_loop": res.alpha_c_one_loop, "alpha_c_theory_inf": res.alpha_c_theory_inf}
    from numerics.phase_diagram import save_json

    save_json(summary, prefix + "_summary.json")
    if args.json:
        print(json.dumps(summary, default=float))
        return 0
    print(f"{'alpha':>7s} {'f_copy':>8s} {'+-':>6s} {'switches':>9s}")
    for a, f, e, s in zip(res.alphas, res.fractions, res.fraction_err, res.n_switches):
        print(f"{a:7.3f} {f:8.3f} {e:6.3f} {s:9d}")
    ac = f"{res.alpha_c:.3f}" + (f" +- {res.alpha_c_err:.3f}" if res.alpha_c_err else "") if res.alpha_c else "not bracketed"
    print(f"alpha_c(V={res.V}) from time fractions: {ac}; theory F - e1/V: "
          f"{res.alpha_c_theory_V if res.alpha_c_theory_V is None else round(res.alpha_c_theory_V, 3)}; "
          f"one loop: {res.alpha_c_one_loop if res.alpha_c_one_loop is None else round(res.alpha_c_one_loop, 3)}; "
          f"V = inf: {res.alpha_c_theory_inf:.3f}")
    print(f"wrote {prefix}.json, {prefix}.npz, {prefix}_summary.json, {png}")
    return 0
