"""Output files: a set of files written all whole or none at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..core.errors import OutputError


def write_files(files: dict[Path, str | bytes]) -> None:
    """Write every file whole, or on any error leave the folder as it was.

    Each file goes to a temporary file beside it first; only when all are written are they renamed
    into place, and a file they replace is kept aside until every rename has succeeded.

    Raises:
        OutputError: a file cannot be written (naming it and why).
    """
    staged: dict[Path, Path] = {}
    kept: dict[Path, Path] = {}
    placed: list[Path] = []
    target = next(iter(files), Path())
    try:
        for target in files:
            if target.is_dir():
                raise IsADirectoryError(21, "a folder of that name is there", str(target))
        for target, content in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            staged[target] = _staged(target, content)
        for target, temporary in staged.items():
            if target.exists():
                kept[target] = _aside(target)
            os.replace(temporary, target)
            placed.append(target)
    except BaseException as error:
        for temporary in staged.values():
            temporary.unlink(missing_ok=True)
        for file in placed:
            file.unlink(missing_ok=True)
        for file, original in kept.items():
            os.replace(original, file)
        if isinstance(error, OSError):
            raise OutputError(f"{target}: cannot write there ({error.strerror})") from None
        raise
    for original in kept.values():
        original.unlink(missing_ok=True)


def _staged(target: Path, content: str | bytes) -> Path:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    with os.fdopen(handle, "wb") as stream:
        stream.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    # NOTE: mkstemp makes the file private (0600); an output file gets the usual permissions.
    os.chmod(temporary, 0o666 & ~_umask())
    return Path(temporary)


def _aside(target: Path) -> Path:
    handle, original = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old")
    os.close(handle)
    os.replace(target, original)
    return Path(original)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
