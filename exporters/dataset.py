"""Whole datasets as sharded event files: converted on a Dask cluster, resumable, read back lazily.

:func:`convert` cuts a map-style dataset into shards of ``shard_size`` consecutive samples and
makes each shard one task: load (and encode) its samples, write them (one batched file, or one
file per sample), hash the files and record them. Tasks run on a local ``dask.distributed``
cluster (one single-threaded worker process per core) by default, on any ``Client`` given, or in
this process (``client="sync"``). ``OUT/manifest.json`` (:mod:`exporters.manifest`) lists each
shard's samples, event counts, targets and file checksums, with the options, seed and library
versions. :class:`EventDataset` reads the result back one sample at a time. The task of one
shard is :mod:`exporters.shard`'s; the datasets :class:`EventDataset` and :class:`EventFiles`
live in :mod:`exporters.eventdataset`.

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

import contextlib
import dataclasses
import datetime
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import exporters
from eventcode.datasets import MapDataset
from eventcode.errors import EventcodeError, OptionError, OptionTypeError
from eventcode.events import Events
from eventcode.options import positive_int
from eventcode.transforms import Encode, check_seed
from exporters import cluster, manifest, shard
from exporters.compression import canonical
from exporters.eventdataset import EventDataset, EventFiles

if TYPE_CHECKING:
    import distributed

__all__ = ["SHARD_SIZE", "ConversionError", "EventDataset", "EventFiles", "Failure", "Summary", "convert"]

SHARD_SIZE = 1024
"""Samples per shard unless told: 1,024 encoded MNIST digits of 100 steps are about 10 MB of HDF5."""

Sync = cluster.Sync
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
        sample index) with one file per sample. Every worker writes there: on a cluster of several
        machines, a folder they share.
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
    folder = Path(out).absolute()  # the workers may run elsewhere in the file system
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [(start, min(start + size, count)) for start in range(0, count, size)]
    with manifest.locked(folder):
        known = _previous(folder, config, overwrite)
        manifest.remove_partials(folder)
        kept = [known[k] for k in sorted(known) if k < len(bounds)]
        manifest.write_json(folder / manifest.NAME, _manifest(config, dataset, kept, (), None))
        jobs = [
            shard.Job(
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
            cluster.scheduler(client if jobs else "sync", workers) as running,
            _reporter(progress, len(jobs)) as report,
        ):
            for result in _run(jobs, shard.Source(dataset, encoder, chosen), running):
                results[result["shard"]] = result
                report(result)
            where = cluster.where(running)
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
def _run(jobs: list[shard.Job], source: shard.Source, client: Any) -> Iterator[dict[str, Any]]:
    """Each shard's result as it finishes (:func:`exporters.cluster.results`); on Dask the dataset
    reaches the workers once, scattered."""

    def died(job: shard.Job, error: BaseException) -> dict[str, Any]:
        return shard.failed(job, None, error)

    if client is None or not jobs:
        yield from cluster.results(None, shard.convert_shard, jobs, died, source=source)
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
    try:
        yield from cluster.results(client, shard.convert_shard, jobs, died, source=data)
    finally:
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
