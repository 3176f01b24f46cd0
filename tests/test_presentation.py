"""Presentation as a person reads it, through the CLI: each remark before its equation, each
activation its own symbol, no doubled brackets, loss derivatives factored, shared biases and
layer marks named so that they read right."""

import re
from pathlib import Path

import pytest
import sympy
import yaml
from click.testing import CliRunner

from backprop_derive.cli import main
from backprop_derive.core.rules import LOSSES

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*arguments: str) -> str:
    result = CliRunner().invoke(main, list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def spec_file(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return str(path)


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end, text.index(start))]


@pytest.mark.parametrize("fmt", ["tex", "md"])
def test_a_gradients_path_is_said_before_its_own_equation(fmt):
    text = run("solve", str(EXAMPLES / "custom_activation.yaml"), "--format", fmt)
    notes = re.findall(r"\{path\}? ?\$([a-z]_\{\d+\}) \\to .*?\$:\n+(?:\\begin\{dmath\*\}|\$\$)\n(.*)", text) if fmt == "tex" \
        else re.findall(r"\*path\* \$([a-z]_\{\d+\}) \\to .*?\$:\n+\$\$\n(.*)", text)
    assert len(notes) == 5, "one path per parameter, each right above its equation"
    for parameter, equation in notes:
        assert equation.startswith(rf"\frac{{\partial L}}{{\partial {parameter}}}"), (parameter, equation)


def test_no_activation_caption_sits_under_the_local_derivatives():
    for fmt, end in (("tex", r"\subsection*{Forward pass}"), ("md", "### Forward pass")):
        derivatives = section(run("solve", str(EXAMPLES / "mazur_2_2_2.yaml"), "--format", fmt), "Local derivatives", end)
        assert "sigmoid" not in derivatives and "\\emph" not in derivatives and "\n*" not in derivatives
    derive = run("derive", str(EXAMPLES / "seed_relu.yaml"), "--format", "tex")
    assert r"\noindent\emph{relu}" not in derive


def test_a_number_as_a_functions_whole_argument_is_not_bracketed_twice():
    seed = str(EXAMPLES / "seed_relu.yaml")
    assert r"\max\left(0, -3\right) = 0" in run("solve", seed, "--format", "tex")
    assert "max(0, −3) = 0" in run("solve", seed, "--format", "txt")
    html = run("solve", seed, "--format", "html")
    assert not re.search(r"<mo>,</mo>(<mrow>)*<mo stretchy=\"false\">\(</mo><mrow><mo>(−|&#8722;)</mo><mn>3</mn>", html)
    assert re.search(r"<mo>,</mo>(<mrow>)*<mo>(−|&#8722;)</mo><mn>3</mn>", html)
    # A factor keeps its brackets: the weighted sum still reads 2 · (−1).
    assert "(−1) · (−3)" in run("solve", seed, "--format", "txt")


def test_a_lone_number_in_a_case_or_a_comparison_is_not_bracketed_twice(tmp_path):
    leaky = spec_file(tmp_path, {"inputs": {1: 1}, "targets": {2: 0}, "loss": "half_squared_error",
                                 "neurons": {2: {"activation": {"name": "leaky_relu", "alpha": 0.1}, "in": {1: -1.5}}}})
    assert "(−1.5 if −1.5 > 0, else (−1.5)/10)" in run("solve", leaky, "--format", "txt")
    assert r"\begin{cases} -1.5 & \text{for}\: -1.5 > 0" in run("solve", leaky, "--format", "tex")


#: ∂L/∂y₂ of one sigmoid output (y₂, target t₂) as a person writes it, per loss.
FACTORED = {
    "half_squared_error": ("y₂ − t₂", r"y_{2} - t_{2}"),
    "squared_error": ("2·(y₂ − t₂)", r"2 \left(y_{2} - t_{2}\right)"),
    "mse": ("2·(y₂ − t₂)", r"2 \left(y_{2} - t_{2}\right)"),
    "binary_cross_entropy": ("(y₂ − t₂)/(y₂·(1 − y₂))", r"\frac{y_{2} - t_{2}}{y_{2} \left(1 - y_{2}\right)}"),
    "cross_entropy": ("−t₂/y₂", r"- \frac{t_{2}}{y_{2}}"),
}


# NOTE: loss: none has no targets (tests/test_conventions.py prints its derivative, 1).
@pytest.mark.parametrize("loss", sorted(name for name, rule in LOSSES.items() if rule.targets))
def test_every_loss_derivative_is_printed_factored_in_every_format(tmp_path, loss):
    spec = spec_file(tmp_path, {"inputs": {1: 1}, "neurons": {2: {"activation": "sigmoid", "in": {1: 0.5}}},
                                "targets": {2: 1}, "loss": loss})
    text, tex = FACTORED[loss]
    assert f"∂L/∂y₂ = {text} = " in run("solve", spec, "--format", "txt")
    assert f"∂L/∂y₂ = {text}\n" in run("derive", spec, "--format", "txt")
    for command in ("solve", "derive"):
        assert rf"\frac{{\partial L}}{{\partial y_{{2}}}} = {tex}" in run(command, spec, "--format", "tex")
    assert "<mo>=</mo><mn>2</mn><mo>&#x2062;</mo><msub>" not in run("solve", spec, "--format", "html")


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_a_loss_written_slope_is_its_derivative(loss):
    rule = LOSSES[loss]
    outputs = [sympy.Symbol(f"o{k}", positive=True) for k in range(3)]
    targets = [sympy.Symbol(f"t{k}", positive=True) for k in range(3)]
    formula = rule.formula(outputs, targets)
    assert sympy.simplify(rule.slope(formula, outputs[0], targets[0]) - sympy.diff(formula, outputs[0])) == 0


def test_two_custom_activations_and_two_alphas_each_get_their_own_symbol_and_derivative(tmp_path):
    customs = spec_file(tmp_path, {
        "inputs": {1: 1, 2: 2}, "targets": {5: 1}, "loss": "squared_error",
        "neurons": {3: {"activation": {"expr": "x**3/3"}, "in": {1: 1, 2: -1}},
                    4: {"activation": {"expr": "x**2"}, "in": {3: 2, 1: 1}},
                    5: {"activation": "identity", "in": {4: 1}}}}, "customs.yaml")
    text = run("solve", customs, "--format", "txt")
    derivatives = section(text, "Local derivatives", "Forward pass")
    assert "f₁'(x) = x²" in derivatives and "f₂'(x) = 2·x" in derivatives and "id'(x) = 1" in derivatives
    assert "y₃ = f₁(x₃)" in text and "y₄ = f₂(x₄)" in text and "y₅ = x₅ =" in text
    assert "∂y₄/∂x₄ = f₂'(x₄)" in text and "∂y₅/∂x₅ = id'(x₅) = 1" in text
    assert r"f_{1}'\left(x\right) = x^{2}" in run("solve", customs, "--format", "tex")

    leaky = spec_file(tmp_path, {
        "inputs": [1, -2], "targets": [0.5], "loss": "mse",
        "layers": [{"activation": {"name": "leaky_relu", "alpha": 0.1}, "weights": [[0.5, 1], [1, 0.25]]},
                   {"activation": {"name": "leaky_relu", "alpha": 0.2}, "weights": [[1, -1]]},
                   {"activation": "identity", "weights": [[2]]}]}, "leaky.yaml")
    derivatives = section(run("solve", leaky, "--format", "txt"), "Local derivatives", "Forward pass")
    assert "lrelu₁'(x) = (1 if x > 0, else 1/10)" in derivatives
    assert "lrelu₂'(x) = (1 if x > 0, else 1/5)" in derivatives
    # Matrix style's HTML: every function symbol is drawn (an <mi>), none is bare text MathML drops.
    html = run("solve", leaky, "--style", "matrix", "--format", "html")
    assert not re.search(r"<mrow>[a-z]+<mo>", html), "a bare function name inside <mrow>"
    assert "<mi>id</mi><mo>′</mo>" in html and "<msub><mi>lrelu</mi><mn>2</mn></msub>" in html


def test_a_shared_bias_and_a_layered_named_graph_are_named_to_read_right(tmp_path):
    shared = spec_file(tmp_path, {"inputs": [1, 2], "targets": [1, 0], "loss": "half_squared_error",
                                  "layers": [{"activation": "sigmoid", "weights": [[0.1, 0.2], [0.3, 0.4]],
                                              "biases": 0.5}]})
    tex = run("solve", shared, "--notation", "indexed", "--format", "tex")
    assert r"b_{\{3,4\}} = 0.5" in tex and "b_{34}" not in tex
    layered = run("solve", str(EXAMPLES / "seed_relu.yaml"), "--notation", "layered", "--format", "txt")
    assert "h⁽¹⁾₃ = x₁ w⁽¹⁾₁₃ + x₂ w⁽¹⁾₂₃" in layered and "ŷ₅ = relu(h⁽²⁾₅)" in layered


def test_a_quizs_worked_feedback_also_says_each_path_before_its_equation(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--from", str(EXAMPLES / "seed_relu.yaml"), "--count", "1",
                                       "--seed", "1", "--format", "moodle", "-o", str(tmp_path / "hw")])
    assert result.exit_code == 0, result.output
    quiz = (tmp_path / "hw" / "quiz.moodle.xml").read_text(encoding="utf-8")
    route = quiz.index(r"\(w_{13} \to x_{3}")
    equation = quiz.index(r"$$\frac{\partial L}{\partial w_{13}} = ")
    assert route < equation and quiz.index("$$", route) == equation, "the path, then its own equation"
