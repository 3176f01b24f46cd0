"""`generate`: nice, distinct, reproducible variants whose keys are the solver's own answers."""

from __future__ import annotations

import decimal
import json
import shutil
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.core.errors import BackpropDeriveError
from backprop_derive.core.spec import read_document
from backprop_derive.core.steps import Quantity
from backprop_derive.jobs.generate import (
    EXACT_RATES,
    Grid,
    Plan,
    architecture_spec,
    draw_specs,
    key_values,
    make_plan,
    spec_yaml,
)
from backprop_derive.render.render import json_number
from backprop_derive.render.typography import Latex

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NO_LATEX = "pdflatex is not installed (TeX Live); the LaTeX of the sheets cannot be compiled here"


def run(*arguments: str):
    return CliRunner().invoke(main, ["generate", *arguments])


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def places(value: sympy.Rational) -> int | None:
    """Decimal places of an exact terminating decimal; None when it does not terminate."""
    denominator, count = int(value.q), 0
    while denominator % 10 == 0:
        denominator, count = denominator // 10, count + 1
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator, count = denominator // factor, count + 1
    return count if denominator == 1 else None


# --- reproducible, refusing to overwrite -------------------------------------------------


def test_same_options_and_seed_give_byte_identical_files_whatever_the_jobs(tmp_path):
    for folder, jobs in (("one", "1"), ("two", "1"), ("parallel", "2")):
        result = run("--count", "3", "--seed", "5", "--bias", "-o", str(tmp_path / folder), "--jobs", jobs)
        assert result.exit_code == 0, result.output
    first = files_of(tmp_path / "one")
    assert len(first) == 3 * 3 + 2
    assert files_of(tmp_path / "two") == first
    assert files_of(tmp_path / "parallel") == first
    other = run("--count", "3", "--seed", "6", "--bias", "-o", str(tmp_path / "other"))
    assert files_of(tmp_path / "other")["variant-1/spec.yaml"] != first["variant-1/spec.yaml"], other.output


def test_existing_files_are_never_overwritten_without_force(tmp_path):
    folder = tmp_path / "hw"
    assert run("--count", "2", "-o", str(folder)).exit_code == 0
    before = files_of(folder)
    refused = run("--count", "2", "--seed", "9", "-o", str(folder))
    assert refused.exit_code == 2
    assert "already exists" in refused.output and "--force" in refused.output
    assert files_of(folder) == before
    forced = run("--count", "2", "--seed", "9", "-o", str(folder), "--force")
    assert forced.exit_code == 0, forced.output
    assert files_of(folder)["variant-1/spec.yaml"] != before["variant-1/spec.yaml"]


def test_one_existing_file_stops_the_run_before_anything_is_written(tmp_path):
    folder = tmp_path / "hw"
    folder.mkdir()
    (folder / "answers.md").write_text("my own notes")
    refused = run("--count", "2", "-o", str(folder))
    assert refused.exit_code == 2 and "answers.md already exists" in refused.output
    assert files_of(folder) == {"answers.md": b"my own notes"}


def test_pdf_without_pdflatex_is_one_clear_message_and_nothing_written(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = run("--count", "1", "--format", "pdf", "-o", str(tmp_path / "hw"))
    assert result.exit_code == 2
    assert result.output.count("Error:") == 1 and "install TeX Live" in result.output
    assert not (tmp_path / "hw").exists()


def test_no_progress_bar_when_standard_error_is_not_a_terminal(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--count", "2", "-o", str(tmp_path)])
    assert result.exit_code == 0
    assert "Generating" not in result.stderr and result.stdout == ""


# --- nice numbers, worth solving, distinct -----------------------------------------------


def relu_hidden_layers(solution):
    network = solution.network
    return [layer for layer in network.layers if not set(layer) & set(network.outputs)]


@pytest.fixture(scope="module")
def relu_specs():
    """Three hundred variants of the default 2-2-1 ReLU exercise."""
    return draw_specs(make_plan(arch="2-2-1", count=300, seed=3))


@pytest.mark.parametrize("options, budget", [
    (None, 2),
    (dict(arch="2-2-1", bias=True, batch=2, count=60, seed=4), 2),
    (dict(arch="2-2-1", bias=True, decimals=1, count=60, seed=5), 3),
    (dict(arch="3-2-2", activation="identity", weights="-2..2", count=60, seed=6), 2),
])
def test_relu_and_identity_variants_are_exact_short_decimals_worth_solving(relu_specs, options, budget):
    for spec in draw_specs(make_plan(**options)) if options else relu_specs:
        solution = solve(spec)
        values = solution.values[0]
        assert all(value.is_Rational and places(value) is not None and places(value) <= budget
                   for value in values.values()), spec
        assert decimal.Decimal(str(spec["learning_rate"])) in EXACT_RATES
        gradients = [values[gradient.result] for gradient in solution.derivation.gradients]
        assert any(gradient != 0 for gradient in gradients), spec
        examples = range(len(solution.network.examples))
        for neuron in solution.network.neurons:
            if neuron.activation.name == "relu":
                assert all(values[Quantity("pre", neuron, example)] != 0 for example in examples), "a kink"
        for layer in relu_hidden_layers(solution):
            if all(neuron.activation.name == "relu" for neuron in layer):
                assert any(values[Quantity("out", neuron, example)] != 0 for neuron in layer for example in examples)


def test_drawn_numbers_lie_on_the_grid_and_targets_within_the_output_range():
    plan = make_plan(arch="2-3-2", activation="sigmoid", bias=True, count=60, seed=2)
    grid = {decimal.Decimal(step) / 10 for step in range(-10, 11) if step}
    for spec in draw_specs(plan):
        numbers = [*spec["inputs"]] + [number for layer in spec["layers"] for row in layer["weights"]
                                       for number in row] + [number for layer in spec["layers"]
                                                             for number in layer["biases"]]
        assert {decimal.Decimal(str(number)) for number in numbers} <= grid
        assert all(0 <= target <= 1 for target in spec["targets"])
        assert decimal.Decimal(str(spec["learning_rate"])) in {decimal.Decimal("0.1"), decimal.Decimal("0.5"), 1}


def test_variants_are_distinct_even_where_the_grid_is_small():
    plan = make_plan(arch="1-1", activation="identity", weights="-1..1", count=8, seed=0)
    specs = draw_specs(plan)
    numbers = [(spec["inputs"][0], spec["layers"][0]["weights"][0][0], spec["targets"][0]) for spec in specs]
    assert len(set(numbers)) == 8


def test_hundreds_of_variants_are_distinct(relu_specs):
    numbers = [json.dumps({key: value for key, value in spec.items() if key not in ("title", "learning_rate")},
                          default=str) for spec in relu_specs]
    assert len(set(numbers)) == len(relu_specs) == 300


def test_asking_for_more_variants_than_the_grid_holds_is_a_clear_error():
    plan = make_plan(arch="1-1", activation="identity", weights="-1..1", count=40, seed=0)
    with pytest.raises(BackpropDeriveError, match="different variants"):
        draw_specs(plan)


def test_variant_k_is_the_same_whatever_the_count():
    assert draw_specs(make_plan(count=5, seed=8))[3] == draw_specs(make_plan(count=9, seed=8))[3]


# --- the files: specs that solve, keys that are solve's answers, problems without answers --


@pytest.fixture(scope="module")
def homework(tmp_path_factory):
    """Two sets: the ReLU default, and a sigmoid batch with biases."""
    folders = {}
    for name, options in {"relu": ["--count", "4", "--seed", "11"],
                          "sigmoid": ["--arch", "2-3-2", "--activation", "sigmoid", "--bias", "--batch", "2",
                                      "--count", "3", "--seed", "12"]}.items():
        folder = tmp_path_factory.mktemp(name)
        result = run(*options, "-o", str(folder), "--force")
        assert result.exit_code == 0, result.output
        folders[name] = folder
    return folders


def variant_sections(text: str) -> list[str]:
    return text.split("\n## Variant ")[1:]


@pytest.mark.parametrize("kind", ["relu", "sigmoid"])
def test_every_key_is_what_solve_prints_for_that_spec(homework, kind):
    folder = homework[kind]
    sections = variant_sections((folder / "answers.md").read_text())
    assert len(sections) == len(list(folder.glob("variant-*")))
    for index, section in enumerate(sections, start=1):
        spec = folder / f"variant-{index}" / "spec.yaml"
        result = CliRunner().invoke(main, ["solve", str(spec), "--format", "json"])
        assert result.exit_code == 0, result.output
        printed = json.loads(result.output)
        solution = solve(spec)
        assert {name: json_number(value, name) for name, value in key_values(solution).items()} == {
            name: printed["quantities"][name] for name in key_values(solution)}
        typography, notation = Latex(solution.precision), solution.notation

        def shown(quantity):
            name = notation.ascii(quantity)
            exact = printed["exact"].get(name)
            value = sympy.Rational(exact) if exact else sympy.Float(printed["quantities"][name], 30)
            return typography.number(value)

        derivation = solution.derivation
        assert f"${notation.tex(derivation.cost)} = {shown(derivation.cost)}$" in section
        for gradient, update in zip(derivation.gradients, derivation.updates):
            parameter = notation.tex(Quantity("param", parameter=gradient.parameter))
            assert f"| ${parameter}$ | ${shown(gradient.result)}$ | ${shown(update.result)}$ |" in section


@pytest.mark.parametrize("kind", ["relu", "sigmoid"])
def test_problem_sheets_ask_without_answering(homework, kind):
    folder = homework[kind]
    class_set = (folder / "problems.md").read_text()
    for variant in sorted(folder.glob("variant-*")):
        problem = (variant / "problem.md").read_text()
        solution = solve(variant / "spec.yaml")
        derivation, notation = solution.derivation, solution.notation
        asked = [derivation.cost, *(g.result for g in derivation.gradients), *(u.result for u in derivation.updates)]
        for quantity in asked:
            assert f"${notation.tex(quantity)}$" in problem, "every answer is asked for"
            assert f"{notation.tex(quantity)} =" not in problem, "and none is given"
        for heading in ("Forward pass", "Backward pass", "Updates", "Local derivatives"):
            assert heading not in problem
        if kind == "sigmoid":  # values of six significant digits cannot appear by chance
            typography = Latex(solution.precision)
            for quantity in asked:
                assert typography.number(solution.values[0][quantity]) not in problem
        asked_lines = [line for line in problem.splitlines() if line.startswith(("|", "1. ", "2. ", "3. ", "4. "))]
        assert len(asked_lines) > 6 and all(line in class_set for line in asked_lines)


def test_solution_files_are_the_worked_solutions(homework):
    for variant in sorted(homework["relu"].glob("variant-*")):
        assert (variant / "solution.md").read_text() == solve(variant / "spec.yaml").render("md")


def test_specs_write_decimals_that_read_back_exactly(tmp_path):
    spec = architecture_spec("2-1", activation="sigmoid")
    spec["inputs"] = [decimal.Decimal("0.1"), decimal.Decimal("-0.25")]
    spec["learning_rate"] = decimal.Decimal("0.05")
    text = spec_yaml(spec)
    assert "inputs: [0.1, -0.25]" in text and "learning_rate: 0.05" in text
    (tmp_path / "spec.yaml").write_text(text)
    assert read_document(tmp_path / "spec.yaml") == spec


# --- --from keeps the structure ----------------------------------------------------------


def test_from_the_seed_exercise_keeps_its_named_network_with_new_numbers():
    original = read_document(EXAMPLES / "seed_relu.yaml")
    specs = draw_specs(make_plan(structure=EXAMPLES / "seed_relu.yaml", count=20, seed=1))
    for index, spec in enumerate(specs, start=1):
        assert spec["title"] == f"Variant {index}: {original['title']}"
        assert list(spec["neurons"]) == list(original["neurons"])
        for name, neuron in spec["neurons"].items():
            assert list(neuron) == list(original["neurons"][name]) and neuron["activation"] == "relu"
            assert list(neuron["in"]) == list(original["neurons"][name]["in"])
        assert list(spec["inputs"]) == [1, 2] and list(spec["targets"]) == [5]
        assert spec["loss"] == original["loss"]
    assert all(spec["neurons"] != original["neurons"] for spec in specs)


def test_from_mazur_keeps_shared_biases_and_options(tmp_path):
    result = run("--from", str(EXAMPLES / "mazur_2_2_2.yaml"), "--count", "2", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    spec = read_document(tmp_path / "variant-2" / "spec.yaml")
    assert spec["options"] == {"update_biases": False}
    assert [layer["activation"] for layer in spec["layers"]] == ["sigmoid", "sigmoid"]
    assert all(not isinstance(layer["biases"], list) for layer in spec["layers"])
    assert [len(row) for layer in spec["layers"] for row in layer["weights"]] == [2, 2, 2, 2]
    solution = solve(tmp_path / "variant-2" / "spec.yaml")
    biases = [u for u in solution.derivation.updates if u.old.parameter.kind == "bias"]
    assert all(solution.values[0][u.result] == solution.values[0][u.old] for u in biases)


def test_from_cannot_be_combined_with_options_that_build_a_network(tmp_path):
    result = run("--from", str(EXAMPLES / "seed_relu.yaml"), "--arch", "2-3-1", "-o", str(tmp_path))
    assert result.exit_code == 2 and "--arch" in result.output


@pytest.mark.parametrize("options, message", [
    (["--arch", "2-x-1"], "--arch: expected unit counts"),
    (["--weights", "5..-5"], "--weights: expected a range"),
    (["--loss", "binary_cross_entropy", "--output-activation", "relu"], "needs outputs between 0 and 1"),
    (["--from", "no/such.yaml"], "no such file"),
])
def test_bad_choices_are_one_line_and_exit_2(tmp_path, options, message):
    result = run(*options, "-o", str(tmp_path / "hw"))
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "hw").exists()


def test_every_generate_option_has_help():
    command = main.commands["generate"]
    assert "Example" in command.help
    assert all(option.help for option in command.params if option.name != "context")


# --- LaTeX and PDF -----------------------------------------------------------------------


def test_tex_sheets_and_key_are_standalone_documents(tmp_path):
    assert run("--count", "2", "--format", "tex", "-o", str(tmp_path)).exit_code == 0
    for name in ("problems.tex", "answers.tex", "variant-1/problem.tex", "variant-1/solution.tex"):
        text = (tmp_path / name).read_text()
        assert text.lstrip().startswith("\\documentclass") and text.rstrip().endswith("\\end{document}")
    assert (tmp_path / "problems.tex").read_text().count("\\clearpage") == 1, "a page per variant"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason=NO_LATEX)
def test_pdf_sheets_and_key_compile(tmp_path):
    result = run("--arch", "2-2-2", "--activation", "sigmoid", "--bias", "--count", "1", "--format", "pdf",
                 "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    for name in ("problems.pdf", "answers.pdf", "variant-1/problem.pdf", "variant-1/solution.pdf"):
        assert (tmp_path / name).read_bytes().startswith(b"%PDF"), name


def test_a_plan_can_be_built_in_python():
    plan = Plan(architecture_spec("2-2-1"), Grid(decimal.Decimal(-2), decimal.Decimal(2), 0), count=3, seed=1)
    specs = draw_specs(plan)
    assert len(specs) == 3
    assert all(abs(number) <= 2 for spec in specs for number in spec["inputs"])
