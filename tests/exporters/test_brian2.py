"""Tests of exporters/brian2.py: events through the real Brian2 2.9, generator to monitor and back.

Brian2 2.9 needs numpy < 2.4, so these run in their own environment (see exporters/brian2.py);
elsewhere the module is skipped. Every run builds its own ``Network``: no state is shared.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
import torch
from conftest import simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import DependencyError, EventsError, OptionError
from exporters import brian2 as brian2_format
from exporters import neurons

b2: Any = simulator("brian2", reason="Brian2 2.9 needs numpy < 2.4: run these in a venv that has it")
b2.prefs.codegen.target = "numpy"  # the Cython target compiles for over a minute on first use


def recorded(source: Any, *others: Any, until_us: int) -> Any:
    """Run ``source`` (and ``others``) in a fresh network for ``until_us``; the monitor of ``source``."""
    monitor = b2.SpikeMonitor(source)
    b2.Network(source, monitor, *others).run(until_us * b2.us)
    return monitor


def pairs(indices: Any, times: Any) -> list[tuple[int, int]]:
    """``(neuron, time in whole us)`` pairs, sorted, from Brian2 indices and times in seconds."""
    micro = np.rint(np.asarray(times, dtype=np.float64) * 1e6).astype(np.int64)
    return sorted(zip(np.asarray(indices).tolist(), micro.tolist(), strict=True))


def keys(events: Events, kept: torch.Tensor) -> list[tuple[int, ...]]:
    """``(sample, t, c, y, x)`` of the kept events, sorted (``c`` is 0 for events without channels)."""
    c = events.c if events.c is not None else torch.zeros_like(events.t)
    columns = (events.sample_ids(), events.t, c, events.y, events.x)
    return sorted(zip(*(column[kept].tolist() for column in columns), strict=True))


@st.composite
def batches(draw: st.DrawFn) -> Events:
    """Random batches: shapes with channels or not, 2, 1 or 0 polarities, steps or on-grid microseconds."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    samples, n = draw(st.integers(1, 3)), draw(st.integers(0, 30))
    polarities = draw(st.sampled_from([2, 1, 0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    spikes = torch.zeros(6, samples, *shape)
    cells = rng.integers(0, spikes.numel(), n)
    values = rng.choice([-1.0, 1.0], n) if polarities == 2 else np.ones(n)
    spikes.view(-1)[torch.from_numpy(cells)] = torch.from_numpy(values).float()
    ev = Events.from_dense(spikes)
    events = Events.from_columns(
        ev.t, ev.x, ev.y, ev.p, c=ev.c, offsets=ev.offsets, shape=ev.shape, num_steps=6, polarities=polarities
    )
    return events if draw(st.booleans()) else events.to_us(dt_us=300, t0_us=200)  # on the 0.1 ms grid


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.sampled_from(["merge", "split", "on"]))
def test_events_through_brian2_come_back_exactly(events: Events, polarity: str) -> None:
    dt_us = 1000 if events.time_unit == "step" else None
    group = brian2_format.generator(events, polarity, dt_us=dt_us)  # type: ignore[arg-type]
    assert len(group) == events.num_samples * neurons.neurons_per_sample(
        events.shape,
        events.polarities,
        polarity,  # type: ignore[arg-type]
    )
    _, _, time_us = neurons.spikes(events, polarity, dt_us=dt_us)  # type: ignore[arg-type]
    monitor = recorded(group, until_us=int(time_us.max(initial=0)) + 200)
    back = brian2_format.from_output(
        monitor,
        events.shape,
        polarities=events.polarities,
        polarity=polarity,
        samples=events.num_samples,
        dt_us=dt_us,
        num_steps=events.num_steps,
    )
    if polarity == "split":
        assert back == events  # every event, with its polarity
    else:
        kept = events.p if polarity == "on" and events.polarities == 2 else torch.ones_like(events.p)
        assert keys(back, torch.ones_like(back.p)) == keys(events, kept)


@settings(max_examples=10, deadline=None)
@given(st.data())
def test_off_grid_times_are_floored_as_brian2_floors_them(data: st.DataObject) -> None:
    # Distinct (neuron, 0.1 ms bin) pairs at random places within their bins: no duplicates.
    bins = data.draw(
        st.lists(st.tuples(st.integers(0, 4), st.integers(0, 30)), min_size=1, max_size=20, unique=True)
    )
    within = data.draw(st.lists(st.integers(0, 99), min_size=len(bins), max_size=len(bins)))
    neuron = np.array([n for n, _ in bins])
    time_us = np.array([k * 100 + r for (_, k), r in zip(bins, within, strict=True)])
    order = np.argsort(time_us, kind="stable")
    events = Events(
        t=time_us[order], x=neuron[order], y=np.zeros_like(neuron), p=np.ones_like(neuron), shape=(5,)
    )
    floor = sorted((n, k * 100) for n, k in bins)
    indices, times = brian2_format.to_input(events)
    assert pairs(indices, times) == floor
    ours = recorded(b2.SpikeGeneratorGroup(5, indices, times), until_us=3200)
    raw = recorded(b2.SpikeGeneratorGroup(5, neuron, time_us * b2.us), until_us=3200)  # Brian2's own rounding
    assert pairs(ours.i, ours.t) == pairs(raw.i, raw.t) == floor
    back = brian2_format.from_output(ours, (5,), polarities=1)
    assert sorted(zip(back.x.tolist(), back.t.tolist(), strict=True)) == floor


def test_a_time_just_below_a_grid_point_is_floored_where_brian2_would_go_up() -> None:
    # Brian2 adds dt / 1000 before flooring: at dt = 1 ms, 1.999 ms goes to 2 ms. Ours floors exactly.
    events = Events(t=[1999], x=[0], y=[0], p=[1], shape=(1,))
    indices, times = brian2_format.to_input(events, resolution_us=1000)
    assert pairs(indices, times) == [(0, 1000)]
    ours = recorded(b2.SpikeGeneratorGroup(1, indices, times, dt=1 * b2.ms), until_us=4000)
    raw = recorded(b2.SpikeGeneratorGroup(1, [0], [1999] * b2.us, dt=1 * b2.ms), until_us=4000)
    assert pairs(ours.i, ours.t) == [(0, 1000)]
    assert pairs(raw.i, raw.t) == [(0, 2000)]


def test_duplicates_are_refused_before_brian2_runs_or_merged() -> None:
    events = Events(t=[1040, 1090, 1500], x=[0, 0, 1], y=[0, 0, 0], p=[1, 1, 1], shape=(2,))
    with pytest.raises(EventsError, match="neuron 0 spikes twice in the bin at 1000 us"):
        brian2_format.to_input(events)
    with pytest.raises(EventsError, match="neuron 0 spikes twice in the bin at 1000 us"):
        brian2_format.generator(events)
    indices, times = brian2_format.to_input(events, duplicates="keep")  # passed through unchecked
    assert pairs(indices, times) == [(0, 1000), (0, 1000), (1, 1500)]
    with pytest.raises(Exception, match="spikegeneratorgroup") as refused:
        recorded(b2.SpikeGeneratorGroup(2, indices, times), until_us=2000)
    assert isinstance(refused.value.__cause__, ValueError)
    assert "spike more than once during a time step" in str(refused.value.__cause__)
    monitor = recorded(brian2_format.generator(events, duplicates="merge"), until_us=2000)
    assert pairs(monitor.i, monitor.t) == [(0, 1000), (1, 1500)]


@pytest.mark.parametrize("delay_us", [0, 500])
def test_a_driven_neuron_fires_one_dt_later_plus_the_synapse_delay(delay_us: int) -> None:
    events = Events(t=[2, 5], x=[1, 0], y=[0, 0], p=[1, 1], shape=(2,), num_steps=6, polarities=1)
    group = brian2_format.generator(events, dt_us=1000)
    target = b2.NeuronGroup(len(group), "v : 1", threshold="v > 0.5", reset="v = 0", method="exact")
    synapses = b2.Synapses(group, target, on_pre="v += 10", delay=delay_us * b2.us)
    synapses.connect(j="i")
    monitor = recorded(target, group, synapses, until_us=9000)
    dt_us = 100  # Brian2's default time step
    assert pairs(monitor.i, monitor.t) == [(0, 6000 + dt_us + delay_us), (1, 3000 + dt_us + delay_us)]
    back = brian2_format.from_output(
        monitor, (2,), polarities=1, dt_us=1000, num_steps=6, delay_us=dt_us + delay_us
    )
    assert back == events


def test_the_group_takes_its_own_dt_and_refuses_one_off_the_microsecond_grid() -> None:
    events = Events(t=[1030, 1075], x=[0, 1], y=[0, 0], p=[1, 1], shape=(2,))
    group = brian2_format.generator(events, dt=25 * b2.us, name="inputs")
    monitor = recorded(group, until_us=1200)
    assert group.name == "inputs"
    assert pairs(monitor.i, monitor.t) == [(0, 1025), (1, 1075)]
    with pytest.raises(OptionError, match=r"dt is 12\.5 us, not a whole number of microseconds"):
        brian2_format.generator(events, dt=12.5 * b2.us)


def test_bad_input_gets_our_error_before_brian2_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Brian2 was handed the input")

    monkeypatch.setattr(b2, "SpikeGeneratorGroup", refuse)
    steps = Events(t=[0], x=[0], y=[0], p=[1], shape=(1,), num_steps=1)
    for call in (brian2_format.to_input, brian2_format.generator):
        with pytest.raises(OptionError, match="need dt_us"):
            call(steps)
        with pytest.raises(OptionError, match="dt_us must be a positive whole number"):
            call(steps, dt_us=-5)
        with pytest.raises(OptionError, match="polarity must be one of"):
            call(steps, "both", dt_us=1000)  # type: ignore[arg-type]


def test_without_brian2_times_are_float_seconds_and_the_group_needs_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "brian2", None)  # as if not installed: import raises ImportError
    events = Events(t=[0, 2], x=[1, 0], y=[0, 0], p=[1, 1], shape=(3,), num_steps=3)
    indices, times = brian2_format.to_input(events, dt_us=1000)
    assert type(times) is np.ndarray
    assert times.dtype == np.float64
    assert (indices.tolist(), times.tolist()) == ([1, 0], [0.001, 0.003])
    with pytest.raises(DependencyError, match=r'pip install "eventcode\[brian2\]"'):
        brian2_format.generator(events, dt_us=1000)
