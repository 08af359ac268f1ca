"""Tests of exporters/__init__.py: the format registry and read/write dispatch."""

from __future__ import annotations

from pathlib import Path

import pytest

import exporters
from eventcode import Events
from eventcode.errors import ExportError

EVENTS = Events(t=[0, 4, 9], x=[1, 2, 0], y=[0, 1, 1], p=[1, 0, 1], sensor_size=(3, 2))


def test_formats_lists_the_registered_modules() -> None:
    aedat4, hdf5 = exporters.formats()
    assert (aedat4.name, aedat4.suffixes, aedat4.magic) == ("aedat4", (".aedat4",), b"#!AER-DAT4.0\r\n")
    assert (hdf5.name, hdf5.suffixes, hdf5.magic) == ("hdf5", (".h5", ".hdf5"), b"\x89HDF\r\n\x1a\n")


def test_dispatch_by_suffix_and_options(tmp_path: Path) -> None:
    path = tmp_path / "a.AEDAT4"
    exporters.write(path, EVENTS, compression="zstd")
    assert exporters.read(path) == EVENTS
    assert exporters.read(path, t_start=4) == EVENTS.time_slice(4, None)


def test_dispatch_by_magic_bytes_or_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "recording.bin"
    exporters.write(path, EVENTS, format="aedat4")
    assert exporters.detect(path).name == "aedat4"
    assert exporters.read(path) == EVENTS


def test_the_suffix_decides_over_an_old_file_of_another_format(tmp_path: Path) -> None:
    path = tmp_path / "stream.h5"
    exporters.write(path, EVENTS, format="aedat4")  # an AEDAT 4.0 file misnamed .h5
    exporters.write(path, EVENTS)  # replaced by what the suffix names, not by the old bytes
    assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert exporters.read(path) == EVENTS


def test_unknown_formats_are_named(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"suffix '\.xyz'"):
        exporters.write(tmp_path / "a.xyz", EVENTS)
    (tmp_path / "b.xyz").write_bytes(b"not events")
    with pytest.raises(ExportError, match=r"known: aedat4 .*, hdf5"):
        exporters.read(tmp_path / "b.xyz")
    with pytest.raises(ExportError, match="unknown format 'evt3'"):
        exporters.read(tmp_path / "b.xyz", format="evt3")


@pytest.mark.parametrize(
    ("folder", "name"),
    [("aedat2", "AEDAT 2.0"), ("evt2", "EVT"), ("evt3", "EVT"), ("dat", "DAT"), ("es", "Event Stream")],
)
def test_formats_not_supported_yet_say_so(shared: Path, folder: str, name: str) -> None:
    for path in (shared / "data/real" / folder).iterdir():
        with pytest.raises(ExportError, match=rf"{name}.* is not supported yet"):
            exporters.read(path)


@pytest.mark.parametrize("dt_us", [0, -5, 2.5, True, "10"])
@pytest.mark.parametrize("suffix", [".aedat4", ".h5"])
def test_every_writer_refuses_a_step_that_is_not_a_positive_whole_microsecond(
    dt_us: object, suffix: str, tmp_path: Path
) -> None:
    steps = Events(t=[0, 1], x=[0, 1], y=[0, 0], p=[1, 0], shape=(1, 2), num_steps=2)
    with pytest.raises(OptionError, match="dt_us must be a positive whole number"):
        exporters.write(tmp_path / f"a{suffix}", steps, dt_us=dt_us)
    assert list(tmp_path.iterdir()) == []
