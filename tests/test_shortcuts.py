"""The evaluation's shortcuts (issue 9's speed) give exactly the numbers of the SymPy operations they stand for:
the same digits and the same precision, over hypothesis-drawn values."""

from __future__ import annotations

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_derive.core import numbers, update
from backprop_derive.core.formula import X
from backprop_derive.core.numbers import DIGITS, nearest_double, substitute
from backprop_derive.core.update import BETA1, BETA2, EPS, ETA, MHAT, VHAT, compile_formula

#: Floats as the solution carries them: DIGITS digits, DIGITS + 10 (a power's), and a few others.
PRECISIONS = st.sampled_from([DIGITS, DIGITS + 10, 15, 30, 200])


@st.composite
def floats(draw, limit: int = 60) -> sympy.Float:
    mantissa = draw(st.integers(-(10**40), 10**40).filter(bool))
    exponent = draw(st.integers(-limit, limit))
    precision = draw(PRECISIONS)
    return sympy.Float(sympy.Rational(mantissa) * sympy.Rational(10) ** exponent / 10**40, precision)


RATIONALS = st.builds(sympy.Rational, st.integers(-(10**6), 10**6), st.integers(1, 10**6))
NUMBERS = st.one_of(floats(), RATIONALS, st.sampled_from([sympy.S.One, sympy.S.NegativeOne, sympy.S.Zero]))


def same(left: sympy.Expr, right: sympy.Expr) -> bool:
    """The same number to the bit: the same type, value and precision."""
    if type(left) is not type(right):
        return False
    if isinstance(left, sympy.Float):
        return left._mpf_ == right._mpf_ and left._prec == right._prec
    return left == right


@settings(max_examples=200, deadline=None)
@given(st.lists(NUMBERS, min_size=2, max_size=4))
def test_a_product_of_numbers_is_sympys_mul(factors) -> None:
    assert same(numbers._product(list(factors)), sympy.Mul(*factors))


@settings(max_examples=200, deadline=None)
@given(floats(limit=2).filter(bool))
def test_the_exponential_of_a_float_is_sympys_exp(argument) -> None:
    assert same(numbers._exponential([argument]), sympy.exp(argument))


@settings(max_examples=200, deadline=None)
@given(NUMBERS)
def test_facts_read_off_the_digits_are_sympys(number) -> None:
    assert numbers._finite(number) == number.is_finite
    assert numbers._is_negative(number) == number.is_negative
    assert numbers._is_integer(number) == number.is_integer
    assert nearest_double(number) == float(number)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**336), st.integers(-1500, 1100), st.booleans(), PRECISIONS)
def test_the_nearest_double_is_sympys_at_any_size(mantissa, exponent, negative, precision) -> None:
    """Subnormal doubles (rounded twice, as SymPy does), overflow to ±inf, and ties to even among them."""
    number = sympy.Float._new((int(negative), mantissa, exponent, mantissa.bit_length()), precision)
    assert nearest_double(number) == float(number)


@settings(max_examples=100, deadline=None)
@given(st.integers(2**52, 2**53 - 1), st.integers(1, 300), st.integers(-1200, 900))
def test_the_nearest_double_of_a_tie_is_sympys(top, shift, exponent) -> None:
    """A mantissa exactly halfway between two doubles: ties go to the even one, for SymPy and here."""
    mantissa = (2 * top + 1) << (shift - 1)
    number = sympy.Float._new((0, mantissa, exponent, mantissa.bit_length()), 400)
    assert nearest_double(number) == float(number)


SIGMOID = 1 / (1 + sympy.exp(-X))


@settings(max_examples=100, deadline=None)
@given(st.one_of(floats(limit=1), RATIONALS), st.sampled_from([SIGMOID, sympy.tanh(X), X * (1 - X), (X - 1) ** 2 / 2]))
def test_substituting_with_the_walk_worked_out_once_is_walking_each_time(value, formula) -> None:
    # NOTE: a key that is not a symbol takes substitute's own walk; it is not in the formula.
    walked = substitute(formula, {X: value, sympy.Function("f")(X): sympy.S.One})
    assert same(substitute(formula, {X: value}), walked)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(floats(limit=1), RATIONALS), st.integers(1, 300)), min_size=1, max_size=6))
def test_an_update_line_remembering_its_exact_parts_is_the_line_computed_afresh(draws) -> None:
    """Adam's lines, called in turn as a solve calls them (the exact fields and t shared), against each line
    compiled anew for every call."""
    formulas = [(BETA1 * sympy.Symbol("m", real=True) + (1 - BETA1) * sympy.Symbol("g", real=True)),
                sympy.Symbol("m", real=True) / (1 - BETA1 ** sympy.Symbol("t", real=True)),
                ETA * MHAT / (sympy.sqrt(VHAT) + EPS), BETA2 * sympy.Symbol("v", real=True)]
    fields = {BETA1: sympy.Rational(9, 10), BETA2: sympy.Rational(999, 1000), ETA: sympy.Rational(1, 10),
              EPS: sympy.Rational(1, 10**8)}
    shared = {formula: compile_formula(formula, tuple(sorted(formula.free_symbols, key=str))) for formula in formulas}
    for value, step in draws:
        for formula, compiled in shared.items():
            symbols = tuple(sorted(formula.free_symbols, key=str))
            given_values = [fields.get(symbol, sympy.Integer(step) if symbol.name == "t" else abs(value))
                            for symbol in symbols]
            assert same(compiled(*given_values), compile_formula(formula, symbols)(*given_values))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(floats(limit=1), RATIONALS), min_size=1, max_size=4))
def test_a_line_with_a_part_of_constants_alone_is_the_line_computed_afresh(weights) -> None:
    """The L2 penalty's λ/2 · w², its 1/2 written unevaluated: a part that reads no input at all."""
    weight = sympy.Symbol("w", real=True)
    formula = update._mul(update._over(update.LAMBDA, sympy.Integer(2)), update._square(weight))
    symbols = (update.LAMBDA, weight)
    shared = compile_formula(formula, symbols)
    for value in weights:
        given_values = (sympy.Rational(1, 100), value)
        assert same(shared(*given_values), compile_formula(formula, symbols)(*given_values))
