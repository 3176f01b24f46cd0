"""The features together, as a user meets them: every command over every spec form and convention.

Each branch of the tool (file rules, numbers, presentation, LMS export, class marking, textbook
conventions, computational graphs) was tested alone; here their cross product is driven through
the CLI. Every cell asserts: no traceback, the exit code SPEC §4 gives, one clear line where a
combination is refused, and one property that the output is the right one (JSON parses and agrees
with the other formats, check takes every name solve and names give, …).
"""

from __future__ import annotations

import csv
import decimal
import html
import io
import json
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from backprop_derive.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: A small spec for each convention of SPEC §2.7, and a graph with targets, a loss and a learning rate.
CONVENTIONS = {
    "error_term": """\
inputs: {1: 1, 2: 0.5}
neurons:
  3: {activation: sigmoid, in: {1: 0.2, 2: -0.4}, bias: 0.1}
  4: {activation: sigmoid, in: {3: 0.7}, bias: -0.2}
targets: {4: 1}
learning_rate: 0.5
options: {delta: error_term}
""",
    "threshold": """\
inputs: {1: 1, 2: 1}
neurons:
  3: {activation: sigmoid, in: {1: 0.5, 2: 0.4}, threshold: 0.8}
  4: {activation: sigmoid, in: {3: -1.2}, threshold: 0.3}
targets: {4: 0}
learning_rate: 0.1
""",
    "input_by_unit": """\
inputs: [1, 2]
targets: [1, 0]
weights_layout: input_by_unit
layers:
  - {activation: relu, weights: [[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]], biases: [0, 0.1, 0.2]}
  - {activation: sigmoid, weights: [[0.2, -0.1], [0.5, 0.4], [0.1, 0.3]]}
learning_rate: 0.5
""",
    "target_classes": """\
inputs: [[1, 2], [0.5, -1]]
target_classes: [2, 0]
layers:
  - {activation: relu, weights: [[0.1, 0.2], [0.4, -0.5]]}
  - {activation: softmax, weights: [[0.2, -0.1], [0.5, 0.4], [0.1, 0.3]]}
loss: cross_entropy
learning_rate: 0.5
""",
    "loss_none": """\
inputs: {1: 2, 2: 0}
neurons:
  3: {activation: tanh, in: {1: -3, 2: 1}, bias: 0.5}
  4: {activation: sigmoid, in: {3: 2, 1: 1}}
loss: none
learning_rate: 0.1
""",
    "input_gradients": """\
inputs: [1, -2]
targets: [0.5]
layers:
  - {activation: tanh, weights: [[0.3, -0.2], [0.1, 0.4]], biases: [0.1, 0]}
  - {activation: identity, weights: [[1, -1]]}
learning_rate: 0.1
options: {input_gradients: true}
""",
    "rounding": """\
inputs: [1, 0.5]
targets: [1]
layers:
  - {activation: sigmoid, weights: [[0.5, -0.25], [0.3, 0.8]], biases: [0.1, -0.2]}
  - {activation: sigmoid, weights: [[1.2, -0.6]]}
learning_rate: 0.5
options: {rounding: {significant: 3}}
""",
    "graph_loss": """\
title: A neuron as a graph, with a loss and an update
inputs: {x: 2, y: -1}
parameters: {w: 0.5, b: 0.25}
graph:
  z: w * x + b * y
  f: sigmoid(z)
targets: {f: 1}
loss: half_squared_error
learning_rate: 0.5
""",
}

_FOLDER = tempfile.TemporaryDirectory()
SPECS: dict[str, Path] = {path.stem: path for path in sorted(EXAMPLES.glob("*.yaml"))}
for _name, _text in CONVENTIONS.items():
    SPECS[_name] = Path(_FOLDER.name) / f"{_name}.yaml"
    SPECS[_name].write_text(_text, encoding="utf-8")
NAMES = sorted(SPECS)


def _document(name: str) -> dict:
    return yaml.safe_load(SPECS[name].read_text(encoding="utf-8"))


GRAPHS = {name for name in NAMES if "graph" in _document(name)}
#: Networks with layer types (SPEC §2.5): named layer by layer, like a circuit refusing --notation.
LAYERED = {name for name in NAMES if any(isinstance(layer, dict) and "type" in layer
                                         for layer in _document(name).get("layers") or [])}
WITH_RATE = {name for name in NAMES if "learning_rate" in _document(name)}
#: What --style matrix cannot write, and the words its one line says why with.
NOT_MATRIX = {
    **{name: "a circuit is solved gate by gate" for name in GRAPHS},
    **{name: "solved layer by layer" for name in LAYERED},
    "custom_activation": "skip connection", "loss_none": "skip connection",
    "seed_relu": "", "han_kamber_9_1": "error terms", "negnevitsky_xor": "error terms",
    "error_term": "error terms", "threshold": "thresholds", "input_gradients": "input gradients",
}
# NOTE: the seed exercise's named neurons are fully connected layers: matrix style writes them.
NOT_MATRIX.pop("seed_relu")


def run(*arguments, input: str | None = None, code: int | tuple[int, ...] = 0):
    """The CLI's result, after asserting no traceback and the exit code(s) ``code``."""
    result = CliRunner().invoke(main, [str(argument) for argument in arguments], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{' '.join(map(str, arguments))} raised {result.exception!r}")
    assert "Traceback" not in result.output
    codes = code if isinstance(code, tuple) else (code,)
    assert result.exit_code in codes, f"{' '.join(map(str, arguments))} exited {result.exit_code}: {result.output}"
    return result


def refused(result, *words: str) -> None:
    """A refusal: exit 2, one line on standard error that says why, nothing on standard output."""
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert result.stdout == ""


@cache
def solved(name: str) -> dict:
    """``solve --format json`` of a spec."""
    return json.loads(run("solve", SPECS[name], "--format", "json").output)


def shown(value: float | int) -> str | None:
    """How a text format shows a non-negative value at 6 significant digits (None where it may not: an exact fraction)."""
    value = abs(value)
    if isinstance(value, int):
        return str(value)
    text = f"{value:.6g}"
    return None if "e" in text else text


# --- solve -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "tex", "txt", "html", "json"])
@pytest.mark.parametrize("name", NAMES)
def test_solve_in_every_format_agrees_with_json(name: str, fmt: str) -> None:
    output = run("solve", SPECS[name], "--format", fmt).output
    data = solved(name)
    if fmt == "json":
        assert json.loads(output) == data
        return
    exact = data.get("exact", {})
    checked = [key for key, value in data["quantities"].items()
               if shown(value) is not None and not ("/" in exact.get(key, "") and "rounding" not in name)]
    assert checked
    for key in checked:
        assert shown(data["quantities"][key]) in output, f"{key} = {data['quantities'][key]} is not in the {fmt}"


@pytest.mark.parametrize("name", NAMES)
def test_solve_several_steps(name: str) -> None:
    result = run("solve", SPECS[name], "--steps", "2", "--format", "json", code=(0, 2))
    if name not in WITH_RATE:
        refused(result, "learning_rate")
        return
    steps = json.loads(result.output)["steps"]
    assert len(steps) == 2 and steps[0]["loss"] == solved(name)["loss"]
    # The second step starts from the first's updated parameters.
    first, second = steps[0]["quantities"], steps[1]["quantities"]
    carried = [key for key in first if key.endswith("_new") and key.removesuffix("_new") in second]
    assert carried and all(second[key.removesuffix("_new")] == first[key] for key in carried)
    text = run("solve", SPECS[name], "--steps", "3", "--format", "md").output
    assert "Step 3" in text


@pytest.mark.parametrize("name", NAMES)
def test_solve_precision(name: str) -> None:
    output = run("solve", SPECS[name], "--precision", "3", "--format", "json").output
    assert json.loads(output)["quantities"] == solved(name)["quantities"]  # NOTE: precision is shown digits only
    run("solve", SPECS[name], "--precision", "3", "--format", "txt")


@pytest.mark.parametrize("notation", ["indexed", "layered", "ng"])
@pytest.mark.parametrize("name", NAMES)
def test_solve_notation(name: str, notation: str) -> None:
    result = run("solve", SPECS[name], "--notation", notation, "--format", "json", code=(0, 2))
    if name in GRAPHS | LAYERED:
        refused(result, "--notation", "own names")
        return
    data = json.loads(result.output)
    assert data["notation"] == notation and data["loss"] == solved(name)["loss"]
    assert data["gradients"] == solved(name)["gradients"]


@pytest.mark.parametrize("fmt", ["md", "json"])
@pytest.mark.parametrize("name", NAMES)
def test_solve_matrix_style_is_the_same_usage_error_in_every_format(name: str, fmt: str) -> None:
    result = run("solve", SPECS[name], "--style", "matrix", "--format", fmt, code=(0, 2))
    if name in NOT_MATRIX:
        refused(result, "--style matrix", NOT_MATRIX[name])
    elif fmt == "json":
        assert json.loads(result.output) == solved(name)
    else:
        assert "Backward pass" in result.output


@pytest.mark.parametrize("name", NAMES)
def test_solve_from_standard_input(name: str) -> None:
    data = json.loads(run("solve", "-", "--format", "json", input=SPECS[name].read_text(encoding="utf-8")).output)
    assert data["quantities"] == solved(name)["quantities"]


@pytest.mark.parametrize("suffix", ["md", "tex", "txt", "html", "json"])
@pytest.mark.parametrize("name", ["seed_relu", "mazur_2_2_2", "han_kamber_9_1", "sigmoid_neuron_circuit", "rounding"])
def test_solve_to_a_file_by_its_suffix(name: str, suffix: str, tmp_path: Path) -> None:
    target = tmp_path / f"solution.{suffix}"
    result = run("solve", SPECS[name], "-o", target)
    assert result.stdout == "" and str(target) in result.stderr
    text = target.read_text(encoding="utf-8")
    if suffix == "json":
        assert json.loads(text) == solved(name)
    assert re.search(r"\.svg\b", text) if suffix == "md" else True  # NOTE: md's figures go beside it as SVG
    if suffix == "md":
        assert list(tmp_path.glob("*.svg"))


# --- derive ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "tex", "txt", "html", "json"])
@pytest.mark.parametrize("name", NAMES)
def test_derive_in_every_format(name: str, fmt: str) -> None:
    output = run("derive", SPECS[name], "--format", fmt).output
    if fmt == "json":
        formulas = json.loads(output)["formulas"]
        # Every update solve computes has its formula (else every gradient: a circuit without a learning rate).
        # NOTE: a batch's formulas are one example's (dL/dw, not dJ/dw); its updates keep their names.
        quantities = solved(name)["quantities"]
        expected = [key for key in quantities if key.endswith("_new")] or [key for key in quantities if "/d" in key]
        assert expected and set(expected) <= set(formulas)
    elif fmt == "html":
        assert output.startswith("<!DOCTYPE html>") and "<math" in output
    else:
        assert "general formulas" in output


@pytest.mark.parametrize("notation", ["indexed", "layered", "ng"])
@pytest.mark.parametrize("name", NAMES)
def test_derive_notation(name: str, notation: str) -> None:
    result = run("derive", SPECS[name], "--notation", notation, "--format", "json", code=(0, 2))
    if name in GRAPHS | LAYERED:
        refused(result, "--notation")
    else:
        assert json.loads(result.output)["notation"] == notation


# --- names and check -----------------------------------------------------------------------


def blank_names(text: str) -> list[str]:
    """The names a blank answers file asks for (its lines that are not comments)."""
    return [yaml.safe_load(line.split("   #")[0]).popitem()[0] for line in text.splitlines()
            if line and not line.startswith("#")]


@cache
def names_of(name: str) -> str:
    return run("names", SPECS[name]).output


@pytest.mark.parametrize("name", NAMES)
def test_names_asks_for_every_computed_quantity_and_check_takes_each(name: str, tmp_path: Path) -> None:
    text = names_of(name)
    asked = blank_names(text)
    assert asked
    # An updated parameter is computed, never given: names asks for it (a graph's too).
    updated = [key for key in solved(name)["quantities"] if key.endswith("_new")]
    assert all(f"# {key}:" not in text for key in updated)
    blank = tmp_path / "blank.yaml"
    blank.write_text(text, encoding="utf-8")
    report = json.loads(run("check", SPECS[name], blank, "--format", "json", code=1).output)
    assert {answer["verdict"] for answer in report["answers"]} == {"unanswered"}
    assert len(report["answers"]) == len(asked)
    # The same names with the right numbers are all right.
    right = tmp_path / "right.yaml"
    right.write_text(yaml.safe_dump({answer["name"]: answer["expected"] for answer in report["answers"]},
                                    allow_unicode=True), encoding="utf-8")
    report = json.loads(run("check", SPECS[name], right, "--format", "json").output)
    assert report["summary"]["right"] == len(asked)
    assert run("names", "-", input=SPECS[name].read_text(encoding="utf-8")).output == text


def right_sheet(name: str) -> str:
    """Every quantity of ``solve --format json`` with its value: the names check must take (SPEC §4.2)."""
    return yaml.safe_dump(solved(name)["quantities"], allow_unicode=True)


def wrong_sheet(name: str) -> tuple[str, str]:
    """The right sheet with one gradient doubled (plus one): the wrong name and the sheet."""
    quantities = dict(solved(name)["quantities"])
    wrong = next(key for key in reversed(quantities) if "/d" in key and quantities[key])
    quantities[wrong] = quantities[wrong] * 2 + 1
    return wrong, yaml.safe_dump(quantities, allow_unicode=True)


@pytest.mark.parametrize("fmt", ["txt", "json", "md", "html", "tex"])
@pytest.mark.parametrize("name", NAMES)
def test_check_takes_every_name_json_gives(name: str, fmt: str, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(right_sheet(name), encoding="utf-8")
    output = run("check", SPECS[name], answers, "--format", fmt).output
    if fmt == "json":
        report = json.loads(output)
        assert {answer["verdict"] for answer in report["answers"]} == {"right"}
        # The numbers check marks against are solve's own.
        assert {answer["name"]: answer["expected"] for answer in report["answers"]} == solved(name)["quantities"]
    wrong, sheet = wrong_sheet(name)
    answers.write_text(sheet, encoding="utf-8")
    output = run("check", SPECS[name], answers, "--format", fmt, code=1).output
    if fmt == "json":
        verdicts = {answer["name"]: answer["verdict"] for answer in json.loads(output)["answers"]}
        assert verdicts[wrong] == "wrong"


@pytest.mark.parametrize("suffix", ["txt", "json", "md", "html", "tex"])
@pytest.mark.parametrize("name", ["seed_relu", "mazur_2_2_2", "negnevitsky_xor", "tanh_neuron", "graph_loss",
                                  "target_classes"])
def test_check_to_a_file_by_its_suffix(name: str, suffix: str, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(right_sheet(name), encoding="utf-8")
    target = tmp_path / f"marked.{suffix}"
    result = run("check", SPECS[name], answers, "-o", target)
    assert result.stdout == "" and target.exists()
    if suffix == "json":
        assert json.loads(target.read_text(encoding="utf-8"))["summary"]["wrong"] == 0


@pytest.mark.parametrize("name", NAMES)
def test_check_from_standard_input_with_digits_and_tolerance(name: str) -> None:
    report = json.loads(run("check", SPECS[name], "-", "--format", "json", input=right_sheet(name)).output)
    assert report["summary"]["wrong"] == 0
    run("check", SPECS[name], "-", "--min-digits", "3", input=right_sheet(name))
    _, sheet = wrong_sheet(name)
    run("check", SPECS[name], "-", "--tolerance", "0.001", input=sheet, code=1)


CLASS_SPECS = ["mazur_2_2_2", "han_kamber_9_1", "graph_loss", "sigmoid_neuron_circuit", "rounding", "target_classes"]


def class_folder(name: str, folder: Path) -> int:
    """A class of four: right, one wrong, blank, an unreadable file. Returns how many files are readable."""
    folder.mkdir()
    (folder / "right.yaml").write_text(right_sheet(name), encoding="utf-8")
    (folder / "wrong.yaml").write_text(wrong_sheet(name)[1], encoding="utf-8")
    (folder / "blank.yaml").write_text(names_of(name), encoding="utf-8")
    (folder / "broken.yaml").write_text("x: [", encoding="utf-8")
    return 3


@pytest.mark.parametrize("fmt", ["md", "html", "tex"])
@pytest.mark.parametrize("name", CLASS_SPECS)
def test_check_a_class_folder_with_sheets(name: str, fmt: str, tmp_path: Path) -> None:
    readable = class_folder(name, tmp_path / "class")
    run("check", SPECS[name], tmp_path / "class", "-o", tmp_path / "grades.csv", "--sheets", tmp_path / "sheets",
        "--format", fmt, code=1)
    rows = {row["file"]: row for row in csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text()))}
    assert set(rows) == {"right.yaml", "wrong.yaml", "blank.yaml", "broken.yaml"}
    assert rows["right.yaml"]["wrong"] == "0" and rows["wrong.yaml"]["wrong"] == "1" and rows["broken.yaml"]["error"]
    assert len(list((tmp_path / "sheets").glob(f"*.{fmt}"))) == readable


@pytest.mark.parametrize("name", ["mazur_2_2_2", "graph_loss"])
def test_check_a_class_folder_in_two_processes(name: str, tmp_path: Path) -> None:
    class_folder(name, tmp_path / "class")
    one = run("check", SPECS[name], tmp_path / "class", "--min-digits", "3", code=1).output
    two = run("check", SPECS[name], tmp_path / "class", "--min-digits", "3", "--jobs", "2", code=1).output
    assert one == two


# --- generate ----------------------------------------------------------------------------


QUIZ = {"moodle": "quiz.moodle.xml", "qti": "quiz.qti.zip"}


@pytest.mark.parametrize("fmt", ["md", "tex", "moodle", "qti"])
@pytest.mark.parametrize("name", NAMES)
def test_generate_from_every_spec(name: str, fmt: str, tmp_path: Path) -> None:
    run("generate", "--from", SPECS[name], "--count", "2", "--format", fmt, "-o", tmp_path / "out")
    suffix = "md" if fmt in QUIZ else fmt
    for index in (1, 2):
        variant = tmp_path / "out" / f"variant-{index}"
        assert (variant / f"problem.{suffix}").exists() and (variant / f"solution.{suffix}").exists()
        run("solve", variant / "spec.yaml", "--format", "json")
    if fmt == "moodle":
        # Every answer of variant 1's question is a number solve gives for variant 1, within its tolerance.
        parts = cloze(tmp_path / "out" / QUIZ[fmt], question=1)
        values = [decimal.Decimal(repr(value)) for value in json.loads(
            run("solve", tmp_path / "out" / "variant-1" / "spec.yaml", "--format", "json").output)["quantities"].values()]
        assert parts and all(any(abs(value - answer) <= tolerance for value in values) for answer, tolerance in parts)
    if fmt == "qti":
        assert (tmp_path / "out" / QUIZ[fmt]).stat().st_size > 0


def cloze(path: Path, question: int | None = None) -> list[tuple[decimal.Decimal, decimal.Decimal]]:
    """Each (answer, tolerance) of a Moodle quiz (of its ``question``-th question only, from 1)."""
    text = html.unescape(path.read_text(encoding="utf-8"))
    if question is not None:
        text = text.split('<question type="cloze">')[question]
    return [(decimal.Decimal(answer), decimal.Decimal(tolerance))
            for answer, tolerance in re.findall(r"\{1:NUMERICAL:=([-0-9.]+):([0-9.]+)\}", text)]


def test_a_quiz_of_rounded_lines_forgives_one_unit_of_the_digit_they_are_rounded_to(tmp_path: Path) -> None:
    # Han & Kamber round the forward pass to 3 decimals and the backward pass to 4 (options.rounding):
    # a key of 0.0001 is a rounded line, and 0.5 % of it would refuse the book's own neighbour 0.0002.
    run("generate", "--from", SPECS["han_kamber_9_1"], "--count", "2", "--format", "moodle", "-o", tmp_path)
    parts = cloze(tmp_path / "quiz.moodle.xml")
    assert parts and all(tolerance >= decimal.Decimal("0.0001") for _, tolerance in parts)
    assert all(tolerance < max(abs(answer), decimal.Decimal("0.001")) for answer, tolerance in parts)


def test_generate_in_two_processes_writes_the_same_files(tmp_path: Path) -> None:
    for jobs in ("1", "2"):
        run("generate", "--from", SPECS["negnevitsky_xor"], "--count", "2", "--format", "qti", "--jobs", jobs,
            "-o", tmp_path / jobs)
    for path in (tmp_path / "1").rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "2" / path.relative_to(tmp_path / "1")).read_bytes()


# --- a graph's options and pdf -------------------------------------------------------------


@pytest.mark.parametrize(("value", "code"), [("true", 0), ("false", 2)])
def test_a_graph_always_gives_input_gradients(value: str, code: int) -> None:
    spec = f"inputs: {{x: 2}}\nparameters: {{w: 0.5}}\ngraph: {{f: w * x}}\noptions: {{input_gradients: {value}}}\n"
    result = run("solve", "-", "--format", "json", input=spec, code=code)
    if code:
        refused(result, "options.input_gradients", "always")
    else:
        assert json.loads(result.output)["gradients"]["inputs"] == {"x": 0.5}


pdf = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")


@pdf
@pytest.mark.parametrize("command", ["solve", "derive"])
def test_a_graph_and_a_textbook_convention_compile_to_pdf(command: str, tmp_path: Path) -> None:
    for name in ("graph_loss", "han_kamber_9_1"):
        run(command, SPECS[name], "-o", tmp_path / f"{name}.pdf")
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")


@pdf
def test_a_class_of_a_graph_gets_pdf_sheets(tmp_path: Path) -> None:
    readable = class_folder("graph_loss", tmp_path / "class")
    run("check", SPECS["graph_loss"], tmp_path / "class", "--sheets", tmp_path / "sheets", "--format", "pdf", code=1)
    sheets = list((tmp_path / "sheets").glob("*.pdf"))
    assert len(sheets) == readable and all(sheet.read_bytes().startswith(b"%PDF") for sheet in sheets)


def test_loss_none_asks_for_the_output_once(tmp_path: Path) -> None:
    # loss: none differentiates the output itself: the sheet and the quiz ask for it once, not again as a loss.
    run("generate", "--from", SPECS["loss_none"], "--count", "1", "--format", "moodle", "-o", tmp_path)
    problem = (tmp_path / "variant-1" / "problem.md").read_text(encoding="utf-8")
    assert "The loss" not in problem and "The gradient of the output" in problem
    variant = json.loads(run("solve", tmp_path / "variant-1" / "spec.yaml", "--format", "json").output)
    parameters = [key for key in variant["quantities"] if key.endswith("_new")]
    assert len(cloze(tmp_path / "quiz.moodle.xml")) == 1 + 2 * len(parameters)
