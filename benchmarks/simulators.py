"""Benchmark: eventcode's share of driving NEST with a large input, next to NEST's own work.

The input of issue 14: 256 bundled MNIST digits rate-coded over ``--steps`` steps and stacked
into one input of 256 x 784 = 200,704 neurons. eventcode's part is
:func:`exporters.nest.to_input` (one sort and one split of the events into per-neuron spike
times); NEST's part is ``nest.Create("spike_generator", n, params=...)``, which sets every
generator's ``spike_times`` (on a kernel reset before it, untimed). Before timing, the script
checks that the generators NEST made hold every spike. The two parts run in ``--repeat``
interleaved rounds (eventcode, NEST, eventcode, NEST, ...); the table gives the median (and range)
of each part's time and eventcode's share of each round's total, median (and range). Target:
a share under 20%, met only when every round's share is.

Run: ``python benchmarks/simulators.py [--steps 100] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import torch
from common import interleaved, spread, verdict

import eventcode
from eventcode.datasets import load_mnist
from exporters import nest as nest_format

TARGET = 0.2
"""eventcode's largest share of the total (issue 14)."""


def main() -> None:
    """Print the timing table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="rate-code steps (1 ms each)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args()
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner on stdout, which holds the table
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    images, _ = load_mnist()
    digits = images[:256, None].float() / 255
    events = eventcode.rate(digits, num_steps=args.steps, generator=torch.Generator().manual_seed(0))
    params = nest_format.to_input(events, dt_us=1000)
    nest.ResetKernel()
    made = nest.Create("spike_generator", len(params), params=params)
    held = sum(len(times) for times in made.get("spike_times"))
    assert held == len(events), f"NEST holds {held:,} of {len(events):,} spikes"
    nest.ResetKernel()
    times = interleaved(
        {
            "eventcode": lambda: nest_format.to_input(events, dt_us=1000),
            "NEST": lambda: nest.Create("spike_generator", len(params), params=params),
        },
        args.repeat,
        after=lambda made: nest.ResetKernel() if isinstance(made, nest.NodeCollection) else None,
    )
    ours, theirs = times["eventcode"], times["NEST"]
    shares = [a / (a + b) for a, b in zip(ours, theirs, strict=True)]
    nest_shares = [1 - share for share in shares]

    def share(values: list[float]) -> str:
        return f"{statistics.median(values):.0%} ({min(values):.0%}-{max(values):.0%})"

    print(f"# {platform.machine()}, {torch.get_num_threads()} torch threads, NEST {nest.__version__}")
    print(
        f"# {len(params):,} neurons, {len(events):,} spikes ({args.steps} steps), median of "
        f"{args.repeat} interleaved rounds"
    )
    print("| part | time (range) | share of the total (range) |")
    print("|---|---|---|")
    print(f"| eventcode to_input (sort, split, per-neuron lists) | {spread(ours)} | {share(shares)} |")
    print(f"| NEST Create + set spike_times | {spread(theirs)} | {share(nest_shares)} |")
    print()
    print(
        f"- eventcode's share {share(shares)}, target < {TARGET:.0%}: {verdict(shares, TARGET, at_most=True)}"
    )


if __name__ == "__main__":
    main()
