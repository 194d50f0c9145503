"""Pattern metrics (theory/icl_regression_patterns.py) on exact patterns, random matrices and
collapsed configurations."""
import math

import numpy as np
import pytest

from copyhead.theory.icl_regression_patterns import (
    alignment,
    effective_preconditioner,
    head_metrics,
    is_collapsed,
    pattern_summary,
)


def _pattern(d, omegas, mus, ycol=None):
    H = len(omegas)
    M = np.zeros((H, d + 1, d + 1))
    w = np.zeros((H, d + 1))
    for h, (om, mu) in enumerate(zip(omegas, mus)):
        M[h, :d, :d] = om * np.eye(d)
        w[h, d] = mu
        if ycol is not None:
            M[h, :, d] = ycol  # the unidentified y column: must not change any metric
    return M, w


def test_exact_pattern_has_zero_deviations_whatever_the_y_column():
    M, w = _pattern(4, [0.4, -0.4], [3.0, -3.0], ycol=np.arange(5.0))
    s = pattern_summary(M, w, target=np.eye(4))
    for k in ("iso_dev", "offdiag", "diag_spread", "y_row", "ov_x", "zero_sum", "gamma_iso_dev"):
        assert s[k] == pytest.approx(0.0, abs=1e-14), k
    assert s["collapsed"] is False
    assert s["step_eff"] == pytest.approx(2 * 0.4 * 3.0 / math.sqrt(5))
    assert s["align_target"] == pytest.approx(1.0) and s["align_identity"] == pytest.approx(1.0)
    assert [h["omega"] for h in s["heads"]] == pytest.approx([0.4, -0.4])


def test_random_matrices_are_far_from_the_pattern():
    rng = np.random.default_rng(0)
    d = 5
    iso = [head_metrics(rng.standard_normal((d + 1, d + 1)), rng.standard_normal(d + 1))["iso_dev"] for _ in range(500)]
    # |A - omega I|^2 / |A|^2 has mean close to (d^2 - 1)/d^2 for Gaussian A
    assert np.mean(iso) == pytest.approx(math.sqrt((d * d - 1) / d / d), abs=0.03)
    ov = [head_metrics(np.eye(d + 1), rng.standard_normal(d + 1))["ov_x"] for _ in range(500)]
    assert np.mean(ov) > 0.8


def test_single_metrics_isolate_their_feature():
    d = 3
    M, w = _pattern(d, [1.0], [1.0])
    M[0, 0, 1] = 0.5  # off-diagonal only
    h = head_metrics(M[0], w[0])
    assert h["offdiag"] > 0.2 and h["diag_spread"] == pytest.approx(0.0, abs=1e-14) and h["y_row"] == 0
    M, w = _pattern(d, [1.0], [1.0])
    M[0, 0, 0] = 2.0  # inhomogeneous diagonal only
    h = head_metrics(M[0], w[0])
    assert h["offdiag"] == 0 and h["diag_spread"] > 0.2
    M, w = _pattern(d, [1.0], [1.0])
    M[0, d, 1] = 0.3  # y row
    w[0, 0] = 0.2  # an x entry of OV
    h = head_metrics(M[0], w[0])
    assert h["y_row"] == pytest.approx(0.3 / math.sqrt(3)) and h["ov_x"] == pytest.approx(0.2 / math.hypot(0.2, 1.0))


@pytest.mark.parametrize("mus, expected", [([1.0, -1.0], False), ([1.0, 0.5], True), ([-2.0, -0.1], True),
                                           ([1.0, 0.05, -0.02], True), ([1.0, 0.5, -0.2], False), ([3.0], None)])
def test_collapse(mus, expected):
    assert is_collapsed(mus) is expected


def test_bias_cancelling_head_is_not_a_collapse():
    # head 2 has omega ~ 0 and mu = -mu_1: it removes mu_1 ybar, so the layer debiases
    M, w = _pattern(3, [0.8, 0.0], [2.0, -2.0])
    s = pattern_summary(M, w)
    assert s["collapsed"] is False and s["zero_sum"] == 0.0
    assert s["iso_dev"] == pytest.approx(0.0, abs=1e-14)  # the inactive head carries no weight


def test_effective_preconditioner_and_alignment():
    M, w = _pattern(2, [0.5, -0.3], [2.0, -1.0])
    G = effective_preconditioner(M, w)
    assert np.allclose(G, (2.0 * 0.5 + 0.3) / math.sqrt(3) * np.eye(2))
    A = np.array([[1.0, 2.0], [0.0, 1.0]])
    M[0, :2, :2] = A
    G = effective_preconditioner(M, w)
    assert np.allclose(G, (2.0 * A.T + 0.3 * np.eye(2)) / math.sqrt(3))
    assert alignment(np.eye(2), 3 * np.eye(2)) == pytest.approx(1.0)
    assert alignment(np.diag([1.0, 0.0]), np.diag([0.0, 1.0])) == pytest.approx(0.0)
