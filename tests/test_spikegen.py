"""Tests of eventcode/spikegen.py: a drop-in for snntorch.spikegen, shapes and dtypes included."""

from __future__ import annotations

import re

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
    tutorial = torch.rand(100, 28, 28) * 0.5  # snnTorch tutorial 1: 78,400 elements
    torch.manual_seed(7)
    expected = snn.rate_conv(tutorial)
    torch.manual_seed(7)
    assert torch.equal(spikegen.rate_conv(tutorial), expected)


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


def _outcome(function: object, args: tuple, kwargs: dict, seed: int) -> tuple[object, torch.Tensor]:
    """What ``function(*args, **kwargs)`` returns or raises after ``torch.manual_seed(seed)``, and the
    RNG state after it."""
    torch.manual_seed(seed)
    try:
        result: object = function(*args, **kwargs)
    except Exception as err:  # the oracle's exception is part of its behaviour
        result = err
    return result, torch.get_rng_state()


def _same(ours: object, theirs: object) -> bool:
    """Equal tensors (values, dtype, shape; NaN equal), tuples of them, or the same ``None``."""
    if isinstance(theirs, tuple):
        return isinstance(ours, tuple) and len(ours) == len(theirs) and all(map(_same, ours, theirs))
    if isinstance(theirs, torch.Tensor):
        return (
            isinstance(ours, torch.Tensor)
            and ours.dtype == theirs.dtype
            and torch.equal(torch.nan_to_num(ours), torch.nan_to_num(theirs))
        )
    return ours is theirs


def assert_matches_snntorch(name: str, *args: object, seed: int = 0, **kwargs: object) -> None:
    """Ours returns snnTorch's value and dtype, or raises its exception class (``EncodingError`` for
    snnTorch's bare ``Exception``), and leaves the global RNG where snnTorch leaves it."""
    theirs, their_state = _outcome(getattr(snn, name), args, kwargs, seed)
    ours, our_state = _outcome(getattr(spikegen, name), args, kwargs, seed)
    if isinstance(theirs, Exception):
        expected = EncodingError if type(theirs) is Exception else type(theirs)
        assert isinstance(ours, expected), (name, kwargs, theirs, ours)
    else:
        assert _same(ours, theirs), (name, kwargs, ours, theirs)
    assert torch.equal(our_state, their_state), (name, kwargs)


def test_every_public_snntorch_function_is_here() -> None:
    public = {
        n
        for n, v in vars(snn).items()
        if callable(v) and not n.startswith("_") and v.__module__ == snn.__name__
    }
    assert public <= set(dir(spikegen)), public - set(dir(spikegen))


def _floats(*values: object) -> torch.Tensor:
    return torch.Tensor(values)


# The calls of snnTorch's own tests/test_spikegen.py, with the inputs it gives them.
SNNTORCH_TEST_CASES = [
    ("rate", (_floats(0),), {"time_var_input": True}),
    ("rate", (_floats(1),), {"first_spike_time": 3, "num_steps": 5}),
    ("latency", (_floats(0),), {"bypass": True}),
    ("latency", (_floats(1),), {"bypass": True}),
    ("latency_code", (_floats(0),), {"first_spike_time": 5, "num_steps": 10}),
    ("latency_code", (_floats(1),), {"first_spike_time": 5, "num_steps": 10}),
    ("delta", (_floats(1, 2, 2.91, 3, 3.9),), {"threshold": 0.1}),
    ("from_one_hot", (torch.eye(5),), {}),
    ("targets_convert", (_floats(4),), {"num_classes": 5, "code": "rate"}),
    (
        "targets_convert",
        (_floats(4),),
        {"num_classes": 5, "code": "rate", "num_steps": 5, "first_spike_time": 2},
    ),
    ("latency_interpolate", (_floats(4),), {"num_steps": 5}),
    ("to_one_hot", (_floats(0, 1), 2), {}),
    ("to_one_hot_inverse", (torch.eye(2),), {}),
    ("targets_latency", (_floats(0, 1),), {"num_classes": 2, "num_steps": 5, "normalize": True}),
    ("rate_interpolate", (_floats(4),), {"num_steps": 5}),
    ("target_rate_code", (), {"num_steps": 5, "rate": 0.5}),
    ("latency_code_linear", (_floats(0, 1),), {"num_steps": 5, "first_spike_time": 2}),
    ("latency_code_log", (_floats(0, 1),), {"num_steps": 5, "first_spike_time": 2}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), SNNTORCH_TEST_CASES)
def test_snntorchs_own_test_cases(name: str, args: tuple, kwargs: dict) -> None:
    assert_matches_snntorch(name, *args, **kwargs)


@pytest.mark.parametrize("pattern", ["regular", "uniform", "poisson", "Poisson"])
@pytest.mark.parametrize("rate", [0, 0.05, 0.3, 0.5, 1 / 3, 0.7, 1])
@pytest.mark.parametrize("first_spike_time", [0, 2, 7])
def test_target_rate_code_draws_what_snntorch_draws(pattern: str, rate: float, first_spike_time: int) -> None:
    for seed in range(4):
        assert_matches_snntorch(
            "target_rate_code",
            7,
            first_spike_time=first_spike_time,
            rate=rate,
            firing_pattern=pattern,
            seed=seed,
        )


TARGET_OPTIONS = [
    {},
    {"on_target": 0.5, "off_target": 0.5},
    {"on_target": -1.0, "off_target": 0.25},
    {"num_steps": 6, "first_spike_time": 2, "on_target": 1.5, "off_target": -0.5},
    {"num_steps": 6, "correct_rate": 0.5, "incorrect_rate": 0.2},  # 6 classes: snnTorch broadcasts
    {"num_steps": 6, "correct_rate": 0.5, "incorrect_rate": 0.2, "firing_pattern": "poisson"},
    {
        "num_steps": 6,
        "correct_rate": 0.9,
        "incorrect_rate": 0.3,
        "firing_pattern": "uniform",
        "interpolate": True,
    },
    {"num_steps": 6, "correct_rate": 0.5, "incorrect_rate": 0.25, "interpolate": True, "on_target": 2.0},
    {
        "num_steps": 6,
        "correct_rate": 0.8,
        "firing_pattern": "poisson",
        "interpolate": True,
        "off_target": 0.1,
    },
    {"num_steps": 9, "correct_rate": 0.5, "incorrect_rate": 0.2},  # snnTorch's shape error
    {"num_steps": 9, "correct_rate": 0.5, "interpolate": True},  # the same, interpolated
    {"correct_rate": 0.5},  # needs num_steps
    {"num_steps": 6, "correct_rate": 0.2, "incorrect_rate": 0.5},
    {"num_steps": 6, "correct_rate": 1.5},
    {"num_steps": 6, "correct_rate": 0.5, "firing_pattern": "bursty"},
]


@pytest.mark.parametrize("kwargs", TARGET_OPTIONS)
@pytest.mark.parametrize("seed", range(3))
def test_targets_rate_and_convert_match_snntorch(kwargs: dict, seed: int) -> None:
    targets = torch.randint(0, 6, (seed + 2,), generator=torch.Generator().manual_seed(seed))
    assert_matches_snntorch("targets_rate", targets, 6, seed=seed, **kwargs)
    assert_matches_snntorch("targets_convert", targets, 6, code="rate", seed=seed, **kwargs)


def test_targets_rate_shape_error_is_snntorchs(vectors) -> None:
    recorded = next(e["raises"] for e in vectors.entries("targets_rate/regular_0p5_0p2"))
    kind, message = recorded.split(": ", 1)
    assert kind == "RuntimeError"
    with pytest.raises(RuntimeError, match=re.escape(message)):
        spikegen.targets_rate(torch.tensor([1, 3]), 4, num_steps=10, correct_rate=0.5, incorrect_rate=0.2)


# Reference vectors recorded from snnTorch 1.0.0 on its docstring examples.
RECORDED = [
    ("targets_rate/onehot", "targets_convert", (torch.tensor([4]), 5), {"code": "rate"}),
    ("targets_rate/fst2", "targets_rate", (torch.tensor([4]), 5), {"num_steps": 5, "first_spike_time": 2}),
    ("target_rate_code/regular_0p3", "target_rate_code", (5,), {"rate": 0.3}),
    ("target_rate_code/regular_0p3_fst1", "target_rate_code", (10,), {"rate": 0.3, "first_spike_time": 1}),
    (
        "targets_latency/norm",
        "targets_latency",
        (torch.tensor([0, 3]), 4),
        {"num_steps": 5, "normalize": True},
    ),
    (
        "targets_latency/norm_interp",
        "targets_latency",
        (torch.tensor([0, 3]), 4),
        {"num_steps": 5, "normalize": True, "interpolate": True},
    ),
    ("rate_interpolate/doc", "rate_interpolate", (torch.tensor([0, 4]), 5), {}),
    ("latency_interpolate/doc", "latency_interpolate", (torch.tensor([0, 4]), 5), {}),
    ("to_one_hot/doc", "to_one_hot", (torch.tensor([0, 1, 2, 3]), 4), {}),
    ("from_one_hot/doc", "from_one_hot", (torch.eye(4),), {}),
]


@pytest.mark.parametrize(("key", "name", "args", "kwargs"), RECORDED)
def test_recorded_snntorch_outputs(vectors, key: str, name: str, args: tuple, kwargs: dict) -> None:
    (entry,) = [e for e in vectors.entries(key) if e["key"] == key]
    result = getattr(spikegen, name)(*args, **kwargs)
    ours = result[0] if isinstance(result, tuple) else result
    assert str(ours.dtype) == entry["out_dtype"]
    assert torch.equal(ours, vectors.tensor(entry["out"]))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_steps": 6, "normalize": True},
        {"num_steps": 6, "normalize": True, "interpolate": True, "linear": True},
        {"num_steps": 8, "first_spike_time": 2, "normalize": True, "on_target": 2.0, "off_target": 0.5},
        {"bypass": True, "clip": True, "threshold": 0.2, "tau": 3},
        {"num_steps": 3},  # snnTorch's out-of-bounds error
        {"num_steps": 5, "code": "spikes"},
    ],
)
def test_targets_latency_and_convert_match_snntorch(kwargs: dict) -> None:
    targets = torch.tensor([0, 3, 3, 1])
    options = {k: v for k, v in kwargs.items() if k != "code"}
    if "code" not in kwargs:
        assert_matches_snntorch("targets_latency", targets, 4, **options)
    latency_options = {
        k: v for k, v in options.items() if k not in ("on_target", "off_target", "interpolate")
    }
    assert_matches_snntorch(
        "targets_convert", targets, 4, code=kwargs.get("code", "latency"), **latency_options
    )


@pytest.mark.parametrize("seed", range(6))
def test_latency_codes_match_snntorch_on_random_input(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    data = torch.rand(3, 5, generator=generator) * 1.4 - 0.2  # values outside [0, 1] too
    for linear in (False, True):
        for kwargs in (
            {"num_steps": 10},
            {"num_steps": 10, "normalize": True, "first_spike_time": 3},
            {"num_steps": 10, "normalize": True, "threshold": 0.3, "tau": 2},
            {"first_spike_time": 4, "num_steps": 4},
            {"threshold": 1.0},
            {"tau": 0},
            {"num_steps": -1},
            {"normalize": True},
            {"num_steps": 10, "first_spike_time": -1},
        ):
            assert_matches_snntorch("latency_code", data, linear=linear, **kwargs)
            name = "latency_code_linear" if linear else "latency_code_log"
            assert_matches_snntorch(name, data, **kwargs)
    assert_matches_snntorch("latency_code_log", data.double(), num_steps=10, normalize=True)


@pytest.mark.parametrize("seed", range(8))
def test_interpolations_match_snntorch_on_random_spike_times(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    num_steps = int(torch.randint(1, 12, (), generator=generator))
    count = int(torch.randint(0, 6, (), generator=generator))
    spikes = torch.randint(-1, num_steps + 2, (count,), generator=generator)
    for times in (spikes, spikes.float(), spikes.float() + 0.5, spikes.sort().values):
        for on, off in ((1, 0), (1.25, 0.25), (0.3, -2.0), (0.1, 0.7)):
            assert_matches_snntorch("rate_interpolate", times, num_steps, on_target=on, off_target=off)
            assert_matches_snntorch("latency_interpolate", times, num_steps, on_target=on, off_target=off)


def test_rate_interpolate_with_equal_targets_raises_snntorchs_runtime_error() -> None:
    assert_matches_snntorch("rate_interpolate", torch.tensor([0, 3]), 5, on_target=0.5, off_target=0.5)
    assert_matches_snntorch("rate_interpolate", torch.tensor([1, 3]), 6, on_target=0.3, off_target=0.3 + 5e-8)
    assert_matches_snntorch("rate_interpolate", torch.tensor([[1, 3], [3, 0]]), 6, on_target=1e9)
    with pytest.raises(EncodingError, match="no valid step"):
        spikegen.rate_interpolate(torch.tensor([3]), 5, on_target=0.5, off_target=0.5)


@pytest.mark.parametrize("seed", range(4))
def test_one_hot_helpers_match_snntorch(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    targets = torch.randint(0, 7, (9,), generator=generator)
    for labels in (targets, targets.float(), targets.to(torch.int32)):
        assert_matches_snntorch("to_one_hot", labels, 7)
    assert_matches_snntorch("to_one_hot", targets, 3)  # out of bounds
    assert_matches_snntorch("to_one_hot", targets - 1, 7)  # negative: scatter's error
    assert_matches_snntorch("to_one_hot", targets[:0], 7)  # empty: torch.max's error
    one_hot = snn.to_one_hot(targets, 7)
    values = torch.randint(-1, 3, (4, 5), generator=generator)
    for tensor in (
        one_hot,
        values,
        values.double(),
        values.to(torch.int8),
        torch.tensor([0.0, float("nan")]),
    ):
        assert_matches_snntorch("to_one_hot_inverse", tensor)
        assert_matches_snntorch("from_one_hot", tensor)


def test_documented_differences_raise_where_snntorch_returns_none() -> None:
    assert snn.target_rate_code(5, rate=0.5, firing_pattern="bursty") is None
    with pytest.raises(EncodingError, match="firing_pattern"):
        spikegen.target_rate_code(5, rate=0.5, firing_pattern="bursty")
    assert snn.targets_rate(torch.tensor([1]), 3, first_spike_time=-1) is None
    with pytest.raises(EncodingError, match="cannot be negative"):
        spikegen.targets_rate(torch.tensor([1]), 3, first_spike_time=-1)
