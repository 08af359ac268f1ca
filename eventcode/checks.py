"""The value checks every :class:`~eventcode.Events` passes: one implementation for all callers.

The constructor runs them on torch tensors; file readers run them on the numpy arrays they read,
in the dtype the file stores, before any cast (a cast first could turn a bad value into a valid
one: 65,539 in int32 into 3 in uint16). Each check takes a tensor or an array, runs vectorized,
and raises the :mod:`eventcode.errors` class of its finding, naming the first bad event and its
sample; readers re-raise with the file and dataset.

Examples
--------
>>> import numpy as np
>>> from eventcode import checks
>>> offsets = np.array([0, 2, 3])
>>> checks.addresses("x", np.array([0, 3, 1], np.uint16), 4, offsets, (2, 4))
>>> checks.time_order(np.array([5, 9, 1]), offsets)  # time may restart at a sample boundary
>>> checks.time_order(np.array([9, 5, 1]), offsets)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
eventcode.errors.TimeOrderError: t[1] = 5 comes after t[0] = 9 (sample 0, event 1 within it); ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from eventcode.errors import AddressError, EventsError, OffsetsError, PolarityError, TimeOrderError

if TYPE_CHECKING:  # numpy arrays or torch tensors: both index, compare and reduce alike here
    import torch

    Column = np.ndarray | torch.Tensor
else:
    Column = Any


def first(mask: Column) -> int:
    """Index of the first True of a 1-D bool mask known to hold one (numpy or torch)."""
    return int(mask.nonzero()[0][0])


def where(i: int, offsets: Column) -> str:
    """``"sample b, event j within it"`` for event ``i`` of a batch with these ``offsets``."""
    b = int((offsets[1:] <= i).sum())
    return f"sample {b}, event {i - int(offsets[b])} within it"


def offsets(bounds: Column, n: int) -> None:
    """``bounds`` run non-decreasing from 0 to ``n``, the number of events.

    Raises
    ------
    OffsetsError
        Naming the first bound out of order.
    """
    if len(bounds) == 0 or int(bounds[0]) != 0 or int(bounds[-1]) != n:
        shown = [int(v) for v in bounds[:4]]
        raise OffsetsError(
            f"offsets must run from 0 to the number of events ({n}), got {shown}...; "
            "offsets[b]:offsets[b + 1] are the events of sample b"
        )
    falling = bounds[1:] < bounds[:-1]
    if len(bounds) > 1 and bool(falling.any()):
        i = first(falling) + 1
        raise OffsetsError(
            f"offsets[{i}] = {int(bounds[i])} is below offsets[{i - 1}] = {int(bounds[i - 1])}; "
            "offsets must be non-decreasing"
        )


def addresses(name: str, values: Column, extent: int, offsets: Column, shape: tuple[int, ...]) -> None:
    """Every value of address column ``name`` lies in ``[0, extent)``, compared in its own dtype.

    Raises
    ------
    AddressError
        Naming the first address outside, its sample and the shape.
    """
    outside = _outside(values, 0, extent)
    if outside is not None:
        i = first(outside)
        raise AddressError(
            f"{name}[{i}] = {int(values[i])} is outside [0, {extent}) for sample shape {shape} "
            f"({where(i, offsets)}); check shape/sensor_size, or drop such events first"
        )


def steps(t: Column, offsets: Column, num_steps: int) -> None:
    """Every step of a step-time stream lies in ``[0, num_steps)``.

    Raises
    ------
    TimeOrderError
        Naming the first step outside.
    """
    outside = _outside(t, 0, num_steps)
    if outside is not None:
        i = first(outside)
        raise TimeOrderError(
            f"t[{i}] = {int(t[i])} is outside the steps [0, {num_steps}) ({where(i, offsets)}); "
            "raise num_steps or drop the event"
        )


def time_order(t: Column, offsets: Column) -> None:
    """Time never decreases within a sample (it may restart where a sample starts).

    Raises
    ------
    TimeOrderError
        Naming the first event earlier than the one before it.
    """
    if len(t) < 2:
        return
    decreasing = t[1:] < t[:-1]
    starts = offsets[1:-1]
    decreasing[starts[(starts > 0) & (starts < len(t))] - 1] = False
    if bool(decreasing.any()):
        i = first(decreasing) + 1
        raise TimeOrderError(
            f"t[{i}] = {int(t[i])} comes after t[{i - 1}] = {int(t[i - 1])} ({where(i, offsets)}); "
            "events must be sorted by time within each sample: pass sort=True to sort them"
        )


def polarity(p: Column, offsets: Column, kinds: int) -> None:
    """``p`` is bool or 0/1, and suits the sensor: events without polarity (``kinds == 0``) are
    all ON; each sample of a 1-polarity sensor (``kinds == 1``) holds one polarity.

    Raises
    ------
    EventsError
        A value other than 0 and 1.
    PolarityError
        OFF events without polarity, or both polarities in a sample of a 1-polarity sensor.
    """
    if str(p.dtype) not in ("bool", "torch.bool"):
        bad = _outside(p, 0, 2)
        if bad is not None:
            i = first(bad)
            raise EventsError(
                f"p[{i}] = {int(p[i])} is not a polarity ({where(i, offsets)}); p must be bool or "
                "0/1 (1 = ON, 0 = OFF): map -1/+1 polarities with p > 0 first"
            )
        p = p != 0
    if kinds == 0 and not bool(p.all()):
        i = first(~p)
        raise PolarityError(
            f"p[{i}] is OFF ({where(i, offsets)}), but events without polarity (polarities=0) are all "
            "True; pass polarities=1 for a 1-polarity sensor or 2 for OFF and ON"
        )
    if kinds == 1 and len(p):
        ons = p.cumsum(0)
        ends, starts = offsets[1:], offsets[:-1]
        on = ons[(ends - 1).clip(min=0)] * (ends > 0) - ons[(starts - 1).clip(min=0)] * (starts > 0)
        mixed = (on > 0) & (on < ends - starts)
        if bool(mixed.any()):
            raise PolarityError(
                f"sample {first(mixed)} holds both polarities, but the sensor has 1 (sensor_size P = 1, "
                "as Tonic's ToFrame refuses too); give sensor_size (W, H, 2) for an OFF/ON sensor"
            )


def _outside(values: Column, low: int, high: int) -> Column | None:
    """The mask of values outside ``[low, high)``, or None when none is; compared in the values'
    own dtype, with bounds beyond its range left out (never wrapped into it)."""
    if len(values) == 0:
        return None
    if not isinstance(values, np.ndarray) and str(values.dtype) in _TORCH_WIDE_UNSIGNED:
        values = values.long()  # torch compares these only after widening
    if int(values.min()) >= low and int(values.max()) < high:  # the common case: two reductions, no mask
        return None
    lowest, highest = _range(values)
    mask = None
    if low > lowest:
        mask = values < low
    if high <= highest:
        mask = (values >= high) if mask is None else mask | (values >= high)
    return mask if mask is not None and bool(mask.any()) else None


_TORCH_WIDE_UNSIGNED = ("torch.uint16", "torch.uint32", "torch.uint64")


def _range(values: Column) -> tuple[int, int]:
    """The smallest and largest value of the integer dtype of ``values`` (numpy or torch)."""
    if isinstance(values, np.ndarray):
        bounds = np.iinfo(values.dtype)
        return int(bounds.min), int(bounds.max)
    import torch  # a tensor: torch is loaded already

    limits = torch.iinfo(values.dtype)
    return int(limits.min), int(limits.max)
