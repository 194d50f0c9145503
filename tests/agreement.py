"""Theory-vs-empirics agreement helper (the pattern of neural-tangents' _check_agreement_with_empirical)."""
import numpy as np


def check_agreement(theory, empirical, atol=0.0, rtol=0.0, stderr=None, n_sigma=4.0, what="value"):
    """Assert ``|theory - empirical| <= atol + rtol |theory| + n_sigma * stderr`` elementwise.

    ``stderr`` is the standard error of ``empirical`` (Monte Carlo / data average); the default
    ``n_sigma = 4`` gives a false-failure probability below 1e-4 per Gaussian comparison.
    """
    theory = np.asarray(theory, float)
    empirical = np.asarray(empirical, float)
    tol = atol + rtol * np.abs(theory)
    if stderr is not None:
        tol = tol + n_sigma * np.asarray(stderr, float)
    err = np.abs(theory - empirical)
    bad = err > tol
    if np.any(bad):
        raise AssertionError(
            f"{what}: theory {theory[bad]} vs empirical {empirical[bad]} (|diff| {err[bad]} > tol {np.broadcast_to(tol, err.shape)[bad]})"
        )
