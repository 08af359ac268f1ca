"""Memory of streams larger than RAM: encode -> write -> read_chunks -> frames and dense windows,
peak RSS flat in the stream's length.

Each length runs in a fresh process. The stream is encoded on the fly, one chunk at a time: a
rate code (``eventcode.rate``, :data:`STEPS` steps) of a random 346x260 frame of spike
probabilities 0-0.2, each chunk's steps placed after the previous chunk's at 1 us a step
(``to_us``). Chunks are written to one AEDAT 4.0 file (zstd) by ``aedat4.Writer`` and read back
by ``aedat4.read_chunks``; each chunk read is turned into frames (``to_frames``, 100 us windows)
and a dense window (``to_steps`` then ``dense`` of its first :data:`WINDOW` steps) and counted. The
line of each length: the events, the file's size, the time of each stage, and the process's peak
resident set (``ru_maxrss``) after each stage. Disk: about 6 bytes an event; the free space is
checked first.

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
"""Events read at a time."""
STEPS = 1100
"""Steps of one encoded chunk: about 9.9 M events (346 x 260 pixels at a mean probability of 0.1)."""
WINDOW = 100
"""Steps of the dense window made of each chunk read."""
COUNTS = ("events", "frames", "dense events")
"""Columns printed as whole numbers."""
BYTES_PER_EVENT = 8
"""Disk an event may take (zstd gives about 6): the free space needed is checked against this."""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_length(events: int, folder: Path) -> dict[str, float]:
    """Generate, write, read and frame ``events`` events in this process: sizes, times, peaks."""
    import torch

    from eventcode import rate, to_frames
    from exporters import aedat4

    found: dict[str, float] = {"events": events, "after imports MB": peak_mb()}
    path = folder / "stream.aedat4"
    generator = torch.Generator().manual_seed(0)
    written, chunk = 0, 0
    start = time.perf_counter()
    with aedat4.Writer(path, sensor_size=(346, 260), compression="zstd") as writer:
        while written < events:
            probabilities = torch.rand(1, 260, 346, generator=generator) * 0.2
            encoded = rate(probabilities, num_steps=STEPS, generator=generator).to_us(1, chunk * STEPS)
            encoded = encoded.time_slice(0, encoded.t[min(len(encoded), events - written) - 1] + 1)
            writer.write(encoded)
            written += len(encoded)
            chunk += 1
    found["write s"], found["after write MB"] = time.perf_counter() - start, peak_mb()
    found["file GB"] = path.stat().st_size / 1e9
    start, counted, frames, dense = time.perf_counter(), 0, 0, 0
    for piece in aedat4.read_chunks(path, CHUNK):
        counted += len(piece)
        frames += len(to_frames(piece, time_window=100))
        first = int(piece.t[0])
        window = piece.time_slice(first, first + WINDOW).to_steps(1, first, num_steps=WINDOW)
        dense += int(window.dense(polarity="on", dtype=torch.uint8).sum())
    found["read + frames s"], found["after read MB"] = time.perf_counter() - start, peak_mb()
    if counted != written:
        raise RuntimeError(f"read {counted} events of {written}")
    found["events"], found["frames"], found["dense events"] = written, frames, dense
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
        "dense events",
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
                f"{row[h]:,.0f}" if h in COUNTS or h.endswith("MB") else f"{row[h]:.2f}" for h in heads
            )
            + " |",
            flush=True,
        )


if __name__ == "__main__":
    main()
