"""Byte mutations, as values: the campaign draws them with :mod:`random`, the CI pass with
hypothesis, and both apply them with :func:`apply`, so a finding of either replays the same way.

Examples
--------
>>> apply(b"abcdef", [Mutation("set", 1, 1, 0x5A), Mutation("delete", 4, 2, 0)])
b'aZcd'
>>> apply(b"\\x00\\x01", [Mutation("add", 0, 2, 255)])
b'\\xff\\x01'
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass

KINDS = ("flip", "set", "interesting", "add", "delete", "insert", "duplicate", "truncate")
"""What a :class:`Mutation` does (see :func:`apply`)."""

INTERESTING = (
    0,
    1,
    -1,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFFFFFF,
    -(2**31),
    2**32 - 1,
    2**63 - 1,
)
"""Values that sit on the edges of 8-, 16-, 32- and 64-bit fields."""

WIDTHS = (1, 2, 4, 8)
"""Field widths (bytes) of ``interesting`` and ``add``."""

MAX_SIZE = 1 << 17
"""The longest mutated input: twice the longest seed."""


@dataclass(frozen=True)
class Mutation:
    """One edit of a byte string.

    ``at`` is taken modulo the data's length (plus one where an edit may append); ``size`` is a
    field width (``interesting``, ``add``: the nearest of :data:`WIDTHS` at most ``size``) or a
    number of bytes (``delete``, ``insert``, ``duplicate``); ``value`` is the bit (``flip``), the
    byte (``set``, ``insert``), the index into :data:`INTERESTING` or the signed amount (``add``).
    """

    kind: str
    at: int
    size: int
    value: int


def _width(size: int) -> int:
    return max(width for width in WIDTHS if width <= max(size, 1))


def _field(data: bytearray, at: int, size: int, number: int) -> None:
    """Write ``number`` modulo its width as a little-endian integer of ``size`` bytes at ``at``
    (clipped to the data's end)."""
    packed = struct.pack("<Q", number % (1 << (8 * size)))[:size]
    end = min(at + size, len(data))
    data[at:end] = packed[: end - at]


def apply(data: bytes, mutations: Sequence[Mutation]) -> bytes:
    """``data`` after each mutation in turn, at most :data:`MAX_SIZE` bytes."""
    out = bytearray(data)
    for mutation in mutations:
        n, size = len(out), max(mutation.size, 1)
        at = mutation.at % (n + 1)
        if mutation.kind in ("flip", "set", "interesting", "add") and n == 0:
            continue
        if mutation.kind == "flip":
            out[at % n] ^= 1 << (mutation.value % 8)
        elif mutation.kind == "set":
            out[at % n] = mutation.value % 256
        elif mutation.kind == "interesting":
            _field(out, at % n, _width(size), INTERESTING[mutation.value % len(INTERESTING)])
        elif mutation.kind == "add":
            width, start = _width(size), at % n
            current = int.from_bytes(bytes(out[start : start + width]).ljust(width, b"\0"), "little")
            _field(out, start, width, current + mutation.value)
        elif mutation.kind == "delete":
            del out[at : at + size]
        elif mutation.kind == "insert":
            out[at:at] = bytes([mutation.value % 256]) * size
        elif mutation.kind == "duplicate":
            out[at:at] = out[at : at + size]
        elif mutation.kind == "truncate":
            del out[at:]
        else:
            raise ValueError(f"unknown mutation kind {mutation.kind!r}; known: {KINDS}")
    return bytes(out[:MAX_SIZE])


def draw(rng: random.Random, length: int) -> Mutation:
    """A random mutation of a ``length``-byte input: positions favour the first kilobyte, where
    the headers are, and sizes and amounts are mostly small."""
    kind = rng.choice(KINDS)
    at = rng.randrange(min(length, 1024) + 1) if rng.random() < 0.5 else rng.randrange(length + 1)
    size = rng.choice((1, 1, 2, 4, 8, 16, rng.randrange(1, 4097)))
    if kind == "add":
        value = rng.choice((-1, 1)) * rng.randrange(1, 36)
    elif kind == "interesting":
        value = rng.randrange(len(INTERESTING))
    else:
        value = rng.randrange(256)
    return Mutation(kind, at, size, value)
