"""The public API: ``solve`` an exercise into a Solution that renders itself (and shows itself in Jupyter)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .core import graph_solution as core_graph
from .core import solution as core
from .core.network import Network


@dataclass(frozen=True, eq=False)
class Solution(core.Solution):
    """A worked solution (see ``core.solution.Solution``) that renders itself in every format."""

    def render(self, fmt: str = "md", **options: Any) -> str:
        """The solution as text in ``fmt`` (md, tex, txt, html or json).

        Args:
            fmt: The format.
            **options: For ``render.render``: ``standalone`` (tex), ``template_dir`` (a folder whose
                templates are used before the built-in ones), ``figure_stem`` (md), ``style``.
        """
        from .render.render import render  # NOTE: deferred so that `import backprop_derive` stays light

        return render(self, fmt, **options)

    def _repr_markdown_(self) -> str:
        return self.render("md")

    def _repr_latex_(self) -> str:
        return self.render("tex", standalone=False)

    def _repr_html_(self) -> str:
        return self.render("html", standalone=False)


@dataclass(frozen=True, eq=False)
class GraphSolution(core_graph.GraphSolution):
    """A worked computational graph (see ``core.graph_solution.GraphSolution``) that renders itself."""

    def render(self, fmt: str = "md", **options: Any) -> str:
        """The solution as text in ``fmt`` (md, tex, txt, html or json); options as ``Solution.render``."""
        from .render.render import render

        return render(self, fmt, **options)

    def _repr_markdown_(self) -> str:
        return self.render("md")

    def _repr_html_(self) -> str:
        return self.render("html", standalone=False)


def solve(spec: str | Path | dict | Network, *, steps: int = 1, notation: str | None = None,
          precision: int | None = None) -> Solution | GraphSolution:
    """Solve an exercise: forward pass, loss, backward pass and updates, for ``steps`` steps.

    Args:
        spec: A spec file's path, a parsed spec (dict), or a Network.
        steps: How many training steps to take (more than one needs a learning rate).
        notation: ``indexed``, ``layered`` or ``ng``; default: the spec's, else by its form.
        precision: Significant digits shown; default: the spec's, else 6.

    Returns:
        The Solution, which renders itself (``solution.render("md")``); a GraphSolution for a `graph:` spec.

    Raises:
        SpecError: the spec is invalid (naming the file and the field path), or its numbers have
            no finite solution (e.g. a loss of log 0).

    Example:
        >>> solution = solve("examples/seed_relu.yaml")
        >>> solution.loss
        50
    """
    solved = core.solve(spec, steps=steps, notation=notation, precision=precision)
    kind = GraphSolution if isinstance(solved, core_graph.GraphSolution) else Solution
    return kind(**{field.name: getattr(solved, field.name) for field in fields(solved)})
