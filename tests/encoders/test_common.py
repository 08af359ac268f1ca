"""Tests of eventcode/encoders/common.py: input checks and the sample-major merge of pieces."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcode.encoders.common import as_input, check_steps, flat_nonzero, interleave
from eventcode.errors import EncodingError


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
    assert as_input(torch.ones(2, dtype=torch.float16), "x", "keep").dtype == torch.float32
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
