"""Window copier theory: block evidence vs brute-force GP, energy e(M, R) vs the exact evidence at
growing V, the circulant prior rate vs an SVD, and H = K = 1 equal to the single-head theory."""
import numpy as np
import pytest
import sympy as sp

from copyhead.theory.energy import energy_gradient_numeric, energy_numeric
from copyhead.theory.evidence import data_counts, log_evidence, log_map_objective, sample_tokens
from copyhead.theory.model import Model, ParameterError
from copyhead.theory.order_parameters import copy_weight, self_overlap, shift_matrix, softmax_rows
from copyhead.theory.prior import matrix_rate
from copyhead.theory.window import (
    window_brute_force_log_evidence,
    window_log_evidence,
    window_map_objective,
    window_order_parameters,
)
from copyhead.theory.window_energy import (
    circulant,
    circulant_eigenvalues,
    circulant_rate,
    circulant_singular_values,
    sum_target_energy,
    window_energy,
    window_energy_gradient,
)


def _random_heads(rng, H, T, kind="softmax", scale=1.5):
    S = scale * rng.standard_normal((H, T, T))
    return softmax_rows(S) if kind == "softmax" else 0.5 * S


@pytest.mark.parametrize("H,K", [(1, 1), (2, 2), (1, 2), (3, 2), (2, 3)])
@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_block_evidence_equals_brute_force_gp(H, K, kind):
    rng = np.random.default_rng(100 * H + 10 * K + (kind == "linear"))
    T, V, P = 4, 3, 5
    A = _random_heads(rng, H, T, kind)
    tok = sample_tokens(P, T, V, rng)
    G = data_counts(tok, V)
    for sigma2, kappa in ((0.7, 1.0), (2.0, 0.3)):
        ref = window_brute_force_log_evidence(A, tok, V, sigma2, kappa, K)
        val = window_log_evidence(A, G, sigma2, kappa, K)
        assert val == pytest.approx(ref, rel=1e-11, abs=1e-9)


def test_single_head_single_parent_equals_todays_evidence():
    rng = np.random.default_rng(3)
    T, V, P = 5, 6, 40
    A = softmax_rows(2.0 * rng.standard_normal((T, T)))
    G = data_counts(sample_tokens(P, T, V, rng), V)
    for s2, ka in ((0.1, 1.0), (1.3, 0.4)):
        assert window_log_evidence(A[None], G, s2, ka, 1) == pytest.approx(log_evidence(A, G, s2, ka), rel=1e-12)
        assert window_map_objective(A[None], G, s2, ka, 1) == pytest.approx(log_map_objective(A, G, s2, ka), rel=1e-12)
    M, R = window_order_parameters(A[None], 1)
    assert M[0, 0] == pytest.approx(copy_weight(A), rel=1e-14)
    assert R[0, 0] == pytest.approx(self_overlap(A), rel=1e-14)


def test_energy_reduces_to_single_head_energy_and_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    for _ in range(10):
        m, r, a, s2 = rng.uniform(0, 1), rng.uniform(0.1, 1), rng.uniform(1, 40), rng.uniform(0.05, 2)
        for obj in ("posterior", "map"):
            assert window_energy([[m]], [[r]], a, s2, obj) == pytest.approx(energy_numeric(m, r, a, s2, obj), rel=1e-13)
            dM, dR = window_energy_gradient([[m]], [[r]], a, s2, obj)
            ref = energy_gradient_numeric(m, r, a, s2, obj)
            assert dM[0, 0] == pytest.approx(ref[0], rel=1e-12)
            assert dR[0, 0] == pytest.approx(ref[1], rel=1e-12)
    H, K = 3, 2
    P = softmax_rows(rng.standard_normal((H, 6)))
    M, R = P[:, 1:K + 1], P @ P.T
    dM, dR = window_energy_gradient(M, R, 7.0, 0.4)
    eps = 1e-6
    for i in range(H):
        for k in range(K):
            E = np.zeros_like(M)
            E[i, k] = eps
            fd = (window_energy(M + E, R, 7.0, 0.4) - window_energy(M - E, R, 7.0, 0.4)) / (2 * eps)
            assert dM[i, k] == pytest.approx(fd, rel=1e-7, abs=1e-9)
    for i in range(H):
        for j in range(H):
            E = np.zeros_like(R)
            E[i, j] += eps / 2
            E[j, i] += eps / 2
            fd = (window_energy(M, R + E, 7.0, 0.4) - window_energy(M, R - E, 7.0, 0.4)) / (2 * eps)
            expect = dR[i, j] if i == j else 0.5 * (dR[i, j] + dR[j, i])
            assert expect == pytest.approx(fd, rel=1e-6, abs=1e-9)


def _scaled_gap(A, K, V, alpha_, sigma2_, kappa, n_data, rng):
    """(log p + const)/V^2 - e(M, R) averaged over data sets at the realised alpha."""
    T = A.shape[-1]
    P = int(round(alpha_ * kappa * V * V / T))
    a_eff = P * T / (kappa * V * V)
    M, R = window_order_parameters(A, K)
    vals = []
    for _ in range(n_data):
        G = data_counts(sample_tokens(P, T, V, rng), V)
        lp = window_log_evidence(A, G, sigma2_, kappa, K) + 0.5 * P * T * K * V * np.log(2 * np.pi * kappa)
        vals.append(lp / V**2 - window_energy(M, R, a_eff, sigma2_))
    return float(np.mean(vals))


@pytest.mark.parametrize("H,K", [(2, 2), (3, 2)])
def test_window_energy_against_exact_evidence_at_growing_V(H, K):
    """V^2 e(M, R) is the leading order of the exact evidence: (log p)/V^2 - e = O(1/V)."""
    rng = np.random.default_rng(21 + H)
    T = 4
    S = 0.5 * rng.standard_normal((H, T, T))
    for h in range(H):
        S[h] += 2.0 * np.linalg.matrix_power(shift_matrix(T), 1 + h % K)
    A = softmax_rows(S)
    gaps = {V: abs(_scaled_gap(A, K, V, 3.0, 0.5, 1.0, 3, rng)) for V in (16, 32, 64)}
    # measured: V * gap = 1.19, 1.24, 1.32 (H=2) and 1.28, 1.35, 1.34 (H=3) at V = 16, 32, 64 (sd of
    # one data set <= 0.002 in gap): the gap halves per doubling of V
    assert gaps[64] < 0.03
    assert gaps[32] < 0.6 * gaps[16] and gaps[64] < 0.6 * gaps[32]
    assert 64 * gaps[64] == pytest.approx(32 * gaps[32], rel=0.2)  # V * gap -> e1 (a constant)


@pytest.mark.parametrize("T", [3, 5, 8, 9])
def test_circulant_singular_values_are_fourier_moduli(T):
    rng = np.random.default_rng(T)
    for _ in range(5):
        w = rng.standard_normal(T) * rng.uniform(0.1, 4)
        S = circulant(w)
        sv = np.sort(np.linalg.svd(S, compute_uv=False))
        assert np.sort(circulant_singular_values(w)) == pytest.approx(sv, rel=1e-12, abs=1e-12)
        f = np.exp(2j * np.pi * np.arange(T) * 3 / T)  # eigenvector of mode j = 3
        assert S @ f == pytest.approx(circulant_eigenvalues(w)[3 % T] * f, abs=1e-10)
        for prior in ("qk", "gaussian"):
            assert circulant_rate(w, prior) == pytest.approx(matrix_rate(S, prior), rel=1e-12)


def test_circulant_attention_order_parameters():
    """A_h = sum_k p_hk J^k: m_hk = p_hk and r_hh' = p_h . p_h'."""
    rng = np.random.default_rng(8)
    p = softmax_rows(rng.standard_normal((3, 7)))
    A = circulant(p)
    M, R = window_order_parameters(A, 2)
    assert M == pytest.approx(p[:, 1:3], abs=1e-15)
    assert R == pytest.approx(p @ p.T, abs=1e-15)
    assert A.sum(axis=-1) == pytest.approx(np.ones((3, 7)))


def test_sum_target_does_not_force_specialisation():
    """Sum target: specialised and alike heads fit the data equally, the alike ones pay less Occam;
    concatenated target: the specialised heads fit twice the data term."""
    a, s2 = 25.0, 0.1
    spec = (np.eye(2), np.eye(2))
    alike = (np.full((2, 2), 0.5), np.full((2, 2), 0.5))
    g = s2 * a
    assert sum_target_energy(*spec, a, s2) - sum_target_energy(*alike, a, s2) == pytest.approx(-0.5 * np.log1p(g))
    d = window_energy(*spec, a, s2) - window_energy(*alike, a, s2)
    assert d == pytest.approx(a * g / (2 * (1 + g)) - np.log1p(g), rel=1e-12)
    assert d > 0


def test_symbolic_window_energy_derivation():
    from copyhead.theory.symbolic.energy import energy_limit
    from copyhead.theory.symbolic.window import derive_sum_target_contrast, derive_window_energy, derive_window_reduced

    e, e1, der = derive_window_energy(1, 1)  # raises if the V^2 coefficient differs from (W2) or from e(m, r)
    assert len(der.steps) > 6
    e22, _, _ = derive_window_energy(2, 2)
    assert e22.has(sp.Symbol("m_22", real=True))
    assert derive_sum_target_contrast().steps
    assert derive_window_reduced().steps
    del energy_limit


def test_model_heads_parents_are_additive():
    m = Model()
    assert (m.heads, m.parents, m.is_window, m.key) == (1, 1, False, "softmax_qk_posterior")
    assert "heads" not in m.to_dict() and "parents" not in m.to_dict()
    w = Model(heads=2, parents=2)
    assert w.key == "softmax_qk_posterior_H2K2" and w.to_dict()["heads"] == 2
    assert Model.from_dict(w.to_dict()) == w
    for kw, name in (({"heads": 0}, "heads"), ({"parents": 8}, "parents"), ({"heads": 1.5}, "heads")):
        with pytest.raises(ParameterError) as exc:
            Model(**kw)
        assert exc.value.name == name
