"""HDF5 event files: DSEC's layout for one stream, a batched layout for whole encoded datasets.

Layout (every dataset chunked, one compression for all)::

    /events/x  uint8 or uint16: uint8 when the width is at most 256
    /events/y  uint8 or uint16: uint8 when the height is at most 256
    /events/p  uint8 (0 = OFF, 1 = ON)
    /events/t  time minus t_offset: steps in the smallest unsigned integer holding num_steps - 1;
               microseconds in uint32 while they fit (71.6 minutes), else int64
    /events/c  uint8 or uint16, only for samples with several channels
    /t_offset  int64       scalar
    /offsets   int64 [B + 1]: events of sample b are offsets[b]:offsets[b + 1]
    /ms_to_idx uint64      one stream in microseconds (DSEC): first event with t >= 1000 * ms
    /step_to_idx int64 [B, num_steps + 1]: step-time files: first event of each step, per sample

A one-sample microsecond file is a DSEC event file (``events/{x,y,t,p}``, ``ms_to_idx``,
``t_offset``), so DSEC's slicer and Tonic's DSEC loader read it. Root attributes record the
sample ``shape``, ``sensor_size``, ``time_unit``, ``num_steps``, ``dt_us`` (optional), the
encoding parameters the caller gives, and the eventcode version, so :func:`read` returns
exactly the :class:`~eventcode.Events` written. The reader takes any integer dtype of each
column (files of earlier versions stored int64 or uint32 times and uint16 addresses).
:func:`info` and :func:`read_columns` need numpy only; torch is imported when ``Events`` are
built (:func:`read`, :func:`read_chunks`, writing).

Chunks hold :data:`CHUNK_EVENTS` events, or the events of a smaller file (rounded up to a
multiple of 8), which is therefore small: :func:`write` splits its events into equal chunks,
and :class:`Writer` buffers up to one chunk and creates each dataset on its first full chunk or
when the file closes.

Compression (any case; :func:`filters` gives the h5py options of each): ``"gzip"``, deflate
level 1 with byte shuffle, is the default of :func:`write`, :class:`Writer` and the CLI: every
HDF5 tool reads it without plugins, and on 20 M events (``benchmarks/hdf5.py``, figures in
``benchmarks/README.md``) it stores rate-coded MNIST in 0.54 bytes per event and a camera stream
in 2.85, against lzf's 0.88 and 3.48 (writing as fast on MNIST, about 25% slower on the
stream). ``"lzf"`` (with shuffle) is built into h5py; ``"zstd"`` (level 3) and ``"blosc"`` (LZ4
with bit shuffle) need the ``hdf5plugin`` package (extra ``eventcode[hdf5]``) to write and to
read; ``None`` or ``"none"`` stores the columns uncompressed.

- Fastest: ``compression="none"`` (1.5-3x gzip's write speed on MNIST, 8x on a camera stream,
  at 7.6x and 2.8x its size) or ``compression="blosc"`` (about uncompressed speed, at 1.16 and
  3.22 bytes per event).
- Smallest: ``compression="zstd"`` for encoded datasets (0.44 bytes per event, and faster than
  gzip to write); the default gzip for camera streams (zstd takes 3.82 bytes per event there).

Examples
--------
>>> import tempfile, pathlib, torch
>>> import eventcode
>>> from exporters import hdf5
>>> generator = torch.Generator().manual_seed(0)
>>> digits = eventcode.rate(torch.rand(4, 1, 28, 28), num_steps=30, generator=generator)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "digits.h5"
>>> hdf5.write(path, digits, encoding={"code": "rate", "num_steps": 30})
>>> hdf5.read(path) == digits
True
>>> hdf5.read(path, sample=2, t_start=10, t_end=20) == digits[2].time_slice(10, 20)
True
>>> meta = hdf5.info(path)
>>> meta["compression"], meta["dtypes"]["t"], meta["dtypes"]["x"]
('gzip', 'uint8', 'uint8')
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np

import eventcode
from eventcode import address, checks
from eventcode.errors import ExportError, FileFormatError, PolarityError, TimeOrderError
from exporters.atomic import AtomicWriter
from exporters.compression import canonical
from exporters.options import step_us

if TYPE_CHECKING:
    from eventcode import Events

NAME = "hdf5"
DESCRIPTION = "HDF5 (DSEC layout for one stream, batched layout with offsets; eventcode's own)"
MAGIC = b"\x89HDF\r\n\x1a\n"
BATCHED = True
SUFFIXES = (".h5", ".hdf5")
Compression = str | None
"""A compression name in any spelling of :data:`COMPRESSIONS`, or None for none."""

COMPRESSIONS = {
    "none": "none",
    "gzip": "gzip",
    "deflate": "gzip",
    "lzf": "lzf",
    "zstd": "zstd",
    "blosc": "blosc",
}
"""Every accepted spelling of a compression (any case, ``-`` or ``_``) -> its canonical name;
``deflate`` is HDF5's name for gzip, and None means ``"none"``."""
DEFAULT_COMPRESSION = "gzip"
"""Deflate level 1 with shuffle: on 20 M events (``benchmarks/hdf5.py``) it stores 18-39% fewer
bytes than lzf, writing as fast on encoded MNIST and about 25% slower on a camera stream, and
every HDF5 tool reads it without plugins (level 4 is 2.5-25% smaller but writes 35-40% slower)."""
FILTER_NAMES = {h5py.h5z.FILTER_DEFLATE: "gzip", h5py.h5z.FILTER_LZF: "lzf", 32015: "zstd", 32001: "blosc"}
"""HDF5 filter id -> compression name, for :func:`info` (32015 and 32001: hdf5plugin's zstd and blosc)."""
CHUNK_EVENTS = 1 << 17
"""Events per HDF5 chunk of each column in files larger than one chunk: 512 KiB of uint32 times
fit h5py's default 1 MiB chunk cache, so a windowed read of a stream decompresses each chunk once
(2^16 to 2^18 write and read 20 M events at the same speed, within this machine's noise)."""
INDEX_CHUNK = 1 << 14
"""Entries per chunk of the index datasets (offsets, ms_to_idx, step_to_idx)."""
FORMAT = "eventcode-hdf5"
VERSION = 1
_UINT32_END = 1 << 32
_INT64 = np.iinfo(np.int64)


def write(
    path: str | os.PathLike[str],
    events: Events,
    compression: Compression = DEFAULT_COMPRESSION,
    *,
    dt_us: int | None = None,
    encoding: Mapping[str, object] | None = None,
    overwrite: bool = True,
) -> None:
    """Write events (one stream or a batch of samples) to one HDF5 file.

    Parameters
    ----------
    path : path
        Target file, replaced atomically.
    events : Events
        Any batch: one sample gives a DSEC-compatible file (in microseconds), several samples
        the batched layout.
    compression : {"gzip", "lzf", "zstd", "blosc", "none", None}
        See the module doc (any case); default gzip; ``"zstd"`` and ``"blosc"`` need
        ``hdf5plugin``; None or ``"none"`` for uncompressed.
    dt_us : int, optional
        Microseconds per step of step-time events, recorded as an attribute (times stay steps).
    encoding : mapping, optional
        Encoder name and parameters to record (JSON-serializable), returned by :func:`info`.
    overwrite : bool
        Replace an existing file; False raises instead.

    Raises
    ------
    ExportError
        Unknown compression, a missing ``hdf5plugin`` (naming the extra to install),
        unserializable ``encoding`` or an existing file without ``overwrite``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> stream = Events(t=[1000, 1500, 3200], x=[1, 2, 3], y=[0, 1, 0], p=[1, 0, 1], sensor_size=(4, 2))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stream.h5"
    >>> hdf5.write(path, stream)
    >>> import h5py
    >>> with h5py.File(path) as f:  # plain h5py sees DSEC's layout
    ...     f["events/t"][:].tolist(), int(f["t_offset"][()]), f["ms_to_idx"][:].tolist()
    ([0, 500, 2200], 1000, [0, 2, 2, 3])
    """
    chunks = max(1, -(-len(events) // CHUNK_EVENTS))
    with Writer(
        path,
        shape=events.shape,
        polarities=events.polarities,
        compression=compression,
        batched=events.num_samples != 1,
        num_steps=events.num_steps,
        dt_us=dt_us,
        encoding=encoding,
        overwrite=overwrite,
        chunk_events=max(1, -(-len(events) // chunks)),
    ) as writer:
        writer.write(events)


class Writer(AtomicWriter):
    """Append events to an HDF5 file chunk by chunk, in constant memory, keeping the index valid.

    In the default one-stream mode each :meth:`write` appends the next stretch of time of one
    sample (a DSEC file, ``ms_to_idx`` extended as it goes); with ``batched=True`` each call
    appends whole samples (``offsets`` and ``step_to_idx`` extended). The file appears at
    ``path`` only when the ``with`` block ends without an error; after an error, or a crash,
    ``path`` holds no new file and an existing one is untouched.

    Columns are buffered up to one chunk and written a chunk at a time, so a file of fewer
    events than ``chunk_events`` gets chunks of its length (rounded up to a multiple of 8).
    Microsecond times are stored as uint32 while every time after ``t_offset`` fits; the first
    write whose times do not fit turns the stored times into int64 (copied once), so any stream
    is stored exactly.

    Parameters
    ----------
    path : path
        Target file.
    sensor_size, shape
        The sample geometry (give one).
    compression : {"gzip", "lzf", "zstd", "blosc", "none", None}
        As for :func:`write`; default gzip.
    polarities : {2, 1, 0}, optional
        The sensor's kinds of event (:attr:`eventcode.Events.polarities`); default the ``P`` of
        ``sensor_size``, else 2. Stored as an attribute, restored on reading.
    batched : bool
        Append samples (True) or stretches of one stream (False).
    num_steps : int, optional
        Steps of step-time events (then every chunk must be in steps); None for microseconds.
    dt_us, encoding, overwrite
        As for :func:`write`.
    t_offset : int, optional
        Microseconds subtracted before storing; default the earliest time of the first
        non-empty write (a one-stream file's first event, as in DSEC). Step time has none.
    chunk_events : int
        Events per HDF5 chunk once the file holds more than one chunk.

    Raises
    ------
    ExportError
        As for :func:`write`; also a ``t_offset`` for step time.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> import eventcode
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "dataset.h5"
    >>> with hdf5.Writer(path, shape=(1, 28, 28), batched=True, num_steps=25) as writer:
    ...     for _ in range(3):  # e.g. batches from a DataLoader
    ...         writer.write(eventcode.latency(torch.rand(8, 1, 28, 28), num_steps=25, normalize=True))
    >>> hdf5.info(path)["samples"]
    24
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensor_size: Sequence[int] | None = None,
        compression: Compression = DEFAULT_COMPRESSION,
        *,
        shape: Sequence[int] | None = None,
        batched: bool = False,
        num_steps: int | None = None,
        dt_us: int | None = None,
        encoding: Mapping[str, object] | None = None,
        overwrite: bool = True,
        t_offset: int | None = None,
        chunk_events: int = CHUNK_EVENTS,
        polarities: int | None = None,
    ) -> None:
        self._compression = canonical(compression, COMPRESSIONS, "HDF5")
        self._filters = filters(self._compression)
        super().__init__(
            path,
            address.resolve(shape, sensor_size),
            overwrite,
            address.resolve_polarities(polarities, sensor_size),
        )
        self._batched = batched
        self._num_steps = num_steps
        self._unit = "step" if num_steps is not None else "us"
        try:
            self._encoding = json.dumps(dict(encoding or {}))
        except TypeError as err:
            raise ExportError(f"encoding must be JSON-serializable: {err}") from None
        if t_offset and self._unit == "step":
            raise ExportError(
                f"t_offset={t_offset} given for step time; step files store steps as they are: drop t_offset"
            )
        self._dt_us = step_us(dt_us)
        self._t_offset = 0 if self._unit == "step" else t_offset
        self._chunk = max(1, int(chunk_events))
        self._count = 0
        self._last_t: int | None = None
        self._step_row: np.ndarray | None = None
        self._columns: dict[str, _Column] = {}

    # ------------------------------------------------------------------ file
    def _open(self, temporary: Path) -> h5py.File:
        root = h5py.File(temporary, "w")
        extents = {"x": address.width(self._shape), "y": address.height(self._shape)}
        if address.channels(self._shape) > 1:
            extents["c"] = address.channels(self._shape)
        events = {name: _narrowest(extent - 1) for name, extent in extents.items()}
        events["p"] = np.dtype(np.uint8)
        for name, dtype in events.items():
            self._columns[name] = _Column(root, f"events/{name}", dtype, self._chunk, self._filters)
        self._columns["t"] = (
            _Column(root, "events/t", _narrowest(self._num_steps - 1), self._chunk, self._filters)
            if self._unit == "step"
            else _WideningTimes(root, "events/t", np.dtype(np.uint32), self._chunk, self._filters)
        )
        self._columns["offsets"] = _Column(root, "offsets", np.dtype(np.int64), INDEX_CHUNK, self._filters)
        self._columns["offsets"].append(np.zeros(1, np.int64))
        if self._unit == "step":
            width = self._num_steps + 1
            self._columns["step_to_idx"] = _Column(
                root, "step_to_idx", np.dtype(np.int64), max(1, INDEX_CHUNK // width), self._filters, (width,)
            )
        elif not self._batched:
            self._columns["ms_to_idx"] = _Column(
                root, "ms_to_idx", np.dtype(np.uint64), INDEX_CHUNK, self._filters
            )
        attributes = {
            "format": _fixed(FORMAT),
            "version": VERSION,
            "eventcode_version": _fixed(eventcode.__version__),
            "shape": np.array(self._shape, dtype=np.int64),
            "sensor_size": np.array(
                (*address.sensor_size(self._shape)[:2], max(self._polarities, 1)), dtype=np.int64
            ),
            "polarities": self._polarities,
            "width": address.width(self._shape),
            "height": address.height(self._shape),
            "time_unit": _fixed(self._unit),
            "polarity_encoding": _fixed("0/1"),
            "batched": self._batched,
            "compression": _fixed(self._compression),
            "encoding": _fixed(self._encoding),
        }
        if self._num_steps is not None:
            attributes["num_steps"] = self._num_steps
        if self._dt_us is not None:
            attributes["dt_us"] = self._dt_us
        root.attrs.update(attributes)
        return root

    # ------------------------------------------------------------------ appending
    def write(self, events: Events) -> None:
        """Append events: the next stretch of the stream, or (``batched``) whole samples."""
        self._check(events)
        if events.time_unit != self._unit:
            raise ExportError(
                f"this file holds {self._unit!r} time but the events count {events.time_unit!r}; "
                + ("give num_steps to hold step time" if self._unit == "us" else "pass step-time events")
            )
        if self._unit == "step" and events.num_steps > self._num_steps:
            raise ExportError(
                f"events of {events.num_steps} steps do not fit this file's {self._num_steps} steps"
            )
        if not self._batched and events.num_samples != 1:
            raise ExportError(
                f"a one-stream file takes one sample per write, got {events.num_samples}; "
                "pass batched=True to store samples"
            )
        offsets = events.offsets.cpu().numpy()
        t = self._relative(events.t.cpu().numpy(), offsets)
        if not self._batched and len(t):
            if self._last_t is not None and t[0] < self._last_t:
                raise TimeOrderError(
                    f"this chunk starts at t = {int(t[0]) + self._t_offset}, before the previous chunk's "
                    f"last event at {self._last_t + self._t_offset}; write chunks in time order"
                )
            self._last_t = int(t[-1])
        start = self._count
        self._columns["t"].append(t)
        for name in ("x", "y", "p", "c"):
            if name in self._columns:
                self._columns[name].append(getattr(events, name).cpu().numpy())
        self._count += len(events)
        if self._batched:
            self._columns["offsets"].append(offsets[1:] + start)
        if self._unit == "step":
            rows = _step_index(t, offsets, self._num_steps) + start
            if self._batched:
                self._columns["step_to_idx"].append(rows)
            else:
                self._merge_stream_steps(rows[0], t)
        elif not self._batched:
            self._extend_ms_index(t, start)

    def _relative(self, t: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Microseconds minus t_offset (set by the first non-empty write) in their stored dtype,
        widened first if they need it; steps as they are."""
        if self._unit == "step" or not len(t):
            return t
        nonempty = offsets[1:] > offsets[:-1]  # each sample is sorted: its ends bound its times
        first, last = int(t[offsets[:-1][nonempty]].min()), int(t[offsets[1:][nonempty] - 1].max())
        if self._t_offset is None:
            self._t_offset = first
        low, high = first - self._t_offset, last - self._t_offset
        if low < _INT64.min or high > _INT64.max:
            raise ExportError(
                f"times {first}..{last} minus t_offset {self._t_offset} leave int64; "
                "give a t_offset within the stream's times"
            )
        times = self._columns["t"]
        times.fit(low, high)
        if not self._t_offset:
            return t
        return np.subtract(t, self._t_offset, out=np.empty(len(t), times.dtype), casting="unsafe")  # fits

    def _extend_ms_index(self, t: np.ndarray, start: int) -> None:
        """DSEC's ms_to_idx for the milliseconds now decided: those up to the last time seen."""
        index = self._columns["ms_to_idx"]
        if not len(t):
            return
        known = int(t[-1]) // 1000 + 1  # ms * 1000 <= last t: their first event is already written
        if known > index.length:
            ms = (np.arange(index.length, known, dtype=np.int64) * 1000).astype(t.dtype)  # <= t[-1]
            index.append((np.searchsorted(t, ms, side="left") + start).astype(np.uint64))

    def _merge_stream_steps(self, row: np.ndarray, t: np.ndarray) -> None:
        """One stream in steps: keep a single row; steps after this chunk stay at its end."""
        if self._step_row is None:
            self._step_row = row
        elif len(t):  # steps up to this chunk's first keep their earlier entries
            first = int(t[0])
            self._step_row[first + 1 :] = row[first + 1 :]

    def _finish(self) -> None:
        """Close the indexes (DSEC's ms_to_idx runs to ceil(duration in ms)), write what is buffered."""
        if self._unit == "us" and not self._batched:
            index = self._columns["ms_to_idx"]
            last = self._last_t if self._last_t is not None else 0
            wanted = -(-last // 1000) + 1
            if wanted > index.length:
                index.append(np.full(wanted - index.length, self._count, dtype=np.uint64))
        if not self._batched:
            self._columns["offsets"].append(np.array([self._count], np.int64))
            if self._unit == "step":
                row = np.zeros(self._num_steps + 1, np.int64) if self._step_row is None else self._step_row
                self._columns["step_to_idx"].append(row[None])
        for column in self._columns.values():
            column.finish()
        self._file.create_dataset("t_offset", data=np.int64(self._t_offset or 0))
        self._file.attrs["samples"] = self._columns["offsets"].length - 1


class _Column:
    """One dataset of the file being written: rows appended, buffered and stored a chunk at a time.

    The dataset is created by the first full chunk, with chunks of ``chunk`` rows, or when the
    file closes, with chunks of its length if that is shorter (both rounded up to a multiple of
    8). The buffer holds copies, never views of the caller's arrays.
    """

    def __init__(
        self,
        file: h5py.File,
        name: str,
        dtype: np.dtype | None,
        chunk: int,
        options: Mapping[str, object],
        row: tuple[int, ...] = (),
    ) -> None:
        self.file, self.name, self.dtype, self.row = file, name, dtype, row
        self.chunk, self.options = _multiple_of_8(chunk), options
        self.pending: list[np.ndarray] = []
        self.waiting = 0
        self.stored = 0

    @property
    def length(self) -> int:
        """Rows appended so far, stored or buffered."""
        return self.stored + self.waiting

    def append(self, values: np.ndarray) -> None:
        values = self._converted(values)
        self.pending.append(values)
        self.waiting += len(values)
        if self.waiting >= self.chunk:
            self._store(self.waiting // self.chunk * self.chunk)
        elif len(values):
            self.pending[-1] = values.copy()

    def finish(self) -> None:
        """Store what is buffered (creating the dataset, even an empty one)."""
        self._store(self.waiting)

    def _converted(self, values: np.ndarray) -> np.ndarray:
        """Values in the stored dtype: a view where only the signedness differs (addresses are
        >= 0, polarity 0/1), else a converted copy."""
        if values.dtype == self.dtype:
            return values
        if values.dtype.itemsize == self.dtype.itemsize and values.dtype.kind in "biu":
            return values.view(self.dtype)
        return values.astype(self.dtype)

    def _store(self, count: int) -> None:
        data = self.pending[0] if len(self.pending) == 1 else self._joined()
        dataset = self._dataset(data, count)
        dataset.resize(self.stored + count, axis=0)
        dataset[self.stored : self.stored + count] = data[:count].astype(self.dtype, copy=False)
        self.stored += count
        rest = data[count:]
        self.pending = [rest.copy()] if len(rest) else []
        self.waiting = len(rest)

    def _joined(self) -> np.ndarray:
        if not self.pending:
            return np.empty((0, *self.row), self.dtype)
        return np.concatenate(self.pending)

    def _dataset(self, data: np.ndarray, count: int) -> h5py.Dataset:
        """The dataset, created now if this is the first store."""
        if self.name in self.file:
            return self.file[self.name]
        return self.file.create_dataset(
            self.name,
            shape=(0, *self.row),
            maxshape=(None, *self.row),
            dtype=self.dtype,
            chunks=(min(self.chunk, _multiple_of_8(count)), *self.row),
            **self.options,
        )


class _WideningTimes(_Column):
    """Microseconds after t_offset: uint32 while every time fits it, else int64.

    When times arrive that do not fit uint32 (before t_offset or 71.6 minutes after it), the
    times stored so far are copied once into an int64 dataset that replaces the uint32 one.
    """

    def fit(self, low: int, high: int) -> None:
        """Make the dtype hold times ``low..high`` (before they are appended)."""
        if self.dtype == np.uint32 and (low < 0 or high >= _UINT32_END):
            if self.name in self.file:
                self._widen()
            self.dtype = np.dtype(np.int64)

    def _widen(self) -> None:
        old = self.file[self.name]
        wide = self.file.create_dataset(
            f"{self.name}_int64",
            shape=old.shape,
            maxshape=(None,),
            dtype=np.int64,
            chunks=old.chunks,
            **self.options,
        )
        step = old.chunks[0]
        for start in range(0, len(old), step):
            wide[start : start + step] = old[start : start + step]
        del self.file[self.name]
        self.file.move(wide.name, self.name)


def _multiple_of_8(rows: int) -> int:
    """``rows`` rounded up to a multiple of 8 (at least 8): blosc's bit shuffle works on 8
    elements at a time and leaves a chunk of another length unshuffled (2-4x larger)."""
    return -(-max(rows, 1) // 8) * 8


def _backwards(t: np.ndarray, offsets: np.ndarray) -> int | None:
    """The first event whose time is before its predecessor's in the same sample, or None."""
    backwards = t[1:] < t[:-1]
    if len(t) < 2 or not backwards.any():
        return None
    backwards[offsets[1:-1][(offsets[1:-1] > 0) & (offsets[1:-1] < len(t))] - 1] = False  # sample starts
    return int(np.argmax(backwards)) + 1 if backwards.any() else None


def _outside(values: np.ndarray, low: int, high: int) -> bool:
    """Whether any value lies outside ``[low, high)`` (the minimum of unsigned values is only
    read when ``low`` is positive)."""
    if not len(values):
        return False
    return int(values.max()) >= high or ((low > 0 or values.dtype.kind != "u") and int(values.min()) < low)


def _narrowest(largest: int) -> np.dtype:
    """The smallest unsigned integer dtype holding ``0..largest`` (uint8 at least)."""
    return np.min_scalar_type(max(int(largest), 0))


def _fixed(text: str) -> np.bytes_:
    """Text as a fixed-length attribute: stored in the object header, not the global heap, whose
    damage can make HDF5 loop forever when it reads a variable-length string."""
    return np.bytes_(text.encode("utf-8"))


def _text(file: h5py.File, key: str, default: str | None) -> str | None:
    value = file.attrs.get(key, default)
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def _step_index(t: np.ndarray, offsets: np.ndarray, num_steps: int) -> np.ndarray:
    """``[B, num_steps + 1]``: each sample's index of its first event at each step, and its end.

    Samples are sorted by step, so ``sample * (num_steps + 1) + t`` is sorted and one
    ``searchsorted`` finds all of a group's entries; groups of about a million events keep the
    work in cache.
    """
    batch, width = len(offsets) - 1, num_steps + 1
    rows = np.empty((batch, width), np.int64)
    b0 = 0
    while b0 < batch:
        b1 = min(batch, max(b0 + 1, int(np.searchsorted(offsets, offsets[b0] + (1 << 20), side="right")) - 1))
        lo, hi = int(offsets[b0]), int(offsets[b1])
        key = np.zeros(hi - lo, np.int64)
        starts = offsets[b0 + 1 : b1] - lo
        np.add.at(key, starts[starts < hi - lo], width)  # + width at each new sample (several if empty)
        np.cumsum(key, out=key)
        key += t[lo:hi]
        targets = (np.arange(b1 - b0)[:, None] * width + np.arange(width)).ravel()
        rows[b0:b1] = np.searchsorted(key, targets).reshape(b1 - b0, width) + lo
        b0 = b1
    return rows


def filters(compression: Compression) -> dict[str, object]:
    """The h5py dataset options that each compression name stands for (any spelling).

    For datasets of your own beside eventcode's, compressed the same way.

    Raises
    ------
    ExportError
        An unknown name (listing the valid ones), or ``"zstd"`` / ``"blosc"`` without
        ``hdf5plugin`` (naming the extra to install).

    Examples
    --------
    >>> from exporters import hdf5
    >>> hdf5.filters("GZIP"), hdf5.filters(None)
    ({'compression': 'gzip', 'compression_opts': 1, 'shuffle': True}, {})
    """
    name = canonical(compression, COMPRESSIONS, "HDF5")
    if name == "none":
        return {}
    if name == "gzip":
        return {"compression": "gzip", "compression_opts": 1, "shuffle": True}
    if name == "lzf":
        return {"compression": "lzf", "shuffle": True}
    try:
        import hdf5plugin
    except ImportError:
        raise ExportError(
            f"compression {name!r} needs the hdf5plugin package: pip install 'eventcode[hdf5]' "
            "(gzip and lzf need nothing more)"
        ) from None
    if name == "zstd":
        return dict(hdf5plugin.Zstd(clevel=3))
    return dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE))


# ---------------------------------------------------------------------- reading
def info(path: str | os.PathLike[str]) -> dict[str, object]:
    """The file's metadata: shape, sensor size, time unit, samples, events, encoding, storage.

    ``compression`` is the canonical name of the filter on ``events/t`` (``"none"``,
    ``"gzip"``, ``"lzf"``, ``"zstd"``, ``"blosc"``, or ``"HDF5 filter <id>"`` for another);
    ``dtypes`` maps each event column to its stored dtype and ``chunk_events`` is the events per
    chunk (None for a contiguous file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> hdf5.write(path, Events(t=[5], x=[0], y=[0], p=[1], sensor_size=(2, 2)), encoding={"code": "none"})
    >>> meta = hdf5.info(path)
    >>> meta["sensor_size"], meta["events"], meta["encoding"], meta["compression"], meta["chunk_events"]
    ((2, 2, 2), 1, {'code': 'none'}, 'gzip', 8)
    """
    with _open(path) as file:
        return _metadata(file, Path(path))


def read(
    path: str | os.PathLike[str],
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Events:
    """Read events, all samples or one, all times or ``t_start <= t < t_end``, reading only those slices.

    Parameters
    ----------
    path : path
        An HDF5 file written by eventcode, or a DSEC event file (``events/{x,y,t,p}``,
        ``ms_to_idx``, ``t_offset``; its sensor size is taken from ``width``/``height``
        attributes or from the largest address).
    sample : int, optional
        One sample of a batched file (negative counts from the end); default all.
    t_start, t_end : int, optional
        Half-open window in the file's time unit (absolute: ``t_offset`` included).

    Raises
    ------
    FileFormatError
        A missing dataset, a wrong dtype, inconsistent offsets or index (naming the dataset),
        addresses outside the shape, or time going backwards within a sample.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> stream = Events(t=[1000, 1500, 3200], x=[1, 2, 3], y=[0, 1, 0], p=[1, 0, 1], sensor_size=(4, 2))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stream.h5"
    >>> hdf5.write(path, stream)
    >>> hdf5.read(path, t_start=1200).t.tolist()
    [1500, 3200]
    """
    with _open(path) as file:
        reader = _Reader(file, Path(path))
        return reader.events(reader.columns(reader.samples(sample), t_start, t_end))


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Read a file in pieces of about ``chunk_events`` events as numpy columns, without torch.

    A one-stream file comes as consecutive stretches of time; a batched file as groups of whole
    samples (a sample larger than ``chunk_events`` comes alone). Each piece is a dict of
    ``t`` (int64, absolute: ``t_offset`` added, in the file's time unit), ``x``, ``y`` (int16),
    ``p`` (bool), ``c`` (int16, only for samples with several channels) and ``offsets``
    (int64, the piece's own sample offsets: its events of sample ``k`` are
    ``offsets[k]:offsets[k + 1]``; ``[0, n]`` for a stretch of one stream). The pieces are
    checked as :func:`read` checks a file, and :func:`read_chunks` makes ``Events`` of them.

    Parameters
    ----------
    path : path
        As for :func:`read`.
    chunk_events : int
        Events per piece (about, for a batched file).
    t_start, t_end : int, optional
        Half-open window in the file's time unit, for every sample.

    Raises
    ------
    FileFormatError
        As for :func:`read`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> hdf5.write(path, Events(t=list(range(10)), x=[0] * 10, y=[0] * 10, p=[1] * 10, sensor_size=(1, 1)))
    >>> [(piece["t"].tolist(), piece["offsets"].tolist()) for piece in hdf5.read_columns(path, 4, t_start=3)]
    [([3, 4, 5, 6], [0, 4]), ([7, 8, 9], [0, 3])]
    """
    with _open(path) as file:
        yield from _Reader(file, Path(path)).pieces(chunk_events, t_start, t_end)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Iterator[Events]:
    """Read a file in pieces of about ``chunk_events`` events, in constant memory.

    A one-stream file comes as consecutive stretches of time; a batched file as groups of whole
    samples: the pieces of :func:`read_columns`, as ``Events``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> hdf5.write(path, Events(t=list(range(10)), x=[0] * 10, y=[0] * 10, p=[1] * 10, sensor_size=(1, 1)))
    >>> [len(chunk) for chunk in hdf5.read_chunks(path, chunk_events=4)]
    [4, 4, 2]
    """
    with _open(path) as file:
        reader = _Reader(file, Path(path))
        for piece in reader.pieces(chunk_events, t_start, t_end):
            yield reader.events(piece)


@contextlib.contextmanager
def _open(path: str | os.PathLike[str]) -> Iterator[h5py.File]:
    """The open file; any error HDF5 raises on a damaged file becomes a FileFormatError."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with contextlib.suppress(ImportError):  # registers the zstd and blosc filters with HDF5
        import hdf5plugin  # noqa: F401
    try:
        with h5py.File(path, "r") as file:
            yield file
    except (FileFormatError, IndexError):
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, MemoryError) as err:
        if "plugin" in str(err):
            raise FileFormatError(
                f"{path}: compressed with an HDF5 filter that needs the hdf5plugin package: "
                "pip install 'eventcode[hdf5]'"
            ) from None
        raise FileFormatError(
            f"{path}: not a readable HDF5 event file ({type(err).__name__}: {err})"
        ) from None


def _implausible(data: h5py.Dataset) -> bool:
    """Whether a dataset's length is far beyond what its stored bytes could hold (a damaged
    dataspace): reading it would try to allocate that much memory."""
    return data.size * data.dtype.itemsize > 4096 * data.id.get_storage_size() + (1 << 24)


def _compression(data: h5py.Dataset) -> str:
    """The canonical name of a dataset's compression filter (shuffle and checksums aside)."""
    plist = data.id.get_create_plist()
    codes = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    for code in codes:
        if code not in (h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32):
            return FILTER_NAMES.get(code, f"HDF5 filter {code}")
    return "none"


def _metadata(file: h5py.File, path: Path) -> dict[str, object]:
    reader = _Reader(file, path)
    return {
        "format": _text(file, "format", "DSEC"),
        "shape": reader.shape,
        "sensor_size": (*address.sensor_size(reader.shape)[:2], max(reader.polarities, 1)),
        "polarities": reader.polarities,
        "time_unit": reader.unit,
        "num_steps": reader.num_steps,
        "dt_us": int(file.attrs["dt_us"]) if "dt_us" in file.attrs else None,
        "samples": len(reader.offsets) - 1,
        "events": int(reader.offsets[-1]),
        "compression": _compression(reader.datasets["t"]),
        "dtypes": {name: str(data.dtype) for name, data in reader.datasets.items()},
        "chunk_events": reader.datasets["t"].chunks[0] if reader.datasets["t"].chunks else None,
        "encoding": json.loads(_text(file, "encoding", "{}")),
        "eventcode_version": _text(file, "eventcode_version", None),
    }


class _Reader:
    """Checked access to the datasets of one open file."""

    def __init__(self, file: h5py.File, path: Path) -> None:
        self.file, self.path = file, path
        self.datasets = {}
        for name in ("x", "y", "t", "p", "c"):  # in this order the first missing is named
            if name != "c" or "events/c" in file:
                self.datasets[name] = self._dataset(f"events/{name}")
        lengths = {name: len(data) for name, data in self.datasets.items()}
        if len(set(lengths.values())) > 1:
            self.fail("events", f"columns of different lengths {lengths}")
        total = lengths["t"]
        self.offsets = np.array([0, total])
        if "offsets" in file:
            data = self._dataset("offsets")
            if _implausible(data):
                self.fail("offsets", f"claims {len(data)} entries but stores far fewer bytes")
            self.offsets = data[()].astype(np.int64)
        if (
            self.offsets.ndim != 1
            or len(self.offsets) < 1
            or self.offsets[0] != 0
            or self.offsets[-1] != total
        ):
            self.fail("offsets", f"must run from 0 to the {total} events")
        if (np.diff(self.offsets) < 0).any():
            self.fail("offsets", "must not decrease")
        self.batched = bool(file.attrs.get("batched", False))
        self.unit = _text(file, "time_unit", "us")
        if self.unit not in ("us", "step"):
            self.fail("/", f"time_unit attribute is {self.unit!r}, not 'us' or 'step'")
        self.num_steps = int(file.attrs["num_steps"]) if "num_steps" in file.attrs else None
        if self.unit == "step" and (self.num_steps is None or self.num_steps < 0):
            self.fail("/", "step time needs a non-negative num_steps attribute")
        self.t_offset = int(self._dataset("t_offset")[()]) if "t_offset" in file else 0
        try:
            if "shape" in file.attrs:
                self.shape = address.check_shape(file.attrs["shape"].tolist())
            elif "width" in file.attrs and "height" in file.attrs:
                self.shape = address.check_shape((int(file.attrs["height"]), int(file.attrs["width"])))
            else:  # a DSEC file without geometry: the smallest sensor holding every event
                self.shape = address.check_shape(
                    (
                        int(self.datasets["y"][()].max(initial=0)) + 1,
                        int(self.datasets["x"][()].max(initial=0)) + 1,
                    )
                )
        except Exception as err:
            self.fail("/", f"no usable sample shape ({err})")
        if ("c" in self.datasets) != (address.channels(self.shape) > 1):
            self.fail("events/c", f"present exactly when the shape {self.shape} has several channels")
        self.polarities = int(file.attrs.get("polarities", 2))
        if self.polarities not in address.POLARITIES:
            self.fail("/", f"polarities attribute is {self.polarities}, not 2, 1 or 0")

    def fail(self, dataset: str, message: str) -> None:
        raise FileFormatError(f"{self.path}: {dataset}: {message}")

    def _dataset(self, name: str) -> h5py.Dataset:
        if name not in self.file or not isinstance(self.file[name], h5py.Dataset):
            self.fail(name, "missing; is this an event file written by eventcode or DSEC?")
        data = self.file[name]
        if data.dtype.kind not in "iu" or (name.startswith("events/") and data.ndim != 1):
            self.fail(name, f"has dtype {data.dtype} and shape {data.shape}; expected 1-D integers")
        return data

    def samples(self, sample: int | None) -> range:
        count = len(self.offsets) - 1
        if sample is None:
            return range(count)
        b = sample + count if sample < 0 else sample
        if not 0 <= b < count:
            raise IndexError(f"sample {sample} out of range for {count} sample(s) in {self.path}")
        return range(b, b + 1)

    def pieces(
        self, chunk_events: int, t_start: int | None, t_end: int | None
    ) -> Iterator[dict[str, np.ndarray]]:
        """Checked columns of about ``chunk_events`` events: stretches of one stream, or groups
        of whole samples."""
        if self.batched:
            bounds = self.offsets
            first = 0
            for b in range(1, len(bounds)):
                if b == len(bounds) - 1 or bounds[b + 1] - bounds[first] > chunk_events:
                    yield self.columns(range(first, b), t_start, t_end)
                    first = b
            return
        ((lo, hi),) = self.windows(range(1), t_start, t_end)
        for start in range(lo, hi, chunk_events):
            end = min(start + chunk_events, hi)
            yield self._checked(self.columns_of(start, end), np.array([end - start]))

    def windows(self, samples: range, t_start: int | None, t_end: int | None) -> list[tuple[int, int]]:
        """Event index range of each sample within the time window, from the indexes."""
        lo = self.offsets[samples.start : samples.stop]
        hi = self.offsets[samples.start + 1 : samples.stop + 1]
        first = self._first_at(samples, t_start, lo)
        last = np.maximum(first, self._first_at(samples, t_end, hi))
        return list(zip(first.tolist(), last.tolist(), strict=True))

    def _first_at(self, samples: range, t: int | None, default: np.ndarray) -> np.ndarray:
        """Per sample, the index of its first event at or after time ``t`` (``default`` for None)."""
        if t is None:
            return default
        relative = t - self.t_offset
        if self._step_index is not None:  # exact: events before are earlier steps
            step = min(max(relative, 0), self.num_steps)
            return self._step_index[samples.start : samples.stop, step].astype(np.int64)
        found = []
        for b in samples:
            first, last = self._narrow(relative, int(self.offsets[b]), int(self.offsets[b + 1]))
            if first < last:
                times = self.datasets["t"][first:last].astype(np.int64)
                first += int(np.searchsorted(times, relative, side="left"))
            found.append(first)
        return np.array(found, dtype=np.int64)

    @functools.cached_property
    def _step_index(self) -> h5py.Dataset | None:
        """``step_to_idx`` of a step-time file, checked once (None without one)."""
        return self._dataset("step_to_idx") if self.unit == "step" and "step_to_idx" in self.file else None

    @functools.cached_property
    def _ms_index(self) -> h5py.Dataset | None:
        """``ms_to_idx`` of a one-stream file, checked once (None without one)."""
        return self._dataset("ms_to_idx") if "ms_to_idx" in self.file and not self.batched else None

    def _narrow(self, relative: int, lo: int, hi: int) -> tuple[int, int]:
        """A small index range of ``lo:hi`` holding the first event at or after ``relative``."""
        index = self._ms_index
        if index is None:
            return lo, hi
        ms = relative // 1000
        if ms < 0:
            return lo, lo
        if ms >= len(index):
            return hi, hi
        start = int(index[ms])
        end = int(index[ms + 1]) if ms + 1 < len(index) else hi
        if not lo <= start <= end <= hi:
            self.fail("ms_to_idx", f"entry {ms} points outside the events")
        return start, end

    def columns(self, samples: range, t_start: int | None, t_end: int | None) -> dict[str, np.ndarray]:
        """Checked columns of ``samples`` within the time window, with their ``offsets``."""
        if len(samples) == len(self.offsets) - 1 and t_start is None and t_end is None:
            spans = [(int(self.offsets[0]), int(self.offsets[-1]))]
            counts = np.diff(self.offsets)
        else:
            spans = self.windows(samples, t_start, t_end)
            counts = np.array([hi - lo for lo, hi in spans], dtype=np.int64)
        return self._checked(self._joined(spans), counts)

    def _joined(self, spans: list[tuple[int, int]]) -> dict[str, np.ndarray]:
        """The stored columns of the events in ``spans``, one array each."""
        pieces = [self.columns_of(lo, hi) for lo, hi in spans if hi > lo] or [self.columns_of(0, 0)]
        if len(pieces) == 1:
            return pieces[0]
        return {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}

    def columns_of(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """The stored columns of events ``lo:hi``, in the file's dtypes."""
        return {
            name: self.datasets[name][lo:hi] for name in ("t", "x", "y", "p", "c") if name in self.datasets
        }

    def _checked(self, stored: dict[str, np.ndarray], counts: np.ndarray) -> dict[str, np.ndarray]:
        """eventcode's columns and their ``offsets`` from stored columns, after cheap checks of the
        stored values (narrow, so the checks read little): polarity 0/1, addresses within the shape,
        steps within num_steps, time order per sample."""
        if _outside(stored["p"], 0, 2):
            self.fail("events/p", "holds values other than 0 and 1")
        extents = {
            "x": address.width(self.shape),
            "y": address.height(self.shape),
            "c": address.channels(self.shape),
        }
        for name, extent in extents.items():
            if name in stored and _outside(stored[name], 0, extent):
                self.fail(f"events/{name}", f"holds addresses outside [0, {extent}) of shape {self.shape}")
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        t = stored["t"]  # t_offset shifts every time alike: the order of the stored times is theirs
        backwards = _backwards(t, offsets)
        if backwards is not None:
            self.fail("events/t", f"time goes backwards at event {backwards} within a sample")
        if self.unit == "step" and _outside(t, -self.t_offset, self.num_steps - self.t_offset):
            self.fail("events/t", f"steps outside [0, {self.num_steps})")
        del t  # the stored columns go as they are converted
        columns = {}
        for name in list(stored):
            values = stored.pop(name)
            if name == "t":  # widened and shifted in one pass
                columns[name] = np.add(values, np.int64(self.t_offset), dtype=np.int64)
            elif name == "p":
                columns[name] = values.view(bool) if values.dtype == np.uint8 else values.astype(bool)
            else:  # checked addresses: within the shape, so they fit the signed column dtype
                dtype = np.dtype(address.column_dtype_names(self.shape)["xyc".index(name)])
                same_width = values.dtype.itemsize == dtype.itemsize
                columns[name] = values.view(dtype) if same_width else values.astype(dtype)
        return {**columns, "offsets": offsets}

    def events(self, columns: dict[str, np.ndarray]) -> Events:
        """``Events`` of checked columns (sharing their memory)."""
        import torch

        from eventcode.events import Events

        tensors = {name: torch.from_numpy(column) for name, column in columns.items()}
        try:
            checks.polarity(tensors["p"], tensors["offsets"], self.polarities)
        except PolarityError as err:
            self.fail("events/p", str(err))
        return Events.from_columns(
            tensors["t"],
            tensors["x"],
            tensors["y"],
            tensors["p"],
            c=tensors.get("c"),
            offsets=tensors["offsets"],
            shape=self.shape,
            num_steps=self.num_steps if self.unit == "step" else None,
            time_unit=self.unit,
            polarities=self.polarities,
            check="none",
        )
