"""Numbers: exact values from a spec, high-precision values once exp or log enter, and their display."""

from __future__ import annotations

import decimal
import fractions
from dataclasses import dataclass

import mpmath
import sympy

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


def settle(value: sympy.Expr) -> sympy.Expr:
    """A computed value as the solution carries it: exact if rational, else a DIGITS-digit Float."""
    if value.is_Rational:
        return value
    if value.is_Float:
        if not value.is_finite:
            raise ArithmeticError(f"the value {value} is not a finite real number")
        return value
    number = value.evalf(DIGITS)
    if not number.is_Number or number.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise ArithmeticError(f"the value {value} is not a finite real number")
    return sympy.Float(number, DIGITS)


def dot(pairs) -> sympy.Expr:
    """Σ a·b over ``pairs`` of values (b None for 1): exact while every value is rational, otherwise
    a DIGITS-digit Float.

    NOTE: the inexact case is summed in mpmath directly, not through SymPy's Float arithmetic, which
    spends most of its time building and normalising intermediate objects.
    """
    pairs = list(pairs)
    if all(a.is_Rational and (b is None or b.is_Rational) for a, b in pairs):
        return sympy.Add(*(a if b is None else a * b for a, b in pairs))
    with mpmath.workdps(DIGITS):
        total = mpmath.fsum(_mpf(a) if b is None else _mpf(a) * _mpf(b) for a, b in pairs)
        return sympy.Float._new(total._mpf_, mpmath.mp.prec)


def _mpf(value: sympy.Expr) -> mpmath.mpf:
    """``value`` as an mpmath number at the working precision (a Float's own digits, kept)."""
    if value.is_Float:
        return mpmath.mpf(value._mpf_)
    if value.is_Rational:
        return mpmath.mpf(int(value.p)) / int(value.q)
    return mpmath.mpf(sympy.Float(value, DIGITS)._mpf_)


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
