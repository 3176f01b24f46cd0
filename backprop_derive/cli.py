"""The command line: parses arguments, calls the library, turns its errors into one line and exit 2."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

import click

from . import __version__
from .errors import BackpropDeriveError
from .pdf import compile_pdf
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
@reports_errors
def solve(spec: str, fmt: str | None, output: str | None, steps: int, notation: str | None,
          precision: int | None) -> None:
    """Print the worked solution of SPEC: forward pass, loss, backward pass, updates.

    \b
    Examples:
        backprop-derive solve examples/seed_relu.yaml
        backprop-derive solve examples/seed_relu.yaml --format tex -o seed.tex
        backprop-derive solve examples/sigmoid_2_2_1.yaml --format json --steps 3
    """
    solution = solve_spec(spec, steps=steps, notation=notation, precision=precision)
    fmt = fmt or default_format(output)
    if fmt == "pdf":
        write_output(compile_pdf(solution.render("tex")), output)
    else:
        write_output(solution.render(fmt), output)
