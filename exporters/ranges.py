"""Time ranges of one recording: a long file cut so that workers read (and convert) it in parallel.

:func:`split` cuts a file into half-open time ranges ``t_start <= t < t_end`` (the first open
at the start, the last at the end) whose events partition the file's exactly: each event lies in
one range, and the ranges read in order (:func:`read_chunks`, :func:`read`) give the file's events
in order. Each :class:`Range` knows its events (an exact count, which reading it checks) and what a
worker needs to read it without the others. How the cuts are found depends on the format:

- **An index** (AEDAT 4.0's packet table, HDF5's ``ms_to_idx`` / ``step_to_idx``): the cut
  times come from the index (the packet table's times, HDF5's times at evenly spaced events) and
  each cut's events from ``events_before``, which decodes at most the packets a cut falls
  inside. A range is a windowed read, which finds its packets or events through the index.
- **Checkpoints** (EVT 2.0 / 3.0, DAT, AEDAT 2.0: no index, and EVT 3.0 decodes with state):
  one scanning pass (the module's ``checkpoints``) records, at places spread over the file, the
  byte offset, the events before, a time no event before exceeds (``bound``) and the decoder
  state there (EVT 3.0's time high, 24-bit wraps, time low, y and vector base; EVT 2.0's time
  high; the 32-bit wraps of DAT and AEDAT 2.0). A range starts decoding at the last checkpoint
  whose bound lies before its start (the module's ``read_from``) and stops soon after its end,
  so no worker decodes the file from its beginning.
- **Otherwise** (AEDAT 3.1, N-MNIST, ES and any other registered format): one pass of
  ``read_columns`` finds the cuts; a range is a windowed read (AEDAT 3.1's walks its packet
  headers; the others decode the file up to the range's end).

Cuts: ``parts=n`` gives up to ``n`` ranges of about equal events (fewer where the file has fewer
places to cut: it never cuts between events of one time); ``span_us=s`` gives ranges of ``s``
microseconds each from the first event (in steps for a step-time file, ``s`` rounded up to whole
steps), an empty range for a gap without events.

Examples
--------
>>> import tempfile, pathlib
>>> from eventcode import Events
>>> from exporters import evt, ranges
>>> t = [5, 4096 * 4095 + 7, 2**24 + 3, 2**24 + 9000]  # across EVT 3.0's 24-bit wrap
>>> events = Events(t=t, x=[0, 1, 2, 3], y=[0, 1, 2, 3], p=[1, 0, 1, 1], sensor_size=(8, 8))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
>>> evt.write(path, events)
>>> cuts = ranges.split(path, span_us=2**23)
>>> [(r.t_start, r.t_end, r.events) for r in cuts]
[(None, 8388613, 1), (8388613, 16777221, 2), (16777221, None, 1)]
>>> [ranges.read(path, r).t.tolist() for r in cuts]
[[5], [16773127, 16777219], [16786216]]
"""

from __future__ import annotations

import bisect
import inspect
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from eventcode.errors import DataLossWarning, FileFormatError, OptionError
from eventcode.options import positive_int
from exporters.steptime import StepTime

if TYPE_CHECKING:
    from eventcode import Events
    from exporters import Format

__all__ = ["MAX_RANGES", "Checkpoint", "Range", "joined", "read", "read_chunks", "split"]

MAX_RANGES = 1 << 20
"""Most ranges :func:`split` makes (a span so short that it would make more raises)."""
SCAN_CHUNK = 1 << 16
"""Events a chunk of the pass over a file without index or checkpoints: the places it may cut."""
CHECKPOINTS = 4096
"""Checkpoints asked of a scanning pass for ``span_us`` (for ``parts``: 64 a part, at least 256);
each format caps their spacing, so a long file has more."""


class Checkpoint(NamedTuple):
    """A place to start decoding a file without index mid-way (a module's ``checkpoints``)."""

    byte: int
    """Byte offset of the word or record."""
    events: int
    """Events before it."""
    bound: int | None
    """A time (in the file's unit) that no event before it exceeds; None without events before."""
    state: tuple[int, ...]
    """The decoder state there, as the module's ``read_from`` takes it."""


@dataclass(frozen=True)
class Range:
    """One time range of a file, and what reading it needs (made by :func:`split`).

    Attributes
    ----------
    index : int
        Its place among the file's ranges, from 0.
    t_start, t_end : int or None
        The half-open window ``t_start <= t < t_end`` in the file's time unit (steps for a
        step-time file); None for the open start of the first range and end of the last.
    events : int
        The events in it, exactly: reading it checks the count.
    format : str
        The file's format (a registered name).
    start : Checkpoint or None
        Where decoding starts, for a format read from checkpoints (None: a windowed read).
    options : dict
        The reader options every range is read with (the caller's, and what :func:`split` fixed
        so that every range reads alike, such as a sensor size guessed once).
    steps : StepTime or None
        The file's step time (``num_steps``, ``dt_us``, ``t0_us``) for a step-time file.
    """

    index: int
    t_start: int | None
    t_end: int | None
    events: int
    format: str
    start: Checkpoint | None = None
    options: dict[str, Any] = field(default_factory=dict)
    steps: StepTime | None = None


class _Cut(NamedTuple):
    """A cut before time ``t``, with the events before it (exact, or an estimate for choosing)."""

    t: int
    events: int


def split(
    path: str | os.PathLike[str],
    parts: int | None = None,
    span_us: int | None = None,
    *,
    format: str | None = None,
    **options: Any,
) -> list[Range]:
    """Cut a file into time ranges whose events partition the file's (see the module doc).

    Parameters
    ----------
    path : path
        An event file of one stream, in a registered format.
    parts : int, optional
        Ranges of about equal events: at most ``parts`` of them.
    span_us : int, optional
        Ranges of ``span_us`` microseconds from the first event's time (whole steps for a
        step-time file, rounded up). Give ``parts`` or ``span_us``.
    format : str, optional
        The file's format; default as :func:`exporters.read` finds it.
    **options
        Reader options of the format (``sensor_size``, ``version``, ``camera``...), used for every
        range.

    Returns
    -------
    list of Range
        In time order, at least one (one for an empty file).

    Raises
    ------
    OptionError
        Neither or both of ``parts`` and ``span_us``, a value that is not a positive whole
        number, an option the format's reader does not take, a file of several samples, or
        more than :data:`MAX_RANGES` ranges.
    FileFormatError
        What reading the file raises, as the pass meets it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import aedat4, ranges
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.aedat4"
    >>> events = Events(t=list(range(0, 100, 10)), x=[0] * 10, y=[0] * 10, p=[1] * 10, sensor_size=(1, 1))
    >>> aedat4.write(path, events)
    >>> [(r.t_start, r.t_end, r.events) for r in ranges.split(path, parts=3)]
    [(None, 30, 3), (30, 60, 3), (60, None, 4)]
    """
    import exporters

    if (parts is None) == (span_us is None):
        raise OptionError(
            f"give parts (how many ranges) or span_us (how long each is), got {parts=}, {span_us=}"
        )
    count = None if parts is None else positive_int("parts", parts, "ranges")
    span = None if span_us is None else positive_int("span_us", span_us, "microseconds")
    fmt = exporters.for_reading(path, format)
    _check_options(fmt, options)
    module = fmt.module
    if hasattr(module, "checkpoints") and hasattr(module, "read_from"):
        plan = _checkpointed(fmt, path, count, span, options)
    elif hasattr(module, "events_before"):
        plan = _indexed(fmt, path, count, span, options)
    else:
        plan = _scanned(fmt, path, count, span, options)
    cuts, total, starts, fixed, steps = plan
    if len(cuts) >= MAX_RANGES:
        raise OptionError(f"{path}: span_us={span_us} makes over {MAX_RANGES:,} ranges; give a longer span")
    bounds: list[int | None] = [None, *(cut.t for cut in cuts), None]
    before = [0, *(cut.events for cut in cuts), total]
    return [
        Range(
            index=k,
            t_start=bounds[k],
            t_end=bounds[k + 1],
            events=before[k + 1] - before[k],
            format=fmt.name,
            start=None if starts is None else starts[k],
            options={**options, **fixed},
            steps=steps,
        )
        for k in range(len(cuts) + 1)
    ]


_Plan = tuple[list[_Cut], int, "list[Checkpoint] | None", dict[str, Any], "StepTime | None"]
"""What each way of cutting finds: the cuts (exact), the file's events, each range's checkpoint
(None for windowed reads), the options fixed for every range, and the step time."""


def _check_options(fmt: Format, options: Mapping[str, Any]) -> None:
    """Every option is one the format's ``read_chunks`` takes (the window and chunking aside)."""
    taken = set(inspect.signature(fmt.module.read_chunks).parameters) - {
        "path",
        "chunk_events",
        "sample",
        "t_start",
        "t_end",
    }
    unknown = sorted(set(options) - taken)
    if unknown:
        raise OptionError(
            f"{fmt.name} files take no reader option {', '.join(unknown)}; it takes {sorted(taken)}"
        )


def _taken(function: Callable[..., Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The options ``function`` takes."""
    parameters = inspect.signature(function).parameters
    return {name: value for name, value in options.items() if name in parameters}


def _span_in_unit(span: int, steps: StepTime | None) -> int:
    """A span in microseconds as the file's unit: whole steps, rounded up, for a step-time file."""
    return span if steps is None else max(1, -(-span // steps.dt_us))


def _grid(first: int | None, last: int | None, span: int) -> list[int]:
    """The times ``first + k * span`` (k >= 1) up to ``last``."""
    if first is None or last is None:
        return []
    if (last - first) // span >= MAX_RANGES:
        raise OptionError(
            f"a span of {span} (in the file's unit) makes over {MAX_RANGES:,} ranges; give a longer span"
        )
    return list(range(first + span, last + 1, span))


def _chosen(candidates: Sequence[_Cut], total: int, parts: int) -> list[_Cut]:
    """The candidates nearest to ``parts`` equal shares of the events (``candidates`` by time)."""
    events = [cut.events for cut in candidates]
    picked: list[_Cut] = []
    for k in range(1, parts):
        want = total * k / parts
        i = bisect.bisect_left(events, want)
        near = [j for j in (i - 1, i) if 0 <= j < len(candidates)]
        if near:
            picked.append(candidates[min(near, key=lambda j: abs(events[j] - want))])
    return picked


def _cleaned(cuts: Sequence[_Cut], total: int, parts: bool) -> list[_Cut]:
    """Cuts in time order strictly inside the events (none before the first event or after the
    last), each time once; for ``parts``, each event count once too (no empty range)."""
    kept: list[_Cut] = []
    for cut in sorted(set(cuts)):
        if not 0 < cut.events < total or (kept and cut.t == kept[-1].t):
            continue
        if parts and kept and cut.events == kept[-1].events:
            continue
        kept.append(cut)
    return kept


# ---------------------------------------------------------------------- an index
def _indexed(
    fmt: Format, path: str | os.PathLike[str], parts: int | None, span: int | None, options: dict[str, Any]
) -> _Plan:
    """AEDAT 4.0 (packet table) and HDF5 (``ms_to_idx``, ``step_to_idx``): cut times from the
    index, each cut's events from ``events_before``."""
    module = fmt.module
    described = module.info(path, **_taken(module.info, options))
    if described.samples != 1:
        raise OptionError(
            f"{path} holds {described.samples} samples: a time range is one stream's; convert the samples "
            "(exporters.dataset) instead"
        )
    _warn_streams(path, described)
    steps = _steps(described)
    total = described.events
    if span is not None:
        times = _grid(described.first, described.last, _span_in_unit(span, steps))
    elif total == 0:
        times = []
    elif "packets" in described.extras:
        times = _packet_times(described, total, parts or 1, steps)
    else:
        positions = sorted({total * k // (parts or 1) for k in range(1, parts or 1)})
        times = module.times_at(path, positions)
    counts = module.events_before(path, times, **_taken(module.events_before, options)) if times else []
    cuts = _cleaned([_Cut(int(t), int(n)) for t, n in zip(times, counts, strict=True)], total, span is None)
    return cuts, total, None, {}, steps


def _warn_streams(path: str | os.PathLike[str], described: Any) -> None:
    """A :class:`DataLossWarning` counting the records of the file's other streams (AEDAT 4.0's
    IMU samples, triggers, frames), which no range holds."""
    chosen = described.extras.get("event_stream")
    others = [
        s
        for s in described.streams
        if s.records and s.id != chosen and (chosen is not None or s.type != "EVTS")
    ]
    if others:
        counts = "; ".join(f"{s.records:,} records of stream {s.id} ({s.type})" for s in others)
        warnings.warn(
            f"{os.fspath(path)}: the ranges hold the event stream only: left out {counts}",
            DataLossWarning,
            stacklevel=4,
        )


def _steps(described: Any) -> StepTime | None:
    """The step time a :class:`~exporters.contract.FileInfo` gives."""
    if described.time_unit != "step" or described.dt_us is None:
        return None
    t0 = described.extras.get("t0_us") or 0
    return StepTime(int(described.num_steps or 0), int(described.dt_us), int(t0))


def _packet_times(described: Any, total: int, parts: int, steps: StepTime | None) -> list[int]:
    """AEDAT 4.0: the time where each share of the events begins, from the packet table: inside
    the packet holding that event, in proportion (the count of a cut there comes from decoding it)."""
    stream = described.extras["event_stream"]
    packets = [p for p in described.extras["packets"] if p.stream == stream and p.count]
    ends = np.cumsum([p.count for p in packets])
    times = []
    for k in range(1, parts):
        want = total * k // parts
        i = min(int(np.searchsorted(ends, want, side="right")), len(packets) - 1)
        packet = packets[i]
        share = (want - (int(ends[i]) - packet.count)) / max(packet.count - 1, 1)
        t = packet.first + round((packet.last - packet.first) * share)
        times.append(t if steps is None else -(-(t - steps.t0_us) // steps.dt_us))
    return times


# ---------------------------------------------------------------------- checkpoints
def _checkpointed(
    fmt: Format, path: str | os.PathLike[str], parts: int | None, span: int | None, options: dict[str, Any]
) -> _Plan:
    """EVT, DAT, AEDAT 2.0: one scanning pass for checkpoints; for ``parts`` a cut at the time of
    the first event after a checkpoint (those nearest to equal shares of the events), for ``span``
    at the span's times; a range starts at the last checkpoint whose bound lies before its
    start, and each cut's events are counted by decoding from there."""
    module = fmt.module
    wanted = CHECKPOINTS if parts is None else max(256, 64 * parts)
    found, steps = module.checkpoints(path, wanted, **_taken(module.checkpoints, options))
    marks = [Checkpoint(*mark) for mark in found]
    total = marks[-1].events
    reading = _taken(module.read_from, options)
    bounds = [-math.inf if mark.bound is None else mark.bound for mark in marks]
    if span is not None:
        first = _first_time(module, path, marks[0], reading) if total else None
        last = None if marks[-1].bound is None else marks[-1].bound
        times = _grid(first, last, _span_in_unit(span, steps))
    elif total:
        picked = _chosen([_Cut(i, mark.events) for i, mark in enumerate(marks)], total, parts or 1)
        times = sorted(
            {t for i, _ in picked if (t := _first_time(module, path, marks[i], reading)) is not None}
        )
    else:
        times = []
    # a range starts at the last checkpoint whose bound lies before its start
    starting = [max(bisect.bisect_left(bounds, t) - 1, 0) for t in times]
    counts = _counted(module, path, marks, times, starting, reading)
    cuts = _cleaned([_Cut(t, n) for t, n in zip(times, counts, strict=True)], total, span is None)
    starts = [marks[0], *(marks[max(bisect.bisect_left(bounds, cut.t) - 1, 0)] for cut in cuts)]
    return cuts, total, starts, {}, steps


def _first_time(
    module: Any, path: str | os.PathLike[str], mark: Checkpoint, options: dict[str, Any]
) -> int | None:
    """The time of the first event at or after a checkpoint (None: there is none)."""
    for chunk in _quiet(module.read_from(path, mark, SCAN_CHUNK, **options)):
        if len(chunk):
            return int(chunk.t[0])
    return None


def _counted(
    module: Any,
    path: str | os.PathLike[str],
    marks: list[Checkpoint],
    times: list[int],
    starting: list[int],
    options: dict[str, Any],
) -> list[int]:
    """The events before each of ``times`` (sorted): one forward sweep of decoding, from the
    checkpoint where the first range starts, restarted at a later range's checkpoint where that
    lies far ahead of the sweep (a checkpoint's events, and those decoded before the time)."""
    counts: list[int] = []
    j = 0
    while j < len(times):
        mark = marks[starting[j]]
        position, ahead = mark.events, False
        for chunk in _quiet(module.read_from(path, mark, SCAN_CHUNK, t_end=times[-1], **options)):
            t = chunk.t.numpy()
            while len(t) and j < len(times) and times[j] <= t[-1]:
                counts.append(position + int(np.searchsorted(t, times[j], side="left")))
                j += 1
            position += len(t)
            if j < len(times) and marks[starting[j]].events > position + 4 * SCAN_CHUNK:
                ahead = True  # far behind the next range's start: decode from there
                break
        if not ahead:  # every event before the last time was decoded
            counts += [position] * (len(times) - j)
            j = len(times)
    return counts


# ---------------------------------------------------------------------- one pass
def _scanned(
    fmt: Format, path: str | os.PathLike[str], parts: int | None, span: int | None, options: dict[str, Any]
) -> _Plan:
    """Any format: one pass of ``read_columns``; a cut may fall at the first time of each chunk
    of :data:`SCAN_CHUNK` events that is later than the chunk before, or at the span's times."""
    module = fmt.module
    fixed: dict[str, Any] = {}
    described = module.info(path, **_taken(module.info, options))
    if described.samples != 1:
        raise OptionError(f"{path} holds {described.samples} samples: a time range is one stream's")
    sized = "sensor_size" in inspect.signature(module.read_chunks).parameters and "sensor_size" not in options
    if sized and described.sensor_size is not None:  # every range reads with the one size
        fixed["sensor_size"] = tuple(described.sensor_size[:2])
    steps = _steps(described)
    step = None if span is None else _span_in_unit(span, steps)
    candidates: list[_Cut] = []
    total, last, grid = 0, None, None
    for columns in module.read_columns(path, SCAN_CHUNK, **{**options, **fixed}):
        t = columns["t"]
        if len(t) and step is not None:
            grid = int(t[0]) + step if grid is None else grid
            end = int(t[-1])
            if (end - grid) // step >= MAX_RANGES:
                raise OptionError(
                    f"{path}: a span of {step} makes over {MAX_RANGES:,} ranges; give a longer span"
                )
            keys = np.arange(grid, end + 1, step, dtype=np.int64)
            candidates += [
                _Cut(int(g), total + int(n)) for g, n in zip(keys, np.searchsorted(t, keys), strict=True)
            ]
            grid += step * len(keys)
        elif len(t) and last is not None:
            i = int(np.searchsorted(t, last, side="right"))
            if i < len(t):
                candidates.append(_Cut(int(t[i]), total + i))
        if len(t):
            last = int(t[-1])
        total += len(t)
    if step is None:
        candidates = _chosen(candidates, total, parts or 1)
    return _cleaned(candidates, total, step is None), total, None, fixed, steps


# ---------------------------------------------------------------------- reading
def read_chunks(path: str | os.PathLike[str], rng: Range, chunk_events: int = 1 << 20) -> Iterator[Events]:
    """The events of one range of ``path`` (from :func:`split`), about ``chunk_events`` at a time.

    At least one chunk comes, empty for a range without events, so that the caller learns what
    the file's events read as (sample shape, polarities, step time). Warnings of data left out
    (:class:`~eventcode.errors.DataLossWarning`) are not repeated for each range: :func:`split`'s
    pass gave them.

    Raises
    ------
    FileFormatError
        The range holds other events than :func:`split` counted (the file changed since), or as
        the format's reader raises.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import dat, ranges
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.dat"
    >>> dat.write(path, Events(t=[1, 2, 3, 4], x=[0, 1, 2, 3], y=[0] * 4, p=[1] * 4, sensor_size=(4, 1)))
    >>> last = ranges.split(path, parts=2)[-1]
    >>> [chunk.t.tolist() for chunk in ranges.read_chunks(path, last, chunk_events=1)]
    [[3], [4]]
    """
    import exporters

    chunk_events = positive_int("chunk_events", chunk_events, "events")
    module = exporters.for_reading(path, rng.format).module
    window = {"t_start": rng.t_start, "t_end": rng.t_end}
    if rng.start is not None:
        chunks = module.read_from(path, rng.start, chunk_events, **window, **rng.options)
    else:
        chunks = module.read_chunks(path, chunk_events, **window, **rng.options)
    count = 0
    none = True
    for chunk in _quiet(chunks):
        none = False
        count += len(chunk)
        yield chunk
    if none:  # a windowed read of nothing: an empty window tells the sample's shape
        at = rng.t_start if rng.t_start is not None else (rng.t_end if rng.t_end is not None else 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataLossWarning)
            empty: Events = module.read(path, t_start=at, t_end=at, **rng.options)
        yield empty
    if count != rng.events:
        raise FileFormatError(
            f"{os.fspath(path)}: range {rng.index} ({_window(rng)}) holds {count:,} events, but split() "
            f"counted {rng.events:,}: the file changed since it was split, or its times go back; split it "
            "again"
        )


def read(path: str | os.PathLike[str], rng: Range) -> Events:
    """The events of one range of ``path`` (from :func:`split`) at once.

    Raises
    ------
    FileFormatError
        As for :func:`read_chunks`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import hdf5, ranges
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.h5"
    >>> stream = Events(t=[1000, 1500, 3200], x=[1, 2, 3], y=[0, 1, 0], p=[1, 0, 1], sensor_size=(4, 2))
    >>> hdf5.write(path, stream)
    >>> [ranges.read(path, r).t.tolist() for r in ranges.split(path, span_us=1000)]
    [[1000, 1500], [], [3200]]
    """
    return joined(list(read_chunks(path, rng, max(rng.events, 1))))


def joined(chunks: Sequence[Events]) -> Events:
    """One-sample chunks of one stream that follow in time, as one ``Events`` (of the first's
    sample shape, polarities and step time).

    >>> from eventcode import Events
    >>> a = Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(2, 1))
    >>> b = Events(t=[5], x=[1], y=[0], p=[1], sensor_size=(2, 1))
    >>> joined([a, b]).t.tolist()
    [1, 2, 5]
    """
    import torch

    from eventcode.events import Events

    if len(chunks) == 1:
        return chunks[0]
    first = chunks[0]
    columns = {name: torch.cat([getattr(chunk, name) for chunk in chunks]) for name in ("t", "x", "y", "p")}
    c = None if first.c is None else torch.cat([chunk.c for chunk in chunks if chunk.c is not None])
    return Events.from_columns(
        columns["t"],
        columns["x"],
        columns["y"],
        columns["p"],
        c=c,
        offsets=torch.tensor([0, len(columns["t"])], dtype=torch.int64),
        shape=first.shape,
        num_steps=first.num_steps,
        time_unit=first.time_unit,
        polarities=first.polarities,
        check="none",
    )


def _quiet(chunks: Iterator[Events]) -> Iterator[Events]:
    """``chunks`` without their :class:`DataLossWarning` (given once, by :func:`split`'s pass)."""
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataLossWarning)
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


def _window(rng: Range) -> str:
    """A range's window, for messages."""
    start = "start" if rng.t_start is None else rng.t_start
    end = "end" if rng.t_end is None else rng.t_end
    return f"t from {start} to {end}"
