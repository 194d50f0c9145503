"""Property-based tests (hypothesis) on the generated kernels and the exact evidence."""
import numpy as np
import sympy as sp
from hypothesis import given, settings, strategies as st

from copyhead.numerics._kernels import KERNELS
from copyhead.theory.evidence import data_counts, log_evidence, sample_tokens
from copyhead.theory.order_parameters import attention
from copyhead.theory.symbolic.reduced import KEYS, linear_free_energy_in_m
from copyhead.theory.symbolic.symbols import T as Ts, alpha as As, m as Ms, nu as Ns, sigma2 as S2s

params = st.tuples(
    st.floats(0.01, 1e4),  # alpha
    st.integers(2, 64).map(float),  # T
    st.floats(1e-3, 1e2),  # nu
    st.floats(1e-3, 1e2),  # sigma2
)


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(KEYS), p=params, s=st.floats(-20.0, 40.0), u=st.floats(1e-12, 1e3))
def test_kernels_finite_on_valid_domain(key, p, s, u):
    x = u if key.startswith("linear") else s
    out = KERNELS[key][0](x, *p, 1.0)
    assert all(np.isfinite(v) for v in out), (key, x, p, out)


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(KEYS), p=st.tuples(st.floats(0.5, 200), st.integers(2, 16).map(float), st.floats(0.05, 5),
                                              st.floats(0.01, 2)),
       s=st.floats(-4.0, 12.0), u=st.floats(0.05, 4.0))
def test_derivatives_consistent_by_finite_differences(key, p, s, u):
    f = KERNELS[key][0]
    x = u if key.startswith("linear") else s
    if key == "softmax_qk_map" and abs(x) < 1e-3:
        x = 1e-3  # away from the kink
    hx, ha = 1e-5 * max(1.0, abs(x)), 1e-6 * p[0]
    d = f(x, *p, 1.0)
    dp, dm = f(x + hx, *p, 1.0), f(x - hx, *p, 1.0)
    ap, am = f(x, p[0] + ha, *p[1:], 1.0), f(x, p[0] - ha, *p[1:], 1.0)
    for i, (num, ana) in enumerate([((dp[0] - dm[0]) / (2 * hx), d[1]), ((dp[1] - dm[1]) / (2 * hx), d[2]),
                                    ((dp[2] - dm[2]) / (2 * hx), d[3]), ((ap[1] - am[1]) / (2 * ha), d[4]),
                                    ((ap[2] - am[2]) / (2 * ha), d[5])]):
        scale = max(1.0, abs(ana), abs(d[0]) * 1e-3)
        assert abs(num - ana) <= 1e-4 * scale, (key, i, x, p, num, ana)


_F_lin = {pr: sp.lambdify((Ms, As, Ts, Ns, S2s), linear_free_energy_in_m(pr)) for pr in ("qk", "gaussian")}


@settings(max_examples=100, deadline=None)
@given(prior=st.sampled_from(["qk", "gaussian"]), p=params, m=st.floats(0.0, 30.0))
def test_linear_free_energy_even_in_m_and_equal_to_kernel_in_u(prior, p, m):
    F = _F_lin[prior]
    assert F(m, *p) == F(-m, *p)
    k = KERNELS[f"linear_{prior}_posterior"][0]
    assert np.isclose(k(m * m, *p, 1.0)[0], F(m, *p), rtol=1e-11, atol=1e-11)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), kind=st.sampled_from(["softmax", "linear"]))
def test_evidence_invariant_under_token_relabelling(seed, kind):
    rng = np.random.default_rng(seed)
    V, T, P = 5, 3, 6
    tok = sample_tokens(P, T, V, rng)
    perm = rng.permutation(V)
    A = attention(rng.standard_normal((T, T)), kind)
    a = log_evidence(A, data_counts(tok, V), 0.5, 0.7)
    b = log_evidence(A, data_counts(perm[tok], V), 0.5, 0.7)
    assert np.isclose(a, b, rtol=1e-12, atol=1e-10)
    assert np.isfinite(a)
