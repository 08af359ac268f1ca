"""Brian2 2.9: events as a ``SpikeGeneratorGroup``'s indices and times, and a ``SpikeMonitor``'s spikes back.

Neurons and times follow :mod:`exporters.neurons`: addresses row-major over ``(c, y, x)``, ON and
OFF merged, ON only or in two blocks (OFF first), samples stacked (sample ``b`` drives neurons
``b * n .. (b + 1) * n - 1``), step ``k`` at ``(k + offset) * dt_us`` (offset 1 as for every
simulator; Brian2 itself takes t = 0, so ``offset=0`` works too).

Time rules (measured with Brian2 2.9):

- A ``SpikeGeneratorGroup`` sends a spike in the time step its time falls in: Brian2 floors onto
  its ``dt`` grid (with a tolerance of ``dt / 1000``, so a time just below a grid point goes up).
  :func:`to_input` floors in integer microseconds itself (:func:`exporters.neurons.on_grid`,
  ``rounding="down"``) and hands Brian2 times on the grid, so a ``SpikeMonitor`` on the group
  records exactly the times :func:`to_input` returns.
- A neuron driven by the group through a synapse without delay fires one ``dt`` later; a synapse
  ``delay`` adds its value. Give that as ``delay_us`` to :func:`from_output`.
- Two spikes of one neuron in one time step: Brian2 raises at ``run()`` (a ``BrianObjectException``
  from the ``ValueError`` "spike more than once during a time step"). ``duplicates="error"`` (the
  default) raises :class:`~eventcode.errors.EventsError` at export instead, naming the neuron and
  the time; ``"merge"`` keeps one spike; ``"keep"`` passes both on, which Brian2 refuses.

Times are Brian2 quantities in seconds when Brian2 is installed, else plain float seconds (what
``np.asarray`` of the quantity gives); :func:`generator` builds the group in one call. Needs
the ``brian2`` extra (``pip install "eventcode[brian2]"``); Brian2 2.9 needs numpy < 2.4 (numpy
2.4 removed ``ndarray.ptp``), so it lives best in its own environment. Tests and quick runs want
``brian2.prefs.codegen.target = "numpy"``: the default Cython target compiles for a minute and
more on first use.

Examples
--------
>>> import numpy as np
>>> from eventcode import Events
>>> from exporters import brian2
>>> events = Events(t=[0, 2], x=[1, 0], y=[0, 0], p=[1, 1], shape=(3,), num_steps=3)
>>> indices, times = brian2.to_input(events, dt_us=1000)  # SpikeGeneratorGroup(3, indices, times)
>>> indices.tolist(), np.asarray(times).tolist()  # in time order; seconds
([1, 0], [0.001, 0.003])
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from eventcode.errors import DependencyError, OptionError
from eventcode.options import events_argument
from exporters import neurons

if TYPE_CHECKING:
    from eventcode import Events

RESOLUTION_US = 100
"""Brian2's default ``defaultclock.dt``, 0.1 ms."""


def to_input(
    events: Events,
    polarity: neurons.PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    offset: int = 1,
    resolution_us: int = RESOLUTION_US,
    duplicates: neurons.Duplicates = "error",
) -> tuple[np.ndarray, Any]:
    """``(indices, times)`` for ``SpikeGeneratorGroup(n, indices, times, sorted=True)``.

    The group needs ``n = events.num_samples * neurons.neurons_per_sample(events.shape,
    events.polarities, polarity)`` neurons (:func:`generator` counts them for you).

    Parameters
    ----------
    events : Events
        Step-time events (give ``dt_us``) or microsecond events.
    polarity, dt_us, offset
        As for :func:`exporters.neurons.spikes`.
    resolution_us : int
        The group's ``dt`` in microseconds (Brian2's default 0.1 ms is 100); times are floored onto it.
    duplicates : {"error", "merge", "keep"}
        Two spikes of one neuron in one time step (see the module docstring): Brian2 itself
        refuses them at ``run()``.

    Returns
    -------
    (indices, times)
        int64 neuron indices and their times, sorted by time then index: a Brian2 quantity in
        seconds when Brian2 is installed, else a float64 array of seconds.

    Raises
    ------
    OptionError
        Step events without ``dt_us``, a bad ``dt_us``, ``offset`` or ``resolution_us``.
    EventsError
        With ``duplicates="error"``, two spikes of one neuron in one time step (naming the neuron and
        the time).
    DependencyError
        Brian2 is installed but does not import (Brian2 2.9 with numpy 2.4).
    """
    events_argument("brian2.to_input", events)
    _, neuron, time_us = neurons.spikes(events, polarity, stack=True, dt_us=dt_us, offset=offset)
    neuron, time_us = neurons.on_grid(neuron, time_us, resolution_us, duplicates, rounding="down")
    order = np.lexsort((neuron, time_us))
    seconds = time_us[order] / 1e6  # a correctly rounded division: a multiple of dt stays in its step
    brian2 = _brian2(required=False)
    return neuron[order], seconds if brian2 is None else seconds * brian2.second


def generator(
    events: Events,
    polarity: neurons.PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    offset: int = 1,
    duplicates: neurons.Duplicates = "error",
    dt: Any = None,
    **options: Any,
) -> Any:
    """A ``SpikeGeneratorGroup`` sending the events, with one neuron per address (and block, and sample).

    ``dt`` (a Brian2 time) and ``options`` (``name``, ``when``, ``order``, ``clock``) go to the
    group; its time step (``defaultclock.dt`` unless given) is the grid the times are floored
    onto. Connect it one to one to a group of ``len(group)`` neurons, e.g. ``Synapses(group,
    target, on_pre="v += w").connect(j="i")``. See :func:`to_input` for the other arguments.

    Raises
    ------
    OptionError
        A group ``dt`` that is not a whole number of microseconds, and :func:`to_input`'s errors.
    DependencyError
        Brian2 is not installed, or does not import (Brian2 2.9 with numpy 2.4).
    """
    brian2 = _brian2()
    events_argument("brian2.generator", events)
    step = dt if dt is not None else options["clock"].dt if "clock" in options else brian2.defaultclock.dt
    step_us = float(step) * 1e6
    if not math.isclose(step_us, round(step_us), abs_tol=1e-6) or round(step_us) < 1:
        raise OptionError(
            f"the group's dt is {step_us:g} us, not a whole number of microseconds; pick a dt such as "
            "0.1*ms or 25*us"
        )
    indices, times = to_input(
        events, polarity, dt_us=dt_us, offset=offset, resolution_us=round(step_us), duplicates=duplicates
    )
    count = events.num_samples * neurons.neurons_per_sample(events.shape, events.polarities, polarity)
    return brian2.SpikeGeneratorGroup(count, indices, times, dt=dt, sorted=True, **options)


def from_output(recorded: Any, shape: tuple[int, ...], *, delay_us: int = 0, **mapping: Any) -> Events:
    """A ``SpikeMonitor``'s spikes (the monitor, or an ``(indices, times)`` pair with times in
    seconds) back as events; index ``i`` is neuron ``i`` of :func:`to_input`.

    ``delay_us`` is taken off every time first: one ``dt`` for a neuron the group drives, plus
    any synapse delay. ``mapping`` takes the keywords of :func:`exporters.neurons.events` the
    input was sent with (``polarities``, ``polarity``, ``samples``, ``dt_us``, ``offset``,
    ``num_steps``).

    Raises
    ------
    EventsError
        An index or time that no event of this shape and time grid can give.

    Examples
    --------
    >>> from exporters import brian2
    >>> back = brian2.from_output(([1, 0], [0.001, 0.003]), (3,), dt_us=1000)
    >>> back.t.tolist(), back.x.tolist()
    ([0, 2], [1, 0])
    """
    indices, times = recorded if isinstance(recorded, tuple) else (recorded.i, recorded.t)
    time_ms = np.asarray(times, dtype=np.float64) * 1e3
    return neurons.recorded(np.asarray(indices, dtype=np.int64), time_ms, shape, delay_us=delay_us, **mapping)


def _brian2(required: bool = True) -> Any:
    """The brian2 module; ``None`` when it is not installed and not ``required``."""
    try:
        import brian2
    except ImportError:
        if not required:
            return None
        raise DependencyError(
            'driving Brian2 needs the brian2 package: pip install "eventcode[brian2]" (Brian2 2.9 needs '
            "numpy < 2.4)"
        ) from None
    except AttributeError as err:  # Brian2 2.9 under numpy 2.4: ndarray.ptp is gone
        raise DependencyError(
            f"Brian2 does not import with numpy {np.__version__} ({err}); Brian2 2.9 needs numpy < 2.4: "
            'pip install "numpy<2.4", best in an environment of its own'
        ) from err
    return brian2
