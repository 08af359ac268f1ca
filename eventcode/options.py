"""Checks of the arguments the whole library shares, so that every function refuses a bad value alike.

Examples
--------
>>> from eventcode.options import positive_int
>>> positive_int("num_steps", 25)
25
>>> positive_int("num_steps", 0)
Traceback (most recent call last):
...
eventcode.errors.OptionError: num_steps must be a positive int, got 0
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

from eventcode.errors import OptionError, OptionTypeError

if TYPE_CHECKING:
    import torch


def torch_dtype(name: str, value: object) -> torch.dtype:
    """``value`` when it is a ``torch.dtype``.

    Raises
    ------
    OptionTypeError
        Anything else (a string such as ``"float32"`` included).
    """
    import torch

    if not isinstance(value, torch.dtype):
        raise OptionTypeError(f"{name} must be a torch.dtype such as torch.float32, got {value!r}")
    return value


def device(name: str, value: object) -> torch.device:
    """``value`` (a ``torch.device`` or a string such as ``"cuda:0"``) as a ``torch.device``.

    Raises
    ------
    OptionError
        A string torch does not read as a device; :class:`OptionTypeError` for another type.
    """
    import torch

    if isinstance(value, torch.device):
        return value
    if not isinstance(value, str):
        raise OptionTypeError(f"{name} must be a torch.device or a string such as 'cuda', got {value!r}")
    try:
        return torch.device(value)
    except RuntimeError as err:
        raise OptionError(f"{name} = {value!r} is not a device: {err}") from None


def events_argument(caller: str, value: object) -> None:
    """Raise :class:`OptionTypeError` unless ``value`` is an :class:`eventcode.Events`."""
    from eventcode.events import Events

    if not isinstance(value, Events):
        raise OptionTypeError(f"{caller} takes an eventcode.Events, got {type(value).__name__}")


def positive_int(name: str, value: object, unit: str = "") -> int:
    """``value`` as an int when it is a whole number >= 1 (an integral float such as ``5.0`` too).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        What the caller passed.
    unit : str, optional
        What the number counts, for the message (e.g. ``"microseconds per step"``).

    Raises
    ------
    OptionError
        A bool, a non-number, a fraction, or a value below 1.
    """
    if not isinstance(value, bool):
        try:
            number = operator.index(value)  # type: ignore[arg-type]  # ints and numpy ints; else TypeError
        except TypeError:
            number = int(value) if isinstance(value, float) and value.is_integer() else 0
        if number >= 1:
            return number
    raise OptionError(f"{name} must be {_positive(unit)}, got {value!r}")


def optional_int(name: str, value: object, what: str = "an int") -> int | None:
    """``value`` as an int (an int, a numpy integer, a one-element integer tensor), or None.

    Raises
    ------
    OptionError
        A bool or a non-integer, naming the argument and ``what`` it must be.
    """
    if value is None:
        return None
    if not isinstance(value, bool):
        try:
            return operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
    raise OptionError(f"{name} must be {what} or None, got {value!r}")


def window(t_start: object, t_end: object) -> tuple[int | None, int | None]:
    """A reader's time window ``t_start <= t < t_end`` as ints or None (open sides).

    Raises
    ------
    OptionError
        A bound that is not an int, or ``t_end`` before ``t_start``.

    Examples
    --------
    >>> from eventcode.options import window
    >>> window(5, None)
    (5, None)
    """
    what = "an int (a time in the file's unit)"
    start, end = optional_int("t_start", t_start, what), optional_int("t_end", t_end, what)
    if start is not None and end is not None and end < start:
        raise OptionError(f"t_end = {end} is before t_start = {start}; the window is t_start <= t < t_end")
    return start, end


def _positive(unit: str) -> str:
    return f"a positive whole number of {unit}" if unit else "a positive int"
