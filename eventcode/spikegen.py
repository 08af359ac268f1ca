"""Drop-in replacements for ``snntorch.spikegen``: same names, signatures, defaults and tensors.

``from eventcode import spikegen`` in place of ``from snntorch import spikegen`` gives the dense
``[T, B, ...]`` tensors snnTorch 1.0.0 gives, bit for bit on the CPU (``rate`` and
``rate_conv`` under the same ``torch.manual_seed``), built by the event encoders of
:mod:`eventcode.encoders` and :func:`eventcode.densify`. Differences, all documented choices:

- where snnTorch raises a bare ``Exception`` ours raises :class:`eventcode.errors.EncodingError`
  (a ``ValueError``) carrying snnTorch's message; torch's own errors that snnTorch lets through
  (``RuntimeError`` of a broadcast or ``scatter``) are the same classes or subclasses; and NaN,
  inf, empty or integer input raises a clear error instead of a cryptic one
  (integer and bool input to ``rate`` / ``rate_conv``: snnTorch raises ``NotImplementedError``),
  and so does 0-D time-varying input to ``rate``, which has no time dim (snnTorch draws once);
- the spike-time and target helpers (``latency_code``, ``targets_convert``, ``to_one_hot``, ...)
  are snnTorch's computations, vectorized where snnTorch loops (``rate_interpolate``), with
  snnTorch's values, dtypes and random draws; where snnTorch returns ``None`` for an option it
  does not handle (an unknown ``firing_pattern`` in ``target_rate_code``, a negative
  ``first_spike_time`` in ``targets_rate``) ours raises ``EncodingError``.

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
from typing import Any, Literal

import torch

from eventcode import encoders
from eventcode.encoders.latency import latency_input, linear_times, log_times, spike_times, stretched
from eventcode.errors import EncodingError, EncodingRuntimeError


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
    return events.dense(dtype=dtype, polarity="on").reshape(int(events.num_steps or 0), *sample_shape)


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
    options: dict[str, Any] = {
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
        return latency_interpolate(spike_time, steps, on_target, off_target)
    x = torch.as_tensor(data)
    layout, batched = _layout(x, time_major=False)
    events = encoders.latency(layout, int(num_steps) or None, clip=clip, batched=batched, **options)
    spikes = events.dense(polarity="on").reshape(int(events.num_steps or 0), *x.shape)
    return torch.clamp(spikes * on_target, off_target)


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

    snnTorch has no batch: the dim after time serves as one. Empty samples become one-neuron
    samples ``[N]`` (``[T, N]``), keeping ``x``'s C order. An ``x`` with no dim after time is one
    sample, so a 0-D ``x`` with ``time_major`` gets the encoder's error naming the missing time dim.
    """
    lead = int(time_major)
    if x.dim() <= lead:
        return x, False
    if x.numel():
        return x, True
    return x.reshape(*x.shape[:lead], math.prod(x.shape[lead:])), True


def latency_code(
    data: torch.Tensor,
    num_steps: int | bool = False,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    normalize: bool = False,
    linear: bool = False,
    epsilon: float = 1e-7,
) -> tuple[torch.Tensor, torch.Tensor]:
    """snnTorch's ``spikegen.latency_code``: spike times (data's dtype) and the mask ``data < threshold``.

    Raises
    ------
    EncodingError
        Where snnTorch raises ``Exception``: see :func:`latency_code_log`.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.latency_code(torch.tensor([0.02, 0.5, 1]), num_steps=5, normalize=True, linear=True)
    (tensor([3.9200, 2.0000, 0.0000]), tensor([False, False, False]))
    """
    below = data < threshold
    if linear:
        return latency_code_linear(data, num_steps, threshold, tau, first_spike_time, normalize), below
    return latency_code_log(data, num_steps, threshold, tau, first_spike_time, normalize, epsilon), below


def latency_code_linear(
    data: torch.Tensor,
    num_steps: int | bool = False,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    normalize: bool = False,
) -> torch.Tensor:
    """snnTorch's ``spikegen.latency_code_linear``: ``min(tau (1 - x), tau (1 - threshold)) + first``.

    With ``normalize``, ``tau = num_steps - 1 - first_spike_time``, and spike times below zero
    (input above 1) rescale all times onto ``[0, num_steps - 1]``, as in snnTorch.

    Raises
    ------
    EncodingError
        Where snnTorch raises ``Exception``: see :func:`latency_code_log`.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.latency_code_linear(torch.tensor([0.0, 0.5, 1.0]), num_steps=5, normalize=True)
    tensor([3.9600, 2.0000, 0.0000])
    """
    _latency_errors(data, num_steps, threshold, tau, first_spike_time, normalize)
    if normalize:
        tau = num_steps - 1 - first_spike_time
    spike_time = linear_times(data, threshold, tau, first_spike_time)
    if torch.min(spike_time) < 0 and normalize:
        earliest = torch.min(spike_time)
        spike_time = (spike_time - earliest) * (1 / (torch.max(spike_time) - earliest)) * (num_steps - 1)
    return spike_time


def latency_code_log(
    data: torch.Tensor,
    num_steps: int | bool = False,
    threshold: float = 0.01,
    tau: float = 1,
    first_spike_time: int = 0,
    normalize: bool = False,
    epsilon: float = 1e-7,
) -> torch.Tensor:
    """snnTorch's ``spikegen.latency_code_log``: ``tau ln(x' / (x' - threshold)) + first``.

    ``x'`` is the input clamped to at least ``threshold + epsilon``; ``normalize`` scales the
    times so that the latest lands on step ``num_steps - 1``.

    Raises
    ------
    EncodingError
        ``threshold`` outside ``(0, 1)``, ``tau <= 0``, ``first_spike_time`` past
        ``num_steps - 1`` or negative, ``first_spike_time`` with data both above 1 and below 0,
        negative ``num_steps``, or ``normalize`` without ``num_steps`` (snnTorch: ``Exception``).

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.latency_code_log(torch.tensor([0.02, 0.5, 1]), num_steps=5, normalize=True)
    tensor([4.0000, 0.1166, 0.0580])
    """
    _latency_errors(data, num_steps, threshold, tau, first_spike_time, normalize)
    spike_time = log_times(data, threshold, tau, first_spike_time, epsilon)
    if normalize:
        spike_time = stretched(spike_time, num_steps, first_spike_time, per_sample=False)
    return spike_time


def _latency_errors(
    data: torch.Tensor,
    num_steps: int | bool,
    threshold: float,
    tau: float,
    first_spike_time: int,
    normalize: bool,
) -> None:
    """snnTorch's checks of ``latency_code_linear`` and ``latency_code_log``, in its order."""
    if threshold <= 0 or threshold >= 1:
        raise EncodingError(f"latency_code: Threshold must be between 0 and 1 (exclusive), got {threshold}.")
    if tau <= 0:
        raise EncodingError(f"latency_code: ``tau`` must be greater than 0, got {tau}.")
    if first_spike_time and num_steps and first_spike_time > (num_steps - 1):
        raise EncodingError(
            f"latency_code: first_spike_time ({first_spike_time}) must be equal to or less than "
            f"num_steps-1 ({num_steps - 1})."
        )
    if first_spike_time and torch.max(data) > 1 and torch.min(data) < 0:
        raise EncodingError(
            "latency_code: `first_spike_time` can only be applied to data between `0` and `1`; "
            "rescale the data first."
        )
    if first_spike_time < 0:
        raise EncodingError(f"latency_code: ``first_spike_time`` [{first_spike_time}] cannot be negative.")
    if num_steps < 0:
        raise EncodingError(f"latency_code: ``num_steps`` [{num_steps}] cannot be negative.")
    if normalize and not num_steps:
        raise EncodingError("latency_code: `num_steps` should not be empty if normalize is set to True.")


def latency_interpolate(
    spike_time: torch.Tensor, num_steps: int, on_target: float = 1, off_target: float = 0
) -> torch.Tensor:
    """snnTorch's ``spikegen.latency_interpolate``: a ramp up to each neuron's spike, then off.

    Output ``[num_steps, *spike_time.shape]`` float32: ``off + (on - off) * step / round(spike)``
    up to the spike step, ``off_target`` after it (and for spikes past ``num_steps``).

    Raises
    ------
    EncodingError
        ``on_target < off_target`` (snnTorch: ``Exception``).

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.latency_interpolate(torch.tensor([0.0, 4.0]), num_steps=5)
    tensor([[1.0000, 0.0000],
            [0.0000, 0.2500],
            [0.0000, 0.5000],
            [0.0000, 0.7500],
            [0.0000, 1.0000]])
    """
    if on_target < off_target:
        raise EncodingError(
            f"latency_interpolate: ``on_target`` [{on_target}] must be greater than ``off_target`` "
            f"[{off_target}]."
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


def rate_interpolate(
    spike_time: torch.Tensor,
    num_steps: int,
    on_target: float = 1,
    off_target: float = 0,
    epsilon: float = 1e-7,
) -> torch.Tensor:
    """snnTorch's ``spikegen.rate_interpolate``: ramps from ``off_target`` up to each spike.

    The steps in ``0 .. num_steps - 1`` that occur in ``spike_time`` each end a ramp
    ``torch.arange(off_target, on_target + epsilon, (on_target - off_target) / gap)`` (a lone
    ``on_target`` right after the previous spike), and ``off_target`` pads after the last spike,
    as snnTorch builds it step by step, here in one pass: same float32 values and length.

    Raises
    ------
    EncodingError
        Also a ``RuntimeError`` (snnTorch's class), when a ramp's step is zero or points away
        from ``on_target + epsilon`` (``on_target == off_target`` with a gap between spikes).

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.rate_interpolate(torch.tensor([0, 4]), num_steps=5)
    tensor([1.0000, 0.0000, 0.3333, 0.6667, 1.0000])
    """
    dtype = torch.get_default_dtype()
    if not spike_time.numel():
        return torch.ones(num_steps) * off_target
    times = spike_time.detach().cpu().reshape(1, -1)
    candidates = torch.arange(num_steps)
    fired = candidates[(candidates[:, None] == times).any(dim=1)]
    gap = torch.diff(fired, prepend=fired.new_tensor([-1])) - 1
    ramps = gap > 0
    extent = (on_target + epsilon) - off_target
    step = (on_target - off_target) / gap.to(torch.float64)
    valid = ((step > 0) & (extent >= 0)) | ((step < 0) & (extent <= 0))
    if bool((ramps & ~valid).any()):
        raise EncodingRuntimeError(
            f"rate_interpolate: a ramp from off_target [{off_target}] to on_target [{on_target}] + "
            f"epsilon [{epsilon}] has no valid step; give on_target above off_target"
        )
    lengths = torch.where(ramps, torch.ceil(extent / step), 1).to(torch.int64)
    segment = torch.repeat_interleave(torch.arange(len(fired)), lengths)
    index = torch.arange(int(lengths.sum())) - (torch.cumsum(lengths, 0) - lengths)[segment]
    values = torch.where(ramps[segment], off_target + step[segment] * index, on_target).to(dtype)
    latest = torch.max(spike_time)
    tail = num_steps - 1 - int(latest.item()) if latest < num_steps - 1 else 0
    return torch.cat((values, torch.full((max(tail, 0),), off_target, dtype=dtype)))


def target_rate_code(
    num_steps: int, first_spike_time: int = 0, rate: float = 1, firing_pattern: str = "regular"
) -> tuple[torch.Tensor, torch.Tensor]:
    """snnTorch's ``spikegen.target_rate_code``: one neuron's float32 spike train and spike steps.

    ``'regular'`` fires every ``1 / rate`` steps from ``first_spike_time``; ``'uniform'`` draws as
    many steps with ``torch.rand`` (repeats merge); ``'poisson'`` draws ``torch.bernoulli(rate)``
    at each step from ``first_spike_time``: the same random draws as snnTorch.

    Raises
    ------
    EncodingError
        ``rate`` outside ``[0, 1]``, ``first_spike_time > num_steps`` (snnTorch: ``Exception``),
        or an unknown ``firing_pattern`` (snnTorch returns ``None``).

    Examples
    --------
    >>> from eventcode import spikegen
    >>> spikegen.target_rate_code(num_steps=5, rate=0.3)
    (tensor([1., 0., 0., 1., 0.]), tensor([0, 3]))
    """
    if not 0 <= rate <= 1:
        raise EncodingError(f"target_rate_code: ``rate`` {rate} must be between 0 and 1.")
    if first_spike_time > num_steps:
        raise EncodingError(
            f"target_rate_code: ``first_spike_time`` {first_spike_time} must be less than num_steps "
            f"{num_steps}."
        )
    if rate == 0:
        return torch.zeros(num_steps), torch.Tensor()
    pattern = firing_pattern.lower()
    if pattern == "poisson":
        fired = torch.bernoulli(
            torch.cat((torch.zeros(first_spike_time), torch.ones(num_steps - first_spike_time) * rate))
        )
        return fired, torch.where(fired == 1)[0]
    regular = torch.arange(first_spike_time, num_steps, 1 / rate)
    if pattern == "regular":
        spike_time = regular.long()
    elif pattern == "uniform":
        spike_time = (torch.rand(len(regular)) * (num_steps - first_spike_time) + first_spike_time).long()
    else:
        raise EncodingError(
            f"target_rate_code: ``firing_pattern`` must be 'regular', 'uniform' or 'poisson', got "
            f"{firing_pattern!r}."
        )
    return torch.zeros(num_steps).scatter(0, spike_time, 1), spike_time


def targets_convert(
    targets: torch.Tensor,
    num_classes: int,
    code: Literal["rate", "latency"] = "rate",
    num_steps: int | bool = False,
    first_spike_time: int = 0,
    correct_rate: float = 1,
    incorrect_rate: float = 0,
    on_target: float = 1,
    off_target: float = 0,
    firing_pattern: str = "regular",
    interpolate: bool = False,
    epsilon: float = 1e-7,
    threshold: float = 0.01,
    tau: float = 1,
    clip: bool = False,
    normalize: bool = False,
    linear: bool = False,
    bypass: bool = False,
) -> torch.Tensor:
    """snnTorch's ``spikegen.targets_convert``: :func:`targets_rate` or :func:`targets_latency`.

    As in snnTorch, ``code='latency'`` passes neither ``on_target``, ``off_target``,
    ``interpolate`` nor ``epsilon`` on, and ``code='rate'`` ignores the latency options.

    Raises
    ------
    EncodingError
        ``code`` other than ``'rate'`` or ``'latency'`` (snnTorch: ``Exception``), and the errors
        of the function it calls.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.targets_convert(torch.tensor([4]), num_classes=5, code="rate")
    tensor([[0., 0., 0., 0., 1.]])
    """
    if code == "rate":
        return targets_rate(
            targets,
            num_classes,
            num_steps=num_steps,
            first_spike_time=first_spike_time,
            correct_rate=correct_rate,
            incorrect_rate=incorrect_rate,
            on_target=on_target,
            off_target=off_target,
            firing_pattern=firing_pattern,
            interpolate=interpolate,
            epsilon=epsilon,
        )
    if code == "latency":
        return targets_latency(
            targets,
            num_classes,
            num_steps=num_steps,
            threshold=threshold,
            tau=tau,
            first_spike_time=first_spike_time,
            clip=clip,
            normalize=normalize,
            linear=linear,
            bypass=bypass,
        )
    raise EncodingError(f"targets_convert: code ['{code}'] must be either 'rate' or 'latency'")


def targets_rate(
    targets: torch.Tensor,
    num_classes: int,
    num_steps: int | bool = False,
    first_spike_time: int = 0,
    correct_rate: float = 1,
    incorrect_rate: float = 0,
    on_target: float = 1,
    off_target: float = 0,
    firing_pattern: str = "regular",
    interpolate: bool = False,
    epsilon: float = 1e-7,
) -> torch.Tensor:
    """snnTorch's ``spikegen.targets_rate``: rate-coded one-hot targets, float32.

    With ``correct_rate=1``, ``incorrect_rate=0`` and ``first_spike_time=0`` the result is
    ``[B, num_classes]``, else ``[num_steps, B, num_classes]`` (time first). snnTorch 1.0.0's
    broadcasting is kept as it is: rates other than 1 / 0 multiply the incorrect classes' one-hot
    ``[T, B, C]`` by the ``[T]`` train along the class dim, so they need ``num_classes ==
    num_steps`` (interpolated or not) and then, without ``interpolate``, give a
    ``[T, B, C, B, C]`` tensor; other sizes raise torch's ``RuntimeError`` as snnTorch does.

    Raises
    ------
    EncodingError
        Rates outside ``[0, 1]``, rates other than 1 / 0 without ``num_steps``,
        ``incorrect_rate > correct_rate``, an unknown ``firing_pattern`` (snnTorch:
        ``Exception``), a target index ``>= num_classes`` (see :func:`to_one_hot`), or a negative
        ``first_spike_time`` with rates 1 / 0 (snnTorch returns ``None``).

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.targets_rate(torch.tensor([1]), num_classes=3, num_steps=3, first_spike_time=1)
    tensor([[[0., 0., 0.]],
    <BLANKLINE>
            [[0., 1., 0.]],
    <BLANKLINE>
            [[0., 1., 0.]]])
    """
    if not 0 <= correct_rate <= 1 or not 0 <= incorrect_rate <= 1:
        raise EncodingError(
            f"targets_rate: ``correct_rate`` {correct_rate} and ``incorrect_rate`` {incorrect_rate} "
            "must be between 0 and 1."
        )
    if not num_steps and (correct_rate != 1 or incorrect_rate != 0):
        raise EncodingError(
            "targets_rate: ``num_steps`` must be passed if correct_rate is not 1 or incorrect_rate is not 0."
        )
    if incorrect_rate > correct_rate:
        raise EncodingError("targets_rate: ``correct_rate`` must be greater than ``incorrect_rate``.")
    if firing_pattern.lower() not in ("regular", "uniform", "poisson"):
        raise EncodingError(
            "targets_rate: ``firing_pattern`` must be either 'regular', 'uniform' or 'poisson', got "
            f"{firing_pattern!r}."
        )
    device = targets.device
    one_hot = to_one_hot(targets, num_classes)
    if correct_rate == 1 and incorrect_rate == 0:
        if first_spike_time < 0:
            raise EncodingError(
                f"targets_rate: ``first_spike_time`` [{first_spike_time}] cannot be negative."
            )
        if first_spike_time == 0 and on_target <= off_target:
            return one_hot * on_target + ~one_hot.bool() * off_target
        spike_targets = torch.clamp(one_hot * on_target, off_target)
        if first_spike_time == 0:
            return spike_targets
        spike_targets = spike_targets.repeat(num_steps, *[1] * one_hot.dim())
        spike_targets[0:first_spike_time] = off_target
        return spike_targets
    over_time = (num_steps, *[1] * one_hot.dim())
    correct, inverse = one_hot.repeat(over_time), to_one_hot_inverse(one_hot).repeat(over_time)
    correct_train, correct_times = target_rate_code(num_steps, first_spike_time, correct_rate, firing_pattern)
    incorrect_train, incorrect_times = target_rate_code(
        num_steps, first_spike_time, incorrect_rate, firing_pattern
    )
    correct_spikes = correct * correct_train.to(device)[:, None, None]
    incorrect_spikes = (inverse * incorrect_train).to(device)[..., None, None]  # snnTorch's broadcast
    if not interpolate:
        return torch.clamp((incorrect_spikes + correct_spikes) * on_target, off_target)
    ramps = [
        rate_interpolate(times, num_steps, on_target, off_target, epsilon).to(device)[:, None, None]
        for times in (correct_times, incorrect_times)
    ]
    return correct * ramps[0] + inverse * ramps[1]


def targets_latency(
    targets: torch.Tensor,
    num_classes: int,
    num_steps: int | bool = False,
    first_spike_time: int = 0,
    on_target: float = 1,
    off_target: float = 0,
    interpolate: bool = False,
    threshold: float = 0.01,
    tau: float = 1,
    clip: bool = False,
    normalize: bool = False,
    linear: bool = False,
    epsilon: float = 1e-7,
    bypass: bool = False,
) -> torch.Tensor:
    """snnTorch's ``spikegen.targets_latency``: :func:`latency` of the one-hot targets.

    Raises
    ------
    EncodingError
        A target index ``>= num_classes`` (see :func:`to_one_hot`) and the errors of
        :func:`latency`.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.targets_latency(torch.tensor([0, 3]), num_classes=4, num_steps=5, normalize=True)[:, 0]
    tensor([[1., 0., 0., 0.],
            [0., 0., 0., 0.],
            [0., 0., 0., 0.],
            [0., 0., 0., 0.],
            [0., 1., 1., 1.]])
    """
    return latency(
        to_one_hot(targets, num_classes),
        num_steps=num_steps,
        threshold=threshold,
        tau=tau,
        first_spike_time=first_spike_time,
        on_target=on_target,
        off_target=off_target,
        clip=clip,
        normalize=normalize,
        linear=linear,
        interpolate=interpolate,
        bypass=bypass,
        epsilon=epsilon,
    )


def to_one_hot_inverse(one_hot_targets: torch.Tensor) -> torch.Tensor:
    """snnTorch's ``spikegen.to_one_hot_inverse``: 1 where the input is 0, else 0, in its dtype.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.to_one_hot_inverse(torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0]))
    tensor([1., 1., 1., 1., 0.])
    """
    return (one_hot_targets == 0).to(one_hot_targets.dtype)


def to_one_hot(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """snnTorch's ``spikegen.to_one_hot``: float32 ``[len(targets), num_classes]`` one-hot rows.

    Raises
    ------
    EncodingError
        A target ``> num_classes - 1`` (snnTorch: ``Exception``); negative targets raise torch's
        ``RuntimeError`` from ``scatter`` and empty ones from ``torch.max``, as in snnTorch.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.to_one_hot(torch.tensor([0, 2]), num_classes=3)
    tensor([[1., 0., 0.],
            [0., 0., 1.]])
    """
    if torch.max(targets > num_classes - 1):
        raise EncodingError(
            f"to_one_hot: target [{torch.max(targets)}] is out of bounds for ``num_classes`` "
            f"[{num_classes}]; targets must be class indices in [0, num_classes - 1]"
        )
    one_hot = torch.zeros([len(targets), num_classes], device=targets.device, dtype=torch.float32)
    return one_hot.scatter(1, targets.type(torch.int64).unsqueeze(-1), 1)


def from_one_hot(one_hot_label: torch.Tensor) -> torch.Tensor:
    """snnTorch's ``spikegen.from_one_hot``: the first-dim indices of the entries equal to 1.

    Examples
    --------
    >>> import torch
    >>> from eventcode import spikegen
    >>> spikegen.from_one_hot(torch.eye(3))
    tensor([0, 1, 2])
    """
    return torch.where(one_hot_label == 1)[0]
