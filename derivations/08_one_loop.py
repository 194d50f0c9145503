"""Step 8: one-loop (Gaussian fluctuation) correction for linear attention at finite V.

p(S) ∝ f(S) exp(-V^2 F_V(S)),  F_V = nu J(S) - e(m, r) - e1(S)/V,  N = nu V^2.
(a) Hessian of F at S = m J, split S = m J + S_perp: closed-form transverse spectrum (eq. L2).
(b) qk prior: the O(1) prefactor f(S) of the density of S = Q^T K/N (eq. P1), from the exact
    one-matrix integral p(S) = int dX det X^{(N-2T-1)/2} exp(-N(tr X + tr S^T X^-1 S)/2).
(c) effective free energy F_eff(m) = F_V(S_bar(m)) - log f/V^2 + log det H_perp/(2V^2) (eq. L1);
    <|m|>, <r> from the 1-D integral over m (eq. L3); disordered check <r> = T/N.
(d) numbers at the default model (T=8, nu=0.5, sigma2=0.1, kappa=1).
Run: python derivations/08_one_loop.py  (writes derivations/out/08_one_loop.tex)
"""
import numpy as np
import sympy as sp

from copyhead.theory.symbolic.energy import energy_limit
from copyhead.theory.model import Model
from copyhead.theory.one_loop import linear_full_hessian, one_loop_linear, transverse_spectrum
from copyhead.theory.order_parameters import shift_matrix
from copyhead.theory.symbolic.report import Derivation

der = Derivation("One-loop correction for linear attention")
m, r, g, al, nu, T, s, x, lam = sp.symbols("m r g alpha nu T s x lambda", positive=True)
V = sp.Symbol("V", positive=True)

# ---------------------------------------------------------------- (a) transverse spectrum
e = energy_limit(m, r, g, al)
e_r = sp.simplify(sp.diff(e, r).subs(r, m**2))
der.step("e_r = de/dr at r = m^2 (posterior)", e_r, "e_r")
der.step("F(S) = phi(m, r) with m = tr(J^T S)/T, r = |S|^2/T: for any dS perpendicular to J and S = m J, "
         "the energy part of the Hessian is -(2/T) e_r |dS|^2 (the rank-2 terms live in span(J))")
der.step("Prior part: with X = J^T dS = X_s + X_a and sigma(S) = |m|, "
         "sum j(sigma_i(mI + X)) = T j(m) + j'(m) tr X + 1/2 j''(m)|X_s|^2 + j'(m)/(2m) |X_a|^2 + O(X^3)")
j = sp.Function("j")
h = lambda lm: j(sp.sqrt(lm))  # h(lambda) = j(sqrt(lambda)), eigenvalues of (mI+X)^T(mI+X) = m^2 + 2m X_s + X^T X
hp = sp.diff(h(lam), lam).subs(lam, m**2)
hpp = sp.diff(h(lam), lam, 2).subs(lam, m**2)
Xs2, Xa2 = sp.symbols("Xs2 Xa2", positive=True)  # |X_s|^2, |X_a|^2 (traceless X_s)
second = sp.simplify(hp * (Xs2 + Xa2) + sp.Rational(1, 2) * hpp * 4 * m**2 * Xs2)
der.step("second-order term h'(m^2) tr X^T X + h''(m^2)/2 tr (2 m X_s)^2, h(l) = j(sqrt l)", second)
lam_s = nu * sp.Symbol("j2") - 2 * e_r / T
lam_a = nu * sp.Symbol("j1") / m - 2 * e_r / T
der.step("lambda_s (T(T+1)/2 - 1 directions), j2 = j''(|m|)", lam_s, "lambda_s")
der.step("lambda_a (T(T-1)/2 directions), j1 = j'(|m|)", lam_a, "lambda_a")
for T_ in (4, 8):
    M = Model(T=T_, nu=0.5, sigma2=0.1, kappa=1, attention="linear", prior="qk")
    H = linear_full_hessian(0.6 * shift_matrix(T_), M, 10.0)
    (ls, ns), (la, na), lJ = transverse_spectrum(0.6, M, 10.0)
    pred = np.sort(np.r_[np.full(ns, ls), np.full(na, la), lJ])
    err = float(np.abs(np.sort(np.linalg.eigvalsh(H)) - pred).max())
    der.step(f"numerical check (qk, T={T_}, m=0.6, alpha=10): max |eig(H) - closed form| = {err:.1e}")
    assert err < 1e-5

# ---------------------------------------------------------------- (b) qk prefactor
der.step("qk prior: S | Q has independent columns N(0, X/N), X = Q^T Q/N ~ Wishart; integrating K, "
         "p(S) = int dX det X^{(N-2T-1)/2} exp(-N/2 [tr X + tr(S S^T X^{-1})]) exactly")
psi = sp.log(x) / 2 - x / 2 - s**2 / (2 * x)  # scalar (eigenvalue) version of the exponent
a_star = sp.solve(sp.diff(psi, x), x)
a_star = [a for a in a_star if sp.simplify(a.subs(s, 0) - 1) == 0][0]
der.step("saddle: X^2 - X = S S^T, eigenvalues a_i", a_star, "a")
jq = sp.simplify(-psi.subs(x, a_star))
diff_ = sp.simplify(jq - (a_star - 1 - sp.log(a_star) / 2))
assert diff_ == sp.Rational(1, 2)
der.step("-psi(a) - j(s) with j(s) = a - 1 - 1/2 log a: an s-independent constant, so the saddle reproduces the rate",
         diff_, "-psi(a) - j(s)")
ai, aj = sp.symbols("a_i a_j", positive=True)
der.step("second variation of psi(X) at the saddle (eigenbasis of X): "
         "-1/4 sum_ij dX_ij^2 (a_i + a_j - 1)/(a_i a_j)", (ai + aj - 1) / (ai * aj), "curvature_ij")
der.step("Laplace over the T(T+1)/2 entries of X plus the leftover det X^{-(2T+1)/2}: "
         "p(S) = f(S) exp(-N J(S)) (1 + O(1/N)) with",
         -(2 * T + 1) / 2 * sp.Sum(sp.log(sp.Symbol("a_k")), (sp.Symbol("k"), 1, T))
         - sp.Rational(1, 2) * sp.Symbol("Sum_{i<j} log((a_i+a_j-1)/(a_i a_j))")
         - sp.Rational(1, 2) * sp.Sum(sp.log((2 * sp.Symbol("a_k") - 1) / sp.Symbol("a_k") ** 2), (sp.Symbol("k"), 1, T)),
         "log f")

# ---------------------------------------------------------------- (c) effective free energy
der.step("S = m J + S_perp (constant Jacobian); Laplace over S_perp at the family minimiser "
         "S_bar(m) = (m - a/T) J + (a/T) 11^T (a minimises F_V; a = 0 at V = inf)")
Feff = sp.Symbol("F_V(S_bar)") - sp.Symbol("log f(S_bar)") / V**2 + (
    (T * (T + 1) / 2 - 1) * sp.log(lam_s) + T * (T - 1) / 2 * sp.log(lam_a)) / (2 * V**2)
der.step("eq. L1 (gaussian prior: j1/m = j2 = 1, f = const)", Feff, "F_eff(m)")
der.step("eq. L3: <|m|> = int |m| exp(-V^2 F_eff) / int exp(-V^2 F_eff); "
         "<r> = < r(S_bar) + [n_s/lambda_s + n_a/lambda_a]/(T V^2) >")
r_dis = sp.simplify(((T**2 - 1) / nu) / (T * V**2) + 1 / (T * nu * V**2))
der.step("alpha -> 0, gaussian prior (lambda = nu): <r> = transverse + longitudinal", r_dis, "<r>")
assert sp.simplify(r_dis - T / (nu * V**2)) == 0
der.step("= T/N with N = nu V^2 (the observed disordered-phase value)")
Mg = Model(T=8, nu=0.5, sigma2=0.1, kappa=1, attention="linear", prior="gaussian")
chk = one_loop_linear(Mg, 0.01, 16, n_grid=81, m_max=0.4)
der.step(f"numerical: V=16, alpha=0.01: <r> = {chk['r_mean']:.5f}, T/N = {8 / (0.5 * 256):.5f}")

# ---------------------------------------------------------------- (d) numbers
for prior in ("gaussian", "qk"):
    Mp = Mg.replace(prior=prior)
    for V_ in (8, 16):
        for a_ in (8.0, 10.0):
            o = one_loop_linear(Mp, a_, V_)
            o0 = one_loop_linear(Mp, a_, V_, loop=False)
            der.step(f"{prior}, V={V_}, alpha={a_}: <|m|> one-loop = {o['m_abs_mean']:.4f} "
                     f"(F - e1/V alone, integrated over m: {o0['m_abs_mean']:.4f}); <r> = {o['r_mean']:.4f}")
der.emit("08_one_loop")
