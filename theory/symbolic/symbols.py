"""SymPy symbols shared by all derivations (one definition, so expressions compose)."""
import sympy as sp

# model parameters (all positive)
T, nu, sigma2, kappa, alpha, V, P, N = sp.symbols("T nu sigma2 kappa alpha V P N", positive=True)
g = sp.Symbol("g", positive=True)  # g = sigma2 * alpha

# order parameters
m = sp.Symbol("m", real=True)  # copy weight
r = sp.Symbol("r", positive=True)  # self-overlap
u = sp.Symbol("u", nonnegative=True)  # u = m^2 (linear attention variable)
s = sp.Symbol("s", real=True)  # softmax score amplitude / singular value
lam = sp.Symbol("lambda", real=True)  # Legendre conjugate
Sg = sp.Symbol("Sg", real=True)  # sign(s), treated as a constant away from the kink at s = 0

PARAMS = (alpha, T, nu, sigma2, kappa)
"""Order of the parameters after the variable in every generated kernel."""
