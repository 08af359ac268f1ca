"""Large outputs: checked against the memory there is, and on the CPU allocated by numpy, whose
allocator asks Linux for transparent huge pages.

An output that would not fit (a dense tensor of 10^12 steps, say) raises
:class:`~eventcode.errors.AllocationError` naming its size before anything is allocated, instead
of failing deep in torch's allocator or swapping the machine to a halt. The limit is the memory
available now: ``MemAvailable`` of ``/proc/meminfo`` (the physical memory where there is none) on
the CPU, the device's free memory plus torch's cached blocks on a GPU.

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
>>> memory.zeros(10**15, torch.float32, torch.device("cpu"), "frames")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
eventcode.errors.AllocationError: frames would need 4000 TB (1,000,000,000,000,000 float32 values), ...
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch

from eventcode.errors import AllocationError


def zeros(numel: int, dtype: torch.dtype, device: torch.device, what: str = "the output") -> torch.Tensor:
    """``numel`` zeros of ``dtype`` on ``device`` (numpy's memory on the CPU), after
    :func:`check` (``what`` names the output in its error)."""
    check(numel, dtype, device, what)
    return _allocated(np.zeros, torch.zeros, numel, dtype, device)


def empty(numel: int, dtype: torch.dtype, device: torch.device, what: str = "the output") -> torch.Tensor:
    """``numel`` uninitialised values of ``dtype`` on ``device`` (numpy's memory on the CPU),
    after :func:`check`."""
    check(numel, dtype, device, what)
    return _allocated(np.empty, torch.empty, numel, dtype, device)


def check(numel: int, dtype: torch.dtype, device: torch.device, what: str = "the output") -> None:
    """Raise :class:`AllocationError` if ``numel`` values of ``dtype`` exceed the memory available
    on ``device`` now."""
    need = numel * torch.empty(0, dtype=dtype).element_size()
    if need <= 1 << 26:  # 64 MB: always allowed, no system call
        return
    free = available(device)
    if need > free:
        raise AllocationError(
            f"{what} would need {_size(need)} ({numel:,} {str(dtype).removeprefix('torch.')} values), more "
            f"than the {_size(free)} available on {device}; make it in pieces (a time window at a time: "
            "dense(t_start, t_end), to_frames of a time_slice), with fewer steps or bins, or a smaller batch"
        )


def available(device: torch.device) -> int:
    """Bytes that an allocation on ``device`` can take now (see the module's docstring)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if device.type != "cpu":
        return 1 << 62  # no measure for other devices: their allocator decides
    try:
        found = re.search(r"MemAvailable:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    except OSError:
        found = None
    if found is not None:
        return int(found.group(1)) * 1024
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def _size(count: int) -> str:
    """Bytes in kB, MB, GB or TB (powers of 1000)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:.0f} {unit}"
    return f"{count / 1e3:.0f} kB"


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
