"""The public API: ``solve`` an exercise into a Solution that renders itself (and shows itself in Jupyter)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .core import graph_solution as core_graph
from .core import layered_solution as core_layered
from .core import solution as core
from .core.network import Network


@dataclass(frozen=True, eq=False, repr=False)
class Solution(core.Solution):
    """A worked solution (see ``core.solution.Solution``) that renders itself in every format."""

    def render(self, fmt: str = "md", **options: Any) -> str | bytes:
        """The solution in ``fmt``: text for md, tex, txt, html and json; the PDF's bytes for pdf.

        Args:
            fmt: The format.
            **options: For ``render.render``: ``standalone`` (tex), ``template_dir`` (a folder whose
                templates are used before the built-in ones), ``figure_stem`` (md), ``style``,
                ``figures`` (False leaves the diagrams and plots out).

        Raises:
            OutputError: for pdf, no pdflatex here (with what to install), or LaTeX failed.
        """
        from .render.render import render  # NOTE: deferred so that `import backprop_derive` stays light

        if fmt == "pdf":
            from .render.pdf import compile_pdf

            return compile_pdf(render(self, "tex", **options))
        return render(self, fmt, **options)

    def __repr__(self) -> str:
        """A short summary (a notebook's text/plain): the title, the loss and the network's size."""
        from .render.typography import Unicode  # NOTE: deferred, like rendering

        network = self.network
        counts = (f"{len(network.inputs)} inputs, {len(network.neurons)} neurons, "
                  f"{len(network.parameters)} parameters, {len(network.examples)} "
                  f"example{'s' if len(network.examples) > 1 else ''}")
        steps = f", {len(self.values)} steps" if len(self.values) > 1 else ""
        cost = self.notation.ascii(self.derivation.cost)
        loss = Unicode(self.precision).number(self.exact_loss)
        return f"<Solution {network.title or 'untitled'!r}: {network.loss.name}, {cost} = {loss}; {counts}{steps}>"

    def _repr_markdown_(self) -> str:
        return self.render("md")

    def _repr_latex_(self) -> str:
        # NOTE: without the figures: TikZ and pgfplots are not loaded by nbconvert's LaTeX.
        return self.render("tex", standalone=False, figures=False)

    def _repr_html_(self) -> str:
        return self.render("html", standalone=False)


@dataclass(frozen=True, eq=False, repr=False)
class GraphSolution(core_graph.GraphSolution):
    """A worked computational graph (see ``core.graph_solution.GraphSolution``) that renders itself."""

    def render(self, fmt: str = "md", **options: Any) -> str | bytes:
        """The solution in ``fmt``: text for md, tex, txt, html and json; the PDF's bytes for pdf (as ``Solution``)."""
        return Solution.render(self, fmt, **options)

    def __repr__(self) -> str:
        """A short summary: the title, the differentiated value and the circuit's size."""
        from .render.typography import Unicode  # NOTE: deferred, like rendering

        graph = self.circuit.graph
        counts = (f"{len(self.circuit.inputs)} inputs, {len(self.circuit.parameters)} parameters, "
                  f"{len(graph.nodes)} gates")
        steps = f", {len(self.values)} steps" if len(self.values) > 1 else ""
        value = Unicode(self.precision).number(self.exact_loss)
        return f"<GraphSolution {self.title or 'untitled'!r}: {graph.output} = {value}; {counts}{steps}>"

    _repr_markdown_ = Solution._repr_markdown_
    _repr_latex_ = Solution._repr_latex_
    _repr_html_ = Solution._repr_html_


@dataclass(frozen=True, eq=False, repr=False)
class LayeredSolution(core_layered.LayeredSolution):
    """A worked layered network (see ``core.layered_solution.LayeredSolution``) that renders itself."""

    def render(self, fmt: str = "md", **options: Any) -> str | bytes:
        """The solution in ``fmt``: text for md, tex, txt, html and json; the PDF's bytes for pdf (as ``Solution``)."""
        return Solution.render(self, fmt, **options)

    def __repr__(self) -> str:
        """A short summary: the title, the cost and the layers."""
        from .render.typography import Unicode  # NOTE: deferred, like rendering

        network = self.network
        kinds = " → ".join(layer.type for layer in network.layers)
        steps = f", {len(self.values)} steps" if len(self.values) > 1 else ""
        value = Unicode(self.precision).number(self.exact_loss)
        return (f"<LayeredSolution {self.title or 'untitled'!r}: {network.graph.output} = {value}; {kinds}; "
                f"{len(network.parameters)} parameters, {len(network.losses)} "
                f"example{'s' if len(network.losses) > 1 else ''}{steps}>")

    _repr_markdown_ = Solution._repr_markdown_
    _repr_latex_ = Solution._repr_latex_
    _repr_html_ = Solution._repr_html_


def solve(spec: str | Path | dict | Network, *, steps: int = 1, notation: str | None = None,
          precision: int | None = None, written: bool = True) -> Solution | GraphSolution | LayeredSolution:
    """Solve an exercise: forward pass, loss, backward pass and updates, for ``steps`` steps.

    Args:
        spec: A spec file's path, a parsed spec (dict), or a Network.
        steps: How many training steps to take (more than one needs a learning rate).
        notation: ``indexed``, ``layered`` or ``ng``; default: the spec's, else by its form.
        precision: Significant digits shown; default: the spec's, else 6.
        written: The solution will be written out step by step (False: only its numbers, as JSON);
            a written solution has a lower limit on its size (core.limits.MAX_WRITTEN).

    Returns:
        The Solution, which renders itself (``solution.render("md")``); a GraphSolution for a `graph:` spec.

    Raises:
        SpecError: the spec is invalid (naming the file and the field path), or its numbers have
            no finite solution (e.g. a loss of log 0).

    Example:
        >>> solution = solve("examples/seed_relu.yaml")
        >>> solution.loss
        50
        >>> solution.quantities()["dL/dw13"]
        10
    """
    solved = core.solve(spec, steps=steps, notation=notation, precision=precision, written=written)
    kind = (LayeredSolution if isinstance(solved, core_layered.LayeredSolution)
            else GraphSolution if isinstance(solved, core_graph.GraphSolution) else Solution)
    return kind(**{field.name: getattr(solved, field.name) for field in fields(solved)})
