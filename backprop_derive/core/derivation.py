"""Derivation: the chain rule in reverse mode, each local derivative once, each delta once."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import sympy

from .formula import X
from .network import Network, Node, Parameter
from .rules import OUTPUT
from .steps import (
    Activate,
    BackSum,
    CostValue,
    Delta,
    Gradient,
    Jacobian,
    LossValue,
    OutputSlope,
    Quantity,
    Slope,
    SoftmaxActivate,
    SoftmaxDelta,
    Update,
    WeightedSum,
)
from .update import objective, update_steps

#: A gradient's routes to the loss are listed for display while there are at most this many.
MAX_PATHS_SHOWN = 4


@dataclass(frozen=True)
class Derivation:
    """Every step of one training step, in the order a hand solution writes them.

    Attributes:
        forward: Per example, the weighted sums and activations in topological order.
        losses: Each example's loss, then the cost J when there is a batch.
        backward: Per example, from the outputs back: ∂L/∂y, f', δ for every neuron.
        gradients: One per parameter, in the network's parameter order.
        updates: The update stage's steps (core.update), one per parameter for plain descent; empty
            without a learning rate.
        cost: The quantity minimised (the loss itself for a single example).
    """

    network: Network
    forward: tuple[tuple, ...]
    losses: tuple
    backward: tuple[tuple, ...]
    gradients: tuple[Gradient, ...]
    updates: tuple[Update, ...]
    cost: Quantity

    def steps(self):
        """Every step in the order its inputs are computed first."""
        return chain(chain.from_iterable(self.forward), self.losses, chain.from_iterable(self.backward),
                     self.gradients, self.updates)


def derive(network: Network) -> Derivation:
    """Build the symbolic steps of one gradient-descent step on ``network``."""
    examples = range(len(network.examples))
    forward = tuple(tuple(_forward(network, example)) for example in examples)
    losses = [_loss(network, example) for example in examples]
    backward = tuple(tuple(_backward(network, example, losses[example])) for example in examples)
    cost = losses[0].result
    if network.batched:
        cost = Quantity("cost")
        losses.append(CostValue(cost, tuple(loss.result for loss in losses), _scale(network)))
    # NOTE: the update stage's regularization adds its penalty to the cost, shown beside it.
    penalty, cost = objective(network, cost)
    losses.extend(penalty)
    routes = _Routes(network)
    gradients = tuple(_gradient(network, parameter, routes) for parameter in network.parameters)
    return Derivation(network, forward, tuple(losses), backward, gradients, update_steps(network, gradients), cost)


def value_of(node: Node, example: int) -> Quantity:
    """What a node passes on: an input's value or a neuron's output."""
    return Quantity("input" if node.is_input else "out", node, example)


def _scale(network: Network) -> sympy.Rational:
    if network.options.reduction == "mean":
        return sympy.Rational(1, len(network.examples))
    return sympy.Integer(1)


def _forward(network: Network, example: int):
    for neuron in network.neurons:
        bias = Quantity("param", parameter=neuron.bias) if neuron.bias else None
        terms = tuple((value_of(weight.source, example), Quantity("param", parameter=weight))
                      for weight in neuron.incoming)
        yield WeightedSum(Quantity("pre", neuron, example), terms, bias)
        if not neuron.activation.layerwise:
            yield Activate(Quantity("out", neuron, example), Quantity("pre", neuron, example), neuron.activation)
        elif neuron is neuron.group[-1]:
            # NOTE: softmax needs the whole layer's pre-activations, so its outputs follow the last sum.
            arguments = tuple(Quantity("pre", unit, example) for unit in neuron.group)
            for index, unit in enumerate(neuron.group):
                yield SoftmaxActivate(Quantity("out", unit, example), arguments, index)


def _loss(network: Network, example: int) -> LossValue:
    outputs = tuple(Quantity("out", node, example) for node in network.outputs)
    targets = tuple(Quantity("target", node, example) for node in network.outputs if network.has_targets)
    formula = network.loss.formula([q.symbol for q in outputs], [q.symbol for q in targets])
    return LossValue(Quantity("loss", example=example), outputs, targets, network.loss, formula)


def _backward(network: Network, example: int, loss: LossValue):
    outputs = set(network.outputs)
    # NOTE: the textbooks' error terms are −∂L/∂: only the loss's derivative changes sign, and every
    # later step of the backward pass, being linear in it, carries the sign along.
    sign = -1 if network.options.error_term else 1
    # NOTE: layer by layer from the top, but unit 1 before unit 2 within a layer, as by hand;
    # a neuron's consumers are always deeper, so their deltas are ready.
    for neuron in sorted(network.neurons, key=lambda node: -node.layer):
        dout = Quantity("dout", neuron, example)
        consumers = network.consumers(neuron)
        direct = None
        if neuron in outputs:
            # NOTE: an output that also feeds other neurons reaches the loss both ways: its direct
            # part gets a name of its own and joins the sum over the other paths.
            output = Quantity("out", neuron, example)
            direct = Quantity("dloss", neuron, example) if consumers else dout
            # NOTE: written as a person does, 2·(o − t), where SymPy's derivative distributes it to
            # 2o − 2t; the same form in every format and in `derive`. An error term reads 2·(t − o).
            target = Quantity("target", neuron, example)
            slope = network.loss.slope(loss.formula, output.symbol, target.symbol)
            yield OutputSlope(direct, loss, output, _negated(slope) if sign < 0 else slope)
        if consumers:
            yield BackSum(dout, tuple((Quantity("delta", consumer, example), Quantity("param", parameter=weight))
                                      for consumer, weight in consumers), direct)
        if not neuron.activation.layerwise:
            yield from _local_delta(neuron, example)
        elif neuron is neuron.group[-1]:
            yield from _softmax_deltas(neuron.group, example)
    if network.options.input_gradients:
        for node in network.inputs:
            yield BackSum(Quantity("dinput", node, example),
                          tuple((Quantity("delta", consumer, example), Quantity("param", parameter=weight))
                                for consumer, weight in network.consumers(node)), None, sign)


def _negated(slope: sympy.Expr) -> sympy.Expr:
    """−``slope`` with its sum negated inside, as a book writes the error: 2·(t − o), not −2·(o − t)."""
    if slope.is_Mul:
        factors = list(slope.args)
        for index, factor in enumerate(factors):
            if factor.is_Add:
                factors[index] = -factor
                return sympy.Mul(*factors, evaluate=False)
    return -slope


def _local_delta(neuron: Node, example: int):
    activation = neuron.activation
    slope = Quantity("slope", neuron, example)
    in_output = activation.derivative_of_output
    if in_output is not None:
        yield Slope(slope, activation, in_output, Quantity("out", neuron, example))
    else:
        yield Slope(slope, activation, activation.derivative, Quantity("pre", neuron, example))
    yield Delta(Quantity("delta", neuron, example), Quantity("dout", neuron, example), slope)


def _softmax_deltas(group: tuple[Node, ...], example: int):
    for unit in group:
        for output in group:
            yield Jacobian(Quantity("jacobian", output, example, other=unit), Quantity("out", output, example),
                           Quantity("out", unit, example), output is unit)
    for unit in group:
        yield SoftmaxDelta(Quantity("delta", unit, example),
                           tuple((Quantity("dout", output, example), Quantity("jacobian", output, example, other=unit))
                                 for output in group))


def _gradient(network: Network, parameter: Parameter, routes: _Routes) -> Gradient:
    examples = range(len(network.examples))
    if parameter.kind == "weight":
        terms = tuple((Quantity("delta", parameter.target, example), value_of(parameter.source, example))
                      for example in examples)
    else:
        terms = tuple((Quantity("delta", user, example), None) for example in examples for user in parameter.users)
    # NOTE: a bias shared by a layer reaches the loss through every neuron it is added to.
    starts = parameter.users if parameter.kind == "bias" else (parameter.target,)
    count = sum(routes.counts[start] for start in starts)
    listed = () if count > MAX_PATHS_SHOWN else tuple(path for start in starts for path in routes.listed(start))
    sign = (-1 if parameter.kind == "threshold" else 1) * (-1 if network.options.error_term else 1)
    return Gradient(Quantity("grad", parameter=parameter), parameter, terms, _scale(network), listed, count, sign)


def route_counts(network: Network) -> dict[Node, int]:
    """How many routes lead from each neuron to an output (through the neurons it feeds)."""
    outputs = set(network.outputs)
    counts: dict[Node, int] = {}
    for neuron in sorted(network.neurons, key=lambda node: -node.layer):
        counts[neuron] = (neuron in outputs) + sum(counts[consumer] for consumer, _ in network.consumers(neuron))
    return counts


class _Routes:
    """The routes from each neuron to an output: counted for all at once, listed while few."""

    def __init__(self, network: Network) -> None:
        self.network = network
        outputs = set(network.outputs)
        self.counts = route_counts(network)
        self._listed: dict[Node, tuple[tuple[Node, ...], ...]] = {}
        # NOTE: from the outputs down, so that each neuron's consumers are done first: no recursion,
        # which a chain of 1,000 neurons would take past Python's limit.
        for neuron in sorted(network.neurons, key=lambda node: -node.layer):
            consumers = [consumer for consumer, _ in network.consumers(neuron)]
            if self.counts[neuron] <= MAX_PATHS_SHOWN:
                self._listed[neuron] = ((neuron,),) * (neuron in outputs) + tuple(
                    (neuron, *rest) for consumer in consumers for rest in self._listed[consumer])

    def listed(self, start: Node) -> tuple[tuple[Node, ...], ...]:
        """Every route from ``start``, or none when there are more than MAX_PATHS_SHOWN."""
        return self._listed.get(start, ())


# Both generic variables a Slope's formula may be written in.
SLOPE_VARIABLES = (X, OUTPUT)
