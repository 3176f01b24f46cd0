"""The update stage: parameters, their gradients and the optimizer's state in; new parameters and state out."""

from __future__ import annotations

from typing import Callable, Mapping

import sympy

from .numbers import settle

#: What an update rule carries from one step to the next (momentum, running averages); empty for plain descent.
State = Mapping[str, object]
Parameters = dict[str, sympy.Expr]
#: An update rule: (parameters, gradients, state, learning rate) → (new parameters, new state).
Rule = Callable[[Mapping[str, sympy.Expr], Mapping[str, sympy.Expr], State, sympy.Expr], tuple[Parameters, State]]


def gradient_descent(parameters: Mapping[str, sympy.Expr], gradients: Mapping[str, sympy.Expr], state: State,
                     rate: sympy.Expr) -> tuple[Parameters, State]:
    """θ_new = θ − η g for every parameter, every gradient taken at the old parameters; no state.

    Args:
        parameters: Each parameter's value before the step, by name.
        gradients: Each parameter's gradient, by name.
        state: The rule's state (unused: plain descent has none).
        rate: The learning rate η.

    Returns:
        The new parameters and the state, unchanged.
    """
    return {name: settle(value - rate * gradients[name]) for name, value in parameters.items()}, state


#: Every update rule by name; plain gradient descent is the first.
UPDATE_RULES: dict[str, Rule] = {"gradient_descent": gradient_descent}
