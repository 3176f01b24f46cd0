"""Every gradient, loss, output and update against an independent 80-digit oracle (tests/oracle.py)."""

from __future__ import annotations

from decimal import Decimal

import mpmath
import oracle
import pytest
import sympy
from hypothesis import HealthCheck, Phase, assume, given, settings
from specs import ALL_ACTIVATIONS, LOSSES, dense_specs, named_specs, specs

from backprop_derive import solve

#: The package carries 50 digits and the oracle's differences are good to ~30: 1e-20 leaves a margin.
RELATIVE = mpmath.mpf("1e-20")
#: For values that cancel to (nearly) zero: an absolute floor, relative to the problem's scale.
ABSOLUTE = mpmath.mpf("1e-30")
#: Central differences need every kinked activation this far from its kink.
KINK_MARGIN = mpmath.mpf("1e-20")
#: A log-loss's outputs at least this far from 0 and 1. NOTE: the package carries 50 digits, so
#: 1 − o of a saturated sigmoid keeps only 50 + log10(1 − o) of them; closer than this, it has
#: fewer than the 1e-20 tolerance needs (see the saturation tests below).
SATURATION_MARGIN = mpmath.mpf("1e-12")

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def to_mp(value: sympy.Expr) -> mpmath.mpf:
    """A package value (exact Rational or 50-digit Float) as an mpmath number, without rounding."""
    if value.is_Rational:
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(sympy.Float(value)._mpf_)


def assert_close(actual: sympy.Expr, expected: mpmath.mpf, scale: mpmath.mpf, what: str) -> None:
    with mpmath.workdps(oracle.DIGITS):
        got = to_mp(actual)
        error = abs(got - expected)
        assert error <= RELATIVE * max(abs(got), abs(expected)) + ABSOLUTE * scale, (
            f"{what}: package {mpmath.nstr(got, 25)}, oracle {mpmath.nstr(expected, 25)}")


def skip_kinks_and_saturation(spec: dict) -> None:
    """Skip a drawn spec where a relu, leaky_relu or elu sits at (or next to) its kink, or a
    cross-entropy's output is saturated beyond what 50 digits resolve."""
    model = oracle.read(spec)
    assume(oracle.kink_distance(model) > KINK_MARGIN)
    assume(oracle.saturation(model) > SATURATION_MARGIN)


def check_against_oracle(spec: dict) -> None:
    """Solve ``spec`` with the package and with the oracle; every number must agree."""
    model = oracle.read(spec)
    solution = solve(spec)
    values, derivation = solution.values[0], solution.derivation
    result = oracle.forward(model)
    expected = oracle.gradients(model)
    scale = max([mpmath.mpf(1), abs(result.cost)] + [abs(g) for g in expected.values()])

    # The forward pass: every neuron's output in every example, then the cost.
    for example, outputs in enumerate(result.out):
        for step in derivation.forward[example]:
            if step.result.kind == "out":
                node = step.result.node
                key = ("unit", node.layer - 1, node.unit - 1) if solution.network.form == "dense" else node.name
                assert_close(values[step.result], outputs[key], scale, f"output of {key}, example {example}")
    assert_close(solution.exact_loss, result.cost, scale, "the cost J")

    # Every parameter has exactly one gradient, equal to the central difference.
    gradients = {g.parameter.location: values[g.result] for g in derivation.gradients}
    assert set(gradients) == set(expected)
    for location, gradient in gradients.items():
        assert_close(gradient, expected[location], scale, f"dJ/d{location}")

    # The update θ − η·g with the oracle's g; fixed biases stay exactly as given.
    if model.learning_rate is None:
        assert not derivation.updates
        return
    new = oracle.updated(model, expected)
    for update in derivation.updates:
        location = update.old.parameter.location
        if oracle.is_fixed(model, location):
            assert values[update.result] == values[update.old], f"{location} is fixed"
        assert_close(values[update.result], new[location], scale, f"{location} updated")


@settings(max_examples=40, **SETTINGS)
@given(dense_specs())
def test_dense_networks_match_the_oracle(spec: dict) -> None:
    skip_kinks_and_saturation(spec)
    check_against_oracle(spec)


@settings(max_examples=40, **SETTINGS)
@given(named_specs())
def test_named_graphs_with_skip_connections_match_the_oracle(spec: dict) -> None:
    skip_kinks_and_saturation(spec)
    check_against_oracle(spec)


# NOTE: the random draws above favour some choices; these make sure each kind is drawn.
@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_each_activation_matches_the_oracle(activation: str) -> None:
    @settings(max_examples=6, **SETTINGS)
    @given(specs(activation=activation))
    def check(spec: dict) -> None:
        skip_kinks_and_saturation(spec)
        check_against_oracle(spec)

    check()


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_matches_the_oracle(loss: str) -> None:
    @settings(max_examples=6, **SETTINGS)
    @given(specs(loss=loss))
    def check(spec: dict) -> None:
        skip_kinks_and_saturation(spec)
        check_against_oracle(spec)

    check()


# NOTE: no shrinking: the test below is the minimal case, and shrinking a failure here costs ~20 s.
@settings(max_examples=30, phases=[Phase.explicit, Phase.reuse, Phase.generate], **SETTINGS)
@given(named_specs(outputs_may_feed=True))
def test_named_graph_whose_output_also_feeds_another_neuron_matches_the_oracle(spec: dict) -> None:
    targets = spec["targets"][0] if isinstance(spec["targets"], list) else spec["targets"]
    fed = {str(source) for neuron in spec["neurons"].values() for source in neuron["in"]}
    assume(any(str(name) in fed for name in targets))
    skip_kinks_and_saturation(spec)
    check_against_oracle(spec)


def test_output_neuron_that_feeds_another_neuron_gets_both_paths() -> None:
    # h is an output (target 1) and feeds o: ∂L/∂w_ah = (h − 1)·a + o·w_ho·a = 1 + 18 = 19.
    spec = {"inputs": {"a": 1}, "targets": {"h": 1, "o": 0},
            "neurons": {"h": {"activation": "identity", "in": {"a": 2}},
                        "o": {"activation": "identity", "in": {"h": 3}}}}
    check_against_oracle(spec)
    solution = solve(spec)
    gradients = {g.parameter.location: g for g in solution.derivation.gradients}
    assert solution.values[0][gradients[("neurons", "h", "in", "a")].result] == 19


# --- exactness ---------------------------------------------------------------------------


@settings(max_examples=60, **SETTINGS)
@given(specs(exact=True))
def test_identity_relu_leaky_relu_with_squared_losses_stay_exact(spec: dict) -> None:
    solution = solve(spec, steps=2 if spec.get("learning_rate") is not None else 1)
    for values in solution.values:
        inexact = {solution.notation.ascii(q): v for q, v in values.items() if not v.is_Rational}
        assert not inexact, f"not exact: {inexact}"


# --- the kink conventions ----------------------------------------------------------------


def _one_unit(activation, bias, options=None) -> dict:
    """One input x = 1, one unit with weight 1 and ``bias``, target 1, ½ squared error."""
    spec = {"inputs": [1], "targets": [1], "layers": [{"activation": activation, "weights": [[1]], "biases": [bias]}]}
    if options:
        spec["options"] = options
    return spec


def _weight_gradient(spec: dict) -> sympy.Expr:
    solution = solve(spec)
    return solution.values[0][solution.derivation.gradients[0].result]


@pytest.mark.parametrize(("options", "slope"), [
    (None, 0), ({"relu_derivative_at_zero": 0}, 0), ({"relu_derivative_at_zero": 1}, 1),
    ({"relu_derivative_at_zero": Decimal("0.5")}, sympy.Rational(1, 2)),
])
def test_relu_derivative_at_zero_is_the_option(options, slope) -> None:
    # z = 1·1 − 1 = 0, a = 0, ∂L/∂a = a − t = −1, so ∂L/∂w = −1 · relu'(0) · 1.
    assert _weight_gradient(_one_unit("relu", -1, options)) == -slope


@pytest.mark.parametrize(("activation", "slope"), [
    ("leaky_relu", sympy.Rational(1, 100)),
    ({"name": "leaky_relu", "alpha": Decimal("0.2")}, sympy.Rational(1, 5)),
    ("elu", 1),
    ({"name": "elu", "alpha": Decimal("0.5")}, sympy.Rational(1, 2)),
])
def test_leaky_relu_and_elu_take_the_negative_slope_at_zero(activation, slope) -> None:
    spec = _one_unit(activation, -1)
    assert _weight_gradient(spec) == -slope
    # The same number as the oracle's derivative from the left, (J(w) − J(w − h)) / h.
    model = oracle.read(spec)
    location = ("layers", 0, "weights", 0, 0)
    at = oracle.forward(model).cost
    left = oracle.forward(model, {**model.parameters, location: model.parameters[location] - oracle.STEP}).cost
    with mpmath.workdps(oracle.DIGITS):
        assert abs((at - left) / oracle.mp(oracle.STEP) - -to_mp(sympy.Rational(slope))) < mpmath.mpf("1e-20")


def test_relu_at_zero_in_a_hidden_layer_stops_the_chain() -> None:
    # The hidden unit's z is exactly 0: with relu'(0) = 0 nothing flows back to its weights.
    spec = {"inputs": [1, 1], "targets": [2],
            "layers": [{"activation": "relu", "weights": [[1, -1]]},
                       {"activation": "identity", "weights": [[3]], "biases": [1]}]}
    solution = solve(spec)
    gradients = {g.parameter.location: solution.values[0][g.result] for g in solution.derivation.gradients}
    assert gradients[("layers", 0, "weights", 0, 0)] == 0
    assert gradients[("layers", 1, "biases", 0)] == -1  # the output 1 − target 2
    spec["options"] = {"relu_derivative_at_zero": 1}
    solution = solve(spec)
    gradients = {g.parameter.location: solution.values[0][g.result] for g in solution.derivation.gradients}
    assert gradients[("layers", 0, "weights", 0, 0)] == -3


# --- saturation ----------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [20, 60, 120])
def test_a_saturated_sigmoid_under_binary_cross_entropy_keeps_30_digits(weight: int) -> None:
    # o = σ(w) with target 0: L = −ln(1 − σ(w)) = ln(1 + e^w), finite for any w. 1 − σ(60) is
    # 9e-27 and 1 − σ(120) is 8e-53, below what the package's 50-digit 1 − o resolves.
    spec = {"inputs": [1], "targets": [0], "loss": "binary_cross_entropy",
            "layers": [{"activation": "sigmoid", "weights": [[weight]]}]}
    with mpmath.workdps(oracle.DIGITS):
        expected = mpmath.log(1 + mpmath.exp(weight))
        assert abs(to_mp(solve(spec).exact_loss) - expected) <= mpmath.mpf("1e-30") * expected


def test_the_oracle_implements_every_activation_and_loss_of_the_package_tables():
    from oracle import ACTIVATIONS as ORACLE_ACTIVATIONS
    from oracle import ALIASES as ORACLE_ALIASES
    from oracle import LOSSES as ORACLE_LOSSES

    from backprop_derive.core import rules

    assert set(rules.ACTIVATIONS) <= set(ORACLE_ACTIVATIONS), "a new activation needs the oracle's own implementation"
    assert set(rules.ALIASES.items()) <= set(ORACLE_ALIASES.items())
    assert set(rules.LOSSES) <= set(ORACLE_LOSSES), "a new loss needs the oracle's own implementation"
