"""eventcode: sparse address-event (AER) streams for spiking networks and event cameras.

The names below load on first use (PEP 562), so ``import eventcode`` and the ``eventcode``
command start without importing torch until a function needs it.

Examples
--------
>>> import torch, eventcode
>>> spikes = (torch.rand(100, 8, 1, 28, 28) < 0.1).float()  # [T, B, C, H, W]
>>> events = eventcode.Events.from_dense(spikes)
>>> torch.equal(eventcode.densify(events), spikes)
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_ATTRIBUTES = {
    "Events": "eventcode.events",
    "collate": "eventcode.batching",
    "densify": "eventcode.dense",
    "delta": "eventcode.encoders",
    "latency": "eventcode.encoders",
    "rate": "eventcode.encoders",
    "rate_conv": "eventcode.spikegen",
    "to_frames": "eventcode.frames",
    "to_voxel_grid": "eventcode.frames",
}
"""Public functions and classes, by the module that defines them."""
_SUBMODULES = ("address", "datasets", "errors", "plot", "spikegen", "tonic", "transforms")

__all__ = [
    "Events",
    "__version__",
    "collate",
    "datasets",
    "delta",
    "densify",
    "errors",
    "latency",
    "rate",
    "rate_conv",
    "spikegen",
    "to_frames",
    "to_voxel_grid",
    "transforms",
]

if TYPE_CHECKING:
    from eventcode import datasets, errors, spikegen, transforms
    from eventcode.batching import collate
    from eventcode.dense import densify
    from eventcode.encoders.delta import delta
    from eventcode.encoders.latency import latency
    from eventcode.encoders.rate import rate
    from eventcode.events import Events
    from eventcode.frames import to_frames, to_voxel_grid
    from eventcode.spikegen import rate_conv


def __getattr__(name: str) -> Any:
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"eventcode.{name}")
    else:
        raise AttributeError(f"module 'eventcode' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
