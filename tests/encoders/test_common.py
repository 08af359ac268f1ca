"""Tests of eventcode/encoders/common.py (input checks, the merge of pieces) and the batch contract."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcode import Events, delta, latency, rate, spikegen
from eventcode.encoders.common import as_input, check_steps, flat_nonzero, interleave
from eventcode.errors import DenseInputError, EncodingError


@given(st.integers(1, 5), st.integers(0, 5), st.data())
def test_interleave_puts_pieces_in_sample_major_order(pieces: int, batch: int, data: st.DataObject) -> None:
    counts = torch.tensor(
        data.draw(
            st.lists(
                st.lists(st.integers(0, 4), min_size=batch, max_size=batch), min_size=pieces, max_size=pieces
            )
        ),
        dtype=torch.int64,
    ).reshape(pieces, batch)
    parts, labels = [], []
    for i in range(pieces):
        tags = [(b, i, k) for b in range(batch) for k in range(int(counts[i, b]))]
        labels += tags
        parts.append({"tag": torch.tensor([b * 10_000 + i * 100 + k for b, i, k in tags], dtype=torch.int64)})
    merged = interleave(parts, counts)["tag"].tolist()
    assert merged == [b * 10_000 + i * 100 + k for b, i, k in sorted(labels)]


def test_flat_nonzero_matches_torch() -> None:
    mask = torch.rand(3, 4, 5) < 0.3
    assert torch.equal(flat_nonzero(mask), torch.nonzero(mask.reshape(-1)).squeeze(1))


def test_as_input_policies() -> None:
    for half in (torch.float16, torch.bfloat16):  # snnTorch computes in the input's dtype
        assert as_input(torch.ones(2, dtype=half), "x", "keep").dtype == half
    assert as_input([1, 2], "x", "float32").dtype == torch.float32
    assert as_input(torch.tensor([1, 2]), "x", "keep").dtype == torch.int64
    with pytest.raises(EncodingError, match="not a probability"):
        as_input(torch.tensor([1, 2]), "x", "reject")
    with pytest.raises(EncodingError, match="complex"):
        as_input(torch.ones(2, dtype=torch.complex64), "x", "keep")


def test_check_steps() -> None:
    assert check_steps("x", None, 0) == 0
    assert check_steps("x", 5, 2) == 5
    with pytest.raises(EncodingError, match="integer"):
        check_steps("x", True, 0)


def seeded() -> torch.Generator:
    return torch.Generator().manual_seed(0)


ENCODE = {  # every reader of dense input, each on the input layout it reads (rate: C-order draws)
    "rate": lambda data, **kw: rate(data, num_steps=3, exact=True, generator=seeded(), **kw),
    "latency": lambda data, **kw: latency(data, num_steps=25, normalize=True, **kw),
    "rate time-varying": lambda data, **kw: rate(
        data, time_var_input=True, exact=True, generator=seeded(), **kw
    ),
    "delta": delta,
    "from_dense": lambda data, **kw: Events.from_dense(data.round(), **kw),
}
TIME_MAJOR = {"rate time-varying", "delta", "from_dense"}


@pytest.mark.parametrize("name", ENCODE)
def test_a_flattened_image_is_a_batch_of_pixels_or_one_sample(name: str) -> None:
    encode = ENCODE[name]
    img = torch.rand(28, 28, generator=torch.Generator().manual_seed(0))
    flat = img.flatten().repeat(4, 1) if name in TIME_MAJOR else img.flatten()  # [784] or [T=4, 784]
    one = flat[:, None] if name in TIME_MAJOR else flat[None]
    pixels, sample = encode(flat), encode(one)
    assert (pixels.num_samples, pixels.shape) == (784, ())
    assert (sample.num_samples, sample.shape) == (1, (784,))
    assert encode(flat, batched=False) == sample
    # the same spikes either way: neuron n of the one sample is the only neuron of sample n
    assert torch.equal(pixels.dense().flatten(1), sample.dense().flatten(1))


@pytest.mark.parametrize("name", ENCODE)
def test_a_missing_batch_dim_gets_the_same_error_everywhere(name: str) -> None:
    encode = ENCODE[name]
    data = torch.rand(5) if name in TIME_MAJOR else torch.tensor(0.5)
    error = DenseInputError if name == "from_dense" else EncodingError
    with pytest.raises(error, match=r"lacks the batch dim of \[(T, )?B, \.\.\.\].*batched=False") as raised:
        encode(data)
    assert ("data[:, None]" if name in TIME_MAJOR else "data[None]") in str(raised.value)
    alone = encode(data, batched=False)
    assert (alone.num_samples, alone.shape) == (1, ())
    if name in TIME_MAJOR:
        with pytest.raises(error, match=r"lacks the time dim of \[T, \.\.\.\]"):
            encode(torch.tensor(0.5), batched=False)
        with pytest.raises(error, match=r"lacks the time dim of \[T, B, \.\.\.\]"):
            encode(torch.tensor(0.5))


WIDTHS = [32_767, 32_768, 65_536, 1_000_000]  # the int16 edge, past it, past uint16, far past


def wide_cases(width: int) -> list[tuple[str, object, torch.Tensor, dict, str]]:
    """(name, eventcode encoder, input, options, densify polarity) on 2 samples ``width`` wide."""
    steps = 2 if width == 1_000_000 else 4
    gen = torch.Generator().manual_seed(width % 101)
    data, frames = torch.rand(2, width, generator=gen), torch.rand(steps, 2, width, generator=gen)
    return [
        ("rate", rate, data, {"num_steps": steps}, "on"),
        ("rate", rate, frames, {"time_var_input": True}, "on"),
        ("latency", latency, data, {"num_steps": steps, "normalize": True, "linear": True}, "on"),
        ("latency", latency, data * 0.5 + 0.5, {"num_steps": steps, "tau": 0.2, "bypass": True}, "on"),
        ("delta", delta, frames, {"threshold": 0.5, "off_spike": True}, "signed"),
        ("rate_conv", None, data, {}, "on"),  # [T = 2, W]: one sample of width W
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_samples_of_any_width_match_snntorch_and_densify_exactly(width: int) -> None:
    snn = pytest.importorskip("snntorch.spikegen", reason="snntorch is in the test extra")
    address_dtype = torch.int16 if width <= 32_768 else torch.int32
    for name, encode, data, options, polarity in wide_cases(width):
        torch.manual_seed(5)
        expected = getattr(snn, name)(data, **options)
        torch.manual_seed(5)
        assert torch.equal(getattr(spikegen, name)(data, **options), expected), (width, name, options)
        spikes = expected[:, None] if name == "rate_conv" else expected  # [T, B, W]
        events = Events.from_dense(spikes)
        if encode is not None:
            torch.manual_seed(5)
            encoded = encode(data, **({"exact": True} if encode is rate else {}), **options)
            assert encoded == events, (width, name, options)  # same events, same column dtypes
        assert (events.shape, events.x.dtype) == ((width,), address_dtype)
        assert (int(events.x.min()), int(events.x.max())) == (0, width - 1)  # fired at both ends
        assert torch.equal(events.dense(polarity=polarity), spikes), (width, name, options)
