"""Prophesee EVT 2.0 and EVT 3.0 ``.raw`` files: a ``%`` text header, then little-endian words.

The header is lines starting with ``%`` (``% evt 3.0``, ``% format EVT3;height=720;width=1280``,
``% geometry 1280x720``, ``% plugin_name ...``, ``% end``); it ends after ``% end`` or at the
first line that does not start with ``%``. ``% t0 N`` (faery writes it with ``zero_t0``) is added
to every time, as faery does. The version comes from ``% evt`` or ``% format``
(``version=`` for a file that says neither). The sensor size comes from ``% geometry``, else
``% format``'s width and height, else ``sensor_size=``, else the camera of ``% plugin_name``
(:data:`PLUGINS`; a guess ``sensor_size=`` overrides, since expelliarmus writes a Gen3 plugin
name whatever the data), else the largest address, with a
:class:`~eventcode.errors.DataLossWarning` saying so. Only CD events are read; the other
words (``EXT_TRIGGER``, ``OTHERS``, ``CONTINUED``, reserved types) are counted by kind in
:func:`info`'s ``extras["skipped"]`` and reported by a :class:`~eventcode.errors.DataLossWarning`.

EVT 2.0 (32-bit words, type in bits 31-28): ``CD_OFF`` / ``CD_ON`` carry x, y and the 6 low bits of
the time; ``EVT_TIME_HIGH`` its bits 33-6. The time is ``time_high << 6 | low``; every decrease of
``time_high`` is a wrap and adds 2^34 us (4.8 h).

EVT 3.0 (16-bit words, type in bits 15-12) is stateful: ``EVT_ADDR_Y`` sets y, ``EVT_ADDR_X`` is one
event, ``VECT_BASE_X`` sets a base x and polarity, ``VECT_12`` / ``VECT_8`` are masks of events at
``base + i`` that then advance the base by 12 / 8, ``EVT_TIME_HIGH`` and ``EVT_TIME_LOW`` set the
high and the low 12 bits of a 24-bit time. Every decrease of ``TIME_HIGH`` is a wrap (2^24 us,
16.8 s). The decoder is numpy only: each word's state (y, base x, time) is the value of the last
word of its kind (a cumulative maximum of indices), the base x adds the cumulative sum of the
vectors' widths since, and the vectors' masks expand with one bit table; no Python loop per word.

Both versions decode in pieces of about half a million words on all cores. A first pass over each
piece counts its events and finds the state it leaves (the last y, low time, vector base, and its
TIME_HIGH values); the states chain in file order; then each piece decodes from its starting state
straight into its slice of the output columns, with per-thread scratch buffers for every
temporary (fresh temporaries cost page faults, which serialize threads on a virtual machine).

Who is right on ``evt3/expelliarmus_evt3_sample.raw``: this module, Prophesee's spec read
literally. The file (Gen4.1 camera) writes each ``TIME_HIGH`` with a ``TIME_LOW`` right after it
whose value is ahead of the next ``TIME_LOW`` (``TH 0xb2d, TL 0x32b, TL 0x320``) and no event
between: the spec's "``TIME_LOW`` updates the lower 12 bits of the time base" gives the events
their times, in order (they never go back). faery keeps the running maximum of the time words,
ignoring a ``TIME_LOW`` below it, so the 1,455 events after such a pair take the passing value
``0x32b``, up to 11 us late. expelliarmus adds 4,096 us at
every drop of ``TIME_LOW`` (``t = ((high + drops) << 12) + low``, see its ``evt3.c``), counting
the 4,096 us of a ``TIME_HIGH`` step twice: its times drift 45 ms on an 8.8 ms recording, and it
misreads every file whose low time drops at a ``TIME_HIGH`` step, faery's and ours included.
Its own EVT 3.0 writer writes one ``TIME_HIGH`` and lets ``TIME_LOW`` drops stand for the steps:
by the spec such a file goes back in time, and :func:`read` refuses it, naming the word.

Writing (:func:`write`, :class:`Writer`, ``version="3.0"`` by default, or ``"2.0"``) writes the
header lines ``% evt``, ``% format``, ``% geometry``, eventcode's own line (step time, polarities)
and ``% end``, then: EVT 2.0 ``TIME_HIGH`` where ``t >> 6`` changes, and one CD word per event;
EVT 3.0 the canonical subset ``TIME_HIGH`` (each followed by ``TIME_LOW``), ``TIME_LOW`` where the
time changes, ``ADDR_Y`` where y changes and one ``ADDR_X`` per event (no vectors). Gaps are
bridged with extra ``TIME_HIGH`` words, 8 steps (32.8 ms) apart in EVT 3.0 and 2^27 apart in EVT
2.0, so that every wrap is a decrease that any decoder counts; and EVT 3.0 writes every wrap as
``TIME_HIGH`` 0xFFF then 0x000 (one or two words more where a gap crosses it), the only decrease
faery counts as a wrap (it takes any other for a glitch; its EVT 2.0 decoder counts every one).
faery reads both back exactly; expelliarmus reads EVT 2.0 exactly, and EVT 3.0 only while the
low time never drops (above).

Examples
--------
>>> import tempfile, pathlib
>>> from eventcode import Events
>>> from exporters import evt
>>> t = [5, 4096 * 4095 + 7, 2**24 + 3]  # across the 24-bit wrap of EVT 3.0
>>> events = Events(t=t, x=[0, 1279, 10], y=[0, 719, 3], p=[1, 0, 1], sensor_size=(1280, 720))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "events.raw"
>>> evt.write(path, events)
>>> evt.read(path) == events
True
>>> meta = evt.info(path)
>>> meta.extras["version"], meta.sensor_size, meta.last
('3.0', (1280, 720, 2), 16777219)
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, cast

import numpy as np

from eventcode import address, checks
from eventcode.errors import DataLossWarning, EventsError, ExportError, FileFormatError, OptionError
from eventcode.options import positive_int
from exporters import steptime, threads
from exporters.atomic import AtomicWriter
from exporters.batches import write_samples
from exporters.compression import Compression, canonical
from exporters.contract import FileInfo, Stream, empty_columns
from exporters.options import at_least_one, one_sample_window, started
from exporters.source import open_regular
from exporters.steptime import StepTime, window_us

if TYPE_CHECKING:
    from eventcode import Events

NAME = "evt"
DESCRIPTION = "Prophesee EVT 2.0 / EVT 3.0 (.raw; CD events of Prophesee and IMX636 cameras)"
BATCHED = False
SUFFIXES = (".raw", ".evt")
COMPRESSIONS = {"none": "none"}
"""EVT files store words as they are: ``"none"`` (or None) only."""
DEFAULT_COMPRESSION = "none"
Version = Literal["2.0", "3.0"]
VERSIONS: tuple[Version, ...] = ("2.0", "3.0")
PLUGINS = {
    "hal_plugin_gen3_fx3": (640, 480),
    "hal_plugin_gen31_fx3": (640, 480),
    "hal_plugin_gen31_evk2": (640, 480),
    "hal_plugin_gen4_evk2": (1280, 720),
    "hal_plugin_gen41_evk2": (1280, 720),
    "hal_plugin_gen41_evk3": (1280, 720),
    "hal_plugin_imx636_evk4": (1280, 720),
    "hal_plugin_imx636_evk3": (1280, 720),
}
"""Sensor sizes of Prophesee's HAL plugins (``% plugin_name``), for files without ``% geometry``."""
MAX_SIZE = 2048
"""EVT 2.0 and 3.0 address 11 bits: sensors up to 2048 x 2048."""
BLOCK = 1 << 22
"""Most words :func:`read_chunks` and :func:`info` decode at a time (16 MiB of EVT 2.0);
:func:`read` decodes the whole file at once, straight into its columns."""
MAX_BRIDGE = 1 << 22
"""Most ``TIME_HIGH`` words a writer adds to bridge gaps in one chunk."""
_HEAD_LIMIT = 1 << 20
_PIECE = 1 << 19
"""Words of a piece that one core decodes: large enough that threads seldom wait on each
other for the interpreter, small enough that the temporaries stay in cache."""
_EVT2_KINDS = {0xA: "ext_trigger", 0xE: "others", 0xF: "continued"}
_EVT3_KINDS = {0xA: "ext_trigger", 0xE: "others", 0x7: "continued_4", 0xF: "continued_12"}
_BITS = np.unpackbits(
    np.arange(1 << 12, dtype="<u2").view(np.uint8).reshape(-1, 2), axis=1, bitorder="little"
)
"""``_BITS[m, i]``: bit ``i`` of the 12-bit mask ``m`` (the events of a vector word)."""
_POPCOUNT = _BITS.sum(axis=1, dtype=np.int64)


def sniff(head: bytes) -> float:
    """How sure it is that a file starting with ``head`` is EVT 2.0 / 3.0: 1 for a ``%`` header
    naming the version, 0.5 for a ``%`` header with a Prophesee camera line, else 0.

    Examples
    --------
    >>> from exporters import evt
    >>> evt.sniff(b"% evt 3.0\\n% end\\n"), evt.sniff(b"% plugin_name x\\n"), evt.sniff(b"% Width 640\\n")
    (1.0, 0.5, 0.0)
    """
    if not head.startswith(b"%"):
        return 0.0
    text = head.decode("latin-1")
    if re.search(r"^% (evt [23]\.0|format EVT[23])", text, re.MULTILINE):
        return 1.0
    return 0.5 if re.search(r"^% (plugin_name|geometry|serial_number) ", text, re.MULTILINE) else 0.0


@dataclass(frozen=True)
class _Header:
    path: Path
    version: Version
    size: tuple[int, int] | None
    plugin: str | None
    data_start: int
    words: int
    trailing: int
    steps: StepTime | None
    polarities: int
    lines: tuple[str, ...]
    t0: int

    @property
    def word_bytes(self) -> int:
        return 4 if self.version == "2.0" else 2


def _header(path: Path, file: BinaryIO, version: object) -> _Header:
    """Parse the ``%`` header of an open file."""
    lines: list[str] = []
    start = 0
    file.seek(0)
    while start < _HEAD_LIMIT:
        line = file.readline()
        if not line.startswith(b"%"):
            break
        start += len(line)
        text = line.decode("latin-1").strip()
        lines.append(text)
        if text == "% end":
            break
    fields: dict[str, str] = {}
    for text in lines:
        key, _, value = text[1:].strip().partition(" ")
        fields.setdefault(key, value.strip())
    found: str | None = None
    if "evt" in fields:
        found = fields["evt"]
    elif "format" in fields and fields["format"][:4] in ("EVT2", "EVT3"):
        found = fields["format"][3] + ".0"
    if found is None:
        if version is None:
            raise FileFormatError(
                f"{path}: the header names no EVT version (no '% evt' or '% format' line); pass "
                "version='2.0' or '3.0'"
            )
        found = str(version)
    if found not in VERSIONS:
        raise FileFormatError(
            f"{path}: EVT version {found!r} in the header is not 2.0 or 3.0 (EVT 2.1 is not read)"
        )
    size = _size(path, fields)
    plugin = fields.get("plugin_name")
    steps, polarities = _eventcode_line(path, fields.get("eventcode"))
    t0 = fields.get("t0", "0")
    if not t0.isdigit():
        raise FileFormatError(f"{path}: '% t0 {t0}' is not a whole number of microseconds")
    total = os.fstat(file.fileno()).st_size - start
    word = 4 if found == "2.0" else 2
    return _Header(
        path,
        found,
        size,
        plugin,
        start,
        total // word,
        total % word,
        steps,
        polarities,
        tuple(lines),
        int(t0),
    )


def _size(path: Path, fields: dict[str, str]) -> tuple[int, int] | None:
    """The sensor size of ``% geometry`` or ``% format``, if any, checked to be one that events
    can address (so that ``read``, ``read_chunks`` and ``info`` refuse it alike, events or none)."""
    match = re.fullmatch(r"(\d+)x(\d+)", fields.get("geometry", ""))
    line = f"% geometry {fields.get('geometry')}"
    if match:
        size = int(match[1]), int(match[2])
    else:
        options = dict(part.partition("=")[::2] for part in fields.get("format", "").split(";")[1:])
        if "width" not in options or "height" not in options:
            return None
        line = f"% format {fields['format']}"
        try:
            size = int(options["width"]), int(options["height"])
        except ValueError:
            raise FileFormatError(f"{path}: bad width / height in '{line}'") from None
    try:
        address.check_shape(size[::-1])
    except EventsError:
        raise FileFormatError(
            f"{path}: the header line '{line[:80]}' gives no usable sensor size (each side 1 to 2^31): "
            "the file's header is damaged"
        ) from None
    return size


def _eventcode_line(path: Path, line: str | None) -> tuple[StepTime | None, int]:
    """Step time and polarities of eventcode's ``% eventcode k=v ...`` line."""
    if line is None:
        return None, 2
    try:
        values = {key: int(value) for key, _, value in (part.partition("=") for part in line.split())}
        recorded = "dt_us" in values
        steps = (
            steptime.read_back(values["num_steps"], values["dt_us"], values["t0_us"]) if recorded else None
        )
    except KeyError as err:
        raise FileFormatError(f"{path}: the '% eventcode {line}' header line lacks {err}") from None
    except ValueError as err:
        raise FileFormatError(f"{path}: unreadable '% eventcode {line}' header line: {err}") from None
    return steps, values.get("polarities", 2)


# ---------------------------------------------------------------------- decoding
@dataclass
class _State:
    """What a decoder carries from one piece of words to the next."""

    high: int = 0  # last TIME_HIGH value (raw)
    wraps: int = 0
    low: int = 0  # EVT 3.0: last TIME_LOW
    y: int = -1  # EVT 3.0: last ADDR_Y (-1: none yet)
    base: int = -1  # EVT 3.0: vector base x after the last word (-1: none yet)
    vp: int = 0  # EVT 3.0: polarity of the last VECT_BASE_X
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Scan:
    """What a first pass over a piece of words finds: its events, where its TIME_HIGH words are and
    their values and, for EVT 3.0, the state it leaves (-1 where it sets none) and the vector
    widths after its last base."""

    events: int
    at_high: np.ndarray  # int32 word indices within the piece
    highs: np.ndarray
    kinds: np.ndarray | None  # words of each type, where some are of no decoded type
    low: int = -1
    y: int = -1
    base: int = -1
    vp: int = 0
    widths: int = 0
    vectors: bool = False


@dataclass(frozen=True)
class _Found:
    """The first event of a piece (or block) whose time goes back, and the first outside the
    sensor: (event index, word index), both -1 where there is none; and the word of its first event."""

    back: tuple[int, int] = (-1, -1)
    outside: tuple[int, int] = (-1, -1)
    first_word: int = -1


def _piece(path: Path, descriptor: int, at: int, count: int, dtype: str) -> np.ndarray:
    """``count`` words at byte ``at``, read into this thread's scratch buffer."""
    words = threads.scratch("evt.words", count, dtype)
    if os.preadv(descriptor, [words.data], at) != words.nbytes:
        raise FileFormatError(
            f"{path}: the file ends before byte {at + words.nbytes}: it changed while being read"
        )
    return words


def _tally(state: _State, kinds: np.ndarray | None, names: dict[int, str], decoded: tuple[int, ...]) -> None:
    """Add the words of other kinds (``kinds``: words of each type) to ``state.counts``."""
    for name in (*names.values(), "reserved"):
        state.counts.setdefault(name, 0)
    if kinds is None:
        return
    for kind in range(16):
        if kind not in decoded:
            state.counts[names.get(kind, "reserved")] += int(kinds[kind])


def _times(high_values: np.ndarray, period_bits: int, state: _State) -> np.ndarray:
    """The unwrapped TIME_HIGH values (wraps counted where they decrease), updating ``state``."""
    previous = np.concatenate(([state.high], high_values[:-1])).astype(np.int64)
    wraps: np.ndarray = state.wraps + np.cumsum(high_values < previous)
    if len(high_values):
        state.high, state.wraps = int(high_values[-1]), int(wraps[-1])
    unwrapped: np.ndarray = (wraps << period_bits) + high_values
    return unwrapped


def _found(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, size: tuple[int, int] | None, word: Callable[[int], int]
) -> _Found:
    """Where, in one piece's events, time first goes back and an event first falls outside ``size``
    (``word``: the word index of an event)."""
    back = outside = (-1, -1)
    if len(t) > 1:
        behind = np.less(t[1:], t[:-1], out=threads.scratch("evt.behind", len(t) - 1, bool))
        if behind.any():
            at = int(np.argmax(behind)) + 1
            back = (at, word(at))
    if size is not None and len(x) and (int(x.max()) >= size[0] or int(y.max()) >= size[1]):
        at = int(np.argmax((x >= size[0]) | (y >= size[1])))
        outside = (at, word(at))
    return _Found(back, outside, word(0) if len(t) else -1)


def _evt2_scan(words: np.ndarray) -> _Scan:
    kinds = np.right_shift(words, 28, out=threads.scratch("evt.kinds", len(words), np.uint32))
    events = int(np.count_nonzero(np.less_equal(kinds, 1, out=threads.scratch("evt.mask", len(words), bool))))
    at_high = np.flatnonzero(np.equal(kinds, 8, out=threads.scratch("evt.mask", len(words), bool)))
    at_high = at_high.astype(np.int32)  # pieces < 2^31 words
    highs = words[at_high] & 0x0FFFFFFF
    other = events + len(highs) < len(words)
    return _Scan(events, at_high, highs, np.bincount(kinds, minlength=16) if other else None)


def _steps(out: np.ndarray, at: np.ndarray, values: np.ndarray, first: int) -> np.ndarray:
    """``out`` filled with ``first``, then from each place ``at`` (sorted) on with ``values`` there
    (the last of values at one place wins; places past the end do nothing): a cumulative sum of
    the steps, without a temporary as long as ``out``.

    >>> _steps(np.empty(6, np.int64), np.array([2, 2, 4, 9]), np.array([7, 8, 5, 1]), 3).tolist()
    [3, 3, 8, 8, 5, 5]
    """
    last = np.flatnonzero(np.diff(at, append=np.iinfo(np.int64).max))
    at, steps = at[last], np.diff(values[last], prepend=first)
    out.fill(0)
    if len(out):
        out[0] = first
        inside = at < len(out)
        out[at[inside]] += steps[inside]
        np.cumsum(out, out=out)
    return out


def _evt2(
    words: np.ndarray, at_high: np.ndarray, highs: np.ndarray, out: dict[str, np.ndarray]
) -> Callable[[int], int]:
    """Decode EVT 2.0 words into ``out`` (``at_high``: where the TIME_HIGH words are; ``highs``:
    the unwrapped time of the last TIME_HIGH before the piece, then of each in it, shifted to bits
    6 and up); the word index of an event.

    Every temporary is a scratch buffer."""
    n = len(out["t"])
    is_cd = np.less(words, 0x20000000, out=threads.scratch("evt.mask", len(words), bool))  # types 0, 1
    cd = np.compress(is_cd, words, out=threads.scratch("evt.cd", n, np.uint32))
    if n + len(at_high) == len(words):  # the events before each TIME_HIGH: a count
        before = at_high - np.arange(len(at_high), dtype=np.int32)
    else:
        before = np.cumsum(is_cd, dtype=np.int64)[at_high]
    t = _steps(out["t"], before, highs[1:], highs[0])
    halves = cd.view("<u2")
    low = np.right_shift(halves[1::2], 6, out=threads.scratch("evt.low", n, np.uint16))
    np.bitwise_or(t, np.bitwise_and(low, 63, out=low), out=t)
    np.bitwise_and(
        np.right_shift(cd, 11, out=threads.scratch("evt.kinds", n, np.uint32)),
        0x7FF,
        out=out["x"],
        casting="unsafe",
    )
    np.bitwise_and(halves[0::2], 0x7FF, out=out["y"], casting="unsafe")
    np.greater_equal(cd, 0x10000000, out=out["p"])
    return lambda event: int(np.argmax(is_cd)) if event == 0 else int(np.flatnonzero(is_cd)[event])


def _last_of(kinds: np.ndarray, kind: int) -> int:
    """The index of the last word of type ``kind`` (-1: none), looked for from the end."""
    size = 256
    while True:
        found = np.flatnonzero(kinds[-size:] == kind)
        if len(found):
            return max(len(kinds) - size, 0) + int(found[-1])
        if size >= len(kinds):
            return -1
        size *= 16


def _widths(kinds: np.ndarray) -> int:
    """The x advance of the vector words of ``kinds``: 12 per VECT_12, 8 per VECT_8."""
    return 12 * int(np.count_nonzero(kinds == 4)) + 8 * int(np.count_nonzero(kinds == 5))


def _evt3_scan(words: np.ndarray) -> _Scan:
    kinds = words >> 12
    counts = np.bincount(kinds, minlength=16)
    events = int(counts[2])
    for kind, bits in ((4, 0xFFF), (5, 0xFF)):
        if counts[kind]:
            events += int(_POPCOUNT[words[kinds == kind] & bits].sum())
    at_high = (np.flatnonzero(kinds == 8) if counts[8] else np.zeros(0, np.int64)).astype(np.int32)
    decoded = sum(int(counts[kind]) for kind in (0, 2, 3, 4, 5, 6, 8))
    scan = _Scan(events, at_high, words[at_high] & 0x0FFF, counts if decoded < len(words) else None)
    if counts[6]:
        scan.low = int(words[_last_of(kinds, 6)] & 0x0FFF)
    if counts[0]:
        scan.y = int(words[_last_of(kinds, 0)] & 0x07FF)
    vectors = bool(counts[4] or counts[5])
    scan.vectors = vectors
    if counts[3]:
        at = _last_of(kinds, 3)
        scan.base, scan.vp = int(words[at] & 0x07FF), int(words[at] >> 11) & 1
        scan.widths = _widths(kinds[at + 1 :]) if vectors else 0
    elif vectors:
        scan.widths = _widths(kinds)
    return scan


def _evt3_states(scans: list[_Scan], state: _State) -> list[_State]:
    """The state at the start of each piece, and ``state`` moved to the end of the last."""
    starts = []
    for scan in scans:
        starts.append(replace(state, counts={}))
        state.low = scan.low if scan.low >= 0 else state.low
        state.y = scan.y if scan.y >= 0 else state.y
        if scan.base >= 0:
            state.base, state.vp = scan.base + scan.widths, scan.vp
        elif state.base >= 0:
            state.base += scan.widths
        _times(scan.highs.astype(np.int64), 12, state)
    return starts


def _last(mask: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the words of one type (``mask``) are, and how many of them come before each event word
    (``source``): a count over all words for a common type, a search for a rare one."""
    where = np.flatnonzero(mask)
    if 16 * len(where) < len(mask):
        # each rare word counts from the first event after it on
        first_after = np.searchsorted(source, where)
        rare: np.ndarray = np.cumsum(np.bincount(first_after, minlength=len(source) + 1)[: len(source)])
        return where, rare
    counts = threads.scratch("evt.count", len(mask), np.int32)
    np.cumsum(mask.view(np.uint8), dtype=np.int32, out=counts)
    return where, counts[source]  # pieces < 2^31 words


def _latest(
    types: np.ndarray, value: np.ndarray, source: np.ndarray, kind: int, carry: int, bits: int
) -> np.ndarray:
    """For each event word (``source``), the value (its ``bits``) of the last word of type ``kind``
    before it (``carry`` where none): for a common kind, a running maximum of the indices of its words."""
    mask = np.equal(types, kind, out=threads.scratch("evt.kind", len(types), bool))
    if 16 * np.count_nonzero(mask) < len(types):
        where, before = _last(mask, source)
        rare: np.ndarray = np.concatenate(([carry], value[where] & bits))[before]
        return rare
    index = np.multiply(_counting(len(types)), mask, out=threads.scratch("evt.index", len(types), np.int32))
    np.maximum.accumulate(index, out=index)  # 1 + the index of the last word of the kind, 0 if none
    last = index[source]
    found: np.ndarray = np.bitwise_and(value[last - 1], bits, dtype=np.int32)
    found[: np.searchsorted(last, 1)] = carry  # the events before the first word of the kind
    return found


_counted = np.zeros(0, np.int32)


def _counting(count: int) -> np.ndarray:
    """1, 2, ..., ``count`` (int32), made once for the longest piece asked for."""
    global _counted
    if len(_counted) < count:
        _counted = np.arange(1, count + 1, dtype=np.int32)
    return _counted[:count]


def _evt3(
    words: np.ndarray, state: _State, offset: int, path: Path, out: dict[str, np.ndarray], scan: _Scan
) -> Callable[[int], int]:
    """Decode EVT 3.0 words from ``state`` into ``out`` (raising, with the byte offset, at an event
    before any y or vector base; ``scan``: the piece's first pass); the word index of an event."""
    n = len(words)
    types = np.right_shift(words, 12, out=threads.scratch("evt.kinds", n, np.uint16))
    value = np.bitwise_and(words, 0x0FFF, out=threads.scratch("evt.value", n, np.uint16))
    vectors, at_high = scan.vectors, scan.at_high
    if vectors:  # VECT_12, VECT_8 (uint16 wraps below 4), EVT_ADDR_X
        events = ((types - 4) < 2) | (types == 2)
    else:
        events = np.equal(types, 2, out=threads.scratch("evt.mask", n, bool))
    source = np.flatnonzero(events)  # the words that hold events
    # state at each event word: the last word of each kind before it (a count picks it)
    carry = ((state.wraps << 12) + state.high) << 12
    highs = _times(scan.highs.astype(np.int64), 12, state) << 12
    low = _latest(types, value, source, 6, state.low, 0xFFF)
    y = _latest(types, value, source, 0, state.y, 0x7FF)
    at_source = value[source]
    if not vectors and (state.y >= 0 or not len(y) or y.min() >= 0):  # one event per word
        t = out["t"]
        np.bitwise_or(_steps(t, np.searchsorted(source, at_high), highs, carry), low, out=t)
        np.bitwise_and(at_source, 0x7FF, out=out["x"], casting="unsafe")
        np.copyto(out["y"], y, casting="unsafe")
        np.greater_equal(at_source, 0x800, out=out["p"])
        return lambda event: int(source[event])
    time = _steps(np.empty(len(source), np.int64), np.searchsorted(source, at_high), highs, carry) | low
    kinds = types[source]
    vector = kinds != 2
    at_base, n_base = _last(
        np.equal(types, 3, out=threads.scratch("evt.kind", n, bool)), source
    )  # VECT_BASE_X words before each event word
    bases = np.concatenate(([state.base], value[at_base] & 0x7FF)).astype(np.int64)
    polarities = np.concatenate(([state.vp], value[at_base] >> 11)).astype(bool)
    # vector base x: the base plus the widths of the vectors after it and before this word
    width = np.where(kinds == 4, 12, 8) * vector
    after = np.concatenate(([0], np.cumsum(width)))  # widths of the event words before each, and all
    # for each base word (the carry first), the widths of the event words before it
    since = np.concatenate(([0], after[np.searchsorted(source, at_base)]))
    base = bases[n_base] + after[:-1] - since[n_base]
    base[bases[n_base] < 0] = -1
    bad = np.flatnonzero((y < 0) | (vector & (base < 0)))
    if len(bad):
        word = int(source[bad[0]])
        what = "no EVT_ADDR_Y before it" if y[bad[0]] < 0 else "no VECT_BASE_X before it"
        raise FileFormatError(f"{path}: EVT 3.0 event word at byte {offset + 2 * word} has {what}")
    masks = value[source[vector]] & np.where(kinds[vector] == 4, 0xFFF, 0xFF)
    per = np.ones(len(source), np.int64)
    per[vector] = _POPCOUNT[masks]
    end = np.cumsum(per)
    rows, columns = np.nonzero(_BITS[masks])
    at_vector = (end - per)[vector]
    place = at_vector[rows] + np.arange(len(rows)) - (np.cumsum(per[vector]) - per[vector])[rows]
    single = np.flatnonzero(~vector)
    x, p = out["x"], out["p"]
    x[end[single] - 1] = at_source[single] & 0x7FF
    p[end[single] - 1] = at_source[single] >= 0x800
    x[place] = base[vector][rows] + columns
    p[place] = polarities[n_base[vector]][rows]
    out["t"][:] = np.repeat(time, per)
    out["y"][:] = np.repeat(y, per)
    return lambda event: int(source[np.searchsorted(end, event, side="right")])


def _block(
    path: Path,
    descriptor: int,
    header: _Header,
    first: int,
    count: int,
    state: _State,
    size: tuple[int, int] | None,
) -> tuple[dict[str, np.ndarray], _Found]:
    """Decode ``count`` words from word ``first`` in pieces on all cores: a scan of each piece
    counts its events and the state it leaves, the states chain in order, then each piece decodes
    into its part of the columns and checks its events; then the pieces' seams are checked."""
    dtype, bits = ("<u4", 28) if header.version == "2.0" else ("<u2", 12)
    pieces = max(1, round(count / _PIECE))
    cuts = np.linspace(first, first + count, pieces + 1, dtype=np.int64).tolist()
    bounds = list(itertools.pairwise(cuts))

    def words(piece: tuple[int, int]) -> np.ndarray:
        return _piece(
            path, descriptor, header.data_start + piece[0] * header.word_bytes, piece[1] - piece[0], dtype
        )

    scan = _evt2_scan if header.version == "2.0" else _evt3_scan
    scans = list(threads.parallel(lambda piece: scan(words(piece)), bounds))
    names, decoded = (_EVT2_KINDS, (0, 1, 8)) if bits == 28 else (_EVT3_KINDS, (0, 2, 3, 4, 5, 6, 8))
    for found in scans:
        _tally(state, found.kinds, names, decoded)
    ends = np.cumsum([0] + [found.events for found in scans]).tolist()
    out = empty_columns(ends[-1])
    if bits == 28:
        carry = (state.wraps << 28) + state.high
        highs = np.concatenate(
            ([carry], _times(np.concatenate([s.highs for s in scans]).astype(np.int64), 28, state))
        )
        n_high = np.cumsum([0] + [len(s.highs) for s in scans]).tolist()
    else:
        starts = _evt3_states(scans, state)

    def decode(index: int) -> _Found:
        lo = bounds[index][0]
        part = {name: column[ends[index] : ends[index + 1]] for name, column in out.items()}
        if bits == 28:
            piece_highs = highs[n_high[index] : n_high[index + 1] + 1] << 6
            word = _evt2(words(bounds[index]), scans[index].at_high, piece_highs, part)
        else:
            piece_state = starts[index]
            offset = header.data_start + lo * header.word_bytes
            word = _evt3(words(bounds[index]), piece_state, offset, path, part, scans[index])
        found = _found(part["t"], part["x"], part["y"], size, word)

        def shifted(pair: tuple[int, int]) -> tuple[int, int]:
            return pair if pair[0] < 0 else (pair[0] + ends[index], pair[1] + lo - first)

        return _Found(
            shifted(found.back),
            shifted(found.outside),
            found.first_word + lo - first if found.first_word >= 0 else -1,
        )

    founds = list(threads.parallel(decode, range(pieces)))
    back = [found.back for found in founds if found.back[0] >= 0]
    t = out["t"]
    back += [
        (ends[i], found.first_word)
        for i, found in enumerate(founds)
        if 0 < ends[i] < ends[i + 1] and t[ends[i]] < t[ends[i] - 1]
    ]
    outside = [found.outside for found in founds if found.outside[0] >= 0]
    first_word = next((found.first_word for found in founds if found.first_word >= 0), -1)
    return out, _Found(min(back, default=(-1, -1)), min(outside, default=(-1, -1)), first_word)


def _blocks(
    path: Path,
    file: BinaryIO,
    header: _Header,
    block: int,
    state: _State,
    size: tuple[int, int] | None,
    ordered: bool,
    start: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
    """Decoded columns of each block of ``block`` words from word ``start`` (``state``: the
    decoder's state there), checked against the sensor (of ``size``) and, if ``ordered``, the
    time order."""
    last_t: int | None = None
    for first in range(start, header.words, block):
        columns, found = _block(
            path, file.fileno(), header, first, min(block, header.words - first), state, size
        )
        if header.t0:
            columns["t"] += header.t0
        t = columns["t"]
        back = found.back
        if ordered and last_t is not None and len(t) and t[0] < last_t:
            back = (0, found.first_word)
        if ordered and back[0] >= 0:
            at, word = back
            raise FileFormatError(
                f"{path}: time goes back at byte {_byte(header, first + word)} ({int(t[at])} us "
                f"after {last_t if at == 0 else int(t[at - 1])} us); sort=True sorts the events instead"
            )
        if found.outside[0] >= 0 and size is not None:
            at, word = found.outside
            raise FileFormatError(
                f"{path}: event at byte {_byte(header, first + word)} has x={int(columns['x'][at])}, "
                f"y={int(columns['y'][at])} outside the {size[0]}x{size[1]} sensor"
            )
        if len(t):
            last_t = int(t[-1])
        yield columns


def _byte(header: _Header, word: int) -> int:
    """The byte offset of word ``word``."""
    return header.data_start + word * header.word_bytes


@dataclass(frozen=True)
class _Target:
    size: tuple[int, int] | None
    steps: StepTime | None
    polarities: int

    @property
    def shape(self) -> tuple[int, ...] | None:
        return None if self.size is None else address.resolve(None, (*self.size, 2))


def _target(header: _Header, sensor_size: Sequence[int] | None) -> _Target:
    """The sensor: the header's geometry, else ``sensor_size``, else the camera of the header's
    plugin name (a guess ``sensor_size`` overrides: expelliarmus writes a Gen3 plugin name
    whatever the data)."""
    size = header.size
    if sensor_size is not None:
        given = (int(sensor_size[0]), int(sensor_size[1]))
        if size is not None and size != given:
            raise OptionError(
                f"{header.path}: sensor_size={tuple(sensor_size)} but the header says {size[0]}x{size[1]}"
            )
        size = given
    elif size is None:
        size = PLUGINS.get(header.plugin or "")
    return _Target(size, header.steps, header.polarities)


@contextlib.contextmanager
def _open(
    name: str | os.PathLike[str], version: object, sensor_size: Sequence[int] | None
) -> Iterator[tuple[Path, BinaryIO, _Header, _Target]]:
    """The open file, its header and what it reads as; a truncated last word raises."""
    path = Path(name)
    with open_regular(path) as file:
        header = _header(path, file, version)
        if header.trailing:
            at = header.data_start + header.words * header.word_bytes
            raise FileFormatError(
                f"{path}: {header.trailing} bytes at byte {at} are an incomplete EVT {header.version} "
                "word (a truncated file)"
            )
        yield path, file, header, _target(header, sensor_size)


def _warn(header: _Header, state: _State, inferred: tuple[int, int] | None) -> None:
    parts = []
    left = {kind: count for kind, count in state.counts.items() if count}
    if left:
        listed = ", ".join(f"{count} {kind}" for kind, count in left.items())
        parts.append(f"left out {sum(left.values())} words that are not CD events ({listed})")
    if inferred is not None:
        parts.append(
            f"the header gives no sensor size: took {inferred[0]}x{inferred[1]} from the largest "
            "address (pass sensor_size= for the camera's)"
        )
    if parts:
        warnings.warn(f"{header.path}: {'; '.join(parts)}", DataLossWarning, stacklevel=3)


def _finish(
    columns: dict[str, np.ndarray], target: _Target, window: tuple[int | None, int | None], path: Path
) -> dict[str, np.ndarray]:
    """Sorted columns cut to ``window`` (us), in steps for a step-time file (each event on one of
    the recorded steps, else :class:`FileFormatError`)."""
    t = columns["t"]
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    out = {name: columns[name][lo:hi] for name in "txyp"}
    steps = target.steps
    if steps is not None:
        k, rest = np.divmod(out["t"] - steps.t0_us, steps.dt_us)
        off = (rest != 0) | (k < 0) | (k >= steps.num_steps)
        if off.any():
            i = checks.first(off)
            raise FileFormatError(
                f"{path}: an event at t = {int(out['t'][i])} us is not on the recorded step time "
                f"t0_us + k * dt_us (t0_us = {steps.t0_us}, dt_us = {steps.dt_us}, 0 <= k < num_steps = "
                f"{steps.num_steps}): a damaged time word"
            )
        out["t"] = k
    return out


def _window(
    path: Path, sample: object, t_start: object, t_end: object, target: _Target
) -> tuple[int | None, int | None]:
    return window_us(
        one_sample_window(path, sample, t_start, t_end, "EVT"), target.steps, -(1 << 63), (1 << 63) - 1
    )


# ---------------------------------------------------------------------- reading
def read(
    path: str | os.PathLike[str],
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    version: Version | None = None,
    sensor_size: Sequence[int] | None = None,
    sort: bool = False,
) -> Events:
    """Read the CD events of an EVT 2.0 / 3.0 file (all, or ``t_start <= t < t_end``).

    Parameters
    ----------
    path : path
        The file.
    sample : {None, 0, -1}
        The file's one sample.
    t_start, t_end : int, optional
        Half-open window, in microseconds (in steps for a step-time file written by eventcode).
    version : {"2.0", "3.0"}, optional
        For a file whose header names no version.
    sensor_size : (W, H), optional
        For a file whose header gives no sensor size (it must agree with the header's otherwise).
    sort : bool
        Sort events whose time goes back instead of raising.

    Raises
    ------
    FileFormatError
        No version, an incomplete last word, an event outside the sensor, an EVT 3.0 event before
        any y or vector base, time going back (without ``sort``): naming the byte offset.

    Warns
    -----
    DataLossWarning
        Words that are not CD events were left out, or the sensor size was inferred.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import evt
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
    >>> events = Events(t=[1, 70, 9000], x=[0, 1, 2], y=[0, 0, 5], p=[1, 0, 1], sensor_size=(640, 480))
    >>> evt.write(path, events, version="2.0")
    >>> evt.read(path, t_start=2).t.tolist()
    [70, 9000]
    """
    with _open(path, version, sensor_size) as (path, file, header, target):
        window = _window(path, sample, t_start, t_end, target)
        state = _State()
        # one block: its pieces decode straight into the columns
        blocks = list(_blocks(path, file, header, max(header.words, 1), state, target.size, not sort))
    columns = blocks[0] if blocks else empty_columns(0)
    if sort:
        order = np.argsort(columns["t"], kind="stable")
        columns = {name: column[order] for name, column in columns.items()}
    target, inferred = _sized(target, columns)
    _warn(header, state, inferred)
    return _events(_finish(columns, target, window, path), target)


def _sized(target: _Target, columns: dict[str, np.ndarray]) -> tuple[_Target, tuple[int, int] | None]:
    """The target, with the size inferred from the largest address when nothing gave it."""
    if target.size is not None:
        return target, None
    size = (int(columns["x"].max(initial=0)) + 1, int(columns["y"].max(initial=0)) + 1)
    return _Target(size, target.steps, target.polarities), size


def read_chunks(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    version: Version | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Iterator[Events]:
    """Read an EVT file as consecutive chunks of ``chunk_events`` events (the last fewer).

    Memory stays near a few chunks (decoded half a million words at least at a time) whatever
    the file size. A file without a sensor size needs ``sensor_size=`` here (the largest address
    is not known before the end). Arguments as for :func:`read` (time going back raises).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import evt
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
    >>> events = Events(t=list(range(100)), x=[0] * 100, y=[0] * 100, p=[1] * 100, sensor_size=(64, 64))
    >>> evt.write(path, events)
    >>> [len(chunk) for chunk in evt.read_chunks(path, chunk_events=40)]
    [40, 40, 20]
    """
    target, chunks = started(_chunks(path, chunk_events, sample, t_start, t_end, version, sensor_size))
    return (_events(columns, target) for columns in chunks)


def read_columns(
    path: str | os.PathLike[str],
    chunk_events: int = 1 << 20,
    *,
    sample: int | None = None,
    t_start: int | None = None,
    t_end: int | None = None,
    version: Version | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The chunks of :func:`read_chunks` as numpy columns ``t`` (int64), ``x``, ``y`` (int16) and
    ``p`` (bool), without torch.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import evt
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
    >>> evt.write(path, Events(t=[1, 5, 9], x=[0, 1, 2], y=[0, 0, 0], p=[1, 0, 1], sensor_size=(8, 8)))
    >>> [(chunk["t"].tolist(), chunk["p"].dtype.name) for chunk in evt.read_columns(path)]
    [([1, 5, 9], 'bool')]
    """
    return started(_chunks(path, chunk_events, sample, t_start, t_end, version, sensor_size))[1]


def _chunks(
    path: str | os.PathLike[str],
    chunk_events: object,
    sample: object,
    t_start: object,
    t_end: object,
    version: object,
    sensor_size: Sequence[int] | None,
    checkpoint: object = None,
) -> Iterator[_Target | dict[str, np.ndarray]]:
    """The target, then the columns of each chunk, from the start or from ``checkpoint`` (one of
    :func:`checkpoints`, which gave the warnings: none here then); decoding stops after the block
    where the times reach ``t_end``."""
    count = positive_int("chunk_events", chunk_events, "events")
    with _open(path, version, sensor_size) as (path, file, header, target):
        window = _window(path, sample, t_start, t_end, target)
        if target.size is None:
            raise OptionError(
                f"{path}: the header gives no sensor size; pass sensor_size=(W, H) to read it in chunks"
            )
        word, state = (0, _State()) if checkpoint is None else _resumed(header, checkpoint)
        yield target
        pending: list[dict[str, np.ndarray]] = []
        held = 0
        # blocks of at least a piece: a block costs a scan and a decode on the pool, whatever its size
        block = min(max(count, _PIECE), BLOCK)
        for columns in _blocks(path, file, header, block, state, target.size, True, word):
            t = columns["t"]
            past = window[1] is not None and len(t) > 0 and int(t[-1]) >= window[1]
            columns = _finish(columns, target, window, path)
            pending.append(columns)
            held += len(columns["t"])
            while held >= count:
                joined = {name: np.concatenate([c[name] for c in pending]) for name in "txyp"}
                yield {name: column[:count] for name, column in joined.items()}
                pending, held = [{name: column[count:] for name, column in joined.items()}], held - count
            if past:
                break
        if held:
            yield {name: np.concatenate([c[name] for c in pending]) for name in "txyp"}
    if checkpoint is None:
        _warn(header, state, None)


# ---------------------------------------------------------------------- reading from mid-file
Checkpoint = tuple[int, int, int | None, tuple[int, ...]]
"""A place to start decoding: ``(byte, events, bound, state)`` (see :func:`checkpoints`)."""


def checkpoints(
    path: str | os.PathLike[str],
    count: int = 1024,
    *,
    version: Version | None = None,
    sensor_size: Sequence[int] | None = None,
) -> tuple[list[Checkpoint], StepTime | None]:
    """Places to start decoding an EVT file mid-way, found in one scanning pass.

    The pass reads every word but decodes no event: it counts the events of pieces of words
    (about ``count`` pieces, each at most half a million words) and chains the decoder state
    from piece to piece on all cores, as :func:`read` does before decoding. At each piece's start
    it records a checkpoint ``(byte, events, bound, state)``: the byte offset of the word, the
    events before it, a time that no event before it exceeds (in the file's unit: steps for a
    step-time file; None without events before), and the decoder state there (EVT 3.0's time
    high, wraps, time low, y, vector base and polarity; EVT 2.0's time high and wraps), which
    :func:`read_from` starts from. A last checkpoint marks the end of the words. Words that are
    not CD events are reported here (:class:`~eventcode.errors.DataLossWarning`), not by
    :func:`read_from`.

    Returns
    -------
    (list of checkpoints, StepTime or None)
        The checkpoints in file order, and the step time of a step-time file.

    Raises
    ------
    OptionError
        ``count`` not a positive whole number, or as for :func:`read`.
    FileFormatError
        As for :func:`read`, for the header and an incomplete last word.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import evt
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
    >>> evt.write(path, Events(t=[1, 5000, 9000], x=[0, 1, 2], y=[0, 0, 5], p=[1, 0, 1], sensor_size=(8, 8)))
    >>> marks, steps = evt.checkpoints(path, count=4)
    >>> [(events, bound) for _, events, bound, _ in marks]
    [(0, None), (0, None), (1, 8191), (2, 12287), (3, 12287)]
    >>> [chunk.t.tolist() for chunk in evt.read_from(path, marks[2], t_start=4096)]
    [[5000, 9000]]
    """
    count = positive_int("count", count, "checkpoints")
    with _open(path, version, sensor_size) as (path, file, header, target):
        spacing = max(1, min(_PIECE, -(-header.words // count)))
        dtype, bits = ("<u4", 28) if header.version == "2.0" else ("<u2", 12)
        scan = _evt2_scan if bits == 28 else _evt3_scan
        names, decoded = (_EVT2_KINDS, (0, 1, 8)) if bits == 28 else (_EVT3_KINDS, (0, 2, 3, 4, 5, 6, 8))
        descriptor = file.fileno()

        def scanned(piece: tuple[int, int]) -> _Scan:
            at = header.data_start + piece[0] * header.word_bytes
            return scan(_piece(path, descriptor, at, piece[1] - piece[0], dtype))

        state, events, marks = _State(), 0, []
        for first in range(0, header.words, BLOCK):
            end = min(first + BLOCK, header.words)
            pieces = list(itertools.pairwise([*range(first, end, spacing), end]))
            scans = list(threads.parallel(scanned, pieces))
            for found in scans:
                _tally(state, found.kinds, names, decoded)
            if bits == 12:
                starts = _evt3_states(scans, state)
            else:
                starts = []
                for found in scans:
                    starts.append(replace(state, counts={}))
                    _times(found.highs.astype(np.int64), 28, state)
            for (lo, _), start, found in zip(pieces, starts, scans, strict=True):
                marks.append(_checkpoint(header, target, lo, events, start))
                events += found.events
        marks.append(_checkpoint(header, target, header.words, events, state))
    _warn(header, state, None)
    return marks, target.steps


def _checkpoint(header: _Header, target: _Target, word: int, events: int, state: _State) -> Checkpoint:
    """The checkpoint at word ``word``: every event before it lies in a time-high period up to
    the current one (the unwrapped time high never decreases), so before its end."""
    bits, low = (28, 6) if header.version == "2.0" else (12, 12)
    bound: int | None = None
    if events:
        bound = ((((state.wraps << bits) + state.high + 1) << low) - 1) + header.t0
        if target.steps is not None:
            bound = (bound - target.steps.t0_us) // target.steps.dt_us
    values = (state.high, state.wraps, state.low, state.y, state.base, state.vp)
    return (_byte(header, word), events, bound, values)


def _resumed(header: _Header, checkpoint: object) -> tuple[int, _State]:
    """The word and decoder state of a checkpoint of :func:`checkpoints`."""
    try:
        byte, _, _, values = cast("Sequence[Any]", checkpoint)
        high, wraps, low, y, base, vp = (int(value) for value in values)
        state = _State(high, wraps, low, y, base, vp)
        word, rest = divmod(int(byte) - header.data_start, header.word_bytes)
    except (TypeError, ValueError):
        state, word, rest = None, -1, 0
    if state is None or rest or not 0 <= word <= header.words:
        raise OptionError(
            f"{header.path}: {checkpoint!r} is not a checkpoint of this file; take one from "
            "evt.checkpoints(path)"
        )
    return word, state


def read_from(
    path: str | os.PathLike[str],
    checkpoint: Checkpoint,
    chunk_events: int = 1 << 20,
    *,
    t_start: int | None = None,
    t_end: int | None = None,
    version: Version | None = None,
    sensor_size: Sequence[int] | None = None,
) -> Iterator[Events]:
    """Read an EVT file from a checkpoint of :func:`checkpoints` on: its events in ``t_start <= t
    < t_end``, as chunks of ``chunk_events`` events (at least one chunk, empty when none falls in
    the window). Decoding stops soon after the first event at or after ``t_end``; the chunks
    are those :func:`read_chunks` gives of that stretch. No warnings: :func:`checkpoints` gave them.

    Raises
    ------
    OptionError
        A checkpoint not of this file, or as for :func:`read_chunks`.
    FileFormatError
        As for :func:`read`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import evt
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
    >>> evt.write(path, Events(t=[1, 5000], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(8, 8)), version="2.0")
    >>> marks, _ = evt.checkpoints(path)
    >>> [len(chunk) for chunk in evt.read_from(path, marks[-1])]
    [0]
    """
    target, chunks = started(
        _chunks(path, chunk_events, None, t_start, t_end, version, sensor_size, checkpoint)
    )
    return at_least_one(
        (_events(columns, target) for columns in chunks), lambda: _events(empty_columns(0), target)
    )


def _events(columns: dict[str, np.ndarray], target: _Target) -> Events:
    return steptime.one_sample({n: columns[n] for n in "txyp"}, target.shape, target.polarities, target.steps)


def info(
    path: str | os.PathLike[str], *, version: Version | None = None, sensor_size: Sequence[int] | None = None
) -> FileInfo:
    """Describe an EVT file: its version, sensor, events, time range and the other words.

    Returns
    -------
    FileInfo
        ``extras`` holds ``version``, ``plugin`` (``% plugin_name``), ``header`` (its lines),
        ``header_bytes``, ``words`` and ``skipped`` (words of each other kind).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import evt
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
    >>> evt.write(path, Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(320, 320)), version="2.0")
    >>> meta = evt.info(path)
    >>> meta.sensor_size, meta.events, (meta.first, meta.last), meta.extras["version"]
    ((320, 320, 2), 2, (1, 2), '2.0')
    """
    state = _State()
    events, first, last = 0, None, None
    high = np.zeros(2, np.int64)
    with _open(path, version, sensor_size) as (path, file, header, target):
        for columns in _blocks(path, file, header, BLOCK, state, target.size, True):
            events += len(columns["t"])
            if len(columns["t"]):
                first = int(columns["t"][0]) if first is None else first
                last = int(columns["t"][-1])
                high = np.maximum(high, [columns["x"].max(), columns["y"].max()])
    size = target.size or (int(high[0]) + 1, int(high[1]) + 1)
    steps = target.steps
    if steps is not None:
        first, last = ((t - steps.t0_us) // steps.dt_us if t is not None else None for t in (first, last))
    return FileInfo(
        path=path,
        format=NAME,
        compression="none",
        sensor_size=(size[0], size[1], 2),
        shape=address.resolve(None, (*size, 2)),
        events=events,
        samples=1,
        time_unit="us" if steps is None else "step",
        first=first,
        last=last,
        num_steps=None if steps is None else steps.num_steps,
        dt_us=None if steps is None else steps.dt_us,
        polarities=target.polarities,
        streams=(Stream(0, "EVTS", "events", size, 1, events, first, last),),
        extras={
            "version": header.version,
            "plugin": header.plugin,
            "header": header.lines,
            "header_bytes": header.data_start,
            "words": header.words,
            "skipped": dict(state.counts),
            "size_from_header": target.size is not None,
        },
    )


# ---------------------------------------------------------------------- writing
def write(
    path: str | os.PathLike[str],
    events: Events,
    *,
    compression: Compression = DEFAULT_COMPRESSION,
    dt_us: int | None = None,
    t0_us: int = 0,
    version: Version = "3.0",
    overwrite: bool = True,
) -> None:
    """Write events to an EVT 3.0 (default) or EVT 2.0 file (one file per sample with ``{}``).

    Parameters
    ----------
    path : path
        Target file; a batch of several samples needs a ``{}`` placeholder.
    events : Events
        One sample (or several with a placeholder) of a sensor up to 2048 x 2048, without channels.
    compression : {"none", None}
    dt_us : int, optional
        Microseconds per step, for step-time events (step ``k`` at ``t0_us + k * dt_us``).
    t0_us : int
        Time of step 0 in microseconds.
    version : {"3.0", "2.0"}
    overwrite : bool
        Replace an existing file (atomically); False raises instead.

    Raises
    ------
    ExportError
        Channels, a sensor over 2048, negative times, step time without ``dt_us``, a gap too long
        to bridge.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import evt
    >>> events = Events(t=[0, 3], x=[1, 2], y=[3, 4], p=[1, 0], sensor_size=(8, 8))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
    >>> evt.write(path, events, version="2.0")
    >>> evt.read(path) == events
    True
    """
    write_samples(
        Writer,
        path,
        events,
        compression=compression,
        dt_us=dt_us,
        t0_us=t0_us,
        version=version,
        overwrite=overwrite,
    )


class Writer(AtomicWriter):
    """Append events to an EVT file chunk by chunk (time order across chunks).

    Parameters
    ----------
    path : path
    sensor_size : (W, H) or (W, H, P), optional
        Or give ``shape``.
    compression, dt_us, t0_us, version, overwrite
        As for :func:`write`.
    shape : tuple of int, optional
    num_steps : int, optional
        Steps of a step-time stream (with ``dt_us``).
    polarities : {2, 1, 0}, optional

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from eventcode import Events
    >>> from exporters import evt
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "stream.raw"
    >>> with evt.Writer(path, sensor_size=(64, 64)) as writer:
    ...     for start in (0, 10_000):
    ...         writer.write(Events(t=[start, start + 5], x=[1, 2], y=[3, 4], p=[1, 0], sensor_size=(64, 64)))
    >>> evt.read(path).t.tolist()
    [0, 5, 10000, 10005]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensor_size: Sequence[int] | None = None,
        compression: Compression = DEFAULT_COMPRESSION,
        *,
        shape: Sequence[int] | None = None,
        dt_us: int | None = None,
        t0_us: int = 0,
        num_steps: int | None = None,
        version: Version = "3.0",
        overwrite: bool = True,
        polarities: int | None = None,
    ) -> None:
        canonical(compression, COMPRESSIONS, "EVT")
        if version not in VERSIONS:
            raise OptionError(f"version must be '2.0' or '3.0', got {version!r}")
        super().__init__(
            path,
            address.resolve(shape, sensor_size),
            overwrite,
            address.resolve_polarities(polarities, sensor_size),
        )
        width, height, planes = address.extents(self._shape)
        if planes > 1:
            raise ExportError(f"samples of shape {self._shape} have {planes} channels, which EVT cannot hold")
        if width > MAX_SIZE or height > MAX_SIZE:
            raise ExportError(f"EVT addresses 11 bits: a {width}x{height} sensor is over 2048x2048")
        self._size, self._version = (width, height), version
        self._steps = steptime.recorded(dt_us, t0_us, num_steps)
        if self._steps is not None and self._steps.beyond(0, 1 << 62) is not None:
            raise ExportError(f"step times t0_us + k * dt_us must lie in 0 .. 2^62 us, t0_us={t0_us}")
        self._high = 0  # unwrapped TIME_HIGH of the last word written
        self._low = -1
        self._y = -1
        self._last_t = -1

    def _open(self, temporary: Path) -> BinaryIO:
        temporary.write_bytes(self._header().encode())
        return open(temporary, "ab")

    def _header(self) -> str:
        width, height = self._size
        digit = self._version[0]
        extra = [] if self._polarities == 2 else [f"polarities={self._polarities}"]
        if self._steps is not None:
            extra += [
                f"num_steps={self._steps.num_steps}",
                f"dt_us={self._steps.dt_us}",
                f"t0_us={self._steps.t0_us}",
            ]
        lines = [
            f"% evt {self._version}",
            f"% format EVT{digit};height={height};width={width}",
            f"% geometry {width}x{height}",
            *([f"% eventcode {' '.join(extra)}"] if extra else []),
            "% end",
        ]
        return "\n".join(lines) + "\n"

    def _finish(self) -> None:
        pass

    def write(self, events: Events) -> None:
        """Append one chunk of one sample, not earlier than the chunks before it."""
        self._check_one(events)
        events = steptime.in_us(events, self._steps)
        t = events.t.numpy().astype(np.int64)
        if not len(t):
            return
        if t[0] < max(self._last_t, 0) or (len(t) > 1 and (np.diff(t) < 0).any()):
            raise ExportError("EVT files hold events in time order: sort them (and write chunks in order)")
        x, y = events.x.numpy().astype(np.int64), events.y.numpy().astype(np.int64)
        p = events.p.numpy().astype(np.int64) & 1
        words = self._evt2(t, x, y, p) if self._version == "2.0" else self._evt3(t, x, y, p)
        cast(BinaryIO, self._file).write(words.tobytes())
        self._last_t = int(t[-1])

    def _bridge(
        self, highs: np.ndarray, step: int, first: bool, period: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """TIME_HIGH values to write before each event (``count`` per event, ``values`` flat):
        where the high part changes, steps of at most ``step`` from the previous one; with
        ``period`` (the values' wrap), also the two values either side of every wrap crossed
        (:func:`_wrap_pairs`)."""
        previous = np.concatenate(([self._high], highs[:-1]))
        count = -((previous - highs) // step)  # ceil((high - previous) / step)
        if first:
            count[0] = max(int(count[0]), 1)
        total = int(count.sum())
        if total > MAX_BRIDGE + len(highs):
            raise ExportError(
                f"events {int((highs - previous).max()) * (1 << (6 if step > 8 else 12))} us apart need more "
                "than 4M time words to bridge; split the recording"
            )
        owner = np.repeat(np.arange(len(highs)), count)
        back = np.cumsum(count)[owner] - np.arange(total) - 1  # words still to come for that event
        values = highs[owner] - back * step
        if period is not None:
            owner, values = _wrap_pairs(owner, values, self._high, period)
            count = np.bincount(owner, minlength=len(highs))
        self._high = int(highs[-1])
        return count, values

    def _evt2(self, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        count, highs = self._bridge(t >> 6, 1 << 27, self._last_t < 0)
        cd = (p << 28) | ((t & 63) << 22) | (x << 11) | y
        place = np.cumsum(count + 1) - 1
        out = np.empty(len(t) + len(highs), np.uint32)
        out[place] = cd
        mask = np.ones(len(out), bool)
        mask[place] = False
        out[mask] = (8 << 28) | (highs & 0x0FFFFFFF)
        return out.astype("<u4", copy=False)

    def _evt3(self, t: np.ndarray, x: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
        count, highs = self._bridge(t >> 12, 8, self._last_t < 0, 1 << 12)
        low = t & 0xFFF
        new_low = (count > 0) | (low != np.concatenate(([self._low], low[:-1])))
        new_y = y != np.concatenate(([self._y], y[:-1]))
        per = count + new_low + new_y + 1
        end = np.cumsum(per)
        out = np.empty(int(end[-1]), np.uint16)
        start = end - per
        kinds = np.empty(len(out), np.uint8)
        kinds[:] = 8  # TIME_HIGH: every slot not set below
        at_low = start + count
        kinds[at_low[new_low]] = 6
        at_y = at_low + new_low
        kinds[at_y[new_y]] = 0
        kinds[end - 1] = 2
        out[kinds == 8] = (8 << 12) | (highs & 0xFFF)
        out[at_low[new_low]] = (6 << 12) | low[new_low]
        out[at_y[new_y]] = y[new_y]
        out[end - 1] = (2 << 12) | (p << 11) | x
        self._low, self._y = int(low[-1]), int(y[-1])
        return out.astype("<u2", copy=False)


def _wrap_pairs(
    owner: np.ndarray, values: np.ndarray, start: int, period: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unwrapped TIME_HIGH ``values`` (rising by less than ``period`` from ``start``, the last one
    written) with ``k * period - 1`` and ``k * period`` added where missing, so that every
    multiple of ``period`` crossed is written as those two in a row (``0xFFF`` then ``0x000`` in
    EVT 3.0: the only drop faery counts as a wrap, any other it takes for a glitch); ``owner``
    (the event each value precedes) extended to match: the added values go to the value after."""
    before = np.concatenate(([start], values[:-1]))
    wrap = values - values % period  # the multiple a value crosses to, where it crosses one
    crossed = before < wrap
    low = crossed & (before != wrap - 1)
    high = crossed & (values != wrap)
    added = low.astype(np.int64) + high
    if not added.any():
        return owner, values
    at = np.cumsum(added + 1) - 1  # where each value lands
    paired = np.repeat(values, added + 1)
    paired[at[high] - 1] = wrap[high]
    paired[at[low] - 1 - high[low]] = wrap[low] - 1
    return np.repeat(owner, added + 1), paired
