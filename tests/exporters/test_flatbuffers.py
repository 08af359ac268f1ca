"""Tests of exporters/flatbuffers.py: every offset is checked against the buffer."""

from __future__ import annotations

import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventcode.errors import FileFormatError
from exporters.flatbuffers import Buffer


def one_string_table(text: bytes) -> bytes:
    """A size-prefixed "TEST" buffer whose root table has one string field."""
    body = struct.pack("<I4s3H2x", 16, b"TEST", 6, 8, 4)  # root at 4 + 16 = 20, vtable at 12
    body += struct.pack("<iI", 8, 4) + struct.pack("<I", len(text)) + text + b"\0"
    return struct.pack("<I", len(body)) + body


def test_reads_strings_scalars_and_defaults() -> None:
    buffer = Buffer(one_string_table(b"hello"), b"TEST", where=100)
    assert buffer.string(buffer.root, 0) == "hello"
    assert buffer.scalar(buffer.root, 3, "<q", default=-1) == -1  # absent field: its default
    assert buffer.vector(buffer.root, 5, 16) == (0, 0)


def test_errors_name_the_file_offset() -> None:
    with pytest.raises(FileFormatError, match=r"byte 108: identifier is b'TEST', expected b'EVTS'"):
        Buffer(one_string_table(b"x"), b"EVTS", where=100)
    with pytest.raises(FileFormatError, match="size prefix says"):
        Buffer(one_string_table(b"abc")[:-3], b"TEST", where=0)


TEXT_AT = 32
"""Where the string's bytes start in :func:`one_string_table`: after the size prefix, the root
offset and identifier, the vtable, the table and the string's length."""


def utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(st.binary(max_size=64), st.data())
def test_corrupt_buffers_raise_our_error_or_read_within_the_buffer(text: bytes, data: st.DataObject) -> None:
    blob = bytearray(one_string_table(text))
    assert blob[TEXT_AT : TEXT_AT + len(text)] == text
    changed = set()
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(blob) - 1))
        blob[where] = data.draw(st.integers(0, 255))
        changed.add(where)
    try:
        buffer = Buffer(bytes(blob), b"TEST", where=1000)
        got = buffer.string(buffer.root, 0)
    except FileFormatError as err:  # names a file offset inside the buffer (or just past its end)
        offset = int(re.match(r"byte (\d+): ", str(err)).group(1))  # type: ignore[union-attr]
        assert 1000 <= offset <= 1000 + len(blob) + 4
        if min(changed) >= TEXT_AT:  # the layout intact: only text that is not UTF-8 fails
            assert not utf8(bytes(blob[TEXT_AT : TEXT_AT + len(text)]))
        return
    start, length = buffer.vector(buffer.root, 0, 1)
    assert start + length <= len(buffer.data) <= len(blob)  # what it read lies inside the buffer
    assert got.encode("utf-8") == bytes(buffer.data[start : start + length])
    if min(changed) >= TEXT_AT:  # the layout intact: the string as the bytes now say
        assert got.encode("utf-8") == bytes(blob[TEXT_AT : TEXT_AT + len(text)])


def test_errors_name_the_file_when_given() -> None:
    with pytest.raises(
        FileFormatError, match=r"^rec\.aedat4: byte 108: identifier is b'TEST', expected b'EVTS'$"
    ):
        Buffer(one_string_table(b"x"), b"EVTS", where=100, path="rec.aedat4")
    buffer = Buffer(one_string_table(b"\xff"), b"TEST", where=100, path="rec.aedat4")  # not UTF-8
    with pytest.raises(FileFormatError, match=rf"^rec\.aedat4: byte {100 + TEXT_AT}: string is not UTF-8"):
        buffer.string(buffer.root, 0)  # an error after the buffer is made names the file too
    with pytest.raises(FileFormatError, match=r"^byte 100: size prefix says"):
        Buffer(one_string_table(b"abc")[:-3], b"TEST", where=100)  # no path given: the offset alone
