"""SynSense Xylo through Rockpool 3.1's ``XyloSim``: events as its ``[T, Nin]`` input raster, and
a recorded spike raster back as events.

**Model.** The limits are Xylo™Audio 2's (SYNS61201), simulated bit-exactly by
``rockpool.devices.xylo.syns61201.XyloSim`` on the C++ core ``xylosim.v2``; the Xylo™IMU
simulator (``syns63300.XyloSim``, also exported for Xylo™Audio 3 as ``syns65302.XyloSim``) runs
on the same core. Rockpool's and xylosim's own constants:

- :data:`INPUT_CHANNELS` = 16 input channels: ``le_16_input_channels`` in
  ``rockpool/devices/xylo/syns61201/xylo_mapper.py``. ``XyloSim`` itself takes any number.
- :data:`MAX_INPUT_COUNT` = 15 input events per channel per step: ``MAX_NUM_INP_SPIKES`` in
  xylosim 0.1.3's ``src/v2/cpp/XyloIAFNeuron.h`` ("Up to 15 input events can be sent per bin",
  ``XyloSamna.evolve`` in ``syns61201/xylo_samna.py``). Measured: ``XyloSim`` clips a larger count
  to 15 without a word; a count above 255 or below 0 is a ``TypeError`` (the raster goes to C++
  as uint8), a fraction is truncated (``astype(int)``).
- 1000 hidden and 8 readout neurons (``mapper(max_hidden_neurons=1000,
  max_output_neurons=8)``, same file); a hidden neuron spikes at most 31 times in a step
  (``MAX_NUM_SPIKES``), a readout neuron once (``MAX_NUM_OUT_SPIKES``).

Neurons and rows follow :mod:`exporters.neurons` (:func:`~exporters.neurons.raster`): channel
``n`` is neuron ``n`` (addresses row-major over ``(c, y, x)``, ON and OFF merged or in two
blocks), the samples of a batch side by side, so all of them share the 16 channels; send a larger
batch one sample at a time (``events[b]``, resetting the simulator in between). Row ``k`` is step
``k``, or the bin ``[k * dt_us, (k + 1) * dt_us)`` of microsecond events, which come back at the
bin's start (rounded down); ``XyloSim(dt=...)`` only labels the rows.

**Timing (measured).** In step ``k`` the input row reaches the hidden neurons' synaptic
currents, which decay (by ``v >> dash_syn``, at least 1) before joining the membrane, so a hidden
neuron driven hard enough spikes in step ``k`` itself (``rec["Spikes"][k]``: ``delay=0``). Hidden
spikes reach the readout (and recurrent synapses) in step ``k + 1``: the output raster is one
step late (``delay=1``, :data:`READOUT_DELAY`); give one step more (``num_steps=T + 1``) to see
the readout of the last step. ``dash_syn=0``, ``from_specification``'s default, decays the whole
current before it joins the membrane: the input then has no effect. With ``dash_syn=1`` half the
current carries over to the next step; a neuron repeats its channel's counts exactly (0-15, in
the same step) with input weight ``2a``, threshold ``a``, ``dash_mem=0`` and a recurrent weight
``-a`` onto itself, which takes that half out again (the tests' relay layer).

**samna.** ``rockpool.devices.xylo`` imports SynSense's ``samna`` unconditionally, and every
samna on the package registry is a stub that downloads the real library at import. Without it,
put a stand-in module in ``sys.modules`` before importing ``XyloSim`` (the tests do:
``tests/exporters/samna_stub.py``). This module imports neither: it builds and reads numpy
arrays. Running ``XyloSim`` needs the ``xylo`` extra (``pip install "eventcode[xylo]"``:
Rockpool without its ``nir`` extra, which pins an older NIR, and the ``xylosim`` sdist, which
compiles C++ for about a minute and a half).

Examples
--------
>>> from eventcode import Events
>>> from exporters import xylo
>>> events = Events(t=[0, 0, 2], x=[1, 1, 0], y=[0, 0, 0], p=[1, 0, 1], shape=(2,), num_steps=3)
>>> xylo.to_input(events).tolist()  # [T, Nin]: what XyloSim(...)(raster) takes
[[0, 2], [0, 0], [1, 0]]
>>> back = xylo.from_output(xylo.to_input(events), (2,))  # as rec["Spikes"] would hold it
>>> back.t.tolist(), back.x.tolist()
([0, 0, 2], [1, 1, 0])
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from eventcode.errors import EventsError, OptionError
from eventcode.options import events_argument
from exporters import neurons

if TYPE_CHECKING:
    from eventcode import Events

INPUT_CHANNELS = 16
"""Xylo™Audio 2's input channels (Rockpool's ``le_16_input_channels``)."""

MAX_INPUT_COUNT = 15
"""Input events one channel takes in one step (xylosim's ``MAX_NUM_INP_SPIKES``)."""

READOUT_DELAY = 1
"""Steps the readout (``XyloSim``'s output raster) lags the hidden layer and the input."""


def to_input(
    events: Events,
    polarity: neurons.PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    num_steps: int | None = None,
    clip: bool = False,
    check_limits: bool = True,
) -> np.ndarray:
    """The ``[T, Nin]`` int64 raster of input event counts that ``XyloSim`` (and Xylo) takes.

    Parameters
    ----------
    events : Events
        Step-time events, or microsecond events with ``dt_us``.
    polarity : {"merge", "on", "split"}
        ON and OFF on one channel per address, ON only, or an OFF and an ON block.
    dt_us : int, optional
        Microseconds per row, for microsecond events only.
    num_steps : int, optional
        Rows ``T``; default the events' ``num_steps``, else the last occupied row + 1.
    clip : bool
        Clip counts above :data:`MAX_INPUT_COUNT` to it (what ``XyloSim`` does silently) instead
        of raising.
    check_limits : bool
        Refuse more than :data:`INPUT_CHANNELS` channels; ``False`` builds the raster anyway (for
        a simulated core larger than the chip).

    Raises
    ------
    OptionError
        More channels than Xylo has (with ``check_limits``), an unknown ``polarity``, step events
        with ``dt_us`` or microsecond events without it, a bad ``num_steps``.
    EventsError
        A channel with more than 15 events in one step (without ``clip``), naming the first, or
        an event at or after row ``num_steps``.

    Examples
    --------
    >>> from eventcode import Events
    >>> from exporters.xylo import to_input
    >>> events = Events(t=[100, 900, 2500], x=[0, 0, 1], y=[0, 0, 0], p=[1, 1, 0], shape=(2,))
    >>> to_input(events, "split", dt_us=1000).tolist()  # OFF block (2 channels), then ON block
    [[0, 0, 2, 0], [0, 0, 0, 0], [0, 1, 0, 0]]
    """
    events_argument("xylo.to_input", events)
    per_sample = neurons.neurons_per_sample(events.shape, events.polarities, polarity)
    channels = events.num_samples * per_sample
    if check_limits and channels > INPUT_CHANNELS:
        ways = ["fewer neurons (a smaller shape, e.g. pooled)"]
        ways += ["polarity='merge' instead of 'split'"] if per_sample > math.prod(events.shape) else []
        ways += ["one sample at a time (events[b])"] if events.num_samples > 1 else []
        raise OptionError(
            f"Xylo takes at most {INPUT_CHANNELS} input channels, but {events.num_samples} sample(s) "
            f"of shape {events.shape} with polarity={polarity!r} need {channels}; use "
            f"{', '.join(ways)}, or check_limits=False for a larger simulated core"
        )
    counts = neurons.raster(events, polarity, dt_us=dt_us, num_steps=num_steps)
    over = counts > MAX_INPUT_COUNT
    if over.any():
        if not clip:
            step, channel = divmod(int(np.argmax(over)), channels)
            sample, neuron = divmod(channel, per_sample)
            start = f" (from {step * dt_us} us)" if dt_us is not None else ""
            raise EventsError(
                f"channel {channel} (sample {sample}, neuron {neuron}) gets {int(counts[step, channel])} "
                f"events in step {step}{start}; Xylo takes at most {MAX_INPUT_COUNT} per channel and step "
                "(XyloSim drops the rest silently): give clip=True to clip them, or spread them over more "
                "steps"
            )
        np.minimum(counts, MAX_INPUT_COUNT, out=counts)
    return counts


def from_output(
    spikes: np.ndarray, shape: tuple[int, ...], *, delay: int = 0, dt_us: int | None = None, **mapping: Any
) -> Events:
    """A spike raster ``XyloSim`` recorded, ``[T, N]`` (``rec["Spikes"]`` or the readout), back as events.

    Column ``n`` is neuron ``n`` of :func:`to_input`'s numbering (slice the columns that mirror
    the input first). Row ``k + delay`` becomes step ``k`` (time ``k * dt_us`` with ``dt_us``),
    a count of ``c`` gives ``c`` events; ``num_steps`` is ``T - delay``.

    Parameters
    ----------
    spikes : array [T, N]
        Spike counts: ``rec["Spikes"]`` (``delay=0``), or the output raster (``delay=1``,
        :data:`READOUT_DELAY`).
    shape : tuple of int
        The sample shape the input was sent with.
    delay : int
        Steps the raster lags the input.
    dt_us : int, optional
        Microseconds per row: events come back in microseconds, at the start of their row.
    **mapping
        The keywords of :func:`exporters.neurons.events` the input was sent with
        (``polarities``, ``polarity``, ``samples``).

    Raises
    ------
    OptionError
        A ``delay`` that is not an int from 0 to ``T``.
    EventsError
        A spike in the first ``delay`` rows (no input can have caused it), a raster that is not
        ``[T, N]`` of non-negative whole counts, or more columns than the samples have neurons.

    Examples
    --------
    >>> import numpy as np
    >>> from exporters.xylo import from_output
    >>> out = np.array([[0, 0], [1, 0], [0, 0], [0, 1]])  # readout: one step late
    >>> back = from_output(out, (2,), delay=1)
    >>> back.t.tolist(), back.x.tolist(), back.num_steps
    ([0, 2], [0, 1], 3)
    """
    return neurons.from_raster(spikes, shape, delay=delay, dt_us=dt_us, **mapping)
