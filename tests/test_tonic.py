"""Tests of eventcode/tonic.py: our events are Tonic events, and Tonic's arrays are ours."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tonic_arrays
from hypothesis import given
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import EventsError, PolarityError
from eventcode.tonic import from_tonic, to_tonic

tonic = pytest.importorskip("tonic", reason="tonic is in the test extra")
SIZE = (34, 34, 2)


def random_events(seed: int, n: int = 3000) -> Events:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(1, 100_000, n))
    return Events(t, rng.integers(0, 34, n), rng.integers(0, 34, n), rng.random(n) < 0.5, sensor_size=SIZE)


def tonic_array(events: Events) -> np.ndarray:
    """The same events built the way Tonic builds its own arrays."""
    columns = (events.x.numpy(), events.y.numpy(), events.t.numpy(), events.p.numpy())
    return tonic.io.make_structured_array(*columns, dtype=tonic.io.events_struct)


TRANSFORMS = {
    "ToFrame time_window": lambda: tonic.transforms.ToFrame(SIZE, time_window=5000),
    "ToFrame n_event_bins": lambda: tonic.transforms.ToFrame(SIZE, n_event_bins=7),
    "ToVoxelGrid": lambda: tonic.transforms.ToVoxelGrid(SIZE, n_time_bins=6),
    "ToTimesurface": lambda: tonic.transforms.ToTimesurface(SIZE, dt=10_000, tau=5_000),
    "Denoise": lambda: tonic.transforms.Denoise(filter_time=3000),
    "Downsample": lambda: tonic.transforms.Downsample(spatial_factor=0.5, time_factor=0.001),
    "RefractoryPeriod": lambda: tonic.transforms.RefractoryPeriod(delta=2000),
    "TimeJitter": lambda: tonic.transforms.TimeJitter(std=100, clip_negative=True, sort_timestamps=True),
    "DropEvent": lambda: tonic.transforms.DropEvent(p=0.3),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
@given(st.integers(0, 2**16))
def test_tonic_transforms_give_the_same_result_on_our_arrays(name: str, seed: int) -> None:
    events = random_events(seed)
    ours, theirs = to_tonic(events), tonic_array(events)
    assert ours.dtype == theirs.dtype
    outputs = []
    for array in (ours, theirs):
        np.random.seed(seed)  # noqa: NPY002 - DropEvent and TimeJitter draw from numpy's global generator
        outputs.append(TRANSFORMS[name]()(array.copy()))
    if outputs[0].dtype.names:  # an event array: equal, and eventcode reads it back
        assert np.array_equal(outputs[0], outputs[1])
        back = from_tonic(outputs[0], sensor_size=SIZE)
        assert len(back) == len(outputs[0])
    else:
        np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize(
    ("dtype", "dataset"),
    [
        ([("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")], "NMNIST"),
        ([("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")], "DVSGesture"),
        ([("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("p", "?")], "CIFAR10DVS"),
        ([("t", "<i4"), ("x", "<u1"), ("y", "<u1"), ("p", "<i1")], "POKERDVS-like small ints"),
        ([("t", "<f8"), ("x", "<i4"), ("y", "<i4"), ("p", "<i8")], "whole float times"),
    ],
)
def test_every_dataset_dtype_reads(dtype: list, dataset: str) -> None:
    array = np.zeros(3, dtype=dtype)
    array["t"], array["x"], array["y"], array["p"] = [1, 5, 9], [0, 3, 2], [1, 0, 2], [1, 0, 1]
    events = from_tonic(array, sensor_size=(4, 3, 2))
    assert events.t.tolist() == [1, 5, 9], dataset
    assert events.x.tolist() == [0, 3, 2]
    assert events.p.tolist() == [True, False, True]
    assert to_tonic(events, dtype=np.dtype(dtype)).tolist() == array.tolist()


def test_audio_streams_float_seconds_and_signed_polarity() -> None:
    shd = np.zeros(3, dtype=[("t", "<f4"), ("x", "<u2"), ("p", "<i1")])
    shd["t"], shd["x"], shd["p"] = [0.0012, 0.0015, 0.25], [699, 3, 10], [1, -1, 1]
    events = from_tonic(shd, sensor_size=(700, 1, 2), time_scale=1e6)
    assert events.t.tolist() == [1200, 1500, 250_000]
    assert events.p.tolist() == [True, False, True]  # -1 is OFF, never ON
    assert events.shape == (700,)  # no y field: a 1-D sample
    with pytest.raises(EventsError, match="time_scale"):
        from_tonic(shd, sensor_size=(700, 1, 2))
    with pytest.raises(EventsError, match="neither 0/1 nor -1/\\+1"):
        from_tonic(
            np.array([(1, 0, 2)], dtype=[("t", "<i8"), ("x", "<i8"), ("p", "<i8")]), sensor_size=(1, 1)
        )
    with pytest.raises(EventsError, match="lacks"):
        from_tonic(np.zeros(1, dtype=[("t", "<i8"), ("p", "?")]))


def test_sensor_size_is_inferred_like_tonic_and_unsorted_arrays_sort() -> None:
    array = tonic.io.make_structured_array(
        [4, 1], [2, 0], [20, 10], [True, False], dtype=tonic.io.events_struct
    )
    events = from_tonic(array, sort=True)
    assert events.sensor_size == (5, 3, 2)
    assert events.t.tolist() == [10, 20]
    assert to_tonic(Events.from_dense(torch.eye(3)[:, None]), sample=0)["t"].tolist() == [0, 1, 2]


@given(tonic_arrays())
def test_every_kind_of_tonic_array_round_trips_with_its_fields(case: tuple) -> None:
    array, sensor_size = case
    events = from_tonic(array, sensor_size=sensor_size)
    assert events.sensor_size == sensor_size
    assert events.polarities == (0 if "p" not in array.dtype.names else sensor_size[2])
    assert events.shape == ((sensor_size[0],) if "y" not in array.dtype.names else sensor_size[1::-1])
    back = to_tonic(events)
    assert set(back.dtype.names) == set(array.dtype.names)  # the fields it had, no more
    for name in array.dtype.names:
        expected = array[name] != 0 if name == "p" else array[name]
        np.testing.assert_array_equal(back[name], expected)
    assert from_tonic(back, sensor_size=sensor_size) == events
    assert from_tonic(to_tonic(events, dtype=array.dtype), sensor_size=sensor_size) == events


@given(tonic_arrays(), st.integers(3, 9))
def test_sensors_of_three_or_more_polarities_raise_our_error_everywhere(case: tuple, planes: int) -> None:
    array, (width, height, _) = case
    sensor_size = (width, height, planes)
    for build in (
        lambda: from_tonic(array, sensor_size=sensor_size),
        lambda: from_tonic(array, sensor_size=sensor_size),
        lambda: Events(t=[], x=[], y=[], p=[], sensor_size=sensor_size),
    ):
        with pytest.raises(PolarityError, match=f"P = {planes} polarities"):
            build()


@given(tonic_arrays("1 polarity", max_events=30).filter(lambda case: len(case[0]) > 0))
def test_a_one_polarity_sensor_refuses_both_polarities_as_tonic_does(case: tuple) -> None:
    array, sensor_size = case
    mixed = array.copy()
    mixed["p"][0] = 1 - int(mixed["p"][0] != 0)  # the first event takes the other polarity
    if len(mixed) == 1:
        mixed = np.concatenate([mixed, array])
        mixed["t"] = np.sort(mixed["t"])
    if "y" in array.dtype.names:
        with pytest.raises(ValueError, match="Single polarity sensor"):
            tonic.transforms.ToFrame(sensor_size=sensor_size, event_count=len(mixed))(mixed.copy())
    with pytest.raises(PolarityError, match="holds both polarities"):
        from_tonic(mixed, sensor_size=sensor_size)


def test_fields_are_read_by_name_in_any_order_and_width() -> None:
    dtype = [("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("p", "<i8")]  # CIFAR10-DVS-like order
    array = np.array([(5, 2, 1, 1), (9, 0, 0, 0)], dtype=dtype)
    events = from_tonic(array, sensor_size=(3, 2, 2))
    assert events.t.tolist() == [5, 9]
    assert events.x.tolist() == [2, 0]
    assert events.p.tolist() == [True, False]
    audio = np.array([(3, 700 - 1, 1)], dtype=[("t", "<i8"), ("x", "<i8"), ("p", "<i8")])
    assert from_tonic(audio, shape=(700,)).y.tolist() == [0]
    with pytest.raises(EventsError, match=r"lacks \['t'\]"):
        from_tonic(np.zeros(1, dtype=[("x", "<i2"), ("p", "?")]), sensor_size=(1, 1))
