"""Tonic interop: eventcode events are Tonic events, in both directions.

Tonic passes events around as 1-D numpy structured arrays with named fields ``x, y, t, p``
(its ``events_struct`` is x int16, y int16, t int64, p bool; audio datasets have no ``y``) and a
``sensor_size`` of ``(W, H, P)`` with ``P`` 1 or 2. :meth:`Events.to_numpy
<eventcode.Events.to_numpy>` gives exactly that, so every Tonic transform runs on eventcode's
events unchanged; :func:`from_tonic` reads the arrays of any Tonic dataset back: any field order
and integer width, float time (in the dataset's unit, or scaled), bool, 0/1 or -1/+1 polarity, a
missing ``y`` (audio datasets such as SHD: 1-D samples) or ``p`` (events without polarity).

Examples
--------
>>> import numpy as np
>>> import tonic
>>> from eventcode import Events
>>> from eventcode.tonic import from_tonic, to_tonic
>>> events = Events(t=[10, 20, 30], x=[1, 2, 3], y=[0, 1, 0], p=[1, 0, 1], sensor_size=(4, 2))
>>> frames = tonic.transforms.ToFrame(sensor_size=(4, 2, 2), event_count=3)(to_tonic(events))
>>> frames.shape, int(frames.sum())
((1, 2, 2, 4), 3)
>>> signed = np.array([(0.5, 3, -1), (1.5, 1, 1)], dtype=[("t", "<f8"), ("x", "<i8"), ("p", "<i8")])
>>> from_tonic(signed, sensor_size=(700, 1, 2), time_scale=1e3).t.tolist()  # seconds -> ms
[500, 1500]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eventcode import address
from eventcode.errors import EventsError
from eventcode.events import Events, TimeUnit

ALIASES = {"t": ("t", "timestamp"), "x": ("x",), "y": ("y",), "p": ("p", "on", "polarity"), "c": ("c",)}
"""Field names read for each column: Tonic's, and those of aedat/faery (``on``) and dv-processing."""


def to_tonic(events: Events, sample: int | None = None, dtype: np.dtype | None = None) -> np.ndarray:
    """One sample as a Tonic structured array: Tonic's ``events_struct``, or the fields of ``dtype``.

    Give ``dtype`` to match a dataset's own layout (e.g. DVSGesture's x, y, p, t); fields are
    filled by name.

    Examples
    --------
    >>> import numpy as np
    >>> from eventcode import Events
    >>> from eventcode.tonic import to_tonic
    >>> events = Events(t=[5], x=[2], y=[1], p=[1], sensor_size=(4, 2))
    >>> gesture = np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])
    >>> to_tonic(events, dtype=gesture).tolist()
    [(2, 1, True, 5)]
    """
    array = events.to_numpy(sample)
    if dtype is None:
        return array
    out = np.empty(len(array), dtype=dtype)
    for name in out.dtype.names or ():
        if name not in (array.dtype.names or ()):
            raise EventsError(f"dtype field {name!r} has no eventcode column; fields are {array.dtype.names}")
        out[name] = array[name]
    return out


def from_tonic(
    array: np.ndarray,
    sensor_size: Sequence[int] | None = None,
    *,
    time_scale: float | None = None,
    shape: Sequence[int] | None = None,
    num_steps: int | None = None,
    time_unit: TimeUnit | None = None,
    sort: bool = False,
) -> Events:
    """One sample from a Tonic structured array, whatever its dtypes.

    Parameters
    ----------
    array : numpy structured array
        Fields ``x``, ``t`` and usually ``y``, ``p``, in any order and integer width; ``timestamp``
        and ``on`` / ``polarity`` (the names of dv-processing, faery and ``aedat``) work too.
        Without ``y`` (Tonic's audio datasets: SHD, SSC, NTIDIGITS) the sample is 1-D, of shape
        ``(W,)``; without ``p`` the events have no polarity (``polarities=0``). :func:`to_tonic`
        gives back the same fields.
    sensor_size : (W, H) or (W, H, P), optional
        ``P`` is 2 (OFF, ON; the default) or 1: a 1-polarity sensor, on which a sample holding
        both polarities raises, as in Tonic. Default: ``(max x + 1, max y + 1)``, as Tonic infers it.
    time_scale : float, optional
        Factor turning float times into integers (e.g. ``1e6`` for seconds to microseconds);
        float times without it must hold whole numbers.
    shape, num_steps, time_unit, sort
        As for :class:`~eventcode.Events`.

    Raises
    ------
    EventsError
        Missing fields, fractional float times without ``time_scale``, or a polarity that is
        neither bool, 0/1 nor -1/+1.
    PolarityError
        ``P`` of 3 or more (eventcode's polarity is a bool), or both polarities on a 1-polarity
        sensor.

    Examples
    --------
    >>> import numpy as np
    >>> from eventcode.tonic import from_tonic
    >>> fields = [("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")]  # N-MNIST's: all int64
    >>> nmnist = np.array([(3, 4, 100, 1), (0, 1, 250, 0)], dtype=fields)
    >>> events = from_tonic(nmnist, sensor_size=(34, 34, 2))
    >>> events.p.tolist(), events.sensor_size
    ([True, False], (34, 34, 2))
    >>> shd = np.array([(1500.0, 698, 1)], dtype=[("t", "<f8"), ("x", "<i8"), ("p", "<i8")])
    >>> audio = from_tonic(shd, sensor_size=(700, 1, 1))  # Tonic's SHD layout: no y field
    >>> audio.shape, audio.sensor_size, to_tonic(audio).dtype.names
    ((700,), (700, 1, 1), ('x', 't', 'p'))
    """
    address.resolve_polarities(None, sensor_size)  # a sensor of 3 or more polarities: refused first
    present = array.dtype.names or ()
    found = {name: next((a for a in ALIASES[name] if a in present), None) for name in ALIASES}
    fields = {name: array[alias] for name, alias in found.items() if alias is not None}
    if "t" in fields:
        fields["t"] = _integral_time(fields["t"], time_scale)
    if "p" in fields:
        fields["p"] = _polarity(fields["p"])
    missing = [k for k in "xt" if k not in fields]
    if missing:
        raise EventsError(
            f"the array has fields {array.dtype.names} but lacks {missing}; a Tonic event array has "
            "named fields x, t and usually y and p"
        )
    if sensor_size is None and shape is None:
        sensor_size = tuple(int(fields[k].max(initial=0)) + 1 if k in fields else 1 for k in "xy")
    if "y" not in fields and shape is None:
        shape = _audio_shape(sensor_size)  # type: ignore[arg-type]
    zeros = np.zeros(len(fields["t"]), dtype=np.int16)
    return Events(
        fields["t"],
        fields["x"],
        fields.get("y", zeros),
        fields.get("p", ~zeros.astype(bool)),
        c=fields.get("c"),
        shape=shape,
        sensor_size=sensor_size,
        num_steps=num_steps,
        time_unit=time_unit,
        sort=sort,
        polarities=None if "p" in fields else 0,
    )


def _audio_shape(sensor_size: Sequence[int]) -> tuple[int]:
    """The 1-D sample shape ``(W,)`` of events without a ``y`` field on a sensor ``(W, 1[, P])``."""
    if len(sensor_size) < 2 or int(sensor_size[1]) != 1:
        raise EventsError(
            f"the array has no y field, so its samples are 1-D, but sensor_size {tuple(sensor_size)} has "
            "a height above 1; add the y field, or give sensor_size (W, 1, P)"
        )
    return (int(sensor_size[0]),)


def _integral_time(t: np.ndarray, time_scale: float | None) -> np.ndarray:
    if time_scale is not None:
        return np.rint(np.asarray(t, dtype=np.float64) * time_scale).astype(np.int64)
    if t.dtype.kind == "f":
        if not np.array_equal(t, np.floor(t)):
            raise EventsError(
                "the array's float times have fractions; pass time_scale= to turn them into integers "
                "(e.g. time_scale=1e6 for seconds to microseconds)"
            )
        return t.astype(np.int64)
    return t


def _polarity(p: np.ndarray) -> np.ndarray:
    """bool ON/OFF from bool, 0/1 or -1/+1 polarity (never read -1 as ON)."""
    if p.dtype == bool:
        return p
    values = np.unique(p)
    if np.isin(values, (0, 1)).all():
        return p.astype(bool)
    if np.isin(values, (-1, 1)).all():
        return p > 0
    raise EventsError(f"polarity values {values[:6].tolist()} are neither 0/1 nor -1/+1")
