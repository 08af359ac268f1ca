"""Tests of eventcode/encoders/rate.py: exact parity with snnTorch, and the fast mode's distribution."""

from __future__ import annotations

import importlib

import pytest
import torch
from conftest import check_encoder_output
from hypothesis import given
from hypothesis import strategies as st

from eventcode import rate, spikegen
from eventcode.errors import AllocationError, EncodingError

snn = pytest.importorskip("snntorch.spikegen", reason="snntorch is in the test extra")
rate_module = importlib.import_module("eventcode.encoders.rate")


def chi_square_pvalue(observed: torch.Tensor, expected: torch.Tensor) -> float:
    """Pearson chi-square p-value, bins merged from the top until each expects >= 5."""
    observed, expected = observed.double(), expected.double()
    merged_obs, merged_exp, acc_o, acc_e = [], [], 0.0, 0.0
    for o, e in zip(observed.tolist(), expected.tolist(), strict=True):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 5:
            merged_obs.append(acc_o)
            merged_exp.append(acc_e)
            acc_o, acc_e = 0.0, 0.0
    if merged_exp:
        merged_obs[-1] += acc_o
        merged_exp[-1] += acc_e
    if len(merged_exp) < 2:
        return 1.0
    obs, exp = torch.tensor(merged_obs), torch.tensor(merged_exp)
    statistic = float(((obs - exp) ** 2 / exp).sum())
    dof = len(merged_exp) - 1
    return float(torch.special.gammaincc(torch.tensor(dof / 2), torch.tensor(statistic / 2)))


def binomial_pmf(n: int, p: float) -> torch.Tensor:
    k = torch.arange(n + 1, dtype=torch.float64)
    log = torch.lgamma(torch.tensor(n + 1.0)) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)
    return torch.exp(log + k * torch.log(torch.tensor(p)) + (n - k) * torch.log1p(torch.tensor(-p)))


# ---------------------------------------------------------------------- exact mode: snnTorch parity
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_steps": 1},
        {"num_steps": 17},
        {"num_steps": 10, "gain": 0.5, "offset": 0.1},
        {"num_steps": 10, "gain": 2.0, "offset": -0.2},
        {"num_steps": 12, "gain": 1.5, "offset": -0.25, "first_spike_time": 3},
        {"num_steps": 5, "first_spike_time": 4},
    ],
)
def test_exact_mode_equals_snntorch_under_the_same_seed(dtype: torch.dtype, kwargs: dict) -> None:
    data = torch.rand(6, 2, 5, 7, generator=torch.Generator().manual_seed(1), dtype=dtype) * 1.2 - 0.1
    torch.manual_seed(11)
    expected = snn.rate(data, **kwargs)
    torch.manual_seed(11)
    events = rate(data, exact=True, **kwargs)
    assert torch.equal(events.dense(dtype=dtype, polarity="on"), expected)
    torch.manual_seed(11)
    assert torch.equal(spikegen.rate(data, **kwargs), expected)
    seeded = rate(data, exact=True, generator=torch.Generator().manual_seed(11), **kwargs)
    assert seeded == events


def test_exact_mode_works_in_chunks_of_steps_with_the_same_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    data = torch.rand(3, 40)
    torch.manual_seed(2)
    expected = snn.rate(data, num_steps=30, first_spike_time=7)
    monkeypatch.setattr(rate_module, "CHUNK_ELEMENTS", 50)  # 1 step (120 draws) per chunk
    torch.manual_seed(2)
    assert torch.equal(
        rate(data, num_steps=30, first_spike_time=7, exact=True).dense(polarity="on"), expected
    )


@pytest.mark.parametrize("first_spike_time", [0, 2])
def test_time_varying_input_matches_snntorch_in_spikegen(first_spike_time: int) -> None:
    data = torch.rand(5, 3, 1, 6, 6) * 1.5 - 0.2
    torch.manual_seed(4)
    expected = snn.rate(data, time_var_input=True, first_spike_time=first_spike_time, gain=0.0, offset=5.0)
    torch.manual_seed(4)
    ours = spikegen.rate(data, time_var_input=True, first_spike_time=first_spike_time, gain=0.0, offset=5.0)
    assert torch.equal(ours, expected)  # snnTorch ignores gain and offset here, so does spikegen


def test_time_varying_input_applies_gain_and_offset_in_the_event_encoder() -> None:
    data = torch.zeros(4, 2, 3)
    events = rate(data, time_var_input=True, gain=0.0, offset=1.0, first_spike_time=2)
    assert events.num_steps == 6
    assert torch.equal(events.dense(polarity="on")[2:], torch.ones(4, 2, 3))  # p = 0 * x + 1
    assert len(events.time_slice(0, 2)) == 0


def test_reference_vectors(vectors) -> None:
    entries = [e for e in vectors.entries("rate/r") if "out" in e]
    assert len(entries) == 10
    for entry in entries:
        data = vectors.tensor(entry["input"])
        torch.manual_seed(0)
        ours = spikegen.rate(data, **entry["kwargs"])
        assert ours.dtype == torch.float32
        assert torch.equal(ours, vectors.tensor(entry["out"]).float()), entry["key"]


def test_rate_conv_matches_snntorch() -> None:
    data = torch.rand(3, 4, 5) * 2 - 0.5
    torch.manual_seed(9)
    expected = snn.rate_conv(data)
    torch.manual_seed(9)
    assert torch.equal(spikegen.rate_conv(data), expected)


# ---------------------------------------------------------------------- fast mode: distribution
PROBABILITIES = [0.001, 0.03, 0.1249, 0.125, 0.3, 0.5, 0.9, 0.999]


@pytest.mark.parametrize("mask_elements", [1 << 24, 1 << 9])
def test_fast_counts_are_binomial(monkeypatch: pytest.MonkeyPatch, mask_elements: int) -> None:
    monkeypatch.setattr(rate_module, "MASK_ELEMENTS", mask_elements)  # small: many groups and spans
    copies, steps = 2000, 200
    data = torch.tensor(PROBABILITIES).repeat(copies, 1)  # [B, N]: every p in every sample
    events = rate(data, num_steps=steps, generator=torch.Generator().manual_seed(5))
    counts = events.dense(polarity="on").sum(0)  # [B, N] spikes per neuron
    for j, p in enumerate(PROBABILITIES):
        observed = torch.bincount(counts[:, j].long(), minlength=steps + 1)
        pvalue = chi_square_pvalue(observed, binomial_pmf(steps, p) * copies)
        assert pvalue > 1e-3, (p, pvalue)
        trials = copies * steps  # and the total: a z-test, far more sensitive to a biased p
        z = (float(counts[:, j].sum()) - trials * p) / (trials * p * (1 - p)) ** 0.5
        assert abs(z) < 4.5, (p, z)


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_fast_intervals_are_geometric(p: float) -> None:
    steps, neurons = 5000, 200
    events = rate(torch.full((1, neurons), p), num_steps=steps, generator=torch.Generator().manual_seed(6))
    spikes = events.dense(polarity="on")[:, 0]  # [T, N]
    gaps = torch.cat([torch.diff(torch.nonzero(spikes[:, j]).squeeze(1)) for j in range(neurons)])
    horizon = 60
    observed = torch.bincount(gaps.clamp(max=horizon), minlength=horizon + 1)[1:]
    k = torch.arange(1, horizon + 1, dtype=torch.float64)
    expected = (1 - p) ** (k - 1) * p
    expected[-1] = (1 - p) ** (horizon - 1)  # the tail bin: gaps >= horizon
    assert chi_square_pvalue(observed, expected * len(gaps)) > 1e-3
    mean_error = (float(gaps.double().mean()) - 1 / p) / ((1 - p) ** 0.5 / p / len(gaps) ** 0.5)
    assert abs(mean_error) < 4.5, mean_error


def test_tiny_probabilities_over_a_trillion_steps_cost_their_spikes_only() -> None:
    """Only sparse neurons: their spikes are drawn and sorted, no step-by-neuron mask is filled
    (that took hours for 10^12 steps)."""
    steps, p, samples, neurons = 10**12, 1e-9, 3, 2
    events = rate(
        torch.full((samples, neurons), p), num_steps=steps, generator=torch.Generator().manual_seed(8)
    )
    expected = samples * neurons * p * steps
    assert abs(len(events) - expected) < 6 * expected**0.5
    for b in range(samples):
        one = events[b]
        assert bool((one.t.diff() >= 0).all())
        assert int(one.t.max()) < steps
        assert set(one.x.tolist()) == {0, 1}


def test_an_output_beyond_memory_is_refused_before_drawing() -> None:
    with pytest.raises(AllocationError, match=r"rate's 1e\+15 events would need .* available"):
        rate(torch.ones(1, 1000), num_steps=10**12)


def test_fast_mode_semantics() -> None:
    data = torch.tensor([[-0.5, 0.0, 0.2, 1.0, 3.0]])
    events = rate(data, num_steps=50, gain=2, offset=-0.4, first_spike_time=5, generator=torch.Generator())
    spikes = events.dense(polarity="on")[:, 0]
    assert spikes[:5].sum() == 0  # nothing before first_spike_time
    assert spikes[:, :3].sum() == 0  # p = clamp(x * 2 - 0.4, 0, 1) is 0 for the first three
    assert torch.equal(spikes[5:, 3:], torch.ones(45, 2))  # p = 1 (and p > 1 clamps to 1)
    assert events.p.all()


@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 6))
def test_fast_mode_is_reproducible_and_valid(seed: int, steps: int, batch: int) -> None:
    data = torch.rand(batch, 2, 3, 4, generator=torch.Generator().manual_seed(seed))
    data[data < 0.3] = 0
    fst = seed % steps
    first = rate(data, num_steps=steps, first_spike_time=fst, generator=torch.Generator().manual_seed(seed))
    again = rate(data, num_steps=steps, first_spike_time=fst, generator=torch.Generator().manual_seed(seed))
    assert first == again
    for key in check_encoder_output(first):
        assert len(set(key)) == len(key)  # a neuron fires at most once per step
    assert bool((first.dense(polarity="on").sum(0) <= (data > 0) * (steps - fst)).all())


def test_global_seed_drives_the_default_generator() -> None:
    data = torch.rand(2, 30)
    torch.manual_seed(3)
    first = rate(data, num_steps=20)
    torch.manual_seed(3)
    assert rate(data, num_steps=20) == first
    assert rate(data, num_steps=20) != first


def test_unbatched_and_half_precision_input() -> None:
    sample = torch.rand(1, 8, 8)
    events = rate(sample, num_steps=10, batched=False, generator=torch.Generator().manual_seed(0))
    assert events.num_samples == 1
    assert events.shape == (1, 8, 8)
    for half in (torch.float16, torch.bfloat16):  # p of a half is widened exactly: the same draws decide
        exact = sample.to(half)
        halved = rate(exact, num_steps=10, batched=False, generator=torch.Generator().manual_seed(0))
        assert halved == rate(exact.float(), 10, batched=False, generator=torch.Generator().manual_seed(0))


def test_flattened_image_has_snntorchs_layout() -> None:
    img = torch.rand(28, 28, generator=torch.Generator().manual_seed(2))
    for data in (img.flatten(), img.flatten()[None]):  # 784 samples of shape (), or one of (784,)
        torch.manual_seed(5)
        expected = snn.rate(data, num_steps=6)  # [T, *data.shape]
        torch.manual_seed(5)
        events = rate(data, num_steps=6, exact=True)
        assert events.num_samples == len(data)
        assert torch.equal(events.dense(polarity="on").reshape(expected.shape), expected)


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "num_steps is required"),
        ({"num_steps": 3, "first_spike_time": 3}, r"first_spike_time \(3\) must be equal to or less than"),
        ({"num_steps": -1}, "cannot be negative"),
        ({"num_steps": 4, "first_spike_time": -1}, "cannot be negative"),
        ({"num_steps": 2.5}, "integer number of steps"),
        ({"num_steps": 3, "time_var_input": True}, "should not be specified"),
    ],
)
def test_bad_step_options_raise_with_snntorch_guidance(kwargs: dict, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        rate(torch.rand(2, 3), **kwargs)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_is_named(bad: float) -> None:
    data = torch.rand(2, 3)
    data[1, 2] = bad
    with pytest.raises(EncodingError, match=r"data\[1, 2\] = .* is not finite"):
        rate(data, num_steps=4)


def test_integer_input_is_refused() -> None:
    with pytest.raises(EncodingError, match="float"):
        rate(torch.ones(2, 3, dtype=torch.int64), num_steps=4)


# ---------------------------------------------------------------------- CUDA
@pytest.mark.cuda
def test_cuda_fast_and_exact_modes_have_the_right_distribution() -> None:
    data = torch.tensor(PROBABILITIES, device="cuda").repeat(400, 1)
    for exact in (False, True):
        generator = torch.Generator(device="cuda").manual_seed(1)
        events = rate(data, num_steps=200, generator=generator, exact=exact)
        assert events.device.type == "cuda"
        counts = events.dense(polarity="on").sum(0).cpu()
        for j, p in enumerate(PROBABILITIES):
            observed = torch.bincount(counts[:, j].long(), minlength=201)
            assert chi_square_pvalue(observed, binomial_pmf(200, p) * 400) > 1e-3, (exact, p)
