"""Closed-form W-marginal evidence vs brute-force GP evidence (PT x PT kernel) on small random data."""
import numpy as np
import pytest

from copyhead.theory.evidence import (
    brute_force_log_evidence, data_counts, design_matrix, log_evidence, readout_posterior, sample_tokens, targets,
)
from copyhead.theory.order_parameters import attention, softmax_rows


@pytest.mark.parametrize("kind", ["softmax", "linear"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_closed_form_equals_brute_force_gp(kind, seed):
    rng = np.random.default_rng(seed)
    V, T, P = 5, 4, 7
    tok = sample_tokens(P, T, V, rng)
    G = data_counts(tok, V)
    sigma2, kappa = rng.uniform(0.2, 2.0), rng.uniform(0.1, 1.5)
    A = attention(2.0 * rng.standard_normal((T, T)), kind)
    assert log_evidence(A, G, sigma2, kappa) == pytest.approx(brute_force_log_evidence(A, tok, V, sigma2, kappa), rel=1e-11, abs=1e-9)


def test_data_counts_definition():
    rng = np.random.default_rng(3)
    V, T, P = 4, 3, 10
    tok = sample_tokens(P, T, V, rng)
    G = data_counts(tok, V)
    X = np.eye(V)[tok]  # (P, T, V)
    for s in range(T):
        for s2 in range(T):
            np.testing.assert_array_equal(G[s, s2], X[:, s, :].T @ X[:, s2, :])


def test_readout_posterior_mean_is_ridge_regression():
    rng = np.random.default_rng(4)
    V, T, P = 4, 3, 9
    sigma2, kappa = 0.7, 0.4
    tok = sample_tokens(P, T, V, rng)
    A = softmax_rows(rng.standard_normal((T, T)))
    Wbar, cov = readout_posterior(A, data_counts(tok, V), sigma2, kappa)
    Z, Y = design_matrix(A, tok, V), targets(tok, V)
    # independent: minimise |Y - Z W^T|^2/(2 kappa) + V |W|^2/(2 sigma2) by normal equations
    W_ridge = np.linalg.solve(Z.T @ Z / kappa + V / sigma2 * np.eye(V), Z.T @ Y / kappa).T
    np.testing.assert_allclose(Wbar, W_ridge, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cov, np.linalg.inv(Z.T @ Z / kappa + V / sigma2 * np.eye(V)), rtol=1e-10)


def test_non_finite_attention_is_a_clear_error():
    from copyhead.theory.evidence import EvidenceError

    rng = np.random.default_rng(0)
    tok = sample_tokens(4, 3, 4, rng)
    A = np.full((3, 3), np.nan)
    with pytest.raises(EvidenceError, match="non-finite"):
        log_evidence(A, data_counts(tok, 4), 0.5, 0.5)
