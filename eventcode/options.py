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

import numbers

from eventcode.errors import OptionError


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
    whole = isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer()
    if not whole or value < 1:  # type: ignore[operator]
        what = f"a positive whole number of {unit}" if unit else "a positive int"
        raise OptionError(f"{name} must be {what}, got {value!r}")
    return int(value)  # type: ignore[call-overload]
