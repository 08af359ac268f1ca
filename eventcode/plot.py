"""Pictures of events with matplotlib (the ``plot`` extra): rasters, accumulated frames, rates, animations.

Each function draws into a new figure (or the ``ax`` given) and returns the matplotlib objects;
nothing is shown unless you ask (``plt.show()``). New figures use constrained layout, so titles,
axis labels and colour bars are never cut off. Every picture has a title (``title=``; by default
what is shown, the sample and its ON and OFF event counts), axis labels with units and a legend
or colour bars naming ON (red) and OFF (blue).

Time axes start at the first event: microsecond streams (absolute Unix times in camera files)
are shown as time since their first event, in µs, ms or s by duration; step-time streams keep
their steps ``0 .. num_steps``.

Images of counts blend two inks on white paper: ON counts red, OFF counts blue, a pixel with
both turns dark. Each ink is scaled to the ``percentile`` (default 99th) of its nonzero counts,
so that one busy pixel does not black out the rest; counts above it saturate, and each ink has a
colour bar. A first-spike-time image (``frame(mode="time")``) colours each pixel by the time of
its first event instead, which is what a latency code carries.

The raster and the animation follow snnTorch's ``spikeplot.raster`` and ``spikeplot.animator``
(neuron index against time; one image per time step); the raster also takes snnTorch's dense
spike tensors.

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
('time (step)', 'neuron index (flat address)')
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import torch

from eventcode import address
from eventcode.errors import DependencyError, EventsError
from eventcode.events import Events
from eventcode.frames import to_frames

ON, OFF = "tab:red", "tab:blue"
TIME_COLOURS = "viridis"
"""Colormap of first-spike-time images."""

FrameMode = Literal["auto", "count", "time"]
_UNITS = (("s", 1e6), ("ms", 1e3), ("µs", 1.0))


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
    figure, axes = pyplot().subplots(figsize=figsize, layout="constrained")
    return figure, axes


class _Clock:
    """How a stream's times are shown: ``(t - origin) / divisor`` in ``unit``.

    Step time keeps its steps; microsecond time starts at the first event and is shown in s,
    ms or µs, the largest unit the stream lasts at least one of.
    """

    def __init__(self, events: Events) -> None:
        t = events.t
        self.steps = events.time_unit == "step"
        if self.steps:
            self.origin, self.divisor, self.unit, self.label = 0, 1.0, "step", "time (step)"
            self.end = float(events.num_steps or (int(t.max()) + 1 if len(t) else 1))
            return
        self.origin = int(t.min()) if len(t) else 0
        self.duration = int(t.max()) - self.origin if len(t) else 0
        self.unit, self.divisor = next((u, d) for u, d in _UNITS if self.duration >= d or d == 1.0)
        self.end = max(self.duration, 1) / self.divisor
        self.label = f"time since first event ({self.unit})"

    def __call__(self, t: torch.Tensor) -> np.ndarray:
        return (t.cpu().numpy() - self.origin) / self.divisor

    def axis(self, ax: Any) -> None:
        """Label the x axis with this time, over the stream (whole steps for step time)."""
        ax.set_xlabel(self.label)
        if self.steps:
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlim(-0.5, self.end - 0.5)
        else:
            ax.set_xlim(0, self.end)

    def span(self) -> str:
        """The duration, for titles: ``"30 steps"`` or ``"589.9 ms"``."""
        return f"{self.end:.0f} steps" if self.steps else f"{self.duration / self.divisor:.4g} {self.unit}"


def _title(ax: Any, title: str | None, what: str, events: Events, clock: _Clock) -> str:
    """Set (and return) the given title or the default: what, where, ON and OFF counts, duration."""
    if title is None:
        on = int(events.p.sum())
        kinds = f" ({on:,} ON, {len(events) - on:,} OFF)" if events.polarities == 2 else ""
        title = f"{what}\n{len(events):,} events{kinds} in {clock.span()}"
    ax.set_title(title)
    return title


def _where(events: Events, sample: int | None) -> str:
    if sample is not None:
        return f"sample {sample}"
    return "1 sample" if events.num_samples == 1 else f"{events.num_samples} samples"


def _dense_events(spikes: torch.Tensor | np.ndarray) -> Events:
    """One sample of ``N`` neurons from snnTorch's dense ``[T]``, ``[T, N]`` or ``[T, ...]`` spikes."""
    tensor = spikes if isinstance(spikes, torch.Tensor) else torch.from_numpy(np.asarray(spikes))
    if tensor.dim() == 0:
        raise EventsError("raster needs dense spikes [T], [T, N] or [T, ...] with time first, got a scalar")
    if tensor.is_sparse:
        tensor = tensor.to_dense()
    if tensor.dtype == torch.bool:
        tensor = tensor.to(torch.int8)
    return Events.from_dense(torch.sign(tensor.reshape(tensor.shape[0], 1, -1)))


def raster(
    events: Events | torch.Tensor | np.ndarray,
    sample: int | None = None,
    ax: Any = None,
    size: float = 6.0,
    figsize: tuple[float, float] = (8, 4),
    title: str | None = None,
) -> tuple[Any, Any]:
    """Neuron index against time, one dot per event (snnTorch's ``spikeplot.raster``).

    Parameters
    ----------
    events : Events, or a dense spike tensor or array
        Events; the neuron index is the row-major flat address ``(c * H + y) * W + x``. With
        several samples (``sample=None``) each sample gets its own band of indices, sample ``b``
        at ``b * prod(shape)`` and up. A dense tensor is read the way snnTorch's raster reads
        it: time first, ``[T]`` as one neuron, ``[T, N]`` as ``N`` neurons, and ``[T, B, ...]``
        or ``[T, ...]`` flattened row-major to neurons (so the dense ``events.dense()`` of a
        batch draws exactly the dots of ``raster(events)``). Any nonzero value is a spike:
        positive ON, negative OFF.
    sample : int, optional
        The one sample of ``events`` to draw; default all. Not for dense input (slice it).
    ax : matplotlib Axes, optional
        Where to draw; default a new figure of ``figsize`` inches.
    size : float, default 6
        Marker size in points².
    title : str, optional
        Default: ``"raster of sample 0"`` (or of the samples or dense shape) and the counts.

    Returns
    -------
    (Figure, Axes)

    Raises
    ------
    EventsError
        ``sample`` given with dense spikes, or a scalar.
    DenseInputError
        Dense spikes with NaN values.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from eventcode import Events, plot
    >>> events = Events(t=[0, 1, 1], x=[2, 0, 1], y=[0, 0, 0], p=[1, 0, 1], shape=(3,), num_steps=2)
    >>> figure, ax = plot.raster(events)
    >>> [len(dots.get_offsets()) for dots in ax.collections]  # ON, OFF
    [2, 1]
    >>> figure, ax = plot.raster(torch.tensor([[0, 0, 1], [-1, 1, 0]]))  # snnTorch's [T, N]
    >>> [dots.get_offsets().tolist() for dots in ax.collections]  # (time, neuron) of ON, OFF
    [[[0.0, 2.0], [1.0, 1.0]], [[1.0, 0.0]]]
    """
    if isinstance(events, Events):
        chosen = events if sample is None else events[sample]
        where = _where(events, sample)
    elif sample is not None:
        raise EventsError(
            f"sample={sample} picks a sample of Events; slice dense spikes yourself (spikes[:, b])"
        )
    else:
        chosen, where = _dense_events(events), f"dense spikes {list(events.shape)}"
    neurons = math.prod(chosen.shape)
    flat = address.flat(chosen.x, chosen.y, chosen.c, chosen.shape).cpu()
    neuron = (flat + chosen.sample_ids().cpu() * neurons).numpy()
    clock = _Clock(chosen)
    t, on = clock(chosen.t), chosen.p.cpu().numpy()
    figure, ax = _axes(ax, figsize)
    for mask, colour, name in ((on, ON, "ON"), (~on, OFF, "OFF")):
        label = f"{name} ({int(mask.sum()):,})"
        ax.scatter(t[mask], neuron[mask], s=size, c=colour, marker="|", linewidths=1.0, label=label)
    clock.axis(ax)
    band = f"sample × {neurons:,} + flat address" if chosen.num_samples > 1 else "flat address"
    ax.set_ylabel(f"neuron index ({band})")
    ax.set_ylim(-0.5, chosen.num_samples * neurons - 0.5)
    if chosen.num_samples > 1:  # a thin line between the bands of the samples
        ax.hlines(np.arange(1, chosen.num_samples) * neurons - 0.5, *ax.get_xlim(), colors="0.8", lw=0.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="polarity (events)", markerscale=2)
    _title(ax, title, f"raster of {where}", chosen, clock)
    return figure, ax


def frame(
    events: Events,
    sample: int = 0,
    mode: FrameMode = "auto",
    percentile: float = 99.0,
    ax: Any = None,
    figsize: tuple[float, float] = (5.5, 4.5),
    title: str | None = None,
) -> tuple[Any, Any]:
    """One sample's events in one image: counts per pixel, or the time of each pixel's first event.

    Parameters
    ----------
    events : Events
        Events without a channel column (one ``[H, W]`` image per sample).
    sample : int, default 0
        Which sample to draw.
    mode : {"auto", "count", "time"}
        ``"count"``: ON and OFF events per pixel, red and blue inks on white, each scaled to the
        ``percentile`` of its nonzero counts (a pixel with both turns dark). ``"time"``: each
        pixel coloured by the time of its first event (white: no event), with a colour bar in
        steps or in time since the first event; the picture of a latency code, where every
        pixel fires once and a count image is a solid square. ``"auto"``: ``"time"`` when no
        pixel fires twice (and there are events), else ``"count"``.
    percentile : float, default 99
        Where each ink saturates, in percent of the nonzero counts of its polarity (100: the
        busiest pixel, linear to it).
    ax : matplotlib Axes, optional
        Where to draw; default a new figure of ``figsize`` inches.
    title : str, optional
        Default: what is shown, the sample and its ON and OFF event counts.

    Returns
    -------
    (Figure, Axes)
        ``ax.images[0]`` holds the ``[H, W, 3]`` RGB counts image, or the ``[H, W]`` masked array
        of first-event times (in the colour bar's unit).

    Raises
    ------
    EventsError
        A channel column, an unknown ``mode`` or a percentile outside ``(0, 100]``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from eventcode import Events, plot
    >>> events = Events(t=[0, 5, 9], x=[1, 0, 1], y=[0, 1, 0], p=[1, 0, 1], sensor_size=(2, 2))
    >>> figure, ax = plot.frame(events)  # pixel (1, 0) fires twice: counts
    >>> ax.images[0].get_array().shape
    (2, 2, 3)
    >>> figure, ax = plot.frame(events, mode="time")  # first-event times, in µs
    >>> ax.images[0].get_array().tolist()
    [[None, 0.0], [5.0, None]]
    """
    if mode not in ("auto", "count", "time"):
        raise EventsError(
            f"frame mode must be 'auto', 'count' (events per pixel) or 'time' (first-spike time), "
            f"got {mode!r}"
        )
    one = events[sample]
    counts = _images(to_frames(one, n_event_bins=1), one)[0]
    if mode == "auto":
        mode = "time" if len(one) and int(counts.sum(0).max()) == 1 else "count"
    clock = _Clock(one)
    figure, ax = _axes(ax, figsize)
    if mode == "count":
        inks = _Inks(counts[None], percentile)
        ax.imshow(inks.colour(counts[None])[0], interpolation="nearest")
        inks.colour_bars(figure, ax)
        what = "events per pixel"
    else:
        _first_time_image(one, clock, figure, ax)
        what = "first-spike time"
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")
    _title(ax, title, f"{what}, {_where(events, sample)}", one, clock)
    return figure, ax


def _images(frames: torch.Tensor, events: Events) -> torch.Tensor:
    """Frames as ``[n, 2 (OFF, ON), H, W]`` pictures: a 1-D sample is one row high, and the one
    kind of event of a 1-polarity sensor is drawn in the ON ink."""
    height, width = address.height(events.shape), address.width(events.shape)
    frames = frames.reshape(len(frames), frames.shape[1], height, width)
    return torch.cat([torch.zeros_like(frames), frames], 1) if frames.shape[1] == 1 else frames


def _first_time_image(events: Events, clock: _Clock, figure: Any, ax: Any) -> None:
    """Draw the time of each pixel's first event (any polarity), with a colour bar."""
    height, width = address.height(events.shape), address.width(events.shape)
    flat = address.flat(events.x, events.y, None, events.shape).cpu()
    first = torch.full((height * width,), math.inf, dtype=torch.float64)
    first.scatter_reduce_(0, flat, torch.from_numpy(clock(events.t)), "amin")
    image = np.ma.masked_invalid(first.reshape(height, width).numpy())
    top = clock.end - 1 if clock.steps else clock.end
    colours = pyplot().get_cmap(TIME_COLOURS).with_extremes(bad="white")
    picture = ax.imshow(image, cmap=colours, vmin=0, vmax=top, interpolation="nearest")
    name = "spike time (step)" if clock.steps else f"first event time since first event ({clock.unit})"
    figure.colorbar(picture, ax=ax, label=name)


class _Inks:
    """Red ON and blue OFF inks on white, each saturating at a percentile of its nonzero counts."""

    def __init__(self, counts: torch.Tensor, percentile: float) -> None:
        if not 0 < percentile <= 100:
            raise EventsError(
                f"percentile must be in (0, 100], got {percentile}; 99 saturates the busiest 1% of pixels"
            )
        from matplotlib.colors import LinearSegmentedColormap, PowerNorm

        self.counts = counts.cpu().numpy()
        self.maps, self.norms = [], []
        for channel, name, colour in ((1, "ON", ON), (0, "OFF", OFF)):
            values = self.counts[:, channel]
            nonzero = values[values > 0]
            top = float(np.percentile(nonzero, percentile, method="higher")) if nonzero.size else 1.0
            self.maps.append(LinearSegmentedColormap.from_list(name, ["white", colour]))
            self.norms.append(PowerNorm(0.5, 0, top, clip=True))

    def colour(self, counts: torch.Tensor) -> np.ndarray:
        """``[T, H, W, 3]`` RGB of ``[T, 2, H, W]`` OFF/ON counts: the two inks multiplied."""
        values = counts.cpu().numpy()
        on, off = (cmap(norm(values[:, channel]))[..., :3] for cmap, norm, channel in self._inks())
        mixed: np.ndarray = on * off
        return mixed

    def colour_bars(self, figure: Any, ax: Any) -> None:
        from matplotlib.cm import ScalarMappable

        for i, (cmap, norm, channel) in enumerate(self._inks()):
            clipped = bool((self.counts[:, channel] > norm.vmax).any())
            figure.colorbar(
                ScalarMappable(norm, cmap),
                cax=ax.inset_axes((1.04, 0.55 - 0.55 * i, 0.05, 0.45)),
                label=f"{cmap.name} events\nper pixel",
                extend="max" if clipped else "neither",
                ticks=np.unique(np.round(norm.vmax * np.linspace(0, 1, 5) ** 2)),
            )

    def _inks(self) -> list[tuple[Any, Any, int]]:
        return list(zip(self.maps, self.norms, (1, 0), strict=True))


def histogram(
    events: Events,
    sample: int | None = None,
    n_time_bins: int = 100,
    ax: Any = None,
    figsize: tuple[float, float] = (8, 3.5),
    title: str | None = None,
) -> tuple[Any, Any]:
    """Events per time bin, ON and OFF, from the first event to the last (all samples by default).

    Parameters
    ----------
    events : Events
        Events in microseconds (bins span first to last event, shown in µs, ms or s since the
        first event) or in steps (bins of whole steps over ``0 .. num_steps``).
    sample : int, optional
        One sample; default all of them together.
    n_time_bins : int, default 100
        Number of bins; for step time at most one per step, each ``ceil(num_steps / n_time_bins)``
        steps wide.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure of ``figsize`` inches.
    title : str, optional
        Default: what is shown, the sample and its ON and OFF event counts.

    Returns
    -------
    (Figure, Axes)
        ``ax.patches`` are the ON and OFF step lines (``StepPatch``); ``get_data()`` gives each
        one's counts and bin edges.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import torch
    >>> from eventcode import Events, plot
    >>> figure, ax = plot.histogram(Events.from_dense(torch.ones(10, 1, 4)), n_time_bins=5)
    >>> on = ax.patches[0].get_data()
    >>> on.values.tolist(), on.edges.tolist()  # two steps a bin
    ([8, 8, 8, 8, 8], [0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
    >>> stream = Events(t=[10**15, 10**15 + 3000], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(2, 1))
    >>> figure, ax = plot.histogram(stream, n_time_bins=3)
    >>> ax.get_xlabel(), ax.patches[1].get_data().edges.tolist()  # OFF, ms since the first event
    ('time since first event (ms)', [0.0, 1.0, 2.0, 3.0])
    """
    chosen = events if sample is None else events[sample]
    clock = _Clock(chosen)
    t, on = clock(chosen.t), chosen.p.cpu().numpy()
    if clock.steps:
        width = math.ceil(clock.end / n_time_bins)
        edges = width * np.arange(math.ceil(clock.end / width) + 1, dtype=np.float64)
        per = "step" if width == 1 else f"{width} steps"
    else:
        edges = np.linspace(0, clock.end, n_time_bins + 1)
        per = f"{edges[1]:.3g} {clock.unit}"
    figure, ax = _axes(ax, figsize)
    for mask, colour, name in ((on, ON, "ON"), (~on, OFF, "OFF")):
        ax.stairs(np.histogram(t[mask], edges)[0], edges, color=colour, label=name, linewidth=1.5)
    clock.axis(ax)
    ax.set_xlim(0, clock.end)  # the bins' edges, also for step time
    ax.set_ylabel(f"events per {per}")
    ax.set_ylim(bottom=0)
    ax.legend(title="polarity")
    _title(ax, title, f"events over time, {_where(events, sample)}", chosen, clock)
    return figure, ax


def animate(
    events: Events,
    sample: int = 0,
    n_time_bins: int | None = None,
    interval: int = 40,
    percentile: float = 99.0,
    ax: Any = None,
    figsize: tuple[float, float] = (5.5, 4.5),
    title: str | None = None,
) -> Any:
    """One count image per time step (or per ``n_time_bins`` equal time bins of a microsecond stream).

    snnTorch's ``spikeplot.animator`` from events. The images are those of :func:`frame` in
    ``"count"`` mode, with one colour scale for all of them (each ink saturating at the
    ``percentile`` of its nonzero counts over all frames) and the frame's time in the title
    (``"step 5 / 50"``, or the bin as time since the first event). Save it with :func:`save`
    (GIF needs only Pillow; MP4 needs ffmpeg).

    Parameters
    ----------
    events : Events
        Events without a channel column.
    sample : int, default 0
        Which sample to animate.
    n_time_bins : int, optional
        Number of equal time bins of a microsecond stream (default 100); step time always gets
        one frame per step.
    interval : int, default 40
        Milliseconds between frames when shown (:func:`save` sets its own ``fps``).
    percentile : float, default 99
        Where each ink saturates (see :func:`frame`).
    ax : matplotlib Axes, optional
        Where to draw; default a new figure of ``figsize`` inches.
    title : str, optional
        First lines of every frame's title (the time follows); default what is shown and counts.

    Returns
    -------
    matplotlib.animation.FuncAnimation

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from eventcode import Events, plot
    >>> movie = plot.animate(Events.from_dense(torch.ones(5, 1, 1, 3, 3)))
    >>> len(list(movie.new_frame_seq()))  # one image per step
    5
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     plot.save(movie, Path(folder) / "steps.gif", fps=5)
    >>> plot.pyplot().gca().get_title().splitlines()[-1]  # the time of the last frame drawn
    'step 4 / 5'
    """
    one = events[sample]
    clock = _Clock(one)
    bins = n_time_bins or 100
    counts = _images(to_frames(one, time_window=1) if clock.steps else to_frames(one, n_time_bins=bins), one)
    inks = _Inks(counts, percentile)
    images = inks.colour(counts)
    own = ax is None
    figure, ax = _axes(ax, figsize)
    picture = ax.imshow(images[0], interpolation="nearest")
    inks.colour_bars(figure, ax)
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")
    heading = _title(ax, title, f"events per pixel, {_where(events, sample)}", one, clock)

    def when(i: int) -> str:
        if clock.steps:
            return f"step {i} / {len(images)}"
        width = (clock.duration + 1) / clock.divisor / bins  # to_frames' bins span [t[0], t[-1] + 1)
        return f"t = {i * width:.1f}–{(i + 1) * width:.1f} {clock.unit} since first event"

    def show(i: int) -> tuple[Any, Any]:
        picture.set_data(images[i])
        ax.set_title(f"{heading}\n{when(i)}")
        return picture, ax.title

    show(0)
    if own:  # lay the figure out once: frames then neither jump nor pay for the layout again
        figure.canvas.draw()
        figure.set_layout_engine(None)
    return _movie_type()(figure, show, len(images), interval)


@functools.cache
def _movie_type() -> type:
    """:class:`matplotlib.animation.FuncAnimation` that also renders its frames by blitting."""

    class Movie(_animation().FuncAnimation):  # type: ignore[misc]
        """An animation whose update function returns every artist that changes between frames.

        :meth:`rgba_frames` draws the rest of the figure (axes, ticks, colour bars) once and only
        those artists for each frame, so saving a frame costs an image, not a whole figure.
        """

        def __init__(self, figure: Any, update: Any, count: int, interval: int) -> None:
            super().__init__(figure, update, frames=count, interval=interval, blit=False)
            self._frame_figure, self._frame_update, self._frame_count = figure, update, count

        def rgba_frames(self) -> Iterator[np.ndarray]:
            """Each frame as an ``[H, W, 4]`` uint8 array of the whole figure."""
            canvas = self._frame_figure.canvas
            changing = self._frame_update(0)
            for artist in changing:
                artist.set_animated(True)
            try:
                canvas.draw()  # everything but the changing artists
                background = canvas.copy_from_bbox(self._frame_figure.bbox)
                for i in range(self._frame_count):
                    canvas.restore_region(background)
                    for artist in self._frame_update(i):
                        self._frame_figure.draw_artist(artist)
                    yield np.asarray(canvas.buffer_rgba()).copy()
            finally:
                for artist in changing:
                    artist.set_animated(False)

    return Movie


def save(animation: Any, path: str | os.PathLike[str], fps: int = 25) -> None:
    """Save an animation as ``.gif`` (Pillow) or ``.mp4`` (ffmpeg; a clear error without it).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from eventcode import Events, plot
    >>> movie = plot.animate(Events.from_dense(torch.ones(2, 1, 1, 3, 3)))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     plot.save(movie, Path(folder) / "movie.gif", fps=5)
    ...     (Path(folder) / "movie.gif").stat().st_size > 0
    True
    """
    suffix = os.fspath(path).lower().rsplit(".", 1)[-1]
    animation_module = _animation()
    if suffix == "gif" and hasattr(animation, "rgba_frames"):  # eventcode's: blitted, one figure draw
        from PIL import Image

        images = [Image.fromarray(rgba).convert("RGB") for rgba in animation.rgba_frames()]
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    elif suffix == "gif":
        animation.save(path, writer=animation_module.PillowWriter(fps=fps))
    elif suffix == "mp4":
        if not animation_module.FFMpegWriter.isAvailable():
            raise DependencyError("writing MP4 needs ffmpeg on the PATH; install it, or save a .gif instead")
        animation.save(path, writer=animation_module.FFMpegWriter(fps=fps))
    else:
        raise EventsError(f"animations are saved as .gif or .mp4, not .{suffix}")
