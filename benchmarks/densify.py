"""Benchmark: events -> dense ``[T, B, *shape]`` float32, eventcode vs what a user writes by hand,
swept over densities and sensor sizes.

Baselines, on the same events in the same process:

- ``numpy bincount``: the flat index from the columns, ``np.bincount`` weighted +1 (ON) / -1
  (OFF), cast to float32 (the fastest hand-written numpy path we found; two unweighted bincounts
  of ON and OFF take 1.4-2x longer);
- ``torch index_put_``: the flat index, ``out.view(-1).index_put_(..., accumulate=True)`` of +1/-1.

Each case (a sensor size, a density of events per output element) has an output of about
``--cells`` elements: T = 100 steps and B samples for small sensors, fewer steps for large ones.
Events are random, sorted by (sample, t), 80% ON. The methods run in ``--repeat`` interleaved
rounds; each row prints the median (and range) of the time, events/s, GB/s of output written and
the memset limit: ``torch.empty(...).fill_(1)`` of the same output, GB/s; the last column is
the method's time over eventcode's, median (and range) of the rounds' ratios. Peak memory beyond
the input events is the resident-set high-water mark of one call, every case and method measured
one after another in one fresh process (each method called once untimed first, the mark reset
before each measured call: ``common.isolated_peaks``); the bound for eventcode is the output plus
twice the event bytes (13 B per event). On CUDA the peak is ``torch.cuda.max_memory_allocated``
above the events.

Run: ``python benchmarks/densify.py [--cells 25e6] [--repeat 5] [--device cpu|cuda] [--json out.json]``
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics

import numpy as np
import torch
from common import cuda_peak, interleaved, isolated_peaks, peak_rss_bytes, ratio_spread, ratios, spread

import eventcode
from eventcode import Events

SIZES = ((28, 28), (128, 128), (346, 260), (1280, 720))
"""Sensor sizes (W, H) swept: MNIST to a 1 Mpx-class camera."""
DENSITIES = (0.001, 0.01, 0.13, 0.6)
"""Events per output element swept: sparse camera bins to rate-coded inputs and beyond."""


def make_events(size: tuple[int, int], density: float, cells: float, device: str) -> Events:
    """Random step-time events on a ``size`` sensor, sorted by (sample, t), 80% ON, about
    ``density * cells`` of them over an output of about ``cells`` elements."""
    width, height = size
    numel = width * height
    num_steps = 100 if numel * 100 <= cells else max(1, round(cells / numel))
    batch = max(1, round(cells / (num_steps * numel)))
    num_events = max(1, round(density * num_steps * batch * numel))
    gen = torch.Generator().manual_seed(0)
    sample = torch.randint(0, batch, (num_events,), generator=gen).sort().values
    offsets = torch.zeros(batch + 1, dtype=torch.int64)
    offsets[1:] = torch.bincount(sample, minlength=batch).cumsum(0)
    t = torch.randint(0, num_steps, (num_events,), generator=gen)
    t = (t + sample * num_steps).sort().values - sample * num_steps  # sort t within each sample
    events = Events.from_columns(
        t,
        torch.randint(0, width, (num_events,), generator=gen, dtype=torch.int16),
        torch.randint(0, height, (num_events,), generator=gen, dtype=torch.int16),
        torch.rand(num_events, generator=gen) < 0.8,
        offsets=offsets,
        shape=(1, height, width),
        num_steps=num_steps,
        check="none",
    )
    return events.to(device)


def eventcode_dense(events: Events) -> torch.Tensor:
    return eventcode.densify(events)


def flat_index(events: Events) -> torch.Tensor:
    """The flat output index of each event, as a user computes it with torch."""
    batch, (_, height, width) = events.num_samples, events.shape
    sample = torch.repeat_interleave(
        torch.arange(batch, device=events.device), events.offsets.diff(), output_size=len(events)
    )
    return (events.t * batch + sample) * (height * width) + events.y.long() * width + events.x.long()


def torch_index_put(events: Events) -> torch.Tensor:
    values = events.p.float() * 2 - 1
    out = torch.zeros(
        events.num_steps * events.num_samples * int(np.prod(events.shape)), device=events.device
    )
    out.index_put_((flat_index(events),), values, accumulate=True)
    return out.view(events.num_steps, events.num_samples, *events.shape)


def numpy_bincount(events: Events) -> torch.Tensor:
    batch, (_, height, width) = events.num_samples, events.shape
    t, x, y, p = (v.numpy() for v in (events.t, events.x, events.y, events.p))
    sample = np.repeat(np.arange(batch), np.diff(events.offsets.numpy()))
    flat = (t * batch + sample) * (height * width) + y.astype(np.int64) * width + x
    size = events.num_steps * batch * height * width
    counts = np.bincount(flat, weights=p * 2.0 - 1.0, minlength=size)
    return torch.from_numpy(counts.astype(np.float32).reshape(events.num_steps, batch, *events.shape))


METHODS = {
    "eventcode": eventcode_dense,
    "torch index_put_": torch_index_put,
    "numpy bincount": numpy_bincount,
}


def peak_key(size: tuple[int, int], density: float, name: str) -> str:
    return f"{size[0]}x{size[1]} {density:g} {name}"


def cpu_peaks(cells: float) -> dict[str, int]:
    """Peak bytes of one call of each method on each case beyond the input events, all measured
    in one fresh process (``--peak``), each call after a first untimed one of the same method."""
    peaks = {}
    for size in SIZES:
        for density in DENSITIES:
            sample = make_events(size, density, cells, "cpu")
            for name, method in METHODS.items():
                method(sample)  # once first: lazy imports and first-call caches are not its memory
                peaks[peak_key(size, density, name)] = peak_rss_bytes(lambda m=method, e=sample: m(e))
            del sample
    return peaks


def memset(out_elements: int, device: str) -> float:
    """Seconds to write an output of this many float32 (fresh memory, as densify gets it)."""

    def fill() -> torch.Tensor:
        return torch.empty(out_elements, device=device).fill_(1)

    return statistics.median(interleaved({"memset": fill}, 3)["memset"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=float, default=25e6, help="output elements of each case")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--peak", metavar="CELLS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process of isolated_peaks: every case's peaks
        print(json.dumps(cpu_peaks(float(args.peak))))
        return

    methods = list(METHODS) if args.device == "cpu" else ["eventcode", "torch index_put_"]
    print(
        f"# densify benchmark: {platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, numpy {np.__version__}, device {args.device}, median of "
        f"{args.repeat} interleaved rounds"
    )
    if args.device == "cuda":
        print(f"# GPU: {torch.cuda.get_device_name()}")
    print(
        "| sensor | density | T x B | events | method | time (s) (range) | Mev/s | GB/s written "
        "(memset) | peak extra (MB) (bound) | its time / eventcode's (range) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    peaks = isolated_peaks(__file__, str(args.cells)) if args.device == "cpu" else {}
    rows = []
    for size in SIZES:
        for density in DENSITIES:
            events = make_events(size, density, args.cells, args.device)
            reference = eventcode.densify(events)
            for name in methods[1:]:
                assert torch.equal(METHODS[name](events), reference), f"{name} disagrees with eventcode"
            out_bytes = reference.numel() * reference.element_size()
            limit = out_bytes / memset(reference.numel(), args.device) / 1e9
            del reference
            times = interleaved(
                {name: functools.partial(METHODS[name], events) for name in methods}, args.repeat
            )
            ours = times["eventcode"]
            bound = out_bytes + 2 * 13 * len(events)
            for name in methods:
                seconds = statistics.median(times[name])
                rounds = ratios(times[name], ours)
                key = peak_key(size, density, name)
                peak = (
                    peaks[key]
                    if args.device == "cpu"
                    else cuda_peak(functools.partial(METHODS[name], events))
                )
                row = {
                    "sensor": f"{size[0]}x{size[1]}",
                    "density": density,
                    "steps": events.num_steps,
                    "batch": events.num_samples,
                    "events": len(events),
                    "method": name,
                    "seconds": seconds,
                    "spread": spread(times[name]),
                    "mev_per_s": len(events) / seconds / 1e6,
                    "gb_per_s": out_bytes / seconds / 1e9,
                    "memset_gb_per_s": limit,
                    "peak_extra_mb": peak / 1e6,
                    "bound_mb": bound / 1e6,
                    "ratio": statistics.median(rounds),
                    "ratio_range": (min(rounds), max(rounds)),
                }
                rows.append(row)
                print(
                    f"| {row['sensor']} | {density:g} | {events.num_steps} x {events.num_samples} "
                    f"| {len(events) / 1e6:.2f} M | {name} | {row['spread']} | {row['mev_per_s']:.0f} "
                    f"| {row['gb_per_s']:.2f} ({limit:.2f}) | {row['peak_extra_mb']:.0f} ({bound / 1e6:.0f}) "
                    f"| {ratio_spread(rounds)} |",
                    flush=True,
                )
            del events
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
