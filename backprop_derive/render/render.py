"""Rendering: a Solution to a document of printed blocks, then through a Jinja template (or to JSON)."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import traceback
from dataclasses import replace
from functools import singledispatch
from pathlib import Path

import jinja2
import markupsafe
import sympy

from ..core.errors import OutputError, TemplateError
from ..core.formula import X
from ..core.numbers import nearest_double, words
from ..core.rules import OUTPUT
from ..core.steps import Quantity
from ..core.update import NETWORK_KEYS, parameter_updates, state_json, training_of
from .diagram import Diagram, Label, mermaid, solution_diagrams, svg, tikz
from .document import Block, Document, Math, Plot, Table
from .formats import FORMATS
from .matrix import matrix_step_blocks
from .plaintext import equations, table_lines
from .plot import mermaid_plot, pgfplots_plot, svg_line_plot, text_plot
from .present import Context, Line, chain, present, update_text
from .typography import Latex, Unicode

# --- the document ------------------------------------------------------------------------


@singledispatch
def build_document(solution, typography: Latex, step_blocks=None, with_figures: bool = True,
                   marks: dict[Quantity, str] | None = None, with_plots: bool = True) -> Document:
    """Print every part of ``solution`` in ``typography``; the templates only lay it out.

    Args:
        solution: From ``solve``.
        typography: How names, numbers and formulas are written.
        step_blocks: ``step_blocks(solution, context, **extra)`` yields one training step's blocks
            (default: chain style).
        with_figures: Whether to draw the network's diagrams (not for plain text).
        with_plots: Whether to plot the cost per step (plain text draws it in characters).
        marks: A short text beside the line of each quantity of the first step (``check``).
    """
    step_blocks = step_blocks or _step_blocks
    derivation, notation = solution.derivation, solution.notation
    figures = solution_diagrams(solution) if with_figures else {}
    overview = overview_blocks(solution, typography, figures.get("network"))
    steps = []
    for index, values in enumerate(solution.values):
        context = Context(notation, typography, values)
        heading = f"Step {index + 1}" if len(solution.values) > 1 else ""
        per_step = getattr(solution, "updates_per_step", 1)
        if per_step > 1:
            heading = f"Step {index // per_step + 1}, example {index % per_step + 1}"
        extra = {}
        if index == 0:
            # NOTE: the chain rule's paths are the same in every step; one figure, in the first, is enough.
            extra = {"chain_figure": figures.get("chain")} | ({"marks": marks} if marks else {})
        steps.append((heading, tuple(step_blocks(solution, context, **extra))))
    closing = ()
    per_step = getattr(solution, "updates_per_step", 1)
    if len(solution.values) > per_step:
        closing = (loss_per_step(solution, typography, derivation.cost, "The cost before each step's update.",
                                 with_plots, per_step),)
    return Document(solution.network.title or "Backpropagation, worked", overview, tuple(steps), closing)


def loss_per_step(solution, typography: Latex, cost, sentence: str, with_plots: bool, per_step: int = 1) -> Block:
    """The closing table of ``cost`` before each step's update (and its plot), for every kind of exercise.

    ``per_step`` > 1 numbers the rows ``pass.example`` (online training: one update per example).
    """
    rows = tuple((str(index + 1) if per_step == 1 else f"{index // per_step + 1}.{index % per_step + 1}",
                  Math(typography.number(values[cost]))) for index, values in enumerate(solution.values))
    return Block("Loss per step", sentence, table=Table(("step", Math(typography.name(solution.notation, cost))), rows),
                 level=2, figure=cost_plot(solution, cost) if with_plots else None)


def cost_plot(solution, cost) -> Plot:
    """The value of ``cost`` (the quantity descended on) before each step's update, plotted in every form."""
    notation = solution.notation
    points = [(index + 1, float(values[cost])) for index, values in enumerate(solution.values)]
    caption = "The cost before each step's update"
    text_name = notation.text(cost)
    return Plot("loss", Label(caption, caption), svg_line_plot(points, y_label=text_name, title=caption),
                pgfplots_plot(points, y_label=f"${notation.tex(cost)}$"), text_plot(points, y_label=text_name),
                mermaid_plot(points, y_label=text_name))


def overview_blocks(solution, typography: Latex, network_figure: Diagram | None = None) -> tuple[Block, ...]:
    """The parts before the working: the network (and its diagram), the inputs and targets, the local derivatives."""
    first = Context(solution.notation, typography, solution.values[0])
    return (_network_block(solution, first, network_figure), _examples_block(solution, first),
            _derivatives_block(solution, first))


def _network_block(solution, context: Context, figure: Diagram | None) -> Block:
    network = solution.network
    rows = []
    for neuron in network.neurons:
        activation = neuron.activation
        # NOTE: no example index: the table describes the network, whichever example runs through it.
        pre = context.name(Quantity("pre", neuron))
        formula = context.typography.formula(activation.formula, {X: pre})
        weights = context.typography.separator.join(_given(context, weight) for weight in neuron.incoming)
        bias = _given(context, neuron.bias) if neuron.bias else ""
        rows.append((Math(context.name(Quantity("out", neuron))), Math(pre), activation.name, Math(formula),
                     Math(weights), Math(bias)))
    text = f"Loss: {network.loss.description} ({network.loss.name})"
    if network.learning_rate is not None:
        # NOTE: a number inside words is plain text (each template escapes words), not math.
        text += f"; learning rate {Unicode(context.typography.precision).number(network.learning_rate)}"
    if not network.options.update_biases:
        text += "; biases are kept fixed"
    text += "".join(f". {sentence}" for sentence in convention_sentences(network))
    return Block("The network", text + ".",
                 table=Table(("output", "pre-activation", "activation", "formula", "weights", "bias"), tuple(rows)),
                 level=2, figure=figure)


def convention_sentences(network) -> list[str]:
    """One sentence for each textbook convention the spec asks for (SPEC §2.7), for the network's text."""
    options, sentences = network.options, []
    if options.error_term:
        sentences.append("δ is the textbooks' error term, δ = −∂L/∂x (for an output, (t − y)·f'), and each update "
                         "is written w + η·δ·(input)")
    if any(parameter.kind == "threshold" for parameter in network.parameters):
        sentences.append("A threshold θ is a weight on a constant input of −1: it is subtracted from the weighted sum")
    if network.weights_layout == "input_by_unit":
        sentences.append("Each weight matrix is written as x·W: W[i][j] from input i to unit j")
    if not network.has_targets:
        sentences.append("There are no targets: the output itself is differentiated")
    rounding = options.rounding
    if rounding:
        backward = (f" (the backward pass and the gradients to {rounding.backward.describe()})"
                    if rounding.backward else "")
        sentences.append(f"Every line's result is rounded to {rounding.describe()}{backward} and carried rounded "
                         "into the lines that use it, as a hand solution does")
    return sentences


def _given(context: Context, parameter) -> str:
    return context.typography.equals(context.name(Quantity("param", parameter=parameter)),
                                     context.typography.number(parameter.value))


def _examples_block(solution, context: Context) -> Block:
    network = solution.network
    outputs = network.outputs if network.has_targets else ()
    header = tuple(Math(context.name(Quantity("input", node))) for node in network.inputs) + tuple(
        Math(context.name(Quantity("target", node))) for node in outputs)
    rows = tuple(
        tuple(Math(context.typography.number(example.inputs[node])) for node in network.inputs)
        + tuple(Math(context.typography.number(example.targets[node])) for node in outputs)
        for example in network.examples)
    text = "One example." if len(rows) == 1 else (
        f"A batch of {len(rows)} examples; the cost is the "
        f"{'mean' if network.options.reduction == 'mean' else 'sum'} of their losses.")
    if getattr(solution, "online", ()):
        text = (f"{len(rows)} examples, trained online: each example's forward pass, backward pass and update in "
                "turn, the next example starting from the parameters the last one left; a step is one pass.")
    if network.batched:
        header = ("example",) + header
        rows = tuple((str(index + 1),) + row for index, row in enumerate(rows))
    return Block("Inputs and targets" if outputs else "Inputs", text, table=Table(header, rows), level=2)


def _derivatives_block(solution, context: Context) -> Block:
    typography, notation = context.typography, context.notation
    lines = []
    for activation in notation.functions:
        if activation.layerwise:
            continue
        function = typography.function(notation, activation)
        x = typography.variable("x")
        parts = [typography.apply(function + typography.prime, x), typography.formula(activation.derivative, {X: x})]
        if activation.derivative_of_output is not None:
            parts.append(typography.formula(activation.derivative_of_output, {OUTPUT: typography.apply(function, x)}))
        lines.append(chain(*parts))
    return Block("Local derivatives", "Each activation's derivative, as SymPy differentiates it.",
                 lines=tuple(lines), level=2)


def _step_blocks(solution, context: Context, chain_figure: Diagram | None = None,
                 marks: dict[Quantity, str] | None = None):
    marks = marks or {}
    derivation = solution.derivation
    batched = solution.network.batched and not solution.online

    def marked(step) -> Line:
        line = present(step, context)
        return replace(line, mark=marks[step.result]) if step.result in marks else line

    def per_example(heading: str, text: str, groups, figure: Diagram | None = None) -> list[Block]:
        if not batched:
            return [Block(heading, text, tuple(marked(step) for step in groups[0]), figure=figure)]
        blocks = [Block(heading, text, figure=figure)]
        blocks += [Block(f"Example {index + 1}", "", tuple(marked(step) for step in group), level=4)
                   for index, group in enumerate(groups)]
        return blocks

    yield from per_example("Forward pass", "Each neuron's weighted sum, then its activation.", derivation.forward)
    yield Block("Loss", "", tuple(marked(step) for step in derivation.losses))
    error_term = solution.network.options.error_term
    backward = ("From the outputs back: each neuron's error term δ (minus the derivative of the loss by its "
                "pre-activation; for an output, (t − y)·f') is computed once and reused by every weight into "
                "that neuron." if error_term else
                "From the outputs back: each neuron's δ (the derivative of the loss by its pre-activation) "
                "is computed once and reused by every weight into that neuron.")
    if solution.network.options.input_gradients:
        backward += " Then each input's gradient, over every neuron it feeds."
    yield from per_example("Backward pass", backward, derivation.backward, chain_figure)
    yield Block("Gradients", "Each parameter's gradient: the δ of the neuron it feeds times the input it scales"
                + (", with a minus sign, since δ is an error term." if error_term else "."),
                tuple(marked(step) for step in derivation.gradients))
    if derivation.updates:
        typography = context.typography
        rows = []
        for update in parameter_updates(derivation.updates):
            old, gradient = Quantity("param", parameter=update.result.parameter), Quantity(
                "grad", parameter=update.result.parameter)
            rows.append((Math(context.name(old)), Math(typography.number(context.values[old])),
                         Math(typography.number(context.values[gradient])),
                         Math(typography.number(context.values[update.result]))))
        network = solution.network
        text = ("The textbooks' rule, w + η·δ·(input) for each weight w: gradient descent, every error term taken "
                "at the old parameters." if error_term else
                "Gradient descent, every gradient taken at the old parameters.")
        if network.training is not None and not (network.training.plain and not network.frozen):
            text = update_text(network.training, typography)
        yield Block("Updates", text, tuple(marked(update) for update in derivation.updates),
                    Table(("parameter", "old", "gradient", "new"), tuple(rows)))


# --- templates ---------------------------------------------------------------------------


def _template_folder() -> Path:
    """The built-in templates: inside the installed package, or the repository's top-level folder."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


#: Characters of user text that LaTeX (pdflatex) has no glyph for as text, with what it typesets instead.
TEX_REPLACEMENTS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "−": "-", "½": r"$\frac{1}{2}$", "²": r"$^2$",
    "–": "--", "✓": r"$\checkmark$", "✗": r"$\times$", "↪": r"$\hookrightarrow$", "×": r"$\times$", "⋆": r"$\star$",
    **{char: f"${command}$" for char, command in {
        "∂": r"\partial", "∑": r"\sum", "∏": r"\prod", "∫": r"\int", "∇": r"\nabla", "∞": r"\infty",
        "→": r"\to", "←": r"\leftarrow", "↦": r"\mapsto", "⇒": r"\Rightarrow", "·": r"\cdot", "⋅": r"\cdot",
        "∘": r"\circ", "⊙": r"\odot", "⊘": r"\oslash", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "≈": r"\approx",
        "√": r"\surd", "∈": r"\in", "∀": r"\forall", "∃": r"\exists", "′": r"\prime",
    }.items()},
    **{char: f"$\\{name}$" for char, name in zip(
        "αβγδεζηθικλμνξπρστυφχψωςϵϑϕΓΔΘΛΞΠΣΥΦΨΩ",
        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi "
        "chi psi omega varsigma epsilon vartheta phi Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split())},
    **{char: f"$_{digit}$" for digit, char in enumerate("₀₁₂₃₄₅₆₇₈₉")},
    # NOTE: ¹ and ³ are Latin-1, which LaTeX sets as text (² is set as mathematics, as it always was).
    **{char: f"$^{digit}$" for digit, char in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹") if char not in "¹³"},
}


#: A letter under a combining circumflex (x̂, as prose writes batch norm's normalised value).
_HATTED = re.compile("([A-Za-z])\u0302")


def _tex_escape(text: str) -> str:
    escaped = "".join(TEX_REPLACEMENTS.get(char, char) for char in text)
    return _HATTED.sub(lambda match: "$\\hat{" + match.group(1) + "}$", escaped)


# NOTE: cached so that each template is compiled once per process, not once per render
# (compiling is most of the cost of rendering a small solution; generate renders thousands).
@functools.cache
def environment(fmt: str, template_dir: str | Path | None = None) -> jinja2.Environment:
    """The Jinja environment for ``fmt``: LaTeX-safe delimiters for tex, HTML escaping for html, StrictUndefined.

    Args:
        fmt: The output format.
        template_dir: A folder searched before the built-in templates, so that any of them can be overridden.
    """
    folders = [str(template_dir)] if template_dir else []
    folders.append(str(_template_folder()))
    options = {}
    if fmt == "tex":
        options = dict(block_start_string="((*", block_end_string="*))", variable_start_string="(((",
                       variable_end_string=")))", comment_start_string="((=", comment_end_string="=))")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folders), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             autoescape=fmt == "html", **options)
    env.filters["tex_escape"] = _tex_escape
    env.filters["tikz"] = figure_tikz
    env.filters["mermaid"] = figure_mermaid
    # NOTE: the SVG emitters escape every text they write, so their markup is safe to insert.
    env.filters["svg"] = lambda figure: markupsafe.Markup(figure_svg(figure))
    env.filters["equations"] = equations
    env.filters["table_lines"] = table_lines
    env.globals["figure_file"] = figure_file
    env.tests["math"] = lambda value: isinstance(value, Math)
    return env


@singledispatch
def figure_svg(figure) -> str:
    """A figure (network Diagram or Plot) as SVG."""
    raise TypeError(f"no SVG for {type(figure).__name__}")


@singledispatch
def figure_tikz(figure) -> str:
    """A figure as TikZ/pgfplots code."""
    raise TypeError(f"no TikZ for {type(figure).__name__}")


@singledispatch
def figure_mermaid(figure) -> str:
    """A figure as a Mermaid block's body."""
    raise TypeError(f"no Mermaid for {type(figure).__name__}")


figure_svg.register(Diagram, svg)
figure_tikz.register(Diagram, tikz)
figure_mermaid.register(Diagram, mermaid)
figure_svg.register(Plot, lambda plot: plot.svg)
figure_tikz.register(Plot, lambda plot: plot.tikz)
figure_mermaid.register(Plot, lambda plot: plot.mermaid)


def render(solution, fmt: str = "md", *, standalone: bool = True, template_dir: str | Path | None = None,
           style: str = "chain", figure_stem: str | None = None, figures: bool = True) -> str:
    """``solution`` as text in ``fmt``: md, tex, txt, html or json.

    Args:
        solution: From ``solve``.
        fmt: The output format.
        standalone: For tex and html, a whole document (True) or only its body (for Jupyter).
        template_dir: A folder whose templates are used before the built-in ones.
        style: ``chain`` (weight by weight) or ``matrix`` (layer by layer; JSON is the same).
        figure_stem: For md, the figures are SVG files named ``<stem>.<figure>.svg`` beside the
            document (see ``render_files``); without it, they are Mermaid blocks.
        figures: False leaves out the network's diagrams and the cost plot (a notebook's LaTeX,
            which loads neither TikZ nor pgfplots).
    """
    return _render(solution, fmt, standalone, template_dir, style, figure_stem, figures)[0]


def _render(solution, fmt: str, standalone: bool, template_dir: str | Path | None, style: str,
            figure_stem: str | None, figures: bool = True) -> tuple[str, Document | None]:
    if fmt == "json":
        return json.dumps(to_json(solution), indent=2, ensure_ascii=False, allow_nan=False) + "\n", None
    if fmt not in FORMATS or FORMATS[fmt].binary:
        raise ValueError(f"unknown format {fmt!r}")
    step_blocks = matrix_step_blocks if style == "matrix" else None
    document = build_document(solution, FORMATS[fmt].typography(solution.precision), step_blocks,
                              with_figures=figures and fmt != "txt", with_plots=figures)
    with _user_template_errors(template_dir):
        template = environment(fmt, template_dir).get_template(f"solution.{fmt}.j2")
        return template.render(document=document, standalone=standalone, figure_stem=figure_stem), document


#: What a template of the user's may raise while it renders (beyond Jinja's own errors).
_TEMPLATE_FAULTS = (jinja2.TemplateError, TypeError, ValueError, AttributeError, LookupError, ArithmeticError)


@contextlib.contextmanager
def _user_template_errors(template_dir: str | Path | None):
    """Turn an error in a template of ``template_dir`` into one TemplateError (file, line, message).

    NOTE: an error in a built-in template is a bug of this package, and keeps its traceback.
    """
    try:
        yield
    except _TEMPLATE_FAULTS as error:
        if not template_dir:
            raise
        folder = Path(template_dir).resolve()
        file, line = _template_frame(error, folder)
        if file is None:
            raise
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        # NOTE: "'backprop_derive.render.Block object' has no attribute …" reads "Block has no attribute …".
        message = re.sub(r"'(?:\w+\.)*(\w+) object'", r"\1", message.splitlines()[0])
        raise TemplateError(message, file, line) from None


def _template_frame(error: Exception, folder: Path) -> tuple[str | None, int]:
    """The user's template file and line where ``error`` arose (the innermost such frame), or None."""
    if isinstance(error, jinja2.TemplateSyntaxError) and error.filename:
        if Path(error.filename).resolve().is_relative_to(folder):
            return error.filename, error.lineno or 0
    found: tuple[str | None, int] = (None, 0)
    for frame, line in traceback.walk_tb(error.__traceback__):
        filename = frame.f_code.co_filename
        if filename.endswith(".j2") and Path(filename).resolve().is_relative_to(folder):
            found = (filename, line)
    return found


def figure_file(stem: str, name: str) -> str:
    """The file name of figure ``name`` beside a document called ``stem``: ``seed.network.svg``."""
    return f"{stem}.{name}.svg"


def render_files(solution, fmt: str, output: str | Path, *, standalone: bool = True,
                 template_dir: str | Path | None = None, style: str = "chain",
                 figures_beside: bool = True) -> dict[Path, str]:
    """Every file ``-o output`` writes: the document, and for md its figures as SVG files beside it
    (unless ``figures_beside`` is False: then they are Mermaid blocks inside it)."""
    output = Path(output)
    stem = output.stem if fmt == "md" and figures_beside else None
    text, document = _render(solution, fmt, standalone, template_dir, style, stem)
    files = {output: text}
    if stem is not None:
        for figure in document.figures():
            files[output.with_name(figure_file(stem, figure.name))] = figure_svg(figure) + "\n"
    return files


# --- JSON --------------------------------------------------------------------------------


@singledispatch
def to_json(solution) -> dict:
    """SPEC §4.1's object: loss, quantities, gradients, updated (and steps when there are several)."""
    steps = [_step_json(solution, index) for index in range(len(solution.values))]
    per_step = solution.updates_per_step
    if per_step > 1:
        steps = [_pass_json(solution, steps[start:start + per_step]) for start in range(0, len(steps), per_step)]
    return json_document(solution, steps)


def _pass_json(solution, updates: list[dict]) -> dict:
    """One online training step: the cost met over the pass (each example's loss at the parameters it met),
    the first example's quantities and gradients (the names ``check`` marks), each example's update under
    ``examples``, and the parameters and state the pass leaves."""
    losses = [update["loss"] for update in updates]
    mean = solution.network.options.reduction == "mean"
    result = {"loss": sum(losses) / len(losses) if mean else sum(losses),
              **{key: updates[0][key] for key in ("quantities", "exact", "gradients")}, "examples": updates}
    result |= {key: updates[-1][key] for key in ("updated", "state") if key in updates[-1]}
    return result


def _step_json(solution, index: int) -> dict:
    values = solution.values[index]
    derivation = solution.derivation
    quantities = solution.quantities(index, exact=True)
    named = solution.notation.ascii
    network = solution.network
    loss = json_number(values[derivation.cost], "loss")  # NOTE: first, so that a cost out of range is named as such
    numbers = {name: json_number(value, f"quantities.{name}") for name, value in quantities.items()}
    result = {
        "loss": loss,
        "quantities": numbers,
        "exact": {name: _exact_text(value) for name, value in quantities.items() if _short_exact(value)},
        "gradients": _shaped((g.parameter.location, numbers[named(g.result)]) for g in derivation.gradients),
    }
    if network.options.error_term:
        # NOTE: JSON carries both: δ as the error term (the book's, in `quantities`) and ∂L/∂ of each
        # pre-activation, apart: `quantities` holds exactly the names check accepts (SPEC §4.1, §4.2).
        result["pre_activation_gradients"] = {
            _derivative_of_pre(solution, delta): json_number(-values[delta], f"quantities.{named(delta)}")
            for delta in _deltas(derivation)}
    if solution.unrounded:
        # NOTE: with options.rounding, `quantities` are the rounded numbers a hand solution carries;
        # `exact` keeps every value unrounded (exact fractions as p/q, others to 30 significant digits).
        unrounded = solution.unrounded[index]
        result["exact"] = {named(quantity): _unrounded_text(value) for quantity, value in unrounded.items()
                           if not value.is_Rational or _short_exact(value)}
    if network.options.input_gradients:
        result["gradients"]["inputs"] = _input_gradients(solution, values)
    if derivation.updates:
        result["updated"] = _shaped((u.result.parameter.location, numbers[named(u.result)])
                                    for u in parameter_updates(derivation.updates))
        state = state_json(training_of(network), NETWORK_KEYS, network.parameters, values)
        if state:
            result["state"] = {letter: _shaped((owner.location, json_number(value, f"state.{letter}"))
                                               for owner, value in pairs) for letter, pairs in state.items()}
    return result


# NOTE: remembered: the same fields (η, β₁, the step count) are written exactly at every step, and SymPy's
# printer takes longer than the rest of a step's JSON.
@functools.lru_cache(maxsize=4096)
def _exact_text(value: sympy.Rational) -> str:
    return str(value)


def _deltas(derivation) -> list[Quantity]:
    """Every example's δ of every neuron."""
    return [step.result for example in derivation.backward for step in example if step.result.kind == "delta"]


def _derivative_of_pre(solution, delta: Quantity) -> str:
    notation = solution.notation
    pre = Quantity("pre", delta.node, delta.example)
    return f"d{notation.name(Quantity('loss', example=delta.example)).ascii()}/d{notation.name(pre).ascii()}"


def _unrounded_text(value) -> str:
    return str(value) if value.is_Rational else str(sympy.Float(value, 30))


def _input_gradients(solution, values) -> list | dict:
    """∂L/∂x of each input in the spec's shape of ``inputs`` (one row or map per example)."""
    network = solution.network
    rows = []
    for example in range(len(network.examples)):
        gradients = {}
        for node in network.inputs:
            quantity = Quantity("dinput", node, example)
            gradients[node] = json_number(values[quantity], f"quantities.{solution.notation.ascii(quantity)}")
        rows.append(list(gradients.values()) if network.form == "dense"
                    else {node.name: value for node, value in gradients.items()})
    return rows if network.batched else rows[0]


#: The most digits (numerator and denominator together) of an exact form JSON's ``exact`` carries as a string.
JSON_EXACT_DIGITS = 1000


def _short_exact(value) -> bool:
    """True for a rational whose exact form is at most JSON_EXACT_DIGITS digits (counted without printing it)."""
    # NOTE: a longer one is left out: its nearest double is in ``quantities``, and Python refuses to print
    # an integer of more than 4300 digits.
    bits = abs(int(value.p)).bit_length() + int(value.q).bit_length() if value.is_Rational else None
    return bits is not None and bits * 0.30103 <= JSON_EXACT_DIGITS


#: Whole numbers up to this size are written as JSON integers: every double holds them exactly.
JSON_EXACT_INTEGER = 2**53


def json_number(value, field: str) -> int | float:
    """The JSON number of ``value`` (SPEC §4.1): the nearest double, or a whole number a double holds exactly.

    Args:
        value: An exact or carried value.
        field: Where it goes in the JSON object (``quantities.J``), for the error.

    Raises:
        OutputError: ``value`` lies beyond the range of a double (about 1.8e308).
    """
    if value.is_Integer and abs(int(value)) <= JSON_EXACT_INTEGER:
        return int(value)
    try:
        number = nearest_double(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise OutputError(f"cannot write JSON: {field} is {words(value)}, beyond the ±1.8e308 a JSON number holds; "
                          "the other formats show it")
    return number


def _shaped(located) -> dict:
    """Values placed by their spec location, lists where the spec has lists."""
    locations, values = [], []
    for location, value in located:
        locations.append(location)
        values.append(value)
    return _filled(_shape(tuple(locations)), values)


# NOTE: the shape of each set of locations is worked out once: JSON places the same parameters at every step.
@functools.lru_cache(maxsize=256)
def _shape(locations: tuple) -> tuple:
    """How ``_filled`` builds the tree of ``locations``: ("list" | "dict", ((key, child), …)), a leaf the index
    of its value; a node whose keys are all numbers is a list, in their order."""
    tree: dict = {}
    for index, location in enumerate(locations):
        node = tree
        for key in location[:-1]:
            node = node.setdefault(key, {})
        node[location[-1]] = index
    return _shape_of(tree)


def _shape_of(node):
    if not isinstance(node, dict):
        return node
    children = {key: _shape_of(value) for key, value in node.items()}
    if children and all(isinstance(key, int) for key in children):
        return "list", tuple((key, children[key]) for key in sorted(children))
    return "dict", tuple(children.items())


def _filled(shape, values: list):
    if isinstance(shape, int):
        return values[shape]
    kind, children = shape
    if kind == "list":
        return [values[child] if type(child) is int else _filled(child, values) for _, child in children]
    return {key: values[child] if type(child) is int else _filled(child, values) for key, child in children}


def json_document(solution, steps: list[dict]) -> dict:
    """A solution's JSON object: its title and notation, the first step's keys, and with several steps ``steps``."""
    result = {"title": solution.title, "notation": solution.notation.style, **steps[0]}
    if len(steps) > 1:
        result["steps"] = steps
    return result
