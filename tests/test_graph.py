"""Computational graphs (`graph:`, SPEC §2.4): the engine's gradients against an independent oracle, the
published values of CS231n's circuits and micrograd's neuron, tied parameters, fan-out, bad specs, the CLI."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
import sympy
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.core.graph import Ref
from backprop_derive.core.operations import OPERATIONS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(*arguments: str, input: str | None = None):
    return CliRunner().invoke(main, list(arguments), input=input)


def gradient(solution, name: str) -> sympy.Expr:
    return solution.values[0][Ref("grad", name)]


# --- published values ------------------------------------------------------------------


def test_cs231n_add_multiply_is_exact() -> None:
    """CS231n: f = (x + y)z at x = −2, y = 5, z = −4: q = 3, f = −12, ∂f/∂x = ∂f/∂y = −4, ∂f/∂z = 3."""
    solution = solve(EXAMPLES / "circuit_add_multiply.yaml")
    quantities = solution.quantities(exact=True)
    assert quantities["q"] == 3 and quantities["f"] == -12
    assert (quantities["df/dx"], quantities["df/dy"], quantities["df/dz"], quantities["df/dq"]) == (-4, -4, 3, -4)
    assert all(value.is_Integer for value in quantities.values())


def test_cs231n_sigmoid_neuron_gate_by_gate() -> None:
    """CS231n: w = [2, −3, −3], x = [−1, −2]: f = σ(1), dx = [0.39, −0.59], dw = [−0.20, −0.39, 0.20]."""
    solution = solve(EXAMPLES / "sigmoid_neuron_circuit.yaml")
    mpmath.mp.dps = 60
    f = 1 / (1 + mpmath.exp(-1))
    local = f * (1 - f)
    expected = {"w0": -1 * local, "x0": 2 * local, "w1": -2 * local, "x1": -3 * local, "w2": local}
    for name, value in expected.items():
        assert abs(mpmath.mpf(str(sympy.Float(gradient(solution, name), 60))) - value) < mpmath.mpf("1e-40")
    shown = {name: round(float(gradient(solution, name)), 2) for name in expected}
    assert shown == {"w0": -0.2, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.2}
    gates = [node.operation.name for node in solution.circuit.graph.nodes]
    assert gates == ["multiply", "multiply", "add", "add", "negate", "exp", "add_constant", "reciprocal"]
    assert [node.name for node in solution.circuit.graph.nodes] == ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "f"]


def test_micrograd_tanh_neuron() -> None:
    """micrograd's README neuron: o = tanh(x1w1 + x2w2 + b) = 0.7071; x1.grad = −1.5, w1.grad = 1, x2.grad = 0.5,
    w2.grad = 0 (as PyTorch prints them, to float precision)."""
    quantities = solve(EXAMPLES / "tanh_neuron.yaml").quantities(exact=True)
    assert float(quantities["o"]) == pytest.approx(0.7071067811865476, abs=1e-15)
    assert solve(EXAMPLES / "tanh_neuron.yaml").quantities()["do/dx1"] == pytest.approx(-1.5)  # Python numbers
    published = {"do/dx1": -1.5, "do/dw1": 1.0, "do/dx2": 0.5, "do/dw2": 0.0, "do/dn": 0.5, "do/db": 0.5}
    for name, value in published.items():
        assert float(quantities[name]) == pytest.approx(value, abs=1e-12), name
    assert quantities["do/dw2"] == 0  # x2 = 0 exactly: exactly no gradient


# --- the oracle: random expression graphs against central differences --------------------

# Each gate kind: its formula text over input names, its mpmath forward, and which inputs it accepts.
_UNARY = {
    "neg": ("-({0})", lambda a: -a, lambda a: True),
    "scale": ("1.5 * {0}", lambda a: mpmath.mpf("1.5") * a, lambda a: True),
    "addc": ("{0} + 2", lambda a: a + 2, lambda a: True),
    "rsub": ("0.5 - {0}", lambda a: mpmath.mpf("0.5") - a, lambda a: True),
    "exp": ("exp({0})", mpmath.exp, lambda a: abs(a) < 5),
    "log": ("log({0})", mpmath.log, lambda a: a > 0.05),
    "recip": ("1 / {0}", lambda a: 1 / a, lambda a: abs(a) > 0.05),
    "square": ("{0} ** 2", lambda a: a ** 2, lambda a: abs(a) < 50),
    "cube": ("{0} ** 3", lambda a: a ** 3, lambda a: abs(a) < 10),
    "sqrt": ("sqrt({0})", mpmath.sqrt, lambda a: a > 0.05),
    "tanh": ("tanh({0})", mpmath.tanh, lambda a: True),
    "sigmoid": ("sigmoid({0})", lambda a: 1 / (1 + mpmath.exp(-a)), lambda a: abs(a) < 30),
    "relu": ("relu({0})", lambda a: max(mpmath.mpf(0), a), lambda a: abs(a) > 1e-3),
    "abs": ("abs({0})", abs, lambda a: abs(a) > 1e-3),
    "sin": ("sin({0})", mpmath.sin, lambda a: abs(a) < 100),
    "cos": ("cos({0})", mpmath.cos, lambda a: abs(a) < 100),
    "maxc": ("max({0}, 0.25)", lambda a: max(a, mpmath.mpf("0.25")), lambda a: abs(a - 0.25) > 1e-3),
}
_BINARY = {
    "add": ("{0} + {1}", lambda a, b: a + b, lambda a, b: True),
    "sub": ("{0} - {1}", lambda a, b: a - b, lambda a, b: True),
    "mul": ("{0} * {1}", lambda a, b: a * b, lambda a, b: abs(a * b) < 1e4),
    "div": ("{0} / {1}", lambda a, b: a / b, lambda a, b: abs(b) > 0.05),
    "max": ("max({0}, {1})", max, lambda a, b: abs(a - b) > 1e-3),
    "min": ("min({0}, {1})", min, lambda a, b: abs(a - b) > 1e-3),
    "pow": ("{0} ** {1}", lambda a, b: a ** b, lambda a, b: 0.05 < a < 20 and abs(b) < 4),
}


@st.composite
def graphs(draw):
    """A random graph: 2–4 leaves, 1–8 nodes each using earlier values (so depth ≤ 8 and values fan out)."""
    leaves = {f"v{index}": Fraction(draw(st.integers(-40, 40)), draw(st.sampled_from([7, 11, 13])))
              for index in range(draw(st.integers(2, 4)))}
    mpmath.mp.dps = 50
    values = {name: mpmath.mpf(value.numerator) / value.denominator for name, value in leaves.items()}
    nodes = []
    for index in range(draw(st.integers(1, 8))):
        names = list(values)
        # NOTE: the newest value is used first more often than not, so graphs grow deep as well as wide.
        first = names[-1] if draw(st.booleans()) else draw(st.sampled_from(names))
        second = draw(st.sampled_from(names))
        options = [(kind, (first,)) for kind, (_, _, ok) in _UNARY.items() if ok(values[first])]
        options += [(kind, (first, second)) for kind, (_, _, ok) in _BINARY.items()
                    if ok(values[first], values[second])]
        kind, arguments = draw(st.sampled_from(options))
        text, forward, _ = (_UNARY | _BINARY)[kind]
        value = forward(*(values[name] for name in arguments))
        if abs(value) > 1e6:
            break
        name = f"n{index}"
        nodes.append((name, kind, arguments, text.format(*arguments)))
        values[name] = value
    if not nodes:
        nodes.append(("n0", "add", ("v0", "v1"), "v0 + v1"))
    return leaves, nodes, draw(st.booleans())


def _forward(leaves: dict, nodes: list) -> mpmath.mpf:
    """The output, computed by mpmath from the gate list alone (not by the engine)."""
    values = dict(leaves)
    for name, kind, arguments, _ in nodes:
        values[name] = (_UNARY | _BINARY)[kind][1](*(values[argument] for argument in arguments))
    return values[nodes[-1][0]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs())
def test_gradients_match_central_differences(drawn) -> None:
    leaves, nodes, split = drawn
    spec = {"inputs": {name: f"{value.numerator}/{value.denominator}" for name, value in leaves.items()},
            "graph": {name: text for name, _, _, text in nodes}, **({"gates": "split"} if split else {})}
    solution = solve(spec)
    mpmath.mp.dps = 50
    point = {name: mpmath.mpf(value.numerator) / value.denominator for name, value in leaves.items()}
    output = _forward(point, nodes)
    assert abs(mpmath.mpf(str(sympy.Float(solution.exact_loss, 50))) - output) <= mpmath.mpf("1e-30") * max(1, abs(output))
    step = mpmath.mpf("1e-15")
    for name in leaves:
        above = _forward({**point, name: point[name] + step}, nodes)
        below = _forward({**point, name: point[name] - step}, nodes)
        expected = (above - below) / (2 * step)
        found = mpmath.mpf(str(sympy.Float(gradient(solution, name), 50)))
        assert abs(found - expected) <= mpmath.mpf("1e-12") * max(1, abs(expected)), (name, spec)


def test_every_gate_kind_is_drawn_by_the_oracle() -> None:
    """The oracle's formulas reach every elementary gate of the operations table when split."""
    texts = [text.format("a", "b") for text, _, _ in (_UNARY | _BINARY).values()]
    spec = {"inputs": {"a": "3/7", "b": "5/11"}, "graph": {f"n{index}": text for index, text in enumerate(texts)},
            "gates": "split"}
    used = {node.operation.name for node in solve(spec).circuit.graph.nodes}
    assert used == set(OPERATIONS)


# --- fan-out and tied parameters ---------------------------------------------------------


def test_a_value_that_fans_out_sums_what_each_gate_sends_back() -> None:
    spec = {"inputs": {"x": 3}, "parameters": {"w": 2}, "graph": {"a": "w * x", "b": "w + a", "f": "a * b"}}
    solution = solve(spec)
    quantities = solution.quantities()
    # f = wx(w + wx): ∂f/∂w = x(w + wx) + wx(1 + x) = 3·8 + 6·4 = 48; ∂f/∂x = w(w + wx) + wx·w = 16 + 12 = 28
    assert quantities["df/dw"] == 48 and quantities["df/dx"] == 28
    assert quantities["df/da"] == quantities["df/da|b"] + quantities["df/da|f"]
    assert quantities["df/dw"] == quantities["df/dw|a"] + quantities["df/dw|b"]
    text = solution.render("txt")
    assert "the parameter w is used 2 times: its gradient is the sum over its uses" in text
    assert "a feeds 2 gates: what they send back adds up" in text
    assert "∂f/∂w = ∂f/∂w|a + ∂f/∂w|b = 42 + 6 = 48" in text


def test_a_value_used_twice_by_one_gate() -> None:
    quantities = solve({"inputs": {"x": 3}, "graph": {"f": "x * x"}}).quantities()
    assert quantities["df/dx"] == 6
    assert quantities["df/dx|f.1"] == 3 and quantities["df/dx|f.2"] == 3


def test_a_loss_and_updates_over_several_steps(tmp_path: Path) -> None:
    spec = {"inputs": {"x": 2}, "parameters": {"w": "1/2"}, "graph": {"y": "w * x"}, "targets": {"y": 3},
            "loss": "half_squared_error", "learning_rate": "1/4"}
    solution = solve(spec, steps=3)
    first = solution.quantities(0)
    assert first["L"] == Fraction(1, 2) * (1 - 3) ** 2 and first["dL/dw"] == (1 - 3) * 2
    assert first["w_new"] == Fraction(1, 2) - Fraction(1, 4) * -4
    assert solution.quantities(1)["w"] == first["w_new"]
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    result = run("solve", str(tmp_path / "spec.json"), "--format", "json", "--steps", "3")
    data = json.loads(result.output)
    assert data["updated"] == {"parameters": {"w": 1.5}}
    assert data["gradients"] == {"inputs": {"x": -1}, "parameters": {"w": -4}}
    assert [step["loss"] for step in data["steps"]] == [2, 0, 0]


# --- output -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "tex", "txt", "html", "json"])
def test_every_format_solves_a_graph(fmt: str) -> None:
    result = run("solve", str(EXAMPLES / "sigmoid_neuron_circuit.yaml"), "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "0.196612" in result.output or "0.19661193324148" in result.output


def test_json_follows_spec_section_2_4() -> None:
    data = json.loads(run("solve", str(EXAMPLES / "sigmoid_neuron_circuit.yaml"), "--format", "json").output)
    assert set(data["gradients"]) == {"inputs", "parameters"}
    assert set(data["gradients"]["inputs"]) == {"x0", "x1"}
    assert set(data["gradients"]["parameters"]) == {"w0", "w1", "w2"}
    assert data["quantities"]["f"] == pytest.approx(0.7310585786300049)
    assert data["quantities"]["df/dg4"] == pytest.approx(0.19661193324148185)
    assert "updated" not in data


def test_markdown_file_gets_the_circuit_as_svg(tmp_path: Path) -> None:
    result = run("solve", str(EXAMPLES / "circuit_add_multiply.yaml"), "-o", str(tmp_path / "c.md"))
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "c.circuit.svg").read_text()
    assert "q = 3" in svg and "−4" in svg and "c.circuit.svg" in (tmp_path / "c.md").read_text()


def test_pdf(tmp_path: Path) -> None:
    import shutil

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed here")
    result = run("solve", str(EXAMPLES / "tanh_neuron.yaml"), "-o", str(tmp_path / "t.pdf"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t.pdf").read_bytes().startswith(b"%PDF")


# --- bad specs --------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "message"), [
    ("inputs: {x: 1}\ngraph:\n  f: x + q\n", "graph.f: unknown name 'q'"),
    ("inputs: {x: 1}\ngraph:\n  q: f + x\n  f: q * 2\n", "graph.q: uses f, which is not computed before q"),
    ("inputs: {x: 1}\ngraph:\n  f: f * x\n", "graph.f: uses f, which is not computed before f"),
    ("inputs: {x: 1}\ngraph:\n  f: foo(x)\n", "graph.f: unknown function 'foo'"),
    ("inputs: {x: 1}\ngraph:\n  f: max(x)\n", "graph.f: max takes exactly 2 arguments"),
    ("inputs: {x: 1}\ngraph:\n  f: __import__('os')\n", "graph.f: unknown function '__import__'"),
    ("inputs: {x: 1}\ngraph:\n  f: x.real\n", "graph.f: attribute access"),
    ("inputs: {x: 1}\ngraph:\n  f: 2 + 3\n", "graph.f: the formula '2 + 3' is constant"),
    ("inputs: {x: 1}\ngraph:\n  f: x\n", "graph.f: the formula only names x"),
    ("inputs: {x: 1}\ngraph: {f: x * 2}\ngates: some\n", "gates: expected split"),
    ("inputs: {x: 1}\ngraph: {f: x * 2}\noutput: g\n", "output: expected the name of a node"),
    ("inputs: {x: 1}\ngraph: {f: x * 2}\nfoo: 1\n", "foo: unknown key"),
    ("inputs: {x: 1}\nparameters: {x: 2}\ngraph: {f: x * 2}\n", "parameters.x: 'x' is already an input"),
    ("inputs: {x: 1}\ngraph: {x: x * 2}\n", "graph.x: 'x' is already an input"),
    ("inputs: {exp: 1}\ngraph: {f: exp * 2}\n", "inputs.exp: 'exp' means something in formulas already"),
    ("inputs: {x: 1}\ngraph: {f: x * 2}\ntargets: {f: 1}\nloss: nope\n", "loss: expected one of"),
    ("inputs: {x: 1}\ngraph: {f: x * 2}\nloss: mse\n", "targets: missing"),
    ("inputs: {x: 1}\ngraph: {f: x * 2}\ntargets: {g: 1}\n", "targets.g: expected the name of a node"),
    ("inputs: {x: 1}\ngraph: {f: x * 2}\nlearning_rate: 0.1\n", "learning_rate: a learning rate updates parameters"),
    ("inputs: {x: 0}\ngraph: {f: 1 / x}\n", "graph.f: the exercise has no finite solution"),
    ("inputs: {x: 2}\ngraph: {f: x / 0}\ngates: split\n", "graph.f: division by zero in `x / 0`"),
    ("inputs: {x: 2}\ngraph: {f: x ** 10 ** 10}\ngates: split\n", "graph.f: exponent in `x ** 10 ** 10` is too large"),
    ("inputs: {x: 2}\ngraph: {f: x ** 1000}\n", "exponent in `x ** 1000` is too large"),
    ("inputs: {x: 3}\ngraph:\n" + "  q0: x * x\n" + "".join(f"  q{i}: q{i - 1} * q{i - 1}\n" for i in range(1, 41)),
     "graph.q14: the exercise has no finite solution: the value of q14 is about 10^"),
    ("graph: {f: 2}\n", "inputs: missing"),
])
def test_a_bad_graph_spec_is_one_line_and_exit_2(tmp_path: Path, spec: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(spec)
    result = run("solve", str(path), "-o", str(tmp_path / "out.md"))
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out.md").exists()


def test_several_steps_need_a_learning_rate() -> None:
    result = run("solve", str(EXAMPLES / "circuit_add_multiply.yaml"), "--steps", "2")
    assert result.exit_code == 2 and "learning_rate" in result.output


# --- check ------------------------------------------------------------------------------


def _check(tmp_path: Path, spec: Path, answers: str, *options: str):
    path = tmp_path / "answers.yaml"
    path.write_text(answers)
    return run("check", str(spec), str(path), *options)


def test_check_names_each_gate_mistake(tmp_path: Path) -> None:
    answers = "df/dg7: -0.53\ndf/dg4: -0.20\ndf/dw2: -0.20\ndf/dw1: -0.59\ndf/dx1: -0.39\n"
    result = _check(tmp_path, EXAMPLES / "sigmoid_neuron_circuit.yaml", answers, "--format", "json")
    assert result.exit_code == 1
    marks = {mark["name"]: mark for mark in json.loads(result.output)["answers"]}
    assert marks["df/dg7"]["verdict"] == "right"
    assert (marks["df/dg4"]["verdict"], marks["df/dg4"]["mistake"]) == ("wrong", "sign_flip")
    assert "dg5/dg4 (negate gate)" in marks["df/dg4"]["explanation"]
    assert marks["df/dw2"]["verdict"] == "carried_forward"
    assert marks["df/dw1"]["mistake"] == marks["df/dx1"]["mistake"] == "swapped_multiply_inputs"


def test_check_finds_a_missing_fan_out_sum(tmp_path: Path) -> None:
    spec = tmp_path / "fan.yaml"
    spec.write_text("inputs: {x: 3}\nparameters: {w: 2}\ngraph: {a: w * x, b: w + a, f: a * b}\n")
    result = _check(tmp_path, spec, "df/da: 8\ndf/dx: 16\n∂f/∂w: 48\ndf/da|b: 6\n")
    assert result.exit_code == 1
    assert "✗ df/da = 8   expected 14   [missing_fanout_sum]" in result.output
    assert "↪ df/dx = 16   expected 28   carried forward" in result.output
    assert "✓ ∂f/∂w (df/dw) = 48" in result.output and "✓ df/da|b = 6" in result.output


def test_check_a_loss_and_an_update(tmp_path: Path) -> None:
    spec = tmp_path / "loss.yaml"
    spec.write_text("inputs: {x: 2}\nparameters: {w: 0.5}\ngraph: {y: w * x}\ntargets: {y: 3}\nlearning_rate: 0.25\n")
    result = _check(tmp_path, spec, "L: 2\ndL/dy: 2\nw_new: 0.5\nyhat: 1\n")
    assert "✓ L = 2" in result.output
    assert "[sign_flip]" in result.output and "(t − o" not in result.output
    assert "w_new = 0.5   expected 1.5" in result.output and "? yhat = 1" in result.output


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_check_marks_a_graph_sheet(tmp_path: Path, fmt: str) -> None:
    result = _check(tmp_path, EXAMPLES / "circuit_add_multiply.yaml", "df/dx: 4\nq: 3\n", "--format", fmt)
    assert result.exit_code == 1 and "Your answer 4: wrong" in result.output
    assert ("sign_flip" if fmt == "md" else r"sign\_flip") in result.output


# --- generate ---------------------------------------------------------------------------


def test_generate_from_a_circuit_keeps_it_exact_and_solvable(tmp_path: Path) -> None:
    result = run("generate", "--from", str(EXAMPLES / "circuit_add_multiply.yaml"), "--count", "4", "--seed", "3",
                 "-o", str(tmp_path / "hw"))
    assert result.exit_code == 0, result.output
    specs = sorted((tmp_path / "hw").glob("variant-*/spec.yaml"))
    assert len(specs) == 4
    seen = set()
    for spec in specs:
        solution = solve(spec)
        assert [node.name for node in solution.circuit.graph.nodes] == ["q", "f"]
        assert all(value.is_Integer for value in solution.values[0].values())
        assert any(solution.values[0][gradient] != 0 for gradient in solution.derivation.gradients)
        seen.add(tuple(solution.circuit.values.values()))
    assert len(seen) == 4
    problem = (tmp_path / "hw" / "variant-1" / "problem.md").read_text()
    assert "The gradient of every input and parameter" in problem and "(in red)" not in problem
    assert "Answer key" in (tmp_path / "hw" / "answers.md").read_text()


def test_generate_from_a_circuit_with_updates_is_reproducible(tmp_path: Path) -> None:
    spec = tmp_path / "neuron.yaml"
    spec.write_text((EXAMPLES / "sigmoid_neuron_circuit.yaml").read_text() + "learning_rate: 0.5\n")
    for folder in ("a", "b"):
        result = run("generate", "--from", str(spec), "--count", "2", "--seed", "5", "-o", str(tmp_path / folder))
        assert result.exit_code == 0, result.output
    first, second = (sorted(p.read_text() for p in (tmp_path / folder).rglob("*.md")) for folder in ("a", "b"))
    assert first == second
    assert "after one step" in (tmp_path / "a" / "answers.md").read_text()
    assert solve(tmp_path / "a" / "variant-1" / "spec.yaml").updates


# --- derive -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["circuit_add_multiply.yaml", "sigmoid_neuron_circuit.yaml", "tanh_neuron.yaml"])
def test_derive_expands_every_gradient_to_sympys_derivative_of_the_output(name: str) -> None:
    from backprop_derive import general_solution

    general = general_solution(EXAMPLES / name)
    output = general.expanded[Ref("value", general.circuit.graph.output)]
    for gradient in general.derivation.gradients:
        symbol = general.symbols[Ref("value", gradient.name)]
        assert sympy.simplify(general.expanded[gradient] - sympy.diff(output, symbol)) == 0, gradient


def test_derive_a_circuit_through_the_cli() -> None:
    result = run("derive", str(EXAMPLES / "circuit_add_multiply.yaml"), "--format", "txt")
    assert result.exit_code == 0, result.output
    assert "f = q · z = z·(x + y)" in result.output
    assert "∂f/∂x = ∂f/∂q · ∂q/∂x = ∂f/∂q · 1 = z" in result.output
    data = json.loads(run("derive", str(EXAMPLES / "circuit_add_multiply.yaml"), "--format", "json").output)
    assert data["formulas"]["df/dz"]["expanded_text"] == "x + y"


@pytest.mark.parametrize("name", ["circuit_add_multiply.yaml", "sigmoid_neuron_circuit.yaml", "tanh_neuron.yaml"])
def test_every_graph_quantity_has_its_own_name_in_every_form(name: str) -> None:
    spec = {**yaml.safe_load((EXAMPLES / name).read_text()), "learning_rate": "0.1"}
    if not spec.get("parameters"):
        spec.pop("learning_rate")
    solution = solve(spec)
    notation = solution.notation
    for form in (notation.ascii, notation.text, notation.tex, notation.mathml):
        names = [form(quantity) for quantity in solution.values[0]]
        assert len(set(names)) == len(names), form.__name__


@pytest.mark.parametrize(("options", "message"), [
    (("--style", "matrix"), "--style matrix is for layers of neurons"),
    (("--notation", "ng"), "--notation: a graph's quantities carry their own names"),
])
def test_options_a_circuit_does_not_take_are_one_line_and_exit_2(options: tuple[str, ...], message: str) -> None:
    result = run("solve", str(EXAMPLES / "circuit_add_multiply.yaml"), *options)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_generate_a_quiz_of_a_circuit(tmp_path: Path) -> None:
    # Every node's value and every leaf's gradient, as the problem sheet asks them: 2 nodes, 3 inputs.
    result = run("generate", "--from", str(EXAMPLES / "circuit_add_multiply.yaml"), "--format", "moodle",
                 "--count", "2", "-o", str(tmp_path / "q"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "q" / "quiz.moodle.xml").read_text(encoding="utf-8").count("{1:NUMERICAL:=") == 2 * (2 + 3)
