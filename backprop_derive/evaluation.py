"""Evaluation: the value of every quantity, each step computed from its own formula and inputs."""

from __future__ import annotations

from functools import singledispatch

import sympy

from .errors import SpecError
from .derivation import SLOPE_VARIABLES, Derivation
from .network import Network, Parameter
from .formula import X
from .numbers import ValueSizeError, settle, value_at
from .steps import (Activate, BackSum, CostValue, Delta, Gradient, Jacobian, LossValue, OutputSlope, Quantity,
                    Slope, SoftmaxActivate, SoftmaxDelta, Update, WeightedSum)

Values = dict[Quantity, sympy.Expr]


def evaluate(derivation: Derivation, parameters: dict[Parameter, sympy.Expr]) -> Values:
    """Every quantity's value for one training step.

    Args:
        derivation: The steps, from ``derive``.
        parameters: Each parameter's value at the start of this step.

    Returns:
        A map from each quantity (inputs, targets and parameters included) to its value:
        exact where every step kept it rational, a Float of numbers.DIGITS digits otherwise.
    """
    network = derivation.network
    values: Values = _given(network, parameters)
    for step in derivation.steps():
        try:
            values[step.result] = settle(compute(step, values))
        except ValueSizeError as error:
            raise SpecError(f"{_described(step.result, network)}: a number in it is {error} in size, beyond what a "
                            f"worked solution can carry", _field(step.result, network)) from None
        except ArithmeticError as error:
            raise SpecError(f"the exercise has no finite solution: {error}, in {_described(step.result, network)}",
                            _field(step.result, network)) from None
    return values


#: What each kind of computed quantity is, in words, for a message naming the one that failed.
_KINDS = {"pre": "the weighted sum", "out": "the output", "loss": "the loss", "cost": "the cost",
          "dout": "∂L/∂y", "dloss": "∂L/∂y", "slope": "the activation's derivative", "jacobian": "softmax's derivative",
          "delta": "δ", "grad": "the gradient", "new": "the updated value"}


def _described(quantity: Quantity, network: Network) -> str:
    """A computed quantity in words: ``the output of neuron 3`` (``, example 2`` in a batch)."""
    words = _KINDS.get(quantity.kind, quantity.kind)
    if quantity.node is not None:
        words += f" of unit {quantity.node.unit}" if network.form == "dense" else f" of neuron {quantity.node.name}"
    if quantity.example is not None and network.batched:
        words += f", example {quantity.example + 1}"
    return words


def _field(quantity: Quantity, network: Network) -> str:
    """The spec's field a computed quantity belongs to: its neuron, layer or parameter, else the loss."""
    if quantity.parameter is not None:
        head, *rest = quantity.parameter.location
        return str(head) + "".join(f".{part}" if isinstance(part, str) else f"[{part}]" for part in rest)
    if quantity.node is not None:
        return f"layers[{quantity.node.layer - 1}]" if network.form == "dense" else f"neurons.{quantity.node.name}"
    return "loss"


def _given(network: Network, parameters: dict[Parameter, sympy.Expr]) -> Values:
    values: Values = {Quantity("param", parameter=p): parameters[p] for p in network.parameters}
    if network.learning_rate is not None:
        values[Quantity("rate")] = network.learning_rate
    for index, example in enumerate(network.examples):
        values.update({Quantity("input", node, index): value for node, value in example.inputs.items()})
        values.update({Quantity("target", node, index): value for node, value in example.targets.items()})
    return values


@singledispatch
def compute(step, values: Values) -> sympy.Expr:
    """The value of ``step``'s result from the values of its inputs."""
    raise TypeError(f"no rule to compute {type(step).__name__}")


@compute.register
def _(step: WeightedSum, values: Values) -> sympy.Expr:
    total = sympy.Add(*(values[source] * values[weight] for source, weight in step.terms))
    return total + values[step.bias] if step.bias else total


@compute.register
def _(step: Activate, values: Values) -> sympy.Expr:
    return value_at(step.activation.formula, {X: values[step.argument]})


@compute.register
def _(step: SoftmaxActivate, values: Values) -> sympy.Expr:
    exponentials = [value_at(sympy.exp(X), {X: values[argument]}) for argument in step.arguments]
    return exponentials[step.index] / sympy.Add(*exponentials)


def _in_symbols(formula: sympy.Expr, quantities, values: Values) -> sympy.Expr:
    return value_at(formula, {quantity.symbol: values[quantity] for quantity in quantities})


@compute.register
def _(step: LossValue, values: Values) -> sympy.Expr:
    return _in_symbols(step.formula, step.outputs + step.targets, values)


@compute.register
def _(step: CostValue, values: Values) -> sympy.Expr:
    return step.scale * sympy.Add(*(values[loss] for loss in step.losses))


@compute.register
def _(step: OutputSlope, values: Values) -> sympy.Expr:
    return _in_symbols(step.formula, step.loss_step.outputs + step.loss_step.targets, values)


@compute.register
def _(step: BackSum, values: Values) -> sympy.Expr:
    paths = sympy.Add(*(values[delta] * values[weight] for delta, weight in step.terms))
    return paths + values[step.direct] if step.direct else paths


@compute.register
def _(step: Slope, values: Values) -> sympy.Expr:
    value = values[step.variable]
    return value_at(step.formula, {variable: value for variable in SLOPE_VARIABLES})


@compute.register
def _(step: Delta, values: Values) -> sympy.Expr:
    return values[step.dout] * values[step.slope]


@compute.register
def _(step: Jacobian, values: Values) -> sympy.Expr:
    if step.diagonal:
        return values[step.output] * (1 - values[step.output])
    return -values[step.output] * values[step.other]


@compute.register
def _(step: SoftmaxDelta, values: Values) -> sympy.Expr:
    return sympy.Add(*(values[dout] * values[jacobian] for dout, jacobian in step.terms))


@compute.register
def _(step: Gradient, values: Values) -> sympy.Expr:
    total = sympy.Add(*(values[delta] * (values[source] if source else 1) for delta, source in step.terms))
    return step.scale * total


@compute.register
def _(step: Update, values: Values) -> sympy.Expr:
    if not step.trainable:
        return values[step.old]
    return values[step.old] - values[step.rate] * values[step.gradient]
