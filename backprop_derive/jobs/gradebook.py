"""Marking a class: every answer file of a folder against one solution, a gradebook row and a sheet each."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import BackpropDeriveError, SpecError
from ..core.solution import solve
from .check import VERDICTS, Checker, blank_sheet, marked_sheet, read_answers, report_json

#: The suffixes of answer files in a class's folder.
ANSWER_SUFFIXES = (".yaml", ".yml", ".json")
#: The formats of a marked sheet to hand back.
SHEET_FORMATS = ("md", "tex", "html", "pdf")
#: The formats of the gradebook itself (``-o grades.csv``).
GRADEBOOK_FORMATS = ("csv", "json")
#: The verdicts that earn an answer its point: carried-forward work is credited (SPEC §4.2).
CREDITED = ("right", "carried_forward")


@dataclass(frozen=True)
class Student:
    """One answer file, marked.

    Attributes:
        file: The file's name in the folder.
        verdicts: (position in the solution, the quantity's name, verdict) for each answer of a known name.
        summary: How many answers got each verdict (all zero for a bad file).
        report: The report as ``check --format json`` gives it; None for a bad file.
        error: Why the file could not be marked (one line naming it); None when it was.
        sheet: The marked sheet in the chosen format; None when none was asked for or the file is bad.
    """

    file: str
    verdicts: tuple[tuple[int, str, str], ...]
    summary: dict[str, int]
    report: dict | None
    error: str | None = None
    sheet: str | bytes | None = None

    @property
    def all_right(self) -> bool:
        """True when the file was marked and every answer in it is right."""
        return self.error is None and all(count == 0 for verdict, count in self.summary.items() if verdict != "right")

    @property
    def score(self) -> int:
        """The points earned: one per answer right or carried forward."""
        return sum(self.summary[verdict] for verdict in CREDITED)


class ClassMarker:
    """Marks answer files one by one against a solution derived once.

    Args:
        solution: The solved exercise.
        tolerance: The largest difference accepted, instead of the digits written.
        min_digits: The fewest significant digits a right answer is written with.
        sheet_format: The format of each student's marked sheet (md, tex, html, pdf); None for none.
    """

    def __init__(self, solution, tolerance=None, min_digits: int = 2, sheet_format: str | None = None) -> None:
        self.checker = Checker(solution)
        self.tolerance = tolerance
        self.min_digits = min_digits
        self.sheet_format = sheet_format
        # NOTE: the worked solution is printed once; each sheet only places its marks in it.
        self.blank = blank_sheet(solution, "tex" if sheet_format == "pdf" else sheet_format) if sheet_format else None

    def mark_file(self, path: str | Path) -> Student:
        """One student's file marked; a file that cannot be read or marked is a Student with its error."""
        path = Path(path)
        try:
            report = self.checker.mark(read_answers(path), self.tolerance, self.min_digits)
            sheet = marked_sheet(report, self.sheet_format, self.blank) if self.sheet_format else None
        except SpecError as error:
            return Student(path.name, (), dict.fromkeys(VERDICTS, 0), None, str(error.with_file(str(path))))
        except BackpropDeriveError as error:
            return Student(path.name, (), dict.fromkeys(VERDICTS, 0), None, f"{path}: {error}")
        verdicts = tuple((self.checker.position[mark.quantity], self.checker.aliases.name_of(mark.quantity),
                          mark.verdict) for mark in report.marks if mark.quantity is not None)
        return Student(path.name, verdicts, report.summary, report_json(report), None, sheet)


@dataclass(frozen=True)
class Gradebook:
    """A class marked: one Student per answer file, in file-name order."""

    students: tuple[Student, ...]

    @property
    def columns(self) -> list[str]:
        """Every quantity some student answered (or left blank), in the solution's order."""
        found = {position: name for student in self.students for position, name, _ in student.verdicts}
        return [found[position] for position in sorted(found)]

    @property
    def all_right(self) -> bool:
        """True when every file was marked and every answer is right."""
        return all(student.all_right for student in self.students)

    def csv(self) -> str:
        """The gradebook: file, a verdict per quantity, the count of each verdict, score out of the quantities, error."""
        columns = self.columns
        stream = io.StringIO()
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["file", *columns, *VERDICTS, "score", "out_of", "error"])
        for student in self.students:
            verdicts = {name: verdict for _, name, verdict in student.verdicts}
            writer.writerow([student.file, *(verdicts.get(name, "") for name in columns),
                             *(student.summary[verdict] for verdict in VERDICTS), student.score, len(columns),
                             student.error or ""])
        return stream.getvalue()

    def json(self) -> str:
        """The gradebook as JSON: each student's file, report (as ``check --format json``), score and error."""
        students = [{"file": student.file, "report": student.report, "score": student.score,
                     "out_of": len(self.columns), "error": student.error} for student in self.students]
        return json.dumps({"students": students}, indent=2, ensure_ascii=False) + "\n"

    def render(self, fmt: str) -> str:
        """The gradebook in ``fmt`` (csv or json)."""
        return self.csv() if fmt == "csv" else self.json()

    def sheets(self, folder: str | Path, fmt: str) -> dict[Path, str | bytes]:
        """Each marked student's sheet, as ``folder/<student>.<fmt>`` (the file's name where two share a stem)."""
        stems = [Path(student.file).stem for student in self.students]
        return {Path(folder) / f"{stem if stems.count(stem) == 1 else student.file}.{fmt}": student.sheet
                for stem, student in zip(stems, self.students) if student.sheet is not None}

    def summary_line(self) -> str:
        """``Marked 30 answer files: 12 all right, 17 not, 1 unreadable.``"""
        bad = sum(student.error is not None for student in self.students)
        right = sum(student.all_right for student in self.students)
        return (f"Marked {len(self.students)} answer files: {right} all right, "
                f"{len(self.students) - right - bad} not, {bad} unreadable.")


def answer_files(folder: str | Path) -> list[Path]:
    """The answer files of ``folder`` (``.yaml``, ``.yml``, ``.json``; not hidden ones), by name.

    Raises:
        SpecError: the folder is missing or holds no answer file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError("no such folder", file=str(folder))
    files = sorted(path for path in folder.iterdir()
                   if path.suffix.lower() in ANSWER_SUFFIXES and path.is_file() and not path.name.startswith("."))
    if not files:
        raise SpecError(f"no answer files ({', '.join(ANSWER_SUFFIXES)}) in this folder", file=str(folder))
    return files


def mark_class(marker: ClassMarker, folder: str | Path, jobs: int = 1, spec=None) -> Gradebook:
    """Mark every answer file of ``folder``; one bad file is reported in its row, never stopping the others.

    Args:
        marker: Marks one file (its solution derived once).
        folder: The class's folder of answer files.
        jobs: How many processes mark (the gradebook is the same whatever the number).
        spec: What each worker process solves to build its own marker (needed when ``jobs`` > 1): the
            spec's parsed document or path.
    """
    files = answer_files(folder)
    if jobs > 1 and len(files) > 1:
        chunk = max(1, min(16, len(files) // (4 * jobs)))
        with _pool(marker, min(jobs, len(files)), spec) as pool:
            return Gradebook(tuple(pool.map(_mark_in_worker, files, chunksize=chunk)))
    return Gradebook(tuple(marker.mark_file(path) for path in files))


def _pool(marker: ClassMarker, workers: int, spec) -> ProcessPoolExecutor:
    """Worker processes that mark with ``marker``: inherited where processes fork, else each solving ``spec`` anew."""
    global _WORKER
    if "fork" in multiprocessing.get_all_start_methods():
        # NOTE: a forked worker starts with the solution already derived: no second derivation per process.
        _WORKER = marker
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    options = (spec, marker.checker.solution.notation.style, marker.checker.solution.precision,
               marker.tolerance, marker.min_digits, marker.sheet_format)
    return ProcessPoolExecutor(workers, initializer=_start_worker, initargs=options)


_WORKER: ClassMarker | None = None


def _start_worker(spec, notation: str, precision: int, tolerance, min_digits: int, sheet_format: str | None) -> None:
    global _WORKER
    _WORKER = ClassMarker(solve(spec, notation=notation, precision=precision), tolerance, min_digits, sheet_format)


def _mark_in_worker(path: Path) -> Student:
    return _WORKER.mark_file(path)
