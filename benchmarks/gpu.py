"""Benchmark on one device: B MNIST digits through eventcode and through snnTorch, one table.

Rows, all on ``--device`` with ``--batch`` digits (T = 100):

- **encode** (rate, latency, delta): eventcode's encoder to events vs snnTorch's ``spikegen``
  to its dense tensor (the cases of ``encoders.py``, without snnTorch's ``nonzero``);
- **densify**: the rate events back to the dense ``[T, B, 1, 28, 28]`` float32 (snnTorch's
  output, bit for bit) vs ``spikegen.rate`` making it directly;
- **frames**: ``to_frames`` of the delta events of 100 of the moving digits, 10 frames each;
- **DataLoader**: one epoch of an ``EncodedDataset`` of the digits through a ``DataLoader``
  (``collate``, ``pin_memory`` where the device is CUDA, 2 workers) moved to the device and
  densified, batch 256; the snnTorch path encodes each batch on the device with ``spikegen.rate``.

Beside them, the limit: writing the output's bytes to fresh device memory
(``torch.empty(...).fill_(1)``): the event bytes (13 an event) for the encoders, the dense tensor
for densify, the frames for ``to_frames``. Each row's calls (eventcode, snnTorch, the limit) run in
``--repeat`` interleaved rounds (synchronized on CUDA); times are medians (and ranges), the ratio
is snnTorch's time over eventcode's (and eventcode's over the limit's), median (and range) of
the rounds' ratios. Memory is ``torch.cuda.max_memory_allocated`` above the inputs, on CUDA only
(the CPU peaks, measured in a fresh process, are in ``encoders.py`` and ``densify.py``).

Run: ``python benchmarks/gpu.py [--device cuda] [--batch 10000] [--repeat 5]``; ``gpu.sh`` runs it
after the CUDA tests.
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable
from pathlib import Path

import snntorch.spikegen as snn
import torch
from common import cuda_peak, interleaved, ratio_spread, ratios, spread
from encoders import DEFAULT_MNIST, EVENT_BYTES, NUM_STEPS, load_inputs
from torch.utils.data import DataLoader, TensorDataset

import eventcode
from eventcode.datasets import EncodedDataset
from eventcode.transforms import Encode


def memory(fn: Callable[[], object] | None, device: str) -> str:
    """Peak MB of one call above what was allocated before it, on CUDA ("-" elsewhere)."""
    if device != "cuda" or fn is None:
        return "-"
    return f"{cuda_peak(fn) / 1e6:.0f}"


def epoch(loader: DataLoader, device: str, densify: bool) -> int:
    """Steps of one epoch moved to ``device`` (densified when ``densify``)."""
    steps = 0
    for batch, _ in loader:
        moved = batch.to(device, non_blocking=True)
        dense = moved.dense() if densify else snn.rate(moved, num_steps=NUM_STEPS)
        steps += dense.shape[0]
    return steps


def pairs(
    inputs: dict[str, torch.Tensor], device: str
) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    digits, video = inputs["digits"], inputs["video"]
    latency = {"num_steps": NUM_STEPS, "normalize": True, "linear": True}
    torch.manual_seed(0)
    events = eventcode.rate(digits, num_steps=NUM_STEPS, exact=True)
    delta = eventcode.delta(video, threshold=0.1, off_spike=True)
    images = (digits[:, 0] * 255).to(torch.uint8).cpu()
    labels = torch.zeros(len(images), dtype=torch.int64)
    dataset = EncodedDataset(TensorDataset(images, labels), Encode("rate", num_steps=NUM_STEPS), seed=0)
    cuda = device == "cuda"
    ours = DataLoader(dataset, batch_size=256, collate_fn=eventcode.collate, num_workers=2, pin_memory=cuda)
    theirs = DataLoader(TensorDataset(digits.cpu(), labels), batch_size=256, num_workers=2, pin_memory=cuda)
    return {
        "encode rate": (
            lambda: eventcode.rate(digits, num_steps=NUM_STEPS),
            lambda: snn.rate(digits, num_steps=NUM_STEPS),
        ),
        "encode latency": (
            lambda: eventcode.latency(digits, **latency),
            lambda: snn.latency(digits, **latency),
        ),
        "encode delta": (
            lambda: eventcode.delta(video, threshold=0.1, off_spike=True),
            lambda: snn.delta(video, threshold=0.1, off_spike=True),
        ),
        "densify (rate)": (
            lambda: events.dense(polarity="on"),
            lambda: snn.rate(digits, num_steps=NUM_STEPS),
        ),
        "frames (delta, 100 samples x 10 bins)": (
            lambda: [eventcode.to_frames(delta[b], n_time_bins=10) for b in range(min(100, len(digits)))],
            None,
        ),
        "DataLoader epoch": (lambda: epoch(ours, device, True), lambda: epoch(theirs, device, False)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    args = parser.parse_args()
    device = args.device
    inputs = load_inputs(args.batch, device, args.mnist)
    digits = inputs["digits"]
    torch.manual_seed(0)
    dense = eventcode.rate(digits, num_steps=NUM_STEPS, exact=True).dense(polarity="on")
    torch.manual_seed(0)
    assert torch.equal(dense, snn.rate(digits, num_steps=NUM_STEPS)), "densify differs from snnTorch"
    del dense
    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine()
    print(
        f"# {name}, torch {torch.__version__}, batch {args.batch}, T = {NUM_STEPS}, median of {args.repeat} "
        "interleaved rounds"
    )
    print(
        "| work | eventcode (range) | snnTorch (range) | snnTorch / eventcode (range) | limit: write the "
        "output (range) | eventcode / limit (range) | eventcode peak (MB) | snnTorch peak (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for work, (ours, theirs) in pairs(inputs, device).items():
        fns = {"ours": ours} if theirs is None else {"ours": ours, "theirs": theirs}
        out = output_bytes(ours())
        if out:
            fns["limit"] = lambda n=out: torch.empty(n, dtype=torch.uint8, device=device).fill_(1)
        times = interleaved(fns, args.repeat, device=device)
        mine = times["ours"]
        other = ratio_spread(ratios(times["theirs"], mine)) if "theirs" in times else ""
        limit = spread(times["limit"]) if "limit" in times else ""
        over = ratio_spread(ratios(mine, times["limit"])) if "limit" in times else ""
        print(
            f"| {work} | {spread(mine)} | {spread(times['theirs']) if 'theirs' in times else ''} "
            f"| {other} | {limit} | {over} | {memory(ours, device)} | {memory(theirs, device)} |",
            flush=True,
        )


def output_bytes(result: object) -> int:
    """Bytes of a result: 13 an event for ``Events``, the storage of tensors (or a list of them);
    0 for anything else (the DataLoader epoch: no limit)."""
    if isinstance(result, eventcode.Events):
        return len(result) * EVENT_BYTES
    if isinstance(result, torch.Tensor):
        return result.numel() * result.element_size()
    if isinstance(result, list):
        return sum(output_bytes(item) for item in result)
    return 0


if __name__ == "__main__":
    main()
