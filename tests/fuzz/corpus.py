"""Build the seed corpus: small files cut from the shared real and reference recordings, and
files written by eventcode's own writers.

``python -m tests.fuzz.corpus [--shared PATH]`` rewrites ``tests/fuzz/corpus/<reader>/``. Every
seed is at most :data:`MAX_SEED` bytes and reads back with its format's ``read`` (a cut that does
not is reported and left out), so that mutations start from valid files.

- AEDAT 4.0: the magic, the header (its data-table position set to -1: no table) and the first
  packets of ``real/aedat4`` and each ``reference/*.aedat4`` (DV's and faery's compressions);
- AEDAT 2.0, EVT 2.0 / 3.0, Event Stream: the header and the first whole records or words;
- DAT, N-MNIST and the small AEDAT 2.0 header file: whole;
- written: each format's writer on microsecond events, step-time events, empty events, and its
  compressions (AEDAT 3.1, HDF5 and NIR have no small public files: written seeds only).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

import exporters
from eventcode import Events
from exporters.flatbuffers import Buffer

from .targets import CORPUS, Reader, reader

MAX_SEED = 64 * 1024
"""The largest seed, in bytes."""

SHARED = Path(os.environ.get("EVENTCODE_SHARED", Path(__file__).resolve().parents[3] / "shared"))
"""The project's ``shared/`` folder (``data/real``, ``data/reference``)."""


# --------------------------------------------------------------------------- cut from recordings
def _cut_aedat4(data: bytes) -> bytes:
    """Magic, header and the packets that fit in :data:`MAX_SEED`, with no data table."""
    header_size = struct.unpack_from("<I", data, 14)[0]
    header = Buffer(data[14 : 18 + header_size], b"IOHE", 14)
    out = bytearray(data[: 18 + header_size])
    table = header.field(header.root, 1)
    if table is not None:
        struct.pack_into("<q", out, 14 + table, -1)
    position = len(out)
    while position + 8 <= len(data):
        size = struct.unpack_from("<i", data, position + 4)[0]
        if len(out) + 8 + size > MAX_SEED:
            break
        out += data[position : position + 8 + size]
        position += 8 + size
    return bytes(out)


def _cut_aedat4_file(path: Path) -> bytes:
    """:func:`_cut_aedat4` of the file at ``path``."""
    return _cut_aedat4(path.read_bytes())


def _header_end(data: bytes, mark: bytes) -> int:
    """The byte after the last leading line that starts with ``mark``."""
    position = 0
    while data[position : position + 1] == mark:
        position = data.index(b"\n", position) + 1
    return position


def _cut_records(data: bytes, mark: bytes, record: int) -> bytes:
    """The ``mark`` header and the whole ``record``-byte records that fit in :data:`MAX_SEED`."""
    start = _header_end(data, mark)
    return data[: start + (MAX_SEED - start) // record * record]


def _cut_aedat2_long_header(data: bytes) -> bytes:
    """A jAER file whose header is too long for a seed: its first 20 header lines, its end line,
    and the records that fit."""
    start = _header_end(data, b"#")
    lines = data[:start].splitlines(keepends=True)
    head = b"".join(lines[:20] + [line for line in lines[20:] if line.lower().startswith(b"#end of ascii")])
    body = data[start:]
    return head + body[: (MAX_SEED - len(head)) // 8 * 8]


def _cut_es(data: bytes) -> bytes:
    """The 20-byte header and the event bytes that fit (the reader decodes any prefix whose last
    event is whole; :func:`_readable` drops a cut that is not)."""
    return data[:MAX_SEED]


def _recorded(shared: Path) -> Iterator[tuple[str, str, Callable[[], bytes]]]:
    """(reader, seed name, the seed's bytes) of every cut from ``shared/data``."""
    data = shared / "data"
    real, reference = data / "real", data / "reference"
    yield "aedat4", "real-tonic-lz4", lambda: _cut_aedat4((real / "aedat4/tonic_sample.aedat4").read_bytes())
    for path in sorted(reference.glob("*.aedat4")):
        yield "aedat4", f"reference-{path.stem}", functools.partial(_cut_aedat4_file, path)
    aedat2 = real / "aedat2"
    yield "aedat2", "real-header-only", lambda: (aedat2 / "tonic_sample_aedat_header.aedat").read_bytes()
    yield (
        "aedat2",
        "real-davis240-imu",
        lambda: _cut_aedat2_long_header((aedat2 / "pyaedattools_IMU_translBoxes.aedat").read_bytes()),
    )
    yield (
        "aedat2",
        "real-long-header",
        lambda: _cut_aedat2_long_header((aedat2 / "mibblez_header_test_240.aedat").read_bytes()),
    )
    yield "dat", "real-ncars", lambda: (real / "dat/tonic_sample_ncars.dat").read_bytes()
    yield "es", "real-faery-dvs", lambda: _cut_es((real / "es/faery_dvs.es").read_bytes())
    yield (
        "evt2",
        "real-expelliarmus",
        lambda: _cut_records((real / "evt2/expelliarmus_evt2_sample.raw").read_bytes(), b"%", 4),
    )
    yield (
        "evt3",
        "real-expelliarmus",
        lambda: _cut_records((real / "evt3/expelliarmus_evt3_sample.raw").read_bytes(), b"%", 2),
    )
    yield "nmnist", "real-tonic", lambda: (real / "nmnist_bin/tonic_sample_nmnist.bin").read_bytes()


# --------------------------------------------------------------------------- written by eventcode
def _events(n: int, width: int, height: int, seed: int, *, steps: int | None = None) -> Events:
    """``n`` random events on a ``width`` x ``height`` sensor: microseconds, or ``steps`` steps."""
    generator = torch.Generator().manual_seed(seed)
    end = steps if steps is not None else 50_000
    t = torch.sort(torch.randint(0, end, (n,), generator=generator)).values
    x = torch.randint(0, width, (n,), generator=generator)
    y = torch.randint(0, height, (n,), generator=generator)
    p = torch.randint(0, 2, (n,), generator=generator).bool()
    if steps is None:
        return Events(t=t, x=x, y=y, p=p, sensor_size=(width, height, 2))
    return Events(t=t, x=x, y=y, p=p, shape=(height, width), num_steps=steps)


def _written() -> Iterator[tuple[str, str, Events, dict[str, object]]]:
    """(reader, seed name, events, write options) of every written seed."""
    us, steps = _events(300, 64, 48, 1), _events(200, 28, 28, 2, steps=25)
    empty = _events(0, 64, 48, 3)
    batch = Events.cat([_events(50, 28, 28, 4, steps=10), _events(80, 28, 28, 5, steps=10)])
    for compression in ("none", "lz4", "zstd"):
        yield "aedat4", f"written-us-{compression}", us, {"compression": compression}
    yield "aedat4", "written-steps-lz4", steps, {"dt_us": 1000, "compression": "lz4"}
    yield "aedat4", "written-empty-none", empty, {"compression": "none"}
    for compression in ("none", "gzip", "lzf"):
        yield "hdf5", f"written-us-{compression}", us, {"compression": compression}
    yield "hdf5", "written-batch-none", batch, {"dt_us": 1000, "compression": "none"}
    yield "hdf5", "written-empty-none", empty, {"compression": "none"}
    yield "nir", "written-us-none", us, {"compression": "none"}
    yield "nir", "written-batch-gzip", batch, {"dt_us": 1000, "compression": "gzip"}
    dvs128 = _events(300, 128, 128, 6)
    yield "aedat2", "written-dvs128", dvs128, {"camera": "DVS128"}
    yield (
        "aedat2",
        "written-dvs128-steps",
        _events(100, 128, 128, 7, steps=30),
        {"camera": "DVS128", "dt_us": 10},
    )
    cases: tuple[tuple[str, Events, dict[str, object]], ...] = (
        ("us", us, {}),
        ("steps", steps, {"dt_us": 1000}),
        ("empty", empty, {}),
    )
    for name, events, options in cases:
        yield "aedat3", f"written-{name}", events, options
        yield "dat", f"written-{name}", events, options
        yield "evt2", f"written-{name}", events, {"version": "2.0", **options}
        yield "evt3", f"written-{name}", events, {"version": "3.0", **options}
    yield "nmnist", "written-34x34", _events(300, 34, 34, 8), {}


def _readable(target: Reader, data: bytes, directory: Path) -> bool:
    """Whether ``data`` reads back with the target's ``read`` (a seed must)."""
    path = directory / f"check{target.suffix}"
    path.write_bytes(data)
    try:
        target.module.read(path)
    except Exception as err:  # a cut that does not read is reported, not kept
        print(f"  left out: {type(err).__name__}: {str(err)[:160]}")
        return False
    return True


def build(shared: Path = SHARED) -> dict[str, list[Path]]:
    """Rewrite the corpus under :data:`~.targets.CORPUS`; return each reader's seed files."""
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    built: dict[str, list[Path]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        seeds: list[tuple[str, str, bytes]] = [(name, seed, make()) for name, seed, make in _recorded(shared)]
        for name, seed, events, options in _written():
            path = directory / f"written{reader(name).suffix}"
            exporters.write(path, events, format=reader(name).format, **options)
            seeds.append((name, seed, path.read_bytes()))
        for name, seed, data in seeds:
            target = reader(name)
            print(f"{name}/{seed}{target.suffix}: {len(data)} bytes")
            if len(data) > MAX_SEED or not _readable(target, data, directory):
                continue
            path = CORPUS / name / f"{seed}{target.suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            built.setdefault(name, []).append(path)
    return built


def main() -> None:
    """Command line: rebuild the corpus and print its size."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.corpus", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=SHARED, help="the shared/ folder (default: %(default)s)"
    )
    arguments = parser.parse_args()
    built = build(arguments.shared)
    total = sum(path.stat().st_size for paths in built.values() for path in paths)
    print(f"{sum(map(len, built.values()))} seeds, {total:,} bytes, in {CORPUS}")


if __name__ == "__main__":
    main()
