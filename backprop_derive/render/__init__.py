"""Rendering: the document model, the format table, typography, templates, diagrams, plots, matrix style."""
