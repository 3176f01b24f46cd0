"""SPEC §4 "Files:" through the command line, one test per class of defect: an output that is an input,
special files, long names, the suffix rule, standard input, binary on a terminal, signals, two writers,
a file where a folder goes, inputs that are not regular files, Unicode in PDF, summaries and NO_COLOR."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from click.testing import CliRunner

from backprop_derive.cli import main
from backprop_derive.core.limits import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SEED = EXAMPLES / "seed_relu.yaml"
ANSWERS = EXAMPLES / "answers" / "seed_relu.yaml"
NO_LATEX = "pdflatex is not installed here (install TeX Live to run this test)"
#: MathML's token elements: the only ones whose text a browser draws.
TOKENS = {"mi", "mn", "mo", "mtext", "ms"}


def run(*arguments, input=None):
    return CliRunner().invoke(main, [str(argument) for argument in arguments], input=input)


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    copy = tmp_path / "spec.yaml"
    shutil.copy(SEED, copy)
    return copy


@pytest.fixture
def answers(tmp_path: Path) -> Path:
    copy = tmp_path / "answers.yaml"
    shutil.copy(ANSWERS, copy)
    return copy


# --- an output that is one of the inputs ---------------------------------------------------


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
@pytest.mark.parametrize("command", ["solve", "derive", "check spec", "check answers"])
def test_an_output_that_is_an_input_is_refused_and_nothing_is_written(tmp_path, spec, answers, command, link):
    victim = answers if command == "check answers" else spec
    target = {"same": victim, "symlink": tmp_path / "out.md", "hardlink": tmp_path / "out.md"}[link]
    if link == "symlink":
        target.symlink_to(victim)
    elif link == "hardlink":
        os.link(victim, target)
    before, files = victim.read_bytes(), listing(tmp_path)
    name = command.split()[0]
    arguments = [name, spec, answers] if name == "check" else [name, spec]
    result = run(*arguments, "-o", target, *(["--format", "md"] if name == "check" else []))
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Usage" not in result.output
    assert victim.read_bytes() == before and listing(tmp_path) == files


def test_generate_never_writes_over_the_spec_it_was_made_from(tmp_path):
    folder = tmp_path / "hw"
    assert run("generate", "--count", "1", "-o", folder).exit_code == 0
    structure = folder / "variant-1" / "spec.yaml"
    before = structure.read_bytes()
    result = run("generate", "--from", structure, "--count", "1", "-o", folder, "--force")
    assert result.exit_code == 2 and "the same file" in result.output
    assert structure.read_bytes() == before


# --- special files, links and long names --------------------------------------------------


def _special_files(folder: Path) -> dict[str, Path]:
    fifo = folder / "fifo"
    os.mkfifo(fifo)
    kinds = {"fifo": fifo, "link to a fifo": folder / "stdout"}
    kinds["link to a fifo"].symlink_to(fifo)
    try:  # NOTE: a null device of our own (as root, in CI and containers), never the system's /dev/null
        os.mknod(folder / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        kinds["null device"] = folder / "null"
    except PermissionError:
        pass
    return kinds


def _reading(path: Path) -> tuple[threading.Thread, list[bytes]]:
    received: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read)
    reader.start()
    return reader, received


@pytest.mark.parametrize("fmt", ["md", "txt"])
def test_a_fifo_or_device_is_written_through_never_replaced_and_nothing_is_made_beside_it(tmp_path, spec, fmt):
    specials = _special_files(tmp_path / "")
    before = {name: os.lstat(path) for name, path in specials.items()}
    for name, target in specials.items():
        reader, received = _reading(target) if "fifo" in name else (None, [])
        result = run("solve", spec, "--format", fmt, "-o", target)
        if reader:
            reader.join(10)
            assert received and received[0].decode("utf-8").count("The seed exercise") >= 1, name
            assert fmt != "md" or b"```mermaid" in received[0], "figures inline: no SVG files beside a stream"
        assert result.exit_code == 0, (name, result.output)
        after = os.lstat(target)
        assert (after.st_ino, stat.S_IFMT(after.st_mode)) == (before[name].st_ino, stat.S_IFMT(before[name].st_mode))
    assert listing(tmp_path) == sorted(["spec.yaml", *(path.name for path in specials.values())])


def test_a_fifo_nobody_reads_is_refused_at_once_not_waited_on(tmp_path, spec):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = run("solve", spec, "--format", "md", "-o", fifo)
    assert result.exit_code == 2 and "no process is reading" in result.output
    assert time.monotonic() - started < 10 and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_link_to_a_file_stays_a_link_and_the_file_gets_the_output(tmp_path, spec):
    real = tmp_path / "real.txt"
    real.write_text("old")
    (tmp_path / "link.txt").symlink_to(real)
    assert run("solve", spec, "-o", tmp_path / "link.txt").exit_code == 0
    assert (tmp_path / "link.txt").is_symlink() and real.read_text().startswith("The seed exercise")


def test_a_file_name_of_245_characters_works_with_its_figures_beside_it(tmp_path, spec):
    name = "a" * 242 + ".md"
    result = run("solve", spec, "-o", tmp_path / name)
    assert result.exit_code == 0, result.output
    assert listing(tmp_path) == sorted([name, "a" * 242 + ".chain.svg", "a" * 242 + ".network.svg", "spec.yaml"])


# --- the format of -o: one rule for every command ------------------------------------------


COMMANDS = {"solve": ["solve", SEED], "derive": ["derive", SEED], "check": ["check", SEED, ANSWERS]}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", ["out.docx", "out.yaml", "out", "out.svg"])
def test_an_unknown_suffix_is_refused_by_every_command(tmp_path, command, name):
    result = run(*COMMANDS[command], "-o", tmp_path / name)
    assert result.exit_code == 2 and "names no format" in result.output
    assert result.output.count("\n") == 1 and listing(tmp_path) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_suffix_that_contradicts_format_is_refused_by_every_command(tmp_path, command):
    result = run(*COMMANDS[command], "--format", "json", "-o", tmp_path / "out.md")
    assert result.exit_code == 2 and "--format says json" in result.output
    assert listing(tmp_path) == []


@pytest.mark.parametrize(("command", "start"), [("derive", "<!DOCTYPE html>"), ("check", "<!DOCTYPE html>"),
                                                ("solve", "<!DOCTYPE html>")])
def test_html_by_its_suffix_is_html_from_every_command(tmp_path, command, start):
    result = run(*COMMANDS[command], "-o", tmp_path / "out.html")
    assert result.exit_code in (0, 1), result.output
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert html.startswith(start) and "<math" in html and "$" not in html.split("<body", 1)[1]


@pytest.mark.parametrize("arguments", [
    *(["derive", EXAMPLES / f"{name}.yaml"]
      for name in ("mazur_2_2_2", "softmax_cross_entropy", "bce_batch_2_3_1", "custom_activation")),
    ["check", SEED, ANSWERS],
], ids=lambda arguments: " ".join(Path(argument).stem for argument in arguments))
def test_derive_and_check_html_write_every_formula_as_mathml_a_browser_draws(tmp_path, arguments):
    assert run(*arguments, "-o", tmp_path / "out.html").exit_code in (0, 1)
    html = (tmp_path / "out.html").read_text(encoding="utf-8")
    formulas = re.findall(r"<math[^>]*>.*?</math>", html, re.S)
    assert formulas
    for formula in formulas:
        # NOTE: inside <math> only token elements hold text: a bare "x" or " + " is not drawn.
        root = ElementTree.fromstring(formula)
        for element in root.iter():
            drawn = element.tag in TOKENS
            assert drawn or not (element.text or "").strip(), (element.tag, element.text, formula[:300])
            assert element is root or not (element.tail or "").strip(), (element.tail, formula[:300])


def test_check_html_marks_each_answer_beside_its_line(tmp_path):
    run("check", SEED, ANSWERS, "-o", tmp_path / "marked.html")
    html = (tmp_path / "marked.html").read_text(encoding="utf-8")
    assert '<div class="mark">✓ Your answer 5: right.</div>' in html
    assert "<td>-3</td>" in html, "the answer as written"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason=NO_LATEX)
@pytest.mark.parametrize("command", ["check", "derive"])
def test_pdf_by_its_suffix_is_a_real_pdf(tmp_path, command):
    result = run(*COMMANDS[command], "-o", tmp_path / "out.pdf")
    assert result.exit_code in (0, 1), result.output
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")


# --- standard input ------------------------------------------------------------------------


def test_a_dash_reads_the_spec_or_the_answers_from_standard_input():
    solved = run("solve", "-", "--format", "json", input=SEED.read_bytes())
    assert solved.exit_code == 0 and '"loss": 50' in solved.stdout
    assert run("derive", "-", input=SEED.read_bytes()).exit_code == 0
    assert run("check", SEED, "-", input=ANSWERS.read_bytes()).stdout == run("check", SEED, ANSWERS).stdout
    assert run("check", "-", ANSWERS, input=SEED.read_bytes()).stdout == run("check", SEED, ANSWERS).stdout
    both = run("check", "-", "-", input=SEED.read_bytes())
    assert both.exit_code == 2 and "only one input can be -" in both.output


def test_a_bad_spec_on_standard_input_is_named_so():
    result = run("solve", "-", input=b"inputs: [1\n")
    assert result.exit_code == 2 and result.output.startswith("Error: (standard input): not valid YAML")


def test_generate_from_standard_input(tmp_path):
    result = run("generate", "--from", "-", "--count", "1", "-o", tmp_path / "hw", input=SEED.read_bytes())
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hw" / "variant-1" / "spec.yaml").exists()


# --- a terminal: no binary, no colour with NO_COLOR ----------------------------------------


def _on_a_terminal(*arguments: str, environment: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
    """Run the CLI with standard output on a pseudo-terminal; its exit code, what the terminal got, stderr."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "backprop_derive", *arguments], cwd=ROOT, stdout=follower,
                               stderr=subprocess.PIPE, env={**os.environ, **(environment or {})})
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # NOTE: EIO once the process has closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(60), shown, process.stderr.read()


def test_pdf_is_never_written_to_a_terminal():
    code, shown, errors = _on_a_terminal("solve", str(SEED), "--format", "pdf")
    assert code == 2 and b"%PDF" not in shown
    assert b"-o solution.pdf" in errors


def test_no_color_turns_the_colours_of_check_off():
    environment = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    coloured = _on_a_terminal("check", str(SEED), str(ANSWERS), environment={**environment, "TERM": "xterm"})
    plain = _on_a_terminal("check", str(SEED), str(ANSWERS), environment={"NO_COLOR": "1", "TERM": "xterm"})
    assert b"\x1b[" in coloured[1], "the test would pass without colours at all"
    assert b"\x1b[" not in plain[1] and b"right" in plain[1]


# --- summaries on standard error -------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_says_what_it_wrote_on_standard_error(tmp_path, command):
    result = run(*COMMANDS[command], "-o", tmp_path / "out.md")
    assert result.exit_code in (0, 1)
    assert result.stdout == "" and result.stderr.startswith(f"Wrote {tmp_path / 'out.md'}")


# --- all or nothing, whatever the signal; one writer per folder ------------------------------


SIGNALLED = textwrap.dedent("""
    import os, signal, sys
    from backprop_derive.jobs import output
    from backprop_derive.cli import main

    calls, (where, number, signum) = [0], (sys.argv[1], int(sys.argv[2]), getattr(signal, sys.argv[3]))
    real = {"replace": output.os.replace, "staged": output._staged}

    def signalled(name):
        def step(*arguments):
            calls[0] += 1
            if calls[0] == number:
                os.kill(os.getpid(), signum)
            return real[name](*arguments)
        return step

    if where == "replace":
        output.os.replace = signalled("replace")
    else:
        output._staged = signalled("staged")
    main(sys.argv[4:], prog_name="backprop-derive")
""")


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM", "SIGHUP"])
@pytest.mark.parametrize(("where", "number"), [("staged", 5), ("replace", 7)])
def test_a_signal_while_generate_writes_leaves_nothing_behind(tmp_path, signum, where, number):
    folder = tmp_path / "hw"
    command = [sys.executable, "-c", SIGNALLED, where, str(number), signum,
               "generate", "--count", "4", "-o", str(folder)]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    interrupted = signum == "SIGINT" and finished.returncode == 1 and "Aborted!" in finished.stderr  # click's
    assert finished.returncode == -getattr(signal, signum) or interrupted, finished.stderr
    assert "Traceback" not in finished.stderr
    assert not folder.exists(), listing(folder)


def test_a_signal_while_replacing_files_restores_the_old_ones(tmp_path):
    folder = tmp_path / "hw"
    assert run("generate", "--count", "2", "-o", folder).exit_code == 0
    before = {name: (folder / name).read_bytes() for name in listing(folder) if (folder / name).is_file()}
    command = [sys.executable, "-c", SIGNALLED, "replace", "4", "SIGTERM",
               "generate", "--count", "2", "--seed", "3", "-o", str(folder), "--force"]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == -signal.SIGTERM
    assert {name: (folder / name).read_bytes() for name in listing(folder) if (folder / name).is_file()} == before
    assert listing(folder) == sorted([*before, "variant-1", "variant-2"])


def test_a_folder_being_written_is_refused_to_a_second_writer(tmp_path):
    folder = tmp_path / "hw"
    folder.mkdir()
    holder = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # NOTE: as a first generate does while it writes
        result = run("generate", "--count", "2", "-o", folder)
    finally:
        os.close(holder)
    assert result.exit_code == 2 and "another backprop-derive is writing into this folder" in result.output
    assert listing(folder) == []
    assert run("generate", "--count", "2", "-o", folder).exit_code == 0, "free again once the first has finished"


@pytest.mark.parametrize("blocker", ["hw", "hw/variant-2"])
def test_a_file_where_a_folder_goes_is_one_line_and_nothing_is_left(tmp_path, blocker):
    (tmp_path / blocker).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / blocker).write_text("in the way")
    before = listing(tmp_path)
    result = run("generate", "--count", "3", "-o", tmp_path / "hw")
    assert result.exit_code == 2 and "a file is where a folder goes" in result.output
    assert result.output.count("\n") == 1
    assert listing(tmp_path) == before


def test_solve_into_a_missing_folder_removes_it_again_on_failure(tmp_path, spec, monkeypatch):
    from backprop_derive.jobs import output

    def full(*arguments):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "_staged", full)
    result = run("solve", spec, "-o", tmp_path / "new" / "deeper" / "seed.md")
    assert result.exit_code == 2 and "No space left on device" in result.output
    assert listing(tmp_path) == ["spec.yaml"]


# --- inputs that are not regular files, or too large ----------------------------------------


@pytest.mark.parametrize("command", ["solve", "derive", "check"])
def test_a_folder_as_spec_is_one_line_not_a_usage_block(tmp_path, command):
    arguments = [command, tmp_path] + ([ANSWERS] if command == "check" else [])
    result = run(*arguments)
    assert result.exit_code == 2 and result.output == f"Error: {tmp_path}: this is a folder; expected a YAML or JSON file\n"


@pytest.mark.parametrize("source", ["fifo", "/dev/zero", "/dev/urandom"])
def test_an_input_that_is_not_a_regular_file_is_refused_at_once(tmp_path, source):
    if source == "fifo":
        source = str(tmp_path / "fifo")
        os.mkfifo(source)
    for arguments in (["solve", source], ["check", str(SEED), source]):
        finished = subprocess.run([sys.executable, "-m", "backprop_derive", *arguments], cwd=ROOT,
                                  capture_output=True, text=True, timeout=20)
        assert finished.returncode == 2 and "not a regular file" in finished.stderr
        assert finished.stderr.count("\n") == 1


def test_an_input_larger_than_the_limit_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as stream:
        stream.truncate(MAX_FILE_BYTES + 1)
    started = time.monotonic()
    result = run("solve", big)
    assert result.exit_code == 2 and f"larger than {MAX_FILE_BYTES // 2**20} MB" in result.output
    assert time.monotonic() - started < 5
    assert run("solve", "-", input=b"#" * (MAX_FILE_BYTES + 1)).exit_code == 2


# --- Unicode in a PDF -------------------------------------------------------------------------


def _titled(tmp_path: Path, title: str) -> Path:
    path = tmp_path / "titled.yaml"
    path.write_text(f'title: "{title}"\n' + SEED.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    return path


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason=NO_LATEX)
def test_a_title_with_mathematical_characters_is_typeset_in_the_pdf(tmp_path):
    result = run("solve", _titled(tmp_path, "∑ of δ·η for x₁² ≤ ∞"), "-o", tmp_path / "out.pdf")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")


def test_a_character_pdflatex_cannot_set_is_refused_up_front_in_one_line(tmp_path):
    result = run("solve", _titled(tmp_path, "反向传播"), "-o", tmp_path / "out.pdf")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "'反' (U+53CD)" in result.output and "LaTeX failed" not in result.output
    assert not (tmp_path / "out.pdf").exists()


@pytest.mark.parametrize(("signum", "to_group"), [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["Ctrl-C to the terminal's group", "SIGTERM to the command alone"])
def test_a_signal_during_generate_with_workers_stops_them_all_at_once_and_leaves_nothing(tmp_path, signum, to_group):
    folder = tmp_path / "hw"
    # NOTE: a session of its own, as a terminal's foreground group, with Ctrl-C's usual handler.
    # NOTE: the most variants one run makes of the default network (core.limits.MAX_GENERATED), about 4 s.
    process = subprocess.Popen([sys.executable, "-m", "backprop_derive", "generate", "--count", "200", "--jobs", "2",
                                "-o", str(folder)], cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # NOTE: signalled once generate holds its folder and its workers are drawing (it then runs for seconds more).
    deadline = time.monotonic() + 30
    while not folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    (os.killpg if to_group else os.kill)(process.pid, signum)
    try:
        code = process.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert code == (1 if signum == signal.SIGINT else -signum)
    assert "Traceback" not in process.stderr.read()
    assert not folder.exists()
    time.sleep(0.5)
    group = [entry for entry in Path("/proc").iterdir() if entry.name.isdigit() and _group_of(entry) == process.pid]
    assert group == [], "no worker outlives the command"


def _group_of(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
    except (OSError, ValueError, IndexError):
        return None
