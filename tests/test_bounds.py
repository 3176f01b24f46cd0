"""Every input the grammar accepts ends within 10 s of CPU and 1 GB: a result, or one clear line and exit 2.

Each case runs the command line as a user does, in a process limited to 1 GB of address space;
its CPU time is measured (not its wall time, which a busy machine stretches).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import sympy
import yaml

from backprop_derive.core.limits import MAX_EXACT_DIGITS, MAX_FILE_BYTES
from backprop_derive.core.numbers import settle

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed_relu.yaml"
CPU_SECONDS = 10
MEMORY_BYTES = 2**30


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def run(*arguments: str) -> subprocess.CompletedProcess:
    """``backprop-derive arguments`` within 1 GB; fails the test past CPU_SECONDS of CPU (or a minute of wall time)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-m", "backprop_derive", *arguments], capture_output=True, text=True,
                            timeout=60, preexec_fn=_limit_memory, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < CPU_SECONDS, f"{arguments} took {cpu:.1f} s of CPU"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    """The one line of a refusal, checked: exit 2, nothing on standard output, each of ``words`` in it."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def custom(tmp_path: Path, formula: str, input_value: object = 1) -> Path:
    """A spec whose neuron 3 has the activation ``formula``, its pre-activation 5 times ``input_value``."""
    spec = {"inputs": {1: input_value, 2: -1}, "learning_rate": 0.1, "targets": {5: 0},
            "neurons": {3: {"activation": {"expr": formula}, "in": {1: 2, 2: -3}}, 5: {"activation": "identity",
                                                                                       "in": {3: 1}}}}
    return write(tmp_path, spec)


def write(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def dense(weights: list, activation: str = "identity", inputs: list | None = None, targets: list | None = None,
          rate: float = 0.1) -> dict:
    """A dense spec of one unit per layer with these weights."""
    return {"inputs": inputs or [1], "targets": targets or [0], "learning_rate": rate,
            "layers": [{"activation": activation, "weights": [[weight]]} for weight in weights]}


# --- formula towers --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["solve", "derive"])
def test_nested_tanh_is_solved_without_looking_for_its_derivative_in_its_output(tmp_path: Path, command) -> None:
    result = run(command, str(custom(tmp_path, "tanh(tanh(tanh(tanh(x))))")), "--format", "md")
    assert result.returncode == 0, result.stderr
    assert "tanh" in result.stdout


@pytest.mark.parametrize(("formula", "input_value"), [
    ("x**x**x**x**99", 1),
    ("exp(exp(exp(x)))", 1),
    ("exp(" * 10 + "x" + ")" * 10, 1),
    ("2**x", "1e100"),
    ("x**x", "1e100"),
])
def test_a_value_beyond_the_size_limit_is_refused_naming_the_neuron(tmp_path: Path, formula, input_value) -> None:
    line = refused(run("solve", str(custom(tmp_path, formula, input_value)), "--format", "md"),
                   "neurons.3", "neuron 3", "10^±10000 that a worked solution can show")
    assert line.startswith(f"Error: {tmp_path / 'spec.yaml'}: ")


@pytest.mark.parametrize("formula", ["x**x**x**x**99", "exp(" * 10 + "x" + ")" * 10])
def test_towers_are_derived_in_general(tmp_path: Path, formula) -> None:
    result = run("derive", str(custom(tmp_path, formula)), "--format", "md")
    assert result.returncode == 0 and r"\partial" in result.stdout


@pytest.mark.parametrize("formula", ["exp(" * 80 + "x" + ")" * 80, "**".join(["x"] * 160),
                                     "x*(x+" * 80 + "1" + ")" * 80])
@pytest.mark.parametrize("command", [["solve"], ["derive"], ["generate", "--count", "1", "--from"]])
def test_a_formula_nested_beyond_the_limit_is_refused_up_front(tmp_path: Path, formula, command) -> None:
    spec = custom(tmp_path, formula)
    refused(run(*command, str(spec), *(["-o", str(tmp_path / "hw")] if "generate" in command else [])),
            "neurons.3.activation.expr", "levels deep", "at most 12")
    assert not (tmp_path / "hw").exists()


def test_generate_gives_up_on_a_formula_no_drawn_numbers_can_solve(tmp_path: Path) -> None:
    spec = custom(tmp_path, "exp(" * 10 + "x" + ")" * 10)
    refused(run("generate", "--from", str(spec), "--count", "2", "-o", str(tmp_path / "hw")),
            "50 draws", "10^±10000 that a worked solution can show")
    assert not (tmp_path / "hw").exists()


def test_generate_from_a_tower_ends(tmp_path: Path) -> None:
    result = run("generate", "--from", str(custom(tmp_path, "x**x**x**x**99")), "--count", "2",
                 "-o", str(tmp_path / "hw"))
    assert result.returncode in (0, 2), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# --- exact values that grow ---------------------------------------------------------------------


def test_fifty_layers_of_weight_1e100_carry_10_to_the_5000_as_a_float(tmp_path: Path) -> None:
    result = run("solve", str(write(tmp_path, dense(["1e100"] * 50))), "--format", "txt")
    assert result.returncode == 0, result.stderr
    assert "1×10^5000" in result.stdout


def test_a_diverging_network_stops_at_the_step_its_values_leave_the_limit(tmp_path: Path) -> None:
    refused(run("solve", str(write(tmp_path, dense([3, 3, 3], rate=10))), "--steps", "8", "--format", "json"),
            "10^±10000 that a worked solution can show", "(at step 6)")


def test_a_hundred_layers_of_weight_1e_100_end(tmp_path: Path) -> None:
    refused(run("solve", str(write(tmp_path, dense(["1e-100"] * 100))), "--format", "json"),
            "loss", "10^±10000 that a worked solution can show")


def test_an_exact_value_longer_than_the_limit_is_carried_as_a_float() -> None:
    assert settle(sympy.Integer(10) ** (MAX_EXACT_DIGITS - 1)).is_Integer
    assert settle(sympy.Integer(10) ** (MAX_EXACT_DIGITS + 10)).is_Float


# --- sizes beyond a worked solution -------------------------------------------------------------


def test_a_batch_beyond_the_limit_is_refused_up_front(tmp_path: Path) -> None:
    spec = dense([1], inputs=[[index % 7] for index in range(10_000)], targets=[[index % 2] for index in range(10_000)])
    refused(run("solve", str(write(tmp_path, spec)), "--format", "json"), "inputs", "10,000 examples", "1,000")


def test_a_spec_file_beyond_the_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("inputs: [" + ", ".join(["0.5"] * (MAX_FILE_BYTES // 5 + 1)) + "]\n", encoding="utf-8")
    refused(run("solve", str(spec)), "spec.yaml", "larger than 1 MB")


def test_many_steps_of_a_written_solution_are_refused_but_json_works(tmp_path: Path) -> None:
    softmax = SEED.parent / "softmax_cross_entropy.yaml"
    refused(run("solve", str(softmax), "--steps", "1000", "--format", "md"), "--steps", "1,000 steps", "--format json")
    assert run("solve", str(softmax), "--steps", "1000", "--format", "json").returncode == 0


def test_a_thousand_steps_of_a_small_network_are_still_written_out() -> None:
    result = run("solve", str(SEED), "--steps", "1000", "--format", "md")
    assert result.returncode == 0, result.stderr
    assert "Step 1000" in result.stdout


@pytest.mark.parametrize(("options", "words"), [
    (["--arch", "20-20-20", "--batch", "100"], ("--arch", "100 examples", "20,000")),
    (["--count", "100000"], ("--count", "at most 1,000")),
    (["--count", "1000"], ("--count", "3,000")),
])
def test_generate_refuses_more_work_than_a_run_can_do_up_front(tmp_path: Path, options, words) -> None:
    refused(run("generate", *options, "-o", str(tmp_path / "hw")), *words)
    assert not (tmp_path / "hw").exists()


# --- deep graphs --------------------------------------------------------------------------------


def test_a_thousand_chained_neurons_are_solved_as_json_and_refused_as_text(tmp_path: Path) -> None:
    names = [f"n{index}" for index in range(1000)]
    spec = write(tmp_path, {"inputs": {"a": 1}, "targets": {names[-1]: 0}, "learning_rate": 0.1, "neurons": {
        name: {"activation": "identity", "in": {previous: 1}} for previous, name in zip(["a"] + names, names)}})
    result = run("solve", str(spec), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["gradients"]["neurons"]) == 1000
    refused(run("solve", str(spec), "--format", "md"), "neurons", "25,000", "--format json")


def test_fifteen_hundred_dense_layers_are_solved_as_json(tmp_path: Path) -> None:
    result = run("solve", str(write(tmp_path, dense([1] * 1500))), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["gradients"]["layers"]) == 1500


def test_derive_refuses_chain_rules_with_more_paths_than_it_can_write(tmp_path: Path) -> None:
    widths = [16, 36, 32, 16, 8]
    spec = {"inputs": [1] * widths[0], "targets": [0] * widths[-1],
            "layers": [{"activation": "sigmoid", "weights": [[1] * below for _ in range(units)]}
                       for below, units in zip(widths, widths[1:])]}
    for fmt in ("md", "json"):
        refused(run("derive", str(write(tmp_path, spec)), "--format", fmt), "layers", "expanded over every path",
                "at most 50,000")


@pytest.mark.parametrize("fmt", ["md", "html", "txt"])
def test_the_deepest_written_solution_the_limits_allow_ends_within_them(tmp_path: Path, fmt) -> None:
    result = run("solve", str(write(tmp_path, dense([1] * 99, activation="tanh"))), "--format", fmt)
    assert result.returncode == 0, result.stderr


def test_generate_from_a_nested_custom_activation_ends(tmp_path: Path) -> None:
    result = run("generate", "--from", str(custom(tmp_path, "tanh(tanh(tanh(tanh(x))))")), "--count", "3",
                 "-o", str(tmp_path / "hw"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hw" / "variant-3" / "solution.md").exists()
