"""Theory: the model, the exact evidence and the closed forms of the reduced theory (NumPy).

Public API::

    from copyhead.theory import Model, ParameterError, DEFAULT

SymPy derivations and the code generator live in :mod:`copyhead.theory.symbolic` (build time).
"""
from .model import DEFAULT, Model, ParameterError

__all__ = ["Model", "DEFAULT", "ParameterError"]
