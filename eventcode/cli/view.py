"""``eventcode view``: frames, rasters, histograms and animations of an event file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from eventcode.errors import OptionError

if TYPE_CHECKING:
    pass


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "target", type=click.Path(path_type=Path), required=True, help="PNG, GIF or MP4 file.")
@click.option(
    "--kind",
    type=click.Choice(["frame", "raster", "histogram", "animation"]),
    help="What to draw; default: animation for .gif/.mp4, else frame.",
)
@click.option(
    "--sample", type=click.IntRange(min=0), default=0, show_default=True, help="Sample of a batched file."
)
@click.option(
    "--n-time-bins",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Animation frames (equal time bins) of a microsecond stream.",
)
def view(path: Path, target: Path, kind: str | None, sample: int, n_time_bins: int) -> None:
    """Draw an event file: an accumulated frame, a raster, a rate histogram or an animation."""
    import exporters
    from eventcode import plot

    plot.pyplot().switch_backend("Agg")
    fmt = exporters.for_reading(path)
    if not fmt.batched and sample:
        raise OptionError(f"{path} holds one stream ({fmt.name}); --sample must be 0")
    events = fmt.module.read(path, sample=sample)
    kind = kind or ("animation" if target.suffix.lower() in (".gif", ".mp4") else "frame")
    if kind == "animation":
        plot.save(plot.animate(events, n_time_bins=n_time_bins), target)
    else:
        figure, _ = getattr(plot, kind)(events)
        figure.savefig(target, dpi=100)
        plot.pyplot().close(figure)
    click.echo(f"wrote {target}")
