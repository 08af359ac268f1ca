"""AEDAT 3.1: the packet-based event file format of cAER (iniVation, 2016), read and written.

A file is a text header of ``#`` lines ending in CR LF (``#!AER-DAT3.1``, ``#Format: RAW``,
``#Source <id>: <device>``, ``#Start-Time: ...``, ``#!END-HEADER``), then typed event packets,
little-endian: a 28-byte header (``eventType``, ``eventSource`` int16; ``eventSize``,
``eventTSOffset``, ``eventTSOverflow``, ``eventCapacity``, ``eventNumber``, ``eventValid``
int32) and ``eventCapacity`` events of ``eventSize`` bytes. A polarity event (type 1) is 8
bytes: a data word (bit 0 valid, bit 1 polarity ON, bits 2-16 ``y``, bits 17-31 ``x``, origin
at the upper left) and an int32 timestamp in microseconds; the 64-bit time is
``(eventTSOverflow << 31) | timestamp``. Sources: iniVation's "AEDAT file formats" page (AEDAT
3.1), libcaer's ``events/common.h``, ``events/special.h`` and ``src/timestamps.h``.

Writing (:func:`write`, :class:`Writer`): the header names the camera by the sensor size
(:data:`WRITTEN_DEVICES`: ``DVS128``, ``DAVIS240C``, ``DAVIS346B``, ``DAVIS640``; else ``File``)
and holds one ``#eventcode:`` line with the sample shape, the polarities and, for step-time
events, ``num_steps``, ``dt_us`` and ``t0_us``, which other readers skip as a comment. Events go
into polarity packets only, of at most :data:`PACKET_EVENTS` events (``eventCapacity =
eventNumber = eventValid``, every validity bit set), a new packet wherever the time overflow
``t >> 31`` changes. There, as cAER does at a timestamp wrap, a special-event packet of the old
overflow holds one ``TIMESTAMP_WRAP`` event at timestamp ``2**31 - 1``; an overflow jumping by
several (a gap of over 35.8 minutes) gets one wrap event, readers taking the overflow from the
packet headers. Times must lie in ``[-2**62, 2**62)`` microseconds (an int32 overflow), and
the sensor in 15-bit ``x`` and ``y`` (``W * C`` and ``H`` at most 32,768).

Reading (:func:`read`, :func:`read_chunks`, the numpy-only :func:`read_columns`): the packet
headers are walked first, without decoding events (a packet table: type, source, overflow,
counts, byte offset, and the times of each packet's first and last event, read alone), so a
time window decodes only the packets it overlaps. The polarity events of one source (the
lowest by default) are decoded with numpy on all cores, invalid ones (validity bit 0) dropped.
Other packets (special events, frames, IMU samples, other sources...) are skipped and counted:
:func:`info` lists them as streams and reading warns (:class:`~eventcode.errors.DataLossWarning`)
of the records it leaves out, ``TIMESTAMP_WRAP`` events excepted (the packet headers carry the
overflow). The sensor size comes from eventcode's line, else the ``#Source`` device (DVS128
128x128, DAVIS240 240x180, DAVIS346 346x260...), else ``sensor_size=``, else the largest
addresses + 1 (a pass over the events first). Every structure is checked: a truncated or
corrupt file raises :class:`~eventcode.errors.FileFormatError` naming the byte offset
(``salvage=True`` keeps the complete packets before damage to the packet structure instead),
as do events outside the sensor, time going back within a stream, and valid counts that
disagree with the packet headers.

Peers: Tonic 1.7 reads our files with ``tonic.io.read_aedat_header_from_file`` and
``get_aer_events_from_file`` (which read every packet as 8-byte polarity events and ignore the
overflow, so files beyond ``2**31`` us, which hold wrap packets, read wrongly there); its
``read_dvs_red``, which decodes this layout, fails on its own header reader (tonic#302).
dv-processing 2.0.4 reads AEDAT 4.0 only.

Examples
--------
>>> import tempfile, pathlib, torch
>>> import eventcode
>>> from exporters import aedat3
>>> generator = torch.Generator().manual_seed(0)
>>> events = eventcode.rate(torch.rand(1, 1, 28, 28), num_steps=20, generator=generator)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "digit.aedat"
>>> aedat3.write(path, events, dt_us=1000)
>>> aedat3.read(path) == events
True
>>> aedat3.read(path, t_start=5, t_end=10) == events.time_slice(5, 10)
True
"""

from __future__ import annotations

import array
import itertools
import os
import re
import struct
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, NamedTuple, TypeVar, cast

import numpy as np

from eventcode import address, checks
from eventcode.errors import (
    DataLossWarning,
    EventsError,
    ExportError,
    FileFormatError,
    OptionError,
    TimeOrderError,
)
from eventcode.options import positive_int
from exporters import positional, steptime, threads
from exporters.atomic import AtomicWriter
from exporters.batches import write_samples
from exporters.compression import Compression, canonical
from exporters.contract import FileInfo, Stream, empty_columns
from exporters.options import one_sample_window
from exporters.source import open_regular
from exporters.steptime import StepTime, Window, window_us

if TYPE_CHECKING:
    from eventcode import Events

NAME = "aedat3"
DESCRIPTION = "AEDAT 3.1 (cAER: polarity packets; frames, IMU and special packets skipped and counted)"
MAGIC = b"#!AER-DAT3.1\r\n"
BATCHED = False
SUFFIXES = (".aedat",)
COMPRESSIONS = {"none": "none"}
"""AEDAT 3.1's RAW format stores packets as they are: no compression (None means ``"none"``)."""
DEFAULT_COMPRESSION = "none"

PACKET_EVENTS = 1 << 14
"""Events per polarity packet written: 128 KiB of events, so that the 28-byte headers cost
nothing, and a time window decodes at most two packets it does not need."""
HEADER = struct.Struct("<hhiiiiii")
"""A packet header: eventType, eventSource, eventSize, eventTSOffset, eventTSOverflow,
eventCapacity, eventNumber, eventValid."""
SPECIAL, POLARITY = 0, 1
TIMESTAMP_WRAP = 0
"""The special event type cAER writes when the 31-bit timestamp wraps (libcaer ``special.h``)."""
TYPES = {
    0: ("TRIG", "special"),
    1: ("EVTS", "polarity"),
    2: ("FRME", "frame"),
    3: ("IMUS", "imu6"),
    4: ("IMUS", "imu9"),
    5: ("SAMPLE", "sample"),
    6: ("EAR", "ear"),
    7: ("CONFIG", "config"),
    8: ("POINT1D", "point1d"),
    9: ("POINT2D", "point2d"),
    10: ("POINT3D", "point3d"),
    11: ("POINT4D", "point4d"),
    12: ("SPIKE", "spike"),
}
"""AEDAT 3.1 event types: the :class:`~exporters.contract.Stream` type and name of each (special
events, external input edges and timestamp notes among them, are AEDAT 4.0's triggers)."""
DEVICES = {
    "DVS128": (128, 128),
    "DAVIS128": (128, 128),
    "DAVIS208": (208, 192),
    "DAVIS240A": (240, 180),
    "DAVIS240B": (240, 180),
    "DAVIS240C": (240, 180),
    "DAVIS346A": (346, 260),
    "DAVIS346B": (346, 260),
    "DAVIS346Cbsi": (346, 260),
    "DAVIS640": (640, 480),
}
"""``(W, H)`` of the polarity events of each device a ``#Source`` line may name (iniVation's
supported-device names; libcaer's chip sizes)."""
WRITTEN_DEVICES = {
    (128, 128): "DVS128",
    (240, 180): "DAVIS240C",
    (346, 260): "DAVIS346B",
    (640, 480): "DAVIS640",
}
"""The device a written file names for each sensor size; ``File`` for any other."""
EXTENT = 1 << 15
"""Addresses of 15 bits: ``x`` and ``y`` below 32,768."""
TIME_RANGE = (-(1 << 62), 1 << 62)
"""The 64-bit times a file can hold: an int32 overflow above 31 bits of microseconds."""
HEADER_LIMIT = 1 << 20
"""Most bytes of text header read before its ``#!END-HEADER`` line."""
TASK_EVENTS = 1 << 18
"""Events decoded or packed at a time by one thread: 2 MiB of packets, in cache, and numpy
operations long enough for two threads to share the GIL (at 2**16 they take turns)."""
GROUP_PIECES = 256
"""Most packets written with one ``pwritev`` (its limit is 1,024 buffers)."""
PACKET = np.dtype(
    [
        ("offset", "<i8"),
        ("type", "<i2"),
        ("source", "<i2"),
        ("size", "<i4"),
        ("ts_offset", "<i4"),
        ("overflow", "<i4"),
        ("capacity", "<i4"),
        ("number", "<i4"),
        ("valid", "<i4"),
        ("first", "<i8"),
        ("last", "<i8"),
        ("first_valid", "?"),
        ("last_valid", "?"),
        ("wraps", "<i4"),
    ]
)
"""A row of the packet table: the header's byte offset and fields, the 64-bit times of the
packet's first and last events (valid or not; 0 in an empty packet) and whether each is valid,
and the valid ``TIMESTAMP_WRAP`` events of a special-event packet."""
_SALVAGE = "pass salvage=True to read the complete packets before it"
R = TypeVar("R")


class _Recorded(NamedTuple):
    """What eventcode's ``#eventcode:`` header line records."""

    shape: tuple[int, ...]
    polarities: int
    steps: StepTime | None


def sniff(head: bytes) -> float:
    """How sure it is that a file starting with ``head`` is AEDAT 3.1: 1 for its version line, else 0.

    Examples
    --------
    >>> from exporters import aedat3
    >>> aedat3.sniff(b"#!AER-DAT3.1\\r\\n#Format: RAW\\r\\n"), aedat3.sniff(b"#!AER-DAT2.0\\r\\n")
    (1.0, 0.0)
    """
    return 1.0 if head.startswith(MAGIC) else 0.0


# ---------------------------------------------------------------------- writing
def write(
    path: str | os.PathLike[str],
    events: Events,
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    dt_us: int | None = None,
    t0_us: int = 0,
    channels: Literal["tile"] | None = None,
    overwrite: bool = True,
) -> None:
    """Write events to an AEDAT 3.1 file (one file per sample with a ``{}`` in ``path``).

    Parameters
    ----------
    path : path
        Target file; for several samples it must hold a ``{}`` placeholder, filled with each
        sample's index.
    events : Events
        One sample (or several with a placeholder), in microseconds or in steps.
    compression : {"none", None}
        AEDAT 3.1 stores packets uncompressed.
    dt_us : int, optional
        Microseconds per step: required for step-time events (time ``t0_us + t * dt_us``).
    t0_us : int
        Time of step 0 in microseconds.
    channels : {"tile"}, optional
        How to write samples with several channels: ``"tile"`` puts channel ``c`` at
        ``x + c * W`` (a ``C * W`` wide sensor); reading restores ``c``.
    overwrite : bool
        Replace an existing file (atomically, as every write); False raises instead.

    Raises
    ------
    ExportError
        Step time without ``dt_us``, channels without ``channels="tile"``, a sensor beyond
        15-bit addresses, times outside ``[-2**62, 2**62)`` us, several samples without a
        placeholder, a compression, or an existing file without ``overwrite``.
    OptionError
        A ``dt_us`` that is not a positive whole number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat3
    >>> events = Events(t=[10, 20, 20], x=[0, 5, 6], y=[1, 2, 3], p=[1, 0, 1], sensor_size=(346, 260))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> aedat3.write(path, events)
    >>> path.read_bytes()[:50]
    b'#!AER-DAT3.1\\r\\n#Format: RAW\\r\\n#Source 0: DAVIS346B\\r\\n'
    >>> aedat3.read(path).t.tolist()
    [10, 20, 20]
    """
    write_samples(
        Writer,
        path,
        events,
        compression=compression,
        dt_us=dt_us,
        t0_us=t0_us,
        channels=channels,
        overwrite=overwrite,
    )


class Writer(AtomicWriter):
    """Append events to an AEDAT 3.1 file chunk by chunk, in constant memory.

    Use as a context manager: the file appears (atomically) when the block ends without an
    error; after an error no file is left and an existing file at ``path`` is untouched.
    Chunks are one-sample :class:`~eventcode.Events` of the declared shape, in time order
    across chunks; packets fill up across chunks.

    Parameters
    ----------
    path : path
        Target file.
    sensor_size : (W, H) or (W, H, P), optional
        Sensor size; or give ``shape`` (e.g. ``(2, 34, 34)`` for a sample with channels).
    compression, dt_us, t0_us, channels, overwrite
        As for :func:`write`.
    shape : tuple of int, optional
        Dense shape of a sample, instead of ``sensor_size``.
    num_steps : int, optional
        Steps of a step-time stream (needed with ``dt_us``; recorded for reading back).
    polarities : {2, 1, 0}, optional
        The sensor's kinds of event (:attr:`eventcode.Events.polarities`); default the ``P`` of
        ``sensor_size``, else 2. Recorded in the header, restored on reading.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat3
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stream.aedat"
    >>> with aedat3.Writer(path, sensor_size=(128, 128)) as writer:
    ...     for start in range(0, 3000, 1000):
    ...         chunk = Events(t=[start, start + 5], x=[1, 2], y=[3, 4], p=[1, 0], sensor_size=(128, 128))
    ...         writer.write(chunk)
    >>> meta = aedat3.info(path)
    >>> meta.events, meta.extras["sources"], len(meta.extras["packets"])
    (6, {0: 'DVS128'}, 1)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensor_size: Sequence[int] | None = None,
        compression: Compression = DEFAULT_COMPRESSION,
        *,
        shape: Sequence[int] | None = None,
        dt_us: int | None = None,
        t0_us: int = 0,
        num_steps: int | None = None,
        channels: Literal["tile"] | None = None,
        overwrite: bool = True,
        polarities: int | None = None,
    ) -> None:
        canonical(compression, COMPRESSIONS, "AEDAT 3.1")
        super().__init__(
            path,
            address.resolve(shape, sensor_size),
            overwrite,
            address.resolve_polarities(polarities, sensor_size),
        )
        planes = address.channels(self._shape)
        if planes > 1 and channels != "tile":
            raise ExportError(
                f"samples of shape {self._shape} have {planes} channels, which AEDAT 3.1 cannot hold; pass "
                "channels='tile' to put channel c at x + c * W (reading restores the channels)"
            )
        self._size = _extent(self._shape)
        if max(self._size) > EXTENT:
            raise ExportError(
                f"samples of shape {self._shape} need a {self._size[0]}x{self._size[1]} sensor, beyond the "
                f"15-bit x and y of AEDAT 3.1 (at most {EXTENT}x{EXTENT}); write AEDAT 4.0 or HDF5"
            )
        self._steps = steptime.recorded(dt_us, t0_us, num_steps)
        if self._steps is not None:
            beyond = self._steps.beyond(*TIME_RANGE)
            if beyond is not None:
                raise ExportError(
                    f"step time t0_us + k * dt_us (0 <= k < num_steps) reaches {beyond} us, beyond the "
                    f"[-2**62, 2**62) us of AEDAT 3.1; choose a smaller dt_us or t0_us"
                )
        self._pending: list[_Segment] = []  # events of the packet being filled
        self._count = 0
        self._overflow: int | None = None  # of the last event written
        self._last_t: int | None = None
        self._position = 0  # where the next packet goes

    @property
    def _descriptor(self) -> int:
        return cast(BinaryIO, self._file).fileno()

    def _open(self, temporary: Path) -> BinaryIO:
        file = open(temporary, "wb", buffering=0)  # noqa: SIM115 - closed by AtomicWriter.__exit__
        header = _text_header(self._size, self._shape, self._polarities, self._steps)
        positional.write_at(file.fileno(), header, 0)
        self._position = len(header)
        return cast(BinaryIO, file)

    def _finish(self) -> None:
        self._put(self._filled())

    def write(self, events: Events) -> None:
        """Append one sample's events (microseconds, or steps when ``dt_us`` was given)."""
        self._check_one(events)
        columns = self._columns(events)
        t = columns[0]
        if not len(t):
            return
        first, last = int(t[0]), int(t[-1])
        if self._last_t is not None and first < self._last_t:
            raise TimeOrderError(
                f"this chunk starts at t = {first} us, before the previous chunk's last event at "
                f"{self._last_t} us; write chunks in time order"
            )
        if first < TIME_RANGE[0] or last >= TIME_RANGE[1]:
            raise ExportError(
                f"times from {first} to {last} us: AEDAT 3.1 holds [-2**62, 2**62) us (an int32 "
                "overflow of 31-bit timestamps)"
            )
        self._last_t = last
        pieces: list[_Piece] = []
        first_overflow, last_overflow = first >> 31, last >> 31
        runs = [(first_overflow, 0, len(t))] if first_overflow == last_overflow else _runs(t >> 31)
        for overflow, a, b in runs:
            if self._overflow is not None and overflow != self._overflow:
                pieces += self._filled()
                pieces.append(_Piece(self._overflow, (), _wrap_packet(self._overflow)))
            self._overflow = overflow
            while a < b:  # fill the pending packet, then whole packets
                k = min(PACKET_EVENTS - self._count, b - a)
                self._pending.append(_Segment(columns, a, a + k))
                self._count, a = self._count + k, a + k
                if self._count == PACKET_EVENTS:
                    pieces += self._filled()
        self._pending = [_Segment(_copy(cols, a, b), 0, b - a) for cols, a, b in self._pending]
        self._put(pieces)

    def _columns(self, events: Events) -> _Cols:
        """``t`` (us), ``x`` (channels tiled), ``y``, ``p`` as numpy arrays."""
        events = steptime.in_us(events, self._steps)
        tiled = events.x if events.c is None else events.x + events.c * address.width(self._shape)
        t, x, y, p = (column.cpu().numpy() for column in (events.t, tiled, events.y, events.p))
        return t, x, y, p

    def _filled(self) -> list[_Piece]:
        """The pending packet as a piece to write (none if it holds no events)."""
        pieces = [_Piece(cast(int, self._overflow), tuple(self._pending), b"")] if self._count else []
        self._pending, self._count = [], 0
        return pieces

    def _put(self, pieces: list[_Piece]) -> None:
        """Write pieces one after the other from the current position, on all cores: each group
        of about :data:`TASK_EVENTS` events (and at most :data:`GROUP_PIECES` pieces) packed into a
        thread's buffer and written with one ``pwritev``, packet headers in between."""
        sizes = [len(piece.raw) or HEADER.size + 8 * piece.events for piece in pieces]
        offsets = np.cumsum([self._position, *sizes]).tolist()
        groups, first, held = [], 0, 0
        for i, piece in enumerate(pieces):
            held += piece.events
            if held >= TASK_EVENTS or i + 1 - first >= GROUP_PIECES:
                groups.append((first, i + 1))
                first, held = i + 1, 0
        groups += [(first, len(pieces))] if first < len(pieces) else []

        def task(k: int) -> None:
            a, b = groups[k]
            events = sum(piece.events for piece in pieces[a:b])
            words = threads.scratch("aedat3.words", 2 * events, np.uint32).reshape(-1, 2)
            buffers: list[bytes | memoryview] = []
            done = 0
            for piece in pieces[a:b]:
                n = piece.events
                if piece.raw:
                    buffers.append(piece.raw)
                else:
                    header = HEADER.pack(POLARITY, 0, 8, 4, piece.overflow, n, n, n)
                    buffers += [header, words[done : done + n].data]
                done += n
            done = 0
            for (t, x, y, p), lo, hi in _merged([s for piece in pieces[a:b] for s in piece.segments]):
                _pack(words[done : done + hi - lo], t[lo:hi], x[lo:hi], y[lo:hi], p[lo:hi])
                done += hi - lo
            _pwritev(self._descriptor, buffers, offsets[a])

        list(threads.parallel(task, range(len(groups))))
        self._position = offsets[-1]


_Cols = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""Event columns to write: t (us), x (channels tiled), y, p."""


class _Segment(NamedTuple):
    """Events ``a:b`` of some columns."""

    columns: _Cols
    a: int
    b: int


class _Piece(NamedTuple):
    """Bytes to write: a polarity packet of ``overflow`` holding the events of ``segments``, or
    ``raw`` bytes (a wrap packet)."""

    overflow: int
    segments: tuple[_Segment, ...]
    raw: bytes

    @property
    def events(self) -> int:
        return sum(b - a for _, a, b in self.segments)


def _merged(segments: list[_Segment]) -> list[_Segment]:
    """The segments, adjacent ranges of the same columns joined (packed with one call each)."""
    joined: list[_Segment] = []
    for segment in segments:
        if joined and joined[-1].columns is segment.columns and joined[-1].b == segment.a:
            joined[-1] = joined[-1]._replace(b=segment.b)
        else:
            joined.append(segment)
    return joined


def _copy(columns: _Cols, a: int, b: int) -> _Cols:
    """A copy of events ``a:b`` (kept pending across writes: the caller's tensors may change)."""
    t, x, y, p = (column[a:b].copy() for column in columns)
    return t, x, y, p


def _runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """``(value, a, b)``: the runs ``values[a:b]`` of one value."""
    starts = [0, *(np.flatnonzero(values[1:] != values[:-1]) + 1).tolist()]
    ends = [*starts[1:], len(values)]
    return [(int(values[a]), a, b) for a, b in zip(starts, ends, strict=True)]


def _pack(words: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> None:
    """Polarity events into ``(n, 2)`` uint32 ``words``: ``x << 17 | y << 2 | p << 1 | 1`` and
    ``t & 0x7FFFFFFF`` (contiguous uint32 scratch columns: casts and in-place operations only)."""
    data, field = _scratch(len(t))
    np.copyto(data, x, casting="unsafe")
    np.left_shift(data, 15, out=data)
    np.copyto(field, y, casting="unsafe")
    np.bitwise_or(data, field, out=data)
    np.left_shift(data, 1, out=data)
    np.copyto(field, p, casting="unsafe")
    np.bitwise_or(data, field, out=data)
    np.left_shift(data, 1, out=data)
    np.bitwise_or(data, 1, out=data)
    np.copyto(words[:, 0], data)
    np.copyto(field, t, casting="unsafe")  # the low 32 bits
    np.bitwise_and(field, 0x7FFFFFFF, out=field)
    np.copyto(words[:, 1], field)


def _pwritev(descriptor: int, buffers: list[bytes | memoryview], at: int) -> None:
    """Write the buffers one after the other at byte ``at`` (``pwritev`` may write less than asked:
    the rest follows with :func:`exporters.positional.write_at`)."""
    written = os.pwritev(descriptor, buffers, at) if buffers else 0
    for buffer in buffers:
        view = memoryview(buffer).cast("B")
        if written < len(view):
            positional.write_at(descriptor, view[written:], at + written)
        written, at = max(written - len(view), 0), at + len(view)


def _text_header(
    size: tuple[int, int], shape: tuple[int, ...], polarities: int, steps: StepTime | None
) -> bytes:
    """The header lines, CR LF each: version, format, source, start time, eventcode's line, end."""
    ours = f"shape={','.join(map(str, shape))} polarities={polarities}"
    if steps is not None:
        ours += f" num_steps={steps.num_steps} dt_us={steps.dt_us} t0_us={steps.t0_us}"
    lines = [
        "#!AER-DAT3.1",
        "#Format: RAW",
        f"#Source 0: {WRITTEN_DEVICES.get(size, 'File')}",
        f"#Start-Time: {time.strftime('%Y-%m-%d %H:%M:%S (TZ%z)')}",
        f"#eventcode: {ours}",
        "#!END-HEADER",
    ]
    return "".join(line + "\r\n" for line in lines).encode("ascii")


def _wrap_packet(overflow: int) -> bytes:
    """A special-event packet of one TIMESTAMP_WRAP event at the last timestamp of ``overflow``."""
    return HEADER.pack(SPECIAL, 0, 8, 4, overflow, 1, 1, 1) + struct.pack(
        "<Ii", TIMESTAMP_WRAP << 1 | 1, 2**31 - 1
    )


def _extent(shape: tuple[int, ...]) -> tuple[int, int]:
    """The sensor ``(W, H)`` of a sample shape, channels side by side: ``(C * W, H)``."""
    return address.width(shape) * address.channels(shape), address.height(shape)


# ---------------------------------------------------------------------- the file's structure
@dataclass(frozen=True)
class _Header:
    """The text header: where the packets start, the ``#Source`` devices, the start time, and
    eventcode's line (None in other writers' files)."""

    data_start: int
    sources: dict[int, str]
    start_time: str | None
    recorded: _Recorded | None


_Damage = tuple[int, str]
"""Where the packets of a damaged file stop (a byte offset), and what is wrong there."""


@dataclass(frozen=True)
class _File:
    """A walked file: its header, its packet table and any damage that ends the packets early."""

    path: Path
    header: _Header
    table: np.ndarray
    end: int
    damage: _Damage | None


def _open(path: Path, descriptor: int, salvage: bool) -> _File:
    """Header and packet table of a file; damage raises :class:`FileFormatError` unless ``salvage``."""
    end = os.fstat(descriptor).st_size
    header = _header(path, descriptor, end)
    table, damage = _walk(descriptor, header.data_start, end)
    if damage is not None and not salvage:
        raise FileFormatError(f"{path}: byte {damage[0]}: {damage[1]}; {_SALVAGE}")
    return _File(path, header, table, end, damage)


def _header(path: Path, descriptor: int, end: int) -> _Header:
    """Parse the ``#`` lines up to ``#!END-HEADER`` (CR LF, or LF alone, ends a line)."""
    text = os.pread(descriptor, min(end, HEADER_LIMIT), 0)
    if not text.startswith(MAGIC):
        first = text[: text.find(b"\n") + 1 or 16]
        raise FileFormatError(f"{path}: byte 0: not an AEDAT 3.1 file: it starts {first!r}, not {MAGIC!r}")
    sources: dict[int, str] = {}
    start_time, recorded, position = None, None, 0
    while True:
        stop = text.find(b"\n", position)
        if text[position : position + 1] not in (b"#", b""):
            raise FileFormatError(
                f"{path}: byte {position}: a header line that does not start with '#' (no #!END-HEADER line "
                "before the packets)"
            )
        if stop < 0:
            where = f"in its first {HEADER_LIMIT} bytes" if len(text) == HEADER_LIMIT else "(truncated)"
            raise FileFormatError(f"{path}: byte {position}: the header has no #!END-HEADER line {where}")
        line = text[position:stop].rstrip(b"\r").decode("latin-1")
        if line == "#!END-HEADER":
            return _Header(stop + 1, sources, start_time, recorded)
        if match := re.fullmatch(r"#Source (\d+): (.*)", line):
            sources[int(match[1])] = match[2].strip()
        elif line.startswith("#Format:") and line.partition(":")[2].strip() != "RAW":
            raise FileFormatError(f"{path}: byte {position}: {line[1:]!r}: only the RAW format is defined")
        elif line.startswith("#Start-Time:"):
            start_time = line.partition(":")[2].strip()
        elif line.startswith("#eventcode:"):
            recorded = _recorded(path, position, line.partition(":")[2])
        position = stop + 1


def _recorded(path: Path, position: int, text: str) -> _Recorded:
    """eventcode's header line, checked: shape within 15-bit addresses, polarities, step time."""
    fields = dict(item.partition("=")[::2] for item in text.split())
    try:
        shape = address.check_shape(int(v) for v in fields.get("shape", "").split(",") if v)
        size = _extent(shape)
        if not fields.get("shape") or max(size) > EXTENT:
            raise ValueError(f"shape {fields.get('shape')!r} is not a sample shape within 15-bit addresses")
        polarities = int(fields.get("polarities", "2"))
        if polarities not in address.POLARITIES:
            raise ValueError(f"polarities is {polarities}, not 2, 1 or 0")
        steps = None
        if "dt_us" in fields:
            numbers = (int(fields["num_steps"]), int(fields["dt_us"]), int(fields.get("t0_us", "0")))
            steps = steptime.read_back(*numbers, TIME_RANGE)
    except (EventsError, ValueError, KeyError) as err:
        raise FileFormatError(
            f"{path}: byte {position}: eventcode's header line is inconsistent: {err}"
        ) from None
    return _Recorded(shape, polarities, steps)


def _walk(descriptor: int, start: int, end: int) -> tuple[np.ndarray, _Damage | None]:
    """The packet table (:data:`PACKET` rows) and the damage that ends the packets early (or None).

    A loop hops from packet to packet by the event size and capacity of each header (reading a
    block at a time while packets are small, a header alone after a large one); the rest is
    vectorized: the headers are gathered (:func:`_gather`) and checked (:func:`_impossible`),
    then the first and last event of each packet, and the data words of special events.
    """
    offsets, append, unpack = array.array("q"), array.array.append, _SIZES.unpack_from
    block, at, position, step, damage = b"", 0, start, 0, None
    while position < end:
        i = position - at
        if i + HEADER.size > len(block):
            block, at, i = (
                os.pread(descriptor, _HOP if step < _HOP // 4 else HEADER.size, position),
                position,
                0,
            )
            if len(block) < HEADER.size:
                damage = (position, f"the file ends inside a packet header ({len(block)} of 28 bytes)")
                break
        size, capacity = unpack(block, i)
        if size < 1 or capacity < 0:  # no step forward: refused below
            append(offsets, position)
            break
        append(offsets, position)
        step = HEADER.size + capacity * size
        position += step
    if position > end:
        past = f"a packet of {step} bytes runs past the end of the file at byte {end} (truncated)"
        damage = (offsets.pop(), past)
    heads = _gather(descriptor, np.frombuffer(offsets, np.int64), HEADER.size).view(_HEADER)[:, 0]
    table = np.zeros(len(offsets), PACKET)
    table["offset"] = offsets
    for name in _FIELDS:
        table[name] = heads[name]
    bad = _impossible_rows(table)
    if bad is not None:
        damage = (int(table["offset"][bad]), cast(str, _impossible(*heads[bad].tolist())))
        table = table[:bad]
    return _edges(descriptor, table, damage)


def _edges(descriptor: int, table: np.ndarray, damage: _Damage | None) -> tuple[np.ndarray, _Damage | None]:
    """Fill in the table's times of each packet's first and last events and whether they are
    valid, and the valid TIMESTAMP_WRAP events of special packets; a negative timestamp ends the
    table (damage) at its packet."""
    full = np.flatnonzero(table["number"] > 0)
    rows = table[full]
    starts = rows["offset"] + HEADER.size
    events = np.concatenate([starts, starts + (rows["number"] - 1) * rows["size"]])  # firsts, then lasts
    stamps = _gather(descriptor, events + np.tile(rows["ts_offset"], 2), 4).view("<i4")[:, 0]
    negative = np.flatnonzero(stamps < 0)
    if len(negative):
        j = int(negative[np.argmin(events[negative])])  # the first in the file
        k = j % len(rows)
        at = int(events[j] + rows["ts_offset"][k])
        return _edges(descriptor, table[: full[k]], (at, f"a negative timestamp ({int(stamps[j])}; corrupt)"))
    n, base = len(rows), rows["overflow"].astype(np.int64) << 31
    valid = _gather(descriptor, events, 1)[:, 0] & 1
    table["first"][full], table["last"][full] = base + stamps[:n], base + stamps[n:]
    table["first_valid"][full], table["last_valid"][full] = valid[:n], valid[n:]
    special = np.flatnonzero((table["type"] == SPECIAL) & (table["size"] == 8) & (table["number"] > 0))
    if len(special):  # the low byte of every special event's data word: valid, and its type
        numbers = table["number"][special].astype(np.int64)
        owner = np.repeat(np.arange(len(special)), numbers)
        index = np.arange(len(owner)) - np.repeat(np.cumsum(numbers) - numbers, numbers)
        words = _gather(descriptor, table["offset"][special][owner] + HEADER.size + 8 * index, 1)[:, 0]
        wraps = np.bincount(owner, weights=words == TIMESTAMP_WRAP << 1 | 1, minlength=len(special))
        table["wraps"][special] = wraps
    return table, damage


_HOP = 1 << 16
"""Bytes read at a time while hopping over small packets."""
_SIZES = struct.Struct("<4xi8xi")
"""A packet header's eventSize and eventCapacity: the step to the next packet."""
_BLOCK = 1 << 12
"""Gathered bytes come from the aligned blocks of this size that hold them."""
_FIELDS = ("type", "source", "size", "ts_offset", "overflow", "capacity", "number", "valid")
_HEADER = np.dtype([(name, "<i2" if name in ("type", "source") else "<i4") for name in _FIELDS])
"""The 28-byte packet header as a numpy record."""


def _gather(descriptor: int, positions: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes at each of ``positions`` of the file, ``(n, width)`` uint8: the aligned
    :data:`_BLOCK`-byte blocks holding them are read (runs of adjacent blocks with one ``preadv``),
    at most 4,096 blocks at a time."""
    out = np.empty((len(positions), width), np.uint8)
    order = np.argsort(positions, kind="stable")
    ordered = positions[order]
    done = 0
    while done < len(ordered):
        limit = (ordered[done] // _BLOCK + 4095) * _BLOCK  # the batch's blocks: at most 4,096
        stop = max(done + int(np.searchsorted(ordered[done:], limit - width + 1)), done + 1)
        batch = ordered[done:stop]
        wanted = np.unique(np.concatenate([batch // _BLOCK, (batch + width - 1) // _BLOCK]))
        blocks = np.empty(len(wanted) * _BLOCK, np.uint8)
        edges = [0, *(np.flatnonzero(np.diff(wanted) != 1) + 1).tolist(), len(wanted)]
        for a, b in itertools.pairwise(edges):
            os.preadv(descriptor, [blocks[a * _BLOCK : b * _BLOCK].data], int(wanted[a]) * _BLOCK)
        index = np.searchsorted(wanted, batch // _BLOCK) * _BLOCK + batch % _BLOCK
        out[order[done:stop]] = blocks[index[:, None] + np.arange(width)]
        done = stop
    return out


def _impossible(
    kind: int, source: int, size: int, ts_offset: int, overflow: int, capacity: int, number: int, valid: int
) -> str | None:
    """What makes a packet header impossible (corrupt), or None."""
    if kind < 0 or source < 0:
        return f"a packet header of event type {kind} and source {source} (corrupt)"
    if size < 1 or not 0 <= ts_offset <= size - 4:
        return f"a packet of {size}-byte events with their timestamp at byte {ts_offset} (corrupt)"
    if not 0 <= valid <= number <= capacity:
        return f"a packet of {capacity} events' capacity, {number} events and {valid} valid ones (corrupt)"
    if kind == POLARITY and (size, ts_offset) != (8, 4):
        return f"a polarity packet of {size}-byte events, their timestamp at byte {ts_offset}: not 8 and 4"
    return None


def _impossible_rows(table: np.ndarray) -> int | None:
    """The first row of the table whose header :func:`_impossible` refuses, or None."""
    size, ts_offset, number = table["size"], table["ts_offset"], table["number"]
    bad = (table["type"] < 0) | (table["source"] < 0) | (size < 1) | (ts_offset < 0) | (ts_offset > size - 4)
    bad |= (table["valid"] < 0) | (table["valid"] > number) | (number > table["capacity"])
    bad |= (table["type"] == POLARITY) & ((size != 8) | (ts_offset != 4))
    return checks.first(bad) if bad.any() else None


# ---------------------------------------------------------------------- the event stream
class _Target(NamedTuple):
    """The polarity stream read: its source, sensor ``(W, H)`` (channels tiled), sample shape,
    step time and polarities, and its non-empty packets (table rows) in file order."""

    source: int
    size: tuple[int, int] | None
    shape: tuple[int, ...] | None
    steps: StepTime | None
    polarities: int
    packets: np.ndarray


def _target(file: _File, source: int | None, sensor_size: Sequence[int] | None) -> _Target:
    """The polarity stream of ``source`` (default: the lowest with polarity packets, else the
    header's lowest source) and what the file says of its sensor.

    Raises
    ------
    OptionError
        A ``source`` the file has neither in its header nor in its packets, or a
        ``sensor_size`` unlike the one the file records.
    FileFormatError
        Time going back between the stream's packets.
    """
    table = file.table
    polarity = table[table["type"] == POLARITY]
    found = sorted({*file.header.sources, *polarity["source"].tolist()})
    if source is None:
        source = int(polarity["source"].min()) if len(polarity) else min(found, default=0)
    elif source not in found:
        raise OptionError(f"{file.path} has no source {source} (sources: {found})")
    recorded = file.header.recorded
    size: tuple[int, int] | None = None
    if recorded is not None:
        shape: tuple[int, ...] | None = recorded.shape
        size = _extent(recorded.shape)
    else:
        size = DEVICES.get(file.header.sources.get(source, ""))
        shape = None if size is None else (size[1], size[0])
    if sensor_size is not None:
        given = tuple(int(v) for v in sensor_size)[:2]
        if size is not None and given != size:
            raise OptionError(
                f"sensor_size={tuple(sensor_size)}, but {file.path} records a {size[0]}x{size[1]} sensor"
            )
        if size is None:
            size, shape = (given[0], given[1]), address.resolve(None, sensor_size)
        if max(size) > EXTENT:
            raise OptionError(f"sensor_size={tuple(sensor_size)} is beyond the 15-bit addresses of AEDAT 3.1")
    packets = polarity[(polarity["source"] == source) & (polarity["number"] > 0)]
    _check_order(file.path, packets)
    steps, polarities = (None, 2) if recorded is None else (recorded.steps, recorded.polarities)
    return _Target(source, size, shape, steps, polarities, packets)


def _check_order(path: Path, packets: np.ndarray) -> None:
    """Time never goes back from one packet of the stream to the next, nor from a packet's first
    event to its last (O(packets), from the table; :func:`_decode` checks within the packets it
    reads), so that the table's times bound every packet's events."""
    times = np.empty(2 * len(packets), np.int64)
    times[0::2], times[1::2] = packets["first"], packets["last"]
    back = times[1:] < times[:-1]
    if back.any():
        j = checks.first(back) + 1
        i = j // 2
        what = (
            "its last event is earlier than its first"
            if j % 2
            else "it starts before the packet before it ends"
        )
        raise FileFormatError(
            f"{path}: byte {int(packets['offset'][i])}: time goes back: {what} (t = {int(times[j])} us after "
            f"{int(times[j - 1])} us)"
        )


def _select(target: _Target, window: Window) -> tuple[np.ndarray, Window]:
    """The packets overlapping the window, and the window in microseconds (steps converted for
    step-time files), clipped to the times a file holds."""
    window = window_us(window, target.steps, *TIME_RANGE)
    packets = target.packets
    keep = np.ones(len(packets), bool)
    if window[0] is not None:
        keep &= packets["last"] >= window[0]
    if window[1] is not None:
        keep &= packets["first"] < window[1]
    return packets[keep], window


def _skipped(file: _File, target: _Target, window: Window) -> None:
    """Warn of the valid records of other streams in the window, TIMESTAMP_WRAP events excepted."""
    table = file.table
    other = (table["type"] != POLARITY) | (table["source"] != target.source)
    if window[0] is not None:
        other &= table["last"] >= window[0]
    if window[1] is not None:
        other &= table["first"] < window[1]
    counts: dict[tuple[int, int], int] = {}
    for source, kind, valid, wraps in table[other][["source", "type", "valid", "wraps"]].tolist():
        counts[source, kind] = counts.get((source, kind), 0) + valid - wraps
    left = [(key, count) for key, count in sorted(counts.items()) if count]
    if left:
        listed = ", ".join(
            f"{count:,} {TYPES.get(kind, ('', f'type {kind}'))[1]} (source {source})"
            for (source, kind), count in left
        )
        warnings.warn(
            f"{file.path}: reading the polarity events of source {target.source}, skipped the records of "
            f"other streams: {listed}",
            DataLossWarning,
            stacklevel=4,
        )


# ---------------------------------------------------------------------- decoding
class _Decoded(NamedTuple):
    """Decoded events of a group of packets, valid or not: t (us), x, y, p; ``kept``, the indices
    of the valid ones (None when all are); the largest ``x`` and ``y`` of valid events (-1 without)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    kept: np.ndarray | None
    x_max: int
    y_max: int


def _scratch(n: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's two uint32 scratch columns, ``n`` values each."""
    return threads.scratch("aedat3.data", n, np.uint32), threads.scratch("aedat3.field", n, np.uint32)


def _decode(path: Path, descriptor: int, packets: np.ndarray) -> tuple[_Decoded, np.ndarray]:
    """Every event of ``packets`` (non-empty polarity packets), and where each packet starts in
    the columns, checked: valid counts as the headers say, time never going back.

    Groups of whole packets of about :data:`TASK_EVENTS` events are read with ``preadv``
    straight into a thread's buffer (headers aside) and decoded there, on all cores, with
    casting copies and in-place operations on contiguous scratch columns.
    """
    starts = np.zeros(len(packets) + 1, np.int64)
    np.cumsum(packets["number"], out=starts[1:])
    n = int(starts[-1])
    columns = empty_columns(n)
    t, x, y, p = (columns[name] for name in "txyp")
    groups = _groups(packets["number"], TASK_EVENTS)

    def task(k: int) -> tuple[np.ndarray | None, int, int]:
        a, b = groups[k]
        lo, hi = int(starts[a]), int(starts[b])
        words = threads.scratch("aedat3.words", 2 * (hi - lo), np.uint32).reshape(-1, 2)
        _read(path, descriptor, packets[a:b], words)
        data, field = _scratch(hi - lo)
        np.copyto(data, words[:, 0])
        np.right_shift(words.view(np.int64)[:, 0], 32, out=t[lo:hi])  # the timestamps
        for overflow, i, j in _runs(packets["overflow"][a:b]):  # runs of packets of one overflow
            if overflow:
                stamps = t[starts[a + i] : starts[a + j]]
                np.add(stamps, np.int64(overflow) << 31, out=stamps)
        np.right_shift(data, 17, out=field)
        np.copyto(x[lo:hi], field, casting="unsafe")
        np.right_shift(data, 2, out=field)
        np.copyto(y[lo:hi], field, casting="unsafe")  # and x's lowest bit
        np.bitwise_and(y[lo:hi], EXTENT - 1, out=y[lo:hi])
        on = p[lo:hi].view(np.uint8)
        np.right_shift(data, 1, out=field)
        np.copyto(on, field, casting="unsafe")  # and y's bits
        np.bitwise_and(on, 1, out=on)
        np.bitwise_and(data, 1, out=field)
        valid, mask = np.count_nonzero(field), None
        counts = packets["number"][a:b]
        if valid < hi - lo:
            counts = np.add.reduceat(field, starts[a:b] - lo, dtype=np.int64)
            mask = field.astype(bool)
        wrong = counts != packets["valid"][a:b]
        if wrong.any():
            i = a + checks.first(wrong)
            raise FileFormatError(
                f"{path}: byte {int(packets['offset'][i])}: the packet header counts "
                f"{int(packets['valid'][i])} valid events, but {int(counts[i - a])} of its events are valid "
                "(corrupt)"
            )
        back = t[lo + 1 : hi] < t[lo : hi - 1]
        if back.any():
            j = lo + checks.first(back) + 1
            raise FileFormatError(
                f"{_at(path, packets, starts, j)}: time goes back: t = {int(t[j])} us after "
                f"{int(t[j - 1])} us"
            )
        if mask is None:
            return None, int(x[lo:hi].max()), int(y[lo:hi].max())
        held = mask.any()
        return mask, int(x[lo:hi][mask].max()) if held else -1, int(y[lo:hi][mask].max()) if held else -1

    results = list(threads.parallel(task, range(len(groups))))
    kept = None
    if any(mask is not None for mask, _, _ in results):
        kept = np.concatenate(
            [
                np.arange(starts[a], starts[b]) if mask is None else np.flatnonzero(mask) + starts[a]
                for (a, b), (mask, _, _) in zip(groups, results, strict=True)
            ]
        )
    x_max = max((m for _, m, _ in results), default=-1)
    y_max = max((m for _, _, m in results), default=-1)
    return _Decoded(t, x, y, p, kept, x_max, y_max), starts


def _read(path: Path, descriptor: int, packets: np.ndarray, words: np.ndarray) -> None:
    """The events of ``packets`` into ``words``, without their headers.

    Packets no more than :data:`_HOP` bytes apart form a span. A span of adjacent packets is read
    straight into ``words`` with ``preadv`` (a scratch buffer takes each header); a span with
    other packets between (IMU, special events... of a cAER recording) is read whole, and its
    events copied out.
    """
    offsets, capacities, numbers = (
        packets[name].astype(np.int64) for name in ("offset", "capacity", "number")
    )
    ends = offsets + HEADER.size + 8 * capacities
    cuts = np.flatnonzero(offsets[1:] - ends[:-1] > _HOP) + 1
    filled = 0
    for a, b in itertools.pairwise([0, *cuts.tolist(), len(packets)]):
        start, stop, count = int(offsets[a]), int(ends[b - 1]), int(numbers[a:b].sum())
        target = words[filled : filled + count]
        if (offsets[a + 1 : b] == ends[a : b - 1]).all() and (capacities[a:b] == numbers[a:b]).all():
            head, bounds = bytearray(HEADER.size), np.cumsum([0, *numbers[a:b].tolist()]).tolist()
            for k in range(a, b, 500):  # preadv takes at most 1,024 buffers
                buffers: list[bytearray | memoryview] = []
                for i in range(k - a, min(k + 500, b) - a):
                    buffers += [head, target[bounds[i] : bounds[i + 1]].data]
                _preadv(path, descriptor, buffers, int(offsets[k]))
        else:
            span = np.empty(stop - start, np.uint8)
            _preadv(path, descriptor, [span.data], start)
            begins = (offsets[a:b] - start + HEADER.size).tolist()
            pieces = [span[i : i + 8 * n] for i, n in zip(begins, numbers[a:b].tolist(), strict=True)]
            np.concatenate(pieces, out=target.view(np.uint8).reshape(-1))
        filled += count


def _preadv(path: Path, descriptor: int, buffers: list[bytearray | memoryview], at: int) -> None:
    expected = sum(len(b) if isinstance(b, bytearray) else b.nbytes for b in buffers)
    if buffers and os.preadv(descriptor, buffers, at) != expected:
        raise FileFormatError(f"{path}: byte {at}: the file ended while it was read (it changed meanwhile)")


def _at(path: Path, packets: np.ndarray, starts: np.ndarray, j: int) -> str:
    """``"<path>: byte <offset>"`` of event ``j`` of decoded ``packets``."""
    i = int(np.searchsorted(starts, j, side="right")) - 1
    return f"{path}: byte {int(packets['offset'][i]) + HEADER.size + 8 * (j - int(starts[i]))}"


def _checked(
    file: _File, target: _Target, packets: np.ndarray, decoded: _Decoded, starts: np.ndarray, window: Window
) -> dict[str, np.ndarray]:
    """The valid events of decoded packets, within the window, checked against the sensor and the
    recorded polarities and step time, as eventcode's columns (``c`` split off ``x``; steps)."""
    path, size, kept = file.path, cast("tuple[int, int]", target.size), decoded.kept
    t, x, y, p = decoded[:4] if kept is None else (column[kept] for column in decoded[:4])

    def where(j: int) -> str:  # event j of the columns kept
        return _at(path, packets, starts, j if kept is None else int(kept[j]))

    for name, column, extent, largest in (("x", x, size[0], decoded.x_max), ("y", y, size[1], decoded.y_max)):
        if largest >= extent:
            j = checks.first(column >= extent)
            raise FileFormatError(
                f"{where(j)}: {name} = {int(column[j])} is outside the {size[0]}x{size[1]} sensor"
            )
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    result = {"t": t[lo:hi], "x": x[lo:hi], "y": y[lo:hi], "p": p[lo:hi]}
    wrong = _polarity_outlier(result["p"], target.polarities)
    if wrong is not None:
        raise FileFormatError(
            f"{where(lo + wrong)}: an OFF event, or both kinds, on a sensor of polarities="
            f"{target.polarities}, as eventcode's header line records"
        )
    shape = cast("tuple[int, ...]", target.shape)
    if address.channels(shape) > 1:
        width = address.width(shape)
        result["c"] = result["x"] // width
        result["x"] = result["x"] - result["c"] * width
    if target.steps is not None:
        result["t"] = _to_steps(result["t"], target.steps, lambda j: where(lo + j))
    return result


def _polarity_outlier(p: np.ndarray, polarities: int) -> int | None:
    """The first event unlike the sensor's polarities (0: every event ON; 1: one kind), or None."""
    if polarities == 2 or not len(p):
        return None
    odd = ~p if polarities == 0 else p != p[0]
    return checks.first(odd) if odd.any() else None


def _to_steps(t: np.ndarray, steps: StepTime, where: Callable[[int], str]) -> np.ndarray:
    """Microseconds to steps ``(t - t0_us) / dt_us``: whole steps in ``[0, num_steps)``, else
    :class:`FileFormatError` naming the event's byte offset."""
    k, rest = np.divmod(t - steps.t0_us, steps.dt_us)
    bad = (rest != 0) | (k < 0) | (k >= steps.num_steps)
    if len(t) and bad.any():
        j = checks.first(bad)
        raise FileFormatError(
            f"{where(j)}: t = {int(t[j])} us is not on the recorded step time t0_us + k * dt_us (t0_us = "
            f"{steps.t0_us}, dt_us = {steps.dt_us}, 0 <= k < num_steps = {steps.num_steps})"
        )
    return k


# ---------------------------------------------------------------------- reading
def read(
    path: str | os.PathLike[str],
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    source: int | None = None,
    sensor_size: Sequence[int] | None = None,
    salvage: bool = False,
) -> Events:
    """Read the polarity events of an AEDAT 3.1 file (all of them, or ``t_start <= t < t_end``).

    Parameters
    ----------
    path : path
        The file.
    sample : {None, 0, -1}
        The file's one sample (an AEDAT 3.1 file holds one stream): None, 0 and -1 read it.
    t_start, t_end : int, optional
        Half-open time window in the time unit of the result (steps for files eventcode wrote
        from step-time events, else microseconds): only the packets it overlaps are decoded.
    source : int, optional
        The source id whose polarity events to read; default the lowest with polarity packets.
    sensor_size : (W, H) or (W, H, P), optional
        The sensor, for a file whose header records none (its ``#Source`` names no device of
        :data:`DEVICES`, and eventcode did not write it); without it such a file is scanned
        once for its largest addresses, and the sensor is taken as their ``+ 1``.
    salvage : bool
        For a truncated file, or one whose packet structure is damaged: read the complete
        packets before the damage with a :class:`~eventcode.errors.DataLossWarning`, instead of
        raising.

    Returns
    -------
    Events
        One sample in microseconds with the sensor's size, or in steps and the original sample
        shape for files eventcode wrote from step-time events.

    Raises
    ------
    FileFormatError
        Not an AEDAT 3.1 file, truncated or corrupt (the message names the byte offset), events
        outside the sensor, time going back, or an empty file of unknown sensor size.
    OptionError
        A ``sample`` other than None, 0 or -1; a bad window; an unknown ``source``; a
        ``sensor_size`` unlike the one the file records.

    Warns
    -----
    DataLossWarning
        Counting the records of other streams skipped (frames, IMU samples, special events
        other than timestamp wraps, other sources' polarity events).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat3
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> aedat3.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(3, 1)))
    >>> aedat3.read(path, t_start=2).t.tolist()
    [5, 9]
    """
    ((columns, target),) = _columns(path, sample, t_start, t_end, source, sensor_size, salvage, None)
    return _events(columns, target)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    source: int | None = None,
    sensor_size: Sequence[int] | None = None,
    salvage: bool = False,
) -> Iterator[Events]:
    """Read an AEDAT 3.1 file as consecutive chunks of about ``chunk_events`` events each.

    Memory stays near one chunk whatever the file size: chunks hold whole packets, so their
    sizes vary around ``chunk_events``. Arguments, errors and warnings as for :func:`read`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat3
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> events = Events(t=list(range(100)), x=[0] * 100, y=[0] * 100, p=[1] * 100, sensor_size=(1, 1))
    >>> aedat3.write(path, events)
    >>> sum(len(chunk) for chunk in aedat3.read_chunks(path, chunk_events=10))
    100
    """
    chunk_events = positive_int("chunk_events", chunk_events, "events")
    chunks = _columns(path, sample, t_start, t_end, source, sensor_size, salvage, chunk_events)
    return (_events(columns, target) for columns, target in chunks)


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    source: int | None = None,
    sensor_size: Sequence[int] | None = None,
    salvage: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Read an AEDAT 3.1 file's polarity events as chunks of numpy columns, without torch.

    Each chunk is a dict of ``t`` (int64: steps for files eventcode wrote from step-time
    events, else microseconds), ``x`` and ``y`` (int16), ``p`` (bool), and ``c`` (int16) when
    the sample shape has channels: the columns of the chunks of :func:`read_chunks`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat3
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> aedat3.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(3, 1)))
    >>> [(chunk["t"].tolist(), chunk["x"].dtype.name) for chunk in aedat3.read_columns(path)]
    [([1, 5, 9], 'int16')]
    """
    chunk_events = positive_int("chunk_events", chunk_events, "events")
    chunks = _columns(path, sample, t_start, t_end, source, sensor_size, salvage, chunk_events)
    return (columns for columns, _ in chunks)


def _columns(
    path: str | os.PathLike[str],
    sample: object,
    t_start: object,
    t_end: object,
    source: int | None,
    sensor_size: Sequence[int] | None,
    salvage: bool,
    chunk_events: int | None,
) -> Iterator[tuple[dict[str, np.ndarray], _Target]]:
    """Check the arguments at once, then (lazily) the columns, about ``chunk_events`` events at
    a time (None: one chunk), each with the stream they come from."""
    window = one_sample_window(path, sample, t_start, t_end, "AEDAT 3.1")
    return _chunks(Path(path), window, source, sensor_size, salvage, chunk_events)


def _chunks(
    path: Path,
    window: Window,
    source: int | None,
    sensor_size: Sequence[int] | None,
    salvage: bool,
    chunk_events: int | None,
) -> Iterator[tuple[dict[str, np.ndarray], _Target]]:
    with open_regular(path) as handle:
        descriptor = handle.fileno()
        file = _open(path, descriptor, salvage)
        target = _sized(file, descriptor, _target(file, source, sensor_size))
        packets, us_window = _select(target, window)
        _skipped(file, target, us_window)
        groups = [(0, len(packets))] if chunk_events is None else _groups(packets["number"], chunk_events)
        for a, b in groups:
            decoded, starts = _decode(path, descriptor, packets[a:b])
            yield _checked(file, target, packets[a:b], decoded, starts, us_window), target
    if file.damage is not None:
        _warn(file, 4)


def _groups(numbers: np.ndarray, events: int) -> list[tuple[int, int]]:
    """Ranges of consecutive packets of about ``events`` events each."""
    ranges, first, held = [], 0, 0
    for i, number in enumerate(numbers.tolist()):
        held += number
        if held >= events:
            ranges.append((first, i + 1))
            first, held = i + 1, 0
    if first < len(numbers):
        ranges.append((first, len(numbers)))
    return ranges


def _sized(file: _File, descriptor: int, target: _Target) -> _Target:
    """The target with a sensor size: the recorded one, else the largest addresses + 1 (a pass
    over every packet of the stream)."""
    if target.size is not None:
        return target
    width = height = 0
    for a, b in _groups(target.packets["number"], 1 << 22):
        decoded, _ = _decode(file.path, descriptor, target.packets[a:b])
        width, height = max(width, decoded.x_max + 1), max(height, decoded.y_max + 1)
    if not width:
        raise FileFormatError(
            f"{file.path}: byte 0: the header records no sensor size (source {target.source}: "
            f"{file.header.sources.get(target.source, 'not listed')!r}) and the file holds no events to "
            "measure one from; pass sensor_size=(W, H)"
        )
    return target._replace(size=(width, height), shape=(height, width))


def _warn(file: _File, stacklevel: int) -> None:
    position, problem = cast(_Damage, file.damage)
    warnings.warn(
        f"{file.path}: byte {position}: {problem}; salvage kept the complete packets before it and left "
        f"out {file.end - position} bytes, from byte {position} to byte {file.end}",
        DataLossWarning,
        stacklevel=stacklevel,
    )


def _events(columns: dict[str, np.ndarray], target: _Target) -> Events:
    """One chunk of columns (checked) as one-sample :class:`~eventcode.Events`."""
    return steptime.one_sample(columns, target.shape, target.polarities, target.steps)


def info(
    path: str | os.PathLike[str],
    *,
    source: int | None = None,
    sensor_size: Sequence[int] | None = None,
    salvage: bool = False,
) -> FileInfo:
    """Describe an AEDAT 3.1 file and each of its streams from the packet headers.

    Only the first and last event of each packet are read (and a special-event packet whole,
    to tell timestamp wraps), except where the header records no sensor size (the addresses
    are scanned, as :func:`read` does) or where the stream's first or last event is invalid
    (its packet is decoded to find the first or last valid one).

    Parameters
    ----------
    path, source, sensor_size, salvage
        As for :func:`read`.

    Returns
    -------
    FileInfo
        The common fields for the polarity events of ``source``: ``events`` (valid ones), and
        ``first`` / ``last`` in ``time_unit`` (steps for files eventcode wrote from step-time
        events, else microseconds); ``samples`` is 1. ``streams`` lists each event type of
        each source, id ``source * 65536 + type`` (the type alone for source 0), with its
        valid records (TIMESTAMP_WRAP events left out) and, in microseconds (the event stream in
        ``time_unit``), the times of the first and last events of its packets holding records.
        ``extras``: ``source`` (the one read), ``sources`` (the
        ``#Source`` lines, id -> device), ``start_time`` (``#Start-Time``), ``t0_us``,
        ``invalid_events`` (of the event stream), ``timestamp_wraps`` (valid TIMESTAMP_WRAP
        events) and ``packets`` (the packet table, a :data:`PACKET` array).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat3
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> aedat3.write(path, Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(346, 260)))
    >>> meta = aedat3.info(path)
    >>> meta.sensor_size, meta.events, (meta.first, meta.last), meta.time_unit, meta.extras["sources"]
    ((346, 260, 2), 2, (1, 2), 'us', {0: 'DAVIS346B'})
    >>> meta.streams[0]
    Stream(id=1, type='EVTS', name='polarity', size=(346, 260), packets=1, records=2, first=1, last=2)
    """
    path = Path(path)
    with open_regular(path) as handle:
        descriptor = handle.fileno()
        file = _open(path, descriptor, salvage)
        target = _target(file, source, sensor_size)
        if target.size is None and (target.packets["valid"] > 0).any():
            target = _sized(file, descriptor, target)
        first, last = _valid_bounds(file, descriptor, target.packets)
    if file.damage is not None:
        _warn(file, 2)
    steps = target.steps
    if steps is not None and first is not None and last is not None:
        first, last = ((t - steps.t0_us) // steps.dt_us for t in (first, last))
    packets = target.packets
    streams = _streams(file.table, target, first, last)
    return FileInfo(
        path=path,
        format=NAME,
        compression="none",
        sensor_size=None if target.size is None else (*target.size, max(target.polarities, 1)),
        shape=target.shape,
        events=int(packets["valid"].sum()),
        samples=1,
        time_unit="us" if steps is None else "step",
        first=first,
        last=last,
        num_steps=None if steps is None else steps.num_steps,
        dt_us=None if steps is None else steps.dt_us,
        polarities=target.polarities,
        streams=streams,
        extras={
            "source": target.source,
            "sources": file.header.sources,
            "start_time": file.header.start_time,
            "t0_us": 0 if steps is None else steps.t0_us,
            "invalid_events": int((packets["number"] - packets["valid"]).sum()),
            "timestamp_wraps": int(file.table["wraps"].sum()),
            "packets": file.table,
        },
    )


def _valid_bounds(file: _File, descriptor: int, packets: np.ndarray) -> tuple[int | None, int | None]:
    """Times of the first and the last valid event of the stream's packets (None without any):
    from the packet table, or by decoding the packet where that event is not the packet's
    first or last."""
    holding = packets[packets["valid"] > 0]
    if not len(holding):
        return None, None
    bounds = []
    for row, edge, flag in ((holding[:1], "first", "first_valid"), (holding[-1:], "last", "last_valid")):
        if bool(row[flag][0]):
            bounds.append(int(row[edge][0]))
        else:
            decoded, _ = _decode(file.path, descriptor, row)
            bounds.append(int(decoded.t[cast(np.ndarray, decoded.kept)[0 if edge == "first" else -1]]))
    return bounds[0], bounds[1]


def _streams(table: np.ndarray, target: _Target, first: int | None, last: int | None) -> tuple[Stream, ...]:
    """One stream per event type and source, the polarity stream read first; TIMESTAMP_WRAP events
    are no records (the packet headers carry the overflow they note)."""
    keys = sorted({(s, k) for k, s in table[["type", "source"]].tolist()} | {(target.source, POLARITY)})
    keys.sort(key=lambda key: key != (target.source, POLARITY))
    streams = []
    for source, kind in keys:
        rows = table[(table["type"] == kind) & (table["source"] == source)]
        kind_name, name = TYPES.get(kind, (f"TYPE{kind}", f"type {kind}"))
        holding = rows[rows["valid"] > rows["wraps"]]
        size, start, stop = None, None, None
        if (source, kind) == (target.source, POLARITY):
            size, start, stop = target.size, first, last
        elif len(holding):
            start, stop = int(holding["first"][0]), int(holding["last"][-1])
        records = int(rows["valid"].sum() - rows["wraps"].sum())
        streams.append(Stream(source * 65536 + kind, kind_name, name, size, len(rows), records, start, stop))
    return tuple(streams)
