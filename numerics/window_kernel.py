"""Numba kernel of the window copier's reduced free energy (eq. (W4)) and its exact derivatives.

Hand-written closed forms (explicit loops) of the same quantities as the NumPy reference
:meth:`numerics.window_free.WindowFreeEnergy.derivatives_reference` (einsum form); the tests check
the two against each other and against finite differences. With ``P`` the ``H x T`` offset weights,
``X = I + g P P^T``, ``Xi = X^{-1}``, ``Z = Xi M``, ``Zc = Z E^T`` (``Z`` in the parent columns),
``Y = Z Z^T``, ``V = Xi P``, ``S = P^T Xi P``, ``U = Y P``, ``SY = P^T Y P``, ``W = Zc^T P``, the
Hessian of ``E(P) = -e`` over the weights ``(h, t), (h', t')`` is ``(K/2) L2 - (alpha g/2) d2Q`` with

    L2  = 2 g Xi_hh' d_tt' - 2 g^2 (V_ht' V_h't + Xi_hh' S_tt')
    d2Q = 2 Xi_hh' d_tt' [t parent] - 2 g (Zc_ht' V_h't + W_t't Xi_hh' + Zc_h't V_ht' + W_tt' Xi_hh')
          + 2 g^2 (V_h't U_ht' + S_tt' Y_hh' + Xi_hh' SY_tt' + V_ht' U_h't) - 2 g Y_hh' d_tt'

(``derivations/12_window_reduced.py``; the directional derivatives are written out in
:meth:`WindowFreeEnergy.derivatives_reference`).
"""
from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, error_model="numpy")
def window_derivatives(x, alpha, B, Fc, Fs, H, K, nu, sigma2, softmax, qk):
    """``(F, grad, hess, grad_alpha)`` of eq. (W4) at state ``x`` (all derivatives exact)."""
    T = B.shape[0]
    nh = B.shape[1]
    n = H * nh
    # logits w = Y B^T and weights p
    w = np.zeros((H, T))
    for h in range(H):
        for t in range(T):
            acc = 0.0
            for i in range(nh):
                acc += x[h * nh + i] * B[t, i]
            w[h, t] = acc
    p = np.empty((H, T))
    if softmax:
        for h in range(H):
            mx = w[h, 0]
            for t in range(1, T):
                if w[h, t] > mx:
                    mx = w[h, t]
            z = 0.0
            for t in range(T):
                p[h, t] = math.exp(w[h, t] - mx)
                z += p[h, t]
            for t in range(T):
                p[h, t] /= z
    else:
        p[:, :] = w
    F = 0.0
    gw = np.zeros((H, T))
    hw = np.zeros((H, T, H, T))
    # ---- prior: nu sum_j j(rho_j), lambda = (Fc + i Fs) w
    for h in range(H):
        U = np.empty((T, T))
        phi1 = np.empty(T)
        phi2 = np.empty(T)
        for j in range(T):
            a = 0.0
            b = 0.0
            for k in range(T):
                a += Fc[j, k] * w[h, k]
                b += Fs[j, k] * w[h, k]
            rho = math.sqrt(a * a + b * b)
            if qk:
                q = math.sqrt(1.0 + 4.0 * rho * rho)
                am1 = 2.0 * rho * rho / (1.0 + q)
                F += nu * (am1 - 0.5 * math.log1p(am1))
                phi1[j] = 2.0 / (1.0 + q)
                phi2[j] = -8.0 / (q * (1.0 + q) ** 2)
            else:
                F += nu * 0.5 * rho * rho
                phi1[j] = 1.0
                phi2[j] = 0.0
            for k in range(T):
                U[j, k] = a * Fc[j, k] + b * Fs[j, k]
                gw[h, k] += nu * phi1[j] * U[j, k]
        for k in range(T):
            for l in range(T):
                acc = 0.0
                for j in range(T):
                    acc += phi1[j] * (Fc[j, k] * Fc[j, l] + Fs[j, k] * Fs[j, l]) + phi2[j] * U[j, k] * U[j, l]
                hw[h, k, h, l] += nu * acc
    # ---- energy E(P) = (K/2) logdet X + (alpha/2)(K - g tr(M^T Xi M))
    g = sigma2 * alpha
    R = np.zeros((H, H))
    for h in range(H):
        for h2 in range(H):
            acc = 0.0
            for t in range(T):
                acc += p[h, t] * p[h2, t]
            R[h, h2] = acc
    X = np.eye(H) + g * R
    sign, logdet = np.linalg.slogdet(X)
    Xi = np.linalg.inv(X)
    Zc = np.zeros((H, T))  # Z = Xi M placed in the parent columns
    for h in range(H):
        for k in range(1, K + 1):
            acc = 0.0
            for h2 in range(H):
                acc += Xi[h, h2] * p[h2, k]
            Zc[h, k] = acc
    Q = 0.0
    for h in range(H):
        for k in range(1, K + 1):
            Q += p[h, k] * Zc[h, k]
    F += 0.5 * K * logdet + 0.5 * alpha * (K - g * Q)
    Y = Zc @ Zc.T
    V = Xi @ p
    S = p.T @ V
    Up = Y @ p
    SY = p.T @ Up
    W = Zc.T @ p  # W[t', t] = Zc[:, t'] . p_t
    XiR = Xi @ R
    XiRXi = XiR @ Xi
    XiRZ = XiR @ Zc
    G = K * g * V - alpha * g * Zc + alpha * g * g * Up  # dE/dP
    Ga = (K * sigma2 * V - K * g * sigma2 * (XiRXi @ p) - 2.0 * alpha * sigma2 * Zc + alpha * g * sigma2 * XiRZ
          + 3.0 * sigma2 * sigma2 * alpha * alpha * Up - alpha * g * g * sigma2 * ((XiRZ @ Zc.T + Zc @ XiRZ.T) @ p))
    HE = np.empty((H, T, H, T))
    for h in range(H):
        for t in range(T):
            for h2 in range(H):
                for t2 in range(T):
                    d = 1.0 if t == t2 else 0.0
                    par = 1.0 if (t == t2 and 1 <= t <= K) else 0.0
                    L2 = 2.0 * g * Xi[h, h2] * d - 2.0 * g * g * (V[h, t2] * V[h2, t] + Xi[h, h2] * S[t, t2])
                    d2Q = (2.0 * Xi[h, h2] * par
                           - 2.0 * g * (Zc[h, t2] * V[h2, t] + W[t2, t] * Xi[h, h2]
                                        + Zc[h2, t] * V[h, t2] + W[t, t2] * Xi[h, h2])
                           + 2.0 * g * g * (V[h2, t] * Up[h, t2] + S[t, t2] * Y[h, h2] + Xi[h, h2] * SY[t, t2]
                                            + V[h, t2] * Up[h2, t])
                           - 2.0 * g * Y[h, h2] * d)
                    HE[h, t, h2, t2] = 0.5 * K * L2 - 0.5 * alpha * g * d2Q
    # ---- chain rule through the softmax (Jac_h = diag(p_h) - p_h p_h^T)
    gaw = np.zeros((H, T))
    if softmax:
        for h in range(H):
            gp_ = 0.0
            gap_ = 0.0
            for t in range(T):
                gp_ += G[h, t] * p[h, t]
                gap_ += Ga[h, t] * p[h, t]
            for t in range(T):
                gw[h, t] += p[h, t] * (G[h, t] - gp_)
                gaw[h, t] = p[h, t] * (Ga[h, t] - gap_)
        # J HE J: first contract the right index, then the left one
        tmp = np.empty((H, T, H, T))
        for h in range(H):
            for t in range(T):
                for h2 in range(H):
                    s_ = 0.0
                    for b in range(T):
                        s_ += HE[h, t, h2, b] * p[h2, b]
                    for u in range(T):
                        tmp[h, t, h2, u] = p[h2, u] * (HE[h, t, h2, u] - s_)
        for h in range(H):
            for h2 in range(H):
                for u in range(T):
                    s_ = 0.0
                    for a in range(T):
                        s_ += p[h, a] * tmp[h, a, h2, u]
                    for t in range(T):
                        hw[h, t, h2, u] += p[h, t] * (tmp[h, t, h2, u] - s_)
            # second-order softmax term: diag(u) - p u^T - u p^T, u = p (G - G.p)
            gp_ = 0.0
            for t in range(T):
                gp_ += G[h, t] * p[h, t]
            for t in range(T):
                ut = p[h, t] * (G[h, t] - gp_)
                hw[h, t, h, t] += ut
                for u in range(T):
                    uu = p[h, u] * (G[h, u] - gp_)
                    hw[h, t, h, u] -= p[h, t] * uu + ut * p[h, u]
    else:
        for h in range(H):
            for t in range(T):
                gw[h, t] += G[h, t]
                gaw[h, t] = Ga[h, t]
        hw += HE
    # ---- project on the state coordinates
    grad = np.zeros(n)
    grad_alpha = np.zeros(n)
    for h in range(H):
        for i in range(nh):
            a1 = 0.0
            a2 = 0.0
            for t in range(T):
                a1 += gw[h, t] * B[t, i]
                a2 += gaw[h, t] * B[t, i]
            grad[h * nh + i] = a1
            grad_alpha[h * nh + i] = a2
    hess = np.zeros((n, n))
    for h in range(H):
        for h2 in range(H):
            blk = B.T @ np.ascontiguousarray(hw[h, :, h2, :]) @ B
            for i in range(nh):
                for j in range(nh):
                    hess[h * nh + i, h2 * nh + j] = blk[i, j]
    hess = 0.5 * (hess + hess.T)
    return F, grad, hess, grad_alpha
