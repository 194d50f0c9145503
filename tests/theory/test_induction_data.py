"""The n-gram data law of the induction-head system: parameters, tables, chains, labels.

Statistical tests use a fixed seed; each threshold is a p-value of 1e-4 (a correct sampler fails
with probability 1e-4 per test and seed) or a bound of a few standard errors, stated where used.
"""
import itertools

import numpy as np
import pytest
from scipy import stats

from copyhead.theory.induction import InductionModel, sample_ngram
from copyhead.theory.induction.data import sample_chains, sample_tables
from copyhead.theory.model import ParameterError


@pytest.mark.parametrize("kw,name", [({"n": 1}, "n"), ({"S": 1}, "S"), ({"L": 2, "n": 3}, "L"),
                                     ({"dirichlet": 0}, "dirichlet"), ({"heads": 0}, "heads"),
                                     ({"window": 0}, "window"), ({"window": 100}, "window"),
                                     ({"degree": 5, "heads": 3}, "degree"), ({"eps": 1.0}, "eps"),
                                     ({"eps": -0.1}, "eps"), ({"layer1": "relu"}, "layer1"),
                                     ({"variant": "big"}, "variant")])
def test_invalid_parameters_name_the_parameter(kw, name):
    with pytest.raises(ParameterError) as exc:
        InductionModel(**kw)
    assert exc.value.name == name


def test_defaults_subsets_and_round_trip():
    m = InductionModel()
    assert (m.n, m.S, m.L, m.dirichlet, m.heads, m.window, m.degree, m.eps) == (3, 3, 100, 0.1, 3, 3, 2, 1e-3)
    assert m.parents == [1, 2] and m.contexts == 9
    names = m.subset_names
    assert len(names) == 1 + 4 + 6 and names[0] == [] and ["h1", "h2"] in names and ["x", "h3"] in names
    assert InductionModel.from_dict(m.to_dict()) == m
    assert InductionModel(n=5, heads=2).window == 4


def test_tables_are_dirichlet_rows():
    """Each entry of a Dirichlet(a 1_S) row is Beta(a, (S-1) a): Kolmogorov-Smirnov p > 1e-4."""
    m = InductionModel(S=3, n=2, dirichlet=0.1)
    pi = sample_tables(m, 4000, np.random.default_rng(1))
    assert pi.shape == (4000, 3, 3)
    assert np.allclose(pi.sum(-1), 1.0)
    entries = pi[..., 0].ravel()
    assert stats.kstest(entries, stats.beta(0.1, 0.2).cdf).pvalue > 1e-4


def test_chain_transitions_follow_the_table():
    """With one fixed table for all sequences, the pooled transition counts out of each context are
    multinomial(pi(.|c)) and the first n-1 tokens uniform: chi-square p > 1e-4 for every context."""
    m = InductionModel(n=3, S=3, L=30)
    rng = np.random.default_rng(2)
    table = sample_tables(m.replace(dirichlet=2.0), 1, rng)[0]  # a table with no tiny entries
    x = sample_chains(m, np.repeat(table[None], 3000, axis=0), m.L, rng)
    first = np.bincount(x[:, :2].ravel(), minlength=3)
    assert stats.chisquare(first).pvalue > 1e-4
    for c in range(m.contexts):
        a, b = divmod(c, 3)  # context index: older parent * S + newer parent
        hit = (x[:, :-2] == a) & (x[:, 1:-1] == b)
        counts = np.bincount(x[:, 2:][hit], minlength=3)
        assert counts.sum() > 500
        assert stats.chisquare(counts, counts.sum() * table[c]).pvalue > 1e-4


def _exact_short_law(n, S, a):
    """Exact law of (x_1 .. x_n, y) at L = n: the first n-1 tokens are uniform, x_n ~ pi(c1),
    y ~ pi(c2) with c1 = x_1..x_{n-1}, c2 = x_2..x_n. The two rows coincide iff all n tokens are
    equal; then E[pi_u pi_y] = a (a + [u = y]) / (S a (S a + 1)), otherwise 1/S^2."""
    law = {}
    for seq in itertools.product(range(S), repeat=n + 1):
        xs, y = seq[:-1], seq[-1]
        same = len(set(xs)) == 1
        p2 = a * (a + (xs[-1] == y)) / (S * a * (S * a + 1)) if same else 1.0 / S ** 2
        law[seq] = p2 / S ** (n - 1)
    return law


@pytest.mark.parametrize("n", [2, 3])
def test_short_sequences_have_the_exact_dirichlet_law(n):
    """End-to-end (tables, chain and label) at L = n against the exact law of _exact_short_law,
    whose Dirichlet moment a(a+1)/(Sa(Sa+1)) is the law's signature: chi-square p > 1e-4."""
    S, a = 3, 0.1
    m = InductionModel(n=n, S=S, L=n, dirichlet=a, heads=1, window=1)
    d = sample_ngram(m, 200000, np.random.default_rng(3 + n))
    law = _exact_short_law(n, S, a)
    keys = list(law)
    idx = {k: i for i, k in enumerate(keys)}
    obs = np.bincount([idx[tuple(r)] for r in np.column_stack([d.tokens, d.labels]).tolist()], minlength=len(keys))
    exp = np.array([law[k] for k in keys]) * len(d)
    assert abs(exp.sum() - len(d)) < 1e-6 * len(d)
    assert stats.chisquare(obs, exp).pvalue > 1e-4
