"""The readers fuzzed, and the bytes each one checks, as data.

One :class:`Reader` per registered format, EVT split into its 2.0 and 3.0 variants (one module
reads both; they get separate corpora because their words differ). Each reader's ``checked``
function lists the :class:`Checked` byte ranges of a file that the reader verifies (magic,
lengths, checksums, counts): a single-byte change in such a range must not read successfully,
unless the new byte is one of the range's ``allowed`` values (another valid choice, such as the
other EVT version). A change elsewhere may read, but its events must pass ``Events`` validation
(:mod:`.sandbox` checks both). Only ranges where *every* other value is refused are listed: a
field the reader merely interprets (a sensor width, a timestamp) is data, not a check.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import exporters
from exporters.flatbuffers import Buffer

CORPUS = Path(__file__).resolve().parent / "corpus"
"""The checked-in seed corpus: one folder per reader (built by ``python -m tests.fuzz.corpus``)."""


@dataclass(frozen=True)
class Checked:
    """Bytes ``[start, stop)`` of a file that its reader checks, and why.

    A change of one byte there to any value outside ``allowed`` must make ``read`` fail.
    """

    start: int
    stop: int
    what: str
    allowed: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Reader:
    """One fuzzed reader: a registered format (and variant), its seed folder and its checks."""

    name: str
    format: str
    suffix: str
    checked: Callable[[bytes], list[Checked]]

    @property
    def module(self) -> ModuleType:
        """The format's module (``read``, ``read_chunks``, ``info``)."""
        return {fmt.name: fmt for fmt in exporters.formats()}[self.format].module

    def seeds(self) -> list[Path]:
        """The reader's seed files, sorted by name."""
        return sorted((CORPUS / self.name).glob(f"*{self.suffix}"))


# --------------------------------------------------------------------------- AEDAT 4.0
_LZ4_MAGIC = b"\x04\x22\x4d\x18"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _aedat4(data: bytes) -> list[Checked]:
    """AEDAT 4.0: the magic line; the IOHeader FlatBuffer's identifier; and, for each packet of
    the event stream, what its decoder verifies: with a data table, the 8-byte packet header
    (stream id and size, compared with the table's entry); without one and a single declared
    stream, the stream id (another id is undeclared); in an LZ4 packet the frame magic and the
    frame descriptor's checksum byte; in a zstd packet the frame magic; in an uncompressed packet
    the packet FlatBuffer's identifier ``EVTS``."""
    checked = [Checked(0, 14, "magic line #!AER-DAT4.0\\r\\n"), Checked(22, 26, "IOHeader identifier IOHE")]
    header_size = struct.unpack_from("<I", data, 14)[0]
    header = Buffer(data[14 : 18 + header_size], b"IOHE", 14)
    code = header.scalar(header.root, 0, "<i", 0)
    table_at = header.scalar(header.root, 1, "<q", -1)
    outputs = ElementTree.fromstring(header.string(header.root, 2)).find("./node[@name='outInfo']")
    assert outputs is not None
    kinds = {
        int(node.get("name", "")): {a.get("key"): a.text for a in node.findall("attr")}.get("typeIdentifier")
        for node in outputs.findall("node")
    }
    events = min(key for key, kind in kinds.items() if kind == "EVTS")
    position, end = 18 + header_size, table_at if table_at >= 0 else len(data)
    while position + 8 <= end:
        stream, size = struct.unpack_from("<ii", data, position)
        payload = position + 8
        if stream == events:
            if table_at >= 0:
                checked.append(Checked(position, payload, "packet header, cross-checked with the data table"))
            elif len(kinds) == 1:
                checked.append(Checked(position, position + 4, "packet stream id (the only declared stream)"))
            if code in (1, 2) and data[payload : payload + 4] == _LZ4_MAGIC:
                flags = data[payload + 4]
                checksum = payload + 6 + (8 if flags & 0x08 else 0) + (4 if flags & 0x01 else 0)
                checked.append(Checked(payload, payload + 4, "LZ4 frame magic"))
                checked.append(Checked(checksum, checksum + 1, "LZ4 frame descriptor checksum"))
            elif code in (3, 4):
                checked.append(Checked(payload, payload + 4, "zstd frame magic"))
            elif code == 0:
                checked.append(Checked(payload + 8, payload + 12, "packet FlatBuffer identifier EVTS"))
        position = payload + size
    return checked


# --------------------------------------------------------------------------- HDF5 and NIR
def _hdf5(data: bytes) -> list[Checked]:
    """HDF5 (eventcode's files and NIR's): the 8-byte format signature at byte 0 (eventcode and
    NIR write superblock version 0, which has no checksum; the rest is HDF5's own metadata)."""
    return [Checked(0, 8, "HDF5 format signature")]


# --------------------------------------------------------------------------- AEDAT 2.0 / 3.1
def _aedat2(data: bytes) -> list[Checked]:
    """AEDAT 2.0: the version prefix ``#!AER-DAT2.`` (the rest of the header is free ``#`` lines,
    every record is data, and a partial record at the end is counted as trailing bytes)."""
    return [Checked(0, 11, "magic #!AER-DAT2.")]


_PACKET = struct.Struct("<hhiiiiii")
"""AEDAT 3.1's 28-byte packet header: type, source, event size, timestamp offset, timestamp
overflow, capacity, number, valid."""


def _aedat3(data: bytes) -> list[Checked]:
    """AEDAT 3.1: the version line; the ``#!END-HEADER`` line (without it the binary packets are
    taken as header lines and refused); for every polarity packet its event size and timestamp
    offset (they must be 8 and 4); and for each polarity packet of the stream read (the lowest
    source) its valid-event count, which must equal the events whose valid bit is set."""
    checked = [Checked(0, 14, "magic line #!AER-DAT3.1\\r\\n")]
    end = data.index(b"#!END-HEADER")
    checked.append(Checked(end, end + 12, "#!END-HEADER line"))
    position = data.index(b"\n", end) + 1
    packets = []
    while position + _PACKET.size <= len(data):
        kind, source, size, _, _, capacity, _, _ = _PACKET.unpack_from(data, position)
        packets.append((position, kind, source))
        if size < 1 or capacity < 0:
            break
        position += _PACKET.size + capacity * size
    polarity = [(at, source) for at, kind, source in packets if kind == 1]
    lowest = min((source for _, source in polarity), default=None)
    for at, source in polarity:
        checked.append(Checked(at + 4, at + 12, "polarity packet event size 8 and timestamp offset 4"))
        if source == lowest:
            checked.append(
                Checked(at + 24, at + 28, "polarity packet valid count (checked against valid bits)")
            )
    return checked


# --------------------------------------------------------------------------- Prophesee DAT
def _dat(data: bytes) -> list[Checked]:
    """DAT: after the ``%`` header lines, the event type byte (CD 0x0C or Event2D 0x00, the two
    read) and the event size byte (8)."""
    position = 0
    while data[position : position + 1] == b"%":
        position = data.index(b"\n", position) + 1
    return [
        Checked(position, position + 1, "event type byte", frozenset({0x00, 0x0C})),
        Checked(position + 1, position + 2, "event size byte 8"),
    ]


# --------------------------------------------------------------------------- Event Stream
def _es(data: bytes) -> list[Checked]:
    """Event Stream: the magic ``Event Stream``, the major version 2 and the stream type byte
    (DVS 1 or ATIS 2 are read; generic 0, color 4 and unknown types are refused)."""
    return [
        Checked(0, 12, "magic Event Stream"),
        Checked(12, 13, "major version 2"),
        Checked(15, 16, "stream type byte", frozenset({1, 2})),
    ]


# --------------------------------------------------------------------------- EVT 2.0 / 3.0
def _evt(data: bytes) -> list[Checked]:
    """EVT 2.0 / 3.0: the version of the first ``% evt X.Y`` header line (its major digit may
    become the other version's; the dot and the minor ``0`` have no other valid value)."""
    at = data.index(b"% evt ") + len(b"% evt ")
    return [
        Checked(at, at + 1, "EVT major version digit", frozenset({ord("2"), ord("3")})),
        Checked(at + 1, at + 3, "EVT version .0"),
    ]


# --------------------------------------------------------------------------- N-MNIST
def _nmnist(data: bytes) -> list[Checked]:
    """N-MNIST: nothing. The format has no magic, no lengths and no checksums: every byte is
    event data (x, y, polarity and a 23-bit time in each 40-bit record)."""
    return []


READERS: tuple[Reader, ...] = (
    Reader("aedat4", "aedat4", ".aedat4", _aedat4),
    Reader("hdf5", "hdf5", ".h5", _hdf5),
    Reader("nir", "nir", ".nir", _hdf5),
    Reader("aedat2", "aedat2", ".aedat", _aedat2),
    Reader("aedat3", "aedat3", ".aedat", _aedat3),
    Reader("dat", "dat", ".dat", _dat),
    Reader("es", "es", ".es", _es),
    Reader("evt2", "evt", ".raw", _evt),
    Reader("evt3", "evt", ".raw", _evt),
    Reader("nmnist", "nmnist", ".bin", _nmnist),
)
"""Every fuzzed reader, in the registry's order."""


def reader(name: str) -> Reader:
    """The reader called ``name`` (``"evt2"``, ``"aedat4"``...)."""
    for candidate in READERS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no fuzzed reader {name!r}; known: {', '.join(r.name for r in READERS)}")
