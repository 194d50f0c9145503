"""Figure labels that print alpha values: distinct numbers print distinct (a bistable window 1e-6
wide read "spinodals = 4.3275, 4.3275" at linear attention, T = 3, nu = 0.48)."""
import re

import pytest

from copyhead.numerics.plotting import alpha_texts, plot_branches, plot_landscape
from copyhead.numerics.solve import solve
from copyhead.theory.model import Model


def test_alpha_texts_adapts_the_precision():
    assert alpha_texts([4.3275248, 4.327532, None]) == ["4.32752", "4.32753", None]  # 6 digits suffice
    assert alpha_texts([1.5, 200.0]) == ["1.5", "200"]  # at least 5 significant digits, no padding
    assert alpha_texts([2.0, 2.0]) == ["2", "2"]  # equal numbers stay equal
    a = 1.0 + 2e-16
    t = alpha_texts([1.0, a])
    assert t[0] != t[1] and float(t[1]) == a


@pytest.fixture(scope="module")
def narrow():
    return solve(Model(attention="linear", T=3, nu=0.48))


def _numbers(labels):
    return [float(x) for lab in labels for x in re.findall(r"= ([0-9.e+-]+(?:, [0-9.e+-]+)*)", lab)
            for x in x.split(", ")]


def test_branch_and_landscape_legends_tell_the_window_apart(narrow):
    t = narrow.transition
    assert t.kind == "first-order" and t.alpha_spinodal_high - t.alpha_spinodal_low < 1e-5
    for ax in (plot_branches(narrow), plot_landscape(narrow)):
        labels = ax.get_legend_handles_labels()[1]
        nums = _numbers(labels)
        want = {t.alpha_spinodal_low, t.alpha_spinodal_high, t.alpha_c}
        assert len(set(nums)) == len(want)  # three distinct printed numbers
        for v in nums:  # each printed number is the nearest to its own alpha
            assert min(want, key=lambda w: abs(w - v)) == pytest.approx(v, rel=1e-6)
