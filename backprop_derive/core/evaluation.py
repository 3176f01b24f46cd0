"""Evaluation: the value of every quantity, each step computed from its own formula and inputs."""

from __future__ import annotations

from functools import singledispatch

import sympy

from .derivation import SLOPE_VARIABLES, Derivation
from .network import Network, Parameter
from .numbers import dot, settle
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

Values = dict[Quantity, sympy.Expr]


def evaluate(derivation: Derivation, parameters: dict[Parameter, sympy.Expr], state: Values | None = None) -> Values:
    """Every quantity's value for one training step.

    Args:
        derivation: The steps, from ``derive``.
        parameters: Each parameter's value at the start of this step.
        state: The optimizer's state at the start of this step (core.update.Carried.state).

    Returns:
        A map from each quantity (inputs, targets and parameters included) to its value:
        exact where every step kept it rational, a Float of numbers.DIGITS digits otherwise.
    """
    network = derivation.network
    values: Values = _given(network, parameters)
    values.update(state or {})
    for step in derivation.steps():
        values[step.result] = settle(compute(step, values))
    return values


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
    terms = [(values[source], values[weight]) for source, weight in step.terms]
    return dot(terms + [(values[step.bias], None)] if step.bias else terms)


@compute.register
def _(step: Activate, values: Values) -> sympy.Expr:
    return step.activation.value(values[step.argument])


@compute.register
def _(step: SoftmaxActivate, values: Values) -> sympy.Expr:
    exponentials = [settle(sympy.exp(values[argument])) for argument in step.arguments]
    return exponentials[step.index] / sympy.Add(*exponentials)


def _in_symbols(formula: sympy.Expr, quantities, values: Values) -> sympy.Expr:
    return formula.xreplace({quantity.symbol: values[quantity] for quantity in quantities})


@compute.register
def _(step: LossValue, values: Values) -> sympy.Expr:
    return _in_symbols(step.formula, step.outputs + step.targets, values)


@compute.register
def _(step: CostValue, values: Values) -> sympy.Expr:
    return step.scale * dot((values[loss], None) for loss in step.losses)


@compute.register
def _(step: OutputSlope, values: Values) -> sympy.Expr:
    return _in_symbols(step.formula, step.loss_step.outputs + step.loss_step.targets, values)


@compute.register
def _(step: BackSum, values: Values) -> sympy.Expr:
    terms = [(values[delta], values[weight]) for delta, weight in step.terms]
    return dot(terms + [(values[step.direct], None)] if step.direct else terms)


@compute.register
def _(step: Slope, values: Values) -> sympy.Expr:
    value = values[step.variable]
    return step.formula.xreplace({variable: value for variable in SLOPE_VARIABLES})


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
    return dot((values[dout], values[jacobian]) for dout, jacobian in step.terms)


@compute.register
def _(step: Gradient, values: Values) -> sympy.Expr:
    total = dot((values[delta], values[source] if source else None) for delta, source in step.terms)
    return total if step.scale == 1 else step.scale * total


@compute.register
def _(step: Update, values: Values) -> sympy.Expr:
    if not step.trainable:
        return values[step.old]
    return dot(((values[step.old], None), (-values[step.rate], values[step.gradient])))
