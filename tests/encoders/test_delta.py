"""Tests of eventcode/encoders/delta.py against snnTorch 1.0.0 and its reference vectors."""

from __future__ import annotations

import importlib

import pytest
import torch
from conftest import check_encoder_output
from hypothesis import given
from hypothesis import strategies as st

from eventcode import delta, spikegen
from eventcode.errors import EncodingError

snn = pytest.importorskip("snntorch.spikegen", reason="snntorch is in the test extra")
delta_module = importlib.import_module("eventcode.encoders.delta")

OPTIONS = [
    {"threshold": threshold, "padding": padding, "off_spike": off_spike}
    for threshold in (-0.25, 0.0, 0.1, 0.25, 0.5, 1)
    for padding in (False, True)
    for off_spike in (False, True)
]


@st.composite
def frame_sequences(draw: st.DrawFn) -> torch.Tensor:
    """``[T, B, ...]`` frames on a grid of tenths or quarters, so that ties with the threshold occur."""
    shape = (draw(st.integers(1, 7)), draw(st.integers(1, 3)), *draw(st.lists(st.integers(1, 3), max_size=3)))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    step = draw(st.sampled_from([0.1, 0.25]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16]))
    return (torch.randint(-4, 5, shape, generator=gen) * step).to(dtype)


@given(frame_sequences(), st.sampled_from(OPTIONS))
def test_matches_snntorch(frames: torch.Tensor, options: dict) -> None:
    expected = snn.delta(frames, **options)
    assert torch.equal(spikegen.delta(frames, **options), expected)
    events = delta(frames, **options)
    assert torch.equal(events.dense(dtype=frames.dtype), expected)
    assert len(events) >= int(expected.abs().sum())  # ON + OFF at one place cancel in the dense form


def test_float32_ties_decide_as_snntorch() -> None:
    frames = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.35, 0.45])[:, None]
    events = delta(frames, threshold=0.1)
    assert events.t.tolist() == [1, 2, 3]  # 0.45 - 0.35 = 0.099999994 < 0.1 in float32
    assert torch.equal(events.dense(), snn.delta(frames, threshold=0.1))


def test_zero_threshold_with_off_spikes_fires_both_off_first() -> None:
    frames = torch.tensor([[1.0], [1.0]])
    events = delta(frames, threshold=0.0, padding=True, off_spike=True)
    assert events.t.tolist() == [0, 0, 1, 1]
    assert events.p.tolist() == [False, True, False, True]
    assert torch.equal(events.dense(), torch.zeros(2, 1))


def test_reference_vectors(vectors) -> None:
    entries = [e for e in vectors.entries("delta/") if "out" in e]
    assert len(entries) >= 36
    for entry in entries:
        source = entry["input"]
        data = vectors.tensor(source) if isinstance(source, str) else torch.tensor(source)
        expected = vectors.tensor(entry["out"]).float()
        assert torch.equal(spikegen.delta(data, **entry["kwargs"]), expected), entry["key"]
        batched = data if data.dim() > 1 else data[:, None]
        events = delta(batched, **entry["kwargs"])
        assert torch.equal(events.dense().reshape(expected.shape), expected), entry["key"]


def test_integer_frames_keep_their_dtype(vectors) -> None:
    (entry,) = vectors.entries("delta/int_input")
    frames = torch.tensor([[0], [3], [1]])
    result = spikegen.delta(frames, **entry["kwargs"])
    assert result.dtype == torch.int64
    assert result.reshape(-1).tolist() == entry["out_values"]
    assert torch.equal(result, snn.delta(frames, **entry["kwargs"]))


@given(frame_sequences(), st.sampled_from(OPTIONS), st.integers(1, 40))
def test_groups_of_samples_give_the_same_events(frames: torch.Tensor, options: dict, chunk: int) -> None:
    whole = delta(frames, **options)
    original = delta_module.CHUNK_ELEMENTS
    delta_module.CHUNK_ELEMENTS = chunk
    try:
        assert delta(frames, **options) == whole
    finally:
        delta_module.CHUNK_ELEMENTS = original


def test_events_are_valid_and_in_order() -> None:
    frames = torch.rand(12, 3, 2, 5, 6, generator=torch.Generator().manual_seed(0))
    events = delta(frames, threshold=0.2, off_spike=True)
    check_encoder_output(events)


def test_unbatched_sequences_and_errors() -> None:
    sequence = torch.tensor([0.0, 1.0, 0.0])
    assert delta(sequence[:, None]) == delta(sequence, batched=False)
    with pytest.raises(EncodingError, match="batched=False"):
        delta(sequence)
    with pytest.raises(EncodingError, match=r"data\[1, 0, 0\] = nan"):
        delta(torch.tensor([0.0, float("nan")])[:, None, None], batched=False)
    with pytest.raises(EncodingError, match="bool"):
        delta(torch.ones(2, 2, dtype=torch.bool))
    assert delta(torch.zeros(3, 0, 4)).num_samples == 0


def test_half_precision_changes_decide_as_snntorch() -> None:
    grid = torch.randint(-10, 11, (20, 8, 16), generator=torch.Generator().manual_seed(0)) * 0.05
    for dtype, threshold in ((torch.float16, 0.1), (torch.bfloat16, 0.3)):
        frames = grid.to(dtype)
        expected = snn.delta(frames, threshold=threshold, off_spike=True)
        in_float32 = snn.delta(frames.float(), threshold=threshold, off_spike=True)
        assert not torch.equal(expected.float(), in_float32)  # ties decide differently in half precision
        events = delta(frames, threshold=threshold, off_spike=True)
        assert torch.equal(events.dense(dtype=dtype), expected)


def test_flattened_frames_have_snntorchs_layout() -> None:
    video = torch.rand(10, 28, 28, generator=torch.Generator().manual_seed(2))
    for frames in (video.flatten(1), video.flatten(1)[:, None]):  # 784 sequences of (), or one of (784,)
        expected = snn.delta(frames, threshold=0.2, off_spike=True)
        events = delta(frames, threshold=0.2, off_spike=True)
        assert events.num_samples == frames.shape[1]
        assert torch.equal(events.dense().reshape(expected.shape), expected)


@pytest.mark.cuda
def test_cuda_matches_cpu() -> None:
    frames = torch.rand(20, 8, 1, 28, 28)
    for options in OPTIONS:
        assert delta(frames.cuda(), **options).to("cpu") == delta(frames, **options)
