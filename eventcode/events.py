"""The one data type of eventcode: a batch of address-event streams, stored column by column.

An :class:`Events` holds ``B`` samples of ``(t, x, y, p)`` records (plus a channel ``c`` when a
sample has several channels) as 1-D torch tensors on any device. Events of sample ``b`` are
``offsets[b]:offsets[b + 1]``; within a sample they are sorted by ``t``.

Examples
--------
>>> import torch
>>> from eventcode import Events
>>> spikes = torch.zeros(3, 2, 1, 4, 4)  # [T, B, C, H, W], as snntorch.spikegen returns
>>> spikes[0, 0, 0, 1, 2] = 1
>>> spikes[2, 1, 0, 3, 3] = -1
>>> events = Events.from_dense(spikes)
>>> len(events), events.num_samples, events.sensor_size
(2, 2, (4, 4, 2))
>>> torch.equal(events.dense(), spikes)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from eventcode import address, checks, dense
from eventcode.dense import DenseLayout
from eventcode.errors import (
    EventsDtypeError,
    EventsError,
    OptionError,
    OptionTypeError,
    SampleIndexError,
    TimeOrderError,
)
from eventcode.options import positive_int

TimeUnit = Literal["step", "us"]
Check = Literal["full", "cheap", "none"]
CHECKS = ("full", "cheap", "none")
"""How much :meth:`Events.from_columns` checks: everything, the metadata only, or nothing."""

_NOT_DENSE = (
    "Events holds address events, not a dense tensor; where a dense tensor is expected pass "
    "events.dense(), the [T, B, *shape] spikes (events.dense()[:, b].flatten(1) is sample b as "
    "[T, neurons], what snntorch.spikeplot.raster plots); events.to(device) moves the events and "
    "events.to_numpy(sample=b) gives Tonic's structured array"
)
"""The fix named when an Events is used where a dense tensor is expected."""


class Events:
    """A batch of address-event streams ``(t, x, y, p[, c])`` with per-sample ``offsets``.

    Parameters
    ----------
    t : 1-D integer tensor or array-like
        Timestamps, in steps (``time_unit="step"``) or microseconds (``"us"``); stored int64.
    x, y : 1-D integer tensors or array-likes
        Addresses; ``0 <= x < W`` and ``0 <= y < H``; stored int16, or int32 for an extent over
        32,768 (:func:`eventcode.address.column_dtypes`).
    p : 1-D bool or {0, 1} integer tensor or array-like
        Polarity, True/1 = ON, False/0 = OFF; stored bool.
    c : 1-D integer tensor, optional
        Channel, required exactly when the sample shape has several channels (the dims before
        ``[H, W]`` flattened row-major); stored int16, or int32 beyond 32,768 channels.
    offsets : 1-D integer tensor, optional
        ``B + 1`` non-decreasing indices from 0 to ``len(t)``: sample ``b`` is
        ``offsets[b]:offsets[b + 1]``. Default: one sample holding every event.
    shape : tuple of int, optional
        Dense shape of one sample, e.g. ``(1, 28, 28)``, ``(2, 34, 34)`` or ``(700,)``.
    sensor_size : tuple of int, optional
        Tonic's ``(W, H)`` or ``(W, H, P)``, an alternative to ``shape`` giving ``(H, W)``; ``P``
        (1 or 2) sets ``polarities``.
    polarities : {2, 1, 0}, optional
        The sensor's kinds of event: 2 (default) for OFF and ON; 1 for one kind (a 1-polarity
        sensor, e.g. Tonic's SHD ``(700, 1, 1)``): every sample then holds one value of ``p``; 0
        for events without polarity (a Tonic array with no ``p`` field): every ``p`` is True.
    num_steps : int, optional
        Number of time steps ``T`` of a step-time stream; every ``t`` lies in ``[0, T)``.
    time_unit : {"step", "us"}, optional
        Default ``"step"`` when ``num_steps`` is given, else ``"us"``.
    sort : bool, default False
        Sort each sample stably by ``t`` instead of raising on unsorted time.

    Raises
    ------
    EventsDtypeError
        A column has a non-integer dtype (``p``: not bool or integer).
    AddressError
        An address is outside ``shape``; the message names the first bad event.
    PolarityError
        ``P`` of 3 or more, or both polarities in a sample of a 1-polarity sensor.
    TimeOrderError
        Time decreases within a sample (and ``sort`` is False), or a step lies outside
        ``[0, num_steps)``.
    OffsetsError
        ``offsets`` do not run non-decreasing from 0 to the number of events.
    EventsError
        Any other inconsistency: column lengths, devices, metadata.

    Notes
    -----
    ``len(events)`` is the total number of events and ``==`` compares columns (values and
    dtypes), offsets and metadata, ignoring the device. ``sensor_size`` is ``(W, H, P)`` with
    ``P = max(polarities, 1)``.
    An ``Events`` is not a tensor: tensor methods, torch functions and numpy given one raise an
    error naming :meth:`dense`; e.g. ``snntorch.spikeplot.raster`` plots sample 0 from
    ``events.dense()[:, 0].flatten(1)``.

    Examples
    --------
    >>> from eventcode import Events
    >>> ev = Events(t=[0, 5, 9], x=[1, 2, 3], y=[0, 0, 1], p=[1, 0, 1], sensor_size=(4, 2))
    >>> ev
    Events(samples=1, events=3, shape=(2, 4), time_unit='us', device=cpu)
    >>> ev.to_numpy()["t"].tolist()
    [0, 5, 9]
    """

    __slots__ = (
        "_c",
        "_num_steps",
        "_offsets",
        "_p",
        "_polarities",
        "_shape",
        "_t",
        "_time_unit",
        "_x",
        "_y",
    )
    _t: torch.Tensor
    _x: torch.Tensor
    _y: torch.Tensor
    _p: torch.Tensor
    _c: torch.Tensor | None
    _offsets: torch.Tensor
    _shape: tuple[int, ...]
    _num_steps: int | None
    _time_unit: TimeUnit
    _polarities: int

    def __init__(
        self,
        t: torch.Tensor | np.ndarray | Sequence[int],
        x: torch.Tensor | np.ndarray | Sequence[int],
        y: torch.Tensor | np.ndarray | Sequence[int],
        p: torch.Tensor | np.ndarray | Sequence[int] | Sequence[bool],
        *,
        c: torch.Tensor | np.ndarray | Sequence[int] | None = None,
        offsets: torch.Tensor | np.ndarray | Sequence[int] | None = None,
        shape: Sequence[int] | None = None,
        sensor_size: Sequence[int] | None = None,
        num_steps: int | None = None,
        time_unit: TimeUnit | None = None,
        sort: bool = False,
        polarities: int | None = None,
    ) -> None:
        self._fill(t, x, y, p, c, offsets, shape, sensor_size, num_steps, time_unit, sort, polarities, True)

    @classmethod
    def from_columns(
        cls,
        t: torch.Tensor | np.ndarray | Sequence[int],
        x: torch.Tensor | np.ndarray | Sequence[int],
        y: torch.Tensor | np.ndarray | Sequence[int],
        p: torch.Tensor | np.ndarray | Sequence[int] | Sequence[bool],
        *,
        c: torch.Tensor | np.ndarray | Sequence[int] | None = None,
        offsets: torch.Tensor | np.ndarray | Sequence[int] | None = None,
        shape: Sequence[int] | None = None,
        sensor_size: Sequence[int] | None = None,
        num_steps: int | None = None,
        time_unit: TimeUnit | None = None,
        sort: bool = False,
        polarities: int | None = None,
        check: Check = "full",
    ) -> Events:
        """Events from columns, checked as far as ``check`` says: the one way every part builds them.

        Parameters
        ----------
        t, x, y, p, c, offsets, shape, sensor_size, num_steps, time_unit, sort, polarities
            As for :class:`Events`.
        check : {"full", "cheap", "none"}
            ``"full"``: every check of the constructor. ``"cheap"``: the metadata, column lengths,
            devices and ``offsets`` (O(samples)); the values are converted to the canonical dtypes
            unchecked, for callers that checked them already, in the dtype they were stored in, with
            :mod:`eventcode.checks` (the file readers). ``"none"``: the columns are used as given:
            tensors in the canonical dtypes (t int64, x / y / c of
            :func:`eventcode.address.column_dtypes`, p bool), on one device, sorted within each
            sample, with ``offsets`` (the encoders' output).

        Raises
        ------
        OptionError
            An unknown ``check``.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> t, p = torch.tensor([0, 4]), torch.tensor([True, False])
        >>> x, y = torch.tensor([1, 0], dtype=torch.int16), torch.zeros(2, dtype=torch.int16)
        >>> offsets = torch.tensor([0, 2])
        >>> ev = Events.from_columns(t, x, y, p, offsets=offsets, shape=(3,), num_steps=5, check="none")
        >>> ev == Events(t=[0, 4], x=[1, 0], y=[0, 0], p=[1, 0], shape=(3,), num_steps=5)
        True
        """
        if check not in CHECKS:
            raise OptionError(f"check must be one of {CHECKS}, got {check!r}")
        events = object.__new__(cls)
        if check == "none":
            dims = address.resolve(shape, sensor_size)
            events._t, events._x, events._y, events._p, events._c = t, x, y, p, c  # type: ignore[assignment]
            events._offsets = offsets if offsets is not None else torch.tensor([0, len(t)], device=t.device)  # type: ignore[union-attr,assignment]
            events._shape, events._num_steps = dims, num_steps
            events._time_unit = _resolve_time_unit(time_unit, num_steps)
            events._polarities = address.resolve_polarities(polarities, sensor_size)
            return events
        events._fill(
            t,
            x,
            y,
            p,
            c,
            offsets,
            shape,
            sensor_size,
            num_steps,
            time_unit,
            sort,
            polarities,
            check == "full",
        )
        return events

    def _fill(
        self,
        t: object,
        x: object,
        y: object,
        p: object,
        c: object,
        offsets: object,
        shape: Sequence[int] | None,
        sensor_size: Sequence[int] | None,
        num_steps: int | None,
        time_unit: TimeUnit | None,
        sort: bool,
        polarities: int | None,
        values: bool,
    ) -> None:
        """Set the fields from columns, checking the metadata and, with ``values``, every value."""
        dims = address.resolve(shape, sensor_size)
        kinds = address.resolve_polarities(polarities, sensor_size)
        unit = _resolve_time_unit(time_unit, num_steps)
        given = {"t": t, "x": x, "y": y, "p": p}
        if c is not None:
            given["c"] = c
        tensors = {name: _as_column(name, value) for name, value in given.items()}
        device = tensors["t"].device
        n = len(tensors["t"])
        for name, tensor in tensors.items():
            if tensor.device != device:
                raise EventsError(
                    f"column {name} is on {tensor.device} but t is on {device}; "
                    "move every column to one device"
                )
            if len(tensor) != n:
                raise EventsError(
                    f"column {name} has {len(tensor)} values but t has {n}; "
                    "every column needs one value per event"
                )
            if name != "p" and (
                tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool
            ):
                raise EventsDtypeError(
                    f"column {name} has dtype {tensor.dtype}; it must be an integer tensor; round or "
                    "cast it explicitly first"
                )
        if (c is None) != (address.channels(dims) == 1):
            raise EventsError(
                f"shape {dims} has {address.channels(dims)} channel(s): "
                + (
                    "pass the channel column c="
                    if c is None
                    else "drop c=, it is only for shapes with several channels"
                )
            )
        bounds = (
            torch.tensor([0, n], dtype=torch.int64, device=device)
            if offsets is None
            else _as_column("offsets", offsets).to(device=device, dtype=torch.int64)
        )
        checks.offsets(bounds, n)
        if sort:
            order = _sort_order(tensors["t"].to(torch.int64), bounds)
            tensors = {name: tensor[order] for name, tensor in tensors.items()}
        if values:
            if unit == "step":
                checks.steps(tensors["t"], bounds, num_steps)  # type: ignore[arg-type]
            checks.time_order(tensors["t"], bounds)
            for name, extent in zip("xyc", address.extents(dims), strict=True):
                if name in tensors:
                    checks.addresses(name, tensors[name], extent, bounds, dims)
            if tensors["p"].is_floating_point() or tensors["p"].is_complex():
                raise EventsDtypeError(
                    f"column p has dtype {tensors['p'].dtype}; it must be bool or 0/1 integers"
                )
            checks.polarity(tensors["p"], bounds, kinds)
        self._t = tensors["t"].to(torch.int64)
        x_dtype, y_dtype, c_dtype = address.column_dtypes(dims)
        self._x, self._y = tensors["x"].to(x_dtype), tensors["y"].to(y_dtype)
        self._c = None if c_dtype is None else tensors["c"].to(c_dtype)
        self._p = tensors["p"] if tensors["p"].dtype == torch.bool else tensors["p"] != 0
        self._polarities = kinds
        self._offsets = bounds
        self._shape = dims
        self._num_steps = None if num_steps is None else int(num_steps)
        self._time_unit = unit

    def _replace(self, **changes: object) -> Events:
        """A copy with some fields replaced (trusted: callers keep the invariants)."""
        fields = {slot[1:]: getattr(self, slot) for slot in self.__slots__}
        fields.update(changes)
        return Events.from_columns(**fields, check="none")

    def _with_columns(self, columns: dict[str, torch.Tensor], **changes: object) -> Events:
        """A copy whose event columns are ``columns`` (as :meth:`_columns` gives them)."""
        return self._replace(**{"c": None, **columns}, **changes)

    # ------------------------------------------------------------------ columns and metadata
    @property
    def t(self) -> torch.Tensor:
        """Timestamps, int64, in :attr:`time_unit`."""
        return self._t

    @property
    def x(self) -> torch.Tensor:
        """Column address, ``0 <= x < W``: int16, int32 when ``W`` exceeds 32,768."""
        return self._x

    @property
    def y(self) -> torch.Tensor:
        """Row address, ``0 <= y < H`` (0 for 1-D samples): int16, int32 when ``H`` exceeds 32,768."""
        return self._y

    @property
    def p(self) -> torch.Tensor:
        """Polarity, bool: True = ON, False = OFF."""
        return self._p

    @property
    def c(self) -> torch.Tensor | None:
        """Channel (int16, int32 beyond 32,768 channels), or None when a sample has a single channel."""
        return self._c

    @property
    def offsets(self) -> torch.Tensor:
        """int64 ``[B + 1]``: events of sample ``b`` are ``offsets[b]:offsets[b + 1]``."""
        return self._offsets

    @property
    def shape(self) -> tuple[int, ...]:
        """Dense shape of one sample, e.g. ``(1, 28, 28)``."""
        return self._shape

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        """Tonic's ``(W, H, P)``: ``P`` is 2 (OFF, ON), or 1 for a 1-polarity sensor or no polarity."""
        return (*address.sensor_size(self._shape)[:2], max(self._polarities, 1))

    @property
    def polarities(self) -> int:
        """2 for OFF and ON events, 1 for a 1-polarity sensor, 0 for events without polarity."""
        return self._polarities

    @property
    def num_steps(self) -> int | None:
        """Number of time steps of a step-time stream, None for microsecond time."""
        return self._num_steps

    @property
    def time_unit(self) -> TimeUnit:
        """``"step"`` (encoder output) or ``"us"`` (sensor time)."""
        return self._time_unit

    @property
    def num_samples(self) -> int:
        """Number of samples ``B`` in the batch."""
        return len(self._offsets) - 1

    @property
    def device(self) -> torch.device:
        """Device holding the columns."""
        return self._t.device

    def sample_ids(self) -> torch.Tensor:
        """The sample index of every event, int64 ``[len(events)]``.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> Events.from_dense(torch.ones(2, 3, 1)).sample_ids().tolist()
        [0, 0, 1, 1, 2, 2]
        """
        return _sample_ids(self._offsets, len(self))

    def columns(self) -> dict[str, torch.Tensor]:
        """The event columns by name: ``t, x, y, p`` and ``c`` when the samples have channels.

        Examples
        --------
        >>> from eventcode import Events
        >>> list(Events(t=[3], x=[1], y=[0], p=[1], shape=(2,)).columns())
        ['t', 'x', 'y', 'p']
        """
        columns: dict[str, torch.Tensor] = {"t": self._t, "x": self._x, "y": self._y, "p": self._p}
        if self._c is not None:
            columns["c"] = self._c
        return columns

    def _metadata(self) -> tuple[object, ...]:
        return (self._shape, self._num_steps, self._time_unit, self._polarities)

    def __len__(self) -> int:
        return len(self._t)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Events):
            return NotImplemented
        if self._metadata() != other._metadata():
            return False
        mine = {"offsets": self._offsets, **self.columns()}
        theirs = {"offsets": other._offsets, **other.columns()}
        if mine.keys() != theirs.keys():
            return False
        return all(
            a.dtype == theirs[k].dtype
            and a.shape == theirs[k].shape
            and torch.equal(a, theirs[k].to(a.device))
            for k, a in mine.items()
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        steps = f", num_steps={self._num_steps}" if self._num_steps is not None else ""
        kinds = f", polarities={self._polarities}" if self._polarities != 2 else ""
        return (
            f"Events(samples={self.num_samples}, events={len(self)}, shape={self._shape}, "
            f"time_unit={self._time_unit!r}{steps}{kinds}, device={self.device})"
        )

    # ------------------------------------------------------------------ not a dense tensor
    def __getattr__(self, name: str) -> object:
        """Only called for a missing attribute: for a ``torch.Tensor`` one, say to pass :meth:`dense`.

        Code written for dense spike tensors (``snntorch.spikeplot.raster`` calls ``data.size()``)
        then fails with the fix in its message instead of a bare ``AttributeError``.
        """
        if name.startswith("_") or not hasattr(torch.Tensor, name):
            raise AttributeError(f"'Events' object has no attribute {name!r}", name=name, obj=self)
        raise AttributeError(f"Events has no tensor attribute {name!r}: {_NOT_DENSE}", name=name, obj=self)

    @classmethod
    def __torch_function__(
        cls,
        func: object,
        types: object,
        args: Sequence[object] = (),
        kwargs: dict[str, object] | None = None,
    ) -> object:
        """torch functions given an ``Events`` (``torch.where(events)``) raise, naming :meth:`dense`."""
        name = getattr(func, "__name__", str(func))
        raise EventsDtypeError(f"torch {name}() was given an Events: {_NOT_DENSE}")

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        """``np.asarray(events)`` (and matplotlib) raise, naming :meth:`dense` and :meth:`to_numpy`."""
        raise EventsDtypeError(f"numpy was given an Events: {_NOT_DENSE}")

    # ------------------------------------------------------------------ batch structure
    def __getitem__(self, index: int | slice) -> Events:
        """Sample ``b`` (an ``Events`` with one sample) or a contiguous range of samples.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> ev = Events.from_dense(torch.eye(3)[:, :, None])  # T=3, B=3, one neuron
        >>> [len(ev[b]) for b in range(ev.num_samples)], ev[1:].num_samples
        ([1, 1, 1], 2)
        """
        count = self.num_samples
        if isinstance(index, slice):
            start, stop, step = index.indices(count)
            if step != 1:
                raise EventsError(f"sample slices need step 1, got step {step}; select samples one by one")
            stop = max(stop, start)
        elif isinstance(index, (int, np.integer)):
            start = int(index) + count if index < 0 else int(index)
            if not 0 <= start < count:
                raise SampleIndexError(f"sample {index} out of range for {count} sample(s)")
            stop = start + 1
        else:
            raise OptionTypeError(f"Events indices are ints or slices of samples, got {type(index).__name__}")
        lo, hi = (int(v) for v in self._offsets[[start, stop]].tolist()) if count else (0, 0)
        columns = {k: v[lo:hi] for k, v in self.columns().items()}
        return self._with_columns(columns, offsets=self._offsets[start : stop + 1] - lo)

    @staticmethod
    def cat(batches: Sequence[Events]) -> Events:
        """Join batches sample-wise into one batch, on the device of the first.

        All must share ``shape``, ``time_unit`` and ``polarities``; ``num_steps`` becomes the largest.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> a = Events.from_dense(torch.ones(2, 1, 3))
        >>> b = Events.from_dense(torch.ones(4, 2, 3))
        >>> joined = Events.cat([a, b])
        >>> joined.num_samples, len(joined), joined.num_steps
        (3, 30, 4)
        """
        if not batches:
            raise EventsError("Events.cat needs at least one Events")
        first = batches[0]
        for i, other in enumerate(batches):
            if (other._shape, other._time_unit, other._polarities) != (
                first._shape,
                first._time_unit,
                first._polarities,
            ):
                raise EventsError(
                    f"batch {i} has shape {other._shape} in {other._time_unit!r} time with "
                    f"{other._polarities} polarities but batch 0 has shape {first._shape} in "
                    f"{first._time_unit!r} time with {first._polarities}; only like streams join"
                )
            if (other._c is None) != (first._c is None):
                raise EventsError(f"batch {i} and batch 0 differ in having a channel column")
        device = first.device
        columns = {k: torch.cat([b.columns()[k].to(device) for b in batches]) for k in first.columns()}
        starts = np.cumsum([0] + [len(b) for b in batches[:-1]])
        offsets = torch.cat(
            [first._offsets[:1].to(device)]
            + [b._offsets[1:].to(device) + int(s) for b, s in zip(batches, starts, strict=True)]
        )
        steps = [b._num_steps for b in batches]
        return first._with_columns(
            columns,
            offsets=offsets,
            num_steps=None if steps[0] is None else max(steps),  # type: ignore[type-var]
        )

    def time_slice(self, t_start: int | None = None, t_end: int | None = None) -> Events:
        """Events with ``t_start <= t < t_end`` in every sample; times stay absolute.

        ``None`` leaves a side open. ``num_steps`` is kept, so ``dense()`` keeps its length.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> ev = Events.from_dense(torch.ones(10, 2, 1))
        >>> window = ev.time_slice(3, 5)
        >>> window.t.tolist(), window.offsets.tolist()
        ([3, 4, 3, 4], [0, 2, 4])
        """
        keep = torch.ones_like(self._p)
        if t_start is not None:
            keep &= self._t >= t_start
        if t_end is not None:
            keep &= self._t < t_end
        kept_before = offsets_of(keep)
        columns = {k: v[keep] for k, v in self.columns().items()}
        return self._with_columns(columns, offsets=kept_before[self._offsets])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Events:
        """The same events on ``device``.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> ev = Events.from_dense(torch.ones(2, 1, 3))
        >>> ev.to("cpu") == ev
        True
        """
        columns = {k: v.to(device, non_blocking=non_blocking) for k, v in self.columns().items()}
        return self._with_columns(columns, offsets=self._offsets.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Events:
        """The same events in page-locked memory (for fast, asynchronous copies to a GPU).

        DataLoader calls it on every batch when ``pin_memory=True``.
        """
        columns = {k: v.pin_memory() for k, v in self.columns().items()}
        return self._with_columns(columns, offsets=self._offsets.pin_memory())

    # ------------------------------------------------------------------ time units
    def to_us(self, dt_us: int, t0_us: int = 0) -> Events:
        """Step time to microseconds: ``t_us = t0_us + t * dt_us``.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> ev = Events.from_dense(torch.ones(3, 1, 1)).to_us(dt_us=1000, t0_us=50)
        >>> ev.t.tolist(), ev.time_unit
        ([50, 1050, 2050], 'us')
        """
        self._require_unit("step", "to_us")
        dt_us, t0_us = positive_int("dt_us", dt_us, "microseconds per step"), int(t0_us)
        return self._replace(t=self._t * dt_us + t0_us, num_steps=None, time_unit="us")

    def to_steps(self, dt_us: int, t0_us: int = 0, num_steps: int | None = None) -> Events:
        """Microseconds to steps: ``t = (t_us - t0_us) // dt_us``, the inverse of :meth:`to_us`.

        ``num_steps`` defaults to the last occupied step + 1 (0 for no events). Events before
        ``t0_us`` or at a step ``>= num_steps`` raise :class:`TimeOrderError`.

        Examples
        --------
        >>> from eventcode import Events
        >>> ev = Events(t=[50, 1049, 2050], x=[0, 0, 0], y=[0, 0, 0], p=[1, 1, 1], shape=(1,))
        >>> steps = ev.to_steps(dt_us=1000, t0_us=50, num_steps=4)
        >>> steps.t.tolist(), steps.num_steps
        ([0, 0, 2], 4)
        """
        self._require_unit("us", "to_steps")
        dt_us, t0_us = positive_int("dt_us", dt_us, "microseconds per step"), int(t0_us)
        steps = torch.div(self._t - t0_us, dt_us, rounding_mode="floor")
        if len(steps) and int(steps.min()) < 0:
            i = checks.first(steps < 0)
            raise TimeOrderError(
                f"t[{i}] = {int(self._t[i])} us is before t0_us = {t0_us} "
                f"({checks.where(i, self._offsets)}); pass a t0_us at or before the first event"
            )
        last = int(steps.max()) + 1 if len(steps) else 0
        if num_steps is None:
            num_steps = last
        elif last > num_steps:
            i = checks.first(steps >= num_steps)
            raise TimeOrderError(
                f"t[{i}] = {int(self._t[i])} us falls in step {int(steps[i])}, beyond num_steps = "
                f"{num_steps} ({checks.where(i, self._offsets)}); raise num_steps or time_slice first"
            )
        return self._replace(t=steps, num_steps=int(num_steps), time_unit="step")

    def _require_unit(self, unit: TimeUnit, operation: str) -> None:
        if self._time_unit != unit:
            hint = "to_steps(dt_us=...)" if unit == "step" else "to_us(dt_us=...)"
            raise EventsError(
                f"{operation} needs {unit!r} time but these events count {self._time_unit!r}; "
                f"convert with events.{hint} first"
            )

    # ------------------------------------------------------------------ dense and sparse tensors
    @classmethod
    def from_dense(cls, spikes: torch.Tensor | np.ndarray, *, batched: bool = True) -> Events:
        """Events of a dense spike tensor ``[T, B, *shape]`` (or ``[T, *shape]`` with ``batched=False``).

        Each integral value ``v`` at ``[t, b, ...]`` gives ``|v|`` events at step ``t`` with polarity
        ON for ``v > 0`` and OFF for ``v < 0``, so snnTorch's rate/latency (0/1) and delta (-1/0/1)
        outputs convert losslessly. Accepts bool, integer and float tensors, numpy arrays and sparse
        COO tensors. Events come out sorted by ``t``, ties in row-major ``(c, y, x)`` order.

        Raises
        ------
        DenseInputError
            Fewer than 2 dims (1 with ``batched=False``), a complex dtype, or a NaN, inf or
            non-integral value (the message names the first such index).

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> spikes = torch.tensor([[0.0, 1.0], [-2.0, 0.0]])  # [T=2, N=2], one sample
        >>> ev = Events.from_dense(spikes, batched=False)
        >>> ev.t.tolist(), ev.x.tolist(), ev.p.tolist()
        ([0, 1, 1], [1, 0, 0], [True, False, False])
        """
        return cls.from_flat(*dense.spike_events(spikes, batched))

    @classmethod
    def from_flat(
        cls,
        counts: torch.Tensor,
        time: torch.Tensor,
        flat: torch.Tensor,
        polarity: torch.Tensor,
        shape: tuple[int, ...],
        num_steps: int,
    ) -> Events:
        """Step-time events from ``counts`` per sample and columns already sorted by (sample, t, address).

        ``flat`` holds row-major flat addresses (:func:`eventcode.address.flat`); nothing is
        checked (the encoders' and :meth:`from_dense`'s output, correct by construction).

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> ev = Events.from_flat(torch.tensor([1, 1]), torch.tensor([0, 2]), torch.tensor([5, 0]),
        ...                       torch.tensor([True, True]), (2, 3), num_steps=3)
        >>> ev.x.tolist(), ev.y.tolist(), ev.offsets.tolist()
        ([2, 0], [1, 0], [0, 1, 2])
        """
        x, y, c = address.split(flat, shape)
        return cls.from_columns(
            time.to(torch.int64),
            x,
            y,
            polarity,
            c=c,
            offsets=offsets_of(counts),
            shape=shape,
            num_steps=num_steps,
            check="none",
        )

    def dense(
        self,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        polarity: DenseLayout = "signed",
        t_start: int | None = None,
        t_end: int | None = None,
    ) -> torch.Tensor:
        """The dense tensor ``[T, B, *shape]`` (or of steps ``t_start:t_end``): :func:`eventcode.densify`.

        ``dtype`` is the output's dtype whatever the events came from (``float32`` by default;
        :mod:`eventcode.spikegen` picks snnTorch's dtype per encoder). Values are event counts
        (ON - OFF for ``"signed"``) summed in ``dtype``: any float or signed integer dtype;
        unsigned and ``torch.bool`` only for ``polarity="on"`` or ``"split"`` (bool marks where
        an event fell); complex raises :class:`~eventcode.errors.EventsError`. Spike tensors
        (0 and 1, or -1, 0, 1) are exact in every dtype; larger counts wrap in too narrow integer
        dtypes (int8 beyond 127) and round in float16 / bfloat16 beyond 2048 / 256.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> ev = Events(t=[0, 1], x=[2, 0], y=[0, 0], p=[1, 0], shape=(3,), num_steps=2)
        >>> ev.dense().tolist()
        [[[0.0, 0.0, 1.0]], [[-1.0, 0.0, 0.0]]]
        >>> ev.dense(t_start=1).tolist()  # a window of steps: [t_end - t_start, B, *shape]
        [[[-1.0, 0.0, 0.0]]]
        >>> ev.dense(dtype=torch.float16).dtype, ev.dense(dtype=torch.bool, polarity="on").tolist()
        (torch.float16, [[[False, False, True]], [[False, False, False]]])
        """
        return dense.densify(
            self, device=device, dtype=dtype, polarity=polarity, t_start=t_start, t_end=t_end
        )

    def to_sparse(self, dtype: torch.dtype = torch.float32, polarity: DenseLayout = "signed") -> torch.Tensor:
        """A coalesced sparse COO tensor ``[T, B, *shape]``, the values of :meth:`dense`.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> ev = Events.from_dense(torch.eye(3)[:, None])  # T=3, B=1, N=3
        >>> ev.to_sparse()._nnz(), torch.equal(ev.to_sparse().to_dense(), ev.dense())
        (3, True)
        """
        return dense.to_sparse(self, dtype=dtype, polarity=polarity)

    # ------------------------------------------------------------------ Tonic structured arrays
    def to_numpy(self, sample: int | None = None) -> np.ndarray:
        """One sample as a Tonic structured array: fields ``x, y, t, p`` (and ``c`` if any).

        Dtypes are those of Tonic's ``events_struct``: x, y int16, t int64, p bool (c int16); an
        address column over 32,768 wide is int32. As in Tonic's audio datasets (SHD, SSC), 1-D
        (and 0-D) samples have no ``y`` field, and events without polarity (``polarities=0``) no
        ``p`` field, so a Tonic array read with :func:`eventcode.tonic.from_tonic` comes back with
        its fields.

        Raises
        ------
        EventsError
            If the batch holds several samples and ``sample`` is None.

        Examples
        --------
        >>> import torch
        >>> from eventcode import Events
        >>> ev = Events.from_dense(torch.ones(2, 3, 1, 1, 2))
        >>> arr = ev.to_numpy(sample=2)
        >>> arr.dtype.names, len(arr)
        (('x', 'y', 't', 'p'), 4)
        >>> Events.from_dense(torch.ones(1, 1, 700)).to_numpy().dtype.names  # audio: no y
        ('x', 't', 'p')
        """
        if sample is None:
            if self.num_samples != 1:
                raise EventsError(
                    f"to_numpy() without sample= needs one sample, these events hold {self.num_samples}; "
                    "pass sample=b"
                )
            sample = 0
        one = self[sample]
        columns = one.columns()
        names = [k for k in ("x", "y", "t", "p", "c") if k in columns and k not in self._absent_fields()]
        dtype = np.dtype([(k, str(columns[k].dtype).removeprefix("torch.")) for k in names])  # same names
        array = np.empty(len(one), dtype=dtype)
        for name in names:
            array[name] = columns[name].cpu().numpy()
        return array

    def _absent_fields(self) -> tuple[str, ...]:
        """The Tonic fields these events have no column for: ``y`` of 0-D and 1-D samples, ``p`` of
        events without polarity."""
        return ("y",) * (len(self._shape) < 2) + ("p",) * (self._polarities == 0)


def offsets_of(counts: torch.Tensor) -> torch.Tensor:
    """``[0, n0, n0 + n1, ...]`` (int64): where consecutive runs of ``counts`` items start, then the end."""
    offsets = torch.zeros(len(counts) + 1, dtype=torch.int64, device=counts.device)
    torch.cumsum(counts, 0, out=offsets[1:])
    return offsets


# ---------------------------------------------------------------------- construction helpers
def _resolve_time_unit(time_unit: str | None, num_steps: int | None) -> TimeUnit:
    unit = time_unit if time_unit is not None else ("step" if num_steps is not None else "us")
    if unit == "step":
        if num_steps is None or isinstance(num_steps, bool) or int(num_steps) != num_steps or num_steps < 0:
            raise EventsError(f"step time needs num_steps, a non-negative int; got {num_steps!r}")
    elif unit == "us":
        if num_steps is not None:
            raise EventsError("num_steps is for step time; microsecond streams take num_steps=None")
    else:
        raise EventsError(f"time_unit must be 'step' or 'us', got {time_unit!r}")
    return unit  # type: ignore[return-value]


def _as_column(name: str, value: object) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        array = np.asarray(value)
        if array.size == 0 and not isinstance(value, np.ndarray):
            array = array.astype(np.int64)
        if array.dtype.kind == "u" and array.dtype.itemsize >= 2:
            if array.size and array.max() > np.iinfo(np.int64).max:
                raise EventsError(f"column {name} holds values beyond int64")
            array = array.astype(np.int64)
        if array.dtype.kind not in "biuf":
            raise EventsDtypeError(f"column {name} has dtype {array.dtype}; it must hold integers")
        if array.strides != (array.itemsize,) * array.ndim:  # e.g. a field of a structured array
            array = array.copy()
        tensor = torch.from_numpy(array)
    if tensor.dim() != 1:
        raise EventsError(f"column {name} must be 1-D, got shape {list(tensor.shape)}")
    return tensor


def _sample_ids(offsets: torch.Tensor, n: int) -> torch.Tensor:
    counts = offsets.diff()
    return torch.repeat_interleave(torch.arange(len(counts), device=offsets.device), counts, output_size=n)


def _sort_order(t: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    by_time = torch.argsort(t, stable=True)
    return by_time[torch.argsort(_sample_ids(offsets, len(t))[by_time], stable=True)]
