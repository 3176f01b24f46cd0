"""Malformed specs: each gives exit 2, one line naming the file and the field, no traceback, no output."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from specs import specs

from backprop_derive import BackpropDeriveError, solve
from backprop_derive.cli import main

ROOT = Path(__file__).resolve().parent.parent

DENSE = """\
inputs: [1, 2]
targets: [1]
layers:
  - activation: sigmoid
    weights: [[0.5, -1], [0.25, 1]]
    biases: [0.1, 0.2]
  - activation: identity
    weights: [[1, -1]]
learning_rate: 0.1
"""

NAMED = """\
inputs: {1: 1, 2: -1}
neurons:
  3: {activation: relu, in: {1: 2, 2: -3}}
  4: {activation: relu, in: {1: 1, 2: 4}}
  5: {activation: relu, in: {3: 2, 4: -1}}
targets: {5: 0}
learning_rate: 0.1
"""


def dense(old: str, new: str) -> str:
    """The valid dense spec with one piece of it changed."""
    assert old in DENSE, old
    return DENSE.replace(old, new, 1)


def named(old: str, new: str) -> str:
    """The valid named spec with one piece of it changed."""
    assert old in NAMED, old
    return NAMED.replace(old, new, 1)


# (id, the file's text, its suffix, extra arguments, the field path or None, what the message says)
CASES = [
    ("matrix with too few columns", dense("weights: [[1, -1]]", "weights: [[1, -1, 2]]"), ".yaml", [],
     "layers[1].weights[0]", "expected 2 numbers"),
    ("row of the wrong length", dense("[[0.5, -1], [0.25, 1]]", "[[0.5, -1], [0.25]]"), ".yaml", [],
     "layers[0].weights[1]", "expected 2 numbers"),
    ("weights not a matrix", dense("weights: [[1, -1]]", "weights: [1, -1]"), ".yaml", [],
     "layers[1].weights", "expected a list of rows"),
    ("biases of the wrong length", dense("biases: [0.1, 0.2]", "biases: [0.1, 0.2, 0.3]"), ".yaml", [],
     "layers[0].biases", "expected 2 numbers"),
    ("unknown activation", dense("activation: sigmoid", "activation: sigmoidd"), ".yaml", [],
     "layers[0].activation", "unknown activation 'sigmoidd'; expected one of"),
    ("unknown loss", DENSE + "loss: mean_squared\n", ".yaml", [], "loss", "expected one of half_squared_error"),
    ("loss that is not a name", DENSE + "loss: [mse]\n", ".yaml", [], "loss", "expected a loss name"),
    ("typo in a top-level key", dense("learning_rate", "learning_rat"), ".yaml", [],
     "learning_rat", "unknown key; expected one of"),
    ("typo in an option", DENSE + "options: {reductoin: sum}\n", ".yaml", [],
     "options.reductoin", "unknown key; expected one of"),
    ("typo in a layer key", dense("biases: [0.1, 0.2]", "bias: [0.1, 0.2]"), ".yaml", [],
     "layers[0].bias", "unknown key; expected one of activation, biases, weights"),
    ("typo in a neuron key", named("in: {1: 2, 2: -3}", "inputs: {1: 2, 2: -3}"), ".yaml", [],
     "neurons.3.inputs", "unknown key; expected one of activation, bias, in"),
    ("a string where a number belongs", dense("[[0.5, -1]", "[[0.5, minus one]"), ".yaml", [],
     "layers[0].weights[0][1]", "expected a number"),
    ("a bool where a number belongs", dense("inputs: [1, 2]", "inputs: [yes, 2]"), ".yaml", [],
     "inputs[0]", "expected a number, got true"),
    ("nothing where a number belongs", named("in: {1: 1, 2: 4}", "in: {1: 1, 2: }"), ".yaml", [],
     "neurons.4.in.2", "expected a number, got NoneType None"),
    ("a cycle in named neurons", named("in: {1: 2, 2: -3}", "in: {1: 2, 5: -3}"), ".yaml", [],
     "neurons.", "form a cycle"),
    ("reading from a node that does not exist", named("in: {3: 2, 4: -1}", "in: {3: 2, 9: -1}"), ".yaml", [],
     "neurons.5.in.9", "no node named 9"),
    ("targets that do not match the outputs", dense("targets: [1]", "targets: [1, 0]"), ".yaml", [],
     "targets", "expected 1 number,"),
    ("a target on a node that is not a neuron", named("targets: {5: 0}", "targets: {5: 0, 2: 1}"), ".yaml", [],
     "targets.2", "targets name output neurons"),
    ("batch sizes that disagree", dense("inputs: [1, 2]\ntargets: [1]", "inputs: [[1, 2], [3, 4]]\ntargets: [[1]]"),
     ".yaml", [], "targets", "expected one target row per example"),
    ("one example against a batch of targets", dense("targets: [1]", "targets: [[1], [0]]"), ".yaml", [],
     "targets", "expected one target row per example"),
    ("softmax in named neurons", named("5: {activation: relu", "5: {activation: softmax"), ".yaml", [],
     "neurons.5.activation", "for dense layers only"),
    ("alpha on sigmoid", dense("activation: sigmoid", "activation: {name: sigmoid, alpha: 0.2}"), ".yaml", [],
     "layers[0].activation.alpha", "alpha applies only to elu and leaky_relu"),
    ("precision out of range", DENSE + "options: {precision: 40}\n", ".yaml", [],
     "options.precision", "expected a whole number from 1 to 30"),
    ("reduction not mean or sum", DENSE + "options: {reduction: average}\n", ".yaml", [],
     "options.reduction", "expected one of mean, sum"),
    ("update_biases not true or false", DENSE + "options: {update_biases: 1}\n", ".yaml", [],
     "options.update_biases", "expected true or false"),
    ("invalid YAML", dense("inputs: [1, 2]", "inputs: [1, 2"), ".yaml", [], None, "not valid YAML"),
    ("duplicate keys", DENSE + "learning_rate: 0.2\n", ".yaml", [], None, "'learning_rate' appears twice"),
    ("custom formula calling __import__",
     dense("activation: identity", "activation: {expr: \"__import__('os').system('ls')\"}"), ".yaml", [],
     "layers[1].activation.expr", "calling"),
    ("custom formula with attribute access", dense("activation: identity", "activation: {expr: x.real}"),
     ".yaml", [], "layers[1].activation.expr", "attribute"),
    ("custom formula with a lambda", dense("activation: identity", "activation: {expr: 'lambda: x'}"),
     ".yaml", [], "layers[1].activation.expr", "lambda"),
    ("custom formula with a name other than x", dense("activation: identity", "activation: {expr: y*2}"),
     ".yaml", [], "layers[1].activation.expr", "unknown name 'y'"),
    ("negative learning rate", dense("learning_rate: 0.1", "learning_rate: -0.1"), ".yaml", [],
     "learning_rate", "expected a positive number"),
    ("several steps without a learning rate", dense("learning_rate: 0.1\n", ""), ".yaml", ["--steps", "2"],
     "learning_rate", "several steps need a learning_rate"),
    ("an empty file", "", ".yaml", [], None, "expected a map with inputs, targets and layers or neurons"),
    ("neither layers nor neurons", "inputs: [1]\ntargets: [1]\n", ".yaml", [], None,
     "expected exactly one of layers (dense form) or neurons (named form)"),
    ("missing targets", dense("targets: [1]\n", ""), ".yaml", [], "targets", "missing"),
    ("the same node as 1 and '1'", named("inputs: {1: 1, 2: -1}", "inputs: {1: 1, '1': 3, 2: -1}"), ".yaml", [],
     "inputs.1", "names node 1 a second time"),
    ("a node name TeX cannot take", named("inputs: {1: 1, 2: -1}", 'inputs: {1: 1, 2: -1, "a\\\\b": 0}'), ".yaml",
     [], "inputs.a\\b", "expected a node name of ASCII letters and digits"),
    ("a number too large to expand", dense("inputs: [1, 2]", "inputs: [1e999999999, 2]"), ".yaml", [],
     "inputs[0]", "expected a number from 1e-100 to 1e100"),
    ("a fraction over zero", dense("inputs: [1, 2]", "inputs: ['1/0', 2]"), ".yaml", [],
     "inputs[0]", "expected a number"),
    ("a hidden neuron that feeds nothing", named("  5: {", "  6: {activation: relu, in: {1: 1}}\n  5: {"), ".yaml",
     [], "neurons.6", "feeds no other neuron"),
    ("batch rows naming different inputs", named("inputs: {1: 1, 2: -1}", "inputs: [{1: 1, 2: -1}, {1: 1, 3: 2}]")
     .replace("targets: {5: 0}", "targets: [{5: 0}, {5: 1}]"), ".yaml", [], "inputs[1]",
     "expected the same nodes as the first example"),
    ("a list as a YAML key", named("inputs: {1: 1, 2: -1}", "inputs: {[1]: 1, 2: -1}"), ".yaml", [], None,
     "a key must be a name or a number"),
    ("activation map without a name", dense("activation: sigmoid", "activation: {alpha: 0.2}"), ".yaml", [],
     "layers[0].activation.name", "missing; expected an activation name"),
    ("numbers with no finite solution (the log of a negative output)", DENSE + "loss: cross_entropy\n", ".yaml", [],
     None, "the exercise has no finite solution"),
    ("a JSON spec with a ragged matrix",
     '{"inputs": [1, 2], "targets": [1], "layers": [{"activation": "relu", "weights": [[1, 2], [3]]}]}',
     ".json", [], "layers[0].weights[1]", "expected 2 numbers"),
    ("invalid JSON", '{"inputs": [1, 2], "targets": [1],}', ".json", [], None, "not valid JSON"),
    ("duplicate keys in JSON",
     '{"inputs": [1], "inputs": [2], "targets": [1], "layers": [{"activation": "relu", "weights": [[1]]}]}',
     ".json", [], None, "'inputs' appears twice"),
]


def _run(spec: Path, out: Path, arguments: list[str]):
    return CliRunner().invoke(main, ["solve", str(spec), "-o", str(out / "solution.md"), *arguments])


@pytest.mark.parametrize(("text", "suffix", "arguments", "field", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_malformed_spec_gets_one_clear_line_and_no_output(tmp_path: Path, text, suffix, arguments, field,
                                                           expected) -> None:
    spec = tmp_path / f"spec{suffix}"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    result = _run(spec, out, arguments)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(f"Error: {spec}: "), line
    if field is not None:
        assert f"{spec}: {field}" in line, line
    assert expected in line, line
    assert "Traceback" not in result.output
    assert list(out.iterdir()) == [], "no output file, and no temporary file left behind"


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({case[0] for case in CASES}) == len(CASES)


def test_a_missing_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = _run(tmp_path / "nowhere.yaml", out, [])
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path / 'nowhere.yaml'}: no such file\n"
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("case", ["a cycle in named neurons", "custom formula calling __import__", "invalid YAML"])
def test_a_real_process_prints_no_traceback(tmp_path: Path, case: str) -> None:
    _, text, suffix, arguments, field, expected = next(c for c in CASES if c[0] == case)
    spec = tmp_path / f"spec{suffix}"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run([sys.executable, "-m", "backprop_derive", "solve", str(spec), "-o",
                             str(out / "solution.md"), *arguments], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert list(out.iterdir()) == []


# --- junk in random fields ---------------------------------------------------------------

#: Values a YAML file could hold where the spec expects something else.
JUNK = st.sampled_from([
    None, True, False, "", "abc", "x**2", "1/0", "-1", "1e999999999", "relu", "softmax", "sigmoid", [], {}, [[]],
    [[1]], [1, [2]], {"a": 1}, {"expr": "x"}, {"name": "elu", "alpha": -1}, {"1": 1}, 0, -1, 2, 10**6,
    Decimal("-0.5"), Decimal("1e-300"), Decimal("1e300"), float("nan"), float("inf"), "sum", "indexed",
])


def _positions(node, trail=()):
    """Every (container, key) place in a parsed spec."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _positions(value, trail + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index
            yield from _positions(value, trail + (index,))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.data())
def test_junk_in_any_field_gives_a_solution_or_a_clean_error(spec: dict, data) -> None:
    spec = copy.deepcopy(spec)
    positions = list(_positions(spec))
    container, key = data.draw(st.sampled_from(positions))
    action = data.draw(st.sampled_from(["replace", "rename", "delete"]))
    if action == "replace":
        container[key] = data.draw(JUNK)
    elif action == "rename" and isinstance(container, dict):
        container[data.draw(st.sampled_from(["bais", "weight", "alpha", "in", "1", "name", "expr"]))] = \
            container.pop(key)
    else:
        del container[key]
    try:
        solution = solve(spec)
    except BackpropDeriveError as error:
        assert "\n" not in str(error)
        return
    assert solution.render("md")
