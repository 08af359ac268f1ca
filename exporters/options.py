"""Checks of the options every writer shares, so that each format refuses the same values alike.

Examples
--------
>>> from exporters.options import step_us
>>> step_us(1000), step_us(None)
(1000, None)
"""

from __future__ import annotations

import numbers

from eventcode.errors import ExportError


def step_us(dt_us: object) -> int | None:
    """``dt_us``, the microseconds per step, as an int (None stays None).

    Raises
    ------
    ExportError
        Anything but a positive whole number of microseconds (0, negative, fractional, a bool).
    """
    if dt_us is None:
        return None
    if isinstance(dt_us, bool) or not isinstance(dt_us, numbers.Real) or dt_us != int(dt_us) or dt_us < 1:
        raise ExportError(f"dt_us must be a positive whole number of microseconds per step, got {dt_us!r}")
    return int(dt_us)
