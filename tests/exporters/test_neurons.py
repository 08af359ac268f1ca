"""Tests of exporters/neurons.py: addresses <-> neuron indices and times, for every simulator adapter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcode import Events, address
from eventcode.errors import EventsError, OptionError
from exporters import neurons


@st.composite
def batches(draw: st.DrawFn) -> Events:
    """Random events: 1-D, 2-D or channel shapes, several samples, both polarities, steps or us."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    samples, n = draw(st.integers(1, 3)), draw(st.integers(0, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sample = np.sort(rng.integers(0, samples, n))
    steps = draw(st.booleans())
    t = rng.integers(0, 6 if steps else 10**6, n)
    t = t[np.lexsort((t, sample))]
    flat = torch.from_numpy(rng.integers(0, math.prod(shape), n))
    x, y, c = address.split(flat, shape)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(sample, minlength=samples))])
    return Events(
        t, x, y, rng.random(n) < 0.5, c=c, offsets=offsets, shape=shape, num_steps=6 if steps else None
    )


def records(events: Events, with_polarity: bool) -> list[tuple]:
    """Each event as ``(sample, t, c, y, x, p)``, sorted (``p`` True without polarity)."""
    c = events.c.tolist() if events.c is not None else [0] * len(events)
    p = events.p.tolist() if with_polarity else [True] * len(events)
    columns = (events.sample_ids().tolist(), events.t.tolist(), c, events.y.tolist(), events.x.tolist(), p)
    return sorted(zip(*columns, strict=True))


@given(batches(), st.sampled_from(["merge", "on", "split"]), st.integers(0, 3))
def test_spikes_back_to_events_gives_the_events_the_mapping_keeps(
    events: Events, polarity: str, offset: int
) -> None:
    dt_us = 1000 if events.time_unit == "step" else None
    _, neuron, time_us = neurons.spikes(events, polarity, stack=True, dt_us=dt_us, offset=offset)  # type: ignore[arg-type]
    back = neurons.events(
        neuron,
        time_us,
        events.shape,
        polarity=polarity,  # type: ignore[arg-type]
        samples=events.num_samples,
        dt_us=dt_us,
        offset=offset,
        num_steps=events.num_steps,
    )
    expected = records(events, with_polarity=polarity == "split")
    if polarity == "on":  # OFF events dropped
        expected = [(*record[:5], True) for record in records(events, True) if record[5]]
    assert records(back, with_polarity=True) == expected
    assert back.polarities == (2 if polarity == "split" else 0)
    if dt_us is not None and len(time_us):
        assert int(time_us.min()) >= offset * dt_us  # step k is sent at (k + offset) * dt_us


def test_split_uses_an_off_then_an_on_block_and_one_block_on_a_one_polarity_sensor() -> None:
    events = Events(t=[0, 0], x=[1, 1], y=[0, 0], p=[0, 1], shape=(3,), num_steps=1)
    assert neurons.spikes(events, "split", dt_us=1)[1].tolist() == [1, 4]
    assert neurons.neurons_per_sample((3,), 2, "split") == 6
    one = Events(t=[0], x=[2], y=[0], p=[1], shape=(3,), num_steps=1, polarities=1)
    assert neurons.spikes(one, "split", dt_us=1)[1].tolist() == [2]
    assert neurons.neurons_per_sample((3,), 1, "split") == 3


def test_grid_rounding_and_the_duplicates_policies() -> None:
    neuron, time_us = np.array([0, 0, 1]), np.array([1040, 1090, 300])
    assert neurons.on_grid(neuron, time_us, 100, "keep")[1].tolist() == [1100, 1100, 300]
    assert neurons.on_grid(neuron, time_us, 100, "merge")[0].tolist() == [0, 1]
    assert neurons.on_grid(neuron, time_us, 100, "keep", rounding="down")[1].tolist() == [1000, 1000, 300]
    with pytest.raises(EventsError, match="neuron 0 spikes twice in the bin at 1100 us"):
        neurons.on_grid(neuron, time_us, 100)


def test_bad_arguments_get_our_error_before_any_simulator() -> None:
    steps = Events(t=[0], x=[0], y=[0], p=[1], shape=(1,), num_steps=1)
    with pytest.raises(OptionError, match="need dt_us"):
        neurons.spikes(steps)
    with pytest.raises(OptionError, match="dt_us must be a positive whole number"):
        neurons.spikes(steps, dt_us=-5)
    with pytest.raises(OptionError, match="polarity must be one of"):
        neurons.spikes(steps, "both", dt_us=1)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="offset must be a non-negative int"):
        neurons.spikes(steps, dt_us=1, offset=-1)
    with pytest.raises(EventsError, match="neuron 9 is outside the 2 neurons"):
        neurons.events(np.array([9]), np.array([1000]), (2,))
    with pytest.raises(EventsError, match="not a step"):
        neurons.events(np.array([0]), np.array([1500]), (2,), dt_us=1000)


@given(batches(), st.sampled_from(["merge", "on", "split"]))
def test_raster_counts_each_neurons_spikes_per_row_and_reads_back(events: Events, polarity: str) -> None:
    dt_us = None if events.time_unit == "step" else 250_000
    counts = neurons.raster(events, polarity, dt_us=dt_us)  # type: ignore[arg-type]
    numel = math.prod(events.shape)
    split = polarity == "split"
    expected = np.zeros((counts.shape[0], events.num_samples * numel * (2 if split else 1)), dtype=np.int64)
    for sample, t, c, y, x, p in records(events, with_polarity=True):
        if polarity == "on" and not p:
            continue
        flat = (c * events.shape[-2] + y) * events.shape[-1] + x if len(events.shape) > 1 else x
        neuron = sample * numel * (2 if split else 1) + (numel if split and p else 0) + flat
        expected[t if dt_us is None else t // dt_us, neuron] += 1
    assert np.array_equal(counts, expected)
    last = int(events.t.max()) // 250_000 + 1 if len(events) else 0
    assert counts.shape[0] == (events.num_steps if dt_us is None else last)
    back = neurons.from_raster(
        counts,
        events.shape,
        dt_us=dt_us,
        polarity=polarity,
        samples=events.num_samples,  # type: ignore[arg-type]
    )
    binned = [
        (s, t if dt_us is None else t // dt_us * dt_us, c, y, x, p if split else True)
        for s, t, c, y, x, p in records(events, with_polarity=True)
        if polarity != "on" or p
    ]
    assert records(back, with_polarity=True) == sorted(binned)


def test_raster_refuses_what_it_cannot_grid() -> None:
    steps = Events(t=[0, 3], x=[0, 1], y=[0, 0], p=[1, 1], shape=(2,), num_steps=4)
    with pytest.raises(OptionError, match="step events are on their grid"):
        neurons.raster(steps, dt_us=1000)
    with pytest.raises(OptionError, match="need dt_us"):
        neurons.raster(steps.to_us(dt_us=1000))
    with pytest.raises(EventsError, match="row 3, past the 2 rows"):
        neurons.raster(steps, num_steps=2)
    with pytest.raises(EventsError, match="non-negative whole spike counts"):
        neurons.from_raster(np.array([[0.5, 1.0]]), (2,))
    with pytest.raises(EventsError, match=r"a raster is \[T, N\]"):
        neurons.from_raster(np.zeros(3), (3,))
    assert neurons.from_raster(np.array([[0.0, 2.0]]), (2,)).x.tolist() == [1, 1]  # Lava records floats
