"""The general solution of a computational graph, for ``derive``: every formula without numbers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sympy

from ..core.circuit import Circuit
from ..core.evaluation import compute
from ..core.graph import CONSTANT_MARK, Backward, Derivation, FanIn, Forward, Ref, derive
from ..core.graph_solution import updates_of
from ..core.notation import GraphNotation
from ..core.steps import Update
from ..render.document import Block, Document
from ..render.formats import FORMATS
from ..render.present import Context, Line, _local_form, chain
from ..render.render import environment
from ..render.render_graph import _circuit_block
from ..render.typography import Latex, Unicode

TEXT_FORMATS = ("md", "tex", "txt", "html")


@dataclass(frozen=True)
class GeneralGraph:
    """Every value and gradient of a circuit as a formula: each step's own, and expanded over the leaves.

    Attributes:
        circuit: The exercise (its numbers are not used, but for a formula's constants).
        derivation: Its steps.
        updates: θ_new = θ − η g for each parameter (none without a learning rate).
        expanded: Each quantity as a SymPy expression of the leaves' symbols.
        symbols: Each leaf's symbol (and the learning rate's), by its reference.
        notation: Names every quantity.
    """

    circuit: Circuit
    derivation: Derivation
    updates: tuple[Update, ...]
    expanded: dict[Ref, sympy.Expr]
    symbols: dict[Ref, sympy.Symbol]
    notation: GraphNotation

    def render(self, fmt: str = "md", *, standalone: bool = True, template_dir: str | Path | None = None,
               **_: Any) -> str:
        """The formulas as text in ``fmt``: md, tex, txt, html (through the solution templates) or json."""
        if fmt == "json":
            return json.dumps(self.json(), indent=2, ensure_ascii=False) + "\n"
        if fmt not in TEXT_FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        document = self.document(FORMATS[fmt].typography(6))
        template = environment(fmt, template_dir).get_template(f"solution.{fmt}.j2")
        return template.render(document=document, standalone=standalone, figure_stem=None)

    def _context(self, typography: Latex) -> Context:
        return Context(self.notation, typography, {Ref("value", leaf.name): leaf.value
                                                   for leaf in self.circuit.graph.leaves})

    def _expanded(self, ref: Ref, typography: Latex) -> str:
        if not self.expanded:
            return ""  # NOTE: a network with layer types: each step's own formula only (see general_graph)
        names = {symbol: typography.name(self.notation, leaf) for leaf, symbol in self.symbols.items()}
        return typography.formula(self.expanded[ref], names)

    def line(self, step, typography: Latex) -> Line:
        """One step's formula, then the same expanded over the leaves."""
        context = self._context(typography)
        expanded = self._expanded(step.result, typography)
        if isinstance(step, Forward):
            names = [context.factor(ref) if ref.name.startswith(CONSTANT_MARK) else context.name(ref)
                     for ref in step.arguments]
            constant = typography.factor(step.node.constant) if step.node.constant is not None else ""
            return chain(context.name(step.result), step.node.operation.write(typography, names, constant), expanded)
        if isinstance(step, Backward):
            source = Ref("value", step.node.inputs[step.slot])
            _, local = _local_form(step, context)
            upstream = context.name(step.upstream)
            if step.upstream.name == self.notation.top:
                return chain(context.name(step.result), local, expanded)
            return chain(context.name(step.result),
                         context.product(upstream, context.partial(Ref("value", step.node.name), source)),
                         context.product(upstream, local), expanded)
        if isinstance(step, FanIn):
            return chain(context.name(step.result), typography.sum(context.name(term) for term in step.terms),
                         expanded)
        if isinstance(step, Update):
            return chain(context.name(step.result), typography.difference(
                context.name(step.old), context.product(context.name(step.rate), context.name(step.gradient))),
                expanded)
        return chain(context.name(step.result), expanded)  # the seed: ∂f/∂f = 1

    def document(self, typography: Latex) -> Document:
        """The circuit, then the forward and backward passes as formulas."""
        context = self._context(typography)
        text = ("These formulas hold for any values of the inputs and parameters: each line is a step's own "
                "formula" + (", then the same written out in the leaves." if self.expanded else "."))
        overview = (_circuit_block(self, context), Block("What these formulas are", text, level=2))
        steps = (Block("Forward pass", "Gate by gate.",
                       tuple(self.line(step, typography) for step in self.derivation.forward)),
                 Block("Backward pass", "Upstream gradient times local gradient, gate by gate.",
                       tuple(self.line(step, typography) for step in self.derivation.backward)))
        if self.updates:
            steps += (Block("Updates", "Gradient descent, every gradient taken at the old parameters.",
                            tuple(self.line(update, typography) for update in self.updates)),)
        title = self.circuit.title or "A computational graph"
        return Document(f"{title}: the general formulas", overview, (("", steps),))

    def json(self) -> dict:
        """Each quantity's formula by its ASCII name: the step's own and expanded over the leaves."""
        formulas = {}
        for step in (*self.derivation.steps(), *self.updates):
            entry = {}
            for key, typography in (("tex", Latex(6)), ("text", Unicode(6))):
                parts = self.line(step, typography).parts
                if not self.expanded:
                    entry[f"local_{key}"] = parts[-1]
                    continue
                entry[f"local_{key}"] = parts[1] if len(parts) > 2 else parts[-1]
                entry[f"expanded_{key}"] = parts[-1]
            formulas[self.notation.ascii(step.result)] = entry
        return {"title": self.circuit.title, "notation": self.notation.style, "formulas": formulas}


def general_graph(circuit: Circuit, notation: GraphNotation | None = None, expand: bool = True) -> GeneralGraph:
    """Every formula of ``circuit``: the engine's own steps, computed over symbols instead of numbers.

    Args:
        circuit: A `graph:` exercise, or a layered network (one example of it).
        notation: Names the quantities (default: by the graph's own names).
        expand: Also write each quantity out in the leaves (False for a network with layer types: a kernel
            entry's gradient written out over every path through a map is thousands of terms, and slow).
    """
    derivation = derive(circuit.graph)
    updates = updates_of(circuit)
    symbols = {Ref("value", leaf.name): sympy.Symbol(f"v:{leaf.name}", real=True) for leaf in circuit.graph.leaves
               if not leaf.name.startswith(CONSTANT_MARK)}
    if updates:
        symbols[Ref("rate")] = sympy.Symbol("rate", positive=True)
    values = {Ref("value", leaf.name): symbols.get(Ref("value", leaf.name), leaf.value)
              for leaf in circuit.graph.leaves}
    values.update(symbols)
    if not expand:
        return GeneralGraph(circuit, derivation, updates, {}, symbols, notation or GraphNotation(circuit.graph))
    for step in derivation.steps():
        values[step.result] = compute(step, values)
    for update in updates:  # NOTE: over symbols (compute's update sums numbers)
        values[update.result] = values[update.old] - values[update.rate] * values[update.gradient]
    return GeneralGraph(circuit, derivation, updates, values, symbols, notation or GraphNotation(circuit.graph))

