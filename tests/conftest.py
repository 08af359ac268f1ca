"""Shared test set-up: hypothesis profiles, the ../shared reference data, CUDA skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

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
