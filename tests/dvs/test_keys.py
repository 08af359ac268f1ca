"""The key of an event packs its time offset and source into one integer: sorted keys decode to the
events in time order (ties by source), on numpy's path (CPU) and torch's (other devices)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eventcode.dvs import keys

WIDTH, HEIGHT = 7, 5
PIXELS = WIDTH * HEIGHT


def expected(parts: list[tuple[np.ndarray, np.ndarray]], start: int, polarity: np.ndarray, noise: np.ndarray):
    """The events by a plain lexsort of (offset, source), decoded by hand."""
    offset = np.concatenate([o for o, _ in parts]).astype(np.int64)
    source = np.concatenate([s for _, s in parts]).astype(np.int64)
    order = np.lexsort((source, offset))
    offset, source = offset[order], source[order]
    pixel = np.where(source < PIXELS, source, noise[np.maximum(source - PIXELS, 0)] if len(noise) else 0)
    return offset + start, pixel % WIDTH, pixel // WIDTH, polarity[source]


def interval_of(parts, start, polarity, noise, span_us, sort=keys.sort) -> keys.Interval:
    tensors = [(torch.from_numpy(o), torch.from_numpy(s)) for o, s in parts]
    sources = PIXELS + len(noise)
    noisy = torch.from_numpy(noise) if len(noise) else None
    packed = sort(tensors, sources, span_us) if sort is keys.sort else sort(tensors, sources)
    return keys.Interval(start, packed, sources, PIXELS, torch.from_numpy(polarity), noisy)


@st.composite
def intervals(draw: st.DrawFn) -> tuple:
    span = draw(st.sampled_from([0, 1, 33_333, 2**27]))  # 2**27 us: keys over 32 bits
    noise = np.array(sorted(draw(st.sets(st.integers(0, PIXELS - 1), max_size=6))), np.int64)
    signal = draw(st.lists(st.tuples(st.integers(0, span), st.integers(0, PIXELS - 1)), max_size=40))
    parts = [
        (np.array([o for o, _ in signal], np.float32), np.array([s for _, s in signal], np.int32)),
    ]
    if len(noise):
        noise_offsets = draw(st.lists(st.integers(0, span), min_size=len(noise), max_size=len(noise)))
        parts.append(
            (np.array(noise_offsets, np.float32), np.arange(PIXELS, PIXELS + len(noise), dtype=np.int32))
        )
    polarity = np.array(
        draw(st.lists(st.booleans(), min_size=PIXELS + len(noise), max_size=PIXELS + len(noise)))
    )
    start = draw(st.integers(0, 2**40))
    return parts, start, polarity, noise, span


@settings(max_examples=200, deadline=None)
@given(st.lists(intervals(), min_size=1, max_size=3))
def test_sorted_keys_decode_to_the_events_in_time_then_source_order(drawn: list) -> None:
    events = keys.stream([interval_of(*args) for args in drawn], (HEIGHT, WIDTH), torch.device("cpu"))
    want = [np.concatenate(column) for column in zip(*(expected(*args[:4]) for args in drawn), strict=True)]
    got = (events.t.numpy(), events.x.numpy(), events.y.numpy(), events.p.numpy())
    for mine, theirs in zip(got, want, strict=True):
        np.testing.assert_array_equal(mine, theirs)


@settings(max_examples=100, deadline=None)
@given(st.lists(intervals(), min_size=1, max_size=3))
def test_torch_keys_decode_as_numpy_keys(drawn: list) -> None:
    """The other devices' path (int64 tensors), run on the CPU, against numpy's."""
    by_numpy = keys.stream([interval_of(*args) for args in drawn], (HEIGHT, WIDTH), torch.device("cpu"))
    columns = [
        torch.empty(len(by_numpy), dtype=d) for d in (torch.int64, torch.int16, torch.int16, torch.bool)
    ]
    keys._decode([interval_of(*args, sort=keys._sort_torch) for args in drawn], WIDTH, columns)
    for mine, theirs in zip(columns, (by_numpy.t, by_numpy.x, by_numpy.y, by_numpy.p), strict=True):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize(("span_us", "dtype"), [(33_333, np.uint32), (2**27, np.uint64)])
def test_keys_are_32_bit_where_they_fit(span_us: int, dtype: type) -> None:
    part = (torch.tensor([float(span_us)]), torch.tensor([PIXELS - 1], dtype=torch.int32))
    assert keys.sort([part], PIXELS, span_us).dtype == dtype


def test_no_intervals_give_an_empty_stream() -> None:
    events = keys.stream([], (HEIGHT, WIDTH), torch.device("cpu"))
    assert len(events) == 0
    assert events.sensor_size == (WIDTH, HEIGHT, 2)
