"""Benchmark: 2 M events -> 100 event frames on a 346 x 260 sensor, eventcode vs Tonic vs numpy.

Input: ``--events`` random events (default 2 M) of one DAVIS346-sized recording (``(W, H) = (346,
260)``), uniform in ``[0, 10 s)`` with the first at 0 and the last at 9,999,999 us, half ON. Two
slicings into 100 frames: ``time_window = 100 ms`` and ``n_time_bins = 100``.

Methods, on the same events in the same process:

- ``eventcode``: :func:`eventcode.frames.to_frames`, default mode (int32, no event lost);
- ``eventcode tonic_compat``: the same with ``tonic_compat=True`` (Tonic's numbers, int16);
- ``tonic ToFrame``: ``tonic.transforms.ToFrame(sensor_size, ...)`` on the Tonic structured array
  (its defaults: ``include_incomplete=False``);
- ``numpy bincount``: the hand-written path: frame index by integer arithmetic on ``t``, flat index,
  one ``np.bincount`` (int64 output), reshaped.

Before timing, the script checks that eventcode's default frames equal the bincount path and its
compat frames equal Tonic's. Each row: median time of ``--repeat`` runs, million events per
second, peak memory above the inputs (one call in a fresh process, see ``common.py``), the output
size, the number of events the method leaves out of every frame, and the method's time divided by
eventcode's (default mode).

Run: ``python benchmarks/frames.py [--events 2e6] [--repeat 7] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable

import numpy as np
import torch
from common import isolated_peak, peak_rss_bytes, timed

from eventcode import Events
from eventcode.frames import to_frames

WIDTH, HEIGHT, FRAMES, DURATION_US = 346, 260, 100, 10_000_000
MODES = {"time_window": DURATION_US // FRAMES, "n_time_bins": FRAMES}


def make_events(num_events: int) -> Events:
    """Random events of one 10 s recording, sorted by time, from t = 0 to t = 9,999,999 us."""
    rng = np.random.default_rng(0)
    t = np.sort(rng.integers(0, DURATION_US, num_events))
    t[0], t[-1] = 0, DURATION_US - 1
    x = rng.integers(0, WIDTH, num_events)
    y = rng.integers(0, HEIGHT, num_events)
    return Events(t, x, y, rng.random(num_events) < 0.5, sensor_size=(WIDTH, HEIGHT))


def inputs(events: Events) -> dict[str, object]:
    """What each method starts from: our Events, Tonic's structured array, plain numpy columns."""
    columns = {k: getattr(events, k).numpy() for k in "txyp"}
    return {"events": events, "tonic": events.to_numpy(), "columns": columns}


def numpy_bincount(columns: dict[str, np.ndarray], mode: str) -> np.ndarray:
    t, p = columns["t"], columns["p"]
    elapsed = t - t[0]
    if mode == "time_window":
        frame = elapsed // MODES[mode]
        frames = int(frame[-1]) + 1
    else:
        frame = elapsed * FRAMES // (int(elapsed[-1]) + 1)
        frames = FRAMES
    flat = ((frame * 2 + p) * HEIGHT + columns["y"]) * WIDTH + columns["x"]
    return np.bincount(flat, minlength=frames * 2 * HEIGHT * WIDTH).reshape(frames, 2, HEIGHT, WIDTH)


def methods(data: dict[str, object], mode: str) -> dict[str, Callable[[], object]]:
    import tonic

    kwargs = {mode: MODES[mode]}
    to_frame = tonic.transforms.ToFrame(sensor_size=(WIDTH, HEIGHT, 2), **kwargs)
    events = data["events"]
    return {
        "eventcode": lambda: to_frames(events, **kwargs),  # type: ignore[arg-type]
        "eventcode tonic_compat": lambda: to_frames(events, tonic_compat=True, **kwargs),  # type: ignore[arg-type]
        "tonic ToFrame": lambda: to_frame(data["tonic"]),
        "numpy bincount": lambda: numpy_bincount(data["columns"], mode),  # type: ignore[arg-type]
    }


def as_numpy(frames: object) -> np.ndarray:
    return frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)


def check_agreement(data: dict[str, object], mode: str) -> None:
    calls = methods(data, mode)
    ours, compat = as_numpy(calls["eventcode"]()), as_numpy(calls["eventcode tonic_compat"]())
    if not np.array_equal(ours, as_numpy(calls["numpy bincount"]())):
        raise AssertionError(f"{mode}: eventcode disagrees with the numpy bincount path")
    theirs = as_numpy(calls["tonic ToFrame"]())
    if compat.dtype != theirs.dtype or not np.array_equal(compat, theirs):
        raise AssertionError(f"{mode}: eventcode tonic_compat disagrees with tonic ToFrame")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=2e6)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--peak", nargs=3, metavar=("MODE", "METHOD", "EVENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process of isolated_peak(): one call, its resident-memory rise
        mode, name, n = args.peak
        call = methods(inputs(make_events(int(n))), mode)[name]
        print(peak_rss_bytes(call))
        return

    import tonic

    n = int(args.events)
    data = inputs(make_events(n))
    print(
        f"# frames benchmark: {platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, numpy {np.__version__}, tonic {tonic.__version__}; "
        f"{n / 1e6:g} M events, {WIDTH}x{HEIGHT} sensor, {DURATION_US / 1e6:g} s"
    )
    columns = ["slicing", "method", "frames", "time (s)", "Mev/s", "peak extra (MB)", "output (MB)"]
    columns += ["events dropped", "time / eventcode's"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    rows = []
    for mode, value in MODES.items():
        check_agreement(data, mode)
        measured = {}
        for name, call in methods(data, mode).items():
            seconds, _, frames = timed(call, args.repeat)
            array = as_numpy(frames)
            counted = int(array.sum(dtype=np.int64))  # no overlap: each event counted at most once
            measured[name] = (seconds, len(array), array.nbytes, n - counted)
            del frames, array
        for name, (seconds, frames, nbytes, dropped) in measured.items():
            peak = isolated_peak(__file__, mode, name, str(n))
            row = {
                "slicing": f"{mode}={value}",
                "method": name,
                "frames": frames,
                "seconds": seconds,
                "mev_per_s": n / seconds / 1e6,
                "peak_extra_mb": peak / 1e6,
                "output_mb": nbytes / 1e6,
                "dropped": dropped,
                "ratio": seconds / measured["eventcode"][0],
            }
            rows.append(row)
            cells = [row["slicing"], name, str(frames), f"{seconds:.4f}", f"{row['mev_per_s']:.0f}"]
            cells += [f"{row['peak_extra_mb']:.0f}", f"{row['output_mb']:.0f}", f"{dropped:,}"]
            print("| " + " | ".join([*cells, f"{row['ratio']:.2f}x"]) + " |")
    print(f"# input: {n * 13 / 1e6:.0f} MB of event columns (13 B/event), the same in Tonic's array")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
