"""Quickstart: encode real MNIST digits straight to events, and rebuild the dense tensors.

Encodes the bundled MNIST test digits with eventcode's rate, latency and delta encoders (the
snnTorch ``spikegen`` codes, emitted as address events), prints how many events each gives and
how much smaller they are than the dense ``[T, B, 1, 28, 28]`` float32 tensor snnTorch builds,
then densifies each back and checks it against the dense drop-in ``eventcode.spikegen`` and
``Events.from_dense``.

Run: ``python examples/quickstart.py [--num-steps 100] [--batch 256]``
"""

from __future__ import annotations

import argparse
import time

import torch

import eventcode
from eventcode import spikegen
from eventcode.datasets import load_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-steps", type=int, default=100, help="time steps T (default 100)")
    parser.add_argument("--batch", type=int, default=256, help="digits to encode (default 256, max 1000)")
    args = parser.parse_args()
    steps = args.num_steps

    images, labels = load_mnist()  # bundled: first 1,000 MNIST test digits
    digits = images[: args.batch, None].float() / 255  # [B, 1, 28, 28] in [0, 1]
    video = torch.stack([torch.roll(digits, shifts=k, dims=-1) for k in range(steps)])  # moving digits
    dense_mb = steps * digits.numel() * 4 / 1e6
    print(f"digits: {digits.shape[0]} (labels {labels[:10].tolist()} ...), T = {steps}")
    print(f"a dense [T, B, 1, 28, 28] float32 spike tensor: {dense_mb:.1f} MB\n")

    codes = {
        "rate": (lambda: eventcode.rate(digits, steps, exact=True), lambda: spikegen.rate(digits, steps)),
        "latency": (
            lambda: eventcode.latency(digits, steps, normalize=True, linear=True),
            lambda: spikegen.latency(digits, steps, normalize=True, linear=True),
        ),
        "delta": (
            lambda: eventcode.delta(video, threshold=0.1, off_spike=True),
            lambda: spikegen.delta(video, threshold=0.1, off_spike=True),
        ),
    }
    print(f"{'code':8} {'events':>10} {'MB':>7} {'smaller':>8} {'encode ms':>10} {'densify ms':>11}  exact")
    exact_everywhere = True
    for name, (encode, dense_reference) in codes.items():
        torch.manual_seed(0)
        start = time.perf_counter()
        events = encode()
        encoded = time.perf_counter() - start
        start = time.perf_counter()
        spikes = events.dense()
        densified = time.perf_counter() - start
        torch.manual_seed(0)
        exact = torch.equal(spikes, dense_reference()) and eventcode.Events.from_dense(spikes) == events
        exact_everywhere &= exact
        size = len(events) * 13 / 1e6  # t (8 bytes), x, y (2 each), p (1)
        print(
            f"{name:8} {len(events):>10,} {size:>7.1f} {dense_mb / size:>7.1f}x "
            f"{encoded * 1e3:>10.1f} {densified * 1e3:>11.1f}  {exact}"
        )
    first = eventcode.rate(digits[:1], steps).to_numpy()
    print(f"\ndigit 0 as a Tonic event array: {len(first)} events, dtype {first.dtype}")
    if not exact_everywhere:
        raise SystemExit("a densified tensor differs from spikegen's")


if __name__ == "__main__":
    main()
