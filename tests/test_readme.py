"""The README shows real output: its excerpt must be what `solve` prints today."""

import re
from pathlib import Path

from backprop_derive import solve

ROOT = Path(__file__).resolve().parent.parent


def _block(marker: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker}:.*?-->\n```\w*\n(.*?)```\n<!-- /{marker} -->", text, re.S)
    assert match, f"README.md has no {marker} block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_readme_excerpt_is_real_output_of_the_seed_exercise():
    output = solve(ROOT / "examples" / "seed_relu.yaml").render("txt").splitlines()
    for line in _block("excerpt"):
        assert line in output, f"README line not in the real output: {line!r}"


def test_readme_layers_excerpt_is_real_output_of_the_conv_pool_exam():
    output = solve(ROOT / "examples" / "conv_pool_exam.yaml").render("txt").splitlines()
    for line in _block("layers-excerpt"):
        assert line in output, f"README line not in the real output: {line!r}"


def test_readme_check_excerpt_is_real_output_of_check():
    from click.testing import CliRunner

    from backprop_derive.cli import main

    examples = ROOT / "examples"
    result = CliRunner().invoke(main, ["check", str(examples / "seed_relu.yaml"),
                                       str(examples / "answers" / "seed_relu.yaml")])
    output = result.output.splitlines()
    for line in _block("check-excerpt"):
        assert line in output, f"README line not in the real output: {line!r}"


#: The README's two set-up commands: each makes (or reuses) a virtual environment and runs through it,
#: so that they work where the system's Python refuses pip (PEP 668) and nothing is activated.
SETUP_COMMANDS = (
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/backprop-derive solve examples/seed_relu.yaml",
    "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/python -m pytest",
)


def test_readme_first_screen_has_the_two_setup_commands_and_ci_runs_the_test_one():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = text[: text.index("## ")]
    for command in SETUP_COMMANDS:
        assert command in first_screen
    assert "python3 -m pip install" not in text, "the system's pip is refused on PEP 668 machines"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert SETUP_COMMANDS[1] in ci.splitlines()
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".venv/" in ignored or ".venv" in ignored


def test_readme_class_excerpts_are_real_output_of_check(monkeypatch):
    from click.testing import CliRunner

    from backprop_derive.cli import main

    # NOTE: from the repository's root with relative paths, as the README shows them (a bad file is named by its path).
    monkeypatch.chdir(ROOT)
    for marker, answers in (("class-excerpt", "examples/class/"), ("bob-excerpt", "examples/class/bob.yaml")):
        result = CliRunner().invoke(main, ["check", "examples/mazur_2_2_2.yaml", answers])
        assert result.exit_code == 1, result.output
        output = result.output.splitlines()
        for line in _block(marker):
            assert line in output, f"README line not in the real output: {line!r}"


def test_readme_graph_excerpt_is_real_output_of_the_sigmoid_circuit():
    output = solve(ROOT / "examples" / "sigmoid_neuron_circuit.yaml").render("txt").splitlines()
    for line in _block("graph-excerpt"):
        assert line in output, f"README line not in the real output: {line!r}"
