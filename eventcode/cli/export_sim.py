"""``eventcode export-sim``: an event file as the spike input a simulator or chip takes, in a file
its own script loads.

Each target writes what its adapter in :mod:`exporters` builds (samples stacked, neurons and times
as :mod:`exporters.neurons` maps them):

========  ======  ==========================================================================
target    file    load it with
========  ======  ==========================================================================
nest      .json   ``nest.Create("spike_generator", len(p), params=p)``, ``p = json.load(f)``
brian2    .npz    ``SpikeGeneratorGroup(int(d["n"]), d["indices"], d["times_s"] * second)``
lava      .npy    ``lava.proc.io.source.RingBuffer(data=np.load(f))``, ``[N, T]``
xylo      .npy    ``XyloSim(...)(np.load(f))``, ``[T, Nin]`` counts of at most 15
spikes    .npy    a structured ``(neuron, t)`` array, ``t`` in ms, for any other tool
========  ======  ==========================================================================

NIR event data is a file format: ``eventcode convert digits.h5 digits.nir``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventcode.cli.common import refuse_same
from eventcode.errors import OptionError

if TYPE_CHECKING:
    from eventcode.events import Events

SUFFIXES = {"nest": ".json", "brian2": ".npz", "lava": ".npy", "xylo": ".npy", "spikes": ".npy"}
"""The file each target writes."""

RASTERS = ("lava", "xylo")
"""Targets on a grid of steps: step events go to their rows as they are, microsecond events need
``--dt-us`` as the row width."""


@click.command("export-sim")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--to", "simulator", type=click.Choice(list(SUFFIXES)), required=True, help="The simulator or chip."
)
@click.option(
    "--polarity",
    type=click.Choice(["merge", "on", "split"]),
    default="merge",
    show_default=True,
    help="ON and OFF events on one neuron per address, ON only, or in two blocks (OFF first).",
)
@click.option(
    "--dt-us",
    type=click.IntRange(min=1),
    help="Microseconds per step of step-time events (default: the file's); for lava and xylo, the "
    "row width of microsecond events.",
)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Steps added before scaling: step k is sent at (k + offset) * dt_us (nest, brian2, spikes).",
)
@click.option(
    "--duplicates",
    type=click.Choice(["error", "merge", "keep"]),
    help="Two spikes of one neuron in one time bin (default: the target's: nest keeps both, "
    "brian2 and lava refuse them).",
)
@click.option("--clip", is_flag=True, help="xylo: clip counts over 15 per step instead of refusing them.")
@click.option(
    "--no-limits",
    is_flag=True,
    help="xylo: build the raster past Xylo's 16 input channels (a larger simulated core).",
)
def export_sim(
    source: Path,
    target: Path,
    simulator: str,
    polarity: str,
    dt_us: int | None,
    offset: int,
    duplicates: str | None,
    clip: bool,
    no_limits: bool,
) -> None:
    """Write SOURCE's events as the spike input of a simulator or chip (TARGET: .json for nest,
    .npz for brian2, .npy for lava, xylo and spikes).

    Samples are stacked: sample b drives the b-th block of neurons. Step k goes to
    (k + offset) * dt_us in simulator time; lava and xylo take the steps as raster rows.
    """
    import exporters

    suffix = SUFFIXES[simulator]
    if target.suffix.lower() != suffix:
        raise OptionError(
            f"--to {simulator} writes a {suffix} file; name the output {target.with_suffix(suffix)}"
        )
    refuse_same(source, target)
    events = exporters.read(source)
    if events.time_unit == "step":
        if simulator in RASTERS:
            dt_us = None
        elif dt_us is None:
            dt_us = exporters.info(source).dt_us
    options: dict[str, Any] = {"polarity": polarity} | (
        {} if duplicates is None else {"duplicates": duplicates}
    )
    limits = {"clip": clip, "check_limits": not no_limits}
    written = _write(simulator, events, target, dt_us, offset, limits, options)
    click.echo(
        f"wrote {written} from {source} ({events.num_samples} samples, shape {events.shape}) to {target}"
    )


def _write(
    simulator: str,
    events: Events,
    target: Path,
    dt_us: int | None,
    offset: int,
    limits: dict[str, bool],
    options: dict[str, Any],
) -> str:
    """Build the target's input and write it atomically; say what was written."""
    import numpy as np

    from exporters import brian2, lava, nest, neurons, xylo
    from exporters.atomic import atomic_path

    if simulator == "nest":
        params = nest.to_input(events, dt_us=dt_us, offset=offset, **options)
        with atomic_path(target) as temporary:
            temporary.write_text(json.dumps(params))
        return f"{len(params):,} spike generators"
    if simulator == "brian2":
        indices, times = brian2.to_input(events, dt_us=dt_us, offset=offset, **options)
        count = events.num_samples * neurons.neurons_per_sample(
            events.shape, events.polarities, options["polarity"]
        )
        with atomic_path(target) as temporary, temporary.open("wb") as file:
            np.savez(file, n=np.int64(count), indices=indices, times_s=np.asarray(times, dtype=np.float64))
        return f"{len(indices):,} spikes of {count:,} neurons"
    if simulator == "lava":
        array = lava.to_input(events, dt_us=dt_us, **options)
        described = f"an [N, T] = {list(array.shape)} raster"
    elif simulator == "xylo":
        array = xylo.to_input(events, options["polarity"], dt_us=dt_us, **limits)
        described = f"a [T, Nin] = {list(array.shape)} raster"
    else:
        array = neurons.spike_list(events, options["polarity"], dt_us=dt_us, offset=offset)
        described = f"{len(array):,} spikes (neuron, t in ms)"
    with atomic_path(target) as temporary, temporary.open("wb") as file:
        np.save(file, array)
    return described
