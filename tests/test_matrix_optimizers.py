"""Matrix style with every optimizer: each layer's update lines as element-wise matrix equations.

Every printed entry is the solution's own per-parameter quantity (the one chain style prints and
``quantities()`` names), and each entry satisfies its parameter's own update line.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from backprop_derive import solve
from backprop_derive.core.numbers import settle
from backprop_derive.render.matrix import kept, layers_of, lines_by_parameter, stage_equations, update_groups
from backprop_derive.render.pdf import compile_pdf
from backprop_derive.render.typography import Latex, MathML, Unicode

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TYPOGRAPHY = {"md": Latex, "tex": Latex, "txt": Unicode, "html": MathML}


def spec_of(base: str, optimizer: dict, regularization: dict | None = None, frozen: list | None = None) -> dict:
    spec = yaml.safe_load((EXAMPLES / base).read_text())
    spec.pop("learning_rate", None)
    spec.pop("optimizer", None)
    spec["optimizer"] = optimizer
    if regularization:
        spec["regularization"] = regularization
    if frozen:
        spec["frozen"] = frozen
    return spec


#: (id, base example, optimizer, regularization, frozen): every optimizer, the regularizers, frozen entries.
CASES = [
    ("sgd_weight_decay", "bce_batch_2_3_1.yaml", {"name": "sgd", "learning_rate": 0.5, "weight_decay": 0.01},
     None, None),
    ("sgd_frozen", "mazur_2_2_2.yaml", {"name": "sgd", "learning_rate": 0.5}, None, ["W[2]_12"]),
    ("momentum_l2", "mazur_2_2_2.yaml", {"name": "momentum", "learning_rate": 0.5}, {"l2": 0.01}, None),
    ("nesterov_l1_frozen", "bce_batch_2_3_1.yaml",
     {"name": "momentum", "learning_rate": 0.5, "nesterov": True, "weight_decay": 0.01},
     {"l1": 0.1, "biases": True}, ["W[1]_12", "b[1]_2"]),
    ("adagrad_lr_decay", "bce_batch_2_3_1.yaml", {"name": "adagrad", "learning_rate": 0.5, "lr_decay": 0.1},
     None, None),
    ("rmsprop_frozen", "bce_batch_2_3_1.yaml", {"name": "rmsprop", "learning_rate": 0.01}, {"l2": 0.1},
     ["W[2]_13"]),
    ("adam", "mazur_2_2_2.yaml", {"name": "adam", "learning_rate": 0.1}, None, None),
    ("adam_batch_l2", "bce_batch_2_3_1.yaml", {"name": "adam", "learning_rate": 0.1}, {"l2": 0.01},
     ["b[2]_1"]),
    ("adamw", "mazur_2_2_2.yaml", {"name": "adamw", "learning_rate": 0.1, "weight_decay": 0.1}, None,
     ["W[1]_21"]),
]


def printed_matrix(typography, values, group, keys, held) -> tuple[str, list]:
    """The matrix as matrix style must print it, and the (key, value) of each entry printed as a number."""
    numbers, rows = [], []
    for row, parameters in zip(keys, group.grid):
        cells = []
        for key, parameter in zip(row, parameters):
            if parameter in held and key not in values:
                cells.append(typography.missing)
                continue
            numbers.append((key, values[key]))
            cells.append(typography.number(values[key]))
        rows.append(cells)
    if group.scalar:
        return rows[0][0], numbers
    return typography.matrix(rows), numbers


def appears(text: str, output: str, fmt: str) -> bool:
    if fmt != "txt":
        return text in output
    # NOTE: in text a matrix is drawn over several lines, beside other pieces: each of its lines is there.
    return all(line in output for line in text.split("\n"))


@pytest.mark.parametrize(("base", "optimizer", "regularization", "frozen"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_every_entry_of_every_update_matrix_is_the_per_parameter_quantity(base, optimizer, regularization,
                                                                          frozen):
    solution = solve(spec_of(base, optimizer, regularization, frozen), steps=2)
    network = solution.network
    lines = lines_by_parameter(solution.derivation.updates)
    held_all = set(network.frozen)
    outputs = {fmt: solution.render(fmt, style="matrix") for fmt in TYPOGRAPHY}
    for step, values in enumerate(solution.values):
        quantities = solution.quantities(step)
        counted = 0
        for layer in layers_of(network):
            for group in update_groups(layer, network.weights_layout == "input_by_unit"):
                equations = stage_equations(group, lines, held_all)
                assert equations is not None, (layer.number, group.kind)
                held = [parameter for parameter in group.entries if kept(parameter, held_all)]
                for equation in equations:
                    for fmt, typography_class in TYPOGRAPHY.items():
                        typography = typography_class(solution.precision)
                        for keys in (equation.result, *equation.cells.values()):
                            text, numbers = printed_matrix(typography, values, group, keys, held)
                            assert appears(text, outputs[fmt], fmt), (fmt, group.kind, layer.number, text)
                            for key, value in numbers:
                                assert quantities[solution.notation.ascii(key)] == pytest.approx(float(value),
                                                                                                  rel=1e-12)
                    # NOTE: each updated entry's result is its own per-parameter line's value.
                    for row, parameters in zip(equation.result, group.grid):
                        for key, parameter in zip(row, parameters):
                            if parameter not in held:
                                own = next(line for line in lines[parameter] if line.result == key)
                                assert settle(own.value(values)) == values[key]
                                counted += 1
        assert counted >= len([p for p in network.parameters if not kept(p, held_all)])
    for name in frozen or ():
        shown = solution.notation.text(next(q for q in solution.values[0] if solution.notation.ascii(q) == name))
        # NOTE: a group with some entries frozen lists them; one with every entry frozen is written once, kept.
        assert (shown in outputs["txt"] and "frozen (never updated" in outputs["txt"]
                or "frozen: never updated" in outputs["txt"])


def test_adam_in_matrix_style_reads_as_a_course_writes_it():
    text = solve(EXAMPLES / "mazur_adam.yaml").render("txt", style="matrix")
    assert "m(W[1])ⁿᵉʷ = β₁ m(W[1]) + (1 − β₁) (∂J/∂W[1]) = 0.9 · ⎡0  0⎤" in text
    assert "W[1]ⁿᵉʷ = W[1] − η m̂(W[1]) ⊘ (√(v̂(W[1])) + ε)" in text
    assert "m̂(W[1]) = m(W[1])ⁿᵉʷ/(1 − β₁^t)" in text
    assert "Parameter by parameter" not in text
    tex = solve(EXAMPLES / "mazur_adam.yaml").render("tex", style="matrix")
    assert r"\oslash" in tex and r"\hat{m}_{W^{[1]}}" in tex


def test_a_layer_whose_entries_are_all_frozen_says_so():
    spec = spec_of("mazur_2_2_2.yaml", {"name": "momentum", "learning_rate": 0.5},
                   frozen=["W[2]_11", "W[2]_12", "W[2]_21", "W[2]_22"])
    text = solve(spec).render("txt", style="matrix")
    assert re.search(r"W\[2\] = ⎡0\.4\s+0\.45⎤\s+frozen: never updated", text) or "frozen: never updated" in text
    assert "v(W[2])" not in text and "v(W[1])ⁿᵉʷ" in text


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (TeX Live)")
def test_matrix_style_updates_compile():
    # NOTE: one document for the widest lines: Nesterov with L1 and decay, frozen entries (the dash), 2 steps.
    _, base, optimizer, regularization, frozen = CASES[3]
    latex = solve(spec_of(base, optimizer, regularization, frozen), steps=2).render("tex", style="matrix")
    assert r"\text{--}" in latex and r"\operatorname{sign}" in latex
    assert compile_pdf(latex).startswith(b"%PDF")
    adam = solve(EXAMPLES / "mazur_adam.yaml", steps=2).render("tex", style="matrix")
    assert compile_pdf(adam).startswith(b"%PDF")
