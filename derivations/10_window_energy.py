"""Window copier, step 1-2: the block evidence and its V -> infinity limit e(M, R).

Run: python derivations/10_window_energy.py  (writes derivations/out/10_window_energy*.tex)
H heads, K parents, target concat(x_{t-1}, ..., x_{t-K}); the HV x HV and HV x KV blocks of the
evidence with mean counts are a Pi + b 11^T, so log det and the quadratic form reduce to H x H
matrices. Implemented in theory/window.py (exact evidence) and theory/window_energy.py (e(M, R));
tested in tests/theory/test_window.py (brute-force GP evidence; exact evidence at V = 16..64).
"""
from copyhead.theory.symbolic.window import derive_sum_target_contrast, derive_window_energy

for H, K in ((1, 1), (2, 2), (1, 2), (3, 2)):
    e, e1_mean, der = derive_window_energy(H, K)  # raises unless the V^2 coefficient equals (W2)
    der.emit(f"10_window_energy_H{H}K{K}")
derive_sum_target_contrast().emit("10b_window_sum_target")
