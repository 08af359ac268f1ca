"""Atomic file writes: a temporary file beside the target, renamed over it only on success.

A writer that fails half-way, or whose process gets SIGTERM (from the main thread), leaves no
partial file, and an existing file at the target path stays as it was. The file gets the
permissions a plain ``open`` gives (a replaced file keeps its mode), and errors name the target,
never the hidden temporary file. The temporary's name carries the writer's process id
(``.<name>.<pid>.<random>.partial``): a write removes the leftovers of earlier writes to the same
path whose process is gone (killed), never a live writer's. A directory as the target fails
before any writing; ``overwrite=False`` links the file into place, so of two writers racing for
one path one wins whole and the other raises.

Examples
--------
>>> import tempfile, pathlib
>>> from exporters.atomic import atomic_path
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.bin"
>>> with atomic_path(target) as temporary:
...     _ = temporary.write_bytes(b"data")
>>> target.read_bytes()
b'data'
"""

from __future__ import annotations

import abc
import contextlib
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

from eventcode.errors import ExportError

if TYPE_CHECKING:
    from eventcode.events import Events


class Closable(Protocol):
    """A file object of any format: what :class:`AtomicWriter` needs of it."""

    def close(self) -> None: ...


WriterT = TypeVar("WriterT", bound="AtomicWriter")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit rename it to ``path``.

    On an exception, or a SIGTERM while the block runs in the main thread, the temporary file
    is removed and ``path`` is left untouched. A new file gets the permissions a plain ``open``
    would give it (``0o666`` less the umask); a replaced file keeps its mode. An ``OSError``
    raised in the block names ``path``, never the hidden temporary name.

    Raises
    ------
    ExportError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    """
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"{target} is a directory; give the path of a file to write (inside it, say)")
    if not overwrite and target.exists():
        raise ExportError(f"{target} exists; pass overwrite=True to replace it")
    _remove_leftovers(target)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    with _SIGTERM_CLEANS_UP(), _naming_target(temporary, target):
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies
        try:
            yield temporary
            if mode is not None:
                os.chmod(temporary, mode)
            if overwrite:
                os.replace(temporary, target)
            else:  # a link fails if another writer made the file meanwhile: one wins, whole
                try:
                    os.link(temporary, target)
                except FileExistsError:
                    raise ExportError(
                        f"{target} appeared while this write ran (another writer?) and overwrite=False: "
                        "it was left as it is"
                    ) from None
        finally:
            temporary.unlink(missing_ok=True)


def _remove_leftovers(target: Path) -> None:
    """Remove the temporary files of earlier writes to ``target`` whose writing process is gone
    (killed before it could clean up); a live writer's file is left alone."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]+\.partial")
    try:
        names = os.listdir(target.parent if str(target.parent) else ".")
    except OSError:
        return
    for name in names:
        found = pattern.fullmatch(name)
        if found is not None and not _alive(int(found.group(1))):
            (target.parent / name).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _naming_target(temporary: Path, target: Path) -> Iterator[None]:
    """Re-raise an ``OSError`` of the block with ``target`` wherever it names ``temporary``.

    A system error that names no file (a full disk, a file too large) is the write's: it gets
    ``target`` as its file. Errors about other files pass unchanged.
    """
    old, new = os.fspath(temporary), os.fspath(target)

    def swap(value: object) -> object:
        return value.replace(old, new) if isinstance(value, str) else value

    try:
        yield
    except OSError as err:
        if err.errno is not None and err.filename in (None, old):
            renamed = type(err)(err.errno, swap(err.strerror), new)
        elif old in str(err):
            renamed = type(err)(*map(swap, err.args))
        else:
            raise
        raise renamed.with_traceback(err.__traceback__) from None


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread while an atomic write is open there."""


class _SigtermCleansUp:
    """While atomic writes are open in the main thread, a SIGTERM raises so that they clean up.

    SIGTERM's default action ends the process at once, skipping every ``finally`` and leaving the
    temporary file behind. Where SIGTERM has that default action (a handler of the program's own,
    or SIG_IGN, is left alone), the outermost atomic write in the main thread installs a handler
    that raises :class:`_Terminated` (and ignores a second SIGTERM during the cleanup); when that
    write has cleaned up, it restores the default action and raises the signal again, so the
    process ends with SIGTERM's usual status. Other threads cannot set handlers: their writes
    are left as they were.
    """

    def __init__(self) -> None:
        self._depth = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread() or (
            self._depth == 0 and signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        ):
            yield
            return
        if self._depth == 0:
            signal.signal(signal.SIGTERM, _raise_terminated)
        self._depth += 1
        terminated = False
        try:
            yield
        except _Terminated:
            terminated = True
            raise
        finally:
            self._depth -= 1
            if self._depth == 0:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                if terminated:
                    signal.raise_signal(signal.SIGTERM)


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Terminated(f"signal {signum} (SIGTERM) during an atomic write")


_SIGTERM_CLEANS_UP = _SigtermCleansUp()


class AtomicWriter(abc.ABC):
    """Base of the chunk-by-chunk writers: one atomic file, open while a ``with`` block runs.

    A subclass opens its file format on the temporary path (:meth:`_open`) and completes it
    (:meth:`_finish`); this class makes the file appear at ``path`` only when the block ends
    without an error and removes the temporary file otherwise.

    Parameters
    ----------
    path : path
        Target file.
    shape : tuple of int
        Dense shape of one sample, which every written chunk must have.
    overwrite : bool
        Replace an existing file; False raises :class:`ExportError` on entering.
    polarities : {2, 1, 0}
        The sensor's kinds of event (:attr:`eventcode.Events.polarities`), which every chunk must have.
    """

    def __init__(
        self, path: str | os.PathLike[str], shape: tuple[int, ...], overwrite: bool, polarities: int = 2
    ) -> None:
        self._path, self._shape, self._overwrite, self._polarities = path, shape, overwrite, polarities
        self._file: Closable | None = None
        self._temporary: Path | None = None
        self._cleanup = contextlib.ExitStack()

    @abc.abstractmethod
    def _open(self, temporary: Path) -> Closable:
        """Open the format on ``temporary`` and return the file object (it has ``close``)."""

    @abc.abstractmethod
    def _finish(self) -> None:
        """Write what completes the file (remaining data, indexes) before it is closed."""

    def __enter__(self: WriterT) -> WriterT:
        with contextlib.ExitStack() as stack:
            temporary = self._temporary = stack.enter_context(atomic_path(self._path, self._overwrite))
            self._file = self._open(temporary)
            stack.callback(self._close)
            self._cleanup = stack.pop_all()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if error is not None:  # close the file and remove it
            self._discard()
            self._cleanup.__exit__(kind, error, trace)
            return
        with self._cleanup:  # close the file, then rename it, or remove it if finishing fails
            try:
                self._finish()
            except BaseException:
                self._discard()
                raise

    def _discard(self) -> None:
        """Close the file of a failed write, which is removed after: the error that failed it is
        the one to raise, so a close that fails too (a full disk) is not raised over it."""
        self._abandon()
        with contextlib.suppress(Exception):
            self._close()

    def _abandon(self) -> None:
        """Empty the temporary file of a failed write before it is closed. Its space is freed at
        once, so that closing finds room for what the format still writes there: on a full disk
        HDF5's close would otherwise fail again and again, and crash the interpreter at exit."""
        if self._temporary is not None:
            with contextlib.suppress(OSError):
                os.truncate(self._temporary, 0)

    def _close(self) -> None:
        """Close the file; a later ``write`` then raises :class:`ExportError`, not an OS error."""
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def _check(self, events: Events) -> None:
        """Raise :class:`ExportError` unless the writer is open and ``events`` fit its shape."""
        if self._file is None:
            module = type(self).__module__.rsplit(".", 1)[-1]
            raise ExportError(
                f"Writer.write needs an open writer: use it as `with {module}.Writer(...) as writer:`"
            )
        if events.shape != self._shape:
            raise ExportError(
                f"events of shape {events.shape} do not fit this file's sample shape {self._shape}"
            )
        if events.polarities != self._polarities:
            raise ExportError(
                f"events with polarities={events.polarities} do not fit this file's sensor of "
                f"polarities={self._polarities}; give the writer polarities={events.polarities}"
            )

    def _check_one(self, events: Events) -> None:
        """:meth:`_check`, and that ``events`` is one sample (the writers of files of one stream)."""
        self._check(events)
        if events.num_samples != 1:
            raise ExportError(
                f"Writer.write takes one sample at a time, got {events.num_samples}; pass events[b]"
            )
