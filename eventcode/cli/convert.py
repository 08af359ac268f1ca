"""``eventcode convert``: any readable format to any writable one, streaming, nothing dropped silently."""

from __future__ import annotations

import contextlib
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
@click.option(
    "--parts",
    type=click.IntRange(min=1),
    help="Cut SOURCE into this many time ranges of about equal events and convert them in parallel "
    "(a Dask task each); default with --workers: 4 per worker.",
)
@click.option(
    "--span-us",
    type=click.IntRange(min=1),
    help="Cut SOURCE into time ranges of this many microseconds instead, converted in parallel.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes of the local Dask cluster the ranges run on; default one per core.",
)
@click.option(
    "--scheduler",
    help="Address of a running Dask scheduler (tcp://host:8786) to run the ranges on, instead of a "
    "local cluster.",
)
@click.option(
    "--per-range",
    is_flag=True,
    help="With ranges: write one file per range into the folder TARGET (part-00000.<suffix>... and "
    "manifest.json) instead of one file.",
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
    parts: int | None,
    span_us: int | None,
    workers: int | None,
    scheduler: str | None,
    per_range: bool,
) -> None:
    """Convert SOURCE to TARGET (formats by suffix), streaming: files larger than memory work.

    AEDAT 4.0 to AEDAT 4.0 keeps every stream (IMU, triggers, frames) and the source's
    compression unless --compression says otherwise. Into a format that holds only events, the
    other streams are dropped with a warning that counts their records (--events-only silences it).

    With --parts, --span-us, --workers, --scheduler or --per-range, SOURCE (one long recording)
    is cut into time ranges converted in parallel on a Dask cluster (event stream only), then
    assembled in order into TARGET; a run that is interrupted resumes where it stopped when run
    again.
    """
    import exporters

    cutting: dict[str, Any] = {"parts": parts, "span_us": span_us, "workers": workers, "scheduler": scheduler}
    if per_range or any(value is not None for value in cutting.values()):
        common: dict[str, Any] = {
            "compression": compression,
            "format_name": format_name,
            "camera": camera,
            "dt_us": dt_us,
        }
        _convert_ranges(source, target, chunk_events, events_only, salvage, per_range, **common, **cutting)
        return
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


def _convert_ranges(
    source: Path,
    target: Path,
    chunk_events: int,
    events_only: bool,
    salvage: bool,
    per_range: bool,
    *,
    compression: str | None,
    format_name: str | None,
    camera: str | None,
    dt_us: int | None,
    parts: int | None,
    span_us: int | None,
    workers: int | None,
    scheduler: str | None,
) -> None:
    """``convert`` of one recording in time ranges, a Dask task each
    (:func:`exporters.recording.convert_recording`)."""
    import exporters
    from exporters.recording import convert_recording

    if parts is not None and span_us is not None:
        raise OptionError("give --parts or --span-us, not both")
    if workers is not None and scheduler is not None:
        raise OptionError(
            "--workers sizes the local cluster; --scheduler names a running one: give one of them"
        )
    reader = exporters.for_reading(source)
    if per_range:  # a folder of pieces: the format named, else the source's
        writer_format = exporters.for_writing(target / "x", format_name or reader.name)
    else:
        writer_format = exporters.for_writing(target, format_name)
    refuse_same(source, target)
    if salvage and "salvage" not in _parameters(reader.module.read_chunks):
        raise OptionError(f"--salvage reads AEDAT 4.0 and 3.1 files; {source} is {reader.name}")
    extra: dict[str, Any] = compression_option(writer_format, compression)
    extra.update(camera_option(writer_format, camera, target))
    with contextlib.ExitStack() as stack:
        client = None
        if scheduler is not None:
            from distributed import Client

            client = stack.enter_context(Client(scheduler, timeout=30))  # type: ignore[no-untyped-call]
        stack.enter_context(warnings.catch_warnings())
        if events_only:
            warnings.filterwarnings(
                "ignore", message=".*the ranges hold the event stream only", category=DataLossWarning
            )
        summary = convert_recording(
            source,
            target,
            format=writer_format.name,
            parts=parts,
            span_us=span_us,
            one_output=not per_range,
            client=client,
            workers=workers,
            read_options={"salvage": True} if salvage else None,
            dt_us=dt_us,
            chunk_events=chunk_events,
            **extra,
        )
    shown = f"{len(summary.files)} files in {target}" if per_range else str(target)
    resumed = f", {len(summary.skipped)} resumed" if summary.skipped else ""
    click.echo(
        f"converted {source} ({reader.name}) to {shown} ({writer_format.name}): {summary.ranges} time ranges "
        f"on {summary.scheduler}{resumed}"
    )


def _parameters(function: Callable[..., Any]) -> Mapping[str, Any]:
    import inspect

    return inspect.signature(function).parameters


def _chained(first: Events, rest: Iterator[Events]) -> Iterator[Events]:
    yield first
    yield from rest
