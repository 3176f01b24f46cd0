"""Output files: a set of files written all whole or none at all, by one writer at a time."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..core.errors import OutputError

#: The signals that stop a write: it is rolled back, then the signal is delivered as usual.
STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: How long a write waits for another writer of the same folder to finish.
LOCK_WAIT_SECONDS = 10.0


class Interrupted(BaseException):
    """A stopping signal arrived while files were being written (raised to roll the write back)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def is_stream(path: str | Path) -> bool:
    """True when output to ``path`` must be written through it, never replacing it: a FIFO, a device,
    or this process's own standard output or error (``-o /dev/stdout`` redirected to a file)."""
    try:
        status = os.stat(path)
    except OSError:
        return False
    if stat.S_ISFIFO(status.st_mode) or stat.S_ISCHR(status.st_mode):
        return True
    return stat.S_ISREG(status.st_mode) and (status.st_dev, status.st_ino) in _standard_outputs()


def _standard_outputs() -> set[tuple[int, int]]:
    outputs = set()
    for descriptor in (1, 2):
        with contextlib.suppress(OSError):
            status = os.fstat(descriptor)
            outputs.add((status.st_dev, status.st_ino))
    return outputs


def write_files(files: dict[Path, str | bytes], inputs: Iterable[str | Path] = ()) -> list[Path]:
    """Write every file whole, or on any error or stopping signal leave everything as it was.

    A regular file (or a new path) is written to a temporary file beside it first; only when all are
    written are they renamed into place, and a file they replace is kept aside until every rename has
    succeeded. A device or a FIFO (``/dev/null``, ``/dev/stdout`` into a pipe) is written through,
    never replaced. Folders are made as needed and removed again on failure; the folder written
    into is locked against a second writer while the files are placed.

    Args:
        files: The content of each file, by its path.
        inputs: The files the command read: an output that is one of them (through any link) is refused.

    Returns:
        The paths written, in order.

    Raises:
        OutputError: a file cannot be written there (naming it and why); nothing was written.
    """
    regular, through = _sorted_targets(files, inputs)
    made: list[Path] = []
    staged: dict[Path, Path] = {}
    kept: dict[Path, Path] = {}
    placed: list[Path] = []
    target = next(iter(files), Path())
    with stopping_signals_raise():
        try:
            with contextlib.ExitStack() as stack:
                if regular:
                    top = Path(os.path.commonpath([str(path.parent.absolute()) for path in regular]))
                    made += _make_folders(top)
                    stack.enter_context(folder_lock(top, LOCK_WAIT_SECONDS))
                for target, content in regular.items():
                    made += _make_folders(target.parent)
                    staged[target] = _staged(target, content)
                for target, temporary in staged.items():
                    if target.exists():
                        kept[target] = _aside(target)
                    os.replace(temporary, target)
                    placed.append(target)
                for target, content in through.items():
                    _write_through(target, content)
        except BaseException as error:
            for temporary in staged.values():
                temporary.unlink(missing_ok=True)
            for file in placed:
                file.unlink(missing_ok=True)
            for file, original in kept.items():
                os.replace(original, file)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            if isinstance(error, OSError):
                raise OutputError(f"{target}: cannot write there ({_reason(error)})") from None
            raise
        for original in kept.values():
            original.unlink(missing_ok=True)
    return list(files)


Contents = dict[Path, "str | bytes"]


def _sorted_targets(files: dict[Path, str | bytes], inputs: Iterable[str | Path]) -> tuple[Contents, Contents]:
    """The regular targets (resolved through links, so that a link is kept) and those written through.

    Raises:
        OutputError: a target is one of ``inputs``, a folder, or neither a file, a FIFO nor a character device.
    """
    read = {_identity(path): str(path) for path in inputs if str(path) != "-" and _identity(path)}
    regular: Contents = {}
    through: Contents = {}
    for path, content in files.items():
        identity = _identity(path)
        if identity in read:
            raise OutputError(f"{path}: this is the input {read[identity]} itself (the same file); "
                              f"nothing was written — choose another output file")
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            mode = 0
        except OSError as error:
            raise OutputError(f"{path}: cannot write there ({_reason(error)})") from None
        if stat.S_ISDIR(mode):
            raise OutputError(f"{path}: cannot write there (a folder of that name is there)")
        if is_stream(path):
            through[path] = content
        elif mode and not stat.S_ISREG(mode):
            raise OutputError(f"{path}: cannot write there (not a regular file, a FIFO or a character device)")
        else:
            # NOTE: a link to a file stays a link: the file it points to is the one replaced.
            regular[Path(os.path.realpath(path)) if path.is_symlink() else path] = content
    return regular, through


def _identity(path: str | Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _reason(error: OSError) -> str:
    reasons = {errno.ENXIO: "no process is reading from it", errno.EEXIST: "a file is where a folder goes",
               errno.ENOTDIR: "a file is where a folder goes"}
    return reasons.get(error.errno, error.strerror or str(error))


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; the ones made, outermost first."""
    missing = []
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    made = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
    except BaseException:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return made


def _staged(target: Path, content: str | bytes) -> Path:
    # NOTE: a short name of its own, so that a file name near the system's limit (255 bytes) still works.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".bd-", suffix=".part")
    with os.fdopen(handle, "wb") as stream:
        stream.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    # NOTE: mkstemp makes the file private (0600); an output file gets the usual permissions.
    os.chmod(temporary, 0o666 & ~_umask())
    return Path(temporary)


def _aside(target: Path) -> Path:
    handle, original = tempfile.mkstemp(dir=target.parent, prefix=".bd-", suffix=".old")
    os.close(handle)
    os.replace(target, original)
    return Path(original)


def _write_through(target: Path, content: str | bytes) -> None:
    """Write into a FIFO, a device or standard output as it is (never replacing it); a FIFO nobody reads
    is refused, not waited on."""
    # NOTE: O_APPEND: standard output redirected with >> keeps what is there.
    handle = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        if isinstance(content, bytes) and os.isatty(handle):
            raise OutputError(f"{target}: a terminal; PDF is binary — write it to a file, e.g. -o solution.pdf")
        os.set_blocking(handle, True)
        data = memoryview(content if isinstance(content, bytes) else content.encode("utf-8"))
        while data:
            data = data[os.write(handle, data):]
    finally:
        os.close(handle)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- one writer per folder, and signals that roll a write back -------------------------------

_held: dict[tuple[int, int], int] = {}


@contextlib.contextmanager
def folder_lock(folder: Path, wait: float) -> Iterator[None]:
    """Hold ``folder`` against other processes writing into it (re-entrant within this process).

    Raises:
        OutputError: ``folder`` is not a folder, or another process still holds it after ``wait`` seconds.
    """
    try:
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise OutputError(f"{folder}: cannot write there ({_reason(error)})") from None
    key = _identity(folder)
    try:
        if not _held.get(key):
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as error:
                    if not isinstance(error, BlockingIOError):
                        break  # NOTE: a file system without locks (some network ones): write unlocked
                    if time.monotonic() >= deadline:
                        raise OutputError(f"{folder}: another backprop-derive is writing into this folder; "
                                          f"nothing was written — try again when it has finished") from None
                    time.sleep(0.05)
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
    finally:
        os.close(handle)  # NOTE: closing the last descriptor releases the lock


@contextlib.contextmanager
def writing_into(folder: Path, wait: float = 0.0) -> Iterator[None]:
    """Make ``folder`` if missing and hold it for one writer; on failure, remove the folders made.

    Raises:
        OutputError: a file is where the folder goes, or another process is writing into it.
    """
    with stopping_signals_raise():
        try:
            made = _make_folders(folder)
        except OSError as error:
            raise OutputError(f"{folder}: cannot write there ({_reason(error)})") from None
        try:
            with folder_lock(folder, wait):
                yield
        except BaseException:
            for made_folder in reversed(made):
                with contextlib.suppress(OSError):
                    made_folder.rmdir()
            raise


_signal_depth = 0


@contextlib.contextmanager
def stopping_signals_raise() -> Iterator[None]:
    """Within this block SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` (once), so that a write can be
    rolled back; on leaving the outermost block, the signal is delivered again to its usual handler.
    """
    global _signal_depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _signal_depth:
        _signal_depth += 1
        try:
            yield
        finally:
            _signal_depth -= 1
        return
    arrived: list[int] = []

    def stop(signum: int, frame) -> None:
        if not arrived:  # NOTE: a second signal must not interrupt the rollback of the first
            arrived.append(signum)
            raise Interrupted(signum)

    # NOTE: a signal that is ignored (SIGHUP under nohup) stays ignored.
    previous = {number: signal.signal(number, stop) for number in STOPPING_SIGNALS
                if signal.getsignal(number) is not signal.SIG_IGN}
    _signal_depth = 1
    try:
        yield
    except Interrupted:
        pass
    finally:
        _signal_depth = 0
        for number, handler in previous.items():
            signal.signal(number, handler)
    if arrived:
        signal.raise_signal(arrived[0])  # NOTE: its usual handler: KeyboardInterrupt, or the process ends
        raise OutputError(f"stopped by {signal.Signals(arrived[0]).name}; nothing was written")
