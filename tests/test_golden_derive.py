"""Golden files: derive's and matrix style's whole outputs, compared line by line with a readable diff.

Regenerate them on purpose only, after reading the diff: ``python tests/regenerate_golden_derive.py``.
"""

import difflib
from pathlib import Path

import pytest

from backprop_derive import solve
from backprop_derive.jobs.general import general_solution

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden_derive"
LAYERED = ("bce_batch_2_3_1", "mazur_2_2_2", "seed_relu", "sigmoid_2_2_1", "softmax_cross_entropy")
ALL = LAYERED + ("custom_activation",)

# (golden file name, how to make it)
CASES = (
    [(f"derive/{name}.{fmt}", ("derive", name, fmt, None)) for name in ALL for fmt in ("md", "txt")]
    + [(f"derive/{name}.{notation}.txt", ("derive", name, "txt", notation))
       for name in ("seed_relu", "sigmoid_2_2_1") for notation in ("indexed", "layered", "ng")]
    + [(f"matrix/{name}.{fmt}", ("matrix", name, fmt, None)) for name in LAYERED for fmt in ("md", "txt")]
    + [("matrix/sigmoid_2_2_1.steps3.md", ("matrix-steps", "sigmoid_2_2_1", "md", None))]
)


def make(kind: str, name: str, fmt: str, notation: str | None) -> str:
    """The output a golden file holds."""
    spec = EXAMPLES / f"{name}.yaml"
    if kind == "derive":
        return general_solution(spec, notation=notation).render(fmt)
    steps = 3 if kind == "matrix-steps" else 1
    return solve(spec, notation=notation, steps=steps).render(fmt, style="matrix")


@pytest.mark.parametrize("golden, how", CASES, ids=[golden for golden, _ in CASES])
def test_output_matches_its_golden_file(golden, how):
    path = GOLDEN / golden
    assert path.exists(), f"no golden file {golden}: run python tests/regenerate_golden_derive.py"
    expected = path.read_text(encoding="utf-8")
    actual = make(*how)
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                            f"golden/{golden}", "now", n=2))
        pytest.fail(f"{golden} differs from its golden file:\n{diff[:6000]}", pytrace=False)
