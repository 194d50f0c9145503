"""Alignment of the heads with the parents: the order parameter, the symmetry group it rests on, the
``mixed`` (rotated) phase of linear attention with the qk prior, and the softmax labels unchanged.

Referee's finding (issue 14 follow-up): for linear attention with the qk prior the stable full-rank state
at H = K = 2 is ``M ~ c [[1, -1], [-1, -1]]`` (each head copies both parents with opposite signs), not
head 1 -> offset 1, head 2 -> offset 2; ``sigma_K(M)`` cannot tell the two apart.
"""
import json

import numpy as np
import pytest

from copyhead.numerics.window_branches import (
    alignment, copy_threshold, phase_label, preferred_parents, specialisation,
)
from copyhead.numerics.window_free import WindowFreeEnergy
from copyhead.numerics.window_solve import solve_window
from copyhead.theory.model import Model
from copyhead.theory.prior import rate
from copyhead.theory.window_energy import window_energy


@pytest.fixture(scope="module")
def linear22():
    return solve_window(Model(heads=2, parents=2, attention="linear"))


# ----------------------------------------------------------------------------- the order parameter
def test_alignment_values_and_invariance():
    th = 1e-6
    c = 0.7
    assert alignment(np.eye(2), th) == 1.0
    assert alignment(c * np.array([[1.0, -1.0], [-1.0, -1.0]]), th) == pytest.approx(1 / np.sqrt(2), abs=1e-15)
    assert alignment(np.full((3, 3), 0.2), th) == pytest.approx(1 / np.sqrt(3), abs=1e-15)
    assert np.isnan(alignment(np.zeros((2, 2)), th))
    assert np.isnan(alignment(np.full((2, 2), 0.2), 0.25))  # softmax: no head above 2/T copies
    # strength-weighted: a noise-level head barely counts (plain mean would give (0.707 + 1)/2)
    assert alignment(np.array([[0.7, 0.7], [1e-4, 0.0]]), th) == pytest.approx(1 / np.sqrt(2), abs=1e-4)
    # invariant under the symmetries acting on M: head permutations and signs, parent permutation and signs
    rng = np.random.default_rng(0)
    M = rng.standard_normal((3, 2))
    a = alignment(M, th)
    assert 1 / np.sqrt(2) <= a <= 1
    for img in (M[::-1], -M, M[:, ::-1], M * np.array([1.0, -1.0]), M * np.array([[1.0], [-1.0], [1.0]])):
        assert alignment(img, th) == pytest.approx(a, abs=1e-15)
    # batched
    assert np.allclose(alignment(np.stack([np.eye(2), c * np.array([[1.0, 1.0], [1.0, -1.0]])]), th),
                       [1.0, 1 / np.sqrt(2)])


@pytest.mark.parametrize("kw", [dict(attention="linear"), dict(attention="linear", T=7), dict(), dict(T=7)])
def test_symmetry_matrices_leave_F_invariant(kw):
    """Every symmetry matrix maps F to itself and the gradient equivariantly; linear attention with even T has
    the modulation p_hk -> (-1)^k p_hk (J + J^2 and J - J^2 are images), odd T and softmax do not."""
    fe = WindowFreeEnergy(Model(heads=2, parents=2, sigma2=0.3, **kw))
    rng = np.random.default_rng(3)
    x = rng.standard_normal(fe.n) * (0.4 if not fe.softmax else 1.5)
    F, g = fe.derivatives(x, 9.0)[:2]
    syms = fe.symmetry_matrices()
    for S in syms:
        F2, g2 = fe.derivatives(S @ x, 9.0)[:2]
        assert F2 == pytest.approx(F, rel=1e-12)
        assert np.max(np.abs(g2 - S @ g)) < 1e-10
    mod = np.kron(np.eye(2), fe.B.T @ np.diag((-1.0) ** np.arange(fe.T)) @ fe.B)
    has_mod = any(np.allclose(S, mod) for S in syms)
    assert has_mod == (not fe.softmax and fe.T % 2 == 0)
    if not has_mod:  # and where it is missing it is not a symmetry
        assert abs(fe.value(mod @ x, 9.0) - F) > 1e-3


def test_labels_of_hand_made_states():
    lin = WindowFreeEnergy(Model(heads=2, parents=2, attention="linear"))
    w = np.zeros((2, 8))
    w[0, 1:3], w[1, 1:3] = [0.7, -0.7], [-0.7, -0.7]
    assert phase_label(lin, lin.state(w)) == "mixed"
    w[:] = 0.0
    w[0, 1], w[1, 2] = 0.9, -0.9  # aligned, a head with a negative sign
    assert phase_label(lin, lin.state(w)) == "specialised"
    w[:] = 0.0
    w[:, 1:3] = [0.5, -0.5]  # heads alike, each copying both parents alike in modulus
    assert phase_label(lin, lin.state(w)) == "unspecialised"
    w[1] *= -1.0  # the sign of a head is a symmetry: still alike
    assert phase_label(lin, lin.state(w)) == "unspecialised"
    w[:] = 0.0
    w[0, 1:3] = [0.7, 0.7]  # one head copies (both parents), the other does not
    assert phase_label(lin, lin.state(w)) == "partial"
    sm = WindowFreeEnergy(Model(heads=2, parents=2))
    w = np.zeros((2, 8))
    w[0, 1], w[1, 2] = 4.0, 4.0
    x = sm.state(w)
    assert phase_label(sm, x) == "specialised" and alignment(sm.order_parameters(x)[0], copy_threshold(sm)) > 0.99


# ----------------------------------------------------------------------------- linear attention, qk prior
def test_linear_H2K2_is_mixed_not_specialised(linear22):
    res = linear22
    m = res.model
    fe = WindowFreeEnergy(m)
    ac = (2 + np.sqrt(4 + 4 * m.nu * m.T / m.sigma2)) / 2  # closed-form onset (test_window_solver)
    assert [(p.frm, p.to, p.kind) for p in res.phases] == [("uniform", "mixed", "second-order")]
    t = res.transition
    assert (t.frm, t.to, t.kind) == ("uniform", "mixed", "second-order")
    assert t.alpha == pytest.approx(ac, rel=1e-11)
    a = 14.0
    glob = min((b for b in res.stable_branches() if b.covers(a)), key=lambda b: b.F_at(fe, a))
    x = glob.x_at(fe, a)
    M, R = fe.order_parameters(x)
    assert phase_label(fe, x) == "mixed" and glob.label == "mixed"
    assert np.allclose(np.abs(M), np.abs(M[0, 0]), rtol=0, atol=1e-9)  # |m_hk| all equal: the 45-degree state
    assert abs(M[0] @ M[1]) < 1e-9  # the two heads' patterns are orthogonal
    assert specialisation(fe, M) > 0.5  # full rank: sigma_K alone would call it specialised
    assert alignment(M, copy_threshold(fe)) == pytest.approx(1 / np.sqrt(2), abs=1e-12)
    assert not preferred_parents(fe, M)[0].any()
    # the aligned state is stationary but a saddle, with a higher F
    spec = [b for b in res.branches if b.label == "specialised" and b.covers(a)]
    assert spec and all(not b.stable for b in spec)
    Fs = spec[0].F_at(fe, a)
    assert Fs > fe.value(x, a) + 0.1
    Ms = fe.order_parameters(spec[0].x_at(fe, a))[0]
    assert alignment(Ms, copy_threshold(fe)) == pytest.approx(1.0, abs=1e-9)


def test_rotated_state_wins_by_the_prior_alone(linear22):
    """Rotating the parent block of the mixed state by 45 degrees gives an aligned state with the same M M^T and
    R, hence the same energy e(M, R) (eq. (W2) is invariant under M -> M O); the qk prior rate sum_j j(|FFT w|_j)
    is larger for it (j(sqrt(u)) is concave and the aligned spectrum is flat), so F is larger; and an
    unconstrained trust-region minimisation from near the aligned state ends on the mixed state."""
    from scipy.optimize import minimize

    res = linear22
    m = res.model
    fe = WindowFreeEnergy(m)
    a = 14.806
    b = [b for b in res.stable_branches() if b.label == "mixed"][0]
    x = b.x_at(fe, a)
    w = fe.logits(x)
    O = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2)
    rots = []
    for Oc in (O, O.T):
        wa = w.copy()
        wa[:, 1:3] = w[:, 1:3] @ Oc
        rots.append(wa)
    wa = max(rots, key=lambda v: alignment(v[:, 1:3], 1e-6))  # the rotation that aligns the heads
    assert alignment(wa[:, 1:3], 1e-6) == pytest.approx(1.0, abs=1e-9)
    M, R = fe.order_parameters(x)
    Ma, Ra = fe.order_parameters(fe.state(wa))
    assert window_energy(Ma, Ra, a, m.sigma2) == pytest.approx(window_energy(M, R, a, m.sigma2), abs=1e-12)
    prior = lambda v: m.nu * float(np.sum(rate(np.abs(np.fft.fft(v, axis=-1)), "qk")))  # noqa: E731
    assert prior(wa) > prior(w) + 0.1
    assert fe.value(fe.state(wa), a) - fe.value(x, a) == pytest.approx(prior(wa) - prior(w), abs=1e-12)
    rng = np.random.default_rng(0)
    x0 = fe.state(wa) + 1e-3 * rng.standard_normal(fe.n)
    out = minimize(lambda z: fe.derivatives(z, a)[0], x0, jac=lambda z: fe.derivatives(z, a)[1],
                   hess=lambda z: fe.derivatives(z, a)[2], method="trust-exact", options={"gtol": 1e-10})
    assert out.fun == pytest.approx(fe.value(x, a), abs=1e-9)
    assert phase_label(fe, out.x) == "mixed"


def test_linear_single_head_copies_both_parents_without_flip_flop():
    """H = 1, K = 2, linear, qk: the head copies both parents with equal modulus (J + J^2 and J - J^2 are images
    under the modulation symmetry; before it was in the group, the two images carried different names and the
    global minimum 'changed phase' dozens of times); the head on one parent is a saddle."""
    res = solve_window(Model(heads=1, parents=2, attention="linear"))
    assert [(p.frm, p.to, p.kind) for p in res.phases] == [("uniform", "unspecialised", "second-order")]
    fe = WindowFreeEnergy(res.model)
    for b in res.stable_branches():
        if b.label != "uniform":
            assert b.label == "unspecialised"
            assert np.nanmax(np.abs(b.align - 1 / np.sqrt(2))) < 1e-9
    assert any(b.label == "copying" and not b.stable for b in res.branches)
    assert fe.H == 1


def test_window_json_and_table_carry_the_alignment(capsys, tmp_path, linear22):
    from copyhead.cli import main
    from copyhead.numerics.window_solve import format_window_table

    rc = main(["solve", "--heads", "2", "--parents", "2", "--attention", "linear", "--json",
               "--outdir", str(tmp_path), "--no-plots"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["transition"] == "second-order" and d["transition_to"] == "mixed"
    assert d["phases"][0]["to"] == "mixed" and d["phases"][0]["alignment_below"] is None  # uniform: no head copies
    # just above a continuous onset (alpha_c (1 + 1e-7)) |m| ~ 1e-4 or below the threshold 1e-6 (then null)
    for v in (d["phases"][0]["alignment_above"], d["alignment_above"]):
        assert v is None or v == pytest.approx(1 / np.sqrt(2), abs=1e-6)
    assert "alignment" in d["order_parameters"] and d["order_parameters"]["copy_threshold"] == 1e-6
    mixed = [b for b in d["branches"] if b["phase"] == "mixed"]
    assert mixed and all(b["alignment_range"][1] == pytest.approx(1 / np.sqrt(2)) for b in mixed)
    csv = (tmp_path / "linear_qk_posterior_H2K2_branches.csv").read_text().splitlines()
    assert "alignment" in csv[0].split(",")
    out = format_window_table(linear22)  # what `copyhead solve --heads 2 --parents 2 --attention linear` prints
    assert "(uniform -> mixed)" in out and "  alignment             - / " in out


# ----------------------------------------------------------------------------- softmax: names unchanged
def _label_before(fe, x, tol=1e-6):
    """The rule before the alignment follow-up (softmax: M >= 0), as the independent reference."""
    M, _ = fe.order_parameters(x)
    theta = 2.0 / fe.T
    strong = np.max(M, axis=1) > theta
    w = fe.weights(x)
    if np.all(np.abs(w - w[0]) < tol):
        perm = [(fe.K + 1 - k) % fe.T for k in range(fe.T)]
        if np.all(np.abs(w[:, perm] - w) < tol):
            return "uniform" if not strong.any() else ("copying" if fe.K == 1 else "unspecialised")
        return "copying" if fe.H == 1 else "redundant"
    if fe.H < fe.K:
        return "copying"
    srt = np.sort(M, axis=1)
    prefers = srt[:, -1] - srt[:, -2] > tol
    pref = np.argmax(M, axis=1)
    if len({int(pref[h]) for h in range(fe.H) if prefers[h]}) == fe.K:
        s = strong[prefers]
        if s.all() or not s.any():
            return "specialised"
    return "partial"


@pytest.mark.parametrize("kw", [dict(heads=2, parents=2), dict(heads=2, parents=2, sigma2=3.0, nu=2.0)])
def test_softmax_labels_unchanged(kw):
    """Every point of every softmax branch keeps the label of the previous rule; the specialised global minimum
    is aligned (alignment > 0.9: nonnegative M, one parent per head)."""
    res = solve_window(Model(**kw))
    fe = WindowFreeEnergy(res.model)
    n = 0
    for b in res.branches:
        for x in b.x:
            assert phase_label(fe, x) == _label_before(fe, x)
            n += 1
    assert n > 100
    t = res.transition
    assert t.to == "specialised"
    if t.kind == "first-order":
        assert res.observables_at_transition["a_above"] > 0.9
    else:  # a continuous onset: just above it no head is above the copy threshold 2/T yet
        assert res.observables_at_transition["a_above"] is None
    a_hi = max(b.align[np.argmax(b.alpha)] for b in res.stable_branches() if b.label == "specialised")
    assert a_hi > 0.92


def test_mixed_state_is_the_minimum_over_all_scores(linear22):
    """Independent of the circulant ansatz: L-BFGS over all H T^2 linear scores (random, structured, aligned
    starts) finds nothing below the mixed state, and the random starts end on it (a circulant)."""
    from copyhead.numerics.window_check import check_window_ansatz

    chk = check_window_ansatz(linear22.model, 14.0, result=linear22, n_random=4, maxiter=3000)
    assert chk.phase_ansatz == "mixed"
    assert chk.best_gap > -1e-9 and chk.distance_at_best < 1e-6
    rand = [r for r in chk.runs if r["start"].startswith("random")]
    assert rand and all(r["converged"] and abs(r["gap"]) < 1e-9 and r["phase"] == "mixed" for r in rand)


def test_linear_seed_on_the_branch_point_is_moved():
    """nu = 0.3: alpha_c = (2 + sqrt(4 + 4 nu T/sigma2))/2 = 6 exactly is the geometric midpoint of the automatic
    window [3, 12], i.e. a seed alpha; a seed on the branch point made the tracer fail before."""
    res = solve_window(Model(heads=2, parents=2, attention="linear", nu=0.3))
    assert [(p.frm, p.to, p.kind) for p in res.phases] == [("uniform", "mixed", "second-order")]
    assert res.transition.alpha == pytest.approx(6.0, rel=1e-11)
