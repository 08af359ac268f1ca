"""Tests of exporters/es.py: faery's DVS sample, files faery writes, a byte-by-byte reference
decoder of the specification, damage."""

from __future__ import annotations

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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import DataLossWarning, ExportError, FileFormatError
from exporters import es

faery = pytest.importorskip("faery")


def header(kind: int, width: int = 0, height: int = 0, version: bytes = bytes([2, 0, 0])) -> bytes:
    size = struct.pack("<HH", width, height) if kind in (1, 2, 4) else b""
    return b"Event Stream" + version + bytes([kind]) + size


def reference(body: bytes, atis: bool, height: int) -> tuple[list[tuple[int, int, int, int]], int, int]:
    """The specification's state machine, one byte at a time: (t, x, image y, p) of the OFF/ON
    events, the exposure measurements, and the bytes of an incomplete last event."""
    events: list[tuple[int, int, int, int]] = []
    t, exposures, i = 0, 0, 0
    while i < len(body):
        byte = body[i]
        if atis and byte >= 0xFC:
            t, i = t + 63 * (byte & 3), i + 1
            continue
        if not atis and byte >= 0xFE:
            t, i = t + (127 if byte == 0xFF else 0), i + 1
            continue
        if i + 5 > len(body):
            return events, exposures, len(body) - i
        x, y = struct.unpack("<HH", body[i + 1 : i + 5])
        t += byte >> (2 if atis else 1)
        kind = byte & 3 if atis else (2 if byte & 1 else 0)
        if kind & 1:
            exposures += 1
        else:
            events.append((t, x, height - 1 - y, int(kind == 2)))
        i += 5
    return events, exposures, 0


def columns(events: Events) -> list[tuple[int, int, int, int]]:
    return list(zip(*(getattr(events, name).tolist() for name in "txyp"), strict=True))


def faery_columns(path: Path) -> list[tuple[int, int, int, int]]:
    array = faery.events_stream_from_file(path).to_array()
    return list(zip(*(array[name].tolist() for name in ("t", "x", "y", "on")), strict=True))


# ---------------------------------------------------------------------- faery's sample
def test_real_file_matches_its_manifest_and_faery(shared: Path) -> None:
    manifest = json.loads((shared / "data/real/manifest.json").read_text())
    entries = [entry for entry in manifest["files"] if entry["path"].startswith("es/")]
    assert len(entries) == 1
    entry = entries[0]
    path, found = shared / "data/real" / entry["path"], entry["readers"]["faery"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        events = es.read(path)
    t, x, y, p = (getattr(events, name).numpy() for name in "txyp")
    assert len(t) == found["events"]
    assert (int(t[0]), int(t[-1])) == (found["t_first_us"], found["t_last_us"])
    assert (int(x.min()), int(x.max()), int(y.min()), int(y.max())) == (
        found["x_min"],
        found["x_max"],
        found["y_min"],
        found["y_max"],
    )
    assert (int(p.sum()), int((~p).sum())) == (found["on"], found["off"])
    assert events.sensor_size == (*found["info"]["resolution"], 2)
    assert columns(events) == faery_columns(path)
    body = path.read_bytes()[20:]
    assert columns(events) == reference(body, atis=False, height=240)[0]
    meta = es.info(path)
    assert (meta.events, meta.first, meta.last) == (found["events"], found["t_first_us"], found["t_last_us"])
    assert meta.extras["type"] == "dvs"


# ---------------------------------------------------------------------- files faery writes
@st.composite
def faery_streams(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, int]]:
    width, height = draw(st.sampled_from([(1, 1), (320, 240), (1280, 720), (65535, 300)]))
    n = draw(st.integers(0, 60))
    gaps = st.sampled_from([0, 1, 62, 63, 126, 127, 128, 254, 255, 1000]) | st.integers(0, 5000)
    t = np.cumsum(draw(st.lists(gaps, min_size=n, max_size=n)), dtype=np.int64) + draw(st.integers(0, 300))
    edge_x = st.sampled_from([0, 254, 255, 510, 511, width - 1])
    edge_y = st.sampled_from([0, 254, 255, height - 1])
    array = np.zeros(n, faery.events_stream.EVENTS_DTYPE)
    array["t"] = t
    array["x"] = [
        min(v, width - 1) for v in draw(st.lists(edge_x | st.integers(0, width - 1), min_size=n, max_size=n))
    ]
    array["y"] = [
        min(v, height - 1)
        for v in draw(st.lists(edge_y | st.integers(0, height - 1), min_size=n, max_size=n))
    ]
    array["on"] = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return array, (width, height)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=faery_streams(), zero_t0=st.booleans(), chunk=st.integers(1, 30))
def test_faery_written_files_read_as_faery_reads_them(
    tmp_path: Path, stream: tuple[np.ndarray, tuple[int, int]], zero_t0: bool, chunk: int
) -> None:
    array, size = stream
    path = tmp_path / "faery.es"
    faery.events_stream_from_array(array, dimensions=size).to_file(path, zero_t0=zero_t0)
    events = es.read(path)
    assert events.sensor_size == (*size, 2)
    assert columns(events) == faery_columns(path)
    if not zero_t0:
        expected = list(zip(*(array[name].tolist() for name in ("t", "x", "y", "on")), strict=True))
        assert columns(events) == expected
    chunks = list(es.read_chunks(path, chunk_events=chunk))
    assert all(0 < len(c) <= chunk for c in chunks)
    assert sum(len(c) for c in chunks) == len(events)
    if chunks:
        assert torch.equal(torch.cat([c.t for c in chunks]), events.t)
        assert torch.equal(torch.cat([c.y for c in chunks]), events.y)


def test_atis_file_leaves_exposures_out_as_faery_does(tmp_path: Path) -> None:
    from faery.extension import es as faery_es

    path = tmp_path / "atis.es"
    rng = np.random.default_rng(3)
    n = 500
    array = np.zeros(n, [("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("exposure", "?"), ("polarity", "?")])
    array["t"] = np.cumsum(rng.choice([0, 1, 62, 63, 64, 200, 1000], n))
    array["x"], array["y"] = rng.integers(0, 304, n), rng.integers(0, 240, n)
    array["exposure"], array["polarity"] = rng.integers(0, 2, n), rng.integers(0, 2, n)
    with faery_es.Encoder(path, "atis", False, (304, 240)) as encoder:
        encoder.write(array)
    exposures = int(array["exposure"].sum())
    with pytest.warns(DataLossWarning, match=f"left out {exposures} ATIS exposure measurements"):
        events = es.read(path)
    assert columns(events) == faery_columns(path)
    keep = ~array["exposure"]
    expected = zip(
        array["t"][keep].tolist(),
        array["x"][keep].tolist(),
        (239 - array["y"][keep]).tolist(),
        array["polarity"][keep].astype(int).tolist(),
        strict=True,
    )
    assert columns(events) == list(expected)
    assert es.info(path).extras["exposures"] == exposures


# ---------------------------------------------------------------------- the specification, byte by byte
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.lists(st.sampled_from([0x00, 0x01, 0xFC, 0xFD, 0xFE, 0xFF]) | st.integers(0, 255), max_size=120),
    atis=st.booleans(),
    chunk=st.integers(1, 8),
)
def test_decoding_matches_a_byte_by_byte_reference(
    tmp_path: Path, body: list[int], atis: bool, chunk: int
) -> None:
    data = bytes(body)
    path = tmp_path / "spec.es"
    path.write_bytes(header(2 if atis else 1, 65535, 65535) + data)
    expected, exposures, trailing = reference(data, atis, 65535)
    outside = any(x == 65535 or y == -1 for _, x, y, _ in expected)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if outside:
            with pytest.raises(FileFormatError, match="outside the header's 65535 x 65535 sensor"):
                es.read(path)
            return
        events = es.read(path)
        chunked = [row for c in es.read_chunks(path, chunk_events=chunk) for row in columns(c)]
    assert columns(events) == expected == chunked
    messages = " ".join(str(w.message) for w in caught)
    assert (f"left out {exposures} ATIS" in messages) == bool(exposures)
    assert (f"left out {trailing} bytes at byte {20 + len(data) - trailing}" in messages) == bool(trailing)


# ---------------------------------------------------------------------- damage and other types
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"Event Strean" + bytes([2, 0, 0, 1]), "not an Event Stream file"),
        (b"Event Stream\x02", "header ends at byte 13"),
        (header(1, version=bytes([1, 0, 0]))[:15] + b"\x01", "version 1.0.0 at byte 12"),
        (header(0), "generic Event Stream"),
        (header(4, 10, 10), "color Event Stream"),
        (header(3), "unknown stream type 3 at byte 15"),
        (header(1)[:17], "inside the sensor size"),
        (header(1, 0, 10), "bad sensor size 0 x 10 at byte 16"),
        (
            header(1, 4, 4) + bytes([0]) + struct.pack("<HH", 0, 0) + bytes([0]) + struct.pack("<HH", 4, 0),
            "byte 25",
        ),
    ],
)
def test_bad_files_raise_naming_the_byte(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "bad.es"
    path.write_bytes(data)
    with pytest.raises(FileFormatError, match=match):
        es.read(path)


def test_header_only_and_windows(tmp_path: Path) -> None:
    path = tmp_path / "empty.es"
    path.write_bytes(header(1, 8, 8))
    empty = es.read(path)
    assert len(empty) == 0
    assert empty.sensor_size == (8, 8, 2)
    assert es.info(path).first is None
    body = b"".join(bytes([(10 << 1) | (i & 1)]) + struct.pack("<HH", i, 7) for i in range(8))
    path.write_bytes(header(1, 8, 8) + body)
    assert es.read(path, t_start=25, t_end=61).t.tolist() == [30, 40, 50, 60]
    assert [c.t.tolist() for c in es.read_chunks(path, chunk_events=2, t_start=25, t_end=61)] == [
        [30, 40],
        [50, 60],
    ]
    assert es.read(path).y.tolist() == [0] * 8  # stored y 7 of 8 rows: the top row


def test_writing_is_refused_clearly(tmp_path: Path) -> None:
    events = Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(2, 2))
    with pytest.raises(ExportError, match=r"does not write them.*faery"):
        es.write(tmp_path / "x.es", events)
    with pytest.raises(ExportError, match="does not write them"):
        es.Writer(tmp_path / "x.es", sensor_size=(2, 2))
    assert not (tmp_path / "x.es").exists()


def test_sniff() -> None:
    assert es.sniff(header(1, 2, 2)) == 1.0
    assert es.sniff(b"Event Str") == 0.0
    assert es.sniff(b"") == 0.0


# ---------------------------------------------------------------------- memory, torch-free columns
def test_read_chunks_in_bounded_memory(tmp_path: Path) -> None:
    n = 1_000_000
    rng = np.random.default_rng(4)
    array = np.zeros(n, faery.events_stream.EVENTS_DTYPE)
    array["t"] = np.sort(rng.integers(0, 10_000_000, n))
    array["x"], array["y"], array["on"] = (
        rng.integers(0, 640, n),
        rng.integers(0, 480, n),
        rng.integers(0, 2, n),
    )
    path = tmp_path / "big.es"
    faery.events_stream_from_array(array, dimensions=(640, 480)).to_file(path, zero_t0=False)
    tracemalloc.start()
    total = sum(len(c["t"]) for c in es.read_columns(path, chunk_events=1 << 14))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == n
    assert peak < 8 << 20  # the file is 5 MB and its columns 13 MB


def test_read_columns_does_not_import_torch(tmp_path: Path) -> None:
    path = tmp_path / "a.es"
    path.write_bytes(header(1, 4, 4) + bytes([0xFF, 6]) + struct.pack("<HH", 1, 0))
    code = (
        "import sys; from exporters import es; "
        f"chunks = list(es.read_columns({str(path)!r})); "
        "assert chunks[0]['t'].tolist() == [130]; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
