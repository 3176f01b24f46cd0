"""The document and JSON of a `graph:` exercise: the circuit, forward and backward gate by gate, gradients, updates."""

from __future__ import annotations

from dataclasses import replace

from ..core.graph import CONSTANT_MARK, Ref
from ..core.graph_solution import GRAPH_KEYS, GraphSolution
from ..core.update import parameter_updates, state_json
from .diagram import circuit_diagram
from .document import Block, Document, Math, Table
from .present import Context, Line, present, update_text
from .render import _short_exact, build_document, json_document, json_number, loss_per_step, to_json
from .typography import Latex, Unicode

#: How each kind of leaf is listed among the given values.
_LEAF_WORDS = {"input": "input", "parameter": "parameter", "target": "target"}


@build_document.register
def _(solution: GraphSolution, typography: Latex, step_blocks=None, with_figures: bool = True,
      marks: dict | None = None, with_plots: bool = True) -> Document:
    figure = circuit_diagram(solution) if with_figures else None
    first = Context(solution.notation, typography, solution.values[0])
    overview = (_circuit_block(solution, first), _given_block(solution, first))
    steps = []
    for index, values in enumerate(solution.values):
        context = Context(solution.notation, typography, values)
        heading = f"Step {index + 1}" if len(solution.values) > 1 else ""
        steps.append((heading, tuple(_step_blocks(solution, context, figure if index == 0 else None,
                                                  (marks or {}) if index == 0 else {}))))
    closing = ()
    if len(solution.values) > 1:
        closing = (loss_per_step(solution, typography, solution.top,
                                 "The differentiated value before each step's update.", with_plots),)
    return Document(solution.title or "A computational graph, worked", overview, tuple(steps), closing)


def _circuit_block(solution: GraphSolution, context: Context) -> Block:
    circuit, typography = solution.circuit, context.typography
    rows = []
    for node in circuit.graph.nodes:
        names = [context.factor(Ref("value", name)) if name.startswith(CONSTANT_MARK)
                 else context.name(Ref("value", name)) for name in node.inputs]
        constant = typography.factor(node.constant) if node.constant is not None else ""
        rows.append((Math(context.name(Ref("value", node.name))), node.operation.name.replace("_", " "),
                     Math(node.operation.write(typography, names, constant))))
    words = Unicode(typography.precision)
    output = circuit.output
    text = ("Each formula is split into elementary gates, named in order as they are evaluated."
            if circuit.split else "Each node is one gate.")
    if circuit.loss:
        text += f" The loss is {circuit.loss.description} ({circuit.loss.name}) of the output {output}."
    else:
        text += f" The solution differentiates the output {output} itself."
    if circuit.learning_rate is not None:
        text += f" Learning rate {words.number(circuit.learning_rate)}."
    return Block("The circuit", text, table=Table(("node", "gate", "formula"), tuple(rows)), level=2)


def _given_block(solution: GraphSolution, context: Context) -> Block:
    rows = tuple((Math(context.name(Ref("value", leaf.name))), _LEAF_WORDS[leaf.kind],
                  Math(context.value(Ref("value", leaf.name))))
                 for leaf in solution.circuit.graph.leaves if leaf.kind in _LEAF_WORDS)
    return Block("Given values", "", table=Table(("name", "given as", "value"), rows), level=2)


def _step_blocks(solution: GraphSolution, context: Context, figure, marks: dict):
    def marked(step) -> Line:
        line = present(step, context)
        return replace(line, mark=marks[step.result]) if step.result in marks else line

    derivation, typography = solution.derivation, context.typography
    yield Block("Forward pass", "Gate by gate, each value from the values before it: formula → numbers → value.",
                tuple(marked(step) for step in derivation.forward))
    yield Block("Backward pass",
                "From the output back, gate by gate: each gate sends to each of its inputs the upstream gradient "
                "times its local gradient; where a value feeds several gates, what they send back adds up.",
                tuple(marked(step) for step in derivation.backward), figure=figure)
    rows = tuple((Math(context.name(Ref("value", name))), Math(context.value(Ref("value", name))),
                  Math(context.value(gradient)))
                 for gradient in derivation.gradients for name in (gradient.name,))
    yield Block("Gradients", "The gradient of every input and parameter.",
                table=Table(("name", "value", Math(typography.name(solution.notation, Ref("grad", "·")))), rows))
    if solution.updates:
        rows = tuple((Math(context.name(Ref("value", name))), Math(context.value(Ref("value", name))),
                      Math(context.value(Ref("grad", name))), Math(context.value(update.result)))
                     for update in parameter_updates(solution.updates) for name in (update.result.name,))
        training = solution.circuit.training
        text = ("Gradient descent, every gradient taken at the old parameters." if training.plain
                and not training.frozen else update_text(training, typography))
        yield Block("Updates", text,
                    tuple(marked(update) for update in solution.updates),
                    Table(("parameter", "old", "gradient", "new"), rows))


@to_json.register
def _(solution: GraphSolution) -> dict:
    return json_document(solution, [_step_json(solution, index) for index in range(len(solution.values))])


def _step_json(solution: GraphSolution, index: int) -> dict:
    values, circuit = solution.values[index], solution.circuit
    quantities = solution.quantities(index, exact=True)
    named = solution.notation.ascii

    def number(ref: Ref) -> int | float:
        return json_number(values[ref], f"quantities.{named(ref)}")

    result = {
        "loss": json_number(values[solution.top], "loss"),
        "quantities": {name: json_number(value, f"quantities.{name}") for name, value in quantities.items()},
        "exact": {name: str(value) for name, value in quantities.items() if _short_exact(value)},
        "gradients": {"inputs": {name: number(Ref("grad", name)) for name in circuit.inputs},
                      "parameters": {name: number(Ref("grad", name)) for name in circuit.parameters}},
    }
    if solution.updates:
        result["updated"] = {"parameters": {name: number(Ref("new", name)) for name in circuit.parameters}}
        state = state_json(circuit.training, GRAPH_KEYS, circuit.parameters, values)
        if state:
            result["state"] = {letter: {"parameters": {name: json_number(value, f"state.{letter}")
                                                       for name, value in pairs}} for letter, pairs in state.items()}
    return result
