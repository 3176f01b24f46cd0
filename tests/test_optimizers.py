"""Every optimizer, regularizer, online training and frozen parameters against torch.optim's formulas.

The oracle here is written from PyTorch's documentation of torch.optim (SGD with momentum and
Nesterov, Adagrad, RMSprop, Adam, AdamW) in mpmath at 80 digits, with the gradients of the cost by
central differences (tests/oracle.py): it shares no code with the package's update stage.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import mpmath
import oracle
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from specs import SMOOTH_ACTIVATIONS, SQUARED_LOSSES, specs

from backprop_derive import solve
from backprop_derive.core.errors import SpecError
from backprop_derive.core.steps import Quantity

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                      HealthCheck.data_too_large])
RELATIVE = mpmath.mpf("1e-18")
ABSOLUTE = mpmath.mpf("1e-20")

#: Each optimizer's fields as the spec may write them, and their torch.optim defaults.
DEFAULTS = {
    "sgd": {"weight_decay": 0},
    "momentum": {"momentum": Fraction(9, 10), "nesterov": False, "weight_decay": 0},
    "adagrad": {"epsilon": Fraction(1, 10**10), "weight_decay": 0, "lr_decay": 0, "initial_accumulator_value": 0},
    "rmsprop": {"alpha": Fraction(99, 100), "epsilon": Fraction(1, 10**8), "weight_decay": 0},
    "adam": {"beta1": Fraction(9, 10), "beta2": Fraction(999, 1000), "epsilon": Fraction(1, 10**8), "weight_decay": 0},
    "adamw": {"beta1": Fraction(9, 10), "beta2": Fraction(999, 1000), "epsilon": Fraction(1, 10**8),
              "weight_decay": Fraction(1, 100)},
}


def mp(value) -> mpmath.mpf:
    value = Fraction(str(value)) if not isinstance(value, Fraction) else value
    return mpmath.mpf(value.numerator) / value.denominator


def is_bias(location: tuple) -> bool:
    return location[-1] in ("bias", "threshold") or (location[0] == "layers" and location[2] == "biases")


def gradient_at(model: oracle.Model, theta: dict, examples: list) -> dict:
    """∂J/∂θ of the cost over ``examples`` at ``theta``, by central differences."""
    one = oracle.Model(model.units, model.parameters, examples, model.outputs, model.loss, model.reduction,
                       model.learning_rate, model.update_biases)
    step = mp(oracle.STEP)
    result = {}
    for location, value in theta.items():
        up = oracle._forward(one, {**theta, location: value + step}).cost
        down = oracle._forward(one, {**theta, location: value - step}).cost
        result[location] = (up - down) / (2 * step)
    return result


class TorchOptimizer:
    """torch.optim's step() for one parameter group, as its documentation writes each algorithm."""

    def __init__(self, name: str, rate, fields: dict) -> None:
        self.name, self.rate = name, mp(rate)
        self.fields = {key: value if isinstance(value, bool) else mp(value)
                       for key, value in {**DEFAULTS[name], **fields}.items()}
        self.state: dict = {}
        self.t = 0

    def step(self, theta: dict, grads: dict, updated: set) -> dict:
        """New values of the parameters in ``updated`` (the others are left as they are)."""
        self.t += 1
        f, lr, new = self.fields, self.rate, dict(theta)
        for location in updated:
            p, g = theta[location], grads[location]
            state = self.state.setdefault(location, {"v": mp(0), "m": mp(0), "s": mp(f.get(
                "initial_accumulator_value", 0))})
            if self.name == "adamw":
                p = p * (1 - lr * f["weight_decay"])  # decoupled weight decay
            elif f["weight_decay"]:
                g = g + f["weight_decay"] * p
            if self.name == "sgd":
                p = p - lr * g
            elif self.name == "momentum":
                # torch: buf = g at the first step (= μ·0 + g), then buf = μ buf + (1 − dampening) g, dampening 0
                state["v"] = f["momentum"] * state["v"] + g
                p = p - lr * (g + f["momentum"] * state["v"] if f["nesterov"] else state["v"])
            elif self.name == "adagrad":
                clr = lr / (1 + (self.t - 1) * f["lr_decay"])
                state["s"] = state["s"] + g * g
                p = p - clr * g / (mpmath.sqrt(state["s"]) + f["epsilon"])
            elif self.name == "rmsprop":
                state["s"] = f["alpha"] * state["s"] + (1 - f["alpha"]) * g * g
                p = p - lr * g / (mpmath.sqrt(state["s"]) + f["epsilon"])
            else:
                state["m"] = f["beta1"] * state["m"] + (1 - f["beta1"]) * g
                state["v"] = f["beta2"] * state["v"] + (1 - f["beta2"]) * g * g
                correction1, correction2 = 1 - f["beta1"] ** self.t, 1 - f["beta2"] ** self.t
                # torch: denom = √v / √(1 − β₂ᵗ) + ε; θ ← θ − (η / (1 − β₁ᵗ)) m / denom
                p = p - (lr / correction1) * state["m"] / (mpmath.sqrt(state["v"]) / mpmath.sqrt(correction2)
                                                            + f["epsilon"])
            new[location] = p
        return new


@st.composite
def optimizer_specs(draw):
    """A smooth network with a squared loss, an optimizer with some fields drawn, maybe regularization,
    online training, frozen parameters; and how many steps to take."""
    activation = draw(st.sampled_from([name for name in SMOOTH_ACTIVATIONS if name not in oracle.KINKED]
                                      + ["identity"]))
    spec = draw(specs(activation=activation, loss=draw(st.sampled_from(SQUARED_LOSSES))))
    spec.pop("learning_rate", None)
    name = draw(st.sampled_from(sorted(DEFAULTS)))
    optimizer = {"name": name, "learning_rate": draw(st.sampled_from([Decimal("0.1"), Decimal("0.5"), "1/4"]))}
    for field in DEFAULTS[name]:
        if not draw(st.booleans()):
            continue
        if field in ("lr_decay", "initial_accumulator_value"):
            optimizer[field] = draw(st.sampled_from([Decimal("0.1"), Decimal("0.5")]))
        elif field == "nesterov":
            optimizer[field] = draw(st.booleans())
        elif field == "weight_decay":
            optimizer[field] = draw(st.sampled_from([0, Decimal("0.01"), Decimal("0.1")]))
        elif field == "epsilon":
            optimizer[field] = draw(st.sampled_from([Decimal("1e-8"), Decimal("0.001")]))
        else:
            optimizer[field] = draw(st.sampled_from([Decimal("0.5"), Decimal("0.9"), Decimal("0.99")]))
    spec["optimizer"] = optimizer
    if draw(st.booleans()):
        spec["regularization"] = {draw(st.sampled_from(["l2", "l1"])): draw(st.sampled_from([Decimal("0.01"),
                                                                                           Decimal("0.1")]))}
        if draw(st.booleans()):
            spec["regularization"]["biases"] = True
    if draw(st.booleans()):
        spec["training"] = draw(st.sampled_from(["online", "batch"]))
    return spec, draw(st.integers(1, 4)), draw(st.randoms(use_true_random=False))


def frozen_subset(spec: dict, chooser) -> list[str]:
    """Some parameters' names, as `names` writes them."""
    plain = solve(spec)
    names = [plain.notation.ascii(Quantity("param", parameter=p)) for p in plain.network.parameters]
    return [name for name in names if chooser.random() < 0.3]


def check_against_torch(spec: dict, steps: int) -> None:
    model = oracle.read({**spec, "learning_rate": spec["optimizer"]["learning_rate"]})
    solution = solve(spec, steps=steps)
    network = solution.network
    by_location = {p.location: p for p in network.parameters}
    frozen = {p.location for p in network.frozen}
    optimizer = spec["optimizer"]
    regularization = spec.get("regularization", {})
    kind = next((key for key in ("l2", "l1") if key in regularization), None)
    online = spec.get("training") == "online" and len(solution.network.examples) > 1
    batches = [[example] for example in model.examples] if online else [model.examples]
    with mpmath.workdps(oracle.DIGITS):
        torch = TorchOptimizer(optimizer["name"], optimizer["learning_rate"],
                               {key: value for key, value in optimizer.items() if key not in ("name", "learning_rate")})
        theta = {location: mp(value) for location, value in model.parameters.items()}
        update = 0
        for _ in range(steps):
            for batch in batches:
                grads = gradient_at(model, theta, batch)
                if kind:
                    strength = mp(regularization[kind])
                    for location in grads:
                        if not is_bias(location) or regularization.get("biases"):
                            grads[location] += strength * (theta[location] if kind == "l2" else mpmath.sign(
                                theta[location]))
                updated = {location for location in theta if location not in frozen
                           and not (is_bias(location) and not model.update_biases)}
                theta = torch.step(theta, grads, updated)
                values = solution.values[update]
                scale = max([mpmath.mpf(1)] + [abs(value) for value in theta.values()])
                # NOTE: a run that diverges leaves the range where central differences keep 30 digits.
                assume(scale < 1000)
                for location, value in theta.items():
                    got = values[Quantity("new", parameter=by_location[location])]
                    got = mpmath.mpf(got.p) / got.q if got.is_Rational else mpmath.mpf(got._mpf_)
                    assert abs(got - value) <= RELATIVE * abs(value) + ABSOLUTE * scale, (
                        f"{optimizer['name']} update {update + 1}, {location}: package {mpmath.nstr(got, 25)}, "
                        f"torch {mpmath.nstr(value, 25)}")
                for location, state in torch.state.items():
                    for letter in {"momentum": "v", "adagrad": "s", "rmsprop": "s", "adam": "mv",
                                   "adamw": "mv"}.get(optimizer["name"], ""):
                        got = values.get(Quantity(f"state:{letter}:new", parameter=by_location[location]))
                        if got is not None:
                            got = mpmath.mpf(got.p) / got.q if got.is_Rational else mpmath.mpf(got._mpf_)
                            assert abs(got - state[letter]) <= RELATIVE * abs(state[letter]) + ABSOLUTE * scale
                update += 1
    assert update == len(solution.values)


@settings(max_examples=30, **SETTINGS)
@given(optimizer_specs())
def test_every_optimizer_matches_torch_optim(drawn) -> None:
    spec, steps, chooser = drawn
    if chooser.random() < 0.4:
        spec["frozen"] = frozen_subset(spec, chooser)
    check_against_torch(spec, steps)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_each_optimizer_on_mazur(name: str) -> None:
    spec = {"inputs": [Decimal("0.05"), Decimal("0.1")], "targets": [Decimal("0.01"), Decimal("0.99")],
            "layers": [{"activation": "sigmoid", "weights": [[Decimal("0.15"), Decimal("0.2")],
                                                              [Decimal("0.25"), Decimal("0.3")]],
                        "biases": Decimal("0.35")},
                       {"activation": "sigmoid", "weights": [[Decimal("0.4"), Decimal("0.45")],
                                                              [Decimal("0.5"), Decimal("0.55")]],
                        "biases": Decimal("0.6")}],
            "optimizer": {"name": name, "learning_rate": Decimal("0.5")}}
    check_against_torch(spec, 3)


def test_sgd_as_an_optimizer_is_todays_gradient_descent() -> None:
    """The control: optimizer {name: sgd} gives exactly the numbers of a top-level learning rate."""
    plain = solve("examples/mazur_2_2_2.yaml", steps=3)
    spec = {**__import__("yaml").safe_load(open("examples/mazur_2_2_2.yaml"))}
    rate = spec.pop("learning_rate")
    as_optimizer = solve({**spec, "optimizer": {"name": "sgd", "learning_rate": str(rate)}}, steps=3)
    assert [v.get(q) for v, q in zip(plain.values, [plain.derivation.cost] * 3)] == [
        v.get(as_optimizer.derivation.cost) for v in as_optimizer.values]
    assert plain.quantities(2) == as_optimizer.quantities(2)


@pytest.mark.parametrize(("change", "path"), [
    ({"optimizer": {"name": "adam", "learning_rate": 0.1}}, "optimizer.learning_rate"),
    ({"optimizer": {"name": "nadam"}}, "optimizer.name"),
    ({"optimizer": {"name": "adam", "beta3": 1}}, "optimizer.beta3"),
    ({"optimizer": {"name": "adam", "beta1": 1}}, "optimizer.beta1"),
    ({"regularization": {"l2": 0.1, "l1": 0.1}}, "regularization"),
    ({"regularization": {"l3": 0.1}}, "regularization.l3"),
    ({"training": "minibatch"}, "training"),
    ({"frozen": ["w99"]}, "frozen[0]"),
    ({"frozen": "w13"}, "frozen"),
])
def test_bad_update_fields_name_their_path(change: dict, path: str) -> None:
    spec = {**__import__("yaml").safe_load(open("examples/seed_relu.yaml")), **change}
    with pytest.raises(SpecError) as error:
        solve(spec)
    assert error.value.path == path


def test_frozen_parameters_never_change_and_the_solution_says_so() -> None:
    spec = {**__import__("yaml").safe_load(open("examples/seed_relu.yaml")), "frozen": ["w13", "w35"],
            "optimizer": {"name": "momentum", "learning_rate": 0.1}}
    spec.pop("learning_rate")
    solution = solve(spec, steps=3)
    for values in solution.quantities(2), solution.quantities(0):
        assert values["w13_new"] == 2 and values["w35_new"] == 2
    assert "frozen" in solution.render("md")


def test_graph_exercises_take_an_optimizer() -> None:
    spec = {"inputs": {"x": 2}, "parameters": {"w": 1, "b": 0}, "graph": {"f": "w*x + b"},
            "targets": {"f": 1}, "loss": "half_squared_error",
            "optimizer": {"name": "adam", "learning_rate": 0.1}, "frozen": ["b"]}
    solution = solve(spec, steps=2)
    assert solution.quantities(0)["m_w_new"] == pytest.approx(0.2)  # (1 − 0.9)·g, g = (2 − 1)·2
    assert solution.quantities(0)["w_new"] == pytest.approx(0.9, abs=1e-6)
    assert solution.quantities(1)["b_new"] == 0
    assert "state" in __import__("json").loads(solution.render("json"))


# --- check: the optimizers' mistakes --------------------------------------------------------

SEED = {"inputs": {1: 1, 2: -1}, "neurons": {3: {"activation": "relu", "in": {1: 2, 2: -3}},
                                             4: {"activation": "relu", "in": {1: 1, 2: 4}},
                                             5: {"activation": "relu", "in": {3: 2, 4: -1}, "bias": 1}},
        "targets": {5: 0}}
MAZUR = {"inputs": ["0.05", "0.1"], "targets": ["0.01", "0.99"],
         "layers": [{"activation": "sigmoid", "weights": [["0.15", "0.2"], ["0.25", "0.3"]], "biases": "0.35"},
                    {"activation": "sigmoid", "weights": [["0.4", "0.45"], ["0.5", "0.55"]], "biases": "0.6"}]}
#: Each optimizer mistake on two networks: (network, the optimizer and regularization it is made with).
MISTAKEN = {
    "missing_bias_correction": [(SEED, {"optimizer": {"name": "adam", "learning_rate": "0.1"}}),
                                (MAZUR, {"optimizer": {"name": "adamw", "learning_rate": "0.5"}})],
    "epsilon_inside_sqrt": [(SEED, {"optimizer": {"name": "rmsprop", "learning_rate": "0.1", "epsilon": "0.5"}}),
                            (MAZUR, {"optimizer": {"name": "adam", "learning_rate": "0.5", "epsilon": "0.01"}})],
    "coupled_weight_decay": [(SEED, {"optimizer": {"name": "adamw", "learning_rate": "0.1", "weight_decay": "0.5"}}),
                             (MAZUR, {"optimizer": {"name": "adamw", "learning_rate": "0.5",
                                                    "weight_decay": "0.5"}})],
    "missing_regularization": [(SEED, {"optimizer": {"name": "momentum", "learning_rate": "0.1"},
                                       "regularization": {"l2": "0.5"}}),
                               (MAZUR, {"learning_rate": "0.5", "regularization": {"l1": "0.1"}})],
}


@pytest.mark.parametrize(("code", "network"), [(code, index) for code in MISTAKEN for index in range(2)])
def test_each_optimizer_mistake_is_diagnosed(code: str, network: int) -> None:
    from test_check import hand_worked, marks_by_name

    from backprop_derive.jobs.check import Checker

    base, update = MISTAKEN[code][network]
    marker = Checker(solve({**base, **update}))
    variant = next(variant for variant in marker.variants if variant.code == code)
    sheet = hand_worked(marker, variant.steps(marker.steps), digits=8)
    marks = marks_by_name(marker, sheet)
    wrong = {mark.mistake for mark in marks.values() if mark.verdict == "wrong"}
    assert wrong == {code}, (code, wrong)


@pytest.mark.parametrize("base", [SEED, MAZUR], ids=["seed", "mazur"])
def test_momentum_not_accumulated_is_diagnosed_at_step_2(base: dict) -> None:
    """v = g at every step is plain gradient descent: a sheet of SGD's step-2 numbers is that mistake."""
    from backprop_derive.jobs.check import check, parse_answers

    plain = solve({**base, "learning_rate": "0.5"}, steps=2)
    momentum = solve({**base, "optimizer": {"name": "momentum", "learning_rate": "0.5"}})
    names = [name for name in plain.quantities(1) if name.endswith("_new")]
    sheet = {"step 2": {name: float(plain.quantities(1)[name]) for name in names}}
    report = check(momentum, parse_answers(sheet))
    wrong = {mark.mistake for mark in report.marks if mark.verdict == "wrong"}
    assert wrong == {"momentum_not_accumulated"}
    right = solve({**base, "optimizer": {"name": "momentum", "learning_rate": "0.5"}}, steps=2)
    sheet = {"step 2": {name: float(right.quantities(1)[name]) for name in names + ["v_w13_new"]
                        if name in right.quantities(1)}}
    assert {mark.verdict for mark in check(momentum, parse_answers(sheet)).marks} == {"right"}


def test_readme_adam_excerpt_is_real_output() -> None:
    from test_readme import ROOT, _block

    output = solve(ROOT / "examples" / "mazur_adam.yaml", steps=2).render("txt").splitlines()
    for line in _block("adam-excerpt"):
        assert line in output, f"README line not in the real output: {line!r}"


# --- generate -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["--optimizer", "--from"])
def test_generate_asks_for_the_state_and_parameters_after_two_steps(source: str, tmp_path) -> None:
    from click.testing import CliRunner

    from backprop_derive.cli import main

    options = (["--optimizer", "momentum", "--bias"] if source == "--optimizer"
               else ["--from", "examples/momentum_2_steps.yaml"])
    result = CliRunner().invoke(main, ["generate", *options, "--count", "2", "-o", str(tmp_path / "hw")])
    assert result.exit_code == 0, result.output
    problem = (tmp_path / "hw" / "variant-1" / "problem.md").read_text(encoding="utf-8")
    assert "after two steps of momentum" in problem
    spec = __import__("yaml").safe_load((tmp_path / "hw" / "variant-1" / "spec.yaml").read_text(encoding="utf-8"))
    assert spec["optimizer"]["name"] == "momentum" and "learning_rate" not in spec
    solution = solve(spec, steps=2)
    answers = (tmp_path / "hw" / "answers.md").read_text(encoding="utf-8")
    assert "after step 2" in answers and len(solution.values) == 2


@pytest.mark.parametrize("name", ["momentum", "adam", "adamw", "rmsprop"])
def test_layered_networks_take_an_optimizer_by_parameter_names(name: str) -> None:
    """A convolution compiled to the operation graph: each named leaf updated as torch.optim does, from the
    gradients the solution shows."""
    from backprop_derive.core.graph import Ref

    spec = {"inputs": [[1, 2, 0], [0, 1, 3], [2, 0, 1]], "targets": [1],
            "layers": [{"type": "conv2d", "kernels": [[1, 0], [0, -1]], "biases": [0]}, {"type": "flatten"},
                       {"type": "dense", "activation": "identity", "weights": [["0.1", "0.2", "0.3", "0.4"]],
                        "biases": [0]}],
            "optimizer": {"name": name, "learning_rate": "0.1"}}
    solution = solve(spec, steps=3)
    names = solution.network.parameters
    with mpmath.workdps(oracle.DIGITS):
        torch = TorchOptimizer(name, "0.1", {})
        theta = {n: mp(Fraction(str(solution.values[0][Ref("value", n)]))) for n in names}
        for values in solution.values:
            grads = {n: mpmath.mpf(values[Ref("grad", n)]._mpf_) if values[Ref("grad", n)].is_Float else
                     mp(Fraction(int(values[Ref("grad", n)].p), int(values[Ref("grad", n)].q))) for n in names}
            theta = torch.step(theta, grads, set(names))
            for n in names:
                got = values[Ref("new", n)]
                got = mpmath.mpf(got.p) / got.q if got.is_Rational else mpmath.mpf(got._mpf_)
                assert abs(got - theta[n]) <= RELATIVE * abs(theta[n]) + ABSOLUTE, (name, n)
            theta = {n: mpmath.mpf(values[Ref("new", n)]._mpf_) if values[Ref("new", n)].is_Float else
                     mp(Fraction(int(values[Ref("new", n)].p), int(values[Ref("new", n)].q))) for n in names}
    assert "state" in __import__("json").loads(solution.render("json"))["steps"][2]
