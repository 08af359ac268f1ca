"""Tests of eventcode/plot.py: the pictures show the data, read by their pixels, titles and axes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import eventcode
import exporters
from eventcode import Events
from eventcode.errors import EventsError

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is in the plot extra")
matplotlib.use("Agg")
pyplot = pytest.importorskip("matplotlib.pyplot")
Image = pytest.importorskip("PIL.Image")
from matplotlib.animation import AbstractMovieWriter  # noqa: E402 - after choosing the headless backend

from eventcode import plot  # noqa: E402

VISIBLE = 0.1  # a colour channel this far (of 1) from the background is visible (25 of 255)


@pytest.fixture(scope="module")
def recording(shared: Path) -> Events:
    return exporters.read(shared / "data/real/aedat4/tonic_sample.aedat4")


@pytest.fixture(scope="module")
def truth(shared: Path) -> dict:
    files = json.loads((shared / "data/real/manifest.json").read_text())["files"]
    return next(f for f in files if f["path"] == "aedat4/tonic_sample.aedat4")["summary"]


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return eventcode.datasets.load_mnist()[0][:3, None].float() / 255


@pytest.fixture(scope="module")
def digits(images: torch.Tensor) -> Events:
    return eventcode.rate(images, num_steps=30, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def moving(images: torch.Tensor) -> Events:
    """Delta code of digits moving right one pixel a step: ON at the leading edge, OFF behind."""
    video = torch.stack([torch.roll(images, shifts=k, dims=-1) for k in range(8)])
    return eventcode.delta(video, threshold=0.1, off_spike=True)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    pyplot.close("all")


def pixel_counts(events: Events, keep: np.ndarray | slice = slice(None)) -> np.ndarray:
    """``[2, H, W]`` OFF and ON events per pixel of one sample (those where ``keep``), counted with numpy."""
    height, width = events.shape[-2:]
    where = (events.p.numpy().astype(int) * height + events.y.numpy()) * width + events.x.numpy()
    return np.bincount(where[keep], minlength=2 * height * width).reshape(2, height, width)


def visible(image: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pixels whose colour differs visibly from that of the pixels without events (one colour)."""
    empty = image[counts.sum(0) == 0]
    background = np.unique(empty.reshape(-1, empty.shape[-1]), axis=0)
    assert len(background) == 1
    return np.abs(image - background[0]).max(axis=-1) > VISIBLE


def colour_bar_labels(ax) -> list[str]:
    return [child.get_ylabel() for child in ax.figure.axes + ax.child_axes if child is not ax]


def polarity_key(ax) -> str:
    """The legend's texts or the colour bars' labels."""
    legend = ax.get_legend()
    texts = [text.get_text() for text in legend.get_texts()] if legend else []
    return " ".join(texts + colour_bar_labels(ax))


class Recorder(AbstractMovieWriter):
    """A movie writer that keeps each frame's image data and title instead of writing a file."""

    def __init__(self, ax) -> None:
        super().__init__()
        self.ax, self.frames = ax, []

    def setup(self, fig, outfile, dpi=None) -> None:  # abstract in matplotlib: must be defined
        super().setup(fig, outfile, dpi)

    def grab_frame(self, **savefig_kwargs) -> None:
        self.frames.append((np.array(self.ax.images[0].get_array()), self.ax.get_title()))

    def finish(self) -> None:
        pass


def recorded(events: Events, tmp_path: Path, **options) -> list[tuple[np.ndarray, str]]:
    """Each frame's image and title of ``plot.animate(events, **options)`` in its own figure."""
    movie = plot.animate(events, **options)
    recorder = Recorder(pyplot.gca())
    movie.save(tmp_path / "unused.gif", writer=recorder)
    return recorder.frames


# ---------------------------------------------------------------------- frame
def test_frame_of_the_real_recording_shows_the_scene(recording: Events) -> None:
    counts = pixel_counts(recording)
    assert counts.max() > 100 * np.median(counts[counts > 0])  # a few hot pixels
    _, ax = plot.frame(recording)
    image = ax.images[0].get_array()
    assert image.shape == (240, 320, 3)
    shown = visible(image, counts)
    lit = counts.sum(0) > 0
    assert shown[lit].mean() > 0.99  # every pixel with events shows (was 0.002: scaled to 651 events)
    assert shown.mean() > 0.25  # and they are 27% of the sensor
    assert not shown[~lit].any()
    on_only, off_only = (counts[1] > 0) & (counts[0] == 0), (counts[0] > 0) & (counts[1] == 0)
    assert (image[on_only, 0] > image[on_only, 2]).all()  # ON red
    assert (image[off_only, 2] > image[off_only, 0]).all()  # OFF blue
    saturated = on_only & (counts[1] >= np.percentile(counts[1][counts[1] > 0], 99) + 1)
    assert 0 < saturated.sum() < 0.01 * on_only.sum()
    assert len(np.unique(np.asarray(image[saturated]), axis=0)) == 1  # the busiest ones clip to one red
    assert set(colour_bar_labels(ax)) == {"ON events\nper pixel", "OFF events\nper pixel"}


def test_latency_frame_colours_each_pixel_by_its_spike_time(images: torch.Tensor) -> None:
    latency = eventcode.latency(images, num_steps=30, normalize=True, linear=True)
    dense = latency.dense()[:, 1, 0]  # [T, 28, 28], one spike per pixel
    assert (dense.sum(0) == 1).all()  # so a count image is one solid colour
    _, ax = plot.frame(latency, sample=1)  # auto: no pixel fires twice
    times = ax.images[0].get_array()
    assert np.array_equal(times, dense.argmax(0).numpy())  # the step of each pixel's spike
    colours = ax.images[0].to_rgba(times)
    assert len(np.unique(colours.reshape(-1, 4), axis=0)) > 20  # not a solid square
    assert colour_bar_labels(ax) == ["spike time (step)"]
    _, ax = plot.frame(latency, sample=1, mode="count")
    assert len(np.unique(ax.images[0].get_array().reshape(-1, 3), axis=0)) == 1  # the solid square


def test_frame_mode_auto_counts_where_pixels_fire_again(digits: Events, recording: Events) -> None:
    for events in (digits, recording):
        _, ax = plot.frame(events, mode="auto")
        image = ax.images[0].get_array()
        assert image.ndim == 3  # RGB counts
        assert visible(image, pixel_counts(events[0]))[pixel_counts(events[0]).sum(0) > 0].all()
    stream = Events(t=[3, 8], x=[0, 1], y=[1, 1], p=[1, 0], sensor_size=(2, 2))
    _, ax = plot.frame(stream, mode="time")
    assert ax.images[0].get_array().tolist() == [[None, None], [0.0, 5.0]]
    assert colour_bar_labels(ax) == ["first event time since first event (µs)"]
    with pytest.raises(EventsError, match="'auto', 'count'"):
        plot.frame(stream, mode="counts")
    with pytest.raises(EventsError, match=r"percentile must be in \(0, 100\]"):
        plot.frame(stream, mode="count", percentile=0)


# ---------------------------------------------------------------------- histogram
def test_histogram_of_the_real_recording_starts_at_its_first_event(recording: Events, truth: dict) -> None:
    _, ax = plot.histogram(recording, n_time_bins=50)
    on, off = (patch.get_data() for patch in ax.patches)
    assert on.edges[0] == 0
    assert np.array_equal(on.edges, off.edges)
    duration_ms = (truth["t_last_us"] - truth["t_first_us"]) / 1000
    assert on.edges[-1] == pytest.approx(duration_ms)
    assert ax.get_xlabel() == "time since first event (ms)"
    assert ax.get_ylabel() == f"events per {duration_ms / 50:.3g} ms"
    assert (on.values.sum(), off.values.sum()) == (truth["on"], truth["off"])
    total = on.values + off.values
    assert (total > 0).all()  # spread over every bin
    assert total.max() < 0.05 * truth["events"]


def test_step_histogram_bins_whole_steps(digits: Events) -> None:
    _, ax = plot.histogram(digits, n_time_bins=10)
    on, off = (patch.get_data() for patch in ax.patches)
    assert on.edges.tolist() == list(range(0, 31, 3))
    assert np.array_equal(on.values, np.bincount(digits.t.numpy() // 3, minlength=10))
    assert off.values.sum() == 0
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (step)", "events per 3 steps")


# ---------------------------------------------------------------------- every picture
def test_every_picture_has_a_title_labelled_axes_and_a_polarity_key(
    tmp_path: Path, digits: Events, moving: Events, recording: Events
) -> None:
    pictures = {
        "raster": plot.raster(digits)[1],
        "raster of one sample": plot.raster(digits, sample=2)[1],
        "frame": plot.frame(recording)[1],
        "histogram": plot.histogram(recording)[1],
        "step histogram": plot.histogram(digits)[1],
    }
    _, pictures["animation"] = pyplot.subplots(layout="constrained")
    plot.save(plot.animate(moving, ax=pictures["animation"]), tmp_path / "digit.gif", fps=1)
    for name, ax in pictures.items():
        title = ax.get_title()
        assert re.search(r"[\d,]+ events \([\d,]+ ON, [\d,]+ OFF\)", title), name
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            assert re.search(r"\b(steps?|ms|pixel|address)\b", label), (name, label)
        key = polarity_key(ax)
        assert "ON" in key, name
        assert "OFF" in key, name
        ax.figure.canvas.draw()
        drawn = ax.figure.get_tightbbox()
        width, height = ax.figure.get_size_inches()
        assert min(drawn.x0, drawn.y0) >= -0.01, name  # nothing cut off (the labels were)
        assert drawn.x1 <= width + 0.01, name
        assert drawn.y1 <= height + 0.01, name
    assert "sample 2" in pictures["raster of one sample"].get_title()
    assert pictures["raster"].get_ylabel() == "neuron index (sample × 784 + flat address)"
    assert plot.frame(digits, title="my digit")[1].get_title() == "my digit"


# ---------------------------------------------------------------------- raster
def test_raster_takes_dense_spikes_as_snntorch_does(moving: Events) -> None:
    splt = pytest.importorskip("snntorch.spikeplot")
    dense = moving.dense()  # [T, B, 1, 28, 28] of -1, 0, 1

    def dots(ax) -> list[set[tuple[float, float]]]:
        return [set(map(tuple, collection.get_offsets().tolist())) for collection in ax.collections[:2]]

    ours = dots(plot.raster(moving)[1])
    assert [len(d) for d in ours] == [int((dense > 0).sum()), int((dense < 0).sum())]
    assert dots(plot.raster(dense)[1]) == ours  # the same dots, ON and OFF
    assert dots(plot.raster(dense.numpy())[1]) == ours
    _, ax = pyplot.subplots()
    theirs = splt.raster(dense.reshape(len(dense), -1), ax)  # snnTorch needs [T, N]
    assert set(map(tuple, theirs.get_offsets().tolist())) == ours[0] | ours[1]
    first = moving[0]
    row = first.y == 9
    t, x, p = first.t[row].tolist(), first.x[row].tolist(), first.p[row].tolist()
    expected = [
        {(a, b) for a, b, c in zip(t, x, p, strict=True) if c == polarity} for polarity in (True, False)
    ]
    assert dots(plot.raster(dense[:, 0, 0, 9])[1]) == expected  # [T, N]: row 9 of the first digit
    single = plot.raster(torch.tensor([0.0, 1.0, 0.0, -1.0]))[1]  # [T]: one neuron
    assert dots(single) == [{(1.0, 0.0)}, {(3.0, 0.0)}]
    with pytest.raises(EventsError, match=r"slice dense spikes yourself"):
        plot.raster(dense, sample=0)


# ---------------------------------------------------------------------- animation
def test_animation_saves_a_gif_with_the_time_of_each_frame(tmp_path: Path, moving: Events) -> None:
    movie = plot.animate(moving, sample=2)
    figure, ax = pyplot.gcf(), pyplot.gca()
    plot.save(movie, tmp_path / "digit.gif", fps=10)
    top = figure.get_size_inches()[1] * figure.dpi - ax.get_window_extent().y1  # pixel rows above the image
    with Image.open(tmp_path / "digit.gif") as gif:
        assert gif.n_frames == 8
        titles = set()
        for i in range(gif.n_frames):
            gif.seek(i)
            titles.add(np.asarray(gif.convert("RGB"))[: int(top)].tobytes())
    assert len(titles) == 8  # each frame writes its own time above the image
    stream = Events(t=[0, 400, 999], x=[0, 1, 2], y=[0, 1, 2], p=[1, 0, 1], sensor_size=(3, 3))
    movie = plot.animate(stream, n_time_bins=4)
    assert len(list(movie.new_frame_seq())) == 4  # microsecond bins
    with pytest.raises(EventsError, match=r"\.gif or \.mp4"):
        plot.save(movie, tmp_path / "digit.avi")
    plot.save(movie, tmp_path / "stream.gif")


def test_animation_of_the_real_recording_keeps_one_robust_scale(tmp_path: Path, recording: Events) -> None:
    frames = recorded(recording, tmp_path, n_time_bins=5)
    t = recording.t.numpy() - int(recording.t[0])
    span = int(t[-1]) + 1  # five equal bins of [first event, last event + 1 µs)
    counts = np.stack([pixel_counts(recording, t * 5 // span == i) for i in range(5)])
    duration_ms = span / 1000
    for i, (image, title) in enumerate(frames):
        lit = counts[i].sum(0) > 0
        assert visible(image, counts[i])[lit].mean() > 0.99  # every pixel with events shows
        start, end = map(float, re.search(r"t = ([\d.]+)–([\d.]+) ms since first event$", title).groups())
        assert (start, end) == (round(i * duration_ms / 5, 1), round((i + 1) * duration_ms / 5, 1))
    # one scale for all frames: the same counts give the same colour in every frame
    pairs = np.concatenate([c.reshape(2, -1).T for c in counts])
    colours = np.concatenate([image.reshape(-1, 3) for image, _ in frames])
    _, group = np.unique(pairs, axis=0, return_inverse=True)
    for g in np.unique(group):
        assert len(np.unique(colours[group.ravel() == g], axis=0)) == 1


def test_animation_of_steps_names_each_step(tmp_path: Path, moving: Events) -> None:
    frames = recorded(moving, tmp_path, sample=1)
    assert [title.splitlines()[-1] for _, title in frames] == [f"step {i} / 8" for i in range(8)]


# ---------------------------------------------------------------------- channels
def test_images_need_one_channel() -> None:
    events = Events.from_dense(torch.ones(2, 1, 2, 3, 3))
    with pytest.raises(EventsError, match="one channel"):
        plot.frame(events)
    with pytest.raises(EventsError, match="one channel"):
        plot.animate(events)
    _, ax = plot.raster(events)  # the raster flattens channels into neuron indices
    neurons = np.concatenate([collection.get_offsets()[:, 1] for collection in ax.collections[:2]])
    assert sorted(set(neurons.tolist())) == list(range(18))  # both channels of 3 x 3
    assert len(neurons) == len(events)


def test_audio_samples_and_one_polarity_sensors_draw_in_the_on_ink() -> None:
    audio = Events(t=[0, 5, 9], x=[1, 0, 690], y=[0, 0, 0], p=[1, 1, 1], shape=(700,), polarities=1)
    one = Events(t=[0, 5, 9, 9], x=[1, 0, 2, 2], y=[0, 1, 0, 0], p=[0] * 4, sensor_size=(3, 2, 1))
    for events, size in ((audio, (1, 700)), (one, (2, 3))):
        _, ax = plot.frame(events, mode="count")
        image = ax.get_images()[0].get_array()
        assert image.shape[:2] == size
        red = (image[..., 0] > 0.5) & (image[..., 2] < 0.9)  # ON ink where the events fell
        assert int(red.sum()) == len(torch.unique(events.y * size[1] + events.x))
        assert ax.get_title().endswith(f"{len(events)} events in {9} µs")
        animation = plot.animate(events, n_time_bins=3)
        assert len(list(animation.rgba_frames())) == 3
        assert plot.pyplot().gca().get_images()[0].get_array().shape[:2] == size
        plot.pyplot().close("all")
