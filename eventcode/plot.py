"""Pictures of events with matplotlib (the ``plot`` extra): rasters, accumulated frames, rates, animations.

Each function draws into a new figure (or the ``ax`` given) and returns the matplotlib objects;
nothing is shown unless you ask (``plt.show()``). ON events are drawn in red, OFF in blue.
The raster and the animation follow snnTorch's ``spikeplot.raster`` and ``spikeplot.animator``
(neuron index against time; one image per time step) but read events directly.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import torch
>>> import eventcode
>>> from eventcode import plot
>>> events = eventcode.latency(torch.rand(2, 1, 8, 8), num_steps=20, normalize=True)
>>> figure, ax = plot.raster(events, sample=0)
>>> ax.get_xlabel(), ax.get_ylabel()
('time step', 'neuron')
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from eventcode import address
from eventcode.errors import EventsError
from eventcode.events import Events
from eventcode.frames import to_frames

ON, OFF = "tab:red", "tab:blue"


def pyplot() -> Any:
    """matplotlib.pyplot, or an ImportError naming the extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("eventcode.plot needs matplotlib: pip install 'eventcode[plot]'") from None
    return plt


def _animation() -> Any:
    pyplot()
    import matplotlib.animation

    return matplotlib.animation


def _axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    figure, ax = pyplot().subplots(figsize=figsize)
    return figure, ax


def _time_label(events: Events) -> str:
    return "time step" if events.time_unit == "step" else "time (us)"


def raster(
    events: Events, sample: int | None = None, ax: Any = None, size: float = 6.0, figsize: tuple = (8, 4)
) -> tuple[Any, Any]:
    """Neuron index against time, one dot per event (snnTorch's ``spikeplot.raster`` from events).

    The neuron index is the row-major flat address ``(c * H + y) * W + x``. With several samples
    (``sample=None``), each sample gets its own band of neuron indices, one above the other.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from eventcode import Events, plot
    >>> events = Events(t=[0, 1, 1], x=[2, 0, 1], y=[0, 0, 0], p=[1, 0, 1], shape=(3,), num_steps=2)
    >>> figure, ax = plot.raster(events)
    >>> len(ax.collections)  # ON and OFF
    2
    """
    chosen = events if sample is None else events[sample]
    neuron = address.flat(chosen.x, chosen.y, chosen.c, chosen.shape).cpu()
    neuron += chosen.sample_ids().cpu() * int(np.prod(chosen.shape))
    t, on = chosen.t.cpu().numpy(), chosen.p.cpu().numpy()
    figure, ax = _axes(ax, figsize)
    for mask, colour, label in ((on, ON, "ON"), (~on, OFF, "OFF")):
        ax.scatter(t[mask], neuron.numpy()[mask], s=size, c=colour, marker="|", linewidths=1.0, label=label)
    ax.set_xlabel(_time_label(events))
    ax.set_ylabel("neuron")
    if chosen.time_unit == "step":
        ax.set_xlim(-0.5, chosen.num_steps - 0.5)
    ax.set_ylim(-0.5, chosen.num_samples * int(np.prod(chosen.shape)) - 0.5)
    return figure, ax


def frame(events: Events, sample: int = 0, ax: Any = None, figsize: tuple = (4, 4)) -> tuple[Any, Any]:
    """All of one sample's events accumulated into one image: ON counts red, OFF counts blue.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from eventcode import Events, plot
    >>> events = Events(t=[0, 5], x=[1, 0], y=[0, 1], p=[1, 0], sensor_size=(2, 2))
    >>> figure, ax = plot.frame(events)
    >>> ax.images[0].get_array().shape
    (2, 2, 3)
    """
    figure, ax = _axes(ax, figsize)
    ax.imshow(_colour(to_frames(events[sample], n_event_bins=1))[0], interpolation="nearest")
    ax.set_axis_off()
    return figure, ax


def histogram(
    events: Events, sample: int | None = None, bins: int = 100, ax: Any = None, figsize: tuple = (8, 3)
) -> tuple[Any, Any]:
    """Events per time bin, ON and OFF, over the whole time range (all samples by default).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from eventcode import Events, plot
    >>> figure, ax = plot.histogram(Events.from_dense(torch.ones(10, 1, 4)), bins=10)
    >>> [round(v) for v in ax.lines[0].get_ydata()]
    [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    """
    chosen = events if sample is None else events[sample]
    t, on = chosen.t.cpu().numpy(), chosen.p.cpu().numpy()
    if chosen.time_unit == "step":
        edges = np.linspace(0, chosen.num_steps, min(bins, chosen.num_steps) + 1)
    else:
        edges = np.linspace(t.min(initial=0), t.max(initial=0) + 1, bins + 1)
    figure, ax = _axes(ax, figsize)
    centres = (edges[1:] + edges[:-1]) / 2
    for mask, colour, label in ((on, ON, "ON"), (~on, OFF, "OFF")):
        ax.plot(centres, np.histogram(t[mask], edges)[0], color=colour, label=label, drawstyle="steps-mid")
    ax.set_xlabel(_time_label(events))
    ax.set_ylabel("events per bin")
    ax.legend()
    return figure, ax


def animate(
    events: Events,
    sample: int = 0,
    frames: int | None = None,
    interval: int = 40,
    ax: Any = None,
    figsize: tuple = (4, 4),
) -> Any:
    """One image per time step (or per ``frames`` equal time bins of a microsecond stream).

    snnTorch's ``spikeplot.animator`` from events: ON red, OFF blue. Save the result with
    :func:`save` (GIF needs only Pillow; MP4 needs ffmpeg).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from eventcode import Events, plot
    >>> movie = plot.animate(Events.from_dense(torch.ones(5, 1, 1, 3, 3)))
    >>> len(list(movie.new_frame_seq()))  # one image per step
    5
    """
    one = events[sample]
    if one.time_unit == "us":
        images = _colour(to_frames(one, n_time_bins=frames or 100))
    else:
        images = _colour(to_frames(one, time_window=1))
    figure, ax = _axes(ax, figsize)
    ax.set_axis_off()
    picture = ax.imshow(images[0] if len(images) else np.zeros((1, 1, 3)), interpolation="nearest")

    def show(i: int) -> tuple[Any]:
        picture.set_data(images[i])
        return (picture,)

    return _animation().FuncAnimation(figure, show, frames=len(images), interval=interval, blit=True)


def save(animation: Any, path: str | os.PathLike[str], fps: int = 25) -> None:
    """Save an animation as ``.gif`` (Pillow) or ``.mp4`` (ffmpeg; a clear error without it)."""
    suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
    animation_module = _animation()
    if suffix == "gif":
        animation.save(path, writer=animation_module.PillowWriter(fps=fps))
    elif suffix == "mp4":
        if not animation_module.FFMpegWriter.isAvailable():
            raise OSError("writing MP4 needs ffmpeg on the PATH; install it, or save a .gif instead")
        animation.save(path, writer=animation_module.FFMpegWriter(fps=fps))
    else:
        raise EventsError(f"animations are saved as .gif or .mp4, not .{suffix}")


def _colour(frames: torch.Tensor) -> np.ndarray:
    """``[T, H, W, 3]`` RGB of ``[T, 2, H, W]`` OFF/ON counts: ON red, OFF blue, scaled to the largest."""
    counts = frames.cpu().numpy()
    scale = max(1, int(counts.max(initial=0)))
    images = np.zeros((*counts.shape[:1], *counts.shape[2:], 3))
    images[..., 0] = counts[:, 1] / scale
    images[..., 2] = counts[:, 0] / scale
    return images
