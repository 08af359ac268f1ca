"""Tests of exporters/atomic.py: all or nothing."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from eventcode import Events
from eventcode.errors import ExportError
from exporters import aedat4, hdf5
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


@pytest.mark.parametrize("module", [aedat4, hdf5])
def test_writers_accept_events_only_inside_their_block(module: ModuleType, tmp_path: Path) -> None:
    events = Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(2, 1))
    writer = module.Writer(tmp_path / "stream", sensor_size=(2, 1))
    with pytest.raises(ExportError, match="needs an open writer"):
        writer.write(events)
    with writer:
        writer.write(events)
    with pytest.raises(ExportError, match="needs an open writer"):  # closed: our error, not an OS one
        writer.write(events)
    assert module.read(tmp_path / "stream") == events


@pytest.mark.parametrize("module", [aedat4, hdf5])
def test_a_writer_whose_block_fails_leaves_no_file(module: ModuleType, tmp_path: Path) -> None:
    target = tmp_path / "stream"
    with pytest.raises(ExportError, match="do not fit"), module.Writer(target, sensor_size=(2, 1)) as writer:
        writer.write(Events(t=[1], x=[0], y=[0], p=[1], sensor_size=(3, 1)))
    assert list(tmp_path.iterdir()) == []
