"""Benchmark of a computational graph (issue 8's figure): run `python benchmarks/bench_graph.py` from the repo root.

Measures `solve --format md` of a 202-gate `graph:` exercise (sigmoid neurons chained gate by gate, with
fan-out and tied parameters; target under 1 s): as a whole process beside `python -c "import sympy"`, and
in a fresh process from a loaded package to the Markdown text (reading, splitting, the walk, evaluation,
presentation, the circuit's diagram, the template), which is the part the target is about.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from bench_solve import wall_time  # NOTE: the benchmarks' folder is on the path when run as a script

ROOT = Path(__file__).resolve().parent.parent


def chain_spec(neurons: int) -> dict:
    """``neurons`` sigmoid neurons in a chain, each one formula split into 8 gates (with ``gates: split``);
    every neuron reuses the weights w and v (tied parameters) and the input x (fan-out)."""
    graph = {"h0": "1 / (1 + exp(-(w*x + v)))"}
    for index in range(1, neurons):
        graph[f"h{index}"] = f"1 / (1 + exp(-(w*h{index - 1} + v*x)))"
    return {"title": f"{neurons} sigmoid neurons in a chain", "inputs": {"x": "0.5"},
            "parameters": {"w": "0.8", "v": "-0.3"}, "graph": graph, "gates": "split"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    spec = chain_spec(29)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chain.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        sys.path.insert(0, str(ROOT))
        from backprop_derive import solve

        gates = len(solve(path).circuit.graph.nodes)
        baseline = wall_time([sys.executable, "-c", "import sympy"], arguments.repeats)
        graph = wall_time([sys.executable, "-m", "backprop_derive", "solve", str(path), "--format", "md"],
                          arguments.repeats)
        inside = min(float(subprocess.run([sys.executable, "-c", _INSIDE, str(path)], check=True, text=True,
                                          capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout)
                     for _ in range(arguments.repeats))
    print(f"python -c 'import sympy':                           {baseline:.2f} s")
    print(f"solve --format md, {gates}-gate graph, whole process:  {graph:.2f} s")
    print(f"  of which solving and rendering (fresh process):  {inside:.2f} s  (target: under 1 s)")


# NOTE: a fresh process, so that no cache of an earlier run helps; the imports are left out of the time.
_INSIDE = """
import sys, time
import backprop_derive, backprop_derive.render, jinja2
start = time.perf_counter()
backprop_derive.solve(sys.argv[1]).render("md")
print(time.perf_counter() - start)
"""


if __name__ == "__main__":
    main()
