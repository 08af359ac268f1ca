"""Tests of eventcode/dense.py: events to dense and sparse tensors and back, against snnTorch."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import eventcode
from eventcode import Events, densify
from eventcode.errors import EventsError, OptionError, OptionTypeError

spikegen = pytest.importorskip("snntorch.spikegen", reason="snntorch is in the test extra")
dense_module = importlib.import_module("eventcode.dense")


@st.composite
def batches(draw: st.DrawFn) -> torch.Tensor:
    """A signed count tensor ``[T, B, *shape]`` with samples of very different lengths."""
    shape = (draw(st.integers(1, 8)), draw(st.integers(1, 6)), *draw(st.lists(st.integers(1, 4), max_size=3)))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    counts = torch.randint(-2, 3, shape, generator=gen)
    density = torch.rand(shape[1], generator=gen).view(1, -1, *[1] * (len(shape) - 2))
    return (counts * (torch.rand(shape, generator=gen) < density)).float()


@given(batches(), st.integers(1, 7), st.sampled_from(["signed", "on", "split"]))
def test_chunks_that_cut_through_samples_give_the_same_tensor(
    spikes: torch.Tensor, chunk: int, polarity: str
) -> None:
    events = Events.from_dense(spikes)
    whole = densify(events, polarity=polarity)  # type: ignore[arg-type]
    original = dense_module.SCATTER_EVENTS
    dense_module.SCATTER_EVENTS = {"cpu": chunk, "cuda": chunk}
    try:
        assert torch.equal(densify(events, polarity=polarity), whole)  # type: ignore[arg-type]
    finally:
        dense_module.SCATTER_EVENTS = original


def test_signed_on_and_split_values() -> None:
    events = Events(t=[0, 0, 0, 1], x=[1, 1, 0, 1], y=[0, 0, 0, 0], p=[1, 0, 1, 0], shape=(2,), num_steps=2)
    assert densify(events).tolist() == [[[1.0, 0.0]], [[0.0, -1.0]]]
    assert densify(events, polarity="on").tolist() == [[[1.0, 1.0]], [[0.0, 0.0]]]
    split = densify(events, polarity="split")
    assert split.shape == (2, 1, 2, 2)
    assert split[:, 0, 0].tolist() == [[0.0, 1.0], [0.0, 1.0]]  # OFF plane
    assert split[:, 0, 1].tolist() == [[1.0, 1.0], [0.0, 0.0]]  # ON plane


@pytest.mark.parametrize("polarities", [1, 0])
def test_events_of_one_kind_count_plus_one_in_every_mode(polarities: int) -> None:
    p = [polarities == 0] * 3  # a 1-polarity sensor may store its one polarity as OFF
    events = Events(t=[0, 1, 1], x=[2, 0, 0], y=[0] * 3, p=p, shape=(3,), num_steps=2, polarities=polarities)
    expected = torch.tensor([[[0.0, 0.0, 1.0]], [[2.0, 0.0, 0.0]]])
    for mode in ("signed", "on"):
        assert torch.equal(densify(events, polarity=mode), expected)
        assert torch.equal(events.to_sparse(polarity=mode).to_dense(), expected)
    split = densify(events, polarity="split")
    assert split.shape == (2, 1, 1, 3)  # one channel: the sensor's one kind of event
    assert torch.equal(split[:, :, 0], expected)
    assert torch.equal(events.to_sparse(polarity="split").to_dense(), split)
    assert densify(events, dtype=torch.uint8).tolist() == expected.to(torch.uint8).tolist()


def test_shd_audio_from_tonic_to_frames_dense_and_a_file_and_back(tmp_path: Path) -> None:
    import numpy as np

    from eventcode.frames import to_frames
    from eventcode.tonic import from_tonic, to_tonic
    from exporters import hdf5

    shd = np.zeros(4, dtype=[("t", "<f8"), ("x", "<i8"), ("p", "<i8")])  # Tonic's SHD layout
    shd["t"], shd["x"], shd["p"] = [1.0, 2.5, 2.9, 7.0], [699, 3, 3, 0], 1
    events = from_tonic(shd, sensor_size=(700, 1, 1), time_scale=1000)  # ms -> us
    assert (events.shape, events.sensor_size) == ((700,), (700, 1, 1))
    frames = to_frames(events, time_window=3000)
    assert frames.shape == (3, 1, 700)  # Tonic's audio frames: (n, P, W)
    assert frames[0, 0, 699] == 1
    assert frames[0, 0, 3] == 2
    assert frames[2, 0, 0] == 1
    steps = events.to_steps(dt_us=1000)
    dense = steps.dense()
    assert dense.shape == (8, 1, 700)
    assert dense.sum() == 4
    assert dense[2, 0, 3] == 2
    hdf5.write(tmp_path / "shd.h5", steps, dt_us=1000)
    back = hdf5.read(tmp_path / "shd.h5")
    assert back == steps
    assert to_tonic(back.to_us(1000)).dtype.names == ("x", "t", "p")


def test_output_dtypes() -> None:
    events = Events.from_dense(torch.tensor([[[2, -1, 0]]]))
    assert densify(events, dtype=torch.int8).tolist() == [[[2, -1, 0]]]
    assert densify(events, dtype=torch.bool, polarity="on").tolist() == [[[True, False, False]]]
    assert densify(events, dtype=torch.uint8, polarity="split").dtype == torch.uint8
    assert densify(events, dtype=torch.float64).dtype == torch.float64
    assert events.dense(device="cpu").device.type == "cpu"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"polarity": "both"}, "polarity must be one of"),
        ({"dtype": torch.uint8}, "cannot hold OFF"),
        ({"dtype": torch.bool}, "cannot hold OFF"),
        ({"dtype": torch.complex64}, "cannot hold"),
        ({"dtype": "float32"}, "must be a torch.dtype"),
        ({"device": "nowhere"}, "is not a device"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    events = Events.from_dense(torch.ones(2, 1, 3))
    with pytest.raises(OptionError, match=match):
        densify(events, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(OptionTypeError, match=r"densify takes an eventcode\.Events, got Tensor"):
        densify(torch.ones(3))  # type: ignore[arg-type]


def test_microsecond_events_must_be_binned_first() -> None:
    events = Events(t=[0, 1500], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(2, 1))
    with pytest.raises(EventsError, match="to_steps"):
        densify(events)
    with pytest.raises(EventsError, match="to_steps"):
        events.to_sparse()
    assert densify(events.to_steps(dt_us=1000)).tolist() == [[[[1.0, 0.0]]], [[[0.0, 1.0]]]]  # [T, B, H, W]


def test_sparse_refuses_bool() -> None:
    with pytest.raises(EventsError, match="numeric dtype"):
        Events.from_dense(torch.ones(1, 1, 1)).to_sparse(dtype=torch.bool)


def test_empty_streams() -> None:
    events = Events.from_dense(torch.zeros(4, 3, 1, 5, 5))
    assert len(events) == 0
    assert torch.equal(densify(events), torch.zeros(4, 3, 1, 5, 5))
    assert Events.from_dense(torch.zeros(0, 2, 3)).dense().shape == (0, 2, 3)
    assert Events.from_dense(torch.zeros(3, 0, 3)).dense().shape == (3, 0, 3)


# ---------------------------------------------------------------------- parity with snnTorch 1.0.0
MNIST_LIKE = torch.Generator().manual_seed(7)


def mnist_like(batch: int = 8) -> torch.Tensor:
    data = torch.rand(batch, 1, 28, 28, generator=MNIST_LIKE)
    return torch.where(data < 0.6, torch.zeros_like(data), data)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rate_spikes_from_snntorch_round_trip_bit_exactly(dtype: torch.dtype) -> None:
    torch.manual_seed(3)
    spikes = spikegen.rate(mnist_like().to(dtype), num_steps=25)
    rebuilt = Events.from_dense(spikes).dense(dtype=spikes.dtype)
    assert rebuilt.dtype == spikes.dtype
    assert torch.equal(rebuilt, spikes)


@pytest.mark.parametrize("off_spike", [False, True])
@pytest.mark.parametrize("padding", [False, True])
def test_delta_spikes_from_snntorch_round_trip_bit_exactly(off_spike: bool, padding: bool) -> None:
    video = torch.stack([torch.roll(mnist_like(4), shifts=k, dims=-1) for k in range(12)])
    spikes = spikegen.delta(video, threshold=0.1, padding=padding, off_spike=off_spike)
    assert torch.equal(Events.from_dense(spikes).dense(), spikes)


def test_latency_spikes_from_snntorch_round_trip_bit_exactly() -> None:
    spikes = spikegen.latency(mnist_like(), num_steps=10, normalize=True, linear=True)
    events = Events.from_dense(spikes)
    assert len(events) == 8 * 28 * 28  # one spike per pixel
    assert torch.equal(events.dense(), spikes)


def test_delta_reference_vectors_round_trip(vectors) -> None:
    entries = [e for e in vectors.entries("delta/") if "out" in e]
    assert len(entries) >= 32
    for entry in entries:
        expected = vectors.tensor(entry["out"]).float()  # int8 {-1, 0, 1} as stored
        if expected.dim() < 2:
            expected = expected[:, None]
        assert torch.equal(Events.from_dense(expected).dense(), expected), entry["key"]


def test_latency_reference_vectors_round_trip(vectors) -> None:
    entries = [e for e in vectors.entries("latency/g") if "step_index" in e]
    assert len(entries) >= 100
    for entry in entries:
        steps = vectors.tensor(entry["step_index"]).long()
        num_steps = entry["kwargs"]["num_steps"]
        dense = torch.nn.functional.one_hot(steps.clamp(min=0), num_steps).movedim(-1, 0).float()
        dense = dense * (steps >= 0)
        batched = dense if dense.dim() > 2 else dense[:, None]
        assert torch.equal(Events.from_dense(batched).dense(), batched), entry["key"]


# ---------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("polarity", ["signed", "on", "split"])
def test_cuda_densify_equals_cpu(polarity: str) -> None:
    spikes = torch.randint(-3, 4, (20, 16, 2, 28, 28)).float()
    events = Events.from_dense(spikes)
    on_cpu = densify(events, polarity=polarity)  # type: ignore[arg-type]
    assert torch.equal(densify(events.to("cuda"), polarity=polarity).cpu(), on_cpu)  # type: ignore[arg-type]
    assert torch.equal(densify(events, device="cuda", polarity=polarity).cpu(), on_cpu)  # type: ignore[arg-type]
    sparse = events.to("cuda").to_sparse(polarity=polarity)  # type: ignore[arg-type]
    assert torch.equal(sparse.to_dense().cpu(), on_cpu)


@pytest.mark.cuda
def test_cuda_package_level_densify_round_trip() -> None:
    spikes = (torch.rand(50, 64, 1, 28, 28, device="cuda") < 0.1).float()
    assert torch.equal(eventcode.densify(Events.from_dense(spikes)), spikes)


def test_the_package_name_densify_stays_the_function_after_the_module_loads() -> None:
    import eventcode.dense
    from eventcode import densify as function

    assert callable(function)
    assert eventcode.densify is function  # was: the module eventcode.densify, once a dense() ran
