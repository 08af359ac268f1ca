"""Delta modulation of frame sequences straight to events: ON/OFF events where values change.

For a sequence ``x[0], x[1], ...`` the change at step ``t`` is ``x[t] - x[t - 1]``, with
``x[-1] = 0`` (or ``x[0]`` with ``padding=True``). An ON event fires where the change is
``>= threshold``; with ``off_spike=True`` an OFF event fires where it is ``<= -threshold``.
These are snnTorch 1.0.0's ``spikegen.delta`` decisions, computed with the same operations in
the input's dtype, so ties resolve identically (in float32, ``0.45 - 0.35`` is just below
``0.1`` and does not fire; ``0.25`` steps tie exactly and do).

Examples
--------
>>> import torch
>>> from eventcode import delta
>>> video = torch.tensor([1.0, 2.0, 0.0, 2.0, 2.9])[:, None]  # [T, B=1]: one pixel
>>> events = delta(video, threshold=1, off_spike=True)
>>> events.t.tolist(), events.p.tolist()
([0, 1, 2, 3], [True, True, False, True])
"""

from __future__ import annotations

import math

import torch

from eventcode.encoders.common import CHUNK_ELEMENTS, as_input, flat_nonzero
from eventcode.errors import EncodingError
from eventcode.events import Events
from eventcode.layout import batch_first


def delta(
    data: torch.Tensor,
    threshold: float = 0.1,
    padding: bool = False,
    off_spike: bool = False,
    *,
    batched: bool = True,
) -> Events:
    """ON (and OFF) events where a frame sequence ``[T, B, ...]`` changes by ``threshold`` or more.

    Parameters
    ----------
    data : torch.Tensor
        ``[T, B, ...]`` (``[T, ...]`` with ``batched=False``): dim 1 is the batch, so frames
        flattened to ``[T, 784]`` are 784 sequences of one pixel, ``[T, 1, 784]`` one sequence
        of 784, and a 1-D signal ``[T]`` needs ``signal[:, None]`` or ``batched=False``. Any
        real dtype; the changes are computed in it, as in snnTorch (float16 and bfloat16 too).
        NaN and inf raise.
    threshold : float
        ON where ``x[t] - x[t - 1] >= threshold``; OFF where it is ``<= -threshold``. Not
        checked, as in snnTorch: with ``threshold <= 0`` unchanged values fire (and with
        ``off_spike`` they fire both ON and OFF, which cancel in a signed dense tensor).
    padding : bool
        Compare step 0 with itself (no event at step 0 for ``threshold > 0``) instead of with 0.
    off_spike : bool
        Also emit OFF events for decreases.
    batched : bool
        Whether dim 1 of ``data`` is the batch.

    Returns
    -------
    Events
        ``num_steps = T``; ON events have ``p = True``, OFF events ``p = False``; at one step and
        address an OFF event comes before an ON one.

    Raises
    ------
    EncodingError
        Bool frames, NaN or inf, or a missing time or batch dim.
    EventsError
        A sample shape with an empty dim, or one over 2^31 (the int32 address columns).

    Examples
    --------
    >>> import torch
    >>> from eventcode import delta
    >>> frames = torch.rand(10, 4, 1, 28, 28)
    >>> events = delta(frames, threshold=0.2, off_spike=True)
    >>> events.num_steps, events.num_samples
    (10, 4)

    Flattened frames ``video.flatten(1)`` (``[T, 784]``) are one sequence with ``[:, None]`` or
    ``batched=False``; alone, each pixel is a sequence:

    >>> video = torch.rand(10, 28, 28)  # [T, H, W]
    >>> one = delta(video.flatten(1)[:, None])
    >>> one.num_samples, one.shape, one == delta(video.flatten(1), batched=False)
    (1, (784,), True)
    >>> pixels = delta(video.flatten(1))
    >>> pixels.num_samples, pixels.shape
    (784, ())
    >>> delta(torch.rand(10))  # a 1-D signal [T]  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    eventcode.errors.EncodingError: delta: input of shape [10] lacks the batch dim of [T, B, ...] (dim 1 ...
    """
    x = as_input(data, "delta", integers="keep")
    if x.dtype == torch.bool:
        raise EncodingError("delta: bool frames have no differences; pass numbers, e.g. frames.float()")
    x, shape = batch_first(x, batched, "delta", EncodingError, time_major=True)
    steps, batch = x.shape[:2]
    numel = math.prod(shape)
    frames = x.reshape(steps, batch, numel).transpose(0, 1)  # [B, T, N] view
    if batch == 0:
        return Events.from_dense(torch.zeros(x.shape, dtype=torch.bool, device=x.device))
    group = max(1, CHUNK_ELEMENTS // max(1, steps * numel))
    sample_size = steps * numel
    parts: dict[str, list[torch.Tensor]] = {"t": [], "n": [], "p": []}
    counts = []
    for b0 in range(0, batch, group):
        part = frames[b0 : b0 + group]
        where, polarity = _changes(part, threshold, padding, off_spike)
        firsts = torch.arange(part.shape[0] + 1, device=x.device) * sample_size
        counts.append(torch.searchsorted(where, firsts).diff())
        cell = where.to(torch.int32) if len(part) * sample_size < 2**31 else where
        row = torch.div(cell, numel, rounding_mode="floor")  # sample * steps + t
        parts["n"].append(cell - row * numel)
        parts["t"].append(row.remainder_(steps))
        parts["p"].append(polarity)
    columns = {k: torch.cat(v) for k, v in parts.items()}
    return Events.from_flat(torch.cat(counts), columns["t"], columns["n"], columns["p"], shape, steps)


def _changes(
    frames: torch.Tensor, threshold: float, padding: bool, off_spike: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices into ``frames`` ``[B, T, N]`` of the events, and their polarities.

    The change is computed as snnTorch does, ``x[t] - x[t - 1]`` in the frames' dtype.
    """
    change = torch.empty(frames.shape, dtype=frames.dtype, device=frames.device)
    torch.sub(frames[:, 1:], frames[:, :-1], out=change[:, 1:])
    before = frames[:, :1] if padding else torch.zeros_like(frames[:, :1])
    torch.sub(frames[:, :1], before, out=change[:, :1])
    if not off_spike:
        where = flat_nonzero(change >= threshold)
        return where, torch.ones(len(where), dtype=torch.bool, device=frames.device)
    if change.is_floating_point() and threshold > 0:  # |d| >= t <=> d >= t or d <= -t, exactly
        where = flat_nonzero(change.abs() >= threshold)
        return where, change.reshape(-1).index_select(0, where) > 0
    on, off = change >= threshold, change <= -threshold
    where = flat_nonzero(on | off)
    polarity = on.reshape(-1).index_select(0, where)
    both = polarity & off.reshape(-1).index_select(0, where)  # threshold <= 0: ON and OFF, OFF first
    if not bool(both.any()):
        return where, polarity
    repeats = 1 + both.to(torch.int64)
    where = torch.repeat_interleave(where, repeats)
    polarity = torch.repeat_interleave(polarity & ~both, repeats)
    polarity[1:] |= where[1:] == where[:-1]
    return where, polarity
