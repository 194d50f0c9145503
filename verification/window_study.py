"""Monte Carlo and training studies of the window copier against the V = inf theory.

``copyhead window-study hmc --V 16 --alphas 20,25,28,35``
    HMC over all heads' ``(Q_h, K_h)`` with the readouts integrated exactly
    (:class:`verification.window.WindowPosterior`; sampler: the generic
    :func:`copyhead.verification.hmc.hmc_sample`), one data set per alpha shared by two chains, one
    from a prior draw ("uniform" start) and one on the theory's ordered state ("ordered" start: the
    lowest-F stable non-uniform V = inf state at that alpha, whatever its phase -- specialised for
    softmax, mixed for linear attention with the qk prior; its phase is ``start_phase``); all chains
    batched. Table of the posterior means of the specialisation ``q = sigma_K(M)``, the alignment
    ``a`` and the copy weights ``m_hk`` (MCSE from ArviZ), acceptance, and the V = inf theory on the
    stable branches at that alpha.
``copyhead window-study adam --V 16 --alphas 20,30,40,60``
    Adam on the full network (MAP: weight decay = priors) from a symmetric start (all heads equal,
    plus a perturbation of relative size ``--eps``): does training break the head symmetry?

Naming of finite-V states, consistent with the solver's phases: ``q = sigma_K(M)`` says whether the
heads' copy patterns span the parents, the alignment ``a`` (:func:`numerics.window_branches.alignment`:
1 aligned with single parents, ``1/sqrt(K)`` equal mixtures) whether they are aligned or rotated, and
``phase`` names the V = inf stationary state (posterior theory, also for Adam; stable or not:
``phase_stable``) nearest to the chain's posterior mean ``M`` (Adam: the final ``M``) modulo the
symmetry group, with that distance ``phase_distance`` (Frobenius norm in ``M``): a finite-V state has
no exact ties, so the solver's rules (:func:`numerics.window_branches.phase_label`) are not applied to
it directly.

Outputs (``--outdir``): JSON with provenance (seeds, wall time), a figure of ``q`` against
iteration / step. Seeds: ``SeedSequence(seed).spawn(len(alphas) + 1)``: data per alpha, torch.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from copyhead.numerics.window_branches import threshold
from copyhead.theory.evidence import data_counts, sample_tokens
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.window_energy import circulant

from .evidence_torch import Counts
from .evidence_torch import attention
from .window import DTYPE, WindowPosterior, alignment, map_loss, order_parameters, specialisation


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


def _a(fe, M):
    from copyhead.numerics.window_branches import alignment as a_np, copy_threshold

    return a_np(M, copy_threshold(fe))


def _finite(v):
    return float(v) if v is not None and math.isfinite(v) else None


ORDERED = ("specialised", "mixed", "copying", "unspecialised", "redundant", "partial")


def _ordered_logits(res, fe, alpha):
    """``(offset logits, phase)`` of the theory's ordered state: the lowest-F stable non-uniform branch at
    ``alpha`` (or, if none covers ``alpha``, the nearest one in alpha)."""
    cands = [b for b in res.stable_branches() if b.label in ORDERED]
    if not cands:
        raise ParameterError("alphas", alpha, "the theory has no ordered (non-uniform) stable branch in the solved window")
    covering = [b for b in cands if b.covers(alpha)]
    if covering:
        b = min(covering, key=lambda b: b.F_at(fe, alpha))
    else:
        b = min(cands, key=lambda b: min(abs(alpha - b.alpha_min), abs(alpha - b.alpha_max)))
    a = min(max(alpha, b.alpha_min), b.alpha_max)
    return fe.logits(b.x_at(fe, a)), b.label


def stationary_states(res, fe, alpha) -> list:
    """Every V = inf stationary state at ``alpha`` (all branches, stable or not): ``[(phase, stable, x)]``."""
    out = []
    for b in res.branches:
        if b.covers(alpha):
            try:
                out.append((b.label, b.stable, b.x_at(fe, alpha)))
            except Exception:  # noqa: BLE001 -- a branch end the interpolation cannot resolve is skipped
                continue
    return out


def nearest_phase(fe, states, M):
    """``(phase, stable, distance)``: the V = inf stationary state (:func:`stationary_states`) nearest to ``M``
    modulo the symmetry group, distance ``min |M - M(S x)|_F`` over the states ``x`` and symmetries ``S``."""
    M = np.asarray(M, float)
    best = (None, None, math.inf)
    syms = fe.symmetry_matrices()
    for lab, stable, x in states:
        d = min(float(np.linalg.norm(M - fe.order_parameters(S @ x)[0])) for S in syms)
        if d < best[2]:
            best = (lab, bool(stable), d)
    return best


def _mcse(x: np.ndarray) -> float:
    import arviz as az

    return float(np.ravel(az.mcse(np.asarray(x, float)[None, :]))[0])


def run_hmc(model: Model, alphas, iters: int = 2000, warmup: int = 1000, n_leapfrog: int = 5, seed: int = 0,
            starts=("uniform", "ordered"), progress=None) -> dict:
    """The HMC study (module docstring); returns a JSON-ready dict with per-chain rows."""
    for s in starts:
        if s not in ("uniform", "ordered"):
            raise ParameterError("starts", s, "must be uniform or ordered")
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
    start_phase = {}
    for ia, a in enumerate(alphas):
        for js, s in enumerate(starts):
            if s == "ordered":
                w, start_phase[ia * ns + js] = _ordered_logits(res, fe, a)
                S0[ia * ns + js] = circulant(w)
    xs = target.scores_draw(S0, gen)
    is_spec = torch.tensor([starts[b % ns] == "ordered" for b in range(B)])
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
        a_draws = out.samples("a")[:, b]
        fin = np.isfinite(a_draws)
        M_mean = [[float(out.samples(f"m_{h + 1}{k + 1}")[:, b].mean()) for k in range(model.parents)]
                  for h in range(model.heads)]
        phase, stable, dist = nearest_phase(fe, stationary_states(res, fe, alphas[ia]), M_mean)
        row = {"alpha": alphas[ia], "alpha_effective": model.replace(alpha=alphas[ia]).alpha_effective,
               "start": starts[js], "start_phase": start_phase.get(b, "prior draw"),
               "q_mean": float(q.mean()), "q_mcse": _mcse(q),
               "q_final": float(q[-1]), "q_first": float(out.traces["q"][0, b]),
               "a_mean": float(a_draws[fin].mean()) if fin.any() else None,
               "a_defined": float(fin.mean()),
               "phase": phase, "phase_stable": stable, "phase_distance": dist,
               "M_mean": M_mean,
               "acceptance": float(out.acceptance[b]), "divergences": int(out.divergences[b]),
               "theory": [{"phase": lab, "F": F, "q": qv, "a": _finite(_a(fe, M)), "M": M.tolist()}
                          for lab, F, M, R, qv, _ in theory[alphas[ia]]]}
        row["m_mcse_max"] = max(_mcse(out.samples(n)[:, b]) for n in mnames)
        rows.append(row)
    wall = time.perf_counter() - t0
    return {"model": _model_dict(model), "alphas": alphas, "starts": list(starts), "iters": iters, "warmup": warmup,
            "n_leapfrog": n_leapfrog, "N": model.N, "P": [model.replace(alpha=a).P for a in alphas],
            "seed": seed, "data_seeds": data_seeds, "torch_seed": torch_seed, "rows": rows,
            "theory_transition": res.transition.to_dict() if res.transition else None,
            "traces": {"q": out.traces["q"].tolist(), "a": out.traces["a"].tolist()}, "wall_s": wall,
            "grads_per_second": out.grads_per_second}


def copy_weights(Q: torch.Tensor, Kk: torch.Tensor, model: Model):
    """``(M, R)`` of the network's attention ``A_h = softmax(Q_h^T K_h / N)`` (or ``Q_h^T K_h / N`` for
    linear attention), batched over replicas: :func:`verification.window.order_parameters`."""
    A = attention(torch.matmul(Q.transpose(-2, -1), Kk) / model.N, model.attention)
    return order_parameters(A, model.parents)


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
    theta = threshold(model.attention == "softmax", T)
    rec = {"step": [], "q": [], "coverage": [], "alignment": [], "loss": []}
    for k in range(steps + 1):
        opt.zero_grad()
        U = map_loss(Q, Kk, W, counts, model)
        if k % record_every == 0 or k == steps:
            with torch.no_grad():
                M, _ = copy_weights(Q, Kk, model)
                rec["step"].append(k)
                rec["q"].append(specialisation(M).tolist())
                rec["coverage"].append(M.abs().amax(dim=1).mean(dim=1).tolist())
                rec["alignment"].append(alignment(M, theta).tolist())
                rec["loss"].append((U / V**2).tolist())
        if k == steps:
            break
        U.sum().backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        M, R = copy_weights(Q, Kk, model)
        q = specialisation(M)
        a_fin = alignment(M, theta)
    _, res, fe = theory_states(model, alphas)
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
        phase, stable, dist = nearest_phase(fe, stationary_states(res, fe, a), M[i].numpy())
        rows.append({"alpha": a, "q_final": float(q[i]), "a_final": _finite(float(a_fin[i])),
                     "phase": phase, "phase_stable": stable, "phase_distance": dist,
                     "M_final": M[i].tolist(), "R_final": R[i].tolist(),
                     "loss_per_V2": float(U[i].detach()) / V**2, "grad_norm": float(gnorm[i].detach()),
                     "q_initial": float(qtr[0, i]), "break_step": int(rec["step"][brk[0]]) if len(brk) else None,
                     "copy_step": int(rec["step"][cop[0]]) if len(cop) else None})
    return {"model": _model_dict(model), "alphas": alphas, "steps": steps, "lr": lr, "eps": eps, "init_scale": init_scale,
            "seed": seed, "data_seeds": data_seeds, "torch_seed": torch_seed, "rows": rows,
            "trace": {"step": rec["step"], "q": qtr.tolist(), "coverage": ctr.tolist(),
                      "alignment": rec["alignment"]},
            "wall_s": time.perf_counter() - t0}


def _model_dict(model) -> dict:
    """``model.to_dict()`` with ``heads`` and ``parents`` always present (``to_dict`` drops them at H = K = 1)."""
    return {**model.to_dict(), "heads": model.heads, "parents": model.parents}


# ----------------------------------------------------------------------------- reporting
def _fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def format_hmc(out: dict) -> str:
    lines = [f"window HMC: V={out['model']['V']} N={out['N']} heads={out['model']['heads']} "
             f"parents={out['model']['parents']} iters={out['iters']} warmup={out['warmup']} ({out['wall_s']:.0f} s)",
             f"{'alpha':>7s} {'start':>8s} {'<q>':>8s} {'mcse':>6s} {'q0':>6s} {'<a>':>6s} {'acc':>5s}  "
             f"{'nearest V=inf state (distance)':32s} theory (V=inf): phase q a"]
    for r in out["rows"]:
        th = "; ".join(f"{t['phase']} {t['q']:.3f} {_fmt(t.get('a'))}" for t in r["theory"])
        near = f"{r['phase']}{'' if r['phase_stable'] else '*'} ({r['phase_distance']:.3f})"
        lines.append(f"{r['alpha']:7.3f} {r['start']:>8s} {r['q_mean']:8.4f} {r['q_mcse']:6.4f} {r['q_first']:6.3f} "
                     f"{_fmt(r.get('a_mean')):>6s} {r['acceptance']:5.2f}  {near:32s} {th}")
    lines.append("q = sigma_K(M) (heads span the parents); a = alignment (1: heads on single parents, "
                 "1/sqrt(K): equal mixtures); start 'ordered' = the theory's lowest-F non-uniform state; * = unstable at V = inf")
    return "\n".join(lines)


def format_adam(out: dict) -> str:
    lines = [f"window Adam (MAP) from a symmetric start: V={out['model']['V']} eps={out['eps']:g} steps={out['steps']} "
             f"lr={out['lr']:g} ({out['wall_s']:.0f} s)",
             f"{'alpha':>7s} {'q_final':>8s} {'a_final':>7s} {'copy_step':>9s} {'break_step':>10s} {'|grad U|':>9s}  "
             f"{'nearest V=inf state (distance)':32s} M_final"]
    for r in out["rows"]:
        near = f"{r['phase']}{'' if r['phase_stable'] else '*'} ({r['phase_distance']:.3f})"
        lines.append(f"{r['alpha']:7.3f} {r['q_final']:8.4f} {_fmt(r.get('a_final')):>7s} {str(r.get('copy_step')):>9s} "
                     f"{str(r['break_step']):>10s} {r['grad_norm']:9.1e}  {near:32s} {np.round(r['M_final'], 3).tolist()}")
    lines.append("q = sigma_K(M); a = alignment (1: heads on single parents, 1/sqrt(K): equal mixtures); nearest state: "
                 "posterior V = inf theory, modulo symmetry (* = unstable there)")
    return "\n".join(lines)


def plot_traces(out: dict, path, kind: str) -> Path:
    from copyhead.numerics.plotting import _plt, save_figure

    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    nan = lambda v: np.array([[np.nan if e is None else e for e in row] for row in v], float)  # noqa: E731
    if kind == "hmc":
        q = np.array(out["traces"]["q"])
        a = nan(out["traces"]["a"]) if "a" in out["traces"] else np.full_like(q, np.nan)
        for b, r in enumerate(out["rows"]):
            ls = "-" if r["start"] == "uniform" else "--"
            line, = ax.plot(q[:, b], lw=0.7, ls=ls, label=f"alpha={r['alpha']:g} {r['start']}")
            ax2.plot(a[:, b], lw=0.7, ls=ls, color=line.get_color())
        for x in (ax, ax2):
            x.axvline(out["warmup"], color="k", lw=0.5)
            x.set(xlabel="HMC iteration (warm-up left of the line)")
        ax.set(ylabel="specialisation $q=\\sigma_K(M)$")
    else:
        st = np.array(out["trace"]["step"])
        q = np.array(out["trace"]["q"])
        cov = np.array(out["trace"].get("coverage", np.full_like(q, np.nan)))
        a = nan(out["trace"]["alignment"]) if "alignment" in out["trace"] else np.full_like(q, np.nan)
        for i, r in enumerate(out["rows"]):
            line, = ax.plot(st, q[:, i], label=f"alpha={r['alpha']:g}")
            ax.plot(st, cov[:, i], color=line.get_color(), ls=":", lw=1)
            ax2.plot(st, a[:, i], color=line.get_color())
        ax.set(xlabel="Adam step", ylabel="specialisation $q=\\sigma_K(M)$ (solid), coverage (dotted)", xscale="log")
        ax2.set(xlabel="Adam step", xscale="log")
    K = out["model"]["parents"]
    ax2.axhline(1.0, color="gray", lw=0.6, ls=":")
    ax2.axhline(1.0 / math.sqrt(K), color="gray", lw=0.6, ls=":")
    ax2.set(ylabel="alignment $a$", ylim=(1.0 / math.sqrt(K) - 0.05, 1.03))
    ax2.text(0.99, 1.0, "aligned (one parent per head)", transform=ax2.get_yaxis_transform(), ha="right",
             va="bottom", fontsize=7, color="gray")
    ax2.text(0.99, 1.0 / math.sqrt(K), "$1/\\sqrt{K}$: equal mixtures (gaps: no head copies)",
             transform=ax2.get_yaxis_transform(), ha="right", va="top", fontsize=7, color="gray")
    m = out["model"]
    fig.suptitle(f"window copier H={m['heads']} K={m['parents']}, {m['attention']}, V={m['V']}: {kind}", fontsize=10)
    ax.legend(fontsize=6, ncol=2)
    return save_figure(fig, path)
