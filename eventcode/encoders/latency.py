"""Latency (time-to-first-spike) coding straight to events: one event per firing neuron.

The spike time of each value follows snnTorch 1.0.0's ``spikegen.latency`` to the bit (same
torch operations in the same order and dtype), then each neuron emits one event at
``round(spike_time)`` (round half to even). No ``[T x N]`` tensor and no loop over steps:
the work is O(N) for the times plus a small per-sample sort that puts the events in time order.

Log code (default), with ``x' = max(x, threshold + epsilon)``::

    spike_time = tau * ln(x' / (x' - threshold)) + first_spike_time

Linear code (``linear=True``)::

    spike_time = min(tau * (1 - x), tau * (1 - threshold)) + first_spike_time

``normalize=True`` stretches the times so the latest spike lands on step ``num_steps - 1`` (the
linear code does so by setting ``tau = num_steps - 1 - first_spike_time``); as in snnTorch the
log code normalizes by the maximum over the *whole batch*; ``normalize="per_sample"`` uses each
sample's own maximum instead (an eventcode option).

Examples
--------
>>> import torch
>>> from eventcode import latency
>>> events = latency(torch.tensor([[0.02, 0.5, 1.0]]), num_steps=5, normalize=True, linear=True)
>>> events.t.tolist(), events.x.tolist()  # brightest first, one event per neuron
([0, 2, 4], [2, 1, 0])
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from eventcode.encoders.common import as_input, check_steps, index_bits, masked
from eventcode.errors import EncodingError
from eventcode.events import Events
from eventcode.layout import batch_first


def latency(
    data: torch.Tensor,
    num_steps: int | None = None,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    clip: bool = False,
    normalize: bool | Literal["per_sample"] = False,
    linear: bool = False,
    epsilon: float = 1e-7,
    bypass: bool = False,
    *,
    batched: bool = True,
    on_target: float | None = None,
    off_target: float | None = None,
    interpolate: bool | None = None,
) -> Events:
    """Latency-code ``data`` into one ON event per neuron, brighter values first.

    Parameters
    ----------
    data : torch.Tensor
        ``[B, ...]`` values in [0, 1] (``[...]`` with ``batched=False``): dim 0 is the batch,
        so ``img.flatten()`` is 784 samples of one neuron and ``img.flatten()[None]`` one
        sample of 784. Spike times are computed in the input's float dtype, as in snnTorch
        (float16 and bfloat16 too; integers and bool in float32). NaN, inf and empty input raise.
    num_steps : int
        Steps ``T``; required unless ``bypass=True`` (then ``round(max spike time) + 1``).
    threshold : float
        Values below it fire at the latest time (``threshold * ...``, see the module doc) or,
        with ``clip=True``, not at all. Strictly between 0 and 1.
    tau : float
        Time constant of the code, in steps; > 0.
    first_spike_time : int
        Added to every spike time.
    clip : bool
        Drop neurons with ``value < threshold`` (a value equal to it still fires).
    normalize : bool or "per_sample"
        Stretch spike times to fill ``num_steps`` (batch-wide maximum, as snnTorch, or per sample).
    linear : bool
        Linear instead of logarithmic code.
    epsilon : float
        Floor offset of the log code: values up to ``threshold + epsilon`` share the latest time.
    bypass : bool
        Allow spike times past ``num_steps - 1``: such neurons then emit no event (snnTorch's
        rule) instead of raising.
    batched : bool
        Whether the first dim of ``data`` is the batch.
    on_target, off_target, interpolate
        snnTorch options that shape *dense values*; events carry none, so any value raises. Use
        :func:`eventcode.spikegen.latency` for them.

    Returns
    -------
    Events
        ON events in step time, at most one per neuron, sorted by step within each sample.

    Raises
    ------
    EncodingError
        Wherever snnTorch raises (values outside [0, 1], bad threshold, tau, num_steps or
        first_spike_time, spike times past ``num_steps - 1`` without ``bypass``), with
        snnTorch's guidance in the message; also for NaN/inf/empty input, dense-only options
        and a missing batch dim.
    EventsError
        A sample shape with an empty dim, or one over 2^31 (the int32 address columns).

    Examples
    --------
    >>> import torch
    >>> from eventcode import latency
    >>> images = torch.rand(8, 1, 28, 28)
    >>> events = latency(images, num_steps=25, normalize=True)
    >>> len(events) == images.numel()  # without clip every neuron fires once
    True

    A flattened image is one sample with ``[None]`` or ``batched=False``; alone, each pixel is a
    sample (and ``normalize=True`` still takes the maximum over the whole batch, as snnTorch):

    >>> img = torch.rand(28, 28)
    >>> one = latency(img.flatten()[None], num_steps=25, normalize=True)
    >>> one.num_samples, one.shape, one == latency(img.flatten(), 25, normalize=True, batched=False)
    (1, (784,), True)
    >>> pixels = latency(img.flatten(), num_steps=25, normalize=True)
    >>> pixels.num_samples, pixels.shape
    (784, ())
    """
    dense_only = {"on_target": on_target, "off_target": off_target, "interpolate": interpolate}
    given = [name for name, value in dense_only.items() if value is not None]
    if given:
        raise EncodingError(
            f"latency: {', '.join(given)} shape dense spike values, which events do not carry; "
            "use eventcode.spikegen.latency(...) for snnTorch's dense tensor with them"
        )
    x, shape = batch_first(latency_input(data), batched, "latency", EncodingError)
    spike_time, steps = spike_times(
        x, num_steps, threshold, tau, first_spike_time, normalize, linear, epsilon, bypass
    )
    batch = x.shape[0]
    step = torch.round(spike_time).reshape(batch, -1)
    numel = step.shape[1]
    bits = index_bits(numel)
    last = steps << bits  # sorts after every real key
    dtype = torch.int32 if last < 2**31 else torch.int64
    key = (step.clamp(max=steps) if bypass else step).to(dtype)  # bypass: steps past the end drop out
    key <<= bits
    key |= torch.arange(numel, dtype=dtype, device=x.device)
    everyone = not (clip or bypass)  # otherwise snnTorch's bounds check guarantees one spike each
    if not everyone:
        fires = step <= steps - 1  # with bypass, later spikes are removed, not clamped
        if clip:
            fires &= ~(x < threshold).reshape(batch, -1)
        everyone = bool(fires.all())
        key = torch.where(fires, key, torch.tensor(last, dtype=dtype, device=x.device))
    if key.device.type == "cpu":
        key = torch.from_numpy(np.sort(key.numpy(), axis=1))
    else:
        key = torch.sort(key, dim=1).values
    if everyone:
        counts = torch.full((batch,), numel, dtype=torch.int64, device=x.device)
        key = key.reshape(-1)
    else:
        valid = key < last
        counts = valid.sum(1)
        key = masked(key, valid)
    time = (key >> bits).to(torch.int64)
    flat = key & ((1 << bits) - 1)
    polarity = torch.ones(len(key), dtype=torch.bool, device=x.device)
    return Events.from_flat(counts, time, flat, polarity, shape, steps)


def latency_input(data: object) -> torch.Tensor:
    """Latency input as float (float32 for integers and bool), finite, non-empty, in [0, 1]."""
    x = as_input(data, "latency", integers="float32", bounds=(0, 1))
    if x.numel() == 0:
        raise EncodingError("latency: the input is empty; there is nothing to encode")
    return x


def spike_times(
    x: torch.Tensor,
    num_steps: int | None,
    threshold: float,
    tau: float,
    first_spike_time: int,
    normalize: bool | str,
    linear: bool,
    epsilon: float,
    bypass: bool,
) -> tuple[torch.Tensor, int]:
    """snnTorch's spike times (x's dtype) and the number of steps, after snnTorch's checks.

    ``x`` comes from :func:`latency_input`. The operations and their order are snnTorch 1.0.0's,
    so float32 results are bit-identical.
    """
    steps = check_steps("latency", num_steps, first_spike_time)
    if threshold < 0 or threshold > 1:
        raise EncodingError(f"latency: ``threshold`` [{threshold}] must be between [0, 1]")
    if not steps and not bypass:
        raise EncodingError(
            "latency: ``num_steps`` must be specified. Alternatively, setting ``bypass=True`` will "
            "automatically set ``num_steps`` to the last spike time."
        )
    if threshold <= 0 or threshold >= 1:
        raise EncodingError(f"latency: Threshold must be between 0 and 1 (exclusive), got {threshold}.")
    if tau <= 0:
        raise EncodingError(f"latency: ``tau`` must be greater than 0, got {tau}.")
    if first_spike_time and steps and first_spike_time > steps - 1:
        raise EncodingError(
            f"latency: first_spike_time ({first_spike_time}) must be equal to or less than "
            f"num_steps-1 ({steps - 1})."
        )
    if normalize not in (False, True, "per_sample"):
        raise EncodingError(f"latency: normalize must be True, False or 'per_sample', got {normalize!r}")
    if normalize and not steps:
        raise EncodingError("latency: `num_steps` should not be empty if normalize is set to True.")

    if linear:
        if normalize:
            tau = steps - 1 - first_spike_time
        spike_time = linear_times(x, threshold, tau, first_spike_time)
    else:
        spike_time = log_times(x, threshold, tau, first_spike_time, epsilon)
        if normalize:
            spike_time = stretched(spike_time, steps, first_spike_time, per_sample=normalize == "per_sample")
    maximum = torch.max(spike_time)  # NaN and inf propagate to the maximum
    if not bool(torch.isfinite(maximum)):
        spacing = torch.finfo(spike_time.dtype).eps * threshold
        raise EncodingError(
            f"latency: some spike times are not finite: threshold + epsilon = {threshold + epsilon} is "
            f"the threshold itself in {x.dtype}, and values up to it divide by zero; pass an epsilon "
            f"above the {x.dtype} spacing {spacing:.2g} near the threshold, or float32 input"
        )
    latest_step = int(torch.round(maximum))
    if not steps and bypass:
        steps = latest_step + 1
        if steps <= 0:
            raise EncodingError(
                f"latency: ``num_steps`` [{steps}] must be positive. Input data should be normalized "
                "to larger values or ``threshold`` should be set to a smaller value."
            )
    if latest_step > steps - 1 and not bypass:
        raise EncodingError(
            f"latency: The maximum value in ``spike_time`` [{latest_step}] is out of bounds for "
            f"``num_steps`` [{steps}-1]. To bypass this error, set ``bypass=True``. Alternatively, "
            "constrain ``spike_time`` within the range of ``num_steps`` by either decreasing ``tau`` "
            "or setting ``normalize=True``."
        )
    return spike_time, steps


def linear_times(x: torch.Tensor, threshold: float, tau: float, first_spike_time: int) -> torch.Tensor:
    """snnTorch's linear spike times ``min(tau (1 - x), tau (1 - threshold)) + first_spike_time``,
    with its operations in its order (bit-identical in float32)."""
    return torch.clamp_max(-tau * (x - 1), -tau * (threshold - 1)) + first_spike_time


def log_times(
    x: torch.Tensor, threshold: float, tau: float, first_spike_time: int, epsilon: float
) -> torch.Tensor:
    """snnTorch's logarithmic spike times ``tau ln(x' / (x' - threshold)) + first_spike_time``,
    ``x'`` being ``x`` clamped to at least ``threshold + epsilon``."""
    floored = torch.clamp(x, threshold + epsilon)
    spike_time = tau * torch.log(floored / (floored - threshold))
    if first_spike_time > 0:
        spike_time += first_spike_time
    return spike_time


def stretched(spike_time: torch.Tensor, steps: int, first_spike_time: int, per_sample: bool) -> torch.Tensor:
    """Logarithmic spike times scaled so that the latest (of all, or of each sample along dim 0)
    falls on step ``steps - 1``, as snnTorch's ``normalize`` does."""
    shifted = spike_time - first_spike_time
    if per_sample and spike_time.dim() > 1:
        latest = torch.amax(shifted, dim=tuple(range(1, spike_time.dim())), keepdim=True)
    else:
        latest = shifted if per_sample else torch.max(shifted)
    return shifted * (steps - first_spike_time - 1) / latest + first_spike_time
