"""Benchmark: encoding real MNIST digits to events, eventcode vs snnTorch spikegen + nonzero.

Input: MNIST test images (``--mnist`` folder with the IDX files, default ``../shared/data/mnist``;
the bundled 1,000-digit sample when absent), batch 256, T = 100, as ``[B, 1, 28, 28]`` in [0, 1].

- rate: eventcode fast (default) and exact modes vs ``spikegen.rate`` + ``nonzero``;
- latency (``normalize=True, linear=True``) vs ``spikegen.latency`` + ``nonzero``;
- delta (``threshold=0.1, off_spike=True``) on a moving-digit video (each digit shifted one pixel
  per step, ``[100, B, 1, 28, 28]``) vs ``spikegen.delta`` + ``nonzero``.

Each row: median time of ``--repeat`` runs, events, peak memory above the inputs (one call in a
fresh process on the CPU, see ``common.py``; ``torch.cuda.max_memory_allocated`` on CUDA), event
bytes (13 per event: t 8, x 2, y 2, p 1) and snnTorch's time / eventcode's. Before timing, the
outputs are checked against each other: latency and delta densify to snnTorch's tensors, exact
rate equals snnTorch under one seed, fast rate fires within 5 sigma of snnTorch's count.

Run: ``python benchmarks/encoders.py [--batch 256] [--device cpu|cuda] [--json out.json]``
(on a GPU machine also ``--device cuda --batch 10000``).
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np
import snntorch.spikegen as snn
import torch
from common import isolated_peak, peak_rss_bytes, timed

import eventcode
from eventcode.datasets import load_mnist

NUM_STEPS = 100
DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def load_inputs(batch: int, device: str, mnist: Path) -> dict[str, torch.Tensor]:
    if (mnist / "t10k-images-idx3-ubyte.gz").exists():
        images, _ = load_mnist(mnist)
    else:
        images, _ = load_mnist()
    repeats = -(-batch // len(images))
    digits = images.repeat(repeats, 1, 1)[:batch, None].float().div(255).to(device)
    video = torch.stack([torch.roll(digits, shifts=k, dims=-1) for k in range(NUM_STEPS)])
    return {"digits": digits, "video": video}


def cases(inputs: dict[str, torch.Tensor]) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """name -> (eventcode call, snnTorch call + nonzero)."""
    digits, video = inputs["digits"], inputs["video"]
    latency = {"num_steps": NUM_STEPS, "normalize": True, "linear": True}
    return {
        "rate": (
            lambda: eventcode.rate(digits, num_steps=NUM_STEPS),
            lambda: snn.rate(digits, num_steps=NUM_STEPS).nonzero(),
        ),
        "rate (exact)": (
            lambda: eventcode.rate(digits, num_steps=NUM_STEPS, exact=True),
            lambda: snn.rate(digits, num_steps=NUM_STEPS).nonzero(),
        ),
        "latency": (
            lambda: eventcode.latency(digits, **latency),
            lambda: snn.latency(digits, **latency).nonzero(),
        ),
        "delta": (
            lambda: eventcode.delta(video, threshold=0.1, off_spike=True),
            lambda: snn.delta(video, threshold=0.1, off_spike=True).nonzero(),
        ),
    }


def check_agreement(inputs: dict[str, torch.Tensor]) -> None:
    digits, video = inputs["digits"], inputs["video"]
    latency = {"num_steps": NUM_STEPS, "normalize": True, "linear": True}
    ours = eventcode.latency(digits, **latency).dense(polarity="on")
    assert torch.equal(ours, snn.latency(digits, **latency))
    expected = snn.delta(video, threshold=0.1, off_spike=True)
    assert torch.equal(eventcode.delta(video, threshold=0.1, off_spike=True).dense(), expected)
    torch.manual_seed(0)
    spikes = snn.rate(digits, num_steps=NUM_STEPS)
    torch.manual_seed(0)
    if digits.device.type == "cpu":  # exact parity is a CPU promise
        exact = eventcode.rate(digits, num_steps=NUM_STEPS, exact=True)
        assert torch.equal(exact.dense(polarity="on"), spikes)
    p = digits.clamp(0, 1).double()
    mean, sd = float(p.sum()) * NUM_STEPS, float((p * (1 - p)).sum() * NUM_STEPS) ** 0.5
    assert abs(len(eventcode.rate(digits, num_steps=NUM_STEPS)) - mean) < 5 * sd


def peak(name: str, side: int, batch: int, device: str, mnist: Path) -> int:
    if device == "cuda":
        inputs = load_inputs(batch, device, mnist)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        result = cases(inputs)[name][side]()
        torch.cuda.synchronize()
        del result
        return torch.cuda.max_memory_allocated() - base
    return isolated_peak(__file__, name, str(side), str(batch), str(mnist))


def count(result: object) -> int:
    return len(result)  # Events: events; nonzero: rows, one per spike


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--peak", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process of peak(): one call, its resident-memory rise
        name, side, batch, mnist = args.peak
        call = cases(load_inputs(int(batch), "cpu", Path(mnist)))[name][int(side)]
        print(peak_rss_bytes(call))
        return

    inputs = load_inputs(args.batch, args.device, args.mnist)
    check_agreement(inputs)
    print(
        f"# encoders benchmark: {platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, numpy {np.__version__}, device {args.device}, "
        f"batch {args.batch}, T = {NUM_STEPS}"
    )
    if args.device == "cuda":
        print(f"# GPU: {torch.cuda.get_device_name()}")
    columns = ["encoder", "method", "time (s)", "events", "peak extra (MB)", "event bytes (MB)"]
    print("| " + " | ".join([*columns, "snnTorch time / eventcode's"]) + " |")
    print("|" + "---|" * (len(columns) + 1))
    rows = []
    for name, calls in cases(inputs).items():
        measured = []
        for side, label in enumerate(("eventcode", "snnTorch + nonzero")):
            seconds, _, result = timed(calls[side], args.repeat, args.device)
            events = count(result)
            del result
            measured.append((label, seconds, events, peak(name, side, args.batch, args.device, args.mnist)))
        for label, seconds, events, peak_bytes in measured:
            ratio = measured[1][1] / measured[0][1]
            row = {
                "encoder": name,
                "method": label,
                "seconds": seconds,
                "events": events,
                "peak_extra_mb": peak_bytes / 1e6,
                "event_mb": events * 13 / 1e6,
                "ratio": ratio,
            }
            rows.append(row)
            cells = [name, label, f"{seconds:.4f}", f"{events:,}", f"{peak_bytes / 1e6:.1f}"]
            print("| " + " | ".join([*cells, f"{events * 13 / 1e6:.1f}", f"{ratio:.1f}x"]) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
