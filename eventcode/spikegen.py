"""Drop-in replacements for ``snntorch.spikegen``: same names, signatures, defaults and tensors.

``from eventcode import spikegen`` in place of ``from snntorch import spikegen`` gives the dense
``[T, B, ...]`` tensors snnTorch 1.0.0 gives, bit for bit on the CPU (``rate`` and
``rate_conv`` under the same ``torch.manual_seed``), built by the event encoders of
:mod:`eventcode.encoders` and :func:`eventcode.densify`. Differences, all documented choices:

- errors are :class:`eventcode.errors.EncodingError` (a ``ValueError``) carrying snnTorch's
  message, and NaN, inf, empty or integer input raises a clear error instead of a cryptic one
  (integer and bool input to ``rate`` / ``rate_conv``: snnTorch raises ``NotImplementedError``),
  and so does 0-D time-varying input to ``rate``, which has no time dim (snnTorch draws once);
- only the encoders are here (``rate``, ``rate_conv``, ``latency``, ``delta``), not the target
  helpers (``targets_convert``, ``to_one_hot``, ...).

Every float dtype is computed as snnTorch computes it, in the input's dtype, and gives
snnTorch's output dtype: ``rate`` and ``rate_conv`` return the input's dtype (float16,
bfloat16, float32 or float64; half-precision probabilities are compared with float32 draws, as
``torch.bernoulli`` does) except that time-varying ``rate`` with ``first_spike_time > 0``
promotes it with float32 (snnTorch prepends float32 zeros); ``delta`` returns the input's dtype
(integers included) and ``latency`` always float32, its spike times computed in the input's
dtype, so float16 input can put a spike a step away from where float32 input would (and needs
an ``epsilon`` above float16's spacing near ``threshold``).

Examples
--------
>>> import torch
>>> import snntorch.spikegen as snn
>>> from eventcode import spikegen
>>> images = torch.rand(4, 1, 28, 28)
>>> _ = torch.manual_seed(0); ours = spikegen.rate(images, num_steps=10)
>>> _ = torch.manual_seed(0); theirs = snn.rate(images, num_steps=10)
>>> torch.equal(ours, theirs)
True
"""

from __future__ import annotations

import math

import torch

from eventcode import address, encoders
from eventcode.encoders.latency import latency_input, spike_times
from eventcode.errors import EncodingError


def rate(
    data: torch.Tensor,
    num_steps: int | bool = False,
    gain: float = 1,
    offset: float = 0,
    first_spike_time: int = 0,
    time_var_input: bool = False,
) -> torch.Tensor:
    """snnTorch's ``spikegen.rate``: Bernoulli spikes ``[num_steps, *data.shape]``, data's dtype.

    As in snnTorch, time-varying input (``time_var_input=True``) ignores ``gain`` and ``offset``
    and ``first_spike_time`` prepends silent steps; :func:`eventcode.rate` is the event form.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.rate(torch.tensor([1.0, 0.0]), num_steps=3)
    tensor([[1., 0.],
            [1., 0.],
            [1., 0.]])
    """
    x = torch.as_tensor(data)
    static_gain, static_offset = (1, 0) if time_var_input else (gain, offset)
    layout, batched = _layout(x, time_major=time_var_input)
    events = encoders.rate(
        layout,
        num_steps=int(num_steps) or None,
        gain=static_gain,
        offset=static_offset,
        first_spike_time=first_spike_time,
        time_var_input=time_var_input,
        exact=True,
        batched=batched,
    )
    sample_shape = x.shape[1:] if time_var_input else x.shape
    padded = time_var_input and first_spike_time > 0  # snnTorch cats float32 zeros in front
    dtype = torch.promote_types(x.dtype, torch.float32) if padded else x.dtype
    return events.dense(dtype=dtype, polarity="on").reshape(events.num_steps, *sample_shape)


def rate_conv(data: torch.Tensor) -> torch.Tensor:
    """snnTorch's ``spikegen.rate_conv``: one Bernoulli draw per element, ``p = clamp(data, 0, 1)``.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.rate_conv(torch.tensor([[1.0, 0.0, 2.0]]))
    tensor([[1., 0., 1.]])
    """
    x = torch.as_tensor(data)
    return rate(x[None], time_var_input=True)[0]


def latency(
    data: torch.Tensor,
    num_steps: int | bool = False,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    on_target: float = 1,
    off_target: float = 0,
    clip: bool = False,
    normalize: bool = False,
    linear: bool = False,
    interpolate: bool = False,
    bypass: bool = False,
    epsilon: float = 1e-7,
) -> torch.Tensor:
    """snnTorch's ``spikegen.latency``: float32 ``[num_steps, *data.shape]``, one spike per element.

    Spikes take the value ``max(on_target, off_target)`` and silence ``max(0, off_target)``;
    ``interpolate=True`` gives snnTorch's linear ramp up to each spike instead (ignoring ``clip``).

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.latency(torch.tensor([0.02, 0.5, 1]), num_steps=5, normalize=True, linear=True)
    tensor([[0., 0., 1.],
            [0., 0., 0.],
            [0., 1., 0.],
            [0., 0., 0.],
            [1., 0., 0.]])
    """
    options = {
        "threshold": threshold,
        "tau": tau,
        "first_spike_time": first_spike_time,
        "normalize": normalize,
        "linear": linear,
        "epsilon": epsilon,
        "bypass": bypass,
    }
    if interpolate:
        spike_time, steps = spike_times(latency_input(data), int(num_steps) or None, **options)
        return _interpolate(spike_time, steps, on_target, off_target)
    x = torch.as_tensor(data)
    layout, batched = _layout(x, time_major=False)
    events = encoders.latency(layout, int(num_steps) or None, clip=clip, batched=batched, **options)
    spikes = events.dense(polarity="on").reshape(events.num_steps, *x.shape)
    return torch.clamp(spikes * on_target, off_target)


def _interpolate(
    spike_time: torch.Tensor, num_steps: int, on_target: float, off_target: float
) -> torch.Tensor:
    """snnTorch's ``latency_interpolate``: a ramp ``step / spike step`` up to each spike, then off."""
    if on_target < off_target:
        raise EncodingError(
            f"latency: ``on_target`` [{on_target}] must be greater than ``off_target`` [{off_target}]."
        )
    step = torch.round(spike_time).float()
    step[step > num_steps] = 0.5
    ramp = torch.ones((num_steps, *step.shape), dtype=torch.float32, device=step.device)
    first = 0
    if bool((step == 0).any()):
        ramp[0] = torch.where(step == 0, ramp[0], ramp[0] * 0)
        step[step == 0] = 0.5
        first = 1
    steps = torch.arange(first, num_steps, dtype=torch.float32, device=step.device)
    ramp[first:] = step.reciprocal() * steps.reshape(-1, *[1] * step.dim())  # torch's `int / tensor`
    ramp = ramp * (on_target - off_target) + off_target
    ramp[ramp > on_target] = off_target
    return ramp


def delta(
    data: torch.Tensor, threshold: float = 0.1, padding: bool = False, off_spike: bool = False
) -> torch.Tensor:
    """snnTorch's ``spikegen.delta``: ``[T, ...]`` of ON = 1 (and OFF = -1) in the input's dtype.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.delta(torch.tensor([1.0, 2.0, 0.0, 2.0, 2.9]), threshold=1, off_spike=True)
    tensor([ 1.,  1., -1.,  1.,  0.])
    """
    x = torch.as_tensor(data)
    layout, batched = _layout(x, time_major=True)
    events = encoders.delta(layout, threshold, padding, off_spike, batched=batched)
    counting = x.dtype if x.is_floating_point() else torch.int64  # integers wrap -1 as snnTorch does
    return events.dense(dtype=counting).reshape(x.shape).to(x.dtype)


def _layout(x: torch.Tensor, time_major: bool) -> tuple[torch.Tensor, bool]:
    """``x`` as the encoders read it (``[B, ...]``, ``[T, B, ...]`` if ``time_major``), and ``batched``.

    snnTorch has no batch: the dim after time serves as one. Samples the int16 address columns
    cannot hold (a dim over 32,767), or empty ones, become one-neuron samples ``[N]`` (``[T, N]``),
    keeping ``x``'s C order for the random draws. An ``x`` with no dim after time is one sample,
    so a 0-D ``x`` with ``time_major`` gets the encoder's error naming the missing time dim.
    """
    lead = int(time_major)
    if x.dim() <= lead:
        return x, False
    sample = tuple(x.shape[lead + 1 :])
    extents = (address.width(sample), address.height(sample), address.channels(sample))
    if x.numel() and max(extents) <= address.INT16_LIMIT:
        return x, True
    return x.reshape(*x.shape[:lead], math.prod(x.shape[lead:])), True
