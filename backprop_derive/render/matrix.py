"""Matrix style: the vectorised derivation of a layered network, its matrices read from the solution's values."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ..core.errors import BackpropDeriveError
from ..core.graph_solution import GraphSolution
from ..core.layered_solution import LayeredSolution
from ..core.network import Network, Node, Parameter
from ..core.notation import Notation
from ..core.steps import Quantity
from .document import Block
from .present import Context, Line, present
from .typography import Latex


@dataclass(frozen=True)
class Layer:
    """One layer of neurons as matrix style sees it.

    Attributes:
        number: 1 for the first layer of neurons.
        units: Its neurons, in order.
        below: The layer below (the inputs for layer 1), in order.
        weights: weights[j][i], from unit i below to unit j.
        biases: One bias per unit, one bias shared by all units, or none.
    """

    number: int
    units: tuple[Node, ...]
    below: tuple[Node, ...]
    weights: tuple[tuple[Parameter, ...], ...]
    biases: tuple[Parameter, ...] | Parameter | None

    @property
    def activation(self):
        return self.units[0].activation


def layers_of(network: Network) -> tuple[Layer, ...]:
    """The network as fully connected layers, for matrix style.

    Raises:
        BackpropDeriveError: the network is not layers without skips (a named graph may be:
            every neuron of a layer fed by every node of the layer below, one activation and
            either a bias on every unit or on none, the outputs exactly the last layer).
    """
    grouped = network.layers
    below: tuple[Node, ...] = network.inputs
    layers = []
    for number, units in enumerate(grouped, start=1):
        for unit in units:
            sources = {weight.source: weight for weight in unit.incoming}
            if set(sources) != set(below):
                missing = [node.name for node in below if node not in sources]
                skipping = [node.name for node in sources if node not in below]
                why = (f"takes input from node {', '.join(skipping)}, not in the layer below (a skip connection)"
                       if skipping else f"takes no input from node {', '.join(missing)} of the layer below")
                raise BackpropDeriveError(f"--style matrix needs fully connected layers: neuron {unit.name} {why}; "
                                          "use --style chain")
            if unit.activation != units[0].activation:
                raise BackpropDeriveError(f"--style matrix needs one activation per layer: neuron {unit.name} has "
                                          f"{unit.activation.name}, neuron {units[0].name} {units[0].activation.name}; "
                                          "use --style chain")
        layers.append(Layer(number, tuple(units), below,
                            tuple(tuple({w.source: w for w in unit.incoming}[node] for node in below) for unit in units),
                            _biases(units)))
        below = tuple(units)
    if set(network.outputs) != set(below) or len(network.outputs) != len(below):
        raise BackpropDeriveError("--style matrix needs the outputs to be exactly the last layer; use --style chain")
    return tuple(layers)


def _biases(units) -> tuple[Parameter, ...] | Parameter | None:
    biases = [unit.bias for unit in units]
    if all(bias is None for bias in biases):
        return None
    if any(bias is None for bias in biases):
        raise BackpropDeriveError("--style matrix needs a bias on every neuron of a layer or on none; "
                                  "use --style chain")
    if len(units) > 1 and all(bias is biases[0] for bias in biases):
        return biases[0]
    return tuple(biases)


# --- the matrices: grids of quantities, so every entry is the solution's own value ---------


def unit_grid(kind: str, units, examples: int) -> list[list[Quantity]]:
    """A layer's quantity of ``kind`` (pre, out, dout, slope, delta): a row per unit, a column per example."""
    return [[Quantity(kind, unit, example) for example in range(examples)] for unit in units]


def value_grid(nodes, examples: int) -> list[list[Quantity]]:
    """What a layer passes on (the inputs, or the neurons' outputs): a row per node, a column per example."""
    return [[Quantity("input" if node.is_input else "out", node, example) for example in range(examples)]
            for node in nodes]


def weight_grid(layer: Layer, kind: str = "param", by_input: bool = False) -> list[list[Quantity]]:
    """The layer's weights (``param``), their gradients (``grad``) or new values (``new``): W[j][i],
    or W[i][j] ``by_input`` (``weights_layout: input_by_unit``)."""
    rows = [[Quantity(kind, parameter=weight) for weight in row] for row in layer.weights]
    return [list(column) for column in zip(*rows)] if by_input else rows


def bias_grid(layer: Layer, kind: str = "param") -> list[list[Quantity]]:
    """The layer's biases as a column (one entry for a shared bias)."""
    biases = (layer.biases,) if isinstance(layer.biases, Parameter) else layer.biases
    return [[Quantity(kind, parameter=bias)] for bias in biases]


def jacobian_grid(layer: Layer, example: int) -> list[list[Quantity]]:
    """A softmax layer's Jacobian for one example: row k, column j holds ∂a_k/∂z_j."""
    return [[Quantity("jacobian", output, example, other=unit) for unit in layer.units] for output in layer.units]


# --- printing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Printer:
    """Prints one training step's matrices in one typography, every entry from ``values``."""

    notation: Notation
    typography: Latex
    values: dict
    examples: int
    by_input: bool = False  # the spec writes W[i][j] (x·W): shown as written, so W x reads Wᵀ x

    def entry(self, quantity: Quantity) -> str:
        return self.typography.number(self.values[quantity])

    def grid(self, rows) -> str:
        """A matrix of quantities' values: rows of quantities."""
        return self.typography.matrix([[self.entry(quantity) for quantity in row] for row in rows])

    def per_unit(self, kind: str, units) -> str:
        return self.grid(unit_grid(kind, units, self.examples))

    def values_of(self, nodes) -> str:
        return self.grid(value_grid(nodes, self.examples))

    def name(self, kind: str, layer: Layer | int, final: bool = False, new: bool = False) -> str:
        number = layer if isinstance(layer, int) else layer.number
        return self.typography.spelled(self.notation.layer_name(kind, number, final, new))

    def params(self, layer: Layer, kind: str = "param") -> str:
        return self.grid(weight_grid(layer, kind, self.by_input))

    def oriented(self, text: str, transposed: bool) -> str:
        """``text`` transposed where the formula needs the unit-by-input W and the spec is the other way."""
        return self.typography.transposed(text) if transposed != self.by_input else text

    def bias_vector(self, layer: Layer, kind: str = "param") -> str:
        if isinstance(layer.biases, Parameter):
            return self.entry(Quantity(kind, parameter=layer.biases))
        return self.grid(bias_grid(layer, kind))

    def line(self, *parts: str, note: str = "") -> Line:
        return Line(self.typography.equation([part for part in parts if part]), note)


def _forward(printer: _Printer, layers: tuple[Layer, ...]):
    typography = printer.typography
    last = layers[-1]
    for layer in layers:
        final = layer is last
        below = printer.name("out", layer.number - 1)
        symbols = [printer.oriented(printer.name("weight", layer), False), " ", below]
        numbers = [printer.oriented(printer.params(layer), False), " ", printer.values_of(layer.below)]
        if layer.biases is not None:
            symbols += [" + ", printer.name("bias", layer)]
            numbers += [" + ", printer.bias_vector(layer)]
        yield printer.line(printer.name("pre", layer), typography.beside(*symbols), typography.beside(*numbers),
                           printer.per_unit("pre", layer.units))
        applied = typography.applied(printer.notation, layer.activation, printer.name("pre", layer))
        yield printer.line(printer.name("out", layer, final), applied,
                           printer.per_unit("out", layer.units))


def _backward(printer: _Printer, layers: tuple[Layer, ...], loss_name: str):
    typography = printer.typography
    last = layers[-1]
    for layer in reversed(layers):
        final = layer is last
        delta = printer.name("delta", layer)
        out, pre = printer.name("out", layer, final), printer.name("pre", layer)
        function = typography.function(printer.notation, layer.activation)
        slope = typography.apply(function + typography.prime, pre)
        if final:
            dout = typography.partial(loss_name, out)
            yield printer.line(dout, printer.per_unit("dout", layer.units))
            if layer.activation.layerwise:
                yield from _softmax_deltas(printer, layer, dout)
                continue
            first = dout
        else:
            above = layers[layer.number]
            first = typography.beside(printer.oriented(printer.name("weight", above), True), " ",
                                      printer.name("delta", above))
            yield printer.line(typography.partial(loss_name, out), first,
                               typography.beside(printer.oriented(printer.params(above), True), " ",
                                                 printer.per_unit("delta", above.units)),
                               printer.per_unit("dout", layer.units))
        yield printer.line(delta, typography.beside(first, typography.hadamard, slope),
                           typography.beside(printer.per_unit("dout", layer.units), typography.hadamard,
                                             printer.per_unit("slope", layer.units)),
                           printer.per_unit("delta", layer.units))


def _softmax_deltas(printer: _Printer, layer: Layer, dout: str):
    """δ of a softmax layer, example by example: the Jacobian's transpose times ∂L/∂a."""
    typography = printer.typography
    pre, out = printer.name("pre", layer), printer.name("out", layer, True)
    jacobian = typography.transposed(typography.group(typography.partial(out, pre)))
    for example in range(printer.examples):
        matrix = typography.transposed(printer.grid(jacobian_grid(layer, example)))
        column = printer.grid([[Quantity("dout", unit, example)] for unit in layer.units])
        result = printer.grid([[Quantity("delta", unit, example)] for unit in layer.units])
        note = f"example {example + 1}" if printer.examples > 1 else ""
        yield printer.line(printer.name("delta", layer), typography.beside(jacobian, " ", dout),
                           typography.beside(matrix, " ", column), result, note=note)


def _gradients(printer: _Printer, layers: tuple[Layer, ...], cost_name: str, scale: sympy.Rational):
    typography = printer.typography
    factor = "" if scale == 1 else typography.number(scale) + " "
    for layer in layers:
        delta, below = printer.name("delta", layer), printer.name("out", layer.number - 1)
        symbols = (delta, typography.transposed(below))
        numbers = (printer.per_unit("delta", layer.units), typography.transposed(printer.values_of(layer.below)))
        if printer.by_input:
            # NOTE: ∂J/∂W in the spec's x·W layout is the transpose of δ aᵀ: a δᵀ.
            symbols = (below, typography.transposed(delta))
            numbers = (printer.values_of(layer.below), typography.transposed(printer.per_unit("delta", layer.units)))
        yield printer.line(typography.partial(cost_name, printer.name("weight", layer)),
                           typography.beside(factor, symbols[0], " ", symbols[1]),
                           typography.beside(factor, numbers[0], " ", numbers[1]),
                           printer.params(layer, "grad"))
        if layer.biases is None:
            continue
        shared = isinstance(layer.biases, Parameter)
        deltas = printer.per_unit("delta", layer.units)
        if shared or printer.examples > 1:
            note = "every entry of δ summed" if shared else "each row of δ summed over the examples"
            yield printer.line(typography.partial(cost_name, printer.name("bias", layer)),
                               typography.beside(factor, typography.summation, delta),
                               typography.beside(factor, typography.summation, deltas),
                               printer.bias_vector(layer, "grad"), note=note)
        else:
            yield printer.line(typography.partial(cost_name, printer.name("bias", layer)), delta, deltas)


def _updates(printer: _Printer, layers: tuple[Layer, ...], cost_name: str):
    typography = printer.typography
    rate = typography.spelled(printer.notation.name(Quantity("rate")))
    eta = typography.factor(printer.values[Quantity("rate")])
    for layer in layers:
        parameters = [("weight", printer.params(layer), printer.params(layer, "grad"), printer.params(layer, "new"))]
        if layer.biases is not None:
            parameters.append(("bias", printer.bias_vector(layer), printer.bias_vector(layer, "grad"),
                               printer.bias_vector(layer, "new")))
        for kind, old, gradient, new in parameters:
            name = printer.name(kind, layer)
            if kind == "bias" and not _trainable(layer):
                yield printer.line(name, old, note="kept fixed (update_biases: false)")
                continue
            yield printer.line(printer.name(kind, layer, new=True),
                               typography.beside(name, typography.minus_sign, rate, " ",
                                                 typography.partial(cost_name, name)),
                               typography.beside(old, typography.minus_sign, eta, " ", gradient), new)


def _trainable(layer: Layer) -> bool:
    biases = layer.biases if isinstance(layer.biases, tuple) else (layer.biases,)
    return all(bias.trainable for bias in biases)


def matrix_layers(solution) -> tuple[Layer, ...]:
    """The layers matrix style writes ``solution`` in.

    Called before any format is written (JSON too), so that a solution matrix style cannot write
    is the same usage error whatever the format.

    Raises:
        BackpropDeriveError: a circuit, a network that is not fully connected layers, or one with
            what matrix style does not write (error terms, input gradients, thresholds).
    """
    if isinstance(solution, LayeredSolution):
        raise BackpropDeriveError("--style matrix is for layers of neurons; a network with layer types is solved "
                                  "layer by layer, its maps written as matrices already")
    if isinstance(solution, GraphSolution):
        raise BackpropDeriveError("--style matrix is for layers of neurons; a circuit is solved gate by gate")
    network = solution.network
    layers = layers_of(network)
    unshown = [what for what, asked in (("error terms (options.delta: error_term)", network.options.error_term),
                                        ("input gradients (options.input_gradients)", network.options.input_gradients),
                                        ("thresholds", any(p.kind == "threshold" for p in network.parameters)))
               if asked]
    if unshown:
        raise BackpropDeriveError(f"--style matrix does not write {' or '.join(unshown)}; use --style chain")
    return layers


def matrix_step_blocks(solution, context: Context, chain_figure=None):
    """One training step in matrix style: the blocks of its forward pass, loss, backward pass, updates.

    Every matrix entry is a value of the solution (``context.values``), the same objects
    chain style prints. ``chain_figure`` (a Diagram of the chain rule's paths) goes with the
    backward pass.
    """
    network, derivation, notation = solution.network, solution.derivation, solution.notation
    layers = matrix_layers(solution)
    printer = _Printer(notation, context.typography, context.values, len(network.examples),
                       network.weights_layout == "input_by_unit")
    typography = context.typography
    loss_name = typography.spelled(notation.name(Quantity("loss")))
    cost_name = typography.spelled(notation.name(Quantity("cost")))
    columns = " (one column per example)" if network.batched else ""
    yield Block("Forward pass", f"Layer by layer{columns}: the weighted sums, then the activation of each entry.",
                tuple(_forward(printer, layers)))
    yield Block("Loss", "", tuple(present(step, context) for step in derivation.losses))
    yield Block("Backward pass", "From the output layer back: δ of a layer from the δ of the layer above "
                "(⊙ multiplies entry by entry).", tuple(_backward(printer, layers, loss_name)), figure=chain_figure)
    how = (" averaged over the batch" if derivation.gradients[0].scale != 1 else " summed over the batch") \
        if network.batched else ""
    yield Block("Gradients", f"Each layer's gradients from its δ and the layer below{how}.",
                tuple(_gradients(printer, layers, cost_name, derivation.gradients[0].scale)))
    if derivation.updates:
        yield Block("Updates", "Gradient descent, every gradient taken at the old parameters.",
                    tuple(_updates(printer, layers, cost_name)))
