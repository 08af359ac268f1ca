"""Lava 0.10 (Loihi 2): events as a source ``RingBuffer``'s data, and what a sink recorded back as events.

Neurons follow :mod:`exporters.neurons` (addresses row-major over ``(c, y, x)``, ON and OFF
merged or in two blocks, samples stacked); :func:`to_input` is the transpose of
:func:`exporters.neurons.raster`, ``[N, T]``, and :func:`from_output` goes back through
:func:`exporters.neurons.from_raster`.

**Timing** (measured with ``Loihi2SimCfg(select_tag="floating_pt")``). Lava counts time steps
from 1: a source ``lava.proc.io.source.RingBuffer`` sends column ``k`` at step ``k + 1``, and a
sink ``lava.proc.io.sink.RingBuffer`` stores what it receives at step ``s`` in column ``s - 1``.
Source -> sink therefore records column ``k`` in column ``k``: no shift. Each ``Dense`` adds one
step (it sends what it received the step before), a ``LIF`` none: source -> ``Dense`` -> ``LIF``
-> sink records the response to column ``k`` in column ``k + 1``; give that delay as
``from_output(..., delay=1)``.

**The buffers wrap.** Run ``R > T`` steps and the source starts again at column 0: step ``s``
sends column ``(s - 1) % T``; a sink of ``buffer`` columns writes step ``s`` in column
``(s - 1) % buffer``. To send every column exactly once, run ``T`` steps; to also record the
responses of a network that delays by ``d`` steps, build the input with ``num_steps=T + d`` (``d``
empty columns at the end), run ``T + d`` steps into a sink of ``buffer=T + d`` and read it back
with ``delay=d``.

**Counts.** A raster cell can hold several events (ON and OFF merged, or microsecond events in
one ``dt_us`` bin). The floating-point source sends the count as it is; a binary ``Dense``
(``num_message_bits=0``, Lava's default) takes any count as one spike, a graded one
(``num_message_bits=8``) multiplies its weights by the count. :func:`to_input`'s ``duplicates``
says what to do: ``"error"`` (the default) refuses, ``"merge"`` sends one spike, ``"keep"``
sends the count.

**Installing.** lava-nc 0.10 installs only on Python 3.10, with numpy < 2, so it seldom shares
eventcode's environment (``pip install "eventcode[lava]"`` cannot work on a newer Python). This
module never imports Lava: give Lava its own environment and pass the arrays as ``.npy`` files::

    # once: python3.10 -m venv .venv-lava && .venv-lava/bin/pip install lava-nc==0.10.0 "numpy<2"
    np.save("raster.npy", lava.to_input(events, dt_us=1000))  # in eventcode's environment
    # .venv-lava/bin/python network.py: source = RingBuffer(data=np.load("raster.npy")), ..., run,
    # np.save("out.npy", sink.data.get())  (tests/exporters/lava_network.py is such a script)
    back = lava.from_output(np.load("out.npy"), events.shape, dt_us=1000)

Examples
--------
>>> import numpy as np
>>> from eventcode import Events
>>> from exporters import lava
>>> events = Events(t=[0, 2], x=[1, 0], y=[0, 0], p=[1, 1], shape=(3,), num_steps=3)
>>> data = lava.to_input(events)  # RingBuffer(data=data): neuron 1 in column 0, neuron 0 in column 2
>>> data.tolist()
[[0, 0, 1], [1, 0, 0], [0, 0, 0]]
>>> recorded = data.astype(float)  # what source -> sink records, running 3 steps
>>> lava.from_output(recorded, (3,)).t.tolist()
[0, 2]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from eventcode.errors import EventsError, OptionError
from exporters import neurons

if TYPE_CHECKING:
    from eventcode import Events

_DUPLICATES = ("error", "merge", "keep")


def to_input(
    events: Events,
    polarity: neurons.PolarityMapping = "merge",
    *,
    dt_us: int | None = None,
    num_steps: int | None = None,
    duplicates: neurons.Duplicates = "error",
) -> np.ndarray:
    """The ``data`` of ``lava.proc.io.source.RingBuffer(data=...)``: an ``[N, T]`` int32 raster.

    Row ``n`` is neuron ``n`` (samples stacked: sample ``b`` drives neurons ``b * n_s .. (b + 1)
    * n_s - 1`` with ``n_s = neurons.neurons_per_sample(...)``), column ``k`` step ``k`` (or the
    microseconds ``[k * dt_us, (k + 1) * dt_us)``). The floating-point source model reads it as
    float, the fixed-point one as int32.

    Lava sends column ``k`` at its step ``k + 1`` and repeats from column 0 after ``T`` steps (see
    the module docstring): run ``T`` steps to send every column once, ``T + d`` with ``num_steps=T +
    d`` to also record the responses of a network that delays by ``d`` steps (1 per ``Dense``).

    Parameters
    ----------
    events : Events
        Step-time events, or microsecond events with ``dt_us``.
    polarity : {"merge", "on", "split"}
        As for :func:`exporters.neurons.spikes`.
    dt_us : int, optional
        The column width of microsecond events; step events take none.
    num_steps : int, optional
        Columns ``T``: default the events' ``num_steps``, else the last occupied column + 1.
        More columns are sent empty.
    duplicates : {"error", "merge", "keep"}
        A neuron with several events in one column: raise :class:`EventsError` (a binary
        ``Dense`` would see one spike), send one spike, or send the count (for a graded ``Dense``,
        ``num_message_bits > 0``, or a sink).

    Raises
    ------
    OptionError
        Microsecond events without ``dt_us``, step events with it, a bad ``num_steps`` or
        ``duplicates``, or no column at all (Lava's buffer needs one).
    EventsError
        An event past ``num_steps``; with ``duplicates="error"``, a count over 1 (naming it).

    Examples
    --------
    >>> from eventcode import Events
    >>> from exporters import lava
    >>> ev = Events(t=[100, 900, 2500], x=[0, 0, 1], y=[0, 0, 0], p=[1, 0, 1], shape=(2,))
    >>> lava.to_input(ev, "split", dt_us=1000, duplicates="keep").tolist()  # OFF block, ON block
    [[1, 0, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1]]
    >>> lava.to_input(ev, dt_us=1000, duplicates="keep").tolist()  # merged: 2 events in column 0
    [[2, 0, 0], [0, 0, 1]]
    >>> lava.to_input(ev, dt_us=1000, duplicates="merge", num_steps=4).tolist()
    [[1, 0, 0, 0], [0, 0, 1, 0]]
    """
    if duplicates not in _DUPLICATES:
        raise OptionError(f"duplicates must be one of {_DUPLICATES}, got {duplicates!r}")
    counts = neurons.raster(events, polarity, dt_us=dt_us, num_steps=num_steps)
    if not len(counts):
        raise OptionError(
            "Lava's RingBuffer needs at least one column and these events fill none; give num_steps"
        )
    if duplicates == "error" and counts.size and counts.max() > 1:
        step, neuron = np.unravel_index(int(np.argmax(counts > 1)), counts.shape)
        raise EventsError(
            f"neuron {neuron} has {counts[step, neuron]} events in column {step}, which a binary Dense "
            "takes as one spike; pass duplicates='merge' to send one or 'keep' to send the count"
        )
    if duplicates == "merge":
        np.minimum(counts, 1, out=counts)
    return np.ascontiguousarray(counts.T, dtype=np.int32)


def from_output(data: np.ndarray, shape: tuple[int, ...], *, delay: int = 0, **mapping: Any) -> Events:
    """What a ``lava.proc.io.sink.RingBuffer`` recorded (``sink.data.get()``) back as events.

    Column ``j`` of ``data`` is the step ``j - delay`` of the input: ``delay`` is the latency of the
    network between source and sink (0 for source -> sink, 1 through one ``Dense``, see the
    module docstring); the first ``delay`` columns must be empty and are dropped, so the events
    come back with ``num_steps = columns - delay``. A recorded value ``n`` (a graded spike, or a
    count sent through) gives ``n`` events.

    Parameters
    ----------
    data : array, ``[N, T]`` or ``[*sink shape, T]``
        Time last; the neuron axes are flattened row-major.
    shape : tuple of int
        The sample shape the neurons stand for (that of the events sent).
    delay : int
        Steps between sending a column and its effect reaching the sink.
    **mapping
        The keywords of :func:`exporters.neurons.from_raster` the input was sent with:
        ``polarities``, ``polarity``, ``samples``, and ``dt_us`` to give microsecond events
        (column ``k`` at ``k * dt_us``).

    Raises
    ------
    OptionError
        A ``delay`` that is not an int in ``[0, columns]``.
    EventsError
        A spike in the first ``delay`` columns, a value that is not a whole non-negative count, or
        more neurons than ``samples`` of ``shape`` have.

    Examples
    --------
    >>> import numpy as np
    >>> from exporters import lava
    >>> recorded = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])  # through a Dense
    >>> back = lava.from_output(recorded, (2,), delay=1)
    >>> back.t.tolist(), back.x.tolist(), back.num_steps
    ([0, 1], [1, 0], 3)
    """
    data = np.asarray(data)
    if data.ndim < 2:
        raise EventsError(f"a sink records [neurons, steps], time last; got shape {data.shape}")
    data = data.reshape(-1, data.shape[-1])
    return neurons.from_raster(data.T, shape, delay=delay, **mapping)
