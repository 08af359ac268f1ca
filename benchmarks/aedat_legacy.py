"""Benchmark: AEDAT 2.0 (DAVIS346 layout) and AEDAT 3.1 reads and writes, vs the peers and the limit.

Input: ``--events`` (default 20 M) deterministic DAVIS346 events (346 x 260), made as
``benchmarks/aedat4.py`` makes them but from t = 0 (AEDAT 2.0 keeps 32 bits of microseconds:
the ~190 s stream stays under its 2^32 us wrap). All tools run in this one process on the same
files, one after the other; the files were just written, so reads come from the page cache and
time decoding, not the disk.

- write: eventcode ``aedat2.write(..., camera="DAVIS346")`` and ``aedat3.write`` of an
  ``Events``, against **the limit**: ``numpy.tofile`` of the same file's bytes, packed beforehand
  (no Python peer writes these formats). Each timed write makes a new file, for both.
- read: eventcode ``aedat2.read`` / ``aedat3.read`` of those files, against every installed
  reader that decodes them correctly: Tonic's ``read_davis_346`` (AEDAT 2.0, DAVIS346; it keeps
  APS and IMU words, which these files do not have), and, for reference, ``numpy.fromfile`` of the
  file's bytes (no decoding at all). A peer's events are compared with the input, field by field,
  before it is timed; a peer that reads them wrong is reported, not timed. No installed peer
  writes either format, so every reader reads eventcode's file (the "file (writer)" column).

The writes (eventcode and ``tofile``, each to a new file, removed untimed after each call) run
in ``--repeat`` interleaved rounds (A, B, A, B, ...), then the reads (eventcode, ``fromfile``, the
correct peers). Each row: median seconds (and range), Mev/s, and eventcode's speed over the row's
(the row's time over eventcode's), median (and range) of the rounds' ratios (above 1: eventcode
is faster). Then the targets of issue 15: reads and writes >= 100 Mev/s, reads >= 2x every
correct peer, writes >= 0.8x the ``tofile`` limit; a target within the rounds' range is not met.

Run: ``python benchmarks/aedat_legacy.py [--events 20e6] [--repeat 5] [--folder DIR] [--json out.json]``
(``--folder /dev/shm`` takes the file system out of the writes).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from common import interleaved, ratio_spread, ratios, spread, verdict

import eventcode
from exporters import aedat2, aedat3

try:
    import tonic.io
except ImportError:  # reported as a skipped row
    tonic = None

WIDTH, HEIGHT = 346, 260


def make_events(num_events: int) -> eventcode.Events:
    """The input: t from 0 in steps of 0..19 us (repeats occur), x, y uniform, random polarity."""
    rng = np.random.default_rng(0)
    t = np.concatenate([[0], np.cumsum(rng.integers(0, 20, size=num_events - 1))])
    x = rng.integers(0, WIDTH, size=num_events).astype(np.int16)
    y = rng.integers(0, HEIGHT, size=num_events).astype(np.int16)
    p = rng.integers(0, 2, size=num_events).astype(bool)
    return eventcode.Events(t, x, y, p, sensor_size=(WIDTH, HEIGHT))


def same(events: eventcode.Events, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> bool:
    """Whether a reader's columns are the input's events, in order."""
    return all(
        np.array_equal(np.asarray(mine), np.asarray(theirs).astype(np.asarray(mine).dtype))
        for mine, theirs in (
            (events.t.numpy(), t),
            (events.x.numpy(), x),
            (events.y.numpy(), y),
            (events.p.numpy(), p),
        )
    )


def tonic_davis(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    _, _, array = tonic.io.read_davis_346(str(path))
    return array["t"], array["x"], array["y"], array["p"].astype(bool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=20e6)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--folder", type=Path, help="Where the files go (default: a temporary folder).")
    args = parser.parse_args()
    count = int(args.events)
    events = make_events(count)
    rows: list[dict[str, object]] = []
    folder = Path(tempfile.mkdtemp(prefix="aedat_legacy_", dir=args.folder))

    def add(fmt: str, operation: str, times: dict[str, list[float]]) -> dict[str, list[float]]:
        """Rows of one format and operation; returns each tool's rounds of eventcode's speed over it."""
        ours = times["eventcode"]
        over = {}
        for tool, seconds in times.items():
            over[tool] = ratios(seconds, ours)
            rows.append(
                {
                    "format": fmt,
                    "operation": operation,
                    "tool": tool,
                    "seconds": statistics.median(seconds),
                    "spread": spread(seconds),
                    "mev_s": count / statistics.median(seconds) / 1e6,
                    "mev_s_rounds": [count / t / 1e6 for t in seconds],
                    "eventcode_over": None if tool == "eventcode" else statistics.median(over[tool]),
                    "eventcode_over_spread": None if tool == "eventcode" else ratio_spread(over[tool]),
                }
            )
        return over

    files = {"AEDAT 2.0": folder / "davis346.aedat", "AEDAT 3.1": folder / "davis346_31.aedat"}
    writers = {
        "AEDAT 2.0": lambda path: aedat2.write(path, events, camera="DAVIS346"),
        "AEDAT 3.1": lambda path: aedat3.write(path, events),
    }
    readers = {"AEDAT 2.0": aedat2.read, "AEDAT 3.1": aedat3.read}
    fresh = (folder / f"write_{n}.bin" for n in itertools.count())

    def write_new(write: Callable[[Path], object]) -> Path:
        path = next(fresh)
        write(path)
        return path

    targets = []
    for fmt, path in files.items():
        writers[fmt](path)
        content = np.fromfile(path, dtype=np.uint8)
        # Every timed write goes to a new path: replacing a file costs ext4 a flush and a discard of
        # the old blocks (100-300 ms here) that neither side should pay. Removed untimed.
        writes = interleaved(
            {
                "eventcode": lambda w=writers[fmt]: write_new(w),
                "limit: numpy tofile": lambda c=content: write_new(c.tofile),
            },
            args.repeat,
            after=lambda written: written.unlink(),  # type: ignore[attr-defined]
        )
        del content
        write_over = add(fmt, "write", writes)
        back = readers[fmt](path)
        assert back == events, f"eventcode reads its own {fmt} file differently"
        del back
        reads: dict[str, Callable[[], object]] = {
            "eventcode": lambda r=readers[fmt], p=path: r(p),
            "reference: numpy fromfile": lambda p=path: np.fromfile(p, dtype=np.uint8),
        }
        peers, wrong = [], []
        if fmt == "AEDAT 2.0" and tonic is not None:
            if same(events, *tonic_davis(path)):
                reads["Tonic read_davis_346"] = lambda p=path: tonic_davis(p)
                peers.append("Tonic read_davis_346")
            else:
                wrong.append("Tonic read_davis_346")
        read_times = interleaved(reads, args.repeat)
        read_over = add(fmt, "read", read_times)
        for tool in wrong:
            rows.append({"format": fmt, "operation": "read", "tool": tool, "error": "wrong events"})
        read_rates = [count / t / 1e6 for t in read_times["eventcode"]]
        write_rates = [count / t / 1e6 for t in writes["eventcode"]]
        # eventcode's speed over tofile's is tofile's time over eventcode's: write_over's rounds
        tofile = write_over["limit: numpy tofile"]
        line = (
            f"{fmt}: read {statistics.median(read_rates):.0f} Mev/s ({min(read_rates):.0f}-"
            f"{max(read_rates):.0f}), >= 100: {verdict(read_rates, 100)}; write "
            f"{statistics.median(write_rates):.0f} Mev/s ({min(write_rates):.0f}-{max(write_rates):.0f}), "
            f">= 100: {verdict(write_rates, 100)}; write / tofile limit {ratio_spread(tofile)}, >= 0.8x: "
            f"{verdict(tofile, 0.8)}"
        )
        for peer in peers:
            line += f"; read / {peer} {ratio_spread(read_over[peer])}, >= 2x: {verdict(read_over[peer], 2)}"
        for tool in wrong:
            line += f"; {tool} reads wrong events (not timed)"
        targets.append(line)
        path.unlink()
    folder.rmdir()
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, torch {torch.__version__}, "
        f"{count:,} DAVIS346 events, median of {args.repeat} interleaved rounds"
    )
    print("| format | operation | file (writer) | tool | time (range) | Mev/s | eventcode / tool (range) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        writer = "eventcode" if r["operation"] == "read" else ""
        start = f"| {r['format']} | {r['operation']} | {writer} | {r['tool']} |"
        if "error" in r:
            print(f"{start} {r['error']} | | |")
            continue
        print(f"{start} {r['spread']} | {r['mev_s']:.0f} | {r['eventcode_over_spread'] or ''} |")
    print()
    for line in targets:
        print(f"- {line}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "targets": targets}, indent=1))


if __name__ == "__main__":
    main()
