"""An independent oracle for recurrent exercises: an Elman RNN unrolled in plain mpmath loops, and every gradient
by central differences.

Nothing here imports backprop_derive. The recurrence is PyTorch's ``nn.RNN`` (one layer, ``batch_first``):
h_t = f(W_ih x_t + W_hh h_{t−1} + b), with the spec's one ``biases`` vector in the place of PyTorch's
b_ih + b_hh, h_0 the ``initial_state`` (zeros when absent). Layers above an rnn with ``output: all`` apply at
every step and the example's loss is the sum of the steps' losses; with ``output: last`` they read h_T only.
Activations and losses are tests/oracle.py's own tables (which share nothing with the package either).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import mpmath
from oracle import ACTIVATIONS, ALIASES, DIGITS, KINKED, LOSSES, STEP, Unit, mp, number

#: Where a parameter sits in the spec: ("layers", layer, key, index, ...), as JSON ``gradients`` nests it.
Location = tuple


@dataclass
class Layer:
    """One layer as the oracle reads it."""

    kind: str  # "rnn" or "dense"
    activation: Any  # a spec activation (name, {name, alpha} or {expr})
    output: str = "all"  # rnn only: "all" or "last"
    initial: list[Fraction] | None = None  # rnn only: h_0


@dataclass
class Model:
    """A recurrent spec read by the oracle: its layers, parameters by location, examples and conventions."""

    layers: list[Layer]
    parameters: dict[Location, Fraction]
    examples: list[tuple[list[list[Fraction]], Any]]  # (the sequence of input vectors, the targets)
    loss: str
    reduction: str
    learning_rate: Fraction | None
    update_biases: bool


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    return depth


def _matrix(model_parameters: dict, depth: int, key: str, rows: list) -> None:
    for j, row in enumerate(rows):
        for i, entry in enumerate(row):
            model_parameters[("layers", depth, key, j, i)] = number(entry)


def read(spec: dict) -> Model:
    """The oracle's own reading of a valid spec whose first layer is an ``rnn``."""
    layers, parameters = [], {}
    for depth, raw in enumerate(spec["layers"]):
        kind = raw.get("type", "dense")
        if kind == "rnn":
            _matrix(parameters, depth, "input_weights", raw["input_weights"])
            _matrix(parameters, depth, "recurrent_weights", raw["recurrent_weights"])
            hidden = len(raw["recurrent_weights"])
            initial = [number(v) for v in raw["initial_state"]] if "initial_state" in raw else [Fraction(0)] * hidden
            layers.append(Layer("rnn", raw.get("activation", "tanh"), raw.get("output", "all"), initial))
        else:
            _matrix(parameters, depth, "weights", raw["weights"])
            layers.append(Layer("dense", raw["activation"]))
        biases = raw.get("biases")
        if isinstance(biases, list):
            for j, entry in enumerate(biases):
                parameters[("layers", depth, "biases", j)] = number(entry)
        elif biases is not None:
            parameters[("layers", depth, "biases")] = number(biases)
    sequences = spec["inputs"] if _depth(spec["inputs"]) == 3 else [spec["inputs"]]
    batched = _depth(spec["inputs"]) == 3
    targets = spec.get("targets")
    rows = targets if batched else [targets]
    examples = [([[number(x) for x in step] for step in sequence], _targets(target))
                for sequence, target in zip(sequences, rows)]
    options = spec.get("options", {})
    return Model(layers, parameters, examples, spec.get("loss", "half_squared_error"),
                 options.get("reduction", "mean"),
                 number(spec["learning_rate"]) if spec.get("learning_rate") is not None else None,
                 options.get("update_biases", True))


def _targets(raw: Any) -> Any:
    if isinstance(raw, list):
        return [_targets(entry) for entry in raw]
    return number(raw)


# --- the forward pass --------------------------------------------------------------------------


def _activate(activation: Any, values: list) -> list:
    """The activation applied to a layer's pre-activations (softmax to the whole vector)."""
    if isinstance(activation, str):
        name, alpha, formula = activation, None, None
    elif "expr" in activation:
        name, alpha, formula = "custom", None, activation["expr"]
    else:
        name, alpha, formula = activation["name"], (number(activation["alpha"]) if "alpha" in activation else None), None
    name = ALIASES.get(name, name)
    if name == "softmax":
        exponentials = [mpmath.exp(z) for z in values]
        total = mpmath.fsum(exponentials)
        return [e / total for e in exponentials]
    unit = Unit("", name, alpha, formula, [], None)
    return [ACTIVATIONS[name](unit, z) for z in values]


def _affine(theta: dict, depth: int, key: str, vector: list, rows: int) -> list:
    return [mpmath.fsum(theta[("layers", depth, key, j, i)] * x for i, x in enumerate(vector)) for j in range(rows)]


def _bias(theta: dict, depth: int, j: int) -> Any:
    return theta.get(("layers", depth, "biases", j), theta.get(("layers", depth, "biases"), 0))


def _rows(theta: dict, depth: int, key: str) -> int:
    return 1 + max(location[3] for location in theta if location[:3] == ("layers", depth, key))


@dataclass
class Pass:
    """One forward pass: each example's hidden states per rnn layer, pre-activations of kinked units, the cost."""

    states: list[dict[int, list[list]]]  # example -> layer -> [h_1, ..., h_T]
    pre: list  # every pre-activation of a kinked activation (for the kink margin)
    outputs: list  # every final output (for the saturation margin)
    cost: Any


def _example(model: Model, theta: dict, sequence: list, states: dict, pre: list, frozen: dict | None = None) -> list:
    """The example's outputs, one vector per step (one in all, when the last rnn gives its last state only).

    With ``frozen`` (layer -> [h_1, ..., h_T] of the true pass), each step reads that h_{t−1} as a constant.
    """
    value: Any = [[mp(x) for x in step] for step in sequence]
    is_sequence = True
    for depth, layer in enumerate(model.layers):
        kinked = (layer.activation if isinstance(layer.activation, str) else layer.activation.get("name")) in KINKED
        if layer.kind == "rnn":
            hidden = _rows(theta, depth, "recurrent_weights")
            h = [mp(v) for v in layer.initial]
            history = []
            for t, x in enumerate(value):
                if frozen is not None:
                    h = frozen[depth][t - 1] if t else [mp(v) for v in layer.initial]
                inputs = _affine(theta, depth, "input_weights", x, hidden)
                recurrent = _affine(theta, depth, "recurrent_weights", h, hidden)
                z = [a + r + _bias(theta, depth, j) for j, (a, r) in enumerate(zip(inputs, recurrent))]
                if kinked:
                    pre.extend(z)
                h = _activate(layer.activation, z)
                history.append(h)
            states[depth] = history
            value, is_sequence = (history, True) if layer.output == "all" else (history[-1], False)
        else:
            units = _rows(theta, depth, "weights")

            def dense(vector: list, depth: int = depth, units: int = units, layer: Layer = layer,
                      kinked: bool = kinked) -> list:
                z = [s + _bias(theta, depth, j) for j, s in enumerate(_affine(theta, depth, "weights", vector, units))]
                if kinked:
                    pre.extend(z)
                return _activate(layer.activation, z)

            value = [dense(step) for step in value] if is_sequence else dense(value)
    return value if is_sequence else [value]


def run(model: Model, theta: dict[Location, Any], frozen: list | None = None) -> Pass:
    """The forward pass with the parameters ``theta`` (mpmath numbers), at the current precision.

    With ``frozen`` (each example's states of a true pass), every h_{t−1} is read as a constant.
    """
    all_states, pre, outputs, losses = [], [], [], []
    for example, (sequence, targets) in enumerate(model.examples):
        states: dict[int, list] = {}
        steps = _example(model, theta, sequence, states, pre, frozen[example] if frozen is not None else None)
        rows = targets if isinstance(targets[0], list) else [targets]
        all_states.append(states)
        outputs.extend(o for step in steps for o in step)
        losses.append(mpmath.fsum(LOSSES[model.loss](o, [mp(t) for t in row]) for o, row in zip(steps, rows)))
    cost = mpmath.fsum(losses) / (len(losses) if model.reduction == "mean" else 1)
    return Pass(all_states, pre, outputs, cost)


def forward(model: Model) -> Pass:
    """The forward pass at DIGITS digits with the spec's parameters."""
    with mpmath.workdps(DIGITS):
        return run(model, {location: mp(value) for location, value in model.parameters.items()})


def gradients(model: Model) -> dict[Location, Any]:
    """∂J/∂θ for every parameter by central differences, (J(θ + h) − J(θ − h)) / 2h, at DIGITS digits."""
    with mpmath.workdps(DIGITS):
        theta = {location: mp(value) for location, value in model.parameters.items()}
        step = mp(STEP)
        return {location: (run(model, {**theta, location: value + step}).cost
                           - run(model, {**theta, location: value - step}).cost) / (2 * step)
                for location, value in theta.items()}


def input_gradients(model: Model) -> dict[tuple, Any]:
    """∂J/∂x for every input entry by central differences, by (example, step, entry)."""
    with mpmath.workdps(DIGITS):
        theta = {location: mp(value) for location, value in model.parameters.items()}
        step = STEP
        result = {}
        for example, (sequence, targets) in enumerate(model.examples):
            for t, row in enumerate(sequence):
                for i, value in enumerate(row):
                    def cost(shift: Fraction) -> Any:
                        moved = [list(r) for r in sequence]
                        moved[t][i] = value + shift
                        examples = list(model.examples)
                        examples[example] = (moved, targets)
                        return run(Model(model.layers, model.parameters, examples, model.loss, model.reduction,
                                         model.learning_rate, model.update_biases), theta).cost
                    result[(example, t, i)] = (cost(step) - cost(-step)) / (2 * mp(step))
        return result


def updated(model: Model, gradient: dict[Location, Any]) -> dict[Location, Any]:
    """θ − η·g for every parameter (a bias kept when ``update_biases`` is false)."""
    with mpmath.workdps(DIGITS):
        return {location: mp(value) if (location[2] == "biases" and not model.update_biases)
                else mp(value) - mp(model.learning_rate) * gradient[location]
                for location, value in model.parameters.items()}


def kink_distance(model: Model) -> Any:
    """How close a kinked activation's pre-activation comes to 0 (inf when none)."""
    return min((abs(z) for z in forward(model).pre), default=mpmath.inf)


def saturation(model: Model) -> Any:
    """How close a log-loss's output comes to 0 or 1 (inf for the other losses)."""
    if model.loss not in ("binary_cross_entropy", "cross_entropy"):
        return mpmath.inf
    outputs = forward(model).outputs
    with mpmath.workdps(DIGITS):
        return min([abs(o) for o in outputs] + ([abs(1 - o) for o in outputs]
                                                if model.loss == "binary_cross_entropy" else []))


def truncated_gradients(model: Model) -> dict[Location, Any]:
    """The gradients of BPTT truncated to one step (the ``missing_time_step`` mistake), by central differences.

    Each step's h_{t−1} is held at its value in the true forward pass, so no gradient flows back through the
    recurrence: only the steps' own contributions are summed.
    """
    with mpmath.workdps(DIGITS):
        theta = {location: mp(value) for location, value in model.parameters.items()}
        frozen = run(model, theta).states
        step = mp(STEP)

        def cost(parameters: dict) -> Any:
            return run(model, parameters, frozen).cost

        return {location: (cost({**theta, location: value + step}) - cost({**theta, location: value - step}))
                / (2 * step) for location, value in theta.items()}
