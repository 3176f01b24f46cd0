"""Notations: how each quantity is named (LaTeX, Unicode, ASCII), one table per notation."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from .formula import X
from .network import Network, Node, Parameter
from .rules import Activation
from .steps import Quantity


@dataclass(frozen=True)
class Name:
    """A symbol's parts: a base letter, an optional layer superscript, subscripts, an example."""

    base: tuple[str, str, str]  # (tex, text, ascii)
    layer: str = ""  # e.g. "[1]" or "(1)"
    indices: tuple[str, ...] = ()
    example: int | None = None
    example_mark: str = "()"  # the brackets around an example's number: "()" or "<>"
    new: bool = False  # a parameter after the update

    def without_layer(self) -> Name:
        """The same name with no layer superscript (targets, ŷ)."""
        return Name(self.base, "", self.indices, self.example, self.example_mark)

    def _example(self, form: int) -> str:
        """The example's number in brackets: (tex, text, ascii)[form]."""
        if self.example is None:
            return ""
        number = str(self.example + 1)
        if self.example_mark == "<>":
            return (r"\langle " + number + r"\rangle", f"⟨{number}⟩", f"<{number}>")[form]
        return (f"({number})", f"({number})".translate(_SUPERSCRIPTS), f"({number})")[form]

    def _joined(self) -> str:
        if all(len(index) == 1 for index in self.indices):
            return "".join(self.indices)
        return ",".join(self.indices)

    def tex(self, mark: str = "") -> str:
        """LaTeX, e.g. ``W_{11}^{[2]}``; ``mark`` joins the superscript (``\\text{new}``)."""
        mark = mark or (r"\text{new}" if self.new else "")
        sup = self.layer + self._example(0)
        sup = f"{sup},{mark}" if sup and mark else sup or mark
        text = self.base[0]
        if self.indices:
            text += "_{" + _tex_escape(self._joined()) + "}"
        if sup:
            text += "^{" + sup + "}"
        return text

    def text(self) -> str:
        # NOTE: Unicode has superscript parentheses but no superscript brackets: W⁽²⁾ but W[2].
        layer = self.layer.translate(_SUPERSCRIPTS) if self.layer.startswith("(") else self.layer
        text = self.base[1] + layer
        if self.indices:
            joined = self._joined()
            text += joined.translate(_SUBSCRIPTS) if joined.isdigit() else "_" + joined
        return text + self._example(1) + ("ⁿᵉʷ" if self.new else "")

    def mathml(self, mark: str = "") -> str:
        """MathML Core, e.g. ``<msubsup><mi>W</mi><mn>11</mn>…</msubsup>``; ``mark`` joins the superscript."""
        example = f"({self.example + 1})" if self.example is not None else ""
        sup = [part for part in (_mathml_tokens(self.layer + example), mark) if part]
        sup_row = "<mrow>" + "<mo>,</mo>".join(sup) + "</mrow>"
        base = _mathml_letter(self.base[1])
        if not self.indices:
            return f"<msup>{base}{sup_row}</msup>" if sup else base
        groups = [self._joined()] if all(len(index) == 1 for index in self.indices) else self.indices
        sub = "<mrow>" + "<mo>,</mo>".join(
            f"<mn>{index}</mn>" if index.isdigit() else f"<mi>{html.escape(index)}</mi>" for index in groups) + "</mrow>"
        return f"<msubsup>{base}{sub}{sup_row}</msubsup>" if sup else f"<msub>{base}{sub}</msub>"

    def ascii(self) -> str:
        text = self.base[2] + self.layer
        if self.indices:
            joined = self._joined()
            plain = not self.layer and all(len(index) == 1 for index in self.indices)
            text += joined if plain else "_" + joined
        return text + self._example(2) + ("_new" if self.new else "")


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUPERSCRIPTS = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


#: Combining accents and the spacing accent MathML puts over a letter for them (ŷ = y with ^).
_ACCENTS = {"\u0302": "^", "\u0304": "\u00af", "\u0303": "~", "\u0307": "\u02d9"}


def _mathml_letter(letter: str) -> str:
    """A base letter as MathML: ``ŷ`` as y under an accent, so it is italic like the other letters."""
    parts = unicodedata.normalize("NFD", letter)
    if len(parts) == 2 and parts[1] in _ACCENTS:
        return f'<mover accent="true"><mi>{html.escape(parts[0])}</mi><mo>{_ACCENTS[parts[1]]}</mo></mover>'
    return f"<mi>{html.escape(letter)}</mi>"


def _mathml_tokens(text: str) -> str:
    """A short superscript such as ``[1](2)`` as MathML tokens: digits as numbers, brackets as fences."""
    return "".join(f"<mn>{token}</mn>" if token.isdigit() else f'<mo stretchy="false">{html.escape(token)}</mo>'
                   for token in re.findall(r"\d+|\D", text))


def _tex_escape(text: str) -> str:
    return "".join("\\" + char if char in "_&%$#{}" else char for char in text)


@dataclass(frozen=True)
class Letters:
    """A notation's letters: (tex, text, ascii) for each kind of symbol.

    ``layer`` is how the layer number is written as a superscript (``[{}]``, ``({})``) or
    empty where nodes are named by their index alone. ``weight`` names an entry of a layer's
    matrix (W^{[l]}_{jk}); ``edge_weight`` the weight on one edge of a named graph (w_{13}).
    ``hidden_out`` names a hidden neuron's output and ``final_out`` an output neuron's, when
    they differ from ``out``. ``example_mark`` brackets an example's number where the layer
    already takes parentheses: h^{(1)⟨2⟩}. ``matrix`` names a layer's weight matrix in matrix
    style, and ``matrix_layer`` its layer where ``layer`` is empty.
    """

    input: tuple[str, str, str]
    pre: tuple[str, str, str]
    out: tuple[str, str, str]
    target: tuple[str, str, str]
    weight: tuple[str, str, str]
    bias: tuple[str, str, str]
    loss: tuple[str, str, str]
    cost: tuple[str, str, str]
    single_cost: tuple[str, str, str]
    layer: str
    final_out: tuple[str, str, str] | None = None
    edge_weight: tuple[str, str, str] = ("w", "w", "w")
    example_mark: str = "()"
    matrix: tuple[str, str, str] = ("W", "W", "W")
    matrix_layer: str = "({})"


DELTA = ("\\delta", "δ", "delta")
RATE = ("\\eta", "η", "eta")
#: The error e_j = −∂L/∂y_j of the textbooks' error terms (Negnevitsky's e), and a threshold θ_j.
ERROR = ("e", "e", "e")
THRESHOLD = ("\\theta", "θ", "theta")

NOTATIONS = {
    "indexed": Letters(input=("x", "x", "x"), pre=("x", "x", "x"), out=("y", "y", "y"), target=("t", "t", "t"),
                       weight=("w", "w", "w"), bias=("b", "b", "b"), loss=("L", "L", "L"), cost=("J", "J", "J"),
                       single_cost=("L", "L", "L"), layer=""),
    "ng": Letters(input=("x", "x", "x"), pre=("z", "z", "z"), out=("a", "a", "a"), target=("y", "y", "y"),
                  weight=("W", "W", "W"), bias=("b", "b", "b"), loss=("L", "L", "L"), cost=("J", "J", "J"),
                  single_cost=("J", "J", "J"), layer="[{}]"),
    # NOTE: h = Wx + b and ŷ = σ(h) as the course writes them; a hidden layer's output is its
    # activation a, and an example's number takes ⟨⟩ because (k) already marks the layer.
    "layered": Letters(input=("x", "x", "x"), pre=("h", "h", "h"), out=("a", "a", "a"), target=("y", "y", "y"),
                       weight=("W", "W", "W"), bias=("b", "b", "b"), loss=("E", "E", "E"), cost=("E", "E", "E"),
                       single_cost=("E", "E", "E"), layer="({})", final_out=("\\hat{y}", "ŷ", "yhat"),
                       example_mark="<>"),
}


@dataclass(frozen=True)
class FunctionName:
    """An activation's symbol: ``base`` (tex, text) and a subscript number when several share the base.

    The identity is written ``id`` where its derivative is named; ``applied`` is False for it, so
    that y = x is written without a function.
    """

    base: tuple[str, str]
    index: int = 0
    applied: bool = True

    def tex(self) -> str:
        return self.base[0] + (f"_{{{self.index}}}" if self.index else "")

    def text(self) -> str:
        return self.base[1] + (str(self.index).translate(_SUBSCRIPTS) if self.index else "")

    def mathml(self) -> str:
        letter = f"<mi>{html.escape(self.base[1])}</mi>"
        return f"<msub>{letter}<mn>{self.index}</mn></msub>" if self.index else letter


#: The identity's symbol where its derivative is written (f'(x) = 1 would read as any f's).
IDENTITY = (r"\operatorname{id}", "id")


def _function_name(activation: Activation, index: int) -> FunctionName:
    if activation.formula == X:
        return FunctionName(IDENTITY, index, applied=False)
    return FunctionName((activation.tex, activation.text), index)


def function_names(network: Network) -> dict[Activation, FunctionName]:
    """Each distinct activation of ``network`` with its symbol: two that share a letter (two custom
    formulas f, leaky_relu with two α) are told apart by a subscript, f₁ and f₂."""
    distinct = list(dict.fromkeys(neuron.activation for neuron in network.neurons))
    by_base: dict[tuple[str, str], list[Activation]] = {}
    for activation in distinct:
        by_base.setdefault(_function_name(activation, 0).base, []).append(activation)
    return {activation: _function_name(activation, index + 1 if len(group) > 1 else 0)
            for group in by_base.values() for index, activation in enumerate(group)}


class Notation:
    """Names every quantity of one network in one notation.

    Args:
        network: The network, whose form decides whether nodes are named by layer and unit
            (dense layers with a layered notation) or by their own names.
        style: ``indexed``, ``layered`` or ``ng``.
        per_example: Name the loss of a one-example network as one example's of a batch (L, not
            J), for formulas that a batch's cost then averages.
    """

    def __init__(self, network: Network, style: str, *, per_example: bool = False) -> None:
        self.style = style
        self.letters = NOTATIONS[style]
        self.by_layer = bool(self.letters.layer) and network.form == "dense"
        # NOTE: a named graph whose every edge goes from one layer to the next keeps its nodes'
        # names, and takes the layer marks of a layered notation beside them: z^{[1]}_{3}.
        self.marks_layers = bool(self.letters.layer) and not self.by_layer and all(
            weight.source.layer == neuron.layer - 1 for neuron in network.neurons for weight in neuron.incoming)
        self.batched = network.batched
        self.single_cost = self.letters.loss if per_example else self.letters.single_cost
        self.outputs = set(network.outputs)
        self.error_term = network.options.error_term
        self.by_input = network.weights_layout == "input_by_unit"
        self.functions = function_names(network)
        self._cache: dict[Quantity, Name] = {}
        self._ascii: dict[Quantity, str] = {}

    def function(self, activation: Activation) -> FunctionName:
        """The symbol of ``activation`` in this network (its own when two share a letter)."""
        return self.functions.get(activation) or _function_name(activation, 0)

    # -- the parts of a name --

    def _node_name(self, letter: tuple[str, str, str], node: Node, example: int | None) -> Name:
        example = example if self.batched else None
        mark = self.letters.example_mark
        if self.by_layer and node.layer > 0:
            return Name(letter, self.letters.layer.format(node.layer), (str(node.unit),), example, mark)
        if self.by_layer:
            return Name(letter, "", (str(node.unit),), example, mark)
        layer = self.letters.layer.format(node.layer) if self.marks_layers and node.layer > 0 else ""
        return Name(letter, layer, (node.name,), example, mark)

    def parameter_name(self, parameter: Parameter) -> Name:
        """w_{13}, W^{[1]}_{21}, b_3, b^{[1]} or b_{\\{3,4\\}} (a bias shared by a layer), θ_3 (a threshold)."""
        target = parameter.target
        layer = self.letters.layer.format(target.layer) if self.by_layer or self.marks_layers else ""
        if parameter.kind == "threshold":
            return Name(THRESHOLD, layer, (target.name,))
        if parameter.kind == "weight":
            if self.by_layer:
                # NOTE: indexed as the spec writes the matrix: W_{ji} (unit, input), or W_{ij} for x·W.
                indices = (str(target.unit), str(parameter.source.unit))
                return Name(self.letters.weight, layer, indices[::-1] if self.by_input else indices)
            return Name(self.letters.edge_weight, layer, (parameter.source.name, target.name))
        if len(parameter.users) > 1:
            if self.by_layer:
                return Name(self.letters.bias, layer)
            # NOTE: b_{34} would read as a weight's two ends; the set of neurons reads as shared.
            return Name(self.letters.bias, layer, ("{" + ",".join(user.name for user in parameter.users) + "}",))
        if self.by_layer:
            return Name(self.letters.bias, layer, (str(target.unit),))
        return Name(self.letters.bias, layer, (target.name,))

    def name(self, quantity: Quantity) -> Name:
        """The Name of a plain (non-derivative) quantity."""
        cached = self._cache.get(quantity)
        if cached is None:
            cached = self._cache[quantity] = self._name(quantity)
        return cached

    def _name(self, quantity: Quantity) -> Name:
        kind, node, example = quantity.kind, quantity.node, quantity.example
        letters = self.letters
        if kind == "input":
            return self._node_name(letters.input, node, example)
        if kind == "pre":
            return self._node_name(letters.pre, node, example)
        if kind == "out":
            final = letters.final_out if letters.final_out and node in self.outputs else None
            if final:
                return self._node_name(final, node, example).without_layer()
            return self._node_name(letters.out, node, example)
        if kind == "target":
            return self._node_name(letters.target, node, example).without_layer()
        if kind == "loss":
            return Name(letters.loss if self.batched else self.single_cost, "", (),
                        example if self.batched else None, letters.example_mark)
        if kind == "cost":
            return Name(letters.cost if self.batched else self.single_cost)
        if kind == "delta":
            return self._node_name(DELTA, node, example)
        if kind == "dout" and self.error_term:
            return self._node_name(ERROR, node, example)
        if kind == "param":
            return self.parameter_name(quantity.parameter)
        if kind == "rate":
            return Name(RATE)
        raise ValueError(f"{kind} is written as a derivative, not a name")

    def layer_name(self, kind: str, layer: int, final: bool = False, new: bool = False) -> Name:
        """A whole layer's vector or matrix in matrix style: z^{[2]}, a^{[1]}, W^{[2]}, δ^{[2]}.

        Args:
            kind: ``pre``, ``out``, ``delta``, ``weight`` or ``bias``; ``out`` of layer 0 is
                the input vector x.
            layer: The layer's number, 1 for the first layer of neurons.
            final: True for the output layer (ŷ in the layered notation).
            new: The parameter after the update (W^{[2],new}).
        """
        letters = self.letters
        if kind == "out" and layer == 0:
            return Name(letters.input)
        if kind == "out" and final and letters.final_out:
            return Name(letters.final_out)
        base = {"pre": letters.pre, "out": letters.out, "delta": DELTA, "weight": letters.matrix,
                "bias": letters.bias}[kind]
        return Name(base, (letters.layer or letters.matrix_layer).format(layer), new=new)

    # -- whole symbols --

    def _derivative_parts(self, quantity: Quantity) -> tuple[Name, Name] | None:
        kind = quantity.kind
        if kind == "dout" and self.error_term:
            return None
        if kind == "dinput":
            return self.name(Quantity("loss", example=quantity.example)), self.name(
                Quantity("input", quantity.node, quantity.example))
        if kind in ("dout", "dloss"):
            return self.name(Quantity("loss", example=quantity.example)), self.name(
                Quantity("out", quantity.node, quantity.example))
        if kind == "slope":
            return self.name(Quantity("out", quantity.node, quantity.example)), self.name(
                Quantity("pre", quantity.node, quantity.example))
        if kind == "jacobian":
            return self.name(Quantity("out", quantity.node, quantity.example)), self.name(
                Quantity("pre", quantity.other, quantity.example))
        if kind == "grad":
            return self.name(Quantity("cost")), self.parameter_name(quantity.parameter)
        return None

    def _minus(self, quantity: Quantity, sign: str) -> str:
        """``sign`` before the direct part of an output's error (−∂L/∂y|direct) with error terms, else ""."""
        return sign if self.error_term and quantity.kind == "dloss" else ""

    def tex(self, quantity: Quantity) -> str:
        """The quantity's symbol in LaTeX, e.g. ``\\frac{\\partial L}{\\partial w_{13}}``."""
        parts = self._derivative_parts(quantity)
        if parts:
            fraction = r"\frac{\partial " + parts[0].tex() + r"}{\partial " + parts[1].tex() + "}"
            if quantity.kind == "dloss":
                return self._minus(quantity, "-") + rf"\left.{fraction}\right|_{{\text{{direct}}}}"
            return fraction
        if quantity.kind == "new":
            return self.parameter_name(quantity.parameter).tex(r"\text{new}")
        return self.name(quantity).tex()

    def text(self, quantity: Quantity) -> str:
        """The quantity's symbol in Unicode, e.g. ``∂L/∂w₁₃``."""
        parts = self._derivative_parts(quantity)
        if parts:
            direct = "|direct" if quantity.kind == "dloss" else ""
            return f"{self._minus(quantity, '−')}∂{parts[0].text()}/∂{parts[1].text()}{direct}"
        if quantity.kind == "new":
            return self.parameter_name(quantity.parameter).text() + "ⁿᵉʷ"
        return self.name(quantity).text()

    def mathml(self, quantity: Quantity) -> str:
        """The quantity's symbol in MathML Core, e.g. ``<mfrac><mrow><mi>∂</mi><mi>L</mi></mrow>…</mfrac>``."""
        parts = self._derivative_parts(quantity)
        if parts:
            fraction = (f"<mfrac><mrow><mi>∂</mi>{parts[0].mathml()}</mrow>"
                        f"<mrow><mi>∂</mi>{parts[1].mathml()}</mrow></mfrac>")
            if quantity.kind == "dloss":
                minus = self._minus(quantity, "<mo>−</mo>")
                return f"<mrow>{minus}<msub><mrow>{fraction}<mo>|</mo></mrow><mtext>direct</mtext></msub></mrow>"
            return fraction
        if quantity.kind == "new":
            return self.parameter_name(quantity.parameter).mathml("<mtext>new</mtext>")
        return self.name(quantity).mathml()

    def ascii(self, quantity: Quantity) -> str:
        """The quantity's ASCII name, as in JSON ``quantities`` and ``check`` answers: ``dL/dw13``."""
        # NOTE: remembered: JSON and check name every quantity of every step (a 13k-weight network's 67k times).
        cached = self._ascii.get(quantity)
        if cached is None:
            cached = self._ascii[quantity] = self._ascii_name(quantity)
        return cached

    def _ascii_name(self, quantity: Quantity) -> str:
        parts = self._derivative_parts(quantity)
        if parts:
            direct = "_direct" if quantity.kind == "dloss" else ""
            return f"{self._minus(quantity, '-')}d{parts[0].ascii()}/d{parts[1].ascii()}{direct}"
        if quantity.kind == "new":
            return self.parameter_name(quantity.parameter).ascii() + "_new"
        return self.name(quantity).ascii()


# --- operation graphs --------------------------------------------------------------------

#: A graph's name that is letters then digits (w0, x12) is written with the digits as a subscript.
_LETTERS_DIGITS = re.compile(r"([A-Za-z])([0-9]+)")


def graph_name(name: str, new: bool = False) -> Name:
    """How a leaf's or node's own name is written: ``w0`` as w₀, ``q`` as q, ``x1w1`` upright as a word."""
    split = _LETTERS_DIGITS.fullmatch(name)
    if split:
        return Name((split[1], split[1], split[1]), indices=(split[2],), new=new)
    if len(name) == 1:
        return Name((name, name, name), new=new)
    return Name((r"\mathit{" + name + "}", name, name), new=new)


class GraphNotation:
    """Names the quantities of an operation graph (``graph.Ref``): values by their own names, gradients
    as ∂f/∂q of the differentiated node f, what a consumer sends back as ∂f/∂x|q, updates as w₀ⁿᵉʷ.

    Args:
        graph: The operation graph.
    """

    style = "graph"

    def __init__(self, graph) -> None:
        self.top = graph.output
        self._cache: dict[tuple[str, object], str] = {}
        self._kinds = {leaf.name: leaf.kind for leaf in graph.leaves}
        self._targets = {leaf.name: leaf.name.split(":", 1)[1] for leaf in graph.leaves
                         if leaf.kind == "target" and ":" in leaf.name}

    def name(self, ref) -> Name:
        """The Name of a value (a leaf, a node, an updated parameter) or of η."""
        if ref.kind == "rate":
            return Name(RATE)
        if ref.name in self._targets:
            return Name(("t", "t", "t"), indices=(self._targets[ref.name],))
        return graph_name(ref.name, new=ref.kind == "new")

    def _parts(self, ref) -> tuple[Name, Name] | None:
        if ref.kind in ("grad", "sent"):
            return graph_name(self.top), graph_name(ref.name)
        return None

    def _via(self, ref) -> tuple[str, str]:
        via = graph_name(ref.via)
        slot = "" if ref.slot is None else f",{ref.slot + 1}"
        return via.tex() + slot, via.text() + slot.replace(",", ".")

    def tex(self, ref) -> str:
        key = ("tex", ref)
        if key not in self._cache:
            self._cache[key] = self._tex(ref)
        return self._cache[key]

    def _tex(self, ref) -> str:
        parts = self._parts(ref)
        if not parts:
            return self.name(ref).tex()
        fraction = r"\frac{\partial " + parts[0].tex() + r"}{\partial " + parts[1].tex() + "}"
        # NOTE: \vert, not |: a Markdown table cell would end at the bar.
        return rf"\left.{fraction}\right\vert_{{{self._via(ref)[0]}}}" if ref.kind == "sent" else fraction

    def text(self, ref) -> str:
        key = ("text", ref)
        if key not in self._cache:
            self._cache[key] = self._text(ref)
        return self._cache[key]

    def _text(self, ref) -> str:
        parts = self._parts(ref)
        if not parts:
            return self.name(ref).text()
        return f"∂{parts[0].text()}/∂{parts[1].text()}" + (f"|{self._via(ref)[1]}" if ref.kind == "sent" else "")

    def mathml(self, ref) -> str:
        key = ("mathml", ref)
        if key not in self._cache:
            self._cache[key] = self._mathml(ref)
        return self._cache[key]

    def _mathml(self, ref) -> str:
        parts = self._parts(ref)
        if not parts:
            return self.name(ref).mathml("<mtext>new</mtext>" if ref.kind == "new" else "")
        fraction = (f"<mfrac><mrow><mi>∂</mi>{parts[0].mathml()}</mrow>"
                    f"<mrow><mi>∂</mi>{parts[1].mathml()}</mrow></mfrac>")
        if ref.kind == "sent":
            return f"<msub><mrow>{fraction}<mo>|</mo></mrow><mrow>{graph_name(ref.via).mathml()}</mrow></msub>"
        return fraction

    def ascii(self, ref) -> str:
        key = ("ascii", ref)
        if key not in self._cache:
            self._cache[key] = self._ascii(ref)
        return self._cache[key]

    def _ascii(self, ref) -> str:
        """The ASCII name, as JSON ``quantities`` and ``check`` use it: ``q``, ``df/dx``, ``df/dx|q``, ``w0_new``."""
        if ref.kind in ("grad", "sent"):
            via = "" if ref.kind == "grad" else f"|{ref.via}" + ("" if ref.slot is None else f".{ref.slot + 1}")
            return f"d{self.top}/d{ref.name}{via}"
        if ref.kind == "value" and ref.name not in self._targets:
            return ref.name
        return ref.name + "_new" if ref.kind == "new" else self.name(ref).ascii()

    def spellings(self, ref):
        """Every way a student may write ``ref``: ASCII, Unicode, LaTeX (and their mixtures for derivatives)."""
        yield self.ascii(ref)
        parts = self._parts(ref)
        if not parts:
            name = self.name(ref)
            yield from (name.text(), name.tex())
            if ref.kind == "new":
                yield from (ref.name + suffix for suffix in ("'", "new", "(new)"))
            return
        suffix = self.ascii(ref)[len(f"d{self.top}/d{ref.name}"):]
        for top in (self.top, parts[0].text(), parts[0].tex()):
            for bottom in (ref.name, parts[1].text(), parts[1].tex()):
                yield f"d{top}/d{bottom}{suffix}"
