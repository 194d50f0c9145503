"""Reduced free energy of the window copier over the heads' offset logits, with exact derivatives.

Ansatz (``derivations/12_window_reduced.py``): every head is positional and translation
invariant, ``S_h = sum_k w_hk J^k`` (one logit per offset ``k = 0..T-1``, shared by all positions),
so ``A_h = sum_k p_hk J^k`` with ``p_h = softmax(w_h)`` (softmax) or ``p_h = w_h`` (linear), and

    m_hk = p_hk (k = 1..K),   r_hh' = sum_k p_hk p_h'k,
    F(w; alpha) = nu sum_h sum_j j(|lambda_hj|) - e(M, R),   lambda_h = FFT(w_h)        (W4)

with ``e`` of eq. (W2) (:mod:`copyhead.theory.window_energy`). Softmax ignores a constant added to
a head's logits, so the state of head ``h`` is ``y_h`` with ``w_h = B y_h`` and ``B`` an orthonormal
basis of the zero-sum logits (``T - 1`` coordinates; ``lambda_h0 = 0`` costs nothing); for linear
attention ``B = I`` (``T`` coordinates). The solver state is ``x = concat_h y_h``.

:meth:`WindowFreeEnergy.derivatives` returns ``F``, the gradient, the exact Hessian and the
alpha-derivative of the gradient in closed form (chain rule through the FFT moduli, the row
softmax and the ``H x H`` matrices ``X = I + g R``, ``Z = X^{-1} M``); the tests compare them
with finite differences, and ``H = K = 1`` with the generated single-head kernels.
Posterior only (the MAP nuclear norm is not differentiable at ``lambda = 0``).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from copyhead.theory.model import Model, ParameterError
from copyhead.theory.prior import rate

from .window_kernel import window_derivatives


def zero_sum_basis(T: int) -> np.ndarray:
    """Orthonormal basis ``(T, T-1)`` of the logits with zero sum (Helmert columns)."""
    B = np.zeros((T, T - 1))
    for i in range(1, T):
        B[:i, i - 1] = 1.0
        B[i, i - 1] = -float(i)
        B[:, i - 1] /= math.sqrt(i * (i + 1))
    return B


def _rate_factors(rho, prior):
    """``phi1 = j'(rho)/rho`` and ``phi2 = (j'' - j'/rho)/rho^2``, smooth at ``rho = 0``."""
    if prior == "gaussian":
        return np.ones_like(rho), np.zeros_like(rho)
    q = np.sqrt(1.0 + 4.0 * rho * rho)
    return 2.0 / (1.0 + q), -8.0 / (q * (1.0 + q) ** 2)


def parent_symmetries(T: int, K: int) -> list:
    """Offset maps ``k -> (u k + c) mod T`` (``u`` a unit mod ``T``) that map the parents ``{1..K}``
    onto themselves, as permutations ``perm`` with ``w'[perm[k]] = w[k]``. They permute the Fourier
    moduli of every head and the columns of ``M``: symmetries of eq. (W4)."""
    parents = set(range(1, K + 1))
    out = []
    for u in range(1, T):
        if math.gcd(u, T) != 1:
            continue
        for c in range(T):
            perm = [(u * k + c) % T for k in range(T)]
            if {perm[k] for k in parents} == parents:
                out.append(tuple(perm))
    return out


class WindowFreeEnergy:
    """``F(x; alpha)`` of eq. (W4) for one window model, with exact first and second derivatives.

    Parameters
    ----------
    model : Model
        ``heads``, ``parents``, ``T``, ``nu``, ``sigma2``, ``attention``, ``prior``; objective
        ``"posterior"``; ``V`` is ignored (``V = inf``).
    """

    def __init__(self, model: Model):
        if not isinstance(model, Model):
            raise ParameterError("model", type(model).__name__, "must be a theory.model.Model")
        if model.objective != "posterior":
            raise ParameterError("objective", model.objective, "the window solver supports the posterior only")
        if model.attention == "linear" and model.prior == "gaussian" and model.heads > 1:
            raise ParameterError("prior", model.prior, "linear attention with the gaussian prior is invariant under "
                                 "rotations of the heads (O(H)): its ordered states form a continuum that the branch "
                                 "solver does not handle; use the qk prior")
        self.model = model
        self.H, self.K, self.T = model.heads, model.parents, model.T
        self.nu, self.sigma2 = model.nu, model.sigma2
        self.softmax = model.attention == "softmax"
        self.prior = model.prior
        T = self.T
        self.B = zero_sum_basis(T) if self.softmax else np.eye(T)
        self.nh = self.B.shape[1]
        self.n = self.H * self.nh
        k = np.arange(T)
        ang = 2.0 * np.pi * np.outer(k, k) / T
        self.Fc, self.Fs = np.cos(ang), -np.sin(ang)  # lambda_j = sum_k (Fc + i Fs)_jk w_k (the FFT)
        self.B = np.ascontiguousarray(self.B)
        self.E = np.zeros((T, self.K))
        self.E[1:self.K + 1, :] = np.eye(self.K)

    # ------------------------------------------------------------------ state <-> observables
    def logits(self, x) -> np.ndarray:
        """Offset logits (or linear weights) ``w`` of shape ``(H, T)``."""
        return np.asarray(x, float).reshape(self.H, self.nh) @ self.B.T

    def state(self, w) -> np.ndarray:
        """Inverse of :meth:`logits` (softmax: the row means are removed)."""
        w = np.asarray(w, float).reshape(self.H, self.T)
        return (w @ self.B).ravel()

    def weights(self, x) -> np.ndarray:
        """Attention weights per offset ``p`` ``(H, T)``: ``A_h = sum_k p_hk J^k``."""
        w = self.logits(x)
        if not self.softmax:
            return w
        w = w - w.max(axis=1, keepdims=True)
        p = np.exp(w)
        return p / p.sum(axis=1, keepdims=True)

    def order_parameters(self, x):
        """``(M, R)``: ``M = p[:, 1:K+1]`` (``H x K``), ``R = p p^T`` (``H x H``)."""
        p = self.weights(x)
        return p[:, 1:self.K + 1].copy(), p @ p.T

    def attention_matrices(self, x) -> np.ndarray:
        """``A_h`` ``(H, T, T)`` of the state (circulant)."""
        from copyhead.theory.window_energy import circulant

        return circulant(self.weights(x))

    # ------------------------------------------------------------------ free energy
    def _prior_value(self, w):
        rho = np.abs(np.fft.fft(w, axis=-1))
        return float(self.nu * np.sum(rate(rho, self.prior)))

    def _energy_terms(self, p, alpha):
        g = self.sigma2 * alpha
        H, K = self.H, self.K
        M = p[:, 1:K + 1]
        R = p @ p.T
        X = np.eye(H) + g * R
        sign, logdet = np.linalg.slogdet(X)
        Xi = np.linalg.inv(X)
        Z = Xi @ M
        Emin = 0.5 * K * logdet + 0.5 * alpha * (K - g * np.sum(M * Z))  # -e(M, R)
        return g, M, R, X, Xi, Z, Emin

    def value(self, x, alpha: float) -> float:
        """``F(x; alpha)`` of eq. (W4)."""
        w = self.logits(x)
        p = self.weights(x)
        return self._prior_value(w) + self._energy_terms(p, alpha)[-1]

    def value_batch(self, X, alpha: float) -> np.ndarray:
        """``F`` for many states ``X`` ``(N, n)`` (vectorised; for dense scans)."""
        X = np.asarray(X, float)
        W = X.reshape(-1, self.H, self.nh) @ self.B.T
        if self.softmax:
            Pm = np.exp(W - W.max(axis=-1, keepdims=True))
            Pm /= Pm.sum(axis=-1, keepdims=True)
        else:
            Pm = W
        prior = self.nu * rate(np.abs(np.fft.fft(W, axis=-1)), self.prior).sum(axis=(-2, -1))
        g = self.sigma2 * alpha
        M = Pm[:, :, 1:self.K + 1]
        R = Pm @ Pm.transpose(0, 2, 1)
        Xm = np.eye(self.H) + g * R
        logdet = np.linalg.slogdet(Xm)[1]
        Z = np.linalg.solve(Xm, M)
        return prior + 0.5 * self.K * logdet + 0.5 * alpha * (self.K - g * np.sum(M * Z, axis=(-2, -1)))

    def derivatives(self, x, alpha: float):
        """``(F, grad, hess, grad_alpha)`` in the state coordinates ``x`` (exact closed forms; the Numba
        kernel :func:`numerics.window_kernel.window_derivatives`).

        ``grad_alpha = d grad / d alpha`` (the prior does not depend on alpha).
        """
        return window_derivatives(np.ascontiguousarray(x, dtype=float), float(alpha), self.B, self.Fc, self.Fs,
                                  self.H, self.K, float(self.nu), float(self.sigma2), self.softmax,
                                  self.prior == "qk")

    def derivatives_reference(self, x, alpha: float):
        """NumPy (einsum) version of :meth:`derivatives`: the reference the kernel is tested against.

        Directional derivatives of ``E(P) = (K/2) logdet X + (alpha/2)(K - g Q)`` used here:
        ``dE/dP = K g Xi P - alpha g Z E^T + alpha g^2 Z Z^T P`` and :meth:`_energy_hessian`;
        through the softmax ``grad_w = Jac G`` and
        ``hess_w = Jac HE Jac + diag(u) - p u^T - u p^T``, ``u = p (G - G.p)``.
        """
        H, T, K, nh = self.H, self.T, self.K, self.nh
        w = self.logits(x)
        p = self.weights(x)
        s2 = self.sigma2
        # ---- prior: sum_j j(rho_j), rho = |Fc w + i Fs w|
        a = w @ self.Fc.T
        b = w @ self.Fs.T
        rho = np.hypot(a, b)
        phi1, phi2 = _rate_factors(rho, self.prior)
        Fval = self.nu * float(np.sum(rate(rho, self.prior)))
        gp = self.nu * ((phi1 * a) @ self.Fc + (phi1 * b) @ self.Fs)  # (H, T)
        hp = np.empty((H, T, T))
        for h in range(H):
            U = a[h][:, None] * self.Fc + b[h][:, None] * self.Fs
            hp[h] = self.nu * (self.Fc.T @ (phi1[h][:, None] * self.Fc) + self.Fs.T @ (phi1[h][:, None] * self.Fs)
                               + U.T @ (phi2[h][:, None] * U))
        # ---- energy E(P) = -e(M(P), R(P))
        g, M, R, X, Xi, Z, Emin = self._energy_terms(p, alpha)
        Fval += Emin
        ZE = Z @ self.E.T  # (H, T): Z in the parent columns
        ZZ = Z @ Z.T
        G = K * g * Xi @ p - alpha * g * ZE + alpha * g * g * ZZ @ p  # dE/dP
        XiRXi = Xi @ R @ Xi
        XiRZ = Xi @ R @ Z
        Ga = (K * s2 * Xi @ p - K * g * s2 * XiRXi @ p - 2.0 * alpha * s2 * ZE + alpha * g * s2 * XiRZ @ self.E.T
              + 3.0 * s2 * s2 * alpha * alpha * ZZ @ p - alpha * g * g * s2 * (XiRZ @ Z.T + Z @ XiRZ.T) @ p)
        HE = self._energy_hessian(p, g, alpha, Xi, Z)  # (H, T, H, T)
        # ---- chain rule to the logits
        if self.softmax:
            Jac = np.einsum("ht,tu->htu", p, np.eye(T)) - np.einsum("ht,hu->htu", p, p)
            gw = np.einsum("htu,hu->ht", Jac, G)
            gaw = np.einsum("htu,hu->ht", Jac, Ga)
            hw = np.einsum("hta,hagb,gbu->htgu", Jac, HE, Jac)
            u = p * (G - np.sum(G * p, axis=1, keepdims=True))
            for h in range(H):
                hw[h, :, h, :] += np.diag(u[h]) - np.outer(p[h], u[h]) - np.outer(u[h], p[h])
        else:
            gw, gaw, hw = G, Ga, HE.copy()
        gw = gw + gp
        for h in range(H):
            hw[h, :, h, :] += hp[h]
        Bm = self.B
        grad = (gw @ Bm).ravel()
        grad_alpha = (gaw @ Bm).ravel()
        hess = np.einsum("ta,htgu,ub->hagb", Bm, hw, Bm).reshape(H * nh, H * nh)
        return Fval, grad, 0.5 * (hess + hess.T), grad_alpha

    def _energy_hessian(self, p, g, alpha, Xi, Z):
        """Second derivative of ``E(P) = -e(M(P), R(P))`` over the ``H x T`` weights, ``(H, T, H, T)``.

        With ``dX_a = g (Delta_a P^T + P Delta_a^T)``, ``dM_a = Delta_a E`` for ``Delta_a = e_h e_t^T``:
        ``d2 logdet X = tr(Xi d2X) - tr(Xi dX_a Xi dX_b)`` and
        ``d2 Q = 2 tr(dM_a^T Xi dM_b) - 2 tr(Z^T dX_a Xi dM_b) - 2 tr(Z^T dX_b Xi dM_a)
        + 2 tr(Z^T dX_a Xi dX_b Z) - tr(Z^T d2X Z)`` for ``Q = tr(M^T X^{-1} M)``;
        ``E = (K/2) logdet X + (alpha/2)(K - g Q)``.
        """
        H, T, K = self.H, self.T, self.K
        n = H * T
        eyeH = np.eye(H)
        # dX[h, t] = g (e_h p[:, t]^T + p[:, t] e_h^T)
        dX = g * (np.einsum("hi,tj->htij", eyeH, p.T) + np.einsum("tj,hi->htji", p.T, eyeH))
        dX = dX.reshape(n, H, H)
        dM = np.einsum("hi,tk->htik", eyeH, self.E).reshape(n, H, K)
        XdX = np.einsum("ij,ajk->aik", Xi, dX)  # Xi dX_a
        L2 = -np.einsum("aij,bji->ab", XdX, XdX)
        ZZ = Z @ Z.T
        L2 += 2.0 * g * np.kron(Xi, np.eye(T))  # tr(Xi d2X_ab) = 2 g Xi_hh' delta_tt' 
        A1 = np.einsum("aik,ij,bjk->ab", dM, Xi, dM)
        Y = np.einsum("ik,aij,jl->akl", Z, dX, Xi)  # (Z^T dX_a Xi)  (n, K, H)
        A2 = np.einsum("akh,bhk->ab", Y, dM)
        Wd = np.einsum("aij,jk->aik", dX, Z)  # dX_a Z
        A3 = np.einsum("aik,ij,bjk->ab", Wd, Xi, Wd)
        A4 = 2.0 * g * np.kron(ZZ, np.eye(T))
        d2Q = 2.0 * A1 - 2.0 * (A2 + A2.T) + 2.0 * A3 - A4
        HE = 0.5 * K * L2 - 0.5 * alpha * g * d2Q
        return HE.reshape(H, T, H, T)

    # ------------------------------------------------------------------ symmetries
    def symmetry_matrices(self) -> list:
        """Orthogonal matrices ``(n, n)`` of the symmetry group acting on ``x``: head permutations
        times the offset maps of :func:`parent_symmetries`, and for linear attention also the sign
        flips of single heads (``p_h -> -p_h`` maps ``M -> D M``, ``R -> D R D``, ``D = diag(+-1)``,
        which leaves eq. (W2) and the Fourier moduli unchanged) and, for even ``T``, the modulation
        ``p_hk -> (-1)^k p_hk`` of all heads (``M -> M D_K`` with ``D_K = diag((-1)^k)``, ``R``
        unchanged, the Fourier moduli shifted by ``T/2``: e.g. the patterns ``J + J^2`` and
        ``J - J^2`` are images). Identity first."""
        H, T = self.H, self.T
        signs = [np.ones(H)] if self.softmax else [np.array(sg) for sg in itertools.product((1.0, -1.0), repeat=H)]
        mods = [np.ones(T)]
        if not self.softmax and T % 2 == 0:
            mods.append((-1.0) ** np.arange(T))
        mats = []
        for perm in parent_symmetries(T, self.K):
            for mod in mods:
                Pk = np.zeros((T, T))
                Pk[list(perm), np.arange(T)] = 1.0  # w' = Pk w  with w'[perm[k]] = w[k]
                Oy = self.B.T @ Pk @ np.diag(mod) @ self.B
                for hp in itertools.permutations(range(H)):
                    Ph = np.zeros((H, H))
                    Ph[list(hp), np.arange(H)] = 1.0
                    for sg in signs:
                        mats.append(np.kron(Ph @ np.diag(sg), Oy))
        # identity first
        ident = [i for i, Mx in enumerate(mats) if np.allclose(Mx, np.eye(self.n))]
        i0 = ident[0]
        return [mats[i0]] + mats[:i0] + mats[i0 + 1:]
