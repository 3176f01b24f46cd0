"""A figure of maps side by side (input ⋆ kernel = output), each a grid of numbers, drawn in every form."""

from __future__ import annotations

import html
from dataclasses import dataclass

from .diagram import Label

#: A grid cell's height, a character's width and the gaps, in pixels.
CELL_HEIGHT = 26
CHARACTER = 8
PADDING = 12
GAP = 40
TITLE = 24
MIN_WIDTH = 30


@dataclass(frozen=True)
class Panel:
    """One map: its title, its entries (rows, in LaTeX and in Unicode), and the cells to shade (row, column)."""

    title: Label
    tex: tuple[tuple[str, ...], ...]
    text: tuple[tuple[str, ...], ...]
    shaded: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class MapFigure:
    """Maps side by side with an operator between each two (``⋆``, ``=``).

    Attributes:
        name: Names the figure's file beside a Markdown document (``seed.conv1.svg``).
        panels: The maps, left to right.
        operators: Between each two panels, (LaTeX, Unicode).
        caption: One sentence under the figure (``tex`` is LaTeX text, math in $…$).
    """

    name: str
    panels: tuple[Panel, ...]
    operators: tuple[Label, ...]
    caption: Label


def _widths(panel: Panel) -> list[int]:
    columns = len(panel.text[0])
    return [max(max(len(row[column]) for row in panel.text) * CHARACTER + PADDING, MIN_WIDTH) for column in range(columns)]


def map_svg(figure: MapFigure) -> str:
    """The maps as grids of numbers, the first window and the entry it makes shaded."""
    parts, x = [], 0
    height = TITLE + max(len(panel.text) for panel in figure.panels) * CELL_HEIGHT + 4
    for index, panel in enumerate(figure.panels):
        widths = _widths(panel)
        top = TITLE + (height - TITLE - len(panel.text) * CELL_HEIGHT) // 2
        parts.append(f'<text x="{x + sum(widths) / 2:.1f}" y="{TITLE - 8}" text-anchor="middle" font-size="14" '
                     f'font-style="italic">{html.escape(panel.title.text)}</text>')
        for r, row in enumerate(panel.text):
            left = x
            for c, (entry, width) in enumerate(zip(row, widths)):
                fill = "#fbeae8" if (r, c) in panel.shaded else "#fff"
                parts.append(f'<rect x="{left}" y="{top + r * CELL_HEIGHT}" width="{width}" height="{CELL_HEIGHT}" '
                             f'fill="{fill}" stroke="#222" stroke-width="1"/>')
                parts.append(f'<text x="{left + width / 2:.1f}" y="{top + r * CELL_HEIGHT + CELL_HEIGHT / 2:.1f}" '
                             f'text-anchor="middle" dominant-baseline="central" font-size="13">{html.escape(entry)}'
                             "</text>")
                left += width
        x += sum(widths)
        if index < len(figure.operators):
            parts.append(f'<text x="{x + GAP / 2:.1f}" y="{TITLE + (height - TITLE) / 2:.1f}" text-anchor="middle" '
                         f'dominant-baseline="central" font-size="18">{html.escape(figure.operators[index].text)}</text>')
            x += GAP
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-2 0 {x + 4} {height}" width="{x + 4}" '
            f'height="{height}" role="img" font-family="serif">')
    return "\n".join([head, f"<title>{html.escape(figure.caption.text)}</title>", *parts, "</svg>"])


def map_tikz(figure: MapFigure) -> str:
    """The maps as LaTeX matrices side by side, each under its title, in one TikZ node (scaled to the line)."""
    pieces = []
    for index, panel in enumerate(figure.panels):
        rows = r" \\ ".join(" & ".join(rf"\colorbox{{red!10}}{{${entry}$}}" if (r, c) in panel.shaded else entry
                                        for c, entry in enumerate(row)) for r, row in enumerate(panel.tex))
        pieces.append(r"\begin{array}{c} " + panel.title.tex + r" \\ \begin{bmatrix} " + rows
                      + r" \end{bmatrix} \end{array}")
        if index < len(figure.operators):
            pieces.append(figure.operators[index].tex)
    return (r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%" + "\n"
            + r"\begin{tikzpicture}\node[inner sep=0pt] {$" + " ".join(pieces) + r"$};\end{tikzpicture}}")


def map_mermaid(figure: MapFigure) -> str:
    """The maps as boxes of rows of numbers, joined by their operators."""
    lines = ["flowchart LR"]
    for index, panel in enumerate(figure.panels):
        text = panel.title.text + "<br/>" + "<br/>".join(" ".join(row) for row in panel.text)
        lines.append(f'  m{index}["{text}"]')
    for index, operator in enumerate(figure.operators):
        lines.append(f'  m{index} -- "{operator.text}" --> m{index + 1}')
    return "\n".join(lines)
