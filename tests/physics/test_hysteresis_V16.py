"""Hysteresis inside the finite-V spinodal window at V = 16 (softmax, default model).

alpha = 25.5 lies inside the window of F - e1/V ([23.42, 27.35] at V = 16;
tests/golden/finite_size.json). One batched HMC run (W integrated out;
``verification.sweep.run_sweep``, 5 leapfrog steps) on four data sets, each with a prior-draw
("uniform") start and a copy start: on two data sets the copy start sits on the theory's copy
branch (``copyhead verify --copy-start theory``, the default), on the other two at a fixed score
``s0 = 3`` (m ~ 0.74 at the start, far above the copy minimum m ~ 0.52: a start not placed on the
theory's branch).

Physics: inside the window both minima of F - e1/V are local minima separated by a barrier of
order V^2 Delta F, so every chain stays on the branch it relaxed to (all post-warm-up draws on its
side of the saddle of F - e1/V), uniform starts on the disordered branch and copy starts on the copy
branch, and each chain's <m> agrees with the minimum of F - e1/V on its branch.

Tolerance of <m>: 4 MCSE (ArviZ ESS; false-failure probability < 1e-4 per comparison) plus a
systematic 0.02 for what F - e1/V leaves out: the O(1/V^2) Gaussian-fluctuation (one-loop) shift
of <m> inside a basin, larger near a spinodal where the basin is soft. verification/RESULTS.md:
copy-branch deviations -0.0134 / -0.0096 at alpha = 25 / 26 for V = 16 (shrinking like V^-2.3..2.8
to V = 24), at most 0.0009 on the disordered branch.

The fixed start of ``copyhead verify --copy-start fixed`` (``s0 = log V + 3``, m ~ 0.98, the softmax
saturated) is tested separately and is a known failure (see its docstring).
"""
import math

import numpy as np
import pytest
import torch
from agreement import check_agreement

from copyhead.numerics.finite_size import FiniteSizeTheory
from copyhead.theory.model import Model
from copyhead.verification.sweep import run_sweep

pytestmark = pytest.mark.slow

V, ALPHA = 16, 25.5
ITERS, WARMUP, SEED = 1000, 500, 0
SYSTEMATIC = 0.02
S0_OFF_BRANCH = 3.0
STARTS = ["copy on the theory branch"] * 2 + [f"copy at s0 = {S0_OFF_BRANCH}"] * 2


@pytest.fixture(scope="module")
def theory():
    return FiniteSizeTheory(Model(V=V))


@pytest.fixture(scope="module")
def sweep(theory):
    torch.set_num_threads(1)
    s_theory = theory.copy_start_scales([ALPHA])[0]
    s0 = [s_theory, s_theory, S0_OFF_BRANCH, S0_OFF_BRANCH]
    return run_sweep(theory.model, [ALPHA] * 4, iters=ITERS, warmup=WARMUP, seed=SEED, n_leapfrog=5, s0=s0)


def _saddle_m(theory, alpha):
    """m at the maximum of F - e1/V between its two minima (the branch boundary)."""
    lo, hi = theory.minima(alpha)
    xs = np.linspace(lo.x, hi.x, 4001)
    F = theory.landscape([alpha], xs)[0]
    return float(theory.kernel.m_of_x(xs[np.argmax(F)]))


def _stays(theory, row, branch, skip):
    m = np.asarray(row["traces"]["m"][skip:])
    saddle = _saddle_m(theory, row["alpha_effective"])
    on = (m < saddle) if branch == "disordered" else (m > saddle)
    return on, saddle


def test_alpha_is_inside_the_finite_V_window(theory):
    a = Model(V=V, alpha=ALPHA).alpha_effective
    lo, hi = theory.window
    assert lo < a < hi
    assert [q.branch for q in theory.minima(a)] == ["disordered", "copy"]
    assert S0_OFF_BRANCH > theory.minima(a)[1].x + 0.5  # the off-branch start is well above the copy minimum


@pytest.mark.parametrize("chain", range(8))
def test_each_start_stays_on_its_branch_and_agrees_with_it(theory, sweep, chain):
    r = sweep[chain]
    branch = "disordered" if r["start"] == "uniform" else "copy"
    start = "uniform" if r["start"] == "uniform" else STARTS[chain // 2]
    on, saddle = _stays(theory, r, branch, WARMUP)
    assert on.all(), (f"{start} chain (data set {chain // 2}) left the {branch} branch: {np.sum(~on)} of {len(on)} "
                      f"draws beyond the saddle m = {saddle:.3f}")
    a = r["alpha_effective"]
    target = {q.branch: q.m for q in theory.minima(a)}[branch]
    check_agreement(target, r["m_mean"], atol=SYSTEMATIC, stderr=r["m_err"],
                    what=f"<m> of the {start} chain vs the {branch} minimum of F - e1/V at alpha={a:.4f}")
    assert r["rhat"] < 1.05, r["rhat"]


@pytest.mark.xfail(strict=True, reason=(
    "known defect (issue 8 §3): from the saturated fixed start s0 = log V + 3 (m ~ 0.98) of "
    "`copyhead verify --copy-start fixed`, 2-6 of 8 chains relax into the DISORDERED basin at alpha = 24.5-25.5, "
    "V = 16 (also with 1 leapfrog step, i.e. not only momentum build-up; starts at s0 <= 3 are kept 16/16). "
    "Where copy chains begin decides the branch: verify's default starts them on the theory's copy branch."))
def test_fixed_saturated_copy_start_stays_on_the_copy_branch(theory):
    """``copyhead verify --copy-start fixed`` (``s0 = log V + 3``): every one of 8 copy chains (8 data
    sets) must be on the copy branch after a 300-iteration warm-up and stay there for 300 draws."""
    torch.set_num_threads(1)
    rows = run_sweep(theory.model, [ALPHA] * 8, iters=300, warmup=300, seed=SEED, n_leapfrog=5,
                     starts=("copy",), s0=math.log(V) + 3.0)
    lost = [i for i, r in enumerate(rows) if not _stays(theory, r, "copy", 300)[0].all()]
    assert not lost, f"fixed copy starts that left the copy branch: data sets {lost} of 8"
