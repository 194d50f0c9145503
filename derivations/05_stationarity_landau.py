"""Step 5: stationarity, Hessians, linear critical point, Landau quartic, tricritical condition.

Run: python derivations/05_stationarity_landau.py  (writes derivations/out/05_stationarity_landau.tex)
Implemented in theory/landau.py; tested in tests/theory/test_landau.py.
"""
from copyhead.theory.landau import critical_alpha, landau_b, tricritical_sigma2
from copyhead.theory.symbolic.landau import derive_landau

derive_landau().emit("05_stationarity_landau")
T, nu, s2 = 8, 0.5, 0.1
ac = critical_alpha(T, nu, s2)
print(f"\nDefault (T={T}, nu={nu}, sigma2={s2}): alpha_c = {ac:.10f}, b(alpha_c) = {landau_b(T, nu, s2, ac):.10f}")
print(f"Tricritical sigma2 at T={T}, nu={nu}: {tricritical_sigma2(T, nu):.10f}")
