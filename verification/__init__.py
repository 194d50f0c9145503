"""Verification layer: finite-size torch Monte Carlo (HMC, Langevin) and Adam training against the theory.

Public API::

    from copyhead.verification import run_sweep, train_adam, sample_langevin, hmc_sample, Counts
    from copyhead.verification import run_induction_experiment, train_icl_regression, sample_kq_posterior

(imported lazily: ``import copyhead.verification`` does not import torch until one is used).
"""
from __future__ import annotations

import importlib

_API = {
    "run_sweep": ".sweep", "load_sweep": ".sweep", "save_sweep": ".sweep", "compare_starts": ".sweep",
    "hmc_sample": ".hmc", "train_adam": ".training", "sample_langevin": ".langevin",
    "PosteriorTarget": ".evidence_torch", "Counts": ".evidence_torch", "switching_study": ".switching",
    "ChainState": ".hmc", "hmc_step": ".hmc", "run_chains": ".hmc",
    # the new systems
    "run_induction_experiment": (".induction", "run_experiment"),
    "train_icl_regression": (".icl_regression", "train"),
    "sample_kq_posterior": (".icl_regression_posterior", "sample_kq_posterior"),
}
__all__ = sorted(_API)


def __getattr__(name):
    if name in _API:
        mod, attr = _API[name] if isinstance(_API[name], tuple) else (_API[name], name)
        return getattr(importlib.import_module(mod, __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
