"""Checking a student's answers: right, wrong (and which mistake), or right given an earlier error."""

from __future__ import annotations

import decimal
import json
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path

import click
import sympy

from ..core.errors import SpecError
from ..core.evaluation import Values, compute
from ..core.numbers import AmbiguousNumber, parse_number, settle, show
from ..core.printable import visible
from ..core.spec import describe, input_name, read_document
from ..core.steps import OutputSlope, Quantity
from ..render.formats import FORMATS, formats_for
from ..render.render import Block, Math, Table, build_document, environment, json_number
from .aliases import Aliases
from .mistakes import replay, variants

#: Every verdict, in the order the summary counts them.
VERDICTS = ("right", "wrong", "carried_forward", "unknown")
#: The sign each verdict is marked with.
SIGNS = {"right": "✓", "wrong": "✗", "carried_forward": "↪", "unknown": "?"}
_COLOURS = {"right": "green", "wrong": "red", "carried_forward": "yellow", "unknown": "magenta"}
#: The most significant digits a value is shown with, however many the student wrote.
MAX_SHOWN_DIGITS = 20
#: How many changed steps a "follows from" names before it says "…".
_ORIGINS_NAMED = 3


# --- the answers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One answer as the student wrote it.

    Attributes:
        name: The quantity's name as written.
        written: The number as written (``0.750``, ``-1/3``).
        value: Its exact value.
        unit: The place value of its last digit (1/1000 for ``0.750``); None for a fraction, which is exact.
    """

    name: str
    written: str
    value: sympy.Rational
    unit: sympy.Rational | None

    @property
    def digits(self) -> int:
        """How many significant digits were written (0 for a fraction)."""
        if self.unit is None or self.value == 0:
            return 0
        return max(1, _exponent(self.value) - _exponent(self.unit) + 1)


def read_answers(path: str | Path) -> tuple[Answer, ...]:
    """The answers in a YAML or JSON file mapping quantity names to numbers.

    Raises:
        SpecError: the file is unreadable, not a map, or an answer is not a number (naming the answer).
    """
    document = read_document(path)
    try:
        return parse_answers(document)
    except SpecError as error:
        raise error.with_file(input_name(path)) from None


def parse_answers(document: object) -> tuple[Answer, ...]:
    """The answers in a parsed document: ``{"dL/dw13": 20, "y5": Decimal("10.0"), "x3": "1/3"}``."""
    if not isinstance(document, dict) or not document:
        raise SpecError(f"expected a map from quantity names to numbers (e.g. \"dL/dw13: 20\"), got "
                        f"{describe(document)}")
    for name in document:
        if isinstance(name, bool) or not isinstance(name, (str, int)):
            raise SpecError(f"expected a quantity's name such as dL/dw13 as the key, got {describe(name)}")
    # NOTE: a name is the student's own string, kept printable from here on: in no format can it forge a
    # line of the report (a name "y5\n✓ dL/dw13 = 999") or send a terminal sequence.
    return tuple(_answer(visible(str(name)), raw) for name, raw in document.items())


def _answer(name: str, raw: object) -> Answer:
    problem = f"expected a number such as 20, -0.5 or \"1/3\", got {describe(raw)}"
    if isinstance(raw, bool) or not isinstance(raw, (int, float, decimal.Decimal, str)):
        raise SpecError(problem, name)
    if isinstance(raw, AmbiguousNumber):
        raise SpecError(raw.problem, name)
    text = (repr(raw) if isinstance(raw, float) else str(raw)).strip().replace("−", "-").replace("_", "")
    try:
        # NOTE: parse_number bounds the size first, so 1e999999999 is refused, not expanded.
        value = parse_number(raw if isinstance(raw, int) else text)
    except ValueError as error:
        raise SpecError(str(error), name) from None
    if isinstance(raw, int):
        return Answer(name, text, value, sympy.Integer(1))
    if "/" in text:
        return Answer(name, text, value, None)
    return Answer(name, text, value, sympy.Integer(10) ** decimal.Decimal(text).as_tuple().exponent)


def _exponent(value: sympy.Expr) -> int:
    """The power of ten of a nonzero value's first significant digit (-1 for 0.75)."""
    return decimal.Decimal(str(sympy.Float(abs(value), 60))).adjusted()


def agrees(answer: Answer, value: sympy.Expr, tolerance: sympy.Rational | None = None, precision: int = 6) -> bool:
    """True when ``answer`` is ``value`` as the student wrote it.

    Without a tolerance: the value rounded to the digits written, give or take one in the last
    digit (SPEC §4.2). The digits must reach the value's first significant digit (0 is not 0.3),
    and where the value needs no rounding at those digits (20 for 20, 0.5 for 0.50) the answer
    must be exact. A fraction is exact: equal to an exact value, or to ``precision`` digits.

    Args:
        answer: The student's answer.
        value: The value it should be.
        tolerance: The largest difference accepted, instead of the digits written.
        precision: Significant digits a fraction is compared to when the value is not exact.
    """
    difference = abs(answer.value - value)
    if tolerance is not None:
        return bool(difference <= tolerance)
    unit = answer.unit
    if unit is None:
        if value.is_Rational:
            return difference == 0
        unit = sympy.Integer(10) ** (_exponent(value) - precision + 1)
    if value != 0:
        unit = min(unit, sympy.Integer(10) ** _exponent(value))
    if value.is_Rational and (value / unit).is_Integer:
        # NOTE: nothing to round, so nothing to be one digit off by: 21 is not 20 in an exact exercise.
        return difference == 0
    return bool(difference <= 3 * unit / 2)


# --- marking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """The verdict on one answer.

    Attributes:
        answer: The answer marked.
        quantity: The quantity it answers; None when its name is unknown.
        name: The solution's name for it (the name as written when unknown).
        verdict: ``right``, ``wrong``, ``carried_forward`` or ``unknown``.
        expected: The true value; None when unknown.
        mistake: The mistake's code when one explains a wrong answer.
        explanation: One sentence on what went wrong, what it follows from, or why it is unknown.
        follows_from: For a carried-forward answer, the solution's names of the earlier answers it follows from.
    """

    answer: Answer
    quantity: Quantity | None
    name: str
    verdict: str
    expected: sympy.Expr | None = None
    mistake: str | None = None
    explanation: str | None = None
    follows_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """A marked answer sheet: one mark per answer, in the sheet's order."""

    solution: object
    marks: tuple[Mark, ...]

    @property
    def summary(self) -> dict[str, int]:
        """How many answers got each verdict."""
        return {verdict: sum(mark.verdict == verdict for mark in self.marks) for verdict in VERDICTS}

    @property
    def all_right(self) -> bool:
        """True when no answer is wrong or carried forward (unknown names do not count)."""
        return not any(mark.verdict in ("wrong", "carried_forward") for mark in self.marks)


def reads(step) -> tuple[Quantity, ...]:
    """The quantities a step's value is computed from."""
    found: list[Quantity] = []

    def walk(value) -> None:
        if isinstance(value, Quantity):
            found.append(value)
        elif isinstance(value, tuple):
            for item in value:
                walk(item)
        elif is_dataclass(value) and hasattr(value, "result"):
            for field in fields(value):
                if field.name != "result":
                    walk(getattr(value, field.name))

    walk(step)
    if isinstance(step, OutputSlope):
        # NOTE: ∂L/∂y₅ is written over every output of the loss, but reads only those in its formula.
        symbols = step.formula.free_symbols
        found = [quantity for quantity in found if quantity.symbol in symbols]
    return tuple(dict.fromkeys(found))


class Checker:
    """Marks answer sheets against one solution (its first training step).

    The variants of the derivation that the common mistakes make are evaluated once and reused
    for every sheet.

    Args:
        solution: The solved exercise.
    """

    def __init__(self, solution) -> None:
        self.solution = solution
        self.truth: Values = solution.values[0]
        self.steps = list(solution.derivation.steps())
        self.step_of = {step.result: step for step in self.steps}
        self.reads = {step.result: reads(step) for step in self.steps}
        self.position = {quantity: index for index, quantity in enumerate(self.truth)}
        self.aliases = Aliases(solution)
        self.variants = variants(solution)
        self._ancestors: dict[Quantity, frozenset[Quantity]] = {}

    def name(self, quantity: Quantity) -> str:
        """The solution's ASCII name of ``quantity``."""
        return self.solution.notation.ascii(quantity)

    def number(self, value: sympy.Expr, answer: Answer | None = None) -> str:
        """A value in plain ASCII, to as many digits as ``answer`` was written with (at least the solution's)."""
        return show(value, _shown_digits(self.solution.precision, answer)).plain()

    def mark(self, answers: tuple[Answer, ...], tolerance: sympy.Rational | None = None) -> Report:
        """Mark ``answers``: each right, wrong (with the mistake that explains it), carried forward or unknown.

        Raises:
            SpecError: two answers name the same quantity.
        """
        given: dict[Quantity, Answer] = {}
        for answer in answers:
            found = self.aliases.find(answer.name)
            if len(found) == 1:
                if found[0] in given:
                    raise SpecError(f"answers {given[found[0]].name} and {answer.name} both name "
                                    f"{self.name(found[0])}; give each quantity once", answer.name)
                given[found[0]] = answer
        sheet = _Sheet(self, given, tolerance)
        for quantity in sorted(given, key=self.position.__getitem__):
            sheet.verdicts[quantity] = self._judge(quantity, sheet)
        marks = []
        for answer in answers:
            found = self.aliases.find(answer.name)
            marks.append(sheet.verdicts[found[0]] if len(found) == 1 else self._unknown(answer, found))
        return Report(self.solution, tuple(marks))

    def agrees(self, answer: Answer, value: sympy.Expr | None, tolerance) -> bool:
        """``agrees`` at this solution's precision; never for a value that could not be computed."""
        return value is not None and agrees(answer, value, tolerance, self.solution.precision)

    def _judge(self, quantity: Quantity, sheet: _Sheet) -> Mark:
        answer, name, expected = sheet.given[quantity], self.name(quantity), self.truth[quantity]
        mark = Mark(answer, quantity, name, "right", expected)
        if self.agrees(answer, expected, sheet.tolerance):
            return mark
        step = self.step_of.get(quantity)
        if step is None:
            return replace(mark, verdict="wrong",
                           explanation=f"{name} is given in the exercise as {self.number(expected, answer)}.")
        recomputed = _value(step, sheet.student)
        if self.agrees(answer, recomputed, sheet.tolerance):
            earlier = [source for source in self._sources(quantity, sheet.given)
                       if sheet.verdicts[source].verdict != "right"]
            if not earlier:
                # NOTE: right from the student's own right (rounded) numbers: rounding carried along.
                return mark
            listed = " and ".join(f"{self.name(source)} = {sheet.given[source].written}" for source in earlier)
            return replace(mark, verdict="carried_forward", follows_from=tuple(map(self.name, earlier)),
                           explanation=f"{name} is right given your {listed}.")
        mistake, explanation = self._diagnose(quantity, sheet)
        if mistake is None:
            right = self.number(expected, answer)
            own = self.number(recomputed, answer) if recomputed is not None else right
            explanation = f"{name} should be {right}"
            if own != right:
                explanation += f" ({own} from your own earlier numbers)"
            explanation += "; no common mistake explains your number."
        return replace(mark, verdict="wrong", mistake=mistake, explanation=explanation)

    def _diagnose(self, quantity: Quantity, sheet: _Sheet) -> tuple[str | None, str | None]:
        """The mistake that gives the student's answer for ``quantity``, and one sentence on it.

        Each mistake is made on the student's own numbers (in the quantity's step and in the
        steps before it the student did not write down), then on the true ones; a mistake in the
        quantity's own step is preferred to one whose effect reaches it.
        """
        answer, name = sheet.given[quantity], self.name(quantity)
        ancestors = self.ancestors(quantity)
        own_numbers = any(sheet.verdicts[source].verdict != "right" for source in self._sources(quantity, sheet.given))
        remark = " (working from your own earlier numbers)" if own_numbers else ""
        candidates = ([index for index, variant in enumerate(self.variants) if quantity in variant.changes]
                      + [index for index, variant in enumerate(self.variants)
                         if quantity not in variant.changes and variant.changes.keys() & ancestors])
        worlds = ((sheet.with_mistake, sheet.student, remark), (lambda index: self.variants[index].values, self.truth, ""))
        for with_mistake, without, remark in worlds:
            for index in candidates:
                variant, values = self.variants[index], with_mistake(index)
                # NOTE: the quantity itself recomputed, never kept: the student's answer is what is in question.
                value = _value(variant.changes.get(quantity, self.step_of[quantity]), values)
                if not self.agrees(answer, value, sheet.tolerance):
                    continue
                if quantity in variant.changes:
                    return variant.code, f"{name}: {variant.detail}{remark}."
                origins = [changed for changed in variant.changes
                           if changed in ancestors and values[changed] != without[changed]]
                if origins:
                    where = " and ".join(map(self.name, origins[:_ORIGINS_NAMED]))
                    more = " and others" if len(origins) > _ORIGINS_NAMED else ""
                    return variant.code, f"{name}: {variant.detail}, in {where}{more}{remark}."
        return None, None

    def ancestors(self, quantity: Quantity) -> frozenset[Quantity]:
        """Every quantity ``quantity`` is computed from, directly or not."""
        if quantity not in self._ancestors:
            found: set[Quantity] = set()
            stack = list(self.reads.get(quantity, ()))
            while stack:
                source = stack.pop()
                if source not in found:
                    found.add(source)
                    stack.extend(self.reads.get(source, ()))
            self._ancestors[quantity] = frozenset(found)
        return self._ancestors[quantity]

    def _sources(self, quantity: Quantity, given: dict[Quantity, Answer]) -> list[Quantity]:
        """The student's answers that ``quantity`` is computed from, through any not given, earliest first."""
        found: set[Quantity] = set()
        seen: set[Quantity] = set()
        stack = list(self.reads[quantity])
        while stack:
            source = stack.pop()
            if source in seen:
                continue
            seen.add(source)
            if source in given:
                found.add(source)
            else:
                stack.extend(self.reads.get(source, ()))
        return sorted(found, key=self.position.__getitem__)

    def _unknown(self, answer: Answer, found: tuple[Quantity, ...]) -> Mark:
        if found:
            explanation = (f"{answer.name} could mean {' or '.join(map(self.name, found))}; "
                           "write one of those names.")
        else:
            suggestion = self.aliases.suggestion(answer.name)
            explanation = f"this solution has no quantity called {answer.name}"
            explanation += f"; did you mean {suggestion}?" if suggestion else "."
        return Mark(answer, None, answer.name, "unknown", explanation=explanation)


class _Sheet:
    """One answer sheet being marked: its answers, the student's own world, the verdicts so far."""

    def __init__(self, checker: Checker, given: dict[Quantity, Answer], tolerance) -> None:
        self.checker = checker
        self.given = given
        self.tolerance = tolerance
        # Every value recomputed from the student's own numbers, where the student gave them.
        seed = {**checker.truth, **{quantity: answer.value for quantity, answer in given.items()}}
        self.student: Values = replay(checker.steps, seed, keep=given)
        self.verdicts: dict[Quantity, Mark] = {}
        self._worlds: dict[int, Values] = {}

    def with_mistake(self, index: int) -> Values:
        """The student's world with variant ``index``'s mistake made in every step the student did not write."""
        if index not in self._worlds:
            variant = self.checker.variants[index]
            self._worlds[index] = replay(variant.steps(self.checker.steps), self.student, keep=self.given)
        return self._worlds[index]


def _shown_digits(precision: int, answer: Answer | None) -> int:
    # NOTE: at most MAX_SHOWN_DIGITS: more is noise to a reader.
    return min(max(precision, answer.digits if answer else 0), MAX_SHOWN_DIGITS)


def _value(step, values: Values) -> sympy.Expr | None:
    """``step``'s value from ``values``; None where it has no finite one (log of a negative number)."""
    try:
        return settle(compute(step, values))
    except (ArithmeticError, TypeError):
        return None


def check(solution, answers: tuple[Answer, ...], tolerance: sympy.Rational | None = None) -> Report:
    """Mark ``answers`` against ``solution``.

    Example:
        >>> from backprop_derive import solve
        >>> report = check(solve("examples/seed_relu.yaml"), parse_answers({"y5": 10, "dL/dy5": -10}))
        >>> [mark.verdict for mark in report.marks], report.marks[1].mistake
        (['right', 'wrong'], 'sign_flip')
    """
    return Checker(solution).mark(answers, tolerance)


# --- the report --------------------------------------------------------------------------


REPORT_FORMATS = formats_for("check")


def report_json(report: Report) -> dict:
    """SPEC §4.2's object: each answer's name, given, expected, verdict, mistake, explanation; the summary."""
    return {
        "answers": [{"name": mark.name, "given": json_number(mark.answer.value, f"answers[{index}].given"),
                     "expected": (json_number(mark.expected, f"answers[{index}].expected")
                                  if mark.expected is not None else None),
                     "verdict": mark.verdict, "mistake": mark.mistake, "explanation": mark.explanation}
                    for index, mark in enumerate(report.marks)],
        "summary": report.summary,
    }


def summary_line(report: Report) -> str:
    """``5 right, 1 wrong, 3 carried forward, 1 unknown``."""
    return ", ".join(f"{count} {verdict.replace('_', ' ')}" for verdict, count in report.summary.items())


def report_text(report: Report, color: bool = False) -> str:
    """The terminal report: a sign per answer, the right value and the mistake where wrong."""
    lines = []
    for mark in report.marks:
        written = mark.answer.name
        label = written if written == mark.name or mark.verdict == "unknown" else f"{written} ({mark.name})"
        head = f"{SIGNS[mark.verdict]} {label} = {mark.answer.written}"
        if color:
            head = click.style(head, fg=_COLOURS[mark.verdict], bold=mark.verdict == "wrong")
        if mark.verdict in ("wrong", "carried_forward"):
            head += f"   expected {show(mark.expected, _shown_digits(report.solution.precision, mark.answer)).plain()}"
        if mark.verdict == "carried_forward":
            head += "   carried forward"
        if mark.mistake:
            head += f"   [{mark.mistake}]"
        lines.append(head)
        if mark.explanation:
            lines.append(f"    {mark.explanation}")
    lines += ["", summary_line(report)]
    return "\n".join(lines) + "\n"


def report_sheet(report: Report, fmt: str) -> str:
    """The worked solution with each answer marked beside its line, and a table of all answers (md, tex or html)."""
    solution = report.solution
    typography = FORMATS[fmt].typography(solution.precision)
    marks = {mark.quantity: _sheet_mark(mark) for mark in report.marks if mark.quantity is not None}
    rows = []
    for mark in report.marks:
        name = Math(typography.name(solution.notation, mark.quantity)) if mark.quantity else _cell(mark.name, fmt)
        expected = Math(typography.number(mark.expected)) if mark.expected is not None else ""
        verdict = f"{SIGNS[mark.verdict]} {mark.verdict.replace('_', ' ')}"
        # NOTE: the answer as written is text; only LaTeX takes it as it is for mathematics.
        written = mark.answer.written if fmt == "html" else Math(mark.answer.written)
        rows.append((name, written, expected, verdict + (f" ({mark.mistake})" if mark.mistake else "")))
    answers = Block("Your answers", summary_line(report) + ".",
                    table=Table(("quantity", "your answer", "right value", "verdict"), tuple(rows)), level=2)
    unknown = [mark.explanation for mark in report.marks if mark.verdict == "unknown"]
    document = build_document(solution, typography, marks=marks)
    overview = (answers,) + ((Block("Names not in this solution", " ".join(map(_capital, unknown)), level=3),)
                             if unknown else ()) + document.overview
    document = replace(document, title=f"{document.title}: your answers, marked", overview=overview)
    return environment(fmt).get_template(f"solution.{fmt}.j2").render(document=document, standalone=True,
                                                                       figure_stem=None)


def _sheet_mark(mark: Mark) -> str:
    words = {"right": "right", "wrong": "wrong", "carried_forward": "carried forward"}[mark.verdict]
    text = f"{SIGNS[mark.verdict]} Your answer {mark.answer.written}: {words}"
    text += f" ({mark.mistake})." if mark.mistake else "."
    return f"{text} {mark.explanation}" if mark.explanation else text


def _cell(text: str, fmt: str) -> str:
    # NOTE: a Markdown table cell ends at "|"; the LaTeX template escapes plain cells itself.
    return text.replace("|", r"\|") if fmt == "md" else text


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def render_report(report: Report, fmt: str, color: bool = False) -> str:
    """The report in ``fmt``: txt (``color`` for a terminal), md, tex, html or json."""
    if fmt == "json":
        return json.dumps(report_json(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "txt":
        return report_text(report, color)
    return report_sheet(report, fmt)
