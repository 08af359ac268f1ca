"""Event addresses as the neuron indices and spike times that simulators and chips take, and back.

One mapping serves every simulator adapter (NEST, PyNN, Brian2, Lava, Xylo, NIR, plain spike
lists):

- **Neuron index.** An address maps to its row-major flat index over ``(c, y, x)`` of the sample
  shape (:func:`eventcode.address.flat`). ``polarity`` says what becomes of ON and OFF:
  ``"merge"`` puts both on the address's neuron, ``"on"`` keeps ON events only, ``"split"`` uses
  twice as many neurons, OFF first then ON (Tonic's frame order): ON events of address ``n`` go
  to neuron ``numel + n``. A 1-polarity sensor (or events without polarity) has one block. With
  ``stack=True`` the samples of a batch follow each other: sample ``b`` uses neurons
  ``b * per_sample .. (b + 1) * per_sample - 1``, one input for all of them.
- **Time.** Step ``k`` goes to ``(k + offset) * dt_us`` microseconds, ``offset=1`` by default:
  NEST refuses a spike at t = 0 and PyNN drops it silently. Microsecond events keep their times.
  :func:`on_grid` rounds onto a simulator's time grid and applies a ``duplicates`` policy to two
  spikes of one neuron in one bin.

:func:`spikes` gives ``(sample, neuron, time_us)``; :func:`events` turns recorded ``(neuron,
time)`` back into :class:`~eventcode.Events`; :func:`spike_list` is the plain structured array
``(neuron, t)`` for any other tool.

Examples
--------
>>> from eventcode import Events
>>> from exporters import neurons
>>> ev = Events(t=[0, 2], x=[1, 0], y=[0, 1], p=[1, 0], shape=(2, 2), num_steps=3)
>>> sample, neuron, time_us = neurons.spikes(ev, polarity="split", dt_us=1000)
>>> neuron.tolist(), time_us.tolist()  # OFF block 0-3, ON block 4-7; step k at (k + 1) ms
([5, 2], [1000, 3000])
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from eventcode import address
from eventcode.errors import EventsError, OptionError
from eventcode.options import events_argument, positive_int

if TYPE_CHECKING:
    from eventcode import Events

PolarityMapping = Literal["merge", "on", "split"]
"""What becomes of ON and OFF events: one neuron per address, ON only, or an OFF and an ON block."""

Duplicates = Literal["error", "merge", "keep"]
"""Two spikes of one neuron in one time bin: refuse them, keep one, or keep both."""

SPIKE_LIST = np.dtype([("neuron", np.int64), ("t", np.float64)])
"""The plain spike list :func:`spike_list` gives: a neuron index and a time (in the unit asked)."""

_MAPPINGS = ("merge", "on", "split")
_DUPLICATES = ("error", "merge", "keep")


def blocks(polarities: int, polarity: PolarityMapping) -> int:
    """Neuron blocks per address: 2 for ``"split"`` of OFF/ON events, else 1."""
    if polarity not in _MAPPINGS:
        raise OptionError(f"polarity must be one of {_MAPPINGS}, got {polarity!r}")
    return 2 if polarity == "split" and polarities == 2 else 1


def neurons_per_sample(shape: tuple[int, ...], polarities: int, polarity: PolarityMapping) -> int:
    """The neurons one sample's input needs: the sample's addresses times :func:`blocks`.

    Examples
    --------
    >>> from exporters.neurons import neurons_per_sample
    >>> neurons_per_sample((2, 34, 34), 2, "split"), neurons_per_sample((700,), 1, "split")
    (4624, 700)
    """
    return math.prod(shape) * blocks(polarities, polarity)


def spikes(
    events: Events,
    polarity: PolarityMapping = "merge",
    *,
    stack: bool = False,
    dt_us: int | None = None,
    offset: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(sample, neuron, time_us)`` int64 arrays, one entry per event kept, in the events' order.

    Parameters
    ----------
    events : Events
        Step-time events (give ``dt_us``) or microsecond events.
    polarity : {"merge", "on", "split"}
        See the module docstring; ``"on"`` drops OFF events.
    stack : bool
        Number the neurons of sample ``b`` from ``b * neurons_per_sample`` (one input for the
        batch); else every sample's neurons start at 0.
    dt_us : int, optional
        Microseconds per step, required for step-time events.
    offset : int
        Steps added before scaling: step ``k`` is sent at ``(k + offset) * dt_us``. Default 1,
        because NEST refuses t = 0 and PyNN drops it.

    Raises
    ------
    OptionError
        Step-time events without ``dt_us``, a bad ``dt_us`` or ``offset``, an unknown ``polarity``.

    Examples
    --------
    >>> import torch
    >>> from eventcode import Events
    >>> from exporters.neurons import spikes
    >>> batch = Events.from_dense(torch.eye(2)[:, :, None])  # T = 2, two samples of one neuron
    >>> sample, neuron, time_us = spikes(batch, stack=True, dt_us=500)
    >>> sample.tolist(), neuron.tolist(), time_us.tolist()
    ([0, 1], [0, 1], [500, 1000])
    """
    events_argument("spikes", events)
    per_block = math.prod(events.shape)
    per_sample = neurons_per_sample(events.shape, events.polarities, polarity)
    columns = {name: column.cpu().numpy() for name, column in events.columns().items()}
    sample = events.sample_ids().cpu().numpy()
    flat = address.flat(events.x, events.y, events.c, events.shape).cpu().numpy()
    if blocks(events.polarities, polarity) == 2:
        flat = flat + columns["p"] * per_block
    keep = columns["p"] if polarity == "on" and events.polarities == 2 else slice(None)
    sample, flat, t = sample[keep], flat[keep], columns["t"][keep]
    neuron = flat + sample * per_sample if stack else flat
    return sample, neuron, times_us(t, events.time_unit, dt_us, offset)


def times_us(t: np.ndarray, time_unit: str, dt_us: int | None, offset: int = 1) -> np.ndarray:
    """Event times in microseconds: steps ``k`` at ``(k + offset) * dt_us``, microseconds as they are.

    Raises
    ------
    OptionError
        Step time without ``dt_us``, a ``dt_us`` that is not a positive whole number, a negative
        ``offset``, or microsecond events given ``dt_us``.
    """
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise OptionError(f"offset must be a non-negative int (steps added before scaling), got {offset!r}")
    if time_unit == "us":
        if dt_us is not None:
            raise OptionError("dt_us is for step-time events; these events are in microseconds already")
        return np.asarray(t, dtype=np.int64)
    if dt_us is None:
        raise OptionError(
            "step-time events need dt_us, the microseconds per step, to be sent in simulator time "
            "(e.g. dt_us=1000 for 1 ms steps)"
        )
    step = positive_int("dt_us", dt_us, "microseconds per step")
    return (np.asarray(t, dtype=np.int64) + offset) * step


def on_grid(
    neuron: np.ndarray,
    time_us: np.ndarray,
    resolution_us: int,
    duplicates: Duplicates = "error",
    rounding: Literal["up", "down"] = "up",
) -> tuple[np.ndarray, np.ndarray]:
    """Times rounded onto a simulator's grid of ``resolution_us``, with the duplicates policy applied.

    Parameters
    ----------
    neuron, time_us : int arrays
        One spike per entry (as :func:`spikes` gives them).
    resolution_us : int
        The grid step (NEST's resolution, Brian2's ``dt``), in microseconds.
    duplicates : {"error", "merge", "keep"}
        Two spikes of one neuron in one bin: raise :class:`EventsError` naming the neuron and the
        time (Brian2 would raise at ``run()``), keep one, or keep both (NEST delivers both).
    rounding : {"up", "down"}
        Off-grid times go to the next grid point (NEST's ``allow_offgrid_times``) or the one below
        (Brian2 floors).

    Returns
    -------
    (neuron, time_us)
        Sorted by neuron, then time.

    Examples
    --------
    >>> import numpy as np
    >>> from exporters.neurons import on_grid
    >>> on_grid(np.array([3, 3, 1]), np.array([1040, 1090, 500]), 100, duplicates="merge")
    (array([1, 3]), array([ 500, 1100]))
    """
    if duplicates not in _DUPLICATES:
        raise OptionError(f"duplicates must be one of {_DUPLICATES}, got {duplicates!r}")
    if rounding not in ("up", "down"):
        raise OptionError(f"rounding must be 'up' or 'down', got {rounding!r}")
    grid = positive_int("resolution_us", resolution_us, "microseconds")
    times = np.asarray(time_us, dtype=np.int64)
    snapped = -(-times // grid) * grid if rounding == "up" else times // grid * grid
    neuron = np.asarray(neuron)
    order = np.argsort(neuron, kind="stable")  # spikes come in time order: keeps it per neuron
    neuron, snapped = neuron[order], snapped[order]
    later = (neuron[1:] != neuron[:-1]) | (snapped[1:] >= snapped[:-1])
    if not later.all():  # times out of order within a neuron: sort by both
        order = np.lexsort((snapped, neuron))
        neuron, snapped = neuron[order], snapped[order]
    repeated = np.zeros(len(neuron), dtype=bool)
    repeated[1:] = (neuron[1:] == neuron[:-1]) & (snapped[1:] == snapped[:-1])
    if duplicates == "error" and repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        raise EventsError(
            f"neuron {int(neuron[i])} spikes twice in the bin at {int(snapped[i])} us (grid {grid} us); "
            "pass duplicates='merge' to keep one spike (or 'keep' where the simulator takes both)"
        )
    if duplicates == "merge":
        return neuron[~repeated], snapped[~repeated]
    return neuron, snapped


def per_neuron_ms(
    events: Events,
    polarity: PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    offset: int = 1,
    resolution_us: int | None = None,
    duplicates: Duplicates = "keep",
    earliest_us: int = 0,
) -> list[list[float]]:
    """Each neuron's spike times in ms (samples stacked), built with one sort and one split.

    With ``resolution_us`` the times go onto that grid first (:func:`on_grid`, rounding up);
    without, they stay exact. A spike before ``earliest_us`` (PyNN drops those before its
    ``min_delay``) raises :class:`EventsError` naming the neuron and the time. The lists hold
    Python floats: simulators read them faster than arrays. See :func:`spikes` for the other
    arguments.

    Examples
    --------
    >>> from eventcode import Events
    >>> from exporters.neurons import per_neuron_ms
    >>> ev = Events(t=[40, 1090], x=[1, 1], y=[0, 0], p=[1, 1], shape=(2,))
    >>> per_neuron_ms(ev), per_neuron_ms(ev, resolution_us=100)
    ([[], [0.04, 1.09]], [[], [0.1, 1.1]])
    """
    _, neuron, time_us = spikes(events, polarity, stack=True, dt_us=dt_us, offset=offset)
    if len(time_us) and int(time_us.min()) < earliest_us:
        i = int(np.argmin(time_us))
        raise EventsError(
            f"neuron {int(neuron[i])} spikes at {int(time_us[i])} us, before the earliest time the "
            f"simulator keeps ({earliest_us} us); shift the events later (a t0_us, or a larger offset)"
        )
    if resolution_us is not None:
        neuron, time_us = on_grid(neuron, time_us, resolution_us, duplicates)
    else:
        order = np.argsort(neuron, kind="stable")  # time order is kept within each neuron
        neuron, time_us = neuron[order], time_us[order]
    count = events.num_samples * neurons_per_sample(events.shape, events.polarities, polarity)
    bounds = np.searchsorted(neuron, np.arange(count + 1)).tolist()
    times = (time_us / 1000.0).tolist()
    with collector_paused():  # 200,000 small lists: the cyclic collector would rescan them all
        return [times[a:b] for a, b in itertools.pairwise(bounds)]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while many acyclic containers are built (lists of
    floats, their dicts): each collection would rescan all of them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def spike_list(
    events: Events,
    polarity: PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    offset: int = 1,
    unit: Literal["us", "ms", "s"] = "ms",
) -> np.ndarray:
    """The events as a plain structured array ``(neuron, t)`` (:data:`SPIKE_LIST`) for any tool.

    Samples are stacked (sample ``b``'s neurons follow sample ``b - 1``'s); times are in
    ``unit``, sorted. See :func:`spikes` for the arguments.

    Examples
    --------
    >>> from eventcode import Events
    >>> from exporters.neurons import spike_list
    >>> ev = Events(t=[0, 1], x=[2, 0], y=[0, 0], p=[1, 1], shape=(3,), num_steps=2)
    >>> spike_list(ev, dt_us=1000).tolist()
    [(2, 1.0), (0, 2.0)]
    """
    scale = {"us": 1.0, "ms": 1e-3, "s": 1e-6}
    if unit not in scale:
        raise OptionError(f"unit must be one of {tuple(scale)}, got {unit!r}")
    _, neuron, time_us = spikes(events, polarity, stack=True, dt_us=dt_us, offset=offset)
    order = np.argsort(time_us, kind="stable")
    out = np.empty(len(order), dtype=SPIKE_LIST)
    out["neuron"], out["t"] = neuron[order], time_us[order] * scale[unit]
    return out


def raster(
    events: Events,
    polarity: PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    num_steps: int | None = None,
) -> np.ndarray:
    """The events as a ``[T, N]`` int64 raster of spike counts, one column per neuron (samples stacked).

    Row ``k`` holds step ``k`` of step-time events, or the bin ``[k * dt_us, (k + 1) * dt_us)`` of
    microsecond events. No offset is added: where a target sends row ``k`` later (Lava's
    ``RingBuffer`` sends it at step ``k + 1``), its adapter says so. ``T`` is ``num_steps``, else
    the events' ``num_steps``, else the last event's row + 1. Lava takes the transpose, Xylo the raster.

    Raises
    ------
    OptionError
        Microsecond events without ``dt_us``, step events with it, a bad ``num_steps``.
    EventsError
        An event at or after row ``num_steps``.

    Examples
    --------
    >>> from eventcode import Events
    >>> from exporters.neurons import raster
    >>> ev = Events(t=[0, 0, 2], x=[1, 1, 0], y=[0, 0, 0], p=[1, 0, 1], shape=(2,), num_steps=3)
    >>> raster(ev).tolist()  # two spikes of neuron 1 in step 0
    [[0, 2], [0, 0], [1, 0]]
    >>> raster(ev, "split").tolist()  # OFF block, then ON block
    [[0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 1, 0]]
    """
    events_argument("raster", events)
    if events.time_unit == "step":
        if dt_us is not None:
            raise OptionError(
                "dt_us is the row width of microsecond events; step events are on their grid already"
            )
        _, neuron, row = spikes(events, polarity, stack=True, dt_us=1, offset=0)
    else:
        if dt_us is None:
            raise OptionError(
                "microsecond events need dt_us, the width of a raster row in microseconds (e.g. dt_us=1000)"
            )
        _, neuron, time_us = spikes(events, polarity, stack=True)
        row = time_us // positive_int("dt_us", dt_us, "microseconds per row")
    width = events.num_samples * neurons_per_sample(events.shape, events.polarities, polarity)
    last = int(row.max()) + 1 if len(row) else 0
    if num_steps is not None:
        rows = positive_int("num_steps", num_steps)
    elif events.num_steps is not None:
        rows = events.num_steps
    else:  # every event's row, the OFF events polarity="on" drops included
        rows = int(events.t.max()) // dt_us + 1 if len(events) and dt_us else 0
    if last > rows:
        raise EventsError(
            f"an event falls in row {last - 1}, past the {rows} rows asked for; give more num_steps"
        )
    counts = np.bincount(row * width + neuron, minlength=rows * width)
    return counts.reshape(rows, width)


def from_raster(
    counts: np.ndarray, shape: tuple[int, ...], *, delay: int = 0, dt_us: int | None = None, **mapping: Any
) -> Events:
    """A ``[T, N]`` raster of spike counts (as :func:`raster` builds it, or a target records) back as events.

    ``delay`` is the rows the raster lags its input (a network's latency): the first ``delay`` rows
    must be empty and are dropped, and row ``k + delay`` becomes step ``k`` (``num_steps = T -
    delay``), or time ``k * dt_us`` with ``dt_us``. A count of ``n`` gives ``n`` events; float
    rasters (Lava records floats) must hold whole numbers. ``mapping`` takes the keywords of
    :func:`events` the input was sent with (``polarities``, ``polarity``, ``samples``).

    Raises
    ------
    OptionError
        A ``delay`` that is not an int from 0 to ``T``.
    EventsError
        A spike in the first ``delay`` rows (no input can have caused it), a count that is not a
        whole non-negative number, a raster that is not 2-D, or more columns than the samples have
        neurons.

    Examples
    --------
    >>> import numpy as np
    >>> from exporters.neurons import from_raster
    >>> back = from_raster(np.array([[0, 2], [0, 0], [1, 0]]), (2,))
    >>> back.t.tolist(), back.x.tolist(), back.num_steps
    ([0, 0, 2], [1, 1, 0], 3)
    """
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise EventsError(f"a raster is [T, N], one column per neuron; got shape {counts.shape}")
    whole = counts.dtype.kind in "biu" or (counts.dtype.kind == "f" and bool(np.all(np.mod(counts, 1) == 0)))
    if not whole or (counts.size and counts.min() < 0):
        raise EventsError(
            f"a raster holds non-negative whole spike counts; got {counts.dtype} values that are not"
        )
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= len(counts):
        raise OptionError(
            f"delay must be an int from 0 to the {len(counts)} rows recorded (steps the raster lags its "
            f"input), got {delay!r}"
        )
    early = np.argwhere(counts[:delay])
    if len(early):
        raise EventsError(
            f"neuron {early[0][1]} spikes in row {early[0][0]}, before the {delay}-step delay: no input "
            "event caused it; give the delay the raster has (e.g. 1 per layer between input and record)"
        )
    counts = counts[delay:]
    row, neuron = np.nonzero(counts)
    repeat = counts[row, neuron].astype(np.int64)
    row, neuron = np.repeat(row, repeat), np.repeat(neuron, repeat)
    if dt_us is None:
        return events(neuron, row, shape, dt_us=1, offset=0, num_steps=len(counts), **mapping)
    return events(neuron, row * positive_int("dt_us", dt_us, "microseconds per row"), shape, **mapping)


def recorded(
    neuron: np.ndarray, time_ms: np.ndarray, shape: tuple[int, ...], *, delay_us: int = 0, **mapping: Any
) -> Events:
    """Spikes a simulator recorded, ``neuron`` ids (from 0) at ``time_ms``, back as events:
    :func:`events` of the times in microseconds less ``delay_us`` (a synapse or parrot delay).

    ``mapping`` takes :func:`events`' keywords (``polarities``, ``polarity``, ``samples``,
    ``dt_us``, ``offset``, ``num_steps``): those the input was sent with.
    """
    time_us = np.rint(np.asarray(time_ms, dtype=np.float64) * 1000).astype(np.int64) - int(delay_us)
    return events(np.asarray(neuron, dtype=np.int64), time_us, shape, **mapping)


def events(
    neuron: np.ndarray,
    time_us: np.ndarray,
    shape: tuple[int, ...],
    *,
    polarities: int = 2,
    polarity: PolarityMapping = "merge",
    samples: int = 1,
    dt_us: int | None = None,
    offset: int = 1,
    num_steps: int | None = None,
) -> Events:
    """Recorded spikes ``(neuron, time_us)`` back as :class:`~eventcode.Events`: :func:`spikes` inverted.

    Neurons are numbered as :func:`spikes` numbers them with ``stack=True`` (one sample when
    ``samples=1``). With ``polarity="split"`` of OFF/ON events the block gives the polarity;
    otherwise every spike is ON, of a 1-polarity sensor when ``polarities=1`` and without
    polarity (``polarities=0``) when the ON/OFF distinction was merged or dropped. With
    ``dt_us`` the times go back to steps ``time_us / dt_us - offset`` (which must be whole),
    else they stay microseconds.

    Raises
    ------
    EventsError
        A neuron outside the ``samples`` blocks of ``shape``, a time that is not on the step grid
        or before step 0.

    Examples
    --------
    >>> import numpy as np
    >>> from exporters.neurons import events
    >>> back = events(np.array([5, 2]), np.array([1000, 3000]), (2, 2), polarity="split", dt_us=1000)
    >>> back.t.tolist(), back.x.tolist(), back.y.tolist(), back.p.tolist()
    ([0, 2], [1, 0], [0, 1], [True, False])
    """
    import torch

    from eventcode.events import Events

    count = positive_int("samples", samples)
    sample, t, flat, on = decode(
        neuron,
        time_us,
        shape,
        polarities=polarities,
        polarity=polarity,
        samples=count,
        dt_us=dt_us,
        offset=offset,
    )
    x, y, c = address.split(torch.from_numpy(flat), shape)
    counts = torch.from_numpy(np.bincount(sample, minlength=count))
    offsets = torch.zeros(count + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=offsets[1:])
    steps = num_steps if num_steps is not None else (int(t.max()) + 1 if len(t) and dt_us else 0)
    split = blocks(polarities, polarity) == 2
    return Events.from_columns(
        torch.from_numpy(t),
        x,
        y,
        torch.from_numpy(on),
        c=c,
        offsets=offsets,
        shape=shape,
        num_steps=steps if dt_us is not None else None,
        polarities=2 if split else (1 if polarities == 1 else 0),
        check="full",
    )


def decode(
    neuron: np.ndarray,
    time_us: np.ndarray,
    shape: tuple[int, ...],
    *,
    polarities: int = 2,
    polarity: PolarityMapping = "merge",
    samples: int = 1,
    dt_us: int | None = None,
    offset: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The numpy half of :func:`events` (no torch): ``(sample, t, flat address, on)`` checked and
    sorted by sample, time and address. See :func:`events` for the arguments and errors.

    Examples
    --------
    >>> import numpy as np
    >>> from exporters.neurons import decode
    >>> [a.tolist() for a in decode(np.array([5, 2]), np.array([1000, 3000]), (2, 2), polarity="split")]
    [[0, 0], [1000, 3000], [1, 2], [True, False]]
    """
    per_block = math.prod(shape)
    split = blocks(polarities, polarity) == 2
    per_sample = per_block * (2 if split else 1)
    neuron, time_us = np.asarray(neuron, dtype=np.int64), np.asarray(time_us, dtype=np.int64)
    count = positive_int("samples", samples)
    if len(neuron) and (neuron.min() < 0 or neuron.max() >= count * per_sample):
        i = int(np.argmax((neuron < 0) | (neuron >= count * per_sample)))
        raise EventsError(
            f"neuron {int(neuron[i])} is outside the {count * per_sample} neurons of {count} sample(s) of "
            f"shape {shape}"
        )
    sample, within = np.divmod(neuron, per_sample)
    block, flat = np.divmod(within, per_block)
    t = time_us
    if dt_us is not None:
        step = positive_int("dt_us", dt_us, "microseconds per step")
        whole, rest = np.divmod(time_us, step)
        t = whole - offset
        if len(t) and (rest.any() or t.min() < 0):
            i = int(np.argmax((rest != 0) | (t < 0)))
            raise EventsError(
                f"spike of neuron {int(neuron[i])} at {int(time_us[i])} us is not a step "
                f"(k + {offset}) * {step} us with k >= 0; give the dt_us and offset it was sent with"
            )
    order = np.lexsort((flat, t, sample))
    on = block[order] == 1 if split else np.ones(len(order), dtype=bool)
    return sample[order], t[order], flat[order], on
