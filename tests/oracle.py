"""An independent oracle: a raw spec's cost J in mpmath, and its gradients by central differences.

Nothing here imports backprop_derive: the oracle reads the spec dict itself, runs its own
forward pass at 80 digits, and differentiates numerically, so it shares no code (and no bug)
with the derivation it checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath

# NOTE: 80 digits rather than 60: where a log-loss amplifies the round-off of 1 − o (by up to
# 1e12, see `saturation`), the central difference still keeps ~30 digits.
DIGITS = 80
#: The central-difference step: its truncation error (~STEP²) and round-off (~10^-DIGITS / STEP)
#: both stay far below the tolerance the tests use.
STEP = Fraction(1, 10**25)

#: The custom formulas the random specs may use, each with its own mpmath implementation.
CUSTOM: dict[str, Callable[[Any], Any]] = {
    "x**3/3": lambda x: x**3 / 3,
    "x*tanh(x)": lambda x: x * mpmath.tanh(x),
    "x/(1 + abs(x))": lambda x: x / (1 + abs(x)),
    "sin(x) + x/2": lambda x: mpmath.sin(x) + x / 2,
    "exp(-x**2)": lambda x: mpmath.exp(-x**2),
    "sqrt(1 + x**2) - 1": lambda x: mpmath.sqrt(1 + x**2) - 1,
    "log(1 + x**2)": lambda x: mpmath.log(1 + x**2),
}

#: Activations with a kink at 0, where a central difference is not a derivative.
KINKED = {"relu", "leaky_relu", "elu"}


def number(raw: Any) -> Fraction:
    """A spec number (int, Decimal, float, or a string such as "1/3") as an exact fraction."""
    return Fraction(str(raw))


def mp(value: Fraction) -> mpmath.mpf:
    """An exact fraction as an mpmath number at the current precision."""
    return mpmath.mpf(value.numerator) / value.denominator


@dataclass
class Unit:
    """One neuron: what it reads (source, location of the weight) and its activation."""

    name: Any
    activation: str
    alpha: Fraction | None
    formula: str | None
    incoming: list[tuple[Any, tuple]]
    bias: tuple | None
    group: list[Any] = field(default_factory=list)  # a softmax layer's units, this one included
    bias_sign: int = 1  # −1 for a threshold θ, a weight on a constant −1 input


@dataclass
class Model:
    """A spec read by the oracle: units in an order that feeds forward, parameters by location."""

    units: list[Unit]
    parameters: dict[tuple, Fraction]
    examples: list[tuple[dict, dict]]  # (input name -> value, output name -> target)
    outputs: list[Any]
    loss: str
    reduction: str
    learning_rate: Fraction | None
    update_biases: bool


def read(spec: dict) -> Model:
    """The oracle's own reading of a valid spec dict (dense layers or named neurons)."""
    options = spec.get("options", {})
    common = dict(
        loss=spec.get("loss", "half_squared_error"),
        reduction=options.get("reduction", "mean"),
        learning_rate=number(spec["learning_rate"]) if spec.get("learning_rate") is not None else None,
        update_biases=options.get("update_biases", True),
    )
    if "layers" in spec:
        return _read_dense(spec, common)
    return _read_named(spec, common)


def _activation(raw: Any) -> tuple[str, Fraction | None, str | None]:
    if isinstance(raw, str):
        return raw, None, None
    if "expr" in raw:
        return "custom", None, raw["expr"]
    return raw["name"], number(raw["alpha"]) if "alpha" in raw else None, None


def _targets(spec: dict, examples: int, outputs: int) -> list[list]:
    """The target rows: as written, one-hot from ``target_classes``, or none for ``loss: none``."""
    if "target_classes" in spec:
        return [[int(unit == label) for unit in range(outputs)] for label in spec["target_classes"]]
    if "targets" not in spec:
        return [[] for _ in range(examples)]
    return spec["targets"] if isinstance(spec["targets"], list) and (
        isinstance(spec["targets"][0], (list, dict))) else [spec["targets"]]


def _read_dense(spec: dict, common: dict) -> Model:
    rows = spec["inputs"] if isinstance(spec["inputs"][0], list) else [spec["inputs"]]
    by_input = spec.get("weights_layout") == "input_by_unit"
    previous = [("input", i) for i in range(len(rows[0]))]
    units, parameters = [], {}
    for depth, layer in enumerate(spec["layers"]):
        name, alpha, formula = _activation(layer["activation"])
        # NOTE: x·W (input_by_unit) is read back to one row per unit, each weight keeping its own place.
        matrix = layer["weights"]
        by_unit = [list(column) for column in zip(*matrix)] if by_input else matrix
        names = [("unit", depth, j) for j in range(len(by_unit))]
        biases = layer.get("biases")
        for j, row in enumerate(by_unit):
            incoming = []
            for i, weight in enumerate(row):
                location = ("layers", depth, "weights", i, j) if by_input else ("layers", depth, "weights", j, i)
                parameters[location] = number(weight)
                incoming.append((previous[i], location))
            bias = None
            if isinstance(biases, list):
                bias = ("layers", depth, "biases", j)
                parameters[bias] = number(biases[j])
            elif biases is not None:
                bias = ("layers", depth, "biases")
                parameters[bias] = number(biases)
            units.append(Unit(names[j], name, alpha, formula, incoming, bias, names if name == "softmax" else []))
        previous = names
    targets = _targets(spec, len(rows), len(previous))
    examples = [({("input", i): number(v) for i, v in enumerate(row)},
                 {previous[k]: number(t) for k, t in enumerate(target)})
                for row, target in zip(rows, targets)]
    return Model(units, parameters, examples, previous, **common)


def _read_named(spec: dict, common: dict) -> Model:
    rows = spec["inputs"] if isinstance(spec["inputs"], list) else [spec["inputs"]]
    neurons = {str(name): neuron for name, neuron in spec["neurons"].items()}
    fed = {str(source) for neuron in neurons.values() for source in neuron["in"]}
    sinks = [name for name in neurons if name not in fed]
    if "targets" in spec:
        targets = spec["targets"] if isinstance(spec["targets"], list) else [spec["targets"]]
    else:
        targets = [dict(zip(sinks, row)) if row else dict.fromkeys(sinks) for row in _targets(spec, len(rows),
                                                                                              len(sinks))]
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name not in neurons:
            return
        for source in neurons[name]["in"]:
            visit(str(source))
        order.append(name)

    for name in neurons:
        visit(name)
    units, parameters = [], {}
    for name in order:
        neuron = neurons[name]
        activation, alpha, formula = _activation(neuron["activation"])
        incoming = []
        for source, weight in neuron["in"].items():
            parameters[("neurons", name, "in", str(source))] = number(weight)
            incoming.append((str(source), ("neurons", name, "in", str(source))))
        bias, sign = None, 1
        for kind in ("bias", "threshold"):
            if neuron.get(kind) is not None:
                bias, sign = ("neurons", name, kind), (1 if kind == "bias" else -1)
                parameters[bias] = number(neuron[kind])
        units.append(Unit(name, activation, alpha, formula, incoming, bias, bias_sign=sign))
    examples = [({str(k): number(v) for k, v in row.items()},
                 {str(k): number(v) for k, v in target.items() if v is not None})
                for row, target in zip(rows, targets)]
    return Model(units, parameters, examples, [str(name) for name in targets[0]], **common)


# --- the forward pass --------------------------------------------------------------------


def _alpha(unit: Unit, default: str) -> mpmath.mpf:
    return mp(unit.alpha) if unit.alpha is not None else mpmath.mpf(default)


#: The oracle's own implementation of every activation the package's table names (softmax is
#: applied to a whole layer in the forward pass). tests/test_gradients_oracle.py checks that this
#: table covers the package's, so a new activation is tested from the day it is added.
ACTIVATIONS: dict[str, Callable[[Unit, Any], Any]] = {
    "identity": lambda unit, x: x,
    "sigmoid": lambda unit, x: 1 / (1 + mpmath.exp(-x)),
    "tanh": lambda unit, x: mpmath.tanh(x),
    "relu": lambda unit, x: x if x > 0 else mpmath.mpf(0),
    "leaky_relu": lambda unit, x: x if x >= 0 else _alpha(unit, "0.01") * x,
    "elu": lambda unit, x: x if x >= 0 else _alpha(unit, "1") * (mpmath.exp(x) - 1),
    "softplus": lambda unit, x: mpmath.log(1 + mpmath.exp(x)),
    "softmax": None,
    "custom": lambda unit, x: CUSTOM[unit.formula](x),
}
#: Other names a spec may use for an activation.
ALIASES = {"linear": "identity"}


def _apply(unit: Unit, x: mpmath.mpf) -> mpmath.mpf:
    rule = ACTIVATIONS.get(ALIASES.get(unit.activation, unit.activation))
    if rule is None:
        raise ValueError(f"the oracle does not know {unit.activation}")
    return rule(unit, x)


#: The oracle's own implementation of every loss the package's table names (o: outputs, t: targets).
LOSSES: dict[str, Callable[[list, list], Any]] = {
    "half_squared_error": lambda o, t: sum((ok - tk) ** 2 for ok, tk in zip(o, t)) / 2,
    "squared_error": lambda o, t: sum((ok - tk) ** 2 for ok, tk in zip(o, t)),
    "mse": lambda o, t: sum((ok - tk) ** 2 for ok, tk in zip(o, t)) / len(o),
    "binary_cross_entropy": lambda o, t: -sum(tk * mpmath.log(ok) + (1 - tk) * mpmath.log(1 - ok)
                                              for ok, tk in zip(o, t)),
    "cross_entropy": lambda o, t: -sum(tk * mpmath.log(ok) for ok, tk in zip(o, t)),
    "none": lambda o, t: o[0],  # no targets: the single output itself
}


def _loss(name: str, outputs: list, targets: list) -> mpmath.mpf:
    if name not in LOSSES:
        raise ValueError(f"the oracle does not know {name}")
    return LOSSES[name](outputs, targets)


@dataclass
class Forward:
    """One forward pass: every node's value per example, each example's loss, and the cost J."""

    pre: list[dict]
    out: list[dict]
    losses: list[mpmath.mpf]
    cost: mpmath.mpf


def forward(model: Model, parameters: dict[tuple, Fraction] | None = None) -> Forward:
    """The forward pass at DIGITS digits, with ``parameters`` in place of the spec's if given."""
    with mpmath.workdps(DIGITS):
        return _forward(model, {location: mp(value) for location, value in (parameters or model.parameters).items()})


def _forward(model: Model, theta: dict[tuple, mpmath.mpf]) -> Forward:
    all_pre, all_out, losses = [], [], []
    for inputs, targets in model.examples:
        out = {name: mp(value) for name, value in inputs.items()}
        pre = {}
        for unit in model.units:
            z = mpmath.fdot((out[source], theta[location]) for source, location in unit.incoming)
            pre[unit.name] = z + unit.bias_sign * theta[unit.bias] if unit.bias else z
            if unit.activation != "softmax":
                out[unit.name] = _apply(unit, pre[unit.name])
            elif unit.name == unit.group[-1]:
                exponentials = [mpmath.exp(pre[member]) for member in unit.group]
                for member, exponential in zip(unit.group, exponentials):
                    out[member] = exponential / mpmath.fsum(exponentials)
        all_pre.append(pre)
        all_out.append(out)
        losses.append(_loss(model.loss, [out[name] for name in model.outputs],
                            [mp(targets[name]) for name in model.outputs if name in targets]))
    cost = mpmath.fsum(losses) / (len(losses) if model.reduction == "mean" else 1)
    return Forward(all_pre, all_out, losses, cost)


def kink_distance(model: Model) -> mpmath.mpf:
    """How close any kinked activation's pre-activation comes to its kink at 0 (inf if none)."""
    result = forward(model)
    distances = [abs(pre[unit.name]) for pre in result.pre for unit in model.units if unit.activation in KINKED]
    return min(distances, default=mpmath.inf)


def saturation(model: Model) -> mpmath.mpf:
    """How close a log-loss comes to log 0: the least o (and 1 − o for binary cross-entropy) over outputs."""
    if model.loss not in ("binary_cross_entropy", "cross_entropy"):
        return mpmath.inf
    result = forward(model)
    with mpmath.workdps(DIGITS):
        outputs = [out[name] for out in result.out for name in model.outputs]
        if model.loss == "binary_cross_entropy":
            outputs += [1 - output for output in outputs]
        return min(outputs)


def gradients(model: Model) -> dict[tuple, mpmath.mpf]:
    """∂J/∂θ for every parameter by central differences: (J(θ + h) − J(θ − h)) / 2h."""
    with mpmath.workdps(DIGITS):
        theta = {location: mp(value) for location, value in model.parameters.items()}
        step = mp(STEP)
        result = {}
        for location, value in theta.items():
            up = _forward(model, {**theta, location: value + step}).cost
            down = _forward(model, {**theta, location: value - step}).cost
            result[location] = (up - down) / (2 * step)
        return result


def input_gradients(model: Model) -> list[dict[Any, mpmath.mpf]]:
    """∂L/∂x of each example's loss for each of its inputs, by central differences."""
    with mpmath.workdps(DIGITS):
        theta = {location: mp(value) for location, value in model.parameters.items()}
        step = STEP
        result = []
        for inputs, targets in model.examples:
            gradients = {}
            for name, value in inputs.items():
                def loss(shift: Fraction) -> mpmath.mpf:
                    one = Model(model.units, model.parameters, [({**inputs, name: value + shift}, targets)],
                                model.outputs, model.loss, model.reduction, model.learning_rate, model.update_biases)
                    return _forward(one, theta).losses[0]
                gradients[name] = (loss(step) - loss(-step)) / (2 * mp(step))
            result.append(gradients)
        return result


def updated(model: Model, gradient: dict[tuple, mpmath.mpf]) -> dict[tuple, mpmath.mpf]:
    """θ − η·g for every parameter; a bias stays as it is when biases are fixed."""
    with mpmath.workdps(DIGITS):
        return {location: mp(value) if is_fixed(model, location) else
                mp(value) - mp(model.learning_rate) * gradient[location]
                for location, value in model.parameters.items()}


def is_fixed(model: Model, location: tuple) -> bool:
    is_bias = location[-1] in ("bias", "threshold") or (location[0] == "layers" and location[2] == "biases")
    return is_bias and not model.update_biases
