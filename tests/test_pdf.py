"""PDF output: every example compiles with its TikZ diagrams; without pdflatex, a clear message and no file."""

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.render.pdf import compile_pdf

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SEED = ROOT / "examples" / "seed_relu.yaml"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (TeX Live)")
def test_every_examples_pdf_builds_with_both_diagrams():
    sources = {path.stem: solve(path).render("tex") for path in EXAMPLES}
    for name, latex in sources.items():
        # NOTE: a network has two figures (itself, the chain rule's paths); a circuit one (values and gradients);
        # a network with layer types one per convolution (its maps) and one per rnn (unrolled over its steps).
        text = (ROOT / "examples" / f"{name}.yaml").read_text(encoding="utf-8")
        layered = text.count("type: conv") + text.count("type: rnn")
        figures = layered if "\n  - type:" in text else 1 if "\ngraph:" in text else 2
        assert latex.count(r"\begin{tikzpicture}") == figures, name
        assert r"\usepackage{tikz}" in latex
    # NOTE: two at a time, as the machine has two cores; each compile is a separate process.
    with ThreadPoolExecutor(max_workers=2) as pool:
        documents = dict(zip(sources, pool.map(compile_pdf, sources.values())))
    for name, document in documents.items():
        assert document.startswith(b"%PDF-") and len(document) > 10_000, name


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (TeX Live)")
def test_pdf_is_written_by_suffix(tmp_path):
    result = CliRunner().invoke(main, ["solve", str(SEED), "-o", str(tmp_path / "seed.pdf")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "seed.pdf").read_bytes().startswith(b"%PDF-")


def test_without_pdflatex_pdf_says_what_to_install_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    result = CliRunner().invoke(main, ["solve", str(SEED), "--format", "pdf", "-o", str(tmp_path / "seed.pdf")])
    assert result.exit_code == 2
    assert result.output.startswith("Error: PDF output needs pdflatex")
    assert "apt-get install texlive-latex-base" in result.output and "--format tex" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_without_pdflatex_on_the_path_a_real_process_exits_2(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    environment = {**os.environ, "PATH": str(empty), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "backprop_derive", "solve", str(SEED), "-o", str(tmp_path / "s.pdf")],
                            capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 2
    assert "PDF output needs pdflatex" in result.stderr and result.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bin"]
