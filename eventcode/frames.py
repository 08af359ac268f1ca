"""Event frames and voxel grids of one sample: Tonic's ``ToFrame`` and ``ToVoxelGrid``, without the losses.

:func:`to_frames` counts the events of one sample in frames ``(n_frames, P, H, W)`` (index 0 = OFF,
1 = ON, Tonic's order; ``P = 1`` for a 1-polarity sensor, and ``(n_frames, P, W)`` for 1-D samples
such as Tonic's audio events), sliced by time window, event count, number of time bins or number of
event bins. :func:`to_voxel_grid` spreads them over ``(n_time_bins, 1, H, W)`` bins with linear
interpolation in time (Zhu et al. 2019). Both run on the events' device.

By default no event is lost: the last window reaches the last event, bins span the whole recording,
the last partial bin is kept, counts are int32 and zero-duration or empty input gives zeros.
``tonic_compat=True`` reproduces Tonic 1.7.0's numbers exactly instead, losses and quirks included
(see the Notes of each function).

How it works: every slicing method gives each frame a contiguous range of the time-sorted events,
found with ``searchsorted`` on a few window boundaries. Events then get their frame by
``repeat_interleave`` over those ranges and are counted with one ``scatter_add_`` per group of
non-overlapping frames (overlapping windows are split into a few such groups), in chunks of events.
No Python loop runs over events, and ``t`` is read only through ``searchsorted``.

Examples
--------
>>> import torch
>>> from eventcode import Events
>>> from eventcode.frames import to_frames
>>> ev = Events(t=[0, 150, 299, 300], x=[0, 1, 2, 2], y=[0, 0, 1, 1], p=[1, 0, 1, 1], sensor_size=(3, 2))
>>> to_frames(ev, time_window=100).sum((1, 2, 3)).tolist()  # 4 frames, every event counted
[1, 1, 1, 1]
>>> to_frames(ev, time_window=100, tonic_compat=True).sum((1, 2, 3)).tolist()  # Tonic loses t = 300
[1, 1, 1]
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Literal, cast

import numpy as np
import torch

from eventcode import address, memory
from eventcode.errors import EventsDtypeError, EventsError, OptionError
from eventcode.events import Events
from eventcode.options import events_argument, positive_int, torch_dtype

SCATTER_EVENTS = {"cpu": 1 << 20, "cuda": 1 << 24}
"""Events handled per step, by device type: the temporary memory is about 50 bytes x this at most.
Few large steps also keep the CPU's thread pool from waiting on a busy core, and amortize GPU kernel
launches."""

_METHODS = ("time_window", "event_count", "n_time_bins", "n_event_bins")
_INT64_SAFE = 1 << 62
_INT64 = (-(1 << 63), (1 << 63) - 1)
Bounds = torch.Tensor | list[int]
"""Integer window boundaries: an int64 tensor, or Python ints where some fall outside int64 (a
recording reaching the int64 limits: the last window ends at ``t[-1] + 1``)."""

TonicCompat = bool | Literal["bool", "int"]


def to_frames(
    events: Events,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0,
    include_incomplete: bool | None = None,
    t_start: float | None = None,
    t_end: float | None = None,
    tonic_compat: bool = False,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Event counts of one sample in frames ``(n_frames, P, H, W)``, like Tonic's ``ToFrame``.

    Give exactly one of ``time_window``, ``event_count``, ``n_time_bins`` and ``n_event_bins``.
    Every frame counts the events of one window, a half-open range ``[start, end)`` of time or of
    event index; channel 0 counts OFF events and channel 1 ON events (Tonic's order). On a
    1-polarity sensor (``events.sensor_size[2] == 1``) the one channel counts every event; 1-D
    (and 0-D) samples, such as Tonic's audio events, give frames ``(n_frames, P, W)``.

    Parameters
    ----------
    events : Events
        One sample (``events.num_samples == 1``) without a channel column, in microseconds or in
        steps; times, windows and ``t_start``/``t_end`` are all in ``events.time_unit``.
    time_window : int or float, optional
        Window length. Windows start at ``start + i * (time_window - overlap)``. By default there
        are as many as needed to reach the last event (the end of the recording): for microsecond
        time the smallest number whose last window holds ``t[-1]``; with ``t_end`` (or, for step
        time, ``num_steps``) Tonic's ``ceil((end - start - time_window) / stride) + 1``.
    event_count : int, optional
        Events per frame; frame ``i`` holds events ``[i * stride, i * stride + event_count)`` with
        ``stride = event_count - overlap``; the last frame may hold fewer.
    n_time_bins : int, optional
        Number of frames spanning the recording in time. Without overlap event ``t`` goes to bin
        ``floor((t - start) * n_time_bins / (end - start))``, where the recording is
        ``[start, end) = [t[0], t[-1] + 1)`` for microseconds and ``[0, num_steps)`` for steps
        (``t_start``/``t_end`` override either bound): every event lands in exactly one bin.
    n_event_bins : int, optional
        Number of frames spanning the events by index: without overlap event ``j`` of ``N`` goes
        to bin ``floor(j * n_event_bins / N)``, so the bins hold ``N // n_event_bins`` or one more.
    overlap : int or float, default 0
        For ``time_window``: time shared by consecutive windows (``0 <= overlap < time_window``).
        For ``event_count``: events shared (an int, ``0 <= overlap < event_count``). For the bin
        methods: the fraction of a window shared with the next, ``0 <= overlap < 1``; each of the
        ``n`` windows is then ``1 / (1 + (n - 1) * (1 - overlap))`` of the recording long, so that
        together they still span it. An event inside several windows counts in each.
    include_incomplete : bool, optional
        Keep the last window of ``time_window`` / ``event_count`` slicing when it reaches past the
        end of the recording (events in it are otherwise dropped). Default True, or False with
        ``tonic_compat`` (Tonic's default). The bin methods ignore it, as Tonic does.
    t_start, t_end : int or float, optional
        Range of ``time_window`` and ``n_time_bins`` slicing, ``t_end`` exclusive. Events
        before ``t_start`` are not counted, nor are events at or after ``t_end`` unless the
        last window reaches past it. Defaults: the first and the last event (included) for
        microseconds, ``0`` and ``num_steps`` for steps. Not valid with the event-count methods.
    tonic_compat : bool, default False
        Reproduce Tonic 1.7.0's ``ToFrame(sensor_size, ...)`` numbers exactly instead (see Notes).
    dtype : torch.dtype, optional
        Output dtype: default int32 (int16 with ``tonic_compat``). Any integer or floating dtype
        counts (a narrow one wraps around like Tonic's int16); ``torch.bool`` marks pixels with
        at least one event.

    Returns
    -------
    torch.Tensor
        ``(n_frames, P, H, W)`` (``(n_frames, P, W)`` for 1-D samples) on the events' device.
        ``n_frames`` is the number of windows, or ``n_time_bins`` / ``n_event_bins``. Empty input
        gives zero frames of the same shape: one frame for ``time_window`` (as many as the range
        needs when it is known: ``t_start`` and ``t_end`` given, or step time) and
        ``event_count``, ``n`` for the bin methods.

    Raises
    ------
    EventsError
        Several samples, a channel column, or with ``tonic_compat`` events without polarity (their
        Tonic array has no ``p`` field, on which Tonic fails).
    OptionError
        Not exactly one slicing argument, a non-positive or non-finite size, an overlap out of
        range, ``t_end`` before ``t_start``, ``t_start``/``t_end`` with event-count slicing, or a
        complex ``dtype``.
    EventsDtypeError
        With ``tonic_compat``, where Tonic raises ``TypeError``: a float ``event_count`` or
        ``n_event_bins`` for non-empty input, a float ``n_time_bins`` or ``n_event_bins`` for empty
        input.

    Notes
    -----
    Differences from Tonic 1.7.0 (all of them reproduced by ``tonic_compat=True``):

    * ``time_window``: Tonic drops the events at exactly ``t[-1]`` when ``t[-1] - start -
      time_window`` is a multiple of the stride, even with ``include_incomplete`` (its windows end
      at ``t[-1]``, exclusive); here the window count uses ``t[-1] + 1`` so it always holds them.
    * ``n_time_bins``: Tonic's window is ``(t[-1] - t[0]) // n`` (integer division) long, so the
      last event and the remainder are always lost, and all frames are empty when the recording is
      shorter than ``n``; with overlap its windows no longer span the recording. Here the bins
      span ``[start, end)`` exactly. For step time the default range is ``[0, num_steps)`` rather
      than the first and last event, so that frames line up across samples.
    * ``n_event_bins``: Tonic puts ``N // n`` events in every bin and drops the last ``N mod n``
      (all bins are empty when ``N < n``); here bins hold ``N // n`` or ``N // n + 1`` events. With
      overlap the windows follow the spanning rule above, so they can differ from Tonic's even
      where Tonic loses nothing.
    * ``event_count``: same windows; ``include_incomplete`` defaults to True, so the last partial
      frame is kept.
    * Counts are int32: Tonic's int16 wraps silently past 32,767 events per pixel.
    * Empty input: Tonic returns float64 zeros of shape ``(n, P, W, H)`` (width and height
      swapped; ``(n, P, W, 1)`` for 1-D samples); here integer zeros of the usual shape.
    * Counts (``event_count``, ``n_time_bins``, ``n_event_bins``) are ints; Tonic takes floats in
      some cases and raises ``TypeError`` in others (see ``tonic_compat``).
    * The input is never modified (Tonic overwrites the polarity of a one-polarity sensor).
    * For step-time events the ``time_window`` range also defaults to ``[0, num_steps)``.

    Wherever Tonic loses no event (and the bin methods run without overlap, or the recording is a
    single bin), the default result equals Tonic's, but for the dtype.

    With ``tonic_compat=True`` the values, dtype (int16, wrapping) and shape are Tonic's for
    ``ToFrame(events.sensor_size, ..., include_incomplete=False)`` called on
    ``events.to_numpy()``, including the float64 ``(n, P, W, H)`` zeros of empty input, the
    ``t_start``/``t_end`` being ignored by the bin methods, and whole-number float counts
    where Tonic takes them (``event_count=1e3`` on empty input, ``n_time_bins=5.0`` on non-empty
    input); the result is a torch tensor.
    Window boundaries that are not integers are compared with the integer timestamps exactly as
    numpy compares them (in float64).

    Examples
    --------
    >>> import torch
    >>> from eventcode import Events
    >>> from eventcode.frames import to_frames
    >>> ev = Events(t=[0, 10, 20, 30, 40], x=[0, 1, 1, 0, 1], y=[0, 0, 1, 1, 0], p=[1, 1, 0, 1, 1],
    ...             sensor_size=(2, 2))
    >>> frames = to_frames(ev, n_time_bins=2)  # bins [0, 20.5) and [20.5, 41) microseconds
    >>> frames.shape, frames.dtype
    (torch.Size([2, 2, 2, 2]), torch.int32)
    >>> frames.sum((1, 2, 3)).tolist(), frames[0, 1].tolist()  # frame 0, ON counts [y][x]
    ([3, 2], [[1, 1], [0, 0]])
    >>> to_frames(ev, n_time_bins=2, tonic_compat=True).sum((1, 2, 3)).tolist()  # Tonic: 2 x 20 us
    [2, 2]
    >>> to_frames(ev, event_count=2).sum((1, 2, 3)).tolist()  # the last partial frame is kept
    [2, 2, 1]
    """
    _check_sample(events, "to_frames")
    method, size = _slicing_argument((time_window, event_count, n_time_bins, n_event_bins), tonic_compat)
    if tonic_compat:
        if events.polarities == 0:
            raise EventsError(
                "to_frames(tonic_compat=True) got events without polarity: their Tonic array has no p "
                "field, on which Tonic's ToFrame fails (AssertionError); use the default mode"
            )
        size = _tonic_count(method, size, len(events))
    incomplete = (not tonic_compat) if include_incomplete is None else bool(include_incomplete)
    ranged = t_start is not None or t_end is not None
    if ranged and not tonic_compat and method in ("event_count", "n_event_bins"):
        raise OptionError(
            f"t_start and t_end apply to time_window and n_time_bins slicing, not {method}; "
            "crop the events first with events.time_slice(start, end)"
        )
    if tonic_compat:
        if len(events) == 0:  # ToFrame's own answer for empty input
            n = int(size) if method in ("n_time_bins", "n_event_bins") else 1
            width, height, planes = events.sensor_size
            return torch.zeros((n, planes, width, height), dtype=dtype or torch.float64, device=events.device)
        starts, ends = _tonic_windows(events, method, size, overlap, incomplete, t_start, t_end)
    else:
        starts, ends = _windows(events, method, size, overlap, incomplete, t_start, t_end)
    out_dtype = torch_dtype("dtype", dtype or (torch.int16 if tonic_compat else torch.int32))
    return _count(events, starts, ends, out_dtype)


def to_voxel_grid(
    events: Events,
    n_time_bins: int,
    tonic_compat: TonicCompat = False,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The event volume of one sample, ``(n_time_bins, 1, H, W)``: signed events spread linearly in time.

    1-D samples give ``(n_time_bins, 1, W)``; on a 1-polarity sensor (or without polarity) every
    event counts +1.

    The published formula (Zhu et al. 2019, "Unsupervised event-based learning of optical flow,
    depth, and egomotion"; Rebecq et al.'s E2VID voxel grid): with ``B = n_time_bins``, event ``k``
    sits at ``t*_k = (B - 1) (t_k - t_0) / (t_last - t_0)`` and adds ``p_k max(0, 1 - |b - t*_k|)``
    to bin ``b`` at its pixel, where ``p_k`` is +1 for ON and -1 for OFF. So the first event falls
    in bin 0, the last in bin ``B - 1``, and each event's weights sum to 1.

    Parameters
    ----------
    events : Events
        One sample without a channel column, in microseconds or steps (only time ratios matter).
    n_time_bins : int
        Number of time bins ``B`` (>= 1).
    tonic_compat : bool or {"bool", "int"}, default False
        Reproduce Tonic 1.7.0's ``ToVoxelGrid(sensor_size, n_time_bins)`` instead (see Notes).
        True or ``"bool"``: Tonic called on ``events.to_numpy()``, whose polarity field is bool;
        ``"int"``: Tonic called on an array with an integer polarity field (e.g. NMNIST's).
    dtype : torch.dtype, optional
        Floating output dtype: default float32 (float64 with ``tonic_compat``). Sums are
        accumulated in float64 either way.

    Returns
    -------
    torch.Tensor
        ``(n_time_bins, 1, H, W)`` on the events' device. All events at one time go to bin 0 with
        weight 1; empty input gives zeros.

    Raises
    ------
    EventsError
        Several samples, a channel column, or with ``tonic_compat`` where Tonic fails: empty input
        (IndexError), a sensor without two polarities (AssertionError) or a 1-D sample (its array
        has no ``y``: KeyError).
    OptionError
        ``n_time_bins`` not a positive int, a non-floating ``dtype`` or an unknown ``tonic_compat``.

    Notes
    -----
    Tonic's ``ToVoxelGrid`` differs from the formula, and ``tonic_compat`` keeps its numbers:
    it scales by ``B`` instead of ``B - 1`` (``t* = B (t - t_0) / (t_last - t_0)``), so the events
    at ``t_last`` contribute nothing; with a bool polarity field its ``p[p == 0] = -1`` stores True
    and every event counts +1 (an integer field gives the intended signs); the output is float64.
    When all events share one time it divides 0 by 0: the compat result then holds NaN in bins 0
    and 1 at the events' pixels, as Tonic gives on x86-64 for an even ``W * H`` and ``B >= 2``
    (otherwise Tonic raises IndexError there). On CUDA the float64 sums may differ from the CPU's
    in the last bits (atomic additions run in no fixed order).

    Examples
    --------
    >>> import torch
    >>> from eventcode import Events
    >>> from eventcode.frames import to_voxel_grid
    >>> ev = Events(t=[0, 50, 100], x=[0, 1, 1], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(2, 1))
    >>> to_voxel_grid(ev, n_time_bins=3)[:, 0, 0].tolist()  # bins x pixels: ON +1, OFF -1
    [[1.0, 0.0], [0.0, -1.0], [0.0, 1.0]]
    >>> to_voxel_grid(ev, n_time_bins=3, tonic_compat=True)[:, 0, 0].tolist()  # Tonic: OFF as +1
    [[1.0, 0.0], [0.0, 0.5], [0.0, 0.5]]
    """
    _check_sample(events, "to_voxel_grid")
    bins = positive_int("n_time_bins", n_time_bins)
    if tonic_compat not in (False, True, "bool", "int"):
        raise OptionError(f"tonic_compat must be False, True, 'bool' or 'int', got {tonic_compat!r}")
    out_dtype = torch_dtype("dtype", dtype or (torch.float64 if tonic_compat else torch.float32))
    if not out_dtype.is_floating_point:
        raise OptionError(f"a voxel grid holds fractions: dtype must be floating, got {out_dtype}")
    if tonic_compat and (events.polarities != 2 or len(events.shape) < 2):
        raise EventsError(
            f"to_voxel_grid(tonic_compat=...) got events of shape {events.shape} on a sensor "
            f"{events.sensor_size}: Tonic's ToVoxelGrid fails unless the sensor has 2 polarities "
            "(AssertionError) and the events a y field (KeyError); use the default mode"
        )
    height, width = address.height(events.shape), address.width(events.shape)
    dims = (bins, 1, *spatial(events.shape))
    plane = height * width
    grid = torch.zeros(bins * plane, dtype=torch.float64, device=events.device)
    n = len(events)
    if n == 0:
        if tonic_compat:
            raise EventsError(
                "to_voxel_grid(tonic_compat=...) got no events: Tonic's ToVoxelGrid raises IndexError "
                "on an empty array; use the default mode for zeros"
            )
        return grid.to(out_dtype).view(dims)
    t = events.t
    t0, duration = int(t[0]), int(t[-1]) - int(t[0])
    signed = tonic_compat in (False, "int") and events.polarities == 2
    chunk = SCATTER_EVENTS.get(events.device.type, SCATTER_EVENTS["cuda"])
    if tonic_compat and duration == 0:  # 0 / 0: NaN, which Tonic's int cast sends to bins 0 and 1
        pixels = address.flat(events.x, events.y, None, events.shape)
        grid[pixels] = math.nan
        if bins > 1:
            grid[pixels + plane] = math.nan
        return grid.to(out_dtype).view(dims)
    for side in (0, 1):  # every left weight, then every right one: Tonic's order of additions
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            times = t[start:stop].to(torch.float64)
            if tonic_compat:  # numpy's operations, in numpy's order: B * (t - t0) / (t_last - t0)
                position = times.sub_(float(t0)).mul_(float(bins)).div_(float(duration))
            elif duration == 0 or bins == 1:
                position = torch.zeros_like(times)
            else:
                position = (t[start:stop] - t0).to(torch.float64).mul_(bins - 1).div_(duration)
            bin_index = position.to(torch.int64)  # truncation = floor: positions are >= 0
            fraction = position.sub_(bin_index.to(torch.float64))
            weight = 1.0 - fraction if side == 0 else fraction
            bin_index.add_(side)
            if signed:
                weight.mul_(torch.where(events.p[start:stop], 1.0, -1.0).to(torch.float64))
            # bins past the end get weight +0.0, which leaves every sum unchanged
            weight = torch.where(bin_index < bins, weight, 0.0)
            pixels = address.flat(events.x[start:stop], events.y[start:stop], None, events.shape)
            grid.scatter_add_(0, bin_index.clamp_(max=bins - 1).mul_(plane).add_(pixels), weight)
    return grid.to(out_dtype).view(dims)


# ---------------------------------------------------------------------- argument checks
def _check_sample(events: Events, caller: str) -> None:
    events_argument(caller, events)
    if events.num_samples != 1:
        raise EventsError(
            f"{caller} takes one sample, these events hold {events.num_samples}; pass events[b] for sample b"
        )
    if events.c is not None:
        raise EventsError(
            f"{caller} builds (P, H, W) frames, but these events of shape {events.shape} carry a "
            "channel column c; select one channel or fold the channels into y first"
        )


def _slicing_argument(values: tuple[object, ...], compat: bool) -> tuple[str, float]:
    """The slicing method given and its size (with ``compat``, a whole-number float count is kept
    as given, for Tonic's handling of it)."""
    given = [(name, value) for name, value in zip(_METHODS, values, strict=True) if value is not None]
    if len(given) != 1:
        names = [name for name, _ in given] or "none"
        raise OptionError(
            f"give exactly one of time_window, event_count, n_time_bins or n_event_bins; got {names}"
        )
    name, value = given[0]
    if name == "time_window":
        if not _is_real(value) or not math.isfinite(cast(float, value)) or cast(float, value) <= 0:
            raise OptionError(f"time_window must be a positive, finite number, got {value!r}")
        return name, cast(float, value)
    if compat and isinstance(value, float) and value.is_integer() and value >= 1:
        return name, value
    return name, positive_int(name, value)


def _tonic_count(method: str, size: float, n: int) -> float:
    """``size`` where Tonic 1.7 takes it; a float count where Tonic raises ``TypeError``.

    For empty input Tonic builds ``np.zeros((n_bins, ...))``: a float bin count fails. Otherwise
    it slices the events with ``min(event_count, n)`` (a float when ``event_count <= n``) and with
    multiples of ``n_event_bins``' stride over ``np.arange(n_event_bins)``: floats fail there.
    """
    if not isinstance(size, float) or method == "time_window":
        return size
    if n == 0:
        fails = method in ("n_time_bins", "n_event_bins")
    else:
        fails = method == "n_event_bins" or (method == "event_count" and size <= n)
    if fails:
        raise EventsDtypeError(
            f"{method}={size!r} is a float: Tonic 1.7's ToFrame raises TypeError here "
            f"({'it sizes the frames with it' if n == 0 else 'it slices the events with it'}); pass an int"
        )
    return int(size) if method != "n_time_bins" else size


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_overlap(method: str, size: float, overlap: object, compat: bool) -> None:
    if not _is_real(overlap) or not math.isfinite(overlap):  # type: ignore[arg-type]
        raise OptionError(f"overlap must be a finite number, got {overlap!r}")
    if method in ("n_time_bins", "n_event_bins"):
        if compat:
            if method == "n_time_bins" and not overlap < 1:  # type: ignore[operator]
                raise OptionError(f"overlap must be below 1 (a fraction of a bin), got {overlap!r}")
        elif not 0 <= overlap < 1:  # type: ignore[operator]
            raise OptionError(f"overlap for {method} is a fraction of a window in [0, 1), got {overlap!r}")
        return
    if compat:
        if not size - overlap > 0:  # type: ignore[operator]
            raise OptionError(f"{method} - overlap must be positive (the stride), got {size} - {overlap}")
        return
    if method == "event_count" and not isinstance(overlap, numbers.Integral):
        raise OptionError(f"overlap for event_count is a number of events, an int; got {overlap!r}")
    if not 0 <= overlap < size:  # type: ignore[operator]
        raise OptionError(f"overlap must lie in [0, {method} = {size}), got {overlap!r}")


# ---------------------------------------------------------------------- windows, default mode
def _check_windows(frames: int, bytes_each: int = 16) -> None:
    """Refuse (:class:`~eventcode.errors.AllocationError`) more frames than the memory holds the
    boundaries of (``bytes_each`` a frame: two int64, or more as Python ints), before making them."""
    memory.check(
        frames * bytes_each // 8, torch.int64, torch.device("cpu"), f"the boundaries of {frames:,} frames"
    )


def _windows(
    events: Events,
    method: str,
    size: float,
    overlap: float,
    incomplete: bool,
    t_start: float | None,
    t_end: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """First and one-past-last event index of every frame (CPU int64), eventcode's rules."""
    _check_overlap(method, size, overlap, compat=False)
    n = len(events)
    if method == "event_count":
        count, stride = min(int(size), n), int(size) - int(overlap)
        spare = n - count
        frames = (-(-spare // stride) if incomplete else spare // stride) + 1
        _check_windows(frames)
        starts = torch.arange(frames, dtype=torch.int64) * stride
        return starts.clamp(max=n), (starts + count).clamp_(max=n)
    if method == "n_event_bins":
        first, end = _spread(0, n, int(size), overlap)
        assert isinstance(first, torch.Tensor)
        assert isinstance(end, torch.Tensor)
        return first, end
    step = events.time_unit == "step"
    for name, value in (("t_start", t_start), ("t_end", t_end)):
        if value is not None and (not _is_real(value) or not math.isfinite(value)):
            raise OptionError(f"{name} must be a finite number, got {value!r}")
    start: float | None
    if t_start is not None:
        start = t_start
    elif step:
        start = 0
    else:
        start = int(events.t[0]) if n else None
    if t_end is not None and start is not None and t_end < start:
        raise OptionError(f"t_end = {t_end} comes before the start {start}")
    if method == "n_time_bins":
        stop: float | None
        if t_end is not None:
            stop = t_end
        elif step:
            stop = events.num_steps
        else:
            stop = int(events.t[-1]) + 1 if n else None
        if start is None or stop is None:  # no events and no range: nothing to place
            zeros = torch.zeros(int(size), dtype=torch.int64)
            return zeros, zeros
        bounds = _spread(start, Fraction(stop) - Fraction(start), int(size), overlap)
        return _event_index(events.t, bounds[0]), _event_index(events.t, bounds[1])
    return _time_windows(events, size, overlap, incomplete, start, t_end)


def _time_windows(
    events: Events,
    window: float,
    overlap: float,
    incomplete: bool,
    start: float | None,
    t_end: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(events)
    w, stride = Fraction(window), Fraction(window) - Fraction(overlap)
    if start is None:  # microseconds, no events, no t_start: one empty frame
        return torch.zeros(1, dtype=torch.int64), torch.zeros(1, dtype=torch.int64)
    if t_end is not None or events.time_unit == "step":
        end = Fraction(t_end if t_end is not None else cast(int, events.num_steps))
        spare = (end - Fraction(start) - w) / stride
        frames = (math.ceil(spare) if incomplete else math.floor(spare)) + 1
    elif n == 0:
        return torch.zeros(1, dtype=torch.int64), torch.zeros(1, dtype=torch.int64)
    else:
        last = int(events.t[-1])
        if incomplete:  # the fewest windows whose last one holds t[-1]
            frames = math.floor((last - Fraction(start) - w) / stride) + 2
        elif last - Fraction(start) < w:  # a recording shorter than a window: one frame, as Tonic
            frames = 1
        else:  # the windows that end by t[-1] + 1
            frames = math.floor((last + 1 - Fraction(start) - w) / stride) + 1
    frames = max(frames, 1)
    _check_windows(frames)
    starts: Bounds
    ends: Bounds
    final_end = Fraction(start) + (frames - 1) * stride + w
    if max(abs(Fraction(start)), abs(final_end)) >= _INT64_SAFE:  # near int64's limits: exact, in Python
        starts = _bounds([math.ceil(Fraction(start) + i * stride) for i in range(frames)])
        ends = _bounds([math.ceil(Fraction(start) + i * stride + w) for i in range(frames)])
    elif all(Fraction(v).denominator == 1 for v in (start, window, overlap)):
        starts = torch.arange(frames, dtype=torch.int64) * int(stride) + int(start)
        ends = starts + int(window)
    else:  # fractional windows: float64 boundaries; consecutive windows share theirs exactly
        first = np.arange(frames) * float(stride) + float(start)
        last_end = first + float(window)
        if overlap == 0:
            last_end = np.append(first[1:], last_end[-1])
        starts, ends = _ceil(first), _ceil(last_end)
    first_event, end_event = _event_index(events.t, starts), _event_index(events.t, ends)
    if incomplete and t_end is None and n:
        end_event[-1] = n  # exact arithmetic above put t[-1] in the last window
    return first_event, end_event


def _spread(start: float, span: Fraction | int, bins: int, overlap: float) -> tuple[Bounds, Bounds]:
    """``bins`` windows spanning ``[start, start + span)``: ceil'd boundaries as int64 tensors.

    Window ``i`` is ``[start + i * S, start + i * S + L)`` with ``L = span / (1 + (bins - 1) g)``
    and stride ``S = g L``, ``g = 1 - overlap``; exact rational arithmetic.
    """
    exact = overlap == 0 and Fraction(start).denominator == 1 and Fraction(span).denominator == 1
    _check_windows(bins, 16 if exact else 80)  # two lists of Python ints otherwise
    span, begin = Fraction(span), Fraction(start)
    if span <= 0:  # an empty range: empty windows
        empty = torch.full((bins,), math.ceil(begin), dtype=torch.int64)
        return empty, empty
    keep = 1 - Fraction(overlap)
    length = span / (1 + (bins - 1) * keep)
    fits = span * bins < _INT64_SAFE and max(abs(begin), abs(begin + span)) < _INT64_SAFE
    if overlap == 0 and begin.denominator == 1 and span.denominator == 1 and fits:
        index = torch.arange(bins + 1, dtype=torch.int64)
        bounds = (index * int(span) + (bins - 1)).div_(bins, rounding_mode="floor").add_(int(begin))
        return bounds[:-1], bounds[1:]
    starts = [math.ceil(begin + i * keep * length) for i in range(bins)]
    ends = [math.ceil(begin + i * keep * length + length) for i in range(bins)]
    if overlap == 0:
        ends = [*starts[1:], ends[-1]]
    return _bounds(starts), _bounds(ends)


def _bounds(values: list[int]) -> Bounds:
    """The boundaries as an int64 tensor where they all fit it, else as they are."""
    if all(_INT64[0] <= value <= _INT64[1] for value in values):
        return torch.tensor(values, dtype=torch.int64)
    return values


# ---------------------------------------------------------------------- windows, Tonic 1.7.0
def _tonic_windows(
    events: Events,
    method: str,
    size: float,
    overlap: float,
    incomplete: bool,
    t_start: float | None,
    t_end: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tonic's slicers (tonic/slicers.py), the same numpy expressions on the same scalar types."""
    _check_overlap(method, size, overlap, compat=True)
    n = len(events)
    t_first, t_last = np.int64(int(events.t[0])), np.int64(int(events.t[-1]))
    if method == "time_window":  # SliceByTime
        stride = size - overlap
        start = t_first if t_start is None else t_start
        end = t_last if t_end is None else t_end
        duration = end - start
        rounding = np.ceil if incomplete else np.floor
        frames = max(int(rounding((duration - size) / stride) + 1), 1)
        _check_windows(frames)
        starts = np.arange(frames) * stride + start
        return _event_index(events.t, _ceil(starts)), _event_index(events.t, _ceil(starts + size))
    if method == "n_time_bins":  # SliceByTimeBins
        window = (t_last - t_first) // size * (1 + overlap)
        stride = window * (1 - overlap)
        starts = np.arange(size) * stride + t_first
        return _event_index(events.t, _ceil(starts)), _event_index(events.t, _ceil(starts + window))
    if method == "event_count":  # SliceByEventCount
        count = min(size, n)
        stride = size - overlap
        rounding = np.ceil if incomplete else np.floor
        frames = int(rounding((n - count) / stride) + 1)
        starts = (np.arange(frames) * stride).astype(int)
        return _python_slices(starts, starts + count, n)
    count = int(n // size * (1 + overlap))  # SliceByEventBins
    stride = int(count * (1 - overlap))
    starts = np.arange(size) * stride
    return _python_slices(starts, starts + count, n)


def _python_slices(starts: np.ndarray, ends: np.ndarray, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``data[start:end]`` for each pair, as clamped index ranges (negative indices count from the end)."""

    def normalize(index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        return np.clip(np.where(index < 0, index + n, index), 0, n)

    return torch.from_numpy(normalize(starts)), torch.from_numpy(normalize(ends))


def _ceil(bounds: np.ndarray) -> torch.Tensor:
    """Integer thresholds with ``#{t < ceil(v)} == #{t < v}`` for integer ``t`` (as int64)."""
    bounds = np.asarray(bounds)
    if bounds.dtype.kind in "iu":
        return torch.from_numpy(bounds.astype(np.int64))
    return torch.from_numpy(np.ceil(np.clip(bounds, -_INT64_SAFE, _INT64_SAFE)).astype(np.int64))


def _event_index(t: torch.Tensor, thresholds: Bounds) -> torch.Tensor:
    """Number of events before each integer threshold (CPU int64); a threshold past int64's
    range (:data:`Bounds`) has every event before it, or none."""
    if isinstance(thresholds, list):
        index = _event_index(t, torch.tensor([min(max(v, _INT64[0]), _INT64[1]) for v in thresholds]))
        index[torch.tensor([v > _INT64[1] for v in thresholds])] = len(t)
        return index
    if len(t) == 0:
        return torch.zeros_like(thresholds)
    return torch.searchsorted(t, thresholds.to(t.device)).cpu()


# ---------------------------------------------------------------------- counting
def _count(events: Events, starts: torch.Tensor, ends: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Frames ``(len(starts), P, *spatial)``: frame ``i`` counts events ``starts[i]:ends[i]``."""
    if dtype.is_complex:
        raise OptionError(
            f"frames hold counts: dtype must be an integer, floating or bool dtype, got {dtype}"
        )
    height, width = address.height(events.shape), address.width(events.shape)
    plane = height * width
    planes = events.sensor_size[2]  # 1: every event counts in the one channel
    frame = planes * plane
    frames = len(starts)
    ends = torch.maximum(starts, ends)
    index = torch.arange(frames, dtype=torch.int64)
    if frames > 1 and bool((starts.diff() >= 0).all()) and bool((ends.diff() >= 0).all()):
        # windows i and i + copies never share an event, so each residue class is one scatter
        copies = max(1, int((torch.searchsorted(starts, ends) - index).max()))
    else:
        copies = max(frames, 1)  # unordered windows (Tonic with odd arguments): one at a time
    groups = []
    for r in range(min(copies, frames)):
        first, last = starts[r::copies], ends[r::copies]
        gaps = torch.cat([torch.zeros(1, dtype=torch.int64), first[1:] - last[:-1]])
        groups.append((int(first[0]), index[r::copies], torch.stack([gaps, last - first], 1).flatten()))
    trash = any(bool((group[2][0::2] > 0).any()) for group in groups)  # events between windows
    count_dtype = dtype
    if dtype == torch.int16 and events.device.type != "cpu":
        count_dtype = torch.int32  # count wider on GPUs and wrap at the end: same numbers
    out = memory.zeros(
        (frames + trash) * frame, count_dtype, events.device, f"{frames:,} frames of {frame:,} values"
    )
    device, chunk = events.device, SCATTER_EVENTS.get(events.device.type, SCATTER_EVENTS["cuda"])
    one = torch.ones((), dtype=count_dtype, device=device)
    for begin, ids, counts in groups:
        offsets = torch.stack([torch.full_like(ids, frames), ids], 1).flatten().mul_(frame).to(device)
        bounds = counts.cumsum(0).add_(begin)
        seg_ends, seg_starts = bounds.to(device), (bounds - counts).to(device)
        for c0 in range(begin, int(bounds[-1]), chunk):
            c1 = min(c0 + chunk, int(bounds[-1]))
            sizes = seg_ends.clamp(c0, c1) - seg_starts.clamp(c0, c1)
            flat = torch.repeat_interleave(offsets, sizes, output_size=c1 - c0)
            if planes == 2:
                flat.add_(events.p[c0:c1], alpha=plane)
            flat.add_(events.y[c0:c1], alpha=width).add_(events.x[c0:c1])
            if count_dtype == torch.bool:
                out.index_put_((flat,), one.expand(c1 - c0))
            else:
                out.scatter_add_(0, flat, one.expand(c1 - c0))
    out = out[: frames * frame].view(frames, planes, *spatial(events.shape))
    return out.to(dtype) if count_dtype != dtype else out


def spatial(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The pixel dims of frames of samples of this shape: ``(H, W)``, or ``(W,)`` for 0-D and 1-D
    samples (Tonic's audio frames have no height)."""
    return (address.height(shape), address.width(shape)) if len(shape) >= 2 else (address.width(shape),)
