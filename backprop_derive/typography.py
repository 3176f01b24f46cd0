"""Typography: how names, numbers and SymPy formulas are written in LaTeX or in Unicode text."""

from __future__ import annotations

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from .numbers import Shown, show


class _LatexWithNames(LatexPrinter):
    """SymPy's LaTeX printer, writing each symbol as the solution names it (or as a number)."""

    def __init__(self, names: dict, **settings) -> None:
        super().__init__(settings)
        self.names = names

    def _print_Symbol(self, expr, style="plain"):
        return self.names.get(expr) or super()._print_Symbol(expr, style)

    def _print_Heaviside(self, expr, exp=None):
        argument = self._print(expr.args[0])
        at_zero = self._print(expr.args[1]) if len(expr.args) > 1 else r"\tfrac{1}{2}"
        return (r"\begin{cases} 1 & " + argument + r" > 0 \\ " + at_zero + " & " + argument
                + r" = 0 \\ 0 & " + argument + r" < 0 \end{cases}")


class _TextWithNames(StrPrinter):
    """SymPy's string printer, writing each symbol as the solution names it, with ^ and ·."""

    def __init__(self, names: dict) -> None:
        super().__init__({"order": "none"})
        self.names = names

    def _print_Symbol(self, expr):
        return self.names.get(expr) or expr.name

    def _print_Pow(self, expr, rational=False):
        if expr.exp == sympy.Rational(1, 2):
            return f"√({self._print(expr.base)})"
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


class Latex:
    """LaTeX typography, for Markdown (GitHub math), LaTeX and PDF."""

    times = r" \cdot "
    arrow = r" \to "
    separator = r",\; "
    prime = "'"

    def __init__(self, precision: int) -> None:
        self.precision = precision

    def name(self, notation, quantity) -> str:
        """A quantity's symbol in this typography."""
        return notation.tex(quantity)

    def function(self, activation) -> str:
        """An activation's symbol (``\\sigma``); empty for the identity."""
        return activation.tex

    def minus(self, text: str) -> str:
        """Minus signs as this typography writes them."""
        return text

    def number(self, value: sympy.Expr) -> str:
        """A value as it reads in a formula: ``-0.5``, ``\\frac{1}{3}``, ``1.5 \\times 10^{-7}``."""
        return self.written(show(value, self.precision))

    def written(self, shown: Shown) -> str:
        sign = "-" if shown.negative else ""
        if shown.fraction:
            return sign + r"\frac{" + str(shown.fraction[0]) + "}{" + str(shown.fraction[1]) + "}"
        if shown.exponent is not None:
            return sign + shown.digits + r" \times 10^{" + str(shown.exponent) + "}"
        return sign + shown.digits

    def factor(self, value: sympy.Expr) -> str:
        """A value as one factor of a product or a term: negatives in parentheses."""
        shown = show(value, self.precision)
        text = self.written(shown)
        return self.group(text) if shown.negative or shown.exponent is not None else text

    def group(self, text: str) -> str:
        return r"\left(" + text + r"\right)"

    def formula(self, expr: sympy.Expr, names: dict) -> str:
        """A SymPy formula, each symbol written as ``names`` says."""
        return _LatexWithNames(names).doprint(expr)

    def substituted(self, expr: sympy.Expr, values: dict) -> str:
        """A SymPy formula with numbers in place of its symbols, products shown with a dot."""
        return _LatexWithNames({symbol: self.factor(value) for symbol, value in values.items()},
                               mul_symbol="dot").doprint(expr)

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
    summation = r"\sum "

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


class Unicode(Latex):
    """Unicode typography for the terminal: ∂L/∂w₁₃, σ, η, ·, −."""

    times = " · "
    arrow = " → "
    separator = ", "

    def name(self, notation, quantity) -> str:
        return notation.text(quantity)

    def function(self, activation) -> str:
        return activation.text

    def minus(self, text: str) -> str:
        return text.replace("-", "−")

    def written(self, shown: Shown) -> str:
        sign = "−" if shown.negative else ""
        if shown.fraction:
            return f"{sign}{shown.fraction[0]}/{shown.fraction[1]}"
        if shown.exponent is not None:
            return f"{sign}{shown.digits}×10^{shown.exponent}"
        return sign + shown.digits

    def factor(self, value: sympy.Expr) -> str:
        shown = show(value, self.precision)
        text = self.written(shown)
        needs_group = shown.negative or shown.exponent is not None or shown.fraction is not None
        return self.group(text) if needs_group else text

    def group(self, text: str) -> str:
        return f"({text})"

    def formula(self, expr: sympy.Expr, names: dict) -> str:
        return _TextWithNames(names).doprint(expr).replace("-", "−")

    def substituted(self, expr: sympy.Expr, values: dict) -> str:
        return self.formula(expr, {symbol: self.factor(value) for symbol, value in values.items()})

    def apply(self, function: str, argument: str) -> str:
        return f"{function}({argument})" if function else argument

    def fraction(self, numerator: str, denominator: str) -> str:
        return f"{numerator}/{denominator}"

    def partial(self, numerator: str, denominator: str) -> str:
        return f"∂{numerator}/∂{denominator}"

    def exp(self, argument: str) -> str:
        return f"e^({argument})"

    def text(self, words: str) -> str:
        return words

    hadamard = " ⊙ "
    summation = "Σ "

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
        return "\n".join(f"{l}{line}{r}" for l, line, r in zip(left, lines, right))

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
