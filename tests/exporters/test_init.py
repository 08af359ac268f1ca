"""Tests of exporters/__init__.py: the format registry and read/write dispatch."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

import exporters
from eventcode import Events
from eventcode.errors import ExportError, OptionError

EVENTS = Events(t=[0, 4, 9], x=[1, 2, 0], y=[0, 1, 1], p=[1, 0, 1], sensor_size=(3, 2))


def test_formats_lists_the_registered_modules() -> None:
    aedat4, hdf5, nir, aedat2, aedat3, dat, es, evt, nmnist = exporters.formats()
    assert (aedat4.name, aedat4.suffixes, aedat4.batched) == ("aedat4", (".aedat4",), False)
    assert (hdf5.name, hdf5.suffixes, hdf5.batched) == ("hdf5", (".h5", ".hdf5"), True)
    assert (nir.name, nir.suffixes, nir.batched) == ("nir", (".nir",), True)
    assert (aedat2.name, aedat2.suffixes, aedat2.batched) == ("aedat2", (".aedat", ".aedat2"), False)
    assert (aedat3.name, aedat3.suffixes, aedat3.batched) == ("aedat3", (".aedat",), False)
    assert (es.name, es.suffixes, nmnist.name, nmnist.suffixes) == ("es", (".es",), "nmnist", (".bin",))
    assert (dat.name, dat.suffixes, evt.name, evt.suffixes) == ("dat", (".dat",), "evt", (".raw", ".evt"))


def test_every_real_recording_goes_to_its_format_by_its_bytes(shared: Path) -> None:
    formats = {"aedat2": "aedat2", "aedat4": "aedat4", "dat": "dat", "es": "es", "evt2": "evt", "evt3": "evt"}
    formats["nmnist_bin"] = "nmnist"
    for folder, name in formats.items():
        for path in (shared / "data/real" / folder).iterdir():
            assert exporters.for_reading(path).name == name, path.name


def test_aedat_files_go_by_their_magic_line_and_writing_needs_the_version(
    shared: Path, tmp_path: Path
) -> None:
    for path in (shared / "data/real/aedat2").iterdir():
        assert exporters.for_reading(path).name == "aedat2", path.name
    with pytest.raises(ExportError, match=r"give format='aedat2' .* or format='aedat3'"):
        exporters.write(tmp_path / "a.aedat", EVENTS)
    for name, options in (("aedat2", {"camera": "DVS128"}), ("aedat3", {})):
        exporters.write(tmp_path / f"{name}.aedat", EVENTS, format=name, **options)
        assert exporters.for_reading(tmp_path / f"{name}.aedat").name == name
        assert exporters.read(tmp_path / f"{name}.aedat") == EVENTS
    exporters.write(tmp_path / "b.aedat2", EVENTS, camera="DVS128")  # jAER's newer suffix: AEDAT 2.0 alone
    assert exporters.read(tmp_path / "b.aedat2") == EVENTS


def test_dispatch_by_suffix_and_options(tmp_path: Path) -> None:
    path = tmp_path / "a.AEDAT4"
    exporters.write(path, EVENTS, compression="zstd")
    assert exporters.read(path) == EVENTS
    assert exporters.read(path, t_start=4) == EVENTS.time_slice(4, None)


def test_dispatch_by_magic_bytes_or_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "recording.bin"
    exporters.write(path, EVENTS, format="aedat4")
    assert exporters.for_reading(path).name == "aedat4"
    assert exporters.for_writing(path).name == "nmnist"  # writing goes by the suffix, never by the old file
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


@pytest.mark.parametrize("dt_us", [0, -5, 2.5, True, "10"])
@pytest.mark.parametrize("suffix", [".aedat4", ".h5"])
def test_every_writer_refuses_a_step_that_is_not_a_positive_whole_microsecond(
    dt_us: object, suffix: str, tmp_path: Path
) -> None:
    steps = Events(t=[0, 1], x=[0, 1], y=[0, 0], p=[1, 0], shape=(1, 2), num_steps=2)
    with pytest.raises(OptionError, match="dt_us must be a positive whole number"):
        exporters.write(tmp_path / f"a{suffix}", steps, dt_us=dt_us)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- a new format: one module, one call
def toy_format() -> types.ModuleType:
    """A complete format in one module: text lines ``t,x,y,p`` under a ``#toy-events W H`` header."""
    from eventcode.tonic import from_tonic
    from exporters.atomic import AtomicWriter
    from exporters.contract import FileInfo, Stream

    def sniff(head: bytes) -> float:
        return 1.0 if head.startswith(b"#toy-events ") else 0.0

    class Writer(AtomicWriter):
        def __init__(self, path, *, shape, polarities=2, overwrite=True, **_ignored) -> None:
            super().__init__(path, tuple(shape), overwrite, polarities)

        def _open(self, temporary: Path):
            file = open(temporary, "w")  # noqa: SIM115 - closed by AtomicWriter
            file.write(f"#toy-events {self._shape[-1]} {self._shape[0]}\n")
            return file

        def _finish(self) -> None:
            pass

        def write(self, events: Events) -> None:
            self._check(events)
            rows = zip(*(column.tolist() for column in (events.t, events.x, events.y, events.p)), strict=True)
            self._file.writelines(f"{t},{x},{y},{int(p)}\n" for t, x, y, p in rows)

    def write(path, events, *, compression="none", dt_us=None, overwrite=True) -> None:
        with Writer(path, shape=events.shape, overwrite=overwrite) as writer:
            writer.write(events)

    def read_columns(path, chunk_events=1 << 20, *, t_start=None, t_end=None):
        rows = np.loadtxt(path, dtype=np.int64, delimiter=",", comments="#", ndmin=2).reshape(-1, 4)
        yield {name: rows[:, i] for i, name in enumerate("txyp")}

    def read(path, *, sample=None, t_start=None, t_end=None) -> Events:
        width, height = (int(v) for v in Path(path).read_text().split("\n", 1)[0].split()[1:])
        columns = next(read_columns(path))
        array = np.zeros(len(columns["t"]), dtype=[(k, "<i8") for k in "txyp"])
        for name, column in columns.items():
            array[name] = column
        return from_tonic(array, sensor_size=(width, height)).time_slice(t_start, t_end)

    def read_chunks(path, chunk_events=1 << 20, *, t_start=None, t_end=None):
        yield read(path, t_start=t_start, t_end=t_end)

    def info(path) -> FileInfo:
        events = read(path)
        first, last = (int(events.t[0]), int(events.t[-1])) if len(events) else (None, None)
        size = events.sensor_size[:2]
        stream = Stream(0, "EVTS", "events", size, 1, len(events), first, last)
        return FileInfo(
            Path(path),
            "toy",
            "none",
            events.sensor_size,
            events.shape,
            len(events),
            1,
            "us",
            first,
            last,
            None,
            None,
            2,
            (stream,),
        )

    module = types.ModuleType("toy")
    constants = {
        "NAME": "toy",
        "DESCRIPTION": "toy text events",
        "SUFFIXES": (".toy",),
        "BATCHED": False,
        "COMPRESSIONS": {"none": "none"},
        "DEFAULT_COMPRESSION": "none",
    }
    functions = {
        "sniff": sniff,
        "read": read,
        "read_chunks": read_chunks,
        "read_columns": read_columns,
        "write": write,
        "info": info,
        "Writer": Writer,
    }
    vars(module).update(constants | functions)
    return module


def test_a_new_format_is_one_module_and_one_register_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from eventcode import cli
    from exporters import hdf5

    monkeypatch.setattr(exporters, "_REGISTRY", dict(exporters._REGISTRY))  # undone after the test
    exporters.register(toy_format())
    exporters.write(tmp_path / "a.toy", EVENTS)
    assert exporters.read(tmp_path / "a.toy") == EVENTS
    assert exporters.info(tmp_path / "a.toy").events == len(EVENTS)
    runner = CliRunner()
    shown = runner.invoke(cli.main, ["info", str(tmp_path / "a.toy")])
    assert shown.exit_code == 0, shown.output
    assert "toy" in shown.output
    assert "3 x 2 pixels" in shown.output
    assert (
        runner.invoke(cli.main, ["convert", str(tmp_path / "a.toy"), str(tmp_path / "b.h5")]).exit_code == 0
    )
    assert hdf5.read(tmp_path / "b.h5") == EVENTS
    assert (
        runner.invoke(cli.main, ["convert", str(tmp_path / "b.h5"), str(tmp_path / "c.toy")]).exit_code == 0
    )
    assert exporters.read(tmp_path / "c.toy") == EVENTS
    drawn = runner.invoke(cli.main, ["view", str(tmp_path / "c.toy"), "--out", str(tmp_path / "c.png")])
    assert drawn.exit_code == 0, drawn.output
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_the_most_confident_sniff_wins_and_the_suffix_breaks_ties(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exporters, "_REGISTRY", dict(exporters._REGISTRY))  # undone after the test
    shared_header: dict[str, exporters.Format] = {}
    for name, confidence in (("one", 0.5), ("two", 0.5), ("sure", 0.0)):
        module = toy_format()
        vars(module).update(NAME=name, SUFFIXES=(f".{name}",), sniff=lambda head, c=confidence: c)
        shared_header[name] = exporters.register(module)
    (tmp_path / "a.two").write_bytes(b"%shared text header")
    assert exporters.for_reading(tmp_path / "a.two") is shared_header["two"]  # a tie: the suffix decides
    (tmp_path / "a.one").write_bytes(b"%shared text header")
    assert exporters.for_reading(tmp_path / "a.one") is shared_header["one"]
    (tmp_path / "a.sure").write_bytes(b"%shared text header")  # nobody is sure of it, not even .sure's
    assert exporters.for_reading(tmp_path / "a.sure").name in ("one", "two")  # confidence beats the suffix


def test_a_suffix_two_formats_share_needs_format_to_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exporters, "_REGISTRY", dict(exporters._REGISTRY))  # undone after the test
    registered = {}
    for name in ("old", "new"):
        module = toy_format()
        vars(module).update(NAME=name, DESCRIPTION=f"{name} toy", SUFFIXES=(".shared",))
        registered[name] = exporters.register(module)
    with pytest.raises(ExportError, match=r"several formats; give format='old' \(old toy\) or format='new'"):
        exporters.write(tmp_path / "a.shared", EVENTS)
    assert list(tmp_path.iterdir()) == []
    exporters.write(tmp_path / "a.shared", EVENTS, format="new")
    assert exporters.for_writing(tmp_path / "b.shared", format="old") is registered["old"]
    assert exporters.read(tmp_path / "a.shared") == EVENTS
