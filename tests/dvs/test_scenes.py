"""The synthetic videos against their geometry: where the edge is, which way the bar points, how
the grating moves."""

from __future__ import annotations

import math

import numpy as np
import torch

from eventcode.dvs import scenes


def test_moving_edge_crosses_half_way_where_its_speed_puts_it() -> None:
    frames, stamps = scenes.moving_edge(
        width=100, height=4, frames=11, fps=10, speed_px_s=50, dark=0, bright=250
    )
    assert frames.shape == (11, 4, 100)
    assert stamps.tolist() == [i * 100_000 for i in range(11)]
    for i, row in enumerate(frames[:, 0].double()):
        edge = 10 + 50 * i / 10  # 0.1 * width, then speed * t
        covered = float(row.sum()) / 250  # pixels' worth left of the edge
        assert abs(covered - edge) < 0.01
    assert bool((frames == frames[:, :1]).all())  # every row alike


def test_moving_edge_default_speed_crosses_80_percent_of_the_width() -> None:
    frames, _ = scenes.moving_edge(width=200, height=2, frames=21, fps=20, dark=0, bright=100)
    covered = frames[:, 0].double().sum(1) / 100
    assert abs(float(covered[0]) - 20) < 0.01
    assert abs(float(covered[-1]) - 180) < 0.01


def test_rotating_bar_turns_at_its_rate() -> None:
    frames, _ = scenes.rotating_bar(width=101, height=101, frames=4, fps=1, turn_deg_s=30, bar_width=3)
    for i, frame in enumerate(frames.double()):
        weights = frame - frame.min()
        y, x = torch.meshgrid(torch.arange(101.0) - 50, torch.arange(101.0) - 50, indexing="ij")
        xx, yy, xy = ((weights * v).sum() for v in (x * x, y * y, x * y))
        angle = 0.5 * math.atan2(2 * float(xy), float(xx - yy))  # the bar's principal axis
        assert abs(math.degrees(angle) - 30 * i) < 0.5


def test_grating_drifts_by_its_speed() -> None:
    frames, stamps = scenes.grating(
        width=96, height=8, frames=3, fps=4, period_px=24, speed_px_s=24, turn_deg_s=0, seed=3
    )
    assert frames.dtype == torch.uint8
    assert stamps.tolist() == [0, 250_000, 500_000]
    row = frames[:, 4].double().numpy()
    shift = [int(np.argmax(np.correlate(np.tile(row[0], 2), row[i], "valid")[:24])) for i in (1, 2)]
    assert shift == [24 - 6, 24 - 12]  # 6 px a frame along +x: the pattern moves right
