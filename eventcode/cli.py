"""The ``eventcode`` command: demo, encode, convert, info and view.

Every file format comes from the :mod:`exporters` registry and every code from
:data:`eventcode.transforms.ENCODERS`, so a new format or encoder shows up here without a change.
Errors print one line (``eventcode: error: ...``) and exit with status 1; ``--debug`` shows the
traceback instead.

Examples
--------
>>> from click.testing import CliRunner
>>> from eventcode.cli import main
>>> result = CliRunner().invoke(main, ["--help"])
>>> result.exit_code, "convert" in result.output
(0, True)
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from tqdm import tqdm

import eventcode
from eventcode import address
from eventcode.errors import EventcodeError
from eventcode.events import Events
from eventcode.transforms import ENCODERS, Encode

BATCH = 256
"""Images encoded at a time by ``eventcode encode``."""


class Commands(click.Group):
    """A command group that turns errors into one line and a non-zero exit (unless ``--debug``)."""

    def invoke(self, context: click.Context) -> Any:
        try:
            return super().invoke(context)
        except (EventcodeError, OSError, ValueError, ImportError, KeyError, IndexError) as err:
            if context.params.get("debug"):
                raise
            click.echo(f"eventcode: error: {err}", err=True)
            sys.exit(1)


@click.group(cls=Commands)
@click.version_option(eventcode.__version__, prog_name="eventcode")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def main(debug: bool) -> None:
    """Sparse address-event streams: encode, convert, inspect and view event files."""


# ---------------------------------------------------------------------- demo
@main.command()
@click.option(
    "--out", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("eventcode-demo")
)
@click.option("--digits", default=64, show_default=True, help="How many bundled MNIST digits to encode.")
@click.option("--num-steps", default=50, show_default=True, help="Time steps of each code.")
def demo(folder: Path, digits: int, num_steps: int) -> None:
    """Encode bundled MNIST digits with rate, latency and delta; write, read, check, plot.

    Writes AEDAT 4.0 files (one per digit) and one HDF5 file per code under OUT, reads them all
    back and checks them, densifies, saves raster PNGs and a GIF, and prints a table.
    """
    import exporters
    from eventcode import plot

    plot.pyplot().switch_backend("Agg")
    images, _ = eventcode.datasets.load_mnist()
    batch = images[: min(digits, len(images)), None].float() / 255
    video = torch.stack([torch.roll(batch, shifts=k, dims=-1) for k in range(num_steps)])
    codes = {
        "rate": lambda: eventcode.rate(batch, num_steps, generator=torch.Generator().manual_seed(0)),
        "latency": lambda: eventcode.latency(batch, num_steps, normalize=True, linear=True),
        "delta": lambda: eventcode.delta(video, threshold=0.1, off_spike=True),
    }
    folder.mkdir(parents=True, exist_ok=True)
    dense_bytes = num_steps * batch.numel() * 4
    rows = []
    with tqdm(total=len(codes) * 5, desc="demo", unit="step", file=sys.stderr) as progress:
        for name, encode in codes.items():
            clock = time.perf_counter()
            events = encode()
            timings = {"encode": time.perf_counter() - clock}
            progress.update()
            clock = time.perf_counter()
            exporters.write(folder / f"{name}_{{:03d}}.aedat4", events, compression="lz4", dt_us=1000)
            exporters.write(folder / f"{name}.h5", events, compression="blosc", dt_us=1000)
            timings["write"] = time.perf_counter() - clock
            progress.update()
            clock = time.perf_counter()
            back = [exporters.read(folder / f"{name}_{b:03d}.aedat4") for b in range(events.num_samples)]
            if Events.cat(back) != events or exporters.read(folder / f"{name}.h5") != events:
                raise EventcodeError(f"the {name} files did not read back equal to the events written")
            timings["read + check"] = time.perf_counter() - clock
            progress.update()
            clock = time.perf_counter()
            events.dense()
            timings["densify"] = time.perf_counter() - clock
            progress.update()
            figure, _ = plot.raster(events, sample=0)
            figure.savefig(folder / f"{name}_raster.png", dpi=100)
            plot.pyplot().close(figure)
            if name == "delta":
                plot.save(plot.animate(events, sample=0), folder / "delta.gif", fps=15)
            progress.update()
            aedat_bytes = sum(p.stat().st_size for p in folder.glob(f"{name}_*.aedat4"))
            rows.append((name, len(events), aedat_bytes, (folder / f"{name}.h5").stat().st_size, timings))
    click.echo(
        f"\n{batch.shape[0]} MNIST digits, {num_steps} steps; a dense float32 [T, B, 1, 28, 28] is "
        f"{dense_bytes / 1e6:.1f} MB (delta's input video is {num_steps} shifted frames)"
    )
    header = (
        "code",
        "events",
        "AEDAT4 (lz4)",
        "HDF5 (blosc)",
        "vs dense",
        "encode",
        "write",
        "read+check",
        "densify",
    )
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
    click.echo(f"\nfiles, rasters (*_raster.png) and an animation (delta.gif) are in {folder}/")


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 1e5 else f"{count / 1e3:.1f} kB"


# ---------------------------------------------------------------------- encode
@main.command()
@click.option("--code", type=click.Choice(sorted(ENCODERS)), required=True, help="The encoder.")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--num-steps", type=int, help="Time steps (rate, latency).")
@click.option("--threshold", type=float, help="Threshold (latency, delta).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Any other encoder option.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the rate code.")
@click.option("--limit", type=int, help="Encode only the first LIMIT images.")
@click.option("--compression", help="Compression of the output format (e.g. lz4, zstd, gzip, blosc).")
@click.option("--dt-us", type=int, default=1000, show_default=True, help="Microseconds per step in the file.")
def encode(
    code: str,
    source: Path,
    target: Path,
    num_steps: int | None,
    threshold: float | None,
    options: tuple[str, ...],
    seed: int,
    limit: int | None,
    compression: str | None,
    dt_us: int,
) -> None:
    """Encode SOURCE (MNIST IDX, .npy/.npz, or an image folder) into TARGET (any supported format).

    For delta, SOURCE holds frame sequences ``[N, T, ...]`` (one sequence per sample). A TARGET
    format holding one stream per file needs a ``{}`` placeholder for one file per sample.
    """
    import exporters

    settings = dict(_option(text) for text in options)
    settings |= {k: v for k, v in (("num_steps", num_steps), ("threshold", threshold)) if v is not None}
    images = _images(source)[:limit]
    fmt = exporters.detect(target)
    if not fmt.batched and len(images) > 1 and "{" not in str(target):
        raise ValueError(f"{fmt.name} holds one sample per file: put a {{}} placeholder in {target}")
    with (
        contextlib.ExitStack() as stack,
        tqdm(total=len(images), desc=f"encode {code}", file=sys.stderr) as bar,
    ):
        writer = None
        for start in range(0, len(images), BATCH):
            events = _encoded(code, images[start : start + BATCH], settings, seed + start)
            if fmt.batched:
                if writer is None:
                    writer = stack.enter_context(
                        fmt.module.Writer(
                            target,
                            shape=events.shape,
                            compression=compression,
                            batched=True,
                            num_steps=events.num_steps,
                            dt_us=dt_us,
                            encoding={"code": code, **settings},
                        )
                    )
                writer.write(events)
            else:
                for b in range(events.num_samples):
                    name = str(target).format(start + b)
                    exporters.write(name, events[b], format=fmt.name, compression=compression, dt_us=dt_us)
            bar.update(events.num_samples)
    click.echo(f"encoded {len(images)} samples with {code} into {target}")


def _encoded(code: str, batch: torch.Tensor, settings: dict[str, Any], seed: int) -> Events:
    """A batch of images (frame sequences for delta) encoded into one batch of events."""
    if code == "delta":
        return Events.cat([Encode("delta", **settings)(sequence) for sequence in batch])
    extra = {"generator": torch.Generator().manual_seed(seed)} if code == "rate" else {}
    return ENCODERS[code](batch, **extra, **settings)


def _option(text: str) -> tuple[str, Any]:
    key, _, value = text.partition("=")
    if not key or not _:
        raise ValueError(f"--option takes KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


def _images(source: Path) -> torch.Tensor:
    """Images as floats in [0, 1]: ``[N, ...]`` from IDX, numpy or an image folder."""
    if source.is_dir():
        from PIL import Image

        files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
        if not files:
            raise ValueError(f"{source}: no .png/.jpg/.bmp images in the folder")
        arrays = [np.asarray(Image.open(p).convert("L")) for p in files]
        return torch.from_numpy(np.stack(arrays)[:, None].copy()).float() / 255
    suffixes = source.suffixes
    if suffixes[-1:] == [".npy"] or suffixes[-1:] == [".npz"]:
        loaded = np.load(source)
        array = loaded[loaded.files[0]] if hasattr(loaded, "files") else loaded
    else:
        array = eventcode.datasets.read_idx(source)
        if array.ndim == 3:
            array = array[:, None]
    return eventcode.transforms.as_values(np.ascontiguousarray(array))


# ---------------------------------------------------------------------- convert
@main.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--compression", help="Compression of the output format.")
@click.option(
    "--dt-us", type=int, help="Microseconds per step, for step-time streams into formats in microseconds."
)
@click.option("--chunk-events", default=1 << 20, show_default=True, help="Events read and written at a time.")
def convert(
    source: Path, target: Path, compression: str | None, dt_us: int | None, chunk_events: int
) -> None:
    """Convert SOURCE to TARGET (formats by suffix), streaming: files larger than memory work."""
    import exporters

    reader, writer_format = exporters.detect(source), exporters.detect(target)
    details = _details(reader, source)
    dt_us = dt_us or details.get("dt_us")
    chunks = reader.module.read_chunks(source, chunk_events)
    written = 0
    with tqdm(
        total=details.get("events"), desc="convert", unit="event", unit_scale=True, file=sys.stderr
    ) as bar:
        first = next(chunks, None)
        if first is None:
            raise ValueError(f"{source}: no events to convert")
        options = {"shape": first.shape, "compression": compression, "num_steps": first.num_steps}
        if dt_us is not None:
            options["dt_us"] = dt_us
        samples = first.num_samples > 1 or details.get("samples", 1) > 1
        if samples and not writer_format.batched and "{" not in str(target):
            raise ValueError(
                f"{source} holds {details.get('samples')} samples and {writer_format.name} one per file: "
                f"put a {{}} placeholder in {target} for one file per sample"
            )
        if samples and not writer_format.batched:
            for chunk in _chained(first, chunks):  # one file per sample
                for b in range(chunk.num_samples):
                    exporters.write(
                        str(target).format(written + b),
                        chunk[b],
                        format=writer_format.name,
                        compression=compression,
                        dt_us=dt_us,
                    )
                written += chunk.num_samples
                bar.update(len(chunk))
        else:
            if writer_format.batched:
                options["batched"] = samples
            with writer_format.module.Writer(target, **options) as writer:
                for chunk in _chained(first, chunks):
                    writer.write(chunk)
                    bar.update(len(chunk))
    click.echo(f"converted {source} ({reader.name}) to {target} ({writer_format.name})")


def _chained(first: Events, rest: Iterator[Events]) -> Iterator[Events]:
    yield first
    yield from rest


# ---------------------------------------------------------------------- info
@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def info(path: Path, as_json: bool) -> None:
    """Summarize an event file: events, duration, resolution, rate, polarity balance, streams."""
    import exporters

    fmt = exporters.detect(path)
    details = _details(fmt, path)
    count = on = 0
    first = last = None
    shape = num_steps = unit = None
    for chunk in fmt.module.read_chunks(path, 1 << 20):
        shape, num_steps, unit = chunk.shape, chunk.num_steps, chunk.time_unit
        if len(chunk):
            first = int(chunk.t.min()) if first is None else min(first, int(chunk.t.min()))
            last = int(chunk.t.max()) if last is None else max(last, int(chunk.t.max()))
        count += len(chunk)
        on += int(chunk.p.sum())
    duration = (last - first) if count else 0
    summary = {
        "path": str(path),
        "format": fmt.name,
        "events": count,
        "time_unit": unit,
        "first_t": first,
        "last_t": last,
        "duration": duration,
        "num_steps": num_steps,
        "sensor_size": list(address.sensor_size(shape)) if shape else None,
        "shape": list(shape) if shape else None,
        "event_rate": (
            count / (duration / 1e6) if unit == "us" and duration else count / max(1, num_steps or 1)
        ),
        "event_rate_unit": "events/s" if unit == "us" else "events/step",
        "on_fraction": on / count if count else None,
        **details,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    for key, value in summary.items():
        click.echo(f"{key:>16}: {value}")


def _details(fmt: Any, path: Path) -> dict[str, Any]:
    """Format-specific facts: compression, streams, samples, step duration."""
    meta = fmt.module.info(path)
    if isinstance(meta, dict):
        return {
            "compression": meta.get("compression"),
            "samples": meta.get("samples"),
            "dt_us": meta.get("dt_us"),
            "encoding": meta.get("encoding"),
        }
    streams = {str(k): {"type": kind, "size": size} for k, (kind, size) in meta.streams.items()}
    counted = sum(p.count or 0 for p in meta.packets) if meta.has_table else None
    return {
        "compression": meta.compression,
        "samples": 1,
        "dt_us": meta.dt_us,
        "streams": streams,
        "packets": len(meta.packets),
        "events_in_table": counted,
    }


# ---------------------------------------------------------------------- view
@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "target", type=click.Path(path_type=Path), required=True, help="PNG, GIF or MP4 file.")
@click.option(
    "--kind", type=click.Choice(["frame", "raster", "histogram", "animation"]), help="Default by suffix."
)
@click.option("--sample", default=0, show_default=True, help="Sample of a batched file.")
@click.option("--frames", default=100, show_default=True, help="Animation frames of a microsecond stream.")
def view(path: Path, target: Path, kind: str | None, sample: int, frames: int) -> None:
    """Draw an event file: an accumulated frame, a raster, a rate histogram or an animation."""
    import exporters
    from eventcode import plot

    plot.pyplot().switch_backend("Agg")
    fmt = exporters.detect(path)
    events = fmt.module.read(path, sample=sample) if fmt.batched else fmt.module.read(path)
    kind = kind or ("animation" if target.suffix.lower() in (".gif", ".mp4") else "frame")
    if kind == "animation":
        plot.save(plot.animate(events, frames=frames), target)
    else:
        figure, _ = getattr(plot, kind)(events)
        figure.savefig(target, dpi=100)
        plot.pyplot().close(figure)
    click.echo(f"wrote {target}")


if __name__ == "__main__":
    main()
