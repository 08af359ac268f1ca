"""Tests of exporters/hdf5.py: layouts, round trips, partial reads, bad files, atomic writes."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import tonic_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventcode
import exporters
from eventcode import Events
from eventcode.errors import (
    AllocationError,
    DependencyError,
    ExportError,
    FileFormatError,
    OptionError,
    PolarityError,
    SampleIndexError,
    TimeOrderError,
)
from eventcode.tonic import from_tonic
from exporters import hdf5
from exporters.contract import HEAD_BYTES, FileInfo, Stream

COMPRESSIONS = [None, "gzip", "lzf", "zstd", "blosc"]


def stream(
    n: int, seed: int = 0, size: tuple[int, int] = (346, 260), t0: int = 1_700_000_000_000_000
) -> Events:
    rng = np.random.default_rng(seed)
    t = t0 + np.concatenate([[0], np.cumsum(rng.integers(0, 40, max(n - 1, 0)))])[:n]
    return Events(
        t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.random(n) < 0.5, sensor_size=size
    )


def digits(batch: int, seed: int = 0, channels: int = 1) -> Events:
    images = torch.rand(batch, channels, 12, 10, generator=torch.Generator().manual_seed(seed))
    return eventcode.rate(images, num_steps=20, generator=torch.Generator().manual_seed(seed + 1))


@st.composite
def batches(draw: st.DrawFn) -> Events:
    kind = draw(st.sampled_from(["stream", "steps", "channels", "audio", "us batch"]))
    seed = draw(st.integers(0, 2**16))
    if kind == "stream":
        return stream(draw(st.sampled_from([0, 1, 5, 3000])), seed)
    if kind == "steps":
        return digits(draw(st.integers(1, 5)), seed)
    if kind == "channels":
        return digits(draw(st.integers(1, 3)), seed, channels=2)
    if kind == "audio":
        return eventcode.latency(torch.rand(draw(st.integers(1, 3)), 700), num_steps=30, normalize=True)
    return Events.cat([stream(draw(st.integers(0, 50)), seed + b, size=(20, 10), t0=b * 7) for b in range(3)])


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches(), st.sampled_from(COMPRESSIONS))
def test_round_trip(tmp_path: Path, events: Events, compression: str | None) -> None:
    path = tmp_path / "round.h5"
    hdf5.write(path, events, compression=compression, dt_us=1000 if events.time_unit == "step" else None)
    assert hdf5.read(path) == events
    for b in range(events.num_samples):
        assert hdf5.read(path, sample=b) == events[b]
    assert sum(len(chunk) for chunk in hdf5.read_chunks(path, chunk_events=700)) == len(events)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tonic_arrays(), st.booleans())
def test_every_kind_of_tonic_sensor_round_trips(tmp_path: Path, case: tuple, batched: bool) -> None:
    events = from_tonic(*case)  # 1 or 2 polarities, no p, no y (audio up to 70,000 wide), empty
    if batched:
        events = Events.cat([events, events.time_slice(0, 500_000)])
    path = tmp_path / "sensor.h5"
    hdf5.write(path, events)
    back = hdf5.read(path)
    assert back == events  # values, column dtypes (int32 beyond 32,768), polarities, shape
    assert hdf5.info(path).sensor_size == events.sensor_size
    assert hdf5.info(path).polarities == events.polarities


def test_addresses_wider_than_int16_and_uint16(tmp_path: Path) -> None:
    for width, stored, column in ((32_768, "uint16", torch.int16), (65_536, "uint16", torch.int32)):
        events = Events(t=[0, 1], x=[0, width - 1], y=[0, 0], p=[1, 0], shape=(width,))
        hdf5.write(tmp_path / "wide.h5", events)
        assert hdf5.info(tmp_path / "wide.h5").extras["dtypes"]["x"] == stored
        assert (hdf5.read(tmp_path / "wide.h5"), events.x.dtype) == (events, column)
    events = Events(t=[0, 1], x=[0, 69_999], y=[0, 1], p=[1, 0], shape=(2, 70_000))
    hdf5.write(tmp_path / "wide.h5", events)
    assert hdf5.info(tmp_path / "wide.h5").extras["dtypes"]["x"] == "uint32"
    assert hdf5.read(tmp_path / "wide.h5").x.tolist() == [0, 69_999]


def test_a_writer_takes_only_events_of_its_polarities(tmp_path: Path) -> None:
    with pytest.raises(PolarityError, match="P = 3"):
        hdf5.Writer(tmp_path / "three.h5", sensor_size=(4, 4, 3))
    one = Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(2, 1, 1))
    with hdf5.Writer(tmp_path / "one.h5", sensor_size=(2, 1, 1)) as writer:
        writer.write(one)
        with pytest.raises(ExportError, match="polarities=2 do not fit this file's sensor of polarities=1"):
            writer.write(Events(t=[3], x=[0], y=[0], p=[0], sensor_size=(2, 1)))
    assert hdf5.read(tmp_path / "one.h5") == one


def pieces_of(events: Events, cuts: list[int]) -> list[Events]:
    """Consecutive parts of ``events``: groups of samples of a batch, stretches of time of one sample."""
    if events.num_samples > 1:
        bounds = sorted({0, events.num_samples, *(c % events.num_samples for c in cuts)})
        return [events[a:b] for a, b in itertools.pairwise(bounds)]
    if not len(events):
        return [events]
    first, end = int(events.t[0]), int(events.t[-1]) + 1
    bounds = sorted({first, end, *(first + c % (end - first) for c in cuts)})
    return [events.time_slice(a, b) for a, b in itertools.pairwise(bounds)]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches(),
    st.sampled_from(COMPRESSIONS),
    st.sampled_from([1, 7, 300, hdf5.CHUNK_EVENTS]),
    st.lists(st.integers(0, 10**9), max_size=4),
)
def test_writer_round_trip(
    tmp_path: Path, events: Events, compression: str | None, chunk: int, cuts: list[int]
) -> None:
    path = tmp_path / "pieces.h5"
    with hdf5.Writer(
        path,
        shape=events.shape,
        compression=compression,
        batched=events.num_samples > 1,
        num_steps=events.num_steps,
        chunk_events=chunk,
    ) as writer:
        for piece in pieces_of(events, cuts):
            writer.write(piece)
    assert hdf5.read(path) == events
    with h5py.File(path, "r") as file:  # chunks follow the data: one chunk's worth, or all of a smaller file
        rows = min(chunk, max(len(events), 1))
        assert file["events/x"].chunks == (rows + -rows % 8,)  # whole blocks of 8 for blosc's bit shuffle


def test_metadata_comes_back(tmp_path: Path) -> None:
    events = digits(3)
    path = tmp_path / "meta.h5"
    hdf5.write(
        path, events, compression="gzip", dt_us=1000, t0_us=-7, encoding={"code": "rate", "num_steps": 20}
    )
    meta = hdf5.info(path)
    assert isinstance(meta, FileInfo)
    assert (meta.path, meta.format, meta.compression) == (path, "hdf5", "gzip")
    assert meta.shape == (1, 12, 10)
    assert meta.sensor_size == (10, 12, 2)
    assert (meta.time_unit, meta.num_steps, meta.dt_us) == ("step", 20, 1000)
    assert (meta.samples, meta.events, meta.polarities) == (3, len(events), 2)
    assert (meta.first, meta.last) == (int(events.t.min()), int(events.t.max()))
    assert meta.extras["encoding"] == {"code": "rate", "num_steps": 20}
    assert meta.extras["eventcode_version"] == eventcode.__version__
    assert meta.extras["layout"] == "eventcode-hdf5"
    assert meta.extras["t0_us"] == -7  # the microsecond time of step 0, as AEDAT 4.0 records it
    assert "t_offset" not in meta.extras
    (events_stream,) = meta.streams
    assert events_stream == Stream(0, "EVTS", "events", (10, 12), 1, len(events), meta.first, meta.last)
    with pytest.raises(ExportError, match="JSON"):
        hdf5.write(path, events, encoding={"generator": torch.Generator()})


# ---------------------------------------------------------------------- DSEC layout
def test_one_stream_is_a_dsec_file(tmp_path: Path) -> None:
    events = stream(20_000, seed=3)
    path = tmp_path / "dsec.h5"
    hdf5.write(path, events, compression="gzip")
    with h5py.File(path, "r") as file:  # plain h5py, no plugin: the documented schema
        t, x, y, p = (file[f"events/{k}"][()] for k in "txyp")
        assert (t.dtype, x.dtype, y.dtype, p.dtype) == (np.uint32, np.uint16, np.uint16, np.uint8)
        t_offset = int(file["t_offset"][()])
        ms_to_idx = file["ms_to_idx"][()]
        assert (file.attrs["width"], file.attrs["height"]) == (346, 260)
    assert t_offset == int(events.t[0])
    assert np.array_equal(t.astype(np.int64) + t_offset, events.t.numpy())
    assert np.array_equal(p.astype(bool), events.p.numpy())
    duration = int(t[-1])
    assert len(ms_to_idx) == -(-duration // 1000) + 1
    expected = np.searchsorted(t, np.arange(len(ms_to_idx)) * 1000, side="left")
    assert np.array_equal(ms_to_idx, expected)  # DSEC: first event with t >= 1000 * ms


@pytest.mark.parametrize(("time_dtype", "address_dtype"), [(np.uint32, np.uint16), (np.int64, np.int16)])
def test_dsec_files_without_our_attributes_read(
    tmp_path: Path, time_dtype: type, address_dtype: type
) -> None:
    path = tmp_path / "foreign.h5"
    t = np.array([0, 400, 1200, 5000], time_dtype)
    # as DSEC ships them (uint32 t), and as eventcode 0.1 wrote them (int64 t), without attributes
    with h5py.File(path, "w") as file:
        for name, values in (("t", t), ("x", [5, 6, 7, 8]), ("y", [1, 2, 3, 4]), ("p", [1, 0, 1, 1])):
            file[f"events/{name}"] = np.asarray(values, dtype=t.dtype if name == "t" else address_dtype)
        file["ms_to_idx"] = np.searchsorted(t, np.arange(6) * 1000).astype(np.uint64)
        file["t_offset"] = np.int64(10**12)
    events = hdf5.read(path)
    assert events.t.tolist() == [10**12, 10**12 + 400, 10**12 + 1200, 10**12 + 5000]
    assert events.sensor_size == (9, 5, 2)  # the smallest sensor holding the events
    assert hdf5.read(path, t_start=10**12 + 1000, t_end=10**12 + 5000).t.tolist() == [10**12 + 1200]


# ---------------------------------------------------------------------- partial reads
class ReadCounter:
    """Counts the elements read per dataset: handed back by h5py (indexing or ``read_direct``) or
    read from the file at a contiguous column's offset (``_Reader._raw_read``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.elements: dict[str, int] = {}
        original, direct = h5py.Dataset.__getitem__, h5py.Dataset.read_direct
        raw = hdf5._Reader._raw_read

        def counting_raw(reader: hdf5._Reader, name: str, values: np.ndarray, place: int) -> bool:
            done = raw(reader, name, values, place)
            key = reader.datasets[name].name
            self.elements[key] = self.elements.get(key, 0) + len(values)
            return done

        def counting(dataset: h5py.Dataset, key: object) -> object:
            value = original(dataset, key)
            self.elements[dataset.name] = self.elements.get(dataset.name, 0) + int(np.size(value))
            return value

        def counting_direct(
            dataset: h5py.Dataset, dest: np.ndarray, source_sel: slice, dest_sel: object = None
        ) -> None:
            direct(dataset, dest, source_sel, dest_sel)
            size = len(range(*source_sel.indices(len(dataset))))
            self.elements[dataset.name] = self.elements.get(dataset.name, 0) + size

        monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
        monkeypatch.setattr(h5py.Dataset, "read_direct", counting_direct)
        monkeypatch.setattr(hdf5._Reader, "_raw_read", counting_raw)


def test_time_windows_read_only_their_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = stream(200_000, seed=5)
    path = tmp_path / "window.h5"
    hdf5.write(path, events)
    t0, t1 = int(events.t[100_000]), int(events.t[100_000]) + 20_000  # 20 ms of a 4 s stream
    expected = events.time_slice(t0, t1)
    counter = ReadCounter(monkeypatch)
    assert hdf5.read(path, t_start=t0, t_end=t1) == expected
    assert counter.elements["/events/x"] == len(expected)
    assert counter.elements["/events/t"] < len(expected) + 3 * 1000  # the window plus a ms either side
    assert counter.elements["/ms_to_idx"] <= 4


def test_one_sample_of_a_batch_reads_only_that_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = digits(40, seed=2)
    path = tmp_path / "batch.h5"
    hdf5.write(path, events, compression="lzf")
    counter = ReadCounter(monkeypatch)
    window = events[17].time_slice(5, 9)
    assert hdf5.read(path, sample=17, t_start=5, t_end=9) == window
    assert counter.elements["/events/x"] == len(window)
    # step_to_idx is exact: the window, and its two entries checked against the events around them
    assert counter.elements["/events/t"] <= 2 * len(window) + 4
    assert counter.elements["/step_to_idx"] == 2
    assert hdf5.read(path, sample=-1) == events[39]
    with pytest.raises(SampleIndexError, match="sample 40 is out of range for the 40 sample"):
        hdf5.read(path, sample=40)


def test_chunks_of_a_stream_and_of_a_batch(tmp_path: Path) -> None:
    events = stream(10_000, seed=1)
    hdf5.write(tmp_path / "s.h5", events)
    chunks = list(hdf5.read_chunks(tmp_path / "s.h5", chunk_events=3000))
    assert [len(c) for c in chunks] == [3000, 3000, 3000, 1000]
    assert torch.equal(torch.cat([c.t for c in chunks]), events.t)
    batch = digits(10, seed=4)
    hdf5.write(tmp_path / "b.h5", batch)
    parts = list(hdf5.read_chunks(tmp_path / "b.h5", chunk_events=len(batch) // 3))
    assert Events.cat(parts) == batch


# ---------------------------------------------------------------------- writer
def test_writer_appends_a_stream_with_a_valid_index(tmp_path: Path) -> None:
    events = stream(50_000, seed=6)
    hdf5.write(tmp_path / "whole.h5", events, compression="gzip")
    with hdf5.Writer(tmp_path / "parts.h5", sensor_size=(346, 260), compression="gzip") as writer:
        for start in range(0, len(events), 7_001):
            piece = (getattr(events, k)[start : start + 7_001] for k in "txyp")
            writer.write(Events(*piece, sensor_size=(346, 260)))
    assert hdf5.read(tmp_path / "parts.h5") == events
    with h5py.File(tmp_path / "whole.h5") as a, h5py.File(tmp_path / "parts.h5") as b:
        assert np.array_equal(a["ms_to_idx"][()], b["ms_to_idx"][()])
        assert int(a["t_offset"][()]) == int(b["t_offset"][()])


def test_writer_appends_a_step_stream_and_batches(tmp_path: Path) -> None:
    one = digits(1, seed=7)
    with hdf5.Writer(tmp_path / "steps.h5", shape=one.shape, num_steps=20) as writer:
        for t0 in range(0, 20, 3):
            writer.write(one.time_slice(t0, t0 + 3))
    assert hdf5.read(tmp_path / "steps.h5") == one
    assert hdf5.read(tmp_path / "steps.h5", t_start=4, t_end=11) == one.time_slice(4, 11)
    batch = digits(12, seed=8)
    with hdf5.Writer(tmp_path / "batch.h5", shape=batch.shape, batched=True, num_steps=20) as writer:
        for b in range(0, 12, 5):
            writer.write(batch[b : b + 5])
    assert hdf5.read(tmp_path / "batch.h5") == batch
    assert hdf5.read(tmp_path / "batch.h5", sample=6, t_start=2) == batch[6].time_slice(2, None)


def test_writer_refuses_what_does_not_fit(tmp_path: Path) -> None:
    with hdf5.Writer(tmp_path / "a.h5", sensor_size=(4, 4)) as writer:
        writer.write(Events(t=[5, 9], x=[0, 1], y=[0, 1], p=[1, 1], sensor_size=(4, 4)))
        with pytest.raises(TimeOrderError, match="before the previous chunk"):
            writer.write(Events(t=[7], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
        with pytest.raises(ExportError, match="shape"):
            writer.write(Events(t=[10], x=[0], y=[0], p=[1], sensor_size=(5, 4)))
        with pytest.raises(ExportError, match="'us' time"):
            writer.write(Events.from_dense(torch.ones(2, 1, 4, 4)))
        with pytest.raises(ExportError, match="batched=True"):
            writer.write(Events.cat([Events(t=[11], x=[0], y=[0], p=[1], sensor_size=(4, 4))] * 2))
    assert len(hdf5.read(tmp_path / "a.h5")) == 2
    with pytest.raises(OptionError, match="t_offset=3 given for step time"):
        hdf5.Writer(tmp_path / "b.h5", shape=(1, 4, 4), num_steps=5, t_offset=3)
    one = digits(1, seed=3)
    with hdf5.Writer(tmp_path / "steps.h5", shape=one.shape, num_steps=20) as writer:
        writer.write(one.time_slice(10, 20))
        with pytest.raises(
            TimeOrderError, match=r"starts at t = \d, before the previous chunk's last event at 1\d"
        ):
            writer.write(one.time_slice(0, 10))


def fail_midway(path: Path) -> None:
    with hdf5.Writer(path, sensor_size=(4, 4)) as writer:
        writer.write(Events(t=[1], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
        raise RuntimeError("boom")


def test_failures_leave_no_file_and_keep_an_old_one(tmp_path: Path) -> None:
    path = tmp_path / "a.h5"
    with pytest.raises(RuntimeError, match="boom"):
        fail_midway(path)
    assert not path.exists()
    hdf5.write(path, stream(10))
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        fail_midway(path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
    with pytest.raises(ExportError, match="exists"):
        hdf5.write(path, stream(10), overwrite=False)


def test_missing_plugin_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hdf5plugin", None)  # import hdf5plugin now fails
    with pytest.raises(DependencyError, match=r"pip install 'eventcode\[hdf5\]'"):
        hdf5.write(tmp_path / "a.h5", stream(10), compression="zstd")
    hdf5.write(tmp_path / "a.h5", stream(10), compression="lzf")  # no plugin needed
    with pytest.raises(ExportError, match="'brotli'; choose one of: none, gzip, lzf, zstd, blosc"):
        hdf5.write(tmp_path / "a.h5", stream(10), compression="brotli")


def test_dispatch_by_suffix(tmp_path: Path) -> None:
    events = digits(2)
    exporters.write(tmp_path / "a.hdf5", events, compression="blosc")
    assert exporters.read(tmp_path / "a.hdf5", sample=1) == events[1]
    assert exporters.for_reading(tmp_path / "a.hdf5").name == "hdf5"
    exporters.aedat4.write(tmp_path / "old.h5", stream(10))  # an AEDAT 4.0 file under an HDF5 name
    exporters.write(tmp_path / "old.h5", events)  # written by suffix, never by the old file's bytes
    assert exporters.read(tmp_path / "old.h5") == events
    assert exporters.info(tmp_path / "old.h5") == hdf5.info(tmp_path / "old.h5")


# ---------------------------------------------------------------------- storage: sizes, dtypes, filters
@pytest.mark.parametrize("compression", [None, "gzip"])
def test_small_files_are_small(tmp_path: Path, compression: str | None) -> None:
    one, batch = stream(599, seed=3), digits(3, seed=3)
    hdf5.write(tmp_path / "write.h5", one, compression=compression)
    with hdf5.Writer(tmp_path / "stream.h5", shape=one.shape, compression=compression) as writer:
        for piece in pieces_of(one, [4_000, 11_000]):
            writer.write(piece)
    with hdf5.Writer(
        tmp_path / "batch.h5", shape=batch.shape, compression=compression, batched=True, num_steps=20
    ) as writer:
        writer.write(batch[:2])
        writer.write(batch[2:])
    for name, events in (("write.h5", one), ("stream.h5", one), ("batch.h5", batch)):
        assert hdf5.read(tmp_path / name) == events
        assert (tmp_path / name).stat().st_size < 50_000, name  # a few kB of events, not whole empty chunks


DTYPE_CASES = {  # the smallest unsigned integer holding num_steps - 1, width - 1, height - 1, channels - 1
    "steps, 20": (
        lambda: digits(2, seed=1, channels=2),
        {"t": "uint8", "x": "uint8", "y": "uint8", "c": "uint8"},
    ),
    "steps, 256": (
        lambda: eventcode.latency(torch.rand(2, 700), num_steps=256, normalize=True),
        {"t": "uint8", "x": "uint16", "y": "uint8"},
    ),
    "steps, 257": (
        lambda: eventcode.latency(torch.rand(2, 300), num_steps=257, normalize=True),
        {"t": "uint16", "x": "uint16", "y": "uint8"},
    ),
    "us, 346 x 260": (lambda: stream(3000, seed=2), {"t": "uint32", "x": "uint16", "y": "uint16"}),
    "us, 256 x 256": (
        lambda: stream(3000, seed=2, size=(256, 256)),
        {"t": "uint32", "x": "uint8", "y": "uint8"},
    ),
    "us, 257 x 8": (
        lambda: stream(3000, seed=2, size=(257, 8)),
        {"t": "uint32", "x": "uint16", "y": "uint8"},
    ),
}


@pytest.mark.parametrize("case", list(DTYPE_CASES))
def test_columns_have_the_narrowest_exact_dtypes(tmp_path: Path, case: str) -> None:
    make, expected = DTYPE_CASES[case]
    events = make()
    hdf5.write(tmp_path / "write.h5", events)
    with hdf5.Writer(
        tmp_path / "writer.h5", shape=events.shape, batched=events.num_samples > 1, num_steps=events.num_steps
    ) as writer:
        writer.write(events)
    for name in ("write.h5", "writer.h5"):
        with h5py.File(tmp_path / name, "r") as file:
            stored = {column: str(data.dtype) for column, data in file["events"].items()}
        assert stored == {**expected, "p": "uint8"}
        assert hdf5.info(tmp_path / name).extras["dtypes"] == stored
        assert hdf5.read(tmp_path / name) == events


def test_a_stream_too_long_for_its_ms_index_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DSEC's ms_to_idx has an entry per millisecond: 2^63 us of stream would be 65.5 PiB (issue 19)
    huge = Events(t=[0, 2**63 - 1], x=[0, 1], y=[0, 1], p=[1, 0], sensor_size=(4, 4))
    path = tmp_path / "a.h5"
    with monkeypatch.context() as patched:
        patched.setattr(hdf5, "Writer", None)  # refused before any file is opened
        with pytest.raises(
            AllocationError, match=r"a\.h5: .*ms_to_idx.*span of 9,223,372,036,854,775,807 us.*65\.5 PiB"
        ):
            hdf5.write(path, huge)
    assert list(tmp_path.iterdir()) == []
    with (
        pytest.raises(AllocationError, match="batched=True"),
        hdf5.Writer(path, sensor_size=(4, 4)) as writer,
    ):
        writer.write(huge)
    assert list(tmp_path.iterdir()) == []
    with hdf5.Writer(path, sensor_size=(4, 4)) as writer:  # a refused write changes nothing
        writer.write(Events(t=[10, 20], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(4, 4)))
        with pytest.raises(AllocationError, match=r"after t_offset 10, add 4,611,686,018,427,387 entries"):
            writer.write(Events(t=[2**62], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
        writer.write(Events(t=[3000], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
    assert hdf5.read(path).t.tolist() == [10, 20, 3000]
    with h5py.File(path) as file:
        assert file["events/t"].dtype == np.uint32
        assert file["ms_to_idx"][()].tolist() == [0, 2, 2, 3]
    with hdf5.Writer(tmp_path / "b.h5", shape=huge.shape, batched=True) as writer:  # what it advises
        writer.write(huge)
    assert hdf5.read(tmp_path / "b.h5") == huge


def test_streaming_times_outgrow_uint32(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 6000  # 3000 events 1 us apart, then 3000 more 2**32 us (71.6 minutes) later
    t = 1_700_000_000_000_000 + np.sort(np.concatenate([np.arange(n // 2), 2**32 + np.arange(n // 2)]))
    full = Events(
        t, rng.integers(0, 20, n), rng.integers(0, 10, n), rng.random(n) < 0.5, sensor_size=(20, 10)
    )
    early = full.time_slice(None, int(t[n // 2]))
    for path, events in ((tmp_path / "fits.h5", early), (tmp_path / "outgrows.h5", full)):
        with hdf5.Writer(path, shape=full.shape, chunk_events=1024) as writer:
            for piece in pieces_of(events, [1000, 2000, 3000]):  # 1000 early events a piece, then the rest
                writer.write(piece)
    hdf5.write(tmp_path / "whole.h5", full)
    with h5py.File(tmp_path / "fits.h5") as fits, h5py.File(tmp_path / "outgrows.h5") as outgrows:
        assert fits["events/t"].dtype == np.uint32
        assert outgrows["events/t"].dtype == np.int64  # widened once, never wrapped
        with h5py.File(tmp_path / "whole.h5") as whole:
            assert np.array_equal(outgrows["ms_to_idx"][()], whole["ms_to_idx"][()])
    assert hdf5.read(tmp_path / "fits.h5") == early
    assert hdf5.read(tmp_path / "outgrows.h5") == full
    t0, t1 = int(t[n // 2 - 10]), int(t[n // 2 + 10])
    assert hdf5.read(tmp_path / "outgrows.h5", t_start=t0, t_end=t1) == full.time_slice(t0, t1)
    later_then_earlier = Events.cat(
        [stream(50, seed=1, size=(20, 10), t0=10**6), stream(50, seed=2, size=(20, 10))]
    )
    with hdf5.Writer(tmp_path / "batch.h5", shape=full.shape, batched=True, chunk_events=16) as writer:
        writer.write(later_then_earlier[:1])  # sets t_offset = 10**6
        writer.write(later_then_earlier[1:])  # times before t_offset: int64
    assert hdf5.read(tmp_path / "batch.h5") == later_then_earlier


PLAIN_H5PY = """
import sys
sys.modules["hdf5plugin"] = None  # no plugin filters registered, and HDF5_PLUGIN_PATH is empty
import h5py
for path in sys.argv[1:]:
    with h5py.File(path, "r") as file:
        names = []
        file.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        for name in names:
            file[name][()]  # read in full
            print(f"{path}:{name}", file[name].compression if file[name].shape else "scalar")
"""


def test_default_compression_is_gzip_readable_without_plugins(tmp_path: Path) -> None:
    events, batch = stream(5000, seed=4), digits(4, seed=4)
    hdf5.write(tmp_path / "write.h5", events)
    with hdf5.Writer(tmp_path / "writer.h5", shape=batch.shape, batched=True, num_steps=20) as writer:
        writer.write(batch)
    env = {**os.environ, "HDF5_PLUGIN_PATH": str(tmp_path / "no plugins")}
    paths = [str(tmp_path / "write.h5"), str(tmp_path / "writer.h5")]
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_H5PY, *paths], capture_output=True, text=True, check=True, env=env
    )
    filters = dict(line.split() for line in result.stdout.splitlines())  # every dataset read in full
    assert {f"{paths[0]}:ms_to_idx", f"{paths[1]}:step_to_idx", f"{paths[1]}:events/t"} <= set(filters)
    assert set(filters.values()) == {"gzip", "scalar"}  # only t_offset, a scalar, is not compressed
    assert hdf5.info(paths[0]).compression == hdf5.info(paths[1]).compression == "gzip"


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        (None, "none"),
        ("NONE", "none"),
        ("GZip", "gzip"),
        ("deflate", "gzip"),
        ("LZF", "lzf"),
        ("Zstd", "zstd"),
        ("BLOSC", "blosc"),
    ],
)
def test_compression_names_are_canonical(tmp_path: Path, spelling: str | None, name: str) -> None:
    import hdf5plugin

    filter_ids = {
        "none": [],
        "gzip": [h5py.h5z.FILTER_DEFLATE],
        "lzf": [h5py.h5z.FILTER_LZF],
        "zstd": [hdf5plugin.ZSTD_ID],
        "blosc": [hdf5plugin.BLOSC_ID],
    }
    events = digits(2, seed=6)
    hdf5.write(tmp_path / "write.h5", events, compression=spelling)
    with hdf5.Writer(
        tmp_path / "writer.h5", shape=events.shape, compression=spelling, batched=True, num_steps=20
    ) as writer:
        writer.write(events)
    for path in (tmp_path / "write.h5", tmp_path / "writer.h5"):
        with h5py.File(path, "r") as file:
            plist = file["events/t"].id.get_create_plist()
            ids = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        assert [code for code in ids if code != h5py.h5z.FILTER_SHUFFLE] == filter_ids[name]
        assert hdf5.info(path).compression == name
        assert hdf5.read(path) == events


def test_blosc_shuffles_files_of_any_length(tmp_path: Path) -> None:
    events = stream(100_001, seed=8)  # chunks of an odd length would turn blosc's bit shuffle off
    hdf5.write(tmp_path / "write.h5", events, compression="blosc")
    with hdf5.Writer(tmp_path / "writer.h5", shape=events.shape, compression="blosc") as writer:
        for piece in pieces_of(events, [123_457, 1_000_003]):
            writer.write(piece)
    for name in ("write.h5", "writer.h5"):
        with h5py.File(tmp_path / name, "r") as file:
            stored = file["events/t"].id.get_storage_size() / len(events)
        assert stored < 2  # uint32: 4 bytes unshuffled; bit-shuffled times of 0-40 us steps take ~1
        assert hdf5.read(tmp_path / name) == events


# ---------------------------------------------------------------------- numpy columns
def test_read_columns_are_read_chunks_in_numpy(tmp_path: Path) -> None:
    one, batch = stream(10_000, seed=1), digits(10, seed=4, channels=2)
    cases = [(one, 3000, int(one.t[1234]), int(one.t[8765])), (batch, 2000, 4, 15), (batch, 2000, None, None)]
    for events, chunk, t_start, t_end in cases:
        path = tmp_path / "columns.h5"
        hdf5.write(path, events)
        expected = Events.cat([events[b].time_slice(t_start, t_end) for b in range(events.num_samples)])
        pieces = list(hdf5.read_columns(path, chunk, t_start=t_start, t_end=t_end))
        chunks = list(hdf5.read_chunks(path, chunk, t_start=t_start, t_end=t_end))
        assert len(pieces) == len(chunks) > 1
        names = ["t", "x", "y", "p", *(["c"] if events.c is not None else []), "offsets"]
        for piece, chunk_events in zip(pieces, chunks, strict=True):
            assert list(piece) == names
            wanted = {
                name: {"t": "int64", "p": "bool", "offsets": "int64"}.get(name, "int16") for name in names
            }
            assert {name: str(column.dtype) for name, column in piece.items()} == wanted
            assert np.array_equal(piece["offsets"], chunk_events.offsets.numpy())
            assert all(np.array_equal(piece[k], getattr(chunk_events, k).numpy()) for k in names[:-1])
        if events.num_samples > 1:  # pieces of whole samples
            assert Events.cat(chunks) == expected
        for name in names[:-1]:
            assert np.array_equal(np.concatenate([p[name] for p in pieces]), getattr(expected, name).numpy())


NO_TORCH = """
import sys
sys.modules["torch"] = None  # importing torch now fails
from exporters import hdf5
meta = hdf5.info(sys.argv[1])
pieces = list(hdf5.read_columns(sys.argv[1], 1000))
print(meta.events, sum(len(p["t"]) for p in pieces), sum(len(p["offsets"]) - 1 for p in pieces))
"""


def test_info_and_read_columns_need_no_torch(tmp_path: Path) -> None:
    events = digits(3, seed=5)
    hdf5.write(tmp_path / "a.h5", events)
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(tmp_path / "a.h5")], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [str(len(events)), str(len(events)), "3"]


# ---------------------------------------------------------------------- bad files
def damaged(tmp_path: Path, change) -> Path:
    path = tmp_path / "bad.h5"
    hdf5.write(path, digits(3, seed=9))
    with h5py.File(path, "a") as file:
        change(file)
    return path


def replace(file: h5py.File, name: str, values: np.ndarray) -> None:
    del file[name]
    file[name] = values


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.__delitem__("events/y"), "events/y: missing"),
        (
            lambda f: replace(f, "events/x", np.zeros(len(f["events/x"]), np.float32)),
            "events/x: has dtype float32",
        ),
        (lambda f: replace(f, "events/p", np.zeros(3, np.uint8)), "events: columns of different lengths"),
        (
            lambda f: replace(f, "offsets", np.array([0, 5, 2, len(f["events/t"])])),
            r"offsets: offsets\[2\] = 2 is below offsets\[1\] = 5",
        ),
        (lambda f: replace(f, "offsets", np.array([0, 5])), "offsets: offsets must run from 0"),
        (lambda f: f["events/x"].__setitem__(0, 50), r"events/x .*x\[0\] = 50 is outside \[0, 10\)"),
        (lambda f: f["events/p"].__setitem__(1, 7), r"events/p .*p\[1\] = 7 is not a polarity"),
        (lambda f: f["events/t"].__setitem__(1, 19), r"events/t .*t\[2\] = \d+ comes after t\[1\] = 19"),
        (
            lambda f: f["events/t"].__setitem__(len(f["events/t"]) - 1, 25),
            r"events/t .* = 25 is outside the steps \[0, 20\)",
        ),
        (lambda f: f.attrs.__setitem__("time_unit", "ms"), "time_unit attribute is 'ms'"),
        (lambda f: f.attrs.__setitem__("shape", np.array([0, 3])), "no usable sample shape"),
        (lambda f: f.attrs.__setitem__("polarities", 3), "polarities attribute is 3"),
        (
            lambda f: (f.attrs.__setitem__("polarities", 1), f["events/p"].__setitem__(0, 0)),
            "events/p .*sample 0 holds both polarities",
        ),
        (
            lambda f: (f.attrs.__setitem__("polarities", 0), f["events/p"].__setitem__(0, 0)),
            "p\\[0\\] is OFF",
        ),
    ],
)
def test_bad_files_name_the_dataset(tmp_path: Path, change, match: str) -> None:
    path = damaged(tmp_path, change)
    with pytest.raises(FileFormatError, match=match):
        hdf5.read(path)


def test_corrupt_index_and_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "stream.h5"
    events = stream(5000, seed=2)
    hdf5.write(path, events)
    with h5py.File(path, "a") as file:
        file["ms_to_idx"][3] = 10**9
    with pytest.raises(FileFormatError, match="ms_to_idx: entry 3 = 1000000000 points outside the events"):
        hdf5.read(path, t_start=int(events.t[0]) + 3500)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(FileFormatError, match="not a readable HDF5 event file"):
        hdf5.read(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file["data"] = np.zeros(3)
    with pytest.raises(FileFormatError, match="events/x: missing"):
        hdf5.read(tmp_path / "other.h5")


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("small") / "small.h5"
    hdf5.write(path, digits(3, seed=11), compression="gzip")
    return path.read_bytes()


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_corrupted_files_raise_our_error_or_read_cleanly(
    tmp_path: Path, small_file: bytes, data: st.DataObject
) -> None:
    blob = bytearray(small_file)
    for _ in range(data.draw(st.integers(1, 8))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    blob = blob[: data.draw(st.integers(0, len(blob)))]
    path = tmp_path / "fuzz.h5"
    path.write_bytes(bytes(blob))
    try:
        events = hdf5.read(path)
    except FileFormatError:
        return
    for b in range(events.num_samples):  # whatever reads cleanly is a valid batch
        assert bool((events[b].t[1:] >= events[b].t[:-1]).all())


# ---------------------------------------------------------------------- the format contract
def test_sniff_tells_hdf5_and_recognizes_our_layout_and_dsecs(tmp_path: Path) -> None:
    hdf5.write(tmp_path / "ours.h5", digits(2))
    hdf5.write(tmp_path / "stream.h5", stream(300_000, seed=1))  # larger than a chunk: the head is metadata
    dsec_file(tmp_path / "dsec.h5", t=np.arange(5, dtype=np.uint32) * 400)
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file["network/weights"] = np.zeros((4, 4))
    with h5py.File(tmp_path / "user_block.h5", "w", userblock_size=512) as file:
        file["data"] = np.zeros(3)
    exporters.aedat4.write(tmp_path / "a.aedat4", stream(10))

    def head(name: str) -> bytes:
        with open(tmp_path / name, "rb") as file:
            return file.read(HEAD_BYTES)

    assert hdf5.sniff(head("ours.h5")) == hdf5.sniff(head("stream.h5")) == 0.99
    assert hdf5.sniff(head("dsec.h5")) == 0.95
    assert hdf5.sniff(head("other.h5")) == hdf5.sniff(head("user_block.h5")) == 0.9  # HDF5, maybe NIR
    assert hdf5.sniff(head("a.aedat4")) == hdf5.sniff(b"") == hdf5.sniff(hdf5.MAGIC[:5]) == 0.0


def test_signatures_follow_the_contract(tmp_path: Path) -> None:
    import inspect

    keyword_only = inspect.Parameter.KEYWORD_ONLY
    for function, names in (
        (hdf5.read, ["sample", "t_start", "t_end"]),
        (hdf5.read_chunks, ["t_start", "t_end"]),
        (hdf5.read_columns, ["t_start", "t_end"]),
        (hdf5.write, ["compression", "dt_us", "t0_us", "encoding", "overwrite"]),
    ):
        parameters = inspect.signature(function).parameters
        assert [parameters[name].kind for name in names] == [keyword_only] * len(names), function
    assert inspect.signature(hdf5.write).parameters["overwrite"].default is True
    assert inspect.signature(hdf5.write).parameters["compression"].default == hdf5.DEFAULT_COMPRESSION
    assert exporters.Format.of(hdf5).name == "hdf5"  # the registry's check of the whole contract
    hdf5.write(tmp_path / "a.h5", digits(6))
    with pytest.raises(TypeError):  # hdf5.read(p, 5) meant sample=5, aedat4.read(p, 5) t_start=5
        hdf5.read(tmp_path / "a.h5", 5)  # type: ignore[misc]
    with pytest.raises(TypeError):
        hdf5.write(tmp_path / "b.h5", digits(1), "gzip")  # type: ignore[misc]


def test_bad_arguments_are_option_errors_before_any_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.h5"
    events = stream(100)
    hdf5.write(path, events)
    for read in (hdf5.read_chunks, hdf5.read_columns):
        for chunk_events in (0, -5, 1.5, True, "8"):
            with pytest.raises(OptionError, match="chunk_events must be a positive whole number"):
                read(tmp_path / "missing.h5", chunk_events)  # raised when called, before the file is opened
        with pytest.raises(OptionError, match="t_end = 3 is before t_start = 5"):
            read(path, 10, t_start=5, t_end=3)
        with pytest.raises(FileNotFoundError):
            read(tmp_path / "missing.h5", 10)
    with pytest.raises(OptionError, match="t_end = 3 is before t_start = 5"):
        hdf5.read(path, t_start=5, t_end=3)
    with pytest.raises(OptionError, match="t_start must be an int"):
        hdf5.read(path, t_start=1.5)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="sample must be an int"):
        hdf5.read(path, sample="0")  # type: ignore[arg-type]
    with pytest.raises(SampleIndexError) as error:
        hdf5.read(path, sample=1)
    assert isinstance(error.value, IndexError)
    for dt_us in (-5, 0, 2.5, True):
        with pytest.raises(OptionError, match="dt_us must be a positive whole number of microseconds"):
            hdf5.write(tmp_path / "b.h5", digits(2), dt_us=dt_us)
    with pytest.raises(OptionError, match="describe step time, but this file holds microseconds"):
        hdf5.write(tmp_path / "b.h5", events, dt_us=1000)
    with pytest.raises(OptionError, match="describe step time, but this file holds microseconds"):
        hdf5.write(tmp_path / "b.h5", events, t0_us=0)
    with pytest.raises(OptionError, match="t0_us must be a whole number of microseconds within int64"):
        hdf5.write(tmp_path / "b.h5", digits(2), dt_us=1, t0_us=2**63)
    with pytest.raises(OptionError, match="t_offset must be a whole number of microseconds within int64"):
        hdf5.Writer(tmp_path / "b.h5", sensor_size=(4, 4), t_offset=-(2**64))
    with pytest.raises(OptionError, match="chunk_events must be a positive whole number"):
        hdf5.Writer(tmp_path / "b.h5", sensor_size=(4, 4), chunk_events=0)
    assert not (tmp_path / "b.h5").exists()
    far = 2**70  # windows beyond int64 are empty or everything, never an overflow
    assert hdf5.read(path, t_start=-far, t_end=far) == events
    assert len(hdf5.read(path, t_start=far)) == len(hdf5.read(path, t_end=-far)) == 0


def test_info_describes_a_stream_reading_two_times(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = stream(300_000, seed=12)
    path = tmp_path / "stream.h5"
    hdf5.write(path, events, compression="lzf")
    counter = ReadCounter(monkeypatch)
    meta = hdf5.info(path)
    read = {name: count for name, count in counter.elements.items() if name.startswith("/events")}
    assert read == {"/events/t": 2}  # the first and the last time; no event column else
    assert (meta.first, meta.last) == (int(events.t[0]), int(events.t[-1]))
    assert (meta.events, meta.samples, meta.time_unit, meta.num_steps, meta.dt_us) == (
        300_000,
        1,
        "us",
        None,
        None,
    )
    assert (meta.sensor_size, meta.shape, meta.compression) == ((346, 260, 2), (260, 346), "lzf")
    assert meta.extras["t_offset"] == int(events.t[0])  # DSEC's storage offset, not a step-0 time
    assert "t0_us" not in meta.extras
    with h5py.File(path, "r") as file:  # h5py's own view of the storage
        assert meta.extras["chunk_events"] == file["events/t"].chunks[0]
        assert meta.streams[0].packets == file["events/t"].id.get_num_chunks() == 3
    empty = Events.cat([digits(1).time_slice(100, None), digits(2)])  # an empty sample: no first or last
    hdf5.write(tmp_path / "batch.h5", empty)
    meta = hdf5.info(tmp_path / "batch.h5")
    assert (meta.first, meta.last, meta.samples) == (int(empty.t.min()), int(empty.t.max()), 3)
    assert meta.extras["t0_us"] is None
    hdf5.write(tmp_path / "none.h5", stream(0))
    assert (hdf5.info(tmp_path / "none.h5").first, hdf5.info(tmp_path / "none.h5").last) == (None, None)


# ---------------------------------------------------------------------- files of other tools
def dsec_file(
    path: Path, t: np.ndarray, x=None, y=None, p=None, *, t_offset=None, attrs=None, **columns
) -> Path:
    """A DSEC-style file written with h5py alone: ``events/{t,x,y,p}`` in the dtypes given, its
    ``ms_to_idx`` computed as DSEC defines it, optional ``t_offset`` and root attributes."""
    n = len(t)
    given = {"t": t, "x": x, "y": y, "p": p, **columns}
    defaults = {"x": np.zeros(n, np.uint16), "y": np.zeros(n, np.uint16), "p": np.ones(n, np.uint8)}
    with h5py.File(path, "w") as file:
        for name, values in given.items():
            file[f"events/{name}"] = defaults[name] if values is None else values
        if t.dtype.kind in "iu" and n and t.max() < 2**62:
            last = int(t[-1])
            file["ms_to_idx"] = np.searchsorted(t, np.arange(-(-last // 1000) + 1) * 1000).astype(np.uint64)
        if t_offset is not None:
            file["t_offset"] = np.int64(t_offset)
        file.attrs.update(attrs or {})
    return path


def test_minus_one_plus_one_polarity_reads_as_off_and_on(tmp_path: Path) -> None:
    raw = np.array([-1, 1, 1, -1, -1], np.int8)  # how other tools store OFF / ON
    path = dsec_file(tmp_path / "signed.h5", np.arange(5, dtype=np.uint32), p=raw)
    assert hdf5.read(path).p.tolist() == (raw > 0).tolist()
    assert next(hdf5.read_columns(path))["p"].tolist() == (raw > 0).tolist()
    off = dsec_file(tmp_path / "off.h5", np.arange(3, dtype=np.uint32), p=np.full(3, -1, np.int16))
    assert hdf5.read(off).p.tolist() == [False] * 3
    for values, match in (
        ([-1, 0, 1], r"p\[1\] = 0 in a column of -1/\+1 polarities"),
        ([1, -1, 2], r"p\[2\] = 2 in a column of -1/\+1 polarities"),
        ([0, 1, 2], r"p\[2\] = 2 is not a polarity"),
    ):
        bad = dsec_file(tmp_path / "bad.h5", np.arange(3, dtype=np.uint32), p=np.array(values, np.int16))
        with pytest.raises(FileFormatError, match="events/p.*" + match):
            hdf5.read(bad)
    # the convention holds across the pieces of one read
    mixed = dsec_file(
        tmp_path / "mixed.h5", np.arange(6, dtype=np.uint32), p=np.array([0, 1, 1, 1, -1, 1], np.int8)
    )
    with pytest.raises(FileFormatError, match=r"p\[1\] = -1 is not a polarity"):
        list(hdf5.read_chunks(mixed, 3))
    # eventcode's own files say 0/1: -1 there is damage, not a convention
    ours = tmp_path / "ours.h5"
    hdf5.write(ours, stream(50, seed=3))
    with h5py.File(ours, "a") as file:
        replace(file, "events/p", file["events/p"][()].astype(np.int8) * 2 - 1)
    with pytest.raises(FileFormatError, match=r"events/p .*p\[\d+\] = -1 is not a polarity"):
        hdf5.read(ours)


def test_values_are_checked_in_their_stored_dtype(tmp_path: Path) -> None:
    t = np.arange(3, dtype=np.uint32)
    two = dsec_file(tmp_path / "p2.h5", t, p=np.array([1, 2, 0], np.int16))  # was read as ON
    with pytest.raises(FileFormatError, match=r"events/p .*p\[1\] = 2 is not a polarity"):
        hdf5.read(two)
    wide = dsec_file(  # 65,539 = 3 + 2**16: was read as 3 after a cast to uint16
        tmp_path / "x.h5", t, x=np.array([1, 65_539, 2], np.int32), attrs={"width": 8, "height": 4}
    )
    with pytest.raises(FileFormatError, match=r"events/x .*x\[1\] = 65539 is outside \[0, 8\)"):
        hdf5.read(wide)
    beyond = np.array([0, 2**63 + 5], np.uint64)  # wrapped to a negative time
    huge = dsec_file(tmp_path / "t.h5", beyond)
    with pytest.raises(FileFormatError, match=r"events/t: times \[0, 9223372036854775813\] plus t_offset 0"):
        hdf5.read(huge)
    with pytest.raises(FileFormatError, match="leave int64"):
        hdf5.info(huge)
    shifted = dsec_file(tmp_path / "offset.h5", np.array([0, 10], np.uint32), t_offset=_INT64_MAX - 5)
    with pytest.raises(FileFormatError, match=r"events/t: times \[0, 10\] plus t_offset 9223372036854775802"):
        hdf5.read(shifted)  # t_offset + t wrapped to a negative time
    fits = np.array([5, 2**40, 2**62], np.uint64)  # uint64 times within int64 read exactly
    assert hdf5.read(dsec_file(tmp_path / "u64.h5", fits, t_offset=-5)).t.tolist() == [
        0,
        2**40 - 5,
        2**62 - 5,
    ]


_INT64_MAX = int(np.iinfo(np.int64).max)


# ---------------------------------------------------------------------- indexes
def test_ms_to_idx_gives_exact_windows_or_an_error(tmp_path: Path) -> None:
    events = stream(20_000, seed=13)
    path = tmp_path / "index.h5"
    hdf5.write(path, events)
    with h5py.File(path, "r") as file:
        index = file["ms_to_idx"][()]
    t0 = int(events.t[0])
    windows = [(t0 + 1500, t0 + 7200), (t0 + 10_000, None), (None, t0 + 4_999), (t0 - 5, t0 + 60)]
    for changed in (
        np.minimum(index + 7, len(events)),  # shifted forward
        np.maximum(index.astype(np.int64) - 7, 0).astype(np.uint64),  # shifted back
        np.roll(index, 2),  # shifted by two entries
        index[::-1].copy(),  # reversed
    ):
        with h5py.File(path, "a") as file:
            file["ms_to_idx"][...] = changed
        for t_start, t_end in windows:
            with pytest.raises(FileFormatError, match="ms_to_idx: entr"):
                hdf5.read(path, t_start=t_start, t_end=t_end)
        assert hdf5.read(path) == events  # a whole read does not use the index
    with h5py.File(path, "a") as file:
        file["ms_to_idx"][...] = index
    for t_start, t_end in windows:  # the peer: Events.time_slice of the whole stream
        assert hdf5.read(path, t_start=t_start, t_end=t_end) == events.time_slice(t_start, t_end)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 25), st.integers(-3, 3), st.integers(-1500, 30_000), st.integers(0, 8000))
def test_a_damaged_ms_to_idx_never_gives_a_wrong_window(
    tmp_path: Path, entry: int, delta: int, start: int, length: int
) -> None:
    events = stream(3000, seed=14, t0=0)  # about 60 ms, 50 events a millisecond
    path = tmp_path / "fuzz_index.h5"
    hdf5.write(path, events)
    with h5py.File(path, "a") as file:
        index = file["ms_to_idx"][()].astype(np.int64)
        index[min(entry, len(index) - 1)] += delta
        file["ms_to_idx"][...] = index.clip(0).astype(np.uint64)
    outcome: Events | str
    try:
        outcome = hdf5.read(path, t_start=start, t_end=start + length)
    except FileFormatError as error:
        outcome = str(error)
    if isinstance(outcome, str):
        assert "ms_to_idx: entr" in outcome  # the damage named
    else:
        assert outcome == events.time_slice(start, start + length)


def test_step_to_idx_gives_exact_windows_or_an_error(tmp_path: Path) -> None:
    events = digits(6, seed=15)
    path = tmp_path / "steps.h5"
    hdf5.write(path, events)
    with h5py.File(path, "r") as file:
        index = file["step_to_idx"][()]
    for changed in (
        np.roll(index, 1, axis=1),  # each sample's entries one step late
        index[::-1].copy(),  # samples' rows reversed
        index[:, ::-1].copy(),  # each row reversed
        index + np.arange(index.shape[1]) % 3 - 1,  # entries off by one here and there
    ):
        with h5py.File(path, "a") as file:
            file["step_to_idx"][...] = changed
        with pytest.raises(FileFormatError, match="step_to_idx: entry"):
            hdf5.read(path, t_start=4, t_end=9)
        with pytest.raises(FileFormatError, match="step_to_idx: entry"):
            hdf5.read(path, sample=2, t_start=8)
    with h5py.File(path, "a") as file:
        file["step_to_idx"][...] = index
    assert hdf5.read(path, t_start=4, t_end=9) == events.time_slice(4, 9)
    with h5py.File(path, "a") as file:
        del file["step_to_idx"]
        file["step_to_idx"] = index[:, :-1]
    with pytest.raises(FileFormatError, match=r"step_to_idx: has shape \(6, 20\), not"):
        hdf5.read(path, t_start=4)


# ---------------------------------------------------------------------- declared sizes and chunks
def test_missing_chunks_are_an_error_not_zeros(tmp_path: Path) -> None:
    path = tmp_path / "holes.h5"
    n = 64
    with h5py.File(path, "w") as file:
        for name in "txyp":
            file.create_dataset(f"events/{name}", shape=(n,), chunks=(8,), dtype=np.uint16)
            file[f"events/{name}"][:16] = np.arange(16)  # 2 of 8 chunks written: 48 fill-value zeros
        file.attrs.update({"width": 64, "height": 64})
    with pytest.raises(
        FileFormatError, match=r"events/x: declares \(64,\) values in 8 chunks .* stores 2 chunks"
    ):
        hdf5.read(path)
    with pytest.raises(FileFormatError, match="stores 2 chunks"):
        hdf5.info(path)
    with h5py.File(path, "w") as file:  # a contiguous dataset never written: no storage at all
        for name in "txyp":
            file.create_dataset(f"events/{name}", shape=(n,), dtype=np.uint16)
    with pytest.raises(
        FileFormatError, match=r"events/x: declares \(64,\) values \(128 bytes\).* stores 0 bytes"
    ):
        hdf5.read(path)


def test_declared_sizes_are_checked_before_anything_is_allocated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "claims.h5"
    hdf5.write(path, stream(100, seed=16), compression="gzip")
    with h5py.File(path, "a") as file:  # resizable datasets: 3e8 events declared, none stored
        for name in "txyp":
            file[f"events/{name}"].resize((300_000_000,))
        file["offsets"][-1] = 300_000_000
    assert path.stat().st_size < 20_000
    counter = ReadCounter(monkeypatch)
    for call in (hdf5.read, hdf5.info, lambda p: list(hdf5.read_chunks(p))):
        with pytest.raises(
            FileFormatError, match=r"events/x: declares \(300000000,\) values in 2,884,616 chunks"
        ):
            call(path)
    assert not any(name.startswith("/events") for name in counter.elements)  # nothing was read


# ---------------------------------------------------------------------- DSEC without geometry
def test_dsec_geometry_is_read_only_when_needed_in_bounded_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 5000
    rng = np.random.default_rng(17)
    x, y = rng.integers(0, 640, n).astype(np.uint16), rng.integers(0, 480, n).astype(np.uint16)
    t = np.sort(rng.integers(0, 10**6, n)).astype(np.uint32)
    bare = dsec_file(tmp_path / "bare.h5", t, x, y, t_offset=0)
    sized = dsec_file(tmp_path / "sized.h5", t, x, y, t_offset=0, attrs={"width": 640, "height": 480})
    monkeypatch.setattr(hdf5, "SCAN_EVENTS", 1000)
    largest: dict[str, int] = {}
    original = h5py.Dataset.__getitem__

    def sized_reads(dataset: h5py.Dataset, key: object) -> object:
        value = original(dataset, key)
        largest[dataset.name] = max(largest.get(dataset.name, 0), int(np.size(value)))
        return value

    monkeypatch.setattr(h5py.Dataset, "__getitem__", sized_reads)
    assert hdf5.info(sized).sensor_size == (640, 480, 2)
    assert set(largest).isdisjoint({"/events/x", "/events/y"})  # the attributes suffice
    meta = hdf5.info(bare)
    assert meta.sensor_size == (int(x.max()) + 1, int(y.max()) + 1, 2)  # the smallest sensor holding them
    assert (meta.extras["layout"], meta.extras["eventcode_version"]) == ("DSEC", None)
    assert largest["/events/x"] == largest["/events/y"] == 1000  # read 1000 at a time
    assert hdf5.read(bare).sensor_size == meta.sensor_size


# ---------------------------------------------------------------------- filters
READ_WITHOUT_PLUGIN = """
import sys
sys.modules["hdf5plugin"] = None  # no plugin filters registered, and HDF5_PLUGIN_PATH is empty
from exporters import hdf5
try:
    list(hdf5.read_columns(sys.argv[1]))
except Exception as error:
    print(type(error).__name__, isinstance(error, ImportError), error)
"""


def test_a_missing_filter_plugin_is_a_dependency_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "zstd.h5"
    hdf5.write(path, digits(2), compression="zstd")
    env = {**os.environ, "HDF5_PLUGIN_PATH": str(tmp_path / "no plugins")}
    result = subprocess.run(
        [sys.executable, "-c", READ_WITHOUT_PLUGIN, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert result.stdout.startswith("DependencyError True ")
    assert (
        "zstd filter (32015), which needs the hdf5plugin package: pip install 'eventcode[hdf5]'"
        in result.stdout
    )
    gzip = tmp_path / "gzip.h5"
    hdf5.write(gzip, digits(2))
    unavailable = h5py.h5z.filter_avail
    monkeypatch.setattr(
        h5py.h5z, "filter_avail", lambda code: code != h5py.h5z.FILTER_DEFLATE and unavailable(code)
    )
    with pytest.raises(FileFormatError, match="events/x: compressed with HDF5 filter 1, which no installed"):
        hdf5.read(gzip)  # not a plugin's filter: the file's pipeline (or this HDF5) is at fault


def test_shifted_offsets_split_samples_where_time_restarts(tmp_path: Path) -> None:
    events = digits(3, seed=18)  # each sample's steps start again at 0
    bounds = events.offsets.numpy()
    for shift in (5, -5):
        moved = bounds.copy()
        moved[1:-1] += shift  # still 0..n and increasing, but the samples' boundaries are wrong
        path = tmp_path / "shifted.h5"
        hdf5.write(path, events)
        with h5py.File(path, "a") as file:
            file["offsets"][...] = moved
        with pytest.raises(FileFormatError, match=r"events/t .*comes after"):
            hdf5.read(path)
        with pytest.raises(FileFormatError, match=r"events/t .*comes after"):
            hdf5.read(path, sample=1)  # the wrong boundaries cut into its neighbours


def test_external_storage_is_refused(tmp_path: Path) -> None:
    raw = tmp_path / "x.raw"
    raw.write_bytes(np.arange(4, dtype=np.uint16).tobytes())
    path = tmp_path / "external.h5"
    with h5py.File(path, "w") as file:
        for name in "typ":
            file[f"events/{name}"] = np.arange(4, dtype=np.uint16)
        file.create_dataset("events/x", shape=(4,), dtype=np.uint16, external=[(str(raw), 0, 8)])
    assert h5py.File(path, "r")["events/x"][()].tolist() == [0, 1, 2, 3]  # h5py reads the other file
    with pytest.raises(FileFormatError, match="events/x: is stored outside the file"):
        hdf5.read(path)


# ---------------------------------------------------------------------- contiguous columns, in place
def raw_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The columns read at their file offsets, one entry per piece."""
    names: list[str] = []
    raw = hdf5._Reader._raw_read

    def spying(reader: hdf5._Reader, name: str, values: np.ndarray, place: int) -> bool:
        names.append(name)
        return raw(reader, name, values, place)

    monkeypatch.setattr(hdf5._Reader, "_raw_read", spying)
    return names


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.integers(1, 3000),
    st.integers(0, 2**16),
    st.sampled_from([5, 64, 1000, 1 << 20]),
    st.sampled_from([(346, 260), (256, 256), (40_000, 3)]),
    st.sampled_from([1_700_000_000_000_000, 0, -(2**40)]),
)
def test_uncompressed_stream_pieces_write_and_read_the_bytes_h5py_does(
    tmp_path: Path, n: int, seed: int, piece: int, size: tuple[int, int], t0: int
) -> None:
    events = stream(n, seed, size=size, t0=t0)
    path, plain = tmp_path / "direct.h5", tmp_path / "plain.h5"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hdf5, "PIECE_EVENTS", piece)
        hdf5.write(path, events, compression="none")
        reads = raw_reads(patch)
        assert hdf5.read(path) == events
        assert set(reads) == set("txyp")  # every column at its offset
        assert len(reads) == 4 * -(-n // piece)
        for t_start in (int(events.t[n // 2]), int(events.t[n // 2]) + 1500):
            assert hdf5.read(path, t_start=t_start) == events.time_slice(t_start, None)
    with h5py.File(path, "r") as file:  # laid out as h5py lays it out, with DSEC's index
        columns = {name: file[f"events/{name}"] for name in "txyp"}
        assert all(data.chunks is None and data.id.get_offset() is not None for data in columns.values())
        stored = {name: data[()] for name, data in columns.items()}
        t_offset, index = int(file["t_offset"][()]), file["ms_to_idx"][()]
    assert t_offset == t0
    assert np.array_equal(stored["t"].astype(np.int64) + t_offset, events.t.numpy())
    assert np.array_equal(stored["x"], events.x.numpy())
    assert np.array_equal(stored["p"], events.p.numpy())
    assert np.array_equal(index, np.searchsorted(stored["t"], np.arange(len(index)) * 1000, side="left"))
    hdf5.write(plain, events, compression="gzip")  # through h5py: the same values and index
    with h5py.File(plain, "r") as file:
        assert all(np.array_equal(file[f"events/{name}"][()], stored[name]) for name in "txyp")
        assert np.array_equal(file["ms_to_idx"][()], index)


@settings(max_examples=200)
@given(
    st.lists(st.integers(0, 5000), min_size=1, max_size=400),
    st.integers(-(2**62), 2**62),
    st.integers(0, 4),
)
def test_the_ms_index_search_is_searchsorted(gaps: list[int], shift: int, skip: int) -> None:
    t = shift + np.cumsum(np.array(gaps, np.int64)) - gaps[0]  # sorted, from shift
    end = (int(t[-1]) - shift) // 1000 + 1
    entries = range(min(skip, end - 1), end)
    keys = np.array([shift + 1000 * ms for ms in entries], np.int64)
    expected = np.searchsorted(t, keys, side="left") + 5
    with pytest.MonkeyPatch.context() as patch:
        for piece in (1, 3, 1 << 20):
            patch.setattr(hdf5, "PIECE_EVENTS", piece)
            assert np.array_equal(hdf5._ms_positions(t, shift, entries, 5), expected)
    if int(t[-1]) - shift < 2**32:  # the times a direct write searches: uint32 after the shift
        stored = (t - shift).astype(np.uint32)
        positions = np.zeros(len(entries), np.uint64)
        for a in range(0, len(t), 7):
            b = min(a + 7, len(t))
            hdf5._ms_piece(t, shift, entries, a, b, positions, 5, stored[a:b])
        assert np.array_equal(positions, expected)


def test_shifted_times_are_the_low_halves(tmp_path: Path) -> None:
    t = np.array([2**40 - 3, 2**40, 2**40 + 2**32 - 4], np.int64)
    out = np.empty(3, np.uint32)
    assert hdf5._shifted(t, 2**40 - 3, out).tolist() == [0, 3, 2**32 - 1]
    wide = np.empty(3, np.int64)
    assert hdf5._shifted(t[::-1], 2**40, wide).tolist() == [2**32 - 4, 0, -3]
    strided = np.repeat(t, 2)[::2]  # not contiguous: numpy's subtraction
    assert hdf5._shifted(strided, 2**40 - 3, out).tolist() == [0, 3, 2**32 - 1]


def test_columns_not_laid_out_in_place_go_through_h5py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = stream(5000, seed=21)
    monkeypatch.setattr(hdf5, "PIECE_EVENTS", 999)
    reads = raw_reads(monkeypatch)
    hdf5.write(tmp_path / "direct.h5", events, compression="none")
    with h5py.File(tmp_path / "direct.h5", "r") as file:
        direct = {
            name: file[name][()] for name in ("events/t", "events/x", "events/y", "events/p", "ms_to_idx")
        }
    with monkeypatch.context() as patch:  # HDF5 gives no offset: the writer goes through h5py
        patch.setattr(hdf5, "_contiguous_place", lambda data: None)
        hdf5.write(tmp_path / "h5py.h5", events, compression="none")
        assert hdf5.read(tmp_path / "h5py.h5") == events
        assert not reads
    with h5py.File(tmp_path / "h5py.h5", "r") as file:
        assert all(np.array_equal(file[name][()], values) for name, values in direct.items())
    # files whose columns are chunked, compressed, big-endian or written by h5py's own layout
    t = (events.t.numpy() - int(events.t[0])).astype(np.uint32)
    x, y, p = (getattr(events, name).numpy().astype(np.uint16) for name in "xyp")
    attrs = {"width": 346, "height": 260}
    for options, expected in (
        ({}, "ptxy"),  # h5py's contiguous layout: read at the offsets as well
        ({"chunks": (1000,)}, ""),
        ({"compression": "gzip"}, ""),
        ({"dtype": ">u4"}, ""),
    ):
        path = tmp_path / "foreign.h5"
        with h5py.File(path, "w") as file:
            for name, values in (("t", t), ("x", x), ("y", y), ("p", p.astype(np.uint8))):
                dtype = options.get("dtype", values.dtype) if name == "t" else values.dtype
                rest = {key: value for key, value in options.items() if key != "dtype"}
                file.create_dataset(f"events/{name}", data=values, dtype=dtype, **rest)
            file["t_offset"] = np.int64(events.t[0])
            file.attrs.update(attrs)
        reads.clear()
        assert hdf5.read(path) == events, options
        assert "".join(sorted(set(reads))) == expected, options


def test_a_user_block_and_a_truncated_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = stream(3000, seed=22)
    t = (events.t.numpy() - int(events.t[0])).astype(np.uint32)
    path = tmp_path / "block.h5"
    with h5py.File(path, "w", userblock_size=1024) as file:  # offsets count from the file's first byte
        for name, values in (
            ("t", t),
            ("x", events.x.numpy()),
            ("y", events.y.numpy()),
            ("p", events.p.numpy()),
        ):
            file[f"events/{name}"] = values.astype(np.uint32 if name == "t" else np.uint16)
        file["t_offset"] = np.int64(events.t[0])
        file.attrs.update({"width": 346, "height": 260})
    reads = raw_reads(monkeypatch)
    assert hdf5.read(path) == events
    assert set(reads) == set("txyp")
    short = tmp_path / "short.h5"
    hdf5.write(short, events, compression="none")
    with h5py.File(short, "r") as file:
        end = file["events/p"].id.get_offset() + 2000  # the last column's values end 1000 bytes later
    with open(short, "r+b") as handle:
        handle.truncate(end)
    with pytest.raises(FileFormatError):
        hdf5.read(short)


@pytest.mark.parametrize(
    ("name", "position", "value", "match"),
    [
        ("x", 4321, 346, r"events/x .*x\[4321\] = 346 is outside \[0, 346\)"),
        ("y", 0, 999, r"events/y .*y\[0\] = 999 is outside \[0, 260\)"),
        ("p", 7777, 2, r"events/p .*p\[7777\] = 2 is not a polarity"),
        ("t", 5000, 0, r"events/t .*t\[5000\] = \d+ comes after t\[4999\]"),
        ("t", 4999, 2**32 - 1, r"events/t .*t\[5000\] = \d+ comes after t\[4999\] = 4294967295"),
    ],
)
def test_a_bad_value_read_in_place_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, position: int, value: int, match: str
) -> None:
    events = stream(10_000, seed=23)
    path = tmp_path / "bad.h5"
    hdf5.write(path, events, compression="none")
    with h5py.File(path, "a") as file:
        file[f"events/{name}"][position] = value
    monkeypatch.setattr(hdf5, "PIECE_EVENTS", 1000)  # the bad value at a piece's start, inside, at a seam
    reads = raw_reads(monkeypatch)
    with pytest.raises(FileFormatError, match=match):
        hdf5.read(path)
    assert reads  # the fast path read it, found it wrong, and the full check named it
    with pytest.raises(FileFormatError, match=f"events/{name} "):
        list(hdf5.read_chunks(path, 3000))


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 3000), st.integers(0, 2**16), st.sampled_from([1, 5, 333]), st.data())
def test_the_fast_stream_read_matches_the_full_check(
    tmp_path: Path, n: int, seed: int, piece: int, data: st.DataObject
) -> None:
    events = stream(n, seed, size=(300, 200))
    path = tmp_path / "fast.h5"
    compression = data.draw(st.sampled_from(["none", "gzip"]))
    hdf5.write(path, events, compression=compression)
    damage = data.draw(st.sampled_from([None, "x", "y", "p", "t"]))
    if damage is not None:
        at = data.draw(st.integers(0, n - 1))
        with h5py.File(path, "a") as file:
            column = file[f"events/{damage}"]
            column[at] = data.draw(st.integers(0, int(np.iinfo(column.dtype).max)))
    lo = data.draw(st.integers(0, n - 1))
    hi = data.draw(st.integers(lo + 1, n))
    with pytest.MonkeyPatch.context() as patch, hdf5._open(path) as file:
        patch.setattr(hdf5, "PIECE_EVENTS", piece)
        reader = hdf5._Reader(file, path)
        try:
            full = reader.checked(reader.read_span(lo, hi), np.array([hi - lo]), "")
        except FileFormatError:
            full = None
        fast = reader.stream(lo, hi)
    if full is None:
        assert fast is None  # the fast path never accepts what the full check refuses
    else:
        assert fast is not None
        assert all(np.array_equal(fast[key], full[key]) for key in full)
        assert all(fast[key].dtype == full[key].dtype for key in full)


def test_blocks_are_allocated_before_the_writes_where_the_system_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = stream(4000, seed=24)
    calls: list[tuple[int, int]] = []
    system = hdf5._fallocate()

    def recording(handle: int, mode: int, offset: int, size: int) -> int:
        calls.append((offset, size))
        return -1  # as where the file system cannot: the writes go on

    monkeypatch.setattr(hdf5, "_fallocate", lambda: recording)
    hdf5.write(tmp_path / "a.h5", events, compression="none")
    with h5py.File(tmp_path / "a.h5", "r") as file:
        columns = [file[f"events/{name}"] for name in "txyp"]
        assert sorted(calls) == sorted((data.id.get_offset(), data.id.get_storage_size()) for data in columns)
    assert hdf5.read(tmp_path / "a.h5") == events
    monkeypatch.setattr(hdf5, "_fallocate", lambda: None)  # no such call on this system
    hdf5.write(tmp_path / "b.h5", events, compression="none")
    assert hdf5.read(tmp_path / "b.h5") == events
    if sys.platform.startswith("linux"):
        assert system is not None
