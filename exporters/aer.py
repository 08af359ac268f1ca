"""Address words: events packed into 32-bit (or 64-bit) words through a declared bit layout.

A :class:`Layout` names the bit :class:`Field` of each event column (``x``, ``y``, ``p``), the
sensor size, which words are events (``event``: ``word & mask == value``) and what the other
words are (:class:`Kind`: special events, APS samples, IMU samples...). :func:`pack` turns
columns into words, checking every address against its field before anything is returned;
:func:`unpack` turns words back into the columns of their events, counting the other words;
:func:`write_words` and :func:`read_words` store raw word streams, with or without a timestamp
per word, in either byte order.

Coordinates are image coordinates, as everywhere in eventcode and in Tonic: the origin is the
top-left pixel and ``y`` grows downwards. jAER's cameras give ``x`` mirrored (jAER computes
``x = W - 1 - raw x``) and ``y`` from the bottom (jAER's origin is the lower-left pixel, ``y = raw
y``), so their layouts store both axes inverted (:attr:`Field.invert`): ``x = W - 1 - raw x`` and
``y = H - 1 - raw y``, exactly what Tonic's ``read_davis_346`` computes, and jAER's picture the
right way up for the DVS128 too.

The named layouts, each with the jAER sources it is read from (``SensorsINI/jaer``):

- :data:`DVS128`: ``ch/unizh/ini/jaer/chip/retina/DVS128.java`` (its ``Extractor``): ``x`` in
  bits 1-7 and ``y`` in bits 8-14 of a 128 x 128 sensor, polarity bit 0 with **1 = OFF** (jAER's
  ``type = 1 - bit 0``; iniVation's AEDAT 2.0 page says the opposite, jAER's code is what its
  viewer shows); a word with bit 15 (``CypressFX2DVS128HardwareInterface.SYNC_EVENT_BITMASK``, an
  external sync input) or bit 31 (``BasicEvent.SPECIAL_EVENT_BIT_MASK``) set is a special event.
- :data:`DAVIS240`, :data:`DAVIS346`, :data:`DAVIS640`: ``eu/seebetter/ini/chips/DavisChip.java``
  (``YSHIFT = 22``, 9 bits; ``XSHIFT = 12``, 10 bits; ``POLSHIFT = 11``, 1 = ON;
  ``ADDRESS_TYPE_MASK = 0x80000000``: bit 31 set for APS and IMU words; ``EVENT_TYPE_SHIFT = 10``)
  and the extractor of ``davis/DavisBaseCamera.java`` (``x = sizeX - 1 - raw x``, ``y = raw y``),
  with the sizes of ``DAVIS240BaseCamera.java`` (240 x 180), ``Davis346BaseCamera.java``
  (346 x 260) and ``Davis640.java`` (640 x 480). A word with bit 31 clear is a DVS event when bit
  10 is clear and an external input (special) event when it is set (iniVation's AEDAT 2.0 page:
  bits 11-10 ``01`` or ``11``; jAER's extractor takes only ``01`` as external); with bit 31 set it
  is an IMU word when bits 11-10 are ``11`` (``ADDRESS_TYPE_IMU = 0x80000C00``; an IMU sample is 7
  such words) and an APS sample otherwise.

Examples
--------
>>> import numpy as np
>>> from exporters import aer
>>> words = aer.pack({"x": [0, 345], "y": [0, 259], "p": [True, False]}, aer.DAVIS346)
>>> [hex(w) for w in words]
['0x40d59800', '0x0']
>>> decoded = aer.unpack(np.append(words, 0x80000C00), aer.DAVIS346)  # and one IMU word
>>> decoded.columns["x"].tolist(), decoded.columns["p"].tolist(), decoded.counts["imu"]
([0, 345], [True, False], 1)
>>> fields = (aer.Field("x", 0, 8), aer.Field("y", 8, 8), aer.Field("p", 16, 1))
>>> custom = aer.Layout("fpga", fields, size=(256, 256))
>>> aer.unpack(aer.pack({"x": [3], "y": [200], "p": [1]}, custom), custom).columns["y"].tolist()
[200]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Literal, NamedTuple

import numpy as np

from eventcode import checks
from eventcode.errors import AddressError, ExportError, FileFormatError, OptionError
from exporters import threads
from exporters.source import open_regular

COLUMNS = ("x", "y", "p")
"""The event columns a field can hold."""
CHUNK = 1 << 18
"""Words packed or unpacked at a time: the columns of a chunk and their scratch stay in cache."""
ByteOrder = Literal["big", "little"]


@dataclass(frozen=True)
class Field:
    """Where one event column lies in a word.

    Attributes
    ----------
    name : {"x", "y", "p"}
        The column.
    offset : int
        Its lowest bit (0 = the least significant bit of the word).
    width : int
        Its number of bits.
    invert : bool
        Store ``extent - 1 - value`` instead of ``value`` (``extent``: W for ``x``, H for ``y``,
        2 for ``p``): a mirrored axis, or a polarity bit that is 1 for OFF.
    """

    name: str
    offset: int
    width: int
    invert: bool = False

    @property
    def mask(self) -> int:
        """The field's bits in a word."""
        return ((1 << self.width) - 1) << self.offset

    def describe(self) -> str:
        """``"x (bits 12-21, inverted)"``, as error messages name a field."""
        bits = (
            f"bit {self.offset}" if self.width == 1 else f"bits {self.offset}-{self.offset + self.width - 1}"
        )
        return f"{self.name} ({bits}{', inverted' if self.invert else ''})"


@dataclass(frozen=True)
class Kind:
    """A kind of word that is not an event: the words with ``word & mask == value``."""

    name: str
    mask: int
    value: int


@dataclass(frozen=True)
class Layout:
    """A bit layout of address words: fields, sensor size and the kinds of words.

    Parameters
    ----------
    name : str
        Its name (a camera's, for the named layouts).
    fields : tuple of Field
        One per column: ``x`` is required; without ``y`` the sensor is one row (``H = 1``);
        without ``p`` every event reads as ON and only ON events pack.
    size : (W, H)
        The sensor size: ``x`` takes ``0 <= x < W``, ``y`` takes ``0 <= y < H``.
    source : str
        Where the layout comes from (a citation for the named ones).
    word_bits : {32, 64}
        Bits per word.
    event : (mask, value)
        A word is an event when ``word & mask == value``; ``(0, 0)`` (the default): every word.
        :func:`pack` sets these bits to ``value``.
    kinds : tuple of Kind
        What the other words are, tried in order; a word matching none counts as ``"other"``.

    Raises
    ------
    OptionError
        A field of another column, twice the same column, no ``x``; a field beyond the word,
        fields overlapping each other or the ``event`` bits; an extent that does not fit its
        field (W wider than ``x``'s bits); a ``word_bits`` other than 32 and 64; an ``event`` or
        kind ``value`` with bits outside its ``mask``.

    Examples
    --------
    >>> from exporters.aer import Field, Layout
    >>> Layout("bad", (Field("x", 0, 8), Field("y", 4, 8)), (256, 256))
    Traceback (most recent call last):
    ...
    eventcode.errors.OptionError: layout 'bad': fields x (bits 0-7) and y (bits 4-11) overlap in bits 4-7
    """

    name: str
    fields: tuple[Field, ...]
    size: tuple[int, int]
    source: str = ""
    word_bits: int = 32
    event: tuple[int, int] = (0, 0)
    kinds: tuple[Kind, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        where = f"layout {self.name!r}"
        if self.word_bits not in (32, 64):
            raise OptionError(f"{where}: word_bits must be 32 or 64, got {self.word_bits!r}")
        if len(self.size) != 2 or min(self.size) < 1:
            raise OptionError(f"{where}: size must be (W, H) with W, H >= 1, got {self.size!r}")
        names = [f.name for f in self.fields]
        unknown = sorted(set(names) - set(COLUMNS))
        if unknown or len(set(names)) != len(names) or "x" not in names:
            raise OptionError(
                f"{where}: fields must name the columns x (required), y and p once each, got {names}"
            )
        if "y" not in names and self.size[1] != 1:
            raise OptionError(
                f"{where}: no y field, so the sensor must be one row (H = 1), got H = {self.size[1]}"
            )
        word = (1 << self.word_bits) - 1
        for f in self.fields:
            if f.offset < 0 or f.width < 1 or f.offset + f.width > self.word_bits:
                raise OptionError(
                    f"{where}: field {f.describe()} does not fit a {self.word_bits}-bit word (bits 0-"
                    f"{self.word_bits - 1}); give offset >= 0 and width >= 1 within the word"
                )
            if self.extent(f.name) > 1 << f.width:
                raise OptionError(
                    f"{where}: field {f.describe()} holds {1 << f.width} values, fewer than the "
                    f"{self.extent(f.name)} of {f.name}; widen the field or shrink size"
                )
        for i, a in enumerate(self.fields):
            for b in self.fields[i + 1 :]:
                if a.mask & b.mask:
                    raise OptionError(
                        f"{where}: fields {a.describe()} and {b.describe()} overlap in "
                        f"{_bits(a.mask & b.mask)}"
                    )
        mask = self.event[0]
        for name, (m, v) in [("event", self.event), *((k.name, (k.mask, k.value)) for k in self.kinds)]:
            if m & ~word or v & ~m:
                raise OptionError(
                    f"{where}: {name} (mask {m:#x}, value {v:#x}) must have its value within its mask and "
                    f"both within the {self.word_bits}-bit word"
                )
        for f in self.fields:
            if f.mask & mask:
                raise OptionError(
                    f"{where}: field {f.describe()} overlaps the event bits (mask {mask:#x}) in "
                    f"{_bits(f.mask & mask)}"
                )

    def extent(self, name: str) -> int:
        """How many values column ``name`` takes: W for ``x``, H for ``y``, 2 for ``p``."""
        return {"x": self.size[0], "y": self.size[1], "p": 2}[name]

    @property
    def dtype(self) -> np.dtype:
        """The native unsigned dtype of its words."""
        return np.dtype(np.uint32 if self.word_bits == 32 else np.uint64)

    def has(self, name: str) -> bool:
        """Whether the layout has a field for column ``name``."""
        return any(f.name == name for f in self.fields)


def _bits(mask: int) -> str:
    """``"bits 4-7"`` (or ``"bit 4"``, or a list) for the set bits of ``mask``."""
    bits = [i for i in range(mask.bit_length()) if mask >> i & 1]
    if len(bits) == 1:
        return f"bit {bits[0]}"
    if bits == list(range(bits[0], bits[-1] + 1)):
        return f"bits {bits[0]}-{bits[-1]}"
    return f"bits {bits}"


_DAVIS_FIELDS = (Field("x", 12, 10, invert=True), Field("y", 22, 9, invert=True), Field("p", 11, 1))
_DAVIS_KINDS = (
    Kind("special", 0x80000400, 0x00000400),
    Kind("imu", 0x80000C00, 0x80000C00),
    Kind("aps", 0x80000000, 0x80000000),
)
_DAVIS_SOURCE = (
    "jAER (SensorsINI/jaer): eu/seebetter/ini/chips/DavisChip.java (YSHIFT 22, XSHIFT 12, POLSHIFT 11, "
    "ADDRESS_TYPE_MASK 0x80000000, ADDRESS_TYPE_IMU 0x80000C00, EXTERNAL_INPUT_EVENT_ADDR 1 << 10) and the "
    "extractor of eu/seebetter/ini/chips/davis/DavisBaseCamera.java (x = sizeX - 1 - raw x)"
)

DVS128 = Layout(
    "DVS128",
    (Field("x", 1, 7, invert=True), Field("y", 8, 7, invert=True), Field("p", 0, 1, invert=True)),
    (128, 128),
    source=(
        "jAER (SensorsINI/jaer): ch/unizh/ini/jaer/chip/retina/DVS128.java, Extractor (XMASK 0xfe, "
        "YMASK 0x7f00, x = 127 - raw x, type = 1 - bit 0; special when addr & (0x8000 | 0x80000000))"
    ),
    event=(0x80008000, 0),
    kinds=(Kind("special", 0, 0),),
)
"""jAER's DVS128 (128 x 128): x bits 1-7, y bits 8-14, polarity bit 0 = 1 for OFF."""

DAVIS240 = Layout(
    "DAVIS240",
    _DAVIS_FIELDS,
    (240, 180),
    source=_DAVIS_SOURCE + "; 240 x 180 from eu/seebetter/ini/chips/davis/DAVIS240BaseCamera.java",
    event=(0x80000400, 0),
    kinds=_DAVIS_KINDS,
)
"""jAER's DAVIS240A/B/C (240 x 180): x bits 12-21, y bits 22-30, polarity bit 11 = 1 for ON."""

DAVIS346 = Layout(
    "DAVIS346",
    _DAVIS_FIELDS,
    (346, 260),
    source=_DAVIS_SOURCE + "; 346 x 260 from eu/seebetter/ini/chips/davis/Davis346BaseCamera.java",
    event=(0x80000400, 0),
    kinds=_DAVIS_KINDS,
)
"""jAER's DAVIS346 (346 x 260), the layout of :data:`DAVIS240`; what Tonic's ``read_davis_346`` reads."""

DAVIS640 = Layout(
    "DAVIS640",
    _DAVIS_FIELDS,
    (640, 480),
    source=_DAVIS_SOURCE + "; 640 x 480 from eu/seebetter/ini/chips/davis/Davis640.java",
    event=(0x80000400, 0),
    kinds=_DAVIS_KINDS,
)
"""jAER's Davis640 (640 x 480), the layout of :data:`DAVIS240`."""

LAYOUTS = {layout.name: layout for layout in (DVS128, DAVIS240, DAVIS346, DAVIS640)}
"""The named layouts by name."""


def named(name: str) -> Layout:
    """The named layout ``name`` (any case).

    Raises
    ------
    OptionError
        No layout of that name; the message lists them.

    Examples
    --------
    >>> from exporters import aer
    >>> aer.named("davis346").size
    (346, 260)
    """
    found = {key.lower(): layout for key, layout in LAYOUTS.items()}.get(str(name).lower())
    if found is None:
        raise OptionError(f"no layout named {name!r}; the named layouts are {', '.join(LAYOUTS)}")
    return found


# ---------------------------------------------------------------------- packing
def pack(
    columns: Mapping[str, object] | object,
    layout: Layout,
    *,
    out: np.ndarray | None = None,
    check: bool = True,
) -> np.ndarray:
    """Address words of events: each column's value in its field, the ``event`` bits set.

    Every address is checked against its field before anything is returned (or written into
    ``out``): the error names the first event outside and the field.

    Parameters
    ----------
    columns : mapping or Events
        ``x``, ``y``, ``p`` (numpy arrays, tensors or sequences; ``p`` bool or 0/1) for the
        layout's fields, or an :class:`~eventcode.Events` (its columns).
    layout : Layout
    out : ndarray, optional
        Where to store the words: any integer array of the events' length (a big-endian column of
        records included, e.g. ``records[:, 0]`` of a ``(n, 2)`` ``'>u4'`` array).
    check : bool
        Check every value against its field (False: for columns known to fit, such as those of
        :class:`~eventcode.Events` whose sample fits the layout's sensor).

    Returns
    -------
    ndarray
        ``out``, or a new array of the layout's native unsigned dtype.

    Raises
    ------
    ExportError
        A column the layout needs is missing or has a different length, a value outside its
        field's extent (``0 <= x < W``, ``0 <= y < H``, ``p`` 0/1), or an OFF event for a
        layout without ``p``.

    Examples
    --------
    >>> from exporters import aer
    >>> [hex(w) for w in aer.pack({"x": [127, 0], "y": [127, 0], "p": [1, 0]}, aer.DVS128)]
    ['0x0', '0x7fff']
    >>> aer.pack({"x": [0, 346], "y": [0, 0], "p": [0, 0]}, aer.DAVIS346)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    eventcode.errors.ExportError: event 1: x = 346 does not fit field x (bits 12-21, inverted) of layout ...
    """
    given = _columns(columns, layout, check)
    n = len(next(iter(given.values())))
    if out is None:
        out = np.empty(n, layout.dtype)
    elif len(out) != n:
        raise ExportError(f"out holds {len(out)} words for {n} events")
    word, scratch = _scratch("aer.word", n, layout.dtype), _scratch("aer.field", n, layout.dtype)
    for a in range(0, n, CHUNK):
        b = min(a + CHUNK, n)
        acc, tmp = word[: b - a], scratch[: b - a]
        for i, f in enumerate(layout.fields):
            target, column, top = acc if i == 0 else tmp, given[f.name][a:b], layout.extent(f.name) - 1
            if f.invert and column.dtype != bool and np.iinfo(column.dtype).max >= top:
                np.subtract(top, column, out=target, casting="unsafe")  # in the column's dtype: one pass
            else:
                np.copyto(target, column, casting="unsafe")
                if f.invert:
                    np.subtract(top, target, out=target)
            if f.offset:
                np.left_shift(target, f.offset, out=target)
            if i:
                acc |= tmp
        if layout.event[1]:
            acc |= layout.event[1]
        np.copyto(out[a:b], acc, casting="unsafe")
    return out


def _columns(columns: Mapping[str, object] | object, layout: Layout, check: bool) -> dict[str, np.ndarray]:
    """The columns of the layout's fields as numpy arrays, every value checked with ``check``."""
    source: Mapping[str, object] = columns if isinstance(columns, Mapping) else columns.columns()  # type: ignore[attr-defined]
    needed = [f.name for f in layout.fields]
    missing = [name for name in needed if name not in source]
    if missing:
        raise ExportError(f"layout {layout.name!r} needs the columns {needed}; missing {missing}")
    arrays = {name: _numpy(source[name]) for name in needed}
    if not layout.has("p") and "p" in source:
        arrays["p"] = _numpy(source["p"])
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ExportError(f"the columns have different lengths: {lengths}")
    n = next(iter(lengths.values()))
    for name, array in arrays.items():
        if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
            raise ExportError(
                f"column {name} must be 1-D integers (p: bool or 0/1), got {array.dtype} {array.shape}"
            )
    for f in layout.fields if check else ():
        extent, values = layout.extent(f.name), arrays[f.name]
        i = _outside(values, extent)
        if i is not None:
            raise ExportError(
                f"event {i}: {f.name} = {int(values[i])} does not fit field {f.describe()} of layout "
                f"{layout.name!r}, which takes 0 <= {f.name} < {extent}"
            )
    if check and not layout.has("p") and "p" in arrays and n and not bool(np.all(arrays["p"])):
        i = checks.first(~arrays["p"].astype(bool))
        raise ExportError(f"layout {layout.name!r} has no p field, so it holds ON events only; p[{i}] is OFF")
    return arrays


def _outside(values: np.ndarray, extent: int) -> int | None:
    """The index of the first value outside ``[0, extent)``, or None (two reductions when none is)."""
    if not len(values) or (int(values.min()) >= 0 and int(values.max()) < extent):
        return None
    return checks.first((values < 0) | (values >= extent))


def _numpy(value: object) -> np.ndarray:
    """A column as a numpy array (a tensor moved to the CPU first)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _scratch(name: str, n: int, dtype: np.dtype) -> np.ndarray:
    """This thread's work array ``name`` of ``min(n, CHUNK)`` values of ``dtype``."""
    return threads.scratch(name, min(n, CHUNK), dtype)


# ---------------------------------------------------------------------- unpacking
class Unpacked(NamedTuple):
    """What :func:`unpack` finds in words: the events' columns, where they are, the other words.

    Attributes
    ----------
    columns : dict of str to ndarray
        ``x``, ``y`` (int32) and ``p`` (bool) of the event words, in word order.
    positions : ndarray or None
        The positions of the event words (None when every word is an event).
    counts : dict of str to int
        The words of each :class:`Kind` of the layout (and ``"other"`` when some match none).
    """

    columns: dict[str, np.ndarray]
    positions: np.ndarray | None
    counts: dict[str, int]


def unpack(words: object, layout: Layout) -> Unpacked:
    """The events of address words: their columns, their positions, and the other words counted.

    Raises
    ------
    AddressError
        An event word whose field holds a value outside the column's extent (a raw ``x`` of
        W or more); the message names the word and the field.

    Examples
    --------
    >>> import numpy as np
    >>> from exporters import aer
    >>> found = aer.unpack(np.array([0x40D59800, 0x400, 0x80000000], np.uint32), aer.DAVIS346)
    >>> found.columns["x"].tolist(), found.positions.tolist(), found.counts
    ([0], [0], {'special': 1, 'imu': 0, 'aps': 1})
    """
    array = _numpy(words)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise OptionError(f"words must be a 1-D integer array, got {array.dtype} {array.shape}")
    native = array.astype(layout.dtype, copy=False)
    out = {
        "x": np.empty(len(native), np.int32),
        "y": np.empty(len(native), np.int32),
        "p": np.empty(len(native), bool),
    }
    found = unpack_into(native, layout, out)
    k = len(native) if found.positions is None else len(found.positions)
    return found._replace(columns={name: column[:k] for name, column in out.items()})


def unpack_into(
    words: np.ndarray,
    layout: Layout,
    out: Mapping[str, np.ndarray],
    *,
    where: Callable[[int], str] = lambda i: f"word {i}",
) -> Unpacked:
    """:func:`unpack` into given columns: the ``k`` events go to ``out[name][:k]``.

    Parameters
    ----------
    words : ndarray
        Native words of the layout's dtype (:attr:`Layout.dtype`).
    layout : Layout
    out : mapping
        ``x``, ``y``, ``p`` arrays (any integer dtype holding the extents; ``p`` bool) of at least
        ``len(words)`` values.
    where : callable
        The place of word ``i`` in error messages (e.g. a byte offset in a file).

    Returns
    -------
    Unpacked
        With ``columns`` the given ``out``.

    Examples
    --------
    >>> import numpy as np
    >>> from exporters import aer
    >>> out = {"x": np.zeros(3, np.int16), "y": np.zeros(3, np.int16), "p": np.zeros(3, bool)}
    >>> words = np.array([0x7FFE, 0x8000, 0x0001], np.uint32)  # ON at (0, 0), a sync word, OFF
    >>> found = aer.unpack_into(words, aer.DVS128, out)
    >>> out["x"][:2].tolist(), found.positions.tolist(), found.counts
    ([0, 127], [0, 2], {'special': 1})
    """
    index, counts = classify(words, layout)
    if index is not None:
        words = words[index]
    scratch = _scratch("aer.field", len(words), layout.dtype)
    for a in range(0, len(words), CHUNK):
        b = min(a + CHUNK, len(words))
        chunk, tmp = words[a:b], scratch[: b - a]
        for f in layout.fields:
            extent, target = layout.extent(f.name), out[f.name][a:b]
            if f.name == "p" and f.width == 1:
                np.bitwise_and(chunk, 1 << f.offset, out=tmp)
                (np.equal if f.invert else np.not_equal)(tmp, 0, out=target)
                continue
            np.right_shift(chunk, f.offset, out=tmp)
            tmp &= (1 << f.width) - 1
            if extent < 1 << f.width and int(tmp.max()) >= extent:
                i = a + checks.first(tmp >= extent)
                raise AddressError(
                    f"{where(i if index is None else int(index[i]))}: field {f.describe()} of layout "
                    f"{layout.name!r} holds {int(tmp[i - a])}, outside [0, {extent})"
                )
            if f.name == "p":
                (np.equal if f.invert else np.not_equal)(tmp, 0, out=target)
            else:
                if f.invert:
                    np.subtract(extent - 1, tmp, out=tmp)
                np.copyto(target, tmp, casting="unsafe")
    if not layout.has("p"):
        out["p"][: len(words)] = True
    if not layout.has("y"):
        out["y"][: len(words)] = 0
    return Unpacked(dict(out), index, counts)


def classify(words: np.ndarray, layout: Layout) -> tuple[np.ndarray | None, dict[str, int]]:
    """Where the event words are (None: every word is one), and the words of each other kind.

    Words of no :class:`Kind` of the layout count as ``"other"`` (a key present only then).

    Examples
    --------
    >>> import numpy as np
    >>> from exporters import aer
    >>> aer.classify(np.array([0x8000, 0, 0x80000001], np.uint32), aer.DVS128)
    (array([1]), {'special': 2})
    """
    counts = {kind.name: 0 for kind in layout.kinds}
    mask, value = layout.event
    if not mask or not len(words):
        return None, counts
    scratch = _scratch("aer.field", len(words), layout.dtype)
    for a in range(0, len(words), CHUNK):  # the common case, only events: no mask is kept
        masked = np.bitwise_and(words[a : a + CHUNK], mask, out=scratch[: len(words[a : a + CHUNK])])
        if masked.any() if value == 0 else not (masked == value).all():
            break
    else:
        return None, counts
    events = np.bitwise_and(words, mask) == value
    others = words[~events]
    for kind in layout.kinds:
        match = np.bitwise_and(others, kind.mask) == kind.value
        counts[kind.name] += int(match.sum())
        others = others[~match]
    if len(others):
        counts["other"] = len(others)
    return np.flatnonzero(events), counts


# ---------------------------------------------------------------------- raw word streams
def _record(bits: int, byteorder: ByteOrder, timestamps: bool) -> np.dtype:
    """The dtype of one stored record: a word, then its timestamp if any."""
    if bits not in (32, 64):
        raise OptionError(f"bits must be 32 or 64, got {bits!r}")
    if byteorder not in ("big", "little"):
        raise OptionError(f"byteorder must be 'big' or 'little', got {byteorder!r}")
    word = np.dtype(f"{'>' if byteorder == 'big' else '<'}u{bits // 8}")
    return np.dtype([("word", word), ("t", word)]) if timestamps else np.dtype([("word", word)])


def write_words(
    file: str | os.PathLike[str] | IO[bytes],
    words: object,
    timestamps: object | None = None,
    *,
    byteorder: ByteOrder = "big",
    bits: int | None = None,
) -> None:
    """Write a raw stream of words, each followed by its timestamp when ``timestamps`` is given.

    Parameters
    ----------
    file : path or binary file
        A path (the file is replaced) or an open binary file (written at its position).
    words : array-like
        Unsigned words (e.g. from :func:`pack`).
    timestamps : array-like, optional
        One non-negative timestamp per word, stored with the words' width.
    byteorder : {"big", "little"}
        Of every word and timestamp (AEDAT 2.0 is big-endian).
    bits : {32, 64}, optional
        Width of each word and timestamp; default the words' itemsize (32 for wider signed input).

    Raises
    ------
    ExportError
        A word or timestamp that does not fit ``bits`` (or is negative), or timestamps of
        another length than the words; the message names the first.

    Examples
    --------
    >>> import io
    >>> from exporters import aer
    >>> stream = io.BytesIO()
    >>> aer.write_words(stream, [0x0102, 7], timestamps=[5, 6], byteorder="little")
    >>> stream.getvalue().hex()
    '02010000050000000700000006000000'
    """
    array = _numpy(words)
    if bits is None:
        bits = 64 if array.dtype.itemsize == 8 and array.dtype.kind == "u" else 32
    dtype = _record(bits, byteorder, timestamps is not None)
    given = {"word": array} if timestamps is None else {"word": array, "t": _numpy(timestamps)}
    for name, values in given.items():
        if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer) or len(values) != len(array):
            raise ExportError(
                f"{name}s must be 1-D integers, one per word, got {values.dtype} {values.shape}"
            )
        i = _outside(values, 1 << bits)
        if i is not None:
            raise ExportError(f"{name} {i} = {int(values[i])} does not fit {bits} bits (0 to 2^{bits} - 1)")
    records = np.empty(len(array), dtype)
    for name, values in given.items():
        records[name] = values
    if isinstance(file, (str, os.PathLike)):
        records.tofile(file)
    else:
        file.write(records.data)


def read_words(
    file: str | os.PathLike[str] | IO[bytes],
    *,
    timestamps: bool = False,
    byteorder: ByteOrder = "big",
    bits: int = 32,
    offset: int = 0,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Read a raw stream of words (and timestamps) as :func:`write_words` writes it.

    Parameters
    ----------
    file : path or binary file
        A path, or an open binary file read from its position to its end.
    timestamps : bool
        Each word is followed by its timestamp.
    byteorder, bits
        As for :func:`write_words`.
    offset : int
        Bytes to skip first (a header).

    Returns
    -------
    ndarray or (ndarray, ndarray)
        The words in the native unsigned dtype of ``bits``, and with ``timestamps`` the
        timestamps in the same dtype.

    Raises
    ------
    FileFormatError
        The stream does not end on a whole record; the message gives the byte offset.

    Examples
    --------
    >>> import io
    >>> from exporters import aer
    >>> words, t = aer.read_words(io.BytesIO(bytes.fromhex("0000010200000005")), timestamps=True)
    >>> hex(int(words[0])), int(t[0])
    ('0x102', 5)
    """
    dtype = _record(bits, byteorder, timestamps)
    if isinstance(file, (str, os.PathLike)):
        with open_regular(file) as opened:
            opened.seek(offset)
            data = opened.read()
        name = os.fspath(file)
    else:
        file.seek(offset, os.SEEK_CUR)
        data = file.read()
        name = getattr(file, "name", "stream")
    whole = len(data) // dtype.itemsize * dtype.itemsize
    if whole != len(data):
        raise FileFormatError(
            f"{name}: byte {offset + whole}: {len(data) - whole} bytes after the last whole record of "
            f"{dtype.itemsize} bytes (truncated)"
        )
    records = np.frombuffer(data, dtype)
    native = np.dtype(f"u{bits // 8}")
    words = records["word"].astype(native)
    return (words, records["t"].astype(native)) if timestamps else words
