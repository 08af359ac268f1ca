"""Address mapping between a dense sample shape and the ``(c, y, x)`` event columns.

A dense sample of shape ``[..., H, W]`` maps its last dim to ``x``, the one before to
``y`` and every leading dim, flattened in row-major order, to the channel ``c``. A 1-D
sample ``[N]`` maps to ``x`` with ``y = 0``; a 0-D sample is a single address.
The flat address ``n = (c * H + y) * W + x`` is the row-major index into the sample.

Examples
--------
>>> from eventcode import address
>>> address.sensor_size((2, 34, 34))
(34, 34, 2)
>>> address.channels((2, 34, 34)), address.channels((1, 28, 28))
(2, 1)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from eventcode.errors import EventsError

if TYPE_CHECKING:  # torch is imported where it is used: `eventcode info` and `--help` run without it
    import torch

INT16_LIMIT = 32767
"""Largest extent of x, y or c: the columns are int16."""


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


def check_shape(shape: object) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of ints after checking that the columns can address it.

    Raises
    ------
    EventsError
        If a dim is not a positive integer, or if ``W``, ``H`` or the channel count exceeds
        32,767 (the int16 range of the columns).
    """
    try:
        dims = tuple(int(d) for d in shape)  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        raise EventsError(f"shape must be a sequence of ints such as (1, 28, 28), got {shape!r}") from err
    if any(d < 1 for d in dims):
        raise EventsError(f"shape {dims} has a dim below 1: every dim of a sample must be >= 1")
    for name, extent in (("W (x)", width(dims)), ("H (y)", height(dims)), ("C (c)", channels(dims))):
        if extent > INT16_LIMIT:
            raise EventsError(
                f"shape {dims} gives {name} = {extent}, beyond the int16 limit {INT16_LIMIT} "
                "of the address columns; reshape the sample, e.g. a long 1-D sample to [H, W]"
            )
    return dims


def resolve(shape: Sequence[int] | None, sensor_size: Sequence[int] | None) -> tuple[int, ...]:
    """The sample shape given as ``shape`` or as Tonic's ``sensor_size`` ``(W, H[, P])`` -> ``(H, W)``.

    Raises
    ------
    EventsError
        Neither given, both given and disagreeing on ``(W, H)``, or an invalid size.
    """
    if sensor_size is not None:
        size = tuple(int(v) for v in sensor_size)
        if len(size) not in (2, 3) or (len(size) == 3 and size[2] not in (1, 2)):
            raise EventsError(f"sensor_size must be (W, H) or (W, H, P) with P 1 or 2, got {sensor_size!r}")
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


def flat(x: torch.Tensor, y: torch.Tensor, c: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    """Row-major flat address ``(c * H + y) * W + x`` as int64."""
    import torch

    n = y.to(torch.int64, copy=True)
    if c is not None:
        n = n.add_(c.to(torch.int64), alpha=height(shape))
    return n.mul_(width(shape)).add_(x)


def split(n: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Inverse of :func:`flat`: int16 ``(x, y, c)``; ``c`` is None for one channel.

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
    x = torch.remainder(n, w).to(torch.int16)
    rows = torch.div(n, w, rounding_mode="floor")
    y = torch.remainder(rows, h).to(torch.int16)
    c = torch.div(rows, h, rounding_mode="floor").to(torch.int16) if channels(shape) > 1 else None
    return x, y, c


@functools.lru_cache(maxsize=16)
def _tables(
    shape: tuple[int, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(x, y, c)`` of every flat address of a sample (read-only: callers gather from them)."""
    import torch

    return _divide(torch.arange(math.prod(shape), device=device), shape)
