"""AEDAT 4.0: the event file format of iniVation's DV, dv-processing, faery, ``aedat`` and Tonic.

A file is a magic line, an ``IOHeader`` FlatBuffer (compression, an XML description of the
streams, the position of a packet index), then packets of ``(stream id, size, payload)``, each
payload one FlatBuffer compressed on its own, and at the end a ``FileDataTable`` listing every
packet with its record count and time range, so that readers can seek by time. A DV recording
holds several streams: events (``EVTS``, 16-byte structs ``(t: int64 us, x: int16, y: int16,
on: bool)``), IMU samples (``IMUS``), triggers (``TRIG``) and frames (``FRME``).

:func:`write` and :class:`Writer` produce files of one event stream that every peer reads
(compressions ``"none"``, ``"lz4"``, ``"lz4_high"``, ``"zstd"``, ``"zstd_high"`` in any of the
spellings of :data:`COMPRESSIONS`, at dv-processing's levels: LZ4 fast, LZ4 HC 9, zstd 3 and 22),
packets of at most 65,536 events, compressed on all cores. :func:`read`, :func:`read_chunks` and
the numpy-only :func:`read_columns` decode an event stream with numpy, lz4 and zstandard, use the
packet table to read only the packets of a time window, and check every offset, size and field,
so that a truncated or corrupt file raises :class:`~eventcode.errors.FileFormatError` naming the
byte offset; with ``salvage=True`` they keep the complete packets before the damage instead and
warn (:class:`~eventcode.errors.DataLossWarning`) of the bytes left out. :func:`info` describes
every stream; :func:`transcode` copies a file with all its streams, in a new compression or not.

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
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, NamedTuple, TypeVar
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import lz4.frame
import numpy as np
import zstandard

from eventcode import address, checks
from eventcode.errors import DataLossWarning, ExportError, FileFormatError, PolarityError, TimeOrderError
from exporters.atomic import AtomicWriter, atomic_path
from exporters.batches import per_sample
from exporters.compression import canonical
from exporters.flatbuffers import Buffer
from exporters.options import step_us

if TYPE_CHECKING:
    from eventcode import Events

NAME = "aedat4"
DESCRIPTION = "AEDAT 4.0 (iniVation DV, dv-processing, faery, aedat, Tonic)"
MAGIC = b"#!AER-DAT4.0\r\n"
BATCHED = False
SUFFIXES = (".aedat4",)
Compression = str | None
"""A compression name in any spelling of :data:`COMPRESSIONS`, or None for none."""

COMPRESSIONS = {
    "none": "none",
    "lz4": "lz4",
    "lz4_high": "lz4_high",
    "zstd": "zstd",
    "zstd_high": "zstd_high",
    "zstd_3": "zstd",
    "zstd_22": "zstd_high",
}
"""Every accepted spelling of a compression (any case, ``-`` or ``_``) -> its canonical name:
dv-processing's ``NONE``, ``LZ4``, ``LZ4_HIGH``, ``ZSTD``, ``ZSTD_HIGH`` work, ``zstd-3`` and
``zstd-22`` name zstd's levels, and None means ``"none"``."""
CODES = {"none": 0, "lz4": 1, "lz4_high": 2, "zstd": 3, "zstd_high": 4}
"""IOHeader ``CompressionType`` of each canonical compression name."""
DV_NAMES = {0: "NONE", 1: "LZ4", 2: "LZ4_HIGH", 3: "ZSTD", 4: "ZSTD_HIGH"}
"""dv-processing's name of each ``CompressionType``, as stream descriptions record it."""
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
_NAME_OF_CODE = {code: name for name, code in CODES.items()}
_SALVAGE = "pass salvage=True to keep the complete packets before it"
T = TypeVar("T")
R = TypeVar("R")


def _code(compression: Compression) -> int:
    """The ``CompressionType`` of a compression name in any accepted spelling."""
    return CODES[canonical(compression, COMPRESSIONS, "AEDAT 4.0")]


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
    compression : {"lz4", "lz4_high", "zstd", "zstd_high", "none", None}
        Packet compression, at dv-processing's levels for each name; any case and the other
        spellings of :data:`COMPRESSIONS` (``"LZ4_HIGH"``, ``"zstd-22"``...) work too.
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
    >>> aedat4.write(folder / "a.aedat4", events, compression="ZSTD")
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
            polarities=sample.polarities,
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
    polarities : {2, 1, 0}, optional
        The sensor's kinds of event (:attr:`eventcode.Events.polarities`); default the ``P`` of
        ``sensor_size``, else 2. Recorded in the stream description when not 2, restored on reading.

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
        polarities: int | None = None,
    ) -> None:
        code = _code(compression)
        super().__init__(
            path,
            address.resolve(shape, sensor_size),
            overwrite,
            address.resolve_polarities(polarities, sensor_size),
        )
        width, height = address.width(self._shape), address.height(self._shape)
        planes = address.channels(self._shape)
        if planes > 1 and channels != "tile":
            raise ExportError(
                f"samples of shape {self._shape} have {planes} channels, which AEDAT 4 cannot hold; pass "
                "channels='tile' to put channel c at x + c * W (reading restores the channels)"
            )
        if address.wide(width * planes) or address.wide(height):
            raise ExportError(
                f"samples of shape {self._shape} need a {width * planes}x{height} sensor, beyond the int16 "
                f"x and y of AEDAT 4 (at most {address.INT16_EXTENT}x{address.INT16_EXTENT}); write HDF5, "
                "whose address columns have any width"
            )
        dt_us = step_us(dt_us)
        if dt_us is not None and num_steps is None:
            raise ExportError("a step-time stream needs num_steps with dt_us, to read back as steps")
        self._code = code
        self._size = (width * planes, height)
        self._steps = (num_steps, int(dt_us), int(t0_us)) if dt_us is not None else None
        self._header = _io_header(
            self._code,
            _info_node(self._code, self._size, self._shape, self._steps, source, self._polarities),
        )
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._pending_count = 0
        self._last_t: int | None = None
        self._table: list[tuple[int, int, int, int, int, int]] = []

    def _open(self, temporary: Path) -> BinaryIO:
        file = open(temporary, "wb")  # noqa: SIM115 - closed by AtomicWriter.__exit__
        file.write(MAGIC + self._header)
        return file

    def _finish(self) -> None:
        self._flush(final=True)
        _append_table(self._file, self._code, self._table)

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
                    (self._file.tell(), 0, len(payload), b - a, int(columns[0][a]), int(columns[0][b - 1]))
                )
                self._file.write(payload)
        rest = tuple(column[cut:] for column in columns)
        self._pending = [rest] if len(rest[0]) else []
        self._pending_count = len(rest[0])


def _info_node(
    code: int,
    size: tuple[int, int],
    shape: tuple[int, ...],
    steps: tuple | None,
    source: str,
    polarities: int,
) -> str:
    """The XML stream description: one event stream, id 0, with the attributes DV writes."""
    extra = {"eventcodeShape": ("string", ",".join(map(str, shape)))}
    if polarities != 2:
        extra["eventcodePolarities"] = ("int", polarities)
    if steps is not None:
        extra |= {"eventcodeDtUs": ("long", steps[1]), "eventcodeNumSteps": ("long", steps[0])}
        extra["eventcodeT0Us"] = ("long", steps[2])
    info = {**extra, "sizeX": ("int", size[0]), "sizeY": ("int", size[1]), "source": ("string", source)}
    stream = {
        "compression": ("string", DV_NAMES[code]),
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


def _data_table(entries: list[tuple[int, int, int, int, int, int]]) -> bytes:
    """Size-prefixed ``FTAB`` FileDataTable: one FileDataDefinition per packet, sharing one vtable.

    ``entries`` are ``(payload offset, stream, size, records, first t, last t)``. Layout: root
    table at 20 (vtable at 12) pointing to the vector at 28 of ``n`` offsets, then the shared
    14-byte vtable, then ``n`` 48-byte tables, 8-byte aligned.
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
    if n:
        offset, stream, size, count, first, last = (
            np.array(column, dtype=np.int64) for column in zip(*entries, strict=True)
        )
        tables["offset"], tables["stream"], tables["size"] = offset, stream, size
        tables["count"], tables["first"], tables["last"] = count, first, last
    return bytes(blob)


def _append_table(file: BinaryIO, code: int, entries: list[tuple[int, int, int, int, int, int]]) -> None:
    """Write the packet table at the end of ``file`` and point the header's dataTablePosition to it."""
    position = file.tell()
    file.write(_compress(code, _data_table(entries)))
    file.seek(len(MAGIC) + _TABLE_POSITION_AT)
    file.write(struct.pack("<q", position))


def _compress(code: int, payload: bytes | memoryview | np.ndarray) -> bytes | memoryview | np.ndarray:
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


# ---------------------------------------------------------------------- transcoding
def transcode(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    compression: Compression = None,
    *,
    overwrite: bool = True,
    salvage: bool = False,
    progress: Callable[[int], object] | None = None,
) -> None:
    """Copy an AEDAT 4.0 file to a new one with every stream: events, IMU, triggers, frames.

    Packets pass through in file order: byte for byte when the compression stays, else
    decompressed and compressed again on all cores. The stream description is kept, with its
    ``compression`` attributes updated, and a new packet table is written. Packets are not
    decoded: a copied packet is checked no further than its header (salvage therefore stops at
    a corrupt payload only where the payload is decompressed).

    Parameters
    ----------
    source, target : path
        The AEDAT 4.0 file to copy, and the new file (written atomically).
    compression : str, optional
        Compression of the new file, in any spelling of :data:`COMPRESSIONS` (``"none"`` for
        none); None keeps the source's.
    overwrite : bool
        Replace an existing ``target``; False raises :class:`ExportError` instead.
    salvage : bool
        Copy the complete packets before the first incomplete or corrupt one of a damaged
        source, with a :class:`~eventcode.errors.DataLossWarning`, instead of raising.
    progress : callable, optional
        Called after each batch of packets with the number of events copied so far (e.g.
        ``lambda done: bar.update(done - bar.n)`` for a tqdm bar of ``info(source)`` events).

    Raises
    ------
    FileFormatError
        ``source`` is not an AEDAT 4.0 file, or is truncated or corrupt (without ``salvage``).
    ExportError
        An unknown compression, or an existing ``target`` without ``overwrite``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> aedat4.write(folder / "a.aedat4", Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(2, 1)))
    >>> aedat4.transcode(folder / "a.aedat4", folder / "b.aedat4", compression="zstd-22")
    >>> aedat4.info(folder / "b.aedat4").compression, aedat4.read(folder / "b.aedat4").t.tolist()
    ('zstd_high', [1, 2])
    """
    with open(source, "rb") as file:
        descriptor = file.fileno()
        layout = _layout(Path(source), descriptor, salvage)
        code = layout.code if compression is None else _code(compression)

        def copy(packet: Packet) -> tuple[bytes | memoryview | np.ndarray, tuple[int | None, ...]]:
            """The packet's new payload, and its records and time range."""
            stored = _stored(descriptor, layout, packet)
            if code == layout.code and layout.has_table:
                return stored, (packet.count, packet.first, packet.last)
            payload = _decompress(layout.path, layout.code, stored, packet.offset)
            contents = (
                (packet.count, packet.first, packet.last)
                if layout.has_table
                else _records(layout, packet, payload)
            )
            return (stored if code == layout.code else _compress(code, payload)), contents

        damage, done, entries = layout.damage, 0, []
        with atomic_path(target, overwrite) as temporary, open(temporary, "wb") as out:
            out.write(MAGIC + _io_header(code, _described(layout.description, code)))
            for a, b in _runs([packet.size for packet in layout.packets], 1 << 25):  # 32 MiB at a time
                results, batch, damaged = _salvaged(
                    functools.partial(_each_packet, copy), layout.packets[a:b], salvage
                )
                for packet, (payload, contents) in zip(batch, results, strict=True):
                    out.write(struct.pack("<ii", packet.stream, len(payload)))
                    entries.append((out.tell(), packet.stream, len(payload), *contents))
                    out.write(payload)
                    done += contents[0] if layout.declared[packet.stream].type == "EVTS" else 0
                if progress is not None:
                    progress(done)
                if damaged is not None:
                    damage = damaged
                    break
            if all(None not in entry for entry in entries):  # else no table: readers scan the packets
                _append_table(out, code, entries)
    if damage is not None:
        _warn(layout, damage)


def _described(description: str, code: int) -> str:
    """The stream description XML with every stream's ``compression`` attribute naming ``code``."""
    root = ElementTree.fromstring(description)
    for attr in root.iterfind("./node[@name='outInfo']/node/attr[@key='compression']"):
        attr.text = DV_NAMES[code]
    return ElementTree.tostring(root, encoding="unicode")


def _records(
    layout: _Layout, packet: Packet, payload: bytes | memoryview
) -> tuple[int | None, int | None, int | None]:
    """``(records, first t, last t)`` of a packet, read from its (decompressed) FlatBuffer
    ``payload`` without decoding it.

    Events are a vector of structs, IMU samples and triggers a vector of tables, a frame packet
    one table; each record has its timestamp first (field 0). Other types give
    ``(None, None, None)``, an empty packet ``(0, None, None)``.
    """
    path, kind, where = layout.path, layout.declared[packet.stream].type, packet.offset
    if kind == "FRME":
        buffer = _buffer(path, payload, b"FRME", where)
        t = buffer.scalar(buffer.root, 0, "<q", 0)
        return 1, t, t
    if kind == "EVTS":
        start, count = _event_vector(path, payload, where)

        def time(i: int) -> int:
            return struct.unpack_from("<q", payload, start + 16 * i)[0]

    elif kind in ("IMUS", "TRIG"):
        buffer = _buffer(path, payload, kind.encode(), where)
        start, count = buffer.vector(buffer.root, 0, 4)

        def time(i: int) -> int:
            return buffer.scalar(buffer.element(start, i), 0, "<q", 0)

    else:
        return None, None, None
    return (count, time(0), time(count - 1)) if count else (0, None, None)


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
class Stream:
    """One stream of an AEDAT 4.0 file, as :func:`info` describes it.

    Attributes
    ----------
    id : int
        The stream id of its packets.
    type : str
        Type identifier: ``"EVTS"`` (events), ``"IMUS"`` (IMU samples), ``"TRIG"`` (triggers),
        ``"FRME"`` (frames), or another DV type.
    name : str
        DV's output name (``"events"``, ``"imu"``, ``"triggers"``, ``"frames"``); ``""`` if none.
    size : (int, int) or None
        ``(sizeX, sizeY)`` of an event or frame stream, else None.
    packets : int
        Packets of the stream in the file.
    records : int or None
        Its events, IMU samples, triggers or frames: the packet table's counts, else counted in
        each packet's FlatBuffer; None only for another type in a file without a table.
    first, last : int or None
        Timestamps (us) of its first and last records; None without records, or when unknown.
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
    """What the header and packets of an AEDAT 4.0 file say, without decoding the events.

    ``compression`` is the canonical name (``"none"``, ``"lz4"``, ``"lz4_high"``, ``"zstd"``,
    ``"zstd_high"``); ``streams`` maps each stream id to its :class:`Stream`; ``event_stream`` is
    the lowest event stream id (or None); ``shape``, ``num_steps``, ``dt_us`` and ``t0_us`` come
    from eventcode's attributes when present; ``has_table`` says whether the file has a packet
    table; ``packets`` lists every packet in file order, with its records and time range.
    """

    path: Path
    compression: str
    streams: dict[int, Stream]
    event_stream: int | None
    shape: tuple[int, ...] | None
    num_steps: int | None
    dt_us: int | None
    t0_us: int
    has_table: bool
    packets: list[Packet] = field(repr=False)
    polarities: int = 2

    @property
    def sensor_size(self) -> tuple[int, int, int] | None:
        """``(sizeX, sizeY, P)`` of the event stream (channels side by side), or None without one."""
        if self.event_stream is None:
            return None
        width, height = self.streams[self.event_stream].size
        return (width, height, max(self.polarities, 1))


class _Declared(NamedTuple):
    """A stream as the description declares it."""

    type: str
    name: str
    size: tuple[int, int] | None


_Damage = tuple[int, str]
"""Where the usable data of a damaged file ends (a byte offset), and the error message there."""


@dataclass(frozen=True)
class _Layout:
    """What reading needs: the header, the declared streams, the packets and any damage.

    ``data_end`` is where the packets end (the table's position, else the file's end);
    ``damage`` is set when salvage stopped before it.
    """

    path: Path
    code: int
    description: str
    declared: dict[int, _Declared]
    event_stream: int | None
    shape: tuple[int, ...] | None
    num_steps: int | None
    dt_us: int | None
    t0_us: int
    has_table: bool
    packets: list[Packet]
    data_end: int
    damage: _Damage | None
    polarities: int


def info(path: str | os.PathLike[str], *, salvage: bool = False) -> FileInfo:
    """Describe an AEDAT 4.0 file and each of its streams, without decoding events.

    Record counts and time ranges come from the packet table; a file without one has each
    packet decompressed and its FlatBuffer's vector length read.

    Parameters
    ----------
    path : path
        The file.
    salvage : bool
        Describe the complete packets before the first incomplete or corrupt one of a damaged
        file, with a :class:`~eventcode.errors.DataLossWarning`, instead of raising.

    Raises
    ------
    FileFormatError
        Not an AEDAT 4.0 file, or truncated or corrupt (without ``salvage``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat4"
    >>> aedat4.write(path, Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(2, 1)))
    >>> meta = aedat4.info(path)
    >>> meta.compression, meta.sensor_size
    ('lz4', (2, 1, 2))
    >>> meta.streams[0]
    Stream(id=0, type='EVTS', name='events', size=(2, 1), packets=1, records=2, first=1, last=2)
    """
    with open(path, "rb") as file:
        descriptor = file.fileno()
        layout = _layout(Path(path), descriptor, salvage)
        packets, damage = layout.packets, layout.damage
        if not layout.has_table:

            def count(packet: Packet) -> Packet:
                found = _records(layout, packet, _payload(descriptor, layout, packet))
                return replace(packet, count=found[0], first=found[1], last=found[2])

            packets, _, damaged = _salvaged(functools.partial(_each_packet, count), packets, salvage)
            damage = damaged or damage
    if damage is not None:
        _warn(layout, damage)
    return FileInfo(
        layout.path,
        _NAME_OF_CODE[layout.code],
        _summaries(layout.declared, packets),
        layout.event_stream,
        layout.shape,
        layout.num_steps,
        layout.dt_us,
        layout.t0_us,
        layout.has_table,
        packets,
        layout.polarities,
    )


def _summaries(declared: dict[int, _Declared], packets: list[Packet]) -> dict[int, Stream]:
    """Each declared stream with its packets' count, records and time range."""
    members: dict[int, list[Packet]] = {key: [] for key in declared}
    for packet in packets:
        members[packet.stream].append(packet)
    streams = {}
    for key, (kind, name, size) in declared.items():
        counts = [packet.count for packet in members[key]]
        filled = [packet for packet in members[key] if packet.count]
        streams[key] = Stream(
            key,
            kind,
            name,
            size,
            len(counts),
            None if None in counts else sum(counts),
            min((packet.first for packet in filled), default=None),
            max((packet.last for packet in filled), default=None),
        )
    return streams


def read(
    path: str | os.PathLike[str],
    t_start: int | None = None,
    t_end: int | None = None,
    *,
    stream: int | None = None,
    sort: bool = False,
    salvage: bool = False,
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
    salvage : bool
        For a truncated or corrupt file: read the complete packets before the first incomplete
        or corrupt one (scanning the packet headers from the start of the data when the packet
        table is lost) and give a :class:`~eventcode.errors.DataLossWarning` with the bytes left
        out, instead of raising.

    Returns
    -------
    Events
        One sample in microseconds with the stream's sensor size, or in steps and the original
        sample shape for files written by eventcode from step-time events.

    Raises
    ------
    FileFormatError
        Not an AEDAT 4.0 file, truncated or corrupt (the message names the byte offset; without
        ``salvage``), no event stream, events outside the declared sensor, or time going
        backwards (without ``sort``).

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
        layout = _layout(Path(path), file.fileno(), salvage)
        (columns,) = _chunks(file.fileno(), layout, stream, t_start, t_end, None, sort, salvage)
    return _events(columns, layout)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    t_start: int | None = None,
    t_end: int | None = None,
    *,
    stream: int | None = None,
    salvage: bool = False,
) -> Iterator[Events]:
    """Read an AEDAT 4.0 file as consecutive chunks of about ``chunk_events`` events each.

    Memory stays near one chunk whatever the file size. Chunks hold whole packets, so their
    sizes vary around ``chunk_events``; their times follow on. Arguments as for :func:`read`;
    the chunks are those of :func:`read_columns`, as :class:`~eventcode.Events`.

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
        layout = _layout(Path(path), file.fileno(), salvage)
        for columns in _chunks(file.fileno(), layout, stream, t_start, t_end, chunk_events, False, salvage):
            yield _events(columns, layout)


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    t_start: int | None = None,
    t_end: int | None = None,
    *,
    stream: int | None = None,
    salvage: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Read an AEDAT 4.0 event stream as chunks of numpy columns, without torch.

    Each chunk is a dict of ``t`` (int64, in the unit :func:`read` returns: steps for files
    eventcode wrote from step-time events, else microseconds), ``x`` and ``y`` (int16), ``p``
    (bool), and ``c`` (int16) when the sample shape has channels: exactly the columns of the
    chunks of :func:`read_chunks`. Arguments as for :func:`read_chunks`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat4"
    >>> aedat4.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(3, 1)))
    >>> [(chunk["t"].tolist(), chunk["p"].dtype.name) for chunk in aedat4.read_columns(path)]
    [([1, 5, 9], 'bool')]
    """
    with open(path, "rb") as file:
        layout = _layout(Path(path), file.fileno(), salvage)
        yield from _chunks(file.fileno(), layout, stream, t_start, t_end, chunk_events, False, salvage)


def _chunks(
    descriptor: int,
    layout: _Layout,
    stream: int | None,
    t_start: int | None,
    t_end: int | None,
    chunk_events: int | None,
    sort: bool,
    salvage: bool,
) -> Iterator[dict[str, np.ndarray]]:
    """The columns of an event stream, about ``chunk_events`` events at a time (None: one chunk).

    Every reader goes through here. With ``salvage`` the chunks stop before the first damaged
    packet, and a :class:`DataLossWarning` follows the last chunk.
    """
    chosen, window = _select(layout, stream, t_start, t_end)

    def decoded(packets: list[Packet]) -> dict[str, np.ndarray]:
        return _concatenate(_decode(descriptor, layout, packets), layout, packets)

    damage, last = layout.damage, None
    for a, b in _groups(chosen, chunk_events):
        records, group, damaged = _salvaged(decoded, chosen[a:b], salvage)
        t = records["t"]
        if last is not None and len(t) and t[0] < last:
            raise FileFormatError(
                f"{layout.path}: byte {group[0].offset}: time goes back from {last} to "
                f"{int(t[0])} us between packets"
            )
        last = t[-1] if len(t) else last
        yield _finish(records, layout, group, window, sort)
        if damaged is not None:
            damage = damaged
            break
    if damage is not None:
        _warn(layout, damage)


def _layout(path: Path, descriptor: int, salvage: bool) -> _Layout:
    """Header, stream description and packet list (from the table when there is a sound one).

    Without ``salvage``, damage raises :class:`FileFormatError`; with it, the packets stop there.
    """
    end = os.fstat(descriptor).st_size
    head = os.pread(descriptor, len(MAGIC) + 4, 0)
    if head[: len(MAGIC)] != MAGIC:
        raise FileFormatError(
            f"{path}: byte 0: not an AEDAT 4.0 file (starts {head[:14]!r}, expected {MAGIC!r})"
        )
    if len(head) < len(MAGIC) + 4:
        raise FileFormatError(f"{path}: byte {len(MAGIC)}: file ends inside the header size (truncated)")
    header_size = struct.unpack_from("<I", head, len(MAGIC))[0]
    data_start = len(MAGIC) + 4 + header_size
    if data_start > end:
        raise FileFormatError(
            f"{path}: byte {len(MAGIC)}: header of {header_size} bytes runs past the end ({end}; truncated)"
        )
    header = _buffer(path, os.pread(descriptor, header_size + 4, len(MAGIC)), b"IOHE", len(MAGIC))
    code = header.scalar(header.root, 0, "<i", 0)
    if code not in DV_NAMES:
        raise FileFormatError(f"{path}: byte {len(MAGIC)}: unknown compression type {code} (0-4 are defined)")
    table_at = header.scalar(header.root, 1, "<q", -1)
    description = header.string(header.root, 2)
    declared, extra = _streams(path, description)
    found = _packets(path, descriptor, code, table_at, data_start, end, declared)
    packets, has_table, data_end, damage = found
    if damage is not None and not salvage:
        raise FileFormatError(f"{damage[1]}; {_SALVAGE}")
    events = min((key for key, stream in declared.items() if stream.type == "EVTS"), default=None)
    shape = None
    if events is not None:
        width, height = declared[events].size
        shape = extra.get("shape") or (height, width)
    return _Layout(
        path,
        code,
        description,
        declared,
        events,
        shape,
        extra.get("num_steps"),
        extra.get("dt_us"),
        extra.get("t0_us", 0),
        has_table,
        packets,
        data_end,
        damage,
        extra.get("polarities", 2),
    )


def _packets(
    path: Path, descriptor: int, code: int, table_at: int, start: int, end: int, declared: dict
) -> tuple[list[Packet], bool, int, _Damage | None]:
    """The packets, whether they come from the table, where they end, and the damage that ends
    them early, if any.

    From the packet table when the header points to a sound one; else from the packet headers,
    walked from ``start`` to the table (or the file's end) up to the first incomplete or
    impossible one.
    """
    problem = None
    if table_at >= end:
        problem = (
            end,
            f"the file is truncated: it has {end} bytes, and its header places the packet table at "
            f"byte {table_at}: the table and {table_at - end} bytes before it are missing",
        )
    elif table_at != -1 and table_at < start:
        problem = (end, f"the header places the packet table at byte {table_at}, inside the header (corrupt)")
    elif table_at != -1:
        try:
            return _table(path, descriptor, code, table_at, end, start, declared), True, table_at, None
        except FileFormatError as err:
            problem = (table_at, f"the packet table is damaged ({str(err).removeprefix(f'{path}: ')})")
    packets, damage = _scan(descriptor, start, problem[0] if problem else end, declared)
    if damage is None and problem is None:
        return packets, False, end, None
    position, reason = damage or problem
    if damage is not None and problem is not None:
        reason = f"{reason}; {problem[1]}"
    return packets, False, end, (position, f"{path}: byte {position}: {reason}")


def _scan(
    descriptor: int, start: int, end: int, declared: dict
) -> tuple[list[Packet], tuple[int, str] | None]:
    """The packets from their headers, walked from ``start`` to ``end``, up to the first
    incomplete or impossible one, whose position and the reason it is come second."""
    packets, position = [], start
    while position < end:
        if position + 8 > end:
            return packets, (position, f"the data ends inside a packet header ({end - position} of 8 bytes)")
        stream, size = struct.unpack("<ii", os.pread(descriptor, 8, position))
        if stream not in declared:
            return packets, (position, f"packet of undeclared stream {stream} (corrupt)")
        if size < 0 or position + 8 + size > end:
            return packets, (
                position,
                f"packet of {size} bytes runs past the end of the data at byte {end} (truncated or corrupt)",
            )
        packets.append(Packet(position + 8, size, stream))
        position += 8 + size
    return packets, None


def _buffer(path: Path, data: bytes | memoryview, identifier: bytes, where: int) -> Buffer:
    try:
        return Buffer(data, identifier, where)
    except FileFormatError as err:
        raise FileFormatError(f"{path}: {err}") from None


def _streams(path: Path, text: str) -> tuple[dict[int, _Declared], dict]:
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
        streams[int(name)] = _Declared(kind, attrs.get("originalOutputName", ""), size)
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
        if "eventcodePolarities" in info:
            extra["polarities"] = int(info["eventcodePolarities"])
            if extra["polarities"] not in address.POLARITIES:
                raise ValueError(f"eventcodePolarities is {extra['polarities']}, not 2, 1 or 0")
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
    layout: _Layout, stream: int | None, t_start: int | None, t_end: int | None
) -> tuple[list[Packet], tuple[int | None, int | None]]:
    """The packets to decode, and the time window in microseconds."""
    chosen = layout.event_stream if stream is None else stream
    if chosen not in layout.declared or layout.declared[chosen].type != "EVTS":
        kinds = {key: declared.type for key, declared in layout.declared.items()}
        raise FileFormatError(
            f"{layout.path}: no event stream {'' if stream is None else stream} (streams: {kinds})"
        )
    if layout.dt_us is not None:  # windows are in steps for step-time files
        t_start, t_end = (None if t is None else layout.t0_us + t * layout.dt_us for t in (t_start, t_end))
    packets = [p for p in layout.packets if p.stream == chosen]
    if layout.has_table:
        packets = [
            p
            for p in packets
            if (t_start is None or p.last >= t_start) and (t_end is None or p.first < t_end)
        ]
    return packets, (t_start, t_end)


class _PacketError(FileFormatError):
    """A damaged packet, ``index`` in the list of packets being read."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def _each_packet(function: Callable[[Packet], R], packets: list[Packet]) -> list[R]:
    """``function(packet)`` for each packet, on all cores, a group of packets at a time.

    Groups of about 65,536 events keep thread hand-offs rare. The first packet (in order) whose
    ``function`` raises :class:`FileFormatError` raises :class:`_PacketError` with its index.
    """

    def one(i: int) -> R:
        try:
            return function(packets[i])
        except FileFormatError as err:
            raise _PacketError(str(err), i) from None

    groups = _parallel(lambda run: [one(i) for i in range(*run)], _groups(packets, 1 << 16))
    return [result for group in groups for result in group]


def _salvaged(
    function: Callable[[list[Packet]], R], packets: list[Packet], salvage: bool
) -> tuple[R, list[Packet], _Damage | None]:
    """``function(packets)``, the packets it covers, and the damage that stopped it early.

    On a :class:`_PacketError`, ``function`` runs again on the packets before the damaged one
    with ``salvage``; without, :class:`FileFormatError` is raised.
    """
    try:
        return function(packets), packets, None
    except _PacketError as err:
        if not salvage:
            raise FileFormatError(f"{err}; {_SALVAGE}") from None
        kept = packets[: err.index]
        return function(kept), kept, (packets[err.index].offset - 8, str(err))


def _warn(layout: _Layout, damage: _Damage) -> None:
    position, message = damage
    warnings.warn(
        f"{message}; salvage kept the complete packets before byte {position} and left out "
        f"{layout.data_end - position} bytes, from byte {position} to byte {layout.data_end}",
        DataLossWarning,
        stacklevel=3,
    )


def _stored(descriptor: int, layout: _Layout, packet: Packet) -> memoryview:
    """The stored (compressed) payload of a packet, after checking its header."""
    blob = os.pread(descriptor, packet.size + 8, packet.offset - 8)
    if len(blob) != packet.size + 8 or struct.unpack_from("<ii", blob) != (packet.stream, packet.size):
        raise FileFormatError(
            f"{layout.path}: byte {packet.offset - 8}: no packet of stream {packet.stream} and "
            f"{packet.size} bytes here, as the data table says"
        )
    return memoryview(blob)[8:]


def _payload(descriptor: int, layout: _Layout, packet: Packet) -> bytes | memoryview:
    """The decompressed payload of a packet (a size-prefixed FlatBuffer)."""
    return _decompress(layout.path, layout.code, _stored(descriptor, layout, packet), packet.offset)


def _decode(descriptor: int, layout: _Layout, packets: list[Packet]) -> list[np.ndarray]:
    """Each packet's events as 16-byte structs, read and decompressed on all cores."""

    def one(packet: Packet) -> np.ndarray:
        payload = _payload(descriptor, layout, packet)
        start, count = _event_vector(layout.path, payload, packet.offset)
        if packet.count is not None and count != packet.count:
            raise FileFormatError(
                f"{layout.path}: byte {packet.offset}: packet holds {count} events, "
                f"the data table says {packet.count}"
            )
        return np.frombuffer(payload, EVENT, count=count, offset=start)

    return _each_packet(one, packets)


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


def _groups(packets: list[Packet], events: int | None) -> list[tuple[int, int]]:
    """Index ranges of consecutive packets of about ``events`` events each (None: one range of all)."""
    if events is None:
        return [(0, len(packets))]
    sizes = [packet.count if packet.count is not None else packet.size // 16 for packet in packets]
    return _runs(sizes, events)


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


def _concatenate(parts: list[np.ndarray], layout: _Layout, packets: list[Packet]) -> dict[str, np.ndarray]:
    """Columns t, x, y, p of all packets, filled and checked a group of packets at a time on all cores.

    Addresses outside the declared sensor raise :class:`_PacketError`; ``columns["ordered"]``
    says whether time never goes backwards (checked within each packet here, across packets by
    the caller).
    """
    bounds = np.cumsum([0] + [len(part) for part in parts])
    columns = {
        "t": np.empty(bounds[-1], np.int64),
        "x": np.empty(bounds[-1], np.int16),
        "y": np.empty(bounds[-1], np.int16),
        "p": np.empty(bounds[-1], bool),
    }
    width, height = layout.declared[packets[0].stream].size if packets else (1, 1)
    ranges = _runs([len(part) for part in parts], 1 << 16)  # about 65,536 events: few thread hand-offs

    def fill(group: tuple[int, int]) -> bool:
        for i in range(*group):
            part, lo, hi = parts[i], bounds[i], bounds[i + 1]
            for name in "txy":
                columns[name][lo:hi] = part[name]
            np.not_equal(part["p"], 0, out=columns["p"][lo:hi])
        lo, hi = bounds[group[0]], bounds[group[1]]
        x, y = columns["x"][lo:hi], columns["y"][lo:hi]
        if hi > lo and (x.min() < 0 or x.max() >= width or y.min() < 0 or y.max() >= height):
            j = int(np.argmax((x < 0) | (x >= width) | (y < 0) | (y >= height)))
            name, value = ("x", int(x[j])) if not 0 <= x[j] < width else ("y", int(y[j]))
            i = int(np.searchsorted(bounds, lo + j, side="right")) - 1
            raise _PacketError(
                f"{layout.path}: byte {packets[i].offset}: event {lo + j} has {name} = {value}, "
                f"outside the declared {width}x{height} sensor",
                i,
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


def _finish(
    records: dict[str, np.ndarray],
    layout: _Layout,
    packets: list[Packet],
    window: tuple[int | None, int | None],
    sort: bool,
) -> dict[str, np.ndarray]:
    """The columns :func:`read_columns` gives: in time order (sorted with ``sort``, else checked),
    cut to ``window`` (us), with the channel split off ``x`` and time in steps where the file
    records step time."""
    columns = {name: records[name] for name in "txyp"}
    t = columns["t"]
    if not records["ordered"]:
        if not sort:
            i = int(np.flatnonzero(t[1:] < t[:-1])[0]) + 1
            packet = packets[int(np.searchsorted(records["bounds"], i, side="right")) - 1]
            raise FileFormatError(
                f"{layout.path}: byte {packet.offset}: event {i} at t = {int(t[i])} us comes before "
                f"the previous one at {int(t[i - 1])} us; pass sort=True to sort the events"
            )
        order = np.argsort(t, kind="stable")
        columns = {name: column[order] for name, column in columns.items()}
        t = columns["t"]
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    columns = {name: column[lo:hi] for name, column in columns.items()}
    if address.channels(layout.shape) > 1:
        width = address.width(layout.shape)
        columns["c"] = columns["x"] // width
        columns["x"] = columns["x"] - columns["c"] * width
    if layout.dt_us is not None:
        columns["t"] = _steps(columns["t"], layout)
    return columns


def _steps(t: np.ndarray, layout: _Layout) -> np.ndarray:
    """Microseconds to steps, ``(t - t0_us) / dt_us``: whole steps in ``[0, num_steps)``, else
    :class:`FileFormatError`."""
    steps, rest = np.divmod(t - layout.t0_us, layout.dt_us)
    if len(t) and (rest.any() or steps.min() < 0 or steps.max() >= layout.num_steps):
        i = int(np.argmax((rest != 0) | (steps < 0) | (steps >= layout.num_steps)))
        raise FileFormatError(
            f"{layout.path}: an event at t = {int(t[i])} us is not on the recorded step time "
            f"(t0_us + k * dt_us with t0_us = {layout.t0_us}, dt_us = {layout.dt_us} and "
            f"0 <= k < num_steps = {layout.num_steps})"
        )
    return steps


def _events(columns: dict[str, np.ndarray], layout: _Layout) -> Events:
    """One chunk of :func:`read_columns` as one-sample :class:`~eventcode.Events`."""
    import torch

    from eventcode.events import Events

    tensors = {name: torch.from_numpy(column) for name, column in columns.items()}
    for name, dtype in zip("xyc", address.column_dtypes(layout.shape), strict=True):
        if dtype is not None:  # int32 for a declared sensor over 32,768 wide: one dtype per shape
            tensors[name] = tensors[name].to(dtype)
    offsets = torch.tensor([0, len(columns["t"])], dtype=torch.int64)
    unit = "us" if layout.dt_us is None else "step"
    try:
        checks.polarity(tensors["p"], offsets, layout.polarities)
    except PolarityError as err:
        raise FileFormatError(f"{layout.path}: events unlike the recorded polarities: {err}") from None
    return Events.from_columns(
        tensors["t"],
        tensors["x"],
        tensors["y"],
        tensors["p"],
        c=tensors.get("c"),
        offsets=offsets,
        shape=layout.shape,
        num_steps=layout.num_steps,
        time_unit=unit,
        polarities=layout.polarities,
        check="none",
    )


def _decompress(path: Path, code: int, data: bytes | memoryview, where: int) -> bytes | memoryview:
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
        raise FileFormatError(f"{path}: byte {where}: corrupt {DV_NAMES[code]} data ({err})") from None


class _ThreadZstd(threading.local):
    """One zstd decompression context per thread (contexts are not thread-safe)."""

    def __init__(self) -> None:
        self.decompressor = zstandard.ZstdDecompressor()


_ZSTD = _ThreadZstd()
