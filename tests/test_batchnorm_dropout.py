"""Batch norm and dropout layers (SPEC §2.5) against an independent oracle (tests/oracle_batchnorm_dropout.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import mpmath
import oracle_batchnorm_dropout as bn_oracle
import pytest
import sympy
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracle import DIGITS
from specs import _output_activation, _targets, activations, learning_rates, nice_numbers

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.core.spec import read_document
from backprop_derive.jobs.check import check, parse_answers
from backprop_derive.jobs.generate import draw_specs, make_plan

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

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
    try:
        bn_oracle.forward(exercise)
    except ZeroDivisionError:  # σ² + ε = 0: a unit equal over the batch, with ε = 0 (the package's error: bad input)
        assume(False)
    assume(bn_oracle.least_spread(exercise) > MARGIN)
    assume(bn_oracle.kink_distance(exercise) > MARGIN)
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


# --- the package against the oracle ----------------------------------------------------------


def to_mp(value: sympy.Expr):
    """A package value (exact Rational or high-precision Float) as an mpmath number (at the working precision)."""
    if value.is_Rational:
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(sympy.Float(value)._mpf_)


def _batched(spec: dict) -> bool:
    return isinstance(spec["inputs"][0], list)


def ascii_name(location: tuple, batched: bool) -> str:
    """The package's ASCII name of a parameter or input the oracle locates: W[1]_21, b[3], gamma[2]_1, x2(3)."""
    if location[0] == "inputs":
        _, example, entry = location
        return f"x{entry + 1}" + (f"({example + 1})" if batched else "")
    _, depth, key, *index = location
    letter = {"weights": "W", "biases": "b", "gamma": "gamma", "beta": "beta"}[key]
    return f"{letter}[{depth + 1}]" + ("_" + "".join(str(i + 1) for i in index) if index else "")


def check_against_oracle(spec: dict, exercise: bn_oracle.Exercise | None = None) -> None:
    """Solve ``spec`` with the package and with the oracle: the cost, batch norm's μ, σ² and x̂, each batch
    norm's and dropout's outputs, every gradient (parameters and inputs) and every update must agree.

    Without ``exercise`` (the oracle's reading), a drawn spec where central differences fail is skipped.
    """
    exercise = exercise or well_posed(spec)
    quantities = solve(spec).quantities(exact=True)
    batched = _batched(spec)
    top = "J" if batched else "L"
    result = bn_oracle.forward(exercise)
    expected = bn_oracle.gradients(exercise)
    scale = max([mpmath.mpf(1), abs(result.cost)] + [abs(g) for g in expected.values()])

    def agrees(name: str, value) -> None:
        with mpmath.workdps(DIGITS):
            close(to_mp(quantities[name]), value, scale, name)

    agrees(top, result.cost)
    for (depth, unit), (mean, variance) in result.statistics.items():
        agrees(f"mu[{depth + 1}]_{unit + 1}", mean)
        agrees(f"var[{depth + 1}]_{unit + 1}", variance)
    mark = (lambda n: f"({n + 1})") if batched else (lambda n: "")
    for (depth, example), row in result.normalized.items():
        for unit, value in enumerate(row):
            agrees(f"xhat[{depth + 1}]_{unit + 1}{mark(example)}", value)
    for (depth, example), row in result.out.items():
        if spec["layers"][depth].get("type") in ("batchnorm", "dropout"):
            for unit, value in enumerate(row):
                agrees(f"a[{depth + 1}]_{unit + 1}{mark(example)}", value)
    for location, gradient in expected.items():
        agrees(f"d{top}/d{ascii_name(location, batched)}", gradient)
    if exercise.learning_rate is not None:
        for location, value in bn_oracle.updated(exercise, expected).items():
            agrees(f"{ascii_name(location, batched)}_new", value)


@settings(max_examples=15, **SETTINGS)
@given(layered_specs(kinds=("batchnorm",)))
def test_batch_norm_matches_the_oracle(spec):
    check_against_oracle(spec)


@settings(max_examples=15, **SETTINGS)
@given(layered_specs(kinds=("dropout",), examples=(1, 3)))
def test_dropout_matches_the_oracle(spec):
    check_against_oracle(spec)


@settings(max_examples=10, **SETTINGS)
@given(layered_specs())
def test_batch_norm_and_dropout_together_match_the_oracle(spec):
    check_against_oracle(spec)


@settings(max_examples=10, **SETTINGS)
@given(layered_specs(kinds=("dropout",), examples=(1, 3), exact=True))
def test_dropout_keeps_exact_values_exact(spec):
    """Dropout scales by 1/(1 − p), a rational: with rational activations and a squared loss, every value is exact."""
    quantities = solve(spec).quantities(exact=True)
    assert all(value.is_Rational for value in quantities.values())


@pytest.mark.parametrize("example", ["batchnorm_batch3", "dropout_mask"])
def test_the_examples_match_the_oracle(example):
    spec = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text(encoding="utf-8"))
    check_against_oracle(spec, bn_oracle.read(spec))


# --- check: batch_statistics_as_constants ---------------------------------------------------


@settings(max_examples=8, **SETTINGS)
@given(layered_specs(kinds=("batchnorm",)))
def test_batch_statistics_as_constants_is_diagnosed(spec):
    """A student who holds μ and σ² constant gets the oracle's frozen-statistics derivative for every parameter
    below a batch norm; check names that mistake for each such answer the true value does not explain."""
    exercise = well_posed(spec)
    true, frozen = bn_oracle.gradients(exercise), bn_oracle.gradients(exercise, frozen=True)
    batched, top = _batched(spec), "J" if _batched(spec) else "L"
    with mpmath.workdps(DIGITS):
        wrong = {f"d{top}/d{ascii_name(location, batched)}": value for location, value in frozen.items()
                 if abs(value - true[location]) > mpmath.mpf("1e-6") * max(1, abs(true[location]))}
    assume(wrong)
    answers = parse_answers({name: mpmath.nstr(value, 15) for name, value in wrong.items()})
    report = check(solve(spec), answers)
    for mark in report.marks:
        assert mark.verdict == "wrong", (mark.name, mark.verdict)
        assert mark.mistake == "batch_statistics_as_constants", (mark.name, mark.mistake)


def test_the_example_s_frozen_statistics_answer_is_diagnosed_on_the_command_line(tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("dJ/dW[1]_11: 0.000867975\ndJ/dgamma[2]_1: 0.0439798\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(EXAMPLES / "batchnorm_batch3.yaml"), str(answers),
                                       "--format", "json"])
    assert result.exit_code == 1, result.output
    marks = {mark["name"]: mark for mark in json.loads(result.stdout)["answers"]}
    assert marks["dJ/dW[1]_11"]["mistake"] == "batch_statistics_as_constants"
    assert marks["dJ/dgamma[2]_1"]["verdict"] == "right"


# --- the worked solution ----------------------------------------------------------------------


def test_batch_norm_is_worked_in_the_staged_form_with_numbers():
    """μ, σ², x̂ per unit with numbers; then ∂J/∂x̂, ∂J/∂σ², ∂J/∂μ, γ and β, ∂J/∂x — in that order."""
    text = solve(EXAMPLES / "batchnorm_batch3.yaml").render("txt")
    order = ["μ[2]₁ = (z[1]₁⁽¹⁾ + z[1]₁⁽²⁾ + z[1]₁⁽³⁾)/3 = (2 + 3 + 4)/3 = 3",
             "σ²[2]₁ = ((z[1]₁⁽¹⁾ − μ[2]₁)² + (z[1]₁⁽²⁾ − μ[2]₁)² + (z[1]₁⁽³⁾ − μ[2]₁)²)/3",
             "x̂[2]₁⁽¹⁾ = (z[1]₁⁽¹⁾ − μ[2]₁)/√(σ²[2]₁ + ε[2]) = (2 − 3)/√((2/3) + 0.00001)",
             "a[2]₁⁽¹⁾ = γ[2]₁ · x̂[2]₁⁽¹⁾ + β[2]₁ = 1 · (−1.22474) + 0 = −1.22474",
             "∂J/∂x̂[2]₁⁽¹⁾ = ∂J/∂a[2]₁⁽¹⁾ · γ[2]₁ = (−0.0442244) · 1 = −0.0442244",
             "∂J/∂σ²[2]₁ = ∂J/∂x̂[2]₁⁽¹⁾ · (−(z[1]₁⁽¹⁾ − μ[2]₁)/(2·(σ²[2]₁ + ε[2])^(3/2)))",
             "∂J/∂μ[2]₁ = ",
             "∂J/∂γ[2]₁ = ∂J/∂a[2]₁⁽¹⁾ · x̂[2]₁⁽¹⁾ + ∂J/∂a[2]₁⁽²⁾ · x̂[2]₁⁽²⁾",
             "∂J/∂β[2]₁ = ∂J/∂a[2]₁⁽¹⁾ · 1 + ∂J/∂a[2]₁⁽²⁾ · 1 + ∂J/∂a[2]₁⁽³⁾ · 1",
             # NOTE: ∂J/∂x as Ioffe & Szegedy write it: through x̂, then σ², then μ.
             "∂J/∂z[1]₁⁽¹⁾ = ∂J/∂x̂[2]₁⁽¹⁾ · 1/√(σ²[2]₁ + ε[2]) + ∂J/∂σ²[2]₁ · (−2·μ[2]₁/3"]
    positions = [text.index(line) for line in order]
    assert positions == sorted(positions)


def test_dropout_shows_the_mask_and_the_scaling_forward_and_backward():
    text = solve(EXAMPLES / "dropout_mask.yaml").render("txt")
    assert "p[2] = 0.5" in text
    assert "a[2]₂ = m[2]₂·a[1]₂/(1 − p[2]) = 0·2/(1 − 0.5) = 0" in text
    assert "∂L/∂a[1]₁ = ∂L/∂a[2]₁ · m[2]₁/(1 − p[2]) = (−0.0600867) · 2 = −0.120173" in text


def test_json_gradients_keep_gamma_and_beta_in_the_spec_s_shape():
    result = json.loads(solve(EXAMPLES / "batchnorm_batch3.yaml").render("json"))
    layer = result["gradients"]["layers"][1]
    assert set(layer) == {"gamma", "beta"} and len(layer["gamma"]) == 2 and len(layer["beta"]) == 2
    assert result["gradients"]["layers"][1]["beta"] == pytest.approx([-0.03201834011576915, 0.03201834011576915])
    assert set(result["updated"]["layers"][1]) == {"gamma", "beta"}
    dropout = json.loads(solve(EXAMPLES / "dropout_mask.yaml").render("json"))
    assert dropout["gradients"]["layers"][1] == {}


def test_updated_parameters_paste_back_into_the_spec():
    spec = yaml.safe_load((EXAMPLES / "batchnorm_batch3.yaml").read_text(encoding="utf-8"))
    solution = solve(spec)
    updated = json.loads(solution.render("json"))["updated"]["layers"]
    for layer, new in zip(spec["layers"], updated):
        layer.update({key: value for key, value in new.items()})
    again = solve(spec, steps=1)
    two = solve(yaml.safe_load((EXAMPLES / "batchnorm_batch3.yaml").read_text(encoding="utf-8")), steps=2)
    assert float(again.exact_loss) == pytest.approx(float(two.values[1][two.top]), rel=1e-12)


# --- bad input ---------------------------------------------------------------------------------

_BN = {"inputs": [[1, 2], [3, 4]], "targets": [[0], [1]],
       "layers": [{"type": "batchnorm"}, {"activation": "sigmoid", "weights": [[1, -1]]}]}
_DROP = {"inputs": [[1, 2], [3, 4]], "targets": [[0], [1]],
         "layers": [{"type": "dropout", "mask": [1, 0]}, {"activation": "sigmoid", "weights": [[1, -1]]}]}


def _with(base: dict, layer: dict, **top) -> dict:
    spec = json.loads(json.dumps(base))
    spec["layers"][0].update(layer)
    spec.update(top)
    return spec


BAD = [
    ("one example", _with(_BN, {}, inputs=[1, 2], targets=[0]), "layers[0]", "at least 2 examples"),
    ("gamma too short", _with(_BN, {"gamma": [1]}), "layers[0].gamma", "expected a list of 2 numbers"),
    ("gamma a number", _with(_BN, {"gamma": 1}), "layers[0].gamma", "expected a list of 2 numbers"),
    ("beta not a number", _with(_BN, {"beta": [0, "x"]}), "layers[0].beta[1]", ""),
    ("negative epsilon", _with(_BN, {"epsilon": -0.1}), "layers[0].epsilon", "ε ≥ 0"),
    ("unknown batchnorm key", _with(_BN, {"momentum": 0.1}), "layers[0].momentum", ""),
    ("batchnorm over a map", {"inputs": [[[1, 2], [3, 4]], [[0, 1], [1, 0]]], "targets": [[0], [1]],
                              "layers": [{"type": "conv2d", "kernels": [[1]]}, {"type": "batchnorm"}]},
     "layers[1].type", "put a flatten before it"),
    ("zero variance without epsilon", _with(_BN, {"epsilon": 0}, inputs=[[1, 2], [1, 4]]), "layers[0].epsilon",
     "no finite solution"),
    ("mask missing", _with(_DROP, {"mask": None}), "layers[0].mask", "missing"),
    ("mask entry not 0 or 1", _with(_DROP, {"mask": [1, 0.5]}), "layers[0].mask[1]", "expected 0 (dropped) or 1"),
    ("mask too long", _with(_DROP, {"mask": [1, 0, 1]}), "layers[0].mask", "the layer below gives 2"),
    ("mask rows not one per example", _with(_DROP, {"mask": [[1, 0], [0, 1], [1, 1]]}), "layers[0].mask",
     "one row per example (2), got 3"),
    ("p of 1", _with(_DROP, {"p": 1}), "layers[0].p", "0 ≤ p < 1"),
    ("p negative", _with(_DROP, {"p": -0.5}), "layers[0].p", "0 ≤ p < 1"),
    ("unknown dropout key", _with(_DROP, {"rate": 0.5}), "layers[0].rate", ""),
]


@pytest.mark.parametrize(("spec", "field", "expected"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_batchnorm_and_dropout_fields_get_one_clear_line(tmp_path, spec, field, expected):
    if spec["layers"][0].get("mask", 0) is None:
        del spec["layers"][0]["mask"]
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, ["solve", str(path), "-o", str(out / "solution.md")])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: {field}"), result.stderr
    assert expected in lines[0], lines[0]
    assert list(out.iterdir()) == []


# --- generate --from ---------------------------------------------------------------------------


def _kept(layer: dict) -> dict:
    """A layer's settings: everything but the parameters a variant draws afresh."""
    return {key: value for key, value in layer.items() if key not in ("weights", "biases", "gamma", "beta")}


@pytest.mark.parametrize("example", ["batchnorm_batch3", "dropout_mask"])
def test_generate_from_keeps_the_layers_and_draws_new_numbers(example):
    given = read_document(EXAMPLES / f"{example}.yaml")  # NOTE: as the package reads it (0.00001 a Decimal)
    specs = draw_specs(make_plan(structure=EXAMPLES / f"{example}.yaml", count=4, seed=1))
    assert len({json.dumps(spec, default=str) for spec in specs}) == 4
    for spec in specs:
        assert [_kept(layer) for layer in spec["layers"]] == [_kept(layer) for layer in given["layers"]]
        assert spec["inputs"] != given["inputs"]
        solution = solve(spec)  # a valid spec, worth solving: some gradient is not 0, no unit constant over the batch
        values = solution.values[0]
        assert any(values[gradient] != 0 for gradient in solution.derivation.gradients)
        assert all(value != 0 for name, value in solution.quantities(exact=True).items() if name.startswith("var"))
    assert specs == draw_specs(make_plan(structure=EXAMPLES / f"{example}.yaml", count=4, seed=1))


def test_generate_from_the_batch_norm_example_writes_the_same_files_twice(tmp_path):
    for folder in ("one", "two"):
        result = CliRunner().invoke(main, ["generate", "--from", str(EXAMPLES / "batchnorm_batch3.yaml"), "--count",
                                           "2", "--seed", "5", "-o", str(tmp_path / folder)])
        assert result.exit_code == 0, result.output
    files = sorted(path.relative_to(tmp_path / "one") for path in (tmp_path / "one").rglob("*") if path.is_file())
    assert Path("variant-1/problem.md") in files and Path("answers.md") in files
    for path in files:
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes()
    problem = (tmp_path / "one" / "variant-1" / "problem.md").read_text(encoding="utf-8")
    assert r"$\gamma^{[2]}$" in problem and r"\frac{\partial J}{\partial \gamma_{1}^{[2]}}" in problem


def test_derive_writes_batch_norm_s_general_formulas_over_the_whole_batch():
    """derive keeps the batch (μ and σ² read every example) and writes each step's own formula."""
    result = CliRunner().invoke(main, ["derive", str(EXAMPLES / "batchnorm_batch3.yaml"), "--format", "txt"])
    assert result.exit_code == 0, result.output
    assert "(z[1]₁⁽¹⁾ + z[1]₁⁽²⁾ + z[1]₁⁽³⁾)/3" in result.output
    assert "∂J/∂σ²[2]₁ = ∂J/∂σ²[2]₁|x̂[2]₁⁽¹⁾ + ∂J/∂σ²[2]₁|x̂[2]₁⁽²⁾" in result.output


def test_a_batch_of_120_is_normalised_whatever_the_formulas_arity():
    """μ and σ² read all 120 examples; the mean of x̂² is σ²/(σ² + ε), as the definition gives."""
    values = [(3 * k) % 11 - 5 for k in range(120)]
    spec = {"inputs": [[value] for value in values], "targets": [[0]] * 120, "loss": "mse",
            "layers": [{"type": "batchnorm"}, {"activation": "identity", "weights": [[1]]}]}
    mean = sympy.Rational(sum(values), 120)
    variance = sum((value - mean) ** 2 for value in values) / 120
    expected = variance / (variance + sympy.Rational(1, 10**5))
    assert abs(solve(spec).exact_loss - expected) < sympy.Float("1e-40")
