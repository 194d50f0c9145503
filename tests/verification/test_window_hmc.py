"""Window copier in torch: block evidence equal to NumPy, exact gradients, the MAP loss from counts,
a short HMC run in the specialised phase (both starts reach the specialised state), and the naming of
finite-V states (alignment, nearest V = inf state)."""
import numpy as np
import pytest
import torch

from copyhead.theory.evidence import data_counts, sample_tokens
from copyhead.theory.model import Model
from copyhead.theory.window import window_design_matrix, window_log_evidence as np_evidence, window_targets
from copyhead.verification.evidence_torch import Counts
from copyhead.verification.window import WindowPosterior, map_loss, window_log_evidence


@pytest.mark.parametrize("H,K", [(2, 2), (1, 2), (3, 2)])
def test_torch_block_evidence_equals_numpy(H, K):
    rng = np.random.default_rng(H + 10 * K)
    T, V, P = 5, 4, 30
    Gs = np.stack([data_counts(sample_tokens(P, T, V, rng), V) for _ in range(2)])
    A = torch.softmax(2.0 * torch.randn(4, H, T, T, dtype=torch.float64, generator=torch.Generator().manual_seed(H)), -1)
    lp = window_log_evidence(A, Counts(Gs), 0.7, 1.3, K)  # chains 0, 1 on data set 0; 2, 3 on data set 1
    for b in range(4):
        ref = np_evidence(A[b].numpy(), Gs[b // 2], 0.7, 1.3, K)
        assert float(lp[b]) == pytest.approx(ref, rel=1e-12)


def test_posterior_gradient_matches_finite_differences():
    m = Model(T=4, V=4, alpha=2.0, nu=1.0, heads=2, parents=2)
    G = data_counts(sample_tokens(m.P, 4, 4, np.random.default_rng(0)), 4)
    tgt = WindowPosterior(m, G, B=1)
    x = 0.7 * tgt.prior_draw(torch.Generator().manual_seed(1))
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(tgt(xg).sum(), xg)
    rng = np.random.default_rng(2)
    for i in rng.choice(tgt.dim, 6, replace=False):
        e = torch.zeros_like(x)
        e[0, i] = 1e-6
        fd = float(tgt(x + e) - tgt(x - e)) / 2e-6
        assert float(g[0, i]) == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_map_loss_from_counts_equals_direct_sum():
    m = Model(T=5, V=4, alpha=3.0, nu=1.0, heads=2, parents=2)
    tok = sample_tokens(m.P, 5, 4, np.random.default_rng(3))
    gen = torch.Generator().manual_seed(4)
    Q = torch.randn(1, 2, m.N, 5, dtype=torch.float64, generator=gen)
    Kk = torch.randn(1, 2, m.N, 5, dtype=torch.float64, generator=gen)
    W = torch.randn(1, 8, 8, dtype=torch.float64, generator=gen)
    U = float(map_loss(Q, Kk, W, Counts(data_counts(tok, 4)), m)[0])
    A = torch.softmax(Q.transpose(-2, -1) @ Kk / m.N, -1)[0].numpy()
    Z, Y = window_design_matrix(A, tok, 4), window_targets(tok, 4, 2)
    direct = (np.sum((Y - Z @ W[0].numpy().T) ** 2) / 2 + 0.5 * float((Q**2).sum() + (Kk**2).sum())
              + 4 * float((W**2).sum()) / (2 * m.sigma2))
    assert U == pytest.approx(direct, rel=1e-12)


def test_short_hmc_in_the_specialised_phase():
    """V = 8, alpha = 35 (specialised phase at V = inf, q = 0.601): chains from a prior draw and from the
    theory's specialised branch both specialise and agree within their errors; the finite-size gap to
    the V = inf theory is O(1/V) (measured 0.054 at V = 8 in 2000 iterations; the test allows 0.12)."""
    from copyhead.verification.window_study import run_hmc

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: one thread (several threads on a loaded machine are ~10x slower)
    try:
        out = run_hmc(Model(heads=2, parents=2, V=8), [35.0], iters=150, warmup=150, n_leapfrog=5, seed=0)
    finally:
        torch.set_num_threads(threads)
    r_u, r_s = out["rows"]
    q_inf = [t["q"] for t in r_u["theory"] if t["phase"] == "specialised"][0]
    assert q_inf == pytest.approx(0.601, abs=2e-3)
    assert r_s["start"] == "ordered" and r_s["start_phase"] == "specialised"
    for r in (r_u, r_s):
        assert r["acceptance"] > 0.5
        assert r["q_mean"] > 0.4
        assert abs(r["q_mean"] - q_inf) < 0.12
        assert r["phase"] == "specialised" and r["phase_stable"]  # the nearest V = inf state, modulo symmetry
        assert r["a_mean"] > 0.9 and r["a_defined"] > 0.9  # aligned heads (softmax: M >= 0)
    assert abs(r_u["q_mean"] - r_s["q_mean"]) < 5 * np.hypot(r_u["q_mcse"], r_s["q_mcse"]) + 0.02


def test_window_study_command(tmp_path, capsys):
    """``copyhead window-study adam``: runs, writes JSON with provenance; bad input exits 2."""
    import json

    from copyhead.cli import main

    rc = main(["window-study", "adam", "--V", "8", "--alphas", "60", "--steps", "20", "--outdir", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "symmetric start" in out
    files = list(tmp_path.glob("window_adam_*.json"))
    assert len(files) == 1 and "provenance" in json.loads(files[0].read_text())
    assert main(["window-study", "hmc", "--alphas", "-1", "--outdir", str(tmp_path)]) == 2
    assert "invalid parameter alphas" in capsys.readouterr().err


def test_torch_alignment_equals_numpy_and_linear_copy_weights():
    """The torch alignment is the NumPy one; Adam's recorded M uses the model's attention (linear: the scores
    themselves, not their softmax)."""
    from copyhead.numerics.window_branches import alignment as a_np
    from copyhead.verification.window import alignment as a_torch, order_parameters
    from copyhead.verification.window_study import copy_weights

    rng = np.random.default_rng(5)
    M = rng.standard_normal((6, 3, 2)) * np.array([1.0, 1.0, 1.0, 1e-7, 0.3, 1.0])[:, None, None]
    for th in (1e-6, 0.25):
        got = a_torch(torch.as_tensor(M), th).numpy()
        ref = a_np(M, th)
        assert np.array_equal(np.isnan(got), np.isnan(ref)) and np.allclose(got[~np.isnan(got)], ref[~np.isnan(ref)],
                                                                            rtol=1e-14)
    m = Model(T=5, V=4, alpha=2.0, nu=1.0, heads=2, parents=2, attention="linear")
    gen = torch.Generator().manual_seed(0)
    Q = torch.randn(3, 2, m.N, 5, dtype=torch.float64, generator=gen)
    Kk = torch.randn(3, 2, m.N, 5, dtype=torch.float64, generator=gen)
    Mw, _ = copy_weights(Q, Kk, m)
    Mref, _ = order_parameters(Q.transpose(-2, -1) @ Kk / m.N, 2)
    assert torch.allclose(Mw, Mref, rtol=1e-14, atol=0)
    assert float(Mw.min()) < 0  # not a softmax


def test_nearest_phase_modulo_symmetry():
    """A symmetric image of the theory's mixed linear state is named 'mixed' at distance 0; the aligned state
    is named by the (unstable) specialised saddle."""
    from copyhead.numerics.window_free import WindowFreeEnergy
    from copyhead.numerics.window_solve import solve_window
    from copyhead.verification.window_study import nearest_phase, stationary_states

    m = Model(heads=2, parents=2, attention="linear")
    res = solve_window(m)
    fe = WindowFreeEnergy(m)
    states = stationary_states(res, fe, 12.0)
    x = [x for lab, st, x in states if lab == "mixed" and st][0]
    S = fe.symmetry_matrices()[5]
    assert nearest_phase(fe, states, fe.order_parameters(S @ x)[0]) == ("mixed", True, pytest.approx(0, abs=1e-9))
    c = float(np.linalg.norm(fe.order_parameters(x)[0][0]))
    lab, stable, d = nearest_phase(fe, states, np.array([[c, 0.0], [0.0, -c]]))
    assert lab == "specialised" and not stable and d < 0.1


@pytest.mark.parametrize("argv, name", [
    (["adam", "--steps", "0"], "steps=0"),  # ran and wrote a figure with exit 0
    (["adam", "--lr", "-0.1"], "lr=-0.1"),
    (["hmc", "--iters", "5"], "iters=5"),
    (["hmc", "--leapfrog", "0"], "leapfrog=0"),
])
def test_window_study_bad_run_options_exit_2_before_computing(argv, name, tmp_path, capsys):
    from copyhead.cli import main

    out = tmp_path / "out"
    assert main(["window-study", *argv, "--V", "6", "--alphas", "20", "--outdir", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("copyhead: error: invalid parameter") and name in err[0]
    assert not out.exists()


def test_window_study_single_head_single_parent_records_heads(tmp_path, capsys):
    """H = K = 1 (the copy head) runs through: ``model.to_dict()`` drops heads/parents there, and
    the table and figure read them (KeyError 'heads' after the sampling before)."""
    import json

    from copyhead.cli import main

    rc = main(["window-study", "hmc", "--heads", "1", "--parents", "1", "--V", "6", "--alphas", "30",
               "--iters", "20", "--warmup", "10", "--outdir", str(tmp_path)])
    assert rc == 0, capsys.readouterr().err
    assert "heads=1 parents=1" in capsys.readouterr().out
    doc = json.loads(next(tmp_path.glob("window_hmc_*H1K1*.json")).read_text())
    assert doc["model"]["heads"] == 1 and doc["model"]["parents"] == 1
