"""CPU allocations through numpy: the values, dtypes and devices torch's own would give."""

from __future__ import annotations

import pytest
import torch

from eventcode import memory


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.int16, torch.int64, torch.bool, torch.uint8]
)
def test_zeros_and_empty_match_torch(dtype: torch.dtype) -> None:
    cpu = torch.device("cpu")
    zeros = memory.zeros(1000, dtype, cpu)
    assert torch.equal(zeros, torch.zeros(1000, dtype=dtype))
    empty = memory.empty(10, dtype, cpu)
    assert (empty.dtype, empty.shape, empty.device) == (dtype, (10,), cpu)
    assert zeros.is_contiguous()


def test_dtypes_numpy_lacks_fall_back_to_torch() -> None:
    assert torch.equal(
        memory.zeros(5, torch.bfloat16, torch.device("cpu")), torch.zeros(5, dtype=torch.bfloat16)
    )
    assert memory.empty(5, torch.bfloat16, torch.device("cpu")).dtype == torch.bfloat16


@pytest.mark.cuda
def test_other_devices_allocate_there() -> None:
    assert memory.zeros(3, torch.float32, torch.device("cuda")).device.type == "cuda"
