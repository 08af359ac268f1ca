"""N-MNIST / N-Caltech101 ``.bin``: 40-bit records of an ATIS camera, no header.

Each event is 5 bytes: ``x`` (8 bits), ``y`` (8 bits), then 24 bits big-endian holding the
polarity (bit 23, 1 = ON) and the time in microseconds (bits 22-0). A record whose ``y`` is 240
is no event but a time overflow marker: it adds 2^13 us to its own and every later time, as the
datasets' own reader (Garrick Orchard's ``eventvision``) and Tonic's ``read_mnist_file`` take it;
:func:`read` does the same and leaves the markers out.

The file records no sensor size: :func:`read` takes ``sensor_size=`` (N-MNIST is ``(34, 34)``,
N-Caltech101 samples at most ``(240, 180)``), else it infers the size from the largest address
and warns (:class:`~eventcode.errors.EventcodeWarning`) that it did: never a silent default.

Time: the 23-bit time holds 0 .. 2^23 - 1 us (8.4 s). :func:`write` refuses later times (and
negative ones) with :class:`~eventcode.errors.ExportError`, writes no overflow markers, and
refuses sensors over 256 x 240 (``y`` = 240 is the marker). On reading, a 23-bit time that wrapped
cannot be told from time going back: time that decreases (after the markers) raises
:class:`~eventcode.errors.FileFormatError` naming the byte offset of the record, or is sorted
with ``sort=True``. Step-time events are refused: the file has no header to record ``dt_us``
in (convert with ``events.to_us(dt_us)``). An incomplete last record (a truncated file) is left
out with a :class:`~eventcode.errors.DataLossWarning`.

Examples
--------
>>> import tempfile, pathlib
>>> from eventcode import Events
>>> from exporters import nmnist
>>> events = Events(t=[0, 7, 2**23 - 1], x=[0, 33, 5], y=[0, 33, 9], p=[1, 0, 1], sensor_size=(34, 34))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "digit.bin"
>>> nmnist.write(path, events)
>>> nmnist.read(path, sensor_size=(34, 34)) == events
True
>>> path.stat().st_size
15
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, cast

import numpy as np

from eventcode import address
from eventcode.errors import (
    DataLossWarning,
    EventcodeWarning,
    ExportError,
    FileFormatError,
    OptionError,
    TimeOrderError,
)
from eventcode.options import positive_int
from exporters import threads
from exporters.atomic import AtomicWriter
from exporters.batches import write_samples
from exporters.compression import Compression, canonical
from exporters.contract import FileInfo, Stream
from exporters.options import one_sample_window, started
from exporters.source import open_regular

if TYPE_CHECKING:
    from eventcode import Events

NAME = "nmnist"
DESCRIPTION = "N-MNIST / N-Caltech101 .bin (40-bit ATIS records: x, y, polarity, 23-bit microseconds)"
BATCHED = False
SUFFIXES = (".bin",)
COMPRESSIONS = {"none": "none"}
"""The records are stored as they are: ``"none"`` (or None) only."""
DEFAULT_COMPRESSION = "none"

NO_STEP_TIME = (
    "an N-MNIST .bin file has no header to record dt_us (step time) in; write microsecond events "
    "(events.to_us(dt_us)) and read them back in microseconds"
)
"""Why step-time events are refused."""

RECORD_BYTES = 5
TIME_LIMIT = 1 << 23
"""Times are 23 bits of microseconds: 0 .. 2^23 - 1."""
OVERFLOW_Y = 240
"""The ``y`` of a time overflow marker."""
OVERFLOW_US = 1 << 13
"""Microseconds each overflow marker adds to the times from it on."""
MAX_WIDTH, MAX_HEIGHT = 256, OVERFLOW_Y
"""The largest sensor a file holds: 8-bit ``x``, ``y`` below the marker's 240."""
PIECE = 1 << 19
"""Records one worker decodes at a time."""


def sniff(head: bytes) -> float:
    """How sure it is that a file starting with ``head`` is N-MNIST: the format has no signature.

    0.1 when ``head`` holds whole records (or is cut at :data:`~exporters.contract.HEAD_BYTES`)
    whose times, after overflow markers, do not decrease; else 0.

    Examples
    --------
    >>> from exporters import nmnist
    >>> records = bytes([1, 2, 0, 0, 5, 3, 4, 128, 0, 9])
    >>> nmnist.sniff(records), nmnist.sniff(b"#!AER-DAT2.0\\r\\n"), nmnist.sniff(b"")
    (0.1, 0.0, 0.0)
    """
    from exporters.contract import HEAD_BYTES

    whole = len(head) // RECORD_BYTES
    if not whole or (len(head) < HEAD_BYTES and len(head) % RECORD_BYTES):
        return 0.0
    t, _, _, _ = _decode_bytes(head[: whole * RECORD_BYTES])
    return 0.1 if bool(np.all(np.diff(t) >= 0)) else 0.0


def _decode_bytes(
    data: bytes | bytearray | memoryview,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Times (int64, counting the overflow markers among these records), ``x``, ``y`` (uint8)
    and ``p`` (bool) of whole records; the markers (``y`` = 240) are still in."""
    r = np.frombuffer(data, np.uint8).reshape(-1, RECORD_BYTES)
    t = (r[:, 2].astype(np.int64) & 0x7F) << 16
    t |= r[:, 3].astype(np.int64) << 8
    t |= r[:, 4]
    y = r[:, 1]
    markers = y == OVERFLOW_Y
    if markers.any():
        t += np.cumsum(markers, dtype=np.int64) * OVERFLOW_US
    return t, r[:, 0], y, r[:, 2] >= 0x80


# ---------------------------------------------------------------------- writing
def write(
    path: str | os.PathLike[str],
    events: Events,
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    dt_us: int | None = None,
    overwrite: bool = True,
) -> None:
    """Write events to an N-MNIST ``.bin`` file (one file per sample with a ``{}`` in ``path``).

    Parameters
    ----------
    path : path
        Target file; for several samples it must hold a ``{}`` placeholder.
    events : Events
        Microsecond events of two polarities, ``0 <= t < 2^23``, on a sensor of at most 256 x 240.
    compression : {"none", None}
        The format has no compression.
    dt_us : None
        The file cannot record step time: anything but None raises.
    overwrite : bool
        Replace an existing file (atomically); False raises instead.

    Raises
    ------
    ExportError
        Step-time events or ``dt_us``, times outside 0 .. 2^23 - 1 us, a sensor over 256 x 240,
        channels, polarities other than 2, several samples without a placeholder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import nmnist
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> nmnist.write(path, Events(t=[3], x=[1], y=[2], p=[1], sensor_size=(34, 34)))
    >>> path.read_bytes()
    b'\\x01\\x02\\x80\\x00\\x03'
    """
    if dt_us is not None:
        raise ExportError(NO_STEP_TIME)
    write_samples(Writer, path, events, compression=compression, overwrite=overwrite)


class Writer(AtomicWriter):
    """Append events to an N-MNIST ``.bin`` file chunk by chunk, in constant memory.

    Parameters
    ----------
    path : path
        Target file.
    sensor_size : (W, H) or (W, H, 2), optional
        Sensor size (at most 256 x 240); or give ``shape``.
    compression, overwrite
        As for :func:`write`.
    shape : tuple of int, optional
        The sample shape ``(H, W)``, instead of ``sensor_size``.
    polarities : {2}, optional
        The format stores OFF and ON events only.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import nmnist
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stream.bin"
    >>> with nmnist.Writer(path, sensor_size=(34, 34)) as writer:
    ...     for start in (0, 1000):
    ...         writer.write(Events(t=[start, start + 5], x=[1, 2], y=[3, 4], p=[1, 0], sensor_size=(34, 34)))
    >>> nmnist.read(path, sensor_size=(34, 34)).t.tolist()
    [0, 5, 1000, 1005]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensor_size: Sequence[int] | None = None,
        compression: Compression = DEFAULT_COMPRESSION,
        *,
        shape: Sequence[int] | None = None,
        overwrite: bool = True,
        polarities: int | None = None,
        num_steps: int | None = None,
    ) -> None:
        if num_steps is not None:
            raise ExportError(NO_STEP_TIME)
        canonical(compression, COMPRESSIONS, "N-MNIST")
        super().__init__(
            path,
            address.resolve(shape, sensor_size),
            overwrite,
            address.resolve_polarities(polarities, sensor_size),
        )
        width, height, planes = address.extents(self._shape)
        if planes > 1 or width > MAX_WIDTH or height > MAX_HEIGHT:
            raise ExportError(
                f"samples of shape {self._shape} do not fit an N-MNIST file: one plane of at most "
                f"{MAX_WIDTH} x {MAX_HEIGHT} (8-bit x; y = {OVERFLOW_Y} marks a time overflow); "
                "write AEDAT 4.0 or HDF5"
            )
        if self._polarities != 2:
            raise ExportError(
                f"an N-MNIST file stores OFF/ON events and reads back with polarities=2; these have "
                f"polarities={self._polarities}: write events.with_polarities(2) or another format"
            )
        self._last_t = 0

    def _open(self, temporary: Path) -> BinaryIO:
        return open(temporary, "r+b")

    def _finish(self) -> None:
        """Nothing to add: the file is its records."""

    def write(self, events: Events) -> None:
        """Append one sample's microsecond events, in time order across chunks."""
        self._check_one(events)
        if events.time_unit == "step":
            raise ExportError(NO_STEP_TIME)
        if not len(events):
            return
        t, x, y, p = (column.cpu().numpy() for column in (events.t, events.x, events.y, events.p))
        first, last = int(t[0]), int(t[-1])
        if first < self._last_t:
            raise TimeOrderError(
                f"this chunk starts at t = {first} us, before {self._last_t} us (the previous chunk's "
                "last event, or 0): N-MNIST times run from 0 up; write chunks in time order"
            )
        if last >= TIME_LIMIT:
            i = int(np.searchsorted(t, TIME_LIMIT))
            raise ExportError(
                f"t[{i}] = {int(t[i])} us: N-MNIST's 23-bit times end at 2^23 - 1 = {TIME_LIMIT - 1} us "
                "(8.4 s); cut the stream (events.window) or write another format"
            )
        records = np.empty((len(t), RECORD_BYTES), np.uint8)
        records[:, 0] = x
        records[:, 1] = y
        records[:, 2] = (t >> 16) | (p.astype(np.int64) << 7)
        records[:, 3] = (t >> 8) & 0xFF
        records[:, 4] = t & 0xFF
        cast(BinaryIO, self._file).write(records.data)
        self._last_t = last


# ---------------------------------------------------------------------- reading
@dataclass(frozen=True)
class _File:
    """An open file's records and the sample shape its events take."""

    path: Path
    descriptor: int
    records: int
    trailing: int
    shape: tuple[int, ...]


class _Piece(NamedTuple):
    """Decoded records ``start .. start + records`` of a file: the events among them."""

    start: int
    records: int
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray


def _pieces(descriptor: int, records: int, size: int) -> Iterator[_Piece]:
    """Each ``size`` records, in order, decoded on all cores a few pieces ahead; markers left out,
    times counting the markers of earlier pieces."""

    def decode(start: int) -> _Piece:
        count = min(size, records - start)
        return _Piece(
            start, count, *_decode_bytes(os.pread(descriptor, count * RECORD_BYTES, start * RECORD_BYTES))
        )

    carry = 0
    with threads.ordered(decode, range(0, records, size)) as ordered:
        for piece in ordered:
            if carry:
                piece.t[:] += carry
            markers = piece.y == OVERFLOW_Y
            if markers.any():
                carry += int(np.count_nonzero(markers)) * OVERFLOW_US
                keep = ~markers
                piece = piece._replace(t=piece.t[keep], x=piece.x[keep], y=piece.y[keep], p=piece.p[keep])
            yield piece


def _open_file(path: Path, descriptor: int, sensor_size: object) -> _File:
    """The file's record count and sample shape (given, or inferred with a warning)."""
    size = os.fstat(descriptor).st_size
    records, trailing = divmod(size, RECORD_BYTES)
    if sensor_size is not None:
        if not isinstance(sensor_size, Sequence):
            raise OptionError(f"sensor_size must be (W, H) or (W, H, 2), got {sensor_size!r}")
        shape = address.resolve(None, sensor_size)
        if address.resolve_polarities(None, sensor_size) != 2:
            raise OptionError(f"N-MNIST events have two polarities: sensor_size {tuple(sensor_size)} says 1")
        return _File(path, descriptor, records, trailing, shape)
    width = height = 0
    for piece in _pieces(descriptor, records, PIECE):
        if len(piece.x):
            width, height = max(width, int(piece.x.max()) + 1), max(height, int(piece.y.max()) + 1)
    if not width:
        raise OptionError(
            f"{path} holds no events to infer the sensor size from, and an N-MNIST file records "
            "none: pass sensor_size=(W, H), e.g. (34, 34) for N-MNIST"
        )
    warnings.warn(
        f"{path}: an N-MNIST file records no sensor size; inferred {width} x {height} from the largest "
        "address: pass sensor_size=(W, H) (N-MNIST: (34, 34); N-Caltech101: at most (240, 180))",
        EventcodeWarning,
        stacklevel=4,
    )
    return _File(path, descriptor, records, trailing, (height, width))


class _Checks:
    """Addresses inside the shape and time in order, across pieces (``sort`` lets time go back)."""

    def __init__(self, file: _File, sort: bool) -> None:
        self.file, self.sort, self.last, self.ordered = file, sort, 0, True
        self.width, self.height = address.width(file.shape), address.height(file.shape)

    def __call__(self, piece: _Piece) -> None:
        t, x, y = piece.t, piece.x, piece.y
        if not len(t):
            return
        bad = (x >= self.width) | (y >= self.height)
        if bad.any():
            i = int(bad.nonzero()[0][0])
            raise FileFormatError(
                f"{self.file.path}: the event at byte {self._offset(piece, i)} has x = {int(x[i])}, "
                f"y = {int(y[i])}, outside the {self.width} x {self.height} sensor; pass a larger "
                "sensor_size="
            )
        back = np.diff(t, prepend=self.last) < 0
        if back.any():
            if not self.sort:
                i = int(back.nonzero()[0][0])
                raise FileFormatError(
                    f"{self.file.path}: time goes back at byte {self._offset(piece, i)} (t = {int(t[i])} us "
                    "after a later one): an N-MNIST time cannot tell a 23-bit wrap from disorder; pass "
                    "sort=True to sort the events"
                )
            self.ordered = False
        self.last = int(t[-1]) if self.ordered else max(self.last, int(t.max()))

    def _offset(self, piece: _Piece, i: int) -> int:
        """The byte offset of event ``i`` of ``piece`` (markers skipped)."""
        data = os.pread(self.file.descriptor, piece.records * RECORD_BYTES, piece.start * RECORD_BYTES)
        events = (np.frombuffer(data, np.uint8)[1::RECORD_BYTES] != OVERFLOW_Y).nonzero()[0]
        return (piece.start + int(events[i])) * RECORD_BYTES


def _warn(file: _File) -> None:
    if file.trailing:
        warnings.warn(
            f"{file.path}: left out {file.trailing} bytes at byte {file.records * RECORD_BYTES}, an "
            "incomplete last record (truncated)",
            DataLossWarning,
            stacklevel=3,
        )


def _cut(columns: dict[str, np.ndarray], window: tuple[int | None, int | None]) -> dict[str, np.ndarray]:
    """Sorted columns cut to ``window``."""
    t = columns["t"]
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    return columns if (lo, hi) == (0, len(t)) else {name: column[lo:hi] for name, column in columns.items()}


def _columns(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray, shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    xd, yd, _ = address.column_dtype_names(shape)
    return {"t": t, "x": x.astype(xd), "y": y.astype(yd), "p": p}


def read(
    path: str | os.PathLike[str],
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: Sequence[int] | None = None,
    sort: bool = False,
) -> Events:
    """Read the events of an N-MNIST ``.bin`` file (all, or ``t_start <= t < t_end`` us).

    Parameters
    ----------
    path : path
        The file.
    sample : {None, 0, -1}
        The file's one sample.
    t_start, t_end : int, optional
        Half-open window in microseconds.
    sensor_size : (W, H) or (W, H, 2), optional
        The sensor (N-MNIST: ``(34, 34)``); without it the size is inferred from the largest
        address (one more pass over the file), with a warning.
    sort : bool
        Sort events whose time goes back instead of raising.

    Returns
    -------
    Events
        One sample in microseconds, polarities 2.

    Raises
    ------
    FileFormatError
        An address outside ``sensor_size``, time going back (without ``sort``).
    OptionError
        A file without events and no ``sensor_size``, a bad ``sample`` or window.

    Warns
    -----
    EventcodeWarning
        The sensor size was inferred.
    DataLossWarning
        The file ends inside a record.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from exporters import nmnist
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> _ = path.write_bytes(bytes([1, 2, 0, 0, 5,  0, 240, 0, 0, 0,  3, 4, 128, 0, 9]))  # a marker
    >>> events = nmnist.read(path, sensor_size=(34, 34))
    >>> events.t.tolist(), events.x.tolist(), events.p.tolist()
    ([5, 8201], [1, 3], [False, True])
    """
    path = Path(path)
    window = one_sample_window(path, sample, t_start, t_end, "N-MNIST")
    with open_regular(path) as handle:
        file = _open_file(path, handle.fileno(), sensor_size)
        check = _Checks(file, bool(sort))
        parts: list[tuple[np.ndarray, ...]] = []
        for piece in _pieces(file.descriptor, file.records, PIECE):
            check(piece)
            parts.append((piece.t, piece.x, piece.y, piece.p))
    dtypes = (np.int64, np.uint8, np.uint8, np.bool_)
    merged = [
        np.concatenate([part[k] for part in parts]) if parts else np.empty(0, dtype)
        for k, dtype in enumerate(dtypes)
    ]
    if not check.ordered:
        order = np.argsort(merged[0], kind="stable")
        merged = [column[order] for column in merged]
    columns = _cut(_columns(merged[0], merged[1], merged[2], merged[3], file.shape), window)
    _warn(file)
    return _events(columns, file.shape)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Iterator[Events]:
    """Read an N-MNIST file as chunks of at most ``chunk_events`` events, in bounded memory.

    Arguments as for :func:`read` (time going back raises); reading stops after ``t_end``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import nmnist
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> events = Events(t=list(range(100)), x=[0] * 100, y=[0] * 100, p=[1] * 100, sensor_size=(34, 34))
    >>> nmnist.write(path, events)
    >>> [len(chunk) for chunk in nmnist.read_chunks(path, chunk_events=40, sensor_size=(34, 34))]
    [40, 40, 20]
    """
    shape, chunks = started(_chunks(path, chunk_events, sample, t_start, t_end, sensor_size))
    return (_events(columns, shape) for columns in chunks)


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Read an N-MNIST file as chunks of numpy columns (``t`` int64 us, ``x``/``y`` int16,
    ``p`` bool), without torch: the columns of :func:`read_chunks`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from exporters import nmnist
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> _ = path.write_bytes(bytes([1, 2, 0, 0, 5]))
    >>> [chunk["t"].tolist() for chunk in nmnist.read_columns(path, sensor_size=(34, 34))]
    [[5]]
    """
    return started(_chunks(path, chunk_events, sample, t_start, t_end, sensor_size))[1]


def _chunks(
    path: str | os.PathLike[str],
    chunk_events: object,
    sample: object,
    t_start: object,
    t_end: object,
    sensor_size: object,
) -> Iterator[tuple[int, ...] | dict[str, np.ndarray]]:
    """The shape, then the columns of each chunk of records (markers left out)."""
    count = positive_int("chunk_events", chunk_events, "events")
    path = Path(path)
    window = one_sample_window(path, sample, t_start, t_end, "N-MNIST")
    with open_regular(path) as handle:
        file = _open_file(path, handle.fileno(), sensor_size)
        yield file.shape
        check = _Checks(file, sort=False)
        for piece in _pieces(file.descriptor, file.records, count):
            if len(piece.t) and window[1] is not None and int(piece.t[0]) >= window[1]:
                break
            check(piece)
            columns = _cut(_columns(piece.t, piece.x, piece.y, piece.p, file.shape), window)
            if len(columns["t"]):
                yield columns
    _warn(file)


def _events(columns: dict[str, np.ndarray], shape: tuple[int, ...]) -> Events:
    from exporters.steptime import one_sample

    return one_sample(columns, shape, 2, None)


def info(path: str | os.PathLike[str], *, sensor_size: Sequence[int] | None = None) -> FileInfo:
    """Describe an N-MNIST file: events, time range, overflow markers (numpy only).

    Returns
    -------
    FileInfo
        ``extras``: ``records`` (markers included), ``overflow_markers``, ``trailing_bytes``,
        ``sensor_size_inferred``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from exporters import nmnist
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> _ = path.write_bytes(bytes([1, 2, 0, 0, 5,  0, 240, 0, 0, 0,  3, 4, 128, 0, 9]))
    >>> meta = nmnist.info(path, sensor_size=(34, 34))
    >>> meta.events, (meta.first, meta.last), meta.extras["overflow_markers"]
    (2, (5, 8201), 1)
    """
    path = Path(path)
    with open_regular(path) as handle:
        file = _open_file(path, handle.fileno(), sensor_size)
        events, ends = 0, cast("list[int | None]", [None, None])
        for piece in _pieces(file.descriptor, file.records, PIECE):
            if len(piece.t):
                events += len(piece.t)
                ends = [int(piece.t[0]) if ends[0] is None else ends[0], int(piece.t[-1])]
    first, last = ends
    width, height = address.width(file.shape), address.height(file.shape)
    return FileInfo(
        path=path,
        format=NAME,
        compression="none",
        sensor_size=(width, height, 2),
        shape=file.shape,
        events=events,
        samples=1,
        time_unit="us",
        first=first,
        last=last,
        num_steps=None,
        dt_us=None,
        polarities=2,
        streams=(Stream(0, "EVTS", "events", (width, height), 1, events, first, last),),
        extras={
            "records": file.records,
            "overflow_markers": file.records - events,
            "trailing_bytes": file.trailing,
            "sensor_size_inferred": sensor_size is None,
        },
    )
