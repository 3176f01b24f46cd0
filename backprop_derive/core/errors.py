"""The package's errors: one base class, and a SpecError that names the file and the field."""

from .printable import visible


class BackpropDeriveError(Exception):
    """Base of every error this package raises on purpose."""


class SpecError(BackpropDeriveError):
    """A spec (or an answers file) that cannot be used, with where and what was expected.

    Args:
        message: What was found and what was expected, in one sentence.
        path: The field path inside the file, e.g. ``layers[1].weights``; empty for the whole file.
        file: The file's name as the user gave it; empty when the spec came from Python.
    """

    def __init__(self, message: str, path: str = "", file: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.file = file

    def with_file(self, file: str) -> "SpecError":
        """The same error, naming ``file``."""
        return SpecError(self.message, self.path, file)

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        # NOTE: a file name, a key or an answer's name is the user's: one line, whatever it holds.
        return visible(f"{where}: {self.message}" if where else self.message)


class OutputError(BackpropDeriveError):
    """An output that cannot be made here, e.g. a PDF without pdflatex."""


class TemplateError(BackpropDeriveError):
    """A template of the user's (``--template-dir``) that does not compile or render.

    Args:
        message: What went wrong, in Jinja's words.
        file: The template's path.
        line: The line of the template where it went wrong, 0 when not known.
    """

    def __init__(self, message: str, file: str, line: int = 0) -> None:
        super().__init__(message)
        self.message, self.file, self.line = message, file, line

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class UsageError(BackpropDeriveError):
    """Arguments that cannot be used together, e.g. standard input named twice."""
