"""File formats for :class:`eventcode.Events`: one module per format, one registry to reach them.

:func:`write` and :func:`read` pick the format from ``format=``, else from the file suffix,
else (reading) from the file's first bytes; :func:`formats` lists what is registered. Each
format module (``exporters.aedat4``, ...) has its own ``read``/``write`` with every option.
This package depends on ``eventcode``, never the reverse.

Examples
--------
>>> import tempfile, pathlib
>>> import exporters
>>> from eventcode import Events
>>> events = Events(t=[0, 7], x=[1, 2], y=[0, 1], p=[1, 0], sensor_size=(4, 2))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "out.aedat4"
>>> exporters.write(path, events, compression="zstd")
>>> exporters.read(path) == events
True
>>> [f.name for f in exporters.formats()]
['aedat4', 'hdf5']
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from eventcode.errors import ExportError
from exporters import aedat4, hdf5

if TYPE_CHECKING:
    from eventcode import Events


@dataclass(frozen=True)
class Format:
    """A registered file format, as its module declares it.

    The module defines ``read``, ``read_chunks``, ``write``, ``info``, a ``Writer`` and the
    constants ``NAME``, ``DESCRIPTION``, ``SUFFIXES``, ``MAGIC`` and ``BATCHED`` (whether one file
    holds several samples; if not, a batch goes to one file per sample).
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    magic: bytes
    batched: bool
    module: ModuleType

    @classmethod
    def of(cls, module: ModuleType) -> Format:
        """The format a module implements."""
        return cls(module.NAME, module.DESCRIPTION, module.SUFFIXES, module.MAGIC, module.BATCHED, module)


_REGISTRY: dict[str, Format] = {}

NOT_YET = {
    "AEDAT 3.1": ((), b"#!AER-DAT3"),
    "AEDAT 2.0": ((), b"#!AER-DAT2"),
    "Event Stream": ((".es",), b"Event Stream"),
    "AEDAT 2.0/3.1": ((".aedat",), None),
    "Prophesee EVT 2.0/3.0 (RAW)": ((".raw",), None),
    "Prophesee DAT": ((".dat",), None),
    "N-MNIST binary": ((".bin",), None),
}
"""Formats recognized (by magic bytes, else suffix) but not read or written yet: their files
get a one-line "not supported yet" error instead of a guess."""


def register(fmt: Format) -> None:
    """Add a format to the registry (a later registration of the same name replaces it)."""
    _REGISTRY[fmt.name] = fmt


def formats() -> list[Format]:
    """The registered formats, in registration order."""
    return list(_REGISTRY.values())


def detect(path: str | os.PathLike[str], format: str | None = None, *, sniff: bool = True) -> Format:
    """The format of ``path``: ``format`` if given, else by suffix, else by the file's magic bytes.

    ``sniff=False`` (for a file about to be written) skips the magic bytes: an old file at the
    path says nothing about the new one.

    Raises
    ------
    ExportError
        An unknown ``format`` name, or a path no registered format recognizes.
    """
    if format is not None:
        if format not in _REGISTRY:
            raise ExportError(f"unknown format {format!r}; registered: {sorted(_REGISTRY)}")
        return _REGISTRY[format]
    suffix = Path(path).suffix.lower()
    head = b""
    if sniff and Path(path).is_file():
        with open(path, "rb") as file:
            head = file.read(64)
    for matches in (lambda fmt: suffix in fmt.suffixes, lambda fmt: head and head.startswith(fmt.magic)):
        for fmt in _REGISTRY.values():
            if matches(fmt):
                return fmt
    for name, (suffixes, magic) in NOT_YET.items():
        if (magic and head.startswith(magic)) or suffix in suffixes:
            raise ExportError(f"{os.fspath(path)}: {name} is not supported yet")
    known = ", ".join(f"{f.name} ({' '.join(f.suffixes)})" for f in _REGISTRY.values())
    raise ExportError(
        f"{os.fspath(path)}: no registered format has suffix {suffix!r} or its magic bytes; known: {known}"
    )


def write(path: str | os.PathLike[str], events: Events, format: str | None = None, **options: object) -> None:
    """Write ``events`` with the format of ``path``'s suffix (or ``format``); options go to its ``write``."""
    detect(path, format, sniff=False).module.write(path, events, **options)


def read(path: str | os.PathLike[str], format: str | None = None, **options: object) -> Events:
    """Read ``path`` with its format (see :func:`detect`); options go to the format's ``read``."""
    return detect(path, format).module.read(path, **options)


register(Format.of(aedat4))
register(Format.of(hdf5))
