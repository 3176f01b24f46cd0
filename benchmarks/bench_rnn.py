"""Benchmark of rnn exercises (issue 10): run `python benchmarks/bench_rnn.py` from the repo root.

Measures, each as a whole process beside the seed exercise's `solve --format md`:
- examples/rnn_bptt_3_steps.yaml (3 steps, 2 hidden units, a dense layer at every step) to Markdown;
- a larger unrolled rnn (12 steps of 4 numbers, 8 hidden units, a dense softmax at every step, a batch of 4)
  `solve --format json`, and the same to Markdown (every step of every example written out).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import yaml
from bench_solve import wall_time  # NOTE: the benchmarks' folder is on the path when run as a script

ROOT = Path(__file__).resolve().parent.parent


def rnn_spec(steps: int, inputs: int, units: int, classes: int, batch: int, seed: int = 1) -> dict:
    """An rnn of ``units`` tanh units over ``steps`` steps of ``inputs`` numbers, a softmax of ``classes`` at
    every step, cross-entropy, a batch of ``batch`` sequences; one-decimal numbers."""
    draw = random.Random(seed)

    def number() -> str:
        return f"{draw.randint(-9, 9) / 10:g}"

    def matrix(rows: int, columns: int) -> list:
        return [[number() for _ in range(columns)] for _ in range(rows)]

    def one_hot() -> list:
        hot = draw.randrange(classes)
        return [int(k == hot) for k in range(classes)]

    return {"title": f"An rnn over {steps} steps, {units} units, a batch of {batch}",
            "inputs": [matrix(steps, inputs) for _ in range(batch)],
            "targets": [[one_hot() for _ in range(steps)] for _ in range(batch)],
            "layers": [{"type": "rnn", "input_weights": matrix(units, inputs), "recurrent_weights": matrix(units, units),
                        "biases": [number() for _ in range(units)]},
                       {"activation": "softmax", "weights": matrix(classes, units),
                        "biases": [number() for _ in range(classes)]}],
            "loss": "cross_entropy", "learning_rate": "0.1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    solve = [sys.executable, "-m", "backprop_derive", "solve"]
    seed = wall_time(solve + [str(ROOT / "examples" / "seed_relu.yaml"), "--format", "md"], arguments.repeats)
    example = wall_time(solve + [str(ROOT / "examples" / "rnn_bptt_3_steps.yaml"), "--format", "md"],
                        arguments.repeats)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rnn.yaml"
        spec = rnn_spec(12, 4, 8, 3, 4)
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        large_json = wall_time(solve + [str(path), "--format", "json"], arguments.repeats)
        large_md = wall_time(solve + [str(path), "--format", "md"], 1)
    print(f"solve seed_relu.yaml --format md:                      {seed:.2f} s")
    print(f"solve rnn_bptt_3_steps.yaml --format md:               {example:.2f} s  ({example - seed:+.2f} s)")
    print(f"solve {spec['title']} (json): {large_json:.2f} s")
    print(f"solve the same --format md:                            {large_md:.2f} s")


if __name__ == "__main__":
    main()
