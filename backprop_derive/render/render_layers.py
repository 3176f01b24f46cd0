"""The document and JSON of a layered exercise (SPEC §2.5): layer by layer, each map as a matrix, each
entry's line with numbers; backward, each gradient as the sum over the places its value is used."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from functools import cached_property

import sympy

from ..core.graph import Backward, FanIn, Ref, at
from ..core.graph_solution import GRAPH_KEYS
from ..core.layered_solution import LayeredSolution
from ..core.layers import LayeredNetwork, LayerParameter, describe_shape, size_of
from ..core.notation import Name
from ..core.numbers import settle
from ..core.operations import _Symbols
from ..core.update import parameter_updates, state_json, state_kind
from .diagram import MARGIN, RADIUS, ROW, Diagram, Label, Place, _box, _label_size, _wire
from .document import Block, Document, Math, Table
from .map_figure import MapFigure, Panel, map_mermaid, map_svg, map_tikz
from .present import Context, Line, _local_form, chain, present, update_text
from .render import (
    _short_exact,
    _tex_escape,
    build_document,
    figure_mermaid,
    figure_svg,
    figure_tikz,
    json_document,
    json_number,
    loss_per_step,
    to_json,
)
from .typography import Latex, Unicode

figure_svg.register(MapFigure, map_svg)
figure_tikz.register(MapFigure, map_tikz)
figure_mermaid.register(MapFigure, map_mermaid)

# --- presentation per layer kind ------------------------------------------------------------


@dataclass(frozen=True)
class KindPresentation:
    """How a solution speaks of one layer kind.

    Attributes:
        forward: One sentence before the layer's forward lines.
        backward: One sentence before the layer's backward lines.
        details: The layer's settings in the network's table (kernel size, stride, …).
        routes: True when a node sends back only along the entry it chose (max-pooling): the entries it
            sends nothing to are written as 0 with a remark, the one it chose with the upstream gradient alone.
        batch: True when the layer's forward pass reads the whole batch at once (batch norm's statistics): it
            is shown in one block for the batch, unit by unit, instead of one block per example.
        stages: The backward pass's stages before the parameters: (role of the layer's nodes, heading words),
            each a block of those nodes' gradients (batch norm: x̂, then σ², then μ).
        sum_order: The roles of the layer's nodes in the order a gradient summed over their uses is written
            (batch norm's ∂J/∂x as Ioffe and Szegedy write it: through x̂, then σ², then μ).
        given: Lines the forward pass starts the layer with, per example (an rnn's initial state); without it,
            each given constant the layer's nodes read (dropout's p and mask).
        figure: The layer's figure in the forward pass (an rnn unrolled over its steps), given the solution.
        blocks: The layer's backward blocks, when the generic ones do not fit (an rnn's steps from the last back).
        owns_outgoing: The layer's own backward blocks show the gradients of the values it gives the layer
            above (an rnn's h_t, which also feed the next step), so the layer above (or the loss) does not.
    """

    forward: str
    backward: str
    details: object = None
    routes: bool = False
    batch: bool = False
    stages: tuple[tuple[str, str], ...] = ()
    sum_order: tuple[str, ...] = ()
    given: object = None
    figure: object = None
    blocks: object = None
    owns_outgoing: bool = False


def _conv_details(layer) -> str:
    kernel = describe_shape(layer.kernel[2:])
    channels = f", {layer.kernel[1]} → {layer.kernel[0]} channels" if layer.kernel[:2] != (1, 1) else ""
    return (f"{kernel} kernel{channels}, stride {describe_shape(layer.stride)}, padding "
            f"{describe_shape(layer.padding)}, {layer.activation.name}")


def _pool_details(layer) -> str:
    return f"{describe_shape(layer.size)} window, stride {describe_shape(layer.stride)}"


def _rnn_details(layer) -> str:
    units = layer.units
    zero = all(value == 0 for value in layer.initial_state)
    return (f"{units} unit{'s' if units != 1 else ''}, {layer.activation.name}, h₀ {'= 0' if zero else 'given'}, "
            f"output: {layer.output}")


def _rnn_given(printer: _Printer, layer, example: int | None) -> list[Line]:
    """h_0 = [...]: the state the first step reads."""
    typography, context = printer.typography, printer.context
    names = [leaf.name for leaf in printer.network.graph.leaves if leaf.kind == "constant"
             and printer.network.labels[leaf.name].layer == f"[{layer.reading.number}]"
             and printer.network.labels[leaf.name].example == example]
    label = printer.network.labels[names[0]]
    name = Name(label.base, label.layer, ("0",), example)
    return [Line(typography.equation([typography.spelled(name),
                                      typography.matrix([[context.value(Ref("value", n)) for n in names]])]))]


def _rnn_blocks(solution: LayeredSolution, printer: _Printer, layer):
    """Backpropagation through time: at every step from the last to the first, ∂J/∂h_t (from the layer above at
    that step and from z_{t+1}, through W) and δ_t = ∂J/∂z_t; then each shared weight's gradient, the sum over
    the steps; then the inputs'."""
    network = solution.network
    index, number = layer.reading.index, layer.reading.number
    steps, units = layer.pre_shape
    for example in _examples(network):
        pre = network.pre_activations(index, example).names
        hidden = tuple(node.name for node in network.nodes_of(index, example, "activation")) or pre
        where = f", example {example + 1}" if example is not None else ""
        for t in reversed(range(steps)):
            part = slice(t * units, (t + 1) * units)
            lines = [printer.gathered(name) for name in hidden[part]]
            if hidden != pre:
                lines += [printer.gathered(name) for name in pre[part]]
            if t == steps - 1:
                text = ("The last step: its state feeds only the layer above." if layer.output == "all" else
                        "The last step: its state is what the layer gives the layer above.")
            elif layer.output == "all":
                text = (f"The state of step {t + 1} feeds the layer above and the pre-activations of step {t + 2} "
                        "(through W): its gradient is the sum of both.")
            else:
                text = (f"The state of step {t + 1} feeds only the pre-activations of step {t + 2} (through W): the "
                        "layer above reads the last state alone.")
            text += f" Then δ of step {t + 1}, the gradient of its pre-activations."
            yield Block(f"Layer {number}: rnn, step {t + 1}{where}", text, tuple(lines), level=4)
        yield Block(f"Layer {number}: rnn, every δ{where}", "The pre-activations' gradients, one row per time step.",
                    tuple(printer.map_lines(layer.pre_shape, pre, "grad")), level=4)
    lines: list[Line] = []
    for parameter in layer.parameters:
        lines += [printer.gathered(name) for name in parameter.names]
        lines += _parameter_lines(printer, parameter, "grad")
    yield Block(f"Layer {number}: rnn, the shared parameters",
                "U, W and b are the same at every step: each one's gradient is the sum over the steps (and examples) "
                "of δ times what it multiplies there: the step's input for U, the state before for W, 1 for b.",
                tuple(lines), level=4)
    below = network.layers[index - 1] if index else None
    if below is not None and presentation(below.type).owns_outgoing:
        return
    lines = []
    for example in _examples(network):
        incoming = network.boundaries[example or 0][index]
        lines += [printer.gathered(name) for name in incoming.names]
        lines += printer.map_lines(incoming.shape, incoming.names, "grad")
    yield Block(f"Layer {number}: rnn, the inputs", "Each step's input feeds only that step's pre-activations "
                "(through U).", tuple(lines), level=4)


def unrolled_diagram(solution: LayeredSolution, layer) -> Diagram:
    """An rnn unrolled as courses draw it: h_0 → h_1 → … → h_T along W, each x_t up into h_t along U, and each
    h_t up to what reads it (the layer above at every step, or at the last one only)."""
    steps = layer.shape_in[0]
    number = layer.reading.number

    def place(key: str, letter: str, index: int, x: int, y: int, above: bool = False) -> Place:
        name = Name((letter, letter, letter), "", (str(index),))
        return Place(key, MARGIN + RADIUS + x * _STEP_COLUMN, MARGIN + RADIUS + y * ROW, Label(name.tex(), name.text()),
                     None, above, False)

    def weight(letter: str) -> Label:
        name = Name((letter, letter, letter), f"[{number}]")
        return Label(name.tex(), name.text())

    previous = place("h0", "h", 0, 0, 1)
    places, edges = [previous], []
    for t in range(1, steps + 1):
        x, h = place(f"x{t}", "x", t, t, 2), place(f"h{t}", "h", t, t, 1)
        edges += [_wire(x, h, weight("U"), None), _wire(previous, h, weight("W"), None)]
        places += [x, h]
        if layer.output == "all" or t == steps:
            out = place(f"o{t}", "o", t, t, 0, above=True)
            places.append(out)
            edges.append(_wire(h, out, None, None))
        previous = h
    boxes = [_box(p.x, p.y, 2 * RADIUS, 2 * RADIUS) for p in places]
    boxes += [_box(*edge.label_at, *_label_size(edge.label)) for edge in edges if edge.label]
    bounds = (min(box[0] for box in boxes) - MARGIN, min(box[1] for box in boxes) - MARGIN,
              max(box[2] for box in boxes) + MARGIN, max(box[3] for box in boxes) + MARGIN)
    words = (f"Layer {number} unrolled over its {steps} time steps: the same U, W and b at every step; o_t is what "
             "the layer above reads" + (" at every step." if layer.output == "all" else " (the last state only)."))
    return Diagram("unrolled", tuple(places), tuple(edges), Label(words, words), bounds)


#: Between two time steps of an unrolled rnn (cm).
_STEP_COLUMN = 2.6


#: What each layer kind's blocks say. Adding a kind's presentation is one entry here (see "Adding a layer kind" in
#: core/layers.py).
PRESENTATIONS: dict[str, KindPresentation] = {
    "dense": KindPresentation(
        "Each unit's weighted sum of the values coming in, then its activation.",
        "Each pre-activation's gradient, then each weight's (δ times the input it scales, summed over the "
        "examples), then each input's (the sum over the units it feeds).",
        lambda layer: layer.activation.name),
    "conv1d": KindPresentation(
        "Each output entry is the sum over its window of input × kernel entry (cross-correlation), plus the bias.",
        "Each kernel entry is used at every position: its gradient is the correlation of the input with the "
        "upstream gradient map (the sum over its uses). Each input entry's gradient is the full convolution of "
        "the upstream gradient map with the flipped kernel.", _conv_details),
    "conv2d": KindPresentation(
        "Each output entry is the sum over its window of input × kernel entry (cross-correlation), plus the bias.",
        "Each kernel entry is used at every position: its gradient is the correlation of the input with the "
        "upstream gradient map (the sum over its uses). Each input entry's gradient is the full convolution of "
        "the upstream gradient map with the flipped kernel.", _conv_details),
    "maxpool": KindPresentation(
        "Each window's maximum; the first maximal entry (row-major) wins a tie.",
        "Each window sends its gradient to the entry that won it; every other entry gets 0.", _pool_details,
        routes=True),
    "avgpool": KindPresentation(
        "Each window's mean.",
        "Each window spreads its gradient evenly over its entries.", _pool_details),
    "flatten": KindPresentation("The map read row-major, channels first, as one vector: the same values.",
                                "The gradient map is the gradient vector laid out as the map again."),
    "batchnorm": KindPresentation(
        "Unit by unit over the batch: the mean μ, the variance σ² (biased: divided by the batch size), each "
        "example's x̂ = (x − μ)/√(σ² + ε), then a = γ·x̂ + β.",
        "γ and β are used by every example: their gradients are sums over the batch. Each input x reaches the "
        "loss along three paths, through its own x̂, through σ² and through μ: its gradient is the sum of the three.",
        lambda layer: f"ε = {Unicode(6).number(layer.epsilon)}", batch=True,
        stages=(("normalized", "the gradient of each x̂ (upstream times γ)"),
                ("variance", "the gradient of σ² (summed over the batch's x̂)"),
                ("mean", "the gradient of μ (through every x̂, and through σ², where it is 0)")),
        sum_order=("normalized", "variance", "mean")),
    "dropout": KindPresentation(
        "Inverted dropout: each unit times its mask entry m (1 kept, 0 dropped), scaled by 1/(1 − p).",
        "Each kept unit sends back the upstream gradient times m/(1 − p) = 1/(1 − p); a dropped unit sends 0.",
        lambda layer: f"p = {Unicode(6).number(layer.p)}"),
    "rnn": KindPresentation(
        "Unrolled over the time steps: at each step the pre-activations are U times the step's input, plus W times "
        "the state before (the initial state at the first step), plus b; the new state is their activation. U, W "
        "and b are the same at every step.",
        "Backpropagation through time, from the last step to the first.", _rnn_details, given=_rnn_given,
        figure=unrolled_diagram, blocks=_rnn_blocks, owns_outgoing=True),
}

_DEFAULT = KindPresentation("", "")


def presentation(kind: str) -> KindPresentation:
    """The presentation of a layer kind (a kind without an entry gets plain sentences)."""
    return PRESENTATIONS.get(kind, _DEFAULT)


# --- matrices -------------------------------------------------------------------------------


#: The letter of a whole map, by the letter of its entries (a bias vector keeps its b).
_MAP_LETTERS = {"z": "Z", "a": "A", "x": "X", "y": "Y", "h": "H"}


def matrices(shape: tuple[int, ...], texts: list[str]) -> list[tuple[int | None, list[list[str]]]]:
    """Entries (row-major) laid out as matrices: one per channel of a map, a column for a vector."""
    if len(shape) == 1:
        return [(None, [[text] for text in texts])]
    per_channel = size_of(shape[1:])
    width = shape[-1]
    laid = []
    for channel in range(shape[0]):
        entries = texts[channel * per_channel:(channel + 1) * per_channel]
        rows = [entries[start:start + width] for start in range(0, len(entries), width)]
        laid.append((channel if shape[0] > 1 else None, rows))
    return laid


class _Printer:
    """Prints one training step of a layered solution in one typography."""

    def __init__(self, solution: LayeredSolution, context: Context, marks: dict | None = None,
                 with_figures: bool = False) -> None:
        self.solution, self.context, self.marks = solution, context, marks or {}
        self.with_figures = with_figures
        self.network: LayeredNetwork = solution.network
        self.typography = context.typography
        self.notation = solution.notation
        # NOTE: a remark is words (each template escapes it), so a name in it is written in Unicode.
        self.typography_words = Unicode(context.typography.precision)

    @cached_property
    def sends(self) -> dict[str, list[Backward]]:
        """Each value's Backward steps (one per place it is used), in the derivation's order."""
        # NOTE: the walk goes from the loss back; a sum reads in the forward order of the nodes it gathers.
        found: dict[str, list[Backward]] = {}
        for step in reversed(self.solution.derivation.backward):
            if isinstance(step, Backward):
                found.setdefault(step.node.inputs[step.slot], []).append(step)
        return found

    @cached_property
    def fan_ins(self) -> dict[str, FanIn]:
        return {step.result.name: step for step in self.solution.derivation.backward if isinstance(step, FanIn)}

    def marked(self, line: Line, result: Ref) -> Line:
        return replace(line, mark=self.marks[result]) if result in self.marks else line

    def map_lines(self, shape: tuple[int, ...], names: tuple[str, ...], kind: str = "value") -> list[Line]:
        """``Z^{[1]} = [matrix]`` (∂J/∂Z^{[1]} for ``grad``, new for ``new``), one line per channel."""
        return [Line(self.typography.equation([name, matrix])) for name, matrix in self.map_pairs(shape, names, kind)]

    def map_pairs(self, shape: tuple[int, ...], names: tuple[str, ...], kind: str = "value",
                  channels: list[tuple[int, ...]] | None = None) -> list[tuple[str, str]]:
        """Each channel's (name, matrix), printed; ``channels`` indexes them otherwise than 1, 2, … (a kernel's
        (out, in) pairs).

        The map is named after its entries: z^{[1]}_{12} makes Z^{[1]}, x_{12} makes X, K^{[1]}_{11} makes K^{[1]}.
        """
        typography = self.typography
        if self.network.sequence and len(shape) == 2:
            shape = (1, *shape)  # NOTE: a sequence is one matrix, a row per time step
        texts = [self.number(Ref(kind, name)) for name in names]
        pairs = []
        for channel, rows in matrices(shape, texts):
            index = channels[channel] if channels and channel is not None else channel
            spelled = typography.spelled(self.map_name(names, index, kind))
            if kind == "grad":
                spelled = typography.partial(typography.spelled(self.network.labels[self.network.graph.output]),
                                             spelled)
            pairs.append((spelled, typography.matrix(rows)))
        return pairs

    def map_name(self, names: tuple[str, ...], channel: int | tuple[int, ...] | None, kind: str = "value") -> Name:
        """A whole map's Name, after its entries' (and its channel's number, or numbers, where it has several)."""
        label = self.network.labels[names[0]]
        letter = _MAP_LETTERS.get(label.base[1])
        # NOTE: a letter of its own (γ, β) keeps its LaTeX spelling (\gamma): only z, a, x, y become capitals.
        base = (letter, letter, letter) if letter else label.base
        indices = () if channel is None else tuple(str(i + 1) for i in (channel if isinstance(channel, tuple)
                                                                         else (channel,)))
        return Name(base, label.layer, indices, label.example, new=kind == "new")

    def forward(self, node_names) -> list[Line]:
        """Each node's line: formula → numbers → value (a max-pooling window's with the entry that won it)."""
        steps = {step.result.name: step for step in self.solution.derivation.forward}
        lines = []
        for name in node_names:
            step, line = steps[name], present(steps[name], self.context)
            if step.node.operation.name == "max":
                entries = [self.context.values[argument] for argument in step.arguments]
                winner = step.arguments[entries.index(max(entries))]
                line = replace(line, note=f"the first maximum: {self.typography_words.name(self.notation, winner)}")
            lines.append(self.marked(line, Ref("value", name)))
        return lines

    def gathered(self, name: str, routes: bool = False) -> Line:
        """``∂J/∂v = Σ upstream · local = numbers = each term's value = value`` over every use of ``v`` (one term,
        and no terms' line, if used once)."""
        context, typography = self.context, self.typography
        result = Ref("grad", name)
        uses = sorted(self.sends.get(name, []), key=_written_rank)
        symbols, numbers, terms = [], [], []
        for step in uses:
            local = settle(at(step.local, step.arguments, context.values))
            if routes and step.node.operation.name == "max":
                if local == 0:
                    continue
                symbols.append(context.name(step.upstream))
                numbers.append(context.value(step.upstream))
                terms.append(context.factor(step.result))
                continue
            if step.node.operation.arity == 1 and step.local.has(sympy.Heaviside, sympy.Piecewise):
                # NOTE: a derivative by cases (relu', leaky relu') reads as f'(z); its value is the case taken.
                function = typography.function(_Symbols, step.node.operation) + typography.prime
                factor = typography.apply(function, context.name(Ref("value", step.node.inputs[0])))
            else:
                _, factor = _local_form(step, context)
            symbols.append(context.product(context.name(step.upstream), factor))
            numbers.append(context.product(context.factor(step.upstream), typography.factor(local)))
            terms.append(context.factor(step.result))
        note = ""
        fan_in = self.fan_ins.get(name)
        if fan_in is not None and fan_in.tied:
            note = f"used at {len(fan_in.terms)} places: the gradient is the sum over its uses"
        elif routes and uses and not symbols:
            note = "not the first maximum of its window: it gets no gradient"
        if not uses:
            note = "the loss does not depend on it"
        if not symbols:
            return self.marked(chain(context.name(result), self.number(result), note=note), result)
        # NOTE: several terms: each one's value too (what each use sends back), then their sum.
        summed = (typography.sum(terms),) if len(terms) > 1 else ()
        return self.marked(chain(context.name(result), typography.sum(symbols), typography.sum(numbers), *summed,
                                 context.value(result), note=note), result)

    def number(self, ref: Ref) -> str:
        """A quantity's value printed; the gradient of a value the loss does not depend on is 0 (a map entry no
        pooling window reads)."""
        value = self.context.values.get(ref)
        return self.typography.number(_ZERO if value is None and ref.kind == "grad" else value)


def _written_rank(step: Backward) -> int:
    """Where a use's term goes in a written sum: by its node's role in its kind's ``sum_order`` (else last,
    in the derivation's order)."""
    order = presentation(str(step.node.group.get("type", ""))).sum_order
    role = step.node.group.get("role")
    return order.index(role) if role in order else len(order)


# --- the document ---------------------------------------------------------------------------


@build_document.register
def _(solution: LayeredSolution, typography: Latex, step_blocks=None, with_figures: bool = True,
      marks: dict | None = None, with_plots: bool = True) -> Document:
    first = Context(solution.notation, typography, solution.values[0])
    overview = (layered_network_block(solution.network, typography), layered_given_block(solution, first))
    steps = []
    for index, values in enumerate(solution.values):
        context = Context(solution.notation, typography, values)
        printer = _Printer(solution, context, (marks or {}) if index == 0 else {}, with_figures and index == 0)
        heading = f"Step {index + 1}" if len(solution.values) > 1 else ""
        steps.append((heading, tuple(_step_blocks(solution, printer))))
    closing = ()
    if len(solution.values) > 1:
        closing = (loss_per_step(solution, typography, solution.top, "The cost before each step's update.", with_plots),)
    return Document(solution.title or "A layered network, worked", overview, tuple(steps), closing)


def layered_network_block(network: LayeredNetwork, typography: Latex) -> Block:
    """The layers as a table (type, shapes, settings), and the loss, the batch and the learning rate in words."""
    rows = []
    shape = network.layers[0].shape_in
    for layer in network.layers:
        details = presentation(layer.type).details
        rows.append((str(layer.reading.number), layer.type, f"{describe_shape(layer.shape_in)} → "
                     f"{describe_shape(layer.shape_out)}", details(layer) if details else ""))
    words = Unicode(typography.precision)
    text = f"One example is {describe_shape(shape)} (channels first)." if len(shape) > 1 else ""
    if network.sequence:
        text = (f"One example is a sequence of {shape[0]} time step{'s' if shape[0] != 1 else ''}, each "
                f"{shape[1]} number{'s' if shape[1] != 1 else ''}.")
    text = (text + f" Loss: {network.loss.description} ({network.loss.name})").strip()
    if network.batched:
        text += (f"; the cost J is the {'mean' if network.reduction == 'mean' else 'sum'} of the "
                 f"{len(network.losses)} examples' losses")
    if network.learning_rate is not None:
        text += f"; learning rate {words.number(network.learning_rate)}"
    return Block("The network", text + ".", table=Table(("layer", "type", "shape", "settings"), tuple(rows)),
                 level=2)


def _parameter_lines(printer: _Printer, parameter: LayerParameter, kind: str = "value") -> list[Line]:
    """A parameter as the spec nests it: a number, a vector, a kernel matrix (one per pair of channels)."""
    if not parameter.shape and kind == "grad":
        return [printer.gathered(parameter.names[0])]
    return [Line(printer.typography.equation([name, matrix])) for name, matrix in _parameter_pairs(printer, parameter,
                                                                                                    kind)]


def _parameter_pairs(printer: _Printer, parameter: LayerParameter, kind: str = "value") -> list[tuple[str, str]]:
    shape = parameter.shape
    if not shape:
        ref = Ref(kind, parameter.names[0])
        return [(printer.context.name(ref), printer.context.value(ref))]
    if len(shape) == 1:
        return printer.map_pairs((1, *shape) if parameter.key == "kernels" else shape, parameter.names, kind)
    channels = list(itertools.product(*(range(size) for size in shape[:-2])))
    return printer.map_pairs((len(channels), *shape[-2:]), parameter.names, kind, channels if len(channels) > 1 else None)


def _given_pairs(solution: LayeredSolution, printer: _Printer) -> list[tuple[str, str]]:
    network = solution.network
    pairs = [pair for layer in network.layers for parameter in layer.parameters
             for pair in _parameter_pairs(printer, parameter)]
    for tensor, targets in zip(network.example_inputs, network.example_targets):
        pairs += printer.map_pairs(tensor.shape, tensor.names)
        if targets:
            pairs += printer.map_pairs(network.target_shape, targets)
    return pairs


def layered_given_block(solution: LayeredSolution, context: Context, as_table: bool = False) -> Block:
    """The parameters, then each example's input and target, as matrices (lines, or a table for a problem sheet)."""
    pairs = _given_pairs(solution, _Printer(solution, context))
    text = "The parameters, then each example's input and target."
    if as_table:
        return Block("Given values", text, table=Table(("name", "value"), tuple((Math(name), Math(value))
                                                                               for name, value in pairs)), level=2)
    lines = tuple(Line(context.typography.equation([name, value])) for name, value in pairs)
    return Block("Given values", text, lines, level=2)


def _examples(network: LayeredNetwork) -> list[int | None]:
    return list(range(len(network.losses))) if network.batched else [None]


def _step_blocks(solution: LayeredSolution, printer: _Printer):
    network = solution.network
    yield Block("Forward pass", "Layer by layer: each entry's formula, the numbers, its value; then the map.")
    for layer in network.layers:
        index, kind = layer.reading.index, presentation(layer.type)
        if kind.batch:
            nodes = [node for node in network.graph.nodes if node.group.get("layer") == index]
            lines = _constant_lines(printer, layer, nodes) + printer.forward(node.name for node in nodes)
            for example in _examples(network):
                outgoing = network.boundaries[example or 0][index + 1]
                lines += printer.map_lines(outgoing.shape, outgoing.names)
            yield Block(_layer_heading(layer, None), kind.forward, tuple(lines), level=4)
            continue
        for example in _examples(network):
            outgoing = network.boundaries[example or 0][index + 1]
            nodes = network.nodes_of(index, example)
            # NOTE: the values the layer is given besides its parameters: its own lines (an rnn's h_0), else
            # each constant its nodes read (dropout's mask).
            given = kind.given(printer, layer, example) if kind.given else _constant_lines(printer, layer, nodes)
            lines = given + printer.forward(node.name for node in nodes)
            pre = network.pre_activations(index, example)
            if pre is not None and pre.names != outgoing.names:
                lines += printer.map_lines(pre.shape, pre.names)
            if nodes:
                lines += printer.map_lines(outgoing.shape, outgoing.names)
            figure = None
            if printer.with_figures and example in (None, 0) and layer.type in ("conv1d", "conv2d"):
                figure = conv_figure(printer, layer, network.boundaries[example or 0][index], pre)
            elif printer.with_figures and example in (None, 0) and kind.figure:
                figure = kind.figure(solution, layer)
            yield Block(_layer_heading(layer, example), kind.forward, tuple(lines), level=4, figure=figure)
    losses = [node.name for node in network.graph.nodes if node.group.get("loss")]
    yield Block("Loss", "", tuple(printer.forward(losses)))
    yield Block("Backward pass", "From the loss back, layer by layer: each gradient is the sum, over the places "
                "its value is used, of the upstream gradient times the local derivative; a parameter used at several "
                "places (a kernel entry) gets the sum over its uses.")
    top = Ref("grad", network.graph.output)
    seed = [step for step in solution.derivation.backward if step.result == top]
    lines = [present(step, printer.context) for step in seed]
    if network.batched:
        lines += [printer.gathered(name) for name in network.losses]
    for example in _examples(network):
        output = network.boundaries[example or 0][-1]
        if not presentation(network.layers[-1].type).owns_outgoing:
            lines += [printer.gathered(name) for name in output.names]
    yield Block("The loss's gradients", "", tuple(lines), level=4)
    for layer in reversed(network.layers):
        yield from _backward_blocks(solution, printer, layer)
    rows = tuple((Math(printer.context.name(Ref("value", name))), Math(printer.context.value(Ref("value", name))),
                  Math(printer.context.value(Ref("grad", name))))
                 for name in network.parameters)
    yield Block("Gradients", "The gradient of every parameter.", table=Table(("parameter", "value", "gradient"), rows))
    if solution.updates:
        context = printer.context
        rows = tuple((Math(context.name(Ref("value", name))), Math(context.value(Ref("value", name))),
                      Math(context.value(Ref("grad", name))), Math(context.value(update.result)))
                     for update in parameter_updates(solution.updates) for name in (update.result.name,))
        training = network.training
        text = ("Gradient descent, every gradient taken at the old parameters." if training.plain
                and not training.frozen else update_text(training, context.typography))
        yield Block("Updates", text,
                    tuple(printer.marked(present(update, context), update.result) for update in solution.updates),
                    Table(("parameter", "old", "gradient", "new"), rows))


def _layer_heading(layer, example: int | None) -> str:
    details = presentation(layer.type).details
    settings = f" ({details(layer)})" if details else ""
    return f"Layer {layer.reading.number}: {layer.type}{settings}" + (
        f", example {example + 1}" if example is not None else "")


def _constant_lines(printer: _Printer, layer, nodes) -> list[Line]:
    """The given constants the nodes read (batch norm's ε; dropout's p and mask), each once: a number, or a map
    in the layer's shape."""
    network, seen = printer.network, {}
    for node in nodes:
        for name in node.inputs:
            leaf = network.graph.leaf(name)
            if leaf is not None and leaf.kind == "constant":
                label = network.labels[name]
                seen.setdefault((label.base, label.layer, label.example), {})[name] = None
    lines: list[Line] = []
    for names in seen.values():
        names = tuple(names)
        if len(names) == size_of(layer.shape_out) and network.labels[names[0]].indices:
            lines += printer.map_lines(layer.shape_out, names)
        else:
            lines += [Line(printer.typography.equation([printer.context.name(Ref("value", name)),
                                                        printer.context.value(Ref("value", name))]))
                      for name in names]
    return lines


def _backward_blocks(solution: LayeredSolution, printer: _Printer, layer):
    network = solution.network
    kind = presentation(layer.type)
    if kind.blocks:
        yield from kind.blocks(solution, printer, layer)
        return
    index = layer.reading.index
    below = network.layers[index - 1] if index else None
    owned = below is not None and presentation(below.type).owns_outgoing
    for role, words in kind.stages:
        names = [node.name for node in network.graph.nodes
                 if node.group.get("layer") == index and node.group.get("role") == role]
        yield Block(f"Layer {layer.reading.number}: {layer.type}, {words}", "",
                    tuple(printer.gathered(name) for name in names), level=4)
    lines: list[Line] = []
    for example in _examples(network):
        between = network.boundaries[example or 0]
        incoming, outgoing = between[index], between[index + 1]
        pre = network.pre_activations(index, example)
        if pre is not None and pre.names != outgoing.names:
            lines += [printer.gathered(name) for name in pre.names]
            lines += printer.map_lines(pre.shape, pre.names, "grad")
    for parameter in layer.parameters:
        lines += [printer.gathered(name) for name in parameter.names]
        if parameter.shape:
            lines += _parameter_lines(printer, parameter, "grad")
    for example in _examples(network):
        if owned:
            break  # NOTE: the layer below shows these gradients, in the order its own backward pass needs them
        incoming = network.boundaries[example or 0][index]
        if incoming.names == network.boundaries[example or 0][index + 1].names:
            # NOTE: flatten: the same values, so the same gradients, laid out as the map again.
            lines += printer.map_lines(incoming.shape, incoming.names, "grad")
            continue
        lines += [printer.gathered(name, kind.routes) for name in incoming.names]
        lines += printer.map_lines(incoming.shape, incoming.names, "grad")
    yield Block(f"Layer {layer.reading.number}: {layer.type}", kind.backward, tuple(lines), level=4)


# --- the convolution's figure -----------------------------------------------------------------


def conv_figure(printer: _Printer, layer, incoming, pre) -> MapFigure:
    """The input map (zero-padded as the layer reads it), the kernel and the output map of the first example,
    the first window and the entry it makes shaded (the first channel of each where there are several)."""
    values, precision = printer.context.values, printer.typography.precision
    forms = (Latex(precision), Unicode(precision))

    def grid(rows_of_values) -> tuple[tuple[tuple[str, ...], ...], ...]:
        return tuple(tuple(tuple(form.number(value) for value in row) for row in rows_of_values) for form in forms)

    spatial = incoming.shape[1:]
    per_channel = size_of(spatial)
    entries = [values[Ref("value", name)] for name in incoming.names[:per_channel]]
    rows = [entries] if len(spatial) == 1 else [entries[r * spatial[1]:(r + 1) * spatial[1]] for r in range(spatial[0])]
    pads = layer.padding if len(spatial) == 2 else (0, *layer.padding)
    zero = _ZERO
    width = len(rows[0]) + 2 * pads[1]
    padded = ([[zero] * width for _ in range(pads[0])] + [[zero] * pads[1] + row + [zero] * pads[1] for row in rows]
              + [[zero] * width for _ in range(pads[0])])
    window = layer.kernel[2:] if len(spatial) == 2 else (1, *layer.kernel[2:])
    kernels = next(p for p in layer.parameters if p.key == "kernels")
    kernel = [values[Ref("value", name)] for name in kernels.names[:size_of(layer.kernel[2:])]]
    kernel_rows = [kernel[r * window[1]:(r + 1) * window[1]] for r in range(window[0])]
    out = [values[Ref("value", name)] for name in pre.names[:size_of(pre.shape[1:])]]
    out_width = pre.shape[-1]
    out_rows = [out[r * out_width:(r + 1) * out_width] for r in range(len(out) // out_width)]

    def title(names, channel) -> Label:
        name = printer.map_name(names, channel)
        return Label(name.tex(), name.text())

    several = incoming.shape[0] > 1 or layer.kernel[0] > 1
    inputs_tex, inputs_text = grid(padded)
    kernel_tex, kernel_text = grid(kernel_rows)
    out_tex, out_text = grid(out_rows)
    shaded = frozenset((r, c) for r in range(window[0]) for c in range(window[1]))
    panels = (Panel(title(incoming.names, 0 if several else None), inputs_tex, inputs_text, shaded),
              Panel(title(kernels.names, None), kernel_tex, kernel_text),
              Panel(title(pre.names, 0 if several else None), out_tex, out_text, frozenset({(0, 0)})))
    biased = any(p.key == "biases" for p in layer.parameters)
    operators = (Label(r"\star", "⋆"), Label(r"+\; b =", "+ b =") if biased else Label("=", "="))
    padding = f", zero-padded by {describe_shape(layer.padding)}" if any(layer.padding) else ""
    words = (f"Layer {layer.reading.number}: the input map{padding}, cross-correlated with the kernel at stride "
             f"{describe_shape(layer.stride)}, gives the output map; the shaded window makes the shaded entry"
             + (" (the first channel of each)" if several else "") + ".")
    return MapFigure(f"conv{layer.reading.number}", panels, operators, Label(_tex_escape(words), words))


#: A padded entry's value.
_ZERO = sympy.Integer(0)


# --- JSON -----------------------------------------------------------------------------------


def nested(shape: tuple[int, ...], values: list):
    """Row-major values in the nesting ``shape`` says (a number for ``()``)."""
    if not shape:
        return values[0]
    step = size_of(shape[1:])
    return [nested(shape[1:], values[index * step:(index + 1) * step]) for index in range(shape[0])]


@to_json.register
def _(solution: LayeredSolution) -> dict:
    return json_document(solution, [_step_json(solution, index) for index in range(len(solution.values))])


def _step_json(solution: LayeredSolution, index: int) -> dict:
    values, network = solution.values[index], solution.network
    quantities = solution.quantities(index, exact=True)
    numbers = {name: json_number(value, f"quantities.{name}") for name, value in quantities.items()}
    named = solution.notation.ascii

    def layers(kind: str, fallback: str = "") -> list[dict]:
        def number(name: str):
            ref = Ref(kind, name) if Ref(kind, name) in values else Ref(fallback, name)
            return json_number(values[ref], f"quantities.{named(ref)}")
        return [{parameter.key: nested(parameter.shape, [number(name) for name in parameter.names])
                 for parameter in layer.parameters} for layer in network.layers]

    def example_inputs() -> list:
        shaped = [nested(network.input_shape, [numbers[named(Ref("grad", name))] for name in tensor.names])
                  for tensor in network.example_inputs]
        return shaped if network.batched else shaped[0]

    result = {
        "loss": json_number(values[solution.top], "loss"),
        "quantities": numbers,
        "exact": {name: str(value) for name, value in quantities.items() if _short_exact(value)},
        "gradients": {"layers": layers("grad"), "inputs": example_inputs()},
    }
    if solution.updates:
        result["updated"] = {"layers": layers("new")}
        # NOTE: the optimizer's state at the step's end, per layer in the parameters' own shapes.
        letters = state_json(network.training, GRAPH_KEYS, network.parameters, values)
        if letters:
            result["state"] = {letter: {"layers": layers(state_kind(letter, True), fallback=state_kind(letter))}
                               for letter in letters}
    return result

