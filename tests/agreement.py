"""The one theory-vs-simulation agreement check of the test suite (the pattern of neural-tangents'
``_check_agreement_with_empirical``): every Monte Carlo / training comparison states its tolerance
explicitly, as a statistical part (``n_sigma`` standard errors of the estimate) plus a systematic
part (``atol``, ``rtol``: what the theory leaves out, e.g. the next finite-size order)."""
import numpy as np


def check_agreement(theory, empirical, *, atol=0.0, rtol=0.0, stderr=None, n_sigma=4.0, what="value"):
    """Assert ``|theory - empirical| <= atol + rtol |theory| + n_sigma * stderr`` elementwise.

    ``stderr`` is the standard error of ``empirical - theory`` (Monte Carlo / data average; combine
    the errors of two estimates with ``hypot``). The default ``n_sigma = 4`` gives a false-failure
    probability below 1e-4 per Gaussian comparison. A tolerance must be given (a zero tolerance
    against a random estimate cannot be meant), and a non-finite value or error fails.
    """
    if atol == 0.0 and rtol == 0.0 and stderr is None:
        raise ValueError(f"{what}: give a tolerance (atol, rtol and/or stderr)")
    theory = np.asarray(theory, float)
    empirical = np.asarray(empirical, float)
    tol = atol + rtol * np.abs(theory)
    if stderr is not None:
        tol = tol + n_sigma * np.asarray(stderr, float)
    err = np.abs(theory - empirical)
    bad = ~(err <= tol)  # NaN anywhere fails
    if np.any(bad):
        tol_b = np.broadcast_to(tol, err.shape)
        raise AssertionError(f"{what}: theory {np.broadcast_to(theory, err.shape)[bad]} vs empirical "
                             f"{np.broadcast_to(empirical, err.shape)[bad]} (|diff| {err[bad]} > tolerance {tol_b[bad]})")
