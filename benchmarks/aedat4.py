"""Benchmark: writing and reading AEDAT 4.0 files, eventcode vs dv-processing, faery, aedat and Tonic.

Input: ``--events`` (default 20 M) deterministic DAVIS346 events (346 x 260), generated as
``../shared/data/reference/make_reference.py`` does: ``np.random.default_rng(0)``, t from
1.7e15 us plus the cumulative sum of 0..19 us steps (repeated timestamps occur), x, y uniform,
random polarity. Every tool gets the input in its own in-memory form, built before the clock
starts: eventcode an ``Events``, faery its ``EVENTS_DTYPE`` structured array, dv-processing a
``dv.EventStore``. All tools run in this one process, one after the other.

For each compression (None, lz4, lz4_high, zstd, zstd_high):

- write: eventcode ``aedat4.write``; dv-processing ``MonoCameraWriter.writeEvents`` (closing the
  writer, which joins its I/O thread, is timed), in two rows: ``store prebuilt`` times the write of
  a ready ``EventStore``, ``push_back loop + write`` also times building that store from the
  numpy input, since dv-processing 2.0.4's Python API has no numpy constructor (``EventStore``,
  ``EventPacket`` and ``EventVector`` take only events one by one: ``push_back`` of tuples from
  ``.tolist()``, 1 M events at a time, is the fastest way found); faery
  ``events_stream_from_array(...).to_file``. Levels are dv-processing's: LZ4 fast (faery's
  ``("lz4", 1)`` is the same LZ4F fast mode as level 0), LZ4 HC 9, zstd 3, zstd 22. faery has no
  named LZ4_HIGH / ZSTD_HIGH modes: those targets compare with dv-processing only, and faery at
  ``("lz4", 9)`` and ``("zstd", 22)`` is shown as an extra row.
- read: eventcode's file with eventcode ``aedat4.read``, dv-processing ``MonoCameraRecording``
  (``getNextEventBatch().numpy()`` concatenated), faery ``events_stream_from_file(...).to_array()``,
  ``aedat.Decoder`` (packets of the lowest event stream concatenated) and Tonic ``read_aedat4``
  (which wraps ``aedat``); then dv-processing's and faery's files with eventcode. Files were just
  written, so reads come from the page cache: they measure decoding, not the disk.

Every reader's events are compared bit for bit (t, x, y, p) with the input; a mismatch, or a
reader failing on eventcode's file, is an error row and makes the script exit with status 1.
ZSTD_HIGH (zstd level 22) compresses at ~0.1-0.3 Mev/s for every tool, so its rows (write and
read) use the first ``--high-events`` (default 2 M) events; the events column says so.

Each row: median time of ``--repeat`` runs (fewer when the runs so far took over ``--budget``
seconds; the runs column says how many), Mev/s, file size (write rows), peak memory above the
tool's input (one call in a fresh process, see ``common.py``; ``--no-peak`` skips it) and
eventcode's Mev/s over the tool's for the same compression and operation. Then one line per
compression with the targets: eventcode writes >= 2x faery (>= 2x dv-processing's prebuilt-store
write for the HIGH modes) and reads >= 1.5x the best peer reading the same file.

Run: ``python benchmarks/aedat4.py [--events 20e6] [--repeat 3] [--no-peak] [--json out.json]``
(about 15 minutes on 2 cores at 20 M events).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from common import isolated_peak, peak_rss_bytes, timed

import eventcode
from exporters import aedat4

try:
    import dv_processing as dv
except ImportError:  # reported as skipped rows
    dv = None
try:
    import faery
    from faery.events_stream import EVENTS_DTYPE
except ImportError:
    faery = None
try:
    import aedat
except ImportError:
    aedat = None
try:
    import tonic.io
except ImportError:
    tonic = None

WIDTH, HEIGHT, T0 = 346, 260, 1_700_000_000_000_000
COMPRESSIONS = (None, "lz4", "lz4_high", "zstd", "zstd_high")
DV_NAMES = {None: "NONE", "lz4": "LZ4", "lz4_high": "LZ4_HIGH", "zstd": "ZSTD", "zstd_high": "ZSTD_HIGH"}
FAERY = {None: None, "lz4": ("lz4", 1), "zstd": ("zstd", 3)}
"""faery's setting at the level eventcode and dv-processing use for the same name."""
FAERY_EXTRA = {"lz4_high": ("lz4", 9), "zstd_high": ("zstd", 22)}
"""faery at the HIGH levels, which it has no named mode for: extra rows, not targets."""
RECORD = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "?")])
PUSH_CHUNK = 1 << 20

EC, DV_LOOP, DV_STORE, FAERY_TOOL = (
    "eventcode",
    "dv-processing (push_back loop + write)",
    "dv-processing (store prebuilt)",
    "faery",
)


def make_columns(num_events: int) -> dict[str, np.ndarray]:
    """The input events as columns t int64, x int16, y int16, p bool (make_reference.py's recipe)."""
    rng = np.random.default_rng(0)
    dt = rng.integers(0, 20, size=num_events - 1)
    x = rng.integers(0, WIDTH, size=num_events)
    y = rng.integers(0, HEIGHT, size=num_events)
    p = rng.integers(0, 2, size=num_events).astype(bool)
    t = T0 + np.concatenate([[0], np.cumsum(dt)])
    return {"t": t, "x": x.astype(np.int16), "y": y.astype(np.int16), "p": p}


def head(columns: dict[str, np.ndarray], num_events: int) -> dict[str, np.ndarray]:
    return {k: v[:num_events] for k, v in columns.items()}


# ---------------------------------------------------------------------- writers
def ec_events(columns: dict[str, np.ndarray]) -> eventcode.Events:
    t, x, y, p = (columns[name] for name in "txyp")
    return eventcode.Events(t, x, y, p, sensor_size=(WIDTH, HEIGHT))


def as_columns(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return columns


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


def faery_write(array: np.ndarray, path: str, setting: tuple[str, int] | None) -> None:
    stream = faery.events_stream_from_array(array, dimensions=(WIDTH, HEIGHT))
    stream.to_file(path, compression=setting, zero_t0=False)


def writers(compression: str | None) -> list[tuple[str, bool, Callable | None, Callable | None]]:
    """(tool, installed, prepare columns -> native input, write(native, path)) for one compression."""
    out: list[tuple[str, bool, Callable | None, Callable | None]] = [
        (EC, True, ec_events, lambda events, path: aedat4.write(path, events, compression=compression)),
        (DV_LOOP, dv is not None, as_columns, lambda c, path: dv_write(dv_store(c), path, compression)),
        (DV_STORE, dv is not None, dv_store, lambda store, path: dv_write(store, path, compression)),
    ]
    if compression in FAERY:
        label, setting = FAERY_TOOL, FAERY[compression]
    else:
        setting = FAERY_EXTRA[compression]
        label = f"faery ({setting[0]} level {setting[1]}; extra, no {DV_NAMES[compression]} mode)"
    out.append((label, faery is not None, faery_array, lambda a, path: faery_write(a, path, setting)))
    return out


# ---------------------------------------------------------------------- readers
def read_dv(path: str) -> np.ndarray:
    recording = dv.io.MonoCameraRecording(path)
    parts = []
    while (batch := recording.getNextEventBatch()) is not None:
        parts.append(batch.numpy())
    return np.concatenate(parts)


def read_aedat(path: str) -> np.ndarray:
    decoder = aedat.Decoder(path)
    stream = min(i for i, s in decoder.id_to_stream().items() if s["type"] == "events")
    return np.concatenate([pk["events"] for pk in decoder if pk["stream_id"] == stream and "events" in pk])


READERS: dict[str, tuple[bool, Callable[[str], object]]] = {
    EC: (True, aedat4.read),
    "dv-processing": (dv is not None, read_dv),
    "faery": (faery is not None, lambda path: faery.events_stream_from_file(path).to_array()),
    "aedat": (aedat is not None, read_aedat),
    "tonic": (tonic is not None, lambda path: tonic.io.read_aedat4(path)),
}


def columns_of(result: object) -> tuple[np.ndarray, ...]:
    """(t, x, y, p) of any reader's result."""
    if isinstance(result, eventcode.Events):
        return tuple(v.numpy() for v in (result.t, result.x, result.y, result.p))
    names = result.dtype.names
    t, p = ("timestamp", "polarity") if "timestamp" in names else ("t", "on")
    return result[t], result["x"], result["y"], result[p]


def mismatch(result: object, expected: dict[str, np.ndarray]) -> str | None:
    """None when the events equal the input bit for bit, else what differs."""
    got = columns_of(result)
    if len(got[0]) != len(expected["t"]):
        return f"MISMATCH: {len(got[0])} events read, {len(expected['t'])} written"
    for name, column in zip("txyp", got, strict=True):
        want = expected[name]
        column = column.astype(bool) if name == "p" else column.astype(np.int64)
        if not np.array_equal(column, want.astype(column.dtype)):
            i = int(np.argmax(column != want.astype(column.dtype)))
            return f"MISMATCH: event {i} has {name} = {column[i]}, written {want[i]}"
    return None


# ---------------------------------------------------------------------- measuring
def child_peak(kind: str, tool: str, compression: str, num_events: int, total: int, path: str) -> int:
    """Body of the ``--peak`` child: one call's resident-memory rise above the tool's input."""
    comp = None if compression == "none" else compression
    if kind == "read":
        return peak_rss_bytes(lambda: READERS[tool][1](path))
    _, _, prepare, write = next(w for w in writers(comp) if w[0] == tool)
    native = prepare(head(make_columns(total), num_events))
    rise = peak_rss_bytes(lambda: write(native, path))
    os.remove(path)
    return rise


def peak_mb(args: argparse.Namespace, kind: str, tool: str, comp: str | None, n: int, path: str) -> float:
    if args.no_peak:
        return None
    name = "none" if comp is None else comp
    return isolated_peak(__file__, kind, tool, name, str(n), str(args.events), path) / 1e6


def row(comp, operation, tool, events, runs=0, seconds=None, size=None, peak=None, status="ok") -> dict:
    return {
        "compression": DV_NAMES[comp],
        "operation": operation,
        "tool": tool,
        "events": events,
        "runs": runs,
        "seconds": seconds,
        "mev_s": events / seconds / 1e6 if seconds else None,
        "file_mb": size,
        "peak_extra_mb": peak,
        "status": status,
        "ratio": None,
    }


def reraise_interrupts(error: BaseException) -> None:
    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        raise error


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_compression(args, comp, columns, natives, folder: Path, problems: list[str]) -> list[dict]:
    n = min(args.events, args.high_events) if comp == "zstd_high" else args.events
    expected = head(columns, n)
    rows, files = [], {}
    for tool, installed, prepare, write in writers(comp):
        if not installed:
            rows.append(row(comp, "write", tool, n, status="skipped (not installed)"))
            continue
        key = (prepare.__name__, n)
        if key not in natives:  # the tool's in-memory input, built once, outside the clock
            log(f"{DV_NAMES[comp]}: preparing the input of {tool}")
            natives[key] = prepare(expected)
        native = natives[key]
        path = str(folder / f"{len(files)}.aedat4")
        log(f"{DV_NAMES[comp]}: write {tool}")
        try:
            call = (lambda w, a, p: lambda: w(a, p))(write, native, path)
            seconds, runs, _ = timed(call, args.repeat, budget=args.budget)
        except BaseException as error:  # pyo3 panics are BaseExceptions
            reraise_interrupts(error)
            rows.append(row(comp, "write", tool, n, status=f"failed: {type(error).__name__}: {error}"))
            if tool == EC:
                problems.append(f"{DV_NAMES[comp]} eventcode write failed: {error}")
            continue
        files[tool] = path
        peak = peak_mb(args, "write", tool, comp, n, str(folder / "peak.aedat4"))
        rows.append(row(comp, "write", tool, n, runs, seconds, os.path.getsize(path) / 1e6, peak))
    reads = [(tool, tool, files.get(EC)) for tool in READERS]
    for tool, path in files.items():
        if tool not in (EC, DV_LOOP):
            reads.append((EC, f"eventcode ({tool.split(' (')[0]}'s file)", path))
    for reader, label, path in reads:
        installed, read = READERS[reader]
        if not installed or path is None:
            why = "not installed" if not installed else "no file written"
            rows.append(row(comp, "read", label, n, status=f"skipped ({why})"))
            continue
        log(f"{DV_NAMES[comp]}: read {label}")
        try:
            seconds, runs, result = timed(
                (lambda r, p: lambda: r(p))(read, path), args.repeat, budget=args.budget
            )
            status = mismatch(result, expected) or "ok"
            del result
        except BaseException as error:  # pyo3 panics are BaseExceptions
            reraise_interrupts(error)
            seconds, runs, status = None, 0, f"failed: {type(error).__name__}: {error}"
        if status != "ok":
            problems.append(f"{DV_NAMES[comp]} read by {label}: {status}")
            rows.append(row(comp, "read", label, n, runs, seconds, status=status))
            continue
        peak = peak_mb(args, "read", reader, comp, n, path)
        rows.append(row(comp, "read", label, n, runs, seconds, peak=peak))
    for path in files.values():
        os.remove(path)
    for operation in ("write", "read"):
        ours = next(r for r in rows if r["operation"] == operation and r["tool"] == EC)
        for r in rows:
            peer_row = r["operation"] == operation and not r["tool"].startswith("eventcode (")
            if peer_row and r["mev_s"] and ours["mev_s"]:
                r["ratio"] = ours["mev_s"] / r["mev_s"]
    return rows


def targets(comp: str | None, rows: list[dict]) -> dict:
    """eventcode writes >= 2x faery (HIGH modes: dv-processing) and reads >= 1.5x the best peer."""

    def speed(operation: str, tool: str) -> float | None:
        return next((r["mev_s"] for r in rows if r["operation"] == operation and r["tool"] == tool), None)

    peer = FAERY_TOOL if comp in FAERY else DV_STORE
    readers = [r for r in rows if r["operation"] == "read" and r["tool"] in READERS and r["tool"] != EC]
    best = max((r for r in readers if r["mev_s"]), key=lambda r: r["mev_s"], default=None)
    out = {"compression": DV_NAMES[comp]}
    for name, ours, theirs, who, goal in (
        ("write", speed("write", EC), speed("write", peer), peer, 2.0),
        ("read", speed("read", EC), best and best["mev_s"], best and best["tool"], 1.5),
    ):
        ratio = ours / theirs if ours and theirs else None
        verdict = "SKIPPED (no peer)" if theirs is None else ("PASS" if ratio and ratio >= goal else "FAIL")
        out[name] = {"peer": who, "ratio": ratio, "goal": goal, "verdict": verdict}
    return out


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def versions() -> str:
    names = ("dv-processing", "faery", "aedat", "tonic", "lz4", "zstandard")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=lambda s: int(float(s)), default=20_000_000)
    parser.add_argument("--high-events", type=lambda s: int(float(s)), default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=20.0, help="stop repeating past these seconds")
    parser.add_argument("--no-peak", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--json", help="also write the rows and targets to this JSON file")
    parser.add_argument("--peak", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process of peak_mb(): one call, its resident-memory rise
        kind, tool, compression, num_events, total, path = args.peak
        print(child_peak(kind, tool, compression, int(num_events), int(total), path))
        return

    columns = make_columns(args.events)
    print(
        f"# AEDAT 4.0 benchmark: {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
        f"torch {torch.__version__}, {versions()}; {args.events:,} DAVIS346 events "
        f"(ZSTD_HIGH: {min(args.events, args.high_events):,})"
    )
    rows, goals, problems, natives = [], [], [], {}
    with tempfile.TemporaryDirectory() as folder:
        for comp in COMPRESSIONS:
            found = bench_compression(args, comp, columns, natives, Path(folder), problems)
            rows += found
            goals.append(targets(comp, found))
    heads = ["compression", "operation", "tool", "events", "runs", "time (s)", "Mev/s", "file (MB)"]
    heads += ["peak extra (MB)", "eventcode Mev/s / tool's", "status"]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for r in rows:
        ratio = "1.00" if r["tool"] == EC else fmt(r["ratio"], ".2f")
        cells = [r["compression"], r["operation"], r["tool"], f"{r['events']:,}", str(r["runs"])]
        cells += [fmt(r["seconds"], ".3f"), fmt(r["mev_s"], ".1f"), fmt(r["file_mb"], ".1f")]
        cells += [fmt(r["peak_extra_mb"], ".0f"), ratio, r["status"]]
        print("| " + " | ".join(cells) + " |")
    print()
    print(
        "Write rows time each tool's own in-memory input to a closed file; dv-processing's "
        "`push_back loop` row also builds its EventStore from numpy in Python (no numpy constructor). "
        "faery has no LZ4_HIGH / ZSTD_HIGH modes: its rows there are extra, at the same levels. "
        "Read rows other than `eventcode (...'s file)` read eventcode's file."
    )
    print()
    for goal in goals:
        parts = []
        for name in ("write", "read"):
            g = goal[name]
            parts.append(
                f"{name} {fmt(g['ratio'], '.2f')}x {g['peer']} (target >= {g['goal']}x): {g['verdict']}"
            )
        print(f"- {goal['compression']}: " + "; ".join(parts))
    if args.json:
        report = {"rows": rows, "targets": goals, "problems": problems}
        Path(args.json).write_text(json.dumps(report, indent=1))
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(f"- {p}" for p in problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
