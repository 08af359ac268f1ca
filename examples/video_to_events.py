"""Emulate a DVS camera on a synthetic video: frames -> microsecond ON/OFF events -> AEDAT 4.0 -> pictures.

The video is DAVIS346-sized (346 x 260), 1 s at 200 fps (``eventcode.dvs.scenes``): an edge
moving right on the left half (bright behind it, dark ahead) and a bar turning half a turn on the
right half. ``eventcode.dvs.emulate`` turns it into events as an event camera's pixels would fire
them (v2e's pixel model, threshold crossings interpolated to the microsecond), which are written
as AEDAT 4.0, read back with iniVation's dv-processing and compared, and drawn: the events of a
20 ms window as a picture, and all of them as a GIF. ``--video`` emulates a video file instead (the
``video`` extra: ``pip install "eventcode[video]"``).

Run: ``python examples/video_to_events.py [--out video_to_events] [--fps 200] [--seconds 1]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch

import eventcode
from eventcode import plot
from eventcode.dvs import emulate, scenes
from exporters import aedat4

matplotlib.use("Agg")

WIDTH, HEIGHT = 346, 260
"""DAVIS346's pixels."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("video_to_events"))
    parser.add_argument("--fps", type=float, default=200.0, help="frame rate of the synthetic video")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of the synthetic video")
    parser.add_argument("--video", type=Path, help="a video file or folder of images to emulate instead")
    parser.add_argument("--window-ms", type=float, default=20.0, help="time the picture accumulates")
    parser.add_argument("--gif-frames", type=int, default=50, help="time bins of the animation")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    if args.video is None:
        frames, stamps = synthetic_video(args.fps, args.seconds)
        print(
            f"video: {len(frames)} frames of {WIDTH}x{HEIGHT} at {args.fps:g} fps, moving edge | rotating bar"
        )
        events = emulate(frames, stamps, seed=0)
    else:
        print(f"video: {args.video}")
        events = emulate(args.video, seed=0)
    seconds = (int(events.t[-1]) - int(events.t[0])) / 1e6 if len(events) else 0.0
    on = int(events.p.sum())
    rate = len(events) / max(seconds, 1e-6) / 1e6
    print(
        f"events: {len(events):,} ({on:,} ON, {len(events) - on:,} OFF) over {seconds:.3f} s, "
        f"{rate:.2f} M events/s (video to events in {time.perf_counter() - start:.1f} s)"
    )

    path = args.out / "dvs.aedat4"
    aedat4.write(path, events)
    size = path.stat().st_size
    print(f"{path.name}: {size / 1e6:.2f} MB, {size / max(len(events), 1):.1f} bytes an event (lz4)")
    if aedat4.read(path) != events:
        raise SystemExit("the AEDAT 4.0 file did not read back equal")
    check_with_dv_processing(path, events)

    # The picture: the events of one short window, ON red and OFF blue.
    t0 = int(events.t[0]) + round(0.3 * seconds * 1e6)
    t1 = t0 + round(args.window_ms * 1e3)
    window = events.time_slice(t0, t1)
    kinds = f"{len(window):,} events ({int(window.p.sum()):,} ON, {len(window) - int(window.p.sum()):,} OFF)"
    title = f"emulated DVS, {args.window_ms:g} ms from t = {t0 / 1e3:.0f} ms\n{kinds}"
    figure, _ = plot.frame(window, mode="count", title=title)
    figure.savefig(args.out / "dvs_frame.png", dpi=100)
    plot.pyplot().close(figure)
    # The animation: all events in equal time bins, one colour scale for every frame.
    movie = plot.animate(events, n_time_bins=args.gif_frames, title="emulated DVS events per pixel")
    plot.save(movie, args.out / "dvs.gif", fps=20)
    plot.pyplot().close("all")
    print(f"pictures: {args.out / 'dvs_frame.png'}, {args.out / 'dvs.gif'}")


def synthetic_video(fps: float, seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``[T, 260, 346]`` uint8 frames and their microsecond times: an edge crossing the left half
    and a bar turning 180 degrees a second in a square in the middle of the right half."""
    count = round(seconds * fps) + 1
    half = WIDTH // 2
    edge, stamps = scenes.moving_edge(width=half, height=HEIGHT, frames=count, fps=fps, speed_px_s=140)
    bar, _ = scenes.rotating_bar(
        width=WIDTH - half, height=WIDTH - half, frames=count, fps=fps, turn_deg_s=180
    )
    right = torch.full((count, HEIGHT, WIDTH - half), 30, dtype=torch.uint8)  # the bar's background
    top = (HEIGHT - bar.shape[1]) // 2
    right[:, top : top + bar.shape[1]] = bar
    return torch.cat([edge, right], dim=2), stamps


def check_with_dv_processing(path: Path, events: eventcode.Events) -> None:
    """Read the file with dv-processing, batch by batch, and compare it with the events written."""
    try:
        import dv_processing as dv
    except ImportError:
        print("dv-processing is not installed (pip install dv-processing): its check is skipped")
        return
    recording = dv.io.MonoCameraRecording(str(path))
    batches = []
    while (batch := recording.getNextEventBatch()) is not None:
        batches.append(batch.numpy())
    read = np.concatenate(batches)
    t = read["timestamp"]
    written = {"timestamp": events.t, "x": events.x, "y": events.y, "polarity": events.p}
    same_count = len(read) == len(events)
    same_ends = same_count and (int(t[0]), int(t[-1])) == (int(events.t[0]), int(events.t[-1]))
    same = same_count and all(
        np.array_equal(read[name], column.numpy().astype(read[name].dtype))
        for name, column in written.items()
    )
    print(
        f"dv-processing reads {len(read):,} events, t = {int(t[0])} to {int(t[-1])} us: same count "
        f"{same_count}, same first/last time {same_ends}, every event equal {same}"
    )
    if not same:
        raise SystemExit("dv-processing read other events than those written")


if __name__ == "__main__":
    main()
