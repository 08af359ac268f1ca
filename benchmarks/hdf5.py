"""Benchmark: HDF5 writing and reading, eventcode vs a naive h5py baseline, each compression.

Inputs (``--input``):

- ``mnist`` (default): about 20 M events of encoded MNIST: the first ``--digits`` (default 2,150)
  test digits of ``../shared/data/mnist`` (the bundled 1,000 when absent, repeated) rate-coded
  with T = 100 by ``eventcode.rate`` (seeded), a batch of step-time samples;
- ``stream``: one microsecond stream of ``--events`` (default 20 M) events of a real DVXplorer
  recording (``../shared/data/real/aedat4/tonic_sample.aedat4``, 111,954 events over 0.59 s,
  repeated end to end), as a camera file is stored.

Methods:

- eventcode: ``exporters.hdf5.write`` (the batched layout with offsets and the per-step index,
  or DSEC's layout with ``ms_to_idx``) and ``exporters.hdf5.read`` (checked, returning
  ``Events``);
- eventcode Writer: ``exporters.hdf5.Writer`` fed as the CLI feeds it (256 samples, or 2^20
  events of the stream, per ``write``), read back with ``exporters.hdf5.read``;
- naive h5py: ``create_dataset(name, data=column, <same filter>)`` for t, x, y, p and the offsets
  (the ``Events`` columns as they are: int64 t, int16 x, y, bool p; h5py's own choice of layout,
  contiguous when uncompressed), and reading those arrays back with ``dataset[()]`` (no checks,
  no ``Events``).
- plain h5py (same columns), stream input only: the columns exactly as eventcode stores the
  stream (DSEC's dtypes, t after ``t_offset``; made once, not timed) written with
  ``create_dataset(data=..., <same filter>)`` and read with ``dataset[()]``: issue 17's baseline,
  against which the uncompressed write must reach 0.9x and the read (with its checks) 0.8x.

Settings: ``default`` (no ``compression`` argument: what ``write``, ``Writer`` and the CLI do),
then each compression name. Every file is written to a new path (removing old files is not
timed). The writes of all methods run in ``--repeat`` interleaved rounds, then their reads. Each
row: median (and range) of the time, Mev/s, bytes per event on disk, peak memory above the input
(each call in turn in one fresh process per setting, see ``common.isolated_peaks``) and the
baseline's time over the method's, median of the rounds (and range); the baseline is "plain h5py
(same columns)" where it runs, else "naive".
Targets: uncompressed write >= 80 Mev/s and read >= 150 Mev/s; one compressed option
writing >= 30 Mev/s at <= 60% of the uncompressed size.

Run: ``python benchmarks/hdf5.py [--input mnist|stream] [--digits 2150] [--events 20000000]
[--repeat 5] [--settings default none gzip lzf zstd blosc] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import torch
from common import interleaved, isolated_peaks, peak_rss_bytes, ratios, spread, verdict

import eventcode
from eventcode import Events
from eventcode.datasets import load_mnist
from exporters import aedat4, hdf5

SETTINGS = ["default", "none", "gzip", "lzf", "zstd", "blosc"]
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MNIST = SHARED / "mnist"
RECORDING = SHARED / "real" / "aedat4" / "tonic_sample.aedat4"
WRITER_SAMPLES = 256
"""Samples per ``Writer.write``: the CLI's ``encode`` batch."""
WRITER_EVENTS = 1 << 20
"""Events per ``Writer.write`` of one stream: the CLI's ``convert`` chunk."""


def encoded_mnist(digits: int) -> Events:
    images, _ = load_mnist(MNIST) if (MNIST / "t10k-images-idx3-ubyte.gz").exists() else load_mnist()
    images = images.repeat(-(-digits // len(images)), 1, 1)[:digits, None].float() / 255
    return eventcode.rate(images, num_steps=100, generator=torch.Generator().manual_seed(0))


def recorded_stream(events: int) -> Events:
    """The DVXplorer recording repeated end to end (times shifted) up to ``events`` events."""
    recording = aedat4.read(RECORDING)
    t = recording.t.numpy() - int(recording.t[0])
    repeats = -(-events // len(t))
    shifts = np.repeat(np.arange(repeats, dtype=np.int64) * (int(t[-1]) + 1), len(t))
    columns = {name: np.tile(getattr(recording, name).numpy(), repeats)[:events] for name in "xyp"}
    return Events(
        int(recording.t[0]) + np.tile(t, repeats)[:events] + shifts[:events],
        columns["x"],
        columns["y"],
        columns["p"],
        sensor_size=recording.sensor_size[:2],
    )


def load(kind: str, size: int) -> Events:
    return encoded_mnist(size) if kind == "mnist" else recorded_stream(size)


def pieces(events: Events) -> list[Events]:
    """What the CLI hands ``Writer.write``: 256 samples, or 2^20 events of one stream."""
    if events.num_samples > 1:
        return [events[b : b + WRITER_SAMPLES] for b in range(0, events.num_samples, WRITER_SAMPLES)]
    columns = {name: getattr(events, name) for name in "txyp"}
    return [
        Events(*(columns[name][a : a + WRITER_EVENTS] for name in "txyp"), sensor_size=events.sensor_size[:2])
        for a in range(0, len(events), WRITER_EVENTS)
    ]


def options(setting: str) -> dict[str, str]:
    """The ``compression`` argument of a setting: none for the default."""
    return {} if setting == "default" else {"compression": setting}


def writer_write(path: Path, events: Events, parts: list[Events], setting: str) -> None:
    with hdf5.Writer(
        path,
        shape=events.shape,
        batched=events.num_samples > 1,
        num_steps=events.num_steps,
        **options(setting),
    ) as writer:
        for part in parts:
            writer.write(part)


def naive_write(path: Path, events: Events, setting: str) -> None:
    compression = hdf5.DEFAULT_COMPRESSION if setting == "default" else setting
    with h5py.File(path, "w") as file:
        for name in "txyp":
            file.create_dataset(name, data=getattr(events, name).numpy(), **hdf5.filters(compression))
        file.create_dataset("offsets", data=events.offsets.numpy())


def naive_read(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as file:
        return {name: file[name][()] for name in ("t", "x", "y", "p", "offsets")}


def stored_columns(events: Events, folder: Path) -> dict[str, np.ndarray]:
    """The columns as eventcode stores one stream (DSEC's dtypes, t after t_offset), made once."""
    path = folder / "stored.h5"
    hdf5.write(path, events, compression="none")
    with h5py.File(path, "r") as file:
        columns = {name: file[f"events/{name}"][()] for name in "txyp"}
        columns["t_offset"] = np.asarray(file["t_offset"][()])
    path.unlink()
    return columns


def plain_write(path: Path, columns: dict[str, np.ndarray], setting: str) -> None:
    compression = hdf5.DEFAULT_COMPRESSION if setting == "default" else setting
    with h5py.File(path, "w") as file:
        for name in "txyp":
            file.create_dataset(f"events/{name}", data=columns[name], **hdf5.filters(compression))
        file.create_dataset("t_offset", data=columns["t_offset"])


def plain_read(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as file:
        return {name: file[f"events/{name}"][()] for name in "txyp"}


def methods(events: Events, folder: Path, setting: str) -> dict[str, tuple[Callable, Callable]]:
    """name -> (write to a fresh path and return it, read that path)."""
    counter = iter(range(10**9))
    parts = pieces(events)

    def fresh(stem: str) -> Path:
        return folder / f"{stem}_{next(counter)}.h5"

    same: dict[str, tuple[Callable, Callable]] = {}
    if events.num_samples == 1:
        columns = stored_columns(events, folder)
        same["plain h5py (same columns)"] = (
            lambda: (path := fresh("plain"), plain_write(path, columns, setting))[0],
            plain_read,
        )
    return {
        **same,
        "eventcode": (
            lambda: (path := fresh("eventcode"), hdf5.write(path, events, **options(setting)))[0],
            hdf5.read,
        ),
        "eventcode Writer": (
            lambda: (path := fresh("writer"), writer_write(path, events, parts, setting))[0],
            hdf5.read,
        ),
        "naive h5py": (
            lambda: (path := fresh("naive"), naive_write(path, events, setting))[0],
            naive_read,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", choices=["mnist", "stream"], default="mnist")
    parser.add_argument("--digits", type=int, default=2150, help="MNIST digits of the mnist input")
    parser.add_argument("--events", type=int, default=20_000_000, help="events of the stream input")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=SETTINGS)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--peak", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process: each method's write and read, one resident-memory rise after another
        kind, size, setting = args.peak
        events = load(kind, int(size))
        peaks = {}
        with tempfile.TemporaryDirectory() as folder:
            for name, (write, read) in methods(events, Path(folder), setting).items():
                peaks[f"{name}/write"] = peak_rss_bytes(write)
                path = write()
                peaks[f"{name}/read"] = peak_rss_bytes(lambda read=read, path=path: read(path))
        print(json.dumps(peaks))
        return

    size = args.digits if args.input == "mnist" else args.events
    events = load(args.input, size)
    n = len(events)
    source = f"{args.digits} rate-coded MNIST digits (T = 100)" if args.input == "mnist" else RECORDING.name
    print(
        f"# HDF5 benchmark: {platform.machine()}, {torch.get_num_threads()} threads, h5py {h5py.__version__} "
        f"(HDF5 {h5py.version.hdf5_version}), hdf5plugin {hdf5plugin.version}; {n:,} events of {source}; "
        f"default compression {hdf5.DEFAULT_COMPRESSION}"
    )
    columns = ["setting", "operation", "method", "time (range)", "Mev/s", "bytes/event", "peak extra (MB)"]
    print("| " + " | ".join([*columns, "baseline's time / its time (range)"]) + " |")
    print("|" + "---|" * (len(columns) + 1))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for setting in args.settings:
            results = {}
            chosen = methods(events, Path(folder), setting)
            files = {name: write() for name, (write, _) in chosen.items()}  # one file each to read
            for name, (_, read) in chosen.items():
                back = read(files[name])
                if name.startswith("eventcode"):
                    assert back == events, f"{name} read back other events"
                elif name == "naive h5py":
                    assert np.array_equal(back["t"], events.t.numpy()), "naive read back other times"
            writes = interleaved(
                {name: write for name, (write, _) in chosen.items()}, args.repeat, Path.unlink
            )
            reads = interleaved(
                {name: (lambda r=read, f=files[name]: r(f)) for name, (_, read) in chosen.items()},
                args.repeat,
            )
            for name in chosen:
                per_event = files[name].stat().st_size / n
                results[name] = {"write": (writes[name], per_event), "read": (reads[name], per_event)}
            for leftover in Path(folder).glob("*.h5"):
                leftover.unlink()
            peaks = isolated_peaks(__file__, args.input, str(size), setting)
            label = f"default ({hdf5.DEFAULT_COMPRESSION})" if setting == "default" else setting
            baseline = "plain h5py (same columns)" if "plain h5py (same columns)" in results else "naive h5py"
            for operation in ("write", "read"):
                for name, measured in results.items():
                    times, per_event = measured[operation]
                    seconds = statistics.median(times)
                    peak = peaks[f"{name}/{operation}"]
                    rounds = ratios(results[baseline][operation][0], times)
                    row = {
                        "input": args.input,
                        "setting": label,
                        "operation": operation,
                        "method": name,
                        "seconds": seconds,
                        "spread": spread(times),
                        "mev_per_s": n / seconds / 1e6,
                        "bytes_per_event": per_event,
                        "peak_extra_mb": peak / 1e6,
                        "ratio": statistics.median(rounds),
                        "ratio_range": (min(rounds), max(rounds)),
                        "baseline": baseline,
                    }
                    rows.append(row)
                    low, high = row["ratio_range"]
                    cells = [label, operation, name, row["spread"], f"{row['mev_per_s']:.1f}"]
                    cells += [
                        f"{per_event:.2f}",
                        f"{peak / 1e6:.0f}",
                        f"{row['ratio']:.2f}x ({low:.2f}-{high:.2f})",
                    ]
                    print("| " + " | ".join(cells) + " |", flush=True)
    summarize(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def summarize(rows: list[dict[str, object]]) -> None:
    """The targets' verdicts, each setting's speed and size against the uncompressed file."""
    ours = {(r["setting"], r["operation"], r["method"]): r for r in rows if r["method"] != "naive h5py"}
    if ("none", "write", "eventcode") not in ours:
        return
    plain = ours["none", "write", "eventcode"]
    for operation, target in (("write", 0.9), ("read", 0.8)):
        row = ours["none", operation, "eventcode"]
        if row["baseline"] == "plain h5py (same columns)":
            low, high = row["ratio_range"]
            met = verdict([low, high], target)
            print(
                f"- uncompressed {operation}: {row['ratio']:.2f}x the speed of a plain h5py {operation} "
                f"of the same columns (rounds {low:.2f}-{high:.2f}), target >= {target}x: {met}"
            )
    print(
        f"- uncompressed: write {plain['mev_per_s']:.0f} Mev/s (target >= 80), "
        f"read {ours['none', 'read', 'eventcode']['mev_per_s']:.0f} Mev/s (target >= 150)"
    )
    for setting in dict.fromkeys(r["setting"] for r in rows if r["setting"] != "none"):
        write, writer = ours[setting, "write", "eventcode"], ours[setting, "write", "eventcode Writer"]
        read = ours[setting, "read", "eventcode"]
        share = write["bytes_per_event"] / plain["bytes_per_event"]
        passed = "PASS" if write["mev_per_s"] >= 30 and share <= 0.6 else "no"
        print(
            f"- {setting}: write {write['mev_per_s']:.0f} Mev/s, Writer {writer['mev_per_s']:.0f} Mev/s, "
            f"read {read['mev_per_s']:.0f} Mev/s, {write['bytes_per_event']:.2f} bytes/event "
            f"({share:.0%} of uncompressed): {passed}"
        )


if __name__ == "__main__":
    main()
