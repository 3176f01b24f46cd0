"""The ``rnn`` layer kind (SPEC §2.5) against an independent oracle: tests/oracle_rnn.py unrolls the Elman
recurrence in mpmath loops and differentiates by central differences, over hypothesis-drawn sequence lengths,
sizes, batches, activations, losses and layers above.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import mpmath
import oracle_rnn
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracle import DIGITS, mp
from specs import LOSSES, SQUARED_LOSSES, activations, learning_rates, nice_numbers, probabilities

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
#: Central differences need every kinked activation this far from its kink, and log-losses this far from log 0.
KINK_MARGIN = mpmath.mpf("1e-20")
SATURATION_MARGIN = mpmath.mpf("1e-12")


# --- the strategies ----------------------------------------------------------------------------


def _matrix(rows: int, columns: int):
    return st.lists(st.lists(nice_numbers, min_size=columns, max_size=columns), min_size=rows, max_size=rows)


def _vector(size: int):
    return st.lists(nice_numbers, min_size=size, max_size=size)


@st.composite
def rnn_layers(draw, inputs: int, hidden: int, output: str, exact: bool = False) -> dict:
    """An rnn layer: ``inputs`` → ``hidden`` units, each optional field drawn or left to its default."""
    layer = {"type": "rnn", "input_weights": draw(_matrix(hidden, inputs)),
             "recurrent_weights": draw(_matrix(hidden, hidden))}
    if exact or draw(st.booleans()):
        layer["activation"] = draw(activations(exact=exact)) if exact or draw(st.booleans()) else "tanh"
    if draw(st.booleans()):
        layer["biases"] = draw(_vector(hidden))
    if draw(st.booleans()):
        layer["initial_state"] = draw(_vector(hidden))
    if output == "last" or draw(st.booleans()):
        layer["output"] = output
    return layer


@st.composite
def rnn_specs(draw, exact: bool = False, output: str | None = None, loss: str | None = None,
              stacked: bool | None = None) -> dict:
    """A spec whose first layer is an rnn: sequences of 1–4 steps of 1–3 numbers, 1–3 hidden units, a second
    rnn on top now and then, 0–2 dense layers above, a batch of 1–3 sequences, any loss."""
    loss = loss or draw(st.sampled_from(SQUARED_LOSSES if exact else LOSSES))
    output = output or draw(st.sampled_from(["all", "last"]))
    stacked = draw(st.booleans()) if stacked is None else stacked
    sizes = [draw(st.integers(1, 3)) for _ in range(3)]
    layers = [draw(rnn_layers(sizes[0], sizes[1], "all" if stacked else output, exact))]
    if stacked:
        layers.append(draw(rnn_layers(sizes[1], sizes[2], output, exact)))
    width = sizes[len(layers)]
    # NOTE: a log-loss needs outputs in (0, 1): a sigmoid or softmax layer on top.
    dense = draw(st.integers(1 if loss in ("binary_cross_entropy", "cross_entropy") else 0, 2))
    for position in range(dense):
        units = draw(st.integers(1, 3))
        top = position == dense - 1
        activation = ({"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}.get(loss) if top else None) \
            or draw(activations(exact=exact, softmax=top and not exact))
        layer = {"activation": activation, "weights": draw(_matrix(units, width))}
        if draw(st.booleans()):
            layer["biases"] = draw(_vector(units) | nice_numbers)
        layers.append(layer)
        width = units
    length, examples = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    batched = examples > 1 or draw(st.booleans())
    sequences = [[draw(_vector(sizes[0])) for _ in range(length)] for _ in range(examples)]
    values = probabilities if loss in ("binary_cross_entropy", "cross_entropy") else nice_numbers
    row = st.lists(values, min_size=width, max_size=width)
    targets = [[draw(row) for _ in range(length)] if output == "all" else draw(row) for _ in range(examples)]
    spec = {"inputs": sequences if batched else sequences[0], "targets": targets if batched else targets[0],
            "layers": layers}
    if loss != "half_squared_error" or draw(st.booleans()):
        spec["loss"] = loss
    rate = draw(st.none() | learning_rates)
    if rate is not None:
        spec["learning_rate"] = rate
    options = {}
    if batched and draw(st.booleans()):
        options["reduction"] = draw(st.sampled_from(["mean", "sum"]))
    if options:
        spec["options"] = options
    return spec


def usable(spec: dict) -> oracle_rnn.Model:
    """The oracle's model of ``spec``, skipping draws where central differences are no derivative."""
    model = oracle_rnn.read(spec)
    assume(oracle_rnn.kink_distance(model) > KINK_MARGIN)
    assume(oracle_rnn.saturation(model) > SATURATION_MARGIN)
    return model


# --- the oracle checks itself against the published BPTT formulas --------------------------------


def bptt(spec: dict) -> dict:
    """The textbook BPTT recursion for one tanh rnn (output: all) under an identity dense layer, ½ squared error:
    δ_t = (1 − h_t²) ⊙ (V^T (y_t − t_t) + W_hh^T δ_{t+1}); ∂L/∂W_ih = Σ_t δ_t x_t^T, ∂L/∂W_hh = Σ_t δ_t h_{t−1}^T,
    ∂L/∂b = Σ_t δ_t, ∂L/∂V = Σ_t (y_t − t_t) h_t^T."""
    rnn, top = spec["layers"]
    with mpmath.workdps(DIGITS):
        u = mpmath.matrix([[mp(oracle_rnn.number(w)) for w in row] for row in rnn["input_weights"]])
        w = mpmath.matrix([[mp(oracle_rnn.number(w)) for w in row] for row in rnn["recurrent_weights"]])
        b = mpmath.matrix([mp(oracle_rnn.number(v)) for v in rnn["biases"]])
        v = mpmath.matrix([[mp(oracle_rnn.number(w)) for w in row] for row in top["weights"]])
        xs = [mpmath.matrix([mp(oracle_rnn.number(x)) for x in step]) for step in spec["inputs"]]
        ts = [mpmath.matrix([mp(oracle_rnn.number(x)) for x in step]) for step in spec["targets"]]
        hs = [mpmath.zeros(w.rows, 1)]
        for x in xs:
            z = u * x + w * hs[-1] + b
            hs.append(mpmath.matrix([mpmath.tanh(entry) for entry in z]))
        errors = [v * h - t for h, t in zip(hs[1:], ts)]
        grads = {"input_weights": mpmath.zeros(u.rows, u.cols), "recurrent_weights": mpmath.zeros(w.rows, w.cols),
                 "biases": mpmath.zeros(b.rows, 1), "weights": mpmath.zeros(v.rows, v.cols)}
        after = mpmath.zeros(w.rows, 1)
        for t in reversed(range(len(xs))):
            upstream = v.T * errors[t] + w.T * after
            delta = mpmath.matrix([(1 - hs[t + 1][j] ** 2) * upstream[j] for j in range(w.rows)])
            grads["input_weights"] += delta * xs[t].T
            grads["recurrent_weights"] += delta * hs[t].T
            grads["biases"] += delta
            grads["weights"] += errors[t] * hs[t + 1].T
            after = delta
        return grads


@settings(max_examples=15, **SETTINGS)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.data())
def test_the_oracle_agrees_with_the_published_bptt_recursion(inputs: int, hidden: int, length: int, data) -> None:
    spec = {"inputs": [data.draw(_vector(inputs)) for _ in range(length)],
            "targets": [data.draw(_vector(1)) for _ in range(length)],
            "layers": [{"type": "rnn", "input_weights": data.draw(_matrix(hidden, inputs)),
                        "recurrent_weights": data.draw(_matrix(hidden, hidden)), "biases": data.draw(_vector(hidden)),
                        "output": "all"},
                       {"activation": "identity", "weights": data.draw(_matrix(1, hidden))}]}
    expected = bptt(spec)
    for (_, depth, key, *index), value in oracle_rnn.gradients(oracle_rnn.read(spec)).items():
        entry = expected[key][index[0], index[1] if len(index) > 1 else 0]
        with mpmath.workdps(DIGITS):
            assert abs(value - entry) < mpmath.mpf("1e-30") * max(1, abs(entry)), (depth, key, index)


def test_the_oracle_on_a_two_step_exercise_worked_by_hand() -> None:
    # x = (1, 2), W_x = 0.5, W_h = 0.1, V = 2, targets (1, 2): h_1 = tanh 0.5, h_2 = tanh(1 + 0.1 h_1).
    spec = {"inputs": [[1], [2]], "targets": [[1], [2]],
            "layers": [{"type": "rnn", "input_weights": [[Decimal("0.5")]], "recurrent_weights": [[Decimal("0.1")]]},
                       {"activation": "identity", "weights": [[2]]}]}
    model = oracle_rnn.read(spec)
    with mpmath.workdps(DIGITS):
        h1 = mpmath.tanh(mpmath.mpf("0.5"))
        h2 = mpmath.tanh(2 * mpmath.mpf("0.5") + mpmath.mpf("0.1") * h1)
        delta2 = (2 * h2 - 2) * 2 * (1 - h2**2)
        delta1 = ((2 * h1 - 1) * 2 + delta2 * mpmath.mpf("0.1")) * (1 - h1**2)
        gradients = oracle_rnn.gradients(model)
        assert abs(gradients[("layers", 0, "recurrent_weights", 0, 0)] - (delta2 * h1 + delta1 * 0)) < 1e-40
        assert abs(gradients[("layers", 0, "input_weights", 0, 0)] - (delta2 * 2 + delta1 * 1)) < 1e-40
        # Truncated to one step, h_1 sends nothing back from step 2: δ_1 keeps only its own loss's part.
        truncated = oracle_rnn.truncated_gradients(model)
        assert abs(truncated[("layers", 0, "input_weights", 0, 0)]
                   - (delta2 * 2 + (2 * h1 - 1) * 2 * (1 - h1**2))) < 1e-40
        assert abs(oracle_rnn.forward(model).cost - ((2 * h1 - 1) ** 2 + (2 * h2 - 2) ** 2) / 2) < 1e-60


@pytest.mark.parametrize("output", ["all", "last"])
def test_the_strategies_draw_specs_the_oracle_reads(output: str) -> None:
    @settings(max_examples=10, **SETTINGS)
    @given(rnn_specs(output=output))
    def check(spec: dict) -> None:
        model = oracle_rnn.read(spec)
        assert model.layers[0].kind == "rnn"
        assert oracle_rnn.forward(model).cost is not None

    check()



# --- the package against the oracle ---------------------------------------------------------------

#: JSON carries the double nearest each exact value: agreement to a few units of the last place.
JSON_RELATIVE = mpmath.mpf("1e-14")


def _flatten(tree, prefix: tuple) -> dict[tuple, float]:
    """A JSON tree of numbers as {location: number}, the location its path of keys and indexes."""
    if isinstance(tree, dict):
        return {location: value for key, branch in tree.items() for location, value in _flatten(branch, prefix + (key,)).items()}
    if isinstance(tree, list):
        return {location: value for index, branch in enumerate(tree)
                for location, value in _flatten(branch, prefix + (index,)).items()}
    return {prefix: tree}


def _json(spec: dict) -> dict:
    import json

    from backprop_derive import solve

    return json.loads(solve(spec).render("json"))


def _close(got: float, expected, scale, what: str) -> None:
    with mpmath.workdps(DIGITS):
        assert abs(mpmath.mpf(got) - expected) <= JSON_RELATIVE * max(abs(expected), scale), (
            f"{what}: package {got!r}, oracle {mpmath.nstr(expected, 20)}")


def _batched(spec: dict) -> bool:
    return isinstance(spec["inputs"][0][0], list)


def check_against_oracle(spec: dict, model: oracle_rnn.Model) -> None:
    """The package's cost, gradients and updated parameters (JSON, in the spec's shapes) against the oracle's."""
    result = _json(spec)
    expected = oracle_rnn.gradients(model)
    cost = oracle_rnn.forward(model).cost
    scale = max([mpmath.mpf(1), abs(cost)] + [abs(g) for g in expected.values()])
    _close(result["loss"], cost, scale, "the cost J")
    # Every hidden state h_t of every rnn layer and example, by its name (h[1]_21: step 2, unit 1).
    for example, states in enumerate(oracle_rnn.forward(model).states):
        for depth, history in states.items():
            activation = spec["layers"][depth].get("activation", "tanh")
            if (activation if isinstance(activation, str) else activation.get("name")) in ("identity", "linear"):
                continue  # NOTE: h_t is z_t itself, named so
            for t, state in enumerate(history):
                for j, value in enumerate(state):
                    index = f"{t + 1}" if len(state) == 1 else f"{t + 1}{j + 1}"
                    key = f"h[{depth + 1}]_{index}" + (f"({example + 1})" if _batched(spec) else "")
                    _close(result["quantities"][key], value, scale, key)
    gradients = _flatten(result["gradients"]["layers"], ("layers",))
    assert set(gradients) == set(expected), "every parameter has one gradient, in the spec's shape"
    for location, value in gradients.items():
        _close(value, expected[location], scale, f"dJ/d{location}")
    inputs = result["gradients"]["inputs"]
    by_example = inputs if len(model.examples) > 1 or _batched(spec) else [inputs]
    for (example, t, i), value in oracle_rnn.input_gradients(model).items():
        _close(by_example[example][t][i], value, scale, f"dJ/dx, example {example}, step {t}, entry {i}")
    if model.learning_rate is None:
        assert "updated" not in result
        return
    new = oracle_rnn.updated(model, expected)
    updated = _flatten(result["updated"]["layers"], ("layers",))
    assert set(updated) == set(new)
    for location, value in updated.items():
        _close(value, new[location], scale, f"{location} updated")


@settings(max_examples=25, **SETTINGS)
@given(rnn_specs())
def test_rnn_networks_match_the_oracle(spec: dict) -> None:
    check_against_oracle(spec, usable(spec))


@pytest.mark.parametrize("output", ["all", "last"])
def test_each_output_mode_matches_the_oracle(output: str) -> None:
    @settings(max_examples=8, **SETTINGS)
    @given(rnn_specs(output=output))
    def check(spec: dict) -> None:
        check_against_oracle(spec, usable(spec))

    check()


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_over_sequences_matches_the_oracle(loss: str) -> None:
    @settings(max_examples=5, **SETTINGS)
    @given(rnn_specs(loss=loss))
    def check(spec: dict) -> None:
        check_against_oracle(spec, usable(spec))

    check()


# --- check: missing_time_step ---------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rnn_bptt_3_steps.yaml"


def _ascii(location: tuple) -> str:
    """The quantity name of a parameter's gradient: ("layers", 0, "recurrent_weights", 0, 1) → dL/dW[1]_12."""
    _, layer, key, *index = location
    letter = {"input_weights": "U", "recurrent_weights": "W", "weights": "W", "biases": "b"}[key]
    return f"dL/d{letter}[{layer + 1}]_{''.join(str(i + 1) for i in index)}"


def _written(value) -> Decimal:
    with mpmath.workdps(DIGITS):
        return Decimal(mpmath.nstr(value, 6))


@pytest.mark.parametrize("output", ["all", "last"])
def test_bptt_cut_to_one_step_is_diagnosed_as_missing_time_step(output: str) -> None:
    import yaml

    from backprop_derive import solve
    from backprop_derive.jobs.check import Checker, parse_answers

    spec = yaml.safe_load(EXAMPLE.read_text())
    if output == "last":
        spec["layers"][0]["output"] = "last"
        spec["targets"] = [Decimal("0.5")]
    model = oracle_rnn.read(spec)
    truth, cut = oracle_rnn.gradients(model), oracle_rnn.truncated_gradients(model)
    # The student's sheet: every shared weight's gradient as BPTT cut to one step gives it.
    sheet = {_ascii(location): _written(cut[location]) for location in truth
             if location[2] != "weights" and location[:2] == ("layers", 0)
             and abs(cut[location] - truth[location]) > mpmath.mpf("1e-6")}
    assert sheet, "the cut changes some gradient"
    marks = Checker(solve(spec)).mark(parse_answers(sheet)).marks
    assert {mark.name: (mark.verdict, mark.mistake) for mark in marks} == {
        name: ("wrong", "missing_time_step") for name in sheet}
    assert all("one step" in mark.explanation for mark in marks)


def test_the_true_gradients_are_right_and_the_example_is_checked_without_a_mistake() -> None:
    from backprop_derive import solve
    from backprop_derive.jobs.check import Checker, parse_answers

    model = oracle_rnn.read(__import__("yaml").safe_load(EXAMPLE.read_text()))
    sheet = {_ascii(location): _written(value) for location, value in oracle_rnn.gradients(model).items()}
    marks = Checker(solve(EXAMPLE)).mark(parse_answers(sheet)).marks
    assert {mark.verdict for mark in marks} == {"right"}


# --- generate --from ------------------------------------------------------------------------------


def test_generate_from_the_rnn_example_keeps_its_structure_with_new_numbers(tmp_path) -> None:
    import json

    import yaml
    from click.testing import CliRunner

    from backprop_derive import solve
    from backprop_derive.cli import main
    from backprop_derive.jobs.generate import key_values

    def generate(folder: Path) -> None:
        result = CliRunner().invoke(main, ["generate", "--from", str(EXAMPLE), "--count", "2", "--seed", "3",
                                           "-o", str(folder)])
        assert result.exit_code == 0, result.output

    generate(tmp_path / "a")
    generate(tmp_path / "b")
    original = yaml.safe_load(EXAMPLE.read_text())
    for index in (1, 2):
        folder = tmp_path / "a" / f"variant-{index}"
        assert (folder / "spec.yaml").read_bytes() == (tmp_path / "b" / f"variant-{index}" / "spec.yaml").read_bytes()
        spec = yaml.safe_load((folder / "spec.yaml").read_text())
        # The structure is kept (kinds, shapes, settings); the parameters, inputs and targets are drawn anew.
        assert [layer.get("type", "dense") for layer in spec["layers"]] == ["rnn", "dense"]
        rnn = spec["layers"][0]
        assert {key: rnn[key] for key in ("activation", "initial_state", "output")} == {
            key: original["layers"][0][key] for key in ("activation", "initial_state", "output")}
        assert (len(rnn["input_weights"]), len(rnn["recurrent_weights"]), len(spec["inputs"])) == (2, 2, 3)
        assert rnn["recurrent_weights"] != original["layers"][0]["recurrent_weights"]
        # The answer key is what solve prints for the variant's spec.
        solution = solve(folder / "spec.yaml")
        printed = json.loads(solution.render("json"))["quantities"]
        assert set(key_values(solution)) <= set(printed)
        problem = (folder / "problem.md").read_text()
        assert "\\partial L}{\\partial W_{12}^{[1]}}" in problem and "$U^{[1]}$" in problem
        assert str(printed["L"])[:6] not in problem


# --- bad input --------------------------------------------------------------------------------------

RNN = """\
inputs: [[1, 0], [0.5, 1], [-1, 2]]
targets: [[0.5], [0.25], [-0.5]]
layers:
  - type: rnn
    input_weights: [[0.5, 1], [-0.25, 0]]
    recurrent_weights: [[0.1, 0.4], [-0.2, 0.3]]
    biases: [0, 0.1]
    initial_state: [0, 0]
    output: all
  - activation: identity
    weights: [[1, -0.5]]
"""


def rnn(old: str, new: str) -> str:
    assert old in RNN, old
    return RNN.replace(old, new, 1)


@pytest.mark.parametrize(("text", "path", "message"), [
    (rnn("input_weights: [[0.5, 1], [-0.25, 0]]", "input_weights: [[0.5], [-0.25]]"), "layers[0].input_weights[0]",
     "each time step has 2"),
    (rnn("[[0.1, 0.4], [-0.2, 0.3]]", "[[0.1, 0.4]]"), "layers[0].recurrent_weights", "expected a 2×2 matrix"),
    (rnn("biases: [0, 0.1]", "biases: [0]"), "layers[0].biases", "expected a list of 2 numbers, one per unit"),
    (rnn("initial_state: [0, 0]", "initial_state: [0, 0, 1]"), "layers[0].initial_state", "h_0 of each unit"),
    (rnn("output: all", "output: every"), "layers[0].output", "expected all"),
    (rnn("type: rnn", "type: rnn\n    activation: softmax"), "layers[0].activation", "for dense layers only"),
    (rnn("output: all", "outputs: all"), "layers[0].outputs", "unknown key"),
    (rnn("    input_weights: [[0.5, 1], [-0.25, 0]]\n", ""), "layers[0].input_weights", "missing"),
    (rnn("targets: [[0.5], [0.25], [-0.5]]", "targets: [[0.5], [0.25]]"), "targets",
     "expected 3 rows (one per time step) of 1 number"),
    (rnn("targets: [[0.5], [0.25], [-0.5]]", "targets: [0.5]"), "targets[0]", "one per time step"),
    (rnn("inputs: [[1, 0], [0.5, 1], [-1, 2]]", "inputs: [[1, 0], [0.5], [-1, 2]]"), "inputs[1]",
     "every row as long as the first"),
    (rnn("output: all", "output: last") + "  - type: rnn\n    input_weights: [[1]]\n    recurrent_weights: [[1]]\n",
     "layers[2].type", "an rnn reads a sequence"),
    (rnn("targets: [[0.5], [0.25], [-0.5]]", "target_classes: [0, 0, 0]"), "target_classes", "one row per step"),
])
def test_a_bad_rnn_field_is_one_line_naming_the_field_and_exit_2(tmp_path, text: str, path: str,
                                                                 message: str) -> None:
    from click.testing import CliRunner

    from backprop_derive.cli import main

    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out = tmp_path / "out.md"
    result = CliRunner().invoke(main, ["solve", str(spec), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert f"{spec}: {path}:" in result.output and message in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_the_valid_rnn_spec_of_the_bad_input_cases_solves(tmp_path) -> None:
    from backprop_derive import solve

    spec = tmp_path / "spec.yaml"
    spec.write_text(RNN)
    assert solve(spec).render("json")


def test_the_readme_spec_with_every_default_is_the_example() -> None:
    import yaml

    from backprop_derive import solve

    readme = (EXAMPLE.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("(`type: rnn`)", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    # tanh, h_0 = 0 and output: all are the defaults the example spells out.
    assert solve(yaml.safe_load(block)).exact_loss == solve(EXAMPLE).exact_loss


def test_an_activation_equal_to_the_identity_is_still_a_step_of_its_own() -> None:
    """leaky_relu with α = 1 is x, yet the rnn's h_t = lrelu(z_t) is a quantity of its own (it was dropped)."""
    spec = {"inputs": [[1], [2]], "targets": [[1], [1]], "loss": "cross_entropy",
            "layers": [{"type": "rnn", "input_weights": [[0]], "recurrent_weights": [[0.5]], "biases": [0.1],
                        "activation": {"name": "leaky_relu", "alpha": 1}},
                       {"activation": "sigmoid", "weights": [[1]], "biases": [0]}]}
    check_against_oracle(spec, usable(spec))
