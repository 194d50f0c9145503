"""Symbolic theory of copy-head emergence: model, exact evidence, SymPy derivations, code generation."""
from .model import DEFAULT, Model, ParameterError

__all__ = ["Model", "DEFAULT", "ParameterError"]
