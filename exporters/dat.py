"""Prophesee DAT: a ``%`` text header, then 8-byte CD event records (32-bit time, 32-bit address).

A file is header lines starting with ``%`` (``% Data file containing CD events.``, ``% Date``,
``% Version 2``, ``% Width``, ``% Height``), ending at the first line that does not start with
``%``; then two bytes, the event type (``0x0C`` CD, or ``0x00`` Event2D, which N-CARS and
expelliarmus write, with the same records) and the event size (8); then records of a
little-endian ``uint32`` time in microseconds and a little-endian ``uint32`` word: in version 2
``x`` bits 13-0, ``y`` bits 27-14 and the polarity bits 31-28; in version 1 ``x`` bits 8-0,
``y`` bits 16-9 and the polarity bits 20-17. A polarity other than 0 or 1 is a
:class:`~eventcode.errors.FileFormatError` naming its byte offset, as is a type other than CD
or Event2D (external triggers, ``0x0E``), an address outside the header's sensor, and a time
going back by 2^31 us or less. A file that ends inside a record has its complete records read
and a :class:`~eventcode.errors.DataLossWarning` for the rest.

The sensor size is the header's ``% Width`` and ``% Height``, else ``sensor_size=``, else the
largest address in the file plus one, with an :class:`~eventcode.errors.EventcodeWarning` saying it was
guessed (N-CARS samples have no size in their header). faery 0.7 reads only type ``0x0C`` files:
it refuses Event2D files (N-CARS', expelliarmus') as ``unsupported type "2d"``, whose records are
the same.

Times are 32 bits of microseconds and wrap every 2^32 us (71.6 minutes): reading adds 2^32
wherever the time drops by more than 2^31 us, as faery and expelliarmus do. Writing stores each
time modulo 2^32 and refuses consecutive events 2^31 us or more apart (they would read back
wrong). A stream may start beyond 2^32 us: eventcode records the multiple of 2^32 below its first
time in its own header line (``% eventcode shape=... polarities=... t_base_us=...``, with
``num_steps``, ``dt_us`` and ``t0_us`` for step-time events, so that they read back as steps),
which other readers skip as a comment (they read such times modulo 2^32). A ``% T0`` line, which
faery writes (its records hold ``t - T0``), is added to every time, as faery reads it
(expelliarmus leaves it out). A time window's records are found by binary search in the
stored times between wraps, and only they are decoded.

Examples
--------
>>> import tempfile, pathlib
>>> from eventcode import Events
>>> from exporters import dat
>>> t = [2**32 - 5, 2**32 + 3, 2**32 + 9]  # across the 32-bit wrap
>>> events = Events(t=t, x=[0, 639, 10], y=[0, 479, 3], p=[1, 0, 1], sensor_size=(640, 480))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "cd.dat"
>>> dat.write(path, events)
>>> dat.read(path) == events
True
>>> meta = dat.info(path)
>>> meta.sensor_size, meta.events, meta.last, meta.extras["event_type"]
((640, 480, 2), 3, 4294967305, 'cd')
"""

from __future__ import annotations

import bisect
import os
import queue
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

import numpy as np

from eventcode import address, checks
from eventcode.errors import (
    DataLossWarning,
    EventcodeWarning,
    EventsError,
    ExportError,
    FileFormatError,
    OptionError,
    TimeOrderError,
)
from eventcode.options import positive_int
from exporters import steptime, threads
from exporters.atomic import AtomicWriter
from exporters.batches import write_samples
from exporters.compression import Compression, canonical
from exporters.contract import FileInfo, Stream, empty_columns
from exporters.options import at_least_one, one_sample_window, started
from exporters.source import open_regular
from exporters.steptime import StepTime, window_us

if TYPE_CHECKING:
    from eventcode import Events

NAME = "dat"
DESCRIPTION = "Prophesee DAT (CD events: 32-bit microsecond times, 14-bit x and y)"
SUFFIXES = (".dat",)
BATCHED = False
COMPRESSIONS = {"none": "none"}
"""DAT stores records as they are: ``"none"`` (or None) only."""
DEFAULT_COMPRESSION = "none"

RECORD = np.dtype([("t", "<u4"), ("word", "<u4")])
"""One record: the time (us, modulo 2^32) and the address word, little-endian."""
EVENT_TYPES = {0x00: "2d", 0x0C: "cd", 0x0E: "trigger"}
"""The type byte after the header: Event2D and CD records are read (the same layout)."""
LAYOUTS = {1: (9, 8, 17), 2: (14, 14, 28)}
"""Version -> (bits of x, bits of y, first polarity bit): x in the low bits, y above it."""
WRAP = 1 << 32
"""The timestamps' period in microseconds."""
T_BASE_LIMIT = 1 << 62
"""Latest first time of a stream: the times that follow stay within int64 when read."""
PIECE = 1 << 18
"""Records one worker packs or decodes at a time (2 MiB): small enough to stay in cache."""
_HEAD_BLOCK = 1 << 16


def sniff(head: bytes) -> float:
    """How sure it is that a file starting with ``head`` is DAT: 0.9 for ``%`` lines followed by a
    DAT type byte and the size 8, 0.3 for ``%`` lines of no EVT file that go on past ``head``, else 0.

    EVT 2.0 / 3.0 files start with ``%`` lines as well, but name their format (``% evt``,
    ``% format EVT...``) and have no type and size bytes.

    Examples
    --------
    >>> from exporters import dat
    >>> dat.sniff(b"% Version 2\\n\\x0c\\x08" + bytes(8)), dat.sniff(b"% evt 3.0\\n% end\\n"), dat.sniff(b"")
    (0.9, 0.0, 0.0)
    """
    position = 0
    while head[position : position + 1] == b"%":
        end = head.find(b"\n", position)
        if end < 0:
            return 0.3
        line = head[position + 1 : end].strip().lower()
        if line.startswith((b"evt", b"format evt", b"end")):
            return 0.0
        position = end + 1
    if position == 0 or len(head) < position + 2:
        return 0.0
    return 0.9 if head[position] in EVENT_TYPES and head[position + 1] == RECORD.itemsize else 0.0


# ---------------------------------------------------------------------- writing
def write(
    path: str | os.PathLike[str],
    events: Events,
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    dt_us: int | None = None,
    t0_us: int = 0,
    overwrite: bool = True,
) -> None:
    """Write events to a DAT file of CD events (one file per sample with a ``{}`` in ``path``).

    Parameters
    ----------
    path : path
        Target file; for a batch of several samples it must hold a ``{}`` placeholder.
    events : Events
        One sample (or several with a placeholder), in microseconds or in steps.
    compression : {"none", None}
        DAT has no compression.
    dt_us : int, optional
        Microseconds per step: required for step-time events (time ``t0_us + t * dt_us``).
    t0_us : int
        Time of step 0 in microseconds.
    overwrite : bool
        Replace an existing file (atomically, as every write); False raises instead.

    Raises
    ------
    ExportError
        A sensor over 16384 x 16384 or with channels, step time without ``dt_us``, negative times,
        consecutive events 2^31 us or more apart, several samples without a placeholder.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> import eventcode
    >>> from exporters import dat
    >>> generator = torch.Generator().manual_seed(0)
    >>> digits = eventcode.rate(torch.rand(1, 1, 28, 28), num_steps=10, generator=generator)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "digit.dat"
    >>> dat.write(path, digits, dt_us=1000)
    >>> dat.read(path) == digits
    True
    """
    write_samples(
        Writer, path, events, compression=compression, dt_us=dt_us, t0_us=t0_us, overwrite=overwrite
    )


class Writer(AtomicWriter):
    """Append events to a DAT file chunk by chunk, in constant memory.

    Use as a context manager: the file appears (atomically) when the block ends without an
    error. Chunks are one-sample :class:`~eventcode.Events` of the declared shape, in time
    order across chunks.

    Parameters
    ----------
    path : path
        Target file.
    sensor_size : (W, H) or (W, H, P), optional
        Sensor size; or give ``shape``.
    compression, dt_us, t0_us, overwrite
        As for :func:`write`.
    shape : tuple of int, optional
        Dense shape of a sample, instead of ``sensor_size``.
    num_steps : int, optional
        Steps of a step-time stream (needed with ``dt_us``).
    polarities : {2, 1, 0}, optional
        The sensor's kinds of event; default the ``P`` of ``sensor_size``, else 2.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import dat
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stream.dat"
    >>> with dat.Writer(path, sensor_size=(640, 480)) as writer:
    ...     for start in (0, 1000):
    ...         chunk = Events(t=[start, start + 5], x=[1, 2], y=[3, 4], p=[1, 0], sensor_size=(640, 480))
    ...         writer.write(chunk)
    >>> dat.read(path).t.tolist()
    [0, 5, 1000, 1005]
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
        overwrite: bool = True,
        polarities: int | None = None,
    ) -> None:
        canonical(compression, COMPRESSIONS, "DAT")
        super().__init__(
            path,
            address.resolve(shape, sensor_size),
            overwrite,
            address.resolve_polarities(polarities, sensor_size),
        )
        width, height, planes = address.extents(self._shape)
        limit = 1 << LAYOUTS[2][0]
        if planes > 1 or width > limit or height > limit:
            raise ExportError(
                f"samples of shape {self._shape} do not fit DAT's addresses (one channel, at most "
                f"{limit}x{limit}); write HDF5 or AEDAT 4.0"
            )
        self._steps = steptime.recorded(dt_us, t0_us, num_steps)
        if self._steps is not None and self._steps.beyond(0, T_BASE_LIMIT) is not None:
            raise ExportError(
                f"step time t0_us + k * dt_us (0 <= k < {num_steps}) must lie in 0 .. 2^62 us for DAT, "
                f"with t0_us = {t0_us} and dt_us = {self._steps.dt_us}"
            )
        self._last_t: int | None = None
        self._free: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()  # buffers written, to reuse

    @property
    def _out(self) -> BinaryIO:
        """The open file, as :meth:`_open` made it."""
        return cast(BinaryIO, self._file)

    def _open(self, temporary: Path) -> BinaryIO:
        return open(temporary, "r+b")

    def _header(self, t_base: int) -> bytes:
        """The header lines and the type and size bytes, ``t_base`` the multiple of 2^32 us below
        the first time."""
        attributes = {
            "shape": ",".join(map(str, self._shape)),
            "polarities": str(self._polarities),
            "t_base_us": str(t_base),
        }
        if self._steps is not None:
            attributes.update({key: str(value) for key, value in self._steps._asdict().items()})
        lines = [
            "Data file containing CD events.",
            f"Date {time.strftime('%Y-%m-%d %H:%M:%S')}",
            "Version 2",
            f"Width {address.width(self._shape)}",
            f"Height {address.height(self._shape)}",
            "eventcode " + " ".join(f"{key}={value}" for key, value in attributes.items()),
        ]
        return "".join(f"% {line}\n" for line in lines).encode("ascii") + bytes((0x0C, RECORD.itemsize))

    def _finish(self) -> None:
        if self._last_t is None:
            self._out.write(self._header(0))

    def write(self, events: Events) -> None:
        """Append one sample's events (microseconds, or steps when ``dt_us`` was given)."""
        self._check_one(events)
        events = steptime.in_us(events, self._steps)
        if not len(events):
            return
        t, x, y, p = (column.cpu().numpy() for column in (events.t, events.x, events.y, events.p))
        first = int(t[0])
        if self._last_t is None:
            if not 0 <= first < T_BASE_LIMIT:
                raise ExportError(f"t[0] = {first} us: DAT streams start at 0 .. 2^62 us (146,000 years)")
            self._out.write(self._header(first - first % WRAP))
        elif first < self._last_t:
            raise TimeOrderError(
                f"this chunk starts at t = {first} us, before the previous chunk's last event at "
                f"{self._last_t} us; write chunks in time order"
            )
        previous = first if self._last_t is None else self._last_t
        x_bits, _, p_shift = LAYOUTS[2]

        def records(a: int) -> np.ndarray:
            b = min(a + PIECE, len(t))
            before = int(t[a - 1]) if a else previous
            if int(t[b - 1]) - before >= 1 << 31:  # sorted: no gap reaches 2^31 in a shorter span
                gaps = np.diff(t[a:b], prepend=before) >= 1 << 31
                if gaps.any():
                    i = a + checks.first(gaps)
                    raise ExportError(
                        f"t[{i}] = {int(t[i])} us comes {int(t[i]) - (int(t[i - 1]) if i else previous)} us "
                        "after the event before it: DAT's 32-bit times hold gaps below 2^31 us "
                        "(35.8 minutes); split the stream there"
                    )
            try:
                buffer = self._free.get_nowait()
            except queue.Empty:
                buffer = np.empty(PIECE, RECORD)
            out = buffer[: b - a]
            word = out["word"]
            np.copyto(out["t"], t[a:b], casting="unsafe")  # the low 32 bits: the time modulo 2^32
            np.copyto(word, y[a:b], casting="unsafe")
            word <<= x_bits
            word |= x[a:b].astype(np.uint32)
            word |= p[a:b].astype(np.uint32) << np.uint32(p_shift)
            return out

        with threads.ordered(records, range(0, len(t), PIECE)) as ordered:
            for piece in ordered:
                self._out.write(piece.data)
                self._free.put(piece.base if piece.base is not None else piece)
        self._last_t = int(t[-1])


# ---------------------------------------------------------------------- the header
@dataclass(frozen=True)
class _Header:
    """What the header says and where the records are."""

    path: Path
    data_start: int
    records: int
    trailing: int
    version: int
    event_type: str
    size: tuple[int, int] | None
    t0: int
    attributes: dict[str, str]
    attributes_at: int

    def byte(self, record: int) -> int:
        """The byte offset of a record."""
        return self.data_start + RECORD.itemsize * record


def _header(path: Path, descriptor: int) -> _Header:
    """Parse the ``%`` lines, the type and size bytes, and count the records."""
    size = os.fstat(descriptor).st_size
    head = os.pread(descriptor, _HEAD_BLOCK, 0)
    fields: dict[str, tuple[str, int]] = {}
    attributes: dict[str, str] = {}
    attributes_at, position = 0, 0
    while position < size:
        if position >= len(head):
            head += os.pread(descriptor, _HEAD_BLOCK, len(head))
        if head[position : position + 1] != b"%":
            break
        end = head.find(b"\n", position)
        while end < 0 and len(head) < size:
            head += os.pread(descriptor, max(_HEAD_BLOCK, len(head)), len(head))
            end = head.find(b"\n", position)
        if end < 0:
            raise FileFormatError(
                f"{path}: byte {position}: the file ends inside this header line (truncated)"
            )
        key, _, value = head[position + 1 : end].decode("ascii", "replace").strip().partition(" ")
        if key.lower() in ("evt", "format", "end"):
            raise FileFormatError(
                f"{path}: byte {position}: an EVT (RAW) header line, not DAT: read it as EVT"
            )
        if key == "eventcode":
            attributes_at = position
            pairs = [item.partition("=") for item in value.split()]
            if any(not name or not sep for name, sep, _ in pairs):
                raise FileFormatError(
                    f"{path}: byte {position}: eventcode's header line is not key=value pairs: {value!r}"
                )
            attributes = {name: text for name, _, text in pairs}
        else:
            fields[key.lower()] = (value.strip(), position)
        position = end + 1
    if size < position + 2:
        raise FileFormatError(
            f"{path}: byte {position}: the file ends before the event type and size bytes after the header"
        )
    kind, record_size = head[position], head[position + 1]
    if kind not in (0x00, 0x0C) or record_size != RECORD.itemsize:
        named = EVENT_TYPES.get(kind, "unknown")
        raise FileFormatError(
            f"{path}: byte {position}: event type 0x{kind:02X} ({named}) of {record_size} bytes; DAT files "
            "of CD (0x0C) or Event2D (0x00) events of 8 bytes can be read"
        )
    numbers = {}
    for key in ("version", "width", "height", "t0"):
        if key in fields:
            text, at = fields[key]
            low, high = {"version": (1, 2), "t0": (0, T_BASE_LIMIT)}.get(key, (1, 1 << 31))
            if not text.isdigit() or not low <= int(text) <= high:
                raise FileFormatError(
                    f"{path}: byte {at}: the {key} line says {text!r}; DAT versions 1 and 2 can be read, "
                    "with positive widths and heights and a T0 in 0 .. 2^62 us"
                )
            numbers[key] = int(text)
    if len([key for key in ("width", "height") if key in numbers]) == 1:
        raise FileFormatError(
            f"{path}: byte {fields.get('width', fields.get('height', ('', 0)))[1]}: a % Width line without "
            "% Height or the other way round; give both or neither"
        )
    version = numbers.get("version", 2)
    dims = [numbers[key] for key in ("width", "height") if key in numbers]
    data_start = position + 2
    records, trailing = divmod(size - data_start, RECORD.itemsize)
    sensor = (dims[0], dims[1]) if dims else None
    return _Header(
        path,
        data_start,
        records,
        trailing,
        version,
        EVENT_TYPES[kind],
        sensor,
        numbers.get("t0", 0),
        attributes,
        attributes_at,
    )


class _Target(NamedTuple):
    """What the records read back as: the sample shape (None: guessed after decoding),
    polarities, step time and the microseconds added to the stored times (eventcode's multiple
    of 2^32 and the header's ``% T0``)."""

    shape: tuple[int, ...] | None
    polarities: int
    steps: StepTime | None
    t_base: int


def _target(header: _Header, sensor_size: object) -> _Target:
    """The sample shape (eventcode's line, the header's size, else ``sensor_size=``), and
    eventcode's attributes."""
    attributes = header.attributes
    where = f"{header.path}: byte {header.attributes_at}: eventcode's header line"
    try:
        numbers = {
            key: int(attributes[key])
            for key in ("polarities", "num_steps", "dt_us", "t0_us", "t_base_us")
            if key in attributes
        }
        shape = None
        if "shape" in attributes:
            shape = address.check_shape(tuple(int(v) for v in attributes["shape"].split(",")))
    except (ValueError, EventsError) as err:
        raise FileFormatError(f"{where}: {err}") from None
    if shape is None and header.size is not None:
        shape = (header.size[1], header.size[0])
    if shape is None and sensor_size is not None:
        try:
            shape = address.resolve(None, cast("Sequence[int]", sensor_size))
        except (TypeError, ValueError) as err:
            raise OptionError(f"sensor_size must be (W, H) or (W, H, P): {err}") from None
    x_bits, y_bits, _ = LAYOUTS[header.version]
    if shape is not None and (
        address.channels(shape) > 1
        or address.width(shape) > 1 << x_bits
        or address.height(shape) > 1 << y_bits
    ):
        raise FileFormatError(
            f"{header.path}: the sample shape {shape} does not fit DAT version {header.version}'s "
            f"{1 << x_bits}x{1 << y_bits} addresses"
        )
    polarities, t_base = numbers.get("polarities", 2), numbers.get("t_base_us", 0)
    if polarities not in address.POLARITIES or not 0 <= t_base <= T_BASE_LIMIT or t_base % WRAP:
        raise FileFormatError(
            f"{where}: polarities must be 0, 1 or 2 and t_base_us a multiple of 2^32 in 0 .. 2^62, "
            f"got {attributes}"
        )
    steps = None
    if "dt_us" in numbers or "num_steps" in numbers:
        try:
            steps = steptime.read_back(
                numbers.get("num_steps", -1), numbers.get("dt_us", 0), numbers.get("t0_us", 0)
            )
        except ValueError as err:
            raise FileFormatError(f"{where}: {err}, in {attributes}") from None
    return _Target(shape, polarities, steps, t_base + header.t0)


# ---------------------------------------------------------------------- decoding
class _Piece(NamedTuple):
    """What a worker found in records ``start .. start + n``: the largest x and y, where the
    stored time wraps (drops by more than 2^31) and where it first goes back less (None: nowhere)."""

    start: int
    n: int
    x_max: int
    y_max: int
    wraps: np.ndarray
    back: int | None


def _scratch(n: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's buffers for ``n`` records and one uint32 field of each."""
    return threads.scratch("dat.records", n, RECORD), threads.scratch("dat.field", n, np.uint32)


def _decode(descriptor: int, header: _Header, start: int, stop: int, out: dict[str, np.ndarray]) -> _Piece:
    """Read records ``start:stop`` and decode them into ``out``'s columns (``t``: the stored times)."""
    offset, n = header.byte(start), stop - start
    records, field = _scratch(n)
    if header.version == 2:
        records = out["t"].view(RECORD)  # 8 bytes an event: the records go where their times will be
    got = os.preadv(descriptor, [records.data], offset) if n else 0
    if got != RECORD.itemsize * n:
        raise FileFormatError(f"{header.path}: byte {offset + got}: the file ends early (it shrank?)")
    if header.version == 2:
        x_max, y_max = _fields_v2(header, start, records, field, out)
    else:
        x_max, y_max = _fields(header, start, records, field, out)
        np.copyto(out["t"], records["t"])
    t = out["t"]
    wraps, back = np.empty(0, np.int64), None
    if n > 1:
        falls = t[1:] < t[:-1]
        if falls.any():
            at = np.flatnonzero(falls) + 1
            drops = t[at - 1] - t[at]
            wraps = at[drops > 1 << 31]
            less = at[drops <= 1 << 31]
            back = int(less[0]) if len(less) else None
    return _Piece(start, n, x_max, y_max, wraps, back)


def _fields_v2(
    header: _Header, start: int, records: np.ndarray, field: np.ndarray, out: dict[str, np.ndarray]
) -> tuple[int, int]:
    """Version 2's t, x, y and p into ``out``, from the records read into ``out["t"]`` as 64-bit
    words (time in the low half); return the largest x and y."""
    whole = records.view(np.uint64)
    np.right_shift(whole, np.uint64(32), out=field, casting="unsafe")
    whole &= np.uint64(WRAP - 1)
    if len(field) and int(field.max()) >= 2 << 28:  # p (bits 31-28) above 1
        i = checks.first(field >= 2 << 28)
        raise FileFormatError(
            f"{header.path}: byte {header.byte(start + i)}: polarity {int(field[i]) >> 28}; CD events have "
            "0 or 1"
        )
    np.greater_equal(field, np.uint32(1 << 28), out=out["p"])
    x, y = out["x"].view(np.uint16), out["y"].view(np.uint16)
    np.bitwise_and(field, np.uint32(0x3FFF), out=x, casting="unsafe")
    field >>= np.uint32(14)
    np.bitwise_and(field, np.uint32(0x3FFF), out=y, casting="unsafe")
    return (int(x.max()), int(y.max())) if len(x) else (-1, -1)


def _fields(
    header: _Header, start: int, records: np.ndarray, field: np.ndarray, out: dict[str, np.ndarray]
) -> tuple[int, int]:
    """Any version's x, y and p into ``out``; return the largest x and y."""
    x_bits, y_bits, p_shift = LAYOUTS[header.version]
    word = records["word"]
    np.right_shift(word, p_shift, out=field)
    field &= 0xF
    if len(field) and int(field.max()) > 1:
        i = checks.first(field > 1)
        raise FileFormatError(
            f"{header.path}: byte {header.byte(start + i)}: polarity {int(field[i])}; CD events have 0 or 1"
        )
    np.copyto(out["p"], field, casting="unsafe")
    np.bitwise_and(word, (1 << x_bits) - 1, out=field)
    np.copyto(out["x"], field, casting="unsafe")
    x_max = int(field.max()) if len(field) else -1
    np.right_shift(word, x_bits, out=field)
    field &= (1 << y_bits) - 1
    np.copyto(out["y"], field, casting="unsafe")
    return x_max, int(field.max()) if len(field) else -1


class _Timeline:
    """Turns the stored 32-bit times into microseconds piece after piece: adds ``t_base`` and
    2^32 for each wrap before, and raises at a time going back."""

    def __init__(self, header: _Header, t_base: int) -> None:
        self.header, self.base = header, t_base
        self.last: int | None = None

    def place(self, piece: _Piece, t: np.ndarray) -> None:
        """Move on past a piece, turning its stored times ``t`` into microseconds in place."""
        if not piece.n:
            return
        wraps, back = [int(w) for w in piece.wraps], piece.back
        first = int(t[0])
        if self.last is not None and first < self.last:
            if self.last - first > 1 << 31:
                wraps.insert(0, 0)
            else:
                back = 0
        if back is not None:
            raise FileFormatError(
                f"{self.header.path}: byte {self.header.byte(piece.start + back)}: the time goes back from "
                "the event before by 2^31 us or less (not a 32-bit wrap)"
            )
        last = int(t[-1])
        if self.base:
            t += self.base
        for w in wraps:
            t[w:] += WRAP
        self.base += WRAP * len(wraps)
        self.last = last


def _check(header: _Header, target: _Target, piece: _Piece, columns: dict[str, np.ndarray]) -> None:
    """The checks of a piece against the sample shape, polarities and steps (times in us)."""
    shape = target.shape
    checked = []
    if shape is not None and (piece.x_max >= address.width(shape) or piece.y_max >= address.height(shape)):
        bad = (columns["x"] >= address.width(shape)) | (columns["y"] >= address.height(shape))
        checked.append((bad, f"an address outside the {address.width(shape)}x{address.height(shape)} sensor"))
    if target.polarities == 0:
        checked.append((~columns["p"], "an OFF event, but the recorded events have no polarity (all ON)"))
    if target.polarities == 1 and piece.n:
        checked.append((columns["p"] != columns["p"][0], "both polarities, but the recorded sensor has one"))
    if target.steps is not None:
        steps, rest = np.divmod(columns["t"] - target.steps.t0_us, target.steps.dt_us)
        checked.append(
            (
                (rest != 0) | (steps < 0) | (steps >= target.steps.num_steps),
                f"a time off the recorded steps ({target.steps}, 0 <= k < num_steps)",
            )
        )
    for bad, what in checked:
        if bad.any():
            raise FileFormatError(
                f"{header.path}: byte {header.byte(piece.start + checks.first(bad))}: {what}"
            )


def _finish(
    columns: dict[str, np.ndarray], target: _Target, window: tuple[int | None, int | None]
) -> dict[str, np.ndarray]:
    """Sorted columns (us) cut to ``window`` (us), in steps for a step-time file."""
    t = columns["t"]
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    if lo or hi < len(t):
        columns = {name: column[lo:hi] for name, column in columns.items()}
    if target.shape is not None and address.wide(
        max(address.width(target.shape), address.height(target.shape))
    ):
        columns["x"], columns["y"] = columns["x"].astype(np.int32), columns["y"].astype(np.int32)
    if target.steps is not None:
        columns["t"] = (columns["t"] - target.steps.t0_us) // target.steps.dt_us
    return columns


def _guessed(header: _Header, target: _Target, x_max: int, y_max: int) -> _Target:
    """The target with the sensor guessed from the largest addresses, with a warning."""
    size = (max(x_max, 0) + 1, max(y_max, 0) + 1)
    warnings.warn(
        f"{header.path}: the header gives no sensor size (no % Width / % Height lines): guessed {size[0]}x"
        f"{size[1]} from the largest addresses; pass sensor_size=(W, H) to set it",
        EventcodeWarning,
        stacklevel=3,
    )
    return target._replace(shape=(size[1], size[0]))


def _words(path: Path, header: _Header) -> np.ndarray:
    """The records as 64-bit little-endian words (the stored time in the low half), mapped from the file."""
    return np.memmap(path, "<u8", "r", header.data_start, (header.records,))


def _stored(words: np.ndarray, i: int) -> int:
    """The stored time of record ``i``."""
    return int(words[i]) & (WRAP - 1)


def _wraps(words: np.ndarray) -> np.ndarray:
    """Where the stored times wrap: the records after each drop of more than 2^31, a piece at a
    time (one thread: page faults on one mapping do not run in parallel)."""
    found = [np.zeros(0, np.int64)]
    for a in range(0, len(words), PIECE):
        lo = max(a - 1, 0)
        t = (words[lo : a + PIECE] & np.uint64(WRAP - 1)).view(np.int64)
        found.append(lo + 1 + np.flatnonzero(t[1:] < t[:-1] - (1 << 31)))
    return np.concatenate(found)


def _span(
    path: Path, header: _Header, target: _Target, window: tuple[int | None, int | None]
) -> tuple[int, int, int]:
    """The records ``lo:hi`` of the window (us) and the microseconds to add to record ``lo``'s
    stored time, by binary search in the stored times between wraps (found in one pass over the
    times only). Out of order records are found when decoded, within the window."""
    if window == (None, None) or not header.records:
        return 0, header.records, target.t_base
    words = _words(path, header)
    starts = [0, *(int(w) for w in _wraps(words))]
    ends = [*starts[1:], header.records]

    def first_at(bound: int | None, otherwise: int) -> int:
        """The first record at or after time ``bound`` (``otherwise`` for None)."""
        if bound is None:
            return otherwise
        for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
            local = bound - target.t_base - k * WRAP
            if local <= _stored(words, a):
                return a
            if local <= _stored(words, b - 1):
                return bisect.bisect_left(words, local, a, b, key=lambda word: int(word) & (WRAP - 1))
        return header.records

    lo = first_at(window[0], 0)
    hi = max(lo, first_at(window[1], header.records))
    return lo, hi, target.t_base + WRAP * (bisect.bisect_right(starts, lo) - 1)


def _warn_trailing(header: _Header) -> None:
    """A :class:`DataLossWarning` for the bytes of an incomplete last record."""
    if header.trailing:
        warnings.warn(
            f"{header.path}: left out {header.trailing} bytes at byte {header.byte(header.records)}, an "
            "incomplete last record (truncated)",
            DataLossWarning,
            stacklevel=3,
        )


def _open(
    path: str | os.PathLike[str], sample: object, t_start: object, t_end: object, sensor_size: object
) -> tuple[Path, _Header, _Target, tuple[int | None, int | None]]:
    """The header, the target and the window in microseconds, after checking the arguments."""
    path = Path(path)
    with open_regular(path) as file:
        header = _header(path, file.fileno())
    target = _target(header, sensor_size)
    bounds = one_sample_window(path, sample, t_start, t_end, "DAT")
    return path, header, target, window_us(bounds, target.steps, -(1 << 63), (1 << 63) - 1)


# ---------------------------------------------------------------------- reading
def read(
    path: str | os.PathLike[str],
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Events:
    """Read the CD events of a DAT file (all of them, or ``t_start <= t < t_end``).

    Parameters
    ----------
    path : path
        The file.
    sample : {None, 0, -1}
        The file's one sample.
    t_start, t_end : int, optional
        Half-open time window in the time unit of the result (steps for step-time files written
        by eventcode, else microseconds). Its records are found by binary search in the stored
        times between wraps (one pass over the times finds the wraps); only they are decoded and
        checked.
    sensor_size : (W, H) or (W, H, P), optional
        The sensor of a file whose header has no ``% Width`` / ``% Height`` (else guessed from the
        largest addresses of the whole file, with a warning); the header's size wins.

    Returns
    -------
    Events
        One sample in microseconds (or the steps eventcode recorded).

    Raises
    ------
    FileFormatError
        Not a DAT file of CD events, an address outside the sensor, a polarity other than 0 or
        1, time going back (not a wrap), eventcode attributes that do not hold.
    OptionError
        A ``sample`` other than None, 0 or -1, a bad window or ``sensor_size``.

    Warns
    -----
    EventcodeWarning
        The sensor size was guessed from the addresses.
    DataLossWarning
        The file ends inside a record (its bytes are left out).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import dat
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.dat"
    >>> events = Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(3, 1))
    >>> dat.write(path, events)
    >>> dat.read(path, t_start=2).t.tolist()
    [5, 9]
    """
    path, header, target, window = _open(path, sample, t_start, t_end, sensor_size)
    lo, hi, base = _span(path, header, target, window)
    out = empty_columns(hi - lo)  # 14-bit addresses fit int16
    x_max = y_max = -1
    with open_regular(path) as file:
        descriptor = file.fileno()
        timeline = _Timeline(header, base)

        def decode(start: int) -> _Piece:
            stop = min(start + PIECE, hi)
            return _decode(
                descriptor, header, start, stop, {k: v[start - lo : stop - lo] for k, v in out.items()}
            )

        with threads.ordered(decode, range(lo, hi, PIECE)) as ordered:
            for piece in ordered:
                at = piece.start - lo
                part = {name: column[at : at + piece.n] for name, column in out.items()}
                timeline.place(piece, part["t"])
                _check(header, target, piece, part)
                x_max, y_max = max(x_max, piece.x_max), max(y_max, piece.y_max)
        if target.shape is None:
            whole = (x_max, y_max) if (lo, hi) == (0, header.records) else _scan_size(descriptor, header)
            target = _guessed(header, target, *whole)
    _warn_trailing(header)
    columns = _finish(out, target, window)
    if len(columns["t"]) < (hi - lo) // 2:
        columns = {name: column.copy() for name, column in columns.items()}
    return steptime.one_sample(columns, target.shape, target.polarities, target.steps)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Iterator[Events]:
    """Read a DAT file as consecutive chunks of at most ``chunk_events`` events each.

    Memory stays near a few chunks whatever the file size; a window's records are found as
    :func:`read` finds them. A file without a sensor size (and no ``sensor_size``) is scanned once
    first for its largest address.

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
    >>> from exporters import dat
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.dat"
    >>> events = Events(t=list(range(100)), x=[0] * 100, y=[0] * 100, p=[1] * 100, sensor_size=(64, 64))
    >>> dat.write(path, events)
    >>> [len(chunk) for chunk in dat.read_chunks(path, chunk_events=40)]
    [40, 40, 20]
    """
    target, chunks = started(_chunks(path, chunk_events, sample, t_start, t_end, sensor_size))
    return (steptime.one_sample(columns, target.shape, target.polarities, target.steps) for columns in chunks)


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Read a DAT file as chunks of numpy columns, without torch.

    Each chunk is a dict of ``t`` (int64), ``x`` and ``y`` (int16) and ``p`` (bool): exactly the
    columns of the chunks of :func:`read_chunks`. Arguments and errors as for :func:`read_chunks`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import dat
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.dat"
    >>> dat.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(64, 64)))
    >>> [(chunk["t"].tolist(), chunk["p"].dtype.name) for chunk in dat.read_columns(path)]
    [([1, 5, 9], 'bool')]
    """
    return started(_chunks(path, chunk_events, sample, t_start, t_end, sensor_size))[1]


def _scan_size(descriptor: int, header: _Header) -> tuple[int, int]:
    """The largest x and y of the file, one piece at a time."""
    x_max = y_max = -1
    x_bits, y_bits, _ = LAYOUTS[header.version]

    def scan(start: int) -> tuple[int, int]:
        stop = min(start + PIECE, header.records)
        records, field = _scratch(stop - start)
        os.preadv(descriptor, [records.data], header.byte(start))
        word = records["word"]
        np.bitwise_and(word, (1 << x_bits) - 1, out=field)
        x = int(field.max())
        np.right_shift(word, x_bits, out=field)
        field &= (1 << y_bits) - 1
        return x, int(field.max())

    for x, y in threads.parallel(scan, range(0, header.records, PIECE)):
        x_max, y_max = max(x_max, x), max(y_max, y)
    return x_max, y_max


def _chunks(
    path: str | os.PathLike[str],
    chunk_events: object,
    sample: object,
    t_start: object,
    t_end: object,
    sensor_size: object,
    checkpoint: object = None,
) -> Iterator[_Target | dict[str, np.ndarray]]:
    """The target, then the columns of each chunk: the arguments are checked (and the header
    read) when the first item is taken, the records a few chunks ahead on all cores after. From
    ``checkpoint`` (one of :func:`checkpoints`, which gave the warnings: none here then), the
    records from there on are decoded until the times reach ``t_end``."""
    count = positive_int("chunk_events", chunk_events, "events")
    path, header, target, window = _open(path, sample, t_start, t_end, sensor_size)
    start = None if checkpoint is None else _resumed(header, checkpoint)
    with open_regular(path) as file:
        descriptor = file.fileno()
        if target.shape is None and start is not None:
            target = target._replace(shape=start[2])
        elif target.shape is None:
            target = _guessed(header, target, *_scan_size(descriptor, header))
        yield target
        lo, hi, base = (
            _span(path, header, target, window) if start is None else (start[0], header.records, start[1])
        )
        timeline = _Timeline(header, base)

        def decode(start: int) -> tuple[_Piece, dict[str, np.ndarray]]:
            out = empty_columns(min(start + count, hi) - start)
            return _decode(descriptor, header, start, start + len(out["t"]), out), out

        with threads.ordered(decode, range(lo, hi, count)) as ordered:
            for piece, out in ordered:
                timeline.place(piece, out["t"])
                if piece.n and window[1] is not None and int(out["t"][0]) >= window[1]:
                    break
                _check(header, target, piece, out)
                columns = _finish(out, target, window)
                if len(columns["t"]):
                    yield columns
    if checkpoint is None:
        _warn_trailing(header)


# ---------------------------------------------------------------------- reading from mid-file
Checkpoint = tuple[int, int, int | None, tuple[int, ...]]
"""A place to start decoding: ``(byte, events, bound, state)`` (see :func:`checkpoints`)."""


def checkpoints(
    path: str | os.PathLike[str], count: int = 1024, *, sensor_size: Sequence[int] | None = None
) -> tuple[list[Checkpoint], StepTime | None]:
    """Places to start decoding a DAT file mid-way, found in one pass over the stored times.

    The pass finds where the 32-bit times wrap (as a windowed :func:`read` does) and records,
    about ``count`` times evenly spaced over the records, a checkpoint ``(byte, events, bound,
    state)``: the record's byte offset, the events before it, the time of the event before it
    (in the file's unit: steps for a step-time file; None for the first record), and the state
    :func:`read_from` starts from: the microseconds added to the stored times from there on
    (eventcode's ``t_base_us``, ``% T0`` and the wraps before) and the sensor ``(H, W)`` shape
    (guessed here, with the warning, for a file without a size). A last checkpoint marks the end
    of the records. An incomplete last record is reported here, not by :func:`read_from`.

    Returns
    -------
    (list of checkpoints, StepTime or None)
        The checkpoints in file order, and the step time of a step-time file.

    Raises
    ------
    OptionError
        ``count`` not a positive whole number, or as for :func:`read`.
    FileFormatError
        As for :func:`read`, for the header.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import dat
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.dat"
    >>> t = [2**32 - 5, 2**32 + 3, 2**32 + 9]  # across the 32-bit wrap
    >>> dat.write(path, Events(t=t, x=[0, 1, 2], y=[0, 0, 3], p=[1, 0, 1], sensor_size=(4, 4)))
    >>> marks, _ = dat.checkpoints(path, count=3)
    >>> [(events, bound, state[0]) for _, events, bound, state in marks]
    [(0, None, 0), (1, 4294967291, 4294967296), (2, 4294967299, 4294967296), (3, 4294967305, 4294967296)]
    >>> [chunk.t.tolist() for chunk in dat.read_from(path, marks[1])]
    [[4294967299, 4294967305]]
    """
    count = positive_int("count", count, "checkpoints")
    path, header, target, _ = _open(path, None, None, None, sensor_size)
    if target.shape is None:
        with open_regular(path) as file:
            target = _guessed(header, target, *_scan_size(file.fileno(), header))
    _warn_trailing(header)
    shape = cast("tuple[int, ...]", target.shape)
    words = _words(path, header) if header.records else np.zeros(0, np.uint64)
    wraps = _wraps(words)
    spacing = max(1, min(PIECE, -(-header.records // count)))
    marks: list[Checkpoint] = []
    for record in [*range(0, header.records, spacing), header.records]:
        base = target.t_base + WRAP * int(np.searchsorted(wraps, record, side="right"))
        bound = None
        if record:
            before = target.t_base + WRAP * int(np.searchsorted(wraps, record - 1, side="right"))
            bound = _stored(words, record - 1) + before
            if target.steps is not None:
                bound = (bound - target.steps.t0_us) // target.steps.dt_us
        marks.append((header.byte(record), record, bound, (base, *shape)))
    return marks, target.steps


def _resumed(header: _Header, checkpoint: object) -> tuple[int, int, tuple[int, ...]]:
    """The record, the microseconds to add from there on, and the sample shape of a checkpoint
    of :func:`checkpoints`."""
    try:
        byte, _, _, values = cast("Sequence[Any]", checkpoint)
        base, *shape = (int(value) for value in values)
        record, rest = divmod(int(byte) - header.data_start, RECORD.itemsize)
        found = None if rest or not 0 <= record <= header.records else (record, base, tuple(shape))
    except (TypeError, ValueError):
        found = None
    if found is None or not found[2]:
        raise OptionError(
            f"{header.path}: {checkpoint!r} is not a checkpoint of this file; take one from "
            "dat.checkpoints(path)"
        )
    return found


def read_from(
    path: str | os.PathLike[str],
    checkpoint: Checkpoint,
    chunk_events: int = 1 << 20,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Iterator[Events]:
    """Read a DAT file from a checkpoint of :func:`checkpoints` on: its events in ``t_start <= t
    < t_end``, as chunks of at most ``chunk_events`` events (at least one chunk, empty when none
    falls in the window). Decoding stops at the first chunk starting at or after ``t_end``. No
    warnings: :func:`checkpoints` gave them.

    Raises
    ------
    OptionError
        A checkpoint not of this file, or as for :func:`read_chunks`.
    FileFormatError
        As for :func:`read`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import dat
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.dat"
    >>> dat.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 3], p=[1, 0, 1], sensor_size=(4, 4)))
    >>> marks, _ = dat.checkpoints(path)
    >>> [chunk.t.tolist() for chunk in dat.read_from(path, marks[1], t_end=9)]
    [[5]]
    """
    target, chunks = started(_chunks(path, chunk_events, None, t_start, t_end, sensor_size, checkpoint))

    def events(columns: dict[str, np.ndarray]) -> Events:
        return steptime.one_sample(columns, target.shape, target.polarities, target.steps)

    return at_least_one(
        (events(columns) for columns in chunks),
        lambda: events(_finish(empty_columns(0), target, (None, None))),
    )


def info(path: str | os.PathLike[str], *, sensor_size: Sequence[int] | None = None) -> FileInfo:
    """Describe a DAT file: its sensor, version, event type, events and time range.

    The times are read (and unwrapped) from the records without decoding the addresses, unless
    the sensor size has to be guessed.

    Returns
    -------
    FileInfo
        The common fields; ``extras`` holds ``version``, ``event_type`` (``"cd"`` or ``"2d"``),
        ``header_bytes``, ``trailing_bytes``, ``size_from`` (``"header"``, ``"eventcode"``,
        ``"sensor_size"`` or ``"guessed"``), ``t_base_us`` (eventcode's multiple of 2^32), ``T0_us``
        (the header's ``% T0``) and ``t0_us`` (the time of step 0).

    Raises
    ------
    FileFormatError, OptionError
        As for :func:`read`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import dat
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.dat"
    >>> dat.write(path, Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(304, 240)))
    >>> meta = dat.info(path)
    >>> meta.sensor_size, meta.events, (meta.first, meta.last), meta.extras["version"]
    ((304, 240, 2), 2, (1, 2), 2)
    """
    path, header, target, _ = _open(path, None, None, None, sensor_size)
    size_from = (
        "eventcode"
        if "shape" in header.attributes
        else "header"
        if header.size is not None
        else "sensor_size"
        if target.shape is not None
        else "guessed"
    )
    first = last = None
    with open_regular(path) as file:
        descriptor = file.fileno()
        if target.shape is None:
            target = _guessed(header, target, *_scan_size(descriptor, header))
        if header.records:
            words = _words(path, header)
            first = target.t_base + _stored(words, 0)
            last = target.t_base + _stored(words, -1) + WRAP * len(_wraps(words))
            del words
            if target.steps is not None:
                first, last = ((t - target.steps.t0_us) // target.steps.dt_us for t in (first, last))
    shape = cast("tuple[int, ...]", target.shape)
    width, height = address.width(shape), address.height(shape)
    return FileInfo(
        path=path,
        format=NAME,
        compression="none",
        sensor_size=(width, height, max(target.polarities, 1)),
        shape=shape,
        events=header.records,
        samples=1,
        time_unit="us" if target.steps is None else "step",
        first=first,
        last=last,
        num_steps=None if target.steps is None else target.steps.num_steps,
        dt_us=None if target.steps is None else target.steps.dt_us,
        polarities=target.polarities,
        streams=(Stream(0, "EVTS", "events", (width, height), 1, header.records, first, last),),
        extras={
            "version": header.version,
            "event_type": header.event_type,
            "header_bytes": header.data_start,
            "trailing_bytes": header.trailing,
            "size_from": size_from,
            "t_base_us": target.t_base - header.t0,
            "T0_us": header.t0,
            "t0_us": 0 if target.steps is None else target.steps.t0_us,
        },
    )
