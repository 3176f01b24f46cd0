"""Batch norm and dropout layers (SPEC §2.5) against an independent oracle (tests/oracle_batchnorm_dropout.py)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import mpmath
import oracle_batchnorm_dropout as bn_oracle
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracle import DIGITS
from specs import _output_activation, _targets, activations, learning_rates, nice_numbers

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

#: The oracle's central differences are good to ~30 digits; 1e-20 leaves a margin.
RELATIVE = mpmath.mpf("1e-20")
ABSOLUTE = mpmath.mpf("1e-30")
#: Central differences need every kinked activation this far from its kink, and every σ² + ε this far from 0.
MARGIN = mpmath.mpf("1e-12")
#: Losses whose outputs are drawn (every loss with targets); cross-entropy gets a softmax output.
_LOSSES = ("half_squared_error", "squared_error", "mse", "binary_cross_entropy", "cross_entropy")


# --- strategies ------------------------------------------------------------------------


epsilons = st.sampled_from([None, None, Decimal("0.001"), Decimal("0.1"), "1/4", 0, 1])
#: Drop probabilities as a spec writes them (None: PyTorch's default 0.5).
probabilities_of_dropping = st.sampled_from([None, 0, Decimal("0.5"), Decimal("0.25"), "1/3", Decimal("0.8")])


@st.composite
def masks(draw, units: int, examples: int, batched: bool):
    """A dropout mask: one 0/1 per unit (shared by the batch), or one row per example in a batch."""
    row = st.lists(st.sampled_from([0, 1]), min_size=units, max_size=units)
    if batched and draw(st.booleans()):
        return draw(st.lists(row, min_size=examples, max_size=examples))
    return draw(row)


@st.composite
def layered_specs(draw, kinds: tuple[str, ...] = ("batchnorm", "dropout"), examples: tuple[int, int] = (2, 4),
                  exact: bool = False):
    """A network of dense layers with batch norm and/or dropout layers between them (or first), any loss.

    Args:
        kinds: The layer kinds beyond dense that may be drawn (at least one of them is).
        examples: The least and the most examples in the batch (batch norm needs at least 2).
        exact: Only activations and losses that keep values rational (then no batch norm).
    """
    loss = draw(st.sampled_from(("half_squared_error", "squared_error", "mse") if exact else _LOSSES))
    count = draw(st.integers(*examples))
    batched = count > 1 or draw(st.booleans())
    width = draw(st.integers(1, 3))
    inputs = [draw(st.lists(nice_numbers, min_size=width, max_size=width)) for _ in range(count)]
    middle = draw(st.lists(st.sampled_from(("dense",) + kinds), min_size=1, max_size=3))
    if not set(middle) & set(kinds):
        middle.append(draw(st.sampled_from(kinds)))
    layers = []
    for kind in middle + ["output"]:
        if kind in ("dense", "output"):
            units = draw(st.integers(1, 3))
            activation = (_output_activation(draw, loss, exact, dense=True, only=None) if kind == "output"
                          else draw(activations(exact=exact)))
            layer = {"activation": activation,
                     "weights": draw(st.lists(st.lists(nice_numbers, min_size=width, max_size=width),
                                              min_size=units, max_size=units))}
            biases = draw(st.sampled_from(["per unit", "shared", "none"]))
            if biases == "per unit":
                layer["biases"] = draw(st.lists(nice_numbers, min_size=units, max_size=units))
            elif biases == "shared":
                layer["biases"] = draw(nice_numbers)
            width = units
        elif kind == "batchnorm":
            layer = {"type": "batchnorm"}
            for key in ("gamma", "beta"):
                if draw(st.booleans()):
                    layer[key] = draw(st.lists(nice_numbers, min_size=width, max_size=width))
            epsilon = draw(epsilons)
            if epsilon is not None:
                layer["epsilon"] = epsilon
        else:
            layer = {"type": "dropout", "mask": draw(masks(width, count, batched))}
            p = draw(probabilities_of_dropping)
            if p is not None:
                layer["p"] = p
        layers.append(layer)
    targets = [_targets(draw, loss, width) for _ in range(count)]
    spec = {"inputs": inputs if batched else inputs[0], "targets": targets if batched else targets[0],
            "layers": layers}
    if loss != "half_squared_error" or draw(st.booleans()):
        spec["loss"] = loss
    rate = draw(st.none() | learning_rates)
    if rate is not None:
        spec["learning_rate"] = rate
    if batched and draw(st.booleans()):
        spec["options"] = {"reduction": draw(st.sampled_from(["mean", "sum"]))}
    return spec


def well_posed(spec: dict) -> bn_oracle.Exercise:
    """The oracle's reading of ``spec``, where central differences are derivatives (else the draw is skipped)."""
    exercise = bn_oracle.read(spec)
    assume(bn_oracle.kink_distance(exercise) > MARGIN)
    assume(bn_oracle.least_spread(exercise) > MARGIN)
    assume(bn_oracle.saturation(exercise) > MARGIN)
    return exercise


def close(actual, expected, scale, what: str) -> None:
    with mpmath.workdps(DIGITS):
        error = abs(actual - expected)
        assert error <= RELATIVE * max(abs(actual), abs(expected)) + ABSOLUTE * scale, (
            f"{what}: {mpmath.nstr(actual, 25)} against {mpmath.nstr(expected, 25)}")


# --- the oracle itself, against the published formulas ---------------------------------------


def published_backward(x: list, gamma, beta, epsilon, upstream: list) -> dict:
    """Ioffe & Szegedy's (2015) backward pass of one unit's batch norm, as CS231n writes it in stages:
    ∂L/∂x̂ᵢ = ∂L/∂yᵢ·γ; ∂L/∂σ² = Σᵢ ∂L/∂x̂ᵢ·(xᵢ − μ)·(−½)(σ² + ε)^(−3/2);
    ∂L/∂μ = Σᵢ ∂L/∂x̂ᵢ·(−1/√(σ² + ε)) + ∂L/∂σ²·Σᵢ −2(xᵢ − μ)/m;
    ∂L/∂xᵢ = ∂L/∂x̂ᵢ/√(σ² + ε) + ∂L/∂σ²·2(xᵢ − μ)/m + ∂L/∂μ/m; ∂L/∂γ = Σᵢ ∂L/∂yᵢ·x̂ᵢ; ∂L/∂β = Σᵢ ∂L/∂yᵢ.
    """
    m = len(x)
    mean = mpmath.fsum(x) / m
    variance = mpmath.fsum((xi - mean) ** 2 for xi in x) / m
    root = mpmath.sqrt(variance + epsilon)
    hat = [(xi - mean) / root for xi in x]
    d_hat = [dy * gamma for dy in upstream]
    d_variance = mpmath.fsum(dh * (xi - mean) for dh, xi in zip(d_hat, x)) * (-mpmath.mpf(1) / 2) * root ** -3
    d_mean = -mpmath.fsum(d_hat) / root + d_variance * mpmath.fsum(-2 * (xi - mean) for xi in x) / m
    d_x = [dh / root + d_variance * 2 * (xi - mean) / m + d_mean / m for dh, xi in zip(d_hat, x)]
    return {"hat": d_hat, "variance": d_variance, "mean": d_mean, "x": d_x,
            "gamma": mpmath.fsum(dy * h for dy, h in zip(upstream, hat)), "beta": mpmath.fsum(upstream)}


@settings(max_examples=15, **SETTINGS)
@given(st.data())
def test_the_oracle_agrees_with_the_published_staged_backward_pass(data):
    """A lone batch norm under half_squared_error: ∂J/∂yᵢ = (yᵢ − tᵢ)/m, so the paper's formulas give every
    gradient; the oracle's central differences must agree (this checks the oracle, not the package)."""
    m = data.draw(st.integers(2, 4))
    column = data.draw(st.lists(nice_numbers, min_size=m, max_size=m))
    targets = data.draw(st.lists(nice_numbers, min_size=m, max_size=m))
    gamma, beta, epsilon = data.draw(nice_numbers), data.draw(nice_numbers), data.draw(epsilons)
    layer = {"type": "batchnorm", "gamma": [gamma], "beta": [beta]}
    if epsilon is not None:
        layer["epsilon"] = epsilon
    spec = {"inputs": [[x] for x in column], "targets": [[t] for t in targets], "layers": [layer]}
    exercise = well_posed(spec)
    expected = bn_oracle.gradients(exercise)
    result = bn_oracle.forward(exercise)
    with mpmath.workdps(DIGITS):
        mp = lambda raw: bn_oracle.mp(Fraction(str(raw)))  # noqa: E731
        outputs = [result.out[(0, n)][0] for n in range(m)]
        upstream = [(y - mp(t)) / m for y, t in zip(outputs, targets)]
        published = published_backward([mp(x) for x in column], mp(gamma), mp(beta),
                                       mp(epsilon if epsilon is not None else bn_oracle.EPSILON), upstream)
        scale = max([mpmath.mpf(1)] + [abs(g) for g in expected.values()])
        close(expected[("layers", 0, "gamma", 0)], published["gamma"], scale, "dJ/dγ")
        close(expected[("layers", 0, "beta", 0)], published["beta"], scale, "dJ/dβ")
        for n in range(m):
            close(expected[("inputs", n, 0)], published["x"][n], scale, f"dJ/dx{n}")


def test_the_oracle_normalises_as_pytorch_does():
    """Hand-computed: x = 1, 2, 3 → μ = 2, σ² = 2/3 (biased), x̂ = ∓1/√(2/3 + ε), y = γx̂ + β."""
    spec = {"inputs": [[1], [2], [3]], "targets": [[0], [0], [0]],
            "layers": [{"type": "batchnorm", "gamma": [2], "beta": ["1/2"], "epsilon": 0}]}
    result = bn_oracle.forward(bn_oracle.read(spec))
    with mpmath.workdps(DIGITS):
        mean, variance = result.statistics[(0, 0)]
        assert mean == 2 and abs(variance - mpmath.mpf(2) / 3) < mpmath.mpf("1e-70")
        assert abs(result.out[(0, 0)][0] - (-2 * mpmath.sqrt(mpmath.mpf(3) / 2) + mpmath.mpf(1) / 2)) < 1e-70
        assert result.out[(0, 1)][0] == mpmath.mpf(1) / 2


def test_the_oracle_drops_and_scales_as_inverted_dropout_does():
    """mask 1, 0, 1 with p = 1/4: kept units are scaled by 4/3, the dropped one is 0; per-example rows too."""
    spec = {"inputs": [[3, 6, -3], [1, 1, 1]], "targets": [[0, 0, 0], [0, 0, 0]],
            "layers": [{"type": "dropout", "mask": [[1, 0, 1], [0, 1, 1]], "p": "1/4"}]}
    result = bn_oracle.forward(bn_oracle.read(spec))
    assert result.out[(0, 0)] == [4, 0, -4]
    assert [float(v) for v in result.out[(0, 1)]] == pytest.approx([0, 4 / 3, 4 / 3])


@settings(max_examples=10, **SETTINGS)
@given(layered_specs(kinds=("batchnorm",)))
def test_frozen_statistics_change_only_what_lies_below_a_batch_norm(spec):
    """The oracle's mistaken derivative (μ, σ² held constant) agrees with the true one for the last batch
    norm's γ, β and every parameter above it, as it must: only gradients that flow through the x of a batch
    norm differ."""
    exercise = well_posed(spec)
    last = max(depth for depth, layer in enumerate(spec["layers"]) if layer.get("type") == "batchnorm")
    true, frozen = bn_oracle.gradients(exercise), bn_oracle.gradients(exercise, frozen=True)
    scale = max([mpmath.mpf(1)] + [abs(g) for g in true.values()])
    for location, gradient in true.items():
        if location[0] == "layers" and location[1] >= last:
            close(frozen[location], gradient, scale, f"{location}")
