"""Homework variants of a computational graph (`graph:`): the same circuit with new nice numbers."""

from __future__ import annotations

import copy
import decimal
import random

import sympy

from .circuit import build_circuit
from .errors import BackpropDeriveError
from .graph import Backward, Ref
from .graph_solution import GraphSolution, solve_circuit
from .present import Context
from .render import Block, Math, Table
from .render_graph import _circuit_block, _given_block
from .typography import Latex

#: Gates whose value stays exact (rational) when their inputs are: such a circuit gets whole numbers.
EXACT_GATES = {"add", "subtract", "multiply", "negate", "scale", "add_constant", "power", "relu", "max", "min",
               "abs", "divide", "reciprocal", "half_squared_error", "squared_error", "mse"}
#: Gates with a kink: a variant never puts an input on it (the derivative there is a convention).
KINKED_GATES = {"relu", "max", "min", "abs"}


def stays_exact(spec: dict) -> bool:
    """True when every gate of the spec's circuit keeps exact inputs exact."""
    return all(node.operation.name in EXACT_GATES for node in build_circuit(spec).graph.nodes)


class GraphDrawer:
    """Draws variants of one `graph:` plan: every input, parameter and target from the grid, the learning
    rate from round values, checked on the solution of the spec it writes.

    Args:
        plan: What to generate (``generate.Plan``).
        numbers: The grid's nonzero numbers.
        rates: The learning rates to choose from.
        places: The most decimal places a value of an exact circuit may have.
        draws: How many draws to try per variant.
    """

    def __init__(self, plan, numbers: tuple, rates: tuple, places: int, draws: int) -> None:
        self.plan, self.numbers, self.rates, self.places, self.draws = plan, numbers, rates, places, draws
        self.circuit = build_circuit(plan.spec)
        self.exact = stays_exact(plan.spec)

    def draw(self, index: int, redraw: int = 0):
        """Variant ``index`` (its ``redraw``-th fresh draw): nice numbers, worth solving, solved."""
        from .generate import Draw, _exact, _short_decimal  # NOTE: deferred: generate dispatches to this module

        generator = random.Random(f"{self.plan.seed}:{index}:{redraw}")
        spec = self.plan.spec
        for _ in range(self.draws):
            drawn = {section: {name: generator.choice(self.numbers) for name in spec.get(section, {})}
                     for section in ("inputs", "parameters", "targets")}
            variant = copy.deepcopy(spec)
            for section, values in drawn.items():
                if values:
                    variant[section] = values
            rate = None
            if spec.get("learning_rate") is not None:
                rate = generator.choice(self.rates)
                variant["learning_rate"] = rate
            variant["title"] = f"Variant {index}: {spec.get('title') or 'A computational graph'}"
            try:
                solution = solve_circuit(build_circuit(variant))
            except BackpropDeriveError:  # e.g. a division by 0 or the log of a negative number
                continue
            if self._worth_solving(solution, lambda value: _short_decimal(value, self.places)):
                numbers = tuple(tuple(values.values()) for values in drawn.values()) + (rate,)
                return Draw(index, numbers, variant, solution)
        raise BackpropDeriveError(f"no draw in {self.draws} made variant {index} of the circuit worth solving with "
                                  "nice numbers: widen --weights" + (", use fewer --decimals" if self.exact else ""))

    def _worth_solving(self, solution: GraphSolution, short) -> bool:
        values = solution.values[0]
        if all(values[gradient] == 0 for gradient in solution.derivation.gradients):
            return False
        for step in solution.derivation.backward:
            if isinstance(step, Backward) and step.node.operation.name in KINKED_GATES and step.slot == 0:
                inputs = [values[argument] for argument in step.arguments]
                if (len(inputs) == 1 and inputs[0] == 0) or (len(inputs) == 2 and inputs[0] == inputs[1]):
                    return False
        return not self.exact or all(short(value) for value in values.values())


# --- the documents -----------------------------------------------------------------------


def graph_problem_sheet(solution: GraphSolution, typography: Latex):
    """The problem of a circuit: the gates, the given values and the questions, with no answer."""
    from .diagram import circuit_diagram
    from .generate import Question, Sheet, _names

    context = Context(solution.notation, typography, solution.values[0])
    circuit_block = _circuit_block(solution, context)
    givens = (Block(circuit_block.heading, circuit_block.text, table=circuit_block.table, level=2,
                    figure=circuit_diagram(solution, solved=False)), _given_block(solution, context))
    nodes = [Ref("value", node.name) for node in solution.circuit.graph.nodes]
    questions = [Question("The value of every node (the forward pass)", _names(context, nodes)),
                 Question("The gradient of every input and parameter (the backward pass)",
                          _names(context, solution.derivation.gradients))]
    if solution.updates:
        rate = typography.number(solution.circuit.learning_rate)
        questions.append(Question(f"Each parameter after one step of gradient descent with learning rate {rate}",
                                  _names(context, [update.result for update in solution.updates])))
    return Sheet(solution.title, "Work the forward and the backward pass through the circuit by hand.", givens,
                 tuple(questions))


def graph_answer_key(solution: GraphSolution, typography: Latex):
    """The answers to a circuit's problem: its output (and loss), each gradient, each new parameter."""
    from .generate import Key

    context = Context(solution.notation, typography, solution.values[0])
    circuit = solution.circuit
    results = (("output", Math(context.name(Ref("value", circuit.output))),
                Math(context.value(Ref("value", circuit.output)))),)
    if circuit.loss:
        results += (("loss", Math(context.name(solution.top)), Math(context.value(solution.top))),)
    header: tuple[str, ...] = ("value", "gradient")
    rows = [(Math(context.name(Ref("value", gradient.name))), Math(context.value(gradient)))
            for gradient in solution.derivation.gradients]
    if solution.updates:
        header += ("after one step",)
        new = {update.old.name: update.result for update in solution.updates}
        rows = [row + (Math(context.value(new[gradient.name])) if gradient.name in new else "",)
                for row, gradient in zip(rows, solution.derivation.gradients)]
    return Key(solution.title, results, Table(header, tuple(rows)))


def graph_key_values(solution: GraphSolution) -> dict[str, sympy.Expr]:
    """The key's answers by their ASCII names."""
    refs = [Ref("value", solution.circuit.output), solution.top, *solution.derivation.gradients,
            *(update.result for update in solution.updates)]
    return {solution.notation.ascii(ref): solution.values[0][ref] for ref in dict.fromkeys(refs)}


def default_graph_grid(spec: dict):
    """Whole numbers from -5 to 5 for a circuit that stays exact (as CS231n's), else -3 to 3."""
    from .generate import Grid

    high = 5 if stays_exact(spec) else 3
    return Grid(decimal.Decimal(-high), decimal.Decimal(high), 0)
