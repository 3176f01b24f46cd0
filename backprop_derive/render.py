"""Rendering: a Solution to a document of printed blocks, then through a Jinja template (or to JSON)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2

from .formula import X
from .present import Context, Line, chain, present
from .rules import OUTPUT
from .steps import Quantity
from .typography import Latex, Unicode

TEXT_FORMATS = ("md", "tex", "txt")


class Math(str):
    """A printed piece that is mathematics (templates wrap it in $…$ where the format needs that)."""


@dataclass(frozen=True)
class Table:
    """A table whose cells are already printed (math in the document's typography)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @property
    def widths(self) -> list[int]:
        """Each column's width in characters, for plain-text layout."""
        return [max(len(cell) for cell in column) for column in zip(self.header, *self.rows)]


@dataclass(frozen=True)
class Block:
    """A headed part of the solution: a sentence, equation chains, a table."""

    heading: str
    text: str = ""
    lines: tuple[Line, ...] = ()
    table: Table | None = None
    level: int = 3


@dataclass(frozen=True)
class Document:
    """The whole solution, printed, ready for a template."""

    title: str
    overview: tuple[Block, ...]
    steps: tuple[tuple[str, tuple[Block, ...]], ...]
    closing: tuple[Block, ...] = field(default=())


# --- the document ------------------------------------------------------------------------


def build_document(solution, typography: Latex) -> Document:
    """Print every part of ``solution`` in ``typography``; the templates only lay it out."""
    derivation, notation = solution.derivation, solution.notation
    overview = overview_blocks(solution, typography)
    steps = []
    for index, values in enumerate(solution.values):
        context = Context(notation, typography, values)
        heading = f"Step {index + 1}" if len(solution.values) > 1 else ""
        steps.append((heading, tuple(_step_blocks(solution, context))))
    closing = ()
    if len(solution.values) > 1:
        rows = tuple((str(index + 1), Math(typography.number(values[derivation.cost])))
                     for index, values in enumerate(solution.values))
        closing = (Block("Loss per step", "The cost before each step's update.",
                         table=Table(("step", Math(typography.name(notation, derivation.cost))), rows), level=2),)
    return Document(solution.network.title or "Backpropagation, worked", overview, tuple(steps), closing)


def overview_blocks(solution, typography: Latex) -> tuple[Block, ...]:
    """The parts before the working: the network, the inputs and targets, the local derivatives."""
    first = Context(solution.notation, typography, solution.values[0])
    return (_network_block(solution, first), _examples_block(solution, first), _derivatives_block(solution, first))


def _network_block(solution, context: Context) -> Block:
    network = solution.network
    rows = []
    for neuron in network.neurons:
        activation = neuron.activation
        pre = context.name(Quantity("pre", neuron, 0))
        formula = context.typography.formula(activation.formula, {X: pre})
        weights = context.typography.separator.join(_given(context, weight) for weight in neuron.incoming)
        bias = _given(context, neuron.bias) if neuron.bias else ""
        rows.append((Math(context.name(Quantity("out", neuron, 0))), Math(pre), activation.name, Math(formula),
                     Math(weights), Math(bias)))
    text = f"Loss: {network.loss.description} ({network.loss.name})"
    if network.learning_rate is not None:
        text += f"; learning rate {context.typography.number(network.learning_rate)}"
    if not network.options.update_biases:
        text += "; biases are kept fixed"
    return Block("The network", text + ".",
                 table=Table(("output", "pre-activation", "activation", "formula", "weights", "bias"), tuple(rows)),
                 level=2)


def _given(context: Context, parameter) -> str:
    return f"{context.name(Quantity('param', parameter=parameter))} = {context.typography.number(parameter.value)}"


def _examples_block(solution, context: Context) -> Block:
    network = solution.network
    header = tuple(Math(context.name(Quantity("input", node, 0))) for node in network.inputs) + tuple(
        Math(context.name(Quantity("target", node, 0))) for node in network.outputs)
    rows = tuple(
        tuple(Math(context.typography.number(example.inputs[node])) for node in network.inputs)
        + tuple(Math(context.typography.number(example.targets[node])) for node in network.outputs)
        for example in network.examples)
    text = "One example." if len(rows) == 1 else (
        f"A batch of {len(rows)} examples; the cost is the "
        f"{'mean' if network.options.reduction == 'mean' else 'sum'} of their losses.")
    if network.batched:
        header = ("example",) + header
        rows = tuple((str(index + 1),) + row for index, row in enumerate(rows))
    return Block("Inputs and targets", text, table=Table(header, rows), level=2)


def _derivatives_block(solution, context: Context) -> Block:
    typography = context.typography
    lines, seen = [], set()
    for neuron in solution.network.neurons:
        activation = neuron.activation
        if activation.name in seen or activation.layerwise:
            continue
        seen.add(activation.name)
        function = typography.function(activation) or "f"
        parts = [typography.apply(function + typography.prime, "x"), typography.formula(activation.derivative, {X: "x"})]
        if activation.derivative_of_output is not None:
            parts.append(typography.formula(activation.derivative_of_output, {OUTPUT: typography.apply(function, "x")}))
        lines.append(chain(*parts, note=activation.name))
    return Block("Local derivatives", "Each activation's derivative, as SymPy differentiates it.",
                 lines=tuple(lines), level=2)


def _step_blocks(solution, context: Context):
    derivation = solution.derivation
    batched = solution.network.batched

    def per_example(heading: str, text: str, groups) -> list[Block]:
        if not batched:
            return [Block(heading, text, tuple(present(step, context) for step in groups[0]))]
        blocks = [Block(heading, text)]
        blocks += [Block(f"Example {index + 1}", "", tuple(present(step, context) for step in group), level=4)
                   for index, group in enumerate(groups)]
        return blocks

    yield from per_example("Forward pass", "Each neuron's weighted sum, then its activation.", derivation.forward)
    yield Block("Loss", "", tuple(present(step, context) for step in derivation.losses))
    yield from per_example(
        "Backward pass",
        "From the outputs back: each neuron's δ (the derivative of the loss by its pre-activation) "
        "is computed once and reused by every weight into that neuron.",
        derivation.backward)
    yield Block("Gradients", "Each parameter's gradient: the δ of the neuron it feeds times the input it scales.",
                tuple(present(step, context) for step in derivation.gradients))
    if derivation.updates:
        typography = context.typography
        rows = tuple((Math(context.name(update.old)), Math(typography.number(context.values[update.old])),
                      Math(typography.number(context.values[update.gradient])),
                      Math(typography.number(context.values[update.result]))) for update in derivation.updates)
        yield Block("Updates", "Gradient descent, every gradient taken at the old parameters.",
                    tuple(present(update, context) for update in derivation.updates),
                    Table(("parameter", "old", "gradient", "new"), rows))


# --- templates ---------------------------------------------------------------------------


def _template_folder() -> Path:
    """The templates: inside the installed package, or the repository's top-level folder."""
    try:
        installed = resources.files("backprop_derive.templates")
        if installed.is_dir():
            return Path(str(installed))
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "templates"


def _tex_escape(text: str) -> str:
    replacements = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                    "δ": r"$\delta$", "η": r"$\eta$", "σ": r"$\sigma$", "∂": r"$\partial$", "→": r"$\to$",
                    "−": "-", "·": r"$\cdot$"}
    return "".join(replacements.get(char, char) for char in text)


# NOTE: cached so that each template is compiled once per process, not once per render
# (compiling is most of the cost of rendering a small solution; generate renders thousands).
@functools.lru_cache(maxsize=None)
def environment(fmt: str, template_dir: str | Path | None = None) -> jinja2.Environment:
    """The Jinja environment for ``fmt``: LaTeX-safe delimiters for tex, StrictUndefined always."""
    folders = [str(template_dir)] if template_dir else []
    folders.append(str(_template_folder()))
    options = {}
    if fmt == "tex":
        options = dict(block_start_string="((*", block_end_string="*))", variable_start_string="(((",
                       variable_end_string=")))", comment_start_string="((=", comment_end_string="=))")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False,
                             **options)
    env.filters["tex_escape"] = _tex_escape
    env.tests["math"] = lambda value: isinstance(value, Math)
    return env


def render(solution, fmt: str = "md", *, standalone: bool = True, template_dir: str | Path | None = None) -> str:
    """``solution`` as text in ``fmt``: md, tex, txt or json.

    Args:
        solution: From ``solve``.
        fmt: The output format.
        standalone: For tex, a whole document (True) or only its body.
        template_dir: A folder whose templates are used before the built-in ones.
    """
    if fmt == "json":
        return json.dumps(to_json(solution), indent=2, ensure_ascii=False) + "\n"
    if fmt not in TEXT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    typography = Unicode(solution.precision) if fmt == "txt" else Latex(solution.precision)
    document = build_document(solution, typography)
    template = environment(fmt, template_dir).get_template(f"solution.{fmt}.j2")
    return template.render(document=document, standalone=standalone)


# --- JSON --------------------------------------------------------------------------------


def to_json(solution) -> dict:
    """SPEC §4.1's object: loss, quantities, gradients, updated (and steps when there are several)."""
    steps = [_step_json(solution, index) for index in range(len(solution.values))]
    result = {"title": solution.network.title, "notation": solution.notation.style, **steps[0]}
    if len(steps) > 1:
        result["steps"] = steps
    return result


def _step_json(solution, index: int) -> dict:
    values = solution.values[index]
    derivation = solution.derivation
    quantities = solution.quantities(index)
    result = {
        "loss": json_number(values[derivation.cost]),
        "quantities": {name: json_number(value) for name, value in quantities.items()},
        "exact": {name: str(value) for name, value in quantities.items() if value.is_Rational},
        "gradients": _shaped((g.parameter.location, json_number(values[g.result])) for g in derivation.gradients),
    }
    if derivation.updates:
        result["updated"] = _shaped((u.old.parameter.location, json_number(values[u.result]))
                                    for u in derivation.updates)
    return result


def json_number(value) -> int | float:
    """The JSON number nearest ``value``: an int when it is a whole number."""
    return int(value) if value.is_Integer else float(value)


def _shaped(located) -> dict:
    """Values placed by their spec location, lists where the spec has lists."""
    tree: dict = {}
    for location, value in located:
        node = tree
        for key in location[:-1]:
            node = node.setdefault(key, {})
        node[location[-1]] = value
    return _lists_where_numbered(tree)


def _lists_where_numbered(node):
    if not isinstance(node, dict):
        return node
    converted = {key: _lists_where_numbered(value) for key, value in node.items()}
    if converted and all(isinstance(key, int) for key in converted):
        return [converted[key] for key in sorted(converted)]
    return converted
