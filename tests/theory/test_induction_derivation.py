"""derivations/14_induction_selector.py: its symbolic steps and numerical checks, the committed LaTeX is
current, and the derivation's first-order signal against copyhead.theory.induction.selector (the limit L -> inf
and the torch model's own signal, with a sharp and with the paper's imperfect initial copier).

``python tests/theory/test_induction_derivation.py`` prints the imperfect-copier table quoted in the README
and in the selector docstring.
"""
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from copyhead.theory.induction import InductionModel, chi2_information, sample_ngram, selector_criterion, selector_signal
from copyhead.theory.induction.data import sample_chains, sample_tables
from copyhead.theory.symbolic.induction import (
    _is_zero, chi2_forms, derive_induction_selector, first_order_signal_numeric, joint_symbols, numeric_checks,
)

TEX = Path(__file__).resolve().parents[2] / "derivations" / "out" / "14_induction_selector.tex"


def test_derivation_checks_itself_and_the_tex_is_current():
    der = derive_induction_selector()  # every step raises AssertionError if its symbolic check fails
    assert len(der.steps) > 15
    assert TEX.read_text() == der.to_latex() + "\n", "regenerate: python derivations/14_induction_selector.py"


def test_numeric_checks_of_the_script():
    for name, value in numeric_checks(seed=1).items():
        assert np.isfinite(value) and value < 1e-12, (name, value)


def test_the_symbolic_form_check_can_fail():
    """The ordinary chi-square mutual information (weight mu(z), not mu(z)^2) is a different quantity: the same
    exact zero test rejects it."""
    J, mz, my = joint_symbols(2, 2)
    B = chi2_forms(J, mz, my)["B"]
    ordinary = sum(mz[z] * sum((J[z, y] / mz[z] - my[y]) ** 2 / my[y] for y in range(2)) for z in range(2))
    assert not _is_zero(ordinary - B)
    assert not _is_zero(B - chi2_forms(J, mz, my)["D"] - sp.Rational(1, 100))


def test_long_sequences_tend_to_the_criterion():
    """The derivation's g_U (re-implemented from its steps, eps = 0), averaged over long sequences of one table,
    equals theory.induction.chi2_information of that table: 120 sequences of L = 2000 from one Dirichlet(1) table;
    tolerance 4 standard errors + 0.01 (the O(tau/L) bias of the ratio estimator)."""
    m = InductionModel(n=3, S=3, L=2000, dirichlet=1.0, heads=3, window=3, degree=2, eps=0.0)
    rng = np.random.default_rng(7)
    pi = sample_tables(m, 1, rng)
    x = sample_chains(m, np.repeat(pi, 120, axis=0), m.L + 1, rng)
    subsets = [(1,), (2,), (3,), (1, 2), (1, 3), (2, 3)]
    g = first_order_signal_numeric(x[:, :-1], x[:, -1], subsets, eps=0.0, S=3)
    mean, se = g.mean(0), g.std(0, ddof=1) / np.sqrt(g.shape[0])
    exact = chi2_information(m, pi, subsets)[0]
    assert np.all(np.abs(mean - exact) < 4 * se + 0.01), (mean, exact, se)
    assert subsets[int(np.argmax(mean))] == subsets[int(np.argmax(exact))] == (1, 2)


# ----------------------------------------------------------------------------- the torch model's own signal
def torch_first_order_signal(m, data, w_plus: float, check_autograd: bool = False):
    """Per-sequence a -> 0 selector signal g_U of the torch model (simplified variant, paper initialisation with
    own-offset logit ``w_plus``): exact first order, ``attention = 1/L``, so
    ``g_U = (1 - eps) mean_t' (k_U(t') - kbar_U) 1[x_t' = y] / ((1 - eps) phat + eps/S)`` with the model's own kernel
    terms ``k_U``. Returns ``(g (B, n_subsets), own-offset weight)``; with ``check_autograd`` also compares the
    mean with ``-(1/a) dl/dw`` by autograd at ``a = 1e-6`` (relative difference returned as a third value)."""
    import torch

    from copyhead.verification.induction.model import Batch, InductionTransformer

    batch = Batch(m, data.tokens, data.labels)
    net = InductionTransformer(m, init="paper", w_plus=w_plus, w_minus=0.1)
    with torch.no_grad():
        kt = net.kernel_terms(batch)[batch.pair_ids]
        match = batch.match
        phat = match.mean(1)
        eps, S = m.eps, m.S
        g = (1 - eps) * ((kt - kt.mean(1, keepdim=True)) * match[..., None]).mean(1) / ((1 - eps) * phat + eps / S)[:, None]
    own = float(net.copier_weights()[0, 0])
    g = g.numpy()
    if not check_autograd:
        return g, own
    with torch.no_grad():
        net.a.fill_(1e-6)
    w = torch.full((len(m.subsets),), 1.0 / len(m.subsets), dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(net.loss(batch, w), w)
    ref = -grad.numpy() / 1e-6
    return g, own, float(np.max(np.abs(ref - g.mean(0))) / np.max(np.abs(g.mean(0))))


def _offset_columns(m):
    """Model subset index of each offset subset made of heads only (head h copies offset h)."""
    names = m.subset_names
    out = {}
    for i, nm in enumerate(names):
        if nm and "x" not in nm:
            out[tuple(int(h[1:]) for h in nm)] = i
    return out


def imperfect_copier_table(window: int = 3, B: int = 20000, seed: int = 1, draws: int = 40000):
    """n = 3, S = 3, L = 50, ``window`` heads and offsets, degree 2: I(U), the sharp-copier signal (NumPy,
    theory.induction.selector_signal) and the torch model's signal for the paper's initial copier and for
    own-offset weight 0.948, on the same sequences."""
    import math

    m = InductionModel(n=3, S=3, L=50, heads=window, window=window, degree=2)
    crit = selector_criterion(m, draws=draws, seed=0)
    data = sample_ngram(m, B, np.random.default_rng(seed))
    sharp = selector_signal(m, data.tokens, data.labels, crit.subsets)
    cols = _offset_columns(m)
    w948 = math.log(0.948 / 0.052 * (window - 1) * math.exp(0.1))  # softmax weight 0.948 on the own offset
    rows = {}
    for lab, wp in (("paper init", 3.0), ("weight 0.948", w948)):
        if window == 2 and lab == "weight 0.948":
            continue  # the paper's initial copier has weight e^3/(e^3 + e^0.1) = 0.948 at window 2
        g, own = torch_first_order_signal(m, data, wp)
        rows[lab] = (own, np.array([g[:, cols[u]].mean() for u in crit.subsets]))
    return crit, sharp, rows


def test_torch_signal_sharp_and_imperfect_copier():
    """A sharp copier (w+ = 40): the torch model's exact first-order signal equals the NumPy selector_signal of the
    theory on the same sequences (two independent implementations), and autograd at a = 1e-6 agrees. The paper's
    initial copier (own-offset weight 0.901) lowers the signal of every offset subset (paired, by more than 4
    standard errors) without changing the winner {1, 2}."""
    m = InductionModel(n=3, S=3, L=50, heads=3, window=3, degree=2)
    data = sample_ngram(m, 4000, np.random.default_rng(3))
    cols = _offset_columns(m)
    subsets = sorted(cols, key=lambda u: (len(u), u))
    ref = selector_signal(m, data.tokens, data.labels, subsets)["mean"]
    g_sharp, own, rel = torch_first_order_signal(m, data, 40.0, check_autograd=True)
    assert own > 1 - 1e-15 and rel < 1e-5
    assert np.allclose([g_sharp[:, cols[u]].mean() for u in subsets], ref, rtol=1e-10, atol=1e-12)
    for nm, i in zip(m.subset_names, range(len(m.subsets))):
        if not nm or "x" in nm:
            assert np.all(g_sharp[:, i] == 0)  # no signal for the empty subset or with the token x
    g_paper, own = torch_first_order_signal(m, data, 3.0)
    assert own == pytest.approx(np.exp(3) / (np.exp(3) + 2 * np.exp(0.1)))
    for u in subsets:
        d = g_sharp[:, cols[u]] - g_paper[:, cols[u]]
        assert d.mean() > 4 * d.std(ddof=1) / np.sqrt(d.size), u
    best = lambda g: subsets[int(np.argmax([g[:, cols[u]].mean() for u in subsets]))]  # noqa: E731
    assert best(g_paper) == best(g_sharp) == (1, 2)


def _print_table(window):
    crit, sharp, rows = imperfect_copier_table(window)
    print(f"\nn = 3, S = 3, L = 50, {window} heads, window {window}, 20000 sequences (seed 1); I(U): 40000 tables (seed 0)")
    print(f"{'offsets':>8s} {'I(U)':>8s} {'sharp g':>8s} " + " ".join(f"{k + f' ({v[0]:.3f})':>22s}" for k, v in rows.items()))
    for i, u in enumerate(crit.subsets):
        line = f"{str(u):>8s} {crit.values[i]:8.4f} {sharp['mean'][i]:8.4f} "
        line += " ".join(f"{v[1][i]:8.4f} ({v[1][i] / sharp['mean'][i]:.3f}, {v[1][i] / crit.values[i]:.3f})" for v in rows.values())
        print(line)
    print("(ratios: to the sharp copier on the same sequences, to I(U))")
    for name, vals in [("I(U)", crit.values), ("sharp", sharp["mean"])] + [(k, v[1]) for k, v in rows.items()]:
        o = np.argsort(-vals)
        print(f"top two {name}: {crit.subsets[o[0]]} {crit.subsets[o[1]]}, margin {vals[o[0]] - vals[o[1]]:.4f}")


if __name__ == "__main__":  # the imperfect-copier tables of the README (about 10 s)
    for window in (3, 2):
        _print_table(window)
