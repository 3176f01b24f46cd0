"""Rendering: the document model, the format table, typography, templates, diagrams, plots, matrix style."""

# NOTE: registers the documents and JSON of computational graphs and layered networks with render.render's
# dispatchers, so that every importer of the renderers (check's marked sheets, generate) finds them.
from . import render_graph, render_layers  # noqa: E402,F401
