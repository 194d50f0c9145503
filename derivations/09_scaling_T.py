"""Step 9: the transition for T -> infinity at fixed nu, sigma2, kappa (issue 11).

How much data until the copy head appears, as the context length T grows? alpha = P T/(kappa V^2),
so the critical number of training tokens is P_c T = kappa V^2 alpha_c and the critical number of
sequences P_c = kappa V^2 alpha_c / T. This script derives alpha_c(T) and the spinodals for each
attention, prior and objective, with their first corrections, starting from the reduced free
energies of step 4 (theory/symbolic/reduced.py), and checks them numerically against the
brute-force scan of numerics/bruteforce.py (plain NumPy F, minima by direct evaluation).

Outline (softmax; L = ln T, c = 1/(nu sigma2), a = alpha/(nu T), A = alpha/(nu T^2)):
 1. exact rewriting: z = g m^2/(1 + g delta), delta = (1-m)^2/(T-1) -> energy (alpha/2)/(1+z);
 2. where the copy minimum sits: m^2 ~ z/T, e^{2s} = z (T-1)[1 + (T-1)/(g (1-m)^2)] -> s = (L + ln z + ln(1+c/a))/2;
    the copy weight at the transition is NOT O(1): m ~ sqrt(L/T);
 3. asymptotic reduced problem Phi(z) = j(s) - (a/2) z/(1+z); stationarity, coexistence, fold;
 4. its expansion in 1/L (qk posterior, qk MAP, gaussian);
 5. the uniform regime (alpha ~ nu T^2): the upper spinodal with its 1/T correction;
 6. linear attention: exact closed forms;
 7. numerical checks against the brute-force scan.
Run: python derivations/09_scaling_T.py  (writes derivations/out/09_scaling_T.tex)
NumPy closed forms: theory/scaling.py; tests: tests/theory/test_scaling.py.
"""
import math

import sympy as sp

from copyhead.theory.symbolic.reduced import reduced_free_energy
from copyhead.theory.symbolic.report import Derivation
from copyhead.theory.symbolic.symbols import Sg, T, alpha, nu, s, sigma2

eps, ell, c, tau, A = sp.symbols("epsilon ell c tau A", positive=True)  # eps = 1/ln T, ell = ln ln T, tau = 1/T
Sv, w = sp.symbols("S w", positive=True)
_a_qk = (1 + sp.sqrt(1 + 4 * Sv**2)) / 2
RATES = {  # j(S) for S > 0
    "qk_posterior": _a_qk - 1 - sp.log(_a_qk) / 2,
    "qk_map": Sv,
    "gaussian": Sv**2 / 2,
}


def _large_s(j, order):
    """Large-S expansion of j and j' (in w = 1/S)."""
    jw = sp.series(j.subs(Sv, 1 / w), w, 0, order).removeO()
    jpw = sp.series(sp.diff(j, Sv).subs(Sv, 1 / w), w, 0, order).removeO()
    return jw, jpw


def _ser(e, n):
    e = sp.series(e, eps, 0, n).removeO()
    return sp.expand(e.subs(sp.log(eps), -ell))


def coexistence_series(key, K=2):
    """alpha_c/(nu T) = 1/eps + a0 + a1 eps + ... for the qk rates (eps = 1/L, ell = ln L).

    Unknowns s = L/2 + ell/2 + s0 + s1 eps..., z = L + z0 + ..., a = L + a0 + ...; equations:
    stationarity a z = j'(s)(1+z)^2, coexistence j(s) = j'(s)(1+z)/2, 2s = L + ln z + ln(1 + c/a).
    """
    ss, zz, aa = sp.symbols(f"s0:{K}"), sp.symbols(f"z0:{K}"), sp.symbols(f"a0:{K}")
    S = 1 / (2 * eps) + ell / 2 + sum(ss[i] * eps**i for i in range(K))
    z = 1 / eps + sum(zz[i] * eps**i for i in range(K))
    a = 1 / eps + sum(aa[i] * eps**i for i in range(K))
    jw, jpw = _large_s(RATES[key], K + 2)
    js, jps = jw.subs(w, 1 / S), jpw.subs(w, 1 / S)
    eqS = _ser((a * z - jps * (1 + z) ** 2) * eps**2, K + 1)
    eqC = _ser((js - jps * (1 + z) / 2) * eps, K + 1)
    eqD = _ser(2 * S - 1 / eps - sp.log(z * eps) - ell - sp.log(1 + c / a), K)
    sol = {}
    for k in range(K):
        eqs = [sp.expand(eqS.subs(sol)).coeff(eps, k + 1), sp.expand(eqC.subs(sol)).coeff(eps, k + 1),
               sp.expand(eqD.subs(sol)).coeff(eps, k)]
        r = sp.solve(eqs, [ss[k], zz[k], aa[k]], dict=True)
        sol.update({kk: sp.simplify(v) for kk, v in r[0].items()})
    return [sp.simplify(sol[aa[k]]) for k in range(K)], [sp.simplify(sol[zz[k]]) for k in range(K)], \
        [sp.simplify(sol[ss[k]]) for k in range(K)]


def gaussian_coexistence_series(K=2):
    """Gaussian rate j = s^2/2: z = s - 1 and a = s^3/(s - 1) exactly; s from
    2s = L + ln(s - 1) + ln(1 + c/a). Returns (a(eps) series, s(eps) series), ell2 = ln(L/2)."""
    ell2 = sp.Symbol("ell2", positive=True)  # ln(L/2)
    sig = sp.symbols(f"sigma0:{K}")
    S = 1 / (2 * eps) + ell2 / 2 + sum(sig[i] * eps**i for i in range(K))
    a = S**3 / (S - 1)
    eq = sp.series(2 * S - 1 / eps - sp.log((S - 1) * 2 * eps) - ell2 - sp.log(1 + c / a), eps, 0, K).removeO()
    eq = sp.expand(eq.subs(sp.log(eps), sp.log(2) - ell2 + sp.log(eps) - sp.log(2 * eps) + sp.log(eps)))
    sol = {}
    for k in range(K):
        r = sp.solve(sp.expand(eq.subs(sol)).coeff(eps, k), sig[k])
        sol[sig[k]] = sp.simplify(r[0])
    a_ser = sp.expand(sp.series((S**3 / (S - 1)).subs(sol), eps, 0, 1).removeO())
    return a_ser, S.subs(sol), ell2


def lower_spinodal_series(key, K=2):
    """Fold of the stationary curve a z = j'(s)(1+z)^2 (d/dz at fixed a): a = a0 + a1 eps + ..."""
    zz, aa = sp.symbols(f"z0:{K}"), sp.symbols(f"a0:{K}")
    z = sum(zz[i] * eps**i for i in range(K))
    a = sum(aa[i] * eps**i for i in range(K))
    _, jpw = _large_s(RATES[key], K + 3)  # s ~ L/2 is large: j' and j'' as series in 1/s (fast)
    jp = jpw.subs(w, 1 / Sv)
    jpp = sp.diff(jp, Sv)
    S = (1 / eps + sp.log(z) + sp.log(1 + c / a)) / 2
    G = a * z - jp.subs(Sv, S) * (1 + z) ** 2
    Gz = a - jpp.subs(Sv, S) * (1 + z) ** 2 / (2 * z) - 2 * jp.subs(Sv, S) * (1 + z)
    sol = {}
    ser = lambda e: sp.expand(sp.series(e, eps, 0, K).removeO())
    eqs = [ser(G), ser(Gz)]
    for k in range(K):
        cur = [sp.expand(e.subs(sol)).coeff(eps, k) for e in eqs]
        r = sp.solve(cur, [zz[k], aa[k]], dict=True)
        r = [x for x in r if k > 0 or (x[zz[0]].is_positive is not False and x[aa[0]].is_positive is not False)]
        sol.update({kk: sp.simplify(v) for kk, v in r[0].items()})
    return [sp.simplify(sol[aa[k]]) for k in range(K)]


def gaussian_lower_spinodal_series(K=3):
    """Gaussian rate: G = a z - s(1+z)^2 and G_z = 0 give exactly z = (s - 1/2)/(s + 1/2),
    a = 4 s^3/(s^2 - 1/4); s from 2s = L + ln z + ln(1 + c/a). Returns the series of a in eps = 1/L."""
    sig = sp.symbols(f"sigma0:{K}")
    S = 1 / (2 * eps) + sum(sig[i] * eps**i for i in range(K))
    zS, aS = (S - sp.Rational(1, 2)) / (S + sp.Rational(1, 2)), 4 * S**3 / (S**2 - sp.Rational(1, 4))
    eq = sp.expand(sp.series(2 * S - 1 / eps - sp.log(zS) - sp.log(1 + c / aS), eps, 0, K).removeO())
    sol = {}
    for k in range(K):
        r = sp.solve(sp.expand(eq.subs(sol)).coeff(eps, k), sig[k])
        sol[sig[k]] = sp.simplify(r[0])
    return sp.expand(sp.series(aS.subs(sol), eps, 0, K - 1).removeO())


def uniform_regime(prior, objective):
    """Phi_s = (d/ds) (F - alpha/2)/(nu T) at alpha = A nu T^2, expanded in tau = 1/T: (order 0, order 1)."""
    F = reduced_free_energy("softmax", prior, objective).subs(Sg, 1)
    Phi = ((F - alpha / 2) / (nu * T)).subs(alpha, A * nu * T**2).subs(T, 1 / tau)
    ser = sp.series(sp.diff(Phi, s), tau, 0, 2).removeO()
    return sp.simplify(ser.coeff(tau, 0)), sp.simplify(ser.coeff(tau, 1).subs(nu * sigma2, 1 / c))


def derive():
    der = Derivation("Large-T asymptotics of the copy-head transition (T -> infinity at fixed nu, sigma2, kappa)")
    mm, g = sp.symbols("m g", positive=True)
    delta = (1 - mm) ** 2 / (T - 1)
    r = mm**2 + delta
    z = g * mm**2 / (1 + g * delta)
    der.step("Softmax on the symmetric ansatz: r = m^2 + delta with delta = (1-m)^2/(T-1). Define "
             "z = g m^2/(1 + g delta) (g = sigma2 alpha).", z, "z")
    E = alpha / 2 * (1 + g * delta) / (1 + g * r)
    assert sp.simplify(E - alpha / 2 / (1 + z)) == 0
    assert sp.simplify((1 + g * r) - (1 + g * delta) * (1 + z)) == 0
    der.step("Exactly, the energy term of F is (alpha/2)(1 + g delta)/(1 + g r) = (alpha/2)/(1+z), and the "
             "Occam term 1/2 log(1 + g r) = 1/2 log(1 + g delta) + 1/2 log(1+z) (both checked symbolically).",
             alpha / 2 / (1 + sp.Symbol("z")), "E")
    e2s = (T - 1) ** 2 * mm**2 / (1 - mm) ** 2  # from m/(1-m) = e^s/(T-1)
    assert sp.simplify(e2s - z * (T - 1) * (1 + (T - 1) / (g * (1 - mm) ** 2))) == 0
    der.step("Where the copy minimum sits: m/(1-m) = e^s/(T-1) and m^2 = z(1 + g delta)/g give exactly "
             "e^{2s} = z (T-1) [1 + (T-1)/(g (1-m)^2)]. With alpha = a nu T (g = sigma2 nu a T) and m -> 0 this is "
             "e^{2s} = z T (1 + c/a) (1 + O(m) + O(1/T)), c = 1/(nu sigma2):",
             (sp.log(T) + sp.log(sp.Symbol("z")) + sp.log(1 + c / sp.Symbol("a"))) / 2, "s")
    der.step("So in the copy regime m^2 ~ z (1/(sigma2 alpha) + 1/T): for z = O(ln T) the copy weight is "
             "m ~ sqrt(ln T / T) -> 0, and s ~ (ln T + ln ln T)/2, not ln T. The rate nu (T-1) j(s) ~ nu T (ln T)/2 "
             "is balanced by the energy gain (alpha/2) z/(1+z) ~ alpha/2, hence alpha_c ~ nu T ln T (qk prior).")
    zs, a_s = sp.symbols("z a", positive=True)
    J = sp.Function("j")
    S_of = (sp.log(T) + sp.log(zs) + sp.log(1 + c / a_s)) / 2
    Phi = J(S_of) - a_s / 2 * zs / (1 + zs)
    der.step("Reduced problem per nu T relative to the uniform state (s = 0, z = O(1/T)); dropped terms: "
             "Occam log(1+z)/(2 nu T) and O(m) = O(sqrt(ln T/T)):", Phi, "Phi(z)")
    dPhi = sp.simplify(sp.diff(Phi, zs))
    der.step("Stationarity dPhi/dz = 0", dPhi, "dPhi/dz")
    der.step("=> a z = j'(s)(1+z)^2; coexistence Phi = 0 => j(s) = j'(s)(1+z)/2; lower spinodal: the fold "
             "(d/dz of a z - j'(s)(1+z)^2 = 0 at fixed a).")
    for key, label in (("qk_posterior", "qk prior, posterior (j = a_s - 1 - ln(a_s)/2)"),
                       ("qk_map", "qk prior, MAP (j = |s|, no Occam term)")):
        jw, jpw = _large_s(RATES[key], 4)
        der.step(f"{label}: large-s expansion of j (w = 1/s)", sp.simplify(jw), "j")
        a_k, z_k, s_k = coexistence_series(key)
        der.step(f"{label}: coexistence, alpha_c/(nu T) = L + a0 + a1/L + O(ell^2/L^2) (L = ln T, ell = ln L)",
                 sp.Matrix(a_k), "(a0, a1)")
        der.step(f"{label}: z at coexistence = L + z0 + z1/L + ...", sp.Matrix(z_k[:2]), "(z0, z1)")
        lo = lower_spinodal_series(key)
        der.step(f"{label}: lower spinodal alpha/(nu T) = a0 + a1/L + ... (z = 1 at leading order)", sp.Matrix(lo),
                 "(a0, a1)")
    a_g, S_g, ell2 = gaussian_coexistence_series()
    der.step("Gaussian prior (posterior and MAP alike: the Occam term is O(ln T/T)): j = s^2/2 gives exactly "
             "z = s - 1, a = s^3/(s-1) with 2s = L + ln(s-1) + ln(1 + c/a). Expansion of s (ell2 = ln(L/2)):",
             sp.simplify(S_g), "s")
    der.step("Gaussian: alpha_c/(nu T) in powers of L = 1/eps (ell2 = ln(L/2))", sp.collect(a_g, eps), "a")
    der.step("Gaussian: lower spinodal, exactly z = (s - 1/2)/(s + 1/2) and a = 4 s^3/(s^2 - 1/4) with "
             "2s = L + ln z + ln(1 + c/a); alpha/(nu T) in powers of eps = 1/L:", gaussian_lower_spinodal_series(), "a")
    for prior, obj in (("gaussian", "posterior"), ("gaussian", "map"), ("qk", "posterior"), ("qk", "map")):
        P0, P1 = uniform_regime(prior, obj)
        der.step(f"Uniform regime alpha = A nu T^2, s = O(1), {prior}/{obj}: dPhi/ds = order0 + order1/T", P0,
                 "order 0")
        der.step("  order 1/T (the same form 2 A e^{4s} - A e^{2s} - j'(s) + c e^{2s} for every case)", P1,
                 "order 1")
    s0q = sp.sqrt((sp.sqrt(80) - 4) / 32)
    der.step("Upper spinodal (the uniform minimum disappears): fold of j'(s) = A e^{2s}, i.e. j''(s0) = 2 j'(s0), "
             "A0 = j'(s0) e^{-2 s0}; first order A1 = 2 A0 (e^{2 s0} - 1) + c. Gaussian: s0 = 1/2, A0 = 1/(2e), "
             "A1 = 1 - 1/e + c. qk posterior: 16 s0^4 + 4 s0^2 - 1 = 0:", s0q, "s0")
    lam = 2 * s0q / (1 + sp.sqrt(1 + 4 * s0q**2))
    der.step("  qk posterior A0", sp.N(lam * sp.exp(-2 * s0q), 12), "A0")
    der.step("  MAP qk: the kink, F_s(0+) ∝ 1 - A + (A - 1 + c)/T: A = 1 + c/T, the expansion of the exact "
             "(nu T^2/2)(1 + sqrt(1 + 4/(nu sigma2 T))).")
    # linear attention
    m_, u_ = sp.symbols("m u", positive=True)
    gl = sigma2 * alpha
    Fmapqk = nu * T * m_ + alpha / 2 / (1 + gl * m_**2)
    wv, kv = sp.symbols("w k", positive=True)
    der.step("Linear attention: F_lin depends on T only through nu T; exact closed forms at every T. "
             "Posterior (both priors): alpha_c = (1 + sqrt(1 + 4 nu T/sigma2))/2 ~ sqrt(nu T/sigma2) + 1/2. "
             "MAP gaussian: alpha_c = sqrt(nu T/sigma2). MAP qk:", Fmapqk, "F_MAP")
    Fw = kv * sp.sqrt(wv) - wv / (1 + wv)  # F/(alpha/2) - 1 with w = g m^2, k = 2 nu T/(sigma alpha^{3/2})
    sol = sp.solve([Fw, sp.diff(Fw, wv)], [wv, kv], dict=True)
    der.step("  with w = g m^2 and k = 2 nu T/(sigma alpha^{3/2}): coexistence F = F(0) and dF/dw = 0", sp.Matrix(
        [sol[0][wv], sol[0][kv]]), "(w, k)")
    kmax = sp.simplify(sp.Max(*[sp.simplify((2 * sp.sqrt(wv) / (1 + wv) ** 2).subs(wv, x))
                                for x in sp.solve(sp.diff(sp.sqrt(wv) / (1 + wv) ** 2, wv), wv)]))
    der.step("  => alpha_c = (4 nu T/sigma)^{2/3}; the copy minimum exists while k <= max_w 2 sqrt(w)/(1+w)^2 "
             "(w = 1/3):", kmax, "k_max")
    der.step("  => lower spinodal (16 sqrt(3) nu T/(9 sigma))^{2/3}; m = 0 is always a local minimum (slope nu T).")
    der.step("Critical data amount (alpha = P T/(kappa V^2)), at fixed V, nu = N/V^2, sigma2, kappa: softmax with the "
             "qk prior: P_c T = kappa V^2 alpha_c ~ kappa N T ln T tokens (P_c ~ kappa N ln T sequences), posterior "
             "and MAP; softmax with i.i.d. Gaussian scores: ~ kappa N T ln^2 T / 4 tokens; linear attention: "
             "~ kappa V^2 sqrt(nu T/sigma2) (posterior, MAP gaussian) or kappa V^2 (4 nu T/sigma)^{2/3} (MAP qk).")
    return der


def numerical_check(Ts=(1_000, 10_000, 100_000), nu_=0.5, s2=0.1):
    """theory/scaling.py against the brute-force scan (numerics/bruteforce.py), at the default nu, sigma2."""
    from copyhead.numerics.bruteforce import brute_force_transition
    from copyhead.theory import scaling
    from copyhead.theory.model import Model

    rows = []
    for prior, obj in (("qk", "posterior"), ("qk", "map"), ("gaussian", "posterior")):
        for T_ in Ts:
            bf = brute_force_transition(Model(T=T_, nu=nu_, sigma2=s2, prior=prior, objective=obj))
            law = scaling.law_values(T_, nu_, s2, "softmax", prior, obj)
            rows.append((prior, obj, T_, bf, law))
    return rows


if __name__ == "__main__":
    derive().emit("09_scaling_T")
    print("\nNumerical check against the brute-force scan (plain NumPy F, minima by direct evaluation),"
          " nu = 0.5, sigma2 = 0.1; relative errors of the asymptotic reduced problem / of the explicit law:")
    print(f"{'prior/objective':20s} {'T':>7s} {'alpha_c (scan)':>15s} {'asympt.':>9s} {'leading':>9s} {'1st corr':>9s}"
          f" {'sp_low':>9s} {'sp_high':>9s} {'m_above':>9s}")
    for prior, obj, T_, bf, law in numerical_check():
        rel = lambda x, y: (x - y) / y
        print(f"{prior + '/' + obj:20s} {T_:7d} {bf.alpha_c:15.8g} {rel(law['asymptotic'], bf.alpha_c):+9.2e} "
              f"{rel(law['leading'], bf.alpha_c):+9.2e} {rel(law['first_correction'], bf.alpha_c):+9.2e} "
              f"{rel(law['spinodal_low_asymptotic'], bf.alpha_spinodal_low):+9.2e} "
              f"{rel(law['spinodal_high'], bf.alpha_spinodal_high):+9.2e} {rel(law['m_above'], bf.m_above):+9.2e}")
    print(f"\nln 2 = {math.log(2):.6f}; the copy weight at the jump m_above -> 0 like sqrt(ln T/T).")
