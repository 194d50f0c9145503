import numpy as np
import pytest

from copyhead.numerics.ansatz_check import check_softmax_ansatz, full_free_energy
from copyhead.numerics.phase_diagram import phase_lines, phase_map
from copyhead.numerics.solve import solve
from copyhead.theory.landau import tricritical_sigma2
from copyhead.theory.model import Model


def test_full_free_energy_gradient_by_finite_differences():
    rng = np.random.default_rng(0)
    S = rng.standard_normal((5, 5))
    model = Model(T=5)
    F, g = full_free_energy(S, model, 20.0)
    h = 1e-6
    for idx in (0, 7, 24):
        e = np.zeros(25); e[idx] = h
        fd = (full_free_energy(S.ravel() + e, model, 20.0)[0] - full_free_energy(S.ravel() - e, model, 20.0)[0]) / (2 * h)
        assert g[idx] == pytest.approx(fd, abs=1e-7)


def test_symmetric_ansatz_not_beaten_by_unconstrained_minimisation():
    model = Model()
    t = solve(model).transition
    c = check_softmax_ansatz(model, 0.5 * (t.alpha_c + t.alpha_spinodal_high), n_random=6, seed=1)
    assert c.best_gap > -1e-9  # nothing lower than the ansatz minimum
    assert c.worst_distance_at_best < 1e-5  # and the lowest minimum lies on the ansatz family
    assert all(r["converged"] for r in c.runs)


def test_softmax_critical_end_point_closes_the_window():
    pd = phase_lines(Model(), "sigma2", 0.4, 1.2, n=5)
    cep = pd.special["critical_end_point"]
    assert 0.4 < cep["sigma2"] < 1.2
    assert cep["window_width_at_bracket"] < 0.05  # the first-order window shrinks to zero at the CEP
    kinds = [r["transition"] for r in pd.rows]
    assert kinds[0] == "first-order" and kinds[-1] == "crossover"


def test_linear_tricritical_point_in_phase_lines():
    pd = phase_lines(Model(attention="linear"), "sigma2", 0.02, 0.2, n=5)
    assert pd.special["tricritical_point"]["sigma2"] == pytest.approx(tricritical_sigma2(8, 0.5), rel=1e-10)


def test_phase_map_counts_two_minima_inside_the_window():
    t = solve(Model()).transition
    mid = 0.5 * (t.alpha_spinodal_low + t.alpha_spinodal_high)
    g = phase_map(Model(), "sigma2", [0.1], [0.9 * t.alpha_spinodal_low, mid, 1.1 * t.alpha_spinodal_high])
    assert list(g["n_minima"][0]) == [1, 2, 1]
    assert g["m_global"][0, 0] < 0.3 < 0.5 < g["m_global"][0, 2]
