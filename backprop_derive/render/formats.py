"""The output formats: one table that every command, the renderers and the command line read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .typography import Latex, MathML, Unicode


@dataclass(frozen=True)
class Format:
    """One output format.

    Attributes:
        name: What ``--format`` takes.
        suffixes: File suffixes that mean this format for ``-o`` (the first is the one written).
        title: How the help text names it.
        typography: How names, numbers and formulas are written in it (None: JSON keeps numbers).
        commands: The commands that can write it.
        binary: True when it is bytes, never written to a terminal.
        template: The format whose templates it is made from (pdf: compiled from tex).
    """

    name: str
    suffixes: tuple[str, ...]
    title: str
    typography: type[Latex] | None
    commands: frozenset[str]
    binary: bool = False
    template: str = ""

    @property
    def suffix(self) -> str:
        """The suffix of the files written in this format."""
        return self.suffixes[0]

    @property
    def source(self) -> str:
        """The format its templates are written in."""
        return self.template or self.name


_ALL = frozenset({"solve", "check", "derive", "generate"})

FORMATS: dict[str, Format] = {format_.name: format_ for format_ in (
    Format("md", (".md", ".markdown"), "Markdown", Latex, _ALL),
    Format("tex", (".tex", ".latex"), "LaTeX", Latex, _ALL),
    Format("txt", (".txt", ".text"), "plain Unicode text", Unicode, frozenset({"solve", "check", "derive"})),
    Format("html", (".html", ".htm"), "HTML with MathML", MathML, frozenset({"solve", "check", "derive"})),
    Format("json", (".json",), "JSON", None, frozenset({"solve", "check", "derive"})),
    Format("pdf", (".pdf",), "PDF (LaTeX compiled by pdflatex)", Latex, _ALL, binary=True, template="tex"),
    # NOTE: a quiz's suffix has two parts, which a file's Path.suffix never is: -o out.xml stays Markdown.
    Format("moodle", (".moodle.xml",), "a Moodle XML quiz (beside Markdown files)", Latex,
           frozenset({"generate"}), binary=True, template="md"),
    Format("qti", (".qti.zip",), "a Canvas QTI 1.2 package (beside Markdown files)", Latex,
           frozenset({"generate"}), binary=True, template="md"),
)}


def formats_for(command: str) -> tuple[str, ...]:
    """The names of the formats ``command`` writes, in the table's order."""
    return tuple(name for name, format_ in FORMATS.items() if command in format_.commands)


def format_of_path(path: str | Path) -> str | None:
    """The format a file's suffix names (``out.md`` → ``md``), or None for an unknown suffix."""
    suffix = Path(path).suffix.lower()
    return next((name for name, format_ in FORMATS.items() if suffix in format_.suffixes), None)
