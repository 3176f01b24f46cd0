"""Benchmark of `solve` (issue 2's speed figures): run `python benchmarks/bench_solve.py` from the repo root.

Measures, as whole processes where the issue says so:
1. the seed exercise to Markdown, against `python -c "import sympy"` (target: at most 2x);
2. `solve --format json` on 4-layer dense sigmoid MLPs of about 1,000 and 13,000 weights
   (target: 13,000 in at most 10 s, and at most 12x the time of 1,000);
3. `solve --format md` on about 1,000 weights (target: at most 10 s);
4. `solve --format json --steps 1000` on Mazur's network, plain SGD and with Adam (issue 9: target < 3 s);
5. for comparison, the naive approach (the whole nested loss, one `sympy.diff` per weight) on small nets.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed_relu.yaml"
MAZUR = ROOT / "examples" / "mazur_2_2_2.yaml"
MAZUR_ADAM = ROOT / "examples" / "mazur_adam.yaml"


def wall_time(command: list[str], repeats: int) -> float:
    """The best wall time of ``repeats`` runs of ``command``, in seconds."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environment)
        best = min(best, time.perf_counter() - start)
    return best


def mlp_spec(widths: list[int], seed: int = 1) -> dict:
    """A dense sigmoid MLP with the given layer widths (inputs first), two-decimal numbers."""
    draw = random.Random(seed)

    def number() -> str:
        return f"{draw.randint(-100, 100) / 100:.2f}"

    layers = [{"activation": "sigmoid",
               "weights": [[number() for _ in range(below)] for _ in range(units)],
               "biases": [number() for _ in range(units)]}
              for below, units in zip(widths, widths[1:])]
    return {"title": f"MLP {'-'.join(map(str, widths))}", "inputs": [number() for _ in range(widths[0])],
            "targets": [f"{draw.randint(0, 10) / 10:.1f}" for _ in range(widths[-1])], "layers": layers,
            "loss": "half_squared_error", "learning_rate": "0.5"}


def weight_count(widths: list[int]) -> int:
    return sum(below * units for below, units in zip(widths, widths[1:]))


def solve_time(spec: dict, fmt: str, folder: Path) -> float:
    path = folder / f"mlp-{weight_count([len(spec['inputs'])] + [len(layer['weights']) for layer in spec['layers']])}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return wall_time([sys.executable, "-m", "backprop_derive", "solve", str(path), "--format", fmt], repeats=1)


def naive_time(widths: list[int]) -> float:
    """The whole loss as one nested SymPy expression, differentiated by each weight in turn."""
    import sympy

    draw = random.Random(1)
    activations = [sympy.Rational(draw.randint(-100, 100), 100) for _ in range(widths[0])]
    weights = []
    for below, units in zip(widths, widths[1:]):
        layer = [[sympy.Symbol(f"w_{len(weights)}_{j}_{i}") for i in range(below)] for j in range(units)]
        weights += [w for row in layer for w in row]
        activations = [1 / (1 + sympy.exp(-sum(w * a for w, a in zip(row, activations)))) for row in layer]
    loss = sum((a - sympy.Rational(1, 2)) ** 2 for a in activations) / 2
    point = {w: sympy.Rational(draw.randint(-100, 100), 100) for w in weights}
    start = time.perf_counter()
    for weight in weights:
        sympy.diff(loss, weight).evalf(30, subs=point)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of the short commands; the best counts")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive comparison")
    arguments = parser.parse_args()

    sympy_import = wall_time([sys.executable, "-c", "import sympy"], arguments.repeats)
    seed_md = wall_time([sys.executable, "-m", "backprop_derive", "solve", str(SEED), "--format", "md"],
                        arguments.repeats)
    print(f"import sympy:                 {sympy_import:6.2f} s")
    print(f"seed exercise to Markdown:    {seed_md:6.2f} s  ({seed_md / sympy_import:.2f}x import sympy; target <= 2x)")

    small, large = [10, 24, 20, 12, 4], [48, 96, 64, 32, 10]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        small_json = solve_time(mlp_spec(small), "json", folder)
        large_json = solve_time(mlp_spec(large), "json", folder)
        small_md = solve_time(mlp_spec(small), "md", folder)
    print(f"json, {weight_count(small):6,} weights:        {small_json:6.2f} s")
    print(f"json, {weight_count(large):6,} weights:        {large_json:6.2f} s  (target <= 10 s; "
          f"{large_json / small_json:.1f}x the {weight_count(small):,}-weight net, target <= 12x)")
    print(f"md,   {weight_count(small):6,} weights:        {small_md:6.2f} s  (target <= 10 s)")

    for name, spec in (("sgd", MAZUR), ("adam", MAZUR_ADAM)):
        seconds = wall_time([sys.executable, "-m", "backprop_derive", "solve", str(spec), "--format", "json",
                             "--steps", "1000"], repeats=1)
        print(f"Mazur, {name:4}, json, 1000 steps: {seconds:6.2f} s  (target < 3 s)")

    if not arguments.skip_naive:
        for widths in ([2, 2, 1], [2, 3, 2], [3, 4, 2], [4, 5, 3, 1], [5, 5, 4], [6, 4, 4, 2]):
            print(f"naive sympy.diff, {weight_count(widths):3} weights {'-'.join(map(str, widths)):10}: "
                  f"{naive_time(widths):6.2f} s")


if __name__ == "__main__":
    main()
