"""Common mistakes, each a variant of the real derivation: the same steps with one rule changed."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import sympy

from ..core.evaluation import Values, compute
from ..core.graph import Backward, FanIn, Ref
from ..core.graph_solution import GraphSolution, solve_circuit
from ..core.layered_solution import LayeredSolution, solve_layered
from ..core.layers import Tensor
from ..core.numbers import settle, total
from ..core.operations import ARGUMENTS as _ARGUMENTS
from ..core.rules import OUTPUT
from ..core.solution import solve
from ..core.steps import BackSum, CostValue, Gradient, LossValue, OutputSlope, Quantity, Slope, Update, WeightedSum
from ..core.update import DECAY, EPS, GRAD, THETA, VHAT, Assign, G, M, S, V, carried, start, state_kind


@dataclass(frozen=True)
class MistakenUpdate:
    """θ_new = θ + direction · η · g, or θ + direction · g when the learning rate is left out."""

    result: Quantity
    old: Quantity
    gradient: Quantity
    rate: Quantity | None
    direction: int


@compute.register
def _(step: MistakenUpdate, values: Values) -> sympy.Expr:
    rate = values[step.rate] if step.rate else sympy.Integer(1)
    return total([values[step.old], step.direction * rate * values[step.gradient]])


@dataclass(frozen=True, eq=False)
class Variant:
    """One mistake, made everywhere it can be made in a derivation.

    Attributes:
        code: The mistake's code (SPEC §4.2), e.g. ``sign_flip``.
        detail: What went wrong, as a clause: "the sign of … is flipped (t − o instead of o − t)".
        changes: The mistaken step that replaces each real step it changes, by the step's result.
        values: Every value of the exercise with this mistake made.
    """

    code: str
    detail: str
    changes: Mapping[Quantity, object]
    values: Values

    def steps(self, steps: Iterable) -> list:
        """``steps`` with this mistake made."""
        return [self.changes.get(step.result, step) for step in steps]


def replay(steps: Iterable, values: Values, keep: Container[Quantity] = ()) -> Values:
    """Recompute every step in order over a copy of ``values``, leaving the quantities in ``keep``.

    A step that reads a quantity computed later (an updated weight) reads its value in ``values``.
    A step that has no finite value from these numbers (log of a negative) keeps the one in ``values``.
    """
    values = dict(values)
    for step in steps:
        if step.result in keep:
            continue
        try:
            values[step.result] = settle(compute(step, values))
        except (ArithmeticError, TypeError):
            pass
    return values


@dataclass(frozen=True)
class _Exercise:
    """What the makers of variants look at."""

    solution: object

    @property
    def network(self):
        return self.solution.network

    @cached_property
    def steps(self) -> list:
        return list(self.solution.steps())

    def of_type(self, kind: type | tuple[type, ...]) -> list:
        return [step for step in self.steps if isinstance(step, kind)]

    def name(self, quantity: Quantity) -> str:
        return self.solution.notation.ascii(quantity)

    def slopes(self) -> list[Slope]:
        """The activation derivatives that can be got wrong (the identity's 1 cannot)."""
        return [step for step in self.of_type(Slope) if step.activation.name != "identity"]


def variants(solution) -> tuple[Variant, ...]:
    """Every variant of ``solution``'s derivation that one common mistake makes, in ``MISTAKES`` order.

    Only mistakes that change some value of this exercise are listed (no ``missing_mean`` without
    a batch, no ``relu_derivative_at_zero`` where no pre-activation is 0).
    """
    exercise = _Exercise(solution)
    truth = solution.values[0]
    found = []
    table = (LAYER_MISTAKES if isinstance(solution, LayeredSolution)
             else GRAPH_MISTAKES if isinstance(solution, GraphSolution) else MISTAKES)
    for code, make in table.items():
        for detail, changes in make(exercise):
            values = replay([changes.get(step.result, step) for step in exercise.steps], truth)
            # NOTE: a step the mistake leaves at the same value (σ' at the output, relu' away from 0) is no change.
            changes = {result: step for result, step in changes.items() if _differ(values[result], truth[result])}
            if changes:
                found.append(Variant(code, detail, changes, values))
    return tuple(found)


def _differ(value: sympy.Expr, other: sympy.Expr) -> bool:
    # NOTE: beyond the noise of two high-precision computations of one number by different formulas.
    return bool(abs(value - other) > sympy.Float("1e-30") * max(1, abs(other)))


Made = Iterator[tuple[str, dict]]


def _changed(steps: Iterable, change: Callable) -> dict:
    """Each step's mistaken version, by its result, where the mistake changes it."""
    return {step.result: mistaken for step in steps if (mistaken := change(step)) != step}


def _sign_flip(exercise: _Exercise) -> Made:
    # NOTE: with the textbooks' error terms the right sign is t − o.
    flipped = "o − t instead of t − o" if exercise.network.options.error_term else "t − o instead of o − t"
    yield (f"the sign of the loss's derivative is flipped ({flipped})",
           _changed(exercise.of_type(OutputSlope), lambda step: replace(step, formula=-step.formula)))


_SQUARED_LOSSES = ("half_squared_error", "squared_error", "mse")


def _missing_half(exercise: _Exercise) -> Made:
    if exercise.network.loss.name not in _SQUARED_LOSSES:
        return
    # NOTE: only half_squared_error has a ½ to drop; for the others a factor 2 was added.
    too_large = ("the loss's ½ was dropped (a factor 2 too large)" if exercise.network.loss.name == "half_squared_error"
                 else "a factor 2 too many was taken (a factor 2 too large)")
    for factor, detail in ((2, too_large),
                           (sympy.Rational(1, 2), "a factor ½ too many was taken (a factor 2 too small)")):
        yield detail, _changed(exercise.of_type((LossValue, OutputSlope)),
                               lambda step: replace(step, formula=factor * step.formula))


def _dropped_activation_derivative(exercise: _Exercise) -> Made:
    yield ("the activation's derivative was left out (taken as 1)",
           _changed(exercise.slopes(), lambda step: replace(step, formula=sympy.Integer(1))))


# Derivatives written in the output y that one activation has (sigmoid, tanh) and a student may give
# another activation built on exp or tanh.
_OUTPUT_FORMS = ((OUTPUT * (1 - OUTPUT), "y(1 − y), the sigmoid's derivative,"),
                 (1 - OUTPUT ** 2, "1 − y², tanh's derivative,"))


def _wrong_activation_derivative(exercise: _Exercise) -> Made:
    yield ("the activation f itself was used instead of its derivative f'",
           _changed(exercise.slopes(),
                    lambda step: replace(step, formula=step.activation.formula, variable=_pre(step.result))))
    with_exp = [step for step in exercise.slopes() if step.activation.formula.has(sympy.exp, sympy.tanh)]
    for form, text in _OUTPUT_FORMS:
        yield (f"{text} was used instead of the activation's own derivative",
               _changed(with_exp, lambda step: replace(step, formula=form, variable=_out(step.result))))


def _pre_activation_as_input(exercise: _Exercise) -> Made:
    letters = exercise.solution.notation.letters
    where = f"the pre-activation {letters.pre[2]} was used where the output {letters.out[2]} belongs"
    yield (f"{where}, as the input of the next weighted sum",
           _changed(exercise.of_type(WeightedSum), lambda step: replace(
               step, terms=tuple((_as_pre(source), weight) for source, weight in step.terms))))
    yield (f"{where}, as the input a weight scales in its gradient",
           _changed(exercise.of_type(Gradient), lambda step: replace(
               step, terms=tuple((delta, _as_pre(source)) for delta, source in step.terms))))
    yield (f"{where}, in a derivative written in the output",
           _changed(exercise.slopes(), lambda step: replace(step, variable=_as_pre(step.variable))))


def _stale_weight(exercise: _Exercise) -> Made:
    if exercise.solution.derivation.updates:
        yield ("the already-updated weights were used to pass δ back",
               _changed(exercise.of_type(BackSum), lambda step: replace(
                   step, terms=tuple((delta, replace(weight, kind="new")) for delta, weight in step.terms))))


def _missing_mean(exercise: _Exercise) -> Made:
    yield ("the batch mean's 1/m was left out",
           _changed(exercise.of_type((CostValue, Gradient)), lambda step: replace(step, scale=sympy.Integer(1))))


def _mistaken_updates(exercise: _Exercise, with_rate: bool, direction: int) -> dict:
    return {step.result: MistakenUpdate(step.result, step.old, step.gradient, step.rate if with_rate else None,
                                        direction)
            for step in exercise.of_type(Update) if step.trainable}


def _added_gradient(exercise: _Exercise) -> Made:
    yield "the gradient was added instead of subtracted (θ + η·g)", _mistaken_updates(exercise, True, 1)


def _missing_learning_rate(exercise: _Exercise) -> Made:
    yield "the learning rate η was left out (θ − g)", _mistaken_updates(exercise, False, -1)


def _relu_derivative_at_zero(exercise: _Exercise) -> Made:
    kinked = [step for step in exercise.slopes() if step.activation.derivative_at_zero is not None]
    chosen = exercise.network.options.relu_derivative_at_zero
    for other in sorted({sympy.Integer(0), sympy.Integer(1), sympy.Rational(1, 2)} - {chosen}):
        yield (f"relu'(0) was taken as {other} instead of {chosen}",
               _changed(kinked, lambda step: replace(
                   step, formula=replace(step.activation, derivative_at_zero=other).derivative)))


def _missing_path(exercise: _Exercise) -> Made:
    for step in exercise.of_type(BackSum):
        if step.result.example != 0 or len(step.terms) < 2:
            continue
        for _, weight in step.terms:
            yield (f"the path through {exercise.name(weight)} was left out of the sum over every path",
                   _changed([other for other in exercise.of_type(BackSum) if other.result.node is step.result.node],
                            lambda other: replace(other, terms=tuple(term for term in other.terms
                                                                     if term[1] != weight))))


# --- mistakes in the update stage (optimizers, regularization) ----------------------------


def _lines(exercise: _Exercise, letter: str) -> list[Assign]:
    """The update stage's lines whose result is the state ``letter`` (``mhat``, ``g``, ``v``: at a step's end)."""
    kinds = {state_kind(letter), state_kind(letter, True)}
    return [step for step in exercise.of_type(Assign) if step.result.kind in kinds]


def _new_lines(exercise: _Exercise) -> list[Assign]:
    return [step for step in exercise.of_type(Assign) if step.result.kind == "new" and len(step.reads) > 1]


def _missing_bias_correction(exercise: _Exercise) -> Made:
    corrected = {"mhat": M, "vhat": V}
    yield ("Adam's bias correction was left out (m and v used for m̂ and v̂)",
           {step.result: replace(step, formula=corrected[step.result.kind.split(":")[1]])
            for step in _lines(exercise, "mhat") + _lines(exercise, "vhat")})


def _epsilon_inside_sqrt(exercise: _Exercise) -> Made:
    changes = {}
    for step in _new_lines(exercise):
        for squares in (VHAT, S):
            formula = step.formula.xreplace({sympy.Add(sympy.Pow(squares, sympy.Rational(1, 2), evaluate=False), EPS,
                                                       evaluate=False): sympy.sqrt(squares + EPS)})
            if formula != step.formula:
                changes[step.result] = replace(step, formula=formula)
    yield "ε was put inside the square root (√(v + ε) instead of √v + ε)", changes


def _coupled_weight_decay(exercise: _Exercise) -> Made:
    decayed = _lines(exercise, "decayed")
    if not decayed:
        return
    changes = {}
    for step in decayed:
        changes[step.result] = replace(step, formula=THETA)  # no decoupled decay …
        theta = dict((symbol, key) for symbol, key in step.reads)[THETA]
        decay = dict((symbol, key) for symbol, key in step.reads)[DECAY]
        owner = [line for line in exercise.of_type(Assign) if line.result.kind in (state_kind("m", True),
                                                                                  state_kind("v", True))
                 and _owner(line.result) == _owner(step.result)]
        for line in owner:  # … but λθ added to the gradient, as L2 regularization would
            changes[line.result] = replace(line, formula=line.formula.xreplace({G: G + DECAY * THETA}),
                                           reads=line.reads + ((DECAY, decay), (THETA, theta)))
    yield "AdamW's weight decay was coupled into the gradient (g + λθ, as L2) instead of decoupled", changes


def _owner(quantity) -> object:
    return getattr(quantity, "parameter", None) or getattr(quantity, "name", None)


def _momentum_not_accumulated(exercise: _Exercise) -> Made:
    solution = exercise.solution
    training = solution.circuit.training if isinstance(solution, GraphSolution) else solution.network.training
    if training is None or training.optimizer != "momentum":
        return
    yield ("the velocity was not accumulated (v = g instead of v = μ v + g)",
           {step.result: replace(step, formula=G) for step in _lines(exercise, "v")})


def _missing_regularization(exercise: _Exercise) -> Made:
    changes = {step.result: replace(step, formula=GRAD) for step in _lines(exercise, "g")}
    changes |= {step.result: replace(step, formula=step.reads[0][0]) for step in _lines(exercise, "objective")}
    yield "the regularization term was left out (of the cost and the gradients)", changes


def later_steps_marked(solution) -> bool:
    """Whether ``check`` marks this exercise's later training steps: a network trained in batch, a ``graph:``
    exercise or a layered network, each with a learning rate."""
    if isinstance(solution, GraphSolution):
        return solution.circuit.learning_rate is not None
    return not solution.online and solution.network.learning_rate


def solve_steps(solution, steps: int):
    """The same exercise solved for ``steps`` training steps (its numbers only)."""
    if isinstance(solution, LayeredSolution):
        return solve_layered(solution.network, steps, precision=solution.precision)
    if isinstance(solution, GraphSolution):
        return solve_circuit(solution.circuit, steps, precision=solution.precision)
    return solve(solution.network, steps=steps, written=False)


def mistaken_runs(solution, upto: int) -> list[tuple[str, str, Values]]:
    """Each update-stage mistake made at every training step up to ``upto``: (code, detail, that step's values);
    none for a ``graph:`` exercise or a layered network (their later steps are marked right or wrong only)."""
    if isinstance(solution, GraphSolution):
        return []
    exercise = _Exercise(solution)
    network = solution.network
    starting = start(network).state
    runs = []
    for code in UPDATE_MISTAKES:
        for detail, changes in MISTAKES[code](exercise):
            if not changes:
                continue
            steps = [changes.get(step.result, step) for step in exercise.steps]
            updates = tuple(step for step in steps if step.result in {u.result for u in solution.derivation.updates})
            carry = None
            for index in range(upto):
                given = dict(solution.values[index])
                if carry is not None:
                    given.update({Quantity("param", parameter=p): value for p, value in carry.parameters.items()})
                    given.update(carry.state)
                values = replay(steps, given)
                carry = carried(network, updates, values, {key: given[key] for key in starting})
            runs.append((code, detail, values))
    return runs


def _pre(quantity: Quantity) -> Quantity:
    return Quantity("pre", quantity.node, quantity.example)


def _as_pre(quantity: Quantity | None) -> Quantity | None:
    """A neuron's pre-activation in place of its output; anything else as it is."""
    return _pre(quantity) if quantity is not None and quantity.kind == "out" else quantity


def _out(quantity: Quantity) -> Quantity:
    return Quantity("out", quantity.node, quantity.example)


#: Each mistake's code and how it changes a derivation, in the order they are tried on a wrong answer.
MISTAKES: dict[str, Callable[[_Exercise], Made]] = {
    "sign_flip": _sign_flip,
    "missing_half": _missing_half,
    # NOTE: at a kink, relu' = 1 is the other convention before it is a dropped derivative.
    "relu_derivative_at_zero": _relu_derivative_at_zero,
    "dropped_activation_derivative": _dropped_activation_derivative,
    "wrong_activation_derivative": _wrong_activation_derivative,
    "pre_activation_as_input": _pre_activation_as_input,
    "missing_path": _missing_path,
    "stale_weight": _stale_weight,
    "missing_mean": _missing_mean,
    "added_gradient": _added_gradient,
    "missing_learning_rate": _missing_learning_rate,
    "missing_bias_correction": _missing_bias_correction,
    "epsilon_inside_sqrt": _epsilon_inside_sqrt,
    "coupled_weight_decay": _coupled_weight_decay,
    "momentum_not_accumulated": _momentum_not_accumulated,
    "missing_regularization": _missing_regularization,
}

#: The update stage's mistakes, which a graph's optimizer can be done with too.
UPDATE_MISTAKES = ("missing_bias_correction", "epsilon_inside_sqrt", "coupled_weight_decay",
                   "momentum_not_accumulated", "missing_regularization")


# --- mistakes in a computational graph ---------------------------------------------------


def _gate(exercise: _Exercise, step: Backward) -> str:
    """``dq/dx``: the local gradient a Backward step multiplies by, in ASCII."""
    return f"d{step.node.name}/d{step.node.inputs[step.slot]}"


def _flipped_local(exercise: _Exercise) -> Made:
    for step in exercise.of_type(Backward):
        if step.local != 0:
            yield (f"the sign of the local gradient {_gate(exercise, step)} ({step.node.operation.name} gate) "
                   "is flipped", {step.result: replace(step, local=-step.local)})


def _swapped_multiply_inputs(exercise: _Exercise) -> Made:
    for node in {step.node.name: step.node for step in exercise.of_type(Backward)
                 if step.node.operation.name == "multiply"}.values():
        steps = [step for step in exercise.of_type(Backward) if step.node is node]
        yield (f"the multiply gate {node.name} sent each input its own value instead of the other input's "
               "(its local gradients swapped back)",
               {step.result: replace(step, local=_ARGUMENTS[step.slot]) for step in steps})


def _missing_fanout_sum(exercise: _Exercise) -> Made:
    for step in exercise.of_type(FanIn):
        for term in step.terms:
            yield (f"the gradient {step.result.name} receives from {term.via} was left out of the sum over the "
                   f"gates {step.result.name} feeds",
                   {step.result: replace(step, terms=tuple(other for other in step.terms if other != term))})


#: The mistakes of a computational graph (SPEC §2.4), in the order they are tried on a wrong answer.
GRAPH_MISTAKES: dict[str, Callable[[_Exercise], Made]] = {
    "sign_flip": _flipped_local,
    "swapped_multiply_inputs": _swapped_multiply_inputs,
    "missing_fanout_sum": _missing_fanout_sum,
    "added_gradient": _added_gradient,
    "missing_learning_rate": _missing_learning_rate,
    **{code: MISTAKES[code] for code in UPDATE_MISTAKES},
}


# --- mistakes in a layered network (SPEC §2.5) ---------------------------------------------


def _kernel_not_flipped(exercise: _Exercise) -> Made:
    network = exercise.solution.network
    changes = {}
    for step in exercise.of_type(Backward):
        group = step.node.group
        if (not str(group.get("type", "")).startswith("conv") or group.get("role") != "pre" or step.slot % 2
                or step.slot >= 2 * len(group["taps"])):
            continue  # NOTE: only what an input entry is sent back (the slots before the bias, every other one)
        layer = network.layers[group["layer"]]
        kernels = Tensor(layer.kernel, next(p for p in layer.parameters if p.key == "kernels").names)
        tap = group["taps"][step.slot // 2]
        mirrored = (*tap[:2], *(size - 1 - at for size, at in zip(layer.kernel[2:], tap[2:])))
        # NOTE: the local gradient by the input is the kernel entry it meets; unflipped, the mirrored one.
        changes[step.result] = replace(step, local=_ARGUMENTS[len(step.arguments)],
                                       arguments=step.arguments + (Ref("value", kernels.at(mirrored)),))
    yield ("the kernel was not flipped: the input's gradient was taken with the kernel as it is, not the full "
           "convolution with the flipped kernel", changes)


def _pool_gradient_not_routed(exercise: _Exercise) -> Made:
    yield ("a max-pooling window's gradient was spread evenly over its entries instead of routed to the maximum",
           _changed([step for step in exercise.of_type(Backward) if step.node.group.get("type") == "maxpool"],
                    lambda step: replace(step, local=sympy.Rational(1, step.node.operation.arity))))


def _batch_statistics_as_constants(exercise: _Exercise) -> Made:
    # NOTE: μ and σ² send nothing back: each x's gradient keeps only its path through its own x̂.
    yield ("batch norm's μ and σ² were treated as constants: each input's gradient was taken through its own x̂ "
           "alone (∂J/∂x̂ / √(σ² + ε)), without the paths through μ and σ², which depend on every x of the batch",
           _changed([step for step in exercise.of_type(Backward) if step.node.group.get("type") == "batchnorm"
                     and step.node.group.get("role") in ("mean", "variance")],
                    lambda step: replace(step, local=sympy.Integer(0))))


def _missing_time_step(exercise: _Exercise) -> Made:
    # NOTE: the slots where an rnn's z_t reads h_{t−1} (group "recurrent"): cut, no gradient reaches the step before.
    cut = [step for step in exercise.of_type(Backward) if step.node.group.get("type") == "rnn"
           and step.node.group.get("role") == "pre" and step.slot in step.node.group.get("recurrent", ())]
    yield ("backpropagation through time was cut to one step: no gradient flowed from a step back into the state "
           "before it (through the recurrent weights), so each shared weight's sum kept only what each step's own "
           "loss sends (with output: last, the last step's term alone)",
           {step.result: replace(step, local=sympy.Integer(0)) for step in cut})


#: The mistakes of a layered network, in the order they are tried on a wrong answer. Adding one is one entry
#: here (see "Adding a layer kind" in core/layers.py).
LAYER_MISTAKES: dict[str, Callable[[_Exercise], Made]] = {
    "kernel_not_flipped": _kernel_not_flipped,
    "pool_gradient_not_routed": _pool_gradient_not_routed,
    "batch_statistics_as_constants": _batch_statistics_as_constants,
    "missing_time_step": _missing_time_step,
    "added_gradient": _added_gradient,
    "missing_learning_rate": _missing_learning_rate,
}
