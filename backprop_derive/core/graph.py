"""The operation graph: leaves and nodes made by operations, and reverse mode over it as small frozen steps.

Nothing here knows of neurons, layers or circuits: each node is an operation applied to named inputs,
and the presentation groups a course speaks of (gate, formula, neuron, layer, time step) are plain data
carried by the node.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import NamedTuple

import sympy

from .compute import compute
from .numbers import DIGITS, NoFiniteValue, settle
from .operations import ARGUMENTS, Operation

#: A formula's constant that is a gate's input is a leaf whose name starts so (no spec name can).
CONSTANT_MARK = "#"
#: What a leaf is: its gradient is reported for inputs and parameters; targets and constants get none.
LEAF_KINDS = ("input", "parameter", "target", "constant")
DIFFERENTIABLE = ("input", "parameter")


class Ref(NamedTuple):
    """A quantity of the graph's solution, identified by what it is.

    A named tuple, not a dataclass: a network's walk makes one per edge, and tuples are made and hashed in C.

    Attributes:
        kind: ``value`` (a leaf's or node's value), ``grad`` (the derivative of the differentiated node
            by it), ``sent`` (the part of a gradient sent back by one consumer, where a value fans out),
            ``new`` (a parameter after the update) or ``rate`` (the learning rate).
        name: The leaf or node.
        via: For ``sent``, the consumer that sends it.
        slot: For ``sent``, which input of the consumer (0-based), when it uses the value twice.
    """

    kind: str
    name: str = ""
    via: str = ""
    slot: int | None = None


@dataclass(frozen=True)
class Leaf:
    """A given value: an input, a parameter, a target or a constant of a formula."""

    name: str
    kind: str
    value: sympy.Rational


@dataclass(frozen=True)
class Node:
    """A computed value: ``operation`` applied to the named ``inputs`` (and its ``constant``).

    ``group`` is presentation data (e.g. ``{"formula": "f", "gate": 3}``), never read by the walk.
    """

    name: str
    operation: Operation
    inputs: tuple[str, ...]
    constant: sympy.Expr | None = None
    group: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}), compare=False, hash=False)

    def formula(self) -> sympy.Expr:
        """The node's value as a formula over ``ARGUMENTS`` (one per input)."""
        return self.operation.formula(self.constant)

    def locals(self) -> tuple[sympy.Expr, ...]:
        """∂node/∂input for each input slot, over ``ARGUMENTS``."""
        return self.operation.locals(self.constant)


@dataclass(frozen=True)
class Graph:
    """Leaves and nodes in an order where every node comes after its inputs, and the node differentiated."""

    leaves: tuple[Leaf, ...]
    nodes: tuple[Node, ...]
    output: str

    def leaf(self, name: str) -> Leaf | None:
        """The leaf called ``name``, or None for a node."""
        return self._leaves.get(name)

    @cached_property
    def _leaves(self) -> dict[str, Leaf]:
        return {leaf.name: leaf for leaf in self.leaves}

    def kind(self, name: str) -> str:
        """``node``, or the leaf's kind."""
        leaf = self._leaves.get(name)
        return leaf.kind if leaf else "node"


# --- steps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """A node's value: its operation applied to its inputs' values (formula → numbers → value)."""

    result: Ref
    node: Node
    arguments: tuple[Ref, ...]


@dataclass(frozen=True)
class Seed:
    """The differentiated node's derivative by itself: 1."""

    result: Ref


@dataclass(frozen=True)
class Backward:
    """What a node sends back to one input: upstream gradient × local gradient.

    ``local`` is ∂node/∂input over ``ARGUMENTS`` (SymPy's derivative of the operation's formula);
    ``arguments`` are the node's inputs' values it is evaluated at.
    """

    result: Ref
    upstream: Ref
    node: Node
    slot: int
    local: sympy.Expr
    arguments: tuple[Ref, ...]


@dataclass(frozen=True)
class FanIn:
    """The gradient of a value that feeds several operations: the sum of what each sends back."""

    result: Ref
    terms: tuple[Ref, ...]
    tied: bool  # a parameter used in several places: its gradient is the sum over its uses


@dataclass(frozen=True)
class Derivation:
    """The steps of one pass through the graph, in the order a solution shows them."""

    graph: Graph
    forward: tuple[Forward, ...]
    backward: tuple[Seed | Backward | FanIn, ...]
    gradients: tuple[Ref, ...]  # each input's and parameter's gradient, in the leaves' order

    def steps(self) -> Iterator:
        """Every step, forward then backward."""
        yield from self.forward
        yield from self.backward


def derive(graph: Graph, seeds: tuple[str, ...] = ()) -> Derivation:
    """Reverse mode over ``graph``: one walk from the differentiated node back to the leaves.

    Each node's local derivatives are taken once, each upstream gradient is computed once and named,
    and a value used by several operations gets its own sum step.

    Args:
        graph: The graph; its ``output`` is differentiated.
        seeds: Instead, several nodes none of which depends on another (a network's per-example losses),
            each seeded with 1: a leaf's gradient is then that of their sum.
    """
    seeds = seeds or (graph.output,)
    seeded = set(seeds)
    forward = tuple(Forward(Ref("value", node.name), node, tuple(Ref("value", name) for name in node.inputs))
                    for node in graph.nodes)
    # Which nodes the differentiated node depends on (a walk down from it, without recursion).
    by_name = {node.name: node for node in graph.nodes}
    needed, frontier = set(), list(seeds)
    while frontier:
        name = frontier.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        frontier.extend(by_name[name].inputs)
    relevant = [node for node in graph.nodes if node.name in needed]
    uses: dict[str, list[tuple[Node, int]]] = {}
    for node in relevant:
        for slot, name in enumerate(node.inputs):
            uses.setdefault(name, []).append((node, slot))

    receiving = {*DIFFERENTIABLE, "node"}
    # NOTE: the inputs a node takes more than once (x·x), found once per node: counting them per edge would
    # make a wide weighted sum quadratic in its inputs.
    repeated = {node.name: {name for name in node.inputs if node.inputs.count(name) > 1}
                for node in relevant if len(set(node.inputs)) < len(node.inputs)}

    def receives(name: str) -> bool:
        return graph.kind(name) in receiving

    def sent(node: Node, slot: int) -> Ref:
        source = node.inputs[slot]
        if len(uses[source]) == 1:
            return Ref("grad", source)
        twice = source in repeated.get(node.name, ())
        return Ref("sent", source, node.name, slot if twice else None)

    def fan_in(name: str) -> FanIn | None:
        if len(uses.get(name, ())) < 2:
            return None
        return FanIn(Ref("grad", name), tuple(sent(node, slot) for node, slot in uses[name]),
                     graph.kind(name) == "parameter")

    backward: list = [Seed(Ref("grad", seed)) for seed in seeds]
    for node in reversed(relevant):
        if node.name not in seeded and (summed := fan_in(node.name)):
            backward.append(summed)
        upstream = Ref("grad", node.name)
        arguments = tuple(Ref("value", name) for name in node.inputs)
        for slot, (source, local) in enumerate(zip(node.inputs, node.locals())):
            if receives(source):
                backward.append(Backward(sent(node, slot), upstream, node, slot, local, arguments))
    for leaf in graph.leaves:
        if leaf.kind in DIFFERENTIABLE and (summed := fan_in(leaf.name)):
            backward.append(summed)
    gradients = tuple(Ref("grad", leaf.name) for leaf in graph.leaves if leaf.kind in DIFFERENTIABLE)
    return Derivation(graph, forward, tuple(backward), gradients)


Values = dict[Ref, sympy.Expr]


def evaluate(derivation: Derivation, leaves: Mapping[str, sympy.Expr]) -> Values:
    """Every quantity's value, given each leaf's value: exact where rational, else DIGITS digits.

    A leaf the differentiated node does not depend on has gradient 0.
    """
    values: Values = {Ref("value", name): value for name, value in leaves.items()}
    for step in derivation.steps():
        try:
            values[step.result] = settle(compute(step, values))
        except NoFiniteValue as error:
            raise error.at(*_where(step)) from None
    for gradient in derivation.gradients:
        values.setdefault(gradient, sympy.Integer(0))
    return values


def _where(step) -> tuple[str, str]:
    """The spec field a step comes from (``graph.f``, ``loss``) and the step in words, for an error message."""
    node = getattr(step, "node", None)
    if node is None:
        return "", "the value"
    field_path = "loss" if node.group.get("loss") else f"graph.{node.group.get('formula', node.name)}"
    if isinstance(step, Forward):
        return field_path, f"the value of {node.name}"
    return field_path, f"the gradient {node.name} sends back"


#: An exact value of more bits than this is carried as a DIGITS-digit number (x·x chained would double them).
MAX_EXACT_BITS = 4096
#: Above this size, an exact value raised to a computed power is carried as a DIGITS-digit number.
MAX_EXACT_POWER = 1000


def at(formula: sympy.Expr, arguments: tuple[Ref, ...], values: Values) -> sympy.Expr:
    """``formula`` at the arguments' values: exactly, unless that would build a number of millions of digits.

    NOTE: a graph may square a value again and again, or raise it to a computed power; exactly, that is a
    number whose size explodes before any check could look at it. Such arguments are carried as DIGITS-digit
    numbers instead, and the result then meets settle's bounds like any other.
    """
    # NOTE: only the arguments the formula uses: a local derivative of a 339-input sum is one of them.
    numbers = {symbol: values[arguments[index]] for symbol, index in _used(formula)}
    if any(_too_big(number, formula) for number in numbers.values()):
        numbers = {symbol: sympy.Float(number, DIGITS) if number.is_Rational else number
                   for symbol, number in numbers.items()}
    return formula.xreplace(numbers)


@functools.lru_cache(maxsize=4096)
def _used(formula: sympy.Expr) -> tuple[tuple[sympy.Symbol, int], ...]:
    """The argument symbols ``formula`` contains, each with its position (a07 is the eighth)."""
    found = []
    for symbol in formula.free_symbols:
        digits = symbol.name[1:]
        if symbol.name[:1] == "a" and digits.isdigit() and ARGUMENTS[int(digits)] == symbol:
            found.append((symbol, int(digits)))
    return tuple(found)


@functools.lru_cache(maxsize=4096)
def _powered(formula: sympy.Expr) -> bool:
    """True when ``formula`` raises something to a computed power."""
    return any(not power.exp.is_number for power in formula.atoms(sympy.Pow))


def _too_big(number: sympy.Expr, formula: sympy.Expr) -> bool:
    if not number.is_Rational:
        return False
    if max(abs(int(number.p)).bit_length(), int(number.q).bit_length()) > MAX_EXACT_BITS:
        return True
    return _powered(formula) and abs(number) > MAX_EXACT_POWER


@compute.register
def _(step: Forward, values: Values) -> sympy.Expr:
    numeric = step.node.operation.numeric
    if numeric is not None:
        return numeric(*(values[argument] for argument in step.arguments))
    return at(step.node.formula(), step.arguments, values)


@compute.register
def _(step: Seed, values: Values) -> sympy.Expr:
    return sympy.Integer(1)


@compute.register
def _(step: Backward, values: Values) -> sympy.Expr:
    return values[step.upstream] * at(step.local, step.arguments, values)


@compute.register
def _(step: FanIn, values: Values) -> sympy.Expr:
    return sympy.Add(*(values[term] for term in step.terms))
