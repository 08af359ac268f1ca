"""Opening a file to read: regular files only.

Opening a FIFO for reading waits for a writer, forever if none comes; a directory or a device
gives errors far from their cause. Every reader opens its file here: a FIFO, socket, device or
directory under any name (``x.aedat4`` included) raises :class:`~eventcode.errors.FileFormatError`
at once. The file is opened without blocking and checked on the open descriptor, so it cannot
change between the check and the read.

Examples
--------
>>> import os, tempfile
>>> from exporters import source
>>> folder = tempfile.mkdtemp()
>>> path = os.path.join(folder, "stream.aedat4")
>>> os.mkfifo(path)
>>> source.open_regular(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
eventcode.errors.FileFormatError: .../stream.aedat4 is a FIFO (named pipe), not a regular file: ...
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from eventcode.errors import FileFormatError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for binary reading, after checking that it is a regular file.

    Raises
    ------
    FileFormatError
        ``path`` is a FIFO, socket, device or directory.
    FileNotFoundError, PermissionError
        As ``open`` raises them.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens at once, unread
    except IsADirectoryError:
        raise _not_regular(path, "a directory") from None
    try:
        _check(path, os.fstat(descriptor).st_mode)
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def require_regular(path: str | os.PathLike[str]) -> None:
    """Raise :class:`FileFormatError` unless ``path`` is a regular file (for readers that hand
    the path to a library, such as HDF5, which would block on a FIFO)."""
    _check(path, os.stat(path).st_mode)


def _check(path: str | os.PathLike[str], mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise _not_regular(path, kind)


def _not_regular(path: str | os.PathLike[str], kind: str) -> FileFormatError:
    return FileFormatError(
        f"{os.fspath(path)} is {kind}, not a regular file: readers take files whose size they can "
        "check (copy a stream to a file first)"
    )
