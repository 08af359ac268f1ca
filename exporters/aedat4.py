"""AEDAT 4.0: the event file format of iniVation's DV, dv-processing, faery, ``aedat`` and Tonic.

A file is a magic line, an ``IOHeader`` FlatBuffer (compression, an XML description of the
streams, the position of a packet index), then packets of ``(stream id, size, payload)``, each
payload one FlatBuffer of 16-byte events ``(t: int64 us, x: int16, y: int16, on: bool)``,
compressed on its own, and at the end a ``FileDataTable`` listing every packet with its time
range, so that readers can seek by time.

:func:`write` and :class:`Writer` produce files every peer reads (compressions ``None``,
``"lz4"``, ``"lz4_high"``, ``"zstd"``, ``"zstd_high"``, at dv-processing's levels: LZ4 fast,
LZ4 HC 9, zstd 3 and 22), packets of at most 65,536 events, compressed on all cores. :func:`read`
and :func:`read_chunks` decode them with numpy, lz4 and zstandard, use the packet table to read
only the packets of a time window, and check every offset, size and field, so that a truncated
or corrupt file raises :class:`~eventcode.errors.FileFormatError` naming the byte offset.

Step-time events need ``dt_us`` (the microseconds per step); the file records ``num_steps``,
``dt_us``, ``t0_us`` and the sample shape as extra ``eventcode*`` attributes of the stream's
``info`` node, which other readers ignore, so reading returns step time and channels again.

Examples
--------
>>> import tempfile, pathlib, torch
>>> import eventcode
>>> from exporters import aedat4
>>> generator = torch.Generator().manual_seed(0)
>>> events = eventcode.rate(torch.rand(1, 1, 28, 28), num_steps=20, generator=generator)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "digit.aedat4"
>>> aedat4.write(path, events, dt_us=1000)
>>> aedat4.read(path) == events
True
>>> len(aedat4.read(path, t_start=5, t_end=10)) == len(events.time_slice(5, 10))
True
"""

from __future__ import annotations

import functools
import os
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import lz4.frame
import numpy as np
import torch
import zstandard

from eventcode import Events, address
from eventcode.errors import ExportError, FileFormatError, TimeOrderError
from exporters.atomic import AtomicWriter
from exporters.batches import per_sample
from exporters.flatbuffers import Buffer

NAME = "aedat4"
DESCRIPTION = "AEDAT 4.0 (iniVation DV, dv-processing, faery, aedat, Tonic)"
MAGIC = b"#!AER-DAT4.0\r\n"
BATCHED = False
SUFFIXES = (".aedat4",)
Compression = Literal["lz4", "lz4_high", "zstd", "zstd_high"] | None

CODES = {None: 0, "lz4": 1, "lz4_high": 2, "zstd": 3, "zstd_high": 4}
"""IOHeader ``CompressionType`` of each compression name."""
NAMES = {0: "NONE", 1: "LZ4", 2: "LZ4_HIGH", 3: "ZSTD", 4: "ZSTD_HIGH"}
LEVELS = {1: 0, 2: 9, 3: 3, 4: 22}
"""Compression level per code, as dv-processing 2.0.4 sets them (LZ4F fast, LZ4 HC default,
zstd default, zstd maximum)."""

PACKET_EVENTS = {0: 1 << 16, 1: 1 << 16, 2: 1 << 16, 3: 1 << 16, 4: 1 << 12}
"""Events per packet by compression code: 65,536 (1 MiB of payload), but 4,096 for zstd level 22,
whose parameters for inputs of <= 128 KiB compress 30% faster at 1% lower ratio (level 22 either
way; dv-processing writes packets of about 10,000 events)."""
EVENT = np.dtype(
    {
        "names": ["t", "x", "y", "p"],
        "formats": ["<i8", "<i2", "<i2", "u1"],
        "offsets": [0, 8, 10, 12],
        "itemsize": 16,
    }
)
"""One AEDAT 4 event struct: t int64 us, x int16, y int16, polarity bool, 3 bytes of padding."""
MAX_PAYLOAD = 1 << 31
"""Largest decompressed packet accepted: the FlatBuffers limit, as the ``aedat`` reader sets it."""
_WORKERS = max(1, os.cpu_count() or 1)
T = TypeVar("T")
R = TypeVar("R")


# ---------------------------------------------------------------------- writing
def write(
    path: str | os.PathLike[str],
    events: Events,
    compression: Compression = "lz4",
    dt_us: int | None = None,
    *,
    t0_us: int = 0,
    channels: Literal["tile"] | None = None,
    overwrite: bool = True,
    source: str = "eventcode",
) -> None:
    """Write events to an AEDAT 4.0 file (one file per sample with a ``{}`` in ``path``).

    Parameters
    ----------
    path : path
        Target file; for a batch of several samples it must hold a ``{}`` placeholder, filled
        with each sample's index.
    events : Events
        One sample (or several with a placeholder), in microseconds or in steps.
    compression : {"lz4", "lz4_high", "zstd", "zstd_high", None}
        Packet compression, at dv-processing's levels for each name.
    dt_us : int, optional
        Microseconds per step: required for step-time events (time ``t0_us + t * dt_us``).
    t0_us : int
        Time of step 0 in microseconds.
    channels : {"tile"}, optional
        How to write samples with several channels, which AEDAT cannot hold: ``"tile"`` puts
        channel ``c`` at ``x + c * W`` (a ``C * W`` wide sensor); reading restores ``c``.
    overwrite : bool
        Replace an existing file (atomically, as every write); False raises instead.
    source : str
        Camera name recorded in the stream description (dv-processing's ``getCameraName``).

    Raises
    ------
    ExportError
        Step time without ``dt_us``, channels without ``channels="tile"``, several samples
        without a placeholder, an unknown compression, or an existing file without overwrite.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> events = Events(t=[10, 20, 20], x=[0, 5, 6], y=[1, 2, 3], p=[1, 0, 1], sensor_size=(8, 4))
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> aedat4.write(folder / "a.aedat4", events, compression="zstd")
    >>> aedat4.read(folder / "a.aedat4").t.tolist()
    [10, 20, 20]
    """
    for target, sample in per_sample(path, events):
        with Writer(
            target,
            shape=sample.shape,
            compression=compression,
            dt_us=dt_us,
            t0_us=t0_us,
            num_steps=sample.num_steps,
            channels=channels,
            overwrite=overwrite,
            source=source,
        ) as writer:
            writer.write(sample)


class Writer(AtomicWriter):
    """Append events to an AEDAT 4.0 file chunk by chunk, in constant memory.

    Use as a context manager: the file appears (atomically) when the block ends without an
    error; after an error no file is left and an existing file at ``path`` is untouched.
    Chunks are one-sample :class:`~eventcode.Events` of the declared shape, in time order
    across chunks.

    Parameters
    ----------
    path : path
        Target file.
    sensor_size : (W, H) or (W, H, P), optional
        Sensor size; or give ``shape`` (e.g. ``(2, 34, 34)`` for a sample with channels).
    compression, dt_us, t0_us, channels, overwrite, source
        As for :func:`write`.
    num_steps : int, optional
        Steps of a step-time stream (needed with ``dt_us``; recorded for reading back).
    shape : tuple of int, optional
        Dense shape of a sample, instead of ``sensor_size``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stream.aedat4"
    >>> with aedat4.Writer(path, sensor_size=(640, 480)) as writer:
    ...     for start in range(0, 3000, 1000):
    ...         chunk = Events(t=[start, start + 5], x=[1, 2], y=[3, 4], p=[1, 0], sensor_size=(640, 480))
    ...         writer.write(chunk)
    >>> len(aedat4.read(path))
    6
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensor_size: Sequence[int] | None = None,
        compression: Compression = "lz4",
        *,
        shape: Sequence[int] | None = None,
        dt_us: int | None = None,
        t0_us: int = 0,
        num_steps: int | None = None,
        channels: Literal["tile"] | None = None,
        overwrite: bool = True,
        source: str = "eventcode",
    ) -> None:
        if compression not in CODES:
            raise ExportError(f"compression {compression!r} is not one of {list(CODES)}")
        super().__init__(path, address.resolve(shape, sensor_size), overwrite)
        width, height = address.width(self._shape), address.height(self._shape)
        planes = address.channels(self._shape)
        if planes > 1 and channels != "tile":
            raise ExportError(
                f"samples of shape {self._shape} have {planes} channels, which AEDAT 4 cannot hold; pass "
                "channels='tile' to put channel c at x + c * W (reading restores the channels)"
            )
        if width * planes > address.INT16_LIMIT:
            raise ExportError(f"{planes} channels of width {width} do not fit the int16 x of AEDAT 4")
        if dt_us is not None and (isinstance(dt_us, bool) or int(dt_us) != dt_us or dt_us < 1):
            raise ExportError(f"dt_us must be a positive integer number of microseconds, got {dt_us!r}")
        if dt_us is not None and num_steps is None:
            raise ExportError("a step-time stream needs num_steps with dt_us, to read back as steps")
        self._code = CODES[compression]
        self._size = (width * planes, height)
        self._steps = (num_steps, int(dt_us), int(t0_us)) if dt_us is not None else None
        self._header = _io_header(
            self._code, _info_node(self._code, self._size, self._shape, self._steps, source)
        )
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._pending_count = 0
        self._last_t: int | None = None
        self._table: list[tuple[int, int, int, int, int]] = []

    def _open(self, temporary: Path) -> BinaryIO:
        file = open(temporary, "wb")  # noqa: SIM115 - closed by AtomicWriter.__exit__
        file.write(MAGIC + self._header)
        return file

    def _finish(self) -> None:
        self._flush(final=True)
        self._write_table()

    def write(self, events: Events) -> None:
        """Append one sample's events (microseconds, or steps when ``dt_us`` was given)."""
        self._check(events)
        if events.num_samples != 1:
            raise ExportError(
                f"Writer.write takes one sample at a time, got {events.num_samples}; pass events[b]"
            )
        columns = self._columns(events)
        if len(columns[0]):
            if self._last_t is not None and int(columns[0][0]) < self._last_t:
                raise TimeOrderError(
                    f"this chunk starts at t = {int(columns[0][0])} us, before the previous chunk's last "
                    f"event at {self._last_t} us; write chunks in time order"
                )
            self._last_t = int(columns[0][-1])
            self._pending.append(columns)
            self._pending_count += len(columns[0])
            if self._pending_count >= PACKET_EVENTS[self._code] * _WORKERS:
                self._flush(final=False)

    def _columns(self, events: Events) -> tuple[np.ndarray, ...]:
        """``t`` (us), ``x`` (channels tiled), ``y``, ``p`` as numpy arrays."""
        if events.time_unit == "step":
            if self._steps is None:
                raise ExportError(
                    "step-time events need dt_us, the microseconds per step, to be written in "
                    "microseconds (e.g. dt_us=1000); reading the file returns steps again"
                )
            num_steps, dt_us, t0_us = self._steps
            if events.num_steps > num_steps:
                raise ExportError(
                    f"events of {events.num_steps} steps do not fit this file's {num_steps} steps"
                )
            events = events.to_us(dt_us, t0_us)
        elif self._steps is not None:
            raise ExportError("this file holds step time (dt_us was given); write step-time events")
        x = events.x
        if events.c is not None:
            x = x + events.c * address.width(self._shape)
        return tuple(column.cpu().numpy() for column in (events.t, x, events.y, events.p))

    def _flush(self, final: bool) -> None:
        """Write full packets (and with ``final`` the remainder), a few at a time on all cores."""
        if not self._pending:
            return
        columns = [
            parts[0] if len(parts) == 1 else np.concatenate(parts)
            for parts in zip(*self._pending, strict=True)
        ]
        size = PACKET_EVENTS[self._code]
        cut = len(columns[0]) if final else len(columns[0]) // size * size
        starts = list(range(0, cut, size))
        batch = 16 * _WORKERS
        for first in range(0, len(starts), batch):
            ranges = [(a, min(a + size, cut)) for a in starts[first : first + batch]]
            payloads = _parallel(
                lambda r: _compress(self._code, _event_packet(*(c[r[0] : r[1]] for c in columns))), ranges
            )
            for (a, b), payload in zip(ranges, payloads, strict=True):
                self._file.write(struct.pack("<ii", 0, len(payload)))
                self._table.append(
                    (self._file.tell(), len(payload), b - a, int(columns[0][a]), int(columns[0][b - 1]))
                )
                self._file.write(payload)
        rest = tuple(column[cut:] for column in columns)
        self._pending = [rest] if len(rest[0]) else []
        self._pending_count = len(rest[0])

    def _write_table(self) -> None:
        position = self._file.tell()
        self._file.write(_compress(self._code, _data_table(self._table)))
        self._file.seek(len(MAGIC) + _TABLE_POSITION_AT)
        self._file.write(struct.pack("<q", position))


def _info_node(
    code: int, size: tuple[int, int], shape: tuple[int, ...], steps: tuple | None, source: str
) -> str:
    """The XML stream description: one event stream, id 0, with the attributes DV writes."""
    extra = {"eventcodeShape": ("string", ",".join(map(str, shape)))}
    if steps is not None:
        extra |= {"eventcodeDtUs": ("long", steps[1]), "eventcodeNumSteps": ("long", steps[0])}
        extra["eventcodeT0Us"] = ("long", steps[2])
    info = {**extra, "sizeX": ("int", size[0]), "sizeY": ("int", size[1]), "source": ("string", source)}
    stream = {
        "compression": ("string", NAMES[code]),
        "originalModuleName": ("string", "eventcode"),
        "originalOutputName": ("string", "events"),
        "typeDescription": ("string", "Array of events (polarity ON/OFF)."),
        "typeIdentifier": ("string", "EVTS"),
    }

    def attrs(values: dict, indent: str) -> str:
        return "".join(
            f'{indent}<attr key="{key}" type="{kind}">{escape(str(value))}</attr>\n'
            for key, (kind, value) in values.items()
        )

    root = "/mainloop/Recorder/outInfo/"
    return (
        f'<dv version="2.0">\n <node name="outInfo" path="{root}">\n  <node name="0" path="{root}0/">\n'
        f'{attrs(stream, "   ")}   <node name="info" path="{root}0/info/">\n{attrs(info, "    ")}'
        "   </node>\n  </node>\n </node>\n</dv>\n"
    )


_TABLE_POSITION_AT = 32
"""Offset of the IOHeader's dataTablePosition from the header's size prefix (layout below)."""


def _io_header(code: int, info: str) -> bytes:
    """The size-prefixed IOHeader: compression, dataTablePosition (-1, patched at the end), infoNode.

    Fixed layout (offsets from the size prefix): root table at 24 with its vtable at 12, int32
    compression at 28, int64 dataTablePosition at 32 (always present, so it can be patched),
    string offset at 40, the string from 44, padded to 8 bytes.
    """
    text = info.encode("utf-8")
    body = struct.pack("<I4s5H2x", 20, b"IOHE", 10, 20, 4, 8, 16)
    body += struct.pack("<iiqI", 12, code, -1, 4) + struct.pack("<I", len(text)) + text + b"\0"
    body += b"\0" * (-(len(body) + 4) % 8)
    return struct.pack("<I", len(body)) + body


def _event_packet(t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Size-prefixed ``EVTS`` EventPacket: a table whose one field is the vector of event structs."""
    n = len(t)
    packet = np.zeros(32 + 16 * n, np.uint8)  # zeroed: the structs' padding bytes
    packet[:32] = np.frombuffer(
        struct.pack("<II4s3H2xiII", 28 + 16 * n, 16, b"EVTS", 6, 8, 4, 8, 4, n), np.uint8
    )
    records = packet[32:].view(EVENT)
    records["t"], records["x"], records["y"], records["p"] = t, x, y, p
    return packet


_DEFINITION = np.dtype(
    {
        "names": ["vtable", "stream", "size", "offset", "count", "first", "last"],
        "formats": ["<i4", "<i4", "<i4", "<i8", "<i8", "<i8", "<i8"],
        "offsets": [0, 4, 8, 16, 24, 32, 40],
        "itemsize": 48,
    }
)
"""A FileDataDefinition table as written: vtable offset, PacketInfo struct, then four int64."""


def _data_table(entries: list[tuple[int, int, int, int, int]]) -> bytes:
    """Size-prefixed ``FTAB`` FileDataTable: one FileDataDefinition per packet, sharing one vtable.

    Layout: root table at 20 (vtable at 12) pointing to the vector at 28 of ``n`` offsets, then
    the shared 14-byte vtable, then ``n`` 48-byte tables, 8-byte aligned.
    """
    n = len(entries)
    vtable_at = 32 + 4 * n
    first_table = vtable_at + 14 + (-(vtable_at + 14) % 8)
    table_at = first_table + 48 * np.arange(n, dtype=np.int64)
    blob = bytearray(first_table + 48 * n)
    struct.pack_into("<II4sHHH2xiII", blob, 0, len(blob) - 4, 16, b"FTAB", 6, 8, 4, 8, 4, n)
    np.frombuffer(blob, "<u4", count=n, offset=32)[:] = table_at - (32 + 4 * np.arange(n))
    struct.pack_into("<7H", blob, vtable_at, 14, 48, 16, 4, 24, 32, 40)
    tables = np.frombuffer(blob, _DEFINITION, count=n, offset=first_table)
    tables["vtable"] = table_at - vtable_at
    tables["stream"] = 0
    if n:
        offset, size, count, first, last = (
            np.array(column, dtype=np.int64) for column in zip(*entries, strict=True)
        )
        tables["size"], tables["offset"], tables["count"] = size, offset, count
        tables["first"], tables["last"] = first, last
    return bytes(blob)


def _compress(code: int, payload: bytes | np.ndarray) -> bytes | np.ndarray:
    if code == 0:
        return payload
    if code in (1, 2):
        return lz4.frame.compress(
            payload, compression_level=LEVELS[code], block_size=lz4.frame.BLOCKSIZE_MAX64KB, block_linked=True
        )
    return zstandard.ZstdCompressor(level=LEVELS[code]).compress(payload)


def _parallel(function: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """``function(item)`` for each item, in order, computed on all cores as the results are used.

    lz4, zstandard, file reads and large numpy copies release the GIL, so packets compress,
    decompress and copy in parallel while the caller writes or gathers the earlier ones.
    """
    if len(items) < 2 or _WORKERS == 1:
        return map(function, items)
    return _pool().map(function, items)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_WORKERS, thread_name_prefix="aedat4")


# ---------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Packet:
    """One packet of the file: payload position and size, stream, and (from the table) contents."""

    offset: int
    size: int
    stream: int
    count: int | None = None
    first: int | None = None
    last: int | None = None


@dataclass(frozen=True)
class FileInfo:
    """What the header and packet index of an AEDAT 4.0 file say.

    ``streams`` maps stream id to ``(type identifier, (sizeX, sizeY) or None)``; ``event_stream``
    is the lowest event stream id; ``shape``, ``num_steps``, ``dt_us`` and ``t0_us`` come from
    eventcode's attributes when present; ``packets`` lists every packet in file order.
    """

    path: Path
    compression: str
    streams: dict[int, tuple[str, tuple[int, int] | None]]
    event_stream: int | None
    shape: tuple[int, ...] | None
    num_steps: int | None
    dt_us: int | None
    t0_us: int
    has_table: bool
    packets: list[Packet] = field(repr=False)

    @property
    def sensor_size(self) -> tuple[int, int, int] | None:
        """``(sizeX, sizeY, 2)`` of the event stream (channels side by side), or None without one."""
        if self.event_stream is None:
            return None
        width, height = self.streams[self.event_stream][1]
        return (width, height, 2)


def info(path: str | os.PathLike[str]) -> FileInfo:
    """Parse the header and packet index of an AEDAT 4.0 file, without decoding events.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat4"
    >>> aedat4.write(path, Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(2, 1)))
    >>> meta = aedat4.info(path)
    >>> meta.compression, meta.sensor_size, sum(p.count for p in meta.packets)
    ('LZ4', (2, 1, 2), 2)
    """
    with open(path, "rb") as file:
        return _index(Path(path), file.fileno())


def read(
    path: str | os.PathLike[str],
    t_start: int | None = None,
    t_end: int | None = None,
    *,
    stream: int | None = None,
    sort: bool = False,
) -> Events:
    """Read the events of an AEDAT 4.0 file (all of them, or ``t_start <= t < t_end``).

    Parameters
    ----------
    path : path
        The file.
    t_start, t_end : int, optional
        Half-open time window in the time unit of the result (steps for files eventcode wrote
        from step-time events, else microseconds). With the file's packet table only the
        packets overlapping the window are read and decoded.
    stream : int, optional
        Event stream id; default the lowest.
    sort : bool
        Sort events whose time goes backwards (stably) instead of raising.

    Returns
    -------
    Events
        One sample in microseconds with the stream's sensor size, or in steps and the original
        sample shape for files written by eventcode from step-time events.

    Raises
    ------
    FileFormatError
        Not an AEDAT 4.0 file, truncated or corrupt (the message names the byte offset), no event
        stream, events outside the declared sensor, or time going backwards (without ``sort``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat4"
    >>> aedat4.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(3, 1)))
    >>> aedat4.read(path, t_start=2).t.tolist()
    [5, 9]
    """
    with open(path, "rb") as file:
        meta = _index(Path(path), file.fileno())
        chosen, window = _select(meta, stream, t_start, t_end)
        records = _concatenate(_decode(file.fileno(), meta, chosen), meta, chosen)
    return _events(records, meta, chosen, window, sort)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    t_start: int | None = None,
    t_end: int | None = None,
    *,
    stream: int | None = None,
) -> Iterator[Events]:
    """Read an AEDAT 4.0 file as consecutive chunks of about ``chunk_events`` events each.

    Memory stays near one chunk whatever the file size. Chunks hold whole packets, so their
    sizes vary around ``chunk_events``; their times follow on. Arguments as for :func:`read`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat4"
    >>> events = Events(t=list(range(100)), x=[0] * 100, y=[0] * 100, p=[1] * 100, sensor_size=(1, 1))
    >>> aedat4.write(path, events)
    >>> sum(len(chunk) for chunk in aedat4.read_chunks(path, chunk_events=10))
    100
    """
    with open(path, "rb") as file:
        meta = _index(Path(path), file.fileno())
        chosen, window = _select(meta, stream, t_start, t_end)
        last = None
        for group in _groups(chosen, chunk_events):
            records = _concatenate(_decode(file.fileno(), meta, group), meta, group)
            if last is not None and len(records["t"]) and records["t"][0] < last:
                raise FileFormatError(
                    f"{meta.path}: byte {group[0].offset}: time goes back from {last} to "
                    f"{int(records['t'][0])} us between packets"
                )
            last = records["t"][-1] if len(records["t"]) else last
            yield _events(records, meta, group, window, sort=False)


def _index(path: Path, descriptor: int) -> FileInfo:
    """Header, stream description and packet list (from the table when there is one)."""
    end = os.fstat(descriptor).st_size
    head = os.pread(descriptor, len(MAGIC) + 4, 0)
    if head[: len(MAGIC)] != MAGIC:
        raise FileFormatError(
            f"{path}: byte 0: not an AEDAT 4.0 file (starts {head[:14]!r}, expected {MAGIC!r})"
        )
    if len(head) < len(MAGIC) + 4:
        raise FileFormatError(f"{path}: byte {len(MAGIC)}: file ends inside the header size")
    header_size = struct.unpack_from("<I", head, len(MAGIC))[0]
    data_start = len(MAGIC) + 4 + header_size
    if data_start > end:
        raise FileFormatError(
            f"{path}: byte {len(MAGIC)}: header of {header_size} bytes runs past the end ({end})"
        )
    header = _buffer(path, os.pread(descriptor, header_size + 4, len(MAGIC)), b"IOHE", len(MAGIC))
    code = header.scalar(header.root, 0, "<i", 0)
    if code not in NAMES:
        raise FileFormatError(f"{path}: byte {len(MAGIC)}: unknown compression type {code} (0-4 are defined)")
    table_at = header.scalar(header.root, 1, "<q", -1)
    if table_at != -1 and not data_start <= table_at <= end:
        raise FileFormatError(
            f"{path}: byte {len(MAGIC)}: data table position {table_at} is outside the file"
        )
    streams, extra = _streams(path, header.string(header.root, 2))
    events = min((k for k, (kind, _) in streams.items() if kind == "EVTS"), default=None)
    if table_at != -1:
        packets = _table(path, descriptor, code, table_at, end, data_start, streams)
    else:
        packets = _scan(path, descriptor, data_start, end, streams)
    shape = None
    if events is not None:
        width, height = streams[events][1]
        shape = extra.get("shape") or (height, width)
    return FileInfo(
        path,
        NAMES[code],
        streams,
        events,
        shape,
        extra.get("num_steps"),
        extra.get("dt_us"),
        extra.get("t0_us", 0),
        table_at != -1,
        packets,
    )


def _buffer(path: Path, data: bytes | memoryview, identifier: bytes, where: int) -> Buffer:
    try:
        return Buffer(data, identifier, where)
    except FileFormatError as err:
        raise FileFormatError(f"{path}: {err}") from None


def _streams(path: Path, text: str) -> tuple[dict[int, tuple[str, tuple[int, int] | None]], dict]:
    """Streams of the infoNode XML, and eventcode's own attributes of the event stream."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as err:
        raise FileFormatError(f"{path}: the stream description (infoNode) is not valid XML: {err}") from None
    outputs = root.find("./node[@name='outInfo']")
    if root.tag != "dv" or outputs is None:
        raise FileFormatError(f"{path}: the stream description has no <dv><node name='outInfo'>")
    streams, extra = {}, {}
    for node in outputs.findall("node"):
        name = node.get("name", "")
        if not name.isdigit():
            raise FileFormatError(f"{path}: stream node {name!r} under outInfo is not a numeric stream id")
        attrs = {a.get("key"): (a.text or "") for a in node.findall("attr")}
        info = {a.get("key"): (a.text or "") for a in node.findall("./node[@name='info']/attr")}
        kind = attrs.get("typeIdentifier", "")
        size = None
        if kind in ("EVTS", "FRME"):
            try:
                size = (int(info["sizeX"]), int(info["sizeY"]))
                address.check_shape((size[1], size[0]))
            except (KeyError, ValueError) as err:
                raise FileFormatError(f"{path}: stream {name} has no valid sizeX/sizeY ({err})") from None
        streams[int(name)] = (kind, size)
        if kind == "EVTS" and not extra:
            extra = _eventcode_attributes(path, info, size)
    if not streams:
        raise FileFormatError(f"{path}: the stream description declares no streams")
    return streams, extra


def _eventcode_attributes(path: Path, info: dict[str, str], size: tuple[int, int]) -> dict:
    """Sample shape and step time recorded by eventcode's writer, checked against the sensor."""
    extra: dict = {}
    try:
        if "eventcodeShape" in info:
            shape = address.check_shape(int(v) for v in info["eventcodeShape"].split(",") if v)
            planes = address.channels(shape)
            if (address.width(shape) * planes, address.height(shape)) != size:
                raise ValueError(f"shape {shape} does not tile the {size[0]}x{size[1]} sensor")
            extra["shape"] = shape
        if "eventcodeDtUs" in info:
            extra["dt_us"] = int(info["eventcodeDtUs"])
            extra["num_steps"] = int(info["eventcodeNumSteps"])
            extra["t0_us"] = int(info.get("eventcodeT0Us", "0"))
            if extra["dt_us"] < 1 or extra["num_steps"] < 0:
                raise ValueError("dt_us must be positive and num_steps non-negative")
    except (KeyError, ValueError) as err:
        raise FileFormatError(
            f"{path}: eventcode's attributes of the event stream are inconsistent: {err}"
        ) from None
    return extra


def _scan(path: Path, descriptor: int, start: int, end: int, streams: dict) -> list[Packet]:
    """The packet list of a file without a table, from the packet headers alone."""
    packets, position = [], start
    while position < end:
        if position + 8 > end:
            raise FileFormatError(f"{path}: byte {position}: file ends inside a packet header (truncated)")
        stream, size = struct.unpack("<ii", os.pread(descriptor, 8, position))
        packets.append(_packet(path, position, stream, size, end, streams))
        position += 8 + size
    return packets


def _packet(
    path: Path, position: int, stream: int, size: int, end: int, streams: dict, **known: int
) -> Packet:
    if stream not in streams:
        raise FileFormatError(f"{path}: byte {position}: packet of undeclared stream {stream}")
    if size < 0 or position + 8 + size > end:
        raise FileFormatError(
            f"{path}: byte {position}: packet of {size} bytes runs past the end of the data at byte {end} "
            "(truncated or corrupt)"
        )
    return Packet(position + 8, size, stream, **known)


def _table(
    path: Path, descriptor: int, code: int, position: int, end: int, start: int, streams: dict
) -> list[Packet]:
    """The packet list from the FileDataTable (parsed with numpy when its entries share a vtable).

    Entries must list packets in file order, within the data; each packet header is checked
    against its entry when the packet is read.
    """
    blob = _decompress(path, code, os.pread(descriptor, end - position, position), position)
    table = _buffer(path, blob, b"FTAB", position)
    vector, n = table.vector(table.root, 0, 4)
    data = np.frombuffer(table.data, np.uint8)
    tables = vector + 4 * np.arange(n, dtype=np.int64) + np.frombuffer(table.data, "<u4", n, vector)
    if n and tables.max() + 4 > len(data):
        table.fail(vector, "a data table entry points past the table")
    vtables = tables - _gather(data, tables, "<i4")
    if n and (vtables == vtables[0]).all():
        _, fields = table.table(int(tables[0]))
        table_size = table.read("<H", int(vtables[0]) + 2)
        if tables.max() + table_size > len(data):
            table.fail(vector, "a data table entry runs past the table")

        def field(slot: int, dtype: str, shift: int = 0) -> np.ndarray:
            at = fields[slot] if slot < len(fields) else 0
            return _gather(data, tables + at + shift, dtype).astype(np.int64) if at else np.zeros(n, np.int64)

        columns = [field(0, "<i8"), field(1, "<i4"), field(1, "<i4", 4), field(2, "<i8"), field(3, "<i8")]
        columns.append(field(4, "<i8"))
    else:  # entries with their own vtables: one at a time
        entries = table.tables(table.root, 0)
        columns = [
            np.array([table.scalar(e, slot, fmt, 0) for e in entries], dtype=np.int64)
            for slot, fmt in ((0, "<q"), (1, "<i"), (1, "<i"), (2, "<q"), (3, "<q"), (4, "<q"))
        ]
        columns[2] = np.array(
            [table.read("<i", table.field(e, 1) + 4) if table.field(e, 1) else 0 for e in entries]
        )
    offset, stream, size, count, first_t, last_t = columns
    previous = np.concatenate([[start], offset[:-1] + size[:-1]])
    bad = (offset - 8 < previous) | (size < 0) | (offset + size > position) | ~np.isin(stream, list(streams))
    if bad.any():
        i = int(np.argmax(bad))
        raise FileFormatError(
            f"{path}: byte {position}: data table entry {i} lists a packet of stream {int(stream[i])}, "
            f"{int(size[i])} bytes at byte {int(offset[i]) - 8}, which is not a packet of this file"
        )
    return [
        Packet(*entry)
        for entry in zip(
            offset.tolist(),
            size.tolist(),
            stream.tolist(),
            count.tolist(),
            first_t.tolist(),
            last_t.tolist(),
            strict=True,
        )
    ]


def _gather(data: np.ndarray, positions: np.ndarray, dtype: str) -> np.ndarray:
    """The little-endian scalars of ``dtype`` at byte ``positions`` of ``data`` (checked in range)."""
    size = np.dtype(dtype).itemsize
    return data[positions[:, None] + np.arange(size)].view(dtype).ravel()


def _select(
    meta: FileInfo, stream: int | None, t_start: int | None, t_end: int | None
) -> tuple[list[Packet], tuple[int | None, int | None]]:
    """The packets to decode, and the time window in microseconds."""
    chosen = meta.event_stream if stream is None else stream
    if chosen is None or meta.streams.get(chosen, ("",))[0] != "EVTS":
        kinds = {k: kind for k, (kind, _) in meta.streams.items()}
        raise FileFormatError(
            f"{meta.path}: no event stream {'' if stream is None else stream} (streams: {kinds})"
        )
    if meta.dt_us is not None:  # windows are in steps for step-time files
        t_start, t_end = (None if t is None else meta.t0_us + t * meta.dt_us for t in (t_start, t_end))
    packets = [p for p in meta.packets if p.stream == chosen]
    if meta.has_table:
        packets = [
            p
            for p in packets
            if (t_start is None or p.last >= t_start) and (t_end is None or p.first < t_end)
        ]
    return packets, (t_start, t_end)


def _decode(descriptor: int, meta: FileInfo, packets: list[Packet]) -> list[np.ndarray]:
    """Each packet's events as 16-byte structs, read and decompressed on all cores.

    Small packets are handled a group at a time, so that thread hand-offs stay rare.
    """
    code = CODES_BY_NAME[meta.compression]

    def one(packet: Packet) -> np.ndarray:
        blob = os.pread(descriptor, packet.size + 8, packet.offset - 8)
        if len(blob) != packet.size + 8 or struct.unpack_from("<ii", blob) != (packet.stream, packet.size):
            raise FileFormatError(
                f"{meta.path}: byte {packet.offset - 8}: no packet of stream {packet.stream} and "
                f"{packet.size} bytes here, as the data table says"
            )
        payload = _decompress(meta.path, code, memoryview(blob)[8:], packet.offset)
        start, count = _event_vector(meta.path, payload, packet.offset)
        if packet.count is not None and count != packet.count:
            raise FileFormatError(
                f"{meta.path}: byte {packet.offset}: packet holds {count} events, "
                f"the data table says {packet.count}"
            )
        return np.frombuffer(payload, EVENT, count=count, offset=start)

    groups = _parallel(lambda group: [one(packet) for packet in group], _groups(packets))
    return [part for group in groups for part in group]


_CANONICAL = struct.Struct("<II4s3H2xiII")
"""The EventPacket layout eventcode writes (and most writers produce): a fast path for reading."""


def _event_vector(path: Path, payload: bytes | memoryview, where: int) -> tuple[int, int]:
    """``(start, count)`` of the event structs in an EVTS EventPacket payload."""
    if len(payload) >= 32:
        size, root, identifier, vsize, tsize, slot, soffset, offset, count = _CANONICAL.unpack_from(payload)
        canonical = (root, identifier, vsize, tsize, slot, soffset, offset) == (16, b"EVTS", 6, 8, 4, 8, 4)
        if canonical and size + 4 <= len(payload) and 32 + 16 * count <= size + 4:
            return 32, count
    buffer = _buffer(path, payload, b"EVTS", where)
    return buffer.vector(buffer.root, 0, 16)


def _groups(packets: list[Packet], events: int = 1 << 16) -> list[list[Packet]]:
    """Consecutive packets in groups of about ``events`` events (the last may hold fewer)."""
    sizes = [packet.count if packet.count is not None else packet.size // 16 for packet in packets]
    return [packets[a:b] for a, b in _runs(sizes, events)]


def _runs(sizes: Sequence[int], limit: int) -> list[tuple[int, int]]:
    """Index ranges of consecutive items, each closed once its sizes reach ``limit`` (the last may not)."""
    runs, first, held = [], 0, 0
    for i, size in enumerate(sizes):
        held += size
        if held >= limit:
            runs.append((first, i + 1))
            first, held = i + 1, 0
    if first < len(sizes):
        runs.append((first, len(sizes)))
    return runs


CODES_BY_NAME = {name: code for code, name in NAMES.items()}


def _concatenate(parts: list[np.ndarray], meta: FileInfo, packets: list[Packet]) -> dict[str, np.ndarray]:
    """Columns t, x, y, p of all packets, filled and checked a group of packets at a time on all cores.

    Addresses outside the declared sensor raise; ``columns["ordered"]`` says whether time never
    goes backwards (checked within each packet here, across packets by the caller).
    """
    bounds = np.cumsum([0] + [len(part) for part in parts])
    columns = {
        "t": np.empty(bounds[-1], np.int64),
        "x": np.empty(bounds[-1], np.int16),
        "y": np.empty(bounds[-1], np.int16),
        "p": np.empty(bounds[-1], bool),
    }
    width, height = meta.streams[packets[0].stream][1] if packets else (1, 1)
    ranges = _runs([len(part) for part in parts], 1 << 16)  # about 65,536 events: few thread hand-offs

    def fill(group: tuple[int, int]) -> bool:
        for i in range(*group):
            part, lo, hi = parts[i], bounds[i], bounds[i + 1]
            for name in "txy":
                columns[name][lo:hi] = part[name]
            np.not_equal(part["p"], 0, out=columns["p"][lo:hi])
        lo, hi = bounds[group[0]], bounds[group[1]]
        for name, extent in (("x", width), ("y", height)):
            column = columns[name][lo:hi]
            if hi > lo and (column.min() < 0 or column.max() >= extent):
                j = lo + int(np.argmax((column < 0) | (column >= extent)))
                packet = packets[int(np.searchsorted(bounds, j, side="right")) - 1]
                raise FileFormatError(
                    f"{meta.path}: byte {packet.offset}: event {j} has {name} = {int(columns[name][j])}, "
                    f"outside the declared {width}x{height} sensor"
                )
        t = columns["t"][lo:hi]
        return hi - lo < 2 or not bool((t[1:] < t[:-1]).any())

    ordered = all(list(_parallel(fill, ranges)))  # every group checked, even after one fails
    columns["ordered"] = ordered and _joins_in_order(columns["t"], bounds)
    columns["bounds"] = bounds
    return columns


def _joins_in_order(t: np.ndarray, bounds: np.ndarray) -> bool:
    """Whether each non-empty packet starts no earlier than the previous non-empty one ends."""
    starts = bounds[:-1][np.diff(bounds) > 0]
    return bool((t[starts[1:]] >= t[starts[1:] - 1]).all())


def _events(
    columns: dict[str, np.ndarray],
    meta: FileInfo,
    packets: list[Packet],
    window: tuple[int | None, int | None],
    sort: bool,
) -> Events:
    t = columns["t"]
    if not columns["ordered"]:
        if not sort:
            i = int(np.flatnonzero(t[1:] < t[:-1])[0]) + 1
            packet = packets[int(np.searchsorted(columns["bounds"], i, side="right")) - 1]
            raise FileFormatError(
                f"{meta.path}: byte {packet.offset}: event {i} at t = {int(t[i])} us comes before "
                f"the previous one at {int(t[i - 1])} us; pass sort=True to sort the events"
            )
        order = np.argsort(t, kind="stable")
        columns = {k: columns[k][order] for k in "txyp"}
        t = columns["t"]
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    tensors = {k: torch.from_numpy(columns[k][lo:hi]) for k in "txyp"}
    shape = meta.shape
    c = None
    if address.channels(shape) > 1:
        width = address.width(shape)
        c = torch.div(tensors["x"], width, rounding_mode="floor")
        tensors["x"] = tensors["x"] - c * width
    offsets = torch.tensor([0, hi - lo], dtype=torch.int64)
    events = Events._trusted(
        tensors["t"], tensors["x"], tensors["y"], tensors["p"], c, offsets, shape, None, "us"
    )
    if meta.dt_us is None:
        return events
    try:
        return events.to_steps(meta.dt_us, meta.t0_us, meta.num_steps)
    except TimeOrderError as err:
        raise FileFormatError(f"{meta.path}: events do not fit the recorded step time: {err}") from None


def _decompress(path: Path, code: int, data: bytes, where: int) -> bytes:
    """Decompress one packet (or the table), refusing sizes no real packet reaches.

    A frame may expand at most 256 times (LZ4's own bound) or 4096 times (zstd, far beyond
    event data), and never past :data:`MAX_PAYLOAD`: a corrupt size field cannot make the
    reader allocate gigabytes.
    """
    if code == 0:
        return data
    ratio = 256 if code in (1, 2) else 4096
    limit = min(MAX_PAYLOAD, max(1 << 20, ratio * len(data)))
    try:
        if code in (1, 2):  # LZ4 cannot expand beyond 255x: only a declared size needs checking
            declared = lz4.frame.get_frame_info(data)["content_size"]
            if declared > limit:
                raise FileFormatError(f"the LZ4 frame claims {declared} bytes from {len(data)}")
            return lz4.frame.decompress(data)
        declared = zstandard.frame_content_size(data)
        if declared > limit:
            raise FileFormatError(f"the zstd frame claims {declared} bytes from {len(data)}")
        if declared >= 0:
            return _ZSTD.decompressor.decompress(data, max_output_size=declared)
        reader = _ZSTD.decompressor.stream_reader(data)
        out = reader.read(limit + 1)
        if len(out) > limit:
            raise FileFormatError(f"the zstd frame expands past {limit} bytes")
        return out
    except FileFormatError as err:
        raise FileFormatError(f"{path}: byte {where}: {err}") from None
    except (RuntimeError, zstandard.ZstdError, ValueError, KeyError) as err:
        raise FileFormatError(f"{path}: byte {where}: corrupt {NAMES[code]} data ({err})") from None


class _ThreadZstd(threading.local):
    """One zstd decompression context per thread (contexts are not thread-safe)."""

    def __init__(self) -> None:
        self.decompressor = zstandard.ZstdDecompressor()


_ZSTD = _ThreadZstd()
