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
import io
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from eventcode import address, options
from eventcode.errors import DependencyError, EventsError, ExportError, FileFormatError, OptionError
from exporters import neurons
from exporters.atomic import AtomicWriter
from exporters.compression import canonical
from exporters.contract import FileInfo, Stream
from exporters.options import step_us
from exporters.source import require_regular

if TYPE_CHECKING:
    from eventcode import Events

NAME = "nir"
DESCRIPTION = "NIR 1.0.8 event data (nir.EventData in NIRGraphData: a NIR graph's spike input)"
SUFFIXES = (".nir",)
BATCHED = True
COMPRESSIONS = {"gzip": "gzip", "lzf": "lzf", "none": "none"}
DEFAULT_COMPRESSION = "gzip"
_MAGIC = b"\x89HDF\r\n\x1a\n"
_ATTRIBUTE = "eventcode"
"""The root attribute holding eventcode's description of the events (JSON)."""


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

    Raises
    ------
    FileFormatError
        No ``EventData`` in the file, or indices and times that are not valid spikes.
    """
    window = options.window(t_start, t_end)
    events = _load(path, node, observable)[0]
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
    _, _, neuron, time_us, mapping = _spikes(path, None, None)
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
    found, description, neuron, time_us, mapping = _spikes(path, None, None)
    with _invalid(path):
        _, t, _, _ = neurons.decode(neuron, time_us, **mapping)
    first, last = (int(t.min()), int(t.max())) if len(t) else (None, None)
    shape, dt_us = mapping["shape"], mapping["dt_us"]
    split = neurons.blocks(mapping["polarities"], mapping["polarity"]) == 2
    polarities = 2 if split else (1 if mapping["polarities"] == 1 else 0)
    num_steps = description.get("num_steps", last + 1 if last is not None else 0) if dt_us else None
    size = (address.width(shape), address.height(shape))
    stream = Stream(0, "EVTS", found[0], size, 1, len(t), first, last)
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
            "node": found[0],
            "observable": found[1],
            "n_neurons": found[2].n_neurons,
            "t_max": found[2].t_max,
            "polarity": description.get("polarity", "merge"),
        },
    )


def _found(path: str | os.PathLike[str], node: str | None, observable: str | None) -> tuple[str, str, Any]:
    """The ``(node, observable, EventData)`` chosen in the file."""
    nir = _nir()
    require_regular(path)
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


def _load(
    path: str | os.PathLike[str], node: str | None, observable: str | None
) -> tuple[Events, tuple[str, str, Any], dict[str, Any]]:
    """The events of the chosen ``EventData``, where they were found, and eventcode's description."""
    found, description, neuron, time_us, mapping = _spikes(path, node, observable)
    with _invalid(path):
        events = neurons.events(neuron, time_us, num_steps=description.get("num_steps"), **mapping)
    return events, found, description


@contextlib.contextmanager
def _invalid(path: str | os.PathLike[str]) -> Iterator[None]:
    """Spikes that decode to no valid events (a neuron or time out of range) as the file's error."""
    try:
        yield
    except EventsError as err:
        raise FileFormatError(f"{os.fspath(path)}: {err}") from None


def _spikes(
    path: str | os.PathLike[str], node: str | None, observable: str | None
) -> tuple[tuple[str, str, Any], dict[str, Any], np.ndarray, np.ndarray, dict[str, Any]]:
    """Where the ``EventData`` was found, eventcode's description, its stacked ``(neuron,
    time_us)`` spikes, and the :func:`exporters.neurons.events` keywords that decode them."""
    found = _found(path, node, observable)
    data, description = found[2], _description(path)
    idx, time = np.asarray(data.idx), np.asarray(data.time, dtype=np.float64)
    if idx.ndim != 2 or idx.shape != time.shape:
        raise FileFormatError(f"{os.fspath(path)}: EventData idx {idx.shape} and time {time.shape} differ")
    spike = idx >= 0
    if not np.isfinite(time[spike]).all() or (time[spike] < 0).any():
        raise FileFormatError(f"{os.fspath(path)}: EventData holds spikes at a negative or infinite time")
    shape = tuple(description.get("shape", (int(data.n_neurons),)))
    polarities, polarity = description.get("polarities", 2), description.get("polarity", "merge")
    per_sample = neurons.neurons_per_sample(shape, polarities, polarity)
    if math.prod(shape) and int(data.n_neurons) != per_sample:
        raise FileFormatError(f"{os.fspath(path)}: n_neurons {data.n_neurons} does not fit shape {shape}")
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
        found,
        description,
        idx[spike] + rows * per_sample,
        np.rint(time[spike] * 1e6).astype(np.int64),
        mapping,
    )
