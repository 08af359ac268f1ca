"""exporters.ranges (issue 20, long recordings): time ranges that partition a file's events exactly.

Every writable format, random streams (ties, gaps, EVT 3.0's 24-bit wraps, step time): the ranges
of ``parts`` and of ``span_us`` read back, concatenated, as the whole file reads; each range's
events lie in its window and number what split counted. The checkpoint formats read from every
checkpoint exactly the tail of the file. The real sample files too.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import exporters
from eventcode import Events
from eventcode.errors import FileFormatError, OptionError
from exporters import aedat2, dat, evt, hdf5, ranges

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
needs_real = pytest.mark.skipif(not (REAL / "manifest.json").exists(), reason="no shared/data/real")

SIZE = (128, 128)  # a DVS128: every format's camera
WRITE = {
    "aedat4": {"format": "aedat4"},
    "hdf5": {"format": "hdf5"},
    "evt2": {"format": "evt", "version": "2.0"},
    "evt3": {"format": "evt", "version": "3.0"},
    "dat": {"format": "dat"},
    "aedat2": {"format": "aedat2", "camera": "DVS128"},
    "aedat3": {"format": "aedat3"},
    "nmnist": {"format": "nmnist"},
}
SUFFIX = {"aedat4": ".aedat4", "hdf5": ".h5", "evt2": ".raw", "evt3": ".raw", "dat": ".dat"}
SUFFIX |= {"aedat2": ".aedat", "aedat3": ".aedat", "nmnist": ".bin"}
READ: dict[str, dict[str, Any]] = {"nmnist": {"sensor_size": SIZE}}
GAP = {"aedat2": 1 << 30, "dat": 1 << 30, "nmnist": 1 << 14}  # the formats' 32-bit times, N-MNIST's 2^23 us
STEP_TIME = ("aedat4", "hdf5", "evt3", "dat")


def stream(t: list[int]) -> Events:
    n = len(t)
    rng = np.random.default_rng(n)
    return Events(
        t=torch.tensor(t, dtype=torch.int64),
        x=torch.from_numpy(rng.integers(0, SIZE[0], n)),
        y=torch.from_numpy(rng.integers(0, SIZE[1], n)),
        p=torch.from_numpy(rng.integers(0, 2, n).astype(bool)),
        sensor_size=SIZE,
    )


def written(folder: Path, name: str, events: Events, dt_us: int | None = None) -> Path:
    options = dict(WRITE[name])
    path = folder / f"{name}{SUFFIX[name]}"
    exporters.write(path, events, dt_us=dt_us, **options)
    return path


def partitions(path: Path, cuts: list[ranges.Range], **options: Any) -> None:
    """The ranges read back, in order, as the whole file; each within its window, its count exact."""
    whole = exporters.read(path, **options)
    parts = [ranges.read(path, rng) for rng in cuts]
    assert [len(part) for part in parts] == [rng.events for rng in cuts]
    assert sum(rng.events for rng in cuts) == len(whole)
    for name in ("t", "x", "y", "p"):
        joined = torch.cat([getattr(part, name) for part in parts])
        assert torch.equal(joined, getattr(whole, name)), name
    for part, rng in zip(parts, cuts, strict=True):
        assert (part.shape, part.polarities, part.time_unit, part.num_steps) == (
            whole.shape,
            whole.polarities,
            whole.time_unit,
            whole.num_steps,
        )
        if len(part):
            assert rng.t_start is None or int(part.t[0]) >= rng.t_start
            assert rng.t_end is None or int(part.t[-1]) < rng.t_end
    assert cuts[0].t_start is None
    assert cuts[-1].t_end is None
    assert [rng.t_end for rng in cuts[:-1]] == [rng.t_start for rng in cuts[1:]]
    assert [rng.index for rng in cuts] == list(range(len(cuts)))


@st.composite
def times(draw: st.DrawFn, name: str) -> list[int]:
    """Sorted times with ties and gaps; EVT from near a 24-bit wrap, crossing time-high periods."""
    gap = GAP.get(name, 1 << 22)
    gaps = draw(st.lists(st.one_of(st.just(0), st.integers(0, 50), st.integers(0, gap)), max_size=200))
    if name.startswith("evt"):
        start = draw(st.sampled_from([0, (1 << 24) - 5000, 3 * (1 << 24) - 70, 4095 * 4096]))
    else:
        start = draw(st.integers(0, 1 << 12))
    found: list[int] = (start + np.cumsum(np.array(gaps, np.int64))).tolist()
    return found


@pytest.mark.parametrize("name", sorted(WRITE))
@settings(max_examples=12)
@given(data=st.data())
def test_the_ranges_partition_the_events(
    name: str, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    folder = tmp_path_factory.mktemp(name)
    steps = name in STEP_TIME and data.draw(st.booleans(), label="step time")
    if steps:
        t = sorted(data.draw(st.lists(st.integers(0, 40), max_size=200), label="steps"))
        events = stream(t).to_steps(1, num_steps=41) if t else stream([]).to_steps(1, num_steps=41)
        dt_us = data.draw(st.sampled_from([1, 7, 1000]), label="dt_us")
        path = written(folder, name, events, dt_us=dt_us)
    else:
        dt_us = None
        path = written(folder, name, stream(data.draw(times(name), label="times")))
    read = READ.get(name, {})
    whole = exporters.read(path, **read)
    span = (int(whole.t[-1]) - int(whole.t[0]) + 1) * (dt_us or 1) if len(whole) else 1
    k = data.draw(st.integers(1, 9), label="parts, or spans in the stream")
    cut: dict[str, Any] = (
        {"parts": k} if data.draw(st.booleans(), label="parts") else {"span_us": max(1, span // k)}
    )
    partitions(path, ranges.split(path, **cut, **read), **read)


def test_evt3_ranges_start_inside_time_high_periods_and_across_wraps(tmp_path: Path) -> None:
    """Cuts at 1 us steps around a 24-bit wrap: every one inside a period, decoded from a checkpoint there."""
    base = (1 << 24) - 3000
    t = [base + k * 37 for k in range(200)]  # 7.4 ms across the wrap, two events a time now and then
    t = sorted(t + t[::9])
    path = written(tmp_path, "evt3", stream(t))
    cuts = ranges.split(path, span_us=997)
    assert len(cuts) == 8
    assert all(rng.start is not None for rng in cuts)
    assert any(rng.t_start is not None and rng.t_start % 4096 for rng in cuts)  # inside periods
    partitions(path, cuts)
    marks, _ = evt.checkpoints(path, 64)
    whole = evt.read(path)
    for mark in marks:  # decoding from any checkpoint gives the rest of the file
        tail = torch.cat([chunk.t for chunk in evt.read_from(path, mark)])
        assert torch.equal(tail, whole.t[mark[1] :])


@pytest.mark.parametrize("module", [evt, dat, aedat2], ids=lambda m: m.NAME)
def test_reading_from_each_checkpoint_gives_the_rest(module: object, tmp_path: Path) -> None:
    name = {"evt": "evt2", "dat": "dat", "aedat2": "aedat2"}[module.NAME]  # type: ignore[attr-defined]
    gap = 1 << 30 if name != "evt2" else 1 << 33
    t = np.cumsum(np.random.default_rng(3).integers(0, gap, 300)).tolist()  # wraps of 32 and 34 bits
    path = written(tmp_path, name, stream(t))
    whole = exporters.read(path)
    marks, steps = module.checkpoints(path, 50)  # type: ignore[attr-defined]
    assert steps is None
    assert marks[0][1] == 0
    assert marks[-1][1] == len(whole)
    for byte, before, bound, state in marks:
        chunks = list(module.read_from(path, (byte, before, bound, state), 64))  # type: ignore[attr-defined]
        assert torch.equal(torch.cat([c.t for c in chunks]), whole.t[before:])
        assert bound is None or int(whole.t[before - 1]) <= bound


@needs_real
@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("evt2/expelliarmus_evt2_sample.raw", {"sensor_size": (640, 480)}),
        ("evt3/expelliarmus_evt3_sample.raw", {}),
        ("aedat4/tonic_sample.aedat4", {}),
        ("aedat2/pyaedattools_IMU_translBoxes.aedat", {}),
        ("dat/tonic_sample_ncars.dat", {}),
        ("nmnist_bin/tonic_sample_nmnist.bin", {"sensor_size": (34, 34)}),
        ("es/faery_dvs.es", {}),
    ],
)
def test_real_files_partition(name: str, options: dict[str, Any]) -> None:
    path = REAL / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # words left out, sizes guessed: the readers' warnings
        whole = exporters.read(path, **options)
        for cut in ({"parts": 7}, {"span_us": max(1, (int(whole.t[-1]) - int(whole.t[0])) // 5)}):
            cuts = ranges.split(path, **cut, **options)  # type: ignore[arg-type]
            assert len(cuts) > 1 or ("nmnist" in name and "parts" in cut)  # N-MNIST: one chunk of the pass
            partitions(path, cuts, **options)


@needs_real
def test_real_evt3_from_every_checkpoint() -> None:
    """The Gen4.1 file has vectors and TIME_LOW words ahead of the next: the state carries them."""
    path = REAL / "evt3" / "expelliarmus_evt3_sample.raw"
    whole = evt.read(path)
    marks, _ = evt.checkpoints(path, 40)
    for mark in marks[:: max(1, len(marks) // 12)]:
        tail = list(evt.read_from(path, mark))
        assert torch.equal(torch.cat([c.x for c in tail]), whole.x[mark[1] :])
        assert torch.equal(torch.cat([c.t for c in tail]), whole.t[mark[1] :])


def test_hdf5_and_aedat4_count_through_their_index(tmp_path: Path) -> None:
    events = stream(list(range(0, 200_000, 2)))
    for name in ("hdf5", "aedat4"):
        path = written(tmp_path, name, events)
        module = exporters.for_reading(path).module
        assert module.events_before(path, [0, 1, 2, 3, 150_001, 10**9]) == [0, 1, 1, 2, 75_001, 100_000]
    assert hdf5.times_at(tmp_path / "hdf5.h5", [0, 99_999]) == [0, 199_998]


def test_bad_arguments_raise(tmp_path: Path) -> None:
    path = written(tmp_path, "evt3", stream([1, 2, 3]))
    with pytest.raises(OptionError, match="parts"):
        ranges.split(path)
    with pytest.raises(OptionError, match="parts"):
        ranges.split(path, parts=2, span_us=5)
    with pytest.raises(OptionError, match="parts"):
        ranges.split(path, parts=0)
    with pytest.raises(OptionError, match="no reader option camera"):
        ranges.split(path, parts=2, camera="DVS128")
    long = written(tmp_path, "aedat4", stream([0, 1 << 21]))
    with pytest.raises(OptionError, match="ranges; give a longer span"):
        ranges.split(long, span_us=1)
    with pytest.raises(OptionError, match="not a checkpoint"):
        next(evt.read_from(path, (3, 0, None, (0, 0, 0, 0, 0, 0))))
    batch = Events.cat([stream([1, 2]), stream([3])])
    hdf5.write(tmp_path / "batch.h5", batch)
    with pytest.raises(OptionError, match="2 samples"):
        ranges.split(tmp_path / "batch.h5", parts=2)


def test_a_file_changed_since_split_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path, "dat", stream(list(range(100))))
    cuts = ranges.split(path, parts=2)
    dat.write(path, stream(list(range(0, 200, 2))))
    with pytest.raises(FileFormatError, match="changed since it was split"):
        ranges.read(path, cuts[0])


def test_empty_and_one_event_files(tmp_path: Path) -> None:
    for name in ("evt3", "dat", "aedat4", "hdf5", "aedat2"):
        for t in ([], [7]):
            path = written(tmp_path, name, stream(t))
            cuts = ranges.split(path, parts=4)
            assert [rng.events for rng in cuts] == [len(t)]
            read = ranges.read(path, cuts[0])
            assert len(read) == len(t)
            assert read.shape == (128, 128)
    assert os.listdir(tmp_path)
