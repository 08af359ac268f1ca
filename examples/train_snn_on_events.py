"""Train a spiking network (snnTorch) on event-encoded MNIST, densifying each batch on the device.

The pipeline a training loop needs, end to end:

1. ``MNIST`` digits (``../shared/data/mnist`` when present, else the bundled 1,000), split
   80/20 with ``valid_split``;
2. ``EncodedDataset`` rate-codes each digit into events (seeded per sample, so every DataLoader
   worker and every epoch sees reproducible streams);
3. ``DataLoader(..., collate_fn=eventcode.collate)`` batches them into one ``Events``;
4. the loop moves the batch to the device and densifies it there (``events.to(device).dense()``,
   ``[T, B, 1, 28, 28]``), then runs a two-layer leaky integrate-and-fire network over T.

Run: ``python examples/train_snn_on_events.py [--epochs 1] [--num-steps 25] [--device cpu]``
(45-50 s wall on this project's 2-core CPU for the 10,000-digit set, 91.6% test accuracy; see
the README for the command and what changes it);
``--smoke`` trains a few batches and checks that the loss falls (what CI runs).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import snntorch as snn
import torch
from torch import nn
from torch.utils.data import DataLoader

import eventcode
from eventcode.datasets import MNIST, EncodedDataset, valid_split
from eventcode.transforms import Encode

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


class Network(nn.Module):
    """784 -> 128 -> 10 leaky integrate-and-fire neurons (snnTorch), run over the time steps."""

    def __init__(self, beta: float = 0.9) -> None:
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(28 * 28, 128), snn.Leaky(beta=beta)
        self.fc2, self.lif2 = nn.Linear(128, 10), snn.Leaky(beta=beta)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """Spike counts ``[B, 10]`` of the output layer for input spikes ``[T, B, 1, 28, 28]``."""
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        counts = 0
        for step in spikes.flatten(2):
            out1, mem1 = self.lif1(self.fc1(step), mem1)
            out2, mem2 = self.lif2(self.fc2(out1), mem2)
            counts = counts + out2
        return counts


def loaders(num_steps: int, batch: int, workers: int) -> tuple[DataLoader, DataLoader]:
    root = SHARED_MNIST if (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists() else None
    train, test = valid_split(MNIST(root), MNIST(root), split=0.2, seed=0)
    encode = Encode("rate", num_steps=num_steps)
    options = {"batch_size": batch, "collate_fn": eventcode.collate, "num_workers": workers}
    return (
        DataLoader(EncodedDataset(train, encode, seed=0), shuffle=True, **options),
        DataLoader(EncodedDataset(test, encode, seed=1), **options),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--num-steps", type=int, default=25)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads of the training process (default: the cores the DataLoader workers leave, "
        "at least 1; two workers and two training threads on two cores run 3x slower)",
    )
    parser.add_argument("--smoke", action="store_true", help="a few batches; exit 1 unless the loss falls")
    args = parser.parse_args()
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) - args.workers))
    torch.manual_seed(0)
    train, test = loaders(args.num_steps, args.batch, args.workers)
    model = Network().to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses, start = [], time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        for batch, (events, targets) in enumerate(train):
            spikes = events.to(args.device, non_blocking=True).dense()  # densified on the device
            loss = nn.functional.cross_entropy(model(spikes), targets.to(args.device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if batch % 10 == 0:
                elapsed = time.perf_counter() - start
                print(f"epoch {epoch} batch {batch:3d}: loss {loss.item():.3f} ({elapsed:.0f} s)")
            if args.smoke and batch == 14:
                break
        if args.smoke:
            first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
            print(f"smoke: loss {first:.3f} -> {last:.3f}")
            raise SystemExit(0 if last < first else 1)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for events, targets in test:
            predicted = model(events.to(args.device).dense()).argmax(1).cpu()
            correct += int((predicted == targets).sum())
            total += len(targets)
    print(f"test accuracy: {correct / total:.1%} on {total} digits ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
