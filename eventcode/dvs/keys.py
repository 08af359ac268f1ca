"""A frame interval's events as one sortable integer each: ``offset * sources + source``.

The emulator finds an interval's events in pixel order; a stream wants them in time order. Packing
each event's time offset (microseconds after the interval's start) and its source (the pixel, and
whether the event is signal or noise) into one unsigned integer makes that order one plain sort of
integers, and the event is read back from its key with two divisions, with no permutation to apply
to other columns. Sources ``[0, pixels)`` are the pixels' signal events, ``[pixels, 2 pixels)``
their noise events, so events at one microsecond come in row-major pixel order, signal before
noise. On the CPU the keys are numpy integers, 32-bit wherever they fit (a DAVIS346 at 30 fps
fits): numpy's vectorized sort and division by a constant are several times faster there than
torch's; on other devices they are int64 tensors.

Examples
--------
>>> import torch
>>> from eventcode.dvs import keys
>>> offset, pixel = torch.tensor([5.0, 0.0, 5.0]), torch.tensor([2, 3, 0], dtype=torch.int32)
>>> on = torch.tensor([True, False, True, True])  # each source's polarity
>>> interval = keys.Interval(100, keys.sort([(offset, pixel)], 4, 5), sources=4, pixels=4, polarity=on)
>>> events = keys.stream([interval], (2, 2), torch.device("cpu"))  # a 2x2 sensor
>>> events.t.tolist(), events.x.tolist(), events.y.tolist(), events.p.tolist()
([100, 105, 105], [1, 0, 0], [1, 0, 1], [True, True, True])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from eventcode import memory
from eventcode.errors import EncodingError
from eventcode.events import Events

Keys = np.ndarray | torch.Tensor
"""Sorted keys: numpy on the CPU, a tensor on other devices."""


class Interval(NamedTuple):
    """The events of one frame interval: key ``k`` is an event at ``start + k // sources`` us from
    source ``s = k % sources`` with polarity ``polarity[s]``, at pixel ``s`` (row-major) for
    ``s < pixels`` (signal), at pixel ``noise[s - pixels]`` after that (noise)."""

    start: int
    keys: Keys
    sources: int
    pixels: int
    polarity: torch.Tensor
    noise: torch.Tensor | None = None


def sort(parts: Sequence[tuple[torch.Tensor, torch.Tensor]], sources: int, span_us: int) -> Keys:
    """The sorted keys of events given as ``(offset, source)`` pairs of tensors on one device:
    whole-microsecond offsets in ``[0, span_us]`` (any real or integer dtype) and int32 sources in
    ``[0, sources)``. Numpy keys on the CPU, tensors on other devices."""
    if parts[0][0].device.type == "cpu":
        return _sort_numpy(parts, sources, span_us)
    return _sort_torch(parts, sources)


def _sort_numpy(parts: Sequence[tuple[torch.Tensor, torch.Tensor]], sources: int, span_us: int) -> np.ndarray:
    dtype = np.uint32 if (span_us + 1) * sources <= 1 << 32 else np.uint64
    keys = np.empty(sum(offset.numel() for offset, _ in parts), dtype)
    at = 0
    for offset, source in parts:
        end = at + offset.numel()
        part = keys[at:end]
        np.copyto(part, offset.numpy(), casting="unsafe")
        part *= dtype(sources)
        unsigned = source.numpy().view(np.uint32)  # sources are >= 0
        part += unsigned if dtype is np.uint32 else unsigned.astype(np.uint64)
        at = end
    keys.sort()
    return keys


def _sort_torch(parts: Sequence[tuple[torch.Tensor, torch.Tensor]], sources: int) -> torch.Tensor:
    packed = torch.cat([offset.to(torch.int64) * sources + source for offset, source in parts])
    return torch.sort(packed).values


def stream(intervals: Sequence[Interval], size: tuple[int, int] | None, device: torch.device) -> Events:
    """The events of consecutive intervals as one stream of a ``(H, W)`` sensor on ``device``, each
    column written once, in place."""
    if size is None:
        raise EncodingError("emulate: no frames")
    height, width = size
    total = sum(len(interval.keys) for interval in intervals)
    columns = [
        memory.empty(total, dtype, device) for dtype in (torch.int64, torch.int16, torch.int16, torch.bool)
    ]
    if intervals:
        _decode(intervals, width, columns)
    return Events.from_columns(*columns, sensor_size=(width, height, 2), time_unit="us", check="none")


def _decode(intervals: Sequence[Interval], width: int, columns: list[torch.Tensor]) -> None:
    """Write the events of the intervals' keys into the ``t, x, y, p`` columns: the same calls on
    numpy keys (CPU columns) and on tensors, in work arrays reused from interval to interval."""
    numpy = isinstance(intervals[0].keys, np.ndarray)
    xp: Any = np if numpy else torch
    where = "cpu" if numpy else columns[0].device
    arrays: list[Any] = [column.numpy() if numpy else column for column in columns]
    t, x, y, p = arrays
    wide = any(interval.keys.dtype == np.uint64 for interval in intervals)
    dtype: Any = (np.uint64 if wide else np.uint32) if numpy else torch.int64
    most = max(len(interval.keys) for interval in intervals)
    offset_of, source_of, row_of = (xp.empty(most, dtype=dtype, device=where) for _ in range(3))
    pixel_of = xp.empty(max(interval.sources for interval in intervals), dtype=dtype, device=where)
    pixel_of[: intervals[0].pixels] = xp.arange(intervals[0].pixels, device=where)  # then noise pixels
    at = 0
    for interval in intervals:
        n = len(interval.keys)
        end = at + n
        offset, source, row = offset_of[:n], source_of[:n], row_of[:n]
        xp.floor_divide(interval.keys, interval.sources, out=offset)
        t[at:end] = offset
        t[at:end] += interval.start
        xp.subtract(interval.keys, xp.multiply(offset, interval.sources, out=source), out=source)
        xp.take(interval.polarity.numpy() if numpy else interval.polarity, source, out=p[at:end])
        if interval.noise is not None:
            pixel_of[interval.pixels : interval.sources] = interval.noise.numpy() if numpy else interval.noise
            source, row = xp.take(pixel_of[: interval.sources], source, out=row), source
        xp.floor_divide(source, width, out=row)
        y[at:end] = row
        xp.subtract(source, xp.multiply(row, width, out=row), out=x[at:end])
        at = end
