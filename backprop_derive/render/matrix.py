"""Matrix style: the vectorised derivation of a layered network, its matrices read from the solution's values."""

from __future__ import annotations

from dataclasses import dataclass, replace

import sympy

from ..core.errors import BackpropDeriveError
from ..core.graph_solution import GraphSolution
from ..core.layered_solution import LayeredSolution
from ..core.network import Network, Node, Parameter
from ..core.notation import Notation, StateName
from ..core.steps import Quantity
from ..core.update import Assign, T, letters_of
from .document import Block
from .present import Context, Line, present, update_text
from .typography import Latex, Unicode


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

    # -- the update stage --

    def cell(self, key, parameter: Parameter, held) -> str:
        """One entry of an update matrix: the solution's value, or a dash where a never-updated entry has none."""
        if parameter in held and key not in self.values:
            return self.typography.missing
        return self.entry(key)

    def keys_matrix(self, group: Group, keys, held, factor: bool = False) -> str:
        if group.scalar:
            value = self.values[keys[0][0]]
            return self.typography.factor(value) if factor else self.typography.number(value)
        return self.typography.matrix([[self.cell(key, parameter, held) for key, parameter in zip(row, parameters)]
                                       for row, parameters in zip(keys, group.grid)])

    def group_values(self, group: Group, kind: str) -> str:
        return self.keys_matrix(group, tuple(tuple(Quantity(kind, parameter=p) for p in row) for row in group.grid), ())

    def group_name(self, group: Group, key: Quantity, cost_name: str) -> str:
        """The name of a whole group's quantity of ``key``'s kind: W^{[1]}, ∂J/∂W^{[1]}, v_{W^{[1]}}^{new}."""
        typography, kind = self.typography, key.kind
        name = self.notation.layer_name(group.kind, group.layer.number)
        if kind in ("param", "new"):
            return self.name(group.kind, group.layer, new=kind == "new")
        if kind == "grad":
            partial = typography.partial(cost_name, typography.spelled(name))
            return typography.group(partial) if isinstance(typography, Unicode) else partial
        letters, new = letters_of(kind)
        return typography.spelled(StateName(letters, name, new))

    def stage_line(self, group: Group, equation: StageEquation, cost_name: str, held) -> Line:
        typography, line = self.typography, equation.line
        matrices = frozenset(equation.cells) if not group.scalar else frozenset()
        names = {symbol: self.group_name(group, keys[0][0], cost_name) for symbol, keys in equation.cells.items()}
        names |= {symbol: self.shared_name(key) for symbol, key in equation.shared.items()}
        numbers = {symbol: self.keys_matrix(group, keys, held, factor=True) for symbol, keys in equation.cells.items()}
        numbers |= {symbol: typography.factor(self.values[key]) for symbol, key in equation.shared.items()}
        symbols = _Elementwise(typography, names.__getitem__, matrices, False).write(line.formula)[0]
        substituted = _Elementwise(typography, numbers.__getitem__, matrices, True).write(line.formula)[0]
        result = self.group_name(group, equation.result[0][0], cost_name)
        note = line.note
        if T in equation.shared:
            note = f"{note}, t = {Unicode(typography.precision).number(self.values[equation.shared[T]])}"
        if held and equation.result[0][0].kind == "new":
            listed = ", ".join(self.notation.text(Quantity("param", parameter=p)) for p in held)
            why = "frozen" if any(p.trainable for p in held) else "kept fixed"
            note = ", ".join(part for part in (note, f"{why} (never updated; – where it has no such value): {listed}")
                             if part)
        if len(line.reads) == 1:
            return self.line(result, symbols, self.keys_matrix(group, equation.result, held), note=note)
        return self.line(result, symbols, substituted, self.keys_matrix(group, equation.result, held), note=note)

    def shared_name(self, key) -> str:
        return self.typography.name(self.notation, key)


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


# --- the update stage, layer by layer ---------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """A layer's weights or biases as the update stage's matrix equations see them.

    Attributes:
        layer: The layer.
        kind: ``weight`` or ``bias``.
        grid: The parameters as printed: W[j][i] (W[i][j] ``by_input``), or the bias column.
        scalar: One bias shared by the layer: its equations are about one number, not a matrix.
    """

    layer: Layer
    kind: str
    grid: tuple[tuple[Parameter, ...], ...]
    scalar: bool = False

    @property
    def entries(self) -> tuple[Parameter, ...]:
        return tuple(parameter for row in self.grid for parameter in row)


@dataclass(frozen=True)
class StageEquation:
    """One line of the update stage for every entry of a group at once: ``result = formula``, element-wise.

    Attributes:
        line: The line of the first updated entry (its formula and note; every updated entry has the same).
        result: The key of each entry's result (None where the entry has no such line: frozen).
        cells: For each symbol of the formula that differs from entry to entry, each entry's key.
        shared: For each symbol the same for every entry (η, β₁, t), its key.
    """

    line: Assign
    result: tuple[tuple[Quantity | None, ...], ...]
    cells: dict
    shared: dict


def update_groups(layer: Layer, by_input: bool = False) -> tuple[Group, ...]:
    """The layer's weights (and biases) as the update stage writes them, in the printed layout."""
    weights = tuple(zip(*layer.weights)) if by_input else layer.weights
    groups = [Group(layer, "weight", tuple(tuple(row) for row in weights))]
    if isinstance(layer.biases, Parameter):
        groups.append(Group(layer, "bias", ((layer.biases,),), scalar=True))
    elif layer.biases is not None:
        groups.append(Group(layer, "bias", tuple((bias,) for bias in layer.biases)))
    return tuple(groups)


def lines_by_parameter(updates) -> dict[Parameter, list[Assign]]:
    """The update stage's lines of each parameter, in order."""
    lines: dict[Parameter, list[Assign]] = {}
    for line in updates:
        lines.setdefault(line.result.parameter, []).append(line)
    return lines


def kept(parameter: Parameter, frozen) -> bool:
    """The parameter is never updated (``frozen``, or a bias kept fixed)."""
    return parameter in frozen or not parameter.trainable


def stage_equations(group: Group, lines: dict, frozen) -> tuple[StageEquation, ...] | None:
    """The group's update lines as element-wise equations; None when its updated entries' lines differ
    (then they are written entry by entry), () when no entry is updated."""
    updated = [parameter for parameter in group.entries if not kept(parameter, frozen)]
    if not updated:
        return ()
    first = lines[updated[0]]
    for parameter in updated[1:]:
        own = lines[parameter]
        if len(own) != len(first) or any(a.formula != b.formula or [s for s, _ in a.reads] != [s for s, _ in b.reads]
                                         for a, b in zip(own, first)):
            return None
    equations = []
    for index, line in enumerate(first):
        def key_of(parameter, pick):
            if kept(parameter, frozen):
                # NOTE: a never-updated entry has no such line; its own quantity of the same kind, if any.
                key = pick(line)
                return replace(key, parameter=parameter) if getattr(key, "parameter", None) is not None else key
            return pick(lines[parameter][index])

        result = tuple(tuple(key_of(p, lambda a: a.result) for p in row) for row in group.grid)
        cells, shared = {}, {}
        for position, (symbol, key) in enumerate(line.reads):
            keys = tuple(tuple(key_of(p, lambda a, position=position: a.reads[position][1]) for p in row)
                         for row in group.grid)
            if getattr(key, "parameter", None) is None:
                shared[symbol] = key
            else:
                cells[symbol] = keys
        equations.append(StageEquation(line, result, cells, shared))
    return tuple(equations)


_ADD, _MUL, _POW, _ATOM = 1, 2, 3, 4


def _flat_factors(expr) -> list:
    if isinstance(expr, sympy.Mul):
        return [factor for argument in expr.args for factor in _flat_factors(argument)]
    return [expr]


@dataclass(frozen=True)
class _Elementwise:
    """Writes an update line's formula over whole matrices: ⊙ and ⊘ between two matrices, roots and powers
    entry by entry; ``leaf`` writes each symbol (a name, a matrix of numbers, or a number)."""

    typography: Latex
    leaf: object  # (symbol) -> str
    matrices: frozenset  # the symbols that stand for matrices
    numbers: bool  # writing the numbers (products with ·) rather than the names

    def write(self, expr) -> tuple[str, int]:
        typography = self.typography
        if isinstance(expr, sympy.Symbol):
            return self.leaf(expr), _ATOM
        if expr.is_Rational:
            return typography.factor(expr), _ATOM
        if isinstance(expr, sympy.Add):
            text = self.grouped(expr.args[0], _ADD - 1)
            for term in expr.args[1:]:
                factors = _flat_factors(term)
                if term.is_Rational and term < 0:
                    text = typography.beside(text, typography.minus_sign, typography.number(-term))
                elif factors[0] == -1:
                    rest = sympy.Mul(*factors[1:], evaluate=False) if len(factors) > 2 else factors[1]
                    text = typography.beside(text, typography.minus_sign, self.grouped(rest, _ADD))
                else:
                    text = typography.beside(text, " + ", self.grouped(term, _ADD - 1))
            return text, _ADD
        if isinstance(expr, sympy.Mul):
            return self.product(expr)
        if isinstance(expr, sympy.Pow):
            if expr.exp == sympy.Rational(1, 2):
                return typography.root(self.write(expr.base)[0]), _ATOM
            if expr.exp == -1:
                return self.product(expr)
            exponent = self.write(expr.exp)[0] if isinstance(expr.exp, sympy.Symbol) else typography.number(expr.exp)
            return typography.power(self.grouped(expr.base, _POW), exponent), _POW
        if isinstance(expr, sympy.sign):
            argument = self.write(expr.args[0])[0]
            if "\n" in argument:
                return typography.beside(typography.sign_name, typography.group(argument)), _ATOM
            return typography.apply(typography.sign_name, argument), _ATOM
        raise TypeError(f"matrix style writes no {type(expr).__name__} of an update line")

    def grouped(self, expr, level: int) -> str:
        text, precedence = self.write(expr)
        return self.typography.group(text) if precedence <= level else text

    def is_matrix(self, expr) -> bool:
        return bool(expr.free_symbols & self.matrices)

    def product(self, expr) -> tuple[str, int]:
        typography = self.typography
        factors = _flat_factors(expr)
        negative = factors.count(-1) % 2 == 1
        factors = [factor for factor in factors if factor != -1]
        over = [factor.base for factor in factors if isinstance(factor, sympy.Pow) and factor.exp == -1]
        factors = [factor for factor in factors if not (isinstance(factor, sympy.Pow) and factor.exp == -1)]
        text, previous = "", None
        for factor in factors:
            piece = self.grouped(factor, _ADD)
            if previous is None:
                text = piece
            elif self.is_matrix(previous) and self.is_matrix(factor):
                text = typography.beside(text, typography.hadamard, piece)
            else:
                text = typography.beside(text, typography.times if self.numbers else " ", piece)
            previous = factor
        text = text or typography.number(sympy.Integer(1))
        for denominator in over:
            if self.is_matrix(denominator) or isinstance(typography, Unicode):
                operator = typography.divided if self.is_matrix(denominator) and factors else "/"
                text = typography.beside(text, operator, self.grouped(denominator, _MUL))
            else:
                text = typography.fraction(text, self.write(denominator)[0])
        if negative:
            text = typography.negative(text)
        return text, _MUL


def _stage_blocks(printer: _Printer, layers: tuple[Layer, ...], cost_name: str, updates, frozen, context):
    """Each layer's update lines as element-wise matrix equations, every entry the per-parameter line's value."""
    lines = lines_by_parameter(updates)
    for layer in layers:
        for group in update_groups(layer, printer.by_input):
            equations = stage_equations(group, lines, frozen)
            if equations is None:
                for parameter in group.entries:
                    yield from (present(line, context) for line in lines[parameter])
                continue
            held = [parameter for parameter in group.entries if kept(parameter, frozen)]
            if not equations:
                yield printer.line(printer.name(group.kind, layer), printer.group_values(group, "param"),
                                   note="frozen: never updated" if any(p in frozen for p in held)
                                   else "kept fixed (update_biases: false)")
                continue
            for equation in equations:
                yield printer.stage_line(group, equation, cost_name, held)


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
    training = network.training
    if derivation.updates and training is not None and not (training.plain and not network.frozen):
        yield Block("Updates", update_text(training, typography) + " Layer by layer, each state a matrix like "
                    "its parameters (⊙ and ⊘ multiply and divide entry by entry, powers and roots are of each entry):",
                    tuple(_stage_blocks(printer, layers, cost_name, derivation.updates, set(network.frozen),
                                        context)))
    elif derivation.updates:
        yield Block("Updates", "Gradient descent, every gradient taken at the old parameters.",
                    tuple(_updates(printer, layers, cost_name)))
