"""Layered exercises (SPEC §2.5): every kind's gradients against an independent oracle, ties, JSON shapes,
check's mistakes, bad input.

The oracle is a direct forward pass written here with mpmath over the spec's nested lists (PyTorch's
conventions: cross-correlation, zero padding, windows that do not fit dropped), differentiated by
central differences at 30 digits (h = 1e-12: the error, of order h², is far below the 1e-9 compared).
"""

from __future__ import annotations

import copy
import json
import math

import mpmath
import pytest
import sympy
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.core.operations import ARGUMENTS, weighted_sum
from backprop_derive.jobs.check import check, parse_answers
from backprop_derive.jobs.mistakes import variants

mpmath.mp.dps = 30
STEP = mpmath.mpf("1e-12")
#: How many entries of each parameter (and of the inputs) are checked by finite differences, evenly spread.
CHECKED = 8

# --- the oracle --------------------------------------------------------------------------------


def _mp(value) -> mpmath.mpf:
    return mpmath.mpf(str(value))


def _depth(raw) -> int:
    level = 0
    while isinstance(raw, list):
        raw, level = raw[0], level + 1
    return level


def _activation(name: str, values: list) -> list:
    if name == "softmax":
        exps = [mpmath.exp(value) for value in values]
        return [item / sum(exps) for item in exps]
    function = {"identity": lambda v: v, "tanh": mpmath.tanh, "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)),
                "relu": lambda v: max(mpmath.mpf(0), v)}[name]
    return [function(value) for value in values]


def _map_activation(name: str, maps):
    """An element-wise activation over nested lists."""
    if isinstance(maps, list):
        return [_map_activation(name, item) for item in maps]
    return _activation(name, [maps])[0]


def _conv(layer: dict, x, axes: int):
    """PyTorch's ConvNd on one example x (channels × spatial…), as plain loops."""
    kernels = layer["kernels"]
    if _depth(kernels) == axes:
        kernels = [[kernels]]
    biases = layer.get("biases")
    stride, padding = layer.get("stride", 1), layer.get("padding", 0)
    out = []
    for o, kernel in enumerate(kernels):
        bias = _mp(biases[o] if isinstance(biases, list) else biases) if biases is not None else 0
        if axes == 1:
            length, k = len(x[0]), len(kernel[0])
            size = (length + 2 * padding - k) // stride + 1
            row = []
            for i in range(size):
                total = bias
                for c in range(len(x)):
                    for p in range(k):
                        at = i * stride - padding + p
                        if 0 <= at < length:
                            total += x[c][at] * _mp(kernel[c][p])
                row.append(total)
            out.append(row)
        else:
            height, width = len(x[0]), len(x[0][0])
            kh, kw = len(kernel[0]), len(kernel[0][0])
            rows = []
            for i in range((height + 2 * padding - kh) // stride + 1):
                row = []
                for j in range((width + 2 * padding - kw) // stride + 1):
                    total = bias
                    for c in range(len(x)):
                        for p in range(kh):
                            for q in range(kw):
                                r, s = i * stride - padding + p, j * stride - padding + q
                                if 0 <= r < height and 0 <= s < width:
                                    total += x[c][r][s] * _mp(kernel[c][p][q])
                    row.append(total)
                rows.append(row)
            out.append(rows)
    return _map_activation(layer.get("activation", "identity"), out)


def _pool(layer: dict, x):
    size = layer["size"]
    stride = layer.get("stride", size)
    reduce = max if layer["type"] == "maxpool" else (lambda values: sum(values) / len(values))
    out = []
    for channel in x:
        rows = []
        for i in range((len(channel) - size) // stride + 1):
            rows.append([reduce([channel[i * stride + p][j * stride + q] for p in range(size) for q in range(size)])
                         for j in range((len(channel[0]) - size) // stride + 1)])
        out.append(rows)
    return out


def _flat(x) -> list:
    return [item for part in x for item in _flat(part)] if isinstance(x, list) else [x]


def oracle_loss(spec: dict):
    """The spec's cost J from its numbers, computed here directly."""
    layers = spec["layers"]
    first, kind = layers[0], layers[0].get("type", "dense")
    if kind in ("conv1d", "conv2d"):
        axes = 1 if kind == "conv1d" else 2
        kernels = first["kernels"]
        one_channel = _depth(kernels) == axes or len(kernels[0]) == 1
        one = axes if one_channel else axes + 1
    else:
        one, one_channel = (2, True) if kind in ("maxpool", "avgpool") else (1, False)
    batched = _depth(spec["inputs"]) == one + 1
    batch = spec["inputs"] if batched else [spec["inputs"]]
    targets = spec["targets"] if batched else [spec["targets"]]
    losses = []
    for example, target in zip(batch, targets):
        x = _to_mp(example)
        if one_channel:
            x = [x]
        for layer in layers:
            kind = layer.get("type", "dense")
            if kind in ("conv1d", "conv2d"):
                x = _conv(layer, x, 1 if kind == "conv1d" else 2)
            elif kind in ("maxpool", "avgpool"):
                x = _pool(layer, x)
            elif kind == "flatten":
                x = _flat(x)
            else:
                values = _flat(x)
                biases = layer.get("biases")
                z = [sum(_mp(w) * v for w, v in zip(row, values))
                     + (_mp(biases[j] if isinstance(biases, list) else biases) if biases is not None else 0)
                     for j, row in enumerate(layer["weights"])]
                x = _activation(layer["activation"], z)
        outputs = _flat(x)
        if spec.get("loss", "half_squared_error") == "cross_entropy":
            losses.append(-sum(_mp(t) * mpmath.log(o) for o, t in zip(outputs, target)))
        else:
            losses.append(sum((o - _mp(t)) ** 2 for o, t in zip(outputs, target)) / 2)
    return sum(losses) / len(losses)


def _to_mp(raw):
    return [_to_mp(item) for item in raw] if isinstance(raw, list) else _mp(raw)


def _paths(raw, prefix=()):
    """Every number's index path in a nested list."""
    if isinstance(raw, list):
        for index, item in enumerate(raw):
            yield from _paths(item, prefix + (index,))
    else:
        yield prefix


def _nudged(spec: dict, where: tuple, amount) -> dict:
    changed = copy.deepcopy(spec)
    holder = changed
    for key in where[:-1]:
        holder = holder[key]
    holder[where[-1]] = str(_mp(holder[where[-1]]) + amount)
    return changed


def _spread(paths: list) -> list:
    """At most CHECKED of ``paths``, evenly spread (the first and the last among them)."""
    if len(paths) <= CHECKED:
        return paths
    return [paths[round(index * (len(paths) - 1) / (CHECKED - 1))] for index in range(CHECKED)]


def oracle_gradient(spec: dict, where: tuple) -> mpmath.mpf:
    """∂J/∂(the number at ``where`` in the spec) by central differences."""
    return (oracle_loss(_nudged(spec, where, STEP)) - oracle_loss(_nudged(spec, where, -STEP))) / (2 * STEP)


def assert_matches_oracle(spec: dict) -> None:
    """Every parameter's and input's gradient in solve's JSON equals the oracle's, to 1e-12 relative."""
    solution = solve(copy.deepcopy(spec), written=False)
    data = json.loads(solution.render("json"))
    assert math.isclose(data["loss"], float(oracle_loss(spec)), rel_tol=1e-12, abs_tol=1e-15)
    for index, (layer, shaped) in enumerate(zip(spec["layers"], data["gradients"]["layers"])):
        for key, gradients in shaped.items():
            raw = layer[key]
            if not isinstance(raw, list):
                expected = oracle_gradient(spec, ("layers", index, key))
                assert math.isclose(gradients, float(expected), rel_tol=1e-9, abs_tol=1e-12), (index, key)
                continue
            for path in _spread(list(_paths(raw))):
                got = gradients
                for step in path:
                    got = got[step]
                expected = oracle_gradient(spec, ("layers", index, key, *path))
                assert math.isclose(got, float(expected), rel_tol=1e-9, abs_tol=1e-12), (index, key, path)
    for path in _spread(list(_paths(spec["inputs"]))):
        got = data["gradients"]["inputs"]
        for step in path:
            got = got[step]
        expected = oracle_gradient(spec, ("inputs", *path))
        assert math.isclose(got, float(expected), rel_tol=1e-9, abs_tol=1e-12), ("inputs", path)


# --- hypothesis-drawn exercises ----------------------------------------------------------------

_NUMBERS = st.integers(-9, 9).map(lambda n: str(n / 8 + 1 / 64))  # NOTE: never 0 exactly, never a tie by chance
_SMOOTH = st.sampled_from(["identity", "tanh", "sigmoid"])


def _array(draw, shape):
    if not shape:
        return draw(_NUMBERS)
    return [_array(draw, shape[1:]) for _ in range(shape[0])]


@st.composite
def conv_specs(draw, axes: int):
    channels_in, channels_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    spatial = [draw(st.integers(3, 5)) for _ in range(axes)]
    kernel = [draw(st.integers(1, 3)) for _ in range(axes)]
    padding = draw(st.integers(0, min(kernel) - 1))
    stride = draw(st.integers(1, 2))
    batch = draw(st.integers(1, 2))
    bare = channels_in == 1 and channels_out == 1 and draw(st.booleans())
    example = spatial if channels_in == 1 else [channels_in, *spatial]
    kernels = _array(draw, kernel if bare else [channels_out, channels_in, *kernel])
    out = [(size + 2 * padding - k) // stride + 1 for size, k in zip(spatial, kernel)]
    units = draw(st.integers(1, 2))
    conv = {"type": f"conv{axes}d", "kernels": kernels, "stride": stride, "padding": padding,
            "activation": draw(_SMOOTH)}
    if draw(st.booleans()):
        conv["biases"] = _array(draw, [channels_out])
    inputs = [_array(draw, example) for _ in range(batch)]
    flat = channels_out * math.prod(out)
    return {
        "inputs": inputs if batch > 1 else inputs[0],
        "targets": [_array(draw, [units]) for _ in range(batch)] if batch > 1 else _array(draw, [units]),
        "layers": [conv, {"type": "flatten"},
                   {"type": "dense", "activation": "sigmoid", "weights": _array(draw, [units, flat]),
                    "biases": _array(draw, [units])}],
    }


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_specs(2))
def test_conv2d_gradients_match_the_oracle(spec):
    assert_matches_oracle(spec)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_specs(1))
def test_conv1d_gradients_match_the_oracle(spec):
    assert_matches_oracle(spec)


@st.composite
def pool_specs(draw):
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    size = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3)) if draw(st.booleans()) else size
    height, width = draw(st.integers(size, 5)), draw(st.integers(size, 5))
    # NOTE: distinct entries: a max-pool's gradient is a finite difference's only away from ties.
    values = draw(st.permutations(range(height * width)))
    rows = [[str(values[r * width + c] / 4 - 3) for c in range(width)] for r in range(height)]
    pooled = ((height - size) // stride + 1) * ((width - size) // stride + 1)
    pool = {"type": kind, "size": size} | ({"stride": stride} if stride != size or draw(st.booleans()) else {})
    return {"inputs": rows, "targets": [draw(_NUMBERS)],
            "layers": [pool, {"type": "flatten"},
                       {"type": "dense", "activation": "tanh", "weights": [_array(draw, [pooled])], "biases": ["0.5"]}]}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_specs())
def test_pooling_gradients_match_the_oracle(spec):
    assert_matches_oracle(spec)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_conv_then_pool_then_softmax_match_the_oracle(data):
    channels = data.draw(st.integers(1, 2))
    kernels = [[[[data.draw(_NUMBERS) for _ in range(2)] for _ in range(2)]] for _ in range(channels)]
    rows = [[data.draw(_NUMBERS) for _ in range(5)] for _ in range(5)]
    spec = {"inputs": rows, "targets": [1, 0, 0],
            "layers": [{"type": "conv2d", "kernels": kernels, "biases": [data.draw(_NUMBERS)] * channels,
                        "activation": "tanh"},
                       {"type": "maxpool", "size": 2},
                       {"type": "flatten"},
                       {"type": "dense", "activation": "softmax",
                        "weights": [[data.draw(_NUMBERS) for _ in range(4 * channels)] for _ in range(3)]}],
            "loss": "cross_entropy"}
    maps = _conv(spec["layers"][0], [_to_mp(rows)], 2)
    # NOTE: a window whose maximum is tied has no derivative: finite differences are compared away from ties.
    assume(all(_margin([channel[i + p][j + q] for p in range(2) for q in range(2)]) > 1e-6
               for channel in maps for i in (0, 2) for j in (0, 2)))
    assert_matches_oracle(spec)


def _margin(values: list) -> mpmath.mpf:
    ordered = sorted(values, reverse=True)
    return ordered[0] - ordered[1]


# --- worked cases ------------------------------------------------------------------------------


def test_max_pool_sends_a_tied_windows_gradient_to_its_first_maximal_entry():
    spec = {"inputs": [[1, 3], [3, 2]], "targets": [0], "loss": "half_squared_error",
            "layers": [{"type": "maxpool", "size": 2}, {"type": "flatten"},
                       {"type": "dense", "activation": "identity", "weights": [[2]]}]}
    quantities = solve(spec).quantities()
    # J = (2·3)²/2: ∂J/∂p = 6·2 = 12, routed to x12 (row-major first of the two 3s), not to x21.
    assert (quantities["dL/dx12"], quantities["dL/dx21"], quantities["dL/dx11"], quantities["dL/dx22"]) == (12, 0, 0, 0)


def test_the_exam_kernel_gradient_is_the_correlation_of_the_input_with_the_upstream_map():
    solution = solve("examples/conv_pool_exam.yaml")
    q = solution.quantities(exact=True)
    x = [[q[f"x{i}{j}"] for j in range(1, 5)] for i in range(1, 5)]
    delta = [[q[f"dL/dz[1]_{i}{j}"] for j in range(1, 4)] for i in range(1, 4)]
    for p in range(2):
        for r in range(2):
            correlation = sum(x[i + p][j + r] * delta[i][j] for i in range(3) for j in range(3))
            assert abs(q[f"dL/dK[1]_{p + 1}{r + 1}"] - correlation) < 1e-40
    kernel = [[q["K[1]_11"], q["K[1]_12"]], [q["K[1]_21"], q["K[1]_22"]]]
    for i in range(4):  # the full convolution of the upstream map with the flipped kernel
        for j in range(4):
            full = sum(delta[i - p][j - r] * kernel[p][r] for p in range(2) for r in range(2)
                       if 0 <= i - p < 3 and 0 <= j - r < 3)
            assert abs(q[f"dL/dx{i + 1}{j + 1}"] - full) < 1e-40


def test_json_gradients_and_updates_keep_each_layers_keys_and_shapes_and_paste_back():
    data = json.loads(solve("examples/conv_pool_exam.yaml").render("json"))
    spec = yaml.safe_load(open("examples/conv_pool_exam.yaml", encoding="utf-8"))
    assert [sorted(layer) for layer in data["updated"]["layers"]] == [["biases", "kernels"], [], [], ["biases",
                                                                                                        "weights"]]
    assert len(data["gradients"]["inputs"]) == 4 and len(data["gradients"]["layers"][0]["kernels"]) == 2
    for layer, updated in zip(spec["layers"], data["updated"]["layers"]):
        layer.update(updated)
    stepped = json.loads(solve(spec).render("json"))
    second = json.loads(solve("examples/conv_pool_exam.yaml", steps=2).render("json"))["steps"][1]
    # NOTE: pasted back as doubles, the parameters differ from the carried ones in their 17th digit.
    assert math.isclose(stepped["loss"], second["loss"], rel_tol=1e-12)


def test_every_format_renders_the_exam_with_its_maps_as_matrices():
    solution = solve("examples/conv_pool_exam.yaml")
    assert r"\begin{bmatrix}" in solution.render("tex")
    assert "<mtable>" in solution.render("html")
    assert "⎡" in solution.render("txt")


def test_check_diagnoses_kernel_not_flipped_and_pool_gradient_not_routed():
    spec = {"inputs": [[1, 2, 0], [3, 1, 2], [0, 1, 4]], "targets": [1],
            "layers": [{"type": "conv2d", "kernels": [[1, 2], [-1, 3]], "biases": [0]},
                       {"type": "maxpool", "size": 2},
                       {"type": "flatten"},
                       {"type": "dense", "activation": "identity", "weights": [[2]]}]}
    solution = solve(spec)
    found = {variant.code: variant for variant in variants(solution)}
    assert {"kernel_not_flipped", "pool_gradient_not_routed"} <= set(found)
    for code, prefix in (("kernel_not_flipped", "dL/dx"), ("pool_gradient_not_routed", "dL/dK")):
        wrong, truth = found[code].values, solution.values[0]
        ref = next(ref for ref in truth if solution.notation.ascii(ref).startswith(prefix) and ref.kind == "grad"
                   and abs(wrong[ref] - truth[ref]) > 1e-9)
        report = check(solution, parse_answers({solution.notation.ascii(ref): float(wrong[ref])}))
        assert report.marks[0].mistake == code


@pytest.mark.parametrize("change, path", [
    ({"layers": [{"type": "conv3d"}]}, "layers[0].type"),
    ({"layers": [{"type": "conv2d", "kernels": [[1, 2], [3]]}]}, "layers[0].kernels[1]"),
    ({"layers": [{"type": "conv2d", "kernels": [[1]], "size": 2}]}, "layers[0].size"),
    ({"layers": [{"type": "conv2d", "kernels": [[1]], "stride": 0}]}, "layers[0].stride"),
    ({"layers": [{"type": "conv2d", "kernels": [[1, 1], [1, 1]], "padding": 2}]}, "layers[0].padding"),
    ({"layers": [{"type": "maxpool", "size": 9}]}, "layers[0].size"),
    ({"layers": [{"type": "maxpool"}]}, "layers[0].size"),
    ({"layers": [{"type": "conv2d", "kernels": [[[[1]]], [[[1]]]], "biases": [1, 2, 3]}]}, "layers[0].biases"),
    ({"layers": [{"type": "conv2d", "kernels": [[1]]}, {"type": "dense", "activation": "relu",
                                                        "weights": [[1, 2]]}]}, "layers[1].weights[0]"),
    ({"inputs": [[1, 2], [3, "a"]]}, "inputs[1][1]"),
    ({"options": {"notation": "ng"}}, "options.notation"),
    ({"layers": [{"type": ["conv2d"]}]}, "layers[0].type"),
    ({"layers": [{"type": "flatten"}]}, "layers[0].type"),
])
def test_bad_layered_input_names_the_field_and_exits_2(tmp_path, change, path):
    spec = {"inputs": [[1, 2], [3, 4]], "targets": [1],
            "layers": [{"type": "conv2d", "kernels": [[1]]}, {"type": "flatten"},
                       {"type": "dense", "activation": "identity", "weights": [[1, 1, 1, 1]]}]}
    if "layers" in change:
        spec["layers"] = change["layers"] + spec["layers"][1:] if len(change["layers"]) == 1 else change["layers"]
    spec.update({key: value for key, value in change.items() if key != "layers"})
    file = tmp_path / "spec.yaml"
    file.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(main, ["solve", str(file), "--format", "json", "-o", str(tmp_path / "out.json")])
    assert result.exit_code == 2, result.output
    assert f"{path}:" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("pairs, bias_sign", [(1, 0), (3, 1), (4, -1), (7, 1)])
def test_a_weighted_sums_written_local_derivatives_are_sympys(pairs, bias_sign):
    operation = weighted_sum(pairs, bias_sign)
    formula = operation.formula()
    assert operation.locals() == tuple(sympy.diff(formula, argument) for argument in ARGUMENTS[:operation.arity])


def test_a_map_too_large_to_write_out_is_refused_for_text_but_solved_as_json(tmp_path):
    spec = {"inputs": [[(row * 7 + column) % 5 - 2 for column in range(40)] for row in range(40)], "targets": [1],
            "layers": [{"type": "conv2d", "kernels": [[1, 0, -1], [1, 0, -1], [1, 0, -1]], "activation": "relu"},
                       {"type": "maxpool", "size": 2}, {"type": "flatten"},
                       {"type": "dense", "activation": "sigmoid", "weights": [[0.01] * 361]}]}
    file = tmp_path / "big.yaml"
    file.write_text(yaml.safe_dump(spec))
    refused = CliRunner().invoke(main, ["solve", str(file), "--format", "md"])
    assert refused.exit_code == 2 and "--format json gives the numbers alone" in refused.output
    assert CliRunner().invoke(main, ["solve", str(file), "--format", "json"]).exit_code == 0


def test_generate_draws_small_whole_numbers_for_the_convolution(tmp_path):
    result = CliRunner().invoke(main, ["generate", "--from", "examples/conv_pool_exam.yaml", "--count", "2",
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load((tmp_path / "out" / "variant-1" / "spec.yaml").read_text(encoding="utf-8"))
    numbers = [value for row in spec["inputs"] for value in row] + [v for row in spec["layers"][0]["kernels"]
                                                                      for v in row]
    assert all(isinstance(value, int) and -3 <= value <= 3 for value in numbers)
    assert solve(spec).loss > 0


SMALL_SPECS = {
    # conv1d with padding and stride, loss none, an entry no pooling window reads (its gradient is 0)
    "conv1d": {"inputs": [1, 2, -1, 0, 3], "loss": "none",
               "layers": [{"type": "conv1d", "kernels": [1, -1, 2], "padding": 1, "stride": 2,
                           "activation": "sigmoid"},
                          {"type": "avgpool", "size": 2}, {"type": "flatten"},
                          {"type": "dense", "activation": "identity", "weights": [[2]]}]},
    # max-pooling first, a batch summed, one bias shared by the layer, a learning rate
    "maxpool_batch": {"inputs": [[[1, 3], [3, 2]], [[0, 1], [2, 2]]], "targets": [[1], [0]],
                      "options": {"reduction": "sum"}, "learning_rate": 1,
                      "layers": [{"type": "maxpool", "size": 2}, {"type": "flatten"},
                                 {"type": "dense", "activation": "sigmoid", "weights": [[0.5]], "biases": 0.1}]},
}


@pytest.mark.parametrize("fmt", ["md", "tex", "txt", "html", "json"])
@pytest.mark.parametrize("name", sorted(SMALL_SPECS))
def test_small_layered_exercises_render_in_every_format(name, fmt):
    solution = solve(copy.deepcopy(SMALL_SPECS[name]))
    text = solution.render(fmt)
    assert solution.title in text or fmt == "json" or not solution.title
    if name == "conv1d" and fmt == "txt":
        assert "∂L/∂a[1]₃ = 0    the loss does not depend on it" in [line.strip() for line in text.splitlines()]


def test_small_layered_exercises_match_the_oracle():
    spec = copy.deepcopy(SMALL_SPECS["maxpool_batch"])
    data = json.loads(solve(copy.deepcopy(spec)).render("json"))
    assert math.isclose(data["loss"], float(oracle_loss(spec) * 2), rel_tol=1e-12)  # NOTE: the sum, not the mean
