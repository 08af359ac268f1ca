"""The format contract: what every format module provides, and the one description of a file.

A format is one module (``exporters.aedat4``, ``exporters.hdf5``, ...) that satisfies
:class:`FormatModule` and is registered once with :func:`exporters.register`. Then
:func:`exporters.read` / :func:`exporters.write` and the ``eventcode info / convert / view``
commands handle its files with no other change.

- ``NAME``, ``DESCRIPTION``, ``SUFFIXES`` (lower case, with the dot), ``BATCHED`` (one file holds
  several samples; if not, a batch is written one file per sample, with a ``{}`` in the path),
  ``COMPRESSIONS`` (accepted spellings -> canonical names) and ``DEFAULT_COMPRESSION``.
- ``sniff(head) -> float``: how sure the module is, from 0 to 1, that a file starting with the
  bytes ``head`` (its first :data:`HEAD_BYTES`, or all of a shorter file) is its format. Magic
  bytes give 1; a shared text header (EVT 2.0 / 3.0 and DAT all start with ``%``) or HDF5 used by
  several formats gives less, after looking further into ``head``; a format without a signature
  (N-MNIST's 40-bit words) gives a small value when the length fits. Never raises.
- ``read(path, *, sample=None, t_start=None, t_end=None, **options) -> Events``: one sample
  (``sample``) or all, the half-open window ``t_start <= t < t_end`` in the file's time unit.
- ``read_chunks(path, chunk_events=..., *, t_start=None, t_end=None, **options)``: the same
  events as ``read``, a bounded number at a time (Events of whole samples or of one stream).
- ``read_columns(...)``: the same, as dicts of numpy columns, without importing torch.
- ``write(path, events, *, compression=DEFAULT_COMPRESSION, dt_us=None, overwrite=True,
  **options)``. ``dt_us`` is the microseconds per step of step-time events; ``t0_us`` (where a
  format takes it) the microsecond time of step 0. Writes are atomic, so ``overwrite=True`` (the
  default everywhere) never leaves a half-written file, and an old file stays until the new one
  is complete: rerunning a conversion replaces its outputs, as ``cp`` and ``numpy.save`` do.
- ``info(path, **options) -> FileInfo``, without decoding the events where the file allows.
- ``Writer``: an :class:`~exporters.atomic.AtomicWriter` taking chunks of a stream (and, for a
  batched format, samples).

Errors: :class:`~eventcode.errors.FileFormatError` for a file that is not what it claims,
naming the file and where (dataset, byte offset); :class:`~eventcode.errors.ExportError` for
events or options a format cannot take; :class:`~eventcode.errors.OptionError` for a bad
argument; ``FileNotFoundError`` stays what it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import os

    import numpy as np

    from eventcode import Events

HEAD_BYTES = 4096
"""How many leading bytes of a file :func:`sniff` sees."""


def empty_columns(n: int) -> dict[str, np.ndarray]:
    """Uninitialized ``read_columns`` columns for ``n`` events of a sensor whose addresses fit
    int16: ``t`` int64, ``x`` and ``y`` int16, ``p`` bool (numpy is imported on first use).

    >>> {name: column.dtype.name for name, column in empty_columns(2).items()}
    {'t': 'int64', 'x': 'int16', 'y': 'int16', 'p': 'bool'}
    """
    import numpy as np

    return {
        "t": np.empty(n, np.int64),
        "x": np.empty(n, np.int16),
        "y": np.empty(n, np.int16),
        "p": np.empty(n, bool),
    }


@dataclass(frozen=True)
class Stream:
    """One stream of a file: events, or another kind of record stored beside them.

    Attributes
    ----------
    id : int
        The stream's id in the file (0 for a format with one stream).
    type : str
        ``"EVTS"`` (events), ``"IMUS"`` (IMU samples), ``"TRIG"`` (triggers), ``"FRME"`` (frames),
        or the file's own type name for another kind.
    name : str
        The name the file gives it (``"events"``, ``"imu"``...); ``""`` if none.
    size : (int, int) or None
        ``(W, H)`` of an event or frame stream, else None.
    packets : int
        Packets (or chunks) of the stream in the file.
    records : int or None
        Its events, samples, triggers or frames; None when the file does not say without decoding.
    first, last : int or None
        Time of its first and last records in the file's time unit; None without records, or when
        unknown.
    """

    id: int
    type: str
    name: str
    size: tuple[int, int] | None
    packets: int
    records: int | None
    first: int | None
    last: int | None


@dataclass(frozen=True)
class FileInfo:
    """What a file holds, the same fields for every format (``info(path)`` of each module).

    Attributes
    ----------
    path : Path
    format : str
        The format's ``NAME`` (``"aedat4"``, ``"hdf5"``...).
    compression : str
        The canonical name of the file's compression (``"none"`` if none).
    sensor_size : (W, H, P) or None
        Tonic's sensor size of the events, None for a file without an event stream.
    shape : tuple of int or None
        The sample shape the events read back with.
    events, samples : int
        Events in the file (all samples), and samples (1 for a single stream).
    time_unit : {"us", "step"}
    first, last : int or None
        Time of the first and the last event in ``time_unit`` (None without events).
    num_steps, dt_us : int or None
        Steps of step-time events and the microseconds per step, where the file records them.
    polarities : int
        :attr:`eventcode.Events.polarities` of the events.
    streams : tuple of Stream
        Every stream of the file, the event stream(s) included.
    extras : mapping
        What else this format records (packet table, stored dtypes, chunking, encoder options...).
    """

    path: Path
    format: str
    compression: str
    sensor_size: tuple[int, int, int] | None
    shape: tuple[int, ...] | None
    events: int
    samples: int
    time_unit: Literal["us", "step"]
    first: int | None
    last: int | None
    num_steps: int | None
    dt_us: int | None
    polarities: int
    streams: tuple[Stream, ...]
    extras: Mapping[str, object] = field(default_factory=dict)


class FormatModule(Protocol):
    """A format module, as :func:`exporters.register` takes it (see the module docstring)."""

    NAME: str
    DESCRIPTION: str
    SUFFIXES: tuple[str, ...]
    BATCHED: bool
    COMPRESSIONS: Mapping[str, str]
    DEFAULT_COMPRESSION: str
    Writer: type

    def sniff(self, head: bytes) -> float:
        """Confidence in [0, 1] that a file starting with ``head`` is in this format."""
        ...

    def read(
        self,
        path: str | os.PathLike[str],
        *,
        sample: int | None = None,
        t_start: int | None = None,
        t_end: int | None = None,
        **options: object,
    ) -> Events:
        """The events of ``path``: all samples or one, all times or ``[t_start, t_end)``."""
        ...

    def read_chunks(
        self,
        path: str | os.PathLike[str],
        chunk_events: int = ...,
        *,
        t_start: int | None = None,
        t_end: int | None = None,
        **options: object,
    ) -> Iterator[Events]:
        """The same events as :meth:`read`, about ``chunk_events`` at a time."""
        ...

    def read_columns(
        self,
        path: str | os.PathLike[str],
        chunk_events: int = ...,
        *,
        t_start: int | None = None,
        t_end: int | None = None,
        **options: object,
    ) -> Iterator[dict[str, np.ndarray]]:
        """The chunks of :meth:`read_chunks` as numpy columns, without torch."""
        ...

    def write(
        self,
        path: str | os.PathLike[str],
        events: Events,
        *,
        compression: str | None = ...,
        dt_us: int | None = None,
        overwrite: bool = True,
        **options: object,
    ) -> None:
        """Write ``events`` to ``path`` atomically."""
        ...

    def info(self, path: str | os.PathLike[str], **options: object) -> FileInfo:
        """Describe ``path`` (see :class:`FileInfo`)."""
        ...
