"""Checks of the options every writer shares, so that each format refuses the same values alike.

Examples
--------
>>> from exporters.options import step_us
>>> step_us(1000), step_us(None)
(1000, None)
"""

from __future__ import annotations

from eventcode.options import positive_int


def step_us(dt_us: object) -> int | None:
    """``dt_us``, the microseconds per step, as an int (None stays None).

    Raises
    ------
    OptionError
        Anything but a positive whole number of microseconds (0, negative, fractional, a bool).
    """
    return None if dt_us is None else positive_int("dt_us", dt_us, "microseconds per step")
