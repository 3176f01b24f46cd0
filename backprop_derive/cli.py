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
from .render import render_files
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


def write_files(files: dict[Path, str | bytes]) -> None:
    """Write several files all whole or none at all: each to a temporary file beside it, then all
    renamed into place; on any error the temporaries and the files already placed are removed.
    """
    temporaries: dict[Path, Path] = {}
    placed: list[Path] = []
    target = next(iter(files))
    try:
        for target, content in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            temporaries[target] = Path(temporary)
            with os.fdopen(handle, "wb") as stream:
                stream.write(content if isinstance(content, bytes) else content.encode("utf-8"))
            # NOTE: mkstemp makes the file private (0600); an output file gets the usual permissions.
            os.chmod(temporary, 0o666 & ~_umask())
        for target, temporary in temporaries.items():
            os.replace(temporary, target)
            placed.append(target)
    except BaseException as error:
        for leftover in list(temporaries.values()) + placed:
            leftover.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise BackpropDeriveError(f"{target}: cannot write there ({error.strerror})") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_format(output: str | None) -> str:
    """Unicode text on a terminal, Markdown into a pipe; for ``-o``, the file's suffix decides."""
    if output:
        suffix = Path(output).suffix.lstrip(".").lower()
        suffix = SUFFIX_ALIASES.get(suffix, suffix)
        return suffix if suffix in SOLVE_FORMATS else "md"
    return "txt" if sys.stdout.isatty() else "md"


SUFFIX_ALIASES = {"markdown": "md", "latex": "tex", "htm": "html", "text": "txt"}
SOLVE_FORMATS = ("md", "tex", "txt", "html", "json", "pdf")
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
    solution = solve_spec(spec, steps=steps, notation=notation, precision=precision)
    if style == "matrix":
        layers_of(solution.network)  # NOTE: a graph that is not layers is a usage error in every format
    fmt = fmt or default_format(output)
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
