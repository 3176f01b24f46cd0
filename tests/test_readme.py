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


def test_readme_check_excerpt_is_real_output_of_check():
    from click.testing import CliRunner

    from backprop_derive.cli import main

    examples = ROOT / "examples"
    result = CliRunner().invoke(main, ["check", str(examples / "seed_relu.yaml"),
                                       str(examples / "answers" / "seed_relu.yaml")])
    output = result.output.splitlines()
    for line in _block("check-excerpt"):
        assert line in output, f"README line not in the real output: {line!r}"


def test_readme_first_screen_has_the_two_setup_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = text[: text.index("## ")]
    assert "python3 -m pip install . && backprop-derive solve examples/seed_relu.yaml" in first_screen
    assert "python3 -m pip install '.[test]' && python3 -m pytest" in first_screen
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m pip install --quiet --disable-pip-version-check '.[test]'" in ci
    assert "python3 -m pytest" in ci


def test_readme_graph_excerpt_is_real_output_of_the_sigmoid_circuit():
    output = solve(ROOT / "examples" / "sigmoid_neuron_circuit.yaml").render("txt").splitlines()
    for line in _block("graph-excerpt"):
        assert line in output, f"README line not in the real output: {line!r}"
