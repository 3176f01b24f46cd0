"""The conventions of textbooks (SPEC §2.7): each against published numbers and against the default's numbers."""

from __future__ import annotations

import copy
import itertools
import json
import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import mpmath
import oracle
import pytest
import sympy
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from specs import dense_specs, named_specs
from test_gradients_oracle import assert_close, check_against_oracle, skip_kinks_and_saturation

from backprop_derive import solve
from backprop_derive.cli import main

ROOT = Path(__file__).resolve().parent.parent
HAN_KAMBER = ROOT / "examples" / "han_kamber_9_1.yaml"
NEGNEVITSKY = ROOT / "examples" / "negnevitsky_xor.yaml"
SETTINGS = dict(deadline=None, max_examples=12,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def run(*arguments: str, input: str | None = None):
    """The CLI's result; with ``input``, a spec's text, written to a file that stands for ``-``."""
    if input is not None:
        path = Path(TEMPORARY.name) / f"spec{next(COUNTER)}.yaml"
        path.write_text(input, encoding="utf-8")
        arguments = tuple(str(path) if argument == "-" else argument for argument in arguments)
    return CliRunner().invoke(main, list(arguments))


TEMPORARY = tempfile.TemporaryDirectory()
COUNTER = itertools.count()


def solved_json(spec: dict | Path, tmp_path: Path, *extra: str) -> dict:
    """``solve --format json`` of a spec dict (written to a file) or a spec file, through the CLI."""
    path = spec
    if isinstance(spec, dict):
        path = tmp_path / f"spec{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump(_plain(spec), sort_keys=False), encoding="utf-8")
    result = run("solve", str(path), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _plain(raw):
    """A spec drawn by hypothesis (Decimals inside) as plain YAML-safe values."""
    if isinstance(raw, dict):
        return {key: _plain(value) for key, value in raw.items()}
    if isinstance(raw, list):
        return [_plain(value) for value in raw]
    return str(raw) if isinstance(raw, Decimal) else raw


def digits(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places))


# --- Han & Kamber, Example 9.1: error terms and rounding as the book prints them -------------


TABLE_9_2 = {"x4": "-0.7", "y4": "0.332", "x5": "0.1", "y5": "0.525", "x6": "-0.105", "y6": "0.474"}
TABLE_9_3 = {"delta6": "0.1311", "delta5": "-0.0065", "delta4": "-0.0087"}
TABLE_9_4 = {"w46_new": "-0.261", "w56_new": "-0.138", "w14_new": "0.192", "w15_new": "-0.306",
             "w24_new": "0.4", "w25_new": "0.1", "w34_new": "-0.508", "w35_new": "0.194",
             "b6_new": "0.218", "b5_new": "0.194", "b4_new": "-0.408"}


def test_han_kamber_example_9_1_reproduces_tables_9_2_to_9_4_to_the_digit(tmp_path: Path) -> None:
    quantities = solved_json(HAN_KAMBER, tmp_path)["quantities"]
    for name, printed in {**TABLE_9_2, **TABLE_9_3, **TABLE_9_4}.items():
        # NOTE: exact equality: the solution carries the book's rounded decimals, not nearby doubles.
        assert Decimal(repr(quantities[name])) == Decimal(printed), (name, quantities[name], printed)


def test_han_kamber_solution_shows_the_books_error_terms_and_updates() -> None:
    result = run("solve", str(HAN_KAMBER), "--format", "txt")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "e₆ = −∂L/∂y₆ = t₆ − y₆ = 1 − 0.474 = 0.526" in text
    assert "δ₆ = −∂L/∂x₆ = e₆ · ∂y₆/∂x₆ = 0.526 · 0.2493 = 0.1311" in text
    assert "δ₅ = −∂L/∂x₅ = e₅ · ∂y₅/∂x₅ = (−0.0262) · 0.2494 = −0.0065" in text
    assert "w₄₆ⁿᵉʷ = w₄₆ + η · δ₆ · y₄ = −0.3 + 0.9 · 0.1311 · 0.332 = −0.261" in text
    assert "rounded to 3 decimal places (the backward pass and the gradients to 4 decimal places)" in " ".join(
        text.split())


def test_rounding_to_3_decimals_throughout_does_not_give_the_books_numbers(tmp_path: Path) -> None:
    # The honest statement behind the example's `backward: {decimals: 4}`: the book prints Err to 4
    # decimals, and carrying Err5 at 3 decimals (−0.006 for −0.0065) moves three of its new weights.
    spec = yaml.safe_load(HAN_KAMBER.read_text(encoding="utf-8"))
    spec["options"]["rounding"] = {"decimals": 3}
    quantities = solved_json(spec, tmp_path)["quantities"]
    assert quantities["delta5"] == -0.006 and quantities["delta6"] == 0.131
    differing = {name for name, printed in TABLE_9_4.items() if Decimal(repr(quantities[name])) != Decimal(printed)}
    assert differing == {"w15_new", "w35_new", "b5_new"}


def test_check_marks_the_books_numbers_right_and_the_other_sign_wrong(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("".join(f"{name}: {value}\n" for name, value in {**TABLE_9_2, **TABLE_9_3,
                                                                       **TABLE_9_4}.items()), encoding="utf-8")
    result = run("check", str(HAN_KAMBER), str(answers), "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["summary"]
    assert summary["right"] == len(TABLE_9_2) + len(TABLE_9_3) + len(TABLE_9_4) and summary["wrong"] == 0
    answers.write_text("delta6: -0.1311\n", encoding="utf-8")
    result = run("check", str(HAN_KAMBER), str(answers), "--format", "json")
    assert result.exit_code == 1
    (answer,) = json.loads(result.output)["answers"]
    assert answer["verdict"] == "wrong" and answer["mistake"] == "sign_flip"


def test_json_exact_keeps_the_unrounded_values(tmp_path: Path) -> None:
    result = solved_json(HAN_KAMBER, tmp_path)
    assert result["quantities"]["y4"] == 0.332
    exact_y4 = sympy.Float(result["exact"]["y4"], 30)
    assert abs(exact_y4 - 1 / (1 + sympy.exp(sympy.Rational(7, 10)))) < sympy.Float("1e-28")
    assert result["exact"]["x4"] == "-7/10"


# --- Negnevitsky's XOR network: thresholds and error terms --------------------------------


def test_negnevitsky_xor_step_matches_the_published_numbers(tmp_path: Path) -> None:
    # Negnevitsky, Artificial Intelligence (2nd ed.), §6.4: the first training step of the XOR
    # network, with thresholds θ on a constant −1 input, α = 0.1 and values to 4 decimals.
    quantities = solved_json(NEGNEVITSKY, tmp_path)["quantities"]
    published = {"y3": "0.525", "y4": "0.8808", "y5": "0.5097", "e5": "-0.5097", "delta5": "-0.1274",
                 "delta3": "0.0381", "delta4": "-0.0147",
                 "w13_new": "0.5038", "w14_new": "0.8985", "w23_new": "0.4038", "w24_new": "0.9985",
                 "w35_new": "-1.2067", "w45_new": "1.0888",
                 "theta3_new": "0.7962", "theta4_new": "-0.0985", "theta5_new": "0.3127"}
    for name, printed in published.items():
        assert Decimal(repr(quantities[name])) == Decimal(printed), (name, quantities[name], printed)


def test_a_threshold_is_a_weight_on_a_constant_minus_one(tmp_path: Path) -> None:
    spec = yaml.safe_load(NEGNEVITSKY.read_text(encoding="utf-8"))
    del spec["options"]
    as_bias = copy.deepcopy(spec)
    for neuron in as_bias["neurons"].values():
        neuron["bias"] = -Fraction(str(neuron.pop("threshold")))
        neuron["bias"] = str(neuron["bias"])
    with_threshold, with_bias = solved_json(spec, tmp_path), solved_json(as_bias, tmp_path)
    assert with_threshold["loss"] == with_bias["loss"]
    for name in ("3", "4", "5"):
        threshold, bias = with_threshold["gradients"]["neurons"][name], with_bias["gradients"]["neurons"][name]
        assert threshold["threshold"] == -bias["bias"] and threshold["in"] == bias["in"]
        assert with_threshold["updated"]["neurons"][name]["threshold"] == pytest.approx(
            -with_bias["updated"]["neurons"][name]["bias"], abs=1e-15)
    text = run("solve", str(NEGNEVITSKY), "--format", "txt").output
    assert "x₃ = x₁ w₁₃ + x₂ w₂₃ − θ₃ = 1 · 0.5 + 1 · 0.4 − 0.8 = 0.1" in text
    assert "θ₃ⁿᵉʷ = θ₃ − η · δ₃ = 0.8 − 0.1 · 0.0381 = 0.7962" in text


@settings(**SETTINGS)
@given(named_specs(), st.data())
def test_thresholds_match_the_oracle(spec: dict, data) -> None:
    for neuron in spec["neurons"].values():
        if "bias" in neuron and data.draw(st.booleans()):
            neuron["threshold"] = neuron.pop("bias")
    skip_kinks_and_saturation(spec)
    check_against_oracle(spec)


# --- error terms give the default's gradients and updates -----------------------------------


@settings(**SETTINGS)
@given(st.one_of(dense_specs(), named_specs()))
def test_error_terms_give_the_same_gradients_and_updates(spec: dict) -> None:
    skip_kinks_and_saturation(spec)
    default = solve(copy.deepcopy(spec))
    spec.setdefault("options", {})["delta"] = "error_term"
    book = solve(spec)
    plain, error = default.quantities(), book.quantities()
    for step in default.derivation.gradients + default.derivation.updates:
        name = default.notation.ascii(step.result)
        assert abs(error[name] - plain[name]) <= sympy.Float("1e-40") * max(1, abs(plain[name])), name
    for name, value in plain.items():
        if name.startswith("delta"):
            assert abs(error[name] + value) <= sympy.Float("1e-40") * max(1, abs(value)), name
    check_against_oracle(spec)


def test_json_carries_both_the_error_term_and_the_derivative(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "sigmoid_2_2_1.yaml").read_text(encoding="utf-8"))
    default = solved_json(spec, tmp_path)
    spec["options"]["delta"] = "error_term"
    book = solved_json(spec, tmp_path)
    assert book["gradients"] == default["gradients"] and book["updated"] == default["updated"]
    deltas = {name: value for name, value in default["quantities"].items() if name.startswith("delta")}
    assert deltas
    for name, value in deltas.items():
        assert book["quantities"][name] == -value
    # ∂L/∂h of each unit (layered notation): the derivative, beside the error term (apart from `quantities`,
    # which holds only the names check takes).
    assert book["pre_activation_gradients"]["dE/dh(2)_1"] == default["quantities"]["delta(2)_1"]
    assert "dE/dh(2)_1" not in book["quantities"] and "pre_activation_gradients" not in default


# --- weights_layout: input_by_unit ------------------------------------------------------


def transposed_layout(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    spec["weights_layout"] = "input_by_unit"
    for layer in spec["layers"]:
        layer["weights"] = [list(column) for column in zip(*layer["weights"])]
    return spec


@settings(**SETTINGS)
@given(dense_specs())
def test_input_by_unit_gives_the_transposed_gradients_and_updates(spec: dict) -> None:
    skip_kinks_and_saturation(spec)
    default, by_input = solve(copy.deepcopy(spec)), solve(transposed_layout(spec))
    from backprop_derive.render.render import to_json

    plain, transposed = to_json(default), to_json(by_input)
    assert plain["loss"] == transposed["loss"]
    for key in ("gradients", "updated"):
        if key not in plain:
            continue
        for layer, other in zip(plain[key]["layers"], transposed[key]["layers"]):
            assert other["weights"] == [list(column) for column in zip(*layer["weights"])]
            assert other.get("biases") == layer.get("biases")
    check_against_oracle(transposed_layout(spec))


def test_input_by_unit_names_and_shows_weights_as_written(tmp_path: Path) -> None:
    spec = {"inputs": [1, 2], "targets": [1, 0, 0], "weights_layout": "input_by_unit",
            "layers": [{"activation": "identity", "weights": [[1, 2, 3], [4, 5, 6]]}], "learning_rate": 1}
    result = solved_json(spec, tmp_path)
    # W_{ij} from input i to unit j: z_2 = x_1 W_12 + x_2 W_22 = 1·2 + 2·5.
    assert result["quantities"]["W[1]_12"] == 2 and result["quantities"]["z[1]_2"] == 12
    # δ = z − t = (9, 12, 15) − (1, 0, 0), and ∂J/∂W_ij = x_i δ_j.
    assert result["gradients"]["layers"][0]["weights"] == [[8, 12, 15], [16, 24, 30]]
    path = tmp_path / "xw.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    matrix = run("solve", str(path), "--format", "txt", "--style", "matrix")
    assert matrix.exit_code == 0, matrix.output
    assert "z[1] = W[1]ᵀ x = " in matrix.output and "∂J/∂W[1] = x δ[1]ᵀ = " in matrix.output


# --- target_classes ---------------------------------------------------------------------


def test_target_classes_equal_one_hot_targets(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "softmax_cross_entropy.yaml").read_text(encoding="utf-8"))
    targets = spec["targets"] if isinstance(spec["targets"][0], list) else [spec["targets"]]
    classes = dict(spec)
    del classes["targets"]
    classes["target_classes"] = [row.index(max(row)) for row in targets]
    assert all(sorted(row) == [0] * (len(row) - 1) + [1] for row in targets), "the example has one-hot targets"
    if not isinstance(spec["targets"][0], list):
        classes["inputs"], spec["inputs"] = [spec["inputs"]], [spec["inputs"]]
        spec["targets"] = targets
    assert solved_json(classes, tmp_path) == solved_json(spec, tmp_path)


def test_target_classes_on_named_neurons_name_the_outputs_in_the_specs_order(tmp_path: Path) -> None:
    spec = {"inputs": {"1": 1}, "neurons": {"3": {"activation": "identity", "in": {"1": 2}},
                                            "2": {"activation": "identity", "in": {"1": -1}}},
            "target_classes": [1]}
    quantities = solved_json(spec, tmp_path)["quantities"]
    assert quantities["t3"] == 0 and quantities["t2"] == 1


# --- loss: none and input gradients -------------------------------------------------------


def test_loss_none_with_input_gradients_gives_micrograds_published_neuron(tmp_path: Path) -> None:
    # Karpathy's micrograd walkthrough: o = tanh(x1·w1 + x2·w2 + b) with b = 6.8813735870195432.
    spec = {"inputs": {1: 2, 2: 0}, "neurons": {3: {"activation": "tanh", "in": {1: -3, 2: 1},
                                                    "bias": "6.8813735870195432"}},
            "loss": "none", "options": {"input_gradients": True}}
    result = solved_json(spec, tmp_path)
    assert result["loss"] == pytest.approx(0.7071, abs=1e-4)
    gradients = result["gradients"]
    assert gradients["inputs"] == pytest.approx({"1": -1.5, "2": 0.5}, abs=1e-9)
    assert gradients["neurons"]["3"]["in"] == pytest.approx({"1": 1.0, "2": 0.0}, abs=1e-9)
    assert gradients["neurons"]["3"]["bias"] == pytest.approx(0.5, abs=1e-9)
    text = run("solve", "-", "--format", "txt", input=yaml.safe_dump(spec)).output
    assert "∂L/∂x₁ = ∂L/∂x₃ · ∂x₃/∂x₁ = δ₃ · w₁₃ = 0.5 · (−3) = −1.5" in text
    assert "L = y₃ = 0.707107" in text and "∂L/∂y₃ = 1\n" in text


def test_loss_none_matches_the_oracle() -> None:
    spec = {"inputs": [[1, -2], [0.5, 3]], "layers": [
        {"activation": "tanh", "weights": [[0.5, -1], [0.25, 1]], "biases": [0.1, 0.2]},
        {"activation": "sigmoid", "weights": [[1, -1]]}], "loss": "none", "learning_rate": "0.1"}
    check_against_oracle(spec)


def test_loss_none_refuses_more_than_one_output() -> None:
    spec = "inputs: [1]\nlayers:\n  - {activation: identity, weights: [[1], [2]]}\nloss: none\n"
    result = run("solve", "-", input=spec)
    assert result.exit_code == 2
    assert "loss: none differentiates a single output, but the network has 2" in result.output


def check_input_gradients(spec: dict) -> None:
    spec.setdefault("options", {})["input_gradients"] = True
    solution = solve(spec)
    expected = oracle.input_gradients(oracle.read(spec))
    values, network = solution.values[0], solution.network
    scale = max([mpmath.mpf(1)] + [abs(g) for example in expected for g in example.values()])
    from backprop_derive.core.steps import Quantity

    for example, gradients in enumerate(expected):
        for node in network.inputs:
            key = ("input", node.unit - 1) if network.form == "dense" else node.name
            assert_close(values[Quantity("dinput", node, example)], gradients[key], scale, f"dL/dx {key}")


@settings(**SETTINGS)
@given(st.one_of(dense_specs(), named_specs()), st.booleans())
def test_input_gradients_match_central_differences(spec: dict, error_term: bool) -> None:
    skip_kinks_and_saturation(spec)
    if error_term:
        spec.setdefault("options", {})["delta"] = "error_term"
    check_input_gradients(spec)


def test_input_gradients_in_json_take_the_shape_of_inputs(tmp_path: Path) -> None:
    spec = {"inputs": [[1, 2], [3, 4]], "targets": [[1], [0]], "options": {"input_gradients": True},
            "layers": [{"activation": "identity", "weights": [[1, -1]]}]}
    inputs = solved_json(spec, tmp_path)["gradients"]["inputs"]
    # L = ½(x1 − x2 − t)²: ∂L/∂x = (x1 − x2 − t)·(1, −1), per example.
    assert inputs == [[-2, 2], [-1, 1]]


# --- rounding -----------------------------------------------------------------------------


@settings(**SETTINGS)
@given(st.one_of(dense_specs(), named_specs()), st.sampled_from([{"decimals": 3}, {"significant": 4}]))
def test_every_carried_value_is_rounded_as_asked(spec: dict, rounding: dict) -> None:
    # NOTE: a log-loss may meet a rounded output of exactly 0 or 1 (log 0): no finite solution, said so.
    assume(spec.get("loss") not in ("binary_cross_entropy", "cross_entropy"))
    skip_kinks_and_saturation(spec)
    unrounded = solve(copy.deepcopy(spec))
    spec.setdefault("options", {})["rounding"] = rounding
    solution = solve(spec)
    for step in solution.derivation.steps():
        value = solution.values[0][step.result]
        assert value.is_Rational
        text = Decimal(int(value.p)) / Decimal(int(value.q))
        if "decimals" in rounding:
            assert text == text.quantize(Decimal("0.001")), (step.result, value)
        elif value:
            assert len(text.normalize().as_tuple().digits) <= 4, (step.result, value)
    # The givens are never rounded.
    rounded_names, names = solution.quantities(), unrounded.quantities()
    for quantity in unrounded.values[0]:
        if quantity.kind in ("input", "target", "param", "rate"):
            name = unrounded.notation.ascii(quantity)
            assert rounded_names[name] == names[name], name


def test_rounding_is_said_in_the_solution_and_the_lines_carry_rounded_numbers() -> None:
    spec = ("inputs: [1]\ntargets: [1]\nlayers:\n  - {activation: sigmoid, weights: [[1]]}\n"
            "options: {rounding: {significant: 2}}\nlearning_rate: 1\n")
    text = run("solve", "-", "--format", "txt", input=spec).output
    assert "rounded to 2 significant digits" in " ".join(text.split())
    # σ(1) = 0.731 is carried as 0.73, and (0.73 − 1) = −0.27.
    assert "∂J/∂a[1]₁ = a[1]₁ − y₁ = 0.73 − 1 = −0.27" in text


# --- every option in every format, and bad values -------------------------------------------


CONVENTION_SPECS = {
    "han_kamber": HAN_KAMBER.read_text(encoding="utf-8"),
    "negnevitsky": NEGNEVITSKY.read_text(encoding="utf-8"),
    "input_by_unit_classes": """\
inputs: [[1, 2], [0.5, -1]]
target_classes: [2, 0]
weights_layout: input_by_unit
layers:
  - activation: relu
    weights: [[0.1, 0.2, -0.3], [0.4, -0.5, 0.6]]
    biases: [0, 0.1, 0.2]
  - activation: softmax
    weights: [[0.2, -0.1, 0.3], [0.5, 0.4, -0.2], [0.1, 0.3, 0.2]]
loss: cross_entropy
learning_rate: 0.5
options: {input_gradients: true, rounding: {significant: 3}}
""",
    "loss_none": """\
inputs: {1: 2, 2: 0}
neurons:
  3: {activation: tanh, in: {1: -3, 2: 1}, threshold: -0.5}
  4: {activation: sigmoid, in: {3: 2, 1: 1}}
loss: none
learning_rate: 0.1
options: {input_gradients: true, delta: error_term}
""",
}


@pytest.mark.parametrize("fmt", ["md", "tex", "txt", "html", "json"])
@pytest.mark.parametrize("name", sorted(CONVENTION_SPECS))
def test_every_convention_renders_in_every_format(name: str, fmt: str) -> None:
    result = run("solve", "-", "--format", fmt, input=CONVENTION_SPECS[name])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        json.loads(result.output)
    if name != "han_kamber":
        derived = run("derive", "-", "--format", fmt if fmt != "html" else "md", input=CONVENTION_SPECS[name])
        assert derived.exit_code == 0, derived.output


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("name", sorted(CONVENTION_SPECS))
def test_every_convention_compiles_with_pdflatex(name: str, tmp_path: Path) -> None:
    tex = run("solve", "-", "--format", "tex", input=CONVENTION_SPECS[name]).output
    (tmp_path / "solution.tex").write_text(tex, encoding="utf-8")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "solution.tex"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]


def test_derive_writes_the_book_forms() -> None:
    text = run("derive", "-", "--format", "txt", input=CONVENTION_SPECS["negnevitsky"]).output
    assert "x₃ = x₁ · w₁₃ + x₂ · w₂₃ − θ₃" in text
    assert "δ₅ = −∂L/∂x₅ = e₅ · σ'(x₅) = (t₅ − y₅) · σ'(x₅)" in text
    assert "w₃₅ⁿᵉʷ = w₃₅ + η · δ₅ · y₃" in text and "θ₅ⁿᵉʷ = θ₅ − η · δ₅" in text
    assert "∂L/∂w₃₅ = −δ₅ · y₃" in text


def test_matrix_style_refuses_what_it_does_not_write() -> None:
    result = run("solve", "-", "--style", "matrix", input=CONVENTION_SPECS["han_kamber"])
    assert result.exit_code == 2
    assert "--style matrix does not write error terms" in result.output


def test_generate_from_a_spec_with_conventions_keeps_them(tmp_path: Path) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(CONVENTION_SPECS["input_by_unit_classes"], encoding="utf-8")
    result = run("generate", "--from", str(source), "--count", "2", "-o", str(tmp_path / "out"), "--format", "md")
    assert result.exit_code == 0, result.output
    variant = yaml.safe_load((tmp_path / "out" / "variant-1" / "spec.yaml").read_text(encoding="utf-8"))
    assert variant["target_classes"] == [2, 0] and variant["weights_layout"] == "input_by_unit"
    assert "targets" not in variant


NAMED = "inputs: {1: 1}\nneurons:\n  2: {activation: identity, in: {1: 2}}\ntargets: {2: 1}\n"
DENSE = "inputs: [1, 2]\ntargets: [1]\nlayers:\n  - {activation: identity, weights: [[1, 2]]}\n"

BAD = [
    (DENSE + "options: {delta: error}\n", "options.delta", "expected one of derivative, error_term"),
    (DENSE + "options: {input_gradients: yes please}\n", "options.input_gradients", "expected true or false"),
    (DENSE + "options: {rounding: 3}\n", "options.rounding", "expected a map with decimals: N or significant: N"),
    (DENSE + "options: {rounding: {decimals: 3, significant: 2}}\n", "options.rounding", "expected a map"),
    (DENSE + "options: {rounding: {digits: 3}}\n", "options.rounding.digits", "unknown key"),
    (DENSE + "options: {rounding: {significant: 0}}\n", "options.rounding.significant",
     "expected a whole number from 1 to 30"),
    (DENSE + "options: {rounding: {decimals: 2.5}}\n", "options.rounding.decimals", "expected a whole number"),
    (DENSE + "options: {rounding: {decimals: 3, backward: {decimals: 4, backward: {decimals: 5}}}}\n",
     "options.rounding.backward.backward", "unknown key"),
    (DENSE + "weights_layout: by_row\n", "weights_layout", "expected one of unit_by_input, input_by_unit"),
    (DENSE + "weights_layout: input_by_unit\n", "layers[0].weights", "expected a list of 2 rows"),
    (NAMED + "weights_layout: input_by_unit\n", "weights_layout", "applies to dense layers only"),
    (DENSE + "target_classes: [0]\n", "target_classes", "expected targets or target_classes, not both"),
    (DENSE.replace("targets: [1]\n", "target_classes: [1]\n"), "target_classes[0]",
     "expected a class index from 0 to 0"),
    (DENSE.replace("targets: [1]\n", "target_classes: 0\n"), "target_classes", "a list of 1 class indices"),
    (DENSE.replace("targets: [1]\n", "target_classes: [0, 0]\n"), "target_classes", "a list of 1 class indices"),
    (DENSE.replace("targets: [1]\n", "target_classes: [true]\n"), "target_classes[0]", "expected a class index"),
    (DENSE + "loss: none\n", "targets", "loss: none differentiates the output itself"),
    (DENSE.replace("targets: [1]\n", ""), "targets", "missing; every spec needs targets"),
    (NAMED.replace("in: {1: 2}}", "in: {1: 2}, bias: 1, threshold: 2}"), "neurons.2.threshold",
     "expected bias or threshold, not both"),
    (NAMED.replace("in: {1: 2}}", "in: {1: 2}, threshold: x}"), "neurons.2.threshold", "expected a number"),
]


@pytest.mark.parametrize("text, field, message", BAD, ids=[case[1] + ":" + case[2][:20] for case in BAD])
def test_each_bad_convention_is_one_clear_line(text: str, field: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    output = tmp_path / "out.md"
    result = run("solve", str(path), "-o", str(output))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert field in lines[0] and message in lines[0], lines[0]
    assert "Traceback" not in result.output and not output.exists()


def test_readme_conventions_excerpt_is_real_output() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- conventions-excerpt:.*?-->\n```\w*\n(.*?)```\n<!-- /conventions-excerpt -->", text, re.S)
    assert match, "README.md has no conventions-excerpt block"
    output = run("solve", str(HAN_KAMBER), "--format", "txt").output.splitlines()
    for line in match.group(1).splitlines():
        assert line in output, f"README line not in the real output: {line!r}"


def test_a_batch_with_error_terms_carries_each_examples_derivative(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "bce_batch_2_3_1.yaml").read_text(encoding="utf-8"))
    spec.setdefault("options", {})["delta"] = "error_term"
    solved = solved_json(spec, tmp_path, "--steps", "2")
    deltas = {name: value for name, value in solved["quantities"].items() if name.startswith("delta")}
    derivatives = {name: value for name, value in solved["pre_activation_gradients"].items()
                   if re.fullmatch(r"dL\(\d+\)/dz.*", name)}
    assert len(deltas) == len(derivatives) > 2
    assert sorted(-value for value in deltas.values()) == sorted(derivatives.values())


def test_the_error_reads_t_minus_o_in_latex_too() -> None:
    tex = run("solve", str(HAN_KAMBER), "--format", "tex").output
    assert r"e_{6} = -\frac{\partial L}{\partial y_{6}} = t_{6} - y_{6} = 1 - 0.474 = 0.526" in tex
    derived = run("derive", str(NEGNEVITSKY), "--format", "tex").output
    assert r"e_{5} = t_{5} - y_{5}" in derived and r"L = \frac{\left(y_{5} - t_{5}\right)^{2}}{2}" in derived


def test_a_rounded_output_at_a_log_losss_edge_is_said_plainly() -> None:
    spec = ("inputs: [10]\ntargets: [1]\nlayers:\n  - {activation: sigmoid, weights: [[1]]}\n"
            "loss: binary_cross_entropy\noptions: {rounding: {decimals: 2}}\n")
    result = run("solve", "-", input=spec)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "options.rounding carries rounded values, so keep more digits" in result.output
