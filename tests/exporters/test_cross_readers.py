"""The cross-reader matrix (issue 19): every writer x every installed peer reader, bit-exact.

One parametrized test, :func:`test_peer_reads_what_eventcode_writes`, whose cases are generated
here from the format registry (:func:`exporters.formats`) and two small tables:

- :data:`WRITERS`: how eventcode writes each registered format (its sensor, the options of a
  variant such as EVT 2.0 / 3.0, whether it records step time); a registered format is either
  written here or named in :data:`NOT_WRITTEN` with the reason, or collection fails;
- :data:`CELLS`: each (writer, peer reader) pair: the peer's reading function, the times it reads
  exactly (``limit_us``) and, for a pair the peer should read but does not, a strict expected
  failure naming whose bug it is.

A case is (writer, peer, compression, time kind, samples): every compression of the format's
``COMPRESSIONS``, microsecond and step time, one sample and a batch of three. For a format that
is not ``BATCHED`` the batch is one file per sample (a ``{}`` placeholder), each read by the
peer. Combinations that cannot be are not generated (never skipped): a peer that is not installed,
a compression the writer needs a missing plugin for, step time in a format that cannot record it;
:data:`EXCLUDED` lists them with the reason, and ``python tests/exporters/test_cross_readers.py``
prints the grid and those reasons (the table of ``docs/reliability.md``).

Each case writes a deterministic stream: the four sensor corners with both polarities at one time
(equal timestamps), random events, and times reaching ``limit_us - 1``: large times at the edge
of what the peer reads, past the format's wraps where the peer counts them. The peer's columns
must equal ours bit for bit after the conversion the format defines: step ``k`` at ``t0_us + k *
dt_us`` us as the file's header records it (NIR: ``(k + 1) * dt_us``; HDF5 keeps steps, with
``dt_us`` and ``t0_us`` as attributes), NIR seconds rounded to microseconds, NIR neuron indices
decoded by the documented mapping (OFF block, then ON, row-major ``(y, x)``).

Run: ``python -m pytest tests/exporters/test_cross_readers.py``.
"""

from __future__ import annotations

import collections
import importlib.util
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

import exporters
from eventcode import Events

Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""One sample's ``t`` (microseconds), ``x``, ``y``, ``p`` (0/1), each int64."""

Reader = Callable[[Path, tuple[int, int]], list[Columns]]
"""A peer reading one file (of a sensor ``(W, H)``): the columns of each sample in it."""

TimeKind = Literal["us", "step"]

STEPS = 40
"""Steps of a step-time stream (every one holds events)."""

BATCH = 3
"""Samples of a batch."""

CLUSTER_US = 20_000
"""Microsecond streams: random events in the first and the last 20 ms (across 4096 us steps)."""

WRAPS = "past the wraps it counts"


# ---------------------------------------------------------------------------------------- writers
@dataclass(frozen=True)
class Writer:
    """One way eventcode writes a registered format (a row of the matrix)."""

    name: str
    format: str
    sensor: tuple[int, int]
    options: tuple[tuple[str, object], ...] = ()
    steps: str | None = None
    """Why the format cannot record step time (None: it can)."""
    step_offset: int = 0
    """Step ``k`` is at ``t0_us + (k + step_offset) * dt_us`` microseconds."""
    takes_t0: bool = True
    gap_us: int | None = None
    """The widest gap between consecutive events the stream may have (None: any)."""
    span_us: int | None = None
    """The time a microsecond stream spans, ending at the limit (None: it starts at 0)."""


WRITERS = (
    Writer("aedat4", "aedat4", (32767, 32767)),
    # one microsecond stream's ms_to_idx has an entry per millisecond: 10 s of it
    Writer("hdf5", "hdf5", (65536, 65536), span_us=10_000_000),
    Writer("nir", "nir", (346, 260), step_offset=1, takes_t0=False),
    # Tonic decodes DAVIS346 words only (read_davis_346); writers refuse gaps of 2^31 us
    Writer("aedat2", "aedat2", (346, 260), (("camera", "DAVIS346"),), gap_us=1 << 30),
    Writer("aedat3", "aedat3", (32768, 32768)),
    Writer("dat", "dat", (16384, 16384), gap_us=1 << 30),
    Writer("evt2", "evt", (2048, 2048), (("version", "2.0"),)),
    Writer("evt3", "evt", (2048, 2048), (("version", "3.0"),)),
    Writer(
        "nmnist",
        "nmnist",
        (256, 240),
        steps="N-MNIST files hold microseconds only (nmnist.write refuses dt_us)",
    ),
)

NOT_WRITTEN = {"es": "eventcode reads Event Stream files but does not write them (es.write raises)"}


# ------------------------------------------------------------------------------------ peer readers
def _columns(t: object, x: object, y: object, p: object) -> Columns:
    return tuple(np.asarray(column).astype(np.int64) for column in (t, x, y, p))  # type: ignore[return-value]


def _aedat(path: Path, size: tuple[int, int]) -> list[Columns]:
    import aedat

    decoder = aedat.Decoder(str(path))
    assert [(s["width"], s["height"]) for s in decoder.id_to_stream().values()] == [size]
    events = np.concatenate([packet["events"] for packet in decoder if "events" in packet])
    return [_columns(events["t"], events["x"], events["y"], events["on"])]


def _dv_processing(path: Path, size: tuple[int, int]) -> list[Columns]:
    import dv_processing as dv

    recording = dv.io.MonoCameraRecording(str(path))
    assert recording.getEventResolution() == size
    parts = []
    while (batch := recording.getNextEventBatch()) is not None:
        parts.append(batch.numpy())
    events = np.concatenate(parts)
    return [_columns(events["timestamp"], events["x"], events["y"], events["polarity"])]


def _faery(path: Path, size: tuple[int, int]) -> list[Columns]:
    import faery

    stream = faery.events_stream_from_file(path)
    assert tuple(stream.dimensions()) == size
    events = np.concatenate([np.zeros(0, faery.EVENTS_DTYPE), *stream])
    return [_columns(events["t"], events["x"], events["y"], events["on"])]


def _tonic_aedat4(path: Path, size: tuple[int, int]) -> list[Columns]:
    import tonic.io

    events = tonic.io.read_aedat4(str(path))
    return [_columns(events["t"], events["x"], events["y"], events["p"])]


def _tonic_aedat3(path: Path, size: tuple[int, int]) -> list[Columns]:
    import tonic.io

    # Tonic parses the header and the packets; its AEDAT 3.1 decoders (read_dvs_red...) unpack
    # two of the header reader's three values (tonic#302), so the words go through their masks here
    version, start, _ = tonic.io.read_aedat_header_from_file(str(path))
    assert version == 3.1
    words = tonic.io.get_aer_events_from_file(str(path), version, start)
    address = words["address"].astype(np.int64)
    return [
        _columns(words["timeStamp"], (address >> 17) & 0x7FFF, (address >> 2) & 0x7FFF, (address >> 1) & 1)
    ]


def _tonic_aedat2(path: Path, size: tuple[int, int]) -> list[Columns]:
    import tonic.io

    shape, _, events = tonic.io.read_davis_346(str(path))
    assert shape == size
    return [_columns(events["t"], events["x"], events["y"], events["p"])]


def _tonic_nmnist(path: Path, size: tuple[int, int]) -> list[Columns]:
    import tonic.io

    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])
    events = tonic.io.read_mnist_file(str(path), dtype)
    return [_columns(events["t"], events["x"], events["y"], events["p"])]


def _expelliarmus(encoding: str) -> Reader:
    def read(path: Path, size: tuple[int, int]) -> list[Columns]:
        import expelliarmus  # type: ignore[import-untyped]

        events = expelliarmus.Wizard(encoding=encoding).read(path)
        return [_columns(events["t"], events["x"], events["y"], events["p"])]

    return read


def _h5py(path: Path, size: tuple[int, int]) -> list[Columns]:
    import h5py

    if importlib.util.find_spec("hdf5plugin"):
        import hdf5plugin  # noqa: F401  (registers the zstd and blosc filters with HDF5)

    with h5py.File(path, "r") as file:
        assert (int(file.attrs["width"]), int(file.attrs["height"])) == size
        t, x, y, p = (file["events"][name][:].astype(np.int64) for name in "txyp")
        t = t + int(file["t_offset"][()])
        if file.attrs["time_unit"] == b"step":  # the file keeps steps: its attributes say where
            t = int(file.attrs["t0_us"]) + t * int(file.attrs["dt_us"])
        offsets = file["offsets"][:]
    return [_columns(*(c[a:b] for c in (t, x, y, p))) for a, b in itertools.pairwise(offsets)]


def _nir(path: Path, size: tuple[int, int]) -> list[Columns]:
    import nir

    data = nir.read_data(str(path)).nodes["input"].observables["spikes"]
    width, height = size
    assert data.n_neurons == 2 * width * height
    out = []
    for idx, seconds in zip(np.asarray(data.idx), np.asarray(data.time), strict=True):
        spike = idx >= 0  # -1 pads the rows to one length
        neuron, t = idx[spike], np.rint(seconds[spike] * 1e6)
        pixel = neuron % (width * height)  # OFF neurons first, then ON: row-major (y, x)
        out.append(_columns(t, pixel % width, pixel // width, neuron // (width * height)))
    return out


@dataclass(frozen=True)
class Cell:
    """A peer reading one writer's files."""

    writer: str
    peer: str
    module: str
    """The import name that must be installed."""
    read: Reader
    limit_us: int
    """Times below this the peer reads exactly (the stream reaches ``limit_us - 1``)."""
    why_limit: str
    xfail: str | None = None


EVT3_EXPELLIARMUS = (
    "expelliarmus' bug: its EVT 3.0 decoder adds 4096 us at every drop of TIME_LOW, counting a "
    "TIME_HIGH step twice (exporters/evt.py; tests/exporters/test_evt.py)"
)

CELLS = (
    *(
        Cell("aedat4", peer, module, read, 1 << 63, "int64 microseconds")
        for peer, module, read in (
            ("dv-processing", "dv_processing", _dv_processing),
            ("aedat", "aedat", _aedat),
            ("faery", "faery", _faery),
            ("tonic", "tonic", _tonic_aedat4),
        )
    ),
    Cell("hdf5", "h5py", "h5py", _h5py, 1 << 63, "int64 microseconds (t_offset + t)"),
    Cell("nir", "nir", "nir", _nir, 1 << 50, "float64 seconds: exact microseconds below 2^50"),
    Cell("aedat2", "tonic", "tonic", _tonic_aedat2, 1 << 32, "Tonic reads the 32-bit stamp, counts no wrap"),
    Cell(
        "aedat3", "tonic", "tonic", _tonic_aedat3, 1 << 31, "Tonic reads the 31-bit stamp, not the overflow"
    ),
    Cell("dat", "faery", "faery", _faery, 1 << 34, WRAPS),
    Cell("dat", "expelliarmus", "expelliarmus", _expelliarmus("dat"), 1 << 34, WRAPS),
    Cell("evt2", "faery", "faery", _faery, 1 << 36, WRAPS),
    Cell(
        "evt2", "expelliarmus", "expelliarmus", _expelliarmus("evt2"), 1 << 34, "34-bit time, no wrap counted"
    ),
    Cell("evt3", "faery", "faery", _faery, 1 << 26, WRAPS),
    Cell(
        "evt3", "expelliarmus", "expelliarmus", _expelliarmus("evt3"), 1 << 26, WRAPS, xfail=EVT3_EXPELLIARMUS
    ),
    Cell("nmnist", "tonic", "tonic", _tonic_nmnist, 1 << 23, "the format's 23-bit time"),
)


# ----------------------------------------------------------------------------------- the cases
@dataclass(frozen=True)
class Case:
    """One write and one peer read of it."""

    writer: Writer
    cell: Cell
    compression: str
    time: TimeKind
    batch: bool

    @property
    def id(self) -> str:
        samples = "batch" if self.batch else "one"
        return f"{self.writer.name}-{self.cell.peer}-{self.compression}-{self.time}-{samples}"


def _compressions(fmt: exporters.Format) -> list[str]:
    """The format's compressions, each once (``COMPRESSIONS`` maps every spelling to one)."""
    return list(dict.fromkeys(fmt.module.COMPRESSIONS.values()))


PLUGINS = {("hdf5", "zstd"): "hdf5plugin", ("hdf5", "blosc"): "hdf5plugin"}
"""Compressions a writer needs a package for."""


def _generate() -> tuple[list[Case], list[tuple[str, str, str]]]:
    """The cases, and the combinations left out as ``(writer, what, why)``."""
    registered = {fmt.name: fmt for fmt in exporters.formats()}
    written = {writer.format for writer in WRITERS}
    unknown = set(registered) - written - set(NOT_WRITTEN)
    if unknown:
        raise RuntimeError(f"registered formats outside the matrix: {sorted(unknown)}; add them to WRITERS")
    cases: list[Case] = []
    excluded = [(name, "all", why) for name, why in NOT_WRITTEN.items()]
    for writer in WRITERS:
        fmt = registered[writer.format]
        if writer.steps:
            excluded.append((writer.name, "step time", writer.steps))
        compressions = []
        for compression in _compressions(fmt):
            plugin = PLUGINS.get((writer.format, compression))
            if plugin and not importlib.util.find_spec(plugin):
                excluded.append((writer.name, f"compression {compression}", f"{plugin} is not installed"))
            else:
                compressions.append(compression)
        for cell in (cell for cell in CELLS if cell.writer == writer.name):
            if not importlib.util.find_spec(cell.module):
                excluded.append((writer.name, cell.peer, f"{cell.module} is not installed"))
                continue
            times: tuple[TimeKind, ...] = ("us",) if writer.steps else ("us", "step")
            for compression in compressions:
                for time in times:
                    for batch in (False, True):
                        cases.append(Case(writer, cell, compression, time, batch))
    return cases, excluded


CASES, EXCLUDED = _generate()


# ----------------------------------------------------------------------------------- the streams
def _sample(writer: Writer, limit: int, time: TimeKind, seed: int) -> tuple[list[int], ...]:
    """One sample's ``t`` (microseconds or steps), ``x``, ``y``, ``p``, sorted by time."""
    width, height = writer.sensor
    rng = np.random.default_rng(seed)
    corners = [(0, 0, 1), (width - 1, height - 1, 0), (width - 1, 0, 1), (0, height - 1, 0)]
    rows: list[tuple[int, int, int, int]] = []

    def scatter(times: Iterable[int]) -> None:
        rows.extend(
            (t, int(rng.integers(width)), int(rng.integers(height)), int(rng.integers(2))) for t in times
        )

    if time == "step":
        for k in range(STEPS):
            if k in (0, STEPS - 1):
                rows.extend((k, x, y, p) for x, y, p in corners)
            scatter([k] * int(rng.integers(1, 3)))
    else:
        first = 0 if writer.span_us is None else limit - writer.span_us
        last = limit - 1
        # the corners first: (0, 0) starts no AEDAT 2.0 record with "#", which Tonic takes for a header line
        rows.extend((first, x, y, p) for x, y, p in corners)
        scatter(sorted(first + d for d in rng.integers(0, CLUSTER_US, 10 + 4 * seed).tolist()))
        if writer.gap_us is not None:
            scatter(range(first + writer.gap_us, last - CLUSTER_US, writer.gap_us))
        scatter(sorted(last - d for d in rng.integers(1, CLUSTER_US, 10 + 4 * seed).tolist()))
        rows.extend((last, x, y, p) for x, y, p in corners)
    rows.sort(key=lambda row: row[0])  # stable: equal times keep their order
    return tuple(list(column) for column in zip(*rows, strict=True))


def _step_time(writer: Writer, limit: int) -> tuple[int, int]:
    """``(dt_us, t0_us)`` of a step-time stream whose last step lands at ``limit - 1`` or just below."""
    last_step = STEPS - 1 + writer.step_offset
    dt = (limit - 1) // last_step
    if writer.gap_us is not None:
        dt = min(dt, writer.gap_us)
    t0 = limit - 1 - last_step * dt if writer.takes_t0 else 0
    return dt, t0


def _stream(case: Case) -> tuple[Events, dict[str, object]]:
    """The events of a case and the options that write them."""
    writer, limit = case.writer, case.cell.limit_us
    samples = [_sample(writer, limit, case.time, seed) for seed in range(BATCH if case.batch else 1)]
    columns = [[value for s in samples for value in s[i]] for i in range(4)]
    offsets = np.cumsum([0, *(len(s[0]) for s in samples)]).tolist()
    options: dict[str, object] = {"compression": case.compression, **dict(writer.options)}
    kind: dict[str, object] = {"sensor_size": writer.sensor}
    if case.time == "step":
        kind["num_steps"] = STEPS
        options["dt_us"], t0 = _step_time(writer, limit)
        if writer.takes_t0:
            options["t0_us"] = t0
    events = Events(*columns, offsets=offsets, **kind)  # type: ignore[arg-type]
    return events, options


def _expected(events: Events, case: Case, options: dict[str, object]) -> list[Columns]:
    """Each sample's columns in microseconds, as the format defines step time."""
    out = []
    for b in range(events.num_samples):
        sample = events[b]
        t = sample.t.numpy().astype(np.int64)
        if case.time == "step":
            dt, t0 = int(options["dt_us"]), int(options.get("t0_us", 0))  # type: ignore[call-overload]
            t = t0 + (t + case.writer.step_offset) * dt
        out.append(_columns(t, sample.x.numpy(), sample.y.numpy(), sample.p.numpy()))
    return out


# ------------------------------------------------------------------------------------- the test
def _marks(case: Case) -> list[pytest.MarkDecorator]:
    return [pytest.mark.xfail(strict=True, reason=case.cell.xfail)] if case.cell.xfail else []


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id, marks=_marks(case)) for case in CASES])
def test_peer_reads_what_eventcode_writes(tmp_path: Path, case: Case) -> None:
    events, options = _stream(case)
    fmt = exporters.for_writing("x", format=case.writer.format)
    suffix = fmt.suffixes[0]
    if case.batch and not fmt.batched:  # one file per sample
        exporters.write(tmp_path / f"sample_{{}}{suffix}", events, format=fmt.name, **options)
        files = [tmp_path / f"sample_{b}{suffix}" for b in range(events.num_samples)]
    else:
        files = [tmp_path / f"stream{suffix}"]
        exporters.write(files[0], events, format=fmt.name, **options)
    got = [sample for path in files for sample in case.cell.read(path, case.writer.sensor)]
    expected = _expected(events, case, options)
    assert len(got) == len(expected), f"{case.cell.peer} read {len(got)} samples of {len(expected)}"
    for b, (theirs, ours) in enumerate(zip(got, expected, strict=True)):
        for name, a, e in zip("txyp", theirs, ours, strict=True):
            assert len(a) == len(e), f"sample {b}: {case.cell.peer} read {len(a)} events of {len(e)}"
            wrong = np.flatnonzero(a != e)
            assert not len(wrong), (
                f"sample {b}, column {name}: {len(wrong)} of {len(e)} differ, first at event {wrong[0]}: "
                f"{case.cell.peer} {a[wrong[0]]}, eventcode {e[wrong[0]]}"
            )


# ----------------------------------------------------------------------------------- the table
def _grid() -> str:
    """The matrix as markdown: the cases of each (writer, peer), then what is left out and why."""
    counts: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for case in CASES:
        counted = counts[case.writer.name, case.cell.peer]
        counted["cases"] += 1
        counted[f"c:{case.compression}"] += 1
        counted[f"t:{case.time}"] += 1
    lines = [
        "| writer | peer | cases | compressions | time | limit | expected failure |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in CELLS:
        found = counts.get((cell.writer, cell.peer))
        if not found:
            continue
        compressions = ", ".join(key[2:] for key in found if key.startswith("c:"))
        times = ", ".join(key[2:] for key in found if key.startswith("t:"))
        limit = f"t < 2^{cell.limit_us.bit_length() - 1} us ({cell.why_limit})"
        lines.append(
            f"| {cell.writer} | {cell.peer} | {found['cases']} | {compressions} | {times} | {limit} | "
            f"{cell.xfail or ''} |"
        )
    lines += ["", f"{len(CASES)} cases. Left out:", ""]
    lines += [f"- {writer}, {what}: {why}" for writer, what, why in EXCLUDED]
    return "\n".join(lines)


if __name__ == "__main__":
    print(_grid())
