"""Tests of exporters/xylo.py: events through Rockpool 3.1's XyloSim (Xylo Audio 2) and back."""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
import pytest
import samna_stub
import torch
from conftest import simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import EventsError, OptionError, OptionTypeError
from exporters import neurons, xylo

simulator("xylosim", reason="xylosim (XyloSim's C++ core) is in the test extra")
simulator("rockpool", reason="rockpool is in the test extra")
with samna_stub.installed():  # rockpool.devices.xylo imports samna, which XyloSim never uses
    XyloSim = importlib.import_module("rockpool.devices.xylo.syns61201").XyloSim

RELAY = 50
"""A relay neuron's threshold; its input weight is twice that, its self-inhibition minus that."""


def relay(n: int) -> Any:
    """``n`` hidden neurons, neuron ``i`` spiking exactly as often as channel ``i`` has events (0-15),
    in the same step, whatever came before.

    An input event adds ``2 * RELAY`` to the synaptic current, which halves (``dash_syn=1``) before
    it joins the membrane: ``RELAY`` per event; the membrane forgets (``dash_mem=0``) and spikes once
    per ``RELAY`` (its threshold), so it ends each step at 0. The half left in the synaptic current
    is taken out in the next step by the neuron's own spikes (recurrent weight ``-RELAY`` each), so
    the current starts every step at 0: nothing carries over. The readout is left unconnected.
    """
    eye = np.eye(n, dtype=int)
    return XyloSim.from_specification(
        weights_in=2 * RELAY * eye,
        weights_out=np.zeros((n, 1), dtype=int),
        weights_rec=-RELAY * eye,
        dash_syn=np.ones(n, dtype=int),
        dash_mem=np.zeros(n, dtype=int),
        threshold=np.full(n, RELAY),
    )


@st.composite
def batches(draw: st.DrawFn) -> tuple[Events, str, int | None, int]:
    """``(events, polarity, dt_us, num_steps)``: 1-2 samples whose channels fit Xylo's 16, shapes
    with and without channels, OFF/ON or 1-polarity, up to 15 events per sample (so no channel gets
    more than 15 in a step), often many in one cell; steps, or microseconds anywhere in a bin."""
    polarity = draw(st.sampled_from(["merge", "on", "split"]))
    polarities, samples = draw(st.sampled_from([2, 1])), draw(st.integers(1, 2))
    budget = xylo.INPUT_CHANNELS // (samples * (2 if polarity == "split" and polarities == 2 else 1))
    shape: tuple[int, ...] = ()
    for _ in range(draw(st.integers(1, 3))):
        shape += (draw(st.integers(1, budget // math.prod(shape))),)
    steps, rng = draw(st.integers(1, 6)), np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    counts = [draw(st.just(15) | st.integers(0, 15)) for _ in range(samples)]
    sample = np.repeat(np.arange(samples), counts)
    n, burst = len(sample), draw(st.booleans())  # a burst: every event of a sample in one cell
    t = rng.integers(0, steps, samples)[sample] if burst else rng.integers(0, steps, n)
    flat = (
        rng.integers(0, math.prod(shape), samples)[sample] if burst else rng.integers(0, math.prod(shape), n)
    )
    p = rng.integers(0, 2, n) if polarities == 2 else rng.integers(0, 2, samples)[sample]
    dt_us = draw(st.sampled_from([None, 1, 7, 1000]))
    if dt_us is not None:
        t = t * dt_us + rng.integers(0, dt_us, n)
    order = np.lexsort((p, flat, t, sample))
    t, flat, p = t[order], flat[order], p[order]
    dims = np.unravel_index(flat, shape)
    events = Events(
        t=t,
        x=dims[-1],
        y=dims[-2] if len(shape) > 1 else np.zeros(n, dtype=int),
        c=dims[0] if len(shape) == 3 and shape[0] > 1 else None,
        p=p,
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        shape=shape,
        num_steps=steps if dt_us is None else None,
        polarities=polarities,
    )
    return events, polarity, dt_us, steps


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_events_through_xylosim_relay_come_back_exactly(case: tuple[Events, str, int | None, int]) -> None:
    events, polarity, dt_us, steps = case
    raster = xylo.to_input(events, polarity, dt_us=dt_us, num_steps=steps)  # type: ignore[arg-type]
    _, _, rec = relay(raster.shape[1])(raster, record=True)
    back = xylo.from_output(
        rec["Spikes"],
        events.shape,
        dt_us=dt_us,
        polarities=events.polarities,
        polarity=polarity,
        samples=events.num_samples,
    )
    split = polarity == "split" and events.polarities == 2
    kept = events.p if polarity == "on" and events.polarities == 2 else torch.ones_like(events.p)
    t = events.t if dt_us is None else events.t // dt_us * dt_us  # a microsecond event: its bin's start
    c = events.c if events.c is not None else torch.zeros_like(events.x)
    p = events.p if split else torch.ones_like(events.p)
    expected = sorted(
        zip(
            *(column[kept].tolist() for column in (events.sample_ids(), t, c, events.y, events.x, p)),
            strict=True,
        )
    )
    c_back = back.c if back.c is not None else torch.zeros_like(back.x)
    got = list(
        zip(
            *(column.tolist() for column in (back.sample_ids(), back.t, c_back, back.y, back.x, back.p)),
            strict=True,
        )
    )
    assert got == expected  # every event, in its step, with its count
    assert back.shape == events.shape
    assert back.num_samples == events.num_samples
    assert back.polarities == (2 if split else 1 if events.polarities == 1 else 0)
    assert (back.time_unit, back.num_steps) == (("step", steps) if dt_us is None else ("us", None))
    if split and dt_us is None:
        assert back == events


def test_a_hand_set_neuron_fires_in_the_step_both_inputs_spike_and_the_readout_one_step_later() -> None:
    # Hidden neuron 0 sums channels 0 and 1, weight 20 each, on a synaptic current that halves before
    # it joins a membrane that forgets (dash_syn=1, dash_mem=0), threshold 15: both inputs give 20
    # (one spike), one gives 10 (none). The current then runs 10, 5, 3, 2, 1, 0: inputs 8 steps apart
    # meet a neuron at rest. The readout (weight 100, halved to 50, threshold 40) repeats each spike
    # one step later, once.
    both, first_only, second_only = [8, 32], [16], [24, 40]
    t = sorted([(s, 0) for s in both + first_only] + [(s, 1) for s in both + second_only])
    steps, n = 49, len(t)
    events = Events(
        t=[s for s, _ in t], x=[x for _, x in t], y=[0] * n, p=[1] * n, shape=(2,), num_steps=steps
    )
    one = np.ones(1, dtype=int)
    sim = XyloSim.from_specification(
        weights_in=np.array([[20], [20]]),
        weights_out=np.array([[100]]),
        dash_syn=one,
        dash_mem=0 * one,
        threshold=15 * one,
        dash_syn_out=one,
        dash_mem_out=0 * one,
        threshold_out=40 * one,
    )
    out, _, rec = sim(xylo.to_input(events), record=True)
    inputs = np.array(both + first_only + second_only)
    assert not rec["Isyn"][inputs - 1].any()  # at rest before each input
    assert not rec["Vmem"][inputs - 1].any()
    assert np.flatnonzero(rec["Spikes"][:, 0]).tolist() == both  # the inputs' step
    assert np.flatnonzero(out[:, 0]).tolist() == [s + 1 for s in both]  # the readout: one step later
    hidden = xylo.from_output(rec["Spikes"], (1,))
    readout = xylo.from_output(out, (1,), delay=xylo.READOUT_DELAY)
    assert hidden.t.tolist() == readout.t.tolist() == both
    assert hidden.num_steps == steps
    assert readout.num_steps == steps - 1
    assert xylo.from_output(out, (1,)).t.tolist() == [9, 33]  # without the delay: late


def test_counts_over_15_get_our_error_or_are_clipped_as_xylosim_clips_them() -> None:
    events = Events(t=[1] + [5] * 17, x=[0] + [3] * 17, y=[0] * 18, p=[1] * 18, shape=(4,), num_steps=7)
    with pytest.raises(EventsError, match=r"channel 3 \(sample 0, neuron 3\) gets 17 events in step 5;"):
        xylo.to_input(events)
    clipped = xylo.to_input(events, clip=True)
    expected = np.zeros((7, 4), dtype=np.int64)
    expected[1, 0], expected[5, 3] = 1, 15
    assert clipped.dtype == np.int64
    assert np.array_equal(clipped, expected)
    _, _, rec = relay(4)(clipped, record=True)
    assert np.array_equal(rec["Spikes"], expected)  # XyloSim takes the clipped raster, spike for spike
    _, _, rec = relay(4)(neurons.raster(events), record=True)
    assert np.array_equal(rec["Spikes"], expected)  # given 17, XyloSim silently uses 15
    with pytest.raises(TypeError):  # the raster reaches C++ as uint8
        relay(4)(np.full((1, 4), 256))
    in_us = events.to_us(dt_us=1000)
    with pytest.raises(EventsError, match=r"gets 17 events in step 5 \(from 5000 us\)"):
        xylo.to_input(in_us, dt_us=1000)
    with pytest.raises(EventsError, match=r"channel 7 \(sample 1, neuron 3\) gets 17"):
        xylo.to_input(Events.cat([events.time_slice(0, 2), events]))


def test_more_channels_than_xylo_has_get_our_error_unless_check_limits_is_off() -> None:
    wide = Events(t=[0, 2], x=[16, 3], y=[0, 0], p=[1, 1], shape=(17,), num_steps=3)
    with pytest.raises(OptionError, match=r"at most 16 input channels, but 1 sample\(s\) of shape \(17,\)"):
        xylo.to_input(wide)
    raster = xylo.to_input(wide, check_limits=False)
    assert raster.shape == (3, 17)
    assert raster[0, 16] == raster[2, 3] == 1
    square = Events(t=[0], x=[2], y=[2], p=[0], shape=(3, 3), num_steps=1)
    with pytest.raises(OptionError, match=r"polarity='split' need 18; .*polarity='merge'"):
        xylo.to_input(square, "split")
    assert xylo.to_input(square).shape == (1, 9)
    with pytest.raises(OptionError, match=r"2 sample\(s\) .* need 18; .*one sample at a time"):
        xylo.to_input(Events.cat([square, square]))
    assert xylo.to_input(Events(t=[0], x=[15], y=[0], p=[1], shape=(16,), num_steps=1)).shape == (1, 16)


def test_bad_input_gets_our_error() -> None:
    steps = Events(t=[0], x=[0], y=[0], p=[1], shape=(2,), num_steps=1)
    with pytest.raises(OptionError, match="step events are on their grid already"):
        xylo.to_input(steps, dt_us=1000)
    with pytest.raises(OptionError, match="microsecond events need dt_us"):
        xylo.to_input(steps.to_us(dt_us=1000))
    with pytest.raises(OptionTypeError, match=r"xylo\.to_input takes an eventcode\.Events"):
        xylo.to_input(np.zeros((1, 2)))  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="polarity must be one of"):
        xylo.to_input(steps, "both")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="delay must be an int from 0 to the 2 rows"):
        xylo.from_output(np.zeros((2, 2)), (2,), delay=-1)
    with pytest.raises(EventsError, match="neuron 1 spikes in row 0, before the 1-step delay"):
        xylo.from_output(np.array([[0, 1], [0, 0]]), (2,), delay=1)
    with pytest.raises(EventsError, match="neuron 2 is outside the 2 neurons"):
        xylo.from_output(np.array([[0, 0, 1]]), (2,))
    with pytest.raises(EventsError, match=r"a raster is \[T, N\]"):
        xylo.from_output(np.zeros(3), (3,), delay=1)
