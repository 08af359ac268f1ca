"""Tests of eventcode/cli.py: the ``eventcode`` command, through click's runner and subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

import eventcode
import exporters
from eventcode import Events, cli
from eventcode.cli import common, demo, encode
from eventcode.transforms import ENCODERS
from exporters import aedat4, hdf5

pytest.importorskip("matplotlib", reason="the demo and view need the plot extra")
Image = pytest.importorskip("PIL.Image")


def run(*arguments: object) -> Result:
    """``eventcode ARGUMENTS`` in this process, as a user's shell would run it."""
    return CliRunner().invoke(cli.main, [str(a) for a in arguments], catch_exceptions=False)


def one_line_error(result: Result, *texts: str) -> str:
    """Assert a non-zero exit with exactly one line on stderr, naming every text; return the line."""
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no traceback, no usage block
    assert lines[0].startswith("eventcode: error:"), lines[0]
    for text in texts:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def recording(shared: Path) -> Path:
    return shared / "data/real/aedat4/tonic_sample.aedat4"


@pytest.fixture(scope="module")
def truth(shared: Path) -> dict:
    files = json.loads((shared / "data/real/manifest.json").read_text())["files"]
    return next(f for f in files if f["path"] == "aedat4/tonic_sample.aedat4")["summary"]


def test_subcommands_of_python_m_eventcode_print_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eventcode", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert all(command in result.stdout for command in ("demo", "encode", "convert", "info", "view"))


@pytest.mark.parametrize(
    "arguments", [["--help"], ["emulate", "--help"], ["info", "RECORDING"], ["info", "--json", "H5"]]
)
def test_help_and_info_never_import_torch(arguments: list[str], recording: Path, tmp_path: Path) -> None:
    h5 = tmp_path / "d.h5"
    hdf5.write(h5, eventcode.rate(torch.rand(2, 1, 4, 4), num_steps=5), dt_us=10)
    arguments = [{"RECORDING": str(recording), "H5": str(h5)}.get(a, a) for a in arguments]
    script = (
        "import sys\nfrom eventcode.cli import main\n"
        f"try:\n    main({arguments!r})\nexcept SystemExit as end:\n    assert not end.code, end.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


def test_help_lists_every_choice_and_option() -> None:
    encode = run("encode", "--help").output
    assert "[delta|latency|rate]" in encode
    for name in ("zstd_high", "lz4_high", "gzip", "lzf", "blosc"):
        assert name in encode
    assert "[frame|raster|histogram|animation]" in run("view", "--help").output
    demo = run("demo", "--help").output
    assert "--out DIRECTORY" in demo
    assert "Folder for the files" in demo


def test_the_cli_knows_every_encoder_and_compression_name() -> None:
    assert set(encode.CODES) == set(ENCODERS)
    for names in (aedat4.COMPRESSIONS, hdf5.COMPRESSIONS):
        for name in set(names.values()):
            assert name in common.COMPRESSION_HELP


# ---------------------------------------------------------------------- convert and info
def test_info_lists_every_stream_and_counts_events_and_imu_apart(recording: Path, truth: dict) -> None:
    result = run("info", "--json", recording)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events"] == truth["events"]
    assert summary["sensor_size"] == [*truth["sensor_resolution"], 2]
    assert (summary["first_t"], summary["last_t"]) == (truth["t_first_us"], truth["t_last_us"])
    assert summary["on_fraction"] == pytest.approx(truth["on"] / truth["events"], abs=1e-4)
    assert summary["compression"] == "lz4"
    streams = {s["id"]: s for s in summary["streams"]}
    assert (streams[0]["kind"], streams[0]["records"]) == ("EVTS", truth["events"])
    assert (streams[2]["kind"], streams[2]["records"], streams[2]["unit"]) == ("IMUS", 475, "IMU samples")
    assert streams[3]["kind"] == "TRIG"
    duration = (truth["t_last_us"] - truth["t_first_us"]) / 1e6
    assert summary["duration_s"] == pytest.approx(duration, rel=1e-3)
    assert len(str(summary["event_rate_per_s"]).replace(".", "").strip("0")) <= 4  # rounded
    text = run("info", recording).stdout
    assert "475 IMU samples" in text
    assert f"{truth['events']:,} events" in text
    assert " s)" in text
    assert "events/s" in text


def test_convert_keeps_every_stream_and_the_compression(recording: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.aedat4"
    result = run("convert", recording, target)
    assert result.exit_code == 0, result.output
    assert "{}" not in result.stdout
    assert str(target) in result.stdout
    source, copy = aedat4.info(recording), aedat4.info(target)
    assert copy.compression == source.compression == "lz4"
    assert {s.id: (s.type, s.records) for s in copy.streams} == {
        s.id: (s.type, s.records) for s in source.streams
    }
    assert target.stat().st_size < 1.2 * recording.stat().st_size  # not decompressed: was 2x
    assert aedat4.read(target) == aedat4.read(recording)
    recompressed = tmp_path / "zstd.aedat4"
    assert run("convert", recording, recompressed, "--compression", "ZSTD-22").exit_code == 0
    assert aedat4.info(recompressed).compression == "zstd_high"
    assert next(s for s in aedat4.info(recompressed).streams if s.id == 2).records == 475


def test_convert_refuses_to_write_over_its_source(recording: Path, tmp_path: Path) -> None:
    source = tmp_path / "a.aedat4"
    source.write_bytes(recording.read_bytes())
    before = source.read_bytes()
    one_line_error(run("convert", source, source), "source file itself")
    os.link(source, tmp_path / "b.aedat4")
    one_line_error(run("convert", source, tmp_path / "b.aedat4"), "source file itself")
    assert source.read_bytes() == before


def test_convert_to_events_only_formats_counts_what_it_drops(recording: Path, tmp_path: Path) -> None:
    result = run("convert", recording, tmp_path / "a.h5")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("eventcode: warning:")]
    assert len(warning) == 1
    assert "475 IMU samples" in warning[0]
    assert "--events-only" in warning[0]
    quiet = run("convert", recording, tmp_path / "b.h5", "--events-only")
    assert quiet.exit_code == 0
    assert "warning" not in quiet.stderr
    assert hdf5.read(tmp_path / "b.h5") == aedat4.read(recording)


def test_convert_streams_both_ways_and_reads_back_equal(recording: Path, tmp_path: Path) -> None:
    assert (
        run(
            "convert",
            recording,
            tmp_path / "s.h5",
            "--compression",
            "GZIP",
            "--chunk-events",
            "30000",
            "--events-only",
        ).exit_code
        == 0
    )
    assert run("convert", tmp_path / "s.h5", tmp_path / "back.aedat4").exit_code == 0
    assert aedat4.read(tmp_path / "back.aedat4") == aedat4.read(recording)
    assert hdf5.info(tmp_path / "s.h5").compression == "gzip"


@pytest.mark.parametrize(
    "events",
    [
        Events(t=[5, 9, 12], x=[699, 3, 3], y=[0, 0, 0], p=[1, 1, 1], shape=(700,), polarities=1),  # SHD
        Events(t=[5, 9], x=[1, 2], y=[0, 1], p=[0, 0], sensor_size=(3, 2, 1)),
        Events(t=[5, 9], x=[1, 2], y=[0, 1], p=[1, 1], sensor_size=(3, 2), polarities=0),
        Events(t=[], x=[], y=[], p=[], sensor_size=(3, 2)),
    ],
    ids=["audio", "one polarity", "no polarity", "empty"],
)
def test_convert_keeps_the_sensor_of_any_kind_both_ways(events: Events, tmp_path: Path) -> None:
    hdf5.write(tmp_path / "a.h5", events)
    assert run("convert", tmp_path / "a.h5", tmp_path / "b.aedat4", "--chunk-events", "2").exit_code == 0
    assert aedat4.read(tmp_path / "b.aedat4") == events
    assert run("convert", tmp_path / "b.aedat4", tmp_path / "c.h5", "--chunk-events", "2").exit_code == 0
    assert hdf5.read(tmp_path / "c.h5") == events


def test_convert_salvages_a_truncated_file(recording: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.aedat4"
    data = recording.read_bytes()
    broken.write_bytes(data[: len(data) * 2 // 3])
    one_line_error(run("info", broken), "truncated")
    one_line_error(run("convert", broken, tmp_path / "x.h5"), "truncated")
    result = run("convert", broken, tmp_path / "saved.h5", "--salvage", "--events-only")
    assert result.exit_code == 0, result.output
    assert "bytes" in result.stderr
    assert "warning" in result.stderr
    saved, whole = hdf5.read(tmp_path / "saved.h5"), aedat4.read(recording)
    assert 0 < len(saved) < len(whole)
    for column in ("t", "x", "y", "p"):  # every complete packet: a prefix of the whole recording
        assert torch.equal(getattr(saved, column), getattr(whole, column)[: len(saved)])
    one_line_error(run("convert", tmp_path / "saved.h5", tmp_path / "y.h5", "--salvage"), "AEDAT 4.0")


# ---------------------------------------------------------------------- encode: options and inputs
def test_options_are_parsed_by_the_encoders_types(tmp_path: Path) -> None:
    images = np.random.default_rng(0).random((4, 1, 8, 8))
    np.save(tmp_path / "images.npy", images)
    prefix = ("encode", "--code", "latency", "--num-steps", "10", tmp_path / "images.npy")
    result = run(*prefix, tmp_path / "a.h5", "--option", "clip=False", "--option", "normalize=True")
    assert result.exit_code == 0, result.output
    expected = eventcode.latency(torch.from_numpy(images), num_steps=10, clip=False, normalize=True)
    assert hdf5.read(tmp_path / "a.h5") == expected
    encoding = hdf5.info(tmp_path / "a.h5").extras["encoding"]
    assert encoding["clip"] is False
    assert encoding["normalize"] is True
    for spelling in ("false", "0", "False"):
        assert encode.encoder_options("latency", (f"clip={spelling}",), {}) == {"clip": False}
    assert encode.encoder_options("latency", ("on_target=None", "tau=5"), {}) == {
        "on_target": None,
        "tau": 5.0,
    }
    assert encode.encoder_options("latency", ("normalize=per_sample",), {}) == {"normalize": "per_sample"}
    line = one_line_error(run(*prefix, tmp_path / "b.h5", "--option", "colour=red"), "colour")
    assert "valid keys" in line
    assert "tau" in line
    assert "normalize" in line
    one_line_error(run(*prefix, tmp_path / "b.h5", "--option", "tau=abc"), "tau", "number")
    one_line_error(run(*prefix, tmp_path / "b.h5", "--option", "clip=maybe"), "clip", "true/false")
    one_line_error(run(*prefix, tmp_path / "b.h5", "--option", "novalue"), "KEY=VALUE")
    assert not (tmp_path / "b.h5").exists()


def test_the_cli_encoder_option_names_match_the_signatures() -> None:
    for code, function in ENCODERS.items():
        hints = typing.get_type_hints(function)
        with pytest.raises(eventcode.errors.OptionError, match="valid keys") as error:
            encode.encoder_options(code, ("nothing=1",), {})
        for name in hints:
            if name not in eventcode.transforms.NOT_SETTABLE:
                assert name in str(error.value)


def test_integer_and_float_images_are_scaled_right(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (3, 1, 6, 6))
    for dtype in ("uint8", "int64", "int32", "int16"):
        np.save(tmp_path / f"{dtype}.npy", pixels.astype(dtype))
        result = run(
            "encode",
            "--code",
            "latency",
            "--num-steps",
            "8",
            tmp_path / f"{dtype}.npy",
            tmp_path / f"{dtype}.h5",
        )
        assert result.exit_code == 0, result.output
    reference = hdf5.read(tmp_path / "uint8.h5")
    assert len(reference) > 0
    for dtype in ("int64", "int32", "int16"):  # was: int64 divided by its maximum, 0 events
        assert hdf5.read(tmp_path / f"{dtype}.h5") == reference
    np.save(tmp_path / "float255.npy", pixels.astype(np.float64))
    one_line_error(
        run("encode", "--code", "latency", "--num-steps", "8", tmp_path / "float255.npy", tmp_path / "f.h5"),
        "outside [0, 1]",
        "--scale",
    )
    scaled = run(
        "encode",
        "--code",
        "latency",
        "--num-steps",
        "8",
        "--scale",
        "255",
        tmp_path / "float255.npy",
        tmp_path / "f.h5",
    )
    assert scaled.exit_code == 0, scaled.output
    assert hdf5.read(tmp_path / "f.h5") == reference
    np.save(tmp_path / "wide.npy", (pixels * 16).astype(np.int32))
    one_line_error(
        run("encode", "--code", "rate", "--num-steps", "4", tmp_path / "wide.npy", tmp_path / "w.h5"), "scale"
    )
    np.save(tmp_path / "u16.npy", (pixels * 257).astype(np.uint16))
    assert (
        run(
            "encode", "--code", "latency", "--num-steps", "8", tmp_path / "u16.npy", tmp_path / "u16.h5"
        ).exit_code
        == 0
    )
    assert hdf5.read(tmp_path / "u16.h5") == reference


def test_encode_of_wide_samples_keeps_every_address(tmp_path: Path) -> None:
    images = np.random.default_rng(2).random((2, 1, 70_000)).astype(np.float32)  # beyond uint16 too
    np.save(tmp_path / "wide.npy", images)
    result = run("encode", "--code", "rate", "--num-steps", "3", tmp_path / "wide.npy", tmp_path / "wide.h5")
    assert result.exit_code == 0, result.output
    expected = eventcode.rate(
        torch.from_numpy(images), num_steps=3, generator=torch.Generator().manual_seed(0)
    )
    events = hdf5.read(tmp_path / "wide.h5")
    assert events == expected
    assert (events.x.dtype, int(events.x.max())) == (torch.int32, 69_999)
    one_line_error(  # AEDAT 4.0 stores int16 addresses: refused, never wrapped
        run("encode", "--code", "rate", "--num-steps", "3", tmp_path / "wide.npy", tmp_path / "w{}.aedat4"),
        "beyond the int16 x and y of AEDAT 4",
        "write HDF5",
    )


@pytest.mark.parametrize(
    ("code", "arguments", "text"),
    [
        ("rate", ["--limit", "-2"], "--limit"),
        ("rate", ["--limit", "0"], "--limit"),
        ("rate", ["--dt-us", "0"], "--dt-us"),
        ("rate", ["--dt-us", "-3"], "--dt-us"),
        ("latency", ["--threshold", "-1"], "--threshold"),
        ("delta", ["--threshold", "-1"], "--threshold"),
        ("rate", ["--num-steps", "0"], "--num-steps"),
        ("rate", ["--compression", "brotli"], "brotli"),
        ("delta", ["--num-steps", "4"], "--num-steps"),
        ("delta", ["--option", "threshold=-1"], "threshold must be at least 0"),
        ("rate", ["--option", "num_steps=0"], "num_steps must be at least 1"),
    ],
)
def test_encode_refuses_bad_option_values_in_one_line(
    code: str, arguments: list[str], text: str, tmp_path: Path
) -> None:
    np.save(tmp_path / "images.npy", np.random.default_rng(0).random((3, 2, 4, 4)))
    steps = [] if code == "delta" or any("num" in a for a in arguments) else ["--num-steps", "4"]
    result = run("encode", "--code", code, *steps, *arguments, tmp_path / "images.npy", tmp_path / "out.h5")
    one_line_error(result, text)
    assert not (tmp_path / "out.h5").exists()


def test_encode_mnist_into_one_file_per_digit(shared: Path, tmp_path: Path) -> None:
    mnist = shared / "data/mnist/t10k-images-idx3-ubyte.gz"
    result = run(
        "encode", "--code", "rate", "--num-steps", "10", "--limit", "3", mnist, tmp_path / "d_{}.aedat4"
    )
    assert result.exit_code == 0, result.output
    assert "{}" not in result.stdout
    assert "d_0.aedat4" in result.stdout
    assert "d_2.aedat4" in result.stdout
    assert [aedat4.read(tmp_path / f"d_{b}.aedat4").num_steps for b in range(3)] == [10, 10, 10]
    assert aedat4.info(tmp_path / "d_0.aedat4").compression == "lz4"
    result = run(
        "encode",
        "--code",
        "rate",
        "--num-steps",
        "10",
        "--limit",
        "2",
        "--compression",
        "none",
        mnist,
        tmp_path / "n_{}.aedat4",
    )
    assert result.exit_code == 0
    assert aedat4.info(tmp_path / "n_1.aedat4").compression == "none"


# ---------------------------------------------------------------------- demo
@pytest.mark.parametrize(("option", "value"), [("--digits", "-1"), ("--digits", "0"), ("--num-steps", "0")])
def test_demo_refuses_bad_sizes_in_one_line(option: str, value: str, tmp_path: Path) -> None:
    one_line_error(run("demo", "--out", tmp_path / "demo", option, value), option)
    assert not (tmp_path / "demo").exists()


def test_demo_writes_checks_plots_and_reruns_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = run("demo", "--out", folder, "--digits", "4", "--num-steps", "12")
    assert result.exit_code == 0, result.output
    listed = json.loads((folder / "manifest.json").read_text())["files"]
    assert sorted(listed) == sorted(p.name for p in folder.iterdir() if p.name != "manifest.json")
    for code in ("rate", "latency", "delta"):
        assert any(line.split()[:1] == [code] for line in result.stdout.splitlines())
        for kind in ("raster", "frame"):
            with Image.open(folder / f"{code}_{kind}.png") as png:
                assert min(png.size) > 200
        assert hdf5.info(folder / f"{code}.h5").samples == 4
    assert (folder / "delta.gif").stat().st_size > 1000
    (folder / "mine.txt").write_text("keep")
    again = run("demo", "--out", folder, "--digits", "2", "--num-steps", "12")
    assert again.exit_code == 0, again.output
    assert len(list(folder.glob("rate_*.aedat4"))) == 2  # the 4 files of the last run are gone
    assert (folder / "mine.txt").read_text() == "keep"  # files it did not write are kept


def test_the_demo_digit_slides_in_without_wrapping() -> None:
    image = torch.zeros(1, 1, 4, 4)
    image[..., 3] = 1.0  # the right-most column lit
    frames = demo._sliding(image, 9)
    assert frames.shape == (9, 1, 1, 4, 4)
    assert frames[0].sum() == 0
    assert frames[-1].sum() == 0
    lit = [torch.nonzero(f[0, 0, 0]).flatten().tolist() for f in frames]
    assert lit[1:4] == [[0], [1], [2]]  # enters at the left edge and moves right, one column a frame here
    assert all(len(columns) <= 1 for columns in lit)  # never wraps around to the other side


# ---------------------------------------------------------------------- view
def test_view_of_a_real_recording_shows_the_scene(recording: Path, tmp_path: Path) -> None:
    assert run("view", recording, "--out", tmp_path / "frame.png").exit_code == 0
    with Image.open(tmp_path / "frame.png") as png:
        pixels = np.asarray(png.convert("RGB")).astype(int).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    backgrounds = colours[np.argsort(counts)[-2:]]  # the figure's and the image's own background
    distance = np.min([np.abs(pixels - colour).sum(axis=-1) for colour in backgrounds], axis=0)
    assert (distance > 60).mean() > 0.08  # was 0.0001: a few dim pixels on a black image
    assert run("view", recording, "--out", tmp_path / "h.png", "--kind", "histogram").exit_code == 0
    assert run("view", recording, "--out", tmp_path / "r.gif", "--n-time-bins", "5").exit_code == 0
    with Image.open(tmp_path / "r.gif") as gif:
        assert gif.n_frames == 5
    one_line_error(run("view", recording, "--out", tmp_path / "x.png", "--sample", "2"), "--sample")


def test_view_draws_a_batched_file(tmp_path: Path) -> None:
    np.save(tmp_path / "images.npy", np.random.default_rng(1).random((2, 1, 9, 9)))
    assert (
        run(
            "encode", "--code", "rate", "--num-steps", "6", tmp_path / "images.npy", tmp_path / "r.h5"
        ).exit_code
        == 0
    )
    assert run("view", tmp_path / "r.h5", "--out", tmp_path / "r.png", "--sample", "1").exit_code == 0
    assert run("view", tmp_path / "r.h5", "--out", tmp_path / "r.gif").exit_code == 0
    with Image.open(tmp_path / "r.gif") as gif:
        assert gif.n_frames == 6


def test_errors_are_one_line(shared: Path, tmp_path: Path) -> None:
    unknown = tmp_path / "notes.txt"
    unknown.write_text("not events")
    one_line_error(run("info", unknown), "no registered format recognizes")
    one_line_error(run("convert", unknown, tmp_path / "x.h5"), "no registered format recognizes")
    one_line_error(run("info", tmp_path / "missing.aedat4"), "does not exist")
    broken = tmp_path / "broken.aedat4"
    broken.write_bytes((shared / "data/real/aedat4/tonic_sample.aedat4").read_bytes()[:5000])
    debug = subprocess.run(
        [sys.executable, "-m", "eventcode", "--debug", "info", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" in debug.stderr


# ---------------------------------------------------------------------- export-sim
def digits_file(tmp_path: Path) -> tuple[Path, Events]:
    """Two rate-coded 4 x 4 'digits' of 12 steps of 500 us in an HDF5 file, and the events."""
    events = eventcode.rate(torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(3)), num_steps=12)
    path = tmp_path / "digits.h5"
    hdf5.write(path, events, dt_us=500)
    return path, events


def test_export_sim_writes_what_each_target_loads(tmp_path: Path) -> None:
    source, events = digits_file(tmp_path)
    run("export-sim", source, tmp_path / "in.json", "--to", "nest")
    params = json.loads((tmp_path / "in.json").read_text())
    assert len(params) == 2 * 16
    run("export-sim", source, tmp_path / "in.npz", "--to", "brian2")
    with np.load(tmp_path / "in.npz") as brian:
        assert int(brian["n"]) == 32
        indices, seconds = brian["indices"], brian["times_s"]
    run("export-sim", source, tmp_path / "lava.npy", "--to", "lava", "--duplicates", "keep")
    raster = np.load(tmp_path / "lava.npy")
    run("export-sim", source, tmp_path / "spikes.npy", "--to", "spikes", "--offset", "0")
    spikes = np.load(tmp_path / "spikes.npy")
    # Each file against the events themselves: sample b's pixel (y, x) is neuron b * 16 + 4 y + x
    neuron = (events.sample_ids() * 16 + events.y.long() * 4 + events.x.long()).numpy()
    step = events.t.numpy()
    for n in range(32):
        expected = sorted(((step[neuron == n] + 1) * 0.5).tolist())  # step k at (k + 1) * 0.5 ms
        assert params[n]["spike_times"] == pytest.approx(expected)
    assert sorted(zip(indices.tolist(), seconds.tolist(), strict=True)) == sorted(
        zip(neuron.tolist(), ((step + 1) * 500 / 1e6).tolist(), strict=True)  # correctly rounded seconds
    )
    expected_raster = np.zeros((32, 12), dtype=np.int64)
    np.add.at(expected_raster, (neuron, step), 1)
    assert np.array_equal(raster, expected_raster)
    assert sorted(zip(spikes["neuron"].tolist(), spikes["t"].tolist(), strict=True)) == sorted(
        zip(neuron.tolist(), (step * 0.5).tolist(), strict=True)
    )


def test_export_sim_xylo_takes_16_channels_and_says_what_to_do(tmp_path: Path) -> None:
    source = digits_file(tmp_path)[0]
    one_line_error(
        run("export-sim", source, tmp_path / "x.npy", "--to", "xylo"), "at most 16 input channels", "32"
    )
    result = run("export-sim", source, tmp_path / "x.npy", "--to", "xylo", "--no-limits")
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "x.npy").shape == (12, 32)


def test_export_sim_refuses_a_wrong_suffix_and_microseconds_without_a_row_width(tmp_path: Path) -> None:
    source, events = digits_file(tmp_path)
    one_line_error(
        run("export-sim", source, tmp_path / "in.npy", "--to", "nest"), "writes a .json file", "in.json"
    )
    us = tmp_path / "us.h5"
    hdf5.write(us, events.to_us(dt_us=500))
    one_line_error(run("export-sim", us, tmp_path / "l.npy", "--to", "lava"), "need dt_us")
    assert (
        run(
            "export-sim", us, tmp_path / "l.npy", "--to", "lava", "--dt-us", "500", "--duplicates", "keep"
        ).exit_code
        == 0
    )


# ---------------------------------------------------------------------- AEDAT 2.0 and 3.1
def test_info_convert_and_view_of_a_davis240_aedat2_recording(shared: Path, tmp_path: Path) -> None:
    path = shared / "data/real/aedat2/pyaedattools_IMU_translBoxes.aedat"
    files = json.loads((shared / "data/real/manifest.json").read_text())["files"]
    truth = next(f for f in files if f["path"] == "aedat2/pyaedattools_IMU_translBoxes.aedat")
    expected = truth["readers"]["spec-numpy (AedatTools/jAER bit layout)"]
    summary = json.loads(run("info", "--json", path).stdout)
    assert (summary["format"], summary["events"]) == ("aedat2", expected["events"])
    assert (summary["first_t"], summary["last_t"]) == (expected["t_first_us"], expected["t_last_us"])
    assert summary["on_fraction"] == round(expected["on"] / expected["events"], 4)
    result = run("convert", path, tmp_path / "boxes.h5")
    assert result.exit_code == 0, result.output
    assert "left out 33837 words that are not DVS events (33837 imu)" in result.stderr  # counted, once
    back = hdf5.read(tmp_path / "boxes.h5")
    assert (len(back), back.sensor_size) == (expected["events"], (240, 180, 2))
    assert (int(back.x.max()), int(back.y.max())) == (expected["x_max"], expected["y_max"])
    one_line_error(run("convert", tmp_path / "boxes.h5", tmp_path / "boxes.aedat"), "format='aedat2'")
    for name in ("aedat2", "aedat3"):
        written = tmp_path / f"boxes_{name}.aedat"
        assert run("convert", tmp_path / "boxes.h5", written, "--format", name).exit_code == 0
        assert exporters.read(written) == back
    drawn = run("view", path, "--out", tmp_path / "boxes.png")
    assert drawn.exit_code == 0, drawn.output
    assert np.asarray(Image.open(tmp_path / "boxes.png").convert("L")).std() > 5  # a scene, not a blank


def test_convert_into_aedat2_takes_the_camera_whose_layout_holds_the_sensor(tmp_path: Path) -> None:
    source, events = digits_file(tmp_path)  # 4 x 4 pixels: no camera has that sensor
    one_line_error(run("convert", source, tmp_path / "d_{}.aedat", "--format", "aedat2"), "camera=")
    result = run("convert", source, tmp_path / "d_{}.aedat", "--format", "aedat2", "--camera", "DVS128")
    assert result.exit_code == 0, result.output
    for b in range(events.num_samples):
        assert exporters.read(tmp_path / f"d_{b}.aedat") == events[b]
    one_line_error(
        run("convert", source, tmp_path / "d.h5", "--camera", "DVS128"), "--camera is for AEDAT 2.0"
    )


@pytest.mark.parametrize("folder", ["evt2", "evt3", "dat", "es", "nmnist_bin", "aedat2"])
def test_every_camera_format_converts_to_hdf5_and_back_streaming(
    shared: Path, tmp_path: Path, folder: str
) -> None:
    files = json.loads((shared / "data/real/manifest.json").read_text())["files"]
    for path in sorted((shared / "data/real" / folder).iterdir()):
        truth = next(f for f in files if f["path"] == f"{folder}/{path.name}")["summary"]
        options = ["--chunk-events", "10000"]
        result = run("convert", path, tmp_path / "out.h5", *options)
        assert result.exit_code == 0, result.output
        back = hdf5.read(tmp_path / "out.h5")
        assert len(back) == truth["events"], path.name
        if len(back):
            assert (int(back.t[0]), int(back.t[-1])) == (truth["t_first_us"], truth["t_last_us"])
            assert int(back.p.sum()) == truth["on"]
        assert json.loads(run("info", "--json", path).stdout)["events"] == truth["events"]


# ---------------------------------------------------------------------- emulate
EDGE_FPS = 30


@pytest.fixture(scope="module")
def edge_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 64 x 48 edge moving right for 12 frames at 30 fps as a lossless .mkv (FFV1, grey: the
    frames exactly), a lossy .mp4 (H.264, yuv420p) and a folder of PNGs."""
    av = pytest.importorskip("av")
    from eventcode.dvs import scenes

    folder = tmp_path_factory.mktemp("edge")
    frames = scenes.moving_edge(width=64, height=48, frames=12, fps=EDGE_FPS)[0].numpy()
    for name, codec, pix_fmt in (("edge.mkv", "ffv1", "gray"), ("edge.mp4", "libx264", "yuv420p")):
        with av.open(str(folder / name), "w") as container:
            stream = container.add_stream(codec, rate=EDGE_FPS)
            stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
            for frame in frames:
                picture = av.VideoFrame.from_ndarray(frame, format="gray").reformat(format=pix_fmt)
                container.mux(stream.encode(picture))
            container.mux(stream.encode())
    (folder / "pngs").mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / "pngs" / f"{i}.png")
    return {"mkv": folder / "edge.mkv", "mp4": folder / "edge.mp4", "pngs": folder / "pngs"}


EMULATE_OPTIONS = {  # CLI options and the keyword arguments of eventcode.dvs.emulate they stand for
    "defaults": ([], {}),
    "model": (
        [
            "--pos-threshold",
            "0.25",
            "--neg-threshold",
            "0.3",
            "--sigma-threshold",
            "0.05",
            "--cutoff-hz",
            "200",
            "--leak-rate-hz",
            "2",
            "--shot-noise-rate-hz",
            "5",
            "--refractory-period-us",
            "500",
        ],
        {
            "pos_threshold": 0.25,
            "neg_threshold": 0.3,
            "sigma_threshold": 0.05,
            "cutoff_hz": 200.0,
            "leak_rate_hz": 2.0,
            "shot_noise_rate_hz": 5.0,
            "refractory_period_us": 500,
        },
    ),
    "linspace": (
        ["--timing", "linspace", "--shot-noise-rate-hz", "5"],
        {"timing": "linspace", "shot_noise_rate_hz": 5.0},
    ),
}


@pytest.mark.parametrize(
    ("video", "target", "formatting"),
    [
        ("mkv", "e.aedat4", []),
        ("mp4", "e.h5", []),
        ("mkv", "e.hdf5", ["--compression", "LZF"]),
        ("mp4", "e.aedat", ["--format", "aedat2", "--camera", "DVS128"]),
    ],
)
@pytest.mark.parametrize("options", list(EMULATE_OPTIONS))
def test_emulate_writes_exactly_the_events_of_the_library(
    edge_videos: dict[str, Path], tmp_path: Path, video: str, target: str, formatting: list[str], options: str
) -> None:
    from eventcode.dvs import emulate

    arguments, keywords = EMULATE_OPTIONS[options]
    source, path = edge_videos[video], tmp_path / target
    result = run("emulate", source, path, "--seed", "7", "--chunk-frames", "5", *arguments, *formatting)
    assert result.exit_code == 0, result.output
    events = exporters.read(path)
    assert events == emulate(source, seed=7, **keywords)  # in one chunk of 64: the same events
    assert events.sensor_size == (64, 48, 2)
    assert len(events) > 1000
    assert bool((events.t.diff() >= 0).all())
    assert 0 < int(events.t[-1]) <= 11 * 1e6 / EDGE_FPS + 1000
    name = exporters.for_writing(path, formatting[1] if formatting[:1] == ["--format"] else None).name
    line = f"emulated {source} (12 frames, 64x48) to {path} ({name})"
    assert result.stdout == f"{line}: {len(events):,} events (seed 7)\n"
    if "--compression" in formatting:
        assert hdf5.info(path).compression == "lzf"


def test_emulate_a_folder_of_images_at_fps_is_the_lossless_video_at_that_rate(
    edge_videos: dict[str, Path], tmp_path: Path
) -> None:
    from eventcode.dvs import emulate

    folder, seed = edge_videos["pngs"], ["--seed", "2"]
    line = one_line_error(run("emulate", folder, tmp_path / "a.h5", *seed), "--fps", "folder")
    assert "Usage" not in line
    assert not (tmp_path / "a.h5").exists()
    assert run("emulate", folder, tmp_path / "a.h5", "--fps", "60", *seed).exit_code == 0
    events = hdf5.read(tmp_path / "a.h5")
    assert events == emulate(folder, fps=60, seed=2)
    assert int(events.t[-1]) <= round(11 * 1e6 / 60)  # --fps set the times: 12 frames at 60 fps
    assert run("emulate", edge_videos["mkv"], tmp_path / "b.h5", "--fps", "60", *seed).exit_code == 0
    assert hdf5.read(tmp_path / "b.h5") == events  # FFV1 grey keeps the frames exactly


def test_emulate_without_a_seed_prints_the_one_that_repeats_it(
    edge_videos: dict[str, Path], tmp_path: Path
) -> None:
    first = run("emulate", edge_videos["mkv"], tmp_path / "a.aedat4")
    assert first.exit_code == 0, first.output
    seed = first.stdout.strip().rsplit("(seed ", 1)[1].rstrip(")")
    assert run("emulate", edge_videos["mkv"], tmp_path / "b.aedat4", "--seed", seed).exit_code == 0
    assert aedat4.read(tmp_path / "b.aedat4") == aedat4.read(tmp_path / "a.aedat4")


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        (["--pos-threshold", "-1"], "--pos-threshold"),
        (["--neg-threshold", "0"], "--neg-threshold"),
        (["--pos-threshold", "nan"], "pos_threshold"),
        (["--sigma-threshold", "-0.1"], "--sigma-threshold"),
        (["--leak-rate-hz", "-2"], "--leak-rate-hz"),
        (["--refractory-period-us", "-1"], "--refractory-period-us"),
        (["--fps", "0"], "--fps"),
        (["--chunk-frames", "0"], "--chunk-frames"),
        (["--timing", "uniform"], "--timing"),
        (["--seed", "one"], "--seed"),
        (["--compression", "brotli"], "brotli"),
        (["--device", "nowhere"], "device = 'nowhere' is not a device"),
        (["--camera", "DVS128"], "--camera is for AEDAT 2.0"),
        (["--format", "tiff"], "tiff"),
    ],
)
def test_emulate_refuses_bad_option_values_in_one_line(
    edge_videos: dict[str, Path], tmp_path: Path, arguments: list[str], text: str
) -> None:
    one_line_error(run("emulate", edge_videos["mkv"], tmp_path / "out.h5", *arguments), text)
    assert list(tmp_path.iterdir()) == []


def test_emulate_refuses_what_is_no_video_and_formats_it_cannot_write(
    edge_videos: dict[str, Path], tmp_path: Path
) -> None:
    one_line_error(
        run("emulate", tmp_path / "missing.mp4", tmp_path / "a.h5"), "missing.mp4", "does not exist"
    )
    (tmp_path / "notes.txt").write_text("not a video")
    one_line_error(run("emulate", tmp_path / "notes.txt", tmp_path / "a.h5"), "notes.txt", "not a video")
    (tmp_path / "empty").mkdir()
    one_line_error(run("emulate", tmp_path / "empty", tmp_path / "a.h5", "--fps", "30"), "holds no images")
    one_line_error(run("emulate", edge_videos["mkv"], tmp_path / "a.es"), "does not write", "AEDAT 4.0")
    one_line_error(run("emulate", edge_videos["mkv"], tmp_path / "a.aedat"), "format='aedat2'")
    one_line_error(  # AEDAT 2.0 writes a camera's layout: none is 64 x 48
        run("emulate", edge_videos["mkv"], tmp_path / "a.aedat", "--format", "aedat2"), "camera"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "notes.txt"]


def test_emulate_help_states_the_emulator_defaults_and_timings() -> None:
    import inspect
    import re

    from eventcode.cli import emulate as command
    from eventcode.dvs import TIMINGS, Emulator

    assert command.TIMINGS == TIMINGS
    defaults = inspect.signature(Emulator).parameters
    stated, parsed = {}, command.emulate.make_context("emulate", [__file__, "out.h5"]).params
    for option in command.emulate.params:
        help_text = getattr(option, "help", None) or ""
        found = re.search(r"\(default ([^)]+)\)", help_text)
        if found and option.name in defaults:
            stated[option.name] = found.group(1)
            assert parsed[option.name] is None, option.name  # left to the Emulator's own default
    assert set(stated) == {
        "pos_threshold",
        "neg_threshold",
        "sigma_threshold",
        "cutoff_hz",
        "leak_rate_hz",
        "shot_noise_rate_hz",
        "refractory_period_us",
        "timing",
        "device",
    }
    for name, text in stated.items():
        default = defaults[name].default
        assert text == ("cpu" if default is None else str(default)) or float(text) == default, name


# ---------------------------------------------------------------------- convert-dataset (issue 20)
@pytest.fixture
def event_folder(tmp_path: Path) -> Path:
    """Five step-time AEDAT 4.0 files of 100 us steps."""
    folder = tmp_path / "events"
    folder.mkdir()
    generator = torch.Generator().manual_seed(3)
    for i in range(5):
        sample = eventcode.rate(torch.rand(1, 1, 6, 6, generator=generator), num_steps=8, generator=generator)
        aedat4.write(folder / f"{i}.aedat4", sample[0], dt_us=100)
    return folder


def test_convert_dataset_shards_a_folder_of_event_files_and_resumes(
    event_folder: Path, tmp_path: Path
) -> None:
    from exporters.dataset import EventDataset

    out = tmp_path / "out"
    result = run("convert-dataset", event_folder, out, "--workers", "0", "--shard-size", "2")
    assert result.exit_code == 0, result.output
    assert "5 samples" in result.output
    assert "3 shards" in result.output
    assert "3 written, 0 already done" in result.output
    back = EventDataset(out)
    assert [back[i][0] == aedat4.read(event_folder / f"{i}.aedat4") for i in range(5)] == [True] * 5
    assert back.targets == [f"{i}.aedat4" for i in range(5)]
    assert hdf5.info(out / "shard-00000.h5").dt_us == 100  # the files' own step
    assert (
        "0 written, 3 already done"
        in run("convert-dataset", event_folder, out, "--workers", "0", "--shard-size", "2").output
    )
    one_line_error(
        run("convert-dataset", event_folder, out, "--workers", "0", "--shard-size", "3"),
        "other options",
        "shard_size: 2 -> 3",
        "--overwrite",
    )


def test_convert_dataset_names_a_bad_file_and_redoes_only_its_shard(
    event_folder: Path, tmp_path: Path
) -> None:
    good = (event_folder / "3.aedat4").read_bytes()
    (event_folder / "3.aedat4").write_bytes(good[: len(good) // 2])
    out = tmp_path / "out"
    one_line_error(
        run("convert-dataset", event_folder, out, "--workers", "0", "--shard-size", "2", "--format", "nir"),
        "1 of 3 shards failed: sample 3 (shard 1): FileFormatError",
        "run the same conversion again",
    )
    (event_folder / "3.aedat4").write_bytes(good)
    result = run(
        "convert-dataset", event_folder, out, "--workers", "0", "--shard-size", "2", "--format", "nir"
    )
    assert "1 written, 2 already done" in result.output


def test_convert_dataset_encodes_mnist_on_a_given_scheduler(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    from eventcode.datasets import MNIST, EncodedDataset
    from eventcode.transforms import Encode
    from exporters.dataset import EventDataset

    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        arguments = ["mnist:", tmp_path / "a", "--encode", "rate", "--num-steps", "5", "--limit", "20"]
        result = run(
            "convert-dataset", *arguments, "--shard-size", "8", "--scheduler", cluster.scheduler_address
        )
    assert result.exit_code == 0, result.output
    assert "20 samples" in result.output
    assert "3 shards" in result.output
    back, digits = EventDataset(tmp_path / "a"), EncodedDataset(MNIST(), Encode("rate", num_steps=5), seed=0)
    assert [back[i][0] == digits[i][0] for i in (0, 9, 19)] == [True] * 3
    assert back.targets == MNIST().targets[:20].tolist()
    assert back.manifest["config"]["encode"] == {"code": "rate", "num_steps": 5}
    latency = ["--encode", "latency", "--num-steps", "6", "--option", "normalize=true", "--format", "aedat4"]
    assert (
        run("convert-dataset", "mnist:", tmp_path / "b", *latency, "--limit", "3", "--workers", "0").exit_code
        == 0
    )
    assert sorted(path.name for path in (tmp_path / "b/shard-00000").iterdir()) == [
        "00000000.aedat4",
        "00000001.aedat4",
        "00000002.aedat4",
    ]


def test_convert_dataset_reads_a_tonic_dataset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tonic = pytest.importorskip("tonic")
    from exporters.dataset import EventDataset

    class Fake:  # tonic.datasets.NAME(save_to=ROOT, train=...), items of structured arrays
        sensor_size = (4, 3, 2)

        def __init__(self, save_to: str, train: bool = True) -> None:
            self.root, self.train = save_to, train

        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
            events = np.zeros(index + 1, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
            events["t"] = np.arange(index + 1) * 1000 + (0 if self.train else 5)
            return events, index

    monkeypatch.setattr(tonic.datasets, "Fake", Fake, raising=False)
    result = run("convert-dataset", f"tonic:Fake:{tmp_path}:test", tmp_path / "out", "--workers", "0")
    assert result.exit_code == 0, result.output
    back = EventDataset(tmp_path / "out")
    assert back[2][0].t.tolist() == [5, 1005, 2005]
    assert back.sensor_size == (4, 3, 2)
    assert back.targets == [0, 1, 2]


@pytest.mark.parametrize(
    ("arguments", "texts"),
    [
        (["mnist:", "OUT"], ["give --encode"]),
        (["EVENTS", "OUT", "--encode", "rate"], ["need no --encode"]),
        (["nowhere:at-all", "OUT"], ["not a folder of event files", "tonic:NAME:ROOT"]),
        (["tonic:NoSuchSet:/tmp", "OUT"], ["tonic has no dataset 'NoSuchSet'"]),
        (["EVENTS", "EVENTS/inside"], ["inside the source folder"]),
        (["EVENTS", "OUT", "--workers", "0", "--scheduler", "tcp://x:1"], ["not both"]),
        (["EVENTS", "OUT", "--num-steps", "3"], ["give --encode too"]),
        (["EVENTS", "OUT", "--format", "png"], ["unknown format 'png'"]),
    ],
)
def test_convert_dataset_refuses_bad_sources_and_options_in_one_line(
    arguments: list[str], texts: list[str], event_folder: Path, tmp_path: Path
) -> None:
    names = {
        "EVENTS": str(event_folder),
        "OUT": str(tmp_path / "out"),
        "EVENTS/inside": str(event_folder / "x"),
    }
    one_line_error(run("convert-dataset", *(names.get(a, a) for a in arguments)), *texts)


def test_convert_dataset_help_imports_neither_torch_nor_dask() -> None:
    script = (
        "import sys\nfrom eventcode.cli import main\n"
        "try:\n    main(['convert-dataset', '--help'])\nexcept SystemExit as end:\n    assert not end.code\n"
        "assert not {'torch', 'dask', 'distributed'} & set(sys.modules), 'imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "tonic:NAME:ROOT" in result.stdout
