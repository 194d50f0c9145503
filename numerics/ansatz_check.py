"""Check of the symmetric softmax ansatz by unconstrained minimisation over all ``T^2`` scores.

``F(S) = nu sum_i j(sigma_i(S)) - e(m(A), r(A))``, ``A = softmax_row(S)`` (THEORY.md §3) is
minimised with L-BFGS (analytic gradient: ``dJ/dS = U diag(j'(sigma)) V^T``, back-propagation
of ``e`` through the row softmax) from many random and structured starts. For each local
minimum found we report its distance to the ansatz family ``s (J - 11^T/T)`` (after removing row
means, which softmax ignores) and its free energy relative to the ansatz's global minimum.
The ansatz is confirmed when no start finds a lower ``F`` than the ansatz (``best_gap >= -tol``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from copyhead.theory.energy import energy_gradient_numeric, energy_numeric
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.order_parameters import copy_weight, self_overlap, shift_matrix, softmax_rows
from copyhead.theory.prior import matrix_rate, matrix_rate_grad

from .solve import solve


def full_free_energy(S, model: Model, alpha: float):
    """``F(S)`` and its gradient for the full ``T x T`` score matrix (posterior or MAP-gaussian)."""
    T = model.T
    S = np.asarray(S, float).reshape(T, T)
    A = softmax_rows(S)
    m, r = copy_weight(A), self_overlap(A)
    e = energy_numeric(m, r, alpha, model.sigma2, model.objective)
    de_dm, de_dr = energy_gradient_numeric(m, r, alpha, model.sigma2, model.objective)
    F = model.nu * matrix_rate(S, model.prior, model.objective) - e
    # dF/dA = -(de/dm dm/dA + de/dr dr/dA); dm/dA = J/T, dr/dA = 2A/T
    GA = -(de_dm * shift_matrix(T) / T + de_dr * 2.0 * A / T)
    GS = A * (GA - np.sum(A * GA, axis=1, keepdims=True))
    grad = model.nu * matrix_rate_grad(S, model.prior, model.objective) + GS
    return float(F), grad.ravel()


@dataclass
class AnsatzCheck:
    alpha: float
    F_ansatz: float  # global minimum of the reduced F_soft(s)
    s_ansatz: float
    runs: list  # per start: dict(start, F, gap, distance, s_fit, converged)
    best_gap: float  # min over runs of F_run - F_ansatz (>= -tol confirms the ansatz)
    worst_distance_at_best: float  # distance to the ansatz family of the lowest minimum found

    def summary(self) -> str:
        n_conv = sum(r["converged"] for r in self.runs)
        return (
            f"alpha={self.alpha:.6g}: ansatz F*={self.F_ansatz:.10f} (s*={self.s_ansatz:.6f}); "
            f"{len(self.runs)} starts ({n_conv} converged); best F - F* = {self.best_gap:.3e}; "
            f"distance of the best minimum to the ansatz family {self.worst_distance_at_best:.2e}; "
            f"max distance over all minima {max(r['distance'] for r in self.runs):.2e}"
        )


def _ansatz_distance(S, T):
    Jc = shift_matrix(T) - 1.0 / T
    Sc = S - S.mean(axis=1, keepdims=True)
    s = float(np.sum(Sc * Jc) / np.sum(Jc * Jc))
    return float(np.linalg.norm(Sc - s * Jc) / np.linalg.norm(Jc)), s


def check_softmax_ansatz(model: Model, alpha: float, n_random: int = 24, seed: int = 0) -> AnsatzCheck:
    """Minimise ``F(S)`` over all scores from random and structured starts; compare with the ansatz."""
    if model.attention != "softmax":
        raise ParameterError("attention", model.attention, "the ansatz check is for softmax attention")
    if model.objective == "map" and model.prior == "qk":
        raise ParameterError("objective", "map", "the nuclear norm is not smooth; check the posterior")
    T = model.T
    rng = np.random.default_rng(seed)
    res = solve(model)
    from .kernels import Kernel

    k = Kernel(model)
    cands = [(b.F_at(k, alpha), b.x_at(k, alpha)) for b in res.stable_branches() if b.covers(alpha)]
    if not cands:
        lo, hi = res.alpha_range
        raise ParameterError("alpha", alpha, f"outside the solved window [{lo:.6g}, {hi:.6g}]")
    F_ans, s_ans = min(cands)
    J = shift_matrix(T)
    starts = []
    for s0 in (0.0, 1.0, 2.5, 4.0, 6.0, 9.0):
        starts.append((f"ansatz s={s0}", s0 * (J - 1.0 / T)))
    for p in (0, 2, T // 2):  # other permutation patterns (identity, shift by 2, ...)
        starts.append((f"shift-{p} pattern", 5.0 * (np.roll(np.eye(T), -p, axis=1) - 1.0 / T)))
    for i in range(n_random):
        scale = (0.3, 1.0, 3.0, 6.0)[i % 4]
        starts.append((f"random scale {scale}", scale * rng.standard_normal((T, T))))
    runs = []
    for name, S0 in starts:
        out = minimize(full_free_energy, S0.ravel(), args=(model, alpha), jac=True, method="L-BFGS-B",
                       options={"maxiter": 5000, "gtol": 1e-9, "ftol": 1e-15})
        S = out.x.reshape(T, T)
        dist, s_fit = _ansatz_distance(S, T)
        runs.append(dict(start=name, F=float(out.fun), gap=float(out.fun - F_ans), distance=dist, s_fit=s_fit,
                         m=float(copy_weight(softmax_rows(S))), converged=bool(out.success),
                         grad_norm=float(np.linalg.norm(out.jac))))
    best = min(runs, key=lambda r: r["F"])
    return AnsatzCheck(alpha, float(F_ans), float(s_ans), runs, best["gap"], best["distance"])
