"""Plain-text layout for the terminal: equation chains aligned at '=' and wrapped, tables in columns."""

from __future__ import annotations

from .present import Line

#: The widest line written, in characters.
WIDTH = 88
INDENT = "  "
#: Names up to this long are right-aligned so that consecutive '=' line up; longer ones are not
#: (one long name would push every short one far to the right).
ALIGN_LIMIT = 24
#: Space between an equation and a short remark on the same line.
NOTE_GAP = "    "


def equations(lines: tuple[Line, ...], width: int = WIDTH) -> list[str]:
    """A block's equation chains as text lines: the '=' of consecutive chains aligned, a chain too
    long for one line continued under its first '=', a long sum broken before a '+'.

    Args:
        lines: The block's chains (Unicode typography).
        width: The widest line wanted; a single term longer than that is left whole.

    Returns:
        The text lines, with a blank line around each chain that takes several lines.
    """
    if not lines:
        return []
    names = max((len(line.parts[0]) for line in lines if "\n" not in line.parts[0]), default=0)
    align = names if names <= ALIGN_LIMIT else 0
    result: list[str] = []
    previous: list[str] = []
    for line in lines:
        group = _chain(line, align, width)
        if result and (len(group) > 1 or len(previous) > 1):
            result.append("")
        result += group
        previous = group
    return result


def _chain(line: Line, align: int, width: int) -> list[str]:
    if any("\n" in part for part in line.parts):
        # NOTE: a drawing over several lines (matrix style) is laid out already; it is only indented.
        rows = [INDENT + row for part in line.parts for row in part.split("\n")]
        return rows + ([" " * (len(INDENT) + 4) + line.note] if line.note else [])
    head = INDENT + line.parts[0].rjust(align)
    column = len(head) + 1  # where each '=' goes
    tokens = []
    for part in line.parts[1:]:
        if column + 2 + len(part) <= width:
            tokens.append((f"= {part}", column))
            continue
        terms = part.split(" + ")
        tokens.append((f"= {terms[0]}", column))
        tokens += [(f"+ {term}", column + 2) for term in terms[1:]]
    rows = [head]
    for text, indent in tokens:
        if len(rows[-1]) + 1 + len(text) <= width or not rows[-1].strip():
            rows[-1] += " " + text
        else:
            rows.append(" " * (indent - 1))
            rows[-1] += " " + text
    if line.note and not line.route and len(rows[-1]) + len(NOTE_GAP) + len(line.note) <= width:
        rows[-1] += NOTE_GAP + line.note
    elif line.note:
        rows += _note(line, column + 2, width)
    return rows


def _note(line: Line, indent: int, width: int) -> list[str]:
    """A remark below its chain; several routes are wrapped one after another, each kept whole."""
    first = " " * indent + line.note
    if not line.route:
        return [first]
    routes = line.route.split(", ")
    rows = [f"{first} {routes[0]}"]
    for route in routes[1:]:
        if len(rows[-1]) + 2 + len(route) <= width:
            rows[-1] += ", " + route
        else:
            rows[-1] += ","
            rows.append(" " * (len(first) + 1) + route)
    return rows


def table_lines(table) -> list[str]:
    """A table as text: the header, a rule, the rows, columns padded to their widest cell."""
    widths = table.widths
    rows = [table.header, tuple("-" * width for width in widths), *table.rows]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
