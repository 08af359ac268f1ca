"""HDF5 event files: DSEC's layout for one stream, a batched layout for whole encoded datasets.

Layout (every dataset chunked, one compression for all; the event columns of an uncompressed
:func:`write` contiguous)::

    /events/x  uint8 or uint16: uint8 when the width is at most 256
    /events/y  uint8 or uint16: uint8 when the height is at most 256
    /events/p  uint8 (0 = OFF, 1 = ON)
    /events/t  time minus t_offset: steps in the smallest unsigned integer holding num_steps - 1;
               microseconds in uint32 while they fit (71.6 minutes), else int64
    /events/c  uint8 or uint16, only for samples with several channels
    /t_offset  int64       scalar: DSEC's storage offset, microseconds subtracted before storing
    /offsets   int64 [B + 1]: events of sample b are offsets[b]:offsets[b + 1]
    /ms_to_idx uint64      one stream in microseconds (DSEC): first event with t >= 1000 * ms
    /step_to_idx int64 [B, num_steps + 1]: step-time files: first event of each step, per sample

A one-sample microsecond file is a DSEC event file (``events/{x,y,t,p}``, ``ms_to_idx``,
``t_offset``), so DSEC's slicer and Tonic's DSEC loader read it. Root attributes record the
sample ``shape``, ``sensor_size``, ``time_unit``, ``num_steps``, for step time ``dt_us`` and
``t0_us`` (the microseconds per step and the microsecond time of step 0, when given), the
encoding parameters the caller gives, and the eventcode version, so :func:`read` returns
exactly the :class:`~eventcode.Events` written and :func:`info` describes the file as a
:class:`~exporters.contract.FileInfo`. :func:`info` and :func:`read_columns` need numpy only;
torch is imported when ``Events`` are built (:func:`read`, :func:`read_chunks`, writing).

Reading checks what it reads before trusting it: the declared length of every dataset against
the chunks (or bytes) the file stores, before anything is allocated; ``offsets`` in full; each
entry of ``ms_to_idx`` / ``step_to_idx`` a windowed read uses, against the times it points to;
and the values, in the dtype the file stores them in, with :mod:`eventcode.checks` before any
cast. Any integer dtype of each column is taken (files of earlier versions stored int64 or
uint32 times and uint16 addresses), and a polarity column holding -1 and +1, as other tools
write it, reads -1 as OFF.

Chunks hold :data:`CHUNK_EVENTS` events, or the events of a smaller file (rounded up to a
multiple of 8), which is therefore small: :func:`write` splits its events into equal chunks,
and :class:`Writer` buffers up to one chunk and creates each dataset on its first full chunk or
when the file closes. Uncompressed, :func:`write` knows every event first and lays each column
out in one run of bytes that HDF5 allocates when it creates the dataset, at HDF5's documented
raw-data offset (``H5Dget_offset``); the columns are written there with ``pwrite`` while a
worker converts the next piece to the stored dtypes, and a one-stream file's columns stored so,
whoever wrote it, are read back with ``preadv`` on all cores, each piece checked and widened in
per-thread buffers; h5py does the rest.

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
>>> hdf5.write(path, digits, dt_us=1000, encoding={"code": "rate", "num_steps": 30})
>>> hdf5.read(path) == digits
True
>>> hdf5.read(path, sample=2, t_start=10, t_end=20) == digits[2].time_slice(10, 20)
True
>>> meta = hdf5.info(path)
>>> meta.compression, meta.samples, meta.dt_us, meta.extras["dtypes"]["t"]
('gzip', 4, 1000, 'uint8')
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import ctypes
import functools
import itertools
import json
import math
import numbers
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn, TypeVar

import h5py
import numpy as np

import eventcode
from eventcode import address, checks, options
from eventcode.errors import (
    AllocationError,
    DependencyError,
    EventcodeError,
    EventsError,
    ExportError,
    FileFormatError,
    OptionError,
    SampleIndexError,
    TimeOrderError,
)
from eventcode.options import optional_int, positive_int
from exporters import positional, threads
from exporters.atomic import AtomicWriter
from exporters.compression import Compression, canonical
from exporters.contract import FileInfo, Stream
from exporters.options import step_us
from exporters.source import require_regular

if TYPE_CHECKING:
    from eventcode import Events

NAME = "hdf5"
DESCRIPTION = "HDF5 (DSEC layout for one stream, batched layout with offsets; eventcode's own)"
MAGIC = b"\x89HDF\r\n\x1a\n"
"""HDF5's signature: at byte 0, or after a user block of 512, 1024 or 2048 bytes."""
BATCHED = True
SUFFIXES = (".h5", ".hdf5")

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
PLUGIN_FILTERS = {
    307: "bzip2",
    32001: "blosc",
    32004: "lz4",
    32008: "bitshuffle",
    32013: "zfp",
    32015: "zstd",
    32017: "sz",
    32018: "fcidecomp",
    32024: "sz3",
    32026: "blosc2",
    32028: "sperr",
    32033: "htj2k",
}
"""The HDF5 filters the ``hdf5plugin`` package registers (id -> name): a file using one of them
needs that package, when HDF5 itself lacks the filter."""
CHUNK_EVENTS = 1 << 17
"""Events per HDF5 chunk of each column in files larger than one chunk: 512 KiB of uint32 times
fit h5py's default 1 MiB chunk cache, so a windowed read of a stream decompresses each chunk once
(2^16 to 2^18 write and read 20 M events at the same speed, within this machine's noise)."""
INDEX_CHUNK = 1 << 14
"""Entries per chunk of the index datasets (offsets, ms_to_idx, step_to_idx)."""
SCAN_EVENTS = 1 << 20
"""Events per read when a column is scanned whole for its largest value (the sensor size of a
DSEC file without ``width`` / ``height``), so the scan takes bounded memory."""
GATHER_GAP = 1 << 12
"""Positions of a dataset further apart than this are read separately, nearer ones as one slice
(see :func:`_gather`)."""
FORMAT = "eventcode-hdf5"
VERSION = 1
_UINT32_END = 1 << 32
PIECE_EVENTS = 1 << 19
"""Events of a one-stream file read and checked, or their times converted and written, at a time
on each core (2^19 wrote 20 M events 5-10% faster than 2^18 or 2^20, and reads the same)."""
_PUT_SLOTS = 2
"""Pieces of converted columns a write holds: the one being written and those converted ahead."""
_INT64 = np.iinfo(np.int64)
_MS_ENTRY_BYTES = 32
"""Memory a write takes per ``ms_to_idx`` entry it adds: the uint64 entry, and the int64 keys,
their cast and the positions of the search that finds it."""
Piece = TypeVar("Piece")


def sniff(head: bytes) -> float:
    """How sure this module is that a file starting with ``head`` is one of its files.

    HDF5's signature gives 0.9 (HDF5 holds other formats too, NIR among them); eventcode's
    ``format`` attribute in ``head`` (the root group's header, in the first kilobytes) raises it
    to 0.99, and DSEC's ``events`` group beside ``ms_to_idx`` to 0.95. Anything else gives 0.

    Examples
    --------
    >>> from exporters import hdf5
    >>> hdf5.sniff(hdf5.MAGIC + bytes(100)), hdf5.sniff(b"#!AER-DAT4.0\\r\\n")
    (0.9, 0.0)
    """
    if not any(head[start : start + len(MAGIC)] == MAGIC for start in (0, 512, 1024, 2048)):
        return 0.0
    if FORMAT.encode() in head:
        return 0.99
    if b"ms_to_idx" in head and b"events" in head:
        return 0.95
    return 0.9


def write(
    path: str | os.PathLike[str],
    events: Events,
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    dt_us: int | None = None,
    t0_us: int | None = None,
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
    t0_us : int, optional
        Microsecond time of step 0 of step-time events, recorded as an attribute.
    encoding : mapping, optional
        Encoder name and parameters to record (JSON-serializable), returned by :func:`info`.
    overwrite : bool
        Replace an existing file; False raises instead.

    Raises
    ------
    OptionError
        ``dt_us`` not a positive whole number, ``dt_us`` or ``t0_us`` for microsecond events,
        ``t0_us`` beyond int64.
    ExportError
        Unknown compression, unserializable ``encoding`` or an existing file without
        ``overwrite``.
    DependencyError
        ``"zstd"`` or ``"blosc"`` without ``hdf5plugin`` (naming the extra to install).
    AllocationError
        One microsecond stream spanning so long that DSEC's ``ms_to_idx`` (an entry per
        millisecond) would not fit in memory, before any file is made.

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
    if events.num_samples == 1 and events.time_unit == "us" and len(events):
        first, last = (int(events.t[i]) for i in (0, -1))
        _ms_index_fits(path, last, first, 0)
    chunks = max(1, -(-len(events) // CHUNK_EVENTS))
    with Writer(
        path,
        shape=events.shape,
        polarities=events.polarities,
        compression=compression,
        batched=events.num_samples != 1,
        num_steps=events.num_steps,
        dt_us=dt_us,
        t0_us=t0_us,
        encoding=encoding,
        overwrite=overwrite,
        chunk_events=max(1, -(-len(events) // chunks)),
    ) as writer:
        writer._reserve(len(events))
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
    dt_us, t0_us, encoding, overwrite
        As for :func:`write` (``dt_us`` and ``t0_us`` with ``num_steps`` only).
    t_offset : int, optional
        Microsecond streams only: DSEC's storage offset, the microseconds subtracted from every
        time before storing (so that uint32 holds them), added back on reading; default the
        earliest time of the first non-empty write (a one-stream file's first event, as in
        DSEC). It is not a time of step 0: step time stores steps as they are (see ``t0_us``).
    chunk_events : int
        Events per HDF5 chunk once the file holds more than one chunk.

    Raises
    ------
    OptionError
        As for :func:`write`; also a ``t_offset`` for step time or beyond int64, and a
        ``chunk_events`` below 1.
    ExportError
        As for :func:`write`.
    AllocationError
        From :meth:`write`, before writing any of its events: one stream's times reaching so far
        past ``t_offset`` that the ``ms_to_idx`` entries they add would not fit in memory.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> import eventcode
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "dataset.h5"
    >>> with hdf5.Writer(path, shape=(1, 28, 28), batched=True, num_steps=25) as writer:
    ...     for _ in range(3):  # e.g. batches from a DataLoader
    ...         writer.write(eventcode.latency(torch.rand(8, 1, 28, 28), num_steps=25, normalize=True))
    >>> hdf5.info(path).samples
    24
    """

    _root: h5py.File
    """The file being written (set by :meth:`_open`; ``_file`` to :class:`AtomicWriter`)."""

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
        t0_us: int | None = None,
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
        self._dt_us = step_us(dt_us)
        self._t0_us = None if t0_us is None else _int64_option("t0_us", t0_us)
        if self._unit == "us" and (dt_us is not None or t0_us is not None):
            raise OptionError(
                f"dt_us={dt_us!r} and t0_us={t0_us!r} describe step time, but this file holds microseconds "
                "(num_steps=None): drop them, or give num_steps for step-time events"
            )
        if t_offset is not None and self._unit == "step":
            raise OptionError(
                f"t_offset={t_offset} given for step time; step files store steps as they are: drop "
                "t_offset (t0_us records the microsecond time of step 0)"
            )
        self._t_offset = 0 if self._unit == "step" else _int64_option("t_offset", t_offset)
        self._chunk = positive_int("chunk_events", chunk_events, "events per HDF5 chunk")
        self._count = 0
        self._last_t: int | None = None
        self._step_row: np.ndarray | None = None
        self._columns: dict[str, _Column] = {}

    # ------------------------------------------------------------------ file
    def _open(self, temporary: Path) -> h5py.File:
        # HDF5 creates the file anew: opening the empty temporary with O_TRUNC would make ext4
        # write the whole file back to disk when it is closed (auto_da_alloc after a truncate)
        temporary.unlink()
        root = self._root = h5py.File(temporary, "x")
        extents = {"x": address.width(self._shape), "y": address.height(self._shape)}
        if address.channels(self._shape) > 1:
            extents["c"] = address.channels(self._shape)
        events = {name: _narrowest(extent - 1) for name, extent in extents.items()}
        events["p"] = np.dtype(np.uint8)
        for name, dtype in events.items():
            self._columns[name] = _Column(root, f"events/{name}", dtype, self._chunk, self._filters)
        steps = self._num_steps
        self._columns["t"] = (
            _Column(root, "events/t", _narrowest(steps - 1), self._chunk, self._filters)
            if steps is not None
            else _WideningTimes(root, "events/t", np.dtype(np.uint32), self._chunk, self._filters)
        )
        self._columns["offsets"] = _Column(root, "offsets", np.dtype(np.int64), INDEX_CHUNK, self._filters)
        self._columns["offsets"].append(np.zeros(1, np.int64))
        if steps is not None:
            width = steps + 1
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
        if self._t0_us is not None:
            attributes["t0_us"] = self._t0_us
        root.attrs.update(attributes)
        return root

    def _abandon(self) -> None:
        """Point the failed file's descriptor at ``/dev/null`` before it is closed: HDF5's close
        still writes its caches, and on a full disk each write would fail again, print, and crash
        the interpreter at exit; there they go nowhere (reads give zeros, which HDF5 takes for
        bytes never written). Only its last step, sizing the file, fails, and that is not
        raised over the write's own error. The temporary file is removed after."""
        root = getattr(self, "_root", None)
        if root is None or not root.id.valid or root.driver != "sec2":
            super()._abandon()
            return
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, root.id.get_vfd_handle())
        finally:
            os.close(null)

    def _reserve(self, total: int) -> None:
        """Lay the event columns out contiguously for exactly ``total`` events, when uncompressed
        (:func:`write` knows them all): HDF5 allocates each column's bytes when it creates the
        dataset, and :meth:`write` puts the values there itself (:meth:`_put`)."""
        if not self._filters:
            for name in ("t", "x", "y", "p", "c"):
                if name in self._columns:
                    self._columns[name].total = total

    # ------------------------------------------------------------------ appending
    def write(self, events: Events) -> None:
        """Append events: the next stretch of the stream, or (``batched``) whole samples."""
        with _system_errors(self._temporary):
            self._append(events)

    def _append(self, events: Events) -> None:
        self._check(events)
        if events.time_unit != self._unit:
            raise ExportError(
                f"this file holds {self._unit!r} time but the events count {events.time_unit!r}; "
                + ("give num_steps to hold step time" if self._unit == "us" else "pass step-time events")
            )
        if self._num_steps is not None and (events.num_steps or 0) > self._num_steps:
            raise ExportError(
                f"events of {events.num_steps} steps do not fit this file's {self._num_steps} steps"
            )
        if not self._batched and events.num_samples != 1:
            raise ExportError(
                f"a one-stream file takes one sample per write, got {events.num_samples}; "
                "pass batched=True to store samples"
            )
        offsets = events.offsets.cpu().numpy()
        t = events.t.cpu().numpy()
        stream_us = self._num_steps is None and not self._batched
        if stream_us and len(t):  # before t_offset is set or the times widened
            offset = int(t[0]) if self._t_offset is None else self._t_offset
            _ms_index_fits(self._path, int(t[-1]), offset, self._columns["ms_to_idx"].length)
        shift = self._shift(t, offsets)
        if not self._batched and len(t):
            first, last = int(t[0]) - shift, int(t[-1]) - shift
            if self._last_t is not None and first < self._last_t:
                raise TimeOrderError(
                    f"this chunk starts at t = {int(t[0])}, before the previous chunk's last event at "
                    f"{self._last_t + shift}; write chunks in time order"
                )
            self._last_t = last
        start = self._count
        entries = self._ms_entries(t, shift) if stream_us else None
        columns: dict[str, np.ndarray] = {
            name: getattr(events, name).cpu().numpy()
            for name in ("x", "y", "p", "c")
            if name in self._columns
        }
        done, positions = self._put({"t": t, **columns}, shift, entries, start)
        if not done:  # through h5py: the ms index is searched on another core meanwhile
            search = None if entries is None else (t, shift, entries, start)
            found = None if search is None else threads.pool().submit(_ms_positions, *search)
            stored = self._relative(t, shift)
            self._columns["t"].append(stored)
            for name, values in columns.items():
                self._columns[name].append(values)
            positions = found.result() if found is not None else None
        self._count += len(events)
        if self._batched:
            self._columns["offsets"].append(offsets[1:] + start)
        if self._num_steps is not None:
            rows = _step_index(t, offsets, self._num_steps) + start
            if self._batched:
                self._columns["step_to_idx"].append(rows)
            else:
                self._merge_stream_steps(rows[0], t)
        elif positions is not None:
            self._columns["ms_to_idx"].append(positions)

    def _shift(self, t: np.ndarray, offsets: np.ndarray) -> int:
        """What is subtracted from the times to store them: t_offset (set by the first non-empty
        write) for microseconds, after checking that the times minus it fit (the stored dtype
        widened if they need it); 0 for steps."""
        if self._unit == "step" or not len(t):
            return self._t_offset or 0
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
        if isinstance(times, _WideningTimes):
            times.fit(low, high)
        return self._t_offset

    def _relative(self, t: np.ndarray, shift: int) -> np.ndarray:
        """Times minus ``shift`` in the stored dtype (which holds them: :meth:`_shift`), converted
        on all cores; the times as they are when there is nothing to subtract."""
        if not shift:
            return t
        stored = np.empty(len(t), self._columns["t"].dtype)
        offset = np.int64(shift)

        def piece(a: int) -> None:
            np.subtract(t[a : a + PIECE_EVENTS], offset, out=stored[a : a + PIECE_EVENTS], casting="unsafe")

        for _ in threads.parallel(piece, range(0, len(t), PIECE_EVENTS)):
            pass
        return stored

    def _ms_entries(self, t: np.ndarray, shift: int) -> range | None:
        """The milliseconds of DSEC's ms_to_idx entries now decided: those up to the last time
        seen (times as given, ``shift`` the t_offset), whose first event is written by now."""
        index = self._columns["ms_to_idx"]
        if not len(t):
            return None
        known = (int(t[-1]) - shift) // 1000 + 1  # ms * 1000 <= last time: decided
        return range(index.length, known) if known > index.length else None

    def _put(
        self, columns: dict[str, np.ndarray], shift: int, entries: range | None, start: int
    ) -> tuple[bool, np.ndarray | None]:
        """Write contiguous columns (:meth:`_reserve`) straight into the bytes HDF5 allocated for
        them (``pwrite``), a piece of each in turn from this thread, while a worker converts the
        next piece (times minus ``shift``, columns in another dtype) into a ring of
        :data:`_PUT_SLOTS` buffers and searches DSEC's index ``entries`` in its times: two threads
        busy, on two cores. Columns differing only in signedness go from the caller's memory.
        The file's blocks are allocated first, one call a column (:func:`_preallocate`): ext4 then
        writes about a quarter faster than into blocks it reserves one at a time (20 M events:
        45-50 ms instead of 60-70 ms).

        Return whether it wrote them, and those entries (``start`` added); it writes nothing where
        the columns are not laid out so (chunked, compressed, no room, another file driver or
        system), and :meth:`write` goes through h5py.
        """
        n = len(columns["t"])
        chosen = {name: self._columns[name] for name in columns}
        if (
            not n
            or not hasattr(os, "pwrite")
            or self._root.driver != "sec2"
            or any(column.total is None or column.stored + n > column.total for column in chosen.values())
        ):
            return False, None
        converted = [
            name
            for name, values in columns.items()
            if (name == "t" and shift) or not (chosen[name].viewable(values) and values.flags.c_contiguous)
        ]
        step, slots, count = PIECE_EVENTS, _PUT_SLOTS, -(-n // PIECE_EVENTS)
        ring = {
            name: threads.scratch(f"hdf5.put.{name}", slots * step, chosen[name].dtype) for name in converted
        }
        positions = None if entries is None else np.empty(len(entries), np.uint64)

        def convert(k: int) -> dict[str, np.ndarray]:
            a, b = k * step, min(k * step + step, n)
            slot = k % slots * step
            out = {}
            for name in converted:
                out[name] = ring[name][slot : slot + b - a]
                if name == "t":
                    _shifted(columns["t"][a:b], shift, out["t"])
                else:
                    np.copyto(out[name], columns[name][a:b], casting="unsafe")
            if positions is not None and entries is not None:
                _ms_piece(columns["t"], shift, entries, a, b, positions, start, out.get("t"))
            return out

        pending: collections.deque[concurrent.futures.Future[dict[str, np.ndarray]]] = collections.deque()

        def submit(k: int) -> None:  # into the slot of piece k - slots, written by now
            if k < count:
                pending.append(threads.pool().submit(convert, k))

        try:
            for k in range(slots - 1):  # converting while HDF5 lays the datasets out
                submit(k)
            places: dict[str, int] = {}
            for name, column in chosen.items():
                place = column.place()
                if place is None:
                    return False, None
                places[name] = place
            handle = self._root.id.get_vfd_handle()
            for name, column in chosen.items():
                if not column.stored:
                    _preallocate(handle, places[name], (column.total or 0) * column.dtype.itemsize)
            for k in range(count):
                piece = pending.popleft().result()
                submit(k + slots - 1)
                a = k * step
                for name, column in chosen.items():
                    values = piece[name] if name in piece else columns[name][a : a + step].view(column.dtype)
                    at = places[name] + (column.stored + a) * column.dtype.itemsize
                    positional.write_at(handle, values, at)
        finally:
            for future in pending:
                future.cancel()
            concurrent.futures.wait(pending)
        for column in chosen.values():
            column.stored += n
        return True, positions

    def _merge_stream_steps(self, row: np.ndarray, t: np.ndarray) -> None:
        """One stream in steps: keep a single row; steps after this chunk stay at its end."""
        if self._step_row is None:
            self._step_row = row
        elif len(t):  # steps up to this chunk's first keep their earlier entries
            first = int(t[0])
            self._step_row[first + 1 :] = row[first + 1 :]

    def _finish(self) -> None:
        """Close the indexes (DSEC's ms_to_idx runs to ceil(duration in ms)), write what is buffered."""
        with _system_errors(self._temporary):
            self._complete()

    def _complete(self) -> None:
        if self._unit == "us" and not self._batched:
            index = self._columns["ms_to_idx"]
            last = self._last_t if self._last_t is not None else 0
            wanted = -(-last // 1000) + 1
            if wanted > index.length:
                index.append(np.full(wanted - index.length, self._count, dtype=np.uint64))
        if not self._batched:
            self._columns["offsets"].append(np.array([self._count], np.int64))
            if self._num_steps is not None:
                row = np.zeros(self._num_steps + 1, np.int64) if self._step_row is None else self._step_row
                self._columns["step_to_idx"].append(row[None])
        for column in self._columns.values():
            column.finish()
        self._root.create_dataset("t_offset", data=np.int64(self._t_offset or 0))
        self._root.attrs["samples"] = self._columns["offsets"].length - 1
        self._root.flush()  # a failed write (a full disk) raises here, not in close


def _ms_index_fits(path: str | os.PathLike[str], last: int, offset: int, indexed: int) -> None:
    """Raise :class:`AllocationError` unless the memory holds what a write of one microsecond
    stream takes to add its ``ms_to_idx`` entries: one per millisecond after ``offset`` (the
    ``t_offset``) up to its ``last`` time, past the ``indexed`` ones written before."""
    entries = (last - offset) // 1000 + 1 - indexed
    need = entries * _MS_ENTRY_BYTES
    if need <= 1 << 26:  # 64 MiB: always allowed, no system call
        return
    import torch

    from eventcode import memory

    free = memory.available(torch.device("cpu"))
    if need > free:
        raise AllocationError(
            f"{os.fspath(path)}: a microsecond stream's ms_to_idx (DSEC's index) has an entry per "
            f"millisecond: times up to {last} us, a span of {last - offset:,} us after t_offset {offset}, "
            f"add {entries:,} entries ({_binary(entries * 8)} in the file, about {_binary(need)} of memory "
            f"to write), more than the {_binary(free)} available; none of these events was written. Store "
            "the stream without that index (hdf5.Writer(path, shape=..., batched=True): offsets only), "
            "or split it into files of shorter spans (a time far from the others may be a corrupt timestamp)"
        )


def _binary(count: int) -> str:
    """``count`` bytes in KiB, MiB, GiB, TiB, PiB or EiB."""
    power = min(max((count.bit_length() - 1) // 10, 1), 6)
    return f"{count / (1 << 10 * power):.1f} {'KMGTPE'[power - 1]}iB"


def _ms_positions(t: np.ndarray, shift: int, entries: range, start: int) -> np.ndarray:
    """DSEC's ms_to_idx entries ``entries`` (milliseconds after ``shift``) of the sorted times
    ``t`` (as given, before ``shift`` is subtracted), ``start`` added, a piece at a time."""
    positions = np.empty(len(entries), np.uint64)
    for a in range(0, len(t), PIECE_EVENTS):
        _ms_piece(t, shift, entries, a, min(a + PIECE_EVENTS, len(t)), positions, start)
    return positions


def _ms_piece(
    t: np.ndarray,
    shift: int,
    entries: range,
    a: int,
    b: int,
    positions: np.ndarray,
    start: int,
    stored: np.ndarray | None = None,
) -> None:
    """Fill ``positions`` (of ``entries``) at the entries whose first event, the first at or
    after ``shift + 1000 * ms``, is one of ``t[a:b]``: those above ``t[a - 1]`` and at most
    ``t[b - 1]`` (every entry is at most ``t[-1]``); searched in ``stored``, the same times minus
    ``shift`` (half the bytes, just written), where given."""
    first = entries.start if a == 0 else max((int(t[a - 1]) - shift) // 1000 + 1, entries.start)
    end = min((int(t[b - 1]) - shift) // 1000 + 1, entries.stop)
    if end > first:
        times, relative = (t[a:b], shift) if stored is None else (stored, 0)
        found = _first_at_ms(times, relative, first, end)
        np.add(found, a + start, out=positions[first - entries.start : end - entries.start], casting="unsafe")


def _first_at_ms(times: np.ndarray, shift: int, first: int, end: int) -> np.ndarray:
    """For each ms of ``first:end`` the index of the first of the sorted ``times`` at or after
    ``shift + 1000 * ms`` (all within the dtype of ``times``: at most ``times[-1]``, at least 0 or
    ``shift``), searched in that dtype: uint32 times of a piece just converted, in cache, take
    about 0.1 us a millisecond, int64 times of a whole column 0.4 us (cache misses)."""
    keys = np.arange(first, end, dtype=np.int64) * 1000 + np.int64(shift)
    found: np.ndarray = np.searchsorted(times, keys.astype(times.dtype), side="left")
    return found


def _shifted(t: np.ndarray, shift: int, out: np.ndarray) -> np.ndarray:
    """``t - shift`` (int64 times) into ``out`` (their stored dtype, which holds them): for uint32,
    the times cast to uint32 (their low halves) minus the low half of ``shift``, modulo 2^32,
    which is exact since the difference fits (a vectorized cast and an in-place subtraction,
    twice as fast as numpy's int64 subtraction cast to uint32)."""
    if out.dtype == np.uint32:
        np.copyto(out, t, casting="unsafe")
        np.subtract(out, np.uint32(shift & 0xFFFFFFFF), out=out)
    else:
        np.subtract(t, np.int64(shift), out=out, casting="unsafe")
    return out


def _preallocate(handle: int, offset: int, size: int) -> None:
    """Allocate the file's blocks of ``size`` bytes at ``offset`` before they are written, where
    the file system can (Linux's ``fallocate``, which fails at once where it cannot, unlike
    ``posix_fallocate``, which writes a byte per block there); elsewhere the writes allocate."""
    function = _fallocate()
    if size and function is not None:
        function(handle, 0, offset, size)  # an error (no such support, no space) is left to the writes


@functools.cache
def _fallocate() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``fallocate(fd, mode, offset, len)`` from the C library, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    typed: Callable[[int, int, int, int], int] = function
    return typed


def _contiguous_place(data: h5py.Dataset) -> int | None:
    """The file offset of a dataset's values when they lie in the file as one run of bytes in
    this machine's byte order (contiguous, unfiltered, not external, allocated), else None; a
    read past the end of the file is :func:`exporters.positional.read_at`'s to find."""
    plist = data.id.get_create_plist()
    if (
        plist.get_layout() != h5py.h5d.CONTIGUOUS
        or plist.get_nfilters()
        or plist.get_external_count()
        or not data.dtype.isnative
    ):
        return None
    place: int | None = data.id.get_offset()
    return place


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
        dtype: np.dtype,
        chunk: int,
        options: Mapping[str, object],
        row: tuple[int, ...] = (),
    ) -> None:
        self.file, self.name, self.dtype, self.row = file, name, dtype, row
        self.chunk, self.options = _multiple_of_8(chunk), options
        self.pending: list[np.ndarray] = []
        self.waiting = 0
        self.stored = 0
        self.total: int | None = None  # rows of a contiguous dataset, when known before the first
        self.dataset: h5py.Dataset | None = None  # a contiguous one, once created (a chunked one is
        # opened for each store: kept open, its chunk cache raised a Writer's peak memory by 30 MB)

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
        if self.waiting or self.dataset is None or self.total is None:
            self._store(self.waiting)

    def viewable(self, values: np.ndarray) -> bool:
        """Whether values are stored as they are in memory: the stored dtype, or one differing
        only in signedness (addresses are >= 0, polarity 0/1)."""
        return values.dtype == self.dtype or (
            values.dtype.itemsize == self.dtype.itemsize and values.dtype.kind in "biu"
        )

    def _converted(self, values: np.ndarray) -> np.ndarray:
        """Values in the stored dtype: a view where only the signedness differs, else a
        converted copy."""
        if values.dtype == self.dtype:
            return values
        if self.viewable(values):
            return values.view(self.dtype)
        return values.astype(self.dtype)

    def place(self) -> int | None:
        """A contiguous column's (``total`` rows) dataset, created now if need be, and the file
        offset of its first value (None where HDF5 gives none)."""
        return _contiguous_place(self._dataset(self._joined(), 0))

    def _store(self, count: int) -> None:
        data = self.pending[0] if len(self.pending) == 1 else self._joined()
        dataset = self._dataset(data, count)
        if self.total is None:
            dataset.resize(self.stored + count, axis=0)
        if count:
            dataset[self.stored : self.stored + count] = data[:count].astype(self.dtype, copy=False)
            if self.dataset is None:  # a chunked one, closed when dropped: a failed write (a full
                dataset.flush()  # disk) raises here, not later where HDF5 can only print it
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
        if self.dataset is not None:
            return self.dataset
        if self.name in self.file:
            return self.file[self.name]
        if self.total is not None:  # its bytes allocated now and never filled: they are all written
            plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            plist.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
            plist.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
            plist.set_obj_track_times(False)  # as h5py creates datasets
            links = h5py.h5p.create(h5py.h5p.LINK_CREATE)
            links.set_create_intermediate_group(True)
            space = h5py.h5s.create_simple((self.total, *self.row))
            kind = h5py.h5t.py_create(self.dtype)  # h5py's high level took 0.3 ms more per dataset
            created = h5py.h5d.create(self.file.id, self.name.encode(), kind, space, dcpl=plist, lcpl=links)
            self.dataset = h5py.Dataset(created)
            return self.dataset
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


@contextlib.contextmanager
def _system_errors(path: Path | None) -> Iterator[None]:
    """A write the system refused (a full disk, a file too large) as the ``OSError`` of its
    errno, naming ``path``: HDF5 reports it as a ``RuntimeError`` whose message holds the errno."""
    try:
        yield
    except RuntimeError as err:
        found = re.search(r"errno = (\d+)", str(err))
        if found is None:
            raise
        number = int(found.group(1))
        first = str(err).split("(", 1)[0].strip()
        raise OSError(number, f"{os.strerror(number)} ({first}, in HDF5)", os.fspath(path or "")) from None


def _multiple_of_8(rows: int) -> int:
    """``rows`` rounded up to a multiple of 8 (at least 8): blosc's bit shuffle works on 8
    elements at a time and leaves a chunk of another length unshuffled (2-4x larger)."""
    return -(-max(rows, 1) // 8) * 8


def _narrowest(largest: int) -> np.dtype:
    """The smallest unsigned integer dtype holding ``0..largest`` (uint8 at least)."""
    return np.min_scalar_type(max(int(largest), 0))


def _fixed(text: str) -> np.bytes_:
    """Text as a fixed-length attribute: stored in the object header, not the global heap, whose
    damage can make HDF5 loop forever when it reads a variable-length string."""
    fixed: np.bytes_ = np.bytes_(text.encode("utf-8"))
    return fixed


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
        An unknown name (listing the valid ones).
    DependencyError
        ``"zstd"`` or ``"blosc"`` without ``hdf5plugin`` (naming the extra to install).

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
        raise DependencyError(
            f"compression {name!r} needs the hdf5plugin package: pip install 'eventcode[hdf5]' "
            "(gzip and lzf need nothing more)"
        ) from None
    if name == "zstd":
        return dict(hdf5plugin.Zstd(clevel=3))
    return dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE))


def _int64_option(name: str, value: object) -> int | None:
    """An optional microsecond argument as an int within int64 (None stays None).

    Raises
    ------
    OptionError
        A bool, a non-integer, or a value beyond int64.
    """
    what = "a whole number of microseconds within int64"
    number = optional_int(name, value, what)
    if number is not None and not _INT64.min <= number <= _INT64.max:
        raise OptionError(f"{name} must be {what} or None, got {value!r}")
    return number


# ---------------------------------------------------------------------- reading
def info(path: str | os.PathLike[str]) -> FileInfo:
    """What the file holds, without reading its events: one event stream, its samples and storage.

    The first and last times are those of the first and last event of each sample (the events
    are in time order within a sample), read at those positions only. ``compression`` is the
    canonical name of the filter on ``events/t`` (``"none"``, ``"gzip"``, ``"lzf"``, ``"zstd"``,
    ``"blosc"``, or ``"HDF5 filter <id>"`` for another). ``extras`` holds

    - ``layout``: ``"eventcode-hdf5"`` for eventcode's files, ``"DSEC"`` for DSEC's;
    - ``dtypes``: each event column's stored dtype; ``chunk_events``: events per chunk (None
      for a contiguous file);
    - ``encoding``: the encoder parameters recorded by :func:`write`; ``eventcode_version``
      (None for a DSEC file);
    - ``t_offset`` for microsecond files (DSEC's storage offset), ``t0_us`` for step-time files
      (the microsecond time of step 0, None when not recorded).

    Raises
    ------
    FileFormatError
        As for :func:`read`, for the metadata, sizes and times it reads.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> events = Events(t=[5, 9], x=[0, 1], y=[0, 1], p=[1, 0], sensor_size=(2, 2))
    >>> hdf5.write(path, events, encoding={"code": "none"})
    >>> meta = hdf5.info(path)
    >>> meta.sensor_size, meta.events, meta.first, meta.last, meta.compression
    ((2, 2, 2), 2, 5, 9, 'gzip')
    >>> meta.extras["encoding"], meta.extras["chunk_events"], meta.extras["t_offset"]
    ({'code': 'none'}, 8, 5)
    """
    with _open(path) as file:
        return _Reader(file, Path(path)).info()


def read(
    path: str | os.PathLike[str],
    *,
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
        A missing or damaged dataset, a declared length the file does not store, index entries
        that disagree with the events, values outside the sample shape, polarities other than
        0/1 (or -1/+1 in a file of another tool), time going backwards within a sample, or
        times beyond int64 after ``t_offset``; naming the file and the dataset.
    DependencyError
        The file is compressed with a filter of the ``hdf5plugin`` package, not installed.
    OptionError
        ``t_end`` before ``t_start``, or a window or sample that is not an int.
    SampleIndexError
        ``sample`` beyond the file's samples.

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
    window = options.window(t_start, t_end)
    index = optional_int("sample", sample, "an int (a sample index)")
    with _open(path) as file:
        reader = _Reader(file, Path(path))
        return reader.build(reader.columns(reader.samples(index), *window))


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
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
    OptionError
        ``chunk_events`` below 1, or a bad window (as for :func:`read`), when called.
    FileFormatError
        As for :func:`read`, as the pieces are read.

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
    chunk = positive_int("chunk_events", chunk_events, "events per piece")
    window = options.window(t_start, t_end)
    _exists(path)
    return _pieces(path, chunk, window, lambda reader, piece: piece)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Iterator[Events]:
    """Read a file in pieces of about ``chunk_events`` events, in constant memory.

    A one-stream file comes as consecutive stretches of time; a batched file as groups of whole
    samples: the pieces of :func:`read_columns`, as ``Events``.

    Raises
    ------
    OptionError, FileFormatError
        As for :func:`read_columns`.

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
    chunk = positive_int("chunk_events", chunk_events, "events per piece")
    window = options.window(t_start, t_end)
    _exists(path)
    return _pieces(path, chunk, window, lambda reader, piece: reader.build(piece))


def events_before(path: str | os.PathLike[str], times: Sequence[int]) -> list[int]:
    """How many events of a one-stream file come before each of ``times`` (in the file's unit,
    absolute: ``t_offset`` included): found through ``ms_to_idx`` or ``step_to_idx`` (each entry
    used checked against the times it points to, as a windowed :func:`read` does), else by binary
    search in ``events/t``. The counts that split a long recording into time ranges.

    Raises
    ------
    OptionError
        A file of several samples, or a time that is not an int.
    FileFormatError
        As for :func:`read`, for what it reads.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> stream = Events(t=[1000, 1500, 3200], x=[1, 2, 3], y=[0, 1, 0], p=[1, 0, 1], sensor_size=(4, 2))
    >>> hdf5.write(path, stream)
    >>> hdf5.events_before(path, [0, 1500, 1501, 10**9])
    [0, 1, 2, 3]
    """
    with _open(path) as file:
        reader = _stream(file, Path(path))
        keys = [optional_int("times", t, "ints in the file's time unit") for t in times]
        if None in keys:
            raise OptionError(f"times must be ints in the file's time unit, got {list(times)!r}")
        return [int(reader.spans(range(1), key, None)[0][0]) for key in keys]


def times_at(path: str | os.PathLike[str], positions: Sequence[int]) -> list[int]:
    """The times of the events at ``positions`` (indices into the stream) of a one-stream file, in
    the file's unit, absolute (``t_offset`` included); read as they are stored, unchecked.

    Raises
    ------
    OptionError
        A file of several samples, or a position outside its events.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> stream = Events(t=[1000, 1500, 3200], x=[1, 2, 3], y=[0, 1, 0], p=[1, 0, 1], sensor_size=(4, 2))
    >>> hdf5.write(path, stream)
    >>> hdf5.times_at(path, [2, 0])
    [3200, 1000]
    """
    with _open(path) as file:
        reader = _stream(file, Path(path))
        found = [optional_int("positions", i, "event indices") for i in positions]
        if None in found:
            raise OptionError(f"positions must be event indices, got {list(positions)!r}")
        at = np.asarray(found, np.int64)
        if len(at) and (int(at.min()) < 0 or int(at.max()) >= reader.count):
            raise OptionError(f"{path}: positions must lie in 0 .. {reader.count - 1}, got {positions}")
        return list(reader._absolute(*_gather(reader.datasets["t"], at)))


def _stream(file: h5py.File, path: Path) -> _Reader:
    """The reader of a file of one stream (one sample), else :class:`OptionError`."""
    reader = _Reader(file, path)
    if len(reader.offsets) != 2:
        raise OptionError(
            f"{path} holds {len(reader.offsets) - 1} samples: a time range of a file is one stream's; "
            "read the samples (sample=) instead"
        )
    return reader


def _pieces(
    path: str | os.PathLike[str],
    chunk_events: int,
    window: tuple[int | None, int | None],
    make: Callable[[_Reader, dict[str, np.ndarray]], Piece],
) -> Iterator[Piece]:
    """The checked pieces of a file, each made into what the caller returns."""
    with _open(path) as file:
        reader = _Reader(file, Path(path))
        for piece in reader.pieces(chunk_events, *window):
            yield make(reader, piece)


def _exists(path: str | os.PathLike[str]) -> None:
    if not Path(path).exists():
        raise FileNotFoundError(f"{os.fspath(path)}: no such file")
    require_regular(path)  # HDF5 would wait forever on a FIFO


@functools.cache
def _plugins() -> bool:
    """Whether ``hdf5plugin`` is installed; importing it registers its filters with HDF5."""
    try:
        import hdf5plugin  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _open(path: str | os.PathLike[str]) -> Iterator[h5py.File]:
    """The open file; an error HDF5 raises on a damaged file becomes a FileFormatError.

    eventcode's own errors (the checks' FileFormatError, DependencyError, SampleIndexError...)
    pass as they are.
    """
    _exists(path)
    _plugins()
    try:
        with h5py.File(path, "r") as file:
            yield file
    except EventcodeError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError) as err:
        raise FileFormatError(
            f"{os.fspath(path)}: not a readable HDF5 event file ({type(err).__name__}: {err})"
        ) from None


def _compression(data: h5py.Dataset) -> str:
    """The canonical name of a dataset's compression filter (shuffle and checksums aside)."""
    for code in _filter_ids(data):
        if code not in (h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32):
            return FILTER_NAMES.get(code, f"HDF5 filter {code}")
    return "none"


def _filter_ids(data: h5py.Dataset) -> list[int]:
    plist = data.id.get_create_plist()
    return [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]


def _gather(data: h5py.Dataset, positions: np.ndarray) -> np.ndarray:
    """The values of a 1-D dataset at ``positions`` (any order, repeats allowed), in its dtype.

    Nearby positions (at most :data:`GATHER_GAP` apart, in one chunk) are read as one slice and
    others separately: a few positions cost a few small reads, and one per sample of a large file
    at most one pass over the chunks they fall in, in bounded memory.
    """
    unique, inverse = np.unique(positions, return_inverse=True)
    values = np.empty(len(unique), data.dtype)
    if not len(unique):
        return values
    block = data.chunks[0] if data.chunks else GATHER_GAP
    breaks = np.flatnonzero((np.diff(unique) > GATHER_GAP) | (np.diff(unique // block) != 0)) + 1
    for run in np.split(np.arange(len(unique)), breaks):
        first, last = int(unique[run[0]]), int(unique[run[-1]])
        values[run] = data[first : last + 1][unique[run] - first]
    return values[inverse]


def _signed(values: np.ndarray, dtype: str) -> np.ndarray:
    """Checked addresses (within the shape, so they fit) in their signed column dtype: a view when
    only the signedness differs."""
    same_width = values.dtype.itemsize == np.dtype(dtype).itemsize
    return values.view(dtype) if same_width else values.astype(dtype)


def _at_least(values: np.ndarray, keys: np.ndarray | int) -> np.ndarray:
    """``values >= keys`` exactly, for values of any integer dtype (uint64 beyond int64 too)."""
    if values.dtype == np.uint64:
        beyond = values > np.uint64(_INT64.max)
        return np.asarray(beyond | (values.astype(np.int64) >= keys))
    return np.asarray(values.astype(np.int64) >= keys)


def _search(times: np.ndarray, key: int) -> int:
    """Index of the first of the sorted ``times`` at or after ``key``, any int (beyond the dtype too)."""
    limits = np.iinfo(times.dtype)
    if key <= limits.min:
        return 0
    if key > limits.max:
        return len(times)
    return int(np.searchsorted(times, times.dtype.type(key), side="left"))


class _Reader:
    """Checked access to the datasets of one open file.

    Opening checks the datasets' dtypes, declared sizes and filters, the attributes and
    ``offsets``; the sample shape, the indexes and the values are checked when they are used.
    """

    def __init__(self, file: h5py.File, path: Path) -> None:
        self.file, self.path = file, path
        self.size = path.stat().st_size
        self.datasets: dict[str, h5py.Dataset] = {}
        for name in ("x", "y", "t", "p", "c"):  # in this order the first missing is named
            if name != "c" or "events/c" in file:
                self.datasets[name] = self._dataset(f"events/{name}", 1)
        lengths = {name: data.shape[0] for name, data in self.datasets.items()}
        if len(set(lengths.values())) > 1:
            self.fail("events", f"columns of different lengths {lengths}")
        self.count = lengths["t"]
        self.batched = bool(file.attrs.get("batched", False))
        self.offsets = self._offsets()
        unit = _text(file, "time_unit", "us")
        if unit not in ("us", "step"):
            self.fail("/", f"time_unit attribute is {unit!r}, not 'us' or 'step'")
        self.unit: Literal["us", "step"] = "step" if unit == "step" else "us"
        self.num_steps = self._integer("num_steps", 0, _INT64.max) if self.unit == "step" else None
        if self.unit == "step" and self.num_steps is None:
            self.fail("/", "step time needs a num_steps attribute")
        self.dt_us = self._integer("dt_us", 1, _INT64.max)
        self.t0_us = self._integer("t0_us", _INT64.min, _INT64.max)
        self.t_offset = self._t_offset()
        if self.unit == "step" and self.t_offset:
            self.fail("t_offset", f"is {self.t_offset}, but a step-time file stores steps as they are (0)")
        polarities = self._integer("polarities", 0, 2)
        self.polarities = 2 if polarities is None else polarities
        self.layout = FORMAT if _text(file, "format", None) == FORMAT else "DSEC"
        encoding = _text(file, "polarity_encoding", None)
        # "0/1" or "-1/+1" once the file says (eventcode's attribute) or a piece read shows it
        self.p_encoding = encoding if encoding in ("0/1", "-1/+1") else None

    def fail(self, dataset: str, message: str) -> NoReturn:
        raise FileFormatError(f"{self.path}: {dataset}: {message}")

    @contextlib.contextmanager
    def located(self, dataset: str, context: str = "") -> Iterator[None]:
        """Re-raise a check's EventsError as a FileFormatError naming the file and the dataset."""
        try:
            yield
        except EventsError as err:
            raise FileFormatError(f"{self.path}: {dataset}{context}: {err}") from None

    # ------------------------------------------------------------------ opening
    def _dataset(self, name: str, ndim: int) -> h5py.Dataset:
        """The dataset, checked: integers of ``ndim`` dimensions, decodable, every byte stored."""
        data = self.file.get(name)
        if not isinstance(data, h5py.Dataset):
            self.fail(name, "missing; is this an event file written by eventcode or DSEC?")
        if data.dtype.kind not in "iu" or data.ndim != ndim:
            self.fail(name, f"has dtype {data.dtype} and shape {data.shape}; expected {ndim}-D integers")
        for code in _filter_ids(data):
            if not h5py.h5z.filter_avail(code):
                self._missing_filter(name, code)
        self._stored(name, data)
        return data

    def _missing_filter(self, name: str, code: int) -> NoReturn:
        if code in PLUGIN_FILTERS and not _plugins():
            raise DependencyError(
                f"{self.path}: {name}: compressed with HDF5's {PLUGIN_FILTERS[code]} filter ({code}), "
                "which needs the hdf5plugin package: pip install 'eventcode[hdf5]'"
            )
        self.fail(
            name,
            f"compressed with HDF5 filter {code}, which no installed filter decodes (a damaged filter "
            "pipeline, or a plugin to put on HDF5_PLUGIN_PATH)",
        )

    def _stored(self, name: str, data: h5py.Dataset) -> None:
        """The file stores every value the dataset declares, so reading it allocates no more than
        the file can fill and returns no fill values (HDF5 reads a missing chunk as zeros)."""
        plist = data.id.get_create_plist()
        layout = plist.get_layout()
        stored = data.id.get_storage_size()
        if plist.get_external_count() or layout not in (
            h5py.h5d.CHUNKED,
            h5py.h5d.CONTIGUOUS,
            h5py.h5d.COMPACT,
        ):
            self.fail(name, "is stored outside the file (external or virtual), which eventcode does not read")
        if layout == h5py.h5d.CHUNKED:
            expected = math.prod(-(-n // k) for n, k in zip(data.shape, data.chunks, strict=True))
            chunks = data.id.get_num_chunks()
            if chunks != expected or stored > self.size:
                self.fail(
                    name,
                    f"declares {data.shape} values in {expected:,} chunks of {data.chunks}, but the file "
                    f"({self.size:,} bytes) stores {chunks:,} chunks ({stored:,} bytes): damaged or "
                    "truncated",
                )
        else:
            declared = math.prod(data.shape) * data.dtype.itemsize
            if stored != declared or stored > self.size:
                self.fail(
                    name,
                    f"declares {data.shape} values ({declared:,} bytes), but the file ({self.size:,} bytes) "
                    f"stores {stored:,} bytes of them: damaged or truncated",
                )

    def _offsets(self) -> np.ndarray:
        if "offsets" not in self.file:
            return np.array([0, self.count], np.int64)
        bounds = self._dataset("offsets", 1)[()]
        with self.located("offsets"):
            checks.offsets(bounds, self.count)
        if not self.batched and len(bounds) != 2:
            self.fail(
                "offsets", f"holds {len(bounds) - 1} samples, but the file is one stream (batched is false)"
            )
        return np.asarray(bounds, np.int64)

    def _integer(self, name: str, low: int, high: int) -> int | None:
        """A whole-number root attribute within ``[low, high]`` (None when absent)."""
        if name not in self.file.attrs:
            return None
        value = self.file.attrs[name]
        whole = isinstance(value, numbers.Integral) or (
            isinstance(value, numbers.Real) and float(value).is_integer()
        )
        if isinstance(value, bool | np.bool_) or not whole or not low <= int(value) <= high:
            self.fail("/", f"{name} attribute is {value}; expected a whole number in [{low}, {high}]")
        return int(value)

    def _t_offset(self) -> int:
        if "t_offset" not in self.file:
            return 0
        value = self._dataset("t_offset", 0)[()]
        if not _INT64.min <= int(value) <= _INT64.max:
            self.fail("t_offset", f"is {value}, beyond int64")
        return int(value)

    @functools.cached_property
    def shape(self) -> tuple[int, ...]:
        """The sample shape: the ``shape`` attribute, else ``height`` and ``width``, else (a DSEC
        file without them) the smallest holding every address, read now in bounded memory."""
        attrs = self.file.attrs
        with self.located("/", " (no usable sample shape)"):
            if "shape" in attrs:
                dims = np.asarray(attrs["shape"])
                if dims.dtype.kind not in "iu" or dims.ndim != 1:
                    self.fail(
                        "/", f"shape attribute {dims!r} is not a list of integers (no usable sample shape)"
                    )
                shape = address.check_shape(dims.tolist())
            elif "width" in attrs and "height" in attrs:
                size = [self._integer(name, 1, _INT64.max) for name in ("height", "width")]
                shape = address.check_shape(size)
            else:
                shape = address.check_shape([self._largest(name) + 1 for name in ("y", "x")])
        if ("c" in self.datasets) != (address.channels(shape) > 1):
            self.fail("events/c", f"present exactly when the shape {shape} has several channels")
        return shape

    def _largest(self, name: str) -> int:
        """The largest value of an event column (0 if empty), read :data:`SCAN_EVENTS` at a time."""
        data = self.datasets[name]
        block = -(-SCAN_EVENTS // data.chunks[0]) * data.chunks[0] if data.chunks else SCAN_EVENTS
        return max(
            (int(data[start : start + block].max()) for start in range(0, len(data), block)), default=0
        )

    @functools.cached_property
    def step_index(self) -> h5py.Dataset | None:
        """``step_to_idx`` of a step-time file (None without one), its shape checked."""
        if self.num_steps is None or "step_to_idx" not in self.file:
            return None
        data = self._dataset("step_to_idx", 2)
        wanted = (len(self.offsets) - 1, self.num_steps + 1)
        if data.shape != wanted:
            self.fail("step_to_idx", f"has shape {data.shape}, not (samples, num_steps + 1) = {wanted}")
        return data

    @functools.cached_property
    def ms_index(self) -> h5py.Dataset | None:
        """``ms_to_idx`` of a one-stream microsecond file (None without one)."""
        if self.batched or self.unit != "us" or "ms_to_idx" not in self.file:
            return None
        return self._dataset("ms_to_idx", 1)

    # ------------------------------------------------------------------ describing
    def info(self) -> FileInfo:
        """The :class:`~exporters.contract.FileInfo` of the file."""
        t = self.datasets["t"]
        lo, hi = self.offsets[:-1], self.offsets[1:]
        full = hi > lo  # each sample's first and last event bound its times
        k = int(full.sum())
        ends = _gather(t, np.concatenate([lo[full], hi[full] - 1]))
        first = last = None
        if k:
            first, last = self._absolute(ends[:k].min(), ends[k:].max())
        size = address.sensor_size(self.shape)[:2]
        try:
            encoding = json.loads(_text(self.file, "encoding", None) or "{}")
        except (TypeError, ValueError):
            self.fail("/", "encoding attribute is not JSON text")
        extras: dict[str, object] = {
            "layout": self.layout,
            "dtypes": {name: str(data.dtype) for name, data in self.datasets.items()},
            "chunk_events": t.chunks[0] if t.chunks else None,
            "encoding": encoding,
            "eventcode_version": _text(self.file, "eventcode_version", None),
        }
        if self.unit == "us":
            extras["t_offset"] = self.t_offset
        else:
            extras["t0_us"] = self.t0_us
        stream = Stream(
            id=0,
            type="EVTS",
            name="events",
            size=size,
            packets=t.id.get_num_chunks() if t.chunks else int(self.count > 0),
            records=self.count,
            first=first,
            last=last,
        )
        return FileInfo(
            path=self.path,
            format=NAME,
            compression=_compression(t),
            sensor_size=(*size, max(self.polarities, 1)),
            shape=self.shape,
            events=self.count,
            samples=len(self.offsets) - 1,
            time_unit=self.unit,
            first=first,
            last=last,
            num_steps=self.num_steps,
            dt_us=self.dt_us,
            polarities=self.polarities,
            streams=(stream,),
            extras=extras,
        )

    def _absolute(self, *stored: np.integer) -> tuple[int, ...]:
        """Stored times as absolute times (``t_offset`` added), checked to fit int64."""
        times = tuple(int(t) + self.t_offset for t in stored)
        if not all(_INT64.min <= t <= _INT64.max for t in times):
            self.fail(
                "events/t",
                f"times {[int(t) for t in stored]} plus t_offset {self.t_offset} leave int64: a damaged time "
                "column or t_offset",
            )
        return times

    # ------------------------------------------------------------------ selecting
    def samples(self, sample: int | None) -> range:
        count = len(self.offsets) - 1
        if sample is None:
            return range(count)
        b = sample + count if sample < 0 else sample
        if not 0 <= b < count:
            raise SampleIndexError(
                f"sample {sample} is out of range for the {count} sample(s) of {self.path}; use 0 to "
                f"{count - 1}, or a negative index from the end"
            )
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
        (lo,), (hi,) = self.spans(range(1), t_start, t_end)
        previous = None
        for start in range(int(lo), int(hi), chunk_events):
            end = min(start + chunk_events, int(hi))
            stored = self.read_span(start, end)
            if previous is not None and int(stored["t"][0]) < previous:
                self.fail(
                    "events/t",
                    f"t[{start}] = {int(stored['t'][0])} comes after t[{start - 1}] = {previous} (stored, "
                    "before t_offset): time goes backwards",
                )
            previous = int(stored["t"][-1])
            yield self.checked(
                stored, np.array([end - start]), f" (events {start}:{end}, numbered from {start})"
            )

    def spans(self, samples: range, t_start: int | None, t_end: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Per sample, the first and the end event index of ``t_start <= t < t_end``."""
        lo = self.offsets[samples.start : samples.stop]
        hi = self.offsets[samples.start + 1 : samples.stop + 1]
        times = [t for t in (t_start, t_end) if t is not None]
        if not times:
            return lo, hi
        found = self._first_at(samples, [t - self.t_offset for t in times], lo, hi)
        first = lo if t_start is None else found[:, 0]
        last = hi if t_end is None else found[:, -1]
        return first, np.maximum(first, last)

    def _first_at(self, samples: range, times: list[int], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """``[sample, k]``: the index of each sample's first event at or after stored time ``times[k]``."""
        steps, step_index, ms_index = self.num_steps, self.step_index, self.ms_index
        t_data = self.datasets["t"]
        if step_index is not None and steps is not None:  # exact: events before are earlier steps
            wanted = [min(max(t, 0), steps) for t in times]
            columns = sorted(set(wanted))  # one read of both bounds' entries, checked together
            rows = self._entries("step_to_idx", step_index[samples.start : samples.stop, columns])
            entries, keys = rows.reshape(-1), np.tile(columns, len(rows))
            ends = np.repeat(lo, len(columns)), np.repeat(hi, len(columns))

            def label(i: int) -> str:
                return f"[{samples.start + i // len(columns)}, {columns[i % len(columns)]}]"

            self._inside("step_to_idx", entries, *ends, label)
            self._verify("step_to_idx", entries, keys, *ends, label, lambda at: _gather(t_data, at))
            return rows[:, [columns.index(step) for step in wanted]]
        if ms_index is not None:
            return np.array([[self._ms_first(ms_index, t, int(lo[0]), int(hi[0])) for t in times]], np.int64)
        found = np.empty((len(lo), len(times)), np.int64)
        for b, (a, z) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):  # no index: search
            sample = t_data[a:z]
            found[b] = [a + _search(sample, t) for t in times]
        return found

    def _ms_first(self, index: h5py.Dataset, relative: int, lo: int, hi: int) -> int:
        """The first event at or after ``relative`` in a stream with DSEC's ``ms_to_idx`` (``index``):
        between the entries of the millisecond before and after it, each checked against the times."""
        length = len(index)
        ms = relative // 1000
        before = None if ms < 0 or not length else min(ms, length - 1)  # entry <= the answer
        after = None if not length or ms + 1 >= length else max(ms + 1, 0)  # entry >= the answer
        used = [m for m in (before, after) if m is not None]
        if not used:
            return lo + _search(self.datasets["t"][lo:hi], relative)
        entries = self._entries("ms_to_idx", index[used[0] : used[-1] + 1])
        ends = np.full(len(used), lo), np.full(len(used), hi)
        self._inside("ms_to_idx", entries, *ends, lambda i: str(used[i]))
        start = lo if before is None else int(entries[0])
        end = hi if after is None else int(entries[-1])
        if start > end:
            self.fail("ms_to_idx", f"entries {used[0]} and {used[-1]} decrease ({start} > {end})")
        first = max(start - 1, lo)  # the events between the entries and either side: one read
        times = self.datasets["t"][first : min(end + 1, hi)]
        keys = np.array(used, np.int64) * 1000
        self._verify("ms_to_idx", entries, keys, *ends, lambda i: str(used[i]), lambda at: times[at - first])
        return start + _search(times[start - first : end - first], relative)

    def _entries(self, name: str, values: np.ndarray) -> np.ndarray:
        """Index entries as int64 (uint64 entries beyond int64 are damage)."""
        if values.dtype == np.uint64 and values.size and values.max() > np.uint64(_INT64.max):
            self.fail(name, f"holds entries beyond int64 ({int(values.max())})")
        return np.asarray(values, np.int64)

    def _inside(
        self, name: str, entries: np.ndarray, lo: np.ndarray, hi: np.ndarray, label: Callable[[int], str]
    ) -> None:
        """Each index entry lies within its sample's events ``lo:hi``."""
        outside = (entries < lo) | (entries > hi)
        if outside.any():
            i = checks.first(outside)
            self.fail(name, f"entry {label(i)} = {entries[i]} points outside the events {lo[i]}:{hi[i]}")

    def _verify(
        self,
        name: str,
        entries: np.ndarray,
        keys: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        label: Callable[[int], str],
        times_at: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        """Each index entry (within its sample's events ``lo:hi``) is the first of them at or after
        its key: the event before it is earlier, the event it names is not; ``times_at`` gives the
        stored times at those positions, two per entry."""
        before, at = np.flatnonzero(entries > lo), np.flatnonzero(entries < hi)
        which = np.concatenate([before, at])
        positions = entries[which] - np.repeat([1, 0], [len(before), len(at)])
        values = times_at(positions)
        wrong = _at_least(values, keys[which]) != np.repeat([False, True], [len(before), len(at)])
        if wrong.any():
            j = checks.first(wrong)
            i = which[j]
            self.fail(
                name,
                f"entry {label(i)} = {entries[i]} is not the first event at or after t = {keys[i]} (stored, "
                f"before t_offset): events/t[{positions[j]}] = {values[j]}; the index disagrees with the "
                "events",
            )

    # ------------------------------------------------------------------ reading
    def columns(self, samples: range, t_start: int | None, t_end: int | None) -> dict[str, np.ndarray]:
        """Checked columns of ``samples`` within the time window, with their ``offsets``."""
        first, last = self.spans(samples, t_start, t_end)
        if len(first) == 1 and self._plain_stream():
            read = self.stream(int(first[0]), int(last[0]))
            if read is not None:
                return read
        full = last > first
        starts, ends = first[full], last[full]
        ending = np.ones(len(starts), bool)  # adjacent spans are read as one
        ending[:-1] = starts[1:] != ends[:-1]
        runs = zip(starts[np.roll(ending, 1)].tolist(), ends[ending].tolist(), strict=True)
        pieces = [self.read_span(a, z) for a, z in runs] or [self.read_span(0, 0)]
        stored = (
            pieces[0]
            if len(pieces) == 1
            else {name: np.concatenate([piece[name] for piece in pieces]) for name in pieces[0]}
        )
        context = (
            f" (reading samples {samples.start}:{samples.stop}; numbers below count within what was read)"
        )
        return self.checked(stored, last - first, context)

    def _plain_stream(self) -> bool:
        """Whether :meth:`stream` can read this file: one microsecond stream of 2 polarities, its
        columns in unsigned dtypes (a DSEC file, or eventcode's of one stream)."""
        stored = {name: data.dtype for name, data in self.datasets.items()}
        return (
            address.column_dtype_names(self.shape)[2] is None
            and "c" not in stored
            and self.num_steps is None
            and self.polarities == 2
            and all(dtype.kind in "ub" for dtype in stored.values())
            and stored["t"] in (np.uint32, np.uint64)
        )

    def stream(self, lo: int, hi: int) -> dict[str, np.ndarray] | None:
        """The checked columns of events ``lo:hi`` of a plain stream (:meth:`_plain_stream`), read
        in pieces on all cores: a column stored as wide as eventcode's is read straight into it,
        another into a scratch buffer and widened right after its values are checked there; None
        when a check fails (:meth:`checked` then finds and names the first bad value).

        Columns stored contiguously in the file (uncompressed, as :func:`write` stores them) are
        read with ``preadv`` at their offsets (:meth:`_places`), on all cores at once, others
        through h5py. The file's ``polarity_encoding`` attribute, where present, spares the
        search for a 0 polarity; the order of the times is checked in full (``ms_to_idx`` orders
        milliseconds, not the events within one)."""
        n = hi - lo
        if n == 0:
            return None
        x_dtype, y_dtype, _ = address.column_dtype_names(self.shape)
        out = {"t": np.empty(n, np.int64), "x": np.empty(n, x_dtype), "y": np.empty(n, y_dtype)}
        out["p"] = np.empty(n, bool)
        limits = {"x": address.width(self.shape), "y": address.height(self.shape), "p": 2}
        places = self._places()
        offset = np.int64(self.t_offset)
        encoded = self.p_encoding is not None

        def piece(a: int) -> tuple[bool, bool, int, int]:
            b = min(a + PIECE_EVENTS, n)
            stored, widened = {}, []
            for name in "txyp":
                data, column = self.datasets[name], out[name][a:b]
                if data.dtype.itemsize == column.itemsize:
                    stored[name] = column.view(data.dtype)
                else:
                    stored[name] = threads.scratch(f"hdf5.{name}", b - a, data.dtype)
                    widened.append(name)
                if places is None:
                    data.read_direct(stored[name], np.s_[lo + a : lo + b])
                elif not self._raw_read(name, stored[name], places[name] + (lo + a) * data.dtype.itemsize):
                    return False, False, 0, 0
            stamps = stored["t"]
            backwards = threads.scratch("hdf5.backwards", b - a - 1, bool)
            np.less(stamps[1:], stamps[:-1], out=backwards)
            good = not backwards.any()
            good = good and all(int(stored[name].max()) < limit for name, limit in limits.items())
            good = good and int(stamps[-1]) + self.t_offset <= _INT64.max
            for name in widened:
                if name != "t":
                    np.copyto(out[name][a:b], stored[name], casting="unsafe")
            # one pass over the fresh column (casting and adding in one pass was 10% faster than a cast
            # and an in-place addition, though twice as slow on memory already touched)
            np.add(stamps, offset, out=out["t"][a:b], dtype=np.int64, casting="unsafe")
            zero = not encoded and int(stored["p"].min()) == 0
            return good, zero, int(stamps[0]), int(stamps[-1])

        found = list(threads.parallel(piece, range(0, n, PIECE_EVENTS)))
        seams = all(earlier[3] <= later[2] for earlier, later in itertools.pairwise(found))
        if not (seams and all(good for good, _, _, _ in found)):
            return None
        if self.p_encoding is None and any(zero for _, zero, _, _ in found):
            self.p_encoding = "0/1"
        return {**out, "offsets": np.array([0, n], np.int64)}

    def _places(self) -> dict[str, int] | None:
        """The file offset of each event column's values where every one lies in the file as one
        run of bytes (:func:`_contiguous_place`) and the file is open with HDF5's default driver
        (whose handle :meth:`_raw_read` reads); else None: the columns are read through h5py."""
        if self.file.driver != "sec2":
            return None
        places = {name: _contiguous_place(data) for name, data in self.datasets.items()}
        if any(place is None for place in places.values()):
            return None
        return {name: place for name, place in places.items() if place is not None}

    def _raw_read(self, name: str, values: np.ndarray, place: int) -> bool:
        """Fill ``values`` (a stretch of the event column ``name``) from file offset ``place``;
        False if the file ends first."""
        return positional.read_at(self.file.id.get_vfd_handle(), values, place)

    def read_span(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """The stored columns of events ``lo:hi``, in the file's dtypes."""
        return {
            name: self.datasets[name][lo:hi] for name in ("t", "x", "y", "p", "c") if name in self.datasets
        }

    def checked(
        self, stored: dict[str, np.ndarray], counts: np.ndarray, context: str
    ) -> dict[str, np.ndarray]:
        """eventcode's columns and their ``offsets`` from stored columns (emptied: each stored
        column goes as it is converted), after checking the stored values (:meth:`_check`)."""
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        on = self._check(stored, offsets, context)
        x_dtype, y_dtype, c_dtype = address.column_dtype_names(self.shape)
        columns = {
            "t": np.add(stored.pop("t"), np.int64(self.t_offset), dtype=np.int64),
            "x": _signed(stored.pop("x"), x_dtype),
            "y": _signed(stored.pop("y"), y_dtype),
            "p": on,
        }
        if c_dtype is not None:
            columns["c"] = _signed(stored.pop("c"), c_dtype)
        return {**columns, "offsets": offsets}

    def _check(self, stored: dict[str, np.ndarray], offsets: np.ndarray, context: str) -> np.ndarray:
        """Check stored values with :mod:`eventcode.checks` in their stored dtype: addresses within
        the shape, time order per sample, steps within num_steps, times within int64 after
        t_offset, polarities; return the polarities as bools."""
        shape = self.shape
        for name, extent in zip("xyc", address.extents(shape), strict=True):
            if name in stored:
                with self.located(f"events/{name}", context):
                    checks.addresses(name, stored[name], extent, offsets, shape)
        t = stored["t"]
        with self.located("events/t", context):
            checks.time_order(t, offsets)
            if self.num_steps is not None:
                checks.steps(t, offsets, self.num_steps)
        full = offsets[1:] > offsets[:-1]
        if full.any():  # each sample in time order: its ends bound its times
            self._absolute(t[offsets[:-1][full]].min(), t[offsets[1:][full] - 1].max())
        return self._on(stored["p"], offsets, context)

    def _on(self, p: np.ndarray, offsets: np.ndarray, context: str) -> np.ndarray:
        """The polarity column as bools (ON = True), checked: 0/1, or -1/+1 in a file of another
        tool (no ``polarity_encoding`` attribute) whose column holds exactly those two values."""
        signed = p.dtype.kind == "i" and self.p_encoding != "0/1" and len(p) > 0 and bool((p < 0).any())
        if signed or self.p_encoding == "-1/+1":
            neither = (p != 1) & (p != -1)
            if neither.any():
                i = checks.first(neither)
                self.fail(
                    f"events/p{context}",
                    f"p[{i}] = {int(p[i])} in a column of -1/+1 polarities ({checks.where(i, offsets)}); a "
                    "polarity column holds 0/1 or -1/+1",
                )
            self.p_encoding = "-1/+1"
            on = p > 0
            with self.located("events/p", context):
                checks.polarity(on, offsets, self.polarities)
            return on
        with self.located("events/p", context):
            checks.polarity(p, offsets, self.polarities)
        if self.p_encoding is None and bool((p == 0).any()):
            self.p_encoding = "0/1"
        return p.view(bool) if p.dtype.itemsize == 1 else p.astype(bool)

    def build(self, columns: dict[str, np.ndarray]) -> Events:
        """``Events`` of checked columns (sharing their memory)."""
        import torch

        from eventcode.events import Events

        tensors = {name: torch.from_numpy(column) for name, column in columns.items()}
        return Events.from_columns(
            tensors["t"],
            tensors["x"],
            tensors["y"],
            tensors["p"],
            c=tensors.get("c"),
            offsets=tensors["offsets"],
            shape=self.shape,
            num_steps=self.num_steps,
            time_unit=self.unit,
            polarities=self.polarities,
            check="none",
        )
