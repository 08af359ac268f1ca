"""File formats for :class:`eventcode.Events`: one module per format, one registry to reach them.

:func:`write` picks the format from ``format=``, else from the file's suffix (never from an
old file at the path); :func:`read` and :func:`info` from ``format=``, else from what each
format's ``sniff`` makes of the file's first bytes, the suffix breaking ties. Each format is one
module satisfying the contract of :mod:`exporters.contract`, added with one :func:`register`
call; :func:`formats` lists them. This package depends on ``eventcode``, never the reverse.

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
['aedat4', 'hdf5', 'nir', 'aedat2', 'aedat3', 'dat', 'es', 'evt', 'nmnist']
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from eventcode.errors import ExportError
from eventcode.options import events_argument
from exporters import aedat2, aedat3, aedat4, dat, es, evt, hdf5, nir, nmnist
from exporters.contract import HEAD_BYTES, FileInfo
from exporters.source import open_regular

if TYPE_CHECKING:
    from eventcode import Events


__all__ = [
    "CONTRACT",
    "Format",
    "for_reading",
    "for_writing",
    "formats",
    "info",
    "read",
    "register",
    "write",
]

CONTRACT = (
    "NAME",
    "DESCRIPTION",
    "SUFFIXES",
    "BATCHED",
    "COMPRESSIONS",
    "DEFAULT_COMPRESSION",
    "Writer",
    "sniff",
    "read",
    "read_chunks",
    "read_columns",
    "write",
    "info",
)
"""The names every format module defines (:class:`exporters.contract.FormatModule`)."""


@dataclass(frozen=True)
class Format:
    """A registered file format: its module (the :class:`~exporters.contract.FormatModule`
    contract) and the constants the registry chooses by."""

    name: str
    description: str
    suffixes: tuple[str, ...]
    batched: bool
    module: ModuleType

    @classmethod
    def of(cls, module: ModuleType) -> Format:
        """The format a module implements.

        Raises
        ------
        ExportError
            The module lacks part of the contract (the message lists what).
        """
        missing = [name for name in CONTRACT if not hasattr(module, name)]
        if missing:
            raise ExportError(
                f"{module.__name__} lacks {', '.join(missing)} of the format contract; see exporters.contract"
            )
        suffixes = tuple(suffix.lower() for suffix in module.SUFFIXES)
        return cls(module.NAME, module.DESCRIPTION, suffixes, module.BATCHED, module)


_REGISTRY: dict[str, Format] = {}


def register(module: ModuleType) -> Format:
    """Add a format module to the registry (a later registration of the same name replaces it).

    After this one call :func:`read`, :func:`write`, :func:`info` and the ``eventcode info /
    convert / view`` commands handle the format's files.

    Examples
    --------
    >>> import exporters
    >>> from exporters import hdf5
    >>> exporters.register(hdf5).suffixes
    ('.h5', '.hdf5')
    """
    fmt = Format.of(module)
    _REGISTRY[fmt.name] = fmt
    return fmt


def formats() -> list[Format]:
    """The registered formats, in registration order."""
    return list(_REGISTRY.values())


def for_writing(path: str | os.PathLike[str], format: str | None = None) -> Format:
    """The format to write ``path`` in: ``format`` if given, else the one of the path's suffix.

    An existing file at ``path`` is never read: its old bytes say nothing about the new file. A
    suffix several formats share (``.aedat``: AEDAT 2.0 and 3.1) needs ``format``.

    Raises
    ------
    ExportError
        An unknown ``format`` name, a suffix no registered format has, or one several have.
    """
    if format is not None:
        return _named(format)
    suffix = Path(path).suffix.lower()
    claimed = [fmt for fmt in _REGISTRY.values() if suffix in fmt.suffixes]
    if len(claimed) > 1:
        names = " or ".join(f"format={fmt.name!r} ({fmt.description})" for fmt in claimed)
        raise ExportError(f"{os.fspath(path)}: {suffix!r} files are written by several formats; give {names}")
    if claimed:
        return claimed[0]
    raise ExportError(
        f"{os.fspath(path)}: no registered format has suffix {suffix!r}; give format= one of {_known()}"
    )


def for_reading(path: str | os.PathLike[str], format: str | None = None) -> Format:
    """The format of the file at ``path``: ``format`` if given, else the most confident ``sniff``
    of its first bytes, the suffix breaking ties; a file no format claims goes to the format of
    its suffix, whose reader then says what is wrong with it.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ExportError
        An unknown ``format`` name, or a file no registered format recognizes.
    """
    if format is not None:
        return _named(format)
    with open_regular(path) as file:
        head = file.read(HEAD_BYTES)
    suffix = Path(path).suffix.lower()
    scores = [(float(fmt.module.sniff(head)), suffix in fmt.suffixes, fmt) for fmt in _REGISTRY.values()]
    confident = [score for score in scores if score[0] > 0]
    if confident:
        return max(confident, key=lambda score: score[:2])[2]
    for _, named, fmt in scores:
        if named:
            return fmt
    raise ExportError(
        f"{os.fspath(path)}: no registered format recognizes its first bytes or its suffix {suffix!r}; "
        f"known: {_known()}"
    )


def write(path: str | os.PathLike[str], events: Events, format: str | None = None, **options: object) -> None:
    """Write ``events`` in the format of ``path``'s suffix (or ``format``); options go to its ``write``."""
    events_argument("exporters.write", events)
    for_writing(path, format).module.write(path, events, **options)


def read(path: str | os.PathLike[str], format: str | None = None, **options: object) -> Events:
    """Read ``path`` in its format (see :func:`for_reading`); options go to the format's ``read``."""
    events: Events = for_reading(path, format).module.read(path, **options)
    return events


def info(path: str | os.PathLike[str], format: str | None = None, **options: object) -> FileInfo:
    """Describe ``path`` (:class:`~exporters.contract.FileInfo`) in its format (see :func:`for_reading`)."""
    described: FileInfo = for_reading(path, format).module.info(path, **options)
    return described


def _named(format: str) -> Format:
    if format not in _REGISTRY:
        raise ExportError(f"unknown format {format!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[format]


def _known() -> str:
    return ", ".join(f"{fmt.name} ({' '.join(fmt.suffixes)})" for fmt in _REGISTRY.values())


register(aedat4)
register(hdf5)
register(nir)
register(aedat2)
register(aedat3)
register(dat)
register(es)
register(evt)
register(nmnist)
