"""The ``eventcode`` command: demo, encode, convert, info and view (also ``python -m eventcode``).

File formats come from the :mod:`exporters` registry and codes from
:data:`eventcode.transforms.ENCODERS`. Errors, including bad option values, print one line
(``eventcode: error: ...``) and exit non-zero; ``--debug`` shows the traceback instead.
The module imports only click at start-up, so ``eventcode --help`` and ``eventcode info``
never import torch.

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
import math
import os
import sys
import time
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import eventcode
from eventcode.errors import DataLossWarning, EventcodeError, OptionError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from eventcode.events import Events

BATCH = 256
"""Images encoded at a time by ``eventcode encode``."""
CODES = ("delta", "latency", "rate")
"""The codes of :data:`eventcode.transforms.ENCODERS` (named here so that ``--help`` needs no torch)."""
COMPRESSION_HELP = (
    "Compression of the output, any case: AEDAT 4.0 takes none, lz4, lz4_high, zstd, zstd_high "
    "(zstd-22); HDF5 takes none, gzip, lzf, zstd, blosc. Default: the format's own default "
    "(convert: the source's, AEDAT 4.0 to AEDAT 4.0)."
)
"""The compression names of each registered format (a test checks them against the modules)."""
NOT_SETTABLE = ("data", "batched", "generator", "return")
"""Encoder parameters that ``--option`` cannot set."""


class Commands(click.Group):
    """A command group that turns errors into one line and a non-zero exit (unless ``--debug``)."""

    def invoke(self, context: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", DataLossWarning)
                warnings.showwarning = _show_warning
                return super().invoke(context)
        except click.UsageError as err:
            if context.params.get("debug"):
                raise
            command = f"eventcode {err.ctx.command.name} --help" if err.ctx else "eventcode --help"
            click.echo(f"eventcode: error: {err.format_message()} (see {command})", err=True)
            sys.exit(err.exit_code)
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


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """A warning as one line on stderr, like the errors."""
    click.echo(f"eventcode: warning: {message}", err=True)


# ---------------------------------------------------------------------- demo
@main.command()
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
    codes = {
        "rate": lambda: eventcode.rate(batch, num_steps, generator=torch.Generator().manual_seed(0)),
        "latency": lambda: eventcode.latency(batch, num_steps, normalize=True, linear=True, clip=True),
        "delta": lambda: eventcode.delta(_sliding(batch, num_steps), threshold=0.1, off_spike=True),
    }
    folder.mkdir(parents=True, exist_ok=True)
    _remove_listed(folder)
    written: list[str] = []
    dense_bytes = num_steps * batch.numel() * 4
    rows = []
    with _progress(len(codes) * 5, "demo", "step") as progress:
        for name, encode in codes.items():
            clock = time.perf_counter()
            events = encode()
            timings = {"encode": time.perf_counter() - clock}
            progress.update()
            clock = time.perf_counter()
            files = [f"{name}_{b:03d}.aedat4" for b in range(events.num_samples)]
            exporters.write(folder / f"{name}_{{:03d}}.aedat4", events, compression="lz4", dt_us=1000)
            exporters.write(folder / f"{name}.h5", events, dt_us=1000)
            written += [*files, f"{name}.h5"]
            timings["write"] = time.perf_counter() - clock
            progress.update()
            clock = time.perf_counter()
            back = [exporters.read(folder / file) for file in files]
            if Events.cat(back) != events or exporters.read(folder / f"{name}.h5") != events:
                raise EventcodeError(f"the {name} files did not read back equal to the events written")
            timings["read + check"] = time.perf_counter() - clock
            progress.update()
            clock = time.perf_counter()
            events.dense()
            timings["densify"] = time.perf_counter() - clock
            progress.update()
            frame = _middle_frame(events) if name == "delta" else plot.frame(events, sample=0)[0]
            for kind, figure in (("raster", plot.raster(events, sample=0)[0]), ("frame", frame)):
                figure.savefig(folder / f"{name}_{kind}.png", dpi=100)
                plot.pyplot().close(figure)
                written.append(f"{name}_{kind}.png")
            if name == "delta":
                plot.save(plot.animate(events, sample=0), folder / "delta.gif", fps=15)
                written.append("delta.gif")
            progress.update()
            aedat_bytes = sum((folder / file).stat().st_size for file in files)
            rows.append((name, len(events), aedat_bytes, (folder / f"{name}.h5").stat().st_size, timings))
    (folder / "manifest.json").write_text(json.dumps({"written_by": "eventcode demo", "files": written}))
    click.echo(
        f"\n{batch.shape[0]} MNIST digits, {num_steps} steps; a dense float32 [T, B, 1, 28, 28] is "
        f"{dense_bytes / 1e6:.1f} MB (delta's input: each digit sliding across the view, {num_steps} frames)"
    )
    compression = exporters.hdf5.info(folder / "rate.h5")["compression"]
    header = ("code", "events", "AEDAT4 (lz4)", f"HDF5 ({compression})", "vs dense")
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

    middle = events.num_steps // 2
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


@contextlib.contextmanager
def _progress(total: int | None, description: str, unit: str) -> Iterator[Any]:
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit=unit, unit_scale=unit == "event", file=sys.stderr) as bar:
        yield bar


# ---------------------------------------------------------------------- encode
@main.command()
@click.option("--code", type=click.Choice(CODES), required=True, help="The encoder.")
@click.argument("source", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--num-steps", type=click.IntRange(min=1), help="Time steps (rate, latency).")
@click.option("--threshold", type=click.FloatRange(min=0), help="Threshold, >= 0 (latency, delta).")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other encoder option, parsed by its type (e.g. clip=False, normalize=true, tau=5).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the rate code.")
@click.option("--limit", type=click.IntRange(min=1), help="Encode only the first LIMIT images.")
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    help="Pixel value of full intensity (e.g. 255 for float 0-255 images, 4095 for 12-bit ones). "
    "Default: uint8/uint16 by their range, other integers of 0-255 by 255; floats must be in [0, 1].",
)
@click.option("--compression", help=COMPRESSION_HELP)
@click.option(
    "--dt-us",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Microseconds per step in the file.",
)
def encode(
    code: str,
    source: Path,
    target: Path,
    num_steps: int | None,
    threshold: float | None,
    options: tuple[str, ...],
    seed: int,
    limit: int | None,
    scale: float | None,
    compression: str | None,
    dt_us: int,
) -> None:
    """Encode SOURCE (MNIST IDX, .npy/.npz, or an image folder) into TARGET (any supported format).

    For delta, SOURCE holds frame sequences ``[N, T, ...]`` (one sequence per sample). A TARGET
    format holding one stream per file needs a ``{}`` placeholder for one file per sample.
    """
    import exporters

    explicit = {k: v for k, v in (("num_steps", num_steps), ("threshold", threshold)) if v is not None}
    settings = encoder_options(code, options, explicit)
    fmt = exporters.detect(target, sniff=False)
    _refuse_same(source, target)
    images = _images(source, scale)[:limit]
    if not fmt.batched and len(images) > 1 and "{" not in str(target):
        raise OptionError(f"{fmt.name} holds one sample per file: put a {{}} placeholder in {target}")
    recorded = {"code": code, **settings, **({"seed": seed} if code == "rate" else {})}
    extra = _compression(fmt, compression)
    with contextlib.ExitStack() as stack, _progress(len(images), f"encode {code}", "sample") as bar:
        writer = None
        for start in range(0, len(images), BATCH):
            events = _encoded(code, images[start : start + BATCH], settings, seed + start)
            if fmt.batched:
                if writer is None:
                    writer = stack.enter_context(
                        fmt.module.Writer(
                            target,
                            shape=events.shape,
                            batched=True,
                            num_steps=events.num_steps,
                            dt_us=dt_us,
                            encoding=recorded,
                            **extra,
                        )
                    )
                writer.write(events)
            else:
                for b in range(events.num_samples):
                    name = str(target).format(start + b)
                    exporters.write(name, events[b], format=fmt.name, dt_us=dt_us, **extra)
            bar.update(events.num_samples)
    click.echo(f"encoded {len(images)} samples with {code} into {_targets(target, len(images))}")


def _compression(fmt: Any, name: str | None) -> dict[str, str]:
    """``{"compression": canonical name}`` for the writer, or ``{}`` for the format's default.

    Checked before any work starts, so a misspelt codec fails at once.
    """
    from exporters.compression import canonical

    return {} if name is None else {"compression": canonical(name, fmt.module.COMPRESSIONS, fmt.description)}


def _targets(target: Path, count: int) -> str:
    """The file(s) a write made: the path, or the first and last of a ``{}`` series."""
    text = str(target)
    if "{" not in text:
        return text
    if count == 1:
        return text.format(0)
    return f"{count} files, {text.format(0)} ... {text.format(count - 1)}"


def _encoded(code: str, batch: torch.Tensor, settings: dict[str, Any], seed: int) -> Events:
    """A batch of images (frame sequences for delta) encoded into one batch of events."""
    import torch

    from eventcode.events import Events
    from eventcode.transforms import ENCODERS, Encode

    if code == "delta":
        return Events.cat([Encode("delta", **settings)(sequence) for sequence in batch])
    extra = {"generator": torch.Generator().manual_seed(seed)} if code == "rate" else {}
    return ENCODERS[code](batch, **extra, **settings)


def encoder_options(code: str, texts: tuple[str, ...], explicit: Mapping[str, Any]) -> dict[str, Any]:
    """``--option KEY=VALUE`` texts parsed against the encoder's typed signature, plus ``explicit``.

    Booleans take Python's and JSON's spellings (``True``/``true``/``1``...), ``None``/``null``
    fill optional options, numbers are checked, and literals must be one of their values.

    Raises
    ------
    OptionError
        A text without ``=``, an unknown key (the message lists the valid ones) or a value that
        does not parse as the option's type.

    Examples
    --------
    >>> from eventcode.cli import encoder_options
    >>> encoder_options("latency", ("clip=False", "normalize=true", "tau=5"), {"num_steps": 8})
    {'clip': False, 'normalize': True, 'tau': 5.0, 'num_steps': 8}
    """
    from eventcode.transforms import ENCODERS

    hints = typing.get_type_hints(ENCODERS[code])
    valid = {name: kind for name, kind in hints.items() if name not in NOT_SETTABLE}
    settings: dict[str, Any] = {}
    for text in texts:
        key, equals, value = text.partition("=")
        key = key.strip().replace("-", "_")
        if not key or not equals:
            raise OptionError(f"--option takes KEY=VALUE, got {text!r}")
        if key not in valid:
            raise OptionError(
                f"--option {key}: {code} has no such option; valid keys: {', '.join(sorted(valid))}"
            )
        settings[key] = _parsed(key, value, valid[key])
    for key, value in explicit.items():
        if key not in valid:
            raise OptionError(f"--{key.replace('_', '-')} is not an option of {code}")
        settings[key] = value
    return settings


_TRUE, _FALSE, _NONE = ("true", "1", "yes"), ("false", "0", "no"), ("none", "null")


def _parsed(key: str, text: str, annotation: object) -> object:
    """``text`` as a value of ``annotation`` (a type, a union of types, or a Literal)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = typing.get_args(annotation)
    else:
        kinds = (annotation,)
    word = text.strip()
    for kind in kinds:
        if kind is type(None) and word.lower() in _NONE:
            return None
        if kind is bool and word.lower() in _TRUE + _FALSE:
            return word.lower() in _TRUE
        if typing.get_origin(kind) is typing.Literal and word in typing.get_args(kind):
            return word
        if kind in (int, float):
            with contextlib.suppress(ValueError):
                number = float(word)
                if math.isfinite(number) and (kind is float or number == int(number)):
                    return kind(number)
        if kind is str:
            return text
    expected = " or ".join(_type_name(kind) for kind in kinds)
    raise OptionError(f"--option {key}={text!r}: expected {expected}")


def _type_name(kind: object) -> str:
    if kind is type(None):
        return "None"
    if typing.get_origin(kind) is typing.Literal:
        return " or ".join(repr(v) for v in typing.get_args(kind))
    return {bool: "true/false", int: "an integer", float: "a finite number"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def _refuse_same(source: Path, target: Path) -> None:
    """Refuse a TARGET that is the SOURCE file itself (the same inode, by any name)."""
    if target.exists() and source.exists() and os.path.samefile(source, target):
        raise OptionError(f"{target} is the source file itself; choose another output path")


def _images(source: Path, scale: float | None) -> torch.Tensor:
    """Images as floats in [0, 1]: ``[N, ...]`` from IDX, numpy or an image folder (see ``--scale``)."""
    import numpy as np

    from eventcode.transforms import as_values

    if source.is_dir():
        from PIL import Image

        files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
        if not files:
            raise OptionError(f"{source}: no .png/.jpg/.bmp images in the folder")
        array = np.stack([np.asarray(Image.open(p).convert("L")) for p in files])[:, None]
    elif source.suffix in (".npy", ".npz"):
        loaded = np.load(source)
        array = loaded[loaded.files[0]] if hasattr(loaded, "files") else loaded
    else:
        array = eventcode.datasets.read_idx(source)
        if array.ndim == 3:
            array = array[:, None]
    if array.ndim < 1 or len(array) == 0:
        raise OptionError(f"{source}: holds no images (shape {array.shape})")
    if array.dtype.kind not in "biuf":
        raise OptionError(f"{source}: pixels of dtype {array.dtype}; expected integers, floats or bools")
    values = as_values(np.ascontiguousarray(array), scale)
    if array.dtype.kind == "f" and scale is None:
        low, high = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or high > 1:
            raise OptionError(
                f"{source}: float pixels span {low:g} to {high:g}, outside [0, 1]; pass --scale with the "
                "value of full intensity (e.g. --scale 255)"
            )
    return values


# ---------------------------------------------------------------------- convert
@main.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--compression", help=COMPRESSION_HELP)
@click.option(
    "--dt-us",
    type=click.IntRange(min=1),
    help="Microseconds per step, for step-time streams into formats in microseconds.",
)
@click.option(
    "--chunk-events",
    type=click.IntRange(min=1),
    default=1 << 20,
    show_default=True,
    help="Events read and written at a time.",
)
@click.option(
    "--events-only", is_flag=True, help="Drop streams other than events without the warning that counts them."
)
@click.option(
    "--salvage", is_flag=True, help="Recover every complete packet of a truncated or damaged AEDAT 4.0 file."
)
def convert(
    source: Path,
    target: Path,
    compression: str | None,
    dt_us: int | None,
    chunk_events: int,
    events_only: bool,
    salvage: bool,
) -> None:
    """Convert SOURCE to TARGET (formats by suffix), streaming: files larger than memory work.

    AEDAT 4.0 to AEDAT 4.0 keeps every stream (IMU, triggers, frames) and the source's
    compression unless --compression says otherwise. Into a format that holds only events, the
    other streams are dropped with a warning that counts their records (--events-only silences it).
    """
    import exporters

    reader, writer_format = exporters.detect(source), exporters.detect(target, sniff=False)
    _refuse_same(source, target)
    if salvage and "salvage" not in _parameters(reader.module.read_chunks):
        raise OptionError(f"--salvage reads AEDAT 4.0 files; {source} is {reader.name}")
    salvaging = {"salvage": True} if salvage else {}
    extra = _compression(writer_format, compression)
    if reader.name == writer_format.name == "aedat4":
        total = _stream_summary(reader, source, salvage)["events"]
        with _progress(total, "convert", "event") as bar:
            exporters.aedat4.transcode(
                source,
                target,
                extra.get("compression"),
                progress=lambda done: bar.update(done - bar.n),
                **salvaging,
            )
        click.echo(f"converted {source} (aedat4) to {target} (aedat4, every stream)")
        return
    summary = _stream_summary(reader, source, salvage)
    dropped = [s for s in summary["streams"] if s["id"] != summary["event_stream"] and s["records"]]
    if dropped and not events_only:
        counts = "; ".join(f"{s['records']:,} {s['unit']} (stream {s['id']}, {s['kind']})" for s in dropped)
        warnings.warn(
            f"{writer_format.name} holds only events: dropping {counts}; "
            "pass --events-only to drop them without this warning",
            DataLossWarning,
            stacklevel=1,
        )
    dt_us = dt_us or summary.get("dt_us")
    chunks = reader.module.read_chunks(source, chunk_events, **salvaging)
    written = 0
    with _progress(summary["events"], "convert", "event") as bar:
        first = next(chunks, None)
        if first is None:
            raise OptionError(f"{source}: holds no events; nothing to convert")
        options = {"shape": first.shape, "num_steps": first.num_steps, **extra}
        if dt_us is not None:
            options["dt_us"] = dt_us
        samples = first.num_samples > 1 or (summary.get("samples") or 1) > 1
        if samples and not writer_format.batched and "{" not in str(target):
            raise OptionError(
                f"{source} holds {summary.get('samples')} samples and {writer_format.name} one per file: "
                f"put a {{}} placeholder in {target} for one file per sample"
            )
        if samples and not writer_format.batched:
            for chunk in _chained(first, chunks):  # one file per sample
                for b in range(chunk.num_samples):
                    exporters.write(
                        str(target).format(written + b),
                        chunk[b],
                        format=writer_format.name,
                        dt_us=dt_us,
                        **extra,
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
            written = 1
    shown = _targets(target, written) if samples and not writer_format.batched else str(target)
    click.echo(f"converted {source} ({reader.name}) to {shown} ({writer_format.name})")


def _parameters(function: Callable[..., Any]) -> Mapping[str, Any]:
    import inspect

    return inspect.signature(function).parameters


def _chained(first: Events, rest: Iterator[Events]) -> Iterator[Events]:
    yield first
    yield from rest


# ---------------------------------------------------------------------- info
@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def info(path: Path, as_json: bool) -> None:
    """Summarize an event file: streams, events, time range, rate, polarity balance, encoding."""
    import exporters

    fmt = exporters.detect(path)
    summary = {"path": str(path), "format": fmt.name, **_stream_summary(fmt, path)}
    summary |= _statistics(fmt.module.read_columns(path), summary)
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    for key, value in _readable(summary).items():
        click.echo(f"{key:>14}: {value}")


def _stream_summary(fmt: Any, path: Path, salvage: bool = False) -> dict[str, Any]:
    """What the format's ``info`` says: compression, geometry, time, samples, every stream.

    With ``salvage``, a damaged file's complete packets are described without a warning (the
    read that follows gives it).
    """
    if not salvage:
        meta = fmt.module.info(path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataLossWarning)
            meta = fmt.module.info(path, salvage=True)
    if isinstance(meta, dict):  # HDF5: one event stream, with samples and the encoding
        return {
            "compression": meta["compression"],
            "sensor_size": list(meta["sensor_size"]),
            "shape": list(meta["shape"]),
            "time_unit": meta["time_unit"],
            "num_steps": meta["num_steps"],
            "dt_us": meta["dt_us"],
            "samples": meta["samples"],
            "events": meta["events"],
            "encoding": meta["encoding"],
            "event_stream": 0,
            "streams": [
                {"id": 0, "type": "events", "kind": "events", "records": meta["events"], "unit": "events"}
            ],
        }
    streams = [
        {
            "id": stream.id,
            "type": stream.name or _KINDS.get(stream.type, stream.type),
            "kind": stream.type,
            "records": stream.records,
            "unit": _UNITS.get(stream.type, "records"),
        }
        for stream in meta.streams.values()
    ]
    events = sum(s["records"] or 0 for s in streams if s["id"] == meta.event_stream)
    return {
        "compression": meta.compression,
        "sensor_size": list(meta.sensor_size) if meta.sensor_size else None,
        "shape": list(meta.shape) if meta.shape else None,
        "time_unit": "step" if meta.dt_us is not None else "us",
        "num_steps": meta.num_steps,
        "dt_us": meta.dt_us,
        "samples": 1,
        "events": events,
        "event_stream": meta.event_stream,
        "streams": streams,
    }


_KINDS = {"EVTS": "events", "IMUS": "imu", "TRIG": "triggers", "FRME": "frames"}
_UNITS = {"EVTS": "events", "IMUS": "IMU samples", "TRIG": "triggers", "FRME": "frames"}


def _statistics(chunks: Iterator[Mapping[str, np.ndarray]], summary: Mapping[str, Any]) -> dict[str, Any]:
    """Event count, time range, rate and ON share from numpy column chunks (no torch)."""
    count = on = 0
    first = last = None
    for columns in chunks:
        t = columns["t"]
        if len(t):
            low, high = int(t.min()), int(t.max())
            first = low if first is None else min(first, low)
            last = high if last is None else max(last, high)
        count += len(t)
        on += int(columns["p"].sum())
    duration = last - first if count else 0
    stats: dict[str, Any] = {"events": count, "first_t": first, "last_t": last, "duration": duration}
    if summary["time_unit"] == "us":
        stats["duration_s"] = _rounded(duration / 1e6)
        stats["event_rate_per_s"] = _rounded(count / (duration / 1e6)) if duration else None
    else:
        stats["event_rate_per_step"] = _rounded(count / max(1, summary["num_steps"] or 1))
        if summary["dt_us"]:
            stats["duration_s"] = _rounded(duration * summary["dt_us"] / 1e6)
    stats["on_fraction"] = round(on / count, 4) if count else None
    return stats


def _rounded(value: float, digits: int = 4) -> float:
    """``value`` to ``digits`` significant digits."""
    return float(f"{value:.{digits}g}")


def _number(value: float) -> str:
    """A rounded number without an exponent: ``189,800`` or ``12.35``."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _readable(summary: Mapping[str, Any]) -> dict[str, str]:
    """The summary as labelled lines with units."""
    unit = "us" if summary["time_unit"] == "us" else "steps"
    lines = {
        "path": summary["path"],
        "format": summary["format"],
        "compression": summary["compression"],
    }
    if summary["sensor_size"]:
        width, height, _ = summary["sensor_size"]
        lines["sensor"] = f"{width} x {height} pixels (W x H), sample shape {tuple(summary['shape'])}"
    if summary["time_unit"] == "step":
        step = f", {summary['dt_us']:,} us per step" if summary["dt_us"] else ""
        lines["time"] = f"{summary['num_steps']} steps{step}"
    else:
        lines["time"] = "microseconds"
    lines["samples"] = f"{summary['samples']:,}"
    lines["events"] = f"{summary['events']:,}"
    if summary["first_t"] is not None:
        lines["first / last"] = f"{summary['first_t']:,} / {summary['last_t']:,} {unit}"
        duration = f"{summary['duration']:,} {unit}"
        if summary.get("duration_s") is not None:
            duration += f" ({summary['duration_s']:g} s)"
        lines["duration"] = duration
    if summary.get("event_rate_per_s") is not None:
        lines["event rate"] = f"{_number(summary['event_rate_per_s'])} events/s"
    if summary.get("event_rate_per_step") is not None:
        lines["event rate"] = f"{_number(summary['event_rate_per_step'])} events/step"
    if summary["on_fraction"] is not None:
        lines["ON fraction"] = f"{summary['on_fraction']:.1%}"
    lines["streams"] = "; ".join(
        f"{s['id']} {s['type']} ({s['kind']}): "
        + ("?" if s["records"] is None else f"{s['records']:,}")
        + f" {s['unit']}"
        for s in summary["streams"]
    )
    if summary.get("encoding"):
        lines["encoding"] = ", ".join(f"{k}={v}" for k, v in summary["encoding"].items())
    return lines


# ---------------------------------------------------------------------- view
@main.command()
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
    "--frames",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Animation frames of a microsecond stream.",
)
def view(path: Path, target: Path, kind: str | None, sample: int, frames: int) -> None:
    """Draw an event file: an accumulated frame, a raster, a rate histogram or an animation."""
    import exporters
    from eventcode import plot

    plot.pyplot().switch_backend("Agg")
    fmt = exporters.detect(path)
    if not fmt.batched and sample:
        raise OptionError(f"{path} holds one stream ({fmt.name}); --sample must be 0")
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
