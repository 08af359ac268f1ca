"""One input through one reader in a forked worker, and the outcome class of each call.

The caller is the warm parent: it has imported torch, eventcode and exporters (and the readers'
libraries, :func:`warm`), so a worker forked from it starts in milliseconds (:func:`run`: one
worker per input; :class:`Worker`: one for many). For each input the worker sets ``RLIMIT_AS``
(its address space then plus the memory budget plus :data:`AS_SLACK`) and restarts its peak
resident-set count (``VmHWM``), runs :func:`operations` on the input file in turn and reports
each call's outcome over a pipe as it ends; the parent kills it when a call gives no answer
within the time limit. A worker that
dies inside a call (a signal, or ``exit`` from a C library) crashed there.

Outcome classes (:class:`Outcome`), per call:

1. ``OURS``: an ``EventcodeError`` (``AllocationError`` included: refused before allocating), or
   ``FileNotFoundError`` / ``IsADirectoryError``; with ``OK``, the acceptable ends;
2. ``FOREIGN``: any other exception (a bug: the reader let a library's error through);
3. ``HANG``: no answer within the time limit (10 s);
4. ``CRASH``: the worker died (a signal, or an exit status) inside the call;
5. ``MEMORY``: the worker's peak RSS grew by more than :func:`memory_budget` of the file, or an
   allocation failed (``MemoryError``, torch's "can't allocate memory"), ``RLIMIT_AS`` included;
6. ``WRONG``: success with wrong data: events that fail ``Events`` validation, ``read_chunks``,
   ``info``, a time window or the time ranges that disagree with ``read``, or a file whose
   checked byte was changed (:mod:`.targets`) that still reads.
"""

from __future__ import annotations

import enum
import faulthandler
import os
import pickle
import resource
import select
import signal
import struct
import sys
import time
import traceback
import warnings
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import torch

import eventcode
import exporters
from eventcode import Events
from eventcode.errors import AllocationError, EventcodeError, OptionError
from exporters import ranges

OPERATIONS = ("read", "read_chunks", "info", "window", "ranges")
"""The calls made on every input, in this order: ``read(path)``, ``read_chunks(path,
chunk_events(size))`` (every chunk), ``info(path)``, ``read(path, t_start=..., t_end=...)``
over the middle third of the events ``read`` gave (``[0, 1000)`` when it gave none), and
``exporters.ranges.split(path, parts=3)`` with ``exporters.ranges.read`` of each range (the
index, checkpoint and mid-file reads that ``convert --parts`` runs on); see :func:`operations`."""


def operations(module: ModuleType) -> tuple[str, ...]:
    """The :data:`OPERATIONS` made on inputs of the format ``module``: all of them for a registered
    format of streams; without ``ranges`` for NIR (its files hold samples, which no time range
    cuts, and each of its calls forks the reader's guarded child) and for a module that is no
    registered format (the harness's own tests)."""
    name = _format_name(module)
    return OPERATIONS if name not in (None, "nir") else OPERATIONS[:-1]


def _format_name(module: ModuleType) -> str | None:
    return next((fmt.name for fmt in exporters.formats() if fmt.module is module), None)


TIME_LIMIT = 10.0
"""Seconds a call may run before it counts as a hang."""


def chunk_events(size: int) -> int:
    """``chunk_events`` of ``read_chunks`` for a ``size``-byte file: small, so that every seed
    comes in several chunks, but not so small that a large one comes in thousands."""
    return max(64, size // 64)


AS_SLACK = 512 << 20
"""Address space allowed beyond the budget: thread stacks and malloc arenas reserve address
space they do not use, and a limit without slack would turn them into false memory outcomes."""

_ROOTS = (str(Path(exporters.__file__).parent) + os.sep, str(Path(eventcode.__file__).parent) + os.sep)
"""Source folders whose line transitions count as coverage."""


class Outcome(enum.Enum):
    """What one call on one input ended in."""

    OK = "ok"
    OURS = "our error"
    FOREIGN = "foreign exception"
    HANG = "hang"
    CRASH = "crash"
    MEMORY = "memory"
    WRONG = "wrong data"


DEFECTS = (Outcome.FOREIGN, Outcome.HANG, Outcome.CRASH, Outcome.MEMORY, Outcome.WRONG)
"""Outcome classes 2-6: each one is a reader bug."""


def memory_budget(size: int) -> int:
    """Bytes a reader may add to the worker's peak RSS for a ``size``-byte file: 20x + 100 MB."""
    return 20 * size + 100 * 10**6


@dataclass(frozen=True)
class Call:
    """One call's outcome; ``detail`` names the exception (and where) or what was wrong."""

    operation: str
    outcome: Outcome
    detail: str

    def signature(self, *, line: bool = False) -> str:
        """What tells one defect from another: the outcome, the call, the exception's type and the
        innermost file of eventcode or exporters it passed through (with its line if ``line``)."""
        kind = self.detail.partition(": ")[0] if self.outcome in (Outcome.FOREIGN, Outcome.OURS) else ""
        where = self.detail.rpartition(" [at ")[2].rstrip("]") if self.detail.endswith("]") else ""
        if not line:
            where = where.rpartition(":")[0]
        return " ".join(part for part in (self.outcome.name, self.operation, kind, where) if part)


@dataclass(frozen=True)
class Result:
    """Every call's outcome on one input, the worker's coverage, and its memory growth."""

    calls: tuple[Call, ...]
    edges: frozenset[int]
    peak_growth: int

    @property
    def defects(self) -> tuple[Call, ...]:
        """The calls that ended in classes 2-6."""
        return tuple(call for call in self.calls if call.outcome in DEFECTS)


def warm() -> None:
    """Import the libraries the readers import lazily, so that workers do not."""
    import h5py  # noqa: F401
    import lz4.frame  # noqa: F401
    import nir  # noqa: F401
    import zstandard  # noqa: F401


# --------------------------------------------------------------------------- the parent's side
def run(
    module: ModuleType,
    data: bytes,
    path: Path,
    *,
    must_fail: str | None = None,
    coverage: bool = False,
    time_limit: float = TIME_LIMIT,
) -> Result:
    """Write ``data`` to ``path`` and run :func:`operations` of the format ``module`` on it in a
    worker forked for it alone. ``must_fail`` (a checked byte's change, in words) makes a
    successful ``read`` a ``WRONG`` outcome; ``coverage`` collects the line transitions in
    eventcode and exporters."""
    path.write_bytes(data)
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        os.close(reading)
        try:
            _setup()
            _one(module, path, len(data), _sender(writing), must_fail, coverage)
        finally:
            os._exit(70)
    os.close(writing)
    try:
        collected = _collect(_Messages(reading), pid, time_limit)
    finally:
        os.close(reading)
    return _ended(collected, pid, len(data), wait=True)


class Worker:
    """A forked worker kept for many inputs of one format: the campaign's fast path.

    A fork of the warm parent costs about 30 ms here, as much as the four calls on a small input;
    a worker that takes input after input saves it. Its peak memory is reset before each input
    (``/proc/self/clear_refs``), and ``RLIMIT_AS`` set for each. An input may leave state behind
    (caches, the decompression budget's accounting), so a worker is replaced after ``inputs``
    inputs, and the caller re-runs any input with a defect outcome through :func:`run`, in a
    worker of its own, before it counts (:func:`confirmed`). A worker that hangs or dies is
    replaced at the next input.
    """

    def __init__(self, module: ModuleType, *, inputs: int = 200) -> None:
        self.module, self.inputs = module, inputs
        self._pid = 0
        self._served = 0
        self._requests = self._replies = -1
        self._messages: _Messages | None = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        data: bytes,
        path: Path,
        *,
        must_fail: str | None = None,
        coverage: bool = False,
        time_limit: float = TIME_LIMIT,
    ) -> Result:
        """:func:`run`'s outcome for ``data``, in this worker (started or replaced as needed)."""
        if not self._pid or self._served >= self.inputs:
            self.close()
            self._start()
        assert self._messages is not None
        path.write_bytes(data)
        request = pickle.dumps((str(path), len(data), must_fail, coverage))
        os.write(self._requests, struct.pack("<I", len(request)) + request)
        self._served += 1
        collected = _collect(self._messages, self._pid, time_limit)
        if collected.finished:
            return _ended(collected, self._pid, len(data), wait=False)
        result = _ended(collected, self._pid, len(data), wait=True)  # hung (killed) or died
        self._pid = 0
        self.close()
        return result

    def _start(self) -> None:
        request_read, self._requests = os.pipe()
        self._replies, reply_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: serves requests until the pipe closes, never returns
            os.close(self._requests)
            os.close(self._replies)
            try:
                _serve(self.module, request_read, _sender(reply_write))
            finally:
                os._exit(70)
        os.close(request_read)
        os.close(reply_write)
        self._pid, self._served, self._messages = pid, 0, _Messages(self._replies)

    def close(self) -> None:
        """End the worker (closing its request pipe ends it; a stuck one is killed)."""
        for descriptor in (self._requests, self._replies):
            if descriptor >= 0:
                os.close(descriptor)
        self._requests = self._replies = -1
        self._messages = None
        if self._pid:
            os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = 0


def confirmed(module: ModuleType, result: Result, data: bytes, path: Path, **options: Any) -> Result:
    """``result`` from a :class:`Worker`, or, where it has a defect, the outcome of ``data`` in a
    worker of its own (:func:`run`): a defect counts only where it shows without earlier inputs."""
    return run(module, data, path, **options) if result.defects else result


@dataclass
class _Collected:
    """What the parent heard from a worker about one input."""

    calls: list[Call]
    edges: frozenset[int]
    base: int
    peak: int
    current: str
    """The call running when the worker stopped answering or died; "" when it had finished."""
    hung: bool
    finished: bool
    time_limit: float


def _collect(messages: _Messages, pid: int, time_limit: float) -> _Collected:
    """Read one input's messages until the worker reports it done, ends, or overruns a call's
    time limit (then it is killed)."""
    got = _Collected([], frozenset(), 0, 0, "start-up", False, False, time_limit)
    deadline = time.monotonic() + time_limit
    while True:
        message = messages.next(deadline)
        if message is None:  # the worker ended
            return got
        if message == "timeout":
            os.kill(pid, signal.SIGKILL)
            got.hung = True
            return got
        kind, *fields = message
        if kind == "base":
            got.base = fields[0]
        elif kind == "start":
            got.current, deadline = fields[0], time.monotonic() + time_limit
        elif kind == "end":
            got.calls.append(Call(fields[0], Outcome(fields[1]), fields[2]))
            got.current, got.peak = "", max(got.peak, fields[3])
        elif kind == "edges":
            got.edges = frozenset(array("q", fields[0]))
        elif kind == "done":
            got.finished = True
            return got


def _ended(got: _Collected, pid: int, size: int, *, wait: bool) -> Result:
    """The :class:`Result` of what was collected; ``wait`` reaps the worker (it has ended or
    been killed) and, if it died inside a call, classifies the death."""
    calls = list(got.calls)
    growth = max(got.peak - got.base, 0)
    if wait:
        _, status, usage = os.wait4(pid, 0)
        growth = max(growth, usage.ru_maxrss * 1024 - got.base)
        if got.hung:
            calls.append(Call(got.current, Outcome.HANG, f"no answer within {got.time_limit:g} s"))
        elif got.current:
            calls.append(_death(got.current, status, growth, memory_budget(size)))
    return Result(tuple(calls), got.edges, growth)


def _death(operation: str, status: int, growth: int, budget: int) -> Call:
    """The outcome of a call the worker died in: memory if it had outgrown the budget, else a crash."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        how = f"killed by {signal.Signals(number).name}"
    else:
        how = f"exited with status {os.WEXITSTATUS(status)}"
    if growth > budget:
        return Call(
            operation, Outcome.MEMORY, f"{how} after its RSS grew by {growth:,} bytes (budget {budget:,})"
        )
    return Call(operation, Outcome.CRASH, how)


class _Messages:
    """Length-prefixed pickles from the worker's pipe."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor, self.buffer = descriptor, b""

    def next(self, deadline: float | None) -> Any:
        """The next message; None at the end of the pipe; ``"timeout"`` past ``deadline``
        (None: wait as long as it takes)."""
        while True:
            if len(self.buffer) >= 4:
                (size,) = struct.unpack_from("<I", self.buffer)
                if len(self.buffer) >= 4 + size:
                    message = pickle.loads(self.buffer[4 : 4 + size])
                    self.buffer = self.buffer[4 + size :]
                    return message
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return "timeout"
            ready, _, _ = select.select([self.descriptor], [], [], remaining)
            if ready:
                chunk = os.read(self.descriptor, 1 << 16)
                if not chunk:
                    return None
                self.buffer += chunk


# --------------------------------------------------------------------------- the worker's side
def _sender(descriptor: int) -> Callable[..., None]:
    """Send a message to the parent: a length-prefixed pickle on ``descriptor``."""

    def send(*message: object) -> None:
        payload = pickle.dumps(message)
        os.write(descriptor, struct.pack("<I", len(payload)) + payload)

    return send


def _setup() -> None:
    """The worker's process-wide settings, once."""
    faulthandler.disable()  # a crash is reported by the parent, not dumped by pytest's handler
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")


def _serve(module: ModuleType, descriptor: int, send: Callable[..., None]) -> None:
    """A :class:`Worker`: each request ``(path, size, must_fail, coverage)`` from ``descriptor``
    is one input, answered as :func:`run`'s worker answers and ended by ``"done"``."""
    _setup()
    requests = _Messages(descriptor)
    while (request := requests.next(None)) is not None:
        path, size, must_fail, coverage = request
        _one(module, Path(path), size, send, must_fail, coverage)
        send("done")
    os._exit(0)


def _one(
    module: ModuleType,
    path: Path,
    size: int,
    send: Callable[..., None],
    must_fail: str | None,
    coverage: bool,
) -> None:
    """One input: its limits, then each operation, each outcome sent as soon as it is known,
    with the peak resident set so far; then the coverage."""
    budget = memory_budget(size)
    limit = _status("VmSize") + budget + AS_SLACK
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
    base = _status("VmHWM")
    send("base", base)
    edges: set[int] = set()
    state = _State(module, path, size, must_fail)
    for operation in operations(module):
        send("start", operation)
        if coverage:
            sys.settrace(_tracer(edges))
        try:
            outcome, detail = state.call(operation)
        finally:
            sys.settrace(None)
        peak = _status("VmHWM")
        if outcome in (Outcome.OK, Outcome.OURS) and peak - base > budget:
            outcome, detail = Outcome.MEMORY, f"peak RSS grew by {peak - base:,} bytes (budget {budget:,})"
        send("end", operation, outcome.value, detail, peak)
    send("edges", array("q", edges).tobytes())


def _status(field: str) -> int:
    """A size from ``/proc/self/status`` (``VmSize``, ``VmHWM``), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _tracer(edges: set[int]) -> Callable[[FrameType, str, Any], Any]:
    """A ``sys.settrace`` function adding AFL-style edges (previous line, this line) of the
    frames in eventcode and exporters to ``edges``."""
    previous = 0
    ours: dict[str, bool] = {}

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal previous
        if event == "line":
            here = hash((id(frame.f_code), frame.f_lineno))
            edges.add(here ^ previous)
            previous = here >> 1
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        name = frame.f_code.co_filename
        if name not in ours:
            ours[name] = name.startswith(_ROOTS)
        return local if ours[name] else None

    return calls


def classify(error: BaseException) -> Outcome:
    """The outcome class of an exception a reader raised."""
    if isinstance(error, AllocationError):
        return Outcome.OURS
    if isinstance(error, MemoryError):
        return Outcome.MEMORY
    if isinstance(error, (EventcodeError, FileNotFoundError, IsADirectoryError)):
        return Outcome.OURS
    if isinstance(error, RuntimeError) and "allocate memory" in str(error):
        return Outcome.MEMORY
    return Outcome.FOREIGN


def describe(error: BaseException) -> str:
    """``type: message [at file:line]``, the innermost frame in eventcode or exporters."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if frame.filename.startswith(_ROOTS)]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    at = (
        f" [at {Path(where.filename).parent.name}/{Path(where.filename).name}:{where.lineno}]"
        if where
        else ""
    )
    message = " ".join(str(error).split())[:300]
    return f"{type(error).__module__}.{type(error).__qualname__}: {message}{at}"


class _State:
    """The worker's operations, with what ``read`` gave for the later ones to agree with."""

    def __init__(self, module: ModuleType, path: Path, size: int, must_fail: str | None) -> None:
        self.module, self.path, self.size, self.must_fail = module, path, size, must_fail
        self.full: Events | None = None
        self.refused = ""

    def call(self, operation: str) -> tuple[Outcome, str]:
        """Run ``operation``; its outcome and detail."""
        try:
            wrong = getattr(self, f"_{operation}")()
        except BaseException as error:
            outcome = classify(error)
            if operation == "read" and outcome is Outcome.OURS:
                self.refused = describe(error)
            return outcome, describe(error)
        return (Outcome.WRONG, wrong) if wrong else (Outcome.OK, "")

    def _read(self) -> str:
        events = self.module.read(self.path)
        wrong = _invalid(events)
        if wrong:
            return wrong
        self.full = events
        if self.must_fail:
            return f"{self.must_fail}, yet read gave {len(events)} events"
        return ""

    def _read_chunks(self) -> str:
        chunks = list(self.module.read_chunks(self.path, chunk_events(self.size)))
        for i, chunk in enumerate(chunks):
            wrong = _invalid(chunk)
            if wrong:
                return f"chunk {i}: {wrong}"
        got = sum(len(chunk) for chunk in chunks)
        if self.full is None:
            if self.refused:
                return f"read refused the file ({self.refused}) but read_chunks gave {got} events"
            return ""
        return _differ(self.full, chunks, "read_chunks")

    def _info(self) -> str:
        described = self.module.info(self.path)
        if self.full is not None and (described.events, described.samples) != (
            len(self.full),
            self.full.num_samples,
        ):
            return (
                f"info says {described.events} events in {described.samples} samples, read gave "
                f"{len(self.full)} in {self.full.num_samples}"
            )
        return ""

    def _window(self) -> str:
        full = self.full
        if full is None or not len(full):
            events = self.module.read(self.path, t_start=0, t_end=1000)
            return _invalid(events)
        t = full.t  # in time order within each sample, not across a batch's samples
        low, high = sorted((int(t[len(t) // 3]), int(t[2 * len(t) // 3])))
        start, end = low, high + 1
        events = self.module.read(self.path, t_start=start, t_end=end)
        wrong = _invalid(events)
        return wrong or _differ(full.time_slice(start, end), [events], f"the window [{start}, {end})")

    def _ranges(self) -> str:
        samples = 1 if self.full is None else self.full.num_samples
        batch = samples > 1
        try:
            cuts = ranges.split(self.path, parts=3, format=_format_name(self.module))
        except OptionError:
            if batch:  # refused as documented: a time range is one stream's
                return ""
            raise
        if batch:
            return f"split cut a file of {samples} samples into {len(cuts)} time ranges"
        pieces = [ranges.read(self.path, cut) for cut in cuts]
        for cut, piece in zip(cuts, pieces, strict=True):
            wrong = _invalid(piece)
            if wrong:
                return f"range {cut.index}: {wrong}"
        if self.full is None:
            if self.refused:
                got = sum(len(piece) for piece in pieces)
                return f"read refused the file ({self.refused}) but its ranges gave {got} events"
            return ""
        return _differ(self.full, pieces, f"{len(cuts)} ranges")


def _invalid(events: object) -> str:
    """Why ``events`` fail ``Events``' full validation, or ``""``."""
    if not isinstance(events, Events):
        return f"returned a {type(events).__name__}, not Events"
    try:
        Events.from_columns(
            events.t,
            events.x,
            events.y,
            events.p,
            c=events.c,
            offsets=events.offsets,
            shape=events.shape,
            num_steps=events.num_steps,
            time_unit=events.time_unit,
            polarities=events.polarities,
            check="full",
        )
    except EventcodeError as error:
        return f"events fail validation: {describe(error)}"
    return ""


def _differ(expected: Events, pieces: list[Events], what: str) -> str:
    """How the concatenated columns and metadata of ``pieces`` differ from ``expected``, or ``""``."""
    for piece in pieces:
        if (piece.shape, piece.time_unit, piece.num_steps) != (
            expected.shape,
            expected.time_unit,
            expected.num_steps,
        ):
            return (
                f"{what} gave shape {piece.shape}, {piece.time_unit}, num_steps {piece.num_steps}; read gave "
                f"{expected.shape}, {expected.time_unit}, num_steps {expected.num_steps}"
            )
    for name in ("t", "x", "y", "p"):
        column = getattr(expected, name)
        joined = torch.cat([getattr(piece, name) for piece in pieces]) if pieces else column[:0]
        if not torch.equal(joined.to(column.dtype), column):
            return f"{what} gave {len(joined)} events whose {name} differs from read's {len(column)}"
    return ""
