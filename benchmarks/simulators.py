"""Benchmark: eventcode's share of driving NEST with a large input, next to NEST's own work.

The input of issue 14: 256 bundled MNIST digits rate-coded over ``--steps`` steps and stacked
into one input of 256 x 784 = 200,704 neurons. eventcode's part is
:func:`exporters.nest.to_input` (one sort and one split of the events into per-neuron spike
times); NEST's part is ``nest.Create("spike_generator", n, params=...)``, which sets every
generator's ``spike_times``. The table gives the best of ``--repeat`` runs and eventcode's share
of the total (target: under 20%).

Run: ``python benchmarks/simulators.py [--steps 100] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

import eventcode
from eventcode.datasets import load_mnist
from exporters import nest as nest_format


def main() -> None:
    """Print the timing table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="rate-code steps (1 ms each)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is shown")
    args = parser.parse_args()
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    images, _ = load_mnist()
    digits = images[:256, None].float() / 255
    events = eventcode.rate(digits, num_steps=args.steps, generator=torch.Generator().manual_seed(0))
    ours, theirs = [], []
    for _ in range(args.repeat):
        nest.ResetKernel()
        start = time.perf_counter()
        params = nest_format.to_input(events, dt_us=1000)
        middle = time.perf_counter()
        nest.Create("spike_generator", len(params), params=params)
        ours.append(middle - start)
        theirs.append(time.perf_counter() - middle)
    mine, nests = min(ours), min(theirs)
    print(f"# {platform.machine()}, {torch.get_num_threads()} torch threads, NEST {nest.__version__}")
    print(f"# {len(params):,} neurons, {len(events):,} spikes ({args.steps} steps), best of {args.repeat}")
    print("| part | seconds | share |")
    print("|---|---|---|")
    print(
        f"| eventcode to_input (sort, split, per-neuron lists) | {mine:.3f} | {mine / (mine + nests):.0%} |"
    )
    print(f"| NEST Create + set spike_times | {nests:.3f} | {nests / (mine + nests):.0%} |")


if __name__ == "__main__":
    main()
