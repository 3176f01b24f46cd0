"""`generate --format moodle / qti`: quizzes an LMS imports, read back and checked against `solve`."""

from __future__ import annotations

import base64
import decimal
import html.parser
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.jobs.generate import key_values

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLOZE = re.compile(r"\{1:NUMERICAL:=(-?[0-9.]+):([0-9.]+)\}")
HOSTILE = "</text><script>alert(1)</script> ]]> & <b>bold</b> {1:NUMERICAL:=1:0} /x"


def run(*arguments: str):
    return CliRunner().invoke(main, ["generate", *arguments])


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


class Tags(html.parser.HTMLParser):
    """The tags of an HTML fragment, as a browser would build them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def solved(spec: Path) -> dict:
    """``solve --format json`` on a variant's spec, through the CLI."""
    result = CliRunner().invoke(main, ["solve", str(spec), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def asked_names(spec: Path) -> list[str]:
    return list(key_values(solve(spec)))


# --- Moodle ----------------------------------------------------------------------------


def moodle_questions(folder: Path) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.parse(folder / "quiz.moodle.xml").getroot()
    assert root.tag == "quiz"
    category, *questions = root.findall("question")
    assert category.get("type") == "category"
    assert all(question.get("type") == "cloze" for question in questions)
    return category, questions


@pytest.mark.parametrize("example", ["seed_relu.yaml", "sigmoid_2_2_1.yaml", "bce_batch_2_3_1.yaml",
                                     "softmax_cross_entropy.yaml", "mazur_2_2_2.yaml"])
def test_moodle_quiz_asks_every_number_of_solve_within_its_tolerance(tmp_path, example):
    folder = tmp_path / "hw"
    result = run("--from", str(EXAMPLES / example), "--count", "2", "--seed", "3", "--format", "moodle",
                 "-o", str(folder))
    assert result.exit_code == 0, result.output
    assert (folder / "variant-1" / "spec.yaml").exists() and (folder / "answers.md").exists()
    category, questions = moodle_questions(folder)
    title = yaml.safe_load((EXAMPLES / example).read_text())["title"]
    assert category.find("category/text").text == "$course$/top/" + title.replace("/", "//")
    assert len(questions) == 2
    for index, question in enumerate(questions, start=1):
        spec = folder / f"variant-{index}" / "spec.yaml"
        printed, names = solved(spec), asked_names(spec)
        text = question.find("questiontext/text").text
        answers = CLOZE.findall(text)
        assert len(answers) == len(names) == len(re.findall(r"\{\d*:", text))
        for name, (answer, tolerance) in zip(names, answers):
            value, answer, tolerance = printed["quantities"][name], decimal.Decimal(answer), decimal.Decimal(tolerance)
            assert abs(answer - decimal.Decimal(repr(value))) <= tolerance / 2 or answer == value, name
            assert value == 0 or abs(value) >= 1e-4
            assert tolerance >= decimal.Decimal("0.005") * abs(answer)
            assert tolerance <= decimal.Decimal("0.011") * abs(answer) + decimal.Decimal("1e-5"), (name, tolerance)
        assert question.find("generalfeedback/text").text.count("$$") >= 2 * len(names)
        assert "\\(" in text


def test_moodle_diagrams_are_files_inside_the_xml(tmp_path):
    result = run("--from", str(EXAMPLES / "seed_relu.yaml"), "--count", "1", "--format", "moodle",
                 "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    _, (question,) = moodle_questions(tmp_path)
    for area in ("questiontext", "generalfeedback"):
        text = question.find(f"{area}/text").text
        sources = [attributes["src"] for tag, attributes in Tags(text).tags if tag == "img"]
        files = {file.get("name"): file for file in question.findall(f"{area}/file")}
        assert sources and sorted(sources) == sorted(f"@@PLUGINFILE@@/{name}" for name in files)
        for file in files.values():
            assert file.get("encoding") == "base64" and file.get("path") == "/"
            assert base64.b64decode(file.text).startswith(b"<svg")
        assert "http" not in "".join(sources)


# --- Canvas QTI ------------------------------------------------------------------------


def open_package(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


def without_namespace(root: ET.Element) -> ET.Element:
    for element in root.iter():
        element.tag = element.tag.split("}")[-1]
    return root


@pytest.mark.parametrize("example", ["seed_relu.yaml", "sigmoid_2_2_1.yaml", "bce_batch_2_3_1.yaml"])
def test_qti_package_lists_every_file_and_asks_every_number_of_solve(tmp_path, example):
    folder = tmp_path / "hw"
    result = run("--from", str(EXAMPLES / example), "--count", "2", "--seed", "4", "--format", "qti",
                 "-o", str(folder))
    assert result.exit_code == 0, result.output
    files = open_package(folder / "quiz.qti.zip")
    manifest = without_namespace(ET.fromstring(files["imsmanifest.xml"]))
    listed = [file.get("href") for file in manifest.iter("file")]
    assert sorted(listed) == sorted(set(files) - {"imsmanifest.xml"})
    identifiers = {resource.get("identifier") for resource in manifest.iter("resource")}
    assert all(dependency.get("identifierref") in identifiers for dependency in manifest.iter("dependency"))
    assessments = [resource.find("file").get("href") for resource in manifest.iter("resource")
                   if resource.get("type") == "imsqti_xmlv1p2"]
    assert len(assessments) == 2
    for index, path in enumerate(assessments, start=1):
        spec = folder / f"variant-{index}" / "spec.yaml"
        printed, names = solved(spec), asked_names(spec)
        root = without_namespace(ET.fromstring(files[path]))
        items = root.findall(".//item")
        kinds = [item.find(".//fieldentry").text for item in items]
        assert kinds == ["text_only_question"] + ["numerical_question"] * len(names)
        exercise = items[0].find(".//mattext").text
        assert "\\(" in exercise
        for tag, attributes in Tags(exercise).tags:
            if tag == "img":
                source = attributes["src"]
                assert source.startswith("%24IMS-CC-FILEBASE%24/")
                assert source.removeprefix("%24IMS-CC-FILEBASE%24/") in files
        for name, item in zip(names, items[1:]):
            assert item.get("title").endswith(f" {name}")
            low, high = (decimal.Decimal(item.find(f".//{bound}").text) for bound in ("vargte", "varlte"))
            exact = decimal.Decimal(item.find(".//varequal").text)
            value = decimal.Decimal(repr(printed["quantities"][name]))
            assert low <= value <= high and low <= exact <= high
            assert high - low >= decimal.Decimal("0.01") * abs(exact) * decimal.Decimal("0.99")
            assert value == 0 or abs(value) >= decimal.Decimal("1e-4")
        assert "$$" in items[1].find("itemfeedback//mattext").text


def test_canvas_margins_survive_its_four_decimals(tmp_path):
    """Canvas keeps 4 decimals of a student's answer: a margin is 0 only for an exact answer of at most 4 decimals."""
    margins = []
    for example in ("sigmoid_2_2_1.yaml", "seed_relu.yaml"):
        folder = tmp_path / example
        result = run("--from", str(EXAMPLES / example), "--count", "1", "--format", "qti", "--tolerance", "0",
                     "-o", str(folder))
        assert result.exit_code == 0, result.output
        for name, content in open_package(folder / "quiz.qti.zip").items():
            if name.endswith(".xml") and b"numerical_question" in content:
                for item in without_namespace(ET.fromstring(content)).iter("item"):
                    if item.find(".//varequal") is None:
                        continue
                    exact = decimal.Decimal(item.find(".//varequal").text)
                    low, high = (decimal.Decimal(item.find(f".//{bound}").text) for bound in ("vargte", "varlte"))
                    assert exact - low == high - exact
                    margins.append(high - exact)
                    short = exact == exact.quantize(decimal.Decimal("0.0001"))
                    assert (high - exact == 0) if short else (high - exact == decimal.Decimal("0.0001"))
    assert 0 in margins and decimal.Decimal("0.0001") in margins


# --- both: reproducible, careful with files, inert with hostile titles ------------------


@pytest.mark.parametrize("fmt", ["moodle", "qti"])
def test_same_seed_gives_byte_identical_quizzes_whatever_the_jobs(tmp_path, fmt):
    for folder, jobs in (("one", "1"), ("parallel", "2")):
        result = run("--count", "3", "--seed", "8", "--bias", "--format", fmt, "-o", str(tmp_path / folder),
                     "--jobs", jobs)
        assert result.exit_code == 0, result.output
    first = files_of(tmp_path / "one")
    assert len(first) == 3 * 3 + 3
    assert files_of(tmp_path / "parallel") == first
    result = run("--count", "3", "--seed", "9", "--bias", "--format", fmt, "-o", str(tmp_path / "other"))
    quiz = {"moodle": "quiz.moodle.xml", "qti": "quiz.qti.zip"}[fmt]
    assert files_of(tmp_path / "other")[quiz] != first[quiz], result.output


@pytest.mark.parametrize("fmt", ["moodle", "qti"])
def test_an_existing_quiz_is_not_overwritten_without_force(tmp_path, fmt):
    quiz = tmp_path / {"moodle": "quiz.moodle.xml", "qti": "quiz.qti.zip"}[fmt]
    quiz.write_text("mine")
    result = run("--count", "1", "--format", fmt, "-o", str(tmp_path))
    assert result.exit_code == 2 and quiz.name in result.output
    assert quiz.read_text() == "mine" and not (tmp_path / "variant-1").exists()
    assert run("--count", "1", "--format", fmt, "-o", str(tmp_path), "--force").exit_code == 0
    assert quiz.read_bytes() != b"mine"


@pytest.mark.parametrize(("tolerance", "check"), [
    ("0.01", lambda answer, tolerance: tolerance == decimal.Decimal("0.01")),
    ("2%", lambda answer, tolerance: abs(answer) * decimal.Decimal("0.02") <= tolerance
     <= abs(answer) * decimal.Decimal("0.022")),  # 2 digits, rounded up
])
def test_tolerance_option(tmp_path, tolerance, check):
    result = run("--from", str(EXAMPLES / "sigmoid_2_2_1.yaml"), "--count", "1", "--format", "moodle",
                 "--tolerance", tolerance, "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    _, (question,) = moodle_questions(tmp_path)
    answers = CLOZE.findall(question.find("questiontext/text").text)
    assert answers and all(check(decimal.Decimal(a), decimal.Decimal(t)) for a, t in answers)


@pytest.mark.parametrize(("options", "message"), [
    (["--tolerance", "1x", "--format", "qti"], "--tolerance"),
    (["--tolerance", "-1", "--format", "moodle"], "--tolerance"),
    (["--tolerance", "1%"], "--tolerance"),
])
def test_bad_tolerance_is_one_line_and_exit_2(tmp_path, options, message):
    result = run("--count", "1", *options, "-o", str(tmp_path / "hw"))
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "hw").exists()


def test_no_asked_value_is_small_enough_for_an_lms_to_round_to_zero(tmp_path):
    """Saturated sigmoids make tiny gradients; the quiz's variants are redrawn until none is asked."""
    options = ["--arch", "2-2-1", "--activation", "sigmoid", "--weights", "-9..9", "--decimals", "0",
               "--count", "6", "--seed", "2"]

    def tiny(folder: Path) -> int:
        count = 0
        for spec in sorted(folder.glob("variant-*/spec.yaml")):
            printed = solved(spec)
            count += sum(0 < abs(printed["quantities"][name]) < 1e-4 for name in asked_names(spec))
        return count

    assert run(*options, "-o", str(tmp_path / "plain")).exit_code == 0
    assert tiny(tmp_path / "plain") > 0, "the test needs a plan that draws tiny values"
    assert run(*options, "--format", "qti", "-o", str(tmp_path / "lms")).exit_code == 0
    assert tiny(tmp_path / "lms") == 0


@pytest.mark.parametrize("fmt", ["moodle", "qti"])
def test_a_hostile_title_stays_text(tmp_path, fmt):
    spec = yaml.safe_load((EXAMPLES / "seed_relu.yaml").read_text())
    spec["title"] = HOSTILE
    source = tmp_path / "hostile.yaml"
    source.write_text(yaml.safe_dump(spec, allow_unicode=True))
    result = run("--from", str(source), "--count", "1", "--format", fmt, "-o", str(tmp_path / "hw"))
    assert result.exit_code == 0, result.output
    if fmt == "moodle":
        category, (question,) = moodle_questions(tmp_path / "hw")
        assert category.find("category/text").text == "$course$/top/" + HOSTILE.replace("/", "//")
        assert HOSTILE in question.find("name/text").text
        text = question.find("questiontext/text").text
        assert len(re.findall(r"\{\d*:", text)) == len(CLOZE.findall(text)) == len(asked_names(
            tmp_path / "hw" / "variant-1" / "spec.yaml"))
        documents = [text, question.find("generalfeedback/text").text]
    else:
        files = open_package(tmp_path / "hw" / "quiz.qti.zip")
        roots = [without_namespace(ET.fromstring(content)) for name, content in files.items()
                 if name.endswith(".xml")]
        titles = [element.get("title") for root in roots for element in root.iter("assessment")]
        assert titles and all(HOSTILE in title for title in titles)
        documents = [element.text for root in roots for element in root.iter("mattext")]
    assert documents
    for document in documents:
        tags = {tag for tag, _ in Tags(document).tags}
        assert "script" not in tags and "b" not in tags


def test_the_published_samples_are_what_generate_writes(tmp_path):
    """examples/lms/ holds a sample of each format; they stay what the command writes."""
    sample = EXAMPLES / "lms"
    for fmt, quiz in (("moodle", "quiz.moodle.xml"), ("qti", "quiz.qti.zip")):
        folder = tmp_path / fmt
        result = run("--from", str(EXAMPLES / "seed_relu.yaml"), "--count", "3", "--seed", "1", "--format", fmt,
                     "-o", str(folder))
        assert result.exit_code == 0, result.output
        assert (folder / quiz).read_bytes() == (sample / quiz).read_bytes(), f"regenerate {sample / quiz}"
