"""Prior rate j(s): closed form vs numerical Legendre transform and vs direct Wishart-rate minimisation."""
import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar

from copyhead.theory.prior import matrix_rate, matrix_rate_grad, rate, rate_qk, rate_qk_prime
from copyhead.theory.symbolic.prior import derive_qk_rate


@pytest.mark.parametrize("s", [-4.0, -0.7, 0.0, 1e-4, 0.3, 1.0, 2.5, 10.0])
def test_qk_rate_is_legendre_transform_of_cgf(s):
    # j(s) = sup_{|l|<1} [l s + 1/2 log(1 - l^2)], by bounded scalar maximisation
    res = minimize_scalar(lambda l: -(l * s + 0.5 * np.log1p(-l * l)), bounds=(-1 + 1e-15, 1 - 1e-15),
                          method="bounded", options={"xatol": 1e-13})
    assert rate_qk(s) == pytest.approx(-res.fun, abs=1e-10)
    assert rate_qk_prime(s) == pytest.approx(res.x, abs=1e-6)


def _wishart_contraction(S):
    """min over SPD X, Y of 1/2 (tr M - logdet M - 2T), M = [[X, S], [S^T, Y]] (Cholesky parametrised)."""
    T = S.shape[0]
    il = np.tril_indices(T)

    def unpack(p):
        Lx = np.zeros((T, T)); Ly = np.zeros((T, T))
        Lx[il] = p[: len(il[0])]; Ly[il] = p[len(il[0]):]
        return Lx @ Lx.T, Ly @ Ly.T

    def f(p):
        X, Y = unpack(p)
        M = np.block([[X, S], [S.T, Y]])
        try:  # M must be positive definite (a Gram matrix)
            L = np.linalg.cholesky(M)
        except np.linalg.LinAlgError:
            return 1e6
        return 0.5 * (np.trace(M) - 2 * np.log(np.diag(L)).sum() - 2 * T)

    best = np.inf
    for scale in (1.0, 2.0, 4.0):
        p0 = np.concatenate([(scale * np.eye(T))[il], (scale * np.eye(T))[il]])
        out = minimize(f, p0, method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
        best = min(best, out.fun)
    return best


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("T", [2, 3])
def test_matrix_rate_equals_contracted_wishart_rate(T, seed):
    S = np.random.default_rng(seed).standard_normal((T, T))
    assert matrix_rate(S, "qk") == pytest.approx(_wishart_contraction(S), abs=1e-6)


def test_gaussian_and_map_rates():
    s = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(rate(s, "gaussian"), s**2 / 2)
    np.testing.assert_allclose(rate(s, "qk", "map"), np.abs(s))
    np.testing.assert_allclose(rate_qk(s[np.abs(s) < 1e-2]), s[np.abs(s) < 1e-2] ** 2 / 2, atol=1e-9)


def test_matrix_rate_gradient_by_finite_differences():
    rng = np.random.default_rng(2)
    S = rng.standard_normal((4, 4))
    G = matrix_rate_grad(S, "qk")
    h = 1e-6
    for i, j in [(0, 0), (1, 3), (3, 2)]:
        E = np.zeros_like(S); E[i, j] = h
        fd = (matrix_rate(S + E, "qk") - matrix_rate(S - E, "qk")) / (2 * h)
        assert G[i, j] == pytest.approx(fd, abs=1e-7)


def test_symbolic_derivation_runs_and_checks_itself():
    j, der = derive_qk_rate()  # raises AssertionError if the two derivations disagree
    assert any("Legendre" in s[0] for s in der.steps)
