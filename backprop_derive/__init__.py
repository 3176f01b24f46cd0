"""backprop-derive: a small neural network in, the complete step-by-step backpropagation solution out."""

from .errors import BackpropDeriveError, SpecError
from .general import GeneralSolution, general_solution
from .solution import Solution, solve

__all__ = ["BackpropDeriveError", "GeneralSolution", "Solution", "SpecError", "general_solution", "solve"]
__version__ = "0.1.0"
