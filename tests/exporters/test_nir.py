"""Tests of exporters/nir.py: NIR 1.0.8 event data, read by the real nir package and written by it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exporters
from eventcode import Events
from eventcode.errors import ExportError, FileFormatError, OptionError
from exporters import hdf5
from exporters import nir as nir_format

nir = simulator("nir", reason="nir 1.0.8 is in the test extra")

REGRESSIONS = Path(__file__).resolve().parents[1] / "fuzz" / "regressions" / "nir"
"""The fuzzing finds, among them files on which libhdf5 segfaults or loops forever."""


@st.composite
def batches(draw: st.DrawFn) -> Events:
    """Several samples of random events: 1-D or 2-D, 1 or 2 polarities, steps or microseconds."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2)))
    samples, n = draw(st.integers(1, 3)), draw(st.integers(0, 30))
    polarities = draw(st.sampled_from([1, 2]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sample = rng.integers(0, samples, n)
    steps = draw(st.booleans())
    t = rng.integers(0, 8 if steps else 10**7, n)
    x, y = rng.integers(0, shape[-1], n), rng.integers(0, shape[0] if len(shape) == 2 else 1, n)
    on = rng.random(n) < 0.5 if polarities == 2 else np.ones(n, bool)
    order = np.lexsort((on, y * shape[-1] + x, t, sample))  # the order of a recording: address, OFF first
    sample, t, x, y, on = sample[order], t[order], x[order], y[order], on[order]
    return Events(
        t,
        x,
        y,
        on,
        offsets=np.concatenate([[0], np.cumsum(np.bincount(sample, minlength=samples))]),
        shape=shape,
        num_steps=8 if steps else None,
        polarities=polarities,
    )


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches(), st.sampled_from(["gzip", "none"]))
def test_events_round_trip_and_nir_reads_what_we_wrote(
    tmp_path: Path, events: Events, compression: str
) -> None:
    path = tmp_path / "input.nir"
    dt_us = 1000 if events.time_unit == "step" else None
    exporters.write(path, events, dt_us=dt_us, compression=compression)
    assert exporters.read(path) == events
    data = nir.read_data(str(path)).nodes["input"].observables["spikes"]  # the real reader
    numel = int(np.prod(events.shape))
    assert data.n_neurons == numel * events.polarities
    for b in range(events.num_samples):
        one = events[b]
        row = data.idx[b] >= 0
        flat = (one.y.long() * events.shape[-1] + one.x.long()).numpy()
        expected = flat + numel * one.p.numpy() if events.polarities == 2 else flat  # OFF block first
        t_us = (one.t.numpy() + 1) * 1000 if dt_us else one.t.numpy()
        assert sorted(zip(data.idx[b][row].tolist(), data.time[b][row].tolist(), strict=True)) == sorted(
            zip(expected.tolist(), (t_us * 1e-6).tolist(), strict=True)
        )
        assert np.isinf(data.time[b][~row]).all()


def test_a_file_nir_wrote_reads_as_spikes_without_polarity(tmp_path: Path) -> None:
    data = nir.EventData(
        idx=np.array([[3, 0, -1], [1, -1, -1]]),
        time=np.array([[0.0025, 0.004, np.inf], [0.001, np.inf, np.inf]]),
        n_neurons=5,
        t_max=0.01,
    )
    graph = nir.NIRGraphData(nodes={"layer": nir.NIRNodeData(observables={"out": data})})
    nir.write_data(tmp_path / "theirs.nir", graph)
    events = exporters.read(tmp_path / "theirs.nir")
    assert (events.shape, events.polarities, events.time_unit, events.num_samples) == ((5,), 0, "us", 2)
    assert events[0].t.tolist() == [2500, 4000]
    assert events[0].x.tolist() == [3, 0]
    assert events[1].x.tolist() == [1]
    meta = exporters.info(tmp_path / "theirs.nir")
    assert (meta.format, meta.events, meta.extras["node"], meta.extras["observable"]) == (
        "nir",
        3,
        "layer",
        "out",
    )
    with pytest.raises(FileFormatError, match="no EventData at node input"):
        nir_format.read(tmp_path / "theirs.nir", node="input")


def test_convert_between_hdf5_and_nir_keeps_the_events(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from eventcode import cli

    events = Events.from_dense(
        (torch.rand(5, 3, 2, 4, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    )
    hdf5.write(tmp_path / "a.h5", events, dt_us=1000)
    runner = CliRunner()
    assert (
        runner.invoke(cli.main, ["convert", str(tmp_path / "a.h5"), str(tmp_path / "b.nir")]).exit_code == 0
    )
    assert exporters.read(tmp_path / "b.nir") == events
    assert (
        runner.invoke(cli.main, ["convert", str(tmp_path / "b.nir"), str(tmp_path / "c.h5")]).exit_code == 0
    )
    assert hdf5.read(tmp_path / "c.h5") == events


def test_bad_input_gets_our_error(tmp_path: Path) -> None:
    steps = Events(t=[0], x=[0], y=[0], p=[1], shape=(1,), num_steps=1)
    with pytest.raises(OptionError, match="need dt_us"):
        nir_format.write(tmp_path / "a.nir", steps)
    with pytest.raises(OptionError, match="dt_us must be a positive whole number"):
        nir_format.write(tmp_path / "a.nir", steps, dt_us=-5)
    assert not (tmp_path / "a.nir").exists()


def test_times_read_back_exactly_up_to_the_limit_and_are_refused_from_it(tmp_path: Path) -> None:
    """Float64 seconds hold every microsecond below 2**50 (checked on the values nearest the
    limit and a spread below it); from the limit on, write refuses instead of losing precision."""
    below = np.unique(
        np.concatenate(
            [
                nir_format.EXACT_US - 1 - np.arange(1000),
                np.random.default_rng(0).integers(0, nir_format.EXACT_US, 5000),
            ]
        )
    )
    events = Events(
        t=below, x=np.zeros_like(below), y=np.zeros_like(below), p=np.ones_like(below), shape=(1, 1)
    )
    nir_format.write(tmp_path / "below.nir", events)
    assert torch.equal(nir_format.read(tmp_path / "below.nir").t, events.t)
    at = Events(t=[nir_format.EXACT_US], x=[0], y=[0], p=[1], shape=(1, 1))
    with pytest.raises(ExportError, match=r"exact to the microsecond only below 2\*\*50 us"):
        nir_format.write(tmp_path / "at.nir", at)
    assert not (tmp_path / "at.nir").exists()


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches(), st.integers(0, 5), st.integers(0, 10))
def test_read_columns_are_the_columns_of_read(
    tmp_path: Path, events: Events, start: int, length: int
) -> None:
    path = tmp_path / "a.nir"
    nir_format.write(path, events, dt_us=1000 if events.time_unit == "step" else None)
    scale = 1 if events.time_unit == "step" else 10**6
    window = {"t_start": start * scale, "t_end": (start + length) * scale}
    for chosen in ({}, window):
        (columns,) = nir_format.read_columns(path, **chosen)
        expected = nir_format.read(path, **chosen).columns()
        assert list(columns) == list(expected)
        for name, column in expected.items():
            assert columns[name].dtype == column.numpy().dtype, name
            assert np.array_equal(columns[name], column.numpy()), name


def test_info_and_read_columns_run_without_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "a.nir"
    nir_format.write(
        path, Events(t=[0, 2], x=[1, 0], y=[0, 2], p=[1, 0], shape=(3, 2), num_steps=3), dt_us=500
    )
    script = (
        "import sys\n"
        "from exporters import nir\n"
        "(columns,) = nir.read_columns(sys.argv[1])\n"
        "print(columns['y'].tolist(), nir.info(sys.argv[1]).events, 'torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["[0,", "2]", "2", "False"]


def _calls(path: Path) -> dict[str, Callable[[], object]]:
    """Every reading entry point of the NIR format on ``path``."""
    return {
        "read": lambda: nir_format.read(path),
        "read_chunks": lambda: list(nir_format.read_chunks(path)),
        "info": lambda: nir_format.info(path),
        "window": lambda: nir_format.read(path, t_start=0, t_end=1000),
        "read_columns": lambda: list(nir_format.read_columns(path)),
    }


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the guard forks (POSIX)")
@pytest.mark.parametrize(
    ("name", "limit", "what"),
    [
        ("attribute-read-segfault", nir_format.GUARD_SECONDS, r"libhdf5 crashed \(SIGSEGV\)"),
        ("attribute-read-hang", 1.0, r"did not finish within 1\.0 s"),
    ],
    ids=["segfault", "hang"],
)
def test_a_file_that_crashes_or_hangs_libhdf5_is_refused_in_bounded_time(
    name: str, limit: float, what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nir_format, "GUARD_SECONDS", limit)
    path = REGRESSIONS / f"{name}.nir"
    for operation, call in _calls(path).items():
        start = time.monotonic()
        with pytest.raises(FileFormatError, match=f"^{re.escape(str(path))}: .*{what}"):
            call()
        assert time.monotonic() - start < limit + 5, operation


def test_a_good_file_reads_the_same_guarded_and_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.nir"
    events = Events(t=[0, 3, 3], x=[1, 0, 2], y=[0, 1, 1], p=[1, 0, 1], shape=(2, 3), num_steps=5)
    nir_format.write(path, events, dt_us=1000)

    def everything() -> tuple[object, ...]:
        (columns,) = nir_format.read_columns(path)
        return (
            nir_format.read(path),
            list(nir_format.read_chunks(path)),
            nir_format.info(path),
            nir_format.read(path, t_start=1, t_end=4),
            {name: (column.dtype, column.tolist()) for name, column in columns.items()},
        )

    guarded = everything()
    assert guarded[:2] == (events, [events])
    monkeypatch.delattr(os, "fork")  # as on Windows: read in-process
    assert everything() == guarded


def test_the_childs_errors_come_back_as_themselves(tmp_path: Path) -> None:
    (tmp_path / "text.nir").write_text("not HDF5")
    with pytest.raises(FileFormatError, match=r"text\.nir: not NIR graph data"):
        nir_format.read(tmp_path / "text.nir")
    nir_format.write(tmp_path / "a.nir", Events(t=[0], x=[0], y=[0], p=[1], shape=(1,)))
    with pytest.raises(FileFormatError, match=r"a\.nir: no EventData at node other"):
        nir_format.read(tmp_path / "a.nir", node="other")

    class Local(Exception):
        """An exception pickle cannot find by name."""

    def fail() -> None:
        raise Local("unpicklable")

    with pytest.raises(RuntimeError, match=r"^Local: unpicklable$"):
        nir_format._guarded(tmp_path / "a.nir", fail)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the guard forks (POSIX)")
def test_a_crashing_child_prints_nothing_and_flushes_nothing_twice() -> None:
    script = (
        "import sys\n"
        "from exporters import nir\n"
        "print('before')\n"  # in stdout's buffer (a pipe) when the child is forked
        "try:\n"
        "    nir.read(sys.argv[1])\n"
        "except Exception as error:\n"
        "    print(type(error).__name__)\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-c",
            script,
            str(REGRESSIONS / "attribute-read-segfault.nir"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout.split(), result.stderr) == (0, ["before", "FileFormatError"], "")
