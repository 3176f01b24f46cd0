"""How a step's result is computed from its inputs' values: one rule per kind of step, registered where the kind is."""

from __future__ import annotations

from functools import singledispatch

import sympy


@singledispatch
def compute(step, values: dict) -> sympy.Expr:
    """The value of ``step``'s result from the values of its inputs."""
    raise TypeError(f"no rule to compute {type(step).__name__}")
