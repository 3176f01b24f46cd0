"""Typography: how names, numbers and SymPy formulas are written in LaTeX, MathML or Unicode text."""

from __future__ import annotations

import functools
import html

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE, precedence, precedence_traditional
from sympy.printing.str import StrPrinter
from sympy.simplify import fraction

from ..core.numbers import Shown, show

#: Where a lone number needs no parentheses of its own: a function's argument, a side of a
#: comparison (max(0, −3); −1.5 > 0); a case's value is the third place (see _alone).
_BARE_HOLDERS = (sympy.Function, sympy.Max, sympy.Min, sympy.core.relational.Relational)


class _BareArguments:
    """A printer mixin: a number that stands alone where it needs no parentheses is written without.

    ``names`` writes a negative number in parentheses, as a factor needs; as the whole argument of
    a function that brings its own, max(0, −3), it is written ``bare``: never max(0, (−3)).
    """

    names: dict
    bare: dict

    def _print(self, expr, **kwargs):
        if self.bare:
            alone = {part: sympy.Dummy() for part in _alone(expr) if part in self.bare}
            if alone:
                self.names = {**self.names, **{dummy: self.bare[part] for part, dummy in alone.items()}}
                expr = _replaced(expr, alone)
        return super()._print(expr, **kwargs)

    def _print_Dummy(self, expr, *args):
        return self._print_Symbol(expr)


def _alone(expr) -> tuple:
    """The parts of ``expr`` where a lone number is written bare."""
    if isinstance(expr, sympy.Piecewise):
        return tuple(value for value, _ in expr.args)
    return expr.args if isinstance(expr, _BARE_HOLDERS) else ()


def _replaced(expr, alone: dict):
    """``expr`` with the parts in ``alone`` replaced, there only (not deeper: 2·x keeps x's brackets)."""
    if isinstance(expr, sympy.Piecewise):
        return sympy.Piecewise(*((alone.get(value, value), condition) for value, condition in expr.args),
                               evaluate=False)
    return expr.func(*(alone.get(argument, argument) for argument in expr.args), evaluate=False)


class _LatexWithNames(_BareArguments, LatexPrinter):
    """SymPy's LaTeX printer, writing each symbol as the solution names it (or as a number)."""

    def __init__(self, names: dict, bare: dict | None = None, **settings) -> None:
        super().__init__(settings)
        self.names, self.bare = names, bare or {}

    def _print_Symbol(self, expr, style="plain"):
        return self.names.get(expr) or super()._print_Symbol(expr, style)

    def _print_Heaviside(self, expr, exp=None):
        argument = self._print(expr.args[0])
        at_zero = self._print(expr.args[1]) if len(expr.args) > 1 else r"\tfrac{1}{2}"
        return (r"\begin{cases} 1 & " + argument + r" > 0 \\ " + at_zero + " & " + argument
                + r" = 0 \\ 0 & " + argument + r" < 0 \end{cases}")


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
#: The printers' settings for a formula printed in the order it was built (``ordered``), or in SymPy's.
_ORDER = {True: {"order": "none"}, False: {}}


class _TextWithNames(_BareArguments, StrPrinter):
    """SymPy's string printer, writing each symbol as the solution names it, with ^ and ·."""

    def __init__(self, names: dict, bare: dict | None = None) -> None:
        super().__init__({"order": "none"})
        self.names, self.bare = names, bare or {}

    def _print_Symbol(self, expr):
        return self.names.get(expr) or expr.name

    def _print_Pow(self, expr, rational=False):
        if expr.exp == sympy.Rational(1, 2):
            return f"√({self._print(expr.base)})"
        if expr.exp == sympy.Rational(-1, 2):
            return f"1/√({self._print(expr.base)})"
        if expr.exp.is_Integer and 1 < expr.exp < 10:
            return self.parenthesize(expr.base, precedence(expr), strict=False) + str(expr.exp).translate(_SUPERSCRIPTS)
        return super()._print_Pow(expr, rational).replace("**", "^")

    def _print_Mul(self, expr):
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Heaviside(self, expr):
        argument = self._print(expr.args[0])
        at_zero = self._print(expr.args[1]) if len(expr.args) > 1 else "1/2"
        return f"(1 if {argument} > 0, {at_zero} if {argument} = 0, else 0)"

    def _print_Piecewise(self, expr):
        pieces = [f"{self._print(value)} if {self._print(condition)}" for value, condition in expr.args[:-1]]
        return "(" + ", ".join(pieces) + f", else {self._print(expr.args[-1][0])})"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(argument) for argument in expr.args) + ")"

    def _print_exp(self, expr):
        return f"e^({self._print(expr.args[0])})"

    def _print_Derivative(self, expr):
        variables = "".join(self._print(variable) for variable, _ in expr.variable_count)
        return f"d/d{variables} [{self._print(expr.expr)}]"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"


class _MathMLWithNames(_BareArguments, MathMLPresentationPrinter):
    """SymPy's MathML printer (MathML Core markup), writing each symbol as the solution names it."""

    def __init__(self, names: dict, bare: dict | None = None, **settings) -> None:
        super().__init__(settings)
        self.names, self.bare = names, bare or {}

    def _markup(self, markup: str):
        """An element holding ready markup (SymPy's printer writes text nodes unescaped)."""
        row = self.dom.createElement("mrow")
        row.appendChild(self.dom.createTextNode(markup))
        return row

    def _print_Symbol(self, sym, style="plain"):
        name = self.names.get(sym)
        return self._markup(name) if name else super()._print_Symbol(sym, style)

    def mathml_tag(self, e):
        # NOTE: SymPy writes d/dx with &dd; (ⅆ), which math fonts draw as a stray glyph; d as LaTeX does.
        return "d" if isinstance(e, sympy.Derivative) else super().mathml_tag(e)

    def _print_Mul(self, expr):
        # NOTE: SymPy's MathML printer moves e^{-x} into the denominator as 1/e^x; like the LaTeX
        # printer, keep each factor where it is written (fraction(exact=True)).
        if expr.could_extract_minus_sign():
            return self._markup(f"<mo>-</mo>{self._print(-expr).toxml()}")
        numerator, denominator = fraction(expr, exact=True)
        if denominator != 1:
            return self._markup(f"<mfrac>{self._print(numerator).toxml()}{self._print(denominator).toxml()}</mfrac>")
        coefficient, factors = expr.as_coeff_mul()
        factors = ((coefficient,) if coefficient != 1 else ()) + tuple(sympy.Mul(*factors).as_ordered_factors())
        times = f"<mo>{self.mathml_tag(expr)}</mo>"
        return self._markup(times.join(self.parenthesize(factor, PRECEDENCE["Mul"]).toxml() for factor in factors))

    def parenthesize(self, item, level, strict=False):
        binding = precedence_traditional(item)
        if binding < level or (not strict and binding <= level):
            return self._markup(_fenced(self._print(item).toxml()))
        return self._print(item)

    def _paren_comma_separated(self, *args):
        return self._markup(_fenced("<mo>,</mo>".join(self._print(argument).toxml() for argument in args)))

    def _print_exp(self, expr):
        return self._markup(f"<msup><mi>e</mi>{self._print(expr.args[0]).toxml()}</msup>")

    def _print_Max(self, expr):
        return self._markup(f"<mi>max</mi><mo>&#x2061;</mo>{self._paren_comma_separated(*expr.args).toxml()}")

    def _print_Relational(self, expr):
        relation = self.mathml_tag(expr).replace("<", "&lt;").replace(">", "&gt;")
        return self._markup(f"{self._print(expr.lhs).toxml()}<mo>{relation}</mo>{self._print(expr.rhs).toxml()}")

    def _print_Heaviside(self, expr):
        argument = self._print(expr.args[0]).toxml()
        at_zero = self._print(expr.args[1] if len(expr.args) > 1 else sympy.Rational(1, 2)).toxml()
        return self._cases([("<mn>1</mn>", f"{argument}<mo>&gt;</mo><mn>0</mn>"),
                            (at_zero, f"{argument}<mo>=</mo><mn>0</mn>"),
                            ("<mn>0</mn>", f"{argument}<mo>&lt;</mo><mn>0</mn>")])

    def _print_Piecewise(self, expr):
        pieces = [(self._print(value).toxml(), self._print(condition).toxml()) for value, condition in expr.args[:-1]]
        pieces.append((self._print(expr.args[-1][0]).toxml(), "<mtext>otherwise</mtext>"))
        return self._cases(pieces)

    def _cases(self, pieces):
        rows = "".join(f"<mtr><mtd>{value}</mtd><mtd>{condition}</mtd></mtr>" for value, condition in pieces)
        return self._markup(f"<mo>{{</mo><mtable>{rows}</mtable>")

    def doprint(self, expr) -> str:
        # NOTE: SymPy's doprint calls Printer._print, past _BareArguments; this is the same through it.
        markup = self._print(expr).toxml().encode("ascii", "xmlcharrefreplace").decode()
        # NOTE: SymPy writes the minus as a hyphen; MathML Core draws what the <mo> holds.
        return markup.replace("<mo>-</mo>", "<mo>&#x2212;</mo>")


def _fenced(markup: str) -> str:
    """``markup`` in parentheses that stretch only around something tall (a fraction, cases, a root).

    NOTE: browsers draw a stretchy parenthesis around a plain number with a size variant whose side
    bearings read as spaces, "( 1 )"; a fixed one hugs it.
    """
    tall = any(tag in markup for tag in ("<mfrac", "<mtable", "<msqrt", "<mroot"))
    fence = "<mo>{}</mo>" if tall else '<mo stretchy="false">{}</mo>'
    return f"<mrow>{fence.format('(')}{markup}{fence.format(')')}</mrow>"


# NOTE: remembered because a solution writes each value several times (its line, the next lines, tables,
# diagrams, in two typographies); keyed by the value's type too, as SymPy finds 2 and 2.0 equal.
@functools.lru_cache(maxsize=65536)
def _shown(kind: type, value: sympy.Expr, precision: int) -> Shown:
    return show(value, precision)


class Latex:
    """LaTeX typography, for Markdown (GitHub math), LaTeX and PDF."""

    times = r" \cdot "
    arrow = r" \to "
    separator = r",\; "
    minus_sign = " - "
    prime = "'"

    def __init__(self, precision: int) -> None:
        self.precision = precision

    def shown(self, value: sympy.Expr) -> Shown:
        """How ``value`` is displayed at this precision."""
        return _shown(type(value), value, self.precision)

    def name(self, notation, quantity) -> str:
        """A quantity's symbol in this typography."""
        return notation.tex(quantity)

    def function(self, notation, activation) -> str:
        """An activation's symbol as ``notation`` names it: ``\\sigma``, ``f_{2}``, ``\\operatorname{id}``."""
        return notation.function(activation).tex()

    def applied(self, notation, activation, argument: str) -> str:
        """f(x) for ``activation``; plain x for the identity."""
        name = notation.function(activation)
        return self.apply(self.function(notation, activation), argument) if name.applied else argument

    def number(self, value: sympy.Expr) -> str:
        """A value as it reads in a formula: ``-0.5``, ``\\frac{1}{3}``, ``1.5 \\times 10^{-7}``."""
        return self.written(self.shown(value))

    def written(self, shown: Shown) -> str:
        sign = "-" if shown.negative else ""
        if shown.fraction:
            return sign + r"\frac{" + str(shown.fraction[0]) + "}{" + str(shown.fraction[1]) + "}"
        if shown.exponent is not None:
            return sign + shown.digits + r" \times 10^{" + str(shown.exponent) + "}"
        return sign + shown.digits

    def factor(self, value: sympy.Expr) -> str:
        """A value as one factor of a product or a term: negatives in parentheses."""
        shown = self.shown(value)
        text = self.written(shown)
        return self.group(text) if shown.negative or shown.exponent is not None else text

    def group(self, text: str) -> str:
        return r"\left(" + text + r"\right)"

    def formula(self, expr: sympy.Expr, names: dict, ordered: bool = False) -> str:
        """A SymPy formula, each symbol written as ``names`` says (``ordered``: terms in the order built)."""
        return _LatexWithNames(names, **_ORDER[ordered]).doprint(expr)

    def substituted(self, expr: sympy.Expr, values: dict, ordered: bool = False) -> str:
        """A SymPy formula with numbers in place of its symbols, products shown with a dot."""
        return _LatexWithNames({symbol: self.factor(value) for symbol, value in values.items()},
                               {symbol: self.number(value) for symbol, value in values.items()},
                               mul_symbol="dot", **_ORDER[ordered]).doprint(expr)

    def apply(self, function: str, argument: str) -> str:
        """f(x); plain x when f is the identity (written as an empty symbol)."""
        return f"{function}\\left({argument}\\right)" if function else argument

    def fraction(self, numerator: str, denominator: str) -> str:
        return r"\frac{" + numerator + "}{" + denominator + "}"

    def partial(self, numerator: str, denominator: str) -> str:
        return r"\frac{\partial " + numerator + r"}{\partial " + denominator + "}"

    def exp(self, argument: str) -> str:
        return "e^{" + argument + "}"

    def text(self, words: str) -> str:
        return r"\text{" + words + "}"

    # -- matrix style --

    hadamard = r" \odot "
    divided = r" \oslash "
    missing = r"\text{--}"  # an entry with no value (a frozen parameter's state)
    summation = r"\sum "
    sign_name = r"\operatorname{sign}"

    def root(self, text: str) -> str:
        """The square root of ``text`` (of each entry, for a matrix)."""
        return r"\sqrt{" + text + "}"

    def power(self, base: str, exponent: str) -> str:
        """``base`` (already grouped where it needs it) to the power ``exponent``."""
        return "{" + base + "}^{" + exponent + "}"

    def spelled(self, name) -> str:
        """A notation's Name (a layer's vector or matrix) in this typography."""
        return name.tex()

    def matrix(self, rows: list[list[str]]) -> str:
        """A matrix of printed entries."""
        return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(row) for row in rows) + r" \end{bmatrix}"

    def transposed(self, text: str) -> str:
        return "{" + text + r"}^{\top}"

    def beside(self, *pieces: str) -> str:
        """Pieces written one after the other on a line."""
        return "".join(pieces)

    def equation(self, parts: list[str]) -> tuple[str, ...]:
        """The parts of an equation chain, as a Line holds them (the template joins them with =)."""
        return tuple(parts)

    def variable(self, letter: str) -> str:
        """A plain variable of a general formula, such as the x of f'(x)."""
        return letter

    def losses_reduced(self, loss: str, mean: bool) -> str:
        """The cost of a batch of m examples: the mean (or sum) of the losses ``loss`` of each."""
        return (r"\frac{1}{m} " if mean else "") + r"\sum_{i=1}^{m} " + loss + "^{(i)}"

    def sum(self, terms) -> str:
        """Terms joined by plus signs."""
        return " + ".join(terms)

    def difference(self, left: str, right: str) -> str:
        return f"{left} - {right}"

    def negative(self, text: str) -> str:
        return "-" + text

    def juxtaposed(self, left: str, right: str) -> str:
        """A product written without a sign, as in x_1 w_{13}."""
        return f"{left} {right}"

    def equals(self, left: str, right: str) -> str:
        return f"{left} = {right}"


class Unicode(Latex):
    """Unicode typography for the terminal: ∂L/∂w₁₃, σ, η, ·, −."""

    times = " · "
    arrow = " → "
    separator = ", "
    minus_sign = " − "

    def name(self, notation, quantity) -> str:
        return notation.text(quantity)

    def function(self, notation, activation) -> str:
        return notation.function(activation).text()

    def losses_reduced(self, loss: str, mean: bool) -> str:
        return ("(1/m) " if mean else "") + f"Σᵢ {loss}⁽ⁱ⁾"

    def written(self, shown: Shown) -> str:
        sign = "−" if shown.negative else ""
        if shown.fraction:
            return f"{sign}{shown.fraction[0]}/{shown.fraction[1]}"
        if shown.exponent is not None:
            return f"{sign}{shown.digits}×10^{shown.exponent}"
        return sign + shown.digits

    def factor(self, value: sympy.Expr) -> str:
        shown = self.shown(value)
        text = self.written(shown)
        needs_group = shown.negative or shown.exponent is not None or shown.fraction is not None
        return self.group(text) if needs_group else text

    def group(self, text: str) -> str:
        if "\n" in text:
            # NOTE: a matrix drawn over several lines goes in parentheses as tall as it.
            height = text.count("\n") + 1
            left = "\n".join(["⎛"] + ["⎜"] * (height - 2) + ["⎝"])
            right = "\n".join(["⎞"] + ["⎟"] * (height - 2) + ["⎠"])
            return self.beside(left, text, right)
        return f"({text})"

    def formula(self, expr: sympy.Expr, names: dict, ordered: bool = False) -> str:
        return _TextWithNames(names).doprint(expr).replace("-", "−")

    def substituted(self, expr: sympy.Expr, values: dict, ordered: bool = False) -> str:
        names = {symbol: self.factor(value) for symbol, value in values.items()}
        bare = {symbol: self.number(value) for symbol, value in values.items()}
        return _TextWithNames(names, bare).doprint(expr).replace("-", "−")

    def apply(self, function: str, argument: str) -> str:
        return f"{function}({argument})" if function else argument

    def fraction(self, numerator: str, denominator: str) -> str:
        return f"{self._operand(numerator)}/{self._operand(denominator)}"

    def _operand(self, text: str) -> str:
        """``text`` in parentheses when it has several terms (``(1 + e^(−x))``)."""
        return self.group(text) if " " in text else text

    def partial(self, numerator: str, denominator: str) -> str:
        return f"∂{numerator}/∂{denominator}"

    def exp(self, argument: str) -> str:
        return f"e^({argument})"

    def text(self, words: str) -> str:
        return words

    hadamard = " ⊙ "
    divided = " ⊘ "
    missing = "–"
    summation = "Σ "
    sign_name = "sign"

    def root(self, text: str) -> str:
        if "\n" in text:
            return self.beside("√", text)
        return "√" + (text if text.replace(".", "").isdigit() else self.group(text))

    def power(self, base: str, exponent: str) -> str:
        raised = exponent.translate(_SUPERSCRIPTS) if exponent.isdigit() else "^" + exponent
        return self.beside(base, raised) if "\n" in base else base + raised

    def spelled(self, name) -> str:
        return name.text()

    def matrix(self, rows: list[list[str]]) -> str:
        """A matrix drawn over several lines, its columns right-aligned, in tall brackets."""
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
        if len(lines) == 1:
            return f"[{lines[0]}]"
        left = ["⎡"] + ["⎢"] * (len(lines) - 2) + ["⎣"]
        right = ["⎤"] + ["⎥"] * (len(lines) - 2) + ["⎦"]
        return "\n".join(f"{opening}{line}{closing}" for opening, line, closing in zip(left, lines, right))

    def transposed(self, text: str) -> str:
        lines = text.split("\n")
        return "\n".join([lines[0] + "ᵀ"] + [line + " " for line in lines[1:]])

    def beside(self, *pieces: str) -> str:
        """Pieces of several lines side by side, their middle lines level."""
        blocks = [piece.split("\n") for piece in pieces]
        above = max((len(block) - 1) // 2 for block in blocks)
        below = max(len(block) - 1 - (len(block) - 1) // 2 for block in blocks)
        rows = [""] * (above + below + 1)
        for block in blocks:
            width = max(len(line) for line in block)
            top = above - (len(block) - 1) // 2
            for index in range(len(rows)):
                inside = 0 <= index - top < len(block)
                rows[index] += (block[index - top] if inside else "").ljust(width)
        return "\n".join(row.rstrip() for row in rows)

    def equation(self, parts: list[str]) -> tuple[str, ...]:
        # NOTE: parts of several lines cannot be joined by the template, so they are laid out here.
        if not any("\n" in part for part in parts):
            return tuple(parts)
        pieces = [piece for part in parts for piece in (" = ", part)][1:]
        return (self.beside(*pieces),)

    def difference(self, left: str, right: str) -> str:
        return f"{left} − {right}"

    def negative(self, text: str) -> str:
        return "−" + text


def _row(markup: str) -> str:
    return f"<mrow>{markup}</mrow>"


class MathML(Latex):
    """MathML Core typography, for HTML: every piece is markup that goes inside ``<math>``."""

    times = "<mo>·</mo>"
    minus_sign = "<mo>−</mo>"
    arrow = "<mo>→</mo>"
    separator = '<mo>,</mo><mspace width="0.5em"></mspace>'
    prime = "<mo>′</mo>"

    def name(self, notation, quantity) -> str:
        return notation.mathml(quantity)

    def function(self, notation, activation) -> str:
        return notation.function(activation).mathml()

    def written(self, shown: Shown) -> str:
        sign = "<mo>−</mo>" if shown.negative else ""
        if shown.fraction:
            return _row(f"{sign}<mfrac><mn>{shown.fraction[0]}</mn><mn>{shown.fraction[1]}</mn></mfrac>")
        if shown.exponent is not None:
            exponent = f"<mo>−</mo><mn>{-shown.exponent}</mn>" if shown.exponent < 0 else f"<mn>{shown.exponent}</mn>"
            return _row(f"{sign}<mn>{shown.digits}</mn><mo>×</mo><msup><mn>10</mn>{_row(exponent)}</msup>")
        return _row(f"{sign}<mn>{shown.digits}</mn>") if sign else f"<mn>{shown.digits}</mn>"

    def group(self, text: str) -> str:
        return _fenced(text)

    def formula(self, expr: sympy.Expr, names: dict, ordered: bool = False) -> str:
        return _MathMLWithNames(names, mul_symbol="&#x2062;", **_ORDER[ordered]).doprint(expr)

    def substituted(self, expr: sympy.Expr, values: dict, ordered: bool = False) -> str:
        return _MathMLWithNames({symbol: self.factor(value) for symbol, value in values.items()},
                                {symbol: self.number(value) for symbol, value in values.items()},
                                mul_symbol="dot", **_ORDER[ordered]).doprint(expr)

    def apply(self, function: str, argument: str) -> str:
        return _row(f"{function}<mo>&#x2061;</mo>{self.group(argument)}") if function else argument

    def fraction(self, numerator: str, denominator: str) -> str:
        return f"<mfrac>{_row(numerator)}{_row(denominator)}</mfrac>"

    def partial(self, numerator: str, denominator: str) -> str:
        return f"<mfrac><mrow><mi>∂</mi>{numerator}</mrow><mrow><mi>∂</mi>{denominator}</mrow></mfrac>"

    def exp(self, argument: str) -> str:
        return f"<msup><mi>e</mi>{_row(argument)}</msup>"

    def text(self, words: str) -> str:
        return f"<mtext>{html.escape(words)}</mtext>"

    def variable(self, letter: str) -> str:
        return f"<mi>{html.escape(letter)}</mi>"

    def losses_reduced(self, loss: str, mean: bool) -> str:
        mean_of = self.fraction("<mn>1</mn>", "<mi>m</mi>") if mean else ""
        return (f"{mean_of}<munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>m</mi></munderover>"
                f"<msup>{self.variable(loss)}<mrow><mo>(</mo><mi>i</mi><mo>)</mo></mrow></msup>")

    def sum(self, terms) -> str:
        return "<mo>+</mo>".join(terms)

    def difference(self, left: str, right: str) -> str:
        return f"{left}<mo>−</mo>{right}"

    def negative(self, text: str) -> str:
        return _row(f"<mo>−</mo>{text}")

    def juxtaposed(self, left: str, right: str) -> str:
        return f"{left}<mo>&#x2062;</mo>{right}"

    def equals(self, left: str, right: str) -> str:
        return f"{left}<mo>=</mo>{right}"

    # -- matrix style --

    hadamard = "<mo>⊙</mo>"
    divided = "<mo>⊘</mo>"
    missing = "<mtext>–</mtext>"
    summation = "<mo>∑</mo>"
    sign_name = "<mi>sign</mi>"

    def root(self, text: str) -> str:
        return f"<msqrt>{_row(text)}</msqrt>"

    def power(self, base: str, exponent: str) -> str:
        return f"<msup>{_row(base)}{_row(exponent)}</msup>"

    def spelled(self, name) -> str:
        return name.mathml()

    def matrix(self, rows: list[list[str]]) -> str:
        cells = "".join("<mtr>" + "".join(f"<mtd>{cell}</mtd>" for cell in row) + "</mtr>" for row in rows)
        return _row(f"<mo>[</mo><mtable>{cells}</mtable><mo>]</mo>")

    def transposed(self, text: str) -> str:
        return f"<msup>{_row(text)}<mi>⊤</mi></msup>"

    def beside(self, *pieces: str) -> str:
        # NOTE: matrix style spells its operators as plain text (" + "); inside <math> text must
        # be an <mo> to be drawn, and a plain space is the invisible product.
        return "".join(piece if piece.lstrip().startswith("<")
                       else f"<mo>{html.escape(piece.strip())}</mo>" if piece.strip() else ""
                       for piece in pieces)

    def equation(self, parts: list[str]) -> tuple[str, ...]:
        return tuple(parts)
