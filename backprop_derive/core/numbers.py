"""Numbers: exact values from a spec, high-precision values once exp or log enter, and their display."""

from __future__ import annotations

import decimal
import fractions
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import mpmath
import sympy
from mpmath.libmp import (
    dps_to_prec,
    finf,
    fnan,
    fninf,
    from_int,
    from_rational,
    fzero,
    mpf_exp,
    mpf_mul,
    mpf_sum,
    prec_to_dps,
    round_nearest,
    to_float,
)

from .limits import MAX_EXACT_DIGITS, MAX_INPUT_EXPONENT, MAX_VALUE_EXPONENT

# NOTE: 100 digits carried, 30 promised: the margin absorbs the rounding of a deep network and the
# cancellation of 1 − σ(z) near saturation (1 − σ(120) ≈ 8e-53 still keeps 47 digits).
DIGITS = 100


#: Digits of DIGITS that the rounding of earlier steps may have cost a carried value: a sum of carried
#: values within 10^-(DIGITS - ROUNDING_MARGIN) of its largest term is 0 (see ``total``).
ROUNDING_MARGIN = 5

#: Digits SymPy may work with to settle an exact value whose terms cancel (1 − tanh²(240) ≈ 1.4e-208):
#: one that still cannot be told from 0 is 0.
CANCELLATION_DIGITS = 10 * DIGITS

#: A computed value other than 0 lies within 10^±MAX_MAGNITUDE in size: beyond it a number can be neither
#: shown nor used (sigmoid(−1e100) is about 10^(−4.3e99)). See limits.MAX_VALUE_EXPONENT.
MAX_MAGNITUDE = MAX_VALUE_EXPONENT
#: The size limits in bits, compared with a value's binary exponent (an int of any size).
_LIMIT_BITS = int(MAX_MAGNITUDE * 3.321928) + 1
_EXACT_BITS = int(MAX_EXACT_DIGITS * 3.321928) + 1

#: Exact terminating decimals are shown in full up to this many significant digits.
EXACT_DECIMAL_DIGITS = 12
#: An exact fraction is shown as p/q while numerator and denominator together have at most this many digits.
SHORT_FRACTION_DIGITS = 6


class AmbiguousNumber(str):
    """A number as written that a file format reads as another value (YAML 1.1 reads ``010`` as 8).

    Args:
        text: The number as written.
        problem: How it would be read, and what to write instead.
    """

    problem: str

    def __new__(cls, text: str, problem: str) -> AmbiguousNumber:
        written = super().__new__(cls, text)
        written.problem = problem
        return written


def parse_number(raw: object) -> sympy.Rational:
    """The exact value of a number written in a spec.

    Args:
        raw: An int, a ``decimal.Decimal`` (how the spec loaders read decimals), a float, or a
            string such as ``"1/3"``, ``"0.25"`` or ``"-2"``.

    Returns:
        A SymPy Rational: ``0.1`` is exactly 1/10, never a binary float.

    Raises:
        ValueError: ``raw`` is not a finite number (a bool counts as not a number), lies outside
            10^±MAX_INPUT_EXPONENT in size, or is an AmbiguousNumber.
    """
    if isinstance(raw, AmbiguousNumber):
        raise ValueError(raw.problem)
    # NOTE: the size is checked before parsing: 1e999999999 would be expanded to a billion digits.
    if abs(_written_exponent(raw)) > MAX_INPUT_EXPONENT:
        raise ValueError(_out_of_range(raw))
    value = _parse(raw)
    limit = 10**MAX_INPUT_EXPONENT
    if value and not (abs(value.p) <= limit * value.q and abs(value.p) * limit >= value.q):
        raise ValueError(_out_of_range(raw))
    return value


def _parse(raw: object) -> sympy.Rational:
    if isinstance(raw, bool):
        raise ValueError(f"expected a number, got {str(raw).lower()}")
    if isinstance(raw, int):
        return sympy.Integer(raw)
    if isinstance(raw, float):
        raw = repr(raw)  # the shortest decimal that reads back as this float, as it was written
    if isinstance(raw, (decimal.Decimal, str)):
        try:
            value = fractions.Fraction(str(raw).strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a number such as 2, -0.5 or \"1/3\", got {str(raw)!r}") from None
        return sympy.Rational(value.numerator, value.denominator)
    raise ValueError(f"expected a number, got {type(raw).__name__} {raw!r}")


def _written_exponent(raw: object) -> int:
    """The power of ten of a decimal as written (0 for anything else), read without expanding it."""
    if isinstance(raw, (decimal.Decimal, str)):
        try:
            number = decimal.Decimal(str(raw).strip())
        except decimal.InvalidOperation:
            return 0
        if number.is_finite() and number:
            return number.adjusted()
    return 0


def _out_of_range(raw: object) -> str:
    text = str(raw) if isinstance(raw, (decimal.Decimal, str)) else repr(raw)
    text = text if len(text) <= 24 else text[:20] + "…"
    return f"expected a number from 1e-{MAX_INPUT_EXPONENT} to 1e{MAX_INPUT_EXPONENT} in size (or 0), got {text}"


class NoFiniteValue(ArithmeticError):
    """A computed value that is not a finite real number, or too large or too small to carry.

    Args:
        predicate: What is wrong with the value, in a student's words, as said of the step that
            computes it (``takes the log of −1``, ``is about 10^(−4.3e+99), …``).
        path: The spec field the value comes from, when known (``layers[0].activation``).
        step: The step in words (``the activation at unit 1``), when known.
    """

    def __init__(self, predicate: str, path: str = "", step: str = "the value") -> None:
        super().__init__(f"{step} {predicate}")
        self.predicate = predicate
        self.path = path
        self.step = step

    def at(self, path: str, step: str, note: str = "") -> NoFiniteValue:
        """The same trouble, placed in the spec field ``path`` and the step ``step``, with a ``note`` after it."""
        return NoFiniteValue(f"{self.predicate}; {note}" if note else self.predicate, path, step)


def settle(value: sympy.Expr) -> sympy.Expr:
    """A computed value as the solution carries it: exact if rational, else a DIGITS-digit Float.

    A sum SymPy cannot tell from 0 (an exact cancellation, such as σ(z) + σ(−z) − 1) is 0. An exact
    value longer than limits.MAX_EXACT_DIGITS is carried as a Float.

    Raises:
        NoFiniteValue: ``value`` is not a finite real number, or lies outside 10^±MAX_MAGNITUDE.
    """
    if value.is_Rational and abs(int(value.p)).bit_length() + int(value.q).bit_length() > _EXACT_BITS:
        value = sympy.Float(value, DIGITS)  # NOTE: an exact value past MAX_EXACT_DIGITS is carried as a Float
    if value.is_Rational or value.is_Float:
        number = value
    else:
        number = value.evalf(DIGITS)
        if number.is_Float and number._prec <= 1:
            number = value.evalf(DIGITS, maxn=CANCELLATION_DIGITS)
        if not number.is_Number:
            # NOTE: SymPy's 1/0 and log 0 are both the complex infinity zoo: say "infinite", not "not real".
            raise NoFiniteValue("is infinite (a division by 0, or the log of 0)" if number.is_infinite
                                else "is not a real number")
        # NOTE: where a sum cancels, evalf works with more digits, up to maxn; a Float with no bit of
        # precision left even then is its way of saying "0 within 10^-CANCELLATION_DIGITS".
        if number.is_Float and number._prec <= 1:
            return sympy.Integer(0)
        if not number.is_Rational:
            number = sympy.Float(number, DIGITS)
    if not _finite(number):
        raise NoFiniteValue("is not a finite number")
    exponent = _decimal_exponent(number)
    if abs(exponent) > MAX_MAGNITUDE:
        size = f"{exponent:.2g}".replace("-", "−")
        raise NoFiniteValue(f"is about 10^({size}), beyond the 10^±{MAX_MAGNITUDE} that a worked solution can show")
    return number


def _finite(number: sympy.Expr) -> bool:
    """``number.is_finite``, read off a Float's or a Rational's own digits.

    NOTE: asking SymPy costs a fresh Float the derivation of all its assumptions (a third of the time of a
    1000-step solve); a Float is finite unless it is ±inf or nan, a Rational always is.
    """
    if isinstance(number, sympy.Float):
        return number._mpf_ not in (finf, fninf, fnan)
    if isinstance(number, sympy.Rational):
        return True
    return bool(number.is_finite)


def _decimal_exponent(number: sympy.Expr) -> int:
    """About the power of ten of a nonzero number's size (0 for 0), without printing it."""
    if not number:
        return 0
    return int(_binary_exponent(number) * 0.30103)


def total(terms: Iterable[sympy.Expr]) -> sympy.Expr:
    """The sum of ``terms`` (exact, or carried values, or exact formulas such as e^(1/2)), formed by ``dot``.

    Terms that are all exact stay an exact sum, for ``settle`` to evaluate as closely as it needs.

    Raises:
        NoFiniteValue: a term has no finite real value.
    """
    terms = [sympy.Integer(term) if isinstance(term, int) else term for term in terms]  # NOTE: never a string
    if not any(term.is_Float or (not term.is_Rational and term.has(sympy.Float)) for term in terms):
        return sympy.Add(*terms)
    return dot((term if term.is_Number else settle(term), None) for term in terms)


def _binary_exponent(number: sympy.Expr) -> int:
    """About log2 of a nonzero number's size."""
    if number.is_Rational:
        return abs(int(number.p)).bit_length() - int(number.q).bit_length()
    _, _, exponent, length = number._mpf_
    return exponent + length


def substitute(formula: sympy.Expr, values: Mapping[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """``formula`` at numbers: each symbol replaced by its value, every sum formed by ``total``.

    Each power and exponential is sized before it is computed, so that none grows past
    10^±MAX_MAGNITUDE: x**x**x**99 at 5 is a clear NoFiniteValue at once, not an hour of exact
    arithmetic; and an exact power past MAX_EXACT_DIGITS is computed as a Float.

    Raises:
        NoFiniteValue: a log or a power has no finite real value (takes the log of −1, divides by 0),
            or a power or an exponential passes 10^MAX_MAGNITUDE.
    """
    if all(isinstance(symbol, sympy.Symbol) for symbol in values):
        # NOTE: the order of the walk below, worked out once per formula (values keyed by symbols only).
        results: dict[sympy.Basic, sympy.Basic] = {}
        for node, leaf in _walk(formula):
            results[node] = values.get(node, node) if leaf else _rebuilt(node, [results[a] for a in node.args])
        return results[formula]
    # NOTE: the same bottom-up rebuild as xreplace, with sums, powers and partial functions looked at on
    # the way; with a stack, not recursion, so that no formula's depth meets Python's recursion limit.
    results = {}
    stack: list[tuple[sympy.Basic, bool]] = [(formula, False)]
    while stack:
        node, ready = stack.pop()
        if node in results:
            continue
        if node in values or not node.args:
            results[node] = values.get(node, node)
        elif not ready:
            stack.append((node, True))
            stack.extend((argument, False) for argument in node.args)
        else:
            results[node] = _rebuilt(node, [results[argument] for argument in node.args])
    return results[formula]


@functools.lru_cache(maxsize=1024)
def _walk(formula: sympy.Basic) -> tuple[tuple[sympy.Basic, bool], ...]:
    """Each distinct node of ``formula`` in the order ``substitute``'s walk computes it, and whether it is a leaf
    (a node without arguments: where values keyed by symbols are looked up)."""
    done: set[sympy.Basic] = set()
    order: list[tuple[sympy.Basic, bool]] = []
    stack: list[tuple[sympy.Basic, bool]] = [(formula, False)]
    while stack:
        node, ready = stack.pop()
        if node in done:
            continue
        if not node.args or ready:
            done.add(node)
            order.append((node, not node.args))
        else:
            stack.append((node, True))
            stack.extend((argument, False) for argument in node.args)
    return tuple(order)


def _rebuilt(node: sympy.Basic, arguments: list) -> sympy.Basic:
    """``node``'s operation applied to ``arguments`` (its operands, already substituted)."""
    if node.is_Add:
        return total(arguments)
    if all(isinstance(argument, _PLAIN) for argument in arguments):
        shortcut = _SHORTCUTS.get(node.func)
        result = shortcut(arguments) if shortcut else None
        if result is not None:
            return result
    numeric = all(argument.is_number for argument in arguments)
    if numeric and node.is_Pow:
        _check_growth(*arguments)
        if not _exact_power(*arguments):
            return _float_power(*arguments)
    elif numeric and isinstance(node, sympy.exp):
        _check_growth(sympy.E, arguments[0])
    elif numeric and node.func in (sympy.sin, sympy.cos):
        _check_periodic(arguments[0])
    result = node.func(*arguments)
    if node.func in _PARTIAL and not _finite_real(result):
        raise NoFiniteValue(_PARTIAL[node.func](*arguments))
    return result


#: The plain numbers a formula's operations take a shortcut on: a Float, or an exact Rational.
_PLAIN = (sympy.Float, sympy.Rational)


def _product(factors: list) -> sympy.Expr:
    """``sympy.Mul(*factors)`` of plain numbers, as Mul.flatten forms it (the same products, in its order).

    NOTE: without building the Mul: flatten asks each new Float's assumptions, which costs more than the
    product itself. As Mul does, ones are dropped, and of two factors a Rational second is taken first.
    """
    factors = [factor for factor in factors if factor is not sympy.S.One]
    if not factors:
        return sympy.S.One
    if len(factors) == 1:
        return factors[0]
    if len(factors) == 2 and factors[1].is_Rational:
        factors.reverse()
    product = sympy.S.One
    for factor in factors:
        product *= factor
    return product


def _exponential(arguments: list) -> sympy.Expr | None:
    """``sympy.exp`` of a Float (None for another number), as its evalf computes it: e^x at 4 guard bits
    past the Float's precision, rounded to it."""
    (argument,) = arguments
    if not isinstance(argument, sympy.Float) or argument._mpf_ in (fzero, finf, fninf, fnan):
        return None
    _check_growth(sympy.E, argument)
    precision = dps_to_prec(prec_to_dps(argument._prec))
    return sympy.Float._new(mpf_exp(argument._mpf_, precision + 4), precision)


def _float_power_of(arguments: list) -> sympy.Expr | None:
    """A Float to a Rational power (None for other numbers), as ``_rebuilt`` computes it, by ``_float_power``."""
    base, exponent = arguments
    if not isinstance(base, sympy.Float) or not isinstance(exponent, sympy.Rational):
        return None
    _check_growth(base, exponent)
    result = _float_power(base, exponent)
    if not _finite(result):
        raise NoFiniteValue(_power(base, exponent))
    return result


#: The operations on plain numbers (_PLAIN) computed without SymPy building the expression first.
_SHORTCUTS = {sympy.Mul: _product, sympy.exp: _exponential, sympy.Pow: _float_power_of}


#: A power or an exponential is computed while its result's size in bits has at most this many bits
#: itself: mpmath carries an exponent of any size, at a cost that grows with its digits; beyond, settle
#: could not even say the size (3**(10**10000) takes minutes). A result above 10^±MAX_MAGNITUDE is
#: still refused by ``settle``, as a step on the way to a value in range (σ(−10^100)) is not.
_GROWTH_BITS = 1000


def _check_growth(base: sympy.Expr, exponent: sympy.Expr) -> None:
    """Refuse ``base ** exponent`` before computing it when its size could not even be written down.

    NOTE: estimated at 53 bits, from |exponent|·log2|base|, which mpmath finds at once at any size.
    """
    if not base or not exponent:
        return
    if _log_bound(base) + _size_bits(exponent) < _GROWTH_BITS - 8:
        return  # NOTE: |exponent|·|log2|base|| is surely below 2^_GROWTH_BITS, as its bounds in bits say
    with mpmath.workprec(53):
        bits = _rough(exponent) * mpmath.log(abs(_rough(base)), 2)
        if abs(bits) > mpmath.mpf(2) ** _GROWTH_BITS:
            side = "larger than 10^(10^300)" if bits > 0 else "smaller than 10^(−10^300)"
            raise NoFiniteValue(f"reaches a number {side} on the way, far beyond the "
                                f"10^±{MAX_MAGNITUDE} that a worked solution can show")


def _size_bits(number: sympy.Expr) -> int:
    """Bits k with |number| < 2^k, read off a Float's or a Rational's digits (a huge k for any other number)."""
    if isinstance(number, sympy.Float):
        _, _, exponent, length = number._mpf_
        return exponent + length
    if isinstance(number, sympy.Rational):
        return abs(int(number.p)).bit_length() - int(number.q).bit_length() + 1
    return _GROWTH_BITS


def _log_bound(number: sympy.Expr) -> int:
    """Bits k with |log2 |number|| < 2^k, for a nonzero Float or Rational, or e (a huge k for any other number)."""
    if number is sympy.E:
        return 1
    if isinstance(number, sympy.Float):
        _, _, exponent, length = number._mpf_
        return (abs(exponent + length) + 1).bit_length()
    if isinstance(number, sympy.Rational):
        return (max(abs(int(number.p)).bit_length(), int(number.q).bit_length()) + 1).bit_length()
    return _GROWTH_BITS


def _check_periodic(argument: sympy.Expr) -> None:
    """Refuse the sine or cosine of a number beyond 10^MAX_MAGNITUDE: reducing it by 2π takes as many digits of π."""
    with mpmath.workprec(53):
        if abs(_rough(argument)) > mpmath.mpf(10) ** MAX_MAGNITUDE:
            raise NoFiniteValue(f"takes the sine or cosine of a number beyond the 10^{MAX_MAGNITUDE} that a "
                                f"worked solution can show")


def _rough(value: sympy.Expr) -> mpmath.mpf:
    """A number's real part to about 20 digits: enough to size a result."""
    if not (value.is_Float or value.is_Rational):
        value = sympy.re(value.evalf(20))
    return _mpf(value) if value.is_Number else mpmath.mpf(0)


def _exact_power(base: sympy.Expr, exponent: sympy.Expr) -> bool:
    """True where ``base ** exponent`` is left to SymPy: not both exact, or exact and short."""
    if not (base.is_Rational and exponent.is_Rational):
        return not (base.is_Float or exponent.is_Float)
    return (abs(int(base.p)).bit_length() + int(base.q).bit_length()) * abs(exponent) <= _EXACT_BITS


#: Integer powers up to this are multiplied out; higher ones go through exp and log.
_SMALL_POWER = 2**16


def _float_power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """``base ** exponent`` as a DIGITS-digit Float, for a Float operand or an exact power too long to carry."""
    integer = _is_integer(exponent)
    if not base:
        if _is_negative(exponent):
            raise NoFiniteValue(_power(base, exponent))
        return sympy.Integer(0) if exponent else sympy.Integer(1)
    if _is_negative(base) and not integer:
        raise NoFiniteValue(_power(base, exponent))
    with mpmath.workdps(DIGITS + 10):
        if integer and abs(exponent) <= _SMALL_POWER:
            result = mpmath.power(_mpf(base), int(exponent))
        else:
            # NOTE: exp(e·log|b|) rather than mpmath's power, which multiplies out a huge integer exponent.
            result = mpmath.exp(_mpf(exponent) * mpmath.log(abs(_mpf(base))))
            if base.is_negative and int(exponent) % 2:
                result = -result
        return sympy.Float._new(result._mpf_, mpmath.mp.prec)


def _is_negative(number: sympy.Expr) -> bool | None:
    """``number.is_negative``, read off a Float's or a Rational's own digits (see ``_finite``)."""
    if isinstance(number, sympy.Float):
        return bool(number._mpf_[0]) and number._mpf_ != fzero
    if isinstance(number, sympy.Rational):
        return number.p < 0
    return number.is_negative


def _is_integer(number: sympy.Expr) -> bool | None:
    """``number.is_integer`` for a Rational (q = 1), else SymPy's answer."""
    if isinstance(number, sympy.Rational):
        return number.q == 1
    return number.is_integer


def _finite_real(value: sympy.Expr) -> bool:
    """False for a number that is not finite or not real; True for a formula still in symbols."""
    if value.is_Rational or value.free_symbols:
        return True
    if value.is_Number:
        return bool(value.is_finite)  # a Float, or oo or nan
    if value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I):
        return False
    number = value if value.is_Number else value.evalf(15)
    return bool(number.is_Number and number.is_finite)


def words(value: sympy.Expr) -> str:
    """A value as a message to a student writes it: ``−0.5``, ``1/3``."""
    if not value.is_Number:
        value = value.evalf(15)
    if not value.is_Number:
        return "a number that is not real"
    if value.is_Integer and abs(int(value)) >= 10**EXACT_DECIMAL_DIGITS:
        value = sympy.Float(value, DIGITS)  # NOTE: 5e+800, not 801 digits, in a one-line message
    return show(value).plain().replace("-", "−", 1)


def _power(base: sympy.Expr, exponent: sympy.Expr) -> str:
    if base == 0:
        return "divides by 0"
    if exponent == sympy.Rational(1, 2):
        return f"takes the square root of {words(base)}"
    return f"raises {words(base)} to the power {words(exponent)}"


#: The functions of a formula that are not defined everywhere, each with how its failure is said.
_PARTIAL = {
    sympy.log: lambda argument, *_: f"takes the log of {words(argument)}",
    sympy.Pow: _power,
}


def dot(pairs) -> sympy.Expr:
    """Σ a·b over ``pairs`` of values (b None for 1): exact while every value is rational, otherwise
    a DIGITS-digit Float, or 0 where the carried values cancel to within their rounding.

    A carried value is known to about its size × 10^-DIGITS, so a sum that comes out smaller than its
    largest term × 10^-(DIGITS - ROUNDING_MARGIN) is rounding residue of an exact 0, and is 0: the
    outputs of a softmax sum to 1, so ∂J/∂b of a bias shared by the layer is 0, not 7e-102.

    NOTE: the inexact case is summed in mpmath directly, not through SymPy's Float arithmetic, which
    spends most of its time building and normalising intermediate objects.
    """
    pairs = list(pairs)
    if all(a.is_Rational and (b is None or b.is_Rational) for a, b in pairs):
        return sympy.Add(*(a if b is None else a * b for a, b in pairs))
    # NOTE: on mpmath's raw numbers (as mpmath.fsum sums them): each product rounded to the working
    # precision, their sum rounded once, with no number objects built on the way.
    terms = [_raw(a) if b is None else mpf_mul(_raw(a), _raw(b), _PREC, round_nearest) for a, b in pairs]
    total = mpf_sum(terms, _PREC, round_nearest)
    if _cancelled(total, terms):
        return sympy.Integer(0)
    return sympy.Float._new(total, _PREC)


def _mpf(value: sympy.Expr) -> mpmath.mpf:
    """``value`` as an mpmath number at the working precision (a Float's own digits, kept)."""
    if value.is_Float:
        return mpmath.mpf(value._mpf_)
    if value.is_Rational:
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(sympy.Float(value, DIGITS)._mpf_)


#: The working precision of dot, in bits (DIGITS decimal digits).
_PREC = mpmath.libmp.dps_to_prec(DIGITS)


def _raw(value: sympy.Expr) -> tuple:
    """``value`` as mpmath's raw number (sign, mantissa, exponent, bits), rounded to the working precision."""
    if value.is_Float:
        return value._mpf_
    if value.is_Integer:
        return from_int(int(value.p))
    if value.is_Rational:
        return from_rational(int(value.p), int(value.q), _PREC, round_nearest)
    return sympy.Float(value, DIGITS)._mpf_


#: ROUNDING_MARGIN's threshold in bits: a sum this many powers of two below its largest term is 0.
_CANCELLED_BITS = int((DIGITS - ROUNDING_MARGIN) * 3.321928)


def _cancelled(total: tuple, terms: list[tuple]) -> bool:
    """True when the mpf ``total`` is 0, or below the rounding of the mpf ``terms`` it sums (see ``dot``)."""
    _, mantissa, exponent, length = total
    if not mantissa:
        return True
    # NOTE: sizes compared as powers of two, read off the numbers (exponent + bit count): a bit either way
    # does not matter.
    largest = max(term[2] + term[3] for term in terms if term[1])
    return exponent + length < largest - _CANCELLED_BITS


@dataclass(frozen=True)
class Shown:
    """A number as a careful human writes it, before a renderer picks the typography.

    Exactly one form is set: ``fraction`` (p, q) for a short exact fraction, ``exponent``
    with ``digits`` as the mantissa for a very large or small number, or ``digits`` alone.
    """

    negative: bool
    digits: str
    fraction: tuple[int, int] | None = None
    exponent: int | None = None

    def plain(self) -> str:
        """ASCII form: ``-1/3``, ``0.59327``, ``1.5e-07``."""
        sign = "-" if self.negative else ""
        if self.fraction:
            return f"{sign}{self.fraction[0]}/{self.fraction[1]}"
        if self.exponent is not None:
            return f"{sign}{self.digits}e{self.exponent:+03d}"
        return sign + self.digits


def show(value: sympy.Expr, precision: int = 6) -> Shown:
    """How ``value`` is displayed: integers as integers, short fractions as fractions,
    terminating decimals exactly, everything else at ``precision`` significant digits,
    and never ``-0`` or a float artefact.
    """
    if value.is_Rational:
        numerator, denominator = int(value.p), int(value.q)
        if denominator == 1:
            return Shown(numerator < 0, str(abs(numerator)))
        if _terminates(denominator):
            exact = decimal.Decimal(abs(numerator)) / decimal.Decimal(denominator)
            exact_digits = len(exact.as_tuple().digits)
            if exact_digits <= max(precision, EXACT_DECIMAL_DIGITS) and _moderate(exact):
                return Shown(numerator < 0, _fixed(exact))
        elif len(str(abs(numerator))) + len(str(denominator)) <= SHORT_FRACTION_DIGITS:
            return Shown(numerator < 0, "", fraction=(abs(numerator), denominator))
    return _rounded(_decimal_of(value, precision), precision)


def _decimal_of(value: sympy.Expr, precision: int) -> decimal.Decimal:
    """``value`` to ``precision`` + 10 significant digits, as a Decimal of any magnitude."""
    # NOTE: printing only the digits needed is what keeps rendering fast; ten guard digits make the
    # half-up rounding that follows exact (a tie would need ten 9s or 0s in a row).
    number = sympy.Float(value, DIGITS)
    return decimal.Decimal(mpmath.libmp.to_str(number._mpf_, precision + 10, min_fixed=0, max_fixed=0))


def _rounded(number: decimal.Decimal, precision: int) -> Shown:
    # NOTE: the default context holds 28 digits and exponents up to 10^999999; a value of the
    # solution may need more of either.
    with decimal.localcontext(prec=DIGITS + 10, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN):
        if number.is_zero():
            return Shown(False, "0")
        magnitude = abs(number)
        exponent = magnitude.adjusted()
        rounded = magnitude.quantize(decimal.Decimal(1).scaleb(exponent - precision + 1), decimal.ROUND_HALF_UP)
        if rounded.is_zero():
            return Shown(False, "0")
        if _moderate(rounded):
            return Shown(number < 0, _fixed(rounded))
        mantissa = rounded.scaleb(-rounded.adjusted())
        return Shown(number < 0, _fixed(mantissa), exponent=rounded.adjusted())


def python_number(value: sympy.Expr) -> int | fractions.Fraction | float:
    """A value as a plain Python number: ``int`` for a whole number, ``Fraction`` for another exact
    one (1/3 stays 1/3), ``float`` (the nearest double) for one carried to high precision.
    """
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return fractions.Fraction(int(value.p), int(value.q))
    return float(value)


def nearest_double(value: sympy.Expr) -> float:
    """``float(value)``: the nearest double (±inf beyond its range).

    NOTE: a Float's is read off its digits as SymPy's ``Float.__float__`` rounds them (the mantissa to 53
    bits, to nearest with ties to even, as Python's int → float does; then scaled by its power of 2),
    without normalising the 100-digit number first: JSON writes 140,000 of them for 1,000 steps.
    """
    if isinstance(value, sympy.Float):
        sign, mantissa, exponent, _ = value._mpf_
        if not mantissa:
            return to_float(value._mpf_)
        try:
            return math.ldexp(float(-mantissa if sign else mantissa), exponent)
        except OverflowError:
            return -math.inf if sign else math.inf
    return float(value)


def _moderate(magnitude: decimal.Decimal) -> bool:
    return -5 <= magnitude.adjusted() < 9


def _fixed(magnitude: decimal.Decimal) -> str:
    text = format(magnitude, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _terminates(denominator: int) -> bool:
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    return denominator == 1


@dataclass(frozen=True)
class Rounding:
    """How a hand solution rounds each line's result before carrying it on (``options.rounding``).

    Attributes:
        digits: How many digits are kept.
        significant: True to keep ``digits`` significant digits, False for ``digits`` decimal places.
        backward: Another rounding for the backward pass and the gradients (the error terms, local
            derivatives, δ and ∂J/∂θ), as a book that prints its error terms with more digits; None
            means the same as the rest.
    """

    digits: int
    significant: bool = False
    backward: Rounding | None = None

    def __call__(self, value: sympy.Expr) -> sympy.Rational:
        """``value`` rounded half away from zero, as an exact decimal (a Rational)."""
        if value == 0:
            return sympy.Integer(0)
        with decimal.localcontext(prec=DIGITS + 10, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN):
            # NOTE: an exact value is divided out in decimal, so that a tie (0.0625) rounds up as by hand.
            number = (decimal.Decimal(int(value.p)) / decimal.Decimal(int(value.q)) if value.is_Rational
                      else _decimal_of(value, DIGITS - 10))
            places = self.digits - 1 - number.adjusted() if self.significant else self.digits
            rounded = number.quantize(decimal.Decimal(1).scaleb(-places), decimal.ROUND_HALF_UP)
        fraction = fractions.Fraction(rounded)
        return sympy.Rational(fraction.numerator, fraction.denominator)

    def unit(self, value: sympy.Expr) -> sympy.Rational:
        """One unit of the last digit that rounding ``value`` keeps (10^-3 for 3 decimal places)."""
        if self.significant:
            if value == 0:
                return sympy.Integer(0)
            with decimal.localcontext(prec=DIGITS + 10, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN):
                number = (decimal.Decimal(int(value.p)) / decimal.Decimal(int(value.q)) if value.is_Rational
                          else _decimal_of(value, DIGITS - 10))
                exponent = number.adjusted() - self.digits + 1
        else:
            exponent = -self.digits
        return sympy.Integer(10) ** exponent

    def describe(self) -> str:
        """``3 decimal places`` or ``4 significant digits``."""
        return f"{self.digits} {'significant digit' if self.significant else 'decimal place'}" + \
            ("" if self.digits == 1 else "s")
