"""Synthetic videos for the DVS emulator: a moving edge, a rotating bar and a moving, rotating
textured grating, each drawn analytically (anti-aliased over one pixel) as uint8 ``[T, H, W]``
frames with their timestamps in microseconds.

The grating is the benchmark's video (``benchmarks/dvs.py``): every pixel changes every frame,
as in a camera panning over a textured scene.

Examples
--------
>>> from eventcode.dvs import scenes
>>> frames, stamps = scenes.rotating_bar(width=32, height=24, frames=3, fps=10)
>>> frames.shape, frames.dtype, stamps.tolist()
(torch.Size([3, 24, 32]), torch.uint8, [0, 100000, 200000])
"""

from __future__ import annotations

import math

import torch


def moving_edge(
    width: int = 346,
    height: int = 260,
    frames: int = 60,
    fps: float = 30.0,
    speed_px_s: float | None = None,
    dark: int = 40,
    bright: int = 200,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A vertical edge, ``bright`` on its left and ``dark`` on its right, moving right across the
    frame at ``speed_px_s`` (default: across the middle 80% of the width in the video's length).

    Returns
    -------
    frames : torch.Tensor
        uint8 ``[frames, height, width]``.
    timestamps_us : torch.Tensor
        int64, frame ``i`` at ``round(i * 1e6 / fps)``.

    Examples
    --------
    >>> from eventcode.dvs import scenes
    >>> frames, _ = scenes.moving_edge(width=8, height=2, frames=2, fps=1, speed_px_s=2)
    >>> frames[:, 0].tolist()
    [[168, 40, 40, 40, 40, 40, 40, 40], [200, 200, 168, 40, 40, 40, 40, 40]]
    """
    times = _times(frames, fps)
    speed = 0.8 * width * fps / max(frames - 1, 1) if speed_px_s is None else speed_px_s
    x = torch.arange(width, dtype=torch.float64) + 0.5
    edge = 0.1 * width + speed * times[:, None] * 1e-6  # [T, 1]
    covered = (edge - x + 0.5).clamp(0, 1)  # the part of each pixel left of the edge
    column = dark + (bright - dark) * covered
    return _uint8(column[:, None, :].expand(frames, height, width)), times


def rotating_bar(
    width: int = 346,
    height: int = 260,
    frames: int = 60,
    fps: float = 30.0,
    turn_deg_s: float = 90.0,
    bar_width: float = 8.0,
    dark: int = 30,
    bright: int = 220,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A bright bar ``bar_width`` pixels wide through the frame's centre, as long as 80% of the
    frame's height, turning at ``turn_deg_s`` degrees per second on a ``dark`` background.

    Examples
    --------
    >>> from eventcode.dvs import scenes
    >>> frames, _ = scenes.rotating_bar(width=9, height=9, frames=1, bar_width=1)
    >>> frames[0, 4].tolist()  # the bar starts horizontal
    [49, 220, 220, 220, 220, 220, 220, 220, 49]
    """
    times = _times(frames, fps)
    y, x = _centred(width, height)
    angle = torch.deg2rad(turn_deg_s * times * 1e-6)[:, None, None]
    across = (-torch.sin(angle) * x + torch.cos(angle) * y).abs()  # distance from the bar's axis
    along = (torch.cos(angle) * x + torch.sin(angle) * y).abs()
    inside = (bar_width / 2 - across + 0.5).clamp(0, 1) * (0.4 * height - along + 0.5).clamp(0, 1)
    return _uint8(dark + (bright - dark) * inside), times


def grating(
    width: int = 346,
    height: int = 260,
    frames: int = 60,
    fps: float = 30.0,
    period_px: float = 24.0,
    speed_px_s: float = 60.0,
    turn_deg_s: float = 30.0,
    seed: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A sinusoidal grating of ``period_px`` drifting across its stripes at ``speed_px_s`` while
    turning at ``turn_deg_s`` about the centre, its contrast modulated by a smooth random texture
    (bicubic from a grid of one value per 8x8 pixels, fixed by ``seed``), 0-255 (the benchmark's
    video: ``benchmarks/dvs.py``).

    Examples
    --------
    >>> from eventcode.dvs import scenes
    >>> frames, stamps = scenes.grating(frames=60, fps=30)
    >>> frames.shape, int(frames.min()) < 30, int(frames.max()) > 225, int(stamps[-1])
    (torch.Size([60, 260, 346]), True, True, 1966667)
    """
    times = _times(frames, fps)
    coarse = torch.rand(1, 1, height // 8 + 2, width // 8 + 2, generator=torch.Generator().manual_seed(seed))
    texture = torch.nn.functional.interpolate(coarse.double(), size=(height, width), mode="bicubic")[0, 0]
    contrast = 0.5 + 0.5 * texture.clamp(0, 1)
    y, x = _centred(width, height)
    seconds = times * 1e-6
    angle = torch.deg2rad(turn_deg_s * seconds)[:, None, None]
    across = torch.cos(angle) * x + torch.sin(angle) * y - (speed_px_s * seconds)[:, None, None]
    return _uint8(127.5 + 127.5 * contrast * torch.sin(across * (2 * math.pi / period_px))), times


def _times(frames: int, fps: float) -> torch.Tensor:
    return torch.round(torch.arange(frames, dtype=torch.float64) * (1e6 / fps)).to(torch.int64)


def _centred(width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres' ``(y, x)`` from the frame's centre, ``[1, H, 1]`` and ``[1, 1, W]``."""
    y = torch.arange(height, dtype=torch.float64) + 0.5 - height / 2
    x = torch.arange(width, dtype=torch.float64) + 0.5 - width / 2
    return y[None, :, None], x[None, None, :]


def _uint8(values: torch.Tensor) -> torch.Tensor:
    return values.round().clamp(0, 255).to(torch.uint8).contiguous()
