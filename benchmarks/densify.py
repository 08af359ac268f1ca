"""Benchmark: events -> dense [T, B, 1, 28, 28], eventcode vs what a user writes by hand.

Baselines, on the same events in the same process:

- ``numpy bincount``: flat index from the columns, ``np.bincount`` of ON minus OFF, cast to the
  same float32 output (the hand-written numpy path);
- ``torch index_put_``: flat index from the columns, ``out.view(-1).index_put_(..., accumulate=True)``
  with +1/-1 values (the naive torch path).

Prints time (median of ``--repeat`` runs), events/s, GB/s of output written, peak memory above
the input events and the ratio of each baseline's time to eventcode's. Peak memory on the CPU is
the resident-set high-water mark of one call in a fresh process (see ``common.py``); on CUDA
it is ``torch.cuda.max_memory_allocated`` above the events.

Run: ``python benchmarks/densify.py [--events 2e6 50e6] [--device cpu|cuda] [--json out.json]``
"""

from __future__ import annotations

import argparse
import functools
import json
import platform

import numpy as np
import torch
from common import isolated_peak, peak_rss_bytes, timed

import eventcode
from eventcode import Events

NUM_STEPS, SHAPE, DENSITY = 100, (1, 28, 28), 0.13  # rate-coded MNIST: ~13% of pixel-steps fire


def make_events(num_events: int, device: str) -> Events:
    """Random step-time events, 80% ON, sorted by (sample, t) at the density of rate-coded MNIST."""
    numel = int(np.prod(SHAPE))
    batch = max(1, round(num_events / (DENSITY * NUM_STEPS * numel)))
    gen = torch.Generator().manual_seed(0)
    sample = torch.randint(0, batch, (num_events,), generator=gen).sort().values
    offsets = torch.zeros(batch + 1, dtype=torch.int64)
    offsets[1:] = torch.bincount(sample, minlength=batch).cumsum(0)
    t = torch.randint(0, NUM_STEPS, (num_events,), generator=gen)
    t = (t + sample * NUM_STEPS).sort().values - sample * NUM_STEPS  # sort t within each sample
    events = Events.from_columns(
        t,
        torch.randint(0, SHAPE[2], (num_events,), generator=gen, dtype=torch.int16),
        torch.randint(0, SHAPE[1], (num_events,), generator=gen, dtype=torch.int16),
        torch.rand(num_events, generator=gen) < 0.8,
        offsets=offsets,
        shape=SHAPE,
        num_steps=NUM_STEPS,
        check="none",
    )
    return events.to(device)


def eventcode_dense(events: Events) -> torch.Tensor:
    return eventcode.densify(events)


def torch_index_put(events: Events) -> torch.Tensor:
    batch, numel = events.num_samples, int(np.prod(SHAPE))
    sample = torch.repeat_interleave(
        torch.arange(batch, device=events.device), events.offsets.diff(), output_size=len(events)
    )
    flat = (events.t * batch + sample) * numel + events.y.long() * SHAPE[2] + events.x.long()
    values = events.p.float() * 2 - 1
    out = torch.zeros(NUM_STEPS * batch * numel, device=events.device)
    out.index_put_((flat,), values, accumulate=True)
    return out.view(NUM_STEPS, batch, *SHAPE)


def numpy_bincount(events: Events) -> torch.Tensor:
    batch, numel = events.num_samples, int(np.prod(SHAPE))
    t, x, y, p = (v.numpy() for v in (events.t, events.x, events.y, events.p))
    sample = np.repeat(np.arange(batch), np.diff(events.offsets.numpy()))
    flat = (t * batch + sample) * numel + y.astype(np.int64) * SHAPE[2] + x
    size = NUM_STEPS * batch * numel
    counts = np.bincount(flat[p], minlength=size) - np.bincount(flat[~p], minlength=size)
    return torch.from_numpy(counts.astype(np.float32).reshape(NUM_STEPS, batch, *SHAPE))


METHODS = {
    "eventcode": eventcode_dense,
    "torch index_put_": torch_index_put,
    "numpy bincount": numpy_bincount,
}


def peak_memory(name: str, num_events: int, device: str) -> float:
    """Peak bytes allocated by one call beyond the input events, measured in isolation."""
    if device == "cuda":
        events = make_events(num_events, device)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        METHODS[name](events)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    return isolated_peak(__file__, name, str(num_events))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, nargs="+", default=[2e6, 50e6])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--peak", nargs=2, metavar=("METHOD", "EVENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:  # child process of peak_memory
        sample = make_events(int(args.peak[1]), "cpu")
        print(peak_rss_bytes(lambda: METHODS[args.peak[0]](sample)))
        return

    methods = list(METHODS) if args.device == "cpu" else ["eventcode", "torch index_put_"]
    print(
        f"# densify benchmark: {platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, numpy {np.__version__}, device {args.device}"
    )
    if args.device == "cuda":
        print(f"# GPU: {torch.cuda.get_device_name()}")
    columns = ["events", "method", "time (s)", "Mev/s", "GB/s written", "peak extra (MB)", "output (MB)"]
    print("| " + " | ".join([*columns, "time / eventcode's"]) + " |")
    print("|" + "---|" * (len(columns) + 1))
    rows = []
    for n in (int(v) for v in args.events):
        events = make_events(n, args.device)
        event_bytes = n * 13
        results = {}
        for name in methods:
            seconds, _, out = timed(functools.partial(METHODS[name], events), args.repeat, args.device)
            results[name] = (seconds, out.numel() * out.element_size())
            if name != "eventcode":
                reference = eventcode.densify(events)
                assert torch.equal(out, reference), f"{name} disagrees with eventcode"
                del reference
            del out
        for name in methods:
            seconds, out_bytes = results[name]
            peak = peak_memory(name, n, args.device)
            ratio = seconds / results["eventcode"][0]
            row = {
                "events": n,
                "method": name,
                "seconds": seconds,
                "mev_per_s": n / seconds / 1e6,
                "gb_per_s": out_bytes / seconds / 1e9,
                "peak_extra_mb": peak / 1e6,
                "output_mb": out_bytes / 1e6,
                "event_mb": event_bytes / 1e6,
                "ratio": ratio,
            }
            rows.append(row)
            cells = [f"{n / 1e6:g} M", name, f"{seconds:.4f}", f"{row['mev_per_s']:.0f}"]
            cells += [f"{row['gb_per_s']:.2f}", f"{row['peak_extra_mb']:.0f}", f"{row['output_mb']:.0f}"]
            print("| " + " | ".join([*cells, f"{ratio:.2f}x"]) + " |")
        print(f"# {n / 1e6:g} M events = {event_bytes / 1e6:.0f} MB of event columns (13 B/event)")
        del events
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
