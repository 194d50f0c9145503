"""SymPy derivations of the window copier (``derivations/10_window_energy.py``, ``11_window_prior.py``,
``12_window_reduced.py``).

* :func:`derive_window_energy` -- the ``V -> inf`` energy ``e(M, R)`` from the block evidence (W1)
  with mean data counts, for concrete ``(H, K)``: every ``V x V`` block is ``a Pi + b 11^T``, so
  the ``HV x HV`` log-determinant and quadratic form reduce to ``H x H`` matrices on ``Pi``
  (multiplicity ``V - 1``) and on ``1/sqrt(V)``; the ``V^2`` coefficient is checked to equal (W2).
* :func:`derive_circulant_rate` -- singular values of a circulant score matrix with several
  shifted diagonals from its Fourier modes (checked symbolically for small ``T``).
* :func:`derive_window_reduced` -- the reduced free energy over the heads' offset logits and its
  reduction to the single-head ``F_soft(s)`` at ``H = K = 1``.

NumPy versions: :mod:`copyhead.theory.window_energy`; the reduced free energy with its exact
derivatives: :mod:`copyhead.numerics.window_free`.
"""
from __future__ import annotations

import sympy as sp

from .energy import energy_limit
from .prior import rate_expr
from .reduced import softmax_m, softmax_r
from .report import Derivation
from .symbols import P, T, V, alpha, g, kappa, nu, s, sigma2


def order_parameter_symbols(H: int, K: int):
    """Symbol matrices ``M`` (``H x K``, ``m_hk``), symmetric ``R`` (``r_hh'``), row-sum overlaps
    ``Rho`` (``rho_hh' = (1/T) sum_t a_ht a_h't``) and mean row sums ``Abar`` (``H x 1``)."""
    M = sp.Matrix(H, K, lambda h, k: sp.Symbol(f"m_{h + 1}{k + 1}", real=True))

    def sym(name):
        return sp.Matrix(H, H, lambda a, b: sp.Symbol(f"{name}_{min(a, b) + 1}{max(a, b) + 1}", real=True))

    return M, sym("r"), sym("rho"), sp.Matrix(H, 1, lambda h, _: sp.Symbol(f"abar_{h + 1}", real=True))


def window_energy_closed_form(M, R, K: int, g_=g, alpha_=alpha):
    """Eq. (W2): ``-(K/2) log det(I + gR) - (alpha/2)(K - g tr(M^T (I + gR)^{-1} M))``."""
    X = sp.eye(R.shape[0]) + g_ * R
    return -sp.Rational(K, 2) * sp.log(X.det()) - alpha_ / 2 * (K - g_ * (M.T * X.inv() * M).trace())


def derive_window_energy(H: int = 2, K: int = 2):
    """Derive ``e(M, R)`` for ``H`` heads and ``K`` parents from the evidence with mean counts.

    Returns ``(e, e1_mean, der)``: the ``V^2`` coefficient (equal to eq. (W2); AssertionError
    otherwise), the ``V^1`` coefficient of the mean-count evidence, and the derivation.
    """
    der = Derivation(f"Window copier: V -> infinity limit of the evidence (H = {H} heads, K = {K} parents)")
    der.step(
        "Readout on the concatenated heads: z_t = concat_h z_ht in R^{HV}, one W in R^{KV x HV} with i.i.d. "
        "N(0, sigma2/V) entries (= independent W_h), KV output channels, each a GP given A. Per channel, "
        "Woodbury and the determinant lemma (as in 01_evidence, now with HV inputs) give (W1): "
        "log p = -(KV/2) logdet(I + sigma2 C/(V kappa)) + tr(D^T Lam^-1 D)/(2 kappa^2) - PTK/(2 kappa) "
        "- (PTKV/2) log(2 pi kappa), C = Z^T Z (blocks C_hh' = sum B^{hh'}_ss' G_ss', B^{hh'} = A_h^T A_h'), "
        "D = Z^T Y (blocks D_hk = sum_ts A_h,ts G_{s,t-k}), Lam = (V/sigma2) I + C/kappa."
    )
    M, R, Rho, Abar = order_parameter_symbols(H, K)
    der.step(
        "Mean counts E[G_ss'] = P (delta_ss' I/V + (1-delta_ss') 11^T/V^2): every V x V block is a Pi + b 11^T, "
        "with eigenvalue a on Pi (multiplicity V-1) and a + V b on 1/sqrt(V). The H x H (or H x K) matrices "
        "of these eigenvalues:"
    )
    Cpi = der.step("Pi-eigenvalues of E[C_hh'] (tr A_h^T A_h' = T r_hh')", P * T * R / V, "C_Pi")
    Cone = der.step("1-eigenvalues of E[C_hh'] (1^T A_h^T A_h' 1 = T rho_hh')", P * T * Rho / V, "C_1")
    Dpi = der.step("Pi-eigenvalues of E[D_hk] (sum_t A_h,t,t-k = T m_hk)", P * T * M / V, "D_Pi")
    Done = der.step("1-eigenvalues of E[D_hk] (sum_ts A_h,ts = T abar_h)", P * T * Abar * sp.ones(1, K) / V, "D_1")
    I = sp.eye(H)
    sub = {P: alpha * kappa * V**2 / T, sigma2: g / alpha}
    ent = lambda Mx: Mx.subs(sub).applyfunc(sp.cancel)  # noqa: E731
    X, X1 = I + g * R, I + g * Rho
    # with P = alpha kappa V^2/T and sigma2 = g/alpha the V-dependence factors out of every block
    for lhs, rhs, name in ((I + sigma2 * Cpi / (V * kappa), X, "I + sigma2 C_Pi/(V kappa)"),
                           (I + sigma2 * Cone / (V * kappa), X1, "I + sigma2 C_1/(V kappa)"),
                           ((V / sigma2) * I + Cpi / kappa, alpha * V / g * X, "Lam_Pi"),
                           ((V / sigma2) * I + Cone / kappa, alpha * V / g * X1, "Lam_1"),
                           (Dpi, alpha * kappa * V * M, "D_Pi"), (Done, alpha * kappa * V * Abar * sp.ones(1, K), "D_1")):
        if (ent(lhs) - rhs).applyfunc(sp.cancel) != sp.zeros(*rhs.shape):
            raise AssertionError(f"block {name} does not factor")
        der.step(f"Substitute P = alpha kappa V^2/T, sigma2 = g/alpha: {name}", rhs, name)
    Xi, X1i = X.inv(), X1.inv()
    logdet = (V - 1) * sp.log(X.det()) + sp.log(X1.det())
    quad = ((V - 1) * (g / (alpha * V)) * (alpha * kappa * V) ** 2 * (M.T * Xi * M).trace()
            + (g / (alpha * V)) * (alpha * kappa * V) ** 2 * ((Abar * sp.ones(1, K)).T * X1i * (Abar * sp.ones(1, K))).trace())
    logp = -sp.Rational(K, 2) * V * logdet + quad / (2 * kappa**2) - alpha * V**2 * K / 2
    der.step("log p(Y|A) with mean counts (constant dropped): (V-1) copies of the Pi block, one 1 block; "
             "H x H determinants and inverses only", logp, "log p")
    poly = sp.Poly(sp.expand(logp), V)
    if poly.degree() != 2:
        raise AssertionError("mean-count window evidence must be quadratic in V")
    der.step(f"A polynomial of degree {poly.degree()} in V", None)
    e = window_energy_closed_form(M, R, K)
    diff = sp.cancel(sp.expand(poly.coeff_monomial(V**2) - e))
    der.step("Leading order V^2 (the V^2 coefficient minus this closed form cancels to 0): eq. (W2)", e, "e(M,R)")
    if diff != 0:
        raise AssertionError(f"window energy derivation disagrees with eq. (W2): {diff}")
    D1 = Abar * sp.ones(1, K)
    ref1 = (sp.Rational(K, 2) * sp.log(X.det()) - sp.Rational(K, 2) * sp.log(X1.det())
            - alpha / 2 * g * (M.T * Xi * M).trace() + alpha / 2 * g * (D1.T * X1i * D1).trace())
    if sp.cancel(sp.expand(poly.coeff_monomial(V) - ref1)) != 0:
        raise AssertionError("order-V mean-count term disagrees with its closed form")
    der.step("Order V, mean counts only (data fluctuations add more; cf. 06_finite_size for H = K = 1)", ref1, "e1_mean")
    if H == 1 and K == 1:
        single = energy_limit(M[0, 0], R[0, 0])
        if sp.simplify(e - single) != 0:
            raise AssertionError("H = K = 1 does not reduce to e(m, r)")
        der.step("H = K = 1: e(M, R) = e(m, r) of 02_energy_limit", single, "e(m,r)")
    return e, ref1, der


def derive_sum_target_contrast():
    """Why the target must be the concatenation: the sum target cannot tell heads apart."""
    der = Derivation("Window copier: concatenated versus summed parents (H = K = 2)")
    spec_M, spec_R = sp.eye(2), sp.eye(2)
    alike_M = sp.Matrix([[sp.Rational(1, 2)] * 2] * 2)
    alike_R = alike_M.copy()
    der.step("Specialised heads A_1 = J, A_2 = J^2: M = I, R = I", None)
    der.step("Alike heads A_1 = A_2 = (J + J^2)/2: M = (1/2) 11^T, R = (1/2) 11^T", None)
    def tidy(ex):  # factor the arguments of the logs, then split them: log((1+g)^2) -> 2 log(1+g)
        ex = ex.replace(sp.log, lambda a: sp.log(sp.factor(a)))
        return sp.simplify(sp.expand_log(ex, force=True))

    e_spec = tidy(window_energy_closed_form(spec_M, spec_R, 2))
    e_alike = tidy(window_energy_closed_form(alike_M, alike_R, 2))
    der.step("Concatenated target, specialised", e_spec, "e")
    der.step("Concatenated target, alike", e_alike, "e")
    diff = tidy(e_spec - e_alike)
    der.step("Difference (specialised - alike): positive once alpha g > 2 (1+g) log(1+g), i.e. whenever "
             "the data term matters: the concatenated target rewards the division of labour", diff, "Delta e")
    ref = (alpha * g - 2 * (1 + g) * sp.log(1 + g)) / (2 * (1 + g))
    if sp.simplify(diff - ref) != 0:
        raise AssertionError("concatenated-target contrast")

    def sum_energy(Mm, Rr):
        mu = Mm * sp.ones(2, 1)
        return window_energy_closed_form(mu, Rr, 1) - alpha / 2 * (2 - 1)

    s_spec, s_alike = tidy(sum_energy(spec_M, spec_R)), tidy(sum_energy(alike_M, alike_R))
    der.step("Sum target y = x_{t-1} + x_{t-2}: only mu_h = sum_k m_hk enters; specialised", s_spec, "e_sum")
    der.step("Sum target, alike", s_alike, "e_sum")
    dsum = tidy(s_spec - s_alike)
    der.step("Difference (specialised - alike) = -(1/2) log(1+g) < 0 for every alpha: the data terms are "
             "equal and identical heads win by the Occam term", dsum, "Delta e_sum")
    if sp.simplify(dsum + sp.log(1 + g) / 2) != 0:
        raise AssertionError("sum-target contrast")
    return der


def derive_circulant_rate(T_: int = 4):
    """Singular values of ``S = sum_k w_k J^k`` from the Fourier modes, checked symbolically at ``T = T_``."""
    der = Derivation(f"Prior rate of circulant positional scores (symbolic check at T = {T_})")
    w = sp.symbols(f"w0:{T_}", real=True)
    J = sp.Matrix(T_, T_, lambda t, u: 1 if u == (t - 1) % T_ else 0)
    S = sp.zeros(T_, T_)
    for k in range(T_):
        S += w[k] * J**k
    der.step("S = sum_k w_k J^k, (J^k)_{t,t-k} = 1: the logit of offset k = t - s", S, "S")
    der.step("S is normal (S S^T - S^T S)", sp.simplify(S * S.T - S.T * S), "S S^T - S^T S")
    om = sp.exp(-2 * sp.pi * sp.I / T_)
    lam = [sp.expand(sum(w[k] * om ** (j * k) for k in range(T_))) for j in range(T_)]
    der.step("S f_j = lambda_j f_j with f_j(t) = exp(2 pi i j t/T): lambda_j = sum_k w_k exp(-2 pi i j k/T)",
             sp.Matrix(lam), "lambda")
    for j in range(T_):
        f = sp.Matrix([sp.exp(2 * sp.pi * sp.I * j * t / T_) for t in range(T_)])
        if sp.simplify(sp.expand(S * f - lam[j] * f)) != sp.zeros(T_, 1):
            raise AssertionError(f"Fourier mode {j} is not an eigenvector")
    mod2 = [sp.simplify(sp.expand(l * sp.conjugate(l))) for l in lam]
    x = sp.Symbol("x")
    charpoly = sp.expand((S.T * S - x * sp.eye(T_)).det())
    prod = sp.expand(sp.prod([(mod2[j] - x) for j in range(T_)]))
    if sp.simplify(charpoly - prod) != 0:
        raise AssertionError("singular values of the circulant are not |lambda_j|")
    der.step("Eigenvalues of S^T S are |lambda_j|^2 (characteristic polynomials equal): singular values |lambda_j|",
             sp.Matrix(mod2), "|lambda|^2")
    der.step("Rate (W3): J(S) = sum_j j(|lambda_j|); the j = 0 mode (row sums) is removed for softmax, "
             "which ignores row shifts", None)
    ss = sp.Symbol("s", positive=True)
    w1 = [ss * ((1 if k == 1 else 0) - sp.Rational(1, T_)) for k in range(T_)]
    sv = [sp.simplify(sp.Abs(sum(w1[k] * om ** (j * k) for k in range(T_)))) for j in range(T_)]
    der.step("Single-head ansatz w = s (e_1 - 1/T): |lambda_0| = 0 and |lambda_j| = s for j > 0, "
             "so J = (T-1) j(s) as in 04_reduced", sp.Matrix(sv), "|lambda|")
    if sv[0] != 0 or any(sp.simplify(v - ss) != 0 for v in sv[1:]):
        raise AssertionError("single-head ansatz spectrum")
    return der


def derive_window_reduced():
    """The reduced free energy over the heads' offset logits, and its ``H = K = 1`` limit."""
    der = Derivation("Window copier: reduced free energy over the heads' offset logits")
    der.step(
        "Ansatz: every head is positional and translation invariant, S_h = sum_k w_hk J^k (a logit per offset, "
        "shared by all positions, as in the induction-head copier). Then A_h = sum_k p_hk J^k with "
        "p_h = softmax(w_h) (linear: p_h = w_h), m_hk = p_hk (k = 1..K), r_hh' = sum_k p_hk p_h'k."
    )
    der.step("F(w) = nu sum_h sum_j j(|lambda_hj|) - e(M(p), R(p)); softmax: w_h in 1-perp (lambda_h0 = 0)", None)
    mm = softmax_m(s)
    rr = softmax_r(mm)
    # softmax of w = s (e_1 - 1/T): weight on offset 1 and on each of the other T - 1 offsets
    p1 = sp.exp(s * (1 - 1 / T)) / (sp.exp(s * (1 - 1 / T)) + (T - 1) * sp.exp(-s / T))
    p_other = sp.exp(-s / T) / (sp.exp(s * (1 - 1 / T)) + (T - 1) * sp.exp(-s / T))
    if sp.simplify(p1 - mm) != 0 or sp.simplify(p1**2 + (T - 1) * p_other**2 - rr) != 0:
        raise AssertionError("H = K = 1 reduction of the offset-logit ansatz")
    der.step("softmax(s (e_1 - 1/T)): p_1 = m(s) and sum_k p_k^2 = m^2 + (1-m)^2/(T-1) = r (both simplify)", p1, "p_1")
    e11 = energy_limit(mm, rr, g, alpha)
    F11 = nu * (T - 1) * rate_expr(s, "qk") - e11
    der.step("H = K = 1, w = s (e_1 - 1/T): p_1 = m(s), sum_k p_k^2 = r(s): F = F_soft(s) of 04_reduced", F11, "F")
    der.step(
        "Symmetries of F: permutations of the heads, and the offset maps k -> c - k and k -> u k + c "
        "(u a unit mod T) that preserve the set of parents {1..K}: they permute the Fourier moduli and "
        "the columns of M. For the parents 1..K the reflection k -> K + 1 - k reverses them. "
        "Specialisation breaks heads x reflection to the diagonal subgroup."
    )
    return der
