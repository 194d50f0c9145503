"""The agreement helper itself: passes inside, fails outside its stated tolerance, never silently."""
import math

import pytest
from agreement import check_agreement


def test_tolerance_parts_add_up():
    check_agreement(1.0, 1.0 + 0.05 + 0.1 + 4 * 0.01 - 1e-12, atol=0.05, rtol=0.1, stderr=0.01)
    with pytest.raises(AssertionError, match="mc"):
        check_agreement(1.0, 1.0 + 0.05 + 0.1 + 4 * 0.01 + 1e-9, atol=0.05, rtol=0.1, stderr=0.01, what="mc")


def test_nan_and_missing_tolerance_fail():
    with pytest.raises(AssertionError):
        check_agreement([1.0, 2.0], [1.0, math.nan], atol=1.0)
    with pytest.raises(AssertionError):
        check_agreement(1.0, 1.0, stderr=math.nan)
    with pytest.raises(ValueError, match="tolerance"):
        check_agreement(1.0, 1.0)
