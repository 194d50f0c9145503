"""Independent checks of the window solver.

* :func:`check_window_ansatz` -- the offset-logit (circulant) ansatz against unconstrained
  minimisation over all ``H T^2`` scores, ``F(S_1..S_H) = nu sum_h J(S_h) - e(M(A), R(A))`` with
  ``J`` from an SVD and ``M, R`` from the full attention matrices (THEORY.md §3 generalised;
  analytic gradient: ``dJ/dS = U diag(j'(sigma)) V^T`` and back-propagation of ``e`` through the
  row softmax), L-BFGS from random, structured (non-circulant) and ansatz starts. The ansatz is
  confirmed when no start ends below the ansatz global minimum and the minima lie on circulants.
* :func:`dense_scan` -- brute force at small state dimension: ``F`` of eq. (W4) on a dense grid of
  the state (no derivatives, no continuation), its grid local minima (lower than all ``3^n - 1``
  neighbours) and the global minimum polished by Nelder-Mead (function values only).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from copyhead.theory.model import Model
from copyhead.theory.order_parameters import shift_matrix, softmax_rows
from copyhead.theory.prior import matrix_rate, matrix_rate_grad
from copyhead.theory.window import window_order_parameters
from copyhead.theory.window_energy import circulant, window_energy, window_energy_gradient

from .window_free import WindowFreeEnergy


def full_window_free_energy(S, model: Model, alpha: float):
    """``F`` and its gradient over all ``H T^2`` scores (softmax or linear attention, posterior)."""
    H, T, K = model.heads, model.T, model.parents
    S = np.asarray(S, float).reshape(H, T, T)
    A = softmax_rows(S) if model.attention == "softmax" else S
    M, R = window_order_parameters(A, K)
    e = window_energy(M, R, alpha, model.sigma2)
    dM, dR = window_energy_gradient(M, R, alpha, model.sigma2)
    F = model.nu * sum(matrix_rate(S[h], model.prior) for h in range(H)) - e
    J = shift_matrix(T)
    Jk = [np.linalg.matrix_power(J, k) for k in range(1, K + 1)]
    GA = np.empty_like(A)
    for h in range(H):
        GA[h] = -(sum(dM[h, k] * Jk[k] for k in range(K)) + 2.0 * np.einsum("g,gts->ts", dR[h], A)) / T
    if model.attention == "softmax":
        GS = A * (GA - np.sum(A * GA, axis=-1, keepdims=True))
    else:
        GS = GA
    grad = GS + model.nu * np.stack([matrix_rate_grad(S[h], model.prior) for h in range(H)])
    return float(F), grad.ravel()


def circulant_distance(S, softmax: bool = True):
    """Relative distance of each head's scores to the circulant (offset-logit) family, after removing
    row means (softmax ignores them); returns ``(distance per head, offset logits (H, T))``."""
    S = np.asarray(S, float)
    H, T, _ = S.shape
    Sc = S - S.mean(axis=-1, keepdims=True) if softmax else S
    t = np.arange(T)
    w = np.stack([np.array([Sc[h, t, (t - k) % T].mean() for k in range(T)]) for h in range(H)])
    C = circulant(w)
    dist = np.linalg.norm(Sc - C, axis=(1, 2)) / np.maximum(np.linalg.norm(Sc, axis=(1, 2)), 1e-12)
    return dist, w


@dataclass
class WindowAnsatzCheck:
    alpha: float
    F_ansatz: float  # global minimum over the stable ansatz branches
    phase_ansatz: str
    runs: list  # per start: start, F, gap, distance (max over heads), converged, grad_norm, phase
    best_gap: float
    distance_at_best: float

    def summary(self) -> str:
        n_conv = sum(r["converged"] for r in self.runs)
        return (f"alpha={self.alpha:.6g}: ansatz F*={self.F_ansatz:.10f} ({self.phase_ansatz}); {len(self.runs)} starts "
                f"({n_conv} converged); best F - F* = {self.best_gap:.3e}; distance of the best minimum to the "
                f"circulant family {self.distance_at_best:.2e}; max distance over all minima "
                f"{max(r['distance'] for r in self.runs):.2e}")


def _structured_starts(model, rng):
    """Non-circulant patterns: each head copies one parent on half of the positions and another parent
    (or nothing) on the rest; plus every head on every single parent."""
    H, T, K = model.heads, model.T, model.parents
    J = shift_matrix(T)
    out = []
    for ks in itertools.product(range(1, K + 1), repeat=H):
        S = np.stack([5.0 * np.linalg.matrix_power(J, k) for k in ks])
        out.append((f"parents {ks}", S))
    S = np.zeros((H, T, T))
    for h in range(H):
        k1, k2 = 1 + h % K, 1 + (h + 1) % K
        rows = rng.permutation(T)
        for i, t in enumerate(rows):
            S[h, t, (t - (k1 if i < T // 2 else k2)) % T] = 5.0
    out.append(("half-and-half rows", S))
    return out


def check_window_ansatz(model: Model, alpha: float, result=None, n_random: int = 12, seed: int = 0,
                        maxiter: int = 4000) -> WindowAnsatzCheck:
    """Minimise ``F`` over all ``H T^2`` scores from many starts and compare with the ansatz (module doc)."""
    from copyhead.theory.model import ParameterError

    from .window_solve import solve_window

    res = result if result is not None else solve_window(model)
    fe = WindowFreeEnergy(model)
    cands = [(b.F_at(fe, alpha), b.x_at(fe, alpha), b.label) for b in res.stable_branches() if b.covers(alpha)]
    if not cands:
        lo, hi = res.alpha_range
        raise ParameterError("alpha", alpha, f"outside the solved window [{lo:.6g}, {hi:.6g}]")
    F_ans, _, lab = min(cands, key=lambda c: c[0])
    rng = np.random.default_rng(seed)
    H, T = model.heads, model.T
    starts = []
    for F_c, x_c, lab_c in cands:  # every stable ansatz state, perturbed off the circulants
        S0 = circulant(fe.logits(x_c))
        starts.append((f"ansatz {lab_c} + noise", S0 + 0.3 * rng.standard_normal(S0.shape)))
    starts += _structured_starts(model, rng)
    for i in range(n_random):
        scale = (0.3, 1.0, 3.0, 6.0)[i % 4] * (1.0 if model.attention == "softmax" else 0.15)
        starts.append((f"random scale {scale:g}", scale * rng.standard_normal((H, T, T))))
    runs = []
    for name, S0 in starts:
        out = minimize(full_window_free_energy, S0.ravel(), args=(model, alpha), jac=True, method="L-BFGS-B",
                       options={"maxiter": maxiter, "gtol": 1e-9, "ftol": 1e-15})
        S = out.x.reshape(H, T, T)
        dist, w = circulant_distance(S, model.attention == "softmax")
        from .window_branches import phase_label

        runs.append(dict(start=name, F=float(out.fun), gap=float(out.fun - F_ans), distance=float(dist.max()),
                         converged=bool(out.success), grad_norm=float(np.linalg.norm(out.jac)),
                         phase=phase_label(fe, fe.state(w))))
    best = min(runs, key=lambda r: r["F"])
    return WindowAnsatzCheck(alpha, float(F_ans), lab, runs, best["gap"], best["distance"])


# ----------------------------------------------------------------------------- dense scan
@dataclass
class DenseScan:
    alpha: float
    F_grid_min: float
    x_grid_min: np.ndarray
    F_polished: float
    x_polished: np.ndarray
    grid_minima: list  # (F, x) of the grid local minima, lowest first
    spacing: float
    polished_minima: list  # (F, x) of every grid local minimum polished by Nelder-Mead, lowest first


def dense_scan(model: Model, alpha: float, half_width: float = 6.0, n: int = 41, chunk: int = 400_000) -> DenseScan:
    """``F`` on the grid ``[-half_width, half_width]^dim`` of the state (``dim = H (T-1)`` for softmax)."""
    fe = WindowFreeEnergy(model)
    dim = fe.n
    if n ** dim > 5e7:
        from copyhead.theory.model import ParameterError

        raise ParameterError("n", n, f"grid of {n}^{dim} points is too large for a dense scan")
    axis = np.linspace(-half_width, half_width, n)
    mesh = np.stack(np.meshgrid(*([axis] * dim), indexing="ij"), axis=-1).reshape(-1, dim)
    F = np.concatenate([fe.value_batch(mesh[i:i + chunk], alpha) for i in range(0, len(mesh), chunk)])
    Fg = F.reshape((n,) * dim)
    # grid local minima: lower than every neighbour (interior points)
    core = tuple(slice(1, n - 1) for _ in range(dim))
    is_min = np.ones(Fg[core].shape, bool)
    for off in itertools.product((-1, 0, 1), repeat=dim):
        if not any(off):
            continue
        sl = tuple(slice(1 + o, n - 1 + o) for o in off)
        is_min &= Fg[core] < Fg[sl]
    idx = np.argwhere(is_min) + 1
    minima = sorted(((float(Fg[tuple(i)]), axis[i]) for i in idx), key=lambda t: t[0])

    def polish(x0):
        out = minimize(lambda z: fe.value(z, alpha), x0, method="Nelder-Mead",
                       options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 40000, "maxfev": 80000})
        return float(out.fun), out.x

    i0 = int(np.argmin(F))
    x0 = mesh[i0]
    Fp, xp = polish(x0)
    polished = sorted((polish(x) for _, x in minima), key=lambda t: t[0])
    return DenseScan(alpha, float(F[i0]), x0, Fp, xp, minima, float(axis[1] - axis[0]), polished)
