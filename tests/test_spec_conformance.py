"""Black-box conformance: one small CLI test per statement of /work/shared/SPEC.md (§1–§4, not §2.5/§2.6).

Each test cites the SPEC section it checks; the specs are tiny so that the whole file stays fast.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from backprop_derive.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# The worked exercise of §2.2, verbatim.
RELU = """\
title: ReLU exercise
inputs: {1: 1, 2: -1}
neurons:
  3: {activation: relu, in: {1: 2, 2: -3}}
  4: {activation: relu, in: {1: 1, 2: 4}}
  5: {activation: relu, in: {3: 2, 4: -1}}
targets: {5: 0}
loss: half_squared_error
learning_rate: 0.1
"""

# The dense example of §2.1, verbatim.
DENSE = """\
title: A 2-2-2 sigmoid network
inputs: [0.05, 0.10]
targets: [0.01, 0.99]
layers:
  - activation: sigmoid
    weights: [[0.15, 0.20],
              [0.25, 0.30]]
    biases: [0.35, 0.35]
  - activation: sigmoid
    weights: [[0.40, 0.45], [0.50, 0.55]]
    biases: [0.60, 0.60]
loss: half_squared_error
learning_rate: 0.5
"""

# The circuit of §2.4, verbatim.
CIRCUIT = """\
title: A sigmoid neuron as a circuit
inputs: {x0: -1, x1: -2}
parameters: {w0: 2, w1: -3, w2: -3}
graph:
  f: 1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))
gates: split
learning_rate: 0.1
"""


def run(*arguments: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(arguments), input=stdin, catch_exceptions=False)


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def solve_json(tmp_path: Path, text: str, *options: str) -> dict:
    result = run("solve", write(tmp_path, text), "--format", "json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def numbers_in(value):
    """Every leaf of a JSON value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers_in(item)
    else:
        yield value


def assert_bad(result, *fragments: str) -> None:
    """§4: exit 2, one line naming what is wrong, no traceback, nothing on standard output."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


# --- §1 what it is: solve, check, generate ----------------------------------------------


@pytest.mark.parametrize(("fmt", "marker"), [("md", "# ReLU exercise"), ("tex", r"\documentclass"),
                                             ("txt", "ReLU exercise"), ("html", "<html"), ("json", '"loss"')])
def test_1_solve_writes_every_text_format(tmp_path, fmt, marker) -> None:
    # §1: "writes the full worked solution ... as Markdown, LaTeX, plain text, HTML or JSON".
    result = run("solve", write(tmp_path, RELU), "--format", fmt)
    assert result.exit_code == 0
    assert marker in result.stdout


# --- §2 the spec file -------------------------------------------------------------------


def test_2_json_spec_is_accepted(tmp_path) -> None:
    # §2: "YAML; JSON is accepted too".
    spec = yaml.safe_load(RELU)
    from_yaml = solve_json(tmp_path, RELU)
    from_json = solve_json(tmp_path, json.dumps(spec), )
    assert from_json["quantities"] == from_yaml["quantities"]
    path = write(tmp_path, json.dumps(spec), "spec.json")
    assert json.loads(run("solve", path, "--format", "json").stdout)["loss"] == 50


@pytest.mark.parametrize(("text", "field"), [
    (RELU + "learnig_rate: 0.1\n", "learnig_rate"),
    (RELU.replace("{activation: relu, in: {1: 2, 2: -3}}", "{activation: relu, in: {1: 2, 2: -3}, bais: 1}"), "bais"),
    (DENSE.replace("    biases: [0.60, 0.60]", "    biases: [0.60, 0.60]\n    activaton: relu"), "activaton"),
    (RELU + "options: {precison: 3}\n", "precison"),
    (CIRCUIT + "gate: split\n", "gate"),
])
def test_2_unknown_key_is_an_error(tmp_path, text, field) -> None:
    # §2: "A key the tool does not know is an error, not ignored".
    assert_bad(run("solve", write(tmp_path, text)), "spec.yaml", field)


# --- §2.1 dense layers ---------------------------------------------------------------------


def test_2_1_dense_example_matches_mazur(tmp_path) -> None:
    # §2.1 example (Mazur's numbers, with bias updates): E_total = 0.298371109.
    data = solve_json(tmp_path, DENSE)
    assert data["loss"] == pytest.approx(0.298371108760003, rel=1e-12)
    assert data["gradients"]["layers"][1]["weights"][0][0] == pytest.approx(0.0821670405, rel=1e-8)
    assert data["updated"]["layers"][1]["weights"][0][0] == pytest.approx(0.35891648, rel=1e-7)


def test_2_1_weights_j_i_layout(tmp_path) -> None:
    # §2.1: weights[j][i] from input i to unit j; identity so that z = W x exactly.
    text = """\
inputs: [1, 2]
targets: [0, 0, 0]
layers:
  - activation: identity
    weights: [[1, 0], [0, 1], [1, 1]]
"""
    data = solve_json(tmp_path, text)
    # outputs (1, 2, 3): L = (1 + 4 + 9)/2 = 7
    assert data["loss"] == 7
    assert isinstance(data["loss"], int)
    # dL/dW[j][i] = o_j x_i
    assert data["gradients"]["layers"][0]["weights"] == [[1, 2], [2, 4], [3, 6]]


def test_2_1_biases_optional_and_shared(tmp_path) -> None:
    # §2.1: no biases key means no bias; one number is one bias shared by the layer.
    base = "inputs: [1, 2]\ntargets: [0, 0]\nlearning_rate: 1\nlayers:\n  - activation: identity\n    weights: [[1, 0], [0, 1]]\n"
    without = solve_json(tmp_path, base)
    assert "biases" not in without["gradients"]["layers"][0]
    assert "biases" not in without["updated"]["layers"][0]
    shared = solve_json(tmp_path, base + "    biases: 1\n")
    # outputs (2, 3): dL/db = 2 + 3 = 5, a single number
    assert shared["gradients"]["layers"][0]["biases"] == 5
    assert shared["updated"]["layers"][0]["biases"] == -4
    per_unit = solve_json(tmp_path, base + "    biases: [1, 1]\n")
    assert per_unit["gradients"]["layers"][0]["biases"] == [2, 3]


def test_2_1_batch_is_a_list_of_lists_and_cost_is_the_mean(tmp_path) -> None:
    # §2.1 / §2.3: a list of lists is a batch; J = (1/m) Σ L.
    text = "inputs: [[1], [3]]\ntargets: [[0], [0]]\nlayers:\n  - activation: identity\n    weights: [[1]]\n"
    data = solve_json(tmp_path, text)
    assert data["loss"] == 2.5  # (1/2 + 9/2)/2
    assert data["gradients"]["layers"][0]["weights"] == [[5]]  # (1 + 9)/2
    summed = solve_json(tmp_path, text + "options: {reduction: sum}\n")
    assert summed["loss"] == 5
    assert summed["gradients"]["layers"][0]["weights"] == [[10]]


# --- §2.2 named neurons --------------------------------------------------------------------


def test_2_2_worked_exercise(tmp_path) -> None:
    # §2.2 / §3: x_3 = 5, L = 50, w_13 updated 2 − 0.1·20 = 0.
    data = solve_json(tmp_path, RELU)
    q = data["quantities"]
    assert (q["x3"], q["y3"], q["x4"], q["y4"], q["x5"], q["y5"], q["L"]) == (5, 5, -3, 0, 10, 10, 50)
    assert q["dL/dw13"] == 20 and q["w13_new"] == 0
    assert data["updated"]["neurons"]["3"]["in"] == {"1": 0, "2": -1}


def test_2_2_any_order_and_skip_connection_and_bias(tmp_path) -> None:
    # §2.2: neurons in any order, sorted topologically; skip connections allowed; `bias:`.
    text = """\
inputs: {1: 1}
neurons:
  3: {activation: identity, in: {2: 1, 1: 1}, bias: 0.5}
  2: {activation: identity, in: {1: 2}}
targets: {3: 0}
learning_rate: 1
"""
    data = solve_json(tmp_path, text)
    q = data["quantities"]
    assert q["y2"] == 2 and q["y3"] == 3.5
    assert data["gradients"]["neurons"]["3"]["bias"] == 3.5
    assert data["gradients"]["neurons"]["2"]["in"] == {"1": 3.5}
    assert "bias" not in data["gradients"]["neurons"]["2"]


def test_2_2_long_names_use_a_comma(tmp_path) -> None:
    # §2.2: w_{ij}, w_{i,j} when a name is longer than one character; b_j.
    text = """\
inputs: {x: 1}
neurons:
  h1: {activation: identity, in: {x: 2}, bias: 1}
targets: {h1: 0}
"""
    result = run("solve", write(tmp_path, text), "--format", "tex")
    assert result.exit_code == 0
    assert "w_{x,h1}" in result.stdout.replace(" ", "")
    assert "b_{h1}" in result.stdout.replace(" ", "")


def test_2_2_batch_of_maps(tmp_path) -> None:
    # §2.2: a list of maps is a batch, targets a list of the same length.
    text = """\
inputs: [{1: 1}, {1: 3}]
neurons:
  2: {activation: identity, in: {1: 1}}
targets: [{2: 0}, {2: 0}]
"""
    assert solve_json(tmp_path, text)["loss"] == 2.5


def test_2_2_batch_targets_length_mismatch_is_an_error(tmp_path) -> None:
    # §2.2 shapes: targets a list of the same length as the batch.
    text = """\
inputs: [{1: 1}, {1: 3}]
neurons:
  2: {activation: identity, in: {1: 1}}
targets: [{2: 0}]
"""
    assert_bad(run("solve", write(tmp_path, text)), "spec.yaml", "targets")


def test_2_2_without_learning_rate_stops_at_gradients(tmp_path) -> None:
    # §2.2: learning_rate optional; without it JSON has no `updated`.
    data = solve_json(tmp_path, RELU.replace("learning_rate: 0.1\n", ""))
    assert "updated" not in data
    assert not any(name.endswith("_new") for name in data["quantities"])
    assert "gradients" in data


# --- §2.3 vocabulary -----------------------------------------------------------------------


def one_neuron(activation: str, x: str = "0", loss: str = "half_squared_error", target: str = "0",
               options: str = "") -> str:
    return (f"inputs: {{1: {x}}}\nneurons:\n  2: {{activation: {activation}, in: {{1: 1}}}}\n"
            f"targets: {{2: {target}}}\nloss: {loss}\n" + (f"options: {options}\n" if options else ""))


def test_2_3_decimals_are_exact(tmp_path) -> None:
    # §2.3: 0.1 is the exact 1/10: 0.1 + 0.2 gives 0.3, never 0.30000000000000004.
    text = "inputs: {1: 0.1, 2: 0.2}\nneurons:\n  3: {activation: identity, in: {1: 1, 2: 1}}\ntargets: {3: 0}\n"
    data = solve_json(tmp_path, text)
    assert data["quantities"]["x3"] == 0.3
    assert data["exact"]["x3"] == "3/10"
    for fmt in ("md", "txt", "tex", "html", "json"):
        out = run("solve", write(tmp_path, text), "--format", fmt).stdout
        assert "0.30000000000000004" not in out and "0.300000000000000" not in out


def test_2_3_fractions_as_strings(tmp_path) -> None:
    # §2.3: "1/3" as a string is the fraction 1/3 and stays exact.
    text = 'inputs: {1: "1/3"}\nneurons:\n  2: {activation: identity, in: {1: 3}}\ntargets: {2: "2/3"}\n'
    data = solve_json(tmp_path, text)
    assert data["quantities"]["y2"] == 1
    assert data["exact"]["L"] == "1/18"
    assert data["loss"] == pytest.approx(1 / 18, rel=1e-15)


@pytest.mark.parametrize("bad", ['"1/0"', '"abc"', '"1/3/4"', "true", '"1e400x"', "[1]"])
def test_2_3_bad_numbers_are_errors(tmp_path, bad) -> None:
    # §2.3 / §4: a number that is not one gets a one-line error naming the field path.
    text = f"inputs: {{1: {bad}}}\nneurons:\n  2: {{activation: identity, in: {{1: 3}}}}\ntargets: {{2: 0}}\n"
    assert_bad(run("solve", write(tmp_path, text)), "spec.yaml", "inputs")


def test_2_3_rational_steps_stay_exact(tmp_path) -> None:
    # §2.3: identity, relu, leaky_relu with squared losses keep every value exact.
    text = one_neuron("{name: leaky_relu, alpha: 0.2}", x="-1/3", loss="squared_error", target="1")
    data = solve_json(tmp_path, text)
    assert data["exact"]["y2"] == "-1/15"
    assert data["exact"]["L"] == "256/225"


@pytest.mark.parametrize(("activation", "x", "value", "slope"), [
    ("identity", "2", 2, 1),
    ("linear", "2", 2, 1),
    ("sigmoid", "0", 0.5, 0.25),
    ("tanh", "0.5", math.tanh(0.5), 1 - math.tanh(0.5) ** 2),
    ("relu", "-2", 0, 0),
    ("relu", "2", 2, 1),
    ("relu", "0", 0, 0),
    ("leaky_relu", "-2", -0.02, 0.01),
    ("leaky_relu", "0", 0, 0.01),
    ("{name: leaky_relu, alpha: 0.2}", "-2", -0.4, 0.2),
    ("elu", "-1", math.exp(-1) - 1, math.exp(-1)),
    ("elu", "0", 0, 1),
    ("{name: elu, alpha: 2}", "-1", 2 * (math.exp(-1) - 1), 2 * math.exp(-1)),
    ("elu", "3", 3, 1),
    ("softplus", "1", math.log(1 + math.e), 1 / (1 + math.exp(-1))),
    ('{expr: "x**3/3"}', "2", 8 / 3, 4),
    ('{expr: "sqrt(x) + abs(x) + sin(x) + cos(x) + log(x) + exp(x) - tanh(x)"}', "1",
     1 + 1 + math.sin(1) + math.cos(1) + 0 + math.e - math.tanh(1),
     0.5 + 1 + math.cos(1) - math.sin(1) + 1 + math.e - (1 - math.tanh(1) ** 2)),
])
def test_2_3_activations(tmp_path, activation, x, value, slope) -> None:
    # §2.3 activation table, f(x) and f'(x) (relu and leaky_relu/elu at 0 as PyTorch does).
    text = f"inputs: {{1: {x}}}\nneurons:\n  2: {{activation: {activation}, in: {{1: 1}}}}\ntargets: {{2: 0}}\n"
    q = solve_json(tmp_path, text)["quantities"]
    assert q["y2"] == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert q["dy2/dx2"] == pytest.approx(slope, rel=1e-12, abs=1e-15)


def test_2_3_relu_derivative_at_zero_option(tmp_path) -> None:
    # §2.3: f'(0) = options.relu_derivative_at_zero.
    text = one_neuron("relu", x="0", options="{relu_derivative_at_zero: 1}")
    assert solve_json(tmp_path, text)["quantities"]["dy2/dx2"] == 1


def test_2_3_softmax_is_dense_only_and_a_jacobian(tmp_path) -> None:
    # §2.3: softmax, dense layers only, whole-layer Jacobian; with cross_entropy, dL/dz = o − t.
    text = """\
inputs: [1, 2]
targets: [1, 0]
loss: cross_entropy
layers:
  - activation: softmax
    weights: [[1, 0], [0, 1]]
"""
    data = solve_json(tmp_path, text)
    o1 = math.exp(1) / (math.exp(1) + math.exp(2))
    assert data["loss"] == pytest.approx(-math.log(o1), rel=1e-12)
    assert data["gradients"]["layers"][0]["weights"][0] == pytest.approx([(o1 - 1) * 1, (o1 - 1) * 2], rel=1e-12)
    named = "inputs: {1: 1}\nneurons:\n  2: {activation: softmax, in: {1: 1}}\ntargets: {2: 1}\n"
    assert_bad(run("solve", write(tmp_path, named)), "spec.yaml", "neurons")


@pytest.mark.parametrize(("loss", "o", "t", "value", "dldo"), [
    ("half_squared_error", [3, 1], [1, 0], (4 + 1) / 2, [2, 1]),
    ("squared_error", [3, 1], [1, 0], 5, [4, 2]),
    ("mse", [3, 1], [1, 0], 5 / 2, [2, 1]),
    ("binary_cross_entropy", ["0.25", "0.5"], [1, 0], -math.log(0.25) - math.log(0.5), [-4, 2]),
    ("cross_entropy", ["0.25", "0.5"], [1, 0], -math.log(0.25), [-4, 0]),
])
def test_2_3_losses(tmp_path, loss, o, t, value, dldo) -> None:
    # §2.3 loss table, with identity outputs o = inputs.
    text = (f"inputs: [{o[0]}, {o[1]}]\ntargets: [{t[0]}, {t[1]}]\nloss: {loss}\n"
            "layers:\n  - activation: identity\n    weights: [[1, 0], [0, 1]]\n")
    data = solve_json(tmp_path, text)
    assert data["loss"] == pytest.approx(value, rel=1e-12)
    # dL/dW[j][i] = dL/do_j · o_i (identity outputs, inputs = outputs)
    rows = data["gradients"]["layers"][0]["weights"]
    for j in range(2):
        assert rows[j] == pytest.approx([dldo[j] * float(o[0]), dldo[j] * float(o[1])], rel=1e-12)


def test_2_3_default_loss_is_half_squared_error(tmp_path) -> None:
    # §2.3: `half_squared_error` (default).
    text = "inputs: {1: 3}\nneurons:\n  2: {activation: identity, in: {1: 1}}\ntargets: {2: 1}\n"
    assert solve_json(tmp_path, text)["loss"] == 2


def test_2_3_update_rule_and_update_biases_false(tmp_path) -> None:
    # §2.3: θ_new = θ − η ∂J/∂θ for every weight and bias; update_biases: false keeps biases fixed.
    text = ("inputs: {1: 1}\nneurons:\n  2: {activation: identity, in: {1: 1}, bias: 1}\n"
            "targets: {2: 0}\nlearning_rate: 0.5\n")
    data = solve_json(tmp_path, text)
    assert data["updated"]["neurons"]["2"] == {"in": {"1": 0}, "bias": 0}
    fixed = solve_json(tmp_path, text + "options: {update_biases: false}\n")
    assert fixed["updated"]["neurons"]["2"] == {"in": {"1": 0}, "bias": 1}


def test_2_3_precision_option(tmp_path) -> None:
    # §2.3: options.precision is the significant digits shown (default 6); exact values stay exact.
    text = one_neuron("sigmoid", x="1")
    six = run("solve", write(tmp_path, text), "--format", "txt").stdout
    assert "0.731059" in six and "0.7310586" not in six
    three = run("solve", write(tmp_path, text + "options: {precision: 3}\n"), "--format", "txt").stdout
    assert "0.731" in three and "0.7311" not in three
    exact = run("solve", write(tmp_path, one_neuron("identity", x='"1/3"') + "options: {precision: 2}\n"),
                "--format", "txt").stdout
    assert "1/3" in exact


@pytest.mark.parametrize(("option", "value"), [("reduction", "average"), ("update_biases", "maybe"),
                                               ("notation", "greek"), ("precision", "0"),
                                               ("relu_derivative_at_zero", "x")])
def test_2_3_bad_option_values(tmp_path, option, value) -> None:
    # §2.3 options / §4: a bad option value names options.<field>.
    assert_bad(run("solve", write(tmp_path, RELU + f"options: {{{option}: {value}}}\n")), "spec.yaml", option)


# --- §2.4 computational graphs -------------------------------------------------------------


def test_2_4_circuit_json_shape(tmp_path) -> None:
    # §2.4: JSON gradients {"inputs": ..., "parameters": ...}, updated {"parameters": ...}.
    data = solve_json(tmp_path, CIRCUIT)
    s = 1 / (1 + math.exp(-1))
    assert data["quantities"]["f"] == pytest.approx(s, rel=1e-12)
    g = s * (1 - s)
    assert data["gradients"]["inputs"] == pytest.approx({"x0": 2 * g, "x1": -3 * g}, rel=1e-12)
    assert data["gradients"]["parameters"] == pytest.approx({"w0": -g, "w1": -2 * g, "w2": g}, rel=1e-12)
    assert data["updated"] == {"parameters": pytest.approx({"w0": 2 + 0.1 * g, "w1": -3 + 0.2 * g,
                                                            "w2": -3 - 0.1 * g}, rel=1e-12)}
    q = data["quantities"]
    for name in ("df/dx0", "df/dx1", "df/dw0", "df/dw1", "df/dw2", "df/df"):
        assert name in q, name


def test_2_4_every_node_and_gradient_in_quantities(tmp_path) -> None:
    # §2.4: quantities has every node under its own name (q, f) and every gradient (df/dq, df/dx).
    text = "inputs: {x: -2, y: 5, z: -4}\ngraph:\n  q: x + y\n  f: q * z\n"
    data = solve_json(tmp_path, text)
    q = data["quantities"]
    assert (q["q"], q["f"]) == (3, -12)
    assert (q["df/dq"], q["df/dz"], q["df/dx"], q["df/dy"]) == (-4, 3, -4, -4)
    assert data["gradients"] == {"inputs": {"x": -4, "y": -4, "z": 3}, "parameters": {}}
    assert "updated" not in data


def test_2_4_output_and_loss(tmp_path) -> None:
    # §2.4: the output is the last node or `output: NAME`; with targets and a loss, the loss is added.
    text = "inputs: {x: 3}\ngraph:\n  a: 2*x\n  b: x + 1\noutput: a\n"
    q = solve_json(tmp_path, text)["quantities"]
    assert q["da/dx"] == 2
    with_loss = solve_json(tmp_path, "inputs: {x: 3}\ngraph:\n  a: 2*x\ntargets: {a: 1}\nloss: squared_error\n")
    assert with_loss["loss"] == 25
    assert with_loss["gradients"]["inputs"]["x"] == 20


def test_2_4_max_min_sigmoid_relu(tmp_path) -> None:
    # §2.4: formulas use max, min, sigmoid, relu.
    text = "inputs: {x: 2, y: -1}\ngraph:\n  f: max(x, y) + min(x, y) + sigmoid(0) + relu(y)\n"
    data = solve_json(tmp_path, text)
    assert data["quantities"]["f"] == 1.5
    assert data["gradients"]["inputs"] == {"x": 1, "y": 1}


def test_2_4_split_names_gates_in_order(tmp_path) -> None:
    # §2.4: gates: split breaks a formula into elementary gates; without it each node is one gate.
    joined = solve_json(tmp_path, CIRCUIT.replace("gates: split\n", ""))["quantities"]
    split = solve_json(tmp_path, CIRCUIT)["quantities"]
    assert len(split) > len(joined)
    assert split["f"] == pytest.approx(joined["f"], rel=1e-15)


def test_2_4_never_evaluated_as_python(tmp_path) -> None:
    # §2.4 / §2.3: formulas are parsed safely, never evaluated as Python.
    for formula in ("__import__('os').system('true')", "x.__class__", "lambda: 1", "x if x else x", "[x]"):
        text = f'inputs: {{x: 1}}\ngraph:\n  f: "{formula}"\n'
        assert_bad(run("solve", write(tmp_path, text)), "spec.yaml", "graph")


def test_2_4_summed_where_value_feeds_several_gates(tmp_path) -> None:
    # §2.4: gradients summed where a value feeds several gates.
    text = "inputs: {x: 3}\ngraph:\n  a: x*x\n  f: a + x\n"
    assert solve_json(tmp_path, text)["gradients"]["inputs"]["x"] == 7


# --- §2.7 conventions ------------------------------------------------------------------------


def test_2_7_error_term_same_numbers(tmp_path) -> None:
    # §2.7: delta: error_term changes the δ written, not the gradients or updates; JSON carries both.
    plain = solve_json(tmp_path, RELU)
    term = solve_json(tmp_path, RELU + "options: {delta: error_term}\n")
    assert term["gradients"] == plain["gradients"] and term["updated"] == plain["updated"]
    assert any(value == -10 for name, value in term["quantities"].items() if "5" in name and name != "x5"), term["quantities"]


def test_2_7_threshold(tmp_path) -> None:
    # §2.7: threshold θ is a weight on a constant −1 input: x = w x_1 − θ.
    text = ("inputs: {1: 2}\nneurons:\n  2: {activation: identity, in: {1: 1}, threshold: 0.5}\n"
            "targets: {2: 0}\nlearning_rate: 1\n")
    data = solve_json(tmp_path, text)
    assert data["quantities"]["y2"] == 1.5
    assert data["gradients"]["neurons"]["2"]["threshold"] == -1.5
    assert data["updated"]["neurons"]["2"]["threshold"] == 2


def test_2_7_input_by_unit_layout(tmp_path) -> None:
    # §2.7: weights_layout: input_by_unit — weights[i][j], gradients and updated the same.
    text = """\
weights_layout: input_by_unit
inputs: [1, 2]
targets: [0, 0, 0]
learning_rate: 1
layers:
  - activation: identity
    weights: [[1, 0, 1], [0, 1, 1]]
"""
    data = solve_json(tmp_path, text)
    assert data["loss"] == 7
    assert data["gradients"]["layers"][0]["weights"] == [[1, 2, 3], [2, 4, 6]]
    assert data["updated"]["layers"][0]["weights"] == [[0, -2, -2], [-2, -3, -5]]


def test_2_7_target_classes(tmp_path) -> None:
    # §2.7: target_classes one-hot, a list even for one example.
    with_targets = solve_json(tmp_path, "inputs: [1, 2]\ntargets: [0, 1]\nloss: cross_entropy\nlayers:\n"
                              "  - activation: softmax\n    weights: [[1, 0], [0, 1]]\n")
    with_classes = solve_json(tmp_path, "inputs: [1, 2]\ntarget_classes: [1]\nloss: cross_entropy\nlayers:\n"
                              "  - activation: softmax\n    weights: [[1, 0], [0, 1]]\n")
    assert with_classes["loss"] == with_targets["loss"]
    assert with_classes["gradients"] == with_targets["gradients"]
    bad = run("solve", write(tmp_path, "inputs: [1, 2]\ntarget_classes: [2]\nloss: cross_entropy\nlayers:\n"
                             "  - activation: softmax\n    weights: [[1, 0], [0, 1]]\n"))
    assert_bad(bad, "spec.yaml", "target_classes")


def test_2_7_loss_none(tmp_path) -> None:
    # §2.7: loss: none — no targets; differentiates the single output.
    text = "inputs: {1: 3}\nneurons:\n  2: {activation: identity, in: {1: 2}}\nloss: none\n"
    data = solve_json(tmp_path, text)
    assert data["gradients"]["neurons"]["2"]["in"]["1"] == 3


def test_2_7_input_gradients(tmp_path) -> None:
    # §2.7: options.input_gradients: true adds ∂J/∂x for every input.
    data = solve_json(tmp_path, RELU + "options: {input_gradients: true}\n")
    q = data["quantities"]
    assert q["dL/dx1"] == 40 and q["dL/dx2"] == -60


def test_2_7_rounding(tmp_path) -> None:
    # §2.7: options.rounding rounds every line and carries the rounded value; JSON exact keeps unrounded.
    text = one_neuron("sigmoid", x="1", target="1") + "options: {rounding: {decimals: 3}}\n"
    data = solve_json(tmp_path, text)
    assert data["quantities"]["y2"] == 0.731
    assert data["quantities"]["L"] == 0.036  # (0.731 − 1)²/2 = 0.0361805 → 0.036
    sig = solve_json(tmp_path, one_neuron("sigmoid", x="1", target="1") + "options: {rounding: {significant: 2}}\n")
    assert sig["quantities"]["y2"] == 0.73


# --- §3 the worked solution ------------------------------------------------------------------


def test_3_forward_line_as_spec_writes_it(tmp_path) -> None:
    # §3: x_3 = x_1 w_{13} + x_2 w_{23} = 1·2 + (−1)·(−3) = 5.
    out = run("solve", write(tmp_path, RELU), "--format", "txt").stdout
    assert "x₃ = x₁ w₁₃ + x₂ w₂₃ = 1 · 2 + (−1) · (−3) = 5" in out


@pytest.mark.parametrize("fmt", ["md", "txt", "tex", "html"])
def test_3_sections(tmp_path, fmt) -> None:
    # §3: the network, forward pass, loss, backward pass, update, new parameters.
    out = run("solve", write(tmp_path, RELU), "--format", fmt).stdout.lower()
    for word in ("network", "forward", "loss", "backward", "update"):
        assert word in out, word


@pytest.mark.parametrize("notation", ["indexed", "layered", "ng"])
def test_3_notations(tmp_path, notation) -> None:
    # §3 / §4: --notation indexed|layered|ng for both forms.
    for text in (RELU, DENSE):
        result = run("solve", write(tmp_path, text), "--notation", notation, "--format", "json")
        assert result.exit_code == 0
        assert json.loads(result.stdout)["notation"] == notation


def test_3_default_notations(tmp_path) -> None:
    # §3: indexed is the default for named neurons, ng for dense layers.
    assert solve_json(tmp_path, RELU)["notation"] == "indexed"
    assert solve_json(tmp_path, DENSE)["notation"] == "ng"


@pytest.mark.parametrize("fmt", ["md", "txt", "tex", "html"])
def test_3_integers_no_minus_zero(tmp_path, fmt) -> None:
    # §3: integers print as integers; nothing prints as -0.
    text = "inputs: {1: 0}\nneurons:\n  2: {activation: identity, in: {1: -1}}\ntargets: {2: 0}\nlearning_rate: 1\n"
    out = run("solve", write(tmp_path, text), "--format", fmt).stdout
    for bad in ("-0 ", "−0 ", "-0\n", "−0\n", "-0.0", "−0.0", "= -0", "= −0", "2.0 ", "1.0 "):
        assert bad not in out, (bad, out)


def test_3_json_integers_are_integers_no_minus_zero(tmp_path) -> None:
    # §3 / §4.1: integers as JSON integers; no -0.0.
    text = "inputs: {1: 0}\nneurons:\n  2: {activation: identity, in: {1: -1}}\ntargets: {2: 0}\nlearning_rate: 1\n"
    raw = run("solve", write(tmp_path, text), "--format", "json").stdout
    assert "-0" not in raw.replace('"-0', "")
    data = json.loads(raw)
    assert all(isinstance(v, int) for v in data["quantities"].values())


def test_3_short_fractions_stay_fractions(tmp_path) -> None:
    # §3: exact fractions stay fractions where short.
    out = run("solve", write(tmp_path, one_neuron("identity", x='"1/3"')), "--format", "txt").stdout
    assert "1/3" in out or "⅓" in out


# --- §4 command line ---------------------------------------------------------------------------


def test_4_exit_codes(tmp_path) -> None:
    # §4: 0 success; 1 check found a wrong answer; 2 bad usage or an invalid spec.
    spec = write(tmp_path, RELU)
    assert run("solve", spec).exit_code == 0
    assert run("check", spec, write(tmp_path, "x3: 5\n", "right.yaml")).exit_code == 0
    assert run("check", spec, write(tmp_path, "x3: 6\n", "wrong.yaml")).exit_code == 1
    assert run("solve", spec, "--format", "docx").exit_code == 2
    assert run("solve", str(tmp_path / "missing.yaml")).exit_code == 2
    assert run("frobnicate").exit_code == 2


@pytest.mark.parametrize(("text", "path"), [
    (DENSE.replace("[0.40, 0.45], [0.50, 0.55]", "[0.40, 0.45, 1], [0.50, 0.55]"), "layers[1].weights"),
    (DENSE.replace("activation: sigmoid", "activation: sigmoyd", 1), "layers[0].activation"),
    (RELU.replace("in: {3: 2, 4: -1}", "in: {3: 2, 9: -1}"), "neurons"),
    (RELU.replace("targets: {5: 0}", "targets: {5: x}"), "targets"),
    (RELU.replace("loss: half_squared_error", "loss: hinge"), "loss"),
    (RELU.replace("learning_rate: 0.1", "learning_rate: fast"), "learning_rate"),
    ("- 1\n- 2\n", "spec.yaml"),
    ("inputs: [1, 2\n", "spec.yaml"),
    ("", "spec.yaml"),
])
def test_4_invalid_spec_one_line(tmp_path, text, path) -> None:
    # §4: one clear message naming the file and the field path; never a traceback.
    result = run("solve", write(tmp_path, text))
    assert_bad(result, "spec.yaml", path)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_4_invalid_spec_writes_no_file(tmp_path) -> None:
    # §4: no output file is written or left half-written.
    out = tmp_path / "out.md"
    result = run("solve", write(tmp_path, RELU.replace("relu", "relux", 1)), "-o", str(out))
    assert result.exit_code == 2
    assert not out.exists()


def test_4_stdin(tmp_path) -> None:
    # §4 Files: SPEC and ANSWERS may be `-` for standard input.
    result = run("solve", "-", "--format", "json", stdin=RELU)
    assert result.exit_code == 0 and json.loads(result.stdout)["loss"] == 50
    check = run("check", write(tmp_path, RELU), "-", "--format", "json", stdin="x3: 5\n")
    assert check.exit_code == 0 and json.loads(check.stdout)["summary"]["right"] == 1


@pytest.mark.parametrize(("suffix", "marker"), [(".md", "# ReLU"), (".tex", r"\documentclass"), (".txt", "ReLU exercise"),
                                                (".html", "<html"), (".json", '"loss"')])
def test_4_output_suffix_gives_format(tmp_path, suffix, marker) -> None:
    # §4: -o FILE takes its format from the suffix; "Wrote" said on standard error.
    out = tmp_path / f"solution{suffix}"
    result = run("solve", write(tmp_path, RELU), "-o", str(out))
    assert result.exit_code == 0
    assert marker in out.read_text()
    assert result.stdout == ""
    assert str(out) in result.stderr


@pytest.mark.parametrize("options", [("-o", "x.docx"), ("-o", "x.md", "--format", "json"), ("-o", "x")])
def test_4_bad_output_paths(tmp_path, options) -> None:
    # §4: unknown suffix, suffix contradicting --format: exit 2, nothing written.
    options = tuple(str(tmp_path / o) if o.startswith("x") else o for o in options)
    result = run("solve", write(tmp_path, RELU), *options)
    assert result.exit_code == 2, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_4_output_is_an_input(tmp_path) -> None:
    # §4: an output path that is one of the command's own inputs is bad usage.
    spec = write(tmp_path, RELU, "spec.json")
    Path(spec).write_text(json.dumps(yaml.safe_load(RELU)))
    before = Path(spec).read_text()
    result = run("solve", spec, "-o", spec)
    assert result.exit_code == 2
    assert Path(spec).read_text() == before
    answers = write(tmp_path, "x3: 5\n", "answers.json")
    result = run("check", spec, answers, "-o", answers)
    assert result.exit_code == 2
    assert Path(answers).read_text() == "x3: 5\n"


@pytest.mark.parametrize("command", ["solve", "check", "derive"])
def test_4_pdf_never_to_a_terminal(tmp_path, command) -> None:
    # §4: binary output (pdf) is never written to a terminal: exit 2, nothing on the terminal.
    import os
    import pty
    import select
    import subprocess
    import sys
    spec = write(tmp_path, RELU)
    inputs = [spec, write(tmp_path, "x3: 5\n", "a.yaml")] if command == "check" else [spec]
    terminal, end = pty.openpty()
    process = subprocess.run([sys.executable, "-m", "backprop_derive", command, *inputs, "--format", "pdf"],
                             stdout=end, stderr=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent,
                             timeout=60)
    os.close(end)
    try:
        shown = os.read(terminal, 65536) if select.select([terminal], [], [], 0.1)[0] else b""
    except OSError:  # NOTE: Linux reports EIO on a terminal whose other end is closed and empty
        shown = b""
    os.close(terminal)
    assert process.returncode == 2
    assert b"Traceback" not in process.stderr and b"-o" in process.stderr
    assert b"%PDF" not in shown


# --- §4.1 solve --format json -----------------------------------------------------------------


def test_4_1_every_value_a_json_number(tmp_path) -> None:
    # §4.1: every value of loss, quantities, gradients, updated a JSON number.
    for text in (RELU, DENSE, CIRCUIT):
        data = solve_json(tmp_path, text)
        assert isinstance(data["loss"], (int, float))
        for key in ("quantities", "gradients", "updated"):
            for value in numbers_in(data[key]):
                assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
                assert math.isfinite(value)


def test_4_1_quantity_names_are_ascii(tmp_path) -> None:
    # §4.1: a flat map from every quantity's ASCII name.
    # (a graph's quantities carry its own node names: --notation is refused there, exit 2.)
    assert run("solve", write(tmp_path, CIRCUIT), "--notation", "ng").exit_code == 2
    for name in solve_json(tmp_path, CIRCUIT)["quantities"]:
        assert name.isascii() and " " not in name, name
    for text in (RELU, DENSE):
        for notation in ("indexed", "layered", "ng"):
            for name in solve_json(tmp_path, text, "--notation", notation)["quantities"]:
                assert name.isascii() and " " not in name, name


def test_4_1_quantities_cover_inputs_to_updates(tmp_path) -> None:
    # §4.1: inputs, pre-activations, activations, loss, each gradient, each updated parameter.
    q = solve_json(tmp_path, DENSE)["quantities"]
    assert len(q) >= 2 + 4 + 4 + 1 + 12 + 12
    assert sum(1 for name in q if name.endswith("_new") or "new" in name) >= 12


def test_4_1_updated_pastes_back(tmp_path) -> None:
    # §4.1: `updated` has the spec's shape so that it can be pasted back into the spec.
    for text, key in ((DENSE, "layers"), (RELU, "neurons"), (CIRCUIT, "parameters")):
        spec = yaml.safe_load(text)
        first = solve_json(tmp_path, text, "--steps", "2")
        updated = first["steps"][0]["updated"]
        if key == "layers":
            for layer, new in zip(spec["layers"], updated["layers"], strict=True):
                layer.update(new)
        elif key == "neurons":
            for name, new in updated["neurons"].items():
                spec["neurons"][int(name)].update({"in": {int(k): v for k, v in new["in"].items()}}
                                                  | {k: v for k, v in new.items() if k != "in"})
        else:
            spec["parameters"] = updated["parameters"]
        second = solve_json(tmp_path, json.dumps(spec))
        assert second["loss"] == pytest.approx(first["steps"][1]["loss"], rel=1e-9)


def test_4_1_steps(tmp_path) -> None:
    # §4.1: with --steps N, `steps` is a list with one such object per step.
    data = solve_json(tmp_path, RELU, "--steps", "3")
    assert len(data["steps"]) == 3
    for step in data["steps"]:
        assert {"loss", "quantities", "gradients", "updated"} <= set(step)
    assert data["steps"][0]["loss"] == 50
    assert data["steps"][1]["loss"] < 50
    assert run("solve", write(tmp_path, RELU), "--steps", "0").exit_code == 2
    assert run("solve", write(tmp_path, RELU.replace("learning_rate: 0.1\n", "")), "--steps", "2").exit_code == 2


def test_4_1_precision_flag(tmp_path) -> None:
    # §4: --precision N.
    out = run("solve", write(tmp_path, one_neuron("sigmoid", x="1")), "--format", "txt", "--precision", "3").stdout
    assert "0.731" in out and "0.7311" not in out


# --- §4.2 check -------------------------------------------------------------------------------


def check_json(tmp_path: Path, answers: str, spec: str = RELU, *options: str):
    result = run("check", write(tmp_path, spec), write(tmp_path, answers, "answers.yaml"), "--format", "json", *options)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def verdicts(report: dict) -> dict:
    return {a["name"]: a["verdict"] for a in report["answers"]}


def test_4_2_report_shape(tmp_path) -> None:
    # §4.2: {"answers": [{"name","given","expected","verdict","mistake","explanation"}], "summary": {...}}.
    code, report = check_json(tmp_path, "x3: 5\ndL/dw13: 10\n")
    assert code == 1
    answer = next(a for a in report["answers"] if a["name"] == "dL/dw13")
    assert {"name", "given", "expected", "verdict", "mistake", "explanation"} <= set(answer)
    assert answer["given"] == 10 and answer["expected"] == 20 and answer["verdict"] == "wrong"
    assert {"right", "wrong", "carried_forward", "unknown"} <= set(report["summary"])
    assert report["summary"]["right"] == 1 and report["summary"]["wrong"] == 1


def test_4_2_digits_written_rule(tmp_path) -> None:
    # §4.2: right when it equals the true value rounded to the digits written, ±1 in the last digit.
    dense_answers = "a[2]_1: 0.75136507\nL: 0.2984\nJ: 0.298\n"
    code, report = check_json(tmp_path, "y2: 0.731\n", one_neuron("sigmoid", x="1"))
    assert verdicts(report)["y2"] == "right"
    _, report = check_json(tmp_path, "y2: 0.732\n", one_neuron("sigmoid", x="1"))
    assert verdicts(report)["y2"] == "right"   # ±1 in the last digit
    _, report = check_json(tmp_path, "y2: 0.730\n", one_neuron("sigmoid", x="1"))
    assert verdicts(report)["y2"] == "right"
    _, report = check_json(tmp_path, "y2: 0.733\n", one_neuron("sigmoid", x="1"))
    assert verdicts(report)["y2"] == "wrong"
    _, report = check_json(tmp_path, "y2: 0.7306\n", one_neuron("sigmoid", x="1"))
    assert verdicts(report)["y2"] == "wrong"
    del dense_answers


def test_4_2_tolerance(tmp_path) -> None:
    # §4.2: within --tolerance when given.
    _, report = check_json(tmp_path, "y2: 0.74\n", one_neuron("sigmoid", x="1"), "--tolerance", "0.01")
    assert verdicts(report)["y2"] == "right"
    _, report = check_json(tmp_path, "y2: 0.75\n", one_neuron("sigmoid", x="1"), "--tolerance", "0.01")
    assert verdicts(report)["y2"] == "wrong"
    assert run("check", write(tmp_path, RELU), write(tmp_path, "x3: 5\n", "a.yaml"), "--tolerance", "-1").exit_code == 2


def test_4_2_unknown_name_with_suggestions(tmp_path) -> None:
    # §4.2: a name the solution lacks is `unknown`, with the closest valid names; exit 1.
    code, report = check_json(tmp_path, "x33: 5\n")
    assert code == 1
    assert verdicts(report) == {"x33": "unknown"}
    assert report["summary"]["unknown"] == 1
    answer = report["answers"][0]
    assert "x3" in json.dumps(answer)


def test_4_2_unanswered(tmp_path) -> None:
    # §4.2: an answer left empty is `unanswered`, counted in summary, exit 1.
    code, report = check_json(tmp_path, "x3: 5\ny3:\n")
    assert code == 1
    assert verdicts(report)["y3"] == "unanswered"
    assert report["summary"]["unanswered"] == 1


def test_4_2_min_digits(tmp_path) -> None:
    # §4.2: --min-digits (default 2): fewer significant digits is imprecise unless exactly true.
    code, report = check_json(tmp_path, "y2: 0.7\n", one_neuron("sigmoid", x="1"))
    assert verdicts(report)["y2"] == "imprecise" and code == 1
    _, report = check_json(tmp_path, "x3: 5\n")
    assert verdicts(report)["x3"] == "right"
    _, report = check_json(tmp_path, "y2: 0.7\n", one_neuron("sigmoid", x="1"), "--min-digits", "1")
    assert verdicts(report)["y2"] == "right"


def test_4_2_zero_only_when_exactly_zero(tmp_path) -> None:
    # §4.2: an answer of 0 is right only when the true value is exactly 0.
    _, report = check_json(tmp_path, "dL/dw14: 0\n")
    assert verdicts(report)["dL/dw14"] == "right"
    text = one_neuron("sigmoid", x="-12")  # y2 ≈ 6.1e-6
    _, report = check_json(tmp_path, "y2: 0\n", text)
    assert verdicts(report)["y2"] != "right"


def test_4_2_calculator_digits(tmp_path) -> None:
    # §4.2: more digits than a double holds: right when it agrees to 1e-12 relative.
    text = one_neuron("sigmoid", x="1")
    _, report = check_json(tmp_path, "y2: 0.73105857863000487925115924182183627\n", text)
    assert verdicts(report)["y2"] == "right"
    _, report = check_json(tmp_path, "y2: 0.73105857863100487925115924182183627\n", text)
    assert verdicts(report)["y2"] == "wrong"


def test_4_2_carried_forward(tmp_path) -> None:
    # §4.2: right given an earlier wrong answer; recomputed from the student's own numbers.
    code, report = check_json(tmp_path, "x3: 6\ny3: 6\n")
    assert code == 1
    assert verdicts(report) == {"x3": "wrong", "y3": "carried_forward"}
    assert report["summary"]["carried_forward"] == 1


def test_4_2_no_carried_forward_for_trivial_zero(tmp_path) -> None:
    # §4.2: never carried forward for a trivial value such as 0 that follows from anything.
    _, report = check_json(tmp_path, "x4: -4\ny4: 0\n")
    assert verdicts(report)["y4"] == "right"


@pytest.mark.parametrize(("answers", "mistake"), [
    ("dL/dy5: -10\n", "sign_flip"),
    ("L: 100\n", "missing_half"),
    ("w13_new: 4\n", "added_gradient"),
    ("w13_new: -18\n", "missing_learning_rate"),
])
def test_4_2_mistake_codes(tmp_path, answers, mistake) -> None:
    # §4.2: mistake codes listed in the spec.
    _, report = check_json(tmp_path, answers)
    assert report["answers"][0]["verdict"] == "wrong"
    assert report["answers"][0]["mistake"] == mistake, report["answers"][0]


def test_4_2_mistake_dropped_activation_derivative(tmp_path) -> None:
    # §4.2 mistake: dropped_activation_derivative; wrong_activation_derivative (σ for σ(1−σ)).
    text = one_neuron("sigmoid", x="1", target="1") + "learning_rate: 1\n"
    q = solve_json(tmp_path, text)["quantities"]
    y = q["y2"]
    dropped = (y - 1) * 1  # dL/dw without σ'
    _, report = check_json(tmp_path, f"dL/dw12: {dropped:.4g}\n", text)
    assert report["answers"][0]["mistake"] == "dropped_activation_derivative", report
    wrong = (y - 1) * y
    _, report = check_json(tmp_path, f"dL/dw12: {wrong:.4g}\n", text)
    assert report["answers"][0]["mistake"] == "wrong_activation_derivative", report


def test_4_2_mistake_missing_mean(tmp_path) -> None:
    # §4.2 mistake: missing_mean (1/m of a batch dropped).
    text = "inputs: [{1: 1}, {1: 3}]\nneurons:\n  2: {activation: identity, in: {1: 1}}\ntargets: [{2: 0}, {2: 0}]\n"
    _, report = check_json(tmp_path, "dL/dw12: 10\n", text)
    assert report["answers"][0]["mistake"] == "missing_mean", report


def test_4_2_answer_names(tmp_path) -> None:
    # §4.2: answer_names: a course's own names, accepted by check and shown in the report.
    # (answer_names maps the course's name to the solution's, as examples/mazur_2_2_2.yaml does.)
    text = RELU + "answer_names: {h_a: x3}\n"
    code, report = check_json(tmp_path, "h_a: 5\n", text)
    assert code == 0
    assert report["answers"][0]["verdict"] == "right"
    assert report["answers"][0]["name"] == "x3" and report["answers"][0]["answer_name"] == "h_a"
    for fmt in ("txt", "md"):
        result = run("check", write(tmp_path, text), write(tmp_path, "h_a: 5\n", "a.yaml"), "--format", fmt)
        assert "h_a" in result.stdout, fmt


def test_4_2_text_and_markdown_reports(tmp_path) -> None:
    # §4 check: --format txt|md.
    for fmt in ("txt", "md"):
        result = run("check", write(tmp_path, RELU), write(tmp_path, "x3: 6\n", "a.yaml"), "--format", fmt)
        assert result.exit_code == 1
        assert "x3" in result.stdout and "5" in result.stdout


def test_4_2_bad_answers_file(tmp_path) -> None:
    # §4: a bad answers file gets one line naming the file; exit 2.
    result = run("check", write(tmp_path, RELU), write(tmp_path, "- 1\n- 2\n", "a.yaml"))
    assert_bad(result, "a.yaml")


def test_4_2_folder_mode(tmp_path) -> None:
    # §4.2: a folder of answer files; -o grades.csv one row per student; one bad file never stops others.
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.yaml").write_text("x3: 5\ny3: 5\n")
    (folder / "bob.yml").write_text("x3: 6\n")
    (folder / "carol.json").write_text('{"x3": 5}')
    (folder / "dave.yaml").write_text("x3: [\n")
    grades = tmp_path / "grades.csv"
    sheets = tmp_path / "sheets"
    result = run("check", write(tmp_path, RELU), str(folder), "-o", str(grades), "--sheets", str(sheets), "--format", "md")
    assert result.exit_code == 1
    rows = grades.read_text().splitlines()
    assert len(rows) == 1 + 4
    assert any(row.startswith("alice") for row in rows) and any(row.startswith("dave") for row in rows)
    assert "x3" in rows[0]
    assert (sheets / "alice.md").exists() and (sheets / "bob.md").exists()
    assert "grades.csv" in result.stderr and "sheets" in result.stderr
    assert run("check", write(tmp_path, RELU), str(tmp_path / "nope"), "-o", str(grades)).exit_code == 2


def test_4_2_folder_all_right_exit_0(tmp_path) -> None:
    # §4.2: exit 0 when every sheet is right.
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.yaml").write_text("x3: 5\n")
    result = run("check", write(tmp_path, RELU), str(folder), "-o", str(tmp_path / "grades.csv"))
    assert result.exit_code == 0, result.output


def test_4_2_names(tmp_path) -> None:
    # §4.2: `names SPEC` prints a blank answers file: every name check accepts, in order.
    result = run("names", write(tmp_path, RELU))
    assert result.exit_code == 0
    blank = yaml.safe_load(result.stdout)
    assert isinstance(blank, dict)
    assert all(value is None for value in blank.values())
    q = solve_json(tmp_path, RELU)["quantities"]
    computed = [name for name in q if name in blank]
    assert "x3" in blank and "w13_new" in blank and "dL/dw13" in blank
    assert computed == [name for name in blank if name in q]
    # the blank file checks as all unanswered, exit 1, never an error
    code, report = check_json(tmp_path, result.stdout)
    assert code == 1 and report["summary"]["unanswered"] == len(blank)


# --- §4.3 generate ----------------------------------------------------------------------------


def listing(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_4_3_generate_files_and_determinism(tmp_path) -> None:
    # §4.3: variant-k/{spec.yaml, problem.md, solution.md}, problems.md, answers.md; --seed byte-identical.
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        result = run("generate", "--arch", "2-2-1", "--activation", "relu", "--count", "2", "--seed", "7", "-o", str(folder))
        assert result.exit_code == 0, result.output
        assert str(folder) in result.stderr or "Wrote" in result.stderr
    files = listing(a)
    assert files == listing(b)
    for k in (1, 2):
        for name in ("spec.yaml", "problem.md", "solution.md"):
            assert f"variant-{k}/{name}" in files, files.keys()
    assert "problems.md" in files and "answers.md" in files
    spec = a / "variant-1" / "spec.yaml"
    assert run("solve", str(spec)).exit_code == 0
    problem = files["variant-1/problem.md"].decode()
    solution = json.loads(run("solve", str(spec), "--format", "json").stdout)
    assert f"{solution['loss']}" not in problem or solution["loss"] in (0, 1)


def test_4_3_never_overwrites_without_force(tmp_path) -> None:
    # §4.3: existing files are never overwritten without --force.
    out = tmp_path / "out"
    arguments = ("generate", "--arch", "2-1", "--count", "1", "--seed", "1", "-o", str(out))
    assert run(*arguments).exit_code == 0
    before = listing(out)
    (out / "problems.md").write_text("mine")
    result = run(*arguments[:-2], "--seed", "2", "-o", str(out))
    assert result.exit_code == 2
    assert (out / "problems.md").read_text() == "mine"
    assert run(*arguments, "--force").exit_code == 0
    assert listing(out) == before


@pytest.mark.parametrize("text", [RELU, DENSE, CIRCUIT])
def test_4_3_from_every_form(tmp_path, text) -> None:
    # §4.3: --from SPEC keeps the structure, draws new numbers; works for every spec form.
    out = tmp_path / "out"
    result = run("generate", "--from", write(tmp_path, text), "--count", "1", "--seed", "3", "-o", str(out))
    assert result.exit_code == 0, result.output
    original = yaml.safe_load(text)
    variant = yaml.safe_load((out / "variant-1" / "spec.yaml").read_text())
    for key in ("layers", "neurons", "graph"):
        if key in original:
            assert key in variant
            if key == "layers":
                shape = [len(layer["weights"]) for layer in original["layers"]]
                assert [len(layer["weights"]) for layer in variant["layers"]] == shape
            elif key == "neurons":
                assert set(variant["neurons"]) == set(original["neurons"])
    assert run("solve", str(out / "variant-1" / "spec.yaml")).exit_code == 0


@pytest.mark.parametrize(("fmt", "name"), [("moodle", "quiz.moodle.xml"), ("qti", "quiz.qti.zip")])
def test_4_3_lms(tmp_path, fmt, name) -> None:
    # §4.3: --format moodle writes quiz.moodle.xml, qti writes quiz.qti.zip, beside the variants' files.
    out = tmp_path / "out"
    result = run("generate", "--arch", "2-1", "--count", "2", "--seed", "5", "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert (out / name).exists()
    assert (out / "variant-1" / "spec.yaml").exists()
    if fmt == "moodle":
        import xml.etree.ElementTree as ET
        root = ET.parse(out / name).getroot()
        assert len([q for q in root.iter("question") if q.get("type") != "category"]) == 2
    else:
        import zipfile
        with zipfile.ZipFile(out / name) as archive:
            assert "imsmanifest.xml" in archive.namelist()


def test_4_3_bad_generate_usage(tmp_path) -> None:
    # §4 / §4.3: bad usage exits 2 with nothing written.
    out = tmp_path / "out"
    for arguments in (("--arch", "2-x-1"), ("--activation", "nope"), ("--loss", "nope"), ("--count", "0")):
        result = run("generate", *arguments, "-o", str(out))
        assert result.exit_code == 2, (arguments, result.output)
        assert "Traceback" not in result.output
        assert not out.exists()


# --- further statements: mistakes, derive/names files, generate messages ------------------------

# §4.2: a relu whose pre-activation is exactly 0 (x3 = 1 − 1), feeding an identity output.
RELU_AT_ZERO = """\
inputs: {1: 1, 2: 1}
neurons:
  3: {activation: relu, in: {1: 1, 2: -1}}
  4: {activation: identity, in: {3: 2}, bias: 1}
targets: {4: 0}
"""
# §4.2: node 2 feeds two outputs, so dL/dy2 sums two paths: 2·2 + 3·3 = 13.
TWO_PATHS = """\
inputs: {1: 1}
neurons:
  2: {activation: identity, in: {1: 1}}
  3: {activation: identity, in: {2: 2}}
  4: {activation: identity, in: {2: 3}}
targets: {3: 0, 4: 0}
"""


@pytest.mark.parametrize(("spec", "answers", "mistake"), [
    (RELU_AT_ZERO, "dL/dw13: 2\n", "relu_derivative_at_zero"),   # relu'(0) taken as 1
    (RELU, "dL/dw45: -30\n", "pre_activation_as_input"),        # δ5 · x4 instead of δ5 · y4
    (RELU, "dL/dw13: -30\n", "stale_weight"),                   # δ passed back through w35_new = −3
    (TWO_PATHS, "dL/dw12: 4\n", "missing_path"),                # only the path through 3
    (TWO_PATHS, "dL/dw12: 9\n", "missing_path"),                # only the path through 4
])
def test_4_2_more_mistake_codes(tmp_path, spec, answers, mistake) -> None:
    # §4.2: the remaining mistake codes the spec lists.
    code, report = check_json(tmp_path, answers, spec)
    assert code == 1
    assert report["answers"][0]["verdict"] == "wrong"
    assert report["answers"][0]["mistake"] == mistake, report["answers"][0]


@pytest.mark.parametrize(("answer", "verdict"), [("0.5", "right"), ('"1/2"', "right"), ("0.50", "right"),
                                                 ("0.4", "wrong"), ("0.6", "wrong")])
def test_4_2_exact_values_need_no_digits(tmp_path, answer, verdict) -> None:
    # §4.2: --min-digits applies unless the answer is exactly the true value (σ(0) = 1/2 exactly).
    _, report = check_json(tmp_path, f"y2: {answer}\n", one_neuron("sigmoid", x="0"))
    assert verdicts(report)["y2"] == verdict


def test_4_2_error_term_carries_both(tmp_path) -> None:
    # §2.7: with delta: error_term, JSON carries both δ (the error term) and ∂L/∂x.
    # (main keeps `quantities` to the names check takes: ∂L/∂x sits apart in pre_activation_gradients.)
    data = solve_json(tmp_path, RELU + "options: {delta: error_term}\n")
    assert data["quantities"]["delta5"] == -10 and data["pre_activation_gradients"]["dL/dx5"] == 10


@pytest.mark.parametrize("command", ["derive", "names"])
def test_4_derive_and_names_write_files(tmp_path, command) -> None:
    # §4: derive and names write files too: "Wrote" on standard error; never over their own input.
    spec = write(tmp_path, RELU)
    out = tmp_path / ("out.md" if command == "derive" else "out.yaml")
    result = run(command, spec, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.exists() and result.stdout == "" and str(out) in result.stderr
    before = Path(spec).read_text()
    assert run(command, spec, "-o", spec).exit_code == 2
    assert Path(spec).read_text() == before


def test_4_3_says_what_it_wrote(tmp_path) -> None:
    # §4: every command that writes files says what it wrote on standard error (and counts right).
    out = tmp_path / "out"
    result = run("generate", "--arch", "2-1", "--count", "1", "--seed", "1", "-o", str(out))
    assert result.exit_code == 0
    assert result.stderr.startswith("Wrote 1 variant and their key") and str(out) in result.stderr


def test_4_3_lms_tolerance_follows_option(tmp_path) -> None:
    # §4.3: tolerances follow --tolerance.
    out = tmp_path / "out"
    result = run("generate", "--arch", "2-1", "--activation", "sigmoid", "--count", "1", "--seed", "2",
                 "--format", "moodle", "--tolerance", "0.1", "-o", str(out))
    assert result.exit_code == 0
    tolerances = re.findall(r"NUMERICAL:=[^:}]+:([^}]+)\}", (out / "quiz.moodle.xml").read_text())
    assert tolerances and set(tolerances) == {"0.1"}, tolerances


def test_4_1_each_value_is_the_nearest_double(tmp_path) -> None:
    # §4.1: every value a JSON number, the double nearest the exact value (exact forms under `exact`).
    from fractions import Fraction
    text = ('inputs: {1: "1/3", 2: 0.7}\nneurons:\n  3: {activation: identity, in: {1: "2/7", 2: 0.1}, bias: "1/9"}\n'
            "targets: {3: 0.3}\nlearning_rate: 0.1\n")
    data = solve_json(tmp_path, text)
    for name, value in data["quantities"].items():
        assert value == float(Fraction(data["exact"][name])), name
    import mpmath
    with mpmath.workdps(60):
        y = 1 / (1 + mpmath.exp(-mpmath.mpf(1) / 3))
        assert solve_json(tmp_path, one_neuron("sigmoid", x='"1/3"'))["quantities"]["y2"] == float(y)


def test_4_2_folder_csv_columns(tmp_path) -> None:
    # §4.2: grades.csv: file name, one column per quantity with its verdict, the counts.
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.yaml").write_text("x3: 5\ny3: 5\n")
    (folder / "bob.yaml").write_text("x3: 6\ny3: 6\n")
    grades = tmp_path / "grades.csv"
    assert run("check", write(tmp_path, RELU), str(folder), "-o", str(grades)).exit_code == 1
    import csv
    rows = list(csv.DictReader(grades.read_text().splitlines()))
    assert [row["file"] for row in rows] == ["alice.yaml", "bob.yaml"]
    assert (rows[1]["x3"], rows[1]["y3"]) == ("wrong", "carried_forward")
    assert (rows[1]["right"], rows[1]["wrong"], rows[1]["carried_forward"]) == ("0", "1", "1")


@pytest.mark.parametrize(("graph", "path"), [
    ("inputs: {x: 1}\ngraph:\n  f: log(x - 1)\n", "graph.f"),
    ("inputs: {x: 0}\ngraph:\n  q: 2*x\n  f: 1/q\ngates: split\n", "graph.f"),
    ("inputs: {x: 0}\ngraph:\n  f: sqrt(x)*2\n", "graph.f"),
    ("inputs: {x: 0}\ngraph:\n  f: 2*x\ntargets: {f: 1}\nloss: binary_cross_entropy\n", "loss"),
])
def test_2_4_no_finite_value_names_the_node(tmp_path, graph, path) -> None:
    # §4: an exercise with no finite solution is one line naming the file and the field path (the node).
    result = run("solve", write(tmp_path, graph), "--format", "json")
    assert_bad(result, "spec.yaml", f": {path}: ")
    if "1/" in graph or "log" in graph:
        assert "is infinite" in result.stderr


def test_2_3_thirty_digits(tmp_path) -> None:
    # §2.3: once exp enters, a value is carried with at least 30 significant digits.
    import mpmath
    out = run("solve", write(tmp_path, one_neuron("sigmoid", x="1")), "--format", "txt", "--precision", "30").stdout
    with mpmath.workdps(50):
        assert mpmath.nstr(1 / (1 + mpmath.exp(-1)), 30) in out


def test_4_3_problem_has_no_answers_and_the_key_has_them(tmp_path) -> None:
    # §4.3: problem.<ext> asks for the output, the loss, the gradients and the updated parameters, with no
    # answers; the answer key and solution.<ext> hold them.
    out = tmp_path / "out"
    result = run("generate", "--arch", "2-2-1", "--activation", "sigmoid", "--count", "1", "--seed", "9", "-o", str(out))
    assert result.exit_code == 0
    data = json.loads(run("solve", str(out / "variant-1" / "spec.yaml"), "--format", "json").stdout)
    problem = (out / "variant-1" / "problem.md").read_text()
    answers = (out / "answers.md").read_text()
    solution = (out / "variant-1" / "solution.md").read_text()
    shown = [f"{value:.6g}" for name, value in data["quantities"].items()
             if name.startswith(("dJ/", "dL/")) and not float(value).is_integer()]
    assert shown
    for value in shown:
        assert value not in problem, value
        assert value in solution, value
    assert f"{data['loss']:.6g}" in answers and f"{data['loss']:.6g}" not in problem


@pytest.mark.parametrize(("bias", "asked"), [("--no-bias", "each weight:"), ("--bias", "each weight and bias:")])
def test_4_3_questions_ask_for_what_the_network_has(tmp_path, bias, asked) -> None:
    # §4.3: the problem asks for the gradients (of the parameters the network has: no biases, no bias question).
    out = tmp_path / "out"
    assert run("generate", "--arch", "2-1", bias, "--count", "1", "--seed", "1", "-o", str(out)).exit_code == 0
    assert asked in (out / "variant-1" / "problem.md").read_text()


@pytest.mark.parametrize("blank", ['""', "~", '" "'])
def test_4_2_blank_answers_are_unanswered(tmp_path, blank) -> None:
    # §4.2: an answer left empty is `unanswered`, never an error.
    code, report = check_json(tmp_path, f"x3: {blank}\n")
    assert code == 1 and verdicts(report) == {"x3": "unanswered"}


@pytest.mark.parametrize(("value", "said"), [('"?"', "'?'"), ("[]", "an empty list"), ("{}", "an empty map"),
                                             ("true", "true")])
def test_4_2_a_non_number_answer_is_one_line(tmp_path, value, said) -> None:
    # §4: a bad answers file gets one line naming the file, the field and what was expected; exit 2.
    result = run("check", write(tmp_path, RELU), write(tmp_path, f"x3: {value}\n", "a.yaml"))
    assert_bad(result, "a.yaml: x3: expected a number", said)


def test_4_1_top_level_loss_is_before_the_first_update(tmp_path) -> None:
    # §4.1: `loss` is the cost J before the update; with --steps, steps[0] is that same step.
    data = solve_json(tmp_path, RELU, "--steps", "2")
    assert data["loss"] == data["steps"][0]["loss"] == 50
    assert data["steps"][1]["quantities"]["w13"] == data["steps"][0]["quantities"]["w13_new"]


@pytest.mark.parametrize(("activation", "field"), [("{name: relu, alpha: 0.2}", "activation.alpha"),
                                                    ("{name: leaky_relu, alpha: 0.2, beta: 1}", "activation.beta"),
                                                    ("Sigmoid", "activation")])
def test_2_3_activation_typos_are_errors(tmp_path, activation, field) -> None:
    # §2 / §2.3: an option an activation does not take, or a name it does not know, is an error naming the field.
    assert_bad(run("solve", write(tmp_path, one_neuron(activation))), "spec.yaml", f"neurons.2.{field}")


def test_4_precision_flag_overrides_the_option(tmp_path) -> None:
    # §4 / §2.3: --precision N on the command line wins over options.precision in the spec.
    text = one_neuron("sigmoid", x="1") + "options: {precision: 3}\n"
    assert "0.73105858" in run("solve", write(tmp_path, text), "--format", "txt", "--precision", "8").stdout
