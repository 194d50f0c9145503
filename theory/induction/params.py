"""The one parameter object of the induction-head system (seed 003, ``INDUCTION_HEAD.md``).

:class:`InductionModel` fixes the data law (n-gram chains with per-sequence Dirichlet rows) and the
architecture of the two-layer model (heads, window, selector degree, layer-1 nonlinearity, variant,
the epsilon of the uniform mixing of the prediction). The theory (:mod:`.data`, :mod:`.bayes`,
:mod:`.selector`) and the torch simulation (:mod:`copyhead.verification.induction`) both take it.

Selector components and subsets
-------------------------------
The residual stream at a position is ``[x, h1, ..., hH]`` (the token itself and the normalised
outputs of the ``H`` layer-1 heads). The selector weighs every subset ``U`` of these ``H + 1``
components with ``|U| <= D`` (the empty subset included: it is the constant part of the polynomial
kernel). :func:`selector_subsets` fixes their order (by size, then lexicographically), which is the
order of the selector weights everywhere (torch parameters, JSON, CSV).
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Optional

from ..model import ParameterError, _check_choice, _check_int, check_positive

LAYER1 = ("softmax", "linear")
VARIANTS = ("simplified", "full")


@dataclass(frozen=True)
class InductionModel:
    """Data law and architecture of the two-layer induction head on n-gram chains.

    Parameters
    ----------
    n : int
        Order of the chain: ``x_t`` depends on the ``n - 1`` previous tokens (its *parents*, at
        offsets ``1 .. n-1``); ``n >= 2``.
    S : int
        Vocabulary size, ``S >= 2``.
    L : int
        Sequence length (tokens ``x_1 .. x_L``; the label is ``x_{L+1}``), ``L >= n``.
    dirichlet : float
        Concentration ``a`` of the per-sequence rows ``pi(.|context) ~ Dirichlet(a 1_S)`` (paper 0.1).
    heads : int
        Number ``H`` of layer-1 heads.
    window : int or None
        Window ``M``: layer-1 head ``h`` attends to offsets ``1 .. M``. ``None`` -> ``max(H, n-1)``
        (the paper's initialisation puts head ``h`` on offset ``h``, which needs ``M >= H``).
        ``M < n - 1`` is allowed: a misspecified model whose copier cannot reach the parents beyond
        ``M`` (the selector criterion then ranks the subsets of ``1 .. M``, and the loss stays above
        the Bayes floor); :attr:`window_covers_parents` tells.
    degree : int
        Largest subset size ``D`` of the selector's polynomial kernel, ``1 <= D <= H + 1`` (with
        ``D = 0`` only the constant term is left: the prediction ignores the sequence, layer 1 gets
        no gradient and the selector criterion is undefined).
    eps : float
        Uniform mixing of the prediction, ``(1 - eps) p + eps / S``, ``0 <= eps < 1``.
    layer1 : {"softmax", "linear"}
        Offset weights of a layer-1 head: ``softmax(w_h)`` or ``w_h`` itself.
    variant : {"simplified", "full"}
        The paper's simplified model or the full one (token-dependent QK/OV, LayerNorm).
    """

    n: int = 3
    S: int = 3
    L: int = 100
    dirichlet: float = 0.1
    heads: int = 3
    window: Optional[int] = None
    degree: int = 2
    eps: float = 1e-3
    layer1: str = "softmax"
    variant: str = "simplified"

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("n", _check_int("n", self.n, 2))
        set_("S", _check_int("S", self.S, 2))
        set_("L", _check_int("L", self.L, self.n))
        set_("dirichlet", check_positive("dirichlet", self.dirichlet))
        set_("heads", _check_int("heads", self.heads, 1))
        window = max(self.heads, self.n - 1) if self.window is None else self.window
        set_("window", _check_int("window", window, 1))
        if self.window >= self.L:
            raise ParameterError("window", self.window, f"must be < L = {self.L}")
        set_("degree", _check_int("degree", self.degree, 1))
        if self.degree > self.heads + 1:
            raise ParameterError("degree", self.degree, f"must be <= heads + 1 = {self.heads + 1}")
        try:
            eps = float(self.eps)
        except (TypeError, ValueError):
            raise ParameterError("eps", self.eps, "must be a number in [0, 1)") from None
        if not 0.0 <= eps < 1.0:
            raise ParameterError("eps", self.eps, "must be a number in [0, 1)")
        set_("eps", eps)
        _check_choice("layer1", self.layer1, LAYER1)
        _check_choice("variant", self.variant, VARIANTS)

    # ------------------------------------------------------------------ derived quantities
    @property
    def parents(self) -> list:
        """Offsets of the parents of a token: ``[1, ..., n-1]``."""
        return list(range(1, self.n))

    @property
    def window_covers_parents(self) -> bool:
        """Whether the layer-1 window reaches every parent (``window >= n - 1``)."""
        return self.window >= self.n - 1

    @property
    def contexts(self) -> int:
        """Number of contexts (rows of a transition table): ``S ** (n-1)``."""
        return self.S ** (self.n - 1)

    @property
    def components(self) -> list:
        """Names of the residual-stream components: ``["x", "h1", ..., "hH"]``."""
        return ["x"] + [f"h{h}" for h in range(1, self.heads + 1)]

    @property
    def subsets(self) -> list:
        """Selector subsets as tuples of component indices (0 = ``x``, h = head h); see
        :func:`selector_subsets`."""
        return selector_subsets(self.heads + 1, self.degree)

    @property
    def subset_names(self) -> list:
        """Selector subsets as lists of component names (``[]`` is the empty subset)."""
        names = self.components
        return [[names[i] for i in u] for u in self.subsets]

    def replace(self, **changes) -> "InductionModel":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "InductionModel":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})


def selector_subsets(components: int, degree: int) -> list:
    """All subsets of ``range(components)`` with at most ``degree`` elements, as sorted tuples,
    ordered by size and then lexicographically (``[(), (0,), (1,), ..., (0, 1), ...]``)."""
    return [u for k in range(min(degree, components) + 1) for u in itertools.combinations(range(components), k)]


def offset_subsets(window: int, degree: int) -> list:
    """Non-empty subsets of the offsets ``1 .. window`` with at most ``degree`` elements (the
    candidates of the informative-parent criterion), ordered by size, then lexicographically."""
    return [u for k in range(1, min(degree, window) + 1) for u in itertools.combinations(range(1, window + 1), k)]
