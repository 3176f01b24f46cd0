"""Checking a student's answers: right, wrong (and which mistake), or right given an earlier error."""

from __future__ import annotations

import decimal
import json
import re
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import cached_property
from pathlib import Path

import click
import sympy
import yaml

from ..core.errors import SpecError
from ..core.evaluation import Values, compute
from ..core.graph import Ref
from ..core.numbers import AmbiguousNumber, parse_number, settle, show
from ..core.printable import visible
from ..core.spec import describe, input_name, read_document
from ..core.steps import OutputSlope, Quantity
from ..render.formats import FORMATS, formats_for
from ..render.pdf import compile_pdf
from ..render.render import Block, Document, Math, Table, build_document, environment, json_number
from ..render.typography import Latex
from .aliases import Aliases
from .mistakes import later_steps_marked, mistaken_runs, replay, solve_steps, variants

#: Every verdict, in the order the summary counts them.
VERDICTS = ("right", "wrong", "carried_forward", "imprecise", "unanswered", "unknown")
#: The sign each verdict is marked with.
SIGNS = {"right": "✓", "wrong": "✗", "carried_forward": "↪", "imprecise": "≈", "unanswered": "–", "unknown": "?"}
_COLOURS = {"right": "green", "wrong": "red", "carried_forward": "yellow", "imprecise": "cyan",
            "unanswered": "blue", "unknown": "magenta"}
#: The fewest significant digits an answer is written with, unless told otherwise (``--min-digits``).
MIN_DIGITS = 2
#: Significant digits a double holds: an answer written with more was pasted from a computer.
DOUBLE_DIGITS = 15
#: How closely such a full-precision answer must agree, relative to the value.
FULL_PRECISION = sympy.Rational(1, 10**12)
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
        written: The number as written (``0.750``, ``-1/3``); empty when left blank.
        value: Its exact value; None when left blank.
        unit: The place value of its last digit (1/1000 for ``0.750``); None for a fraction, which is exact.
    """

    name: str
    written: str
    value: sympy.Rational | None
    unit: sympy.Rational | None

    @property
    def blank(self) -> bool:
        """True when the student left the answer empty."""
        return self.value is None

    @cached_property
    def digits(self) -> int:
        """How many significant digits were written (0 for a fraction)."""
        if self.unit is None or not self.value:
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
    answers = []
    for name, raw in document.items():
        later = LATER_STEP.fullmatch(str(name))
        if later and isinstance(raw, dict):
            # NOTE: a later training step's answers, under the names `solve --format json --steps N` gives them.
            answers += [_answer(visible(f"step {int(later[1])}: {inner}"), value) for inner, value in raw.items()]
        else:
            answers.append(_answer(visible(str(name)), raw))
    return tuple(answers)


#: A group of answers for a later training step (``step 2: {w13_new: 1.8}``), and an answer's name in it.
LATER_STEP = re.compile(r"step ([0-9]{1,4})")
LATER_NAME = re.compile(r"step ([0-9]{1,4}): (.+)")


def _answer(name: str, raw: object) -> Answer:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Answer(name, "", None, None)
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
    if value.is_Rational:
        # NOTE: in integers, exactly and fast (marking a class calls this thousands of times).
        numerator, denominator = abs(value.p), value.q
        exponent = len(str(numerator)) - len(str(denominator))
        return exponent if numerator * 10 ** max(0, -exponent) >= denominator * 10 ** max(0, exponent) else exponent - 1
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
    if answer.digits > DOUBLE_DIGITS and difference <= FULL_PRECISION * abs(value):
        # NOTE: pasted from numpy or a calculator: the last digits are a double's noise, not the student's.
        return True
    if value.is_Rational and (value / unit).is_Integer:
        # NOTE: nothing to round, so nothing to be one digit off by: 21 is not 20 in an exact exercise.
        return difference == 0
    return bool(difference <= 3 * unit / 2)


def judge(answer: Answer, value: sympy.Expr | None, tolerance: sympy.Rational | None = None, precision: int = 6,
          min_digits: int = MIN_DIGITS) -> str | None:
    """``right``, ``imprecise`` (right as far as written, but too few digits) or None (not this value).

    An answer exactly the value is right however it is written. Otherwise (without a tolerance) one
    written with fewer than ``min_digits`` significant digits is at best imprecise (``0.1`` is not
    marked right for 0.1498), and 0 is right only for exactly 0.

    Args:
        answer: The student's answer (not blank).
        value: The value it should be; None when it could not be computed.
        tolerance: The largest difference accepted, instead of the digits written.
        precision: Significant digits a fraction is compared to when the value is not exact.
        min_digits: The fewest significant digits a right answer is written with.
    """
    if value is None:
        return None
    if answer.value == value:
        return "right"
    if (answer.value == 0 and tolerance is None) or not agrees(answer, value, tolerance, precision):
        # NOTE: 0 has no significant digit to be imprecise in: it is right for exactly 0 only.
        return None
    coarse = answer.unit is not None and answer.digits < min_digits
    return "imprecise" if coarse and tolerance is None else "right"


# --- marking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """The verdict on one answer.

    Attributes:
        answer: The answer marked.
        quantity: The quantity it answers; None when its name is unknown.
        name: The solution's name for it (the name as written when unknown).
        verdict: ``right``, ``wrong``, ``carried_forward``, ``imprecise``, ``unanswered`` or ``unknown``.
        expected: The true value; None when unknown.
        mistake: The mistake's code when one explains a wrong answer.
        explanation: One sentence on what went wrong, what it follows from, or why it is unknown.
        follows_from: For a carried-forward answer, the solution's names of the earlier answers it follows from.
        said: The course's own name of the quantity (``answer_names``), when it has one.
    """

    answer: Answer
    quantity: Quantity | None
    name: str
    verdict: str
    expected: sympy.Expr | None = None
    mistake: str | None = None
    explanation: str | None = None
    follows_from: tuple[str, ...] = ()
    said: str = ""

    @property
    def label(self) -> str:
        """The name the report shows: the course's own (``answer_names``) where it has one, else the solution's."""
        return self.said or self.name


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
        """True when every answer is right (SPEC §4.2: anything else is exit code 1)."""
        return all(mark.verdict == "right" for mark in self.marks)


def reads(step) -> tuple[Quantity, ...]:
    """The quantities a step's value is computed from."""
    found: list[Quantity] = []

    def walk(value) -> None:
        if isinstance(value, (Quantity, Ref)):
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
        self.steps = list(solution.steps())
        self.step_of = {step.result: step for step in self.steps}
        self.reads = {step.result: reads(step) for step in self.steps}
        self.position = {quantity: index for index, quantity in enumerate(self.truth)}
        self.aliases = Aliases(solution)
        self.variants = variants(solution)
        self._ancestors: dict[Quantity, frozenset[Quantity]] = {}
        self._longer: dict[int, object] = {}
        self._later_worlds: dict[int, list] = {}

    def name(self, quantity: Quantity) -> str:
        """The solution's ASCII name of ``quantity``."""
        return self.solution.notation.ascii(quantity)

    def number(self, value: sympy.Expr, answer: Answer | None = None) -> str:
        """A value in plain ASCII, to as many digits as ``answer`` was written with (at least the solution's)."""
        return show(value, _shown_digits(self.solution.precision, answer)).plain()

    def mark(self, answers: tuple[Answer, ...], tolerance: sympy.Rational | None = None,
             min_digits: int = MIN_DIGITS) -> Report:
        """Mark ``answers``: each right, wrong (with the mistake that explains it), carried forward,
        imprecise, unanswered or unknown.

        Args:
            answers: The sheet's answers, in its order.
            tolerance: The largest difference accepted, instead of the digits written.
            min_digits: The fewest significant digits a right answer is written with (SPEC §4.2).

        Raises:
            SpecError: two answers name the same quantity.
        """
        later = {answer.name: LATER_NAME.fullmatch(answer.name) for answer in answers}
        later = {name: match for name, match in later.items() if match and int(match[1]) > 1}
        found = {answer.name: self.aliases.find(answer.name) for answer in answers if answer.name not in later}
        given: dict[Quantity, Answer] = {}
        named: dict[Quantity, Answer] = {}
        for answer in answers:
            if answer.name in found and len(found[answer.name]) == 1:
                quantity = found[answer.name][0]
                if quantity in named:
                    raise SpecError(f"answers {named[quantity].name} and {answer.name} both name "
                                    f"{self.name(quantity)}; give each quantity once", answer.name)
                named[quantity] = answer
                if not answer.blank:
                    given[quantity] = answer
        sheet = _Sheet(self, given, tolerance, min_digits)
        for quantity in sorted(given, key=self.position.__getitem__):
            sheet.verdicts[quantity] = self._judge(quantity, sheet)
        marks = []
        for answer in answers:
            if answer.name in later:
                marks.append(self._later(answer, int(later[answer.name][1]), later[answer.name][2], sheet))
                continue
            quantities = found[answer.name]
            if len(quantities) != 1:
                marks.append(self._unknown(answer, quantities))
            elif answer.blank:
                marks.append(Mark(answer, quantities[0], self.name(quantities[0]), "unanswered",
                                  self.truth[quantities[0]], said=self.aliases.course.get(quantities[0], "")))
            else:
                marks.append(sheet.verdicts[quantities[0]])
        return Report(self.solution, tuple(marks))

    def _later(self, answer: Answer, step: int, inner: str, sheet: _Sheet) -> Mark:
        """An answer of training step ``step`` (2 or later): right or wrong against that step's value, and the
        update-stage mistake that, made at every step, gives the student's number."""
        quantities = self.aliases.find(inner)
        solution = self.solution
        if len(quantities) != 1 or not later_steps_marked(solution):
            mark = self._unknown(replace(answer, name=inner), quantities)
            if len(quantities) == 1:
                mark = replace(mark, explanation="later steps are marked for exercises with a learning rate, "
                                                 "networks trained in batch")
            return replace(mark, answer=answer, name=answer.name)
        quantity = quantities[0]
        longer = self._solved(step)
        expected = longer.values[step - 1].get(quantity)
        name = f"step {step}: {self.name(quantity)}"
        if expected is None:
            return Mark(answer, quantity, name, "unknown", explanation=f"step {step} has no {self.name(quantity)}")
        mark = Mark(answer, quantity, name, "right", expected)
        verdict = self.judge(answer, expected, sheet)
        if verdict == "right":
            return mark
        if answer.blank:
            return replace(mark, verdict="unanswered")
        for code, detail, values in self._later_variants(step):
            value = values.get(quantity)
            if value is not None and self.judge(answer, value, sheet) == "right":
                return replace(mark, verdict="wrong", mistake=code,
                               explanation=f"{name}: {detail} (at every step up to step {step}).")
        return replace(mark, verdict="imprecise" if verdict == "imprecise" else "wrong",
                       explanation=f"{name} should be {self.number(expected, answer)}; no common mistake explains "
                                   "your number.")

    def _solved(self, steps: int):
        if steps not in self._longer:
            self._longer[steps] = solve_steps(self.solution, steps)
        return self._longer[steps]

    def _later_variants(self, step: int) -> list[tuple[str, str, Values]]:
        """Each update-stage mistake made at every step: its code, its detail, its values at ``step``."""
        if step not in self._later_worlds:
            self._later_worlds[step] = mistaken_runs(self._solved(step), step)
        return self._later_worlds[step]

    def judge(self, answer: Answer, value: sympy.Expr | None, sheet: _Sheet) -> str | None:
        """``judge`` at this solution's precision and the sheet's tolerance and fewest digits."""
        return judge(answer, value, sheet.tolerance, self.solution.precision, sheet.min_digits)

    def _judge(self, quantity: Quantity, sheet: _Sheet) -> Mark:
        answer, expected = sheet.given[quantity], self.truth[quantity]
        mark = Mark(answer, quantity, self.name(quantity), "right", expected, said=self.aliases.course.get(quantity, ""))
        # NOTE: explanations speak the course's names (answer_names) where it has them; JSON keeps the solution's.
        said = self.aliases.name_of
        name = said(quantity)
        verdict = self.judge(answer, expected, sheet)
        if verdict == "right":
            return mark
        imprecise = replace(mark, verdict="imprecise",
                            explanation=f"{name} is {self.number(expected)}: right as far as written, but give "
                                        f"at least {sheet.min_digits} significant digits.")
        step = self.step_of.get(quantity)
        if step is None:
            return imprecise if verdict else replace(
                mark, verdict="wrong", explanation=f"{name} is given in the exercise as {self.number(expected, answer)}.")
        recomputed = _value(step, sheet.student)
        # NOTE: credit only where the student's own numbers really give the answer to the digits written:
        # judge() never calls a 0 or a one-digit answer right unless it is exactly the recomputed value.
        if self.judge(answer, recomputed, sheet) == "right":
            earlier = [source for source in self._sources(quantity, sheet.given)
                       if sheet.verdicts[source].verdict != "right"]
            if not earlier:
                # NOTE: right from the student's own right (rounded) numbers: rounding carried along.
                return mark
            listed = " and ".join(f"{said(source)} = {sheet.given[source].written}" for source in earlier)
            return replace(mark, verdict="carried_forward", follows_from=tuple(map(self.name, earlier)),
                           explanation=f"{name} is right given your {listed}.")
        mistake, explanation = self._diagnose(quantity, sheet)
        if mistake is None and verdict == "imprecise":
            # NOTE: after the other readings: a few digits that are exactly a mistake's number are that mistake.
            return imprecise
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
        answer, name = sheet.given[quantity], self.aliases.name_of(quantity)
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
                if self.judge(answer, value, sheet) != "right":
                    continue
                if quantity in variant.changes:
                    return variant.code, f"{name}: {variant.detail}{remark}."
                origins = [changed for changed in variant.changes
                           if changed in ancestors and values[changed] != without[changed]]
                if origins:
                    where = " and ".join(map(self.aliases.name_of, origins[:_ORIGINS_NAMED]))
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
            suggestions = self.aliases.suggestions(answer.name)
            explanation = f"this solution has no quantity called {answer.name}"
            explanation += f"; did you mean {' or '.join(suggestions)}?" if suggestions else "."
        return Mark(answer, None, answer.name, "unknown", explanation=explanation)


class _Sheet:
    """One answer sheet being marked: its answers, the student's own world, the verdicts so far."""

    def __init__(self, checker: Checker, given: dict[Quantity, Answer], tolerance, min_digits: int) -> None:
        self.checker = checker
        self.given = given
        self.tolerance = tolerance
        self.min_digits = min_digits
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


def check(solution, answers: tuple[Answer, ...], tolerance: sympy.Rational | None = None,
          min_digits: int = MIN_DIGITS) -> Report:
    """Mark ``answers`` against ``solution``.

    Example:
        >>> from backprop_derive import solve
        >>> report = check(solve("examples/seed_relu.yaml"), parse_answers({"y5": 10, "dL/dy5": -10}))
        >>> [mark.verdict for mark in report.marks], report.marks[1].mistake
        (['right', 'wrong'], 'sign_flip')
    """
    return Checker(solution).mark(answers, tolerance, min_digits)


def blank_answers(solution) -> str:
    """A blank answers file for ``solution``: every name ``check`` accepts, in the solution's order.

    Each line is a name with no number (``unanswered`` until filled in), and a comment with the
    other spellings ``check`` also takes for it. A course's own names (``answer_names``) come first.
    """
    aliases = Aliases(solution)
    computed = {step.result for step in solution.steps()}  # NOTE: a graph solution's updates are steps too
    lines = [f"# Answers to: {solution.title or 'the exercise'}",
             "# Fill in each number (check marks a blank one as unanswered). Any spelling after",
             "# 'also' may be used instead of a name. The numbers the exercise gives are commented out."]
    for quantity, value in solution.values[0].items():
        name = aliases.name_of(quantity)
        others = [spelling for spelling in [solution.notation.ascii(quantity), *aliases.usual[quantity]]
                  if spelling != name]
        also = f"also {', '.join(others)}" if others else ""
        if quantity in computed:
            lines.append(f"{_yaml_key(name)}:" + (f"   # {also}" if also else ""))
        else:
            shown = show(value, solution.precision).plain()
            lines.append(f"# {_yaml_key(name)}: {shown}   (given{'; ' + also if also else ''})")
    return "\n".join(lines) + "\n"


def _yaml_key(name: str) -> str:
    """``name`` as a YAML key: plain where it reads back as itself, else quoted."""
    try:
        plain = yaml.safe_load(f"{name}: ") == {name: None}
    except yaml.YAMLError:
        plain = False
    return name if plain else json.dumps(name, ensure_ascii=False)


# --- the report --------------------------------------------------------------------------


REPORT_FORMATS = formats_for("check")
#: Where the report shows the right value beside the answer.
_SHOWS_EXPECTED = ("wrong", "carried_forward", "imprecise", "unanswered")


def report_json(report: Report) -> dict:
    """SPEC §4.2's object: each answer's name, given, expected, verdict, mistake, explanation; the summary.

    ``name`` is the solution's name (as in ``solve``'s ``quantities``); a quantity the course names itself
    (``answer_names``) also carries that name under ``answer_name``, as the other reports show it.
    """
    return {
        "answers": [{"name": mark.name,
                     **({"answer_name": mark.said} if mark.said else {}),
                     "given": json_number(mark.answer.value, f"answers[{index}].given") if not mark.answer.blank else None,
                     "expected": (json_number(mark.expected, f"answers[{index}].expected")
                                  if mark.expected is not None else None),
                     "verdict": mark.verdict, "mistake": mark.mistake, "explanation": mark.explanation}
                    for index, mark in enumerate(report.marks)],
        "summary": report.summary,
    }


def summary_line(report: Report) -> str:
    """``5 right, 1 wrong, 3 carried forward, 0 imprecise, 0 unanswered, 1 unknown``."""
    return ", ".join(f"{count} {verdict.replace('_', ' ')}" for verdict, count in report.summary.items())


def report_text(report: Report, color: bool = False) -> str:
    """The terminal report: a sign per answer, the right value and the mistake where wrong."""
    lines = []
    for mark in report.marks:
        written = mark.answer.name
        label = written if written in (mark.name, mark.label) or mark.verdict == "unknown" else f"{written} ({mark.label})"
        head = f"{SIGNS[mark.verdict]} {label} = {mark.answer.written}".rstrip()
        if color:
            head = click.style(head, fg=_COLOURS[mark.verdict], bold=mark.verdict == "wrong")
        if mark.verdict in _SHOWS_EXPECTED:
            head += f"   expected {show(mark.expected, _shown_digits(report.solution.precision, mark.answer)).plain()}"
        if mark.verdict in ("carried_forward", "imprecise", "unanswered"):
            head += f"   {mark.verdict.replace('_', ' ')}"
        if mark.mistake:
            head += f"   [{mark.mistake}]"
        lines.append(head)
        if mark.explanation:
            lines.append(f"    {mark.explanation}")
    lines += ["", summary_line(report)]
    return "\n".join(lines) + "\n"


def report_sheet(report: Report, fmt: str, blank: BlankSheet | None = None) -> str:
    """The worked solution with each answer marked beside its line, and a table of all answers (md, tex or html).

    Args:
        report: The marked answers.
        fmt: md, tex or html.
        blank: ``blank_sheet(report.solution, fmt)``, when many reports on one solution are printed.
    """
    solution = report.solution
    blank = blank or blank_sheet(solution, fmt)
    typography = blank.typography
    rows = []
    for mark in report.marks:
        # NOTE: a course's own name (answer_names) is the one the report shows, as Mark.label says.
        name = (_cell(mark.label, fmt) if mark.said or not mark.quantity
                else Math(typography.name(solution.notation, mark.quantity)))
        expected = Math(typography.number(mark.expected)) if mark.expected is not None else ""
        given = _cell(mark.answer.written, fmt) if mark.answer.written else ""
        verdict = f"{SIGNS[mark.verdict]} {mark.verdict.replace('_', ' ')}"
        rows.append((name, given, expected, verdict + (f" ({mark.mistake})" if mark.mistake else "")))
    answers = Block("Your answers", summary_line(report) + ".",
                    table=Table(("quantity", "your answer", "right value", "verdict"), tuple(rows)), level=2)
    unknown = [mark.explanation for mark in report.marks if mark.verdict == "unknown"]
    document = blank.marked({mark.quantity: _sheet_mark(mark) for mark in report.marks if mark.quantity is not None})
    overview = (answers,) + ((Block("Names not in this solution", " ".join(map(_capital, unknown)), level=3),)
                             if unknown else ()) + document.overview
    document = replace(document, title=f"{document.title}: your answers, marked", overview=overview)
    return environment(fmt).get_template(f"solution.{fmt}.j2").render(document=document, standalone=True,
                                                                       figure_stem=None)


@dataclass(frozen=True)
class BlankSheet:
    """The worked solution printed once for many marked sheets, a placeholder where each quantity's mark goes."""

    typography: Latex
    document: Document
    placeholders: dict[Quantity, str]

    def marked(self, marks: dict[Quantity, str]) -> Document:
        """The document with ``marks`` beside their quantities' lines (and no mark elsewhere)."""
        texts = {self.placeholders[quantity]: text for quantity, text in marks.items() if quantity in self.placeholders}

        def block(b: Block) -> Block:
            if not any(line.mark for line in b.lines):
                return b
            return replace(b, lines=tuple(replace(line, mark=texts.get(line.mark, "")) for line in b.lines))

        return replace(self.document, steps=tuple((heading, tuple(map(block, blocks)))
                                                  for heading, blocks in self.document.steps))


def blank_sheet(solution, fmt: str) -> BlankSheet:
    """The worked solution in ``fmt``'s typography, ready to be marked by ``BlankSheet.marked``."""
    typography = FORMATS[fmt].typography(solution.precision)
    placeholders = {quantity: f"mark-{index}" for index, quantity in enumerate(solution.values[0])}
    return BlankSheet(typography, build_document(solution, typography, marks=placeholders), placeholders)


def marked_sheet(report: Report, fmt: str, blank: BlankSheet | None = None) -> str | bytes:
    """The sheet to hand back in ``fmt`` (md, tex, html, or pdf compiled from LaTeX), the plain report for txt, or JSON.

    Args:
        report: The marked answers.
        fmt: txt, md, tex, html, pdf or json.
        blank: ``blank_sheet(report.solution, fmt)`` (tex for pdf), when many reports on one solution are printed.
    """
    if fmt == "pdf":
        return compile_pdf(report_sheet(report, "tex", blank))
    if fmt in ("txt", "json"):
        return render_report(report, fmt)
    return report_sheet(report, fmt, blank)


def _sheet_mark(mark: Mark) -> str:
    words = mark.verdict.replace("_", " ")
    if mark.answer.blank:
        return f"{SIGNS[mark.verdict]} Left blank: the value is the one above."
    text = f"{SIGNS[mark.verdict]} Your answer {mark.answer.written}: {words}"
    text += f" ({mark.mistake})." if mark.mistake else "."
    return f"{text} {mark.explanation}" if mark.explanation else text


def _cell(text: str, fmt: str) -> str:
    # NOTE: a Markdown table cell ends at "|"; the LaTeX and HTML templates escape plain cells themselves.
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
