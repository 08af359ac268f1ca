"""Tests of eventcode/address.py: the sample-shape <-> (c, y, x) mapping."""

from __future__ import annotations

import math

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
        ((2**31 + 1,), "W \\(x\\) = 2147483649"),
        ((2**31 + 1, 2), "H \\(y\\) = 2147483649"),
        ((2**16, 2**15 + 1, 2, 2), "C \\(c\\) = 2147549184"),
        ((3, 0), "dim below 1"),
        ("ab", "sequence of ints"),
    ],
)
def test_check_shape_refuses_what_int32_columns_cannot_address(shape: object, match: str) -> None:
    with pytest.raises(EventsError, match=match):
        address.check_shape(shape)


@pytest.mark.parametrize(
    ("shape", "dtypes"),
    [
        ((32_768,), (torch.int16, torch.int16, None)),  # addresses up to 32,767: int16
        ((32_769,), (torch.int32, torch.int16, None)),
        ((2, 70_000, 3), (torch.int16, torch.int32, torch.int16)),
        ((32_769, 1, 1), (torch.int16, torch.int16, torch.int32)),
        ((2**31, 1), (torch.int16, torch.int32, None)),
    ],
)
def test_each_address_column_is_int16_while_it_fits(shape: tuple[int, ...], dtypes: tuple) -> None:
    assert address.column_dtypes(address.check_shape(shape)) == dtypes
    n = torch.tensor([math.prod(shape) - 1])  # the last address: every column at its largest
    x, y, c = address.split(n, shape)
    assert [v.dtype for v in (x, y, c) if v is not None] == [d for d in dtypes if d is not None]
    assert torch.equal(address.flat(x, y, c, shape), n)


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
