"""Numbers through the CLI: exact zeros that arrive as sums of carried values, values with no finite
form, JSON numbers, and numbers as a spec file writes them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mpmath
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_derive.cli import main

SOFTMAX_SHARED_BIAS = """\
title: a softmax layer with one shared bias
inputs: [1, 2]
targets: [0, 1, 0]
layers:
  - activation: softmax
    weights: [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]
    biases: 0.5
loss: cross_entropy
learning_rate: 0.1
"""

# σ(x) + σ(−x) = 1, so the output unit's pre-activation 0.7·σ(x) + 0.7·σ(−x) − 0.7 is exactly 0.
SYMMETRIC = """\
title: two mirrored sigmoids
inputs: [{x}]
targets: [0]
layers:
  - activation: sigmoid
    weights: [[1], [-1]]
  - activation: identity
    weights: [[0.7, 0.7]]
    biases: [-0.7]
loss: half_squared_error
learning_rate: 0.1
"""


def strict_json(text: str):
    """``text`` as JSON, refusing NaN and Infinity, which are not JSON."""
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def run(tmp_path: Path, spec: str, *arguments: str, suffix: str = ".yaml", command: str = "solve"):
    path = tmp_path / f"spec{suffix}"
    path.write_text(spec, encoding="utf-8")
    return CliRunner().invoke(main, [command, str(path), *arguments]), path


def solved_json(tmp_path: Path, spec: str) -> dict:
    result, _ = run(tmp_path, spec, "--format", "json")
    assert result.exit_code == 0, (result.output, result.exception)
    return strict_json(result.stdout)


def one_error_line(result, path: Path, field: str | None) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    prefix = f"Error: {path}: {field}: " if field else f"Error: {path}: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


# --- exact zeros that arrive as sums of carried values -------------------------------------


def test_a_bias_shared_by_a_softmax_layer_has_gradient_exactly_0(tmp_path: Path) -> None:
    # NOTE: ∂J/∂b = Σ_j (a_j − t_j) = 1 − 1; summed from 100-digit values it was 7.14e-102.
    document = solved_json(tmp_path, SOFTMAX_SHARED_BIAS)
    assert document["quantities"]["dJ/db[1]"] == 0
    assert document["gradients"]["layers"][0]["biases"] == 0
    assert document["exact"]["dJ/db[1]"] == "0"
    assert document["updated"]["layers"][0]["biases"] == 0.5
    result, _ = run(tmp_path, SOFTMAX_SHARED_BIAS, "--format", "txt")
    assert "e-102" not in result.stdout and "10⁻¹⁰²" not in result.stdout
    gradient_lines = [line for line in result.stdout.splitlines() if line.strip().startswith("∂J/∂b")]
    assert gradient_lines and all(line.rstrip().endswith("= 0") for line in gradient_lines), gradient_lines


def test_check_marks_a_students_0_for_that_gradient_right(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SOFTMAX_SHARED_BIAS, encoding="utf-8")
    answers = tmp_path / "answers.yaml"
    answers.write_text("dJ/db[1]: 0\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(spec), str(answers), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert strict_json(result.stdout)["answers"][0]["verdict"] == "right"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weights=st.lists(st.lists(st.decimals(-3, 3, places=2), min_size=2, max_size=2), min_size=2, max_size=4),
       bias=st.decimals(-2, 2, places=1), target=st.integers(0, 3))
def test_any_shared_softmax_bias_has_gradient_exactly_0(tmp_path: Path, weights, bias, target) -> None:
    rows = ", ".join(f"[{a}, {b}]" for a, b in weights)
    targets = [int(unit == target % len(weights)) for unit in range(len(weights))]
    spec = (f"inputs: [0.3, -1.2]\ntargets: {targets}\nlayers:\n  - {{activation: softmax, weights: [{rows}], "
            f"biases: {bias}}}\nloss: cross_entropy\n")
    assert solved_json(tmp_path, spec)["quantities"]["dJ/db[1]"] == 0


@pytest.mark.parametrize("x", ["0.2", "0.4", "0.5", "0.8", "0.9", "1.7"])
def test_mirrored_units_cancel_to_exactly_0_and_so_does_everything_after(tmp_path: Path, x: str) -> None:
    quantities = solved_json(tmp_path, SYMMETRIC.format(x=x))["quantities"]
    for name in ("z[2]_1", "a[2]_1", "J", "dJ/da[2]_1", "delta[2]_1", "dJ/dW[2]_11", "dJ/dW[2]_12",
                 "dJ/db[2]_1", "dJ/dW[1]_11", "dJ/dW[1]_21"):
        assert quantities[name] == 0, (name, quantities[name])


def test_a_tiny_value_that_is_not_0_keeps_its_digits(tmp_path: Path) -> None:
    # NOTE: 1 − σ(100) ≈ 3.7e-44 is a difference of two numbers near 1, far above their rounding.
    spec = "inputs: [100]\ntargets: [1]\nlayers:\n  - {activation: sigmoid, weights: [[1]]}\n"
    quantities = solved_json(tmp_path, spec)["quantities"]
    mpmath.mp.dps = 50
    expected = float(-1 / (1 + mpmath.exp(100)))
    assert quantities["dJ/da[1]_1"] == pytest.approx(expected, rel=1e-15)
    assert quantities["dJ/da[1]_1"] != 0


@pytest.mark.parametrize(("activation", "z"), [("sigmoid", 225), ("tanh", 120), ("tanh", 240)])
def test_a_saturated_units_slope_is_its_true_tiny_value_not_0(tmp_path: Path, activation: str, z: int) -> None:
    # NOTE: y = f(z) is its limit 1 to all 100 digits, so f′ written in y (y(1 − y), 1 − y²) cancels to 0.
    spec = f"inputs: [{z}]\ntargets: [0]\nlayers:\n  - {{activation: {activation}, weights: [[1]]}}\n"
    quantities = solved_json(tmp_path, spec)["quantities"]
    mpmath.mp.dps = 50
    expected = mpmath.sech(z) ** 2 if activation == "tanh" else mpmath.exp(-z) / (1 + mpmath.exp(-z)) ** 2
    assert quantities["da[1]_1/dz[1]_1"] == pytest.approx(float(expected), rel=1e-12)


# --- values with no finite form, and values too large or too small to carry -----------------


@pytest.mark.parametrize(("spec", "field", "says"), [
    ("inputs: [-1e100]\ntargets: [0]\nlayers:\n  - {activation: sigmoid, weights: [[1]]}\n",
     "layers[0].activation", "the activation at unit 1 is about 10^(−4.3e+99)"),
    ("inputs: [-1e100]\ntargets: [0]\nlayers:\n  - {activation: elu, weights: [[1]]}\n",
     "layers[0].activation", "the activation's derivative at unit 1 is about 10^(−4.3e+99)"),
    ("inputs: [1e100]\ntargets: [1, 0]\nlayers:\n  - {activation: softmax, weights: [[1], [-1]]}\n"
     "loss: cross_entropy\n", "layers[0].activation", "the softmax at unit 2 is about 10^(−8.7e+99)"),
    ("inputs: [1.5]\ntargets: [1]\nlayers:\n  - {activation: identity, weights: [[1]]}\n"
     "loss: binary_cross_entropy\n", "loss",
     "the loss takes the log of −0.5; binary_cross_entropy needs every output strictly between 0 and 1"),
    ("inputs: [-1]\ntargets: [0]\nlayers:\n  - {activation: {expr: 'log(x)'}, weights: [[1], [1]]}\n"
     "  - {activation: identity, weights: [[1, 1]]}\n",
     "layers[0].activation", "the activation at unit 1 takes the log of −1"),
    ("inputs: {1: 0}\nneurons:\n  2: {activation: {expr: 'log(x)'}, in: {1: 1}}\ntargets: {2: 0}\n",
     "neurons.2.activation", "the activation at neuron 2 takes the log of 0"),
    ("inputs: [[1], [0]]\ntargets: [[0], [0]]\nlayers:\n  - {activation: {expr: 'sqrt(x)'}, weights: [[-1]]}\n",
     "layers[0].activation", "the activation at unit 1 of example 1 takes the square root of −1"),
    ("inputs: [0]\ntargets: [0]\nlayers:\n  - {activation: {expr: '1/x'}, weights: [[1]]}\n",
     "layers[0].activation", "the activation at unit 1 divides by 0"),
])
def test_a_value_with_no_finite_form_gets_one_line_naming_the_field_and_the_step(
        tmp_path: Path, spec: str, field: str, says: str) -> None:
    for fmt in ("txt", "json"):
        result, path = run(tmp_path, spec, "--format", fmt)
        line = one_error_line(result, path, field)
        assert says in line, line
        assert not re.search(r"\b(zoo|nan|oo|Float|I)\b", line), line  # never SymPy's names


def test_large_logits_that_can_be_carried_get_their_values(tmp_path: Path) -> None:
    spec = ("inputs: [1000]\ntargets: [1, 0]\nlayers:\n  - {activation: softmax, weights: [[1], [-1]]}\n"
            "loss: cross_entropy\n")
    result, _ = run(tmp_path, spec, "--format", "txt")
    assert result.exit_code == 0, result.output
    assert "2.57654×10^−869" in result.stdout  # e^−2000 / (1 + e^−2000)
    quantities = solved_json(tmp_path, spec)["quantities"]
    assert quantities["a[1]_1"] == 1.0 and quantities["a[1]_2"] == 0.0  # the nearest doubles


# --- JSON numbers ----------------------------------------------------------------------------


def _identity_chain(weight: str, layers: int, activation: str = "identity") -> str:
    chain = "".join(f"  - {{activation: {activation if k == 0 else 'identity'}, weights: [[{weight}]]}}\n"
                    for k in range(layers))
    return f"inputs: [1e100]\ntargets: [0]\nlayers:\n{chain}learning_rate: 0.1\n"


@pytest.mark.parametrize("spec", [_identity_chain("1e100", 4), _identity_chain("1e100", 4, "softplus")],
                         ids=["exact", "carried"])
def test_a_value_beyond_the_range_of_a_double_is_refused_in_json_and_shown_elsewhere(tmp_path: Path,
                                                                                   spec: str) -> None:
    result, _ = run(tmp_path, spec, "--format", "json")
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr == ("Error: cannot write JSON: loss is 5e+999, beyond the ±1.8e308 a JSON number holds; "
                             "the other formats show it\n"), result.stderr
    shown, _ = run(tmp_path, spec, "--format", "txt")
    assert shown.exit_code == 0, shown.output


def test_json_numbers_are_the_nearest_doubles_never_long_literals(tmp_path: Path) -> None:
    result, _ = run(tmp_path, _identity_chain("1e50", 1), "--format", "json")
    assert result.exit_code == 0, result.output
    document = strict_json(result.stdout)
    assert document["quantities"]["a[1]_1"] == 1e150 and isinstance(document["quantities"]["a[1]_1"], float)
    assert document["loss"] == 5e299
    assert document["exact"]["a[1]_1"] == "1" + "0" * 150
    assert max(len(token) for token in result.stdout.replace(",", " ").split() if token[:1].isdigit()) < 30
    assert document["quantities"]["W[1]_11"] == 1e50
    small = solved_json(tmp_path, "inputs: [3]\ntargets: [2]\nlayers:\n  - {activation: identity, weights: [[2]]}\n")
    assert small["loss"] == 8 and isinstance(small["loss"], int)


def test_json_leaves_out_exact_forms_too_long_to_print(tmp_path: Path) -> None:
    # NOTE: 1e-100 through 44 weights of 1e-100 is 10^-4500 exactly: 4501 digits, past what Python prints.
    chain = "".join("  - {activation: identity, weights: [[1e-100]]}\n" for _ in range(44))
    document = solved_json(tmp_path, f"inputs: [1e-100]\ntargets: [0]\nlayers:\n{chain}")
    assert document["exact"]["W[1]_11"] == "1/" + "1" + "0" * 100
    assert "a[44]_1" not in document["exact"] and "a[8]_1" in document["exact"] and "a[10]_1" not in document["exact"]
    assert document["quantities"]["a[44]_1"] == 0.0  # the nearest double


def test_check_json_holds_doubles_or_refuses_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(_identity_chain("1e50", 2), encoding="utf-8")
    answers = tmp_path / "answers.yaml"
    answers.write_text("a[2]_1: 1e100\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(spec), str(answers), "--format", "json"])
    assert result.exit_code == 1, result.output
    answer = strict_json(result.stdout)["answers"][0]
    assert (answer["given"], answer["expected"]) == (1e100, 1e200)
    answers.write_text("J: 1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(spec), str(answers), "--format", "json"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("Error: cannot write JSON: answers[0].expected is 5e+399, beyond"), result.stderr


# --- numbers as written --------------------------------------------------------------------


@pytest.mark.parametrize(("written", "reading"), [
    ("010", "YAML reads 010 as 8 (a leading 0 makes it octal)"),
    ("-010", "YAML reads -010 as -8 (a leading 0 makes it octal)"),
    ("1_000", "YAML reads 1_000 as 1000 (it drops the _)"),
    ("1_000.5", "YAML reads 1_000.5 as 1000.5 (it drops the _)"),
    ("0x10", "YAML reads 0x10 as 16 (0x makes it hexadecimal)"),
    ("0b11", "YAML reads 0b11 as 3 (0b makes it binary)"),
    ("1:30", "YAML reads 1:30 as 90 (a : makes it base 60)"),
])
def test_a_number_yaml_would_read_as_another_value_is_refused_with_its_field(tmp_path: Path, written: str,
                                                                           reading: str) -> None:
    spec = f"inputs: [1, 2]\ntargets: [1]\nlayers:\n  - {{activation: identity, weights: [[0.5, {written}]]}}\n"
    result, path = run(tmp_path, spec)
    line = one_error_line(result, path, "layers[0].weights[0][1]")
    assert reading in line and "write the number in plain decimal digits" in line, line


def test_numbers_written_plainly_or_quoted_are_read_as_written(tmp_path: Path) -> None:
    spec = "inputs: ['010', 0, -7, +5, 1e3]\ntargets: [1]\nlayers:\n  - {activation: identity, weights: [[1, 1, 1, 1, 1]]}\n"
    quantities = solved_json(tmp_path, spec)["quantities"]
    assert [quantities[f"x{k}"] for k in range(1, 6)] == [10, 0, -7, 5, 1000]


def test_an_answer_yaml_would_misread_is_refused_naming_the_answer(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("inputs: [1]\ntargets: [0]\nlayers:\n  - {activation: identity, weights: [[8]]}\n",
                    encoding="utf-8")
    answers = tmp_path / "answers.yaml"
    answers.write_text("a[1]_1: 010\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(spec), str(answers)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {answers}: a[1]_1: YAML reads 010 as 8"), result.stderr


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_file_that_starts_with_a_byte_order_mark_is_read(tmp_path: Path, suffix: str) -> None:
    spec = '{"inputs": [1], "targets": [0], "layers": [{"activation": "identity", "weights": [[3]]}]}'
    path = tmp_path / f"spec{suffix}"
    path.write_bytes("\ufeff".encode("utf-8") + spec.encode("utf-8"))
    result = CliRunner().invoke(main, ["solve", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert strict_json(result.stdout)["loss"] == 4.5
