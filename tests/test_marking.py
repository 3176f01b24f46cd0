"""Marking a real class (SPEC §4.2): blanks, digits, names, a folder's gradebook and sheets, `names`."""

import csv
import decimal
import html.parser
import io
import json
import shutil
from functools import cache
from pathlib import Path

import pytest
import sympy
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_derive import solve
from backprop_derive.cli import main
from backprop_derive.jobs.check import Checker, judge, parse_answers
from backprop_derive.render.pdf import compile_pdf

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CLASS = EXAMPLES / "class"
MAZUR = EXAMPLES / "mazur_2_2_2.yaml"
SEED = EXAMPLES / "seed_relu.yaml"
BCE = EXAMPLES / "bce_batch_2_3_1.yaml"
#: Mazur's network without its course names, to test the built-in spellings alone.
MAZUR_PLAIN = {key: value for key, value in yaml.safe_load(MAZUR.read_text()).items() if key != "answer_names"}
NETWORKS = {"seed_relu": SEED, "mazur_2_2_2": MAZUR, "bce_batch_2_3_1": BCE}


@cache
def checker(network: str) -> Checker:
    return Checker(solve(NETWORKS[network]))


def marks(network: str, sheet: dict, **options) -> dict:
    marker = checker(network)
    return {mark.name: mark for mark in marker.mark(parse_answers(sheet), **options).marks}


def truth(network: str, name: str) -> sympy.Expr:
    marker = checker(network)
    return marker.truth[marker.aliases.find(name)[0]]


def digits(value: sympy.Expr, count: int) -> str:
    """``value`` written to ``count`` significant digits."""
    with decimal.localcontext() as context:
        context.prec = count
        return str(+decimal.Decimal(str(sympy.Float(value, 40))))


def run(*arguments):
    return CliRunner().invoke(main, [str(argument) for argument in arguments])


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- unanswered ----------------------------------------------------------------------------


@pytest.mark.parametrize("network, name", [("seed_relu", "y5"), ("mazur_2_2_2", "a[2]_1"), ("bce_batch_2_3_1", "J")])
def test_an_empty_answer_is_unanswered_counted_and_exit_1(tmp_path, network, name):
    answers = write(tmp_path, "answers.yaml", f"'{name}':\n")
    result = run("check", NETWORKS[network], answers, "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["unanswered"] == 1 and report["summary"]["right"] == 0
    entry = report["answers"][0]
    assert entry["verdict"] == "unanswered" and entry["given"] is None and entry["expected"] is not None


def test_a_blank_answer_is_not_used_as_the_students_number():
    # x3 left blank: y3 = relu(x3) is judged from the true x3, not from a missing one.
    found = marks("seed_relu", {"x3": None, "y3": 5, "x5": "   "})
    assert [found[name].verdict for name in ("x3", "y3", "x5")] == ["unanswered", "right", "unanswered"]


# --- digits --------------------------------------------------------------------------------


@pytest.mark.parametrize("network, name", [("mazur_2_2_2", "a[1]_1"), ("bce_batch_2_3_1", "a[1]_2(1)")])
def test_too_few_digits_is_imprecise_and_min_digits_sets_how_many(network, name):
    value = truth(network, name)
    one, two, three = (digits(value, count) for count in (1, 2, 3))
    assert marks(network, {name: one})[name].verdict == "imprecise"
    assert marks(network, {name: two})[name].verdict == "right"
    assert marks(network, {name: two}, min_digits=3)[name].verdict == "imprecise"
    assert marks(network, {name: three}, min_digits=3)[name].verdict == "right"
    assert marks(network, {name: one}, min_digits=1)[name].verdict == "right"
    assert "at least 2 significant digits" in marks(network, {name: one})[name].explanation


def test_one_digit_is_not_right_for_0_1498_but_an_exact_one_digit_answer_is():
    answer = parse_answers({"q": decimal.Decimal("0.1")})[0]
    assert judge(answer, sympy.Rational("0.1498")) == "imprecise"
    assert judge(answer, sympy.Rational("0.1")) == "right"
    assert judge(parse_answers({"q": 5})[0], sympy.Integer(5)) == "right"


def test_zero_is_right_only_for_exactly_zero():
    zero = parse_answers({"q": 0})[0]
    assert judge(zero, sympy.Integer(0)) == "right"
    for value in ("0.01", "0.4", "-0.001"):
        assert judge(zero, sympy.Rational(value)) is None
    assert judge(parse_answers({"q": decimal.Decimal("0.00")})[0], sympy.Rational("0.001")) is None
    # On a network: seed's y4 is exactly 0; Mazur's dJ/dW[1]_11 is 0.00044.
    assert marks("seed_relu", {"y4": 0})["y4"].verdict == "right"
    assert marks("mazur_2_2_2", {"dJ/dW[1]_11": 0})["dJ/dW[1]_11"].verdict == "wrong"


@pytest.mark.parametrize("network, name", [("mazur_2_2_2", "J"), ("mazur_2_2_2", "delta[1]_2"),
                                           ("bce_batch_2_3_1", "dJ/dW[1]_21")])
def test_full_precision_answers_pasted_from_numpy_are_right_to_1e_12(network, name):
    value = truth(network, name)
    pasted = repr(float(value))  # what numpy prints: 16 or 17 digits, the last ones a double's noise
    assert marks(network, {name: pasted})[name].verdict == "right"
    noisy = digits(value * (1 + sympy.Rational(3, 10**14)), 17)
    assert marks(network, {name: noisy})[name].verdict == "right"
    off = digits(value * (1 + sympy.Rational(3, 10**11)), 17)
    assert marks(network, {name: off})[name].verdict == "wrong"


# --- unknown names -------------------------------------------------------------------------


@pytest.mark.parametrize("spec, first", [(BCE, "dJ/dW[1]_11"), (MAZUR_PLAIN, "dJ/dW[1]_11")])
def test_an_unknown_name_suggests_the_closest_names_a_weight_for_a_weight(tmp_path, spec, first):
    marker = Checker(solve(spec))
    suggestions = marker.aliases.suggestions("dJ/dw1")
    assert suggestions[0] == first and len(suggestions) == 3
    assert not any("/db" in name for name in suggestions), suggestions
    mark = marker.mark(parse_answers({"dJ/dw1": 1})).marks[0]
    assert mark.verdict == "unknown" and f"did you mean {first} or" in mark.explanation


@pytest.mark.parametrize("network", ["seed_relu", "mazur_2_2_2"])
def test_an_unknown_name_alone_exits_1(tmp_path, network):
    result = run("check", NETWORKS[network], write(tmp_path, "a.yaml", "zz9: 1\n"))
    assert result.exit_code == 1 and "0 right" in result.stdout and "1 unknown" in result.stdout


# --- spellings -----------------------------------------------------------------------------


@pytest.mark.parametrize("spec, spelling, name", [
    (SEED, "out_3", "y3"), (SEED, "net_5", "x5"), (SEED, "y5_hat", "y5"), (SEED, "DL/DW35", "dL/dw35"),
    (SEED, "dE_total/dw13", "dL/dw13"), (SEED, "w35+", "w35_new"), (SEED, "dE/dout_5", "dL/dy5"),
    (MAZUR_PLAIN, "out_h1", "a[1]_1"), (MAZUR_PLAIN, "net_o2", "z[2]_2"), (MAZUR_PLAIN, "y5_hat", "a[2]_1"),
    (MAZUR_PLAIN, "E_total", "J"), (MAZUR_PLAIN, "DJ/DW[2]_11", "dJ/dW[2]_11"),
    (MAZUR_PLAIN, "dout_o1/dnet_o1", "da[2]_1/dz[2]_1"), (MAZUR_PLAIN, "target_o1", "y1"),
    (MAZUR, "w5+", "W[2]_11_new"), (MAZUR, "dE_total/dw5", "dJ/dW[2]_11"), (MAZUR, "w5", "W[2]_11"),
    (MAZUR, "W5", "W[2]_11"), (MAZUR, "dJ/dW8", "dJ/dW[2]_22"), (MAZUR, "b1'", "b[1]_new"),
])
def test_the_spellings_students_write(spec, spelling, name):
    marker = Checker(solve(spec))
    assert [marker.name(quantity) for quantity in marker.aliases.find(spelling)] == [name]


# --- answer_names --------------------------------------------------------------------------


def test_a_courses_own_names_are_accepted_and_shown(tmp_path):
    result = run("check", MAZUR, CLASS / "bob.yaml")
    assert "↪ w5+ (w5_new) = 0.441083521   expected 0.35891648   carried forward" in result.stdout
    spec = write(tmp_path, "seed.yaml", SEED.read_text() + "answer_names: {hidden_a: y3, 'w_a': w13}\n")
    result = run("check", spec, write(tmp_path, "a.yaml", "hidden_a: 5\ndL/dw_a: 20\nw_a_new: 0\n"), "--format", "json")
    assert result.exit_code == 0, result.output
    assert [entry["name"] for entry in json.loads(result.stdout)["answers"]] == ["y3", "dL/dw13", "w13_new"]
    assert run("solve", spec).exit_code == 0


@pytest.mark.parametrize("entry, expected", [
    ("[w5]", "answer_names: expected a map from a course's names to the solution's, got a list"),
    ("{w5: 3}", "answer_names.w5: expected the solution's name of a quantity"),
    ('{"w5\\nJ: 1": "W[2]_11"}', "answer_names: expected a course's name for a quantity such as out_h1"),
    ("{w5: 'W[9]_99'}", "answer_names.w5: expected the name of one quantity of the solution"),
    ("{w5: 'W[2]_11', 'a[1]_2': 'W[2]_12'}", "answer_names.a[1]_2: a[1]_2 is already the solution's name of a[1]_2"),
])
@pytest.mark.parametrize("command", ["check", "names"])
def test_bad_answer_names_are_one_line_and_exit_2(tmp_path, entry, expected, command):
    spec = write(tmp_path, "spec.yaml", yaml.safe_dump(MAZUR_PLAIN) + f"answer_names: {entry}\n")
    answers = write(tmp_path, "a.yaml", "J: 0.3\n")
    result = run(command, spec, answers) if command == "check" else run(command, spec)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and str(spec) in result.stderr and result.stderr.count("\n") == 1
    assert result.stdout == ""


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [SEED, MAZUR, BCE])
def test_names_prints_a_blank_answers_file_check_takes_whole(tmp_path, spec):
    result = run("names", spec)
    assert result.exit_code == 0, result.output
    blank = yaml.safe_load(result.stdout)
    marker = Checker(solve(spec))
    computed = {step.result for step in marker.steps}
    # Every computed quantity, blank, in the solution's order; the given ones commented out.
    assert list(blank) == [marker.aliases.name_of(quantity) for quantity in marker.truth if quantity in computed]
    assert set(blank.values()) == {None}
    checked = run("check", spec, write(tmp_path, "blank.yaml", result.stdout), "--format", "json")
    summary = json.loads(checked.stdout)["summary"]
    assert checked.exit_code == 1 and summary["unanswered"] == len(blank) == sum(summary.values())
    # Every other spelling offered in a comment means the same quantity.
    for line in result.stdout.splitlines():
        if "also " in line:
            name = line.lstrip("# ").split(":")[0].strip('"')
            for spelling in line.split("also ", 1)[1].rstrip(")").split(", "):
                assert marker.aliases.find(spelling) == marker.aliases.find(name), (spelling, name)


def test_names_uses_the_courses_names_first():
    text = run("names", MAZUR).stdout
    assert "# w5: 0.4   (given; also W[2]_11," in text
    assert "\nw5_new:   # also W[2]_11_new," in text and "\ndJ/dw5:   # also dJ/dW[2]_11," in text
    assert "\na[1]_1:   # also a[1]₁, y3, a(1)_1, out_h1\n" in text


def test_names_writes_its_yaml_only_into_a_yaml_file(tmp_path):
    wrong = run("names", MAZUR, "-o", tmp_path / "answers.md")
    assert wrong.exit_code == 2 and "is YAML" in wrong.output and not (tmp_path / "answers.md").exists()
    right = run("names", MAZUR, "-o", tmp_path / "answers.yml")
    assert right.exit_code == 0 and (tmp_path / "answers.yml").read_text(encoding="utf-8").startswith("# Answers to:")


# --- carried forward ------------------------------------------------------------------------


@pytest.mark.parametrize("network, sheet, name", [
    # seed: y5 = 1.4143 gives L = y5²/2 = 1.00012…
    ("seed_relu", {"y5": "1.4143"}, "L"),
    # Mazur: both outputs off so that E_total from them is 1.0001…
    ("mazur_2_2_2", {"a[2]_1": "1.4243", "a[2]_2": "0.99"}, "J"),
])
def test_carried_forward_credit_needs_the_students_digits_never_a_trivial_value(network, sheet, name):
    own = checker(network).mark(parse_answers({**sheet, name: "1.0001"})).marks[-1]
    assert own.verdict == "carried_forward", own.explanation
    for trivial in (0, 1):
        mark = marks(network, {**sheet, name: trivial})[checker(network).name(own.quantity)]
        assert mark.verdict == "wrong", (trivial, mark.explanation)


# --- a class's folder ----------------------------------------------------------------------


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_example_class_gives_a_gradebook_the_csv_module_reads(tmp_path):
    grades = tmp_path / "grades.csv"
    result = run("check", MAZUR, CLASS, "-o", grades)
    assert result.exit_code == 1  # bob and carol have wrong answers, dave's file is unreadable
    assert result.stdout == "" and "Marked 4 answer files: 1 all right, 2 not, 1 unreadable." in result.stderr
    rows = read_csv(grades.read_text(encoding="utf-8"))
    assert [row["file"] for row in rows] == ["alice.yaml", "bob.yaml", "carol.json", "dave.yaml"]
    alice, bob, carol, dave = rows
    assert alice["right"] == alice["score"] == alice["out_of"] == "16" and alice["error"] == ""
    assert bob["dJ/da[2]_1"] == "wrong" and bob["w5_new"] == "carried_forward" and bob["a[1]_2"] == "imprecise"
    assert bob["w6_new"] == "unanswered" and bob["score"] == "12"
    assert carol["da[2]_1/dz[2]_1"] == "wrong" and carol["unknown"] == "1" and carol["w6_new"] == ""
    assert dave["error"].startswith(str(CLASS / "dave.yaml")) and "out_h1: expected a number" in dave["error"]
    assert all(dave[verdict] == "0" for verdict in ("right", "wrong", "unknown"))
    header = next(csv.reader(io.StringIO(grades.read_text(encoding="utf-8"))))
    assert header[0] == "file" and header[-9:] == ["right", "wrong", "carried_forward", "imprecise", "unanswered",
                                                    "unknown", "score", "out_of", "error"]


def test_a_class_of_another_network_and_the_exit_codes(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    write(folder, "ann.yaml", "y5: 10\ndL/dw13: 20\n")
    write(folder, "ben.json", '{"y5": 10, "L": 50}')
    write(folder, "notes.txt", "not an answer file")
    result = run("check", SEED, folder)
    assert result.exit_code == 0, result.output
    rows = read_csv(result.stdout)
    assert [(row["file"], row["score"], row["out_of"]) for row in rows] == [("ann.yaml", "2", "3"),
                                                                             ("ben.json", "2", "3")]
    write(folder, "cat.yaml", "y5: [10\n")  # one bad file: reported in its row, the others marked, exit 1
    result = run("check", SEED, folder)
    assert result.exit_code == 1 and [row["error"] != "" for row in read_csv(result.stdout)] == [False, False, True]


@pytest.mark.parametrize("arguments, expected", [
    (["check", SEED, "{tmp}/missing"], "no such file"),
    (["check", SEED, "{tmp}/empty"], "no answer files"),
    (["check", "{tmp}/empty/none.yaml", CLASS], "no such file"),
    (["check", SEED, CLASS, "-o", "{tmp}/grades.md"], "a .csv or .json file"),
    (["check", SEED, CLASS, "--format", "html"], "add --sheets DIR"),
    (["check", SEED, CLASS, "--sheets", "{tmp}/s", "--format", "json"], "a marked sheet is md, tex, html, pdf"),
    (["check", SEED, CLASS / "alice.yaml", "--sheets", "{tmp}/s"], "ANSWERS is a file"),
    (["check", SEED, "{tmp}/empty", "-o", "{tmp}/empty/grades.json"], "in the folder of answer files"),
])
def test_bad_usage_with_a_folder_is_exit_2_and_writes_nothing(tmp_path, arguments, expected):
    (tmp_path / "empty").mkdir()
    result = run(*[str(argument).replace("{tmp}", str(tmp_path)) for argument in arguments])
    assert result.exit_code == 2 and expected in result.stderr, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty"]


def test_jobs_give_the_same_gradebook_and_a_json_gradebook_holds_each_report(tmp_path):
    one = run("check", MAZUR, CLASS).stdout
    assert run("check", MAZUR, CLASS, "--jobs", "2").stdout == one
    result = run("check", MAZUR, CLASS, "-o", tmp_path / "grades.json", "--jobs", "3")
    students = json.loads((tmp_path / "grades.json").read_text())["students"]
    assert [student["file"] for student in students] == [row["file"] for row in read_csv(one)]
    assert students[1]["report"]["summary"]["carried_forward"] == 2 and students[3]["report"] is None
    assert students[3]["error"] and result.exit_code == 1


class _Tags(html.parser.HTMLParser):
    """Checks that every element HTML needs closed is closed in order."""

    VOID = {"meta", "br", "img", "hr", "input", "link", "path", "circle", "line", "rect", "polygon", "ellipse"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs) -> None:
        pass

    def handle_endtag(self, tag) -> None:
        assert self.open and self.open[-1] == tag, (tag, self.open[-5:])
        self.open.pop()


@pytest.mark.parametrize("fmt", ["md", "html", "tex", "pdf"])
def test_each_students_sheet_in_every_format(tmp_path, fmt):
    if fmt == "pdf" and shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    sheets = tmp_path / "sheets"
    result = run("check", MAZUR, CLASS, "-o", tmp_path / "grades.csv", "--sheets", sheets, "--format", fmt)
    assert result.exit_code == 1, result.stderr
    # Dave's unreadable file has no sheet; the gradebook says why.
    assert sorted(path.name for path in sheets.iterdir()) == [f"{name}.{fmt}" for name in ("alice", "bob", "carol")]
    if fmt == "pdf":
        assert all(path.read_bytes().startswith(b"%PDF") for path in sheets.iterdir())
        return
    bob = (sheets / f"bob.{fmt}").read_text(encoding="utf-8")
    sign_flip = "sign\\_flip" if fmt == "tex" else "sign_flip"
    assert "your answers, marked" in bob and f"Your answer -0.74136507: wrong ({sign_flip})." in bob
    assert "carried forward" in bob and "imprecise" in bob and "unanswered" in bob
    if fmt == "html":
        checker_ = _Tags()
        checker_.feed(bob)
        assert checker_.open == []
        assert "<math" in bob and "<!DOCTYPE html>" in bob
    if fmt == "tex" and shutil.which("pdflatex"):
        assert compile_pdf(bob).startswith(b"%PDF")


@pytest.mark.parametrize("suffix, start", [(".md", "# A 2-2-2"), (".html", "<!DOCTYPE html>"),
                                           (".tex", "\\documentclass"), (".json", "{"), (".txt", "✓ net_h1")])
def test_check_o_takes_its_format_from_the_suffix(tmp_path, suffix, start):
    output = tmp_path / f"marked{suffix}"
    result = run("check", MAZUR, CLASS / "bob.yaml", "-o", output)
    assert result.exit_code == 1 and result.stdout == ""
    assert output.read_text(encoding="utf-8").lstrip().startswith(start)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_check_o_pdf_is_a_marked_sheet(tmp_path):
    result = run("check", SEED, EXAMPLES / "answers" / "seed_relu.yaml", "-o", tmp_path / "marked.pdf")
    assert result.exit_code == 1 and (tmp_path / "marked.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")
def test_a_marked_html_sheet_opens_in_chromium(tmp_path):
    from test_html_in_chromium import browse

    page = tmp_path / "bob.html"
    assert run("check", MAZUR, CLASS / "bob.yaml", "-o", page).exit_code == 1
    dom, log, screenshot = browse(page)
    assert "Your answer -0.74136507: wrong (sign_flip)." in dom and "<math" in dom
    assert "Uncaught" not in log and screenshot.startswith(b"\x89PNG")


# --- anything a student may hand in ----------------------------------------------------------


_NAMES = st.one_of(st.sampled_from(["y5", "x3", "dL/dw13", "w13_new", "L", "δ5", "out_3", "DL/DW35", "y5_hat"]),
                   st.text(min_size=1, max_size=12))
_VALUES = st.one_of(st.none(), st.just(""), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(str),
                    st.text(max_size=10), st.lists(st.integers(), max_size=2), st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.dictionaries(_NAMES, _VALUES, max_size=8), st.sampled_from(["yaml", "json"]))
def test_any_answers_file_gives_a_report_never_a_crash(tmp_path, sheet, suffix):
    folder = tmp_path / "class"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    text = json.dumps(sheet, default=str) if suffix == "json" else yaml.safe_dump(sheet, allow_unicode=True)
    answers = write(folder, f"student.{suffix}", text)
    single = run("check", SEED, answers, "--format", "json")
    assert single.exit_code in (0, 1, 2), single.exception
    assert "Traceback" not in single.output
    if single.exit_code == 2:
        assert single.stderr.startswith("Error: ") and single.stderr.count("\n") == 1
    else:
        assert len(json.loads(single.stdout)["answers"]) == len(sheet)
    book = run("check", SEED, folder)
    assert book.exit_code in (0, 1), book.exception
    (row,) = read_csv(book.stdout)
    assert (row["error"] != "") == (single.exit_code == 2)


def _seed_class(folder: Path) -> Path:
    """A class of the seed exercise: one right, one sign flip carried on, one with a blank, a near miss and a typo."""
    folder.mkdir()
    write(folder, "ann.yaml", "y5: 10\nL: 50\ndL/dy5: 10\ndelta5: 10\ndL/dw35: 50\nw35_new: -3\n")
    write(folder, "ben.yaml", "y5: 10\nL: 50\ndL/dy5: -10\ndelta5: -10\ndL/dw35: -50\nw35_new: 7\n")
    write(folder, "cat.json", '{"y5": 10, "L": "", "dL/dy5": 10.4, "dL/dw53": 50}')
    return folder


@pytest.mark.parametrize("fmt", ["md", "html", "tex"])
def test_a_class_of_the_seed_exercise_its_sheets_jobs_and_options(tmp_path, fmt):
    folder = _seed_class(tmp_path / "class")
    sheets = tmp_path / "sheets"
    result = run("check", SEED, folder, "-o", tmp_path / "grades.csv", "--sheets", sheets, "--format", fmt,
                 "--jobs", "2")
    assert result.exit_code == 1, result.stderr
    ann, ben, cat = read_csv((tmp_path / "grades.csv").read_text(encoding="utf-8"))
    assert ann["score"] == ann["out_of"] == "6" and ann["right"] == "6"
    assert (ben["dL/dy5"], ben["delta5"], ben["w35_new"], ben["score"]) == ("wrong", "carried_forward",
                                                                            "carried_forward", "5")
    assert (cat["L"], cat["dL/dy5"], cat["unknown"], cat["score"]) == ("unanswered", "wrong", "1", "1")
    assert sorted(path.name for path in sheets.iterdir()) == [f"{name}.{fmt}" for name in ("ann", "ben", "cat")]
    text = (sheets / f"cat.{fmt}").read_text(encoding="utf-8")
    assert "no quantity called dL/dw53; did you mean dL/dw35 or dL/dw13 or dL/dw23?" in text
    # --tolerance accepts cat's 10.4 for 10; --min-digits 3 makes ann's exact answers still right.
    loose = read_csv(run("check", SEED, folder, "--tolerance", "0.5", "--min-digits", "3").stdout)
    assert loose[2]["dL/dy5"] == "right" and loose[0]["score"] == "6"
