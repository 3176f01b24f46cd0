"""Hypothesis strategies for valid spec dicts: dense layers and named-neuron graphs, nice numbers."""

from __future__ import annotations

from decimal import Decimal

import sympy
from hypothesis import strategies as st
from oracle import CUSTOM

from backprop_derive.core import rules
from backprop_derive.core.formula import X

# NOTE: the names come from the package's own tables, so that a new activation or loss is drawn
# (and checked against the oracle's independent implementation) from the day it is added.
_PROBES = (sympy.Rational(1, 3), sympy.Rational(-2, 3))


def _stays_rational(formula: sympy.Expr, variables) -> bool:
    return all(formula.subs(dict.fromkeys(variables, probe)).is_Rational for probe in _PROBES)


_o, _t = sympy.symbols("o t")
#: Every loss with targets (``loss: none`` has none: tests/test_conventions.py draws its specs).
LOSSES = tuple(name for name, loss in rules.LOSSES.items() if loss.targets)
#: Losses whose values stay rational (no logarithm).
SQUARED_LOSSES = tuple(name for name in LOSSES if _stays_rational(rules.LOSSES[name].formula([_o], [_t]), (_o, _t)))
_UNITWISE = [name for name, make in rules.ACTIVATIONS.items() if not make(rules.ActivationOptions()).layerwise]
#: Activations whose values stay rational: with a squared loss, every value is exact (aliases too).
EXACT_ACTIVATIONS = tuple(
    [name for name in _UNITWISE if _stays_rational(rules.ACTIVATIONS[name](rules.ActivationOptions()).formula, (X,))]
    + [alias for alias, name in rules.ALIASES.items() if name in _UNITWISE
       and _stays_rational(rules.ACTIVATIONS[name](rules.ActivationOptions()).formula, (X,))])
SMOOTH_ACTIVATIONS = tuple(name for name in _UNITWISE if name not in EXACT_ACTIVATIONS)
#: Every kind of activation a spec can name ("custom" is {expr: ...}); layerwise ones (softmax) only in dense layers.
LAYERWISE_ACTIVATIONS = tuple(name for name in rules.ACTIVATIONS if name not in _UNITWISE)
ALL_ACTIVATIONS = EXACT_ACTIVATIONS + SMOOTH_ACTIVATIONS + ("custom",) + LAYERWISE_ACTIVATIONS


def _decimal(numerator: int, denominator: int) -> Decimal | int:
    value = Decimal(numerator) / denominator
    return int(value) if value == int(value) else value


#: Multiples of 0.25 or 0.1 in [-2, 2], as the YAML loader reads them (int or Decimal);
#: now and then a fraction written as a string.
nice_numbers = st.one_of(
    st.integers(-8, 8).map(lambda k: _decimal(k, 4)),
    st.integers(-20, 20).map(lambda k: _decimal(k, 10)),
    st.sampled_from(["1/3", "-2/3", "5/6"]),
)
#: Targets a cross-entropy can take: probabilities, multiples of 0.25.
probabilities = st.integers(0, 4).map(lambda k: _decimal(k, 4))
learning_rates = st.sampled_from([Decimal("0.1"), Decimal("0.5"), 1, "1/4"])
alphas = st.sampled_from([Decimal("0.01"), Decimal("0.1"), Decimal("0.2"), Decimal("0.5"), 1, Decimal("1.5")])


@st.composite
def activations(draw, exact: bool = False, softmax: bool = False, only: str | None = None):
    """An activation as a spec writes it: a name, {name, alpha}, or {expr}; of kind ``only`` if given."""
    names = list(EXACT_ACTIVATIONS) if exact else list(EXACT_ACTIVATIONS + SMOOTH_ACTIVATIONS) + ["custom"]
    if softmax:
        names.append("softmax")
    name = only or draw(st.sampled_from(names))
    if name == "custom":
        return {"expr": draw(st.sampled_from(sorted(CUSTOM)))}
    if name in ("leaky_relu", "elu") and draw(st.booleans()):
        return {"name": name, "alpha": draw(alphas)}
    if name == "relu" and draw(st.booleans()):
        return {"name": "relu"}
    return name


def _output_activation(draw, loss: str, exact: bool, dense: bool, only: str | None):
    if loss == "binary_cross_entropy" or (loss == "cross_entropy" and not dense):
        return "sigmoid"
    if loss == "cross_entropy":
        return "softmax"
    return draw(activations(exact=exact, softmax=dense and not exact, only=only))


def _targets(draw, loss: str, count: int) -> list:
    values = probabilities if loss in ("binary_cross_entropy", "cross_entropy") else nice_numbers
    return draw(st.lists(values, min_size=count, max_size=count))


@st.composite
def _common(draw, spec: dict, loss: str, batched: bool) -> dict:
    """Loss, learning rate and options, each drawn or left to its default."""
    if loss != "half_squared_error" or draw(st.booleans()):
        spec["loss"] = loss
    rate = draw(st.none() | learning_rates)
    if rate is not None:
        spec["learning_rate"] = rate
    options = {}
    reduction = draw(st.sampled_from([None, "mean", "sum"])) if batched else None
    if reduction:
        options["reduction"] = reduction
    if draw(st.booleans()):
        options["update_biases"] = draw(st.booleans())
    if options:
        spec["options"] = options
    return spec


@st.composite
def dense_specs(draw, exact: bool = False, activation: str | None = None, loss: str | None = None):
    """A dense network of 1–4 layers, 1–4 units wide, every bias convention, a batch of 1–3.

    With ``activation``, every layer has that kind (but a cross-entropy's output layer); with
    ``loss``, that loss.
    """
    loss = loss or draw(st.sampled_from(SQUARED_LOSSES if exact else LOSSES))
    depth = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 4), min_size=depth + 1, max_size=depth + 1))
    layers = []
    for number in range(depth):
        last = number == depth - 1
        chosen = (_output_activation(draw, loss, exact, dense=True, only=activation) if last
                  else draw(activations(exact=exact, softmax=not exact, only=activation)))
        rows, columns = widths[number + 1], widths[number]
        layer = {"activation": chosen,
                 "weights": draw(st.lists(st.lists(nice_numbers, min_size=columns, max_size=columns),
                                          min_size=rows, max_size=rows))}
        biases = draw(st.sampled_from(["per unit", "shared", "none"]))
        if biases == "per unit":
            layer["biases"] = draw(st.lists(nice_numbers, min_size=rows, max_size=rows))
        elif biases == "shared":
            layer["biases"] = draw(nice_numbers)
        layers.append(layer)
    examples = draw(st.integers(1, 3))
    batched = examples > 1 or draw(st.booleans())
    inputs = [draw(st.lists(nice_numbers, min_size=widths[0], max_size=widths[0])) for _ in range(examples)]
    targets = [_targets(draw, loss, widths[-1]) for _ in range(examples)]
    spec = {"inputs": inputs if batched else inputs[0], "targets": targets if batched else targets[0],
            "layers": layers}
    return draw(_common(spec, loss, batched))


@st.composite
def named_specs(draw, exact: bool = False, outputs_may_feed: bool = False, activation: str | None = None,
                loss: str | None = None):
    """A random feed-forward graph of 1–5 named neurons, skip connections included.

    Every neuron that feeds no other is an output; with ``outputs_may_feed``, some neuron
    that feeds others is an output too. ``activation`` and ``loss`` as for ``dense_specs``.
    """
    loss = loss or draw(st.sampled_from(SQUARED_LOSSES if exact else LOSSES))
    input_count, neuron_count = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    if draw(st.booleans()):  # the seed exercise's style: nodes 1, 2, 3, ... (YAML reads them as ints)
        inputs = list(range(1, input_count + 1))
        names = list(range(input_count + 1, input_count + neuron_count + 1))
    else:
        inputs = ["a", "b", "c"][:input_count]
        names = [f"h{k}" for k in range(1, neuron_count + 1)]
    sources = {}
    for position, name in enumerate(names):
        pool = inputs + names[:position]
        sources[name] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=min(4, len(pool)), unique=True))
    fed = {source for chosen in sources.values() for source in chosen}
    outputs = [name for name in names if name not in fed]
    if outputs_may_feed:
        inner = [name for name in names if name in fed]
        outputs += draw(st.lists(st.sampled_from(inner), min_size=1, unique=True)) if inner else []
    neurons = {}
    for name in draw(st.permutations(names)):  # any order: the tool sorts them
        chosen = (_output_activation(draw, loss, exact, dense=False, only=activation) if name in outputs
                  else draw(activations(exact=exact, only=activation)))
        neuron = {"activation": chosen, "in": {source: draw(nice_numbers) for source in sources[name]}}
        if draw(st.booleans()):
            neuron["bias"] = draw(nice_numbers)
        neurons[name] = neuron
    examples = draw(st.integers(1, 3))
    batched = examples > 1 or draw(st.booleans())
    rows = [{name: draw(nice_numbers) for name in inputs} for _ in range(examples)]
    targets = [dict(zip(outputs, _targets(draw, loss, len(outputs)))) for _ in range(examples)]
    spec = {"inputs": rows if batched else rows[0], "targets": targets if batched else targets[0],
            "neurons": neurons}
    return draw(_common(spec, loss, batched))


def specs(exact: bool = False, activation: str | None = None, loss: str | None = None):
    """Either form (dense only for softmax)."""
    dense = dense_specs(exact=exact, activation=activation, loss=loss)
    if activation == "softmax":
        return dense
    return st.one_of(dense, named_specs(exact=exact, activation=activation, loss=loss))
