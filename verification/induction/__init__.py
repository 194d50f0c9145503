"""The induction-head system in torch (seed 003): the two-layer model, its training, one experiment.

* :mod:`.model` -- :class:`InductionTransformer` (simplified / full variant, softmax / linear layer 1);
* :mod:`.training` -- :class:`TrainConfig`, :func:`train` (full-batch GD or Adam, joint or staged);
* :mod:`.experiment` -- :func:`run_experiment` (data, training, Bayes floor, selector criterion);
* :mod:`.plots` -- the figures of ``copyhead induction``.
"""
from .experiment import run_experiment
from .model import Batch, InductionTransformer
from .training import TrainConfig, TrainResult, train

__all__ = ["InductionTransformer", "Batch", "TrainConfig", "TrainResult", "train", "run_experiment"]
