"""Step 7: finite-V corrections used to compare with training (MAP) and with linear attention.

(a) MAP over W keeps only the quadratic form of the evidence, so its O(V) term is e1 without the
    three log-det terms (derivations/06_finite_size.py gives e1 term by term):
        e1_MAP = e1 - 1/2 log q + 1/2 log(1 + g abar2) - g^2 b2/(4 alpha kappa q^2).
    Checked against the exact MAP objective at V = 32, 64 in tests/theory/test_finite_size_map.py.
(b) Linear attention at finite V: the row-sum terms of e1 favour a uniform component, so the
    finite-V theory minimises F - e1/V on S = m J + (a/T) 11^T (circulant: singular values |m|
    (T-1 times) and |m + a|). At V = inf, dF/da = dF/dm / T on a = 0, so a = 0 stays stationary
    and the 1-D reduction S = m J is recovered (printed below).
Run: python derivations/07_map_and_linear_family.py  (writes derivations/out/07_map_and_linear_family.tex)
"""
import sympy as sp

from copyhead.theory.symbolic.energy import energy_limit
from copyhead.theory.symbolic.report import Derivation
from copyhead.theory.symbolic.symbols import T, alpha, kappa, m, nu, sigma2

der = Derivation("MAP finite-size term and the finite-V linear family")
g, q, q1, r, abar, abar2, b2, w = sp.symbols("g q q1 r abar abar2 b2 w", positive=True)
logdet_terms = {
    "V-1 directions of Pi (log-det)": sp.log(q) / 2,
    "the 11^T direction (log-det)": -sp.log(1 + g * abar2) / 2,
    "E logdet - logdet E (C fluctuations)": g**2 * b2 / (4 * alpha * kappa * q**2),
}
quad_terms = {
    "V-1 directions of Pi (quadratic form)": -alpha / 2 * g * m**2 / q,
    "the 11^T direction (quadratic form)": alpha / 2 * g * abar**2 / (1 + g * abar2),
    "noise fitting E tr(dD^T dD)": g * r / (2 * kappa * q),
    "cross term E tr(dC dD)": -g**2 * m * w / (kappa * q**2),
    "C fluctuations in the quadratic form": g**3 * m**2 * b2 / (2 * kappa * q**3),
}
for name, t in {**logdet_terms, **quad_terms}.items():
    der.step(name, t)
e1 = sum(logdet_terms.values()) + sum(quad_terms.values())
e1_map = sum(quad_terms.values())
der.step("e1 (posterior): all terms", e1, "e1")
der.step("e1_MAP: the quadratic-form terms only (max over W drops the Occam log-det)", e1_map, "e1_MAP")

# (b) the two-direction linear family
Tn = 4
Js = sp.Matrix(Tn, Tn, lambda i, j: 1 if j == (i - 1) % Tn else 0)
ms, a_ = sp.symbols("m a", positive=True)
S = ms * Js + a_ / Tn * sp.ones(Tn, Tn)
sv2 = sp.Matrix(S.T * S).eigenvals()
der.step(f"Squared singular values of S = m J + (a/T) 11^T at T = {Tn} (eigenvalue: multiplicity)", sv2)
assert set(sp.simplify(k) for k in sv2) == {ms**2, sp.expand((ms + a_) ** 2)} or set(sv2) == {ms**2, (ms + a_) ** 2}
j = sp.Function("j")
mA = m + sp.Symbol("a") / T
rA = m**2 + 2 * m * sp.Symbol("a") / T + sp.Symbol("a") ** 2 / T
aa = sp.Symbol("a")
F = nu * ((T - 1) * j(m) + j(m + aa)) - energy_limit(mA, rA, sigma2 * alpha, alpha)
dFda = sp.simplify(sp.diff(F, aa).subs(aa, 0))
dFdm = sp.simplify(sp.diff(F, m).subs(aa, 0))
der.step("dF/da at a = 0", dFda, "dF/da")
der.step("dF/dm at a = 0", dFdm, "dF/dm")
ratio = sp.simplify(dFdm - T * dFda)
der.step("dF/dm - T dF/da at a = 0 (zero: a = 0 is stationary wherever S = mJ is)", ratio)
assert ratio == 0
der.emit("07_map_and_linear_family")
