"""PDF output: a LaTeX document compiled by latexmk or pdflatex, in a scratch folder."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import OutputError

INSTALL_HINT = ("PDF output needs pdflatex (or latexmk): install TeX Live, e.g. "
                "`apt-get install texlive-latex-base texlive-latex-recommended texlive-latex-extra "
                "texlive-pictures lmodern`, or write LaTeX with --format tex")


def latex_available() -> bool:
    """True when a LaTeX compiler is on the PATH."""
    return shutil.which("pdflatex") is not None


def compile_pdf(latex: str, timeout: float = 120) -> bytes:
    """The PDF of a standalone LaTeX document.

    Raises:
        OutputError: no pdflatex here (with what to install), or the document did not compile
            (with the first LaTeX error).
    """
    if not latex_available():
        raise OutputError(INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="backprop-derive-") as folder:
        source = Path(folder) / "document.tex"
        source.write_text(latex, encoding="utf-8")
        if shutil.which("latexmk"):
            command = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-quiet", source.name]
        else:
            command = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", source.name]
        try:
            result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise OutputError(f"LaTeX took longer than {timeout:.0f} s and was stopped") from None
        output = Path(folder) / "document.pdf"
        if result.returncode != 0 or not output.exists():
            log = (Path(folder) / "document.log")
            text = log.read_text(errors="replace") if log.exists() else result.stdout
            first_error = next((line for line in text.splitlines() if line.startswith("!")), "see the LaTeX log")
            raise OutputError(f"LaTeX failed: {first_error}")
        return output.read_bytes()
