"""Network diagrams: one layout, drawn as SVG, TikZ and Mermaid, with the chain rule's paths highlighted."""

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from backprop_derive import solve
from backprop_derive.render.diagram import RADIUS, mermaid, solution_diagrams, svg, tikz

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def seed():
    return solve(EXAMPLES / "seed_relu.yaml")


@pytest.fixture(scope="module")
def skip():
    return solve(EXAMPLES / "custom_activation.yaml")


@pytest.mark.parametrize("example", ["seed_relu", "mazur_2_2_2", "softmax_cross_entropy", "custom_activation"])
def test_svg_is_well_formed_with_one_circle_per_node_and_one_path_per_edge(example):
    solution = solve(EXAMPLES / f"{example}.yaml")
    network = solution.network
    weights = sum(len(neuron.incoming) for neuron in network.neurons)
    for diagram in solution_diagrams(solution).values():
        root = ElementTree.fromstring(svg(diagram))
        assert len(root.findall(f"{SVG}circle")) == len(network.inputs) + len(network.neurons)
        assert len(root.findall(f"{SVG}rect")) == 1, "the loss"
        assert len(root.findall(f"{SVG}path")) == weights + len(network.outputs)
        assert root.find(f"{SVG}title").text == diagram.caption.text


def test_nodes_are_named_as_the_notation_names_them_and_edges_carry_weights(seed):
    texts = [element.text for element in ElementTree.fromstring(svg(solution_diagrams(seed)["network"])).iter(f"{SVG}text")]
    assert {"x₁", "x₂", "y₃", "y₄", "y₅", "L"} <= set(texts)
    assert {"w₁₃ = 2", "w₂₃ = −3", "w₁₄ = 1", "w₂₄ = 4", "w₃₅ = 2", "w₄₅ = −1"} <= set(texts)


def test_layers_run_left_to_right_and_the_units_of_a_layer_share_a_column(seed):
    places = {place.label.text: place for place in solution_diagrams(seed)["network"].places}
    assert places["x₁"].x == places["x₂"].x < places["y₃"].x == places["y₄"].x < places["y₅"].x < places["L"].x
    assert places["x₁"].y < places["x₂"].y and places["y₃"].y < places["y₄"].y


def test_the_chain_diagram_highlights_every_path_from_the_first_hidden_weight_to_the_loss():
    solution = solve(EXAMPLES / "mazur_2_2_2.yaml")
    diagram = solution_diagrams(solution)["chain"]
    hot_edges = {(edge.source.label.text, edge.target.label.text) for edge in diagram.edges if edge.highlighted}
    assert hot_edges == {("x₁", "a[1]₁"), ("a[1]₁", "a[2]₁"), ("a[1]₁", "a[2]₂"), ("a[2]₁", "J"), ("a[2]₂", "J")}
    assert {place.label.text for place in diagram.places if place.highlighted} == {"a[1]₁", "a[2]₁", "a[2]₂", "J"}
    assert "∂J/∂W[1]₁₁" in diagram.caption.text and "2 highlighted paths" in diagram.caption.text
    assert not any(edge.highlighted for edge in solution_diagrams(solution)["network"].edges)


def test_a_skip_connection_bends_around_the_layer_it_skips(skip):
    diagram = solution_diagrams(skip)["network"]
    places = {place.label.text: place for place in diagram.places}
    skipping = next(edge for edge in diagram.edges if (edge.source.label.text, edge.target.label.text) == ("x₁", "y₄"))
    assert skipping.controls is not None
    middle = skipping.point(0.5)
    assert abs(middle[1] - places["y₃"].y) > RADIUS, "the curve passes clear of the skipped neuron"
    assert all(edge.controls is None for edge in diagram.edges if edge is not skipping)
    path = [element.get("d") for element in ElementTree.fromstring(svg(diagram)).iter(f"{SVG}path")
            if " C" in (element.get("d") or "")]
    assert len(path) == 1
    assert ".. controls" in tikz(diagram)


def test_weight_labels_do_not_overlap_each_other():
    solution = solve(EXAMPLES / "softmax_cross_entropy.yaml")
    diagram = solution_diagrams(solution)["network"]
    boxes = []
    for edge in diagram.edges:
        if edge.label:
            x, y = edge.label_at
            half = len(edge.label.text) * 0.15 / 2
            boxes.append((x - half, y - 0.18, x + half, y + 0.18))
    for index, first in enumerate(boxes):
        for second in boxes[index + 1:]:
            assert first[2] <= second[0] or second[2] <= first[0] or first[3] <= second[1] or second[3] <= first[1]


def test_tikz_draws_every_node_and_edge_with_latex_names(seed):
    code = tikz(solution_diagrams(seed)["chain"])
    assert code.count(r"\node[unit") == 5 and code.count(r"\node[loss") == 1
    assert code.count(r"\draw[->") == 7
    assert "{$w_{13} = 2$}" in code and "{$y_{5}$}" in code
    assert code.count(r"\draw[->, hot]") == 3, "w13, then 3 → 5, then 5 → L"


def test_mermaid_lists_nodes_edges_and_the_highlight(seed):
    code = mermaid(solution_diagrams(seed)["chain"])
    lines = code.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum(" --> " in line for line in lines) == 7
    assert '-- "w₁₃ = 2" -->' in code
    hot = re.search(r"linkStyle ([\d,]+) ", code).group(1).split(",")
    assert len(hot) == 3


TWO_THREE_TWO = {"inputs": [0.5, -1], "targets": [1, 0], "loss": "half_squared_error", "layers": [
    {"activation": "sigmoid", "weights": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], "biases": [0.1, 0.2, 0.3]},
    {"activation": "sigmoid", "weights": [[0.7, -0.8, 0.9], [1.0, -1.1, 1.2]], "biases": [0.1, -0.1]}]}


def _apart(first, second) -> bool:
    return first[2] <= second[0] or second[2] <= first[0] or first[3] <= second[1] or second[3] <= first[1]


@pytest.mark.parametrize("spec", [TWO_THREE_TWO, EXAMPLES / "bce_batch_2_3_1.yaml"])
def test_on_a_crossed_network_labels_clear_each_other_the_nodes_and_the_arrowheads(spec):
    from backprop_derive.render.diagram import ARROWHEAD, _arrow_tip, _box, _label_size

    diagram = solution_diagrams(solve(spec))["network"]
    labels = [_box(*edge.label_at, *_label_size(edge.label)) for edge in diagram.edges if edge.label]
    assert len(labels) == sum(1 for edge in diagram.edges if not edge.target.is_loss)
    others = [_box(place.x, place.y, 2 * RADIUS, 2 * RADIUS) for place in diagram.places]
    others += [_box(*_arrow_tip(edge), ARROWHEAD, ARROWHEAD) for edge in diagram.edges]
    for index, label in enumerate(labels):
        assert all(_apart(label, other) for other in labels[index + 1:]), "two weight labels overlap"
        assert all(_apart(label, other) for other in others), "a label covers a node or an arrowhead"
