"""AEDAT 2.0: jAER's event files, 32-bit address words and 32-bit timestamps, big-endian.

A file is a text header of lines starting with ``#`` and ending in CR LF (the first
``#!AER-DAT2.0``), then records of 8 bytes: a big-endian address word, then a big-endian
timestamp in microseconds. The address's bits depend on the camera: :mod:`exporters.aer`
declares jAER's layouts (DVS128, DAVIS240, DAVIS346, DAVIS640) and takes custom ones.

Reading takes the camera from the header's ``# AEChip:`` line (jAER's Java class of the camera,
:data:`CHIPS`), else from ``camera=`` (a layout name) or ``layout=`` (an :class:`aer.Layout`);
a file that says neither raises :class:`~eventcode.errors.OptionError`. Words that are not DVS
events (APS and IMU samples, external input events) are left out, counted by kind in
:func:`info`'s ``extras["skipped"]``, and reported by a :class:`~eventcode.errors.DataLossWarning`
on reading; so are the bytes of an incomplete last record (a truncated file), which are not read.
The header ends at the first line that does not start with ``#``, or after jAER's
``#End Of ASCII Header`` line. Coordinates are image coordinates (origin top-left), as Tonic's
``read_davis_346`` gives them (see :mod:`exporters.aer`).

Timestamps are 32 bits of microseconds, so they wrap every 2^32 us (71.6 minutes): reading adds
2^32 wherever the time drops by more than 2^31 us from one event to the next, and any other
drop raises :class:`~eventcode.errors.FileFormatError` naming its byte offset (``sort=True``
sorts instead). Writing stores each time modulo 2^32, so consecutive events must be less than
2^31 us (35.8 minutes) apart. Times need not start below 2^32: eventcode records the multiple of
2^32 below the first time in its own header line (``# eventcode: ... t_base_us=...``), which
other readers ignore as a comment, and adds it back on reading.

:func:`write` and :class:`Writer` write the header lines jAER writes (version, the three format
lines, ``# created <date>``, ``# AEChip: <class>``), eventcode's line (the sample shape, the
polarities, and for step-time events ``num_steps``, ``dt_us`` and ``t0_us``, so that they read
back as steps), and ``#End Of ASCII Header``. The camera is ``camera=``, ``layout=``, or the one
whose sensor size the events have. Words are packed on all cores while earlier ones are written.

A file whose first address word starts with the byte ``#`` (``0x23``; a DAVIS event with raw
``y`` 140 to 143, e.g. ``y`` 116 to 119 on a DAVIS346) is read right by jAER, which stops at
``#End Of ASCII Header``, and by :func:`read`, but Tonic takes that record for a header line.
(jAER's own writer drops such leading events; eventcode keeps them.)

Examples
--------
>>> import tempfile, pathlib
>>> from eventcode import Events
>>> from exporters import aedat2
>>> t = [2**32 - 5, 2**32 + 3, 2**32 + 9]  # across the 32-bit wrap
>>> events = Events(t=t, x=[0, 345, 10], y=[0, 259, 3], p=[1, 0, 1], sensor_size=(346, 260))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "davis.aedat"
>>> aedat2.write(path, events)
>>> aedat2.read(path) == events
True
>>> meta = aedat2.info(path)
>>> meta.extras["camera"], meta.extras["chip"], meta.events, meta.last
('DAVIS346', 'eu.seebetter.ini.chips.davis.Davis346B', 3, 4294967305)
"""

from __future__ import annotations

import os
import queue
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TypeVar, cast

import numpy as np

from eventcode import address, checks
from eventcode.errors import (
    AddressError,
    DataLossWarning,
    EventsError,
    ExportError,
    FileFormatError,
    OptionError,
    OptionTypeError,
    TimeOrderError,
)
from eventcode.options import positive_int
from exporters import aer, steptime, threads
from exporters.atomic import AtomicWriter
from exporters.batches import write_samples
from exporters.compression import Compression, canonical
from exporters.contract import FileInfo, Stream
from exporters.options import at_least_one, one_sample_window, started
from exporters.source import open_regular
from exporters.steptime import StepTime, window_us

if TYPE_CHECKING:
    from eventcode import Events

NAME = "aedat2"
DESCRIPTION = "AEDAT 2.0 (jAER; 32-bit address words of DVS128 / DAVIS cameras or a custom layout)"
MAGIC = b"#!AER-DAT2."
"""How every AEDAT 2.0 file starts (jAER writes ``#!AER-DAT2.0``)."""
BATCHED = False
SUFFIXES = (".aedat", ".aedat2")
COMPRESSIONS = {"none": "none"}
"""AEDAT 2.0 stores records as they are: ``"none"`` (or None) only."""
DEFAULT_COMPRESSION = "none"

CHIPS = {
    "ch.unizh.ini.jaer.chip.retina.DVS128": aer.DVS128,
    **{f"eu.seebetter.ini.chips.davis.DAVIS240{model}": aer.DAVIS240 for model in "ABC"},
    **{
        f"eu.seebetter.ini.chips.davis.Davis346{model}": aer.DAVIS346
        for model in ("B", "BColor", "blue", "red", "redColor", "cBSI", "Zynq")
    },
    "eu.seebetter.ini.chips.davis.Davis640": aer.DAVIS640,
}
"""jAER's camera classes (``# AEChip:`` lines) -> their layouts: ``DVS128``; ``DAVIS240A/B/C``
(which extend ``DAVIS240BaseCamera``); the ``Davis346*`` classes extending
``Davis346BaseCamera``; ``Davis640``."""
WRITTEN_CHIP = {
    "DVS128": "ch.unizh.ini.jaer.chip.retina.DVS128",
    "DAVIS240": "eu.seebetter.ini.chips.davis.DAVIS240C",
    "DAVIS346": "eu.seebetter.ini.chips.davis.Davis346B",
    "DAVIS640": "eu.seebetter.ini.chips.davis.Davis640",
}
"""The ``# AEChip:`` class written for each named layout."""
HEADER_LINES = (
    "#!AER-DAT2.0",
    "# This is a raw AE data file - do not edit",
    "# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event",
    "# Timestamps tick is 1 us",
)
"""The first header lines, as jAER's ``AEFileOutputStream`` writes them."""
END_OF_HEADER = "#End Of ASCII Header"
"""jAER's last header line (``AEDataFile.END_OF_HEADER_STRING``): the data start after it."""
RECORD = np.dtype([("address", ">u4"), ("t", ">u4")])
"""One record: big-endian address word, big-endian timestamp (us, modulo 2^32)."""
WRAP = 1 << 32
"""The timestamps' period in microseconds."""
T_BASE_LIMIT = 1 << 62
"""Latest first time of a stream: the times that follow stay within int64 when read."""
PIECE = 1 << 19
"""Records one worker packs or decodes at a time (2 MiB): small enough to stay in cache."""
_HEAD_BLOCK = 1 << 16
R = TypeVar("R")


def sniff(head: bytes) -> float:
    """How sure it is that a file starting with ``head`` is AEDAT 2.0: 1 for its magic line, else 0.

    Examples
    --------
    >>> from exporters import aedat2
    >>> aedat2.sniff(b"#!AER-DAT2.0\\r\\n# ..."), aedat2.sniff(b"#!AER-DAT3.1\\r\\n"), aedat2.sniff(b"")
    (1.0, 0.0, 0.0)
    """
    return 1.0 if head.startswith(MAGIC) else 0.0


def _layout(camera: object, layout: object) -> aer.Layout | None:
    """The layout ``camera=`` or ``layout=`` names (None for neither)."""
    if camera is not None and layout is not None:
        raise OptionError("give camera= (a layout's name) or layout= (an aer.Layout), not both")
    if layout is not None:
        if not isinstance(layout, aer.Layout):
            raise OptionTypeError(f"layout must be an exporters.aer.Layout, got {type(layout).__name__}")
        return layout
    return None if camera is None else aer.named(str(camera))


# ---------------------------------------------------------------------- writing
def write(
    path: str | os.PathLike[str],
    events: Events,
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    dt_us: int | None = None,
    t0_us: int = 0,
    camera: str | None = None,
    layout: aer.Layout | None = None,
    overwrite: bool = True,
) -> None:
    """Write events to an AEDAT 2.0 file (one file per sample with a ``{}`` in ``path``).

    Parameters
    ----------
    path : path
        Target file; for a batch of several samples it must hold a ``{}`` placeholder.
    events : Events
        One sample (or several with a placeholder), in microseconds or in steps.
    compression : {"none", None}
        AEDAT 2.0 has no compression.
    dt_us : int, optional
        Microseconds per step: required for step-time events (time ``t0_us + t * dt_us``).
    t0_us : int
        Time of step 0 in microseconds.
    camera : str, optional
        A named layout of :mod:`exporters.aer` (``"DVS128"``, ``"DAVIS240"``, ``"DAVIS346"``,
        ``"DAVIS640"``, any case) whose sensor holds the events; default the one whose sensor
        size is the events'.
    layout : aer.Layout, optional
        A custom 32-bit layout instead of ``camera`` (reading the file then needs it again).
    overwrite : bool
        Replace an existing file (atomically, as every write); False raises instead.

    Raises
    ------
    ExportError
        No camera of the events' size (and no ``camera`` / ``layout``), events that do not fit
        the camera, samples with channels, step time without ``dt_us``, negative times,
        consecutive events 2^31 us or more apart, several samples without a placeholder.
    OptionError
        An unknown camera, both ``camera`` and ``layout``, a bad ``dt_us``.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> import eventcode
    >>> from exporters import aedat2
    >>> generator = torch.Generator().manual_seed(0)
    >>> digits = eventcode.rate(torch.rand(1, 1, 28, 28), num_steps=10, generator=generator)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "digit.aedat"
    >>> aedat2.write(path, digits, dt_us=1000, camera="DVS128")
    >>> aedat2.read(path) == digits
    True
    """
    write_samples(
        Writer,
        path,
        events,
        compression=compression,
        camera=camera,
        layout=layout,
        dt_us=dt_us,
        t0_us=t0_us,
        overwrite=overwrite,
    )


class Writer(AtomicWriter):
    """Append events to an AEDAT 2.0 file chunk by chunk, in constant memory.

    Use as a context manager: the file appears (atomically) when the block ends without an
    error. Chunks are one-sample :class:`~eventcode.Events` of the declared shape, in time
    order across chunks.

    Parameters
    ----------
    path : path
        Target file.
    sensor_size : (W, H) or (W, H, P), optional
        Sensor size; or give ``shape``.
    compression, camera, layout, dt_us, t0_us, overwrite
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
    >>> from exporters import aedat2
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stream.aedat"
    >>> with aedat2.Writer(path, sensor_size=(128, 128)) as writer:
    ...     for start in (0, 1000):
    ...         chunk = Events(t=[start, start + 5], x=[1, 2], y=[3, 4], p=[1, 0], sensor_size=(128, 128))
    ...         writer.write(chunk)
    >>> aedat2.read(path).t.tolist()
    [0, 5, 1000, 1005]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensor_size: Sequence[int] | None = None,
        compression: Compression = DEFAULT_COMPRESSION,
        *,
        shape: Sequence[int] | None = None,
        camera: str | None = None,
        layout: aer.Layout | None = None,
        dt_us: int | None = None,
        t0_us: int = 0,
        num_steps: int | None = None,
        overwrite: bool = True,
        polarities: int | None = None,
    ) -> None:
        canonical(compression, COMPRESSIONS, "AEDAT 2.0")
        super().__init__(
            path,
            address.resolve(shape, sensor_size),
            overwrite,
            address.resolve_polarities(polarities, sensor_size),
        )
        width, height, planes = address.extents(self._shape)
        if planes > 1:
            raise ExportError(
                f"samples of shape {self._shape} have {planes} channels, which AEDAT 2.0 addresses cannot "
                "hold; write AEDAT 4.0 (channels='tile') or HDF5"
            )
        chosen = _layout(camera, layout)
        if chosen is None:
            matches = [named for named in aer.LAYOUTS.values() if named.size == (width, height)]
            if len(matches) != 1:
                raise ExportError(
                    f"no AEDAT 2.0 camera has the events' {width}x{height} sensor; pass camera= one whose "
                    f"sensor holds them ({_cameras()}) or layout= an exporters.aer.Layout"
                )
            chosen = matches[0]
        if chosen.word_bits != 32:
            raise ExportError(
                f"AEDAT 2.0 stores 32-bit address words; layout {chosen.name!r} has {chosen.word_bits}"
            )
        if width > chosen.size[0] or height > chosen.size[1]:
            raise ExportError(
                f"events of a {width}x{height} sensor do not fit layout {chosen.name!r} of "
                f"{chosen.size[0]}x{chosen.size[1]}; choose a larger camera= or layout="
            )
        self._layout = chosen
        self._steps = steptime.recorded(dt_us, t0_us, num_steps)
        if self._steps is not None and self._steps.beyond(0, 1 << 63) is not None:
            raise ExportError(
                f"step time t0_us + k * dt_us (0 <= k < {num_steps}) must lie in 0 .. 2^63 - 1 us for "
                f"AEDAT 2.0, with t0_us = {t0_us} and dt_us = {self._steps.dt_us}"
            )
        self._last_t: int | None = None
        # events fit the sample shape, which fits the layout; only a layout without p needs checks
        self._check_polarity = not chosen.has("p")
        self._free: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()  # buffers written, to reuse

    @property
    def _out(self) -> BinaryIO:
        """The open file, as :meth:`_open` made it."""
        return cast(BinaryIO, self._file)

    def _open(self, temporary: Path) -> BinaryIO:
        # "r+b": the temporary file exists, empty; truncating it ("wb") makes ext4 flush it on close
        return open(temporary, "r+b")

    def _header(self, t_base: int) -> bytes:
        """The header lines, ``t_base`` the multiple of 2^32 us below the first time."""
        chip = (
            WRITTEN_CHIP.get(self._layout.name)
            if aer.LAYOUTS.get(self._layout.name) == self._layout
            else None
        )
        attributes = {"shape": ",".join(map(str, self._shape)), "layout": "_".join(self._layout.name.split())}
        if self._polarities != (2 if self._layout.has("p") else 0):  # what reading assumes
            attributes["polarities"] = str(self._polarities)
        if self._steps is not None:
            attributes |= {key: str(value) for key, value in self._steps._asdict().items()}
        if t_base:
            attributes["t_base_us"] = str(t_base)
        lines = [
            *HEADER_LINES,
            f"# created {time.strftime('%a %b %d %H:%M:%S %Z %Y')}",
            *([f"# AEChip: {chip}"] if chip else []),
            "# eventcode: " + " ".join(f"{key}={value}" for key, value in attributes.items()),
            END_OF_HEADER,
        ]
        return "".join(f"{line}\r\n" for line in lines).encode("ascii", "replace")

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
                raise ExportError(
                    f"t[0] = {first} us: AEDAT 2.0 streams start at 0 .. 2^62 us (146,000 years)"
                )
            self._out.write(self._header(first - first % WRAP))
        elif first < self._last_t:
            raise TimeOrderError(
                f"this chunk starts at t = {first} us, before the previous chunk's last event at "
                f"{self._last_t} us; write chunks in time order"
            )
        previous = first if self._last_t is None else self._last_t

        def records(a: int) -> np.ndarray:
            b = min(a + PIECE, len(t))
            before = int(t[a - 1]) if a else previous
            gaps = None if int(t[b - 1]) - before < 1 << 31 else np.diff(t[a:b], prepend=before) >= 1 << 31
            if gaps is not None and gaps.any():  # times are sorted: no gap reaches 2^31 in a shorter span
                i = a + checks.first(gaps)
                raise ExportError(
                    f"t[{i}] = {int(t[i])} us comes {int(t[i]) - (int(t[i - 1]) if i else previous)} us "
                    "after the event before it: AEDAT 2.0's 32-bit timestamps hold gaps below 2^31 us "
                    "(35.8 minutes); split the stream there"
                )
            try:
                buffer = self._free.get_nowait()
            except queue.Empty:
                buffer = np.empty(PIECE, RECORD)
            out = buffer[: b - a]
            columns = {"x": x[a:b], "y": y[a:b], "p": p[a:b]}
            aer.pack(columns, self._layout, out=out["address"], check=self._check_polarity)
            np.copyto(out["t"], t[a:b], casting="unsafe")  # the low 32 bits: the time modulo 2^32
            return out

        with threads.ordered(records, range(0, len(t), PIECE)) as ordered:
            for piece in ordered:
                self._out.write(piece.data)
                self._free.put(piece.base if piece.base is not None else piece)
        self._last_t = int(t[-1])


def _cameras() -> str:
    return ", ".join(f"{name} {layout.size[0]}x{layout.size[1]}" for name, layout in aer.LAYOUTS.items())


# ---------------------------------------------------------------------- the header
@dataclass(frozen=True)
class _Header:
    """What the header says and where the records are."""

    path: Path
    data_start: int
    records: int
    trailing: int
    chip: str | None
    attributes: dict[str, str]
    attributes_at: int


def _header(path: Path, descriptor: int) -> _Header:
    """Parse the header: the ``#`` lines up to the first other byte or jAER's end line."""
    size = os.fstat(descriptor).st_size
    head = os.pread(descriptor, _HEAD_BLOCK, 0)
    if not head.startswith(MAGIC):
        raise FileFormatError(
            f"{path}: byte 0: not an AEDAT 2.0 file (starts {head[:12]!r}, expected {MAGIC.decode()}0)"
        )
    chip, attributes, attributes_at, position = None, {}, 0, 0
    while position < size:
        if position >= len(head):
            head += os.pread(descriptor, _HEAD_BLOCK, len(head))
        if head[position : position + 1] != b"#":
            break
        end = head.find(b"\n", position)
        while end < 0 and len(head) < size:
            head += os.pread(descriptor, max(_HEAD_BLOCK, len(head)), len(head))
            end = head.find(b"\n", position)
        if end < 0:
            raise FileFormatError(
                f"{path}: byte {position}: the file ends inside this header line (truncated)"
            )
        line = head[position + 1 : end].rstrip(b"\r").decode("ascii", "replace")
        if line.startswith(" AEChip:"):
            chip = line.split(":", 1)[1].strip()
        elif line.startswith(" eventcode:"):
            attributes, attributes_at = _attributes(path, position, line.split(":", 1)[1]), position
        position = end + 1
        if line.strip().lower() == END_OF_HEADER[1:].lower():
            break
    records, trailing = divmod(size - position, RECORD.itemsize)
    return _Header(path, position, records, trailing, chip, attributes, attributes_at)


def _attributes(path: Path, position: int, text: str) -> dict[str, str]:
    """eventcode's ``key=value`` attributes of its header line."""
    pairs = [item.partition("=") for item in text.split()]
    if any(not key or not sep for key, sep, _ in pairs):
        raise FileFormatError(
            f"{path}: byte {position}: eventcode's header line is not key=value pairs: {text!r}"
        )
    return {key: value for key, _, value in pairs}


class _Target(NamedTuple):
    """What the records read back as: the layout, the sample shape, polarities and time."""

    layout: aer.Layout
    shape: tuple[int, ...]
    polarities: int
    steps: StepTime | None
    t_base: int


def _target(header: _Header, camera: object, layout: object) -> _Target:
    """The layout (``layout=``, ``camera=``, else the header's camera) and eventcode's attributes."""
    chosen = _layout(camera, layout)
    if chosen is None:
        chosen = CHIPS.get(header.chip or "")
        if chosen is None:
            named = header.attributes.get("layout")
            said = (
                f"its camera is {header.chip!r}, not one of jAER's cameras eventcode knows ({_cameras()})"
                if header.chip
                else "its header names no camera (no '# AEChip:' line)"
            )
            hint = f"; it was written with layout {named!r}" if named else ""
            raise OptionError(
                f"{header.path}: cannot tell the address layout: {said}{hint}; pass camera= one of "
                f"{', '.join(aer.LAYOUTS)} or layout= an exporters.aer.Layout"
            )
    if chosen.word_bits != 32:
        raise OptionError(
            f"AEDAT 2.0 holds 32-bit address words; layout {chosen.name!r} has {chosen.word_bits}"
        )
    attributes = header.attributes
    where = f"{header.path}: byte {header.attributes_at}: eventcode's header line"
    try:
        shape = address.check_shape(
            tuple(int(v) for v in attributes["shape"].split(","))
            if "shape" in attributes
            else chosen.size[::-1]
        )
        numbers = {
            key: int(attributes[key])
            for key in ("polarities", "num_steps", "dt_us", "t0_us", "t_base_us")
            if key in attributes
        }
    except (ValueError, EventsError) as err:
        raise FileFormatError(f"{where}: {err}") from None
    if (
        address.channels(shape) > 1
        or address.width(shape) > chosen.size[0]
        or address.height(shape) > chosen.size[1]
    ):
        raise FileFormatError(
            f"{where}: the sample shape {shape} does not fit layout {chosen.name!r} of "
            f"{chosen.size[0]}x{chosen.size[1]}"
        )
    polarities = numbers.get("polarities", 2 if chosen.has("p") else 0)
    t_base = numbers.get("t_base_us", 0)
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
    return _Target(chosen, shape, polarities, steps, t_base)


# ---------------------------------------------------------------------- decoding
class _Piece(NamedTuple):
    """What a worker found in records ``start .. start + words`` (the events written to the
    front of the columns it was given): their number, where they are among the records (None:
    all), the other words by kind, the first and last stored times, where the stored time wraps
    (drops by more than 2^31) and where it first goes back less than that (None: nowhere)."""

    start: int
    words: int
    events: int
    positions: np.ndarray | None
    counts: dict[str, int]
    first: int | None
    last: int | None
    wraps: np.ndarray
    back: int | None


def _decode(
    descriptor: int,
    header: _Header,
    layout: aer.Layout,
    start: int,
    stop: int,
    out: Mapping[str, np.ndarray] | None,
) -> _Piece:
    """Read records ``start:stop`` and decode their events into the front of ``out``'s columns
    (``t``: the stored times as int64); without ``out`` only find the events and their times."""
    offset, n = header.data_start + RECORD.itemsize * start, stop - start
    records, words = (
        threads.scratch("aedat2.records", n, RECORD),
        threads.scratch("aedat2.words", n, np.uint32),
    )
    got = os.preadv(descriptor, [records.data], offset) if n else 0
    if got != RECORD.itemsize * n:
        raise FileFormatError(f"{header.path}: byte {offset + got}: the file ends early (it shrank?)")
    np.copyto(words, records["address"])
    try:
        if out is None:
            positions, counts = aer.classify(words, layout)
        else:
            positions, counts = aer.unpack_into(
                words, layout, out, where=lambda i: f"byte {offset + RECORD.itemsize * i}"
            )[1:]
    except AddressError as err:
        raise FileFormatError(f"{header.path}: {err}") from None
    stored = records["t"] if positions is None else records["t"][positions]
    t = stored.astype(np.int64) if out is None else out["t"][: len(stored)]
    if out is not None:
        np.copyto(t, stored)
    wraps, back = np.empty(0, np.int64), None
    if len(t) > 1:
        falls = t[1:] < t[:-1]
        if falls.any():
            at = np.flatnonzero(falls) + 1
            drops = t[at - 1] - t[at]
            wraps = at[drops > 1 << 31]
            less = at[drops <= 1 << 31]
            back = int(less[0]) if len(less) else None
    first, last = (int(t[0]), int(t[-1])) if len(t) else (None, None)
    return _Piece(start, stop - start, len(t), positions, counts, first, last, wraps, back)


class _Timeline:
    """Turns the stored 32-bit times into microseconds piece after piece: adds ``t_base`` and
    2^32 for each wrap before, and raises at a time going back (unless ``sort``)."""

    def __init__(self, header: _Header, target: _Target, sort: bool) -> None:
        self.header, self.base, self.sort = header, target.t_base, sort
        self.last: int | None = None
        self.ordered = True

    def place(self, piece: _Piece, t: np.ndarray | None = None) -> tuple[int, int]:
        """Move on past a piece, turning its stored times ``t`` (its events', in place) into
        microseconds; return the microseconds added to its first and to its last stored time."""
        if piece.first is None or piece.last is None:
            return self.base, self.base
        wraps, back = [int(w) for w in piece.wraps], piece.back
        if self.last is not None and piece.first < self.last:
            if self.last - piece.first > 1 << 31:
                wraps.insert(0, 0)
            else:
                back = 0
        if back is not None:
            if not self.sort:
                j = piece.start + (back if piece.positions is None else int(piece.positions[back]))
                raise FileFormatError(
                    f"{self.header.path}: byte {self.header.data_start + RECORD.itemsize * j}: the time goes "
                    f"back from the event before by 2^31 us or less (not a 32-bit wrap); pass sort=True to "
                    "sort the events"
                )
            self.ordered = False
        if t is not None:
            if self.base:
                t += self.base
            for w in wraps:
                t[w:] += WRAP
        added = (self.base + (WRAP if wraps[:1] == [0] else 0), self.base + WRAP * len(wraps))
        self.base += WRAP * len(wraps)
        self.last = piece.last
        return added


def _columns_dtypes(target: _Target) -> dict[str, np.dtype]:
    """The dtypes the columns are decoded into: those of the layout's sensor."""
    x, y, _ = address.column_dtype_names((target.layout.size[1], target.layout.size[0]))
    return {"t": np.dtype(np.int64), "x": np.dtype(x), "y": np.dtype(y), "p": np.dtype(bool)}


class _Checks:
    """The checks of what eventcode recorded, on each piece's events as they are placed in time:
    the sample shape (when smaller than the camera's sensor), the polarities (all ON, or one
    polarity throughout) and the steps; a failure names the record's byte offset."""

    def __init__(self, header: _Header, target: _Target) -> None:
        self.header, self.target = header, target
        width, height = address.width(target.shape), address.height(target.shape)
        self.bounds = None if (width, height) == target.layout.size else (width, height)
        self.polarity: bool | None = None

    def __call__(self, piece: _Piece, columns: Mapping[str, np.ndarray]) -> None:
        """Check the piece's events (``columns``: theirs, times in microseconds)."""
        if not piece.events:
            return
        target, x, y, p, t = self.target, columns["x"], columns["y"], columns["p"], columns["t"]
        if self.bounds is not None:
            self._fail(
                piece,
                (x >= self.bounds[0]) | (y >= self.bounds[1]),
                f"outside the {self.bounds[0]}x{self.bounds[1]} sensor of the recorded shape {target.shape}",
            )
        if target.polarities == 0:
            self._fail(piece, ~p, "an OFF event, but the recorded events have no polarity (all ON)")
        if target.polarities == 1:
            self.polarity = bool(p[0]) if self.polarity is None else self.polarity
            self._fail(piece, p != self.polarity, "both polarities, but the recorded sensor has one")
        if target.steps is not None:
            steps, rest = np.divmod(t - target.steps.t0_us, target.steps.dt_us)
            self._fail(
                piece,
                (rest != 0) | (steps < 0) | (steps >= target.steps.num_steps),
                f"a time off the recorded steps t0_us + k * dt_us ({target.steps}, 0 <= k < num_steps)",
            )

    def _fail(self, piece: _Piece, bad: np.ndarray, what: str) -> None:
        if bad.any():
            j = checks.first(bad)
            record = piece.start + (j if piece.positions is None else int(piece.positions[j]))
            raise FileFormatError(
                f"{self.header.path}: byte {self.header.data_start + RECORD.itemsize * record}: {what}"
            )


def _finish(
    columns: dict[str, np.ndarray], target: _Target, window: tuple[int | None, int | None]
) -> dict[str, np.ndarray]:
    """Checked, sorted columns (us) cut to ``window`` (us), in the shape's dtypes and in steps
    for a step-time file."""
    t = columns["t"]
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    if lo or hi < len(t):
        columns = {name: column[lo:hi] for name, column in columns.items()}
    x, y, _ = address.column_dtype_names(target.shape)
    columns["x"], columns["y"] = columns["x"].astype(x, copy=False), columns["y"].astype(y, copy=False)
    if target.steps is not None:
        columns["t"] = (columns["t"] - target.steps.t0_us) // target.steps.dt_us
    return columns


def _window(
    path: str | os.PathLike[str], sample: object, t_start: object, t_end: object, target: _Target
) -> tuple[int | None, int | None]:
    """The window in microseconds (within int64), after checking the arguments every reader takes."""
    bounds = one_sample_window(path, sample, t_start, t_end, "AEDAT 2.0")
    return window_us(bounds, target.steps, -(1 << 63), (1 << 63) - 1)


def _warn(header: _Header, counts: Mapping[str, int]) -> None:
    """A :class:`DataLossWarning` for the words left out and the bytes of an incomplete record."""
    left = {kind: count for kind, count in counts.items() if count}
    parts = []
    if left:
        listed = ", ".join(f"{count} {kind}" for kind, count in left.items())
        parts.append(f"left out {sum(left.values())} words that are not DVS events ({listed})")
    if header.trailing:
        at = header.data_start + RECORD.itemsize * header.records
        parts.append(f"left out {header.trailing} bytes at byte {at}, an incomplete last record (truncated)")
    if parts:
        warnings.warn(f"{header.path}: {'; '.join(parts)}", DataLossWarning, stacklevel=3)


def _add(counts: dict[str, int], piece: _Piece) -> None:
    """Add a piece's words of each kind to ``counts``."""
    for kind, count in piece.counts.items():
        counts[kind] = counts.get(kind, 0) + count


# ---------------------------------------------------------------------- reading
def read(
    path: str | os.PathLike[str],
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    camera: str | None = None,
    layout: aer.Layout | None = None,
    sort: bool = False,
) -> Events:
    """Read the DVS events of an AEDAT 2.0 file (all of them, or ``t_start <= t < t_end``).

    Parameters
    ----------
    path : path
        The file.
    sample : {None, 0, -1}
        The file's one sample.
    t_start, t_end : int, optional
        Half-open time window in the time unit of the result (steps for step-time files written
        by eventcode, else microseconds). AEDAT 2.0 has no index: the whole file is decoded.
    camera : str, optional
        A named layout of :mod:`exporters.aer`, for a file whose header names no known camera
        (it overrides the header's).
    layout : aer.Layout, optional
        A custom layout instead of ``camera``.
    sort : bool
        Sort events whose time goes back (other than a 32-bit wrap) instead of raising.

    Returns
    -------
    Events
        One sample: microseconds and the camera's sensor, or the sample shape, polarities and
        steps eventcode recorded.

    Raises
    ------
    FileFormatError
        Not an AEDAT 2.0 file, a header line without an end, an address outside its layout's
        sensor, time going back (without ``sort``), eventcode attributes that do not hold.
    OptionError
        No layout to decode with (the header names no known camera: pass ``camera`` or
        ``layout``), a ``sample`` other than None, 0 or -1, a bad window.

    Warns
    -----
    DataLossWarning
        Words that are not DVS events were left out (counted by kind), or the file ends inside
        a record.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat2
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> events = Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(3, 1))
    >>> aedat2.write(path, events, camera="DVS128")
    >>> aedat2.read(path, t_start=2).t.tolist()
    [5, 9]
    """
    path = Path(path)
    with open_regular(path) as file:
        descriptor = file.fileno()
        header = _header(path, descriptor)
        target = _target(header, camera, layout)
        window = _window(path, sample, t_start, t_end, target)
        dtypes = _columns_dtypes(target)
        out = {name: np.empty(header.records, dtype) for name, dtype in dtypes.items()}
        timeline, check = _Timeline(header, target, sort), _Checks(header, target)

        def decode(start: int) -> _Piece:
            stop = min(start + PIECE, header.records)
            return _decode(
                descriptor, header, target.layout, start, stop, {k: v[start:stop] for k, v in out.items()}
            )

        counts: dict[str, int] = {}
        kept = 0
        with threads.ordered(decode, range(0, header.records, PIECE)) as ordered:
            for piece in ordered:
                timeline.place(piece, out["t"][piece.start : piece.start + piece.events])
                check(
                    piece,
                    {name: column[piece.start : piece.start + piece.events] for name, column in out.items()},
                )
                if kept != piece.start:
                    for column in out.values():
                        column[kept : kept + piece.events] = column[piece.start : piece.start + piece.events]
                kept += piece.events
                _add(counts, piece)
    columns = {name: column[:kept] for name, column in out.items()}
    if not timeline.ordered:
        order = np.argsort(columns["t"], kind="stable")
        columns = {name: column[order] for name, column in columns.items()}
    columns = _finish(columns, target, window)
    if len(columns["t"]) < header.records // 2:
        columns = {name: column.copy() for name, column in columns.items()}
    _warn(header, counts)
    return _events(columns, target)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    camera: str | None = None,
    layout: aer.Layout | None = None,
) -> Iterator[Events]:
    """Read an AEDAT 2.0 file as consecutive chunks of at most ``chunk_events`` events each.

    Memory stays near a few chunks whatever the file size; reading stops after ``t_end``.
    Arguments as for :func:`read` (time going back raises); the chunks are those of
    :func:`read_columns`, as :class:`~eventcode.Events`.

    Raises
    ------
    OptionError
        At the call: a ``chunk_events`` that is not a positive whole number, no layout, or the
        arguments :func:`read` refuses.
    FileFormatError
        As for :func:`read`, while iterating.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat2
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> events = Events(t=list(range(100)), x=[0] * 100, y=[0] * 100, p=[1] * 100, sensor_size=(128, 128))
    >>> aedat2.write(path, events)
    >>> [len(chunk) for chunk in aedat2.read_chunks(path, chunk_events=40)]
    [40, 40, 20]
    """
    target, chunks = started(_chunks(path, chunk_events, sample, t_start, t_end, camera, layout))
    return (_events(columns, target) for columns in chunks)


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    camera: str | None = None,
    layout: aer.Layout | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Read an AEDAT 2.0 file as chunks of numpy columns, without torch.

    Each chunk is a dict of ``t`` (int64, steps for step-time files written by eventcode, else
    microseconds), ``x`` and ``y`` (int16, int32 beyond 32,768) and ``p`` (bool): exactly the
    columns of the chunks of :func:`read_chunks`. Arguments and errors as for :func:`read_chunks`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat2
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> aedat2.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(128, 128)))
    >>> [(chunk["t"].tolist(), chunk["p"].dtype.name) for chunk in aedat2.read_columns(path)]
    [([1, 5, 9], 'bool')]
    """
    return started(_chunks(path, chunk_events, sample, t_start, t_end, camera, layout))[1]


def _chunks(
    path: str | os.PathLike[str],
    chunk_events: object,
    sample: object,
    t_start: object,
    t_end: object,
    camera: object,
    layout: object,
    checkpoint: object = None,
) -> Iterator[_Target | dict[str, np.ndarray]]:
    """The target, then the columns of each chunk: the arguments are checked (and the header
    read) when the first item is taken, the records a few chunks ahead on all cores after. From
    ``checkpoint`` (one of :func:`checkpoints`, which gave the warnings: none here then) the
    records from there on are decoded."""
    count = positive_int("chunk_events", chunk_events, "events")
    path = Path(path)
    with open_regular(path) as file:
        descriptor = file.fileno()
        header = _header(path, descriptor)
        target = _target(header, camera, layout)
        window = _window(path, sample, t_start, t_end, target)
        start = 0 if checkpoint is None else _resumed(header, checkpoint)
        yield target
        dtypes = _columns_dtypes(target)
        timeline, check = _Timeline(header, target, sort=False), _Checks(header, target)
        if checkpoint is not None:
            timeline.base, last = cast("tuple[int, int]", cast("Sequence[Any]", checkpoint)[3])
            timeline.last = None if last < 0 else last
        counts: dict[str, int] = {}

        def decode(start: int) -> tuple[_Piece, dict[str, np.ndarray]]:
            stop = min(start + count, header.records)
            out = {name: np.empty(stop - start, dtype) for name, dtype in dtypes.items()}
            return _decode(descriptor, header, target.layout, start, stop, out), out

        with threads.ordered(decode, range(start, header.records, count)) as ordered:
            for piece, out in ordered:
                timeline.place(piece, out["t"][: piece.events])
                _add(counts, piece)
                columns = {name: column[: piece.events] for name, column in out.items()}
                if piece.events and window[1] is not None and int(columns["t"][0]) >= window[1]:
                    break
                check(piece, columns)
                columns = _finish(columns, target, window)
                if len(columns["t"]):
                    yield columns
    if checkpoint is None:
        _warn(header, counts)


# ---------------------------------------------------------------------- reading from mid-file
Checkpoint = tuple[int, int, int | None, tuple[int, ...]]
"""A place to start decoding: ``(byte, events, bound, state)`` (see :func:`checkpoints`)."""


def checkpoints(
    path: str | os.PathLike[str],
    count: int = 1024,
    *,
    camera: str | None = None,
    layout: aer.Layout | None = None,
) -> tuple[list[Checkpoint], StepTime | None]:
    """Places to start decoding an AEDAT 2.0 file mid-way, found in one scanning pass.

    The pass reads every record and tells events from other words (as :func:`read` does, on
    all cores) without unpacking addresses, follows the 32-bit time across wraps, and at about
    ``count`` records evenly spaced records a checkpoint ``(byte, events, bound, state)``: the
    record's byte offset, the events before it, the time of the last event before it (in the
    file's unit: steps for a step-time file; None without events before), and the state
    :func:`read_from` starts from (the microseconds added to the stored times from there on and
    the stored time of the event before, -1 for none, which tells a wrap at the next). A last
    checkpoint marks the end of the records. Words left out (not DVS events) and an incomplete
    last record are reported here (:class:`~eventcode.errors.DataLossWarning`), not by
    :func:`read_from`.

    Returns
    -------
    (list of checkpoints, StepTime or None)
        The checkpoints in file order, and the step time of a step-time file.

    Raises
    ------
    OptionError
        ``count`` not a positive whole number, or as for :func:`read`.
    FileFormatError
        As for :func:`read`: time going back (not a 32-bit wrap) included.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat2
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> t = [2**32 - 5, 2**32 + 3, 2**32 + 9]  # across the 32-bit wrap
    >>> aedat2.write(path, Events(t=t, x=[0, 1, 2], y=[0, 0, 3], p=[1, 0, 1], sensor_size=(128, 128)))
    >>> marks, _ = aedat2.checkpoints(path, count=3)
    >>> [(events, bound, state) for _, events, bound, state in marks]  # doctest: +NORMALIZE_WHITESPACE
    [(0, None, (0, -1)), (1, 4294967291, (0, 4294967291)), (2, 4294967299, (4294967296, 3)),
     (3, 4294967305, (4294967296, 9))]
    >>> [chunk.t.tolist() for chunk in aedat2.read_from(path, marks[1])]
    [[4294967299, 4294967305]]
    """
    count = positive_int("count", count, "checkpoints")
    path = Path(path)
    with open_regular(path) as file:
        descriptor = file.fileno()
        header = _header(path, descriptor)
        target = _target(header, camera, layout)
        spacing = max(1, min(PIECE, -(-header.records // count)))
        timeline = _Timeline(header, target, sort=False)
        counts: dict[str, int] = {}
        marks: list[Checkpoint] = []
        events, bound = 0, cast("int | None", None)

        def scan(start: int) -> _Piece:
            return _decode(
                descriptor, header, target.layout, start, min(start + spacing, header.records), None
            )

        def mark(record: int) -> Checkpoint:
            steps, last = target.steps, -1 if timeline.last is None else timeline.last
            before = bound if bound is None or steps is None else (bound - steps.t0_us) // steps.dt_us
            return (header.data_start + RECORD.itemsize * record, events, before, (timeline.base, last))

        with threads.ordered(scan, range(0, header.records, spacing)) as ordered:
            for piece in ordered:
                marks.append(mark(piece.start))
                added = timeline.place(piece)
                _add(counts, piece)
                if piece.last is not None:
                    events, bound = events + piece.events, piece.last + added[1]
        marks.append(mark(header.records))
    _warn(header, counts)
    return marks, target.steps


def _resumed(header: _Header, checkpoint: object) -> int:
    """The record of a checkpoint of :func:`checkpoints` (its state checked too)."""
    try:
        byte, _, _, values = cast("Sequence[Any]", checkpoint)
        _, last = (int(value) for value in values)
        record, rest = divmod(int(byte) - header.data_start, RECORD.itemsize)
        found = None if rest or not 0 <= record <= header.records or last < -1 else record
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise OptionError(
            f"{header.path}: {checkpoint!r} is not a checkpoint of this file; take one from "
            "aedat2.checkpoints(path)"
        )
    return found


def read_from(
    path: str | os.PathLike[str],
    checkpoint: Checkpoint,
    chunk_events: int = 1 << 20,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    camera: str | None = None,
    layout: aer.Layout | None = None,
) -> Iterator[Events]:
    """Read an AEDAT 2.0 file from a checkpoint of :func:`checkpoints` on: its events in
    ``t_start <= t < t_end``, as chunks of at most ``chunk_events`` events (at least one chunk,
    empty when none falls in the window). Decoding stops at the first chunk starting at or after
    ``t_end``. No warnings: :func:`checkpoints` gave them.

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
    >>> from exporters import aedat2
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> aedat2.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 3], p=[1, 0, 1], sensor_size=(128, 128)))
    >>> marks, _ = aedat2.checkpoints(path)
    >>> [chunk.t.tolist() for chunk in aedat2.read_from(path, marks[1], t_end=9)]
    [[5]]
    """
    target, chunks = started(_chunks(path, chunk_events, None, t_start, t_end, camera, layout, checkpoint))

    def empty() -> Events:
        columns = {name: np.empty(0, dtype) for name, dtype in _columns_dtypes(target).items()}
        return _events(_finish(columns, target, (None, None)), target)

    return at_least_one((_events(columns, target) for columns in chunks), empty)


def _events(columns: dict[str, np.ndarray], target: _Target) -> Events:
    """One chunk of columns (checked) as one-sample :class:`~eventcode.Events`."""
    return steptime.one_sample(columns, target.shape, target.polarities, target.steps)


def info(
    path: str | os.PathLike[str], *, camera: str | None = None, layout: aer.Layout | None = None
) -> FileInfo:
    """Describe an AEDAT 2.0 file: its camera, events, time range and the other words.

    The address words are classified and the events' times unwrapped (numpy only); no
    coordinates are decoded.

    Parameters
    ----------
    path : path
        The file.
    camera, layout
        As for :func:`read`, for a file whose header names no known camera.

    Returns
    -------
    FileInfo
        The common fields; ``extras`` holds ``camera`` (the layout's name), ``chip`` (the
        header's ``# AEChip:`` class, or None), ``header_bytes``, ``records`` (address words),
        ``skipped`` (the words of each other kind: ``special``, ``imu``, ``aps`` for DAVIS
        cameras), ``trailing_bytes`` (of an incomplete last record), ``t_base_us`` and ``t0_us``.

    Raises
    ------
    FileFormatError, OptionError
        As for :func:`read`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat2
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat"
    >>> aedat2.write(path, Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(240, 180)))
    >>> meta = aedat2.info(path)
    >>> meta.sensor_size, meta.events, (meta.first, meta.last), meta.extras["skipped"]
    ((240, 180, 2), 2, (1, 2), {'special': 0, 'imu': 0, 'aps': 0})
    """
    path = Path(path)
    with open_regular(path) as file:
        descriptor = file.fileno()
        header = _header(path, descriptor)
        target = _target(header, camera, layout)
        timeline = _Timeline(header, target, sort=True)
        events, counts = 0, {kind.name: 0 for kind in target.layout.kinds}
        ends: list[int] = []

        def scan(start: int) -> _Piece:
            return _decode(descriptor, header, target.layout, start, min(start + PIECE, header.records), None)

        with threads.ordered(scan, range(0, header.records, PIECE)) as ordered:
            for piece in ordered:
                _add(counts, piece)
                added = timeline.place(piece)
                if piece.first is not None and piece.last is not None:
                    ends = [ends[0] if ends else piece.first + added[0], piece.last + added[1]]
                    events += piece.events
    steps = target.steps
    if steps is not None and ends:
        ends = [(t - steps.t0_us) // steps.dt_us for t in ends]
    first, last = (int(ends[0]), int(ends[1])) if ends else (None, None)
    width, height = address.width(target.shape), address.height(target.shape)
    return FileInfo(
        path=path,
        format=NAME,
        compression="none",
        sensor_size=(width, height, max(target.polarities, 1)),
        shape=target.shape,
        events=events,
        samples=1,
        time_unit="us" if steps is None else "step",
        first=first,
        last=last,
        num_steps=None if steps is None else steps.num_steps,
        dt_us=None if steps is None else steps.dt_us,
        polarities=target.polarities,
        streams=(Stream(0, "EVTS", "events", (width, height), 1, events, first, last),),
        extras={
            "camera": target.layout.name,
            "chip": header.chip,
            "header_bytes": header.data_start,
            "records": header.records,
            "skipped": counts,
            "trailing_bytes": header.trailing,
            "t_base_us": target.t_base,
            "t0_us": 0 if steps is None else steps.t0_us,
        },
    )
