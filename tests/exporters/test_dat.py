"""Tests of exporters/dat.py: the N-CARS sample, files built record by record, faery and
expelliarmus both ways, round trips, windows and chunks, damaged files."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventcode
from eventcode import Events
from eventcode.errors import (
    DataLossWarning,
    EventcodeWarning,
    ExportError,
    FileFormatError,
    OptionError,
    TimeOrderError,
)
from exporters import dat

NCARS = "data/real/dat/tonic_sample_ncars.dat"
PEER_DTYPE = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
"""expelliarmus' event array."""


def dat_file(
    path: Path,
    t: object,
    x: object,
    y: object,
    p: object,
    lines: tuple[str, ...] = (),
    *,
    kind: int = 0x0C,
    version: int = 2,
    tail: bytes = b"",
) -> Path:
    """A DAT file as the spec describes it, built here with numpy: ``%`` lines, type and size,
    little-endian (time mod 2^32, word) records."""
    x_bits, _, p_shift = {1: (9, 8, 17), 2: (14, 14, 28)}[version]
    t, x, y, p = (np.asarray(v, np.uint64) for v in (t, x, y, p))
    records = np.empty((len(t), 2), "<u4")
    records[:, 0] = t % 2**32
    records[:, 1] = x | (y << np.uint64(x_bits)) | (p << np.uint64(p_shift))
    header = "".join(f"% {line}\n" for line in lines).encode() + bytes((kind, 8))
    path.write_bytes(header + records.tobytes() + tail)
    return path


def columns(events: Events) -> tuple[list[int], ...]:
    return tuple(getattr(events, name).tolist() for name in "txyp")


def random_stream(n: int, size: tuple[int, int], seed: int = 0, t0: int = 0, step: int = 20) -> Events:
    rng = np.random.default_rng(seed)
    t = t0 + np.concatenate([[0], np.cumsum(rng.integers(0, step, max(n - 1, 0)))])[:n]
    return Events(
        t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.integers(0, 2, n), sensor_size=size
    )


@st.composite
def streams(draw: st.DrawFn, max_size: int = 40) -> Events:
    """Streams at the sensor's edges with both polarities, gaps up to 2^31 - 1 us (32-bit wraps),
    starting anywhere below 2^40 us; empty ones too."""
    width, height = draw(st.sampled_from([(1, 1), (640, 480), (16384, 16384), (78, 42)]))
    n = draw(st.integers(0, max_size))
    gaps = draw(
        st.lists(st.sampled_from([0, 1, 2**31 - 1]) | st.integers(0, 2**31 - 1), min_size=n, max_size=n)
    )
    t0 = draw(st.sampled_from([0, 2**32 - 1, 2**32]) | st.integers(0, 2**40))
    t = (t0 + np.cumsum(np.asarray(gaps, np.int64))) if n else np.zeros(0, np.int64)

    def edge(extent: int) -> st.SearchStrategy[int]:
        return st.sampled_from([0, extent - 1]) | st.integers(0, extent - 1)

    x = draw(st.lists(edge(width), min_size=n, max_size=n))
    y = draw(st.lists(edge(height), min_size=n, max_size=n))
    p = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return Events(t, x, y, p, sensor_size=(width, height))


# ---------------------------------------------------------------------- real files and peers
def test_the_ncars_sample_reads_as_its_manifest_says(shared: Path) -> None:
    manifest = json.loads((shared / "data/real/manifest.json").read_text())
    entries = manifest if isinstance(manifest, list) else manifest.get("files", manifest)
    entry = next(e for e in entries if isinstance(e, dict) and e.get("path") == "dat/tonic_sample_ncars.dat")
    expected = entry["summary"]
    path = shared / NCARS
    with pytest.warns(EventcodeWarning, match="guessed 78x42"):
        events = dat.read(path)
    t, x, y, p = (getattr(events, name).numpy() for name in "txyp")
    assert len(events) == expected["events"]
    assert (int(t[0]), int(t[-1]), int(t.min()), int(t.max())) == (
        expected["t_first_us"],
        expected["t_last_us"],
        expected["t_min_us"],
        expected["t_max_us"],
    )
    assert (int(x.min()), int(x.max()), int(y.min()), int(y.max())) == (
        expected["x_min"],
        expected["x_max"],
        expected["y_min"],
        expected["y_max"],
    )
    assert (int(p.sum()), int((~p).sum())) == (expected["on"], expected["off"])
    # the guess is the largest address + 1; sensor_size= sets it without a warning
    assert events.sensor_size == (78, 42, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given_size = dat.read(path, sensor_size=(120, 100))
        meta = dat.info(path, sensor_size=(120, 100))
    assert given_size.sensor_size == (120, 100, 2)
    assert columns(given_size) == columns(events)
    assert (meta.events, meta.first, meta.last, meta.extras["event_type"]) == (2009, 0, 99952, "2d")
    # faery refuses it: the type byte after the header is 0x00 (Event2D), not 0x0C (CD)
    start = int(str(meta.extras["header_bytes"]))
    assert path.read_bytes()[start - 2 : start] == b"\x00\x08"
    faery = pytest.importorskip("faery")
    with pytest.raises(Exception, match='unsupported type "2d"'):
        faery.events_stream_from_file(path)
    expelliarmus = pytest.importorskip("expelliarmus")
    theirs = expelliarmus.Wizard(encoding="dat").read(path)
    assert [theirs[k].tolist() for k in "txyp"] == [
        *list(columns(events)[:3]),
        events.p.to(torch.uint8).tolist(),
    ]
    with pytest.warns(EventcodeWarning):
        chunks = list(dat.read_chunks(path, chunk_events=500))
    assert [len(c) for c in chunks] == [500, 500, 500, 500, 9]
    assert torch.equal(torch.cat([c.t for c in chunks]), events.t)


def peers_read(path: Path) -> list[tuple[list[int], ...]]:
    """Our file as expelliarmus and faery read it."""
    expelliarmus = pytest.importorskip("expelliarmus")
    faery = pytest.importorskip("faery")
    out = []
    theirs = expelliarmus.Wizard(encoding="dat").read(path)
    if theirs is None:  # expelliarmus reads an empty stream as None
        theirs = np.zeros(0, PEER_DTYPE)
    out.append(tuple(theirs[k].astype(np.int64).tolist() for k in "txyp"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = faery.events_stream_from_file(path).to_array()
    out.append(tuple(theirs[k].astype(np.int64).tolist() for k in ("t", "x", "y", "on")))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(streams(max_size=30))
def test_expelliarmus_and_faery_read_our_files_to_our_events(tmp_path: Path, events: Events) -> None:
    if len(events) and int(events.t[0]) >= 2**32:  # peers read times modulo 2^32 from there
        events = Events(
            events.t - int(events.t[0]) // 2**32 * 2**32,
            events.x,
            events.y,
            events.p,
            sensor_size=events.sensor_size,
        )
    path = tmp_path / "ours.dat"
    dat.write(path, events)
    ours = tuple(getattr(events, k).to(torch.int64).tolist() for k in "txyp")
    expelliarmus_read, faery_read = peers_read(path)
    assert expelliarmus_read == ours
    if len(events):  # faery reads an empty stream as an empty array too, in its own dtype
        assert faery_read == ours


def test_we_read_files_expelliarmus_and_faery_write(tmp_path: Path) -> None:
    expelliarmus = pytest.importorskip("expelliarmus")
    faery = pytest.importorskip("faery")
    rng = np.random.default_rng(3)
    n = 5000
    t = np.cumsum(rng.integers(0, 2**20, n)) + 2**32 - 2**28  # crosses the 32-bit wrap
    x, y, p = rng.integers(0, 1280, n), rng.integers(0, 720, n), rng.integers(0, 2, n)
    x[:2], y[:2] = [0, 1279], [0, 719]
    t -= t[0] // 2**32 * 2**32
    array = np.zeros(n, PEER_DTYPE)
    array["t"], array["x"], array["y"], array["p"] = t, x, y, p
    expelliarmus.Wizard(encoding="dat").save(tmp_path / "expelliarmus.dat", array)
    events = np.zeros(n, faery.EVENTS_DTYPE)
    events["t"], events["x"], events["y"], events["on"] = t, x, y, p.astype(bool)
    faery.events_stream_from_array(events, dimensions=(1280, 720)).to_file(tmp_path / "faery.dat")
    expected = (t.tolist(), x.tolist(), y.tolist(), p.tolist())
    with pytest.warns(EventcodeWarning, match="no sensor size"):  # expelliarmus writes no Width / Height
        from_expelliarmus = dat.read(tmp_path / "expelliarmus.dat")
    from_faery = dat.read(tmp_path / "faery.dat")
    assert tuple(c for c in columns(from_expelliarmus)) == expected
    assert tuple(c for c in columns(from_faery)) == expected  # faery stores t - T0 and writes % T0
    assert from_faery.sensor_size == (1280, 720, 2)
    lo, hi = int(t[1000]), int(t[3000]) + 1
    inside = (t >= lo) & (t < hi)
    window = dat.read(tmp_path / "faery.dat", t_start=lo, t_end=hi)  # found after T0 and the wrap
    assert columns(window) == (t[inside].tolist(), x[inside].tolist(), y[inside].tolist(), p[inside].tolist())
    meta = dat.info(tmp_path / "faery.dat")
    assert (meta.extras["size_from"], meta.extras["T0_us"], meta.first) == ("header", int(t[0]), int(t[0]))


# ---------------------------------------------------------------------- files built here
def test_records_built_by_hand_in_both_versions(tmp_path: Path) -> None:
    t, x, y, p = [5, 6, 2**32 - 1, 7], [0, 16383, 3, 9], [16383, 0, 2, 1], [1, 0, 1, 0]
    path = dat_file(
        tmp_path / "v2.dat",
        t,
        x,
        y,
        p,
        ("Data file containing CD events.", "Version 2", "Width 16384", "Height 16384"),
    )
    events = dat.read(path)
    assert columns(events) == ([5, 6, 2**32 - 1, 2**32 + 7], x, y, [True, False, True, False])
    assert events.sensor_size == (16384, 16384, 2)
    x1, y1 = [0, 511, 3, 9], [255, 0, 2, 1]
    path = dat_file(tmp_path / "v1.dat", t, x1, y1, p, ("Version 1", "Width 512", "Height 256"), version=1)
    assert columns(dat.read(path)) == ([5, 6, 2**32 - 1, 2**32 + 7], x1, y1, [True, False, True, False])
    assert dat.info(path).extras["version"] == 1
    # no header lines at all: version 2, Event2D type
    path = dat_file(tmp_path / "bare.dat", [1, 2], [3, 4], [5, 6], [0, 1], kind=0x00)
    with pytest.warns(EventcodeWarning):
        assert columns(dat.read(path)) == ([1, 2], [3, 4], [5, 6], [False, True])


def test_our_header_and_records_are_the_spec(tmp_path: Path) -> None:
    events = Events(t=[2**32 - 3, 2**32 + 1], x=[1, 639], y=[479, 2], p=[1, 0], sensor_size=(640, 480))
    dat.write(tmp_path / "a.dat", events)
    raw = (tmp_path / "a.dat").read_bytes()
    lines = raw.split(b"\n")
    assert lines[0] == b"% Data file containing CD events."
    assert lines[1].startswith(b"% Date ")
    assert lines[2:5] == [b"% Version 2", b"% Width 640", b"% Height 480"]
    assert lines[5] == b"% eventcode shape=480,640 polarities=2 t_base_us=0"
    body = raw[raw.index(b"t_base_us=0\n") + 12 :]
    assert body[:2] == b"\x0c\x08"
    records = np.frombuffer(body[2:], "<u4").reshape(-1, 2)
    assert records.tolist() == [[2**32 - 3, 1 | 479 << 14 | 1 << 28], [1, 639 | 2 << 14]]


# ---------------------------------------------------------------------- round trips
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(streams(), st.data())
def test_round_trips_windows_and_chunks(tmp_path: Path, events: Events, data: st.DataObject) -> None:
    path = tmp_path / "r.dat"
    dat.write(path, events)
    back = dat.read(path)
    assert back == events
    chunk = data.draw(st.integers(1, 8))
    chunks = list(dat.read_chunks(path, chunk_events=chunk))
    assert all(0 < len(c) <= chunk for c in chunks)
    assert sum(len(c) for c in chunks) == len(events)
    if chunks:
        assert torch.equal(torch.cat([c.t for c in chunks]), events.t)
    near = st.sampled_from([int(v) + d for v in events.t.tolist() for d in (-1, 0, 1)] or [0])
    lo = data.draw(st.none() | near | st.integers(0, 2**41))  # at, beside and between the events
    hi = data.draw(st.none() | near | st.integers(0, 2**41))
    expected = (
        events.time_slice(lo, hi) if lo is None or hi is None or lo <= hi else events.time_slice(lo, lo)
    )
    if lo is not None and hi is not None and hi < lo:
        hi = lo
    window = dat.read(path, t_start=lo, t_end=hi)
    assert columns(window) == columns(expected)
    pieces = list(dat.read_columns(path, chunk_events=chunk, t_start=lo, t_end=hi))
    assert [int(v) for piece in pieces for v in piece["t"]] == columns(expected)[0]
    meta = dat.info(path)
    assert (meta.events, meta.sensor_size) == (len(events), events.sensor_size)
    if len(events):
        assert (meta.first, meta.last) == (int(events.t[0]), int(events.t[-1]))


def test_step_time_and_one_polarity_come_back(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(1)
    steps = eventcode.rate(torch.rand(1, 1, 30, 20, generator=generator), num_steps=50, generator=generator)
    dat.write(tmp_path / "steps.dat", steps, dt_us=1000, t0_us=2**32 + 5)
    back = dat.read(tmp_path / "steps.dat")
    assert back == steps
    assert back.time_unit == "step"
    assert back.num_steps == 50
    assert columns(dat.read(tmp_path / "steps.dat", t_start=10, t_end=20)) == columns(
        steps.time_slice(10, 20)
    )
    meta = dat.info(tmp_path / "steps.dat")
    assert (meta.time_unit, meta.dt_us, meta.extras["t0_us"], meta.extras["t_base_us"]) == (
        "step",
        1000,
        2**32 + 5,
        2**32,
    )
    one = Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(2, 1, 1))
    dat.write(tmp_path / "one.dat", one)
    assert dat.read(tmp_path / "one.dat") == one
    assert dat.read(tmp_path / "one.dat").polarities == 1


def test_the_writer_takes_chunks_in_order(tmp_path: Path) -> None:
    events = random_stream(3000, (640, 480), seed=2, t0=2**32 - 20_000)
    with dat.Writer(tmp_path / "w.dat", sensor_size=(640, 480)) as writer:
        for lo in range(0, 3000, 700):
            writer.write(Events(*(getattr(events, k)[lo : lo + 700] for k in "txyp"), sensor_size=(640, 480)))
        with pytest.raises(TimeOrderError, match="before the previous chunk"):
            writer.write(Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(640, 480)))
    assert dat.read(tmp_path / "w.dat") == events
    with pytest.raises(ExportError, match="open writer"):
        writer.write(events)


@pytest.mark.parametrize(
    ("events", "options", "match"),
    [
        (Events(t=[0, 2**31], x=[0, 0], y=[0, 0], p=[1, 1], sensor_size=(4, 4)), {}, "gaps below 2"),
        (Events(t=[0, 1], x=[0, 0], y=[0, 0], p=[1, 1], sensor_size=(16385, 2)), {}, "16384x16384"),
        (Events(t=[0], x=[0], y=[0], p=[1], c=[1], shape=(2, 3, 4)), {}, "one channel"),
        (Events(t=[0], x=[0], y=[0], p=[1], num_steps=2, sensor_size=(4, 4)), {}, "dt_us"),
        (Events(t=[2**62], x=[0], y=[0], p=[1], sensor_size=(4, 4)), {}, "start at 0"),
    ],
)
def test_bad_writes_say_what_is_wrong(
    tmp_path: Path, events: Events, options: dict[str, object], match: str
) -> None:
    with pytest.raises(ExportError, match=match):
        dat.write(tmp_path / "bad.dat", events, **options)  # type: ignore[arg-type]
    assert not (tmp_path / "bad.dat").exists()


# ---------------------------------------------------------------------- damaged files
def test_damage_names_its_byte_offset(tmp_path: Path) -> None:
    lines = ("Version 2", "Width 10", "Height 10")
    start = sum(len(line) + 3 for line in lines) + 2  # "% " + line + "\n", then the type and size
    cases = {
        "polarity 2": ([0, 1, 2], [0, 1, 2], [0, 0, 0], [1, 2, 0], 1, "polarity 2"),
        "back": ([0, 10, 9], [0, 1, 2], [0, 0, 0], [1, 0, 0], 2, "goes back"),
        "outside": ([0, 10, 11], [0, 10, 2], [0, 0, 0], [1, 0, 0], 1, "outside the 10x10 sensor"),
    }
    for name, (t, x, y, p, record, match) in cases.items():
        path = dat_file(tmp_path / f"{name}.dat", t, x, y, p, lines)
        for reader in (dat.read, lambda f: list(dat.read_chunks(f, chunk_events=1))):
            with pytest.raises(FileFormatError, match=f"byte {start + 8 * record}: .*{match}"):
                reader(path)
    path = dat_file(tmp_path / "v1.dat", [0, 1], [0, 1], [0, 0], [1, 3], ("Version 1",), version=1)
    with pytest.raises(FileFormatError, match="polarity 3"):
        dat.read(path, sensor_size=(4, 4))
    path = dat_file(tmp_path / "trigger.dat", [0], [0], [0], [1], lines, kind=0x0E)
    with pytest.raises(FileFormatError, match=rf"byte {start - 2}: event type 0x0E \(trigger\)"):
        dat.read(path)
    path = dat_file(tmp_path / "short.dat", [0, 5], [0, 1], [0, 0], [1, 0], lines, tail=b"\x01\x02\x03")
    with pytest.warns(DataLossWarning, match=f"3 bytes at byte {start + 16}"):
        assert columns(dat.read(path))[0] == [0, 5]
    (tmp_path / "head.dat").write_bytes(b"% Version 2\n% Wid")
    with pytest.raises(FileFormatError, match="byte 12: the file ends inside this header line"):
        dat.read(tmp_path / "head.dat")
    (tmp_path / "none.dat").write_bytes(b"% Version 2\n")
    with pytest.raises(FileFormatError, match="byte 12: the file ends before the event type"):
        dat.info(tmp_path / "none.dat")
    (tmp_path / "evt.dat").write_bytes(b"% evt 3.0\n% end\n")
    with pytest.raises(FileFormatError, match="EVT"):
        dat.read(tmp_path / "evt.dat")


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("dat") / "small.dat"
    dat.write(path, random_stream(40, (64, 48), seed=1, t0=2**32 - 300, step=30))
    return path.read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_corrupted_files_raise_our_error_or_read_cleanly(
    tmp_path: Path, small_file: bytes, data: st.DataObject
) -> None:
    raw = bytearray(small_file)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.none() | st.integers(0, len(raw)))
    path = tmp_path / "bad.dat"
    path.write_bytes(bytes(raw[:cut]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EventcodeWarning)
            events = dat.read(path, sensor_size=(64, 48))
            chunks = list(dat.read_chunks(path, chunk_events=7, sensor_size=(64, 48)))
            meta = dat.info(path, sensor_size=(64, 48))
    except FileFormatError as err:
        message = str(err)
    else:
        message = "byte "
        assert bool((events.t[1:] >= events.t[:-1]).all())
        assert sum(len(chunk) for chunk in chunks) == len(events) == meta.events
    assert "byte " in message


# ---------------------------------------------------------------------- the format contract
def test_chunks_stream_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.dat"
    dat.write(path, random_stream(3_000_000, (640, 480), seed=9))
    tracemalloc.start()
    try:
        total, last = 0, -1
        for chunk in dat.read_columns(path, chunk_events=50_000):
            assert len(chunk["t"]) <= 50_000
            assert int(chunk["t"][0]) >= last
            total, last = total + len(chunk["t"]), int(chunk["t"][-1])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 3_000_000
    assert peak < 16 * 2**20, peak  # the whole stream decoded takes 39 MiB


def test_read_columns_runs_without_torch(tmp_path: Path) -> None:
    path = tmp_path / "a.dat"
    dat.write(path, random_stream(1000, (640, 480)))
    script = (
        "import sys\n"
        "from exporters import dat\n"
        "n = sum(len(chunk['t']) for chunk in dat.read_columns(sys.argv[1]))\n"
        "print(n, dat.info(sys.argv[1]).events, 'torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1000", "1000", "False"]


def test_sniff_and_the_arguments_of_the_contract(tmp_path: Path, shared: Path) -> None:
    assert dat.sniff((shared / NCARS).read_bytes()[:4096]) == 0.9
    raw_files = sorted((shared / "data/real").glob("evt*/*.raw"))
    assert raw_files
    assert [dat.sniff(path.read_bytes()[:4096]) for path in raw_files] == [0.0] * len(raw_files)
    events = random_stream(100, (640, 480))
    path = tmp_path / "a.dat"
    dat.write(path, events, compression=None, dt_us=None, overwrite=True)
    assert dat.sniff(path.read_bytes()[:4096]) == 0.9
    evt = b"% evt 3.0\n% format EVT3;height=720;width=1280\n% end\n" + bytes(16)
    assert [dat.sniff(head) for head in (b"", evt, b"#!AER-DAT2.0\r\n", b"% Version 2\n\x01\x08")] == [
        0.0
    ] * 4
    assert dat.sniff(b"% Version 2\n% " + b"x" * 5000) == 0.3
    assert all(dat.read(path, sample=sample) == events for sample in (None, 0, -1))
    with pytest.raises(OptionError, match="sample must be None, 0 or -1"):
        dat.read(path, sample=1)
    with pytest.raises(OptionError, match="chunk_events"):
        dat.read_chunks(path, chunk_events=0)
    with pytest.raises(ExportError, match="exists"):
        dat.write(path, events, overwrite=False)
    assert (dat.NAME, dat.SUFFIXES, dat.BATCHED, dat.DEFAULT_COMPRESSION) == ("dat", (".dat",), False, "none")
