"""Benchmark of layered exercises (issue 10's figures): run `python benchmarks/bench_layers.py` from the repo root.

1. `solve --format md` of examples/conv_pool_exam.yaml beside the seed exercise's (target: within 0.3 s).
2. `solve --format json` of a 28×28 single-channel input, a 3×3 kernel, ReLU, 2×2 max-pool and a 10-unit
   softmax (about 1,700 parameters; target: under 3 s).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from bench_solve import wall_time  # NOTE: the benchmarks' folder is on the path when run as a script

ROOT = Path(__file__).resolve().parent.parent


def mnist_like_spec(size: int = 28, kernel: int = 3, classes: int = 10, seed: int = 1) -> dict:
    """A size×size map of tenths, a kernel×kernel conv with ReLU, 2×2 max-pool, flatten, softmax over classes."""
    generator = random.Random(seed)

    def tenth() -> str:
        return str(generator.randint(-10, 10) / 10)

    pooled = ((size - kernel + 1) // 2) ** 2
    return {
        "title": f"A {size}×{size} map, a {kernel}×{kernel} kernel, ReLU, 2×2 max-pool, {classes}-unit softmax",
        "inputs": [[tenth() for _ in range(size)] for _ in range(size)],
        "target_classes": [3],
        "layers": [
            {"type": "conv2d", "kernels": [[tenth() for _ in range(kernel)] for _ in range(kernel)], "biases": ["0.1"],
             "activation": "relu"},
            {"type": "maxpool", "size": 2},
            {"type": "flatten"},
            {"type": "dense", "activation": "softmax",
             "weights": [[str(generator.randint(-5, 5) / 100) for _ in range(pooled)] for _ in range(classes)],
             "biases": ["0"] * classes},
        ],
        "loss": "cross_entropy",
        "learning_rate": "0.1",
    }


def cpu_time(command: list[str], repeats: int) -> float:
    """The least CPU time (user + system) of ``repeats`` runs of ``command``, in seconds: what a busy machine's
    wall time hides."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = float("inf")
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environment)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    python = [sys.executable, "-m", "backprop_derive", "solve"]
    seed_command = python + [str(ROOT / "examples" / "seed_relu.yaml"), "--format", "md"]
    exam_command = python + [str(ROOT / "examples" / "conv_pool_exam.yaml"), "--format", "md"]
    seed, exam = wall_time(seed_command, arguments.repeats), wall_time(exam_command, arguments.repeats)
    seed_cpu, exam_cpu = cpu_time(seed_command, arguments.repeats), cpu_time(exam_command, arguments.repeats)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mnist_like.yaml"
        spec = mnist_like_spec()
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        sys.path.insert(0, str(ROOT))
        large = wall_time(python + [str(path), "--format", "json"], arguments.repeats)
        large_cpu = cpu_time(python + [str(path), "--format", "json"], arguments.repeats)
    parameters = 9 + 1 + 10 * len(spec["layers"][3]["weights"][0]) + 10
    print(f"solve --format md, seed_relu.yaml:        {seed:.2f} s wall, {seed_cpu:.2f} s CPU")
    print(f"solve --format md, conv_pool_exam.yaml:   {exam:.2f} s wall, {exam_cpu:.2f} s CPU  ({exam - seed:+.2f} s wall, "
          f"{exam_cpu - seed_cpu:+.2f} s CPU; target: within 0.3 s)")
    print(f"solve --format json, 28×28 conv/pool/softmax ({parameters:,} parameters): {large:.2f} s wall, "
          f"{large_cpu:.2f} s CPU  (target: under 3 s)")


if __name__ == "__main__":
    main()
