"""exporters.recording (issue 20, long recordings): a file converted in time ranges, a Dask task each.

The one output is byte for byte the file one Writer makes of the recording (every writable
format); a real LocalCluster(n_workers=2, threads_per_worker=1) and the CLI on its scheduler give
the same bytes; a killed worker or run, rerun, completes identically and leaves no partial file;
a rerun resumes (skips complete pieces, redoes a damaged one, refuses other options).
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import exporters
from eventcode import Events
from eventcode.cli import main
from eventcode.errors import OptionError
from exporters import aedat4, evt, hdf5, ranges
from exporters.recording import MANIFEST, RecordingError, convert_recording

SIZE = (128, 128)
CHUNK = 10_000
TARGETS = [
    ("aedat4", {}),
    ("aedat4", {"compression": "zstd"}),
    ("hdf5", {}),
    ("evt", {"version": "2.0"}),
    ("evt", {}),
    ("dat", {}),
    ("aedat2", {"camera": "DVS128"}),
    ("aedat3", {}),
    ("nmnist", {}),
]
SUFFIX = {"aedat4": ".aedat4", "hdf5": ".h5", "evt": ".raw", "dat": ".dat", "aedat2": ".aedat"}
SUFFIX |= {"aedat3": ".aedat", "nmnist": ".bin"}


def recording(n: int, span_us: int, seed: int = 0) -> Events:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, span_us, n))
    t[n // 3 : n // 3 + 500] = t[n // 3]  # a time of many events
    return Events(
        t=torch.from_numpy(t),
        x=torch.from_numpy(rng.integers(0, SIZE[0], n)),
        y=torch.from_numpy(rng.integers(0, SIZE[1], n)),
        p=torch.from_numpy(rng.integers(0, 2, n).astype(bool)),
        sensor_size=SIZE,
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An EVT 3.0 recording of 60,000 events over 8 s (N-MNIST's times hold it)."""
    path = tmp_path_factory.mktemp("source") / "long.raw"
    evt.write(path, recording(60_000, 8_000_000))
    return path


def reference(source: Path, out: Path, name: str, **options: Any) -> bytes:
    """The file one Writer makes of the recording, fed its chunks of CHUNK events."""
    chunks = exporters.for_reading(source).module.read_chunks(source, CHUNK)
    first = next(chunks)
    fmt = exporters.for_writing(out, name)
    extra = {"batched": False} if fmt.batched else {}
    with fmt.module.Writer(out, shape=first.shape, polarities=first.polarities, **extra, **options) as writer:
        for chunk in itertools.chain([first], chunks):
            writer.write(chunk)
    return out.read_bytes()


def comparable(data: bytes, name: str) -> bytes:
    """DAT's, AEDAT 2.0's and 3.1's headers hold the second they were written: that line left out."""
    dated = {"dat": b"% Date", "aedat2": b"# created", "aedat3": b"#Start-Time:"}.get(name)
    if dated is None:
        return data
    ends = {"dat": b"% Height", "aedat2": b"#End Of ASCII Header\r\n", "aedat3": b"#!END-HEADER\r\n"}
    head, end, rest = data.partition(ends[name])
    kept = [line for line in head.splitlines(keepends=True) if not line.startswith(dated)]
    return b"".join(kept) + end + rest


def partials(*folders: Path) -> list[str]:
    return [
        item.name
        for folder in folders
        if folder.exists()
        for item in folder.iterdir()
        if ".partial" in item.name
    ]


@pytest.mark.parametrize(
    ("name", "options"), TARGETS, ids=lambda v: v if isinstance(v, str) else str(v or "")
)
def test_one_output_is_the_single_process_file(
    name: str, options: dict[str, Any], source: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"out{SUFFIX[name]}"
    summary = convert_recording(
        source, out, format=name, parts=5, client="sync", chunk_events=CHUNK, progress=False, **options
    )
    assert summary.ranges == 5
    assert summary.events == 60_000
    assert summary.done == (0, 1, 2, 3, 4)
    expected = reference(source, tmp_path / f"ref{SUFFIX[name]}", name, **options)
    assert comparable(out.read_bytes(), name) == comparable(expected, name)
    assert sorted(os.listdir(tmp_path)) == sorted([out.name, f"ref{SUFFIX[name]}"])  # pieces removed


@settings(max_examples=10)
@given(
    cuts=st.lists(st.integers(0, 140_000), max_size=6),
    compression=st.sampled_from(["lz4", "zstd", "none"]),
    chunk=st.integers(1_000, 70_000),
)
def test_aedat4_pieces_join_into_the_one_writer_file(cuts: list[int], compression: str, chunk: int) -> None:
    """Pieces cut anywhere (inside packets, empty, shorter than one) written with their stream
    offsets, in chunks of any size: join gives the bytes of one Writer of the whole stream."""
    events = STREAM
    bounds = [0, *sorted(cuts), len(events)]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        aedat4.write(folder / "whole.aedat4", events, compression=compression)
        pieces = []
        for k, (a, b) in enumerate(itertools.pairwise(bounds)):
            pieces.append(folder / f"{k}.aedat4")
            with aedat4.Writer(
                pieces[-1], sensor_size=SIZE, compression=compression, stream_offset=a
            ) as writer:
                for start in range(a, b, chunk):
                    writer.write(_stretch(events, start, min(start + chunk, b)))
        aedat4.join(pieces, folder / "joined.aedat4")
        assert (folder / "joined.aedat4").read_bytes() == (folder / "whole.aedat4").read_bytes()


def _stretch(events: Events, a: int, b: int) -> Events:
    return Events(t=events.t[a:b], x=events.x[a:b], y=events.y[a:b], p=events.p[a:b], sensor_size=SIZE)


STREAM = recording(140_000, 10_000_000, seed=1)


def test_one_file_per_range(source: Path, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    summary = convert_recording(
        source, folder, format="hdf5", span_us=1_000_000, one_output=False, client="sync", progress=False
    )
    cuts = ranges.split(source, span_us=1_000_000)
    assert [p.name for p in summary.files] == [f"part-{k:05d}.h5" for k in range(len(cuts))]
    for piece, rng in zip(summary.files, cuts, strict=True):
        assert hdf5.read(piece) == ranges.read(source, rng)
    assert sorted(os.listdir(folder)) == sorted([MANIFEST, ".lock", *(p.name for p in summary.files)])


def test_a_rerun_resumes_redoes_damage_and_refuses_other_options(source: Path, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    first = convert_recording(
        source, folder, format="dat", parts=4, one_output=False, client="sync", progress=False
    )
    before = [p.read_bytes() for p in first.files]
    again = convert_recording(
        source, folder, format="dat", parts=4, one_output=False, client="sync", progress=False
    )
    assert (again.done, again.skipped) == ((), (0, 1, 2, 3))
    damaged = bytearray(before[2])
    damaged[-3] ^= 1
    first.files[2].write_bytes(bytes(damaged))
    fixed = convert_recording(
        source, folder, format="dat", parts=4, one_output=False, client="sync", progress=False
    )
    assert (fixed.done, fixed.skipped) == ((2,), (0, 1, 3))
    assert [comparable(p.read_bytes(), "dat") for p in fixed.files] == [comparable(b, "dat") for b in before]
    with pytest.raises(OptionError, match="other ranges"):
        convert_recording(
            source, folder, format="dat", parts=3, one_output=False, client="sync", progress=False
        )
    anew = convert_recording(
        source, folder, format="dat", parts=3, one_output=False, client="sync", progress=False, overwrite=True
    )
    assert anew.done == (0, 1, 2)
    assert sorted(os.listdir(folder)) == sorted([MANIFEST, ".lock", *(p.name for p in anew.files)])


def test_failed_ranges_are_named_and_the_others_kept(tmp_path: Path) -> None:
    """N-MNIST holds 2^23 us: the ranges after that fail, the ones before are kept."""
    path = tmp_path / "long.raw"
    evt.write(path, recording(2_000, 16_000_000))
    with pytest.raises(RecordingError, match=r"2 of 4 ranges failed: range 2: ExportError") as caught:
        convert_recording(path, tmp_path / "out.bin", parts=4, client="sync", progress=False)
    assert sorted(caught.value.failures) == [2, 3]
    work = tmp_path / ".out.bin.ranges"
    assert sorted(p.name for p in work.glob("part-*")) == ["part-00000.bin", "part-00001.bin"]
    assert not (tmp_path / "out.bin").exists()


def test_bad_options_raise(source: Path, tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="no option codec"):
        convert_recording(source, tmp_path / "a.aedat4", parts=2, client="sync", codec="lz4")
    with pytest.raises(OptionError, match="workers="):
        convert_recording(source, tmp_path / "a.aedat4", parts=2, client="sync", workers=2)
    with pytest.raises(OptionError, match="a folder"):
        convert_recording(source, tmp_path, parts=2, client="sync")
    with pytest.raises(OptionError):
        convert_recording(source, tmp_path / "a.aedat4", parts=2, client=object())  # type: ignore[arg-type]


# ---------------------------------------------------------------------- on a real local cluster
@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as made,
        distributed.Client(made) as client,
    ):
        client.run(lambda: __import__("exporters.recording") and __import__("torch"))  # imports paid once
        yield client


def test_a_local_cluster_converts_like_one_process(source: Path, tmp_path: Path, cluster: Any) -> None:
    out = tmp_path / "out.aedat4"
    summary = convert_recording(source, out, parts=6, client=cluster, chunk_events=CHUNK, progress=False)
    assert summary.scheduler == "dask.distributed (2 workers)"
    assert out.read_bytes() == reference(source, tmp_path / "ref.aedat4", "aedat4")


def test_the_cli_converts_in_ranges_on_a_scheduler(source: Path, tmp_path: Path, cluster: Any) -> None:
    address = cluster.scheduler_info()["address"]
    out = tmp_path / "out.h5"
    command = [
        "convert",
        str(source),
        str(out),
        "--parts",
        "4",
        "--scheduler",
        address,
        "--chunk-events",
        str(CHUNK),
    ]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    assert "4 time ranges on dask.distributed (2 workers)" in result.output
    assert out.read_bytes() == reference(source, tmp_path / "ref.h5", "hdf5")
    folder = tmp_path / "pieces"
    command = [
        "convert",
        str(source),
        str(folder),
        "--per-range",
        "--span-us",
        "4000000",
        "--scheduler",
        address,
    ]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(folder)) == [".lock", MANIFEST, "part-00000.raw", "part-00001.raw"]
    result = CliRunner().invoke(main, ["convert", str(source), str(out), "--parts", "2", "--span-us", "5"])
    assert result.exit_code != 0
    assert "not both" in result.output


def test_a_killed_worker_then_a_rerun_completes_identically(
    source: Path, tmp_path: Path, cluster: Any
) -> None:
    out = tmp_path / "out.aedat4"
    killed: list[int] = []

    def kill_one(index: int, status: str) -> None:
        if not killed:  # a worker dies while the tasks run: its task is retried or fails
            busy = [address for address, keys in cluster.processing().items() if keys]
            pids = cluster.run(os.getpid)
            victim = pids[busy[0] if busy else next(iter(pids))]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    failure = ""
    try:
        convert_recording(source, out, parts=8, client=cluster, chunk_events=CHUNK, progress=kill_one)
    except RecordingError as err:  # the killed worker's task failed: the others are kept
        failure = str(err)
    assert killed
    assert not failure or "worker died" in failure
    work = tmp_path / ".out.aedat4.ranges"  # gone if the tasks were retried and the run finished
    work.mkdir(exist_ok=True)
    pid = dead_pid()  # what a kill mid-write leaves: a piece's or the output's temporary
    (work / f".part-00003.aedat4.{pid}.0badc0de.partial").write_bytes(b"half a piece")
    (tmp_path / f".out.aedat4.{pid}.0badc0de.partial").write_bytes(b"half an output")
    summary = convert_recording(source, out, parts=8, client=cluster, chunk_events=CHUNK, progress=False)
    assert summary.done or summary.skipped
    assert out.read_bytes() == reference(source, tmp_path / "ref.aedat4", "aedat4")
    assert partials(tmp_path, work) == []
    assert not work.exists()


def dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_run_resumes_identically(source: Path, tmp_path: Path) -> None:
    """A run killed (SIGKILL) after some ranges: the rerun skips them and gives the same bytes."""
    out = tmp_path / "out.aedat4"
    script = textwrap.dedent(
        f"""
        import time
        from exporters.recording import convert_recording
        convert_recording({str(source)!r}, {str(out)!r}, parts=12, client="sync", chunk_events={CHUNK},
                          progress=lambda k, status: time.sleep(0.5))
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    pending = tmp_path / ".out.aedat4.ranges" / ".pending"
    deadline = time.monotonic() + 120
    while child.poll() is None and len(list(pending.glob("*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.kill()
    child.wait()
    assert not out.exists()
    summary = convert_recording(source, out, parts=12, client="sync", chunk_events=CHUNK, progress=False)
    assert len(summary.skipped) >= 2
    assert len(summary.done) + len(summary.skipped) == 12
    assert out.read_bytes() == reference(source, tmp_path / "ref.aedat4", "aedat4")
    assert partials(tmp_path) == []
