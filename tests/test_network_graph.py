"""Both network forms compile to the operation graph (issue 8): the derivation's sums are the walk's.

The compiled graph is also evaluated on its own (core.graph.evaluate: each node's SymPy formula and its
local derivatives by sympy.diff), a second path to the same numbers as the network's worked steps.
"""

from __future__ import annotations

import sympy
from hypothesis import HealthCheck, given, settings
from specs import specs

from backprop_derive.core.graph import FanIn, Ref
from backprop_derive.core.graph import derive as walk
from backprop_derive.core.graph import evaluate as evaluate_graph
from backprop_derive.core.network_graph import compile_network
from backprop_derive.core.solution import solve
from backprop_derive.core.spec import build_network

SEED = {"inputs": {1: 1, 2: -1}, "targets": {5: 0}, "loss": "half_squared_error", "learning_rate": "1/10",
        "neurons": {3: {"activation": "relu", "in": {1: 2, 2: -3}},
                    4: {"activation": "relu", "in": {1: 1, 2: 4}},
                    5: {"activation": "relu", "in": {3: 2, 4: -1}}}}


def _graph_gradients(spec: dict) -> tuple[dict, object]:
    network = build_network(spec)
    compiled = compile_network(network)
    derivation = walk(compiled.graph, compiled.losses)
    values = evaluate_graph(derivation, {leaf.name: leaf.value for leaf in compiled.graph.leaves})
    scale = sympy.Rational(1, len(network.examples)) if network.options.reduction == "mean" else 1
    return {parameter: scale * values[Ref("grad", name)]
            for parameter, name in zip(network.parameters, compiled.parameters)}, network


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_the_compiled_graph_evaluated_alone_gives_the_worked_gradients(spec: dict) -> None:
    gradients, network = _graph_gradients(spec)
    solution = solve(network)
    for parameter, value in gradients.items():
        worked = solution.values[0][solution.derivation.gradients[network.parameters.index(parameter)].result]
        assert abs(sympy.N(value - worked, 40)) <= sympy.Float("1e-25") * max(1, abs(sympy.N(worked, 40)))


def test_each_parameter_is_one_leaf_shared_by_every_example() -> None:
    batch = {**SEED, "inputs": [{1: 1, 2: -1}, {1: 2, 2: 1}], "targets": [{5: 0}, {5: 1}]}
    compiled = compile_network(build_network(batch))
    parameters = [leaf for leaf in compiled.graph.leaves if leaf.kind == "parameter"]
    assert len(parameters) == 6
    derivation = walk(compiled.graph, compiled.losses)
    tied = [step for step in derivation.backward if isinstance(step, FanIn) and step.tied]
    # Each weight is used once per example: its gradient is the walk's sum of the two uses.
    assert {step.result.name for step in tied} == set(compiled.parameters)
    assert all(len(step.terms) == 2 for step in tied)


def test_the_derivations_terms_are_what_the_walk_sends_back() -> None:
    solution = solve(SEED)
    gradient = solution.derivation.gradients[0]  # w13: δ3 · x1
    delta, source = gradient.terms[0]
    assert (delta.kind, delta.node.name, source.kind, source.node.name) == ("delta", "3", "input", "1")
    assert solution.quantities()["dL/dw13"] == 20
