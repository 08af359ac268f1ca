"""Event Stream 2.x (``.es``, neuromorphic-paris; faery writes it): reading DVS and ATIS streams.

A file starts with ``Event Stream`` (12 ASCII bytes), the version bytes (major 2), a type byte
(0 generic, 1 DVS, 2 ATIS, 4 color) and, for DVS and ATIS, the sensor's width and height
(u16 little-endian each). Then each event is 5 bytes: a time byte, then ``x`` and ``y`` (u16 LE).
The time byte holds the microseconds since the event before (0 before the first):

- DVS: ``(dt << 1) | p``, ``dt`` up to 126; a byte ``0xFF`` alone adds 127 us, ``0xFE`` is a
  no-op (reset).
- ATIS: ``(dt << 2) | kind``, ``dt`` up to 62, ``kind`` 0 OFF, 2 ON, 1 and 3 exposure
  measurements; a byte ``0b111111nn`` alone adds ``63 * nn`` us.

The bytes are cut into events and time bytes without a per-byte loop (:func:`_time_bytes`: a
5-state automaton over the candidate time bytes, run row-parallel), the events are then a
strided view and the times a cumulative sum. Files are decoded in blocks, so :func:`read_chunks`
works in bounded memory. Dense recordings read faster than faery; sparse ones (most events more
than 127 us apart, so several time bytes each) read slower, as every such byte is a candidate.

The format stores ``y`` from the bottom row up; like faery, reading returns image coordinates
(``y = height - 1 - stored y``, origin top-left). Times are microseconds from the start of the
file (0). ATIS exposure measurements are left out with a
:class:`~eventcode.errors.DataLossWarning` (faery leaves them out too); generic and color
streams, which have no OFF/ON pixel events, raise :class:`~eventcode.errors.FileFormatError`.
An incomplete last event (a truncated file) is left out with a DataLossWarning. This module only
reads: write Event Stream files with faery, or write AEDAT 4.0 / EVT / DAT.

Examples
--------
>>> import tempfile, pathlib, struct
>>> from exporters import es
>>> body = bytes([0 << 1 | 1]) + struct.pack("<HH", 3, 0) + bytes([0xFF, 5 << 1]) + struct.pack("<HH", 1, 1)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.es"
>>> _ = path.write_bytes(b"Event Stream" + bytes([2, 0, 0, 1]) + struct.pack("<HH", 4, 2) + body)
>>> events = es.read(path)
>>> events.t.tolist(), events.x.tolist(), events.y.tolist(), events.p.tolist(), events.sensor_size
([0, 132], [3, 1], [1, 0], [True, False], (4, 2, 2))
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from eventcode import address
from eventcode.errors import DataLossWarning, EventsError, ExportError, FileFormatError
from eventcode.options import positive_int
from exporters.contract import FileInfo, Stream
from exporters.options import one_sample_window, started
from exporters.source import open_regular

if TYPE_CHECKING:
    from eventcode import Events

NAME = "es"
DESCRIPTION = "Event Stream 2.x (.es; DVS and ATIS streams, as faery writes them; read only)"
MAGIC = b"Event Stream"
BATCHED = False
SUFFIXES = (".es",)
COMPRESSIONS = {"none": "none"}
"""Event Stream has no compression."""
DEFAULT_COMPRESSION = "none"
TYPES = {0: "generic", 1: "dvs", 2: "atis", 4: "color"}
"""The type byte's stream types."""
EVENT_BYTES = 5
INVERSE_OF_5 = np.uint64(0xCCCCCCCCCCCCCCCD)
"""5 * INVERSE_OF_5 = 1 modulo 2^64: multiplying a multiple of 5 by it divides it by 5."""
RECORD = np.dtype([("head", "u1"), ("x", "<u2"), ("y", "<u2")])
"""One event: its time byte, ``x``, ``y`` as stored."""
BLOCK = 1 << 24
"""Bytes :func:`read` decodes at a time."""


def sniff(head: bytes) -> float:
    """1 for a file starting with the ``Event Stream`` magic, else 0.

    Examples
    --------
    >>> from exporters import es
    >>> es.sniff(b"Event Stream\\x02\\x00\\x00\\x01"), es.sniff(b"#!AER-DAT2.0")
    (1.0, 0.0)
    """
    return 1.0 if head.startswith(MAGIC) else 0.0


@dataclass(frozen=True)
class _Header:
    path: Path
    version: str
    type: str
    width: int
    height: int
    data_start: int
    size: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.height, self.width)


def _header(path: Path, descriptor: int) -> _Header:
    """The header, checked; FileFormatError names the byte where it goes wrong."""
    size = os.fstat(descriptor).st_size
    head = os.pread(descriptor, 20, 0)
    if not head.startswith(MAGIC):
        raise FileFormatError(f"{path}: not an Event Stream file (bytes 0-11 are not {MAGIC!r})")
    if len(head) < 16:
        raise FileFormatError(
            f"{path}: the header ends at byte {len(head)}, inside the version and type bytes"
        )
    version = ".".join(str(b) for b in head[12:15])
    if head[12] != 2:
        raise FileFormatError(
            f"{path}: Event Stream version {version} at byte 12; eventcode reads version 2.x"
        )
    kind = TYPES.get(head[15])
    if kind is None:
        raise FileFormatError(f"{path}: unknown stream type {head[15]} at byte 15 (0, 1, 2 or 4)")
    if kind in ("generic", "color"):
        raise FileFormatError(
            f"{path}: a {kind} Event Stream (type byte {head[15]} at byte 15) holds no OFF/ON pixel "
            "events; eventcode reads DVS and ATIS streams"
        )
    if len(head) < 20:
        raise FileFormatError(
            f"{path}: the header ends at byte {len(head)}, inside the sensor size (bytes 16-19)"
        )
    width, height = int.from_bytes(head[16:18], "little"), int.from_bytes(head[18:20], "little")
    try:
        address.resolve(None, (width, height))
    except EventsError as error:
        raise FileFormatError(f"{path}: bad sensor size {width} x {height} at byte 16: {error}") from None
    return _Header(path, version, kind, width, height, 20, size)


class _Block(NamedTuple):
    """The events of a block of bytes (``y`` as stored), the idle position after them, the time
    there, the exposure measurements left out, and the byte of the first event outside the
    sensor (-1 for none)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    consumed: int
    t_end: int
    exposures: int
    outside: int


def _time_bytes(data: np.ndarray, atis: bool) -> np.ndarray:
    """Positions of the time bytes of ``data`` (bytes starting at an idle position), ascending.

    Events start at the positions of one phase modulo 5 until a time byte in that phase, which
    moves the phase on by one. Only the candidate bytes (``0xFE``/``0xFF``, ``0xFC``-``0xFF`` for
    ATIS) can be time bytes, and the phase is a 5-state automaton over them (phase ``f`` goes to
    ``f + 1`` at a candidate at ``f`` modulo 5). The candidates are cut into rows; each row's map
    of the 5 phases is computed for all rows at once, composed from the start row by row, then
    each row is replayed from its phase: about ``sqrt(candidates)`` numpy steps, no per-byte loop.
    """
    candidates = np.flatnonzero(data >= (0xFC if atis else 0xFE))
    count = len(candidates)
    if not count:
        return candidates
    width = math.isqrt(count) // 4 + 1
    rows = -(-count // width)
    phases = np.full(rows * width, EVENT_BYTES, np.int8)  # 5: padding, never a phase
    phases[:count] = candidates % EVENT_BYTES
    columns = np.ascontiguousarray(phases.reshape(rows, width).T)
    maps = np.tile(np.arange(EVENT_BYTES, dtype=np.int8), (rows, 1))
    for column in columns:
        maps += maps == column[:, None]
        maps[maps == EVENT_BYTES] = 0
    entry, phase = np.empty(rows, np.int8), 0
    for row, row_map in enumerate(maps.tolist()):
        entry[row], phase = phase, row_map[phase]
    taken = np.empty((width, rows), bool)
    for column, hit in zip(columns, taken, strict=True):
        np.equal(entry, column, out=hit)
        entry += hit
        entry[entry == EVENT_BYTES] = 0
    chosen: np.ndarray = candidates[taken.T.reshape(-1)[:count]]
    return chosen


def _decode(data: np.ndarray, atis: bool, t0: int, width: int, height: int) -> _Block:
    """The whole events of ``data`` (bytes starting at an idle position), times from ``t0``."""
    length = len(data)
    path = _time_bytes(data, atis)
    idle = int(path[-1]) + 1 if len(path) else 0
    consumed = idle + EVENT_BYTES * ((length - idle) // EVENT_BYTES)
    if len(path):
        mask = np.ones(consumed, bool)
        mask[path] = False
        raw = data[:consumed][mask]
    else:
        raw = data[:consumed]
    records = raw.view(RECORD)
    head, x, y = records["head"], records["x"], records["y"]
    count = len(records)
    # the event after each time byte: (event bytes before it) / 5, an exact division done as a
    # multiplication by the inverse of 5 modulo 2^64
    after = ((path - np.arange(len(path))).astype(np.uint64) * INVERSE_OF_5).view(np.int64)
    skips = data[path]
    added = 63.0 * (skips & 3) if atis else (skips == 0xFF) * 127.0
    steps = np.bincount(after, added, count + 1).astype(np.int64)  # exact: sums far below 2^53
    steps[:count] += head >> (2 if atis else 1)
    times = np.cumsum(steps)
    t = times[:count] + t0
    kind = head & 3
    keep = (kind & 1) == 0 if atis else np.ones(count, dtype=bool)  # ATIS exposures are left out
    bad = ((x >= width) | (y >= height)) & keep
    outside = -1
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        outside = EVENT_BYTES * i + int(np.count_nonzero(after <= i))
    exposures = 0
    if atis:
        exposures = count - int(np.count_nonzero(keep))
        t, x, y, p = t[keep], x[keep], y[keep], kind[keep] == 2
    else:
        p = (head & 1).astype(bool)
    return _Block(t, x, y, p, consumed, t0 + int(times[-1]), exposures, outside)


class _Counts:
    """What reading left out: ATIS exposure measurements, the bytes of an incomplete last event."""

    def __init__(self) -> None:
        self.exposures, self.trailing = 0, 0


def _blocks(header: _Header, descriptor: int, size: int, counts: _Counts) -> Iterator[_Block]:
    """The events of the file, decoded ``size`` bytes (at least an event's) at a time, checked,
    ``y`` in image coordinates."""
    at, t = header.data_start, 0
    while at < header.size:
        data = np.frombuffer(os.pread(descriptor, max(size, EVENT_BYTES), at), np.uint8)
        block = _decode(data, header.type == "atis", t, header.width, header.height)
        counts.exposures += block.exposures
        if block.outside >= 0:
            raise FileFormatError(
                f"{header.path}: the event at byte {at + block.outside} lies outside the header's "
                f"{header.width} x {header.height} sensor"
            )
        yield block._replace(y=header.height - 1 - block.y)
        if at + len(data) >= header.size:
            counts.trailing = len(data) - block.consumed
            return
        at, t = at + block.consumed, block.t_end


READ_ONLY = (
    "eventcode reads Event Stream files but does not write them: write AEDAT 4.0, EVT or DAT, or "
    "an .es file with faery (faery.events_stream_from_array(...).to_file('x.es'))"
)


def write(path: str | os.PathLike[str], events: Events, **options: object) -> None:
    """Refuse: this module only reads (the contract's ``write``, for the registry).

    Raises
    ------
    ExportError
        Always, naming the formats to write instead.

    Examples
    --------
    >>> from eventcode import Events
    >>> from eventcode.errors import ExportError
    >>> from exporters import es
    >>> try:
    ...     es.write("x.es", Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(2, 2)))
    ... except ExportError as error:
    ...     print(str(error)[:59])
    x.es: eventcode reads Event Stream files but does not write
    """
    raise ExportError(f"{os.fspath(path)}: {READ_ONLY}")


class Writer:
    """Refuse: this module only reads (the contract's ``Writer``, for the registry).

    Raises
    ------
    ExportError
        On construction, naming the formats to write instead.
    """

    def __init__(self, path: str | os.PathLike[str], *args: object, **options: object) -> None:
        raise ExportError(f"{os.fspath(path)}: {READ_ONLY}")


def _warn(header: _Header, counts: _Counts) -> None:
    """A :class:`DataLossWarning` for ATIS exposure measurements and an incomplete last event."""
    parts = []
    if counts.exposures:
        parts.append(f"left out {counts.exposures} ATIS exposure measurements (not OFF/ON events)")
    if counts.trailing:
        parts.append(
            f"left out {counts.trailing} bytes at byte {header.size - counts.trailing}, an incomplete last "
            "event (truncated)"
        )
    if parts:
        warnings.warn(f"{header.path}: {'; '.join(parts)}", DataLossWarning, stacklevel=3)


def _columns(
    block: _Block, window: tuple[int | None, int | None], shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """A block's columns in the shape's dtypes, cut to ``window``."""
    t = block.t
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    x, y, _ = address.column_dtype_names(shape)
    return {"t": t[lo:hi], "x": block.x[lo:hi].astype(x), "y": block.y[lo:hi].astype(y), "p": block.p[lo:hi]}


def _events(columns: dict[str, np.ndarray], shape: tuple[int, ...]) -> Events:
    from exporters.steptime import one_sample

    return one_sample(columns, shape, 2, None)


def read(
    path: str | os.PathLike[str],
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Events:
    """Read the OFF/ON events of a DVS or ATIS Event Stream file (all, or ``t_start <= t < t_end``).

    Parameters
    ----------
    path : path
        The file.
    sample : {None, 0, -1}
        The file's one sample.
    t_start, t_end : int, optional
        Half-open window in microseconds from the start of the file.

    Returns
    -------
    Events
        One sample: microseconds, the header's sensor, image coordinates (origin top-left).

    Raises
    ------
    FileFormatError
        Not an Event Stream 2.x file, a generic or color stream, an address outside the sensor.
    OptionError
        A bad ``sample`` or window.

    Warns
    -----
    DataLossWarning
        ATIS exposure measurements were left out, or the file ends inside an event.

    Examples
    --------
    >>> import tempfile, pathlib, struct
    >>> from exporters import es
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.es"
    >>> body = b"".join(bytes([2 << 1 | 1]) + struct.pack("<HH", i, 0) for i in range(4))
    >>> _ = path.write_bytes(b"Event Stream" + bytes([2, 0, 0, 1]) + struct.pack("<HH", 4, 1) + body)
    >>> es.read(path, t_start=3, t_end=7).t.tolist()
    [4, 6]
    """
    path = Path(path)
    window = one_sample_window(path, sample, t_start, t_end, "Event Stream")
    counts = _Counts()
    with open_regular(path) as file:
        header = _header(path, file.fileno())
        x_dtype, y_dtype, _ = address.column_dtype_names(header.shape)
        capacity = max(header.size - header.data_start, 0) // EVENT_BYTES
        columns = {
            name: np.empty(capacity, dtype)
            for name, dtype in zip("txyp", (np.int64, x_dtype, y_dtype, bool), strict=True)
        }
        kept = 0
        for block in _blocks(header, file.fileno(), BLOCK, counts):
            if len(block.t) and window[1] is not None and int(block.t[0]) >= window[1]:
                break
            piece = _columns(block, window, header.shape)
            for name, column in piece.items():
                columns[name][kept : kept + len(column)] = column
            kept += len(piece["t"])
    columns = {
        name: column[:kept] if 2 * kept > capacity else column[:kept].copy()
        for name, column in columns.items()
    }
    _warn(header, counts)
    return _events(columns, header.shape)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Iterator[Events]:
    """Read an Event Stream file as chunks of at most ``chunk_events`` events, in bounded memory.

    Arguments and errors as for :func:`read`; reading stops after ``t_end``.

    Examples
    --------
    >>> import tempfile, pathlib, struct
    >>> from exporters import es
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.es"
    >>> body = b"".join(bytes([1]) + struct.pack("<HH", 0, 0) for _ in range(100))
    >>> _ = path.write_bytes(b"Event Stream" + bytes([2, 0, 0, 1]) + struct.pack("<HH", 4, 1) + body)
    >>> [len(chunk) for chunk in es.read_chunks(path, chunk_events=40)]
    [40, 40, 20]
    """
    shape, chunks = started(_chunks(path, chunk_events, sample, t_start, t_end))
    return (_events(columns, shape) for columns in chunks)


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Read an Event Stream file as chunks of numpy columns (``t`` int64 us, ``x``/``y`` int16,
    ``p`` bool), without torch: the columns of :func:`read_chunks`.

    Examples
    --------
    >>> import tempfile, pathlib, struct
    >>> from exporters import es
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.es"
    >>> body = bytes([0xFF, 3 << 1]) + struct.pack("<HH", 2, 0)
    >>> _ = path.write_bytes(b"Event Stream" + bytes([2, 0, 0, 1]) + struct.pack("<HH", 4, 1) + body)
    >>> [(chunk["t"].tolist(), chunk["x"].tolist()) for chunk in es.read_columns(path)]
    [([130], [2])]
    """
    return started(_chunks(path, chunk_events, sample, t_start, t_end))[1]


def _chunks(
    path: str | os.PathLike[str], chunk_events: object, sample: object, t_start: object, t_end: object
) -> Iterator[tuple[int, ...] | dict[str, np.ndarray]]:
    """The shape, then the columns of each block of ``chunk_events`` events' bytes."""
    count = positive_int("chunk_events", chunk_events, "events")
    path = Path(path)
    window = one_sample_window(path, sample, t_start, t_end, "Event Stream")
    counts = _Counts()
    with open_regular(path) as file:
        header = _header(path, file.fileno())
        yield header.shape
        for block in _blocks(header, file.fileno(), count * EVENT_BYTES, counts):
            if len(block.t) and window[1] is not None and int(block.t[0]) >= window[1]:
                break
            columns = _columns(block, window, header.shape)
            if len(columns["t"]):
                yield columns
    _warn(header, counts)


def info(path: str | os.PathLike[str]) -> FileInfo:
    """Describe an Event Stream file: its type, sensor, events and time range (numpy only).

    Returns
    -------
    FileInfo
        ``extras``: ``version``, ``type`` (``"dvs"`` or ``"atis"``), ``exposures`` (ATIS exposure
        measurements left out), ``trailing_bytes``.

    Examples
    --------
    >>> import tempfile, pathlib, struct
    >>> from exporters import es
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.es"
    >>> body = bytes([0xFF, 3 << 1]) + struct.pack("<HH", 2, 0)
    >>> _ = path.write_bytes(b"Event Stream" + bytes([2, 0, 0, 1]) + struct.pack("<HH", 4, 1) + body)
    >>> meta = es.info(path)
    >>> meta.sensor_size, meta.events, meta.last, meta.extras["type"]
    ((4, 1, 2), 1, 130, 'dvs')
    """
    path = Path(path)
    counts = _Counts()
    events, first, last = 0, None, None
    with open_regular(path) as file:
        header = _header(path, file.fileno())
        for block in _blocks(header, file.fileno(), BLOCK, counts):
            if len(block.t):
                events += len(block.t)
                first = int(block.t[0]) if first is None else first
                last = int(block.t[-1])
    size = (header.width, header.height)
    return FileInfo(
        path=path,
        format=NAME,
        compression="none",
        sensor_size=(*size, 2),
        shape=header.shape,
        events=events,
        samples=1,
        time_unit="us",
        first=first,
        last=last,
        num_steps=None,
        dt_us=None,
        polarities=2,
        streams=(Stream(0, "EVTS", header.type, size, 1, events, first, last),),
        extras={
            "version": header.version,
            "type": header.type,
            "exposures": counts.exposures,
            "trailing_bytes": counts.trailing,
        },
    )
