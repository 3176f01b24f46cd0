"""The top of the pipeline for `graph:` exercises: a circuit in, a GraphSolution (steps, values, names) out."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from .circuit import Circuit
from .errors import SpecError
from .evaluation import compute
from .graph import CONSTANT_MARK, Derivation, Ref, Values, derive, evaluate
from .notation import GraphNotation
from .numbers import python_number, settle
from .steps import Update
from .update import Keys, Slot, initial_state, next_state, penalty_line, stage_lines, state_kind


# NOTE: eq=False: a solution is one object (hashed by identity), so the renderers can cache its figures.
@dataclass(frozen=True, eq=False)
class GraphSolution:
    """A worked circuit: the steps (the same for every training step), their values per step, the names.

    Attributes:
        circuit: The exercise.
        derivation: The forward and backward steps.
        updates: The update stage's lines: θ_new = θ − η g for each parameter with plain descent, else the
            optimizer's state updates too (none without a learning rate).
        values: One map of quantity values per training step.
        notation: Names every quantity.
        precision: Significant digits shown for values that are not exact.
    """

    circuit: Circuit
    derivation: Derivation
    updates: tuple[Update, ...]
    values: tuple[Values, ...]
    notation: GraphNotation
    precision: int

    @property
    def title(self) -> str:
        return self.circuit.title

    @property
    def rounding(self) -> None:
        """How each line is rounded: never (a graph carries its values unrounded)."""
        return None

    @property
    def answer_names(self) -> tuple[tuple[str, str], ...]:
        """A course's own names of quantities: none (a graph's nodes are already named by the course)."""
        return ()

    @property
    def top(self) -> Ref:
        """The differentiated value: the loss, or the output itself."""
        return Ref("value", self.circuit.graph.output)

    @property
    def loss(self) -> int | Fraction | float:
        """The differentiated value (the loss, or the output) before the (first) update, as a Python number."""
        return python_number(self.exact_loss)

    @property
    def exact_loss(self) -> sympy.Expr:
        """The differentiated value before the (first) update, exactly (a SymPy number)."""
        return self.values[0][self.top]

    def steps(self):
        """Every step with a value, in order: forward, backward, updates."""
        yield from self.derivation.steps()
        yield from self.updates

    def quantities(self, step: int = 0, *, exact: bool = False) -> dict[str, Any]:
        """Every quantity of training step ``step`` by its ASCII name (the formulas' constants left out).

        Args:
            step: The training step, 0 for the first.
            exact: SymPy numbers as computed (True), or Python numbers: int, Fraction, float (False).
        """
        convert = (lambda value: value) if exact else python_number
        return {self.notation.ascii(ref): convert(value) for ref, value in self.values[step].items()
                if not ref.name.startswith(CONSTANT_MARK)}



#: A graph's parameters are its named leaves: their quantities are ``Ref(kind, name)``.
GRAPH_KEYS = Keys(lambda kind, owner: Ref(kind, owner or ""), "value")


def updates_of(circuit: Circuit) -> tuple:
    """The update stage's lines for each parameter of ``circuit`` (none without a learning rate):
    θ_new = θ − η g for plain descent, else the optimizer's (core.update)."""
    if circuit.learning_rate is None:
        return ()
    training = circuit.training
    if training.plain and not training.frozen:
        return tuple(Update(Ref("new", name), Ref("value", name), Ref("grad", name), Ref("rate"), True)
                     for name in circuit.parameters)
    slots = tuple(Slot(name, frozen=name in training.frozen) for name in circuit.parameters)
    penalty = ()
    if training.regularization:
        penalty = (penalty_line(Ref(state_kind("objective")), Ref("value", circuit.graph.output),
                                tuple(Ref("value", name) for name in circuit.parameters), Ref("hyper:lambda"),
                                training.regularization[0]),)
    return penalty + stage_lines(training, GRAPH_KEYS, slots)


def solve_circuit(circuit: Circuit, steps: int = 1, source: str = "", precision: int | None = None) -> GraphSolution:
    """Forward pass, backward pass and (with a learning rate) updates of ``circuit``, for ``steps`` steps.

    Raises:
        SpecError: several steps without a learning rate, or values with no finite solution.
    """
    if steps > 1 and circuit.learning_rate is None:
        raise SpecError("several steps need a learning_rate to update with", "learning_rate", source)
    derivation = derive(circuit.graph)
    rate = circuit.learning_rate
    updates = updates_of(circuit)
    training, names = circuit.training, circuit.parameters
    leaves, values = circuit.values, []
    state = initial_state(training, GRAPH_KEYS, names) if rate is not None else {}
    for _ in range(steps):
        try:
            step_values = evaluate(derivation, leaves)
            if rate is not None:
                step_values[Ref("rate")] = rate
                step_values.update(state)
                for update in updates:
                    step_values[update.result] = settle(compute(update, step_values))
        except (ArithmeticError, ZeroDivisionError) as error:
            raise SpecError(f"the exercise has no finite solution: {error}", getattr(error, "path", ""),
                            file=source) from None
        if rate is not None:
            leaves = {**leaves, **{name: step_values[Ref("new", name)] for name in names}}
            state = next_state(training, GRAPH_KEYS, names, step_values, state)
        values.append(step_values)
    return GraphSolution(circuit, derivation, updates, tuple(values), GraphNotation(circuit.graph),
                         precision or circuit.precision)
