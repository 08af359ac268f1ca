"""Tests of exporters/aedat4.py: round trips, every peer reading our files, us reading theirs, bad files."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import re
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

import aedat
import lz4.frame
import numpy as np
import pytest
import torch
import zstandard
from conftest import tonic_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventcode
from eventcode import Events
from eventcode.errors import (
    DataLossWarning,
    ExportError,
    FileFormatError,
    OptionError,
    PolarityError,
    TimeOrderError,
)
from eventcode.tonic import from_tonic
from exporters import aedat4, threads
from exporters.contract import FileInfo, Stream
from exporters.flatbuffers import Buffer

COMPRESSIONS = [None, "lz4", "lz4_high", "zstd", "zstd_high"]
WIDTH, HEIGHT = 346, 260


def random_stream(
    n: int, seed: int = 0, size: tuple[int, int] = (WIDTH, HEIGHT), t0: int = 1_700_000_000_000_000
):
    """A sorted microsecond stream with repeated timestamps, like a DAVIS346 recording."""
    rng = np.random.default_rng(seed)
    t = t0 + np.concatenate([[0], np.cumsum(rng.integers(0, 20, max(n - 1, 0)))])[:n]
    return Events(
        t,
        rng.integers(0, size[0], n),
        rng.integers(0, size[1], n),
        rng.integers(0, 2, n).astype(bool),
        sensor_size=size,
    )


def columns(events: Events) -> tuple[np.ndarray, ...]:
    return tuple(getattr(events, k).numpy().astype(np.int64) for k in "txyp")


def same(events: Events, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> bool:
    got = (np.asarray(t).astype(np.int64), np.asarray(x).astype(np.int64), np.asarray(y).astype(np.int64))
    expected = (*got, np.asarray(p).astype(np.int64))
    return all(np.array_equal(a, b) for a, b in zip(columns(events), expected, strict=True))


def packets(path: Path, salvage: bool = False) -> list[aedat4.Packet]:
    """Every packet of a file in file order, as info lists it."""
    return aedat4.info(path, salvage=salvage).extras["packets"]


def by_id(meta: FileInfo) -> dict[int, Stream]:
    """The streams info describes, by id."""
    return {stream.id: stream for stream in meta.streams}


def joined(chunks: list[Events]) -> Events:
    """Consecutive time chunks of one stream as one stream."""
    t, x, y, p = (torch.cat([getattr(chunk, k) for chunk in chunks]) for k in "txyp")
    return Events(t, x, y, p, sensor_size=chunks[0].sensor_size)


# ---------------------------------------------------------------------- round trips
@st.composite
def streams(draw: st.DrawFn) -> Events:
    width = draw(st.sampled_from([1, 2, 346, 1280]))
    height = draw(st.sampled_from([1, 3, 260, 720]))
    n = draw(st.sampled_from([0, 1, 2, 100, 70_000]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    high = np.iinfo(np.int64).max
    start = draw(st.sampled_from([0, -(2**62), high - 10**8, 1_700_000_000_000_000]))  # near the int64 limit
    gaps = rng.integers(0, draw(st.sampled_from([1, 3, 1000])), max(n - 1, 0))  # 1: all equal timestamps
    t = start + np.concatenate([[0], np.cumsum(gaps)])[:n]
    return Events(
        t,
        rng.integers(0, width, n),
        rng.integers(0, height, n),
        rng.random(n) < 0.5,
        sensor_size=(width, height),
    )


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(streams(), st.sampled_from(COMPRESSIONS))
def test_round_trip(tmp_path: Path, events: Events, compression: str | None) -> None:
    path = tmp_path / "round.aedat4"
    aedat4.write(path, events, compression=compression)
    assert aedat4.read(path) == events
    chunks = list(aedat4.read_chunks(path, chunk_events=30_000))
    assert sum(len(chunk) for chunk in chunks) == len(events)
    if chunks:
        assert joined(chunks) == events


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tonic_arrays())
def test_every_kind_of_tonic_sensor_round_trips_or_is_refused(tmp_path: Path, case: tuple) -> None:
    events = from_tonic(*case)  # 1 or 2 polarities, no p, no y (audio up to 70,000 wide), empty
    path = tmp_path / "sensor.aedat4"
    if events.sensor_size[0] > 32_768:  # AEDAT 4.0 addresses are int16: refused, never wrapped
        with pytest.raises(ExportError, match="beyond the int16 x and y of AEDAT 4"):
            aedat4.write(path, events)
        return
    aedat4.write(path, events)
    assert aedat4.read(path) == events  # shape, polarities and the events come back
    assert aedat4.info(path).sensor_size == events.sensor_size
    decoded = aedat.Decoder(str(path))  # a peer reads the polarity bits as written
    polarity = np.concatenate([p["events"]["on"] for p in decoded if "events" in p] or [np.zeros(0, bool)])
    np.testing.assert_array_equal(polarity, events.p.numpy())


def test_a_sensor_of_three_polarities_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolarityError, match="P = 3"):
        aedat4.Writer(tmp_path / "three.aedat4", sensor_size=(4, 4, 3))


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_step_time_and_channels_come_back(tmp_path: Path, compression: str | None) -> None:
    images = torch.rand(1, 2, 9, 7, generator=torch.Generator().manual_seed(1))
    events = eventcode.rate(images, num_steps=30, generator=torch.Generator().manual_seed(2))
    path = tmp_path / "steps.aedat4"
    with pytest.raises(ExportError, match="channels='tile'"):
        aedat4.write(path, events, compression=compression, dt_us=1000)
    aedat4.write(path, events, compression=compression, dt_us=1000, t0_us=5_000, channels="tile")
    back = aedat4.read(path)
    assert back == events
    assert aedat4.info(path).sensor_size == (14, 9, 2)  # two 7-wide channels side by side
    assert aedat4.read(path, t_start=10, t_end=20) == events.time_slice(10, 20)


def test_one_dimensional_samples_keep_their_shape(tmp_path: Path) -> None:
    events = eventcode.latency(torch.rand(1, 700), num_steps=50, normalize=True)
    aedat4.write(tmp_path / "audio.aedat4", events, dt_us=10)
    assert aedat4.read(tmp_path / "audio.aedat4") == events


def test_time_windows_read_only_the_packets_they_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = random_stream(300_000)  # 5 packets
    path = tmp_path / "window.aedat4"
    aedat4.write(path, events)
    t = events.t
    t0, t1 = int(t[70_000]), int(t[140_000])
    decoded = []
    real_decoded = aedat4._decoded
    monkeypatch.setattr(
        aedat4,
        "_decoded",
        lambda fd, meta, size, packets: decoded.append(len(packets)) or real_decoded(fd, meta, size, packets),
    )
    window = aedat4.read(path, t_start=t0, t_end=t1)
    assert window == events.time_slice(t0, t1)
    assert decoded == [2]  # events 70,000-140,000 lie in packets 1 and 2 of 0-4
    assert aedat4.read(path, t_start=int(t[-1]) + 1) == events.time_slice(int(t[-1]) + 1, None)
    assert sum(len(c) for c in aedat4.read_chunks(path, 100_000, t_start=t0, t_end=t1)) == len(window)


def test_writer_appends_chunks_in_constant_memory(tmp_path: Path) -> None:
    events = random_stream(200_000, seed=3)
    path = tmp_path / "chunks.aedat4"
    with aedat4.Writer(path, sensor_size=(WIDTH, HEIGHT), compression="zstd") as writer:
        for start in range(0, len(events), 7_777):
            writer.write(_piece(events, start, 7_777))
            assert writer._pending_count < aedat4.PACKET_EVENTS[3] * (threads.WORKERS + 1)
    assert aedat4.read(path) == events
    assert len(packets(path)) == -(-len(events) // aedat4.PACKET_EVENTS[3])


def _piece(events: Events, start: int, size: int) -> Events:
    t, x, y, p = (getattr(events, k)[start : start + size] for k in "txyp")
    return Events(t, x, y, p, sensor_size=events.sensor_size)


def test_writer_refuses_bad_chunks(tmp_path: Path) -> None:
    with aedat4.Writer(tmp_path / "a.aedat4", sensor_size=(4, 4)) as writer:
        writer.write(Events(t=[5, 9], x=[0, 1], y=[0, 1], p=[1, 1], sensor_size=(4, 4)))
        with pytest.raises(TimeOrderError, match="before the previous chunk"):
            writer.write(Events(t=[7], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
        with pytest.raises(ExportError, match="shape"):
            writer.write(Events(t=[10], x=[0], y=[0], p=[1], sensor_size=(5, 4)))
        with pytest.raises(ExportError, match="step"):
            writer.write(Events.from_dense(torch.ones(2, 1, 4, 4)))
    assert len(aedat4.read(tmp_path / "a.aedat4")) == 2


def test_batches_write_one_file_per_sample_or_refuse(tmp_path: Path) -> None:
    events = eventcode.rate(torch.rand(3, 1, 5, 5), num_steps=8, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ExportError, match="placeholder"):
        aedat4.write(tmp_path / "batch.aedat4", events, dt_us=100)
    aedat4.write(tmp_path / "digit_{}.aedat4", events, dt_us=100)
    assert [aedat4.read(tmp_path / f"digit_{b}.aedat4") for b in range(3)] == [events[b] for b in range(3)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"compression": "gzip"}, ExportError, "compression 'gzip'"),
        ({"dt_us": 0}, OptionError, "dt_us"),
        ({}, ExportError, "dt_us"),
        ({"dt_us": 2**62, "t0_us": 2**62}, ExportError, "beyond the int64"),  # step 1 at 2**63 us
    ],
)
def test_bad_write_options(tmp_path: Path, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        aedat4.write(tmp_path / "a.aedat4", Events.from_dense(torch.ones(2, 1, 3)), **kwargs)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------- atomic writes
def fail_midway(path: Path) -> None:
    with aedat4.Writer(path, sensor_size=(4, 4)) as writer:
        writer.write(Events(t=[1], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
        raise RuntimeError("boom")


def test_failure_inside_the_writer_leaves_no_file_and_keeps_an_old_one(tmp_path: Path) -> None:
    path = tmp_path / "a.aedat4"
    with pytest.raises(RuntimeError, match="boom"):
        fail_midway(path)
    assert not path.exists()
    aedat4.write(path, Events(t=[3], x=[1], y=[1], p=[0], sensor_size=(4, 4)))
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        fail_midway(path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_failure_while_compressing_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.aedat4"
    aedat4.write(path, random_stream(10))
    before = path.read_bytes()
    calls = []

    def failing(code: int, payload: bytes) -> bytes:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return payload

    monkeypatch.setattr(aedat4, "_compress", failing)
    with pytest.raises(OSError, match="disk full"):
        aedat4.write(path, random_stream(200_000))
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
    with pytest.raises(ExportError, match="exists"):
        aedat4.write(path, random_stream(10), overwrite=False)


# ---------------------------------------------------------------------- peers read our files
@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str | None, tuple[Path, Events]]:
    """Our files, one per compression, of 150,000 events (three packets)."""
    folder = tmp_path_factory.mktemp("ours")
    events = random_stream(150_000, seed=7)
    files = {}
    for compression in COMPRESSIONS:
        path = folder / f"ours_{compression}.aedat4"
        aedat4.write(path, events, compression=compression)
        files[compression] = (path, events)
    return files


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_dv_processing_reads_our_files(written: dict, compression: str | None) -> None:
    dv = pytest.importorskip("dv_processing")
    path, events = written[compression]
    recording = dv.io.MonoCameraRecording(str(path))
    assert recording.getEventResolution() == (WIDTH, HEIGHT)
    parts = []
    while (batch := recording.getNextEventBatch()) is not None:
        parts.append(batch.numpy())
    got = np.concatenate(parts)
    assert same(events, got["timestamp"], got["x"], got["y"], got["polarity"])
    first, last = recording.getTimeRange()
    assert (first, last) == (int(events.t[0]), int(events.t[-1]))  # served from our data table


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_aedat_reads_our_files(written: dict, compression: str | None) -> None:
    path, events = written[compression]
    decoder = aedat.Decoder(str(path))
    assert decoder.id_to_stream()[0]["width"] == WIDTH
    got = np.concatenate([packet["events"] for packet in decoder if "events" in packet])
    assert same(events, got["t"], got["x"], got["y"], got["on"])


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_faery_reads_our_files(written: dict, compression: str | None) -> None:
    faery = pytest.importorskip("faery")
    path, events = written[compression]
    got = faery.events_stream_from_file(str(path)).to_array()
    assert same(events, got["t"], got["x"], got["y"], got["on"])


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_tonic_reads_our_files(written: dict, compression: str | None) -> None:
    tonic_io = pytest.importorskip("tonic.io")
    path, events = written[compression]
    got = tonic_io.read_aedat4(str(path))
    assert same(events, got["t"], got["x"], got["y"], got["p"])


def test_peers_read_step_time_files(tmp_path: Path) -> None:
    dv = pytest.importorskip("dv_processing")
    faery = pytest.importorskip("faery")
    events = eventcode.rate(
        torch.rand(1, 1, 28, 28), num_steps=40, generator=torch.Generator().manual_seed(5)
    )
    path = tmp_path / "steps.aedat4"
    aedat4.write(path, events, dt_us=1000)
    expected = events.to_us(1000)
    assert same(
        expected, *(faery.events_stream_from_file(str(path)).to_array()[k] for k in ("t", "x", "y", "on"))
    )
    recording = dv.io.MonoCameraRecording(str(path))
    assert recording.getEventResolution() == (28, 28)
    assert recording.getCameraName() == "eventcode"


# ---------------------------------------------------------------------- we read theirs
def test_reference_files_read_bit_exactly(shared: Path) -> None:
    folder = shared / "data/reference"
    manifest = json.loads((folder / "manifest.json").read_text())
    expected = np.load(folder / "events.npy")
    assert len(manifest["aedat4_files"]) >= 8
    for entry in manifest["aedat4_files"]:
        events = aedat4.read(folder / entry["file"])
        assert events.sensor_size == (WIDTH, HEIGHT, 2)
        assert same(events, expected["t"], expected["x"], expected["y"], expected["p"]), entry["file"]
        if entry["writer"] == "dv-processing":
            assert aedat4.info(folder / entry["file"]).compression == entry["compression"].lower()


def test_reference_time_windows_match_slicing(shared: Path) -> None:
    path = shared / "data/reference/dv_zstd.aedat4"
    events = aedat4.read(path)
    t0, t1 = int(events.t[50_000]), int(events.t[120_000])
    assert aedat4.read(path, t_start=t0, t_end=t1) == events.time_slice(t0, t1)


def test_real_recordings_match_their_manifest(shared: Path) -> None:
    manifest = json.loads((shared / "data/real/manifest.json").read_text())
    entries = [f for f in manifest["files"] if f["format"] == "AEDAT 4.0"]
    assert entries
    for entry in entries:
        events = aedat4.read(shared / "data/real" / entry["path"])
        truth = entry["summary"]
        assert len(events) == truth["events"]
        assert events.sensor_size[:2] == tuple(truth["sensor_resolution"])
        assert (int(events.t[0]), int(events.t[-1])) == (truth["t_first_us"], truth["t_last_us"])
        assert (int(events.p.sum()), int((~events.p).sum())) == (truth["on"], truth["off"])
        assert (int(events.x.min()), int(events.x.max())) == (truth["x_min"], truth["x_max"])
        assert (int(events.y.min()), int(events.y.max())) == (truth["y_min"], truth["y_max"])
        decoder = aedat.Decoder(str(shared / "data/real" / entry["path"]))
        got = np.concatenate([packet["events"] for packet in decoder if packet["stream_id"] == 0])
        assert same(events, got["t"], got["x"], got["y"], got["on"])


# ---------------------------------------------------------------------- bad files
@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("small") / "small.aedat4"
    aedat4.write(path, random_stream(3_000, seed=9), compression="lz4")
    return path.read_bytes()


def read_bytes(tmp_path: Path, data: bytes) -> Events:
    path = tmp_path / "bad.aedat4"
    path.write_bytes(data)
    return aedat4.read(path)


def test_truncated_files_raise_our_error(tmp_path: Path, small_file: bytes) -> None:
    for cut in sorted(
        {0, 5, 13, 14, 17, 40, 200, len(small_file) // 2, len(small_file) - 9, len(small_file) - 1}
    ):
        with pytest.raises(FileFormatError, match=r"byte \d+"):
            read_bytes(tmp_path, small_file[:cut])


def test_wrong_magic_and_unknown_compression(tmp_path: Path, small_file: bytes) -> None:
    with pytest.raises(FileFormatError, match=r"byte 0: not an AEDAT 4\.0 file"):
        read_bytes(tmp_path, b"#!AER-DAT3.1\r\n" + small_file[14:])
    bad = bytearray(small_file)
    struct.pack_into("<i", bad, 14 + 28, 9)  # the IOHeader's compression field
    with pytest.raises(FileFormatError, match="unknown compression type 9"):
        read_bytes(tmp_path, bytes(bad))


def test_packet_sizes_past_the_end_or_claiming_gigabytes(tmp_path: Path, small_file: bytes) -> None:
    meta_path = tmp_path / "meta.aedat4"
    meta_path.write_bytes(small_file)
    first = packets(meta_path)[0]
    no_table = bytearray(small_file)
    struct.pack_into("<q", no_table, 14 + 32, -1)  # forget the table: the reader walks the packets
    for size in (len(small_file), 2**31 - 1, -5):
        bad = bytearray(no_table)
        struct.pack_into("<i", bad, first.offset - 4, size)
        with pytest.raises(FileFormatError, match=rf"byte {first.offset - 8}: packet of"):
            read_bytes(tmp_path, bytes(bad))


def test_a_frame_claiming_gigabytes_is_refused_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "zstd.aedat4"
    aedat4.write(path, random_stream(100, seed=4), compression="zstd")
    first = packets(path)[0]
    data = bytearray(path.read_bytes())
    struct.pack_into("<q", data, 14 + 32, -1)  # forget the table: the reader walks the packets
    # A zstd frame: magic, single-segment header with an 8-byte content size of 2 GiB, one empty block.
    bomb = struct.pack("<IBQ", 0xFD2FB528, 0xE0, 2**31) + b"\x01\x00\x00"
    blob = data[: first.offset - 4] + struct.pack("<i", len(bomb)) + bomb
    with pytest.raises(
        FileFormatError, match=rf"byte {first.offset}: the zstd frame claims 2147483648 bytes"
    ):
        read_bytes(tmp_path, bytes(blob))


def test_a_file_without_event_streams(tmp_path: Path, small_file: bytes) -> None:
    bad = small_file.replace(b">EVTS</attr>", b">IMUS</attr>", 1)
    with pytest.raises(FileFormatError, match="no event stream"):
        read_bytes(tmp_path, bad)


def test_events_outside_the_sensor_and_unsorted_time(tmp_path: Path) -> None:
    path = tmp_path / "a.aedat4"
    aedat4.write(
        path, Events(t=[1, 2, 3], x=[0, 1, 2], y=[0, 0, 0], p=[1, 1, 1], sensor_size=(3, 1)), compression=None
    )
    data = path.read_bytes()
    start = packets(path)[0].offset + 32  # first event struct
    bad = bytearray(data)
    struct.pack_into("<h", bad, start + 16 + 8, 7)  # second event's x
    with pytest.raises(FileFormatError, match=r"outside the declared 3x1 sensor: x\[1\] = 7 is outside"):
        read_bytes(tmp_path, bytes(bad))
    bad = bytearray(data)
    struct.pack_into("<q", bad, start + 16, 5)  # the second event's t: the third goes back (the table agrees)
    with pytest.raises(
        FileFormatError, match=rf"byte {start - 32}: .*t\[2\] = 3 comes after t\[1\] = 5.*sort=True"
    ):
        read_bytes(tmp_path, bytes(bad))
    (tmp_path / "bad.aedat4").write_bytes(bytes(bad))
    assert aedat4.read(tmp_path / "bad.aedat4", sort=True).t.tolist() == [1, 3, 5]


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_corrupted_files_raise_our_error_or_read_cleanly(
    tmp_path: Path, small_file: bytes, data: st.DataObject
) -> None:
    blob = bytearray(small_file)
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(blob) - 1))
        blob[where] = data.draw(st.integers(0, 255))
    blob = blob[: data.draw(st.integers(0, len(blob)))]
    try:
        events = read_bytes(tmp_path, bytes(blob))
    except FileFormatError:
        return
    assert bool((events.t[1:] >= events.t[:-1]).all())  # whatever reads cleanly is a valid stream
    for chunk in aedat4.read_chunks(tmp_path / "bad.aedat4", chunk_events=1000):
        assert chunk.num_samples == 1


@pytest.fixture(scope="module")
def small_packets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Events]]:
    """Files of small and variable packets, as cameras write them: faery's encoder fed 100 to
    700 events a packet (LZ4 with checksums) and dv-processing's writer fed 512-event packets
    (uncompressed, and ZSTD)."""
    faery = pytest.importorskip("faery")
    dv = pytest.importorskip("dv_processing")
    from faery.events_stream import EVENTS_DTYPE

    events = random_stream(20_000, seed=12)
    t, x, y, p = (getattr(events, k).numpy() for k in "txyp")
    folder = tmp_path_factory.mktemp("small_packets")
    ends = np.cumsum(np.random.default_rng(4).integers(100, 700, 60))
    cuts = [0, *ends[ends < len(t)].tolist(), len(t)]
    array = np.empty(len(t), EVENTS_DTYPE)
    array["t"], array["x"], array["y"], array["on"] = t, x, y, p
    attribute = faery.aedat.DescriptionAttribute
    info = faery.aedat.DescriptionNode(
        "info",
        "/mainloop/Recorder/outInfo/0/info/",
        {"sizeX": attribute("int", WIDTH), "sizeY": attribute("int", HEIGHT)},
        [],
    )
    names = {"compression": attribute("string", "LZ4"), "typeIdentifier": attribute("string", "EVTS")}
    stream = faery.aedat.DescriptionNode("0", "/mainloop/Recorder/outInfo/0/", names, [info])
    files = {"faery lz4": folder / "faery.aedat4"}
    with faery.aedat.Encoder(
        files["faery lz4"],
        [faery.aedat.DescriptionNode("outInfo", "/mainloop/Recorder/outInfo/", {}, [stream])],
        ("lz4", 1),
    ) as encoder:
        for a, b in itertools.pairwise(cuts):
            encoder.write(0, array[a:b])
    store = dv.EventStore()
    for event in zip(t.tolist(), x.tolist(), y.tolist(), p.tolist(), strict=True):
        store.push_back(*event)
    for name, kind in (("dv none", dv.CompressionType.NONE), ("dv zstd", dv.CompressionType.ZSTD)):
        files[name] = folder / f"{name.replace(' ', '_')}.aedat4"
        config = dv.io.MonoCameraWriter.EventOnlyConfig("test", (WIDTH, HEIGHT), compression=kind)
        writer = dv.io.MonoCameraWriter(str(files[name]), config)
        for a in range(0, len(t), 512):
            writer.writeEventPacket(store.slice(a, min(512, len(t) - a)).toPacket())
        del writer  # closing writes the packet table
    return {name: (path, events) for name, path in files.items()}


def test_peers_small_packets_are_read_a_group_at_a_time(
    small_packets: dict[str, tuple[Path, Events]], davis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = []
    real = aedat4._placed_payloads
    monkeypatch.setattr(aedat4, "_placed_payloads", lambda *args: placed.append(real(*args)) or placed[-1])
    for name, (path, events) in small_packets.items():
        assert len(packets(path)) >= 30, name
        placed.clear()
        assert aedat4.read(path) == events, name
        assert placed, name
        assert all(placed), name  # no group went packet by packet
        assert aedat4.read(path) == joined(list(aedat4.read_chunks(path, chunk_events=3_000))), name
    placed.clear()
    events = [records for kind, records, _, _ in aedat_streams(davis).values() if kind == "EVTS"]
    assert [len(aedat4.read(davis))] == events  # event packets between frames, IMU samples and triggers
    assert placed
    assert all(placed)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_group_reads_fail_and_succeed_as_packet_by_packet_reads(
    tmp_path: Path, small_packets: dict[str, tuple[Path, Events]], data: st.DataObject
) -> None:
    """Bytes changed in the packets of a peer's file: reading a group at a time gives what
    reading packet by packet gives (the same events, or the same error)."""
    source = small_packets[data.draw(st.sampled_from(sorted(small_packets)))][0]
    listed = packets(source)
    blob = bytearray(source.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        packet = data.draw(st.sampled_from(listed))
        where = data.draw(st.integers(packet.offset - 8, packet.offset + packet.size - 1))
        blob[where] = data.draw(st.integers(0, 255))
    path = tmp_path / "changed.aedat4"
    path.write_bytes(bytes(blob))

    def outcome() -> object:
        try:
            return columns(aedat4.read(path))
        except FileFormatError as err:
            return str(err)

    grouped = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aedat4, "_payloads_into", lambda *args: False)
        one_by_one = outcome()
    if isinstance(grouped, str) or isinstance(one_by_one, str):
        assert grouped == one_by_one
    else:
        assert all(np.array_equal(a, b) for a, b in zip(grouped, one_by_one, strict=True))


def test_step_times_off_the_recorded_steps_are_refused(tmp_path: Path) -> None:
    events = Events.from_dense(torch.ones(4, 1, 2, 2))  # 16 events, 4 steps
    path = tmp_path / "steps.aedat4"
    aedat4.write(path, events, compression=None, dt_us=1000)
    event = packets(path)[0].offset + 32 + 16 * 11  # the last event of step 2 (the table lists t of the ends)
    data = bytearray(path.read_bytes())
    struct.pack_into("<q", data, event, struct.unpack_from("<q", data, event)[0] + 1)  # 1 us past its step
    with pytest.raises(FileFormatError, match=r"not on the recorded step time.*t\[11\] = 2001 us"):
        read_bytes(tmp_path, bytes(data))


# ---------------------------------------------------------------------- compression names
def header(path: Path) -> Buffer:
    """The IOHeader of an AEDAT 4.0 file, parsed."""
    data = path.read_bytes()
    return Buffer(data[14 : 18 + struct.unpack_from("<I", data, 14)[0]], b"IOHE", 14)


@pytest.mark.parametrize(
    ("spelling", "dv_name"),
    [
        (None, "NONE"),
        ("NONE", "NONE"),
        ("LZ4", "LZ4"),
        ("lz4", "LZ4"),
        ("LZ4_HIGH", "LZ4_HIGH"),
        ("lz4-high", "LZ4_HIGH"),
        ("ZSTD", "ZSTD"),
        ("zstd-3", "ZSTD"),
        ("ZSTD_HIGH", "ZSTD_HIGH"),
        ("zstd-22", "ZSTD_HIGH"),
        ("Zstd_High", "ZSTD_HIGH"),
    ],
)
def test_compression_names_in_any_spelling_write_what_dv_processing_writes(
    shared: Path, tmp_path: Path, spelling: str | None, dv_name: str
) -> None:
    theirs = shared / f"data/reference/dv_{dv_name.lower()}.aedat4"
    ours = tmp_path / "a.aedat4"
    aedat4.write(ours, random_stream(10), compression=spelling)
    with aedat4.Writer(tmp_path / "b.aedat4", sensor_size=(WIDTH, HEIGHT), compression=spelling) as writer:
        writer.write(random_stream(10))
    their_code = header(theirs).scalar(header(theirs).root, 0, "<i", 0)
    for path in (ours, tmp_path / "b.aedat4"):
        assert header(path).scalar(header(path).root, 0, "<i", 0) == their_code
        assert aedat4.info(path).compression == aedat4.info(theirs).compression == dv_name.lower()


# ---------------------------------------------------------------------- streams other than events
AEDAT_TYPES = {"events": "EVTS", "imus": "IMUS", "triggers": "TRIG", "frame": "FRME"}


def aedat_streams(path: Path) -> dict[int, tuple[str, int, int | None, int | None]]:
    """``(type, records, first t, last t)`` of each stream, as the ``aedat`` package decodes them."""
    decoder = aedat.Decoder(str(path))
    times: dict[int, list[int]] = {i: [] for i in decoder.id_to_stream()}
    kinds = {i: AEDAT_TYPES[stream["type"]] for i, stream in decoder.id_to_stream().items()}
    for packet in decoder:
        key = next(k for k in AEDAT_TYPES if k in packet)
        records = packet[key]
        times[packet["stream_id"]] += [records["t"]] if key == "frame" else records["t"].tolist()
    return {i: (kinds[i], len(t), min(t, default=None), max(t, default=None)) for i, t in times.items()}


def dv_streams(path: Path) -> dict[str, object]:
    """Every stream as dv-processing reads it: events, IMU samples, triggers, frames, time range."""
    dv = pytest.importorskip("dv_processing")
    recording = dv.io.MonoCameraRecording(str(path))
    events = []
    while (batch := recording.getNextEventBatch()) is not None:
        events.append(batch.numpy())
    imu, triggers, frames = [], [], []
    while recording.isImuStreamAvailable() and (batch := recording.getNextImuBatch()) is not None:
        imu += [
            (s.timestamp, s.temperature, *s.getAccelerations().tolist(), *s.getAngularVelocities().tolist())
            for s in batch
        ]
    while recording.isTriggerStreamAvailable() and (batch := recording.getNextTriggerBatch()) is not None:
        triggers += [(trigger.timestamp, int(trigger.type)) for trigger in batch]
    while recording.isFrameStreamAvailable() and (frame := recording.getNextFrame()) is not None:
        frames.append((frame.timestamp, frame.image.tobytes()))
    return {
        "events": np.concatenate(events).tolist(),
        "imu": imu,
        "triggers": triggers,
        "frames": frames,
        "time range": recording.getTimeRange(),
        "resolution": recording.getEventResolution(),
    }


@pytest.fixture(scope="module")
def davis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DAVIS-like recording written by dv-processing: events, frames, IMU samples and triggers."""
    dv = pytest.importorskip("dv_processing")
    path = tmp_path_factory.mktemp("davis") / "davis.aedat4"
    rng = np.random.default_rng(11)
    config = dv.io.MonoCameraWriter.DAVISConfig("DAVIS346_test", (64, 48), dv.CompressionType.LZ4)
    writer = dv.io.MonoCameraWriter(str(path), config)
    for k in range(30):
        base = 1_700_000_000_000_000 + k * 10_000
        store = dv.EventStore()
        columns = (np.sort(rng.integers(0, 10_000, 3000)) + base, rng.integers(0, 64, 3000))
        for t, x, y, p in zip(*columns, rng.integers(0, 48, 3000), rng.random(3000) < 0.5, strict=True):
            store.push_back(int(t), int(x), int(y), bool(p))
        writer.writeEvents(store)
        writer.writeFrame(dv.Frame(base + 5000, rng.integers(0, 255, (48, 64), dtype=np.uint8)))
        for j in range(7):
            writer.writeImu(dv.IMU(base + j * 1000, 30.0 + j, j, 0.5, -1.0, 0.1, 0.2, 0.3, 0.0, 0.0, 0.0))
        writer.writeTrigger(dv.Trigger(base + 123, dv.TriggerType.EXTERNAL_SIGNAL_RISING_EDGE))
    del writer  # closing writes the packet table
    return path


def recordings(shared: Path, davis: Path) -> list[Path]:
    return [shared / "data/real/aedat4/tonic_sample.aedat4", davis]


def without_table(source: Path, target: Path) -> Path:
    """``source`` without its packet table, as a writer that crashed before the end leaves it."""
    data = bytearray(source.read_bytes())
    at = 14 + header(source).field(header(source).root, 1)  # the dataTablePosition field
    table_at = struct.unpack_from("<q", data, at)[0]
    struct.pack_into("<q", data, at, -1)
    target.write_bytes(data[:table_at])
    return target


def test_info_describes_every_stream_as_aedat_decodes_it(shared: Path, davis: Path) -> None:
    for path in recordings(shared, davis):
        meta = aedat4.info(path)
        described = {s.id: (s.type, s.records, s.first, s.last) for s in meta.streams}
        assert described == aedat_streams(path), path.name
        events = by_id(meta)[meta.extras["event_stream"]]
        assert meta.sensor_size[:2] == events.size
        assert (meta.events, meta.first, meta.last) == (events.records, events.first, events.last)
        assert (meta.format, meta.samples, meta.time_unit, meta.num_steps, meta.dt_us) == (
            "aedat4",
            1,
            "us",
            None,
            None,
        )
    tonic = aedat4.info(shared / "data/real/aedat4/tonic_sample.aedat4").streams
    assert [(s.name, s.packets) for s in tonic] == [("events", 59), ("imu", 59), ("triggers", 0)]
    assert by_id(aedat4.info(davis))[1].records == 30  # frames, one per packet


def test_without_a_table_the_flatbuffers_give_the_tables_counts(
    shared: Path, davis: Path, tmp_path: Path
) -> None:
    folder = shared / "data/reference"
    for path in [*recordings(shared, davis), folder / "dv_zstd_high.aedat4", folder / "faery_zstd_1.aedat4"]:
        bare = without_table(path, tmp_path / f"bare_{path.name}")
        meta, listed = aedat4.info(bare), aedat4.info(path)  # the table dv-processing or faery wrote
        assert not meta.extras["has_table"]
        assert meta.streams == listed.streams, path.name
        assert meta.extras["packets"] == listed.extras["packets"], path.name
        assert aedat4.read(bare) == aedat4.read(path)


def test_a_table_listing_an_empty_event_packet_reads(tmp_path: Path) -> None:
    """An empty event packet listed in the table, alone in its group of packets."""
    events = random_stream(aedat4.PACKET_EVENTS[0], seed=5)  # one full packet, then the empty one
    path = tmp_path / "a.aedat4"
    aedat4.write(path, events, compression=None)
    bare = without_table(path, tmp_path / "bare.aedat4")
    listed = packets(path)
    empty = struct.pack("<II4s3H2xiII", 28, 16, b"EVTS", 6, 8, 4, 8, 4, 0)  # an EventPacket of 0 events
    with open(bare, "r+b") as file:
        file.seek(0, 2)
        file.write(struct.pack("<ii", 0, len(empty)))
        at = file.tell()
        file.write(empty)
        rows = [(p.offset, p.stream, p.size, p.count, p.first, p.last) for p in listed]
        aedat4._append_table(file, 0, [*rows, (at, 0, len(empty), 0, 0, 0)])
    assert [p.count for p in packets(bare)] == [len(events), 0]
    assert aedat4.read(bare) == events
    assert joined(list(aedat4.read_chunks(bare, chunk_events=1000))) == events


def test_transcode_of_a_packet_without_a_time_range_writes_no_table(tmp_path: Path) -> None:
    path = tmp_path / "a.aedat4"
    aedat4.write(path, random_stream(100, seed=2), compression=None)
    bare = without_table(path, tmp_path / "bare.aedat4")
    empty = struct.pack("<II4s3H2xiII", 28, 16, b"EVTS", 6, 8, 4, 8, 4, 0)  # an EventPacket of 0 events
    bare.write_bytes(bare.read_bytes() + struct.pack("<ii", 0, len(empty)) + empty)
    aedat4.transcode(bare, tmp_path / "out.aedat4", "lz4")
    meta = aedat4.info(tmp_path / "out.aedat4")
    assert not meta.extras["has_table"]
    assert (meta.streams[0].packets, meta.streams[0].records) == (2, 100)
    assert aedat_streams(tmp_path / "out.aedat4") == aedat_streams(path)
    assert aedat4.read(tmp_path / "out.aedat4") == aedat4.read(path)


@pytest.mark.parametrize("compression", [None, "none", "LZ4_HIGH", "zstd", "zstd-22"])
def test_transcode_keeps_every_stream_for_every_peer(
    shared: Path, davis: Path, tmp_path: Path, compression: str | None
) -> None:
    faery = pytest.importorskip("faery")
    for source in recordings(shared, davis):
        target = tmp_path / source.name
        aedat4.transcode(source, target, compression)
        expected = aedat4.info(source).compression if compression is None else compression.lower()
        assert aedat4.info(target).compression == expected.replace("-22", "_high").replace("-", "_")
        assert dv_streams(target) == dv_streams(source), source.name
        assert aedat_streams(target) == aedat_streams(source)
        assert np.array_equal(
            faery.events_stream_from_file(str(target)).to_array(),
            faery.events_stream_from_file(str(source)).to_array(),
        )
        assert aedat4.read(target) == aedat4.read(source)
        names = {
            a.text
            for a in ElementTree.fromstring(header(target).string(header(target).root, 2)).iter("attr")
            if a.get("key") == "compression"
        }
        assert names == {aedat4.DV_NAMES[aedat4.CODES[aedat4.info(target).compression]]}
    assert len(dv_streams(tmp_path / "tonic_sample.aedat4")["imu"]) == 475


def test_transcode_copies_packets_byte_for_byte_when_the_compression_stays(
    shared: Path, tmp_path: Path
) -> None:
    source, target = shared / "data/real/aedat4/tonic_sample.aedat4", tmp_path / "copy.aedat4"
    aedat4.transcode(source, target)

    def contents(path: Path) -> list[tuple]:
        data = path.read_bytes()
        return [
            (p.stream, p.count, p.first, p.last, data[p.offset : p.offset + p.size]) for p in packets(path)
        ]

    assert contents(target) == contents(source)


def test_transcode_reports_progress_refuses_damage_and_writes_atomically(
    shared: Path, tmp_path: Path
) -> None:
    source, target = shared / "data/real/aedat4/tonic_sample.aedat4", tmp_path / "out.aedat4"
    done: list[int] = []
    aedat4.transcode(source, target, "zstd", progress=done.append)
    assert done == sorted(done)
    assert done[-1] == len(aedat4.read(source))
    target.write_bytes(b"old")
    cut = tmp_path / "cut.aedat4"
    cut.write_bytes(source.read_bytes()[:500_000])
    with pytest.raises(FileFormatError, match="salvage=True"):
        aedat4.transcode(cut, target)
    with pytest.raises(ExportError, match="exists"):
        aedat4.transcode(source, target, overwrite=False)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.aedat4", "out.aedat4"]


def test_transcode_salvages_a_truncated_recording(shared: Path, tmp_path: Path) -> None:
    source = shared / "data/real/aedat4/tonic_sample.aedat4"
    cut, target = tmp_path / "cut.aedat4", tmp_path / "out.aedat4"
    end = 500_000
    cut.write_bytes(source.read_bytes()[:end])
    with pytest.warns(DataLossWarning, match="truncated"):
        aedat4.transcode(cut, target, "lz4_high", salvage=True)
    complete = [p for p in packets(source) if p.offset + p.size <= end]
    imu = sum(p.count for p in complete if p.stream == 2)
    assert len(dv_streams(target)["imu"]) == imu > 0
    assert aedat_streams(target)[2][1] == imu
    assert aedat4.read(target) == _piece(
        aedat4.read(source), 0, sum(p.count for p in complete if p.stream == 0)
    )


# ---------------------------------------------------------------------- truncated and salvaged
@pytest.mark.parametrize(
    "name",
    [
        "real/aedat4/tonic_sample.aedat4",
        "reference/dv_lz4.aedat4",
        "reference/dv_zstd_high.aedat4",
        "reference/faery_none.aedat4",
        "reference/faery_zstd_1.aedat4",
    ],
)
def test_truncated_recordings_say_so_and_salvage_their_complete_packets(
    shared: Path, tmp_path: Path, name: str
) -> None:
    source = shared / "data" / name
    data, meta, full = source.read_bytes(), aedat4.info(source), aedat4.read(source)
    listed, event_stream = meta.extras["packets"], meta.extras["event_stream"]
    events = [p for p in listed if p.stream == event_stream]
    table_at = listed[-1].offset + listed[-1].size
    inside = {events[1].offset + 100, events[2].offset - 8, len(data) // 2}  # mid-packet, between, middle
    path = tmp_path / "cut.aedat4"
    for cut in sorted(inside | {table_at, len(data) - 3}):
        path.write_bytes(data[:cut])
        with pytest.raises(FileFormatError, match="truncated" if cut in inside else "table") as error:
            aedat4.read(path)
        assert "salvage=True" in str(error.value)
        complete = [p for p in listed if p.offset + p.size <= cut]  # as the writer's own table lists them
        kept = sum(p.count for p in complete if p.stream == event_stream)
        lost = cut - (complete[-1].offset + complete[-1].size)
        with pytest.warns(DataLossWarning, match=f"left out {lost} bytes"):
            salvaged = aedat4.read(path, salvage=True)
        assert salvaged == _piece(full, 0, kept), cut
        with pytest.warns(DataLossWarning, match=f"left out {lost} bytes"):
            chunks = list(aedat4.read_chunks(path, chunk_events=5000, salvage=True))
        assert joined(chunks) == salvaged
        with pytest.warns(DataLossWarning, match=f"left out {lost} bytes"):
            salvaged_info = aedat4.info(path, salvage=True)
        assert salvaged_info.events == by_id(salvaged_info)[event_stream].records == kept
    path.write_bytes(data[:30])  # inside the header: nothing to salvage
    with pytest.raises(FileFormatError, match="header"):
        aedat4.read(path, salvage=True)


@pytest.mark.parametrize(("name", "damage"), [("dv_lz4.aedat4", "frame"), ("dv_none.aedat4", "x")])
def test_salvage_stops_at_a_corrupt_packet(shared: Path, tmp_path: Path, name: str, damage: str) -> None:
    source = shared / "data/reference" / name
    listed, full = packets(source), aedat4.read(source)
    bad = listed[5]
    data = bytearray(source.read_bytes())
    if damage == "frame":
        data[bad.offset : bad.offset + 4] = bytes(4)  # no LZ4 frame magic
    else:
        struct.pack_into("<h", data, bad.offset + 32 + 16 * 7 + 8, WIDTH)  # event 7's x, just outside
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(FileFormatError, match=rf"byte {bad.offset}: .*salvage=True"):
        aedat4.read(path)
    table_at = listed[-1].offset + listed[-1].size
    with pytest.warns(DataLossWarning, match=f"left out {table_at - (bad.offset - 8)} bytes"):
        salvaged = aedat4.read(path, salvage=True)
    assert salvaged == _piece(full, 0, sum(p.count for p in listed[:5]))
    if damage == "frame":  # info reads the FlatBuffers, not the events: an x out of range passes
        bare = without_table(path, tmp_path / "bare.aedat4")
        with pytest.warns(DataLossWarning, match=f"left out {table_at - (bad.offset - 8)} bytes"):
            assert packets(bare, salvage=True) == listed[:5]


# ---------------------------------------------------------------------- numpy columns
def test_read_columns_are_the_columns_of_read_chunks(tmp_path: Path) -> None:
    images = torch.rand(1, 2, 9, 7, generator=torch.Generator().manual_seed(3))
    steps = eventcode.rate(images, num_steps=500, generator=torch.Generator().manual_seed(4))
    aedat4.write(tmp_path / "steps.aedat4", steps, dt_us=100, t0_us=7, channels="tile")
    aedat4.write(tmp_path / "us.aedat4", random_stream(100_000, seed=5))
    for name, keys in (("steps.aedat4", "txypc"), ("us.aedat4", "txyp")):
        path = tmp_path / name
        pairs = zip(aedat4.read_columns(path, 20_000), aedat4.read_chunks(path, 20_000), strict=True)
        for columns, chunk in pairs:
            assert list(columns) == list(keys)
            assert [columns[k].dtype.name for k in "txyp"] == ["int64", "int16", "int16", "bool"]
            for key in keys:
                assert np.array_equal(columns[key], getattr(chunk, key).numpy())
    window = list(aedat4.read_columns(tmp_path / "steps.aedat4", t_start=100, t_end=300))
    assert np.array_equal(np.concatenate([c["t"] for c in window]), steps.time_slice(100, 300).t.numpy())


def test_read_columns_runs_without_torch(tmp_path: Path) -> None:
    path = tmp_path / "a.aedat4"
    aedat4.write(path, random_stream(1000))
    script = (
        "import sys\n"
        "from exporters import aedat4\n"
        "n = sum(len(chunk['t']) for chunk in aedat4.read_columns(sys.argv[1]))\n"
        "print(n, aedat4.info(sys.argv[1]).streams[0].records, 'torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1000", "1000", "False"]


# ---------------------------------------------------------------------- the format contract
def test_sniff_knows_the_magic_line_and_nothing_else(shared: Path, small_file: bytes) -> None:
    theirs = sorted((shared / "data/reference").glob("*.aedat4"))
    assert theirs
    for path in [*theirs, shared / "data/real/aedat4/tonic_sample.aedat4"]:
        assert aedat4.sniff(path.read_bytes()[:4096]) == 1.0, path.name
    assert aedat4.sniff(small_file[:20]) == 1.0
    others = [b"", b"#!AER-DAT", b"#!AER-DAT3.1\r\n", b"\x89HDF\r\n\x1a\n" + bytes(100), small_file[1:]]
    assert [aedat4.sniff(head) for head in others] == [0.0] * len(others)


def test_the_arguments_of_the_contract(tmp_path: Path) -> None:
    events = random_stream(1000, seed=6)
    path = tmp_path / "a.aedat4"
    aedat4.write(path, events, compression="zstd", dt_us=None, overwrite=True)
    with pytest.raises(TypeError):
        aedat4.read(path, 5)  # type: ignore[misc]  # t_start is keyword-only: 5 would have meant a window
    with pytest.raises(TypeError):
        aedat4.write(path, events, "lz4")  # type: ignore[misc]
    assert all(aedat4.read(path, sample=sample) == events for sample in (None, 0, -1))
    for sample in (1, -2, True, "0", 0.5):
        with pytest.raises(OptionError, match="sample must be None, 0 or -1"):
            aedat4.read(path, sample=sample)  # type: ignore[arg-type]
    for reader in (aedat4.read_chunks, aedat4.read_columns):
        for chunk_events in (0, -5, 1.5, "10"):
            with pytest.raises(OptionError, match="chunk_events must be a positive"):
                reader(path, chunk_events)  # type: ignore[arg-type]  # raised at the call, not while iterating
        with pytest.raises(OptionError, match="sample"):
            reader(path, sample=3)
    t = events.t
    with pytest.raises(OptionError, match="t_end = 5 is before t_start = 6"):
        aedat4.read(path, t_start=6, t_end=5)
    with pytest.raises(OptionError, match="t_start must be an int"):
        aedat4.read(path, t_start=1.5)  # type: ignore[arg-type]
    assert aedat4.read(path, t_start=t[10], t_end=np.int64(t[20])) == events.time_slice(
        int(t[10]), int(t[20])
    )
    assert len(aedat4.read(path, t_start=2**70)) == 0  # beyond int64: no overflow
    assert aedat4.read(path, t_start=-(2**70), t_end=2**70) == events
    with pytest.raises(FileNotFoundError):
        aedat4.read(tmp_path / "missing.aedat4")


def test_the_default_compression_is_what_write_uses(tmp_path: Path) -> None:
    aedat4.write(tmp_path / "a.aedat4", random_stream(10))
    assert aedat4.info(tmp_path / "a.aedat4").compression == aedat4.DEFAULT_COMPRESSION == "lz4"


@pytest.mark.parametrize("compression", [None, "zstd"])
def test_info_gives_the_common_fields_of_a_step_time_file(tmp_path: Path, compression: str | None) -> None:
    images = torch.rand(1, 2, 9, 7, generator=torch.Generator().manual_seed(8))
    events = eventcode.rate(images, num_steps=300, generator=torch.Generator().manual_seed(9))
    path = tmp_path / "steps.aedat4"
    aedat4.write(path, events, compression=compression, dt_us=250, t0_us=-1000, channels="tile")
    meta, back = aedat4.info(path), aedat4.read(path)
    assert back == events
    assert isinstance(meta, FileInfo)
    assert (meta.path, meta.format, meta.samples, meta.time_unit) == (path, "aedat4", 1, "step")
    assert (meta.shape, meta.num_steps, meta.polarities) == (
        events.shape,
        events.num_steps,
        events.polarities,
    )
    assert (meta.dt_us, meta.extras["t0_us"]) == (250, -1000)
    assert meta.sensor_size == (14, 9, 2)
    assert (meta.events, meta.first, meta.last) == (len(events), int(events.t[0]), int(events.t[-1]))
    (stream,) = meta.streams
    assert (stream.type, stream.records, stream.first, stream.last) == (
        "EVTS",
        meta.events,
        meta.first,
        meta.last,
    )
    assert meta.extras["event_stream"] == 0
    assert meta.extras["has_table"]
    assert sum(p.count for p in meta.extras["packets"]) == len(events)


def test_a_file_without_an_event_stream_has_no_event_fields(tmp_path: Path, small_file: bytes) -> None:
    path = tmp_path / "imu.aedat4"
    path.write_bytes(small_file.replace(b">EVTS</attr>", b">IMUS</attr>", 1))
    meta = aedat4.info(path)  # from the packet table, without decoding the packets
    assert (meta.sensor_size, meta.shape, meta.events, meta.first, meta.last) == (None, None, 0, None, None)
    assert meta.extras["event_stream"] is None
    assert [(s.type, s.records) for s in meta.streams] == [("IMUS", 3000)]


# ---------------------------------------------------------------------- damaged tables and sizes
Row = tuple[int, int, int, int, int, int]
"""A packet table entry: payload offset, stream, size, records, first t, last t."""


@pytest.fixture
def four_packets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Events]:
    """400 events written uncompressed in 4 packets of 100 (the writer's packet size made small)."""
    events = random_stream(400, seed=12)
    path = tmp_path / "four.aedat4"
    with monkeypatch.context() as patch:
        patch.setitem(aedat4.PACKET_EVENTS, 0, 100)
        aedat4.write(path, events, compression=None)
    assert [p.count for p in packets(path)] == [100] * 4
    return path, events


def assemble(
    source: Path,
    target: Path,
    stored: list[bytes] | None = None,
    table: Callable[[list[Row]], list[Row]] | None = lambda rows: rows,
) -> Path:
    """``source``'s magic and header, then its event packets (or ``stored`` payloads, as stored, each
    listed with its source packet's records and times), then a packet table listing
    ``table(rows)`` of the true rows (no table when ``table`` is None)."""
    data, listed = source.read_bytes(), packets(source)
    stored = stored if stored is not None else [data[p.offset : p.offset + p.size] for p in listed]
    blob = bytearray(data[: listed[0].offset - 8])
    rows = []
    for payload, packet in zip(stored, listed, strict=True):
        blob += struct.pack("<ii", 0, len(payload))
        rows.append((len(blob), 0, len(payload), packet.count, packet.first, packet.last))
        blob += payload
    position = len(blob) if table is not None else -1
    struct.pack_into("<q", blob, 14 + header(source).field(header(source).root, 1), position)
    if table is not None:
        code = header(source).scalar(header(source).root, 0, "<i", 0)
        blob += aedat4._compress(code, aedat4._data_table(table(rows)))
    target.write_bytes(bytes(blob))
    return target


def test_assemble_rebuilds_the_file_it_takes(four_packets: tuple[Path, Events], tmp_path: Path) -> None:
    path, events = four_packets
    assert assemble(path, tmp_path / "same.aedat4").read_bytes() == path.read_bytes()
    assert aedat4.read(assemble(path, tmp_path / "bare.aedat4", table=None)) == events


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda rows: rows[:2] + rows[3:], "run on from byte"),  # a packet left out: read 300 of 400
        (lambda rows: rows[:3], "the table leaves packets out"),  # the last one left out
        (lambda rows: [rows[1], rows[0], *rows[2:]], "run on from byte"),  # swapped: windows missed them
    ],
)
def test_a_table_that_leaves_out_or_swaps_packets_is_refused(
    four_packets: tuple[Path, Events], tmp_path: Path, edit: Callable, problem: str
) -> None:
    path, events = four_packets
    bad = assemble(path, tmp_path / "bad.aedat4", table=edit)
    t = events.t
    for call in (
        lambda: aedat4.read(bad),
        lambda: aedat4.read(bad, t_start=int(t[0]), t_end=int(t[100])),
        lambda: aedat4.info(bad),
    ):
        with pytest.raises(FileFormatError, match=rf"packet table is damaged .*{problem}.*salvage=True"):
            call()
    with pytest.warns(DataLossWarning, match="packet table is damaged"):
        assert aedat4.read(bad, salvage=True) == events  # the packets, walked from their headers
    with pytest.warns(DataLossWarning, match="packet table is damaged"):
        window = aedat4.read(bad, t_start=int(t[0]), t_end=int(t[100]), salvage=True)
    assert window == events.time_slice(int(t[0]), int(t[100]))


@pytest.mark.parametrize(
    ("entry", "change", "listed"),
    [
        (1, {3: 50}, "lists 50 from"),  # records (more than 101 would not fit the packet's bytes)
        (2, {4: 0}, "lists 100 from t = 0 to"),  # first time
        (3, {5: 2**62}, f"to {2**62}"),  # last time
    ],
)
def test_a_packet_that_disagrees_with_its_table_entry_is_refused_or_salvaged(
    four_packets: tuple[Path, Events], tmp_path: Path, entry: int, change: dict, listed: str
) -> None:
    path, events = four_packets
    bad = packets(path)[entry]

    def edit(rows: list[Row]) -> list[Row]:
        row = list(rows[entry])
        for field, value in change.items():
            row[field] = value
        return [*rows[:entry], tuple(row), *rows[entry + 1 :]]  # type: ignore[list-item]

    damaged = assemble(path, tmp_path / "bad.aedat4", table=edit)
    pattern = (
        rf"byte {bad.offset}: the packet holds 100 records from t = {bad.first} to {bad.last}, but .*{listed}"
    )
    with pytest.raises(FileFormatError, match=pattern + ".*salvage=True"):
        aedat4.read(damaged)
    with pytest.raises(FileFormatError, match=pattern):
        list(aedat4.read_columns(damaged, chunk_events=100))
    with pytest.warns(DataLossWarning, match=pattern + ".*own records"):
        assert aedat4.read(damaged, salvage=True) == events  # the packet's own events win
    with pytest.raises(FileFormatError, match=pattern):
        aedat4.transcode(damaged, tmp_path / "copy.aedat4", "lz4")
    with pytest.warns(DataLossWarning, match=pattern):
        aedat4.transcode(damaged, tmp_path / "copy.aedat4", "lz4", salvage=True)
    assert packets(tmp_path / "copy.aedat4")[entry].count == 100  # the new table lists the packet's own
    assert aedat4.read(tmp_path / "copy.aedat4") == events


def test_swapped_table_times_make_a_window_read_every_packet(
    four_packets: tuple[Path, Events], tmp_path: Path
) -> None:
    path, events = four_packets
    t = events.t

    def swap_times(rows: list[Row]) -> list[Row]:
        first, second = rows[0], rows[1]
        return [(*first[:4], *second[4:]), (*second[:4], *first[4:]), *rows[2:]]

    bad = assemble(path, tmp_path / "bad.aedat4", table=swap_times)
    with pytest.raises(FileFormatError, match="but its data table entry lists"):
        aedat4.read(bad, t_start=int(t[0]), t_end=int(t[100]))  # 0 of 100 events, silently, before
    with pytest.warns(DataLossWarning, match="own records"):
        window = aedat4.read(bad, t_start=int(t[0]), t_end=int(t[100]), salvage=True)
    assert window == events.time_slice(int(t[0]), int(t[100]))


def test_swapped_packets_under_their_table_entries_are_refused_or_salvaged(
    four_packets: tuple[Path, Events], tmp_path: Path
) -> None:
    path, events = four_packets
    data = path.read_bytes()
    stored = [data[p.offset : p.offset + p.size] for p in packets(path)]
    bad = assemble(path, tmp_path / "bad.aedat4", [stored[1], stored[0], *stored[2:]])  # the table as it was
    t0, t1 = int(events.t[0]), int(events.t[100])
    with pytest.raises(FileFormatError, match="but its data table entry lists"):
        aedat4.read(bad, t_start=t0, t_end=t1)  # 0 of 100 events, silently, before
    with pytest.warns(DataLossWarning, match="own records"):
        window = aedat4.read(bad, t_start=t0, t_end=t1, salvage=True, sort=True)
    assert window == events.time_slice(t0, t1)  # every packet decoded: their own times count


def set_vector_length(payload: bytes, count: int) -> bytes:
    """An uncompressed EventPacket whose event vector claims ``count`` events (its length field)."""
    edited = bytearray(payload)
    struct.pack_into("<I", edited, 28, count)
    return bytes(edited)


@pytest.mark.parametrize("with_table", [False, True])
def test_an_event_vector_shorter_than_its_packet_is_refused(
    four_packets: tuple[Path, Events], tmp_path: Path, with_table: bool
) -> None:
    path, events = four_packets
    listed = packets(path)
    data = path.read_bytes()
    stored = [data[p.offset : p.offset + p.size] for p in listed]
    stored[1] = set_vector_length(stored[1], 1)  # read 301 of 400 events, silently, before
    bad = assemble(path, tmp_path / "bad.aedat4", stored, table=(lambda rows: rows) if with_table else None)
    problem = rf"byte {listed[1].offset}: the packet's event vector lists 1 events, but 1584 bytes"
    with pytest.raises(FileFormatError, match=problem + ".*salvage=True"):
        aedat4.read(bad)
    with pytest.warns(DataLossWarning, match=problem):
        assert aedat4.read(bad, salvage=True) == _piece(events, 0, 100)  # the packets before it
    if not with_table:  # info counts the events in each FlatBuffer
        with pytest.raises(FileFormatError, match=problem):
            aedat4.info(bad)
        with pytest.warns(DataLossWarning, match=problem):
            assert aedat4.info(bad, salvage=True).events == 100


def with_attribute(source: Path, target: Path, key: str, text: str) -> Path:
    """``source`` (uncompressed) with attribute ``key`` of its event stream's ``info`` node set to
    ``text`` (added if missing), the header rebuilt around it, and no packet table."""
    data = source.read_bytes()
    root = ElementTree.fromstring(header(source).string(header(source).root, 2))
    (node,) = root.iterfind(".//node[@name='info']")
    attr = node.find(f"attr[@key='{key}']")
    if attr is None:
        attr = ElementTree.SubElement(node, "attr", key=key, type="int")
    attr.text = text
    description = ElementTree.tostring(root, encoding="unicode")
    start = 18 + struct.unpack_from("<I", data, 14)[0]
    end = packets(source)[-1].offset + packets(source)[-1].size
    target.write_bytes(aedat4.MAGIC + aedat4._io_header(0, description) + data[start:end])
    return target


@pytest.mark.parametrize(
    ("key", "text", "problem"),
    [
        ("eventcodeDtUs", str(10**30), rf"eventcodeDtUs = {10**30} is outside \[1, 2\*\*63 - 1\]"),
        ("eventcodeDtUs", "1e30", "eventcodeDtUs is '1e30', not an integer"),
        ("eventcodeDtUs", "0", r"eventcodeDtUs = 0 is outside \[1"),
        ("eventcodeNumSteps", str(10**30), rf"eventcodeNumSteps = {10**30} is outside \[0, 2\*\*63 - 1\]"),
        ("eventcodeNumSteps", "-1", r"eventcodeNumSteps = -1 is outside \[0"),
        ("eventcodeT0Us", str(2**63), "eventcodeT0Us = 9223372036854775808 is outside"),
        ("eventcodeT0Us", str(2**63 - 2000), f"reaches {2**63 + 1000} us, outside the file"),  # step 3
        ("eventcodePolarities", "x", "eventcodePolarities is 'x', not an integer"),
    ],
)
def test_eventcode_attributes_out_of_range_name_the_attribute(
    tmp_path: Path, key: str, text: str, problem: str
) -> None:
    events = Events.from_dense(torch.ones(4, 1, 2, 2))  # 16 events, steps 0-3
    path = tmp_path / "steps.aedat4"
    aedat4.write(path, events, compression=None, dt_us=1000)
    unchanged = {"eventcodeDtUs": "1000", "eventcodeNumSteps": "4", "eventcodeT0Us": "0"}
    if key in unchanged:  # the rebuilt file reads back as written with the attribute as written
        assert aedat4.read(with_attribute(path, tmp_path / "same.aedat4", key, unchanged[key])) == events
    bad = with_attribute(path, tmp_path / "bad.aedat4", key, text)
    for call in (aedat4.read, aedat4.info):
        with pytest.raises(FileFormatError, match=problem):  # not a bare OverflowError, nor a bad Events
            call(bad)


def test_step_time_at_the_edge_of_int64_reads_back(tmp_path: Path) -> None:
    events = Events.from_dense(torch.ones(2, 1, 2))  # steps 0 and 1
    path = tmp_path / "edge.aedat4"
    aedat4.write(path, events, dt_us=2**62, t0_us=2**62 - 1)  # step 1 at 2**63 - 1 us, the last int64
    assert aedat4.read(path) == events
    assert aedat4.read(path, t_start=1) == events.time_slice(1, None)
    assert aedat4.info(path).last == 1


def test_a_header_claiming_more_bytes_than_the_file_is_truncated(tmp_path: Path, small_file: bytes) -> None:
    bad = bytearray(small_file)
    struct.pack_into("<I", bad, 14, 0xFFFFFFF0)
    with (
        peak_memory() as peak,
        pytest.raises(FileFormatError, match=r"byte 14: header of 4294967280 bytes .*truncated"),
    ):
        read_bytes(tmp_path, bytes(bad))
    assert peak() < 1 << 20


@contextlib.contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """The peak of Python's allocations while the block runs, as a function to call after it."""
    tracemalloc.start()
    peak = [0]
    try:
        yield lambda: peak[0]
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def test_a_table_entry_claiming_more_bytes_than_the_file_is_refused(
    four_packets: tuple[Path, Events], tmp_path: Path
) -> None:
    path, events = four_packets
    huge = assemble(
        path, tmp_path / "huge.aedat4", table=lambda rows: [*rows[:3], (*rows[3][:2], 2**40, *rows[3][3:])]
    )
    with peak_memory() as peak, pytest.raises(FileFormatError, match="packet table is damaged"):
        aedat4.read(huge)
    assert peak() < 1 << 20
    with pytest.warns(DataLossWarning, match="packet table is damaged"):
        assert aedat4.read(huge, salvage=True) == events


def test_a_packet_decompresses_to_no_more_than_its_table_entry_can_hold(tmp_path: Path) -> None:
    source = tmp_path / "zstd.aedat4"
    aedat4.write(source, random_stream(100, seed=13), compression="zstd")  # the table lists 100 events
    bomb = zstandard.ZstdCompressor().compress(bytes(64 << 20))  # declares 64 MiB; the general bound is 2 GiB
    bad = assemble(source, tmp_path / "bomb.aedat4", [bomb])
    offset = packets(bad)[0].offset
    limit = 16 * 100 + aedat4.EVENT_PACKET_OVERHEAD
    with (
        peak_memory() as peak,
        pytest.raises(
            FileFormatError,
            match=rf"byte {offset}: the zstd frame claims 67108864 bytes, more than the {limit}",
        ),
    ):
        aedat4.read(bad)
    assert peak() < 4 << 20
    source = tmp_path / "lz4.aedat4"
    aedat4.write(source, random_stream(100, seed=13), compression="lz4")
    bomb = lz4.frame.compress(bytes(64 << 20), store_size=False)  # no declared size, as DV writes LZ4
    bad = assemble(source, tmp_path / "bomb.aedat4", [bomb])
    with (
        peak_memory() as peak,
        pytest.raises(FileFormatError, match=rf"the LZ4 frame expands past the {limit} bytes it may hold"),
    ):
        aedat4.read(bad)
    assert peak() < 4 << 20


# ---------------------------------------------------------------------- errors name the file and the byte
def located(path: Path, error: Exception, size: int) -> int:
    """The byte offset a reading error names: its message starts ``<path>: byte <N>: ``, with
    ``N`` within the ``size``-byte file."""
    assert isinstance(error, FileFormatError), f"{type(error).__name__}: {error}"
    found = re.match(rf"{re.escape(str(path))}: byte (\d+): ", str(error))
    assert found, f"no '{path}: byte N: ' at the start of: {error}"
    offset = int(found.group(1))
    assert offset <= size, f"byte {offset} lies past the end of the {size}-byte file: {error}"
    return offset


def description_range(data: bytes) -> tuple[int, int]:
    """Where the stream description's XML lies in a file: its first byte and the byte past it."""
    header = Buffer(data[14:], b"IOHE", 14)
    start, length = header.vector(header.root, 2, 1)
    return 14 + start, 14 + start + length


XML_ERRORS = ("stream description", "eventcode's attributes", "sizeX/sizeY", "stream node")
"""Words of the errors about the stream description (the XML header)."""


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> list[Path]:
    """Files to damage: the real recording, and files aedat4.write makes (every compression in
    packets of 500 events, a step-time file with channels, a 1-polarity sensor's file)."""
    folder = tmp_path_factory.mktemp("sources")
    made = [shared / "data/real/aedat4/tonic_sample.aedat4"]
    with pytest.MonkeyPatch.context() as patch:
        for code in (0, 1, 3):
            patch.setitem(aedat4.PACKET_EVENTS, code, 500)
        for compression in ("none", "lz4", "zstd"):
            made.append(folder / f"{compression}.aedat4")
            aedat4.write(made[-1], random_stream(2_000, seed=31), compression=compression)
    images = torch.rand(1, 2, 8, 8, generator=torch.Generator().manual_seed(5))
    steps = eventcode.rate(images, num_steps=40, generator=torch.Generator().manual_seed(6))
    made.append(folder / "steps.aedat4")
    aedat4.write(made[-1], steps, dt_us=1000, t0_us=7, channels="tile", compression="none")
    one = random_stream(1_000, seed=32, size=(30, 20))
    made.append(folder / "one_polarity.aedat4")
    aedat4.write(
        made[-1], Events(one.t, one.x, one.y, torch.ones(1_000, dtype=torch.bool), sensor_size=(30, 20, 1))
    )
    return made


READS: list[Callable[[Path], object]] = [
    aedat4.read,
    functools.partial(aedat4.read, salvage=True),
    aedat4.info,
    functools.partial(aedat4.info, salvage=True),
    lambda path: list(aedat4.read_columns(path, chunk_events=300)),
    lambda path: list(aedat4.read_chunks(path, chunk_events=700, salvage=True)),
    lambda path: aedat4.read(path, t_start=1_700_000_000_001_000, t_end=1_700_000_000_009_000),
    lambda path: aedat4.read(path, t_start=3, sort=True),
    lambda path: aedat4.transcode(path, path.with_suffix(".copy.aedat4"), "zstd"),
]
"""Every way to read: each reader, salvage, windows (in microseconds and in steps), transcode."""


def test_every_read_error_names_the_file_and_a_byte_offset(tmp_path: Path, sources: list[Path]) -> None:
    rng = np.random.default_rng(19)
    path, tried, raised, xml = tmp_path / "damaged file.aedat4", 0, 0, 0
    for source in sources:
        data = source.read_bytes()
        described = description_range(data)
        data_start = 18 + struct.unpack_from("<I", data, 14)[0]
        listed = packets(source)
        table_at = listed[-1].offset + listed[-1].size
        places = [
            *rng.integers(14, data_start, 30),  # the IOHeader and its XML
            *rng.integers(*described, 12),  # the XML alone
            *(p.offset - 8 + int(rng.integers(0, 8)) for p in listed[:6]),  # packet headers
            *(p.offset + int(rng.integers(0, min(p.size, 64))) for p in listed[:6]),  # frame headers
            *rng.integers(data_start, table_at, 8),  # anywhere in the packets
            *rng.integers(table_at, len(data), 6),  # the packet table
        ]
        cuts = rng.integers(0, len(data), 14)
        for k, where in enumerate([*places, *(-1 - cut for cut in cuts)]):
            blob = bytearray(data)
            if where >= 0:
                blob[where] = (blob[where] + int(rng.integers(1, 256))) % 256
            else:
                del blob[-1 - where :]
            path.write_bytes(bytes(blob))
            read = READS[k % len(READS)]
            tried += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DataLossWarning)
                    read(path)
            except Exception as error:
                raised += 1
                xml += in_description(path, error, len(blob), where, described)
    assert tried >= 300
    assert raised >= 150
    assert xml >= 10


def in_description(path: Path, error: Exception, size: int, where: int, described: tuple[int, int]) -> bool:
    """Whether ``error``, raised for a file damaged at byte ``where``, is about the stream
    description that lies in bytes ``described``, after checking that it names the file and a
    byte offset, in the description when it is about it and the damage lies there."""
    offset = located(path, error, size)
    if not (any(words in str(error) for words in XML_ERRORS) and described[0] <= where < described[1]):
        return False
    assert described[0] <= offset <= described[1], (where, str(error))
    return True


def edited(source: Path, target: Path, old: bytes, new: bytes) -> tuple[Path, int]:
    """``source`` with its first ``old`` replaced by ``new`` (as long), and where that lies."""
    data = source.read_bytes()
    assert len(old) == len(new)
    assert old in data
    target.write_bytes(data.replace(old, new, 1))
    return target, data.index(old)


@pytest.mark.parametrize(
    ("name", "old", "new", "element", "message"),
    [  # each change keeps the file's length
        ("lz4", b'<node name="0"', b'<node name="x"', b'<node name="x"', "not a numeric stream id"),
        ("lz4", b'"sizeX" type="int">346', b'"sizeX" type="int">3x6', b'<attr key="sizeX"', "sizeX/sizeY"),
        ("lz4", b'"sizeY" type="int">260', b'"sizeY" type="int">-60', b'<attr key="sizeY"', "sizeX/sizeY"),
        ("lz4", b">EVTS</attr>", b">IMUS</attr>", b"<dv ", "declares no event stream (streams: {0: 'IMUS'})"),
        ("lz4", b'<node name="outInfo"', b'<node name="outInfx"', b"<dv ", "has no <dv><node name='outInfo'"),
        ("lz4", b"  </node>\n </node>", b"  </node>\n </nodx>", b"nodx>", "not valid XML: mismatched tag"),
        ("steps", b'"eventcodeShape" type="string">2,8,8', b'"eventcodeShape" type="string">2,9,8',
         b'<attr key="eventcodeShape"', "does not tile"),
        ("steps", b'"eventcodeDtUs" type="long">1000', b'"eventcodeDtUs" type="long">10x0',
         b'<attr key="eventcodeDtUs"', "eventcodeDtUs is '10x0'"),
        ("steps", b'"eventcodeT0Us" type="long">7', b'"eventcodeT0Us" type="long">x',
         b'<attr key="eventcodeT0Us"', "eventcodeT0Us is 'x'"),
        ("one_polarity", b'"eventcodePolarities" type="int">1', b'"eventcodePolarities" type="int">3',
         b'<attr key="eventcodePolarities"', "eventcodePolarities is 3"),
    ],
)  # fmt: skip
def test_description_errors_name_the_element_at_fault(
    tmp_path: Path, sources: list[Path], name: str, old: bytes, new: bytes, element: bytes, message: str
) -> None:
    source = next(path for path in sources if path.stem == name)
    path, _ = edited(source, tmp_path / "described.aedat4", old, new)
    data = path.read_bytes()
    reads = [aedat4.read, functools.partial(aedat4.read, salvage=True), aedat4.info]
    for read in reads[:2] if "no event stream" in message else reads:  # info describes such a file
        with pytest.raises(FileFormatError, match=re.escape(message)) as error:
            read(path)
        assert located(path, error.value, len(data)) == data.index(element), str(error.value)


def test_polarity_and_step_time_errors_name_their_packet(tmp_path: Path, sources: list[Path]) -> None:
    steps = next(path for path in sources if path.stem == "steps")
    listed = packets(steps)
    blob = bytearray(steps.read_bytes())
    t = np.frombuffer(blob, aedat4.EVENT, listed[0].count, listed[0].offset + 32)["t"]
    i = int(np.argmax(t[:-1] < t[1:]))  # the last event of the first step
    struct.pack_into("<q", blob, listed[0].offset + 32 + 16 * i, int(t[i]) + 1)  # in order, between steps
    path = tmp_path / "off_step.aedat4"
    path.write_bytes(bytes(blob))
    for read in (aedat4.read, lambda p: list(aedat4.read_chunks(p, chunk_events=50))):
        with pytest.raises(FileFormatError, match="lies between two steps") as error:
            read(path)
        assert located(path, error.value, len(blob)) == listed[0].offset
    beyond = assemble(steps, tmp_path / "beyond.aedat4", table=lambda rows: [(*rows[0][:5], 7 + 1000 * 40)])
    with pytest.raises(FileFormatError, match=r"outside the steps \[0, 40\)") as error:
        aedat4.info(beyond)  # the table's last time, one step past the last
    assert located(beyond, error.value, beyond.stat().st_size) == listed[0].offset
    ones = random_stream(300, seed=33, size=(5, 4))
    path = tmp_path / "one.aedat4"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(aedat4.PACKET_EVENTS, 0, 100)
        on = torch.ones(300, dtype=torch.bool)
        aedat4.write(path, Events(ones.t, ones.x, ones.y, on, sensor_size=(5, 4, 1)), compression=None)
    listed = packets(path)
    blob = bytearray(path.read_bytes())
    blob[listed[2].offset + 32 + 16 * 50 + 12] = 0  # event 250, in the third packet, OFF
    path.write_bytes(bytes(blob))
    for read in (aedat4.read, functools.partial(aedat4.read, sort=True)):
        with pytest.raises(
            FileFormatError, match=r"unlike the recorded polarities \(eventcodePolarities = 1\)"
        ) as error:
            read(path)
        assert located(path, error.value, len(blob)) == listed[2].offset


# ---------------------------------------------------------------------- decompression bombs
def zstd_frame(head: bytes, size: int, declared: int | None = None) -> bytes:
    """A zstd frame of ``size`` bytes: ``head`` in a raw block, then zeros in RLE blocks of 128 KiB
    (4 bytes each); content size ``declared`` in its header (none when None)."""
    frame = bytearray(struct.pack("<I", 0xFD2FB528))
    frame += b"\x00\x38" if declared is None else b"\xc0\x38" + struct.pack("<Q", declared)  # window 128 KiB
    blocks = [(0, len(head), head)] if head else []
    blocks += [(1, min(1 << 17, size - at), b"\0") for at in range(len(head), size, 1 << 17)]
    for i, (kind, length, body) in enumerate(blocks):
        frame += (int(i == len(blocks) - 1) | kind << 1 | length << 3).to_bytes(3, "little") + body
    return bytes(frame)


def lz4_frame(head: bytes, size: int, declared: int | None = None) -> bytes:
    """An LZ4 frame of about ``size`` bytes in independent 64 KiB blocks: ``head``, then zeros (a
    block of 64 KiB of zeros takes some 270 bytes); content size ``declared`` in its header (taken,
    checksum and all, from a frame of that size: none when None)."""
    options = {"block_size": lz4.frame.BLOCKSIZE_MAX64KB, "block_linked": False, "store_size": False}
    first = lz4.frame.compress(head + bytes((1 << 16) - len(head)), **options)
    zeros = lz4.frame.compress(bytes(1 << 16), **options)[7:-4]
    header = (
        first[:7]
        if declared is None
        else lz4.frame.compress(bytes(declared), **options | {"store_size": True})[:15]
    )
    return header + first[7:-4] + zeros * (size // (1 << 16) - 1) + bytes(4)


def event_head(size: int) -> bytes:
    """The first 32 bytes of an EventPacket of ``size`` bytes, as eventcode lays it out."""
    return struct.pack("<II4s3H2xiII", size - 4, 16, b"EVTS", 6, 8, 4, 8, 4, (size - 32) // 16)


def bomb(
    path: Path, compression: str, payloads: list[bytes], rows: list[tuple[int, int, int]] | None = None
) -> Path:
    """An AEDAT 4.0 file of one DAVIS346 event stream holding ``payloads`` as its packets, and a
    packet table listing ``rows`` (records, first and last time) of them (no table when None)."""
    code = aedat4.CODES[compression]
    description = aedat4._info_node(code, (WIDTH, HEIGHT), (HEIGHT, WIDTH), None, "bomb", 2)
    blob = bytearray(aedat4.MAGIC + aedat4._io_header(code, description))
    entries = []
    for payload, row in zip(payloads, rows or [(0, 0, 0)] * len(payloads), strict=True):
        blob += struct.pack("<ii", 0, len(payload))
        entries.append((len(blob), 0, len(payload), *row))
        blob += payload
    if rows is not None:
        struct.pack_into("<q", blob, 14 + 32, len(blob))
        blob += aedat4._compress(code, aedat4._data_table(entries))
    path.write_bytes(bytes(blob))
    return path


PEAKS = """
import json, sys
from exporters import threads
threads.WORKERS = int(sys.argv[1])  # before the pool is made: as many decoder threads as on 16 cores
from exporters import aedat4
from eventcode.errors import FileFormatError

def status(field):
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(field))

reads = {"read": aedat4.read, "info": aedat4.info, "chunks": lambda p: list(aedat4.read_chunks(p))}
results = []
for path, call in json.loads(sys.argv[2]):
    try:
        with open("/proc/self/clear_refs", "w") as peak:
            peak.write("5")  # VmHWM, the peak resident memory, from here
        reset = True
    except OSError:
        reset = False
    before = status("VmRSS:")
    try:
        reads[call](path)
        error = None
    except FileFormatError as err:
        error = str(err)
    results.append({"peak": status("VmHWM:") - before, "error": error, "reset": reset})
print(json.dumps(results))
"""


def peaks(cases: list[tuple[Path, str]], workers: int = 16) -> list[dict]:
    """Each ``(path, reader)``'s peak resident memory above what the process held before (bytes)
    and its error, measured in a child process whose pool has ``workers`` threads (one process
    for all where the kernel can reset the peak, else one each)."""

    def run(part: list[tuple[Path, str]]) -> list[dict]:
        command = [sys.executable, "-c", PEAKS, str(workers), json.dumps([(str(p), c) for p, c in part])]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
        return json.loads(done.stdout.splitlines()[-1])

    results = run(cases)
    if len(cases) > 1 and not all(result["reset"] for result in results):
        results = [run([case])[0] for case in cases]
    return results


MIB = 1 << 20


LINUX = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures /proc/self/status")


@LINUX
def test_decompression_bombs_are_refused_in_bounded_memory_on_any_number_of_cores(tmp_path: Path) -> None:
    """Packets that expand to gigabytes, 16 of them read on 16 decoder threads (a 16-core
    machine), without a packet table, so that nothing but the frames bounds them: each is refused
    once it passes what its FlatBuffer holds, and the decompressions in flight together stay
    within DECOMPRESSION_BUDGET (before: each thread to its own 2 GiB, 16 x 128 MiB here)."""
    pad = bytes(700_000)  # after the frame: 700 kB stored may expand 4096 times, past 2 GiB
    zeros = [
        zstd_frame(b"", 2200 * MIB) + pad
    ] * 16  # the bombs: 2 of these in 1.4 MB drove RSS to 4 GB
    lz4_zeros = [lz4_frame(b"", 170 * MIB)] * 16
    lying = [zstd_frame(event_head(64 * MIB), 128 * MIB) + pad] * 16  # a FlatBuffer of 64 MiB, then more
    lz4_lying = [lz4_frame(event_head(32 * MIB), 150 * MIB)] * 16
    files = {
        "zstd zeros": bomb(tmp_path / "zeros.aedat4", "zstd", zeros),
        "lz4 zeros": bomb(tmp_path / "lz4_zeros.aedat4", "lz4", lz4_zeros),
        "zstd lying": bomb(tmp_path / "lying.aedat4", "zstd", lying),
        "lz4 lying": bomb(tmp_path / "lz4_lying.aedat4", "lz4", lz4_lying),
    }
    assert all(path.stat().st_size < 13_000_000 for path in files.values())  # 16 packets of < 800 kB
    cases = [(files["zstd zeros"], "read"), (files["lz4 zeros"], "info"), (files["zstd lying"], "read")]
    cases += [(files["lz4 lying"], "chunks"), (files["zstd lying"], "info")]
    found = peaks(cases)
    for (path, _), result in zip(cases, found, strict=True):
        assert result["error"] is not None
        first = 18 + struct.unpack_from("<I", path.read_bytes(), 14)[0] + 8  # the first packet's payload
        assert result["error"].startswith(f"{path}: byte {first}: the ")
    for result in found[:2]:  # zeros: no FlatBuffer, refused at its first bytes
        assert "holds a FlatBuffer of identifier b'\\x00\\x00\\x00\\x00', expected b'EVTS'" in result["error"]
        assert result["peak"] < 32 * MIB
    for result in found[2:]:
        assert re.search(
            r"expands past the \d+ bytes it may hold \(its FlatBuffer's size prefix says", result["error"]
        )
        assert result["peak"] < aedat4.DECOMPRESSION_BUDGET + 64 * MIB


@LINUX
def test_declared_sizes_that_lie_and_table_counts_beyond_the_bytes_are_refused(tmp_path: Path) -> None:
    """Frames whose declared content size is less than they hold, or more than they may; a table
    listing more events than a packet's bytes can hold, or than memory holds: our error, at once."""
    events = random_stream(4096, seed=21)
    ordered = [column.numpy() for column in (events.t, events.x, events.y, events.p)]
    stored = zstandard.ZstdCompressor().compress(aedat4._built(ordered, 0, 4096, 0).tobytes())
    times = (int(events.t[0]), int(events.t[-1]))
    cases = [
        (
            bomb(tmp_path / "a.aedat4", "zstd", [zstd_frame(event_head(MIB), 256 * MIB, MIB)] * 16),
            "byte 830: corrupt ZSTD data",  # says 1 MiB, holds 256
        ),
        (
            bomb(tmp_path / "b.aedat4", "zstd", [zstd_frame(b"", MIB, 3 << 30)] * 16),
            "byte 830: the zstd frame claims 3221225472 bytes, more than the",
        ),
        (
            bomb(tmp_path / "c.aedat4", "lz4", [lz4_frame(event_head(MIB), 128 * MIB, MIB)] * 16),
            "byte 822: the LZ4 frame expands past the 1048576 bytes its header declares",
        ),
        (
            bomb(tmp_path / "d.aedat4", "zstd", [stored] * 16, [(1 << 40, *times)] * 16),
            f"lists {1 << 40} events in the packet at byte 822, more than its {len(stored)} bytes can hold",
        ),
        (  # as many as zstd's 32,768-fold expansion allows: more than memory holds, all 16 together
            bomb(tmp_path / "e.aedat4", "zstd", [stored] * 16, [(len(stored) << 11, *times)] * 16),
            f"byte 830: the packet holds 4096 records from t = {times[0]} to {times[1]}, but its data table",
        ),
    ]
    found = peaks([(path, "read") for path, _ in cases])
    for (path, message), result in zip(cases, found, strict=True):
        assert result["error"] is not None
        assert result["error"].startswith(f"{path}: byte ")
        assert message in result["error"]
        assert result["peak"] < 64 * MIB


def test_the_budget_bounds_what_is_held_at_once_and_lets_holds_nest() -> None:
    budget = aedat4._Budget(100)
    held, peak, lock = [0], [0], threading.Lock()

    def work(size: int) -> None:
        with budget.held(size):
            with lock:
                held[0] += min(size, 100)  # more than the budget holds it all
                peak[0] = max(peak[0], held[0])
            time.sleep(0.0005)
            with budget.held(size // 2):  # covered by the hold around it: nothing more
                assert budget.used <= 100
            with lock:
                held[0] -= min(size, 100)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, [10, 30, 60, 250, 5, 100, 45, 1] * 25))
    assert peak[0] <= 100
    assert budget.used == 0
    with budget.held(10):
        assert budget.used == 10
        with budget.held(50):  # more than the thread holds: it gives back and takes the larger
            assert budget.used == 50
        assert budget.used == 50  # until the outermost hold ends
    assert budget.used == 0


@pytest.mark.parametrize(
    "name", ["dv_lz4.aedat4", "dv_zstd.aedat4", "faery_lz4_1.aedat4", "faery_zstd_1.aedat4"]
)
def test_a_runs_hold_covers_each_of_its_decompressions(
    shared: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = shared / "data/reference" / name
    code, listed = aedat4.CODES[aedat4.info(path).compression], packets(path)
    data = path.read_bytes()
    budget = aedat4._Budget(aedat4.DECOMPRESSION_BUDGET)
    monkeypatch.setattr(aedat4, "_BUDGET", budget)
    taken: list[int] = []
    monkeypatch.setattr(budget, "take", lambda size, take=budget.take: taken.append(size) or take(size))
    for packet in listed:
        stored = data[packet.offset : packet.offset + packet.size]
        assert packet.count is not None
        limit = 16 * packet.count + aedat4.EVENT_PACKET_OVERHEAD
        with budget.held(aedat4._most_held(packet.size, 16 * packet.count)):
            assert (
                len(aedat4._decompress(path, code, stored, packet.offset, limit, b"EVTS"))
                == 32 + 16 * packet.count
            )
    assert len(taken) == len(listed)  # the run's hold only, never one of a decompression


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([b"\0", b"events ", bytes(range(256))]),
    st.integers(0, 3 << 20),
    st.sampled_from([lz4.frame.BLOCKSIZE_MAX64KB, lz4.frame.BLOCKSIZE_MAX256KB, lz4.frame.BLOCKSIZE_MAX1MB]),
    st.booleans(),
    st.booleans(),
    st.integers(0, 1 << 23),
    st.floats(0.2, 1.0),
)
def test_an_lz4_frames_most_is_never_less_than_it_holds(
    pattern: bytes, size: int, block: int, linked: bool, checksums: bool, cap: int, kept: float
) -> None:
    content = (pattern * (size // len(pattern) + 1))[:size]
    frame = lz4.frame.compress(
        content, block_size=block, block_linked=linked, block_checksum=checksums, store_size=False
    )
    most = aedat4._lz4_most(frame, cap)
    if most <= max(cap, aedat4._HEAD_FIRST):  # a bound (past both, the walk stops: a lower bound)
        assert size <= most
    cut = frame[: max(7, int(len(frame) * kept))]  # cut short: whatever LZ4 writes before it fails
    most = aedat4._lz4_most(cut, cap)
    decompressor = lz4.frame.LZ4FrameDecompressor()
    with contextlib.suppress(RuntimeError):
        written = len(decompressor.decompress(cut))
        if most <= max(cap, aedat4._HEAD_FIRST):
            assert written <= most
