"""Benchmark of batch norm and dropout (issue 10): run `python benchmarks/bench_batchnorm.py` from the repo root.

Measures, in fresh processes from a loaded package: the seed exercise, examples/batchnorm_batch3.yaml and
examples/dropout_mask.yaml to Markdown; and a larger batch-norm exercise to JSON (a batch of 32 through a
dense 8 → 16 layer, batch norm over the 16 units, inverted dropout and a 16 → 4 softmax: about 3,400 nodes).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def large_spec(examples: int = 32, inputs: int = 8, units: int = 16, classes: int = 4) -> dict:
    """A batch of ``examples`` through dense → batchnorm → dropout → dense softmax, numbers in tenths."""
    draw = random.Random(0)

    def tenths(count: int) -> list:
        return [str(draw.randint(-10, 10) / 10) for _ in range(count)]

    return {"title": "A batch of 32 through batch norm and dropout",
            "inputs": [tenths(inputs) for _ in range(examples)],
            "target_classes": [draw.randrange(classes) for _ in range(examples)],
            "layers": [{"activation": "relu", "weights": [tenths(inputs) for _ in range(units)]},
                       {"type": "batchnorm", "gamma": tenths(units), "beta": tenths(units)},
                       {"type": "dropout", "p": "0.5", "mask": [[draw.randint(0, 1) for _ in range(units)]
                                                                for _ in range(examples)]},
                       {"activation": "softmax", "weights": [tenths(units) for _ in range(classes)]}],
            "loss": "cross_entropy", "learning_rate": "0.1"}


def timed(path: Path, fmt: str, repeats: int) -> float:
    """The least time, over ``repeats`` fresh processes, from a loaded package to the rendered text."""
    return min(float(subprocess.run([sys.executable, "-c", _INSIDE, str(path), fmt], check=True, text=True,
                                    capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout)
               for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    examples = ROOT / "examples"
    for name in ("seed_relu", "batchnorm_batch3", "dropout_mask"):
        print(f"solve --format md, {name + ':':<18} {timed(examples / f'{name}.yaml', 'md', arguments.repeats):.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.yaml"
        path.write_text(yaml.safe_dump(large_spec(), sort_keys=False))
        print(f"solve --format json, batch of 32, batch norm over 16 units: {timed(path, 'json', arguments.repeats):.2f} s")


# NOTE: a fresh process, so that no cache of an earlier run helps; the imports are left out of the time.
_INSIDE = """
import sys, time
import backprop_derive, backprop_derive.render, jinja2
start = time.perf_counter()
backprop_derive.solve(sys.argv[1]).render(sys.argv[2])
print(time.perf_counter() - start)
"""


if __name__ == "__main__":
    main()
