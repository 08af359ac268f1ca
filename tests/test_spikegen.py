"""Tests of eventcode/spikegen.py: a drop-in for snntorch.spikegen, shapes and dtypes included."""

from __future__ import annotations

import pytest
import torch

from eventcode import spikegen
from eventcode.errors import EncodingError

snn = pytest.importorskip("snntorch.spikegen", reason="snntorch is in the test extra")


@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (2, 1, 3, 3)])
def test_every_input_rank_gives_snntorchs_shape_and_values(shape: tuple[int, ...]) -> None:
    data = torch.rand(shape, generator=torch.Generator().manual_seed(len(shape)))
    for name, kwargs in (
        ("rate", {"num_steps": 6}),
        ("rate", {"num_steps": 6, "gain": 0.5, "first_spike_time": 2}),
        ("latency", {"num_steps": 6, "normalize": True}),
        ("latency", {"num_steps": 6, "normalize": True, "interpolate": True}),
    ):
        torch.manual_seed(1)
        expected = getattr(snn, name)(data, **kwargs)
        torch.manual_seed(1)
        ours = getattr(spikegen, name)(data, **kwargs)
        assert ours.shape == expected.shape, (name, kwargs)
        assert ours.dtype == expected.dtype, (name, kwargs)
        assert torch.equal(ours, expected), (name, kwargs)
    torch.manual_seed(2)
    expected = snn.rate_conv(data)
    torch.manual_seed(2)
    assert torch.equal(spikegen.rate_conv(data), expected)


@pytest.mark.parametrize("shape", [(5,), (5, 3), (5, 2, 1, 3)])
def test_delta_and_time_varying_rate_shapes(shape: tuple[int, ...]) -> None:
    data = torch.rand(shape, generator=torch.Generator().manual_seed(3))
    assert torch.equal(
        spikegen.delta(data, threshold=0.2, off_spike=True), snn.delta(data, threshold=0.2, off_spike=True)
    )
    torch.manual_seed(4)
    expected = snn.rate(data, time_var_input=True, first_spike_time=1)
    torch.manual_seed(4)
    assert torch.equal(spikegen.rate(data, time_var_input=True, first_spike_time=1), expected)


CALLS = [
    ("rate", {"num_steps": 8}),
    ("rate", {"num_steps": 8, "gain": 0.3, "offset": 0.1, "first_spike_time": 2}),
    ("rate", {"time_var_input": True, "first_spike_time": 1}),
    ("rate_conv", {}),
    ("latency", {"num_steps": 20, "normalize": True, "epsilon": 1e-3}),
    ("latency", {"num_steps": 20, "normalize": True, "linear": True, "clip": True, "threshold": 0.2}),
    ("latency", {"num_steps": 20, "normalize": True, "linear": True, "interpolate": True}),
    ("delta", {"threshold": 0.1, "off_spike": True}),
    ("delta", {"threshold": 0.3, "padding": True, "off_spike": True}),
]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_every_float_dtype_gives_snntorchs_dtype_and_values(dtype: torch.dtype) -> None:
    grid = torch.randint(0, 21, (6, 4, 1, 12, 12), generator=torch.Generator().manual_seed(1)) * 0.05
    data = grid.to(dtype)  # on a grid of 0.05, so that delta's changes tie with the threshold
    differs_from_float32 = []
    for name, kwargs in CALLS:
        torch.manual_seed(3)
        expected = getattr(snn, name)(data, **kwargs)
        torch.manual_seed(3)
        ours = getattr(spikegen, name)(data, **kwargs)
        assert ours.dtype == expected.dtype, (name, kwargs)
        assert torch.equal(ours, expected), (name, kwargs)
        torch.manual_seed(3)
        differs_from_float32.append(not torch.equal(expected.float(), getattr(snn, name)(grid, **kwargs)))
    if dtype in (torch.float16, torch.bfloat16):  # snnTorch's arithmetic in the input's dtype matters
        assert sum(differs_from_float32) >= 3, differs_from_float32


def test_output_dtypes_follow_snntorch() -> None:
    data = torch.rand(3, 4).half()
    assert spikegen.rate(data, num_steps=2).dtype == torch.float16  # bernoulli keeps p's dtype
    assert spikegen.rate_conv(data).dtype == torch.float16
    assert spikegen.delta(data).dtype == torch.float16
    assert spikegen.latency(data, num_steps=4, normalize=True, epsilon=1e-3).dtype == torch.float32


def test_samples_wider_than_the_address_columns_still_match() -> None:
    wide = torch.rand(3, 40_000, generator=torch.Generator().manual_seed(4))  # 1-D samples over 32,767
    for name, kwargs in (("rate", {"num_steps": 2}), ("rate_conv", {}), ("latency", {"num_steps": 20})):
        torch.manual_seed(6)
        expected = getattr(snn, name)(wide, **kwargs)
        torch.manual_seed(6)
        assert torch.equal(getattr(spikegen, name)(wide, **kwargs), expected), name
    assert torch.equal(spikegen.delta(wide, off_spike=True), snn.delta(wide, off_spike=True))


@pytest.mark.parametrize(
    ("name", "shape", "kwargs"),
    [
        ("rate", (2, 0), {"num_steps": 3}),
        ("rate", (4, 0), {"time_var_input": True}),
        ("rate_conv", (2, 0), {}),
        ("delta", (4, 0), {}),
    ],
)
def test_empty_samples_give_snntorchs_empty_tensor(name: str, shape: tuple[int, ...], kwargs: dict) -> None:
    data = torch.rand(shape)
    expected = getattr(snn, name)(data, **kwargs)
    ours = getattr(spikegen, name)(data, **kwargs)
    assert (ours.shape, ours.dtype) == (expected.shape, expected.dtype)


def test_time_varying_input_needs_a_time_dim() -> None:
    with pytest.raises(EncodingError, match="lacks the time dim"):
        spikegen.rate(torch.tensor(0.5), time_var_input=True)
    with pytest.raises(EncodingError, match="lacks the time dim"):
        spikegen.delta(torch.tensor(0.5))
    with pytest.raises(IndexError):  # snnTorch's delta indexes data[0]
        snn.delta(torch.tensor(0.5))
