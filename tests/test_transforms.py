"""Tests of eventcode/transforms.py: Encode and Densify as frozen dataclasses inside dataset pipelines."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import pickle
import types
import typing
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import eventcode
from eventcode.errors import EncodingError, EventcodeError, OptionError, OptionTypeError
from eventcode.transforms import (
    ENCODERS,
    Densify,
    Encode,
    as_values,
    check_seed,
    checked_options,
    option_types,
    sample_generator,
)

LEAST = {"num_steps": 1, "threshold": 0}
"""The command line's least values (tests/test_cli.py), which Encode shares."""


def numpy_seeded(seed: int, *spawn_key: int) -> torch.Generator:
    """The documented stream: a CPU generator seeded from numpy's SeedSequence(seed, spawn_key)."""
    state = np.random.SeedSequence(seed, spawn_key=spawn_key).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def settable(code: str) -> dict[str, object]:
    """The encoder's keyword options and their annotations, read from its signature here."""
    hints = typing.get_type_hints(ENCODERS[code])
    parameters = inspect.signature(ENCODERS[code]).parameters
    return {name: hints[name] for name in parameters if name not in ("data", "batched", "generator")}


def values_of(name: str, annotation: object) -> st.SearchStrategy[object]:
    """Valid values of an option annotated ``annotation``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return st.one_of(*(values_of(name, kind) for kind in typing.get_args(annotation)))
    if typing.get_origin(annotation) is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    strategies: dict[object, st.SearchStrategy[object]] = {
        type(None): st.none(),
        bool: st.booleans(),
        int: st.integers(LEAST.get(name, -1000), 1000),
        float: st.floats(LEAST.get(name), 1e6, allow_nan=False, allow_infinity=False),
    }
    return strategies[annotation]


def test_encode_matches_the_encoder_functions() -> None:
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert Encode("latency", num_steps=20, options={"normalize": True})(image) == eventcode.latency(
        image[None], num_steps=20, normalize=True
    )
    frames = torch.rand(10, 1, 8, 8)
    assert Encode("delta", threshold=0.2, options={"off_spike": True})(frames) == eventcode.delta(
        frames[:, None], threshold=0.2, off_spike=True
    )
    expected = eventcode.rate(image[None], num_steps=15, generator=torch.Generator().manual_seed(3))
    assert Encode("rate", num_steps=15)(image, generator=torch.Generator().manual_seed(3)) == expected


def test_encode_takes_pixels_arrays_and_images() -> None:
    pixels = np.full((1, 4, 4), 255, dtype=np.uint8)
    assert len(Encode("rate", num_steps=5)(pixels)) == 80  # 255 -> p = 1: every pixel, every step
    pil = pytest.importorskip("PIL.Image")
    image = pil.fromarray(np.full((4, 4), 255, dtype=np.uint8))
    assert Encode("latency", num_steps=5, options={"normalize": True})(image).shape == (4, 4)


def test_a_seeded_encode_replays_its_seed_at_every_call() -> None:
    image = torch.rand(1, 10, 10)
    encode = Encode("rate", num_steps=30, seed=5)
    expected = eventcode.rate(image[None], num_steps=30, generator=numpy_seeded(5))
    assert encode(image) == expected
    assert encode(image) == expected  # no state: the second call draws the same stream
    assert pickle.loads(pickle.dumps(encode))(image) == expected  # as a DataLoader worker would
    assert Encode("rate", num_steps=30, seed=6)(image) != expected
    spikes = Densify(polarity="on")(encode(image))
    assert spikes.shape == (30, 1, 10, 10)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.cuda
def test_a_seeded_encode_draws_on_the_datas_device() -> None:
    image = torch.rand(1, 6, 6, device="cuda")
    encode = Encode("rate", num_steps=8, seed=2)
    events = encode(image)
    assert events.device.type == "cuda"
    assert events.to("cpu") == encode(image).to("cpu")
    spikes = Densify(device="cuda")(events.to("cpu"))
    assert spikes.device.type == "cuda"
    assert torch.equal(spikes.cpu(), Densify()(events.to("cpu")))


def test_an_unseeded_encode_draws_from_torchs_global_generator() -> None:
    image, encode = torch.rand(1, 10, 10), Encode("rate", num_steps=30)
    torch.manual_seed(11)
    first, second = encode(image), encode(image)
    torch.manual_seed(11)
    assert (encode(image), encode(image)) == (first, second)
    assert first != second


def test_sample_generators_derive_from_seed_and_index_alone() -> None:
    draws = {
        (seed, index): torch.rand(8, generator=sample_generator(seed, index))
        for seed in (0, 1)
        for index in (0, 1)
    }
    for (seed, index), values in draws.items():
        assert torch.equal(values, torch.rand(8, generator=numpy_seeded(seed, index)))
    assert len({tuple(values.tolist()) for values in draws.values()}) == 4
    no_index = torch.rand(8, generator=sample_generator(0))
    assert torch.equal(no_index, torch.rand(8, generator=numpy_seeded(0)))
    assert not torch.equal(
        no_index, draws[0, 0]
    )  # SeedSequence([0]) would equal [0, 0]; a spawn key does not


def test_encode_is_hashable_comparable_and_replaceable() -> None:
    encode = Encode("rate", num_steps=5)
    seeded = dataclasses.replace(encode, seed=1)
    assert seeded == Encode("rate", num_steps=5, seed=1)
    assert hash(seeded) == hash(Encode("rate", num_steps=5, seed=1))
    assert seeded.settings == {"num_steps": 5}
    assert seeded != encode
    gained = dataclasses.replace(encode, options={"gain": 0.5})
    assert gained.settings == {"num_steps": 5, "gain": 0.5}
    assert dataclasses.replace(gained, options=gained.options) == gained
    assert dataclasses.replace(gained, num_steps=7).settings == {"num_steps": 7, "gain": 0.5}
    a = Encode("latency", num_steps=8, options={"tau": 2, "clip": True})
    b = Encode("latency", options={"clip": True, "num_steps": 8, "tau": 2.0})
    assert (a, hash(a)) == (b, hash(b))
    assert a.options == (("clip", True), ("tau", 2.0))
    assert len({a, b, encode, seeded}) == 3
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.seed = 3  # type: ignore[misc]


def test_densify_is_hashable_comparable_and_replaceable() -> None:
    densify = Densify()
    on = dataclasses.replace(densify, polarity="on")
    assert (on, hash(on)) == (Densify(polarity="on"), hash(Densify(polarity="on")))
    assert on != densify
    assert Densify(device="cpu") == Densify(device=torch.device("cpu"))
    assert Densify(device="cpu").device == torch.device("cpu")
    assert len({Densify(), Densify(dtype=torch.float32), on, Densify(dtype=torch.int8)}) == 3
    assert pickle.loads(pickle.dumps(on)) == on
    events = eventcode.Events(t=[0, 1, 1], x=[1, 0, 2], y=[0, 0, 0], p=[1, 0, 1], shape=(3,), num_steps=2)
    for layout in ("signed", "on", "split"):
        for dtype in (torch.float32, torch.int16):
            expected = events.dense(dtype=dtype, polarity=layout)[:, 0]
            assert torch.equal(Densify(dtype=dtype, polarity=layout, device="cpu")(events), expected)


@given(st.data())
def test_every_option_of_every_encoder_round_trips_through_encode(data: st.DataObject) -> None:
    code = data.draw(st.sampled_from(sorted(ENCODERS)))
    annotations = settable(code)
    assert option_types(code) == annotations
    names = data.draw(st.lists(st.sampled_from(sorted(annotations)), unique=True))
    drawn = {name: data.draw(values_of(name, annotations[name]), label=name) for name in names}
    encode = Encode(code, options=drawn)
    # The fields num_steps and threshold hold None for "not given": an explicit None is lost, which
    # is harmless where it is the encoder's own default
    dropped = {name for name in ("num_steps", "threshold") if name in drawn and drawn[name] is None}
    defaults = inspect.signature(ENCODERS[code]).parameters
    assert all(defaults[name].default is None for name in dropped)
    expected = {name: value for name, value in drawn.items() if name not in dropped}
    assert encode.settings == expected
    assert all(type(encode.settings[name]) is type(value) for name, value in expected.items())
    again = Encode(code, options=dict(reversed(drawn.items())))
    assert (again, hash(again)) == (encode, hash(encode))
    assert dataclasses.replace(encode, options=encode.options) == encode
    assert pickle.loads(pickle.dumps(encode)) == encode
    received: list[dict[str, object]] = []

    @functools.wraps(ENCODERS[code])
    def spy(data: torch.Tensor, **options: object) -> eventcode.Events:
        received.append(options)
        return eventcode.Events.from_dense(torch.zeros(1, 1, 1))

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ENCODERS, code, spy)
        encode(torch.zeros(1, 2))
    passed = {name: value for name, value in received[0].items() if name not in ("batched", "generator")}
    assert passed == expected
    assert all(type(passed[name]) is type(value) for name, value in expected.items())
    assert received[0]["batched"] is False


def test_options_of_numpy_and_integer_types_become_plain_values() -> None:
    encode = Encode("latency", num_steps=np.int64(8), options={"tau": 3, "clip": np.bool_(True)})
    assert encode.settings == {"num_steps": 8, "tau": 3.0, "clip": True}
    assert {name: type(v) for name, v in encode.settings.items()} == {
        "num_steps": int,
        "tau": float,
        "clip": bool,
    }
    assert (
        Encode("rate", num_steps=5.0).num_steps == 5
    )  # a whole float, as eventcode.options.positive_int takes
    assert checked_options("delta", {"threshold": np.float32(0.25)}) == {"threshold": 0.25}


def bad(callable_: Callable[..., object], *args: object, **kwargs: object) -> Callable[[], object]:
    return functools.partial(callable_, *args, **kwargs)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (bad(Encode, "phase"), OptionError, r"code must be one of delta, latency, rate, got 'phase'"),
        (
            bad(Encode, "rate", options={"colour": 1}),
            OptionError,
            r"no option 'colour'; valid options: .*gain",
        ),
        (bad(Encode, "rate", threshold=0.1), OptionError, r"rate has no option 'threshold'; valid options"),
        (bad(Encode, "delta", num_steps=4), OptionError, r"delta has no option 'num_steps'"),
        (bad(Encode, "rate", options={"batched": False}), OptionError, r"no option 'batched'"),
        (bad(Encode, "rate", options={"generator": None}), OptionError, r"no option 'generator'"),
        (bad(Encode, "rate", num_steps=0), OptionError, r"num_steps must be at least 1, got 0"),
        (bad(Encode, "delta", threshold=-0.5), OptionError, r"threshold must be at least 0, got -0.5"),
        (bad(Encode, "rate", num_steps=2.5), OptionTypeError, r"num_steps=2.5: expected an integer or None"),
        (bad(Encode, "rate", num_steps=True), OptionTypeError, r"num_steps=True: expected an integer"),
        (bad(Encode, "rate", num_steps="5"), OptionTypeError, r"num_steps='5'"),
        (
            bad(Encode, "latency", options={"normalize": "yes"}),
            OptionTypeError,
            r"True/False or 'per_sample'",
        ),
        (bad(Encode, "latency", options={"tau": math.nan}), OptionError, r"tau=nan: must be a finite number"),
        (bad(Encode, "rate", options={"gain": math.inf}), OptionError, r"gain=inf: must be a finite number"),
        (bad(Encode, "rate", options={"gain": 10**400}), OptionError, r"gain=.*must be a finite number"),
        (bad(Encode, "rate", options={"gain": "1"}), OptionTypeError, r"gain='1': expected a finite number"),
        (bad(Encode, "rate", options=5), OptionTypeError, r"options must be a mapping"),
        (bad(Encode, "rate", options=(("gain",),)), OptionTypeError, r"options must be a mapping"),
        (bad(Encode, "rate", options={1: 2}), OptionTypeError, r"named by strings"),
        (bad(Encode, "rate", options=(("gain", 1), ("gain", 2))), OptionError, r"each option once"),
        (bad(Encode, "rate", num_steps=5, options={"num_steps": 6}), OptionError, r"num_steps given twice"),
        (bad(Encode, "latency", seed=1), OptionError, r"seed is for the rate code; latency is deterministic"),
        (bad(Encode, "rate", seed=-1), OptionError, r"seed must be a non-negative integer .*-1"),
        (bad(Encode, "rate", seed=1.5), OptionTypeError, r"seed must be a non-negative integer"),
        (bad(Encode, "rate", seed=True), OptionTypeError, r"seed must be a non-negative integer"),
        (bad(Densify, dtype="float32"), OptionTypeError, r"dtype must be a torch.dtype"),
        (bad(Densify, dtype=torch.complex64), OptionError, r"dtype must be real"),
        (bad(Densify, polarity="both"), OptionError, r"polarity must be one of \('signed', 'on', 'split'\)"),
        (bad(Densify, device="gpu0"), OptionError, r"device 'gpu0' is not a torch device"),
        (bad(Densify(), torch.ones(2, 3)), OptionTypeError, r"Densify takes one sample's Events, got Tensor"),
        (
            bad(Densify(), eventcode.Events.from_dense(torch.ones(2, 3, 4))),
            OptionError,
            r"got 3; densify a batch",
        ),
        (bad(as_values, [1, 2], scale=0), OptionError, r"scale must be a positive finite number"),
        (bad(as_values, [1, 2], scale="4"), OptionTypeError, r"scale must be a number"),
        (bad(as_values, ["a", "b"]), EncodingError, r"dtype <U1; pass bool, integer or float pixels"),
        (bad(as_values, torch.ones(2, dtype=torch.complex64)), EncodingError, r"dtype torch.complex64"),
        (bad(sample_generator, 0, -2), OptionError, r"index must be a non-negative integer"),
        (bad(check_seed, "7"), OptionTypeError, r"seed must be a non-negative integer"),
        (bad(option_types, ["rate"]), OptionError, r"code must be one of"),
    ],
)
def test_bad_arguments_raise_our_errors_naming_them(
    call: Callable[[], object], error: type, match: str
) -> None:
    with pytest.raises(error, match=match) as raised:
        call()
    assert isinstance(raised.value, EventcodeError)
