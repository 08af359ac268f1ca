"""Tests of eventcode/errors.py: every public name, given bad arguments, raises from the one family.

Each exception the public API raises on purpose derives from :class:`EventcodeError` and from the
built-in a caller would catch; a missing file stays ``FileNotFoundError``. The walk below covers
every callable in ``__all__`` of ``eventcode`` and ``exporters`` and in the public modules it
names; a new public callable fails the completeness test until it is added here.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import eventcode
import exporters
from eventcode import Events, datasets, errors, spikegen, transforms
from eventcode.errors import EventcodeError

EVENTS = Events(t=[0, 1], x=[0, 1], y=[0, 0], p=[1, 0], shape=(2,), num_steps=2)
DATA = torch.rand(2, 3)
MISSING = Path("/nonexistent/events.h5")


def bad_calls(tmp: Path) -> dict[str, list[Callable[[], object]]]:
    """For every public callable, calls with bad arguments (each must raise from the family);
    ``tmp / "junk.xyz"`` is a file of no format."""
    return {
        "eventcode.Events": [
            lambda: Events(t=[0], x=[0], y=[0], p=[1], shape="ab"),
            lambda: Events(t=[0.5], x=[0], y=[0], p=[1], shape=(2,)),
            lambda: EVENTS["a"],
            lambda: EVENTS[7],
            lambda: EVENTS.to_us(dt_us=0),
            lambda: Events.from_columns(*EVENTS.columns().values(), shape=(2,), check="some"),
        ],
        "eventcode.collate": [lambda: eventcode.collate([]), lambda: eventcode.collate([(object(), 1)])],
        "eventcode.delta": [lambda: eventcode.delta(torch.tensor(0.5)), lambda: eventcode.delta("abc")],
        "eventcode.densify": [lambda: eventcode.densify(DATA), lambda: eventcode.densify(EVENTS, dtype="f")],
        "eventcode.latency": [lambda: eventcode.latency(DATA, num_steps=-1)],
        "eventcode.rate": [lambda: eventcode.rate(DATA, num_steps=0), lambda: eventcode.rate(object(), 2)],
        "eventcode.rate_conv": [lambda: eventcode.rate_conv(torch.tensor([1 + 1j]))],
        "eventcode.to_frames": [
            lambda: eventcode.to_frames(DATA, time_window=1),
            lambda: eventcode.to_frames(EVENTS, time_window=-1),
        ],
        "eventcode.to_voxel_grid": [lambda: eventcode.to_voxel_grid(EVENTS, 0)],
        "transforms.Encode": [lambda: transforms.Encode("nope"), lambda: transforms.Encode("rate", seed=-1)],
        "transforms.Densify": [lambda: transforms.Densify(dtype="float32")],  # type: ignore[arg-type]
        "transforms.as_values": [
            lambda: transforms.as_values(np.array(["a"])),
            lambda: transforms.as_values(DATA, scale=0),
        ],
        "transforms.check_seed": [lambda: transforms.check_seed(-1)],
        "transforms.checked_options": [lambda: transforms.checked_options("rate", {"bad": 1})],
        "transforms.option_types": [lambda: transforms.option_types("nope")],
        "transforms.sample_generator": [lambda: transforms.sample_generator(-1)],
        "datasets.read_idx": [
            lambda: datasets.read_idx(tmp / "junk.xyz"),
            lambda: datasets.read_idx(MISSING),
        ],
        "datasets.load_mnist": [lambda: datasets.load_mnist(split="nope")],
        "datasets.MNIST": [lambda: datasets.MNIST(transform=3)],
        "datasets.EncodedDataset": [
            lambda: datasets.EncodedDataset([(DATA, 0)], transforms.Encode("rate"), seed=-1)
        ],
        "datasets.data_subset": [lambda: datasets.data_subset(object(), 3)],
        "datasets.valid_split": [lambda: datasets.valid_split(object(), object(), split=2)],
        "spikegen.rate": [lambda: spikegen.rate(DATA, num_steps=-1)],
        "spikegen.rate_conv": [lambda: spikegen.rate_conv(torch.tensor([1 + 1j]))],
        "spikegen.latency": [lambda: spikegen.latency(DATA, num_steps=-1)],
        "spikegen.delta": [lambda: spikegen.delta(torch.tensor(0.5))],
        "spikegen.latency_code": [lambda: spikegen.latency_code(DATA, 5, threshold=2.0, normalize=True)],
        "spikegen.latency_code_linear": [lambda: spikegen.latency_code_linear(DATA, 5, 2.0, normalize=True)],
        "spikegen.latency_code_log": [lambda: spikegen.latency_code_log(DATA, 5, 2.0, normalize=True)],
        "spikegen.latency_interpolate": [
            lambda: spikegen.latency_interpolate(DATA, 3, on_target=0, off_target=1)
        ],
        "spikegen.rate_interpolate": [
            lambda: spikegen.rate_interpolate(torch.tensor([0, 4]), 5, on_target=1, off_target=1)
        ],
        "spikegen.target_rate_code": [lambda: spikegen.target_rate_code(5, rate=2.0)],
        "spikegen.targets_convert": [lambda: spikegen.targets_convert(torch.tensor([2]), num_classes=2)],
        "spikegen.targets_rate": [lambda: spikegen.targets_rate(torch.tensor([1]), 3, first_spike_time=-1)],
        "spikegen.targets_latency": [lambda: spikegen.targets_latency(torch.tensor([2]), num_classes=2)],
        "spikegen.to_one_hot": [lambda: spikegen.to_one_hot(torch.tensor([2]), 2)],
        "exporters.Format": [lambda: exporters.Format.of(types.ModuleType("empty"))],
        "exporters.register": [lambda: exporters.register(types.ModuleType("empty"))],
        "exporters.for_reading": [
            lambda: exporters.for_reading(tmp / "junk.xyz"),
            lambda: exporters.for_reading(MISSING),
        ],
        "exporters.for_writing": [
            lambda: exporters.for_writing(tmp / "a.xyz"),
            lambda: exporters.for_writing(tmp / "a.h5", "nope"),
        ],
        "exporters.read": [lambda: exporters.read(MISSING), lambda: exporters.read(tmp / "junk.xyz")],
        "exporters.write": [
            lambda: exporters.write(tmp / "a.h5", DATA),
            lambda: exporters.write(tmp / "a.h5", EVENTS, dt_us=-5),
        ],
        "exporters.info": [lambda: exporters.info(MISSING), lambda: exporters.info(tmp / "junk.xyz")],
    }


NO_BAD_ARGUMENTS = {
    "spikegen.from_one_hot": "takes any tensor, as snnTorch's does",
    "spikegen.to_one_hot_inverse": "takes any tensor, as snnTorch's does",
    "exporters.formats": "takes no arguments",
}
"""Public callables with no argument they refuse on purpose."""


def public_callables() -> set[str]:
    names = set()
    for prefix, module in (("eventcode", eventcode), ("exporters", exporters)):
        for name in module.__all__:
            value = getattr(module, name)
            if callable(value) and not inspect.ismodule(value) and not isinstance(value, str):
                names.add(f"{prefix}.{name}")
    for module in (transforms, datasets, spikegen):
        short = module.__name__.rsplit(".", 1)[-1]
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == module.__name__
            if (
                not name.startswith("_")
                and defined_here
                and (inspect.isfunction(value) or inspect.isclass(value))
            ):
                names.add(f"{short}.{name}")
    return names


def test_every_public_callable_is_walked() -> None:
    walked = set(bad_calls(Path())) | set(NO_BAD_ARGUMENTS)
    typing_only = {"datasets.MapDataset", "datasets.Labelled"}  # protocols, never called
    assert public_callables() - typing_only - walked == set()


@pytest.mark.parametrize("name", sorted(bad_calls(Path())))
def test_bad_arguments_raise_the_family_or_file_not_found(name: str, tmp_path: Path) -> None:
    (tmp_path / "junk.xyz").write_bytes(b"not events")
    for call in bad_calls(tmp_path)[name]:
        with pytest.raises((EventcodeError, FileNotFoundError)):  # anything else propagates: fails
            call()


def test_each_error_is_also_the_builtin_a_caller_catches() -> None:
    family = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, Exception) and not issubclass(value, Warning)
    ]
    for error in family:
        if error is EventcodeError:
            continue
        assert issubclass(error, EventcodeError), error
        builtins = (ValueError, TypeError, OSError, IndexError, ImportError, RuntimeError, MemoryError)
        assert any(issubclass(error, builtin) for builtin in builtins), error
