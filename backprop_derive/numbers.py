"""Numbers: exact values from a spec, high-precision values once exp or log enter, and their display."""

from __future__ import annotations

import decimal
import fractions
import math
from collections.abc import Mapping
from dataclasses import dataclass

import mpmath
import sympy

from .limits import MAX_EXACT_DIGITS, MAX_VALUE_EXPONENT

# NOTE: 100 digits carried, 30 promised: the margin absorbs the rounding of a deep network and the
# cancellation of 1 − σ(z) near saturation (1 − σ(120) ≈ 8e-53 still keeps 47 digits).
DIGITS = 100

#: Numbers read from a user's file lie within 10^±MAX_EXPONENT in size (or are 0).
MAX_EXPONENT = 100

#: Exact terminating decimals are shown in full up to this many significant digits.
EXACT_DECIMAL_DIGITS = 12
#: An exact fraction is shown as p/q while numerator and denominator together have at most this many digits.
SHORT_FRACTION_DIGITS = 6


def parse_number(raw: object) -> sympy.Rational:
    """The exact value of a number written in a spec.

    Args:
        raw: An int, a ``decimal.Decimal`` (how the spec loaders read decimals), a float, or a
            string such as ``"1/3"``, ``"0.25"`` or ``"-2"``.

    Returns:
        A SymPy Rational: ``0.1`` is exactly 1/10, never a binary float.

    Raises:
        ValueError: ``raw`` is not a finite number (a bool counts as not a number), or lies outside
            10^±MAX_EXPONENT in size.
    """
    # NOTE: the size is checked before parsing: 1e999999999 would be expanded to a billion digits.
    if abs(_written_exponent(raw)) > MAX_EXPONENT:
        raise ValueError(_out_of_range(raw))
    value = _parse(raw)
    limit = 10**MAX_EXPONENT
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
    return f"expected a number from 1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT} in size (or 0), got {text}"


class ValueSizeError(ArithmeticError):
    """A computed value beyond 10^±MAX_VALUE_EXPONENT in size: the exercise cannot be worked."""


#: The size limits in bits, compared with a value's binary exponent (an int of any size).
_LIMIT_BITS = math.ceil(MAX_VALUE_EXPONENT * math.log2(10))
_EXACT_BITS = math.ceil(MAX_EXACT_DIGITS * math.log2(10))


def settle(value: sympy.Expr, tiny: bool = False) -> sympy.Expr:
    """A computed value as the solution carries it: exact if rational, else a DIGITS-digit Float.

    An exact value longer than MAX_EXACT_DIGITS digits is carried as a Float too. With ``tiny``, a
    value below 10^-MAX_VALUE_EXPONENT is let through: a step on the way to a value (exp(−10^100)
    on the way to σ(10^100) = 1), which costs no more to compute with than a large one does.

    Raises:
        ArithmeticError: ``value`` is not a finite real number.
        ValueSizeError: ``value`` lies beyond 10^±MAX_VALUE_EXPONENT in size.
    """
    if value.is_Rational:
        if abs(value.p).bit_length() + value.q.bit_length() > _EXACT_BITS:
            value = sympy.Float(value, DIGITS)
    elif not value.is_Float:
        value = value.evalf(DIGITS)
        if not value.is_Number or value.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise ArithmeticError(f"the value {value} is not a finite real number")
        value = sympy.Float(value, DIGITS)
    if value.is_Float and not value.is_finite:
        raise ArithmeticError(f"the value {value} is not a finite real number")
    _check_size(_binary_size(value), tiny)
    return value


def _binary_size(value: sympy.Expr) -> int | None:
    """log2 |value| to within 1 (None for 0), read from the representation, never computed."""
    if not value:
        return None
    if value.is_Rational:
        return abs(value.p).bit_length() - value.q.bit_length()
    _, _, exponent, bits = value._mpf_
    return exponent + bits


def _check_size(bits: int | None, tiny: bool = False) -> None:
    if bits is not None and bits > _LIMIT_BITS:
        raise ValueSizeError(f"larger than 10^{MAX_VALUE_EXPONENT}")
    if bits is not None and bits < -_LIMIT_BITS and not tiny:
        raise ValueSizeError(f"smaller than 10^-{MAX_VALUE_EXPONENT} (and not 0)")


def value_at(formula: sympy.Expr, at: Mapping[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """``formula``'s value with each symbol of ``at`` replaced by its number, settled.

    Computed operation by operation from the innermost, each result settled before the next
    (so no exact number grows past MAX_EXACT_DIGITS), and each power or exponential sized
    before it is computed (so none grows past 10^±MAX_VALUE_EXPONENT): x**x**x**99 at 5 is a
    clear ValueSizeError at once, not an hour of exact arithmetic.

    Raises:
        ArithmeticError: a value is not a finite real number (log of 0, 0 to a negative power).
        ValueSizeError: a value lies beyond 10^±MAX_VALUE_EXPONENT in size.
    """
    results: dict[sympy.Basic, sympy.Basic] = {}
    # NOTE: a walk with a stack, not recursion: a formula may nest deeper than Python's frames.
    stack: list[tuple[sympy.Basic, bool]] = [(formula, False)]
    while stack:
        node, ready = stack.pop()
        if node in results:
            continue
        if node.args and not ready:
            stack.append((node, True))
            stack.extend((argument, False) for argument in node.args)
            continue
        results[node] = _operate(node, [results[argument] for argument in node.args], at)
    return results[formula]


def _operate(node: sympy.Basic, arguments: list[sympy.Basic], at: Mapping[sympy.Symbol, sympy.Expr]):
    if node.is_Symbol:
        return at[node]
    if not isinstance(node, sympy.Expr) or node.is_Rational:
        return node.func(*arguments) if arguments else node  # exact numbers, and a Piecewise's conditions
    if node.is_Pow:
        return _power(*arguments)
    if isinstance(node, sympy.exp):
        _check_size(_bits_of(lambda argument: argument * mpmath.log(mpmath.e, 2), arguments[0]), tiny=True)
    return settle(node.func(*arguments) if arguments else node, tiny=True)


def _bits_of(size, *operands: sympy.Expr) -> int:
    """log2 of a result about to be computed, by ``size`` over the operands at 53 bits: fast at any size."""
    with mpmath.workprec(53):
        return int(mpmath.nint(size(*(_mpf(operand) for operand in operands))))


def _mpf(value: sympy.Expr) -> mpmath.mpf:
    """A number at mpmath's working precision."""
    return mpmath.mpf(sympy.Float(value, mpmath.mp.dps)._to_mpmath(mpmath.mp.prec))


#: Integer powers up to this are multiplied out (exactly rounded); higher ones go through exp and log.
SMALL_POWER = 2**16


def _power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """``base ** exponent``, sized first, exact while short, else through exp and log at DIGITS."""
    if not base:
        if exponent.is_negative:
            raise ArithmeticError("0 is raised to a negative power")
        return sympy.Integer(0) if exponent else sympy.Integer(1)
    if not exponent:
        return sympy.Integer(1)
    _check_size(_bits_of(lambda b, e: e * mpmath.log(abs(b), 2), base, exponent), tiny=True)
    if base.is_Rational and exponent.is_Rational:
        if (abs(base.p).bit_length() + base.q.bit_length()) * abs(exponent) <= _EXACT_BITS:
            return settle(base**exponent, tiny=True)
    if base.is_negative and not exponent.is_integer:
        raise ArithmeticError("a negative number is raised to a fractional power")
    with mpmath.workdps(DIGITS + 10):
        if exponent.is_integer and abs(exponent) <= SMALL_POWER:
            result = mpmath.power(_mpf(base), int(exponent))
        else:
            # NOTE: exp(e·log|b|) rather than mpmath's power, which multiplies out a huge integer exponent.
            result = mpmath.exp(_mpf(exponent) * mpmath.log(abs(_mpf(base))))
            if base.is_negative and int(exponent) % 2:
                result = -result
    return settle(sympy.Float(result, DIGITS), tiny=True)


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
