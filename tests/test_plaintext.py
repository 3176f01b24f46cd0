"""Plain text for the terminal: Unicode names, '=' aligned, long chains wrapped, nothing wider than needed."""

from pathlib import Path

import pytest

from backprop_derive import solve
from backprop_derive.render.plaintext import WIDTH, equations, table_lines
from backprop_derive.render.present import Line
from backprop_derive.render.render import build_document
from backprop_derive.render.typography import Unicode

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda path: path.stem)
def solution(request):
    return solve(request.param)


@pytest.fixture(scope="module")
def text(solution):
    return solution.render("txt")


def test_only_tables_are_wider_than_the_terminal(solution, text):
    document = build_document(solution, Unicode(solution.precision))
    blocks = list(document.overview) + [block for _, blocks in document.steps for block in blocks]
    tables = {"  " + row for block in blocks if block.table for row in table_lines(block.table)}
    assert [line for line in text.splitlines() if len(line) > WIDTH and line not in tables] == []


def test_the_text_is_unicode_with_no_latex_left(text):
    for marker in ("\\frac", "\\cdot", "\\left", "$", "**", "<m"):
        assert marker not in text
    assert "∂" in text and "−" in text
    assert not any(line != line.rstrip() for line in text.splitlines()), "no trailing spaces"


def test_the_seed_exercise_reads_as_by_hand():
    text = solve(EXAMPLES[[path.stem for path in EXAMPLES].index("seed_relu")]).render("txt")
    assert "  x₃ = x₁ w₁₃ + x₂ w₂₃ = 1 · 2 + (−1) · (−3) = 5\n" in text
    assert "  L = (y₅ − t₅)²/2 = (10 − 0)²/2 = 50\n" in text
    assert "   ∂L/∂y₅ = y₅ − t₅ = 10 − 0 = 10\n  ∂y₅/∂x₅ = relu'(x₅)" in text, "the '=' of a block line up"


def test_a_long_chain_continues_under_its_first_equals_sign():
    line = Line(("δ₁", "∂L/∂x₁", " + ".join(["∂L/∂y₂ · ∂y₂/∂x₁"] * 8), "0.25"))
    rows = equations((line,), width=60)
    assert rows[0].startswith("  δ₁ = ∂L/∂x₁ = ")
    assert all(len(row) <= 60 for row in rows)
    assert all(row.startswith("     = ") or row.startswith("       + ") for row in rows[1:])
    assert rows[-1].endswith("= 0.25")


def test_short_remarks_sit_beside_their_chain_and_routes_go_below():
    rows = equations((Line(("b⁽¹⁾ⁿᵉʷ", "b⁽¹⁾", "0.35"), note="kept fixed"),
                      Line(("∂L/∂w", "δ · x", "2"), note="paths", route="w → x → L, w → y → L")), width=40)
    assert rows[0] == "  b⁽¹⁾ⁿᵉʷ = b⁽¹⁾ = 0.35    kept fixed"
    assert rows[1] == ""
    assert rows[2:] == ["    ∂L/∂w = δ · x = 2", "            paths w → x → L, w → y → L"]


def test_a_name_far_longer_than_the_rest_does_not_push_them_right():
    rows = equations((Line(("y", "1")), Line(("a" * 30, "2"))))
    assert rows[0] == "  y = 1"
