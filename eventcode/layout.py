"""The layout of dense input: which dim is time, which is the batch, and the sample shape.

One contract for everything that reads dense tensors (the encoders and
:meth:`Events.from_dense <eventcode.Events.from_dense>`): the first dim after the time dim, if
any, is the batch. It lives apart from the encoders so that :mod:`eventcode.dense` and the
encoders share it without importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventcode import address

if TYPE_CHECKING:
    import torch


def batch_first(
    tensor: torch.Tensor, batched: bool, reader: str, error: type[Exception], *, time_major: bool = False
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``tensor`` as ``[B, ...]`` (``[T, B, ...]`` with ``time_major``) and its checked sample shape.

    The batch contract of everything that reads dense input (the encoders, :meth:`Events.from_dense`):
    the first dim after the time dim, if any, is the batch, and ``batched=False`` puts in a batch
    dim of 1 for one sample. So a flattened image ``img.flatten()`` is 784 samples of shape ``()``,
    while ``img.flatten()[None]`` is one sample of shape ``(784,)``.

    Raises
    ------
    error
        The time dim (``time_major``) or the batch dim (``batched``) is missing: the message names
        the layout and how to add the dim.
    EventsError
        The sample shape has an empty dim or one beyond the int16 address columns.
    """
    if tensor.dim() < int(time_major) + int(batched):
        layout = ("[T, " if time_major else "[") + ("B, ...]" if batched else "...]")
        given = f"{reader}: input of shape {list(tensor.shape)} lacks the"
        if batched and tensor.dim() == int(time_major):
            index, unit = ("data[:, None]", "sequence [T, ...]") if time_major else ("data[None]", "sample")
            raise error(
                f"{given} batch dim of {layout} (dim {int(time_major)} is the batch); add it with "
                f"{index}, or pass batched=False for a single {unit}"
            )
        raise error(f"{given} time dim of {layout}; {reader} reads a sequence of steps along dim 0")
    if not batched:
        tensor = tensor.unsqueeze(int(time_major))
    return tensor, address.check_shape(tensor.shape[1 + int(time_major) :])
