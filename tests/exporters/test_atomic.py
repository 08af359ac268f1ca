"""Tests of exporters/atomic.py: all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventcode.errors import ExportError
from exporters.atomic import atomic_path


def write_and_fail(path: Path, data: bytes) -> None:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
        raise KeyboardInterrupt  # even a BaseException leaves nothing half-written


def test_success_replaces_and_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_path(target) as temporary:
        assert temporary.parent == tmp_path
        temporary.write_bytes(b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(KeyboardInterrupt):
        write_and_fail(target, b"second, half")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_overwrite_false_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"keep")
    with pytest.raises(ExportError, match="exists"), atomic_path(target, overwrite=False):
        pass
    assert target.read_bytes() == b"keep"
