"""``eventcode info``: every stream of a file, its events, time range, rate and encoding, without torch."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventcode.errors import DataLossWarning

if TYPE_CHECKING:
    import numpy as np


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def info(path: Path, as_json: bool) -> None:
    """Summarize an event file: streams, events, time range, rate, polarity balance, encoding."""
    import exporters

    fmt = exporters.for_reading(path)
    summary = {"path": str(path), **stream_summary(fmt, path)}
    with warnings.catch_warnings():  # the streams a reader skips are listed above: no warning
        warnings.simplefilter("ignore", DataLossWarning)
        summary |= _statistics(fmt.module.read_columns(path), summary)
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    for key, value in _readable(summary).items():
        click.echo(f"{key:>14}: {value}")


def stream_summary(fmt: Any, path: Path, salvage: bool = False) -> dict[str, Any]:
    """What the format's ``info`` says (:class:`exporters.contract.FileInfo`), as plain values.

    With ``salvage``, a damaged file's complete packets are described without a warning (the
    read that follows gives it).
    """
    if not salvage:
        meta = fmt.module.info(path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataLossWarning)
            meta = fmt.module.info(path, salvage=True)
    events = next((s.id for s in meta.streams if s.type == "EVTS"), None)
    streams = [
        {
            "id": stream.id,
            "type": stream.name or _KINDS.get(stream.type, stream.type),
            "kind": stream.type,
            "records": stream.records,
            "unit": _UNITS.get(stream.type, "records"),
        }
        for stream in meta.streams
    ]
    shown = {k: v for k, v in meta.extras.items() if isinstance(v, (str, int, float, bool, dict))}
    return {
        "format": meta.format,
        "compression": meta.compression,
        "sensor_size": list(meta.sensor_size) if meta.sensor_size else None,
        "shape": list(meta.shape) if meta.shape else None,
        "time_unit": meta.time_unit,
        "num_steps": meta.num_steps,
        "dt_us": meta.dt_us,
        "polarities": meta.polarities,
        "samples": meta.samples,
        "events": meta.events,
        "event_stream": events,
        "streams": streams,
        "extras": shown,
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
    duration = last - first if first is not None and last is not None else 0
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
        kinds = {2: "ON/OFF", 1: "1 polarity", 0: "no polarity"}[summary["polarities"]]
        lines["sensor"] = (
            f"{width} x {height} pixels (W x H), {kinds}, sample shape {tuple(summary['shape'])}"
        )
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
    for key, value in summary["extras"].items():  # what else the format records: encoder options...
        text = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
        if text:
            lines[key.replace("_", " ")] = text
    return lines
