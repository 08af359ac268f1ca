"""Tests of eventcode/frames.py: frames and voxel grids against Tonic 1.7.0 (vectors and the real package)."""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from conftest import SHARED
from hypothesis import assume, given
from hypothesis import strategies as st

from eventcode import Events
from eventcode.errors import EventsDtypeError, EventsError, OptionError, PolarityError
from eventcode.frames import to_frames, to_voxel_grid
from eventcode.tonic import from_tonic

frames_module = importlib.import_module("eventcode.frames")
METHODS = ("time_window", "event_count", "n_time_bins", "n_event_bins")


# ---------------------------------------------------------------------- helpers
class TonicVectors:
    """Tonic 1.7.0 outputs in ``shared/data/vectors/tonic_v1.npz`` and their index."""

    def __init__(self, folder: Path) -> None:
        self.arrays = np.load(folder / "tonic_v1.npz")
        self.index = {e["key"]: e for e in json.loads((folder / "tonic_v1_index.json").read_text())["index"]}

    def events(self, name: str, sensor_size: tuple[int, ...]) -> Events:
        return Events(*(self.arrays[f"in/{name}/{k}"] for k in "txyp"), sensor_size=sensor_size)


@pytest.fixture(scope="module")
def tonic_vectors(shared: Path) -> TonicVectors:
    return TonicVectors(shared / "data/vectors")


@pytest.fixture(scope="module")
def tonic() -> ModuleType:
    return pytest.importorskip("tonic", reason="tonic is in the test extra")


def frame_cases() -> list[str]:
    """The 77 ``toframe/cNNN`` keys (read at collection; the ``shared`` fixture reports a missing folder)."""
    index = SHARED / "data" / "vectors" / "tonic_v1_index.json"
    if not index.exists():
        return [f"toframe/c{i:03d}" for i in range(77)]
    return [e["key"] for e in json.loads(index.read_text())["index"] if e["key"].startswith("toframe/")]


def ours(tonic_kwargs: dict) -> dict:
    """Tonic's ToFrame keyword arguments in eventcode's spelling (``start_time`` -> ``t_start``)."""
    spelling = {"start_time": "t_start", "end_time": "t_end"}
    return {spelling.get(name, name): value for name, value in tonic_kwargs.items()}


def tonic_frames(tonic: ModuleType, events: Events, **kwargs: object) -> np.ndarray:
    """The real ``tonic.transforms.ToFrame`` on a copy of our events (Tonic may write into its input)."""
    spelling = {"t_start": "start_time", "t_end": "end_time"}  # Tonic's names of the window
    options = {spelling.get(name, name): value for name, value in kwargs.items()}
    return tonic.transforms.ToFrame(sensor_size=events.sensor_size, **options)(events.to_numpy().copy())


def tonic_covers_every_event(tonic: ModuleType, array: np.ndarray, kwargs: dict) -> bool:
    """Whether Tonic's slicer puts every event in at least one frame."""
    slicers, kw = tonic.slicers, dict(kwargs)
    overlap, incomplete = kw.pop("overlap", 0), kw.pop("include_incomplete", False)
    if "time_window" in kw:
        slicer = slicers.SliceByTime(
            kw["time_window"], overlap, incomplete, kw.get("t_start"), kw.get("t_end")
        )
    elif "event_count" in kw:
        slicer = slicers.SliceByEventCount(kw["event_count"], overlap, incomplete)
    elif "n_time_bins" in kw:
        slicer = slicers.SliceByTimeBins(kw["n_time_bins"], overlap)
    else:
        slicer = slicers.SliceByEventBins(kw["n_event_bins"], overlap)
    covered = np.zeros(len(array), dtype=bool)
    for start, end in slicer.get_slice_metadata(array, None):
        covered[start:end] = True
    return bool(covered.all())


@st.composite
def streams(draw: st.DrawFn, min_events: int = 0, max_events: int = 120, any_sensor: bool = False) -> Events:
    """One sorted microsecond sample on a small sensor, with repeated timestamps.

    With ``any_sensor``, also 1-polarity sensors and 1-D samples (Tonic's audio arrays, no ``y``).
    """
    width, height = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    polarities, audio = (draw(st.sampled_from([1, 2])), draw(st.booleans())) if any_sensor else (2, False)
    n = draw(st.integers(min_events, max_events))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    steps = rng.integers(0, draw(st.sampled_from([1, 3, 40, 1000])), n)
    t = draw(st.integers(0, 10**6)) + np.cumsum(steps)
    on = rng.random(n) < draw(st.floats(0, 1)) if polarities == 2 else np.full(n, draw(st.booleans()))
    return Events(
        t,
        rng.integers(0, width, n),
        rng.integers(0, 1 if audio else height, n),
        on,
        sensor_size=(width, 1 if audio else height, polarities),
        shape=(width,) if audio else None,
    )


@st.composite
def tonic_arguments(draw: st.DrawFn, events: Events, default_mode: bool) -> dict:
    """Valid ToFrame keyword arguments for these events (what Tonic accepts without raising)."""
    method = draw(st.sampled_from(METHODS))
    span = int(events.t[-1] - events.t[0]) if len(events) else 100
    kwargs: dict = {}
    if method == "time_window":
        window = draw(st.integers(1, max(2, span + 5)))
        if draw(st.booleans()):
            window += 0.5
        kwargs["time_window"] = window
        low = 0 if default_mode else -window
        kwargs["overlap"] = draw(
            st.sampled_from([0, 0, draw(st.integers(math.ceil(low), math.ceil(window) - 1))])
        )
        kwargs["include_incomplete"] = draw(st.booleans())
        if draw(st.booleans()) and len(events):
            first = int(events.t[0])
            start = draw(st.integers(first - 50, first + span // 2 + 1))
            kwargs["t_start"] = start
            kwargs["t_end"] = draw(st.integers(start, start + 2 * span + 10))
    elif method == "event_count":
        count = draw(st.integers(1, max(1, len(events) + 3)))
        low = 0 if default_mode else -count
        kwargs.update(
            event_count=count, overlap=draw(st.sampled_from([0, draw(st.integers(low, count - 1))]))
        )
        kwargs["include_incomplete"] = draw(st.booleans())
    else:
        kwargs[method] = draw(st.integers(1, 9))
        kwargs["overlap"] = draw(st.sampled_from([0, 0, 0.1, 0.5, 0.75]))
    return kwargs


def numpy_frames(frame: np.ndarray, events: Events, n_frames: int) -> np.ndarray:
    """Counts ``(n_frames, 2, H, W)`` of events whose frame index is given (-1: not counted)."""
    width, height = events.sensor_size[:2]
    keep = frame >= 0
    flat = ((frame * 2 + events.p.numpy()) * height + events.y.numpy()) * width + events.x.numpy()
    counts = np.bincount(flat[keep], minlength=n_frames * 2 * height * width)
    return counts.reshape(n_frames, 2, height, width)


# ---------------------------------------------------------------------- Tonic's reference vectors
@pytest.mark.parametrize("key", frame_cases())
def test_tonic_compat_reproduces_every_toframe_vector(tonic_vectors: TonicVectors, key: str) -> None:
    entry = tonic_vectors.index[key]
    events = tonic_vectors.events(entry["input"], entry["sensor_size"])
    frames = to_frames(events, tonic_compat=True, **ours(entry["kwargs"]))
    expected = tonic_vectors.arrays[key]
    assert frames.dtype == torch.int16
    assert tuple(frames.shape) == expected.shape == tuple(entry["out_shape"])
    np.testing.assert_array_equal(frames.numpy(), expected)


@pytest.mark.parametrize("key", frame_cases())
def test_default_mode_equals_the_vectors_where_tonic_loses_nothing(
    tonic_vectors: TonicVectors, key: str
) -> None:
    entry = tonic_vectors.index[key]
    events = tonic_vectors.events(entry["input"], entry["sensor_size"])
    kwargs = {"include_incomplete": False, **ours(entry["kwargs"])}  # Tonic's default, explicitly
    frames = to_frames(events, **kwargs)
    assert frames.dtype == torch.int32
    if kwargs.get("overlap", 0) == 0 and entry["events_counted"] == entry["events_in"]:
        np.testing.assert_array_equal(frames.numpy(), tonic_vectors.arrays[key])
    elif (
        "t_start" not in kwargs
        and kwargs.get("overlap", 0) == 0
        and (kwargs["include_incomplete"] or "n_time_bins" in kwargs or "n_event_bins" in kwargs)
    ):
        assert int(frames.sum()) == entry["events_in"]  # where Tonic dropped, eventcode did not


@pytest.mark.parametrize(("key", "mode"), [("tovoxel/rand_boolp", True), ("tovoxel/rand_intp", "int")])
def test_tonic_compat_reproduces_the_voxel_vectors(
    tonic_vectors: TonicVectors, key: str, mode: object
) -> None:
    entry = tonic_vectors.index[key]
    events = tonic_vectors.events(entry["input"], (34, 34, 2))
    grid = to_voxel_grid(events, entry["kwargs"]["n_time_bins"], tonic_compat=mode)  # type: ignore[arg-type]
    assert grid.dtype == torch.float64
    np.testing.assert_array_equal(grid.numpy(), tonic_vectors.arrays[key])  # bit for bit


def test_vectors_tonic_image_is_one_event_count_frame(tonic_vectors: TonicVectors) -> None:
    events = tonic_vectors.events("ev_random_34x34x2_n3000", (34, 34, 2))
    image = to_frames(events, event_count=len(events), tonic_compat=True)[0]
    np.testing.assert_array_equal(image.numpy(), tonic_vectors.arrays["toimage/rand"])


# ---------------------------------------------------------------------- the real Tonic, random input
@given(st.data())
def test_tonic_compat_equals_real_tonic(tonic: ModuleType, data: st.DataObject) -> None:
    events = data.draw(streams(any_sensor=True))
    kwargs = data.draw(tonic_arguments(events, default_mode=False))
    expected = tonic_frames(tonic, events, **kwargs)
    frames = to_frames(events, tonic_compat=True, **kwargs)
    assert str(frames.dtype).removeprefix("torch.") == str(expected.dtype)
    assert tuple(frames.shape) == expected.shape
    np.testing.assert_array_equal(frames.numpy(), expected)


@given(st.data())
def test_default_mode_equals_real_tonic_where_tonic_loses_nothing(
    tonic: ModuleType, data: st.DataObject
) -> None:
    events = data.draw(streams(min_events=1, any_sensor=True))
    kwargs = data.draw(tonic_arguments(events, default_mode=True))
    array = events.to_numpy()
    bins_with_overlap = ("n_time_bins" in kwargs or "n_event_bins" in kwargs) and kwargs["overlap"] != 0
    # documented differences elsewhere: eventcode keeps the events; bins with overlap span the recording
    assume(tonic_covers_every_event(tonic, array, kwargs) and not bins_with_overlap)
    frames = to_frames(events, **kwargs)
    expected = tonic_frames(tonic, events, **kwargs)
    assert frames.dtype == torch.int32
    np.testing.assert_array_equal(frames.numpy(), expected)


@given(streams(min_events=2), st.integers(1, 7), st.sampled_from([True, "int"]))
def test_voxel_grid_compat_equals_real_tonic(
    tonic: ModuleType, events: Events, bins: int, mode: object
) -> None:
    assume(int(events.t[-1]) != int(events.t[0]))  # zero duration is tested below; Tonic raises on empty
    array = events.to_numpy()
    if mode == "int":
        array = array.astype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i8")])
    expected = tonic.transforms.ToVoxelGrid(sensor_size=events.sensor_size, n_time_bins=bins)(array)
    grid = to_voxel_grid(events, bins, tonic_compat=mode)  # type: ignore[arg-type]
    np.testing.assert_array_equal(grid.numpy(), expected)


def test_voxel_grid_compat_zero_duration_gives_tonics_nan(tonic: ModuleType) -> None:
    events = Events(t=[5, 5, 5], x=[0, 1, 2], y=[0, 1, 1], p=[1, 0, 1], sensor_size=(4, 2))
    with pytest.warns(RuntimeWarning, match="invalid value"):  # 0 / 0 in Tonic
        expected = tonic.transforms.ToVoxelGrid(sensor_size=(4, 2, 2), n_time_bins=3)(events.to_numpy())
    grid = to_voxel_grid(events, 3, tonic_compat=True)
    np.testing.assert_array_equal(grid.numpy(), expected)  # NaN where Tonic has NaN
    assert int(torch.isnan(grid).sum()) == 6


def test_empty_input_matches_tonic_in_compat_mode(tonic: ModuleType) -> None:
    events = Events(t=[], x=[], y=[], p=[], sensor_size=(5, 3))
    for kwargs in ({"time_window": 100}, {"event_count": 3}, {"n_time_bins": 4}, {"n_event_bins": 2}):
        expected = tonic_frames(tonic, events, **kwargs)
        frames = to_frames(events, tonic_compat=True, **kwargs)
        assert frames.dtype == torch.float64
        assert tuple(frames.shape) == expected.shape
        default = to_frames(events, **kwargs)
        assert default.dtype == torch.int32
        assert tuple(default.shape) == (expected.shape[0], 2, 3, 5)
        assert not default.any()


@pytest.mark.parametrize(
    ("sensor_size", "shape"), [((5, 3, 2), None), ((5, 3, 1), None), ((7, 1, 1), (7,)), ((7, 1, 2), (7,))]
)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"time_window": 100},
        {"time_window": 2.5},
        {"event_count": 3},
        {"event_count": 1e3},  # a float Tonic takes for empty input
        {"n_time_bins": 4},
        {"n_time_bins": 5.0},  # a float Tonic takes for non-empty input
        {"n_event_bins": 2},
        {"n_event_bins": 2.0},
    ],
)
def test_every_sensor_empty_or_not_gives_tonics_frames_or_error(
    tonic: ModuleType, sensor_size: tuple, shape: tuple | None, kwargs: dict
) -> None:
    middle = 0 if sensor_size[2] == 2 else 1  # OFF among ON, or one polarity
    full = Events(
        t=[3, 9, 40], x=[0, 4, 2], y=[0] * 3, p=[1, middle, 1], sensor_size=sensor_size, shape=shape
    )
    for events in (full, full.time_slice(0, 0)):
        try:
            expected = tonic_frames(tonic, events, **kwargs)
        except TypeError:  # Tonic sizes frames or slices events with the float
            with pytest.raises(EventsDtypeError, match=r"Tonic 1\.7's ToFrame raises TypeError"):
                to_frames(events, tonic_compat=True, **kwargs)
            continue
        frames = to_frames(events, tonic_compat=True, **kwargs)
        assert str(frames.dtype).removeprefix("torch.") == str(expected.dtype)
        np.testing.assert_array_equal(frames.numpy(), expected)
        planes = sensor_size[2]
        spatial = (sensor_size[0],) if shape else (sensor_size[1], sensor_size[0])
        if all(isinstance(v, int) or k == "time_window" for k, v in kwargs.items()):  # default: int counts
            assert to_frames(events, **kwargs).shape[1:] == (planes, *spatial)


def test_three_polarity_sensors_and_mixed_polarity_on_one_raise_our_error(tonic: ModuleType) -> None:
    fields = [("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")]
    array = np.array([(1, 0, 5, 0), (2, 1, 6, 2)], dtype=fields)
    assert tonic.transforms.ToFrame(sensor_size=(3, 2, 3), event_count=2)(array.copy()).shape == (1, 3, 2, 3)
    with pytest.raises(PolarityError, match=r"P = 3 polarities.*shape=\(P, H, W\) with c"):
        from_tonic(array, sensor_size=(3, 2, 3))
    two = array.copy()
    two["p"] = [0, 1]
    with pytest.raises(ValueError, match="Single polarity sensor"):
        tonic.transforms.ToFrame(sensor_size=(3, 2, 1), event_count=2)(two.copy())
    with pytest.raises(PolarityError, match="both polarities"):
        from_tonic(two, sensor_size=(3, 2, 1))
    without_p = Events(t=[1, 2], x=[0, 1], y=[0, 0], p=[1, 1], sensor_size=(2, 1), polarities=0)
    assert without_p.to_numpy().dtype.names == ("x", "y", "t")
    with pytest.raises(AssertionError):  # Tonic asserts a p field
        tonic.transforms.ToFrame(sensor_size=without_p.sensor_size, event_count=2)(without_p.to_numpy())
    with pytest.raises(EventsError, match="no p field"):
        to_frames(without_p, event_count=2, tonic_compat=True)
    assert to_frames(without_p, event_count=2).tolist() == [[[[1, 1]]]]


def test_tonic_overwrites_polarity_and_we_do_not(tonic: ModuleType) -> None:
    events = Events(t=[0, 1, 2], x=[0, 1, 0], y=[0, 0, 0], p=[1, 1, 1], sensor_size=(2, 1))
    array = events.to_numpy()
    tonic.transforms.ToFrame(sensor_size=(2, 1, 1), event_count=3)(array)
    assert not array["p"].any()  # Tonic's quirk for a one-polarity sensor
    before = [column.clone() for column in (events.t, events.x, events.y, events.p)]
    to_frames(events, event_count=3)
    to_frames(events, time_window=2, tonic_compat=True)
    to_voxel_grid(events, 2)
    assert all(
        torch.equal(a, b) for a, b in zip(before, (events.t, events.x, events.y, events.p), strict=True)
    )


# ---------------------------------------------------------------------- default mode: nothing lost
@given(streams(min_events=1), st.sampled_from(METHODS), st.integers(1, 50))
def test_default_mode_counts_every_event_once(events: Events, method: str, size: int) -> None:
    frames = to_frames(events, **{method: size})
    assert int(frames.sum()) == len(events)
    image = to_frames(events, event_count=len(events))[0]
    assert torch.equal(frames.sum(0), image)


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


@given(
    st.lists(
        st.sampled_from([INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX]) | st.integers(),
        min_size=1,
        max_size=6,
    ).map(lambda times: sorted(min(max(t, INT64_MIN), INT64_MAX) for t in times)),
    st.sampled_from(
        [
            {"n_time_bins": 3},
            {"n_time_bins": 4, "overlap": 0.5},
            {"time_window": 10**18},
            {"time_window": 10**18, "overlap": 4 * 10**17},
            {"time_window": 2.5e18},
            {"time_window": 2.5e18, "overlap": 0.5e18, "include_incomplete": False},
        ]
    ),
)
def test_times_at_the_int64_limits_land_in_their_windows(times: list[int], options: dict) -> None:
    """Window ends past int64 (the last one at t[-1] + 1) used to overflow: a foreign error, or
    wrapped boundaries that put events in the wrong window."""
    events = Events(t=times, x=[0] * len(times), y=[0] * len(times), p=[1] * len(times), sensor_size=(1, 1))
    frames = to_frames(events, **options)
    counts = frames.sum((1, 2, 3))
    if "overlap" not in options and options.get("include_incomplete", True):
        assert (
            counts.tolist()
            == torch.bincount(window_of(times, options, len(counts)), minlength=len(counts)).tolist()
        )
    else:
        assert 0 < int(counts.sum()) <= 2 * len(times)


def window_of(times: list[int], options: dict, frames: int) -> torch.Tensor:
    """Each time's window, in exact Python integers: time bins split [t0, t[-1] + 1) evenly."""
    if "n_time_bins" in options:
        bins, span = options["n_time_bins"], times[-1] + 1 - times[0]
        return torch.tensor([min(bins - 1, (t - times[0]) * bins // span) for t in times])
    return torch.tensor([min(frames - 1, int((t - times[0]) // options["time_window"])) for t in times])


@given(streams(min_events=1), st.sampled_from(METHODS), st.integers(1, 50), st.floats(0, 0.95))
def test_with_overlap_every_event_counts_at_least_once(
    events: Events, method: str, size: int, fraction: float
) -> None:
    overlap = fraction if method.startswith("n_") else int(fraction * size)
    frames = to_frames(events, **{method: size}, overlap=overlap)
    image = to_frames(events, event_count=len(events))[0]
    assert bool((frames.sum(0) >= image).all())


@given(streams(min_events=1), st.integers(1, 12))
def test_n_time_bins_puts_each_event_at_the_documented_bin(events: Events, bins: int) -> None:
    t = events.t.numpy()
    span = int(t[-1]) - int(t[0]) + 1
    expected = numpy_frames((t - t[0]) * bins // span, events, bins)
    np.testing.assert_array_equal(to_frames(events, n_time_bins=bins).numpy(), expected)


@given(streams(min_events=1), st.integers(1, 12))
def test_n_event_bins_spreads_events_evenly(events: Events, bins: int) -> None:
    n = len(events)
    frames = to_frames(events, n_event_bins=bins)
    np.testing.assert_array_equal(frames.numpy(), numpy_frames(np.arange(n) * bins // n, events, bins))
    sizes = frames.sum((1, 2, 3))
    assert set(sizes.tolist()) <= {n // bins, n // bins + 1}


@given(streams(min_events=1), st.integers(1, 3000))
def test_time_window_frame_is_floor_of_time_over_window(events: Events, window: int) -> None:
    t = events.t.numpy()
    frame = (t - t[0]) // window
    frames = to_frames(events, time_window=window)
    assert len(frames) == frame[-1] + 1
    np.testing.assert_array_equal(frames.numpy(), numpy_frames(frame, events, len(frames)))


def test_time_window_keeps_the_event_at_a_window_end() -> None:
    events = Events(t=[0, 150, 299, 300], x=[0, 1, 2, 2], y=[0, 0, 1, 1], p=[1, 0, 1, 1], sensor_size=(3, 2))
    compat = to_frames(events, time_window=100, include_incomplete=True, tonic_compat=True)
    assert compat.sum((1, 2, 3)).tolist() == [1, 1, 1]  # Tonic: t = 300 is lost
    assert to_frames(events, time_window=100).sum((1, 2, 3)).tolist() == [1, 1, 1, 1]
    # without include_incomplete the window [300, 400) is incomplete and dropped on request
    assert to_frames(events, time_window=100, include_incomplete=False).sum((1, 2, 3)).tolist() == [1, 1, 1]
    assert to_frames(events, time_window=100, overlap=50).sum((1, 2, 3)).tolist() == [1, 0, 1, 1, 1, 2]


def test_n_time_bins_on_a_short_recording_loses_nothing() -> None:
    events = Events(t=[0, 1, 2], x=[0, 1, 2], y=[0, 0, 0], p=[1, 1, 0], sensor_size=(3, 1))
    assert not to_frames(events, n_time_bins=5, tonic_compat=True).any()  # Tonic: all frames empty
    assert to_frames(events, n_time_bins=5).sum((1, 2, 3)).tolist() == [1, 1, 0, 1, 0]
    assert to_frames(events, n_time_bins=3).sum((1, 2, 3)).tolist() == [1, 1, 1]


def test_start_and_end_time_set_the_range() -> None:
    events = Events(t=[5, 15, 25, 35], x=[0, 0, 0, 0], y=[0, 0, 0, 0], p=[1, 1, 1, 1], sensor_size=(1, 1))
    frames = to_frames(events, time_window=10, t_start=0, t_end=60)
    assert frames.sum((1, 2, 3)).tolist() == [1, 1, 1, 1, 0, 0]
    assert to_frames(events, n_time_bins=2, t_start=0, t_end=20).sum((1, 2, 3)).tolist() == [1, 1]
    assert to_frames(events, n_time_bins=4, t_start=0, t_end=40).sum((1, 2, 3)).tolist() == [1, 1, 1, 1]
    empty = Events(t=[], x=[], y=[], p=[], sensor_size=(1, 1))
    assert to_frames(empty, time_window=10, t_start=0, t_end=60).shape == (6, 2, 1, 1)


def test_step_time_uses_the_whole_stream() -> None:
    events = Events(t=[3, 4, 9], x=[0, 1, 1], y=[0, 0, 0], p=[1, 0, 1], shape=(2,), num_steps=12)
    assert to_frames(events, time_window=4).sum((1, 2)).tolist() == [1, 1, 1]  # steps 0-3, 4-7, 8-11
    assert to_frames(events, n_time_bins=6).sum((1, 2)).tolist() == [0, 1, 1, 0, 1, 0]  # t * 6 // 12
    frames = to_frames(events, n_time_bins=6)
    assert frames.shape == (6, 2, 2)  # 1-D samples: (n, P, W), as Tonic's audio frames
    assert frames[2, 0].tolist() == [0, 1]  # the OFF event at step 4, x = 1
    compat = to_frames(events, time_window=4, tonic_compat=True)  # Tonic: from t[0] = 3, t = 9 lost
    assert compat.sum((1, 2)).tolist() == [2]
    empty = Events(t=[], x=[], y=[], p=[], shape=(2,), num_steps=12)
    assert to_frames(empty, time_window=5).shape == (3, 2, 2)


def test_counts_do_not_wrap_by_default() -> None:
    n = 40_000
    events = Events(
        t=np.arange(n), x=np.zeros(n, int), y=np.zeros(n, int), p=np.ones(n, bool), sensor_size=(1, 1)
    )
    assert to_frames(events, event_count=n, tonic_compat=True)[0, 1, 0, 0].item() == -25536  # Tonic's int16
    assert to_frames(events, event_count=n)[0, 1, 0, 0].item() == n


def test_output_dtypes() -> None:
    events = Events(t=[0, 0, 1], x=[1, 1, 0], y=[0, 0, 0], p=[1, 1, 0], sensor_size=(2, 1))
    assert to_frames(events, n_time_bins=1, dtype=torch.float32)[0, 1, 0].tolist() == [0.0, 2.0]
    assert to_frames(events, n_time_bins=1, dtype=torch.bool)[0, 1, 0].tolist() == [False, True]
    assert to_frames(events, n_time_bins=1, dtype=torch.int64, tonic_compat=True).dtype == torch.int64
    assert to_voxel_grid(events, 2, dtype=torch.float64).dtype == torch.float64


@given(streams(), st.sampled_from(METHODS), st.integers(1, 20), st.floats(0, 0.9), st.integers(1, 9))
def test_chunks_give_the_same_frames(
    events: Events, method: str, size: int, fraction: float, chunk: int
) -> None:
    overlap = fraction if method.startswith("n_") else int(fraction * size)
    whole = to_frames(events, **{method: size}, overlap=overlap)
    compat = to_frames(events, **{method: size}, overlap=overlap, tonic_compat=True)
    grid = to_voxel_grid(events, size)
    original = frames_module.SCATTER_EVENTS
    frames_module.SCATTER_EVENTS = {"cpu": chunk, "cuda": chunk}
    try:
        assert torch.equal(to_frames(events, **{method: size}, overlap=overlap), whole)
        assert torch.equal(to_frames(events, **{method: size}, overlap=overlap, tonic_compat=True), compat)
        torch.testing.assert_close(to_voxel_grid(events, size), grid)
    finally:
        frames_module.SCATTER_EVENTS = original


# ---------------------------------------------------------------------- voxel grid, default mode
def zhu_voxel_grid(events: Events, bins: int) -> np.ndarray:
    """The published formula, written out with numpy."""
    width, height = events.sensor_size[:2]
    grid = np.zeros((bins, height, width))
    t = events.t.numpy().astype(np.float64)
    duration = t[-1] - t[0]
    position = (bins - 1) * (t - t[0]) / duration if duration > 0 else np.zeros_like(t)
    polarity = np.where(events.p.numpy(), 1.0, -1.0)
    for b in range(bins):
        weight = np.maximum(0.0, 1.0 - np.abs(b - position)) * polarity
        np.add.at(grid[b], (events.y.numpy(), events.x.numpy()), weight)
    return grid[:, None]


@given(streams(min_events=1), st.integers(1, 8))
def test_voxel_grid_follows_the_published_formula(events: Events, bins: int) -> None:
    grid = to_voxel_grid(events, bins, dtype=torch.float64)
    np.testing.assert_allclose(grid.numpy(), zhu_voxel_grid(events, bins), rtol=1e-12, atol=1e-12)
    signed = to_frames(events, event_count=len(events))[0]
    np.testing.assert_allclose(grid.sum((0, 1)).numpy(), (signed[1] - signed[0]).numpy(), atol=1e-9)


def test_voxel_grid_edge_cases() -> None:
    events = Events(t=[7, 7], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(2, 1))
    grid = to_voxel_grid(events, 3)
    assert grid.dtype == torch.float32
    assert grid.shape == (3, 1, 1, 2)
    assert grid[:, 0, 0].tolist() == [[1.0, -1.0], [0.0, 0.0], [0.0, 0.0]]  # zero duration: bin 0
    empty = Events(t=[], x=[], y=[], p=[], sensor_size=(2, 1))
    assert not to_voxel_grid(empty, 4).any()
    spread = Events(t=[0, 100], x=[0, 0], y=[0, 0], p=[1, 1], sensor_size=(1, 1))
    assert to_voxel_grid(spread, 1).flatten().tolist() == [2.0]
    assert to_voxel_grid(spread, 5).flatten().tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert to_voxel_grid(spread, 5, tonic_compat=True).flatten().tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]


# ---------------------------------------------------------------------- errors
def test_errors() -> None:
    one = Events(t=[0, 5], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(2, 1))
    two = Events(t=[0, 5], x=[0, 1], y=[0, 0], p=[1, 0], sensor_size=(2, 1), offsets=[0, 1, 2])
    channels = Events(t=[0], x=[0], y=[0], p=[1], c=[1], shape=(2, 1, 2))
    cases = [
        (lambda: to_frames(two, time_window=5), "one sample"),
        (lambda: to_voxel_grid(two, 3), "one sample"),
        (lambda: to_frames(channels, time_window=5), "channel"),
        (lambda: to_frames(one), "exactly one"),
        (lambda: to_frames(one, time_window=5, event_count=2), "exactly one"),
        (lambda: to_frames(one, time_window=0), "positive"),
        (lambda: to_frames(one, time_window=math.inf), "finite"),
        (lambda: to_frames(one, event_count=2.5), "positive int"),
        (lambda: to_frames(one, n_time_bins=0), "positive int"),
        (lambda: to_frames(one, n_event_bins=True), "positive int"),
        (lambda: to_frames(one, time_window=5, overlap=5), "overlap"),
        (lambda: to_frames(one, time_window=5, overlap=-1), "overlap"),
        (lambda: to_frames(one, time_window=5, overlap=7, tonic_compat=True), "stride"),
        (lambda: to_frames(one, event_count=2, overlap=0.5), "int"),
        (lambda: to_frames(one, n_time_bins=2, overlap=1), "fraction"),
        (lambda: to_frames(one, n_time_bins=2, overlap=1, tonic_compat=True), "below 1"),
        (lambda: to_frames(one, time_window=5, t_start=10, t_end=3), "before"),
        (lambda: to_frames(one, event_count=2, t_start=0), "time_slice"),
        (lambda: to_frames(one, time_window=5, dtype=torch.complex64), "dtype"),
        (lambda: to_voxel_grid(one, 0), "positive int"),
        (lambda: to_voxel_grid(one, 2, dtype=torch.int32), "floating"),
        (lambda: to_voxel_grid(one, 2, tonic_compat="yes"), "tonic_compat"),  # type: ignore[arg-type]
        (
            lambda: to_voxel_grid(Events(t=[], x=[], y=[], p=[], sensor_size=(1, 1)), 2, tonic_compat=True),
            "empty",
        ),
    ]
    data_mistakes = {"one sample", "channel", "empty"}  # the events; the rest are argument mistakes
    for call, message in cases:
        with pytest.raises(EventsError if message in data_mistakes else OptionError, match=message):
            call()
    with pytest.raises(ValueError, match="exactly one"):  # what Tonic users catch
        to_frames(one)


# ---------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@given(streams(), st.sampled_from(METHODS), st.integers(1, 20), st.floats(0, 0.9), st.booleans())
def test_cuda_gives_the_cpu_numbers(
    events: Events, method: str, size: int, fraction: float, compat: bool
) -> None:
    overlap = fraction if method.startswith("n_") else int(fraction * size)
    kwargs = {method: size, "overlap": overlap, "tonic_compat": compat}
    on_gpu = events.to("cuda")
    frames = to_frames(on_gpu, **kwargs)
    assert frames.device.type == "cuda"
    assert torch.equal(frames.cpu(), to_frames(events, **kwargs))
    grid = to_voxel_grid(on_gpu, size)
    assert grid.device.type == "cuda"
    torch.testing.assert_close(grid.cpu(), to_voxel_grid(events, size))
    if len(events) and int(events.t[-1]) != int(events.t[0]):
        torch.testing.assert_close(
            to_voxel_grid(on_gpu, size, tonic_compat=True).cpu(),
            to_voxel_grid(events, size, tonic_compat=True),
        )
