"""The worked solution as data: quantities and the small frozen steps that compute them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy

from .formula import X
from .network import Node, Parameter
from .rules import OUTPUT, Activation, Loss


@dataclass(frozen=True)
class Quantity:
    """Anything the solution computes or is given, identified by what it is, never by its name.

    Attributes:
        kind: ``input``, ``pre`` (pre-activation), ``out`` (activation), ``target``, ``loss``
            (one example's), ``cost`` (the batch's J), ``dout`` (∂L/∂output), ``dloss`` (the part of
            ∂L/∂output through the loss alone, for an output that also feeds others), ``slope``
            (f' at a neuron), ``jacobian`` (softmax ∂a_k/∂z_j), ``delta`` (∂L/∂pre-activation),
            ``param``, ``grad``, ``new``, ``rate``, ``dinput`` (∂L/∂x of an input node, with
            ``options.input_gradients``). With ``options.delta: error_term``, ``dout`` and ``dloss``
            are the error e = −∂L/∂y and ``delta`` the error term −∂L/∂pre-activation.
        node: The node it belongs to (for ``jacobian``, the output's node).
        example: The example's index, 0-based (None for parameters, gradients and the cost).
        parameter: For ``param``, ``grad`` and ``new``.
        other: For ``jacobian``, the pre-activation's node.
    """

    kind: str
    node: Node | None = None
    example: int | None = None
    parameter: Parameter | None = None
    other: Node | None = None

    # NOTE: quantities are the keys of every map of values, built anew wherever a step names one:
    # hashing and comparing their fields once, not at every lookup, makes evaluation a third faster.
    def __post_init__(self) -> None:
        key = (self.kind, self.node, self.example, self.parameter, self.other)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is Quantity and self._hash == other._hash and self._key == other._key)

    def __reduce__(self):
        # NOTE: rebuilt, not restored: a node's hash is its identity, which another process does not share.
        return Quantity, self._key

    @cached_property
    def symbol(self) -> sympy.Symbol:
        """A SymPy symbol standing for this quantity inside a formula."""
        return sympy.Symbol(_symbol_key(self), real=True)



def _symbol_key(quantity: Quantity) -> str:
    # NOTE: keys sort outputs ("out") before targets ("target"), so SymPy prints o − t, not −t + o.
    node = quantity.node.name if quantity.node else ""
    other = f":{quantity.other.name}" if quantity.other else ""
    return f"{quantity.kind}:{node}:{quantity.example}:{id(quantity.parameter) if quantity.parameter else ''}{other}"


# --- forward -----------------------------------------------------------------------------


def bias_sign(bias: Quantity) -> int:
    """+1 for a bias added to a weighted sum, −1 for a threshold subtracted from it."""
    return -1 if bias.parameter.kind == "threshold" else 1


@dataclass(frozen=True)
class WeightedSum:
    """A neuron's pre-activation: the sum of each input times its weight, plus the bias (minus a threshold)."""

    result: Quantity
    terms: tuple[tuple[Quantity, Quantity], ...]  # (the source's value, the weight)
    bias: Quantity | None


@dataclass(frozen=True)
class Activate:
    """A neuron's output: its activation applied to its pre-activation."""

    result: Quantity
    argument: Quantity
    activation: Activation


@dataclass(frozen=True)
class SoftmaxActivate:
    """One unit of a softmax layer: e^{z_j} / Σ_k e^{z_k}."""

    result: Quantity
    arguments: tuple[Quantity, ...]
    index: int


# --- the loss ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LossValue:
    """One example's loss, as the loss's formula over that example's outputs and targets."""

    result: Quantity
    outputs: tuple[Quantity, ...]
    targets: tuple[Quantity, ...]
    loss: Loss
    formula: sympy.Expr


@dataclass(frozen=True)
class CostValue:
    """The batch's cost J = scale · Σ L (scale 1/m for the mean)."""

    result: Quantity
    losses: tuple[Quantity, ...]
    scale: sympy.Rational


# --- backward ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSlope:
    """∂L/∂o for one output: the loss's formula differentiated by SymPy."""

    result: Quantity
    loss_step: LossValue
    output: Quantity
    formula: sympy.Expr


@dataclass(frozen=True)
class BackSum:
    """∂L/∂y_j of a node that feeds others: Σ over the neurons k it feeds of δ_k · w_jk (every path).

    ``direct`` is the loss's own derivative by y_j when j is also an output (kind ``dloss``).
    ``sign`` is −1 for an input's ∂L/∂x computed from error terms (which are −∂L/∂x_k).
    """

    result: Quantity
    terms: tuple[tuple[Quantity, Quantity], ...]  # (δ_k, w_jk)
    direct: Quantity | None = None
    sign: int = 1


@dataclass(frozen=True)
class Slope:
    """f'(x_j), the local derivative ∂y_j/∂x_j, from SymPy's derivative of f.

    ``variable`` is what ``formula`` is written in: the pre-activation (f'(x)), or the
    output when the derivative reads better in it (σ' = y(1 − y)).
    """

    result: Quantity
    activation: Activation
    formula: sympy.Expr
    variable: Quantity


#: Both generic variables a Slope's formula may be written in: the pre-activation x, the output y.
SLOPE_VARIABLES = (X, OUTPUT)


@dataclass(frozen=True)
class Delta:
    """δ_j = ∂L/∂x_j = ∂L/∂y_j · ∂y_j/∂x_j, computed once and reused by every weight into j."""

    result: Quantity
    dout: Quantity
    slope: Quantity


@dataclass(frozen=True)
class Jacobian:
    """One entry ∂a_k/∂z_j of a softmax layer: a_k(1 − a_k) on the diagonal, −a_k a_j off it."""

    result: Quantity
    output: Quantity  # a_k
    other: Quantity  # a_j
    diagonal: bool


@dataclass(frozen=True)
class SoftmaxDelta:
    """δ_j = Σ_k ∂L/∂a_k · ∂a_k/∂z_j over the softmax layer."""

    result: Quantity
    terms: tuple[tuple[Quantity, Quantity], ...]  # (∂L/∂a_k, ∂a_k/∂z_j)


@dataclass(frozen=True)
class Gradient:
    """∂J/∂θ = scale · Σ δ · (the weight's input), over the examples (and a shared bias's users).

    ``paths`` lists the routes from the parameter to the loss when there are few, for display.
    ``sign`` is −1 where the gradient is minus that sum: for a threshold (a weight on −1), or
    with error terms (δ = −∂L/∂x); +1 where both hold.
    """

    result: Quantity
    parameter: Parameter
    terms: tuple[tuple[Quantity, Quantity | None], ...]  # (δ_j, y_i), y_i None for a bias
    scale: sympy.Rational
    paths: tuple[tuple[Node, ...], ...]
    path_count: int
    sign: int = 1


@dataclass(frozen=True)
class Update:
    """θ_new = θ − η · ∂J/∂θ (or θ kept, for a fixed bias).

    ``chain`` is the gradient's own step when the update is written in the textbooks' form
    w ← w + η δ x (``options.delta: error_term``): computed from the error terms and inputs, as
    the book does, not from the (possibly rounded) gradient.
    """

    result: Quantity
    old: Quantity
    gradient: Quantity
    rate: Quantity
    trainable: bool
    chain: Gradient | None = None
