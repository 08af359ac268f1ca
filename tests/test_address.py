"""Tests of eventcode/address.py: the sample-shape <-> (c, y, x) mapping."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcode import address
from eventcode.errors import EventsError


@given(st.lists(st.integers(1, 6), max_size=5).map(tuple))
def test_split_inverts_flat_over_every_address(shape: tuple[int, ...]) -> None:
    n = torch.arange(int(torch.tensor(shape).prod()) if shape else 1)
    x, y, c = address.split(n, shape)
    assert torch.equal(address.flat(x, y, c, shape), n)
    assert (c is None) == (address.channels(shape) == 1)
    if len(shape) >= 2:  # row-major: the same order as the dense tensor's flattening
        coords = torch.stack(torch.unravel_index(n, shape), 1)
        assert torch.equal(coords[:, -1], x.long())
        assert torch.equal(coords[:, -2], y.long())


def test_extents_and_sensor_size() -> None:
    assert address.sensor_size((1, 28, 28)) == (28, 28, 2)
    assert address.sensor_size((700,)) == (700, 1, 2)
    assert address.sensor_size(()) == (1, 1, 2)
    assert address.channels((2, 3, 4, 5)) == 6


def test_flat_does_not_modify_its_inputs() -> None:
    y = torch.tensor([1, 2], dtype=torch.int64)
    address.flat(torch.tensor([0, 1]), y, None, (3, 4))
    assert y.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((40_000,), "W \\(x\\) = 40000"),
        ((40_000, 2), "H \\(y\\) = 40000"),
        ((300, 300, 2, 2), "C \\(c\\) = 90000"),
        ((3, 0), "dim below 1"),
        ("ab", "sequence of ints"),
    ],
)
def test_check_shape_refuses_what_int16_columns_cannot_address(shape: object, match: str) -> None:
    with pytest.raises(EventsError, match=match):
        address.check_shape(shape)


@given(st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple), st.integers(0, 3), st.data())
def test_table_lookup_and_division_agree(shape: tuple[int, ...], repeats: int, data: st.DataObject) -> None:
    numel = int(torch.tensor(shape).prod())
    n = torch.tensor(
        data.draw(st.lists(st.integers(0, numel - 1), min_size=numel * repeats, max_size=numel * repeats))
    )
    few = n[: numel - 1]  # fewer addresses than elements: divided, not looked up
    for addresses in (n, few):
        looked_up = address.split(addresses, shape)
        x = addresses % shape[-1]
        assert torch.equal(looked_up[0].long(), x)
        if len(shape) >= 2:
            assert torch.equal(looked_up[1].long(), (addresses // shape[-1]) % shape[-2])
