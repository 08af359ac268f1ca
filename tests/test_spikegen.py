"""Tests of eventcode/spikegen.py: a drop-in for snntorch.spikegen, shapes and dtypes included."""

from __future__ import annotations

import pytest
import torch

from eventcode import spikegen

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


def test_float64_keeps_its_dtype_where_snntorch_does() -> None:
    data = torch.rand(3, 4, dtype=torch.float64)
    torch.manual_seed(0)
    expected = snn.rate(data, num_steps=4)
    torch.manual_seed(0)
    assert torch.equal(spikegen.rate(data, num_steps=4), expected)
    assert spikegen.rate(data, num_steps=4).dtype == torch.float64
    assert spikegen.delta(data[:, :, None]).dtype == torch.float64
    assert spikegen.latency(data, num_steps=4, normalize=True).dtype == torch.float32
