"""LMS quizzes: generate's variants as a Moodle XML question bank or a Canvas (IMS QTI 1.2) package."""

from __future__ import annotations

import base64
import decimal
import hashlib
import io
import urllib.parse
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy

from ..core.errors import SpecError
from ..core.evaluation import rounding_of
from ..core.graph import Ref
from ..core.graph_solution import GraphSolution
from ..core.layered_solution import LayeredSolution
from ..core.numbers import EXACT_DECIMAL_DIGITS
from ..core.steps import Quantity
from ..render.document import Block, Math, Table
from ..render.formats import FORMATS
from ..render.present import Context
from ..render.render import build_document, figure_svg
from ..render.typography import Latex

if TYPE_CHECKING:
    from ..core.solution import Solution

#: The file each LMS format writes beside the variants' own files (in the format its templates are).
QUIZ_FILES = {name: "quiz" + FORMATS[name].suffix for name in ("moodle", "qti")}
#: The default tolerance: 0.5 % of the answer (or one unit of its last digit, when it is rounded).
DEFAULT_RELATIVE = decimal.Decimal("0.005")
#: No asked value is smaller than this and not 0: Canvas keeps numerical answers to 4 decimal places,
#: so 0.00004 would become 0 (a variant that asks one is redrawn).
SMALLEST_ASKED = sympy.Rational(1, 10**4)
#: Canvas's smallest margin: it keeps a student's numerical answer to 4 decimal places, so a smaller
#: margin could leave the right answer, rounded, outside it.
CANVAS_MARGIN = decimal.Decimal("0.0001")
#: A fixed date for every zip entry: the same options and seed give a byte-identical package.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
QTI_NAMESPACE = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
MANIFEST_NAMESPACE = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
CANVAS_NAMESPACE = "http://canvas.instructure.com/xsd/cccv1p0"


# --- what is asked, and within what tolerance ------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """``--tolerance``: an absolute amount, or a fraction of the answer (``1%`` is 0.01, relative)."""

    amount: decimal.Decimal
    relative: bool = False


def parse_tolerance(text: str) -> Tolerance:
    """``"0.01"`` → absolute 0.01; ``"1%"`` → relative 0.01.

    Raises:
        SpecError: not a number of 0 or more, optionally followed by %.
    """
    raw = text.strip()
    relative = raw.endswith("%")
    try:
        amount = decimal.Decimal(raw[:-1] if relative else raw)
    except decimal.InvalidOperation:
        amount = decimal.Decimal("NaN")
    if not amount.is_finite() or amount < 0 or amount > 10**6:
        raise SpecError(f"expected a tolerance such as 0.01 (absolute) or 1% (relative), got {text!r}",
                        "--tolerance")
    return Tolerance(amount / 100 if relative else amount, relative)


@dataclass(frozen=True)
class Part:
    """One asked number of a variant.

    Attributes:
        question: The sheet's question it belongs to ("The loss").
        name: Its printed name (LaTeX).
        key: Its ASCII name, as ``solve --format json`` and ``check`` name it.
        answer: The answer as written (exact, or rounded to the solution's precision).
        tolerance: How far from ``answer`` an answer is still right (absolute).
    """

    question: str
    name: str
    key: str
    answer: decimal.Decimal
    tolerance: decimal.Decimal


def asked(solution: Solution | GraphSolution) -> list[Quantity | Ref]:
    """What a variant asks, in the order of its problem sheet: outputs, the cost, the gradients, the new
    parameters (a circuit: every node's value, every input's and parameter's gradient, the new parameters; a network
    with layer types: every map's entries, the loss, every parameter's gradient, the new parameters)."""
    if isinstance(solution, LayeredSolution):
        network = solution.network
        return [*(Ref("value", node.name) for node in network.graph.nodes if not node.group.get("loss")), solution.top,
                *(Ref("grad", name) for name in network.parameters), *(update.result for update in solution.updates)]
    if isinstance(solution, GraphSolution):
        return [*(Ref("value", node.name) for node in solution.circuit.graph.nodes), *solution.derivation.gradients,
                *(update.result for update in solution.updates)]
    derivation, network = solution.derivation, solution.network
    outputs = [Quantity("out", node, example) for example in range(len(network.examples)) for node in network.outputs]
    cost = [derivation.cost] if network.has_targets else []  # NOTE: loss: none's L is the output, asked already
    return [*outputs, *cost, *(gradient.result for gradient in derivation.gradients),
            *(update.result for update in derivation.updates)]


def too_small(solution: Solution) -> bool:
    """True when an asked value is not 0 yet so small that an LMS would round it to 0."""
    values = solution.values[0]
    return any(0 < abs(values[quantity]) < SMALLEST_ASKED for quantity in asked(solution))


def written(value: sympy.Expr, precision: int) -> tuple[decimal.Decimal, bool]:
    """``value`` as the key writes it, and whether that is rounded: a terminating decimal of up to
    EXACT_DECIMAL_DIGITS digits in full (as the answer key shows them), anything else to ``precision`` significant digits."""
    with decimal.localcontext(prec=60):
        if value.is_Rational:
            exact = decimal.Decimal(int(value.p)) / decimal.Decimal(int(value.q))
        else:
            exact = decimal.Decimal(str(sympy.Float(value, 60)))
        if not exact:
            return decimal.Decimal(0), False
        if value.is_Rational and exact * int(value.q) == int(value.p) and \
                len(exact.normalize().as_tuple().digits) <= max(precision, EXACT_DECIMAL_DIGITS):
            return exact.normalize(), False
        return exact.quantize(_unit(exact, precision), decimal.ROUND_HALF_UP).normalize(), True


def _unit(number: decimal.Decimal, precision: int) -> decimal.Decimal:
    """One unit of the last of ``precision`` significant digits of ``number``."""
    return decimal.Decimal(1).scaleb(number.adjusted() - precision + 1)


def tolerance_of(answer: decimal.Decimal, rounded: bool, precision: int,
                 tolerance: Tolerance | None, rounding_unit: decimal.Decimal = decimal.Decimal(0)) -> decimal.Decimal:
    """The absolute tolerance of one answer, written to two significant digits (rounded up).

    By default 0.5 % of the answer, or one unit of its last digit where the answer is rounded
    (``rounding_unit``, where ``options.rounding`` rounded it), whichever is larger.
    NOTE: an exact answer (50, 0.25) has no rounding to forgive: one unit of 50's last digit would
    accept 49 and 51, the slips an exercise in whole numbers is there to catch.
    """
    if tolerance is not None and not tolerance.relative:
        return tolerance.amount
    relative = tolerance.amount if tolerance is not None else DEFAULT_RELATIVE
    amount = relative * abs(answer)
    if tolerance is None and rounded:
        amount = max(amount, _unit(answer, precision))
    if tolerance is None:
        amount = max(amount, rounding_unit)
    if not amount:
        return decimal.Decimal(0)
    return amount.quantize(decimal.Decimal(1).scaleb(amount.adjusted() - 1), decimal.ROUND_CEILING).normalize()


def plain(number: decimal.Decimal) -> str:
    """A Decimal without exponent or trailing zeros, as an LMS reads a number."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


# --- one variant's question --------------------------------------------------------------


@dataclass(frozen=True)
class QuizItem:
    """One variant as an LMS question: what is given, what is asked, the worked solution, the figures.

    Attributes:
        index: The variant's number.
        title: The variant's title.
        intro: The problem sheet's first sentence.
        givens: The problem sheet's givens (the network, its diagram, the inputs and targets), in LaTeX.
        parts: The asked numbers in the order of the solution.
        feedback: The worked solution's blocks (the local derivatives, then the working).
        figures: SVG images by figure name (``network``, ``chain``).
    """

    index: int
    title: str
    intro: str
    givens: tuple[Block, ...]
    parts: tuple[Part, ...]
    feedback: tuple[Block, ...]
    figures: dict[str, str]


def quiz_item(index: int, solution: Solution, intro: str, givens: tuple[Block, ...], questions: tuple[str, ...],
              tolerance: Tolerance | None) -> QuizItem:
    """Variant ``index`` as a question: its parts with their tolerances, and its worked solution.

    Args:
        index: The variant's number.
        solution: The variant's solution.
        intro, givens: The problem sheet's first sentence and givens.
        questions: The sheet's question of each asked quantity (see ``asked``), in order.
        tolerance: ``--tolerance`` (None: the default, see ``tolerance_of``).
    """
    typography = Latex(solution.precision)
    context = Context(solution.notation, typography, solution.values[0])
    parts = []
    steps = {step.result: step for step in solution.steps()}
    rounding = solution.rounding
    for question, quantity in zip(questions, asked(solution), strict=True):
        value = solution.values[0][quantity]
        answer, rounded = written(value, solution.precision)
        # NOTE: with options.rounding the key is a rounded line of a hand solution (exact as a decimal,
        # yet rounded): its tolerance forgives one unit of the digit that line is rounded to.
        unit = rounding_of(steps[quantity], rounding).unit(value) if rounding and quantity in steps else sympy.Integer(0)
        unit = decimal.Decimal(int(unit.p)) / decimal.Decimal(int(unit.q))
        parts.append(Part(question, context.name(quantity), solution.notation.ascii(quantity), answer,
                          tolerance_of(answer, rounded, solution.precision, tolerance, unit)))
    document = build_document(solution, typography)
    # NOTE: the question shows the network and its numbers; the feedback starts where the working does.
    feedback = tuple(block for block in document.overview if block.lines) + tuple(
        block for _, blocks in document.steps for block in blocks) + document.closing
    figures = {figure.name: figure_svg(figure) for figure in (*document.figures(), *(
        block.figure for block in givens if block.figure))}
    return QuizItem(index, solution.title, intro, givens, tuple(parts), feedback, figures)


# --- HTML, built as elements -------------------------------------------------------------


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element


def _math(latex: str) -> str:
    """Inline math for MathJax, which both Moodle's filter and Canvas run on ``\\( … \\)``."""
    return f"\\({latex}\\)"


def _display(latex: str) -> str:
    return f"$${latex}$$"


def _cell(parent: ET.Element, value: str) -> None:
    parent.text = _math(value) if isinstance(value, Math) and value else value


def _table(parent: ET.Element, table: Table) -> None:
    element = _add(parent, "table", border="1", cellpadding="4", style="border-collapse: collapse")
    row = _add(_add(element, "thead"), "tr")
    for header in table.header:
        _cell(_add(row, "th"), header)
    body = _add(element, "tbody")
    for cells in table.rows:
        row = _add(body, "tr")
        for value in cells:
            _cell(_add(row, "td"), value)


def _blocks(parent: ET.Element, blocks, src: Callable[[str], str]) -> None:
    """Headed blocks (text, figure, equation chains, table) as HTML; figures are images at ``src(name)``."""
    for block in blocks:
        if block.heading:
            _add(parent, f"h{min(block.level + 1, 6)}", block.heading)
        if block.text:
            _add(parent, "p", block.text)
        if block.figure:
            figure = _add(parent, "div")
            _add(figure, "img", src=src(block.figure.name), alt=block.figure.caption.text)
            _add(figure, "p", block.figure.caption.text, style="font-style: italic")
        for line in block.lines:
            # NOTE: a remark (a gradient's path) before its equation, so that it cannot read as the next one's.
            if line.note:
                note = _add(parent, "p", line.note, style="font-style: italic")
                if line.route:
                    _add(note, "span", " " + _math(line.route))
            _add(parent, "div", _display(" = ".join(line.parts)))
        if block.table:
            _table(parent, block.table)


def _givens(parent: ET.Element, item: QuizItem, src: Callable[[str], str]) -> None:
    _add(parent, "p", item.intro)
    _blocks(parent, item.givens, src)


def _html(element: ET.Element) -> str:
    return ET.tostring(element, encoding="unicode", method="html")


def _feedback(item: QuizItem, src: Callable[[str], str]) -> str:
    root = ET.Element("div")
    _blocks(root, item.feedback, src)
    return _html(root)


def _groups(parts: tuple[Part, ...]) -> list[tuple[str, list[tuple[int, Part]]]]:
    """The parts grouped by their question, each with its number (from 1), in order."""
    groups: list[tuple[str, list[tuple[int, Part]]]] = []
    for number, part in enumerate(parts, start=1):
        if not groups or groups[-1][0] != part.question:
            groups.append((part.question, []))
        groups[-1][1].append((number, part))
    return groups


# --- Moodle XML --------------------------------------------------------------------------


def _cloze(part: Part) -> str:
    """A NUMERICAL embedded answer: ``{1:NUMERICAL:=0.25:0.0013}`` (weight 1, answer, absolute tolerance)."""
    return f"{{1:NUMERICAL:={plain(part.answer)}:{plain(part.tolerance)}}}"


def moodle_question_text(item: QuizItem) -> str:
    """The cloze question's HTML: the givens, then each asked number with its embedded answer."""
    root = ET.Element("div")
    _givens(root, item, lambda name: f"@@PLUGINFILE@@/{name}.svg")
    _add(root, "h3", "Questions")
    _add(root, "p", "Compute, and give each number to at least four significant digits:")
    listing = _add(root, "ol")
    for question, numbered in _groups(item.parts):
        entry = _add(listing, "li", f"{question}:")
        table = _add(entry, "table", cellpadding="4")
        for number, part in numbered:
            row = _add(table, "tr")
            _add(row, "td", _math(part.name + " ="))
            # NOTE: a placeholder element, replaced by the embedded answer once serialized: no text of the
            # user's can become one (its < is escaped).
            _add(_add(row, "td"), "cloze", n=str(number))
    text = _html(root)
    # NOTE: Moodle reads {1:NUMERICAL:…} anywhere in a cloze question's text, so every brace of the
    # exercise (a title, LaTeX) is written as a character reference: the browser and MathJax still
    # see a brace, the cloze parser does not.
    text = text.replace("{", "&#123;").replace("}", "&#125;")
    for number, part in enumerate(item.parts, start=1):
        placeholder = f'<cloze n="{number}"></cloze>'
        assert text.count(placeholder) == 1
        text = text.replace(placeholder, _cloze(part))
    return text


def _moodle_text(parent: ET.Element, tag: str, html: str, files: dict[str, str]) -> None:
    element = _add(parent, tag, format="html")
    _add(element, "text", html)
    for name in sorted(files):
        _add(element, "file", base64.b64encode(files[name].encode("utf-8")).decode("ascii"),
             name=f"{name}.svg", path="/", encoding="base64")


def _used(html: str, figures: dict[str, str], reference: Callable[[str], str]) -> dict[str, str]:
    return {name: svg for name, svg in figures.items() if reference(name) in html}


def moodle_quiz(title: str, items: list[QuizItem]) -> bytes:
    """A Moodle XML file: one category named after the exercise, one cloze question per variant."""
    quiz = ET.Element("quiz")
    category = _add(quiz, "question", type="category")
    # NOTE: a / in a category name would start a subcategory; Moodle reads // as a literal /.
    _add(_add(category, "category"), "text", "$course$/top/" + title.replace("/", "//"))
    _add(_add(category, "info", format="html"), "text", "Homework variants made by backprop-derive: "
                                                        "a random question of this category gives each student one.")
    reference = "@@PLUGINFILE@@/{}.svg".format
    for item in items:
        question = _add(quiz, "question", type="cloze")
        _add(_add(question, "name"), "text", item.title[:200])
        text = moodle_question_text(item)
        _moodle_text(question, "questiontext", text, _used(text, item.figures, reference))
        feedback = _feedback(item, reference)
        _moodle_text(question, "generalfeedback", feedback, _used(feedback, item.figures, reference))
        _add(question, "penalty", "0.3333333")
        _add(question, "hidden", "0")
        _add(question, "idnumber", f"variant-{item.index}")
    return _xml_bytes(quiz)


def _xml_bytes(root: ET.Element) -> bytes:
    ET.indent(root)
    stream = io.BytesIO()
    ET.ElementTree(root).write(stream, encoding="UTF-8", xml_declaration=True)
    return stream.getvalue() + b"\n"


# --- IMS QTI 1.2 for Canvas ----------------------------------------------------------------


def _identifier(*parts: object) -> str:
    """A stable identifier: the same exercise and variant give the same one, different ones differ."""
    return "bd" + hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()[:24]


def _image_path(item: QuizItem, name: str) -> str:
    return f"images/variant-{item.index}-{name}.svg"


def _metadata(parent: ET.Element, fields: dict[str, str]) -> None:
    metadata = _add(parent, "qtimetadata")
    for label, entry in fields.items():
        field = _add(metadata, "qtimetadatafield")
        _add(field, "fieldlabel", label)
        _add(field, "fieldentry", entry)


def _mattext(parent: ET.Element, html: str) -> None:
    _add(_add(parent, "material"), "mattext", html, texttype="text/html")


def _qti_item(section: ET.Element, ident: str, title: str, kind: str, points: str) -> ET.Element:
    item = _add(section, "item", ident=ident, title=title[:200])
    _metadata(_add(item, "itemmetadata"), {"question_type": kind, "points_possible": points,
                                           "original_answer_ids": "",
                                           "assessment_question_identifierref": ident + "q"})
    return item


def _numerical(section: ET.Element, ident: str, number: int, part: Part, feedback: str | None) -> None:
    """A Canvas numerical question: the exact answer, or any answer within its bounds."""
    item = _qti_item(section, ident, f"{number}. {part.key}", "numerical_question", "1")
    presentation = _add(item, "presentation")
    question = ET.Element("div")
    _add(question, "p", f"{part.question}: " + _math(part.name))
    _mattext(presentation, _html(question))
    response = _add(presentation, "response_str", ident="response1", rcardinality="Single")
    _add(_add(response, "render_fib", fibtype="Decimal"), "response_label", ident="answer1")
    processing = _add(item, "resprocessing")
    _add(_add(processing, "outcomes"), "decvar", maxvalue="100", minvalue="0", varname="SCORE", vartype="Decimal")
    if feedback is not None:
        condition = _add(processing, "respcondition", **{"continue": "Yes"})
        _add(_add(condition, "conditionvar"), "other")
        _add(condition, "displayfeedback", feedbacktype="Response", linkrefid="general_fb")
    condition = _add(processing, "respcondition", **{"continue": "No"})
    either = _add(_add(condition, "conditionvar"), "or")
    _add(either, "varequal", plain(part.answer), respident="response1")
    # NOTE: an exact answer of at most 4 decimals may keep a margin of 0; any other keeps one Canvas's
    # 4 decimals cannot round away.
    exact = not part.tolerance and part.answer == part.answer.quantize(CANVAS_MARGIN)
    margin = part.tolerance if exact else max(part.tolerance, CANVAS_MARGIN)
    bounds = _add(either, "and")
    _add(bounds, "vargte", plain(part.answer - margin), respident="response1")
    _add(bounds, "varlte", plain(part.answer + margin), respident="response1")
    _add(condition, "setvar", "100", action="Set", varname="SCORE")
    if feedback is not None:
        _mattext(_add(_add(item, "itemfeedback", ident="general_fb"), "flow_mat"), feedback)


def qti_assessment(ident: str, item: QuizItem) -> bytes:
    """One variant as a Canvas quiz: the exercise (a text), then one numerical question per asked number;
    the worked solution is the first question's general feedback."""
    root = ET.Element("questestinterop", xmlns=QTI_NAMESPACE)
    assessment = _add(root, "assessment", ident=ident, title=item.title[:200])
    _metadata(assessment, {"cc_maxattempts": "1"})
    section = _add(assessment, "section", ident="root_section")

    def src(name: str) -> str:
        # NOTE: Canvas resolves $IMS-CC-FILEBASE$ (URL-quoted, as its own exports write it) to the package's root.
        return "%24IMS-CC-FILEBASE%24/" + urllib.parse.quote(_image_path(item, name))

    exercise = ET.Element("div")
    _givens(exercise, item, src)
    text = _qti_item(section, _identifier(ident, "exercise"), "The exercise", "text_only_question", "0")
    _mattext(_add(text, "presentation"), _html(exercise))
    feedback = _feedback(item, src)
    for number, part in enumerate(item.parts, start=1):
        _numerical(section, _identifier(ident, number), number, part, feedback if number == 1 else None)
    return _xml_bytes(root)


def _assessment_meta(ident: str, item: QuizItem) -> bytes:
    quiz = ET.Element("quiz", identifier=ident, xmlns=CANVAS_NAMESPACE)
    for tag, text in (("title", item.title[:200]), ("description", ""), ("shuffle_answers", "false"),
                      ("scoring_policy", "keep_highest"), ("hide_results", ""), ("quiz_type", "assignment"),
                      ("points_possible", f"{len(item.parts)}.0"), ("show_correct_answers", "true"),
                      ("allowed_attempts", "1"), ("one_question_at_a_time", "false"), ("cant_go_back", "false"),
                      ("available", "false")):
        _add(quiz, tag, text)
    return _xml_bytes(quiz)


def _manifest(title: str, resources: list[tuple[str, str, list[str], list[str]]]) -> bytes:
    """imsmanifest.xml listing every resource: (identifier, type, files, dependencies)."""
    manifest = ET.Element("manifest", identifier=_identifier("manifest", title, *(r[0] for r in resources)),
                          xmlns=MANIFEST_NAMESPACE)
    metadata = _add(manifest, "metadata")
    _add(metadata, "schema", "IMS Content")
    _add(metadata, "schemaversion", "1.1.3")
    _add(manifest, "organizations")
    listing = _add(manifest, "resources")
    for ident, kind, files, dependencies in resources:
        resource = _add(listing, "resource", identifier=ident, type=kind)
        if kind != "imsqti_xmlv1p2":
            resource.set("href", files[0])
        for file in files:
            _add(resource, "file", href=file)
        for dependency in dependencies:
            _add(resource, "dependency", identifierref=dependency)
    return _xml_bytes(manifest)


def qti_package(title: str, items: list[QuizItem]) -> bytes:
    """A zip Canvas imports as one quiz per variant: QTI 1.2 assessments, their metadata, the figures and
    imsmanifest.xml listing them all; entries sorted and dated alike, so the same input gives the same bytes."""
    files: dict[str, bytes] = {}
    resources = []
    for item in items:
        ident = _identifier(title, item.index, item.title, *(f"{p.key}={p.answer}" for p in item.parts))
        meta = ident + "m"
        assessment = qti_assessment(ident, item)
        files[f"{ident}/{ident}.xml"] = assessment
        files[f"{ident}/assessment_meta.xml"] = _assessment_meta(ident, item)
        resources.append((ident, "imsqti_xmlv1p2", [f"{ident}/{ident}.xml"], [meta]))
        resources.append((meta, "associatedcontent/imscc_xmlv1p1/learning-application-resource",
                          [f"{ident}/assessment_meta.xml"], []))
        for name, svg in sorted(item.figures.items()):
            path = _image_path(item, name)
            if urllib.parse.quote(path).encode("utf-8") in assessment:
                files[path] = svg.encode("utf-8")
                resources.append((_identifier(ident, path), "webcontent", [path], []))
    files["imsmanifest.xml"] = _manifest(title, resources)
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w") as archive:
        for name in ["imsmanifest.xml", *sorted(set(files) - {"imsmanifest.xml"})]:
            entry = zipfile.ZipInfo(name, ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, files[name])
    return stream.getvalue()


#: Each LMS format's writer: (the exercise's title, the variants' questions) → the file's bytes.
WRITERS: dict[str, Callable[[str, list[QuizItem]], bytes]] = {"moodle": moodle_quiz, "qti": qti_package}
