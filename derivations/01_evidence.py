"""Step 1: exact W-marginal log evidence log p(Y|A) from the data counts (finite size).

Run: python derivations/01_evidence.py   (prints the steps, writes derivations/out/01_evidence.tex)
Implemented in theory/evidence.py (log_evidence); tested against the brute-force PT x PT GP
evidence in tests/theory/test_evidence.py.
"""
import sympy as sp

from copyhead.theory.symbolic.report import Derivation

der = Derivation("Exact W-marginal evidence (finite size)")
n, V, P, T, s2, kap = sp.symbols("n V P T sigma2 kappa", positive=True)
der.step("Per output channel i: y_i = Z w_i + noise, Z in R^{PT x V} with rows z_t^mu = sum_s A_ts x_s^mu; "
         "w_i ~ N(0, sigma2/V I), noise ~ N(0, kappa I). So y_i ~ N(0, K), K = (sigma2/V) Z Z^T + kappa I.")
der.step("Woodbury: K^{-1} = I/kappa - Z Lam^{-1} Z^T / kappa^2 with Lam = (V/sigma2) I + Z^T Z / kappa")
der.step("Determinant lemma: logdet K = PT log kappa + logdet(I + sigma2 Z^T Z/(V kappa))")
der.step("Data counts G_{ss'} = sum_mu x_s^mu x_{s'}^{mu T}: Z^T Z = sum_{ss'} (A^T A)_{ss'} G_{ss'} =: C, "
         "sum_i Z^T y_i e_i^T = sum_{t,s} A_ts G_{s,t-1} =: D (target y_t = x_{t-1})")
C, D, L = sp.symbols("C D Lambda")
logp = (-V / 2 * sp.Symbol("logdet(I + sigma2*C/(V*kappa))") + sp.Symbol("tr(D^T Lam^{-1} D)") / (2 * kap**2)
        - P * T / (2 * kap) - P * T * V / 2 * sp.log(2 * sp.pi * kap))
der.step("Sum over the V channels (sum_i |y_i|^2 = PT for one-hot targets)", logp, "log p(Y|A)")
# scalar sanity check of Woodbury + determinant lemma with sympy matrices (V = 2, PT = 3)
Zs = sp.Matrix(3, 2, sp.symbols("z0:6", real=True))
K = s2 / 2 * Zs * Zs.T + kap * sp.eye(3)
Lam = 2 / s2 * sp.eye(2) + Zs.T * Zs / kap
lhs = sp.simplify(K.inv() - (sp.eye(3) / kap - Zs * Lam.inv() * Zs.T / kap**2))
der.step("Symbolic check of Woodbury for V = 2, PT = 3 (zero matrix)", lhs, "K^-1 - Woodbury")
det_gap = sp.simplify(K.det() - kap**3 * (sp.eye(2) + s2 * Zs.T * Zs / (2 * kap)).det())
der.step("Symbolic check of the determinant lemma (zero)", det_gap, "det gap")
assert lhs == sp.zeros(3, 3) and det_gap == 0
der.emit("01_evidence")
