"""Just enough FlatBuffers to read and write AEDAT 4.0: bounds-checked tables, vectors, strings.

AEDAT 4.0 wraps every header, packet and index in a size-prefixed FlatBuffer (a ``u32`` length,
a ``u32`` root offset, a four-character identifier, then tables addressed through vtables).
:class:`Buffer` reads one, checking every offset against the buffer so that a corrupt file
raises :class:`~eventcode.errors.FileFormatError` naming the file (when given) and the byte offset
in it, never reads out of bounds: an offset pointing outside is blamed on the field that holds
it. (Writing needs only fixed layouts, built where they are used.)

Examples
--------
>>> import struct
>>> from exporters.flatbuffers import Buffer
>>> table = struct.pack("<i i", -8, 7) + struct.pack("<HHH", 6, 8, 4)  # one int32 field = 7
>>> blob = struct.pack("<I4s", 8, b"TEST") + table
>>> buffer = Buffer(struct.pack("<I", len(blob)) + blob, identifier=b"TEST", where=0)
>>> buffer.scalar(buffer.root, 0, "<i", default=0)
7
>>> Buffer(struct.pack("<I", len(blob)) + blob, identifier=b"EVTS", where=100, path="a.aedat4")
Traceback (most recent call last):
...
eventcode.errors.FileFormatError: a.aedat4: byte 108: identifier is b'TEST', expected b'EVTS'
"""

from __future__ import annotations

import os
import struct
from typing import NoReturn

from eventcode.errors import FileFormatError


class Buffer:
    """A size-prefixed FlatBuffer held in ``data``; ``where`` is its file offset and ``path`` its
    file, for errors: every error, raised here or by a method later, names both.

    Raises
    ------
    FileFormatError
        On a size prefix that does not fit, a wrong identifier, or any offset out of bounds.
    """

    def __init__(
        self,
        data: bytes | memoryview,
        identifier: bytes,
        where: int,
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.data = memoryview(data)
        self.where = where
        self.path = path
        if len(self.data) < 12:
            self.fail(0, f"a {identifier.decode()} buffer needs at least 12 bytes, it has {len(self.data)}")
        size = self.u32(0)
        if size + 4 > len(self.data):
            self.fail(0, f"size prefix says {size + 4} bytes but {len(self.data)} are there")
        self.data = self.data[: size + 4]
        found = bytes(self.data[8:12])
        if found != identifier:
            self.fail(8, f"identifier is {found!r}, expected {identifier!r}")
        self.root = self.table(self.follow(4, self.u32(4), 4, "root offset"))

    def fail(self, offset: int, message: str) -> NoReturn:
        """Raise :class:`FileFormatError` for byte ``offset`` of the buffer: ``path: byte N: message``."""
        place = f"byte {self.where + offset}: {message}"
        raise FileFormatError(place if self.path is None else f"{os.fspath(self.path)}: {place}")

    def read(self, fmt: str, offset: int) -> int:
        """The scalar of struct format ``fmt`` at ``offset``, bounds-checked."""
        size = struct.calcsize(fmt)
        if offset < 0 or offset + size > len(self.data):
            self.fail(offset, f"offset {offset} (+{size}) is outside the {len(self.data)}-byte buffer")
        value: int = struct.unpack_from(fmt, self.data, offset)[0]
        return value

    def u32(self, offset: int) -> int:
        return self.read("<I", offset)

    def follow(self, at: int, step: int, size: int, what: str) -> int:
        """``at + step``, the target of the offset field ``what`` at ``at``, when ``size`` bytes fit
        there; else :class:`FileFormatError` naming the field (not a byte outside the buffer)."""
        target = at + step
        if target < 0 or target + size > len(self.data):
            self.fail(at, f"{what} {step} points to {target}, outside the {len(self.data)}-byte buffer")
        return target

    def table(self, offset: int) -> tuple[int, tuple[int, ...]]:
        """A table at ``offset`` (where 4 bytes fit): its position and the field offsets its vtable lists."""
        vtable = self.follow(offset, -self.read("<i", offset), 4, "vtable offset")
        vsize = self.read("<H", vtable)
        if vsize < 4 or vsize % 2:
            self.fail(vtable, f"vtable size {vsize} is not an even number >= 4")
        tsize = self.read("<H", vtable + 2)
        if offset + tsize > len(self.data):
            self.fail(offset, f"table of {tsize} bytes runs past the buffer end")
        fields = tuple(self.read("<H", vtable + 4 + 2 * i) for i in range((vsize - 4) // 2))
        for i, field in enumerate(fields):
            if field and field >= tsize:
                self.fail(vtable, f"field {i} at {field} lies outside its {tsize}-byte table")
        return offset, fields

    def field(self, table: tuple[int, tuple[int, ...]], slot: int) -> int | None:
        """Absolute offset of field ``slot``, or None when absent (its default applies)."""
        position, fields = table
        if slot >= len(fields) or not fields[slot]:
            return None
        return position + fields[slot]

    def scalar(self, table: tuple[int, tuple[int, ...]], slot: int, fmt: str, default: int) -> int:
        offset = self.field(table, slot)
        return default if offset is None else self.read(fmt, offset)

    def vector(self, table: tuple[int, tuple[int, ...]], slot: int, item_size: int) -> tuple[int, int]:
        """``(start, length)`` of a vector field; ``(0, 0)`` when absent."""
        offset = self.field(table, slot)
        if offset is None:
            return 0, 0
        start = self.follow(offset, self.u32(offset), 4, "vector offset")
        length = self.u32(start)
        if start + 4 + length * item_size > len(self.data):
            self.fail(start, f"vector of {length} x {item_size} bytes runs past the buffer end")
        return start + 4, length

    def string(self, table: tuple[int, tuple[int, ...]], slot: int) -> str:
        start, length = self.vector(table, slot, 1)
        try:
            return bytes(self.data[start : start + length]).decode("utf-8")
        except UnicodeDecodeError as err:
            self.fail(start, f"string is not UTF-8 ({err})")

    def element(self, start: int, index: int) -> tuple[int, tuple[int, ...]]:
        """Table ``index`` of a vector of tables whose items start at ``start`` (from :meth:`vector`)."""
        at = start + 4 * index
        return self.table(self.follow(at, self.u32(at), 4, "table offset"))

    def tables(self, table: tuple[int, tuple[int, ...]], slot: int) -> list[tuple[int, tuple[int, ...]]]:
        """The tables of a vector-of-tables field."""
        start, length = self.vector(table, slot, 4)
        return [self.element(start, i) for i in range(length)]
