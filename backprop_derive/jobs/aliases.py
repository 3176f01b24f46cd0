"""Aliases: every spelling of a quantity's name that a student may write, built from the notations."""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata
from functools import cached_property

from ..core.errors import SpecError
from ..core.notation import NOTATIONS, Name, Notation
from ..core.steps import Quantity

#: Stands for the loss (or cost) in a normalised name, whatever letter the student wrote.
_LOSS = "§"
#: Marks an updated parameter in a normalised name, however the student marked it.
_NEW = "#new"

# NOTE: LaTeX words first, so that "\delta" becomes δ before the backslash is stripped.
_LATEX = ((r"\partial", "∂"), (r"\delta", "δ"), (r"\eta", "η"), (r"\hat{y}", "ŷ"), (r"\text{new}", "new"),
          (r"\mathrm{new}", "new"), (r"\sigma", "σ"), ("′", "'"))
_SYMBOLS = (("∂", "d"), ("δ", "delta"), ("η", "eta"), ("ŷ", "yhat"), ("σ", "sigma"))
_IGNORED = re.compile(r"[\s_{}\\^$]")
# NOTE: D as well as d: DL/DW35 is how a student writes with caps lock on.
_DERIVATIVE = re.compile(r"[dD]([^/]+)/[dD]([^/]+)")
# NOTE: "total" for Mazur's E_total, the sum of the outputs' errors.
_LOSS_NAME = re.compile(r"(?:[LEJC]|loss|cost)(?:total)?(\(\d+\))?", re.IGNORECASE)
# A hat written after the index (y5_hat) is the hat of ŷ5.
_HAT_AFTER = re.compile(r"(?P<letter>[A-Za-z])(?P<index>\d+)hat")
_NEW_MARK = re.compile(r"new(?P<after>.+)|(?P<before>.+?)(?:\(new\)|new|'|\+)")
_BRACKETS = re.compile(r"[\[\](),]")


def normalized(name: str) -> str:
    """A name reduced to what identifies it: ``∂E/∂w₁₃`` and ``dL / dw_{13}`` give the same key.

    Subscripts, superscripts, spaces, underscores and braces go; ∂, δ, η, ŷ become d, delta, eta,
    yhat; any loss letter (L, E, J, C, loss, cost) becomes one mark; ``new``, ``'`` or ``+``
    before or after a parameter become one mark.
    """
    text = unicodedata.normalize("NFKC", name)
    for latex, plain in _LATEX:
        text = text.replace(latex, plain)
    text = _IGNORED.sub("", text)
    for symbol, plain in _SYMBOLS:
        text = text.replace(symbol, plain)
    derivative = _DERIVATIVE.fullmatch(text)
    if derivative:
        return f"d{_plain(derivative[1])}/d{_plain(derivative[2])}"
    return _plain(text)


def _plain(text: str) -> str:
    hat = _HAT_AFTER.fullmatch(text)
    if hat:
        text = f"{hat['letter']}hat{hat['index']}"
    loss = _LOSS_NAME.fullmatch(text)
    if loss:
        return _LOSS + (loss[1] or "")
    new = _NEW_MARK.fullmatch(text)
    if new:
        return (new["after"] or new["before"]) + _NEW
    return text


def lowered(key: str) -> str:
    """A normalised key ignoring case, with δ written d (``Delta[2]_1`` → ``d[2]1``)."""
    text = key.lower()
    return "d" + text[len("delta"):] if text.startswith("delta") else text


def stripped(key: str) -> str:
    """A lowered key without brackets or commas (``a2_1`` for ``a[2]_1``)."""
    return _BRACKETS.sub("", lowered(key))


class Aliases:
    """Finds the quantity a student's name means.

    Names are tried from the most to the least specific: the solution's own ASCII names; the
    course's own names (the spec's ``answer_names``, with their derivatives and updates); any
    spelling of them in its notation (ASCII, Unicode, LaTeX, other loss letters, other marks of an
    update, Mazur's ``out_h1``/``net_o1``); the same quantity's names in the other notations; then
    ignoring case; then ignoring brackets too.
    A spelling that two quantities share at the first level that knows it is ambiguous.

    Args:
        solution: The solved exercise whose quantities (of its first training step) are named.

    Raises:
        SpecError: an ``answer_names`` entry names no quantity, several, or takes another quantity's name.
    """

    def __init__(self, solution) -> None:
        self.notation: Notation = solution.notation
        self.quantities: list[Quantity] = list(solution.values[0])
        network = getattr(solution, "network", None)  # NOTE: a graph solution has a graph instead
        # NOTE: a graph's quantities have their own names (spelled by its notation); a network's, every notation's.
        graph = hasattr(self.notation, "spellings")
        others = [] if graph else [Notation(network, style) for style in NOTATIONS if style != self.notation.style]
        spellings = self.notation.spellings if graph else lambda quantity: _spellings(self.notation, quantity)
        self.exact = {self.notation.ascii(quantity): quantity for quantity in self.quantities}
        self._found: dict[str, tuple[Quantity, ...]] = {}
        native: dict[str, set[Quantity]] = {}
        foreign: dict[str, set[Quantity]] = {}
        #: Spellings worth showing beside a name (``names``): Unicode, the other notations', a hand solution's.
        self.usual: dict[Quantity, list[str]] = {quantity: [] for quantity in self.quantities}
        for quantity in self.quantities:
            for spelling in spellings(quantity):
                native.setdefault(normalized(spelling), set()).add(quantity)
            hand = [] if graph else list(_hand_spellings(network, quantity))
            for spelling in hand:
                native.setdefault(normalized(spelling), set()).add(quantity)
            for notation in others:
                for spelling in _spellings(notation, quantity):
                    foreign.setdefault(normalized(spelling), set()).add(quantity)
            self.usual[quantity] += [self.notation.text(quantity)] + [other.ascii(quantity) for other in others] + hand
        self.levels = (native, foreign, _keyed(lowered, native, foreign), _keyed(stripped, native, foreign))
        #: The course's own name of each quantity it names (``answer_names``).
        self.course: dict[Quantity, str] = {}
        self.course_keys: dict[str, Quantity] = {}
        for name, target in solution.answer_names:
            self._add_course_name(name, target, native)
        for quantity, spellings in self.usual.items():
            own = self.notation.ascii(quantity)
            self.usual[quantity] = [spelling for spelling in dict.fromkeys(spellings)
                                    if spelling != own and self.find(spelling) == (quantity,)]

    def find(self, name: str) -> tuple[Quantity, ...]:
        """The quantities ``name`` may mean: one when it is clear, none when unknown, several when ambiguous."""
        # NOTE: remembered: a class's sheets write the same names again and again.
        if name not in self._found:
            self._found[name] = self._find(name.strip())
        return self._found[name]

    def _find(self, name: str) -> tuple[Quantity, ...]:
        if name in self.exact:
            return (self.exact[name],)
        key = normalized(name)
        for course_key in (key, lowered(key)):
            if course_key in self.course_keys:
                return (self.course_keys[course_key],)
        for table, lookup in zip(self.levels, (key, key, lowered(key), stripped(key))):
            found = table.get(lookup)
            if found:
                return tuple(sorted(found, key=self.notation.ascii))
        return ()

    def suggestions(self, name: str, count: int = 3) -> list[str]:
        """The solution's names closest to ``name``, closest first (at most ``count``).

        Names of the same shape come first: the same letters once digits and brackets are
        dropped, so ``dJ/dw1`` suggests the weights' gradients (dJ/dW[1]_11), not a bias's; then
        names with the same digits in another order (``dL/dw53`` suggests dL/dw35 first).
        """
        key = stripped(normalized(name.strip()))
        shape = _shape(key)
        scored = {}
        for position, (candidate_key, quantity) in enumerate(self._candidates):
            ratio = difflib.SequenceMatcher(None, key, candidate_key).ratio()
            same = _shape(candidate_key) == shape
            if same or ratio >= 0.6:
                swapped = sorted(re.findall(r"\d", candidate_key)) == sorted(re.findall(r"\d", key))
                score = (not same, not swapped, -ratio, position % len(self.exact))
                scored[quantity] = min(scored.get(quantity, score), score)
        return [self.name_of(quantity) for quantity in sorted(scored, key=scored.__getitem__)[:count]]

    @cached_property
    def _candidates(self) -> list[tuple[str, Quantity]]:
        """Each name a suggestion may give (the solution's, then the course's), as its key, with its quantity."""
        names = [*self.exact.items(), *((course, quantity) for quantity, course in self.course.items())]
        return [(stripped(normalized(name)), quantity) for name, quantity in names]

    def name_of(self, quantity: Quantity) -> str:
        """The name a student of this course writes: the course's own (``answer_names``), else the solution's."""
        return self.course.get(quantity) or self.notation.ascii(quantity)

    def _add_course_name(self, name: str, target: str, native: dict[str, set[Quantity]]) -> None:
        path = f"answer_names.{name}"
        found = self.find(target)
        if len(found) != 1:
            problem = f"{target} could mean {' or '.join(map(self.notation.ascii, found))}" if found else \
                f"this solution has no quantity called {target}"
            raise SpecError(f"expected the name of one quantity of the solution (as solve --format json "
                            f"lists them); {problem}", path)
        quantity = found[0]
        for spelling, meant in _course_spellings(name, quantity, self.quantities):
            key = normalized(spelling)
            taken = native.get(key, set()) - {meant}
            if taken:
                raise SpecError(f"{name} is already the solution's name of "
                                f"{' and '.join(sorted(map(self.notation.ascii, taken)))}; choose another name", path)
            self.course_keys[key] = meant
            self.course_keys.setdefault(lowered(key), meant)
            if meant is quantity:
                self.course[meant] = name
            else:
                # NOTE: shown as the solution writes its loss: dJ/dw5 where the loss is J.
                own = self.notation.ascii(meant)
                shown = own.split("/")[0] + spelling[spelling.index("/"):] if "/" in spelling else spelling
                self.course.setdefault(meant, shown)


def _shape(key: str) -> str:
    """A key's letters alone: ``d§/dw`` for both dJ/dw1 and dJ/dW[1]_12."""
    return re.sub(r"[\d\[\](),<>]", "", key)


def _course_spellings(name: str, quantity: Quantity, quantities: list[Quantity]):
    """A course's name for a quantity, and the names it implies: its update and gradient, its δ."""
    yield name, quantity
    related = {(other.kind, other.node, other.example, other.parameter): other for other in quantities}

    def of(kind: str) -> Quantity | None:
        return related.get((kind, quantity.node, quantity.example, quantity.parameter))

    implied = {"param": (("new", f"{name}_new"), ("grad", f"dL/d{name}")),
               "out": (("dout", f"dL/d{name}"),), "pre": (("delta", f"dL/d{name}"),)}
    for kind, spelling in implied.get(quantity.kind, ()):
        if of(kind) is not None:
            yield spelling, of(kind)


def _hand_spellings(network, quantity: Quantity):
    """The names of hand solutions in the style of Mazur's: out_h1, net_o1, i1, target_o1, dE_total/dout_o1."""
    node, kind = quantity.node, quantity.kind
    if node is None or kind not in ("input", "target", "pre", "out", "dout", "delta", "slope"):
        return
    example = f"({quantity.example + 1})" if network.batched and quantity.example is not None else ""
    if node.layer == 0:
        if kind == "input":
            yield f"i{node.name if network.form != 'dense' else node.unit}{example}"
        return
    if network.form == "dense":
        output = node in network.outputs
        hidden_layers = max(neuron.layer for neuron in network.neurons) - 1
        unit = str(node.unit) if output or hidden_layers == 1 else f"{node.layer}_{node.unit}"
        label = ("o" if output else "h") + unit
    else:
        label = node.name
    out, net = f"out_{label}{example}", f"net_{label}{example}"
    if kind == "out" and node in network.outputs:
        yield f"y{node.name}_hat{example}"  # NOTE: ŷ numbered as the indexed notation numbers the neuron
    yield from {"target": (f"target_{label}{example}",), "pre": (net,), "out": (out,), "dout": (f"dE/d{out}",),
                "delta": (f"dE/d{net}",), "slope": (f"d{out}/d{net}",)}[kind]


def _keyed(transform, *tables: dict[str, set[Quantity]]) -> dict[str, set[Quantity]]:
    keyed: dict[str, set[Quantity]] = {}
    for table in tables:
        for key, found in table.items():
            keyed.setdefault(transform(key), set()).update(found)
    return keyed


def _spellings(notation: Notation, quantity: Quantity):
    """Every way ``notation`` writes ``quantity``, with the spellings a hand solution also uses."""
    kind, node, example = quantity.kind, quantity.node, quantity.example
    if kind == "new":
        yield from (form + "_new" for form in _forms(notation.parameter_name(quantity.parameter)))
    elif kind in _DERIVATIVE_PARTS and not (kind == "dout" and notation.error_term):
        numerator, denominator = _DERIVATIVE_PARTS[kind](notation, quantity)
        yield from _fractions(numerator, denominator)
    else:
        yield from _forms(notation.name(quantity))
    # NOTE: an error term is −∂L/∂: it is never spelled as the derivative itself.
    if kind in ("dout", "delta") and not notation.error_term:
        # NOTE: ∂L/∂y₃ and ∂L(1)/∂y₃(1) alike: the denominator already says which example.
        loss = notation.name(Quantity("loss", example=example))
        by = Quantity("out" if kind == "dout" else "pre", node, example)
        for numerator in {loss, dataclasses.replace(loss, example=None)}:
            yield from _fractions(numerator, notation.name(by))
    if kind == "slope":
        activation = node.activation
        for pre in _forms(notation.name(Quantity("pre", node, example))):
            for function in {"f", activation.name, activation.text} - {""}:
                yield f"{function}'({pre})"


def _forms(name: Name) -> tuple[str, str, str]:
    return name.ascii(), name.text(), name.tex()


def _fractions(numerator: Name, denominator: Name):
    for top in _forms(numerator):
        for bottom in _forms(denominator):
            yield f"d{top}/d{bottom}"


# How each derivative quantity is written as ∂(numerator)/∂(denominator), as the notations write it.
_DERIVATIVE_PARTS = {
    "dout": lambda notation, q: (notation.name(Quantity("loss", example=q.example)),
                                 notation.name(Quantity("out", q.node, q.example))),
    "slope": lambda notation, q: (notation.name(Quantity("out", q.node, q.example)),
                                  notation.name(Quantity("pre", q.node, q.example))),
    "jacobian": lambda notation, q: (notation.name(Quantity("out", q.node, q.example)),
                                     notation.name(Quantity("pre", q.other, q.example))),
    "grad": lambda notation, q: (notation.name(Quantity("cost")), notation.parameter_name(q.parameter)),
    "dinput": lambda notation, q: (notation.name(Quantity("loss", example=q.example)),
                                   notation.name(Quantity("input", q.node, q.example))),
}
