"""The update stage: parameters, their gradients and the optimizer's state in; new parameters and state out.

Each optimizer is one rule (torch.optim's ``step()`` per class): the steps it adds to the solution
for one parameter, and the state it carries from one training step to the next. The solve loop
only threads what the rules say they carry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar, Protocol

import sympy

from .network import Network, Parameter
from .numbers import settle
from .steps import Quantity, Update

Values = dict[Quantity, sympy.Expr]


class Optimizer(Protocol):
    """An update rule: the worked steps for one parameter, and what they carry to the next step."""

    name: ClassVar[str]

    def steps(self, parameter: Parameter, gradient: Quantity) -> tuple:
        """The steps that update ``parameter`` from its gradient; the last one's result is the new value."""

    def carries(self, parameter: Parameter) -> tuple[tuple[Quantity, Quantity], ...]:
        """Pairs (a state quantity at the start of a step, the quantity holding its value at the end)."""

    def initial_state(self, parameter: Parameter) -> Values:
        """Each state quantity's value before the first step."""


@dataclass(frozen=True)
class GradientDescent:
    """Plain gradient descent: θ ← θ − η ∂J/∂θ, all gradients taken at the old parameters; no state."""

    name: ClassVar[str] = "sgd"

    def steps(self, parameter: Parameter, gradient: Quantity) -> tuple[Update]:
        return (Update(Quantity("new", parameter=parameter), Quantity("param", parameter=parameter), gradient,
                       Quantity("rate"), parameter.trainable),)

    def carries(self, parameter: Parameter) -> tuple[tuple[Quantity, Quantity], ...]:
        return ()

    def initial_state(self, parameter: Parameter) -> Values:
        return {}


#: Every optimizer by its spec name. Adding one is one entry here (and its rule class).
OPTIMIZERS: dict[str, type] = {rule.name: rule for rule in (GradientDescent,)}


@dataclass(frozen=True)
class Carried:
    """What one training step hands the next: each parameter's value and the optimizer's state.

    Attributes:
        parameters: Each parameter's value at the start of the step.
        state: Each state quantity's value at the start of the step (empty for plain descent).
    """

    parameters: dict[Parameter, sympy.Expr]
    state: Values = field(default_factory=dict)


def optimizer_of(network: Network) -> Optimizer:
    """The network's update rule (a top-level ``learning_rate`` alone is plain gradient descent)."""
    return OPTIMIZERS[GradientDescent.name]()


def update_steps(network: Network, gradients: tuple) -> tuple:
    """The update stage's steps for every parameter, in the order of ``gradients`` (none without a learning rate)."""
    if network.learning_rate is None:
        return ()
    rule = optimizer_of(network)
    # NOTE: with the textbooks' error terms, an update is written (and computed) from δ and the input,
    # w + η δ x, as the book does: the update step carries the gradient's own step for that.
    book = network.options.error_term
    return tuple(replace(step, chain=gradient) if book and isinstance(step, Update) else step
                 for gradient in gradients for step in rule.steps(gradient.parameter, gradient.result))


def start(network: Network) -> Carried:
    """The parameters as the spec gives them, and the optimizer's initial state."""
    rule = optimizer_of(network)
    state: Values = {}
    for parameter in network.parameters:
        state.update(rule.initial_state(parameter))
    return Carried({parameter: parameter.value for parameter in network.parameters}, state)


def carried(network: Network, updates: tuple, values: Values) -> Carried:
    """What the next training step starts from: the new parameters and the state this step left."""
    rule = optimizer_of(network)
    updated = {step.result.parameter for step in updates}
    parameters = {parameter: values[Quantity("new", parameter=parameter)] for parameter in network.parameters
                  if parameter in updated}
    state = {first: values[last] for parameter in network.parameters for first, last in rule.carries(parameter)}
    return Carried(parameters, state)


# --- parameters by name (computational graphs) --------------------------------------------

#: An update of named parameters: (parameters, gradients, state, learning rate) → (new parameters, new state).
NamedRule = Callable[[Mapping[str, sympy.Expr], Mapping[str, sympy.Expr], Mapping[str, object], sympy.Expr],
                     tuple[dict[str, sympy.Expr], Mapping[str, object]]]


def descend(parameters: Mapping[str, sympy.Expr], gradients: Mapping[str, sympy.Expr], state: Mapping[str, object],
            rate: sympy.Expr) -> tuple[dict[str, sympy.Expr], Mapping[str, object]]:
    """θ_new = θ − η g for every parameter of a graph, every gradient taken at the old parameters; no state.

    Args:
        parameters: Each parameter's value before the step, by name.
        gradients: Each parameter's gradient, by name.
        state: The rule's state (plain descent has none, and hands it on unchanged).
        rate: The learning rate η.
    """
    return {name: settle(value - rate * gradients[name]) for name, value in parameters.items()}, state


#: The update rules of a graph's named parameters, by the names of OPTIMIZERS.
NAMED_RULES: dict[str, NamedRule] = {GradientDescent.name: descend}
