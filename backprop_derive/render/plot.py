"""Plots of the loss per step: SVG, pgfplots (LaTeX), Mermaid (Markdown on GitHub) and Unicode text."""

from __future__ import annotations

import math
from html import escape

Points = list[tuple[int, float]]

#: The SVG's size in pixels, and the margins left for the axes' numbers and labels.
WIDTH, HEIGHT = 480, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 44


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if high <= low:
        spread = abs(low) or 1.0
        low, high = low - spread / 2, high + spread / 2
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw)
    return [float(f"{multiple * step:.12g}")
            for multiple in range(math.floor(low / step), math.ceil(high / step) + 1)]


def _label(value: float) -> str:
    """A tick's number, short: 0.25, 1.5, 1e-05."""
    text = f"{value:.6g}"
    return "0" if text in ("-0", "0") else text


def _step_ticks(points: Points) -> list[int]:
    steps = [step for step, _ in points]
    if len(steps) <= 10:
        return steps
    return [int(tick) for tick in nice_ticks(steps[0], steps[-1], 8) if steps[0] <= tick <= steps[-1]]


def svg_line_plot(points: Points, *, x_label: str = "step", y_label: str = "loss", title: str = "") -> str:
    """A standalone SVG line plot of ``points`` (x, y), with axes, ticks and a marker on each point.

    Args:
        points: (step, loss) pairs in order of step.
        x_label: The horizontal axis's label (plain text).
        y_label: The vertical axis's label (plain text, e.g. ``J``).
        title: An accessible title (the SVG's <title>); none when empty.

    Returns:
        The SVG document's text (no XML declaration, so it can also be inlined in HTML).
    """
    ys = [y for _, y in points]
    ticks = nice_ticks(min(ys), max(ys))
    x_low, x_high = points[0][0], points[-1][0]
    y_low, y_high = ticks[0], ticks[-1]
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_at(x: float) -> float:
        return LEFT + (plot_width * (x - x_low) / (x_high - x_low) if x_high > x_low else plot_width / 2)

    def y_at(y: float) -> float:
        return TOP + plot_height * (1 - (y - y_low) / (y_high - y_low))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    parts.append(f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>')
    for tick in ticks:
        y = y_at(tick)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_label(tick))}</text>')
    for step in _step_ticks(points):
        x = x_at(step)
        parts.append(f'<line x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM + 4}" '
                     'stroke="black"/>')
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 17}" text-anchor="middle">{step}</text>')
    parts.append(f'<polyline points="{LEFT},{TOP} {LEFT},{HEIGHT - BOTTOM} {WIDTH - RIGHT},{HEIGHT - BOTTOM}" '
                 'fill="none" stroke="black"/>')
    line = " ".join(f"{x_at(x):.1f},{y_at(y):.1f}" for x, y in points)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1f5fbf" stroke-width="2"/>')
    parts += [f'<circle cx="{x_at(x):.1f}" cy="{y_at(y):.1f}" r="3" fill="#1f5fbf"/>' for x, y in points]
    parts.append(f'<text x="{LEFT + plot_width / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                 f"{escape(x_label)}</text>")
    parts.append(f'<text x="14" y="{TOP + plot_height / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {TOP + plot_height / 2:.1f})">{escape(y_label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def pgfplots_plot(points: Points, *, x_label: str = "step", y_label: str = "loss") -> str:
    """A pgfplots line plot of ``points`` for a LaTeX document that loads pgfplots.

    Args:
        points: (step, loss) pairs in order of step.
        x_label: LaTeX for the horizontal axis's label.
        y_label: LaTeX for the vertical axis's label (e.g. ``$J$``).
    """
    coordinates = " ".join(f"({x},{y:.10g})" for x, y in points)
    ticks = ",".join(str(step) for step in _step_ticks(points))
    return "\n".join([
        r"\begin{tikzpicture}",
        r"\begin{axis}[width=0.8\linewidth, height=6cm, xlabel={" + x_label + "}, ylabel={" + y_label + "},",
        "  xtick={" + ticks + "}, grid=major, mark size=1.5pt, scaled y ticks=false,",
        "  yticklabel style={/pgf/number format/fixed, /pgf/number format/precision=4}]",
        r"\addplot[thick, blue, mark=*] coordinates {" + coordinates + "};",
        r"\end{axis}",
        r"\end{tikzpicture}",
    ])


def mermaid_plot(points: Points, *, x_label: str = "step", y_label: str = "loss", title: str = "") -> str:
    """A Mermaid xychart (GitHub draws it from a ```mermaid block) of ``points``."""
    lines = ["xychart-beta"]
    if title:
        lines.append(f'    title "{_quoted(title)}"')
    lines.append(f'    x-axis "{_quoted(x_label)}" [{", ".join(str(x) for x, _ in points)}]')
    lines.append(f'    y-axis "{_quoted(y_label)}"')
    lines.append(f'    line [{", ".join(f"{y:.6g}" for _, y in points)}]')
    return "\n".join(lines)


def _quoted(text: str) -> str:
    return text.replace('"', "'")


def text_plot(points: Points, *, y_label: str = "loss", height: int = 10) -> str:
    """The points drawn with characters: a • per step, its y axis labelled at the top and bottom.

    One column per step (steps are thinned to at most 60 columns, the last step always among
    them); the labels are the lowest and highest cost of every step, shown or not.
    """
    stride = max(1, math.ceil(len(points) / 60))
    shown = points[::stride]
    thinned = stride > 1
    if shown[-1] != points[-1]:
        shown = shown[:-1] + [points[-1]] if len(shown) > 60 - 1 else shown + [points[-1]]
    low, high = min(y for _, y in points), max(y for _, y in points)
    rows = [[" "] * len(shown) for _ in range(height)]
    for column, (_, y) in enumerate(shown):
        level = 0 if high == low else round((y - low) / (high - low) * (height - 1))
        rows[height - 1 - level][column] = "•"
    labels = [_label(high)] + [""] * (height - 2) + [_label(low)]
    width = max(len(label) for label in labels + [y_label])
    lines = [y_label.rjust(width)]
    lines += [f"{label.rjust(width)} ┤{' '.join(row).rstrip()}" for label, row in zip(labels, rows)]
    lines.append(" " * width + " └" + "─" * (2 * len(shown) - 1))
    first, last = str(shown[0][0]), str(shown[-1][0])
    axis = first + " " * max(1, 2 * len(shown) - 1 - len(first) - len(last)) + last
    lines.append(" " * (width + 2) + axis + "  step" + (f" (every {stride} steps, and the last)" if thinned else ""))
    return "\n".join(lines)
