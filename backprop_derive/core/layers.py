"""Layered exercises (SPEC §2.5): a `layers:` spec whose layers have kinds, each compiled to the operation graph.

``LAYER_KINDS`` has one entry per ``type``. An entry reads and validates its layer's fields given the shape
that comes in, says the shape that goes out, lists its parameters, and compiles one example's pass to
leaves and nodes of ``graph.Graph``: one scalar node per entry, each parameter one leaf shared by all its
uses (tied), so that graph.derive sums a parameter's gradient over its uses. Everything a solution
shows about a node (layer, kind, role, position, example) is in ``Node.group``.

Adding a layer kind
-------------------
1. Here: one entry in ``LAYER_KINDS`` (key = the spec's ``type``). The kind has ``fields`` (the keys it
   takes; unknown keys are refused for it), ``example_shape(raw, path)`` (axes of one example when it comes
   first; None: it cannot) and ``read(raw, reading, shape_in)``, which validates the fields (``SpecError``
   naming ``f"{reading.path}.field[0]"``) and returns a frozen layer. ``shape_in`` is one example's shape,
   channels first; ``Reading`` gives the index, path, options and the batch (``examples``, ``batched``).
   The layer has ``type``, ``reading``, ``shape_in``, ``shape_out``, ``parameters`` (each made by
   ``parameter(...)`` or as a ``LayerParameter``: one leaf per entry, tied over every use), ``edges()`` (the
   node inputs one example's pass makes: the size bounds), and either ``compile(builder, incoming, example,
   parameters)`` (one example) or ``compile_batch(builder, incoming, examples, parameters)`` (the whole batch
   at once: batch norm's statistics). They add nodes by ``builder.node(entry_name(...), operation, inputs,
   layer=, type=, role=, position=, example=)`` (``role`` ``pre`` is shown as ∂J/∂Z) and leaves by
   ``builder.leaf(label, "constant", value)``. A kind that reads a whole sequence sets ``sequence = True``
   (the rnn); a layer above a sequence is wrapped in ``Stepped`` and applied at every time step
   (``Builder.at_step``), unless it compiles the whole batch, which is refused there.
2. ``render/render_layers.py``: one ``KindPresentation`` in ``PRESENTATIONS`` (its sentences and settings;
   optional hooks: ``routes``, ``batch``/``stages``/``sum_order``, ``given``/``figure``/``blocks``/
   ``owns_outgoing``).
3. Optionally a mistake in ``jobs/mistakes.py``'s ``LAYER_MISTAKES``: a maker yielding ``(detail, changes)``,
   the changed backward steps found by ``step.node.group``.
4. Tests: an independent oracle (a direct mpmath forward pass in the test, central differences) over
   hypothesis-drawn cases, and one bad-input case per field (path, message, exit code 2); see
   tests/test_layers.py. Loss, batch mean, update, JSON, names, check, derive and ``generate --from`` need
   nothing more.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

import sympy

from .circuit import Circuit, _fixed, _loss_shape
from .errors import SpecError
from .formula import X
from .graph import Graph, Leaf, Node
from .limits import MAX_EXAMPLES, MAX_PARAMETERS, MAX_WRITTEN
from .network import Options
from .notation import Name
from .operations import ARGUMENTS, Operation, _applied, as_sympy_prints, weighted_sum
from .rules import LOSSES, Activation, Loss
from .spec import _activation, _known_keys, _list, _mapping, _number, _options, describe, read_training
from .update import SPEC_KEYS, Training

TOP_LEVEL = {"title", "inputs", "targets", "target_classes", "layers", "loss", "learning_rate", "options", *SPEC_KEYS}
#: The options a layered exercise takes (the others shape the neuron-by-neuron solution of dense specs).
OPTIONS = {"relu_derivative_at_zero", "reduction", "precision", "input_gradients"}
#: The most node inputs (edges) one example's graph may have, and all examples' together: each edge is
#: a backward step (about 0.1 ms); a 28×28 map through a 3×3 kernel and a 10-unit softmax has about 18,000.
MAX_EDGES = 60_000
#: The most a kernel, a stride, a padding or a pooling window may measure along one axis.
MAX_WINDOW = 32
#: The most inputs one node may have: a weighted sum of 1,024 (value, weight) pairs and a bias.
MAX_ARITY = 2 * 1024 + 1


# --- shapes and tensors -------------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    """One example's values at a layer boundary: a shape (channels first) and each entry's leaf or node name,
    row-major."""

    shape: tuple[int, ...]
    names: tuple[str, ...]

    def at(self, index: Sequence[int]) -> str:
        """The name at a multi-index (0-based)."""
        flat = 0
        for size, position in zip(self.shape, index):
            flat = flat * size + position
        return self.names[flat]

    def indices(self):
        """Every multi-index, row-major."""
        return itertools.product(*(range(size) for size in self.shape))


def size_of(shape: tuple[int, ...]) -> int:
    """How many entries a shape holds."""
    count = 1
    for size in shape:
        count *= size
    return count


def describe_shape(shape: tuple[int, ...]) -> str:
    """``4×4``, ``2×3×3`` (channels first), ``10``."""
    return "×".join(str(size) for size in shape)


@dataclass(frozen=True)
class LayerParameter:
    """One of a layer's parameters as the spec gives it: its key, its shape as written, each entry's leaf.

    Attributes:
        key: The spec's key (``kernels``, ``biases``, ``weights``).
        shape: The nesting the spec wrote it in (``()`` for a single number).
        names: Each entry's leaf name, row-major.
        values: Each entry's value, row-major.
        labels: Each entry's display Name.
    """

    key: str
    shape: tuple[int, ...]
    names: tuple[str, ...]
    values: tuple[sympy.Rational, ...]
    labels: tuple[Name, ...]


# --- the graph under construction ---------------------------------------------------------


class Builder:
    """Collects leaves and nodes in order, and the display Name of each."""

    def __init__(self) -> None:
        self.leaves: list[Leaf] = []
        self.nodes: list[Node] = []
        self.labels: dict[str, Name] = {}
        self._step: tuple[int, bool] | None = None

    @contextmanager
    def at_step(self, step: int, single: bool = False):
        """Within it, every leaf and node belongs to time ``step`` (0-based; −1 for the initial state): the step
        comes first among its indices (``h^{[1]}_{21}``: step 2, unit 1), alone where ``single`` (one unit:
        ``h^{[1]}_{2}``), and in its group as ``step``."""
        outer, self._step = self._step, (step, single)
        try:
            yield
        finally:
            self._step = outer

    def leaf(self, label: Name, kind: str, value: sympy.Rational) -> str:
        """Add a leaf named by ``label`` (its ASCII form is its name in the graph)."""
        name = self._named(label)
        self.leaves.append(Leaf(name, kind, value))
        return name

    def node(self, label: Name, operation: Operation, inputs: tuple[str, ...], **group: object) -> str:
        """Add a node computed by ``operation`` from ``inputs``; ``group`` is its presentation data."""
        name = self._named(label)
        if "layer" in group:
            group.setdefault("field", f"layers[{group['layer']}]")  # NOTE: where an error in its value points
        if self._step is not None:
            group = {**group, "step": self._step[0]}
        self.nodes.append(Node(name, operation, inputs, group=MappingProxyType(group)))
        return name

    def _named(self, label: Name) -> str:
        if self._step is not None:
            step, single = self._step
            label = replace(label, indices=(str(step + 1),) + (() if single else label.indices))
        name = label.ascii()
        if name in self.labels:
            raise ValueError(f"two quantities named {name}")  # NOTE: a bug of a layer kind, not of the spec
        self.labels[name] = label
        return name


def entry_name(letter: str, layer: int | None, index: Sequence[int], example: int | None,
               tex: str | None = None) -> Name:
    """The Name of one entry: ``z^{[1]}_{12}`` (1-based indices), with the example's mark in a batch."""
    base = (tex or letter, letter, letter)
    return Name(base, f"[{layer}]" if layer is not None else "", tuple(str(i + 1) for i in index), example)


# --- operations the layer kinds use --------------------------------------------------------


@cache
def activation_operation(activation: Activation) -> Operation:
    """An element-wise activation as a gate: f(a) from the rules' formula, written with its symbol."""
    formula = activation.formula
    return Operation(activation.name, 1, lambda a: formula.xreplace({X: a}), _applied,
                     f"the {activation.name} gate multiplies the gradient by {activation.name}'(z)",
                     activation.tex or r"\operatorname{" + activation.name + "}", activation.text or activation.name,
                     kink=activation.derivative_at_zero, defined=True, delimits=True)


@cache
def softmax_operation(units: int) -> Operation:
    """Softmax of the first of ``units`` inputs over all of them: e^a₀ / Σⱼ e^aⱼ (the unit's own input first)."""
    def forward(*arguments):
        return sympy.exp(arguments[0]) / sympy.Add(*(sympy.exp(argument) for argument in arguments))

    return Operation("softmax", units, forward, as_sympy_prints,
                     "softmax sends back to every input of the layer: ∂aₖ/∂zⱼ = aₖ(δₖⱼ − aⱼ)")


@dataclass(frozen=True)
class _FirstMax(Operation):
    """The maximum of a window; its gradient goes to the first maximal entry (row-major), as PyTorch's."""

    def locals(self, constant: sympy.Expr | None = None) -> tuple[sympy.Expr, ...]:
        return _first_max_locals(self.arity)


@cache
def _first_max_locals(arity: int) -> tuple[sympy.Expr, ...]:
    arguments = ARGUMENTS[:arity]
    # NOTE: entry i wins when it is above every entry before it and not below any after it.
    return tuple(sympy.Mul(*(sympy.Heaviside(arguments[i] - arguments[j], 0) for j in range(i)),
                           *(sympy.Heaviside(arguments[i] - arguments[j], 1) for j in range(i + 1, arity)))
                 for i in range(arity))


@cache
def max_operation(arity: int) -> Operation:
    """The max of ``arity`` entries (a max-pooling window)."""
    return _FirstMax("max", arity, sympy.Max, _applied, "max-pooling routes the gradient to the first maximal entry",
                     r"\max", "max", delimits=True)


@cache
def average_operation(arity: int) -> Operation:
    """The mean of ``arity`` entries (an average-pooling window)."""
    return Operation("average", arity, lambda *arguments: sympy.Add(*arguments) / arity, as_sympy_prints,
                     f"average-pooling spreads the gradient evenly: 1/{arity} to each entry of the window")


@cache
def mean_operation(count: int, scale: sympy.Rational) -> Operation:
    """The cost of a batch: ``scale`` times the sum of ``count`` losses (1/m for the mean, 1 for the sum)."""
    return Operation("cost", count, lambda *arguments: scale * sympy.Add(*arguments), as_sympy_prints,
                     "the cost gives each example's loss the gradient times its weight in the cost")


# --- the layer kinds ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What a kind is told when it reads its layer: where it is, and the exercise's options."""

    index: int  # 0-based position in ``layers``
    path: str  # ``layers[1]``
    options: Options
    examples: int = 1  # how many examples the batch has
    batched: bool = False  # the inputs were given as a batch

    @property
    def number(self) -> int:
        """The layer's number as a solution writes it (1-based)."""
        return self.index + 1


class Layer(Protocol):
    """A read, validated layer: what a kind's ``read`` returns."""

    type: ClassVar[str]
    reading: Reading
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    parameters: tuple[LayerParameter, ...]

    def edges(self) -> int:
        """How many node inputs one example's pass through the layer makes (to bound the work)."""

    def compile(self, builder: Builder, incoming: Tensor, example: int | None,
                parameters: dict[str, LayerParameter]) -> Tensor:
        """One example's pass: add its nodes to ``builder``, return the tensor that goes out."""


class LayerKind(Protocol):
    """One entry of LAYER_KINDS."""

    fields: frozenset[str]

    def example_shape(self, raw: dict, path: str) -> int | None:
        """How many axes one example has when this layer comes first (None: it cannot come first)."""

    def read(self, raw: dict, reading: Reading, shape_in: tuple[int, ...]) -> Layer:
        """Validate the layer's fields given the incoming shape (channels first)."""


def _whole(raw: Any, path: str, what: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise SpecError(f"expected {what} (a whole number from {low} to {high}), got {describe(raw)}", path)
    return raw


def _pair(raw: Any, path: str, axes: int, what: str, low: int, high: int) -> tuple[int, ...]:
    """A size along each axis: one whole number for all, or a list of one per axis."""
    if isinstance(raw, list):
        if len(raw) != axes:
            raise SpecError(f"expected {what}: one whole number, or a list of {axes}, got {describe(raw)}", path)
        return tuple(_whole(item, f"{path}[{axis}]", what, low, high) for axis, item in enumerate(raw))
    return (_whole(raw, path, what, low, high),) * axes


def read_array(raw: Any, path: str, rank: int, what: str) -> tuple[tuple[int, ...], list[sympy.Rational]]:
    """A rectangular nested list of numbers of ``rank`` levels: its shape and its entries row-major."""
    if rank == 0:
        return (), [_number(raw, path)]
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"expected {what}, got {describe(raw)}", path)
    shapes, values = set(), []
    for index, item in enumerate(raw):
        shape, entries = read_array(item, f"{path}[{index}]", rank - 1, what)
        shapes.add(shape)
        if len(shapes) > 1:
            raise SpecError(f"expected {what}, each row as long as the first ({describe_shape(next(iter(shapes)))}), "
                            f"got {describe_shape(shape) or 'a number'}", f"{path}[{index}]")
        values.extend(entries)
    return (len(raw), *shapes.pop()), values


def depth(raw: Any) -> int:
    """How deeply lists nest at the start of ``raw`` (0 for a number)."""
    level = 0
    while isinstance(raw, list) and raw:
        raw, level = raw[0], level + 1
    return level


def parameter(key: str, path: str, layer: int, shape: tuple[int, ...], values: list, letter: str,
              tex: str | None = None) -> LayerParameter:
    """A parameter's entries, each named ``letter^{[layer]}_{indices}`` (1-based, as the spec nests them)."""
    indices = list(itertools.product(*(range(size) for size in shape)))
    labels = tuple(entry_name(letter, layer, index, None, tex) for index in indices)
    return LayerParameter(key, shape, tuple(label.ascii() for label in labels), tuple(values), labels)


def _activate(builder: Builder, layer, activation: Activation, pre: Tensor, example: int | None,
              letter: str = "a") -> Tensor:
    """The activation applied entry by entry (nothing for the identity): ``a = f(z)``."""
    if activation.name == "identity":  # NOTE: by name: leaky_relu with α = 1 is x too, but still written as f(z)
        return pre
    operation = activation_operation(activation)
    names = tuple(builder.node(entry_name(letter, layer.reading.number, _shown(pre.shape, index), example),
                               operation, (name,), layer=layer.reading.index, type=layer.type, role="activation",
                               position=index, example=example)
                  for index, name in zip(pre.indices(), pre.names))
    return Tensor(pre.shape, names)


def _shown(shape: tuple[int, ...], index: tuple[int, ...]) -> tuple[int, ...]:
    """The indices a map's entry is written with: the channel left out where there is only one."""
    return index[1:] if len(shape) > 1 and shape[0] == 1 else index


@dataclass(frozen=True)
class DenseLayer:
    """A fully connected layer: z = W a + b, then the activation (the input is read row-major, flattened)."""

    type: ClassVar[str] = "dense"
    reading: Reading
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    parameters: tuple[LayerParameter, ...]
    activation: Activation

    def edges(self) -> int:
        units, inputs = self.shape_out[0], size_of(self.shape_in)
        return units * (2 * inputs + 1) + units * (units if self.activation.layerwise else 1)

    def compile(self, builder: Builder, incoming: Tensor, example: int | None,
                parameters: dict[str, LayerParameter]) -> Tensor:
        weights, biases = parameters["weights"], parameters.get("biases")
        units, inputs = self.shape_out[0], len(incoming.names)
        number = self.reading.number
        operation = weighted_sum(inputs, 1 if biases else 0)
        pre = []
        for unit in range(units):
            pairs = tuple(name for i, source in enumerate(incoming.names)
                          for name in (weights.names[unit * inputs + i], source))
            bias = (biases.names[unit if len(biases.names) > 1 else 0],) if biases else ()
            pre.append(builder.node(entry_name("z", number, (unit,), example), operation, pairs + bias,
                                    layer=self.reading.index, type=self.type, role="pre", position=(unit,),
                                    example=example))
        z = Tensor(self.shape_out, tuple(pre))
        if not self.activation.layerwise:
            return _activate(builder, self, self.activation, z, example)
        softmax = softmax_operation(units)
        names = tuple(builder.node(entry_name("a", number, (unit,), example), softmax,
                                   (z.names[unit],) + tuple(name for j, name in enumerate(z.names) if j != unit),
                                   layer=self.reading.index, type=self.type, role="activation", position=(unit,),
                                   example=example)
                      for unit in range(units))
        return Tensor(self.shape_out, names)


class Dense:
    """``type: dense``: activation, weights (one row per unit), biases (one per unit, or one shared)."""

    fields = frozenset({"type", "activation", "weights", "biases"})

    def example_shape(self, raw: dict, path: str) -> int | None:
        return 1

    def read(self, raw: dict, reading: Reading, shape_in: tuple[int, ...]) -> DenseLayer:
        path, inputs = reading.path, size_of(shape_in)
        for required in ("activation", "weights"):
            if required not in raw:
                raise SpecError("missing", f"{path}.{required}")
        activation = _activation(raw["activation"], f"{path}.activation", reading.options, dense=True)
        if 2 * inputs + 1 > MAX_ARITY:
            raise SpecError(f"a dense layer reads at most {(MAX_ARITY - 1) // 2:,} values, but the layer below gives "
                            f"{describe_shape(shape_in)} = {inputs:,}", f"{path}.weights")
        what = f"a list of rows (weights[j][i] from input i to unit j), each of {inputs} numbers"
        shape, values = read_array(raw["weights"], f"{path}.weights", 2, what)
        if shape[1] != inputs:
            raise SpecError(f"expected {what} (the layer below gives {describe_shape(shape_in)} = {inputs} values), "
                            f"got rows of {shape[1]}", f"{path}.weights[0]")
        parameters = [parameter("weights", f"{path}.weights", reading.number, shape, values, "W")]
        if raw.get("biases") is not None:
            parameters.append(_biases(raw["biases"], f"{path}.biases", reading.number, shape[0], "unit"))
        return DenseLayer(reading, shape_in, (shape[0],), tuple(parameters), activation)


def _biases(raw: Any, path: str, layer: int, count: int, each: str) -> LayerParameter:
    """One bias per unit (or output channel), or one number shared by all of them."""
    if not isinstance(raw, list):
        return parameter("biases", path, layer, (), [_number(raw, path)], "b")
    shape, values = read_array(raw, path, 1, f"a list of {count} numbers, one per {each}")
    if shape[0] != count:
        raise SpecError(f"expected {count} number{'s' if count != 1 else ''} (one per {each}), or one number shared "
                        f"by all, got {shape[0]}", path)
    return parameter("biases", path, layer, shape, values, "b")


@dataclass(frozen=True)
class ConvLayer:
    """A convolution (PyTorch's cross-correlation) over 1 or 2 spatial axes, then the activation."""

    type: str
    reading: Reading
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    parameters: tuple[LayerParameter, ...]
    activation: Activation
    kernel: tuple[int, ...]  # (out, in, k…)
    stride: tuple[int, ...]
    padding: tuple[int, ...]

    def edges(self) -> int:
        window = size_of(self.kernel[1:])
        outputs = size_of(self.shape_out)
        return outputs * (2 * window + 1) + (0 if self.activation.name == "identity" else outputs)

    def taps(self, position: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """For output entry (channel, spatial…): each (kernel index, input index) it sums over; padding left out."""
        channel, spatial = position[0], position[1:]
        found = []
        for kernel_index in itertools.product(*(range(size) for size in self.kernel[1:])):
            source_channel, offsets = kernel_index[0], kernel_index[1:]
            where = tuple(out * step - pad + offset for out, step, pad, offset
                          in zip(spatial, self.stride, self.padding, offsets))
            if all(0 <= at < size for at, size in zip(where, self.shape_in[1:])):
                found.append(((channel, *kernel_index), (source_channel, *where)))
        return found

    def compile(self, builder: Builder, incoming: Tensor, example: int | None,
                parameters: dict[str, LayerParameter]) -> Tensor:
        kernels, biases = parameters["kernels"], parameters.get("biases")
        kernel_names = Tensor(self.kernel, kernels.names)
        names = []
        for position in itertools.product(*(range(size) for size in self.shape_out)):
            taps = self.taps(position)
            pairs = tuple(name for kernel_index, source in taps
                          for name in (incoming.at(source), kernel_names.at(kernel_index)))
            bias = (biases.names[position[0] if len(biases.names) > 1 else 0],) if biases else ()
            operation = weighted_sum(len(taps), 1 if biases else 0)
            names.append(builder.node(entry_name("z", self.reading.number, _shown(self.shape_out, position), example),
                                      operation, pairs + bias, layer=self.reading.index, type=self.type, role="pre",
                                      position=position, example=example,
                                      taps=tuple(kernel_index for kernel_index, _ in taps)))
        return _activate(builder, self, self.activation, Tensor(self.shape_out, tuple(names)), example)


@dataclass(frozen=True)
class Convolution:
    """``type: conv1d`` / ``conv2d``: kernels, biases (one per output channel), stride, padding, activation."""

    axes: int
    fields: frozenset[str] = frozenset({"type", "kernels", "biases", "stride", "padding", "activation"})

    @property
    def type(self) -> str:
        return f"conv{self.axes}d"

    def _kernel_rank(self, raw: dict, path: str) -> int:
        if "kernels" not in raw:
            raise SpecError("missing", f"{path}.kernels")
        rank = depth(raw["kernels"])
        if rank not in (self.axes, self.axes + 2):
            bare = "a vector" if self.axes == 1 else "a matrix"
            full = "out × in × k" if self.axes == 1 else "out × in × kh × kw"
            raise SpecError(f"expected {bare} (one channel in and out) or {full} nested lists of numbers, "
                            f"got {rank} levels of lists", f"{path}.kernels")
        return rank

    def example_shape(self, raw: dict, path: str) -> int | None:
        if self._kernel_rank(raw, path) == self.axes:
            return self.axes
        shape, _ = read_array(raw["kernels"], f"{path}.kernels", self.axes + 2, "nested lists of numbers")
        return self.axes + (0 if shape[1] == 1 else 1)

    def read(self, raw: dict, reading: Reading, shape_in: tuple[int, ...]) -> ConvLayer:
        path = reading.path
        rank = self._kernel_rank(raw, path)
        if len(shape_in) != self.axes + 1:
            raise SpecError(f"{self.type} needs {'a vector' if self.axes == 1 else 'a map'} (or channels of them) "
                            f"coming in, but the layer below gives {describe_shape(shape_in)}", f"{path}.type")
        shape, values = read_array(raw["kernels"], f"{path}.kernels", rank, "nested lists of numbers, every row as "
                                   "long as the first")
        bare = rank == self.axes
        kernel = (1, 1, *shape) if bare else shape
        if kernel[1] != shape_in[0]:
            raise SpecError(f"expected kernels for {shape_in[0]} input channel{'s' if shape_in[0] != 1 else ''}, "
                            f"got {kernel[1]}", f"{path}.kernels[0]")
        for size in kernel[2:]:
            if size > MAX_WINDOW:
                raise SpecError(f"a kernel of at most {MAX_WINDOW} along each axis, got {size}", f"{path}.kernels")
        if 2 * size_of(kernel[1:]) + 1 > MAX_ARITY:
            raise SpecError(f"a kernel of at most {(MAX_ARITY - 1) // 2:,} entries per output channel, got "
                            f"{describe_shape(kernel[1:])}", f"{path}.kernels")
        stride = _pair(raw.get("stride", 1), f"{path}.stride", self.axes, "a stride", 1, MAX_WINDOW)
        padding = _pair(raw.get("padding", 0), f"{path}.padding", self.axes, "a padding", 0, MAX_WINDOW)
        spatial = []
        for size, k, step, pad in zip(shape_in[1:], kernel[2:], stride, padding):
            if pad >= k:
                raise SpecError(f"expected a padding smaller than the kernel ({k}), got {pad}", f"{path}.padding")
            if size + 2 * pad < k:
                raise SpecError(f"the kernel ({describe_shape(kernel[2:])}) is larger than the padded input "
                                f"({describe_shape(tuple(s + 2 * p for s, p in zip(shape_in[1:], padding)))})",
                                f"{path}.kernels")
            spatial.append((size + 2 * pad - k) // step + 1)
        activation = _activation(raw.get("activation", "identity"), f"{path}.activation", reading.options,
                                 dense=False)

        parameters = [parameter("kernels", f"{path}.kernels", reading.number, shape, values, "K")]
        if raw.get("biases") is not None:
            parameters.append(_biases(raw["biases"], f"{path}.biases", reading.number, kernel[0], "output channel"))
        return ConvLayer(self.type, reading, shape_in, (kernel[0], *spatial), tuple(parameters), activation,
                         kernel, stride, padding)


@dataclass(frozen=True)
class PoolLayer:
    """Max- or average-pooling over windows of each channel (windows that do not fit are dropped)."""

    type: str
    reading: Reading
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    parameters: tuple[LayerParameter, ...]
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def edges(self) -> int:
        return size_of(self.shape_out) * size_of(self.size)

    def window(self, position: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The input entries (channel, spatial…) of output entry ``position``, row-major."""
        channel, spatial = position[0], position[1:]
        return [(channel, *(out * step + offset for out, step, offset in zip(spatial, self.stride, offsets)))
                for offsets in itertools.product(*(range(size) for size in self.size))]

    def compile(self, builder: Builder, incoming: Tensor, example: int | None,
                parameters: dict[str, LayerParameter]) -> Tensor:
        operation = (max_operation if self.type == "maxpool" else average_operation)(size_of(self.size))
        names = tuple(builder.node(entry_name("a", self.reading.number, _shown(self.shape_out, position), example),
                                   operation, tuple(incoming.at(source) for source in self.window(position)),
                                   layer=self.reading.index, type=self.type, role="pool", position=position,
                                   example=example)
                      for position in itertools.product(*(range(size) for size in self.shape_out)))
        return Tensor(self.shape_out, names)


@dataclass(frozen=True)
class Pooling:
    """``type: maxpool`` / ``avgpool``: size, stride (the size by default)."""

    type: str
    fields: frozenset[str] = frozenset({"type", "size", "stride"})

    def example_shape(self, raw: dict, path: str) -> int | None:
        return 2

    def read(self, raw: dict, reading: Reading, shape_in: tuple[int, ...]) -> PoolLayer:
        path = reading.path
        if len(shape_in) < 2:
            raise SpecError(f"{self.type} needs a map (or channels of maps) coming in, but the layer below gives "
                            f"{describe_shape(shape_in)} values", f"{path}.type")
        axes = len(shape_in) - 1
        if "size" not in raw:
            raise SpecError("missing; the pooling window's size (like 2)", f"{path}.size")
        size = _pair(raw["size"], f"{path}.size", axes, "a window size", 1, MAX_WINDOW)
        stride = _pair(raw.get("stride", list(size)), f"{path}.stride", axes, "a stride", 1, MAX_WINDOW)
        spatial = []
        for extent, window, step in zip(shape_in[1:], size, stride):
            if window > extent:
                raise SpecError(f"the window ({describe_shape(size)}) is larger than the map coming in "
                                f"({describe_shape(shape_in[1:])})", f"{path}.size")
            spatial.append((extent - window) // step + 1)
        return PoolLayer(self.type, reading, shape_in, (shape_in[0], *spatial), (), size, stride)


@dataclass(frozen=True)
class FlattenLayer:
    """The map read row-major, channels first, as one vector: no computation, the same values in a new shape."""

    type: ClassVar[str] = "flatten"
    reading: Reading
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    parameters: tuple[LayerParameter, ...] = ()

    def edges(self) -> int:
        return 0

    def compile(self, builder: Builder, incoming: Tensor, example: int | None,
                parameters: dict[str, LayerParameter]) -> Tensor:
        return Tensor(self.shape_out, incoming.names)


class Flatten:
    """``type: flatten``: no fields."""

    fields = frozenset({"type"})

    def example_shape(self, raw: dict, path: str) -> int | None:
        return None

    def read(self, raw: dict, reading: Reading, shape_in: tuple[int, ...]) -> FlattenLayer:
        return FlattenLayer(reading, shape_in, (size_of(shape_in),))


# --- batch norm and dropout -------------------------------------------------------------

#: PyTorch's defaults: BatchNorm1d's ε and Dropout's p.
EPSILON = sympy.Rational(1, 10**5)
DROP_PROBABILITY = sympy.Rational(1, 2)

#: The symbols of batch norm's quantities, (tex, text, ascii); σ² is braced so that a layer's superscript can follow.
MEAN, VARIANCE, NORMALIZED = (r"\mu", "μ", "mu"), (r"{\sigma^{2}}", "σ²", "var"), (r"\hat{x}", "x̂", "xhat")
GAMMA, BETA, EPSILON_SYMBOL = (r"\gamma", "γ", "gamma"), (r"\beta", "β", "beta"), (r"\varepsilon", "ε", "epsilon")
MASK, DROP = ("m", "m", "m"), ("p", "p", "p")


def _mean_shape(typography, operation: Operation, arguments: list[str], constant: str) -> str:
    return typography.fraction(typography.sum(arguments), str(operation.arity))


_VALUE, _MEAN = sympy.symbols("u v")


def _variance_shape(typography, operation: Operation, arguments: list[str], constant: str) -> str:
    squares = [typography.formula((_VALUE - _MEAN) ** 2, {_VALUE: value, _MEAN: arguments[-1]})
               for value in arguments[:-1]]
    return typography.fraction(typography.sum(squares), str(len(squares)))


@cache
def batch_mean_operation(examples: int) -> Operation:
    """A unit's mean over the batch: μ = (x₁ + … + x_m)/m."""
    return Operation("batch_mean", examples, lambda *arguments: sympy.Add(*arguments) / examples, _mean_shape,
                     f"the mean gives every example's value 1/{examples} of its gradient")


@cache
def batch_variance_operation(examples: int) -> Operation:
    """A unit's biased variance over the batch, given its mean: σ² = ((x₁ − μ)² + … + (x_m − μ)²)/m."""
    def forward(*arguments):
        mean = arguments[-1]
        return sympy.Add(*((value - mean) ** 2 for value in arguments[:-1])) / examples

    return Operation("batch_variance", examples + 1, forward, _variance_shape,
                     f"the variance gives each value 2(x − μ)/{examples} of its gradient, and μ the sum of −2(x − μ)/"
                     f"{examples} (which is 0)")


#: x̂ = (x − μ)/√(σ² + ε), of inputs (x, μ, σ², ε).
NORMALIZE = Operation("normalize", 4, lambda x, mean, variance, epsilon: (x - mean) / sympy.sqrt(variance + epsilon),
                      as_sympy_prints, "x̂ sends 1/√(σ² + ε) to x, −1/√(σ² + ε) to μ and −(x − μ)/(2(σ² + ε)^(3/2)) "
                      "to σ²")
#: Inverted dropout of inputs (mask, x, p): m·x/(1 − p).
DROPOUT = Operation("dropout", 3, lambda mask, value, p: mask * value / (1 - p), as_sympy_prints,
                    "dropout sends back the gradient times m/(1 − p): scaled where the unit was kept, 0 where dropped")


def _own_parameter(key: str, symbol: tuple[str, str, str], layer: int, values: list) -> LayerParameter:
    """A vector parameter with one entry per unit, named by its own symbol (γ^{[2]}_1, ASCII gamma[2]_1)."""
    labels = tuple(Name(symbol, f"[{layer}]", (str(unit + 1),)) for unit in range(len(values)))
    return LayerParameter(key, (len(values),), tuple(label.ascii() for label in labels), tuple(values), labels)


def _per_unit(raw: Any, path: str, units: int, default: int) -> list[sympy.Rational]:
    """γ or β: a list of one number per unit (left out: ``default`` for every unit)."""
    if raw is None:
        return [sympy.Integer(default)] * units
    what = f"a list of {_count(units, 'number')}, one per unit"
    if not isinstance(raw, list):
        raise SpecError(f"expected {what}, got {describe(raw)}", path)
    shape, values = read_array(raw, path, 1, what)
    if shape[0] != units:
        raise SpecError(f"expected {what} (the layer below gives {units}), got {shape[0]}", path)
    return values


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class BatchNormLayer:
    """Batch norm in training mode: each unit normalised over the batch, then scaled by γ and shifted by β.

    Per unit j, shared by the batch: μ_j, σ²_j; per example n: x̂_nj = (x_nj − μ_j)/√(σ²_j + ε) and
    a_nj = γ_j x̂_nj + β_j. γ_j and β_j are one leaf each, used by every example (tied).
    """

    type: ClassVar[str] = "batchnorm"
    reading: Reading
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    parameters: tuple[LayerParameter, ...]
    epsilon: sympy.Rational

    def edges(self) -> int:
        # NOTE: per example and unit: x̂ reads 4 values, a reads 3; μ and σ² read about one value per example each.
        return self.shape_out[0] * 9

    def compile_batch(self, builder: Builder, incoming: tuple[Tensor, ...], examples: tuple[int | None, ...],
                      parameters: dict[str, LayerParameter]) -> tuple[Tensor, ...]:
        number, index = self.reading.number, self.reading.index
        gamma, beta = parameters["gamma"].names, parameters["beta"].names
        layer = f"[{number}]"
        epsilon = builder.leaf(Name(EPSILON_SYMBOL, layer), "constant", self.epsilon)
        common = dict(layer=index, type=self.type)
        outgoing: list[list[str]] = [[] for _ in incoming]
        for unit in range(self.shape_out[0]):
            values = tuple(tensor.names[unit] for tensor in incoming)
            at = (str(unit + 1),)
            mean = builder.node(Name(MEAN, layer, at), batch_mean_operation(len(values)), values, role="mean",
                                position=(unit,), example=None, **common)
            variance = builder.node(Name(VARIANCE, layer, at), batch_variance_operation(len(values)),
                                    values + (mean,), role="variance", position=(unit,), example=None, **common)
            # NOTE: x̂ has no value only where σ² + ε = 0: a unit equal over the batch, with ε = 0.
            normalized = [builder.node(Name(NORMALIZED, layer, at, example), NORMALIZE,
                                       (value, mean, variance, epsilon), role="normalized", position=(unit,),
                                       example=example, field=f"{self.reading.path}.epsilon", **common)
                          for value, example in zip(values, examples)]
            for row, hat, example in zip(outgoing, normalized, examples):
                row.append(builder.node(entry_name("a", number, (unit,), example), weighted_sum(1, 1),
                                        (gamma[unit], hat, beta[unit]), role="output", position=(unit,),
                                        example=example, **common))
        return tuple(Tensor(self.shape_out, tuple(row)) for row in outgoing)


class BatchNorm:
    """``type: batchnorm``: gamma, beta (one per unit; 1 and 0 when left out), epsilon (1e-5)."""

    fields = frozenset({"type", "gamma", "beta", "epsilon"})
    batchwise = True  # its μ and σ² read every example of the batch
    axes = 0  # NOTE: no spatial axes: first, it reads each example as a plain vector (no channel added)

    def example_shape(self, raw: dict, path: str) -> int | None:
        return 1

    def read(self, raw: dict, reading: Reading, shape_in: tuple[int, ...]) -> BatchNormLayer:
        path = reading.path
        if len(shape_in) != 1:
            raise SpecError(f"batchnorm normalises each unit of a vector over the batch, but the layer below gives "
                            f"{describe_shape(shape_in)} values (put a flatten before it)", f"{path}.type")
        # NOTE: with one example every x̂ is 0 (PyTorch refuses a batch of 1 in training mode).
        if reading.examples < 2:
            raise SpecError("batchnorm normalises over the batch: it needs a batch of at least 2 examples "
                            f"(inputs has {reading.examples}; with one, every x̂ would be 0)", path)
        units = shape_in[0]
        epsilon = _number(raw["epsilon"], f"{path}.epsilon") if "epsilon" in raw else EPSILON
        if epsilon < 0:
            raise SpecError(f"expected ε ≥ 0 (added to σ² under the root), got {describe(raw['epsilon'])}",
                            f"{path}.epsilon")
        gamma = _per_unit(raw.get("gamma"), f"{path}.gamma", units, 1)
        beta = _per_unit(raw.get("beta"), f"{path}.beta", units, 0)
        parameters = (_own_parameter("gamma", GAMMA, reading.number, gamma),
                      _own_parameter("beta", BETA, reading.number, beta))
        return BatchNormLayer(reading, shape_in, shape_in, parameters, epsilon)


@dataclass(frozen=True)
class DropoutLayer:
    """Inverted dropout with a given mask: a = m·x/(1 − p) entry by entry (the mask one per unit, or per example)."""

    type: ClassVar[str] = "dropout"
    reading: Reading
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]
    parameters: tuple[LayerParameter, ...]
    mask: tuple[tuple[sympy.Rational, ...], ...]  # one row (entries row-major), or one per example
    p: sympy.Rational

    def edges(self) -> int:
        return size_of(self.shape_out) * 3

    def compile_batch(self, builder: Builder, incoming: tuple[Tensor, ...], examples: tuple[int | None, ...],
                      parameters: dict[str, LayerParameter]) -> tuple[Tensor, ...]:
        number, shape = self.reading.number, self.shape_out
        p = builder.leaf(Name(DROP, f"[{number}]"), "constant", self.p)
        masks = []
        for row, example in zip(self.mask, examples if len(self.mask) > 1 else (None,)):
            masks.append(tuple(builder.leaf(entry_name(MASK[2], number, _shown(shape, index), example), "constant",
                                            value)
                               for index, value in zip(itertools.product(*(range(size) for size in shape)), row)))
        outgoing = []
        for position, (tensor, example) in enumerate(zip(incoming, examples)):
            mask = masks[position if len(masks) > 1 else 0]
            outgoing.append(Tensor(shape, tuple(
                builder.node(entry_name("a", number, _shown(shape, index), example), DROPOUT, (kept, value, p),
                             layer=self.reading.index, type=self.type, role="dropout", position=index, example=example)
                for index, kept, value in zip(tensor.indices(), mask, tensor.names))))
        return tuple(outgoing)


class Dropout:
    """``type: dropout``: mask (0/1 as one example is written, or one such per example), p (0.5)."""

    fields = frozenset({"type", "mask", "p"})
    axes = 0  # NOTE: first, it reads each example as a plain vector (no channel added)

    def example_shape(self, raw: dict, path: str) -> int | None:
        return 1

    def read(self, raw: dict, reading: Reading, shape_in: tuple[int, ...]) -> DropoutLayer:
        path = reading.path
        if "mask" not in raw:
            raise SpecError("missing; one 0 (dropped) or 1 (kept) per unit, like [1, 0, 1]", f"{path}.mask")
        p = _number(raw["p"], f"{path}.p") if "p" in raw else DROP_PROBABILITY
        if not 0 <= p < 1:
            raise SpecError(f"expected the probability of dropping a unit, 0 ≤ p < 1, got {describe(raw['p'])}",
                            f"{path}.p")
        written = shape_in[1:] if len(shape_in) > 1 and shape_in[0] == 1 else shape_in
        rows = _mask_rows(raw["mask"], f"{path}.mask", written, reading)
        return DropoutLayer(reading, shape_in, shape_in, (), rows, p)


def _mask_rows(raw: Any, path: str, written: tuple[int, ...], reading: Reading) -> tuple[tuple, ...]:
    """The mask's rows: one for every example, or one per example of a batch; every entry 0 or 1."""
    one = ("a list of " + _count(written[0], "entry").replace("entrys", "entries") if len(written) == 1
           else f"{describe_shape(written)} nested lists") + " of 0 (dropped) or 1 (kept)"
    what = f"{one}, or one such per example" if reading.batched else one
    level = depth(raw)
    if level == len(written) + 1 and reading.batched:
        if len(raw) != reading.examples:
            raise SpecError(f"expected {what}: one row per example ({reading.examples}), got {len(raw)}", path)
        paths = [f"{path}[{row}]" for row in range(len(raw))]
    elif level == len(written):
        raw, paths = [raw], [path]
    else:
        raise SpecError(f"expected {what}, got {describe(raw)}", path)
    rows = []
    for row, where in zip(raw, paths):
        shape, values = read_array(row, where, len(written), what)
        if shape != tuple(written):
            raise SpecError(f"expected {what} (the layer below gives {describe_shape(written)}), got "
                            f"{describe_shape(shape)}", where)
        for position, value in enumerate(values):
            if value not in (0, 1):
                raise SpecError(f"expected 0 (dropped) or 1 (kept), got {describe(value)}",
                                where + "".join(f"[{i}]" for i in _unravel(position, written)))
        rows.append(tuple(values))
    return tuple(rows)


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The multi-index of a row-major position."""
    index = []
    for size in reversed(shape):
        flat, at = divmod(flat, size)
        index.append(at)
    return tuple(reversed(index))


def step_shown(shape: tuple[int, ...], index: tuple[int, ...]) -> tuple[int, ...]:
    """The indices a sequence's entry is written with: (step, entry), the entry left out where a step has one."""
    return index[:1] if shape[-1] == 1 else index


@dataclass(frozen=True)
class RecurrentLayer:
    """An Elman layer unrolled over the time steps: z_t = U x_t + W h_{t−1} + b, h_t = f(z_t), h_0 given.

    U, W and b are the same leaves at every step (tied): each one's gradient is the sum over the steps.
    """

    type: ClassVar[str] = "rnn"
    #: It reads the whole sequence (the layers that do not are applied at every step: ``Stepped``).
    sequence: ClassVar[bool] = True
    reading: Reading
    shape_in: tuple[int, ...]  # (steps, inputs)
    shape_out: tuple[int, ...]  # (steps, units) for ``output: all``, (units,) for ``last``
    parameters: tuple[LayerParameter, ...]
    activation: Activation
    initial_state: tuple[sympy.Rational, ...]
    output: str

    @property
    def units(self) -> int:
        return len(self.initial_state)

    @property
    def steps(self) -> int | None:
        """How many time steps go out (None: one vector, the last state)."""
        return self.shape_in[0] if self.output == "all" else None

    @property
    def pre_shape(self) -> tuple[int, ...]:
        """The pre-activations z_t of every step: one row per step."""
        return (self.shape_in[0], self.units)

    def edges(self) -> int:
        steps, inputs = self.shape_in
        return steps * self.units * (2 * (inputs + self.units) + 2)

    def compile(self, builder: Builder, incoming: Tensor, example: int | None,
                parameters: dict[str, LayerParameter]) -> Tensor:
        steps, inputs = self.shape_in
        units, number, single = self.units, self.reading.number, self.units == 1
        into, across, biases = parameters["input_weights"], parameters["recurrent_weights"], parameters.get("biases")
        operation = weighted_sum(inputs + units, 1 if biases else 0)
        # NOTE: the slots where z_t reads h_{t−1} (after the (U, x) pairs): what missing_time_step cuts.
        recurrent = tuple(2 * inputs + 2 * k + 1 for k in range(units))
        with builder.at_step(-1, single):
            state = [builder.leaf(entry_name("h", number, (j,), example), "constant", value)
                     for j, value in enumerate(self.initial_state)]
        hidden = []
        for t in range(steps):
            x = incoming.names[t * inputs:(t + 1) * inputs]
            with builder.at_step(t, single):
                pre = []
                for j in range(units):
                    pairs = tuple(name for i in range(inputs) for name in (into.names[j * inputs + i], x[i]))
                    pairs += tuple(name for k in range(units) for name in (across.names[j * units + k], state[k]))
                    bias = (biases.names[j],) if biases else ()
                    pre.append(builder.node(entry_name("z", number, (j,), example), operation, pairs + bias,
                                            layer=self.reading.index, type=self.type, role="pre", position=(t, j),
                                            example=example, recurrent=recurrent))
                state = list(_activate(builder, self, self.activation, Tensor((units,), tuple(pre)), example,
                                       letter="h").names)
            hidden.extend(state)
        if self.output == "last":
            return Tensor(self.shape_out, tuple(state))
        return Tensor(self.shape_out, tuple(hidden))


class Recurrent:
    """``type: rnn``: input_weights (one row per unit), recurrent_weights (units × units), biases (one per unit),
    activation (tanh), initial_state (zeros), output (``all``: every step's state; ``last``: the last one)."""

    fields = frozenset({"type", "input_weights", "recurrent_weights", "biases", "activation", "initial_state",
                        "output"})
    sequence = True

    def example_shape(self, raw: dict, path: str) -> int | None:
        return 2

    def read(self, raw: dict, reading: Reading, shape_in: tuple[int, ...]) -> RecurrentLayer:
        path = reading.path
        if len(shape_in) != 2:
            raise SpecError(f"an rnn reads a sequence (time steps × numbers), but the layer below gives "
                            f"{describe_shape(shape_in)}; put the rnn first, or above an rnn with output: all",
                            f"{path}.type")
        inputs = shape_in[1]
        for required in ("input_weights", "recurrent_weights"):
            if required not in raw:
                raise SpecError("missing", f"{path}.{required}")
        what = f"a list of rows (input_weights[j][i] from input i to unit j), each of {inputs} numbers"
        shape, values = read_array(raw["input_weights"], f"{path}.input_weights", 2, what)
        if shape[1] != inputs:
            raise SpecError(f"expected {what} (each time step has {inputs}), got rows of {shape[1]}",
                            f"{path}.input_weights[0]")
        units = shape[0]
        parameters = [parameter("input_weights", f"{path}.input_weights", reading.number, shape, values, "U")]
        what = (f"a {units}×{units} matrix (recurrent_weights[j][k] from unit k at the step before to unit j; "
                f"{units} unit{'s' if units != 1 else ''}, one per row of input_weights)")
        shape, values = read_array(raw["recurrent_weights"], f"{path}.recurrent_weights", 2, what)
        if shape != (units, units):
            raise SpecError(f"expected {what}, got {describe_shape(shape)}", f"{path}.recurrent_weights")
        parameters.append(parameter("recurrent_weights", f"{path}.recurrent_weights", reading.number, shape, values,
                                    "W"))
        if raw.get("biases") is not None:
            what = f"a list of {units} number{'s' if units != 1 else ''}, one per unit"
            shape, values = read_array(raw["biases"], f"{path}.biases", 1, what)
            if shape[0] != units:
                raise SpecError(f"expected {what}, got {shape[0]}", f"{path}.biases")
            parameters.append(parameter("biases", f"{path}.biases", reading.number, shape, values, "b"))
        activation = _activation(raw.get("activation", "tanh"), f"{path}.activation", reading.options, dense=False)
        initial = [sympy.Integer(0)] * units
        if "initial_state" in raw:
            what = f"a list of {units} number{'s' if units != 1 else ''}, h_0 of each unit"
            shape, initial = read_array(raw["initial_state"], f"{path}.initial_state", 1, what)
            if shape[0] != units:
                raise SpecError(f"expected {what}, got {shape[0]}", f"{path}.initial_state")
        output = raw.get("output", "all")
        if output not in ("all", "last"):
            raise SpecError(f"expected all (every step's state goes up) or last (only the last step's), got "
                            f"{describe(output)}", f"{path}.output")
        shape_out = (shape_in[0], units) if output == "all" else (units,)
        return RecurrentLayer(reading, shape_in, shape_out, tuple(parameters), activation, tuple(initial), output)


@dataclass(frozen=True)
class Stepped:
    """A layer above a sequence, applied at every time step with the same parameters (tied over the steps)."""

    layer: Any
    steps: int

    def __getattr__(self, name: str) -> Any:
        # NOTE: the layer's own settings (activation, kernel, …) for presentation; only names it lacks come here.
        return getattr(self.layer, name)

    @property
    def type(self) -> str:
        return self.layer.type

    @property
    def reading(self) -> Reading:
        return self.layer.reading

    @property
    def parameters(self) -> tuple[LayerParameter, ...]:
        return self.layer.parameters

    @property
    def shape_in(self) -> tuple[int, ...]:
        return (self.steps, *self.layer.shape_in)

    @property
    def shape_out(self) -> tuple[int, ...]:
        return (self.steps, *self.layer.shape_out)

    @property
    def pre_shape(self) -> tuple[int, ...]:
        return (self.steps, *getattr(self.layer, "pre_shape", self.layer.shape_out))

    def edges(self) -> int:
        return self.steps * self.layer.edges()

    def compile_batch(self, builder: Builder, incoming: tuple[Tensor, ...], examples: tuple[int | None, ...],
                      parameters: dict[str, LayerParameter]) -> tuple[Tensor, ...]:
        # NOTE: example by example, step by step; build_layered refuses a wrapped kind that reads the whole batch
        # (batch norm, dropout), so the wrapped layer's own compile is all it needs.
        return tuple(self.compile(builder, tensor, example, parameters) for tensor, example in zip(incoming, examples))

    def compile(self, builder: Builder, incoming: Tensor, example: int | None,
                parameters: dict[str, LayerParameter]) -> Tensor:
        size, names = size_of(self.layer.shape_in), []
        for t in range(self.steps):
            with builder.at_step(t, size_of(self.layer.shape_out) == 1):
                step = Tensor(self.layer.shape_in, incoming.names[t * size:(t + 1) * size])
                names.extend(self.layer.compile(builder, step, example, parameters).names)
        return Tensor(self.shape_out, tuple(names))


#: Every layer kind by its ``type``. Adding a kind is one entry here (see "Adding a layer kind" above).
LAYER_KINDS: dict[str, LayerKind] = {
    "dense": Dense(),
    "conv1d": Convolution(1),
    "conv2d": Convolution(2),
    "maxpool": Pooling("maxpool"),
    "avgpool": Pooling("avgpool"),
    "flatten": Flatten(),
    "batchnorm": BatchNorm(),
    "dropout": Dropout(),
    "rnn": Recurrent(),
}


# --- the exercise ------------------------------------------------------------------------


def is_layered_spec(data: Any) -> bool:
    """True for a `layers:` spec that some layer's ``type`` makes a layered exercise (SPEC §2.5)."""
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        return False
    return any(isinstance(layer, dict) and "type" in layer for layer in data["layers"])


@dataclass(frozen=True)
class LayeredNetwork(Circuit):
    """A layered exercise: the operation graph of every example's pass, and the layers it was compiled from.

    Attributes (beyond Circuit's):
        layers: Each layer as read.
        example_inputs: Each example's input tensor.
        example_outputs: Each example's output tensor (the last layer's).
        example_targets: Each example's target leaves (empty for ``loss: none``).
        losses: Each example's loss node.
        batched: The inputs were given as a batch.
        reduction: ``mean`` or ``sum`` of the losses.
        labels: Every leaf's and node's display Name, by its name.
        input_shape: One example's shape as the spec writes it (a map without its single channel).
        boundaries: For each example, the tensors between the layers: the input, then each layer's output.
    """

    layers: tuple = ()
    example_inputs: tuple[Tensor, ...] = ()
    example_outputs: tuple[Tensor, ...] = ()
    example_targets: tuple[tuple[str, ...], ...] = ()
    losses: tuple[str, ...] = ()
    batched: bool = False
    reduction: str = "mean"
    labels: dict[str, Name] = field(default_factory=dict)
    input_shape: tuple[int, ...] = ()
    boundaries: tuple[tuple[Tensor, ...], ...] = ()
    edges: int = 0

    def check_size(self, steps: int, written: bool) -> None:
        """Refuse, before any work, more steps than can be computed, or a solution too long to write out.

        Raises:
            SpecError: naming the field and the limit passed.
        """
        if self.edges * steps > MAX_EDGES:
            raise SpecError(f"{self.edges:,} connections × {steps:,} steps = {self.edges * steps:,}: more than a "
                            f"worked solution can compute (at most {MAX_EDGES:,})", "--steps")
        if written and self.edges * steps > MAX_WRITTEN:
            times = f" × {steps:,} steps" if steps > 1 else ""
            raise SpecError(f"{self.edges:,} connections{times}, each a term of the backward pass: more than a worked "
                            f"solution can write out (at most {MAX_WRITTEN:,}); --format json gives the numbers alone",
                            "--steps" if steps > 1 else "layers")

    def pre_activations(self, layer: int, example: int | None) -> Tensor | None:
        """A layer's pre-activations (its nodes of role ``pre``) in one example, or None if it has none."""
        names = tuple(node.name for node in self._by_layer.get((layer, example, "pre"), ()))
        shape = getattr(self.layers[layer], "pre_shape", self.layers[layer].shape_out)
        return Tensor(shape, names) if names else None

    @property
    def sequence(self) -> bool:
        """True when one example is a sequence of time steps (an rnn comes first)."""
        return bool(getattr(self.layers[0], "sequence", False))

    @property
    def target_shape(self) -> tuple[int, ...]:
        """One example's targets: one row per time step for a sequence out, else a vector."""
        last = self.layers[-1]
        return last.shape_out if getattr(last, "steps", None) else (len(self.example_targets[0]),)

    def nodes_of(self, layer: int, example: int | None, role: str | None = None) -> tuple[Node, ...]:
        """A layer's nodes in one example (of one role, or all), in the graph's order."""
        if role is not None:
            return self._by_layer.get((layer, example, role), ())
        return tuple(node for node in self.graph.nodes
                     if node.group.get("layer") == layer and node.group.get("example") == example)

    @property
    def _by_layer(self) -> dict:
        cached = self.__dict__.get("_by_layer_cache")
        if cached is None:
            grouped: dict = {}
            for node in self.graph.nodes:
                key = (node.group.get("layer"), node.group.get("example"), node.group.get("role"))
                grouped.setdefault(key, []).append(node)
            cached = {key: tuple(nodes) for key, nodes in grouped.items()}
            object.__setattr__(self, "_by_layer_cache", cached)
        return cached


def one_example(data: dict) -> dict:
    """The spec with only its first example (a batch's first input and target), for the general formulas;
    the whole batch where a layer reads it at once (batch norm's statistics)."""
    if not isinstance(data, dict) or "layers" not in data or not isinstance(data["layers"], list) or not data["layers"]:
        return data
    if any(isinstance(layer, dict) and getattr(LAYER_KINDS.get(layer.get("type", "dense")), "batchwise", False)
           for layer in data["layers"]):
        return data
    first = data["layers"][0]
    kind = LAYER_KINDS.get(first.get("type", "dense")) if isinstance(first, dict) else None
    try:
        rank = kind.example_shape(first, "layers[0]") if kind else None
    except SpecError:
        return data
    if rank is None or depth(data.get("inputs")) != rank + 1:
        return data
    trimmed = {**data, "inputs": data["inputs"][0]}
    for key in ("targets", "target_classes"):
        if isinstance(data.get(key), list) and data[key]:
            trimmed[key] = data[key][0] if key == "targets" else data[key][:1]
    return trimmed


def build_layered(data: Any) -> LayeredNetwork:
    """Validate a parsed layered spec and compile it to the operation graph.

    Raises:
        SpecError: naming the field path (``layers[1].kernels[0][0]``) and what was expected.
    """
    spec = _mapping(data, "", "a map with inputs and layers")
    _known_keys(spec, TOP_LEVEL, "")
    title = spec.get("title", "")
    if not isinstance(title, str):
        raise SpecError(f"expected a line of text, got {describe(title)}", "title")
    raw_options = _mapping(spec.get("options", {}), "options", "a map of options")
    for key in raw_options:
        if key not in OPTIONS:
            raise SpecError(f"unknown option for a network with layer types; expected one of "
                            f"{', '.join(sorted(OPTIONS))}", f"options.{key}")
    if raw_options.get("input_gradients", True) is not True:
        raise SpecError("a network with layer types always gives its inputs' gradients: expected true, or leave it "
                        "out", "options.input_gradients")
    options = _options(raw_options)
    raw_layers = _list(spec.get("layers"), "layers", "a list of layers")
    for required in ("inputs",):
        if required not in spec:
            raise SpecError("missing", required)
    layers_raw = []
    for index, raw in enumerate(raw_layers):
        path = f"layers[{index}]"
        layer = _mapping(raw, path, "a map with a type and the layer's fields")
        kind_name = layer.get("type", "dense")
        if not isinstance(kind_name, str) or kind_name not in LAYER_KINDS:
            got = repr(kind_name) if isinstance(kind_name, str) else describe(kind_name)
            raise SpecError(f"unknown layer type {got}; expected one of {', '.join(LAYER_KINDS)}", f"{path}.type")
        _known_keys(layer, set(LAYER_KINDS[kind_name].fields), path)
        layers_raw.append((LAYER_KINDS[kind_name], layer, path))
    first_kind, first_raw, first_path = layers_raw[0]
    rank = first_kind.example_shape(first_raw, first_path)
    if rank is None:
        raise SpecError(f"a network cannot start with {first_raw.get('type')}", f"{first_path}.type")
    examples, batched, raw_shape = _examples(spec["inputs"], rank)
    sequence = getattr(first_kind, "sequence", False)
    shape = raw_shape if first_kind is LAYER_KINDS["dense"] or sequence else _channels_first(raw_shape, first_kind,
                                                                                            first_raw)
    layers, steps = [], None
    for index, (kind, raw, path) in enumerate(layers_raw):
        reading = Reading(index, path, options, len(examples), batched)
        # NOTE: above a sequence, a layer that does not read sequences is applied at every time step.
        if steps is not None and not getattr(kind, "sequence", False):
            layer = kind.read(raw, reading, shape[1:])
            if hasattr(layer, "compile_batch"):
                raise SpecError(f"a {layer.type} layer reads the whole batch at once, and cannot be applied at every "
                                f"time step of the sequence the rnn below gives (output: all); put it above an rnn "
                                f"with output: last", f"{path}.type")
            layer = Stepped(layer, steps)
        else:
            layer = kind.read(raw, reading, shape)
        layers.append(layer)
        shape, steps = layer.shape_out, getattr(layer, "steps", None)
    count = sum(size_of(p.shape) for layer in layers for p in layer.parameters)
    if count > MAX_PARAMETERS:
        raise SpecError(f"{count:,} parameters: more than a worked solution can take (at most {MAX_PARAMETERS:,})",
                        "layers")
    edges = sum(layer.edges() for layer in layers) * len(examples)
    if edges > MAX_EDGES:
        raise SpecError(f"{edges:,} connections (each a backward step): more than a worked solution can compute "
                        f"(at most {MAX_EDGES:,})", "layers")
    loss, target_rows = _loss_and_targets(spec, len(examples), batched, shape, steps)
    training, learning_rate = read_training(spec)
    if training.online:
        raise SpecError("training: online is for dense and named networks; a network with layer types is trained "
                        "in batch", "training")
    compiled = _compile(title, layers, examples, batched, raw_shape, loss, target_rows, learning_rate, options, edges)
    for index, name in enumerate(training.frozen):
        if name not in compiled.parameters:
            raise SpecError(f"no parameter is named {name!r}", f"frozen[{index}]")
    return replace(compiled, training=training)


def _channels_first(raw_shape: tuple[int, ...], kind, raw: dict) -> tuple[int, ...]:
    """One example's shape with its channel axis (a bare map is one channel)."""
    axes = getattr(kind, "axes", 2)
    return raw_shape if len(raw_shape) == axes + 1 else (1, *raw_shape)


def _examples(raw: Any, rank: int) -> tuple[list[list[sympy.Rational]], bool, tuple[int, ...]]:
    """The inputs: one example of ``rank`` levels, or a batch of them (one level more)."""
    what = {1: "a list of numbers", 2: "a matrix (a list of rows of numbers)",
            3: "channels × rows × columns nested lists"}.get(rank, f"{rank} levels of nested lists")
    found = depth(raw)
    if found not in (rank, rank + 1):
        raise SpecError(f"expected one example as {what} (or a list of such, a batch), got {found} levels of lists",
                        "inputs")
    batched = found == rank + 1
    rows = raw if batched else [raw]
    if batched and len(rows) > MAX_EXAMPLES:
        raise SpecError(f"{len(rows):,} examples: more than a worked solution can take (at most {MAX_EXAMPLES:,})",
                        "inputs")
    examples, shape = [], None
    for index, row in enumerate(rows):
        path = f"inputs[{index}]" if batched else "inputs"
        row_shape, values = read_array(row, path, rank, f"{what}, every row as long as the first")
        if shape is not None and row_shape != shape:
            raise SpecError(f"expected every example as {describe_shape(shape)}, like the first, got "
                            f"{describe_shape(row_shape)}", path)
        shape = row_shape
        examples.append(values)
    return examples, batched, shape


def _loss_and_targets(spec: dict, count: int, batched: bool, shape: tuple[int, ...], steps: int | None = None
                      ) -> tuple[Loss, list[list[sympy.Rational]]]:
    """The loss and each example's targets, row-major; with a sequence out (``steps``), one row per step."""
    if steps is not None:
        return _sequence_targets(spec, count, batched, shape)
    outputs = size_of(shape)
    loss_name = spec.get("loss", "half_squared_error")
    if not isinstance(loss_name, str) or loss_name not in LOSSES:
        raise SpecError(f"expected one of {', '.join(LOSSES)}, got {describe(loss_name)}", "loss")
    loss = LOSSES[loss_name]
    if not loss.targets:
        if "targets" in spec or "target_classes" in spec:
            raise SpecError("loss: none differentiates the output itself, so there are no targets", "targets")
        if outputs != 1:
            raise SpecError(f"loss: none differentiates a single output, but the network gives {outputs}", "loss")
        return loss, [[] for _ in range(count)]
    if "target_classes" in spec:
        if "targets" in spec:
            raise SpecError("expected targets or target_classes, not both", "target_classes")
        classes = spec["target_classes"]
        what = f"a list of {count} class indices (0 to {outputs - 1}), one per example"
        if not isinstance(classes, list) or len(classes) != count:
            raise SpecError(f"expected {what}, got {describe(classes)}", "target_classes")
        rows = []
        for index, label in enumerate(classes):
            if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < outputs:
                raise SpecError(f"expected a class index from 0 to {outputs - 1}, got {describe(label)}",
                                f"target_classes[{index}]")
            rows.append([sympy.Integer(int(unit == label)) for unit in range(outputs)])
        return loss, rows
    if "targets" not in spec:
        raise SpecError("missing; every spec needs targets (or target_classes, or loss: none)", "targets")
    what = f"a list of {outputs} number{'s' if outputs != 1 else ''}, one per output"
    raw = spec["targets"]
    if batched:
        if not isinstance(raw, list) or len(raw) != count or depth(raw) != 2:
            raise SpecError(f"expected one target row per example ({count}), each {what}", "targets")
        rows = [read_array(row, f"targets[{index}]", 1, what)[1] for index, row in enumerate(raw)]
        paths = [f"targets[{index}]" for index in range(count)]
    else:
        rows, paths = [read_array(raw, "targets", 1, what)[1]], ["targets"]
    for row, path in zip(rows, paths):
        if len(row) != outputs:
            raise SpecError(f"expected {what}, got {len(row)}", path)
    return loss, rows


def compile_layer(layer, builder: Builder, incoming: tuple[Tensor, ...], examples: tuple[int | None, ...],
                  parameters: dict[str, LayerParameter]) -> tuple[Tensor, ...]:
    """One layer's pass over the whole batch: the layer's own ``compile_batch`` where it has one (a batch
    norm reads every example at once), else its ``compile`` once per example."""
    batch = getattr(layer, "compile_batch", None)
    if batch is not None:
        return batch(builder, incoming, examples, parameters)
    return tuple(layer.compile(builder, tensor, example, parameters) for tensor, example in zip(incoming, examples))


def _sequence_targets(spec: dict, count: int, batched: bool, shape: tuple[int, ...]
                      ) -> tuple[Loss, list[list[sympy.Rational]]]:
    """A sequence out (SPEC §2.5, ``output: all``): each example's targets are one row per time step."""
    steps, outputs = shape[0], size_of(shape[1:])
    loss_name = spec.get("loss", "half_squared_error")
    if not isinstance(loss_name, str) or loss_name not in LOSSES:
        raise SpecError(f"expected one of {', '.join(LOSSES)}, got {describe(loss_name)}", "loss")
    loss = LOSSES[loss_name]
    if not loss.targets:
        raise SpecError("loss: none differentiates a single output, but the network gives one at every time step "
                        "(output: last gives only the last step's)", "loss")
    if "target_classes" in spec:
        raise SpecError("the network gives an output at every time step: give targets, one row per step",
                        "target_classes")
    if "targets" not in spec:
        raise SpecError("missing; every spec needs targets", "targets")
    what = (f"{steps} row{'s' if steps != 1 else ''} (one per time step) of {outputs} "
            f"number{'s' if outputs != 1 else ''}")
    raw = spec["targets"]
    if batched:
        if not isinstance(raw, list) or len(raw) != count or depth(raw) != 3:
            raise SpecError(f"expected one list of target rows per sequence ({count}), each {what}", "targets")
        found = [(read_array(row, f"targets[{index}]", 2, what), f"targets[{index}]") for index, row in enumerate(raw)]
    else:
        found = [(read_array(raw, "targets", 2, what), "targets")]
    for (row_shape, _), path in found:
        if row_shape != (steps, outputs):
            raise SpecError(f"expected {what}, got {describe_shape(row_shape)}", path)
    return loss, [values for (_, values), _ in found]


def _compile(title: str, layers: list, examples: list, batched: bool, raw_shape: tuple[int, ...], loss: Loss,
             target_rows: list, learning_rate, options: Options, edges: int) -> LayeredNetwork:
    builder = Builder()
    shape_in = layers[0].shape_in
    steps = getattr(layers[-1], "steps", None)
    by_layer = [{p.key: p for p in layer.parameters} for layer in layers]
    for layer in layers:
        for p in layer.parameters:
            for name, value, label in zip(p.names, p.values, p.labels):
                builder.labels[name] = label
                builder.leaves.append(Leaf(name, "parameter", value))
    inputs = []
    numbers = [number if batched else None for number in range(len(examples))]
    shown = step_shown if getattr(layers[0], "sequence", False) else _shown
    for example, values in zip(numbers, examples):
        indices = itertools.product(*(range(size) for size in shape_in))
        names = tuple(builder.leaf(entry_name("x", None, shown(shape_in, index), example), "input", value)
                      for index, value in zip(indices, values))
        inputs.append(Tensor(shape_in, names))
    # NOTE: layer by layer over the whole batch: a batch norm's statistics read every example's values.
    tensors, between = tuple(inputs), [tuple(inputs)]
    for layer, parameters in zip(layers, by_layer):
        tensors = compile_layer(layer, builder, tensors, tuple(numbers), parameters)
        between.append(tensors)
    boundaries = [tuple(layer_tensors[number] for layer_tensors in between) for number in range(len(examples))]
    outputs, targets, losses = list(tensors), [], []
    for example, tensor, target_values in zip(numbers, outputs, target_rows):
        if steps is None:
            target_names = tuple(builder.leaf(entry_name("y", None, (unit,), example), "target", value)
                                 for unit, value in enumerate(target_values))
            losses.append(_loss_node(builder, loss, tensor.names, target_names, example))
        else:
            # NOTE: a sequence out (SPEC §2.5): a loss at every step, the example's loss their sum.
            target_names, per_step = _step_losses(builder, loss, tensor, target_values, example)
            losses.append(builder.node(Name(("L", "L", "L"), example=example), sum_operation(len(per_step)), per_step,
                                       role="loss", example=example, loss=True))
        targets.append(target_names)
    top = losses[0]
    if batched:
        scale = sympy.Rational(1, len(losses)) if options.reduction == "mean" else sympy.Integer(1)
        top = builder.node(Name(("J", "J", "J")), mean_operation(len(losses), scale), tuple(losses), role="cost",
                           loss=True)
    parameters = tuple(name for layer in layers for p in layer.parameters for name in p.names)
    graph = Graph(tuple(builder.leaves), tuple(builder.nodes), top)
    return LayeredNetwork(title, graph, tuple(name for tensor in inputs for name in tensor.names), parameters,
                          outputs[0].names[0], loss, (), learning_rate, options.precision, False, Training(),
                          tuple(layers), tuple(inputs), tuple(outputs), tuple(targets), tuple(losses), batched,
                          options.reduction, dict(builder.labels), raw_shape, tuple(boundaries), edges)


def _loss_node(builder: Builder, loss: Loss, outputs: tuple[str, ...], targets: tuple[str, ...],
               example: int | None, step: int | None = None) -> str:
    """One example's (or one time step's) loss node over its outputs and targets."""
    arity = len(outputs)
    if loss.targets:
        formula = loss.formula(list(ARGUMENTS[:arity]), list(ARGUMENTS[arity:2 * arity]))
        operation = Operation(loss.name, 2 * arity, _fixed(formula), _loss_shape, f"the loss: {loss.name}")
        arguments = outputs + targets
    else:
        operation, arguments = Operation("none", 1, lambda a: a, _loss_shape, "the output itself"), outputs
    if step is None:
        return builder.node(Name(("L", "L", "L"), example=example), _cached_loss(loss.name, operation, arity),
                            arguments, role="loss", example=example, loss=True)
    return builder.node(Name(("L", "L", "L"), "", (str(step + 1),), example), _cached_loss(loss.name, operation, arity),
                        arguments, role="loss", example=example, loss=True, step=step)


def _step_losses(builder: Builder, loss: Loss, tensor: Tensor, target_values: list, example: int | None
                 ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The targets and the loss of every time step of a sequence out: y_t against the step's outputs."""
    steps, size = tensor.shape[0], size_of(tensor.shape[1:])
    targets, losses = [], []
    for t in range(steps):
        with builder.at_step(t, size == 1):
            row = tuple(builder.leaf(entry_name("y", None, (unit,), example), "target", value)
                        for unit, value in enumerate(target_values[t * size:(t + 1) * size]))
        targets.extend(row)
        losses.append(_loss_node(builder, loss, tensor.names[t * size:(t + 1) * size], row, example, t))
    return tuple(targets), tuple(losses)


@cache
def sum_operation(count: int) -> Operation:
    """An example's loss over a sequence: the sum of its ``count`` time steps' losses."""
    return Operation("sum", count, lambda *arguments: sympy.Add(*arguments), as_sympy_prints,
                     "the sum gives each time step's loss the gradient unchanged")


_LOSS_OPERATIONS: dict[tuple[str, int], Operation] = {}


def _cached_loss(name: str, operation: Operation, arity: int) -> Operation:
    """One loss operation per (loss, outputs), so that its derivatives are taken once for every example."""
    return _LOSS_OPERATIONS.setdefault((name, arity), operation)
