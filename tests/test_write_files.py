"""Output files are written all whole or none at all, and a replaced file survives a failure."""

import os
import stat
from pathlib import Path

import pytest

from backprop_derive.core.errors import OutputError
from backprop_derive.jobs import output


def test_every_file_is_written_with_the_usual_permissions(tmp_path: Path) -> None:
    files = {tmp_path / "a.md": "one", tmp_path / "sub" / "b.svg": b"<svg/>"}
    output.write_files(files)
    assert (tmp_path / "a.md").read_text() == "one" and (tmp_path / "sub" / "b.svg").read_bytes() == b"<svg/>"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.md").stat().st_mode) == 0o666 & ~mask


def test_a_failed_rename_restores_what_was_there_and_leaves_nothing_else(tmp_path: Path, monkeypatch) -> None:
    first, second = tmp_path / "first.md", tmp_path / "second.md"
    first.write_text("the teacher's old file")
    real_replace, calls = os.replace, []

    def failing_on_the_last(source, target):
        calls.append(target)
        if Path(target) == second:
            raise PermissionError(13, "Permission denied", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(output.os, "replace", failing_on_the_last)
    with pytest.raises(OutputError, match="second.md"):
        output.write_files({first: "new", second: "new"})
    monkeypatch.undo()
    assert first.read_text() == "the teacher's old file"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["first.md"]


def test_a_folder_in_the_way_stops_everything_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "b.md").mkdir()
    with pytest.raises(OutputError, match="b.md"):
        output.write_files({tmp_path / "a.md": "x", tmp_path / "b.md": "y"})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["b.md"]
