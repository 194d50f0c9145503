"""The two-layer induction head on n-gram Markov chains (seed 003): closed forms in NumPy.

* :class:`InductionModel` -- the one parameter object (data law + architecture), shared with the
  torch simulation :mod:`copyhead.verification.induction`;
* :mod:`.data` -- the n-gram law (per-sequence Dirichlet rows, uniform first ``n - 1`` tokens);
* :mod:`.bayes` -- the Bayes-optimal in-context predictor and its cross-entropy;
* :mod:`.selector` -- the informative-parent criterion (modified chi-square mutual information)
  predicting the subset the selector keeps.
"""
from .bayes import bayes_cross_entropy, bayes_predictive, transition_counts
from .data import NGramData, sample_ngram
from .params import InductionModel, offset_subsets, selector_subsets
from .selector import SelectorPrediction, chi2_information, selector_criterion, selector_signal

__all__ = ["InductionModel", "NGramData", "sample_ngram", "bayes_predictive", "bayes_cross_entropy",
           "transition_counts", "selector_criterion", "selector_signal", "chi2_information",
           "SelectorPrediction", "offset_subsets", "selector_subsets"]
