"""Benchmark of `check` on a class: 200 answer files for Mazur's 2-2-2 network, marked into a gradebook.

Run from the repository root: ``python benchmarks/bench_check.py [--count N] [--jobs N] [--sheets FORMAT]``.
The class is examples/class/'s right, carried-forward and full-precision sheets copied over and
over. Prints wall-clock and CPU seconds (CPU summed over the worker processes) against the 10 s
budget; on a machine shared with other work, the CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 10
SHEETS = ("alice.yaml", "bob.yaml", "carol.json")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(count: int, jobs: int, sheets: str | None) -> tuple[float, float]:
    """One `check` of a class of ``count`` files in a scratch folder: (wall seconds, CPU seconds)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="bench-check-") as folder:
        answers = Path(folder) / "class"
        answers.mkdir()
        for index in range(count):
            source = ROOT / "examples" / "class" / SHEETS[index % len(SHEETS)]
            shutil.copy(source, answers / f"student-{index:03}{source.suffix}")
        command = [sys.executable, "-m", "backprop_derive", "check", str(ROOT / "examples" / "mazur_2_2_2.yaml"),
                   str(answers), "-o", str(Path(folder) / "grades.csv"), "--jobs", str(jobs)]
        if sheets:
            command += ["--sheets", str(Path(folder) / "sheets"), "--format", sheets]
        cpu, start = _children_cpu(), time.perf_counter()
        subprocess.run(command, env=environment, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sheets", choices=["md", "html", "tex", "pdf"], help="Also write each student's sheet.")
    arguments = parser.parse_args()
    print(f"check mazur_2_2_2.yaml <{arguments.count} files> -o grades.csv --jobs {arguments.jobs}"
          f"{' --sheets DIR --format ' + arguments.sheets if arguments.sheets else ''} "
          f"({os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f})")
    wall, cpu = run(arguments.count, arguments.jobs, arguments.sheets)
    verdict = "within" if wall <= BUDGET_SECONDS else "OVER"
    print(f"  {wall:6.1f} s wall, {cpu:6.1f} s CPU: {verdict} the {BUDGET_SECONDS} s budget")


if __name__ == "__main__":
    main()
