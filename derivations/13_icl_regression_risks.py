"""Issue 13, step 1: exact risks of one-step GD, preconditioned GD and debiased GD for in-context
linear regression (beta ~ N(0, I/d), x ~ N(0, Sigma), y = beta^T x + eps, eps ~ N(0, sigma2)),
and the linearised multi-head softmax predictor.

Run: python derivations/13_icl_regression_risks.py  (writes derivations/out/13_icl_regression_risks.tex)
Implemented in theory/icl_regression.py (risk_preconditioned, risk_gd, risk_gd_opt,
risk_debiased_gd, optimal_preconditioner); tested against Monte Carlo of the predictors in
tests/theory/test_icl_regression.py.

Every general step is checked by an independent symbolic computation at small size: the Gaussian
fourth moment by Isserlis' theorem with a symbolic covariance, the risk by expanding the Wishart
matrix entry by entry, the Helmert transform at L = 4, the linearised softmax by a series in omega.
"""
import itertools

import sympy as sp

from copyhead.theory.symbolic.report import Derivation

der = Derivation("In-context linear regression: risks of one-step, preconditioned and debiased GD")
m, n, d, L, s2, eta = sp.symbols("m n d L sigma2 eta", positive=True)

# ---------------------------------------------------------------- 1. Gaussian fourth moment (Isserlis)
k = 2
S = sp.Matrix(k, k, lambda i, j: sp.Symbol(f"S{min(i, j)}{max(i, j)}"))
A = sp.Matrix(k, k, lambda i, j: sp.Symbol(f"A{min(i, j)}{max(i, j)}"))  # symmetric


def e4(a, b, c, e):
    """Isserlis: E[x_a x_b x_c x_e] for x ~ N(0, S)."""
    return S[a, b] * S[c, e] + S[a, c] * S[b, e] + S[a, e] * S[b, c]


lhs = sp.Matrix(k, k, lambda a, e: sum(A[b, c] * e4(a, b, c, e) for b in range(k) for c in range(k)))
rhs = 2 * S * A * S + (A * S).trace() * S
der.step("Fourth moment E[x x^T A x x^T] = 2 S A S + tr(A S) S (x ~ N(0, S), A symmetric); "
         "check by Isserlis' theorem at d = 2, symbolic S and A (zero matrix):", sp.simplify(lhs - rhs), "difference")
assert sp.simplify(lhs - rhs) == sp.zeros(k, k)
der.step("Hence for W = sum_{k=1}^m x_k x_k^T (Wishart, m degrees of freedom): E W = m S and "
         "E[W A W] = m(m-1) S A S + m E[x x^T A x x^T] = m(m+1) S A S + m tr(A S) S")

# ---------------------------------------------------------------- 2. risk of preconditioned GD
der.step("Predictor y_hat = x_q^T G u, u = (W beta + X^T eps)/n (GD: m = n = L; debiased GD: m = L-1, n = L). "
         "With E beta beta^T = I/d, E[x_q x_q^T] = S and the query's own noise, "
         "R = sigma2 + (1/d) E tr[(G W/n - I)^T S (G W/n - I)] + (sigma2/n^2) E tr(G^T S G W)")
trS, trSGS, trSAS, trAS = sp.symbols("trS trSGS trSAS trAS")
R_closed = (s2 + trS / d - 2 * m * trSGS / (n * d) + (m * (m + 1) * trSAS + m * trAS * trS) / (n**2 * d)
            + s2 * m * trAS / n**2)
der.step("Closed form (A = G^T S G)", R_closed, "R")

# independent check at d = 2: expand W entry by entry, second moments of W from Isserlis
g = sp.Matrix(k, k, sp.symbols("g0:4"))
Wsym = sp.Matrix(k, k, lambda i, j: sp.Symbol(f"W{min(i, j)}{max(i, j)}"))
dd = sp.Integer(k)
expr = ((g * Wsym / n - sp.eye(k)).T * S * (g * Wsym / n - sp.eye(k))).trace() / dd \
    + s2 / n**2 * (g.T * S * g * Wsym).trace()
expr = sp.expand(expr)


def EW(i, j):
    return m * S[i, j]


def EWW(i, j, a, b):
    # E[W_ij W_ab] = m^2 S_ij S_ab + m (S_ia S_jb + S_ib S_ja)
    return m**2 * S[i, j] * S[a, b] + m * (S[i, a] * S[j, b] + S[i, b] * S[j, a])


wvars = sorted({s for s in expr.free_symbols if s.name.startswith("W")}, key=lambda s: s.name)
poly = sp.Poly(expr, *wvars)
E = 0
for mon, coeff in poly.terms():
    idx = [v for v, p in zip(wvars, mon) for _ in range(p)]
    ij = [(int(v.name[1]), int(v.name[2])) for v in idx]
    if len(ij) == 0:
        E += coeff
    elif len(ij) == 1:
        E += coeff * EW(*ij[0])
    else:
        E += coeff * EWW(*ij[0], *ij[1])
Am = g.T * S * g
sub = {trS: S.trace(), trSGS: (S * g * S).trace(), trSAS: (S * Am * S).trace(), trAS: (Am * S).trace(), d: dd}
gap = sp.simplify(sp.expand(s2 + E - R_closed.subs(sub)))
der.step("Check at d = 2 with a general 2x2 G and symbolic S: expectation of the entry-by-entry expansion "
         "minus the closed form (zero):", gap, "difference")
assert gap == 0

# ---------------------------------------------------------------- 3. isotropic case
R_iso = sp.simplify(R_closed.subs({trS: d, trSGS: eta * d, trSAS: eta**2 * d, trAS: eta**2 * d}))
der.step("Isotropic S = I, G = eta I", sp.collect(sp.expand(R_iso), eta), "R(eta)")
R_gd = sp.simplify(R_iso.subs({m: L, n: L}))
der.step("One-step GD (m = n = L)", sp.collect(sp.expand(R_gd), eta), "R_gd(eta)")
der.step("Unit step (gd)", sp.simplify(R_gd.subs(eta, 1)), "R_gd(1)")
eta_star = sp.solve(sp.diff(R_iso, eta), eta)[0]
der.step("Optimal step", sp.simplify(eta_star), "eta*")
R_opt = sp.simplify(R_iso.subs(eta, eta_star))
der.step("Optimal risk (depends on m only: n drops out)", sp.factor(R_opt - s2) + s2, "R*")
assert sp.simplify(sp.diff(R_opt, n)) == 0
R_gdopt_L = R_opt.subs(m, L)
R_deb_L = R_opt.subs(m, L - 1)
der.step("gd_opt(L) = R*(m = L)", sp.simplify(R_gdopt_L), "R_gd_opt(L)")
der.step("debiased_gd(L) = R*(m = L - 1) = gd_opt(L - 1)", sp.simplify(R_deb_L), "R_debiased(L)")
gap_deb = sp.simplify(R_deb_L - R_gdopt_L.subs(L, L - 1))
assert gap_deb == 0
der.step("debiased_gd(L) - gd_opt(L) > 0 for every L (so debiased GD never beats gd_opt)",
         sp.factor(sp.simplify(R_deb_L - R_gdopt_L)), "difference")

# ---------------------------------------------------------------- 4. optimal preconditioner
s_ = sp.symbols("s1 s2_", positive=True)
gam = sp.symbols("gamma1 gamma2")
Sd, Gd = sp.diag(*s_), sp.diag(*gam)
Ad = Gd.T * Sd * Gd
Rd = R_closed.subs({trS: Sd.trace(), trSGS: (Sd * Gd * Sd).trace(), trSAS: (Sd * Ad * Sd).trace(),
                    trAS: (Ad * Sd).trace(), d: 2})
sol = sp.solve([sp.diff(Rd, gg) for gg in gam], gam, dict=True)[0]
c = s_[0] + s_[1] + s2 * 2
claim = {gam[j]: n / ((m + 1) * s_[j] + c) for j in range(2)}
der.step("Anisotropic S = diag(s_j) (no loss of generality: beta is isotropic), diagonal G: the optimum "
         "(d = 2) is gamma_j = n / ((m+1) s_j + tr S + sigma2 d), i.e. G* = n((m+1)S + (tr S + sigma2 d) I)^{-1}",
         sp.Matrix([sp.simplify(sol[gam[j]] - claim[gam[j]]) for j in range(2)]), "gamma_j - claim")
assert all(sp.simplify(sol[gam[j]] - claim[gam[j]]) == 0 for j in range(2))
R_pre = sp.simplify(Rd.subs(sol))
claim_R = s2 + (s_[0] + s_[1]) / 2 - m / 2 * sum(s_[j] ** 2 / ((m + 1) * s_[j] + c) for j in range(2))
der.step("Optimal preconditioned risk sigma2 + tr S/d - (m/d) sum_j s_j^2/((m+1)s_j + c) (again m only); "
         "check at d = 2 (zero):", sp.simplify(R_pre - claim_R), "difference")
assert sp.simplify(R_pre - claim_R) == 0

# ---------------------------------------------------------------- 5. Helmert: centred Gram is Wishart(L-1)
Ln = 4
Hm = sp.zeros(Ln, Ln)
for j in range(Ln):
    Hm[0, j] = 1 / sp.sqrt(Ln)
for i in range(1, Ln):
    for j in range(i):
        Hm[i, j] = 1 / sp.sqrt(i * (i + 1))
    Hm[i, i] = -i / sp.sqrt(i * (i + 1))
orth = sp.simplify(Hm * Hm.T - sp.eye(Ln))
cent = sp.simplify(Hm[1:, :].T * Hm[1:, :] - (sp.eye(Ln) - sp.ones(Ln, Ln) / Ln))
der.step(f"Helmert matrix H (L = {Ln}, first row 1/sqrt(L)) is orthogonal and its last L-1 rows give the "
         "centring projector: H H^T - I and H_{2:}^T H_{2:} - (I - 11^T/L) (both zero)", sp.Matrix([[orth.norm(), cent.norm()]]))
assert orth == sp.zeros(Ln, Ln) and cent == sp.zeros(Ln, Ln)
der.step("So sum_i y_i (x_i - xbar) = X^T (I - 11^T/L) y = (H_{2:} X)^T (H_{2:} y): the rows of H X are i.i.d. "
         "N(0, S), independent of H eps, and H_{2:} y = (H_{2:} X) beta + H_{2:} eps. Debiased GD with L samples "
         "is exactly GD on L-1 i.i.d. samples normalised by n = L: m = L - 1 above.")

# ---------------------------------------------------------------- 6. linearised softmax heads
Lk = 3
om = sp.symbols("omega1 omega2")
mu = sp.symbols("mu1 mu2")
ys = sp.symbols(f"y1:{Lk + 1}")
ss = sp.symbols(f"s1:{Lk + 1}")  # s_i = x_i^T x_q / sqrt(d+1)
t = sp.Symbol("t")
out = sum(mu[h] * sum(sp.exp(t * om[h] * ss[i]) * ys[i] for i in range(Lk))
          / sum(sp.exp(t * om[h] * ss[i]) for i in range(Lk)) for h in range(2))
lin = sp.series(out, t, 0, 2).removeO().subs(t, 1)
ybar = sum(ys) / Lk
sbar = sum(ss) / Lk
claim = (mu[0] + mu[1]) * ybar + (mu[0] * om[0] + mu[1] * om[1]) * sum(ys[i] * (ss[i] - sbar) for i in range(Lk)) / Lk
der.step(f"Two softmax heads with x-blocks omega_h I, y rows 0 and OV rows mu_h e_y, to first order in omega "
         f"(L = {Lk}): (mu1+mu2) ybar + (mu1 omega1 + mu2 omega2) (1/L) sum_i y_i (s_i - sbar); check (zero):",
         sp.simplify(sp.expand(lin - claim)), "difference")
assert sp.simplify(sp.expand(lin - claim)) == 0
der.step("With mu2 = -mu1 (zero-sum) the bias ybar cancels: debiased GD with step "
         "eta = (mu1 omega1 + mu2 omega2)/sqrt(d+1) = 2 omega mu / sqrt(d+1) for (omega, -omega), (mu, -mu). "
         "In general Gamma_eff = sum_h mu_h A_h^T / sqrt(d+1) (theory/icl_regression_patterns.py).")

# ---------------------------------------------------------------- 7. numbers
for dv, Lv in ((3, 24), (5, 40)):
    vals = {d: dv, L: Lv, s2: sp.Rational(1, 10)}
    der.step(f"d = {dv}, L = {Lv}, sigma2 = 0.1: gd, gd_opt, debiased_gd",
             sp.Matrix([[R_gd.subs(eta, 1).subs(vals), R_gdopt_L.subs(vals), R_deb_L.subs(vals)]]).evalf(6))
der.emit("13_icl_regression_risks")
