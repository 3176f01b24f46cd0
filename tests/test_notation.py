"""Notations: every quantity's name unique in every notation, and names that read as each course writes them."""

from pathlib import Path

import pytest

from backprop_derive import solve
from backprop_derive.core.notation import NOTATIONS, Notation
from backprop_derive.core.steps import Quantity

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# NOTE: the networks' examples; a computational graph names its quantities itself (tests/test_graph.py).
# NOTE: circuits and networks with layer types (a layer with a type) name their quantities their own way.
ALL = sorted(path.name for path in EXAMPLES.glob("*.yaml")
             if not any(mark in path.read_text(encoding="utf-8") for mark in ("\ngraph:", "\n  - type:")))


@pytest.mark.parametrize("style", sorted(NOTATIONS))
@pytest.mark.parametrize("name", ALL)
def test_every_quantity_has_its_own_name_in_every_form(name, style):
    solution = solve(EXAMPLES / name, notation=style)
    quantities = list(solution.values[0])
    for form in (solution.notation.ascii, solution.notation.text, solution.notation.tex):
        names = [form(quantity) for quantity in quantities]
        duplicates = {name for name in names if names.count(name) > 1}
        assert not duplicates, f"{form.__name__} names used twice: {sorted(duplicates)}"
    assert len(solution.quantities()) == len(quantities)


def names(example: str, style: str) -> dict[str, str]:
    solution = solve(EXAMPLES / example, notation=style)
    return {solution.notation.ascii(q): solution.notation.text(q) for q in solution.values[0]}


def test_layered_notation_reads_h_a_yhat_and_layer_superscripts():
    text = names("sigmoid_2_2_1.yaml", "layered")
    assert text["h(1)_1"] == "h⁽¹⁾₁"
    assert text["a(1)_1"] == "a⁽¹⁾₁", "a hidden layer's output is its activation a"
    assert text["yhat1"] == "ŷ₁"
    assert text["dE/dW(2)_11"] == "∂E/∂W⁽²⁾₁₁"


def test_layered_batch_marks_examples_apart_from_layers():
    text = names("bce_batch_2_3_1.yaml", "layered")
    assert text["h(1)_1<2>"] == "h⁽¹⁾₁⟨2⟩"
    assert text["E<2>"] == "E⟨2⟩" and text["E"] == "E"
    ng = names("bce_batch_2_3_1.yaml", "ng")
    assert ng["z[1]_1(2)"] == "z[1]₁⁽²⁾" and ng["J"] == "J" and ng["L(2)"] == "L⁽²⁾"


def test_a_named_graph_keeps_its_node_names_and_lowercase_edge_weights():
    text = names("seed_relu.yaml", "indexed")
    assert text["x3"] == "x₃" and text["y4"] == "y₄" and text["dL/dw13"] == "∂L/∂w₁₃"


def test_a_layered_named_graph_takes_the_layer_marks_of_a_layered_notation():
    layered = names("seed_relu.yaml", "layered")
    assert layered["h(1)_3"] == "h⁽¹⁾₃" and layered["a(1)_4"] == "a⁽¹⁾₄" and layered["yhat5"] == "ŷ₅"
    assert layered["dE/dw(1)_13"] == "∂E/∂w⁽¹⁾₁₃" and layered["dE/dw(2)_35"] == "∂E/∂w⁽²⁾₃₅"
    ng = names("seed_relu.yaml", "ng")
    assert ng["z[1]_3"] == "z[1]₃" and ng["a[2]_5"] == "a[2]₅" and ng["dJ/dw[2]_45"] == "∂J/∂w[2]₄₅"
    tex = solve(EXAMPLES / "seed_relu.yaml", notation="ng").render("tex")
    assert r"z_{3}^{[1]}" in tex and r"w_{13}^{[1]}" in tex
    # NOTE: with a skip connection, a node's depth is not a layer of the drawing: no marks.
    skip = names("custom_activation.yaml", "ng")
    assert skip["z3"] == "z₃" and skip["dJ/dw14"] == "∂J/∂w₁₄"


def test_a_bias_shared_by_a_layer_reads_as_shared_not_as_a_weight():
    spec = {"inputs": [1, 2], "targets": [1, 0], "loss": "half_squared_error",
            "layers": [{"activation": "sigmoid", "weights": [[0.1, 0.2], [0.3, 0.4]], "biases": 0.5}]}
    indexed = solve(spec, notation="indexed")
    assert "dL/db_{3,4}" in indexed.quantities() and "b34" not in indexed.quantities()
    assert r"b_{\{3,4\}}" in indexed.render("tex")
    assert "b[1]" in solve(spec, notation="ng").quantities()


def test_each_notation_names_the_loss_and_the_cost_with_its_own_letters():
    assert "L" in names("seed_relu.yaml", "indexed")
    assert "J" in names("mazur_2_2_2.yaml", "ng")
    assert "E" in names("mazur_2_2_2.yaml", "layered")
    batch = names("bce_batch_2_3_1.yaml", "indexed")
    assert "J" in batch and "L(1)" in batch


def test_a_per_example_notation_names_a_batch_members_loss_l_not_j():
    solution = solve(EXAMPLES / "mazur_2_2_2.yaml")
    notation = Notation(solution.network, "ng", per_example=True)
    assert notation.ascii(Quantity("loss", example=0)) == "L"
