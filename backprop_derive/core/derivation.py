"""Derivation: the chain rule in reverse mode, each local derivative once, each delta once."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import sympy

from .graph import Backward, FanIn, Ref
from .graph import Derivation as GraphDerivation
from .graph import derive as walk_graph
from .network import Network, Node, Parameter
from .network_graph import CompiledNetwork, compile_network, value_name
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
from .update import update_steps

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
    """Build the symbolic steps of one gradient-descent step on ``network``.

    The network is compiled to the operation graph (core.network_graph) and walked in reverse mode from
    each example's loss (core.graph.derive); the steps below write what the walk finds in a network
    exercise's words: each forward node as a weighted sum or an activation, each value's gradient as the
    sum of what the neurons it feeds send back, δ, and each parameter's gradient as the sum over its uses.
    """
    compiled = compile_network(network)
    walk = walk_graph(compiled.graph, compiled.losses)
    named = _Names(network, compiled)
    senders = _Senders(walk)
    examples = range(len(network.examples))
    forward = _forward(walk, named, len(network.examples))
    losses = [_loss(network, example) for example in examples]
    backward = tuple(tuple(_backward(network, example, losses[example], senders, named)) for example in examples)
    cost = losses[0].result
    if network.batched:
        cost = Quantity("cost")
        losses.append(CostValue(cost, tuple(loss.result for loss in losses), _scale(network)))
    routes = _Routes(network)
    gradients = tuple(_gradient(network, parameter, name, routes, senders, named)
                      for parameter, name in zip(network.parameters, compiled.parameters))
    return Derivation(network, forward, tuple(losses), backward, gradients, update_steps(network, gradients), cost)


def value_of(node: Node, example: int) -> Quantity:
    """What a node passes on: an input's value or a neuron's output."""
    return Quantity("input" if node.is_input else "out", node, example)


class _Names:
    """The network quantity each name of the compiled graph stands for."""

    def __init__(self, network: Network, compiled: CompiledNetwork) -> None:
        self.parameters = {name: Quantity("param", parameter=parameter)
                           for name, parameter in zip(compiled.parameters, network.parameters)}
        self.values = {value_name(node, example): value_of(node, example)
                       for example in range(len(network.examples)) for node in (*network.inputs, *network.neurons)}

    def quantity(self, name: str) -> Quantity:
        """The quantity the graph's value ``name`` is: a parameter, an input or an output."""
        return self.parameters.get(name) or self.values[name]


class _Senders:
    """What the walk sends back into each value: the Backward steps its gradient sums (one when used once)."""

    def __init__(self, walk: GraphDerivation) -> None:
        self._sent = {step.result: step for step in walk.backward if isinstance(step, Backward)}
        self._sums = {step.result.name: step.terms for step in walk.backward if isinstance(step, FanIn)}

    def __call__(self, name: str) -> list[Backward]:
        terms = self._sums.get(name)
        if terms is None:
            single = self._sent.get(Ref("grad", name))
            return [single] if single else []
        return [self._sent[term] for term in terms]


def _scale(network: Network) -> sympy.Rational:
    if network.options.reduction == "mean":
        return sympy.Rational(1, len(network.examples))
    return sympy.Integer(1)


def _forward(walk: GraphDerivation, named: _Names, examples: int) -> tuple[tuple, ...]:
    """Each example's weighted sums and activations, read off the graph's forward nodes (losses apart)."""
    steps: list[list] = [[] for _ in range(examples)]
    for step in walk.forward:
        node, group = step.node, step.node.group
        role = group.get("role")
        if role == "pre":
            neuron, example = group["neuron"], group["example"]
            pairs = node.operation.pairs
            terms = tuple((named.quantity(node.inputs[2 * index]), named.quantity(node.inputs[2 * index + 1]))
                          for index in range(pairs))
            bias = named.quantity(node.inputs[-1]) if len(node.inputs) > 2 * pairs else None
            steps[example].append(WeightedSum(Quantity("pre", neuron, example), terms, bias))
        elif role == "out":
            neuron, example = group["neuron"], group["example"]
            if neuron.activation.layerwise:
                arguments = tuple(Quantity("pre", unit, example) for unit in neuron.group)
                steps[example].append(SoftmaxActivate(Quantity("out", neuron, example), arguments,
                                                      neuron.group.index(neuron)))
            else:
                steps[example].append(Activate(Quantity("out", neuron, example), Quantity("pre", neuron, example),
                                               neuron.activation))
    return tuple(tuple(example) for example in steps)


def _loss(network: Network, example: int) -> LossValue:
    outputs = tuple(Quantity("out", node, example) for node in network.outputs)
    targets = tuple(Quantity("target", node, example) for node in network.outputs if network.has_targets)
    formula = network.loss.formula([q.symbol for q in outputs], [q.symbol for q in targets])
    return LossValue(Quantity("loss", example=example), outputs, targets, network.loss, formula)


def _fed(sends: list[Backward], named: _Names) -> tuple[tuple[Quantity, Quantity], ...]:
    """(δ_k, w_jk) for each weighted sum a value feeds, from what the walk sends back along each edge."""
    return tuple((Quantity("delta", step.node.group["neuron"], step.node.group["example"]),
                  named.quantity(step.node.inputs[step.slot + 1]))
                 for step in sends if step.node.group.get("role") == "pre")


def _backward(network: Network, example: int, loss: LossValue, senders: _Senders, named: _Names):
    # NOTE: the textbooks' error terms are −∂L/∂: only the loss's derivative changes sign, and every
    # later step of the backward pass, being linear in it, carries the sign along.
    sign = -1 if network.options.error_term else 1
    # NOTE: layer by layer from the top, but unit 1 before unit 2 within a layer, as by hand;
    # a neuron's consumers are always deeper, so their deltas are ready.
    for neuron in sorted(network.neurons, key=lambda node: -node.layer):
        dout = Quantity("dout", neuron, example)
        sends = senders(value_name(neuron, example))
        consumers = _fed(sends, named)
        direct = None
        if any(step.node.group.get("role") == "loss" for step in sends):
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
            yield BackSum(dout, consumers, direct)
        if not neuron.activation.layerwise:
            yield from _local_delta(neuron, example)
        elif neuron is neuron.group[-1]:
            yield from _softmax_deltas(neuron.group, example)
    if network.options.input_gradients:
        for node in network.inputs:
            yield BackSum(Quantity("dinput", node, example), _fed(senders(value_name(node, example)), named), None, sign)


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


def _gradient(network: Network, parameter: Parameter, name: str, routes: _Routes, senders: _Senders,
              named: _Names) -> Gradient:
    # NOTE: the walk sends the parameter's leaf one term per use: per example, and for a bias shared by a
    # layer, per neuron it is added to; the gradient is their sum.
    uses = senders(name)
    terms = tuple((Quantity("delta", step.node.group["neuron"], step.node.group["example"]),
                   named.quantity(step.node.inputs[step.slot - 1]) if parameter.kind == "weight" else None)
                  for step in uses)
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

