"""Tests of exporters/pynn.py: events through the real PyNN 0.13 on NEST, source to recording and back."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from conftest import simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import EventsError, OptionError
from exporters import neurons, pynn

with warnings.catch_warnings():  # pyNN.nest tries to build its extensions and NEST warns: harmless here
    warnings.simplefilter("ignore")
    sim = simulator("pyNN.nest", reason="PyNN is in the test extra")


def through_pynn(events: Events, polarity: str, dt_us: int | None) -> Events:
    """A SpikeSourceArray population sending the events, recording what it sends, read back."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.setup(timestep=0.1, min_delay=0.1)
        population = pynn.source(events, sim, polarity, dt_us=dt_us)  # type: ignore[arg-type]
        population.record("spikes")
        _, _, time_us = neurons.spikes(events, polarity, dt_us=dt_us)  # type: ignore[arg-type]
        sim.run(float(time_us.max(initial=0) // 1000) + 2.0)  # a whole number of ms, past the last spike
        recorded = population.get_data("spikes")
        sim.end()
    return pynn.from_output(
        recorded,
        events.shape,
        polarities=events.polarities,
        polarity=polarity,  # type: ignore[arg-type]
        samples=events.num_samples,
        dt_us=dt_us,
        num_steps=events.num_steps,
    )


@st.composite
def batches(draw: st.DrawFn) -> Events:
    """Random batches: shapes with channels or not, both polarities, steps or off-grid microseconds."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    samples, n = draw(st.integers(1, 3)), draw(st.integers(0, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    spikes = torch.zeros(6, samples, *shape)
    cells = torch.from_numpy(rng.integers(0, spikes.numel(), n))
    spikes.view(-1)[cells] = torch.from_numpy(rng.choice([-1.0, 1.0], n)).float()
    events = Events.from_dense(spikes)
    return events if draw(st.booleans()) else events.to_us(dt_us=337, t0_us=141)  # off PyNN's grid


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_events_through_pynn_come_back_exactly(events: Events) -> None:
    dt_us = 1000 if events.time_unit == "step" else None
    assert through_pynn(events, "split", dt_us) == events  # off-grid times too: PyNN keeps them


def test_step_zero_is_sent_after_t_zero_and_bad_input_gets_our_error() -> None:
    steps = Events(t=[0], x=[0], y=[0], p=[1], shape=(1,), num_steps=1)
    assert pynn.to_input(steps, dt_us=1000)[0].value.tolist() == [1.0]  # PyNN drops t = 0 silently
    with pytest.raises(OptionError, match="need dt_us"):
        pynn.to_input(steps)
    with pytest.raises(OptionError, match="dt_us must be a positive whole number"):
        pynn.to_input(steps, dt_us=0)
    early = Events(t=[41], x=[0], y=[0], p=[1], shape=(1,))  # PyNN would drop it in silence
    with pytest.raises(EventsError, match="neuron 0 spikes at 41 us, before the earliest time"):
        pynn.to_input(early)
