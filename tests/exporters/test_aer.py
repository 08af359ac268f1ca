"""Tests of exporters/aer.py: jAER's layouts bit by bit, custom layouts, raw word streams."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import AddressError, ExportError, FileFormatError, OptionError
from exporters import aer
from exporters.aer import Field, Kind, Layout

NAMED = [aer.DVS128, aer.DAVIS240, aer.DAVIS346, aer.DAVIS640]


def jaer(words: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y (from the top) and ON of DVS words, as jAER's extractors compute them (Java's masks
    and shifts, written out here apart from aer), y turned to image rows as Tonic does."""
    a = words.astype(np.int64)
    width, height = layout.size
    if layout is aer.DVS128:  # DVS128.java: XMASK 0xfe, XSHIFT 1, YMASK 0x7f00, YSHIFT 8, type = 1 - bit 0
        x = width - 1 - ((a & 0xFE) >> 1)
        y_up = (a & 0x7F00) >> 8
        on = ((1 - a) & 1) == 1
    else:  # DavisChip.java: XMASK 1023 << 12, YMASK 511 << 22, POLMASK 1 << 11; x = sizeX - 1 - raw x
        x = width - 1 - ((a & (1023 << 12)) >> 12)
        y_up = (a & (511 << 22)) >> 22
        on = (a & (1 << 11)) == 1 << 11
    return x, height - 1 - y_up, on


# ---------------------------------------------------------------------- jAER's layouts
def test_hand_computed_words_of_each_named_layout() -> None:
    # DVS128: x bits 1-7 and y bits 8-14, both stored as 127 - value; bit 0 = 1 for OFF.
    dvs = {"x": [0, 127, 5], "y": [0, 127, 100], "p": [True, False, False]}
    assert aer.pack(dvs, aer.DVS128).tolist() == [
        (127 << 8) | (127 << 1) | 0,  # 0x7ffe
        0x0001,
        ((127 - 100) << 8) | ((127 - 5) << 1) | 1,
    ]
    # DAVIS346: x bits 12-21 stored as 345 - x, y bits 22-30 stored as 259 - y, bit 11 = ON.
    davis = {"x": [0, 345, 100], "y": [0, 259, 17], "p": [True, False, True]}
    assert aer.pack(davis, aer.DAVIS346).tolist() == [
        0x40D59800,
        0x00000000,
        (242 << 22) | (245 << 12) | 0x800,
    ]
    assert aer.pack({"x": [0], "y": [0], "p": [0]}, aer.DAVIS240).tolist() == [(179 << 22) | (239 << 12)]
    assert aer.pack({"x": [0], "y": [0], "p": [0]}, aer.DAVIS640).tolist() == [(479 << 22) | (639 << 12)]


@pytest.mark.parametrize("layout", NAMED, ids=lambda layout: layout.name)
def test_unpack_agrees_with_jaers_extractor_on_every_event_word(layout: Layout) -> None:
    rng = np.random.default_rng(0)
    width, height = layout.size
    if layout is aer.DVS128:
        raw = (rng.integers(0, 128, 5000) << 1) | (rng.integers(0, 128, 5000) << 8) | rng.integers(0, 2, 5000)
    else:
        raw = (
            (rng.integers(0, width, 5000) << 12)
            | (rng.integers(0, height, 5000) << 22)
            | (rng.integers(0, 2, 5000) << 11)
        )
    words = raw.astype(np.uint32)
    found = aer.unpack(words, layout)
    assert found.positions is None
    x, y, on = jaer(words, layout)
    assert np.array_equal(found.columns["x"], x)
    assert np.array_equal(found.columns["y"], y)
    assert np.array_equal(found.columns["p"], on)
    assert np.array_equal(aer.pack(found.columns, layout), words)


def test_the_words_that_are_not_events_are_counted_by_kind() -> None:
    davis = np.array(
        [
            0x00000000,  # DVS OFF at (345, 259)
            0x00000400,  # bits 11-10 = 01: external input (special)
            0x00000C00,  # bits 11-10 = 11 with bit 31 clear: special too (iniVation's page)
            0x80000C00,  # bit 31 and bits 11-10 = 11: IMU
            0x8FF00C00,  # an IMU word with a sample type in bits 30-28
            0x80000000,  # bit 31, bits 11-10 = 00: APS reset read
            0x80000400,  # APS signal read
            0x00000800,  # DVS ON at (345, 259)
        ],
        np.uint32,
    )
    found = aer.unpack(davis, aer.DAVIS346)
    assert found.positions.tolist() == [0, 7]
    assert found.counts == {"special": 2, "imu": 2, "aps": 2}
    assert found.columns["p"].tolist() == [False, True]
    assert found.columns["x"].tolist() == [345, 345]
    dvs = np.array([0x8000, 0x80000000, 0x7FFE, 0x80008001], np.uint32)  # sync bit 15, bit 31
    found = aer.unpack(dvs, aer.DVS128)
    assert (found.positions.tolist(), found.counts) == ([2], {"special": 3})
    assert (found.columns["x"].tolist(), found.columns["y"].tolist(), found.columns["p"].tolist()) == (
        [0],
        [0],
        [True],
    )


@st.composite
def columns_for(draw: st.DrawFn, layout: Layout) -> dict[str, np.ndarray]:
    """Columns of events on the layout's sensor, the edges likely, both polarities."""
    n = draw(st.integers(0, 40))
    width, height = layout.size
    edge_x = st.sampled_from([0, width - 1]) | st.integers(0, width - 1)
    edge_y = st.sampled_from([0, height - 1]) | st.integers(0, height - 1)
    return {
        "x": np.array(draw(st.lists(edge_x, min_size=n, max_size=n)), np.int16),
        "y": np.array(draw(st.lists(edge_y, min_size=n, max_size=n)), np.int16),
        "p": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool),
    }


@settings(max_examples=40)
@given(st.data())
def test_every_named_layout_round_trips(data: st.DataObject) -> None:
    layout = data.draw(st.sampled_from(NAMED))
    given_columns = data.draw(columns_for(layout))
    words = aer.pack(given_columns, layout)
    assert words.dtype == np.uint32
    found = aer.unpack(words, layout)
    assert found.positions is None
    for name in "xyp":
        assert np.array_equal(found.columns[name], given_columns[name])
    x, y, on = jaer(words, layout)
    assert np.array_equal(x, given_columns["x"])
    assert np.array_equal(y, given_columns["y"])
    assert np.array_equal(on, given_columns["p"])


def test_pack_takes_events_tensors_and_writes_into_big_endian_records() -> None:
    events = Events(t=[0, 1], x=[3, 0], y=[1, 2], p=[1, 0], sensor_size=(346, 260))
    records = np.zeros((2, 2), ">u4")
    aer.pack(events, aer.DAVIS346, out=records[:, 0])
    assert records[:, 0].tolist() == [(258 << 22) | (342 << 12) | 0x800, (257 << 22) | (345 << 12)]
    assert records.tobytes()[:4] == bytes.fromhex("40956800")
    tensors = {"x": torch.tensor([3]), "y": torch.tensor([1]), "p": torch.tensor([True])}
    assert aer.pack(tensors, aer.DAVIS346).tolist() == [0x40956800]


# ---------------------------------------------------------------------- custom layouts
@st.composite
def custom_layouts(draw: st.DrawFn) -> Layout:
    """A layout of x, y and maybe p in random non-overlapping places, maybe inverted, 32 or 64
    bits, with event bits elsewhere and a sensor that fits the fields."""
    bits = draw(st.sampled_from([32, 64]))
    names = ["x", "y"] + (["p"] if draw(st.booleans()) else [])
    widths = {name: (1 if name == "p" else draw(st.integers(1, 12))) for name in names}
    order = draw(st.permutations(names))
    position, fields = 0, []
    for name in order:
        position += draw(st.integers(0, 3))
        fields.append(Field(name, position, widths[name], invert=draw(st.booleans())))
        position += widths[name]
    spare = list(range(position, bits))
    event_bit = draw(st.sampled_from(spare)) if spare and draw(st.booleans()) else None
    size = (draw(st.integers(1, 1 << widths["x"])), draw(st.integers(1, 1 << widths["y"])))
    event = (0, 0) if event_bit is None else (1 << event_bit, draw(st.sampled_from([0, 1 << event_bit])))
    return Layout("custom", tuple(fields), size, word_bits=bits, event=event)


@settings(max_examples=60)
@given(st.data())
def test_custom_layouts_round_trip(data: st.DataObject) -> None:
    layout = data.draw(custom_layouts())
    given_columns = data.draw(columns_for(layout))
    if not layout.has("p"):
        given_columns["p"] = np.ones(len(given_columns["x"]), bool)
    words = aer.pack(given_columns, layout)
    assert words.dtype == layout.dtype
    mask, value = layout.event
    assert np.all(words & mask == value)
    for f in layout.fields:  # each field holds its value (or extent - 1 - value) and nothing else
        stored = (words.astype(object) >> f.offset) & ((1 << f.width) - 1)
        expected = given_columns[f.name].astype(object)
        if f.invert:
            expected = layout.extent(f.name) - 1 - expected
        assert np.array_equal(stored.astype(np.int64), expected.astype(np.int64))
    found = aer.unpack(words, layout)
    for name in "xyp":
        assert np.array_equal(found.columns[name], given_columns[name])


def test_an_fpga_layout_of_64_bit_words() -> None:
    layout = Layout(
        "fpga",
        (Field("x", 40, 16), Field("y", 20, 16, invert=True), Field("p", 63, 1)),
        (40_000, 30_000),
        word_bits=64,
        event=(0xF, 0x5),
        kinds=(Kind("trigger", 0xF, 0x9),),
    )
    words = aer.pack({"x": [39_999, 0], "y": [0, 29_999], "p": [1, 0]}, layout)
    assert words.tolist() == [(1 << 63) | (39_999 << 40) | (29_999 << 20) | 5, 5]
    found = aer.unpack(np.append(words, np.uint64(0x9)), layout)
    assert found.columns["x"].tolist() == [39_999, 0]
    assert found.counts == {"trigger": 1}


@pytest.mark.parametrize(
    ("fields", "size", "kwargs", "match"),
    [
        (
            (Field("x", 0, 8), Field("y", 4, 8)),
            (4, 4),
            {},
            r"fields x \(bits 0-7\) and y \(bits 4-11\) overlap",
        ),
        (
            (Field("x", 0, 8), Field("y", 8, 8), Field("p", 3, 1)),
            (4, 4),
            {},
            r"x \(bits 0-7\) and p \(bit 3\)",
        ),
        (
            (Field("x", 30, 4), Field("y", 0, 4)),
            (4, 4),
            {},
            r"field x \(bits 30-33\) does not fit a 32-bit word",
        ),
        ((Field("x", 60, 5), Field("y", 0, 4)), (4, 4), {"word_bits": 64}, r"x \(bits 60-64\) does not fit"),
        (
            (Field("x", 0, 8), Field("y", 8, 4)),
            (4, 17),
            {},
            r"field y \(bits 8-11\) holds 16 values, fewer than the 17",
        ),
        ((Field("x", 0, 8), Field("y", 8, 8)), (257, 4), {}, r"field x \(bits 0-7\) holds 256 values"),
        (
            (Field("x", 0, 8), Field("y", 8, 8)),
            (4, 4),
            {"event": (0x100, 0)},
            r"field y \(bits 8-15\) overlaps the event bits",
        ),
        ((Field("x", 0, 8), Field("y", 8, 8)), (4, 4), {"event": (0x10000, 0x1)}, r"value within its mask"),
        ((Field("x", 0, 8), Field("y", 8, 8)), (4, 4), {"word_bits": 16}, "word_bits must be 32 or 64"),
        ((Field("y", 0, 8),), (4, 4), {}, "x .required."),
        ((Field("x", 0, 8), Field("x", 8, 8)), (4, 1), {}, "once each"),
        ((Field("x", 0, 8), Field("c", 8, 8)), (4, 1), {}, "once each"),
        ((Field("x", 0, 8),), (4, 2), {}, "no y field, so the sensor must be one row"),
        ((Field("x", -1, 8), Field("y", 8, 8)), (4, 4), {}, "does not fit a 32-bit word"),
        ((Field("x", 0, 8), Field("y", 8, 8)), (0, 4), {}, "size must be"),
    ],
)
def test_bad_layouts_name_the_field(fields: tuple, size: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(OptionError, match=match):
        Layout("bad", fields, size, **kwargs)


def test_addresses_outside_their_field_name_the_event_and_the_field() -> None:
    with pytest.raises(ExportError, match=r"event 2: y = 260 does not fit field y \(bits 22-30, inverted\)"):
        aer.pack({"x": [0, 1, 2], "y": [0, 0, 260], "p": [0, 1, 0]}, aer.DAVIS346)
    with pytest.raises(ExportError, match=r"event 1: x = -1 does not fit field x \(bits 1-7, inverted\)"):
        aer.pack({"x": [0, -1], "y": [0, 0], "p": [0, 1]}, aer.DVS128)
    with pytest.raises(ExportError, match=r"event 0: p = 2 does not fit field p \(bit 11\)"):
        aer.pack({"x": [0], "y": [0], "p": [2]}, aer.DAVIS346)
    with pytest.raises(ExportError, match=r"missing \['p'\]"):
        aer.pack({"x": [0], "y": [0]}, aer.DAVIS346)
    with pytest.raises(ExportError, match="different lengths"):
        aer.pack({"x": [0, 1], "y": [0], "p": [0]}, aer.DAVIS346)
    with pytest.raises(ExportError, match="must be 1-D integers"):
        aer.pack({"x": [0.5], "y": [0], "p": [0]}, aer.DAVIS346)
    no_polarity = Layout("on only", (Field("x", 0, 8), Field("y", 8, 8)), (256, 256))
    with pytest.raises(ExportError, match=r"no p field, so it holds ON events only; p\[1\] is OFF"):
        aer.pack({"x": [0, 1], "y": [0, 0], "p": [True, False]}, no_polarity)
    out = np.zeros(3, np.uint32)
    with pytest.raises(ExportError):
        aer.pack({"x": [0, 1, 400], "y": [0, 0, 0], "p": [0, 0, 0]}, aer.DAVIS346, out=out)
    assert out.tolist() == [0, 0, 0]  # nothing written before every address is checked


def test_words_whose_fields_exceed_the_sensor_name_the_word() -> None:
    words = np.array([0, 346 << 12], np.uint32)  # raw x 346: x = 345 - 346 = -1
    with pytest.raises(
        AddressError, match=r"word 1: field x \(bits 12-21, inverted\) of layout 'DAVIS346' holds 346"
    ):
        aer.unpack(words, aer.DAVIS346)
    with pytest.raises(OptionError, match="1-D integer array"):
        aer.unpack(np.zeros((2, 2), np.uint32), aer.DAVIS346)


def test_named_layouts_by_name() -> None:
    assert aer.named("DVS128") is aer.DVS128
    assert aer.named("davis240") is aer.DAVIS240
    with pytest.raises(OptionError, match="the named layouts are DVS128, DAVIS240, DAVIS346, DAVIS640"):
        aer.named("ATIS")
    assert all("jAER" in layout.source for layout in NAMED)


# ---------------------------------------------------------------------- raw word streams
def test_raw_streams_in_both_byte_orders_with_and_without_timestamps(tmp_path: Path) -> None:
    words = np.array([0x01020304, 0xA0B0C0D0], np.uint32)
    t = np.array([5, 2**32 - 1])
    cases = {
        ("big", False): "01020304a0b0c0d0",
        ("little", False): "04030201d0c0b0a0",
        ("big", True): "0102030400000005a0b0c0d0ffffffff",
        ("little", True): "0403020105000000d0c0b0a0ffffffff",
    }
    for (order, stamped), expected in cases.items():
        stream = io.BytesIO()
        aer.write_words(stream, words, t if stamped else None, byteorder=order)
        assert stream.getvalue().hex() == expected
        stream.seek(0)
        back = aer.read_words(stream, timestamps=stamped, byteorder=order)
        if stamped:
            assert back[0].tolist() == words.tolist()
            assert back[1].tolist() == t.tolist()
        else:
            assert back.tolist() == words.tolist()
    path = tmp_path / "words.bin"
    wide = np.array([2**63 + 7, 1], np.uint64)
    aer.write_words(path, wide, [2**40, 3], byteorder="little")
    assert path.read_bytes()[:8] == (2**63 + 7).to_bytes(8, "little")
    back_words, back_t = aer.read_words(path, timestamps=True, byteorder="little", bits=64)
    assert back_words.tolist() == wide.tolist()
    assert back_t.tolist() == [2**40, 3]
    assert aer.read_words(path, byteorder="little", bits=64, offset=16).tolist() == [1, 3]


def test_raw_streams_refuse_values_too_wide_and_truncated_records(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"word 1 = 4294967296 does not fit 32 bits"):
        aer.write_words(io.BytesIO(), [1, 2**32], bits=32)
    with pytest.raises(ExportError, match=r"t 0 = -1 does not fit 32 bits"):
        aer.write_words(io.BytesIO(), np.array([1], np.uint32), [-1])
    with pytest.raises(ExportError, match="one per word"):
        aer.write_words(io.BytesIO(), np.array([1], np.uint32), [1, 2])
    with pytest.raises(OptionError, match="byteorder"):
        aer.write_words(io.BytesIO(), [1], byteorder="middle")  # type: ignore[arg-type]
    path = tmp_path / "cut.bin"
    path.write_bytes(bytes(8 * 3 + 5))
    with pytest.raises(FileFormatError, match=r"cut.bin: byte 24: 5 bytes after the last whole record of 8"):
        aer.read_words(path, timestamps=True)
    with pytest.raises(FileFormatError, match=r"stream: byte 28: 1 bytes"):
        aer.read_words(io.BytesIO(bytes(29)), offset=0)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=30),
    st.sampled_from(["big", "little"]),
    st.booleans(),
)
def test_raw_64_bit_streams_round_trip(tmp_path: Path, values: list[int], order: str, stamped: bool) -> None:
    words = np.array(values, np.uint64)
    path = tmp_path / "words.bin"
    aer.write_words(path, words, words[::-1] if stamped else None, byteorder=order, bits=64)  # type: ignore[arg-type]
    back = aer.read_words(path, timestamps=stamped, byteorder=order, bits=64)  # type: ignore[arg-type]
    got = back[0] if stamped else back
    assert np.array_equal(got, words)
