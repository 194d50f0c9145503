"""Benchmarks of the Monte Carlo verification code (imported by ``benchmarks/run.py``).

* :func:`bench_evidence` -- closed-form evidence + gradient (what HMC evaluates, torch) against the
  naive Gaussian-process evidence with the ``PT x PT`` kernel (``theory.evidence.
  brute_force_log_evidence``, NumPy), at V = 24, T = 8, alpha = 25 (P = 1800): the naive one is
  timed at P = 100, 200, 400, 800 and extrapolated to P = 1800 with a fitted ``a (PT)^3 + b (PT)^2``
  (and with an exact cube from the largest P); both values are checked against each other at the
  small P.
* :func:`bench_hmc` -- log-posterior gradients per second (``PosteriorTarget.value_and_grad``) at
  V = 16, 24, 32 for B = 1, 14, 64 chains (one data set per 2 chains, as in a sweep), the number
  of aten operations per gradient, and the achieved GFLOP/s of the arithmetic model below against
  a measured float64 matmul on this machine.

Everything runs on ONE thread (torch and, where the library can be reached, NumPy's OpenBLAS).

Arithmetic model of one chain-gradient (``dim = 2NT``; forward + backward):

* ``C, D`` contraction ``(2, T^2) x (T^2, V^2)`` per chain: ``4 T^2 V^2`` flop forward and the same
  for the gradient with respect to the coefficients (``G`` is data): ``8 T^2 V^2``;
* scores ``Q^T K / N`` and their gradient: ``6 T^2 N``;
* Cholesky ``V^3/3``, triangular solve ``L^{-1} D`` ``V^3`` (the minimum for the value);
  the analytic backward adds ``cholesky_inverse`` (``2V^3/3``), ``M^{-1} D`` and ``Y Y^T``
  (``2V^3`` each): ``6 V^3`` in all for the dense ``V x V`` block.
"""
from __future__ import annotations

import ctypes
import math
import time
from collections import Counter

import numpy as np
import torch

V_EV, T_EV, ALPHA, SIGMA2, KAPPA = 24, 8, 25.0, 0.1, 1.0
P_NAIVE = (100, 200, 400, 800)
V_HMC = (16, 24, 32)
B_HMC = (1, 14, 64)


# ----------------------------------------------------------------------------- helpers
def _openblas_threads(n=None):
    """Get (and with ``n``, set) NumPy's OpenBLAS thread count; ``None`` if not reachable."""
    try:
        libs = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "openblas" in ln.lower()})
        for path in libs:
            lib = ctypes.CDLL(path)
            for suffix in ("64_", ""):
                for pre in ("scipy_openblas", "openblas"):
                    get = getattr(lib, f"{pre}_get_num_threads{suffix}", None)
                    set_ = getattr(lib, f"{pre}_set_num_threads{suffix}", None)
                    if get is not None and set_ is not None:
                        if n is not None:
                            set_(int(n))
                        return int(get())
    except (OSError, AttributeError):
        pass
    return None


def _matmul_gflops(best_of, n=1024):
    """float64 matmul GFLOP/s on one torch thread (MKL), the machine's practical peak."""
    a = torch.randn(n, n, dtype=torch.float64)
    b = torch.randn(n, n, dtype=torch.float64)
    a @ b
    t = best_of(lambda: a @ b, repeat=5)
    return 2.0 * n ** 3 / t / 1e9


class _OpCounter(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts aten operator calls (forward and backward) under the mode."""

    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


_VIEW_OPS = {"view", "_unsafe_view", "transpose", "t", "select", "slice", "detach", "expand", "unsqueeze",
             "squeeze", "as_strided", "alias", "diagonal", "permute", "unbind", "split", "reshape", "lift_fresh"}


def _count_ops(fn):
    with _OpCounter() as c:
        fn()
    return c.ops


def flops_per_chain(V, T, N):
    """(minimal, implemented) flop of one chain-gradient (module docstring)."""
    contraction = 8.0 * T * T * V * V
    scores = 6.0 * T * T * N
    minimal = contraction + scores + V ** 3 / 3.0 + V ** 3
    implemented = contraction + scores + 6.0 * V ** 3
    return minimal, implemented


def _target(V, T, B, n_sets, seed=0, alpha=ALPHA, model=None):
    from copyhead.theory.evidence import data_counts, sample_tokens
    from copyhead.theory.model import Model
    from copyhead.verification.evidence_torch import Counts, PosteriorTarget

    model = (model or Model()).replace(V=V, T=T, alpha=alpha)
    rng = np.random.default_rng(seed)
    Gs = np.stack([data_counts(sample_tokens(model.P, T, V, rng), V) for _ in range(n_sets)])
    tg = PosteriorTarget(model, Counts(Gs), B=B)
    x = tg.prior_draw(torch.Generator().manual_seed(seed))
    return model, tg, x


# ----------------------------------------------------------------------------- evidence
def bench_evidence(row, best_of):
    from copyhead.theory.evidence import brute_force_log_evidence, data_counts, log_evidence, sample_tokens
    from copyhead.theory.model import Model
    from copyhead.verification import evidence_torch as et

    torch.set_num_threads(1)
    blas = _openblas_threads(1)
    model = Model(T=T_EV, sigma2=SIGMA2, kappa=KAPPA, V=V_EV, alpha=ALPHA)
    P = model.P
    print(f"[evidence] V={V_EV}, T={T_EV}, alpha={ALPHA}, sigma2={SIGMA2}, kappa={KAPPA}: P={P}, PT={P * T_EV}, "
          f"N={model.N}; 1 torch thread, NumPy OpenBLAS threads: {blas if blas is not None else 'default'}")
    _, tg, x = _target(V_EV, T_EV, 1, 1, seed=1, model=model)
    tg.value_and_grad(x)
    t_vg = best_of(lambda: tg.value_and_grad(x), repeat=20, number=5)
    A = et.attention(tg.scores(x), "softmax").detach()
    t_fwd = best_of(lambda: tg.evidence(A), repeat=20, number=5)
    A_np = A[0].numpy()
    G = tg.counts.G[0].numpy()
    t_np = best_of(lambda: log_evidence(A_np, G, SIGMA2, KAPPA), repeat=10, number=5)
    row("closed-form evidence + gradient (torch, B=1), P=1800", t_vg * 1e3, "ms", "",
        f"PosteriorTarget.value_and_grad, dim={tg.dim}; value only: torch {t_fwd * 1e3:.3f} ms, "
        f"NumPy theory.evidence.log_evidence {t_np * 1e3:.3f} ms (cost independent of P once G is counted)")
    t0 = time.perf_counter()
    data_counts(sample_tokens(P, T_EV, V_EV, np.random.default_rng(0)), V_EV)
    row("one-off data counts G (T^2 V^2) for P=1800", (time.perf_counter() - t0) * 1e3, "ms")

    # naive GP evidence at small P (same A), checked against the closed form
    times, diffs = [], []
    for Ps in P_NAIVE:
        tok = sample_tokens(Ps, T_EV, V_EV, np.random.default_rng(Ps))
        Gs = data_counts(tok, V_EV)
        bf = brute_force_log_evidence(A_np, tok, V_EV, SIGMA2, KAPPA)
        cf_np = log_evidence(A_np, Gs, SIGMA2, KAPPA)
        cf_t = float(et.log_evidence(A[0], Gs, SIGMA2, KAPPA))
        diffs.append((Ps, bf, cf_t - bf, cf_np - bf))
        print(f"  P={Ps:4d} (PT={Ps * T_EV}): naive {bf:.10f}, closed-form torch - naive {cf_t - bf:+.2e}, "
              f"NumPy closed form - naive {cf_np - bf:+.2e} (ulp {np.spacing(abs(bf)):.1e})")
        times.append(best_of(lambda: brute_force_log_evidence(A_np, tok, V_EV, SIGMA2, KAPPA),
                             repeat=3 if Ps < 400 else 2))
        row(f"naive PTxPT GP evidence (value only), P={Ps}, PT={Ps * T_EV}", times[-1] * 1e3, "ms")
    rel = max(abs(d[2]) / abs(d[1]) for d in diffs)
    absd = max(max(abs(d[2]), abs(d[3])) for d in diffs)
    row(f"max relative difference closed form vs naive, P={P_NAIVE[0]}..{P_NAIVE[-1]}", rel, "", "< 1e-10",
        f"torch and NumPy closed forms vs theory.evidence.brute_force_log_evidence: max abs diff {absd:.1e} "
        f"(ulp of the value {np.spacing(abs(diffs[-1][1])):.1e})")
    n = np.array(P_NAIVE, float) * T_EV
    tt = np.array(times)
    slope = np.polyfit(np.log(n[-2:]), np.log(tt[-2:]), 1)[0]
    # t = a n^3 + b n^2, least squares in relative error
    coef, *_ = np.linalg.lstsq(np.stack([n ** 3, n ** 2], 1) / tt[:, None], np.ones_like(tt), rcond=None)
    nP = P * T_EV
    t_fit = float(coef[0] * nP ** 3 + coef[1] * nP ** 2)
    t_cube = times[-1] * (P / P_NAIVE[-1]) ** 3
    row(f"naive evidence time scaling exponent (PT={int(n[-2])}..{int(n[-1])})", slope, "", "-> 3",
        "local log-log slope of the measured times (O(PT^2) kernel assembly still visible)")
    row("naive evidence at P=1800 (PT=14400), extrapolated", t_fit, "s", "",
        f"fit a(PT)^3 + b(PT)^2 to P={P_NAIVE[0]}..{P_NAIVE[-1]}: a(PT)^3 = {coef[0] * nP ** 3:.3g} s "
        f"({1 / (3 * coef[0]) / 1e9:.3g} GFLOP/s if all Cholesky); exact cube from P={P_NAIVE[-1]}: {t_cube:.3g} s; "
        f"kernel alone {nP ** 2 * 8 / 1e9:.2f} GB, Cholesky {nP ** 3 / 3 / 1e12:.2f} Tflop")
    row("speed-up at P=1800: naive value / closed-form value+grad", t_fit / t_vg, "x", "",
        f"{t_fit:.3g} s / {t_vg * 1e3:.3g} ms (exact-cube extrapolation: {t_cube / t_vg:.3g}x)")
    row(f"speed-up at P={P_NAIVE[-1]} (both measured): naive value / closed-form value+grad",
        times[-1] / t_vg, "x", "", "closed form includes the gradient, the naive number does not")


# ----------------------------------------------------------------------------- hmc
def bench_hmc(row, best_of):
    from copyhead.verification.hmc import hmc_sample

    torch.set_num_threads(1)
    peak = _matmul_gflops(best_of)
    row("float64 matmul 1024^3, 1 torch thread (MKL)", peak, "GFLOP/s", "", "reference for the GFLOP/s below")
    print("[hmc] log-posterior gradients per second, 1 torch thread, default model (nu=0.5, sigma2=0.1, "
          "softmax, qk), T=8, alpha=25, one data set per 2 chains")
    for V in V_HMC:
        for B in B_HMC:
            n_sets = max(1, B // 2)
            model, tg, x = _target(V, 8, B, n_sets, seed=V + B)
            tg.value_and_grad(x)
            reps = 7 if V * B <= 24 * 14 else 5
            number = max(1, int(round(64 / B)))  # ~64 chain-gradients per timing
            t = best_of(lambda: tg.value_and_grad(x), repeat=reps, number=number)
            fmin, fimp = flops_per_chain(V, 8, model.N)
            gf = fimp * B / t / 1e9
            ops = _count_ops(lambda: tg.value_and_grad(x))
            n_ops = sum(ops.values())
            n_compute = sum(v for k, v in ops.items() if k not in _VIEW_OPS)
            g_bytes = 2 * n_sets * 64 * V * V * 8  # G read in the forward and in the backward contraction
            target = ">= 1e4" if (V == 16 and B > 1) else ""
            row(f"V={V} (N={model.N}, P={model.P}), B={B}: chain-gradients/s", B / t, "1/s", target,
                f"{t * 1e3:.3g} ms/call; {n_ops} aten ops/call ({n_compute} non-view), {n_ops / B:.3g}/chain; "
                f"{gf:.3g} GFLOP/s = {gf / peak:.0%} of matmul (model {fimp / 1e6:.3g} Mflop/chain, minimum "
                f"{fmin / 1e6:.3g}); G streamed {g_bytes / 1e6:.2g} MB/call = {g_bytes / t / 1e9:.3g} GB/s")
            if V == 16 and B == 1:
                top = ", ".join(f"{k} {v}" for k, v in ops.most_common(8))
                print(f"    aten ops per gradient (B=1, V=16): {n_ops}; most frequent: {top}")
    # the whole sampler (leapfrog, Metropolis, observables) at V=16, B=64
    model, tg, x = _target(16, 8, 64, 32, seed=3)
    tg.value_and_grad(x)
    t_vg = best_of(lambda: tg.value_and_grad(x), repeat=7)
    kw = dict(n_leapfrog=5, step_size=0.05, find_initial_step=False, adapt=False,
              observe=tg.observe, observable_names=tg.observable_names, seed=0)
    hmc_sample(tg, x, 2, 0, **kw)
    res = min((hmc_sample(tg, x, 10, 0, **kw) for _ in range(5)), key=lambda r: r.wall_time)
    per_grad = res.wall_time / res.n_grad_evals
    row("hmc_sample V=16, B=64, L=5 (incl. Metropolis, observables)", 64 / per_grad,
        "1/s", ">= 1e4", f"chain-gradients/s, best of 5 runs of {res.n_iter} iterations; "
        f"{per_grad * 1e3:.3g} ms per batched gradient vs {t_vg * 1e3:.3g} ms bare value_and_grad "
        f"(sampler overhead {per_grad / t_vg - 1:.0%})")
