"""Whole datasets as sharded event files: converted on a Dask cluster, resumable, read back lazily.

:func:`convert` cuts a map-style dataset into shards of ``shard_size`` consecutive samples and
makes each shard one task: load (and encode) its samples, write them (one batched file, or one
file per sample), hash the files and record them. Tasks run on a local ``dask.distributed``
cluster (one single-threaded worker process per core) by default, on any ``Client`` given, or in
this process (``client="sync"``). ``OUT/manifest.json`` (:mod:`exporters.manifest`) lists each
shard's samples, event counts, targets and file checksums, with the options, seed and library
versions. :class:`EventDataset` reads the result back one sample at a time.

- Datasets: anything with ``len`` and ``dataset[i]`` giving ``(sample, target)`` (or a bare
  sample): ``eventcode.Events`` (an :class:`~eventcode.datasets.EncodedDataset`, an
  :class:`EventDataset`, :class:`EventFiles`, a folder of event files), a Tonic structured array
  (a Tonic dataset: its ``sensor_size`` applies), or anything ``encode`` turns into events
  (torchvision's ``(image, label)``).
- Reproducible: sample ``i`` is encoded with ``eventcode.transforms.sample_generator(seed, i)``,
  exactly as :class:`~eventcode.datasets.EncodedDataset` does (which this module uses), and the
  files hold nothing that depends on the run, so the output is byte-identical whatever the number
  of workers and the order the shards run in.
- Resumable: a rerun with the same options skips each shard whose files match its record and
  redoes the rest; with other options it raises unless ``overwrite=True``. Files are written
  atomically (a shard of one file per sample in a hidden folder renamed into place), so a killed
  worker or run leaves no partial shard, and a run removes the temporaries of killed writers.
- Failures: a sample that raises fails its shard only; the other shards finish and are kept, and
  :class:`ConversionError` then names each failed sample and shard. A rerun after the fix redoes
  only the failed shards.

Examples
--------
>>> import tempfile, torch
>>> from exporters.dataset import EventDataset, convert
>>> images = [(torch.rand(1, 8, 8), label) for label in range(10)]  # torchvision's (image, label)
>>> out = tempfile.mkdtemp()
>>> rate = {"code": "rate", "num_steps": 20}
>>> convert(images, out, encode=rate, shard_size=4, client="sync", progress=False).done
(0, 1, 2)
>>> convert(images, out, encode=rate, shard_size=4, client="sync", progress=False).skipped  # resumed
(0, 1, 2)
>>> digits = EventDataset(out)
>>> events, label = digits[5]
>>> len(digits), label, events.num_steps, digits.sensor_size
(10, 5, 20, (8, 8, 2))
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime
import inspect
import json
import os
import pickle
import secrets
import shutil
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.utils.data

import exporters
from eventcode.datasets import EncodedDataset, MapDataset
from eventcode.errors import EventcodeError, ExportError, FileFormatError, OptionError, OptionTypeError
from eventcode.events import Events
from eventcode.options import positive_int
from eventcode.tonic import from_tonic
from eventcode.transforms import Encode, check_seed
from exporters import manifest
from exporters.compression import canonical

if TYPE_CHECKING:
    import dask.bag
    import distributed

__all__ = ["SHARD_SIZE", "ConversionError", "EventDataset", "EventFiles", "Failure", "Summary", "convert"]

SHARD_SIZE = 1024
"""Samples per shard unless told: 1,024 encoded MNIST digits of 100 steps are about 10 MB of HDF5."""
GROUP_SAMPLES = 256
"""A batched shard file is appended this many samples at a time (or :data:`GROUP_EVENTS`)."""
GROUP_EVENTS = 1 << 20
"""... or as many samples as hold this many events, whichever comes first."""

Sync = Literal["sync"]
"""``client="sync"``: run the shard tasks one after another in this process."""
Progress = bool | Callable[[int, str], object]
"""``True`` for a tqdm bar on stderr (after a second of work), ``False`` for none, or a callable
called as ``progress(shard, status)`` with ``"done"``, ``"skipped"`` or ``"failed"``."""


class ConversionError(EventcodeError, RuntimeError):
    """Samples or shards that failed in a :func:`convert` run; the other shards were kept.

    ``summary`` is the run's :class:`Summary`; ``summary.failed`` names each failure.
    """

    def __init__(self, summary: Summary) -> None:
        failed = summary.failed
        listed = "; ".join(str(failure).rstrip(".") for failure in failed[:5])
        more = f"; and {len(failed) - 5} more (manifest.json lists them)" if len(failed) > 5 else ""
        kept = len(summary.done) + len(summary.skipped)
        super().__init__(
            f"{len(failed)} of {summary.shards} shards failed: {listed}{more}. The {kept} finished shards "
            f"are kept in {summary.out}: fix the failing samples and run the same conversion again, "
            "which redoes only the failed shards"
        )
        self.summary = summary


@dataclasses.dataclass(frozen=True)
class Failure:
    """A shard that failed: at ``sample`` (None: not one sample's fault, e.g. its worker died)."""

    shard: int
    samples: tuple[int, int]
    """The shard's samples, ``start`` to ``stop`` (exclusive)."""
    sample: int | None
    error: str
    """The error, ``"TypeName: message"``."""
    traceback: str = dataclasses.field(default="", repr=False)
    """Where it was raised (in the worker), for debugging."""

    def __str__(self) -> str:
        if self.sample is not None:
            return f"sample {self.sample} (shard {self.shard}): {self.error}"
        return f"shard {self.shard} (samples {self.samples[0]}-{self.samples[1] - 1}): {self.error}"


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a :func:`convert` run did, shard by shard (indices in ascending order)."""

    out: Path
    shards: int
    """Shards of the dataset."""
    done: tuple[int, ...]
    """Shards written by this run."""
    skipped: tuple[int, ...]
    """Shards whose files an earlier run wrote and that match their records."""
    failed: tuple[Failure, ...]
    samples: int
    events: int
    """Events in the finished shards."""
    seconds: float

    @property
    def complete(self) -> bool:
        """Every shard is finished."""
        return not self.failed


def convert(
    dataset: MapDataset,
    out: str | os.PathLike[str],
    encode: Encode | str | Mapping[str, Any] | Callable[..., Events] | None = None,
    *,
    format: str = "hdf5",
    shard_size: int = SHARD_SIZE,
    seed: int | None = None,
    client: distributed.Client | Sync | None = None,
    workers: int | None = None,
    compression: str | None = None,
    dt_us: int = 1000,
    per_sample: bool | None = None,
    overwrite: bool = False,
    verify: bool = True,
    progress: Progress = True,
) -> Summary:
    """Convert a map-style dataset into sharded event files in the folder ``out``, one task a shard.

    Parameters
    ----------
    dataset : map-style dataset
        ``len(dataset)`` samples; ``dataset[i]`` is ``(sample, target)`` or a bare sample (target
        None). A sample is one sample's ``Events``, a Tonic structured array, or (with
        ``encode``) anything the encoder takes. Targets must serialize to JSON (ints, floats,
        strings, lists; arrays and tensors become lists): they are kept in the manifest. The
        dataset must pickle (cloudpickle) to reach the workers: it is scattered to them once.
    out : path
        The output folder (made if missing): ``manifest.json`` and the shards,
        ``shard-00000.h5`` ... for a batched format, ``shard-00000/00000000.aedat4`` ... (named by
        sample index) with one file per sample.
    encode : Encode, str, mapping or callable, optional
        How to turn a sample into events: an :class:`eventcode.transforms.Encode`, a code name
        (``"rate"``), a mapping ``{"code": "rate", "num_steps": 100, ...}`` (options as
        ``Encode`` takes them), or any callable ``encode(sample, generator=generator) -> Events``.
        The code and its options are recorded (a callable by its qualified name). Default none:
        samples are events already.
    format : str
        A registered format name (:func:`exporters.formats`): ``"hdf5"`` (default), ``"nir"``,
        ``"aedat4"``...
    shard_size : int
        Samples per shard: shard ``k`` holds samples ``k * shard_size`` to ``(k + 1) * shard_size - 1``.
    seed : int, optional
        Sample ``i`` is encoded with ``eventcode.transforms.sample_generator(seed, i)``. Default:
        the encoder's own ``seed`` (an ``Encode``'s), else 0.
    client : distributed.Client or "sync", optional
        Where the shard tasks run. None (default): a ``LocalCluster`` of ``workers`` processes
        (default one per core) of one thread each, started and closed by this call. A ``Client``:
        its cluster, left running. ``"sync"``: one after another in this process (no Dask at all).
    workers : int, optional
        Worker processes of the local cluster (``client=None`` only).
    compression : str, optional
        The format's compression (``exporters.formats()``' ``module.COMPRESSIONS``); default its own.
    dt_us : int
        Microseconds per step, recorded in the files of step-time samples (which formats in
        microseconds need); microsecond samples ignore it.
    per_sample : bool, optional
        One file per sample (True) or one per shard (False); default one per shard for batched
        formats (HDF5, NIR), one per sample for the others.
    overwrite : bool
        Convert anew: remove the files an earlier conversion in ``out`` recorded and redo every
        shard. Default: resume, which needs the same options (else :class:`OptionError`).
    verify : bool
        On resuming, check each finished shard's SHA-256 sums (True) or only its file sizes.
    progress : bool or callable
        A progress bar over shards on stderr (appearing after a second of work), none (False),
        or a callable ``progress(shard, status)`` called as each shard ends.

    Returns
    -------
    Summary
        Shards done, skipped (already finished) and failed, samples, events, seconds.

    Raises
    ------
    ConversionError
        After every other shard finished and the manifest was written: the samples (or shards)
        that failed, each named with its error.
    OptionError
        A bad option, or options that differ from those ``out`` was converted with (each
        named) without ``overwrite``.
    ExportError
        A format or compression unknown, or another conversion writing ``out`` now.

    Examples
    --------
    >>> import tempfile, torch
    >>> from eventcode.transforms import Encode
    >>> from exporters.dataset import convert
    >>> images = [(torch.rand(1, 8, 8), label) for label in range(10)]
    >>> latency = Encode("latency", num_steps=10, options={"normalize": True})
    >>> summary = convert(images, tempfile.mkdtemp(), latency, format="aedat4", shard_size=5, client="sync",
    ...                   progress=False)
    >>> summary.done, summary.samples
    ((0, 1), 10)
    >>> sorted(path.name for path in (summary.out / "shard-00001").iterdir())
    ['00000005.aedat4', '00000006.aedat4', '00000007.aedat4', '00000008.aedat4', '00000009.aedat4']
    """
    started = time.monotonic()
    fmt = exporters.for_writing(Path(out) / "x", format)
    default = fmt.module.DEFAULT_COMPRESSION
    codec = canonical(
        default if compression is None else compression, fmt.module.COMPRESSIONS, fmt.description
    )
    size = positive_int("shard_size", shard_size, "samples per shard")
    step_us = positive_int("dt_us", dt_us, "microseconds per step")
    encoder, recorded = _encoder(encode)
    chosen = check_seed(getattr(encoder, "seed", None) if seed is None else seed)
    chosen = 0 if chosen is None else chosen
    one_per_sample = not fmt.batched if per_sample is None else bool(per_sample)
    if not one_per_sample and not fmt.batched:
        raise OptionError(
            f"{fmt.name} files hold one sample: per_sample=False needs a batched format (hdf5, nir)"
        )
    _check_client(client, workers)
    count = len(dataset)
    config = {
        "format": fmt.name,
        "files": "sample" if one_per_sample else "shard",
        "compression": codec,
        "dt_us": step_us,
        "encode": recorded,
        "seed": chosen,
        "shard_size": size,
        "samples": count,
    }
    encoding = None if recorded is None else {**recorded, "seed": chosen}
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [(start, min(start + size, count)) for start in range(0, count, size)]
    with manifest.locked(folder):
        known = _previous(folder, config, overwrite)
        manifest.remove_partials(folder)
        kept = [known[k] for k in sorted(known) if k < len(bounds)]
        manifest.write_json(folder / manifest.NAME, _manifest(config, dataset, kept, (), None))
        jobs = [
            _Job(
                str(folder),
                k,
                start,
                stop,
                fmt.name,
                one_per_sample,
                codec,
                step_us,
                encoding,
                known.get(k),
                verify,
            )
            for k, (start, stop) in enumerate(bounds)
        ]
        results: dict[int, dict[str, Any]] = {}
        with (
            _scheduler(client if jobs else "sync", workers) as running,
            _reporter(progress, len(jobs)) as report,
        ):
            for result in _run(jobs, _Source(dataset, encoder, chosen), running):
                results[result["shard"]] = result
                report(result)
            where = "this process" if running is None else f"dask.distributed ({_workers(running)} workers)"
        manifest.remove_partials(folder)
        records = [results[k]["record"] for k in sorted(results) if results[k]["status"] != "failed"]
        failed = tuple(
            _failure(results[k], bounds[k]) for k in sorted(results) if results[k]["status"] == "failed"
        )
        seconds = time.monotonic() - started
        run = {
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(seconds, 3),
            "scheduler": where,
        }
        manifest.write_json(folder / manifest.NAME, _manifest(config, dataset, records, failed, run))
        manifest.clear_pending(folder)
    summary = Summary(
        out=folder,
        shards=len(bounds),
        done=tuple(k for k in sorted(results) if results[k]["status"] == "done"),
        skipped=tuple(k for k in sorted(results) if results[k]["status"] == "skipped"),
        failed=failed,
        samples=count,
        events=sum(sum(record["events"]) for record in records),
        seconds=seconds,
    )
    if failed:
        raise ConversionError(summary)
    return summary


def _encoder(
    encode: Encode | str | Mapping[str, Any] | Callable[..., Events] | None,
) -> tuple[Callable[..., Events] | None, dict[str, Any] | None]:
    """The encoder to call and its record for the manifest."""
    if encode is None:
        return None, None
    if isinstance(encode, str):
        encode = Encode(encode)  # type: ignore[arg-type]  # Encode checks the name
    elif isinstance(encode, Mapping):
        options = dict(encode)
        encode = Encode(options.pop("code", None), options=options)
    if isinstance(encode, Encode):
        return encode, {"code": encode.code, **encode.settings}
    if callable(encode):
        name = getattr(encode, "__qualname__", type(encode).__qualname__)
        return encode, {"callable": f"{getattr(encode, '__module__', None)}.{name}"}
    raise OptionTypeError(
        f"encode must be an eventcode.transforms.Encode, a code name, a mapping with a 'code', or a callable "
        f"(sample, generator=...) -> Events; got {type(encode).__name__}"
    )


def _check_client(client: object, workers: object) -> None:
    if workers is not None:
        if client is not None:
            raise OptionError("workers= sizes the local cluster that client=None starts; give one of them")
        positive_int("workers", workers, "worker processes")
    if client is None or client == "sync":
        return
    from distributed import Client as DaskClient

    if not isinstance(client, DaskClient):
        raise OptionTypeError(f"client must be a distributed.Client, 'sync' or None, got {client!r}")


def _previous(out: Path, config: Mapping[str, Any], overwrite: bool) -> dict[int, manifest.Record]:
    """The shard records of an earlier conversion in ``out`` to resume from (none on overwrite)."""
    old = manifest.load(out)
    known = manifest.records(out, old)
    if overwrite:
        manifest.remove_files(out, known)
        return {}
    if old is not None:
        manifest.check_resumable(out, old, config)
    return known


def _manifest(
    config: Mapping[str, Any],
    dataset: object,
    records: list[manifest.Record],
    failed: tuple[Failure, ...],
    run: Mapping[str, Any] | None,
) -> dict[str, Any]:
    geometry = [record.get("sample") for record in records]
    common = geometry[0] if geometry and all(g == geometry[0] for g in geometry) else None
    kind = type(dataset)
    return {
        "layout": manifest.LAYOUT,
        "version": manifest.VERSION,
        "complete": run is not None and len(records) == -(-config["samples"] // config["shard_size"]),
        "config": dict(config),
        "dataset": f"{kind.__module__}.{kind.__qualname__}",
        "versions": manifest.versions(),
        "sample": common,
        "shards_total": -(-config["samples"] // config["shard_size"]),
        "events": sum(sum(record["events"]) for record in records),
        "failed": [{"shard": f.shard, "sample": f.sample, "error": f.error} for f in failed],
        "run": dict(run) if run is not None else None,
        "shards": records,
    }


def _failure(result: Mapping[str, Any], bounds: tuple[int, int]) -> Failure:
    return Failure(result["shard"], bounds, result["sample"], result["error"], result.get("traceback", ""))


# ---------------------------------------------------------------------- running the tasks
@contextlib.contextmanager
def _scheduler(client: distributed.Client | Sync | None, workers: int | None) -> Iterator[Any]:
    """The client to run on (None: this process); a local cluster made here is closed after."""
    if client == "sync":
        yield None
        return
    if client is not None:
        yield client
        return
    from distributed import Client as DaskClient
    from distributed import LocalCluster

    count = workers or os.cpu_count() or 1
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        DaskClient(cluster) as made,  # type: ignore[no-untyped-call]
    ):
        yield made


def _workers(client: Any) -> int:
    return len(client.scheduler_info(n_workers=-1)["workers"])


def _run(jobs: list[_Job], source: _Source, client: Any) -> Iterator[dict[str, Any]]:
    """Each shard's result as it finishes: in order in this process, as completed on Dask."""
    if client is None:
        for job in jobs:
            yield _convert_shard(job, source)
        return
    from distributed import as_completed

    if not jobs:
        return
    try:
        data = client.scatter(source, broadcast=True, hash=False)
    except (TypeError, AttributeError, pickle.PicklingError) as err:
        root: BaseException = err
        while root.__cause__ is not None:
            root = root.__cause__
        raise OptionTypeError(
            f"the dataset must pickle (cloudpickle) to reach the Dask workers, and it does not ({root}); "
            "make it picklable (no open files, locks or generators), or convert with client='sync'"
        ) from err
    futures = client.map(_convert_shard, jobs, source=data, pure=False)
    job_of = {future.key: job for future, job in zip(futures, jobs, strict=True)}
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            job = job_of[future.key]
            try:
                result = future.result()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as err:  # the worker died every time (KilledWorker), or a cancel
                result = _failed(job, None, err)
                result["error"] += " (the task's worker died or was restarted; run the conversion again)"
            future.release()
            yield result
    finally:
        client.cancel(futures)
        data.release()


@contextlib.contextmanager
def _reporter(progress: Progress, total: int) -> Iterator[Callable[[Mapping[str, Any]], None]]:
    if callable(progress):
        call = progress
        yield lambda result: (call(result["shard"], result["status"]), None)[1]
        return
    from tqdm import tqdm

    with tqdm(
        total=total, desc="convert", unit="shard", disable=not progress, file=sys.stderr, delay=1.0
    ) as bar:
        yield lambda result: bar.update(1)


# ---------------------------------------------------------------------- one shard (runs in a worker)
@dataclasses.dataclass(frozen=True)
class _Job:
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


class _Source:
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


def _convert_shard(job: _Job, source: _Source) -> dict[str, Any]:
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
        return _failed(job, err.index, cause)
    except Exception as err:
        return _failed(job, None, err)
    return {"status": "done", "shard": job.shard, "record": record}


def _failed(job: _Job, index: int | None, error: BaseException) -> dict[str, Any]:
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    message = f"{type(error).__name__}: {error}"
    return {"status": "failed", "shard": job.shard, "sample": index, "error": message, "traceback": trace}


def _write_shard(job: _Job, source: _Source, out: Path) -> manifest.Record:
    fmt = exporters.for_writing(out, job.format)
    sink: _Sink = _SampleFiles(job, fmt, out) if job.per_sample else _ShardFile(job, fmt, out)
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
    fmt: exporters.Format, job: _Job, events: Events, writer: Callable[..., Any]
) -> dict[str, Any]:
    options: dict[str, Any] = {"compression": job.compression}
    if events.time_unit == "step":
        options["dt_us"] = job.dt_us
    if job.encoding is not None and "encoding" in inspect.signature(writer).parameters:
        options["encoding"] = job.encoding
    return options


class _Sink:
    """Where a shard's samples go; a context whose clean exit puts the shard's files in place."""

    full = False
    files: list[dict[str, Any]]

    def add(self, index: int, events: Events) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write what :meth:`add` buffered."""

    def __enter__(self) -> _Sink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        raise NotImplementedError


class _ShardFile(_Sink):
    """A shard as one batched file (the format's atomic ``Writer``), appended a group at a time."""

    def __init__(self, job: _Job, fmt: exporters.Format, out: Path) -> None:
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


class _SampleFiles(_Sink):
    """A shard as one file per sample, written in a hidden folder renamed into place at the end."""

    def __init__(self, job: _Job, fmt: exporters.Format, out: Path) -> None:
        self.job, self.fmt = job, fmt
        self.final = out / f"shard-{job.shard:05d}"
        self.temporary = out / f".{self.final.name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
        self.names: list[str] = []

    def __enter__(self) -> _SampleFiles:
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


# ---------------------------------------------------------------------- reading back
class EventDataset(torch.utils.data.Dataset[tuple[Any, Any]]):
    """A converted dataset (:func:`convert`) read back lazily: ``dataset[i]`` is ``(events, target)``.

    Follows Tonic's dataset contract (``sensor_size``, ``transform``, ``target_transform``);
    ``eventcode.collate`` batches it for a ``DataLoader``. Each ``dataset[i]`` opens the one file
    holding sample ``i`` and reads that sample's slice only; nothing stays open, so the dataset
    pickles to ``DataLoader`` workers and Dask workers, and each process opens files itself.

    Parameters
    ----------
    out : path
        The folder :func:`convert` wrote (with a complete ``manifest.json``).
    transform, target_transform : callable, optional
        Applied to each sample's events and target (e.g. ``eventcode.transforms.Densify()``).

    Attributes
    ----------
    targets : list
        Every sample's target, as the manifest keeps it (JSON values).
    sensor_size : (W, H, P) or None
        The samples' sensor size; None if the samples differ.
    manifest : dict
        The manifest (:mod:`exporters.manifest`).

    Raises
    ------
    FileNotFoundError
        No manifest in ``out``.
    FileFormatError
        A manifest that is damaged, or of an unfinished conversion (run it again to finish).

    Examples
    --------
    >>> import tempfile, torch
    >>> from torch.utils.data import DataLoader
    >>> import eventcode
    >>> from exporters.dataset import EventDataset, convert
    >>> out = tempfile.mkdtemp()
    >>> images = [(torch.rand(1, 8, 8), i % 3) for i in range(6)]
    >>> _ = convert(images, out, {"code": "rate", "num_steps": 5}, client="sync", progress=False)
    >>> loader = DataLoader(EventDataset(out), batch_size=4, collate_fn=eventcode.collate)
    >>> [(events.num_samples, labels.tolist()) for events, labels in loader]
    [(4, [0, 1, 2, 0]), (2, [1, 2])]
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        transform: Callable[[Events], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.out = Path(out)
        found = manifest.load(self.out)
        path = self.out / manifest.NAME
        if found is None:
            raise FileNotFoundError(
                f"{path}: no such file; exporters.dataset.convert writes a dataset's manifest"
            )
        if not found.get("complete"):
            raise FileFormatError(
                f"{path}: an unfinished conversion ({len(found.get('shards', []))} of "
                f"{found.get('shards_total')} shards); run the same conversion again to finish it"
            )
        try:
            config = found["config"]
            shards = sorted(found["shards"], key=lambda record: record["shard"])
            self.format: str = config["format"]
            self.per_sample: bool = config["files"] == "sample"
            self._starts: list[int] = [record["samples"][0] for record in shards]
            self._files: list[list[str]] = [[item["name"] for item in record["files"]] for record in shards]
            self.targets: list[Any] = [target for record in shards for target in record["targets"]]
            ends = [record["samples"][1] for record in shards]
            self._count: int = config["samples"]
        except (KeyError, TypeError, IndexError) as err:
            raise FileFormatError(f"{path}: damaged manifest (no {err})") from None
        if (
            self._starts[:1] not in ([], [0])
            or self._starts[1:] != ends[:-1]
            or (ends[-1:] or [0])[0] != self._count
        ):
            raise FileFormatError(
                f"{path}: damaged manifest: its shards do not cover samples 0-{self._count - 1}"
            )
        sample = found.get("sample")
        self.sensor_size = tuple(sample["sensor_size"]) if isinstance(sample, dict) else None
        self.manifest = found
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        try:
            position = range(self._count)[index]
        except (IndexError, TypeError):
            from eventcode.errors import SampleIndexError

            raise SampleIndexError(
                f"sample {index!r} is out of range for the {self._count} samples of {self.out}"
            ) from None
        shard = bisect.bisect_right(self._starts, position) - 1
        return self._wrapped(self._read(shard, position - self._starts[shard]), self.targets[position])

    def _read(self, shard: int, local: int) -> Events:
        module = exporters.for_reading(self.out, self.format).module
        if self.per_sample:
            events: Events = module.read(self.out / self._files[shard][local])
        else:
            events = module.read(self.out / self._files[shard][0], sample=local)
        return events

    def _wrapped(self, events: Events, target: Any) -> tuple[Any, Any]:
        return (
            events if self.transform is None else self.transform(events),
            target if self.target_transform is None else self.target_transform(target),
        )

    def shard_samples(self, shard: int) -> list[tuple[Any, Any]]:
        """Every sample of one shard, read with one read of its file (batched formats)."""
        start = self._starts[shard]
        stop = self._starts[shard + 1] if shard + 1 < len(self._starts) else self._count
        if self.per_sample:
            batch = [self._read(shard, local) for local in range(stop - start)]
        else:
            whole: Events = exporters.for_reading(self.out, self.format).module.read(
                self.out / self._files[shard][0]
            )
            batch = [whole[b] for b in range(whole.num_samples)]
        return [self._wrapped(events, self.targets[start + b]) for b, events in enumerate(batch)]

    def to_dask(self) -> dask.bag.Bag:
        """The samples as a Dask bag of ``(events, target)``, one partition a shard.

        Examples
        --------
        >>> import tempfile, torch
        >>> from exporters.dataset import EventDataset, convert
        >>> out = tempfile.mkdtemp()
        >>> images = [(torch.rand(1, 8, 8), i) for i in range(6)]
        >>> rate = {"code": "rate", "num_steps": 5}
        >>> _ = convert(images, out, rate, shard_size=4, client="sync", progress=False)
        >>> bag = EventDataset(out).to_dask()
        >>> bag.npartitions, bag.map(lambda sample: sample[1]).compute(scheduler="sync")
        (2, [0, 1, 2, 3, 4, 5])
        """
        import dask.bag
        from dask.delayed import delayed

        data = delayed(self, name=f"eventdataset-{uuid.uuid4().hex}")
        parts = [delayed(_shard_samples, pure=False)(data, shard) for shard in range(len(self._starts))]
        bag: dask.bag.Bag = (
            dask.bag.from_delayed(parts)  # type: ignore[no-untyped-call]
            if parts
            else dask.bag.from_sequence([], npartitions=1)  # type: ignore[no-untyped-call]
        )
        return bag


def _shard_samples(dataset: EventDataset, shard: int) -> list[tuple[Any, Any]]:
    return dataset.shard_samples(shard)


class EventFiles(torch.utils.data.Dataset[tuple[Events, Any]]):
    """A folder of event files as a map-style dataset: ``dataset[i]`` is ``(events, target)``.

    Every file under ``root`` (recursively, hidden ones left out) with the suffix of a registered
    format is one sample, in sorted order of path; each is read whole with :func:`exporters.read`.

    Parameters
    ----------
    root : path
        The folder.
    targets : {"path", "folder"}
        A sample's target: its path relative to ``root`` (default), or the index of its first
        folder under ``root`` in ``classes`` (a folder per class, as torchvision's ``ImageFolder``).

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    OptionError
        No event files in it, an unknown ``targets``, or a file outside any class folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import exporters
    >>> from eventcode import Events
    >>> from exporters.dataset import EventFiles
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("cat/a.aedat4", "dog/b.h5"):
    ...     (root / name).parent.mkdir()
    ...     exporters.write(root / name, Events(t=[0, 5], x=[1, 2], y=[0, 1], p=[1, 0], sensor_size=(4, 2)))
    >>> files = EventFiles(root, targets="folder")
    >>> len(files), files.classes, files[1][1], len(files[1][0])
    (2, ['cat', 'dog'], 1, 2)
    """

    def __init__(self, root: str | os.PathLike[str], targets: Literal["path", "folder"] = "path") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: no such folder")
        if targets not in ("path", "folder"):
            raise OptionError(f"targets must be 'path' or 'folder', got {targets!r}")
        suffixes = {suffix for fmt in exporters.formats() for suffix in fmt.suffixes}
        self.files = sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.suffix.lower() in suffixes
            and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(self.root).parts)
        )
        if not self.files:
            raise OptionError(f"{self.root}: no event files (suffixes {', '.join(sorted(suffixes))})")
        self.classes = sorted({name.split("/")[0] for name in self.files if "/" in name})
        if targets == "folder" and any("/" not in name for name in self.files):
            loose = next(name for name in self.files if "/" not in name)
            raise OptionError(f"{self.root / loose}: targets='folder' needs every file inside a class folder")
        self.target_kind = targets

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Events, Any]:
        name = self.files[index]
        target: Any = name if self.target_kind == "path" else self.classes.index(name.split("/")[0])
        return exporters.read(self.root / name), target
