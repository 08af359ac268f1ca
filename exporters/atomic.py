"""Atomic file writes: a temporary file beside the target, renamed over it only on success.

A writer that fails half-way leaves no partial file, and an existing file at the target path
stays as it was.

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

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
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

    On an exception the temporary file is removed and ``path`` is left untouched.

    Raises
    ------
    ExportError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise ExportError(f"{target} exists; pass overwrite=True to replace it")
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


class AtomicWriter:
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
    """

    def __init__(self, path: str | os.PathLike[str], shape: tuple[int, ...], overwrite: bool) -> None:
        self._path, self._shape, self._overwrite = path, shape, overwrite
        self._file: Closable | None = None
        self._cleanup = contextlib.ExitStack()

    def _open(self, temporary: Path) -> Closable:
        """Open the format on ``temporary`` and return the file object (it has ``close``)."""
        raise NotImplementedError

    def _finish(self) -> None:
        """Write what completes the file (remaining data, indexes) before it is closed."""
        raise NotImplementedError

    def __enter__(self: WriterT) -> WriterT:
        with contextlib.ExitStack() as stack:
            temporary = stack.enter_context(atomic_path(self._path, self._overwrite))
            self._file = self._open(temporary)
            stack.callback(self._close)
            self._cleanup = stack.pop_all()
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if error is not None:  # close the file and remove it
            self._cleanup.__exit__(kind, error, trace)
            return
        with self._cleanup:  # close the file, then rename it, or remove it if finishing fails
            self._finish()

    def _close(self) -> None:
        """Close the file; a later ``write`` then raises :class:`ExportError`, not an OS error."""
        self._file.close()
        self._file = None

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
