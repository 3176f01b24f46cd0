"""`check`: marking a student's answers, finding the mistake, crediting carried errors."""

import decimal
import json
import shutil
from functools import cache
from pathlib import Path

import click
import pytest
import sympy
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.core.evaluation import compute
from backprop_derive.core.numbers import parse_number, settle
from backprop_derive.jobs.check import Answer, Checker, agrees, parse_answers, render_report
from backprop_derive.jobs.mistakes import MISTAKES, UPDATE_MISTAKES
from backprop_derive.render.pdf import compile_pdf

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# A ReLU pre-activation at exactly 0 (x3), and a hidden neuron feeding two outputs.
RELU_KINK = {
    "title": "relu at a kink",
    "inputs": {1: 1, 2: 2},
    "neurons": {3: {"activation": "relu", "in": {1: 2, 2: -1}},
                4: {"activation": "relu", "in": {1: 1, 2: 1}},
                5: {"activation": "identity", "in": {3: 3, 4: 2}},
                6: {"activation": "identity", "in": {3: -1, 4: 1}}},
    "targets": {5: 1, 6: 2},
    "learning_rate": "0.25",
}
NETWORKS = {
    "seed_relu": EXAMPLES / "seed_relu.yaml",  # named, ReLU, exact
    "mazur_2_2_2": EXAMPLES / "mazur_2_2_2.yaml",  # dense, sigmoid, shared biases kept fixed
    "bce_batch_2_3_1": EXAMPLES / "bce_batch_2_3_1.yaml",  # dense, sigmoid, a batch of four
    "relu_kink": RELU_KINK,
}


@cache
def checker(network: str) -> Checker:
    return Checker(solve(NETWORKS[network]))


def written(value: sympy.Expr, digits: int) -> int | decimal.Decimal:
    """``value`` as a student writes it to ``digits`` significant digits (an integer as an integer)."""
    if value.is_Integer:
        return int(value)
    number = decimal.Decimal(str(sympy.Float(value, 60)))
    with decimal.localcontext() as context:
        context.prec = digits
        return +number


def hand_worked(marker: Checker, steps=None, digits: int = 20, override: dict | None = None,
                names: set | None = None) -> dict:
    """A sheet worked step by step as a student does: each value from the student's own written ones.

    ``steps`` may carry a mistake; ``override`` replaces some values (by quantity); only the
    quantities in ``names`` (default: all) are written down, rounded; the others stay exact.
    """
    steps = steps or marker.steps
    override = override or {}
    values = {**marker.truth, **{quantity: parse_number(value) for quantity, value in override.items()}}
    sheet = {}
    # NOTE: twice, so that a step reading a later value (an updated weight) reads the written one.
    for _ in range(2):
        for step in steps:
            name = marker.name(step.result)
            value = settle(compute(step, values))
            if names is None or name in names:
                value = sheet[name] = override.get(step.result, written(value, digits))
            values[step.result] = parse_number(value) if not isinstance(value, sympy.Expr) else value
    return sheet


def marks_by_name(marker: Checker, sheet: dict, tolerance=None) -> dict:
    return {mark.name: mark for mark in marker.mark(parse_answers(sheet), tolerance).marks}


def not_right(marks: dict) -> dict:
    return {name: (mark.verdict, mark.mistake) for name, mark in marks.items() if mark.verdict != "right"}


# --- every mistake, on several networks --------------------------------------------------


@pytest.mark.parametrize("network", NETWORKS)
def test_a_sheet_made_with_each_mistake_is_diagnosed_with_it(network):
    marker = checker(network)
    failures = []
    for variant in marker.variants:
        # Mistakes that give the very same numbers cannot be told apart (relu'(0) = 1 or f' dropped).
        same = {other.code for other in marker.variants
                if all(other.values[quantity] == variant.values[quantity] for quantity in marker.truth)}
        marks = marks_by_name(marker, hand_worked(marker, variant.steps(marker.steps)))
        wrong = {name: mark.mistake for name, mark in marks.items() if mark.verdict == "wrong"}
        others = {mark.verdict for mark in marks.values()} - {"right", "wrong", "carried_forward"}
        if not wrong or not set(wrong.values()) <= same or others:
            failures.append((variant.code, variant.detail, wrong, others))
    assert not failures


def test_the_test_networks_cover_every_mistake_code():
    codes = {variant.code for network in NETWORKS for variant in checker(network).variants}
    # NOTE: the optimizers' mistakes are diagnosed on networks with optimizers, in tests/test_optimizers.py.
    assert codes == set(MISTAKES) - set(UPDATE_MISTAKES)


def test_only_mistakes_that_change_this_network_are_tried():
    codes = {variant.code for variant in checker("seed_relu").variants}
    assert "missing_mean" not in codes  # one example, no batch
    assert "relu_derivative_at_zero" not in codes  # no pre-activation at 0
    assert "missing_path" not in codes  # no neuron feeds two others
    assert "missing_mean" in {variant.code for variant in checker("bce_batch_2_3_1").variants}


def test_a_mistake_is_explained_in_one_sentence_naming_where():
    marker = checker("mazur_2_2_2")
    variant = next(v for v in marker.variants if v.code == "missing_path")
    marks = marks_by_name(marker, hand_worked(marker, variant.steps(marker.steps)))
    wrong = [mark for mark in marks.values() if mark.verdict == "wrong"]
    assert len(wrong) == 1
    assert wrong[0].mistake == "missing_path"
    assert wrong[0].explanation.startswith(wrong[0].name + ":")
    assert wrong[0].explanation.count(".") == 1 and wrong[0].explanation.endswith(".")


# --- right answers -----------------------------------------------------------------------


@pytest.mark.parametrize("network", NETWORKS)
def test_correct_answers_at_full_precision_are_all_right(network):
    marker = checker(network)
    sheet = {marker.name(quantity): written(value, 30) for quantity, value in marker.truth.items()}
    report = marker.mark(parse_answers(sheet))
    assert report.all_right and report.summary["right"] == len(sheet)


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("digits", [3, 4])
def test_correct_answers_rounded_to_a_few_digits_are_all_right(network, digits):
    marker = checker(network)
    sheet = {marker.name(quantity): written(value, digits) for quantity, value in marker.truth.items()}
    assert not not_right(marks_by_name(marker, sheet))


@pytest.mark.parametrize("digits", [3, 4])
def test_answers_worked_from_ones_own_rounded_numbers_are_right(digits):
    marker = checker("mazur_2_2_2")
    assert not not_right(marks_by_name(marker, hand_worked(marker, digits=digits)))


def answer(written_text: str) -> Answer:
    return parse_answers({"x": written_text})[0]


@pytest.mark.parametrize("written_text, value, right", [
    ("0.75", sympy.Float("0.7514", 50), True),
    ("0.76", sympy.Float("0.7514", 50), True),  # one off in the last digit
    ("0.77", sympy.Float("0.7514", 50), False),
    ("0.8", sympy.Float("0.7514", 50), True),
    ("1", sympy.Float("0.7514", 50), False),  # the first significant digit must be there
    ("0", sympy.Rational(3, 10), False),
    ("0", sympy.Integer(0), True),
    ("20", sympy.Integer(20), True),
    ("21", sympy.Integer(20), False),  # nothing to round in an exact integer
    ("0.50", sympy.Rational(1, 2), True),
    ("0.49", sympy.Rational(1, 2), False),
    ("0.333", sympy.Rational(1, 3), True),
    ("1/3", sympy.Rational(1, 3), True),
    ("1/3", sympy.Rational(1, 4), False),
    ("-1.5e-7", sympy.Float("-1.5049e-7", 50), True),
])
def test_an_answer_is_right_to_the_digits_written(written_text, value, right):
    assert agrees(answer(written_text), value) is right


def test_a_tolerance_replaces_the_digits_written():
    assert agrees(answer("0.7"), sympy.Float("0.7514", 50), tolerance=sympy.Rational(1, 10))
    assert not agrees(answer("0.75140"), sympy.Float("0.7514", 50) + sympy.Rational(1, 10 ** 4),
                      tolerance=sympy.Rational(1, 10 ** 5))


# --- a single change, and what follows from it -------------------------------------------

PROPERTY_NETWORKS = ("seed_relu", "mazur_2_2_2")


@st.composite
def moved_sheets(draw):
    """A network, the names a sheet answers, one of them, and a number for it beyond its rounding."""
    network = draw(st.sampled_from(PROPERTY_NETWORKS))
    marker = checker(network)
    names = [marker.name(quantity) for quantity in marker.truth]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    moved = draw(st.sampled_from(chosen))
    # More than any rounding: at least 1.5e-11 of the value (beyond a full-precision answer's 1e-12), up to 10 times it.
    size = draw(st.floats(1.5, 9.9)) * 10 ** draw(st.integers(-11, 0)) * draw(st.sampled_from([-1, 1]))
    truth = marker.truth[marker.aliases.find(moved)[0]]
    return network, chosen, moved, written(truth + sympy.Rational(str(size)) * max(1, abs(truth)), 30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moved_sheets())
def test_one_answer_moved_beyond_its_rounding_is_the_only_wrong_one(case):
    network, chosen, moved, new_value = case
    marker = checker(network)
    sheet = {marker.name(quantity): written(value, 20) for quantity, value in marker.truth.items()}
    sheet = {name: sheet[name] for name in chosen} | {moved: new_value}
    marks = marks_by_name(marker, sheet)
    assert {name: mark.verdict for name, mark in marks.items() if mark.verdict != "right"} == {moved: "wrong"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moved_sheets())
def test_answers_worked_on_from_a_moved_one_are_carried_forward(case):
    network, chosen, moved, new_value = case
    marker = checker(network)
    moved_quantity = marker.aliases.find(moved)[0]
    worked = hand_worked(marker, override={moved_quantity: new_value}, names=set(chosen))
    base = {marker.name(quantity): written(value, 20) for quantity, value in marker.truth.items()}
    sheet = {name: worked.get(name, base[name]) for name in chosen} | {moved: new_value}
    marks = marks_by_name(marker, sheet)
    assert marks[moved].verdict == "wrong"
    for name, mark in marks.items():
        if name != moved:
            assert mark.verdict in ("right", "carried_forward"), (name, mark.verdict, mark.explanation)
        if mark.verdict == "carried_forward":
            assert moved_quantity in marker.ancestors(mark.quantity)
            assert mark.follows_from and all(earlier in sheet for earlier in mark.follows_from)


def test_a_wrong_forward_value_worked_on_gives_one_wrong_and_the_rest_carried_forward():
    marker = checker("seed_relu")
    x3 = next(quantity for quantity in marker.truth if marker.name(quantity) == "x3")
    sheet = hand_worked(marker, override={x3: 6})
    marks = marks_by_name(marker, sheet)
    assert not_right(marks)["x3"] == ("wrong", None)
    carried = {name for name, mark in marks.items() if mark.verdict == "carried_forward"}
    assert [mark.verdict for mark in marks.values()].count("wrong") == 1
    assert {"y3", "x5", "y5", "L", "dL/dy5", "delta5", "dL/dy3", "delta3", "dL/dw13", "dL/dw35",
            "w13_new", "w35_new"} <= carried
    assert marks["y3"].follows_from == ("x3",) and "x3 = 6" in marks["y3"].explanation
    assert marks["x4"].verdict == "right" and marks["delta4"].verdict == "right"


def test_the_seed_sheet_finds_a_sign_flip_and_a_dropped_derivative_and_carries_the_rest():
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(EXAMPLES / "seed_relu.yaml"), str(EXAMPLES / "answers/seed_relu.yaml"),
                                  "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    wrong = {entry["name"]: entry["mistake"] for entry in report["answers"] if entry["verdict"] == "wrong"}
    assert wrong == {"dL/dy5": "sign_flip", "delta4": "dropped_activation_derivative"}
    assert report["summary"] == {"right": 9, "wrong": 2, "carried_forward": 14, "imprecise": 0, "unanswered": 0,
                                 "unknown": 0}
    delta4 = next(entry for entry in report["answers"] if entry["name"] == "delta4")
    assert "dy4/dx4" in delta4["explanation"]


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize("network, spelling, name", [
    ("seed_relu", "dE/dw13", "dL/dw13"), ("seed_relu", "dJ/dw13", "dL/dw13"), ("seed_relu", "dC/dw13", "dL/dw13"),
    ("seed_relu", "∂L/∂w13", "dL/dw13"), ("seed_relu", "d L / d w13", "dL/dw13"), ("seed_relu", "∂L/∂w₁₃", "dL/dw13"),
    ("seed_relu", "w13'", "w13_new"), ("seed_relu", "w13+", "w13_new"), ("seed_relu", "w13 new", "w13_new"),
    ("seed_relu", "new_w13", "w13_new"), ("seed_relu", "w₁₃ⁿᵉʷ", "w13_new"), ("seed_relu", "w_{13}^{new}", "w13_new"),
    ("seed_relu", "w_13", "w13"), ("seed_relu", "w_{13}", "w13"), ("seed_relu", "w₁₃", "w13"),
    ("seed_relu", "δ3", "delta3"), ("seed_relu", "delta_3", "delta3"), ("seed_relu", r"\delta_3", "delta3"),
    ("seed_relu", "dL/dx3", "delta3"), ("seed_relu", "E", "L"), ("seed_relu", "loss", "L"),
    ("seed_relu", "relu'(x3)", "dy3/dx3"), ("seed_relu", "η", "eta"),
    ("mazur_2_2_2", "dL/dW[2]_11", "dJ/dW[2]_11"), ("mazur_2_2_2", "W^{[2]}_{11} new", "W[2]_11_new"),
    ("mazur_2_2_2", "a_1^{[1]}", "a[1]_1"), ("mazur_2_2_2", "δ[2]₁", "delta[2]_1"),
    ("mazur_2_2_2", "w[2]_11", "W[2]_11"), ("mazur_2_2_2", "h(1)_1", "z[1]_1"), ("mazur_2_2_2", "yhat1", "a[2]_1"),
    ("bce_batch_2_3_1", "dL/da[2]_1(1)", "dL(1)/da[2]_1(1)"), ("bce_batch_2_3_1", "a_1^{[2](3)}", "a[2]_1(3)"),
    ("bce_batch_2_3_1", "L", "J"), ("bce_batch_2_3_1", "E(2)", "L(2)"),
])
def test_common_spellings_name_the_same_quantity(network, spelling, name):
    marker = checker(network)
    assert [marker.name(quantity) for quantity in marker.aliases.find(spelling)] == [name]


def test_a_name_the_solution_does_not_have_is_unknown_never_a_crash():
    marker = checker("bce_batch_2_3_1")
    marks = marks_by_name(marker, {"dL/dw99": 1, "a2_1(1)": "0.5", "J": "0.7"})
    assert marks["dL/dw99"].verdict == "unknown" and marks["dL/dw99"].expected is None
    assert "no quantity called dL/dw99" in marks["dL/dw99"].explanation
    # Without brackets, a2_1 may be a[2]_1 or a[1]_2: said, not guessed.
    assert marks["a2_1(1)"].verdict == "unknown" and "a[1]_2(1) or a[2]_1(1)" in marks["a2_1(1)"].explanation


# --- the command -------------------------------------------------------------------------


def run(tmp_path, answers_text: str, *options, spec: Path = EXAMPLES / "seed_relu.yaml", name="answers.yaml"):
    answers = tmp_path / name
    answers.write_text(answers_text, encoding="utf-8")
    return CliRunner().invoke(main, ["check", str(spec), str(answers), *options])


def test_all_right_exits_0_and_any_wrong_exits_1(tmp_path):
    right = run(tmp_path, "y5: 10\ndL/dw13: 20\nw35_new: -3\n")
    assert right.exit_code == 0 and "3 right, 0 wrong" in right.output
    wrong = run(tmp_path, "y5: 10\ndL/dw13: 10\n")
    assert wrong.exit_code == 1 and "✗ dL/dw13 = 10" in wrong.output


def test_an_unknown_name_is_reported_and_exits_1(tmp_path):
    result = run(tmp_path, "y5: 10\nz9: 3\n")
    assert result.exit_code == 1 and "? z9 = 3" in result.output and "1 unknown" in result.output


@pytest.mark.parametrize("text, expected", [
    ("y5: [10\n", "not valid YAML"),
    ("- 10\n- 20\n", "expected a map from quantity names to numbers"),
    ("", "got nothing"),
    ("y5: ten\n", "y5: expected a number"),
    ("y5: {a: 1}\n", "y5: expected a number"),
    ("y5: .nan\n", "y5: expected a number"),
    ("y5: 10\ny5: 11\n", "appears twice"),
    ("dL/dw13: 20\ndE/dw13: 20\n", "both name dL/dw13"),
])
def test_a_bad_answers_file_is_one_clear_line_and_exit_2(tmp_path, text, expected):
    result = run(tmp_path, text)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert str(tmp_path / "answers.yaml") in result.output and expected in result.output
    assert "Traceback" not in result.output


def test_a_missing_answers_file_is_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["check", str(EXAMPLES / "seed_relu.yaml"), str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_answers_may_be_json_with_exact_decimals(tmp_path):
    result = run(tmp_path, '{"a[1]_1": 0.59327, "J": 0.298371}', "--format", "json",
                 spec=EXAMPLES / "mazur_2_2_2.yaml", name="answers.json")
    assert result.exit_code == 0, result.output


def test_tolerance_option_accepts_answers_within_it(tmp_path):
    strict = run(tmp_path, "a[1]_1: 0.590\n", spec=EXAMPLES / "mazur_2_2_2.yaml")
    loose = run(tmp_path, "a[1]_1: 0.590\n", "--tolerance", "0.01", spec=EXAMPLES / "mazur_2_2_2.yaml")
    assert strict.exit_code == 1 and loose.exit_code == 0
    assert run(tmp_path, "a[1]_1: 0.590\n", "--tolerance", "much").exit_code == 2


def test_json_is_exactly_the_shape_of_spec_4_2(tmp_path):
    result = run(tmp_path, "y5: 10\ndL/dy5: -10\ndelta5: -10\nfoo: 1\nx3: 5.0\n", "--format", "json")
    report = json.loads(result.output)
    assert set(report) == {"answers", "summary"}
    assert set(report["summary"]) == {"right", "wrong", "carried_forward", "imprecise", "unanswered", "unknown"}
    assert report["summary"] == {"right": 2, "wrong": 1, "carried_forward": 1, "imprecise": 0, "unanswered": 0,
                                 "unknown": 1}
    for entry in report["answers"]:
        assert set(entry) == {"name", "given", "expected", "verdict", "mistake", "explanation"}
        assert isinstance(entry["given"], (int, float))
    assert report["answers"][1] == {
        "name": "dL/dy5", "given": -10, "expected": 10, "verdict": "wrong", "mistake": "sign_flip",
        "explanation": "dL/dy5: the sign of the loss's derivative is flipped (t − o instead of o − t)."}
    assert report["answers"][2]["verdict"] == "carried_forward" and report["answers"][2]["mistake"] is None
    assert report["answers"][3]["expected"] is None and report["answers"][3]["verdict"] == "unknown"
    assert report["answers"][4]["given"] == 5.0


def test_markdown_is_the_worked_solution_with_each_answer_marked(tmp_path):
    result = run(tmp_path, "y5: 10\ndL/dy5: -10\nfoo: 1\n", "--format", "md")
    assert result.exit_code == 1
    text = result.output
    assert "## Your answers" in text and "| ✗ wrong (sign_flip) |" in text
    marked = text.index("> ✗ Your answer -10: wrong (sign_flip).")
    assert text.rindex(r"\frac{\partial L}{\partial y_{5}} = y_{5} - t_{5}", 0, marked) > text.index("### Backward pass")
    assert "> ✓ Your answer 10: right." in text and "no quantity called foo" in text


def test_plain_text_has_no_colour_outside_a_terminal(tmp_path):
    result = run(tmp_path, "y5: 10\ndL/dy5: -10\n")
    assert "\x1b[" not in result.output
    marker = checker("seed_relu")
    coloured = render_report(marker.mark(parse_answers({"dL/dy5": -10})), "txt", color=True)
    assert "\x1b[31" in coloured


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed, so LaTeX cannot be compiled")
def test_the_marked_latex_sheet_compiles(tmp_path):
    output = tmp_path / "marked.tex"
    answers = "dL/dW[2]_11: 0.5\nJ: 0.7\n'a_1^{[2](1)}': 0.6\nq_9: 1\n"
    result = run(tmp_path, answers, "--format", "tex", "-o", str(output), spec=EXAMPLES / "bce_batch_2_3_1.yaml")
    assert result.exit_code == 1, result.output
    latex = output.read_text(encoding="utf-8")
    assert r"\textsf{" in latex and r"$\times$" in latex and r"q\_9" in latex
    assert compile_pdf(latex).startswith(b"%PDF")


def test_check_and_its_options_have_help():
    command = main.get_command(None, "check")
    assert command.help and "Example" in command.help
    assert all(option.help for option in command.params if isinstance(option, click.Option))


def test_a_doubled_squared_error_is_not_called_a_dropped_half(tmp_path):
    from backprop_derive import solve
    from backprop_derive.jobs.check import check, parse_answers

    spec = {"inputs": {"1": 1}, "neurons": {"2": {"activation": "identity", "in": {"1": 3}}},
            "targets": {"2": 1}, "loss": "squared_error"}
    report = check(solve(spec), parse_answers({"L": 8}))  # the true L is (3 − 1)² = 4
    mark = report.marks[0]
    assert mark.verdict == "wrong" and mark.mistake == "missing_half"
    assert "½ was dropped" not in mark.explanation and "factor 2" in mark.explanation
