"""Prophesee EVT 2.0 / 3.0: hand-built words, the real sample files, faery and expelliarmus both ways."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import DataLossWarning, ExportError, FileFormatError, OptionError
from exporters import evt

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
MANIFEST = REAL / "manifest.json"
needs_real = pytest.mark.skipif(not MANIFEST.exists(), reason="no shared/data/real")


def raw(path: Path, header: str, words: list[int], dtype: str) -> Path:
    path.write_bytes(header.encode() + np.array(words, dtype=dtype).tobytes())
    return path


def columns(events: Events) -> tuple[list[int], list[int], list[int], list[int]]:
    return events.t.tolist(), events.x.tolist(), events.y.tolist(), events.p.int().tolist()


def faery_read(path: Path) -> np.ndarray:
    faery = pytest.importorskip("faery")
    return np.concatenate([np.zeros(0, faery.EVENTS_DTYPE), *faery.events_stream_from_file(path)])


def faery_columns(path: Path) -> tuple[list[int], list[int], list[int], list[int]]:
    """faery's ``t, x, y, on`` of a file, as :func:`columns` gives ours."""
    theirs = faery_read(path)
    return theirs["t"].tolist(), theirs["x"].tolist(), theirs["y"].tolist(), theirs["on"].tolist()


def expelliarmus_read(path: Path, version: str) -> np.ndarray:
    expelliarmus = pytest.importorskip("expelliarmus")
    read: np.ndarray = expelliarmus.Wizard("EVT" + version[0]).read(path)
    return read


# EVT 3.0 words, by hand: (type << 12) | payload
Y, X, BASE, V12, V8, LOW, HIGH = 0x0000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x8000
ON = 1 << 11
HAND3 = [
    Y | 5, HIGH | 1, LOW | 0x100, X | ON | 10,  # (4096 + 256, 10, 5, on)
    HIGH | 2, LOW | 0x32B, LOW | 0x020, X | 11,  # a TIME_LOW ahead of the next one, as in the Gen4.1 file
    BASE | ON | 100, V12 | 0b1000_0000_0101, V8 | 0x81,  # x 100, 102, 111, then 112, 119
    0xA001, 0xE000, 0xF123,  # EXT_TRIGGER, OTHERS, CONTINUED_12
    Y | 719, HIGH | 0xFFF, LOW | 5, X | 1279,
    HIGH | 0x000, LOW | 7, X | ON | 0,  # across the 24-bit wrap
]  # fmt: skip
T2 = 2 * 4096 + 0x020
HAND3_EVENTS = (
    [4096 + 256, T2, T2, T2, T2, T2, T2, (0xFFF << 12) | 5, (1 << 24) + 7],
    [10, 11, 100, 102, 111, 112, 119, 1279, 0],
    [5, 5, 5, 5, 5, 5, 5, 719, 719],
    [1, 0, 1, 1, 1, 1, 1, 0, 1],
)


def test_hand_built_evt3_reads_as_the_spec_says(tmp_path: Path) -> None:
    path = raw(tmp_path / "hand.raw", "% evt 3.0\n% geometry 1280x720\n% end\n", HAND3, "<u2")
    with pytest.warns(DataLossWarning, match=r"3 words .*1 ext_trigger, 1 others, 1 continued_12"):
        events = evt.read(path)
    assert columns(events) == HAND3_EVENTS
    assert events.shape == (720, 1280)
    meta = evt.info(path)
    assert meta.extras["skipped"] == {
        "ext_trigger": 1,
        "others": 1,
        "continued_4": 0,
        "continued_12": 1,
        "reserved": 0,
    }
    assert meta.events == 9
    assert (meta.first, meta.last) == (4096 + 256, (1 << 24) + 7)


def test_hand_built_evt3_peers_differ_as_the_docstring_says(tmp_path: Path) -> None:
    cd_only = [word for word in HAND3 if word >> 12 not in (0xA, 0xE, 0xF)]  # expelliarmus refuses 0xA
    path = raw(tmp_path / "hand.raw", "% evt 3.0\n% geometry 1280x720\n", cd_only, "<u2")
    t = np.array(HAND3_EVENTS[0])
    # faery keeps the running maximum of the time words: 0x32B holds until time passes it
    faery_t = np.where(t == T2, 2 * 4096 + 0x32B, t)
    assert faery_read(path)["t"].tolist() == faery_t.tolist()
    # expelliarmus adds 4096 us at every drop of TIME_LOW (0x32B -> 0x020, then 0x020 -> 5)
    drops = np.array([0, 1, 1, 1, 1, 1, 1, 2, 2])
    assert expelliarmus_read(path, "3.0")["t"].tolist() == (t + 4096 * drops).tolist()
    assert expelliarmus_read(path, "3.0")["x"].tolist() == HAND3_EVENTS[1]


def test_hand_built_evt2(tmp_path: Path) -> None:
    words = [
        (8 << 28) | 3,  # TIME_HIGH 3
        (1 << 28) | (5 << 22) | (639 << 11) | 479,
        (0xA << 28) | 1,  # EXT_TRIGGER
        (8 << 28) | 0x0FFFFFFF,
        (0 << 28) | (63 << 22) | (1 << 11) | 2,
        (8 << 28) | 0,  # wrap
        (1 << 28) | (1 << 22),
    ]
    path = raw(tmp_path / "hand.raw", "% evt 2.0\n% plugin_name hal_plugin_gen3_fx3\n", words, "<u4")
    with pytest.warns(DataLossWarning, match="1 ext_trigger"):
        events = evt.read(path)
    assert columns(events) == (
        [(3 << 6) | 5, (0x0FFFFFFF << 6) | 63, (1 << 34) | 1],
        [639, 1, 0],
        [479, 2, 0],
        [1, 0, 1],
    )
    assert events.shape == (480, 640)


# ---------------------------------------------------------------------- real files
def manifest_entries() -> list[dict[str, object]]:
    if not MANIFEST.exists():
        return []
    files = json.loads(MANIFEST.read_text())["files"]
    return [entry for entry in files if str(entry["path"]).startswith(("evt2/", "evt3/"))]


@needs_real
@pytest.mark.parametrize("entry", manifest_entries(), ids=lambda entry: str(entry["path"]))
def test_real_files_read_as_the_manifest_says(entry: dict[str, object]) -> None:
    summary = entry["summary"]
    assert isinstance(summary, dict)
    path = REAL / str(entry["path"])
    events = evt.read(path)
    t, x, y, p = events.t.numpy(), events.x.numpy(), events.y.numpy(), events.p.numpy()
    assert len(t) == summary["events"]
    assert (t[0], t[-1], t.min(), t.max()) == (
        summary["t_first_us"],
        summary["t_last_us"],
        summary["t_min_us"],
        summary["t_max_us"],
    )
    assert (x.min(), x.max(), y.min(), y.max()) == (
        summary["x_min"],
        summary["x_max"],
        summary["y_min"],
        summary["y_max"],
    )
    assert (int(p.sum()), int((~p).sum())) == (summary["on"], summary["off"])
    assert list(evt.info(path).sensor_size or ())[:2] == summary["sensor_resolution"]
    chunks = list(evt.read_columns(path, chunk_events=30_000))
    assert np.array_equal(np.concatenate([chunk["t"] for chunk in chunks]), t)
    assert np.array_equal(np.concatenate([chunk["x"] for chunk in chunks]), x)


@needs_real
def test_real_files_against_peers() -> None:
    path2 = REAL / "evt2" / "expelliarmus_evt2_sample.raw"
    ours = evt.read(path2)
    for theirs in (faery_read(path2), expelliarmus_read(path2, "2.0")):
        assert np.array_equal(theirs["t"], ours.t.numpy())
        assert np.array_equal(theirs["x"], ours.x.numpy())
    path3 = REAL / "evt3" / "expelliarmus_evt3_sample.raw"
    ours = evt.read(path3)
    theirs = faery_read(path3)
    assert np.array_equal(theirs["x"], ours.x.numpy())
    assert np.array_equal(theirs["y"], ours.y.numpy())
    assert np.array_equal(theirs["on"], ours.p.numpy())
    differ = theirs["t"] != ours.t.numpy()
    assert differ.sum() == 1455
    assert (theirs["t"] >= ours.t.numpy()).all()
    assert (theirs["t"] - ours.t.numpy()).max() == 11


# ---------------------------------------------------------------------- writing
def stream(t: list[int], width: int = 1280, height: int = 720, seed: int = 0) -> Events:
    generator = np.random.default_rng(seed)
    n = len(t)
    return Events(
        t=sorted(t),
        x=generator.integers(0, width, n).tolist(),
        y=generator.integers(0, height, n).tolist(),
        p=generator.integers(0, 2, n).tolist(),
        sensor_size=(width, height),
    )


@settings(max_examples=25, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 1 << 26) | st.integers(0, 70), max_size=40),
    start=st.integers(0, 1 << 36),
    version=st.sampled_from(evt.VERSIONS),
    edge=st.booleans(),
)
def test_round_trip(
    tmp_path_factory: pytest.TempPathFactory, gaps: list[int], start: int, version: str, edge: bool
) -> None:
    t = np.cumsum([start, *gaps]).tolist()[: len(gaps)]
    events = stream(t, 2048 if edge else 640, 2048 if edge else 480, seed=len(t))
    if edge and len(t):
        events = Events(
            t=events.t,
            x=torch.full((len(t),), 2047),
            y=torch.arange(len(t)) % 2 * 2047,
            p=events.p,
            sensor_size=(2048, 2048),
        )
    path = tmp_path_factory.mktemp("rt") / "a.raw"
    evt.write(path, events, version=version)  # type: ignore[arg-type]
    assert evt.read(path) == events
    chunks = list(evt.read_chunks(path, chunk_events=7))
    assert sum(len(chunk) for chunk in chunks) == len(events)
    if len(events):
        assert torch.equal(torch.cat([chunk.t for chunk in chunks]), events.t)


@pytest.mark.parametrize("version", evt.VERSIONS)
def test_peers_read_our_files_exactly(tmp_path: Path, version: str) -> None:
    generator = np.random.default_rng(1)
    t = np.cumsum(generator.integers(0, 3000, 20_000)) + (1 << 24) - 5_000_000  # crosses the EVT 3.0 wrap
    events = stream(t.tolist())
    path = tmp_path / "ours.raw"
    evt.write(path, events, version=version)  # type: ignore[arg-type]
    assert columns(events) == faery_columns(path)
    theirs = expelliarmus_read(path, version)
    assert events.x.tolist() == theirs["x"].tolist()
    assert events.p.int().tolist() == theirs["p"].tolist()
    if version == "2.0":
        assert events.t.tolist() == theirs["t"].tolist()
    else:  # expelliarmus's extra 4096 us at every drop of TIME_LOW, as on faery's files
        lows = t % 4096
        drops = np.concatenate(([0], np.cumsum(np.diff(lows) < 0)))
        assert theirs["t"].tolist() == (t + 4096 * drops).tolist()


@pytest.mark.parametrize("chunk", [None, 2])
def test_faery_reads_our_evt3_across_wraps_crossed_by_gaps(tmp_path: Path, chunk: int | None) -> None:
    # faery counts an EVT 3.0 wrap only at TIME_HIGH 0xFFF then 0x000, and the writer bridges a gap
    # with TIME_HIGH words 8 apart: each wrap a gap crosses must still show that pair (issue 19)
    wrap = 1 << 24
    t = [5, wrap - 40_000, wrap + 3, wrap + 4_000, 2 * wrap - 1, 2 * wrap + 50_000, 3 * wrap - 4097]
    t += [3 * wrap, 3 * wrap + 4096, 5 * wrap + 70_000]  # the last crosses two wraps
    events = stream(t, 2048, 2048)
    path = tmp_path / "ours.raw"
    if chunk is None:
        evt.write(path, events)
    else:  # the pair across the end of a chunk
        with evt.Writer(path, sensor_size=(2048, 2048)) as writer:
            for start in range(0, len(t), chunk):
                part = (column[start : start + chunk] for column in (events.t, events.x, events.y, events.p))
                writer.write(Events(*part, sensor_size=(2048, 2048)))
    assert evt.read(path) == events
    assert columns(events) == faery_columns(path)
    data = path.read_bytes()
    words = np.frombuffer(data[data.index(b"% end\n") + 6 :], "<u2")
    highs = words[words >> 12 == 8] & 0xFFF
    drops = np.flatnonzero(np.diff(highs.astype(np.int64)) < 0)
    assert highs[drops].tolist() == [0xFFF] * 5  # one drop per wrap, each from 0xFFF to 0x000
    assert highs[drops + 1].tolist() == [0] * 5


def test_expelliarmus_reads_evt3_exactly_while_the_low_time_never_drops(tmp_path: Path) -> None:
    t = (np.arange(500) // 50) * 4096 + np.arange(500) * 8  # the low time rises through the whole file
    events = stream(t.tolist())
    path = tmp_path / "ours.raw"
    evt.write(path, events)
    theirs = expelliarmus_read(path, "3.0")
    assert theirs["t"].tolist() == t.tolist()
    assert theirs["y"].tolist() == events.y.tolist()


@pytest.mark.parametrize("version", ["evt2", "evt3"])
@pytest.mark.parametrize("zero_t0", [True, False])
def test_we_read_faery_files(tmp_path: Path, version: str, zero_t0: bool) -> None:
    faery = pytest.importorskip("faery")
    events = stream((np.arange(5000) * 4_001 + 123_456).tolist(), 346, 260)
    array = np.zeros(len(events), faery.EVENTS_DTYPE)
    array["t"], array["x"], array["y"], array["on"] = (
        c.numpy() for c in (events.t, events.x, events.y, events.p)
    )
    path = tmp_path / "faery.raw"
    faery.events_stream_from_array(array, dimensions=(346, 260)).to_file(
        path, version=version, zero_t0=zero_t0
    )
    assert evt.read(path) == events


def test_we_read_expelliarmus_files(tmp_path: Path) -> None:
    expelliarmus = pytest.importorskip("expelliarmus")
    events = stream((np.arange(3000) * 5_003).tolist(), 640, 480)
    array = np.zeros(len(events), [("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")])
    array["t"], array["x"], array["y"], array["p"] = (
        c.numpy() for c in (events.t, events.x, events.y, events.p)
    )
    path = tmp_path / "expelliarmus.raw"
    expelliarmus.Wizard("EVT2").save(path, array)
    assert evt.read(path) == events  # 640x480 from its '% plugin_name hal_plugin_gen3_fx3'
    # its EVT 3.0 writer never writes TIME_HIGH after the first: a drop of TIME_LOW stands for
    # +4096 us, which the spec reads as time going back: refused, naming the word
    expelliarmus.Wizard("EVT3").save(path, array)
    with pytest.raises(FileFormatError, match="time goes back at byte"):
        evt.read(path)


def test_step_time_and_windows(tmp_path: Path) -> None:
    events = Events(
        t=[0, 2, 3, 3, 5], x=[1, 2, 3, 4, 10], y=[0, 1, 2, 8, 8], p=[1, 0, 1, 0, 1], sensor_size=(11, 9),
        time_unit="step", num_steps=6,
    )  # fmt: skip
    for version in evt.VERSIONS:
        path = tmp_path / "steps.raw"
        evt.write(path, events, dt_us=1000, t0_us=50, version=version)
        back = evt.read(path)
        assert back == events
        assert back.time_unit == "step"
        assert back.num_steps == 6
        assert evt.read(path, t_start=2, t_end=4).t.tolist() == [2, 3, 3]
        assert evt.info(path).last == 5
    with pytest.raises(ExportError, match="dt_us"):
        evt.write(tmp_path / "x.raw", events)


def test_empty_stream(tmp_path: Path) -> None:
    events = stream([], 64, 32)
    for version in evt.VERSIONS:
        evt.write(tmp_path / "e.raw", events, version=version)
        assert evt.read(tmp_path / "e.raw") == events
        assert evt.info(tmp_path / "e.raw").events == 0


def test_sensor_size_from_header_option_or_inferred_with_warning(tmp_path: Path) -> None:
    path = raw(tmp_path / "bare.raw", "% evt 3.0\n", [Y | 9, LOW | 1, X | 30], "<u2")
    with pytest.warns(DataLossWarning, match="31x10 from the largest address"):
        assert evt.read(path).shape == (10, 31)
    assert evt.read(path, sensor_size=(64, 48)).shape == (48, 64)
    with pytest.raises(OptionError, match="sensor_size"):
        next(iter(evt.read_chunks(path)))
    sized = raw(tmp_path / "sized.raw", "% format EVT3;height=20;width=40\n", [Y | 9, LOW | 1, X | 30], "<u2")
    assert evt.read(sized).shape == (20, 40)
    with pytest.raises(OptionError, match="header says 40x20"):
        evt.read(sized, sensor_size=(64, 48))


# ---------------------------------------------------------------------- bad input
def test_errors_name_the_byte_offset(tmp_path: Path) -> None:
    header = "% evt 3.0\n% geometry 16x16\n"
    start = len(header)
    with pytest.raises(FileFormatError, match=f"byte {start + 4}"):
        evt.read(raw(tmp_path / "a.raw", header, [Y | 1, LOW | 1, X | 16], "<u2"))  # x outside
    with pytest.raises(FileFormatError, match=f"byte {start}.*no EVT_ADDR_Y"):
        evt.read(raw(tmp_path / "b.raw", header, [X | 1], "<u2"))
    with pytest.raises(FileFormatError, match=f"byte {start + 2}.*no VECT_BASE_X"):
        evt.read(raw(tmp_path / "c.raw", header, [Y | 1, V8 | 1], "<u2"))
    with pytest.raises(FileFormatError, match=f"time goes back at byte {start + 10}"):
        evt.read(raw(tmp_path / "d.raw", header, [Y | 1, LOW | 9, X | 1, LOW | 3, 0, X | 2], "<u2"))
    assert evt.read(tmp_path / "d.raw", sort=True).t.tolist() == [3, 9]
    truncated = tmp_path / "e.raw"
    truncated.write_bytes(header.encode() + b"\x01\x00\x02")
    with pytest.raises(FileFormatError, match=f"1 bytes at byte {start + 2}.*truncated"):
        evt.read(truncated)
    with pytest.raises(FileFormatError, match="no EVT version"):
        evt.read(raw(tmp_path / "f.raw", "% geometry 16x16\n", [Y], "<u2"))
    assert len(evt.read(tmp_path / "f.raw", version="3.0")) == 0


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=400), version=st.sampled_from(evt.VERSIONS))
def test_fuzzed_words_read_or_raise_file_format_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, version: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.raw"
    path.write_bytes(f"% evt {version}\n% geometry 2048x2048\n".encode() + data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataLossWarning)
        try:
            events = evt.read(path)
        except FileFormatError as error:
            message = str(error)
        else:
            message = "byte"
            assert len(events) == sum(len(c) for c in evt.read_chunks(path, chunk_events=3))
        assert "byte" in message


def test_sniff() -> None:
    assert evt.sniff(b"% evt 2.0\n") == 1.0
    assert evt.sniff(b"% Date x\n% format EVT3;height=1;width=1\n") == 1.0
    assert evt.sniff(b"% Date x\n% plugin_name hal\n") == 0.5
    assert evt.sniff(b"% Width 640\n% Height 480\n") == 0.0  # DAT
    assert evt.sniff(b"#!AER-DAT2.0") == 0.0


def outcome(path: Path, sort: bool) -> tuple[object, ...]:
    """What reading ``path`` gives: its columns and warnings, or the error's message."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            events = evt.read(path, sort=sort)
        except FileFormatError as error:
            return ("error", str(error))
    return (columns(events), events.sensor_size, [str(w.message) for w in caught])


EVT3_WORD = st.tuples(
    st.sampled_from([Y, X, BASE, V12, V8, LOW, HIGH, 0xA000, 0xE000]), st.integers(0, 0xFFF)
)
EVT2_WORD = st.tuples(st.sampled_from([0x0, 0x1, 0x8, 0xA]), st.integers(0, (1 << 28) - 1))


@settings(max_examples=150, deadline=None)
@given(
    file=st.tuples(st.just("3.0"), st.lists(EVT3_WORD, max_size=80))
    | st.tuples(st.just("2.0"), st.lists(EVT2_WORD, max_size=80)),
    piece=st.integers(1, 9),
)
def test_pieces_decode_as_one(
    tmp_path_factory: pytest.TempPathFactory, file: tuple[str, list[tuple[int, int]]], piece: int
) -> None:
    """A file decoded in pieces of a few words (state carried across every seam: y, low and high
    times, wraps, vector bases, words of other kinds) reads as in one piece, errors included."""
    version, words = file
    if version == "3.0":  # a y and a vector base first, so that more files get past their first event
        values, dtype = [Y | 7, BASE] + [kind | payload for kind, payload in words], "<u2"
    else:
        values, dtype = [(kind << 28) | payload for kind, payload in words], "<u4"
    header = f"% evt {version}\n% geometry 2048x2048\n"
    path = raw(tmp_path_factory.mktemp("pieces") / "a.raw", header, values, dtype)
    whole = [outcome(path, sort) for sort in (False, True)]  # sorted: every event, past time going back
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evt, "_PIECE", piece)
        assert [outcome(path, sort) for sort in (False, True)] == whole
