"""Tests of exporters/nmnist.py: the real N-MNIST sample, Tonic both ways, round trips, damage."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import (
    DataLossWarning,
    EventcodeWarning,
    ExportError,
    FileFormatError,
    OptionError,
    TimeOrderError,
)
from exporters import nmnist

TONIC_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])


def tonic_columns(path: Path) -> tuple[np.ndarray, ...]:
    import tonic.io

    xytp = tonic.io.read_mnist_file(str(path), TONIC_DTYPE)
    return tuple(xytp[name] for name in "txyp")


def ours(events: Events) -> tuple[np.ndarray, ...]:
    return tuple(getattr(events, name).numpy().astype(np.int64) for name in "txyp")


def records(rows: list[tuple[int, int, int, int]]) -> bytes:
    """(x, y, p, t) rows packed by hand: x, y, then p << 23 | t big-endian in 3 bytes."""
    return b"".join(bytes([x, y]) + ((p << 23) | t).to_bytes(3, "big") for x, y, p, t in rows)


def same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return all(len(u) == len(v) and bool((u == v).all()) for u, v in zip(a, b, strict=True))


# ---------------------------------------------------------------------- the real sample
def test_real_sample_matches_its_manifest_and_tonic(shared: Path) -> None:
    manifest = json.loads((shared / "data/real/manifest.json").read_text())
    entries = [entry for entry in manifest["files"] if entry["path"].startswith("nmnist_bin/")]
    assert len(entries) == 1
    entry = entries[0]
    path, summary = shared / "data/real" / entry["path"], entry["summary"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        events = nmnist.read(path, sensor_size=tuple(summary["sensor_resolution"]))
    t, x, y, p = ours(events)
    assert len(t) == summary["events"]
    assert (int(t[0]), int(t[-1])) == (summary["t_first_us"], summary["t_last_us"])
    assert (int(x.min()), int(x.max()), int(y.min()), int(y.max())) == (
        summary["x_min"],
        summary["x_max"],
        summary["y_min"],
        summary["y_max"],
    )
    assert (int(p.sum()), int((p == 0).sum())) == (summary["on"], summary["off"])
    assert same(ours(events), tonic_columns(path))
    assert events.sensor_size == (34, 34, 2)
    assert events.time_unit == "us"
    meta = nmnist.info(path, sensor_size=(34, 34))
    assert (meta.events, meta.first, meta.last) == (
        summary["events"],
        summary["t_first_us"],
        summary["t_last_us"],
    )
    assert meta.extras["records"] == entry["bytes"] // 5


def test_sensor_size_inferred_only_with_a_warning(shared: Path) -> None:
    path = shared / "data/real/nmnist_bin/tonic_sample_nmnist.bin"
    with pytest.warns(EventcodeWarning, match=r"inferred 34 x 34.*sensor_size="):
        events = nmnist.read(path)
    assert events.sensor_size == (34, 34, 2)
    with pytest.warns(EventcodeWarning, match="inferred"):
        assert sum(len(chunk) for chunk in nmnist.read_chunks(path, chunk_events=1000)) == len(events)
    with pytest.raises(FileFormatError, match=r"byte \d+ .*outside the 20 x 34 sensor"):
        nmnist.read(path, sensor_size=(20, 34))


def test_empty_file_needs_a_sensor_size(tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    with pytest.raises(OptionError, match="sensor_size"):
        nmnist.read(path)
    events = nmnist.read(path, sensor_size=(34, 34))
    assert len(events) == 0
    assert events.sensor_size == (34, 34, 2)


# ---------------------------------------------------------------------- overflow markers
def test_overflow_markers_read_as_tonic_reads_them(tmp_path: Path) -> None:
    rows = [(1, 2, 0, 100), (0, 240, 0, 0), (3, 4, 1, 50), (0, 240, 1, 7), (0, 240, 0, 0), (5, 6, 1, 40)]
    path = tmp_path / "markers.bin"
    path.write_bytes(records(rows))
    events = nmnist.read(path, sensor_size=(34, 34))
    assert events.t.tolist() == [100, 8192 + 50, 3 * 8192 + 40]  # a marker adds 2^13 from itself on
    assert same(ours(events), tonic_columns(path))
    chunks = list(nmnist.read_columns(path, chunk_events=2, sensor_size=(34, 34)))  # markers across chunks
    assert np.concatenate([chunk["t"] for chunk in chunks]).tolist() == events.t.tolist()
    assert nmnist.info(path, sensor_size=(34, 34)).extras["overflow_markers"] == 3


# ---------------------------------------------------------------------- round trips, Tonic reads ours
@st.composite
def streams(draw: st.DrawFn) -> Events:
    width, height = draw(st.sampled_from([(1, 1), (34, 34), (240, 180), (256, 240)]))
    n = draw(st.integers(0, 40))
    edge = st.sampled_from([0, nmnist.TIME_LIMIT - 1])
    t = sorted(draw(st.lists(st.one_of(edge, st.integers(0, nmnist.TIME_LIMIT - 1)), min_size=n, max_size=n)))
    x = draw(st.lists(st.sampled_from([0, width - 1]) | st.integers(0, width - 1), min_size=n, max_size=n))
    y = draw(st.lists(st.sampled_from([0, height - 1]) | st.integers(0, height - 1), min_size=n, max_size=n))
    p = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return Events(t=t, x=x, y=y, p=p, sensor_size=(width, height))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=streams(), chunk=st.integers(1, 50))
def test_round_trip_and_tonic_reads_our_files(tmp_path: Path, events: Events, chunk: int) -> None:
    path = tmp_path / "round.bin"
    nmnist.write(path, events)
    assert path.stat().st_size == 5 * len(events)
    size = events.sensor_size[:2]
    assert nmnist.read(path, sensor_size=size) == events
    assert same(tonic_columns(path), ours(events))
    chunks = list(nmnist.read_chunks(path, chunk_events=chunk, sensor_size=size))
    assert all(0 < len(c) <= chunk for c in chunks)
    assert sum(len(c) for c in chunks) == len(events)
    if chunks:
        assert torch.equal(torch.cat([c.t for c in chunks]), events.t)
        assert torch.equal(torch.cat([c.x for c in chunks]), events.x)


def test_writer_chunks_and_windows(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    size = (34, 34)
    with nmnist.Writer(path, sensor_size=size) as writer:
        writer.write(Events(t=[0, 10], x=[0, 1], y=[0, 1], p=[0, 1], sensor_size=size))
        writer.write(Events(t=[10, 30], x=[2, 33], y=[2, 33], p=[1, 0], sensor_size=size))
        with pytest.raises(TimeOrderError, match="time order"):
            writer.write(Events(t=[5], x=[0], y=[0], p=[1], sensor_size=size))
    assert nmnist.read(path, sensor_size=size).t.tolist() == [0, 10, 10, 30]
    assert nmnist.read(path, sensor_size=size, t_start=10, t_end=30).t.tolist() == [10, 10]
    windowed = nmnist.read_chunks(path, chunk_events=1, sensor_size=size, t_start=1, t_end=11)
    assert [c.t.tolist() for c in windowed] == [[10], [10]]


def test_write_refuses_what_the_format_cannot_hold(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    late = Events(t=[0, nmnist.TIME_LIMIT], x=[0, 0], y=[0, 0], p=[1, 1], sensor_size=(34, 34))
    with pytest.raises(ExportError, match=r"t\[1\] = 8388608 us.*2\^23"):
        nmnist.write(path, late)
    with pytest.raises(ExportError, match="240"):
        nmnist.write(path, Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(34, 241)))
    with pytest.raises(ExportError, match="256"):
        nmnist.write(path, Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(257, 34)))
    steps = Events(
        t=[0, 1], x=[0, 0], y=[0, 0], p=[1, 1], sensor_size=(34, 34), num_steps=2, time_unit="step"
    )
    with pytest.raises(ExportError, match="dt_us"):
        nmnist.write(path, steps)
    with pytest.raises(ExportError, match="dt_us"):
        nmnist.write(path, late[:1], dt_us=1000)
    one = Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(34, 34), polarities=1)
    with pytest.raises(ExportError, match="polarities"):
        nmnist.write(path, one)
    assert not path.exists()


# ---------------------------------------------------------------------- damage
def test_time_going_back_names_the_byte_or_sorts(tmp_path: Path) -> None:
    path = tmp_path / "back.bin"
    path.write_bytes(records([(1, 1, 0, 100), (2, 2, 1, 5), (3, 3, 1, 7)]))
    with pytest.raises(FileFormatError, match=r"time goes back at byte 5 .*sort=True"):
        nmnist.read(path, sensor_size=(34, 34))
    with pytest.raises(FileFormatError, match="byte 5"):
        list(nmnist.read_chunks(path, chunk_events=1, sensor_size=(34, 34)))
    assert nmnist.read(path, sensor_size=(34, 34), sort=True).t.tolist() == [5, 7, 100]


def test_truncated_file_warns_and_keeps_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "cut.bin"
    path.write_bytes(records([(1, 1, 0, 100), (2, 2, 1, 200)])[:-2])
    with pytest.warns(DataLossWarning, match="3 bytes at byte 5"):
        events = nmnist.read(path, sensor_size=(34, 34))
    assert events.t.tolist() == [100]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_fuzzed_bytes_read_or_raise_our_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.bin"
    path.write_bytes(data)
    nmnist.sniff(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            events = nmnist.read(path)
        except (FileFormatError, OptionError):
            return
        assert len(events) <= len(data) // 5
        assert bool((events.t[1:] >= events.t[:-1]).all())


def test_sniff() -> None:
    assert nmnist.sniff(records([(1, 1, 0, 5), (1, 1, 1, 9)])) == 0.1
    assert nmnist.sniff(records([(1, 1, 0, 9), (1, 1, 1, 5)])) == 0.0  # time goes back
    assert nmnist.sniff(records([(1, 1, 0, 5)])[:4]) == 0.0
    assert nmnist.sniff(b"%evt 3.0\n") == 0.0


# ---------------------------------------------------------------------- memory, torch-free columns, speed
def test_read_chunks_in_bounded_memory(tmp_path: Path) -> None:
    n = 2_000_000
    path = tmp_path / "big.bin"
    rng = np.random.default_rng(1)
    t = np.sort(rng.integers(0, nmnist.TIME_LIMIT, n))
    nmnist.write(
        path,
        Events(
            t=t,
            x=rng.integers(0, 34, n),
            y=rng.integers(0, 34, n),
            p=rng.integers(0, 2, n),
            sensor_size=(34, 34),
        ),
    )
    tracemalloc.start()
    total = sum(len(c["t"]) for c in nmnist.read_columns(path, chunk_events=1 << 14, sensor_size=(34, 34)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == n
    assert peak < 8 << 20  # the whole file's columns would take 24 MB


def test_read_columns_does_not_import_torch(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(records([(1, 1, 0, 5)]))
    code = (
        "import sys; from exporters import nmnist; "
        f"chunks = list(nmnist.read_columns({str(path)!r}, sensor_size=(34, 34))); "
        "assert chunks[0]['t'].tolist() == [5]; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_reads_faster_than_tonic(tmp_path: Path) -> None:
    n = 2_000_000
    path = tmp_path / "speed.bin"
    rng = np.random.default_rng(2)
    nmnist.write(
        path,
        Events(
            t=np.sort(rng.integers(0, nmnist.TIME_LIMIT, n)),
            x=rng.integers(0, 240, n),
            y=rng.integers(0, 180, n),
            p=rng.integers(0, 2, n),
            sensor_size=(240, 180),
        ),
    )

    def best(read: object) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            read()  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return min(times)

    theirs = best(lambda: tonic_columns(path))
    mine = best(lambda: nmnist.read(path, sensor_size=(240, 180)))
    assert mine * 1.5 < theirs, (mine, theirs)
