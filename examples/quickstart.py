"""Quickstart: dense spikes -> events -> dense spikes on real MNIST digits.

Rate-codes the bundled MNIST test digits by hand (one Bernoulli draw per pixel and step, as
snnTorch's ``spikegen.rate`` does), turns the dense ``[T, B, 1, 28, 28]`` tensor into events,
rebuilds the dense tensor from the events, and prints how much smaller the events are.

Run: ``python examples/quickstart.py [--num-steps 100] [--batch 256]``
"""

from __future__ import annotations

import argparse
import time

import torch

import eventcode
from eventcode.datasets import load_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-steps", type=int, default=100, help="time steps T (default 100)")
    parser.add_argument("--batch", type=int, default=256, help="digits to encode (default 256, max 1000)")
    args = parser.parse_args()

    images, labels = load_mnist()  # bundled: first 1,000 MNIST test digits
    data = images[: args.batch, None].float() / 255  # [B, 1, 28, 28] in [0, 1]
    generator = torch.Generator().manual_seed(0)
    spikes = (torch.rand((args.num_steps, *data.shape), generator=generator) < data).float()

    start = time.perf_counter()
    events = eventcode.Events.from_dense(spikes)  # [T, B, 1, 28, 28] -> AER
    to_events = time.perf_counter() - start
    start = time.perf_counter()
    rebuilt = events.dense()  # AER -> [T, B, 1, 28, 28]
    to_dense = time.perf_counter() - start

    dense_bytes = spikes.numel() * spikes.element_size()
    event_bytes = sum(col.numel() * col.element_size() for col in (events.t, events.x, events.y, events.p))
    first = events.to_numpy(sample=0)
    print(f"digits            : {data.shape[0]} (labels {labels[:10].tolist()} ...)")
    print(f"dense spikes      : {list(spikes.shape)} float32, {dense_bytes / 1e6:.1f} MB")
    print(f"events            : {events}")
    print(f"event columns     : {event_bytes / 1e6:.1f} MB ({dense_bytes / event_bytes:.1f}x smaller)")
    print(f"digit 0 as Tonic  : {len(first)} events, dtype {first.dtype}")
    print(f"dense -> events   : {to_events * 1e3:.1f} ms; events -> dense: {to_dense * 1e3:.1f} ms")
    print(f"round trip exact  : {torch.equal(rebuilt, spikes)}")
    if not torch.equal(rebuilt, spikes):
        raise SystemExit("round trip failed")


if __name__ == "__main__":
    main()
