"""An independent oracle for layered specs with batch norm and dropout: a direct mpmath forward pass over
the raw spec dict, and every gradient by central differences.

Nothing here imports backprop_derive. Batch norm is PyTorch's in training mode, written as plain loops:
per unit over the batch, μ = Σx/m, σ² = Σ(x − μ)²/m (biased), x̂ = (x − μ)/√(σ² + ε), y = γx̂ + β.
Dropout is inverted dropout with the given mask: y = mask·x/(1 − p). Dense layers, activations and losses
are tests/oracle.py's own implementations (which share no code with the package either).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
from oracle import DIGITS, KINKED, STEP, Unit, _activation, _apply, _loss, mp, number

#: PyTorch's default ε of BatchNorm1d.
EPSILON = Fraction(1, 10**5)
#: PyTorch's default p of Dropout.
P = Fraction(1, 2)

Location = tuple  # ("layers", 2, "gamma", 0), ("layers", 0, "weights", j, i), ("inputs", n, i)


@dataclass
class Exercise:
    """A layered spec as the oracle reads it."""

    layers: list[dict]
    rows: list[list[Fraction]]
    targets: list[list[Fraction]]
    loss: str
    reduction: str
    learning_rate: Fraction | None
    parameters: dict[Location, Fraction]


def read(spec: dict) -> Exercise:
    """The oracle's own reading of a valid layered spec with dense, batchnorm and dropout layers."""
    rows = spec["inputs"] if isinstance(spec["inputs"][0], list) else [spec["inputs"]]
    rows = [[number(value) for value in row] for row in rows]
    targets = spec.get("targets")
    if "target_classes" in spec:
        width = _width(spec["layers"], len(rows[0]))
        targets = [[int(unit == label) for unit in range(width)] for label in spec["target_classes"]]
    elif targets is not None and not isinstance(targets[0], list):
        targets = [targets]
    targets = [[number(value) for value in row] for row in targets] if targets else [[] for _ in rows]
    options = spec.get("options", {})
    rate = spec.get("learning_rate")
    return Exercise(spec["layers"], rows, targets, spec.get("loss", "half_squared_error"),
                    options.get("reduction", "mean"), number(rate) if rate is not None else None,
                    _parameters(spec["layers"], len(rows[0])))


def _width(layers: list[dict], width: int) -> int:
    for layer in layers:
        if layer.get("type", "dense") == "dense":
            width = len(layer["weights"])
    return width


def _parameters(layers: list[dict], width: int) -> dict[Location, Fraction]:
    """Every parameter by its place in the spec; γ = 1 and β = 0 where a batch norm leaves them out."""
    parameters = {}
    for depth, layer in enumerate(layers):
        kind = layer.get("type", "dense")
        if kind == "dense":
            for j, row in enumerate(layer["weights"]):
                for i, weight in enumerate(row):
                    parameters[("layers", depth, "weights", j, i)] = number(weight)
            biases = layer.get("biases")
            if isinstance(biases, list):
                parameters.update({("layers", depth, "biases", j): number(b) for j, b in enumerate(biases)})
            elif biases is not None:
                parameters[("layers", depth, "biases")] = number(biases)
            width = len(layer["weights"])
        elif kind == "batchnorm":
            gamma = layer.get("gamma", [1] * width)
            beta = layer.get("beta", [0] * width)
            parameters.update({("layers", depth, "gamma", j): number(g) for j, g in enumerate(gamma)})
            parameters.update({("layers", depth, "beta", j): number(b) for j, b in enumerate(beta)})
    return parameters


@dataclass
class Pass:
    """One forward pass over the whole batch.

    ``pre`` holds each dense layer's pre-activations ((depth, example) -> list), ``statistics`` each batch
    norm's (μ, σ²) per unit ((depth, unit) -> pair), ``normalized`` its x̂ ((depth, example) -> list),
    ``out`` every layer's output ((depth, example) -> list).
    """

    pre: dict
    statistics: dict
    normalized: dict
    out: dict
    losses: list
    cost: Any


def forward(exercise: Exercise, theta: dict[Location, Any] | None = None, rows: list[list] | None = None,
            frozen: dict | None = None) -> Pass:
    """The forward pass at DIGITS digits.

    Args:
        theta: Parameters in place of the spec's (mpmath numbers).
        rows: Inputs in place of the spec's.
        frozen: Each batch norm's (μ, σ²) per unit to use instead of the batch's own: a forward pass in
            which the statistics are constants (the mistake ``batch_statistics_as_constants`` differentiates it).
    """
    with mpmath.workdps(DIGITS):
        theta = theta or {location: mp(value) for location, value in exercise.parameters.items()}
        values = [[mp(value) if isinstance(value, Fraction) else value for value in row]
                  for row in (rows or exercise.rows)]
        m = len(values)
        pre, statistics, normalized, out = {}, {}, {}, {}
        for depth, layer in enumerate(exercise.layers):
            kind = layer.get("type", "dense")
            width = len(values[0])
            if kind == "dense":
                values = [_dense(layer, depth, theta, row, pre, (depth, n)) for n, row in enumerate(values)]
            elif kind == "batchnorm":
                epsilon = mp(number(layer["epsilon"])) if "epsilon" in layer else mp(EPSILON)
                columns = []
                for j in range(width):
                    column = [values[n][j] for n in range(m)]
                    mean = mpmath.fsum(column) / m
                    variance = mpmath.fsum((x - mean) ** 2 for x in column) / m
                    statistics[(depth, j)] = (mean, variance)
                    if frozen is not None:
                        mean, variance = frozen[(depth, j)]
                    hats = [(x - mean) / mpmath.sqrt(variance + epsilon) for x in column]
                    columns.append(hats)
                for n in range(m):
                    normalized[(depth, n)] = [columns[j][n] for j in range(width)]
                values = [[theta[("layers", depth, "gamma", j)] * columns[j][n] + theta[("layers", depth, "beta", j)]
                           for j in range(width)] for n in range(m)]
            elif kind == "dropout":
                p = mp(number(layer.get("p", P)))
                mask = layer["mask"] if isinstance(layer["mask"][0], list) else [layer["mask"]] * m
                values = [[number(keep) * x / (1 - p) for keep, x in zip(mask[n], row)] for n, row in enumerate(values)]
            else:
                raise ValueError(f"the oracle does not know layer type {kind}")
            for n, row in enumerate(values):
                out[(depth, n)] = row
        losses = [_loss(exercise.loss, row, [mp(t) for t in target]) for row, target in zip(values, exercise.targets)]
        cost = mpmath.fsum(losses) / (m if exercise.reduction == "mean" else 1)
        return Pass(pre, statistics, normalized, out, losses, cost)


def _dense(layer: dict, depth: int, theta: dict, row: list, pre: dict, key: tuple) -> list:
    name, alpha, formula = _activation(layer.get("activation", "identity"))
    biases = layer.get("biases")
    sums = []
    for j in range(len(layer["weights"])):
        z = mpmath.fdot((x, theta[("layers", depth, "weights", j, i)]) for i, x in enumerate(row))
        if isinstance(biases, list):
            z += theta[("layers", depth, "biases", j)]
        elif biases is not None:
            z += theta[("layers", depth, "biases")]
        sums.append(z)
    pre[key] = sums
    if name == "softmax":
        exponentials = [mpmath.exp(z) for z in sums]
        return [e / mpmath.fsum(exponentials) for e in exponentials]
    unit = Unit(key, name, alpha, formula, [], None)
    return [_apply(unit, z) for z in sums]


def gradients(exercise: Exercise, frozen: bool = False) -> dict[Location, Any]:
    """∂J/∂θ for every parameter and ∂J/∂x for every input entry (``("inputs", n, i)``), by central differences.

    With ``frozen``, each batch norm's μ and σ² are held at their values in the unperturbed pass: the
    derivative of a student who treats the batch statistics as constants.
    """
    with mpmath.workdps(DIGITS):
        theta = {location: mp(value) for location, value in exercise.parameters.items()}
        rows = [[mp(value) for value in row] for row in exercise.rows]
        statistics = forward(exercise).statistics if frozen else None
        step = mp(STEP)
        result = {}
        for location, value in theta.items():
            up = forward(exercise, {**theta, location: value + step}, rows, statistics).cost
            down = forward(exercise, {**theta, location: value - step}, rows, statistics).cost
            result[location] = (up - down) / (2 * step)
        for n, row in enumerate(rows):
            for i in range(len(row)):
                up = forward(exercise, theta, _shift(rows, n, i, step), statistics).cost
                down = forward(exercise, theta, _shift(rows, n, i, -step), statistics).cost
                result[("inputs", n, i)] = (up - down) / (2 * step)
        return result


def _shift(rows: list[list], n: int, i: int, step) -> list[list]:
    return [[x + step if (k, j) == (n, i) else x for j, x in enumerate(row)] for k, row in enumerate(rows)]


def updated(exercise: Exercise, gradient: dict[Location, Any]) -> dict[Location, Any]:
    """θ − η·g for every parameter."""
    with mpmath.workdps(DIGITS):
        return {location: mp(value) - mp(exercise.learning_rate) * gradient[location]
                for location, value in exercise.parameters.items()}


def kink_distance(exercise: Exercise) -> Any:
    """How close any kinked activation's pre-activation comes to 0 (inf if none)."""
    result = forward(exercise)
    distances = [abs(z) for (depth, _), sums in result.pre.items()
                 if _activation(exercise.layers[depth].get("activation", "identity"))[0] in KINKED for z in sums]
    return min(distances, default=mpmath.inf)


def least_spread(exercise: Exercise) -> Any:
    """The least σ² + ε of any batch norm's unit (inf if none): how far the exercise is from 0/0."""
    result = forward(exercise)
    spreads = []
    for (depth, _), (_, variance) in result.statistics.items():
        layer = exercise.layers[depth]
        spreads.append(variance + mp(number(layer["epsilon"]) if "epsilon" in layer else EPSILON))
    return min(spreads, default=mpmath.inf)


def saturation(exercise: Exercise) -> Any:
    """The least o (and 1 − o for binary cross-entropy) of a log-loss's outputs (inf for other losses)."""
    if exercise.loss not in ("binary_cross_entropy", "cross_entropy"):
        return mpmath.inf
    result = forward(exercise)
    last = len(exercise.layers) - 1
    with mpmath.workdps(DIGITS):
        outputs = [o for n in range(len(exercise.rows)) for o in result.out[(last, n)]]
        if exercise.loss == "binary_cross_entropy":
            outputs += [1 - o for o in outputs]
        return min(outputs)
