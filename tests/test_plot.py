"""Tests of eventcode/plot.py: the pictures have the right size and are not blank."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

import eventcode
from eventcode import Events
from eventcode.errors import EventsError

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is in the plot extra")
matplotlib.use("Agg")
Image = pytest.importorskip("PIL.Image")
from eventcode import plot  # noqa: E402 - after choosing the headless backend


def rendered(figure) -> np.ndarray:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    matplotlib.pyplot.close(figure)
    return np.asarray(Image.open(buffer).convert("RGB"))


@pytest.fixture(scope="module")
def digits() -> Events:
    images = eventcode.datasets.load_mnist()[0][:3, None].float() / 255
    return eventcode.rate(images, num_steps=30, generator=torch.Generator().manual_seed(0))


def test_raster_frame_and_histogram_draw_something(digits: Events) -> None:
    for figure, _ in (
        plot.raster(digits, sample=0),
        plot.raster(digits),
        plot.frame(digits),
        plot.histogram(digits),
    ):
        width, height = figure.get_size_inches() * 50
        pixels = rendered(figure)
        assert pixels.shape[:2] == (round(height), round(width))
        assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # not blank
    figure, ax = plot.frame(digits, sample=1)
    image = ax.images[0].get_array()
    assert image.shape == (28, 28, 3)
    assert image[..., 0].max() == 1.0  # ON counts scaled to full red


def test_animation_saves_a_gif_with_one_frame_per_step(tmp_path: Path, digits: Events) -> None:
    movie = plot.animate(digits, sample=2)
    plot.save(movie, tmp_path / "digit.gif", fps=10)
    with Image.open(tmp_path / "digit.gif") as gif:
        assert gif.n_frames == 30
        assert gif.size[0] > 50
    stream = Events(t=[0, 400, 999], x=[0, 1, 2], y=[0, 1, 2], p=[1, 0, 1], sensor_size=(3, 3))
    assert len(list(plot.animate(stream, frames=4).new_frame_seq())) == 4  # microsecond bins
    with pytest.raises(EventsError, match=r"\.gif or \.mp4"):
        plot.save(movie, tmp_path / "digit.avi")


def test_images_need_one_channel() -> None:
    events = Events.from_dense(torch.ones(2, 1, 2, 3, 3))
    with pytest.raises(EventsError, match="one channel"):
        plot.frame(events)
    figure, _ = plot.raster(events)  # the raster flattens channels into neuron indices
    assert rendered(figure).size
