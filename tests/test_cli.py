"""The command line through click's CliRunner: formats, -o, --steps, --notation, --precision, exit codes, help."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backprop_derive import __version__, solve
from backprop_derive.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = str(EXAMPLES / "seed_relu.yaml")
MAZUR = str(EXAMPLES / "mazur_2_2_2.yaml")
NO_LATEX = "pdflatex is not installed here (install TeX Live to run this test)"


def run(*arguments: str):
    return CliRunner().invoke(main, list(arguments), catch_exceptions=False)


# --- formats -----------------------------------------------------------------------------


def test_markdown_is_the_default_into_a_pipe() -> None:
    result = run("solve", SEED)
    assert result.exit_code == 0
    assert result.stdout.startswith("# The seed exercise")
    assert "$$" in result.stdout and r"\delta_{5}" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(("fmt", "start", "inside"), [
    ("md", "# The seed exercise", "## The network"),
    ("tex", r"\documentclass", r"\end{document}"),
    ("txt", "The seed exercise", "δ₅"),
])
def test_each_text_format(fmt: str, start: str, inside: str) -> None:
    result = run("solve", SEED, "--format", fmt)
    assert result.exit_code == 0
    assert result.stdout.lstrip().startswith(start)
    assert inside in result.stdout


def test_plain_text_has_no_markup() -> None:
    text = run("solve", SEED, "--format", "txt").stdout
    for markup in ("$", "\\frac", "\\left", "{", "}"):
        assert markup not in text, markup


def test_json_is_spec_4_1() -> None:
    data = json.loads(run("solve", SEED, "--format", "json").stdout)
    assert data["loss"] == 50
    assert data["quantities"]["y5"] == 10 and data["quantities"]["dL/dw13"] == 20
    assert data["updated"] == {"neurons": {"3": {"in": {"1": 0, "2": -1}}, "4": {"in": {"1": 1, "2": 4}},
                                           "5": {"in": {"3": -3, "4": -1}}}}
    assert "steps" not in data


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason=NO_LATEX)
def test_pdf_to_a_file_and_to_stdout(tmp_path: Path) -> None:
    target = tmp_path / "seed.pdf"
    assert run("solve", SEED, "-o", str(target)).exit_code == 0
    assert target.read_bytes().startswith(b"%PDF")
    result = run("solve", SEED, "--format", "pdf")
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"%PDF")


# --- -o ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt"), [
    ("out.md", "md"), ("out.markdown", "md"), ("out.tex", "tex"), ("out.latex", "tex"), ("out.txt", "txt"),
    ("out.json", "json"), ("out.HTML", "html"),
])
def test_o_writes_the_file_in_the_format_of_its_suffix(tmp_path: Path, name: str, fmt: str) -> None:
    target = tmp_path / name
    result = run("solve", SEED, "-o", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    if fmt == "md":
        # NOTE: Markdown written to a file links its figures as SVG files beside it (on stdout: Mermaid).
        assert target.read_text(encoding="utf-8") == solve(SEED).render("md", figure_stem=target.stem)
        figures = {f"{target.stem}.network.svg", f"{target.stem}.chain.svg"}
    else:
        assert target.read_text(encoding="utf-8") == run("solve", SEED, "--format", fmt).stdout
        figures = set()
    assert {path.name for path in tmp_path.iterdir()} == {name} | figures, "no temporary file left behind"


def test_format_may_repeat_the_suffix(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    assert run("solve", SEED, "--format", "json", "-o", str(target)).exit_code == 0
    assert json.loads(target.read_text())["loss"] == 50


def test_o_creates_missing_folders_and_replaces_an_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "seed.md"
    assert run("solve", SEED, "-o", str(target)).exit_code == 0
    first = target.read_text()
    assert run("solve", MAZUR, "-o", str(target)).exit_code == 0
    assert target.read_text() != first and "Mazur" in target.read_text()
    assert {path.name for path in target.parent.iterdir()} == {"seed.md", "seed.network.svg", "seed.chain.svg"}


# --- --steps -----------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "steps"), [(SEED, 3), (MAZUR, 4)])
def test_steps_in_json_each_step_starts_where_the_last_ended(spec: str, steps: int) -> None:
    data = json.loads(run("solve", spec, "--format", "json", "--steps", str(steps)).stdout)
    assert len(data["steps"]) == steps
    losses = [step["loss"] for step in data["steps"]]
    assert data["loss"] == losses[0]
    assert all(later <= earlier for earlier, later in zip(losses, losses[1:])) and losses[-1] < losses[0], losses
    for step, following in zip(data["steps"], data["steps"][1:]):
        assert set(step) >= {"loss", "quantities", "gradients", "updated"}
        for name, value in step["quantities"].items():
            if name.endswith("_new"):
                assert following["quantities"][name[:-len("_new")]] == pytest.approx(value, rel=1e-15), name


def test_steps_in_markdown_end_with_a_falling_loss_per_step_table() -> None:
    text = run("solve", MAZUR, "--steps", "3").stdout
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[-4:] == ["## Step 1", "## Step 2", "## Step 3", "## Loss per step"]
    rows = text.rstrip().splitlines()[-3:]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2", "3"]
    assert [row.split("|")[2].strip() for row in rows] == ["$0.298371$", "$0.291028$", "$0.283547$"]


def test_one_step_has_no_loss_table() -> None:
    assert "Loss per step" not in run("solve", MAZUR).stdout


# --- --notation and --precision ------------------------------------------------------------


@pytest.mark.parametrize(("notation", "names"), [
    (None, {"x3", "y5", "dL/dw13", "w13_new"}),
    ("indexed", {"x3", "y5", "dL/dw13", "w13_new"}),
    # NOTE: the seed graph is layered: its nodes keep their names and take the layer marks.
    ("ng", {"z[1]_3", "a[2]_5", "dJ/dw[1]_13", "w[1]_13_new"}),
    ("layered", {"h(1)_3", "E", "dE/dw(1)_13", "w(1)_13_new"}),
])
def test_notation_names_the_quantities(notation: str | None, names: set[str]) -> None:
    arguments = ["solve", SEED, "--format", "json"] + (["--notation", notation] if notation else [])
    data = json.loads(run(*arguments).stdout)
    assert data["notation"] == (notation or "indexed")
    assert names <= set(data["quantities"]), sorted(data["quantities"])


def test_notation_changes_the_printed_symbols() -> None:
    ng = run("solve", MAZUR).stdout
    assert "a_{1}^{[2]}" in ng and "w_{13}" not in ng
    indexed = run("solve", MAZUR, "--notation", "indexed").stdout
    assert "w_{13}" in indexed and "[2]" not in indexed


def test_precision_sets_the_digits_shown() -> None:
    default = run("solve", MAZUR).stdout
    three = run("solve", MAZUR, "--precision", "3").stdout
    assert "0.59327" in default and "0.59327" not in three
    assert "0.593" in three
    # Exact values stay exact whatever the precision.
    assert "0.05" in three and "0.35" in three


# --- exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize("arguments", [
    ["solve", SEED, "--format", "html5"],
    ["solve", SEED, "--steps", "0"],
    ["solve", SEED, "--precision", "31"],
    ["solve", SEED, "--notation", "greek"],
    ["solve"],
    ["solve", SEED, "--frobnicate"],
    ["unknown-command"],
])
def test_bad_usage_exits_2(arguments: list[str]) -> None:
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 2
    assert "Error" in result.stderr and "Traceback" not in result.output


def test_success_exits_0_and_an_invalid_spec_2(tmp_path: Path) -> None:
    assert run("solve", SEED).exit_code == 0
    spec = tmp_path / "bad.yaml"
    spec.write_text("inputs: [1]\n")
    result = CliRunner().invoke(main, ["solve", str(spec)])
    assert result.exit_code == 2 and result.stdout == ""


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


# --- help ----------------------------------------------------------------------------------


def _commands():
    return sorted(main.commands.items())


def test_there_is_a_solve_command() -> None:
    assert "solve" in main.commands


@pytest.mark.parametrize(("name", "command"), _commands())
def test_every_command_and_option_has_help(name: str, command: click.Command) -> None:
    assert command.help and command.short_help != "", name
    context = click.Context(command, info_name=name, parent=click.Context(main, info_name="backprop-derive"))
    for parameter in command.get_params(context):
        if isinstance(parameter, click.Option):
            assert parameter.help, f"{name} {parameter.opts} has no help text"
    result = run(name, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


@pytest.mark.parametrize(("name", "command"), _commands())
def test_every_command_docstring_carries_an_example(name: str, command: click.Command) -> None:
    assert "Example" in command.help, name
    examples = [line.strip() for line in command.help.splitlines() if line.strip().startswith(f"backprop-derive {name}")]
    assert examples, f"{name}: no example line `backprop-derive {name} ...`"
    assert examples[0] in run(name, "--help").stdout, "the example survives click's rewrapping"


def test_the_group_has_help_and_an_example() -> None:
    assert "backprop-derive solve" in main.help
    for parameter in main.get_params(click.Context(main)):
        if isinstance(parameter, click.Option):
            assert parameter.help, parameter.opts


def test_a_huge_value_is_printed_or_refused_cleanly(tmp_path: Path) -> None:
    # exp(10⁷) ≈ 10^4342944 is a finite number, beyond what decimal's default context prints.
    spec = tmp_path / "huge.yaml"
    spec.write_text('inputs: [1]\ntargets: [1]\nlayers: [{activation: {expr: "exp(x)"}, weights: [[10000000]]}]\n')
    result = CliRunner().invoke(main, ["solve", str(spec)])
    assert result.exit_code in (0, 2), f"crashed: {result.exception!r}"


def test_the_cli_offers_each_command_the_formats_of_the_one_format_table() -> None:
    from backprop_derive.render.formats import FORMATS, formats_for

    for name, command in main.commands.items():
        options = {option.name: option for option in command.params}
        if "fmt" in options:
            assert tuple(options["fmt"].type.choices) == formats_for(name), name
    templates = Path(__file__).resolve().parent.parent / "templates"
    for format_ in FORMATS.values():
        if format_.typography is not None:
            assert (templates / f"solution.{format_.source}.j2").is_file(), format_.name


