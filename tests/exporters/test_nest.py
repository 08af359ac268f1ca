"""Tests of exporters/nest.py: events through the real NEST 3.10, generators to recorder and back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import EventsError, OptionError
from exporters import nest as nest_format
from exporters import neurons

nest = simulator("nest", reason="nest-simulator is in the test extra")
nest.verbosity = nest.VerbosityLevel.ERROR


def through_nest(events: Events, polarity: str, dt_us: int | None) -> Events:
    """Generators -> parrot neurons (one resolution step of delay) -> recorder, then back."""
    nest.ResetKernel()
    per_sample = neurons.neurons_per_sample(events.shape, events.polarities, polarity)  # type: ignore[arg-type]
    parrots = nest.Create("parrot_neuron", events.num_samples * per_sample)
    nest_format.generators(events, polarity, dt_us=dt_us, target=parrots)  # type: ignore[arg-type]
    recorder = nest.Create("spike_recorder")
    nest.Connect(parrots, recorder)
    _, _, time_us = neurons.spikes(events, polarity, dt_us=dt_us)  # type: ignore[arg-type]
    nest.Simulate(float(time_us.max(initial=0)) / 1000 + 1.0)
    return nest_format.from_output(
        recorder,
        parrots[0].global_id,
        events.shape,
        polarities=events.polarities,
        polarity=polarity,  # type: ignore[arg-type]
        samples=events.num_samples,
        dt_us=dt_us,
        delay_us=100,
        num_steps=events.num_steps,
    )


@st.composite
def batches(draw: st.DrawFn) -> Events:
    """Random batches: shapes with channels or not, both polarities, steps or on-grid microseconds."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    samples, n = draw(st.integers(1, 3)), draw(st.integers(0, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = draw(st.booleans())
    spikes = torch.zeros(6, samples, *shape)
    cells = rng.integers(0, spikes.numel(), n)
    spikes.view(-1)[torch.from_numpy(cells)] = torch.from_numpy(rng.choice([-1.0, 1.0], n)).float()
    events = Events.from_dense(spikes)
    return events if steps else events.to_us(dt_us=300, t0_us=200)  # on NEST's 0.1 ms grid


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.sampled_from(["merge", "split", "on"]))
def test_events_through_nest_come_back_exactly(events: Events, polarity: str) -> None:
    dt_us = 1000 if events.time_unit == "step" else None
    back = through_nest(events, polarity, dt_us)
    if polarity == "split":
        assert back == events  # every event, with its polarity
    else:
        kept = events.p if polarity == "on" else torch.ones_like(events.p)
        expected = sorted(
            zip(
                events.sample_ids()[kept].tolist(),
                events.t[kept].tolist(),
                events.x[kept].tolist(),
                events.y[kept].tolist(),
                strict=True,
            )
        )
        got = sorted(
            zip(back.sample_ids().tolist(), back.t.tolist(), back.x.tolist(), back.y.tolist(), strict=True)
        )
        assert got == expected


def test_off_grid_times_go_up_and_duplicates_follow_the_policy() -> None:
    events = Events(t=[1040, 1090, 1500], x=[0, 0, 1], y=[0, 0, 0], p=[1, 1, 1], shape=(2,))
    assert nest_format.to_input(events) == [{"spike_times": [1.1, 1.1]}, {"spike_times": [1.5]}]
    assert nest_format.to_input(events, duplicates="merge")[0] == {"spike_times": [1.1]}
    with pytest.raises(EventsError, match="neuron 0 spikes twice in the bin at 1100 us"):
        nest_format.to_input(events, duplicates="error")
    nest.ResetKernel()
    generators = nest_format.generators(events)
    assert [list(times) for times in generators.get("spike_times")] == [[1.1, 1.1], [1.5]]


def test_step_zero_is_sent_after_t_zero_and_bad_input_gets_our_error() -> None:
    steps = Events(t=[0], x=[0], y=[0], p=[1], shape=(1,), num_steps=1)
    assert nest_format.to_input(steps, dt_us=1000) == [{"spike_times": [1.0]}]  # NEST refuses t = 0
    with pytest.raises(OptionError, match="need dt_us"):
        nest_format.to_input(steps)
    with pytest.raises(OptionError, match="dt_us must be a positive whole number"):
        nest_format.to_input(steps, dt_us=-5)
    nest.ResetKernel()
    with pytest.raises(OptionError, match="target has 3 neurons but the events drive 1"):
        nest_format.generators(steps, dt_us=1000, target=nest.Create("parrot_neuron", 3))
