"""The top of the core pipeline: a spec in, a Solution (derivation + values + notation) out."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy

from .circuit import build_circuit, is_graph_spec
from .derivation import Derivation, derive
from .errors import SpecError
from .evaluation import Values, evaluate
from .graph_solution import GraphSolution, solve_circuit
from .layered_solution import LayeredSolution, solve_layered
from .layers import build_layered, is_layered_spec
from .limits import MAX_EXAMPLES, MAX_NEURONS, MAX_PARAMETERS, MAX_VALUES, MAX_WRITTEN
from .network import Network
from .notation import Notation
from .numbers import NoFiniteValue, python_number
from .spec import build_network, input_name, read_document
from .update import carried, start


# NOTE: eq=False: a solution is one object (hashed by identity), so the renderers can cache its figures.
@dataclass(frozen=True, eq=False)
class Solution:
    """A worked solution: the derivation, the values of each training step, and how to name them.

    Values come two ways: as plain Python numbers (``loss``, ``quantities()``) — ``int`` for a whole
    number, ``fractions.Fraction`` for another exact one, ``float`` for one carried to high
    precision — and exactly, as SymPy numbers (``exact_loss``, ``quantities(exact=True)``), an
    irrational value to at least 30 significant digits.

    Attributes:
        network: The exercise.
        derivation: The symbolic steps (the same for every training step).
        values: One map of quantity values per training step (exact, SymPy).
        notation: Names every quantity.
        precision: Significant digits shown for values that are not exact.
        unrounded: With ``options.rounding``, each step's values without rounding (from the same
            parameters at the start of the step); None otherwise.
        online: With ``training: online``, the network of each example alone: ``values`` then holds one map
            per update (per example of each training step), all written with ``derivation``'s steps
            (the first example's; every example's steps are the same but for the numbers).
    """

    network: Network
    derivation: Derivation
    values: tuple[Values, ...]
    notation: Notation
    precision: int
    unrounded: tuple[Values, ...] | None = None
    online: tuple[Network, ...] = ()

    @property
    def updates_per_step(self) -> int:
        """How many updates one training step makes: one per example online, else one."""
        return len(self.online) or 1

    @property
    def title(self) -> str:
        """The exercise's title (as a graph solution has one too)."""
        return self.network.title

    @property
    def rounding(self):
        """How each line is rounded and carried (``options.rounding``), or None."""
        return self.network.options.rounding

    @property
    def answer_names(self) -> tuple[tuple[str, str], ...]:
        """A course's own names of quantities (the spec's ``answer_names``), as a graph solution has them too."""
        return self.network.answer_names

    @property
    def loss(self) -> int | Fraction | float:
        """The cost J before the (first) update, as a Python number (see the class)."""
        return python_number(self.exact_loss)

    @property
    def exact_loss(self) -> sympy.Expr:
        """The cost J before the (first) update, exactly (a SymPy number)."""
        return self.values[0][self.derivation.cost]

    def steps(self):
        """Every step with a value, in order: forward, loss, backward, gradients, updates."""
        return self.derivation.steps()

    def quantities(self, step: int = 0, *, exact: bool = False) -> dict[str, Any]:
        """Every quantity of training step ``step`` by its ASCII name, as ``check`` reads them.

        Args:
            step: The training step, 0 for the first.
            exact: SymPy numbers as computed (True), or Python numbers (False, see the class).
        """
        values = self.values[step].items()
        if exact:
            return {self.notation.ascii(quantity): value for quantity, value in values}
        return {self.notation.ascii(quantity): python_number(value) for quantity, value in values}


def solve(spec: str | Path | dict | Network, *, steps: int = 1, notation: str | None = None,
          precision: int | None = None, written: bool = True) -> Solution | GraphSolution | LayeredSolution:
    """Solve an exercise: forward pass, loss, backward pass and updates, for ``steps`` steps.

    Args:
        spec: A spec file's path, a parsed spec (dict), or a Network.
        steps: How many gradient-descent steps to take (more than one needs a learning rate).
        notation: ``indexed``, ``layered`` or ``ng``; default: the spec's, else by its form.
        precision: Significant digits shown; default: the spec's, else 6.
        written: The solution will be written out step by step (False: only its numbers, as JSON);
            a written solution has a lower limit on its size (see ``check_size``).

    Returns:
        The Solution (``backprop_derive.solve`` returns one that renders itself); for a `graph:` spec
        (SPEC §2.4) a GraphSolution.

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
    source = input_name(spec) if isinstance(spec, (str, Path)) else ""
    if steps < 1:
        raise SpecError("expected at least 1 step", "--steps")
    data = read_document(spec) if isinstance(spec, (str, Path)) else spec
    refuse_notation(data, notation)
    # A computational graph (SPEC §2.4) goes through the operation graph's own pipeline.
    if is_graph_spec(data):
        try:
            circuit = build_circuit(data)
        except SpecError as error:
            raise error.with_file(source) from None
        return solve_circuit(circuit, steps, source, precision)
    # A network with layer kinds (SPEC §2.5) is compiled to the operation graph too.
    if is_layered_spec(data):
        try:
            network = build_layered(data)
            network.check_size(steps, written)
        except SpecError as error:
            raise error.with_file(source) from None
        return solve_layered(network, steps, source, precision)
    # Read and validate the spec into a network.
    try:
        network = data if isinstance(data, Network) else build_network(data)
    except SpecError as error:
        raise error.with_file(source) from None
    if steps > 1 and network.learning_rate is None:
        raise SpecError("several steps need a learning_rate to update with", "learning_rate", source)
    try:
        check_size(network, steps)
        if written:
            check_written_size(network, steps, hint="; --format json gives the numbers alone")
    except SpecError as error:
        raise error.with_file(source) from None
    # Online training (SPEC §2.6): each example alone, one update after each, in order.
    training = network.training
    online = tuple(replace(network, examples=(example,), batched=False) for example in network.examples) if (
        training is not None and training.online and network.batched) else ()
    exercises = online or (network,)
    # Derive the chain rule once (per example online); the structure is the same for every step.
    derivations = [derive(exercise) for exercise in exercises]
    # Evaluate each step from the parameters and optimizer state the previous one left.
    carry = start(network)
    values, unrounded = [], []
    for step in range(steps):
        for exercise, derivation in zip(exercises, derivations):
            try:
                step_values = evaluate(derivation, carry.parameters, carry.state)
                if network.options.rounding:
                    unrounded.append(evaluate(derivation, carry.parameters, carry.state, rounded=False))
            except NoFiniteValue as error:
                # NOTE: a value rounded by options.rounding may reach what the full value never does (σ = 1).
                hint = ("; options.rounding carries rounded values, so keep more digits" if network.options.rounding
                        else "")
                during = f" (at step {step + 1})" if steps > 1 else ""
                raise SpecError(f"the exercise has no finite solution: {error}{hint}{during}", error.path,
                                source) from None
            values.append(step_values)
            carry = carried(exercise, derivation.updates, step_values, carry.state)
    notation_network = online[0] if online else network
    return Solution(network, derivations[0], tuple(values), Notation(notation_network, notation or network.notation),
                    precision or network.options.precision, tuple(unrounded) if unrounded else None, online)


def refuse_notation(data: Any, notation: str | None) -> None:
    """Refuse ``--notation`` for the exercises whose quantities carry their own names: graphs and layered networks."""
    if notation is None:
        return
    if is_graph_spec(data):
        raise SpecError("a graph's quantities carry their own names; drop --notation", "--notation")
    if is_layered_spec(data):
        raise SpecError("a network with layer types gives its quantities their own names, layer by layer; drop "
                        "--notation", "--notation")


def written_size(network: Network) -> int:
    """The chain-rule factors one example's written solution has: neurons + parameters × layers."""
    return len(network.neurons) + len(network.parameters) * len(network.layers)


def _multiplied(network: Network, steps: int) -> str:
    """`` × 3 examples × 2 steps``: what a count per example and step is multiplied by (empty for 1 and 1)."""
    return "".join(f" × {count:,} {what}" for count, what in ((len(network.examples), "examples"), (steps, "steps"))
                   if count > 1)


def _field(network: Network, steps: int) -> str:
    return "--steps" if steps > 1 else "layers" if network.form == "dense" else "neurons"


def check_size(network: Network, steps: int = 1) -> None:
    """Refuse, before any work, an exercise larger than a worked solution can compute.

    Raises:
        SpecError: naming the field and the limit passed (see ``limits``).
    """
    where = "layers" if network.form == "dense" else "neurons"
    examples = len(network.examples)
    for count, limit, what, field in ((len(network.parameters), MAX_PARAMETERS, "weights and biases", where),
                                      (len(network.neurons), MAX_NEURONS, "neurons", where),
                                      (examples, MAX_EXAMPLES, "examples", "inputs")):
        if count > limit:
            raise SpecError(f"{count:,} {what}: more than a worked solution can take (at most {limit:,})", field)
    units = len(network.neurons) + len(network.parameters)
    if units * examples * steps > MAX_VALUES:
        times = _multiplied(network, steps)
        raise SpecError(f"{units:,} values (neurons and parameters){times} = {units * examples * steps:,}: more "
                        f"than a worked solution can compute (at most {MAX_VALUES:,})", _field(network, steps))


def check_written_size(network: Network, steps: int = 1, hint: str = "") -> None:
    """Refuse, before any work, an exercise whose worked solution is longer than one can sensibly read.

    Raises:
        SpecError: naming the field and the limit passed, followed by ``hint``.
    """
    factors = written_size(network)
    total = factors * len(network.examples) * steps
    if total > MAX_WRITTEN:
        times = _multiplied(network, steps)
        raise SpecError(f"{factors:,} chain-rule factors (neurons + parameters × layers){times}"
                        f"{f' = {total:,}' if times else ''}: more than a worked solution can write out "
                        f"(at most {MAX_WRITTEN:,}){hint}", _field(network, steps))
