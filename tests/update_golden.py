"""Regenerate the golden files: every example in examples/ as Markdown, LaTeX and JSON.

Run it only on purpose, after a change to the output that you have read and want:

    PYTHONPATH=$PWD python tests/update_golden.py

then review the diff (`git diff tests/golden`) before committing it.
"""

from __future__ import annotations

from pathlib import Path

from backprop_derive import solve

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
FORMATS = ("md", "tex", "json")
#: The text formats every computational graph (`graph:` spec) is also kept in: one golden file per format.
GRAPH_FORMATS = FORMATS + ("txt", "html")


#: Examples whose golden files show several training steps (the optimizer's state carried from step to step).
STEPS = {"mazur_adam": 2, "momentum_2_steps": 2, "online_han_kamber": 2}


#: Examples also kept in matrix style (``--style matrix``), in these formats: ``<name>.matrix.<format>``.
MATRIX_STYLE = {"mazur_adam": ("md", "tex")}


def examples() -> list[Path]:
    """Every example spec, in name order."""
    return sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("*.json"))


def formats(example: Path) -> tuple[str, ...]:
    """The formats ``example`` has golden files in."""
    text = example.read_text(encoding="utf-8")
    # NOTE: computational graphs and layered networks (a layer with a type) are kept in every text format.
    return GRAPH_FORMATS if "\ngraph:" in text or "\n  - type:" in text else FORMATS


def rendered(example: Path) -> dict[str, str]:
    """The example's solution in each of its golden formats (absent formats render as None)."""
    solution = solve(example, steps=STEPS.get(example.stem, 1))
    return {fmt: solution.render(fmt) if fmt in formats(example) else None for fmt in GRAPH_FORMATS}


def golden_path(example: Path, fmt: str, style: str = "chain") -> Path:
    """Where the golden file of ``example`` in ``fmt`` (in matrix ``style``: ``.matrix.<fmt>``) lives."""
    return GOLDEN / (f"{example.stem}.{fmt}" if style == "chain" else f"{example.stem}.{style}.{fmt}")


def rendered_in_matrix_style(example: Path) -> dict[str, str]:
    """The example's solution in matrix style, in each format MATRIX_STYLE keeps it in."""
    solution = solve(example, steps=STEPS.get(example.stem, 1))
    return {fmt: solution.render(fmt, style="matrix") for fmt in MATRIX_STYLE.get(example.stem, ())}


def main() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for example in examples():
        for fmt, text in rendered(example).items():
            if text is None:
                continue
            path = golden_path(example, fmt)
            changed = not path.exists() or path.read_text(encoding="utf-8") != text
            path.write_text(text, encoding="utf-8")
            print(f"{'updated' if changed else 'same   '} {path.relative_to(ROOT)}")
        for fmt, text in rendered_in_matrix_style(example).items():
            path = golden_path(example, fmt, "matrix")
            changed = not path.exists() or path.read_text(encoding="utf-8") != text
            path.write_text(text, encoding="utf-8")
            print(f"{'updated' if changed else 'same   '} {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
