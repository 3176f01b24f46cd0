"""The `graph:` spec form (SPEC §2.4): formulas over inputs, parameters and earlier nodes, to an operation graph."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import sympy

from .errors import SpecError
from .formula import (
    GRAPH_FUNCTIONS,
    MAX_EXPONENT,
    FormulaError,
    check_operation,
    constant_value,
    graph_expression,
    parse_tree,
)
from .graph import CONSTANT_MARK, Graph, Leaf, Node
from .operations import ARGUMENTS, OPERATIONS, Operation, formula_operation
from .rules import LOSSES, Loss
from .spec import _known_keys, _mapping, _number, describe, read_training
from .update import SPEC_KEYS, Training

TOP_LEVEL = {"title", "inputs", "parameters", "graph", "gates", "output", "targets", "loss", "learning_rate",
             "options", *SPEC_KEYS}
#: ``input_gradients`` is accepted as true only: a graph always gives its inputs' gradients (SPEC §2.7).
OPTIONS = {"precision", "input_gradients"}
#: A name in a graph: a Python-style identifier of ASCII letters and digits, as formulas can refer to it.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
#: Names a formula gives a meaning of its own.
RESERVED = {"e", "pi", *GRAPH_FUNCTIONS}
#: The loss node's name (``loss`` if a node is called L already).
LOSS_NAMES = ("L", "loss")


@dataclass(frozen=True)
class Circuit:
    """A `graph:` exercise: its operation graph and what the solution does with it.

    Attributes:
        title: The spec's title.
        graph: The operation graph (the loss node last when there is a loss).
        inputs: The inputs' names, in the spec's order.
        parameters: The parameters' names, in the spec's order.
        output: The node the spec names as its output (the loss is added after it).
        loss: The loss and each output's target, or None to differentiate the output itself.
        learning_rate: η, or None for no update.
        precision: Significant digits shown.
        split: Whether formulas were split into elementary gates.
        training: How the parameters are updated (optimizer, regularization, frozen), SPEC §2.6.
    """

    title: str
    graph: Graph
    inputs: tuple[str, ...]
    parameters: tuple[str, ...]
    output: str
    loss: Loss | None
    targets: tuple[tuple[str, sympy.Rational], ...]
    learning_rate: sympy.Rational | None
    precision: int
    split: bool
    training: Training = Training()

    @property
    def values(self) -> dict[str, sympy.Rational]:
        """Every leaf's given value by name."""
        return {leaf.name: leaf.value for leaf in self.graph.leaves}


def is_graph_spec(data: Any) -> bool:
    """True for a spec of the `graph:` form."""
    return isinstance(data, dict) and "graph" in data


def build_circuit(data: Any) -> Circuit:
    """Validate a parsed `graph:` spec and build its operation graph.

    Raises:
        SpecError: naming the field path (``graph.f``) and what was expected.
    """
    spec = _mapping(data, "", "a map with inputs and graph")
    _known_keys(spec, TOP_LEVEL, "")
    title = spec.get("title", "")
    if not isinstance(title, str):
        raise SpecError(f"expected a line of text, got {describe(title)}", "title")
    inputs = _leaves(spec.get("inputs"), "inputs", "input")
    parameters = _leaves(spec.get("parameters", {}), "parameters", "parameter", required=False)
    taken: dict[str, str] = {}
    for leaf in inputs + parameters:
        where = "inputs" if leaf.kind == "input" else "parameters"
        if leaf.name in taken:
            raise SpecError(f"{leaf.name!r} is already an {taken[leaf.name]}; each name may be used once",
                            f"{where}.{leaf.name}")
        taken[leaf.name] = leaf.kind
    split = _gates_option(spec.get("gates", "whole"))
    formulas = _mapping(spec.get("graph"), "graph", "a map from node names to formulas")
    if not formulas:
        raise SpecError("expected at least one node", "graph")
    builder = _Builder(taken, split, [str(name) for name in formulas])
    for raw_name, text in formulas.items():
        name = _leaf_name(raw_name, f"graph.{raw_name}")
        if name in taken:
            raise SpecError(f"{name!r} is already an {taken[name]}; each name may be used once", f"graph.{name}")
        builder.add(name, text)
        taken[name] = "node"
    output = spec.get("output", builder.last)
    if not isinstance(output, str) or builder.kinds.get(output) != "node":
        raise SpecError(f"expected the name of a node of graph, got {describe(output)}", "output")
    nodes, leaves = builder.nodes, inputs + parameters + builder.constants
    loss, targets, differentiated = None, (), output
    loss_name = spec.get("loss", "half_squared_error" if "targets" in spec else "none")
    if loss_name != "none":
        loss, targets = _loss(loss_name, spec.get("targets"), builder.kinds)
        target_leaves = tuple(Leaf(f"t:{node}", "target", value) for node, value in targets)
        differentiated = next(name for name in LOSS_NAMES if name not in taken)
        arity = len(targets)
        formula = loss.formula(list(ARGUMENTS[:arity]), list(ARGUMENTS[arity:2 * arity]))
        operation = Operation(loss.name, 2 * arity, _fixed(formula), _loss_shape, f"the loss: {loss.name}")
        nodes = nodes + (Node(differentiated, operation, tuple(node for node, _ in targets)
                              + tuple(leaf.name for leaf in target_leaves), group=MappingProxyType({"loss": True})),)
        leaves = leaves + target_leaves
    elif "targets" in spec:
        raise SpecError("targets need a loss to compare the output with; drop loss: none or the targets", "targets")
    training, learning_rate = read_training(spec)
    if training.online:
        raise SpecError("a graph has one example: training: online applies to networks with several", "training")
    for index, name in enumerate(training.frozen):
        if name not in {leaf.name for leaf in parameters}:
            raise SpecError(f"no parameter is named {name!r}; expected one of "
                            f"{', '.join(leaf.name for leaf in parameters)}", f"frozen[{index}]")
    if learning_rate is not None and not parameters:
        raise SpecError("a learning rate updates parameters; list them under parameters", "learning_rate")
    options = _mapping(spec.get("options", {}), "options", "a map of options")
    _known_keys(options, OPTIONS, "options")
    if options.get("input_gradients", True) is not True:
        raise SpecError("a graph always gives its inputs' gradients: expected true, or leave it out",
                        "options.input_gradients")
    precision = options.get("precision", 6)
    if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 30:
        raise SpecError(f"expected a whole number from 1 to 30, got {describe(precision)}", "options.precision")
    graph = Graph(leaves, nodes, differentiated)
    return Circuit(title, graph, tuple(leaf.name for leaf in inputs), tuple(leaf.name for leaf in parameters),
                   output, loss, targets, learning_rate, precision, split, training)


def _fixed(formula: sympy.Expr):
    return lambda *arguments: formula.xreplace(dict(zip(ARGUMENTS, arguments)))


def _loss_shape(typography, operation: Operation, arguments: list[str], constant: str) -> str:
    return typography.formula(operation.formula(), dict(zip(ARGUMENTS, arguments)))


def _leaf_name(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or not NAME.fullmatch(raw):
        raise SpecError(f"expected a name of ASCII letters and digits starting with a letter (like x or w0), "
                        f"got {describe(raw)}", path)
    if raw in RESERVED:
        raise SpecError(f"{raw!r} means something in formulas already; choose another name", path)
    return raw


def _leaves(raw: Any, path: str, kind: str, required: bool = True) -> tuple[Leaf, ...]:
    if raw is None and required:
        raise SpecError(f"missing; a graph needs its {path} as a map from names to numbers", path)
    values = _mapping(raw, path, "a map from names to numbers (like {x: -2, y: 5})")
    if required and not values:
        raise SpecError("expected at least one", path)
    return tuple(Leaf(_leaf_name(name, f"{path}.{name}"), kind, _number(value, f"{path}.{name}"))
                 for name, value in values.items())


def _gates_option(raw: Any) -> bool:
    if raw not in ("split", "whole"):
        raise SpecError(f"expected split (elementary gates) or whole (one gate per node), got {describe(raw)}",
                        "gates")
    return raw == "split"


def _loss(name: Any, raw: Any, kinds: dict[str, str]) -> tuple[Loss, tuple[tuple[str, sympy.Rational], ...]]:
    if not isinstance(name, str) or name not in LOSSES:
        raise SpecError(f"expected one of {', '.join(LOSSES)} or none, got {describe(name)}", "loss")
    if raw is None:
        raise SpecError("missing; a loss needs a target for the output (like targets: {f: 1})", "targets")
    targets = _mapping(raw, "targets", "a map from node names to numbers (like {f: 1})")
    if not targets:
        raise SpecError("expected at least one target", "targets")
    for node in targets:
        if kinds.get(node) != "node":
            raise SpecError(f"expected the name of a node of graph, got {describe(node)}", f"targets.{node}")
    return LOSSES[name], tuple((node, _number(value, f"targets.{node}")) for node, value in targets.items())


class _Builder:
    """Turns each node's formula into one node, or into elementary gates named in order."""

    def __init__(self, kinds: dict[str, str], split: bool, order: list[str]) -> None:
        self.kinds = dict(kinds)
        self.order = order
        self.split = split
        self.nodes: tuple[Node, ...] = ()
        self.constants: tuple[Leaf, ...] = ()
        self.last = ""
        self._gate_number = 0

    def add(self, name: str, text: Any) -> None:
        path = f"graph.{name}"
        if not isinstance(text, (str, int)) or isinstance(text, bool):
            raise SpecError(f"expected a formula such as \"(x + y) * z\", got {describe(text)}", path)
        symbols = {known: sympy.Symbol(f"v:{known}", real=True) for known in self.kinds}
        gates: list[Node] = []
        before = (dict(self.kinds), self.constants, self._gate_number)
        try:
            tree, source = parse_tree(str(text))
            if not any(isinstance(part, ast.Name) and part.id not in ("e", "pi") for part in ast.walk(tree)):
                raise SpecError(f"the formula {text!r} is constant; a node computes something from its inputs",
                                path)
            result = _Splitter(self, source, gates, name, symbols).value(tree)
            expr = graph_expression(tree, source, symbols) if not self.split and len(gates) > 1 else None
        except FormulaError as error:
            later = re.match(r"unknown name '(\w+)'", str(error))
            if later and later[1] in self.order[self.order.index(name):]:
                raise SpecError(f"uses {later[1]}, which is not computed before {name}: a node may use only the "
                                "inputs, the parameters and the nodes above it (a graph has no cycles)", path) from None
            raise SpecError(str(error), path) from None
        except RecursionError:
            raise SpecError("formula is nested too deeply", path) from None
        if isinstance(result, str) and not gates:
            raise SpecError(f"the formula only names {result}; a node computes something from its inputs", path)
        if not self.split and len(gates) > 1:
            # NOTE: one node for the whole formula; the gates were only needed to tell it is not elementary.
            self.kinds, self.constants, self._gate_number = before
            inputs = tuple(dict.fromkeys(part.id for part in ast.walk(tree)
                                         if isinstance(part, ast.Name) and part.id in symbols))
            formula = expr.xreplace({symbols[known]: argument for known, argument in zip(inputs, ARGUMENTS)})
            gates = [Node(name, formula_operation(formula, len(inputs)), inputs,
                          group=MappingProxyType({"formula": name}))]
        self.nodes += tuple(gates)
        self.kinds[name] = "node"
        self.last = name

    def gate_name(self, final: bool, name: str) -> str:
        """The next gate's name: the node's own for its last gate, else g1, g2, … (skipping names in use)."""
        if final:
            return name
        while True:
            self._gate_number += 1
            candidate = f"g{self._gate_number}"
            if candidate not in self.kinds:
                self.kinds[candidate] = "node"
                return candidate

    def constant(self, value: sympy.Expr) -> str:
        """A leaf holding a constant of a formula (a gate input that is a number)."""
        leaf = Leaf(f"{CONSTANT_MARK}{len(self.constants) + 1}", "constant", value)
        self.constants += (leaf,)
        return leaf.name


class _Splitter:
    """Walks one checked formula's syntax tree in evaluation order, making a gate for each operation."""

    def __init__(self, builder: _Builder, source: str, gates: list[Node], name: str,
                 symbols: dict[str, sympy.Symbol]) -> None:
        self.builder, self.source, self.gates, self.name, self.symbols = builder, source, gates, name, symbols

    def value(self, tree: ast.expr, final: bool = True) -> str | sympy.Expr:
        """The name of the node holding ``tree``'s value, or the number it is when it uses no name."""
        if not any(isinstance(part, ast.Name) and part.id not in ("e", "pi") for part in ast.walk(tree)):
            return constant_value(tree, self.source)
        if isinstance(tree, ast.Name):
            graph_expression(tree, self.source, self.symbols)  # NOTE: a name not known here is refused by it
            return tree.id
        check_operation(tree, self.source)
        if isinstance(tree, ast.UnaryOp):
            operand = self.value(tree.operand, final and isinstance(tree.op, ast.UAdd))
            return operand if isinstance(tree.op, ast.UAdd) else self.gate("negate", [operand], final)
        if isinstance(tree, ast.BinOp):
            return self.binary(tree, self.value(tree.left, False), self.value(tree.right, False), final)
        function = tree.func.id  # a Call: the whitelist let nothing else through
        arguments = [self.value(argument, False) for argument in tree.args]
        return self.gate(function, arguments, final)

    def binary(self, tree: ast.BinOp, left, right, final: bool) -> str:
        op = type(tree.op)
        numbers = (not isinstance(left, str), not isinstance(right, str))
        if op is ast.Add and any(numbers):
            name, constant = (right, left) if numbers[0] else (left, right)
            return self.gate("add_constant", [name], final, constant)
        if op is ast.Sub and numbers[1]:
            return self.gate("add_constant", [left], final, -right)
        if op is ast.Mult and any(numbers):
            name, constant = (right, left) if numbers[0] else (left, right)
            return self.gate("scale", [name], final, constant)
        if op is ast.Div and numbers[1]:
            if right == 0:
                raise FormulaError(f"division by zero in {self._quote(tree)}")
            return self.gate("scale", [left], final, 1 / right)
        if op is ast.Div and numbers[0] and left == 1:
            return self.gate("reciprocal", [right], final)
        if op is ast.Pow and numbers[1]:
            if abs(right) > MAX_EXPONENT:
                raise FormulaError(f"exponent in {self._quote(tree)} is too large: numbers in exponents must be "
                                   f"within ±{MAX_EXPONENT}")
            return self.gate("power", [left], final, right)
        if op is ast.Pow and numbers[0] and left == sympy.E:
            return self.gate("exp", [right], final)
        kind = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide", ast.Pow: "pow"}[op]
        return self.gate(kind, [left, right], final)

    def _quote(self, tree: ast.AST) -> str:
        return f"`{ast.get_source_segment(self.source, tree)}`"

    def gate(self, kind: str, inputs: list, final: bool, constant: sympy.Expr | None = None) -> str:
        names = tuple(item if isinstance(item, str) else self.builder.constant(item) for item in inputs)
        name = self.builder.gate_name(final, self.name)
        group = MappingProxyType({"formula": self.name, "gate": len(self.gates) + 1})
        self.gates.append(Node(name, OPERATIONS[kind], names, constant, group))
        return name
