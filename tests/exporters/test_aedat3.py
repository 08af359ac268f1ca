"""Tests of exporters/aedat3.py: files built word by word, round trips, windows, Tonic, damaged files."""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tonic_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventcode
from eventcode import Events
from eventcode.errors import DataLossWarning, ExportError, FileFormatError, OptionError, TimeOrderError
from eventcode.tonic import from_tonic
from exporters import aedat3

WRAP = 2**31
"""One timestamp overflow: the 64-bit time is overflow * 2**31 + the 31-bit timestamp."""


# ---------------------------------------------------------------------- files built by hand
def header(*sources: str, extra: tuple[str, ...] = ()) -> bytes:
    """A text header as cAER writes it, CR LF each line."""
    lines = ["#!AER-DAT3.1", "#Format: RAW", *sources, "#Start-Time: 2016-04-01 12:00:00 (TZ+0200)", *extra]
    return "".join(f"{line}\r\n" for line in [*lines, "#!END-HEADER"]).encode()


def packet(kind: int, source: int, size: int, ts_offset: int, overflow: int, events: list[bytes]) -> bytes:
    """A packet: the 28-byte header (capacity = number; the valid count from each event's bit 0)."""
    valid = sum(event[0] & 1 for event in events)
    head = struct.pack("<hhiiiiii", kind, source, size, ts_offset, overflow, len(events), len(events), valid)
    return head + b"".join(events)


def polarity(x: int, y: int, on: int, stamp: int, valid: int = 1) -> bytes:
    """A polarity event: data word (bit 0 valid, 1 polarity, 2-16 y, 17-31 x), int32 timestamp."""
    return struct.pack("<Ii", x << 17 | y << 2 | on << 1 | valid, stamp)


def special(kind: int, stamp: int, valid: int = 1) -> bytes:
    """A special event: data word (bit 0 valid, bits 1-7 type), int32 timestamp."""
    return struct.pack("<Ii", kind << 1 | valid, stamp)


def imu6(stamp: int) -> bytes:
    """An IMU6 event: info word, timestamp, accelerometer, gyroscope, temperature (36 bytes)."""
    return struct.pack("<Ii7f", 1, stamp, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 25.0)


def frame(end: int, width: int = 2, height: int = 2) -> bytes:
    """A grey frame event: info, four timestamps (end of frame at byte 8), size, position, pixels."""
    pixels = struct.pack(f"<{width * height}H", *range(width * height))
    return (
        struct.pack("<Iiiiiiiii", 1 << 1 | 1, end - 50, end, end - 40, end - 10, width, height, 0, 0) + pixels
    )


def cAER_file() -> bytes:
    """Polarity packets of source 1 (a DAVIS346B) around an overflow change, an invalid event,
    special, IMU6 and frame packets between them, and a polarity packet of source 2 (a DVS128)."""
    return header("#Source 1: DAVIS346B", "#Source 2: DVS128") + b"".join(
        [
            packet(
                1, 1, 8, 4, 0, [polarity(0, 0, 1, 10), polarity(345, 259, 0, 20), polarity(5, 7, 1, 20, 0)]
            ),
            packet(0, 1, 8, 4, 0, [special(2, 25)]),  # EXTERNAL_INPUT_RISING_EDGE
            packet(1, 1, 8, 4, 0, [polarity(100, 200, 0, 30)]),
            packet(3, 1, 36, 4, 0, [imu6(40), imu6(50)]),
            packet(0, 1, 8, 4, 0, [special(0, WRAP - 1)]),  # TIMESTAMP_WRAP
            packet(1, 1, 8, 4, 1, [polarity(1, 2, 1, 5), polarity(3, 4, 0, 6)]),
            packet(2, 1, 44, 8, 1, [frame(100)]),
            packet(1, 2, 8, 4, 1, [polarity(127, 127, 1, 150)]),
            packet(1, 1, 8, 4, 1, [polarity(10, 11, 1, 200)]),
        ]
    )


CAER_EVENTS = {
    "t": [10, 20, 30, WRAP + 5, WRAP + 6, WRAP + 200],
    "x": [0, 345, 100, 1, 3, 10],
    "y": [0, 259, 200, 2, 4, 11],
    "p": [1, 0, 0, 1, 0, 1],
}
"""The valid polarity events of source 1 in :func:`cAER_file`, in time order."""


def columns(events: Events) -> dict[str, list[int]]:
    return {name: getattr(events, name).to(torch.int64).tolist() for name in "txyp"}


def quietly(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``call(...)`` with the warning of skipped records silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataLossWarning)
        return call(*args, **kwargs)


@pytest.fixture
def caer(tmp_path: Path) -> Path:
    path = tmp_path / "caer.aedat"
    path.write_bytes(cAER_file())
    return path


def test_a_cAER_file_reads_its_valid_polarity_events_and_counts_the_rest(caer: Path) -> None:
    skipped = (
        r"skipped the records of other streams: 1 special \(source 1\), 1 frame \(source 1\), "
        r"2 imu6 \(source 1\), 1 polarity \(source 2\)"
    )
    with pytest.warns(DataLossWarning, match=skipped):  # the TIMESTAMP_WRAP event is not counted
        events = aedat3.read(caer)
    assert columns(events) == CAER_EVENTS
    assert (events.sensor_size, events.time_unit) == ((346, 260, 2), "us")
    with pytest.warns(DataLossWarning, match=r"6 polarity \(source 1\)"):
        other = aedat3.read(caer, source=2)
    assert columns(other) == {"t": [WRAP + 150], "x": [127], "y": [127], "p": [1]}
    assert other.sensor_size == (128, 128, 2)
    with pytest.raises(OptionError, match="no source 3"):
        aedat3.read(caer, source=3)


def test_info_describes_every_stream_from_the_packet_headers(caer: Path) -> None:
    meta = aedat3.info(caer)
    assert (meta.format, meta.compression, meta.sensor_size, meta.shape) == (
        "aedat3",
        "none",
        (346, 260, 2),
        (260, 346),
    )
    assert (meta.events, meta.first, meta.last, meta.time_unit, meta.samples) == (6, 10, WRAP + 200, "us", 1)
    assert [(s.id, s.type, s.name, s.packets, s.records, s.first, s.last) for s in meta.streams] == [
        (65537, "EVTS", "polarity", 4, 6, 10, WRAP + 200),
        (65536, "TRIG", "special", 2, 1, 25, 25),  # the TIMESTAMP_WRAP event is no record
        (65538, "FRME", "frame", 1, 1, WRAP + 100, WRAP + 100),
        (65539, "IMUS", "imu6", 1, 2, 40, 50),
        (131073, "EVTS", "polarity", 1, 1, WRAP + 150, WRAP + 150),
    ]
    assert meta.streams[0].size == (346, 260)
    extras = meta.extras
    assert (extras["sources"], extras["source"]) == ({1: "DAVIS346B", 2: "DVS128"}, 1)
    assert extras["start_time"] == "2016-04-01 12:00:00 (TZ+0200)"
    assert (extras["invalid_events"], extras["timestamp_wraps"]) == (1, 1)
    table = extras["packets"]
    assert table["type"].tolist() == [1, 0, 1, 3, 0, 1, 2, 1, 1]
    assert table["offset"][0] == len(header("#Source 1: DAVIS346B", "#Source 2: DVS128"))
    assert table["offset"][1] == table["offset"][0] + 28 + 3 * 8


def test_windows_select_packets_and_cut_the_boundary_ones(
    caer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[int] = []
    real = aedat3._decode
    monkeypatch.setattr(
        aedat3, "_decode", lambda path, fd, packets: decoded.append(len(packets)) or real(path, fd, packets)
    )
    window = quietly(aedat3.read, caer, t_start=25, t_end=WRAP + 6)
    assert columns(window) == {"t": [30, WRAP + 5], "x": [100, 1], "y": [200, 2], "p": [0, 1]}
    assert decoded == [2]  # the packets from t = 30 and t = 2**31 + 5; not the first, nor the last
    chunks = quietly(lambda: [columns(c) for c in aedat3.read_chunks(caer, chunk_events=1)])
    assert [c["t"] for c in chunks] == [[10, 20], [30], [WRAP + 5, WRAP + 6], [WRAP + 200]]
    assert quietly(lambda: len(aedat3.read(caer, t_start=10**30))) == 0  # beyond any time a file holds


def test_invalid_first_and_last_events_are_not_the_stream_s_first_and_last(tmp_path: Path) -> None:
    path = tmp_path / "invalid.aedat"
    path.write_bytes(
        header("#Source 0: DVS128")
        + packet(1, 0, 8, 4, 0, [polarity(1, 1, 1, 5, 0), polarity(2, 2, 0, 7), polarity(3, 3, 1, 8, 0)])
        + packet(1, 0, 8, 4, 0, [polarity(4, 4, 1, 9, 0)])
    )
    meta = aedat3.info(path)
    assert (meta.events, meta.first, meta.last, meta.extras["invalid_events"]) == (1, 7, 7, 3)
    assert columns(aedat3.read(path)) == {"t": [7], "x": [2], "y": [2], "p": [0]}


def test_a_capacity_beyond_the_events_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "capacity.aedat"
    full = packet(1, 0, 8, 4, 0, [polarity(1, 2, 1, 5), polarity(3, 4, 0, 6), bytes(8)])  # a zeroed event
    path.write_bytes(header("#Source 0: DVS128") + full[:20] + struct.pack("<ii", 2, 2) + full[28:])
    assert columns(aedat3.read(path)) == {"t": [5, 6], "x": [1, 3], "y": [2, 4], "p": [1, 0]}


def test_the_sensor_size_comes_from_the_device_the_option_or_the_addresses(tmp_path: Path) -> None:
    path = tmp_path / "file.aedat"
    path.write_bytes(
        header("#Source 0: File") + packet(1, 0, 8, 4, 0, [polarity(9, 4, 1, 1), polarity(2, 6, 0, 2)])
    )
    assert aedat3.read(path).sensor_size == (10, 7, 2)  # the largest addresses + 1
    assert aedat3.info(path).sensor_size == (10, 7, 2)
    assert aedat3.read(path, sensor_size=(640, 480)).sensor_size == (640, 480, 2)
    with pytest.raises(FileFormatError, match=r"byte \d+: x = 9 is outside the 5x7 sensor"):
        aedat3.read(path, sensor_size=(5, 7))
    davis = tmp_path / "davis.aedat"
    davis.write_bytes(header("#Source 0: DAVIS240C") + packet(1, 0, 8, 4, 0, [polarity(9, 4, 1, 1)]))
    assert aedat3.read(davis).sensor_size == (240, 180, 2)
    with pytest.raises(OptionError, match="records a 240x180 sensor"):
        aedat3.read(davis, sensor_size=(346, 260))
    empty = tmp_path / "empty.aedat"
    empty.write_bytes(header("#Source 0: File"))
    assert aedat3.info(empty).sensor_size is None
    with pytest.raises(
        FileFormatError, match=r"byte 0: the header records no sensor size .* pass sensor_size"
    ):
        aedat3.read(empty)
    assert aedat3.read(empty, sensor_size=(4, 4)).shape == (4, 4)


# ---------------------------------------------------------------------- what our writer writes
def test_our_bytes_word_by_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aedat3, "PACKET_EVENTS", 2)
    t = [WRAP - 2, WRAP - 1, WRAP, WRAP + 5, 2 * WRAP + 1]
    x, y, p = [345, 0, 1, 2, 3], [259, 0, 7, 8, 9], [1, 0, 1, 1, 0]
    path = tmp_path / "ours.aedat"
    aedat3.write(path, Events(t=t, x=x, y=y, p=p, sensor_size=(346, 260)))
    data = path.read_bytes()
    lines = data[: data.index(b"#!END-HEADER\r\n") + 14].decode().split("\r\n")
    assert lines[:3] == ["#!AER-DAT3.1", "#Format: RAW", "#Source 0: DAVIS346B"]
    assert re.fullmatch(r"#Start-Time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(TZ[+-]\d{4}\)", lines[3])
    assert lines[4:] == ["#eventcode: shape=260,346 polarities=2", "#!END-HEADER", ""]

    def ours(*indices: int) -> list[bytes]:
        return [struct.pack("<Ii", x[i] << 17 | y[i] << 2 | p[i] << 1 | 1, t[i] % WRAP) for i in indices]

    expected = b"".join(
        [
            packet(1, 0, 8, 4, 0, ours(0, 1)),
            packet(0, 0, 8, 4, 0, [special(0, WRAP - 1)]),  # TIMESTAMP_WRAP where the overflow changes
            packet(1, 0, 8, 4, 1, ours(2, 3)),
            packet(0, 0, 8, 4, 1, [special(0, WRAP - 1)]),  # a jump of one overflow or more: one wrap
            packet(1, 0, 8, 4, 2, ours(4)),
        ]
    )
    assert data[len("\r\n".join(lines)) :] == expected
    assert columns(aedat3.read(path)) == {"t": t, "x": x, "y": y, "p": p}  # no warning: wraps are not data


def test_chunked_writes_give_the_bytes_of_one_write(tmp_path: Path) -> None:
    events = random_stream(50_000, seed=1, t0=WRAP - 20_000)
    whole, chunked = tmp_path / "whole.aedat", tmp_path / "chunked.aedat"
    aedat3.write(whole, events)
    with aedat3.Writer(chunked, sensor_size=(346, 260)) as writer:
        for start in range(0, len(events), 7_777):
            writer.write(piece(events, start, 7_777))
    after = [path.read_bytes().split(b"#!END-HEADER\r\n")[1] for path in (whole, chunked)]
    assert after[0] == after[1]
    before = int((events.t < WRAP).sum())  # events of overflow 0, then of overflow 1

    def packets(n: int) -> list[int]:
        return [aedat3.PACKET_EVENTS] * (n // aedat3.PACKET_EVENTS) + (
            [n % aedat3.PACKET_EVENTS] if n % aedat3.PACKET_EVENTS else []
        )

    table = aedat3.info(whole).extras["packets"]
    assert table["number"].tolist() == [*packets(before), 1, *packets(len(events) - before)]
    assert table["type"].tolist() == [1] * len(packets(before)) + [0] + [1] * len(
        packets(len(events) - before)
    )


def random_stream(n: int, seed: int = 0, size: tuple[int, int] = (346, 260), t0: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    t = t0 + np.concatenate([[0], np.cumsum(rng.integers(0, 3, max(n - 1, 0)))])[:n]
    return Events(
        t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.random(n) < 0.5, sensor_size=size
    )


def piece(events: Events, start: int, size: int) -> Events:
    t, x, y, p = (getattr(events, k)[start : start + size] for k in "txyp")
    return Events(t, x, y, p, sensor_size=events.sensor_size)


# ---------------------------------------------------------------------- round trips
@st.composite
def streams(draw: st.DrawFn) -> Events:
    width = draw(st.sampled_from([1, 2, 128, 346, 32_768]))
    height = draw(st.sampled_from([1, 3, 260, 32_768]))
    n = draw(st.sampled_from([0, 1, 2, 100, 40_000]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    start = draw(
        st.sampled_from([0, WRAP - 50, 5 * WRAP - 7, -(2**62), 2**62 - 10**9, 1_700_000_000_000_000])
    )
    step = draw(st.sampled_from([1, 3, 1000, 2**33]))  # 1: equal times; 2**33: several overflows per gap
    n = min(n, 100) if step == 2**33 else n  # a packet and a wrap packet per event
    gaps = rng.integers(0, step, max(n - 1, 0))
    t = np.minimum(start + np.concatenate([[0], np.cumsum(gaps)])[:n], 2**62 - 1)
    x, y, p = rng.integers(0, width, n), rng.integers(0, height, n), rng.random(n) < 0.5
    if n:  # the sensor's edges and both polarities
        x[0], y[0], p[0], x[-1], y[-1], p[-1] = width - 1, height - 1, True, 0, 0, False
    return Events(t, x, y, p, sensor_size=(width, height))


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(streams())
def test_round_trip(tmp_path: Path, events: Events) -> None:
    path = tmp_path / "round.aedat"
    aedat3.write(path, events)
    assert aedat3.read(path) == events
    chunks = list(aedat3.read_chunks(path, chunk_events=30_000))
    assert sum(len(chunk) for chunk in chunks) == len(events)
    if chunks:
        assert joined(chunks) == events
    meta = aedat3.info(path)
    assert (meta.events, meta.sensor_size) == (len(events), events.sensor_size)
    assert (meta.first, meta.last) == ((int(events.t[0]), int(events.t[-1])) if len(events) else (None, None))


def joined(chunks: list[Events]) -> Events:
    t, x, y, p = (torch.cat([getattr(chunk, k) for chunk in chunks]) for k in "txyp")
    return Events(t, x, y, p, sensor_size=chunks[0].sensor_size)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tonic_arrays())
def test_every_kind_of_tonic_sensor_round_trips_or_is_refused(tmp_path: Path, case: tuple) -> None:
    events = from_tonic(*case)  # 1 or 2 polarities, no p, no y (audio up to 70,000 wide), empty
    path = tmp_path / "sensor.aedat"
    if events.sensor_size[0] > 32_768:  # 15-bit addresses: refused, never wrapped
        with pytest.raises(ExportError, match=r"beyond the 15-bit x and y of AEDAT 3\.1"):
            aedat3.write(path, events)
        return
    aedat3.write(path, events)
    assert aedat3.read(path) == events  # shape, polarities and the events come back
    assert aedat3.info(path).sensor_size == events.sensor_size


def test_step_time_and_channels_come_back(tmp_path: Path) -> None:
    images = torch.rand(1, 2, 9, 7, generator=torch.Generator().manual_seed(1))
    events = eventcode.rate(images, num_steps=30, generator=torch.Generator().manual_seed(2))
    path = tmp_path / "steps.aedat"
    with pytest.raises(ExportError, match="channels='tile'"):
        aedat3.write(path, events, dt_us=1000)
    aedat3.write(path, events, dt_us=1000, t0_us=WRAP - 10_000, channels="tile")  # steps across 2**31
    assert aedat3.read(path) == events
    meta = aedat3.info(path)
    assert (meta.sensor_size, meta.time_unit, meta.num_steps, meta.dt_us) == ((14, 9, 2), "step", 30, 1000)
    assert (meta.first, meta.last) == (int(events.t[0]), int(events.t[-1]))
    assert meta.extras["t0_us"] == WRAP - 10_000
    assert aedat3.read(path, t_start=10, t_end=20) == events.time_slice(10, 20)
    columns_read = list(aedat3.read_columns(path, chunk_events=100))
    assert sum(len(c["t"]) for c in columns_read) == len(events)
    assert all(set(c) == {"t", "x", "y", "p", "c"} for c in columns_read)


def test_time_windows_equal_slices_of_the_whole(tmp_path: Path) -> None:
    events = random_stream(100_000, seed=4, t0=WRAP - 60_000)  # 7 packets and a wrap
    path = tmp_path / "window.aedat"
    aedat3.write(path, events)
    t = events.t

    @settings(max_examples=40, deadline=None)
    @given(st.integers(-10, len(events) + 10), st.integers(-10, len(events) + 10))
    def check(i: int, j: int) -> None:
        def time(k: int) -> int:
            return int(t[min(max(k, 0), len(t) - 1)]) + (k >= len(t)) - (k < 0)

        t_start, t_end = sorted((time(i), time(j)))
        assert aedat3.read(path, t_start=t_start, t_end=t_end) == events.time_slice(t_start, t_end)
        chunks = list(aedat3.read_chunks(path, 40_000, t_start=t_start))
        assert sum(len(c) for c in chunks) == len(events.time_slice(t_start, None))

    check()


def test_one_dimensional_samples_keep_their_shape(tmp_path: Path) -> None:
    events = eventcode.latency(torch.rand(1, 700), num_steps=50, normalize=True)
    aedat3.write(tmp_path / "audio.aedat", events, dt_us=10)
    assert aedat3.read(tmp_path / "audio.aedat") == events


# ---------------------------------------------------------------------- the writer
def test_writer_refuses_bad_chunks(tmp_path: Path) -> None:
    with aedat3.Writer(tmp_path / "a.aedat", sensor_size=(4, 4)) as writer:
        writer.write(Events(t=[5, 9], x=[0, 1], y=[0, 1], p=[1, 1], sensor_size=(4, 4)))
        with pytest.raises(TimeOrderError, match="before the previous chunk"):
            writer.write(Events(t=[7], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
        with pytest.raises(ExportError, match="shape"):
            writer.write(Events(t=[10], x=[0], y=[0], p=[1], sensor_size=(5, 4)))
        with pytest.raises(ExportError, match="step"):
            writer.write(Events.from_dense(torch.ones(2, 1, 4, 4)))
        with pytest.raises(ExportError, match=r"\[-2\*\*62, 2\*\*62\)"):
            writer.write(Events(t=[2**62], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
    assert aedat3.read(tmp_path / "a.aedat").t.tolist() == [5, 9]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"compression": "lz4"}, ExportError, "AEDAT 3.1 has no compression 'lz4'"),
        ({"dt_us": 0}, OptionError, "dt_us"),
        ({}, ExportError, "dt_us"),
        ({"dt_us": 2**61, "t0_us": 2**61}, ExportError, r"beyond the \[-2\*\*62"),  # step 1 at 3 * 2**61 us
    ],
)
def test_bad_write_options(tmp_path: Path, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        aedat3.write(tmp_path / "a.aedat", Events.from_dense(torch.ones(2, 1, 3)), **kwargs)
    assert not list(tmp_path.iterdir())


def test_batches_write_one_file_per_sample(tmp_path: Path) -> None:
    events = eventcode.rate(torch.rand(3, 1, 5, 5), num_steps=8, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ExportError, match="placeholder"):
        aedat3.write(tmp_path / "batch.aedat", events, dt_us=100)
    aedat3.write(tmp_path / "digit_{}.aedat", events, dt_us=100)
    assert [aedat3.read(tmp_path / f"digit_{b}.aedat") for b in range(3)] == [events[b] for b in range(3)]


def fail_midway(path: Path) -> None:
    with aedat3.Writer(path, sensor_size=(4, 4)) as writer:
        writer.write(Events(t=[1], x=[0], y=[0], p=[1], sensor_size=(4, 4)))
        raise RuntimeError("boom")


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "a.aedat"
    aedat3.write(path, Events(t=[3], x=[1], y=[1], p=[0], sensor_size=(4, 4)))
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        fail_midway(path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
    with pytest.raises(ExportError, match="exists"):
        aedat3.write(path, Events(t=[3], x=[1], y=[1], p=[0], sensor_size=(4, 4)), overwrite=False)


# ---------------------------------------------------------------------- Tonic reads our files
def test_tonic_reads_our_files(tmp_path: Path) -> None:
    tonic_io = pytest.importorskip("tonic.io")
    events = random_stream(40_000, seed=9, t0=1_000)  # three packets, all times below 2**31 us
    path = tmp_path / "ours.aedat"
    aedat3.write(path, events)
    version, start, _ = tonic_io.read_aedat_header_from_file(str(path))
    assert (version, start) == (3.1, path.read_bytes().index(b"#!END-HEADER\r\n") + 14)
    words = tonic_io.get_aer_events_from_file(str(path), version, start)
    address = words["address"].astype(np.int64)
    got = {  # the masks of Tonic's read_dvs_red, AEDAT 3.1's layout
        "t": words["timeStamp"].astype(np.int64).tolist(),
        "x": ((address >> 17) & 0x7FFF).tolist(),
        "y": ((address >> 2) & 0x7FFF).tolist(),
        "p": ((address >> 1) & 1).tolist(),
    }
    assert got == columns(events)
    try:
        _, red = tonic_io.read_dvs_red(str(path))
    except ValueError as err:  # tonic#302: it unpacks two values of the header reader's three
        broken = str(err)
    else:
        broken = "unpack: fixed"
        assert {k: red[k].astype(np.int64).tolist() for k in "txyp"} == columns(events)
    assert "unpack" in broken


# ---------------------------------------------------------------------- damaged files
def test_truncated_files_name_the_byte_or_salvage_the_packets_before(tmp_path: Path) -> None:
    path = tmp_path / "cut.aedat"
    data = cAER_file()
    path.write_bytes(data[:-3])  # inside the last polarity packet
    last = len(data) - (28 + 8)
    with pytest.raises(
        FileFormatError, match=rf"byte {last}: a packet of 36 bytes runs past the end.*salvage"
    ):
        quietly(aedat3.read, path)
    with pytest.warns(DataLossWarning, match=rf"byte {last}: .*left out 33 bytes"):
        events = quietly_skipped(aedat3.read, path, salvage=True)
    assert columns(events) == {k: v[:-1] for k, v in CAER_EVENTS.items()}
    path.write_bytes(data[: last + 10])
    with pytest.raises(FileFormatError, match=rf"byte {last}: the file ends inside a packet header"):
        quietly(aedat3.info, path)


def quietly_skipped(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``call(...)`` with the warning of skipped records (not the salvage warning) silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*skipped the records", DataLossWarning)
        return call(*args, **kwargs)


@pytest.mark.parametrize(
    ("packets", "problem"),
    [
        (
            [packet(1, 0, 8, 4, 0, [polarity(1, 1, 1, 9), polarity(1, 1, 1, 8)])],
            r"time goes back: its last event",
        ),
        (
            [packet(1, 0, 8, 4, 0, [polarity(1, 1, 1, 9)]), packet(1, 0, 8, 4, 0, [polarity(1, 1, 1, 8)])],
            "it starts before the packet before it ends",
        ),
        (
            [packet(1, 0, 8, 4, 0, [polarity(1, 1, 1, 7), polarity(1, 1, 1, 9), polarity(1, 1, 1, 8)])],
            r"time goes back: t = 8 us after 9 us",
        ),
        ([packet(1, 0, 8, 4, 0, [polarity(128, 1, 1, 9)])], "x = 128 is outside the 128x128 sensor"),
        ([packet(1, 0, 12, 4, 0, [polarity(1, 1, 1, 9) + bytes(4)])], "a polarity packet of 12-byte events"),
        ([packet(1, 0, 8, 4, 0, [polarity(1, 1, 1, -5)])], r"a negative timestamp \(-5"),
        ([packet(-1, 0, 8, 4, 0, [])], "event type -1"),
    ],
)
def test_corrupt_packets_name_their_byte(tmp_path: Path, packets: list[bytes], problem: str) -> None:
    path = tmp_path / "bad.aedat"
    path.write_bytes(header("#Source 0: DVS128") + b"".join(packets))
    with pytest.raises(FileFormatError, match=rf"{re.escape(str(path))}: byte \d+: .*{problem}"):
        aedat3.read(path)


def test_a_valid_count_unlike_the_validity_bits_is_refused(tmp_path: Path) -> None:
    good = packet(1, 0, 8, 4, 0, [polarity(1, 1, 1, 9), polarity(2, 2, 0, 10, 0)])
    for valid in (0, 2):
        bad = good[:24] + struct.pack("<i", valid) + good[28:]
        path = tmp_path / "count.aedat"
        path.write_bytes(header("#Source 0: DVS128") + bad)
        start = len(header("#Source 0: DVS128"))
        with pytest.raises(
            FileFormatError, match=rf"byte {start}: the packet header counts {valid} valid events, but 1"
        ):
            aedat3.read(path)


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        (b"#!AER-DAT2.0\r\n", r"byte 0: not an AEDAT 3.1 file: it starts b'#!AER-DAT2.0\\r\\n'"),
        (b"#!AER-DAT3.1\r\n#Format: RAW\r\n", r"byte 28: the header has no #!END-HEADER line \(truncated\)"),
        (b"#!AER-DAT3.1\r\n#Format: SerializedTS\r\n#!END-HEADER\r\n", "byte 14: 'Format: SerializedTS'"),
        (b"#!AER-DAT3.1\r\nFormat: RAW\r\n#!END-HEADER\r\n", r"byte 14: a header line that does not start"),
        (b"#!AER-DAT3.1\r\n#eventcode: shape=1,0\r\n#!END-HEADER\r\n", "byte 14: eventcode's header line"),
        (b"#!AER-DAT3.1\r\n#eventcode: shape=4,4 dt_us=5\r\n#!END-HEADER\r\n", "byte 14: .*num_steps"),
        (b"#!AER-DAT3.1\r\n#eventcode: shape=40000\r\n#!END-HEADER\r\n", "15-bit addresses"),
    ],
)
def test_bad_headers_name_their_byte(tmp_path: Path, head: bytes, problem: str) -> None:
    path = tmp_path / "head.aedat"
    path.write_bytes(head)
    for call in (aedat3.read, aedat3.info):
        with pytest.raises(FileFormatError, match=problem):
            call(path)


def edited(path: Path, event: int, word: int | None = None, stamp: int | None = None) -> int:
    """Change the data word or the timestamp of event ``event`` of the file's one packet; return
    the event's byte offset."""
    data = bytearray(path.read_bytes())
    at = data.index(b"#!END-HEADER\r\n") + 14 + 28 + 8 * event
    old_word, old_stamp = struct.unpack_from("<Ii", data, at)
    struct.pack_into(
        "<Ii", data, at, old_word if word is None else word, old_stamp if stamp is None else stamp
    )
    path.write_bytes(bytes(data))
    return at


def test_events_unlike_the_recorded_polarities_or_steps_name_their_byte(tmp_path: Path) -> None:
    path = tmp_path / "one.aedat"
    aedat3.write(path, Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(2, 1, 1)))
    assert aedat3.read(path).polarities == 1
    at = edited(path, 1, word=1 << 17 | 1)  # x = 1, OFF
    with pytest.raises(
        FileFormatError, match=rf"byte {at}: an OFF event, or both kinds, on a sensor of polarities=1"
    ):
        aedat3.read(path)
    steps = tmp_path / "steps.aedat"
    aedat3.write(steps, Events(t=[0, 3], x=[0, 1], y=[0, 0], p=[1, 0], shape=(2,), num_steps=4), dt_us=1000)
    at = edited(steps, 1, stamp=3001)
    with pytest.raises(FileFormatError, match=rf"byte {at}: t = 3001 us is not on the recorded step time"):
        aedat3.read(steps)
    edited(steps, 1, stamp=4000)  # step 4 of 4
    with pytest.raises(FileFormatError, match="0 <= k < num_steps = 4"):
        aedat3.read(steps)


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A cAER file of every kind of packet, and one of ours with step time, channels and a wrap."""
    folder = tmp_path_factory.mktemp("originals")
    events = eventcode.rate(torch.rand(1, 2, 4, 3), num_steps=6, generator=torch.Generator().manual_seed(3))
    aedat3.write(folder / "ours.aedat", events, dt_us=WRAP // 4, channels="tile")  # steps cross 2**31 us
    return [cAER_file(), (folder / "ours.aedat").read_bytes()]


@pytest.mark.timeout(120)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.integers(0, 1),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=4),
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_fuzzed_files_read_cleanly_or_name_the_byte(
    tmp_path: Path, originals: list[bytes], which: int, edits: list[tuple[float, int]], cut: float | None
) -> None:
    data = bytearray(originals[which])
    for where, value in edits:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    path = tmp_path / "fuzz.aedat"
    path.write_bytes(bytes(data))
    refused = []
    for call in (
        aedat3.read,
        aedat3.info,
        lambda p: list(aedat3.read_columns(p, chunk_events=3)),
        lambda p: aedat3.read(p, salvage=True),
    ):
        try:
            quietly(call, path)
        except FileFormatError as err:  # any other exception fails the test
            refused.append(str(err))
    assert all(re.search(r": byte \d+: ", message) for message in refused), refused
