"""snnTorch's tutorial 1 (spike encoding) rebuilt with events: the same codes and plots, no dense tensors.

snnTorch's tutorial rate-codes an MNIST digit, plots a raster and an animation, then does the
same for latency and delta coding. Here each code produces address events directly; the plots
read the events; and each result is checked against ``snntorch.spikegen`` (when installed).

Run: ``python examples/tutorial_1.py [--out tutorial_1] [--num-steps 100]``; the pictures land in
``--out`` (rasters as PNG, animations as GIF).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import torch

import eventcode
from eventcode import plot, spikegen
from eventcode.datasets import MNIST

matplotlib.use("Agg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tutorial_1"))
    parser.add_argument("--num-steps", type=int, default=100)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    steps = args.num_steps
    image, label = MNIST()[0]  # a 7, as in the tutorial
    digit = image[None]  # [B = 1, 1, 28, 28]

    # 1. Rate coding: each pixel fires at each step with probability = intensity.
    torch.manual_seed(0)
    rate = eventcode.rate(digit, num_steps=steps, exact=True)
    torch.manual_seed(0)
    print(f"rate: {len(rate)} events; same spikes as snntorch.spikegen.rate: {_same(rate, digit, steps)}")
    _raster(rate, args.out / "rate_raster.png", f"rate-coded {label}")
    plot.save(plot.animate(rate), args.out / "rate.gif", fps=20)

    # 2. Latency coding: one spike per pixel, brighter pixels earlier.
    latency = eventcode.latency(
        digit, num_steps=steps, tau=5, threshold=0.01, linear=True, normalize=True, clip=True
    )
    expected = spikegen.latency(
        digit, num_steps=steps, tau=5, threshold=0.01, linear=True, normalize=True, clip=True
    )
    print(
        f"latency: {len(latency)} events; equals snnTorch's tensor: {torch.equal(latency.dense(), expected)}"
    )
    _raster(latency, args.out / "latency_raster.png", "latency-coded digit")

    # 3. Delta modulation: ON/OFF events where a moving digit changes.
    video = torch.stack([torch.roll(digit, shifts=k // 4, dims=-1) for k in range(steps)])
    delta = eventcode.delta(video, threshold=0.1, off_spike=True)
    print(f"delta: {len(delta)} events ({int(delta.p.sum())} ON, {int((~delta.p).sum())} OFF)")
    _raster(delta, args.out / "delta_raster.png", "delta-modulated moving digit")
    plot.save(plot.animate(delta), args.out / "delta.gif", fps=20)
    figure, _ = plot.frame(delta)
    figure.savefig(args.out / "delta_frame.png", dpi=100)
    dense_bytes = steps * digit.numel() * 4
    for name, events in (("rate", rate), ("latency", latency), ("delta", delta)):
        print(f"{name:>8}: {len(events) * 13 / 1e3:7.1f} kB of events vs {dense_bytes / 1e3:.1f} kB dense")
    print(f"pictures in {args.out}/")


def _same(events: eventcode.Events, digit: torch.Tensor, steps: int) -> bool:
    """Whether snnTorch (or eventcode's drop-in when snnTorch is absent) draws the same spikes."""
    try:
        from snntorch import spikegen as reference
    except ImportError:
        reference = spikegen
    return torch.equal(events.dense(polarity="on"), reference.rate(digit, num_steps=steps))


def _raster(events: eventcode.Events, path: Path, title: str) -> None:
    figure, ax = plot.raster(events)
    ax.set_title(title)
    figure.savefig(path, dpi=100)
    plot.pyplot().close(figure)


if __name__ == "__main__":
    main()
