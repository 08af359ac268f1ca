"""Benchmark: AEDAT 4.0 reads of everyone's files, eventcode vs aedat, dv-processing and faery,
beside the codec-alone limit.

For each compression (``--compressions``, default lz4 zstd none), the same ``--events`` events
(``aedat4.py``'s recipe: a DAVIS346 stream) are written by eventcode (65,536-event packets),
dv-processing (10,000) and faery (4,096). Each file is read to one array by every installed
reader (eventcode ``aedat4.read``; ``aedat``; dv-processing's ``getNextEventBatch`` loop; faery
``to_array``) after a check that it holds the input events, in ``--repeat`` interleaved rounds.
Beside them, the limit: the codec alone (``lz4.frame.decompress`` / zstandard) on that file's
packets, already in memory, on all cores (for NONE, a copy of the packets' bytes).

Each line: Mev/s of each reader and of the limit, eventcode over the best peer (median and range
of the rounds) and eventcode's speed as a share of the limit. Issue 17's targets: >= 1.5x the best
peer, >= 50% of the limit.

Run: ``python benchmarks/aedat4_files.py [--events 5e6] [--repeat 5] [--compressions lz4 zstd none]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import lz4.frame
import numpy as np
import zstandard
from aedat4 import (
    EC,
    FAERY,
    READERS,
    columns_of,
    dv,
    dv_store,
    dv_write,
    ec_events,
    faery,
    faery_array,
    faery_write,
    make_columns,
)
from common import interleaved

from exporters import aedat4, threads


def writers(compression: str | None, columns: dict[str, np.ndarray]) -> dict[str, Callable[[str], object]]:
    found: dict[str, Callable[[str], object]] = {
        EC: lambda path: aedat4.write(path, ec_events(columns), compression=compression)
    }
    if dv is not None:
        store = dv_store(columns)
        found["dv-processing"] = lambda path: dv_write(store, path, compression)
    if faery is not None:
        array = faery_array(columns)
        found["faery"] = lambda path: faery_write(array, path, FAERY[compression])
    return found


def codec_alone(path: str) -> Callable[[], object]:
    """Decompressing the file's event packets, already in memory, on all cores (the limit)."""
    with open(path, "rb") as file:
        layout = aedat4._layout(Path(path), file.fileno(), False)  # the packet list, as the reader has it
        stored = [bytes(aedat4._stored(file.fileno(), layout, packet)) for packet in layout.packets]
    code = layout.code
    if code == 0:
        return lambda: [bytearray(blob) for blob in stored]
    if code in (1, 2):
        return lambda: list(threads.parallel(lz4.frame.decompress, stored))

    def zstd(blob: bytes) -> bytes:
        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)

    return lambda: list(threads.parallel(zstd, stored))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=5e6)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compressions", nargs="+", default=["lz4", "zstd", "none"])
    args = parser.parse_args()
    count = int(args.events)
    columns = make_columns(count)
    expected = tuple(columns[name] for name in "txyp")
    readers = {name: read for name, (installed, read) in READERS.items() if installed and name != "tonic"}
    folder = Path(tempfile.mkdtemp(prefix="aedat4_files_"))
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, {count:,} events, median of {args.repeat} "
        "interleaved rounds"
    )
    print(
        "| compression | file (writer) | packets | "
        + " | ".join(readers)
        + " | limit (codec alone) | eventcode / best peer (rounds) | eventcode / limit |"
    )
    print("|" + "---|" * (len(readers) + 6))
    for name in args.compressions:
        compression = None if name == "none" else name
        for writer, write in writers(compression, columns).items():
            path = str(folder / f"{writer.split()[0]}.aedat4")
            write(path)
            right: dict[str, Callable[[], object]] = {}
            cells = {}
            for reader, read in readers.items():
                try:
                    got = columns_of(read(path))
                    same = all(
                        np.array_equal(a, np.asarray(b).astype(a.dtype))
                        for a, b in zip(expected, got, strict=True)
                    )
                except Exception as err:  # a reader failing on a file it should read: reported
                    cells[reader] = f"fails: {str(err)[:40]}"
                    continue
                if same:
                    right[reader] = lambda r=read, p=path: r(p)
                else:
                    cells[reader] = "wrong events"
            right["limit"] = codec_alone(path)
            times = interleaved(right, args.repeat)
            for reader, runs in times.items():
                cells[reader] = f"{count / statistics.median(runs) / 1e6:.0f}"
            ours = times.get(EC)
            peers = {k: v for k, v in times.items() if k not in (EC, "limit")}
            ratio = share = ""
            if ours and peers:
                best = min(peers, key=lambda k: statistics.median(peers[k]))
                rounds = [b / a for a, b in zip(ours, peers[best], strict=True)]
                ratio = f"{statistics.median(rounds):.2f}x ({min(rounds):.2f}-{max(rounds):.2f}) {best}"
                share = f"{statistics.median(times['limit']) / statistics.median(ours):.0%}"
            with open(path, "rb") as file:
                packets = len(aedat4._layout(Path(path), file.fileno(), False).packets)
            print(
                f"| {name} | {writer} | {packets} | "
                + " | ".join(cells.get(reader, "") for reader in readers)
                + f" | {cells['limit']} | {ratio} | {share} |",
                flush=True,
            )
            os.unlink(path)


if __name__ == "__main__":
    main()
