"""Whole outputs as golden files: each example's Markdown, LaTeX and JSON, and the LaTeX compiles.

The golden files in tests/golden/ are regenerated only on purpose, after reading the change:
`PYTHONPATH=$PWD python tests/update_golden.py`, then review `git diff tests/golden`.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
from pathlib import Path

import pytest
import update_golden
from update_golden import GRAPH_FORMATS, examples, formats, golden_path, rendered

NO_LATEX = "pdflatex is not installed here (install TeX Live, e.g. Debian's texlive-latex-base, to compile LaTeX)"


@pytest.fixture(scope="module", params=examples(), ids=lambda path: path.stem)
def outputs(request) -> tuple[Path, dict[str, str]]:
    return request.param, rendered(request.param)


def test_every_example_has_its_golden_files() -> None:
    assert examples(), "no examples found"
    for example in examples():
        for fmt in formats(example):
            assert golden_path(example, fmt).exists(), f"run tests/update_golden.py for {example.name}"


@pytest.mark.parametrize("fmt", GRAPH_FORMATS)
def test_output_matches_its_golden_file(outputs, fmt: str) -> None:
    example, texts = outputs
    if texts[fmt] is None:
        return  # NOTE: networks keep md, tex and json goldens; computational graphs every text format
    path = golden_path(example, fmt)
    expected = path.read_text(encoding="utf-8")
    if texts[fmt] != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), texts[fmt].splitlines(keepends=True),
                                            fromfile=f"golden/{path.name}", tofile="now", n=2))
        pytest.fail(f"{example.name} as {fmt} differs from its golden file "
                    f"(if the change is wanted: PYTHONPATH=$PWD python tests/update_golden.py):\n{diff}",
                    pytrace=False)


@pytest.mark.parametrize("name", sorted(update_golden.MATRIX_STYLE))
def test_matrix_style_matches_its_golden_files(name: str) -> None:
    example = update_golden.EXAMPLES / f"{name}.yaml"
    for fmt, text in update_golden.rendered_in_matrix_style(example).items():
        path = golden_path(example, fmt, "matrix")
        assert path.exists(), f"run tests/update_golden.py for {example.name} in matrix style"
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), text.splitlines(keepends=True),
                                                fromfile=f"golden/{path.name}", tofile="now", n=2))
            pytest.fail(f"{example.name} in matrix style as {fmt} differs from its golden file:\n{diff}",
                        pytrace=False)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason=NO_LATEX)
def test_latex_compiles_with_pdflatex(outputs, tmp_path: Path) -> None:
    example, texts = outputs
    (tmp_path / "solution.tex").write_text(texts["tex"], encoding="utf-8")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "solution.tex"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    log = (tmp_path / "solution.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert result.returncode == 0, f"{example.name}: {errors or result.stdout[-2000:]}"
    assert (tmp_path / "solution.pdf").read_bytes().startswith(b"%PDF")
    assert "Missing character" not in log, f"{example.name}: a character the font does not have"
