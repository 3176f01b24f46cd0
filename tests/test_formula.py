"""Tests for backprop_derive.core.formula: whitelisted parsing of activation formulas."""

from __future__ import annotations

import math
import operator
from typing import Any

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_derive.core.formula import FormulaError, X, parse_formula

# --- valid formulas -------------------------------------------------------------

VALID = [
    ("x**3/3", X**3 / 3),
    ("log(1 + exp(x))", sympy.log(1 + sympy.exp(X))),
    ("x", X),
    ("-x", -X),
    ("+x", X),
    ("(x)", X),
    ("2*x - 1", 2 * X - 1),
    ("1/(1 + exp(-x))", 1 / (1 + sympy.exp(-X))),
    ("e**x", sympy.exp(X)),
    ("pi*x", sympy.pi * X),
    ("sqrt(x)", sympy.sqrt(X)),
    ("x**0.5", sympy.sqrt(X)),
    ("tanh(x)", sympy.tanh(X)),
    ("sin(x) + cos(x)", sympy.sin(X) + sympy.cos(X)),
    ("abs(x)", sympy.Abs(X)),
    ("x*tanh(log(1 + exp(x)))", X * sympy.tanh(sympy.log(1 + sympy.exp(X)))),
    ("0.5*x*(1 + tanh(x))", sympy.Rational(1, 2) * X * (1 + sympy.tanh(X))),
    ("x**-2", X**-2),
    ("x**100", X**100),
    ("2**x", 2**X),
    ("  x + 1\n", X + 1),
    ("(x +\n 1)", X + 1),
    ("1_000*x", 1000 * X),
    ("x**x**2", X ** (X**2)),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_formulas(text: str, expected: sympy.Expr) -> None:
    result = parse_formula(text)
    assert result == expected or sympy.simplify(result - expected) == 0


def test_result_uses_the_exported_real_symbol() -> None:
    assert X.name == "x" and X.is_real
    assert parse_formula("x**2").free_symbols == {X}


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0.1*x", sympy.Rational(1, 10)),
        ("2.5*x", sympy.Rational(5, 2)),
        ("1.5e-3*x", sympy.Rational(3, 2000)),
        ("1e2*x", sympy.Integer(100)),
        (".25*x", sympy.Rational(1, 4)),
        ("3.*x", sympy.Integer(3)),
        ("1_000.5*x", sympy.Rational(2001, 2)),
        ("0.30000000000000004*x", sympy.Rational(30000000000000004, 10**17)),
    ],
)
def test_decimals_are_exact(text: str, number: sympy.Rational) -> None:
    result = parse_formula(text)
    assert result == number * X
    assert not result.atoms(sympy.Float)


def test_one_tenth_is_exactly_rational() -> None:
    coefficient = parse_formula("0.1*x").coeff(X)
    assert coefficient == sympy.Rational(1, 10)
    assert isinstance(coefficient, sympy.Rational)


# --- rejected formulas ----------------------------------------------------------

INVALID = [
    ("__import__('os').system('ls')", "calling"),
    ("__import__('os')", "unknown function"),
    ("x.real", "attribute"),
    ("(lambda: 1)()", "calling"),
    ("lambda: x", "lambda"),
    ("[x for x in ()]", "comprehension"),
    ("(x for x in ())", "generator"),
    ("y", "unknown name 'y'"),
    ("x + y", "unknown name 'y'"),
    ("x if x else 1", "conditional"),
    ("x > 0", "comparison"),
    ("x and 1", "boolean"),
    ("not x", "not"),
    ("~x", "~"),
    ("exp(x, 2)", "exactly one argument"),
    ("exp()", "exactly one argument"),
    ("exp(x=1)", "keyword"),
    ("exp(*[x])", "starred"),
    ("'a'", "string"),
    ("b'a'", "string"),
    ("x + 'a'", "string"),
    ("f'{x}'", "f-string"),
    ("x^2", "**"),
    ("x // 2", "//"),
    ("x % 2", "%"),
    ("x @ x", "@"),
    ("10**10**10", "exponent"),
    ("x**101", "exponent"),
    ("x**-101", "exponent"),
    ("exp(x)**1000", "exponent"),
    ("2**(x + " + "1" * 300 + ")*2**(-x)", "exponent"),
    ("exp(x + " + "9" * 300 + "*log(10))", "exponent"),
    ("exp(1000)*x", "exponent"),
    ("(10**100)**100*x", "too large"),
    ("1e999999*x", "too large"),
    ("open('f')", "unknown function 'open'"),
    ("print(x)", "unknown function"),
    ("exp(x)(x)", "calling"),
    ("exp", "is a function"),
    ("().__class__.__bases__", "attribute"),
    ("().__class__.__bases__[0].__subclasses__()", "calling"),
    ("x[0]", "subscript"),
    ("(x, x)", "tuple"),
    ("[x]", "list"),
    ("{x: 1}", "dict"),
    ("(z := x)", ":="),
    ("True*x", "bool"),
    ("None", "None"),
    ("1j*x", "complex"),
    ("log(x, 2)", "natural logarithm"),
    ("Log(x)", "unknown function"),
    ("sympy.exp(x)", "calling"),
    ("", "empty"),
    ("   \n\t", "empty"),
    ("x" + " " * 500, "at most 500"),
    ("+".join(["x"] * 251), "at most 500"),
    ("x +", "not a formula"),
    ("x = 1", "not a formula"),
    ("import os", "not a formula"),
    ("x\0", "not a formula"),
    ("1or x", "not a formula"),
    ("2pi", "not a formula"),
    ("x/0", "division by zero"),
    ("x/(x - x)", "division by zero"),
    ("log(0) + x", "undefined"),
    ("0**-1*x", "undefined"),
    ("3", "must use x"),
    ("0.1", "must use x"),
    ("e**pi", "must use x"),
    ("x - x", "must use x"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID)
def test_invalid_formulas(text: str, fragment: str) -> None:
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_formula_error_is_a_value_error() -> None:
    assert issubclass(FormulaError, ValueError)


def test_non_string_is_rejected() -> None:
    with pytest.raises(FormulaError, match="string"):
        parse_formula(3)  # type: ignore[arg-type]


def test_syntax_error_message_quotes_python() -> None:
    with pytest.raises(FormulaError, match=r"^not a formula: "):
        parse_formula("x +* ")


def test_caret_suggests_double_star() -> None:
    with pytest.raises(FormulaError, match=r"use \*\*"):
        parse_formula("x^3")


def test_nothing_is_executed(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for text in ["open('pwned', 'w')", "__import__('os').system('touch pwned')"]:
        with pytest.raises(FormulaError):
            parse_formula(text)
    assert not (tmp_path / "pwned").exists()


def test_source_never_runs_user_code() -> None:
    from pathlib import Path

    import backprop_derive.core.formula as formula

    source = Path(formula.__file__).read_text()
    for word in ["eval" + "(", "exec" + "(", "sympi" + "fy", "parse" + "_expr"]:
        assert word not in source


# --- property tests ---------------------------------------------------------------

_FUNCTIONS = {
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "tanh": math.tanh,
    "sin": math.sin,
    "cos": math.cos,
    "abs": abs,
}
_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_LITERALS = ["0", "1", "2", "3", "0.5", "1.25", "2.5", "0.1"]
_POINTS = ["-1.37", "0.53", "1.79"]

Tree = tuple[Any, ...]

_leaves = st.one_of(
    st.just(("x",)),
    st.sampled_from(_LITERALS).map(lambda text: ("num", text)),
    st.sampled_from(["e", "pi"]).map(lambda name: ("const", name)),
)


def _extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
    return st.one_of(
        st.tuples(st.just("neg"), children),
        st.tuples(st.just("bin"), st.sampled_from("+-*/"), children, children),
        st.tuples(st.just("pow"), children, st.integers(-2, 3)),
        st.tuples(st.just("call"), st.sampled_from(sorted(_FUNCTIONS)), children),
    )


_trees = st.recursive(_leaves, _extend, max_leaves=6)


def _render(tree: Tree) -> str:
    """Render a tree as formula text, fully parenthesised."""
    kind = tree[0]
    if kind == "x":
        return "x"
    if kind in ("num", "const"):
        return tree[1]
    if kind == "neg":
        return f"(-{_render(tree[1])})"
    if kind == "bin":
        return f"({_render(tree[2])} {tree[1]} {_render(tree[3])})"
    if kind == "pow":
        return f"({_render(tree[1])})**({tree[2]})"
    return f"{tree[1]}({_render(tree[2])})"


def _reference(tree: Tree, x: float) -> float:
    """Evaluate a tree with the math module; raises on domain errors and overflow."""
    kind = tree[0]
    if kind == "x":
        return x
    if kind == "num":
        return float(tree[1])
    if kind == "const":
        return {"e": math.e, "pi": math.pi}[tree[1]]
    if kind == "neg":
        return -_reference(tree[1], x)
    if kind == "bin":
        left, right = _reference(tree[2], x), _reference(tree[3], x)
        return _OPERATORS[tree[1]](left, right)
    if kind == "pow":
        return math.pow(_reference(tree[1], x), tree[2])
    return float(_FUNCTIONS[tree[1]](_reference(tree[2], x)))


_EXPECTED_REJECTIONS = ("must use x", "division by zero", "undefined", "exponent", "too large")


@settings(max_examples=300, deadline=None)
@given(_trees)
def test_random_formulas_match_math_reference(tree: Tree) -> None:
    text = _render(tree)
    try:
        expr = parse_formula(text)
    except FormulaError as err:
        assert any(reason in str(err) for reason in _EXPECTED_REJECTIONS), str(err)
        return
    assert expr.free_symbols == {X}
    for point in _POINTS:
        try:
            expected = _reference(tree, float(point))
        except (ValueError, ZeroDivisionError, OverflowError):
            continue
        if not math.isfinite(expected) or abs(expected) > 1e8:
            continue
        actual = complex(expr.subs(X, sympy.Rational(point)).evalf(30))
        assert math.isclose(actual.real, expected, rel_tol=1e-7, abs_tol=1e-7), (text, point)
        assert abs(actual.imag) <= 1e-7 * max(1.0, abs(expected)), (text, point)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="x+-*/^()., 0123456789epilogsqrtanhcb_'[]:=<>!", max_size=40))
def test_arbitrary_text_returns_expression_or_formula_error(text: str) -> None:
    try:
        result = parse_formula(text)
    except FormulaError:
        return
    assert isinstance(result, sympy.Expr)
    assert X in result.free_symbols
