"""Tests of eventcode/cli.py: the ``eventcode`` command end to end, through a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exporters import aedat4, hdf5

pytest.importorskip("matplotlib", reason="the demo and view need the plot extra")


def eventcode(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "eventcode.cli", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess, text: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no traceback
    assert lines[0].startswith("eventcode: error:")
    assert text in lines[0]


def test_demo_writes_checks_plots_and_tabulates(tmp_path: Path) -> None:
    result = eventcode("demo", "--out", tmp_path / "demo", "--digits", "4", "--num-steps", "12")
    assert result.returncode == 0, result.stderr
    for code in ("rate", "latency", "delta"):
        assert any(line.split()[:1] == [code] for line in result.stdout.splitlines())
        assert (tmp_path / "demo" / f"{code}_raster.png").stat().st_size > 1000
        assert hdf5.info(tmp_path / "demo" / f"{code}.h5")["samples"] == 4
        assert len(list((tmp_path / "demo").glob(f"{code}_*.aedat4"))) == 4
    assert (tmp_path / "demo" / "delta.gif").stat().st_size > 1000


def test_info_json_on_a_real_recording(shared: Path) -> None:
    path = shared / "data/real/aedat4/tonic_sample.aedat4"
    result = eventcode("info", "--json", path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    truth = json.loads((shared / "data/real/manifest.json").read_text())["files"]
    truth = next(f for f in truth if f["path"] == "aedat4/tonic_sample.aedat4")["summary"]
    assert summary["events"] == truth["events"]
    assert summary["sensor_size"] == [*truth["sensor_resolution"], 2]
    assert (summary["first_t"], summary["last_t"]) == (truth["t_first_us"], truth["t_last_us"])
    assert summary["on_fraction"] == pytest.approx(truth["on"] / truth["events"])
    assert summary["compression"] == "LZ4"
    assert summary["streams"]["2"]["type"] == "IMUS"
    assert summary["event_rate_unit"] == "events/s"


def test_convert_streams_both_ways_and_reads_back_equal(shared: Path, tmp_path: Path) -> None:
    source = shared / "data/real/aedat4/tonic_sample.aedat4"
    assert (
        eventcode(
            "convert", source, tmp_path / "s.h5", "--compression", "gzip", "--chunk-events", "30000"
        ).returncode
        == 0
    )
    assert eventcode("convert", tmp_path / "s.h5", tmp_path / "back.aedat4").returncode == 0
    assert aedat4.read(tmp_path / "back.aedat4") == aedat4.read(source)
    assert hdf5.info(tmp_path / "s.h5")["compression"] == "gzip"


def test_encode_mnist_and_arrays(shared: Path, tmp_path: Path) -> None:
    mnist = shared / "data/mnist/t10k-images-idx3-ubyte.gz"
    result = eventcode(
        "encode", "--code", "rate", "--num-steps", "10", "--limit", "3", mnist, tmp_path / "d_{}.aedat4"
    )
    assert result.returncode == 0, result.stderr
    assert [aedat4.read(tmp_path / f"d_{b}.aedat4").num_steps for b in range(3)] == [10, 10, 10]
    np.save(tmp_path / "images.npy", np.random.default_rng(0).random((5, 1, 6, 6)))
    result = eventcode(
        "encode",
        "--code",
        "latency",
        "--num-steps",
        "8",
        "--option",
        "normalize=true",
        tmp_path / "images.npy",
        tmp_path / "lat.h5",
    )
    assert result.returncode == 0, result.stderr
    meta = hdf5.info(tmp_path / "lat.h5")
    assert (meta["samples"], meta["events"], meta["encoding"]["code"]) == (5, 5 * 36, "latency")


def test_view_draws_pictures(tmp_path: Path) -> None:
    PIL = pytest.importorskip("PIL.Image")
    np.save(tmp_path / "images.npy", np.random.default_rng(1).random((2, 1, 9, 9)))
    assert (
        eventcode(
            "encode", "--code", "rate", "--num-steps", "6", tmp_path / "images.npy", tmp_path / "r.h5"
        ).returncode
        == 0
    )
    assert eventcode("view", tmp_path / "r.h5", "--out", tmp_path / "r.png", "--sample", "1").returncode == 0
    assert eventcode("view", tmp_path / "r.h5", "--out", tmp_path / "r.gif").returncode == 0
    assert (
        eventcode("view", tmp_path / "r.h5", "--out", tmp_path / "raster.png", "--kind", "raster").returncode
        == 0
    )
    with PIL.open(tmp_path / "r.gif") as gif:
        assert gif.n_frames == 6
    with PIL.open(tmp_path / "r.png") as png:
        assert min(png.size) > 100


def test_errors_are_one_line(shared: Path, tmp_path: Path) -> None:
    for folder in ("evt3", "aedat2", "es"):
        path = next((shared / "data/real" / folder).iterdir())
        one_line_error(eventcode("info", path), "is not supported yet")
        one_line_error(eventcode("convert", path, tmp_path / "x.h5"), "is not supported yet")
    broken = tmp_path / "broken.aedat4"
    broken.write_bytes((shared / "data/real/aedat4/tonic_sample.aedat4").read_bytes()[:5000])
    one_line_error(eventcode("info", broken), "byte")
    missing = eventcode("info", tmp_path / "missing.aedat4")
    assert missing.returncode != 0
    assert "does not exist" in missing.stderr
    debug = eventcode("--debug", "info", broken)
    assert "Traceback" in debug.stderr
