"""backprop-derive: a small neural network in, the complete step-by-step backpropagation solution out."""

from .api import Solution, solve
from .core.errors import BackpropDeriveError, SpecError

__all__ = ["BackpropDeriveError", "GeneralSolution", "Solution", "SpecError", "general_solution", "solve"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # NOTE: the symbolic `derive` is loaded on first use, so that `solve` starts fast.
    if name in ("GeneralSolution", "general_solution"):
        from .jobs import general

        return getattr(general, name)
    raise AttributeError(f"module 'backprop_derive' has no attribute {name!r}")
