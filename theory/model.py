"""The one parameter object shared by theory, solver and Monte Carlo.

Conventions (``../shared/design/THEORY.md`` §1, §3):

* tokens: i.i.d. uniform one-hot in ``R^V``, ``T`` cyclic positions, target ``y_t = x_{t-1}``;
* scores ``S = Q^T K / N`` with ``Q, K ~ N(0, 1)`` entrywise (prior ``"qk"``) or
  ``S_ts ~ N(0, 1/N)`` (prior ``"gaussian"``);
* attention ``A = softmax_row(S)`` or ``A = S`` (``"linear"``);
* readout ``W_ij ~ N(0, sigma2 / V)``, Gaussian likelihood with variance ``kappa``;
* scaling limit ``V -> inf`` at fixed ``T`` with ``alpha = P T / (kappa V^2)`` and
  ``nu = N / V^2``; ``g = sigma2 * alpha``.

Window copier (issue 14; ``theory/window.py``): ``heads = H`` heads of positional attention
``A_h`` and ``parents = K`` parent offsets, target ``y_t = concat(x_{t-1}, ..., x_{t-K})`` and output
``f_t = sum_h W_h (A_h X)_t``. ``H = K = 1`` is the copy head above (same keys, kernels, numbers).

``objective`` selects what is solved: ``"posterior"`` (Bayesian posterior, sampled by HMC /
Langevin at temperature 1) or ``"map"`` (maximum a posteriori, what Adam with weight decay
equal to the priors finds; THEORY.md §7).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

ATTENTIONS = ("softmax", "linear")
PRIORS = ("qk", "gaussian")
OBJECTIVES = ("posterior", "map")


class ParameterError(ValueError):
    """A model or solver parameter is invalid; the message names the parameter."""

    def __init__(self, name: str, value, requirement: str):
        self.name = name
        self.value = value
        super().__init__(f"invalid parameter {name}={value!r}: {requirement}")


def check_positive(name: str, value) -> float:
    """``float(value)`` if it is a finite number > 0; :class:`ParameterError` naming ``name`` otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, value, "must be a real number") from None
    if not math.isfinite(v) or v <= 0.0:
        raise ParameterError(name, value, "must be a finite number > 0")
    return v


def _check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ParameterError(name, value, f"must be one of {', '.join(choices)}")
    return value


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        isinstance(value, float) and value.is_integer()
    ):
        raise ParameterError(name, value, f"must be an integer >= {minimum}")
    iv = int(value)
    if iv < minimum:
        raise ParameterError(name, value, f"must be an integer >= {minimum}")
    return iv


@dataclass(frozen=True)
class Model:
    """A copy-head model: sizes, priors, noise, nonlinearity and (optionally) data amount.

    Parameters
    ----------
    T : int
        Sequence length (number of cyclic positions), ``T >= 2``.
    nu : float
        Query/key width relative to readout size, ``nu = N / V^2``.
    sigma2 : float
        Readout prior variance (``W_ij ~ N(0, sigma2 / V)``).
    kappa : float
        Likelihood (label-noise) variance.
    attention : {"softmax", "linear"}
    prior : {"qk", "gaussian"}
        Prior on the scores (product ``Q^T K / N`` of Gaussian matrices, or i.i.d. Gaussian).
    objective : {"posterior", "map"}
        Bayesian posterior (sampling) or MAP (training with weight decay).
    V : int or None
        Vocabulary size for finite-size computations; ``None`` means the limit ``V -> inf``.
    alpha : float or None
        Amount of data ``alpha = P T / (kappa V^2)``; ``None`` when the model is swept in alpha.
    heads : int
        Number of attention heads ``H >= 1`` (window copier; default 1).
    parents : int
        Number of parent offsets ``K`` (``1 <= K <= T - 1``): the target is
        ``concat(x_{t-1}, ..., x_{t-K})`` (default 1, the shift-by-one copy).
    """

    T: int = 8
    nu: float = 0.5
    sigma2: float = 0.1
    kappa: float = 1.0
    attention: str = "softmax"
    prior: str = "qk"
    objective: str = "posterior"
    V: Optional[int] = None
    alpha: Optional[float] = None
    heads: int = 1
    parents: int = 1

    def __post_init__(self):
        object.__setattr__(self, "T", _check_int("T", self.T, 2))
        object.__setattr__(self, "nu", check_positive("nu", self.nu))
        object.__setattr__(self, "sigma2", check_positive("sigma2", self.sigma2))
        object.__setattr__(self, "kappa", check_positive("kappa", self.kappa))
        _check_choice("attention", self.attention, ATTENTIONS)
        _check_choice("prior", self.prior, PRIORS)
        _check_choice("objective", self.objective, OBJECTIVES)
        if self.V is not None:
            object.__setattr__(self, "V", _check_int("V", self.V, 2))
        if self.alpha is not None:
            object.__setattr__(self, "alpha", check_positive("alpha", self.alpha))
        object.__setattr__(self, "heads", _check_int("heads", self.heads, 1))
        object.__setattr__(self, "parents", _check_int("parents", self.parents, 1))
        if self.parents > self.T - 1:
            raise ParameterError("parents", self.parents, f"must be <= T - 1 = {self.T - 1} (offsets 1..K are distinct)")

    # ------------------------------------------------------------------ helpers
    @property
    def key(self) -> str:
        """Kernel key ``"{attention}_{prior}_{objective}"`` of the generated module; window models
        (``heads`` or ``parents`` > 1) append ``"_H{heads}K{parents}"`` (file stems)."""
        base = f"{self.attention}_{self.prior}_{self.objective}"
        return base if not self.is_window else f"{base}_H{self.heads}K{self.parents}"

    @property
    def is_window(self) -> bool:
        """True for a window copier with more than one head or parent (``theory/window.py``)."""
        return self.heads != 1 or self.parents != 1

    def replace(self, **changes) -> "Model":
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def require_alpha(self) -> float:
        if self.alpha is None:
            raise ParameterError("alpha", None, "this computation needs a data amount alpha > 0")
        return self.alpha

    def require_V(self) -> int:
        if self.V is None:
            raise ParameterError("V", None, "this computation needs a finite vocabulary size V")
        return self.V

    @property
    def g(self) -> float:
        """``g = sigma2 * alpha``."""
        return self.sigma2 * self.require_alpha()

    @property
    def N(self) -> int:
        """Query/key width ``N = round(nu V^2)`` (at least 1)."""
        V = self.require_V()
        return max(1, int(round(self.nu * V * V)))

    @property
    def P(self) -> int:
        """Number of training sequences ``P = round(alpha kappa V^2 / T)`` (at least 1)."""
        V = self.require_V()
        return max(1, int(round(self.require_alpha() * self.kappa * V * V / self.T)))

    @property
    def alpha_effective(self) -> float:
        """The alpha actually realised by the rounded ``P``: ``P T / (kappa V^2)``."""
        V = self.require_V()
        return self.P * self.T / (self.kappa * V * V)

    @property
    def nu_effective(self) -> float:
        """The nu actually realised by the rounded ``N``: ``N / V^2``."""
        V = self.require_V()
        return self.N / (V * V)

    def to_dict(self) -> dict:
        """Fields as a dict; ``heads``/``parents`` only for a window model, so that the single-head
        dict (JSON outputs, checkpoint records) is unchanged."""
        d = dataclasses.asdict(self)
        if not self.is_window:
            d.pop("heads")
            d.pop("parents")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Model":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})


DEFAULT = Model()
"""Built-in default: T = 8, nu = 0.5, sigma2 = 0.1, kappa = 1, prior qk, softmax posterior."""
