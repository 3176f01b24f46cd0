"""backprop-derive: a small neural network in, the complete step-by-step backpropagation solution out."""

from .errors import BackpropDeriveError, SpecError
from .solution import Solution, solve

__all__ = ["BackpropDeriveError", "Solution", "SpecError", "solve"]
__version__ = "0.1.0"
