"""The document model: a solution printed into headed blocks of text, equation chains, tables and figures."""

from __future__ import annotations

from dataclasses import dataclass, field

from .diagram import Diagram, Label
from .present import Line


class Math(str):
    """A printed piece that is mathematics (templates wrap it in $…$ where the format needs that)."""


@dataclass(frozen=True)
class Table:
    """A table whose cells are already printed (math in the document's typography)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @property
    def widths(self) -> list[int]:
        """Each column's width in characters, for plain-text layout."""
        return [max(len(cell) for cell in column) for column in zip(self.header, *self.rows)]


@dataclass(frozen=True)
class Plot:
    """A plot already drawn in every form a template may place (a network Diagram is the other figure).

    Attributes:
        name: Names the figure's file beside a Markdown document (``seed.loss.svg``).
        caption: One line saying what it shows.
        svg: The SVG image (Markdown links to it as a file; HTML inlines it).
        tikz: pgfplots code for LaTeX.
        text: A drawing in Unicode characters.
        mermaid: A Mermaid chart, for Markdown on standard output (GitHub draws it).
    """

    name: str
    caption: Label
    svg: str
    tikz: str
    text: str
    mermaid: str


@dataclass(frozen=True)
class Block:
    """A headed part of the solution: a sentence, equation chains, a table, a figure."""

    heading: str
    text: str = ""
    lines: tuple[Line, ...] = ()
    table: Table | None = None
    level: int = 3
    figure: Diagram | Plot | None = None


@dataclass(frozen=True)
class Document:
    """The whole solution, printed, ready for a template."""

    title: str
    overview: tuple[Block, ...]
    steps: tuple[tuple[str, tuple[Block, ...]], ...]
    closing: tuple[Block, ...] = field(default=())

    def figures(self) -> list[Diagram | Plot]:
        """Every figure placed in the document, in order."""
        blocks = self.overview + tuple(b for _, blocks in self.steps for b in blocks) + self.closing
        return [block.figure for block in blocks if block.figure]

    @property
    def has_plots(self) -> bool:
        """True when a block holds a plot (LaTeX then loads pgfplots)."""
        return any(isinstance(figure, Plot) for figure in self.figures())
