"""Matrix style: the layer-by-layer derivation, every entry the chain style's own value."""

import shutil
from pathlib import Path

import pytest
import sympy
from click.testing import CliRunner

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.core.steps import Quantity
from backprop_derive.render.matrix import bias_grid, jacobian_grid, layers_of, unit_grid, value_grid, weight_grid
from backprop_derive.render.pdf import compile_pdf
from backprop_derive.render.render import to_json
from backprop_derive.render.typography import Latex

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LAYERED = ["bce_batch_2_3_1.yaml", "mazur_2_2_2.yaml", "seed_relu.yaml", "sigmoid_2_2_1.yaml",
           "softmax_cross_entropy.yaml"]


def matrix(values, grid) -> sympy.Matrix:
    return sympy.Matrix([[values[quantity] for quantity in row] for row in grid])


def close(left: sympy.Matrix, right: sympy.Matrix) -> bool:
    return all(abs(a - b) < 1e-40 for a, b in zip(left, right))


@pytest.mark.parametrize("name", LAYERED)
def test_the_matrices_satisfy_the_vectorised_equations(name):
    solution = solve(EXAMPLES / name)
    values, network = solution.values[0], solution.network
    m = len(network.examples)
    scale = solution.derivation.gradients[0].scale
    layers = layers_of(network)
    for layer in layers:
        weights, below = matrix(values, weight_grid(layer)), matrix(values, value_grid(layer.below, m))
        pre = weights * below
        if layer.biases is not None:
            biases = matrix(values, bias_grid(layer))
            pre += (biases if biases.rows == len(layer.units) else sympy.ones(len(layer.units), 1) * biases[0]) \
                * sympy.ones(1, m)
        assert close(pre, matrix(values, unit_grid("pre", layer.units, m)))
        delta = matrix(values, unit_grid("delta", layer.units, m))
        if layer.activation.layerwise:
            for example in range(m):
                jacobian = matrix(values, jacobian_grid(layer, example))
                assert close(jacobian.T * matrix(values, unit_grid("dout", layer.units, m))[:, example],
                             delta[:, example])
        else:
            assert close(matrix(values, unit_grid("dout", layer.units, m))
                         .multiply_elementwise(matrix(values, unit_grid("slope", layer.units, m))), delta)
        if layer.number < len(layers):
            above = layers[layer.number]
            assert close(matrix(values, weight_grid(above)).T * matrix(values, unit_grid("delta", above.units, m)),
                         matrix(values, unit_grid("dout", layer.units, m)))
        gradient = matrix(values, weight_grid(layer, "grad"))
        assert close(scale * delta * below.T, gradient)
        rate = values[Quantity("rate")]
        assert close(weights - rate * gradient, matrix(values, weight_grid(layer, "new")))


@pytest.mark.parametrize("name", LAYERED)
def test_matrix_style_prints_the_chain_styles_numbers(name):
    solution = solve(EXAMPLES / name)
    values, typography = solution.values[0], Latex(solution.precision)
    tex = solution.render("tex", style="matrix")
    chain = to_json(solution)
    for layer in layers_of(solution.network):
        for kind in ("grad", "new"):
            grid = weight_grid(layer, kind)
            printed = typography.matrix([[typography.number(values[q]) for q in row] for row in grid])
            assert printed in tex, (layer.number, kind)
            for row in grid:
                for quantity in row:
                    assert float(values[quantity]) == chain["quantities"][solution.notation.ascii(quantity)]
        printed = typography.matrix([[typography.number(values[q]) for q in row]
                                     for row in unit_grid("delta", layer.units, len(solution.network.examples))])
        assert printed in tex


def test_the_same_value_objects_fill_both_styles():
    solution = solve(EXAMPLES / "mazur_2_2_2.yaml")
    values = solution.values[0]
    layer = layers_of(solution.network)[0]
    chain_gradients = {gradient.result: values[gradient.result] for gradient in solution.derivation.gradients}
    for row in weight_grid(layer, "grad"):
        for quantity in row:
            assert values[quantity] is chain_gradients[quantity]


def test_matrix_style_in_text_draws_matrices_with_brackets():
    text = solve(EXAMPLES / "mazur_2_2_2.yaml").render("txt", style="matrix")
    assert "  z[1] = W[1] x + b[1] = ⎡0.15  0.2⎤ ⎡0.05⎤ + 0.35 = ⎡0.3775⎤" in text
    assert "                         ⎣0.25  0.3⎦ ⎣ 0.1⎦          ⎣0.3925⎦" in text
    assert "δ[1] = W[2]ᵀ δ[2] ⊙ σ'(z[1])" in text


def test_a_graph_with_a_skip_connection_is_a_usage_error_for_matrix_style():
    result = CliRunner().invoke(main, ["solve", str(EXAMPLES / "custom_activation.yaml"), "--style", "matrix",
                                       "--format", "json"])
    assert result.exit_code == 2
    assert "skip connection" in result.output and "--style chain" in result.output


def test_a_named_graph_in_full_layers_is_accepted_in_matrix_style():
    result = CliRunner().invoke(main, ["solve", str(EXAMPLES / "seed_relu.yaml"), "--style", "matrix",
                                       "--format", "txt"])
    assert result.exit_code == 0, result.output
    assert "x⁽¹⁾ = W⁽¹⁾ x = ⎡2  −3⎤ ⎡ 1⎤ = ⎡ 5⎤" in result.output


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (TeX Live)")
def test_matrix_style_with_the_loss_plot_compiles():
    # NOTE: one document for both (each compile costs seconds): wide batch matrices, a softmax-free
    # sigmoid net over two steps, and the pgfplots plot of the loss at its end.
    latex = solve(EXAMPLES / "bce_batch_2_3_1.yaml", steps=2).render("tex", style="matrix")
    assert r"\begin{bmatrix}" in latex and r"\begin{axis}" in latex
    assert compile_pdf(latex).startswith(b"%PDF")


def test_matrix_style_in_html_draws_its_operators_inside_math():
    import re

    html = solve(EXAMPLES / "mazur_2_2_2.yaml").render("html", style="matrix")
    assert "<mo>+</mo>" in html
    # NOTE: text between MathML elements is not drawn; every operator must be an <mo>.
    assert not re.search(r">\s*\+\s*<", html.replace("<mo>+</mo>", ""))
