"""The DVS pixel model against its equations: analytic ramps and steps (counts and times to the
microsecond), the refractory period, threshold mismatch, leak and shot-noise rates measured
statistically, the linear region of dark pixels, chunking, seeds and bad input."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eventcode.dvs import MANY_EVENTS, Emulator, emulate, scenes
from eventcode.errors import EncodingError, OptionError, UndersampledVideoWarning

EXACT = {"sigma_threshold": 0.0, "leak_rate_hz": 0.0, "shot_noise_rate_hz": 0.0}
"""No mismatch, no leak, no noise: the events follow from the frames alone."""


def ramp(start: np.ndarray, factor_per_s: float, seconds: float, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Float frames 0-1 of intensities ``start * factor_per_s ** t`` (0-255 scale), and their times."""
    stamps = np.rint(np.arange(int(seconds * fps) + 1) * (1e6 / fps)).astype(np.int64)
    values = start[None] * factor_per_s ** (stamps[:, None, None] * 1e-6)
    return (values / 255).astype(np.float32), stamps


def per_pixel(events: object, width: int) -> dict[int, np.ndarray]:
    """Each pixel's event times (us), by flat pixel index."""
    t, x, y = (column.numpy() for column in (events.t, events.x, events.y))  # type: ignore[attr-defined]
    pixel = y.astype(np.int64) * width + x
    return {int(i): t[pixel == i] for i in np.unique(pixel)}


@pytest.mark.parametrize("timing", ["crossing", "linspace"])
@pytest.mark.parametrize(("factor", "polarity"), [(8.0, True), (1 / 8.0, False)])
def test_log_linear_ramp_gives_floor_change_over_threshold_events(
    factor: float, polarity: bool, timing: str
) -> None:
    start = np.array([[30.0, 25.0, 31.0], [21.0, 28.0, 24.0]]) * (1 if factor > 1 else 8)
    frames, stamps = ramp(start, factor, 1.0, 250)
    events = emulate(frames, stamps, pos_threshold=0.2, neg_threshold=0.25, timing=timing, seed=0, **EXACT)
    theta = 0.2 if polarity else 0.25
    expected = math.floor(abs(math.log(factor)) / theta)  # ln 8 / 0.2 = 10.4, / 0.25 = 8.3
    assert expected == (10 if polarity else 8)
    times = per_pixel(events, 3)
    assert sorted(times) == list(range(6))
    assert all(len(t) == expected for t in times.values())
    assert bool((events.p == polarity).all())
    if timing == "crossing":  # the k-th crossing of ln I(t) = ln I0 + t ln(factor) at k theta
        predicted = np.arange(1, expected + 1) * theta / abs(math.log(factor)) * 1e6
        for t in times.values():
            assert np.abs(t - predicted).max() <= 1


def test_crossing_times_interpolate_within_a_frame_interval() -> None:
    """One interval from 50 to 200 (a ln 4 = 1.386 change): six crossings of 0.2, each at
    k * 0.2 / ln 4 of the interval (log intensity interpolated linearly, as ESIM does)."""
    frames = np.array([[[50]], [[200]]], np.uint8)
    events = emulate(frames, [0, 10_000], seed=0, **EXACT)
    predicted = np.rint(np.arange(1, 7) * 0.2 / math.log(4) * 10_000)
    assert np.abs(events.t.numpy() - predicted).max() <= 1
    linspace = emulate(frames, [0, 10_000], timing="linspace", seed=0, **EXACT)
    assert linspace.t.tolist() == [round(k * 10_000 / 6) for k in range(1, 7)]


def test_linspace_spaces_events_by_the_frames_busiest_pixel() -> None:
    """v2e: with M the most events any pixel needs, a pixel's k-th event is at t0 + k dt / M,
    so a pixel with one event fires at dt / M, not at the end."""
    frames = np.array([[[100, 100]], [[100 * math.exp(0.21), 100 * math.exp(0.81)]]], np.float64) / 255
    events = emulate(frames.astype(np.float32), [0, 8_000], timing="linspace", seed=0, **EXACT)
    first = events.t[events.x == 0].tolist()
    second = events.t[events.x == 1].tolist()
    assert first == [2_000]
    assert second == [2_000, 4_000, 6_000, 8_000]


def test_still_video_without_noise_gives_no_events() -> None:
    frames, _stamps = scenes.grating(width=40, height=30, frames=1)
    still = frames.expand(20, -1, -1)
    assert len(emulate(still, fps=30, seed=0, **EXACT)) == 0
    assert len(emulate(still, fps=30, seed=0, sigma_threshold=0.05, leak_rate_hz=0)) == 0


def test_step_down_gives_off_events_only() -> None:
    frames = np.full((4, 5, 6), 200, np.uint8)
    frames[2:] = 50
    events = emulate(frames, fps=100, seed=3, leak_rate_hz=0)
    assert len(events) > 0
    assert not bool(events.p.any())
    assert int(events.t.min()) > 10_000  # in the step's interval, (10 000, 20 000] us
    assert int(events.t.max()) <= 20_000


def test_refractory_period_holds_and_loses_no_crossing() -> None:
    """A fast ramp (ln 8 in 20 ms: ten crossings of 0.2) with a 5 ms refractory period: no two
    events of a pixel closer than 5 ms, and once the video holds still every crossing has fired."""
    start = np.array([[25.0, 30.0]])
    frames, stamps = ramp(start, 8.0**50, 0.02, 1000)  # 8x in 20 ms
    still = np.repeat(frames[-1:], 60, axis=0)
    stamps = np.concatenate([stamps, stamps[-1] + 1000 * np.arange(1, 61)])
    frames = np.concatenate([frames, still])
    events = emulate(frames, stamps, refractory_period_us=5_000, seed=0, **EXACT)
    for t in per_pixel(events, 2).values():
        assert np.diff(t).min() >= 5_000
        assert len(t) == math.floor(math.log(8) / 0.2)
    free = emulate(frames, stamps, seed=0, **EXACT)
    assert np.diff(per_pixel(free, 2)[0]).min() < 5_000  # the period is what spaces them


@pytest.mark.parametrize(("polarity", "sigma"), [(True, 0.03), (False, 0.05)])
def test_threshold_mismatch_has_the_requested_sigma(polarity: bool, sigma: float) -> None:
    """Each pixel's first event on a slow log-linear ramp comes at theta_i / rate: the spread of
    those times is the thresholds' (N = 40,000 pixels: the sample sigma is within 1.5% of sigma
    with overwhelming probability)."""
    rate = math.log(2.0)  # ln intensity per second
    start = np.full((200, 200), 60.0 if polarity else 200.0)
    frames, stamps = ramp(start, 2.0 if polarity else 0.5, 1.0, 200)
    events = emulate(
        frames, stamps, pos_threshold=0.2, neg_threshold=0.3, sigma_threshold=sigma, leak_rate_hz=0, seed=11
    )
    assert bool((events.p == polarity).all())
    firsts = np.array([t[0] for t in per_pixel(events, 200).values()])
    assert len(firsts) == 40_000
    thresholds = firsts * 1e-6 * rate
    nominal = 0.2 if polarity else 0.3
    assert abs(thresholds.mean() - nominal) < 3 * sigma / math.sqrt(40_000) + 1e-5
    assert abs(thresholds.std() / sigma - 1) < 0.015


def test_leak_events_come_at_the_requested_rate() -> None:
    """A still video: each pixel's reference drifts down theta+ per 1 / leak_rate_hz seconds, so
    ON events follow at that rate (per-pixel factor off; the per-interval jitter averages out)."""
    frames = np.full((1, 20, 20), 120, np.uint8).repeat(301, axis=0)
    events = emulate(
        frames, fps=100, leak_rate_hz=4.0, noise_rate_cov_decades=0.0, seed=5, sigma_threshold=0.03
    )
    assert bool(events.p.all())
    rates = [(len(t) - 1) / (t[-1] - t[0]) * 1e6 for t in per_pixel(events, 20).values()]
    assert len(rates) == 400
    assert abs(np.mean(rates) / 4.0 - 1) < 0.02


def test_leak_rates_spread_by_the_requested_decades() -> None:
    frames = np.full((1, 30, 30), 120, np.uint8).repeat(401, axis=0)
    events = emulate(frames, fps=50, leak_rate_hz=5.0, noise_rate_cov_decades=0.1, seed=2)
    rates = np.array(
        [(len(t) - 1) / (t[-1] - t[0]) * 1e6 for t in per_pixel(events, 30).values() if len(t) > 5]
    )
    assert len(rates) == 900
    spread = np.log10(rates).std()  # log-normal with sigma 0.1 decade (900 pixels: within 10%)
    assert abs(spread / 0.1 - 1) < 0.1


@pytest.mark.parametrize("level", [0, 255])
def test_shot_noise_comes_at_the_requested_rate(level: int) -> None:
    """Noise of ON + OFF events per pixel per second: the requested rate for the darkest pixels
    times v2e's 1 - 0.75 (x + 20) / 275 (0.945 at x = 0, exactly a quarter at 255)."""
    frames = np.full((101, 100, 100), level, np.uint8)
    events = emulate(frames, fps=100, shot_noise_rate_hz=5.0, leak_rate_hz=0, sigma_threshold=0, seed=9)
    expected = 10_000 * 1.0 * 5.0 * (1 - 0.75 * (level + 20) / 275)  # pixels x seconds x rate
    assert abs(len(events) - expected) < 5 * math.sqrt(expected)
    on = int(events.p.sum())
    assert abs(on - expected / 2) < 5 * math.sqrt(expected / 2)
    spread = np.diff(
        np.sort(np.unique(events.t.numpy() % 10_000))
    )  # crossing timing: anywhere in the interval
    assert spread.max() < 500


def test_noise_in_linspace_timing_is_stamped_at_the_frame() -> None:
    frames = np.full((21, 50, 50), 0, np.uint8)
    events = emulate(frames, fps=100, shot_noise_rate_hz=20.0, leak_rate_hz=0, timing="linspace", seed=1)
    assert len(events) > 0
    assert set((events.t.numpy() % 10_000).tolist()) == {0}


def test_dark_pixels_follow_the_linear_region() -> None:
    """Below 20 (of 255) the response is linear: x ln(20) / 20. A ramp from 5 to 15 changes it
    by 10 ln(20) / 20 = 1.498, seven crossings of 0.2 at x = 5 + k 0.2 * 20 / ln 20; a log
    response would give ln 3 / 0.2 = 5.5, five."""
    stamps = np.arange(101) * 1000
    x = 5 + 10 * np.arange(101) / 100
    frames = (np.broadcast_to(x[:, None, None], (101, 1, 1)) / 255).astype(np.float32)
    events = emulate(frames, stamps, seed=0, **EXACT)
    assert len(events) == 7
    predicted = (np.arange(1, 8) * 0.2 * 20 / math.log(20)) / 10 * 100_000
    assert np.abs(events.t.numpy() - predicted).max() <= 1
    logarithmic = emulate(frames, stamps, linear_cutoff=0, log_eps=1e-3, seed=0, **EXACT)
    assert len(logarithmic) == math.floor(math.log((15 + 1e-3) / (5 + 1e-3)) / 0.2)


def test_low_pass_slows_dark_pixels_more_than_bright_ones() -> None:
    """The photoreceptor's bandwidth grows with light: after the same 4x step, a dark pixel's
    events come later than a bright one's."""
    frames = np.zeros((40, 1, 2), np.float32)
    frames[:, 0, 0], frames[:, 0, 1] = 10 / 255, 60 / 255
    frames[1:] *= 4
    events = emulate(frames, fps=1000, cutoff_hz=50, seed=0, **EXACT)
    dark, bright = (events.t[events.x == i].numpy() for i in (0, 1))
    assert len(dark)
    assert len(bright)
    assert np.median(dark) > 2 * np.median(bright)
    unfiltered = emulate(frames, fps=1000, seed=0, **EXACT)
    assert int(unfiltered.t.max()) <= 1000  # without the filter everything fires in the step's interval


def scene_frames() -> tuple[torch.Tensor, torch.Tensor]:
    return scenes.grating(width=48, height=36, frames=25, fps=60)


NOISY = {"shot_noise_rate_hz": 30.0, "leak_rate_hz": 2.0, "cutoff_hz": 40.0, "refractory_period_us": 300}


@given(
    cuts=st.lists(st.integers(1, 24), max_size=6, unique=True),
    timing=st.sampled_from(["crossing", "linspace"]),
)
def test_chunked_input_equals_one_call(cuts: list[int], timing: str) -> None:
    frames, stamps = scene_frames()
    whole = emulate(frames, stamps, seed=4, timing=timing, **NOISY)
    emulator = Emulator(seed=4, timing=timing, **NOISY)
    bounds = [0, *sorted(cuts), 25]
    parts = [emulator.feed(frames[a:b], stamps[a:b]) for a, b in itertools.pairwise(bounds) if b > a]
    joined = {name: torch.cat([getattr(part, name) for part in parts]) for name in "txyp"}
    assert all(torch.equal(joined[name], getattr(whole, name)) for name in "txyp")
    assert emulator.time_us == int(stamps[-1])


def test_chunk_frames_do_not_change_the_events() -> None:
    frames, stamps = scene_frames()
    one = emulate(frames, stamps, seed=8, chunk_frames=64, **NOISY)
    assert one == emulate(frames, stamps, seed=8, chunk_frames=3, **NOISY)


def test_frames_without_timestamps_count_on_from_fps() -> None:
    frames, _ = scene_frames()
    emulator = Emulator(fps=60, seed=1, leak_rate_hz=0)
    first, second = emulator.feed(frames[:10]), emulator.feed(frames[10:])
    assert emulator.time_us == round(24 * 1e6 / 60)
    assert int(second.t.min()) > round(9 * 1e6 / 60) >= int(first.t.max())


def test_same_seed_same_events_other_seed_other_events() -> None:
    frames, stamps = scene_frames()
    a = emulate(frames, stamps, seed=21, **NOISY)
    assert a == emulate(frames, stamps, seed=21, **NOISY)
    assert a != emulate(frames, stamps, seed=22, **NOISY)
    assert len(a) > 1000


def test_unseeded_emulators_draw_their_own_seed() -> None:
    first, second = Emulator(), Emulator()
    assert first.seed != second.seed
    frames, stamps = scene_frames()
    assert emulate(frames, stamps, seed=first.seed) == emulate(frames, stamps, seed=first.seed)


def test_events_are_sorted_with_ties_in_pixel_order() -> None:
    frames, stamps = scene_frames()
    events = emulate(frames, stamps, seed=0, timing="linspace", leak_rate_hz=0)
    key = events.t.numpy() * 10_000 + events.y.numpy().astype(np.int64) * 48 + events.x.numpy()
    assert bool((np.diff(key) > 0).all())  # time order, ties by (y, x), one event per pixel and time
    assert events.sensor_size == (48, 36, 2)
    assert events.time_unit == "us"


def test_rgb_frames_are_reduced_to_bt601_luma() -> None:
    rgb = np.zeros((6, 4, 5, 3), np.uint8)
    rgb[:, :, :, 1] = np.linspace(40, 200, 6).astype(np.uint8)[:, None, None]  # green only
    grey = (rgb[..., 1] * 0.587).astype(np.float32) / 255
    events = emulate(rgb, fps=100, seed=0, **EXACT)
    assert len(events) == len(emulate(grey, fps=100, seed=0, **EXACT)) == 20 * math.floor(math.log(5) / 0.2)


def test_uint8_frames_take_the_lookup_table_of_the_same_formula() -> None:
    emulator = Emulator(linear_cutoff=20.0, log_eps=0.5)
    values = torch.arange(256, dtype=torch.uint8)
    looked_up = emulator._log_frame(values, None)
    assert torch.equal(looked_up, emulator._log(values.to(torch.float32)))


@pytest.mark.parametrize("counts", [[3, 1, 4, 1, 5], [0, 2, 0, 0, 3, 0], [0, 0, 1]])
def test_the_pixel_of_each_event_matches_repeat_interleave(counts: list[int]) -> None:
    tensor = torch.tensor(counts, dtype=torch.int32)
    first = torch.cumsum(tensor, 0, dtype=torch.int32) - tensor
    expected = torch.repeat_interleave(torch.arange(len(counts), dtype=torch.int32), tensor)
    assert torch.equal(Emulator(seed=0)._pixel_of_events(first, sum(counts)), expected)


def test_a_pixel_needing_too_many_events_warns_once() -> None:
    frames = np.array([[[1]], [[255]], [[1]], [[255]]], np.uint8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emulate(frames, fps=30, pos_threshold=0.01, neg_threshold=0.01, seed=0, **EXACT)
    found = [w for w in caught if issubclass(w.category, UndersampledVideoWarning)]
    assert len(found) == 1
    assert f"more than {MANY_EVENTS}" in str(found[0].message)
    assert "minterpolate" in str(found[0].message)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.full((3, 4, 4), np.nan, np.float32), "not finite"),
        (np.zeros((3, 4), np.uint8), "shape"),
        (np.zeros((3, 4, 4, 2), np.uint8), "shape"),
        (np.zeros((3, 4, 4), np.int16), "dtype"),
        (np.full((3, 4, 4), 2.0, np.float32), r"between \[0.0, 1.0\], but input is \[2.0, 2.0\]"),
    ],
)
def test_bad_frames_raise(frames: np.ndarray, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        emulate(frames, fps=30)


@pytest.mark.parametrize(
    ("stamps", "message"),
    [
        ([0, 10, 10], "increase"),
        ([0, 20, 10], "increase"),
        ([0, 10], "timestamps_us of shape"),
        ([0.0, 0.5, 1.0], "whole"),
    ],
)
def test_bad_timestamps_raise(stamps: list[float], message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        emulate(np.zeros((3, 4, 4), np.uint8), stamps)


def test_chunks_must_follow_in_time_and_size() -> None:
    emulator = Emulator()
    emulator.feed(np.zeros((2, 4, 4), np.uint8), [0, 10])
    with pytest.raises(EncodingError, match="does not follow"):
        emulator.feed(np.zeros((2, 4, 4), np.uint8), [10, 20])
    with pytest.raises(EncodingError, match="4x4"):
        emulator.feed(np.zeros((2, 4, 5), np.uint8), [20, 30])
    with pytest.raises(EncodingError, match="fps"):
        emulator.feed(np.zeros((2, 4, 4), np.uint8))


@pytest.mark.parametrize(
    "options",
    [
        {"pos_threshold": -0.2},
        {"neg_threshold": 0},
        {"sigma_threshold": -1},
        {"refractory_period_us": -5},
        {"leak_rate_hz": float("nan")},
        {"shot_noise_rate_hz": "1"},
        {"timing": "frame"},
        {"linear_cutoff": 0},
        {"fps": 0},
    ],
)
def test_bad_options_raise(options: dict[str, object]) -> None:
    with pytest.raises(OptionError):
        Emulator(**options)  # type: ignore[arg-type]


@pytest.mark.cuda
def test_cuda_matches_cpu_without_randomness_and_repeats_with_a_seed() -> None:
    frames, stamps = scene_frames()
    cpu = emulate(frames, stamps, seed=0, **EXACT)
    gpu = emulate(frames, stamps, seed=0, device="cuda", **EXACT)
    assert gpu.device.type == "cuda"
    assert len(gpu) == len(cpu)
    assert int((gpu.t.cpu() - cpu.t).abs().max()) <= 1  # float rounding may move a crossing by 1 us
    noisy = emulate(frames, stamps, seed=3, device="cuda", **NOISY)
    assert noisy == emulate(frames, stamps, seed=3, device="cuda", **NOISY)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8])
def test_frames_are_left_as_they_were(dtype: torch.dtype) -> None:
    frames, stamps = scene_frames()
    given = frames.to(dtype) / 255 if dtype.is_floating_point else frames
    kept = given.clone()
    emulate(given, stamps, seed=0, cutoff_hz=30, shot_noise_rate_hz=1)
    assert torch.equal(given, kept)


def test_a_device_torch_cannot_use_raises_our_error() -> None:
    with pytest.raises(OptionError, match="device"):
        Emulator(device="nowhere")
