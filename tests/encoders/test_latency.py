"""Tests of eventcode/encoders/latency.py against snnTorch 1.0.0 and its reference vectors."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import check_encoder_output
from hypothesis import given
from hypothesis import strategies as st

from eventcode import latency, spikegen
from eventcode.errors import EncodingError

snn = pytest.importorskip("snntorch.spikegen", reason="snntorch is in the test extra")

EDGE = torch.tensor(
    [0, 0.005, 0.01, 0.0100001, 0.02, 0.1, 0.19999, 0.2, 0.2000001, 0.25, 0.3, 0.5, 0.7, 0.9, 0.99, 1]
)


def snntorch_or_error(fn, data: torch.Tensor, **kwargs: object) -> torch.Tensor | str:
    """snnTorch's output, or the first words of the error it raises."""
    try:
        return fn(data, **kwargs)
    except Exception as err:  # snnTorch raises bare Exception
        return str(err).split("[")[0][:30]


def assert_same_as_snntorch(data: torch.Tensor, **kwargs: object) -> None:
    expected = snntorch_or_error(snn.latency, data, **kwargs)
    if isinstance(expected, str):
        with pytest.raises(EncodingError) as raised:
            spikegen.latency(data, **kwargs)
        assert expected.strip() in str(raised.value), (kwargs, expected, str(raised.value))
        return
    assert torch.equal(spikegen.latency(data, **kwargs), expected), kwargs
    if not kwargs.get("interpolate") and kwargs.get("on_target", 1) == 1 and kwargs.get("off_target", 0) == 0:
        events = latency(data, **kwargs) if data.dim() else latency(data, batched=False, **kwargs)
        assert torch.equal(events.dense(polarity="on").reshape(expected.shape), expected), kwargs


GRID = list(
    itertools.product(
        [False, True], [False, True], [False, True], [1, 5], [0.01, 0.2], [1, 10, 100]
    )  # linear, normalize, clip, tau, threshold, num_steps: snnTorch's own grid of 96 configurations
)


@pytest.mark.parametrize(("linear", "normalize", "clip", "tau", "threshold", "num_steps"), GRID)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_option_combination_matches_snntorch(
    linear: bool,
    normalize: bool,
    clip: bool,
    tau: float,
    threshold: float,
    num_steps: int,
    dtype: torch.dtype,
) -> None:
    kwargs = {"linear": linear, "normalize": normalize, "clip": clip, "tau": tau}
    kwargs |= {"threshold": threshold, "num_steps": num_steps}
    assert_same_as_snntorch(EDGE.to(dtype), **kwargs)
    batch = torch.rand(3, 1, 5, 5, generator=torch.Generator().manual_seed(num_steps), dtype=dtype)
    assert_same_as_snntorch(torch.where(batch < 0.3, 0, batch), **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_steps": 10, "first_spike_time": 2, "normalize": True},
        {"num_steps": 10, "first_spike_time": 2, "normalize": True, "linear": True},
        {"num_steps": 10, "first_spike_time": 3, "linear": True, "tau": 5},
        {"num_steps": 10, "bypass": True},
        {"num_steps": 10, "tau": 20, "linear": True, "bypass": True},
        {"bypass": True},
        {"bypass": True, "linear": True, "tau": 5},
        {
            "num_steps": 10,
            "normalize": True,
            "linear": True,
            "clip": True,
            "on_target": 2.0,
            "off_target": 0.5,
        },
        {"num_steps": 10, "normalize": True, "interpolate": True},
        {"num_steps": 10, "normalize": True, "linear": True, "interpolate": True},
        {"num_steps": 6, "linear": True, "interpolate": True, "tau": 4},
        {"num_steps": 10, "normalize": True, "epsilon": 1e-3},
        {"num_steps": 5, "first_spike_time": 5},
        {"num_steps": 10, "threshold": 0.0},
        {"num_steps": 10, "threshold": 1.0},
        {"num_steps": 10, "threshold": 1.5},
        {"num_steps": 10, "tau": 0},
        {"num_steps": 10, "normalize": True, "on_target": 0.5, "off_target": 1.0},
    ],
)
def test_other_options_and_errors_match_snntorch(kwargs: dict) -> None:
    assert_same_as_snntorch(EDGE, **kwargs)
    assert_same_as_snntorch(EDGE.reshape(4, 2, 2), **kwargs)


@given(
    st.lists(st.floats(0, 1, width=32), min_size=1, max_size=12),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0.5, 1, 3]),
    st.floats(0.001, 0.999),
    st.integers(1, 40),
    st.integers(0, 3),
)
def test_random_inputs_and_options_match_snntorch(
    values: list[float],
    linear: bool,
    normalize: bool,
    clip: bool,
    tau: float,
    threshold: float,
    num_steps: int,
    first_spike_time: int,
) -> None:
    kwargs = {"linear": linear, "normalize": normalize, "clip": clip, "tau": tau, "threshold": threshold}
    kwargs |= {"num_steps": num_steps, "first_spike_time": first_spike_time}
    assert_same_as_snntorch(torch.tensor(values), **kwargs)


def test_reference_vectors(vectors) -> None:
    checked = 0
    for entry in vectors.entries("latency/"):
        if (
            entry.get("input") not in vectors.arrays
        ):  # the float64 and docstring cases have tests of their own
            continue
        data = vectors.tensor(entry["input"])
        kwargs = entry["kwargs"]
        if "raises" in entry:
            with pytest.raises(EncodingError, match="out of bounds"):
                spikegen.latency(data, **kwargs)
            continue
        ours = spikegen.latency(data, **kwargs)
        if "dense_f32" in entry:
            assert torch.equal(ours, vectors.tensor(entry["dense_f32"])), entry["key"]
        if "step_index" in entry:
            steps = vectors.tensor(entry["step_index"]).long()
            events = latency(
                data, **{k: v for k, v in kwargs.items() if k not in ("on_target", "off_target")}
            )
            rows = steps.reshape(len(data), -1)
            assert events.offsets.diff().tolist() == (rows >= 0).sum(1).tolist(), entry["key"]
            in_order = torch.where(rows >= 0, rows, rows.max() + 1).sort(dim=1).values  # each sample by time
            assert torch.equal(events.t, in_order[in_order <= rows.max()]), entry["key"]
            assert torch.equal(ours.argmax(0)[steps >= 0], steps[steps >= 0]), entry["key"]
        checked += 1
    assert checked >= 150


def test_float64_reference_vector(vectors) -> None:
    (entry,) = vectors.entries("latency/dtype_float64")
    data = vectors.tensor("in/latency_edge").double()
    events = latency(data, **entry["kwargs"])
    steps = vectors.tensor(entry["step_index"]).long()
    assert torch.equal(events.dense(polarity="on").argmax(0), steps)
    assert spikegen.latency(data, **entry["kwargs"]).dtype == torch.float32


def test_one_event_per_pixel_in_time_order() -> None:
    data = torch.rand(6, 2, 7, 7, generator=torch.Generator().manual_seed(3))
    events = latency(data, num_steps=20, normalize=True, linear=True)
    assert len(events) == data.numel()
    check_encoder_output(events)


def test_clip_keeps_values_equal_to_the_threshold() -> None:
    data = torch.tensor([[0.0, 0.2, 0.19, 0.6]])
    events = latency(data, num_steps=10, threshold=0.2, clip=True, normalize=True, linear=True)
    assert sorted(events.x.tolist()) == [1, 3]


def test_per_sample_normalization_stretches_each_sample() -> None:
    data = torch.stack([torch.linspace(0.3, 1, 8), torch.linspace(0.6, 1, 8)])
    batchwide = latency(data, num_steps=10, normalize=True)
    per_sample = latency(data, num_steps=10, normalize="per_sample")
    assert int(batchwide[1].t.max()) < 9
    assert [int(per_sample[b].t.max()) for b in range(2)] == [9, 9]
    for b in range(2):  # each sample as if it were alone in the batch, in snnTorch
        alone = snn.latency(data[b : b + 1], num_steps=10, normalize=True)
        assert torch.equal(per_sample[b].dense(polarity="on"), alone)


def test_dense_only_options_are_refused() -> None:
    for option in ({"on_target": 2.0}, {"off_target": 0.5}, {"interpolate": True}):
        with pytest.raises(EncodingError, match=r"spikegen\.latency"):
            latency(EDGE, num_steps=10, normalize=True, **option)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (torch.tensor([0.5, float("nan")]), r"data\[1\] = nan is not finite"),
        (torch.tensor([0.5, float("inf")]), "not finite"),
        (torch.zeros(0), "empty"),
        (torch.tensor([-0.1, 0.5]), r"between \[0, 1\]"),
    ],
)
def test_bad_inputs_get_clear_errors(data: torch.Tensor, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        latency(data, num_steps=10, normalize=True)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_steps": 20, "normalize": True, "epsilon": 1e-3},
        {"num_steps": 20, "normalize": True, "linear": True},
        {"num_steps": 20, "normalize": True, "linear": True, "clip": True, "threshold": 0.2},
        {"num_steps": 20, "tau": 0.5, "threshold": 0.1, "first_spike_time": 2, "epsilon": 1e-3},
        {"tau": 3, "epsilon": 1e-3, "bypass": True},
    ],
)
def test_half_precision_is_computed_in_its_own_dtype_as_snntorch(dtype: torch.dtype, kwargs: dict) -> None:
    data = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(7))
    data[0, 0, 0, :16] = EDGE
    assert_same_as_snntorch(data.to(dtype), **kwargs)


def test_half_precision_spike_times_differ_from_float32_ones() -> None:
    data = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(7)).half()
    kwargs = {"num_steps": 20, "normalize": True, "linear": True}
    assert not torch.equal(snn.latency(data, **kwargs), snn.latency(data.float(), **kwargs))
    assert latency(data, **kwargs) != latency(data.float(), **kwargs)  # so parity needs half arithmetic


def test_an_epsilon_below_the_half_spacing_gets_a_clear_error() -> None:
    with pytest.raises(RuntimeError):  # snnTorch: NaN spike times become an out-of-bounds index
        snn.latency(EDGE.half(), num_steps=10, normalize=True)
    with pytest.raises(EncodingError, match=r"epsilon .* torch\.float16 spacing"):
        spikegen.latency(EDGE.half(), num_steps=10, normalize=True)
    ints = torch.tensor([0, 1, 1, 0])
    assert torch.equal(
        spikegen.latency(ints, num_steps=10, normalize=True), snn.latency(ints, num_steps=10, normalize=True)
    )


def test_flattened_image_has_snntorchs_layout() -> None:
    img = torch.rand(28, 28, generator=torch.Generator().manual_seed(2))
    for data in (img.flatten(), img.flatten()[None]):  # 784 samples of shape (), or one of (784,)
        expected = snn.latency(data, num_steps=25, normalize=True)  # [T, *data.shape]
        events = latency(data, num_steps=25, normalize=True)
        assert events.num_samples == len(data)
        assert torch.equal(events.dense(polarity="on").reshape(expected.shape), expected)


@pytest.mark.cuda
def test_cuda_matches_snntorch_on_cuda() -> None:
    data = torch.rand(16, 1, 28, 28, device="cuda")
    for kwargs in (
        {"num_steps": 25, "normalize": True},
        {"num_steps": 25, "normalize": True, "linear": True, "clip": True},
    ):
        expected = snn.latency(data, **kwargs)
        assert torch.equal(spikegen.latency(data, **kwargs), expected)
        assert latency(data, **kwargs).device.type == "cuda"
