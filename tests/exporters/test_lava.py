"""Tests of exporters/lava.py: rasters through the real Lava 0.10, run by its own Python 3.10 venv.

``lava_network.py`` runs in the venv at ``$EVENTCODE_LAVA_PYTHON``, else ``<repo>/.venv-lava``
(created with ``python3.10 -m venv .venv-lava && .venv-lava/bin/pip install lava-nc==0.10.0
"numpy<2"``); without it the Lava tests skip, or fail where ``EVENTCODE_REQUIRE_SIMULATORS``
asks for ``lava``.
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import required
from hypothesis import given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import EventsError, OptionError
from exporters import lava

NETWORK = Path(__file__).with_name("lava_network.py")


@pytest.fixture(scope="module")
def python() -> str:
    """The Lava venv's python."""
    path = os.environ.get("EVENTCODE_LAVA_PYTHON") or str(Path(__file__).parents[2] / ".venv-lava/bin/python")
    if not Path(path).is_file():
        message = (
            f"no Lava python at {path}: python3.10 -m venv .venv-lava && .venv-lava/bin/pip install "
            '"lava-nc==0.10.0" "numpy<2", or set EVENTCODE_LAVA_PYTHON'
        )
        if required("lava"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_lava(python: str, data: np.ndarray, steps: int, **network: object) -> np.ndarray:
    """``data`` through ``lava_network.py`` for ``steps`` steps: what the sink recorded."""
    with tempfile.TemporaryDirectory() as folder:
        files = {name: os.path.join(folder, f"{name}.npy") for name in ("raster", "out", "weights")}
        np.save(files["raster"], data)
        command = [python, str(NETWORK), files["raster"], files["out"], "--steps", str(steps)]
        for name, value in network.items():
            if name == "weights":
                np.save(files["weights"], value)
                value = files["weights"]
            command += [f"--{name.replace('_', '-')}", str(value)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return np.load(files["out"])


Case = tuple[Events, str, str, int | None]
"""Events, polarity mapping, duplicates policy, bin width of microsecond events."""


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A random batch (shape with channels or not, 1-3 samples, ON and OFF, steps or microseconds
    with a bin width), a polarity mapping and a duplicates policy; cells often hold several events."""
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    counts = rng.integers(0, 8, draw(st.integers(1, 3)))
    n, columns = int(counts.sum()), draw(st.integers(1, 5))
    dt_us = draw(st.sampled_from([None, 1, 250, 1000]))
    address = np.unravel_index(rng.integers(0, math.prod(shape), n), shape)
    events = Events(
        t=rng.integers(0, columns * (dt_us or 1), n),
        x=address[-1],
        y=address[-2] if len(shape) > 1 else np.zeros(n, dtype=np.int64),
        p=rng.integers(0, 2, n).astype(bool),
        c=address[0] if len(shape) == 3 and shape[0] > 1 else None,
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        shape=shape,
        num_steps=None if dt_us else columns,
        time_unit="us" if dt_us else "step",
        sort=True,
    )
    polarity = draw(st.sampled_from(["merge", "split", "on"]))
    return events, polarity, draw(st.sampled_from(["keep", "merge"])), dt_us


def expected(events: Events, polarity: str, duplicates: str, dt_us: int | None) -> list[tuple[int, ...]]:
    """``(sample, t, c, y, x[, p])`` of the events kept, on the column grid, as a sorted multiset."""
    keep = events.p if polarity == "on" else torch.ones_like(events.p)
    c = events.c if events.c is not None else torch.zeros_like(events.x)
    t = events.t if dt_us is None else events.t // dt_us * dt_us
    fields = [events.sample_ids(), t, c, events.y, events.x] + ([events.p] if polarity == "split" else [])
    rows = list(zip(*(field[keep].tolist() for field in fields), strict=True))
    return sorted(set(rows) if duplicates == "merge" else rows)


def got(back: Events, polarity: str) -> list[tuple[int, ...]]:
    c = back.c if back.c is not None else torch.zeros_like(back.x)
    fields = [back.sample_ids(), back.t, c, back.y, back.x] + ([back.p] if polarity == "split" else [])
    return sorted(zip(*(field.tolist() for field in fields), strict=True))


@settings(max_examples=5, deadline=None)
@given(st.lists(cases(), min_size=1, max_size=5))
def test_events_relayed_by_lava_come_back_exactly(python: str, batch: list[Case]) -> None:
    """Cases stacked into one raster for one Lava run: source -> sink records each column as sent."""
    inputs = [
        lava.to_input(events, polarity, dt_us=dt_us, num_steps=events.num_steps or 5, duplicates=duplicates)
        for events, polarity, duplicates, dt_us in batch
    ]
    stacked = np.zeros((sum(len(data) for data in inputs), max(data.shape[1] for data in inputs)))
    rows = np.cumsum([0] + [len(data) for data in inputs])
    for data, start in zip(inputs, rows, strict=False):
        stacked[start : start + len(data), : data.shape[1]] = data
    recorded = run_lava(python, stacked, stacked.shape[1])
    assert recorded.tolist() == stacked.tolist()  # no shift, counts kept
    for (events, polarity, duplicates, dt_us), data, start in zip(batch, inputs, rows, strict=False):
        back = lava.from_output(
            recorded[start : start + len(data), : data.shape[1]],
            events.shape,
            polarities=events.polarities,
            polarity=polarity,
            samples=events.num_samples,
            dt_us=dt_us,
        )
        assert got(back, polarity) == expected(events, polarity, duplicates, dt_us)
        assert (back.num_samples, back.shape, back.num_steps) == (
            events.num_samples,
            events.shape,
            events.num_steps,
        )


COINCIDENCE = {"weights": np.array([[1.0, 1.0]]), "vth": 1.5, "du": 1.0, "dv": 1.0}
"""One LIF neuron, two inputs of weight 1, nothing carried over a step: v = the inputs of the step,
so it fires (v > 1.5) exactly when both inputs spike in one step."""


def test_a_coincidence_detector_fires_one_step_after_the_coinciding_column(python: str) -> None:
    a, b = [0, 2, 3, 6], [0, 3, 5, 7]  # together in steps 0 and 3 only
    events = Events(t=a + b, x=[0] * 4 + [1] * 4, y=[0] * 8, p=[1] * 8, shape=(2,), num_steps=8, sort=True)
    data = lava.to_input(events, num_steps=9)  # one empty column for the Dense's step
    recorded = run_lava(python, data, 9, mode="coincidence", **COINCIDENCE)
    # Column k is sent at Lava step k + 1, the Dense passes it on at step k + 2, the LIF fires in
    # that step, and the sink stores step s in column s - 1: columns 0 + 1 and 3 + 1.
    assert recorded.shape == (1, 9)
    assert np.flatnonzero(recorded[0]).tolist() == [1, 4]
    back = lava.from_output(recorded, (1,), delay=1)
    assert (back.t.tolist(), back.num_steps) == ([0, 3], 8)


@pytest.mark.parametrize(("bits", "fires"), [(0, []), (8, [3])])
def test_a_count_of_two_is_one_spike_to_a_binary_dense_and_two_to_a_graded_one(
    python: str, bits: int, fires: list[int]
) -> None:
    events = Events(t=[2, 2], x=[0, 0], y=[0, 0], p=[1, 0], shape=(2,), num_steps=3)  # input 0 only
    data = lava.to_input(events, duplicates="keep", num_steps=4)
    assert data.tolist() == [[0, 0, 2, 0], [0, 0, 0, 0]]
    recorded = run_lava(python, data, 4, mode="coincidence", num_message_bits=bits, **COINCIDENCE)
    assert np.flatnonzero(recorded[0]).tolist() == fires  # 2 * weight 1 > 1.5 only when summed


def test_the_buffer_wraps_when_run_longer_than_its_columns(python: str) -> None:
    events = Events(t=[0, 2], x=[0, 1], y=[0, 0], p=[1, 1], shape=(2,), num_steps=3)
    recorded = run_lava(python, lava.to_input(events), 7)
    assert recorded.tolist() == [[1, 0, 0, 1, 0, 0, 1], [0, 0, 1, 0, 0, 1, 0]]  # column s of 0..6 is s % 3
    back = lava.from_output(recorded, (2,))
    assert (back.t.tolist(), back.x.tolist(), back.num_steps) == ([0, 2, 3, 5, 6], [0, 1, 0, 1, 0], 7)


def test_bad_input_gets_our_error_before_lava_runs() -> None:
    steps = Events(t=[0, 0], x=[1, 1], y=[0, 0], p=[1, 0], shape=(2,), num_steps=2)
    with pytest.raises(OptionError, match="step events are on their grid"):
        lava.to_input(steps, duplicates="keep", dt_us=1000)
    with pytest.raises(EventsError, match=r"neuron 1 has 2 events in column 0.*duplicates='merge'"):
        lava.to_input(steps)
    assert lava.to_input(steps, "split").tolist() == [[0, 0], [1, 0], [0, 0], [1, 0]]  # one per neuron
    assert lava.to_input(steps, duplicates="merge").tolist() == [[0, 0], [1, 0]]
    with pytest.raises(OptionError, match="duplicates must be one of"):
        lava.to_input(steps, duplicates="drop")  # type: ignore[arg-type]
    microseconds = Events(t=[10], x=[0], y=[0], p=[1], shape=(2,))
    with pytest.raises(OptionError, match="microsecond events need dt_us"):
        lava.to_input(microseconds)
    with pytest.raises(EventsError, match="past the 1 rows"):
        lava.to_input(microseconds, dt_us=5, num_steps=1)
    with pytest.raises(OptionError, match="needs at least one column"):
        lava.to_input(Events(t=[], x=[], y=[], p=[], shape=(2,)), dt_us=1000)


def test_what_a_sink_recorded_is_checked() -> None:
    recorded = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    with pytest.raises(EventsError, match="neuron 1 spikes in row 0, before the 1-step delay"):
        lava.from_output(recorded, (2,), delay=1)
    with pytest.raises(OptionError, match="delay must be an int from 0 to the 3 rows"):
        lava.from_output(recorded, (2,), delay=4)
    with pytest.raises(EventsError, match="whole spike counts"):
        lava.from_output(recorded * 0.5, (2,))
    with pytest.raises(EventsError, match="outside the 1 neurons"):
        lava.from_output(recorded, (1,))
    sink_shape = lava.from_output(recorded.reshape(1, 2, 3), (2,))  # a sink of shape (1, 2)
    assert (sink_shape.t.tolist(), sink_shape.x.tolist()) == ([0, 1], [1, 0])
