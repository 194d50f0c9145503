"""In-context linear regression by multi-head attention: the parameter object, the data and the
risks of the reference predictors (design note ``../shared/design/ICL_REGRESSION.md``, seed 004).

Data (one prompt): a task ``beta ~ N(0, I_d / d)``, context ``x_i ~ N(0, Sigma)``,
``y_i = beta^T x_i + eps_i``, ``eps_i ~ N(0, sigma2)``, ``i = 1..L``, a query ``x_q`` with its own
noisy label ``y_q``. ``Sigma = I`` unless ``cov_eigs`` is given; a diagonal ``Sigma`` is no loss
of generality because ``beta`` is isotropic (rotate ``x``).

Risks are ``R = E[(y_hat - y_q)^2]``, the query's own noise ``sigma2`` included, as functions of
the context length ``L`` (``derivations/13_icl_regression_risks.py`` derives the closed forms):

* one-step (preconditioned) GD ``y_hat = x_q^T Gamma X^T y / L``: the Wishart moments
  ``E W = m Sigma``, ``E W A W = m(m+1) Sigma A Sigma + m tr(A Sigma) Sigma`` give, for a Gram
  matrix of ``m`` samples normalised by ``n`` (GD: ``m = n = L``; debiased GD: ``m = L - 1``,
  ``n = L``), with ``A = Gamma^T Sigma Gamma``::

      R = sigma2 + tr S/d - 2m tr(S Gamma S)/(n d)
          + [m(m+1) tr(S A S) + m tr(A S) tr S] / (n^2 d) + sigma2 m tr(A S) / n^2

  (``S = Sigma``). Isotropic, ``Gamma = eta I``, ``m = n = L``:
  ``R = sigma2 + 1 - 2 eta + eta^2 (L + d + 1 + sigma2 d) / L``.
* optimal preconditioner ``Gamma* = n ((m+1) Sigma + (tr Sigma + sigma2 d) I)^{-1}`` with
  ``R* = sigma2 + tr Sigma/d - (m/d) tr(Sigma^2 ((m+1) Sigma + c I)^{-1})``; it depends on ``m``
  only, so debiased GD with ``L`` samples has exactly the optimal risk of GD with ``L - 1``
  (the centred Gram ``sum_i (x_i - xbar)(x_i - xbar)^T`` is Wishart with ``L - 1`` degrees of
  freedom, Helmert transform). Isotropic: ``R* = sigma2 + (d + 1 + sigma2 d)/(m + d + 1 + sigma2 d)``.
* Bayes-optimal ridge ``beta_hat = (X^T X + sigma2 d I)^{-1} X^T y`` (the posterior mean):
  ``R = sigma2 + sigma2 E tr(Sigma (X^T X + sigma2 d I)^{-1})``, an expectation over a Wishart
  matrix evaluated by exact Monte Carlo (Bartlett decomposition; standard error returned).
* best single softmax head: ``y_hat = mu sum_i softmax_i(x_i^T Omega x_q / sqrt(d+1)) y_i``
  minimised numerically (Monte Carlo with common random numbers; ``mu`` in closed form); see
  :func:`risk_single_head`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .model import ParameterError, _check_choice, _check_int, check_positive

ATTENTIONS = ("softmax", "linear")
RISK_KEYS = ("model", "ridge", "gd", "gd_opt", "debiased_gd", "single_head")
"""Keys of the risk table (``"model"`` is the trained network's, filled in by the simulation)."""


def _check_eigs(value, d: int):
    if value is None:
        return None
    try:
        eigs = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError("cov_eigs", value, "must be a sequence of d positive numbers") from None
    if len(eigs) != d or any(not math.isfinite(v) or v <= 0 for v in eigs):
        raise ParameterError("cov_eigs", value, f"must be {d} finite numbers > 0 (one per input dimension)")
    return eigs


@dataclass(frozen=True)
class ICLRegression:
    """In-context linear regression with an ``H``-head attention layer (one object for theory,
    simulation and posterior).

    Parameters
    ----------
    d : int
        Input dimension (tokens ``z = (x, y)`` have ``d + 1`` entries).
    L : int
        Training context length (number of ``(x_i, y_i)`` pairs the query attends to), ``L >= 2``.
    heads : int
        Number of attention heads ``H``.
    sigma2 : float
        Label-noise variance (context and query).
    attention : {"softmax", "linear"}
        Softmax over the ``L`` context tokens, or the identity (the logits themselves, no
        normalisation by ``L``: "softmax removed").
    cov_eigs : tuple of d floats or None
        Eigenvalues of a diagonal covariate covariance ``Sigma`` (``None``: ``Sigma = I``).
    kappa : float or None
        Likelihood noise of the Bayesian model (posterior over KQ); ``None`` means ``sigma2``.
    prior_kq, prior_ov : float
        Prior standard deviations of the KQ entries and of the OV rows ``w_h = (O_h V_h)^T``.
    """

    d: int = 5
    L: int = 40
    heads: int = 2
    sigma2: float = 0.1
    attention: str = "softmax"
    cov_eigs: Optional[tuple] = None
    kappa: Optional[float] = None
    prior_kq: float = 1.0
    prior_ov: float = 3.0

    def __post_init__(self):
        object.__setattr__(self, "d", _check_int("d", self.d, 1))
        object.__setattr__(self, "L", _check_int("L", self.L, 2))
        object.__setattr__(self, "heads", _check_int("heads", self.heads, 1))
        object.__setattr__(self, "sigma2", check_positive("sigma2", self.sigma2))
        _check_choice("attention", self.attention, ATTENTIONS)
        object.__setattr__(self, "cov_eigs", _check_eigs(self.cov_eigs, self.d))
        if self.kappa is not None:
            object.__setattr__(self, "kappa", check_positive("kappa", self.kappa))
        object.__setattr__(self, "prior_kq", check_positive("prior_kq", self.prior_kq))
        object.__setattr__(self, "prior_ov", check_positive("prior_ov", self.prior_ov))

    @property
    def D(self) -> int:
        """Token dimension ``d + 1``."""
        return self.d + 1

    @property
    def isotropic(self) -> bool:
        return self.cov_eigs is None or len(set(self.cov_eigs)) == 1

    @property
    def eigs(self) -> np.ndarray:
        """Diagonal of ``Sigma``."""
        return np.ones(self.d) if self.cov_eigs is None else np.asarray(self.cov_eigs, dtype=float)

    @property
    def cov(self) -> np.ndarray:
        return np.diag(self.eigs)

    @property
    def noise(self) -> float:
        """Likelihood variance of the Bayesian model (``kappa``, default ``sigma2``)."""
        return self.sigma2 if self.kappa is None else self.kappa

    @property
    def ridge_lambda(self) -> float:
        """Bayes-optimal ridge parameter ``lambda = sigma2 d`` (prior ``beta ~ N(0, I/d)``)."""
        return self.sigma2 * self.d

    def replace(self, **changes) -> "ICLRegression":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["cov_eigs"] = None if self.cov_eigs is None else list(self.cov_eigs)
        return out


def _length(p: ICLRegression, L, minimum: int = 1) -> int:
    return p.L if L is None else _check_int("L", L, minimum)


# --------------------------------------------------------------------------- data
def prompts_from_normals(p: ICLRegression, gx, gbeta, geps, gxq, geq):
    """Prompts from standard normals (NumPy arrays or torch tensors alike: only ``*``, ``@``,
    ``sum`` are used, so the simulation draws its normals with a ``torch.Generator`` and shares
    this one definition of the data).

    Shapes: ``gx (..., L, d)``, ``gbeta (..., d)``, ``geps (..., L)``, ``gxq (..., d)``,
    ``geq (...)``. Returns ``x, y, xq, yq, beta`` with ``x = gx sqrt(eigs)``,
    ``beta = gbeta / sqrt(d)``, ``y = x beta + sqrt(sigma2) eps``.
    """
    sd = np.sqrt(p.eigs)
    if not isinstance(gx, np.ndarray):  # torch: same formula, tensor constant
        sd = gx.new_tensor(sd)
    x = gx * sd
    xq = gxq * sd
    beta = gbeta * (1.0 / math.sqrt(p.d))
    y = (x * beta[..., None, :]).sum(-1) + math.sqrt(p.sigma2) * geps
    yq = (xq * beta).sum(-1) + math.sqrt(p.sigma2) * geq
    return x, y, xq, yq, beta


def sample_prompts(p: ICLRegression, n: int, rng: np.random.Generator, L: Optional[int] = None) -> dict:
    """``n`` independent prompts of length ``L`` (default ``p.L``): dict ``x (n, L, d)``,
    ``y (n, L)``, ``xq (n, d)``, ``yq (n,)``, ``beta (n, d)``."""
    L = _length(p, L)
    n = _check_int("n", n, 1)
    d = p.d
    x, y, xq, yq, beta = prompts_from_normals(
        p, rng.standard_normal((n, L, d)), rng.standard_normal((n, d)), rng.standard_normal((n, L)),
        rng.standard_normal((n, d)), rng.standard_normal(n))
    return {"x": x, "y": y, "xq": xq, "yq": yq, "beta": beta}


# --------------------------------------------------------------------------- GD family (closed form)
def risk_preconditioned(p: ICLRegression, Gamma, m: int, n: float) -> float:
    """Risk of ``y_hat = x_q^T Gamma (sum_{k=1}^m y_k x_k) / n`` (``m`` i.i.d. samples).

    ``R = sigma2 + tr S/d - 2 m tr(S G S)/(n d) + [m(m+1) tr(S A S) + m tr(A S) tr S]/(n^2 d)
    + sigma2 m tr(A S)/n^2`` with ``A = G^T S G``, ``S = Sigma`` (Wishart moments; module
    docstring, ``derivations/13_icl_regression_risks.py``).
    """
    S = p.cov
    G = np.asarray(Gamma, dtype=float) * np.eye(p.d) if np.ndim(Gamma) == 0 else np.asarray(Gamma, dtype=float)
    A = G.T @ S @ G
    trS = float(np.trace(S))
    return float(p.sigma2 + trS / p.d - 2.0 * m * np.trace(S @ G @ S) / (n * p.d)
                 + (m * (m + 1) * np.trace(S @ A @ S) + m * np.trace(A @ S) * trS) / (n * n * p.d)
                 + p.sigma2 * m * np.trace(A @ S) / (n * n))


def optimal_preconditioner(p: ICLRegression, m: int, n: float) -> np.ndarray:
    """``Gamma* = n ((m+1) Sigma + (tr Sigma + sigma2 d) I)^{-1}`` (minimiser of
    :func:`risk_preconditioned`; ``eta* I`` with ``eta* = n/(m + d + 1 + sigma2 d)`` for ``Sigma = I``)."""
    c = float(p.eigs.sum()) + p.sigma2 * p.d
    return np.diag(n / ((m + 1) * p.eigs + c))


def risk_gd(p: ICLRegression, L: Optional[int] = None, step: float = 1.0) -> float:
    """One-step GD ``y_hat = (step/L) sum_i y_i x_i^T x_q`` (``gd``: unit step)."""
    L = _length(p, L)
    return risk_preconditioned(p, step, L, L)


def risk_gd_opt(p: ICLRegression, L: Optional[int] = None) -> float:
    """One-step GD with its optimal step (optimal preconditioner ``Gamma*`` when ``Sigma != I``):
    ``sigma2 + tr S/d - (L/d) tr(S^2 ((L+1) S + c I)^{-1})``, ``c = tr S + sigma2 d``."""
    L = _length(p, L)
    s = p.eigs
    c = float(s.sum()) + p.sigma2 * p.d
    return float(p.sigma2 + s.sum() / p.d - (L / p.d) * np.sum(s * s / ((L + 1) * s + c)))


def risk_debiased_gd(p: ICLRegression, L: Optional[int] = None, Gamma=None) -> float:
    """Debiased GD ``y_hat = x_q^T Gamma sum_i y_i (x_i - xbar) / L``; ``Gamma=None``: its optimal
    (pre-conditioner) step. The centred Gram has ``L - 1`` degrees of freedom, so this is
    :func:`risk_preconditioned` with ``m = L - 1, n = L`` (equal to ``risk_gd_opt(L - 1)`` at the
    optimum)."""
    L = _length(p, L, 2)
    if Gamma is None:
        Gamma = optimal_preconditioner(p, L - 1, L)
    return risk_preconditioned(p, Gamma, L - 1, L)


def debiased_step(p: ICLRegression, L: Optional[int] = None) -> np.ndarray:
    """Optimal debiased-GD preconditioner ``Gamma*(m = L-1, n = L)`` (``eta* I`` when isotropic)."""
    L = _length(p, L, 2)
    return optimal_preconditioner(p, L - 1, L)


# --------------------------------------------------------------------------- ridge (exact Monte Carlo)
def wishart_bartlett(d: int, dof: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of ``W ~ Wishart_d(dof, I)`` by the Bartlett decomposition ``W = A A^T``
    (``A`` lower triangular, ``A_jj^2 ~ chi2(dof - j)``, ``A_jk ~ N(0, 1)`` below the diagonal).

    Bartlett needs ``dof >= d``; for an integer ``dof < d`` (a prompt shorter than the dimension:
    ``X^T X`` has rank ``dof``) the singular Wishart is drawn by its definition ``W = G G^T`` with
    ``G`` a ``d x dof`` standard normal matrix.
    """
    if dof < d:
        G = rng.standard_normal((n, d, int(dof)))
        return G @ np.swapaxes(G, 1, 2)
    A = np.tril(rng.standard_normal((n, d, d)), -1)
    idx = np.arange(d)
    A[:, idx, idx] = np.sqrt(rng.chisquare(dof - idx, size=(n, d)))
    return A @ np.swapaxes(A, 1, 2)


def risk_ridge(p: ICLRegression, L: Optional[int] = None, n_mc: int = 200_000, seed: int = 0,
               chunk: int = 50_000):
    """Bayes-optimal ridge risk ``sigma2 + sigma2 E tr(Sigma (X^T X + sigma2 d I)^{-1})`` by exact
    Monte Carlo over ``X^T X = Sigma^{1/2} W Sigma^{1/2}``, ``W ~ Wishart_d(L, I)``.

    Returns ``(risk, standard_error)``.
    """
    L = _length(p, L)
    rng = np.random.default_rng(np.random.SeedSequence([seed, L, p.d]))
    sq = np.sqrt(p.eigs)
    lam = p.ridge_lambda
    vals = []
    for start in range(0, n_mc, chunk):
        W = wishart_bartlett(p.d, L, min(chunk, n_mc - start), rng)
        G = sq[:, None] * W * sq[None, :] + lam * np.eye(p.d)
        inv = np.linalg.inv(G)
        vals.append(np.einsum("j,njj->n", p.eigs, inv))
    v = p.sigma2 * np.concatenate(vals)
    return float(p.sigma2 + v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


def ridge_predict(p: ICLRegression, x, y, xq) -> np.ndarray:
    """Posterior-mean prediction ``x_q^T (X^T X + sigma2 d I)^{-1} X^T y`` per prompt."""
    G = np.swapaxes(x, -1, -2) @ x + p.ridge_lambda * np.eye(p.d)
    b = np.linalg.solve(G, (np.swapaxes(x, -1, -2) @ y[..., None]))[..., 0]
    return (b * xq).sum(-1)


# --------------------------------------------------------------------------- single head (numerical optimum)
def single_head_predict(p: ICLRegression, x, y, xq, omega) -> np.ndarray:
    """``sum_i softmax_i(x_i^T diag(omega) x_q / sqrt(d+1)) y_i`` (the output scale ``mu`` is
    applied by the caller); ``omega`` scalar or ``d`` entries."""
    s = np.einsum("nlj,j,nj->nl", x, np.broadcast_to(np.asarray(omega, float), (p.d,)), xq) / math.sqrt(p.D)
    s = s - s.max(-1, keepdims=True)
    a = np.exp(s)
    a /= a.sum(-1, keepdims=True)
    return (a * y).sum(-1)


def _single_head_fit(p, data, omega):
    f = single_head_predict(p, data["x"], data["y"], data["xq"], omega)
    yq = data["yq"]
    mu = float((f * yq).mean() / (f * f).mean())
    return mu, float(np.mean((mu * f - yq) ** 2))


def risk_single_head(p: ICLRegression, L: Optional[int] = None, n_mc: int = 20_000, seed: int = 0,
                     n_fit: int = 20_000):
    """Best single softmax head on the pattern family, by Monte Carlo.

    The head is ``y_hat = mu sum_i softmax_i(x_i^T Omega x_q / sqrt(d+1)) y_i`` with ``Omega``
    diagonal (``omega I`` when ``Sigma = I``; ``Sigma``'s eigenbasis otherwise). Restrictions and
    why: an OV row with ``x`` entries adds a term even in ``beta`` to an odd target, which only
    adds variance, so ``mu`` (the ``y`` entry) is the only useful OV entry; the isotropic
    optimum over ``Omega`` is ``omega I`` by rotation invariance (checked against a trained
    ``H = 1`` network). ``mu`` is solved exactly (least squares), ``Omega`` minimised on
    ``min(n_mc, n_fit)`` prompts with common random numbers (a bounded 1-D search for ``omega I``;
    anisotropic: then Nelder-Mead over the ``d`` log-entries from there, ``maxiter = 100 d``); the risk
    is re-estimated on ``n_mc`` independent prompts (no optimisation bias).

    Returns ``(risk, standard_error, omega)`` (``omega`` scalar or array).
    """
    from scipy.optimize import minimize, minimize_scalar

    L = _length(p, L)
    ss = np.random.SeedSequence([seed, L, p.d, 1])
    fit_rng, test_rng = (np.random.default_rng(s) for s in ss.spawn(2))
    fit = sample_prompts(p, min(n_mc, n_fit), fit_rng, L)
    res = minimize_scalar(lambda t: _single_head_fit(p, fit, math.exp(t))[1], bounds=(-4.0, 4.0),
                          method="bounded", options={"xatol": 1e-4})
    omega = math.exp(res.x)
    if not p.isotropic:  # from the best omega I, a diagonal Omega in Sigma's eigenbasis (log entries)
        res = minimize(lambda t: _single_head_fit(p, fit, np.exp(t))[1], np.full(p.d, res.x), method="Nelder-Mead",
                       options={"xatol": 1e-2, "fatol": 1e-6, "maxiter": 100 * p.d})
        omega = np.exp(res.x)
    mu, _ = _single_head_fit(p, fit, omega)
    test = sample_prompts(p, n_mc, test_rng, L)
    err = (mu * single_head_predict(p, test["x"], test["y"], test["xq"], omega) - test["yq"]) ** 2
    return float(err.mean()), float(err.std(ddof=1) / math.sqrt(err.size)), omega


# --------------------------------------------------------------------------- the table
def default_L_grid(train_L: int) -> list:
    """``L = 10, 20, ..., 100`` and the training length."""
    return sorted(set(range(10, 101, 10)) | {int(train_L)})


def baseline_risks(p: ICLRegression, Ls: Sequence[int], n_mc_ridge: int = 200_000, n_mc_single: int = 20_000,
                   seed: int = 0, progress=None) -> dict:
    """Risks of the reference predictors on the grid ``Ls``: ``{"L", "ridge", "ridge_se", "gd",
    "gd_opt", "debiased_gd", "single_head", "single_head_se", "single_head_omega"}`` (lists)."""
    out = {k: [] for k in ("L", "ridge", "ridge_se", "gd", "gd_opt", "debiased_gd", "single_head",
                           "single_head_se", "single_head_omega")}
    for i, L in enumerate(Ls):
        L = _check_int("L", L, 2)
        r, se = risk_ridge(p, L, n_mc=n_mc_ridge, seed=seed)
        sh, sh_se, om = risk_single_head(p, L, n_mc=n_mc_single, seed=seed)
        for k, v in (("L", L), ("ridge", r), ("ridge_se", se), ("gd", risk_gd(p, L)), ("gd_opt", risk_gd_opt(p, L)),
                     ("debiased_gd", risk_debiased_gd(p, L)), ("single_head", sh), ("single_head_se", sh_se),
                     ("single_head_omega", np.atleast_1d(om).tolist() if np.ndim(om) else om)):
            out[k].append(v)
        if progress is not None:
            progress(i + 1, len(Ls))
    return out
