"""Symbolic evaluation: each step's result as a formula in the quantities' symbols, for ``derive``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, singledispatch

import sympy

from .derivation import Derivation
from .steps import (
    Activate,
    BackSum,
    CostValue,
    Delta,
    Gradient,
    Jacobian,
    LossValue,
    OutputSlope,
    Quantity,
    Slope,
    SoftmaxActivate,
    SoftmaxDelta,
    Update,
    WeightedSum,
    bias_sign,
)
from .update import Assign

#: Steps whose formula is a product of local derivatives or a sum of such products: the chain
#: rule itself, expanded by ``expand`` down to the forward quantities.
CHAIN_STEPS = (BackSum, Delta, SoftmaxDelta, Gradient)

#: A chain rule with more paths than this is written factored, with the sums kept as sums.
MAX_PATHS_EXPANDED = 4


@dataclass(frozen=True)
class ChainSum:
    """A sum over paths of products of factors, each product in chain order from the loss down.

    Attributes:
        terms: One tuple of factors per path; a factor is a symbol (a weight, an input, a slope
            f'(x_j)) or a local formula in the forward quantities' symbols (∂L/∂y = y − t).
    """

    terms: tuple[tuple[sympy.Expr, ...], ...]

    @property
    def expr(self) -> sympy.Expr:
        """The same sum as one SymPy expression (evaluated, so SymPy may reorder it)."""
        return sympy.Add(*(sympy.Mul(*factors) for factors in self.terms))


def _product(*factors: sympy.Expr) -> sympy.Expr:
    return sympy.Mul(*factors, evaluate=False)


def _sum(*terms: sympy.Expr) -> sympy.Expr:
    return sympy.Add(*terms, evaluate=False)


@singledispatch
def symbolic(step) -> sympy.Expr:
    """``step``'s result as a formula over the symbols of the quantities it reads.

    The counterpart of ``evaluation.compute`` with symbols in place of numbers: sums and
    products are built unevaluated, so their terms and factors stay in the step's order.
    """
    raise TypeError(f"no symbolic rule for {type(step).__name__}")


@symbolic.register
def _(step: WeightedSum) -> sympy.Expr:
    terms = [_product(source.symbol, weight.symbol) for source, weight in step.terms]
    if step.bias:
        terms.append(_signed(bias_sign(step.bias), step.bias.symbol))
    return _sum(*terms)


def _signed(sign: int, expr: sympy.Expr) -> sympy.Expr:
    """``expr``, or −1 times it as a product whose first factor is −1 (how the printers show a minus)."""
    return expr if sign > 0 else _product(-1, *sympy.Mul.make_args(expr))


@symbolic.register
def _(step: Activate) -> sympy.Expr:
    return step.activation.value(step.argument.symbol)


@symbolic.register
def _(step: SoftmaxActivate) -> sympy.Expr:
    exponentials = [sympy.exp(argument.symbol) for argument in step.arguments]
    return exponentials[step.index] / sympy.Add(*exponentials)


@symbolic.register
def _(step: LossValue) -> sympy.Expr:
    return step.formula


@symbolic.register
def _(step: CostValue) -> sympy.Expr:
    return _product(step.scale, _sum(*(loss.symbol for loss in step.losses)))


@symbolic.register
def _(step: OutputSlope) -> sympy.Expr:
    return step.formula  # already factored, 2·(o − t), by the derivation


@symbolic.register
def _(step: BackSum) -> sympy.Expr:
    direct = (step.direct.symbol,) if step.direct else ()
    return _sum(*direct, *(_signed(step.sign, _product(delta.symbol, weight.symbol)) for delta, weight in step.terms))


@symbolic.register
def _(step: Slope) -> sympy.Expr:
    # NOTE: f'(x_j) stays one factor, named by the renderer; its formula is the activation's rule.
    return step.result.symbol


@symbolic.register
def _(step: Delta) -> sympy.Expr:
    return _product(step.dout.symbol, step.slope.symbol)


@symbolic.register
def _(step: Jacobian) -> sympy.Expr:
    mine = step.output.symbol
    return mine * (1 - mine) if step.diagonal else -mine * step.other.symbol


@symbolic.register
def _(step: SoftmaxDelta) -> sympy.Expr:
    return _sum(*(_product(dout.symbol, jacobian.symbol) for dout, jacobian in step.terms))


@symbolic.register
def _(step: Gradient) -> sympy.Expr:
    terms = [_signed(step.sign, _product(delta.symbol, source.symbol) if source else delta.symbol)
             for delta, source in step.terms]
    total = _sum(*terms)
    return total if step.scale == 1 else _product(step.scale, total)


@symbolic.register
def _(step: Assign) -> sympy.Expr:
    # NOTE: an update-stage line is already a formula: each of its symbols becomes its quantity's.
    return step.formula.xreplace({symbol: key.symbol for symbol, key in step.reads})


@symbolic.register
def _(step: Update) -> sympy.Expr:
    if not step.trainable:
        return step.old.symbol
    if step.chain:
        # NOTE: the book's w + η δ x: minus the gradient's own sign before each product of δ and input.
        chain = step.chain
        scale = () if chain.scale == 1 else (chain.scale,)
        return _sum(step.old.symbol, *(_signed(-chain.sign, _product(step.rate.symbol, *scale, delta.symbol,
                                                                      *((source.symbol,) if source else ())))
                                       for delta, source in chain.terms))
    return _sum(step.old.symbol, _product(-1, step.rate.symbol, step.gradient.symbol))


@dataclass(frozen=True)
class Formulas:
    """Every step's formula, and the chain rule's results expanded over paths.

    Attributes:
        local: Each result's formula over the quantities its step reads (one level).
        chains: For each chain-rule result (∂L/∂y of a hidden node, δ, gradient), the sum over
            paths of products of local derivatives, down to forward quantities and slopes.
    """

    local: dict[Quantity, sympy.Expr]
    chains: dict[Quantity, ChainSum]

    def factored(self, quantity: Quantity) -> tuple[sympy.Expr | ChainSum, ...]:
        """A chain-rule result as one product: products expanded, each sum over paths one factor.

        The short form of a chain with many paths: ∂L/∂w = (δ_5 w_35 + δ_6 w_36) f'(x_3) x_1,
        a sum kept as a ChainSum of its own terms (over the named deltas).
        """
        formula = self.local[quantity]
        if formula.is_Add:
            return (_terms(formula),)
        factors: list[sympy.Expr | ChainSum] = []
        for factor in sympy.Mul.make_args(formula) if formula.is_Mul else (formula,):
            inner = self._by_symbol.get(factor)
            if inner in self.chains:
                factors += self.factored(inner)
            elif inner is not None and not self.local[inner].is_Symbol:
                factors.append(self.local[inner])
            else:
                factors.append(factor)
        return tuple(factors)

    @cached_property
    def _by_symbol(self) -> dict[sympy.Symbol, Quantity]:
        return {quantity.symbol: quantity for quantity in self.local}


def _terms(formula: sympy.Expr) -> ChainSum:
    """A one-level sum of products of symbols, as built by ``symbolic``, as a ChainSum."""
    return ChainSum(tuple(sympy.Mul.make_args(term) if term.is_Mul else (term,) for term in formula.args))


def formulas(derivation: Derivation) -> Formulas:
    """The symbolic formulas of every step of ``derivation``, in its order."""
    local: dict[Quantity, sympy.Expr] = {}
    chains: dict[Quantity, ChainSum] = {}
    # A symbol that a chain-rule product may be expanded into: its own chain, or a local formula.
    definitions: dict[sympy.Symbol, ChainSum] = {}
    for step in derivation.steps():
        formula = local[step.result] = symbolic(step)
        if isinstance(step, CHAIN_STEPS):
            chains[step.result] = definitions[step.result.symbol] = _expand(formula, definitions)
        elif isinstance(step, (OutputSlope, Jacobian)):
            definitions[step.result.symbol] = ChainSum(((formula,),))
    return Formulas(local, chains)


def _expand(formula: sympy.Expr, definitions: dict[sympy.Symbol, ChainSum]) -> ChainSum:
    """A chain step's formula with every backward symbol replaced by its definition, distributed."""
    if formula.is_Add:
        return ChainSum(tuple(term for part in formula.args for term in _expand(part, definitions).terms))
    if formula.is_Mul:
        terms: tuple[tuple[sympy.Expr, ...], ...] = ((),)
        for factor in formula.args:
            terms = tuple(left + right for left in terms for right in _expand(factor, definitions).terms)
        return ChainSum(terms)
    return definitions.get(formula, ChainSum(((formula,),)))
