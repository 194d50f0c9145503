"""Issue 13, step 2: the OV-marginal evidence of the multi-head attention layer (copyhead's method on
in-context regression): for fixed KQ matrices the prediction is linear in the OV rows, so they
integrate out in closed form.

Run: python derivations/13b_icl_regression_evidence.py  (writes derivations/out/13b_icl_regression_evidence.tex)
Implemented in verification/icl_regression_posterior.py (blr_evidence, KQPosterior); tested
against the naive P x P GP evidence and brute-force Gaussian quadrature over w in
tests/verification/test_icl_regression_posterior.py.
"""
import sympy as sp

from copyhead.theory.symbolic.report import Derivation

der = Derivation("OV-marginal evidence of the H-head attention layer")
P, D, s2, kap = sp.symbols("P D s2 kappa", positive=True)
der.step("Prompt p: y_hat_p = sum_h O_h V_h Z_p a_{p,h} = sum_h w_h . c_{p,h} = phi_p^T w, with "
         "c_{p,h} = Z_p a_{p,h} (attention-weighted token of head h, fixed by M_h = K_h^T Q_h) and "
         "w = (w_1, ..., w_H), w_h = (O_h V_h)^T: D = H(d+1) weights")
der.step("Prior w ~ N(0, s2 I_D), likelihood y_q,p ~ N(phi_p^T w, kappa): y ~ N(0, K), K = kappa I_P + s2 Phi Phi^T "
         "(the naive P x P GP evidence)")
der.step("Woodbury with A = I_D/s2 + Phi^T Phi/kappa: K^{-1} = I/kappa - Phi A^{-1} Phi^T/kappa^2; "
         "determinant lemma: logdet K = P log kappa + D log s2 + logdet A")
logZ = (-P / 2 * sp.log(2 * sp.pi * kap) - D / 2 * sp.log(s2) - sp.Symbol("logdet A") / 2
        - sp.Symbol("|y|^2") / (2 * kap) + sp.Symbol("b^T A^{-1} b") / 2)
der.step("Log evidence (b = Phi^T y/kappa; cost O(P D^2 + D^3), linear in P)", logZ, "log p(y|M)")
der.step("Posterior of w given M: N(A^{-1} b, A^{-1}) (used for the OV pattern of posterior draws)")
# symbolic check at P = 3, D = 2
Phi = sp.Matrix(3, 2, sp.symbols("f0:6", real=True))
yv = sp.Matrix(3, 1, sp.symbols("y0:3", real=True))
K = kap * sp.eye(3) + s2 * Phi * Phi.T
A = sp.eye(2) / s2 + Phi.T * Phi / kap
b = Phi.T * yv / kap
quad = sp.simplify((yv.T * K.inv() * yv)[0] - ((yv.T * yv)[0] / kap - (b.T * A.inv() * b)[0]))
det = sp.simplify(K.det() - kap**3 * s2**2 * A.det())
der.step("Check at P = 3, D = 2 with symbolic Phi, y: quadratic form and determinant (both zero)",
         sp.Matrix([[quad, det]]))
assert quad == 0 and det == 0
der.step("Sampled parameters: M_h[:, :d] (x-block and y row); the y column multiplies the query's y = 0, "
         "does not enter phi, and keeps its prior: it is not sampled. Prior N(0, prior_kq^2) per entry: "
         "log p(M|data) = -|M|^2/(2 prior_kq^2) + log p(y|M) + const.")
der.emit("13b_icl_regression_evidence")
