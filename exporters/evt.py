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
2.0, so that every wrap is a decrease that any decoder counts. faery reads both back exactly;
expelliarmus reads EVT 2.0 exactly, and EVT 3.0 only while the low time never drops (above).

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
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal, cast

import numpy as np

from eventcode import address
from eventcode.errors import DataLossWarning, ExportError, FileFormatError, OptionError
from eventcode.options import positive_int
from exporters import steptime, threads
from exporters.atomic import AtomicWriter
from exporters.batches import write_samples
from exporters.compression import Compression, canonical
from exporters.contract import FileInfo, Stream
from exporters.options import one_sample_window, started
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
"""Words decoded at a time by :func:`read` (16 MiB of EVT 2.0)."""
MAX_BRIDGE = 1 << 22
"""Most ``TIME_HIGH`` words a writer adds to bridge gaps in one chunk."""
_HEAD_LIMIT = 1 << 20
_PIECE = 1 << 16
"""Fewest words of a piece that one core decodes (small pieces keep temporaries in cache)."""
"""Fewest words of a piece that one core decodes (small pieces keep temporaries in cache)."""
_EVT2_KINDS = {0xA: "ext_trigger", 0xE: "others", 0xF: "continued"}
_EVT3_KINDS = {0xA: "ext_trigger", 0xE: "others", 0x7: "continued_4", 0xF: "continued_12"}
_BITS = np.unpackbits(
    np.arange(1 << 12, dtype="<u2").view(np.uint8).reshape(-1, 2), axis=1, bitorder="little"
)
"""``_BITS[m, i]``: bit ``i`` of the 12-bit mask ``m`` (the events of a vector word)."""
_POPCOUNT = _BITS.sum(axis=1, dtype=np.int64)
_DTYPES = {"t": np.int64, "x": np.int16, "y": np.int16, "p": bool}


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
    """The sensor size of ``% geometry`` or ``% format``, if any."""
    match = re.fullmatch(r"(\d+)x(\d+)", fields.get("geometry", ""))
    if match:
        return int(match[1]), int(match[2])
    options = dict(part.partition("=")[::2] for part in fields.get("format", "").split(";")[1:])
    if "width" in options and "height" in options:
        try:
            return int(options["width"]), int(options["height"])
        except ValueError:
            raise FileFormatError(f"{path}: bad width / height in '% format {fields['format']}'") from None
    return None


def _eventcode_line(path: Path, line: str | None) -> tuple[StepTime | None, int]:
    """Step time and polarities of eventcode's ``% eventcode k=v ...`` line."""
    if line is None:
        return None, 2
    try:
        values = {key: int(value) for key, _, value in (part.partition("=") for part in line.split())}
        steps = (
            None if "dt_us" not in values else StepTime(values["num_steps"], values["dt_us"], values["t0_us"])
        )
    except (KeyError, ValueError):
        raise FileFormatError(f"{path}: unreadable '% eventcode {line}' header line") from None
    return steps, values.get("polarities", 2)


# ---------------------------------------------------------------------- decoding
class _State:
    """What a decoder carries from one block of words to the next."""

    def __init__(self) -> None:
        self.high = 0  # last TIME_HIGH value (raw)
        self.wraps = 0
        self.low = 0  # EVT 3.0: last TIME_LOW
        self.y = -1  # EVT 3.0: last ADDR_Y (-1: none yet)
        self.base = -1  # EVT 3.0: vector base x after the last word (-1: none yet)
        self.vp = 0  # EVT 3.0: polarity of the last VECT_BASE_X
        self.counts: dict[str, int] = {}


def _last(mask: np.ndarray) -> np.ndarray:
    """For each word, the index of the last word at or before it where ``mask`` holds, else -1."""
    index = np.where(mask, np.arange(len(mask), dtype=np.int64), -1)
    return np.maximum.accumulate(index) if len(index) else index


def _count(state: _State, types: np.ndarray, kinds: dict[int, str], read: int) -> None:
    """Add the words of other kinds to ``state.counts`` (``read``: the words of the decoded kinds)."""
    left = len(types) - read
    for kind, name in kinds.items():
        found = int(np.count_nonzero(types == kind)) if left else 0
        state.counts[name] = state.counts.get(name, 0) + found
        left -= found
    state.counts["reserved"] = state.counts.get("reserved", 0) + left


def _times(high_values: np.ndarray, period_bits: int, state: _State) -> np.ndarray:
    """The unwrapped TIME_HIGH values (wraps counted where they decrease), updating ``state``."""
    previous = np.concatenate(([state.high], high_values[:-1])).astype(np.int64)
    wraps: np.ndarray = state.wraps + np.cumsum(high_values < previous)
    if len(high_values):
        state.high, state.wraps = int(high_values[-1]), int(wraps[-1])
    unwrapped: np.ndarray = (wraps << period_bits) + high_values
    return unwrapped


def _before(mask: np.ndarray, at: np.ndarray, where: np.ndarray) -> np.ndarray:
    """For each word index of ``at``, how many words where ``mask`` holds (at ``where``) come at or
    before it: a search among few such words, else a count over all."""
    if 16 * len(where) < len(mask):
        found: np.ndarray = np.searchsorted(where, at, side="right")
        return found
    counts: np.ndarray = np.cumsum(mask.view(np.uint8), dtype=np.int32)[at]  # blocks < 2^31 words
    return counts


def _evt2(words: np.ndarray, state: _State, out: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """Decode EVT 2.0 words in pieces on all cores: a scan finds each piece's CD and TIME_HIGH
    words, the TIME_HIGH values unwrap in order, then each piece fills its part of the columns
    (the start of the columns ``out`` if given, long enough for every word)."""
    pieces = max(1, min(16 * threads.WORKERS, len(words) // _PIECE))
    cuts = np.linspace(0, len(words), pieces + 1, dtype=np.int64)
    bounds = list(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True))

    def scan(piece: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = piece
        types = words[lo:hi].view(np.uint8)[3::4] >> 4  # bits 31-28 of each little-endian word
        cd, high = np.flatnonzero(types <= 1), np.flatnonzero(types == 8)
        # the CD words before each TIME_HIGH: a count where there are no other words
        every = len(cd) + len(high) == hi - lo
        starts = high - np.arange(len(high)) if every else np.searchsorted(cd, high)
        return cd + lo, high + lo, starts

    scanned = list(threads.parallel(scan, bounds))
    at_high = np.concatenate([high for _, high, _ in scanned])
    found = np.cumsum([0] + [len(cd) for cd, _, _ in scanned])
    n_high = np.cumsum([0] + [len(high) for _, high, _ in scanned])
    total = int(found[-1])
    read = total + len(at_high)
    types = words.view(np.uint8)[3::4] >> 4 if read < len(words) else words[:0]  # only to count others
    _count(state, types, _EVT2_KINDS, min(read, len(types)))
    carry = (state.wraps << 28) + state.high
    highs = np.concatenate(([carry], _times((words[at_high] & 0x0FFFFFFF).astype(np.int64), 28, state))) << 6
    if out is None:
        out = {name: np.empty(total, dtype) for name, dtype in _DTYPES.items()}
    t, x, y, p = (out[name][:total] for name in "txyp")

    def fill(index: int) -> None:
        cd, _, starts = scanned[index]
        part = slice(int(found[index]), int(found[index + 1]))
        # the CD words after each TIME_HIGH (the one before the piece first) take its value
        piece_highs = highs[int(n_high[index]) : int(n_high[index + 1]) + 1]
        high = np.repeat(piece_highs, np.diff(starts, prepend=0, append=len(cd)))
        cd_words = words[cd]
        halves = cd_words.view("<u2")
        np.bitwise_or(high, np.bitwise_and(halves[1::2] >> 6, 63), out=t[part])
        np.bitwise_and(cd_words >> 11, 0x7FF, out=x[part], casting="unsafe")
        np.bitwise_and(halves[0::2], 0x7FF, out=y[part], casting="unsafe")
        np.greater_equal(cd_words.view(np.uint8)[3::4], 0x10, out=p[part])

    for _ in threads.parallel(fill, range(pieces)):
        pass
    return {"t": t, "x": x, "y": y, "p": p, "words": words}  # words: where the events are, for errors


def _evt3(words: np.ndarray, state: _State, offset: int, path: Path | None) -> dict[str, np.ndarray]:
    types = words.view(np.uint8)[1::2] >> 4  # bits 15-12 of each little-endian word
    value = words & 0x0FFF
    is_high, is_low, is_y, is_base = types == 8, types == 6, types == 0, types == 3
    events = ((types - 4) < 2) | (types == 2)  # VECT_12, VECT_8 (uint8 wraps below 4), EVT_ADDR_X
    source = np.flatnonzero(events)  # the words that hold events
    at = [np.flatnonzero(mask) for mask in (is_high, is_low, is_y, is_base)]
    _count(state, types, _EVT3_KINDS, len(source) + sum(len(positions) for positions in at))
    kinds = types[source]
    vector = kinds != 2
    # state at each event word: the last word of each kind before it (a count picks it)
    carry_high = (state.wraps << 12) + state.high
    highs = np.concatenate(([carry_high], _times(value[at[0]].astype(np.int64), 12, state)))
    lows = np.concatenate(([state.low], value[at[1]])).astype(np.int64)
    ys = np.concatenate(([state.y], value[at[2]] & 0x7FF)).astype(np.int64)
    bases = np.concatenate(([state.base], value[at[3]] & 0x7FF)).astype(np.int64)
    polarities = np.concatenate(([state.vp], value[at[3]] >> 11)).astype(bool)
    time = (highs[_before(is_high, source, at[0])] << 12) | lows[_before(is_low, source, at[1])]
    y = ys[_before(is_y, source, at[2])]
    at_source = value[source]
    single_x = at_source & 0x7FF
    p = at_source >= 0x800
    if len(at[3]) == 0 and state.base < 0 and not vector.any():  # no vectors: one event per word
        if len(y) and y.min() < 0:
            word = int(source[np.argmax(y < 0)])
            raise FileFormatError(
                f"{path}: EVT 3.0 event word at byte {offset + 2 * word} has no EVT_ADDR_Y before it"
            )
        if len(words):
            state.low, state.y = int(lows[-1]), int(ys[-1])
        return {"t": time, "x": single_x.astype(np.int16), "y": y.astype(np.int16), "p": p, "source": source}
    n_base = np.searchsorted(at[3], source)  # VECT_BASE_X words before each event word
    # vector base x: the base plus the widths of the vectors after it and before this word
    width = np.where(kinds == 4, 12, 8) * vector
    after = np.concatenate(([0], np.cumsum(width)))  # widths of the event words before each, and all
    # for each base word (the carry first), the widths of the event words before it
    since = np.concatenate(([0], after[np.searchsorted(source, at[3])]))
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
    total = int(end[-1]) if len(end) else 0
    rows, columns = np.nonzero(_BITS[masks])
    at_vector = (end - per)[vector]
    place = at_vector[rows] + np.arange(len(rows)) - (np.cumsum(per[vector]) - per[vector])[rows]
    single = np.flatnonzero(~vector)
    x = np.empty(total, np.int16)
    out_p = np.empty(total, bool)
    x[end[single] - 1] = single_x[single]
    out_p[end[single] - 1] = p[single]
    x[place] = base[vector][rows] + columns
    out_p[place] = polarities[n_base[vector]][rows]
    if len(words):
        state.low, state.y = int(lows[-1]), int(ys[-1])
        last_base = int(bases[-1])
        state.base = last_base + int(after[-1]) - int(since[-1]) if last_base >= 0 else -1
        state.vp = int(polarities[-1])
    return {
        "t": np.repeat(time, per),
        "x": x,
        "y": np.repeat(y, per).astype(np.int16),
        "p": out_p,
        "source": source,
        "ends": end,
    }


def _blocks(
    path: Path,
    file: BinaryIO,
    header: _Header,
    block: int,
    state: _State,
    size: tuple[int, int] | None,
    ordered: bool,
    out: dict[str, np.ndarray] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Decoded columns of each block of ``block`` words, checked against the sensor (of ``size``)
    and, if ``ordered``, the time order; EVT 2.0 blocks fill ``out`` one after the other if given."""
    dtype = "<u4" if header.version == "2.0" else "<u2"
    last_t: int | None = None
    filled = 0
    for first in range(0, header.words, block):
        count = min(block, header.words - first)
        file.seek(header.data_start + first * header.word_bytes)
        words = np.fromfile(file, dtype=dtype, count=count)
        offset = header.data_start + first * header.word_bytes
        if header.version == "2.0":
            columns = _evt2(words, state, None if out is None else {n: a[filled:] for n, a in out.items()})
            filled += len(columns["t"])
        else:
            columns = _evt3(words, state, offset, path)
        if header.t0:
            columns["t"] += header.t0
        t = columns["t"]
        if ordered and len(t):
            back = np.flatnonzero(t[1:] < t[:-1])
            if last_t is not None and t[0] < last_t:
                back = np.concatenate(([-1], back))
            if len(back):
                at = int(back[0]) + 1
                raise FileFormatError(
                    f"{path}: time goes back at byte {_byte(columns, at, offset, header)} ({int(t[at])} us "
                    f"after {last_t if at == 0 else int(t[at - 1])} us); sort=True sorts the events instead"
                )
            last_t = int(t[-1])
        x, y = columns["x"], columns["y"]
        if size is not None and len(x) and (int(x.max()) >= size[0] or int(y.max()) >= size[1]):
            bad = np.flatnonzero((x >= size[0]) | (y >= size[1]))
            if len(bad):
                at = int(bad[0])
                raise FileFormatError(
                    f"{path}: event at byte {_byte(columns, at, offset, header)} has "
                    f"x={int(columns['x'][at])}, y={int(columns['y'][at])} outside the "
                    f"{size[0]}x{size[1]} sensor"
                )
        yield columns


def _byte(columns: dict[str, np.ndarray], event: int, offset: int, header: _Header) -> int:
    """The byte offset of the word that holds event ``event`` of a block starting at ``offset``."""
    # EVT 2.0: the CD words of the block, found again only for an error
    source = columns["source"] if "source" in columns else np.flatnonzero((columns["words"] >> 28) <= 1)
    word = (
        source[event]
        if "ends" not in columns
        else source[np.searchsorted(columns["ends"], event, side="right")]
    )
    return offset + int(word) * header.word_bytes


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
    with open(path, "rb") as file:
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
    columns: dict[str, np.ndarray], target: _Target, window: tuple[int | None, int | None]
) -> dict[str, np.ndarray]:
    """Sorted columns cut to ``window`` (us), in steps for a step-time file."""
    t = columns["t"]
    lo = 0 if window[0] is None else int(np.searchsorted(t, window[0], side="left"))
    hi = len(t) if window[1] is None else int(np.searchsorted(t, window[1], side="left"))
    out = {name: columns[name][lo:hi] for name in "txyp"}
    if target.steps is not None:
        out["t"] = (out["t"] - target.steps.t0_us) // target.steps.dt_us
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
        block = max(header.words, 1) if sort else BLOCK
        # EVT 2.0 has at most one event per word: its blocks decode into the columns in place
        out = (
            {name: np.empty(header.words, dtype) for name, dtype in _DTYPES.items()}
            if header.version == "2.0" and header.words > block
            else None
        )
        blocks = list(_blocks(path, file, header, block, state, target.size, not sort, out))
    filled = sum(len(b["t"]) for b in blocks)
    columns = {
        name: out[name][:filled]
        if out is not None
        else np.concatenate([b[name] for b in blocks])
        if len(blocks) > 1
        else (blocks[0] if blocks else _empty())[name]
        for name in "txyp"
    }
    if sort:
        order = np.argsort(columns["t"], kind="stable")
        columns = {name: column[order] for name, column in columns.items()}
    target, inferred = _sized(target, columns)
    _warn(header, state, inferred)
    return _events(_finish(columns, target, window), target)


def _empty() -> dict[str, np.ndarray]:
    return {
        "t": np.zeros(0, np.int64),
        "x": np.zeros(0, np.int16),
        "y": np.zeros(0, np.int16),
        "p": np.zeros(0, bool),
    }


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

    Memory stays near a few chunks whatever the file size. A file without a sensor size needs
    ``sensor_size=`` here (the largest address is not known before the end). Arguments as for
    :func:`read` (time going back raises).

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
) -> Iterator[_Target | dict[str, np.ndarray]]:
    count = positive_int("chunk_events", chunk_events, "events")
    with _open(path, version, sensor_size) as (path, file, header, target):
        window = _window(path, sample, t_start, t_end, target)
        if target.size is None:
            raise OptionError(
                f"{path}: the header gives no sensor size; pass sensor_size=(W, H) to read it in chunks"
            )
        yield target
        state = _State()
        pending: list[dict[str, np.ndarray]] = []
        held = 0
        for columns in _blocks(path, file, header, min(count, BLOCK), state, target.size, True):
            columns = _finish(columns, target, window)
            pending.append(columns)
            held += len(columns["t"])
            while held >= count:
                joined = {name: np.concatenate([c[name] for c in pending]) for name in "txyp"}
                yield {name: column[:count] for name, column in joined.items()}
                pending, held = [{name: column[count:] for name, column in joined.items()}], held - count
        if held:
            yield {name: np.concatenate([c[name] for c in pending]) for name in "txyp"}
    _warn(header, state, None)


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

    def _bridge(self, highs: np.ndarray, step: int, first: bool) -> tuple[np.ndarray, np.ndarray]:
        """TIME_HIGH values to write before each event (``count`` per event, ``values`` flat):
        where the high part changes, steps of at most ``step`` from the previous one."""
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
        count, highs = self._bridge(t >> 12, 8, self._last_t < 0)
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
