"""CPU allocations through numpy: the values, dtypes and devices torch's own would give."""

from __future__ import annotations

import pytest
import torch

from eventcode import Events, densify, memory, to_frames
from eventcode.errors import AllocationError


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


def test_an_output_larger_than_the_memory_is_refused_before_allocating() -> None:
    cpu = torch.device("cpu")
    too_many = memory.available(cpu) // 4 + 1  # float32: one byte over what is available
    with pytest.raises(AllocationError, match=r"the frames would need .* float32 values\), more than the"):
        memory.zeros(too_many, torch.float32, cpu, "the frames")
    memory.check(1 << 20, torch.float64, cpu)  # small: always allowed


def test_dense_and_frames_name_the_size_they_refuse() -> None:
    steps = Events(t=[0, 5], x=[0, 1], y=[0, 0], p=[1, 0], shape=(1, 28, 28), num_steps=10**12)
    with pytest.raises(AllocationError, match=r"the dense tensor \[1000000000000, 1, 1, 28, 28\] would need"):
        densify(steps)
    microseconds = Events(t=[0, 10**12], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(346, 260))
    for options in ({"time_window": 1}, {"n_time_bins": 10**12}, {"n_time_bins": 10**9, "overlap": 0.5}):
        with pytest.raises(AllocationError, match="frames would need"):
            to_frames(microseconds, **options)


def test_from_dense_refuses_events_beyond_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AllocationError, match=r"from_dense's 1,000,000,000,000 events would need"):
        Events.from_dense(torch.tensor([[1e12, 0.0]], dtype=torch.float64))  # one entry, 10^12 events
    monkeypatch.setattr(memory, "available", lambda device: 1 << 20)  # 1 MB free: the coordinates do not fit
    with pytest.raises(AllocationError, match=r"from_dense's 4,000,000 nonzero entries would need"):
        Events.from_dense(torch.ones(1000, 1, 4000, dtype=torch.bool))
