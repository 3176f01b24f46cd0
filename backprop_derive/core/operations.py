"""The operations of a computational graph: one table of rules, each a forward formula SymPy differentiates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sympy

from .notation import FunctionName


class _Arguments:
    """The argument symbols of every operation's forward formula, in order (a00, a01, …), as many as asked for.

    Indexed and sliced like a tuple; iterating gives them without end (``zip`` stops at the shorter side).
    A weighted sum takes two per input, so a wide layer's neuron needs hundreds.
    """

    def __init__(self) -> None:
        self._symbols: list[sympy.Symbol] = []

    def _grow(self, count: int) -> None:
        while len(self._symbols) < count:
            self._symbols.append(sympy.Symbol(f"a{len(self._symbols):02d}", real=True))

    def __getitem__(self, index):
        if isinstance(index, slice):
            self._grow(index.stop or 0)
            return tuple(self._symbols[index])
        self._grow(index + 1)
        return self._symbols[index]

    def __iter__(self):
        index = 0
        while True:
            yield self[index]
            index += 1


#: The argument symbols of every operation's forward formula, in order (a00, a01, …).
ARGUMENTS = _Arguments()

#: How an operation's application is written: (typography, the operation, printed arguments, printed constant).
Shape = Callable[[object, "Operation", list[str], str], str]


@dataclass(frozen=True)
class Operation:
    """One kind of node: its forward formula, how it is written, and what a course says of its gradient.

    Attributes:
        name: The table's key (``multiply``).
        arity: How many inputs it takes.
        forward: f(a0, …, c) as a SymPy expression of ``ARGUMENTS`` (and the node's constant ``c``).
        shape: How ``f(inputs)`` is written, given the typography and the printed inputs and constant.
        tex: A function's symbol in LaTeX (``\\sigma``), for ``typography.function``; empty if written as a formula.
        text: The same in Unicode (``σ``).
        backward: How the gradient flows back through it, in a course's words.
        kink: The value taken for a Heaviside step at 0 (relu'(0), a tie of max), if the derivative has one.
        constant: Whether the node carries a constant (scale by c, add c, power c).
        defined: Whether to write the function's definition after its symbol (σ(a) = 1/(1 + e^−a)).
        delimits: Whether the way it is written sets its inputs apart already (σ(−1), e^{−1}), so that a
            negative number needs no parentheses of its own.
        glyph: The gate's mark in a circuit diagram, (LaTeX, Unicode); ``{c}`` stands for its constant.
            Empty: the function's symbol, or the operation's name.
        numeric: f computed from its inputs' numbers directly, where putting them into the formula is slow
            (a weighted sum of hundreds of terms); None: the formula is evaluated.
    """

    name: str
    arity: int
    forward: Callable[..., sympy.Expr]
    shape: Shape
    backward: str
    tex: str = ""
    text: str = ""
    kink: sympy.Rational | None = None
    constant: bool = False
    defined: bool = False
    delimits: bool = False
    glyph: tuple[str, str] = ("", "")
    numeric: Callable[..., sympy.Expr] | None = None

    def formula(self, constant: sympy.Expr | None = None) -> sympy.Expr:
        """f over ``ARGUMENTS`` (with the node's constant put in)."""
        return _formula(self, constant)

    def locals(self, constant: sympy.Expr | None = None) -> tuple[sympy.Expr, ...]:
        """∂f/∂a_i for each input, as SymPy differentiates ``formula`` (a kink takes ``kink``)."""
        return _locals(self, constant)

    def write(self, typography, arguments: list[str], constant: str = "") -> str:
        """``f(arguments)`` written in ``typography`` (arguments already printed: names or numbers)."""
        return self.shape(typography, self, arguments, constant)

    def mark(self, constant: str = "") -> tuple[str, str]:
        """The gate's mark in a diagram, (LaTeX, Unicode), with its constant written in."""
        tex, text = self.glyph if self.glyph[1] else (self.tex or r"\mathrm{" + self.name + "}", self.text or self.name)
        return tex.replace("{c}", constant), text.replace("{c}", constant)


# NOTE: cached by (operation, constant): a layer of 676 windows builds each node's formula from one kind.
@cache
def _formula(operation: Operation, constant: sympy.Expr | None) -> sympy.Expr:
    arguments = ARGUMENTS[:operation.arity]
    return operation.forward(*arguments, constant) if operation.constant else operation.forward(*arguments)


# NOTE: cached by (operation, constant): a graph of 200 gates uses a handful of kinds, each differentiated once.
@cache
def _locals(operation: Operation, constant: sympy.Expr | None) -> tuple[sympy.Expr, ...]:
    formula = operation.formula(constant)
    derivatives = []
    for argument in ARGUMENTS[:operation.arity]:
        derivative = sympy.diff(formula, argument)
        if operation.kink is not None:
            derivative = derivative.replace(
                sympy.Heaviside, lambda step, *_: sympy.Heaviside(step, operation.kink))
        derivatives.append(derivative)
    return tuple(derivatives)


class _Symbols:
    """What ``typography.function`` asks of a notation, for an operation: its symbol (σ, tanh, max)."""

    @staticmethod
    def function(operation: Operation) -> FunctionName:
        return FunctionName((operation.tex, operation.text))


def _applied(typography, operation: Operation, arguments: list[str], constant: str) -> str:
    """A function's symbol applied to the inputs: σ(a), max(a, b)."""
    return typography.apply(typography.function(_Symbols, operation), typography.separator.join(arguments))


def as_sympy_prints(typography, operation: Operation, arguments: list[str], constant: str) -> str:
    """The forward formula as SymPy prints it (powers, roots, |a|), each input written as given."""
    symbols = ARGUMENTS[:len(arguments)]
    return typography.formula(operation.formula(_CONSTANT if operation.constant else None),
                              {**dict(zip(symbols, arguments)), _CONSTANT: constant})


def _named(name: str, tex: str, text: str, forward, backward: str, arity: int = 1, **options) -> Operation:
    """An operation written as a function's name applied to its inputs (σ(a), max(a, b))."""
    return Operation(name, arity, forward, _applied, backward, tex, text, delimits=True, **options)


#: Stands for a node's constant while a formula is printed.
_CONSTANT = sympy.Symbol("c", real=True)


_HALF = sympy.Rational(1, 2)

#: Every elementary gate, by name. Adding a gate is one entry here.
OPERATIONS: dict[str, Operation] = {operation.name: operation for operation in (
    Operation("add", 2, lambda a, b: a + b, lambda t, _, args, c: t.sum(args),
              "the add gate gives each input the gradient unchanged", glyph=("+", "+")),
    Operation("subtract", 2, lambda a, b: a - b, lambda t, _, args, c: t.difference(*args),
              "the subtract gate gives a the gradient, b its negative", glyph=("-", "−")),
    Operation("multiply", 2, lambda a, b: a * b, lambda t, _, args, c: t.times.join(args),
              "the multiply gate gives each input the gradient times the other",
              glyph=(r"\times", "×")),
    Operation("divide", 2, lambda a, b: a / b, lambda t, _, args, c: t.fraction(*args),
              "the divide gate gives a the gradient times 1/b, b times −a/b²", glyph=(r"\div", "÷")),
    Operation("negate", 1, lambda a: -a, lambda t, _, args, c: t.negative(args[0]),
              "the negate gate flips the gradient's sign", glyph=("-", "−")),
    Operation("scale", 1, lambda a, c: c * a, lambda t, _, args, c: t.times.join([c, args[0]]),
              "the scale gate multiplies the gradient by its constant", constant=True, glyph=(r"\times {c}", "×{c}")),
    Operation("add_constant", 1, lambda a, c: a + c, lambda t, _, args, c: t.sum([args[0], c]),
              "adding a constant passes the gradient on unchanged", constant=True, glyph=("+{c}", "+{c}")),
    Operation("power", 1, lambda a, c: a ** c,
              as_sympy_prints,
              "the power gate multiplies the gradient by c·a^(c − 1)", constant=True, glyph=("x^{{c}}", "x^{c}")),
    Operation("pow", 2, lambda a, b: a ** b, as_sympy_prints,
              "the power gate gives a it times b·a^(b − 1), b times a^b·ln a", glyph=("x^y", "x^y")),
    Operation("exp", 1, sympy.exp, lambda t, _, args, c: t.exp(args[0]),
              "the exp gate multiplies the gradient by its output e^a", delimits=True, glyph=(r"\exp", "exp")),
    _named("log", r"\ln", "ln", sympy.log, "the log gate multiplies the gradient by 1/a"),
    Operation("reciprocal", 1, lambda a: 1 / a, lambda t, _, args, c: t.fraction(t.number(sympy.Integer(1)), args[0]),
              "the 1/a gate multiplies the gradient by −1/a²", glyph=("1/x", "1/x")),
    Operation("sqrt", 1, sympy.sqrt, as_sympy_prints, "the square-root gate multiplies the gradient by 1/(2 sqrt(a))",
              glyph=(r"\sqrt{x}", "√x")),
    _named("tanh", r"\tanh", "tanh", sympy.tanh, "the tanh gate multiplies the gradient by 1 − tanh²(a)"),
    _named("sigmoid", r"\sigma", "σ", lambda a: 1 / (1 + sympy.exp(-a)),
           "the sigmoid gate multiplies the gradient by σ(a)(1 − σ(a))", defined=True),
    _named("relu", r"\operatorname{relu}", "relu", lambda a: sympy.Max(0, a),
           "the relu gate passes the gradient where a > 0, else 0",
           kink=sympy.Integer(0), defined=True),
    _named("max", r"\max", "max", sympy.Max, "the max gate routes the gradient to the larger input",
           arity=2, kink=_HALF),
    _named("min", r"\min", "min", sympy.Min, "the min gate routes the gradient to the smaller input",
           arity=2, kink=_HALF),
    Operation("abs", 1, sympy.Abs, as_sympy_prints, "the abs gate multiplies the gradient by the sign of a",
              glyph=("|x|", "|x|")),
    _named("sin", r"\sin", "sin", sympy.sin, "the sin gate multiplies the gradient by cos(a)"),
    _named("cos", r"\cos", "cos", sympy.cos, "the cos gate multiplies the gradient by −sin(a)"),
)}


def formula_operation(formula: sympy.Expr, arity: int) -> Operation:
    """A node computed by a whole formula over ``ARGUMENTS[:arity]`` (a node that is not split into gates).

    Its local derivatives are SymPy's derivatives of the formula, as for any gate.
    """
    return Operation("formula", arity, lambda *arguments: formula.xreplace(dict(zip(ARGUMENTS, arguments))),
                     as_sympy_prints,
                     "", kink=sympy.Integer(0))


def _weighted_sum_shape(typography, operation: Operation, arguments: list[str], constant: str) -> str:
    pairs = [typography.times.join(arguments[index:index + 2]) for index in range(0, 2 * operation.pairs, 2)]
    extra = arguments[2 * operation.pairs:]
    if not extra:
        return typography.sum(pairs)
    if operation.bias_sign < 0:
        return typography.difference(typography.sum(pairs), extra[0])
    return typography.sum(pairs + extra)


@cache
def weighted_sum(pairs: int, bias_sign: int = 0) -> Operation:
    """A neuron's (or a window's) weighted sum: a0·a1 + a2·a3 + … over ``pairs`` (value, weight) pairs,
    plus a bias (``bias_sign`` +1), minus a threshold (−1), or neither (0) as the last input.

    Its local derivatives are SymPy's, as for any gate: ∂/∂value = its weight, ∂/∂weight = its value,
    ∂/∂bias = ±1. One operation per (pairs, bias_sign), so each is differentiated once.
    """
    def forward(*arguments):
        total = sympy.Add(*(arguments[2 * index] * arguments[2 * index + 1] for index in range(pairs)))
        return total + bias_sign * arguments[-1] if bias_sign else total

    def numeric(*numbers):
        total = sympy.Add(*(numbers[2 * index] * numbers[2 * index + 1] for index in range(pairs)))
        return total + bias_sign * numbers[-1] if bias_sign else total

    operation = _WeightedSum("weighted_sum", 2 * pairs + (1 if bias_sign else 0), forward, _weighted_sum_shape,
                             "the weighted sum gives each input its weight times the gradient, each weight its input "
                             "times the gradient", glyph=(r"\Sigma", "Σ"), numeric=numeric, pairs=pairs,
                             bias_sign=bias_sign)
    return operation


@dataclass(frozen=True)
class _WeightedSum(Operation):
    """A weighted sum: how many (value, weight) pairs it takes, and the sign of its last input (0: none)."""

    pairs: int = 0
    bias_sign: int = 0

    def locals(self, constant: sympy.Expr | None = None) -> tuple[sympy.Expr, ...]:
        """∂/∂a_i for each input, as SymPy differentiates the one term a_i is in (the others give 0).

        The same derivatives as the whole sum's, without differentiating hundreds of terms by each input.
        """
        return _weighted_sum_locals(self.pairs, self.bias_sign)


@cache
def _weighted_sum_locals(pairs: int, bias_sign: int) -> tuple[sympy.Expr, ...]:
    arguments = ARGUMENTS[:2 * pairs + (1 if bias_sign else 0)]
    derivatives = []
    for index in range(pairs):
        term = arguments[2 * index] * arguments[2 * index + 1]
        derivatives.extend((sympy.diff(term, arguments[2 * index]), sympy.diff(term, arguments[2 * index + 1])))
    if bias_sign:
        derivatives.append(sympy.diff(bias_sign * arguments[-1], arguments[-1]))
    return tuple(derivatives)
