"""Window copier: the prior rate of circulant positional scores with several shifted diagonals.

Run: python derivations/11_window_prior.py  (writes derivations/out/11_window_prior.tex)
S = sum_k w_k J^k has singular values |lambda_j| (Fourier modes); J(S) = sum_j j(|lambda_j|).
Implemented in theory/window_energy.py (circulant_rate); tested against an SVD in tests/theory/test_window.py.
"""
from copyhead.theory.symbolic.window import derive_circulant_rate

derive_circulant_rate(4).emit("11_window_prior")
