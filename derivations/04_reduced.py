"""Step 4: reduced free energies for linear (S = mJ) and softmax (S = s(J - 11^T/T)) attention.

Run: python derivations/04_reduced.py  (writes derivations/out/04_reduced.tex)
Implemented in theory/reduced.py; the generated kernels (copyhead codegen) print these.
"""
from copyhead.theory.symbolic.reduced import derive_reduced

derive_reduced().emit("04_reduced")
