"""Window copier: the reduced free energy over the heads' offset logits (eq. W4).

Run: python derivations/12_window_reduced.py  (writes derivations/out/12_window_reduced.tex)
Implemented with exact derivatives in numerics/window_free.py (NumPy reference) and
numerics/window_kernel.py (Numba); the ansatz is checked against unconstrained minimisation over
all H T^2 scores by numerics/window_check.py.
"""
from copyhead.theory.symbolic.window import derive_window_reduced

derive_window_reduced().emit("12_window_reduced")
