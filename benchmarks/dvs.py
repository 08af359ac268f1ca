"""Benchmark: the DVS emulator on a named video, frames per second against real time, beside
``eventcode.delta`` on the same frames (the floor: one threshold test per pixel and frame, no log,
no interpolation).

The video: ``eventcode.dvs.scenes.grating`` (a sinusoidal grating drifting at 60 px/s and turning
at 30 deg/s, its contrast modulated by a fixed random texture; every pixel changes every frame, as
when a camera pans over a textured scene), 0-255 at 30 fps: ``--frames`` frames (60: two seconds
of video) at 346x260 (DAVIS346) and ``--large-frames`` (30: one second) at 1280x720. Two settings
of ``eventcode.dvs.emulate`` (default ``timing="crossing"``, seeded):

- ``noise off``: ``leak_rate_hz=0, shot_noise_rate_hz=0`` (threshold mismatch on);
- ``noise on``: v2e's "noisy" preset's rates, ``leak_rate_hz=0.1, shot_noise_rate_hz=5``.

The floor: ``eventcode.delta(frames / 255, threshold=0.1, off_spike=True)`` on the video as one
sample. Each runs with ``torch.set_num_threads(1)`` (the one-core figure) and with every core, in
``--repeat`` interleaved rounds (emulate, delta, emulate, delta, ...). Each line: frames per
second, times real time (the video's length over the time taken; median and range of the
rounds), events and Mev/s, and the peak memory of one call (resident-set rise in a fresh process
on the CPU, ``torch.cuda.max_memory_allocated`` on a GPU). Issue 18's targets, at 346x260 on one
core: noise off >= 5x real time, noise on >= 2x, in every round.

Run: ``python benchmarks/dvs.py [--repeat 5] [--frames 60] [--large-frames 30] [--device cpu|cuda]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from collections.abc import Callable

import torch
from common import cuda_peak, interleaved, isolated_peaks, peak_rss_bytes, verdict

import eventcode
from eventcode.dvs import emulate, scenes

FPS = 30
SIZES = ((346, 260), (1280, 720))
SETTINGS = {
    "noise off": {"leak_rate_hz": 0.0, "shot_noise_rate_hz": 0.0},
    "noise on": {"leak_rate_hz": 0.1, "shot_noise_rate_hz": 5.0},
}
TARGETS = {"noise off": 5.0, "noise on": 2.0}
"""Times real time at 346x260 on one core (issue 18)."""


def video(width: int, height: int, frames: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, stamps = scenes.grating(width=width, height=height, frames=frames, fps=FPS)
    return images.to(device), stamps


def calls(width: int, height: int, frames: int, device: str) -> dict[str, Callable[[], object]]:
    """Each measured call on this size of the video: the emulator's settings and the floor."""
    images, stamps = video(width, height, frames, device)
    found: dict[str, Callable[[], object]] = {
        f"emulate, {name}": (
            lambda options=options: emulate(images, stamps, seed=0, device=device, **options)  # type: ignore[misc]
        )
        for name, options in SETTINGS.items()
    }
    found["delta (floor)"] = lambda: eventcode.delta(
        (images.float() / 255)[:, None], threshold=0.1, off_spike=True
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--frames", type=int, default=60, help="frames of the 346x260 video")
    parser.add_argument("--large-frames", type=int, default=30, help="frames of the 1280x720 video")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peak", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process: each call's resident-set rise, one after another
        width, height, frames = (int(v) for v in args.peak)
        torch.set_num_threads(1)
        print(
            json.dumps({name: peak_rss_bytes(fn) for name, fn in calls(width, height, frames, "cpu").items()})
        )
        return
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, device {args.device}; "
        f"{FPS} fps video, {args.frames} frames at {SIZES[0][0]}x{SIZES[0][1]}, {args.large_frames} at "
        f"{SIZES[1][0]}x{SIZES[1][1]}; median of {args.repeat} interleaved rounds"
    )
    heads = ["size", "threads", "call", "time (range)", "frames/s", "x real time (rounds)", "events", "Mev/s"]
    heads.append("peak MB")
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    verdicts = []
    threads = [1, os.cpu_count() or 1] if args.device == "cpu" else [1]
    for (width, height), frames in zip(SIZES, (args.frames, args.large_frames), strict=True):
        seconds = frames / FPS
        fns = calls(width, height, frames, args.device)
        counts = {name: len(fn()) for name, fn in fns.items()}  # type: ignore[arg-type]
        if args.device == "cpu":
            peaks = isolated_peaks(__file__, str(width), str(height), str(frames))
        else:
            peaks = {name: cuda_peak(fn) for name, fn in fns.items()}
        for count in threads:
            torch.set_num_threads(count)
            times = interleaved(fns, args.repeat, device=args.device)
            for name, values in times.items():
                factors = [seconds / value for value in values]
                median = statistics.median(values)
                row = [
                    f"{width}x{height}",
                    str(count),
                    name,
                    f"{median:.3f} s ({min(values):.3f}-{max(values):.3f})",
                    f"{frames / median:.0f}",
                    f"{statistics.median(factors):.1f}x ({min(factors):.1f}-{max(factors):.1f})",
                    f"{counts[name]:,}",
                    f"{counts[name] / median / 1e6:.1f}",
                    f"{peaks[name] / 1e6:.0f}",
                ]
                print("| " + " | ".join(row) + " |")
                setting = name.removeprefix("emulate, ")
                if (width, height) == SIZES[0] and count == 1 and setting in TARGETS:
                    verdicts.append(
                        f"- {width}x{height}, one core, {setting}: {statistics.median(factors):.1f}x real "
                        f"time (rounds {min(factors):.1f}-{max(factors):.1f}), target >= "
                        f"{TARGETS[setting]:g}x in every round: {verdict(factors, TARGETS[setting])}"
                    )
    print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
