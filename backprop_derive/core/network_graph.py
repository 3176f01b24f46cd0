"""Both network spec forms compiled to the operation graph: per example, a node per weighted sum, activation
and loss; each weight and bias one leaf shared by every example (and by every neuron a shared bias feeds).

The derivation (core.derivation) walks this graph in reverse mode and writes what the walk finds in the
words of a network exercise: ∂L/∂y as a sum over the neurons fed, δ, a gradient as a sum over its uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import sympy

from .formula import X
from .graph import Graph, Leaf, Node
from .network import Network
from .network import Node as Neuron
from .operations import ARGUMENTS, Operation, as_sympy_prints, weighted_sum
from .rules import Activation, Loss


@dataclass(frozen=True)
class CompiledNetwork:
    """A network as an operation graph, and what each of its names stands for.

    Attributes:
        graph: Leaves (inputs and targets per example, each parameter once) and nodes, example by example.
        losses: Each example's loss node, in order: the walk starts from each (δ stays ∂L/∂z per example).
        parameters: Each parameter leaf's name, in the network's parameter order.
    """

    graph: Graph
    losses: tuple[str, ...]
    parameters: tuple[str, ...]


def value_name(node: Neuron, example: int) -> str:
    """The graph name of what ``node`` passes on in ``example``: an input's value or a neuron's output."""
    return f"{'in' if node.is_input else 'out'}:{node.name}:{example}"


def pre_name(neuron: Neuron, example: int) -> str:
    """The graph name of a neuron's weighted sum in ``example``."""
    return f"pre:{neuron.name}:{example}"


def loss_name(example: int) -> str:
    """The graph name of one example's loss."""
    return f"loss:{example}"


def compile_network(network: Network) -> CompiledNetwork:
    """The operation graph of ``network``'s forward pass and per-example losses."""
    parameter_names = {id(parameter): f"param:{index}" for index, parameter in enumerate(network.parameters)}
    leaves = [Leaf(parameter_names[id(parameter)], "parameter", parameter.value) for parameter in network.parameters]
    nodes: list[Node] = []
    loss = loss_operation(network.loss, len(network.outputs))
    for example, given in enumerate(network.examples):
        leaves.extend(Leaf(value_name(node, example), "input", given.inputs[node]) for node in network.inputs)
        for neuron in network.neurons:
            inputs = [name for weight in neuron.incoming
                      for name in (value_name(weight.source, example), parameter_names[id(weight)])]
            sign = 0
            if neuron.bias is not None:
                inputs.append(parameter_names[id(neuron.bias)])
                sign = -1 if neuron.bias.kind == "threshold" else 1
            nodes.append(Node(pre_name(neuron, example), weighted_sum(len(neuron.incoming), sign), tuple(inputs),
                              group=_group(neuron, example, "pre")))
            if not neuron.activation.layerwise:
                nodes.append(Node(value_name(neuron, example), activation_operation(neuron.activation),
                                  (pre_name(neuron, example),), group=_group(neuron, example, "out")))
            elif neuron is neuron.group[-1]:
                arguments = tuple(pre_name(unit, example) for unit in neuron.group)
                nodes.extend(Node(value_name(unit, example), softmax_operation(len(arguments), index), arguments,
                                  group=_group(unit, example, "out")) for index, unit in enumerate(neuron.group))
        targets = []
        if network.has_targets:
            targets = [f"target:{node.name}:{example}" for node in network.outputs]
            leaves.extend(Leaf(name, "target", given.targets[node]) for name, node in zip(targets, network.outputs))
        nodes.append(Node(loss_name(example), loss,
                          tuple(value_name(node, example) for node in network.outputs) + tuple(targets),
                          group=MappingProxyType({"example": example, "role": "loss"})))
    losses = tuple(loss_name(example) for example in range(len(network.examples)))
    graph = Graph(tuple(leaves), tuple(nodes), losses[-1])
    return CompiledNetwork(graph, losses, tuple(parameter_names[id(parameter)] for parameter in network.parameters))


def _group(neuron: Neuron, example: int, role: str) -> MappingProxyType:
    return MappingProxyType({"neuron": neuron, "layer": neuron.layer, "example": example, "role": role})


@cache
def activation_operation(activation: Activation) -> Operation:
    """The node applying ``activation`` to a weighted sum (its kink's derivative as the activation chose it)."""
    formula = activation.formula.xreplace({X: ARGUMENTS[0]})
    return Operation(activation.name, 1, lambda argument: formula.xreplace({ARGUMENTS[0]: argument}),
                     as_sympy_prints, "the activation multiplies the gradient by its derivative f′",
                     kink=activation.derivative_at_zero)


@cache
def softmax_operation(size: int, index: int) -> Operation:
    """Unit ``index`` of a softmax over ``size`` weighted sums: e^{a_index} / Σ_k e^{a_k}."""
    def forward(*arguments):
        return sympy.exp(arguments[index]) / sympy.Add(*(sympy.exp(argument) for argument in arguments))

    return Operation("softmax", size, forward, as_sympy_prints,
                     "the softmax sends each weighted sum the gradient through its whole-layer Jacobian")


@cache
def loss_operation(loss: Loss, outputs: int) -> Operation:
    """One example's loss over its ``outputs`` outputs (the first inputs) and their targets (the rest)."""
    targets = outputs if loss.targets else 0
    formula = loss.formula(list(ARGUMENTS[:outputs]), list(ARGUMENTS[outputs:outputs + targets]))
    return Operation(loss.name, outputs + targets, lambda *arguments: formula.xreplace(dict(zip(ARGUMENTS, arguments))),
                     as_sympy_prints, "the loss sends each output ∂L/∂o")
