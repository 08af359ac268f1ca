"""Work on all cores for the file formats: numpy, lz4, zstandard and file reads release the GIL,
so packets pack, compress, decompress and copy in parallel while the caller uses earlier results.

One pool of :data:`WORKERS` threads serves every format. :func:`scratch` gives each thread
buffers it keeps from one piece of work to the next: temporaries that are allocated afresh for
every piece cost page faults, and on a virtual machine those serialize the threads.

Examples
--------
>>> from exporters import threads
>>> list(threads.parallel(lambda i: i * i, range(5)))
[0, 1, 4, 9, 16]
>>> with threads.ordered(lambda i: i + 1, range(3)) as results:
...     list(results)
[1, 2, 3]
>>> with threads.ahead(lambda i: i * 10, [1, 2, 3]) as results:
...     list(results)
[10, 20, 30]
>>> threads.scratch("demo", 3, "<u2").dtype.name
'uint16'
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

WORKERS = max(1, os.cpu_count() or 1)
"""Threads of the pool: one per core."""


def parallel(function: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """``function(item)`` for each item, in order, computed on all cores as the results are used."""
    if len(items) < 2 or WORKERS == 1:
        return map(function, items)
    return pool().map(function, items)


@contextlib.contextmanager
def ordered(function: Callable[[T], R], items: Sequence[T]) -> Iterator[Iterator[R]]:
    """``function(item)`` for each item, in order, computed on all cores a few items ahead.

    On leaving the block, work not begun is dropped and running work is waited for: no worker
    reads a file after it closes.
    """
    pending: deque[Future[R]] = deque()

    def results() -> Iterator[R]:
        if len(items) < 2 or WORKERS == 1:
            yield from map(function, items)
            return
        for item in items:
            pending.append(pool().submit(function, item))
            if len(pending) > 2 * WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    try:
        yield results()
    finally:
        for future in pending:
            future.cancel()
        wait(pending)


@contextlib.contextmanager
def ahead(function: Callable[[T], R], items: Sequence[T]) -> Iterator[Iterator[R]]:
    """``function(item)`` for each item, in order, the next item's computed on a thread of its
    own while the caller uses this one's (``function`` may itself use the pool: it never runs
    on it). Errors come in order, when their item's turn comes.

    On leaving the block, the running call is waited for: no thread reads a file after it closes.
    """
    if len(items) < 2:
        yield map(function, items)
        return
    runner = ThreadPoolExecutor(1, thread_name_prefix="exporters-ahead")
    pending: list[Future[R]] = []

    def results() -> Iterator[R]:
        pending.append(runner.submit(function, items[0]))
        for item in items[1:]:
            done = pending.pop().result()
            pending.append(runner.submit(function, item))
            yield done
        yield pending.pop().result()

    try:
        yield results()
    finally:
        wait(pending)
        runner.shutdown()


@functools.cache
def pool() -> ThreadPoolExecutor:
    """The shared pool, made on first use in each process.

    A forked child (a ``DataLoader`` worker, a ``multiprocessing`` fork) inherits the parent's
    pool object but none of its threads: work sent to it would wait forever. So the child forgets
    the pool and makes its own on first use.
    """
    return ThreadPoolExecutor(WORKERS, thread_name_prefix="exporters")


os.register_at_fork(after_in_child=pool.cache_clear)


_buffers = threading.local()


def scratch(name: str, count: int, dtype: np.typing.DTypeLike) -> np.ndarray:
    """This thread's buffer ``name`` as ``count`` items of ``dtype`` (contents undefined).

    The buffer is kept, and grown when asked for more, so a view stays valid only until the
    same thread asks for ``name`` again: use it within one piece of work, never return it, and
    name it after its module (``"dat.records"``) so that two modules' buffers never meet.
    """
    size = count * np.dtype(dtype).itemsize
    held = getattr(_buffers, "held", None)
    if held is None:
        held = _buffers.held = {}
    buffer = held.get(name)
    if buffer is None or len(buffer) < size:
        buffer = held[name] = np.empty(max(size, 1 << 12), np.uint8)
    return buffer[:size].view(dtype)
