"""A derivation as a list of named steps, printable and exportable as LaTeX / markdown.

Every function in :mod:`theory` that derives something returns a :class:`Derivation` next to
the final expressions, so that ``derivations/*.py`` can print each step and write
``derivations/out/*.tex`` without repeating the algebra.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import sys
from pathlib import Path

import sympy as sp


@dataclass
class Derivation:
    title: str
    steps: list = field(default_factory=list)

    def step(self, text: str, expr=None, lhs: str | None = None):
        """Record one step: an explanation and (optionally) an equation ``lhs = expr``."""
        self.steps.append((text, lhs, expr))
        return expr

    def to_text(self) -> str:
        out = [self.title, "=" * len(self.title)]
        for i, (text, lhs, expr) in enumerate(self.steps, 1):
            out.append(f"[{i}] {text}")
            if expr is not None:
                body = sp.sstr(expr)
                out.append(f"    {lhs} = {body}" if lhs else f"    {body}")
        return "\n".join(out)

    def to_latex(self) -> str:
        out = [f"\\section*{{{self.title}}}", "\\begin{enumerate}"]
        for text, lhs, expr in self.steps:
            out.append(f"\\item {text}")
            if expr is not None:
                tex = sp.latex(expr)
                out.append("\\begin{equation*}" + (f"{lhs} = " if lhs else "") + tex + "\\end{equation*}")
        out.append("\\end{enumerate}")
        return "\n".join(out)

    def emit(self, name: str, outdir: str | Path | None = None, quiet: bool = False) -> Path:
        """Print the steps and write ``<outdir>/<name>.tex``; returns the path written.

        The default ``outdir`` is ``out/`` beside the running derivation script
        (``derivations/out`` for ``derivations/NN_*.py``, run directly or by ``copyhead derive``).
        """
        if outdir is None:
            main = getattr(sys.modules.get("__main__"), "__file__", None)
            if main is None:
                raise ValueError("Derivation.emit needs outdir= when not run from a derivation script")
            outdir = Path(main).resolve().parent / "out"
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        path = outdir / f"{name}.tex"
        path.write_text(self.to_latex() + "\n")
        if not quiet:
            print(self.to_text())
            print(f"\n[LaTeX written to {path}]")
        return path
