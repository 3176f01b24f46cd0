"""Aliases: every spelling of a quantity's name that a student may write, built from the notations."""

from __future__ import annotations

import dataclasses
import difflib
import re
import unicodedata

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
_DERIVATIVE = re.compile(r"d([^/]+)/d([^/]+)")
_LOSS_NAME = re.compile(r"(?:[LEJC]|loss|cost)(\(\d+\))?", re.IGNORECASE)
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

    Names are tried from the most to the least specific: the solution's own ASCII names; any
    spelling of them in its notation (ASCII, Unicode, LaTeX, other loss letters, other marks of an
    update); the same quantity's names in the other notations; then ignoring case; then ignoring
    brackets too.
    A spelling that two quantities share at the first level that knows it is ambiguous.

    Args:
        solution: The solved exercise whose quantities (of its first training step) are named.
    """

    def __init__(self, solution) -> None:
        self.notation: Notation = solution.notation
        quantities = list(solution.values[0])
        others = [Notation(solution.network, style) for style in NOTATIONS if style != self.notation.style]
        self.exact = {self.notation.ascii(quantity): quantity for quantity in quantities}
        native: dict[str, set[Quantity]] = {}
        foreign: dict[str, set[Quantity]] = {}
        for quantity in quantities:
            for spelling in _spellings(self.notation, quantity):
                native.setdefault(normalized(spelling), set()).add(quantity)
            for notation in others:
                for spelling in _spellings(notation, quantity):
                    foreign.setdefault(normalized(spelling), set()).add(quantity)
        self.levels = (native, foreign, _keyed(lowered, native, foreign), _keyed(stripped, native, foreign))

    def find(self, name: str) -> tuple[Quantity, ...]:
        """The quantities ``name`` may mean: one when it is clear, none when unknown, several when ambiguous."""
        name = name.strip()
        if name in self.exact:
            return (self.exact[name],)
        key = normalized(name)
        for table, lookup in zip(self.levels, (key, key, lowered(key), stripped(key))):
            found = table.get(lookup)
            if found:
                return tuple(sorted(found, key=self.notation.ascii))
        return ()

    def suggestion(self, name: str) -> str | None:
        """The solution's name closest to ``name``, if any is close."""
        close = difflib.get_close_matches(name.strip(), list(self.exact), n=1, cutoff=0.6)
        return close[0] if close else None


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
    elif kind in _DERIVATIVE_PARTS:
        numerator, denominator = _DERIVATIVE_PARTS[kind](notation, quantity)
        yield from _fractions(numerator, denominator)
    else:
        yield from _forms(notation.name(quantity))
    if kind in ("dout", "delta"):
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
}
