"""Presentation: each solution step as an equation chain (formula → numbers → value), printed."""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

import sympy

from ..core.evaluation import Values
from ..core.formula import X
from ..core.graph import CONSTANT_MARK, Backward, FanIn, Forward, Ref, Seed, at
from ..core.notation import Notation
from ..core.numbers import settle
from ..core.operations import ARGUMENTS, as_sympy_prints
from ..core.rules import OUTPUT, _in_output
from ..core.steps import (
    SLOPE_VARIABLES,
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
from .typography import Latex


@dataclass(frozen=True)
class Line:
    """One equation chain, its parts joined by '=', an optional remark beside it, and a marker's mark."""

    parts: tuple[str, ...]
    note: str = ""
    route: str = ""
    mark: str = ""


@dataclass(frozen=True)
class Context:
    """What printing a step needs: the notation, the typography and one step's values."""

    notation: Notation
    typography: Latex
    values: Values

    def name(self, quantity: Quantity) -> str:
        return self.typography.name(self.notation, quantity)

    def value(self, quantity: Quantity) -> str:
        return self.typography.number(self.values[quantity])

    def factor(self, quantity: Quantity) -> str:
        return self.typography.factor(self.values[quantity])

    def product(self, *texts: str) -> str:
        return self.typography.times.join(texts)

    def partial(self, numerator: Quantity, denominator: Quantity) -> str:
        return self.typography.partial(self.name(numerator), self.name(denominator))


def chain(*parts: str, note: str = "", route: str = "") -> Line:
    """An equation chain with repeated neighbouring parts dropped (``y = x = x`` reads ``y = x``)."""
    kept: list[str] = []
    for part in parts:
        if part and (not kept or part != kept[-1]):
            kept.append(part)
    return Line(tuple(kept), note, route)


@singledispatch
def present(step, context: Context) -> Line:
    """The printed equation chain of ``step``."""
    raise TypeError(f"no presentation for {type(step).__name__}")


@present.register
def _(step: WeightedSum, context: Context) -> Line:
    typography = context.typography
    symbols = [typography.juxtaposed(context.name(source), context.name(weight)) for source, weight in step.terms]
    numbers = [context.product(context.factor(source), context.factor(weight)) for source, weight in step.terms]
    symbols, numbers = typography.sum(symbols), typography.sum(numbers)
    if step.bias and bias_sign(step.bias) < 0:
        # NOTE: a threshold is a weight on a constant −1 input: subtracted, as Negnevitsky writes it.
        symbols = typography.difference(symbols, context.name(step.bias))
        numbers = typography.difference(numbers, context.factor(step.bias))
    elif step.bias:
        symbols = typography.sum([symbols, context.name(step.bias)])
        numbers = typography.sum([numbers, context.factor(step.bias)])
    return chain(context.name(step.result), symbols, numbers, context.value(step.result))


@present.register
def _(step: Activate, context: Context) -> Line:
    typography, activation = context.typography, step.activation
    argument = context.name(step.argument)
    applied = typography.applied(context.notation, activation, argument)
    formula = typography.formula(activation.formula, {X: argument})
    numbers = typography.substituted(activation.formula, {X: context.values[step.argument]})
    if activation.formula == X:
        numbers = ""  # NOTE: the identity's "numbers substituted" is the value itself, in parentheses.
    return chain(context.name(step.result), applied, formula, numbers, context.value(step.result))


@present.register
def _(step: SoftmaxActivate, context: Context) -> Line:
    typography = context.typography
    exponent = typography.exp
    mine = step.arguments[step.index]
    formula = typography.fraction(exponent(context.name(mine)),
                                  typography.sum(exponent(context.name(argument)) for argument in step.arguments))
    numbers = typography.fraction(exponent(context.value(mine)),
                                  typography.sum(exponent(context.value(argument)) for argument in step.arguments))
    return chain(context.name(step.result), formula, numbers, context.value(step.result))


def _formula_chain(result: str, formula: sympy.Expr, quantities, context: Context, value: str,
                   renamed: dict | None = None) -> Line:
    """result = formula = numbers = value; ``renamed`` maps a quantity's symbol to the one ``formula`` uses."""
    renamed = renamed or {}
    names = {renamed.get(quantity.symbol, quantity.symbol): context.name(quantity) for quantity in quantities}
    numbers = {renamed.get(quantity.symbol, quantity.symbol): context.values[quantity] for quantity in quantities}
    typography = context.typography
    return chain(result, typography.formula(formula, names), typography.substituted(formula, numbers), value)


@present.register
def _(step: LossValue, context: Context) -> Line:
    return _formula_chain(context.name(step.result), step.formula, step.outputs + step.targets, context,
                          context.value(step.result))


@present.register
def _(step: CostValue, context: Context) -> Line:
    typography = context.typography
    losses = [context.name(loss) for loss in step.losses]
    numbers = [context.factor(loss) for loss in step.losses]
    scale = "" if step.scale == 1 else typography.number(step.scale)
    return chain(context.name(step.result),
                 _scaled(scale, typography.sum(losses), typography),
                 _scaled(scale, typography.sum(numbers), typography),
                 context.value(step.result))


def _scaled(scale: str, total: str, typography: Latex) -> str:
    return f"{scale}{typography.group(total)}" if scale else total


@present.register
def _(step: OutputSlope, context: Context) -> Line:
    loss = step.loss_step
    formula, renamed = step.formula, {}
    if context.notation.error_term:
        # NOTE: symbols sort outputs before targets, so that SymPy writes o − t; the error reads t − o,
        # so here the targets' symbols sort first.
        renamed = {target.symbol: sympy.Symbol(" " + target.symbol.name, real=True) for target in loss.targets}
        with sympy.evaluate(False):  # NOTE: keeps 2·(t − o) from being distributed again
            formula = formula.xreplace(renamed)
    line = _formula_chain(context.name(step.result), formula, loss.outputs + loss.targets, context,
                          context.value(step.result), renamed)
    if context.notation.error_term and step.result.kind == "dout":
        # NOTE: the error e = −∂L/∂y, said once where it is defined.
        by_definition = context.typography.negative(context.partial(Quantity("loss", example=step.result.example),
                                                                    step.output))
        return Line((line.parts[0], by_definition, *line.parts[1:]), line.note, line.route)
    return line


@present.register
def _(step: BackSum, context: Context) -> Line:
    node, example = step.result.node, step.result.example
    output = Quantity("input" if node.is_input else "out", node, example)
    partials = [context.product(context.partial(Quantity("loss", example=example), Quantity("pre", delta.node, example)),
                                context.partial(Quantity("pre", delta.node, example), output))
                for delta, _ in step.terms]
    symbols = [context.product(context.name(delta), context.name(weight)) for delta, weight in step.terms]
    numbers = [context.product(context.factor(delta), context.factor(weight)) for delta, weight in step.terms]
    if step.direct:
        partials.insert(0, context.name(step.direct))
        symbols.insert(0, context.name(step.direct))
        numbers.insert(0, context.factor(step.direct))
    typography = context.typography
    partials, symbols, numbers = typography.sum(partials), typography.sum(symbols), typography.sum(numbers)
    if context.notation.error_term:
        # NOTE: error terms are not derivatives: the book's sum Σ δ_k w_jk, without the partials.
        partials = ""
    if step.sign < 0:
        symbols = typography.negative(typography.group(symbols))
        numbers = typography.negative(typography.group(numbers))
    return chain(context.name(step.result), partials, symbols, numbers, context.value(step.result))


@present.register
def _(step: Slope, context: Context) -> Line:
    typography, activation = context.typography, step.activation
    function = typography.function(context.notation, activation)
    pre = Quantity("pre", step.result.node, step.result.example)
    applied = typography.apply(function + typography.prime, context.name(pre))
    names = {variable: context.name(step.variable) for variable in SLOPE_VARIABLES}
    numbers = {variable: context.values[step.variable] for variable in SLOPE_VARIABLES}
    substituted = typography.substituted(step.formula, numbers)
    if step.formula.has(sympy.Piecewise, sympy.Heaviside):
        # NOTE: a case split with numbers in every branch reads worse than the value it picks.
        substituted = ""
    return chain(context.name(step.result), applied, typography.formula(step.formula, names),
                 substituted, context.value(step.result))


def _by_definition(step: Delta | SoftmaxDelta, context: Context) -> str:
    """δ_j's definition: ∂L/∂x_j, or −∂L/∂x_j for the textbooks' error term."""
    node, example = step.result.node, step.result.example
    partial = context.partial(Quantity("loss", example=example), Quantity("pre", node, example))
    return context.typography.negative(partial) if context.notation.error_term else partial


@present.register
def _(step: Delta, context: Context) -> Line:
    by_definition = _by_definition(step, context)
    return chain(context.name(step.result), by_definition,
                 context.product(context.name(step.dout), context.name(step.slope)),
                 context.product(context.factor(step.dout), context.factor(step.slope)),
                 context.value(step.result))


@present.register
def _(step: Jacobian, context: Context) -> Line:
    typography = context.typography
    mine, other = context.name(step.output), context.name(step.other)
    one = typography.number(sympy.Integer(1))
    if step.diagonal:
        formula = typography.juxtaposed(mine, typography.group(typography.difference(one, mine)))
        numbers = context.product(context.factor(step.output),
                                  typography.group(typography.difference(one, context.factor(step.output))))
    else:
        formula = typography.negative(context.product(mine, other))
        numbers = typography.negative(context.product(context.factor(step.output), context.factor(step.other)))
    return chain(context.name(step.result), formula, numbers, context.value(step.result))


@present.register
def _(step: SoftmaxDelta, context: Context) -> Line:
    by_definition = _by_definition(step, context)
    symbols = [context.product(context.name(dout), context.name(jacobian)) for dout, jacobian in step.terms]
    numbers = [context.product(context.factor(dout), context.factor(jacobian)) for dout, jacobian in step.terms]
    typography = context.typography
    return chain(context.name(step.result), by_definition, typography.sum(symbols), typography.sum(numbers),
                 context.value(step.result))


@present.register
def _(step: Gradient, context: Context) -> Line:
    typography = context.typography
    parameter = Quantity("param", parameter=step.parameter)
    symbols = [context.product(context.name(delta), context.name(source)) if source else context.name(delta)
               for delta, source in step.terms]
    # NOTE: a bias's lone δ is its value, not a factor in parentheses.
    lone = context.factor if len(step.terms) > 1 else context.value
    numbers = [context.product(context.factor(delta), context.factor(source)) if source else lone(delta)
               for delta, source in step.terms]
    scale = "" if step.scale == 1 else typography.number(step.scale)
    if len(step.terms) == 1:
        delta = step.terms[0][0]
        pre = Quantity("pre", delta.node, delta.example)
        local = context.product(context.partial(Quantity("loss", example=delta.example), pre),
                                context.partial(pre, parameter))
        product = step.terms[0][1] is not None
        # NOTE: minus a lone negative δ reads −(−0.5), so its number is then written as a factor.
        number = numbers[0] if product or step.sign > 0 else context.factor(delta)
        parts = [context.name(step.result), _expanded_chain(step, context), local,
                 _signed(step.sign, symbols[0], typography, product), _signed(step.sign, number, typography, product)]
    else:
        parts = [context.name(step.result),
                 _signed(step.sign, _scaled(scale, typography.sum(symbols), typography), typography, True),
                 _signed(step.sign, _scaled(scale, typography.sum(numbers), typography), typography, True)]
    note, route = _path_note(step, context)
    return chain(*parts, context.value(step.result), note=note, route=route)


def _signed(sign: int, text: str, typography: Latex, grouped: bool) -> str:
    """``text``, or minus it (in parentheses where it is a product of several factors)."""
    if sign > 0:
        return text
    return typography.negative(typography.group(text) if grouped else text)


def _expanded_chain(step: Gradient, context: Context) -> str:
    """Every local derivative along the one path from a parameter to the loss, or "" if not one path."""
    if len(step.paths) != 1 or len(step.paths[0]) < 2 or any(node.activation.layerwise for node in step.paths[0]):
        return ""
    example = step.terms[0][0].example
    factors, below = [], Quantity("param", parameter=step.parameter)
    for node in step.paths[0]:
        pre, out = Quantity("pre", node, example), Quantity("out", node, example)
        factors = [context.partial(out, pre), context.partial(pre, below)] + factors
        below = out
    factors.insert(0, context.partial(Quantity("loss", example=example), below))
    return context.product(*factors)


def _path_note(step: Gradient, context: Context) -> tuple[str, str]:
    """Words and the routes (math) from a parameter to the loss."""
    typography = context.typography
    if not step.paths:
        return f"{step.path_count} paths to the loss, all summed inside the deltas", ""
    # NOTE: a route is the same in every example: over a batch it is written without an example's mark.
    examples = {delta.example for delta, _ in step.terms}
    example = examples.pop() if len(examples) == 1 else None
    routes = []
    for path in step.paths:
        names = [context.name(Quantity("param", parameter=step.parameter))]
        for node in path:
            names += [context.name(Quantity("pre", node, example)), context.name(Quantity("out", node, example))]
        names.append(context.name(Quantity("loss", example=example)))
        routes.append(typography.arrow.join(names))
    return ("path" if len(routes) == 1 else "paths"), typography.separator.join(routes)


@present.register
def _(step: Update, context: Context) -> Line:
    typography = context.typography
    if not step.trainable:
        return chain(context.name(step.result), context.name(step.old), context.value(step.result),
                     note="kept fixed (update_biases: false)")
    if step.chain:
        return _book_update(step, context)
    formula = typography.difference(context.name(step.old),
                                    context.product(context.name(step.rate), context.name(step.gradient)))
    numbers = typography.difference(context.value(step.old),
                                    context.product(context.factor(step.rate), context.factor(step.gradient)))
    return chain(context.name(step.result), formula, numbers, context.value(step.result))


def _book_update(step: Update, context: Context) -> Line:
    """w ← w + η δ x, as the textbooks write it with error terms (θ ← θ − η δ for a threshold)."""
    typography, gradient = context.typography, step.chain
    scale = () if gradient.scale == 1 else (typography.number(gradient.scale),)

    def written(name) -> str:
        terms = [context.product(name(delta), name(source)) if source else name(delta)
                 for delta, source in gradient.terms]
        total = typography.sum(terms)
        if len(terms) > 1 and scale:
            total = typography.group(total)
        return context.product(name(step.rate), *scale, total)

    combine = typography.difference if gradient.sign > 0 else lambda left, right: typography.sum([left, right])
    formula = combine(context.name(step.old), written(context.name))
    numbers = combine(context.value(step.old), written(context.factor))
    return chain(context.name(step.result), formula, numbers, context.value(step.result))


# --- operation graphs --------------------------------------------------------------------


def _argument(context: Context, ref: Ref) -> str:
    """An input as a formula writes it: its name, or the number a formula's constant is."""
    return context.factor(ref) if ref.name.startswith(CONSTANT_MARK) else context.name(ref)


@present.register
def _(step: Forward, context: Context) -> Line:
    typography, node = context.typography, step.node
    operation = node.operation
    names = [_argument(context, ref) for ref in step.arguments]
    constant = typography.factor(node.constant) if node.constant is not None else ""
    numbers = dict(zip(ARGUMENTS, (context.values[ref] for ref in step.arguments)))
    parts = [context.name(step.result), operation.write(typography, names, constant)]
    if operation.defined:
        parts.append(typography.formula(node.formula(), dict(zip(ARGUMENTS, names))))
    if operation.defined or operation.shape is as_sympy_prints:
        parts.append(typography.substituted(node.formula(), numbers))
    else:
        number = context.value if operation.delimits else context.factor
        parts.append(operation.write(typography, [number(ref) for ref in step.arguments], constant))
    return chain(*parts, context.value(step.result))


@present.register
def _(step: Seed, context: Context) -> Line:
    return chain(context.name(step.result), context.value(step.result))


def _local_form(step: Backward, context: Context) -> tuple[str, str]:
    """The local gradient's formula, in the gate's output where that reads shorter (σ(1 − σ), 1 − tanh²),
    alone and as a factor of a product (in parentheses where it is a sum or negative).
    """
    typography, node = context.typography, step.node
    formula, names = step.local, dict(zip(ARGUMENTS, (_argument(context, ref) for ref in step.arguments)))
    if node.operation.arity == 1 and node.constant is None:
        in_output = _in_output(node.formula().xreplace({ARGUMENTS[0]: X}), step.local.xreplace({ARGUMENTS[0]: X}))
        if in_output is not None:
            formula, names = in_output, {OUTPUT: context.name(Ref("value", node.name))}
    text = typography.formula(formula, names)
    grouped = isinstance(formula, sympy.Add) or formula.could_extract_minus_sign()
    return text, typography.group(text) if grouped else text


@present.register
def _(step: Backward, context: Context) -> Line:
    node, source = step.node, Ref("value", step.node.inputs[step.slot])
    local = settle(at(step.local, step.arguments, context.values))
    by_node = context.partial(Ref("value", node.name), source)
    formula, factor = _local_form(step, context)
    note = node.operation.backward if step.slot == 0 else ""
    if context.values[step.upstream] == 1 and step.upstream.name == context.notation.top:
        # NOTE: next to the differentiated node itself, upstream is ∂f/∂f = 1: the local gradient is all.
        # NOTE: a part sent back (∂f/∂a|f) is not the whole ∂f/∂a its local derivative would be written as.
        by_node = "" if step.result.kind == "sent" else by_node
        return chain(context.name(step.result), by_node, formula, context.value(step.result), note=note)
    return chain(context.name(step.result), context.product(context.name(step.upstream), by_node),
                 context.product(context.name(step.upstream), factor),
                 context.product(context.factor(step.upstream), context.typography.factor(local)),
                 context.value(step.result), note=note)


@present.register
def _(step: FanIn, context: Context) -> Line:
    typography = context.typography
    name = step.result.name
    count = len(step.terms)
    note = (f"the parameter {name} is used {count} times: its gradient is the sum over its uses" if step.tied
            else f"{name} feeds {count} gates: what they send back adds up")
    return chain(context.name(step.result), typography.sum(context.name(term) for term in step.terms),
                 typography.sum(context.factor(term) for term in step.terms), context.value(step.result), note=note)
