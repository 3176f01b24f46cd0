"""The general solution: the derivation's formulas without numbers, for ``derive``."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import sympy

from ..core.circuit import build_circuit, is_graph_spec
from ..core.derivation import Derivation, derive, route_counts
from ..core.errors import SpecError
from ..core.formula import X
from ..core.layered_solution import LayeredNotation
from ..core.layers import build_layered, is_layered_spec, one_example
from ..core.limits import MAX_EXPANDED
from ..core.network import Network
from ..core.notation import Notation
from ..core.rules import OUTPUT
from ..core.solution import check_written_size, refuse_notation
from ..core.spec import read_document, read_network
from ..core.steps import SLOPE_VARIABLES, Activate, Delta, LossValue, Quantity, Slope, SoftmaxDelta, Update, WeightedSum
from ..core.symbolic import MAX_PATHS_EXPANDED, ChainSum, Formulas, formulas
from ..render.formats import FORMATS
from ..render.present import Line, chain
from ..render.render import Block, Document, environment
from ..render.typography import Latex, MathML, Unicode

#: Formats rendered through the solution templates (json is built directly).
TEXT_FORMATS = ("md", "tex", "txt", "html")


@dataclass(frozen=True)
class GeneralSolution:
    """Every formula of one training step, symbolic: what holds for any numbers.

    Attributes:
        network: The spec's network, cut to its first example (the formulas are per example).
        derivation: Its steps.
        formulas: Each step's formula, and the chain rule's products expanded over paths.
        notation: Names every quantity.
        batch: How many examples the spec has; with more than one the cost averages (or sums)
            the examples' losses, and so every gradient.
    """

    network: Network
    derivation: Derivation
    formulas: Formulas
    notation: Notation
    batch: int

    def render(self, fmt: str = "md", **options: Any) -> str:
        """The general solution as text in ``fmt`` (md, tex, txt, html or json)."""
        return render_general(self, fmt, **options)

    def _repr_markdown_(self) -> str:
        return self.render("md")

    def _repr_latex_(self) -> str:
        return self.render("tex", standalone=False)


def general_solution(spec: str | Path | dict | Network, *, notation: str | None = None) -> GeneralSolution:
    """Derive the general formulas of ``spec``'s network: forward pass, loss, chain rule, updates.

    Args:
        spec: A spec file's path, a parsed spec (dict), or a Network; its numbers are not used.
        notation: ``indexed``, ``layered`` or ``ng``; default: the spec's, else by its form.

    Returns:
        The GeneralSolution, which renders itself (``general.render("md")``).

    Example:
        >>> general = general_solution("examples/seed_relu.yaml")
        >>> text = general.render("txt")
        >>> next(line for line in text.splitlines() if "∂L/∂w₁₃ =" in line).strip()
        "∂L/∂w₁₃ = δ₃ · x₁ = (y₅ − t₅) · relu'(x₅) · w₃₅ · relu'(x₃) · x₁"
    """
    data = read_document(spec) if isinstance(spec, (str, Path)) else spec
    refuse_notation(data, notation)
    if is_graph_spec(data):
        from .general_graph import general_graph  # NOTE: a computational graph's formulas, over its own steps

        try:
            return general_graph(build_circuit(data))
        except SpecError as error:
            raise error.with_file(str(spec) if isinstance(spec, (str, Path)) else "") from None
    if is_layered_spec(data):
        from .general_graph import general_graph  # NOTE: a layered network's formulas, over its own graph

        try:
            network = build_layered(one_example(data))
        except SpecError as error:
            raise error.with_file(str(spec) if isinstance(spec, (str, Path)) else "") from None
        return general_graph(network, LayeredNotation(network), expand=False)
    try:
        network = read_network(data)
    except SpecError as error:
        raise error.with_file(str(spec) if isinstance(spec, (str, Path)) else "") from None
    # NOTE: one example carries every formula; a batch only averages them (said in its own block).
    one = dataclasses.replace(network, examples=network.examples[:1], batched=False)
    try:
        check_written_size(one)
        _check_expanded_size(one)
    except SpecError as error:
        raise error.with_file(str(spec) if isinstance(spec, (str, Path)) else "") from None
    derivation = derive(one)
    style = notation or network.notation
    return GeneralSolution(one, derivation, formulas(derivation),
                           Notation(one, style, per_example=network.batched), len(network.examples))


def _check_expanded_size(network: Network) -> None:
    """Refuse a network whose chain rules, expanded over every path, are longer than one can sensibly read."""
    counts, depth = route_counts(network), len(network.layers)
    # NOTE: per neuron, its weights', bias's, δ's and ∂L/∂y's chains: each path from it is at most as long as the
    # layers above it.
    factors = sum(count * (len(neuron.incoming) + 3) * (depth - neuron.layer + 1) for neuron, count in counts.items())
    if factors > MAX_EXPANDED:
        raise SpecError(f"{factors:,} factors in the chain rules expanded over every path: more than the general "
                        f"formulas can write out (at most {MAX_EXPANDED:,})",
                        "layers" if network.form == "dense" else "neurons")


# --- printing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Printer:
    """Prints the general solution's formulas in one typography."""

    general: GeneralSolution
    typography: Latex

    def name(self, quantity: Quantity) -> str:
        return self.typography.name(self.general.notation, quantity)

    @cached_property
    def names(self) -> dict[sympy.Symbol, str]:
        """Each quantity's symbol as a formula prints it; a slope as f'(x_j)."""
        steps = list(self.general.derivation.steps())
        names = {quantity.symbol: self.name(quantity) for step in steps for quantity in _read(step) + (step.result,)}
        names.update({step.result.symbol: self.slope(step) for step in steps if isinstance(step, Slope)})
        return names

    def slope(self, step: Slope) -> str:
        typography = self.typography
        function = typography.function(self.general.notation, step.activation)
        pre = Quantity("pre", step.result.node, step.result.example)
        return typography.apply(function + typography.prime, self.name(pre))

    def formula(self, expr: sympy.Expr, names: dict) -> str:
        first = self._targets_first
        # NOTE: the loss itself keeps SymPy's (o − t)²; only the error terms read t − o.
        if first and expr.has(*first) and expr not in self._losses:
            with sympy.evaluate(False):  # NOTE: keeps 2·(t − o) from being distributed again
                expr = expr.xreplace(first)
            names = names | {first[symbol]: names[symbol] for symbol in first if symbol in names}
        return self.typography.formula(expr, names)

    @cached_property
    def _losses(self) -> set[sympy.Expr]:
        return {step.formula for step in self.general.derivation.losses if isinstance(step, LossValue)}

    @cached_property
    def _targets_first(self) -> dict[sympy.Symbol, sympy.Symbol]:
        """With error terms, the targets' symbols renamed to sort first, so that SymPy writes t − o."""
        network = self.general.network
        if not (self.general.notation.error_term and network.has_targets):
            return {}
        targets = (Quantity("target", node, 0).symbol for node in network.outputs)
        return {symbol: sympy.Symbol(" " + symbol.name, real=True) for symbol in targets}

    def chain_sum(self, chain_sum: ChainSum, names: dict) -> str:
        """A sum over paths of products, each product's factors in chain order."""
        typography, text = self.typography, ""
        for factors in chain_sum.terms:
            negative, term = self._product(factors, names)
            if not text:
                text = typography.negative(term) if negative else term
            elif negative:
                text = typography.difference(text, term)
            else:
                text = typography.sum([text, term])
        return text

    def _product(self, factors: tuple[sympy.Expr | ChainSum, ...], names: dict) -> tuple[bool, str]:
        """Whether the product is negated, and its factors printed in chain order."""
        kept = [factor for factor in factors if factor not in self._unit_slopes]
        # NOTE: a leading difference (t − o with error terms) is a factor as written, not a sign to pull out.
        negative = bool(kept) and not isinstance(kept[0], ChainSum) and not kept[0].is_Add \
            and kept[0].could_extract_minus_sign()
        if negative:
            kept = kept[1:] if kept[0] == -1 else [-kept[0], *kept[1:]]
        printed = []
        for index, factor in enumerate(kept):
            if isinstance(factor, ChainSum):
                text = self.chain_sum(factor, names)
                printed.append(self.typography.group(text) if len(kept) > 1 else text)
                continue
            text = self.formula(factor, names)
            if factor.is_Add or (index > 0 and factor.could_extract_minus_sign()):
                text = self.typography.group(text)
            printed.append(text)
        return negative, self.typography.times.join(printed) or self.typography.number(sympy.Integer(1))

    @cached_property
    def _unit_slopes(self) -> set[sympy.Symbol]:
        """Slopes of activations whose derivative is 1 (identity), left out of products."""
        return {step.result.symbol for step in self.general.derivation.steps()
                if isinstance(step, Slope) and step.activation.derivative == 1}


def _read(step) -> tuple[Quantity, ...]:
    """Every quantity a step reads (for naming its symbols)."""
    found = []
    for field in dataclasses.fields(step):
        value = getattr(step, field.name)
        for item in value if isinstance(value, tuple) else (value,):
            for part in item if isinstance(item, tuple) else (item,):
                if isinstance(part, Quantity):
                    found.append(part)
    return tuple(found)


def _line(printer: _Printer, names: dict, step) -> Line:
    """One step's equation chain: its symbol, its local formula, its expansion over paths."""
    general, typography = printer.general, printer.typography
    result = step.result
    local = general.formulas.local[result]
    expanded = general.formulas.chains.get(result)
    if isinstance(step, Activate):
        return chain(printer.name(result), typography.applied(general.notation, step.activation,
                                                              printer.name(step.argument)),
                     printer.formula(local, names))
    if isinstance(step, Slope):
        variables = {variable: printer.name(step.variable) for variable in SLOPE_VARIABLES}
        return chain(printer.name(result), printer.slope(step), printer.formula(step.formula, variables))
    if expanded is None and isinstance(step, (WeightedSum, Update)):
        return chain(printer.name(result), printer.chain_sum(_flat(local), names))
    if expanded is None:
        return chain(printer.name(result), printer.formula(local, names))
    by_definition = ""
    if isinstance(step, (Delta, SoftmaxDelta)):
        by_definition = typography.partial(printer.name(Quantity("loss", example=result.example)),
                                           printer.name(Quantity("pre", result.node, result.example)))
        if general.notation.error_term:
            by_definition = typography.negative(by_definition)
    paths = len(expanded.terms)
    note = f"a sum over {paths} paths" if paths > 1 else ""
    if paths > MAX_PATHS_EXPANDED:
        note += ", kept factored"
        shown = printer.chain_sum(ChainSum((general.formulas.factored(result),)), names)
    else:
        shown = printer.chain_sum(expanded, names)
    return chain(printer.name(result), by_definition, printer.chain_sum(_flat(local), names), shown, note=note)


def _flat(formula: sympy.Expr) -> ChainSum:
    """A one-level formula (a sum of products of symbols) as a ChainSum, without expanding."""
    terms = sympy.Add.make_args(formula) if formula.is_Add else (formula,)
    return ChainSum(tuple(sympy.Mul.make_args(term) if term.is_Mul else (term,) for term in terms))


def _derivative_lines(printer: _Printer) -> tuple[Line, ...]:
    """Each activation's derivative, derived by SymPy step by step: f, d/dx f, f' in x, f' in f."""
    typography, notation, lines = printer.typography, printer.general.notation, []
    x = typography.variable("x")
    for activation in notation.functions:
        if activation.layerwise:
            # NOTE: softmax has no f'(x) of its own: its Jacobian entries are steps of the backward pass.
            continue
        function = typography.function(notation, activation)
        lines.append(chain(typography.apply(function, x), typography.formula(activation.formula, {X: x})))
        parts = [typography.apply(function + typography.prime, x),
                 typography.formula(sympy.Derivative(activation.formula, X), {X: x}),
                 typography.formula(activation.derivative, {X: x})]
        if activation.derivative_of_output is not None:
            parts.append(typography.formula(activation.derivative_of_output, {OUTPUT: typography.apply(function, x)}))
        lines.append(chain(*parts))
    return tuple(lines)


def _batch_line(printer: _Printer) -> Line:
    """J = (1/m) Σ L⁽ⁱ⁾ in the notation's letters."""
    general, typography = printer.general, printer.typography
    letters = general.notation.letters
    # NOTE: the letters are (tex, text, ascii): LaTeX takes the first, Unicode and MathML the text ones.
    kind = 1 if isinstance(typography, (Unicode, MathML)) else 0
    return chain(typography.variable(letters.cost[kind]),
                 typography.losses_reduced(letters.loss[kind], general.network.options.reduction == "mean"))


def build_general_document(general: GeneralSolution, typography: Latex):
    """Print every formula of ``general`` in ``typography``; the templates only lay it out."""
    printer = _Printer(general, typography)
    names = printer.names
    derivation = general.derivation
    loss = general.network.loss
    text = (f"Loss: {loss.description} ({loss.name}). These formulas hold for any inputs, targets and "
            "parameters: each gradient is the product of the local derivatives along every path from the "
            "parameter to the loss, summed over the paths.")
    overview = [Block("The network", text, level=2),
                Block("Local derivatives", "Each activation's derivative, as SymPy differentiates it.",
                      _derivative_lines(printer), level=2)]
    if general.batch > 1:
        overview.append(Block("A batch", _batch_text(general), (_batch_line(printer),), level=2))
    blocks = (
        Block("Forward pass", "Each neuron's weighted sum, then its activation.",
              tuple(_line(printer, names, step) for step in derivation.forward[0])),
        Block("Loss", "", tuple(_line(printer, names, step) for step in derivation.losses)),
        Block("Backward pass", "From the outputs back: each neuron's δ, once, then the chain below it expanded.",
              tuple(_line(printer, names, step) for step in derivation.backward[0])),
        Block("Gradients", "Each gradient as a product of local derivatives, one product per path.",
              tuple(_line(printer, names, step) for step in derivation.gradients)),
    )
    if derivation.updates:
        training = general.network.training
        blocks += (Block("Updates", "Gradient descent." if training is None or training.plain
                         else f"Optimizer {training.optimizer}: {training.rule().description}.",
                         tuple(_line(printer, names, step) for step in derivation.updates)),)
    title = general.network.title or "Backpropagation"
    return Document(f"{title}: the general formulas", tuple(overview), (("", blocks),))


def _batch_text(general: GeneralSolution) -> str:
    how = "mean" if general.network.options.reduction == "mean" else "sum"
    return (f"The spec has a batch of {general.batch} examples. The formulas above are one example's; "
            f"the cost is the {how} of the examples' losses, and each gradient the {how} of theirs.")


def render_general(general: GeneralSolution, fmt: str = "md", *, standalone: bool = True,
                   template_dir: str | Path | None = None) -> str:
    """``general`` as text in ``fmt``: md, tex, txt, html (through the solution templates) or json."""
    if fmt == "json":
        return json.dumps(general_json(general), indent=2, ensure_ascii=False) + "\n"
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    typography = FORMATS[fmt].typography(6)
    document = build_general_document(general, typography)
    template = environment(fmt, template_dir).get_template(f"solution.{fmt}.j2")
    return template.render(document=document, standalone=standalone)


def general_json(general: GeneralSolution) -> dict:
    """Each quantity's formula by its ASCII name: local (one step) and, for the chain rule, expanded."""
    printers = {"tex": _Printer(general, Latex(6)), "text": _Printer(general, Unicode(6))}
    names = {key: printer.names for key, printer in printers.items()}
    result = {}
    for step in general.derivation.steps():
        quantity = step.result
        entry = {f"local_{key}": printer.formula(general.formulas.local[quantity], names[key])
                 for key, printer in printers.items()}
        expanded = general.formulas.chains.get(quantity)
        if expanded is not None:
            entry.update({f"expanded_{key}": printer.chain_sum(expanded, names[key])
                          for key, printer in printers.items()})
            entry["paths"] = len(expanded.terms)
        result[general.notation.ascii(quantity)] = entry
    return {"title": general.network.title, "notation": general.notation.style, "examples": general.batch,
            "formulas": result}
