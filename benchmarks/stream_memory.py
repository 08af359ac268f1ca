"""Memory of streams larger than RAM: generate -> write -> read_chunks -> frames, peak RSS flat in
the stream's length.

Each length runs in a fresh process: events generated on the fly a chunk at a time (a DAVIS346
stream: uniform addresses, increasing microsecond times, 1 M events a second), written chunk by
chunk to one AEDAT 4.0 file (zstd) by ``aedat4.Writer``, read back by ``aedat4.read_chunks``, each
chunk turned into frames (``to_frames``, 100 ms windows) and counted. The line of each length: the
events, the file's size, the time of each stage, and the process's peak resident set
(``ru_maxrss``) after each stage. Disk: about 6 bytes an event; the free space is checked first.

Run: ``python benchmarks/stream_memory.py --lengths 1e7 1e8 1e9 [--folder /tmp]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK = 10_000_000
"""Events generated, written and read at a time."""
BYTES_PER_EVENT = 8
"""Disk an event may take (zstd gives about 6): the free space needed is checked against this."""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_length(events: int, folder: Path) -> dict[str, float]:
    """Generate, write, read and frame ``events`` events in this process: sizes, times, peaks."""
    import numpy as np

    from eventcode import Events, to_frames
    from exporters import aedat4

    found: dict[str, float] = {"events": events, "after imports MB": peak_mb()}
    path = folder / "stream.aedat4"
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with aedat4.Writer(path, sensor_size=(346, 260), compression="zstd") as writer:
        for first in range(0, events, CHUNK):
            n = min(CHUNK, events - first)
            t = first + np.sort(rng.integers(0, CHUNK, n))  # 1 event a microsecond on average
            writer.write(
                Events(
                    t,
                    rng.integers(0, 346, n),
                    rng.integers(0, 260, n),
                    rng.random(n) < 0.5,
                    sensor_size=(346, 260),
                )
            )
    found["write s"], found["after write MB"] = time.perf_counter() - start, peak_mb()
    found["file GB"] = path.stat().st_size / 1e9
    start, counted, frames = time.perf_counter(), 0, 0
    for chunk in aedat4.read_chunks(path, CHUNK):
        counted += len(chunk)
        frames += len(to_frames(chunk, time_window=100_000))
    found["read + frames s"], found["after read MB"] = time.perf_counter() - start, peak_mb()
    if counted != events:
        raise RuntimeError(f"read {counted} events of {events}")
    found["frames"] = frames
    path.unlink()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[1e7, 1e8, 1e9])
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:  # child: one length
        print(json.dumps(one_length(args.one, args.folder)))
        return
    lengths = [int(v) for v in args.lengths]
    need, free = max(lengths) * BYTES_PER_EVENT, shutil.disk_usage(args.folder).free
    if need > free:
        raise SystemExit(
            f"{args.folder} has {free / 1e9:.0f} GB free; {max(lengths):.0e} events need {need / 1e9:.0f} GB"
        )
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, {args.folder} ({free / 1e9:.0f} GB free); "
        f"chunks of {CHUNK:,} events; one fresh process per length"
    )
    heads = [
        "events",
        "file GB",
        "write s",
        "read + frames s",
        "frames",
        "after imports MB",
        "after write MB",
        "after read MB",
    ]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for events in lengths:
        with tempfile.TemporaryDirectory(dir=args.folder) as folder:
            child = subprocess.run(
                [sys.executable, __file__, "--one", str(events), "--folder", folder],
                capture_output=True,
                text=True,
                check=True,
            )
        row = json.loads(child.stdout)
        print(
            "| "
            + " | ".join(
                f"{row[h]:,.0f}" if h in ("events", "frames") or h.endswith("MB") else f"{row[h]:.2f}"
                for h in heads
            )
            + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
