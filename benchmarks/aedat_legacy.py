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
  before it is timed; a peer that reads them wrong is reported, not timed.

Each row: median seconds of ``--repeat`` runs, Mev/s, and eventcode's Mev/s over the row's
(above 1: eventcode is faster). Then the targets of issue 15: reads and writes >= 100 Mev/s,
reads >= 2x every correct peer, writes >= 0.8x the ``tofile`` limit.

Run: ``python benchmarks/aedat_legacy.py [--events 20e6] [--repeat 5] [--folder DIR] [--json out.json]``
(``--folder /dev/shm`` takes the file system out of the writes).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from common import timed

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

    def row(
        fmt: str, operation: str, tool: str, fn: Callable[[], object], mine: float | None = None
    ) -> float:
        seconds, runs, _ = timed(fn, args.repeat)
        rate = count / seconds / 1e6
        rows.append(
            {
                "format": fmt,
                "operation": operation,
                "tool": tool,
                "seconds": seconds,
                "runs": runs,
                "mev_s": rate,
            }
        )
        rows[-1]["eventcode_over"] = None if mine is None else mine / rate
        return rate

    files = {"AEDAT 2.0": folder / "davis346.aedat", "AEDAT 3.1": folder / "davis346_31.aedat"}
    writers = {
        "AEDAT 2.0": lambda path: aedat2.write(path, events, camera="DAVIS346"),
        "AEDAT 3.1": lambda path: aedat3.write(path, events),
    }
    readers = {"AEDAT 2.0": aedat2.read, "AEDAT 3.1": aedat3.read}
    fresh = (folder / f"write_{n}.bin" for n in itertools.count())
    targets = []
    for fmt, path in files.items():
        writers[fmt](path)
        # Every timed write goes to a new path: replacing a file costs ext4 a flush and a discard of
        # the old blocks (100-300 ms here) that neither side should pay.
        write_rate = row(fmt, "write", "eventcode", lambda w=writers[fmt]: w(next(fresh)))
        content = np.fromfile(path, dtype=np.uint8)
        tofile = row(fmt, "write", "limit: numpy tofile", lambda c=content: c.tofile(next(fresh)), write_rate)
        for written in folder.glob("write_*.bin"):
            written.unlink()
        back = readers[fmt](path)
        assert back == events, f"eventcode reads its own {fmt} file differently"
        read_rate = row(fmt, "read", "eventcode", lambda r=readers[fmt], p=path: r(p))
        row(
            fmt, "read", "reference: numpy fromfile", lambda p=path: np.fromfile(p, dtype=np.uint8), read_rate
        )
        peers = []
        if fmt == "AEDAT 2.0" and tonic is not None:
            if same(events, *tonic_davis(path)):
                peers.append(
                    row(fmt, "read", "Tonic read_davis_346", lambda p=path: tonic_davis(p), read_rate)
                )
            else:
                rows.append(
                    {
                        "format": fmt,
                        "operation": "read",
                        "tool": "Tonic read_davis_346",
                        "error": "wrong events",
                    }
                )
        targets.append(
            f"{fmt}: read {read_rate:.0f} Mev/s, write {write_rate:.0f} Mev/s (>= 100 each: "
            f"{'yes' if min(read_rate, write_rate) >= 100 else 'NO'}); write / tofile limit "
            f"{write_rate / tofile:.2f} (>= 0.8: {'yes' if write_rate >= 0.8 * tofile else 'NO'})"
            + "".join(
                f"; read / peer {read_rate / peer:.1f}x (>= 2: {'yes' if read_rate >= 2 * peer else 'NO'})"
                for peer in peers
            )
        )
        path.unlink()
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, torch {torch.__version__}, "
        f"{count:,} DAVIS346 events, median of {args.repeat}"
    )
    print("| format | operation | tool | seconds | Mev/s | eventcode / tool |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['format']} | {r['operation']} | {r['tool']} | {r['error']} | | |")
            continue
        ratio = "" if r["eventcode_over"] is None else f"{r['eventcode_over']:.2f}x"
        print(
            f"| {r['format']} | {r['operation']} | {r['tool']} | {r['seconds']:.3f} | {r['mev_s']:.0f} "
            f"| {ratio} |"
        )
    print()
    for line in targets:
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "targets": targets}, indent=1))


if __name__ == "__main__":
    main()
