"""PDF output: a LaTeX document compiled by pdflatex, in a scratch folder."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..core.errors import OutputError

#: At most this many pdflatex passes, while LaTeX asks to rerun for its cross-references.
MAX_PASSES = 3

INSTALL_HINT = ("PDF output needs pdflatex: install TeX Live, e.g. "
                "`apt-get install texlive-latex-base texlive-latex-recommended texlive-latex-extra "
                "texlive-pictures lmodern`, or write LaTeX with --format tex")


#: The characters beyond ASCII that pdflatex sets as text with the templates' inputenc (utf8) and fontenc
#: (T1): Latin-1, Latin Extended-A but for a few, and common punctuation. Others are refused up front.
PDFLATEX_TEXT = re.compile(
    "[^\t\n\r\x20-\x7e\u00a0-\u0125\u0128-\u0137\u0139-\u013e\u0141-\u0148\u014a-\u0165\u0168-\u017e"
    "\u2010-\u2016\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122\u2190-\u2193]")


def latex_available() -> bool:
    """True when a LaTeX compiler is on the PATH."""
    return shutil.which("pdflatex") is not None


def compile_pdf(latex: str, timeout: float = 120) -> bytes:
    """The PDF of a standalone LaTeX document.

    Raises:
        OutputError: no pdflatex here (with what to install), a character pdflatex cannot set (named,
            before compiling), or the document did not compile (with the first LaTeX error).
    """
    untypeset = PDFLATEX_TEXT.search(latex)
    if untypeset:
        raise OutputError(_untypeset(untypeset.group()))
    if not latex_available():
        raise OutputError(INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="backprop-derive-") as folder:
        source = Path(folder) / "document.tex"
        source.write_text(latex, encoding="utf-8")
        command = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", source.name]
        log = Path(folder) / "document.log"
        # NOTE: one pass suffices for the built-in templates (no cross-references); a template of
        # one's own that has them gets the passes LaTeX asks for, as latexmk would run.
        for _ in range(MAX_PASSES):
            try:
                result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout,
                                        stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise OutputError(f"LaTeX took longer than {timeout:.0f} s and was stopped") from None
            text = log.read_text(errors="replace") if log.exists() else result.stdout
            if result.returncode != 0 or "Rerun to get" not in text:
                break
        output = Path(folder) / "document.pdf"
        if result.returncode != 0 or not output.exists():
            first_error = next((line for line in text.splitlines() if line.startswith("!")), "see the LaTeX log")
            character = re.search(r"Unicode character (.) \(U\+", first_error)
            raise OutputError(_untypeset(character.group(1)) if character else f"LaTeX failed: {first_error}")
        return output.read_bytes()


def _untypeset(character: str) -> str:
    return (f"PDF cannot show the character {character!r} (U+{ord(character):04X}) of the spec's text: "
            f"leave it out, or write --format html or tex (for a Unicode engine such as lualatex)")
