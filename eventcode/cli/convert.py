"""``eventcode convert``: any readable format to any writable one, streaming, nothing dropped silently."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
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
    targets,
)
from eventcode.cli.info import stream_summary
from eventcode.errors import DataLossWarning, OptionError

if TYPE_CHECKING:
    from eventcode.events import Events


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--compression", help=COMPRESSION_HELP)
@click.option("--format", "format_name", help=FORMAT_HELP)
@click.option("--camera", help=CAMERA_HELP)
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
    "--salvage",
    is_flag=True,
    help="Recover every complete packet of a truncated or damaged AEDAT 4.0 or 3.1 file.",
)
def convert(
    source: Path,
    target: Path,
    compression: str | None,
    format_name: str | None,
    camera: str | None,
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

    reader, writer_format = exporters.for_reading(source), exporters.for_writing(target, format_name)
    refuse_same(source, target)
    if salvage and "salvage" not in _parameters(reader.module.read_chunks):
        raise OptionError(f"--salvage reads AEDAT 4.0 and 3.1 files; {source} is {reader.name}")
    salvaging = {"salvage": True} if salvage else {}
    extra = compression_option(writer_format, compression)
    extra.update(camera_option(writer_format, camera, target))
    if reader.name == writer_format.name and hasattr(reader.module, "transcode"):
        total = stream_summary(reader, source, salvage)["events"]
        with progress(total, "convert", "event") as bar:
            reader.module.transcode(  # a format that keeps every stream copies itself
                source,
                target,
                extra.get("compression"),
                progress=lambda done: bar.update(done - bar.n),
                **salvaging,
            )
        click.echo(f"converted {source} ({reader.name}) to {target} ({reader.name}, every stream)")
        return
    summary = stream_summary(reader, source, salvage)
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
    with progress(summary["events"], "convert", "event") as bar:
        first = next(chunks, None)
        if first is None:  # an empty file: converted to an empty file of the same sensor
            first = reader.module.read(source, **salvaging)
        options = {
            "shape": first.shape,
            "num_steps": first.num_steps,
            "polarities": first.polarities,
            **extra,
        }
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
    shown = targets(target, written) if samples and not writer_format.batched else str(target)
    click.echo(f"converted {source} ({reader.name}) to {shown} ({writer_format.name})")


def _parameters(function: Callable[..., Any]) -> Mapping[str, Any]:
    import inspect

    return inspect.signature(function).parameters


def _chained(first: Events, rest: Iterator[Events]) -> Iterator[Events]:
    yield first
    yield from rest
