"""Tests of eventcode/checks.py: one set of value checks, alike on numpy arrays and torch tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcode import Events, checks
from eventcode.errors import (
    AddressError,
    EventsError,
    OffsetsError,
    OptionError,
    PolarityError,
    TimeOrderError,
)

DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "int64"]


@given(
    st.sampled_from(DTYPES),
    st.lists(st.integers(-200, 70_000), min_size=1, max_size=30),
    st.integers(1, 70_000),
)
def test_addresses_are_compared_in_their_own_dtype_alike_in_numpy_and_torch(
    dtype: str, values: list[int], extent: int
) -> None:
    info = np.iinfo(dtype)
    stored = np.array([v for v in values if info.min <= v <= info.max] or [0], dtype=dtype)
    offsets = np.array([0, len(stored)])
    bad = [i for i, v in enumerate(stored.tolist()) if not 0 <= v < extent]
    for column, bounds in ((stored, offsets), (torch.from_numpy(stored), torch.from_numpy(offsets))):
        if bad:
            with pytest.raises(AddressError, match=rf"x\[{bad[0]}\] = {int(stored[bad[0]])} is outside"):
                checks.addresses("x", column, extent, bounds, (extent,))
        else:  # no bound is wrapped into the dtype: int16 values against a 40,000 extent pass
            checks.addresses("x", column, extent, bounds, (extent,))


def test_the_constructor_keeps_narrow_columns_of_wide_samples() -> None:
    x = torch.tensor([0, 32_000], dtype=torch.int16)
    events = Events(t=[0, 1], x=x, y=[0, 0], p=[1, 1], shape=(40_000,))  # was: int16 >= 40000 all True
    assert events.x.dtype == torch.int32
    with pytest.raises(AddressError, match=r"x\[1\] = 65539 is outside \[0, 65536\)"):
        Events(t=[0, 1], x=np.array([0, 65_539], np.int32), y=[0, 0], p=[1, 1], shape=(65_536,))


def test_time_order_offsets_steps_and_polarity_name_the_first_bad_event() -> None:
    offsets = np.array([0, 2, 4])
    checks.time_order(np.array([5, 9, 1, 1]), offsets)
    with pytest.raises(TimeOrderError, match=r"t\[3\] = 0 comes after t\[2\] = 1 \(sample 1, event 1"):
        checks.time_order(np.array([5, 9, 1, 0]), offsets)
    with pytest.raises(TimeOrderError, match=r"t\[1\] = 7 is outside the steps \[0, 5\)"):
        checks.steps(torch.tensor([0, 7, 1, 1]), torch.tensor([0, 2, 4]), 5)
    with pytest.raises(OffsetsError, match="below"):
        checks.offsets(np.array([0, 3, 2, 4]), 4)
    with pytest.raises(EventsError, match=r"p\[1\] = 2 is not a polarity"):
        checks.polarity(np.array([1, 2], np.int16), np.array([0, 2]), 2)
    with pytest.raises(PolarityError, match="sample 1 holds both"):
        checks.polarity(np.array([0, 0, 1, 0]), offsets, 1)
    checks.polarity(torch.tensor([False, False, True, True]), torch.tensor([0, 2, 4]), 1)
    with pytest.raises(PolarityError, match=r"p\[0\] is OFF"):
        checks.polarity(np.array([False]), np.array([0, 1]), 0)


def test_from_columns_checks_as_much_as_asked() -> None:
    columns = {"t": [3, 1], "x": [1, 5], "y": [0, 0], "p": [1, 0]}  # unsorted, x outside (3,)
    with pytest.raises(TimeOrderError):
        Events.from_columns(**columns, shape=(3,), check="full")
    cheap = Events.from_columns(**columns, shape=(3,), check="cheap")  # the caller vouches for the values
    assert (cheap.t.dtype, cheap.x.dtype, cheap.p.dtype) == (torch.int64, torch.int16, torch.bool)
    with pytest.raises(EventsError, match="has 1 values but t has 2"):
        Events.from_columns(t=[3, 1], x=[1], y=[0, 0], p=[1, 0], shape=(3,), check="cheap")
    tensors = {k: torch.tensor(v) for k, v in columns.items()}
    trusted = Events.from_columns(**tensors, shape=(3,), check="none")
    assert trusted.x is tensors["x"]  # used as given
    with pytest.raises(OptionError, match="check must be one of"):
        Events.from_columns(**columns, shape=(3,), check="some")
