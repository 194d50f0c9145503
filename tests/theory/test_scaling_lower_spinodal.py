"""The lower spinodal of the asymptotic softmax problem against a direct count of minima.

Direct computation: the asymptotic free energy of the copy regime (theory/scaling.py module doc)
``G(s) = j(s) + (a/2)/(1 + z(s))`` with ``z = e^{2s}/(T (1 + c/a))`` on a dense ``s`` grid; the copy
minimum appears where the number of local minima of ``G`` goes up by one. Before the fix the law
returned the edge of its search interval for ``T <~ 5`` (qk posterior: ``0.25 nu T`` instead of
``3.03 nu T`` at ``T = 5``), a jump in the ``copyhead scaling`` figure.
"""
import math

import numpy as np
import pytest

from copyhead.theory.prior import rate
from copyhead.theory.scaling import law_values, softmax_lower_spinodal_asymptotic

NU, S2 = 0.5, 0.1
S = np.linspace(1e-3, 30.0, 60001)  # spacing 5e-4 resolves the minimum-maximum pair at 1e-4 from the fold


def _n_minima(T, a, prior):
    z = np.exp(2 * S) / (T * (1 + 1 / (NU * S2 * a)))
    G = rate(S, prior, "posterior") + 0.5 * a / (1 + z)
    return int(np.sum((G[1:-1] < G[:-2]) & (G[1:-1] < G[2:])))


@pytest.mark.parametrize("T,prior", [(3, "qk"), (5, "qk"), (6, "qk"), (100, "qk"), (5, "gaussian"), (30, "gaussian")])
def test_lower_spinodal_is_where_the_copy_minimum_appears(T, prior):
    a = softmax_lower_spinodal_asymptotic(T, NU, S2, prior) / (NU * T)
    # 1e-4 relative either side: the old value at T = 3, 5 was off by a factor ~12
    assert _n_minima(T, a * (1 + 1e-4), prior) == _n_minima(T, a * (1 - 1e-4), prior) + 1


def test_no_fold_gives_nan_and_no_law_value():
    """Gaussian prior at T = 3: a(z) has no local minimum on the copy side; the direct count never
    sees a second minimum appear on a wide grid of a."""
    assert math.isnan(softmax_lower_spinodal_asymptotic(3, NU, S2, "gaussian"))
    counts = [_n_minima(3, a, "gaussian") for a in np.geomspace(0.1, 100.0, 120)]
    assert max(counts) == 1  # (0 at small a: the only minimum is at s <= 0, off the grid)
    assert law_values(3, NU, S2, "softmax", "gaussian", "posterior")["spinodal_low_asymptotic"] is None


def test_continuous_in_T():
    """No jump: the law changes by less than 5 % between neighbouring T (it jumped x12 at T 5 -> 6)."""
    v = [softmax_lower_spinodal_asymptotic(T, NU, S2, "qk") / (NU * T) for T in range(2, 40)]
    assert np.all(np.abs(np.diff(v)) < 0.05 * np.asarray(v[1:]))
