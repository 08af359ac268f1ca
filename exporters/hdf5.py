"""HDF5 event files: DSEC's layout for one stream, a batched layout for whole encoded datasets.

Layout (every dataset chunked, one compression for all)::

    /events/x  uint16      /events/y  uint16      /events/p  uint8 (0 = OFF, 1 = ON)
    /events/t  uint32 or int64: time minus t_offset (us or steps)
    /events/c  uint16      only for samples with several channels
    /t_offset  int64       scalar
    /offsets   int64 [B + 1]: events of sample b are offsets[b]:offsets[b + 1]
    /ms_to_idx uint64      one stream in microseconds (DSEC): first event with t >= 1000 * ms
    /step_to_idx int64 [B, num_steps + 1]: step-time files: first event of each step, per sample

A one-sample microsecond file is a DSEC event file (``events/{x,y,t,p}``, ``ms_to_idx``,
``t_offset``), so DSEC's slicer and Tonic's DSEC loader read it. Root attributes record the
sample ``shape``, ``sensor_size``, ``time_unit``, ``num_steps``, ``dt_us`` (optional), the
encoding parameters the caller gives, and the eventcode version, so :func:`read` returns
exactly the :class:`~eventcode.Events` written.

Compression: ``None``; ``"gzip"`` (deflate level 4 with byte shuffle) and ``"lzf"`` (with
shuffle), which every h5py opens without plugins; ``"zstd"`` (level 3) and ``"blosc"``
(LZ4 with bit shuffle, the fast one), which need the ``hdf5plugin`` package (extra
``eventcode[hdf5]``) to write and to read.

Examples
--------
>>> import tempfile, pathlib, torch
>>> import eventcode
>>> from exporters import hdf5
>>> generator = torch.Generator().manual_seed(0)
>>> digits = eventcode.rate(torch.rand(4, 1, 28, 28), num_steps=30, generator=generator)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "digits.h5"
>>> hdf5.write(path, digits, compression="gzip", encoding={"code": "rate", "num_steps": 30})
>>> hdf5.read(path) == digits
True
>>> hdf5.read(path, sample=2, t_start=10, t_end=20) == digits[2].time_slice(10, 20)
True
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import torch

import eventcode
from eventcode import Events, address
from eventcode.errors import ExportError, FileFormatError, TimeOrderError
from exporters.atomic import AtomicWriter

NAME = "hdf5"
DESCRIPTION = "HDF5 (DSEC layout for one stream, batched layout with offsets; eventcode's own)"
MAGIC = b"\x89HDF\r\n\x1a\n"
BATCHED = True
SUFFIXES = (".h5", ".hdf5")
Compression = Literal["gzip", "lzf", "zstd", "blosc"] | None

CHUNK_EVENTS = 1 << 18
"""Events per HDF5 chunk of each column (512 KiB of x)."""
FORMAT = "eventcode-hdf5"
VERSION = 1


def write(
    path: str | os.PathLike[str],
    events: Events,
    compression: Compression = None,
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
    compression : {None, "gzip", "lzf", "zstd", "blosc"}
        See the module doc; ``"zstd"`` and ``"blosc"`` need ``hdf5plugin``.
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
    t = events.t
    offset = int(t.min()) if events.time_unit == "us" and len(t) else 0
    span = int(t.max()) - offset if len(t) else 0
    time_dtype = np.uint32 if span < 2**32 else np.int64
    with Writer(
        path,
        shape=events.shape,
        compression=compression,
        batched=events.num_samples != 1,
        num_steps=events.num_steps,
        dt_us=dt_us,
        encoding=encoding,
        overwrite=overwrite,
        t_offset=offset,
        time_dtype=time_dtype,
        chunk_events=max(1, min(CHUNK_EVENTS, len(events))),
    ) as writer:
        writer.write(events)


class Writer(AtomicWriter):
    """Append events to an HDF5 file chunk by chunk, in constant memory, keeping the index valid.

    In the default one-stream mode each :meth:`write` appends the next stretch of time of one
    sample (a DSEC file, ``ms_to_idx`` extended as it goes); with ``batched=True`` each call
    appends whole samples (``offsets`` and ``step_to_idx`` extended). The file appears at
    ``path`` only when the ``with`` block ends without an error; after an error, or a crash,
    ``path`` holds no new file and an existing one is untouched.

    Parameters
    ----------
    path : path
        Target file.
    sensor_size, shape
        The sample geometry (give one).
    compression : {None, "gzip", "lzf", "zstd", "blosc"}
        As for :func:`write`.
    batched : bool
        Append samples (True) or stretches of one stream (False).
    num_steps : int, optional
        Steps of step-time events (then every chunk must be in steps); None for microseconds.
    dt_us, encoding, overwrite
        As for :func:`write`.
    t_offset : int, optional
        Time subtracted before storing; default the first event's time for one microsecond
        stream (DSEC), else 0.
    time_dtype : numpy dtype
        Storage of ``events/t``: int64 (default) or uint32 (DSEC's, 71.6 minutes of
        microseconds).
    chunk_events : int
        Events per HDF5 chunk.

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
        compression: Compression = None,
        *,
        shape: Sequence[int] | None = None,
        batched: bool = False,
        num_steps: int | None = None,
        dt_us: int | None = None,
        encoding: Mapping[str, object] | None = None,
        overwrite: bool = True,
        t_offset: int | None = None,
        time_dtype: type = np.int64,
        chunk_events: int = CHUNK_EVENTS,
    ) -> None:
        self._filters = filters(compression)
        self._compression = compression or "none"
        super().__init__(path, address.resolve(shape, sensor_size), overwrite)
        self._batched = batched
        self._num_steps = num_steps
        self._unit = "step" if num_steps is not None else "us"
        try:
            self._encoding = json.dumps(dict(encoding or {}))
        except TypeError as err:
            raise ExportError(f"encoding must be JSON-serializable: {err}") from None
        self._dt_us = dt_us
        self._t_offset = t_offset
        self._time_dtype = np.dtype(time_dtype)
        if self._time_dtype not in (np.dtype(np.uint32), np.dtype(np.int64)):
            raise ExportError(f"time_dtype must be uint32 or int64, got {self._time_dtype}")
        self._chunk = int(chunk_events)
        self._count = 0
        self._last_t: int | None = None
        self._samples = 0

    # ------------------------------------------------------------------ file
    def _open(self, temporary: Path) -> h5py.File:
        root = h5py.File(temporary, "w")
        columns = {"x": np.uint16, "y": np.uint16, "t": self._time_dtype, "p": np.uint8}
        if address.channels(self._shape) > 1:
            columns["c"] = np.uint16
        for name, dtype in columns.items():
            root.create_dataset(
                f"events/{name}",
                shape=(0,),
                maxshape=(None,),
                dtype=dtype,
                chunks=(self._chunk,),
                **self._filters,
            )
        root.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=True)
        if self._unit == "step":
            root.create_dataset(
                "step_to_idx",
                shape=(0, self._num_steps + 1),
                maxshape=(None, self._num_steps + 1),
                dtype=np.int64,
                chunks=(max(1, 4096 // (self._num_steps + 1)), self._num_steps + 1),
            )
        elif not self._batched:
            root.create_dataset("ms_to_idx", shape=(0,), maxshape=(None,), dtype=np.uint64, chunks=(4096,))
        attributes = {
            "format": _fixed(FORMAT),
            "version": VERSION,
            "eventcode_version": _fixed(eventcode.__version__),
            "shape": np.array(self._shape, dtype=np.int64),
            "sensor_size": np.array(address.sensor_size(self._shape), dtype=np.int64),
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
        if self._t_offset is None:
            self._t_offset = (
                int(events.t[0]) if self._unit == "us" and not self._batched and len(events) else 0
            )
        t = events.t.cpu().numpy()
        if self._t_offset:
            t = t - self._t_offset
        if len(t) and (t.min() < 0 or t.max() > np.iinfo(self._time_dtype).max):
            raise ExportError(
                f"times {int(t.min()) + self._t_offset}..{int(t.max()) + self._t_offset} do not fit "
                f"{self._time_dtype} after t_offset {self._t_offset}; use time_dtype=np.int64 or a lower "
                "t_offset"
            )
        if not self._batched and len(t):
            if self._last_t is not None and t[0] < self._last_t:
                raise TimeOrderError(
                    f"this chunk starts at t = {int(t[0]) + self._t_offset}, before the previous chunk's "
                    f"last event at {self._last_t + self._t_offset}; write chunks in time order"
                )
            self._last_t = int(t[-1])
        columns = {"x": events.x, "y": events.y, "p": events.p}
        if events.c is not None:
            columns["c"] = events.c
        start = self._count
        self._append("t", t.astype(self._time_dtype, copy=False))
        for name, column in columns.items():  # addresses are >= 0 and p is 0/1: same bytes, no copy
            self._append(name, column.cpu().numpy().view(self._file[f"events/{name}"].dtype))
        self._count += len(events)
        offsets = events.offsets.cpu().numpy()
        if self._batched:
            self._append("offsets", offsets[1:] + start, group="")
            self._samples += events.num_samples
        if self._unit == "step":
            rows = _step_index(t, offsets, self._num_steps) + start
            data = self._file["step_to_idx"]
            if self._batched:
                data.resize(len(data) + len(rows), axis=0)
                data[-len(rows) :] = rows
            else:
                self._merge_stream_steps(rows[0], t)
        elif not self._batched:
            self._extend_ms_index(t, start)

    def _append(self, name: str, values: np.ndarray, group: str = "events/") -> None:
        data = self._file[f"{group}{name}"]
        data.resize(len(data) + len(values), axis=0)
        data[len(data) - len(values) :] = values

    def _extend_ms_index(self, t: np.ndarray, start: int) -> None:
        """DSEC's ms_to_idx for the milliseconds now decided: those up to the last time seen."""
        index = self._file["ms_to_idx"]
        if not len(t):
            return
        known = int(t[-1]) // 1000 + 1  # ms * 1000 <= last t: their first event is already written
        if known > len(index):
            ms = np.arange(len(index), known, dtype=np.int64) * 1000
            self._append(
                "ms_to_idx", (np.searchsorted(t, ms, side="left") + start).astype(np.uint64), group=""
            )

    def _merge_stream_steps(self, row: np.ndarray, t: np.ndarray) -> None:
        """One stream in steps: keep a single row; steps after this chunk stay at its end."""
        data = self._file["step_to_idx"]
        if len(data) == 0:
            data.resize(1, axis=0)
            data[0] = row
            return
        current = data[0]
        if len(t):  # steps up to this chunk's first keep their earlier entries
            first = int(t[0])
            current[first + 1 :] = row[first + 1 :]
        data[0] = current

    def _finish(self) -> None:
        """Close the indexes: DSEC's ms_to_idx runs to ceil(duration in ms)."""
        if self._unit == "us" and not self._batched:
            index = self._file["ms_to_idx"]
            last = self._last_t if self._last_t is not None else 0
            wanted = -(-last // 1000) + 1
            if wanted > len(index):
                self._append(
                    "ms_to_idx", np.full(wanted - len(index), self._count, dtype=np.uint64), group=""
                )
        self._file.create_dataset("t_offset", data=np.int64(self._t_offset or 0))
        if not self._batched:
            self._file["offsets"].resize(2, axis=0)
            self._file["offsets"][1] = self._count
            if self._unit == "step" and len(self._file["step_to_idx"]) == 0:
                self._file["step_to_idx"].resize(1, axis=0)
                self._file["step_to_idx"][0] = np.zeros(self._num_steps + 1, np.int64)
        self._file.attrs["samples"] = len(self._file["offsets"]) - 1


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
    """The h5py dataset options that each compression name stands for.

    For datasets of your own beside eventcode's, compressed the same way.

    Examples
    --------
    >>> from exporters import hdf5
    >>> hdf5.filters("gzip")
    {'compression': 'gzip', 'compression_opts': 4, 'shuffle': True}
    """
    if compression is None:
        return {}
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True}
    if compression in ("zstd", "blosc"):
        try:
            import hdf5plugin
        except ImportError:
            raise ExportError(
                f"compression {compression!r} needs the hdf5plugin package: pip install 'eventcode[hdf5]' "
                "(gzip and lzf need nothing more)"
            ) from None
        if compression == "zstd":
            return dict(hdf5plugin.Zstd(clevel=3))
        return dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.BITSHUFFLE))
    raise ExportError(f"compression {compression!r} is not one of None, 'gzip', 'lzf', 'zstd', 'blosc'")


# ---------------------------------------------------------------------- reading
def info(path: str | os.PathLike[str]) -> dict[str, object]:
    """The file's metadata: shape, sensor size, time unit, samples, events, encoding...

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> hdf5.write(path, Events(t=[5], x=[0], y=[0], p=[1], sensor_size=(2, 2)), encoding={"code": "none"})
    >>> meta = hdf5.info(path)
    >>> meta["sensor_size"], meta["events"], meta["encoding"]
    ((2, 2, 2), 1, {'code': 'none'})
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
        return reader.events(reader.samples(sample), t_start, t_end)


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Iterator[Events]:
    """Read a file in pieces of about ``chunk_events`` events, in constant memory.

    A one-stream file comes as consecutive stretches of time; a batched file as groups of whole
    samples.

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
        if reader.batched:
            bounds = reader.offsets
            first = 0
            for b in range(1, len(bounds)):
                if b == len(bounds) - 1 or bounds[b + 1] - bounds[first] > chunk_events:
                    yield reader.events(range(first, b), t_start, t_end)
                    first = b
            return
        ((lo, hi),) = reader.windows(range(1), t_start, t_end)
        for start in range(lo, hi, chunk_events):
            yield reader.slice(start, min(start + chunk_events, hi))


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


def _metadata(file: h5py.File, path: Path) -> dict[str, object]:
    reader = _Reader(file, path)
    return {
        "format": _text(file, "format", "DSEC"),
        "shape": reader.shape,
        "sensor_size": address.sensor_size(reader.shape),
        "time_unit": reader.unit,
        "num_steps": reader.num_steps,
        "dt_us": int(file.attrs["dt_us"]) if "dt_us" in file.attrs else None,
        "samples": len(reader.offsets) - 1,
        "events": int(reader.offsets[-1]),
        "compression": _text(file, "compression", str(file["events/t"].compression or "none")),
        "encoding": json.loads(_text(file, "encoding", "{}")),
        "eventcode_version": _text(file, "eventcode_version", None),
    }


class _Reader:
    """Checked access to the datasets of one open file."""

    def __init__(self, file: h5py.File, path: Path) -> None:
        self.file, self.path = file, path
        self.columns = {}
        for name in ("x", "y", "t", "p"):
            self.columns[name] = self._dataset(f"events/{name}")
        if "events/c" in file:
            self.columns["c"] = self._dataset("events/c")
        lengths = {name: len(data) for name, data in self.columns.items()}
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
                        int(self.columns["y"][()].max(initial=0)) + 1,
                        int(self.columns["x"][()].max(initial=0)) + 1,
                    )
                )
        except Exception as err:
            self.fail("/", f"no usable sample shape ({err})")
        if ("c" in self.columns) != (address.channels(self.shape) > 1):
            self.fail("events/c", f"present exactly when the shape {self.shape} has several channels")

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
                times = self.columns["t"][first:last].astype(np.int64)
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

    def events(self, samples: range, t_start: int | None, t_end: int | None) -> Events:
        if len(samples) == len(self.offsets) - 1 and t_start is None and t_end is None:
            spans = [(int(self.offsets[0]), int(self.offsets[-1]))]
            counts = np.diff(self.offsets)
        else:
            spans = self.windows(samples, t_start, t_end)
            counts = np.array([hi - lo for lo, hi in spans], dtype=np.int64)
        pieces = [self.columns_of(lo, hi) for lo, hi in spans if hi > lo] or [self.columns_of(0, 0)]
        columns = (
            pieces[0] if len(pieces) == 1 else {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
        )
        return self._checked(columns, counts)

    def slice(self, lo: int, hi: int) -> Events:
        return self._checked(self.columns_of(lo, hi), np.array([hi - lo]))

    def columns_of(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """Columns of events ``lo:hi`` in eventcode's dtypes, read straight into them."""
        out = {}
        for name, data in self.columns.items():
            if name == "t":
                values = data[lo:hi].astype(np.int64, copy=False)
                out[name] = values + self.t_offset if self.t_offset else values
            elif name == "p":
                out[name] = (
                    data[lo:hi].astype(bool, copy=False) if data.dtype != np.uint8 else data[lo:hi].view(bool)
                )
            else:
                values = data[lo:hi]
                out[name] = (
                    values.view(np.int16)
                    if values.dtype in (np.uint16, np.int16)
                    else values.astype(np.int16)
                )
        return out

    def _checked(self, columns: dict[str, np.ndarray], counts: np.ndarray) -> Events:
        """Events from columns after cheap checks: addresses within the shape, time order per sample."""
        if "p" in columns and len(columns["p"]) and columns["p"].view(np.uint8).max() > 1:
            self.fail("events/p", "holds values other than 0 and 1")
        extents = {
            "x": address.width(self.shape),
            "y": address.height(self.shape),
            "c": address.channels(self.shape),
        }
        for name, column in columns.items():
            if name in extents and len(column) and (column.min() < 0 or column.max() >= extents[name]):
                self.fail(
                    f"events/{name}", f"holds addresses outside [0, {extents[name]}) of shape {self.shape}"
                )
        offsets = np.concatenate([[0], np.cumsum(counts)])
        t = columns["t"]
        backwards = t[1:] < t[:-1]
        if len(t) > 1 and backwards.any():
            backwards[offsets[1:-1][(offsets[1:-1] > 0) & (offsets[1:-1] < len(t))] - 1] = False
            if backwards.any():
                self.fail(
                    "events/t",
                    f"time goes backwards at event {int(np.argmax(backwards)) + 1} within a sample",
                )
        if self.unit == "step" and len(t) and (t.min() < 0 or t.max() >= self.num_steps):
            self.fail("events/t", f"steps outside [0, {self.num_steps})")
        tensors = {name: torch.from_numpy(column) for name, column in columns.items()}
        return Events._trusted(
            tensors["t"],
            tensors["x"],
            tensors["y"],
            tensors["p"],
            tensors.get("c"),
            torch.from_numpy(offsets.astype(np.int64)),
            self.shape,
            self.num_steps if self.unit == "step" else None,
            self.unit,
        )
