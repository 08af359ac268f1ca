"""What every encoder shares: input checks, batching, and merging events made in pieces.

Encoders work in bounded pieces (groups of samples, or ranges of time steps) so that their
memory stays near the size of their output. :func:`interleave` puts pieces that each cover
every sample back into sample-major order in O(events), without sorting.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from eventcode.errors import EncodingError, OptionTypeError

CHUNK_ELEMENTS = 1 << 22
"""Dense elements (pixels x steps) an encoder handles at once: bounds its temporary memory."""

MASK_ELEMENTS = 1 << 24
"""Elements of a boolean firing mask an encoder fills at once (one byte each)."""


def as_input(
    data: object, encoder: str, integers: str, bounds: tuple[float, float] | None = None
) -> torch.Tensor:
    """``data`` as a real tensor, finite, in the dtype the encoder computes in.

    Floats keep their dtype, float16 and bfloat16 included: snnTorch computes in the input's
    dtype. ``integers`` says what becomes of integer and bool input: ``"keep"`` it, make it
    ``"float32"``, or ``"reject"`` it.
    With ``bounds = (low, high)`` every value must also lie in ``[low, high]``; one pass over
    the data checks both.
    """
    if isinstance(data, torch.Tensor):
        tensor = data
    else:
        array = np.require(np.asarray(data), requirements="W")
        if array.dtype.kind not in "biufc":
            raise OptionTypeError(
                f"{encoder}: input of numpy dtype {array.dtype} ({type(data).__name__}) holds no numbers; "
                "pass a tensor or array of values"
            )
        tensor = torch.from_numpy(array)
    if tensor.is_complex():
        raise EncodingError(
            f"{encoder}: complex input ({tensor.dtype}) has no spike encoding; pass real values"
        )
    if not tensor.is_floating_point():
        if integers == "reject":
            raise EncodingError(
                f"{encoder}: input of dtype {tensor.dtype} is not a probability; scale it to floats in "
                "[0, 1] first, e.g. images.float() / 255 (snnTorch raises NotImplementedError here)"
            )
        if integers == "float32":
            tensor = tensor.float()
    if tensor.numel() == 0 or not (tensor.is_floating_point() or bounds):
        return tensor
    low, high = (float(v) for v in torch.aminmax(tensor))  # one fast pass
    if not (math.isfinite(low) and math.isfinite(high)):
        flat = int(torch.nonzero(~torch.isfinite(tensor.reshape(-1)))[0, 0])
        where = ", ".join(str(int(i)) for i in np.unravel_index(flat, tuple(tensor.shape)))
        raise EncodingError(
            f"{encoder}: data[{where}] = {float(tensor.reshape(-1)[flat])} is not finite; "
            "replace NaN and inf (e.g. torch.nan_to_num) before encoding"
        )
    if bounds and (low < bounds[0] or high > bounds[1]):
        raise EncodingError(
            f"{encoder}: Elements of ``data`` must be between [{bounds[0]}, {bounds[1]}], but input is "
            f"[{low}, {high}]; scale the data into [{bounds[0]}, {bounds[1]}] first (e.g. images / 255)"
        )
    return tensor


def check_steps(encoder: str, num_steps: int | None, first_spike_time: int) -> int:
    """``num_steps`` as an int (0 for None/False) after rejecting fractions and negatives."""
    for name, value in (("num_steps", num_steps or 0), ("first_spike_time", first_spike_time)):
        if isinstance(value, bool) or int(value) != value:
            raise EncodingError(f"{encoder}: {name} must be an integer number of steps, got {value!r}")
    steps = int(num_steps or 0)
    if first_spike_time < 0 or steps < 0:
        raise EncodingError(
            f"{encoder}: ``first_spike_time`` and ``num_steps`` cannot be negative "
            f"(got {first_spike_time} and {steps})."
        )
    return steps


def index_bits(extent: int) -> int:
    """Bits needed to index ``extent`` positions (at least 1 position)."""
    return max(0, extent - 1).bit_length()


def flat_nonzero(mask: torch.Tensor) -> torch.Tensor:
    """Flat int64 indices of the True elements of a contiguous bool tensor, in C order.

    On the CPU numpy's ``flatnonzero`` is several times faster than ``torch.nonzero``.
    """
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return torch.nonzero(mask.reshape(-1)).squeeze(1)


def masked(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``values[mask]`` (row-major), through numpy on the CPU where it is many times faster."""
    if values.device.type == "cpu":
        return torch.from_numpy(values.numpy()[mask.numpy()])
    return values[mask]


def running_sum(values: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The inclusive running sum of a 1-D tensor into ``out`` (same dtype and device), returned.

    On the CPU numpy's ``cumsum`` is about twice as fast as torch's.
    """
    if values.device.type == "cpu":
        np.cumsum(values.numpy(), out=out.numpy())
        return out
    return torch.cumsum(values, 0, out=out)


def exclusive_cumsum(values: torch.Tensor) -> torch.Tensor:
    """``[0, v0, v0 + v1, ...]`` without the total: where each run starts."""
    return torch.cumsum(values, 0) - values


def interleave(parts: list[dict[str, torch.Tensor]], counts: torch.Tensor) -> dict[str, torch.Tensor]:
    """Concatenate pieces that each hold events of every sample into sample-major order.

    ``counts[i, b]`` is the number of events of sample ``b`` in piece ``i``; within a piece the
    events are sample-major. The result lists sample 0 of every piece (in piece order), then
    sample 1, and so on: a stable move of whole runs, O(events), no sort.
    """
    columns = {k: torch.cat([part[k] for part in parts]) for k in parts[0]}
    if len(parts) == 1:
        return columns
    runs = counts.reshape(-1)
    source = exclusive_cumsum(runs)
    target = exclusive_cumsum(counts.T.reshape(-1)).reshape(counts.T.shape).T.reshape(-1)
    total = int(runs.sum())
    destination = torch.arange(total, device=runs.device)
    destination += torch.repeat_interleave(target - source, runs, output_size=total)
    moved = {}
    for name, column in columns.items():
        moved[name] = torch.empty_like(column)
        moved[name][destination] = column
    return moved
