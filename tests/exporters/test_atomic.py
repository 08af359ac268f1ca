"""Tests of exporters/atomic.py: all or nothing."""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import textwrap
import threading
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


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_get_the_permissions_plain_open_gives(tmp_path: Path) -> None:
    events = Events(t=[1], x=[0], y=[0], p=[1], sensor_size=(2, 1))
    for umask in (0o022, 0o077):
        old = os.umask(umask)
        try:
            with open(tmp_path / f"plain_{umask:o}", "wb"):
                pass
            with atomic_path(tmp_path / f"atomic_{umask:o}") as temporary:
                temporary.write_bytes(b"data")
            aedat4.write(tmp_path / f"aedat4_{umask:o}.aedat4", events)
            hdf5.write(tmp_path / f"hdf5_{umask:o}.h5", events)
        finally:
            os.umask(old)
        expected = mode_of(tmp_path / f"plain_{umask:o}")
        assert expected == 0o666 & ~umask
        for name in (f"atomic_{umask:o}", f"aedat4_{umask:o}.aedat4", f"hdf5_{umask:o}.h5"):
            assert mode_of(tmp_path / name) == expected, name


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    for mode in (0o640, 0o444):
        target.write_bytes(b"old")
        target.chmod(mode)
        with atomic_path(target) as temporary:
            temporary.write_bytes(b"new")
        assert (target.read_bytes(), mode_of(target)) == (b"new", mode)
        target.chmod(0o644)
        target.unlink()


def test_errors_name_the_target_not_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.bin"
    with pytest.raises(FileNotFoundError) as missing, atomic_path(target):
        pass
    assert missing.value.filename == str(target)
    target = tmp_path / "out.bin"
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, limits[1]))
    try:
        with (
            pytest.raises(OSError, match="File too large") as too_large,
            atomic_path(target) as temporary,
            open(temporary, "wb") as file,
        ):
            file.write(bytes(1 << 17))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)
    assert too_large.value.errno == errno.EFBIG
    assert too_large.value.filename == str(target)
    assert ".partial" not in str(too_large.value)
    assert list(tmp_path.iterdir()) == []


WRITE_FOREVER = textwrap.dedent(
    """
    import itertools, sys
    import numpy as np
    from eventcode import Events
    from exporters import aedat4

    rng = np.random.default_rng(0)
    n = 200_000
    with (
        aedat4.Writer(sys.argv[1], sensor_size=(346, 260), compression="zstd_high") as writer,
        aedat4.Writer(sys.argv[2], sensor_size=(346, 260)) as nested,
    ):
        for k in itertools.count():
            t = k * 10**6 + np.sort(rng.integers(0, 10**6, n))
            chunk = Events(t, rng.integers(0, 346, n), rng.integers(0, 260, n), rng.random(n) < 0.5,
                           sensor_size=(346, 260))
            nested.write(chunk)
            writer.write(chunk)
            print("writing", flush=True)
    """
)


def test_sigterm_mid_write_leaves_no_partial_file_and_the_old_target(tmp_path: Path) -> None:
    target = tmp_path / "stream.aedat4"
    aedat4.write(target, Events(t=[3], x=[1], y=[1], p=[0], sensor_size=(4, 4)))
    before = target.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", WRITE_FOREVER, str(target), str(tmp_path / "new.aedat4")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline() == "writing\n"
        assert len(list(tmp_path.glob(".*.partial"))) == 2  # mid-write: both temporaries are there
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=120) == -signal.SIGTERM
    finally:
        child.kill()
        child.stdout.close()
    assert list(tmp_path.iterdir()) == [target]
    assert target.read_bytes() == before


def test_the_sigterm_handler_nests_and_is_restored(tmp_path: Path) -> None:
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with atomic_path(tmp_path / "outer") as outer:
        handler = signal.getsignal(signal.SIGTERM)
        assert handler is not signal.SIG_DFL
        with atomic_path(tmp_path / "inner") as inner:
            inner.write_bytes(b"inner")
        assert signal.getsignal(signal.SIGTERM) is handler
        outer.write_bytes(b"outer")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def own(signum: int, frame: object) -> None:
        """A program's own handler, which atomic writes leave alone."""

    previous = signal.signal(signal.SIGTERM, own)
    try:
        with atomic_path(tmp_path / "own") as temporary:
            assert signal.getsignal(signal.SIGTERM) is own
            temporary.write_bytes(b"own")
    finally:
        signal.signal(signal.SIGTERM, previous)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(write_in_thread(tmp_path / "thread")))
    thread.start()
    thread.join()
    assert seen == [signal.SIG_DFL]  # no handler set from another thread, and the write works
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inner", "outer", "own", "thread"]


def write_in_thread(path: Path) -> object:
    with atomic_path(path) as temporary:
        temporary.write_bytes(b"thread")
        return signal.getsignal(signal.SIGTERM)


def test_a_directory_as_the_target_fails_before_writing(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(ExportError, match="is a directory"), atomic_path(tmp_path / "folder"):
        pytest.fail("the block must not run")  # pragma: no cover
    events = Events(t=[1], x=[0], y=[0], p=[1], sensor_size=(2, 2))
    with pytest.raises(ExportError, match="is a directory"):
        hdf5.write(tmp_path / "folder", events)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_leftovers_of_dead_writers_go_and_a_live_writers_stay(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)  # exited: its pid is free (reuse within this test is not a concern)
    target = tmp_path / "out.aedat4"
    killed = tmp_path / f".out.aedat4.{dead_pid}.0123abcd.partial"
    live = tmp_path / f".out.aedat4.{os.getppid()}.4567abcd.partial"
    other = tmp_path / f".other.aedat4.{dead_pid}.89abcdef.partial"
    for path in (killed, live, other):
        path.write_bytes(b"x" * 100)
    with atomic_path(target) as temporary:
        assert f".out.aedat4.{os.getpid()}." in temporary.name  # the writer's pid names its file
        temporary.write_bytes(b"new")
    assert not killed.exists()
    assert live.exists()  # a live process may still be writing it
    assert other.exists()  # another target's leftovers are its next write's to remove
    assert target.read_bytes() == b"new"


def write_losing_to_another(target: Path) -> None:
    """Write ``target`` without overwrite while another writer makes it first."""
    with atomic_path(target, overwrite=False) as temporary:
        temporary.write_bytes(b"mine")
        target.write_bytes(b"theirs")


def test_overwrite_false_loses_to_a_file_made_meanwhile_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(ExportError, match="appeared while this write ran"):
        write_losing_to_another(target)
    assert target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


RACE = textwrap.dedent(
    """
    import sys, time
    from exporters.atomic import atomic_path
    target, mine, start = sys.argv[1], sys.argv[2].encode() * 200_000, float(sys.argv[3])
    try:
        with atomic_path(target, overwrite=False) as temporary:
            temporary.write_bytes(mine)
            time.sleep(max(0.0, start - time.time()))
        print("won")
    except Exception as err:
        print(type(err).__name__)
    """
)


def test_two_writers_without_overwrite_one_wins_whole(tmp_path: Path) -> None:
    import time

    for round_ in range(4):
        target = tmp_path / f"race{round_}.bin"
        start = str(time.time() + 1.0)
        children = [
            subprocess.Popen(
                [sys.executable, "-c", RACE, str(target), name, start], stdout=subprocess.PIPE, text=True
            )
            for name in "ab"
        ]
        outcomes = sorted(child.communicate(timeout=60)[0].strip() for child in children)
        assert outcomes == ["ExportError", "won"]
        assert target.read_bytes() in (b"a" * 200_000, b"b" * 200_000)
    assert not list(tmp_path.glob(".*.partial"))


FILL_THE_DISK = textwrap.dedent(
    """
    import errno, json, os, resource, signal, sys
    import numpy as np
    import exporters
    from eventcode import Events

    rng = np.random.default_rng(0)
    n = 300_000
    events = Events(np.sort(rng.integers(0, 8_000_000, n)), rng.integers(0, 240, n), rng.integers(0, 180, n),
                    rng.random(n) < 0.5, sensor_size=(240, 180))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails with EFBIG, as a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 18, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    folder, outcomes = sys.argv[1], []
    for fmt in exporters.formats():
        if fmt.name == "es":  # reads only
            continue
        ways = {"write": lambda path: exporters.write(path, events, format=fmt.name)}
        if fmt.name == "hdf5":  # chunked and compressed: written by HDF5 itself
            ways["write gzip"] = lambda path: exporters.write(path, events, format="hdf5", compression="gzip")
        def stream(path, fmt=fmt):
            with fmt.module.Writer(path, shape=events.shape, num_steps=None, polarities=2) as writer:
                for a in range(0, n, n // 3):
                    writer.write(events.time_slice(int(events.t[a]), int(events.t[min(a + n // 3, n - 1)])))
        ways["Writer"] = stream
        for way, run in ways.items():
            target = os.path.join(folder, f"{way.replace(' ', '-')}{fmt.suffixes[0]}")
            try:
                run(target)
                outcome = "written"
            except OSError as err:
                outcome = "EFBIG" if err.errno == errno.EFBIG and err.filename == target else repr(err)
            except Exception as err:
                outcome = repr(err)
            outcomes.append([fmt.name, way, outcome, sorted(os.listdir(folder))])
    print(json.dumps(outcomes))
    """
)


def test_every_writer_on_a_full_disk_raises_the_system_error_and_leaves_nothing(tmp_path: Path) -> None:
    """A file-size limit (RLIMIT_FSIZE) stands in for a full disk: writes past it fail as on a full
    one, from C as from Python. HDF5 used to print hundreds of ignored errors and crash at exit."""
    child = subprocess.run(
        [sys.executable, "-c", FILL_THE_DISK, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert "Exception ignored" not in child.stderr
    outcomes = json.loads(child.stdout)
    assert {name for name, *_ in outcomes} >= {
        "aedat4",
        "hdf5",
        "nir",
        "aedat2",
        "aedat3",
        "dat",
        "evt",
        "nmnist",
    }
    for name, way, outcome, left in outcomes:
        assert (outcome, left) == ("EFBIG", []), (name, way)


def test_a_ctrl_c_as_the_temporary_appears_leaves_it_only_while_the_exception_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt can land after ``atomic_path`` made the temporary file and before the
    writer registered its cleanup (``ExitStack`` pushing the exit): the suspended ``atomic_path``
    then removes the file when it is finalized, once the exception is handled or ends the
    program."""
    pushed = contextlib.ExitStack._push_cm_exit  # type: ignore[attr-defined]  # where the gap is

    def interrupted(stack: contextlib.ExitStack, *args: object) -> None:
        monkeypatch.setattr(contextlib.ExitStack, "_push_cm_exit", pushed)
        raise KeyboardInterrupt

    monkeypatch.setattr(contextlib.ExitStack, "_push_cm_exit", interrupted)
    caught: list[BaseException] = []
    try:
        with aedat4.Writer(tmp_path / "a.aedat4", sensor_size=(4, 4)):
            pytest.fail("the writer opened")
    except KeyboardInterrupt as err:
        caught.append(err)
    assert [path.name.endswith(".partial") for path in tmp_path.iterdir()] == [True]
    caught.clear()
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def stopped_writes(signal_name: str, trials: int) -> dict[str, dict[str, int]]:
    """``kill_trials.py``'s counts: ``trials`` writes per writer stopped by the signal."""
    script = Path(__file__).with_name("kill_trials.py")
    child = subprocess.run(
        [sys.executable, str(script), "--trials", str(trials), "--signal", signal_name, "--json"],
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    table = json.loads(child.stdout)
    # 8 writable formats, each by write(), a streaming Writer, `eventcode convert` and
    # convert_recording (all but NIR, which holds no stream cut in time)
    assert len(table) == 31
    for writer, counts in table.items():
        assert counts["trials"] == trials, writer
        assert counts["old"] + counts["new"] == trials, (writer, counts)
        assert counts["damaged"] == 0, (writer, counts)
        assert counts["leftovers kept"] == 0, (writer, counts)  # the next write removed them
    return table


def test_writers_killed_mid_write_leave_the_old_file_or_the_new_one() -> None:
    """Five SIGKILL trials per writer (``kill_trials.py --trials 50`` runs the campaign)."""
    table = stopped_writes("KILL", 5)
    assert sum(counts["stopped before done"] for counts in table.values()) > 31  # most land mid-write


@pytest.mark.parametrize("signal_name", ["TERM", "INT"])
def test_sigterm_and_ctrl_c_clean_up_at_once(signal_name: str) -> None:
    table = stopped_writes(signal_name, 1)
    assert all(counts["left at exit"] == 0 for counts in table.values()), table
