"""derive: the general formulas, checked against SymPy's own differentiation of the whole loss."""

import json
import random
import shutil
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

from backprop_derive.cli import main
from backprop_derive.core.evaluation import evaluate
from backprop_derive.core.formula import X
from backprop_derive.core.steps import Quantity
from backprop_derive.core.symbolic import ChainSum
from backprop_derive.jobs.general import general_solution
from backprop_derive.render.pdf import compile_pdf

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# NOTE: the networks' examples; computational graphs (`graph:`) are derived in tests/test_graph.py, layered
# networks (a layer with a type) in tests/test_layers.py.
ALL = sorted(path.name for path in EXAMPLES.glob("*.yaml")
             if not any(mark in path.read_text(encoding="utf-8") for mark in ("\ngraph:", "\n  - type:")))


def whole_loss(network) -> sympy.Expr:
    """The loss as one expression in the inputs, targets and parameters, built from the network alone."""
    value = {node: Quantity("input", node, 0).symbol for node in network.inputs}
    for neuron in network.neurons:
        pre = sympy.Add(*(value[weight.source] * Quantity("param", parameter=weight).symbol
                          for weight in neuron.incoming))
        if neuron.bias:
            # A threshold θ is a weight on a constant −1 input (SPEC §2.7).
            pre += (-1 if neuron.bias.kind == "threshold" else 1) * Quantity("param", parameter=neuron.bias).symbol
        value[("pre", neuron)] = pre
        if not neuron.activation.layerwise:
            value[neuron] = neuron.activation.formula.subs(X, pre)
    for neuron in network.neurons:
        if neuron.activation.layerwise:
            total = sympy.Add(*(sympy.exp(value[("pre", unit)]) for unit in neuron.group))
            value[neuron] = sympy.exp(value[("pre", neuron)]) / total
    outputs = [value[node] for node in network.outputs]
    targets = [Quantity("target", node, 0).symbol for node in network.outputs]
    return network.loss.formula(outputs, targets)


def random_values(network, generator: random.Random) -> tuple[dict, dict]:
    """Random parameters (by Parameter) and the substitution of every given symbol (inputs, targets too)."""
    def draw():
        return sympy.Rational(generator.randint(-16, 16) or 1, 16)

    parameters = {parameter: draw() for parameter in network.parameters}
    given = {Quantity("param", parameter=p).symbol: value for p, value in parameters.items()}
    example = network.examples[0]
    for node in network.inputs:
        given[Quantity("input", node, 0).symbol] = example.inputs[node]
    for node in network.outputs:
        given[Quantity("target", node, 0).symbol] = example.targets[node]
    return parameters, given


@pytest.mark.parametrize("name", ALL)
def test_every_gradient_formula_equals_sympys_derivative_of_the_whole_loss(name):
    general = general_solution(EXAMPLES / name)
    network, derivation = general.network, general.derivation
    loss = whole_loss(network)
    generator = random.Random(name)
    for _ in range(2):
        parameters, given = random_values(network, generator)
        values = evaluate(derivation, parameters, rounded=False)  # solve's numbers at these parameters, unrounded
        numbers = {quantity.symbol: value for quantity, value in values.items()}
        for gradient in derivation.gradients:
            oracle = sympy.diff(loss, Quantity("param", parameter=gradient.parameter).symbol)
            oracle = oracle.xreplace(given).evalf(40)
            chains = general.formulas.chains[gradient.result]
            derived = sympy.Add(*(sympy.Mul(*(factor.xreplace(numbers) for factor in term))
                                  for term in chains.terms)).evalf(40)
            assert abs(derived - oracle) < 1e-25, (name, gradient.parameter)
            assert abs(values[gradient.result] - oracle) < 1e-25, (name, gradient.parameter)
        for quantity, chains in general.formulas.chains.items():
            full = sympy.Add(*(sympy.Mul(*(factor.xreplace(numbers) for factor in term)) for term in chains.terms))
            short = sympy.Mul(*(factor.expr.xreplace(numbers) if isinstance(factor, ChainSum)
                                else factor.xreplace(numbers) for factor in general.formulas.factored(quantity)))
            assert abs(full.evalf(40) - values[quantity]) < 1e-25, (name, quantity)
            assert abs(short.evalf(40) - values[quantity]) < 1e-25, (name, quantity)


def test_a_gradient_is_the_product_of_local_derivatives_from_the_loss_down():
    text = general_solution(EXAMPLES / "sigmoid_2_2_1.yaml").render("txt")
    line = next(line for line in text.splitlines() if line.strip().startswith("∂E/∂W⁽¹⁾₁₁ ="))
    assert line.split(" = ")[-1] == "2·(ŷ₁ − y₁) · σ'(h⁽²⁾₁) · W⁽²⁾₁₁ · σ'(h⁽¹⁾₁) · x₁"


def test_a_node_feeding_two_others_gives_a_sum_over_both_paths():
    general = general_solution(EXAMPLES / "mazur_2_2_2.yaml")
    gradient = general.derivation.gradients[0]
    assert len(general.formulas.chains[gradient.result].terms) == 2
    md = general.render("md")
    assert r"\left(a_{1}^{[2]} - y_{1}\right) \cdot \sigma'\left(z_{1}^{[2]}\right) \cdot W_{11}^{[2]}" in md
    assert "a sum over 2 paths" in md


def test_sigmoid_derivative_is_derived_step_by_step():
    md = general_solution(EXAMPLES / "mazur_2_2_2.yaml").render("md")
    assert (r"\sigma'\left(x\right) = \frac{d}{d x} \frac{1}{1 + e^{- x}} = "
            r"\frac{e^{- x}}{\left(1 + e^{- x}\right)^{2}} = \sigma\left(x\right) \left(1 - \sigma\left(x\right)\right)"
            ) in md


def test_derive_prints_no_number_of_the_spec():
    text = general_solution(EXAMPLES / "mazur_2_2_2.yaml").render("txt")
    for number in ("0.15", "0.35", "0.05", "0.99", "0.5"):
        assert number not in text


def test_a_batch_is_derived_for_one_example_then_averaged():
    text = general_solution(EXAMPLES / "bce_batch_2_3_1.yaml").render("txt")
    assert "batch of 4 examples" in text
    assert "J = (1/m) Σᵢ L⁽ⁱ⁾" in text
    assert "⁽¹⁾" not in text.split("A batch")[1].split("\n", 3)[-1], "no example superscripts in the formulas"


def test_derive_cli_writes_each_format(tmp_path):
    runner = CliRunner()
    for fmt in ("md", "tex", "txt", "json"):
        target = tmp_path / f"out.{fmt}"
        result = runner.invoke(main, ["derive", str(EXAMPLES / "seed_relu.yaml"), "--format", fmt, "-o", str(target)])
        assert result.exit_code == 0, result.output
        assert target.read_text(encoding="utf-8").strip()
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert data["formulas"]["dL/dw13"]["paths"] == 1
    assert "relu'" in data["formulas"]["dL/dw13"]["expanded_text"]


def test_derive_cli_reports_a_bad_spec_in_one_line(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("inputs: [1]\ntargets: [1]\nlayers: [{activation: sigmoid, weights: [[1, 2]]}]\n")
    result = CliRunner().invoke(main, ["derive", str(spec)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and "layers[0].weights" in result.output


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (TeX Live)")
def test_derive_latex_compiles():
    # NOTE: softmax's output has the longest formulas (factored sums, Jacobian entries).
    assert compile_pdf(general_solution(EXAMPLES / "softmax_cross_entropy.yaml").render("tex")).startswith(b"%PDF")


def test_derive_and_style_have_help_with_an_example():
    runner = CliRunner()
    derive_help = runner.invoke(main, ["derive", "--help"]).output
    assert "Example" in derive_help and "--notation" in derive_help
    solve_help = runner.invoke(main, ["solve", "--help"]).output
    assert "--style [chain|matrix]" in solve_help and "--style matrix" in solve_help
