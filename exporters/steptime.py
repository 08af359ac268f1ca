"""Step time in a microsecond file: step ``k`` stored at ``t0_us + k * dt_us`` us, as eventcode's
AEDAT writers record it, so that reading returns steps again.

Examples
--------
>>> from exporters.steptime import StepTime, recorded
>>> steps = recorded(dt_us=1000, t0_us=500, num_steps=30)
>>> steps
StepTime(num_steps=30, dt_us=1000, t0_us=500)
>>> steps.last_us, steps.beyond(0, 1 << 14)
(29500, 29500)
>>> window_us((2, None), steps, 0, 1 << 62)
(2500, None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, cast

from eventcode import address
from eventcode.errors import ExportError
from exporters.options import step_us

if TYPE_CHECKING:
    import numpy as np

    from eventcode.events import Events

Window = tuple[int | None, int | None]
"""A half-open time window ``(t_start, t_end)``; None leaves a side open."""


class StepTime(NamedTuple):
    """A step-time stream as eventcode records it: step ``k`` is at ``t0_us + k * dt_us`` us."""

    num_steps: int
    dt_us: int
    t0_us: int

    @property
    def last_us(self) -> int:
        """The time of the last step (of step 0 when there are none), in microseconds."""
        return self.t0_us + max(self.num_steps - 1, 0) * self.dt_us

    def beyond(self, low: int, high: int) -> int | None:
        """The first of the step times ``t0_us`` and :attr:`last_us` outside ``[low, high)``, or None
        when every step's time lies in it."""
        return next((t for t in (self.t0_us, self.last_us) if not low <= t < high), None)


def recorded(dt_us: object, t0_us: int, num_steps: int | None) -> StepTime | None:
    """The step time a writer records for its ``dt_us``, ``t0_us`` and ``num_steps`` (None without ``dt_us``).

    Raises
    ------
    OptionError
        ``dt_us`` not a positive whole number of microseconds.
    ExportError
        ``dt_us`` without ``num_steps``.
    """
    dt = step_us(dt_us)
    if dt is None:
        return None
    if num_steps is None:
        raise ExportError("a step-time stream needs num_steps with dt_us, to read back as steps")
    return StepTime(int(num_steps), dt, int(t0_us))


INT64_TIMES = (-(1 << 63), 1 << 63)
"""The times ``[low, high)`` of int64 microseconds."""


def read_back(num_steps: int, dt_us: int, t0_us: int, times: tuple[int, int] = INT64_TIMES) -> StepTime:
    """The step time a file records, checked as its reader finds it.

    Raises
    ------
    ValueError
        ``num_steps`` below 0, ``dt_us`` below 1, or the first or last step's time outside the
        file's ``times`` ``[low, high)``; the reader raises it again as
        :class:`~eventcode.errors.FileFormatError`, naming the file and the place.

    Examples
    --------
    >>> read_back(3, 1000, 0)
    StepTime(num_steps=3, dt_us=1000, t0_us=0)
    >>> read_back(3, 0, 0)
    Traceback (most recent call last):
    ...
    ValueError: step time needs num_steps >= 0 and dt_us >= 1, got num_steps=3 dt_us=0
    """
    steps = StepTime(num_steps, dt_us, t0_us)
    if num_steps < 0 or dt_us < 1:
        raise ValueError(f"step time needs num_steps >= 0 and dt_us >= 1, got {num_steps=} {dt_us=}")
    beyond = steps.beyond(*times)
    if beyond is not None:
        raise ValueError(
            f"t0_us + k * dt_us (0 <= k < num_steps) reaches {beyond} us, outside the file's times "
            f"[{times[0]}, {times[1]})"
        )
    return steps


def in_us(events: Events, steps: StepTime | None) -> Events:
    """``events`` in microseconds: step-time events at their step's time, for a file of step time.

    Raises
    ------
    ExportError
        Step-time events for a file without step time (no ``dt_us``), more steps than the file
        holds, or microsecond events for a file of step time.
    """
    if events.time_unit == "step":
        if steps is None:
            raise ExportError(
                "step-time events need dt_us, the microseconds per step, to be written in "
                "microseconds (e.g. dt_us=1000); reading the file returns steps again"
            )
        if (events.num_steps or 0) > steps.num_steps:
            raise ExportError(
                f"events of {events.num_steps} steps do not fit this file's {steps.num_steps} steps"
            )
        return events.to_us(steps.dt_us, steps.t0_us)
    if steps is not None:
        raise ExportError("this file holds step time (dt_us was given); write step-time events")
    return events


def window_us(window: Window, steps: StepTime | None, low: int, high: int) -> Window:
    """A read window in microseconds (in steps for a file of step time), clipped to ``[low, high]``."""
    return cast(
        Window,
        tuple(
            None if t is None else min(max(t if steps is None else steps.t0_us + t * steps.dt_us, low), high)
            for t in window
        ),
    )


def one_sample(
    columns: dict[str, np.ndarray], shape: tuple[int, ...] | None, polarities: int, steps: StepTime | None
) -> Events:
    """Checked columns read from a file (``t`` in steps for a file of step time) as one-sample
    :class:`~eventcode.Events`, with the ``x``, ``y`` and ``c`` dtypes of the sample shape (none for
    ``shape=None``).

    Examples
    --------
    >>> import numpy as np
    >>> columns = {"t": np.array([0, 2]), "x": np.array([1, 0], np.int16), "y": np.zeros(2, np.int16),
    ...            "p": np.array([True, False])}
    >>> events = one_sample(columns, (2, 1, 2), 2, StepTime(3, 1000, 0))
    >>> events.time_unit, events.num_steps, len(events)
    ('step', 3, 2)
    """
    import torch

    from eventcode.events import Events

    tensors = {name: torch.from_numpy(column) for name, column in columns.items()}
    for name, dtype in zip("xyc", address.column_dtypes(shape) if shape else (None,) * 3, strict=True):
        if dtype is not None and name in tensors:  # int32 for a sensor over 32,768 wide: one dtype per shape
            tensors[name] = tensors[name].to(dtype)
    return Events.from_columns(
        tensors["t"],
        tensors["x"],
        tensors["y"],
        tensors["p"],
        c=tensors.get("c"),
        offsets=torch.tensor([0, len(columns["t"])], dtype=torch.int64),
        shape=shape,
        num_steps=None if steps is None else steps.num_steps,
        time_unit="us" if steps is None else "step",
        polarities=polarities,
        check="none",
    )
