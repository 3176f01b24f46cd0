"""The Python API and Jupyter: plain Python numbers, exact ones on request, short reprs, PDF bytes."""

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

from backprop_derive import solve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NO_LATEX = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")


def test_loss_and_quantities_are_python_numbers_int_fraction_or_float():
    seed = solve(EXAMPLES / "seed_relu.yaml")
    assert seed.loss == 50 and type(seed.loss) is int
    custom = solve(EXAMPLES / "custom_activation.yaml")
    assert custom.loss == Fraction(1, 144) and type(custom.loss) is Fraction
    mazur = solve(EXAMPLES / "mazur_2_2_2.yaml")
    assert type(mazur.loss) is float and mazur.loss == pytest.approx(0.298371109, abs=1e-9)
    quantities = mazur.quantities()
    assert all(type(value) in (int, Fraction, float) for value in quantities.values())
    assert quantities["a[1]_1"] == pytest.approx(0.593269992, abs=1e-9)
    assert str(custom.quantities()["b3"]) == "1/2"


def test_the_exact_forms_stay_available():
    mazur = solve(EXAMPLES / "mazur_2_2_2.yaml")
    exact = mazur.quantities(exact=True)
    assert isinstance(exact["a[1]_1"], sympy.Float) and exact["a[1]_1"]._prec > 100
    assert mazur.exact_loss == exact["J"] and float(mazur.exact_loss) == mazur.loss
    assert solve(EXAMPLES / "custom_activation.yaml").exact_loss == sympy.Rational(1, 144)
    later = solve(EXAMPLES / "sigmoid_2_2_1.yaml", steps=2)
    assert later.quantities(1) != later.quantities(0)


def test_the_plain_repr_is_a_one_line_summary():
    solution = solve(EXAMPLES / "bce_batch_2_3_1.yaml", steps=2)
    text = repr(solution)
    assert "\n" not in text and len(text) < 200, text
    assert solution.network.title in text and "binary_cross_entropy" in text
    assert "2 inputs" in text and "4 neurons" in text and "examples" in text and "2 steps" in text
    assert "J = " in text


def test_the_notebook_latex_has_no_figures_and_no_breqn():
    latex = solve(EXAMPLES / "sigmoid_2_2_1.yaml", steps=3)._repr_latex_()
    assert "tikzpicture" not in latex and "pgfplots" not in latex and "axis" not in latex
    assert "dmath" not in latex and r"\[" in latex and r"\documentclass" not in latex


@NO_LATEX
def test_the_notebook_latex_compiles_in_a_document_that_loads_only_amsmath(tmp_path):
    body = solve(EXAMPLES / "softmax_cross_entropy.yaml", steps=2)._repr_latex_()
    (tmp_path / "note.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb,booktabs}\n\\begin{document}\n"
        + body + "\n\\end{document}\n", encoding="utf-8")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "note.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-2000:]


@NO_LATEX
def test_render_pdf_returns_the_pdf_bytes():
    pdf = solve(EXAMPLES / "seed_relu.yaml").render("pdf")
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF-")
