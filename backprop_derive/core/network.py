"""The network model: nodes, parameters and examples, the same for both spec forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import sympy

from .numbers import Rounding
from .rules import Activation, Loss


@dataclass(eq=False)
class Node:
    """An input or a neuron.

    Attributes:
        name: The node's name in the indexed notation (``3``, ``h1``).
        layer: 0 for inputs; a neuron's layer (dense) or its depth, the longest path from an input (named).
        unit: 1-based position within its layer.
        activation: None for inputs.
        incoming: The weights into this neuron, in the spec's order.
        bias: The neuron's bias, None if it has none.
        group: The neurons a layerwise activation (softmax) normalises over, this one included.
    """

    name: str
    layer: int
    unit: int
    activation: Activation | None = None
    incoming: list[Parameter] = field(default_factory=list)
    bias: Parameter | None = None
    group: tuple[Node, ...] = ()

    @property
    def is_input(self) -> bool:
        return self.activation is None

    def __repr__(self) -> str:
        return f"Node({self.name})"


@dataclass(eq=False)
class Parameter:
    """A weight or a bias, where it sits in the spec, and its initial value.

    Attributes:
        kind: ``weight``, ``bias`` (added to the weighted sum) or ``threshold`` (a weight on a
            constant −1 input: subtracted from the weighted sum, as Negnevitsky writes θ).
        target: The neuron a weight leads into; for a bias, the first neuron using it.
        source: A weight's source node; None for a bias or threshold.
        users: The neurons a bias or threshold is added to (more than one when a layer shares it).
        location: The path to the value in the spec's parameter shape, e.g.
            ``("layers", 0, "weights", 1, 0)`` or ``("neurons", "3", "in", "1")``.
        trainable: False for a bias kept fixed (``options.update_biases: false``).
    """

    kind: str
    target: Node
    value: sympy.Rational
    location: tuple
    source: Node | None = None
    users: tuple[Node, ...] = ()
    trainable: bool = True

    def __repr__(self) -> str:
        return f"Parameter({'.'.join(map(str, self.location))})"


@dataclass(frozen=True)
class Example:
    """One training example: a value per input node, a target per output node."""

    inputs: dict  # Node -> sympy.Rational
    targets: dict  # Node -> sympy.Rational


@dataclass(frozen=True)
class Options:
    """``options`` of the spec, resolved to their defaults."""

    relu_derivative_at_zero: sympy.Rational = sympy.Integer(0)
    reduction: str = "mean"
    update_biases: bool = True
    notation: str | None = None
    precision: int = 6
    #: ``derivative`` (δ = ∂L/∂z) or ``error_term`` (the textbooks' δ = (t − o)·f′ = −∂L/∂z).
    delta: str = "derivative"
    #: Also ∂L/∂x for every input.
    input_gradients: bool = False
    #: Round every line's result and carry it rounded, as a hand solution does; None keeps full precision.
    rounding: Rounding | None = None

    @property
    def error_term(self) -> bool:
        """True when δ is the textbooks' error term, the negative of ∂L/∂z."""
        return self.delta == "error_term"


@dataclass(frozen=True)
class Network:
    """A whole exercise: the graph, its examples, the loss and how to update.

    Attributes:
        form: ``dense`` or ``named``, the spec form it came from.
        inputs: Input nodes in order.
        neurons: Neurons in topological order.
        outputs: The neurons that have targets, in order.
        parameters: Every weight and bias, in the order the solution shows them.
        weights_layout: ``unit_by_input`` (``weights[j][i]``, W·x) or ``input_by_unit``
            (``weights[i][j]``, x·W), how the dense spec writes its matrices.
    """

    title: str
    form: str
    inputs: tuple[Node, ...]
    neurons: tuple[Node, ...]
    outputs: tuple[Node, ...]
    parameters: tuple[Parameter, ...]
    examples: tuple[Example, ...]
    loss: Loss
    learning_rate: sympy.Rational | None
    options: Options
    batched: bool
    weights_layout: str = "unit_by_input"
    #: A course's own names of quantities (spec ``answer_names``): (course's name, solution's name) pairs.
    answer_names: tuple[tuple[str, str], ...] = ()
    #: How the parameters are updated (``update.Training``: optimizer, regularization, online); None for plain SGD.
    training: Any = None
    #: The parameters the spec's ``frozen`` lists: never updated.
    frozen: tuple[Parameter, ...] = ()

    @property
    def has_targets(self) -> bool:
        """False for ``loss: none``, where the output itself is differentiated."""
        return self.loss.targets

    @property
    def notation(self) -> str:
        """The notation the solution uses unless told otherwise."""
        return self.options.notation or ("ng" if self.form == "dense" else "indexed")

    def consumers(self, node: Node) -> list[tuple[Node, Parameter]]:
        """The neurons ``node`` feeds, each with the weight on that edge."""
        return self._consumers.get(node, [])

    @cached_property
    def _consumers(self) -> dict[Node, list[tuple[Node, Parameter]]]:
        table: dict[Node, list[tuple[Node, Parameter]]] = {}
        for neuron in self.neurons:
            for weight in neuron.incoming:
                table.setdefault(weight.source, []).append((neuron, weight))
        return table

    @property
    def layers(self) -> list[list[Node]]:
        """Neurons grouped by layer (dense) or depth (named), in order."""
        grouped: dict[int, list[Node]] = {}
        for neuron in self.neurons:
            grouped.setdefault(neuron.layer, []).append(neuron)
        return [grouped[layer] for layer in sorted(grouped)]
