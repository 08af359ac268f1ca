"""NEST 3.10: events as ``spike_generator`` parameters, and a ``spike_recorder``'s spikes back as events.

Neurons and times follow :mod:`exporters.neurons` (addresses row-major over ``(c, y, x)``, ON
and OFF merged or in two blocks, step ``k`` at ``(k + offset) * dt_us``, offset 1 because NEST
refuses a spike at t = 0). NEST wants spike times in ms on its resolution grid: off-grid
microsecond times go up to the next grid point (NEST's own ``allow_offgrid_times`` rule), and
two spikes of one neuron in one bin are both kept by default (NEST delivers both).

:func:`to_input` builds the parameters with one sort and one split of the events, whatever the
number of neurons; NEST's own ``Create`` takes most of the time (``python
benchmarks/simulators.py``). Needs the ``nest`` extra (``pip install "eventcode[nest]"``).

Examples
--------
>>> from eventcode import Events
>>> from exporters import nest
>>> events = Events(t=[0, 2], x=[1, 0], y=[0, 0], p=[1, 1], shape=(3,), num_steps=3)
>>> nest.to_input(events, dt_us=1000)  # one dict per neuron, times in ms
[{'spike_times': [3.0]}, {'spike_times': [1.0]}, {'spike_times': []}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from eventcode.errors import DependencyError, OptionError
from eventcode.options import events_argument, positive_int
from exporters import neurons

if TYPE_CHECKING:
    from eventcode import Events

RESOLUTION_US = 100
"""NEST's default resolution, 0.1 ms."""


def to_input(
    events: Events,
    polarity: neurons.PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    offset: int = 1,
    resolution_us: int = RESOLUTION_US,
    duplicates: neurons.Duplicates = "keep",
) -> list[dict[str, list[float]]]:
    """The ``params`` of ``nest.Create("spike_generator", n, params=...)``: one dict per neuron.

    Samples are stacked: sample ``b`` drives neurons ``b * n .. (b + 1) * n - 1`` with ``n =
    neurons.neurons_per_sample(...)``.

    Parameters
    ----------
    events : Events
        Step-time events (give ``dt_us``) or microsecond events.
    polarity, dt_us, offset
        As for :func:`exporters.neurons.spikes`.
    resolution_us : int
        NEST's resolution (``nest.resolution`` in ms times 1000); times are rounded up onto it.
    duplicates : {"keep", "merge", "error"}
        Two spikes of one neuron in one bin (see :func:`exporters.neurons.on_grid`).

    Raises
    ------
    OptionError
        Step events without ``dt_us``, bad ``dt_us``, ``offset`` or ``resolution_us``.
    EventsError
        With ``duplicates="error"``, two spikes of a neuron in one bin (naming both).
    """
    events_argument("nest.to_input", events)
    per_neuron = neurons.per_neuron_ms(
        events, polarity, dt_us=dt_us, offset=offset, resolution_us=resolution_us, duplicates=duplicates
    )
    with neurons.collector_paused():
        return [{"spike_times": times} for times in per_neuron]


def generators(
    events: Events,
    polarity: neurons.PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    offset: int = 1,
    duplicates: neurons.Duplicates = "keep",
    target: Any = None,
    syn_spec: dict[str, Any] | None = None,
) -> Any:
    """Create the ``spike_generator`` nodes of the events in the current NEST kernel (and connect them).

    With ``target`` (a NEST population of as many neurons), each generator is connected
    one-to-one to its neuron with ``syn_spec`` (default: weight 1, delay one resolution step).
    Returns the generators' ``NodeCollection``. The resolution is read from the kernel.
    """
    nest = _nest()
    resolution_us = positive_int("resolution_us", round(nest.resolution * 1000), "microseconds")
    params = to_input(
        events, polarity, dt_us=dt_us, offset=offset, resolution_us=resolution_us, duplicates=duplicates
    )
    nodes = nest.Create("spike_generator", len(params), params=params)
    if target is not None:
        if len(target) != len(params):
            raise OptionError(
                f"target has {len(target)} neurons but the events drive {len(params)}; create as many "
                "(exporters.neurons.neurons_per_sample gives the count per sample)"
            )
        nest.Connect(nodes, target, "one_to_one", syn_spec=syn_spec or {"delay": nest.resolution})
    return nodes


def from_output(
    recorded: Any, first_id: int, shape: tuple[int, ...], *, delay_us: int = 0, **mapping: Any
) -> Events:
    """A ``spike_recorder``'s spikes (the recorder, or its ``events`` dict) back as events.

    ``first_id`` is the node id of the first recorded neuron (``population[0].global_id``):
    sender ``first_id + i`` is neuron ``i`` of :func:`to_input`. ``delay_us`` (e.g. the one
    resolution step a parrot neuron adds) is taken off every time first. ``mapping`` takes the
    keywords of :func:`exporters.neurons.events` the input was sent with (``polarities``,
    ``polarity``, ``samples``, ``dt_us``, ``offset``, ``num_steps``).

    Raises
    ------
    EventsError
        A sender or time that no event of this shape and time grid can give.
    """
    spikes = recorded if isinstance(recorded, dict) else recorded.get("events")
    senders = np.asarray(spikes["senders"], dtype=np.int64) - int(first_id)
    return neurons.recorded(senders, spikes["times"], shape, delay_us=delay_us, **mapping)


def _nest() -> Any:
    try:
        import nest
    except ImportError:
        raise DependencyError(
            'driving NEST needs the nest-simulator package: pip install "eventcode[nest]"'
        ) from None
    return nest
