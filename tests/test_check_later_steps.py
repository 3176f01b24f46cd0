"""`check` marks later training steps (a `step N:` group) of `graph:` exercises and layered networks too,
under the names `solve --format json --steps N` gives them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.jobs.check import check, parse_answers

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str, **extra) -> dict:
    spec = yaml.safe_load((EXAMPLES / name).read_text())
    if "optimizer" in extra:
        spec.pop("learning_rate", None)
    return {**spec, **extra}


#: Two `graph:` exercises and three layered networks, each with an update (two with an optimizer's state).
EXERCISES = {
    "neuron_circuit_momentum": example("sigmoid_neuron_circuit.yaml",
                                       optimizer={"name": "momentum", "learning_rate": "0.5"}),
    "add_multiply_sgd": {"inputs": {"x": -2, "y": 5}, "parameters": {"z": -4},
                         "graph": {"q": "x + y", "f": "q * z"}, "learning_rate": "0.1"},
    "conv_pool": example("conv_pool_exam.yaml"),
    "conv_pool_adam": example("conv_pool_exam.yaml", optimizer={"name": "adam", "learning_rate": "0.1"}),
    "rnn_bptt": example("rnn_bptt_3_steps.yaml"),
    "batchnorm": example("batchnorm_batch3.yaml"),
}


def later_names(solution, step: int) -> list[str]:
    """The names the solution's JSON gives step ``step``'s new parameters and state (every one of them)."""
    return [name for name in solution.quantities(step - 1) if name.endswith("_new")]


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_later_steps_answers_are_marked_right_and_wrong(name: str) -> None:
    spec = EXERCISES[name]
    solution = solve(spec)
    longer = solve(spec, steps=3)
    sheet = {f"step {step}": {answer: float(longer.quantities(step - 1)[answer])
                              for answer in later_names(longer, step)} for step in (2, 3)}
    assert all(sheet.values())
    report = check(solution, parse_answers(sheet))
    assert {mark.verdict for mark in report.marks} == {"right"}, [m for m in report.marks if m.verdict != "right"]
    assert len(report.marks) == sum(len(group) for group in sheet.values())
    # NOTE: step 1's numbers given as step 2's, where they differ: wrong. (A whole number such as 2 is
    # written to one digit, and 2 is 2.07 to one digit: those are left out.)
    first = {answer: float(solution.quantities(0)[answer]) for answer in later_names(longer, 2)}
    moved = [answer for answer in first if abs(first[answer] - float(longer.quantities(1)[answer])) > 1e-3
             and first[answer] != round(first[answer])]
    assert moved
    wrong = check(solution, parse_answers({"step 2": {answer: first[answer] for answer in moved}}))
    assert {mark.verdict for mark in wrong.marks} == {"wrong"}
    assert all(mark.name.startswith("step 2: ") and "should be" in mark.explanation for mark in wrong.marks)


def test_a_later_step_of_a_graph_without_a_learning_rate_is_unknown_and_says_why() -> None:
    solution = solve(EXAMPLES / "circuit_add_multiply.yaml")
    report = check(solution, parse_answers({"step 2": {"q": 3}}))
    assert [mark.verdict for mark in report.marks] == ["unknown"]
    assert "learning rate" in report.marks[0].explanation


def test_check_on_the_command_line_marks_a_layered_networks_step_2(tmp_path) -> None:
    longer = solve(EXAMPLES / "conv_pool_exam.yaml", steps=2)
    answers = {"step 2": {name: float(longer.quantities(1)[name]) for name in later_names(longer, 2)[:3]}}
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(answers))
    result = CliRunner().invoke(main, ["check", str(EXAMPLES / "conv_pool_exam.yaml"), str(path)])
    assert result.exit_code == 0, result.output
    assert "3 right" in result.output and "step 2: " in result.output
