"""Address mapping between a dense sample shape and the ``(c, y, x)`` event columns.

A dense sample of shape ``[..., H, W]`` maps its last dim to ``x``, the one before to
``y`` and every leading dim, flattened in row-major order, to the channel ``c``. A 1-D
sample ``[N]`` maps to ``x`` with ``y = 0``; a 0-D sample is a single address.
The flat address ``n = (c * H + y) * W + x`` is the row-major index into the sample.

Each address column is int16 while its extent fits (W, H or C at most 32,768, so every address
is at most 32,767) and int32 beyond, up to 2^31: a wide sample never wraps around.

Examples
--------
>>> from eventcode import address
>>> address.sensor_size((2, 34, 34))
(34, 34, 2)
>>> address.channels((2, 34, 34)), address.channels((1, 28, 28))
(2, 1)
>>> address.column_dtypes((40_000,))
(torch.int32, torch.int16, None)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from eventcode.errors import EventsError, PolarityError

if TYPE_CHECKING:  # torch is imported where it is used: `eventcode info` and `--help` run without it
    import torch

INT16_EXTENT = 2**15
"""Largest extent of x, y or c held in an int16 column (addresses 0 to 32,767); int32 beyond."""

EXTENT_LIMIT = 2**31
"""Largest extent of x, y or c: addresses up to 2^31 - 1 fit the int32 columns."""


def width(shape: tuple[int, ...]) -> int:
    """Extent of ``x`` for a sample of this shape (1 for a 0-D sample)."""
    return shape[-1] if shape else 1


def height(shape: tuple[int, ...]) -> int:
    """Extent of ``y`` for a sample of this shape (1 for 0-D and 1-D samples)."""
    return shape[-2] if len(shape) >= 2 else 1


def channels(shape: tuple[int, ...]) -> int:
    """Number of channels: the product of the dims before ``[H, W]`` (1 if none)."""
    return math.prod(shape[:-2])


def sensor_size(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Tonic's ``(W, H, P)`` for a sample of this shape; ``P`` is always 2 (OFF, ON)."""
    return (width(shape), height(shape), 2)


def wide(extent: int) -> bool:
    """Whether addresses ``0 .. extent - 1`` need an int32 column (``extent`` over 32,768)."""
    return extent > INT16_EXTENT


def column_dtype_names(shape: tuple[int, ...]) -> tuple[str, str, str | None]:
    """``"int16"`` or ``"int32"`` for the ``x``, ``y`` and ``c`` columns (``c``: None for one channel),
    the names numpy and torch share."""
    x, y, c = ("int32" if wide(extent) else "int16" for extent in extents(shape))
    return x, y, (c if channels(shape) > 1 else None)


def column_dtypes(shape: tuple[int, ...]) -> tuple[torch.dtype, torch.dtype, torch.dtype | None]:
    """The torch dtypes of the ``x``, ``y`` and ``c`` columns of this sample shape (``c``: None
    for one channel)."""
    import torch

    return tuple(None if name is None else getattr(torch, name) for name in column_dtype_names(shape))  # type: ignore[return-value]


def extents(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(W, H, C)``: the number of values of ``x``, ``y`` and ``c``."""
    return width(shape), height(shape), channels(shape)


def check_shape(shape: object) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of ints after checking that the columns can address it.

    Raises
    ------
    EventsError
        If a dim is not a positive integer, or if ``W``, ``H`` or the channel count exceeds
        2^31 (the int32 range of the widest columns).
    """
    try:
        dims = tuple(int(d) for d in shape)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as err:
        raise EventsError(f"shape must be a sequence of ints such as (1, 28, 28), got {shape!r}") from err
    if any(d < 1 for d in dims):
        raise EventsError(f"shape {dims} has a dim below 1: every dim of a sample must be >= 1")
    for name, extent in zip(("W (x)", "H (y)", "C (c)"), extents(dims), strict=True):
        if extent > EXTENT_LIMIT:
            raise EventsError(
                f"shape {dims} gives {name} = {extent}, beyond the limit 2^31 of the int32 address "
                "columns; reshape the sample, e.g. a long 1-D sample to [H, W]"
            )
    return dims


def resolve(shape: Sequence[int] | None, sensor_size: Sequence[int] | None) -> tuple[int, ...]:
    """The sample shape given as ``shape`` or as Tonic's ``sensor_size`` ``(W, H[, P])`` -> ``(H, W)``.

    Raises
    ------
    EventsError
        Neither given, both given and disagreeing on ``(W, H)``, or an invalid size.
    PolarityError
        ``P`` is neither 1 nor 2.
    """
    if sensor_size is not None:
        size = tuple(int(v) for v in sensor_size)
        if len(size) not in (2, 3):
            raise EventsError(f"sensor_size must be (W, H) or (W, H, P), got {sensor_size!r}")
        if len(size) == 3 and size[2] not in (1, 2):
            raise PolarityError(
                f"sensor_size {size} has P = {size[2]} polarities, but eventcode's polarity is a bool "
                "(OFF/ON): it holds sensors of 1 or 2 polarities; give more kinds of event as channels "
                "instead: shape=(P, H, W) with c = the polarity index"
            )
        from_sensor = check_shape((size[1], size[0]))
        if shape is None:
            return from_sensor
        dims = check_shape(shape)
        if (width(dims), height(dims)) != size[:2]:
            raise EventsError(f"shape {dims} and sensor_size {size} disagree on (W, H); give one of them")
        return dims
    if shape is None:
        raise EventsError("give shape= (e.g. (1, 28, 28)) or sensor_size= (Tonic's (W, H, P))")
    return check_shape(shape)


POLARITIES = (2, 1, 0)
"""Kinds of sensor: 2 = OFF and ON events, 1 = one kind of event (a 1-polarity sensor), 0 = events
that carry no polarity (every ``p`` is True)."""


def resolve_polarities(polarities: int | None, sensor_size: Sequence[int] | None) -> int:
    """The sensor's kinds of event from ``polarities`` and the ``P`` of ``sensor_size`` (default 2).

    Raises
    ------
    PolarityError
        ``polarities`` not 0, 1 or 2, or disagreeing with ``P`` (0 and 1 go with ``P = 1``).
    """
    size = None if sensor_size is None else tuple(int(v) for v in sensor_size)
    given = size[2] if size is not None and len(size) == 3 else None
    if given is not None and given not in (1, 2):
        resolve(None, size)  # raises, naming the limitation
    if polarities is None:
        return 2 if given is None else given
    if isinstance(polarities, bool) or polarities not in POLARITIES:
        raise PolarityError(
            f"polarities must be 2 (OFF and ON), 1 (one kind of event) or 0 (no polarity), got {polarities!r}"
        )
    if given is not None and max(int(polarities), 1) != given:
        raise PolarityError(f"polarities={polarities} disagrees with the P of sensor_size {size}")
    return int(polarities)


def flat(x: torch.Tensor, y: torch.Tensor, c: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    """Row-major flat address ``(c * H + y) * W + x`` as int64."""
    import torch

    n = y.to(torch.int64, copy=True)
    if c is not None:
        n = n.add_(c.to(torch.int64), alpha=height(shape))
    return n.mul_(width(shape)).add_(x)


def split(n: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Inverse of :func:`flat`: ``(x, y, c)`` in :func:`column_dtypes`; ``c`` is None for one channel.

    When there are at least as many addresses as the sample has elements, they are looked up in
    per-address tables (a gather is several times faster than integer division).
    """
    if len(n) >= math.prod(shape):
        return tuple(
            None if table is None else table.index_select(0, n) for table in _tables(shape, n.device)
        )  # type: ignore[return-value]
    return _divide(n, shape)


def _divide(
    n: torch.Tensor, shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    import torch

    w, h = width(shape), height(shape)
    x_dtype, y_dtype, c_dtype = column_dtypes(shape)
    x = torch.remainder(n, w).to(x_dtype)
    rows = torch.div(n, w, rounding_mode="floor")
    y = torch.remainder(rows, h).to(y_dtype)
    c = None if c_dtype is None else torch.div(rows, h, rounding_mode="floor").to(c_dtype)
    return x, y, c


@functools.lru_cache(maxsize=16)
def _tables(
    shape: tuple[int, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(x, y, c)`` of every flat address of a sample (read-only: callers gather from them)."""
    import torch

    return _divide(torch.arange(math.prod(shape), device=device), shape)
