"""Both compile hooks together: an rnn (the sequence hook) under batch norm and dropout (the batch hook).

An rnn with ``output: last`` gives one vector per sequence, so a batch norm above it normalises the last
states over the batch and a dropout masks them; the gradients flow back through every time step. Checked
against a direct forward pass written here in plain mpmath loops (nothing from the package) and central
differences. Above an rnn with ``output: all`` (one vector per time step) a layer that reads the whole batch
at once is refused, one line naming the field.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import mpmath
import pytest
import sympy
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from specs import nice_numbers

from backprop_derive import solve
from backprop_derive.cli import main

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
DIGITS, STEP = 50, mpmath.mpf("1e-20")
#: Central differences at 50 digits with h = 1e-20 are good to ~30 digits; the package's values to 100.
RELATIVE = mpmath.mpf("1e-18")
#: PyTorch's BatchNorm1d ε.
EPSILON = Fraction(1, 10**5)


def _number(raw) -> Fraction:
    return Fraction(str(raw)) if not isinstance(raw, Fraction) else raw


@st.composite
def stacked_specs(draw):
    """rnn (output: last) → batch norm and/or dropout → dense (identity), a batch of 2 or 3 sequences."""
    inputs, units, length, examples = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                                       draw(st.integers(2, 3)))
    vector = lambda size: st.lists(nice_numbers, min_size=size, max_size=size)  # noqa: E731
    rnn = {"type": "rnn", "input_weights": [draw(vector(inputs)) for _ in range(units)],
           "recurrent_weights": [draw(vector(units)) for _ in range(units)], "output": "last"}
    if draw(st.booleans()):
        rnn["biases"] = draw(vector(units))
    if draw(st.booleans()):
        rnn["initial_state"] = draw(vector(units))
    middle = draw(st.sampled_from([["batchnorm"], ["dropout"], ["batchnorm", "dropout"], ["dropout", "batchnorm"]]))
    layers = [rnn]
    for kind in middle:
        if kind == "batchnorm":
            layer = {"type": "batchnorm"}
            for key in ("gamma", "beta"):
                if draw(st.booleans()):
                    layer[key] = draw(vector(units))
            if draw(st.booleans()):
                layer["epsilon"] = draw(st.sampled_from([Decimal("0.001"), Decimal("0.1"), "1/4"]))
        else:
            row = st.lists(st.sampled_from([0, 1]), min_size=units, max_size=units)
            mask = draw(st.lists(row, min_size=examples, max_size=examples) if draw(st.booleans()) else row)
            layer = {"type": "dropout", "mask": mask}
            if draw(st.booleans()):
                layer["p"] = draw(st.sampled_from([Decimal("0.5"), Decimal("0.25"), "1/3"]))
        layers.append(layer)
    outputs = draw(st.integers(1, 2))
    layers.append({"activation": "identity", "weights": [draw(vector(units)) for _ in range(outputs)],
                   "biases": draw(vector(outputs))})
    return {"inputs": [[draw(vector(inputs)) for _ in range(length)] for _ in range(examples)],
            "targets": [draw(vector(outputs)) for _ in range(examples)], "layers": layers}


# --- the direct forward pass --------------------------------------------------------------------


def _parameters(spec: dict) -> dict[str, mpmath.mpf]:
    """Every parameter and input by the package's ASCII name, as an mpf."""
    found: dict[str, mpmath.mpf] = {}
    for depth, layer in enumerate(spec["layers"]):
        number = depth + 1
        if layer.get("type") == "rnn":
            for letter, key in (("U", "input_weights"), ("W", "recurrent_weights")):
                for j, row in enumerate(layer[key]):
                    for i, value in enumerate(row):
                        found[f"{letter}[{number}]_{j + 1}{i + 1}"] = _number(value)
            for j, value in enumerate(layer.get("biases", [])):
                found[f"b[{number}]_{j + 1}"] = _number(value)
        elif layer.get("type") == "batchnorm":
            units = len(spec["layers"][0]["recurrent_weights"])
            for key, default in (("gamma", 1), ("beta", 0)):
                for j, value in enumerate(layer.get(key, [default] * units)):
                    found[f"{key}[{number}]_{j + 1}"] = _number(value)
        elif "weights" in layer:
            for j, row in enumerate(layer["weights"]):
                for i, value in enumerate(row):
                    found[f"W[{number}]_{j + 1}{i + 1}"] = _number(value)
            for j, value in enumerate(layer["biases"]):
                found[f"b[{number}]_{j + 1}"] = _number(value)
    for n, sequence in enumerate(spec["inputs"]):
        for t, row in enumerate(sequence):
            for i, value in enumerate(row):
                index = f"{t + 1}" if len(row) == 1 else f"{t + 1}{i + 1}"
                found[f"x{index}({n + 1})"] = _number(value)
    return {name: mpmath.mpf(value.numerator) / value.denominator for name, value in found.items()}


def cost(spec: dict, theta: dict[str, mpmath.mpf]) -> tuple[mpmath.mpf, float]:
    """J (half squared error, the mean over the batch) and the least |σ² + ε| (how far from undefined)."""
    first = spec["layers"][0]
    units, examples = len(first["recurrent_weights"]), len(spec["inputs"])
    initial = [mpmath.mpf(_number(v).numerator) / _number(v).denominator for v in first.get("initial_state", [])] \
        or [mpmath.mpf(0)] * units
    rows = []
    for n, sequence in enumerate(spec["inputs"]):
        h = list(initial)
        for t, row in enumerate(sequence):
            x = [theta[f"x{t + 1 if len(row) == 1 else f'{t + 1}{i + 1}'}({n + 1})"] for i in range(len(row))]
            h = [mpmath.tanh(mpmath.fsum(theta[f"U[1]_{j + 1}{i + 1}"] * x[i] for i in range(len(x)))
                             + mpmath.fsum(theta[f"W[1]_{j + 1}{k + 1}"] * h[k] for k in range(units))
                             + theta.get(f"b[1]_{j + 1}", 0)) for j in range(units)]
        rows.append(h)
    least = mpmath.inf
    for depth, layer in enumerate(spec["layers"][1:], start=1):
        number = depth + 1
        if layer.get("type") == "batchnorm":
            epsilon = _number(layer.get("epsilon", EPSILON))
            epsilon = mpmath.mpf(epsilon.numerator) / epsilon.denominator
            for j in range(units):
                column = [row[j] for row in rows]
                mean = mpmath.fsum(column) / examples
                variance = mpmath.fsum((v - mean) ** 2 for v in column) / examples
                least = min(least, variance + epsilon)
                for row in rows:
                    row[j] = theta[f"gamma[{number}]_{j + 1}"] * (row[j] - mean) / mpmath.sqrt(variance + epsilon) \
                        + theta[f"beta[{number}]_{j + 1}"]
        elif layer.get("type") == "dropout":
            p = _number(layer.get("p", Fraction(1, 2)))
            keep = 1 - mpmath.mpf(p.numerator) / p.denominator
            masks = layer["mask"] if isinstance(layer["mask"][0], list) else [layer["mask"]] * examples
            rows = [[m * v / keep for m, v in zip(mask, row)] for mask, row in zip(masks, rows)]
        else:
            rows = [[mpmath.fsum(theta[f"W[{number}]_{j + 1}{i + 1}"] * row[i] for i in range(len(row)))
                     + theta[f"b[{number}]_{j + 1}"] for j in range(len(layer["weights"]))] for row in rows]
    losses = [mpmath.fsum((y - _number(t).numerator / mpmath.mpf(_number(t).denominator)) ** 2
                          for y, t in zip(row, target)) / 2 for row, target in zip(rows, spec["targets"])]
    return mpmath.fsum(losses) / examples, least


@settings(max_examples=15, **SETTINGS)
@given(stacked_specs())
def test_an_rnn_under_batch_norm_and_dropout_matches_central_differences(spec):
    with mpmath.workdps(DIGITS):
        theta = _parameters(spec)
        expected_cost, least = cost(spec, theta)
        assume(least > mpmath.mpf("1e-6"))  # NOTE: σ² + ε near 0: the differences are no derivative there
        quantities = solve(spec).quantities(exact=True)
        got = lambda name: mpmath.mpf(str(sympy.N(quantities[name], DIGITS)))  # noqa: E731
        assert abs(got("J") - expected_cost) <= RELATIVE * max(1, abs(expected_cost))
        for name in theta:
            shifted = [cost(spec, {**theta, name: theta[name] + sign * STEP})[0] for sign in (1, -1)]
            expected = (shifted[0] - shifted[1]) / (2 * STEP)
            assert abs(got(f"dJ/d{name}") - expected) <= RELATIVE * max(1, abs(expected)), name


def test_the_stacked_network_renders_in_every_format_with_each_hook_in_its_place():
    spec = {"inputs": [[[1], [0.5], [-1]], [[0.5], [-1], [2]], [[-0.5], [0], [1]]],
            "targets": [[0.5], [0.25], [-0.5]], "learning_rate": 0.1,
            "layers": [{"type": "rnn", "input_weights": [[0.5], [-0.25]], "recurrent_weights": [[0.1, 0.4], [-0.2, 0.3]],
                        "biases": [0, 0.1], "output": "last"},
                       {"type": "batchnorm", "gamma": [1, 2], "beta": [0, 0.5]},
                       {"type": "dropout", "mask": [[1, 0], [1, 1], [0, 1]]},
                       {"activation": "identity", "weights": [[1, -0.5]], "biases": [0.1]}]}
    solution = solve(spec)
    for form in ("md", "tex", "txt", "html", "json"):
        assert solution.render(form)
    text = solution.render("md")
    # The batch norm's statistics are one block over the batch; the rnn's backward pass goes step by step.
    assert text.count("#### Layer 2: batchnorm (") == 1 and "#### Layer 1: rnn, step 3, example 3" in text
    assert "#### Layer 1: rnn, the shared parameters" in text


@pytest.mark.parametrize("layer", [{"type": "batchnorm"}, {"type": "dropout", "mask": [1, 0]}])
def test_a_batch_layer_above_every_time_step_is_refused_naming_the_field(tmp_path, layer):
    import yaml

    spec = {"inputs": [[[1], [0.5]], [[0.5], [-1]]], "targets": [[[0.5], [0]], [[0.25], [1]]],
            "layers": [{"type": "rnn", "input_weights": [[0.5], [-0.25]], "recurrent_weights": [[0.1, 0.4], [-0.2, 0.3]],
                        "output": "all"}, layer, {"activation": "identity", "weights": [[1, -0.5]]}]}
    path, out = tmp_path / "spec.yaml", tmp_path / "out.md"
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(main, ["solve", str(path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert f"{path}: layers[1].type: a {layer['type']} layer reads the whole batch at once" in result.output
    assert "output: last" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()
