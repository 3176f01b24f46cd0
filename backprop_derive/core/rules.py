"""The rules: each activation and loss as a SymPy formula, its derivative taken by SymPy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property

import sympy

from .formula import X, parse_formula
from .limits import MAX_FUNCTION_NESTING, MAX_OPS_IN_OUTPUT_FORM
from .numbers import substitute


@dataclass(frozen=True)
class Activation:
    """An activation function f(x), with how it is written.

    Attributes:
        name: The spec's name (``sigmoid``), or ``custom``.
        formula: f as a SymPy expression in ``X``.
        tex: f's symbol in LaTeX (``\\sigma``); empty for identity, written as plain x.
        text: f's symbol in Unicode (``σ``).
        derivative_at_zero: For functions with a kink at 0 (relu), the derivative chosen there.
        layerwise: True for softmax, whose outputs depend on the whole layer.
    """

    name: str
    formula: sympy.Expr
    tex: str
    text: str
    derivative_at_zero: sympy.Rational | None = None
    layerwise: bool = False
    parameters: tuple[tuple[str, sympy.Rational], ...] = field(default=())

    @cached_property
    def derivative(self) -> sympy.Expr:
        """f'(x) as SymPy differentiates ``formula``, with the chosen value at a kink."""
        derivative = sympy.diff(self.formula, X)
        if self.derivative_at_zero is not None:
            derivative = derivative.replace(
                sympy.Heaviside, lambda argument, *_: sympy.Heaviside(argument, self.derivative_at_zero)
            )
        return derivative

    @cached_property
    def derivative_of_output(self) -> sympy.Expr | None:
        """f'(x) written in the output y = f(x) when that is shorter, e.g. y(1 − y) for sigmoid.

        Found by SymPy: solve y = f(x) for x, substitute, simplify. None when there is no
        such form (relu, custom formulas SymPy cannot invert) or it is no shorter.
        """
        return _in_output(self.formula, self.derivative)

    def value(self, argument: sympy.Expr) -> sympy.Expr:
        """f at a number (sums formed by numbers.total, a log of −1 said in words: see numbers.substitute)."""
        return substitute(self.formula, {X: argument})


#: The symbol that stands for an activation's output y = f(x) in ``derivative_of_output``.
OUTPUT = sympy.Symbol("y", real=True)
#: Derivatives in the output that ``_in_output`` checks before it solves y = f(x): the sigmoid's.
_KNOWN_OUTPUT_FORMS = (OUTPUT * (1 - OUTPUT),)


# NOTE: cached by formula: solving y = f(x) takes SymPy about 0.1 s, and every layer of every
# network builds its own Activation (generate solves thousands of networks).
@cache
def _in_output(formula: sympy.Expr, derivative: sympy.Expr) -> sympy.Expr | None:
    """``derivative`` written in the output y = ``formula``, or None (see Activation.derivative_of_output)."""
    if not formula.has(sympy.exp, sympy.tanh) or formula.has(sympy.Piecewise):
        return None
    # NOTE: f' often contains f itself (tanh' = 1 − tanh²): then substituting y is enough;
    # otherwise solve y = f(x) for x (sigmoid), when it has one solution.
    substituted = derivative.subs(formula, OUTPUT)
    if not substituted.has(X):
        return substituted
    if sympy.count_ops(formula) > MAX_OPS_IN_OUTPUT_FORM or _function_nesting(formula) > MAX_FUNCTION_NESTING:
        return None
    # NOTE: the form courses know (the sigmoid's y(1 − y)) is tried first: checking it (as a rational function
    # of the exponentials) takes milliseconds, where solving y = f(x) loads SymPy's solvers and takes a quarter
    # of a second. A form cancel cannot confirm is left to solve.
    for form in _KNOWN_OUTPUT_FORMS:
        if sympy.cancel(derivative - form.xreplace({OUTPUT: formula})) == 0:
            return form if sympy.count_ops(form) < sympy.count_ops(derivative) else None
    try:
        inverses = sympy.solve(sympy.Eq(OUTPUT, formula), X)
    except NotImplementedError:
        return None
    if len(inverses) != 1:
        return None
    in_output = sympy.simplify(derivative.subs(X, inverses[0]))
    if in_output.has(X) or sympy.count_ops(in_output) >= sympy.count_ops(derivative):
        return None
    return in_output


def _function_nesting(formula: sympy.Expr) -> int:
    """How deep function calls nest in ``formula``: 1 for exp(-x)/2, 2 for tanh(tanh(x))."""
    deepest = 0
    stack = [(formula, 0)]
    while stack:
        node, depth = stack.pop()
        depth += isinstance(node, sympy.Function)
        deepest = max(deepest, depth)
        stack.extend((argument, depth) for argument in node.args)
    return deepest

_HALF = sympy.Rational(1, 2)


def _relu(options: ActivationOptions) -> Activation:
    return Activation("relu", sympy.Max(0, X), r"\operatorname{relu}", "relu",
                      derivative_at_zero=options.relu_derivative_at_zero)


def _leaky_relu(options: ActivationOptions) -> Activation:
    # NOTE: `x > 0` rather than `x >= 0`: the same function, and at 0 its derivative is the
    # x < 0 slope α, as PyTorch takes it.
    alpha = options.alpha if options.alpha is not None else sympy.Rational(1, 100)
    return Activation("leaky_relu", sympy.Piecewise((X, X > 0), (alpha * X, True)),
                      r"\operatorname{lrelu}", "lrelu", parameters=(("alpha", alpha),))


def _elu(options: ActivationOptions) -> Activation:
    alpha = options.alpha if options.alpha is not None else sympy.Integer(1)
    return Activation("elu", sympy.Piecewise((X, X > 0), (alpha * (sympy.exp(X) - 1), True)),
                      r"\operatorname{elu}", "elu", parameters=(("alpha", alpha),))


@dataclass(frozen=True)
class ActivationOptions:
    """What an activation may be given: α for leaky_relu/elu, the relu derivative at 0."""

    alpha: sympy.Rational | None = None
    relu_derivative_at_zero: sympy.Rational = sympy.Integer(0)


ACTIVATIONS: dict[str, Callable[[ActivationOptions], Activation]] = {
    "identity": lambda _: Activation("identity", X, "", ""),
    "sigmoid": lambda _: Activation("sigmoid", 1 / (1 + sympy.exp(-X)), r"\sigma", "σ"),
    "tanh": lambda _: Activation("tanh", sympy.tanh(X), r"\tanh", "tanh"),
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "softplus": lambda _: Activation("softplus", sympy.log(1 + sympy.exp(X)), r"\operatorname{softplus}", "softplus"),
    # NOTE: softmax's formula is that of one unit given the others' sum; the derivation uses
    # its whole-layer Jacobian (see SoftmaxDelta), so `formula` serves display only.
    "softmax": lambda _: Activation("softmax", sympy.exp(X), r"\operatorname{softmax}", "softmax", layerwise=True),
}
ALIASES = {"linear": "identity"}
#: Activations that take the parameter alpha.
WITH_ALPHA = {"leaky_relu", "elu"}


def make_activation(name: str, options: ActivationOptions) -> Activation:
    """The activation called ``name`` (an alias is accepted)."""
    return ACTIVATIONS[ALIASES.get(name, name)](options)


def custom_activation(expression: str) -> Activation:
    """An activation from a user's formula in x, parsed by the safe whitelist parser."""
    return Activation("custom", parse_formula(expression), "f", "f")


# --- losses ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """A per-example loss L(o, t) over the outputs o_k and targets t_k.

    Attributes:
        name: The spec's name.
        build: Makes L as a SymPy expression from the output and target symbols.
        description: One line for the solution's text.
        domain: Where L is defined, said when an output lies outside it ("" for everywhere).
        written_slope: ∂L/∂o_k from (o_k, t_k), as a person writes it, where SymPy's derivative
            (factored by ``factor_terms``) reads otherwise; the same function (tests check it).
        targets: False for ``none``, which has no targets and is the output itself.
    """

    name: str
    build: Callable[[list[sympy.Symbol], list[sympy.Symbol]], sympy.Expr]
    description: str
    domain: str = ""
    written_slope: Callable[[sympy.Symbol, sympy.Symbol], sympy.Expr] | None = None
    targets: bool = True

    def formula(self, outputs: list[sympy.Symbol], targets: list[sympy.Symbol]) -> sympy.Expr:
        """L written out for these symbols."""
        return self.build(outputs, targets)

    def slope(self, formula: sympy.Expr, output: sympy.Symbol, target: sympy.Symbol) -> sympy.Expr:
        """∂L/∂``output`` of the loss ``formula``, factored as a person writes it: 2·(o − t), not 2o − 2t."""
        if self.written_slope is not None:
            return self.written_slope(output, target)
        return sympy.factor_terms(sympy.diff(formula, output))


def _sum(terms) -> sympy.Expr:
    return sympy.Add(*terms)


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("half_squared_error", lambda o, t: _HALF * _sum((ok - tk) ** 2 for ok, tk in zip(o, t)),
             "half the squared error"),
        Loss("squared_error", lambda o, t: _sum((ok - tk) ** 2 for ok, tk in zip(o, t)), "the squared error"),
        Loss("mse", lambda o, t: _sum((ok - tk) ** 2 for ok, tk in zip(o, t)) / len(o),
             "the mean squared error over the outputs"),
        Loss("binary_cross_entropy",
             lambda o, t: -_sum(tk * sympy.log(ok) + (1 - tk) * sympy.log(1 - ok) for ok, tk in zip(o, t)),
             "the binary cross-entropy",
             "binary_cross_entropy needs every output strictly between 0 and 1 (as a sigmoid gives)",
             # NOTE: SymPy's (1 − t)/(1 − o) − t/o over one denominator.
             written_slope=lambda o, t: (o - t) / (o * (1 - o))),
        Loss("cross_entropy", lambda o, t: -_sum(tk * sympy.log(ok) for ok, tk in zip(o, t)),
             "the cross-entropy", "cross_entropy needs every output above 0 (as a softmax gives)"),
        # NOTE: no targets: the single output is what is differentiated (a circuit's f, SPEC §2.7).
        Loss("none", lambda o, t: o[0], "none: the output itself is differentiated", targets=False),
    )
}
