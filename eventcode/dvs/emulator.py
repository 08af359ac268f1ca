"""The DVS pixel model: log-intensity delta modulation with mismatch, low-pass, leak, shot noise
and a refractory period, turned into microsecond ON/OFF events frame interval by frame interval.

The equations are those of v2e (Hu, Liu and Delbruck, CVPR-W 2021; ``emulator.py``'s
``EventEmulator``, whose defaults these are) with ESIM's per-pixel interpolation of threshold
crossings (Rebecq et al., CoRL 2018) as the default timing. Every quantity lives in flat
``[H * W]`` tensors on one device: the levels in float64, so that crossing times hold to the
microsecond after many events, and each interval's differences from them in float32. A frame
interval costs a few dozen vectorized torch operations, into work tensors kept from frame to
frame, and one sort of its events as integer keys (:mod:`eventcode.dvs.keys`), with no
per-event Python. The work is memory-bound: on a CPU every pass over the pixels or events
counts, so the model is written in as few passes as it allows.

Examples
--------
>>> import torch
>>> from eventcode.dvs import Emulator
>>> ramp = torch.linspace(50, 200, 11)[:, None, None].expand(11, 2, 3)  # [T, H, W], brightening
>>> emulator = Emulator(sigma_threshold=0, leak_rate_hz=0, seed=0, fps=1000)
>>> events = emulator.feed(ramp.numpy().astype("uint8"))
>>> len(events), bool(events.p.all()), events.sensor_size  # ln(200 / 50) / 0.2 = 6.9: 6 a pixel
(36, True, (3, 2, 2))
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from eventcode import address, memory, options
from eventcode.dvs import keys, video
from eventcode.encoders.common import flat_nonzero, running_sum
from eventcode.errors import EncodingError, OptionError, UndersampledVideoWarning
from eventcode.events import Events

Timing = Literal["crossing", "linspace"]
TIMINGS: tuple[Timing, ...] = ("crossing", "linspace")
"""How events are placed within a frame interval: per-pixel interpolation of each threshold
crossing (ESIM, the default) or v2e's frame-global spacing."""

MANY_EVENTS = 100
"""Events one pixel may need in one frame interval before :class:`Emulator` warns (once) that the
video is too coarse in time (v2e warns above the same number)."""

_LOW_PASS_INTENSITY = (20.0, 275.0)
"""v2e's photoreceptor brightness ``(x + 20) / 275`` of a 0-255 intensity ``x``: sets the
low-pass bandwidth and the shot-noise rate (darker pixels are slower and noisier)."""
_SHOT_BRIGHT_FACTOR = 0.25
"""Shot-noise rate of the brightest pixels relative to the darkest (v2e)."""
_LUMA = (0.299, 0.587, 0.114)
"""ITU-R BT.601 weights of R, G and B in the luma of colour frames (OpenCV's, which v2e uses)."""


@dataclass
class _Pixels:
    """Every pixel's state: its low-passed log intensity ``lp``, the reference ``base`` its last
    event left, its thresholds, its leak-rate factor, the time of its last event (refractory)."""

    lp: torch.Tensor
    base: torch.Tensor
    on_threshold: torch.Tensor
    off_step: torch.Tensor
    """Minus each pixel's OFF threshold: the level step of an OFF event."""
    leak_factor: torch.Tensor | None
    last_us: torch.Tensor | None
    off_single: torch.Tensor
    span_single: torch.Tensor
    """``off_step`` and ``on_threshold - off_step`` in float32: the signed threshold of a pixel is
    ``off_single + on * span_single`` (``on`` 0 or 1), exact to float32 rounding."""
    noise_scale: tuple[torch.Tensor, torch.Tensor] | None
    """Each pixel's ON and OFF shot-noise chance relative to the darkest pixel's (nominal over own
    threshold); None without shot noise."""


class _Scratch:
    """Work tensors kept from frame to frame. Every temporary of every frame in fresh memory would
    cost more in page faults than its arithmetic (see :mod:`eventcode.memory`)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._held: dict[str, torch.Tensor] = {}

    def get(self, name: str, numel: int, dtype: torch.dtype) -> torch.Tensor:
        """``numel`` values of ``dtype`` in the tensor named ``name`` (grown as needed)."""
        held = self._held.get(name)
        if held is None or held.numel() < numel or held.dtype != dtype:
            held = memory.empty(numel + numel // 4, dtype, self.device, what=f"the emulator's {name}")
            self._held[name] = held
        return held[:numel]

    def ramp(self, numel: int, dtype: torch.dtype) -> torch.Tensor:
        """``1, 2, ..., numel``."""
        held = self._held.get("ramp")
        if held is None or held.numel() < numel or held.dtype != dtype:
            held = torch.arange(1, numel + numel // 4 + 1, dtype=dtype, device=self.device)
            self._held["ramp"] = held
        return held[:numel]


_Found = tuple[torch.Tensor, torch.Tensor]
"""Events of one kind in an interval, ``(offset, source)``: each one's whole microseconds after the
interval's start and its source (see :mod:`eventcode.dvs.keys`)."""


class Emulator:
    """A DVS camera's pixels, fed video frames chunk by chunk: ON/OFF events in microseconds.

    Each pixel compares its log intensity with the reference its last event left and fires an ON
    (OFF) event each time the change grows by its ON (OFF) threshold, moving the reference by that
    threshold. Feeding a video in chunks gives exactly the events of one call on the whole video
    (:func:`emulate`), in memory that depends on the chunk, not on the video's length.

    Parameters
    ----------
    pos_threshold, neg_threshold : float
        Nominal ON and OFF thresholds ``theta`` in log-intensity units (natural log): an ON
        event per ``ln(I1 / I0) = theta`` of brightening. Default 0.2 (v2e's).
    sigma_threshold : float
        Threshold mismatch: each pixel draws ``theta+ ~ N(pos_threshold, sigma)`` and
        ``theta- ~ N(neg_threshold, sigma)`` once (clamped to >= 0.01). Default 0.03.
    cutoff_hz : float
        3 dB frequency ``f_c`` of the photoreceptor's first-order low-pass for the brightest
        pixels; 0 (default) is no filter. The filter's bandwidth grows with light: per frame
        interval ``dt`` the state moves ``eps = min(1, 2 pi f_c dt (x + 20) / 275)`` of the way to
        the new log intensity (``x`` the 0-255 intensity), so dark pixels lag.
    leak_rate_hz : float
        Leak events: the reference drifts down by ``theta+`` per ``1 / leak_rate_hz`` seconds
        (times a per-pixel factor and a per-frame jitter, below), so a still pixel fires ON
        events at about that rate. Default 0.1 Hz.
    shot_noise_rate_hz : float
        Shot noise: ON plus OFF noise events per second of the darkest pixels, whose rate falls to
        a quarter at full brightness: per interval each polarity fires with probability
        ``(rate / 2) dt (1 - 0.75 (x + 20) / 275)`` (scaled by nominal / own threshold), and a
        noise event resets the pixel's reference. Default 0.
    refractory_period_us : int
        After an event a pixel fires again only ``refractory_period_us`` or more later; crossings
        in between are not lost, they stay in the difference and fire once the period ends.
        Default 0.
    leak_jitter_fraction : float
        Standard deviation of a fresh per-pixel, per-interval factor ``1 - jitter n`` on the leak.
        Default 0.1.
    noise_rate_cov_decades : float
        Spread of the leak rate across pixels: factor ``10 ** (cov n)``, ``n ~ N(0, 1)`` drawn once
        per pixel. Default 0.1.
    linear_cutoff : float
        Intensity (0-255) at and below which the response is linear instead of logarithmic:
        ``L = x ln(c + eps) / c`` for ``x <= c``, ``ln(x + eps)`` above; continuous at ``c``.
        Default 20 (v2e's lin-log). 0 with ``log_eps > 0`` is ESIM's ``ln(eps + x)``.
    log_eps : float
        Added to the intensity inside the logarithm. Default 0.
    timing : {"crossing", "linspace"}
        ``"crossing"`` (default): each event at the time its pixel's log intensity, interpolated
        linearly across the interval, crosses the threshold (ESIM); noise at a uniform time in
        the interval. ``"linspace"``: v2e's placement, a pixel's ``k``-th event of the interval
        at ``t0 + k dt / M`` with ``M`` the most events any pixel needs in the interval; noise at
        the frame's time.
    fps : float, optional
        Frame rate, for frames fed without timestamps: frame ``i`` of the video is at
        ``round(i * 1e6 / fps)`` us.
    seed : int, optional
        Seeds the generator of thresholds, leak and noise: the same seed gives the same events on
        the same device. None (default): a fresh seed.
    device : torch.device or str, optional
        Where the pixels compute; default the CPU.

    Raises
    ------
    OptionError
        A threshold that is not positive, a negative rate, sigma or period, an unknown timing,
        a logarithm that is not finite at 0 (``linear_cutoff == 0`` and ``log_eps <= 0``), or a
        device torch cannot use here.

    Examples
    --------
    >>> import numpy as np
    >>> from eventcode.dvs import Emulator
    >>> video = np.full((30, 4, 4), 100, np.uint8)
    >>> video[15:, :, :2] = 40  # the left half darkens at frame 15
    >>> emulator = Emulator(leak_rate_hz=0, seed=1, fps=30)
    >>> first, second = emulator.feed(video[:10]), emulator.feed(video[10:])
    >>> len(first), sorted(set(second.p.tolist())), second.t.min().item() > 14 * 1e6 / 30
    (0, [False], True)
    """

    def __init__(
        self,
        *,
        pos_threshold: float = 0.2,
        neg_threshold: float = 0.2,
        sigma_threshold: float = 0.03,
        cutoff_hz: float = 0.0,
        leak_rate_hz: float = 0.1,
        shot_noise_rate_hz: float = 0.0,
        refractory_period_us: int = 0,
        leak_jitter_fraction: float = 0.1,
        noise_rate_cov_decades: float = 0.1,
        linear_cutoff: float = 20.0,
        log_eps: float = 0.0,
        timing: Timing = "crossing",
        fps: float | None = None,
        seed: int | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        _require("pos_threshold", pos_threshold, positive=True)
        _require("neg_threshold", neg_threshold, positive=True)
        for name, value in (
            ("sigma_threshold", sigma_threshold),
            ("cutoff_hz", cutoff_hz),
            ("leak_rate_hz", leak_rate_hz),
            ("shot_noise_rate_hz", shot_noise_rate_hz),
            ("refractory_period_us", refractory_period_us),
            ("leak_jitter_fraction", leak_jitter_fraction),
            ("noise_rate_cov_decades", noise_rate_cov_decades),
            ("linear_cutoff", linear_cutoff),
            ("log_eps", log_eps),
        ):
            _require(name, value, positive=False)
        if linear_cutoff == 0 and log_eps <= 0:
            raise OptionError(
                "linear_cutoff=0 with log_eps=0 takes ln(0) of black pixels; give log_eps > 0 (ESIM's "
                "ln(eps + x)) or a linear_cutoff (v2e's 20)"
            )
        if timing not in TIMINGS:
            raise OptionError(f"timing must be one of {TIMINGS}, got {timing!r}")
        if fps is not None:
            _require("fps", fps, positive=True)
        self.pos_threshold, self.neg_threshold, self.sigma_threshold = (
            pos_threshold,
            neg_threshold,
            sigma_threshold,
        )
        self.cutoff_hz, self.leak_rate_hz, self.shot_noise_rate_hz = (
            cutoff_hz,
            leak_rate_hz,
            shot_noise_rate_hz,
        )
        self.refractory_period_us = int(refractory_period_us)
        self.leak_jitter_fraction, self.noise_rate_cov_decades = leak_jitter_fraction, noise_rate_cov_decades
        self.linear_cutoff, self.log_eps, self.timing, self.fps = linear_cutoff, log_eps, timing, fps
        self.device = torch.device("cpu") if device is None else options.device("device", device)
        try:
            self._generator = torch.Generator(device=self.device)
        except RuntimeError as err:  # a device this torch build or machine lacks
            raise OptionError(f"emulate: device {device!r} is not available here: {err}") from None
        self.seed = int(self._generator.seed() if seed is None else seed)
        self._generator.manual_seed(self.seed)
        self._pixels: _Pixels | None = None
        self._size: tuple[int, int] | None = None  # (H, W)
        self._frames_seen = 0
        self._last_us: int | None = None
        self._warned = False
        self._table: torch.Tensor | None = None  # log of 0..255, for uint8 grey frames
        self._spare: torch.Tensor | None = None  # memory for the next uint8 grey frame's log
        self._scratch = _Scratch(self.device)

    @property
    def sensor_size(self) -> tuple[int, int, int] | None:
        """``(W, H, 2)`` of the frames fed so far (None before the first)."""
        return None if self._size is None else (self._size[1], self._size[0], 2)

    @property
    def time_us(self) -> int | None:
        """Time of the last frame fed (None before the first)."""
        return self._last_us

    def feed(
        self, frames: object, timestamps_us: Sequence[int] | np.ndarray | torch.Tensor | None = None
    ) -> Events:
        """The events of the frame intervals that end at these frames.

        Parameters
        ----------
        frames : array or tensor
            ``[T, H, W]`` grey or ``[T, H, W, 3]`` RGB frames (luma: ITU-R BT.601 weights), uint8
            0-255 or float 0-1, numpy or torch; the same ``H, W`` in every chunk.
        timestamps_us : sequence of int, optional
            Each frame's time in microseconds, increasing, after the previous chunk's; default
            from ``fps``, counting on from the frames fed before.

        Returns
        -------
        Events
            One sample, ``sensor_size = (W, H, 2)``, ``t`` in microseconds, sorted by time
            (ties in row-major pixel order, signal events before noise). The first frame of a
            video only sets the pixels' state: it makes no events.

        Raises
        ------
        EncodingError
            Frames of the wrong rank, dtype or size, NaN or values out of range, timestamps
            that do not increase or do not match the frames, or neither timestamps nor ``fps``.
        """
        tensor, stamps = self._checked(frames, timestamps_us)
        return keys.stream(self._intervals(tensor, stamps), self._size, self.device)

    def _checked(
        self, frames: object, timestamps_us: Sequence[int] | np.ndarray | torch.Tensor | None
    ) -> tuple[torch.Tensor, np.ndarray]:
        """The frames as a tensor and their times, checked against each other and the frames before."""
        tensor = video.as_frames(frames)
        stamps = video.timestamps(tensor.shape[0], timestamps_us, self.fps, self._frames_seen, self._last_us)
        size = (int(tensor.shape[1]), int(tensor.shape[2]))
        if self._size is not None and size != self._size:
            raise EncodingError(
                f"emulate: frames of {size[1]}x{size[0]} pixels after frames of {self._size[1]}x"
                f"{self._size[0]}; feed one video's frames to one Emulator"
            )
        if max(size) > address.INT16_EXTENT:
            raise EncodingError(
                f"emulate: frames of {size[1]}x{size[0]} pixels; events address at most "
                f"{address.INT16_EXTENT}x{address.INT16_EXTENT}"
            )
        self._size = size
        return tensor, stamps

    def _intervals(self, frames: torch.Tensor, stamps: np.ndarray) -> list[keys.Interval]:
        """The events of the intervals ending at these frames (checked by :meth:`feed`)."""
        found = []
        for frame, t_us in zip(frames, stamps.tolist(), strict=True):
            interval = self._frame(frame.to(self.device, non_blocking=True), t_us)
            if interval is not None:
                found.append(interval)
            self._frames_seen += 1
        return found

    def _intensity(self, frame: torch.Tensor) -> torch.Tensor:
        """One frame as flat float32 intensities on the 0-255 scale."""
        scale = 255.0 if frame.is_floating_point() else 1.0
        if frame.ndim == 3:  # RGB: BT.601 luma
            weights = torch.tensor(_LUMA, dtype=torch.float32, device=self.device) * scale
            return (frame.to(torch.float32) @ weights).reshape(-1)
        flat = frame.reshape(-1).to(torch.float32)
        return flat * scale if scale != 1.0 else flat  # not in place: float32 frames are the caller's

    def _log(self, intensity: torch.Tensor) -> torch.Tensor:
        """Log intensity, linear at and below ``linear_cutoff`` (v2e's lin-log)."""
        cutoff, eps = self.linear_cutoff, self.log_eps
        intensity = intensity.to(torch.float64)
        logged = torch.log(intensity.clamp(min=cutoff).add_(eps))
        if cutoff == 0:
            return logged
        return torch.where(intensity <= cutoff, intensity * (math.log(cutoff + eps) / cutoff), logged)

    def _log_frame(self, frame: torch.Tensor, intensity: torch.Tensor | None) -> torch.Tensor:
        """:meth:`_log` of a frame: looked up in a table of the 256 values for uint8 grey frames."""
        if intensity is not None:
            return self._log(intensity)
        if self._table is None:
            self._table = self._log(torch.arange(256, dtype=torch.float32, device=self.device))
        if self._spare is None:
            self._spare = torch.empty(frame.numel(), dtype=torch.float64, device=self.device)
        index = self._scratch.get("index", frame.numel(), torch.int32).copy_(frame.reshape(-1))
        return torch.index_select(self._table, 0, index, out=self._spare)

    def _normal(self, n: int) -> torch.Tensor:
        return torch.randn(n, generator=self._generator, device=self.device)

    def _start(self, log: torch.Tensor) -> None:
        """The first frame: draw each pixel's thresholds (and leak factor), memorise its level."""
        n = log.numel()
        thresholds = []
        for nominal in (self.pos_threshold, self.neg_threshold):  # ON drawn before OFF, as v2e
            if self.sigma_threshold > 0:
                drawn = self._normal(n).mul_(self.sigma_threshold).add_(nominal).clamp_(min=0.01)
            else:
                drawn = torch.full((n,), max(nominal, 0.01), device=self.device)
            thresholds.append(drawn.to(torch.float64))  # float64 levels: crossing times to the microsecond
        leak_factor = None
        if self.leak_rate_hz > 0:
            leak_factor = torch.ones(n, device=self.device)
            if self.noise_rate_cov_decades > 0:
                leak_factor = torch.exp(self._normal(n) * (math.log(10) * self.noise_rate_cov_decades))
        last = None
        if self.refractory_period_us > 0:
            last = torch.full((n,), -(1 << 62), dtype=torch.int64, device=self.device)
        noise_scale = None
        if self.shot_noise_rate_hz > 0:
            noise_scale = (self.pos_threshold / thresholds[0], self.neg_threshold / thresholds[1])
        on, off = thresholds[0], thresholds[1].neg()
        self._pixels = _Pixels(
            log, log.clone(), on, off, leak_factor, last, off.float(), (on - off).float(), noise_scale
        )
        self._spare = None  # the log is the pixels' now

    def _frame(self, frame: torch.Tensor, t_us: int) -> keys.Interval | None:
        """The events of the interval ending at this frame, sorted by time."""
        lookup = frame.dtype == torch.uint8 and frame.ndim == 2
        brightness = None
        if self.cutoff_hz > 0 or self.shot_noise_rate_hz > 0:  # both need v2e's (x + 20) / 275
            intensity = self._intensity(frame)
            brightness = (intensity + _LOW_PASS_INTENSITY[0]) / _LOW_PASS_INTENSITY[1]
        elif not lookup:
            intensity = self._intensity(frame)
        log = self._log_frame(frame, None if lookup else intensity)
        previous, self._last_us = self._last_us, t_us
        pixels = self._pixels
        if pixels is None or previous is None:
            self._start(log)
            return None
        dt_us = t_us - previous
        dt = dt_us * 1e-6
        n = log.numel()
        lp0 = pixels.lp
        d0 = self._difference(lp0, pixels.base, "d0")
        if brightness is not None and self.cutoff_hz > 0:  # the low-pass moves lp0 in place
            eps = (brightness * (2 * math.pi * self.cutoff_hz * dt)).clamp_(max=1.0)
            lp0.addcmul_(eps, log - lp0)
        else:  # the level is the frame's log; lp0's memory takes the next frame's
            pixels.lp, self._spare = log, lp0
        if pixels.leak_factor is not None:
            drift = pixels.leak_factor * (dt * self.leak_rate_hz)
            if self.leak_jitter_fraction > 0:
                drift = drift * (1 - self.leak_jitter_fraction * self._normal(drift.numel()))
            pixels.base.sub_(drift * pixels.on_threshold)
        d1 = self._difference(pixels.lp, pixels.base, "d1")
        positive, signal = self._signal(pixels, d0, d1, dt_us, previous)
        found = [] if signal is None else [signal]
        polarity, noisy = positive.clone(), None  # positive is scratch
        if brightness is not None and self.shot_noise_rate_hz > 0:
            noise = self._noise(pixels, brightness, dt, dt_us)
            if noise is not None:  # source n + i: the i-th noise event, after every pixel's signal
                offset, noisy, on = noise
                found.append((offset, torch.arange(n, n + len(noisy), dtype=torch.int32, device=self.device)))
                polarity = torch.cat([positive, on])
        if not found:
            return None
        sources = polarity.numel()
        return keys.Interval(previous, keys.sort(found, sources, dt_us), sources, n, polarity, noisy)

    def _difference(self, level: torch.Tensor, base: torch.Tensor, name: str) -> torch.Tensor:
        """``level - base`` computed in float64 and kept in float32, through reused work tensors:
        torch's subtraction into a float32 ``out`` would allocate a fresh float64 temporary."""
        n = level.numel()
        exact = torch.sub(level, base, out=self._scratch.get("difference", n, torch.float64))
        return self._scratch.get(name, n, torch.float32).copy_(exact)

    def _signal(
        self, pixels: _Pixels, d0: torch.Tensor, d1: torch.Tensor, dt_us: int, previous: int
    ) -> tuple[torch.Tensor, _Found | None]:
        """Which pixels are above their reference (ON), and the interval's threshold crossings in
        (pixel, crossing) order; moves each firing pixel's reference by the events it fires.

        ``d0`` and ``d1`` (each pixel's level minus its reference at the interval's start and end)
        are small numbers: float32 holds them to ~1e-8, so the per-pixel work runs in float32, at
        half the memory traffic of the float64 levels."""
        scratch, n, single = self._scratch, d1.numel(), torch.float32
        positive = torch.gt(d1, 0, out=scratch.get("positive", n, torch.bool))
        step = torch.addcmul(  # the signed threshold
            pixels.off_single,
            scratch.get("on", n, single).copy_(positive),
            pixels.span_single,
            out=scratch.get("step", n, single),
        )
        whole = torch.div(d1, step, out=scratch.get("whole", n, single)).floor_()  # >= 0: d1's sign
        counts = scratch.get("counts", n, torch.int32).copy_(whole)
        first = running_sum(counts, scratch.get("first", n, torch.int32))
        total = int(first[-1])
        if total == 0:
            return positive, None
        first.sub_(counts)
        most = int(counts.max())
        if most > MANY_EVENTS:
            self._warn(counts, most, previous, dt_us)
        pixel = self._pixel_of_events(first, total)
        real = single if total < 1 << 24 else torch.float64  # whole numbers exact to the total
        k = torch.index_select(
            scratch.get("first real", n, real).copy_(first), 0, pixel, out=scratch.get("k", total, real)
        )
        k = torch.sub(scratch.ramp(total, real), k, out=k)  # 1, 2, ... within each pixel
        if self.timing == "crossing":
            # the k-th crossing of d0 + u (d1 - d0), u in [0, 1], at level k step: at time
            # (k step - d0) dt / (d1 - d0) = d0 s - k step s, s = dt / (d0 - d1)
            s = torch.sub(d0, d1, out=scratch.get("scale", n, real)).reciprocal_().mul_(dt_us)
            s.nan_to_num_(posinf=0.0, neginf=0.0)  # still: a carried difference, at once
            slope = torch.mul(step, s, out=scratch.get("slope", n, real))
            intercept = torch.mul(d0, s, out=s)
            offset = torch.index_select(intercept, 0, pixel, out=scratch.get("offset", total, real))
            offset.addcmul_(
                torch.index_select(slope, 0, pixel, out=scratch.get("slopes", total, real)), k, value=-1
            )
        else:  # v2e: the k-th event of every pixel at k dt / M
            offset = k.mul_(dt_us / most)
        offset = offset.clamp_(0, dt_us).round_()
        if pixels.last_us is None:  # in float64: the product is exact
            pixels.base.add_(scratch.get("moved", n, torch.float64).copy_(whole).mul_(step))
            return positive, (offset, pixel)
        firing = flat_nonzero(counts)
        per_pixel = counts.index_select(0, firing)
        keep, fired = self._refractory(
            pixels.last_us, firing, per_pixel, first.index_select(0, firing), offset, most, previous
        )
        pixels.base.index_add_(0, firing, fired.to(torch.float64).mul_(step.index_select(0, firing)))
        return positive, (offset[keep], pixel[keep])

    def _refractory(
        self,
        last: torch.Tensor,
        where: torch.Tensor,
        per_pixel: torch.Tensor,
        first: torch.Tensor,
        offset: torch.Tensor,
        most: int,
        previous: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Which crossings (in (pixel, crossing) order) come at least the refractory period after
        their pixel's last event, crossing by crossing; and how many each pixel fires. ``last``
        (each pixel's last event, us) moves to the events kept."""
        keep = torch.zeros(offset.numel(), dtype=torch.bool, device=self.device)
        fired = torch.zeros_like(per_pixel)
        active = torch.arange(where.numel(), device=self.device)
        for k in range(most):
            active = active[per_pixel.index_select(0, active) > k]
            position = first.index_select(0, active).to(torch.int64) + k
            at = offset.index_select(0, position).to(torch.int64) + previous
            pixel = where.index_select(0, active)
            ok = at - last.index_select(0, pixel) >= self.refractory_period_us
            keep[position] = ok
            last[pixel[ok]] = at[ok]
            fired.index_add_(0, active, ok.to(fired.dtype))
        return keep, fired

    def _noise(
        self, pixels: _Pixels, brightness: torch.Tensor, dt: float, dt_us: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """Shot-noise events (v2e's rate model, from each pixel's ``(x + 20) / 275``), each
        resetting its pixel's reference: their offsets, their pixels, and which are ON."""
        chance = brightness.mul_(_SHOT_BRIGHT_FACTOR - 1).add_(1).mul_(self.shot_noise_rate_hz / 2 * dt)
        draw = torch.rand(brightness.numel(), generator=self._generator, device=self.device)
        assert pixels.noise_scale is not None
        on = draw > 1 - chance * pixels.noise_scale[0]
        off = draw < chance * pixels.noise_scale[1]
        where = flat_nonzero(on | off)
        if where.numel() == 0:
            return None
        pixels.base.index_copy_(0, where, pixels.lp.index_select(0, where))
        if self.timing == "crossing":
            offset = (
                torch.rand(where.numel(), generator=self._generator, device=self.device).mul_(dt_us).round_()
            )
        else:
            offset = torch.full((where.numel(),), float(dt_us), device=self.device)
        return offset, where, on.index_select(0, where)

    def _pixel_of_events(self, first: torch.Tensor, total: int) -> torch.Tensor:
        """The pixel of each of ``total`` events in (pixel, crossing) order, from where each pixel's
        events start: one mark per pixel at its start, summed (on a CPU twice as fast as numpy's
        ``repeat`` of each pixel's index)."""
        marks = self._scratch.get("marks", total + 1, torch.int32).zero_()
        marks.index_add_(
            0, first, torch.ones((), dtype=torch.int32, device=first.device).expand(first.numel())
        )
        return running_sum(marks[:total], self._scratch.get("pixel", total, torch.int32)).sub_(1)

    def _warn(self, counts: torch.Tensor, most: int, previous: int, dt_us: int) -> None:
        if self._warned:
            return
        self._warned = True
        assert self._size is not None
        pixel = int(torch.argmax(counts))
        y, x = divmod(pixel, self._size[1])
        warnings.warn(
            f"emulate: pixel (x={x}, y={y}) needs {most} events between the frames at {previous} and "
            f"{previous + dt_us} us (more than {MANY_EVENTS}): the video changes faster than its frame "
            "rate resolves, and events within an interval are interpolated; upsample the video in time "
            "first, e.g. ffmpeg -i in.mp4 -vf minterpolate=fps=1000 out.mp4 (or a learned interpolator "
            "such as RIFE or Super SloMo), or raise the thresholds (warned once per emulator)",
            UndersampledVideoWarning,
            stacklevel=4,
        )


def _require(name: str, value: object, positive: bool) -> None:
    """Raise :class:`OptionError` unless ``value`` is a finite number, > 0 (``positive``) or >= 0."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not number or (value <= 0 if positive else value < 0):  # type: ignore[operator]
        raise OptionError(f"emulate: {name} must be a number {'> 0' if positive else '>= 0'}, got {value!r}")


def emulate(
    frames: object,
    timestamps_us: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    *,
    fps: float | None = None,
    chunk_frames: int = 64,
    **options: Any,
) -> Events:
    """Video to DVS events: ON/OFF events in microseconds, as a camera's pixels would fire them.

    The frames go through an :class:`Emulator` ``chunk_frames`` at a time, so a video file is
    never held whole; the result is one :class:`~eventcode.Events` stream.

    Parameters
    ----------
    frames : array, tensor or path
        ``[T, H, W]`` grey or ``[T, H, W, 3]`` RGB frames, uint8 0-255 or float 0-1, numpy or
        torch; or a video file or a folder of images (the ``video`` extra).
    timestamps_us : sequence of int, optional
        Each frame's time in microseconds, increasing. Default: from ``fps``; a video file's own
        frame times when ``fps`` is not given either.
    fps : float, optional
        Frame rate, where the frames carry no times (or to override a file's).
    chunk_frames : int
        Frames converted and emulated at a time (bounds memory).
    **options
        The pixel model's options, each described with its formula in :class:`Emulator`:
        ``pos_threshold=0.2``, ``neg_threshold=0.2``, ``sigma_threshold=0.03``,
        ``cutoff_hz=0``, ``leak_rate_hz=0.1``, ``shot_noise_rate_hz=0``,
        ``refractory_period_us=0``, ``leak_jitter_fraction=0.1``,
        ``noise_rate_cov_decades=0.1``, ``linear_cutoff=20``, ``log_eps=0``,
        ``timing="crossing"``, ``seed=None``, ``device=None`` (the defaults of v2e's
        ``EventEmulator``; the seed makes the events reproducible on one device).

    Returns
    -------
    Events
        One sample, ``sensor_size = (W, H, 2)``, ``t`` in microseconds, sorted by time.

    Raises
    ------
    EncodingError
        Bad frames or timestamps (:meth:`Emulator.feed`), or a file that is no video.
    OptionError
        A bad option value (:class:`Emulator`).
    DependencyError
        A path without the ``video`` extra installed.

    Examples
    --------
    A bright square moving right over a dark background, 20 frames at 100 fps:

    >>> import torch
    >>> from eventcode.dvs import emulate
    >>> video = torch.full((20, 16, 32), 30, dtype=torch.uint8)
    >>> for i in range(20):
    ...     video[i, 4:12, i : i + 8] = 200
    >>> events = emulate(video, fps=100, seed=0, leak_rate_hz=0)
    >>> events.sensor_size, events.time_unit, bool((events.t.diff() >= 0).all())
    ((32, 16, 2), 'us', True)
    >>> x, on = events.x.float(), events.p
    >>> bool(x[on].mean() > x[~on].mean())  # ON at the leading (right) edge, OFF at the trailing one
    True
    """
    if chunk_frames < 1:
        raise OptionError(f"chunk_frames must be 1 or more, got {chunk_frames}")
    emulator = Emulator(fps=fps, **options)
    intervals: list[keys.Interval] = []
    if isinstance(frames, (str, os.PathLike)):
        if timestamps_us is not None:
            raise OptionError("emulate: a video file gives its own times; pass fps= to override them")
        for chunk, stamps in video.read(frames, chunk_frames, fps):
            intervals += emulator._intervals(*emulator._checked(chunk, stamps))
    else:
        tensor = video.as_frames(frames)
        given = None if timestamps_us is None else video.timestamps(len(tensor), timestamps_us, fps, 0, None)
        for a in range(0, len(tensor), chunk_frames):
            part = tensor[a : a + chunk_frames]
            intervals += emulator._intervals(
                *emulator._checked(part, None if given is None else given[a : a + chunk_frames])
            )
    return keys.stream(intervals, emulator._size, emulator.device)
