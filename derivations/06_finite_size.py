"""Step 6: the O(V) correction e1(A) to the energy, by second-order perturbation in the data.

Run: python derivations/06_finite_size.py  (writes derivations/out/06_finite_size.tex)
Implemented in theory/finite_size.py (``e1``); tested against the exact evidence at V = 32, 64 in
tests/theory/test_finite_size.py; summary and numbers in derivations/out/06_finite_size.md.

Claim, for fixed A and V -> inf at fixed alpha = PT/(kappa V^2), g = sigma2 alpha:

    E_data[log p(Y|A)] + (PTV/2) log(2 pi kappa) = V^2 e(m, r) + V e1(A) + O(1).

Outline (each part prints its steps):
  1. mean data counts: E[C], E[D], M0 = I + sigma2 E[C]/(V kappa) live in the algebra a Pi + b 11^T/V;
     the V^2 coefficient is e(m, r), the V coefficient is the mean-count part e1_mean;
  2. second-order Taylor expansion of log p in (dC, dD) = (C - E C, D - E D) (checked on generic
     symbolic 2x2 matrices);
  3. the data average: first order vanishes exactly; second order needs the covariance sums
     S_CC = sum_ab Var C_ab, S_DD = sum_ab Var D_ab, S_CD = sum_ab Cov(C_ab, D_ba); the 11^T
     parts of M0^{-1} and D0 contribute only O(1) (power counting);
  4. S_XY = P x (per-sequence moment); the per-sequence moments are computed EXACTLY in V from
     the token-collision rule, for a symbolic 3x3 A and a random rational 4x4 A, and their V -> inf
     limits identified as ||A^T A||_F^2, tr(A A^T), tr(J^T A A^T A);
  5. assembly -> e1 = e1_mean + e1_fluct; power counting of the neglected third/fourth order;
  6. comparison with the THEORY.md checkpoint; special cases; the formula as code uses it.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from fractions import Fraction

import numpy as np
import sympy as sp

from copyhead.theory.symbolic.report import Derivation
from copyhead.theory.symbolic.symbols import P, T, V, alpha, g, kappa, m, r, sigma2

abar, a2bar = sp.symbols("abar abar2", positive=True)  # mean row sum, mean squared row sum
b2 = sp.Symbol("b2", positive=True)  # ||A^T A||_F^2 / T
w = sp.Symbol("w", real=True)  # tr(J^T A A^T A) / T
q, q1 = sp.symbols("q q1", positive=True)  # q = 1 + g r (Pi eigenvalue of M0), q1 = 1 + g abar2

der = Derivation("O(V) correction e1(A) to the energy: data fluctuations at second order")

SCALE = {P: alpha * kappa * V**2 / T, sigma2: g / alpha}


def v_coeffs(expr):
    """Substitute P = alpha kappa V^2/T, sigma2 = g/alpha; return {power of V: coefficient}."""
    e = sp.expand(sp.expand_log(sp.simplify(expr.subs(SCALE)), force=True))
    poly = sp.Poly(e, V)
    return {k[0]: sp.simplify(c) for k, c in poly.terms()}


# ----------------------------------------------------------------------------------------------
# 1. Mean data counts
# ----------------------------------------------------------------------------------------------
der.step(
    "Setup. C = sum_mu sum_t z_t z_t^T, D = sum_mu sum_t z_t y_t^T with z_t = sum_s A_ts x_s, y_t = x_{t-1}; "
    "M = I + sigma2 C/(V kappa) = (sigma2/V) Lam; log p + (PTV/2) log 2 pi kappa = f(C, D) with "
    "f = -(V/2) logdet M + (sigma2/(2 V kappa^2)) tr(D^T M^-1 D) - PT/(2 kappa)."
)
der.step(
    "Mean counts E[x_s x_s'^T] = delta_ss' I/V + (1-delta_ss') 11^T/V^2. With Pi = I - 11^T/V, P1 = 11^T/V, "
    "E[C] = (1/V)[tr B Pi + 1^T B 1 P1] and E[D] = (1/V)[tr(J^T A) Pi + 1^T A 1 P1] per sequence "
    "(tr B = T r, 1^T B 1 = sum_t a_t^2 = T abar2, tr J^T A = T m, 1^T A 1 = T abar). These are exact."
)
C0_pi, C0_1 = P * T * r / V, P * T * a2bar / V
D0_pi, D0_1 = P * T * m / V, P * T * abar / V
M0_pi = 1 + sigma2 * C0_pi / (V * kappa)
M0_1 = 1 + sigma2 * C0_1 / (V * kappa)
der.step("Pi-eigenvalue of M0 (multiplicity V-1); equals 1 + g r = q exactly at the realised alpha",
         sp.simplify(M0_pi.subs(SCALE)), "M0_{Pi}")
der.step("P1-eigenvalue of M0; equals 1 + g abar2 = q1", sp.simplify(M0_1.subs(SCALE)), "M0_{1}")
f_mean = (
    -V / 2 * ((V - 1) * sp.log(M0_pi) + sp.log(M0_1))
    + sigma2 / (2 * V * kappa**2) * ((V - 1) * D0_pi**2 / M0_pi + D0_1**2 / M0_1)
    - P * T / (2 * kappa)
)
der.step("f(E C, E D): traces over Pi carry multiplicity V-1, over P1 multiplicity 1", f_mean, "f_0")
cm = v_coeffs(f_mean)
assert set(cm) <= {0, 1, 2} and sp.simplify(cm.get(0, 0)) == 0, cm
e_closed = -sp.log(1 + g * r) / 2 - alpha / 2 * (1 + g * (r - m**2)) / (1 + g * r)
assert sp.simplify(sp.expand_log(cm[2] - e_closed, force=True)) == 0
der.step("V^2 coefficient = e(m, r) (difference to the closed form simplifies to 0); no V^0 term", e_closed, "e")
e1_mean = cm[1]
e1_mean_closed = (
    sp.log(1 + g * r) / 2 - sp.log(1 + g * a2bar) / 2
    - alpha * g * m**2 / (2 * (1 + g * r)) + alpha * g * abar**2 / (2 * (1 + g * a2bar))
)
assert sp.simplify(sp.expand_log(e1_mean - e1_mean_closed, force=True)) == 0
der.step(
    "V^1 coefficient at mean counts ('annealed' part): the (V-1) multiplicity of Pi and the 11^T direction",
    e1_mean_closed, "e1_{mean}",
)
try:  # cross-check with the mean-count part derived independently in theory/energy.py
    from copyhead.theory.energy import derive_energy_limit

    _, e1_mean_other, _ = derive_energy_limit()
    assert sp.simplify(sp.expand_log(e1_mean_other - e1_mean_closed, force=True)) == 0
    der.step("Cross-check: equals e1_mean of theory/energy.py (derive_energy_limit)")
except ImportError:  # pragma: no cover
    pass

# ----------------------------------------------------------------------------------------------
# 2. Second-order Taylor expansion (matrix identity, checked on generic symbolic 2x2 matrices)
# ----------------------------------------------------------------------------------------------
k2 = sp.Symbol("k", positive=True)  # k = sigma2 / (2 V kappa^2)
eps = sp.Symbol("epsilon")


def _sym(name):
    a, b_, c = sp.symbols(f"{name}11 {name}12 {name}22", real=True)
    return sp.Matrix([[a, b_], [b_, c]])


M0s, Xs = _sym("M"), _sym("X")  # M0 and dM symmetric
D0s = sp.Matrix(2, 2, sp.symbols("D11 D12 D21 D22", real=True))
Ys = sp.Matrix(2, 2, sp.symbols("Y11 Y12 Y21 Y22", real=True))
Vs = sp.Symbol("Vs", positive=True)
fe = -Vs / 2 * sp.log((M0s + eps * Xs).det()) + k2 * ((D0s + eps * Ys).T * (M0s + eps * Xs).inv() * (D0s + eps * Ys)).trace()
Mi = M0s.inv()
first_claim = -Vs / 2 * (Mi * Xs).trace() + k2 * (2 * (D0s.T * Mi * Ys).trace() - (D0s.T * Mi * Xs * Mi * D0s).trace())
second_claim = Vs / 4 * (Mi * Xs * Mi * Xs).trace() + k2 * (
    (Ys.T * Mi * Ys).trace() - 2 * (D0s.T * Mi * Xs * Mi * Ys).trace() + (D0s.T * Mi * Xs * Mi * Xs * Mi * D0s).trace()
)
d1 = sp.diff(fe, eps).subs(eps, 0)
d2 = sp.diff(fe, eps, 2).subs(eps, 0) / 2
assert sp.cancel(sp.together(d1 - first_claim)) == 0
assert sp.cancel(sp.together(d2 - second_claim)) == 0
der.step(
    "Expand f(C0 + dC, D0 + dD), dM = sigma2 dC/(V kappa), k = sigma2/(2 V kappa^2). First order "
    "(verified symbolically on generic symmetric 2x2 M0, dM and generic 2x2 D0, dD):",
    sp.Symbol(r"-\frac{V}{2}\mathrm{tr}(M_0^{-1}dM) + k[2\,\mathrm{tr}(D_0^T M_0^{-1} dD) - \mathrm{tr}(D_0^T M_0^{-1} dM M_0^{-1} D_0)]"),
    "f_1",
)
der.step(
    "Second order (same symbolic check). E log det != log det E gives the first term; the quadratic form "
    "gets the fluctuation of dD (noise fitting), the dC-dD cross term and the dC-dC term:",
    sp.Symbol(
        r"\frac{V}{4}\mathrm{tr}(M_0^{-1}dM M_0^{-1}dM) + k[\mathrm{tr}(dD^T M_0^{-1} dD) "
        r"- 2\,\mathrm{tr}(D_0^T M_0^{-1} dM M_0^{-1} dD) + \mathrm{tr}(D_0^T M_0^{-1} dM M_0^{-1} dM M_0^{-1} D_0)]"
    ),
    "f_2",
)

# ----------------------------------------------------------------------------------------------
# 3. Data average
# ----------------------------------------------------------------------------------------------
der.step(
    "Quenched average over the data (the MC uses one data set per alpha; V^2 e is self-averaging, "
    "log p fluctuates by O(V^{1/2}) between data sets, so the O(V) term is E_data log p). "
    "E dC = E dD = 0 exactly, so E f_1 = 0. Exact constraints: 1^T C 1 = P T abar2 and 1^T D 1 = P T abar "
    "(since 1^T x_s = 1), i.e. 1^T dC 1 = 1^T dD 1 = 0."
)
der.step(
    "M0^-1 = Pi/q + P1/q1 and D0^T M0^-1 = (PT/V)(m/q Pi + abar/q1 P1). Replacing Pi -> I costs terms "
    "tr(P1 X) = 1^T X 1/V. These involve |dC 1|^2, |dD 1|^2, |1^T dD|^2, (dC 1).(dD 1), each = P x O(1) "
    "(a per-sequence vector like sum_t a_t (z_t - E z_t) has O(1) norm), i.e. 1/V times the full "
    "Frobenius sums below (also P x O(1)); mixed Pi-P1 traces of D0 terms vanish because D0 D0^T and M0 "
    "commute with Pi. Power counting of their contribution to E log p:"
)
# contributions of the P1 corrections: prefactor x (P O(1)) / V, compare with V^1
powers = {}
for name, pref in {
    "(V/4) (sigma2/(V kappa))^2 |dC 1|^2 / V": V / 4 * (sigma2 / (V * kappa)) ** 2 * P / V,
    "k |1^T dD|^2 / V and k |dD 1|^2 / V": sigma2 / (2 * V * kappa**2) * P / V,
    "2k (PT/V)(sigma2/(V kappa)) (dC1).(dD1) / V": sigma2 / (V * kappa**2) * (P * T / V) * sigma2 / (V * kappa) * P / V,
    "k (PT/V)^2 (sigma2/(V kappa))^2 |dC 1|^2 / V": sigma2 / (2 * V * kappa**2) * (P * T / V) ** 2 * (sigma2 / (V * kappa)) ** 2 * P / V,
}.items():
    powers[name] = sp.degree(sp.simplify(pref.subs(SCALE) * V**10), V) - 10
    der.step(f"  order V^{powers[name]}: {name}")
assert all(p <= 0 for p in powers.values())
S_CC, S_DD, S_CD = sp.symbols("S_CC S_DD S_CD", positive=True)
f2_avg = (
    V / 4 * (sigma2 / (V * kappa)) ** 2 * S_CC / q**2
    + sigma2 / (2 * V * kappa**2)
    * (S_DD / q - 2 * (P * T * m / V) * (sigma2 / (V * kappa)) * S_CD / q**2
       + (P * T * m / V) ** 2 * (sigma2 / (V * kappa)) ** 2 * S_CC / q**3)
)
der.step(
    "Hence, up to O(1): E f_2 with S_CC = sum_ab Var C_ab = E tr dC^2, S_DD = sum_ab Var D_ab = E tr dD^T dD, "
    "S_CD = sum_ab Cov(C_ab, D_ba) = E tr(dC dD)",
    f2_avg, "E f_2",
)

# ----------------------------------------------------------------------------------------------
# 4. Per-sequence moments, exact in V, from the token-collision rule
# ----------------------------------------------------------------------------------------------
der.step(
    "Sequences are i.i.d., so S_XY = P (E[x y] - E[x] E[y]) for one sequence: c = sum_t z_t z_t^T, "
    "d = sum_t z_t y_t^T. tr(c^2) = sum_tt' (z_t.z_t')^2, tr(d^T d) = sum_tt' (z_t.z_t')(y_t.y_t'), "
    "tr(c d) = sum_tt' (z_t.z_t')(z_t.y_t'), with x_s.x_s' = [tok_s = tok_s']. "
    "Collision rule: E prod_pairs [tok_i = tok_j] = V^-(#distinct positions - #connected components)."
)


def collision_prob(pairs, one, Vv):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    nodes = set()
    for i, j in pairs:
        nodes |= {i, j}
        parent[find(i)] = find(j)
    comps = len({find(x) for x in nodes})
    return one / Vv ** (len(nodes) - comps)


def moments(Amat, Tn, Vv, one):
    """Exact per-sequence (E[xy] - E[x]E[y]) summed over V x V entries, for CC, DD, CD."""
    A_ = lambda t, s_: Amat[t][s_]  # noqa: E731
    prev = lambda t: (t - 1) % Tn  # noqa: E731
    R = range(Tn)
    Ecc = Edd = Ecd = 0
    for t, t2 in itertools.product(R, R):
        for s1, s1b, s2, s2b in itertools.product(R, R, R, R):
            Ecc += A_(t, s1) * A_(t2, s1b) * A_(t, s2) * A_(t2, s2b) * collision_prob([(s1, s1b), (s2, s2b)], one, Vv)
        for s1, s1b in itertools.product(R, R):
            Edd += A_(t, s1) * A_(t2, s1b) * collision_prob([(s1, s1b), (prev(t), prev(t2))], one, Vv)
            for s2 in R:
                Ecd += A_(t, s1) * A_(t2, s1b) * A_(t, s2) * collision_prob([(s1, s1b), (s2, prev(t2))], one, Vv)
    # means (exact): E c = (tr B/V) Pi + (1^T B 1/V) P1, E d = (tr J^T A/V) Pi + (1^T A 1/V) P1
    trB = sum(A_(t, s_) ** 2 for t in R for s_ in R)
    oBo = sum(sum(A_(t, s_) for s_ in R) ** 2 for t in R)
    trJA = sum(A_(t, prev(t)) for t in R)
    oAo = sum(A_(t, s_) for t in R for s_ in R)
    cp, c1, dp, d1_ = trB / Vv, oBo / Vv, trJA / Vv, oAo / Vv
    return (
        Ecc - ((Vv - 1) * cp**2 + c1**2),
        Edd - ((Vv - 1) * dp**2 + d1_**2),
        Ecd - ((Vv - 1) * cp * dp + c1 * d1_),
    )


def limits_matrix(Amat, Tn):
    Am = sp.Matrix(Amat)
    Jm = sp.Matrix(Tn, Tn, lambda i, j: 1 if j == (i - 1) % Tn else 0)
    B = Am.T * Am
    frob2 = sum(sp.expand(x**2) for x in B)  # ||A^T A||_F^2
    return frob2, (Am * Am.T).trace(), (Jm.T * Am * Am.T * Am).trace()


# symbolic 3x3 A, exact in V
Asym = [[sp.Symbol(f"A{i}{j}", real=True) for j in range(3)] for i in range(3)]
mcc, mdd, mcd = moments(Asym, 3, V, sp.Integer(1))
lcc, ldd, lcd = limits_matrix(Asym, 3)
for name, mom, lim in (("CC", mcc, lcc), ("DD", mdd, ldd), ("CD", mcd, lcd)):
    xinv = sp.Symbol("x", positive=True)  # x = 1/V: the moments are polynomials in 1/V
    poly = sp.Poly(sp.expand(sp.cancel(sp.expand(mom.subs(V, 1 / xinv)))), xinv)
    leading = poly.coeff_monomial(1)
    assert sp.expand(leading - sp.expand(lim)) == 0, (name, sp.expand(leading - lim))
der.step(
    "Symbolic T = 3 (all nine A_ts free), exact in V, then V -> inf: per-sequence sums tend to "
    "||A^T A||_F^2 (CC), tr(A A^T) = T r (DD), tr(J^T A A^T A) (CD); the corrections are O(1/V) "
    "(they come from accidental token collisions and the 11^T parts of the means)."
)
# random rational 4x4 A, exact in V (Fractions), at several V: check the 1/V approach
rng = np.random.default_rng(6)
A4 = [[Fraction(int(x), 7) for x in row] for row in rng.integers(-9, 10, size=(4, 4))]
lim4 = limits_matrix([[sp.Rational(x.numerator, x.denominator) for x in row] for row in A4], 4)
tab = []
for Vv in (10**3, 10**6):
    mom4 = moments(A4, 4, Fraction(Vv), Fraction(1))
    tab.append([float(abs(Vv * (sp.Rational(mo.numerator, mo.denominator) - li))) for mo, li in zip(mom4, lim4)])
# V x (exact - limit) must stay bounded (O(1/V) corrections): compare V = 1e3 and 1e6
for a_, b_ in zip(*tab):
    assert abs(a_ - b_) <= 0.01 * max(1.0, b_), tab
der.step(
    f"Random rational T = 4 A, exact arithmetic: V x (moment - limit) at V = 1e3 / 1e6 = "
    f"{[round(x, 3) for x in tab[0]]} / {[round(x, 3) for x in tab[1]]} (bounded: corrections O(1/V))"
)
S_sub = {S_CC: P * T * b2, S_DD: P * T * r, S_CD: P * T * w}
der.step("Leading covariance sums (b2 = ||A^T A||_F^2/T, w = tr(J^T A A^T A)/T)",
         sp.Matrix([S_CC, S_DD, S_CD]).subs(S_sub), "[S_{CC}, S_{DD}, S_{CD}]")

# ----------------------------------------------------------------------------------------------
# 5. Assembly
# ----------------------------------------------------------------------------------------------
f2 = f2_avg.subs(S_sub)
cf = v_coeffs(f2)
assert set(cf) == {1}, cf  # the fluctuation average is exactly O(V) at this order
e1_fluct = sp.simplify(cf[1])
der.step("E f_2 with P = alpha kappa V^2/T, sigma2 = g/alpha: exactly linear in V; its coefficient", e1_fluct, "e1_{fluct}")
e1_fluct_closed = (
    g**2 * b2 / (4 * alpha * q**2) + g * r / (2 * q) - g**2 * m * w / q**2 + g**3 * m**2 * b2 / (2 * q**3)
) / kappa
assert sp.simplify(e1_fluct - e1_fluct_closed) == 0
der.step(
    "Term by term (same thing): logdet fluctuation g^2 b2/(4 alpha q^2 kappa); noise fitting g r/(2 q kappa); "
    "C-D cross term -g^2 m w/(q^2 kappa); C-C in the quadratic form g^3 m^2 b2/(2 q^3 kappa)",
    e1_fluct_closed, "e1_{fluct}",
)
der.step(
    "Neglected orders (power counting, dC ~ Wigner-like with O(1) off-diagonal and O(V^{1/2}) diagonal "
    "entries): third order V tr(dM^3) ~ V x V^-3 x P x O(1) = O(1); fourth order V tr(dM^4) ~ V x V^-4 x O(V^3) "
    "= O(1); same for the quadratic-form terms; corrections to S_XY are P x O(1/V) -> O(1). "
    "A-independent terms: only the removed constant -(PTV/2) log 2 pi kappa (order V^3); at A = 0, "
    "f = -alpha V^2/2 = V^2 e(0,0) exactly and e1 = 0."
)
qsub = {q: 1 + g * r, q1: 1 + g * a2bar}
e1_final = e1_mean_closed + e1_fluct_closed.subs(qsub)
der.step("Result (q = 1 + g r): E_data log p = V^2 e(m, r) + V e1 + O(1), with", e1_final, "e1")

# ----------------------------------------------------------------------------------------------
# 6. Comparison with the THEORY.md checkpoint, special cases, the code form
# ----------------------------------------------------------------------------------------------
checkpoint = (
    sp.log(1 + g * r) / 2 - alpha / 2 * g * m**2 / (1 + g * r) - sp.log(1 + g * a2bar) / 2
    + alpha / 2 * g * abar**2 / (1 + g * a2bar)
    + (g**2 * T * b2 / (4 * alpha * T * (1 + g * r) ** 2) + g * r / (2 * (1 + g * r))
       - g**2 * m * T * w / (T * (1 + g * r) ** 2) + g**3 * m**2 * T * b2 / (2 * T * (1 + g * r) ** 3)) / kappa
)
diff = sp.simplify(sp.expand_log(e1_final - checkpoint, force=True))
der.step("Difference to the THEORY.md §3 checkpoint (with ||B||_F^2 = T b2, tr J^T A A^T A = T w)", diff, "e1 - e1_{checkpoint}")
assert diff == 0, diff
e1_soft_const = (-sp.log(1 + g) / 2 + alpha * g / (2 * (1 + g)))
der.step(
    "Softmax (rows sum to 1: abar = abar2 = 1): the 11^T-direction terms are A-independent "
    "(they shift F_V by a function of alpha only)", e1_soft_const, "e1_{11T}"
)
lin = sp.simplify(e1_final.subs({abar: m, a2bar: m**2, r: m**2, b2: m**4, w: m**3}))
lin_closed = g * m**2 / kappa * (1 / (2 * (1 + g * m**2) ** 3) + g * m**2 / (4 * alpha * (1 + g * m**2) ** 2))
assert sp.simplify(lin - lin_closed) == 0
der.step(
    "Linear attention A = m J (abar = m, abar2 = r = m^2, b2 = m^4, w = m^3): the mean-count part cancels and "
    "the fluctuation part collapses (the three Pi terms combine to g m^2 (q - g m^2)^2/(2 q^3))",
    lin_closed, "e1_{lin}",
)

# numerical cross-check of the NumPy implementation against this expression
from copyhead.theory.finite_size import e1 as e1_numpy, e1_statistics  # noqa: E402

f_num = sp.lambdify((m, r, abar, a2bar, b2, w, alpha, g, kappa), e1_final, "numpy")
rng = np.random.default_rng(7)
worst = 0.0
for _ in range(20):
    Tn = int(rng.integers(2, 7))
    A_ = rng.standard_normal((Tn, Tn)) * rng.uniform(0.1, 2.0)
    al, s2, ka = rng.uniform(0.1, 3.0), rng.uniform(0.1, 3.0), rng.uniform(0.2, 2.0)
    ref = f_num(*e1_statistics(A_), al, s2 * al, ka)
    worst = max(worst, abs(e1_numpy(A_, al, s2, ka) - ref) / max(1.0, abs(ref)))
assert worst < 1e-12, worst
der.step(f"theory.finite_size.e1 equals this expression on 20 random A (max rel. diff {worst:.1e})")

if __name__ == "__main__":
    der.emit("06_finite_size")
    print("\nFinal formula as theory/finite_size.py evaluates it (q = 1 + g r, g = sigma2 alpha):")
    print("  e1 =", sp.pycode(e1_final))
