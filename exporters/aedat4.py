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
so that a truncated or corrupt file raises :class:`~eventcode.errors.FileFormatError` whose
message starts ``<path>: byte <offset>:``, the offset of the fault (for the XML stream
description, of the element or attribute at fault, or of the XML's syntax error); with
``salvage=True`` they keep the complete packets before the damage instead and warn
(:class:`~eventcode.errors.DataLossWarning`) of the bytes left out. The packet table is
checked against the data it indexes: its entries must list every packet in file order, and each
packet decoded must hold the records and time range its entry gives (with ``salvage=True`` a
disagreeing packet's own contents win, with a warning). :func:`info` describes the file and every
stream as a :class:`~exporters.contract.FileInfo`; :func:`transcode` copies a file with all its
streams, in a new compression or not; :func:`sniff` recognizes the magic line.

No size a file declares is allocated before it is checked against what the file's bytes can hold
and a documented ceiling: a packet table entry may list no more events than its packet's stored
bytes can expand to (not at all uncompressed, 256 times LZ4, 32,768 times zstd, and at most
:data:`MAX_PAYLOAD`); a frame's declared content size, or the size prefix of the FlatBuffer it
holds, no more than its table entry allows (or, without one, 256 times its stored size for LZ4,
4096 times for zstd, at least 1 MiB and at most :data:`MAX_PAYLOAD`). Decompressions run on all
cores, yet together hold at most :data:`DECOMPRESSION_BUDGET` (256 MiB), or one packet's own
bound where that is larger, however many cores there are: a file of frames that expand to
gigabytes is refused in bounded memory.

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

import collections
import contextlib
import functools
import itertools
import os
import struct
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, NamedTuple, TypeVar, cast
from xml.etree import ElementTree
from xml.parsers import expat
from xml.sax.saxutils import escape

import lz4.frame
import numpy as np
import zstandard

from eventcode import address, checks
from eventcode.errors import (
    AddressError,
    DataLossWarning,
    EventsError,
    ExportError,
    FileFormatError,
    OptionError,
    TimeOrderError,
)
from eventcode.options import optional_int, positive_int
from exporters import positional, steptime, threads
from exporters.atomic import AtomicWriter, atomic_path
from exporters.batches import write_samples
from exporters.compression import Compression, canonical
from exporters.contract import FileInfo, Stream, empty_columns
from exporters.flatbuffers import Buffer
from exporters.options import one_sample_window
from exporters.source import open_regular
from exporters.steptime import StepTime, Window

if TYPE_CHECKING:
    from eventcode import Events

NAME = "aedat4"
DESCRIPTION = "AEDAT 4.0 (iniVation DV, dv-processing, faery, aedat, Tonic)"
MAGIC = b"#!AER-DAT4.0\r\n"
BATCHED = False
SUFFIXES = (".aedat4",)

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
DEFAULT_COMPRESSION = "lz4"
"""What :func:`write` and :class:`Writer` use unless told: LZ4 fast, as DV records by default."""
LEVELS = {1: 0, 2: 9, 3: 3, 4: 22}
"""Compression level per code, as dv-processing 2.0.4 sets them (LZ4F fast, LZ4 HC default,
zstd default, zstd maximum)."""

PACKET_EVENTS = {0: 1 << 16, 1: 1 << 16, 2: 1 << 16, 3: 1 << 12, 4: 1 << 12}
"""Events per packet by compression code: 65,536 (1 MiB of payload), but 4,096 for zstd, whose
parameters for inputs of <= 128 KiB compress faster at the same level: level 3 30% faster and
no larger on DAVIS346 events, level 22 30% faster and 1% larger (faery writes packets of 4,096
events, dv-processing of about 10,000)."""
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
DECOMPRESSION_BUDGET = 1 << 28
"""Bytes that the decompressions in flight may hold together (256 MiB), however many cores read:
each reserves the most it may allocate before it starts (twice its limit for LZ4, whose decoder
copies its output, and for a zstd frame without a declared size, whose window fills as its output
does; the declared size for the others) and waits while others hold the rest; one that needs
more than the whole budget waits until none is held and decompresses alone. So decompression
takes at most the larger of this and one packet's reservation (which for a packet without a
table entry or a declared size is bounded by its FlatBuffer's size prefix, itself checked
against the packet's bytes and :data:`MAX_PAYLOAD`), whatever the file and the number of cores."""
EVENT_PACKET_OVERHEAD = 1024
"""Bytes an EventPacket FlatBuffer may hold beside its 16-byte event structs (size prefix, root
offset, identifier, vtable, table, vector length: 32 bytes as every known writer lays it out): a
packet whose table entry lists ``n`` events decompresses to at most ``16 * n`` + this."""
INT64 = (-(1 << 63), (1 << 63) - 1)
"""The range of the file's int64 timestamps (and of eventcode's step-time attributes)."""
_NAME_OF_CODE = {code: name for name, code in CODES.items()}
_SALVAGE = "pass salvage=True to keep the complete packets before it"
T = TypeVar("T")
R = TypeVar("R")


_Row = tuple[int, int, int, int, int, int]
"""A packet table entry: payload offset, stream, size, records, first t, last t."""


def _code(compression: Compression) -> int:
    """The ``CompressionType`` of a compression name in any accepted spelling."""
    return CODES[canonical(compression, COMPRESSIONS, "AEDAT 4.0")]


def sniff(head: bytes) -> float:
    """How sure it is that a file starting with ``head`` is AEDAT 4.0: 1 for its magic line, else 0.

    Examples
    --------
    >>> from exporters import aedat4
    >>> aedat4.sniff(aedat4.MAGIC + bytes(4)), aedat4.sniff(b"#!AER-DAT3.1"), aedat4.sniff(b"")
    (1.0, 0.0, 0.0)
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
        without a placeholder, an unknown compression, step times beyond int64 microseconds, or
        an existing file without overwrite.
    OptionError
        A ``dt_us`` that is not a positive whole number.

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
    write_samples(
        Writer,
        path,
        events,
        compression=compression,
        dt_us=dt_us,
        t0_us=t0_us,
        channels=channels,
        overwrite=overwrite,
        source=source,
    )


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
    stream_offset : int
        Events of the stream written before this file's first, into other files: the packets are
        cut where one Writer of the whole stream cuts them (a shorter first packet up to the next
        multiple of :data:`PACKET_EVENTS`), so that the files of consecutive stretches
        :func:`join` into that Writer's file.

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
        compression: Compression = DEFAULT_COMPRESSION,
        *,
        shape: Sequence[int] | None = None,
        dt_us: int | None = None,
        t0_us: int = 0,
        num_steps: int | None = None,
        channels: Literal["tile"] | None = None,
        overwrite: bool = True,
        source: str = "eventcode",
        polarities: int | None = None,
        stream_offset: int = 0,
    ) -> None:
        code = _code(compression)
        before = optional_int("stream_offset", stream_offset, "a count of events")
        if before is None or before < 0:
            raise OptionError(
                f"stream_offset counts the events before this file: 0 or more, got {stream_offset!r}"
            )
        self._lead = -before % PACKET_EVENTS[code]  # events of the packet the stream is inside
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
        self._steps = steptime.recorded(dt_us, t0_us, num_steps)
        if self._steps is not None:
            beyond = self._steps.beyond(INT64[0], INT64[1] + 1)
            if beyond is not None:
                raise ExportError(
                    f"step time t0_us + k * dt_us (0 <= k < num_steps) reaches {beyond} us, beyond the "
                    "int64 microseconds of AEDAT 4; choose a smaller dt_us or t0_us"
                )
        self._code = code
        self._size = (width * planes, height)
        self._header = _io_header(
            self._code,
            _info_node(self._code, self._size, self._shape, self._steps, source, self._polarities),
        )
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._pending_count = 0
        self._last_t: int | None = None
        self._table: list[_Row] = []

    @property
    def _out(self) -> BinaryIO:
        """The open file, as :meth:`_open` made it."""
        return cast(BinaryIO, self._file)

    def _open(self, temporary: Path) -> BinaryIO:
        file = open(temporary, "wb")  # noqa: SIM115 - closed by AtomicWriter.__exit__
        file.write(MAGIC + self._header)
        return file

    def _finish(self) -> None:
        self._flush(final=True)
        _append_table(self._out, self._code, self._table)

    def write(self, events: Events) -> None:
        """Append one sample's events (microseconds, or steps when ``dt_us`` was given)."""
        self._check_one(events)
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
            if self._pending_count >= PACKET_EVENTS[self._code] * threads.WORKERS:
                self._flush(final=False)

    def _columns(self, events: Events) -> tuple[np.ndarray, ...]:
        """``t`` (us), ``x`` (channels tiled), ``y``, ``p`` as numpy arrays."""
        events = steptime.in_us(events, self._steps)
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
        size, lead, count = PACKET_EVENTS[self._code], self._lead, len(columns[0])
        # whole packets of the stream's (the one it is inside first), or with ``final`` everything
        whole = 0 if count < lead else lead + (count - lead) // size * size
        cut = count if final else whole
        edges = sorted({0, cut, *range(lead or size, cut, size)})
        ranges = list(itertools.pairwise(edges)) if cut else []
        self._lead = (lead - cut) % size
        if self._code == 0:
            self._put_uncompressed(columns, ranges)
        else:
            # packets a task compresses: few thread hand-offs, yet enough tasks that the cores
            # finish a small write together
            per_task = max(1, min((1 << 16) // size, len(ranges) // (8 * threads.WORKERS)))
            tasks = [ranges[i : i + per_task] for i in range(0, len(ranges), per_task)]
            batch = 16 * threads.WORKERS  # tasks in flight: a few MB of compressed packets held

            def compressed(task: list[tuple[int, int]]) -> list[bytes | memoryview]:
                return [_compress(self._code, _built(columns, a, b, 0).data) for a, b in task]

            for first in range(0, len(tasks), batch):
                chunk = tasks[first : first + batch]
                for task, payloads in zip(chunk, threads.parallel(compressed, chunk), strict=True):
                    for (a, b), payload in zip(task, payloads, strict=True):
                        self._out.write(struct.pack("<ii", 0, len(payload)))
                        row = (
                            self._out.tell(),
                            0,
                            len(payload),
                            b - a,
                            int(columns[0][a]),
                            int(columns[0][b - 1]),
                        )
                        self._table.append(row)
                        self._out.write(payload)
        rest = tuple(column[cut:] for column in columns)
        self._pending = [rest] if len(rest[0]) else []
        self._pending_count = len(rest[0])

    def _put_uncompressed(self, columns: list[np.ndarray], ranges: list[tuple[int, int]]) -> None:
        """Uncompressed packets, whose sizes are known in advance: each built in a thread's
        scratch buffer and written in place (``pwrite``) by that thread, on all cores."""
        self._out.flush()
        start = self._out.tell()
        sizes = [40 + 16 * (b - a) for a, b in ranges]  # packet header, EventPacket header, records
        offsets = np.cumsum([start, *sizes]).tolist()
        descriptor = self._out.fileno()

        def put(i: int) -> None:
            packet = _built(columns, *ranges[i], 8)
            packet[:8] = np.frombuffer(struct.pack("<ii", 0, sizes[i] - 8), np.uint8)
            positional.write_at(descriptor, packet, offsets[i])

        list(threads.parallel(put, range(len(ranges))))
        for (a, b), size, offset in zip(ranges, sizes, offsets, strict=False):
            self._table.append((offset + 8, 0, size - 8, b - a, int(columns[0][a]), int(columns[0][b - 1])))
        self._out.seek(offsets[-1])


def _info_node(
    code: int,
    size: tuple[int, int],
    shape: tuple[int, ...],
    steps: StepTime | None,
    source: str,
    polarities: int,
) -> str:
    """The XML stream description: one event stream, id 0, with the attributes DV writes."""
    extra: dict[str, tuple[str, object]] = {"eventcodeShape": ("string", ",".join(map(str, shape)))}
    if polarities != 2:
        extra["eventcodePolarities"] = ("int", polarities)
    if steps is not None:
        extra |= {"eventcodeDtUs": ("long", steps.dt_us), "eventcodeNumSteps": ("long", steps.num_steps)}
        extra["eventcodeT0Us"] = ("long", steps.t0_us)
    info = {**extra, "sizeX": ("int", size[0]), "sizeY": ("int", size[1]), "source": ("string", source)}
    stream = {
        "compression": ("string", DV_NAMES[code]),
        "originalModuleName": ("string", "eventcode"),
        "originalOutputName": ("string", "events"),
        "typeDescription": ("string", "Array of events (polarity ON/OFF)."),
        "typeIdentifier": ("string", "EVTS"),
    }

    def attrs(values: Mapping[str, tuple[str, object]], indent: str) -> str:
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


def _built(columns: Sequence[np.ndarray], a: int, b: int, before: int) -> np.ndarray:
    """The size-prefixed ``EVTS`` EventPacket of events ``a:b`` of the columns (t, x, y, p): a
    table whose one field is the vector of event structs, built in this thread's scratch buffer
    after ``before`` bytes left for the caller (valid until the thread builds the next packet)."""
    n = b - a
    packet = threads.scratch("aedat4.packet", before + 32 + 16 * n, np.uint8)
    packet[before : before + 32] = np.frombuffer(
        struct.pack("<II4s3H2xiII", 28 + 16 * n, 16, b"EVTS", 6, 8, 4, 8, 4, n), np.uint8
    )
    body = packet[before + 32 :]
    body.view("<u4").reshape(n, 4)[:, 3] = columns[3][a:b]  # p, and zero in the structs' padding bytes
    records = body.view(EVENT)
    for name, column in zip("txy", columns, strict=False):
        records[name] = column[a:b]
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


def _data_table(entries: list[_Row]) -> bytes:
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


def _append_table(file: BinaryIO, code: int, entries: list[_Row]) -> None:
    """Write the packet table at the end of ``file`` and point the header's dataTablePosition to it."""
    position = file.tell()
    file.write(_compress(code, _data_table(entries)))
    file.seek(len(MAGIC) + _TABLE_POSITION_AT)
    file.write(struct.pack("<q", position))


def _compress(code: int, payload: bytes | memoryview) -> bytes | memoryview:
    if code == 0:
        return payload
    if code in (1, 2):
        frame: bytes = lz4.frame.compress(
            payload, compression_level=LEVELS[code], block_size=lz4.frame.BLOCKSIZE_MAX64KB, block_linked=True
        )
        return frame
    return _ZSTD.compressor(LEVELS[code]).compress(payload)


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
    a corrupt payload only where the payload is decompressed). A decompressed packet's records
    and time range are read from its FlatBuffer and compared with its table entry: a
    disagreement raises, or with ``salvage`` warns and the new table lists the packet's own.

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
        ``source`` is not an AEDAT 4.0 file, or is truncated or corrupt, or its packet table
        disagrees with its packets (without ``salvage``).
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
    with open_regular(source) as file:
        descriptor = file.fileno()
        layout = _layout(Path(source), descriptor, salvage)
        code = layout.code if compression is None else _code(compression)

        def copy(packet: Packet) -> tuple[bytes | memoryview, _Contents, str | None]:
            """The packet's new payload, its records and time range, and how they disagree with
            its table entry (None if they agree or were not read)."""
            stored = _stored(descriptor, layout, packet)
            listed = (packet.count, packet.first, packet.last)
            if code == layout.code and layout.has_table:
                return stored, listed, None
            payload = _payload(layout, packet, stored)
            found = _records(layout, packet, payload)
            contents = listed if found[0] is None else found  # another type: the table's, if any
            payload = stored if code == layout.code else _compress(code, payload)
            return payload, contents, _disagreement(layout, packet, found)

        damage, done, entries = layout.damage, 0, []
        with atomic_path(target, overwrite) as temporary, open(temporary, "wb") as out:
            out.write(MAGIC + _io_header(code, _described(layout.description, code)))
            for a, b in _runs([packet.size for packet in layout.packets], 1 << 25):  # 32 MiB at a time
                results, batch, damaged = _salvaged(
                    functools.partial(_each_packet, copy), layout.packets[a:b], salvage
                )
                _disagreements([note for _, _, note in results], salvage)
                for packet, (payload, contents, _) in zip(batch, results, strict=True):
                    out.write(struct.pack("<ii", packet.stream, len(payload)))
                    entries.append((out.tell(), packet.stream, len(payload), *contents))
                    out.write(payload)
                    done += (contents[0] or 0) if layout.declared[packet.stream].type == "EVTS" else 0
                if progress is not None:
                    progress(done)
                if damaged is not None:
                    damage = damaged
                    break
            if all(None not in entry for entry in entries):  # else no table: readers scan the packets
                _append_table(out, code, cast("list[_Row]", entries))
    if damage is not None:
        _warn(layout, damage)


def join(
    sources: Sequence[str | os.PathLike[str]], target: str | os.PathLike[str], *, overwrite: bool = True
) -> None:
    """Join AEDAT 4.0 files of consecutive stretches of one event stream into one file.

    The sources are what Writers (:class:`Writer`) of the same options wrote, in time order, each
    told the events before it (``stream_offset``): their packets then lie where one Writer of the
    whole stream puts them, but for the packets cut at the seams between the files. Packets are
    copied as stored; those of the seams are decoded, joined into whole packets and compressed
    again; a new packet table is written. The result is byte for byte the file one :class:`Writer`
    makes of all the events (with files written without ``stream_offset`` it is still their
    events, in packets cut at the seams). Written atomically.

    Raises
    ------
    OptionError
        No sources.
    ExportError
        Sources of other compressions or stream descriptions (sensor, step time...), or of several
        streams; an existing ``target`` without ``overwrite``.
    FileFormatError
        A source that is not an AEDAT 4.0 file, damaged, without packet table, or whose times go
        back from the one before.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> stream = Events(t=list(range(10)), x=[1] * 10, y=[0] * 10, p=[1] * 10, sensor_size=(4, 4))
    >>> aedat4.write(folder / "whole.aedat4", stream)
    >>> for k, (a, b) in enumerate([(0, 3), (3, 10)]):
    ...     with aedat4.Writer(folder / f"{k}.aedat4", sensor_size=(4, 4), stream_offset=a) as writer:
    ...         writer.write(stream.time_slice(a, b))
    >>> aedat4.join([folder / "0.aedat4", folder / "1.aedat4"], folder / "joined.aedat4")
    >>> (folder / "joined.aedat4").read_bytes() == (folder / "whole.aedat4").read_bytes()
    True
    """
    if not sources:
        raise OptionError("join needs at least one source file")
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(open_regular(path)) for path in sources]
        layouts = [
            _layout(Path(path), file.fileno(), False) for path, file in zip(sources, files, strict=True)
        ]
        first = layouts[0]
        for layout in layouts:
            if (layout.code, layout.description) != (first.code, first.description):
                raise ExportError(
                    f"{layout.path} has another compression or stream description than {first.path}: only "
                    "files of one Writer's options join"
                )
            if len(layout.declared) != 1 or not layout.has_table:
                raise FileFormatError(
                    f"{layout.path}: join takes files of one event stream with a packet table, as Writer "
                    "makes them"
                )
        head = os.pread(files[0].fileno(), len(MAGIC) + 4, 0)
        head = os.pread(files[0].fileno(), len(MAGIC) + 4 + struct.unpack_from("<I", head, len(MAGIC))[0], 0)
        size = PACKET_EVENTS[first.code]
        joined = _Joined(first.code, size)
        with atomic_path(target, overwrite) as temporary, open(temporary, "wb") as out:
            out.write(head)
            for s, (layout, file) in enumerate(zip(layouts, files, strict=True)):
                packets = layout.packets
                for i, packet in enumerate(packets):
                    last = s == len(layouts) - 1 and i == len(packets) - 1
                    joined.add(out, file.fileno(), layout, packet, last)
            joined.flush(out)
            _append_table(out, first.code, joined.entries)


class _Joined:
    """The packets :func:`join` writes, and the seams' events waiting to fill a whole packet."""

    def __init__(self, code: int, size: int) -> None:
        self.code, self.size = code, size
        self.entries: list[_Row] = []
        self.pending: list[np.ndarray] = []
        self.held = self.events = 0
        self.last_t: int | None = None

    def add(self, out: BinaryIO, descriptor: int, layout: _Layout, packet: Packet, last: bool) -> None:
        """Copy a packet that lies where one Writer would put it (a whole one, or the stream's
        ``last``), else hold its events."""
        count = packet.count or 0
        if self.last_t is not None and count and cast(int, packet.first) < self.last_t:
            raise FileFormatError(
                f"{layout.path}: byte {packet.offset}: its events start at {packet.first} us, before the "
                f"{self.last_t} us the files before end with: join files in time order"
            )
        self.last_t = packet.last if count else self.last_t
        whole = count == self.size or last
        if not self.held and self.events % self.size == 0 and whole:
            out.write(struct.pack("<ii", packet.stream, packet.size))
            self.entries.append(
                (
                    out.tell(),
                    packet.stream,
                    packet.size,
                    count,
                    cast(int, packet.first),
                    cast(int, packet.last),
                )
            )
            out.write(_stored(descriptor, layout, packet))
        elif count:
            records, note = _packet_records(descriptor, layout, packet)
            if note is not None:
                raise FileFormatError(f"{layout.path}: byte {packet.offset}: {note}")
            self.pending.append(records.copy())
            self.held += count
            while self.held >= self.size:
                self.flush(out, self.size)
        self.events += count

    def flush(self, out: BinaryIO, count: int | None = None) -> None:
        """Write ``count`` held events (all: None) as one packet, as Writer builds it."""
        if not self.held:
            return
        records = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        n = self.held if count is None else count
        columns = [records["t"], records["x"], records["y"], records["p"]]
        payload = _compress(self.code, _built(columns, 0, n, 0).data)
        out.write(struct.pack("<ii", 0, len(payload)))
        self.entries.append((out.tell(), 0, len(payload), n, int(records["t"][0]), int(records["t"][n - 1])))
        out.write(payload)
        rest = records[n:]
        self.pending, self.held = ([rest] if len(rest) else []), len(rest)


def _described(description: str, code: int) -> str:
    """The stream description XML with every stream's ``compression`` attribute naming ``code``."""
    root = ElementTree.fromstring(description)
    for attr in root.iterfind("./node[@name='outInfo']/node/attr[@key='compression']"):
        attr.text = DV_NAMES[code]
    return ElementTree.tostring(root, encoding="unicode")


_Contents = tuple[int | None, int | None, int | None]
"""A packet's records and the times of its first and last: from its table entry or its FlatBuffer."""


def _records(layout: _Layout, packet: Packet, payload: bytes | memoryview) -> _Contents:
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
            t: int = struct.unpack_from("<q", payload, start + 16 * i)[0]
            return t

    elif kind in ("IMUS", "TRIG"):
        buffer = _buffer(path, payload, kind.encode(), where)
        start, count = buffer.vector(buffer.root, 0, 4)

        def time(i: int) -> int:
            return buffer.scalar(buffer.element(start, i), 0, "<q", 0)

    else:
        return None, None, None
    return (count, time(0), time(count - 1)) if count else (0, None, None)


# ---------------------------------------------------------------------- reading
@dataclass(slots=True)
class Packet:
    """One packet of the file: payload position and size, stream, and (from the table) contents."""

    offset: int
    size: int
    stream: int
    count: int | None = None
    first: int | None = None
    last: int | None = None


class _Attributes(NamedTuple):
    """eventcode's own attributes of an event stream: the sample shape, the sensor's polarities and
    the step time (other writers' streams have none: the sensor's shape, 2, microseconds)."""

    shape: tuple[int, ...] | None = None
    polarities: int = 2
    steps: StepTime | None = None


class _Declared(NamedTuple):
    """A stream as the description declares it."""

    type: str
    name: str
    size: tuple[int, int] | None
    attributes: _Attributes


class _Target(NamedTuple):
    """The event stream being read: its file and id, the sensor ``(W, H)``, and what its events
    read back as (sample shape, step time, polarities)."""

    path: Path
    id: int
    size: tuple[int, int]
    shape: tuple[int, ...]
    steps: StepTime | None
    polarities: int


_Damage = tuple[int, str]
"""Where the usable data of a damaged file ends (a byte offset), and the error message there."""


@dataclass(frozen=True)
class _Layout:
    """What reading needs: the header, the declared streams, the packets and any damage.

    ``event_stream`` is the lowest event stream id (None without one); ``data_end`` is where the
    packets end (the table's position, else the file's end); ``damage`` is set when salvage
    stopped before it; ``description_at`` is the file offset of the description's XML.
    """

    path: Path
    code: int
    description: str
    description_at: int
    declared: dict[int, _Declared]
    event_stream: int | None
    has_table: bool
    packets: list[Packet]
    data_end: int
    damage: _Damage | None


def _target(layout: _Layout, stream: int | None) -> _Target:
    """Event stream ``stream`` (None: the lowest) of the file, or :class:`FileFormatError`."""
    chosen = layout.event_stream if stream is None else stream
    declared = None if chosen is None else layout.declared.get(chosen)
    if chosen is None or declared is None or declared.type != "EVTS" or declared.size is None:
        kinds = {key: declared.type for key, declared in layout.declared.items()}
        at = layout.description_at
        if declared is not None:  # a stream of another type: its node
            root = ElementTree.fromstring(layout.description)
            node = root.find(f"./node[@name='outInfo']/node[@name='{chosen}']")
            at = _places(root, layout.description, at)(node)
        raise FileFormatError(
            f"{layout.path}: byte {at}: the stream description declares no event stream"
            f"{'' if stream is None else f' {stream}'} (streams: {kinds}); pass the stream= of an EVTS stream"
        )
    width, height = declared.size
    shape, polarities, steps = declared.attributes
    return _Target(layout.path, chosen, declared.size, shape or (height, width), steps, polarities)


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

    Returns
    -------
    FileInfo
        The common fields for the file's (lowest) event stream: ``events``, and ``first`` /
        ``last`` in ``time_unit`` (steps for files eventcode wrote from step-time events, else
        microseconds); ``samples`` is 1. ``streams`` lists every stream in the file's order (the
        event stream's times in ``time_unit``, the others' in microseconds). ``extras`` holds
        ``event_stream`` (its id, or None), ``t0_us`` (the microseconds of step 0), ``has_table``
        (whether the file has a packet table) and ``packets`` (every :class:`Packet` in file
        order, with its records and time range).

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
    >>> meta.compression, meta.sensor_size, meta.events, (meta.first, meta.last), meta.time_unit
    ('lz4', (2, 1, 2), 2, (1, 2), 'us')
    >>> meta.streams[0]
    Stream(id=0, type='EVTS', name='events', size=(2, 1), packets=1, records=2, first=1, last=2)
    >>> meta.extras["event_stream"], meta.extras["has_table"], len(meta.extras["packets"])
    (0, True, 1)
    """
    with open_regular(path) as file:
        descriptor = file.fileno()
        layout = _layout(Path(path), descriptor, salvage)
        packets, damage = layout.packets, layout.damage
        if not layout.has_table:

            def count(packet: Packet) -> Packet:
                payload = _payload(layout, packet, _stored(descriptor, layout, packet))
                found = _records(layout, packet, payload)
                return replace(packet, count=found[0], first=found[1], last=found[2])

            packets, _, damaged = _salvaged(functools.partial(_each_packet, count), packets, salvage)
            damage = damaged or damage
    if damage is not None:
        _warn(layout, damage)
    target = None if layout.event_stream is None else _target(layout, None)
    streams = _summaries(layout, packets, target)
    events = next((stream for stream in streams if target is not None and stream.id == target.id), None)
    steps = None if target is None else target.steps
    return FileInfo(
        path=layout.path,
        format=NAME,
        compression=_NAME_OF_CODE[layout.code],
        sensor_size=None if target is None else (*target.size, max(target.polarities, 1)),
        shape=None if target is None else target.shape,
        events=0 if events is None else events.records or 0,
        samples=1,
        time_unit="us" if steps is None else "step",
        first=None if events is None else events.first,
        last=None if events is None else events.last,
        num_steps=None if steps is None else steps.num_steps,
        dt_us=None if steps is None else steps.dt_us,
        polarities=2 if target is None else target.polarities,
        streams=streams,
        extras={
            "event_stream": layout.event_stream,
            "t0_us": 0 if steps is None else steps.t0_us,
            "has_table": layout.has_table,
            "packets": packets,
        },
    )


def _summaries(layout: _Layout, packets: list[Packet], target: _Target | None) -> tuple[Stream, ...]:
    """Each declared stream with its packets' count, records and time range (the ``target`` event
    stream's in steps for a step-time file)."""
    members: dict[int, list[Packet]] = {key: [] for key in layout.declared}
    for packet in packets:
        members[packet.stream].append(packet)
    streams = []
    for key, (kind, name, size, _) in layout.declared.items():
        counts = [packet.count for packet in members[key]]
        firsts = [(p.first, p.offset) for p in members[key] if p.count and p.first is not None]
        lasts = [(p.last, p.offset) for p in members[key] if p.count and p.last is not None]
        first, last = min(firsts, default=(None, 0)), max(lasts, default=(None, 0))
        if target is not None and key == target.id and target.steps is not None and first[0] is not None:
            times = np.array([first[0], last[0]], np.int64)
            offsets = (first[1], last[1])
            steps = _steps(times, target.steps, target.path, offsets.__getitem__).tolist()
            first, last = (steps[0], first[1]), (steps[1], last[1])
        records = None if None in counts else sum(count or 0 for count in counts)
        streams.append(Stream(key, kind, name, size, len(counts), records, first[0], last[0]))
    return tuple(streams)


def read(
    path: str | os.PathLike[str],
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    stream: int | None = None,
    sort: bool = False,
    salvage: bool = False,
) -> Events:
    """Read the events of an AEDAT 4.0 file (all of them, or ``t_start <= t < t_end``).

    Parameters
    ----------
    path : path
        The file.
    sample : {None, 0, -1}
        The file's one sample (an AEDAT 4.0 file holds one stream): None, 0 and -1 read it.
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
        table is lost or does not match the packets) and give a
        :class:`~eventcode.errors.DataLossWarning` with the bytes left out, instead of raising.
        A packet whose records or time range differ from its table entry is read as it is, with
        a warning: a window decodes every packet with ``salvage``, so that their own times count.

    Returns
    -------
    Events
        One sample in microseconds with the stream's sensor size, or in steps and the original
        sample shape for files written by eventcode from step-time events.

    Raises
    ------
    FileFormatError
        Not an AEDAT 4.0 file, truncated or corrupt (the message names the byte offset; without
        ``salvage``), a packet table that disagrees with the packets (without ``salvage``), no
        event stream, events outside the declared sensor, or time going backwards (without
        ``sort``).
    OptionError
        A ``sample`` other than None, 0 or -1; a window bound that is not an int, or
        ``t_end < t_start``.

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
    window = _window(path, sample, t_start, t_end)
    ((columns, target),) = _columns(path, stream, window, None, sort, salvage)
    return _events(columns, target)


def events_before(
    path: str | os.PathLike[str], times: Sequence[int], *, stream: int | None = None
) -> list[int]:
    """How many events of the event stream come before each of ``times`` (in the file's unit:
    steps for files eventcode wrote from step-time events, else microseconds).

    With the packet table (its times in order) the packets wholly before a time count by their
    entries, and only the packets a time falls inside are decoded; without one, every packet is
    decoded once. The counts that split a long recording into time ranges.

    Raises
    ------
    OptionError
        A time that is not an int.
    FileFormatError
        As for :func:`read`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat4"
    >>> events = Events(t=[1, 5, 5, 9], x=[0, 1, 2, 2], y=[0, 0, 0, 0], p=[1, 0, 1, 1], sensor_size=(3, 1))
    >>> aedat4.write(path, events)
    >>> aedat4.events_before(path, [0, 5, 6, 100])
    [0, 1, 3, 4]
    """
    keys = _times(times)
    with open_regular(path) as file:
        descriptor = file.fileno()
        layout = _layout(Path(path), descriptor, False)
        target = _target(layout, stream)
        steps = target.steps
        in_us = [t if steps is None else steps.t0_us + t * steps.dt_us for t in keys]
        packets = [p for p in layout.packets if p.stream == target.id]
        ordered = _in_order(np.array([t for p in packets if p.count for t in (p.first, p.last)], np.int64))
        if layout.has_table and ordered:
            counts = []
            for t in in_us:
                whole = sum(p.count or 0 for p in packets if p.count and cast(int, p.last) < t)
                inside = [p for p in packets if p.count and cast(int, p.first) < t <= cast(int, p.last)]
                decoded = _decoded(descriptor, layout, target.size, inside).columns["t"] if inside else None
                counts.append(whole + (0 if decoded is None else int(np.count_nonzero(decoded < t))))
            return counts
    found = np.zeros(len(keys), np.int64)
    for columns, _ in _columns(path, stream, (None, None), 1 << 20, False, False):
        found += np.searchsorted(columns["t"], np.array(keys, np.int64), side="left")
    return [int(n) for n in found]


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    stream: int | None = None,
    salvage: bool = False,
) -> Iterator[Events]:
    """Read an AEDAT 4.0 file as consecutive chunks of about ``chunk_events`` events each.

    Memory stays near one chunk whatever the file size. Chunks hold whole packets, so their
    sizes vary around ``chunk_events``; their times follow on. Arguments as for :func:`read`;
    the chunks are those of :func:`read_columns`, as :class:`~eventcode.Events`.

    Raises
    ------
    OptionError
        At the call: a ``chunk_events`` that is not a positive whole number, or the arguments
        :func:`read` refuses.
    FileFormatError
        As for :func:`read`, while iterating.

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
    chunk_events = positive_int("chunk_events", chunk_events, "events")
    window = _window(path, sample, t_start, t_end)
    return (
        _events(columns, target)
        for columns, target in _columns(path, stream, window, chunk_events, False, salvage)
    )


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    stream: int | None = None,
    salvage: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Read an AEDAT 4.0 event stream as chunks of numpy columns, without torch.

    Each chunk is a dict of ``t`` (int64, in the unit :func:`read` returns: steps for files
    eventcode wrote from step-time events, else microseconds), ``x`` and ``y`` (int16), ``p``
    (bool), and ``c`` (int16) when the sample shape has channels: exactly the columns of the
    chunks of :func:`read_chunks`. Arguments and errors as for :func:`read_chunks`.

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
    chunk_events = positive_int("chunk_events", chunk_events, "events")
    window = _window(path, sample, t_start, t_end)
    return (columns for columns, _ in _columns(path, stream, window, chunk_events, False, salvage))


def _times(times: Sequence[object]) -> list[int]:
    """``times`` as ints, or :class:`OptionError`."""
    keys = [optional_int("times", t, "ints in the file's time unit") for t in times]
    if None in keys:
        raise OptionError(f"times must be ints in the file's time unit, got {list(times)!r}")
    return cast(list[int], keys)


def _window(path: str | os.PathLike[str], sample: object, t_start: object, t_end: object) -> Window:
    """The window as ints, after checking the arguments every reader takes."""
    return one_sample_window(path, sample, t_start, t_end, "AEDAT 4.0")


def _columns(
    path: str | os.PathLike[str],
    stream: int | None,
    window: Window,
    chunk_events: int | None,
    sort: bool,
    salvage: bool,
) -> Iterator[tuple[dict[str, np.ndarray], _Target]]:
    """The columns of an event stream, about ``chunk_events`` events at a time (None: one chunk),
    each with the stream they come from.

    Every reader goes through here. With ``salvage`` the chunks stop before the first damaged
    packet, and a :class:`DataLossWarning` follows the last chunk.
    """
    with open_regular(path) as file:
        descriptor = file.fileno()
        layout = _layout(Path(path), descriptor, salvage)
        target = _target(layout, stream)
        chosen, window = _select(layout, target, window, salvage)
        damage, before = layout.damage, None
        decode = functools.partial(_decoded, descriptor, layout, target.size)
        groups = [chosen[a:b] for a, b in _groups(chosen, chunk_events)]
        with threads.ahead(lambda group: _salvaged(decode, group, salvage), groups) as decodes:
            for decoded, group, damaged in decodes:  # the next chunk decodes while this one is used
                _disagreements(decoded.notes, salvage)
                yield _finish(decoded, target, group, window, sort, before), target
                t = decoded.columns["t"]
                before = int(t[-1]) if len(t) else before
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
        raise FileFormatError(
            f"{path}: byte {len(MAGIC) + (header.field(header.root, 0) or 0)}: unknown compression type "
            f"{code} in the header (0-4 are defined: {DV_NAMES})"
        )
    table_at = header.scalar(header.root, 1, "<q", -1)
    description = header.string(header.root, 2)
    description_at = len(MAGIC) + header.vector(header.root, 2, 1)[0]
    declared = _streams(path, description, description_at)
    found = _packets(path, descriptor, code, table_at, data_start, end, declared)
    packets, has_table, data_end, damage = found
    if damage is not None and not salvage:
        raise FileFormatError(f"{damage[1]}; {_SALVAGE}")
    events = min((key for key, stream in declared.items() if stream.type == "EVTS"), default=None)
    return _Layout(
        path, code, description, description_at, declared, events, has_table, packets, data_end, damage
    )


def _packets(
    path: Path,
    descriptor: int,
    code: int,
    table_at: int,
    start: int,
    end: int,
    declared: dict[int, _Declared],
) -> tuple[list[Packet], bool, int, _Damage | None]:
    """The packets, whether they come from the table, where they end, and the damage that ends
    them early, if any.

    From the packet table when the header points to a sound one; else from the packet headers,
    walked from ``start`` to the table (or the file's end) up to the first incomplete or
    impossible one.
    """
    problem: _Damage | None = None
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
    found = damage or problem
    if found is None:
        return packets, False, end, None
    position, reason = found
    if damage is not None and problem is not None:
        reason = f"{reason}; {problem[1]}"
    return packets, False, end, (position, f"{path}: byte {position}: {reason}")


def _scan(
    descriptor: int, start: int, end: int, declared: dict[int, _Declared]
) -> tuple[list[Packet], tuple[int, str] | None]:
    """The packets from their headers, walked from ``start`` to ``end``, up to the first
    incomplete or impossible one, whose position and the reason it is come second."""
    packets: list[Packet] = []
    position = start
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
    """The FlatBuffer at file offset ``where``, whose errors name ``path`` and their byte offset."""
    return Buffer(data, identifier, where, path=path)


def _places(root: ElementTree.Element, text: str, at: int) -> Callable[[ElementTree.Element | None], int]:
    """The file offset of each element's start tag in the tree ``root`` parsed from ``text`` (the
    description, whose UTF-8 bytes start at file offset ``at``); ``at`` for None. Found on first
    use only (errors need them, reading does not): expat parses again, as ElementTree does, and
    its start tags come in the order of ``root.iter()``."""
    places: dict[ElementTree.Element, int] = {}

    def place(element: ElementTree.Element | None) -> int:
        if not places:
            offsets: list[int] = []
            parser = expat.ParserCreate("utf-8", "}")
            parser.StartElementHandler = lambda tag, attributes: offsets.append(at + parser.CurrentByteIndex)
            with contextlib.suppress(expat.ExpatError):  # ElementTree parsed it: so does expat
                parser.Parse(text.encode("utf-8"), True)
            places.update(zip(root.iter(), offsets, strict=False))  # the same elements, as a rule
        return at if element is None else places.get(element, at)

    return place


def _xml_fault(text: str) -> int:
    """Where expat, as ElementTree parses, finds ``text`` is not XML: a byte offset in its UTF-8."""
    parser = expat.ParserCreate("utf-8", "}")
    try:
        parser.Parse(text.encode("utf-8"), True)
    except expat.ExpatError:
        return max(parser.ErrorByteIndex, 0)
    return 0


def _streams(path: Path, text: str, at: int) -> dict[int, _Declared]:
    """Streams of the infoNode XML (whose bytes start at file offset ``at``), each event stream
    with eventcode's own attributes; a fault raises :class:`FileFormatError` naming the byte
    offset of the XML's syntax error or of the element at fault."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as err:
        raise FileFormatError(
            f"{path}: byte {at + _xml_fault(text)}: the stream description (infoNode XML from byte {at}) "
            f"is not valid XML: {err}"
        ) from None
    place = _places(root, text, at)
    outputs = root.find("./node[@name='outInfo']")
    if root.tag != "dv" or outputs is None:
        raise FileFormatError(
            f"{path}: byte {place(root)}: the stream description (infoNode XML from byte {at}) "
            "has no <dv><node name='outInfo'>, where every writer lists its streams"
        )
    streams = {}
    for node in outputs.findall("node"):
        name = node.get("name", "")
        if not name.isdigit():
            raise FileFormatError(
                f"{path}: byte {place(node)}: stream node {name!r} under outInfo is not a numeric stream id"
            )
        attrs = {a.get("key", ""): (a.text or "") for a in node.findall("attr")}
        found = {a.get("key", ""): a for a in node.findall("./node[@name='info']/attr")}
        info = {key: (a.text or "") for key, a in found.items()}

        def where(
            key: str, node: ElementTree.Element = node, found: dict[str, ElementTree.Element] = found
        ) -> int:
            """The file offset of the info attribute ``key`` (of the stream node without one)."""
            return place(found.get(key, node) if key else node)

        kind = attrs.get("typeIdentifier", "")
        size, attributes = None, _Attributes()
        if kind in ("EVTS", "FRME"):
            key = "sizeX"
            try:
                width = int(info[key])
                key = "sizeY"
                size = (width, int(info[key]))
                # blame the size below 1, or the stream node (a sensor too large for a sample)
                key = "sizeX" if width < 1 else "sizeY" if size[1] < 1 else ""
                address.check_shape((size[1], size[0]))
            except (KeyError, ValueError) as err:
                raise FileFormatError(
                    f"{path}: byte {where(key)}: stream {name} ({kind}) has no valid sizeX/sizeY "
                    f"in its info node ({err}): the sensor size must be two positive integers"
                ) from None
            if kind == "EVTS":
                attributes = _eventcode_attributes(path, info, size, where)
        streams[int(name)] = _Declared(kind, attrs.get("originalOutputName", ""), size, attributes)
    if not streams:
        raise FileFormatError(
            f"{path}: byte {place(outputs)}: the stream description declares no streams "
            "(no <node> under outInfo)"
        )
    return streams


class _AttributeError(ValueError):
    """An eventcode attribute of the description that is wrong: ``key`` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _eventcode_attributes(
    path: Path, info: dict[str, str], size: tuple[int, int], where: Callable[[str], int]
) -> _Attributes:
    """Sample shape, polarities and step time recorded by eventcode's writer, checked against the
    sensor and against int64 (every step's time in microseconds must be a timestamp the file can
    hold). An error names the file offset of the attribute at fault, ``where(key)``."""
    shape, polarities, steps = None, 2, None
    key = "eventcodeShape"
    try:
        if "eventcodeShape" in info:
            shape = address.check_shape(int(v) for v in info["eventcodeShape"].split(",") if v)
            planes = address.channels(shape)
            if (address.width(shape) * planes, address.height(shape)) != size:
                raise ValueError(f"eventcodeShape {shape} does not tile the {size[0]}x{size[1]} sensor")
        key = "eventcodePolarities"
        if "eventcodePolarities" in info:
            polarities = _attribute(info, "eventcodePolarities", 0)
            if polarities not in address.POLARITIES:
                raise ValueError(f"eventcodePolarities is {polarities}, not 2, 1 or 0")
        key = "eventcodeDtUs"
        if "eventcodeDtUs" in info:
            if "eventcodeNumSteps" not in info:
                raise ValueError("eventcodeDtUs comes without eventcodeNumSteps")
            steps = steptime.read_back(
                _attribute(info, "eventcodeNumSteps", 0),
                _attribute(info, "eventcodeDtUs", 1),
                _attribute(info, "eventcodeT0Us", INT64[0], "0"),
            )
    except ValueError as err:
        key = err.key if isinstance(err, _AttributeError) else key
        raise FileFormatError(
            f"{path}: byte {where(key)}: eventcode's attributes of the event stream are inconsistent: {err}"
        ) from None
    return _Attributes(shape, polarities, steps)


def _attribute(info: dict[str, str], key: str, low: int, default: str = "") -> int:
    """The integer attribute ``key`` of an ``info`` node, in ``[low, 2**63)``, else ValueError naming it."""
    text = info.get(key, default)
    try:
        value = int(text)
    except ValueError:
        raise _AttributeError(key, f"{key} is {text!r}, not an integer") from None
    if not low <= value <= INT64[1]:
        raise _AttributeError(key, f"{key} = {value} is outside [{low}, 2**63 - 1]")
    return value


def _table(
    path: Path, descriptor: int, code: int, position: int, end: int, start: int, streams: dict[int, _Declared]
) -> list[Packet]:
    """The packet list from the FileDataTable (its entries' fields gathered with numpy).

    The entries must list every packet in file order: contiguous from the data's ``start`` to
    the table's ``position``, each of a declared stream, so that no packet is left out or read
    out of place (O(entries)). Each packet header is checked against its entry when the packet
    is read, and each packet's records and time range when it is decoded.
    """
    blob = _decompress(path, code, os.pread(descriptor, end - position, position), position, None, b"FTAB")
    table = _buffer(path, blob, b"FTAB", position)
    vector, n = table.vector(table.root, 0, 4)
    columns = _entry_fields(table, vector, n)
    if columns is None:  # entry by entry, to name what is wrong (or read what numpy would not)
        entries = table.tables(table.root, 0)
        columns = [
            np.array([table.scalar(e, slot, fmt, 0) for e in entries], dtype=np.int64)
            for slot, fmt in ((0, "<q"), (1, "<i"), (1, "<i"), (2, "<q"), (3, "<q"), (4, "<q"))
        ]
        columns[2] = np.array([table.read("<i", at + 4) if (at := table.field(e, 1)) else 0 for e in entries])
    offset, stream, size, count, first_t, last_t = columns
    ends = offset + size
    expected = np.concatenate([[start], ends[:-1]]) + 8  # each payload right after the previous packet
    bad = (offset != expected) | (size < 0) | (count < 0) | ~np.isin(stream, list(streams))
    if bad.any():
        i = int(np.argmax(bad))
        raise FileFormatError(
            f"{path}: byte {position}: data table entry {i} lists a packet of stream {int(stream[i])} with "
            f"{int(size[i])} bytes and {int(count[i])} records at byte {int(offset[i]) - 8}, but the packets "
            f"of this file run on from byte {int(expected[i]) - 8} there: the table must list every packet "
            "of a declared stream, in file order"
        )
    holds = np.minimum(size * _EXPANDS[code], MAX_PAYLOAD)  # what each packet's bytes can hold
    many = count > holds // 16  # an EventPacket holds 16 bytes an event, and more
    events = [i for i in np.flatnonzero(many).tolist() if streams[int(stream[i])].type == "EVTS"]
    if events:
        i = events[0]
        raise FileFormatError(
            f"{path}: byte {position}: data table entry {i} lists {int(count[i])} events in the packet at "
            f"byte {int(offset[i]) - 8}, more than its {int(size[i])} bytes can hold "
            f"({DV_NAMES[code]}: at most {int(holds[i])} bytes once decompressed, {int(holds[i]) // 16} "
            f"events; {MAX_PAYLOAD} bytes a packet at most): a corrupt count"
        )
    covered = int(ends[-1]) if n else start
    if covered != position:
        raise FileFormatError(
            f"{path}: byte {position}: the data table's packets end at byte {covered}, but the packets "
            f"run on to the table at byte {position}: the table leaves packets out"
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


def _entry_fields(table: Buffer, vector: int, n: int) -> list[np.ndarray] | None:
    """Offset, stream, size, count, first and last time of each of the ``n`` PacketInfo tables
    listed from byte ``vector`` of the data ``table``, gathered with numpy whatever vtable each
    entry has; None where any offset or field falls outside (the caller then reads entry by entry,
    which names the fault)."""
    data = np.frombuffer(table.data, np.uint8)
    tables = vector + 4 * np.arange(n, dtype=np.int64) + np.frombuffer(table.data, "<u4", n, vector)
    if n == 0:
        return [np.zeros(0, np.int64) for _ in range(6)]
    if tables.max() + 4 > len(data):
        return None
    vtables = tables - _gather(data, tables, "<i4")
    if vtables.min() < 0 or vtables.max() + 4 > len(data):
        return None
    vsize = _gather(data, vtables, "<u2").astype(np.int64)
    tsize = _gather(data, vtables + 2, "<u2").astype(np.int64)
    if (vsize < 4).any() or (vsize % 2).any() or (vtables + vsize).max() > len(data):
        return None
    if (tables + tsize).max() > len(data):
        return None
    columns = []
    for slot, dtype, shift in (
        (0, "<i8", 0),
        (1, "<i4", 0),
        (1, "<i4", 4),
        (2, "<i8", 0),
        (3, "<i8", 0),
        (4, "<i8", 0),
    ):
        at = np.zeros(n, np.int64)
        listed = vsize >= 6 + 2 * slot
        at[listed] = _gather(data, vtables[listed] + 4 + 2 * slot, "<u2")
        present = at > 0
        if (at[present] + shift + np.dtype(dtype).itemsize > tsize[present]).any():
            return None
        values = np.zeros(n, np.int64)
        values[present] = _gather(data, tables[present] + at[present] + shift, dtype)
        columns.append(values)
    return columns


def _gather(data: np.ndarray, positions: np.ndarray, dtype: str) -> np.ndarray:
    """The little-endian scalars of ``dtype`` at byte ``positions`` of ``data`` (checked in range)."""
    size = np.dtype(dtype).itemsize
    return data[positions[:, None] + np.arange(size)].view(dtype).ravel()


def _select(layout: _Layout, target: _Target, window: Window, salvage: bool) -> tuple[list[Packet], Window]:
    """The packets of the ``target`` stream to decode, and the time window in microseconds.

    The packet table's time ranges pick the packets of a window when they run in time order
    (each packet's first time at most its last, at most the next packet's first): else (two
    entries' times swapped, or a stream whose time goes back) every packet is decoded, and each
    compared with its entry. With ``salvage`` every packet is decoded: its own times count, not
    its entry's.
    """
    t_start, t_end = window
    if target.steps is not None:  # windows are in steps for step-time files
        steps = target.steps
        t_start, t_end = (None if t is None else steps.t0_us + t * steps.dt_us for t in window)
    packets = [p for p in layout.packets if p.stream == target.id]
    if layout.has_table and not salvage and (t_start, t_end) != (None, None):
        times = [t for p in packets if p.count for t in (p.first, p.last) if t is not None]
        if _in_order(np.array(times, np.int64)):
            packets = [p for p in packets if _overlaps(p, t_start, t_end)]
    return packets, (t_start, t_end)


def _overlaps(packet: Packet, t_start: int | None, t_end: int | None) -> bool:
    """Whether a packet's time range (from the table; unknown: yes) meets ``[t_start, t_end)``."""
    first, last = packet.first, packet.last
    if first is None or last is None:
        return True
    return (t_start is None or last >= t_start) and (t_end is None or first < t_end)


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
            message = str(err)
        raise _PacketError(message, i)  # outside the handler: no traceback keeps a payload alive

    groups = threads.parallel(lambda run: [one(i) for i in range(*run)], _groups(packets, 1 << 16))
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


def _disagreement(layout: _Layout, packet: Packet, found: _Contents) -> str | None:
    """How a packet's own records and time range differ from its table entry; None when they
    agree, or without a table entry or records to compare."""
    listed = (packet.count, packet.first, packet.last)
    if packet.count is None or found[0] is None or found == listed or found[0] == packet.count == 0:
        return None
    return (
        f"{layout.path}: byte {packet.offset}: the packet holds {found[0]} records from t = {found[1]} "
        f"to {found[2]}, but its data table entry lists {packet.count} from t = {packet.first} to "
        f"{packet.last}"
    )


def _disagreements(notes: Sequence[str | None], salvage: bool) -> None:
    """Raise :class:`FileFormatError` for the first packet that disagrees with its table entry;
    with ``salvage``, warn of each instead (its own records were read)."""
    found = [note for note in notes if note is not None]
    if found and not salvage:
        raise FileFormatError(
            f"{found[0]}: the table or the packet is corrupt; pass salvage=True to read each packet's "
            "own records"
        )
    for note in found:
        warnings.warn(f"{note}; salvage read the packet's own records", DataLossWarning, stacklevel=3)


def _stored(descriptor: int, layout: _Layout, packet: Packet) -> memoryview:
    """The stored (compressed) payload of a packet, after checking its header."""
    blob = os.pread(descriptor, packet.size + 8, packet.offset - 8)
    return _after_header(layout, packet, memoryview(blob), 0)


def _after_header(layout: _Layout, packet: Packet, data: memoryview, at: int) -> memoryview:
    """The stored payload of ``packet`` whose header starts at ``data[at]``, after checking that
    header (stream and size, as the data table or the scan listed them)."""
    end = at + 8 + packet.size
    if end > len(data) or struct.unpack_from("<ii", data, at) != (packet.stream, packet.size):
        raise FileFormatError(
            f"{layout.path}: byte {packet.offset - 8}: no packet of stream {packet.stream} and "
            f"{packet.size} bytes here, as the data table says"
        )
    return data[at + 8 : end]


_SPAN = 1 << 22
"""Most bytes one read of neighbouring packets takes (4 MiB)."""
_GAP = 1 << 16
"""Most bytes of other packets (another stream's) one read of neighbouring packets skips over."""


def _spans(packets: Sequence[Packet]) -> Iterator[tuple[int, int, int]]:
    """``(i, j, start)``: packets ``i:j`` lie in one span of the file from byte ``start`` to the
    end of packet ``j - 1``, read in one system call (neighbours, at most :data:`_GAP` bytes of
    other packets apart, :data:`_SPAN` bytes in all)."""
    i = 0
    while i < len(packets):
        start, end, j = packets[i].offset - 8, packets[i].offset + packets[i].size, i + 1
        while j < len(packets):
            at, until = packets[j].offset - 8, packets[j].offset + packets[j].size
            if not end <= at <= end + _GAP or until - start > _SPAN:
                break
            end, j = until, j + 1
        yield i, j, start
        i = j


def _span(descriptor: int, packets: Sequence[Packet], start: int) -> memoryview:
    """The bytes from ``start`` to the end of the last of ``packets``, read into this thread's
    scratch buffer (valid until the next span is read)."""
    span = threads.scratch("aedat4.stored", packets[-1].offset + packets[-1].size - start, np.uint8)
    return span.data[: os.preadv(descriptor, [span.data], start)]


def _stored_each(descriptor: int, layout: _Layout, packets: Sequence[Packet]) -> Iterator[memoryview]:
    """The stored payloads of ``packets``, each after checking its header, read a span of
    neighbouring packets at a time (:func:`_spans`): a payload is valid only until the next one
    is asked for."""
    for i, j, start in _spans(packets):
        data = _span(descriptor, packets[i:j], start)
        for packet in packets[i:j]:
            yield _after_header(layout, packet, data, packet.offset - 8 - start)


def _payloads_into(
    descriptor: int,
    layout: _Layout,
    packets: Sequence[Packet],
    counts: Sequence[int],
    heads: memoryview,
    records: memoryview,
) -> bool:
    """The event packets' payloads decompressed, their first 32 bytes (a known writer's header)
    one after another into ``heads``, the rest (the records) into ``records``, each as large as
    its table entry's count (``counts``) says; False at the first packet that does not hold
    what its entry lists (damaged or otherwise laid out: the caller then reads packet by
    packet, naming the fault). The caller holds :func:`_most_held` of the packets, which covers
    each decompression."""
    code, put, head = layout.code, 0, 0
    try:
        for i, j, start in _spans(packets):
            data = _span(descriptor, packets[i:j], start)
            for packet, count in zip(packets[i:j], counts[i:j], strict=True):
                at, expect = packet.offset - 8 - start, 32 + 16 * count
                if _HEADER.unpack_from(data, at) != (packet.stream, packet.size):
                    return False
                stored = data[at + 8 : at + 8 + packet.size]
                payload = (
                    stored
                    if code == 0
                    else _decompress(layout.path, code, stored, packet.offset, expect, b"EVTS", True)
                )
                if len(payload) != expect:
                    return False
                view = memoryview(payload)
                heads[head : head + 32] = view[:32]
                records[put : put + expect - 32] = view[32:]
                head, put = head + 32, put + expect - 32
    except (FileFormatError, struct.error):
        return False
    return True


_HEADER = struct.Struct("<ii")


def _payload(layout: _Layout, packet: Packet, stored: bytes | memoryview) -> bytes | memoryview:
    """The decompressed payload (a size-prefixed FlatBuffer) of a packet's ``stored`` bytes: an
    event packet whose table entry lists ``n`` events may hold ``16 * n`` bytes and
    :data:`EVENT_PACKET_OVERHEAD`, any other :func:`_decompress`'s general bound."""
    limit, kind = None, layout.declared[packet.stream].type
    if packet.count is not None and kind == "EVTS":
        limit = 16 * packet.count + EVENT_PACKET_OVERHEAD
    identifier = kind.encode() if kind in _PARSED else None
    return _decompress(layout.path, layout.code, stored, packet.offset, limit, identifier)


_PARSED = ("EVTS", "IMUS", "TRIG", "FRME")
"""The stream types whose packets are read (:func:`_records`), each a FlatBuffer identified so."""


def _packet_records(descriptor: int, layout: _Layout, packet: Packet) -> tuple[np.ndarray, str | None]:
    """One packet's events as 16-byte structs, read and decompressed, and how the packet
    disagrees with its table entry (None where it agrees)."""
    start, count, payload, note = _event_bytes(layout, packet, _stored(descriptor, layout, packet))
    return np.frombuffer(payload, EVENT, count=count, offset=start), note


def _event_bytes(
    layout: _Layout, packet: Packet, stored: memoryview
) -> tuple[int, int, bytes | memoryview, str | None]:
    """``(start, count, payload, note)`` of an event packet's ``stored`` bytes: its event structs
    are ``count`` from byte ``start`` of the decompressed ``payload``; ``note`` says how the
    packet disagrees with its table entry (None where it agrees)."""
    payload = _payload(layout, packet, stored)
    start, count = _event_vector(layout.path, payload, packet.offset)
    found: _Contents = (0, None, None)
    if count:
        last = start + 16 * (count - 1)
        found = (count, *_TIMES.unpack_from(payload, start), *_TIMES.unpack_from(payload, last))
    return start, count, payload, _disagreement(layout, packet, found)


_TIMES = struct.Struct("<q")


def _decode(
    descriptor: int, layout: _Layout, packets: list[Packet]
) -> tuple[list[np.ndarray], list[str | None]]:
    """Each packet's events as 16-byte structs, read and decompressed on all cores, and how each
    packet disagrees with its table entry (None where it agrees)."""

    results = _each_packet(functools.partial(_packet_records, descriptor, layout), packets)
    return [records for records, _ in results], [note for _, note in results]


_KNOWN_LAYOUTS = (
    (struct.Struct("<II4s3H2xiII"), (16, b"EVTS", 6, 8, 4, 8, 4)),  # eventcode's
    (struct.Struct("<II4s2x3HiII"), (16, b"EVTS", 6, 8, 4, 6, 4)),  # dv-processing's and faery's
)
"""The EventPacket layouts of the known writers (root table at 20, events from byte 32), each
with its expected root offset, identifier, vtable and table fields: a fast path for reading."""


_KNOWN_HEADS = [
    np.frombuffer(layout.pack(0, *expected, 0)[4:28], np.uint8) for layout, expected in _KNOWN_LAYOUTS
]
"""Bytes 4-28 of the known EventPacket layouts: all but the size prefix and the event count."""


def _event_vector(path: Path, payload: bytes | memoryview, where: int) -> tuple[int, int]:
    """``(start, count)`` of the event structs in an EVTS EventPacket payload.

    The vector must end the payload (as every writer lays it out): 16 bytes or more after it
    would be events the vector does not list, a corrupt length, and raise :class:`FileFormatError`.
    """
    if len(payload) >= 32:
        for layout, expected in _KNOWN_LAYOUTS:
            size, *fields, count = layout.unpack_from(payload)
            if tuple(fields) == expected and size + 4 == len(payload) == 32 + 16 * count:
                return 32, count
    buffer = _buffer(path, payload, b"EVTS", where)
    start, count = buffer.vector(buffer.root, 0, 16)
    left = len(payload) - (start + 16 * count)
    if left >= 16:
        raise FileFormatError(
            f"{path}: byte {where}: the packet's event vector lists {count} events, but {left} bytes of "
            f"the packet follow it, room for {left // 16} more (a corrupt vector length)"
        )
    return start, count


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


class _Decoded(NamedTuple):
    """Decoded packets: columns t, x, y, p (as stored: int64, int16, int16, bool), where each
    packet's events start (``bounds``), whether time never goes back, and how each packet
    disagrees with its table entry (None where it agrees)."""

    columns: dict[str, np.ndarray]
    bounds: np.ndarray
    ordered: bool
    notes: list[str | None]


def _decoded(descriptor: int, layout: _Layout, size: tuple[int, int], packets: list[Packet]) -> _Decoded:
    """The packets' columns, filled and checked a group of packets at a time on all cores.

    When the table gives every packet's count, each group reads its packets' stored bytes (a
    span of neighbouring packets a system call), decompresses each into this thread's scratch
    buffer of records and copies the group's records into their place in the columns at once,
    so that small packets cost little beyond their decompression, and no file's worth of
    payloads is kept (fresh memory, whose page faults serialize the threads); each group holds
    what its decompressions may take of :data:`DECOMPRESSION_BUDGET` once (:func:`_most_held`).
    A table that lists more events than memory can hold (numpy refuses the columns) sends the
    read the long way, where each packet's own records count. A packet that
    disagrees with its table entry sends the whole read the long way: every packet decoded
    first, then copied. Addresses are checked in their stored int16 with
    :func:`eventcode.checks.addresses`, against the declared sensor ``size``: an event outside
    raises :class:`_PacketError` naming its packet. Time order
    (:func:`eventcode.checks.time_order`) is only noted here, in ``ordered``: the caller sorts or
    raises.
    """
    listed = [packet.count for packet in packets]
    columns: dict[str, np.ndarray] | None = None
    if None not in listed:
        counts = cast(list[int], listed)
        sizes = [packet.size for packet in packets]
        bounds = np.cumsum([0, *counts])
        with contextlib.suppress(MemoryError):  # more events listed than memory holds: the long way
            columns = empty_columns(int(bounds[-1]))  # pages are taken as events fill them
    if columns is not None:
        placed = columns

        def direct(run: tuple[int, int]) -> tuple[list[str | None], bool]:
            a, b = run
            group = packets[a:b]
            with _BUDGET.held(_most_held(max(sizes[a:b]), 16 * max(counts[a:b]))):  # covers each packet
                try:
                    heads = threads.scratch("aedat4.heads", 32 * (b - a), np.uint8)
                    records = threads.scratch("aedat4.records", int(bounds[b] - bounds[a]) * 16, np.uint8)
                except MemoryError:  # more events listed than memory holds: the long way
                    return [_LONG_WAY] * (b - a), False
                return fill(a, b, group, heads, records)

        def fill(
            a: int, b: int, group: list[Packet], heads: np.ndarray, records: np.ndarray
        ) -> tuple[list[str | None], bool]:
            fast = _payloads_into(descriptor, layout, group, counts[a:b], heads.data, records.data)
            if fast and _placed_payloads(placed, heads, records, group, counts[a:b], int(bounds[a])):
                return [None] * (b - a), True
            into, at, notes, message = records.data, 0, [], ""
            stored = _stored_each(descriptor, layout, group)
            for i in range(a, b):
                try:
                    start, count, payload, note = _event_bytes(layout, packets[i], next(stored))
                except FileFormatError as err:
                    message = str(err)
                    break
                notes.append(note)
                if note is None:
                    into[at : at + 16 * count] = memoryview(payload)[start : start + 16 * count]
                    at += 16 * count
            if message:  # raised outside the handler: no traceback keeps a payload alive
                raise _PacketError(message, a + len(notes))
            if any(notes):
                return notes, False
            _place(placed, records.view(EVENT), int(bounds[a]))
            return notes, True

        decoded = _filled(placed, bounds, size, layout, packets, direct)
        if not any(decoded.notes):
            return decoded
    parts, notes = _decode(descriptor, layout, packets)
    bounds = np.cumsum([0] + [len(part) for part in parts])
    decoded_columns = empty_columns(int(bounds[-1]))

    def copied(run: tuple[int, int]) -> tuple[list[str | None], bool]:
        for i in range(*run):
            _place(decoded_columns, parts[i], int(bounds[i]))
        return notes[run[0] : run[1]], True

    return _filled(decoded_columns, bounds, size, layout, packets, copied)


_LONG_WAY = "a run of packets listing more events than memory holds"
"""The note :func:`_decoded` gives a run it leaves to the long way, each packet decoded first."""


def _placed_payloads(
    columns: dict[str, np.ndarray],
    heads: np.ndarray,
    records: np.ndarray,
    packets: Sequence[Packet],
    listed: Sequence[int],
    at: int,
) -> bool:
    """The packets' event ``records`` placed in the columns from event ``at``, after checking
    their EventPacket ``heads`` (as :func:`_payloads_into` leaves them) against the known
    writers' layouts, and each packet's count and first and last time against its table entry
    (``listed`` counts), all at once; False, placing nothing, where any differs."""
    counts = np.array(listed, np.int64)
    heads = heads.reshape(-1, 32)
    known = np.zeros(len(packets), bool)
    for pattern in _KNOWN_HEADS:
        known |= (heads[:, 4:28] == pattern).all(axis=1)
    sizes, found = heads[:, :4].copy().view("<u4").ravel(), heads[:, 28:].copy().view("<u4").ravel()
    if not (known.all() and np.array_equal(sizes, 28 + 16 * counts) and np.array_equal(found, counts)):
        return False
    events = records.view(EVENT)
    held = counts > 0
    first = (np.cumsum(counts) - counts)[held]
    ends = np.array([(packet.first, packet.last) for packet in packets if packet.count], np.int64).reshape(
        -1, 2
    )
    t = events["t"]
    if not (np.array_equal(t[first], ends[:, 0]) and np.array_equal(t[first + counts[held] - 1], ends[:, 1])):
        return False
    _place(columns, events, at)
    return True


def _place(columns: dict[str, np.ndarray], records: np.ndarray, at: int) -> None:
    """Event records into the columns from event ``at``."""
    end = at + len(records)
    for name in "txy":
        columns[name][at:end] = records[name]
    np.not_equal(records["p"], 0, out=columns["p"][at:end])


def _filled(
    columns: dict[str, np.ndarray],
    bounds: np.ndarray,
    size: tuple[int, int],
    layout: _Layout,
    packets: list[Packet],
    fill: Callable[[tuple[int, int]], tuple[list[str | None], bool]],
) -> _Decoded:
    """Packets filled by ``fill(run)`` a run of about 65,536 events at a time, on all cores, and
    checked. ``fill`` returns how each packet of the run disagrees with its table entry (None
    where it agrees) and whether it placed the run's events; it raises :class:`_PacketError`
    naming a damaged packet."""

    def group(run: tuple[int, int]) -> tuple[list[str | None], bool]:
        notes, placed = fill(run)
        if not placed:  # a packet left out (the read goes the long way): nothing to check
            return notes, True
        lo, hi = bounds[run[0]], bounds[run[1]]
        try:
            _inside(columns, lo, hi, size)
        except AddressError:
            for i in range(*run):  # the first packet holding an event outside, by its byte offset
                try:
                    _inside(columns, bounds[i], bounds[i + 1], size)
                except AddressError as err:
                    raise _PacketError(
                        f"{layout.path}: byte {packets[i].offset}: an event outside the declared "
                        f"{size[0]}x{size[1]} sensor: {err}",
                        i,
                    ) from None
        return notes, _in_order(columns["t"][lo:hi])

    ranges = _runs([int(b - a) for a, b in itertools.pairwise(bounds)], 1 << 16)  # few thread hand-offs
    results = list(threads.parallel(group, ranges))  # every group checked, even after one fails
    notes = [note for found, _ in results for note in found]
    n = int(bounds[-1])
    starts = [int(bounds[a]) for a, _ in ranges[1:]]
    ordered = all(ordered for _, ordered in results)
    ordered = ordered and all(_in_order(columns["t"][s - 1 : s + 1]) for s in starts if 0 < s < n)
    return _Decoded(columns, bounds, ordered, notes)


def _inside(columns: dict[str, np.ndarray], lo: int, hi: int, size: tuple[int, int]) -> None:
    """:func:`eventcode.checks.addresses` of events ``lo:hi``, as stored, on a ``(W, H)`` sensor."""
    width, height = size
    offsets = np.array([0, hi - lo])
    checks.addresses("x", columns["x"][lo:hi], width, offsets, (height, width))
    checks.addresses("y", columns["y"][lo:hi], height, offsets, (height, width))


def _in_order(t: np.ndarray) -> bool:
    """Whether time never goes back in ``t`` (:func:`eventcode.checks.time_order`)."""
    try:
        checks.time_order(t, np.array([0, len(t)]))
    except TimeOrderError:
        return False
    return True


def _check_order(
    path: Path, packets: list[Packet], t: np.ndarray, bounds: np.ndarray, before: int | None
) -> None:
    """:func:`eventcode.checks.time_order` packet by packet, each with the event before it (the
    last of the packets before, else ``before``): the first packet going back in time raises
    :class:`FileFormatError` naming its byte offset."""
    for i, packet in enumerate(packets):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        previous = t[lo - 1 : lo] if lo else np.array([] if before is None else [before], np.int64)
        events = np.concatenate([previous, t[lo:hi]])
        try:
            checks.time_order(events, np.array([0, len(events)]))
        except TimeOrderError as err:
            counted = ", t[0] being the event before it" if len(previous) else ""
            raise FileFormatError(
                f"{path}: byte {packet.offset}: this packet's events go back in time{counted}: {err}"
            ) from None


def _finish(
    decoded: _Decoded,
    target: _Target,
    packets: list[Packet],
    window: Window,
    sort: bool,
    before: int | None,
) -> dict[str, np.ndarray]:
    """The columns :func:`read_columns` gives: in time order after ``before`` (sorted with
    ``sort``, else checked), cut to ``window`` (us), checked against the recorded polarities,
    with the channel split off ``x`` and time in steps where the file records step time."""
    columns, order = decoded.columns, None
    t = columns["t"]
    follows = before is None or not len(t) or _in_order(np.array([before, t[0]]))  # the chunk before
    if not (decoded.ordered and follows):
        if not sort:
            _check_order(target.path, packets, t, decoded.bounds, before)
        order = np.argsort(t, kind="stable")
        columns = {name: column[order] for name, column in columns.items()}
        t = columns["t"]
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    columns = {name: column[lo:hi] for name, column in columns.items()}

    def place(i: int) -> int:
        """The file offset of the packet holding event ``i`` of the columns returned."""
        event = lo + i if order is None else int(order[lo + i])
        return packets[int(np.searchsorted(decoded.bounds, event, side="right")) - 1].offset

    try:
        checks.polarity(columns["p"], np.array([0, hi - lo]), target.polarities)
    except EventsError as err:
        p = columns["p"]
        i = checks.first(p != p[0]) if target.polarities == 1 else checks.first(~p)
        raise FileFormatError(
            f"{target.path}: byte {place(i)}: events unlike the recorded polarities "
            f"(eventcodePolarities = {target.polarities}): {err}"
        ) from None
    if address.channels(target.shape) > 1:
        width = address.width(target.shape)
        columns["c"] = columns["x"] // width
        columns["x"] = columns["x"] - columns["c"] * width
    if target.steps is not None:
        columns["t"] = _steps(columns["t"], target.steps, target.path, place)
    return columns


def _steps(t: np.ndarray, steps: StepTime, path: Path, place: Callable[[int], int]) -> np.ndarray:
    """Microseconds to steps, ``(t - t0_us) / dt_us``: whole steps in ``[0, num_steps)``
    (:func:`eventcode.checks.steps`), else :class:`FileFormatError` naming the file offset
    ``place(i)`` of the packet holding the first event ``t[i]`` that is not.

    ``t - t0_us`` may wrap in int64 only for a ``t`` beyond the recorded steps, to a negative
    step: :func:`_eventcode_attributes` keeps every step's time within int64.
    """
    k, rest = np.divmod(t - steps.t0_us, steps.dt_us)

    def where(i: int) -> str:
        return (
            f"{path}: byte {place(i)}: an event is not on the recorded step time t0_us + k * dt_us "
            f"(t0_us = {steps.t0_us}, dt_us = {steps.dt_us}, 0 <= k < num_steps = {steps.num_steps})"
        )

    if len(t) and rest.any():
        i = checks.first(rest != 0)
        raise FileFormatError(f"{where(i)}: t[{i}] = {int(t[i])} us lies between two steps")
    try:
        checks.steps(k, np.array([0, len(t)]), steps.num_steps)
    except TimeOrderError as err:
        raise FileFormatError(f"{where(checks.first((k < 0) | (k >= steps.num_steps)))}: {err}") from None
    return k


def _events(columns: dict[str, np.ndarray], target: _Target) -> Events:
    """One chunk of columns (checked) as one-sample :class:`~eventcode.Events`."""
    return steptime.one_sample(columns, target.shape, target.polarities, target.steps)


def _decompress(
    path: Path,
    code: int,
    data: bytes | memoryview,
    where: int,
    limit: int | None = None,
    identifier: bytes | None = None,
    covered: bool = False,
) -> bytes | memoryview:
    """Decompress one packet (or the table), refusing sizes beyond what it can hold, in memory
    reserved from :data:`DECOMPRESSION_BUDGET`.

    ``limit`` is the most bytes the packet can hold (an event packet's, from its table entry);
    without it a frame may expand at most 256 times (LZ4's own bound) or 4096 times (zstd, far
    beyond event data), and never past :data:`MAX_PAYLOAD`. A size the frame declares is checked
    against the limit before anything is allocated. A frame without one is cut off past the
    limit, and where it could write more than :data:`_HEAD_FIRST` bytes, its payload's FlatBuffer
    header comes first: its size prefix (and :data:`_SLACK` bytes) becomes the limit, and its
    identifier must be ``identifier`` where one is given. Each decompression reserves what it may
    allocate before it starts (:class:`_Budget`): a corrupt size field or a frame that expands
    hugely cannot make the reader allocate gigabytes, on any number of cores. ``covered``: the
    caller holds :func:`_most_held` of the packet, which covers a one-call decompression (the
    packets of a run, held once, pay nothing more here).
    """
    if code == 0:
        return data
    if limit is None:
        limit = min(MAX_PAYLOAD, max(1 << 20, (256 if code in (1, 2) else 4096) * len(data)))
    try:
        if code in (1, 2):
            return _lz4_decompressed(data, limit, identifier, covered)
        return _zstd_decompressed(data, limit, identifier, covered)
    except FileFormatError as err:
        message = f"{path}: byte {where}: {err}"
    except (RuntimeError, zstandard.ZstdError, ValueError, KeyError) as err:
        message = f"{path}: byte {where}: corrupt {DV_NAMES[code]} data ({err})"
    # raised outside the handler, so that no error keeps the refused output alive in its traceback
    raise FileFormatError(message)


def _lz4_decompressed(data: bytes | memoryview, limit: int, identifier: bytes | None, covered: bool) -> bytes:
    """An LZ4 frame's content, at most ``limit`` bytes (:func:`_decompress`). python-lz4 may hold
    twice its output while it decompresses (a buffer and the bytes it returns), and a block of
    the frame where the output cannot take a whole block."""
    declared = _lz4_content_size(data)  # 0: not declared
    if declared > limit:
        raise FileFormatError(f"the LZ4 frame claims {declared} bytes, more than the {limit} it may hold")
    most = declared or 256 * len(data)  # the most the frame can write
    if most > _HEAD_FIRST and not declared:
        most = _lz4_most(data, limit)
    if len(data) <= _SMALL_FRAME and (declared or most <= _HEAD_FIRST):
        # one call, checksums and all: small frames are most packets (a run's hold covers them)
        if covered:
            small: bytes = lz4.frame.decompress(data)
        else:
            with _BUDGET.held(2 * most):
                small = lz4.frame.decompress(data)
        if len(small) > limit:
            raise FileFormatError(f"the LZ4 frame expands past the {limit} bytes it may hold")
        return small
    decompressor = lz4.frame.LZ4FrameDecompressor()
    block = _lz4_block(data)
    head, why = b"", ""
    if not declared and min(most, limit) > _HEAD_FIRST:
        with _BUDGET.held(_FLATBUFFER_HEAD + block):
            head = decompressor.decompress(data, max_length=_FLATBUFFER_HEAD)
        limit, why = _sized(head, limit, identifier, "LZ4")
        data = b""  # the rest of the frame comes from the decompressor
    most = min(most, limit)
    with _BUDGET.held(2 * (most + 1) + block):
        out: bytes = (
            b"" if decompressor.eof else decompressor.decompress(data, max_length=most + 1 - len(head))
        )
        if head:
            out = head + out
    if len(out) > limit:
        raise FileFormatError(f"the LZ4 frame expands past the {limit} bytes it may hold{why}")
    if declared and len(out) > declared:
        raise FileFormatError(f"the LZ4 frame expands past the {declared} bytes its header declares")
    if not decompressor.eof:
        raise FileFormatError(f"the LZ4 frame ends early, after {len(out)} bytes (truncated)")
    return out


def _zstd_decompressed(
    data: bytes | memoryview, limit: int, identifier: bytes | None, covered: bool
) -> bytes | memoryview:
    """A zstd frame's content, at most ``limit`` bytes (:func:`_decompress`): of a declared size
    in one call (which holds just its output), else streamed by a decompressor of its own (whose
    window, freed after, holds as much as the output)."""
    declared = zstandard.frame_content_size(data)
    if declared > limit:
        raise FileFormatError(f"the zstd frame claims {declared} bytes, more than the {limit} it may hold")
    if declared >= 0:
        if covered:  # by a run's hold
            whole: bytes = _ZSTD.decompressor.decompress(data, max_output_size=declared)
        else:
            with _BUDGET.held(declared):
                whole = _ZSTD.decompressor.decompress(data, max_output_size=declared)
        return whole
    most = min(limit, _EXPANDS[3] * len(data))  # the most the frame can write, within the limit
    reader = zstandard.ZstdDecompressor().stream_reader(data)
    head, why = b"", ""
    if most > _HEAD_FIRST:
        with _BUDGET.held(_FLATBUFFER_HEAD + _ZSTD_BLOCK):
            head = _read(reader, _FLATBUFFER_HEAD)
        limit, why = _sized(head, limit, identifier, "zstd")
        most = min(most, limit)
    with _BUDGET.held(2 * (most + 1)):
        out = np.empty(most + 1, np.uint8)  # pages are taken as the frame fills them
        out[: len(head)] = np.frombuffer(head, np.uint8)
        size = len(head) + _read_into(reader, out.data[len(head) :])
    if size > limit:
        raise FileFormatError(f"the zstd frame expands past the {limit} bytes it may hold{why}")
    return out.data[:size]


def _read(reader: zstandard.ZstdDecompressionReader, size: int) -> bytes:
    """Up to ``size`` bytes from a zstd stream reader (fewer only where the frame ends)."""
    parts, got = [], 0
    while got < size:
        part = reader.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_into(reader: zstandard.ZstdDecompressionReader, into: memoryview) -> int:
    """Bytes read from a zstd stream reader into ``into`` until it is full or the frame ends."""
    got = 0
    while got < len(into):
        count = reader.readinto(into[got:])
        if not count:
            break
        got += count
    return got


def _sized(head: bytes, limit: int, identifier: bytes | None, codec: str) -> tuple[int, str]:
    """The limit of a payload whose first bytes are ``head``: the size its FlatBuffer's prefix
    gives and :data:`_SLACK` bytes, after checking it against ``limit`` and the FlatBuffer's
    identifier against ``identifier`` (when given); and how the error past it says so."""
    if len(head) < _FLATBUFFER_HEAD:  # the whole payload: the FlatBuffer's own checks blame it
        return limit, ""
    size = struct.unpack_from("<I", head)[0] + 4
    if size > limit:
        raise FileFormatError(
            f"the {codec} frame holds a FlatBuffer whose size prefix says {size} bytes, more than the "
            f"{limit} it may hold"
        )
    if identifier is not None and head[8:12] != identifier:
        raise FileFormatError(
            f"the {codec} frame holds a FlatBuffer of identifier {head[8:12]!r}, expected {identifier!r}"
        )
    if size + _SLACK >= limit:
        return limit, ""
    return size + _SLACK, f" (its FlatBuffer's size prefix says {size}, and {_SLACK} bytes may follow)"


_EXPANDS = {0: 1, 1: 256, 2: 256, 3: 1 << 15, 4: 1 << 15}
"""The most a stored payload of each compression code expands: not at all uncompressed, 255 times
for LZ4 (a match of 255 bytes costs a byte), 32,768 times for zstd (an RLE block of 4 bytes
writes at most 128 KiB): a packet table entry that lists more events than this is refused."""
_SMALL_FRAME = 1 << 18
"""Stored LZ4 frames up to this many bytes (256 KiB) that declare their size, or can hold no more
than :data:`_HEAD_FIRST`, decompress in one call, without a streaming decompressor's limit."""
_HEAD_FIRST = 1 << 22
"""A frame without a declared size that could write more than this (4 MiB) first decompresses
its payload's FlatBuffer header, whose size prefix bounds the rest."""
_FLATBUFFER_HEAD = 12
"""Bytes of a size-prefixed FlatBuffer's header: size prefix, root offset, identifier."""
_SLACK = 1 << 10
"""Bytes a payload may hold after the FlatBuffer its size prefix gives (no known writer adds
any): beyond them a frame whose limit comes from its size prefix is refused."""
_ZSTD_BLOCK = 1 << 18
"""A zstd stream decoder's buffers for a block: 128 KiB of input and of output."""
_LZ4_BLOCKS = {4: 1 << 16, 5: 1 << 18, 6: 1 << 20, 7: 1 << 22}
"""LZ4 frame block size by the header's BD code: 64 KiB, 256 KiB, 1 MiB, 4 MiB."""


def _lz4_content_size(frame: bytes | memoryview) -> int:
    """The content size an LZ4 frame's header declares (0 where it declares none)."""
    if len(frame) >= 14 and frame[4] & 0x08:
        size: int = struct.unpack_from("<Q", frame, 6)[0]
        return size
    return 0


def _lz4_block(frame: bytes | memoryview) -> int:
    """The block size an LZ4 frame's header gives (4 MiB, the largest, where it gives none)."""
    return _LZ4_BLOCKS.get(frame[5] >> 4 & 7, 1 << 22) if len(frame) > 5 else 1 << 22


def _lz4_most(frame: bytes | memoryview, cap: int) -> int:
    """The most bytes an LZ4 frame without a declared size can decompress to: 256 times its size
    (LZ4 expands at most 255 times), or fewer, its blocks times its block size (no block
    decompresses past it, and one more for a frame cut short inside a block), counted until they
    pass ``cap`` and :data:`_HEAD_FIRST` (then the count is more than either, not the most)."""
    end = len(frame)
    if end < 7:
        return 256 * end
    flags = frame[4]
    block = _LZ4_BLOCKS.get(frame[5] >> 4 & 7, 1 << 22)
    position = 7 + (flags & 0x08) + (flags & 0x01) * 4  # after the content size and dictionary id
    checksum = 8 if flags & 0x10 else 4  # the block size field, and the block checksum if any
    blocks, enough, size = 1, max(cap, _HEAD_FIRST) // block, _U32.unpack_from
    while position + 4 <= end and blocks <= enough:
        length = size(frame, position)[0] & 0x7FFFFFFF
        if not length:  # the end mark: no block cut short
            blocks -= 1
            break
        blocks += 1
        position += checksum + length
    return min(256 * end, blocks * block)


_U32 = struct.Struct("<I")


class _Budget:
    """Bytes of memory shared by the decompressions in flight on every thread
    (:data:`DECOMPRESSION_BUDGET`).

    ``with budget.held(n):`` waits until ``n`` bytes are free, holds them while the block runs,
    then frees them. A request larger than the whole budget waits until nothing is held, then
    holds it all: such a packet decompresses alone. Once one request waits, later ones queue
    behind it, so small requests cannot starve a large one. Holds nest: within a thread's hold,
    a request it covers costs nothing (so a run of packets is held once, not packet by packet),
    and a larger one gives back what the thread holds before it waits for the larger amount.
    Nothing waits while holding bytes, so no deadlock.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: collections.deque[object] = collections.deque()
        self.mine = threading.local()
        """``size``: the bytes this thread holds."""

    def held(self, size: int) -> _Held | contextlib.nullcontext[None]:
        """A context that holds ``size`` bytes (the whole budget at most) while it runs."""
        if getattr(self.mine, "size", 0) >= min(size, self.total):
            return _COVERED  # by the hold around it
        return _Held(self, size)

    def take(self, size: int) -> int:
        """Hold ``size`` bytes (at most the whole budget) once they are free; returns what is held."""
        size = min(size, self.total)
        with self._lock:
            if self._queue or (self.used and self.used + size > self.total):
                turn = object()
                self._queue.append(turn)
                while self._queue[0] is not turn or (self.used and self.used + size > self.total):
                    self._changed.wait()
                self._queue.popleft()
                self._changed.notify_all()  # the next in line may fit too
            self.used += size
        return size

    def give(self, size: int) -> None:
        """Free ``size`` bytes that :meth:`take` held."""
        with self._lock:
            self.used -= size
            if self._queue:
                self._changed.notify_all()


class _Held:
    """``with`` :meth:`_Budget.held`: the bytes held while the block runs (see :class:`_Budget`)."""

    __slots__ = ("budget", "outermost", "size")

    def __init__(self, budget: _Budget, size: int) -> None:
        self.budget, self.size, self.outermost = budget, size, False

    def __enter__(self) -> None:
        budget, mine = self.budget, self.budget.mine
        have: int = getattr(mine, "size", 0)
        self.outermost = not have
        if have:  # give back, then wait for the larger amount holding nothing
            mine.size = 0
            budget.give(have)
        mine.size = budget.take(self.size)

    def __exit__(self, *error: object) -> None:
        if self.outermost:
            mine = self.budget.mine
            self.budget.give(mine.size)
            mine.size = 0


_BUDGET = _Budget(DECOMPRESSION_BUDGET)
_COVERED = contextlib.nullcontext()


def _most_held(size: int, limit: int) -> int:
    """The most that :func:`_decompress` holds of :data:`_BUDGET` for a stored payload of at most
    ``size`` bytes that may hold ``limit`` (or :data:`EVENT_PACKET_OVERHEAD` more): twice what it
    may write (a small LZ4 frame's, up to :data:`_HEAD_FIRST`, whatever its limit), and the
    largest LZ4 block. Held around a run of packets, it covers each one's decompression."""
    most = max(limit + EVENT_PACKET_OVERHEAD, min(256 * size, _HEAD_FIRST))
    return 2 * (most + 1) + (1 << 22)


class _ThreadZstd(threading.local):
    """zstd contexts of this thread, kept from one packet to the next (contexts are not
    thread-safe, and a compression context's tables cost as much to set up as a small packet
    costs to compress)."""

    def __init__(self) -> None:
        self.decompressor = zstandard.ZstdDecompressor()
        self.compressors: dict[int, zstandard.ZstdCompressor] = {}

    def compressor(self, level: int) -> zstandard.ZstdCompressor:
        if level not in self.compressors:
            self.compressors[level] = zstandard.ZstdCompressor(level=level)
        return self.compressors[level]


_ZSTD = _ThreadZstd()
