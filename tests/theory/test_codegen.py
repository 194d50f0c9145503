"""Generated Numba kernels: not stale, and equal to the SymPy expressions they were printed from."""
import numpy as np
import pytest
import sympy as sp

from copyhead.numerics._kernels import KERNELS
from copyhead.theory.symbolic import codegen
from copyhead.theory.symbolic.reduced import KEYS
from copyhead.theory.symbolic.symbols import Sg, T, alpha, kappa, nu, sigma2


def test_generated_module_is_up_to_date():
    assert not codegen.is_stale(), "numerics/_kernels.py is stale: run `copyhead codegen`"


def test_generated_header_says_generated():
    head = codegen.OUTPUT.read_text().splitlines()[:3]
    assert "GENERATED" in head[0] and "copyhead codegen" in head[1]


@pytest.mark.parametrize("key", KEYS)
def test_kernels_equal_sympy_values(key):
    exprs, x = codegen.kernel_expressions(key)
    attention = key.split("_")[0]
    rng = np.random.default_rng(abs(hash(key)) % 2**32)
    f = KERNELS[key][0]
    fns = [sp.lambdify((x, alpha, T, nu, sigma2, kappa, Sg), e, "mpmath") for e in exprs]
    for _ in range(6):
        xv = rng.uniform(0.01, 2.0) if attention == "linear" else rng.uniform(-3.0, 8.0)
        args = (xv, rng.uniform(1, 40), float(rng.integers(2, 12)), rng.uniform(0.1, 2), rng.uniform(0.01, 1), 1.0)
        got = f(*args)
        for i, fn in enumerate(fns):
            ref = float(fn(*args, 1.0 if xv >= 0 else -1.0))
            assert got[i] == pytest.approx(ref, rel=1e-9, abs=1e-11), f"{key} {codegen.NAMES[i]} at {args}"


def test_grid_kernel_matches_scalar_kernel():
    f, grid = KERNELS["softmax_qk_posterior"]
    xs = np.linspace(-2, 6, 7)
    al = np.array([10.0, 25.0])
    out = grid(xs, al, 8.0, 0.5, 0.1, 1.0)
    for i, a in enumerate(al):
        for j, xv in enumerate(xs):
            np.testing.assert_allclose(out[i, j], f(xv, a, 8.0, 0.5, 0.1, 1.0)[:3], rtol=1e-14)
