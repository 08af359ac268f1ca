"""Benchmark: AEDAT 4.0 reads of everyone's files, eventcode vs aedat, dv-processing and faery,
beside the codec-alone limit.

The events are ``aedat4.py``'s (a DAVIS346 stream: ``make_columns``). Each file is written by
one tool, with one way of cutting the events into packets:

- ``eventcode``: ``aedat4.write`` (65,536-event packets; 4,096 for zstd);
- ``dv-processing (10,000)``, ``(512)``, ``(variable)``: ``MonoCameraWriter.writeEventPacket``
  of consecutive slices of a ``dv.EventStore`` (10,000 events are the packets its own
  ``writeEvents`` makes; ``variable``: sizes log-uniform from 16 to 32,768 events, as a
  camera's packets follow its event rate);
- ``dv-processing (DAVIS: frames, IMU, triggers)``: the variable packets in a DAVIS346 camera's
  file (``DAVISConfig``): a 346 x 260 frame every 33 ms, an IMU sample every ms (packed 8 to a
  packet) and a trigger every 100 ms, written in time order between the event packets;
- ``faery (4,096)``: ``events_stream_from_array(...).to_file`` (its packets hold 4,096 events);
  ``faery (512)``, ``(variable)``: ``faery.aedat.Encoder.write`` of each slice, with the
  description faery's own writer gives.

Each case (size, compression, files) is read by every installed reader into one array (eventcode
``aedat4.read``; ``aedat.Decoder`` packets of the event stream; dv-processing's
``getNextEventBatch`` loop; faery ``events_stream_from_file(...).to_array()``) after a check
that it holds the input events (a reader failing or returning other events is reported, not
timed), and by ``aedat4.read_chunks`` (2^20-event chunks, each dropped). Beside them, the limit:
the codec alone (``lz4.frame`` / ``zstandard``, as the packets are stored) decompressing the
file's event packets, already in memory, split in halves on the two cores (for NONE, a copy of
the packets' bytes). All of these run in ``--repeat`` interleaved rounds (A, B, C, A, B, C, ...).
Files are read from the page cache: the figures measure decoding, not the disk.

Each line: Mev/s of each reader (median of the rounds), eventcode over the best peer (median of
the rounds' ratios, and their range), eventcode as a share of the limit's speed, ``read_chunks``
over ``read``, and for the largest size the peak memory of ``read`` and of ``read_chunks`` (one
call in a fresh process). Issue 17's targets, each line: >= 1.5x the best peer in every round,
>= 50% of the limit; ``read_chunks`` at the speed of ``read`` in bounded memory.

Run: ``python benchmarks/aedat4_files.py [--repeat 5] [--scale 1.0]`` (``--scale`` multiplies
every case's event count, for a quick run).
"""

from __future__ import annotations

import argparse
import itertools
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
    DV_NAMES,
    EC,
    HEIGHT,
    WIDTH,
    dv,
    dv_store,
    ec_events,
    faery,
    faery_array,
    faery_setting,
    faery_write,
    make_columns,
)
from common import interleaved, isolated_peak, peak_rss_bytes, ratio_spread, ratios, verdict

from eventcode import Events
from exporters import aedat4, threads

try:
    import aedat
except ImportError:  # its column is left out
    aedat = None

DEFAULT, SMALL, VARIABLE, DAVIS = "default", "512", "variable", "DAVIS"
CASES: tuple[tuple[int, str | None, tuple[tuple[str, str], ...]], ...] = (
    (
        5_000_000,
        "lz4",
        (
            ("eventcode", DEFAULT),
            ("dv-processing", DEFAULT),
            ("dv-processing", SMALL),
            ("dv-processing", VARIABLE),
            ("dv-processing", DAVIS),
            ("faery", DEFAULT),
            ("faery", SMALL),
            ("faery", VARIABLE),
        ),
    ),
    (
        5_000_000,
        None,
        (("eventcode", DEFAULT), ("dv-processing", DEFAULT), ("faery", DEFAULT), ("dv-processing", SMALL)),
    ),
    (
        5_000_000,
        "zstd",
        (
            ("eventcode", DEFAULT),
            ("dv-processing", DEFAULT),
            ("faery", DEFAULT),
            ("dv-processing", SMALL),
            ("dv-processing", DAVIS),
        ),
    ),
    (2_000_000, "lz4_high", (("eventcode", DEFAULT), ("dv-processing", DEFAULT), ("faery", DEFAULT))),
    (200_000, "zstd_high", (("eventcode", DEFAULT), ("dv-processing", DEFAULT), ("faery", DEFAULT))),
    (2_000_000, "lz4", (("dv-processing", DEFAULT), ("dv-processing", SMALL), ("faery", DEFAULT))),
    (20_000_000, "lz4", (("dv-processing", SMALL), ("faery", DEFAULT))),
)
"""(events, compression, (writer, packets) of each file). ZSTD_HIGH writes run at under 1 Mev/s
for every tool, hence its smaller stream."""
PACKETS = {"dv-processing": "10,000", "faery": "4,096"}
"""Events in the packets of each peer's own writer."""
CHUNKS = "eventcode read_chunks"
FRAME_US, IMU_US, TRIGGER_US, IMU_PER_PACKET = 33_000, 1_000, 100_000, 8


def cuts(count: int, packets: str) -> np.ndarray:
    """Where each packet of ``count`` events starts, and ``count`` last."""
    if packets in (SMALL, DEFAULT):
        return np.append(np.arange(0, count, 512 if packets == SMALL else 10_000), count)
    sizes = np.exp(np.random.default_rng(1).uniform(np.log(16), np.log(32_768), count // 16 + 1))
    ends = np.cumsum(sizes.astype(np.int64))
    return np.concatenate([[0], ends[ends < count], [count]])


def dv_file(store: object, path: str, compression: str | None, packets: str, t: np.ndarray) -> None:
    """The events, sliced into packets, written by dv-processing (with a DAVIS346's other
    streams between them for ``DAVIS``)."""
    kind = getattr(dv.CompressionType, DV_NAMES[compression])
    if packets == DAVIS:
        writer = dv.io.MonoCameraWriter(
            path, dv.io.MonoCameraWriter.DAVISConfig("bench", (WIDTH, HEIGHT), kind)
        )
        writer.setPackagingCount(IMU_PER_PACKET)
    else:
        config = dv.io.MonoCameraWriter.EventOnlyConfig("bench", (WIDTH, HEIGHT), compression=kind)
        writer = dv.io.MonoCameraWriter(path, config)
    image = np.add.outer(np.arange(HEIGHT), np.arange(WIDTH)).astype(np.uint8)
    due = dict.fromkeys((FRAME_US, IMU_US, TRIGGER_US), int(t[0]))
    bounds = cuts(len(t), VARIABLE if packets == DAVIS else packets)
    for a, b in itertools.pairwise(bounds):
        writer.writeEventPacket(store.slice(int(a), int(b - a)).toPacket())
        if packets != DAVIS:
            continue
        last = int(t[b - 1])
        while due[IMU_US] <= last:
            writer.writeImu(dv.IMU(due[IMU_US], 30.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
            due[IMU_US] += IMU_US
        while due[FRAME_US] <= last:
            writer.writeFrame(dv.Frame(due[FRAME_US], image))
            due[FRAME_US] += FRAME_US
        while due[TRIGGER_US] <= last:
            writer.writeTrigger(dv.Trigger(due[TRIGGER_US], dv.TriggerType.EXTERNAL_SIGNAL_RISING_EDGE))
            due[TRIGGER_US] += TRIGGER_US
    del writer  # closes the file, after the writer's I/O thread is done


def faery_file(array: np.ndarray, path: str, compression: str | None, packets: str) -> None:
    """The events written by faery: its own writer (``default``), or its encoder fed each slice."""
    setting = faery_setting(compression)
    if packets == DEFAULT:
        faery_write(array, path, setting)
        return

    def attribute(kind: str, value: str | int) -> faery.aedat.DescriptionAttribute:
        return faery.aedat.DescriptionAttribute(attribute_type=kind, value=value)

    info = faery.aedat.DescriptionNode(
        name="info",
        path="/mainloop/Recorder/outInfo/0/info/",
        attributes={
            "sizeX": attribute("int", WIDTH),
            "sizeY": attribute("int", HEIGHT),
            "source": attribute("string", "faery"),
        },
        nodes=[],
    )
    stream = faery.aedat.DescriptionNode(
        name="0",
        path="/mainloop/Recorder/outInfo/0/",
        attributes={
            "compression": attribute("string", "NONE" if setting is None else setting[0].upper()),
            "originalOutputName": attribute("string", "events"),
            "typeIdentifier": attribute("string", "EVTS"),
        },
        nodes=[info],
    )
    outer = faery.aedat.DescriptionNode(
        name="outInfo", path="/mainloop/Recorder/outInfo/", attributes={}, nodes=[stream]
    )
    bounds = cuts(len(array), packets)
    with faery.aedat.Encoder(path, [outer], setting) as encoder:
        for a, b in itertools.pairwise(bounds):
            encoder.write(0, array[a:b])


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
}


def columns_of(result: object) -> tuple[np.ndarray, ...]:
    """(t, x, y, p) of any reader's result."""
    if isinstance(result, Events):
        return tuple(v.numpy() for v in (result.t, result.x, result.y, result.p))
    names = result.dtype.names
    t, p = ("timestamp", "polarity") if "timestamp" in names else ("t", "on")
    return result[t], result["x"], result["y"], result[p]


def codec_alone(path: str) -> Callable[[], object]:
    """Decompressing the file's event packets, already in memory, in halves on the two cores."""
    with open(path, "rb") as file:
        layout = aedat4._layout(Path(path), file.fileno(), False)  # the packet list, as the reader has it
        events = [packet for packet in layout.packets if packet.stream == layout.event_stream]
        stored = [bytes(aedat4._stored(file.fileno(), layout, packet)) for packet in events]
    if layout.code == 0:
        decompress: Callable[[bytes], object] = bytearray
    elif layout.code in (1, 2):
        decompress = lz4.frame.decompress
    else:
        decompress = zstandard.ZstdDecompressor().decompress  # one context a thread, below
    halves = [stored[: len(stored) // 2], stored[len(stored) // 2 :]]

    def half(blobs: list[bytes]) -> list[object]:
        if layout.code in (3, 4):
            context = zstandard.ZstdDecompressor()
            return [context.decompressobj().decompress(blob) for blob in blobs]
        return [decompress(blob) for blob in blobs]

    return lambda: list(threads.parallel(half, halves))


def read_in_chunks(path: str) -> int:
    return sum(len(chunk) for chunk in aedat4.read_chunks(path))


def same(columns: dict[str, np.ndarray], result: object) -> bool:
    got = columns_of(result)
    return all(
        np.array_equal(columns[name], np.asarray(column).astype(columns[name].dtype))
        for name, column in zip("txyp", got, strict=True)
    )


def label(writer: str, packets: str, compression: str | None) -> str:
    if packets != DEFAULT:
        return f"{writer} ({packets})"
    if writer == "eventcode":
        return f"eventcode ({aedat4.PACKET_EVENTS[aedat4.CODES[compression or 'none']]:,})"
    return f"{writer} ({PACKETS[writer]})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every case's events")
    parser.add_argument("--peak", nargs=2, metavar=("HOW", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process: one call's resident-memory rise
        how, path = args.peak
        print(peak_rss_bytes(lambda: aedat4.read(path) if how == "read" else read_in_chunks(path)))
        return
    readers = {name: read for name, (installed, read) in READERS.items() if installed}
    largest = max(int(count * args.scale) for count, _, _ in CASES)
    everything = make_columns(largest)
    store = dv_store(everything) if dv is not None else None
    array = faery_array(everything)
    folder = Path(tempfile.mkdtemp(prefix="aedat4_files_"))
    heads = ["events", "compression", "file (writer, packets)", *readers, CHUNKS, "limit (codec alone)"]
    heads += ["eventcode / best peer (rounds)", "eventcode / limit", "chunks / read", "peak MB read / chunks"]
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, Mev/s: median of {args.repeat} interleaved rounds"
    )
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    verdicts = []
    for count, compression, files in CASES:
        count = int(count * args.scale)
        columns = {name: column[:count] for name, column in everything.items()}
        for writer, packets in files:
            path = str(folder / "file.aedat4")
            if writer == "eventcode":
                aedat4.write(path, ec_events(columns), compression=compression)
            elif writer == "dv-processing":
                if store is None:
                    continue
                dv_file(store, path, compression, packets, columns["t"])
            elif faery is not None:
                faery_file(array[:count], path, compression, packets)
            else:
                continue
            cells: dict[str, str] = {}
            right: dict[str, Callable[[], object]] = {}
            for reader, read in readers.items():
                try:
                    result = read(path)
                except BaseException as err:  # pyo3 panics are BaseExceptions: reported
                    if isinstance(err, KeyboardInterrupt):
                        raise
                    cells[reader] = f"fails: {str(err)[:40]}"
                    continue
                if same(columns, result):
                    right[reader] = lambda r=read, p=path: r(p)
                else:
                    cells[reader] = "other events"
            right[CHUNKS] = lambda p=path: read_in_chunks(p)
            right["limit"] = codec_alone(path)
            times = interleaved(right, args.repeat)
            for reader, runs in times.items():
                cells[reader] = f"{count / statistics.median(runs) / 1e6:.0f}"
            name = label(writer, packets, compression)
            ratio = share = chunked = peak = ""
            ours = times.get(EC)
            peers = {k: v for k, v in times.items() if k not in (EC, CHUNKS, "limit")}
            if ours and peers:
                best = min(peers, key=lambda k: statistics.median(peers[k]))
                rounds = ratios(peers[best], ours)
                fraction = statistics.median(times["limit"]) / statistics.median(ours)
                ratio = f"{ratio_spread(rounds)} {best}"
                share = f"{fraction:.0%}"
                chunks = statistics.median(ours) / statistics.median(times[CHUNKS])
                chunked = f"{chunks:.2f}x"
                verdicts.append(
                    f"- {count / 1e6:g} M {DV_NAMES[compression]}, {name}: {statistics.median(rounds):.2f}x "
                    f"{best} (target >= 1.5x in every round: {verdict(rounds, 1.5)}); {share} of the limit "
                    f"(target >= 50%: {'yes' if fraction >= 0.5 else 'NO'})"
                )
            if count == largest:
                found = [isolated_peak(__file__, how, path) / 1e6 for how in ("read", "chunks")]
                peak = f"{found[0]:.0f} / {found[1]:.0f}"
            row = [f"{count / 1e6:g} M", DV_NAMES[compression], name, *(cells.get(r, "") for r in readers)]
            row += [cells.get(CHUNKS, ""), cells.get("limit", ""), ratio, share, chunked, peak]
            print("| " + " | ".join(row) + " |", flush=True)
            os.unlink(path)
    print()
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    main()
