"""Tests of exporters/aedat2.py: jAER's files, files built word by word, Tonic, round trips, damage."""

from __future__ import annotations

import itertools
import json
import struct
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import eventcode
from eventcode import Events
from eventcode.errors import (
    DataLossWarning,
    ExportError,
    FileFormatError,
    OptionError,
    OptionTypeError,
    TimeOrderError,
)
from exporters import aedat2, aer
from exporters.aer import Field, Layout

NAMED = [aer.DVS128, aer.DAVIS240, aer.DAVIS346, aer.DAVIS640]
CLASSES = {
    "DVS128": "ch.unizh.ini.jaer.chip.retina.DVS128",
    "DAVIS240": "eu.seebetter.ini.chips.davis.DAVIS240C",
    "DAVIS346": "eu.seebetter.ini.chips.davis.Davis346blue",
    "DAVIS640": "eu.seebetter.ini.chips.davis.Davis640",
}


def jaer_file(
    path: Path, records: list[tuple[int, int]], chip: str | None, lines: tuple[str, ...] = ()
) -> Path:
    """A file as jAER writes it: its header lines, then big-endian (address, timestamp) records."""
    header = ["#!AER-DAT2.0", "# This is a raw AE data file - do not edit", *lines]
    if chip is not None:
        header.append(f"# AEChip: {chip}")
    body = b"".join(struct.pack(">II", address, t) for address, t in records)
    path.write_bytes("".join(f"{line}\r\n" for line in header).encode() + body)
    return path


def columns(events: Events) -> tuple[list[int], ...]:
    return tuple(getattr(events, name).tolist() for name in "txyp")


def quiet_read(path: Path, **options: object) -> Events:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataLossWarning)
        return aedat2.read(path, **options)


def head(events: Events, lo: int, hi: int) -> Events:
    """Events ``lo:hi`` of a one-sample stream."""
    return Events(*(getattr(events, name)[lo:hi] for name in "txyp"), sensor_size=events.sensor_size)


def edges(extent: int) -> st.SearchStrategy[int]:
    """Addresses ``0 .. extent - 1``, the two edges likely."""
    return st.sampled_from([0, extent - 1]) | st.integers(0, extent - 1)


def random_stream(n: int, size: tuple[int, int], seed: int = 0, t0: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    t = t0 + np.concatenate([[0], np.cumsum(rng.integers(0, 20, max(n - 1, 0)))])[:n]
    return Events(
        t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.integers(0, 2, n), sensor_size=size
    )


# ---------------------------------------------------------------------- jAER's own files
def test_real_recordings_match_their_manifest(shared: Path) -> None:
    manifest = json.loads((shared / "data/real/manifest.json").read_text())
    entries = [entry for entry in manifest["files"] if entry["path"].startswith("aedat2/")]
    assert len(entries) == 3
    for entry in entries:
        path = shared / "data/real" / entry["path"]
        summary, found = entry["summary"], next(iter(entry["readers"].values()))["info"]
        skipped = {kind: found[f"records_{kind}"] for kind in ("special", "imu", "aps")}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            events = aedat2.read(path)
        lost = sum(skipped.values()) + found["trailing_bytes"]
        assert len(caught) == (1 if lost else 0), entry["path"]
        if lost:
            assert issubclass(caught[0].category, DataLossWarning)
            for kind, count in skipped.items():
                assert (f"{count} {kind}" in str(caught[0].message)) == bool(count)
        meta = aedat2.info(path)
        assert meta.extras["skipped"] == skipped
        assert meta.extras["trailing_bytes"] == found["trailing_bytes"]
        assert meta.extras["header_bytes"] == found["data_start"]
        assert meta.extras["records"] == found["raw_records"]
        assert meta.extras["chip"] == found["chip"]
        assert meta.sensor_size[:2] == tuple(found["resolution"])
        assert len(events) == meta.events == summary["events"]
        if not summary["events"]:
            assert (meta.first, meta.last) == (None, None)
            continue
        t, x, y, p = (getattr(events, name).numpy() for name in "txyp")
        assert (
            (int(t[0]), int(t[-1]))
            == (summary["t_first_us"], summary["t_last_us"])
            == (meta.first, meta.last)
        )
        width, height = found["resolution"]  # the manifest gives the raw fields: x = W - 1 - raw x
        assert (width - 1 - int(x.max()), width - 1 - int(x.min())) == (summary["x_min"], summary["x_max"])
        assert (height - 1 - int(y.max()), height - 1 - int(y.min())) == (summary["y_min"], summary["y_max"])
        assert (int(p.sum()), int((~p).sum())) == (summary["on"], summary["off"])


def test_a_recording_read_in_chunks_is_the_recording(shared: Path) -> None:
    path = shared / "data/real/aedat2/pyaedattools_IMU_translBoxes.aedat"
    whole = quiet_read(path)
    with pytest.warns(DataLossWarning, match="33837 imu"):
        chunks = list(aedat2.read_chunks(path, chunk_events=10_000))
    assert max(len(chunk) for chunk in chunks) <= 10_000
    for name in "txyp":
        assert torch.equal(torch.cat([getattr(c, name) for c in chunks]), getattr(whole, name))
    window = quiet_read(path, t_start=295_000_000, t_end=296_000_000)
    assert window == whole.time_slice(295_000_000, 296_000_000)


# ---------------------------------------------------------------------- files built word by word
def test_a_dvs128_file_word_by_word(tmp_path: Path) -> None:
    records = [
        (0x00007FFE, 10),  # raw x 127, raw y 127, bit 0 = 0: ON at (0, 0)
        (0x00000001, 20),  # raw x 0, raw y 0, bit 0 = 1: OFF at (127, 127)
        (0x00008000, 25),  # bit 15: external sync (special)
        (0x00001234, 30),  # raw y 0x12 = 18, raw x 0x1A = 26, ON: (101, 109)
        (0x80000000, 31),  # bit 31: special
        (0x00000001, 4_294_967_290),
        (0x00007FFE, 5),  # the 32-bit timestamp wrapped: 2^32 + 5
    ]
    jaer_lines = (
        "# created Fri Sep 18 09:50:42 CEST 2015",
        "#Start of Preferences",
        '#<entry key="a" value="1"/>',
    )
    path = jaer_file(tmp_path / "dvs.aedat", records, CLASSES["DVS128"], jaer_lines)
    with pytest.warns(DataLossWarning, match=r"left out 2 words that are not DVS events \(2 special\)"):
        events = aedat2.read(path)
    assert columns(events) == (
        [10, 20, 30, 4_294_967_290, 4_294_967_301],
        [0, 127, 101, 127, 0],
        [0, 127, 109, 127, 0],
        [True, False, True, False, True],
    )
    assert events.sensor_size == (128, 128, 2)
    meta = aedat2.info(path)
    assert (meta.events, meta.first, meta.last) == (5, 10, 4_294_967_301)
    assert meta.extras["skipped"] == {"special": 2}


@pytest.mark.parametrize("chip", [CLASSES["DAVIS346"], "eu.seebetter.ini.chips.davis.Davis346red"])
def test_a_davis346_file_word_by_word(tmp_path: Path, chip: str) -> None:
    imu = [(0x80000C00 | kind << 28, 102) for kind in range(7)]  # one IMU sample: 7 words, types 0-6
    records = [
        (0x40D59800, 100),  # raw y 259, raw x 345, bit 11: ON at (0, 0)
        (0x00000000, 100),  # OFF at (345, 259)
        (0x00000400, 101),  # bits 11-10 = 01: external input event
        *imu,
        (0x80000000, 103),  # APS reset read
        (0x80000600, 103),  # APS signal read, ADC 512
        ((10 << 22) | (20 << 12) | 0x800, 104),  # raw y 10, raw x 20, ON: (325, 249)
    ]
    path = jaer_file(tmp_path / "davis.aedat", records, chip)
    with pytest.warns(DataLossWarning, match=r"left out 10 words .*\(1 special, 7 imu, 2 aps\)"):
        events = aedat2.read(path)
    assert columns(events) == ([100, 100, 104], [0, 345, 325], [0, 259, 249], [True, False, True])
    assert aedat2.info(path).extras["skipped"] == {"special": 1, "imu": 7, "aps": 2}


def test_davis240_and_davis640_files_word_by_word(tmp_path: Path) -> None:
    records = [(0x2CCEF800, 7), ((179 << 22) | (0 << 12), 8)]  # (0, 0) ON; raw x 0 -> (239, 0) OFF
    for chip in ("DAVIS240A", "DAVIS240B", "DAVIS240C"):
        path = jaer_file(tmp_path / "240.aedat", records, f"eu.seebetter.ini.chips.davis.{chip}")
        assert columns(aedat2.read(path)) == ([7, 8], [0, 239], [0, 0], [True, False])
    path = jaer_file(tmp_path / "640.aedat", [(0x77E7F000, 1), (0x00000800, 2)], CLASSES["DAVIS640"])
    events = aedat2.read(path)
    assert columns(events) == ([1, 2], [0, 639], [0, 479], [False, True])
    assert events.sensor_size == (640, 480, 2)


def test_our_records_are_the_words_jaer_writes(tmp_path: Path) -> None:
    events = Events(
        t=[2**32 - 10, 2**32 - 5, 2**32 + 3],
        x=[0, 127, 101],
        y=[0, 127, 109],
        p=[1, 0, 1],
        sensor_size=(128, 128),
    )
    path = tmp_path / "dvs.aedat"
    aedat2.write(path, events)
    data = path.read_bytes()
    lines = data.split(b"\r\n")
    assert lines[:4] == [
        b"#!AER-DAT2.0",
        b"# This is a raw AE data file - do not edit",
        b"# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event",
        b"# Timestamps tick is 1 us",
    ]
    assert lines[4].startswith(b"# created ")
    assert lines[5:8] == [
        b"# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128",
        b"# eventcode: shape=128,128 layout=DVS128",
        b"#End Of ASCII Header",
    ]
    body = data[data.index(b"#End Of ASCII Header\r\n") + 22 :]
    assert body.hex() == "00007ffefffffff600000001fffffffb0000123400000003"  # times modulo 2^32
    assert aedat2.read(path) == events
    aedat2.write(path, Events(t=[5 * 2**32 + 1], x=[0], y=[0], p=[1], sensor_size=(128, 128)))
    assert b"# eventcode: shape=128,128 layout=DVS128 t_base_us=21474836480\r\n" in path.read_bytes()
    assert path.read_bytes()[-8:].hex() == "00007ffe00000001"
    assert aedat2.read(path).t.tolist() == [5 * 2**32 + 1]


# ---------------------------------------------------------------------- Tonic
def tonic_events(path: Path) -> tuple[np.ndarray, ...]:
    import tonic.io

    shape, _, xytp = tonic.io.read_davis_346(str(path))
    assert shape == (346, 260)
    return tuple(xytp[name].astype(np.int64) for name in "txyp")


@pytest.mark.parametrize("seed", range(4))
def test_tonic_reads_our_davis346_files_to_the_same_events(tmp_path: Path, seed: int) -> None:
    events = random_stream(20_000, (346, 260), seed=seed, t0=seed * 1_000_000)
    path = tmp_path / "ours.aedat"
    aedat2.write(path, events)
    first_byte = path.read_bytes()[aedat2.info(path).extras["header_bytes"]]
    assert first_byte != ord("#")  # Tonic would take it for a header line: see the test below
    theirs = tonic_events(path)
    ours = tuple(getattr(events, name).numpy().astype(np.int64) for name in "txyp")
    for a, b in zip(theirs, ours, strict=True):
        assert np.array_equal(a, b)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_tonic_reads_edges_and_both_polarities_alike(tmp_path: Path, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 30))
    x = data.draw(st.lists(edges(346), min_size=n, max_size=n))
    y = data.draw(st.lists(edges(260), min_size=n, max_size=n))
    assume(not 116 <= y[0] <= 119)  # a first word starting with '#': Tonic takes it for a header line
    t = sorted(data.draw(st.lists(st.integers(0, 2**32 - 1), min_size=n, max_size=n)))
    assume(all(b - a < 2**31 for a, b in itertools.pairwise(t)))
    p = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    events = Events(t=t, x=x, y=y, p=p, sensor_size=(346, 260))
    aedat2.write(tmp_path / "edges.aedat", events)
    theirs = tonic_events(tmp_path / "edges.aedat")
    assert [a.tolist() for a in theirs] == [list(map(int, column)) for column in (t, x, y, p)]


def test_a_first_word_starting_with_a_hash(tmp_path: Path) -> None:
    # raw y 140 (y = 259 - 140 = 119): the first address byte is 0x23, '#'. jAER's end-of-header
    # line keeps it data for jAER and for us.
    events = Events(t=[5, 6], x=[0, 1], y=[119, 0], p=[1, 0], sensor_size=(346, 260))
    path = tmp_path / "hash.aedat"
    aedat2.write(path, events)
    assert path.read_bytes()[aedat2.info(path).extras["header_bytes"]] == ord("#")
    assert aedat2.read(path) == events


# ---------------------------------------------------------------------- round trips
@st.composite
def streams(draw: st.DrawFn, layout: Layout) -> Events:
    """Events on the layout's sensor: edges likely, both polarities, maybe across 32-bit wraps,
    maybe starting past 2^32, empty or one event sometimes."""
    n = draw(st.sampled_from([0, 1]) | st.integers(0, 40))
    width, height = layout.size
    start = draw(st.sampled_from([0, 2**32 - 3, 5 * 2**32 + 11]) | st.integers(0, 2**40))
    gaps = draw(
        st.lists(st.sampled_from([0, 1, 2**31 - 1]) | st.integers(0, 2**31 - 1), min_size=n, max_size=n)
    )
    t = start + np.cumsum([0, *gaps[1:]]) if n else np.zeros(0, np.int64)
    return Events(
        t,
        draw(st.lists(edges(width), min_size=n, max_size=n)),
        draw(st.lists(edges(height), min_size=n, max_size=n)),
        draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        sensor_size=layout.size,
    )


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_every_layout_round_trips(tmp_path: Path, data: st.DataObject) -> None:
    layout = data.draw(st.sampled_from(NAMED))
    events = data.draw(streams(layout))
    path = tmp_path / "round.aedat"
    aedat2.write(path, events)
    assert aedat2.read(path) == events
    chunks = list(aedat2.read_columns(path, chunk_events=data.draw(st.integers(1, 50))))
    for name in "txyp":
        joined = np.concatenate([c[name] for c in chunks]) if chunks else np.zeros(0)
        assert np.array_equal(joined, getattr(events, name).numpy())
    meta = aedat2.info(path)
    assert (meta.events, meta.extras["camera"]) == (len(events), layout.name)
    assert (meta.first, meta.last) == ((int(events.t[0]), int(events.t[-1])) if len(events) else (None, None))


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_custom_layouts_round_trip_through_files(tmp_path: Path, data: st.DataObject) -> None:
    offsets = data.draw(st.permutations([0, 10, 20]))
    layout = Layout(
        "fpga board",
        tuple(
            Field(name, offset, 1 if name == "p" else 10, invert=data.draw(st.booleans()))
            for name, offset in zip("xyp", offsets, strict=True)
        ),
        (data.draw(st.integers(1, 1024)), data.draw(st.integers(1, 1024))),
        event=(1 << 31, 0),
    )
    events = data.draw(streams(layout))
    path = tmp_path / "custom.aedat"
    aedat2.write(path, events, layout=layout)
    assert aedat2.read(path, layout=layout) == events
    with pytest.raises(OptionError, match=r"written with layout 'fpga_board'; pass camera= .* or layout="):
        aedat2.read(path)


def test_a_layout_without_polarity_takes_on_events_only(tmp_path: Path) -> None:
    layout = Layout("counter", (Field("x", 0, 12), Field("y", 12, 12)), (4096, 4096))
    path = tmp_path / "on.aedat"
    events = Events(t=[1, 2], x=[4095, 0], y=[7, 4095], p=[1, 1], sensor_size=(4096, 4096))
    aedat2.write(path, events, layout=layout)
    assert path.read_bytes()[-16:].hex() == "00007fff0000000100fff00000000002"
    assert aedat2.read(path, layout=layout) == events
    with pytest.raises(ExportError, match=r"no p field, so it holds ON events only; p\[1\] is OFF"):
        aedat2.write(
            path, Events(t=[1, 2], x=[0, 0], y=[0, 0], p=[1, 0], sensor_size=(4096, 4096)), layout=layout
        )


def test_step_time_smaller_samples_and_one_polarity_come_back(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(1)
    digits = eventcode.rate(torch.rand(1, 1, 28, 28, generator=generator), num_steps=40, generator=generator)
    path = tmp_path / "digits.aedat"
    aedat2.write(path, digits, dt_us=250, t0_us=2**32 + 7, camera="DVS128")
    assert (
        b"# eventcode: shape=1,28,28 layout=DVS128 num_steps=40 dt_us=250 t0_us=4294967303"
        in path.read_bytes()
    )
    assert aedat2.read(path) == digits
    assert aedat2.read(path, t_start=10, t_end=20) == digits.time_slice(10, 20)
    meta = aedat2.info(path)
    assert (meta.time_unit, meta.num_steps, meta.dt_us, meta.shape) == ("step", 40, 250, (1, 28, 28))
    assert (meta.first, meta.last) == (int(digits.t[0]), int(digits.t[-1]))
    for polarities, p in ((1, [0, 0, 0]), (0, [1, 1, 1])):
        events = Events(
            t=[1, 2, 3], x=[0, 5, 9], y=[0, 1, 2], p=p, sensor_size=(10, 3), polarities=polarities
        )
        aedat2.write(path, events, camera="DAVIS240")
        assert aedat2.read(path) == events
    with pytest.raises(ExportError, match=r"3 samples but one path"):
        aedat2.write(path, Events.from_dense(torch.ones(2, 3, 1, 4)), dt_us=1, camera="DVS128")
    aedat2.write(
        tmp_path / "digit_{}.aedat", Events.from_dense(torch.ones(2, 3, 1, 4)), dt_us=1, camera="DVS128"
    )
    assert len(aedat2.read(tmp_path / "digit_2.aedat")) == 8


def test_the_writer_takes_chunks_in_order(tmp_path: Path) -> None:
    stream = random_stream(3000, (240, 180), t0=2**32 - 1000)
    path = tmp_path / "chunks.aedat"
    with aedat2.Writer(path, sensor_size=(240, 180)) as writer:
        for lo in range(0, 3000, 700):
            writer.write(head(stream, lo, lo + 700))
    assert aedat2.read(path) == stream
    with aedat2.Writer(tmp_path / "late.aedat", sensor_size=(240, 180)) as writer:
        writer.write(Events(t=[10], x=[0], y=[0], p=[1], sensor_size=(240, 180)))
        with pytest.raises(TimeOrderError, match="before the previous chunk's last event"):
            writer.write(Events(t=[9], x=[0], y=[0], p=[1], sensor_size=(240, 180)))
        with pytest.raises(ExportError, match="takes one sample at a time"):
            writer.write(Events.cat([Events(t=[20], x=[0], y=[0], p=[1], sensor_size=(240, 180))] * 2))
    assert aedat2.read(tmp_path / "late.aedat").t.tolist() == [10]
    old = (tmp_path / "late.aedat").read_bytes()

    def fail_while_writing() -> None:
        with aedat2.Writer(tmp_path / "late.aedat", sensor_size=(240, 180)) as writer:
            writer.write(Events(t=[1], x=[0], y=[0], p=[1], sensor_size=(240, 180)))
            raise RuntimeError("inside")

    with pytest.raises(RuntimeError, match="inside"):
        fail_while_writing()
    assert (tmp_path / "late.aedat").read_bytes() == old  # a failed write leaves the old file
    with aedat2.Writer(tmp_path / "empty.aedat", sensor_size=(346, 260)):
        pass
    assert len(aedat2.read(tmp_path / "empty.aedat")) == 0


# ---------------------------------------------------------------------- choosing the camera
def test_the_camera_comes_from_the_header_or_the_caller(tmp_path: Path) -> None:
    davis = [(0x40D59800, 1)]
    bare = jaer_file(tmp_path / "bare.aedat", davis, None)
    with pytest.raises(
        OptionError, match=r"names no camera \(no '# AEChip:' line\); pass camera= one of DVS128"
    ):
        aedat2.read(bare)
    assert columns(aedat2.read(bare, camera="davis346")) == ([1], [0], [0], [True])
    odd = jaer_file(tmp_path / "odd.aedat", davis, "ch.unizh.ini.jaer.chip.cochlea.CochleaAMS1c")
    with pytest.raises(
        OptionError, match=r"its camera is 'ch.unizh.*CochleaAMS1c', not one of jAER's cameras"
    ):
        aedat2.info(odd)
    with pytest.raises(
        FileFormatError, match=r"byte \d+: field x \(bits 12-21, inverted\) of layout 'DAVIS240' holds 345"
    ):
        aedat2.read(odd, camera="DAVIS240")
    assert aedat2.info(odd, camera="DAVIS346").events == 1
    with pytest.raises(OptionError, match="not both"):
        aedat2.read(bare, camera="DAVIS346", layout=aer.DAVIS346)
    with pytest.raises(OptionTypeError, match=r"exporters\.aer\.Layout"):
        aedat2.read(bare, layout="DAVIS346")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="no layout named 'ATIS'"):
        aedat2.read(bare, camera="ATIS")


@pytest.mark.parametrize(
    ("events", "options", "error", "match"),
    [
        (
            random_stream(3, (100, 100)),
            {},
            ExportError,
            r"no AEDAT 2.0 camera has the events' 100x100 sensor",
        ),
        (
            random_stream(3, (346, 260)),
            {"camera": "DVS128"},
            ExportError,
            r"346x260 sensor do not fit layout 'DVS128'",
        ),
        (random_stream(3, (10, 10)), {"camera": "x"}, OptionError, "no layout named 'x'"),
        (
            random_stream(3, (346, 260)),
            {"compression": "lz4"},
            ExportError,
            "AEDAT 2.0 has no compression 'lz4'",
        ),
        (
            Events(t=[0], x=[0], y=[0], p=[1], c=[1], shape=(2, 3, 3)),
            {"camera": "DVS128"},
            ExportError,
            "2 channels",
        ),
        (
            Events(t=[-5, 1], x=[0, 0], y=[0, 0], p=[1, 1], sensor_size=(128, 128)),
            {},
            ExportError,
            r"t\[0\] = -5 us: AEDAT 2.0 streams start at 0 .. 2\^62 us",
        ),
        (
            Events(t=[0, 2**31 - 1, 2**32 - 1], x=[0] * 3, y=[0] * 3, p=[1] * 3, sensor_size=(128, 128)),
            {},
            ExportError,
            r"t\[2\] = 4294967295 us comes 2147483648 us after the event before it",
        ),
        (Events.from_dense(torch.ones(2, 1, 128, 128)), {}, ExportError, "step-time events need dt_us"),
        (
            random_stream(3, (128, 128)),
            {"layout": Layout("wide", (Field("x", 0, 8), Field("y", 40, 8)), (128, 128), word_bits=64)},
            ExportError,
            "32-bit address words",
        ),
    ],
)
def test_bad_writes_say_what_is_wrong(
    tmp_path: Path, events: Events, options: dict, error: type, match: str
) -> None:
    path = tmp_path / "bad.aedat"
    with pytest.raises(error, match=match):
        aedat2.write(path, events, **options)
    assert not path.exists()


# ---------------------------------------------------------------------- damage
def test_time_going_back_names_its_record_and_sort_sorts(tmp_path: Path) -> None:
    records = [(0x00007FFE, 50), (0x8000, 60), (0x00000001, 70), (0x00001234, 40), (0x00007FFE, 80)]
    path = jaer_file(tmp_path / "back.aedat", records, CLASSES["DVS128"])
    start = aedat2.info(path).extras["header_bytes"]
    with pytest.raises(FileFormatError, match=rf"byte {start + 24}: the time goes back .*sort=True"):
        aedat2.read(path)
    with pytest.warns(DataLossWarning, match=r"1 special"):
        assert aedat2.read(path, sort=True).t.tolist() == [40, 50, 70, 80]
    with pytest.raises(FileFormatError, match=rf"byte {start + 24}: the time goes back"):
        list(aedat2.read_columns(path, chunk_events=2))


def test_addresses_outside_the_sensor_or_the_recorded_sample_name_their_record(tmp_path: Path) -> None:
    path = jaer_file(tmp_path / "x.aedat", [(0, 1), (346 << 12, 2)], CLASSES["DAVIS346"])
    start = aedat2.info(path).extras["header_bytes"]
    with pytest.raises(
        FileFormatError, match=rf"byte {start + 8}: field x \(bits 12-21, inverted\) .* holds 346"
    ):
        aedat2.read(path)
    events = Events(t=[1, 2, 3], x=[0, 1, 2], y=[0, 0, 0], p=[1, 1, 1], sensor_size=(3, 1))
    aedat2.write(path, events, camera="DVS128")
    data = bytearray(path.read_bytes())
    struct.pack_into(
        ">I", data, start := aedat2.info(path).extras["header_bytes"], 0x7FFE - (10 << 1)
    )  # x = 10
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=rf"byte {start}: outside the 3x1 sensor of the recorded shape"):
        aedat2.read(path)


def test_step_times_off_their_steps_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "steps.aedat"
    aedat2.write(path, Events.from_dense(torch.ones(3, 1, 1, 2)), dt_us=100, camera="DVS128")
    data = bytearray(path.read_bytes())
    start = aedat2.info(path).extras["header_bytes"]
    struct.pack_into(">I", data, start + 8 * 3 + 4, 150)  # the 4th event (step 1, t = 100) at 150 us
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=rf"byte {start + 24}: a time off the recorded steps"):
        aedat2.read(path)


def test_truncated_files_and_headers(tmp_path: Path) -> None:
    events = random_stream(10, (128, 128))
    path = tmp_path / "a.aedat"
    aedat2.write(path, events)
    data = path.read_bytes()
    start = aedat2.info(path).extras["header_bytes"]
    path.write_bytes(data[:-3])
    with pytest.warns(
        DataLossWarning, match=rf"left out 5 bytes at byte {start + 72}, an incomplete last record"
    ):
        assert aedat2.read(path) == head(events, 0, 9)
    path.write_bytes(data[:30])
    with pytest.raises(FileFormatError, match=r"byte 14: the file ends inside this header line"):
        aedat2.read(path)
    path.write_bytes(b"#!AER-DAT3.1\r\n" + data[14:])
    with pytest.raises(FileFormatError, match=r"byte 0: not an AEDAT 2.0 file"):
        aedat2.read(path)
    path.write_bytes(data.replace(b"shape=128,128", b"shape=12x,12"))
    with pytest.raises(FileFormatError, match=r"byte \d+: eventcode's header line"):
        aedat2.read(path)


def corrupt(data: st.DataObject, blob: bytes) -> bytes:
    damaged = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 6))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    return bytes(damaged[: data.draw(st.integers(0, len(damaged)))])


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("small")
    files = {}
    for layout in NAMED:
        aedat2.write(folder / "a.aedat", random_stream(50, layout.size, t0=2**32 - 200), camera=layout.name)
        files[layout.name] = (folder / "a.aedat").read_bytes()
    aedat2.write(folder / "s.aedat", Events.from_dense(torch.ones(3, 1, 4, 4)), dt_us=7, camera="DVS128")
    files["steps"] = (folder / "s.aedat").read_bytes()
    imu = [(0x80000C00 | kind << 28, 30 + kind) for kind in range(7)]
    records = [
        (0x40D59800, 1),
        (0x400, 2),
        *imu,
        (0x80000000, 40),
        (0x00000800, 50),
        (0x1000800, 4_294_967_295),
    ]
    files["DAVIS346 words"] = jaer_file(
        folder / "w.aedat", [*records, (0, 3)], CLASSES["DAVIS346"]
    ).read_bytes()
    return files


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_corrupted_files_raise_our_error_or_read_cleanly(
    tmp_path: Path, small_files: dict[str, bytes], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(small_files)))
    path = tmp_path / "bad.aedat"
    path.write_bytes(corrupt(data, small_files[name]))
    camera = {"steps": "DVS128", "DAVIS346 words": "DAVIS346"}.get(
        name, name
    )  # the AEChip line may be damaged
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataLossWarning)
            events = aedat2.read(path, camera=camera)
            chunks = list(aedat2.read_chunks(path, chunk_events=7, camera=camera))
            meta = aedat2.info(path, camera=camera)
    except FileFormatError as err:
        message = str(err)
    else:
        message = ""
        assert bool((events.t[1:] >= events.t[:-1]).all())
        assert sum(len(chunk) for chunk in chunks) == len(events) == meta.events
    assert message == "" or "byte " in message


def test_read_columns_are_the_columns_of_read_chunks(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(4)
    steps = eventcode.rate(torch.rand(1, 1, 30, 20, generator=generator), num_steps=300, generator=generator)
    aedat2.write(tmp_path / "steps.aedat", steps, dt_us=100, t0_us=7, camera="DAVIS240")
    aedat2.write(tmp_path / "us.aedat", random_stream(50_000, (346, 260), seed=5, t0=2**32 - 100_000))
    for name in ("steps.aedat", "us.aedat"):
        path = tmp_path / name
        pairs = zip(aedat2.read_columns(path, 7_000), aedat2.read_chunks(path, 7_000), strict=True)
        for chunk_columns, chunk in pairs:
            assert [chunk_columns[k].dtype.name for k in "txyp"] == ["int64", "int16", "int16", "bool"]
            for key in "txyp":
                assert np.array_equal(chunk_columns[key], getattr(chunk, key).numpy())
    window = list(aedat2.read_chunks(tmp_path / "steps.aedat", 1000, t_start=100, t_end=200))
    assert torch.equal(torch.cat([chunk.t for chunk in window]), steps.time_slice(100, 200).t)
    assert all(chunk.time_unit == "step" and chunk.num_steps == 300 for chunk in window)


def test_chunks_stream_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.aedat"
    events = random_stream(4_000_000, (346, 260), seed=9)
    aedat2.write(path, events)
    del events
    tracemalloc.start()
    try:
        total, last = 0, -1
        for chunk in aedat2.read_columns(path, chunk_events=50_000):
            assert len(chunk["t"]) <= 50_000
            assert int(chunk["t"][0]) >= last
            total, last = total + len(chunk["t"]), int(chunk["t"][-1])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 4_000_000
    assert peak < 20 * 2**20, peak  # the whole stream decoded takes 60 MiB


# ---------------------------------------------------------------------- the format contract
def test_read_columns_runs_without_torch(tmp_path: Path) -> None:
    path = tmp_path / "a.aedat"
    aedat2.write(path, random_stream(1000, (346, 260)))
    script = (
        "import sys\n"
        "from exporters import aedat2\n"
        "n = sum(len(chunk['t']) for chunk in aedat2.read_columns(sys.argv[1]))\n"
        "print(n, aedat2.info(sys.argv[1]).events, 'torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1000", "1000", "False"]


def test_sniff_and_the_arguments_of_the_contract(tmp_path: Path, shared: Path) -> None:
    for path in sorted((shared / "data/real/aedat2").glob("*.aedat")):
        assert aedat2.sniff(path.read_bytes()[:4096]) == 1.0
    assert [aedat2.sniff(head) for head in (b"", b"#!AER-DAT", b"#!AER-DAT3.1\r\n", b"#!AER-DAT4.0\r\n")] == [
        0.0
    ] * 4
    events = random_stream(100, (128, 128))
    path = tmp_path / "a.aedat"
    aedat2.write(path, events, compression=None, dt_us=None, overwrite=True)
    assert all(aedat2.read(path, sample=sample) == events for sample in (None, 0, -1))
    with pytest.raises(OptionError, match="sample must be None, 0 or -1"):
        aedat2.read(path, sample=1)
    with pytest.raises(OptionError, match="chunk_events"):
        aedat2.read_chunks(path, chunk_events=0)
    with pytest.raises(TypeError):
        aedat2.read(path, 5)  # type: ignore[misc]
    with pytest.raises(ExportError, match="exists"):
        aedat2.write(path, events, overwrite=False)
    assert (aedat2.NAME, aedat2.BATCHED, aedat2.DEFAULT_COMPRESSION) == ("aedat2", False, "none")
