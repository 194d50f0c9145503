"""Monte Carlo and training studies of the window copier against the V = inf theory.

``copyhead window-study hmc --V 16 --alphas 20,25,28,35``
    HMC over all heads' ``(Q_h, K_h)`` with the readouts integrated exactly
    (:class:`verification.window.WindowPosterior`; sampler: the generic
    :func:`copyhead.verification.hmc.hmc_sample`), one data set per alpha shared by two chains, one
    from a prior draw ("uniform" start) and one on the theory's specialised branch ("specialised"
    start); all chains batched. Table of the posterior means of the specialisation ``q = sigma_K(M)``
    and the copy weights ``m_hk`` (MCSE from ArviZ), acceptance, and the V = inf theory on the stable
    branches at that alpha.
``copyhead window-study adam --V 16 --alphas 20,30,40,60``
    Adam on the full network (MAP: weight decay = priors) from a symmetric start (all heads equal,
    plus a perturbation of relative size ``--eps``): does training break the head symmetry?

Outputs (``--outdir``): JSON with provenance (seeds, wall time), a figure of ``q`` against
iteration / step. Seeds: ``SeedSequence(seed).spawn(len(alphas) + 1)``: data per alpha, torch.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from copyhead.theory.evidence import data_counts, sample_tokens
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.window_energy import circulant

from .evidence_torch import Counts
from .window import DTYPE, WindowPosterior, map_loss, order_parameters, specialisation


def _seeds(seed: int, n: int):
    children = np.random.SeedSequence(seed).spawn(n + 1)
    to_int = lambda c: int(c.generate_state(1, dtype=np.uint64)[0] % (2**63 - 1))  # noqa: E731
    return [to_int(c) for c in children[:-1]], to_int(children[-1])


def _counts(model: Model, alphas, data_seeds):
    V = model.require_V()
    Gs = [data_counts(sample_tokens(model.replace(alpha=a).P, model.T, V, np.random.default_rng(s)), V)
          for a, s in zip(alphas, data_seeds)]
    return np.stack(Gs)


def theory_states(model: Model, alphas):
    """V = inf stable states at each alpha: ``{alpha: [(phase, F, M, R, q, logits)], ...}`` and the solve."""
    from copyhead.numerics.window_free import WindowFreeEnergy
    from copyhead.numerics.window_solve import solve_window

    base = model.replace(V=None, alpha=None)
    res = solve_window(base, alpha_range=(0.5 * min(alphas), 1.5 * max(alphas)))
    fe = WindowFreeEnergy(base)
    from copyhead.numerics.window_solve import _distinct

    stable = _distinct(fe, res.stable_branches(), fe.symmetry_matrices())  # mirror images once
    out = {}
    for a in alphas:
        rows = []
        for b in stable:
            if b.covers(a):
                x = b.x_at(fe, a)
                M, R = fe.order_parameters(x)
                rows.append((b.label, fe.value(x, a), M, R, _q(fe, M), fe.logits(x)))
        out[a] = sorted(rows, key=lambda r: r[1])
    return out, res, fe


def _q(fe, M):
    from copyhead.numerics.window_branches import specialisation as q_np

    return q_np(fe, M)


def _specialised_logits(res, fe, alpha):
    """Offset logits of the theory's specialised (copying) stable branch nearest to ``alpha``."""
    cands = [b for b in res.stable_branches() if b.label in ("specialised", "copying")]
    if not cands:
        raise ParameterError("alphas", alpha, "the theory has no specialised branch in the solved window")
    b = min(cands, key=lambda b: 0.0 if b.covers(alpha) else min(abs(alpha - b.alpha_min), abs(alpha - b.alpha_max)))
    a = min(max(alpha, b.alpha_min), b.alpha_max)
    return fe.logits(b.x_at(fe, a))


def _mcse(x: np.ndarray) -> float:
    import arviz as az

    return float(np.ravel(az.mcse(np.asarray(x, float)[None, :]))[0])


def run_hmc(model: Model, alphas, iters: int = 2000, warmup: int = 1000, n_leapfrog: int = 5, seed: int = 0,
            starts=("uniform", "specialised"), progress=None) -> dict:
    """The HMC study (module docstring); returns a JSON-ready dict with per-chain rows."""
    for s in starts:
        if s not in ("uniform", "specialised"):
            raise ParameterError("starts", s, "must be uniform or specialised")
    t0 = time.perf_counter()
    alphas = [float(a) for a in alphas]
    data_seeds, torch_seed = _seeds(seed, len(alphas))
    counts = Counts(_counts(model, alphas, data_seeds))
    ns = len(starts)
    B = ns * len(alphas)
    target = WindowPosterior(model, counts, B=B)
    theory, res, fe = theory_states(model, alphas)
    gen = torch.Generator().manual_seed(torch_seed)
    x0 = target.prior_draw(gen)
    S0 = np.zeros((B, model.heads, model.T, model.T))
    for ia, a in enumerate(alphas):
        for js, s in enumerate(starts):
            if s == "specialised":
                S0[ia * ns + js] = circulant(_specialised_logits(res, fe, a))
    xs = target.scores_draw(S0, gen)
    is_spec = torch.tensor([starts[b % ns] == "specialised" for b in range(B)])
    x0 = torch.where(is_spec[:, None], xs, x0)
    from .hmc import hmc_sample

    out = hmc_sample(target, x0, iters, warmup, n_leapfrog=n_leapfrog, observe=target.observe,
                     observable_names=target.observable_names, generator=gen, progress=progress,
                     progress_every=max(1, (iters + warmup) // 200))
    rows = []
    names = target.observable_names
    mnames = [n for n in names if n.startswith("m_")]
    for b in range(B):
        ia, js = divmod(b, ns)
        q = out.samples("q")[:, b]
        row = {"alpha": alphas[ia], "alpha_effective": model.replace(alpha=alphas[ia]).alpha_effective,
               "start": starts[js], "q_mean": float(q.mean()), "q_mcse": _mcse(q),
               "q_final": float(q[-1]), "q_first": float(out.traces["q"][0, b]),
               "M_mean": [[float(out.samples(f"m_{h + 1}{k + 1}")[:, b].mean()) for k in range(model.parents)]
                          for h in range(model.heads)],
               "acceptance": float(out.acceptance[b]), "divergences": int(out.divergences[b]),
               "theory": [{"phase": lab, "F": F, "q": qv, "M": M.tolist()} for lab, F, M, R, qv, _ in theory[alphas[ia]]]}
        row["m_mcse_max"] = max(_mcse(out.samples(n)[:, b]) for n in mnames)
        rows.append(row)
    wall = time.perf_counter() - t0
    return {"model": model.to_dict(), "alphas": alphas, "starts": list(starts), "iters": iters, "warmup": warmup,
            "n_leapfrog": n_leapfrog, "N": model.N, "P": [model.replace(alpha=a).P for a in alphas],
            "seed": seed, "data_seeds": data_seeds, "torch_seed": torch_seed, "rows": rows,
            "theory_transition": res.transition.to_dict() if res.transition else None,
            "traces": {"q": out.traces["q"].tolist()}, "wall_s": wall,
            "grads_per_second": out.grads_per_second}


def run_adam(model: Model, alphas, steps: int = 3000, lr: float = 0.03, eps: float = 1e-3, init_scale: float = 1.0,
             seed: int = 0, record_every: int = 10) -> dict:
    """Adam on the full network from a symmetric start (module docstring): all heads share one draw of
    ``(Q, K)`` and one readout block, plus independent perturbations of relative size ``eps``."""
    t0 = time.perf_counter()
    alphas = [float(a) for a in alphas]
    data_seeds, torch_seed = _seeds(seed, len(alphas))
    counts = Counts(_counts(model, alphas, data_seeds))
    Rn, H, K, N, T, V = len(alphas), model.heads, model.parents, model.N, model.T, model.require_V()
    gen = torch.Generator().manual_seed(torch_seed)
    rnd = lambda *s: torch.randn(*s, generator=gen, dtype=DTYPE)  # noqa: E731
    Q0, K0 = init_scale * rnd(Rn, 1, N, T), init_scale * rnd(Rn, 1, N, T)
    Q = (Q0 + eps * init_scale * rnd(Rn, H, N, T)).requires_grad_(True)
    Kk = (K0 + eps * init_scale * rnd(Rn, H, N, T)).requires_grad_(True)
    w0 = math.sqrt(model.sigma2 / V) * rnd(Rn, K * V, 1, V)
    W = (w0.expand(Rn, K * V, H, V) + eps * math.sqrt(model.sigma2 / V) * rnd(Rn, K * V, H, V))
    W = W.reshape(Rn, K * V, H * V).clone().requires_grad_(True)
    opt = torch.optim.Adam([Q, Kk, W], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 100.0)
    rec = {"step": [], "q": [], "coverage": [], "loss": []}
    for k in range(steps + 1):
        opt.zero_grad()
        U = map_loss(Q, Kk, W, counts, model)
        if k % record_every == 0 or k == steps:
            with torch.no_grad():
                A = torch.softmax(torch.matmul(Q.transpose(-2, -1), Kk) / N, -1)
                M, _ = order_parameters(A, K)
                rec["step"].append(k)
                rec["q"].append(specialisation(M).tolist())
                rec["coverage"].append(M.amax(dim=1).mean(dim=1).tolist())
                rec["loss"].append((U / V**2).tolist())
        if k == steps:
            break
        U.sum().backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        A = torch.softmax(torch.matmul(Q.transpose(-2, -1), Kk) / N, -1)
        M, R = order_parameters(A, K)
        q = specialisation(M)
    U = map_loss(Q, Kk, W, counts, model)
    gQ, gK, gW = torch.autograd.grad(U.sum(), [Q, Kk, W])
    gnorm = torch.sqrt((gQ**2).sum(dim=(1, 2, 3)) + (gK**2).sum(dim=(1, 2, 3)) + (gW**2).sum(dim=(1, 2)))
    qtr = np.array(rec["q"])
    ctr = np.array(rec["coverage"])
    rows = []
    for i, a in enumerate(alphas):
        # symmetry broken: first recorded step with q > 0.05 (q = 0 for identical heads); copying: first
        # recorded step with coverage (1/K) sum_k max_h m_hk above 2/T (twice the uniform weight)
        brk = np.nonzero(qtr[:, i] > 0.05)[0]
        cop = np.nonzero(ctr[:, i] > 2.0 / T)[0]
        rows.append({"alpha": a, "q_final": float(q[i]), "M_final": M[i].tolist(), "R_final": R[i].tolist(),
                     "loss_per_V2": float(U[i].detach()) / V**2, "grad_norm": float(gnorm[i].detach()),
                     "q_initial": float(qtr[0, i]), "break_step": int(rec["step"][brk[0]]) if len(brk) else None,
                     "copy_step": int(rec["step"][cop[0]]) if len(cop) else None})
    return {"model": model.to_dict(), "alphas": alphas, "steps": steps, "lr": lr, "eps": eps, "init_scale": init_scale,
            "seed": seed, "data_seeds": data_seeds, "torch_seed": torch_seed, "rows": rows,
            "trace": {"step": rec["step"], "q": qtr.tolist(), "coverage": ctr.tolist()},
            "wall_s": time.perf_counter() - t0}


# ----------------------------------------------------------------------------- reporting
def format_hmc(out: dict) -> str:
    lines = [f"window HMC: V={out['model']['V']} N={out['N']} heads={out['model']['heads']} "
             f"parents={out['model']['parents']} iters={out['iters']} warmup={out['warmup']} ({out['wall_s']:.0f} s)",
             f"{'alpha':>7s} {'start':>11s} {'<q>':>8s} {'mcse':>6s} {'q0':>6s} {'acc':>5s}  theory (V=inf): phase q"]
    for r in out["rows"]:
        th = "; ".join(f"{t['phase']} {t['q']:.3f}" for t in r["theory"])
        lines.append(f"{r['alpha']:7.3f} {r['start']:>11s} {r['q_mean']:8.4f} {r['q_mcse']:6.4f} {r['q_first']:6.3f} "
                     f"{r['acceptance']:5.2f}  {th}")
    return "\n".join(lines)


def format_adam(out: dict) -> str:
    lines = [f"window Adam (MAP) from a symmetric start: V={out['model']['V']} eps={out['eps']:g} steps={out['steps']} "
             f"lr={out['lr']:g} ({out['wall_s']:.0f} s)",
             f"{'alpha':>7s} {'q_final':>8s} {'copy_step':>9s} {'break_step':>10s} {'|grad U|':>9s}  M_final"]
    for r in out["rows"]:
        lines.append(f"{r['alpha']:7.3f} {r['q_final']:8.4f} {str(r.get('copy_step')):>9s} {str(r['break_step']):>10s} "
                     f"{r['grad_norm']:9.1e}  {np.round(r['M_final'], 3).tolist()}")
    return "\n".join(lines)


def plot_traces(out: dict, path, kind: str) -> Path:
    from copyhead.numerics.plotting import _plt, save_figure

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if kind == "hmc":
        q = np.array(out["traces"]["q"])
        for b, r in enumerate(out["rows"]):
            ax.plot(q[:, b], lw=0.7, ls="-" if r["start"] == "uniform" else "--",
                    label=f"alpha={r['alpha']:g} {r['start']}")
        ax.axvline(out["warmup"], color="k", lw=0.5)
        ax.set(xlabel="HMC iteration (warm-up left of the line)", ylabel="specialisation $q=\\sigma_K(M)$")
    else:
        st = np.array(out["trace"]["step"])
        q = np.array(out["trace"]["q"])
        cov = np.array(out["trace"].get("coverage", np.full_like(q, np.nan)))
        for i, r in enumerate(out["rows"]):
            line, = ax.plot(st, q[:, i], label=f"alpha={r['alpha']:g}")
            ax.plot(st, cov[:, i], color=line.get_color(), ls=":", lw=1)
        ax.set(xlabel="Adam step", ylabel="specialisation $q=\\sigma_K(M)$ (solid), coverage (dotted)", xscale="log")
    m = out["model"]
    ax.set_title(f"window copier H={m['heads']} K={m['parents']}, V={m['V']}: {kind}", fontsize=10)
    ax.legend(fontsize=6, ncol=2)
    return save_figure(fig, path)
