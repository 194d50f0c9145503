"""Verification layer: finite-size torch Monte Carlo (HMC, Langevin) and Adam training against the theory.

Public API::

    from copyhead.verification import run_sweep, train_adam, sample_langevin, hmc_sample, Counts

(imported lazily: ``import copyhead.verification`` does not import torch until one is used).
"""
from __future__ import annotations

import importlib

_API = {
    "run_sweep": ".sweep", "load_sweep": ".sweep", "save_sweep": ".sweep", "compare_starts": ".sweep",
    "hmc_sample": ".hmc", "train_adam": ".training", "sample_langevin": ".langevin",
    "PosteriorTarget": ".evidence_torch", "Counts": ".evidence_torch", "switching_study": ".switching",
    "ChainState": ".hmc", "hmc_step": ".hmc", "run_chains": ".hmc",
}
__all__ = sorted(_API)


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(_API[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
