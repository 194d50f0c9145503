"""Step 2: the V -> infinity limit e(m, r) of the evidence via the a*Pi + b*11^T eigen-structure.

Run: python derivations/02_energy_limit.py  (writes derivations/out/02_energy_limit.tex)
Implemented in theory/energy.py; tested against the exact evidence at growing V in
tests/theory/test_energy.py.
"""
from copyhead.theory.symbolic.energy import derive_energy_limit, derive_training_error

e, e1_mean, der = derive_energy_limit()
der.emit("02_energy_limit")
eps, der2 = derive_training_error()
der2.emit("02b_training_error")
