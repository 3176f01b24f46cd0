"""Worked examples with published answers, solved end to end."""

from pathlib import Path

import pytest
import sympy

from backprop_derive import solve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_seed_exercise_matches_its_known_answer():
    solution = solve(EXAMPLES / "seed_relu.yaml")
    quantities = solution.quantities(exact=True)
    assert quantities["y5"] == 10
    assert solution.loss == 50
    expected = {"w13_new": 0, "w23_new": -1, "w14_new": 1, "w24_new": 4, "w35_new": -3, "w45_new": -1}
    assert {name: quantities[name] for name in expected} == expected
    assert all(value.is_Rational for value in quantities.values()), "a ReLU network stays exact"


def test_mazur_2_2_2_matches_the_published_walkthrough():
    # Matt Mazur, "A Step by Step Backpropagation Example" (2015): biases fixed, η = 0.5.
    quantities = solve(EXAMPLES / "mazur_2_2_2.yaml").quantities()
    published = {
        "a[1]_1": 0.593269992, "a[2]_1": 0.75136507, "a[2]_2": 0.772928465, "J": 0.298371109,
        "W[2]_11_new": 0.35891648, "W[2]_12_new": 0.408666186, "W[2]_21_new": 0.511301270,
        "W[2]_22_new": 0.561370121, "W[1]_11_new": 0.149780716, "W[1]_12_new": 0.19956143,
        "W[1]_21_new": 0.24975114, "W[1]_22_new": 0.29950229, "b[1]_new": 0.35, "b[2]_new": 0.60,
    }
    for name, value in published.items():
        assert float(quantities[name]) == pytest.approx(value, abs=5e-9), name


def test_values_with_exp_are_carried_to_at_least_30_digits():
    quantities = solve(EXAMPLES / "mazur_2_2_2.yaml").quantities(exact=True)
    net = sympy.Rational(3775, 10000)  # z[1]_1 = 0.15·0.05 + 0.2·0.1 + 0.35
    exact = (1 / (1 + sympy.exp(-net))).evalf(60)
    assert abs(quantities["a[1]_1"] - exact) < sympy.Float("1e-30")
