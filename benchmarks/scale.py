"""Benchmark: whole-dataset conversion on Dask, samples per second with 1 and 2 local workers.

The input: the 10,000 MNIST test digits (``../shared/data/mnist``; the bundled 1,000 when absent)
tiled ``--tile`` times (6: 60,000 samples), ``(image [1, 28, 28] in [0, 1], label)``, rate-coded
at T = 100 (``encode={"code": "rate", "num_steps": 100}``, seed 0) into batched HDF5 shards of
``--shard-size`` samples by ``exporters.dataset.convert``. For each worker count a
``LocalCluster`` of that many single-threaded worker processes is started, warmed (every worker
imports ``exporters.dataset`` and converts a 16-sample dataset), and then ``convert`` is timed
into a fresh folder; cluster start-up and close are timed apart. Each line: samples per second,
events, the output's size, each worker's peak resident set, start-up and close; then the ratio
of 2 workers to 1 (issue 20's target: >= 1.7x on this 2-core machine).

``--overhead``: the per-task cost, from a simulated run of many small shards on 2 workers:
``--overhead-samples`` digits converted as one shard (a sample's work, one worker busy), then in
shards of 16, 4 and 1. With 2 workers a run takes ``(samples * work + shards * overhead) / 2``;
the overhead per task is solved from that.

Run: ``python benchmarks/scale.py [--digits 10000] [--tile 6] [--shard-size 1000] [--workers 1 2]
[--overhead]`` (on its own: not part of ``python -m benchmarks --all``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import torch
from distributed import Client, LocalCluster

from eventcode.datasets import load_mnist
from exporters.dataset import convert

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MNIST = SHARED / "mnist"
RATE = {"code": "rate", "num_steps": 100}


class TiledDigits:
    """``tile`` copies of the digits, one ``(image, label)`` per index: a torchvision-style
    map-style dataset (small to send: the uint8 digits once)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, tile: int) -> None:
        self.images, self.labels, self.tile = images, labels, tile

    def __len__(self) -> int:
        return len(self.images) * self.tile

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        digit = index % len(self.images)
        return self.images[digit, None].float() / 255, int(self.labels[digit])


def digits(count: int, tile: int) -> TiledDigits:
    """The first ``count`` test digits, ``tile`` times."""
    images, labels = load_mnist(MNIST) if (MNIST / "t10k-images-idx3-ubyte.gz").exists() else load_mnist()
    return TiledDigits(images[:count], labels[:count], tile)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_run(dataset: TiledDigits, workers: int, shard_size: int, folder: Path) -> dict[str, float]:
    """Start a cluster of ``workers``, warm it, time one conversion, close it."""
    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.run(__import__, "exporters.dataset")
    warm = TiledDigits(dataset.images[:16], dataset.labels[:16], 1)
    convert(
        warm, folder / f"warm-{workers}", encode=RATE, shard_size=8, seed=0, client=client, progress=False
    )
    started = time.perf_counter() - start
    out = folder / f"out-{workers}"
    summary = convert(dataset, out, encode=RATE, shard_size=shard_size, seed=0, client=client, progress=False)
    peaks = sorted(client.run(_peak_mb).values())
    start = time.perf_counter()
    client.close()
    cluster.close()
    closed = time.perf_counter() - start
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    shutil.rmtree(out)
    return {
        "workers": workers,
        "samples": summary.samples,
        "events": summary.events,
        "seconds": summary.seconds,
        "samples/s": summary.samples / summary.seconds,
        "MB": size / 1e6,
        "peak MB": peaks[-1],
        "start s": started,
        "close s": closed,
    }


def overhead(dataset: TiledDigits, samples: int, folder: Path) -> list[tuple[int, int, float]]:
    """``(shard size, shards, seconds)`` of ``samples`` digits on 2 workers, per shard size."""
    small = TiledDigits(dataset.images[:samples], dataset.labels[:samples], 1)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    client.run(__import__, "exporters.dataset")
    convert(small, folder / "warm", encode=RATE, shard_size=samples, seed=0, client=client, progress=False)
    found = []
    for shard_size in (samples, 16, 4, 1):
        summary = convert(
            small,
            folder / f"overhead-{shard_size}",
            encode=RATE,
            shard_size=shard_size,
            seed=0,
            client=client,
            progress=False,
        )
        found.append((shard_size, summary.shards, summary.seconds))
    client.close()
    cluster.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=10_000, help="test digits (first ones)")
    parser.add_argument("--tile", type=int, default=6, help="copies of the digits")
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--overhead", action="store_true", help="also the per-task overhead")
    parser.add_argument("--overhead-samples", type=int, default=256)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    dataset = digits(args.digits, args.tile)
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; {len(dataset):,} MNIST "
        f"samples, rate T=100, HDF5 shards of {args.shard_size}; one thread a worker; "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    heads = ["workers", "samples", "events", "seconds", "samples/s", "MB", "peak MB", "start s", "close s"]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    rows = []
    with tempfile.TemporaryDirectory(dir=args.folder) as scratch:
        for workers in args.workers:
            row = timed_run(dataset, workers, args.shard_size, Path(scratch))
            rows.append(row)
            print(
                "| "
                + " | ".join(
                    f"{row[h]:,.0f}" if h in ("workers", "samples", "events") else f"{row[h]:.2f}"
                    for h in heads
                )
                + " |",
                flush=True,
            )
        if len(rows) > 1:
            one, most = rows[0], rows[-1]
            ratio = most["samples/s"] / one["samples/s"]
            print(
                f"\n- {most['workers']:.0f} workers: {ratio:.2f}x the samples per second of "
                f"{one['workers']:.0f} (target >= 1.7x for 2 against 1: {'yes' if ratio >= 1.7 else 'NO'})"
            )
        if args.overhead:
            found = overhead(dataset, args.overhead_samples, Path(scratch))
            whole = found[0][2] / args.overhead_samples  # one shard: a sample's work (one worker busy)
            print("\n| shard size | shards | seconds | overhead a task (ms) |\n|---|---|---|---|")
            for shard_size, shards, seconds in found:
                # 2 workers: seconds = (samples * whole + shards * overhead) / 2
                extra = (2 * seconds - whole * args.overhead_samples) / shards if shards > 1 else float("nan")
                print(f"| {shard_size} | {shards} | {seconds:.2f} | {extra * 1e3:.1f} |")


if __name__ == "__main__":
    main()
