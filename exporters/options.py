"""Checks of the options every reader and writer shares, so that each format refuses the same values alike.

Examples
--------
>>> from exporters.options import step_us
>>> step_us(1000), step_us(None)
(1000, None)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar, cast

from eventcode.errors import OptionError
from eventcode.options import positive_int, window

if TYPE_CHECKING:
    import numpy as np

Head = TypeVar("Head")
Chunk = TypeVar("Chunk")


def step_us(dt_us: object) -> int | None:
    """``dt_us``, the microseconds per step, as an int (None stays None).

    Raises
    ------
    OptionError
        Anything but a positive whole number of microseconds (0, negative, fractional, a bool).
    """
    return None if dt_us is None else positive_int("dt_us", dt_us, "microseconds per step")


def one_sample_window(
    path: str | os.PathLike[str], sample: object, t_start: object, t_end: object, name: str
) -> tuple[int | None, int | None]:
    """The window ``(t_start, t_end)`` as ints, after checking ``sample`` of a file of one stream.

    Raises
    ------
    OptionError
        ``sample`` not None, 0 or -1 (``name``, the format, says why), or a window that is not ints.
    """
    if sample is not None and (isinstance(sample, bool) or sample not in (0, -1)):
        raise OptionError(
            f"{os.fspath(path)} holds one stream (an {name} file is one sample): sample must be "
            f"None, 0 or -1, got {sample!r}"
        )
    return window(t_start, t_end)


def started(chunks: Iterator[Head | dict[str, np.ndarray]]) -> tuple[Head, Iterator[dict[str, np.ndarray]]]:
    """Run a reader's chunk generator to its first item, what describes the chunks (so bad arguments
    raise at the call, not at the first chunk), and return it with the column chunks after it."""
    return cast(Head, next(chunks)), cast("Iterator[dict[str, np.ndarray]]", chunks)


def at_least_one(chunks: Iterator[Chunk], empty: Callable[[], Chunk]) -> Iterator[Chunk]:
    """``chunks``, or the one chunk ``empty()`` where there are none: a reader of a stretch of a
    file gives at least one chunk, so that its caller learns what the events read as (the sample
    shape, polarities, step time) even from a stretch without events.

    >>> list(at_least_one(iter([]), lambda: "empty")), list(at_least_one(iter("ab"), lambda: "empty"))
    (['empty'], ['a', 'b'])
    """
    none = True
    for chunk in chunks:
        none = False
        yield chunk
    if none:
        yield empty()
