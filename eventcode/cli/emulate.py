"""``eventcode emulate``: a video file or a folder of images to DVS events in any writable format,
streaming, through :class:`eventcode.dvs.Emulator` (v2e's pixel model).

Examples
--------
>>> import pathlib, tempfile
>>> from click.testing import CliRunner
>>> from PIL import Image
>>> from eventcode.cli import main
>>> from eventcode.dvs import scenes
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> frames, _ = scenes.moving_edge(width=32, height=24, frames=5, fps=100)
>>> for i, frame in enumerate(frames.numpy()):
...     Image.fromarray(frame).save(folder / f"{i}.png")
>>> arguments = [str(folder), str(folder / "edge.h5"), "--fps", "100", "--seed", "0"]
>>> result = CliRunner().invoke(main, ["emulate", *arguments])
>>> print(result.exit_code, result.output.replace(str(folder), "DIR"))  # doctest: +ELLIPSIS
0 emulated DIR (5 frames, 32x24) to DIR/edge.h5 (hdf5): ... events (seed 0)
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventcode.cli.common import (
    CAMERA_HELP,
    COMPRESSION_HELP,
    FORMAT_HELP,
    camera_option,
    compression_option,
    progress,
    refuse_same,
)
from eventcode.errors import EncodingError, OptionError

if TYPE_CHECKING:
    from eventcode.dvs import Emulator

TIMINGS = ("crossing", "linspace")
"""The timings of :data:`eventcode.dvs.TIMINGS` (named here so that ``--help`` needs no torch)."""


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option(
    "--fps",
    type=click.FloatRange(min=0, min_open=True),
    help="Frames per second: frame i at round(i * 1e6 / fps) us. Needed for a folder of images; "
    "for a video file it overrides the frames' own times (e.g. slow motion).",
)
@click.option(
    "--pos-threshold",
    type=click.FloatRange(min=0, min_open=True),
    help="ON threshold, > 0: one ON event per this much rise of ln(intensity) (default 0.2).",
)
@click.option(
    "--neg-threshold",
    type=click.FloatRange(min=0, min_open=True),
    help="OFF threshold, > 0: one OFF event per this much fall of ln(intensity) (default 0.2).",
)
@click.option(
    "--sigma-threshold",
    type=click.FloatRange(min=0),
    help="Threshold mismatch: standard deviation of each pixel's thresholds, in ln units (default 0.03).",
)
@click.option(
    "--cutoff-hz",
    type=click.FloatRange(min=0),
    help="Photoreceptor low-pass 3 dB frequency of the brightest pixels, Hz; 0 is no filter (default 0).",
)
@click.option(
    "--leak-rate-hz",
    type=click.FloatRange(min=0),
    help="Leak: ON events per second a still pixel fires, Hz (default 0.1).",
)
@click.option(
    "--shot-noise-rate-hz",
    type=click.FloatRange(min=0),
    help="Shot noise: ON plus OFF noise events per second of the darkest pixels, Hz (default 0).",
)
@click.option(
    "--refractory-period-us",
    type=click.IntRange(min=0),
    help="Microseconds after an event before its pixel fires again (default 0).",
)
@click.option(
    "--timing",
    type=click.Choice(TIMINGS),
    help="Event times within a frame interval: crossing, when each pixel's interpolated log intensity "
    "crosses its threshold (ESIM), or linspace, evenly spaced (v2e) (default crossing).",
)
@click.option(
    "--seed",
    type=int,
    help="Seed of the mismatch and noise: the same seed gives the same events. Default: a fresh one, "
    "printed at the end.",
)
@click.option("--device", help="Torch device the pixels compute on, e.g. cpu, cuda, cuda:1 (default cpu).")
@click.option(
    "--chunk-frames",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Frames decoded and emulated at a time (bounds memory).",
)
@click.option("--compression", help=COMPRESSION_HELP)
@click.option("--format", "format_name", help=FORMAT_HELP)
@click.option("--camera", help=CAMERA_HELP)
def emulate(
    source: Path,
    target: Path,
    fps: float | None,
    pos_threshold: float | None,
    neg_threshold: float | None,
    sigma_threshold: float | None,
    cutoff_hz: float | None,
    leak_rate_hz: float | None,
    shot_noise_rate_hz: float | None,
    refractory_period_us: int | None,
    timing: str | None,
    seed: int | None,
    device: str | None,
    chunk_frames: int,
    compression: str | None,
    format_name: str | None,
    camera: str | None,
) -> None:
    """Emulate a DVS camera watching SOURCE (a video file or a folder of images) into TARGET.

    Events are microseconds from the first frame; TARGET's format comes from its suffix
    (.aedat4, .h5, .dat, ...; --format where it does not tell). The video streams through, a
    chunk of frames at a time, so its length is not bounded by memory. Options left out take the
    emulator's defaults (v2e's); the output is exactly that of eventcode.dvs.emulate(SOURCE, ...)
    with the same options and seed.

    Examples:

    \b
        eventcode emulate clip.mp4 clip.aedat4 --seed 0
        eventcode emulate frames/ frames.h5 --fps 240 --pos-threshold 0.3 --shot-noise-rate-hz 1
    """
    import exporters
    from eventcode.dvs import video

    writer_format = exporters.for_writing(target, format_name)
    refuse_same(source, target)
    extra = {**compression_option(writer_format, compression), **camera_option(writer_format, camera, target)}
    if source.is_dir() and fps is None:
        raise OptionError(
            f"{source} is a folder of images, which carry no times: give --fps (frames per second)"
        )
    given = {
        "pos_threshold": pos_threshold,
        "neg_threshold": neg_threshold,
        "sigma_threshold": sigma_threshold,
        "cutoff_hz": cutoff_hz,
        "leak_rate_hz": leak_rate_hz,
        "shot_noise_rate_hz": shot_noise_rate_hz,
        "refractory_period_us": refractory_period_us,
        "timing": timing,
        "seed": seed,
    }
    emulator = _emulator({name: value for name, value in given.items() if value is not None}, fps, device)
    total = video.probe(source).frames
    frames = written = 0
    with contextlib.ExitStack() as stack, progress(total, "emulate", "frame") as bar:
        writer = None
        for chunk, stamps in video.read(source, chunk_frames, fps):
            events = emulator.feed(chunk, stamps).to("cpu")
            if writer is None:  # the first events tell the sensor size
                options: dict[str, Any] = {"shape": events.shape, "polarities": events.polarities, **extra}
                if writer_format.batched:
                    options["batched"] = False
                writer = stack.enter_context(writer_format.module.Writer(target, **options))
            writer.write(events)
            frames, written = frames + len(chunk), written + len(events)
            bar.update(len(chunk))
            bar.set_postfix_str(f"{written:,} events", refresh=False)
    if emulator.sensor_size is None:
        raise EncodingError(f"{source} holds no frames")
    width, height, _ = emulator.sensor_size
    click.echo(
        f"emulated {source} ({frames} frames, {width}x{height}) to {target} ({writer_format.name}): "
        f"{written:,} events (seed {emulator.seed})"
    )


def _emulator(options: dict[str, Any], fps: float | None, device: str | None) -> Emulator:
    """The :class:`~eventcode.dvs.Emulator` of the given options (its own :class:`OptionError`
    names a bad value, a device torch cannot use included)."""
    from eventcode.dvs import Emulator

    return Emulator(fps=fps, device=device, **options)
