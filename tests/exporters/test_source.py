"""Readers open regular files only: a FIFO, a socket or a directory named like an event file
raises our error at once instead of waiting forever for a writer (issue 19)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

import exporters
from eventcode.cli import main
from eventcode.errors import FileFormatError
from exporters import source


def test_a_regular_file_opens(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    with source.open_regular(path) as file:
        assert file.read() == b"abc"
    source.require_regular(path)


@pytest.mark.timeout(10)
def test_other_kinds_of_file_raise(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileFormatError, match="FIFO"):
        source.open_regular(fifo)
    with pytest.raises(FileFormatError, match="directory"):
        source.open_regular(tmp_path)
    with pytest.raises(FileFormatError, match="directory"):
        source.require_regular(tmp_path)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(FileFormatError, match="socket"):
            source.require_regular(tmp_path / "sock")
    with pytest.raises(FileNotFoundError):
        source.open_regular(tmp_path / "missing")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", exporters.formats(), ids=lambda fmt: fmt.name)
def test_every_reader_refuses_a_fifo_named_like_its_files(tmp_path: Path, fmt: exporters.Format) -> None:
    path = tmp_path / f"stream{fmt.suffixes[0]}"
    os.mkfifo(path)
    with pytest.raises(FileFormatError, match="FIFO"):
        fmt.module.read(path)
    with pytest.raises(FileFormatError, match="FIFO"):
        fmt.module.info(path)
    with pytest.raises(FileFormatError, match="FIFO"):
        next(iter(fmt.module.read_chunks(path)))
    with pytest.raises(FileFormatError, match="FIFO"):
        exporters.read(path)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", [["info"], ["convert", "--format", "hdf5"]])
def test_the_commands_refuse_a_fifo_in_one_line(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "x.aedat4"
    os.mkfifo(path)
    target = [str(tmp_path / "out.h5"), *command[1:]] if len(command) > 1 else []
    arguments = [command[0], str(path), *target]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 1
    assert "FIFO" in result.output
    assert not (tmp_path / "out.h5").exists()
