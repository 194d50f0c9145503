"""Induction head (seed 003): the selector criterion, the modified chi-square mutual information.

Run: python derivations/14_induction_selector.py  (writes derivations/out/14_induction_selector.tex)

To first order in the classifier scale a, the gradient on the selector weight of an offset subset U
tends, for long sequences, to I(U) = E_pi sum_{z,y} (mu(z,y) - mu(z) mu(y))^2 / mu(y)
= E_pi sum_z mu(z)^2 chi^2(mu(.|z) || mu). Steps (each checked symbolically in
copyhead.theory.symbolic.induction; AssertionError otherwise): the first-order softmax, the
first-order prediction, the selector gradient (with the eps-mixing), the chain rule through the
normalised weights, the long-sequence (ergodic) limit, the equality of the algebraic forms on
symbolic joint laws, the superset penalty, the conditions, and the measured caveat.

Then numerical checks (printed): the four forms on random joint tables; the forms of the
symbolic 2 x 2 law lambdified against copyhead.theory.induction.selector.chi2_information on a
two-state chain; the per-sequence first-order signal re-implemented from the derivation against
selector_signal (the NumPy implementation of the theory).
"""
import numpy as np

from copyhead.theory.symbolic.induction import derive_induction_selector, numeric_checks

der = derive_induction_selector()
path = der.emit("14_induction_selector")
print("\nNumerical checks (max |difference|):")
for name, value in numeric_checks().items():
    print(f"  {name:60s} {value:.2e}")
    if not np.isfinite(value) or value > 1e-10:
        raise AssertionError(f"numerical check failed: {name} = {value}")
