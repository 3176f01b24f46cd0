"""The command line: parses arguments, calls the library, turns its errors into one line and exit 2."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from . import __version__
from .api import solve as solve_spec
from .core.errors import BackpropDeriveError, OutputError, SpecError, UsageError
from .core.limits import MAX_VARIANTS
from .core.numbers import parse_number
from .core.rules import ACTIVATIONS, LOSSES
from .core.spec import input_name
from .core.update import OPTIMIZERS
from .jobs.output import is_stream, write_files
from .render.formats import FORMATS, format_of_path, formats_for
from .render.pdf import compile_pdf
from .render.render import render_files

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


SOLVE_FORMATS = formats_for("solve")
CHECK_FORMATS = formats_for("check")
GENERATE_FORMATS = formats_for("generate")
DERIVE_FORMATS = formats_for("derive")
#: The suffixes of the answers file ``names`` writes (YAML, as check reads it).
ANSWERS_SUFFIXES = (".yaml", ".yml")
BINARY_HINT = "PDF is binary and standard output is a terminal; write it to a file, e.g. -o solution.pdf"


def output_format(fmt: str | None, output: str | None, formats: tuple[str, ...], default: str) -> str:
    """The format to write: from ``-o``'s suffix (which ``--format`` may repeat, not contradict), else
    ``--format``, else ``default``.

    A stream without a suffix (``-o /dev/stdout``, a FIFO, a device) takes ``--format`` or the default.

    Raises:
        OutputError: an unknown suffix, one this command does not write, one that contradicts --format,
            or binary output (pdf) for a terminal.
    """
    chosen = fmt or default
    if output is not None:
        suffix = Path(output).suffix
        if suffix or not is_stream(output):
            by_suffix = format_of_path(output)
            if by_suffix not in formats:
                expected = " ".join(FORMATS[name].suffix for name in formats)
                raise OutputError(f"-o {output}: the suffix {suffix or '(none)'} names no format this command "
                                  f"writes; expected one of {expected}")
            if fmt is not None and fmt != by_suffix:
                raise OutputError(f"-o {output}: the suffix {suffix} says {by_suffix}, --format says {fmt}; "
                                  f"give one or make them agree")
            chosen = by_suffix
    if FORMATS[chosen].binary and output is None and sys.stdout.isatty():
        raise OutputError(BINARY_HINT)
    return chosen


def stdout_default() -> str:
    """The format on standard output: Unicode text on a terminal, Markdown into a pipe or a file."""
    return "txt" if sys.stdout.isatty() else "md"


def write_output(content: str | bytes | dict[Path, str | bytes], output: str | None, inputs: tuple[str, ...]) -> None:
    """Write to ``-o`` whole or not at all and say so on standard error, or print to standard output.

    Args:
        content: The text or bytes, or for ``-o`` every file by its path (a document and its figures).
        output: The ``-o`` path, or None for standard output.
        inputs: The files the command read; writing over one of them is refused.
    """
    if output is None:
        if isinstance(content, bytes):
            if sys.stdout.isatty():
                raise OutputError(BINARY_HINT)
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
        else:
            click.echo(content, nl=False)
        return
    files = content if isinstance(content, dict) else {Path(output): content}
    written = write_files(files, inputs)
    click.echo(f"Wrote {', '.join(map(str, written))}", err=True)


def rendered(render: Callable[[str], str], fmt: str) -> str | bytes:
    """``render(fmt)``; for pdf, its source format (tex) rendered and compiled."""
    return compile_pdf(render(FORMATS[fmt].source)) if fmt == "pdf" else render(fmt)


def check_stdin_once(*paths: str | None) -> None:
    """Standard input can be read once: at most one of ``paths`` may be ``-``."""
    if sum(path == "-" for path in paths) > 1:
        raise UsageError("only one input can be - (standard input), which is read once")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, package_name="backprop-derive")  # NOTE: works without pip install too
def main() -> None:
    """Backpropagation, worked step by step: from a small network's spec to the full solution.

    \b
    Example:
        backprop-derive solve examples/seed_relu.yaml
    """


@main.command()
@click.argument("spec", type=click.Path(allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(SOLVE_FORMATS),
              help="Output format (default: txt on a terminal, md in a pipe, or from -o's suffix).")
@click.option("-o", "--output", type=click.Path(),
              help="Write to this file instead of standard output (its suffix gives the format).")
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
    fmt = output_format(fmt, output, SOLVE_FORMATS, stdout_default())
    solution = solve_spec(spec, steps=steps, notation=notation, precision=precision, written=fmt != "json")
    if style == "matrix":
        from .render.matrix import matrix_layers

        matrix_layers(solution)  # NOTE: what matrix style cannot write is a usage error in every format
    if output and not FORMATS[fmt].binary:
        # NOTE: figures go beside a file as SVG; into a device or a FIFO (one stream), as Mermaid.
        content = render_files(solution, fmt, output, style=style, template_dir=template_dir,
                               figures_beside=not is_stream(output))
    else:
        content = rendered(functools.partial(solution.render, style=style, template_dir=template_dir), fmt)
    write_output(content, output, (spec,))


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
@click.argument("spec", type=click.Path(allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(DERIVE_FORMATS),
              help="Output format (default: txt on a terminal, md in a pipe, or from -o's suffix).")
@click.option("-o", "--output", type=click.Path(),
              help="Write to this file instead of standard output (its suffix gives the format).")
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
    from .jobs.general import general_solution

    fmt = output_format(fmt, output, DERIVE_FORMATS, stdout_default())
    general = general_solution(spec, notation=notation)
    write_output(rendered(general.render, fmt), output, (spec,))


@main.command()
@click.argument("spec", type=click.Path(allow_dash=True))
@click.argument("answers", type=click.Path(allow_dash=True))
@click.option("--tolerance", callback=_tolerance,
              help="Accept an answer within this absolute difference (default: by the digits written).")
@click.option("--min-digits", type=click.IntRange(1, 30), default=2, show_default=True,
              help="Fewer significant digits than this is imprecise, unless exactly the true value "
                   "(not with --tolerance).")
@click.option("--format", "fmt", type=click.Choice(CHECK_FORMATS),
              help="txt: a line per answer; md/tex/html/pdf: the worked solution with the answers marked; json "
                   "(default: txt, or from -o's suffix). With a folder: the format of the --sheets.")
@click.option("-o", "--output", type=click.Path(),
              help="Write to this file instead of standard output (its suffix gives the format; with a folder: "
                   "the gradebook, .csv or .json).")
@click.option("--sheets", type=click.Path(file_okay=False),
              help="With a folder of answer files: write each student's marked sheet into this folder.")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="With a folder: processes to spread the marking over (the results are the same).")
@reports_errors
def check(spec: str, answers: str, tolerance, min_digits: int, fmt: str | None, output: str | None,
          sheets: str | None, jobs: int) -> None:
    """Check a student's ANSWERS (YAML: quantity name -> number) against the solution of SPEC,
    or every answer file of a class's folder.

    Each answer is right, wrong (with the right value and the common mistake that explains it),
    carried forward (right from the student's own earlier wrong numbers), imprecise (too few
    digits), unanswered (left empty) or unknown (a name the solution lacks, with the closest
    names). Exit code 0 when every answer is right, 1 when any is not (or a file of the folder
    cannot be read), 2 for a bad spec, a missing answers file or folder, or bad usage.

    With a folder, -o writes the gradebook (a row per student: a verdict per quantity, the counts,
    the score) and --sheets DIR each student's marked sheet (DIR/<student>.<format>).

    \b
    Examples:
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml --format json
        backprop-derive check examples/seed_relu.yaml examples/answers/seed_relu.yaml -o marked.pdf
        backprop-derive check examples/seed_relu.yaml - < answers.yaml
        backprop-derive check examples/mazur_2_2_2.yaml examples/class/ -o grades.csv --sheets marked/ --format html
    """
    from .jobs.check import Checker, marked_sheet, read_answers, render_report

    check_stdin_once(spec, answers)
    if answers != "-" and Path(answers).is_dir():
        _check_class(spec, answers, tolerance, min_digits, fmt, output, sheets, jobs)
        return
    if sheets:
        raise click.UsageError("--sheets writes a sheet per student of a folder; ANSWERS is a file")
    fmt = output_format(fmt, output, CHECK_FORMATS, "txt")
    solution = solve_spec(spec, written=fmt not in ("txt", "json"))
    checker = _of_spec(spec, lambda: Checker(solution))
    sheet = read_answers(answers)
    try:
        report = checker.mark(sheet, tolerance, min_digits)
    except SpecError as error:
        raise error.with_file(input_name(answers)) from None
    color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    if fmt == "txt" and output is None:
        write_output(render_report(report, fmt, color=color), None, (spec, answers))
    else:
        write_output(marked_sheet(report, fmt), output, (spec, answers))
    if not report.all_right:
        sys.exit(EXIT_WRONG_ANSWER)


# --- check: a class's folder (kept apart from the rest of the CLI) ---------------------------


def _of_spec(spec: str, make):
    """``make()``; an error in the spec's answer_names (found once the solution is there) names the spec's file."""
    try:
        return make()
    except SpecError as error:
        raise (error if error.file else error.with_file(spec)) from None


def _check_format(output: str | None) -> str:
    """check's format from -o's suffix (txt without -o or for an unknown suffix)."""
    found = format_of_path(output) if output else None
    return found if found in CHECK_FORMATS else "txt"


def _check_class(spec: str, folder: str, tolerance, min_digits: int, fmt: str | None, output: str | None,
                 sheets: str | None, jobs: int) -> None:
    """Mark every answer file of ``folder``: the gradebook to -o (or standard output), the sheets to ``sheets``."""
    from .jobs.gradebook import ANSWER_SUFFIXES, GRADEBOOK_FORMATS, SHEET_FORMATS, ClassMarker, mark_class

    book_format = Path(output).suffix.lstrip(".").lower() if output else "csv"
    if book_format not in GRADEBOOK_FORMATS:
        raise click.UsageError(f"with a folder, -o writes the gradebook: a .csv or .json file, not {output}; "
                               "--sheets DIR writes each student's marked sheet")
    if output and Path(output).suffix.lower() in ANSWER_SUFFIXES and \
            Path(output).resolve().parent == Path(folder).resolve():
        # NOTE: it would overwrite a student's file, or be marked as one the next time.
        raise click.UsageError(f"{output} is in the folder of answer files; write the gradebook elsewhere")
    if fmt is not None and sheets is None:
        raise click.UsageError("with a folder, --format is the format of the marked sheets; add --sheets DIR")
    fmt = fmt or "md"
    if sheets is not None and fmt not in SHEET_FORMATS:
        raise click.UsageError(f"a marked sheet is {', '.join(SHEET_FORMATS)}, not {fmt}")
    if sheets is not None and fmt == "pdf":
        from .render.pdf import INSTALL_HINT, latex_available

        if not latex_available():
            raise OutputError(INSTALL_HINT)
    solution = solve_spec(spec)
    marker = _of_spec(spec, lambda: ClassMarker(solution, tolerance, min_digits, fmt if sheets is not None else None))
    book = mark_class(marker, folder, jobs, spec=spec)
    files = book.sheets(sheets, fmt) if sheets is not None else {}
    if output:
        files[Path(output)] = book.render(book_format)
    # NOTE: the gradebook or a sheet must never replace the spec or a student's file.
    write_files(files, (spec, *(str(path) for path in Path(folder).iterdir())))
    if not output:
        write_output(book.render(book_format), None, (spec,))
    click.echo(book.summary_line(), err=True)
    if files:
        # NOTE: name every file, or the gradebook and the sheets' folder when the sheets are many.
        shown = sorted(map(str, files)) if len(files) <= 3 else [
            *([str(output)] if output else []), f"{len(files) - bool(output)} marked sheets in {sheets}"]
        click.echo(f"Wrote {', '.join(shown)}.", err=True)
    if not book.all_right:
        sys.exit(EXIT_WRONG_ANSWER)


@main.command()
@click.argument("spec", type=click.Path(allow_dash=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@reports_errors
def names(spec: str, output: str | None) -> None:
    """Print a blank answers file for SPEC: every name check accepts, in the solution's order.

    Each name comes with the other spellings check also takes for it (in a comment); a course's
    own names (the spec's answer_names) are used first.

    \b
    Examples:
        backprop-derive names examples/seed_relu.yaml
        backprop-derive names examples/mazur_2_2_2.yaml -o answers.yaml
    """
    from .jobs.check import blank_answers

    if output is not None and not is_stream(output) and Path(output).suffix.lower() not in ANSWERS_SUFFIXES:
        raise UsageError(f"{output}: a blank answers file is YAML; name it with {' or '.join(ANSWERS_SUFFIXES)}")
    solution = solve_spec(spec)
    write_output(_of_spec(spec, lambda: blank_answers(solution)), output, (spec,))



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
@click.option("--loss", type=click.Choice([name for name, rule in LOSSES.items() if rule.targets]),
              default="half_squared_error", show_default=True,
              help="The loss function.")
@click.option("--bias/--no-bias", default=False, show_default=True, help="Give every neuron a bias.")
@click.option("--batch", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Examples per variant (more than one: a batch, the cost is their mean loss).")
@click.option("--optimizer", type=click.Choice(sorted(OPTIMIZERS)),
              help="Train with this torch.optim rule (its default fields); the questions ask for the state and "
                   "the parameters after two steps.")
@click.option("--from", "structure", type=click.Path(allow_dash=True),
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
@click.option("-o", "--output", "directory", type=click.Path(), default="variants",
              show_default=True, help="The folder to write into (created if missing).")
@click.option("--format", "fmt", type=click.Choice(GENERATE_FORMATS), default="md", show_default=True,
              help="Format of the problem sheets, solutions and key (pdf needs pdflatex); moodle or qti also "
                   "write quiz.moodle.xml or quiz.qti.zip for Moodle or Canvas (the rest then in Markdown).")
@click.option("--tolerance", "lms_tolerance", metavar="AMOUNT|PERCENT",
              help="For moodle and qti: how far an answer may be from the key, absolute (0.01) or relative (1%) "
                   "(default: 0.5 %, or one unit of a rounded answer's last digit, whichever is larger).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes to spread the work over (the files are the same whatever the number).")
@click.option("--force", is_flag=True, help="Overwrite files that exist (without it, nothing is written then).")
@click.pass_context
@reports_errors
def generate(context: click.Context, arch: str, activation: str, output_activation: str | None, loss: str,
             bias: bool, batch: int, optimizer: str | None, structure: str | None, count: int, seed: int,
             weight_range: str | None, decimals: int | None, notation: str | None, allow_dead_layer: bool,
             directory: str, fmt: str, lms_tolerance: str | None, jobs: int, force: bool) -> None:
    """Make homework variants with nice numbers: a problem sheet, a worked solution and a spec each,
    plus the class set (problems) and its answer key (answers). With --format moodle or qti, also
    the quiz a learning-management system imports: one question per variant, each number with its
    tolerance, the worked solution as feedback.

    \b
    Examples:
        backprop-derive generate --arch 2-2-1 --activation relu --count 30 --seed 7 -o hw/
        backprop-derive generate --from examples/seed_relu.yaml --count 30 --format moodle -o hw/
        backprop-derive generate --from examples/sigmoid_2_2_1.yaml --format qti --tolerance 1% -o hw/
        backprop-derive generate --from examples/mazur_2_2_2.yaml --count 30 -o hw/ --format pdf
        backprop-derive generate --arch 2-3-2 --activation sigmoid --bias --weights -1..1 --decimals 2
        backprop-derive generate --arch 2-2-1 --bias --optimizer adam --count 5 -o hw/
    """
    if structure is not None:
        given = [f"--{name.replace('_', '-')}" for name in BUILDING_OPTIONS
                 if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"--from keeps the spec's network; drop {', '.join(given)}")
    from .jobs.generate import generate as generate_variants
    from .jobs.generate import make_plan
    from .jobs.lms import QUIZ_FILES, parse_tolerance

    if lms_tolerance is not None and fmt not in QUIZ_FILES:
        raise click.UsageError("--tolerance is for the quiz of --format moodle or qti")
    tolerance = parse_tolerance(lms_tolerance) if lms_tolerance is not None else None
    inputs = (structure,) if structure else ()
    plan = make_plan(structure=structure, arch=arch, activation=activation, output_activation=output_activation,
                     loss=loss, bias=bias, batch=batch, weights=weight_range, decimals=decimals, notation=notation,
                     count=count, seed=seed, allow_dead=allow_dead_layer, optimizer=optimizer)
    if sys.stderr.isatty():
        with click.progressbar(length=count, label="Generating", file=sys.stderr) as bar:
            files = generate_variants(plan, directory, fmt, jobs=jobs, force=force, progress=lambda: bar.update(1),
                                      tolerance=tolerance, inputs=inputs)
    else:
        files = generate_variants(plan, directory, fmt, jobs=jobs, force=force, tolerance=tolerance, inputs=inputs)
    variants = f"{count} variant" + ("s" if count != 1 else "")
    click.echo(f"Wrote {variants} and their key: {len(files)} files in {directory}", err=True)
