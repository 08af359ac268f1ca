"""Benchmark: reading Prophesee EVT 2.0 / 3.0 and DAT, and N-MNIST files, eventcode vs the peers.

Input: ``--events`` (default 5 M and 20 M) deterministic events: a 1280 x 720 sensor for EVT and
DAT (t from 0 in steps of 0..19 us), 34 x 34 for N-MNIST (t uniform in its 23-bit range, sorted).
Each file is written by every installed writer of the format (eventcode, faery, expelliarmus),
then read by eventcode and every installed reader of the format (expelliarmus, faery, Tonic's
``read_mnist_file``), all in this one process, from the page cache. A reader's events are
compared with the input before it is timed; a reader that gets them wrong, or fails on a file,
is reported, not timed.

The readers of a file (and the limit: ``numpy.fromfile`` of the same bytes, no decoding) are
timed in ``--repeat`` interleaved rounds, one read each per round. Each row: median seconds (and
range), Mev/s, and the reader's time over eventcode's, median of the rounds' ratios (and range).
Then the targets of issue 16: reads >= 1.5x the best peer on EVT 2.0, DAT and N-MNIST files,
>= 1x on EVT 3.0; a target inside the range of the rounds is not met.

Run: ``python benchmarks/formats.py [--events 5e6 20e6] [--repeat 5] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import interleaved, spread
from common import verdict as meets

import eventcode
import exporters
from exporters import dat, evt, nmnist

try:
    import faery
except ImportError:  # its rows are left out
    faery = None
try:
    from expelliarmus import Wizard
except ImportError:
    Wizard = None
try:
    import tonic.io
except ImportError:
    tonic = None

Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""t, x, y, p of a reader's events."""

FORMATS = {
    "EVT 2.0": {"size": (1280, 720), "suffix": ".raw", "faery": "evt2", "expelliarmus": "evt2"},
    "EVT 3.0": {"size": (1280, 720), "suffix": ".raw", "faery": "evt3", "expelliarmus": "evt3"},
    "DAT": {"size": (1280, 720), "suffix": ".dat", "faery": "dat2", "expelliarmus": "dat"},
    "N-MNIST": {"size": (34, 34), "suffix": ".bin"},
}
TARGETS = {"EVT 2.0": 1.5, "EVT 3.0": 1.0, "DAT": 1.5, "N-MNIST": 1.5}


def make_events(fmt: str, count: int) -> eventcode.Events:
    rng = np.random.default_rng(0)
    width, height = FORMATS[fmt]["size"]
    if fmt == "N-MNIST":
        t = np.sort(rng.integers(0, 1 << 23, size=count))
    else:
        t = np.concatenate([[0], np.cumsum(rng.integers(0, 20, size=count - 1))])
    x = rng.integers(0, width, size=count).astype(np.int16)
    y = rng.integers(0, height, size=count).astype(np.int16)
    p = rng.integers(0, 2, size=count).astype(bool)
    return eventcode.Events(t, x, y, p, sensor_size=(width, height))


def structured(events: eventcode.Events) -> np.ndarray:
    """The events as the (t, x, y, p) structured array faery and expelliarmus write."""
    array = np.empty(len(events), dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "<u1")])
    array["t"], array["x"], array["y"], array["p"] = (
        c.numpy() for c in (events.t, events.x, events.y, events.p)
    )
    return array


def writers(fmt: str, events: eventcode.Events) -> dict[str, Callable[[Path], object]]:
    ours: dict[str, Callable[[Path], object]] = {
        "EVT 2.0": lambda path: evt.write(path, events, version="2.0"),
        "EVT 3.0": lambda path: evt.write(path, events, version="3.0"),
        "DAT": lambda path: dat.write(path, events),
        "N-MNIST": lambda path: nmnist.write(path, events),
    }
    found = {"eventcode": ours[fmt]}
    spec = FORMATS[fmt]
    if faery is not None and "faery" in spec:
        array = np.empty(len(events), dtype=faery.events_stream.EVENTS_DTYPE)
        array["t"], array["x"], array["y"], array["on"] = events.t, events.x, events.y, events.p
        found["faery"] = lambda path: faery.events_stream_from_array(array, dimensions=spec["size"]).to_file(
            path, version=spec["faery"], zero_t0=False
        )
    if Wizard is not None and "expelliarmus" in spec:
        found["expelliarmus"] = lambda path: Wizard(encoding=spec["expelliarmus"]).save(
            path, structured(events)
        )
    return found


def readers(fmt: str) -> dict[str, Callable[[Path], Columns]]:
    def ours(path: Path) -> Columns:
        sized = fmt != "EVT 3.0"  # files whose header may not give (or may guess) the sensor size
        events = exporters.read(path, **({"sensor_size": FORMATS[fmt]["size"]} if sized else {}))
        return events.t.numpy(), events.x.numpy(), events.y.numpy(), events.p.numpy()

    found: dict[str, Callable[[Path], Columns]] = {"eventcode": ours}
    spec = FORMATS[fmt]
    if Wizard is not None and "expelliarmus" in spec:
        wizard = Wizard(encoding=spec["expelliarmus"])

        def by_expelliarmus(path: Path) -> Columns:
            array = wizard.read(path)
            return array["t"], array["x"], array["y"], array["p"]

        found["expelliarmus"] = by_expelliarmus
    if faery is not None and "faery" in spec:

        def by_faery(path: Path) -> Columns:
            array = faery.events_stream_from_file(path, dimensions_fallback=spec["size"]).to_array()
            return array["t"], array["x"], array["y"], array["on"]

        found["faery"] = by_faery
    if tonic is not None and fmt == "N-MNIST":

        def by_tonic(path: Path) -> Columns:
            array = tonic.io.read_mnist_file(
                str(path), dtype=np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])
            )
            return array["t"], array["x"], array["y"], array["p"]

        found["Tonic read_mnist_file"] = by_tonic
    return found


def same(events: eventcode.Events, columns: Columns) -> bool:
    mine = (events.t.numpy(), events.x.numpy(), events.y.numpy(), events.p.numpy())
    return all(np.array_equal(a, np.asarray(b).astype(a.dtype)) for a, b in zip(mine, columns, strict=True))


def measure(
    fmt: str, path: Path, writer: str, events: eventcode.Events, repeat: int
) -> list[dict[str, object]]:
    """Rows for one file: each reader checked against ``events``, then the correct ones and the
    limit timed in interleaved rounds; each row's ratio is eventcode's over it, round by round."""
    rows: list[dict[str, object]] = []
    base = {"events": len(events), "format": fmt, "file": writer}
    correct: dict[str, Callable[[], object]] = {"limit": lambda: np.fromfile(path, dtype=np.uint8)}
    for reader, read in readers(fmt).items():
        try:
            right = same(events, read(path))
        except Exception as err:  # a peer failing on a file it should read: reported
            message = str(err).replace(f"{path}: ", "").replace(str(path), path.name)
            rows.append({**base, "reader": reader, "error": message[:50]})
            continue
        if right:
            correct[reader] = lambda r=read: r(path)
        else:
            rows.append({**base, "reader": reader, "error": "wrong events"})
    times = interleaved(correct, repeat)
    ours = times.get("eventcode")
    for reader, seconds in times.items():
        ratios = [b / a for a, b in zip(ours, seconds, strict=True)] if ours else []
        rows.append(
            {
                **base,
                "reader": reader,
                "seconds": statistics.median(seconds),
                "spread": spread(seconds),
                "mev_s": len(events) / statistics.median(seconds) / 1e6,
                "ratio": statistics.median(ratios) if ratios else None,
                "ratio_range": (min(ratios), max(ratios)) if ratios else None,
                "ratio_rounds": ratios,
            }
        )
    return rows


def best_peer(by: dict[str, dict[str, object]]) -> tuple[str, dict[str, object]] | None:
    """The fastest correct peer on one file (readers by name), when eventcode was timed too."""
    peers = {k: r for k, r in by.items() if k not in ("eventcode", "limit") and "seconds" in r}
    if not peers or "seconds" not in by.get("eventcode", {}):
        return None
    name = min(peers, key=lambda k: peers[k]["seconds"])
    return name, peers[name]


def verdict(fmt: str, rows: list[dict[str, object]]) -> str | None:
    """The target line of one file: eventcode over the best peer, round by round."""
    by = {str(row["reader"]): row for row in rows}
    found = best_peer(by)
    if found is None:
        return None
    best, row = found
    ratio, (low, high) = row["ratio"], row["ratio_range"]
    target = TARGETS[fmt]
    met = meets(row["ratio_rounds"], target)
    limit = by["limit"]["ratio"]
    return (
        f"{rows[0]['events'] / 1e6:g} M {fmt}, {rows[0]['file']}'s file: {ratio:.2f}x the best peer ({best}; "
        f"rounds {low:.2f}-{high:.2f}), target {target}x: {met}; eventcode at {1 / limit:.2f}x the "
        "time of the limit"
    )


def cell(by: dict[str, dict[str, object]], name: str) -> str:
    """Reader ``name``'s Mev/s on one file, or why it has none."""
    row = by.get(name)
    if row is None:
        return ""
    return f"fails: {row['error']}" if "error" in row else f"{row['mev_s']:.0f}"


def table(rows: list[dict[str, object]]) -> str:
    """One markdown line per file: each reader's Mev/s beside the limit's, eventcode over the best
    peer (median and range of the rounds) and eventcode's time over the limit's."""
    files: dict[tuple[object, ...], dict[str, dict[str, object]]] = {}
    for row in rows:
        files.setdefault((row["events"], row["format"], row["file"]), {})[str(row["reader"])] = row
    lines = [
        "| events | file (writer) | eventcode | expelliarmus | faery | Tonic | limit (fromfile) "
        "| eventcode / best peer (rounds) | eventcode / limit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (count, fmt, writer), by in files.items():
        ratio = limit = ""
        found = best_peer(by)
        if found is not None:
            low, high = found[1]["ratio_range"]
            ratio = f"{found[1]['ratio']:.2f}x ({low:.2f}-{high:.2f})"
            limit = f"{1 / by['limit']['ratio']:.1f}x its time"
        cells = " | ".join(
            cell(by, name)
            for name in ("eventcode", "expelliarmus", "faery", "Tonic read_mnist_file", "limit")
        )
        lines.append(f"| {count / 1e6:g} M | {fmt} ({writer}) | {cells} | {ratio} | {limit} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, nargs="+", default=[5e6, 20e6])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="formats_"))
    rows: list[dict[str, object]] = []
    verdicts: list[str] = []
    for count in (int(n) for n in args.events):
        for fmt, spec in FORMATS.items():
            events = make_events(fmt, count)
            for writer, write in writers(fmt, events).items():
                path = folder / f"{writer}{spec['suffix']}"
                try:
                    write(path)
                except Exception as err:  # a peer refusing what it should take: reported
                    rows.append(
                        {
                            "events": count,
                            "format": fmt,
                            "file": writer,
                            "reader": "(write)",
                            "error": str(err),
                        }
                    )
                    continue
                found = measure(fmt, path, writer, events, args.repeat)
                path.unlink()
                rows += found
                line = verdict(fmt, found)
                if line:
                    verdicts.append(line)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "verdicts": verdicts}, indent=1))
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, median of {args.repeat} "
        "interleaved rounds"
    )
    print(table(rows))
    print()
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    main()
