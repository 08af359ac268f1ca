"""Shared test set-up: hypothesis profiles, the ../shared reference data, CUDA skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from eventcode import Events

settings.register_profile(
    "default",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SHARED = Path(os.environ.get("EVENTCODE_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``cuda`` where no CUDA device is available."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The project's reference data folder (``../shared`` beside the repository, as in CI)."""
    if not (SHARED / "data").is_dir():
        pytest.fail(f"reference data not found at {SHARED}; set EVENTCODE_SHARED to the shared/ folder")
    return SHARED


class Vectors:
    """snnTorch 1.0.0 reference outputs in ``shared/data/vectors/spikegen_v1.npz`` and their index."""

    def __init__(self, folder: Path) -> None:
        import json

        import numpy as np

        self.arrays = np.load(folder / "spikegen_v1.npz")
        self.index = json.loads((folder / "spikegen_v1_index.json").read_text())["index"]

    def entries(self, prefix: str) -> list[dict]:
        return [entry for entry in self.index if entry["key"].startswith(prefix)]

    def tensor(self, key: str) -> torch.Tensor:
        return torch.from_numpy(self.arrays[key].copy())


@pytest.fixture(scope="session")
def vectors(shared: Path) -> Vectors:
    """The spikegen reference vectors (see ../shared/docs/encoding.md, section 2)."""
    return Vectors(shared / "data/vectors")


def check_encoder_output(events: Events) -> list[list[tuple[int, int, int, int]]]:
    """Assert what every encoder promises; return each sample's ``(t, c, y, x)`` keys.

    The public constructor, which validates addresses, offsets and time order, must accept the
    columns unchanged, and within each sample ties are in ``(t, c, y, x)`` order.
    """
    rebuilt = Events(
        events.t,
        events.x,
        events.y,
        events.p,
        c=events.c,
        offsets=events.offsets,
        shape=events.shape,
        num_steps=events.num_steps,
    )
    assert rebuilt == events
    keys = []
    for b in range(events.num_samples):
        one = events[b]
        channel = one.c.tolist() if one.c is not None else [0] * len(one)
        key = list(zip(one.t.tolist(), channel, one.y.tolist(), one.x.tolist(), strict=True))
        assert key == sorted(key)
        keys.append(key)
    return keys


TONIC_KINDS = (
    "2 polarities",
    "1 polarity",
    "audio, 2 polarities",
    "audio, 1 polarity",
    "no p",
    "audio, no p",
)
"""The Tonic event arrays a sensor gives: with or without ``y`` (audio: SHD, SSC) and ``p``."""


def tonic_arrays(kind: str | None = None, max_events: int = 40) -> object:
    """Strategy: ``(array, sensor_size)``, a time-sorted Tonic structured array of ``kind`` (any by
    default), empty or not, in a random field order and integer widths, with Tonic's sensor_size."""
    import numpy as np
    from hypothesis import strategies as st

    @st.composite
    def draw_array(draw: st.DrawFn) -> tuple:
        chosen = kind or draw(st.sampled_from(TONIC_KINDS))
        audio, pless = chosen.startswith("audio"), chosen.endswith("no p")
        polarities = 1 if "1 polarity" in chosen or pless else 2
        width, height = draw(st.integers(1, 70_000 if audio else 6)), 1 if audio else draw(st.integers(1, 5))
        names = ["t", "x"] + ([] if audio else ["y"]) + ([] if pless else ["p"])
        order = draw(st.permutations(names))
        widths = {name: draw(st.sampled_from(["<i8", "<u4", "<i4"])) for name in names}
        if "p" in widths:
            widths["p"] = draw(st.sampled_from(["?", "<i8", "<u1"]))
        n = draw(st.integers(0, max_events))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        array = np.zeros(n, dtype=[(name, widths[name]) for name in order])
        array["t"] = np.sort(rng.integers(0, 10**6, n))
        array["x"] = rng.integers(0, width, n)
        if "y" in names:
            array["y"] = rng.integers(0, height, n)
        if "p" in names:
            array["p"] = rng.integers(0, 2, n) if polarities == 2 else draw(st.integers(0, 1))
        return array, (width, height, polarities)

    return draw_array()


def simulator(name: str, reason: str) -> object:
    """The simulator module ``name``: skipped when missing, unless ``EVENTCODE_REQUIRE_SIMULATORS``
    names it (a comma-separated list of module names, as ``.ci/run`` sets it) or is ``1`` (all):
    then a missing simulator is a failure."""
    import importlib

    if required(name):
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=reason)


def required(name: str) -> bool:
    """Whether ``EVENTCODE_REQUIRE_SIMULATORS`` (``1`` or a comma-separated list) requires ``name``."""
    wanted = os.environ.get("EVENTCODE_REQUIRE_SIMULATORS", "")
    return wanted == "1" or name in wanted.split(",")
