"""Build-time theory: the SymPy derivations, their LaTeX reports and the kernel code generator.

Nothing at run time (solver, Monte Carlo) imports this package; ``copyhead derive`` and
``copyhead codegen`` do.
"""
