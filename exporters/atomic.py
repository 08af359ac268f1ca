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

from eventcode.errors import ExportError


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
