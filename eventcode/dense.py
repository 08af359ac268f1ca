"""Events back to dense ``[T, B, ...]`` spike tensors (and sparse COO tensors), on any device.

:func:`densify` scatters the events into a zeroed output in chunks of events, so the only
memory beyond the output is a few bytes per event of one chunk, whatever the stream length.
Each chunk is moved to the target device on its own: CPU events densify straight into GPU
memory. Repeated events at one ``(t, address)`` add up; ON and OFF cancel in ``"signed"``.

Examples
--------
>>> import torch
>>> from eventcode import Events, densify
>>> ev = Events(t=[0, 0, 1], x=[1, 1, 0], y=[0, 0, 0], p=[1, 1, 0], shape=(2,), num_steps=2)
>>> densify(ev).tolist()
[[[0.0, 2.0]], [[-1.0, 0.0]]]
>>> densify(ev, polarity="split").shape  # [T, B, 2 (OFF, ON), *shape]
torch.Size([2, 1, 2, 2])
"""

from __future__ import annotations

import math
import typing
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import torch

from eventcode import address, memory, options
from eventcode.errors import DenseInputError, EventsError, OptionError
from eventcode.layout import batch_first
from eventcode.options import events_argument, torch_dtype

if TYPE_CHECKING:
    from eventcode.events import Events

SCATTER_EVENTS = {"cpu": 1 << 20, "cuda": 1 << 24}
"""Events scattered per step, by device type: the temporary memory is about 40 bytes x this.
Small chunks keep the CPU's index arithmetic in cache; large ones amortize GPU kernel launches."""

DenseLayout = Literal["signed", "on", "split"]
"""How polarity shows in a dense tensor: ``"signed"`` (ON = +1, OFF = -1), ``"on"`` (ON events
only) or ``"split"`` (a polarity axis: index 0 = OFF, 1 = ON)."""

_LAYOUTS = typing.get_args(DenseLayout)


def densify(
    events: Events,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    polarity: DenseLayout = "signed",
    t_start: int | None = None,
    t_end: int | None = None,
) -> torch.Tensor:
    """The dense spike tensor ``[T, B, *shape]`` of step-time events.

    Parameters
    ----------
    events : Events
        Step-time events (``time_unit="step"``); ``T`` is ``events.num_steps``.
    device : torch.device or str, optional
        Where to build the output; default the events' device.
    dtype : torch.dtype, default float32
        Output dtype. ``torch.bool`` marks where at least one event fell (not with
        ``"signed"``); unsigned dtypes cannot hold OFF = -1 with ``"signed"``.
    polarity : {"signed", "on", "split"}
        ``"signed"``: ON = +1, OFF = -1 (snnTorch's delta convention); ``"on"``: ON events
        only; ``"split"``: shape ``[T, B, 2, *shape]`` with index 0 = OFF and 1 = ON counts.
        Events of a 1-polarity sensor (or without polarity, ``events.polarities < 2``) are all
        of one kind: each counts +1 in every mode, and ``"split"`` gives one channel.
    t_start, t_end : int, optional
        Densify only the steps ``t_start:t_end`` (default the whole ``[0, T)``): a training loop
        can walk a long stream window by window without holding all of ``[T, B, ...]``.

    Returns
    -------
    torch.Tensor
        Counts of events per step and address (signed sums for ``"signed"``).

    Raises
    ------
    EventsError
        Microsecond events (convert with ``events.to_steps(dt_us)``), an unknown polarity or a
        dtype that cannot hold the values.

    Examples
    --------
    >>> import torch
    >>> from eventcode import Events, densify
    >>> spikes = (torch.rand(10, 4, 1, 28, 28) < 0.2).float()
    >>> torch.equal(densify(Events.from_dense(spikes)), spikes)
    True
    """
    planes = _planes(events, polarity, dtype)
    signed, only_on = (events.polarities == 2 and polarity == mode for mode in ("signed", "on"))
    if t_start is not None or t_end is not None:
        total = cast(int, events.num_steps)  # step time: _planes checked it
        start = max(0, t_start or 0)
        stop = total if t_end is None else min(t_end, total)
        window = events.time_slice(start, stop)
        columns = window.columns()
        events = type(window).from_columns(
            columns["t"] - start,
            columns["x"],
            columns["y"],
            columns["p"],
            c=columns.get("c"),
            offsets=window.offsets,
            shape=window.shape,
            num_steps=max(0, stop - start),
            polarities=window.polarities,
            check="none",
        )
    target = options.device("device", device) if device is not None else events.device
    num_steps, batch, numel = events.num_steps, events.num_samples, math.prod(events.shape)
    shape = [num_steps, batch, *([planes] if planes > 1 else []), *events.shape]
    out = memory.zeros(num_steps * batch * planes * numel, dtype, target, f"the dense tensor {shape}")  # type: ignore[operator]
    chunk = SCATTER_EVENTS.get(target.type, SCATTER_EVENTS["cuda"])
    plane, height, width = planes * numel, address.height(events.shape), address.width(events.shape)
    offsets = events.offsets.to(target)
    for start in range(0, len(events), chunk):
        stop = min(start + chunk, len(events))
        columns = {k: v[start:stop].to(target, non_blocking=True) for k, v in events.columns().items()}
        flat = _sample_planes(offsets, start, stop, plane)
        flat.add_(columns["t"], alpha=batch * plane)
        if planes == 2:
            flat.add_(columns["p"], alpha=numel)
        if "c" in columns:
            flat.add_(columns["c"], alpha=height * width)
        flat.add_(columns["y"], alpha=width).add_(columns["x"])
        if only_on:
            flat = flat[columns["p"]]
        values = _values(columns["p"], signed, dtype, len(flat))
        if dtype == torch.bool:
            out.index_put_((flat,), values)
        else:
            out.scatter_add_(0, flat, values)
    return out.view(num_steps, batch, *((planes,) if polarity == "split" else ()), *events.shape)  # type: ignore[arg-type]


def _sample_planes(offsets: torch.Tensor, start: int, stop: int, plane: int) -> torch.Tensor:
    """``sample * plane`` for the events ``start:stop`` (int64), built as a cumulative sum of its
    steps at the samples' first events (several times faster than ``repeat_interleave``).

    >>> _sample_planes(torch.tensor([0, 2, 2, 5]), 1, 5, 10).tolist()
    [0, 20, 20, 20]
    """
    steps = torch.zeros(stop - start, dtype=torch.int64, device=offsets.device)
    if stop > start:
        steps[0] = (torch.searchsorted(offsets, start, right=True) - 1) * plane
        firsts = offsets[(offsets > start) & (offsets < stop)] - start  # an empty sample repeats one
        steps.index_add_(0, firsts, torch.full_like(firsts, plane))
    return steps.cumsum_(0)


def to_sparse(
    events: Events, dtype: torch.dtype = torch.float32, polarity: DenseLayout = "signed"
) -> torch.Tensor:
    """The coalesced sparse COO tensor ``[T, B, *shape]`` (``[T, B, 2, *shape]`` for ``"split"``).

    Same values as :func:`densify`, with one stored entry per distinct index (ON and OFF at one
    place in ``"signed"`` store an explicit 0).

    Examples
    --------
    >>> import torch
    >>> from eventcode import Events
    >>> from eventcode.dense import to_sparse
    >>> ev = Events(t=[0, 1], x=[2, 0], y=[1, 0], p=[1, 0], shape=(1, 2, 3), num_steps=2)
    >>> sp = to_sparse(ev)
    >>> sp.indices().tolist(), sp.values().tolist()
    ([[0, 1], [0, 0], [0, 0], [1, 0], [2, 0]], [1.0, -1.0])
    """
    if dtype == torch.bool:
        raise EventsError("to_sparse sums duplicate events and needs a numeric dtype, not torch.bool")
    planes = _planes(events, polarity, dtype)
    signed, only_on = (events.polarities == 2 and polarity == mode for mode in ("signed", "on"))
    columns = events.columns()
    coords = [columns["t"], events.sample_ids()]
    if polarity == "split":
        coords.append(columns["p"].to(torch.int64) if planes == 2 else torch.zeros_like(columns["t"]))
    shape = events.shape
    coords += torch.unravel_index(address.flat(columns["x"], columns["y"], columns.get("c"), shape), shape)
    indices = torch.stack(coords)
    if only_on:
        indices = indices[:, columns["p"]]
    values = _values(columns["p"], signed, dtype, indices.shape[1])
    size = (events.num_steps, events.num_samples, *((planes,) if polarity == "split" else ()), *shape)
    return torch.sparse_coo_tensor(indices, values, size, check_invariants=False).coalesce()


def _planes(events: Events, polarity: str, dtype: torch.dtype) -> int:
    """Validate the arguments shared by densify and to_sparse; polarity planes in the output."""
    events_argument("densify", events)
    torch_dtype("dtype", dtype)
    if events.time_unit != "step":
        raise EventsError(
            "densify needs step time but these events count microseconds; bin them first with "
            "events.to_steps(dt_us=...)"
        )
    if polarity not in _LAYOUTS:
        raise OptionError(f"polarity must be one of {_LAYOUTS}, got {polarity!r}")
    signed = polarity == "signed" and events.polarities == 2
    if dtype.is_complex or (signed and not (dtype.is_floating_point or dtype.is_signed)):
        raise OptionError(
            f"dtype {dtype} cannot hold OFF = -1 of polarity='signed'; use a signed dtype or "
            "polarity='on' / 'split'"
        )
    return 2 if polarity == "split" and events.polarities == 2 else 1


def _values(p: torch.Tensor, signed: bool, dtype: torch.dtype, n: int) -> torch.Tensor:
    """Per-event values: +1/-1 by polarity when ``signed``, else ones."""
    if signed:
        one = torch.ones((), dtype=dtype, device=p.device)
        return torch.where(p, one, -one)
    return torch.ones((), dtype=dtype, device=p.device).expand(n)


def spike_events(
    spikes: torch.Tensor | np.ndarray, batched: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, ...], int]:
    """The events of a dense spike tensor, the inverse of :func:`densify`, as the arguments of
    :meth:`Events.from_flat <eventcode.Events.from_flat>`: events per sample, steps, flat addresses,
    polarities (sorted by sample, step, address), the sample shape and the number of steps.

    :meth:`Events.from_dense <eventcode.Events.from_dense>` documents the semantics and errors.

    Examples
    --------
    >>> import torch
    >>> from eventcode.dense import spike_events
    >>> spikes = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # [T = 2, N = 2], one sample
    >>> counts, t, flat, p, shape, steps = spike_events(spikes, batched=False)
    >>> counts.tolist(), t.tolist(), flat.tolist(), p.tolist(), shape, steps
    ([2], [0, 1], [1, 0], [True, False], (2,), 2)
    """
    tensor = spikes if isinstance(spikes, torch.Tensor) else torch.from_numpy(np.asarray(spikes))
    if tensor.is_complex():
        raise DenseInputError(f"spikes have complex dtype {tensor.dtype}; pass real spike counts")
    tensor, shape = batch_first(tensor, batched, "from_dense", DenseInputError, time_major=True)
    num_steps, batch = tensor.shape[:2]
    if tensor.is_sparse:
        time, sample, flat, values = _sparse_coordinates(tensor, shape)
    else:
        table = tensor.reshape(num_steps, batch, math.prod(shape))
        if table.numel() * 3 * 8 > 1 << 26:  # nonzero's coordinates could pass 64 MB: count first
            entries = int(torch.count_nonzero(table))
            memory.check(entries * 3, torch.int64, table.device, f"from_dense's {entries:,} nonzero entries")
        sample, time, flat = torch.nonzero(table.transpose(0, 1)).unbind(1)
        values = table[time, sample, flat]
    counts, polarity = _counts(values, time, sample, flat, tensor.shape, batched)
    if counts is not None:
        total = int(counts.sum())  # entries of |v| > 1 make |v| events each: t, address, sample, polarity
        memory.check(total * 4, torch.int64, counts.device, f"from_dense's {total:,} events")
        sample, time, flat, polarity = (
            torch.repeat_interleave(v, counts) for v in (sample, time, flat, polarity)
        )
    return torch.bincount(sample, minlength=batch), time, flat, polarity, shape, num_steps


def _sparse_coordinates(
    tensor: torch.Tensor, shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    sparse = tensor.coalesce()
    indices, values = sparse.indices(), sparse.values()
    nonzero = values != 0
    indices, values = indices[:, nonzero], values[nonzero]
    flat = torch.zeros_like(indices[0])
    for dim, size in zip(indices[2:], shape, strict=True):
        flat = flat * size + dim
    by_sample = torch.argsort(indices[1], stable=True)
    return indices[0, by_sample], indices[1, by_sample], flat[by_sample], values[by_sample]


def _counts(
    values: torch.Tensor,
    time: torch.Tensor,
    sample: torch.Tensor,
    flat: torch.Tensor,
    dense_shape: torch.Size,
    batched: bool,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Events per entry (None when all are 1) and the polarity of each entry."""
    if values.dtype == torch.bool:
        return None, values
    if values.is_floating_point():
        bad = ~torch.isfinite(values) | (values != torch.trunc(values))
        if bool(bad.any()):
            batch, sample_numel = dense_shape[1], math.prod(dense_shape[2:])
            order = (time[bad] * batch + sample[bad]) * sample_numel + flat[bad]
            j = int(torch.argmin(order))
            where = [int(time[bad][j])] + ([int(sample[bad][j])] if batched else [])
            where += [int(v) for v in np.unravel_index(int(flat[bad][j]), dense_shape[2:])]
            raise DenseInputError(
                f"spikes[{', '.join(map(str, where))}] = {float(values[bad][j])} is not a finite integer; "
                "from_dense turns each integral value v into |v| events: threshold or round the tensor first"
            )
    polarity = values > 0
    counts = values.to(torch.int64, copy=True).abs_()
    return (counts if bool((counts > 1).any()) else None), polarity
