"""PyNN 0.13: events as a ``SpikeSourceArray``'s spike trains, and recorded spikes (neo) back as events.

Neurons and times follow :mod:`exporters.neurons` (step ``k`` at ``(k + offset) * dt_us``,
offset 1: PyNN silently drops a spike at t = 0, and any before its ``min_delay``; ours raises
for those). PyNN's default ``spike_precision="off_grid"`` keeps off-grid times, so times go over
exactly, in ms. Needs the ``sim`` extra (PyNN on NEST).

Examples
--------
>>> from eventcode import Events
>>> from exporters import pynn
>>> events = Events(t=[0, 2], x=[1, 0], y=[0, 0], p=[1, 1], shape=(3,), num_steps=3)
>>> [train.value.tolist() for train in pynn.to_input(events, dt_us=1000)]
[[3.0], [1.0], []]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from eventcode.errors import DependencyError, FileFormatError
from eventcode.options import events_argument
from exporters import neurons

if TYPE_CHECKING:
    from eventcode import Events


def to_input(
    events: Events,
    polarity: neurons.PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    offset: int = 1,
    min_delay_us: int = 100,
) -> list[Any]:
    """The ``spike_times`` of ``SpikeSourceArray(spike_times=...)``: a ``Sequence`` per neuron.

    Samples are stacked (sample ``b`` drives neurons ``b * n .. (b + 1) * n - 1``); see
    :func:`exporters.neurons.spikes` for the arguments. PyNN drops spikes before its
    ``min_delay`` in silence: a spike before ``min_delay_us`` raises
    :class:`~eventcode.errors.EventsError` instead.
    """
    events_argument("pynn.to_input", events)
    sequence = _pynn().parameters.Sequence
    per_neuron = neurons.per_neuron_ms(events, polarity, dt_us=dt_us, offset=offset, earliest_us=min_delay_us)
    with neurons.collector_paused():
        return [sequence(times) for times in per_neuron]


def source(
    events: Events,
    sim: Any,
    polarity: neurons.PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    offset: int = 1,
) -> Any:
    """A ``sim.Population`` of ``SpikeSourceArray`` neurons sending the events (``sim``: ``pyNN.nest``)."""
    trains = to_input(events, polarity, dt_us=dt_us, offset=offset)
    return sim.Population(len(trains), sim.SpikeSourceArray(spike_times=trains))


def from_output(recorded: Any, shape: tuple[int, ...], *, delay_us: int = 0, **mapping: Any) -> Events:
    """Spikes a population recorded (its neo ``Block`` from ``get_data("spikes")``, or a
    ``Segment``) back as events; spike train ``i`` is neuron ``i`` of :func:`to_input`.

    ``delay_us`` is taken off every time first; ``mapping`` takes the keywords of
    :func:`exporters.neurons.events` the input was sent with (``polarities``, ``polarity``,
    ``samples``, ``dt_us``, ``offset``, ``num_steps``).

    Raises
    ------
    FileFormatError
        A spike train without PyNN's ``source_index`` annotation.
    EventsError
        A neuron or time that no event of this shape and time grid can give.
    """
    segment = recorded.segments[0] if hasattr(recorded, "segments") else recorded
    neuron, time_ms = [np.zeros(0, np.int64)], [np.zeros(0)]
    for train in segment.spiketrains:
        if "source_index" not in train.annotations:
            raise FileFormatError("a recorded spike train lacks PyNN's source_index annotation")
        times = np.asarray(train.rescale("ms").magnitude, dtype=np.float64)
        neuron.append(np.full(len(times), int(train.annotations["source_index"]), dtype=np.int64))
        time_ms.append(times)
    return neurons.recorded(
        np.concatenate(neuron), np.concatenate(time_ms), shape, delay_us=delay_us, **mapping
    )


def _pynn() -> Any:
    try:
        import pyNN.parameters
    except ImportError:
        raise DependencyError('driving PyNN needs the PyNN package: pip install "eventcode[sim]"') from None
    return pyNN
