"""Tests of eventcode/events.py: the Events type, its validation and conversions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import (
    AddressError,
    DenseInputError,
    EventsDtypeError,
    EventsError,
    OffsetsError,
    OptionError,
    PolarityError,
    TimeOrderError,
)
from eventcode.tonic import from_tonic

SAMPLE_SHAPES = st.lists(st.integers(1, 5), min_size=0, max_size=4).map(tuple)
DTYPES = {
    torch.bool: (0, 1),
    torch.uint8: (0, 3),
    torch.int8: (-3, 3),
    torch.int32: (-3, 3),
    torch.int64: (-3, 3),
    torch.float32: (-3, 3),
    torch.float64: (-3, 3),
}


@st.composite
def dense_spikes(draw: st.DrawFn) -> torch.Tensor:
    """A dense ``[T, B, *shape]`` tensor of small integral counts, mostly zeros."""
    shape = (draw(st.integers(1, 6)), draw(st.integers(0, 4)), *draw(SAMPLE_SHAPES))
    dtype = draw(st.sampled_from(list(DTYPES)))
    low, high = DTYPES[dtype]
    seed = draw(st.integers(0, 2**32 - 1))
    gen = torch.Generator().manual_seed(seed)
    values = torch.randint(low, high + 1, shape, generator=gen)
    keep = torch.rand(shape, generator=gen) < draw(st.floats(0, 1))
    return (values * keep).to(dtype)


def make_events(**overrides: object) -> Events:
    fields: dict[str, object] = {
        "t": [0, 1, 1, 3],
        "x": [0, 1, 2, 3],
        "y": [0, 1, 0, 1],
        "p": [1, 0, 1, 1],
        "shape": (2, 4),
        "num_steps": 4,
    }
    fields.update(overrides)
    return Events(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- from_dense -> dense
@given(dense_spikes())
def test_from_dense_then_dense_is_exact(spikes: torch.Tensor) -> None:
    events = Events.from_dense(spikes)
    assert events.num_steps == spikes.shape[0]
    assert events.num_samples == spikes.shape[1]
    assert events.shape == tuple(spikes.shape[2:])
    assert len(events) == int(spikes.to(torch.int64).abs().sum())
    counts = spikes.to(torch.float64)
    assert torch.equal(events.dense(dtype=torch.float64), counts)
    assert torch.equal(events.dense(polarity="on", dtype=torch.int64), counts.clamp(min=0).to(torch.int64))
    split = events.dense(polarity="split", dtype=torch.int32)
    assert torch.equal(split[:, :, 1].double(), counts.clamp(min=0))
    assert torch.equal(split[:, :, 0].double(), (-counts).clamp(min=0))


@given(dense_spikes())
def test_from_dense_orders_by_sample_time_then_row_major_address(spikes: torch.Tensor) -> None:
    events = Events.from_dense(spikes)
    sample = events.sample_ids()
    width = events.shape[-1] if events.shape else 1
    height = events.shape[-2] if len(events.shape) > 1 else 1
    channel = events.c.long() if events.c is not None else 0
    flat = (channel * height + events.y.long()) * width + events.x.long()
    key = torch.stack([sample, events.t, flat], 1).tolist()
    assert key == sorted(key)
    assert torch.equal(torch.bincount(sample, minlength=events.num_samples), events.offsets.diff())


@given(dense_spikes())
def test_unbatched_sample_is_batch_of_one(spikes: torch.Tensor) -> None:
    sample = spikes[:, 0] if spikes.shape[1] else spikes.sum(1)
    events = Events.from_dense(sample, batched=False)
    assert events.num_samples == 1
    assert events == Events.from_dense(sample.unsqueeze(1))
    assert torch.equal(events.dense(dtype=torch.float64)[:, 0], sample.to(torch.float64))


def test_from_dense_reads_numpy_arrays() -> None:
    spikes = np.zeros((3, 2, 5), dtype=np.int8)
    spikes[1, 1, 4] = -2
    events = Events.from_dense(spikes)
    assert events.t.tolist() == [1, 1]
    assert events.x.tolist() == [4, 4]
    assert events.p.tolist() == [False, False]
    assert events.offsets.tolist() == [0, 0, 2]


def test_one_dim_sample_maps_to_x_and_zero_dim_to_a_single_address() -> None:
    events = Events.from_dense(torch.tensor([[[0, 1, 0, 1]]]))  # [T=1, B=1, N=4]
    assert events.x.tolist() == [1, 3]
    assert events.y.tolist() == [0, 0]
    assert events.sensor_size == (4, 1, 2)
    scalar = Events.from_dense(torch.tensor([[1, 0], [0, 1]]))  # [T=2, B=2], 0-D samples
    assert scalar.shape == ()
    assert scalar.sensor_size == (1, 1, 2)
    assert torch.equal(scalar.dense(dtype=torch.int64), torch.tensor([[1, 0], [0, 1]]))


def test_channels_come_from_the_leading_dims() -> None:
    spikes = torch.zeros(1, 1, 2, 3, 4, 5)
    spikes[0, 0, 1, 2, 3, 4] = 1
    events = Events.from_dense(spikes)
    assert (events.c.tolist(), events.y.tolist(), events.x.tolist()) == ([5], [3], [4])
    assert events.c.dtype == torch.int16
    assert Events.from_dense(torch.ones(1, 1, 1, 2, 2)).c is None


def test_from_dense_rejects_bad_values_naming_the_first_index() -> None:
    spikes = torch.zeros(4, 3, 2)
    spikes[3, 0, 0] = 0.5
    spikes[2, 1, 1] = float("nan")
    with pytest.raises(DenseInputError, match=r"spikes\[2, 1, 1\] = nan"):
        Events.from_dense(spikes)
    spikes[2, 1, 1] = float("inf")
    with pytest.raises(DenseInputError, match=r"spikes\[2, 1, 1\] = inf"):
        Events.from_dense(spikes)
    spikes[2, 1, 1] = 0
    with pytest.raises(DenseInputError, match=r"spikes\[3, 0, 0\] = 0.5"):
        Events.from_dense(spikes)
    with pytest.raises(DenseInputError, match=r"spikes\[3, 0\] = 0.5"):
        Events.from_dense(spikes[:, :, 0], batched=False)


def test_from_dense_rejects_bad_ranks_and_dtypes() -> None:
    with pytest.raises(DenseInputError, match="batched=False"):
        Events.from_dense(torch.ones(5))
    with pytest.raises(DenseInputError, match="complex"):
        Events.from_dense(torch.ones(2, 2, dtype=torch.complex64))
    with pytest.raises(EventsError, match="dim below 1"):
        Events.from_dense(torch.zeros(1, 1, 0))


# ---------------------------------------------------------------------- sparse and numpy round trips
@given(dense_spikes(), st.sampled_from(["signed", "on", "split"]))
def test_sparse_matches_dense(spikes: torch.Tensor, polarity: str) -> None:
    events = Events.from_dense(spikes)
    sparse = events.to_sparse(dtype=torch.float64, polarity=polarity)  # type: ignore[arg-type]
    assert sparse.is_coalesced()
    assert torch.equal(sparse.to_dense(), events.dense(dtype=torch.float64, polarity=polarity))  # type: ignore[arg-type]


@given(dense_spikes())
def test_sparse_round_trip(spikes: torch.Tensor) -> None:
    events = Events.from_dense(spikes)
    assert Events.from_dense(events.to_sparse()) == events


@st.composite
def event_streams(draw: st.DrawFn) -> Events:
    """One microsecond sample with random sorted times and addresses."""
    width, height = draw(st.integers(1, 1280)), draw(st.integers(1, 720))
    n = draw(st.integers(0, 200))
    gen = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    low = draw(st.integers(-(2**62), 2**62))
    t = np.sort(gen.integers(low, low + draw(st.integers(0, 10**6)) + 1, n))
    return Events(
        t,
        gen.integers(0, width, n),
        gen.integers(0, height, n),
        gen.integers(0, 2, n).astype(bool),
        sensor_size=(width, height, 2),
    )


@given(event_streams())
def test_numpy_round_trip(events: Events) -> None:
    array = events.to_numpy()
    assert array.dtype == np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])
    assert from_tonic(array, sensor_size=events.sensor_size) == events


def test_numpy_round_trip_with_channels_and_steps() -> None:
    spikes = torch.zeros(3, 2, 2, 4, 5)
    spikes[2, 1, 1, 3, 4] = 1
    spikes[0, 1, 0, 0, 1] = -1
    events = Events.from_dense(spikes)
    array = events.to_numpy(sample=1)
    assert array.dtype.names == ("x", "y", "t", "p", "c")
    assert from_tonic(array, shape=(2, 4, 5), num_steps=3) == events[1]


def test_to_numpy_of_several_samples_needs_a_sample() -> None:
    events = Events.from_dense(torch.ones(2, 3, 4))
    with pytest.raises(EventsError, match="sample="):
        events.to_numpy()
    assert len(events.to_numpy(sample=-1)) == 8


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("column", "values", "match"),
    [
        ("x", [0, 1, 4, 9], r"x\[2\] = 4 is outside \[0, 4\)"),
        ("x", [0, -1, 2, 3], r"x\[1\] = -1"),
        ("y", [0, 1, 0, 2], r"y\[3\] = 2 is outside \[0, 2\)"),
    ],
)
def test_addresses_outside_the_shape_are_named(column: str, values: list[int], match: str) -> None:
    with pytest.raises(AddressError, match=match):
        make_events(**{column: values})


def test_address_error_names_the_sample() -> None:
    with pytest.raises(AddressError, match="sample 1, event 0"):
        make_events(x=[0, 1, 7, 3], offsets=[0, 2, 4])


def test_channel_outside_the_shape() -> None:
    with pytest.raises(AddressError, match=r"c\[0\] = 2"):
        make_events(c=[2, 0, 0, 0], shape=(2, 2, 4))


def test_unsorted_time_is_named_and_sort_fixes_it() -> None:
    with pytest.raises(TimeOrderError, match=r"t\[2\] = 0 comes after t\[1\] = 1.*sort=True"):
        make_events(t=[0, 1, 0, 3])
    events = make_events(t=[3, 1, 0, 1], sort=True)
    assert events.t.tolist() == [0, 1, 1, 3]
    assert events.x.tolist() == [2, 1, 3, 0]  # stable: the two t=1 keep their order


def test_sort_keeps_samples_apart() -> None:
    events = make_events(t=[2, 1, 3, 0], offsets=[0, 2, 4], sort=True)
    assert events.t.tolist() == [1, 2, 0, 3]
    assert events.x.tolist() == [1, 0, 3, 2]


def test_time_may_restart_at_a_sample_boundary() -> None:
    events = make_events(t=[2, 3, 0, 1], offsets=[0, 2, 4])
    assert events.num_samples == 2


def test_steps_outside_num_steps() -> None:
    with pytest.raises(TimeOrderError, match=r"t\[3\] = 4 is outside the steps \[0, 4\)"):
        make_events(t=[0, 1, 1, 4])
    with pytest.raises(TimeOrderError, match=r"t\[0\] = -1"):
        make_events(t=[-1, 1, 1, 2])


@pytest.mark.parametrize("column", ["t", "x", "y", "p"])
def test_float_columns_are_dtype_errors(column: str) -> None:
    with pytest.raises(EventsDtypeError, match=f"column {column} has dtype"):
        make_events(**{column: torch.tensor([0.0, 1.0, 1.0, 1.0])})


def test_polarity_must_be_zero_or_one() -> None:
    with pytest.raises(EventsError, match=r"p\[1\] = -1 is not a polarity"):
        make_events(p=[1, -1, 1, 0])


@pytest.mark.parametrize(
    ("offsets", "match"),
    [([1, 4], "from 0"), ([0, 3], "from 0"), ([0, 3, 2, 4], r"offsets\[2\] = 2 is below"), ([], "from 0")],
)
def test_inconsistent_offsets(offsets: list[int], match: str) -> None:
    with pytest.raises(OffsetsError, match=match):
        make_events(offsets=offsets)


def test_metadata_errors() -> None:
    with pytest.raises(EventsError, match="has 3 values but t has 4"):
        make_events(x=[0, 1, 2])
    with pytest.raises(EventsError, match="give shape="):
        make_events(shape=None)
    with pytest.raises(EventsError, match="disagree"):
        make_events(sensor_size=(5, 2))
    with pytest.raises(EventsError, match="channel column c="):
        make_events(shape=(3, 2, 4))
    with pytest.raises(EventsError, match="drop c="):
        make_events(c=[0, 0, 0, 0])
    with pytest.raises(EventsError, match="num_steps"):
        make_events(num_steps=None, time_unit="step")
    with pytest.raises(EventsError, match="time_unit"):
        make_events(time_unit="ms")
    with pytest.raises(EventsError, match="must be 1-D"):
        make_events(t=[[0, 1, 1, 3]])
    with pytest.raises(EventsError, match="dim below 1"):
        make_events(shape=(0, 4))


def test_sensor_size_gives_the_shape() -> None:
    events = make_events(shape=None, sensor_size=(4, 2, 2))
    assert events.shape == (2, 4)
    assert events.sensor_size == (4, 2, 2)
    assert make_events(num_steps=None).time_unit == "us"


# ---------------------------------------------------------------------- equality, indexing, joining
def test_equality_compares_values_offsets_and_metadata() -> None:
    events = make_events()
    assert events == make_events()
    assert events != make_events(t=[0, 1, 2, 3])
    assert events != make_events(offsets=[0, 2, 4])
    assert events != make_events(num_steps=5)
    assert events != make_events(shape=(3, 4))
    assert (events == "events") is False
    assert pickle.loads(pickle.dumps(events)) == events


def test_indexing_samples() -> None:
    spikes = torch.zeros(3, 4, 2)
    spikes[:, 1] = 1
    spikes[2, 3, 0] = -1
    events = Events.from_dense(spikes)
    assert [len(events[b]) for b in range(4)] == [0, 6, 0, 1]
    assert events[-1] == events[3]
    assert events[1:3].offsets.tolist() == [0, 6, 6]
    assert events[3:1].num_samples == 0
    assert torch.equal(events[1:].dense(), spikes[:, 1:])
    with pytest.raises(IndexError):
        events[4]
    with pytest.raises(EventsError, match="step 1"):
        events[::2]


@given(dense_spikes(), st.data())
def test_cat_of_pieces_rebuilds_the_batch(spikes: torch.Tensor, data: st.DataObject) -> None:
    events = Events.from_dense(spikes)
    cut = data.draw(st.integers(0, events.num_samples))
    assert Events.cat([events[:cut], events[cut:]]) == events


def test_cat_takes_the_longest_num_steps_and_refuses_unlike_streams() -> None:
    a, b = Events.from_dense(torch.ones(2, 1, 3)), Events.from_dense(torch.ones(5, 1, 3))
    joined = Events.cat([a, b])
    assert joined.num_steps == 5
    assert torch.equal(joined.dense()[:2, 0], a.dense()[:, 0])
    with pytest.raises(EventsError, match="only like streams join"):
        Events.cat([a, Events.from_dense(torch.ones(2, 1, 4))])
    with pytest.raises(EventsError, match="at least one"):
        Events.cat([])
    one = Events(t=[0], x=[0], y=[0], p=[1], shape=(3,), num_steps=2, polarities=1)
    with pytest.raises(EventsError, match=r"with 1 polarities but batch 0 has .* with 2"):
        Events.cat([a, one])


def test_wide_samples_and_sensors_of_one_kind_survive_every_batch_operation() -> None:
    wide = Events(t=[0, 1, 1], x=[0, 40_000, 99_999], y=[0, 0, 0], p=[0, 0, 0], shape=(100_000,), num_steps=2)
    for joined in (
        Events.cat([wide, wide]),
        wide.to("cpu"),
        Events.cat([wide, wide])[1:],
        wide.time_slice(1),
    ):
        assert joined.x.dtype == torch.int32
        assert int(joined.x.max()) == 99_999
    assert torch.equal(Events.cat([wide, wide]).dense()[:, 1], wide.dense()[:, 0])
    one = Events(t=[0, 1], x=[1, 2], y=[0, 0], p=[0, 0], shape=(3,), num_steps=2, polarities=1)
    other = Events(t=[0], x=[1], y=[0], p=[1], shape=(3,), num_steps=2, polarities=1)
    joined = Events.cat([one, other])  # one polarity per sample, whichever it is
    assert (joined.polarities, joined.sensor_size, joined[1] == other) == (1, (3, 1, 1), True)
    assert repr(joined).endswith("num_steps=2, polarities=1, device=cpu)")
    with pytest.raises(PolarityError, match="sample 1 holds both polarities"):
        Events(t=[0, 0, 1], x=[0, 1, 2], y=[0] * 3, p=[1, 0, 1], offsets=[0, 1, 3], shape=(3,), polarities=1)


@given(dense_spikes(), st.integers(-1, 7), st.integers(-1, 7))
def test_time_slice_equals_masking_the_dense_tensor(spikes: torch.Tensor, t0: int, t1: int) -> None:
    events = Events.from_dense(spikes)
    window = events.time_slice(t0, t1)
    steps = torch.arange(spikes.shape[0]).view(-1, *[1] * (spikes.dim() - 1))
    expected = spikes.to(torch.float64) * ((steps >= t0) & (steps < t1))
    assert torch.equal(window.dense(dtype=torch.float64), expected)
    assert events.time_slice() == events


# ---------------------------------------------------------------------- time units
@given(dense_spikes(), st.integers(1, 10**6), st.integers(-(10**12), 10**12))
def test_steps_to_us_and_back(spikes: torch.Tensor, dt_us: int, t0_us: int) -> None:
    events = Events.from_dense(spikes)
    in_us = events.to_us(dt_us, t0_us)
    assert in_us.time_unit == "us"
    assert in_us.num_steps is None
    assert in_us.to_steps(dt_us, t0_us, num_steps=events.num_steps) == events


def test_to_steps_errors() -> None:
    events = make_events(num_steps=None)
    with pytest.raises(TimeOrderError, match=r"before t0_us = 1"):
        events.to_steps(10, t0_us=1)
    with pytest.raises(TimeOrderError, match="beyond num_steps = 1"):
        events.to_steps(2, num_steps=1)
    with pytest.raises(OptionError, match="dt_us must be a positive whole number of microseconds"):
        events.to_steps(0)
    with pytest.raises(EventsError, match="to_us"):
        events.to_steps(1).to_steps(1)
    assert events.to_steps(2).num_steps == 2


# ---------------------------------------------------------------------- not a dense tensor
def test_snntorch_raster_given_events_names_the_fix() -> None:
    spikeplot = pytest.importorskip("snntorch.spikeplot", reason="snntorch is in the test extra")
    figure = pytest.importorskip("matplotlib.figure", reason="matplotlib is in the test extra").Figure()
    ax = figure.add_subplot()
    spikes = torch.rand(6, 2, 1, 4, 5, generator=torch.Generator().manual_seed(0)) < 0.3
    events = Events.from_dense(spikes)
    with pytest.raises(AttributeError, match=r"events\.dense\(\)"):
        spikeplot.raster(events, ax)
    points = spikeplot.raster(events.dense()[:, 0].flatten(1), ax).get_offsets()  # the fix works:
    first = events[0]  # one point per event of sample 0, at (t, flat address)
    assert sorted(map(tuple, np.asarray(points).tolist())) == sorted(
        zip(first.t.tolist(), (first.y * 5 + first.x).tolist(), strict=True)
    )


def test_tensor_methods_torch_functions_and_numpy_name_the_fix() -> None:
    events = Events.from_dense(torch.eye(3)[:, None])
    for method in ("size", "cpu", "unsqueeze", "numel"):
        with pytest.raises(AttributeError, match=r"events\.dense\(\).*events\.to\(device\)"):
            getattr(events, method)
        assert not hasattr(events, method)
    with pytest.raises(AttributeError, match=r"no attribute 'nonsense'$"):
        events.nonsense  # noqa: B018
    for call in (lambda: torch.where(events), lambda: torch.stack([events]), lambda: torch.sum(events)):
        with pytest.raises(EventsDtypeError, match=r"was given an Events.*events\.dense\(\)"):
            call()
    with pytest.raises(TypeError):  # EventsDtypeError is a TypeError, as torch's own type errors
        torch.where(events)
    with pytest.raises(EventsDtypeError, match=r"events\.dense\(\).*events\.to_numpy\(sample=b\)"):
        np.asarray(events)
    assert pickle.loads(pickle.dumps(events)) == events  # attribute probes by pickle are unaffected
    assert (torch.ones(3) == events) is False


@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.float64, torch.int8, torch.int16, torch.int64]
)
def test_dense_gives_the_dtype_asked_for(dtype: torch.dtype) -> None:
    spikes = torch.randint(-1, 2, (5, 3, 2, 4), generator=torch.Generator().manual_seed(1))
    events = Events.from_dense(spikes)
    for polarity, expected in (("signed", spikes), ("on", spikes.clamp(min=0))):
        dense = events.dense(dtype=dtype, polarity=polarity)
        assert dense.dtype == dtype
        assert torch.equal(dense, expected.to(dtype))


def test_dense_dtypes_that_cannot_hold_off_events_raise() -> None:
    events = Events.from_dense(torch.tensor([[[1, -1]]]))
    assert events.dense(dtype=torch.bool, polarity="on").tolist() == [[[True, False]]]
    assert events.dense(dtype=torch.uint8, polarity="split").tolist() == [[[[0, 1], [1, 0]]]]
    for dtype in (torch.bool, torch.uint8, torch.complex64):
        with pytest.raises(OptionError, match="cannot hold OFF"):
            events.dense(dtype=dtype)


def test_counts_round_in_half_precision_as_documented() -> None:
    many = Events(t=[0] * 3001, x=[0] * 3001, y=[0] * 3001, p=[1] * 3001, shape=(1,), num_steps=1)
    assert many.dense(dtype=torch.float32).item() == 3001
    assert many.dense(dtype=torch.float16).item() != 3001  # float16 has no 3001
    assert many.dense(dtype=torch.int8).item() == 3001 - 12 * 256  # wraps


@pytest.mark.cuda
def test_from_dense_and_methods_on_cuda_match_cpu() -> None:
    spikes = torch.randint(-2, 3, (7, 5, 2, 6, 9)).float()
    on_gpu = Events.from_dense(spikes.cuda())
    assert on_gpu.device.type == "cuda"
    assert on_gpu == Events.from_dense(spikes)
    assert on_gpu.to("cpu") == Events.from_dense(spikes)
    assert on_gpu.time_slice(2, 5) == Events.from_dense(spikes).time_slice(2, 5)
    assert Events.cat([on_gpu[:2], on_gpu[2:]]) == on_gpu
