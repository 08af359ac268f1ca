"""Helpers shared by the benchmarks: the median time of repeated calls, interleaved rounds of
several calls with their spread, target verdicts from those rounds, and peak resident memory of
one call, measured in isolation.

Peak memory on the CPU is the rise of the process's resident-set high-water mark (``VmHWM``,
reset through ``/proc/self/clear_refs``) during one call. It is measured in a fresh
subprocess with glibc told to ``mmap`` every block above 64 KiB, so freed memory goes back to
the system and numpy and torch allocations count alike (tracemalloc sees only numpy's).
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def timed(
    fn: Callable[[], object], repeat: int, device: str = "cpu", budget: float = math.inf
) -> tuple[float, int, object]:
    """Median seconds of ``repeat`` calls of ``fn``, the number of calls, and the last result.

    The previous result is released before each call, so two never share memory; on CUDA the
    device is synchronized around each call; the calls stop early once ``budget`` seconds are spent.
    """
    times, result = [], None
    for _ in range(repeat):
        result = None
        if device == "cuda":
            import torch

            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        if sum(times) > budget:
            break
    return statistics.median(times), len(times), result


def interleaved(
    fns: dict[str, Callable[[], object]],
    repeat: int,
    after: Callable[[object], object] | None = None,
    device: str = "cpu",
) -> dict[str, list[float]]:
    """Seconds of each call of each function, ``repeat`` rounds of one call of each in turn
    (A, B, A, B, ...), so that a slow spell of the machine falls on every function alike;
    ``after`` gets each result, untimed (to remove a written file, say); on CUDA the device is
    synchronized around each call."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            _synchronize(device)
            start = time.perf_counter()
            result = fn()
            _synchronize(device)
            times[name].append(time.perf_counter() - start)
            if after is not None:
                after(result)
            del result
    return times


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def ratios(numerator: list[float], denominator: list[float]) -> list[float]:
    """Round-by-round ratios of two lists of interleaved times (``numerator[i] / denominator[i]``)."""
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def ratio_spread(values: list[float]) -> str:
    """The median of round-by-round ratios and their range, as ``2.31x (1.90-2.75)``."""
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def verdict(values: list[float], target: float, at_most: bool = False) -> str:
    """Whether round-by-round values meet a target: ``yes`` when every round does, ``NO (within
    the range)`` when the target lies inside the rounds' range, else ``NO``. The target is a
    minimum (a ratio, a speed), or with ``at_most`` a maximum (a time, a share)."""
    low, high = min(values), max(values)
    if at_most:
        low, high, target = -high, -low, -target
    if low >= target:
        return "yes"
    return "NO (within the range)" if high >= target else "NO"


def spread(times: list[float]) -> str:
    """The median of ``times`` and their range, as ``0.123 s (0.110-0.140)``."""
    return f"{statistics.median(times):.3f} s ({min(times):.3f}-{max(times):.3f})"


def cuda_peak(fn: Callable[[], object]) -> int:
    """Bytes that one call of ``fn`` allocated on the GPU at its peak, above what was allocated
    before it (``torch.cuda.max_memory_allocated``)."""
    import torch

    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    result = fn()
    torch.cuda.synchronize()
    del result
    return int(torch.cuda.max_memory_allocated()) - base


def _status_kib(key: str) -> int:
    match = re.search(rf"{key}:\s+(\d+)", Path("/proc/self/status").read_text())
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {key}: peak memory needs Linux")
    return int(match.group(1))


def peak_rss_bytes(fn: Callable[[], object]) -> int:
    """Bytes by which the resident set rose at its peak while ``fn()`` ran (result kept alive)."""
    base = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    result = fn()
    peak = _status_kib("VmHWM")
    del result
    return (peak - base) * 1024


def isolated_peak(script: str, *args: str) -> int:
    """Run ``script --peak *args`` in a fresh process and return the bytes it prints."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    result = subprocess.run(
        [sys.executable, script, "--peak", *args], capture_output=True, text=True, check=True, env=env
    )
    return int(result.stdout.strip().splitlines()[-1])


def isolated_peaks(script: str, *args: str) -> dict[str, int]:
    """Run ``script --peak *args`` in one fresh process and return the JSON object (names to
    bytes) that it prints on its last line: several calls measured one after another with
    :func:`peak_rss_bytes`, the high-water mark reset before each. Freed blocks go back to the
    system (``MALLOC_MMAP_THRESHOLD_``), so one call's memory does not hide the next one's; one
    process for all of them saves a fresh interpreter (and torch import) per call."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    result = subprocess.run(
        [sys.executable, script, "--peak", *args], capture_output=True, text=True, check=True, env=env
    )
    found: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return found
