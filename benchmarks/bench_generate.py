"""Benchmark of `generate`: 1000 Markdown variants of a 2-2-1 ReLU and a 2-3-2 sigmoid network, --jobs 2.

Run from the repository root: ``python benchmarks/bench_generate.py [--count N] [--jobs N]``.
Prints each case's wall-clock and CPU seconds (CPU summed over the worker processes) against the
60 s budget; on a machine shared with other work, the CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 60
CASES = {
    "2-2-1 relu": ["--arch", "2-2-1", "--activation", "relu"],
    "2-3-2 sigmoid": ["--arch", "2-3-2", "--activation", "sigmoid"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(case: list[str], count: int, jobs: int) -> tuple[float, float]:
    """One `generate` run in a scratch folder: (wall seconds, CPU seconds)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as folder:
        command = [sys.executable, "-m", "backprop_derive", "generate", *case, "--count", str(count),
                   "--format", "md", "--jobs", str(jobs), "--seed", "1", "-o", folder]
        cpu, start = _children_cpu(), time.perf_counter()
        subprocess.run(command, check=True, env=environment, stdin=subprocess.DEVNULL)
        return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    arguments = parser.parse_args()
    print(f"generate --count {arguments.count} --format md --jobs {arguments.jobs} "
          f"({os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f})")
    for name, case in CASES.items():
        wall, cpu = run(case, arguments.count, arguments.jobs)
        verdict = "within" if wall <= BUDGET_SECONDS else "OVER"
        print(f"  {name:14} {wall:6.1f} s wall, {cpu:6.1f} s CPU: {verdict} the {BUDGET_SECONDS} s budget")


if __name__ == "__main__":
    main()
