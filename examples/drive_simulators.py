"""Drive a NEST layer of LIF neurons with rate-coded MNIST digits, and read its spikes back as events.

Each digit is rate-coded over 100 steps of 1 ms. Its 784 pixels drive spike generators
(``exporters.nest.generators``: one sort and one split of the events), which connect with random
weights to a layer of 16 leaky integrate-and-fire neurons of its own. The layer's
recorded spikes come back as ``Events`` (``exporters.nest.from_output``), are saved as AEDAT 4.0
(one file per digit) and drawn beside the input as a raster. When Brian2 is installed the same
input also goes to a Brian2 ``SpikeGeneratorGroup``, and its recorded input spikes are checked
against the events.

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
from exporters import neurons

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
        brian_check(events)


def brian_check(events: eventcode.Events) -> None:
    """The same input into a Brian2 SpikeGeneratorGroup; its monitor gives the input spikes back."""
    import brian2

    brian2.prefs.codegen.target = "numpy"
    _, neuron, time_us = neurons.spikes(events, stack=True, dt_us=1000)
    group = brian2.SpikeGeneratorGroup(int(neuron.max()) + 1, neuron, time_us * brian2.us)
    monitor = brian2.SpikeMonitor(group)
    brian2.run((int(time_us.max()) + 1000) * brian2.us)
    recorded_us = np.rint(np.asarray(monitor.t / brian2.us)).astype(np.int64)
    same = sorted(zip(monitor.i[:].tolist(), recorded_us.tolist(), strict=True)) == sorted(
        zip(neuron.tolist(), time_us.tolist(), strict=True)
    )
    print(f"Brian2: its monitor recorded the {len(neuron):,} input spikes: {same}")


if __name__ == "__main__":
    main()
