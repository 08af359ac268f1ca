"""One shard of a dataset conversion (:func:`exporters.dataset.convert`): the task a worker runs.

:func:`convert_shard` is a pure function of a small :class:`Job` (the shard's index and sample
range, the options, the shard's record from an earlier run) and the scattered :class:`Source`
(the dataset, its encoder and seed). It skips a shard whose files match the earlier record,
else loads (and encodes) each sample, writes the shard atomically, hashes its files and records
them in ``OUT/.pending`` (:mod:`exporters.manifest`). It never raises but for an interrupt: a
failure is a result naming the sample, so the other shards go on.

- One batched file a shard (:class:`ShardFile`): the format's atomic ``Writer(batched=True)``,
  appended :data:`GROUP_SAMPLES` samples or :data:`GROUP_EVENTS` events at a time.
- One file a sample (:class:`SampleFiles`): written into a hidden ``.shard-NNNNN.<pid>.<hex>.partial``
  folder, renamed into place whole.

Examples
--------
>>> import tempfile, pathlib, torch
>>> from eventcode.transforms import Encode
>>> from exporters.shard import Job, Source, convert_shard
>>> images = [(torch.rand(1, 4, 4), label) for label in range(3)]
>>> out = tempfile.mkdtemp()
>>> job = Job(out, shard=0, start=0, stop=3, format="hdf5", per_sample=False, compression="gzip",
...           dt_us=1000, encoding=None, previous=None, verify=True)
>>> result = convert_shard(job, Source(images, Encode("rate", num_steps=5), seed=0))
>>> result["status"], result["record"]["targets"], result["record"]["files"][0]["name"]
('done', [0, 1, 2], 'shard-00000.h5')
>>> import dataclasses
>>> convert_shard(dataclasses.replace(job, previous=result["record"]), Source(images, None, 0))["status"]
'skipped'
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import os
import secrets
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

import exporters
from eventcode.datasets import EncodedDataset, MapDataset
from eventcode.errors import ExportError, OptionError, OptionTypeError
from eventcode.events import Events
from eventcode.tonic import from_tonic
from exporters import manifest

GROUP_SAMPLES = 256
"""A batched shard file is appended this many samples at a time (or :data:`GROUP_EVENTS`)."""
GROUP_EVENTS = 1 << 20
"""... or as many samples as hold this many events, whichever comes first."""


@dataclasses.dataclass(frozen=True)
class Job:
    """What a shard task needs besides the dataset: small, pickled with each task."""

    out: str
    shard: int
    start: int
    stop: int
    format: str
    per_sample: bool
    compression: str
    dt_us: int
    encoding: dict[str, Any] | None
    previous: manifest.Record | None
    verify: bool


class Source:
    """The dataset as the tasks see it (scattered to the workers once): ``item(i)`` is one
    sample's ``Events`` and its target as JSON values."""

    def __init__(self, dataset: MapDataset, encoder: Callable[..., Events] | None, seed: int) -> None:
        self.dataset = dataset if encoder is None else EncodedDataset(dataset, encoder, seed)

    def item(self, index: int) -> tuple[Events, Any]:
        item = self.dataset[index]
        data, target = item if isinstance(item, tuple) and len(item) == 2 else (item, None)
        if isinstance(data, np.ndarray) and data.dtype.names:
            data = from_tonic(data, sensor_size=getattr(self.dataset, "sensor_size", None))
        if not isinstance(data, Events):
            raise OptionTypeError(
                f"sample {index} is a {type(data).__name__}, not events: pass encode= (a code such as "
                "'rate', or a callable) to convert images"
            )
        if data.num_samples != 1:
            raise OptionError(
                f"sample {index} holds {data.num_samples} samples of events; an item is one sample"
            )
        return data.to("cpu"), _plain(target, index)


class _SampleError(Exception):
    """Loading or writing sample ``index`` failed (the cause says why)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def convert_shard(job: Job, source: Source) -> dict[str, Any]:
    """The task of one shard: skip it if its files match ``job.previous``, else write it and its
    record. Never raises (but for an interrupt): a failure is a result naming the sample."""
    out = Path(job.out)
    try:
        if job.previous is not None and manifest.matches(out, job.previous, job.verify):
            return {"status": "skipped", "shard": job.shard, "record": job.previous}
        record = _write_shard(job, source, out)
        manifest.save_pending(out, record)
    except _SampleError as err:
        cause = err.__cause__ if isinstance(err.__cause__, Exception) else err
        return failed(job, err.index, cause)
    except Exception as err:
        return failed(job, None, err)
    return {"status": "done", "shard": job.shard, "record": record}


def failed(job: Job, index: int | None, error: BaseException) -> dict[str, Any]:
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    message = f"{type(error).__name__}: {error}"
    return {"status": "failed", "shard": job.shard, "sample": index, "error": message, "traceback": trace}


def _write_shard(job: Job, source: Source, out: Path) -> manifest.Record:
    fmt = exporters.for_writing(out, job.format)
    sink: Sink = SampleFiles(job, fmt, out) if job.per_sample else ShardFile(job, fmt, out)
    counts: list[int] = []
    targets: list[Any] = []
    first: tuple[object, ...] | None = None
    uniform = True
    with sink:
        for index in range(job.start, job.stop):
            try:
                events, target = source.item(index)
                geometry = _geometry(events)
                first = geometry if first is None else first
                if geometry != first and not job.per_sample:
                    raise ExportError(
                        f"its {_described(geometry)} differ from the shard's first sample's "
                        f"{_described(first)}: the samples of one file share them (per_sample=True writes "
                        "a file a sample)"
                    )
                uniform = uniform and geometry == first
                sink.add(index, events)
            except Exception as err:
                raise _SampleError(index) from err
            counts.append(len(events))
            targets.append(target)
            if sink.full:
                sink.flush()
    shape, time_unit, num_steps, polarities, sensor_size = first or (None,) * 5
    sample = {
        "shape": shape,
        "sensor_size": sensor_size,
        "time_unit": time_unit,
        "num_steps": num_steps,
        "polarities": polarities,
    }
    return {
        "shard": job.shard,
        "samples": [job.start, job.stop],
        "events": counts,
        "targets": targets,
        "files": sink.files,
        "sample": sample if uniform and first is not None else None,
    }


def _geometry(events: Events) -> tuple[object, ...]:
    return (
        list(events.shape),
        events.time_unit,
        events.num_steps,
        events.polarities,
        list(events.sensor_size),
    )


def _described(geometry: tuple[object, ...]) -> str:
    shape, unit, steps, polarities, _ = geometry
    return f"shape {tuple(shape)}, time unit {unit!r}, num_steps {steps}, polarities {polarities}"  # type: ignore[arg-type]


def _plain(target: object, index: int) -> Any:
    """A target as JSON values (arrays, tensors and numpy scalars as lists and numbers)."""
    if isinstance(target, torch.Tensor | np.ndarray | np.generic):
        target = target.tolist()
    try:
        return json.loads(json.dumps(target))
    except (TypeError, ValueError) as err:
        raise OptionTypeError(
            f"the target of sample {index} ({type(target).__name__}) does not serialize to JSON ({err}): "
            "targets are kept in the manifest; make them numbers, strings or lists"
        ) from None


def _write_options(
    fmt: exporters.Format, job: Job, events: Events, writer: Callable[..., Any]
) -> dict[str, Any]:
    options: dict[str, Any] = {"compression": job.compression}
    if events.time_unit == "step":
        options["dt_us"] = job.dt_us
    if job.encoding is not None and "encoding" in inspect.signature(writer).parameters:
        options["encoding"] = job.encoding
    return options


class Sink:
    """Where a shard's samples go; a context whose clean exit puts the shard's files in place."""

    full = False
    files: list[dict[str, Any]]

    def add(self, index: int, events: Events) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write what :meth:`add` buffered."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        raise NotImplementedError


class ShardFile(Sink):
    """A shard as one batched file (the format's atomic ``Writer``), appended a group at a time."""

    def __init__(self, job: Job, fmt: exporters.Format, out: Path) -> None:
        self.job, self.fmt = job, fmt
        self.name = f"shard-{job.shard:05d}{fmt.suffixes[0]}"
        self.path = out / self.name
        self.stack = contextlib.ExitStack()
        self.writer: Any = None
        self.group: list[Events] = []
        self.events = 0

    def add(self, index: int, events: Events) -> None:
        if self.writer is None:  # opened at the first sample: its geometry is the file's
            writer = self.fmt.module.Writer
            self.writer = self.stack.enter_context(
                writer(
                    self.path,
                    shape=events.shape,
                    polarities=events.polarities,
                    batched=True,
                    num_steps=events.num_steps,
                    **_write_options(self.fmt, self.job, events, writer),
                )
            )
        self.group.append(events)
        self.events += len(events)
        self.full = len(self.group) >= GROUP_SAMPLES or self.events >= GROUP_EVENTS

    def flush(self) -> None:
        if self.group:
            self.writer.write(Events.cat(self.group))
        self.group, self.events, self.full = [], 0, False

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if error is not None:  # the writer removes its temporary file
            self.stack.__exit__(kind, error, trace)
            return
        with self.stack:  # a flush that fails reaches the writer, which then removes its file
            self.flush()
        self.files = [manifest.entry(self.path, self.name)]


class SampleFiles(Sink):
    """A shard as one file per sample, written in a hidden folder renamed into place at the end."""

    def __init__(self, job: Job, fmt: exporters.Format, out: Path) -> None:
        self.job, self.fmt = job, fmt
        self.final = out / f"shard-{job.shard:05d}"
        self.temporary = out / f".{self.final.name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
        self.names: list[str] = []

    def __enter__(self) -> SampleFiles:
        self.temporary.mkdir()
        return self

    def add(self, index: int, events: Events) -> None:
        name = f"{index:08d}{self.fmt.suffixes[0]}"
        write = self.fmt.module.write
        write(self.temporary / name, events, **_write_options(self.fmt, self.job, events, write))
        self.names.append(name)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        old = self.temporary.with_name(self.temporary.name.replace(".partial", ".old.partial"))
        try:
            if error is None:
                self.files = [
                    manifest.entry(self.temporary / n, f"{self.final.name}/{n}") for n in self.names
                ]
                if self.final.exists():
                    self.final.rename(old)
                self.temporary.rename(self.final)
        finally:
            shutil.rmtree(self.temporary, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
