"""Rate (Poisson / Bernoulli) coding straight to events.

Each input value ``x`` becomes a firing probability ``p = clamp(x * gain + offset, 0, 1)``; a
neuron fires at each step independently with probability ``p``, as snnTorch's
``spikegen.rate`` decides with ``torch.bernoulli``.

The default (fast) mode never builds the ``[T x N]`` tensor. Neurons with ``p = 0`` cost
nothing and ``p = 1`` neurons fire at every step without a draw. A neuron with ``p < 1/8`` jumps
from spike to spike by a geometric gap ``P(gap = k) = (1 - p)^(k - 1) p``, one uniform draw per
spike; a denser one draws once per step, which is cheaper when at least one step in eight fires.
Both give exactly independent Bernoulli(p) steps, and work and memory grow with the number of
events. On the CPU the draws come from numpy's PCG64 seeded from the torch generator, so a seeded
``torch.Generator`` (or ``torch.manual_seed``) reproduces the stream.

``exact=True`` instead draws ``torch.rand`` over ``[T, *data.shape]`` in C order, in bounded
chunks of steps, and fires where the draw is below ``p``: spike for spike what snnTorch 1.0.0
gives under the same seed on the CPU (on CUDA the distribution is the same, the stream is not).

Examples
--------
>>> import torch
>>> from eventcode import rate
>>> images = torch.rand(4, 1, 28, 28)  # [B, C, H, W] in [0, 1]
>>> events = rate(images, num_steps=50, generator=torch.Generator().manual_seed(0))
>>> events.num_steps, events.num_samples, events.shape
(50, 4, (1, 28, 28))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from eventcode import address, memory
from eventcode.encoders.common import (
    CHUNK_ELEMENTS,
    MASK_ELEMENTS,
    as_input,
    check_steps,
    flat_nonzero,
    index_bits,
    interleave,
)
from eventcode.errors import EncodingError
from eventcode.events import Events, offsets_of
from eventcode.layout import batch_first

DENSE_P = 1 / 8
"""Neurons at least this likely to fire draw once per step; sparser ones once per spike."""


def rate(
    data: torch.Tensor,
    num_steps: int | None = None,
    gain: float = 1,
    offset: float = 0,
    first_spike_time: int = 0,
    time_var_input: bool = False,
    generator: torch.Generator | None = None,
    exact: bool = False,
    *,
    batched: bool = True,
) -> Events:
    """Rate-code ``data`` into ON events, one Bernoulli(p) trial per neuron and step.

    Parameters
    ----------
    data : torch.Tensor
        ``[B, ...]`` static values (``[...]`` with ``batched=False``), or ``[T, B, ...]`` with
        ``time_var_input=True``: dim 0 (after time) is the batch, so ``img.flatten()`` is 784
        samples of one neuron and ``img.flatten()[None]`` one sample of 784. Any float dtype;
        the probabilities ``clamp(data * gain + offset, 0, 1)`` are computed in it, as in
        snnTorch (float16 and bfloat16 too), so out-of-range values saturate. NaN and inf raise.
    num_steps : int
        Steps ``T`` for static input (required there); must be None for time-varying input.
    gain, offset : float
        Probability ``p = clamp(data * gain + offset, 0, 1)``. Unlike snnTorch, which ignores
        them for time-varying input, they apply there too (``eventcode.spikegen.rate`` keeps
        snnTorch's behaviour).
    first_spike_time : int
        Static input: no spikes before this step (the draws of those steps are still made in
        exact mode, as snnTorch does). Time-varying input: that many silent steps are put in
        front, so the stream has ``T + first_spike_time`` steps.
    time_var_input : bool
        ``data`` already has a leading time axis.
    generator : torch.Generator, optional
        Source of randomness, on the data's device; default torch's global generator.
    exact : bool
        Reproduce ``snntorch.spikegen.rate`` spike for spike (same seed, CPU). Costs
        ``T x N`` random draws in bounded chunks; the default draws at most one per step of a
        firing neuron and one per spike for sparse neurons.
    batched : bool
        Whether the first dim of ``data`` (after time) is the batch.

    Returns
    -------
    Events
        ON events in step time, ``num_steps = T`` (``T + first_spike_time`` for time-varying
        input), one sample per batch entry.

    Raises
    ------
    EncodingError
        Bad ``num_steps`` / ``first_spike_time`` (snnTorch's conditions and messages), integer
        or non-finite input, a missing batch (or time) dim, or a generator on another device.
    EventsError
        A sample shape with an empty dim, or one over 2^31 (the int32 address columns).
    AllocationError
        (fast mode) The events likely to come (their mean plus six standard deviations) would
        not fit the free memory: refused before anything is drawn.

    Examples
    --------
    >>> import torch
    >>> from eventcode import rate
    >>> probs = torch.tensor([[0.0, 1.0, 0.5]])  # one sample, three neurons
    >>> events = rate(probs, num_steps=4, generator=torch.Generator().manual_seed(1))
    >>> sorted(set(events.x.tolist()) - {2})  # 0 never fires, 1 fires at every step
    [1]
    >>> int((events.x == 1).sum())
    4

    A flattened image is one sample with ``[None]`` or ``batched=False``; alone, each pixel is a
    sample:

    >>> img = torch.rand(28, 28)
    >>> one = rate(img.flatten()[None], num_steps=5)
    >>> one.num_samples, one.shape, rate(img.flatten(), num_steps=5, batched=False).shape
    (1, (784,), (784,))
    >>> pixels = rate(img.flatten(), num_steps=5)
    >>> pixels.num_samples, pixels.shape
    (784, ())
    """
    x = as_input(data, "rate", integers="reject")
    steps = check_steps("rate", num_steps, first_spike_time)
    if first_spike_time > steps - 1:
        if steps:
            raise EncodingError(
                f"rate: first_spike_time ({first_spike_time}) must be equal to or less than "
                f"num_steps-1 ({steps - 1})."
            )
        if not time_var_input:
            raise EncodingError(
                "rate: num_steps is required for static input. If the input data is time-varying, set "
                "``time_var_input=True``; if it is not time-varying, ensure ``num_steps > 0``."
            )
    if time_var_input and steps:
        raise EncodingError(
            "rate: ``num_steps`` should not be specified if input is time-varying, i.e., "
            "``time_var_input=True``. The first dimension of the input data + ``first_spike_time`` "
            "will determine ``num_steps``."
        )
    if generator is not None and generator.device.type != x.device.type:
        raise EncodingError(
            f"rate: the generator is on {generator.device} but the data on {x.device}; "
            "create the generator on the data's device"
        )
    x, shape = batch_first(x, batched, "rate", EncodingError, time_major=time_var_input)
    numel = math.prod(shape)
    if time_var_input:
        table = x.reshape(x.shape[0], x.shape[1], numel)
        columns, counts = _bernoulli_steps(
            lambda t0, t1: _probability(table[t0:t1], gain, offset), x.shape[0], table, generator
        )
        columns["t"] += first_spike_time
        total_steps = x.shape[0] + first_spike_time
    else:
        probability = _probability(x.reshape(x.shape[0], numel), gain, offset)
        if exact:
            columns, counts = _bernoulli_steps(
                lambda t0, t1: probability, steps, probability, generator, first_spike_time
            )
        else:
            return _sparse_steps(probability, steps, first_spike_time, Uniform(generator, x.device), shape)
        total_steps = steps
    polarity = torch.ones(len(columns["t"]), dtype=torch.bool, device=x.device)
    return Events.from_flat(counts, columns["t"], columns["n"], polarity, shape, total_steps)


def _probability(x: torch.Tensor, gain: float, offset: float) -> torch.Tensor:
    """snnTorch's ``clamp(x * gain + offset, 0, 1)``, in x's dtype and in that order."""
    return torch.clamp(x * gain + offset, min=0, max=1)


def _draw_dtype(dtype: torch.dtype) -> torch.dtype:
    """The precision of ``torch.bernoulli``'s uniform draws for probabilities of ``dtype``.

    float64 draws for float64 probabilities, float32 for every other float (float16 and bfloat16
    probabilities are compared widened to float32, exactly).
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def _bernoulli_steps(
    probability_of: Callable[[int, int], torch.Tensor],
    num_steps: int,
    like: torch.Tensor,
    generator: torch.Generator | None,
    first_spike_time: int = 0,
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Fire where ``rand < p``, drawing ``[T, B, N]`` in C order a chunk of steps at a time.

    ``probability_of(t0, t1)`` gives ``p`` for steps ``[t0, t1)``, shaped ``[t1 - t0, B, N]`` or
    ``[B, N]``; ``like`` (``[..., B, N]``) gives B, N, dtype and device. Steps before
    ``first_spike_time`` are drawn but fire nothing (snnTorch's rule).
    """
    batch, numel = like.shape[-2:]
    dtype, device = _draw_dtype(like.dtype), like.device
    chunk = max(1, CHUNK_ELEMENTS // max(1, batch * numel))
    parts, counts = [], []
    for t0 in range(0, num_steps, chunk):
        t1 = min(num_steps, t0 + chunk)
        draws = torch.rand((t1 - t0, batch, numel), dtype=dtype, device=device, generator=generator)
        fired = draws < probability_of(t0, t1)
        del draws
        fired[: max(0, first_spike_time - t0)] = False
        sample, time, flat = torch.nonzero(fired.transpose(0, 1)).unbind(1)
        parts.append({"t": time + t0, "n": flat})
        counts.append(torch.bincount(sample, minlength=batch))
    if not parts:
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        return {"t": empty, "n": empty}, torch.zeros(batch, dtype=torch.int64, device=device)
    stacked = torch.stack(counts)
    return interleave(parts, stacked), stacked.sum(0)


def _sparse_steps(
    probability: torch.Tensor, num_steps: int, first_spike_time: int, uniform: Uniform, shape: tuple[int, ...]
) -> Events:
    """Bernoulli(p) steps for every neuron without drawing the whole ``[T x N]``.

    Only neurons with ``p > 0`` take part. Each sample's such neurons get consecutive slots of a
    firing mask ``[samples, steps, slots]`` (both extents padded to powers of two so the mask
    index splits with shifts). Neurons with ``p = 1`` fill their row; neurons with
    ``p >= DENSE_P`` draw once per step; sparser ones jump from spike to spike by geometric gaps,
    drawing once per spike. ``nonzero`` of the mask lists the spikes in (sample, step, neuron)
    order. Samples go in groups whose mask fits the chunk budget; a single sample too wide for it
    goes a range of steps at a time.
    """
    batch, numel = probability.shape
    device = probability.device
    flat = probability.reshape(-1)
    expected = float(flat.sum(dtype=torch.float64)) * (num_steps - first_spike_time)
    likely = math.ceil(expected + 6 * math.sqrt(expected))  # mean + 6 sigma: refused up front
    memory.check(likely * 3, torch.int64, device, f"rate's {expected:.3g} events")  # t, x, y
    active = flat_nonzero(flat > 0)  # sorted by (sample, neuron)
    sample = torch.div(active, numel, rounding_mode="floor")
    per_sample = torch.bincount(sample, minlength=batch)
    first_active = offsets_of(per_sample)
    slot_bits = index_bits(int(per_sample.max()) if len(active) else 1)
    slots = 1 << slot_bits
    slot = torch.arange(len(active), device=device) - first_active[sample]
    table = sample * slots + slot  # where each active neuron sits in the [batch, slots] tables
    neuron_of = torch.zeros(batch * slots, dtype=torch.int64, device=device)
    neuron_of[table] = active - sample * numel
    addresses = address.split(neuron_of, shape)
    chance = flat[active]
    kind = torch.where(chance == 1, 2, (chance >= DENSE_P).to(torch.int64))  # 2 certain, 1 dense, 0 sparse
    log_stay = torch.log1p(-chance.to(torch.float64))
    steps = num_steps - first_spike_time
    span = min(steps, max(1, MASK_ELEMENTS >> slot_bits))
    step_bits = index_bits(span)
    group = max(1, MASK_ELEMENTS >> (slot_bits + step_bits)) if span == steps else 1
    bounds = first_active.tolist()
    counts = torch.zeros(batch, dtype=torch.int64, device=device)
    columns: dict[str, list[torch.Tensor]] = {"t": [], "x": [], "y": [], "c": []}
    for b0 in range(0, batch, group):
        b1 = min(batch, b0 + group)
        a0, a1 = bounds[b0], bounds[b1]
        cell = table[a0:a1] - b0 * slots  # (sample - b0) * slots + slot
        row, col = cell >> slot_bits, cell & (slots - 1)
        certain, dense, sparse = (torch.nonzero(kind[a0:a1] == k).squeeze(1) for k in (2, 1, 0))
        stay = log_stay[a0:a1][sparse]
        following = first_spike_time - 1 + _gaps(stay, num_steps, uniform)
        if not len(certain) and not len(dense):  # sparse neurons only: their spikes sorted, no mask
            neuron, time = _sparse_until(following, stay, num_steps, steps, num_steps, uniform)
            place = row[sparse[neuron]], col[sparse[neuron]]
            order = torch.argsort(place[1], stable=True)
            for key in (time, place[0]):  # (sample, step, neuron) order
                order = order[torch.argsort(key[order], stable=True)]
            counts[b0:b1] += torch.bincount(place[0], minlength=b1 - b0)
            columns["t"].append(time[order])
            cell = (place[0] * slots + place[1])[order]
            for name, column in zip("xyc", addresses, strict=True):
                if column is not None:
                    columns[name].append(column[b0 * slots :].index_select(0, cell))
            continue
        for t0 in range(first_spike_time, num_steps, span):
            t1 = min(num_steps, t0 + span)
            fired = torch.zeros((b1 - b0, 1 << step_bits, slots), dtype=torch.bool, device=device)
            fired[row[certain], : t1 - t0, col[certain]] = True
            draws = uniform((len(dense), t1 - t0), _draw_dtype(probability.dtype))
            fired[row[dense], : t1 - t0, col[dense]] = draws < chance[a0:a1][dense, None]
            del draws
            neuron, time = _sparse_until(following, stay, t1, t1 - t0, num_steps, uniform)
            fired[row[sparse[neuron]], time - t0, col[sparse[neuron]]] = True
            where = flat_nonzero(fired)
            del fired
            firsts = torch.arange(b1 - b0 + 1, device=device) << (slot_bits + step_bits)
            counts[b0:b1] += torch.searchsorted(where, firsts).diff()
            cell = where.to(torch.int32) if len(where) and int(where[-1]) < 2**31 else where
            del where
            time = cell >> slot_bits
            time &= (1 << step_bits) - 1
            columns["t"].append(time.to(torch.int64).add_(t0))
            del time
            slot = cell & (slots - 1)
            cell >>= slot_bits + step_bits
            cell <<= slot_bits
            cell |= slot  # now (sample - b0) * slots + slot
            del slot
            for name, column in zip("xyc", addresses, strict=True):
                if column is not None:
                    columns[name].append(column[b0 * slots :].index_select(0, cell))
    t = _join(columns["t"], torch.int64, device)
    x_dtype, y_dtype, c_dtype = address.column_dtypes(shape)
    x, y = _join(columns["x"], x_dtype, device), _join(columns["y"], y_dtype, device)
    c = None if c_dtype is None else _join(columns["c"], c_dtype, device)
    polarity = torch.ones(len(t), dtype=torch.bool, device=device)
    offsets = offsets_of(counts)
    return Events.from_columns(
        t, x, y, polarity, c=c, offsets=offsets, shape=shape, num_steps=num_steps, check="none"
    )


def _join(pieces: list[torch.Tensor], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The pieces end to end; a single piece as it is (no copy)."""
    if len(pieces) == 1:
        return pieces[0]
    return torch.cat(pieces) if pieces else torch.zeros(0, dtype=dtype, device=device)


def _sparse_until(
    following: torch.Tensor, log_stay: torch.Tensor, end: int, span: int, limit: int, uniform: Uniform
) -> tuple[torch.Tensor, torch.Tensor]:
    """The spikes of sparse neurons before step ``end``, as ``(neuron, step)``: from each one's
    pending spike ``following``, drawn a few a round (``span``: the steps a round covers), which
    then moves to each neuron's first spike at or after ``end``."""
    neurons, times = [], []
    pending = torch.nonzero(following < end).squeeze(1)
    while len(pending):
        at = _spikes(following[pending], log_stay[pending], span, limit, uniform)
        inside = at < end
        neuron, k = torch.nonzero(inside[:, :-1]).unbind(1)
        neurons.append(pending[neuron])
        times.append(at[neuron, k])
        # the first spike past the end waits for the next window; a neuron still inside draws on
        next_one = inside.sum(1, keepdim=True).clamp_(max=at.shape[1] - 1)
        following[pending] = at.gather(1, next_one).squeeze(1)
        pending = pending[inside[:, -1]]
    empty = following.new_zeros(0)
    return (torch.cat(neurons), torch.cat(times)) if neurons else (empty, empty)


def _spikes(
    first: torch.Tensor, log_stay: torch.Tensor, span: int, limit: int, uniform: Uniform
) -> torch.Tensor:
    """``[neurons, k + 1]`` spike times: each neuron's pending spike ``first``, then ``k`` more
    geometric gaps after it, ``k`` about the spikes the likeliest neuron fires in ``span`` steps
    (so most neurons finish their window in one round)."""
    likeliest = float(-torch.expm1(log_stay.min())) if len(log_stay) else 0.0
    k = min(64, max(4, math.ceil(1.25 * span * likeliest) + 2))
    gaps = _gaps(log_stay.repeat_interleave(k), limit, uniform).view(-1, k)
    return torch.cat((first[:, None], gaps), 1).cumsum_(1)


def _gaps(log_stay: torch.Tensor, limit: int, uniform: Uniform) -> torch.Tensor:
    """Geometric gaps ``1 + floor(log(1 - u) / log(1 - p))``, u uniform in [0, 1), capped at ``limit + 1``.

    ``P(gap = k) = (1 - p)^(k - 1) p``: the steps between Bernoulli(p) successes.
    """
    gaps = torch.log1p(-uniform((len(log_stay),), torch.float64)).div_(log_stay)
    return gaps.floor_().clamp_(max=limit).add_(1).to(torch.int64)


class Uniform:
    """Uniform draws in [0, 1) on one device, reproducible from a torch generator.

    On the CPU, numpy's PCG64 (several times faster than torch's Mersenne Twister) seeded with
    two draws from ``generator`` (torch's global generator when None); elsewhere ``torch.rand``
    with ``generator`` itself.
    """

    def __init__(self, generator: torch.Generator | None, device: torch.device) -> None:
        self._generator, self._device, self._numpy = generator, device, None
        if device.type == "cpu":
            seed = torch.randint(0, 2**62, (2,), generator=generator).tolist()
            self._numpy = np.random.Generator(np.random.PCG64(seed))

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        if self._numpy is not None:
            return torch.from_numpy(self._numpy.random(shape, dtype=_NUMPY_FLOATS[dtype]))
        return torch.rand(shape, dtype=dtype, device=self._device, generator=self._generator)


_NUMPY_FLOATS: dict[torch.dtype, type[np.float32] | type[np.float64]] = {
    torch.float32: np.float32,
    torch.float64: np.float64,
}
