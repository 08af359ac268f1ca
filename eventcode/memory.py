"""Large CPU tensors allocated by numpy, whose allocator asks Linux for transparent huge pages.

A large output written once (a frame stack, a dense spike tensor, an event column) costs little
more than the writing itself on huge pages; on 4 KiB pages, faulting them in costs several times
the work (on this project's VM: 72 MB zeroed and counted into in 7 ms from numpy, 30 ms from
``torch.zeros``; 72 MB written in 13 ms into ``np.empty``, 49 ms into ``torch.empty``). On other
devices, and for dtypes numpy lacks, these are torch's own ``zeros`` and ``empty``.

Examples
--------
>>> import torch
>>> from eventcode import memory
>>> memory.zeros(4, torch.float32, torch.device("cpu")).tolist()
[0.0, 0.0, 0.0, 0.0]
>>> memory.empty(3, torch.int16, torch.device("cpu")).dtype
torch.int16
"""

from __future__ import annotations

import numpy as np
import torch


def zeros(numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``numel`` zeros of ``dtype`` on ``device`` (numpy's memory on the CPU)."""
    return _allocated(np.zeros, torch.zeros, numel, dtype, device)


def empty(numel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``numel`` uninitialised values of ``dtype`` on ``device`` (numpy's memory on the CPU)."""
    return _allocated(np.empty, torch.empty, numel, dtype, device)


def _allocated(
    numpy_way: object, torch_way: object, numel: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    if device.type == "cpu":
        try:
            np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        except TypeError:  # a dtype numpy lacks (bfloat16...)
            return torch_way(numel, dtype=dtype)  # type: ignore[operator, no-any-return]
        return torch.from_numpy(numpy_way(numel, dtype=np_dtype))  # type: ignore[operator]
    return torch_way(numel, dtype=dtype, device=device)  # type: ignore[operator, no-any-return]
