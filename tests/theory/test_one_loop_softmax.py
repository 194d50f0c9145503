"""Tests of the one-loop basin free energies for softmax attention (theory/one_loop_softmax.py)."""
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

from copyhead.theory.energy import energy_numeric
from copyhead.theory.finite_size import e1
from copyhead.theory.model import Model
from copyhead.theory.one_loop_softmax import (
    energy_part,
    _symmetric_F,
    basin_log_z,
    log_z_difference,
    prior_hessian,
    softmax_free_energy_V,
    softmax_hessian_V,
    symmetric_minima,
)
from copyhead.theory.order_parameters import copy_weight, self_overlap, shift_matrix, softmax_rows
from copyhead.theory.prior import matrix_rate_grad, rate

warnings.filterwarnings("ignore", category=UserWarning)


def _fd_hessian(fun_grad, x, h=1e-5):
    n = x.size
    H = np.empty((n, n))
    for k in range(n):
        d = np.zeros(n)
        d[k] = h
        H[:, k] = (fun_grad(x + d) - fun_grad(x - d)) / (2 * h)
    return 0.5 * (H + H.T)


@pytest.mark.parametrize("prior", ["qk", "gaussian"])
def test_gradient_and_hessian_match_finite_differences(prior):
    M = Model(T=4, prior=prior)
    rng = np.random.default_rng(3)
    S = 0.7 * rng.normal(size=(4, 4)) + 1.5 * shift_matrix(4)
    x = S.ravel()
    F, g = softmax_free_energy_V(x, M, 22.0, 8)
    h = 1e-6
    gfd = np.array([(softmax_free_energy_V(x + h * e, M, 22.0, 8)[0] - softmax_free_energy_V(x - h * e, M, 22.0, 8)[0])
                    / (2 * h) for e in np.eye(16)])
    assert np.max(np.abs(g - gfd)) < 1e-7
    H = softmax_hessian_V(x, M, 22.0, 8)
    Hfd = _fd_hessian(lambda y: softmax_free_energy_V(y, M, 22.0, 8)[1], x)
    assert np.max(np.abs(H - Hfd)) < 1e-7 * max(1.0, np.abs(H).max())


def test_prior_hessian_regular_at_degenerate_singular_values():
    """Ansatz point: T-1 equal singular values and one zero; analytic Hessian vs FD of dJ/dS."""
    T = 4
    S = 1.3 * (shift_matrix(T) - np.ones((T, T)) / T)
    H = prior_hessian(S, "qk")
    Hfd = _fd_hessian(lambda y: matrix_rate_grad(y.reshape(T, T), "qk").ravel(), S.ravel(), h=1e-6)
    assert np.max(np.abs(H - Hfd)) < 1e-6


def test_free_energy_matches_definition():
    M = Model(T=5)
    S = np.random.default_rng(0).normal(size=(5, 5))
    A = softmax_rows(S)
    sv = np.linalg.svd(S, compute_uv=False)
    ref = M.nu * rate(sv, "qk").sum() - energy_numeric(copy_weight(A), self_overlap(A), 25.0, M.sigma2) \
        - e1(A, 25.0, M.sigma2, M.kappa) / 16
    assert softmax_free_energy_V(S, M, 25.0, 16)[0] == pytest.approx(ref, abs=1e-12)


def test_both_minima_exact_on_ansatz_and_spectrum_positive():
    M = Model()  # T=8, nu=0.5, sigma2=0.1, kappa=1, qk
    out = {w: basin_log_z(M, 27.0, 8, w) for w in ("dis", "copy")}
    for w, b in out.items():
        assert b["eig_min"] > 0.05, w  # positive definite, row-shift directions included
        assert b["distance"] < 1e-5 and b["grad_norm"] < 1e-8
        assert abs(b["F"] - b["F_ansatz"]) < 1e-10
    assert out["dis"]["m"] < 0.3 < 0.4 < out["copy"]["m"]
    # same dimension T^2 in both basins: the (T^2/2) log 2 pi constant cancels in the difference
    d = log_z_difference(M, 27.0, 8)
    d_manual = (-64 * (out["copy"]["F"] - out["dis"]["F"]) + out["copy"]["log_f"] - out["dis"]["log_f"]
                - 0.5 * (out["copy"]["log_det"] - out["dis"]["log_det"]))
    assert d == pytest.approx(d_manual, abs=1e-8)


def test_saddle_only_reproduces_equal_minima_V8():
    """Without loop and f the coexistence is the equal-minima value of F - e1/V (25.90 at V=8)."""
    M = Model()
    f = lambda a: log_z_difference(M, a, 8, prefactor=False, loop=False)
    assert f(25.85) < 0 < f(25.95)
    # the one-loop value (with f) lies near the HMC alpha_c(V=8) = 27.18 +- 0.05
    assert log_z_difference(M, 27.05, 8) < 0 < log_z_difference(M, 27.3, 8)


def test_one_loop_alpha_c_tends_to_V_infinity_coexistence():
    M = Model()

    def dF(a):
        mins = symmetric_minima(M, a, None)
        return _symmetric_F(mins[-1], M, a, None) - _symmetric_F(mins[0], M, a, None)

    a_inf = brentq(dF, 23.5, 24.1, xtol=1e-9)
    assert a_inf == pytest.approx(23.80, abs=0.01)
    # alpha_c(V) - alpha_inf ~ 15/V: at V = 4000 the root lies within a_inf + [0, 0.01]
    V = 4000
    assert log_z_difference(M, a_inf - 1e-3, V) < 0 < log_z_difference(M, a_inf + 0.01, V)


def _exponent_T2(S, M, alpha, V):
    """``-V^2 F_V(S) + log f(S)`` on a stack of 2 x 2 score matrices (independent NumPy code)."""
    sv = np.linalg.svd(S, compute_uv=False)
    A = softmax_rows(S)
    F = M.nu * rate(sv, "qk").sum(-1) - energy_numeric(copy_weight(A), self_overlap(A), alpha, M.sigma2) \
        - e1(A, alpha, M.sigma2, M.kappa) / V
    a = 0.5 * (1 + np.sqrt(1 + 4 * sv * sv))
    logf = (-2.5 * np.log(a).sum(-1) - 0.5 * np.log((a[..., 0] + a[..., 1] - 1) / (a[..., 0] * a[..., 1]))
            - 0.5 * np.log((2 * a - 1) / a**2).sum(-1))
    return -V * V * F + logf


def _quadrature_minus_one_loop(V, alpha=20.0, n=25, L=8.0):
    M = Model(T=2)
    b = basin_log_z(M, alpha, V, "global")
    H = softmax_hessian_V(b["S"], M, alpha, V)
    lam, U = np.linalg.eigh(H)
    assert lam[0] > 0
    u = np.linspace(-L, L, n)
    du = u[1] - u[0]
    G = np.stack(np.meshgrid(u, u, u, u, indexing="ij"), -1).reshape(-1, 4)
    S = b["S"].ravel() + (G / (V * np.sqrt(lam))) @ U.T
    E = _exponent_T2(S.reshape(-1, 2, 2), M, alpha, V)
    mx = E.max()
    log_z = mx + np.log(np.exp(E - mx).sum() * du**4) - np.sum(np.log(V * np.sqrt(lam)))
    return log_z - b["log_z"]


def test_T2_exact_integral_vs_one_loop():
    """T=2: the full 4-D integral of exp(-V^2 F_V + log f) vs the one-loop log Z; error O(1/V^2)."""
    d8, d16 = _quadrature_minus_one_loop(8), _quadrature_minus_one_loop(16)
    assert abs(d8) < 0.06 and abs(d16) < 0.015
    assert 3.0 < d8 / d16 < 4.5  # ~ 1/V^2 (measured: -0.0430, -0.0117)


def _energy_torch_reference(S, alpha, sigma2, kappa, V):
    """Independent torch autodiff version of ``-e - e1/V`` (THEORY.md §3), written from the checkpoint."""
    import torch

    T = S.shape[-1]
    A = torch.softmax(S, dim=-1)
    idx = torch.arange(T)
    m = A[idx, (idx - 1) % T].mean()
    r = (A * A).sum() / T
    g = sigma2 * alpha
    q = 1.0 + g * r
    out = 0.5 * torch.log(q) + 0.5 * alpha * (1.0 + g * (r - m * m)) / q
    a = A.sum(dim=-1)
    abar, abar2 = a.mean(), (a * a).mean()
    B = A.T @ A
    b2 = (B * B).sum() / T
    Jm = torch.roll(torch.eye(T, dtype=S.dtype), -1, dims=1)
    w = ((A @ A.T) * (A @ Jm.T)).sum() / T
    q1 = 1.0 + g * abar2
    mean_part = (0.5 * torch.log(q) - 0.5 * torch.log(q1) - 0.5 * alpha * g * m * m / q
                 + 0.5 * alpha * g * abar * abar / q1)
    fluct = (g * g * b2 / (4.0 * alpha * q * q) + g * r / (2.0 * q) - g * g * m * w / (q * q)
             + g ** 3 * m * m * b2 / (2.0 * q ** 3)) / kappa
    return out - (mean_part + fluct) / V


@pytest.mark.parametrize("seed,T,scale", [(0, 8, 1.3), (1, 4, 3.0), (2, 6, 0.2)])
def test_energy_part_matches_torch_autodiff(seed, T, scale):
    """The NumPy energy part (analytic gradient, central-difference Hessian) equals torch autodiff."""
    import torch

    rng = np.random.default_rng(seed)
    S = rng.normal(size=(T, T)) * scale
    model = Model(T=T, kappa=0.7)
    v, g, H = energy_part(S, model, 24.0, 8, order=2)
    St = torch.tensor(S.ravel(), dtype=torch.float64, requires_grad=True)
    f = lambda x: _energy_torch_reference(x.reshape(T, T), 24.0, model.sigma2, model.kappa, 8)  # noqa: E731
    vt = f(St)
    (gt,) = torch.autograd.grad(vt, St)
    Ht = torch.autograd.functional.hessian(f, St.detach()).numpy()
    assert abs(v - float(vt.detach())) < 1e-13
    assert np.abs(g - gt.numpy()).max() < 1e-13
    assert np.abs(H - Ht).max() < 1e-8 * np.abs(Ht).max()
