"""Step 3: prior rate j(s): qk prior (Legendre transform and Wishart contraction), gaussian, MAP.

Run: python derivations/03_prior_rate.py  (writes derivations/out/03_prior_rate.tex)
Implemented in theory/prior.py; the matrix rate J(S) = sum j(sigma_i) is tested against direct
numerical minimisation of the Wishart rate in tests/theory/test_prior.py.
"""
from copyhead.theory.symbolic.prior import derive_qk_rate

j, der = derive_qk_rate()
der.emit("03_prior_rate")
