"""Benchmark: HDF5 writing and reading, eventcode vs a naive h5py baseline, each compression.

Input: about 20 M events of encoded MNIST: the first ``--digits`` (default 2,150) test digits of
``../shared/data/mnist`` (the bundled 1,000 when absent, repeated) rate-coded with T = 100 by
``eventcode.rate`` (seeded), a batch of step-time samples.

- eventcode: ``exporters.hdf5.write`` (the batched layout, with offsets and the per-step
  index) and ``exporters.hdf5.read`` (checked, returning ``Events``);
- naive h5py: ``create_dataset(name, data=column, <same filter>)`` for t, x, y, p and the offsets
  (h5py's own choice of layout: contiguous when uncompressed), and reading those arrays back
  with ``dataset[()]`` (no checks, no ``Events``).

Every file is written to a new path (removing old files is not timed). Each row: median of
``--repeat`` runs, Mev/s, bytes per event on disk, peak memory above the input (one call in a
fresh process, see ``common.py``) and eventcode's Mev/s over the baseline's. Targets: uncompressed
write >= 80 Mev/s and read >= 150 Mev/s; one compressed option writing >= 30 Mev/s at <= 60% of
the uncompressed size.

Run: ``python benchmarks/hdf5.py [--digits 2150] [--repeat 5] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import torch
from common import isolated_peak, peak_rss_bytes, timed

import eventcode
from eventcode import Events
from eventcode.datasets import load_mnist
from exporters import hdf5

COMPRESSIONS = [None, "gzip", "lzf", "zstd", "blosc"]
MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def encoded_mnist(digits: int) -> Events:
    images, _ = load_mnist(MNIST) if (MNIST / "t10k-images-idx3-ubyte.gz").exists() else load_mnist()
    images = images.repeat(-(-digits // len(images)), 1, 1)[:digits, None].float() / 255
    return eventcode.rate(images, num_steps=100, generator=torch.Generator().manual_seed(0))


def naive_write(path: Path, events: Events, compression: str | None) -> None:
    with h5py.File(path, "w") as file:
        for name in "txyp":
            file.create_dataset(name, data=getattr(events, name).numpy(), **hdf5.filters(compression))
        file.create_dataset("offsets", data=events.offsets.numpy())


def naive_read(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as file:
        return {name: file[name][()] for name in ("t", "x", "y", "p", "offsets")}


def methods(events: Events, folder: Path, compression: str | None) -> dict[str, tuple[Callable, Callable]]:
    """name -> (write to a fresh path and return it, read that path)."""
    counter = iter(range(10**9))

    def fresh(stem: str) -> Path:
        return folder / f"{stem}_{next(counter)}.h5"

    return {
        "eventcode": (
            lambda: (path := fresh("eventcode"), hdf5.write(path, events, compression=compression))[0],
            hdf5.read,
        ),
        "naive h5py": (
            lambda: (path := fresh("naive"), naive_write(path, events, compression))[0],
            naive_read,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=2150)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--peak", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process: one call's resident-memory rise
        name, operation, digits, compression = args.peak
        events = encoded_mnist(int(digits))
        with tempfile.TemporaryDirectory() as folder:
            write, read = methods(events, Path(folder), None if compression == "none" else compression)[name]
            path = write()
            print(peak_rss_bytes(write if operation == "write" else lambda: read(path)))
        return

    events = encoded_mnist(args.digits)
    n = len(events)
    print(
        f"# HDF5 benchmark: {platform.machine()}, {torch.get_num_threads()} threads, h5py {h5py.__version__} "
        f"(HDF5 {h5py.version.hdf5_version}), hdf5plugin {hdf5plugin.version}; {n:,} events of "
        f"{args.digits} rate-coded MNIST digits (T = 100)"
    )
    columns = ["compression", "operation", "method", "time (s)", "Mev/s", "bytes/event", "peak extra (MB)"]
    print("| " + " | ".join([*columns, "eventcode / naive"]) + " |")
    print("|" + "---|" * (len(columns) + 1))
    rows, sizes = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for compression in COMPRESSIONS:
            results = {}
            for name, (write, read) in methods(events, Path(folder), compression).items():
                seconds, _, path = timed(write, args.repeat)
                size = path.stat().st_size / n
                read_seconds, _, back = timed(lambda path=path, read=read: read(path), args.repeat)
                if name == "eventcode":
                    assert back == events, "eventcode read back other events"
                else:
                    assert np.array_equal(back["t"], events.t.numpy()), "naive read back other times"
                results[name] = {"write": (seconds, size), "read": (read_seconds, size)}
                for leftover in Path(folder).glob("*.h5"):
                    leftover.unlink()
            sizes[compression] = results["eventcode"]["write"][1]
            for operation in ("write", "read"):
                for name, measured in results.items():
                    seconds, size = measured[operation]
                    label = "none" if compression is None else compression
                    peak = isolated_peak(__file__, name, operation, str(args.digits), label)
                    ratio = results["naive h5py"][operation][0] / results["eventcode"][operation][0]
                    row = {
                        "compression": label,
                        "operation": operation,
                        "method": name,
                        "seconds": seconds,
                        "mev_per_s": n / seconds / 1e6,
                        "bytes_per_event": size,
                        "peak_extra_mb": peak / 1e6,
                        "ratio": ratio if name == "eventcode" else 1.0,
                    }
                    rows.append(row)
                    cells = [
                        label,
                        operation,
                        name,
                        f"{seconds:.3f}",
                        f"{row['mev_per_s']:.1f}",
                        f"{size:.2f}",
                    ]
                    print("| " + " | ".join([*cells, f"{peak / 1e6:.0f}", f"{row['ratio']:.2f}x"]) + " |")
    ours = {(r["compression"], r["operation"]): r for r in rows if r["method"] == "eventcode"}
    print(
        f"- uncompressed: write {ours['none', 'write']['mev_per_s']:.0f} Mev/s (target >= 80), "
        f"read {ours['none', 'read']['mev_per_s']:.0f} Mev/s (target >= 150)"
    )
    for compression in COMPRESSIONS[1:]:
        share = sizes[compression] / sizes[None]
        speed = ours[compression, "write"]["mev_per_s"]
        verdict = "PASS" if speed >= 30 and share <= 0.6 else "no"
        print(f"- {compression}: write {speed:.0f} Mev/s at {share:.0%} of the uncompressed size: {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
