"""One long recording converted in parallel: a Dask task per time range, into one file or one per range.

:func:`convert_recording` cuts the file into time ranges (:func:`exporters.ranges.split`: through
the format's index, or from the checkpoints of one scanning pass) and makes each range one task:
read the range, write it through the target format's ``Writer`` as a piece file (atomically),
hash the piece and record it. Tasks run on a local ``dask.distributed`` cluster (one
single-threaded worker process per core) by default, on any ``Client`` given (its cluster,
unchanged), or in this process (``client="sync"``). With ``one_output=True`` the pieces are then
assembled in order into the one output file, atomically, and removed: AEDAT 4.0 pieces are
written in the target compression with their stream offsets, so that their packets lie where
one Writer of the whole recording puts them, and :func:`exporters.aedat4.join` copies them as
stored (only the packets cut at the seams are decoded and compressed again) and writes a new
packet table; every other format's pieces are written uncompressed and read back through one
``Writer`` of the output (HDF5's ``ms_to_idx`` and every other index rebuilt as it writes). With
``one_output=False`` the pieces are the result: ``part-00000.aedat4``, ... and ``manifest.json``
in the folder ``out``.

- Exact: the ranges partition the events, each range's count is checked as it is read, and the
  one output holds exactly the events of the file, in order. It is byte for byte the file one
  ``Writer`` makes of the file's events with the same options (AEDAT 4.0, EVT 2.0 / 3.0,
  N-MNIST: their files do not depend on how the events are cut into writes; DAT, AEDAT 2.0 and
  3.1 but for their headers' date lines, ``% Date``, ``# created``, ``#Start-Time``, which hold
  the second the file was written, as two single-process runs differ there; HDF5, whose layout
  depends on the sequence of writes, as fed chunks of ``chunk_events`` events, which is what
  ``eventcode convert`` does from formats read in chunks of exactly that size: EVT, DAT,
  AEDAT 2.0).
- Resumable: ``manifest.json`` (in ``out``, or for one output in the hidden folder
  ``.<name>.ranges`` beside it) records the options, the source's size and modification time, the
  ranges, and each finished piece's size and SHA-256; a task records its piece (in ``.pending``)
  as soon as it is written, so a rerun after a kill skips each piece that matches its record and
  redoes the rest. A worker or run that is killed leaves no partial file: every file appears whole
  (:mod:`exporters.atomic`) and the temporaries of killed writers are removed by the next run.
- Failures: a range that fails fails alone; the others finish and are kept, then
  :class:`RecordingError` names each failed range. A rerun redoes only those.

The assembly is one process: for AEDAT 4.0 a copy (the workers compressed the packets), for the
others a re-encoding of the whole output, which for HDF5's gzip costs about what a
single-process conversion does; ``one_output=False`` uses every core for those.

Examples
--------
>>> import tempfile, pathlib
>>> from eventcode import Events
>>> from exporters import evt, aedat4
>>> from exporters.recording import convert_recording
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> t = list(range(0, 10_000, 10))
>>> events = Events(t=t, x=[1] * 1000, y=[2] * 1000, p=[1] * 1000, sensor_size=(8, 8))
>>> evt.write(folder / "long.raw", events)
>>> summary = convert_recording(folder / "long.raw", folder / "long.aedat4", parts=4, client="sync",
...                             progress=False)
>>> summary.ranges, summary.events, aedat4.read(folder / "long.aedat4") == events
(4, 1000, True)
>>> sorted(p.name for p in folder.iterdir())  # the pieces are gone
['long.aedat4', 'long.raw']
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import itertools
import json
import os
import re
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eventcode import address
from eventcode.errors import EventcodeError, FileFormatError, OptionError, OptionTypeError
from eventcode.options import positive_int
from exporters import cluster, ranges
from exporters.atomic import atomic_path

if TYPE_CHECKING:
    import distributed

    from eventcode import Events
    from exporters import Format
    from exporters.steptime import StepTime

__all__ = ["MANIFEST", "RecordingError", "Summary", "convert_recording"]

MANIFEST = "manifest.json"
"""The manifest's name in the folder of the pieces."""
LAYOUT = "eventcode-recording"
"""The manifest's ``layout`` value."""
VERSION = 1
"""The manifest's ``version``: a run refuses to resume from a later one."""
PENDING = ".pending"
"""The folder of the records of pieces finished by a run not yet folded into the manifest."""
PARTS_PER_WORKER = 4
"""Ranges per worker when neither ``parts`` nor ``span_us`` is given: a slow range delays less."""

Sync = cluster.Sync
"""``client="sync"``: run the range tasks one after another in this process."""
Progress = bool | Callable[[int, str], object]
"""``True`` for tqdm bars on stderr (after a second of work), ``False`` for none, or a callable
called as ``progress(range_index, status)`` with ``"done"``, ``"skipped"`` or ``"failed"``."""
Record = dict[str, Any]
"""One piece's record in the manifest."""


class RecordingError(EventcodeError, RuntimeError):
    """Ranges whose conversion failed in a :func:`convert_recording` run; the others were kept.

    ``failures`` maps each failed range's index to its error (``"TypeName: message"``).
    """

    def __init__(self, path: Path, work: Path, failures: Mapping[int, str], ranges: int) -> None:
        listed = "; ".join(f"range {k}: {error}" for k, error in sorted(failures.items())[:5])
        more = f"; and {len(failures) - 5} more" if len(failures) > 5 else ""
        super().__init__(
            f"{path}: {len(failures)} of {ranges} ranges failed: {listed}{more}. The finished pieces are "
            f"kept in {work}: fix the cause and run the same conversion again, which redoes only the failed "
            "ranges"
        )
        self.failures = dict(failures)


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a :func:`convert_recording` run did."""

    out: Path
    """The output file, or the folder of the pieces (``one_output=False``)."""
    files: tuple[Path, ...]
    """The files written: the one output, or the pieces in time order."""
    ranges: int
    """Ranges the recording was cut into."""
    done: tuple[int, ...]
    """Ranges converted by this run."""
    skipped: tuple[int, ...]
    """Ranges whose pieces an earlier run wrote, found complete."""
    events: int
    seconds: float
    scheduler: str
    """Where the tasks ran: ``"this process"`` or ``"dask.distributed (N workers)"``."""


@dataclasses.dataclass(frozen=True)
class _Job:
    """What a range task needs: small, pickled with the task."""

    source: str
    stamp: tuple[int, int]
    work: str
    name: str
    range: ranges.Range
    format: str
    options: dict[str, Any]
    chunk_events: int
    previous: Record | None
    verify: bool


def convert_recording(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    format: str | None = None,
    parts: int | None = None,
    span_us: int | None = None,
    one_output: bool = True,
    client: distributed.Client | Sync | Literal[False] | None = None,
    workers: int | None = None,
    source_format: str | None = None,
    read_options: Mapping[str, Any] | None = None,
    dt_us: int | None = None,
    chunk_events: int = 1 << 20,
    overwrite: bool = False,
    verify: bool = True,
    progress: Progress = True,
    **writer_options: Any,
) -> Summary:
    """Convert one (long) event file in time ranges, a task each, into one file or one per range.

    Parameters
    ----------
    path : path
        The recording: one stream in a registered format (``exporters.ranges.split`` says how
        each format is cut).
    out : path
        The output file (``one_output=True``; its suffix names the format unless ``format``
        does), or the folder of the pieces (made if missing).
    format : str, optional
        The output's format (a registered name); default the suffix of ``out``, or for a folder
        the recording's own format.
    parts, span_us : int, optional
        How to cut: into ``parts`` ranges of about equal events, or ranges of ``span_us``
        microseconds. Default: :data:`PARTS_PER_WORKER` ranges per worker.
    one_output : bool
        Assemble the pieces into ``out`` (True), or keep them as the result in the folder ``out``.
    client : distributed.Client or "sync", optional
        Where the tasks run. None (default): a ``LocalCluster`` of ``workers`` processes (default
        one per core) of one thread each, started and closed by this call. A ``Client``: its
        cluster, left running (workers on other machines need ``path`` and ``out`` on a file
        system they share, at the same paths). ``"sync"`` (or False): one after another in this
        process.
    workers : int, optional
        Worker processes of the local cluster (``client=None`` only).
    source_format : str, optional
        The recording's format; default as :func:`exporters.read` finds it.
    read_options : mapping, optional
        Reader options of the recording's format (``sensor_size``, ``version``, ``camera``...).
    dt_us : int, optional
        Microseconds per step of a step-time recording, for the output (default: the ``dt_us``
        its file records).
    chunk_events : int
        Events read and written at a time.
    overwrite : bool
        For ``one_output=False``: convert anew, replacing the pieces an earlier conversion with
        other options left in ``out`` (default: such pieces raise :class:`OptionError`). A run
        with the same options always resumes; the one output file is replaced atomically.
    verify : bool
        On resuming, check each finished piece's SHA-256 (True) or only its size.
    progress : bool or callable
        Progress bars on stderr (appearing after a second), none (False), or a callable
        ``progress(range_index, status)`` called as each range ends.
    **writer_options
        Options of the output format's ``Writer`` (``compression``, ``camera``, ``version``...).
        The sample shape, polarities and step time are the recording's.

    Returns
    -------
    Summary

    Raises
    ------
    RecordingError
        After every other range finished: the ranges that failed, each with its error.
    OptionError
        A bad option, an option the reader or writer does not take, or (``one_output=False``)
        pieces of a conversion with other options in ``out``.
    ExportError
        An unknown format, or events the output format cannot hold.
    FileFormatError
        As reading the recording raises while it is split.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import dat, hdf5
    >>> from exporters.recording import convert_recording
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> t = list(range(0, 3000, 3))
    >>> events = Events(t=t, x=[1] * 1000, y=[2] * 1000, p=[0] * 1000, sensor_size=(8, 8))
    >>> dat.write(folder / "long.dat", events)
    >>> summary = convert_recording(folder / "long.dat", folder / "parts", format="hdf5", span_us=1000,
    ...                             one_output=False, client="sync", progress=False)
    >>> [p.name for p in summary.files], [len(hdf5.read(p)) for p in summary.files]
    (['part-00000.h5', 'part-00001.h5', 'part-00002.h5'], [334, 333, 333])
    """
    started = time.monotonic()
    source = Path(path)
    reading = dict(read_options or {})
    fmt = _output_format(source, Path(out), format, one_output, source_format)
    _check_writer_options(fmt, writer_options)
    size = positive_int("chunk_events", chunk_events, "events")
    client = "sync" if client is False else client
    _check_client(client, workers)
    if parts is None and span_us is None:
        parts = PARTS_PER_WORKER * _worker_count(client, workers)
    cuts = ranges.split(source, parts, span_us, format=source_format, **reading)
    if dt_us is not None:
        step = positive_int("dt_us", dt_us, "microseconds per step")
        cuts = [dataclasses.replace(rng, steps=_given_step(rng.steps, step)) for rng in cuts]
    piece_options = dict(writer_options)
    joined = one_output and _joins(fmt)
    if one_output and not joined:  # pieces only the assembly reads: uncompressed, cheap to write and read
        piece_options["compression"] = "none"
    before = [sum(rng.events for rng in cuts[:k]) for k in range(len(cuts))]
    work = Path(out).parent / f".{Path(out).name}.ranges" if one_output else Path(out)
    suffix = fmt.suffixes[0]
    names = [f"part-{rng.index:05d}{suffix}" for rng in cuts]
    status = os.stat(source)
    config = {
        "source": os.fspath(source.resolve()),
        "source_bytes": status.st_size,
        "source_mtime_ns": status.st_mtime_ns,
        "source_format": cuts[0].format,
        "read_options": _plain(reading),
        "format": fmt.name,
        "options": _plain(piece_options),
        "pieces": "joined" if joined else "written",
        "dt_us": dt_us,
        "ranges": [[rng.t_start, rng.t_end, rng.events] for rng in cuts],
    }
    work.mkdir(parents=True, exist_ok=True)
    with _locked(work):
        known = _previous(work, config, one_output or overwrite)
        _write_manifest(work, config, [known[k] for k in sorted(known) if k < len(cuts)])
        stamp = (status.st_size, status.st_mtime_ns)
        jobs = [
            _Job(  # absolute paths: a worker's working folder is its own
                os.fspath(source.resolve()),
                stamp,
                os.fspath(work.resolve()),
                names[k],
                rng,
                fmt.name,
                {**piece_options, "stream_offset": before[k]} if joined else piece_options,
                size,
                known.get(k),
                verify,
            )
            for k, rng in enumerate(cuts)
        ]
        total = sum(rng.events for rng in cuts)
        results: dict[int, Record] = {}
        with cluster.scheduler(client, workers) as running, _reporter(progress, total, "convert") as report:
            for result in cluster.results(running, _convert_range, jobs, _failed):
                results[result["range"]] = result
                report(result)
            where = cluster.where(running)
        records = [results[k]["record"] for k in sorted(results) if results[k]["status"] != "failed"]
        _write_manifest(work, config, records)
        _clear_pending(work)
        _sweep(work, names)
        failures = {k: results[k]["error"] for k in sorted(results) if results[k]["status"] == "failed"}
        if failures:
            raise RecordingError(source, work, failures, len(cuts))
        pieces = [work / name for name in names]
        if one_output:
            if joined:  # packets copied as the workers compressed them, the seams' joined
                fmt.module.join(pieces, Path(out))
            else:
                _assemble(fmt, pieces, Path(out), records, cuts, writer_options, size, progress)
            _sweep(Path(out).parent, [Path(out).name])
    if one_output:
        shutil.rmtree(work, ignore_errors=True)
    return Summary(
        out=Path(out),
        files=(Path(out),) if one_output else tuple(pieces),
        ranges=len(cuts),
        done=tuple(k for k in sorted(results) if results[k]["status"] == "done"),
        skipped=tuple(k for k in sorted(results) if results[k]["status"] == "skipped"),
        events=total,
        seconds=time.monotonic() - started,
        scheduler=where,
    )


# ---------------------------------------------------------------------- options
def _output_format(
    source: Path, out: Path, name: str | None, one_output: bool, source_format: str | None
) -> Format:
    """The output's registered format: ``name``, else the suffix of the one output, else (a
    folder of pieces) the recording's own format."""
    import exporters

    if one_output and out.is_dir():
        raise OptionError(
            f"{out} is a folder: give the output file, or one_output=False for a folder of pieces"
        )
    if name is None and not one_output:
        name = exporters.for_reading(source, source_format).name
    fmt = exporters.for_writing(out, name)
    if fmt.name == "nir":
        raise OptionError("NIR files hold samples, not one stream cut in time: write hdf5 or aedat4")
    return fmt


def _given_step(steps: StepTime | None, dt_us: int) -> StepTime:
    """The recording's step time with ``dt_us`` (given: it wins over the file's)."""
    from exporters.steptime import StepTime

    return StepTime(0, dt_us, 0) if steps is None else steps._replace(dt_us=dt_us)


def _joins(fmt: Format) -> bool:
    """Whether the format joins files of consecutive stretches into one Writer's file by copying
    (AEDAT 4.0: ``join``, and its Writer's ``stream_offset``)."""
    return hasattr(fmt.module, "join") and "stream_offset" in inspect.signature(fmt.module.Writer).parameters


def _check_writer_options(fmt: Format, options: Mapping[str, Any]) -> None:
    """Every writer option is one the format's ``Writer`` takes (the recording gives the rest)."""
    taken = set(inspect.signature(fmt.module.Writer).parameters)
    given = {
        "path",
        "shape",
        "sensor_size",
        "polarities",
        "num_steps",
        "dt_us",
        "t0_us",
        "batched",
        "overwrite",
        "stream_offset",
    }
    unknown = sorted(set(options) - (taken - given))
    if unknown:
        raise OptionError(
            f"{fmt.name} writers take no option {', '.join(unknown)} here; they take "
            f"{sorted(taken - given)} (the shape, polarities and step time are the recording's)"
        )


def _check_client(client: object, workers: object) -> None:
    if workers is not None:
        positive_int("workers", workers, "worker processes")
        if client is not None:
            raise OptionError("workers= sizes the local cluster that client=None starts; give one of them")
    if client is None or client == "sync":
        return
    from distributed import Client as DaskClient

    if not isinstance(client, DaskClient):
        raise OptionTypeError(f"client must be a distributed.Client, 'sync' or None, got {client!r}")


def _worker_count(client: Any, workers: int | None) -> int:
    """Workers the tasks will run on: those of the client, or of the cluster to start."""
    if client == "sync":
        return 1
    if client is not None:
        return max(1, int(sum(client.nthreads().values())))
    return workers or os.cpu_count() or 1


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options as JSON values (tuples as lists, anything else by its repr)."""
    plain: dict[str, Any] = json.loads(json.dumps(dict(options), default=repr))
    return plain


# ---------------------------------------------------------------------- the manifest
def _locked_path(work: Path) -> Path:
    return work / ".lock"


@contextlib.contextmanager
def _locked(work: Path) -> Iterator[None]:
    """Hold the folder's lock: another conversion into it fails at once (no lock without
    ``fcntl``: Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(_locked_path(work), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OptionError(f"{work}: another conversion is writing here now; wait for it to end") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _previous(work: Path, config: Mapping[str, Any], fresh: bool) -> dict[int, Record]:
    """The records of pieces an earlier run with this ``config`` finished (the manifest's and the
    pending ones), by range; with another config the earlier pieces are removed where ``fresh``
    (a hidden folder of one output, or ``overwrite``), else :class:`OptionError`."""
    manifest = _load(work)
    if manifest is None:
        return {}
    if manifest.get("config") != config:
        if not fresh:
            changed = [key for key in config if manifest.get("config", {}).get(key) != config[key]]
            raise OptionError(
                f"{work} holds pieces of a conversion with other {', '.join(changed)}: pass overwrite=True "
                "to convert anew (its pieces are replaced), or another folder"
            )
        _remove_pieces(work, manifest)
        return {}
    known = {int(record["range"]): record for record in manifest.get("pieces", [])}
    pending = work / PENDING
    if pending.is_dir():
        for item in sorted(pending.glob("part-*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                record = json.loads(item.read_text())
                known[int(record["range"])] = record
    return known


def _load(work: Path) -> dict[str, Any] | None:
    """The manifest in ``work`` (None: none). One of another layout or a later version raises."""
    path = work / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except ValueError as err:
        raise FileFormatError(f"{path}: not a readable manifest ({err}); remove it to convert anew") from None
    if not isinstance(manifest, dict) or manifest.get("layout") != LAYOUT:
        raise OptionError(f"{path} is not the manifest of a recording's pieces; write into another folder")
    if int(manifest.get("version", 0)) > VERSION:
        raise OptionError(f"{path} was written by a later eventcode (version {manifest['version']}); update")
    return manifest


def _remove_pieces(work: Path, manifest: Mapping[str, Any]) -> None:
    """Remove the pieces and records of an earlier conversion (only the files it lists)."""
    for record in manifest.get("pieces", []):
        with contextlib.suppress(OSError, KeyError, TypeError):
            (work / record["file"]["name"]).unlink()
    _clear_pending(work)
    (work / MANIFEST).unlink(missing_ok=True)


def _write_manifest(work: Path, config: Mapping[str, Any], records: Sequence[Record]) -> None:
    manifest = {"layout": LAYOUT, "version": VERSION, "config": config, "pieces": list(records)}
    _write_json(work / MANIFEST, manifest)


def _write_json(path: Path, data: object) -> None:
    """``data`` as JSON at ``path``, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=1) + "\n")


def _clear_pending(work: Path) -> None:
    shutil.rmtree(work / PENDING, ignore_errors=True)


_PARTIAL = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]+\.partial")


def _sweep(folder: Path, names: Sequence[str]) -> None:
    """Remove the temporaries that killed writers of ``names`` left in ``folder`` (a live
    writer's are left alone)."""
    wanted = set(names) | {MANIFEST}
    with contextlib.suppress(OSError):
        for item in folder.iterdir():
            found = _PARTIAL.fullmatch(item.name)
            if found and found["name"] in wanted and not _alive(int(found["pid"])):
                item.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches(work: Path, record: Mapping[str, Any] | None, verify: bool) -> bool:
    """Whether a record's piece is in ``work`` with its recorded size (and ``verify``: SHA-256)."""
    try:
        entry = record["file"]  # type: ignore[index]
        path = work / entry["name"]
        if not path.is_file() or path.stat().st_size != entry["bytes"]:
            return False
        return not verify or _sha256(path) == entry["sha256"]
    except (KeyError, TypeError, OSError):
        return False


# ---------------------------------------------------------------------- running the tasks
@contextlib.contextmanager
def _reporter(
    progress: Progress, total: int, description: str
) -> Iterator[Callable[[Mapping[str, Any]], None]]:
    if callable(progress):
        report = progress

        def called(result: Mapping[str, Any]) -> None:
            report(result["range"], result["status"])

        yield called
        return
    from tqdm import tqdm

    with tqdm(
        total=total,
        desc=description,
        unit="event",
        unit_scale=True,
        disable=not progress,
        file=sys.stderr,
        delay=1.0,
    ) as bar:
        yield lambda result: bar.update(int(result.get("events", 0)))


# ---------------------------------------------------------------------- one range (runs in a worker)
def _convert_range(job: _Job) -> Record:
    """Write one range's piece (or find it complete), record it; a failure is a result too."""
    work = Path(job.work)
    rng = job.range
    try:
        if _matches(work, job.previous, job.verify):
            return {"range": rng.index, "status": "skipped", "record": job.previous, "events": rng.events}
        record = _write_piece(job)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:
        return _failed(job, err)
    pending = work / PENDING
    pending.mkdir(exist_ok=True)
    _write_json(pending / f"part-{rng.index:05d}.json", record)
    return {"range": rng.index, "status": "done", "record": record, "events": rng.events}


def _failed(job: _Job, error: BaseException) -> Record:
    return {
        "range": job.range.index,
        "status": "failed",
        "error": f"{type(error).__name__}: {error}",
        "traceback": "".join(traceback.format_exception(error)),
        "events": job.range.events,
    }


def _write_piece(job: _Job) -> Record:
    """Read the range and write it as the piece ``job.name``, atomically; its record."""
    import exporters

    status = os.stat(job.source)
    if (status.st_size, status.st_mtime_ns) != job.stamp:
        raise FileFormatError(
            f"{job.source} changed since it was split (size or modification time): run the conversion again"
        )
    fmt = exporters.for_writing(job.name, job.format)
    target = Path(job.work) / job.name
    chunks = ranges.read_chunks(job.source, job.range, job.chunk_events)
    first = next(chunks)
    options = _writer_options(fmt, first, job.range.steps, job.options)
    count = 0
    with fmt.module.Writer(target, **options) as writer:
        for chunk in itertools.chain([first], chunks):
            writer.write(chunk)
            count += len(chunk)
    return {
        "range": job.range.index,
        "t_start": job.range.t_start,
        "t_end": job.range.t_end,
        "events": count,
        "shape": list(first.shape),
        "file": {"name": job.name, "bytes": target.stat().st_size, "sha256": _sha256(target)},
    }


def _writer_options(
    fmt: Format, first: Events, steps: StepTime | None, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``Writer`` options of the recording's events: shape, polarities, step time, and ``options``."""
    taken = inspect.signature(fmt.module.Writer).parameters
    made: dict[str, Any] = {"shape": first.shape, "polarities": first.polarities}
    if first.time_unit == "step":
        made["num_steps"] = first.num_steps
        if steps is not None:
            made["dt_us"] = steps.dt_us
            if steps.t0_us and "t0_us" in taken:
                made["t0_us"] = steps.t0_us
    if "batched" in taken:
        made["batched"] = False
    return {**made, **options}


# ---------------------------------------------------------------------- assembling one output
def _assemble(
    fmt: Format,
    pieces: Sequence[Path],
    out: Path,
    records: Sequence[Record],
    cuts: Sequence[ranges.Range],
    options: Mapping[str, Any],
    chunk_events: int,
    progress: Progress,
) -> None:
    """The pieces' events, in order, through one ``Writer`` of ``out`` in chunks of exactly
    ``chunk_events`` (the last fewer): it rebuilds every index as it writes, atomically."""
    shape = tuple(records[0]["shape"])
    reading = {}
    if "sensor_size" in inspect.signature(fmt.module.read_chunks).parameters:
        reading["sensor_size"] = (address.width(shape), address.height(shape))  # N-MNIST records none
    if "layout" in options:
        reading["layout"] = options["layout"]

    def events() -> Iterator[Events]:
        for piece in pieces:
            yield from fmt.module.read_chunks(piece, chunk_events, **reading)

    chunks = _rechunked(events(), chunk_events)
    first = next(chunks, None)
    if first is None:  # no events at all: an empty file of the recording's sample
        first = fmt.module.read(pieces[0], **reading)
    made = _writer_options(fmt, first, cuts[0].steps, options)
    total = sum(rng.events for rng in cuts)
    bar = progress if not callable(progress) else False
    with _reporter(bar, total, "assemble") as report, fmt.module.Writer(out, **made) as writer:
        for chunk in itertools.chain([first], chunks):
            writer.write(chunk)
            report({"events": len(chunk)})


def _rechunked(chunks: Iterator[Events], size: int) -> Iterator[Events]:
    """One-sample ``chunks`` of one stream re-cut into chunks of exactly ``size`` events (the
    last fewer; none where there are no events)."""
    held: list[Events] = []
    count = 0
    for chunk in chunks:
        while len(chunk):
            take = min(size - count, len(chunk))
            held.append(_sliced(chunk, 0, take))
            chunk, count = _sliced(chunk, take, len(chunk)), count + take
            if count == size:
                yield ranges.joined(held)
                held, count = [], 0
    if held:
        yield ranges.joined(held)


def _sliced(events: Events, a: int, b: int) -> Events:
    """Events ``a:b`` of a one-sample ``Events``."""
    import torch

    from eventcode.events import Events

    if a == 0 and b == len(events):
        return events
    c = None if events.c is None else events.c[a:b]
    return Events.from_columns(
        events.t[a:b],
        events.x[a:b],
        events.y[a:b],
        events.p[a:b],
        c=c,
        offsets=torch.tensor([0, b - a], dtype=torch.int64),
        shape=events.shape,
        num_steps=events.num_steps,
        time_unit=events.time_unit,
        polarities=events.polarities,
        check="none",
    )
