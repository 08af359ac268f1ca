"""NIR 1.0.8 event data: the spike input of a NIR graph, written with ``nir.write_data``, read back.

A file holds ``nir.NIRGraphData(nodes={node: NIRNodeData(observables={observable: EventData})})``
(default node ``"input"``, observable ``"spikes"``), so a NIR graph and its input travel
together. ``EventData`` has one row per sample: ``idx[S, E]`` neuron indices padded with -1 and
``time[S, E]`` in seconds padded with ``inf``, plus ``n_neurons`` and ``t_max`` (seconds).

Neurons and times follow :mod:`exporters.neurons`: addresses row-major over ``(c, y, x)``, ON and
OFF in two blocks (``polarity="split"``, OFF first) or merged; step ``k`` at ``(k + offset) *
dt_us``. eventcode records the sample shape, polarities, mapping, ``dt_us`` and ``offset`` as
attributes of the file's root, which ``nir.read_data`` ignores, so a file read back gives the
events written. A file from another tool reads as microsecond spikes without polarity on a 1-D
sample of ``n_neurons``.

Needs the ``nir`` extra (``pip install "eventcode[nir]"``, NIR 1.0.8: the data containers exist
from that version on).

Reading is guarded: libhdf5 segfaults or loops forever on some damaged HDF5 metadata (an
attribute read, where no Python code can catch it), so ``read``, ``read_chunks``,
``read_columns`` and ``info`` parse the file in a forked child process (:func:`_guarded`), one
per call, and a child that crashes or runs past :data:`GUARD_SECONDS` (plus
:data:`GUARD_SECONDS_PER_MIB` per MiB of file) becomes a
:class:`~eventcode.errors.FileFormatError`. Where ``os.fork`` does not exist (Windows) the file
is read in-process, unguarded.

Examples
--------
>>> import tempfile, pathlib
>>> from eventcode import Events
>>> from exporters import nir
>>> events = Events(t=[0, 3], x=[1, 0], y=[0, 1], p=[1, 0], shape=(2, 2), num_steps=4)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "input.nir"
>>> nir.write(path, events, dt_us=1000)
>>> nir.read(path) == events
True
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import io
import json
import math
import os
import pickle
import select
import signal
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, TypeVar

import h5py
import numpy as np
from h5py._objects import phil

from eventcode import address, options
from eventcode.errors import DependencyError, EventsError, ExportError, FileFormatError, OptionError
from exporters import neurons
from exporters.atomic import AtomicWriter
from exporters.compression import canonical
from exporters.contract import FileInfo, Stream
from exporters.options import step_us
from exporters.source import require_regular

if hasattr(os, "fork"):  # the guarded child's limits: POSIX, as os.fork
    import resource

if TYPE_CHECKING:
    from eventcode import Events

NAME = "nir"
DESCRIPTION = "NIR 1.0.8 event data (nir.EventData in NIRGraphData: a NIR graph's spike input)"
SUFFIXES = (".nir",)
BATCHED = True
COMPRESSIONS = {"gzip": "gzip", "lzf": "lzf", "none": "none"}
DEFAULT_COMPRESSION = "gzip"
_MAGIC = b"\x89HDF\r\n\x1a\n"
EXACT_US = 1 << 50
"""Times (in magnitude, microseconds) below which float64 seconds read back to the same
microsecond: ``t * 1e-6`` and back round twice by at most 2**-53 relative, under 0.5 us below
2**50 us; from 2**51 on, some do not (times are refused from 2**50)."""
_ATTRIBUTE = "eventcode"
"""The root attribute holding eventcode's description of the events (JSON)."""
GUARD_SECONDS = 5.0
"""Seconds the child process reading a NIR file may take, plus :data:`GUARD_SECONDS_PER_MIB` per
MiB of file, before it is killed and the file refused: a small file reads in milliseconds, and
libhdf5 loops forever on some damaged files. Raise it for large files on a very busy machine."""
GUARD_SECONDS_PER_MIB = 1.0
"""Seconds added to :data:`GUARD_SECONDS` per MiB of file: NIR's padded arrays compress well, so
a MiB of file can hold hundreds of MiB of arrays to inflate."""

_T = TypeVar("_T")


def sniff(head: bytes) -> float:
    """0.95 for an HDF5 file whose first bytes name ``NIRGraphData``, else 0."""
    return 0.95 if head.startswith(_MAGIC) and b"NIRGraphData" in head else 0.0


def _nir() -> Any:
    try:
        import nir
    except ImportError:
        raise DependencyError('NIR files need the nir package: pip install "eventcode[nir]"') from None
    if not hasattr(nir, "EventData"):
        raise DependencyError(f"NIR files need nir >= 1.0.8 (data containers), found {nir.__version__}")
    return nir


class _Pending:
    """The file object of a :class:`Writer`: NIR writes the whole file at once, when it closes."""

    def close(self) -> None:
        """Nothing is open until the events are written."""


class Writer(AtomicWriter):
    """Collect events of one shape and write them as one NIR ``EventData`` when the block ends.

    Parameters
    ----------
    path : path
        Target file.
    shape : tuple of int
        Sample shape.
    polarities : {2, 1, 0}
        :attr:`eventcode.Events.polarities` of the events.
    num_steps, dt_us, offset
        Step time: ``num_steps`` steps of ``dt_us`` microseconds, step ``k`` at ``(k + offset) *
        dt_us``. Microsecond events take neither.
    polarity : {"split", "merge", "on"}
        How ON and OFF map to neurons (:mod:`exporters.neurons`).
    compression, overwrite, node, observable, batched
        As for :func:`write` (``batched`` is accepted for the registry's callers: NIR holds
        samples either way).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        shape: tuple[int, ...],
        polarities: int = 2,
        num_steps: int | None = None,
        dt_us: int | None = None,
        offset: int = 1,
        polarity: neurons.PolarityMapping = "split",
        compression: str | None = DEFAULT_COMPRESSION,
        overwrite: bool = True,
        node: str = "input",
        observable: str = "spikes",
        batched: bool = True,
    ) -> None:
        super().__init__(path, address.check_shape(shape), overwrite, polarities)
        self._compression = canonical(compression, COMPRESSIONS, "NIR")
        self._dt_us, self._offset, self._polarity = step_us(dt_us), offset, polarity
        neurons.blocks(polarities, polarity)  # checks the mapping
        if (num_steps is None) != (self._dt_us is None):
            raise OptionError("step-time events need num_steps and dt_us together; microseconds take neither")
        self._num_steps, self._names = num_steps, (node, observable)
        self._pieces: list[Events] = []

    def _open(self, temporary: Path) -> _Pending:
        return _Pending()

    def write(self, events: Events) -> None:
        """Add samples (or the next stretch of a one-sample stream)."""
        self._check(events)
        self._pieces.append(events)

    def _finish(self) -> None:
        from eventcode.events import Events

        nir = _nir()
        if not self._pieces:
            raise ExportError(
                f"{os.fspath(self._path)}: nothing was written; NIR event data needs the events"
            )
        events = Events.cat(self._pieces)
        per_sample = neurons.neurons_per_sample(self._shape, self._polarities, self._polarity)
        sample, neuron, time_us = neurons.spikes(
            events, self._polarity, dt_us=self._dt_us, offset=self._offset
        )
        counts = np.bincount(sample, minlength=events.num_samples)
        width = int(counts.max(initial=0))
        idx = np.full((events.num_samples, width), -1, dtype=np.int64)
        time = np.full((events.num_samples, width), np.inf)
        column = np.arange(len(sample)) - np.repeat(np.cumsum(counts) - counts, counts)
        idx[sample, column], time[sample, column] = neuron, time_us * 1e-6
        end_us = int(time_us.max(initial=0))
        if self._dt_us is not None and self._num_steps is not None:  # the end of the last step
            end_us = (self._num_steps + self._offset) * self._dt_us
        farthest = max(abs(int(time_us.min(initial=0))), int(time_us.max(initial=0)))  # t_max: no event
        if farthest >= EXACT_US:
            raise ExportError(
                f"{os.fspath(self._path)}: a time of {farthest:,} us; NIR stores times as float64 "
                f"seconds, exact to the microsecond only below 2**50 us ({EXACT_US:,} us, 35 years): "
                "shift the times (Events.t - t0) or write HDF5 or AEDAT 4.0, which keep int64 microseconds"
            )
        data = nir.EventData(idx=idx, time=time, n_neurons=per_sample, t_max=end_us * 1e-6)
        node, observable = self._names
        graph = nir.NIRGraphData(nodes={node: nir.NIRNodeData(observables={observable: data})})
        level = {} if self._compression == "none" else {"compression": self._compression}
        built = io.BytesIO()  # HDF5 in memory, then plain writes: on a full disk HDF5 writing the
        nir.write_data(built, graph, **level)  # file itself crashes the interpreter
        description = {
            "shape": list(self._shape),
            "polarities": self._polarities,
            "polarity": self._polarity,
            "dt_us": self._dt_us,
            "offset": self._offset,
            "num_steps": self._num_steps,
        }
        with h5py.File(built, "a") as file:
            file.attrs[_ATTRIBUTE] = json.dumps(description)
        assert self._temporary is not None  # set while the writer is open
        with open(self._temporary, "wb") as out:
            out.write(built.getbuffer())


def write(
    path: str | os.PathLike[str],
    events: Events,
    *,
    compression: str | None = DEFAULT_COMPRESSION,
    dt_us: int | None = None,
    overwrite: bool = True,
    offset: int = 1,
    polarity: neurons.PolarityMapping = "split",
    node: str = "input",
    observable: str = "spikes",
) -> None:
    """Write events as NIR event data (one ``EventData`` row per sample), atomically.

    Parameters
    ----------
    path : path
        Target file (``.nir``).
    events : Events
        Any batch; step-time events need ``dt_us``.
    compression : {"gzip", "lzf", "none"}
        HDF5 compression of NIR's datasets.
    dt_us, offset, polarity
        Step ``k`` at ``(k + offset) * dt_us`` us; the neuron mapping (:mod:`exporters.neurons`).
    overwrite : bool
        Replace an existing file (atomically).
    node, observable : str
        Where in the ``NIRGraphData`` the ``EventData`` goes.

    Raises
    ------
    OptionError
        Step time without ``dt_us``, microseconds with it, a bad mapping or offset.
    DependencyError
        The nir package (>= 1.0.8) is missing.
    """
    options.events_argument("nir.write", events)
    if (events.time_unit == "step") != (dt_us is not None):
        raise OptionError("step-time events need dt_us (microseconds per step); microsecond events take none")
    with Writer(
        path,
        shape=events.shape,
        polarities=events.polarities,
        num_steps=events.num_steps,
        dt_us=dt_us,
        offset=offset,
        polarity=polarity,
        compression=compression,
        overwrite=overwrite,
        node=node,
        observable=observable,
    ) as writer:
        writer.write(events)


def read(
    path: str | os.PathLike[str],
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    node: str | None = None,
    observable: str | None = None,
) -> Events:
    """The events of a NIR event-data file: all samples or one, all times or ``[t_start, t_end)``.

    ``node`` / ``observable`` choose the ``EventData`` (default: the first one found). A file
    eventcode wrote reads back as written; another tool's as microsecond spikes without polarity
    on a 1-D sample of ``n_neurons``.

    The file is parsed in a forked child process, so that libhdf5 crashing or looping forever
    on damaged HDF5 metadata cannot kill or hang the caller (:data:`GUARD_SECONDS`).

    Raises
    ------
    FileFormatError
        No ``EventData`` in the file, indices and times that are not valid spikes, or HDF5 on
        which libhdf5 crashed or ran past the time limit.
    """
    window = options.window(t_start, t_end)
    events = _load(path, node, observable)
    if sample is not None:
        events = events[options.optional_int("sample", sample, "an int (a sample index)")]  # type: ignore[index]
    return events.time_slice(*window) if window != (None, None) else events


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Iterator[Events]:
    """The events of :func:`read` in one chunk: NIR's data containers are read whole."""
    options.positive_int("chunk_events", chunk_events, "events per piece")
    window = options.window(t_start, t_end)
    yield read(path, t_start=window[0], t_end=window[1])


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The events of :func:`read_chunks` as numpy columns, decoded without torch (one chunk)."""
    options.positive_int("chunk_events", chunk_events, "events per piece")
    start, end = options.window(t_start, t_end)
    _, neuron, time_us, mapping = _spikes(path, None, None)
    with _invalid(path):
        _, t, flat, on = neurons.decode(neuron, time_us, **mapping)
    keep = (t >= (-np.inf if start is None else start)) & (t < (np.inf if end is None else end))
    shape, t, flat, on = mapping["shape"], t[keep], flat[keep], on[keep]
    rest, x = np.divmod(flat, address.width(shape))
    c, y = np.divmod(rest, address.height(shape))
    x_type, y_type, c_type = address.column_dtype_names(shape)
    columns = {"t": t, "x": x.astype(x_type), "y": y.astype(y_type), "p": on}
    if c_type is not None:
        columns["c"] = c.astype(c_type)
    yield columns


def info(path: str | os.PathLike[str]) -> FileInfo:
    """What the file holds (:class:`~exporters.contract.FileInfo`); ``extras`` names the NIR node,
    observable, ``n_neurons``, ``t_max`` and the neuron mapping.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import nir
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.nir"
    >>> nir.write(path, Events(t=[5, 9], x=[0, 2], y=[0, 0], p=[1, 0], shape=(3,)))
    >>> meta = nir.info(path)
    >>> meta.events, meta.extras["n_neurons"], meta.first, meta.last
    (2, 6, 5, 9)
    """
    contents, neuron, time_us, mapping = _spikes(path, None, None)
    description = contents.description
    with _invalid(path):
        _, t, _, _ = neurons.decode(neuron, time_us, **mapping)
    first, last = (int(t.min()), int(t.max())) if len(t) else (None, None)
    shape, dt_us = mapping["shape"], mapping["dt_us"]
    split = neurons.blocks(mapping["polarities"], mapping["polarity"]) == 2
    polarities = 2 if split else (1 if mapping["polarities"] == 1 else 0)
    num_steps = description.get("num_steps", last + 1 if last is not None else 0) if dt_us else None
    size = (address.width(shape), address.height(shape))
    stream = Stream(0, "EVTS", contents.node, size, 1, len(t), first, last)
    return FileInfo(
        Path(path),
        NAME,
        "none",
        (*address.sensor_size(shape)[:2], max(polarities, 1)),
        shape,
        len(t),
        mapping["samples"],
        "step" if dt_us else "us",
        first,
        last,
        num_steps,
        dt_us,
        polarities,
        (stream,),
        {
            "node": contents.node,
            "observable": contents.observable,
            "n_neurons": contents.n_neurons,
            "t_max": contents.t_max,
            "polarity": description.get("polarity", "merge"),
        },
    )


class _Contents(NamedTuple):
    """What the guarded child reads from a NIR file: the chosen ``EventData`` and where it was
    found, and eventcode's description of the events."""

    node: str
    observable: str
    idx: np.ndarray
    time: np.ndarray
    n_neurons: int
    t_max: float
    description: dict[str, Any]


def _contents(path: str | os.PathLike[str], node: str | None, observable: str | None) -> _Contents:
    """The chosen ``EventData`` of the file and eventcode's description, parsed in a guarded
    child process (:func:`_guarded`).

    Raises
    ------
    FileFormatError
        The file is not a regular file, not NIR graph data, holds no such ``EventData``, or
        crashed or hung libhdf5.
    DependencyError
        The nir package (>= 1.0.8) is missing.
    """
    _nir()  # imported here, not in every child
    require_regular(path)
    return _guarded(path, functools.partial(_parse, path, node, observable))


def _parse(path: str | os.PathLike[str], node: str | None, observable: str | None) -> _Contents:
    """:func:`_contents`'s work, done by the child: every libhdf5 call on the file is here."""
    name, kind, data = _found(path, node, observable)
    idx, times = np.asarray(data.idx), np.asarray(data.time, dtype=np.float64)
    return _Contents(name, kind, idx, times, data.n_neurons, data.t_max, _description(path))


def _found(path: str | os.PathLike[str], node: str | None, observable: str | None) -> tuple[str, str, Any]:
    """The ``(node, observable, EventData)`` chosen in the file."""
    nir = _nir()
    try:
        graph = nir.read_data(str(path))
    except FileNotFoundError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, AttributeError) as err:
        # HDF5's errors on damaged bytes, and the nir package's on missing objects
        raise FileFormatError(
            f"{os.fspath(path)}: not NIR graph data ({type(err).__name__}: {err})"
        ) from None
    for name, data in graph.nodes.items():
        observables = getattr(data, "observables", {})
        for kind, value in observables.items():
            if isinstance(value, nir.EventData) and node in (None, name) and observable in (None, kind):
                return name, kind, value
    raise FileFormatError(
        f"{os.fspath(path)}: no EventData at node {node or 'any'}, observable {observable or 'any'}"
    )


def _description(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with h5py.File(path, "r") as file:
            text = file.attrs.get(_ATTRIBUTE)
    except (OSError, RuntimeError, KeyError, ValueError) as err:  # HDF5's errors on damaged bytes
        raise FileFormatError(
            f"{os.fspath(path)}: the {_ATTRIBUTE} attribute does not read ({type(err).__name__}: {err})"
        ) from None
    if text is None:
        return {}
    try:
        described: dict[str, Any] = json.loads(text)
    except ValueError as err:
        raise FileFormatError(f"{os.fspath(path)}: the {_ATTRIBUTE} attribute is not JSON ({err})") from None
    return described


def _guarded(path: str | os.PathLike[str], work: Callable[[], _T]) -> _T:
    """``work()``, run in a forked child process, so that libhdf5 crashing or looping on a damaged
    file cannot kill or hang the caller.

    The child sends what ``work`` returned or raised back over a pipe (pickled, its arrays out of
    band); an exception comes back as itself. The parent kills a child still running after
    :data:`GUARD_SECONDS` plus :data:`GUARD_SECONDS_PER_MIB` per MiB of ``path``. The fork is
    taken holding h5py's lock, so that no other thread is inside libhdf5 when it happens, and the
    child does only ``work`` (h5py and numpy) and leaves with ``os._exit``: no ``atexit``, no
    flush of the parent's buffers, no pytest or ``faulthandler`` output. Without ``os.fork``
    (Windows) ``work`` runs in-process, unguarded.

    Raises
    ------
    FileFormatError
        The child died (libhdf5 crashed: a signal, or an exit status) or ran past the limit; the
        message names the file, what happened and what to do.
    """
    if not hasattr(os, "fork"):
        return work()
    limit = GUARD_SECONDS + GUARD_SECONDS_PER_MIB * os.stat(path).st_size / 2**20
    deadline = time.monotonic() + limit
    reading, writing = os.pipe()
    with phil:
        pid = os.fork()
    if pid == 0:
        os.close(reading)
        _child(work, writing, limit)
    os.close(writing)
    message: tuple[str, Any] | None = None
    try:
        message = _receive(reading, deadline)
    finally:
        os.close(reading)
        if message is None:  # the child died or ran past the limit, or the caller was interrupted
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if message is None:
        raise _death(path, status, limit if time.monotonic() >= deadline else None)
    outcome, value = message
    if outcome == "raised":
        raise value
    returned: _T = value
    return returned


def _child(work: Callable[[], Any], descriptor: int, limit: float) -> NoReturn:
    """The guarded child: run ``work``, send ``("returned", value)`` or ``("raised", error)`` to
    ``descriptor``, leave with ``os._exit`` (status 0 once sent, 70 otherwise)."""
    try:
        faulthandler.disable()  # a crash is the parent's to report, not pytest's to dump
        for number in (signal.SIGINT, signal.SIGTERM):  # no handler of the caller's runs here
            signal.signal(number, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        seconds = math.ceil(2 * limit) + 1  # CPU time: stops a looping child whose parent died
        with contextlib.suppress(ValueError):  # a lower limit is set already
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
        try:
            message: tuple[str, Any] = ("returned", work())
        except Exception as error:
            message = ("raised", error)
        _send(descriptor, message)
        os._exit(0)
    finally:
        os._exit(70)


def _send(descriptor: int, message: tuple[str, Any]) -> None:
    """Write ``message`` as a count of parts, their sizes, then the parts: a pickle and the
    buffers of its arrays (protocol 5, not copied)."""
    buffers: list[pickle.PickleBuffer] = []
    try:
        header = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    except Exception as error:  # an exception holding something that does not pickle
        buffers.clear()
        failed = message[1] if message[0] == "raised" else error
        header = pickle.dumps(("raised", RuntimeError(f"{type(failed).__name__}: {failed}")))
    parts = [memoryview(header), *(buffer.raw() for buffer in buffers)]
    sizes = struct.pack(f"<{len(parts) + 1}Q", len(parts), *(part.nbytes for part in parts))
    for part in (memoryview(sizes), *parts):
        while len(part):
            part = part[os.write(descriptor, part) :]


def _receive(descriptor: int, deadline: float) -> tuple[str, Any] | None:
    """The message :func:`_send` wrote, or None if the pipe ended first or ``deadline`` passed."""
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)

    def read(size: int) -> bytearray | None:
        data = bytearray(size)
        view, got = memoryview(data), 0
        while got < size:
            ready = poller.poll(max(deadline - time.monotonic(), 0) * 1000)
            count = os.readv(descriptor, [view[got:]]) if ready else 0
            if not count:
                return None
            got += count
        return data

    head = read(8)
    sizes = None if head is None else read(8 * struct.unpack("<Q", head)[0])
    if sizes is None:
        return None
    parts: list[bytearray] = []
    for size in struct.unpack(f"<{len(sizes) // 8}Q", sizes):
        part = read(size)
        if part is None:
            return None
        parts.append(part)
    message: tuple[str, Any] = pickle.loads(parts[0], buffers=parts[1:])
    return message


def _death(path: str | os.PathLike[str], status: int, limit: float | None) -> FileFormatError:
    """The error for a guarded child that sent nothing: stopped past ``limit`` seconds (if
    given), or dead on its own."""
    if limit is not None:
        return FileFormatError(
            f"{os.fspath(path)}: reading the file did not finish within {limit:.1f} s, so the child "
            "process reading it was stopped: libhdf5 loops forever on some damaged HDF5 metadata. "
            "If the file is sound but large, raise exporters.nir.GUARD_SECONDS"
        )
    if not os.WIFSIGNALED(status):
        how = f"the child process reading the file ended with status {os.WEXITSTATUS(status)}"
    elif os.WTERMSIG(status) == signal.SIGKILL:
        how = "the child process reading the file was killed (SIGKILL: out of memory?)"
    else:
        how = f"libhdf5 crashed ({signal.Signals(os.WTERMSIG(status)).name}) reading the file"
    return FileFormatError(
        f"{os.fspath(path)}: {how}, before it sent the events; the file's HDF5 structure is "
        "probably damaged (only that child process died). Check the file with h5dump, or write "
        "it again"
    )


def _load(path: str | os.PathLike[str], node: str | None, observable: str | None) -> Events:
    """The events of the chosen ``EventData``."""
    contents, neuron, time_us, mapping = _spikes(path, node, observable)
    with _invalid(path):
        return neurons.events(neuron, time_us, num_steps=contents.description.get("num_steps"), **mapping)


@contextlib.contextmanager
def _invalid(path: str | os.PathLike[str]) -> Iterator[None]:
    """Spikes that decode to no valid events (a neuron or time out of range) as the file's error."""
    try:
        yield
    except EventsError as err:
        raise FileFormatError(f"{os.fspath(path)}: {err}") from None


def _spikes(
    path: str | os.PathLike[str], node: str | None, observable: str | None
) -> tuple[_Contents, np.ndarray, np.ndarray, dict[str, Any]]:
    """What the file holds (:func:`_contents`), its stacked ``(neuron, time_us)`` spikes, and the
    :func:`exporters.neurons.events` keywords that decode them."""
    contents = _contents(path, node, observable)
    idx, time, description = contents.idx, contents.time, contents.description
    if idx.ndim != 2 or idx.shape != time.shape:
        raise FileFormatError(f"{os.fspath(path)}: EventData idx {idx.shape} and time {time.shape} differ")
    spike = idx >= 0
    if not np.isfinite(time[spike]).all() or (time[spike] < 0).any():
        raise FileFormatError(f"{os.fspath(path)}: EventData holds spikes at a negative or infinite time")
    shape = tuple(description.get("shape", (int(contents.n_neurons),)))
    polarities, polarity = description.get("polarities", 2), description.get("polarity", "merge")
    per_sample = neurons.neurons_per_sample(shape, polarities, polarity)
    if math.prod(shape) and int(contents.n_neurons) != per_sample:
        raise FileFormatError(f"{os.fspath(path)}: n_neurons {contents.n_neurons} does not fit shape {shape}")
    rows = np.repeat(np.arange(idx.shape[0]), spike.sum(axis=1))
    mapping = {
        "shape": shape,
        "polarities": polarities,
        "polarity": polarity,
        "samples": max(idx.shape[0], 1),
        "dt_us": description.get("dt_us"),
        "offset": description.get("offset", 1),
    }
    return (
        contents,
        idx[spike] + rows * per_sample,
        np.rint(time[spike] * 1e6).astype(np.int64),
        mapping,
    )
