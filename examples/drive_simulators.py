"""Drive a NEST layer of LIF neurons with rate-coded MNIST digits, and read its spikes back as events.

Each digit is rate-coded over 100 steps of 1 ms. Its 784 pixels drive spike generators
(``exporters.nest.generators``: one sort and one split of the events), which connect with random
weights to a layer of 16 leaky integrate-and-fire neurons of its own. The layer's
recorded spikes come back as ``Events`` (``exporters.nest.from_output``), are saved as AEDAT 4.0
(one file per digit) and drawn beside the input as a raster. When Brian2 is installed the same
input and weights also drive a Brian2 layer of current-based LIF neurons
(``exporters.brian2.generator``), whose spikes come back as events too.

Run: ``python examples/drive_simulators.py [--out drive_simulators] [--digits 4]``
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import torch

import eventcode
import exporters
from eventcode import plot
from eventcode.datasets import load_mnist
from exporters import nest as nest_format

LAYER = 16
"""LIF neurons per digit."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("drive_simulators"))
    parser.add_argument("--digits", type=int, default=4)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    images, _ = load_mnist()
    digits = images[: args.digits, None].float() / 255
    events = eventcode.rate(digits, num_steps=100, generator=torch.Generator().manual_seed(0))
    print(f"{events.num_samples} digits, {len(events):,} input spikes")

    nest.ResetKernel()
    nest.rng_seed = 1
    inputs = nest_format.generators(events, dt_us=1000)  # 784 spike generators per digit
    layer = nest.Create("iaf_psc_alpha", args.digits * LAYER)
    recorder = nest.Create("spike_recorder")
    weights = np.random.default_rng(0).normal(2.0, 12.0, (args.digits * LAYER, len(inputs)))
    blocks = np.kron(np.eye(args.digits), np.ones((LAYER, 784)))  # each digit drives its own layer
    nest.Connect(inputs, layer, "all_to_all", syn_spec={"weight": weights * blocks, "delay": 1.0})
    nest.Connect(layer, recorder)
    nest.Simulate(110.0)
    output = nest_format.from_output(recorder, layer[0].global_id, (LAYER,), samples=args.digits)
    print(f"NEST: {len(output):,} output spikes of {args.digits} x {LAYER} LIF neurons")

    exporters.write(args.out / "output_{}.aedat4", output)
    back = exporters.read(args.out / "output_0.aedat4")
    print(f"output of digit 0 read back from AEDAT 4.0 equals it: {back == output[0]}")

    figure, axes = plot.pyplot().subplots(1, 2, figsize=(11, 4), layout="constrained")
    plot.raster(events.to_us(dt_us=1000, t0_us=1000), sample=0, ax=axes[0], size=2, title="input: digit 0")
    plot.raster(output, sample=0, ax=axes[1], size=12, title=f"output: {LAYER} LIF neurons (NEST)")
    figure.savefig(args.out / "drive_simulators.png", dpi=100)
    print(f"raster in {args.out / 'drive_simulators.png'}")

    if importlib.util.find_spec("brian2") is not None:
        brian = brian_layer(events, weights * blocks)
        print(f"Brian2: {len(brian):,} output spikes of the same input through its own LIF layer")


def brian_layer(events: eventcode.Events, weights: np.ndarray) -> eventcode.Events:
    """The same input and weights into a Brian2 layer of current-based LIF neurons; its spikes as events."""
    import brian2

    from exporters import brian2 as brian_format

    brian2.prefs.codegen.target = "numpy"  # no compiler needed
    brian2.start_scope()
    inputs = brian_format.generator(events, dt_us=1000, dt=0.1 * brian2.ms)  # step k at (k + 1) ms
    layer = brian2.NeuronGroup(
        len(weights),
        "dv/dt = (-v + I) / (10 * ms) : 1 (unless refractory)\ndI/dt = -I / (2 * ms) : 1",
        threshold="v > 1",
        reset="v = 0",
        refractory=2 * brian2.ms,
        method="exact",
        dt=0.1 * brian2.ms,
    )
    synapses = brian2.Synapses(inputs, layer, "w : 1", on_pre="I += w", delay=1 * brian2.ms)
    post, pre = np.nonzero(weights)
    synapses.connect(i=pre, j=post)
    # NEST's iaf_psc_alpha: a w pA alpha current moves V by about w * e * 2 ms / 250 pF, threshold 15 mV
    # above rest; the same jump here (v: 1 at threshold, exponential 2 ms current) needs I += w / 138
    synapses.w = weights[post, pre] / 138
    monitor = brian2.SpikeMonitor(layer)
    brian2.run(110 * brian2.ms)
    return brian_format.from_output(monitor, (LAYER,), samples=events.num_samples)


if __name__ == "__main__":
    main()
