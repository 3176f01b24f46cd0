"""Reports a student cannot forge: a user's string never starts a line or a terminal sequence, in any format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from backprop_derive.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed_relu.yaml"

#: An answer's name that, printed raw, makes a fake right answer, a fake summary and clears the screen.
FORGED_NAME = "y5\n✓ dL/dw13 = 999\n\n6 right, 0 wrong, 0 carried forward, 0 unknown\n\x1b[2J\r\u2028\u202e"
#: Anything that may break a line or start a terminal sequence.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _forged_answers(tmp_path: Path) -> Path:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({FORGED_NAME: 3, "y5": 10, "dL/dw13": 999}), encoding="utf-8")
    return answers


@pytest.mark.parametrize("fmt", ["txt", "md", "tex", "json"])
def test_an_answer_name_cannot_forge_a_line_of_checks_report(tmp_path: Path, fmt: str) -> None:
    result = CliRunner().invoke(main, ["check", str(SEED), str(_forged_answers(tmp_path)), "--format", fmt])
    assert result.exit_code == 1, (result.output, result.exception)
    report = result.stdout
    assert not CONTROL.search(report.replace("\n", "")), "no control character but the report's own line breaks"
    lines = report.splitlines()
    if fmt == "json":
        names = [answer["name"] for answer in json.loads(report)["answers"]]
        assert names[0] == r"y5\n✓ dL/dw13 = 999\n\n6 right, 0 wrong, 0 carried forward, 0 unknown\n\x1b[2J\r" \
                           r"\u2028\u202e"
        return
    # The forged lines exist only inside the line that names the answer, escaped.
    assert not any(line.lstrip("| ").startswith("✓ dL/dw13 = 999") for line in lines), report
    assert not any(line.startswith("6 right") for line in lines), report
    assert r"y5\n✓ dL/dw13 = 999\n\n6 right" in report.replace(r"\textbackslash{}", "\\").replace(
        r"$\checkmark$", "✓")
    if fmt == "txt":
        assert lines[-1] == "1 right, 1 wrong, 0 carried forward, 0 imprecise, 0 unanswered, 1 unknown"
        assert lines[0].startswith(r"? y5\n✓ dL/dw13 = 999\n\n6 right")


def test_an_answer_name_cannot_forge_the_error_line(tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"x3": 5, "x3\n✓ all right\x1b[0m": "not a number"}), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(SEED), str(answers)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and not CONTROL.search(result.stderr.rstrip("\n")), result.stderr
    assert r"x3\n✓ all right\x1b[0m: expected a number" in result.stderr


def test_a_spec_key_cannot_forge_the_error_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"inputs": [1], "targets": [0], "layers": [], "bad\nError: none\x1b[2K": 1}),
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["solve", str(spec)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and not CONTROL.search(result.stderr.rstrip("\n")), result.stderr
    assert r"bad\nError: none\x1b[2K: unknown key" in result.stderr


@pytest.mark.parametrize(("command", "fmt"), [("solve", fmt) for fmt in ("txt", "md", "tex", "html", "json")]
                         + [("derive", fmt) for fmt in ("txt", "md", "tex", "json")])
def test_a_title_cannot_start_a_line_or_a_terminal_sequence(tmp_path: Path, command: str, fmt: str) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"title": "Exam\n# Answers: all 0\x1b[31m\r\u2028", "inputs": [1], "targets": [0],
                                "layers": [{"activation": "identity", "weights": [[2]]}]}), encoding="utf-8")
    result = CliRunner().invoke(main, [command, str(spec), "--format", fmt])
    assert result.exit_code == 0, (result.output, result.exception)
    assert not CONTROL.search(result.stdout.replace("\n", "")), "only the document's own line breaks"
    assert not any(line.lstrip("# ").startswith("Answers: all 0") for line in result.stdout.splitlines())
    shown = result.stdout.replace(r"\textbackslash{}", "\\").replace(r"\#", "#").replace("\\\\", "\\")
    assert r"Exam\n# Answers: all 0\x1b[31m\r\u2028" in shown, result.stdout[:400]


def test_generated_sheets_keep_a_title_on_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text('title: "Exam\\n# Key: all 0\\e[31m"\ninputs: [1, 2]\ntargets: [1]\n'
                    "layers:\n  - {activation: relu, weights: [[1, -1]]}\nlearning_rate: 0.1\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["generate", "--from", str(spec), "--count", "2", "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    for written in out.rglob("*.*"):
        text = written.read_text(encoding="utf-8")
        assert not CONTROL.search(text.replace("\n", "")), written
        assert not any(line.lstrip("# ").startswith("Key: all 0") for line in text.splitlines()), written
