"""Rewrite tests/golden_derive from the current code; run on purpose, then read `git diff` before committing."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from test_golden_derive import CASES, GOLDEN, make  # noqa: E402


def main() -> None:
    for golden, how in CASES:
        path = GOLDEN / golden
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(*how), encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
