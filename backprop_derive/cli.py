"""The command line: parses arguments, calls the library, turns its errors into one line and exit 2."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from . import __version__
from .errors import BackpropDeriveError, SpecError
from .limits import MAX_VARIANTS
from .numbers import parse_number
from .output import write_files
from .pdf import compile_pdf
from .render import render_files
from .rules import ACTIVATIONS, LOSSES
from .solution import solve as solve_spec

#: Exit codes of SPEC §4: a check found a wrong answer; bad usage or an invalid spec.
EXIT_WRONG_ANSWER = 1
EXIT_BAD_INPUT = 2


def reports_errors(command):
    """Turn the package's errors into one clear line on standard error and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BackpropDeriveError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(EXIT_BAD_INPUT)

    return wrapper


def write_output(text: str | bytes, path: str | None) -> None:
    """Write to ``path`` whole or not at all (a temporary file renamed into place), or to stdout."""
    if path is None:
        if isinstance(text, bytes):
            sys.stdout.buffer.write(text)
        else:
            click.echo(text, nl=False)
        return
    write_files({Path(path): text})


def default_format(output: str | None) -> str:
    """Unicode text on a terminal, Markdown into a pipe; for ``-o``, the file's suffix decides."""
    if output:
        suffix = Path(output).suffix.lstrip(".").lower()
        suffix = SUFFIX_ALIASES.get(suffix, suffix)
        return suffix if suffix in SOLVE_FORMATS else "md"
    return "txt" if sys.stdout.isatty() else "md"


SUFFIX_ALIASES = {"markdown": "md", "latex": "tex", "htm": "html", "text": "txt"}
SOLVE_FORMATS = ("md", "tex", "txt", "html", "json", "pdf")
# NOTE: check, generate, derive and matrix style load their modules only when used, so that
# `solve` starts fast; their format lists are repeated here (tests/test_cli.py keeps them equal).
CHECK_FORMATS = ("txt", "md", "tex", "json")
GENERATE_FORMATS = ("md", "tex", "pdf")
DERIVE_FORMATS = ("md", "tex", "txt", "json")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, package_name="backprop-derive")  # NOTE: works without pip install too
def main() -> None:
    """Backpropagation, worked step by step: from a small network's spec to the full solution.

    \b
    Example:
        backprop-derive solve examples/seed_relu.yaml
    """


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(SOLVE_FORMATS),
              help="Output format (default: txt on a terminal, md in a pipe, or from -o's suffix).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@click.option("--steps", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="How many gradient-descent steps to work through.")
@click.option("--notation", type=click.Choice(["indexed", "layered", "ng"]),
              help="Names of the quantities (default: the spec's, else indexed for neurons, ng for layers).")
@click.option("--precision", type=click.IntRange(1, 30), help="Significant digits for values that are not exact.")
@click.option("--style", type=click.Choice(["chain", "matrix"]), default="chain", show_default=True,
              help="chain: every weight's chain rule; matrix: layer by layer with the real matrices "
                   "(fully connected layers only).")
@click.option("--template-dir", type=click.Path(exists=True, file_okay=False),
              help="A folder of templates used before the built-in ones (e.g. your own solution.md.j2).")
@reports_errors
def solve(spec: str, fmt: str | None, output: str | None, steps: int, notation: str | None,
          precision: int | None, style: str, template_dir: str | None) -> None:
    """Print the worked solution of SPEC: forward pass, loss, backward pass, updates.

    With -o and Markdown, the network's diagrams are written beside the file as SVG
    (seed.md, seed.network.svg, seed.chain.svg); on standard output they are Mermaid.

    \b
    Examples:
        backprop-derive solve examples/seed_relu.yaml
        backprop-derive solve examples/seed_relu.yaml --format html -o seed.html
        backprop-derive solve examples/seed_relu.yaml -o seed.md
        backprop-derive solve examples/sigmoid_2_2_1.yaml --format json --steps 3
        backprop-derive solve examples/mazur_2_2_2.yaml --style matrix
        backprop-derive solve examples/seed_relu.yaml --template-dir my_templates/
    """
    fmt = fmt or default_format(output)
    solution = solve_spec(spec, steps=steps, notation=notation, precision=precision, written=fmt != "json")
    if style == "matrix":
        from .matrix import layers_of

        layers_of(solution.network)  # NOTE: a graph that is not layers is a usage error in every format
    if fmt == "pdf":
        write_output(compile_pdf(solution.render("tex", style=style, template_dir=template_dir)), output)
    elif output:
        write_files(render_files(solution, fmt, output, style=style, template_dir=template_dir))
    else:
        write_output(solution.render(fmt, style=style, template_dir=template_dir), None)


def _tolerance(context: click.Context, parameter: click.Parameter, raw: str | None):
    if raw is None:
        return None
    try:
        value = parse_number(raw)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if value < 0:
        raise click.BadParameter("expected a tolerance of 0 or more")
    return value


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(DERIVE_FORMATS),
              help="Output format (default: txt on a terminal, md in a pipe, or from -o's suffix).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@click.option("--notation", type=click.Choice(["indexed", "layered", "ng"]),
              help="Names of the quantities (default: the spec's, else indexed for neurons, ng for layers).")
@reports_errors
def derive(spec: str, fmt: str | None, output: str | None, notation: str | None) -> None:
    """Print the general formulas of SPEC's network, without numbers.

    Every gradient as a product of local derivatives along each path to the loss, and each
    activation's derivative as SymPy derives it. The spec's numbers are not used.

    \b
    Examples:
        backprop-derive derive examples/sigmoid_2_2_1.yaml
        backprop-derive derive examples/mazur_2_2_2.yaml --notation layered --format tex -o mazur.tex
    """
    from .general import general_solution

    general = general_solution(spec, notation=notation)
    fmt = fmt or default_format(output)
    if fmt not in DERIVE_FORMATS:
        fmt = "md"
    write_output(general.render(fmt), output)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.argument("answers", type=click.Path(dir_okay=False))
@click.option("--tolerance", callback=_tolerance,
              help="Accept an answer within this absolute difference (default: by the digits written).")
@click.option("--format", "fmt", type=click.Choice(CHECK_FORMATS), default="txt", show_default=True,
              help="txt: a line per answer; md/tex: the worked solution with the answers marked; json.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@reports_errors
def check(spec: str, answers: str, tolerance, fmt: str, output: str | None) -> None:
    """Check a student's ANSWERS (YAML: quantity name -> number) against the solution of SPEC.

    Each answer is right, wrong (with the right value and the common mistake that explains it),
    carried forward (right from the student's own earlier wrong numbers) or unknown. Exit code 0
    when none is wrong or carried forward (unknown names are reported, not marked), 1 when any is,
    2 for a bad spec or answers file.

    \b
    Examples:
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml --format json
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml --format tex -o marked.tex
    """
    from .check import check as check_answers, read_answers, render_report

    solution, sheet = solve_spec(spec, written=fmt in ("md", "tex")), read_answers(answers)
    try:
        report = check_answers(solution, sheet, tolerance)
    except SpecError as error:
        raise error.with_file(answers) from None
    write_output(render_report(report, fmt, color=output is None and sys.stdout.isatty()), output)
    if not report.all_right:
        sys.exit(EXIT_WRONG_ANSWER)



UNIT_ACTIVATIONS = sorted(name for name in ACTIVATIONS if name != "softmax")
#: generate's options that build a network, which --from replaces.
BUILDING_OPTIONS = ("arch", "activation", "output_activation", "loss", "bias", "batch")


@main.command()
@click.option("--arch", default="2-2-1", show_default=True,
              help="Units per layer, inputs first: 2-2-1 is two inputs, two hidden units, one output.")
@click.option("--activation", type=click.Choice(UNIT_ACTIVATIONS), default="relu", show_default=True,
              help="Activation of the hidden layers (and of the output unless --output-activation).")
@click.option("--output-activation", type=click.Choice(sorted(ACTIVATIONS)),
              help="Activation of the output layer (default: --activation; sigmoid for binary_cross_entropy, "
                   "softmax for cross_entropy).")
@click.option("--loss", type=click.Choice(list(LOSSES)), default="half_squared_error", show_default=True,
              help="The loss function.")
@click.option("--bias/--no-bias", default=False, show_default=True, help="Give every neuron a bias.")
@click.option("--batch", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Examples per variant (more than one: a batch, the cost is their mean loss).")
@click.option("--from", "structure", type=click.Path(dir_okay=False),
              help="Keep this spec's network (dense or named, activations, loss, options) and draw new numbers.")
@click.option("--count", type=click.IntRange(1), default=10, show_default=True,
              help=f"How many variants (at most {MAX_VARIANTS:,}, and fewer of large networks).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The same options and seed give byte-identical files.")
@click.option("--weights", "weight_range", metavar="LOW..HIGH",
              help="Range of the weights, biases and inputs drawn (default -3..3 for ReLU/identity networks, "
                   "-1..1 otherwise).")
@click.option("--decimals", type=click.IntRange(0, 2),
              help="Decimal places of the numbers drawn (default 0 for ReLU/identity networks, 1 otherwise).")
@click.option("--notation", type=click.Choice(["indexed", "layered", "ng"]),
              help="Names of the quantities (default: the spec's, else ng for layers, indexed for neurons).")
@click.option("--allow-dead-layer", is_flag=True, help="Accept a hidden ReLU layer whose units all output 0.")
@click.option("-o", "--output", "directory", type=click.Path(file_okay=False), default="variants",
              show_default=True, help="The folder to write into (created if missing).")
@click.option("--format", "fmt", type=click.Choice(GENERATE_FORMATS), default="md", show_default=True,
              help="Format of the problem sheets, solutions and key (pdf needs pdflatex).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes to spread the work over (the files are the same whatever the number).")
@click.option("--force", is_flag=True, help="Overwrite files that exist (without it, nothing is written then).")
@click.pass_context
@reports_errors
def generate(context: click.Context, arch: str, activation: str, output_activation: str | None, loss: str,
             bias: bool, batch: int, structure: str | None, count: int, seed: int, weight_range: str | None,
             decimals: int | None, notation: str | None, allow_dead_layer: bool, directory: str, fmt: str,
             jobs: int, force: bool) -> None:
    """Make homework variants with nice numbers: a problem sheet, a worked solution and a spec each,
    plus the class set (problems) and its answer key (answers).

    \b
    Examples:
        backprop-derive generate --arch 2-2-1 --activation relu --count 30 --seed 7 -o hw/
        backprop-derive generate --from examples/mazur_2_2_2.yaml --count 30 -o hw/ --format pdf
        backprop-derive generate --arch 2-3-2 --activation sigmoid --bias --weights -1..1 --decimals 2
    """
    if structure is not None:
        given = [f"--{name.replace('_', '-')}" for name in BUILDING_OPTIONS
                 if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"--from keeps the spec's network; drop {', '.join(given)}")
    from .generate import generate as generate_variants, make_plan

    plan = make_plan(structure=structure, arch=arch, activation=activation, output_activation=output_activation,
                     loss=loss, bias=bias, batch=batch, weights=weight_range, decimals=decimals, notation=notation,
                     count=count, seed=seed, allow_dead=allow_dead_layer)
    if sys.stderr.isatty():
        with click.progressbar(length=count, label="Generating", file=sys.stderr) as bar:
            files = generate_variants(plan, directory, fmt, jobs=jobs, force=force, progress=lambda: bar.update(1))
    else:
        files = generate_variants(plan, directory, fmt, jobs=jobs, force=force)
    click.echo(f"Wrote {count} variants and their key: {len(files)} files in {directory}", err=True)
