"""Homework variants: one network's (or circuit's) structure with new nice numbers, each with a problem sheet,
solution and key."""

from __future__ import annotations

import copy
import decimal
import multiprocessing
import random
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sympy
import yaml

from ..core.circuit import build_circuit, is_graph_spec
from ..core.derivation import Derivation, derive
from ..core.errors import BackpropDeriveError, OutputError, SpecError
from ..core.evaluation import Values, compute, evaluate
from ..core.graph import Backward, Ref
from ..core.graph_solution import GraphSolution, solve_circuit
from ..core.layered_solution import LayeredSolution, solve_layered
from ..core.layers import build_layered, is_layered_spec
from ..core.limits import MAX_DRAWS, MAX_GENERATED, MAX_REDRAWS, MAX_UNITS, MAX_UNSOLVED_DRAWS, MAX_VARIANTS, MAX_WEIGHT_RANGE
from ..core.network import Example, Parameter
from ..core.numbers import settle
from ..core.printable import visible
from ..core.rules import LOSSES
from ..core.solution import Solution, check_size, check_written_size, solve, written_size
from ..core.spec import build_network, input_name, read_document, spec_network
from ..core.steps import Quantity
from ..core.update import OPTIMIZERS, parameter_updates
from ..render.diagram import circuit_diagram, solution_diagrams
from ..render.formats import FORMATS as FORMATS_TABLE
from ..render.formats import formats_for
from ..render.pdf import INSTALL_HINT, compile_pdf, latex_available
from ..render.present import Context
from ..render.render import Block, Math, Table, environment, overview_blocks, render
from ..render.render_graph import _circuit_block, _given_block
from ..render.render_layers import layered_given_block, layered_network_block
from ..render.typography import Latex
from .lms import QUIZ_FILES, WRITERS, QuizItem, Tolerance, asked, asked_value, quiz_item, too_small
from .output import write_files, writing_into

FORMATS = formats_for("generate")
#: The format of the variants' own files beside an LMS quiz.
LMS_FILES_FORMAT = FORMATS_TABLE["moodle"].source
#: Learning rates a variant draws from: round values a student multiplies by in their head.
EXACT_RATES = tuple(decimal.Decimal(rate) for rate in ("0.01", "0.05", "0.1", "0.2", "0.5", "1"))
SMOOTH_RATES = tuple(decimal.Decimal(rate) for rate in ("0.1", "0.5", "1"))
#: Networks whose every value stays an exact decimal: these activations with a squared loss.
EXACT_ACTIVATIONS = {"identity", "relu", "leaky_relu"}
EXACT_LOSSES = {"half_squared_error", "squared_error", "mse"}
#: Activations with a kink at 0, where the derivative is a convention rather than a calculation.
KINKED = {"relu", "leaky_relu", "elu"}
#: Activations whose output is exactly 0 for every negative input (a "dead" unit).
DYING = {"relu"}
#: The values an output unit can take, for drawing targets it can reach (None: unbounded).
OUTPUT_RANGES = {"sigmoid": (0, 1), "softmax": (0, 1), "tanh": (-1, 1), "relu": (0, None), "softplus": (0, None)}


# --- what to generate --------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """The numbers drawn for weights, biases and inputs: ``low`` to ``high`` in steps of 10^-decimals."""

    low: decimal.Decimal
    high: decimal.Decimal
    decimals: int

    def values(self, low: Any = None, high: Any = None, zero: bool = False) -> tuple:
        """The grid's numbers (ints where whole) within ``low``..``high``, without 0 unless ``zero``."""
        low = max(self.low, decimal.Decimal(low)) if low is not None else self.low
        high = min(self.high, decimal.Decimal(high)) if high is not None else self.high
        step = decimal.Decimal(1).scaleb(-self.decimals)
        first, last = int((low / step).to_integral_value(decimal.ROUND_CEILING)), int(
            (high / step).to_integral_value(decimal.ROUND_FLOOR))
        return tuple(_plain(decimal.Decimal(count) * step) for count in range(first, last + 1) if zero or count)


@dataclass(frozen=True)
class Plan:
    """What to generate.

    Attributes:
        spec: A parsed spec whose structure every variant keeps; its numbers are replaced.
        grid: Where weights, biases and inputs are drawn from.
        count: How many variants.
        seed: Variant k draws from a generator seeded by (seed, k), whatever the number of processes.
        allow_dead: Accept a hidden layer whose ReLU units are all 0 (by default such a draw is redrawn).
        for_lms: Redraw a variant that asks a value an LMS would round to 0 (see lms.too_small).
    """

    spec: dict
    grid: Grid
    count: int = 10
    seed: int = 0
    allow_dead: bool = False
    for_lms: bool = False




def parse_range(text: str) -> tuple[decimal.Decimal, decimal.Decimal]:
    """``"-5..5"`` → (-5, 5).

    Raises:
        SpecError: not two numbers joined by ``..``, low first, within ±MAX_WEIGHT_RANGE.
    """
    parts = text.split("..")
    try:
        low, high = (decimal.Decimal(part.strip()) for part in parts)
    except (ValueError, decimal.InvalidOperation):
        raise SpecError(f"expected a range such as -5..5, got {text!r}", "--weights") from None
    if not (low.is_finite() and high.is_finite() and low < high):
        raise SpecError(f"expected a range from a lower to a higher number, such as -5..5, got {text!r}", "--weights")
    if low < -MAX_WEIGHT_RANGE or high > MAX_WEIGHT_RANGE:
        raise SpecError(f"expected a range within -{MAX_WEIGHT_RANGE}..{MAX_WEIGHT_RANGE}, got {text!r}", "--weights")
    return low, high


def architecture_spec(arch: str, activation: str = "relu", output_activation: str | None = None,
                      loss: str = "half_squared_error", bias: bool = False, batch: int = 1) -> dict:
    """A dense spec of the shape ``arch`` (``"2-2-1"``: inputs, hidden units, outputs), its numbers placeholders.

    Raises:
        SpecError: ``arch`` is not a list of unit counts, or the loss needs outputs the output activation
            cannot give.
    """
    sizes = [int(size) for size in arch.split("-")] if re.fullmatch(r"[0-9]+(-[0-9]+)+", arch) else []
    if not sizes or not all(1 <= size <= MAX_UNITS for size in sizes):
        raise SpecError(f"expected unit counts from 1 to {MAX_UNITS} joined by -, inputs first, such as 2-2-1, "
                        f"got {arch!r}", "--arch")
    if loss not in LOSSES:
        raise SpecError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}", "--loss")
    output_activation = output_activation or {"binary_cross_entropy": "sigmoid",
                                              "cross_entropy": "softmax"}.get(loss, activation)
    if loss in ("binary_cross_entropy", "cross_entropy") and OUTPUT_RANGES.get(output_activation) != (0, 1):
        raise SpecError(f"{loss} needs outputs between 0 and 1: use --output-activation sigmoid or softmax",
                        "--output-activation")
    if output_activation == "softmax" and sizes[-1] < 2:
        raise SpecError("a softmax over one output is always 1: give the network at least 2 outputs "
                        "(e.g. --arch 2-2-2)", "--arch")
    layers = []
    for number, (below, units) in enumerate(zip(sizes, sizes[1:]), start=1):
        layer: dict = {"activation": output_activation if number == len(sizes) - 1 else activation,
                       "weights": [[1] * below for _ in range(units)]}
        if bias:
            layer["biases"] = [1] * units
        layers.append(layer)
    kinds = activation if output_activation == activation else f"{activation}-{output_activation}"
    inputs, targets = [1] * sizes[0], [0] * sizes[-1]
    return {"title": f"A {arch} {kinds} network", "inputs": inputs if batch == 1 else [inputs] * batch,
            "targets": targets if batch == 1 else [targets] * batch, "layers": layers, "loss": loss,
            "learning_rate": decimal.Decimal("0.1")}


def make_plan(*, structure: str | Path | None = None, arch: str = "2-2-1", activation: str = "relu",
              output_activation: str | None = None, loss: str = "half_squared_error", bias: bool = False,
              batch: int = 1, weights: str | None = None, decimals: int | None = None, notation: str | None = None,
              count: int = 10, seed: int = 0, allow_dead: bool = False, optimizer: str | None = None) -> Plan:
    """A Plan from the command line's choices: a spec file's structure, or one built from ``arch``.

    Args:
        structure: A spec file whose structure (dense or named, activations, loss, options) is kept.
        arch, activation, output_activation, loss, bias, batch: Build a dense network instead
            (see ``architecture_spec``).
        weights: The range of weights, biases and inputs, e.g. ``"-5..5"``; default by the network.
        decimals: Decimal places of the drawn numbers; default by the network.
        notation: Overrides the spec's notation.
        count, seed, allow_dead: As in Plan.
        optimizer: Train with this optimizer of ``update.OPTIMIZERS`` (its fields at their defaults): the
            questions then ask for the state and the parameters after two steps.

    Raises:
        SpecError: an invalid spec file or choice.
    """
    if structure is not None:
        spec = load_structure(structure)
    else:
        spec = architecture_spec(arch, activation, output_activation, loss, bias, batch)
    graph, layered = is_graph_spec(spec), is_layered_spec(spec)
    if notation and graph:
        raise SpecError("a graph's quantities carry their own names; drop --notation", "--notation")
    if notation and layered:
        raise SpecError("a network with layer types gives its quantities their own names, layer by layer; drop "
                        "--notation", "--notation")
    if notation:
        spec = {**spec, "options": {**spec.get("options", {}), "notation": notation}}
    if optimizer is not None:
        spec = with_optimizer(spec, optimizer)
    grid = default_graph_grid(spec) if graph else LAYERED_GRID if layered else default_grid(spec)
    if weights is not None:
        low, high = parse_range(weights)
        grid = Grid(low, high, grid.decimals)
    if decimals is not None:
        grid = Grid(grid.low, grid.high, decimals)
    if not graph and not layered:
        _check_size(build_network(spec), structure)
    return Plan(spec, grid, count, seed, allow_dead)


def with_optimizer(spec: dict, name: str) -> dict:
    """``spec`` trained with optimizer ``name``, its learning rate (top-level or the optimizer's) moved into it."""
    if name not in OPTIMIZERS:
        raise SpecError(f"expected an optimizer name ({', '.join(OPTIMIZERS)}), got {name!r}", "--optimizer")
    spec = dict(spec)
    rate = spec.pop("learning_rate", None) or spec.get("optimizer", {}).get("learning_rate") or decimal.Decimal("0.1")
    spec["optimizer"] = {"name": name, "learning_rate": rate}
    return spec


def _update_stage(quantity) -> bool:
    """True for a quantity of the update stage: a new parameter, an optimizer's state or field."""
    return quantity.kind == "new" or quantity.kind.startswith(("state:", "hyper:"))


def training_steps(network) -> int:
    """How many steps a variant asks for: two with an optimizer or a regularization (the state carried), else one."""
    training = network.training
    return 2 if training is not None and not training.plain and network.learning_rate is not None else 1


#: Which option builds what a spec's field holds, for a network built from generate's options.
_OPTION_OF_FIELD = {"inputs": "--batch", "layers": "--arch"}


def _check_size(network, structure: str | Path | None) -> None:
    """Refuse, before drawing, variants larger than a worked solution can sensibly show."""
    try:
        check_size(network)
        check_written_size(network)
    except SpecError as error:
        if structure is not None:
            raise error.with_file(str(structure)) from None
        raise SpecError(error.message, _OPTION_OF_FIELD.get(error.path, error.path)) from None


def _check_count(plan: Plan) -> None:
    """Refuse, before drawing, more variants than one run can sensibly write."""
    count = plan.count
    if count > MAX_VARIANTS:
        raise SpecError(f"{count:,} variants: more than one run makes (at most {MAX_VARIANTS:,})", "--count")
    if is_graph_spec(plan.spec) or is_layered_spec(plan.spec):
        return  # NOTE: a circuit (SPEC §2.4) has no layers to size by; only the count of variants is bounded
    network = build_network(plan.spec)
    factors = written_size(network) * len(network.examples)
    if factors * count > MAX_GENERATED:
        variants = f"{count:,} variant{'s' if count != 1 else ''}"
        raise SpecError(f"{variants} × {factors:,} chain-rule factors each = {factors * count:,}: more than one run "
                        f"writes out (at most {MAX_GENERATED:,}); make fewer variants, or smaller ones", "--count")


def default_grid(spec: dict) -> Grid:
    """-3..3 in whole numbers for networks that stay exact (ReLU, identity), else -1..1 in tenths."""
    if _stays_exact(build_network(spec)):
        return Grid(decimal.Decimal(-3), decimal.Decimal(3), 0)
    return Grid(decimal.Decimal(-1), decimal.Decimal(1), 1)


def _stays_exact(network) -> bool:
    return network.loss.name in EXACT_LOSSES and all(
        neuron.activation.name in EXACT_ACTIVATIONS for neuron in network.neurons)


# --- drawing nice numbers ----------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    """One variant: its spec, the numbers drawn for it (to tell variants apart), and its solution."""

    index: int
    numbers: tuple
    spec: dict
    solution: Solution


class Drawer:
    """Draws variants of one plan, each checked on the solution of the spec it writes.

    Where many draws fail the rules (exact networks, ReLU), each draw is first evaluated on the
    network derived once, by the same engine, and only a draw that passes is written and solved.

    Args:
        plan: What to generate.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.network = build_network(plan.spec)
        self.derivation = derive(self.network)
        self.exact = _stays_exact(self.network)
        self.places = plan.grid.decimals + 2
        self.rates = EXACT_RATES if self.exact else SMOOTH_RATES
        self.numbers = plan.grid.values()
        if len(self.numbers) < 2:
            raise SpecError(f"the range {plan.grid.low}..{plan.grid.high} holds fewer than two nonzero numbers "
                            f"with {plan.grid.decimals} decimals; widen it", "--weights")
        self.targets = {node: self._target_values(node) for node in self.network.outputs}
        self.dying = bool(_dying_layers(self.network))
        self.screened = self.exact or any(neuron.activation.name in KINKED for neuron in self.network.neurons)
        # NOTE: with decimals, an exact network's output has more places than the grid, and a target drawn
        # from the grid would leave a long loss ½(o − t)²; a target a grid step or so from the output keeps
        # o − t on the grid (errors up to 1), so far fewer draws are wasted.
        self.aimed = self.exact and plan.grid.decimals > 0
        self.forward = replace(self.derivation, losses=(), backward=(), gradients=(), updates=())
        self.errors = Grid(decimal.Decimal(-1), decimal.Decimal(1), plan.grid.decimals).values()

    def _target_values(self, node) -> tuple:
        if self.network.loss.name in ("binary_cross_entropy", "cross_entropy"):
            return (0, 1)
        grid = self.plan.grid
        low, high = OUTPUT_RANGES.get(node.activation.name, (None, None))
        values = grid.values(low, high, zero=True)
        if len(values) < 2:
            # NOTE: the grid misses what the output can reach (sigmoid targets from 2..5): draw from that.
            low = grid.low if low is None else decimal.Decimal(low)
            high = low + 1 if high is None else decimal.Decimal(high)
            values = Grid(low, high, grid.decimals).values(zero=True)
        return values

    def draw(self, index: int, redraw: int = 0) -> Draw:
        """Variant ``index`` (its ``redraw``-th fresh draw): nice numbers, worth solving, solved.

        Raises:
            BackpropDeriveError: no draw in MAX_DRAWS passed the rules (the range is too narrow, or the
                network cannot stay exact with these decimals).
        """
        generator = random.Random(f"{self.plan.seed}:{index}:{redraw}")
        network = self.network
        unsolved = 0
        for _ in range(MAX_DRAWS):
            parameters = {parameter: generator.choice(self.numbers) for parameter in network.parameters}
            examples = [({node: generator.choice(self.numbers) for node in network.inputs},
                         self._draw_targets(generator)) for _ in network.examples]
            rows = [tuple(inputs.values()) for inputs, _ in examples]
            if len(set(rows)) < len(rows):
                continue
            rate = None
            if self.aimed:
                examples = self._aimed_targets(generator, parameters, examples)
                if examples is None:
                    continue
            if self.screened:
                values = self._values(parameters, examples)
                if values is None or not self._worth_solving(self.derivation, values):
                    continue
                if network.learning_rate is not None:
                    rate = self._draw_rate(generator, values)
                    if rate is None:
                        continue
            elif network.learning_rate is not None:
                rate = generator.choice(self.rates)
            spec = self._spec(index, parameters, examples, rate)
            try:
                solution = solve(spec, steps=training_steps(network))
            except BackpropDeriveError as error:  # e.g. log 0 in a cross-entropy
                unsolved += 1
                if unsolved == MAX_UNSOLVED_DRAWS:
                    raise BackpropDeriveError(f"{MAX_UNSOLVED_DRAWS} draws for variant {index} had no solution; the "
                                              f"last: {error}") from None
                continue
            if self.plan.for_lms and too_small(solution):
                continue
            if self._worth_solving(solution.derivation, solution.values[0]):
                numbers = (tuple(parameters.values()), tuple(rows),
                           tuple(tuple(targets.values()) for _, targets in examples))
                return Draw(index, numbers, spec, solution)
        raise BackpropDeriveError(
            f"no draw in {MAX_DRAWS} made variant {index} worth solving with nice numbers: widen --weights"
            + (", use fewer --decimals" if self.exact else "")
            + (" or pass --allow-dead-layer" if self.dying and not self.plan.allow_dead else ""))

    def _draw_targets(self, generator: random.Random) -> dict:
        if self.network.loss.name == "cross_entropy":
            hot = generator.choice(self.network.outputs)
            return {node: int(node is hot) for node in self.network.outputs}
        return {node: generator.choice(values) for node, values in self.targets.items()}

    def _aimed_targets(self, generator: random.Random, parameters: dict, examples: list) -> list | None:
        """The examples with each target an error from the grid away from the output (None: no such target
        is short, or within the output's range)."""
        values = self._values(parameters, examples, self.forward)
        if values is None or not all(self._short(value) for quantity, value in values.items()
                                     if quantity.kind in ("pre", "out")):
            return None
        aimed = []
        for example, (inputs, _) in enumerate(examples):
            targets = {}
            for node in self.network.outputs:
                output = values[Quantity("out", node, example)]
                target = _plain(_decimal(output) - generator.choice(self.errors))
                low, high = OUTPUT_RANGES.get(node.activation.name, (None, None))
                if (low is not None and target < low) or (high is not None and target > high):
                    return None
                targets[node] = target
            aimed.append((inputs, targets))
        return aimed

    def _values(self, parameters: dict, examples: list, derivation: Derivation | None = None) -> Values | None:
        """Every quantity of ``derivation`` (default: all) for these numbers, by the same engine that solves
        (None: no finite solution)."""
        network = replace(self.network, examples=tuple(
            Example({node: _exact(value) for node, value in inputs.items()},
                    {node: _exact(value) for node, value in targets.items()}) for inputs, targets in examples),
            learning_rate=sympy.Integer(1) if self.network.learning_rate is not None else None)
        try:
            return evaluate(replace(derivation or self.derivation, network=network),
                            {parameter: _exact(value) for parameter, value in parameters.items()})
        except ArithmeticError:
            return None

    def _worth_solving(self, derivation, values: Values) -> bool:
        """Some gradient is not 0, no pre-activation sits on a kink, no hidden ReLU layer is all 0 (unless
        allowed), and in an exact network every value is a short decimal."""
        network, examples = derivation.network, range(len(derivation.network.examples))
        if all(values[gradient.result] == 0 for gradient in derivation.gradients):
            return False
        # NOTE: at a kink the derivative is a convention, not a calculation: keep it out of homework.
        if any(values[Quantity("pre", neuron, example)] == 0 for neuron in network.neurons
               if neuron.activation.name in KINKED for example in examples):
            return False
        if not self.plan.allow_dead and any(
                all(values[Quantity("out", neuron, example)] == 0 for neuron in layer for example in examples)
                for layer in _dying_layers(network)):
            return False
        # NOTE: an optimizer's lines (square roots, bias corrections) are not short decimals by nature: the
        # forward and backward passes are kept short.
        trained = training_steps(network) > 1
        return not self.exact or all(self._short(value) for quantity, value in values.items()
                                     if not (trained and _update_stage(quantity)))

    def _short(self, value: sympy.Expr) -> bool:
        """True when ``value`` is an exact decimal of at most ``places`` decimal places."""
        return _short_decimal(value, self.places)

    def _draw_rate(self, generator: random.Random, values: Values) -> decimal.Decimal | None:
        """A round learning rate that keeps the new parameters short, and their steps no longer than
        the grid's reach where one does (the smallest that keeps them short otherwise)."""
        fitting = [rate for rate in self.rates if self._rate_fits(rate, values)]
        if not fitting:
            return None
        largest_gradient = max(abs(values[gradient.result]) for gradient in self.derivation.gradients)
        reach = max(abs(self.plan.grid.low), abs(self.plan.grid.high))
        modest = [rate for rate in fitting if _exact(rate) * largest_gradient <= _exact(reach)]
        return generator.choice(modest) if modest else fitting[0]

    def _rate_fits(self, rate: decimal.Decimal, values: Values) -> bool:
        if not self.exact or training_steps(self.network) > 1:
            # NOTE: an optimizer's update (a square root, a bias correction) is not a short decimal by nature.
            return True
        trial = {**values, Quantity("rate"): _exact(rate)}
        return all(self._short(settle(compute(update, trial))) for update in self.derivation.updates)

    def _spec(self, index: int, parameters: dict[Parameter, Any], examples: list, rate) -> dict:
        spec = copy.deepcopy(self.plan.spec)
        for parameter, value in parameters.items():
            _place(spec, parameter.location, value)
        input_keys = _keys(spec["inputs"])
        rows = [_row(input_keys, list(inputs.values())) for inputs, _ in examples]
        spec["inputs"] = rows if self.network.batched else rows[0]
        # NOTE: target_classes and loss: none are kept as the structure gives them (no targets to draw).
        if "targets" in spec:
            target_keys = _keys(spec["targets"])
            targets = [_row(target_keys, list(values.values())) for _, values in examples]
            spec["targets"] = targets if self.network.batched else targets[0]
        if rate is not None and "learning_rate" in spec.get("optimizer", {}):
            spec["optimizer"] = {**spec["optimizer"], "learning_rate": _plain(rate)}
        elif rate is not None:
            spec["learning_rate"] = _plain(rate)
        title = read_title(spec)
        spec["title"] = f"Variant {index}: {title}"
        return spec


def _short_decimal(value: sympy.Expr, places: int) -> bool:
    """True when ``value`` is an exact decimal of at most ``places`` decimal places."""
    if not value.is_Rational:
        return False
    denominator, written = int(value.q), 0
    while denominator % 10 == 0:
        denominator //= 10
        written += 1
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
            written += 1
    return denominator == 1 and written <= places


def make_drawer(plan: Plan):
    """The drawer of ``plan``'s variants: of a network, or of a computational graph."""
    if is_layered_spec(plan.spec):
        return LayeredDrawer(plan)
    if not is_graph_spec(plan.spec):
        return Drawer(plan)
    numbers = plan.grid.values()
    if len(numbers) < 2:
        raise SpecError(f"the range {plan.grid.low}..{plan.grid.high} holds fewer than two nonzero numbers "
                        f"with {plan.grid.decimals} decimals; widen it", "--weights")
    exact = stays_exact(plan.spec)
    return GraphDrawer(plan, numbers, EXACT_RATES if exact else SMOOTH_RATES, plan.grid.decimals + 2, MAX_DRAWS)


def _dying_layers(network) -> list:
    """The hidden layers whose every unit outputs 0 for a negative input (ReLU)."""
    outputs = set(network.outputs)
    return [layer for layer in network.layers
            if not set(layer) & outputs and all(neuron.activation.name in DYING for neuron in layer)]


def _exact(value) -> sympy.Rational:
    return sympy.Rational(str(value))


def _decimal(value: sympy.Rational) -> decimal.Decimal:
    """An exact terminating decimal as a Decimal."""
    return decimal.Decimal(int(value.p)) / decimal.Decimal(int(value.q))


def _plain(value: decimal.Decimal) -> int | decimal.Decimal:
    """A whole number as an int, else the decimal without trailing zeros."""
    return int(value) if value == value.to_integral_value() else value.normalize()


def _keys(raw) -> list | None:
    """The node names of a spec's inputs or targets as the file writes them (None for dense lists)."""
    first = raw[0] if isinstance(raw, list) else raw
    return list(first) if isinstance(first, dict) else None


def _row(keys: list | None, values: list):
    return values if keys is None else dict(zip(keys, values))


def _place(spec: dict, location: tuple, value) -> None:
    """Put ``value`` at a parameter's location (names match the file's keys, which may be numbers)."""
    node: Any = spec
    for depth, part in enumerate(location):
        if isinstance(node, dict):
            part = next(key for key in node if str(key) == str(part))
        if depth == len(location) - 1:
            node[part] = value
        else:
            node = node[part]


def draw_specs(plan: Plan) -> list[dict]:
    """The specs of every variant of ``plan``, distinct and in order, without rendering anything."""
    drawer = make_drawer(plan)
    return [draw.spec for draw in _distinct([drawer.draw(index) for index in range(1, plan.count + 1)], drawer.draw)]


def _distinct(items: list, redo: Callable[[int, int], Any]) -> list:
    """``items`` with each one that repeats an earlier one's numbers drawn afresh, in order."""
    seen, kept = set(), []
    for item in items:
        redraw = 0
        while item.numbers in seen:
            redraw += 1
            if redraw > MAX_REDRAWS:
                raise BackpropDeriveError(f"could not find {len(items)} different variants: widen --weights, "
                                          f"use more --decimals or ask for fewer")
            item = redo(item.index, redraw)
        seen.add(item.numbers)
        kept.append(item)
    return kept


def spec_yaml(spec: dict) -> str:
    """A spec as YAML whose decimals read back exactly (0.1 is written 0.1, never a float)."""
    return yaml.dump(spec, Dumper=_SpecDumper, sort_keys=False, default_flow_style=None, allow_unicode=True,
                     width=100)


class _SpecDumper(yaml.SafeDumper):
    """YAML's safe dumper, writing Decimals as plain decimals, and repeated numbers as numbers."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_SpecDumper.add_representer(decimal.Decimal, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:float", format(value.normalize(), "f") if value != value.to_integral_value()
    else format(value, ".1f")))


# --- the documents -----------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One question of a problem sheet and the quantities it asks for (printed names)."""

    text: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Sheet:
    """One variant's problem: its givens (the network, inputs and targets) and the questions."""

    title: str
    text: str
    givens: tuple[Block, ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Key:
    """One variant's answers, compact: outputs and loss, then each parameter's gradient and new value."""

    heading: str
    results: tuple[tuple[str, str, str], ...]  # (what, printed name, printed value)
    table: Table


def problem_sheet(solution: Solution, typography: Latex) -> Sheet:
    """The problem of ``solution``'s exercise: what is given and what to compute, with no answer."""
    derivation = solution.derivation
    context = Context(solution.notation, typography, solution.values[0])
    # NOTE: of the solution's overview, the tables (network, inputs and targets) are the givens; its
    # equation lines (each activation's derivative) are part of the working.
    givens = tuple(block for block in overview_blocks(solution, typography, solution_diagrams(solution)["network"])
                   if not block.lines)
    cost = _cost_word(solution.network)
    # NOTE: a network without biases is asked about "each weight" only.
    each = "each weight" + ("" if all(g.parameter.kind == "weight" for g in derivation.gradients) else " and bias")
    questions = [
        Question("The output of the network (the forward pass)", _names(context, _outputs(solution))),
        *([Question(f"The {cost}", _names(context, [derivation.cost]))] if solution.network.has_targets else []),
        Question(f"The gradient of the {cost} with respect to {each}",
                 _names(context, [gradient.result for gradient in derivation.gradients])),
    ]
    if derivation.updates and len(solution.values) > 1:
        training = solution.network.training
        questions.append(Question(f"The optimizer's state and {each} after two steps of {training.optimizer}",
                                  _names(context, _carried(solution))))
        return Sheet(solution.network.title, "Work two steps of training by hand, the optimizer's state carried from "
                     "the first to the second.", givens, tuple(questions))
    if derivation.updates:
        rate = typography.number(solution.network.learning_rate)
        step = "the first example's update (online)" if solution.online else "one step"
        questions.append(Question(f"{each.capitalize()} after {step} of gradient descent with learning rate "
                                  f"{rate}", _names(context, [update.result for update in derivation.updates])))
    return Sheet(solution.network.title, "Work one step of backpropagation by hand.", givens, tuple(questions))


def _carried(solution: Solution) -> list:
    """The state at the end of a step and each new parameter: what two steps of training are asked for."""
    return [step.result for step in solution.derivation.updates
            if step.result.kind == "new" or step.result.kind.endswith(":new")]


def _cost_word(network) -> str:
    """What is differentiated: the cost of a batch, the loss of one example, the output itself (``loss: none``)."""
    if not network.has_targets:
        # NOTE: loss: none differentiates the output, which the sheet already asks for: no separate loss.
        return "output"
    return "cost" if network.batched else "loss"


def answer_key(solution: Solution, typography: Latex) -> Key:
    """The answers to ``solution``'s problem, every value taken from the solution itself."""
    derivation = solution.derivation
    context = Context(solution.notation, typography, solution.values[0])
    results = tuple(("output", Math(context.name(quantity)), Math(context.value(quantity)))
                    for quantity in _outputs(solution))
    if solution.network.has_targets:
        results += ((_cost_word(solution.network), Math(context.name(derivation.cost)),
                     Math(context.value(derivation.cost))),)
    header: tuple[str, ...] = ("parameter", "gradient")
    rows = [(Math(context.name(Quantity("param", parameter=gradient.parameter))), Math(context.value(gradient.result)))
            for gradient in derivation.gradients]
    if derivation.updates and len(solution.values) > 1:
        # NOTE: two steps of an optimizer: each quantity it carries, after the first step and after the second.
        second = Context(solution.notation, typography, solution.values[1])
        header = ("quantity", "after step 1", "after step 2")
        rows = [(Math(context.name(quantity)), Math(context.value(quantity)), Math(second.value(quantity)))
                for quantity in _carried(solution)]
    elif derivation.updates:
        header += ("after one step",)
        updates = parameter_updates(derivation.updates)
        rows = [row + (Math(context.value(update.result)),) for row, update in zip(rows, updates)]
    return Key(solution.network.title, results, Table(header, tuple(rows)))


def key_values(solution: Solution) -> dict[str, sympy.Expr]:
    """The key's answers by their ASCII names (as ``solve --format json`` and ``check`` name them)."""
    if isinstance(solution, LayeredSolution):
        return layered_key_values(solution)
    if isinstance(solution, GraphSolution):
        return graph_key_values(solution)
    return {solution.notation.ascii(quantity): asked_value(solution, quantity) for quantity in asked(solution)}


def _outputs(solution: Solution) -> list[Quantity]:
    # NOTE: trained online, the first update's quantities are the first example's alone.
    network = solution.online[0] if getattr(solution, "online", ()) else solution.network
    return [Quantity("out", node, example) for example in range(len(network.examples)) for node in network.outputs]


def _names(context: Context, quantities) -> tuple[str, ...]:
    return tuple(Math(context.name(quantity)) for quantity in quantities)


def _render(template: str, fmt: str, **pieces) -> str:
    kind = "tex" if fmt == "pdf" else fmt
    return environment(kind).get_template(f"{template}.{kind}.j2").render(**pieces)


def _finished(text: str, fmt: str) -> str | bytes:
    return compile_pdf(text) if fmt == "pdf" else text


# --- variants ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One variant, rendered: its files' contents, its sheet and key for the class set, and its LMS question."""

    index: int
    numbers: tuple
    spec: str
    problem: str | bytes
    solution: str | bytes
    sheet: Sheet
    key: Key
    quiz: QuizItem | None = None


class VariantMaker:
    """Draws, solves and renders the variants of one plan in one format.

    Args:
        plan: What to generate.
        fmt: md, tex or pdf; or moodle or qti (the variants' files then in Markdown, and each variant
            also as an LMS question).
        tolerance: The LMS answers' tolerance (default: see lms.tolerance_of).
    """

    def __init__(self, plan: Plan, fmt: str, tolerance: Tolerance | None = None) -> None:
        self.drawer = make_drawer(plan)
        self.lms = fmt in QUIZ_FILES
        self.fmt = LMS_FILES_FORMAT if self.lms else fmt
        self.tolerance = tolerance

    def make(self, index: int, redraw: int = 0) -> Variant:
        """Variant ``index`` (its ``redraw``-th fresh draw), rendered from the solution of its spec."""
        draw = self.drawer.draw(index, redraw)
        solution = draw.solution
        typography = Latex(solution.precision)
        graph = isinstance(solution, GraphSolution)
        exercise = "layered" if isinstance(solution, LayeredSolution) else "graph" if graph else "network"
        sheet = SHEETS[exercise][0](solution, typography)
        kind = "tex" if self.fmt == "pdf" else self.fmt
        problem = _finished(_render("problem", self.fmt, problem=sheet), self.fmt)
        worked = _finished(render(solution, kind), self.fmt)
        quiz = quiz_item(index, solution, sheet.text, sheet.givens,
                         tuple(question.text for question in sheet.questions for _ in question.names),
                         self.tolerance) if self.lms else None
        return Variant(index, draw.numbers, spec_yaml(draw.spec), problem, worked, sheet,
                       SHEETS[exercise][1](solution, typography), quiz)


_WORKER: VariantMaker | None = None


def _start_worker(plan: Plan, fmt: str, tolerance: Tolerance | None) -> None:
    global _WORKER
    # NOTE: Ctrl-C reaches every process of the terminal's group: the parent alone handles it (it
    # stops the workers and rolls back); SIGTERM and SIGHUP end a worker as they normally would.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    _WORKER = VariantMaker(plan, fmt, tolerance)


def _make_in_worker(index: int) -> Variant:
    return _WORKER.make(index)


def make_variants(plan: Plan, fmt: str = "md", jobs: int = 1, progress: Callable[[], None] | None = None,
                  tolerance: Tolerance | None = None) -> list[Variant]:
    """Every variant of ``plan``, distinct and in order; the same whatever ``jobs`` is.

    Args:
        plan: What to generate.
        fmt: md, tex, pdf, moodle or qti.
        jobs: How many processes draw, solve and render.
        progress: Called once per variant made.
        tolerance: The LMS answers' tolerance (moodle and qti).
    """
    maker = VariantMaker(plan, fmt, tolerance)
    indices = range(1, plan.count + 1)
    made = []
    if jobs > 1:
        # NOTE: a Pool, whose exit on an error or a signal terminates the workers at once (an executor
        # would first finish every variant queued).
        with multiprocessing.Pool(jobs, initializer=_start_worker, initargs=(plan, fmt, tolerance)) as pool:
            for variant in pool.imap(_make_in_worker, indices, chunksize=max(1, min(16, plan.count // (4 * jobs)))):
                made.append(variant)
                if progress:
                    progress()
    else:
        for index in indices:
            made.append(maker.make(index))
            if progress:
                progress()
    return _distinct(made, maker.make)


def planned_files(count: int, fmt: str) -> list[Path]:
    """The files ``generate`` writes, relative to its folder."""
    ext = LMS_FILES_FORMAT if fmt in QUIZ_FILES else fmt
    files = []
    for index in range(1, count + 1):
        folder = Path(f"variant-{index}")
        files += [folder / "spec.yaml", folder / f"problem.{ext}", folder / f"solution.{ext}"]
    files += [Path(f"problems.{ext}"), Path(f"answers.{ext}")]
    return files + ([Path(QUIZ_FILES[fmt])] if fmt in QUIZ_FILES else [])


def generate(plan: Plan, directory: str | Path, fmt: str = "md", *, jobs: int = 1, force: bool = False,
             progress: Callable[[], None] | None = None, tolerance: Tolerance | None = None,
             inputs: tuple[str | Path, ...] = ()) -> list[Path]:
    """Write ``plan``'s variants into ``directory``: per variant a spec, a problem and a solution,
    then the class set (problems) and its key (answers); for moodle or qti, these in Markdown and the
    quiz file an LMS imports (quiz.moodle.xml, quiz.qti.zip).

    Args:
        plan: What to generate.
        directory: Created if missing.
        fmt: md, tex, pdf, moodle or qti.
        jobs: How many processes to use.
        force: Overwrite files that exist; without it an existing file stops everything before anything
            is written.
        progress: Called once per variant made.
        tolerance: The LMS answers' tolerance (default: 0.5 %, or one unit of a rounded answer's last digit).
        inputs: The files read (the ``--from`` spec): writing over one is refused.

    Returns:
        The files written, in order: all of them, or none (whatever the error or stopping signal).

    Raises:
        OutputError: a file exists (without ``force``), PDF without pdflatex, a file cannot be written,
            or another process is writing into ``directory``.
        BackpropDeriveError: no nice, distinct variants could be drawn.

    Example:
        >>> plan = Plan(architecture_spec("2-2-1"), Grid(-3, 3, 0), count=3, seed=7)
        >>> generate(plan, "homework", "moodle")  # doctest: +SKIP
    """
    directory = Path(directory)
    _check_count(plan)
    if fmt not in FORMATS:
        raise OutputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "pdf" and not latex_available():
        raise OutputError(INSTALL_HINT)
    if fmt in QUIZ_FILES:
        plan = replace(plan, for_lms=True)
    # NOTE: the folder is held from the first check to the last rename, so that a second writer is
    # refused at once instead of mixing its files with these; a folder made here is removed on failure.
    with writing_into(directory):
        files = [directory / file for file in planned_files(plan.count, fmt)]
        existing = [file for file in files if file.exists()]
        if existing and not force:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise OutputError(f"{existing[0]} already exists{more}; nothing was written (use --force to overwrite)")
        variants = make_variants(plan, fmt, jobs, progress, tolerance)
        title = read_title(plan.spec)
        ext = LMS_FILES_FORMAT if fmt in QUIZ_FILES else fmt
        contents: list[str | bytes] = []
        for variant in variants:
            contents += [variant.spec, variant.problem, variant.solution]
        contents.append(_finished(_render("problems", ext, title=title, sheets=[v.sheet for v in variants]), ext))
        contents.append(_finished(_render("answers", ext, title=title, keys=[v.key for v in variants]), ext))
        if fmt in QUIZ_FILES:
            contents.append(WRITERS[fmt](title, [variant.quiz for variant in variants]))
        write_files(dict(zip(files, contents)), inputs)
    return files


def read_title(spec: dict) -> str:
    """The title of a plan's class set: the spec's title (printable, as spec.build_network keeps it), or a plain one."""
    return visible(spec.get("title") or "Backpropagation")


def load_structure(path: str | Path) -> dict:
    """A spec file read for its structure (validated; its numbers will be replaced)."""
    document = read_document(path)
    if is_layered_spec(document):
        try:
            build_layered(document)
        except SpecError as error:
            raise error.with_file(input_name(path)) from None
        return document
    if is_graph_spec(document):
        try:
            build_circuit(document)
        except SpecError as error:
            raise error.with_file(input_name(path)) from None
        return document
    spec_network(document, path)
    return document


# --- computational graphs (`graph:`) ------------------------------------------------------

#: Gates whose value stays exact (rational) when their inputs are: such a circuit gets whole numbers.
EXACT_GATES = {"add", "subtract", "multiply", "negate", "scale", "add_constant", "power", "relu", "max", "min",
               "abs", "divide", "reciprocal", "half_squared_error", "squared_error", "mse"}
#: Gates with a kink: a variant never puts an input on it (the derivative there is a convention).
KINKED_GATES = {"relu", "max", "min", "abs"}


def stays_exact(spec: dict) -> bool:
    """True when every gate of the spec's circuit keeps exact inputs exact."""
    return all(node.operation.name in EXACT_GATES for node in build_circuit(spec).graph.nodes)


class GraphDrawer:
    """Draws variants of one `graph:` plan: every input, parameter and target from the grid, the learning
    rate from round values, checked on the solution of the spec it writes.

    Args:
        plan: What to generate (``generate.Plan``).
        numbers: The grid's nonzero numbers.
        rates: The learning rates to choose from.
        places: The most decimal places a value of an exact circuit may have.
        draws: How many draws to try per variant.
    """

    def __init__(self, plan, numbers: tuple, rates: tuple, places: int, draws: int) -> None:
        self.plan, self.numbers, self.rates, self.places, self.draws = plan, numbers, rates, places, draws
        self.circuit = build_circuit(plan.spec)
        self.exact = stays_exact(plan.spec)

    def draw(self, index: int, redraw: int = 0):
        """Variant ``index`` (its ``redraw``-th fresh draw): nice numbers, worth solving, solved."""
        generator = random.Random(f"{self.plan.seed}:{index}:{redraw}")
        spec = self.plan.spec
        for _ in range(self.draws):
            drawn = {section: {name: generator.choice(self.numbers) for name in spec.get(section, {})}
                     for section in ("inputs", "parameters", "targets")}
            variant = copy.deepcopy(spec)
            for section, values in drawn.items():
                if values:
                    variant[section] = values
            rate = None
            if spec.get("learning_rate") is not None:
                rate = generator.choice(self.rates)
                variant["learning_rate"] = rate
            variant["title"] = f"Variant {index}: {spec.get('title') or 'A computational graph'}"
            try:
                solution = solve_circuit(build_circuit(variant))
            except BackpropDeriveError:  # e.g. a division by 0 or the log of a negative number
                continue
            if self.plan.for_lms and too_small(solution):
                continue
            if self._worth_solving(solution, lambda value: _short_decimal(value, self.places)):
                numbers = tuple(tuple(values.values()) for values in drawn.values()) + (rate,)
                return Draw(index, numbers, variant, solution)
        raise BackpropDeriveError(f"no draw in {self.draws} made variant {index} of the circuit worth solving with "
                                  "nice numbers: widen --weights" + (", use fewer --decimals" if self.exact else ""))

    def _worth_solving(self, solution: GraphSolution, short) -> bool:
        values = solution.values[0]
        if all(values[gradient] == 0 for gradient in solution.derivation.gradients):
            return False
        for step in solution.derivation.backward:
            if isinstance(step, Backward) and step.node.operation.name in KINKED_GATES and step.slot == 0:
                inputs = [values[argument] for argument in step.arguments]
                if (len(inputs) == 1 and inputs[0] == 0) or (len(inputs) == 2 and inputs[0] == inputs[1]):
                    return False
        return not self.exact or all(short(value) for value in values.values())


# --- the documents -----------------------------------------------------------------------


def graph_problem_sheet(solution: GraphSolution, typography: Latex):
    """The problem of a circuit: the gates, the given values and the questions, with no answer."""
    context = Context(solution.notation, typography, solution.values[0])
    circuit_block = _circuit_block(solution, context)
    givens = (Block(circuit_block.heading, circuit_block.text, table=circuit_block.table, level=2,
                    figure=circuit_diagram(solution, solved=False)), _given_block(solution, context))
    nodes = [Ref("value", node.name) for node in solution.circuit.graph.nodes]
    questions = [Question("The value of every node (the forward pass)", _names(context, nodes)),
                 Question("The gradient of every input and parameter (the backward pass)",
                          _names(context, solution.derivation.gradients))]
    if solution.updates:
        rate = typography.number(solution.circuit.learning_rate)
        questions.append(Question(f"Each parameter after one step of gradient descent with learning rate {rate}",
                                  _names(context, [update.result for update in solution.updates])))
    return Sheet(solution.title, "Work the forward and the backward pass through the circuit by hand.", givens,
                 tuple(questions))


def graph_answer_key(solution: GraphSolution, typography: Latex):
    """The answers to a circuit's problem: its output (and loss), each gradient, each new parameter."""
    context = Context(solution.notation, typography, solution.values[0])
    circuit = solution.circuit
    results = (("output", Math(context.name(Ref("value", circuit.output))),
                Math(context.value(Ref("value", circuit.output)))),)
    if circuit.loss:
        results += (("loss", Math(context.name(solution.top)), Math(context.value(solution.top))),)
    header: tuple[str, ...] = ("value", "gradient")
    rows = [(Math(context.name(Ref("value", gradient.name))), Math(context.value(gradient)))
            for gradient in solution.derivation.gradients]
    if solution.updates:
        header += ("after one step",)
        new = {update.old.name: update.result for update in solution.updates}
        rows = [row + (Math(context.value(new[gradient.name])) if gradient.name in new else "",)
                for row, gradient in zip(rows, solution.derivation.gradients)]
    return Key(solution.title, results, Table(header, tuple(rows)))


def graph_key_values(solution: GraphSolution) -> dict[str, sympy.Expr]:
    """The key's answers by their ASCII names."""
    refs = [Ref("value", solution.circuit.output), solution.top, *solution.derivation.gradients,
            *(update.result for update in solution.updates)]
    return {solution.notation.ascii(ref): solution.values[0][ref] for ref in dict.fromkeys(refs)}


def default_graph_grid(spec: dict):
    """Whole numbers from -5 to 5 for a circuit that stays exact (as CS231n's), else -3 to 3."""
    high = 5 if stays_exact(spec) else 3
    return Grid(decimal.Decimal(-high), decimal.Decimal(high), 0)


# --- networks with layer types (SPEC §2.5) --------------------------------------------------------

#: Small whole numbers: a convolution and a pooling a student works with pencil and paper.
LAYERED_GRID = Grid(decimal.Decimal(-3), decimal.Decimal(3), 0)
#: Outputs a target is drawn for from 0 and 1 (a probability), by the output layer's activation or the loss.
_PROBABILITIES = {"sigmoid", "softmax"}
#: Activations that saturate: their layer's parameters are drawn in tenths from -1 to 1, so that the unit is
#: not pinned at 0 or 1 (where its gradient vanishes).
_SATURATING = {"sigmoid", "tanh", "softmax"}
_SMALL = Grid(decimal.Decimal(-1), decimal.Decimal(1), 1)


class LayeredDrawer:
    """Draws variants of a network with layer types: every parameter, input and target from the grid (targets
    0 or 1 for a probability), checked on the solution of the spec it writes: no ReLU at its kink, no tied
    maximum in a pooling window, and a gradient that reaches the first layer.

    Args:
        plan: What to generate (``generate.Plan``).
    """

    def __init__(self, plan) -> None:
        self.plan = plan
        self.network = build_layered(plan.spec)
        self.numbers = plan.grid.values()
        if len(self.numbers) < 2:
            raise SpecError(f"the range {plan.grid.low}..{plan.grid.high} holds fewer than two nonzero numbers "
                            f"with {plan.grid.decimals} decimals; widen it", "--weights")
        last = self.network.layers[-1]
        probability = (getattr(last, "activation", None) is not None and last.activation.name in _PROBABILITIES
                       ) or self.network.loss.name in ("binary_cross_entropy", "cross_entropy")
        self.targets = (0, 1) if probability else plan.grid.values(zero=True)
        self.small = _SMALL.values() if plan.grid.decimals == 0 and plan.grid.high >= 1 else self.numbers

    def _array(self, generator: random.Random, shape: tuple, numbers: tuple) -> object:
        if not shape:
            return generator.choice(numbers)
        return [self._array(generator, shape[1:], numbers) for _ in range(shape[0])]

    def draw(self, index: int, redraw: int = 0) -> Draw:
        """Variant ``index`` (its ``redraw``-th fresh draw): nice numbers, worth solving, solved."""
        generator = random.Random(f"{self.plan.seed}:{index}:{redraw}")
        spec, network = self.plan.spec, self.network
        unsolved = 0
        for _ in range(MAX_DRAWS // 100):
            variant = copy.deepcopy(spec)
            for layer, raw in zip(network.layers, variant["layers"]):
                activation = getattr(layer, "activation", None)
                numbers = self.small if activation is not None and activation.name in _SATURATING else self.numbers
                for parameter in layer.parameters:
                    raw[parameter.key] = self._array(generator, parameter.shape, numbers)
            examples = len(network.losses)
            inputs = [self._array(generator, network.input_shape, self.numbers) for _ in range(examples)]
            variant["inputs"] = inputs if network.batched else inputs[0]
            if "targets" in spec:
                # NOTE: a sequence out (an rnn's output: all) has one target row per time step.
                targets = [self._array(generator, network.target_shape, self.targets) for _ in range(examples)]
                variant["targets"] = targets if network.batched else targets[0]
            if spec.get("learning_rate") is not None:
                variant["learning_rate"] = generator.choice(SMOOTH_RATES)
            variant["title"] = f"Variant {index}: {spec.get('title') or 'A network with layer types'}"
            try:
                solution = solve_layered(build_layered(variant))
            except BackpropDeriveError as error:
                unsolved += 1
                if unsolved == MAX_UNSOLVED_DRAWS:
                    raise BackpropDeriveError(f"{MAX_UNSOLVED_DRAWS} draws for variant {index} had no solution; the "
                                              f"last: {error}") from None
                continue
            if self.plan.for_lms and too_small(solution):
                continue
            if self._worth_solving(solution):
                numbers = (spec_yaml(variant["layers"]), spec_yaml(variant["inputs"]),
                           spec_yaml(variant.get("targets")))
                return Draw(index, numbers, variant, solution)
        raise BackpropDeriveError(f"no draw in {MAX_DRAWS // 100} made variant {index} of the network worth solving "
                                  "with nice numbers: widen --weights")

    @staticmethod
    def _worth_solving(solution: LayeredSolution) -> bool:
        values, network = solution.values[0], solution.network
        for node in network.graph.nodes:
            inputs = [values[Ref("value", name)] for name in node.inputs]
            if node.operation.name == "relu" and inputs[0] == 0:
                return False
            if node.operation.name == "max" and inputs.count(max(inputs)) > 1 and max(inputs) != 0:
                return False
            # NOTE: a batch-norm unit equal over the whole batch has σ² = 0: every x̂ is 0, nothing to normalise.
            if node.group.get("role") == "variance" and values[Ref("value", node.name)] == 0:
                return False
        # NOTE: an output pinned near a saturated 0 or 1 leaves gradients of 10^-40: nothing to work by hand.
        last = len(network.layers) - 1
        for example, tensor in zip(range(len(network.losses)), network.example_outputs):
            pre = network.pre_activations(last, example if network.batched else None) or tensor
            if any(abs(values[Ref("grad", name)]) < sympy.Rational(1, 1000) for name in pre.names):
                return False
        first = network.layers[0].parameters
        return not first or any(values[Ref("grad", name)] != 0 for parameter in first for name in parameter.names)


def layered_problem_sheet(solution: LayeredSolution, typography: Latex) -> Sheet:
    """The problem of a network with layer types: its layers and given numbers, and what to compute."""
    context = Context(solution.notation, typography, solution.values[0])
    network = solution.network
    givens = (layered_network_block(network, typography), layered_given_block(solution, context, as_table=True))
    maps = [Ref("value", node.name) for node in network.graph.nodes if not node.group.get("loss")]
    gradients = [Ref("grad", name) for name in network.parameters]
    questions = [Question("Every entry of every map (the forward pass)", _names(context, maps)),
                 Question("The loss" if not network.batched else "The cost", _names(context, [solution.top])),
                 Question("The gradient of every parameter (the backward pass)", _names(context, gradients))]
    if solution.updates:
        rate = typography.number(network.learning_rate)
        questions.append(Question(f"Each parameter after one step of gradient descent with learning rate {rate}",
                                  _names(context, [update.result for update in solution.updates])))
    return Sheet(solution.title, "Work the forward and the backward pass through the layers by hand.", givens,
                 tuple(questions))


def layered_answer_key(solution: LayeredSolution, typography: Latex) -> Key:
    """The answers: the outputs and the loss, then each parameter's gradient and new value."""
    context = Context(solution.notation, typography, solution.values[0])
    network = solution.network
    outputs = [Ref("value", name) for tensor in network.example_outputs for name in tensor.names]
    results = tuple(("output", Math(context.name(ref)), Math(context.value(ref))) for ref in outputs)
    results += (("cost" if network.batched else "loss", Math(context.name(solution.top)),
                 Math(context.value(solution.top))),)
    header: tuple[str, ...] = ("parameter", "gradient")
    rows = [(Math(context.name(Ref("value", name))), Math(context.value(Ref("grad", name))))
            for name in network.parameters]
    if solution.updates:
        header += ("after one step",)
        rows = [row + (Math(context.value(update.result)),) for row, update in zip(rows, solution.updates)]
    return Key(solution.title, results, Table(header, tuple(rows)))


def layered_key_values(solution: LayeredSolution) -> dict[str, sympy.Expr]:
    """The key's answers by their ASCII names."""
    network = solution.network
    refs = [*(Ref("value", name) for tensor in network.example_outputs for name in tensor.names), solution.top,
            *(Ref("grad", name) for name in network.parameters), *(update.result for update in solution.updates)]
    return {solution.notation.ascii(ref): solution.values[0][ref] for ref in dict.fromkeys(refs)}


#: Each kind of exercise's problem sheet and answer key.
SHEETS = {"network": (problem_sheet, answer_key), "graph": (graph_problem_sheet, graph_answer_key),
          "layered": (layered_problem_sheet, layered_answer_key)}
