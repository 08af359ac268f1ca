"""``eventcode demo``: the bundled MNIST digits through every code, file and picture."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import eventcode
from eventcode.cli.common import progress
from eventcode.errors import EventcodeError, OptionError

if TYPE_CHECKING:
    import torch

    from eventcode.events import Events


@click.command()
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eventcode-demo"),
    show_default=True,
    help="Folder for the files, pictures and manifest (made if missing; a rerun replaces only the "
    "files its manifest lists).",
)
@click.option(
    "--digits",
    type=click.IntRange(1, 1000),
    default=64,
    show_default=True,
    help="How many bundled MNIST digits to encode.",
)
@click.option(
    "--num-steps", type=click.IntRange(min=1), default=50, show_default=True, help="Time steps of each code."
)
def demo(folder: Path, digits: int, num_steps: int) -> None:
    """Encode bundled MNIST digits with rate, latency and delta; write, read, check, plot.

    Writes AEDAT 4.0 files (one per digit) and one HDF5 file per code under OUT, reads them all
    back and checks them, densifies, saves rasters, frames and a GIF of a digit sliding across
    the view, and prints a table. OUT/manifest.json lists what the run wrote.
    """
    import torch

    import exporters
    from eventcode import plot
    from eventcode.events import Events

    plot.pyplot().switch_backend("Agg")
    images, _ = eventcode.datasets.load_mnist()
    batch = images[:digits, None].float() / 255
    codes: dict[str, Callable[[], Events]] = {
        "rate": lambda: eventcode.rate(batch, num_steps, generator=torch.Generator().manual_seed(0)),
        "latency": lambda: eventcode.latency(batch, num_steps, normalize=True, linear=True, clip=True),
        "delta": lambda: eventcode.delta(_sliding(batch, num_steps), threshold=0.1, off_spike=True),
    }
    folder.mkdir(parents=True, exist_ok=True)
    _remove_listed(folder)
    written: list[str] = []
    dense_bytes = num_steps * batch.numel() * 4
    rows = []
    with progress(len(codes) * 5, "demo", "step") as bar:
        for name, encode in codes.items():
            clock = time.perf_counter()
            events = encode()
            timings = {"encode": time.perf_counter() - clock}
            bar.update()
            clock = time.perf_counter()
            files = [f"{name}_{b:03d}.aedat4" for b in range(events.num_samples)]
            exporters.write(folder / f"{name}_{{:03d}}.aedat4", events, compression="lz4", dt_us=1000)
            exporters.write(folder / f"{name}.h5", events, dt_us=1000)
            written += [*files, f"{name}.h5"]
            timings["write"] = time.perf_counter() - clock
            bar.update()
            clock = time.perf_counter()
            back = [exporters.read(folder / file) for file in files]
            if Events.cat(back) != events or exporters.read(folder / f"{name}.h5") != events:
                raise EventcodeError(f"the {name} files did not read back equal to the events written")
            timings["read + check"] = time.perf_counter() - clock
            bar.update()
            clock = time.perf_counter()
            events.dense()
            timings["densify"] = time.perf_counter() - clock
            bar.update()
            frame = _middle_frame(events) if name == "delta" else plot.frame(events, sample=0)[0]
            for kind, figure in (("raster", plot.raster(events, sample=0)[0]), ("frame", frame)):
                figure.savefig(folder / f"{name}_{kind}.png", dpi=100)
                plot.pyplot().close(figure)
                written.append(f"{name}_{kind}.png")
            if name == "delta":
                plot.save(plot.animate(events, sample=0), folder / "delta.gif", fps=15)
                written.append("delta.gif")
            bar.update()
            aedat_bytes = sum((folder / file).stat().st_size for file in files)
            rows.append((name, len(events), aedat_bytes, (folder / f"{name}.h5").stat().st_size, timings))
    (folder / "manifest.json").write_text(json.dumps({"written_by": "eventcode demo", "files": written}))
    click.echo(
        f"\n{batch.shape[0]} MNIST digits, {num_steps} steps; a dense float32 [T, B, 1, 28, 28] is "
        f"{dense_bytes / 1e6:.1f} MB (delta's input: each digit sliding across the view, {num_steps} frames)"
    )
    compression = exporters.info(folder / "rate.h5").compression
    header: tuple[str, ...] = ("code", "events", "AEDAT4 (lz4)", f"HDF5 ({compression})", "vs dense")
    header += ("encode", "write", "read+check", "densify")
    click.echo(" ".join(f"{h:>12}" for h in header))
    for name, count, aedat_bytes, h5_bytes, timings in rows:
        cells = [
            name,
            f"{count:,}",
            _size(aedat_bytes),
            _size(h5_bytes),
            f"{dense_bytes / h5_bytes:.0f}x smaller",
        ]
        cells += [f"{timings[k] * 1e3:.0f} ms" for k in ("encode", "write", "read + check", "densify")]
        click.echo(" ".join(f"{c:>12}" for c in cells))
    click.echo(
        f"\n{len(written)} files, pictures (*_raster.png, *_frame.png, delta.gif) and manifest.json "
        f"in {folder}/"
    )


def _middle_frame(events: Events) -> Any:
    """The frame of the first sample's events in its middle five steps (a moving digit's edges;
    all its events together smear into a band)."""
    from eventcode import plot

    middle = int(events.num_steps or 0) // 2
    window = events[0].time_slice(middle - 2, middle + 3)
    title = f"events per pixel of digit 0, steps {middle - 2} to {middle + 2}"
    return plot.frame(window, title=f"{title}\n{len(window):,} events ({int(window.p.sum()):,} ON)")[0]


def _sliding(batch: torch.Tensor, num_steps: int) -> torch.Tensor:
    """``[T, B, C, H, W]`` frames of each image sliding left to right across an empty view.

    The image enters from outside the left edge and leaves past the right one; nothing wraps
    around.
    """
    import torch

    width = batch.shape[-1]
    padded = torch.nn.functional.pad(batch, (width, width))
    starts = torch.linspace(2 * width, 0, num_steps).round().long().tolist()
    return torch.stack([padded[..., s : s + width] for s in starts])


def _remove_listed(folder: Path) -> None:
    """Remove the files the last demo run listed in ``folder/manifest.json``, and nothing else."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return
    try:
        listed = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise OptionError(
            f"{manifest}: not a demo manifest ({err}); remove it or choose another --out"
        ) from None
    for name in listed:
        if isinstance(name, str) and Path(name).name == name:  # files of this folder only
            (folder / name).unlink(missing_ok=True)
    manifest.unlink()


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 1e5 else f"{count / 1e3:.1f} kB"
