"""Evaluation: the value of every quantity, each step computed from its own formula and inputs."""

from __future__ import annotations

import sympy

from .compute import compute
from .derivation import Derivation
from .formula import X
from .network import Network, Parameter
from .numbers import NoFiniteValue, Rounding, dot, settle, substitute, total
from .steps import (
    SLOPE_VARIABLES,
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
    bias_sign,
)

Values = dict[Quantity, sympy.Expr]

#: The steps that ``options.rounding``'s ``backward`` rounds: the backward pass and the gradients.
BACKWARD_STEPS = (OutputSlope, BackSum, Slope, Delta, Jacobian, SoftmaxDelta, Gradient)


def evaluate(derivation: Derivation, parameters: dict[Parameter, sympy.Expr], state: Values | None = None,
             rounded: bool = True) -> Values:
    """Every quantity's value for one training step.

    Args:
        derivation: The steps, from ``derive``.
        parameters: Each parameter's value at the start of this step.
        state: The optimizer's state at the start of this step (core.update.Carried.state).
        rounded: With ``options.rounding``, round each step's result and carry it rounded (False:
            the unrounded values, for JSON ``exact``).

    Returns:
        A map from each quantity (inputs, targets and parameters included) to its value:
        exact where every step kept it rational, a Float of numbers.DIGITS digits otherwise.

    Raises:
        NoFiniteValue: a step has no finite real value, with the spec field it comes from and the step in words.
    """
    network = derivation.network
    values: Values = _given(network, parameters)
    values.update(state or {})
    rounding = network.options.rounding if rounded else None
    for step in derivation.steps():
        try:
            value = settle(compute(step, values))
        except NoFiniteValue as error:
            note = network.loss.domain if isinstance(step, _LOSS_STEPS) else ""
            raise error.at(*_where(step, network), note) from None
        values[step.result] = rounding_of(step, rounding)(value) if rounding else value
    return values


def rounding_of(step, rounding: Rounding) -> Rounding:
    """The rounding ``options.rounding`` applies to ``step``'s result: its ``backward`` one for the backward pass."""
    return rounding.backward if isinstance(step, BACKWARD_STEPS) and rounding.backward else rounding


def _given(network: Network, parameters: dict[Parameter, sympy.Expr]) -> Values:
    values: Values = {Quantity("param", parameter=p): parameters[p] for p in network.parameters}
    if network.learning_rate is not None:
        values[Quantity("rate")] = network.learning_rate
    for index, example in enumerate(network.examples):
        values.update({Quantity("input", node, index): value for node, value in example.inputs.items()})
        values.update({Quantity("target", node, index): value for node, value in example.targets.items()})
    return values


#: Each step in a student's words, for a message on a value it cannot compute.
_STEP_WORDS = {WeightedSum: "the weighted sum", Activate: "the activation", SoftmaxActivate: "the softmax",
               LossValue: "the loss", CostValue: "the cost", OutputSlope: "the loss's derivative",
               BackSum: "the sum over the paths", Slope: "the activation's derivative",
               Jacobian: "the softmax's derivative", SoftmaxDelta: "δ", Delta: "δ", Gradient: "the gradient",
               Update: "the update"}
#: Steps whose trouble lies in the activation's formula or in the loss's, rather than in a neuron's numbers.
_ACTIVATION_STEPS = (Activate, SoftmaxActivate, Slope, Jacobian)
_LOSS_STEPS = (LossValue, CostValue, OutputSlope)


def _where(step, network: Network) -> tuple[str, str]:
    """The spec field a step's value comes from, and the step in words (``the activation at unit 2``)."""
    quantity: Quantity = step.result
    words = _STEP_WORDS.get(type(step), "a step")
    example = f" of example {quantity.example + 1}" if network.batched and quantity.example is not None else ""
    if isinstance(step, _LOSS_STEPS):
        return "loss", words + example
    if quantity.parameter is not None:
        parameter = quantity.parameter
        return _location_path(parameter.location), f"{words} of {parameter.kind} {_location_path(parameter.location)}"
    node = quantity.node
    if node is None:
        return "", words + example
    if network.form == "dense":
        field, unit = f"layers[{node.layer - 1}]", f"unit {node.unit}"
    else:
        field, unit = f"neurons.{node.name}", f"neuron {node.name}"
    if isinstance(step, _ACTIVATION_STEPS):
        field += ".activation"
    return field, f"{words} at {unit}{example}"


def _location_path(location: tuple) -> str:
    """``("layers", 0, "weights", 1, 0)`` as a field path: ``layers[0].weights[1][0]``."""
    path = ""
    for key in location:
        path += f"[{key}]" if isinstance(key, int) else (f".{key}" if path else str(key))
    return path


@compute.register
def _(step: WeightedSum, values: Values) -> sympy.Expr:
    terms = [(values[source], values[weight]) for source, weight in step.terms]
    if step.bias:
        # NOTE: a threshold is a weight on a constant −1 input.
        terms.append((values[step.bias], None if bias_sign(step.bias) > 0 else sympy.Integer(-1)))
    return dot(terms)


@compute.register
def _(step: Activate, values: Values) -> sympy.Expr:
    return step.activation.value(values[step.argument])


@compute.register
def _(step: SoftmaxActivate, values: Values) -> sympy.Expr:
    # NOTE: 1 / Σ_k e^{z_k − z_j}: the same value, and e^{1e100} only where the unit's own output is
    # that small, so a softmax of huge logits fails (if at all) at the unit that cannot be carried.
    own = values[step.arguments[step.index]]
    return 1 / total(sympy.exp(values[argument] - own) for argument in step.arguments)


def _in_symbols(formula: sympy.Expr, quantities, values: Values) -> sympy.Expr:
    return substitute(formula, {quantity.symbol: values[quantity] for quantity in quantities})


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
    paths = dot(terms + [(values[step.direct], None)] if step.direct else terms)
    return paths if step.sign > 0 else -paths


@compute.register
def _(step: Slope, values: Values) -> sympy.Expr:
    value = values[step.variable]
    slope = substitute(step.formula, {variable: value for variable in SLOPE_VARIABLES})
    if slope == 0 and value.is_Float and step.variable.kind == "out":
        # NOTE: near saturation a carried y = f(x) is its limit to all DIGITS digits (tanh 120 = 1 − 2e-104),
        # so f′ written in y (1 − y², y(1 − y)) cancels to 0 though f′(x) is not 0: take it at x then.
        pre = values.get(Quantity("pre", step.variable.node, step.variable.example))
        if pre is not None:
            return substitute(step.activation.derivative, {X: pre})
    return slope


@compute.register
def _(step: Delta, values: Values) -> sympy.Expr:
    return values[step.dout] * values[step.slope]


@compute.register
def _(step: Jacobian, values: Values) -> sympy.Expr:
    if step.diagonal:
        return values[step.output] * total([sympy.Integer(1), -values[step.output]])
    return -values[step.output] * values[step.other]


@compute.register
def _(step: SoftmaxDelta, values: Values) -> sympy.Expr:
    return dot((values[dout], values[jacobian]) for dout, jacobian in step.terms)


@compute.register
def _(step: Gradient, values: Values) -> sympy.Expr:
    summed = dot((values[delta], values[source] if source else None) for delta, source in step.terms)
    scale = step.sign * step.scale
    return summed if scale is sympy.S.One else scale * summed


@compute.register
def _(step: Update, values: Values) -> sympy.Expr:
    if not step.trainable:
        return values[step.old]
    if step.chain:
        # NOTE: the book's w + η δ x, from the error terms themselves rather than the rounded gradient.
        return dot(((values[step.old], None), (-values[step.rate], compute(step.chain, values))))
    return dot(((values[step.old], None), (-values[step.rate], values[step.gradient])))
