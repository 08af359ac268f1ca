"""Benchmark: writing AEDAT 4.0 files, eventcode vs dv-processing and faery, beside the codec alone.

Input: ``--events`` (default 5 M) deterministic DAVIS346 events (346 x 260), generated as
``../shared/data/reference/make_reference.py`` does: ``np.random.default_rng(0)``, t from
1.7e15 us plus the cumulative sum of 0..19 us steps (repeated timestamps occur), x, y uniform,
random polarity. Every tool gets the input in its own in-memory form, built before the clock
starts: eventcode an ``Events``, faery its ``EVENTS_DTYPE`` structured array, dv-processing a
``dv.EventStore`` (dv-processing 2.0.4's Python API has no numpy constructor: the store is
filled with ``push_back``, untimed, so its row times only ``writeEvents``).

For each compression (NONE, LZ4, LZ4_HIGH, ZSTD, ZSTD_HIGH, at dv-processing's levels: LZ4 fast,
LZ4 HC 9, zstd 3, zstd 22), in ``--repeat`` interleaved rounds (A, B, C, A, B, C, ...), each
write to a new file (removed untimed after it):

- eventcode ``aedat4.write``;
- dv-processing ``MonoCameraWriter.writeEvents`` of the prebuilt store (closing the writer, which
  joins its I/O thread, is timed);
- faery ``events_stream_from_array(...).to_file`` at the same level (it has no named HIGH modes:
  there it runs at ``("lz4", 9)`` / ``("zstd", 22)``);
- the limit: for a compression, the codec alone (``lz4.frame`` / ``zstandard`` at the same level,
  the same settings) compressing eventcode's own packets, built beforehand, in halves on the two
  cores; for NONE, writing those packets' bytes to a new file, in halves on the two cores
  (``pwrite``): the copy bandwidth.

ZSTD_HIGH compresses at under 1 Mev/s for every tool, so its rows use ``--high-events`` (default
1 M). Each row: median time and range, Mev/s, file size, and for eventcode its speed over the
limit's and over faery's (median and range of the rounds). Issue 17's targets: every write >= 85%
of the limit (in every round); NONE, LZ4 and ZSTD >= 2x faery.

Run: ``python benchmarks/aedat4.py [--events 5e6] [--high-events 1e6] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import statistics
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
from common import interleaved, ratio_spread, ratios, spread, verdict

import eventcode
from exporters import aedat4, positional, threads

try:
    import dv_processing as dv
except ImportError:  # its rows are left out
    dv = None
try:
    import faery
    from faery.events_stream import EVENTS_DTYPE
except ImportError:
    faery = None

WIDTH, HEIGHT, T0 = 346, 260, 1_700_000_000_000_000
COMPRESSIONS = (None, "lz4", "lz4_high", "zstd", "zstd_high")
DV_NAMES = {None: "NONE", "lz4": "LZ4", "lz4_high": "LZ4_HIGH", "zstd": "ZSTD", "zstd_high": "ZSTD_HIGH"}
FAERY = {None: None, "lz4": ("lz4", 1), "zstd": ("zstd", 3)}
"""faery's setting at the level eventcode and dv-processing use for the same name."""
FAERY_EXTRA = {"lz4_high": ("lz4", 9), "zstd_high": ("zstd", 22)}
"""faery at the HIGH levels, which it has no named mode for."""
RECORD = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "?")])
PUSH_CHUNK = 1 << 20
EC, LIMIT = "eventcode", "limit"


def make_columns(num_events: int) -> dict[str, np.ndarray]:
    """The input events as columns t int64, x int16, y int16, p bool (make_reference.py's recipe)."""
    rng = np.random.default_rng(0)
    dt = rng.integers(0, 20, size=num_events - 1)
    x = rng.integers(0, WIDTH, size=num_events)
    y = rng.integers(0, HEIGHT, size=num_events)
    p = rng.integers(0, 2, size=num_events).astype(bool)
    t = T0 + np.concatenate([[0], np.cumsum(dt)])
    return {"t": t, "x": x.astype(np.int16), "y": y.astype(np.int16), "p": p}


def ec_events(columns: dict[str, np.ndarray]) -> eventcode.Events:
    t, x, y, p = (columns[name] for name in "txyp")
    return eventcode.Events(t, x, y, p, sensor_size=(WIDTH, HEIGHT))


def dv_store(columns: dict[str, np.ndarray]) -> object:
    """A dv.EventStore of the columns: push_back of (t, x, y, p) tuples, 1 M events at a time."""
    records = np.empty(len(columns["t"]), RECORD)
    for name in "txyp":
        records[name] = columns[name]
    store = dv.EventStore()
    for start in range(0, len(records), PUSH_CHUNK):
        collections.deque(map(store.push_back, records[start : start + PUSH_CHUNK].tolist()), maxlen=0)
    return store


def dv_write(store: object, path: str, compression: str | None) -> None:
    compression_type = getattr(dv.CompressionType, DV_NAMES[compression])
    config = dv.io.MonoCameraWriter.EventOnlyConfig("bench", (WIDTH, HEIGHT), compression=compression_type)
    writer = dv.io.MonoCameraWriter(path, config)
    writer.writeEvents(store)
    del writer  # closes the file, after the writer's I/O thread is done


def faery_array(columns: dict[str, np.ndarray]) -> np.ndarray:
    array = np.empty(len(columns["t"]), EVENTS_DTYPE)
    array["t"], array["x"], array["y"], array["on"] = columns["t"], columns["x"], columns["y"], columns["p"]
    return array


def faery_setting(compression: str | None) -> tuple[str, int] | None:
    return FAERY[compression] if compression in FAERY else FAERY_EXTRA[compression]


def faery_write(array: np.ndarray, path: str, setting: tuple[str, int] | None) -> None:
    stream = faery.events_stream_from_array(array, dimensions=(WIDTH, HEIGHT))
    stream.to_file(path, compression=setting, zero_t0=False)


def codec_alone(columns: dict[str, np.ndarray], compression: str | None, path: str) -> Callable[[], object]:
    """The limit: eventcode's packets of the columns, built now, compressed (or, uncompressed,
    written to ``path``) in halves on the two cores."""
    code = aedat4.CODES["none" if compression is None else compression]
    size = aedat4.PACKET_EVENTS[code]
    ordered = [columns[name] for name in "txyp"]
    count = len(ordered[0])
    packets = [bytes(aedat4._built(ordered, a, min(a + size, count), 0)) for a in range(0, count, size)]
    halves = [packets[: len(packets) // 2], packets[len(packets) // 2 :]]
    if code != 0:
        return lambda: list(threads.parallel(lambda half: [aedat4._compress(code, p) for p in half], halves))
    at = [0, sum(map(len, halves[0]))]

    def put(i: int, descriptor: int) -> None:
        offset = at[i]
        for packet in halves[i]:
            positional.write_at(descriptor, packet, offset)
            offset += len(packet)

    def write() -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            list(threads.parallel(lambda i: put(i, descriptor), [0, 1]))
        finally:
            os.close(descriptor)

    return write


def versions() -> str:
    found = []
    for name in ("dv-processing", "faery", "lz4", "zstandard"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=lambda s: int(float(s)), default=5_000_000)
    parser.add_argument("--high-events", type=lambda s: int(float(s)), default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    everything = make_columns(args.events)
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, {versions()}; "
        f"{args.events:,} DAVIS346 events (ZSTD_HIGH: {min(args.events, args.high_events):,}), "
        f"median of {args.repeat} interleaved rounds"
    )
    heads = ["compression", "events", "writer", "time (range)", "Mev/s", "file (MB)"]
    heads += ["eventcode / limit (rounds)", "eventcode / faery (rounds)"]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    verdicts = []
    folder = Path(tempfile.mkdtemp(prefix="aedat4_writes_"))
    stores: dict[int, object] = {}
    paths = {name: str(folder / f"{name}.aedat4") for name in ("eventcode", "dv", "faery", "limit")}

    def removed(_: object) -> None:
        for path in paths.values():
            if os.path.exists(path):
                os.unlink(path)

    for compression in COMPRESSIONS:
        count = min(args.events, args.high_events) if compression == "zstd_high" else args.events
        columns = {name: column[:count] for name, column in everything.items()}
        events = ec_events(columns)
        writes: dict[str, Callable[[], object]] = {
            EC: lambda e=events, c=compression: aedat4.write(paths["eventcode"], e, compression=c)
        }
        if dv is not None:
            if count not in stores:
                stores[count] = dv_store(columns)
            writes["dv-processing"] = lambda s=stores[count], c=compression: dv_write(s, paths["dv"], c)
        if faery is not None:
            array, setting = faery_array(columns), faery_setting(compression)
            label = "faery" if compression in FAERY else f"faery ({setting[0]} level {setting[1]})"
            writes[label] = lambda a=array, s=setting: faery_write(a, paths["faery"], s)
        writes[LIMIT] = codec_alone(columns, compression, paths["limit"])
        sizes = {}
        for write in writes.values():  # once untimed: a check that every file holds the events
            write()
        for name, path in paths.items():
            if name == "limit" or not os.path.exists(path):
                continue
            sizes[name] = os.path.getsize(path)
            if aedat4.read(path) != events:
                raise SystemExit(f"{DV_NAMES[compression]}: {name}'s file does not hold the input events")
        times = interleaved(writes, args.repeat, after=removed)
        size_of = {EC: "eventcode", "dv-processing": "dv", LIMIT: "limit"}
        for name, runs in times.items():
            cells = [DV_NAMES[compression], f"{count:,}", name, spread(runs)]
            cells.append(f"{count / statistics.median(runs) / 1e6:.1f}")
            stored = sizes.get(size_of.get(name, "faery"))
            cells.append(f"{stored / 1e6:.1f}" if stored and name != LIMIT else "")
            cells += ["", ""]
            if name == EC:
                share = ratios(times[LIMIT], runs)
                cells[6] = ratio_spread(share)
                line = (
                    f"- {DV_NAMES[compression]}: write at {statistics.median(share):.0%} of the limit "
                    f"(target >= 85%: {verdict(share, 0.85)})"
                )
                if "faery" in times and compression in ("lz4", "zstd", None):
                    faster = ratios(times["faery"], runs)
                    cells[7] = ratio_spread(faster)
                    line += f"; {statistics.median(faster):.2f}x faery (target >= 2x: {verdict(faster, 2)})"
                elif "faery" not in times and compression in ("lz4", "zstd", None):
                    line += "; faery not installed"
                verdicts.append(line)
            print("| " + " | ".join(cells) + " |", flush=True)
    print()
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    main()
