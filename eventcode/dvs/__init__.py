"""DVS emulation: video to microsecond ON/OFF events, as an event camera's pixels make them.

:func:`emulate` turns frames (arrays, a folder of images or a video file) into one
:class:`~eventcode.Events` stream; :class:`Emulator` does the same chunk by chunk with state, for
videos of any length. The pixel model is v2e's (log intensity, linear near black, per-pixel
threshold mismatch, an intensity-dependent photoreceptor low-pass, leak, shot noise, a refractory
period) with ESIM's per-pixel interpolation of threshold crossings within each frame interval
(``timing="crossing"``, the default) or v2e's frame-global spacing (``timing="linspace"``).
:mod:`eventcode.dvs.scenes` makes synthetic test videos.

Unlike :func:`eventcode.delta` (snnTorch's frame differences, in steps), events here are
microseconds and a large change fires several events at interpolated times.

Examples
--------
>>> from eventcode.dvs import emulate, scenes
>>> frames, stamps = scenes.moving_edge(width=64, height=48, frames=10, fps=200)
>>> events = emulate(frames, stamps, seed=0)
>>> events.sensor_size, len(events) > 0
((64, 48, 2), True)
"""

from __future__ import annotations

from eventcode.dvs.emulator import MANY_EVENTS, TIMINGS, Emulator, emulate

__all__ = ["MANY_EVENTS", "TIMINGS", "Emulator", "emulate"]
