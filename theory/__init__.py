"""Theory: the model, the exact evidence and the closed forms of the reduced theory (NumPy).

Public API::

    from copyhead.theory import Model, ParameterError, DEFAULT            # the copy head (and window copier)
    from copyhead.theory import InductionModel                            # induction head on n-gram chains
    from copyhead.theory import ICLRegression                             # multi-head ICL regression

SymPy derivations and the code generator live in :mod:`copyhead.theory.symbolic` (build time).
Each system's closed forms: :mod:`copyhead.theory.induction`, :mod:`copyhead.theory.icl_regression`,
:mod:`copyhead.theory.window`, :mod:`copyhead.theory.window_energy`.
"""
from .icl_regression import ICLRegression
from .induction import InductionModel
from .model import DEFAULT, Model, ParameterError

__all__ = ["Model", "DEFAULT", "ParameterError", "InductionModel", "ICLRegression"]
