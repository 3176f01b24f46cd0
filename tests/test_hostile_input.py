"""Inputs meant to hang or crash the tool give one clear line and exit code 2, quickly."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from backprop_derive.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("answer", ['y5: "1e5000"', "y5: 1e999999999", 'y5: "1e-999999"', "~: 3", "true: 3",
                                    "y5: " + "9" * 200])
def test_check_refuses_answers_it_cannot_read(tmp_path: Path, answer: str) -> None:
    sheet = tmp_path / "answers.yaml"
    sheet.write_text(answer + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(EXAMPLES / "seed_relu.yaml"), str(sheet)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "answers.yaml" in result.output and len(result.output.strip().splitlines()) == 1


def test_check_refuses_a_tolerance_beyond_any_number() -> None:
    result = CliRunner().invoke(main, ["check", str(EXAMPLES / "seed_relu.yaml"),
                                       str(EXAMPLES / "answers" / "seed_relu.yaml"), "--tolerance", "1e999999999"])
    assert result.exit_code == 2 and "--tolerance" in result.output


@pytest.mark.parametrize(("options", "field"), [
    (["--weights", "-1e12..1e12"], "--weights"),
    (["--weights", "-1e9999999..1e99999999"], "--weights"),
    (["--arch", "2-1000000"], "--arch"),
    (["--arch", "2_0-1"], "--arch"),
    (["--arch", "2-2-1", "--loss", "cross_entropy"], "--arch"),
])
def test_generate_refuses_a_network_or_range_no_student_could_work(tmp_path: Path, options, field) -> None:
    result = CliRunner().invoke(main, ["generate", *options, "--count", "1", "-o", str(tmp_path / "hw")])
    assert result.exit_code == 2, result.output
    assert field in result.output and not (tmp_path / "hw").exists()


def test_generate_leaves_nothing_when_a_folder_blocks_one_of_its_files(tmp_path: Path) -> None:
    (tmp_path / "hw" / "problems.md").mkdir(parents=True)
    result = CliRunner().invoke(main, ["generate", "--count", "1", "--force", "-o", str(tmp_path / "hw")])
    assert result.exit_code == 2 and "problems.md" in result.output
    assert [path.name for path in (tmp_path / "hw").iterdir()] == ["problems.md"]
