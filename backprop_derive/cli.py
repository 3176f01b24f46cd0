"""The command line: parses arguments, calls the library, turns its errors into one line and exit 2."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

import click

from .check import REPORT_FORMATS, check as check_answers, read_answers, render_report
from .errors import BackpropDeriveError, SpecError
from .general import general_solution
from .matrix import layers_of
from .numbers import parse_number
from .pdf import compile_pdf
from .render import render_with_files
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
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as error:
        raise BackpropDeriveError(f"{path}: cannot write there ({error.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def default_format(output: str | None) -> str:
    """Unicode text on a terminal, Markdown into a pipe; for ``-o``, the file's suffix decides."""
    if output:
        suffix = Path(output).suffix.lstrip(".").lower()
        suffix = SUFFIX_ALIASES.get(suffix, suffix)
        return suffix if suffix in SOLVE_FORMATS else "md"
    return "txt" if sys.stdout.isatty() else "md"


SUFFIX_ALIASES = {"markdown": "md", "latex": "tex", "htm": "html", "text": "txt"}
SOLVE_FORMATS = ("md", "tex", "txt", "json", "pdf")
DERIVE_FORMATS = ("md", "tex", "txt", "json")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="backprop-derive")
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
@reports_errors
def solve(spec: str, fmt: str | None, output: str | None, steps: int, notation: str | None,
          precision: int | None, style: str) -> None:
    """Print the worked solution of SPEC: forward pass, loss, backward pass, updates.

    \b
    Examples:
        backprop-derive solve examples/seed_relu.yaml
        backprop-derive solve examples/seed_relu.yaml --format tex -o seed.tex
        backprop-derive solve examples/sigmoid_2_2_1.yaml --format json --steps 3
        backprop-derive solve examples/mazur_2_2_2.yaml --style matrix
    """
    solution = solve_spec(spec, steps=steps, notation=notation, precision=precision)
    if style == "matrix":
        layers_of(solution.network)  # NOTE: a graph that is not layers is a usage error in every format
    fmt = fmt or default_format(output)
    if fmt == "pdf":
        write_output(compile_pdf(solution.render("tex", style=style)), output)
        return
    # NOTE: Markdown written to a file links its images as SVG files beside it (GitHub shows
    # those; it strips inline SVG and data URIs); on standard output it draws them in Mermaid.
    prefix = Path(output).stem if output else ""
    text, files = render_with_files(solution, fmt, files_prefix=prefix, style=style)
    for name, content in files.items():
        write_output(content, str(Path(output).parent / name))
    write_output(text, output)


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
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="txt", show_default=True,
              help="txt: a line per answer; md/tex: the worked solution with the answers marked; json.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@reports_errors
def check(spec: str, answers: str, tolerance, fmt: str, output: str | None) -> None:
    """Check a student's ANSWERS (YAML: quantity name -> number) against the solution of SPEC.

    Each answer is right, wrong (with the right value and the common mistake that explains it),
    carried forward (right from the student's own earlier wrong numbers) or unknown. Exit code 0
    when all are right, 1 when any is wrong or carried forward, 2 for a bad spec or answers file.

    \b
    Examples:
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml --format json
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml --format tex -o marked.tex
    """
    solution, sheet = solve_spec(spec), read_answers(answers)
    try:
        report = check_answers(solution, sheet, tolerance)
    except SpecError as error:
        raise error.with_file(answers) from None
    write_output(render_report(report, fmt, color=output is None and sys.stdout.isatty()), output)
    if not report.all_right:
        sys.exit(EXIT_WRONG_ANSWER)
