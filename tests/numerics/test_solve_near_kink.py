"""Stationary branches that start on a domain boundary (the MAP kink s = 0, the linear m = 0) with
a fold next to it: the fold between the last traced point and the boundary point must be found,
and the alpha scan must see smooth minima that sit between the kink and the first grid point.

Found by a random scan (softmax / qk / MAP at T = 2): ``solve`` raised "F_xx changes sign ... but
no fold was refined" or "no minimum of F found on the scan grid". Checked against the independent
brute force of ``numerics/bruteforce.py`` (kind, alpha_c and spinodals to 1e-3 relative).
"""
import numpy as np
import pytest

from copyhead.numerics.branches import trace_all
from copyhead.numerics.bruteforce import check_solver
from copyhead.numerics.kernels import Kernel
from copyhead.numerics.solve import find_alpha_range
from copyhead.theory.model import Model

FOLD_AT_KINK = Model(attention="softmax", prior="qk", objective="map", T=2, nu=1.0680038058305015,
                     sigma2=8.541012029569941)
MIN_NEAR_KINK = Model(attention="softmax", prior="qk", objective="map", T=2, nu=3.277037800198256,
                      sigma2=1.8392338201181084)


def test_every_sign_change_of_F_xx_on_a_curve_has_its_fold():
    k = Kernel(FOLD_AT_KINK)
    for c in trace_all(k, find_alpha_range(k)):
        changes = int(np.sum(np.sign(c.F_xx[:-1]) * np.sign(c.F_xx[1:]) < 0))
        assert changes == len(c.folds), (c.end_reasons, c.folds)
        assert all(f.converged for f in c.folds)


@pytest.mark.parametrize("model", [FOLD_AT_KINK, MIN_NEAR_KINK], ids=["fold-at-kink", "minimum-near-kink"])
def test_solver_agrees_with_brute_force_next_to_the_kink(model):
    r = check_solver(model)
    assert r["status"] == "pass", r["reasons"]
